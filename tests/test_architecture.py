"""The layering of ARCHITECTURE.md, held by a test.

A module imports only its own layer or lower ones; the core imports no plotting,
widget, notebook, packet or YAML library at import time (they are imported inside
the functions that need them), so ``import k8snet_lesson`` stays fast and works
without the course extras.
"""

import ast
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "k8snet_lesson"

# As in docs/architecture.md. Two rooms moved from the first plan: `cni` holds the CNI
# ADD and packet paths besides the profiles, so it sits with the analysis; `scenarios`
# reads the lesson's manifests, so it sits at the edge with `manifests`. `view.kubectl`
# renders text only (kubectl's printers) and the ladder prints it, so it sits with the
# analysis too; the rest of `view` (plots, widgets, diagrams) is the edge. `quiz` builds its items on
# the lesson's cluster (`scenarios`), so it sits beside it.
LAYERS = {
    1: {"errors", "resources", "ipam", "cluster", "_speed"},
    2: {"endpoints", "kube_proxy", "iptables"},
    3: {"explain", "trace", "simulate", "connect", "dns", "walk", "frames", "netshoot", "faults", "ladder",
        "networking_model", "distribution", "cni", "view.kubectl", "churn", "client_ip", "nftables",
        "drift"},
    4: {"classroom", "predictions", "glossary", "discrepancies"},
    5: {"manifests", "scenarios", "quiz", "view", "cli", "lab"},
}
LAYER_OF = {name: level for level, names in LAYERS.items() for name in names}
HEAVY = ("matplotlib", "ipywidgets", "IPython", "pandas", "networkx", "scapy", "pyroute2", "yaml")


def _name(parts) -> str:
    """The layer map's name for a module: ``view.kubectl`` is its own room, other sub-packages are one."""
    for end in range(len(parts), 0, -1):
        dotted = ".".join(parts[:end])
        if dotted in LAYER_OF:
            return dotted
    return parts[0]


def _modules():
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(PACKAGE)
        parts = [*rel.parts[:-1], rel.parts[-1].removesuffix(".py")]
        if parts == ["__init__"]:
            continue
        yield path, _name([p for p in parts if p != "__init__"])


def test_every_module_has_a_layer():
    missing = sorted({top for _, top in _modules()} - set(LAYER_OF))
    assert not missing, f"modules without a layer in ARCHITECTURE: {missing}"


def _imported_siblings(path: Path, top: str):
    """Every package module ``path`` imports, at import time or inside a function."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = list(path.relative_to(PACKAGE).parts[:-1])
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.level:
            base = package[: len(package) - (node.level - 1)] if node.level > 1 else package
            if node.level - 1 > len(package):
                continue
            parts = base + (node.module.split(".") if node.module else [])
            if node.module:
                yield _name(parts), node
            for alias in node.names:
                if not node.module or _name(parts + [alias.name]) != _name(parts):
                    yield _name(parts + [alias.name]), node
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("k8snet_lesson."):
            yield _name(node.module.split(".")[1:]), node


@pytest.mark.parametrize("path, top", list(_modules()), ids=lambda v: str(v).rsplit("k8snet_lesson/", 1)[-1])
def test_imports_go_down_the_layers(path, top):
    level = LAYER_OF[top]
    for name, node in _imported_siblings(path, top):
        if name not in LAYER_OF or name == top or (name == "view" and top.startswith("view")):
            continue
        assert LAYER_OF[name] <= level, (
            f"{path.name}:{node.lineno} (layer {level}) imports {name} (layer {LAYER_OF[name]})"
        )


def test_the_core_imports_no_heavy_library():
    core = sorted(name for name, level in LAYER_OF.items() if level <= 4)
    code = (
        "import sys\n"
        + "".join(f"import k8snet_lesson.{name}\n" for name in core)
        + f"print(','.join(m for m in {HEAVY!r} if m in sys.modules))"
    )
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert loaded == "", f"importing the core loaded {loaded}"
