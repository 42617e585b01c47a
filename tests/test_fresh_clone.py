"""The newcomer's path: clone the repository, type what the README says, and it works.

The commands are read out of README.md itself (the ``make ...`` lines of the
fenced block under its set-up heading), so this breaks when the README drifts
from the Makefile. Each check starts from a fresh ``git clone`` of the committed
HEAD, with no ``.venv``:

- the README's test command runs the whole suite there and passes. The nested
  run gets ``K8SNET_NESTED=1``: this module skips itself in it (no recursion),
  and the browser tests skip too (the outer suite runs them; they would double
  the time);
- the README's lab command, given
  ``LAB_ARGS='--no-browser --port=N --ServerApp.token=T'``, starts JupyterLab,
  which lists the course's notebooks (``/api/contents/notebooks``, or the root
  when the server's root is ``notebooks/`` itself); then its process group is
  stopped by the PID held here.

Both are timed from the cold start (venv creation and install included) and
reported with the venv's size, on stdout (``pytest -s``) and in
``build/fresh-clone-report.txt``. Packages come from pip's usual configuration
and cache on this machine; Jupyter, IPython and matplotlib write to private
directories of the test.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        bool(os.environ.get("K8SNET_NESTED")),
        reason="K8SNET_NESTED is set: this is the nested run inside a fresh clone (no recursion)",
    ),
]

CHECKOUT = Path(__file__).resolve().parents[1]
REPORT = CHECKOUT / "build" / "fresh-clone-report.txt"
TEST_TIMEOUT_S = 30 * 60
LAB_TIMEOUT_S = 10 * 60
TOKEN = "k8snet-fresh-clone"


def readme_setup_commands(readme: str) -> list[str]:
    """The ``make`` lines of the first fenced block after the README's set-up heading, comments dropped.

    >>> readme_setup_commands("# x\\n## Set up\\n\\n```\\nmake lab   # go\\nmake test\\n```\\n")
    ['make lab', 'make test']
    """
    heading = re.search(r"^#+\s*set[ -]?up\b.*$", readme, re.I | re.M)
    if heading is None:
        raise AssertionError("README.md has no set-up heading")
    block = re.search(r"^```[^\n]*\n(.*?)^```", readme[heading.end():], re.S | re.M)
    if block is None:
        raise AssertionError("README.md's set-up section has no fenced command block")
    commands = [line.split("#", 1)[0].strip() for line in block.group(1).splitlines()]
    return [command for command in commands if command.startswith("make")]


def readme_command(readme: str, target: str) -> list[str]:
    """The README's ``make <target>`` command as argv.

    >>> readme_command("## Set up\\n```\\nmake lab\\nmake test  # all\\n```\\n", "test")
    ['make', 'test']
    """
    for command in readme_setup_commands(readme):
        argv = shlex.split(command)
        if target in argv[1:]:
            return argv
    raise AssertionError(f"README.md's set-up block has no `make {target}` line")


def clone(destination: Path) -> Path:
    """A fresh clone of the checkout's committed HEAD; skips while HEAD has no notebooks to run or list."""
    subprocess.run(
        ["git", "clone", "--quiet", "--no-hardlinks", str(CHECKOUT), str(destination)],
        check=True,
        capture_output=True,
        timeout=120,
    )
    assert not (destination / ".venv").exists()
    if not any((destination / "notebooks").glob("*.ipynb")):
        pytest.skip("HEAD has no notebooks/*.ipynb committed yet: the course's path cannot be walked")
    return destination


def clean_environment(private: Path) -> dict[str, str]:
    """This environment minus the outer venv, with Jupyter/IPython/matplotlib dirs under ``private``."""
    outer_venv = Path(sys.prefix)
    path = [p for p in os.environ.get("PATH", "").split(os.pathsep) if p and not Path(p).is_relative_to(outer_venv)]
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("JUPYTER", "JPY_", "PYTEST", "VIRTUAL_ENV", "PYTHONPATH", "K8SNET_"))
    }
    env["PATH"] = os.pathsep.join(path)
    for key, name in [
        ("JUPYTER_CONFIG_DIR", "jupyter-config"),
        ("JUPYTER_DATA_DIR", "jupyter-data"),
        ("JUPYTER_RUNTIME_DIR", "jupyter-runtime"),
        ("IPYTHONDIR", "ipython"),
        ("MPLCONFIGDIR", "matplotlib"),
    ]:
        (private / name).mkdir(parents=True, exist_ok=True)
        env[key] = str(private / name)
    env["K8SNET_NESTED"] = "1"
    return env


def directory_size(path: Path) -> int:
    return sum(p.lstat().st_size for p in path.rglob("*") if p.is_file() and not p.is_symlink())


def report(line: str) -> None:
    print(line)
    REPORT.parent.mkdir(parents=True, exist_ok=True)
    with REPORT.open("a") as out:
        out.write(line + "\n")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def lab_contents(port: int, path: str) -> dict:
    """GET /api/contents/<path> from the JupyterLab on ``port``, with the token."""
    url = f"http://127.0.0.1:{port}/api/contents/{path}?token={TOKEN}"
    with urllib.request.urlopen(url, timeout=10) as response:
        return json.load(response)


def stop_group(process: subprocess.Popen) -> None:
    """Terminate the process group led by ``process`` (make, jupyter and their children)."""
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            pass
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    process.wait(timeout=20)


@pytest.fixture(scope="module")
def readme() -> str:
    REPORT.unlink(missing_ok=True)  # the report holds this run's timings only
    return (CHECKOUT / "README.md").read_text(encoding="utf-8")


def test_readme_test_command_passes_in_a_fresh_clone(readme, tmp_path):
    command = readme_command(readme, "test")
    repo = clone(tmp_path / "k8snet-lesson")
    log = tmp_path / "make-test.log"
    start = time.monotonic()
    with log.open("wb") as out:
        result = subprocess.run(
            command,
            cwd=repo,
            env=clean_environment(tmp_path / "private"),
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            timeout=TEST_TIMEOUT_S,
        )
    elapsed = time.monotonic() - start
    output = log.read_text(errors="replace")
    summaries = re.findall(r"^=+ (.*(?:passed|failed|error).*) =+$", output, re.M)
    venv_mb = directory_size(repo / ".venv") / 1e6 if (repo / ".venv").exists() else 0.0
    report(
        f"fresh clone: `{shlex.join(command)}` exited {result.returncode} after {elapsed:.0f} s from a cold start "
        f"(venv {venv_mb:.0f} MB); pytest: {' | '.join(summaries) or 'no summary'}"
    )
    assert result.returncode == 0, f"`{shlex.join(command)}` failed in a fresh clone:\n{output[-6000:]}"
    # "10 xfailed" is an expected failure, not a failed test: count words, not substrings.
    bad = re.compile(r"\b\d+ (?:failed|errors?)\b")
    assert summaries and not any(bad.search(s) for s in summaries), summaries
    assert any("passed" in s for s in summaries), summaries


def test_readme_lab_command_serves_the_course(readme, tmp_path):
    port = free_port()
    command = readme_command(readme, "lab") + [f"LAB_ARGS=--no-browser --port={port} --ServerApp.token={TOKEN}"]
    repo = clone(tmp_path / "k8snet-lesson")
    expected = sorted(p.name for p in (repo / "notebooks").glob("*.ipynb"))
    log = tmp_path / "make-lab.log"
    start = time.monotonic()
    with log.open("wb") as out:
        process = subprocess.Popen(
            command,
            cwd=repo,
            env=clean_environment(tmp_path / "private"),
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        while True:
            if process.poll() is not None:
                pytest.fail(f"`{shlex.join(command)}` exited {process.returncode}:\n{log.read_text()[-6000:]}")
            if time.monotonic() - start > LAB_TIMEOUT_S:
                pytest.fail(f"nothing answered on port {port} in {LAB_TIMEOUT_S} s:\n{log.read_text()[-6000:]}")
            try:
                root = lab_contents(port, "")
                break
            except (urllib.error.URLError, ConnectionError, TimeoutError) as error:
                if isinstance(error, urllib.error.HTTPError):
                    pytest.fail(f"JupyterLab answered {error.code} for /api/contents: {error.reason}")
                time.sleep(0.5)
        elapsed = time.monotonic() - start
        # `jupyter lab <file>` serves the file's directory as the root unless told otherwise:
        # the course's notebooks are listed either at the root or under notebooks/.
        entries = {item["name"]: item["type"] for item in root["content"]}
        if entries.get("notebooks") == "directory":
            where, listing = "notebooks/", lab_contents(port, "notebooks")
        else:
            where, listing = "the root (the server serves notebooks/)", root
        listed = sorted(item["name"] for item in listing["content"] if item["type"] == "notebook")
        venv_mb = directory_size(repo / ".venv") / 1e6
        report(
            f"fresh clone: `{shlex.join(command)}` answered on port {port} after {elapsed:.0f} s from a cold start "
            f"(venv {venv_mb:.0f} MB), listing {len(listed)} notebooks at {where}"
        )
        assert listed == expected
    finally:
        stop_group(process)
    assert process.poll() is not None
