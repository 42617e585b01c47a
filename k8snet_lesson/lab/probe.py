"""Can the kernel lab run here? A probe that asks the kernel, not the user id.

Root in a default container lacks CAP_SYS_ADMIN and fails at the first mount; a
rootless user may have both capabilities inside a user namespace. So the probe reads
the effective capability set (``CapEff`` in ``/proc/self/status``); without
CAP_NET_ADMIN and CAP_SYS_ADMIN it asks whether unprivileged user namespaces are
allowed (then the lab runs rootless, inside a user namespace of its own). It looks for
the tools the lab calls, and finally starts a trial sandbox (private mount, PID and
network namespaces), creates a trial network namespace inside it and deletes it
again. The trial touches nothing outside its own sandbox.

    >>> Probe(False, "not Linux").ok
    False
"""

from __future__ import annotations

import dataclasses
import shutil
import sys
from pathlib import Path

__all__ = ["Probe", "probe", "TOOLS", "TOOLS_PACKAGES", "CAP_NET_ADMIN", "CAP_SYS_ADMIN", "effective_capabilities",
           "has_admin_capabilities", "missing_tools", "user_namespaces"]

CAP_NET_ADMIN = 12
CAP_SYS_ADMIN = 21
# What the lab runs: iproute2, iptables, conntrack, a DNS server and the ladder's tools.
TOOLS = ("ip", "bridge", "iptables-restore", "iptables-save", "conntrack", "dnsmasq", "nslookup", "curl", "ss",
         "unshare", "nsenter", "mount", "sysctl")  # fmt: skip
TOOLS_PACKAGES = "iproute2 iptables conntrack dnsmasq bind9-dnsutils curl util-linux procps"


@dataclasses.dataclass(frozen=True)
class Probe:
    """The probe's answer: ``ok``, or the ``reason`` the lab cannot run.

    ``rootless`` means the lab runs without CAP_NET_ADMIN/CAP_SYS_ADMIN here, inside a user
    namespace of its own (``unshare --user --map-root-user``), which gives it both.
    """

    ok: bool
    reason: str = ""
    rootless: bool = False

    def __bool__(self) -> bool:
        return self.ok


def effective_capabilities(status: str | None = None) -> int:
    """The ``CapEff`` bit mask of this process (from ``/proc/self/status`` text).

    >>> hex(effective_capabilities("Name:\\tpython\\nCapEff:\\t000001fffeffffff\\n"))
    '0x1fffeffffff'
    """
    if status is None:
        status = Path("/proc/self/status").read_text()
    for line in status.splitlines():
        if line.startswith("CapEff:"):
            return int(line.split()[1], 16)
    return 0


def probe(*, trial: bool = True) -> Probe:
    """Check platform, capabilities, tools and (with ``trial``) a real namespace round trip."""
    if not sys.platform.startswith("linux"):
        return Probe(False, f"the kernel lab needs Linux network namespaces; this is {sys.platform}")
    try:
        caps = effective_capabilities()
    except OSError as exc:
        return Probe(False, f"cannot read /proc/self/status: {exc}")
    missing_caps = [name for bit, name in ((CAP_NET_ADMIN, "CAP_NET_ADMIN"), (CAP_SYS_ADMIN, "CAP_SYS_ADMIN"))
                    if not caps >> bit & 1]  # fmt: skip
    rootless = False
    if missing_caps:
        if not user_namespaces():
            return Probe(False, f"the kernel lab needs {' and '.join(missing_caps)} (CapEff is {caps:#x}), or "
                                "unprivileged user namespaces: run as root with full capabilities, e.g. a "
                                "privileged container")  # fmt: skip
        rootless = True
    missing = missing_tools()
    if missing:
        return Probe(False, f"tools not installed: {', '.join(missing)} (Debian: {TOOLS_PACKAGES})")
    if not trial:
        return Probe(True, "", rootless)
    from .sandbox import LabCommandError, Sandbox

    try:
        with Sandbox.start(ttl=60, rootless=rootless) as sandbox:
            name = f"{sandbox.prefix}probe"
            sandbox.run(["ip", "netns", "add", name], timeout=10)
            sandbox.run(["ip", "netns", "exec", name, "ip", "link", "set", "lo", "up"], timeout=10)
            sandbox.run(["ip", "netns", "del", name], timeout=10)
    except (LabCommandError, OSError) as exc:
        return Probe(False, f"a trial network namespace failed: {exc}", rootless)
    return Probe(True, "", rootless)


def missing_tools() -> list[str]:
    """The lab's tools (``TOOLS``) that are not installed here, in ``TOOLS``' order."""
    return [tool for tool in TOOLS if shutil.which(tool, path=_PATH) is None]


def has_admin_capabilities() -> bool:
    """Whether this process holds CAP_NET_ADMIN and CAP_SYS_ADMIN (so no user namespace is needed)."""
    try:
        caps = effective_capabilities()
    except OSError:
        return False
    return bool(caps >> CAP_NET_ADMIN & 1 and caps >> CAP_SYS_ADMIN & 1)


def user_namespaces() -> bool:
    """Whether this process may make a user namespace that grants it a mount and network namespace."""
    import subprocess

    try:
        done = subprocess.run(["unshare", "--user", "--map-root-user", "--mount", "--net", "true"],
                              capture_output=True, timeout=10)  # fmt: skip
    except (OSError, subprocess.TimeoutExpired):
        return False
    return done.returncode == 0


_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
