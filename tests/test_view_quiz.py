"""The graded check widgets, driven without a browser, and the saved notebooks holding no answer key."""

import json
import re
from pathlib import Path

import pytest

pytest.importorskip("ipywidgets")

from k8snet_lesson import quiz
from k8snet_lesson.view.learner import Progress
from k8snet_lesson.view.quiz import course_results, graded_check

NOTEBOOKS = sorted((Path(__file__).resolve().parent.parent / "notebooks").glob("[0-9][0-9]_*.ipynb"))


@pytest.mark.parametrize("notebook", [*quiz.GRADED, 7, "7", "05_services_and_kube_proxy"])
def test_every_notebook_has_a_graded_check(notebook, tmp_path):
    check = graded_check(notebook, progress=Progress.open(tmp_path / "p.json"))
    key = str(notebook).zfill(2)[:2] if str(notebook).isdigit() else str(notebook)[:2]
    assert [v.item.id for v in check.views] == list(quiz.GRADED[key])
    assert "Your score appears here" in check.results.value
    for view in check.views:
        assert view.feedback.value == "" and view.last is None
        if not view.item.free_text:
            assert view.entry.value is None and "k8snet-choices" in view.entry._dom_classes


def test_an_unknown_notebook_is_a_clear_error():
    from k8snet_lesson.errors import NotFound

    with pytest.raises(NotFound, match="no graded check for notebook '42'"):
        graded_check("42", progress=None)


def test_choices_follow_the_learners_seed(tmp_path):
    orders = set()
    for seed in range(8):
        check = graded_check("07", progress=None, seed=seed)
        orders.add(tuple(check.views[3].entry.options))
    assert len(orders) > 2
    again = graded_check("07", progress=None, seed=3)
    assert tuple(again.views[3].entry.options) == tuple(graded_check("07", progress=None, seed=3).views[3].entry.options)


def _answer(check, view, value):
    view.entry.value = value
    view.button.click()


def test_answers_are_explained_scored_and_linked_back(tmp_path):
    progress = Progress.open(tmp_path / "p.json")
    check = graded_check("05", progress=progress)
    first, second, third = check.views
    wrong = next(c.text for c in first.item.choices if not c.correct)
    _answer(check, first, wrong)
    assert 'data-correct="false"' in first.feedback.value and "Not quite." in first.feedback.value
    assert "The answer: " in first.feedback.value
    assert "Score: 0 of 3" in check.results.value and "2 not answered yet" in check.results.value
    section = quiz.section_of(first.item)
    assert f'href="{section.notebook}#' in check.results.value and section.heading in check.results.value
    _answer(check, first, first.item.answer.text)
    _answer(check, second, second.item.answer.text)
    _answer(check, third, third.item.answer.text)
    assert "Score: 3 of 3" in check.results.value and "Every item right" in check.results.value
    assert "Your predictions" not in check.results.value  # none made in 05 yet
    progress.record_prediction("05-rule-two-share", "1/3", correct=False)
    progress.record_prediction("02-next-pod-ip", "10.244.2.16", correct=True)
    _answer(check, third, third.item.answer.text)
    assert "Your predictions in this notebook: 0 of 1 right the first time." in check.results.value
    assert 'data-correct="true"' in third.feedback.value
    assert progress.answer(first.item.id) == {"given": first.item.answer.text, "correct": True, "tries": 2,
                                              "first_correct": False}
    assert progress.answer(third.item.id)["tries"] == 2
    for view in check.views:
        assert ".." not in re.sub(r"<[^>]+>", "", view.feedback.value).replace("...", "")


def test_typed_answers_are_judged_and_bad_input_clears_the_old_feedback(tmp_path):
    check = graded_check("07", progress=Progress.open(tmp_path / "p.json"))
    practice_2 = check.views[1]
    assert practice_2.item.free_text
    _answer(check, practice_2, "kubectl describe svc checkout-api-svc -n production")
    assert "Correct." in practice_2.feedback.value and practice_2.message.value == ""
    _answer(check, practice_2, "kubectl get 'endpoints")
    assert "cannot be read as a command" in practice_2.message.value
    assert practice_2.feedback.value == "" and practice_2.last is None
    _answer(check, practice_2, "")
    assert "type an answer first" in practice_2.message.value


def test_a_reopened_notebook_shows_the_answers_given_before(tmp_path):
    path = tmp_path / "p.json"
    check = graded_check("01", progress=Progress.open(path))
    view = check.views[0]
    wrong = next(c.text for c in view.item.choices if not c.correct)
    _answer(check, view, wrong)
    again = graded_check("01", progress=Progress.open(path))  # a new kernel reads the file
    assert again.views[0].entry.value == wrong and "Not quite." in again.views[0].feedback.value
    assert "Score: 0 of 2" in again.results.value
    assert Progress.open(path).answer(view.item.id)["tries"] == 1  # restoring records nothing


def test_course_results_sum_up_checks_and_predictions(tmp_path):
    progress = Progress.open(tmp_path / "p.json")
    progress.record_answer("quiz-1", "x", correct=False)
    progress.record_answer("00-clusterip-network", "y", correct=True)
    progress.record_prediction("05-rule-two-share", "1/3", correct=False)
    progress.record_prediction("02-next-pod-ip", "10.244.2.16", correct=True)
    shown = course_results(progress=progress).value
    total = len(quiz.questions())
    assert f"Course score: 1 of {total}" in shown and f"({total - 2} not answered yet)" in shown
    assert quiz.section_of(quiz.question("quiz-1")).heading in shown
    assert "Your predictions: 1 of 2 right the first time" in shown
    assert "1/3" in shown and "10.244.2.16" in shown
    empty = course_results(progress=Progress.open(tmp_path / "q.json")).value
    assert "none recorded yet" in empty and f"Course score: 0 of {total}" in empty


# --- no answer key in any saved output ---------------------------------------------------------

def _saved_text(path: Path) -> str:
    """Everything a saved notebook shows or stores: outputs (not images) and widget state."""
    notebook = json.loads(path.read_text(encoding="utf-8"))
    parts = [json.dumps(notebook.get("metadata", {}).get("widgets", {}))]
    for cell in notebook["cells"]:
        for output in cell.get("outputs", []):
            data = dict(output.get("data", {}))
            data.pop("image/png", None)
            parts.append(json.dumps(data) + "".join(output.get("text", [])))
    return re.sub(r"\s+", " ", " ".join(parts).replace("\\n", " "))


def _keys(seed: int):
    """What would give an answer away: each item's explanation of its answer, and 'id: answer' lines."""
    for q in quiz.questions(seed):
        why = q.why if q.free_text else q.answer.explanation
        yield q.id, why[:60]
        yield q.id, f"{q.id}: {q.model_answer if q.free_text else q.answer.text}"
    yield "feedback", "The answer: "


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_no_saved_output_holds_an_answer_key(path):
    text = _saved_text(path)
    for seed in (0, 7):  # the build's seed, and the variant notebook 07 shows
        for item_id, key in _keys(seed):
            assert key not in text, f"{path.name} shows the answer of {item_id}: {key!r}"


def test_the_scan_finds_a_key_printed_under_the_widgets(tmp_path):
    q = quiz.question("quiz-3")
    leaky = {"cells": [{"cell_type": "code", "metadata": {}, "source": "", "execution_count": 1, "outputs": [
        {"output_type": "stream", "name": "stdout", "text": [f"{q.id}: {q.answer.text}\n"]}]}], "metadata": {}}
    path = tmp_path / "99_leaky.ipynb"
    path.write_text(json.dumps(leaky))
    with pytest.raises(AssertionError, match="quiz-3"):
        test_no_saved_output_holds_an_answer_key(path)


def test_an_item_the_model_cannot_build_is_reported_and_the_rest_shown(monkeypatch):
    def broken(rng):
        raise LookupError("no pod checkout-api-6f8b9d-2xkpj")

    monkeypatch.setitem(quiz._BUILDERS, "01-nat-rules", broken)
    check = graded_check("01", progress=None)
    assert [v.item.id for v in check.views] == ["01-source-ip"]
    shown = " ".join(child.value for child in check.ui.children if hasattr(child, "value"))
    assert "Item 01-nat-rules could not be built from the model (LookupError: no pod checkout-api-6f8b9d-2xkpj)." in shown


def test_course_results_follow_the_answers_checked_on_the_page(tmp_path):
    path = tmp_path / "p.json"
    results = course_results(progress=Progress.open(path))
    check = graded_check("00", progress=Progress.open(path))
    view = check.views[0]
    _answer(check, view, view.item.answer.text)
    assert f"Course score: 1 of {len(quiz.questions())}" in results.value
