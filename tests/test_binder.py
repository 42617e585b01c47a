"""Binder's build, reproduced: a fresh virtual environment from ``binder/requirements.txt``,
then ``binder/postBuild``, then every notebook executed there.

This is what repo2docker does with the ``binder/`` folder (minus the container), so a
pin that does not install, a postBuild that fails, or a notebook that needs a package
the pins leave out breaks here, not in front of a class. It installs from the package
index, so it is slow (about a minute and a half here); it is skipped inside the
fresh-clone check's nested run, which already builds a venv of its own.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(bool(os.environ.get("K8SNET_NESTED")), reason="nested run inside the fresh-clone check"),
    pytest.mark.skipif(shutil.which("git") is None, reason="git is needed to copy the committed repository"),
]


def _run(argv, **kw):
    done = subprocess.run(argv, capture_output=True, text=True, **kw)
    assert done.returncode == 0, f"{' '.join(map(str, argv))} failed ({done.returncode}):\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return done


def test_binder_requirements_and_postbuild_run_every_notebook(tmp_path):
    checkout = tmp_path / "repo"
    _run(["git", "clone", "--quiet", "--no-hardlinks", str(ROOT), str(checkout)])
    venv = tmp_path / "binder-venv"
    _run([sys.executable, "-m", "venv", str(venv)])
    python = venv / "bin" / "python"
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH")}
    env["PATH"] = f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    env["HOME"] = str(tmp_path / "home")
    env["MPLCONFIGDIR"] = str(tmp_path / "mpl")
    env["JUPYTER_CONFIG_DIR"] = str(tmp_path / "jupyter-config")
    env["JUPYTER_DATA_DIR"] = str(tmp_path / "jupyter-data")
    env["JUPYTER_RUNTIME_DIR"] = str(tmp_path / "jupyter-runtime")
    env["IPYTHONDIR"] = str(tmp_path / "ipython")
    _run([str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "-r",
          str(checkout / "binder" / "requirements.txt")], env=env, timeout=1200)
    _run(["bash", str(checkout / "binder" / "postBuild")], cwd=checkout, env=env, timeout=600)

    # The package comes from the clone, and nothing beyond the pins was needed to import it.
    where = _run([str(python), "-c", "import k8snet_lesson; print(k8snet_lesson.__file__)"], cwd=tmp_path, env=env).stdout
    assert Path(where.strip()).is_relative_to(checkout)

    notebooks = sorted((checkout / "notebooks").glob("[0-9][0-9]_*.ipynb"))
    assert len(notebooks) >= 9
    out = tmp_path / "executed"
    _run([str(python), "-m", "nbconvert", "--to", "notebook", "--execute", "--output-dir", str(out),
          "--ExecutePreprocessor.timeout=600", *map(str, notebooks)], cwd=checkout / "notebooks", env=env, timeout=1800)
    assert sorted(p.name for p in out.glob("*.ipynb")) == [p.name for p in notebooks]
