"""Shared test settings.

Property tests run with no per-example deadline: the machines that run the suite
are shared and noisy, and speed is measured by ``make bench``, never by a test.
The number of examples stays as each test sets it, with hypothesis' own default
seed handling (failing examples are replayed from its database).
"""

from hypothesis import settings

settings.register_profile("k8snet", deadline=None)
settings.load_profile("k8snet")


import pytest


@pytest.fixture(autouse=True)
def _private_progress(tmp_path, monkeypatch):
    """Every test keeps learner progress in its own file, never in the user's home."""
    monkeypatch.setenv("K8SNET_PROGRESS", str(tmp_path / "progress.json"))


@pytest.fixture(scope="session")
def playwright_driver():
    """One Playwright driver for the whole session. Its sync API runs an event loop in
    this thread, and Playwright refuses a second sync driver while one is running, so the
    browser suite, the JupyterLite test and the site test all launch Chromium from this one."""
    import importlib.util

    if importlib.util.find_spec("playwright") is None:
        pytest.skip("Playwright for Python is not installed (pip install playwright)")
    from playwright.sync_api import sync_playwright

    driver = sync_playwright().start()
    try:
        yield driver
    finally:
        driver.stop()
