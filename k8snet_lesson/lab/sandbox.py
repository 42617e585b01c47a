"""The lab's sandbox: one child process whose private namespaces hold the whole lab.

:meth:`Sandbox.start` runs ``unshare --mount --pid --net --fork --kill-child
--mount-proc`` with :mod:`~k8snet_lesson.lab.programs`' ``init`` as PID 1 of the new
PID namespace. Inside it ``/run`` is a tmpfs, so the names ``ip netns add`` gives lab
namespaces (``/run/netns/<name>``) exist in this mount namespace only, and ``/etc`` is
an overlay, so ``/etc/netns/<name>/resolv.conf`` never reaches the host's ``/etc``. The
sandbox's own network namespace is empty and private: a command that forgot to name a
lab namespace changes nothing outside.

Lifetime, made safe by the kernel rather than by care: when the lab's PID 1 exits, the
kernel kills every process in its PID namespace (servers, dnsmasq, captures, commands in
flight); then nothing holds the mount namespace, its netns bind mounts go, and with them
every lab network namespace, veth, bridge, VXLAN device, route and iptables rule. PID 1
exits when its controller dies (EOF on the pipe it holds, even after ``kill -9``), when
told to stop (SIGTERM), or when its time to live runs out. ``--kill-child`` kills PID 1
if ``unshare`` itself is killed.

Commands run as ``nsenter -t <PID 1> -m -p -n -- [ip netns exec <name>] argv`` (never
``setns`` on one of this process's threads), so they too are inside the lab's PID
namespace and die with it.
"""

from __future__ import annotations

import dataclasses
import json
import os
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from ..errors import K8snetError
from .topology import check_prefix

__all__ = ["Sandbox", "LabCommandError", "new_prefix", "PROGRAMS", "process_start_time", "processes_with"]

PROGRAMS = Path(__file__).resolve().parent / "programs.py"
_ENV = {"PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "LC_ALL": "C", "LANG": "C"}


class LabCommandError(K8snetError, RuntimeError):
    """A command inside the lab failed; the message names it, where it ran and what it said."""


def new_prefix() -> str:
    """A fresh run prefix, ``k8snet-`` and 6 random hex digits and ``-``."""
    return f"k8snet-{secrets.token_hex(3)}-"


def process_start_time(pid: int) -> int | None:
    """The start time of ``pid`` in clock ticks since boot (``/proc/PID/stat`` field 22), or None."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return int(stat.rpartition(")")[2].split()[19])


def _cmdline(pid: int) -> list[str]:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace").split("\0")
    except OSError:
        return []


def processes_with(prefix: str) -> tuple[int, ...]:
    """Host PIDs of the processes whose command line mentions the run ``prefix``.

    Every process the lab starts carries the prefix (``--lab PREFIX`` or a namespace
    name), which is how a test proves a run left none behind.
    """
    check_prefix(prefix)
    me = os.getpid()
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and int(entry.name) != me:
            if any(prefix in word for word in _cmdline(int(entry.name))):
                found.append(int(entry.name))
    return tuple(sorted(found))


@dataclasses.dataclass
class Sandbox:
    """A running lab sandbox: the host PID of its PID 1 and the run prefix.

    It is a handle on a process (mutable by nature: it can stop); everything the lab
    builds lives inside it.
    """

    prefix: str
    pid: int
    start_time: int | None = None
    etc_netns: bool = True
    detached: bool = False
    rootless: bool = False  # in a user namespace of its own (no CAP_NET_ADMIN/CAP_SYS_ADMIN outside)
    _process: subprocess.Popen | None = dataclasses.field(default=None, repr=False)

    # --- life -------------------------------------------------------------------
    @classmethod
    def start(
        cls, prefix: str | None = None, *, detach: bool = False, ttl: float = 3 * 3600, rootless: bool | None = None
    ) -> Sandbox:
        """Start a sandbox. Attached (default): it dies with this process. Detached: it
        outlives it (``k8snet netlab up``) until :meth:`stop` or ``ttl`` seconds.
        ``rootless`` (default: when this process lacks CAP_NET_ADMIN/CAP_SYS_ADMIN) adds a
        user namespace that maps this user to root inside."""
        from .probe import has_admin_capabilities

        prefix = check_prefix(prefix or new_prefix())
        if rootless is None:
            rootless = not has_admin_capabilities()
        user = ["--user", "--map-root-user"] if rootless else []
        argv = [
            "unshare", *user, "--mount", "--pid", "--net", "--fork", "--kill-child", "--mount-proc",
            "--propagation", "private",
            sys.executable, "-I", "-S", str(PROGRAMS), "init", "--lab", prefix, "--ttl", str(ttl),
        ]  # fmt: skip
        if detach:
            argv.append("--detach")
        process = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL if detach else subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=_ENV,
            start_new_session=detach,
            cwd="/",
        )
        line = process.stdout.readline()  # type: ignore[union-attr]
        try:
            ready = json.loads(line) if line else {}
        except ValueError:
            ready = {"error": line.decode(errors="replace").strip()}
        if not ready.get("ready"):
            process.kill()
            _, err = process.communicate(timeout=5)
            reason = ready.get("error") or err.decode(errors="replace").strip() or "no answer"
            raise LabCommandError(f"the lab sandbox did not start: {reason}")
        init_pid = _child_of(process.pid)
        if detach:
            process.stdout.close()  # type: ignore[union-attr]
            process.stderr.close()  # type: ignore[union-attr]
        return cls(
            prefix=prefix,
            pid=init_pid,
            start_time=process_start_time(init_pid),
            etc_netns=bool(ready.get("etc_netns")),
            detached=detach,
            rootless=rootless,
            _process=process,
        )

    @classmethod
    def attach(cls, prefix: str, pid: int, start_time: int | None, *, rootless: bool = False) -> Sandbox:
        """A handle on a running (detached) sandbox; refuses a PID that is not that sandbox."""
        sandbox = cls(prefix=check_prefix(prefix), pid=pid, start_time=start_time, detached=True, rootless=rootless)
        if not sandbox.alive:
            raise LabCommandError(f"no lab {prefix} is running as PID {pid}")
        sandbox.etc_netns = sandbox.run(["test", "-d", "/etc/netns"], check=False).returncode == 0
        return sandbox

    @property
    def alive(self) -> bool:
        """Whether PID ``pid`` is still this sandbox's PID 1 (same start time, same prefix)."""
        if process_start_time(self.pid) != self.start_time or self.start_time is None:
            return False
        words = _cmdline(self.pid)
        return "init" in words and self.prefix in words

    def stop(self, timeout: float = 10.0) -> None:
        """Stop PID 1 (SIGTERM, then SIGKILL); the kernel then removes everything inside."""
        if self._process is not None and self._process.stdin:
            try:
                self._process.stdin.close()  # EOF: init exits by itself
            except OSError:
                pass
        if self.alive:
            try:
                os.kill(self.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
        deadline = time.monotonic() + timeout
        while self.alive and time.monotonic() < deadline:
            time.sleep(0.02)
        if self.alive:
            os.kill(self.pid, signal.SIGKILL)
            while self.alive and time.monotonic() < deadline + 5:
                time.sleep(0.02)
        if self._process is not None:
            try:
                self._process.wait(timeout=5)
            except subprocess.TimeoutExpired:  # pragma: no cover - unshare always follows its child
                self._process.kill()
            for stream in (self._process.stdout, self._process.stderr):
                if stream and not stream.closed:
                    stream.close()

    # --- commands ---------------------------------------------------------------
    def argv(self, argv: Sequence[str], netns: str | None = None) -> list[str]:
        """The host command line that runs ``argv`` inside the lab (in namespace ``netns``)."""
        inner = ["ip", "netns", "exec", netns, *argv] if netns else list(argv)
        # as root of the lab's user namespace: this user is mapped to it, so keep the credentials
        user = ["-U", "--preserve-credentials"] if self.rootless else []
        return ["nsenter", "-t", str(self.pid), *user, "-m", "-p", "-n", "--", *inner]

    def run(
        self,
        argv: Sequence[str],
        *,
        netns: str | None = None,
        input: str | bytes | None = None,
        timeout: float = 60.0,
        check: bool = True,
        text: bool = True,
    ) -> subprocess.CompletedProcess:
        """Run a command inside the lab and wait for it; ``check`` raises LabCommandError."""
        if isinstance(input, str) and not text:
            input = input.encode()
        try:
            done = subprocess.run(
                self.argv(argv, netns),
                input=input,
                capture_output=True,
                timeout=timeout,
                text=text,
                env=_ENV,
                cwd="/",
            )
        except subprocess.TimeoutExpired as exc:
            raise LabCommandError(f"{_show(argv, netns)}: no answer after {timeout:g} s") from exc
        if check and done.returncode != 0:
            said = (done.stderr if text else done.stderr.decode(errors="replace")).strip()
            raise LabCommandError(f"{_show(argv, netns)}: exit status {done.returncode}: {said or 'no message'}")
        return done

    def popen(self, argv: Sequence[str], *, netns: str | None = None) -> subprocess.Popen:
        """Start a command inside the lab without waiting (a capture): stdout and stderr piped."""
        return subprocess.Popen(
            self.argv(argv, netns), stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=_ENV, cwd="/"
        )

    def program(self, command: str, *args: str) -> list[str]:
        """The argv of one of :mod:`programs`' commands, tagged with this run's prefix."""
        return [sys.executable, "-I", "-S", str(PROGRAMS), command, "--lab", self.prefix, *args]

    def kill(self, pid: int, sig: int = signal.SIGTERM) -> None:
        """Signal a process the lab started, by its PID inside the lab's PID namespace."""
        self.run(["kill", f"-{int(sig)}", str(int(pid))], check=False)

    def __enter__(self) -> Sandbox:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _show(argv: Sequence[str], netns: str | None) -> str:
    where = f" in {netns}" if netns else ""
    words = [Path(w).name if w in (sys.executable, str(PROGRAMS)) else w for w in argv]
    return f"`{' '.join(words[:8])}{' ...' if len(words) > 8 else ''}`{where}"


def _child_of(pid: int, timeout: float = 5.0) -> int:
    """The PID of ``unshare``'s forked child (the lab's PID 1), from /proc."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
        except OSError:
            children = []
        if children:
            return int(children[0])
        time.sleep(0.005)
    raise LabCommandError(f"the lab sandbox (unshare PID {pid}) has no child")
