"""The shape of a course notebook, measured: the core path, its budgets, its gates, its terms.

A notebook is: an objectives cell (``# NN · Title`` and what the learner will be able
to do), the core path, a ``## Recap``, then the graded check (a code cell tagged
``graded``). Whatever a first-time learner can skip lives in sections whose heading
starts with "Going further"; such a heading cell carries JupyterLab's
``jp-MarkdownHeadingCollapsed`` metadata, so the section opens folded, and the section
runs to the next heading of the same or a higher level. Everything else is the core.

Budgets for the core: 900 words of markdown per notebook, 6,000 for the series; no
output over 12 table rows (rows folded under a ``<details>`` do not count) or 25 lines.

Run as a script to print the measurements: ``python tests/course_shape.py``.
"""

from __future__ import annotations

import dataclasses
import html
import json
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"
WORDS_PER_NOTEBOOK = 900
WORDS_PER_SERIES = 6000
TABLE_ROWS = 12
TEXT_LINES = 25
GATED = ("01", "02", "03", "04", "05", "06", "08")  # notebooks with at least three prediction gates
GATES_PER_NOTEBOOK = 3

_HEADING = re.compile(r"^(#{1,6})\s+(.*)$", re.M)
_WORD = re.compile(r"[A-Za-z0-9][\w'’./:-]*")
_TAG = re.compile(r"<[^>]+>")
_TITLE = re.compile(r'\stitle="[^"]*"')


@dataclasses.dataclass
class Cell:
    index: int
    kind: str
    source: str
    metadata: dict
    outputs: list
    core: bool

    @property
    def tags(self) -> list[str]:
        return list(self.metadata.get("tags", []))


def load(path: Path) -> list[Cell]:
    """The notebook's cells, each marked core or Going further."""
    raw = json.loads(path.read_text(encoding="utf-8"))["cells"]
    cells: list[Cell] = []
    skipping_below: int | None = None  # the level of the open Going further heading
    for index, cell in enumerate(raw):
        source = "".join(cell.get("source", ""))
        if cell["cell_type"] == "markdown":
            heading = _HEADING.match(source.strip())
            if heading:
                level = len(heading.group(1))
                if skipping_below is not None and level <= skipping_below:
                    skipping_below = None
                if heading.group(2).strip().lower().startswith("going further"):
                    skipping_below = level
        cells.append(Cell(index, cell["cell_type"], source, cell.get("metadata", {}), cell.get("outputs", []),
                          core=skipping_below is None))
    return cells


def markdown_text(source: str) -> str:
    """Markdown as a reader reads it: tags and hover titles removed, entities decoded."""
    return html.unescape(_TAG.sub(" ", _TITLE.sub(" ", source)))


def words(cells: list[Cell]) -> int:
    return sum(len(_WORD.findall(markdown_text(c.source))) for c in cells if c.kind == "markdown" and c.core)


def _strip_details(text: str) -> str:
    return re.sub(r"<details.*?</details>", "", text, flags=re.S | re.I)


def output_sizes(output: dict) -> tuple[int, int]:
    """(table rows shown, text lines) of one output."""
    if output.get("output_type") == "stream":
        return 0, len("".join(output.get("text", "")).rstrip("\n").splitlines())
    data = output.get("data", {})
    if "application/vnd.jupyter.widget-view+json" in data:
        return 0, 0
    if "text/html" in data:
        shown = _strip_details("".join(data["text/html"]))
        rows = len(re.findall(r"<tr[\s>]", shown, re.I)) - len(re.findall(r"<thead", shown, re.I))
        return max(rows, 0), 0
    if "image/png" in data or "image/svg+xml" in data:
        return 0, 0
    if "text/plain" in data:
        return 0, len("".join(data["text/plain"]).splitlines())
    return 0, 0


@dataclasses.dataclass
class Shape:
    notebook: str
    words: int
    gates: int
    longest_table: int
    longest_text: int
    problems: list[str]


def measure(path: Path) -> Shape:
    from k8snet_lesson import glossary

    number = path.name[:2]
    cells = load(path)
    problems: list[str] = []
    first = cells[0] if cells else None
    if first is None or first.kind != "markdown" or not first.source.startswith(f"# {number} "):
        problems.append("the first cell is not the objectives cell '# NN · Title'")
    elif not re.search(r"^\s*[-*] ", first.source, re.M):
        problems.append("the objectives cell lists no objectives")
    recap = next((c for c in cells if c.core and c.kind == "markdown" and re.match(r"##\s+Recap", c.source.strip())), None)
    if recap is None:
        problems.append("no '## Recap' on the core path")
    graded = [c for c in cells if c.kind == "code" and "graded" in c.tags and c.core]
    if recap is None or not any(c.index > recap.index for c in graded):
        problems.append("no graded check (a code cell tagged 'graded') after the recap")
    for cell in cells:
        if cell.kind == "markdown":
            heading = _HEADING.match(cell.source.strip())
            if heading and heading.group(2).strip().lower().startswith("going further"):
                if cell.metadata.get("jp-MarkdownHeadingCollapsed") is not True:
                    problems.append(f"cell {cell.index}: a Going further heading that is not collapsed")
            lowered = cell.source.lower()
            for word in ("nbval", "assert"):
                if word in lowered:
                    problems.append(f"cell {cell.index}: the learner's text mentions {word!r}")
        else:
            if "NBVAL_CHECK_OUTPUT" in cell.source:
                problems.append(f"cell {cell.index}: a NBVAL_CHECK_OUTPUT comment (tag the cell nbval-check-output)")
            if re.search(r"^\s*assert\b", cell.source, re.M):
                hidden = cell.metadata.get("jupyter", {}).get("source_hidden") is True
                if not hidden or "check" not in cell.tags:
                    problems.append(f"cell {cell.index}: an assert cell that is not a hidden check cell")
    longest_table = longest_text = 0
    for cell in cells:
        if cell.kind != "code" or not cell.core:
            continue
        for output in cell.outputs:
            rows, lines = output_sizes(output)
            longest_table, longest_text = max(longest_table, rows), max(longest_text, lines)
            if rows > TABLE_ROWS:
                problems.append(f"cell {cell.index}: a table of {rows} rows on the core path")
            if lines > TEXT_LINES:
                problems.append(f"cell {cell.index}: {lines} lines of output on the core path")
    gates = [c for c in cells if c.kind == "code" and c.core and "predict" in c.tags]
    if number in GATED and len(gates) < GATES_PER_NOTEBOOK:
        problems.append(f"{len(gates)} prediction gates on the core path; at least {GATES_PER_NOTEBOOK} wanted")
    problems.extend(_term_problems(cells, number, glossary))
    count = words(cells)
    if count > WORDS_PER_NOTEBOOK:
        problems.append(f"{count} words of markdown on the core path; at most {WORDS_PER_NOTEBOOK}")
    return Shape(number, count, len(gates), longest_table, longest_text, problems)


def _term_problems(cells: list[Cell], number: str, glossary) -> list[str]:
    """Each term's first use in the notebook's markdown shows its definition (abbr or dfn)."""
    problems = []
    text, starts = "", []
    for cell in cells:
        if cell.kind == "markdown":
            starts.append((len(text), cell.index))
            text += cell.source + "\n\n"
    masked = re.sub(r"<[^>]+>", lambda m: " " * len(m.group(0)), text)  # tags, titles included, hide no word
    for entry in glossary.terms():
        found = glossary.pattern(entry).search(masked)
        if found is None:
            continue
        before = text[: found.start()]
        cell_index = max((index for start, index in starts if start <= found.start()), default=0)
        opened_abbr, opened_dfn = before.rfind("<abbr"), before.rfind("<dfn")
        if opened_abbr > before.rfind("</abbr>"):
            title = re.match(r'<abbr title="([^"]*)"', text[opened_abbr:])
            if title is None or html.unescape(title.group(1)) != entry.definition:
                problems.append(f"cell {cell_index}: the hover text of {entry.term!r} is not its glossary definition")
        elif opened_dfn > before.rfind("</dfn>"):
            if entry.notebook != number:
                problems.append(f"cell {cell_index}: {entry.term!r} is defined inline here but taught in {entry.notebook}")
        else:
            problems.append(f"cell {cell_index}: first use of {entry.term!r} shows no definition "
                            f'(<abbr title="...">{entry.term}</abbr>, or <dfn> in notebook {entry.notebook})')
    return problems


def notebooks() -> list[Path]:
    return sorted(NOTEBOOKS.glob("[0-9][0-9]_*.ipynb"))


def main() -> int:
    total = 0
    print(f"{'notebook':10} {'words':>6} {'gates':>6} {'rows':>5} {'lines':>6}  problems")
    for path in notebooks():
        shape = measure(path)
        total += shape.words
        print(f"{path.stem[:24]:24} {shape.words:>6} {shape.gates:>6} {shape.longest_table:>5} {shape.longest_text:>6}  "
              f"{len(shape.problems)}")
        for problem in shape.problems:
            print(f"    {problem}")
    print(f"series: {total} words (budget {WORDS_PER_SERIES})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
