"""The course after a plain ``pip install``: the wheel carries its data.

The wheel is built from the files a wheel is made of (no checkout around it), installed
in a fresh virtual environment, and used from a folder outside any checkout: the
lesson's cluster, its rules, the quiz, the glossary and the CNI profiles load from the
installed package, and ``k8snet rules lesson`` prints what the checkout prints.
It installs numpy and PyYAML from the package index with the pinned versions.
"""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import sys
import zipfile
from contextlib import redirect_stdout
from pathlib import Path

import pytest

from k8snet_lesson.cli import main

ROOT = Path(__file__).resolve().parent.parent
BUILD_INPUTS = ("pyproject.toml", "setup.py", "README.md", "LICENSE", "k8snet_lesson", "data")

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(bool(os.environ.get("K8SNET_NESTED")), reason="nested run inside the fresh-clone check"),
]


def _run(argv, **kw):
    done = subprocess.run(argv, capture_output=True, text=True, **kw)
    assert done.returncode == 0, f"{' '.join(map(str, argv))} failed ({done.returncode}):\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return done


def build_wheel(into: Path) -> Path:
    """The course's wheel, built from a copy of only what the build reads."""
    source = into / "source"
    source.mkdir(parents=True)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for name in BUILD_INPUTS:
        (shutil.copytree if (ROOT / name).is_dir() else shutil.copy2)(ROOT / name, source / name, **(
            {"ignore": ignore} if (ROOT / name).is_dir() else {}))
    _run([sys.executable, "-m", "pip", "wheel", "--quiet", "--disable-pip-version-check", "--no-deps",
          "--wheel-dir", str(into / "dist"), str(source)], timeout=600)
    (wheel,) = (into / "dist").glob("k8snet_lesson-*.whl")
    return wheel


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    return build_wheel(tmp_path_factory.mktemp("wheel"))


def test_the_wheel_carries_every_data_file_and_the_license(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    expected = {f"k8snet_lesson/data/{p.relative_to(ROOT / 'data').as_posix()}"
                for p in (ROOT / "data").rglob("*") if p.is_file()}
    assert expected - names == set()
    assert any(n.endswith(".dist-info/licenses/LICENSE") for n in names)
    metadata = zipfile.ZipFile(wheel).read(next(n for n in names if n.endswith(".dist-info/METADATA"))).decode()
    assert "License-Expression: Apache-2.0" in metadata


INSTALLED_CHECK = """
import sys
from pathlib import Path
import k8snet_lesson
from k8snet_lesson import cni, glossary, quiz
from k8snet_lesson.kube_proxy import rules_for
from k8snet_lesson.iptables import to_restore
from k8snet_lesson.resources import DATA_DIR
from k8snet_lesson.scenarios import lesson_cluster, two_node_flow

assert Path(k8snet_lesson.__file__).is_relative_to(sys.prefix), k8snet_lesson.__file__
assert DATA_DIR == Path(k8snet_lesson.__file__).parent / "data", DATA_DIR
cluster = lesson_cluster()
print(len(cluster.pods), len(two_node_flow().pods), len(quiz.questions()), len(glossary.terms()),
      len(cni.profiles()))
sys.stdout.write(to_restore(rules_for(cluster, "node-eu-west-1a")))
"""


def test_an_installed_wheel_runs_the_course_outside_any_checkout(wheel, tmp_path):
    venv = tmp_path / "venv"
    _run([sys.executable, "-m", "venv", str(venv)])
    python, k8snet = venv / "bin" / "python", venv / "bin" / "k8snet"
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH")}
    _run([str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
          "--constraint", str(ROOT / "constraints.txt"), str(wheel)], env=env, timeout=600)
    away = tmp_path / "elsewhere"
    away.mkdir()

    done = _run([str(python), "-c", INSTALLED_CHECK], cwd=away, env=env)
    counts, rules = done.stdout.split("\n", 1)
    from k8snet_lesson import cni, glossary, quiz
    from k8snet_lesson.scenarios import lesson_cluster, two_node_flow

    assert counts.split() == [str(n) for n in (len(lesson_cluster().pods), len(two_node_flow().pods),
                                               len(quiz.questions()), len(glossary.terms()), len(cni.profiles()))]

    # The command on the packaged cluster prints byte for byte what the checkout prints.
    here = io.StringIO()
    with redirect_stdout(here):
        assert main(["rules", str(ROOT / "data" / "lesson-cluster.yaml"), "--node", "node-eu-west-1a"]) == 0
    assert rules == here.getvalue()
    installed = _run([str(k8snet), "rules", "lesson", "--node", "node-eu-west-1a"], cwd=away, env=env).stdout
    assert installed == here.getvalue()
    assert "-A KUBE-SERVICES" in installed and "checkout-api-svc" in installed

    # A name that is neither a file nor a packaged cluster is one clear error.
    done = subprocess.run([str(k8snet), "rules", "lessons", "--node", "x"], cwd=away, env=env, capture_output=True, text=True)
    assert done.returncode == 2 and done.stderr.startswith("k8snet rules: error: lessons:") and "Traceback" not in done.stderr
