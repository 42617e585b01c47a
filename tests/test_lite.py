"""The JupyterLite site (`make lite`): it builds with no package index, carries the wheel
and notebooks 00-07, opens in Chromium, and (where a Pyodide distribution can be
reached) runs a notebook's setup cell in the browser's Python.

Chromium here resolves no host but 127.0.0.1, so the kernel test needs a full Pyodide
distribution on disk: set K8SNET_PYODIDE_DIST to its folder or archive (a Pyodide
release's "full" distribution); without it that test skips and says so.
"""

from __future__ import annotations

import importlib.util
import json
import os
import sys
from pathlib import Path

import pytest

import static_site

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))
import build_lite  # noqa: E402

SCREENSHOTS = ROOT / "build" / "screenshots"

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(bool(os.environ.get("K8SNET_NESTED")), reason="nested run inside the fresh-clone check"),
    pytest.mark.skipif(not build_lite.TOOLS_PYTHON.exists(),
                       reason="no JupyterLite tools in build/lite-venv (make test and make lite install them)"),
]


@pytest.fixture(scope="module")
def site(tmp_path_factory, monkeypatch_module) -> Path:
    # Any attempt to reach a package index fails: the build must not need one.
    monkeypatch_module.setenv("PIP_INDEX_URL", "http://127.0.0.1:9/simple")
    monkeypatch_module.setenv("PIP_NO_INDEX", "1")
    return build_lite.build(tmp_path_factory.mktemp("lite"), os.environ.get("K8SNET_PYODIDE_DIST"))


@pytest.fixture(scope="module")
def monkeypatch_module():
    with pytest.MonkeyPatch.context() as patch:
        yield patch


def test_the_site_carries_the_wheel_and_notebooks_00_to_07(site):
    expected = sorted(p.name for p in (ROOT / "notebooks").glob("0[0-7]_*.ipynb"))
    assert len(expected) == 8
    assert sorted(p.name for p in (site / "files").glob("*.ipynb")) == expected
    assert not list((site / "files").glob("08_*"))
    index = json.loads((site / "pypi" / "all.json").read_text())
    assert "k8snet-lesson" in index
    (wheel,) = (site / "pypi").glob("k8snet_lesson-*.whl")
    assert wheel.stat().st_size > 10_000
    # What the setup cell installs beside it, and Pyodide's distribution does not hold.
    assert "scapy" in index and list((site / "pypi").glob("scapy-*-py3-none-any.whl"))
    assert (site / "extensions" / "@jupyterlite" / "pyodide-kernel-extension").is_dir()
    assert (site / "extensions" / "@jupyter-widgets" / "jupyterlab-manager").is_dir()


@pytest.fixture(scope="module")
def served(site):
    with static_site.served(site) as url:
        yield url


@pytest.fixture(scope="module")
def page(served, tmp_path_factory, playwright_driver):
    with static_site.chromium(tmp_path_factory.mktemp("chromium"), playwright_driver) as context:
        yield context.new_page()


@pytest.mark.browser
def test_the_site_opens_a_notebook_in_chromium(served, page):
    page.goto(f"{served}/lab/index.html?path=05_services_and_kube_proxy.ipynb")
    heading = page.locator(".jp-Notebook .jp-MarkdownOutput h1").first
    heading.wait_for(timeout=120_000)
    assert heading.inner_text().startswith("05")
    # The saved outputs show before any kernel runs (the page reads well offline).
    # (JupyterLab renders the markdown first and the outputs after it: wait for one)
    page.locator(".jp-Notebook .jp-OutputArea-output").first.wait_for(timeout=60_000)
    assert page.locator(".jp-Notebook .jp-OutputArea-output").count() > 0
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "lite-05.png"))


@pytest.mark.browser
def test_the_browser_python_runs_the_setup_cell(served, page):
    if not os.environ.get("K8SNET_PYODIDE_DIST"):
        pytest.skip("no Pyodide distribution can be reached: Chromium here resolves only 127.0.0.1, and "
                    "K8SNET_PYODIDE_DIST names no full Pyodide distribution for the site to carry")
    page.goto(f"{served}/lab/index.html?path=00_start_here.ipynb")
    page.locator(".jp-Notebook").first.wait_for(timeout=120_000)
    setup = page.locator(".jp-Notebook .jp-CodeCell").first
    setup.click()
    page.keyboard.press("Shift+Enter")
    said = page.get_by_text("Installed the course's package, k8snet-lesson")
    said.wait_for(timeout=300_000)
    page.screenshot(path=str(SCREENSHOTS / "lite-00-kernel.png"))
