"""05's readiness explorer in the browser, beside an open file browser, as a learner uses it.

With JupyterLab's file browser open the notebook column is narrow; the checkbox row
must wrap rather than clip its last checkbox, and nothing may overlap. Unticking a
Pod moves its address out of the ENDPOINTS column into NotReadyAddresses, and
kube-proxy's chain loses that Pod's rule. The widget is saved as
``build/screenshots/05_...--readiness.png``.
"""

from __future__ import annotations

from pathlib import Path

import pytest

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def test_unticking_a_pod_moves_it_out_of_rotation_beside_the_file_browser(executed, course_notebook, screenshots):
    path = course_notebook("05_")
    page = executed.get(path)
    try:
        assert page.errors() == [], f"{path} did not run clean, nothing to interact with: {page.errors()}"
        page.page.evaluate("() => window.jupyterapp.commands.execute('filebrowser:activate')")
        page.page.set_viewport_size({"width": 1024, "height": 900})
        page.page.wait_for_timeout(1000)
        boxes = page.page.locator(".k8snet-ready")
        assert boxes.count() == 3
        row = page.page.locator(".k8snet-ready-row").bounding_box()
        for index in range(3):  # every checkbox is inside the row's box: none clipped
            box = boxes.nth(index).bounding_box()
            assert box["x"] >= row["x"] - 1 and box["x"] + box["width"] <= row["x"] + row["width"] + 1, (index, box, row)
        assert "10.244.3.7:3000" in page.text(".k8snet-readiness-endpoints")
        page.click_and_wait(boxes.nth(1).locator("input"))
        endpoints = page.text(".k8snet-readiness-endpoints")
        assert "10.244.2.14:3000,10.244.4.2:3000" in endpoints
        assert "NotReadyAddresses:  10.244.3.7" in endpoints
        assert "10.244.3.7:3000" not in page.text(".k8snet-readiness-rules")
        assert page.visual_problems() == []
        page.screenshot_widget([".k8snet-ready-row", ".k8snet-readiness-rules"],
                               screenshots / f"{Path(path).stem}--readiness.png")
        assert page.errors() == [] and page.stderr() == [] and page.console_errors == []
    finally:
        page.page.evaluate("() => window.jupyterapp.commands.execute('application:toggle-left-area')")
        page.page.set_viewport_size({"width": 1280, "height": 900})
        executed.release(path)
