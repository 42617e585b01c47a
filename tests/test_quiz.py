"""The lesson's questions and the variants whose answers the model computes."""

import pytest

from k8snet_lesson import quiz
from k8snet_lesson.errors import InvalidValue, NotFound


def test_the_lessons_six_questions_are_there_in_order():
    ids = [q.id for q in quiz.questions()]
    assert ids == ["practice-1", "practice-2", "practice-3", "quiz-1", "quiz-2", "quiz-3"]


@pytest.mark.parametrize("q", quiz.questions(), ids=lambda q: q.id)
def test_every_choice_is_explained_and_exactly_one_is_right(q):
    assert sum(c.correct for c in q.choices) == 1
    assert len({c.text for c in q.choices}) == len(q.choices)
    for choice in q.choices:
        feedback = quiz.check(q, choice.text)
        assert feedback.correct is choice.correct
        assert len(feedback.explanation) > 40
        assert str(feedback).startswith("Correct" if choice.correct else "Not quite")


@pytest.mark.parametrize(
    "question_id, answer",
    [
        ("practice-1", "kube-proxy"),
        ("practice-2", "kubectl get endpoints checkout-api-svc -n production"),
        ("practice-3", "the CNI plugin"),
    ],
)
def test_practice_answers_are_the_lessons(question_id, answer):
    assert quiz.question(question_id).answer.text == answer


def test_quiz_2_says_reject_not_silent_drop():
    explanation = quiz.question("quiz-2").answer.explanation
    assert "<none>" in quiz.question("quiz-2").answer.text
    assert "REJECT" in explanation and "Connection refused" in explanation


def test_checking_nothing_or_an_unknown_choice_is_a_clear_error():
    q = quiz.question("quiz-1")
    with pytest.raises(InvalidValue):
        quiz.check(q, None)
    with pytest.raises(NotFound, match="not a choice"):
        quiz.check(q, "bananas")
    with pytest.raises(NotFound, match="practice-1"):
        quiz.question("nope")


@pytest.mark.parametrize("seed", range(30))
def test_probability_variant_answer_is_the_generated_rule(seed):
    q = quiz.variant("probability", seed)
    _, _, n, k = q.id.split("-")
    n, k = int(n), int(k)
    # kube-proxy's rule k of n: 1/(n-(k-1)) printed %0.10f; the last rule has none.
    expected = f"{1 / (n - k + 1):.10f}" if k < n else "none: the last rule always matches"
    assert q.answer.text == expected
    assert sum(c.correct for c in q.choices) == 1
    assert len({c.text for c in q.choices}) == len(q.choices) >= 2


@pytest.mark.parametrize("seed", range(30))
def test_capacity_variant_answer_is_the_number_of_node_blocks(seed):
    q = quiz.variant("capacity", seed)
    _, _, prefix, mask = q.id.split("-")
    assert q.answer.text == str(2 ** (int(mask) - int(prefix)))
    assert sum(c.correct for c in q.choices) == 1


def test_unknown_variant_kind_names_the_kinds():
    with pytest.raises(NotFound, match="probability"):
        quiz.variant("bogus", 1)
