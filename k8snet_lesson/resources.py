"""Where the project's data files live (``data/`` at the top of the checkout)."""

from __future__ import annotations

from pathlib import Path

DATA_DIR = Path(__file__).resolve().parent.parent / "data"


def data_path(name: str) -> Path:
    """The path of a file in ``data/`` (it may not exist; callers report that)."""
    return DATA_DIR / name
