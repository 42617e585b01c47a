"""The lab without root: inside a user namespace of its own (``unshare --user --map-root-user``).

As root, a rootless lab is forced with ``rootless=True``; as an unprivileged user (uid
65534, where this machine lets that user run Python and read the package), the probe
itself chooses it. Either way the kernel must agree with the model as it does for root.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from k8snet_lesson.lab.probe import user_namespaces

pytestmark = pytest.mark.lab

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = """
import json
from k8snet_lesson.lab import checks, probe
from k8snet_lesson.lab.kernel import build
from k8snet_lesson.lab.ladder import check_fault
from k8snet_lesson.lab.run import scenario
found = probe()
flow = scenario("two-node")
lab = build(flow.cluster)
try:
    spread = checks.spread(lab, flow.client, flow.service, 300)
    fault = check_fault(lab, "bound-to-localhost", client=flow.client, service=flow.service)
    dns = lab.in_pod(flow.client, ["nslookup", "payment-api-svc"]).stdout
    out = {"rootless": found.rootless and lab.sandbox.rootless, "counts": spread.client_counts == spread.kernel_counts,
           "answered": sum(spread.client_counts), "fault": fault.agree, "dns": "Address: 10.96.214.88" in dns}
finally:
    out["clean"] = lab.teardown().clean
print(json.dumps(out))
"""


def test_a_rootless_lab_as_root_agrees_with_the_model():
    from k8snet_lesson.lab import checks
    from k8snet_lesson.lab.kernel import build
    from k8snet_lesson.lab.run import rules_agree, scenario

    if not user_namespaces():
        pytest.skip("user namespaces are not allowed here")
    flow = scenario("two-node")
    lab = build(flow.cluster, rootless=True)
    try:
        assert lab.sandbox.rootless
        assert all(check.agree for check in rules_agree(lab))
        spread = checks.spread(lab, flow.client, flow.service, 300)
        assert spread.client_counts == spread.kernel_counts == (300,)
    finally:
        assert lab.teardown().clean


def _python_for_nobody() -> tuple[list[str], dict] | None:
    """A Python that uid 65534 can run with this package and its dependencies importable."""
    paths = [str(ROOT)] + [p for p in sys.path if p.endswith("site-packages")]
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": "/tmp", "PYTHONPATH": os.pathsep.join(paths)}
    drop = ["setpriv", "--reuid", "65534", "--regid", "65534", "--clear-groups", "--"]
    candidates = [sys.executable, os.path.realpath(sys.executable), f"/usr/bin/python{sys.version_info[0]}.{sys.version_info[1]}"]
    for python in candidates:
        # through a shell: setpriv itself still holds root's capabilities while it execs
        check = f'exec "{python}" -c "import numpy, k8snet_lesson.lab"'
        done = subprocess.run([*drop, "/bin/sh", "-c", check], capture_output=True, env=env)
        if done.returncode == 0:
            return [*drop, "/bin/sh", "-c", f'exec "{python}" "$@"', "python"], env
    return None


@pytest.mark.skipif(os.geteuid() != 0 or shutil.which("setpriv") is None, reason="switching to uid 65534 needs root and setpriv")
def test_an_unprivileged_user_gets_a_rootless_lab():
    if not user_namespaces():
        pytest.skip("user namespaces are not allowed here")
    found = _python_for_nobody()
    if found is None:
        pytest.skip("uid 65534 cannot run a Python that imports this package here")
    argv, env = found
    done = subprocess.run([*argv, "-c", SCRIPT], capture_output=True, text=True, env=env, cwd="/", timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result == {"rootless": True, "counts": True, "answered": 300, "fault": True, "dns": True, "clean": True}
