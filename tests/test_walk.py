"""The request walk: the lesson's cross-node flow, every CNI, the reply, and the frames."""

from __future__ import annotations

import builtins
from collections import Counter
from ipaddress import IPv4Address

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from k8snet_lesson import cni, frames, walk
from k8snet_lesson.walk import HopKind, Rewrite, StopReason
from k8snet_lesson.cluster import Cluster, Container, ContainerPort, Node, Pod, Service, ServicePort
from k8snet_lesson.errors import InvalidValue, NotFound

A = IPv4Address


def app(namespace: str, name: str, node: str, ip: str, label: str, port: int = 3000) -> Pod:
    return Pod(
        namespace,
        name,
        labels={"app": label},
        node_name=node,
        pod_ip=ip,
        containers=(Container("app", ports=(ContainerPort(port),)),),
    )


# The lesson's "Cross-Node Request Flow": Pod A (checkout-api, 10.244.1.5) on node 1
# (192.168.0.10), Pod B (payment-api, 10.244.2.8) on node 2 (192.168.0.11), listening on
# 3000; the Service's ClusterIP is 10.96.214.88:80.
TWO_NODES = Cluster(
    nodes=(Node("node-1", "192.168.0.10", "10.244.1.0/24"), Node("node-2", "192.168.0.11", "10.244.2.0/24")),
    pods=(
        app("production", "checkout-api", "node-1", "10.244.1.5", "checkout-api", 8080),
        app("production", "payment-api", "node-2", "10.244.2.8", "payment-api"),
        app("production", "payment-api-local", "node-1", "10.244.1.9", "payment-local"),
    ),
    services=(
        Service("production", "payment-api-svc", selector={"app": "payment-api"}, cluster_ip="10.96.214.88", ports=(ServicePort(80, 3000),)),
        Service("production", "local-svc", selector={"app": "payment-local"}, cluster_ip="10.96.0.50", ports=(ServicePort(80, 3000),)),
        Service("production", "self-svc", selector={"app": "checkout-api"}, cluster_ip="10.96.0.60", ports=(ServicePort(80, 8080),)),
        Service("production", "empty-svc", selector={"app": "nobody"}, cluster_ip="10.96.0.70", ports=(ServicePort(80, 3000),)),
    ),
)
CLIENT = "production/checkout-api"
ALL = list(cni.profiles())

needs_scapy = pytest.mark.skipif(not frames.scapy_available(), reason="scapy is not installed")


def outer_hops(w: walk.Walk) -> list[walk.Hop]:
    return [h for h in w.hops if h.outer is not None]


# --- the lesson's acceptance check -----------------------------------------------------------
def test_lesson_flow_dnat_vxlan_and_real_source_ip() -> None:
    w = walk.request(TWO_NODES, CLIENT, "10.96.214.88", 80)
    assert w.delivered and w.server.key == "production/payment-api"
    # kube-proxy's DNAT on node 1: 10.96.214.88:80 -> 10.244.2.8:3000.
    dnat = [h for h in w.hops if h.rewrite is Rewrite.DNAT]
    assert len(dnat) == 1 and dnat[0].node == "node-1" and dnat[0].kind is HopKind.NAT
    assert (dnat[0].table, dnat[0].chain) == ("nat", "PREROUTING")
    before = w.hops[dnat[0].index - 1].inner
    assert (before.dst_ip, before.dst_port) == (A("10.96.214.88"), 80)
    assert (dnat[0].inner.dst_ip, dnat[0].inner.dst_port) == (A("10.244.2.8"), 3000)
    # Flannel's VXLAN: UDP 8472 from node 1 to node 2, VNI 1.
    wrapped = outer_hops(w)
    assert wrapped, "the packet crosses the node network encapsulated"
    for hop in wrapped:
        assert (hop.outer.src_ip, hop.outer.dst_ip) == (A("192.168.0.10"), A("192.168.0.11"))
        assert (hop.outer.encapsulation, hop.outer.dst_port, hop.outer.vni) == (cni.Encapsulation.VXLAN, 8472, 1)
    assert any(h.node is None and h.kind is HopKind.WIRE for h in wrapped)
    # Pod B sees Pod A's real IP (rule 4), on port 3000.
    assert (w.arrived.src_ip, w.arrived.dst_ip, w.arrived.dst_port) == (A("10.244.1.5"), A("10.244.2.8"), 3000)
    assert (w.hops[-1].kind, w.hops[-1].node) == (HopKind.RECEIVE, "node-2")
    assert not [h for h in w.hops if h.rewrite is Rewrite.MASQUERADE]


def test_lesson_scenario_manifests() -> None:
    # The same flow read from data/two-node-flow.yaml, under the CNI the manifests name.
    from k8snet_lesson.scenarios import two_node_flow

    cluster = two_node_flow()
    pod_a = next(p for p in cluster.pods if p.pod_ip == A("10.244.1.5"))
    w = walk.request(cluster, pod_a, "10.96.214.88", 80, cni=cluster.cni)
    assert w.cni.name == "flannel" and w.delivered
    assert (w.arrived.src_ip, w.arrived.dst_ip, w.arrived.dst_port) == (A("10.244.1.5"), A("10.244.2.8"), 3000)
    wrapped = outer_hops(w)
    assert wrapped and {(h.outer.src_ip, h.outer.dst_ip, h.outer.dst_port) for h in wrapped} == {
        (A("192.168.0.10"), A("192.168.0.11"), 8472)
    }


def test_reply_comes_back_from_the_cluster_ip() -> None:
    w = walk.request(TWO_NODES, CLIENT, "10.96.214.88", 80)
    first, last = w.reply[0], w.reply[-1]
    # The server answers its peer as it saw it...
    assert (first.inner.src_ip, first.inner.src_port) == (A("10.244.2.8"), 3000)
    assert (first.inner.dst_ip, first.inner.dst_port) == (w.arrived.src_ip, w.arrived.src_port)
    # ...and conntrack on node 1 reverses the DNAT: the client sees the address it dialled.
    assert (last.inner.src_ip, last.inner.src_port) == (A("10.96.214.88"), 80)
    assert (last.inner.dst_ip, last.inner.dst_port) == (A("10.244.1.5"), w.hops[0].inner.src_port)
    assert last.node == "node-1" and last.inner.tcp_flags == "SA"
    assert [h.node for h in w.reply if h.rewrite is Rewrite.REPLY_UNDO_DNAT] == ["node-1"]


# --- every CNI ----------------------------------------------------------------------------------
# name, outer encapsulation between nodes, outer destination port, VNI, hops inside a tunnel
CROSS_NODE = [
    ("flannel", cni.Encapsulation.VXLAN, 8472, 1),
    ("calico", None, None, None),
    ("calico-ipip", cni.Encapsulation.IPIP, None, None),
    ("calico-vxlan", cni.Encapsulation.VXLAN, 4789, 4096),
    ("cilium", cni.Encapsulation.VXLAN, 8472, walk.security_identity(TWO_NODES.pod(CLIENT))),
    ("aws-vpc", None, None, None),
]


@pytest.mark.parametrize("name,encapsulation,port,vni", CROSS_NODE)
def test_cross_node_per_cni(name, encapsulation, port, vni) -> None:
    w = walk.request(TWO_NODES, CLIENT, "payment-api-svc", 80, cni=name)
    assert w.delivered and w.nodes == ("node-1", "node-2")
    wrapped = outer_hops(w)
    if encapsulation is None:
        assert not wrapped
    else:
        assert {h.outer.encapsulation for h in wrapped} == {encapsulation}
        assert {(h.outer.dst_port, h.outer.vni) for h in wrapped} == {(port, vni)}
    assert w.arrived.src_ip == A("10.244.1.5")  # rule 4 under every plugin
    assert (w.arrived.dst_ip, w.arrived.dst_port) == (A("10.244.2.8"), 3000)


@pytest.mark.parametrize("name", [n for n in ALL if n != "cilium"])
def test_kube_proxy_cnis_dnat_on_the_clients_node(name: str) -> None:
    w = walk.request(TWO_NODES, CLIENT, "payment-api-svc", 80, cni=name)
    assert w.hops[0].inner.dst_ip == A("10.96.214.88")  # the pod dials the ClusterIP
    assert [(h.node, h.table, h.chain) for h in w.hops if h.rewrite is Rewrite.DNAT] == [("node-1", "nat", "PREROUTING")]
    assert w.reply_arrived.src_ip == A("10.96.214.88")


def test_cilium_rewrites_at_connect_and_never_dnats_on_the_wire() -> None:
    w = walk.request(TWO_NODES, CLIENT, "payment-api-svc", 80, cni="cilium")
    # The very first packet already goes to the backend.
    assert (w.hops[0].inner.dst_ip, w.hops[0].inner.dst_port) == (A("10.244.2.8"), 3000)
    assert w.hops[0].rewrite is Rewrite.SOCKET_LB
    assert not [h for h in w.all_hops if h.kind is HopKind.NAT or h.table is not None]
    assert not w.rules or all(h.inner.dst_ip != A("10.96.214.88") for h in w.hops)
    # No hop ever carries the ClusterIP, and the socket reports the ClusterIP as its peer.
    assert all(A("10.96.214.88") not in (h.inner.src_ip, h.inner.dst_ip) for h in w.all_hops)
    # the socket reports the ClusterIP as its peer: the reply's last hop names the address dialled
    assert f"{w.service.cluster_ip}:{w.service_port.port}" in w.reply[-1].action


@pytest.mark.parametrize("name", ["flannel", "calico", "calico-ipip", "calico-vxlan", "aws-vpc"])
def test_ttl_drops_once_per_routing_node(name: str) -> None:
    w = walk.request(TWO_NODES, CLIENT, "payment-api-svc", 80, cni=name)
    assert w.hops[0].inner.ttl == 64 and w.arrived.ttl == 62
    assert w.reply[0].inner.ttl == 64 and w.reply_arrived.ttl == 62


@pytest.mark.parametrize("name", ALL)
def test_same_node_stays_on_the_node_without_encapsulation(name: str) -> None:
    w = walk.request(TWO_NODES, CLIENT, "local-svc", 80, cni=name)
    assert w.delivered and w.same_node and w.nodes == ("node-1",)
    assert not w.encapsulated
    assert all(h.node == "node-1" for h in w.all_hops)
    assert w.arrived.dst_ip == A("10.244.1.9") and w.arrived.src_ip == A("10.244.1.5")
    if cni.profile(name).attachment is cni.Attachment.BRIDGE:
        assert any(h.kind is HopKind.BRIDGE for h in w.hops)


def test_same_node_pod_ip_is_bridged_not_routed_under_flannel() -> None:
    w = walk.request(TWO_NODES, CLIENT, "10.244.1.9", 3000, cni="flannel")
    assert w.arrived.ttl == 64  # on-link: the bridge forwards, nothing routes
    assert w.hops[0].inner.dst_mac == cni.pod_mac(TWO_NODES.pod("production/payment-api-local"))
    routed = walk.request(TWO_NODES, CLIENT, "10.244.1.9", 3000, cni="calico")
    assert routed.arrived.ttl == 63  # /32 and 169.254.1.1: every packet is routed


def test_pod_ip_destination_is_not_translated() -> None:
    w = walk.request(TWO_NODES, CLIENT, "10.244.2.8", 3000)
    assert w.service is None and w.server.key == "production/payment-api"
    assert all(h.inner.dst_ip == A("10.244.2.8") for h in w.hops)
    assert w.reply_arrived.src_ip == A("10.244.2.8")


def test_hairpin_is_masqueraded_and_reversed() -> None:
    # A pod reaching itself through its own Service: kube-proxy marks it for masquerade,
    # or the pod would answer itself directly and the connection would break.
    w = walk.request(TWO_NODES, CLIENT, "self-svc", 80)
    assert w.delivered and w.masqueraded
    assert w.arrived.src_ip != A("10.244.1.5")
    assert w.arrived.src_ip == A("10.244.1.1")  # cni0's address, the interface it leaves by
    assert (w.reply_arrived.src_ip, w.reply_arrived.dst_ip) == (A("10.96.0.60"), A("10.244.1.5"))


def test_service_without_endpoints_stops_at_the_reject() -> None:
    w = walk.request(TWO_NODES, CLIENT, "empty-svc", 80)
    assert not w.delivered and not w.reply
    last = w.hops[-1]
    assert (last.kind, last.stop, last.table, last.chain) == (HopKind.STOP, StopReason.REJECT, "filter", "KUBE-SERVICES")
    assert w.stopped is StopReason.REJECT and "connection refused" in w.outcome


def test_stale_kube_proxy_leaves_the_cluster_ip_unanswered() -> None:
    stale = TWO_NODES.with_node(TWO_NODES.node("node-1").with_(kube_proxy_synced=False))
    w = walk.request(stale, CLIENT, "payment-api-svc", 80)
    assert not w.delivered and "has not synced" in w.outcome and "timed out" in w.outcome
    last = w.hops[-1]
    assert (last.kind, last.stop, last.table, last.chain) == (HopKind.STOP, StopReason.NO_RULE, "nat", "PREROUTING")
    assert w.stopped is StopReason.NO_RULE


def test_same_endpoint_as_connect_for_the_same_seed() -> None:
    from k8snet_lesson.connect import connect

    cluster = three_backends()
    for seed in range(12):
        chosen = connect(cluster, CLIENT, A("10.96.0.80"), 80, seed=seed).endpoint
        arrived = walk.request(cluster, CLIENT, "10.96.0.80", 80, seed=seed).arrived
        assert chosen == (arrived.dst_ip, arrived.dst_port)


# --- names, seeds and errors ----------------------------------------------------------------
@pytest.mark.parametrize(
    "destination",
    ["payment-api-svc", "production/payment-api-svc", "payment-api-svc.production", "payment-api-svc.production.svc",
     "payment-api-svc.production.svc.cluster.local", "10.96.214.88", A("10.96.214.88")],
)
def test_destination_spellings(destination) -> None:
    w = walk.request(TWO_NODES, CLIENT, destination, 80)
    assert w.service.key == "production/payment-api-svc" and w.arrived.dst_ip == A("10.244.2.8")


def three_backends() -> Cluster:
    pods = tuple(app("production", f"web-{i}", "node-2", f"10.244.2.{10 + i}", "web") for i in range(3))
    service = Service("production", "web", selector={"app": "web"}, cluster_ip="10.96.0.80", ports=(ServicePort(80, 3000),))
    return TWO_NODES.with_(pods=TWO_NODES.pods + pods, services=(service,))


def test_seeded_draw_is_reproducible() -> None:
    cluster = three_backends()
    picks = [walk.request(cluster, CLIENT, "web", 80, seed=s).arrived.dst_ip for s in range(5)]
    assert picks == [walk.request(cluster, CLIENT, "web", 80, seed=s).arrived.dst_ip for s in range(5)]
    assert walk.request(cluster, CLIENT, "web", 80, seed=3).hops[0].inner.src_port == walk.ephemeral_port(
        cluster.pod(CLIENT), 3
    )


def test_draw_follows_the_rules_shares() -> None:
    # Seeds 0..299, three endpoints with share 1/3 each: each must get 70..130 picks
    # (a binomial(300, 1/3) count falls outside that with probability below 1e-5).
    cluster = three_backends()
    counts = Counter(walk.request(cluster, CLIENT, "web", 80, seed=s).arrived.dst_ip for s in range(300))
    assert set(counts) == {A("10.244.2.10"), A("10.244.2.11"), A("10.244.2.12")}
    assert all(70 <= n <= 130 for n in counts.values()), counts


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 10_000), st.sampled_from(ALL))
def test_every_walk_ends_at_an_endpoint(seed: int, name: str) -> None:
    w = walk.request(three_backends(), CLIENT, "web", 80, cni=name, seed=seed)
    assert w.delivered and w.arrived.dst_ip in {A("10.244.2.10"), A("10.244.2.11"), A("10.244.2.12")}
    assert 32768 <= w.hops[0].inner.src_port <= 60999
    assert [h.index for h in w.hops] == list(range(len(w.hops)))


@pytest.mark.parametrize(
    "source,destination,port,error,message",
    [
        ("nobody", "payment-api-svc", 80, NotFound, "no pod 'nobody'"),
        (CLIENT, "no-such-svc", 80, NotFound, "no service 'no-such-svc' as seen from namespace production (services: production/payment-api-svc"),
        (CLIENT, "10.1.2.3", 80, NotFound, "address 10.1.2.3 is neither a ClusterIP nor a pod IP in the cluster (ClusterIPs: 10.96.214.88"),
        (CLIENT, "payment-api-svc", 443, NotFound, "service production/payment-api-svc has no port 443 (ports: 80/TCP)"),
        (CLIENT, "payment-api-svc", 0, InvalidValue, "port 0 is not a port number"),
    ],
)
def test_bad_requests_name_the_value(source, destination, port, error, message) -> None:
    with pytest.raises(error) as info:
        walk.request(TWO_NODES, source, destination, port)
    assert message in str(info.value)


def test_unknown_cni_and_host_network_client() -> None:
    with pytest.raises(NotFound, match="no CNI profile 'weave'"):
        walk.request(TWO_NODES, CLIENT, "payment-api-svc", 80, cni="weave")
    host = Pod("kube-system", "agent", node_name="node-1", host_network=True, pod_ip="192.168.0.10")
    with pytest.raises(InvalidValue, match="hostNetwork"):
        walk.request(TWO_NODES.with_pod(host), host, "payment-api-svc", 80)


# --- frames ---------------------------------------------------------------------------------------
@needs_scapy
@pytest.mark.parametrize("name,overhead", [("flannel", 50), ("calico", 0), ("calico-ipip", 20), ("calico-vxlan", 50), ("cilium", 50), ("aws-vpc", 0)])
def test_frame_sizes_are_measured(name: str, overhead: int) -> None:
    w = walk.request(TWO_NODES, CLIENT, "payment-api-svc", 80, cni=name)
    # A Linux SYN (and SYN-ACK) with its options is 74 bytes on Ethernet.
    plain = {h.frame_bytes for h in w.all_hops if h.outer is None}
    wrapped = {h.frame_bytes for h in w.all_hops if h.outer is not None}
    assert plain == {74}
    assert wrapped == ({74 + overhead} if overhead else set())


@needs_scapy
def test_pcap_of_a_walk_reads_back(tmp_path) -> None:
    from scapy.layers.inet import IP, TCP
    from scapy.layers.vxlan import VXLAN

    w = walk.request(TWO_NODES, CLIENT, "payment-api-svc", 80)
    path = frames.write_pcap(w, tmp_path / "flow.pcap")
    packets = frames.read_pcap(path)
    assert len(packets) == len(w.all_hops)
    assert [len(p) for p in packets] == [h.frame_bytes for h in w.all_hops]
    encapsulated = [p for p in packets if VXLAN in p]
    assert encapsulated and all(p[VXLAN].vni == 1 and p[IP].dst in ("192.168.0.11", "192.168.0.10") for p in encapsulated)
    assert packets[0][IP].dst == "10.96.214.88" and packets[len(w.hops) - 1][IP].dst == "10.244.2.8"
    assert str(packets[len(w.hops)][TCP].flags) == "SA"


def test_without_scapy_the_walk_still_works(monkeypatch) -> None:
    real_import = builtins.__import__

    def no_scapy(name, *args, **kwargs):
        if name.startswith("scapy"):
            raise ImportError(name)
        return real_import(name, *args, **kwargs)

    frames._layers.cache_clear()
    frames.encode.cache_clear()
    monkeypatch.setattr(builtins, "__import__", no_scapy)
    try:
        w = walk.request(TWO_NODES, CLIENT, "payment-api-svc", 80)
    finally:
        monkeypatch.undo()
        frames._layers.cache_clear()
        frames.encode.cache_clear()
    assert w.delivered and w.arrived.src_ip == A("10.244.1.5")
    assert all(h.frame_bytes is None for h in w.all_hops)
    assert any("scapy is not installed" in note for note in w.notes)
