"""The lab leaves the host as it found it: after a run, after a run killed with SIGKILL
midway, after `up`/`down`, and after the lab's own PID 1 is killed.

Each test snapshots the root namespace (links, addresses, routes, iptables-nft-save and
iptables-legacy-save, forwarding sysctls, `ip netns list`) before and after, and checks
that no process mentioning the run's prefix survives.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

from k8snet_lesson.lab.sandbox import processes_with
from k8snet_lesson.lab.state import host_lab_namespaces

pytestmark = pytest.mark.lab

K8SNET = [sys.executable, "-c", "import sys; from k8snet_lesson.cli import main; sys.exit(main(sys.argv[1:]))"]


def _gone(prefix: str, timeout: float = 10.0) -> tuple[int, ...]:
    deadline = time.monotonic() + timeout
    while (left := processes_with(prefix)) and time.monotonic() < deadline:
        time.sleep(0.05)
    return left


def _wait_for(stream, text: str, timeout: float = 60.0) -> list[str]:
    """Read lines from ``stream`` until one contains ``text``."""
    seen = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = stream.readline()
        if not line:
            break
        seen.append(line)
        if text in line:
            return seen
    raise AssertionError(f"never saw {text!r}; got {seen!r}")


def test_a_run_killed_midway_leaves_nothing(state_dir, snapshot):
    prefix = "k8snet-killed1-"
    before = snapshot()
    process = subprocess.Popen(
        [*K8SNET, "netlab", "run", "--prefix", prefix],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "K8SNET_LAB_STATE_DIR": str(state_dir)},
    )
    try:
        _wait_for(process.stderr, f"built {prefix}")
        assert processes_with(prefix), "the lab should be running now"
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=10)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert _gone(prefix) == ()
    assert host_lab_namespaces() == ()
    assert snapshot() == before


def test_up_then_down_leaves_nothing(state_dir, snapshot):
    before = snapshot()
    env = {**os.environ, "K8SNET_LAB_STATE_DIR": str(state_dir)}
    up = subprocess.run([*K8SNET, "netlab", "up", "--scenario", "two-node", "--ttl", "120"], capture_output=True, text=True, env=env)
    assert up.returncode == 0, up.stderr
    prefix = up.stdout.split()[1]
    try:
        status = subprocess.run([*K8SNET, "netlab", "status"], capture_output=True, text=True, env=env)
        assert status.returncode == 0 and f"lab {prefix} is up" in status.stdout
        answer = subprocess.run(
            [*K8SNET, "netlab", "exec", "checkout-api-6f8b9d-k8m2w", "--", "curl", "-sS", "http://10.96.214.88/health"],
            capture_output=True, text=True, env=env,
        )  # fmt: skip
        # the lesson's flow: Pod A -> the Service -> Pod B, which sees Pod A's own IP
        assert '"peer": "10.244.1.5"' in answer.stdout and '"pod": "payment-api-7d9c4b-h5t9r"' in answer.stdout
    finally:
        down = subprocess.run([*K8SNET, "netlab", "down"], capture_output=True, text=True, env=env)
    assert down.returncode == 0 and f"stopped lab {prefix}" in down.stdout
    assert not (state_dir / "netlab.json").exists()
    assert _gone(prefix) == ()
    assert snapshot() == before


def test_killing_the_labs_pid_1_takes_everything_with_it(state_dir, snapshot):
    from k8snet_lesson.lab.state import load

    before = snapshot()
    env = {**os.environ, "K8SNET_LAB_STATE_DIR": str(state_dir)}
    up = subprocess.run([*K8SNET, "netlab", "up", "--scenario", "two-node", "--ttl", "120"], capture_output=True, text=True, env=env)
    assert up.returncode == 0, up.stderr
    recorded = load()  # the state_dir fixture points K8SNET_LAB_STATE_DIR here
    assert recorded is not None
    os.kill(recorded.pid, signal.SIGKILL)
    assert _gone(recorded.prefix) == ()
    status = subprocess.run([*K8SNET, "netlab", "status"], capture_output=True, text=True, env=env)
    assert status.returncode == 1 and "not running" in status.stdout
    down = subprocess.run([*K8SNET, "netlab", "down"], capture_output=True, text=True, env=env)
    assert down.returncode == 0 and "no longer running" in down.stdout
    assert snapshot() == before


def test_teardown_leaves_no_namespace_and_the_legacy_backend_stays_inside(snapshot):
    """The two-node flow on iptables-legacy: the rules live in the lab's node namespaces
    only (the root's legacy tables stay as they were), and teardown leaves no process in
    any of the lab's network namespaces."""
    from k8snet_lesson.lab.kernel import build
    from k8snet_lesson.lab.run import rules_agree, scenario

    before = snapshot()
    lab = build(scenario("two-node").cluster, backend="legacy")
    try:
        header = lab.save("node-1").splitlines()[0]
        assert header.startswith("# Generated by iptables-save v1.8.9 on") and "nf_tables" not in header
        assert all(check.agree for check in rules_agree(lab))
        inodes = dict(lab.netns_inodes)
        assert len(inodes) == len(lab.topology.namespaces) == 1 + 2 + 3
    finally:
        left = lab.teardown()
    assert left.clean, left
    in_use = set()
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                in_use.add(os.stat(f"/proc/{entry}/ns/net").st_ino)
            except OSError:
                pass
    assert not in_use & set(inodes.values())
    assert snapshot() == before


def test_a_full_run_agrees_and_leaves_nothing(state_dir, snapshot, tmp_path):
    """`k8snet netlab run` end to end: the kernel agrees with the model (exit 0), the
    capture is written as a pcap Wireshark and scapy read, and the host is unchanged."""
    prefix = "k8snet-fullrun1-"
    before = snapshot()
    pcap = tmp_path / "vxlan.pcap"
    done = subprocess.run(
        [*K8SNET, "netlab", "run", "--prefix", prefix, "--pcap", str(pcap), "--quiet"],
        capture_output=True, text=True, timeout=300,
        env={**os.environ, "K8SNET_LAB_STATE_DIR": str(state_dir)},
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.rstrip().endswith("Verdict: the kernel agrees with the model")
    assert "chi-square" in done.stdout and "overhead 50 bytes per frame; flannel.1 MTU 1450" in done.stdout
    from scapy.layers.inet import UDP
    from scapy.layers.l2 import Ether  # registers LINKTYPE_ETHERNET for rdpcap
    from scapy.utils import rdpcap

    frames = rdpcap(str(pcap))
    assert len(frames) >= 3 and all(Ether in f and UDP in f and f[UDP].dport == 8472 for f in frames)
    assert _gone(prefix) == ()
    assert host_lab_namespaces() == ()
    assert snapshot() == before
