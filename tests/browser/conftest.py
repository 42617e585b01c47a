"""Fixtures for running the course in JupyterLab in Debian's Chromium.

One JupyterLab server and one Chromium per test session (about 5 s to start);
each notebook gets its own page, workspace and kernel, and its kernel session is
deleted through the REST API when the page closes, so no test reattaches to
another's state. Chromium resolves no host but 127.0.0.1/localhost and starts
from an empty profile.

Skipped, with the reason, when Chromium or Playwright is missing, or when
``K8SNET_NESTED`` is set (the fresh-clone check runs ``make test`` inside a
clone; the browser tests already ran in the outer suite).
"""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

import course_server  # noqa: E402
from notebook_page import NotebookPage  # noqa: E402

CHECKOUT = Path(__file__).resolve().parents[2]
# K8SNET_BROWSER_NOTEBOOKS points the tests at notebooks elsewhere (a build not yet in the checkout).
NOTEBOOKS = sorted(Path(os.environ.get("K8SNET_BROWSER_NOTEBOOKS", CHECKOUT / "notebooks")).glob("*.ipynb"))
SCREENSHOTS = CHECKOUT / "build" / "screenshots"
CHROMIUM = Path(os.environ.get("K8SNET_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    # Chromium looks up its vendor's hosts even with the flags above; resolve nothing else.
    "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE localhost , EXCLUDE 127.0.0.1",
]
VIEWPORT = {"width": 1280, "height": 900}

# Notebooks whose widgets tests/browser/test_interactions.py drives after the run:
# their pages stay open after the clean-run test, so the interaction reuses the run.
INTERACTIVE_PREFIXES = ("04_", "05_", "06_", "07_")

TIMINGS: list[tuple[str, dict[str, float]]] = []


def unavailable() -> str | None:
    """Why browser tests cannot run here, or None."""
    if os.environ.get("K8SNET_NESTED"):
        return "K8SNET_NESTED is set: a run nested in the fresh-clone check (the outer suite runs the browser tests)"
    if not (CHROMIUM.is_file() and os.access(CHROMIUM, os.X_OK)):
        return f"no Chromium at {CHROMIUM} (apt-get install chromium, or set K8SNET_CHROMIUM)"
    if importlib.util.find_spec("playwright") is None:
        return "Playwright for Python is not installed (pip install playwright; no browser download needed)"
    if importlib.util.find_spec("jupyterlab") is None:
        return "JupyterLab is not installed in this Python"
    return None


@pytest.fixture(scope="session")
def lab_server(tmp_path_factory):
    reason = unavailable()
    if reason:
        pytest.skip(reason)
    server = course_server.start(tmp_path_factory.mktemp("jupyterlab"), CHECKOUT, NOTEBOOKS)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def chromium(lab_server, tmp_path_factory, playwright_driver):
    """A Chromium context with an empty profile (``--user-data-dir`` in the session's temp dir)."""
    profile = tmp_path_factory.mktemp("chromium-profile")
    context = playwright_driver.chromium.launch_persistent_context(
        str(profile),
        executable_path=str(CHROMIUM),
        headless=True,
        args=CHROMIUM_ARGS,
        viewport=VIEWPORT,
        env={**os.environ, "HOME": str(profile), "TMPDIR": str(profile)},
    )
    try:
        yield context
    finally:
        context.close()


class ExecutedNotebooks:
    """Notebooks opened and run once per session, handed to the tests that read them."""

    def __init__(self, context, server):
        self.context = context
        self.server = server
        self.pages: dict[str, NotebookPage] = {}

    def get(self, path: str) -> NotebookPage:
        """``path`` (under the server root) opened and run from a clean slate; reused if already run."""
        if path not in self.pages:
            page = NotebookPage.open(self.context, self.server, path)
            TIMINGS.append((path, page.timings))
            try:
                page.run_all()
            except BaseException:
                page.close()
                raise
            self.pages[path] = page
        return self.pages[path]

    def ran_clean_check(self, path: str) -> None:
        """The clean-run test is done with ``path``: close it unless an interaction test will reuse it."""
        if not Path(path).name.startswith(INTERACTIVE_PREFIXES):
            self.release(path)

    def release(self, path: str) -> None:
        page = self.pages.pop(path, None)
        if page is not None:
            page.close()

    def release_all(self) -> None:
        for path in list(self.pages):
            self.release(path)


@pytest.fixture(scope="session")
def executed(chromium, lab_server):
    notebooks = ExecutedNotebooks(chromium, lab_server)
    try:
        yield notebooks
    finally:
        notebooks.release_all()


@pytest.fixture(scope="session")
def screenshots() -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return SCREENSHOTS


@pytest.fixture(scope="session")
def course_notebook():
    """``find(prefix)``: the served path of the course notebook named ``prefix*``; skips if there is none."""

    def find(prefix: str) -> str:
        for notebook in NOTEBOOKS:
            if notebook.name.startswith(prefix):
                return f"notebooks/{notebook.name}"
        pytest.skip(f"no notebooks/{prefix}*.ipynb in this checkout yet")

    return find


def pytest_generate_tests(metafunc):
    """``notebook_path``: one test per course notebook (``notebooks/*.ipynb``, discovered by glob)."""
    if "notebook_path" in metafunc.fixturenames:
        metafunc.parametrize(
            "notebook_path", [f"notebooks/{n.name}" for n in NOTEBOOKS], ids=[n.stem for n in NOTEBOOKS]
        )


def pytest_terminal_summary(terminalreporter):
    if not TIMINGS:
        return
    terminalreporter.section("notebooks in JupyterLab (seconds)")
    for path, timings in TIMINGS:
        parts = "  ".join(f"{name} {value:5.1f}" for name, value in timings.items())
        terminalreporter.write_line(f"{path:55s} {parts}")

