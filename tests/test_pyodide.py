"""The course under Pyodide (the Python of JupyterLite), in Node, against CPython.

The Pyodide core comes from the npm registry's ``pyodide`` package (installed once into
``build/node``). Its packages (numpy and the rest) are not part of it, so the run also
shows that the core imports without numpy. The course's wheel is unpacked into it, with
pure-Python copies of PyYAML and scapy from this environment; then
``tests/pyodide/lesson.py`` runs there and under CPython, and the two outputs must be the
same bytes: the lesson's rules on every node, an explained dump, a packet walk and the
CNI frames (whose scapy IPv6 layers need a fallback without IPv6 sockets).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from test_wheel import build_wheel

ROOT = Path(__file__).resolve().parent.parent
HERE = Path(__file__).resolve().parent / "pyodide"
PYODIDE_VERSION = "314.0.7"  # the npm package; Python 3.14 inside
NODE_DIR = ROOT / "build" / "node"

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(bool(os.environ.get("K8SNET_NESTED")), reason="nested run inside the fresh-clone check"),
]


@pytest.fixture(scope="module")
def pyodide_dir() -> Path:
    for tool in ("node", "npm"):
        if shutil.which(tool) is None:
            pytest.skip(f"{tool} is not installed (Debian: nodejs npm): the Pyodide test needs it")
    installed = NODE_DIR / "node_modules" / "pyodide"
    package = installed / "package.json"
    if not package.exists() or f'"version": "{PYODIDE_VERSION}"' not in package.read_text():
        NODE_DIR.mkdir(parents=True, exist_ok=True)
        done = subprocess.run(["npm", "install", "--no-audit", "--no-fund", "--no-save", "--prefix", str(NODE_DIR),
                               f"pyodide@{PYODIDE_VERSION}"], capture_output=True, text=True, timeout=600)
        if done.returncode != 0:
            pytest.skip(f"npm could not install pyodide@{PYODIDE_VERSION}: {done.stderr.strip()[-300:]}")
    return installed


def _pure_packages(into: Path) -> Path:
    """A zip of the pure-Python parts of PyYAML and scapy, as installed here."""
    import scapy
    import yaml

    archive = into / "pure-python.zip"
    with zipfile.ZipFile(archive, "w") as out:
        for module in (yaml, scapy):
            root = Path(module.__file__).parent
            for path in root.rglob("*.py"):
                out.write(path, f"{root.name}/{path.relative_to(root)}")
    return archive


def test_pyodide_reproduces_the_lesson_byte_for_byte(pyodide_dir, tmp_path):
    wheel = build_wheel(tmp_path / "wheel")
    script = HERE / "lesson.py"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}  # the checkout the wheel was built from
    ours = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, cwd=tmp_path, env=env, timeout=300)
    assert ours.returncode == 0, ours.stderr
    theirs = subprocess.run(["node", str(HERE / "run.mjs"), str(pyodide_dir), str(script), str(wheel),
                             str(_pure_packages(tmp_path))], capture_output=True, text=True, cwd=tmp_path, timeout=600)
    assert theirs.returncode == 0, theirs.stderr[-3000:]
    assert theirs.stderr == ""  # no warning reaches a learner (scapy's are kept out)
    assert "-A KUBE-SVC-" in ours.stdout and "### aws-vpc" in ours.stdout
    assert theirs.stdout == ours.stdout


IPV6_DISABLED = """
import socket, sys
socket.has_ipv6 = False
real = socket.inet_pton
def inet_pton(family, text):
    if family == socket.AF_INET6:
        raise OSError("can't use AF_INET6, IPv6 is disabled")
    return real(family, text)
socket.inet_pton = inet_pton
from k8snet_lesson import frames
from k8snet_lesson.cni import profiles
print([frames.encapsulation_overhead(name) for name in profiles()])
assert socket.has_ipv6 is False and socket.inet_pton is inet_pton  # put back after the import
"""


def test_frames_encode_where_python_has_no_ipv6_sockets():
    """Pyodide's socket module, imitated: scapy's IPv6 layers still load, frames still encode."""
    from k8snet_lesson import frames
    from k8snet_lesson.cni import profiles

    done = subprocess.run([sys.executable, "-c", IPV6_DISABLED], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == str([frames.encapsulation_overhead(name) for name in profiles()])
    assert "IPv6" not in done.stderr
