"""One set of pins: the Makefile, Binder and the declared dependencies agree.

constraints.txt is the tested version of every package; binder/requirements.txt is the
learner's share of the same lines; every third-party module the package, the scripts,
the tests or the notebooks import comes from a declared dependency.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))
import pins  # noqa: E402

SOURCES = ("k8snet_lesson", "scripts", "tests", "notebooks/src", "benchmarks")


def _lines(path: Path) -> list[str]:
    return [line for line in path.read_text(encoding="utf-8").splitlines() if line and not line.startswith("#")]


def test_binder_pins_are_lines_of_the_constraints():
    constraints = set(_lines(ROOT / "constraints.txt"))
    binder = _lines(ROOT / "binder" / "requirements.txt")
    assert binder, "binder/requirements.txt pins nothing"
    assert [line for line in binder if line not in constraints] == []


def test_binder_pins_are_what_the_script_writes():
    done = subprocess.run([sys.executable, str(ROOT / "scripts" / "pins.py"), "--check"], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


def test_the_learner_share_holds_the_kernel_and_lab_but_no_test_tool():
    names = {pins.canonical(line.split("==")[0]) for line in _lines(ROOT / "binder" / "requirements.txt")}
    assert {"jupyterlab", "ipykernel", "ipywidgets", "numpy", "pyyaml", "scapy"} <= names
    assert not names & {"pytest", "hypothesis", "playwright", "nbval", "jupytext", "scipy"}


def test_the_makefile_installs_with_the_constraints():
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    assert "--constraint constraints.txt" in makefile
    assert "'.[course,lab]'" in makefile and "'.[course,lab,test,browser,site]'" in makefile


def test_the_test_environment_is_the_pinned_one():
    pinned = pins.pins((ROOT / "constraints.txt").read_text(encoding="utf-8"))
    drift = []
    for name, line in pinned.items():
        try:
            installed = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue  # a platform-only package (or one no extra here needs)
        if line.split("==", 1)[1] != installed:
            drift.append(f"{line} (installed {installed})")
    assert drift == [], "run make test again: the venv predates constraints.txt"


def _third_party_imports() -> dict[str, str]:
    """``top-level module -> first file importing it`` for modules outside the stdlib and the repo."""
    local = {p.stem for folder in SOURCES for p in (ROOT / folder).rglob("*.py")} | {"k8snet_lesson", "conftest"}
    local |= {p.name for p in (ROOT / "tests").rglob("*") if p.is_dir()}
    found: dict[str, str] = {}
    for folder in SOURCES:
        for path in sorted((ROOT / folder).rglob("*.py")):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if isinstance(node, ast.Import):
                    names = [alias.name for alias in node.names]
                elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    names = [node.module]
                else:
                    continue
                for name in names:
                    top = name.split(".")[0]
                    if top in sys.stdlib_module_names or top in local:
                        continue
                    found.setdefault(top, str(path.relative_to(ROOT)))
    return found


def test_every_imported_package_is_declared():
    """Directly, in the core or an extra: not merely brought along by another package."""
    project = pins.tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    lines = project["dependencies"] + [line for extra in project["optional-dependencies"].values() for line in extra]
    declared = {pins.canonical(pins.Requirement(line).name) for line in lines}
    providers = metadata.packages_distributions()
    undeclared = []
    for module, where in sorted(_third_party_imports().items()):
        dists = {pins.canonical(d) for d in providers.get(module, [])}
        if not dists & declared:
            undeclared.append(f"{module} ({where}): from {sorted(dists) or 'nothing installed'}")
    assert undeclared == []
    assert "scipy" not in declared
