"""The debugging ladder in the kernel with kube-proxy in nftables mode.

The lesson's cluster is built, then every node's kube-proxy is switched to nftables mode
(its ``KUBE-`` iptables rules removed). Each fault that changes kube-proxy's rules reaches
the kernel as an nftables sync (``nft -f`` of the model's transaction), never as
iptables; the kernel's ``nft list table ip kube-proxy``, explained, must then hold what
kube-proxy in nftables mode would hold for the broken cluster (no endpoints: the
``reject`` verdict; a stale kube-proxy: no element for the application's Services), and
both climbs (the model's and the real tools') must name the injected fault and pass once
it is fixed. Facts checked come from kube-proxy's behaviour and the cluster's values.
"""

from __future__ import annotations

import shutil

import pytest

from k8snet_lesson.drift import drift
from k8snet_lesson.faults import inject
from k8snet_lesson.lab import nft_mode
from k8snet_lesson.lab.run import DEFAULT_FAULTS
from k8snet_lesson.nftables.explain import explain

pytestmark = [pytest.mark.lab, pytest.mark.skipif(shutil.which("nft") is None, reason="nft is not installed")]

SERVICE = "production/checkout-api-svc"
# The faults that change what kube-proxy programs (the others change only the pods' apps).
RULE_FAULTS = ("coredns-down", "selector-mismatch", "readiness-failing", "wrong-target-port", "kube-proxy-stale")


@pytest.fixture(scope="module")
def nft_lab(lab):
    """The module's lab, its kube-proxy in nftables mode (torn down with ``lab``)."""
    return nft_mode.in_nftables_mode(lab)


def _kernel_matches_model(lab):
    """Per node: no KUBE- iptables rule, and the kernel's table explains as the model's does."""
    for node in lab.topology.nodes:
        assert "KUBE-" not in lab.save(node.name), node.name
        kernel = explain(nft_mode.kernel_table(lab, node.name))
        model = explain(nft_mode.model_table(lab.cluster, node.name))
        found = drift(model, kernel, mode="nftables", node=node.name)
        assert not found.drifted, found


def _entry(lab, node, cluster_ip, port):
    return next((e for e in explain(nft_mode.kernel_table(lab, node)) if e.cluster_ip == cluster_ip and e.port == port),
                None)


def test_every_node_runs_kube_proxy_in_nftables_mode(nft_lab):
    assert nft_mode.proxy_mode(nft_lab) == "nftables"
    for node in nft_lab.topology.nodes:
        from k8snet_lesson import nftables

        assert nftables.normalize(nft_mode.kernel_table(nft_lab, node.name)) == nftables.normalize(
            nft_mode.model_table(nft_lab.cluster, node.name))
    _kernel_matches_model(nft_lab)


@pytest.mark.parametrize("fault", RULE_FAULTS)
def test_a_fault_reaches_the_kernel_as_an_nftables_sync(nft_lab, lesson, fault):
    healthy = nft_lab.cluster
    broken = inject(healthy, fault, service=SERVICE, client=lesson.client).cluster
    sent = len(nft_lab.transactions)
    nft_lab.apply(broken)
    try:
        assert len(nft_lab.transactions) > sent  # at least one nft -f
        _kernel_matches_model(nft_lab)
        target = broken.service(SERVICE if fault != "coredns-down" else "kube-system/kube-dns")
        port = target.ports[0].port
        client_node = nft_lab.node_of(lesson.client)
        entry = _entry(nft_lab, client_node, target.cluster_ip, port)
        if fault in ("coredns-down", "selector-mismatch", "readiness-failing"):
            assert entry.reject and not entry.endpoints  # kube-proxy: no ready endpoint, reject
        elif fault == "wrong-target-port":
            assert {e.port for e in entry.endpoints} == {target.ports[0].target_port}
        else:  # kube-proxy-stale: the client's node lost the Service, the others keep it
            assert entry is None
            others = [n.name for n in nft_lab.topology.nodes if n.name != client_node]
            assert all(_entry(nft_lab, n, target.cluster_ip, port) is not None for n in others)
    finally:
        nft_lab.apply(healthy)
    _kernel_matches_model(nft_lab)
    for node in nft_lab.topology.nodes:  # chains left stale by the fix are deleted by the next sync
        nft_lab.apply(nft_lab.cluster)
        table = nft_mode.kernel_table(nft_lab, node.name)
        assert all(table.rules.get(c) for c in table.chains if "/" in c), node.name


@pytest.mark.parametrize("fault", DEFAULT_FAULTS)
def test_fault_ladder_in_nftables_mode(nft_lab, lesson, fault):
    from k8snet_lesson.lab.ladder import check_fault

    checked = check_fault(nft_lab, fault, client=lesson.client, service=SERVICE)
    assert checked.model_verdict is not None and checked.model_verdict[1] == fault, str(checked.model)
    assert checked.kernel_verdict == checked.model_verdict, str(checked.kernel)
    assert checked.model_fixed.passed and checked.kernel_fixed.passed, str(checked.kernel_fixed)
    _kernel_matches_model(nft_lab)


def test_the_lab_climb_names_what_kube_proxy_left_stale(nft_lab, lesson):
    from k8snet_lesson.endpoints import endpoints_for
    from k8snet_lesson.lab.ladder import check_fault

    checked = check_fault(nft_lab, "kube-proxy-stale", client=lesson.client, service=SERVICE)
    drifted = checked.kernel.finding.drift
    assert (drifted.mode, drifted.node) == ("nftables", nft_lab.node_of(lesson.client))
    service = nft_lab.cluster.service(SERVICE)
    port = next(p for p in drifted.ports if (p.cluster_ip, p.port) == (str(service.cluster_ip), service.ports[0].port))
    ready = sorted(f"{a.ip}:{p.port}" for s in endpoints_for(nft_lab.cluster, service).subsets
                   for a in s.addresses for p in s.ports)
    assert port.kind == "missing" and sorted(port.missing_endpoints) == ready
    assert drifted == checked.model.finding.drift  # the kernel's table drifted as the model's did
    assert any("nftables table ip kube-proxy has no service-ips element" in line for line in checked.kernel.finding.evidence)
