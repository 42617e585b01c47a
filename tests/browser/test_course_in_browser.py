"""Every course notebook, run from the JupyterLab UI in Chromium as a learner runs it.

For each ``notebooks/*.ipynb`` (a copy; nothing is written back): open it, clear
its outputs, Run > Run All Cells, wait for the kernel to be connected and idle,
then hold the notebook to what a learner must see: every code cell ran, no error
and nothing on stderr, every widget drawn (as many views in the page as the
kernel's widget models call for, none left undisplayed, no "Error displaying
widget"), and no JavaScript error in the console. A screenshot of the whole
notebook goes to ``build/screenshots/<name>.png``.
"""

from __future__ import annotations

from pathlib import Path

import pytest

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def test_notebook_runs_clean_in_jupyterlab(notebook_path, executed, screenshots):
    page = executed.get(notebook_path)
    try:
        page.screenshot(screenshots / f"{Path(notebook_path).stem}.png")
        assert page.errors() == []
        assert page.run_all_result is True
        assert page.unexecuted_code_cells() == []
        assert page.stderr() == []
        assert page.widget_census().problems() == []
        assert page.console_errors == []
    finally:
        executed.ran_clean_check(notebook_path)
