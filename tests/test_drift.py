"""``k8snet diff``: a node's dump against what the manifests say, in both modes."""

from __future__ import annotations

import json

import pytest

from k8snet_lesson import iptables, kube_proxy, manifests, nftables
from k8snet_lesson.cli import main
from k8snet_lesson.drift import drift_of_dump
from k8snet_lesson.resources import data_path

LESSON = str(data_path("lesson-cluster.yaml"))
NODE = "node-eu-west-1a"
CHECKOUT = "production/checkout-api-svc"


def dump(cluster, mode: str) -> str:
    if mode == "nftables":
        return str(nftables.rules_for(cluster, NODE))
    return iptables.to_save(kube_proxy.rules_for(cluster, NODE, include_builtin=True))


def checkout_pods(cluster):
    svc = cluster.service(CHECKOUT)
    return [p for p in cluster.pods if svc.selects(p)]


@pytest.fixture(scope="module")
def lesson():
    return manifests.load([LESSON])


@pytest.mark.parametrize("mode", ["iptables", "nftables"])
def test_a_synced_node_has_no_drift(lesson, mode, tmp_path, capsys):
    result = drift_of_dump(lesson, NODE, dump(lesson, mode))
    assert result.mode == mode and not result.drifted and CHECKOUT in result.in_sync
    path = tmp_path / "dump.txt"
    path.write_text(dump(lesson, mode))
    assert main(["diff", LESSON, "--node", NODE, str(path)]) == 0
    assert "in sync" in capsys.readouterr().out


@pytest.mark.parametrize("mode", ["iptables", "nftables"])
def test_a_stale_node_still_sends_to_a_deleted_pod(lesson, mode, tmp_path, capsys):
    """kube-proxy stopped syncing before a checkout pod was deleted: its dump still has it."""
    gone = checkout_pods(lesson)[0]
    now = lesson.without_pod(gone.name, gone.namespace)
    result = drift_of_dump(now, NODE, dump(lesson, mode))
    (port,) = result.ports
    assert (port.kind, port.service_port) == ("stale", CHECKOUT)
    assert port.stale_endpoints == (f"{gone.pod_ip}:3000",) and port.missing_endpoints == ()
    # and the other way: a pod the node has not heard of yet is a missing endpoint
    (port,) = drift_of_dump(lesson, NODE, dump(now, mode)).ports
    assert port.missing_endpoints == (f"{gone.pod_ip}:3000",) and port.stale_endpoints == ()
    # the CLI exits 1 and names it
    path = tmp_path / "dump.txt"
    path.write_text(dump(now, mode))
    assert main(["diff", LESSON, "--node", NODE, str(path)]) == 1
    out = capsys.readouterr().out
    assert f"stale    {CHECKOUT}" in out and f"missing endpoint {gone.pod_ip}:3000" in out
    # a Service deleted from the manifests whose rules are still there is extra
    no_checkout = lesson.without_service("checkout-api-svc", "production")
    result = drift_of_dump(no_checkout, NODE, dump(lesson, mode))
    assert [(p.kind, p.service_port) for p in result.ports] == [("extra", CHECKOUT)]


@pytest.mark.parametrize("mode", ["iptables", "nftables"])
def test_extra_rules_on_the_node_are_named(lesson, mode, tmp_path, capsys):
    """A Service the manifests do not have (rules left behind, or written by hand)."""
    svc = lesson.service(CHECKOUT)
    other = svc.with_(name="old-checkout", cluster_ip="10.96.214.99")
    text = dump(lesson.with_service(other), mode)
    path = tmp_path / "dump.txt"
    path.write_text(text)
    assert main(["diff", LESSON, "--node", NODE, str(path), "--json"]) == 1
    out = json.loads(capsys.readouterr().out)
    assert out["mode"] == mode and out["drifted"]
    (extra,) = out["service_ports"]
    assert (extra["kind"], extra["service_port"], extra["cluster_ip"]) == ("extra", "production/old-checkout",
                                                                           "10.96.214.99")
    assert sorted(extra["stale_endpoints"]) == sorted(f"{p.pod_ip}:3000" for p in checkout_pods(lesson))


def test_a_missing_service_port_and_the_text_report(lesson, tmp_path, capsys):
    without = lesson.without_service("checkout-api-svc", "production")
    path = tmp_path / "dump.nft"
    path.write_text(dump(without, "nftables"))
    assert main(["diff", "--node", NODE, LESSON, str(path)]) == 1
    out = capsys.readouterr().out
    assert out.startswith(f"{NODE} (nftables mode): 1 Service ports drifted")
    assert f"missing  {CHECKOUT}  tcp 10.96.214.88:80" in out


@pytest.mark.parametrize("argv, message", [
    ([LESSON, "--node", NODE], "at least one MANIFEST and then the node's DUMP"),
    ([LESSON, "x.txt"], "--node NAME is required"),
    ([LESSON, "--node", "no-such-node", LESSON], "no-such-node"),
])
def test_bad_arguments_are_one_message(argv, message, capsys):
    assert main(["diff", *argv]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
