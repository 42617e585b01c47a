"""Kernel lab fixtures: the probe (tests skip with its reason), one lab per module,
and a snapshot of everything the lab promises never to touch in the root namespace."""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path

import pytest

from k8snet_lesson.lab.kernel import build
from k8snet_lesson.lab.probe import Probe, probe
from k8snet_lesson.lab.run import scenario


@pytest.fixture(autouse=True)
def _skip_without_lab(request, lab_probe_lazy):
    if request.node.get_closest_marker("lab") is not None:
        found = lab_probe_lazy()
        if not found.ok:
            pytest.skip(f"kernel lab unavailable: {found.reason}")


@pytest.fixture(scope="session")
def lab_probe_lazy():
    """The probe, run once and only if a lab test runs (it starts a trial sandbox)."""
    cache: list[Probe] = []

    def get() -> Probe:
        if not cache:
            cache.append(probe())
        return cache[0]

    return get


@pytest.fixture
def state_dir(tmp_path, monkeypatch) -> Path:
    """A private state directory, so tests never see or remove a user's `netlab up` lab."""
    path = tmp_path / "netlab-state"
    monkeypatch.setenv("K8SNET_LAB_STATE_DIR", str(path))
    return path


# --- the root namespace, as the lab must leave it ------------------------------------------

_COUNTERS = re.compile(r"\[\d+:\d+\]")
FORWARDING_SYSCTLS = (
    "net/ipv4/ip_forward",
    "net/ipv4/conf/all/forwarding",
    "net/ipv4/conf/default/forwarding",
    "net/ipv6/conf/all/forwarding",
    "net/ipv4/conf/all/rp_filter",
    "net/ipv4/icmp_ratelimit",
    "net/ipv4/icmp_msgs_per_sec",
    "net/bridge/bridge-nf-call-iptables",
    "net/ipv6/conf/all/disable_ipv6",
)


def _run(*argv: str) -> str:
    done = subprocess.run(argv, capture_output=True, text=True)
    return done.stdout if done.returncode == 0 else f"exit {done.returncode}: {done.stderr.strip()}"


def _json(*argv: str, drop: tuple[str, ...] = ()) -> object:
    text = _run(*argv)
    try:
        value = json.loads(text or "[]")
    except ValueError:
        return text

    def clean(item):
        if isinstance(item, dict):
            return {k: clean(v) for k, v in item.items() if k not in drop}
        if isinstance(item, list):
            return [clean(v) for v in item]
        return item

    return clean(value)


def _firewall(tool: str) -> str:
    lines = _run(tool).splitlines()
    return "\n".join(_COUNTERS.sub("[counters]", line) for line in lines if not line.startswith("#"))


def root_snapshot() -> dict[str, object]:
    """The root namespace's links, addresses, routes, firewall (both backends), forwarding
    sysctls and named network namespaces, without the counters and lifetimes that change
    by themselves."""
    snapshot: dict[str, object] = {
        "links": _json("ip", "-j", "link", "show", drop=("stats", "stats64")),
        "addresses": _json("ip", "-j", "addr", "show", drop=("valid_life_time", "preferred_life_time")),
        "routes": _json("ip", "-j", "route", "show", "table", "all", drop=("expires",)),
        "routes6": _json("ip", "-6", "-j", "route", "show", "table", "all", drop=("expires",)),
        "rules": _run("ip", "rule", "show"),
        "iptables-nft": _firewall("iptables-nft-save"),
        "iptables-legacy": _firewall("iptables-legacy-save"),
        "netns": _run("ip", "netns", "list"),
    }
    for name in FORWARDING_SYSCTLS:
        try:
            snapshot[name] = Path("/proc/sys", name).read_text().strip()
        except OSError as exc:
            snapshot[name] = f"unreadable: {exc.strerror}"
    return snapshot


@pytest.fixture
def snapshot():
    """The function that takes a root-namespace snapshot (call it before and after)."""
    return root_snapshot


@pytest.fixture(scope="session")
def without_lab() -> list[str]:
    """An argv prefix under which the lab cannot run: a user namespace of its own that
    forbids further user namespaces, with CAP_NET_ADMIN and CAP_SYS_ADMIN dropped (a
    container without them, as a process sees it)."""
    import shutil

    if os.geteuid() != 0 or not shutil.which("setpriv") or not shutil.which("unshare"):
        pytest.skip("taking the lab away needs root, unshare and setpriv")
    prefix = [
        "unshare", "--user", "--map-root-user", "sh", "-c",
        'echo 0 > /proc/sys/user/max_user_namespaces && exec setpriv --bounding-set -net_admin,-sys_admin '
        '--inh-caps -net_admin,-sys_admin -- "$@"',
        "sh",
    ]  # fmt: skip
    if subprocess.run([*prefix, "true"], capture_output=True).returncode != 0:
        pytest.skip("user namespaces are not allowed here")
    return prefix


# The lesson's cluster built once per test module, torn down clean after it (a module
# that needs more around the build, like a snapshot of the root namespace, defines its own).
@pytest.fixture(scope="module")
def lesson():
    return scenario("lesson")


@pytest.fixture(scope="module")
def lab(lesson, lab_probe_lazy):
    found = lab_probe_lazy()
    if not found.ok:
        pytest.skip(f"kernel lab unavailable: {found.reason}")
    built = build(lesson.cluster)
    yield built
    assert built.teardown().clean
