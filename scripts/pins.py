"""Write binder/requirements.txt from constraints.txt: one set of pins for every install.

constraints.txt holds the tested version of every package a full install brings
(``make test`` installs with it). Binder installs binder/requirements.txt, so that file
must be the same pins, for what a learner's kernel and JupyterLab need only: the
package's dependencies and its ``course`` and ``lab`` extras, followed through the
installed packages' own requirements (their metadata, so no index is asked).

    python scripts/pins.py            # rewrite binder/requirements.txt
    python scripts/pins.py --check    # exit 1 if it is out of date (tests/test_pins.py)

Run it in the ``make test`` virtual environment, where every pinned package is installed.
"""

from __future__ import annotations

import re
import sys
import tomllib
from importlib import metadata
from pathlib import Path

from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parent.parent
CONSTRAINTS = ROOT / "constraints.txt"
BINDER = ROOT / "binder" / "requirements.txt"
LEARNER_EXTRAS = ("course", "lab")
HEADER = """\
# The versions the course is tested with (Python 3.11), for a learner's install: the
# package's dependencies and its course and lab extras. Written by scripts/pins.py from
# ../constraints.txt (the same lines); Binder installs these, then postBuild installs
# the course's own package without dependencies.
"""


def canonical(name: str) -> str:
    """A distribution name as the index compares them (PEP 503)."""
    return re.sub(r"[-_.]+", "-", name).lower()


def pins(text: str) -> dict[str, str]:
    """``canonical name -> line`` for every ``name==version`` line of a constraints file."""
    out = {}
    for number, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        name, sep, version = line.partition("==")
        if not sep or not version:
            raise SystemExit(f"{CONSTRAINTS.name}:{number}: {line!r} is not NAME==VERSION")
        out[canonical(name)] = line
    return out


def learner_requirements() -> list[Requirement]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    lines = list(project["dependencies"])
    for extra in LEARNER_EXTRAS:
        lines += project["optional-dependencies"][extra]
    return [Requirement(line) for line in lines]


def closure(roots: list[Requirement]) -> set[str]:
    """Every distribution ``roots`` need on this platform, from the installed metadata."""
    seen: set[str] = set()
    todo = [(r, "") for r in roots]
    while todo:
        requirement, extra = todo.pop()
        if requirement.marker is not None and not requirement.marker.evaluate({"extra": extra}):
            continue
        name = canonical(requirement.name)
        wanted = set(requirement.extras)
        key = name + "[" + ",".join(sorted(wanted)) + "]"
        if key in seen:
            continue
        seen.add(key)
        try:
            requires = metadata.distribution(requirement.name).requires or []
        except metadata.PackageNotFoundError:
            raise SystemExit(f"{requirement.name} is not installed: run this in the `make test` venv") from None
        for line in requires:
            child = Requirement(line)
            if child.marker is None or child.marker.evaluate({"extra": ""}):
                todo.append((child, ""))
            else:
                todo.extend((child, e) for e in wanted if child.marker.evaluate({"extra": e}))
    return {key.split("[", 1)[0] for key in seen}


def binder_text() -> str:
    pinned = pins(CONSTRAINTS.read_text(encoding="utf-8"))
    names = closure(learner_requirements())
    missing = sorted(names - set(pinned))
    if missing:
        raise SystemExit(f"{CONSTRAINTS.name} pins no version of {', '.join(missing)}")
    return HEADER + "".join(pinned[name] + "\n" for name in sorted(names))


def main(argv: list[str]) -> int:
    text = binder_text()
    if "--check" in argv:
        if BINDER.read_text(encoding="utf-8") != text:
            print(f"{BINDER.relative_to(ROOT)} is out of date: run python scripts/pins.py", file=sys.stderr)
            return 1
        return 0
    BINDER.write_text(text, encoding="utf-8")
    print(f"wrote {BINDER.relative_to(ROOT)} ({text.count(chr(10)) - HEADER.count(chr(10))} pins)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
