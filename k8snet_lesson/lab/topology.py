"""The lab's plan: which namespaces, links, addresses and routes a Cluster becomes.

Pure functions over :mod:`k8snet_lesson.cluster` values; nothing here touches the
kernel. :func:`plan` turns a Cluster into a :class:`Topology`, and
:func:`build_script` turns that into the shell text (``ip -batch`` per namespace,
``bridge -batch`` for fdb entries, ``sysctl`` inside each namespace) that
:mod:`k8snet_lesson.lab.cluster` runs inside the lab's private namespaces.

What it builds, as Flannel's VXLAN backend and the CNI bridge plugin do on a real node:

- one network namespace per node; the node network is a bridge (``br0``) in a
  dedicated *underlay* namespace, each node's ``eth0`` a veth into it;
- a ``cni0`` bridge per node holding the pod CIDR's gateway (``.1``), one namespace
  per pod whose ``eth0`` is a veth on ``cni0`` with the pod IP from the model and
  ``default via .1`` (Flannel's pods get their /24 and gateway; the lesson's ``/32``
  and ``169.254.1.1`` are Calico's way);
- ``flannel.1``: VXLAN, VNI 1, UDP 8472, ``nolearning``, address ``<podcidr>.0/32``,
  and for every other node the three entries flanneld programs for its lease:
  route ``<podcidr> via <podcidr>.0 dev flannel.1 onlink``, neighbour
  ``<podcidr>.0 lladdr <remote VTEP MAC>``, fdb ``<remote VTEP MAC> dst <remote node IP>``;
- node sysctls: ``ip_forward=1``, ``bridge-nf-call-iptables=1`` (kube-proxy needs
  bridged pod traffic to pass iptables), ICMP rate limits off (REJECT answers at once);
- every node's default route points at an address on the node network that nobody
  holds (a dead upstream router), so packets to a ClusterIP without endpoints are
  routed and kube-proxy's filter-table REJECT fires.

What it simplifies: VTEP MACs, veth names and pod MACs are derived from hashes and
addresses so every build is the same (flanneld and the kernel pick random ones; the
pod MAC follows the bridge plugin's old ``0a:58:<pod IP>`` scheme); hostNetwork pods
run in their node's namespace; pods without an IP or node, or not Running, are left
out. Flannel's own iptables rules (masquerade to outside the cluster) are not
installed: nothing in the lab leaves the cluster.

    >>> from k8snet_lesson.cluster import Cluster, Node
    >>> topology = plan(Cluster(nodes=(Node("a", "10.0.0.5", "10.244.1.0/24"),
    ...                                Node("b", "10.0.0.6", "10.244.2.0/24"))), "k8snet-0a1b2c-")
    >>> [(n.name, str(n.address), str(n.vtep_address)) for n in topology.nodes]
    [('a', '192.168.0.10', '10.244.1.0'), ('b', '192.168.0.11', '10.244.2.0')]
    >>> topology.notes[0]
    'node InternalIPs outside 192.168.0.0/24 were renumbered: a 10.0.0.5 -> 192.168.0.10, b 10.0.0.6 -> 192.168.0.11'
"""

from __future__ import annotations

import dataclasses
import hashlib
import re
from ipaddress import IPv4Address, IPv4Network

from ..cluster import Cluster, Node, Pod, PodPhase
from ..errors import InvalidValue

__all__ = [
    "NODE_NETWORK",
    "VXLAN_PORT",
    "VNI",
    "VXLAN_DEVICE",
    "BRIDGE",
    "UNDERLAY_MTU",
    "VXLAN_OVERHEAD",
    "NodeNet",
    "PodNet",
    "Topology",
    "check_prefix",
    "lab_cluster",
    "plan",
    "build_script",
    "veth_name",
    "pod_mac",
    "vtep_mac",
]

NODE_NETWORK = IPv4Network("192.168.0.0/24")
VXLAN_PORT = 8472  # Flannel's default (the Linux kernel's historical VXLAN port), not IANA's 4789
VNI = 1
VXLAN_DEVICE = "flannel.1"
BRIDGE = "cni0"
UNDERLAY_MTU = 1500
# outer Ethernet 14 + IPv4 20 + UDP 8 + VXLAN 8: the kernel sizes flannel.1's MTU from it
VXLAN_OVERHEAD = 50

_PREFIX = re.compile(r"^k8snet-[0-9a-z]{1,12}-$")
_IFNAMSIZ = 15


def check_prefix(prefix: str) -> str:
    """Return ``prefix`` if it is a lab run prefix (``k8snet-<1-12 of a-z0-9>-``), else raise.

    Every namespace name and every process command line of a run carries it, which is
    how a run's leftovers are found and only those are removed.

    >>> check_prefix("k8snet-0a1b2c-")
    'k8snet-0a1b2c-'
    >>> check_prefix("prod-")
    Traceback (most recent call last):
    ...
    k8snet_lesson.errors.InvalidValue: lab prefix 'prod-' is not of the form k8snet-<1-12 of a-z 0-9>-
    """
    if not isinstance(prefix, str) or not _PREFIX.match(prefix):
        raise InvalidValue(f"lab prefix {prefix!r} is not of the form k8snet-<1-12 of a-z 0-9>-")
    return prefix


def _digest(text: str) -> bytes:
    return hashlib.sha256(text.encode()).digest()


def veth_name(pod_key: str) -> str:
    """The node-side veth of a pod: ``veth`` + 8 hex digits (the bridge plugin's shape).

    >>> veth_name("production/checkout-api-6f8b9d-2xkpj")
    'veth35453acf'
    """
    return "veth" + _digest(pod_key).hex()[:8]


def pod_mac(address: IPv4Address) -> str:
    """A pod's eth0 MAC: ``0a:58`` then the four bytes of its IP (CNI's ``hwaddr`` scheme).

    >>> pod_mac(IPv4Address("10.244.2.14"))
    '0a:58:0a:f4:02:0e'
    """
    return ":".join(f"{b:02x}" for b in (0x0A, 0x58, *address.packed))


def vtep_mac(node_name: str) -> str:
    """A node's ``flannel.1`` MAC: locally administered, unicast, from the node's name.

    >>> vtep_mac("node-eu-west-1a")
    '5a:f8:a1:af:50:ed'
    """
    raw = bytearray(_digest("vtep/" + node_name)[:6])
    raw[0] = (raw[0] & 0xFC) | 0x02  # unicast, locally administered
    return ":".join(f"{b:02x}" for b in raw)


@dataclasses.dataclass(frozen=True)
class NodeNet:
    """A node as the lab builds it."""

    name: str
    netns: str
    address: IPv4Address  # on the lab's node network (the Node's InternalIP, or renumbered)
    pod_cidr: IPv4Network
    vtep_mac: str
    underlay_port: str  # the other end of the node's eth0, in the underlay namespace

    @property
    def gateway(self) -> IPv4Address:
        """``cni0``'s address and the pods' default gateway: the pod CIDR's ``.1``."""
        return self.pod_cidr.network_address + 1

    @property
    def vtep_address(self) -> IPv4Address:
        """``flannel.1``'s address: the pod CIDR's network address (``.0/32``)."""
        return self.pod_cidr.network_address


@dataclasses.dataclass(frozen=True)
class PodNet:
    """A pod as the lab builds it (``host_network`` pods live in their node's namespace)."""

    namespace: str
    name: str
    node: str
    netns: str
    address: IPv4Address
    host_network: bool = False

    @property
    def key(self) -> str:
        return f"{self.namespace}/{self.name}"

    @property
    def veth(self) -> str:
        return veth_name(self.key)

    @property
    def mac(self) -> str:
        return pod_mac(self.address)


@dataclasses.dataclass(frozen=True)
class Topology:
    """Everything the lab creates for one run, named under one prefix."""

    prefix: str
    nodes: tuple[NodeNet, ...]
    pods: tuple[PodNet, ...]
    upstream: IPv4Address  # the nodes' default gateway that nobody holds
    node_network: IPv4Network = NODE_NETWORK
    notes: tuple[str, ...] = ()

    @property
    def underlay_netns(self) -> str:
        return f"{self.prefix}underlay"

    @property
    def namespaces(self) -> tuple[str, ...]:
        """Every lab namespace, underlay first, then nodes, then pods (the creation order)."""
        own = [p.netns for p in self.pods if not p.host_network]
        return (self.underlay_netns, *(n.netns for n in self.nodes), *own)

    @property
    def mtu(self) -> int:
        """Flannel's pod MTU: the node network's MTU less VXLAN's 50 bytes."""
        return UNDERLAY_MTU - VXLAN_OVERHEAD

    def node(self, name: str) -> NodeNet:
        for node in self.nodes:
            if node.name == name:
                return node
        raise InvalidValue(f"no node {name!r} in the lab (nodes: {', '.join(n.name for n in self.nodes)})")

    def pod(self, key: str) -> PodNet:
        """A pod by ``namespace/name`` (or by name alone when that is unique)."""
        matches = [p for p in self.pods if p.key == key or ("/" not in key and p.name == key)]
        if len(matches) != 1:
            known = ", ".join(p.key for p in self.pods) or "none"
            raise InvalidValue(f"no single pod {key!r} in the lab (pods: {known})")
        return matches[0]

    def pods_on(self, node_name: str) -> tuple[PodNet, ...]:
        return tuple(p for p in self.pods if p.node == node_name)


def _buildable(pod: Pod) -> bool:
    return pod.pod_ip is not None and pod.node_name is not None and pod.phase == PodPhase.RUNNING


def lab_cluster(cluster: Cluster) -> tuple[Cluster, tuple[str, ...]]:
    """The cluster the lab builds: ``cluster`` with its nodes on 192.168.0.0/24.

    Nodes keep their InternalIPs when all of them lie in 192.168.0.0/24 (the lab's
    node network) and none is the network, broadcast or upstream address; otherwise
    every node is renumbered to 192.168.0.10, .11, ... in order, hostNetwork pods follow
    their node, and a note says so. Pod IPs, pod CIDRs and Services are never changed.
    Nodes without a pod CIDR cannot host pods and are an error.
    """
    if not cluster.nodes:
        raise InvalidValue("the cluster has no nodes to build")
    for node in cluster.nodes:
        if node.pod_cidr is None:
            raise InvalidValue(f"node {node.name} has no podCIDR: the lab cannot give its pods a bridge")
    taken = {node.internal_ip for node in cluster.nodes}
    reserved = {NODE_NETWORK.network_address, NODE_NETWORK.broadcast_address, _upstream(taken)}
    fits = len(taken) == len(cluster.nodes) and all(
        ip in NODE_NETWORK and ip not in reserved for ip in taken
    )
    if fits:
        return cluster, ()
    if len(cluster.nodes) > 200:
        raise InvalidValue(f"{len(cluster.nodes)} nodes do not fit the lab's node network {NODE_NETWORK}")
    mapping = {node.internal_ip: NODE_NETWORK.network_address + 10 + i for i, node in enumerate(cluster.nodes)}
    nodes = tuple(node.with_(internal_ip=mapping[node.internal_ip]) for node in cluster.nodes)
    pods = tuple(
        pod.with_pod_ip(mapping[pod.pod_ip]) if pod.host_network and pod.pod_ip in mapping else pod
        for pod in cluster.pods
    )
    moves = ", ".join(f"{old.name} {old.internal_ip} -> {new.internal_ip}" for old, new in zip(cluster.nodes, nodes))
    note = f"node InternalIPs outside {NODE_NETWORK} were renumbered: {moves}"
    return cluster.with_(nodes=nodes, pods=pods), (note,)


def _upstream(node_ips: set[IPv4Address]) -> IPv4Address:
    """The dead default gateway: .1 of the node network unless a node holds it, else .254."""
    first = NODE_NETWORK.network_address + 1
    return first if first not in node_ips else NODE_NETWORK.broadcast_address - 1


def _check_pods(cluster: Cluster, pods: list[Pod]) -> None:
    seen: dict[IPv4Address, str] = {}
    for pod in pods:
        node = cluster.node_of(pod)
        if pod.host_network:
            continue
        assert node.pod_cidr is not None and pod.pod_ip is not None
        if pod.pod_ip not in node.pod_cidr:
            raise InvalidValue(f"pod {pod.key} IP {pod.pod_ip} is outside node {node.name}'s pod CIDR {node.pod_cidr}")
        if pod.pod_ip in (node.pod_cidr.network_address, node.pod_cidr.network_address + 1, node.pod_cidr.broadcast_address):
            raise InvalidValue(f"pod {pod.key} IP {pod.pod_ip} is reserved in {node.pod_cidr} (network, cni0 gateway or broadcast)")
        if pod.pod_ip in seen:
            raise InvalidValue(f"pods {seen[pod.pod_ip]} and {pod.key} share the IP {pod.pod_ip}")
        seen[pod.pod_ip] = pod.key


def _netns_name(prefix: str, pod: Pod) -> str:
    return f"{prefix}pod-{pod.namespace}-{pod.name}"


def plan(cluster: Cluster, prefix: str) -> Topology:
    """The lab topology of ``cluster`` (after :func:`lab_cluster`) under run ``prefix``.

    Two pods with the same IP, a pod IP outside its node's pod CIDR or on its reserved
    addresses, and overlapping pod CIDRs are errors naming the objects: the kernel
    would accept some of them and then misroute, so the lab refuses to build them.
    """
    check_prefix(prefix)
    built, notes = lab_cluster(cluster)
    cidrs = [(n.name, n.pod_cidr) for n in built.nodes]
    for i, (name_a, cidr_a) in enumerate(cidrs):
        for name_b, cidr_b in cidrs[i + 1 :]:
            if cidr_a.overlaps(cidr_b):  # type: ignore[union-attr]
                raise InvalidValue(f"pod CIDRs of nodes {name_a} ({cidr_a}) and {name_b} ({cidr_b}) overlap")
    nodes = tuple(
        NodeNet(
            name=node.name,
            netns=f"{prefix}node-{node.name}",
            address=node.internal_ip,
            pod_cidr=node.pod_cidr,  # type: ignore[arg-type]
            vtep_mac=vtep_mac(node.name),
            underlay_port=f"node{i}",
        )
        for i, node in enumerate(built.nodes)
    )
    by_name = {n.name: n for n in nodes}
    pods = [p for p in built.pods if _buildable(p)]
    for pod in pods:
        if pod.node_name not in by_name:
            raise InvalidValue(f"pod {pod.key} runs on node {pod.node_name!r}, which is not in the cluster")
    _check_pods(built, pods)
    pod_nets = tuple(
        PodNet(
            namespace=pod.namespace,
            name=pod.name,
            node=pod.node_name,  # type: ignore[arg-type]
            netns=by_name[pod.node_name].netns if pod.host_network else _netns_name(prefix, pod),  # type: ignore[index]
            address=by_name[pod.node_name].address if pod.host_network else pod.pod_ip,  # type: ignore[arg-type,index]
            host_network=pod.host_network,
        )
        for pod in pods
    )
    veths = [p.veth for p in pod_nets if not p.host_network]
    if len(set(veths)) != len(veths):  # pragma: no cover - a sha256 prefix collision
        raise InvalidValue("two pods hash to the same veth name")
    upstream = _upstream({n.address for n in nodes})
    return Topology(prefix=prefix, nodes=nodes, pods=pod_nets, upstream=upstream, notes=notes)


# --- the build, as shell text ------------------------------------------------------

_NODE_SYSCTLS = (
    "net.ipv4.ip_forward=1",
    "net.bridge.bridge-nf-call-iptables=1",
    "net.ipv4.conf.all.rp_filter=0",
    "net.ipv4.conf.default.rp_filter=0",
)
# Every lab namespace answers at once: REJECT and port-unreachable replies are not rate limited.
_ICMP_SYSCTLS = (
    "net.ipv4.icmp_ratelimit=0",
    "net.ipv4.icmp_msgs_per_sec=100000",
    "net.ipv4.icmp_msgs_burst=100000",
)


def underlay_batch(topology: Topology) -> str:
    """``ip -batch`` input for the underlay namespace: ``br0`` and one veth per node."""
    lines = ["link set lo up", "link add br0 type bridge", "link set br0 up"]
    for node in topology.nodes:
        lines += [
            f"link add {node.underlay_port} type veth peer name eth0 netns {node.netns}",
            f"link set {node.underlay_port} master br0",
            f"link set {node.underlay_port} up",
        ]
    return "\n".join(lines) + "\n"


def node_batch(topology: Topology, node: NodeNet) -> str:
    """``ip -batch`` input for one node: eth0, cni0, flannel.1 and the remote leases, pod veths."""
    prefixlen = topology.node_network.prefixlen
    lines = [
        "link set lo up",
        f"addr add {node.address}/{prefixlen} dev eth0",
        "link set eth0 up",
        f"route add default via {topology.upstream} dev eth0",
        f"link add {BRIDGE} type bridge",
        f"addr add {node.gateway}/{node.pod_cidr.prefixlen} dev {BRIDGE}",
        f"link set {BRIDGE} up",
        f"link add {VXLAN_DEVICE} address {node.vtep_mac} type vxlan id {VNI} local {node.address} dev eth0 "
        f"dstport {VXLAN_PORT} nolearning",
        f"addr add {node.vtep_address}/32 dev {VXLAN_DEVICE}",
        f"link set {VXLAN_DEVICE} up",
    ]
    for remote in topology.nodes:
        if remote.name == node.name:
            continue
        lines += [
            f"route add {remote.pod_cidr} via {remote.vtep_address} dev {VXLAN_DEVICE} onlink",
            f"neigh add {remote.vtep_address} lladdr {remote.vtep_mac} dev {VXLAN_DEVICE} nud permanent",
        ]
    for pod in topology.pods_on(node.name):
        if pod.host_network:
            continue
        lines += [
            f"link add {pod.veth} mtu {topology.mtu} type veth peer name eth0 netns {pod.netns}",
            f"link set {pod.veth} master {BRIDGE}",
            f"link set {pod.veth} up",
        ]
    return "\n".join(lines) + "\n"


def fdb_batch(topology: Topology, node: NodeNet) -> str:
    """``bridge -batch`` input: where each remote VTEP MAC lives on the node network."""
    return "".join(
        f"fdb add {remote.vtep_mac} dev {VXLAN_DEVICE} dst {remote.address} self permanent\n"
        for remote in topology.nodes
        if remote.name != node.name
    )


def pod_batch(topology: Topology, pod: PodNet) -> str:
    """``ip -batch`` input for one pod: its eth0 MAC, address and default route."""
    node = topology.node(pod.node)
    return (
        "link set lo up\n"
        f"link set eth0 address {pod.mac}\n"
        f"addr add {pod.address}/{node.pod_cidr.prefixlen} dev eth0\n"
        "link set eth0 up\n"
        f"route add default via {node.gateway} dev eth0\n"
    )


def _heredoc(command: str, body: str) -> str:
    return f"{command} <<'K8SNET_EOF'\n{body}K8SNET_EOF\n"


def build_script(topology: Topology) -> str:
    """The whole build as one ``sh -e`` script, run inside the lab's private namespaces.

    Every ``ip`` and ``bridge`` command names a lab namespace (``-n``); sysctls run
    under ``ip netns exec`` in a lab namespace, never in the namespace the script
    itself runs in.
    """
    out = ["set -e"]
    out += [f"ip netns add {name}" for name in topology.namespaces]
    out.append(_heredoc(f"ip -n {topology.underlay_netns} -batch -", underlay_batch(topology)))
    for node in topology.nodes:
        out.append(_heredoc(f"ip -n {node.netns} -batch -", node_batch(topology, node)))
        if len(topology.nodes) > 1:
            out.append(_heredoc(f"bridge -n {node.netns} -batch -", fdb_batch(topology, node)))
    for pod in topology.pods:
        if not pod.host_network:
            out.append(_heredoc(f"ip -n {pod.netns} -batch -", pod_batch(topology, pod)))
    for name in topology.namespaces:
        sysctls = _ICMP_SYSCTLS
        if any(name == n.netns for n in topology.nodes):
            sysctls = _NODE_SYSCTLS + _ICMP_SYSCTLS
        out.append(f"ip netns exec {name} sysctl -q -w {' '.join(sysctls)}")
    return "\n".join(out) + "\n"
