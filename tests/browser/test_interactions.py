"""The course's widgets, used in the browser the way a learner uses them, after Run All.

- 05 (load distribution): one step of the endpoints slider, then one of the
  connections slider; each time the figure's PNG changes and the counts shown
  match the new setting (as many counts as endpoints, summing to the
  connections, both equal to the sliders' readouts).
- 04 (packet walk): Next highlights the next hop, Previous goes back.
- 07 (quiz): see test_quiz_in_browser.py.
- 06 (debugging ladder): each diagnosis of the mystery fault submitted; one
  verdict says it is right, the others explain why not.

After each, the widget's output is saved as ``build/screenshots/<notebook>--<widget>.png``
(``scripts/refresh_gallery.py`` picks the README's pictures from there).

The notebooks are found by their number (``notebooks/05_*.ipynb``); a test is
skipped, naming the file, while its notebook is not in the checkout.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

pytestmark = [pytest.mark.browser, pytest.mark.slow]

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
SPREAD_SUMMARY = re.compile(r"([\d,]+) connections over (\d+) endpoints?")
HOP = re.compile(r"Hop (\d+) of (\d+)")


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


def test_spread_sliders_redraw_and_recount(executed, course_notebook, screenshots):
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
        page.screenshot_widget(
            [".k8snet-endpoints", ".k8snet-spread-counts"], screenshots / f"{Path(path).stem}--spread.png"
        )

        assert page.errors() == [] and page.stderr() == []
        assert page.console_errors == []
    finally:
        executed.release(path)


def test_packet_walk_steps_through_hops(executed, course_notebook, screenshots):
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
        page.click_and_wait(".k8snet-walk-next")
        page.screenshot_widget(
            [".k8snet-walk-prev", ".k8snet-walk-output"], screenshots / f"{Path(path).stem}--walk.png"
        )

        assert page.errors() == [] and page.stderr() == []
        assert page.console_errors == []
    finally:
        executed.release(path)


def test_ladder_judges_each_diagnosis(executed, course_notebook, screenshots):
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
            if diagnosis.input_value() != value:
                page.act_and_wait(lambda: diagnosis.select_option(value))  # reaches the kernel before Submit
            page.click_and_wait(".k8snet-submit")
            verdicts[value] = page.text(".k8snet-mystery-verdict")
        assert all(verdicts.values()), verdicts
        right = [value for value, verdict in verdicts.items() if verdict.startswith("Correct")]
        assert len(right) == 1, verdicts
        assert len(set(verdicts.values())) == len(verdicts), "each wrong diagnosis should get its own explanation"
        if diagnosis.input_value() != right[0]:
            page.act_and_wait(lambda: diagnosis.select_option(right[0]))
        page.click_and_wait(".k8snet-submit")
        page.screenshot_widget(
            [".k8snet-diagnosis", ".k8snet-mystery-verdict"], screenshots / f"{Path(path).stem}--ladder.png"
        )

        assert page.errors() == [] and page.stderr() == []
        assert page.console_errors == []
    finally:
        executed.release(path)
