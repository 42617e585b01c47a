"""kube-proxy's nftables mode in the kernel: load, read back, explain, and a real spread.

The kernel and nftables are Debian's (``nftables`` package). Facts checked come from
kube-proxy and the kernel, not from the lab's output: the table loads with ``nft -f`` as
generated; what ``nft list ruleset`` prints reads back to the same state; the checkout
Service's three endpoints each get 1/3 from ``numgen random mod 3``; 3,000 real
connections spread over them as a uniform draw would (chi-square, p > 0.001).
"""

from __future__ import annotations

import re
import shutil
from fractions import Fraction
from ipaddress import IPv4Address

import pytest

from k8snet_lesson import nftables
from k8snet_lesson.lab import nft_mode
from k8snet_lesson.nftables.explain import explain

pytestmark = [pytest.mark.lab, pytest.mark.skipif(shutil.which("nft") is None, reason="nft is not installed")]

SERVICE = "production/checkout-api-svc"
CLUSTER_IP = IPv4Address("10.96.214.88")
ENDPOINTS = ("10.244.2.14:3000", "10.244.3.7:3000", "10.244.4.2:3000")  # kubectl get endpoints checkout-api-svc
SEED = 20260


def test_the_transaction_loads_and_reads_back_the_same(lesson):
    node = "node-eu-west-1a"
    tx = nftables.rules_for(lesson.cluster, node)
    loaded = nft_mode.load_in_private_namespace(tx)
    assert re.match(r"nftables v\d+\.\d+", loaded.version)
    assert loaded.listing.startswith("table ip kube-proxy {")
    assert nftables.normalize(loaded.table) == nftables.normalize(tx)
    # What the kernel prints: the shares of the model, 1/3 each for the checkout Service.
    kernel = nft_mode.shares_of(explain(loaded.table), CLUSTER_IP, 80)
    model = nft_mode.shares_of(explain(tx), CLUSTER_IP, 80)
    assert kernel == model and tuple(e for e, _ in kernel) == ENDPOINTS
    assert {Fraction(s).limit_denominator(100) for _, s in kernel} == {Fraction(1, 3)}
    assert "numgen random mod 3 vmap" in loaded.listing


def test_a_bad_transaction_is_refused_by_the_kernel_too(lesson):
    """The order matters: a rule that names a chain before it is added does not load."""
    from k8snet_lesson.lab.sandbox import LabCommandError

    tx = nftables.rules_for(lesson.cluster, "node-eu-west-1a")
    lines = tx.lines()
    first_rule = next(i for i, line in enumerate(lines) if line.startswith("add rule") and "goto endpoint-" in line)
    endpoint_chain = re.search(r"goto (endpoint-\S+)", lines[first_rule]).group(1)
    moved = [line for line in lines if line != f"add chain ip kube-proxy {endpoint_chain}"]
    moved.append(f"add chain ip kube-proxy {endpoint_chain}")
    with pytest.raises(LabCommandError, match="No such file or directory"):
        nft_mode.load_in_private_namespace("\n".join(moved) + "\n")


def test_spread_of_3000_connections_in_nftables_mode(lab, lesson):
    """3,000 TCP connections; the draw is the kernel's (numgen random, prandom); seed 20260
    picks the client's source ports; threshold p > 0.001."""
    node = lab.node_of(lesson.client)
    tx = nft_mode.use_nftables(lab, node)
    assert "KUBE-" not in lab.save(node)
    assert nftables.normalize(nft_mode.kernel_table(lab, node)) == nftables.normalize(tx)
    measured = nft_mode.spread(lab, lesson.client, SERVICE, 3000, seed=SEED)
    assert measured.endpoints == ENDPOINTS
    assert not measured.failures and sum(measured.client_counts) == 3000
    assert measured.conntrack_counts == measured.client_counts  # conntrack saw each choice
    assert measured.chi_square.p_value > 1e-3
    assert all(abs(s - 1 / 3) < 1e-12 for s in measured.model_shares)
    print(f"nft spread: counts {measured.client_counts}, p = {measured.chi_square.p_value:.3f}, seed {SEED}")



def test_netlab_run_in_nftables_mode(capsys):
    """The whole cluster in nftables mode: every node's table is the model's, the four
    rules hold, 900 connections spread (p > 0.001), every fault of the iptables run's
    ladder is found by both climbs and fixed, the lab leaves nothing behind."""
    from k8snet_lesson.cli import main
    from k8snet_lesson.faults import fault
    from k8snet_lesson.lab.run import DEFAULT_FAULTS

    status = main(["netlab", "run", "--proxy-mode", "nftables", "--quiet", "--connections", "900", "--seed", "5"])
    out = capsys.readouterr().out
    assert status == 0, out
    assert out.count("nft list table ip kube-proxy equals the model's") == 3
    assert "four rules: hold, as the model says" in out and "teardown: clean" in out
    assert re.search(r"chi-square p = [\d.]+", out) and out.rstrip().endswith("OK")
    for name in DEFAULT_FAULTS:
        verdict = f"{name} at {fault(name).layer.value}"
        assert re.search(rf"^  {re.escape(name)} +{re.escape(verdict)} \| same; fixed: both pass$", out, re.M), out
    assert "after the fixes: every node's table explains as the model's, no KUBE- iptables rule" in out


def test_syncs_over_time_apply_in_the_kernel_as_in_the_model(lesson):
    """Each sync's transaction, as NodeProxy returns it, loaded one after the other: the
    kernel ends where the model does, stale chains flushed and kept, then deleted."""
    cluster = lesson.cluster
    node = "node-eu-west-1a"
    checkout = cluster.service(SERVICE)
    pods = [p for p in cluster.pods if checkout.selects(p)]
    fewer = cluster.without_pod(pods[0].name, pods[0].namespace)
    proxy = nftables.NodeProxy(node_name=node, node_ip=str(cluster.node(node).internal_ip),
                               cluster_cidr=cluster.cluster_cidr, service_cidr=cluster.service_cidr)
    from k8snet_lesson.endpoints import slices_for

    steps = [proxy.sync(cluster.services, slices_for(cluster))]
    steps.append(proxy.sync(fewer.services, slices_for(fewer)))  # partial: one endpoint chain goes stale
    assert proxy.stale_chains and all(f"__{pods[0].pod_ip}/" in c for c in proxy.stale_chains)
    loaded = nft_mode.load_in_private_namespace(*steps)
    assert nftables.normalize(loaded.table) == nftables.normalize(proxy.state())
    proxy.age_stale_chains()
    steps.append(proxy.sync(fewer.services, slices_for(fewer)))
    loaded = nft_mode.load_in_private_namespace(*steps[:2], proxy.last_cleanup, steps[2])
    assert nftables.normalize(loaded.table) == nftables.normalize(proxy.state()) and not proxy.stale_chains
    assert f"{pods[0].pod_ip}" not in loaded.listing


def test_a_service_without_endpoints_comes_and_goes_in_the_kernel(lesson):
    """Its no-endpoint-services element (with a comment) is added, then deleted by key."""
    from k8snet_lesson.endpoints import slices_for

    cluster = lesson.cluster
    node = "node-eu-west-1a"
    empty = cluster.service(SERVICE).with_(name="empty", cluster_ip="10.96.214.90", selector={"app": "nobody"})
    more = cluster.with_service(empty)
    proxy = nftables.NodeProxy(node_name=node, cluster_cidr=cluster.cluster_cidr, service_cidr=cluster.service_cidr)
    steps = [proxy.sync(more.services, slices_for(more)), proxy.sync(cluster.services, slices_for(cluster))]
    assert any(line.startswith("delete element ip kube-proxy no-endpoint-services { 10.96.214.90 . tcp . 80 }")
               for line in steps[1])
    loaded = nft_mode.load_in_private_namespace(*steps)
    assert nftables.normalize(loaded.table) == nftables.normalize(proxy.state())
    assert "10.96.214.90" not in loaded.listing
