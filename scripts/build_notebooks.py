"""Build the course notebooks from their sources and execute them in place.

Sources are ``notebooks/src/NN_name.py`` in jupytext's percent format: ``# %%`` starts
a code cell, ``# %% [markdown]`` a markdown cell, and the rest of that line is cell
metadata (``tags=["predict"]``, ``jupyter={"source_hidden": true}``,
``jp-MarkdownHeadingCollapsed=true``). Each notebook is executed with the
current Python's kernel from inside ``notebooks/`` (as nbval runs it) and written to
``notebooks/NN_name.ipynb`` with its outputs, so it reads well on a code host.

Every notebook gets one more cell, hidden, before its first code cell: where the course's
package is missing (a notebook opened in Colab or JupyterLite), it installs the package
and says so; where it is installed (``make lab``, Binder, a hub) it does nothing.

    python scripts/build_notebooks.py            # every notebook
    python scripts/build_notebooks.py 05 07      # those whose names start so
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

import nbformat
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parent.parent
SOURCES = ROOT / "notebooks" / "src"
OUT = ROOT / "notebooks"
REPO = "k8snet-lesson/k8snet-lesson"  # as the README's launch links name it
# What JupyterLite's piplite installs: the wheel the site serves, then what the course's
# views import from inside functions (Pyodide cannot see those imports in a cell).
LITE_PACKAGES = ["k8snet-lesson", "scapy", "ipywidgets", "matplotlib", "pandas", "networkx"]

SETUP = f"""\
# Where the course's package is missing (Colab, JupyterLite), install it first.
try:
    import k8snet_lesson
except ModuleNotFoundError:
    import sys
    if sys.platform == "emscripten":  # JupyterLite: the site serves the package's wheel
        import piplite
        await piplite.install({LITE_PACKAGES!r})
    else:
        # Colab has the course's other packages; its own IPython must not be upgraded.
        get_ipython().run_line_magic("pip", "install --quiet scapy 'k8snet-lesson @ git+https://github.com/{REPO}'")
    import k8snet_lesson
    print(f"Installed the course's package, k8snet-lesson {{k8snet_lesson.__version__}}, for this session.")"""


def with_setup(cells: list) -> list:
    """``cells`` with the hidden setup cell before the first code cell (once: a source that
    already holds it, as a JupyterLab pair saves it, keeps its own)."""
    if any("setup" in cell.metadata.get("tags", ()) for cell in cells):
        return cells
    setup = nbformat.v4.new_code_cell(SETUP, metadata={"tags": ["setup"], "jupyter": {"source_hidden": True}})
    first_code = next((i for i, cell in enumerate(cells) if cell.cell_type == "code"), len(cells))
    return [*cells[:first_code], setup, *cells[first_code:]]


def cells_of(text: str) -> list:
    """The cells of a py:percent source, read by jupytext (cell metadata in the ``# %%`` line)."""
    import jupytext

    return jupytext.reads(text, fmt="py:percent").cells


def _scratch_progress(path: Path) -> None:
    from k8snet_lesson.view.learner import Progress
    from k8snet_lesson.view.quiz import BUILD_SEED

    progress = Progress.open(path)
    progress.data["seed"] = BUILD_SEED
    progress.save()


def build(source: Path) -> Path:
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"}
    nb.metadata["language_info"] = {"name": "python"}
    nb.cells = with_setup(cells_of(source.read_text(encoding="utf-8")))
    for index, cell in enumerate(nb.cells):
        cell["id"] = f"{source.stem[:2]}-{index:03d}"
    with tempfile.TemporaryDirectory() as scratch:
        # A learner's recorded predictions must not leak into the committed outputs, and
        # the graded checks show one fixed order of choices: a scratch progress file with
        # the build's seed.
        os.environ["K8SNET_PROGRESS"] = str(Path(scratch) / "progress.json")
        _scratch_progress(Path(scratch) / "progress.json")
        client = NotebookClient(nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(OUT)}})
        client.execute()
    for cell in nb.cells:
        cell.metadata.pop("execution", None)
        cell.metadata.pop("lines_to_next_cell", None)
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
