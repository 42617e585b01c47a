"""The lab's plan, without a kernel: names, addresses, Flannel's entries, refusals."""

from __future__ import annotations

import re
from ipaddress import IPv4Address, IPv4Network

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from k8snet_lesson import cni
from k8snet_lesson.cluster import Cluster, Container, ContainerPort, Node, Pod, PodPhase
from k8snet_lesson.errors import InvalidValue
from k8snet_lesson.lab.topology import (
    NODE_NETWORK,
    _check_pods,
    attach_batch,
    build_script,
    check_prefix,
    fdb_batch,
    lab_cluster,
    node_batch,
    plan,
    pod_batch,
)

PREFIX = "k8snet-test01-"


def two_nodes(**pods_extra) -> Cluster:
    """The lesson's two-node flow: nodes 192.168.0.10/.11, Pod A 10.244.1.5, Pod B 10.244.2.8:3000."""
    return Cluster(
        nodes=(Node("node-1", "192.168.0.10", "10.244.1.0/24"), Node("node-2", "192.168.0.11", "10.244.2.0/24")),
        pods=(
            Pod("production", "pod-a", node_name="node-1", pod_ip="10.244.1.5"),
            Pod("production", "pod-b", node_name="node-2", pod_ip="10.244.2.8",
                containers=(Container("app", ports=(ContainerPort(3000),)),)),
        ),
    )  # fmt: skip


def test_nodes_keep_internal_ips_inside_the_node_network():
    topology = plan(two_nodes(), PREFIX)
    assert [(n.name, n.address) for n in topology.nodes] == [
        ("node-1", IPv4Address("192.168.0.10")),
        ("node-2", IPv4Address("192.168.0.11")),
    ]
    assert topology.notes == ()
    # cni0 holds the pod CIDR's .1; flannel.1 holds its .0
    node = topology.node("node-2")
    assert (node.gateway, node.vtep_address) == (IPv4Address("10.244.2.1"), IPv4Address("10.244.2.0"))
    assert topology.upstream == IPv4Address("192.168.0.1")
    assert topology.mtu == 1450  # 1500 less VXLAN's 50 bytes


@pytest.mark.parametrize(
    "ips, renumbered",
    [
        (("192.168.0.10", "192.168.0.11"), False),
        (("192.168.1.10", "192.168.1.11"), True),  # the lesson's 192.168.0.0/16, outside the lab's /24
        (("10.0.0.5", "192.168.0.11"), True),
        (("192.168.0.0", "192.168.0.11"), True),  # the network address is no host
        (("192.168.0.1", "192.168.0.11"), True),  # .1 is the node network's router
        (("192.168.0.255", "192.168.0.11"), True),  # nor is the broadcast a host
    ],
)
def test_renumbering_only_when_needed(ips, renumbered):
    cluster = Cluster(nodes=(Node("a", ips[0], "10.244.1.0/24"), Node("b", ips[1], "10.244.2.0/24")))
    built, notes = lab_cluster(cluster)
    assert bool(notes) is renumbered
    if renumbered:
        assert [n.internal_ip for n in built.nodes] == [IPv4Address("192.168.0.10"), IPv4Address("192.168.0.11")]
        assert notes[0].startswith("node InternalIPs outside 192.168.0.0/24 were renumbered: a ")
    else:
        assert built == cluster


def test_renumbered_nodes_get_the_lab_node_network():
    """A node network wider than a /16 is not one segment the lab can build: renumbered."""
    cluster = Cluster(nodes=(Node("a", "10.0.0.5", "10.244.1.0/24"),), node_network="10.0.0.0/8")
    built, _ = lab_cluster(cluster)
    assert built.node_network == NODE_NETWORK and built.node("a").internal_ip == IPv4Address("192.168.0.10")


def test_nodes_in_their_own_private_node_network_keep_their_addresses():
    """The lesson's cluster: one subnet per zone inside 192.168.0.0/16, built as the model numbers it."""
    cluster = Cluster(nodes=(Node("a", "192.168.1.10", "10.244.1.0/24"), Node("b", "192.168.2.10", "10.244.2.0/24")),
                      node_network="192.168.0.0/16")
    assert lab_cluster(cluster) == (cluster, ())
    outside = Cluster(nodes=(Node("a", "192.168.1.10", "10.244.1.0/24"),), node_network="192.168.1.0/24")
    assert lab_cluster(outside) == (outside, ())
    public = Cluster(nodes=(Node("a", "20.0.1.10", "10.244.1.0/24"),), node_network="20.0.0.0/16")
    assert lab_cluster(public)[0].node("a").internal_ip == IPv4Address("192.168.0.10")


def test_a_wider_node_network_holding_the_lab_one_is_kept():
    """The lesson's node network is 192.168.0.0/16; nodes at 192.168.0.x need no renumbering."""
    cluster = Cluster(nodes=(Node("a", "192.168.0.10", "10.244.1.0/24"),), node_network="192.168.0.0/16")
    assert lab_cluster(cluster) == (cluster, ())


def test_host_network_pods_follow_their_renumbered_node():
    cluster = Cluster(
        nodes=(Node("a", "10.0.0.5", "10.244.1.0/24"),),
        pods=(Pod("kube-system", "kube-proxy-x", node_name="a", pod_ip="10.0.0.5", host_network=True),),
    )
    topology = plan(cluster, PREFIX)
    pod = topology.pod("kube-proxy-x")
    assert pod.host_network and pod.address == IPv4Address("192.168.0.10") and pod.netns == topology.node("a").netns
    assert pod.netns in topology.namespaces and topology.namespaces.count(pod.netns) == 1


def test_flannel_entries_for_the_remote_lease():
    """What flanneld programs on node-1 for node-2's lease (10.244.2.0/24 at 192.168.0.11)."""
    topology = plan(two_nodes(), PREFIX)
    node1, node2 = topology.nodes
    batch = node_batch(topology, node1).splitlines()
    assert "route add 10.244.2.0/24 via 10.244.2.0 dev flannel.1 onlink" in batch
    assert f"neigh add 10.244.2.0 lladdr {node2.vtep_mac} dev flannel.1 nud permanent" in batch
    assert (
        f"link add flannel.1 address {node1.vtep_mac} type vxlan id 1 local 192.168.0.10 dev eth0 dstport 8472 nolearning"
        in batch
    )
    assert "addr add 10.244.1.0/32 dev flannel.1" in batch
    assert "addr add 10.244.1.1/24 brd + dev cni0" in batch
    assert "addr add 192.168.0.10/24 brd + dev eth0" in batch
    assert "route add default via 192.168.0.1 dev eth0" in batch
    # flannel.1 before cni0, the order the CNI model numbers them in
    assert batch.index(next(l for l in batch if l.startswith("link add flannel.1"))) < batch.index(
        next(l for l in batch if l.startswith("link add cni0"))
    )
    # the VTEP MACs are the CNI model's
    assert node2.vtep_mac == str(cni.device_mac(two_nodes().node("node-2"), "flannel.1"))
    # a node has no route over flannel.1 to its own pod CIDR
    assert not any(line.startswith("route add 10.244.1.0/24") for line in batch)
    assert fdb_batch(topology, node1) == f"fdb add {node2.vtep_mac} dev flannel.1 dst 192.168.0.11 self permanent\n"


def test_pod_batch_is_flannel_style():
    """A Flannel pod: a /24 on eth0, default via the cni0 gateway, the cluster CIDR via it too."""
    topology = plan(two_nodes(), PREFIX)
    pod = topology.pod("pod-b")
    model_pod = two_nodes().pod("pod-b")
    veth = cni.host_veth_name("flannel", "production", "pod-b")
    assert pod.veth == veth and pod.mac == str(cni.pod_mac(model_pod))
    assert pod_batch(topology, pod) == (
        "link set lo up\n"
        f"link add eth0 address {pod.mac} mtu 1450 type veth peer name {veth} "
        f"address {cni.host_veth_mac(model_pod, 'flannel')} mtu 1450\n"
        f"link set {veth} netns {PREFIX}node-node-2\n"
        "addr add 10.244.2.8/24 brd + dev eth0\n"
        "link set eth0 up\n"
        "route add default via 10.244.2.1 dev eth0\n"
        "route add 10.244.0.0/16 via 10.244.2.1 dev eth0\n"
    )
    assert attach_batch(topology, topology.node("node-2")) == f"link set {veth} master cni0\nlink set {veth} up\n"


def test_build_script_names_a_lab_namespace_in_every_command():
    script = build_script(plan(two_nodes(), PREFIX))
    for line in script.splitlines():
        if line.startswith(("ip ", "bridge ")):
            assert re.match(rf"^(ip|bridge) (-n|netns add|netns exec) {PREFIX}\S+( |$)", line), line
    # sysctls only ever run under `ip netns exec <lab namespace>`
    assert all(line.startswith(f"ip netns exec {PREFIX}") for line in script.splitlines() if "sysctl" in line)
    assert "net.bridge.bridge-nf-call-iptables=1" in script and "net.ipv4.icmp_ratelimit=0" in script


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda c: c.with_pod(c.pod("pod-b").with_pod_ip("10.244.1.5").with_(node_name="node-1")),
         "pods production/pod-a and production/pod-b share the IP 10.244.1.5"),
        (lambda c: c.with_pod(c.pod("pod-b").with_pod_ip("10.244.3.8")),
         "pod production/pod-b IP 10.244.3.8 is outside node node-2's pod CIDR 10.244.2.0/24"),
        (lambda c: c.with_pod(c.pod("pod-b").with_pod_ip("10.244.2.1")),
         "pod production/pod-b IP 10.244.2.1 is reserved in 10.244.2.0/24"),
        (lambda c: c.with_node(c.node("node-2").with_(pod_cidr="10.244.0.0/16")),
         "pod CIDRs of nodes node-1 (10.244.1.0/24) and node-2 (10.244.0.0/16) overlap"),
        (lambda c: c.with_pod(c.pod("pod-b").with_(node_name="node-9")),
         "pod production/pod-b runs on node 'node-9', which is not in the cluster"),
        (lambda c: c.with_node(c.node("node-2").with_(pod_cidr=None)),
         "node node-2 has no podCIDR"),
    ],
)  # fmt: skip
def test_refusals_name_the_objects(change, message):
    with pytest.raises(InvalidValue) as info:
        plan(change(two_nodes()), PREFIX)
    assert message in str(info.value)


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda c: c.with_pod(c.pod("pod-b").with_pod_ip(None)),
         "pod production/pod-b has no pod IP: the lab builds only pods with an address"),
        (lambda c: c.with_node(c.node("node-2").with_(pod_cidr=None)),
         "pod production/pod-b runs on node node-2, which has no podCIDR to give it an IP from"),
    ],
)  # fmt: skip
def test_pod_checks_refuse_what_plan_filters_out_first(change, message):
    """plan() leaves out pods without an IP and refuses nodes without a CIDR before _check_pods;
    called on its own, the check still says what is wrong instead of failing an assert."""
    cluster = change(two_nodes())
    with pytest.raises(InvalidValue, match=re.escape(message)):
        _check_pods(cluster, list(cluster.pods))


def test_pods_that_are_not_running_are_left_out():
    cluster = two_nodes().with_pod(Pod("production", "done", node_name="node-1", pod_ip="10.244.1.9", phase=PodPhase.SUCCEEDED))
    assert [p.name for p in plan(cluster, PREFIX).pods] == ["pod-a", "pod-b"]


@pytest.mark.parametrize("prefix", ["k8snet-", "k8snet-ABC-", "k8snet-0123456789abc-", "other-01-", "k8snet-01"])
def test_bad_prefixes(prefix):
    with pytest.raises(InvalidValue):
        check_prefix(prefix)


@st.composite
def clusters(draw):
    n_nodes = draw(st.integers(1, 6))
    thirds = draw(st.lists(st.integers(0, 255), min_size=n_nodes, max_size=n_nodes, unique=True))
    hosts = draw(st.lists(st.integers(2, 254), min_size=n_nodes, max_size=n_nodes, unique=True))
    nodes = tuple(Node(f"node-{i}", f"192.168.0.{h}", f"10.244.{t}.0/24") for i, (t, h) in enumerate(zip(thirds, hosts)))
    pods = []
    for i, node in enumerate(nodes):
        offsets = draw(st.lists(st.integers(2, 254), max_size=5, unique=True))
        for j, offset in enumerate(offsets):
            pods.append(Pod("ns", f"p-{i}-{j}", node_name=node.name, pod_ip=node.pod_cidr.network_address + offset))
    return Cluster(nodes=nodes, pods=tuple(pods))


@settings(max_examples=60, deadline=None)
@given(clusters())
def test_plan_invariants(cluster):
    topology = plan(cluster, PREFIX)
    names = topology.namespaces
    assert len(set(names)) == len(names) and all(n.startswith(PREFIX) for n in names)
    assert all(node.address in NODE_NETWORK for node in topology.nodes)
    assert len({n.address for n in topology.nodes} | {topology.upstream}) == len(topology.nodes) + 1
    for pod in topology.pods:
        node = topology.node(pod.node)
        assert pod.address in node.pod_cidr and pod.address not in (node.gateway, node.vtep_address)
    assert all(isinstance(n.pod_cidr, IPv4Network) for n in topology.nodes)
    script = build_script(topology)
    # each node: a default route and one per remote lease; each pod: default and cluster CIDR
    assert script.count("route add ") == len(topology.nodes) ** 2 + 2 * len(topology.pods)


def test_another_cni_is_built_as_flannel_and_said_so():
    cluster = two_nodes().with_(cni="calico")
    built, notes = lab_cluster(cluster)
    assert built.cni == "flannel"
    assert notes == ("the lab builds Flannel's VXLAN network; the cluster's CNI calico is replaced by flannel",)
