"""The course's widgets, used in the browser the way a learner uses them, after Run All.

- 05 (load distribution): one step of the endpoints slider, then one of the
  connections slider; each time the figure's PNG changes and the counts shown
  match the new setting (as many counts as endpoints, summing to the
  connections, both equal to the sliders' readouts).
- 04 (packet walk): Next highlights the next hop, Previous goes back.
- 07 (quiz): every choice of the first two questions checked; exactly one is
  "Correct", the others "Not quite", each followed by its own explanation.
- 06 (debugging ladder): each diagnosis of the mystery fault submitted; one
  verdict says it is right, the others explain why not.

The notebooks are found by their number (``notebooks/05_*.ipynb``); a test is
skipped, naming the file, while its notebook is not in the checkout.
"""

from __future__ import annotations

import re

import pytest

pytestmark = [pytest.mark.browser, pytest.mark.slow]

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
SPREAD_SUMMARY = re.compile(r"([\d,]+) connections over (\d+) endpoints?")
HOP = re.compile(r"Hop (\d+) of (\d+)")
FEEDBACK = re.compile(r"^(Correct|Not quite)\W+(\S.*)$", re.S)


def ran_clean(page) -> None:
    """Interactions need the notebook's widgets: stop early, and say why, if Run All failed."""
    assert page.errors() == [], f"{page.path} did not run clean, nothing to interact with: {page.errors()}"


def number(text: str) -> int:
    """A count as the page prints it: ``1,000`` or ``3,162``."""
    return int(round(float(text.strip().replace(",", ""))))


def spread_shown(page) -> dict:
    """What 05's spread explorer shows: the sliders' readouts, the summary line and the counts."""
    summary = SPREAD_SUMMARY.search(page.text(".k8snet-spread-counts"))
    assert summary, page.text(".k8snet-spread-counts")
    return {
        "endpoints readout": number(page.text(".k8snet-endpoints .widget-readout")),
        "connections readout": number(page.text(".k8snet-connections .widget-readout")),
        "connections": number(summary.group(1)),
        "endpoints": int(summary.group(2)),
        "counts": [number(cell) for cell in page.page.locator(".k8snet-spread-counts .k8snet-count").all_inner_texts()],
    }


def assert_consistent(shown: dict) -> None:
    assert shown["endpoints"] == shown["endpoints readout"] == len(shown["counts"]), shown
    assert shown["connections"] == shown["connections readout"] == sum(shown["counts"]), shown


def test_spread_sliders_redraw_and_recount(executed, course_notebook):
    path = course_notebook("05_")
    page = executed.get(path)
    try:
        ran_clean(page)
        start = spread_shown(page)
        assert_consistent(start)

        before, after = page.step_slider(".k8snet-endpoints", redraws=".k8snet-spread-output")
        assert before.startswith(PNG_SIGNATURE) and after.startswith(PNG_SIGNATURE)
        assert after != before
        more_endpoints = spread_shown(page)
        assert_consistent(more_endpoints)
        assert more_endpoints["endpoints"] == start["endpoints"] + 1
        assert more_endpoints["connections"] == start["connections"]

        before, after = page.step_slider(".k8snet-connections", redraws=".k8snet-spread-output")
        assert after != before
        more_connections = spread_shown(page)
        assert_consistent(more_connections)
        assert more_connections["endpoints"] == more_endpoints["endpoints"]
        assert more_connections["connections"] > more_endpoints["connections"]

        assert page.errors() == [] and page.stderr() == []
        assert page.console_errors == []
    finally:
        executed.release(path)


def test_packet_walk_steps_through_hops(executed, course_notebook):
    path = course_notebook("04_")
    page = executed.get(path)
    try:
        ran_clean(page)
        first = HOP.search(page.text(".k8snet-walk-hop"))
        assert first, page.text(".k8snet-walk-hop")
        hop, hops = int(first.group(1)), int(first.group(2))
        assert 1 <= hop < hops

        page.click_and_wait(".k8snet-walk-next")
        after_next = page.text(".k8snet-walk-hop")
        assert HOP.search(after_next).groups() == (str(hop + 1), str(hops)), after_next
        assert after_next != first.string

        page.click_and_wait(".k8snet-walk-prev")
        assert page.text(".k8snet-walk-hop") == first.string

        assert page.errors() == [] and page.stderr() == []
        assert page.console_errors == []
    finally:
        executed.release(path)


def check_every_choice(page, question) -> list[tuple[str, str, str]]:
    """Pick each choice of one question box and press Check: (choice, headline, explanation) each."""
    answers = []
    choices = question.locator(".k8snet-choices input[type=radio]")
    labels = question.locator(".k8snet-choices .widget-radio-box label").all_inner_texts()
    assert choices.count() == len(labels) >= 2, labels
    for index, label in enumerate(labels):
        page.click_and_wait(choices.nth(index))  # the choice goes to the kernel first
        page.click_and_wait(question.locator(".k8snet-check"))
        text = question.locator(".k8snet-feedback").inner_text().strip()
        feedback = FEEDBACK.match(text)
        assert feedback, f"feedback for {label!r} does not start with Correct/Not quite: {text!r}"
        answers.append((label.strip(), feedback.group(1), feedback.group(2)))
    return answers


def test_quiz_explains_right_and_wrong_answers(executed, course_notebook):
    path = course_notebook("07_")
    page = executed.get(path)
    try:
        ran_clean(page)
        questions = page.page.locator(".k8snet-question")
        assert questions.count() >= 2
        for q in range(2):
            answers = check_every_choice(page, questions.nth(q))
            headlines = [headline for _, headline, _ in answers]
            assert headlines.count("Correct") == 1, answers
            assert headlines.count("Not quite") == len(answers) - 1, answers
            explanations = [explanation for _, _, explanation in answers]
            assert all(len(e) > 20 for e in explanations), answers
            assert len(set(explanations)) == len(explanations), "each choice should explain itself"

        assert page.errors() == [] and page.stderr() == []
        assert page.console_errors == []
    finally:
        executed.release(path)


def test_ladder_judges_each_diagnosis(executed, course_notebook):
    path = course_notebook("06_")
    page = executed.get(path)
    try:
        ran_clean(page)
        diagnosis = page.page.locator("select.k8snet-diagnosis, .k8snet-diagnosis select").first
        options = [
            value
            for value in diagnosis.locator("option").evaluate_all("options => options.map(o => o.value)")
            if value.strip()
        ]
        assert len(options) >= 2, options
        verdicts = {}
        for value in options:
            diagnosis.select_option(value)
            page.click_and_wait(".k8snet-submit")
            verdicts[value] = page.text(".k8snet-verdict")
        assert all(verdicts.values()), verdicts
        right = [value for value, verdict in verdicts.items() if verdict.startswith("Correct")]
        assert len(right) == 1, verdicts
        assert len(set(verdicts.values())) == len(verdicts), "each wrong diagnosis should get its own explanation"

        assert page.errors() == [] and page.stderr() == []
        assert page.console_errors == []
    finally:
        executed.release(path)
