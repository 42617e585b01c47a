"""Predictions: values, the checker, and every registered gate computed from the model."""

from __future__ import annotations

import pytest

from k8snet_lesson import predictions
from k8snet_lesson.errors import InvalidValue, NotFound
from k8snet_lesson.predictions import Kind, Option, Prediction, check
from k8snet_lesson.scenarios import lesson_cluster

CHOICE = Prediction("05-refused", "Refused or timed out?", Kind.CHOICE, "refused",
                    why="kube-proxy's REJECT answers at once",
                    options=(Option("refused", "a REJECT rule sends ICMP port unreachable"),
                             Option("timed out", "that is a DROP, or no rule at all")))
SHARE = Prediction("05-share", "Share of rule 2 of 4?", Kind.NUMBER, "1/3", why="1/(4-1)",
                   wrong=(Option("1/4", "that is its share of all connections, not what it is given"),),
                   otherwise="rule i of n gets 1/(n-i+1) of what reaches it", tolerance=0.001)
NEXT_IP = Prediction("02-next", "Which IP?", Kind.ADDRESS, "10.244.2.5", why="host-local goes on",
                     wrong=(Option("10.244.2.2", "host-local does not hand back a freed address at once"),))


@pytest.mark.parametrize("given, right, explanation", [
    ("refused", True, "a REJECT rule sends ICMP port unreachable"),
    ("timed out", False, "that is a DROP, or no rule at all"),
])
def test_a_choice_explains_each_option(given, right, explanation):
    verdict = check(CHOICE, given)
    assert (verdict.correct, verdict.explanation, verdict.answer) == (right, explanation, "refused")
    assert verdict.tempting.text == "timed out"


@pytest.mark.parametrize("given, right, explanation", [
    ("1/3", True, "1/(4-1)"), ("0.333", True, "1/(4-1)"), ("33.33%", True, "1/(4-1)"),
    ("0.25", False, "that is its share of all connections, not what it is given"),
    ("25%", False, "that is its share of all connections, not what it is given"),
    ("1/2", False, "rule i of n gets 1/(n-i+1) of what reaches it"),
])
def test_numbers_in_any_usual_spelling(given, right, explanation):
    verdict = check(SHARE, given)
    assert (verdict.correct, verdict.explanation) == (right, explanation)


def test_addresses_with_or_without_a_port():
    assert check(NEXT_IP, "10.244.2.5").correct and check(NEXT_IP, " 10.244.2.5:3000 ").correct
    wrong = check(NEXT_IP, "10.244.2.2")
    assert not wrong.correct and "freed" in wrong.explanation and wrong.why == "host-local goes on"


@pytest.mark.parametrize("prediction, given, message", [
    (SHARE, "a third", "'a third' is not a number"),
    (SHARE, "1/0", "'1/0' is not a number"),
    (SHARE, "9" * 50, "is not a number"),
    (NEXT_IP, "10.244.2", "'10.244.2' is not an IPv4 address"),
    (NEXT_IP, "10.244.2.5:99999", "is not an IPv4 address"),
    (CHOICE, None, "commit to an answer first"),
    (CHOICE, "  ", "commit to an answer first"),
])
def test_what_is_not_an_answer_is_an_error_to_show(prediction, given, message):
    with pytest.raises(InvalidValue, match=message):
        check(prediction, given)


def test_an_option_that_does_not_exist():
    with pytest.raises(NotFound, match="'dropped' is not one of the options: refused, timed out"):
        check(CHOICE, "dropped")


@pytest.mark.parametrize("kwargs, message", [
    (dict(id="5-x"), "is not NN-name"),
    (dict(options=(Option("a", "x"), Option("a", "y"))), "must be distinct"),
    (dict(answer="not there"), "hold the answer"),
    (dict(tempting="nowhere"), "tempting answer 'nowhere'"),
])
def test_malformed_predictions_are_refused(kwargs, message):
    fields = dict(id="05-x", prompt="?", kind=Kind.CHOICE, answer="a", why="w",
                  options=(Option("a", "x"), Option("b", "y")))
    fields.update(kwargs)
    with pytest.raises(InvalidValue, match=message):
        Prediction(**fields)


def test_unknown_gate():
    with pytest.raises(NotFound, match="no prediction '99-nothing'"):
        predictions.build("99-nothing", lesson_cluster())


@pytest.mark.parametrize("prediction_id", predictions.catalogue())
def test_every_gate_is_computed_and_judges_its_own_answers(prediction_id):
    """Built on the lesson's cluster: the answer checks right, every wrong option checks wrong with
    its own explanation, and the reveal names a tempting wrong answer."""
    made = predictions.build(prediction_id, lesson_cluster())
    assert made.id == prediction_id and made.prompt and made.why
    assert check(made, made.answer).correct
    for option in (*made.options, *made.wrong):
        if option.text != made.answer:
            verdict = check(made, option.text)
            assert not verdict.correct and verdict.explanation == option.explanation, option
    assert made.tempting_option is not None, "every gate names the tempting wrong answer"
