"""The hidden setup cell every built notebook gets: it installs the package only where it
is missing (Colab, JupyterLite), and says so.

A small notebook is built and executed with scripts/build_notebooks.py into a scratch
folder (the course's notebooks are not rebuilt here); the cell's two install branches
run in a child interpreter where the package cannot be imported until "installed".
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))
import build_notebooks  # noqa: E402

SOURCE = '''\
# %% [markdown]
# # 99 · A scratch notebook
#
# - see the setup cell stay quiet

# %%
from k8snet_lesson.scenarios import lesson_cluster
print(len(lesson_cluster().pods))
'''


@pytest.mark.slow
def test_a_built_notebook_has_a_quiet_hidden_setup_cell_before_its_code(tmp_path, monkeypatch):
    source = tmp_path / "src" / "99_scratch.py"
    source.parent.mkdir()
    source.write_text(SOURCE, encoding="utf-8")
    monkeypatch.setattr(build_notebooks, "OUT", tmp_path)  # the course's notebooks stay as they are
    nb = nbformat.read(build_notebooks.build(source), as_version=4)
    kinds = [(c.cell_type, c.metadata.get("tags", [])) for c in nb.cells]
    assert kinds == [("markdown", []), ("code", ["setup"]), ("code", [])]
    setup = nb.cells[1]
    assert setup.metadata["jupyter"]["source_hidden"] is True
    assert setup.outputs == []  # installed here: nothing to do, nothing said
    assert nb.cells[2].outputs[0]["text"].strip().isdigit()
    # Rebuilding from a source that holds the cell already (a JupyterLab pair) keeps one.
    assert len(build_notebooks.with_setup(nb.cells)) == len(nb.cells)
    # The course's notebook checks accept it (it awaits at top level, as a cell may).
    import test_notebooks

    built = tmp_path / "99_scratch.ipynb"
    test_notebooks.test_notebooks_define_no_networking_logic(built)
    test_notebooks.test_committed_executed_in_order_without_errors(built)
    test_notebooks.test_outputs_hold_no_machine_paths_addresses_or_timings(built)


CHILD = textwrap.dedent('''
    import ast, asyncio, importlib.abc, sys, types
    platform, setup = sys.argv[1], sys.stdin.read()
    calls = []

    class Missing(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path=None, target=None):
            if name == "k8snet_lesson":
                raise ModuleNotFoundError(f"No module named {name!r}", name=name)

    blocker = Missing()
    sys.meta_path.insert(0, blocker)

    def installed(*args):
        calls.append(args)
        sys.meta_path.remove(blocker)

    class Shell:
        def run_line_magic(self, magic, line):
            installed(magic, line)

    async def install(names):
        installed("piplite", names)

    sys.modules["piplite"] = types.SimpleNamespace(install=install)
    sys.platform = platform
    code = compile(setup, "<setup>", "exec", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT)
    result = eval(code, {"get_ipython": Shell})
    if result is not None:
        asyncio.run(result)
    print(repr(calls))
''')


@pytest.mark.parametrize("platform, call", [
    ("linux", "('pip', \"install --quiet scapy 'k8snet-lesson @ git+https://github.com/k8snet-lesson/k8snet-lesson'\")"),
    ("emscripten", f"('piplite', {build_notebooks.LITE_PACKAGES!r})"),
])
def test_where_the_package_is_missing_the_cell_installs_it_and_says_so(platform, call):
    done = subprocess.run([sys.executable, "-c", CHILD, platform], input=build_notebooks.SETUP,
                          capture_output=True, text=True, cwd=ROOT / "tests")
    assert done.returncode == 0, done.stderr
    said, calls = done.stdout.strip().splitlines()
    assert said.startswith("Installed the course's package, k8snet-lesson ") and said.endswith("for this session.")
    assert calls == f"[{call}]"
