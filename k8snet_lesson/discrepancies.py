"""Where lesson 31's numbers disagree with each other or with real clusters, and how the
course resolves each: data, read from ``data/discrepancies.yaml``.

Notebook 00 shows the list once; the notebook named in each entry shows the resolution.
Each entry says what the lesson says, what a real cluster does or prints, what the
course shows instead, and where the real behaviour is documented.

    >>> rows = discrepancies()
    >>> rows[0].notebook, "10.244.4.2" in rows[0].lesson
    ('00', True)

What it leaves out: typos that change no fact (the lesson's two spaces before ``8d`` in
``kubectl get endpoints``, where kubectl pads with three).
"""

from __future__ import annotations

import dataclasses
import functools
import re
from pathlib import Path

from .errors import InvalidValue
from .resources import data_path

__all__ = ["Discrepancy", "discrepancies", "load", "FIELDS"]

FIELDS = ("lesson", "real", "course", "notebook", "source")


@dataclasses.dataclass(frozen=True)
class Discrepancy:
    """One place where the lesson and a real cluster (or the lesson and itself) disagree."""

    lesson: str
    real: str
    course: str
    notebook: str  # "04": the notebook that shows the resolution
    source: str


def load(path: Path) -> tuple[Discrepancy, ...]:
    """The entries of one discrepancies file; a malformed entry names the file and the entry."""
    import yaml

    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise InvalidValue(f"{path}: cannot read it ({exc.strerror})") from None
    except yaml.YAMLError as exc:
        raise InvalidValue(f"{path}: not YAML ({str(exc).splitlines()[0]})") from None
    entries = document.get("discrepancies") if isinstance(document, dict) else None
    if not isinstance(entries, list) or not entries:
        raise InvalidValue(f"{path}: no 'discrepancies:' list")
    out = []
    for number, entry in enumerate(entries, start=1):
        if not isinstance(entry, dict):
            raise InvalidValue(f"{path}: entry {number} is not a mapping")
        missing = [f for f in FIELDS if not str(entry.get(f) or "").strip()]
        extra = sorted(set(entry) - set(FIELDS))
        if missing or extra:
            what = "; ".join(filter(None, [missing and f"no {', '.join(missing)}", extra and f"unknown {', '.join(extra)}"]))
            raise InvalidValue(f"{path}: entry {number}: {what}")
        values = {f: " ".join(str(entry[f]).split()) for f in FIELDS}
        if not re.fullmatch(r"0\d", values["notebook"]):
            raise InvalidValue(f"{path}: entry {number}: notebook {values['notebook']!r} is not 00-08")
        out.append(Discrepancy(**values))
    lessons = [d.lesson for d in out]
    if len(set(lessons)) != len(lessons):
        raise InvalidValue(f"{path}: an entry is listed twice")
    return tuple(out)


@functools.lru_cache(maxsize=1)
def discrepancies() -> tuple[Discrepancy, ...]:
    """The course's list, in the file's order."""
    return load(data_path("discrepancies.yaml"))
