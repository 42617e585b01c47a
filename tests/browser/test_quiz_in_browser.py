"""Notebook 07's graded check in JupyterLab, used as a learner uses it after Run All.

- every radio button is drawn, before its choice's text and inside its row, and a
  chosen row looks chosen;
- a wrong choice, then the right one, each get their explanation ("Not quite." with
  the answer and a link back to the section that teaches it, then "Correct.");
- a typed kubectl command is judged by what it shows;
- the score follows the answers, and nothing on the page overlaps or is cut.

Screenshots: ``build/screenshots/07_*--quiz-<state>.png`` (the README's gallery takes
``quiz-wrong`` and ``quiz-right``).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

pytestmark = [pytest.mark.browser, pytest.mark.slow]

# Each radio of an item and its row: where the input is drawn, and where the text starts.
RADIOS_JS = """(selector) => Array.from(document.querySelectorAll(selector + ' .widget-radio-box label')).map(label => {
    const input = label.querySelector('input[type=radio]');
    const box = input.getBoundingClientRect(), row = label.getBoundingClientRect();
    const text = Array.from(label.childNodes).find(n => n.nodeType === 3 && n.textContent.trim());
    const range = document.createRange();
    range.selectNodeContents(text);
    const first = range.getClientRects()[0];
    const style = getComputedStyle(input);
    return {text: text.textContent.trim(), width: box.width, height: box.height, inside: box.left >= row.left - 1
            && box.right <= row.right + 1 && box.top >= row.top - 1 && box.bottom <= row.bottom + 1,
            before: box.right <= first.left + 1, visible: style.visibility !== 'hidden' && style.display !== 'none'
            && style.opacity !== '0', checked: input.checked, background: getComputedStyle(label).backgroundColor,
            lines: range.getClientRects().length, rowHeight: row.height};
})"""


def _plain(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


def _item(page, item_id: str):
    return page.page.locator(f".k8snet-item-{item_id}")


def _choose(page, item_id: str, text: str) -> str:
    """Click the radio of the choice reading ``text``, press Check; the item's feedback as shown."""
    item = _item(page, item_id)
    labels = item.locator(".widget-radio-box label")
    texts = [_plain(t) for t in labels.all_inner_texts()]
    page.click_and_wait(labels.nth(texts.index(_plain(text))).locator("input"))
    page.click_and_wait(item.locator(".k8snet-check"))
    return _plain(item.locator(".k8snet-feedback").inner_text())


def _kernel_item(page, item_id: str) -> dict:
    """The item as the learner's kernel shows it: its right choice and one wrong one."""
    expression = (f"(lambda c: __import__('json').dumps([[v.item.answer.text, next(x.text for x in v.item.choices "
                  f"if not x.correct)] for v in c.views if v.item.id == {item_id!r}][0]))"
                  f"(__import__('k8snet_lesson.view.quiz', fromlist=['x']).graded_check('07', progress=None, "
                  f"seed=__import__('k8snet_lesson.view.learner', fromlist=['x']).Progress.open().seed))")
    import ast
    import json

    right, wrong = json.loads(ast.literal_eval(page.kernel_expression(expression)))
    return {"right": right, "wrong": wrong}


def test_quiz_radios_are_drawn_and_answers_are_explained(executed, course_notebook, screenshots):
    path = course_notebook("07_")
    stem = Path(path).stem
    page = executed.get(path)
    try:
        assert page.errors() == [], page.errors()
        problems = page.visual_problems()
        assert problems == [], "\n".join(problems)
        for item_id in ("quiz-1", "quiz-2", "quiz-3"):
            radios = page.page.evaluate(RADIOS_JS, f".k8snet-item-{item_id}")
            assert len(radios) == 4, (item_id, radios)
            for radio in radios:
                assert radio["visible"] and radio["width"] >= 10 and radio["height"] >= 10, (item_id, radio)
                assert radio["inside"] and radio["before"], (item_id, radio)
                assert not radio["checked"], (item_id, radio)
            feedback = _plain(_item(page, item_id).locator(".k8snet-feedback").inner_text())
            assert feedback == "", (item_id, feedback)  # nothing shown before an answer
        page.screenshot_widget([".k8snet-item-quiz-1"], screenshots / f"{stem}--quiz-before.png")

        item = _kernel_item(page, "quiz-1")
        shown = _choose(page, "quiz-1", item["wrong"])
        assert shown.startswith("Not quite.") and f"The answer: {item['right']}" in shown, shown
        assert "Revisit:" in shown
        chosen = [r for r in page.page.evaluate(RADIOS_JS, ".k8snet-item-quiz-1") if r["checked"]]
        assert [r["text"] for r in chosen] == [_plain(item["wrong"])]
        assert chosen[0]["background"] not in ("rgba(0, 0, 0, 0)", "transparent"), chosen  # it looks chosen
        link = _item(page, "quiz-1").locator(".k8snet-feedback a.k8snet-revisit-link").get_attribute("href")
        assert re.fullmatch(r"\d\d_\w+\.ipynb#\S+", link), link
        page.screenshot_widget([".k8snet-item-quiz-1"], screenshots / f"{stem}--quiz-wrong.png")
        assert "Score: 0 of 6" in _plain(page.text(".k8snet-graded-07 .k8snet-results-box"))

        item = _kernel_item(page, "quiz-2")
        shown = _choose(page, "quiz-2", item["right"])
        assert shown.startswith("Correct."), shown
        assert "The answer:" not in shown
        page.screenshot_widget([".k8snet-item-quiz-2"], screenshots / f"{stem}--quiz-right.png")

        practice = _item(page, "practice-2")
        page.act_and_wait(lambda: practice.locator("input[type=text]").fill(
            "kubectl -n production get ep checkout-api-svc"))
        page.click_and_wait(practice.locator(".k8snet-check"))
        assert _plain(practice.locator(".k8snet-feedback").inner_text()).startswith("Correct.")
        page.act_and_wait(lambda: practice.locator("input[type=text]").fill("kubectl get pods -o wide"))
        page.click_and_wait(practice.locator(".k8snet-check"))
        typed = _plain(practice.locator(".k8snet-feedback").inner_text())
        assert typed.startswith("Not quite.") and "The answer: kubectl get endpoints" in typed, typed
        page.screenshot_widget([".k8snet-item-practice-2"], screenshots / f"{stem}--quiz-typed.png")

        results = _plain(page.text(".k8snet-graded-07 .k8snet-results-box"))
        assert "Score: 1 of 6" in results and "Revisit before you go on" in results, results
        page.screenshot_widget([".k8snet-graded-07"], screenshots / f"{stem}--quiz-check.png")
        course = _plain(page.text(".k8snet-course-results"))
        assert course.startswith("Course score: 1 of ") and "Revisit:" in course, course  # follows the answers
        page.screenshot_widget([".k8snet-course-results"], screenshots / f"{stem}--course-results.png")
        assert page.visual_problems() == []
        assert page.errors() == [] and page.stderr() == []
        assert page.console_errors == []

        # The revisit link opens the notebook that teaches the item.
        target = link.split("#")[0]
        _item(page, "quiz-1").locator(".k8snet-feedback a.k8snet-revisit-link").click()
        page.page.wait_for_function(
            """(target) => { const w = window.jupyterapp && window.jupyterapp.shell.currentWidget;
                             return !!w && !!w.context && w.context.path.endsWith(target); }""",
            arg=target, timeout=30_000)
    finally:
        executed.release(path)
