"""Prediction gates, driven without a browser: nothing of the answer before the commit."""

from __future__ import annotations

import json

import pytest

pytest.importorskip("ipywidgets")

from k8snet_lesson.predictions import Kind, Option, Prediction
from k8snet_lesson.view.gates import predict, render_gate
from k8snet_lesson.view.learner import Progress

GATE = Prediction("02-next-ip", "Which IP does `web-4` get?", Kind.ADDRESS, "10.244.2.5",
                  why="host-local carries on from the last address it handed out",
                  wrong=(Option("10.244.2.2", "the freed address is reused only after the range wraps"),),
                  otherwise="count on from the last address handed out")


def _state(gate) -> str:
    """Everything the front end holds of the gate: the synced state of its widgets, all the way down."""
    states, stack = [], [gate.ui]
    while stack:
        widget = stack.pop()
        states.append(widget.get_state())
        stack.extend(getattr(widget, "children", ()))
    return json.dumps(states, default=str)


def test_the_answer_is_nowhere_in_the_widgets_until_a_prediction_is_locked_in(tmp_path):
    gate = predict(GATE, reveal=lambda: "the table: web-4 10.244.2.5", progress=Progress.open(tmp_path / "p.json"))
    assert "10.244.2.5" not in _state(gate) and "host-local carries on" not in _state(gate)
    assert gate.reveal.outputs == () and gate.verdict.value == ""
    gate.entry.value = "10.244.2.2"
    render_gate(gate)
    assert "Not quite" in gate.verdict.value and "freed address is reused only after" in gate.verdict.value
    assert "The answer: 10.244.2.5." in gate.verdict.value
    assert gate.reveal.outputs[0]["data"]["text/plain"] == "'the table: web-4 10.244.2.5'"


def test_a_wrong_then_a_right_answer_each_get_their_explanation(tmp_path):
    progress = Progress.open(tmp_path / "p.json")
    gate = predict(GATE, progress=progress)
    gate.entry.value = "10.244.2.9"
    render_gate(gate)
    assert "count on from the last address handed out." in gate.verdict.value
    assert "Tempting but wrong: 10.244.2.2." in gate.verdict.value
    gate.entry.value = "10.244.2.5"
    render_gate(gate)
    assert "Right." in gate.verdict.value and "Your prediction: <b>10.244.2.9</b> (not right)" in gate.verdict.value
    recorded = progress.prediction("02-next-ip")
    assert recorded["given"] == "10.244.2.9" and not recorded["correct"]
    assert recorded["attempts"] == [{"given": "10.244.2.5", "correct": True}]


def test_a_restarted_kernel_finds_the_prediction_again(tmp_path):
    path = tmp_path / "p.json"
    first = predict(GATE, progress=Progress.open(path))
    first.entry.value = "10.244.2.5"
    render_gate(first)
    again = predict(GATE, reveal=lambda: "shown", progress=Progress.open(path))  # a new kernel reads the file
    assert again.committed and again.entry.value == "10.244.2.5"
    assert "Your prediction: <b>10.244.2.5</b> (right)" in again.verdict.value
    assert again.reveal.outputs and Progress.open(path).prediction("02-next-ip")["attempts"] == []


def test_nonsense_clears_what_the_gate_showed(tmp_path):
    gate = predict(GATE, reveal=lambda: "shown", progress=Progress.open(tmp_path / "p.json"))
    gate.entry.value = "10.244.2.5"
    render_gate(gate)
    gate.entry.value = "ten"
    render_gate(gate)
    assert "is not an IPv4 address" in gate.message.value
    assert gate.verdict.value == "" and gate.reveal.outputs == () and not gate.committed


def test_choices_wrap_and_keep_their_radio_buttons():
    choice = Prediction("05-x", "Refused or timed out?", Kind.CHOICE, "refused", why="REJECT",
                        options=(Option("refused", "REJECT answers"), Option("timed out", "nothing answers")))
    gate = predict(choice, progress=None)
    assert "k8snet-choices" in gate.entry._dom_classes
    prompt_html = gate.ui.children[0].value
    assert "height:auto !important" in prompt_html and "flex:0 0 auto" in prompt_html
    assert "Predict.</b> Refused or timed out?" in prompt_html


def test_feedback_never_ends_with_two_full_stops(tmp_path):
    gate = predict(GATE, progress=Progress.open(tmp_path / "p.json"))
    gate.entry.value = "10.244.2.2"
    render_gate(gate)
    assert ".." not in gate.verdict.value.replace("...", "")


def test_the_kernel_knows_the_gates_it_showed(tmp_path):
    from k8snet_lesson.view.gates import shown_gates

    first = predict(GATE, progress=None)
    assert shown_gates()["02-next-ip"] is first
    again = predict(GATE, progress=None)  # the cell run once more: its new gate is the one on the page
    assert shown_gates()["02-next-ip"] is again
