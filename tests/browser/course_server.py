"""A private JupyterLab server serving copies of the course's notebooks, for browser tests.

Everything the server or its kernels could write lands in one throwaway
directory: HOME, the Jupyter config/data/runtime dirs, IPython's and
matplotlib's dirs, TMPDIR, the workspaces and user settings. The served tree
holds copies of the notebooks (and of ``data/``, for notebooks that read it by a
relative path), so a test that runs or saves a notebook never touches the
checkout. The user settings switch off what would reach the network or open a
dialog: the news feed, update checks, the extension manager's index, the
"Select Kernel" dialog (``autoStartDefaultKernel``); ``windowingMode: "none"``
keeps every cell in the DOM so outputs can be read and screenshotted.

The server is started as the leader of its own process group and stopped by
the PID held here: terminate, wait, kill (its kernels go with the group).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path

TOKEN = "k8snet-browser-tests"

# Settings ids and keys as the installed JupyterLab's schemas spell them
# (share/jupyter/lab/schemas/<package>/<plugin>.json).
USER_SETTINGS = {
    "@jupyterlab/apputils-extension/notification": {
        "fetchNews": "false",
        "checkForUpdates": False,
    },
    "@jupyterlab/notebook-extension/tracker": {
        "windowingMode": "none",
        "autoStartDefaultKernel": True,
    },
    "@jupyterlab/docmanager-extension/plugin": {
        "autosave": False,
    },
    "@jupyterlab/extensionmanager-extension/plugin": {
        "enabled": False,
    },
}

SERVER_CONFIG = """\
c.LabApp.news_url = None
c.LabApp.check_for_updates_class = "jupyterlab.handlers.announcements.NeverCheckForUpdate"
c.LabApp.extension_manager = "readonly"
c.LabApp.expose_app_in_browser = True
c.ServerApp.open_browser = False
c.ServerApp.port_retries = 0
"""


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def private_environment(base: Path) -> dict[str, str]:
    """The environment of a server whose every writable directory lies under ``base``."""
    dirs = {
        "HOME": base / "home",
        "JUPYTER_CONFIG_DIR": base / "config",
        "JUPYTER_DATA_DIR": base / "data",
        "JUPYTER_RUNTIME_DIR": base / "runtime",
        "IPYTHONDIR": base / "ipython",
        "MPLCONFIGDIR": base / "matplotlib",
        "TMPDIR": base / "tmp",
        "JUPYTERLAB_SETTINGS_DIR": base / "config" / "lab" / "user-settings",
        "JUPYTERLAB_WORKSPACES_DIR": base / "workspaces",
    }
    for path in dirs.values():
        path.mkdir(parents=True, exist_ok=True)
    env = {key: value for key, value in os.environ.items() if not key.startswith(("JUPYTER", "JPY_"))}
    env.update({key: str(path) for key, path in dirs.items()})
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    env["MPLBACKEND"] = "module://matplotlib_inline.backend_inline"
    return env


def write_user_settings(settings_dir: Path) -> None:
    for plugin, values in USER_SETTINGS.items():
        path = settings_dir / f"{plugin}.jupyterlab-settings"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(values, indent=2))


def copy_course(checkout: Path, root: Path, notebooks: list[Path]) -> None:
    """Lay out ``root`` like the checkout: ``notebooks/`` (copies) beside ``data/`` (a copy)."""
    (root / "notebooks").mkdir(parents=True, exist_ok=True)
    for notebook in notebooks:
        shutil.copy2(notebook, root / "notebooks" / notebook.name)
    if (checkout / "data").is_dir():
        shutil.copytree(checkout / "data", root / "data", dirs_exist_ok=True)


@dataclass
class CourseServer:
    """A running ``jupyter lab`` and how to reach it."""

    process: subprocess.Popen
    port: int
    root: Path
    log: Path
    token: str = TOKEN

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def api(self, method: str, path: str, body: object | None = None) -> object:
        """One REST call with the token; returns the decoded JSON body (or None)."""
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(
            f"{self.url}/api/{path}",
            data=data,
            method=method,
            headers={"Authorization": f"token {self.token}", "Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            text = response.read()
        return json.loads(text) if text else None

    def delete_sessions(self, path: str) -> None:
        """Shut down the kernel sessions of the notebook at ``path``, so it next opens on a fresh kernel."""
        for session in self.api("GET", "sessions"):
            if session["path"] == path:
                self.api("DELETE", f"sessions/{session['id']}")

    def stop(self) -> None:
        """Terminate the server's process group; kill it if it lingers."""
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=15)
        # Kernels left behind in the group (the server was killed before it could stop them).
        try:
            os.killpg(self.process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def start(base: Path, checkout: Path, notebooks: list[Path], *, startup_timeout: float = 60.0) -> CourseServer:
    """Start ``jupyter lab`` over copies of ``notebooks``; return once its REST API answers."""
    env = private_environment(base)
    write_user_settings(Path(env["JUPYTERLAB_SETTINGS_DIR"]))
    (Path(env["JUPYTER_CONFIG_DIR"]) / "jupyter_server_config.py").write_text(SERVER_CONFIG)
    root = base / "served"
    copy_course(checkout, root, notebooks)
    log = base / "jupyter-lab.log"
    port = free_port()
    command = [
        sys.executable,
        "-m",
        "jupyter",
        "lab",
        "--no-browser",
        "--ServerApp.ip=127.0.0.1",
        f"--ServerApp.port={port}",
        f"--IdentityProvider.token={TOKEN}",
        f"--ServerApp.root_dir={root}",
        f"--LabApp.workspaces_dir={env['JUPYTERLAB_WORKSPACES_DIR']}",
        f"--LabApp.user_settings_dir={env['JUPYTERLAB_SETTINGS_DIR']}",
    ]
    if os.geteuid() == 0:
        command.append("--allow-root")
    with open(log, "wb") as log_file:
        process = subprocess.Popen(
            command,
            cwd=root,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    server = CourseServer(process=process, port=port, root=root, log=log)
    deadline = time.monotonic() + startup_timeout
    while True:
        if process.poll() is not None:
            raise RuntimeError(f"jupyter lab exited with {process.returncode}; see {log}:\n{log.read_text()[-3000:]}")
        try:
            server.api("GET", "status")
            return server
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            if time.monotonic() > deadline:
                server.stop()
                raise RuntimeError(f"jupyter lab did not answer on port {port} in {startup_timeout:.0f} s; see {log}")
            time.sleep(0.2)
