"""Every course notebook, run from the JupyterLab UI in Chromium as a learner runs it.

For each ``notebooks/*.ipynb`` (a copy; nothing is written back): open it, clear
its outputs, Run > Run All Cells, wait for the kernel to be connected and idle,
then hold the notebook to what a learner must see:

- it ran: every code cell ran, no error and nothing on stderr, every widget drawn
  (as many views in the page as the kernel's widget models call for, none left
  undisplayed, no "Error displaying widget"), and no JavaScript error in the console;
- it reads: no two pieces of visible text overlap, no table cell ends in an ellipsis,
  no output is wider than the notebook column (:meth:`NotebookPage.visual_problems`);
- its prediction gates hold: before a prediction is locked in, neither the reason
  for the answer nor (for an address) the answer itself is anywhere in the page
  after the question; a wrong prediction, then the right one, each get their own
  explanation; after a kernel restart and Run All, every gate shows the prediction
  recorded before.

A screenshot of the whole notebook goes to ``build/screenshots/<name>.png``, and one
of every gate, before and after each answer, to ``<name>--gate-<id>-<state>.png``.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import course_shape

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def test_notebook_runs_clean_in_jupyterlab(notebook_path, executed, screenshots):
    page = executed.get(notebook_path)
    page.screenshot(screenshots / f"{Path(notebook_path).stem}.png")
    assert page.errors() == []
    assert page.run_all_result is True
    assert page.unexecuted_code_cells() == []
    assert page.stderr() == []
    assert page.widget_census().problems() == []
    assert page.console_errors == []
    problems = page.visual_problems()
    if Path(notebook_path).name[:2] in _pending():  # not yet rewritten: its known problems are reported, not failed
        print("\n".join(problems))
    else:
        assert problems == []


def _plain(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


def _answer(page, gate_id: str, kind: str, value: str) -> str:
    """Give ``value`` to the gate as a learner does, lock it in; the verdict's text."""
    gate = page.page.locator(f".k8snet-gate-{gate_id}")
    if kind == "choice":
        labels = gate.locator(".widget-radio-box label")
        texts = [_plain(t) for t in labels.all_inner_texts()]
        assert _plain(value) in texts, (value, texts)
        page.click_and_wait(labels.nth(texts.index(_plain(value))).locator("input"))
    else:
        page.act_and_wait(lambda: gate.locator("input[type=text]").fill(value))
    page.click_and_wait(gate.locator(".k8snet-gate-commit"))
    return _plain(gate.locator(".k8snet-gate-verdict").inner_text())


def test_every_gate_hides_its_answer_then_explains_and_remembers(notebook_path, executed, screenshots):
    stem = Path(notebook_path).stem
    page = executed.get(notebook_path)
    try:
        assert page.errors() == [], f"{notebook_path} did not run clean: {page.errors()}"
        gates = page.gates()
        if stem[:2] in course_shape.GATED and stem[:2] not in _pending():
            assert len(gates) >= course_shape.GATES_PER_NOTEBOOK, sorted(gates)
        for gate_id, gate in gates.items():
            shot = f"{stem}--gate-{gate_id}"
            page.screenshot_widget([f".k8snet-gate-{gate_id}"], screenshots / f"{shot}-before.png")
            verdict = page.page.locator(f".k8snet-gate-{gate_id} .k8snet-gate-verdict")
            reveal = page.page.locator(f".k8snet-gate-{gate_id} .k8snet-gate-reveal")
            assert _plain(verdict.inner_text()) == "" and _plain(reveal.inner_text()) == "", gate_id
            after_question = page.outputs_text(from_cell=gate["cell"])
            assert gate["why"][:60] not in after_question, f"{gate_id}: its reason shows before any prediction"
            if gate["kind"] == "address":
                assert gate["answer"] not in after_question, f"{gate_id}: its answer shows before any prediction"

            wrong = _answer(page, gate_id, gate["kind"], gate["wrong"])
            page.screenshot_widget([f".k8snet-gate-{gate_id}"], screenshots / f"{shot}-wrong.png")
            assert gate["wrong_explanation"][:60] in wrong, (gate_id, wrong)
            assert gate["why"][:60] in wrong, (gate_id, wrong)
            right = _answer(page, gate_id, gate["kind"], gate["answer"])
            page.screenshot_widget([f".k8snet-gate-{gate_id}"], screenshots / f"{shot}-right.png")
            assert gate["right_explanation"][:60] in right, (gate_id, right)
            assert "Your prediction: " + _plain(gate["wrong"]) in right, (gate_id, right)
        assert page.visual_problems() == []

        if gates:
            assert page.restart_and_run_all() is True, page.errors()
            for gate_id, gate in gates.items():
                verdict = page.page.locator(f".k8snet-gate-{gate_id} .k8snet-gate-verdict")
                # A widget view renders after its cell finishes: wait for the restored verdict
                # (up to 20 s) instead of reading the first frame.
                try:
                    page.page.wait_for_function("el => el.innerText.trim() !== ''", arg=verdict.element_handle(timeout=20_000),
                                                timeout=20_000)
                except Exception:  # noqa: BLE001 - the assertion below says what was shown
                    pass
                shown = _plain(verdict.inner_text())
                assert "Your prediction: " + _plain(gate["wrong"]) in shown, (gate_id, shown)
    finally:
        executed.ran_clean_check(notebook_path)


def _pending() -> set[str]:
    import test_course_shape

    return set(test_course_shape.PENDING)
