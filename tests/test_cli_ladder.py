"""``k8snet ladder``: the climb on manifests, faults by name, and one clear line for bad input."""

from __future__ import annotations

import pytest

from k8snet_lesson import faults
from k8snet_lesson.cli import main
from k8snet_lesson.resources import data_path

LESSON = str(data_path("lesson-cluster.yaml"))
BASE = [LESSON, "--from", "debug-pod", "--service", "production/checkout-api-svc"]


def run(capsys, *argv):
    code = main(["ladder", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_a_healthy_climb_exits_zero(capsys):
    code, out, err = run(capsys, *BASE)
    assert (code, err) == (0, "")
    assert out.splitlines()[0] == "Debugging ladder from production/debug-pod to Service production/checkout-api-svc (CNI calico-vxlan, seed 0)"
    assert "bash-5.1# nslookup checkout-api-svc.production.svc.cluster.local" in out
    assert "Every rung passed" in out


def test_a_fault_on_one_pod_is_found_and_exits_one(capsys):
    code, out, err = run(capsys, *BASE, "--fault", "bound-to-localhost", "--fault-pod", "checkout-api-6f8b9d-2xkpj", "--seed", "0")
    assert code == 1 and err == ""
    assert "Finding: inside the pod (app): bound-to-localhost" in out
    assert "tcp        0      0 127.0.0.1:3000          0.0.0.0:*               LISTEN      1/checkout-api" in out


def test_two_faults_and_a_cni(capsys):
    code, out, _ = run(capsys, *BASE, "--fault", "network-policy-deny", "--fault", "coredns-down", "--cni", "flannel")
    assert code == 1
    assert "(CNI flannel, seed 0)" in out and "Finding: DNS: coredns-down" in out
    assert "flannel does not enforce NetworkPolicy" in out


def test_an_existing_pod_as_client(capsys):
    code, out, _ = run(capsys, LESSON, "--from", "production/payment-api-7d9c4b-xr7nq", "--service", "production/checkout-api-svc")
    assert code == 0 and "from production/payment-api-7d9c4b-xr7nq" in out


def test_help_lists_every_fault_with_its_line(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["ladder", "--help"])
    assert exit_.value.code == 0
    out = capsys.readouterr().out
    for name, f in faults.FAULTS.items():
        assert any(line.split(None, 1) == [name, f.summary] for line in out.splitlines()), name


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--fault", "dns-down"], "no fault 'dns-down' (faults: coredns-down, kube-proxy-stale, "),
        (["--cni", "weave"], "no CNI profile 'weave' (profiles: flannel, calico, "),
        (["--fault", "bound-to-localhost", "--fault-pod", "nope"], "pod 'nope' is not a backend of service production/checkout-api-svc"),
        (["--fault-pod", "checkout-api-6f8b9d-2xkpj"], "--fault-pod 'checkout-api-6f8b9d-2xkpj' needs a --fault"),
    ],
)
def test_bad_input_is_one_line_and_exit_two(capsys, argv, message):
    code, out, err = run(capsys, *BASE, *argv)
    assert (code, out) == (2, "")
    assert err.startswith("k8snet ladder: error: ") and message in err and err.count("\n") == 1


@pytest.mark.parametrize(
    "argv, message",
    [
        ([LESSON, "--from", "web-1", "--service", "production/checkout-api-svc"], "no pod 'web-1' (pods: production/checkout-api-6f8b9d-2xkpj,"),
        ([LESSON, "--from", "debug-pod", "--service", "production/cart"], "no service 'cart' in namespace 'production' (services: production/checkout-api-svc,"),
        (["missing.yaml", "--from", "debug-pod", "--service", "production/checkout-api-svc"], "missing.yaml: cannot read manifest"),
    ],
)
def test_unknown_pods_services_and_files(capsys, argv, message):
    code, out, err = run(capsys, *argv)
    assert (code, out) == (2, "")
    assert message in err


@pytest.mark.parametrize("mode", ["iptables", "nftables"])
def test_a_stale_kube_proxy_is_named_with_what_it_lacks(capsys, mode):
    from k8snet_lesson.endpoints import endpoints_for
    from k8snet_lesson.manifests import load

    code, out, _ = run(capsys, *BASE, "--fault", "kube-proxy-stale", "--proxy-mode", mode)
    assert code == 1 and "Finding: ClusterIP (kube-proxy): kube-proxy-stale" in out
    assert f"({mode} mode)" in out
    cluster = load([LESSON])
    ready = [f"{a.ip}:{p.port}" for s in endpoints_for(cluster, "production/checkout-api-svc").subsets
             for a in s.addresses for p in s.ports]
    line = next(line for line in out.splitlines() if "missing production/checkout-api-svc" in line)
    assert all(e in line for e in ready) and len(ready) == 3
