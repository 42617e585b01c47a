"""Where the course's data files live.

In a checkout they are ``data/`` at the top, beside the package. An installed wheel
carries the same files as ``k8snet_lesson/data`` (the build maps the package
``k8snet_lesson.data`` onto ``data/``, see ``setup.py``), and they are found through
:mod:`importlib.resources`, so the course works after a plain ``pip install`` too.
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

__all__ = ["DATA_DIR", "data_path"]


def _data_dir() -> Path:
    packaged = Path(str(files(__package__) / "data"))
    if packaged.is_dir():  # installed from the wheel
        return packaged
    return Path(__file__).resolve().parent.parent / "data"  # a checkout (editable install, Binder)


DATA_DIR = _data_dir()


def data_path(name: str) -> Path:
    """The path of a file in the course's data (it may not exist; callers report that).

    >>> data_path("lesson-cluster.yaml").name
    'lesson-cluster.yaml'
    """
    return DATA_DIR / name
