"""The course's glossary: each term, the notebook that teaches it, and its one-line definition.

The terms live in ``data/glossary.yaml``. A notebook's first use of a term shows its
definition: inline, as ``<dfn>term</dfn>`` followed by the definition, in the
notebook that teaches it; on hover elsewhere, as ``<abbr title="definition">term</abbr>``,
which :func:`abbr` writes. The course's shape test reads the notebooks and holds
every first use to this.

    >>> term("conntrack").notebook
    '05'
    >>> abbr("VTEP")[:30]
    '<abbr title="VXLAN tunnel endp'
"""

from __future__ import annotations

import dataclasses
import functools
import html
import re

from .errors import InvalidValue, NotFound
from .resources import data_path

__all__ = ["Term", "terms", "term", "abbr", "pattern"]


@dataclasses.dataclass(frozen=True)
class Term:
    term: str
    notebook: str  # "05": the notebook that defines it inline
    definition: str
    forms: tuple[str, ...] = ()  # other spellings that count as a use

    @property
    def spellings(self) -> tuple[str, ...]:
        return (self.term, *self.forms)


@functools.lru_cache(maxsize=1)
def terms() -> tuple[Term, ...]:
    """Every term, in the file's order (the order notebooks teach them)."""
    import yaml

    path = data_path("glossary.yaml")
    with open(path, encoding="utf-8") as stream:
        document = yaml.safe_load(stream)
    out = []
    for entry in document["terms"]:
        notebook = str(entry["notebook"])
        if not re.fullmatch(r"0\d", notebook):
            raise InvalidValue(f"{path}: term {entry['term']!r} names notebook {notebook!r}, not 00-08")
        out.append(Term(str(entry["term"]), notebook, " ".join(str(entry["definition"]).split()),
                        tuple(str(f) for f in entry.get("forms", ()))))
    if len({t.term for t in out}) != len(out):
        raise InvalidValue(f"{path}: a term is listed twice")
    return tuple(out)


def term(name: str) -> Term:
    for entry in terms():
        if name in entry.spellings:
            return entry
    raise NotFound(f"no glossary term {name!r} (terms: {', '.join(t.term for t in terms())})")


def abbr(name: str, shown: str | None = None) -> str:
    """``<abbr title="definition">shown</abbr>``: a use of a term that shows its definition on hover."""
    entry = term(name)
    return f'<abbr title="{html.escape(entry.definition)}">{shown or name}</abbr>'


def pattern(entry: Term) -> re.Pattern[str]:
    """A use of ``entry`` in text: any spelling, case as written, as a whole word (plurals too)."""
    words = "|".join(re.escape(s) for s in sorted(entry.spellings, key=len, reverse=True))
    return re.compile(rf"(?<![\w-])(?:{words})(?:s|es)?(?![\w])")
