"""The four rules of the Kubernetes network model, on a flat pod network and on a NAT'd one.

Facts the expected values rest on:
- a flat CNI network delivers a packet for a pod IP to the pod holding it, with both
  addresses unchanged (the lesson: "Pod B sees the source IP as Pod A's real IP");
- on plain Docker hosts every node's bridge is 172.17.0.0/16 with the gateway
  172.17.0.1, containers get .2, .3, ... in turn, published ports come from 32768, and
  Docker writes ``-A DOCKER ! -i docker0 -p tcp -m tcp --dport <host port> -j DNAT
  --to-destination <container ip>:<port>`` and
  ``-A POSTROUTING -s 172.17.0.0/16 ! -o docker0 -j MASQUERADE``;
- hostNetwork pods use their node's IP; a Succeeded pod's IP has been released and may
  be reused by a new pod.
"""

from __future__ import annotations

from ipaddress import IPv4Address, IPv4Network

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from k8snet_lesson.cluster import Cluster, Container, ContainerPort, Node, Pod, PodPhase
from k8snet_lesson.errors import NotFound
from k8snet_lesson.ipam import allocate_pod_ips
from k8snet_lesson.networking_model import (
    DOCKER_BRIDGE_CIDR,
    FLAT,
    RULES,
    Connection,
    NetworkKind,
    RuleCheck,
    check_all,
    check_rule,
    natted,
    what_the_app_sees,
)

A = IPv4Address


def serving(port: int) -> tuple[Container, ...]:
    return (Container("app", ports=(ContainerPort(port),)),)


NODES = (
    Node("node-eu-west-1a", "192.168.0.10", pod_cidr="10.244.2.0/24"),
    Node("node-eu-west-1b", "192.168.0.11", pod_cidr="10.244.3.0/24"),
    Node("node-eu-west-1c", "192.168.0.12", pod_cidr="10.244.4.0/24"),
)


def lesson_cluster(*extra: Pod) -> Cluster:
    """The lesson's `kubectl get pods -o wide` output, as values."""
    pods = (
        Pod("production", "checkout-api-6f8b9d-2xkpj", node_name="node-eu-west-1a", pod_ip="10.244.2.14", containers=serving(3000)),
        Pod("production", "checkout-api-6f8b9d-7rvqn", node_name="node-eu-west-1b", pod_ip="10.244.3.7", containers=serving(3000)),
        Pod("production", "payment-api-7d9c4b-xr7nq", node_name="node-eu-west-1a", pod_ip="10.244.2.15", containers=serving(8080)),
        Pod("production", "auth-service-5c7d8f-p2rkx", node_name="node-eu-west-1c", pod_ip="10.244.4.2", containers=serving(9000)),
    )
    return Cluster(nodes=NODES, pods=pods + extra)


def verdicts(checks: tuple[RuleCheck, ...]) -> tuple[bool, ...]:
    return tuple(c.holds for c in checks)


# --- the flat network ---------------------------------------------------------------------


def test_the_lesson_cluster_keeps_all_four_rules():
    checks = check_all(lesson_cluster())
    assert [c.number for c in checks] == [1, 2, 3, 4]
    assert [c.statement for c in checks] == list(RULES)
    assert verdicts(checks) == (True, True, True, True)
    # 4 pods: 2 ordered pairs on node-eu-west-1a, 12 - 2 = 10 ordered pairs across nodes
    assert (len(checks[1].evidence), len(checks[2].evidence), len(checks[3].evidence)) == (2, 10, 4)


def test_what_the_app_sees_on_a_flat_network():
    seen = what_the_app_sees(lesson_cluster(), FLAT, "checkout-api-6f8b9d-2xkpj", "production/checkout-api-6f8b9d-7rvqn")
    assert seen.dialled == A("10.244.3.7") and seen.dialled_port == 3000
    assert seen.source_seen == A("10.244.2.14")  # Pod B sees Pod A's real IP
    assert seen.reached == "production/checkout-api-6f8b9d-7rvqn"
    assert seen.translations == () and seen.direct and not seen.nat


def test_what_the_app_sees_takes_pod_values_and_an_explicit_port():
    cluster = lesson_cluster()
    seen = what_the_app_sees(cluster, FLAT, cluster.pods[0], cluster.pods[3], port=9001)
    assert (seen.dialled, seen.dialled_port) == (A("10.244.4.2"), 9001)


def test_rule_1_fails_on_a_duplicate_ip_and_rule_3_shows_where_packets_go():
    # A pod on node-eu-west-1b wrongly holds 10.244.2.14, an address of node-eu-west-1a's range.
    impostor = Pod("production", "impostor", node_name="node-eu-west-1b", pod_ip="10.244.2.14")
    cluster = lesson_cluster(impostor)
    checks = check_all(cluster)
    assert verdicts(checks) == (False, True, False, True)
    assert "10.244.2.14 by production/checkout-api-6f8b9d-2xkpj, production/impostor on different nodes" in checks[0].reason
    rows = {r.pod: r for r in checks[0].evidence}
    assert rows["production/impostor"].shared_with == ("production/checkout-api-6f8b9d-2xkpj",)
    assert not rows["production/impostor"].holds and rows["production/payment-api-7d9c4b-xr7nq"].holds
    # From node-eu-west-1c, 10.244.2.14 is routed to node-eu-west-1a, the owner of 10.244.2.0/24.
    to_impostor = what_the_app_sees(cluster, FLAT, "auth-service-5c7d8f-p2rkx", "impostor")
    assert to_impostor.reached == "production/checkout-api-6f8b9d-2xkpj" and not to_impostor.direct
    assert "also held by production/checkout-api-6f8b9d-2xkpj" in to_impostor.note


@pytest.mark.parametrize(
    ("pod", "note", "holds"),
    [
        (Pod("kube-system", "kube-proxy-x", node_name="node-eu-west-1a", host_network=True, pod_ip="192.168.0.10"),
         "hostNetwork: shares its node's IP (exempt)", True),
        (Pod("production", "migrate-1", node_name="node-eu-west-1a", pod_ip="10.244.2.15", phase=PodPhase.SUCCEEDED),
         "Succeeded: its IP was released (exempt)", True),
        (Pod("production", "pending-1", phase=PodPhase.PENDING), "not scheduled yet (exempt)", True),
        (Pod("production", "stuck-1", node_name="node-eu-west-1c"), "scheduled but has no IP", False),
    ],
)
def test_rule_1_exemptions_and_missing_ips(pod, note, holds):
    check = check_rule(1, lesson_cluster(pod))
    row = next(r for r in check.evidence if r.pod == pod.key)
    assert (row.note, row.holds, check.holds) == (note, holds, holds)
    if not holds:
        assert "1 scheduled pod has no IP: production/stuck-1" in check.reason


def test_host_network_pods_are_outside_rules_2_to_4():
    proxy = Pod("kube-system", "kube-proxy-x", node_name="node-eu-west-1a", host_network=True, pod_ip="192.168.0.10")
    checks = check_all(lesson_cluster(proxy))
    assert verdicts(checks) == (True, True, True, True)
    assert all(proxy.key not in (c.client, c.server) for c in checks[1].evidence + checks[2].evidence)


def test_a_single_pod_has_no_pairs_to_check():
    cluster = Cluster(nodes=NODES[:1], pods=(Pod("default", "only", node_name="node-eu-west-1a", pod_ip="10.244.2.2"),))
    checks = check_all(cluster)
    assert verdicts(checks) == (True, True, True, True)
    assert checks[1].reason == "no two pods on the same node to check"
    assert checks[2].reason == "no two pods on different nodes to check"


def test_check_rule_matches_check_all_and_refuses_unknown_rules():
    cluster, network = natted(lesson_cluster())
    assert tuple(check_rule(n, cluster, network) for n in (1, 2, 3, 4)) == check_all(cluster, network)
    with pytest.raises(NotFound, match="no rule 5"):
        check_rule(5, cluster)


# --- the NAT'd network --------------------------------------------------------------------


def test_natted_reuses_the_bridge_range_on_every_node():
    cluster, network = natted(lesson_cluster())
    assert network.kind is NetworkKind.NODE_NAT and network.bridge == "docker0"
    assert all(node.pod_cidr == DOCKER_BRIDGE_CIDR for node in cluster.nodes)
    assert {p.name: p.pod_ip for p in cluster.pods} == {
        "checkout-api-6f8b9d-2xkpj": A("172.17.0.2"),
        "checkout-api-6f8b9d-7rvqn": A("172.17.0.2"),
        "payment-api-7d9c4b-xr7nq": A("172.17.0.3"),
        "auth-service-5c7d8f-p2rkx": A("172.17.0.2"),
    }
    assert [(m.node_name, m.host_port, m.pod, m.container_port) for m in network.port_mappings] == [
        ("node-eu-west-1a", 32768, "production/checkout-api-6f8b9d-2xkpj", 3000),
        ("node-eu-west-1b", 32768, "production/checkout-api-6f8b9d-7rvqn", 3000),
        ("node-eu-west-1a", 32769, "production/payment-api-7d9c4b-xr7nq", 8080),
        ("node-eu-west-1c", 32768, "production/auth-service-5c7d8f-p2rkx", 9000),
    ]


def test_on_a_natted_network_rules_1_3_4_fail_and_rule_2_holds():
    cluster, network = natted(lesson_cluster())
    checks = check_all(cluster, network)
    assert verdicts(checks) == (False, True, False, False)
    assert "172.17.0.2 by" in checks[0].reason and "on different nodes" in checks[0].reason
    assert checks[2].reason.startswith("10 of 10 connections between pods on different nodes are not direct")
    views = {v.pod: v for v in checks[3].evidence}
    checkout_a = views["production/checkout-api-6f8b9d-2xkpj"]
    assert checkout_a.own_ip == A("172.17.0.2")
    assert checkout_a.peers_dial == (A("172.17.0.2"), A("192.168.0.10"))  # payment-api on its node, others via the node
    assert checkout_a.peers_observe == (A("172.17.0.2"), A("192.168.0.10"))


def test_what_the_app_sees_across_natted_nodes():
    cluster, network = natted(lesson_cluster())
    seen = what_the_app_sees(cluster, network, "checkout-api-6f8b9d-2xkpj", "auth-service-5c7d8f-p2rkx")
    assert (seen.client_ip, seen.server_ip) == (A("172.17.0.2"), A("172.17.0.2"))
    assert (seen.dialled, seen.dialled_port) == (A("192.168.0.12"), 32768)  # node-eu-west-1c and its host port
    assert seen.source_seen == A("192.168.0.10")  # the app logs node-eu-west-1a, not the pod
    assert seen.reached == "production/auth-service-5c7d8f-p2rkx" and seen.nat and not seen.direct
    assert [str(t) for t in seen.translations] == [
        "node-eu-west-1a: source 172.17.0.2 -> 192.168.0.10 (-A POSTROUTING -s 172.17.0.0/16 ! -o docker0 -j MASQUERADE)",
        "node-eu-west-1c: destination 192.168.0.12 -> 172.17.0.2 "
        "(-A DOCKER ! -i docker0 -p tcp -m tcp --dport 32768 -j DNAT --to-destination 172.17.0.2:9000)",
    ]


def test_what_the_app_sees_on_one_natted_node_is_direct():
    cluster, network = natted(lesson_cluster())
    seen = what_the_app_sees(cluster, network, "checkout-api-6f8b9d-2xkpj", "payment-api-7d9c4b-xr7nq")
    assert (seen.dialled, seen.dialled_port, seen.source_seen) == (A("172.17.0.3"), 8080, A("172.17.0.2"))
    assert seen.direct and seen.translations == ()


def test_an_unpublished_port_is_unreachable_from_another_natted_node():
    quiet = Pod("production", "batch-1", node_name="node-eu-west-1b")  # declares no port
    cluster, network = natted(lesson_cluster(quiet))
    seen = what_the_app_sees(cluster, network, "checkout-api-6f8b9d-2xkpj", "batch-1")
    assert seen.reached is None and seen.dialled is None and seen.source_seen is None
    assert "no host port on node-eu-west-1b is published for production/batch-1" in seen.note
    assert "not routable from node-eu-west-1a" in seen.note


def test_natted_keeps_host_network_pods_on_the_node_ip_and_releases_finished_ones():
    proxy = Pod("kube-system", "kube-proxy-x", node_name="node-eu-west-1b", host_network=True)
    done = Pod("production", "migrate-1", node_name="node-eu-west-1b", pod_ip="10.244.3.9", phase=PodPhase.SUCCEEDED)
    cluster, _ = natted(lesson_cluster(proxy, done))
    assert cluster.pod("kube-proxy-x").pod_ip == A("192.168.0.11")
    assert cluster.pod("migrate-1").pod_ip is None


def test_natted_with_a_single_node_keeps_every_rule():
    pods = tuple(p for p in lesson_cluster().pods if p.node_name == "node-eu-west-1a")
    cluster, network = natted(Cluster(nodes=NODES[:1], pods=pods))
    assert verdicts(check_all(cluster, network)) == (True, True, True, True)


def test_rows_are_flat_for_a_table():
    import pandas as pd

    cluster, network = natted(lesson_cluster())
    rule4 = check_rule(4, cluster, network)
    frame = pd.DataFrame(rule4.rows())
    assert list(frame.columns) == ["pod", "node", "own_ip", "peers_dial", "peers_observe", "holds"]
    first = frame.set_index("pod").loc["production/checkout-api-6f8b9d-2xkpj"]
    assert first["peers_dial"] == "172.17.0.2, 192.168.0.10"
    assert first["own_ip"] == A("172.17.0.2")
    rule3 = pd.DataFrame(check_rule(3, cluster, network).rows())
    assert {"client", "server", "dialled", "dialled_port", "source_seen", "translations", "direct"} <= set(rule3.columns)
    assert not rule3["direct"].any()


# --- properties ---------------------------------------------------------------------------


@st.composite
def clusters(draw):
    node_count = draw(st.integers(min_value=1, max_value=4))
    nodes = tuple(
        Node(f"node-{i}", f"192.168.0.{10 + i}", pod_cidr=f"10.244.{i}.0/24") for i in range(node_count)
    )
    per_node = draw(st.lists(st.integers(min_value=0, max_value=4), min_size=node_count, max_size=node_count))
    pods = tuple(
        Pod("default", f"web-{i}-{j}", node_name=f"node-{i}", containers=serving(8080))
        for i, count in enumerate(per_node)
        for j in range(count)
    )
    return allocate_pod_ips(Cluster(nodes=nodes, pods=pods))


@settings(max_examples=60, deadline=None)
@given(clusters())
def test_host_local_addresses_on_a_flat_network_keep_every_rule(cluster):
    checks = check_all(cluster)
    assert verdicts(checks) == (True, True, True, True)
    for connection in checks[1].evidence + checks[2].evidence:
        assert isinstance(connection, Connection)
        assert connection.dialled == connection.server_ip and connection.source_seen == connection.client_ip


@settings(max_examples=60, deadline=None)
@given(clusters())
def test_natting_breaks_rules_1_3_4_exactly_when_pods_span_nodes(cluster):
    natted_cluster, network = natted(cluster)
    spans_nodes = len({p.node_name for p in natted_cluster.pods}) > 1
    assert verdicts(check_all(natted_cluster, network)) == (not spans_nodes, True, not spans_nodes, not spans_nodes)
    for node in natted_cluster.nodes:
        ports = [m.host_port for m in network.port_mappings if m.node_name == node.name]
        assert len(ports) == len(set(ports))
        assert all(p.pod_ip in IPv4Network("172.17.0.0/16") for p in natted_cluster.pods_on(node.name))
