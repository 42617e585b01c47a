"""`k8snet netlab` where it cannot run, and with bad input: one clear line, exit status 2."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import pytest

from k8snet_lesson.lab.probe import TOOLS_PACKAGES, Probe, effective_capabilities, missing_tools, probe

MAIN = "import sys; from k8snet_lesson.cli import main; sys.exit(main(sys.argv[1:]))"
PROBE = "from k8snet_lesson.lab.probe import probe; print(probe())"


DROP_CAPS = ["setpriv", "--bounding-set", "-net_admin,-sys_admin", "--inh-caps", "-net_admin,-sys_admin", "--"]


def k8snet(*args: str, env: dict | None = None, under: list[str] = ()) -> subprocess.CompletedProcess:
    argv = [*under, sys.executable, "-c", MAIN, *args]
    return subprocess.run(argv, capture_output=True, text=True, env=env or os.environ.copy(), timeout=120)


needs_root_and_setpriv = pytest.mark.skipif(
    os.geteuid() != 0 or shutil.which("setpriv") is None, reason="dropping capabilities needs root and setpriv"
)


@pytest.mark.parametrize(
    "cap_eff, ok",
    [
        ("000001fffeffffff", True),  # this machine: everything but CAP_SYS_RESOURCE
        ("000001fffedfefff", False),  # CAP_NET_ADMIN (12) and CAP_SYS_ADMIN (21) dropped
        ("00000000a80425fb", False),  # Docker's default set for root in a container
    ],
)
def test_capability_bits(cap_eff, ok):
    caps = effective_capabilities(f"Name:\tpython\nCapEff:\t{cap_eff}\n")
    assert bool(caps >> 12 & 1 and caps >> 21 & 1) is ok


def test_probe_names_the_missing_capabilities(without_lab):
    done = subprocess.run([*without_lab, sys.executable, "-c", PROBE], capture_output=True, text=True, timeout=60)
    assert done.stdout.startswith(
        "Probe(ok=False, reason='the kernel lab needs CAP_NET_ADMIN and CAP_SYS_ADMIN (CapEff is 0x"
    ), done.stdout + done.stderr
    assert "), or unprivileged user namespaces: run as root with full capabilities" in done.stdout


@needs_root_and_setpriv
def test_without_the_capabilities_but_with_user_namespaces_the_lab_goes_rootless():
    from k8snet_lesson.lab.probe import user_namespaces

    if not user_namespaces():
        pytest.skip("user namespaces are not allowed here")
    if missing := missing_tools():
        pytest.skip(f"tools not installed: {', '.join(missing)} (Debian: {TOOLS_PACKAGES})")
    done = subprocess.run([*DROP_CAPS, sys.executable, "-c", PROBE], capture_output=True, text=True, timeout=60)
    assert done.stdout == "Probe(ok=True, reason='', rootless=True)\n", done.stderr


@pytest.mark.parametrize("subcommand", [("run",), ("up",)])
def test_cli_without_the_lab_exits_2_with_the_reason(subcommand, state_dir, without_lab):
    env = {**os.environ, "K8SNET_LAB_STATE_DIR": str(state_dir)}
    try:
        done = k8snet("netlab", *subcommand, env=env, under=without_lab)
    finally:
        k8snet("netlab", "down", env=env)  # had `up` started a lab after all, it must not outlive the test
    assert done.returncode == 2, done.stdout + done.stderr
    assert done.stderr.startswith("k8snet netlab: error: the kernel lab needs CAP_NET_ADMIN and CAP_SYS_ADMIN")
    assert "Traceback" not in done.stderr and done.stderr.count("\n") == 1


@pytest.mark.parametrize(
    "args, message",
    [
        (("run", "--prefix", "prod-"), "lab prefix 'prod-' is not of the form k8snet-<1-12 of a-z 0-9>-"),
        (("run", "--manifest", "x.yaml"), "--manifest needs --service NAMESPACE/NAME"),
        (("run", "--service", "production/checkout-api-svc"), "--service and --client go with --manifest"),
        (("exec", "debug-pod", "--", "true"), "no lab is running (start one with `k8snet netlab up`)"),
        (("exec", "debug-pod"), "give a command after --"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(args, message, state_dir):
    done = k8snet("netlab", *args, env={**os.environ, "K8SNET_LAB_STATE_DIR": str(state_dir)})
    assert done.returncode == 2, done
    assert done.stderr.startswith("k8snet netlab: error: ") and message in done.stderr
    assert "Traceback" not in done.stderr


def test_status_and_down_without_a_lab(state_dir):
    env = {**os.environ, "K8SNET_LAB_STATE_DIR": str(state_dir)}
    assert k8snet("netlab", "status", env=env).stdout == "no lab is running\n"
    assert k8snet("netlab", "down", env=env).stdout == "no lab was running\n"


def test_a_broken_state_file_is_named(state_dir):
    state_dir.mkdir(parents=True)
    (state_dir / "netlab.json").write_text("{not json")
    done = k8snet("netlab", "status", env={**os.environ, "K8SNET_LAB_STATE_DIR": str(state_dir)})
    assert done.returncode == 2 and f"{state_dir / 'netlab.json'}: not a lab state file" in done.stderr


def test_probe_value():
    assert Probe(True).ok and not Probe(False, "why").ok and Probe(False, "why").reason == "why"
    assert isinstance(probe(trial=False), Probe)
