"""The notebooks as committed: executed, clean, and free of networking logic of their own.

nbval (``make test``) re-runs them; these checks cover what nbval cannot see: a
notebook saved without outputs passes nbval vacuously, and a notebook that defines
its own model would teach something the library does not test.
"""

import ast
import json
import re
from pathlib import Path

import pytest

NOTEBOOKS = sorted((Path(__file__).resolve().parent.parent / "notebooks").glob("[0-9][0-9]_*.ipynb"))
SOURCES = Path(__file__).resolve().parent.parent / "notebooks" / "src"


def _code_cells(path):
    cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
    return [c for c in cells if c["cell_type"] == "code" and "".join(c["source"]).strip()]


def test_the_series_is_complete():
    names = [p.stem[:2] for p in NOTEBOOKS]
    assert names == [f"{i:02d}" for i in range(len(names))] and len(names) >= 9, names


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_committed_executed_in_order_without_errors(path):
    cells = _code_cells(path)
    counts = [c["execution_count"] for c in cells]
    assert all(isinstance(n, int) for n in counts), f"{path.name}: a code cell was never executed"
    assert counts == sorted(counts), f"{path.name}: cells were executed out of order"
    for cell in cells:
        for output in cell["outputs"]:
            assert output["output_type"] != "error", f"{path.name}: saved error {output.get('ename')}"
            if output["output_type"] == "stream":
                assert output["name"] == "stdout", f"{path.name}: saved stderr output: {''.join(output['text'])[:200]}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_outputs_hold_no_machine_paths_addresses_or_timings(path):
    for cell in _code_cells(path):
        for output in cell["outputs"]:
            data = dict(output.get("data", {}))
            data.pop("image/png", None)
            text = json.dumps(data) + "".join(output.get("text", []))
            assert not re.search(r"/(work|tmp|root|home)/", text), f"{path.name}: machine path in an output"
            assert not re.search(r" at 0x[0-9a-f]{6,}", text), f"{path.name}: memory address in an output"
            assert not re.search(r"\b\d+(\.\d+)? ?(ms|µs|seconds)\b elapsed", text), f"{path.name}: a timing"


# Names a notebook may define: none that model networking. A notebook that needs a
# helper puts it in the library, with a test.
_MODEL_WORDS = re.compile(
    r"ip|cidr|subnet|route|rule|chain|iptables|probab|share|endpoint|service|pod|node|packet|dnat|nat|dns|"
    r"resolve|connect|cni|veth|bridge|vxlan|encap|alloc|ipam|slice|proxy|hop|walk|ladder|fault|climb|"
    r"network|port|trace|simulat|spread",
    re.IGNORECASE,
)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebooks_define_no_networking_logic(path):
    for cell in _code_cells(path):
        source = "".join(cell["source"])
        source = "\n".join(line for line in source.splitlines() if not line.lstrip().startswith(("%", "!")))
        tree = ast.parse(source)
        for node in ast.walk(tree):
            if isinstance(node, ast.ClassDef):
                pytest.fail(f"{path.name}: defines class {node.name}; models live in k8snet_lesson")
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and _MODEL_WORDS.search(node.name):
                pytest.fail(f"{path.name}: defines {node.name}(); networking logic belongs in k8snet_lesson")
            if isinstance(node, ast.Lambda) and _MODEL_WORDS.search(ast.unparse(node)):
                pytest.fail(f"{path.name}: a lambda computes networking ({ast.unparse(node)[:60]})")


def test_the_ast_check_catches_a_notebook_model(tmp_path):
    notebook = {"cells": [{"cell_type": "code", "source": ["def pod_ip_for(node):\n", "    return node\n"],
                           "outputs": [], "execution_count": 1, "metadata": {}}]}
    bad = tmp_path / "99_bad.ipynb"
    bad.write_text(json.dumps(notebook))
    with pytest.raises(pytest.fail.Exception, match="pod_ip_for"):
        test_notebooks_define_no_networking_logic(bad)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_every_notebook_has_a_source_and_says_what_you_will_do(path):
    assert (SOURCES / f"{path.stem}.py").exists(), f"{path.name} has no source in notebooks/src"
    first = json.loads(path.read_text(encoding="utf-8"))["cells"][0]
    assert first["cell_type"] == "markdown" and "What you will be able to do" in "".join(first["source"])
