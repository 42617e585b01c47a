"""Build the course notebooks from their sources and execute them in place.

Sources are ``notebooks/src/NN_name.py`` in the percent format: ``# %%`` starts a
code cell (``# %% tags=["a","b"]`` adds cell tags), ``# %% [markdown]`` a markdown
cell whose lines drop their leading ``# ``. Each notebook is executed with the
current Python's kernel from inside ``notebooks/`` (as nbval runs it) and written to
``notebooks/NN_name.ipynb`` with its outputs, so it reads well on a code host.

    python scripts/build_notebooks.py            # every notebook
    python scripts/build_notebooks.py 05 07      # those whose names start so
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import nbformat
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parent.parent
SOURCES = ROOT / "notebooks" / "src"
OUT = ROOT / "notebooks"
HEADER = re.compile(r"^# %%(?P<md> \[markdown\])?(?:\s+tags=(?P<tags>\[.*\]))?\s*$")


def cells_of(text: str) -> list:
    cells = []
    kind, tags, lines = None, [], []

    def flush() -> None:
        if kind is None:
            return
        body = "\n".join(lines).strip("\n")
        if kind == "markdown":
            body = "\n".join(re.sub(r"^# ?", "", line) for line in body.splitlines())
            cell = nbformat.v4.new_markdown_cell(body)
        else:
            cell = nbformat.v4.new_code_cell(body)
        if tags:
            cell.metadata["tags"] = tags
        cells.append(cell)

    for line in text.splitlines():
        match = HEADER.match(line)
        if match:
            flush()
            kind = "markdown" if match.group("md") else "code"
            tags = json.loads(match.group("tags")) if match.group("tags") else []
            lines = []
        elif kind is not None:
            lines.append(line)
    flush()
    return cells


def build(source: Path) -> Path:
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"}
    nb.metadata["language_info"] = {"name": "python"}
    nb.cells = cells_of(source.read_text(encoding="utf-8"))
    for index, cell in enumerate(nb.cells):
        cell["id"] = f"{source.stem[:2]}-{index:03d}"
    client = NotebookClient(nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(OUT)}})
    client.execute()
    for cell in nb.cells:
        cell.metadata.pop("execution", None)
    target = OUT / f"{source.stem}.ipynb"
    nbformat.write(nb, target)
    return target


def main(argv: list[str]) -> int:
    chosen = sorted(SOURCES.glob("*.py"))
    if argv:
        chosen = [s for s in chosen if any(s.stem.startswith(a) for a in argv)]
    for source in chosen:
        print(f"building {build(source).relative_to(ROOT)}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
