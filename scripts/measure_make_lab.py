"""Measure a learner's `make lab`: cold (no .venv) and warm, until the server answers.

Clones the repository's committed HEAD into a scratch folder, runs `make lab` there
headless on a free port, and times it until JupyterLab's ``/api`` answers; then stops
the server (by the process group it started) and reports the venv's size. The second
run finds the venv installed, so it times JupyterLab's start alone.

    python scripts/measure_make_lab.py            # prints a table; --json for JSON

Cold here still uses pip's cache of downloaded files, if any; a first install on a new
machine also downloads about 100 MB.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TIMEOUT = 900.0


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def answers(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/api", timeout=2) as response:
            return response.status == 200
    except OSError:
        return False


def size_of(folder: Path) -> int:
    return sum(p.lstat().st_size for p in folder.rglob("*") if not p.is_symlink() and p.is_file())


def make_lab(checkout: Path, log: Path) -> float:
    """Seconds from `make lab` to the server answering; the server is stopped after."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH")}
    env["JUPYTER_RUNTIME_DIR"] = str(checkout / "build" / "jupyter-runtime")
    start = time.monotonic()
    with open(log, "ab") as out:
        process = subprocess.Popen(
            ["make", "lab", f"LAB_ARGS=--no-browser --port={port} --ServerApp.port_retries=0"],
            cwd=checkout, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        while not answers(port):
            if process.poll() is not None:
                raise SystemExit(f"make lab exited with {process.returncode} before serving; see {log}")
            if time.monotonic() - start > TIMEOUT:
                raise SystemExit(f"make lab did not serve within {TIMEOUT:.0f} s; see {log}")
            time.sleep(0.2)
        return time.monotonic() - start
    finally:
        os.killpg(process.pid, signal.SIGTERM)  # the group make leads: make and jupyter
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def main(argv: list[str]) -> int:
    with tempfile.TemporaryDirectory(prefix="measure-make-lab-") as scratch:
        checkout = Path(scratch) / "k8snet-lesson"
        subprocess.run(["git", "clone", "--quiet", "--no-hardlinks", str(ROOT), str(checkout)], check=True)
        log = Path(scratch) / "make-lab.log"
        cold = make_lab(checkout, log)
        warm = make_lab(checkout, log)
        venv = size_of(checkout / ".venv")
    result = {"cold_s": round(cold, 1), "warm_s": round(warm, 1), "venv_mb": round(venv / 1e6)}
    if "--json" in argv:
        print(json.dumps(result))
    else:
        print(f"make lab, cold (no .venv): {result['cold_s']} s until the server answers")
        print(f"make lab, warm:            {result['warm_s']} s")
        print(f".venv after make lab:      {result['venv_mb']} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
