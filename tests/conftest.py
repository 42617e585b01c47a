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
