"""The lab's plan: which namespaces, links, addresses and routes a Cluster becomes.

Pure functions over :mod:`k8snet_lesson.cluster` values; nothing here touches the
kernel. :func:`plan` turns a Cluster into a :class:`Topology`, and
:func:`build_script` turns that into the shell text (``ip -batch`` per namespace,
``bridge -batch`` for fdb entries, ``sysctl`` inside each namespace) that
:mod:`k8snet_lesson.lab.kernel` runs inside the lab's private namespaces.

The devices, addresses, MACs, veth names and routes are the CNI model's
(:func:`k8snet_lesson.cni.pod_namespace` and :func:`~k8snet_lesson.cni.node_namespace`
under the ``flannel`` profile), so what ``ip addr`` and ``ip route`` print in the lab
can be compared line for line with what the model prints. As Flannel's VXLAN backend
and the CNI bridge plugin build a node:

- one network namespace per node; the node network is a bridge (``br0``) in a
  dedicated *underlay* namespace, each node's ``eth0`` a veth into it;
- a ``cni0`` bridge per node holding the pod CIDR's gateway (``.1``), one namespace
  per pod whose ``eth0`` is a veth on ``cni0`` with the pod IP from the model, created
  inside the pod's namespace with its host end then moved to the node (so interface
  indexes come out as the model states them);
- ``flannel.1``: VXLAN, VNI 1, UDP 8472, ``nolearning``, address ``<podcidr>.0/32``,
  and for every other node the three entries flanneld programs for its lease:
  route ``<podcidr> via <podcidr>.0 dev flannel.1 onlink``, neighbour
  ``<podcidr>.0 lladdr <remote VTEP MAC>``, fdb ``<remote VTEP MAC> dst <remote node IP>``;
- node sysctls: ``ip_forward=1``, ``bridge-nf-call-iptables=1`` (kube-proxy needs
  bridged pod traffic to pass iptables), ICMP rate limits off (REJECT answers at once);
  IPv6 off in every lab namespace (the model is IPv4 only);
- every node's default route points at the node network's router address, which no
  lab namespace holds (a dead upstream), so packets to a ClusterIP without endpoints
  are routed and kube-proxy's filter-table REJECT fires.

What it simplifies: hostNetwork pods run in their node's namespace; pods without an
IP or node, or not Running, are left out. Flannel's own iptables rules (masquerade to
outside the cluster) are not installed: nothing in the lab leaves the cluster.

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
import re
from ipaddress import IPv4Address, IPv4Network

from ..cluster import Cluster, Pod, PodPhase
from ..errors import InvalidValue

__all__ = [
    "NODE_NETWORK",
    "CNI",
    "UNDERLAY_BRIDGE",
    "NodeNet",
    "PodNet",
    "Topology",
    "check_prefix",
    "lab_cluster",
    "plan",
    "build_script",
]

NODE_NETWORK = IPv4Network("192.168.0.0/24")
CNI = "flannel"  # the profile the lab builds (k8snet_lesson.cni)
UNDERLAY_BRIDGE = "br0"

_PREFIX = re.compile(r"^k8snet-[0-9a-z]{1,12}-$")


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


def _profile():
    from .. import cni

    return cni.profile(CNI)


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
    veth: str = ""  # the host end of its veth, on the node (empty for hostNetwork pods)
    mac: str = ""  # its eth0's MAC

    @property
    def key(self) -> str:
        return f"{self.namespace}/{self.name}"


@dataclasses.dataclass(frozen=True)
class Topology:
    """Everything the lab creates for one run, named under one prefix.

    ``cluster`` is the cluster as built (nodes renumbered if they had to be); the
    devices and routes are the CNI model's for it.
    """

    prefix: str
    cluster: Cluster
    nodes: tuple[NodeNet, ...]
    pods: tuple[PodNet, ...]
    upstream: IPv4Address  # the nodes' default gateway that nobody holds
    mtu: int
    notes: tuple[str, ...] = ()

    @property
    def underlay_netns(self) -> str:
        return f"{self.prefix}underlay"

    @property
    def namespaces(self) -> tuple[str, ...]:
        """Every lab namespace, underlay first, then nodes, then pods (the creation order)."""
        own = [p.netns for p in self.pods if not p.host_network]
        return (self.underlay_netns, *(n.netns for n in self.nodes), *own)

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
    """The cluster the lab builds: ``cluster`` on Flannel, with the addresses the model gives it.

    Nodes keep their InternalIPs when every one lies in the cluster's own node network
    (a private range, at most a /16, so the lab's one underlay segment holds it), or,
    for a cluster without one, in 192.168.0.0/24 (``NODE_NETWORK``), and none is that
    network's network, router (``.1``) or broadcast address. The lesson's cluster
    (nodes at 192.168.1.10, 192.168.2.10, 192.168.3.10 in 192.168.0.0/16) is built
    exactly as the model numbers it. Otherwise every node is renumbered to
    192.168.0.10, .11, ... in order (and the cluster's node network becomes
    192.168.0.0/24), hostNetwork pods follow their node, and a note says so. A cluster
    modelled on another CNI is built as Flannel, and a note says that too. Pod IPs, pod
    CIDRs and Services are never changed. Nodes without a pod CIDR cannot host pods and
    are an error.
    """
    if not cluster.nodes:
        raise InvalidValue("the cluster has no nodes to build")
    notes: tuple[str, ...] = ()
    if cluster.cni != CNI:
        notes = (f"the lab builds Flannel's VXLAN network; the cluster's CNI {cluster.cni} is replaced by {CNI}",)
        cluster = cluster.with_(cni=CNI)
    for node in cluster.nodes:
        if node.pod_cidr is None:
            raise InvalidValue(f"node {node.name} has no podCIDR: the lab cannot give its pods a bridge")
    network = cluster.node_network
    if network is None or not network.is_private or network.prefixlen < 16:
        network = NODE_NETWORK
    taken = {node.internal_ip for node in cluster.nodes}
    reserved = {network.network_address, network.network_address + 1, network.broadcast_address}
    if len(taken) == len(cluster.nodes) and all(ip in network and ip not in reserved for ip in taken):
        if cluster.node_network is None or network.subnet_of(cluster.node_network):
            return cluster, notes
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
    return cluster.with_(nodes=nodes, pods=pods, node_network=NODE_NETWORK), (*notes, note)


def _check_pods(cluster: Cluster, pods: list[Pod]) -> None:
    """Refuse pods the kernel would misroute: no address, outside or reserved in their node's CIDR, or shared."""
    seen: dict[IPv4Address, str] = {}
    for pod in pods:
        node = cluster.node_of(pod)
        if pod.host_network:
            continue
        if node.pod_cidr is None:
            raise InvalidValue(f"pod {pod.key} runs on node {node.name}, which has no podCIDR to give it an IP from")
        if pod.pod_ip is None:
            raise InvalidValue(f"pod {pod.key} has no pod IP: the lab builds only pods with an address")
        if pod.pod_ip not in node.pod_cidr:
            raise InvalidValue(f"pod {pod.key} IP {pod.pod_ip} is outside node {node.name}'s pod CIDR {node.pod_cidr}")
        if pod.pod_ip in (node.pod_cidr.network_address, node.pod_cidr.network_address + 1, node.pod_cidr.broadcast_address):
            raise InvalidValue(f"pod {pod.key} IP {pod.pod_ip} is reserved in {node.pod_cidr} (network, cni0 gateway or broadcast)")
        if pod.pod_ip in seen:
            raise InvalidValue(f"pods {seen[pod.pod_ip]} and {pod.key} share the IP {pod.pod_ip}")
        seen[pod.pod_ip] = pod.key


def plan(cluster: Cluster, prefix: str) -> Topology:
    """The lab topology of ``cluster`` (after :func:`lab_cluster`) under run ``prefix``.

    Two pods with the same IP, a pod IP outside its node's pod CIDR or on its reserved
    addresses, and overlapping pod CIDRs are errors naming the objects: the kernel
    would accept some of them and then misroute, so the lab refuses to build them.
    """
    from .. import cni

    check_prefix(prefix)
    profile = _profile()
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
            vtep_mac=str(cni.device_mac(node, profile.tunnel_device)),
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
    pod_nets = []
    for pod in pods:
        node = by_name[pod.node_name]  # type: ignore[index]
        if pod.host_network:
            pod_nets.append(PodNet(pod.namespace, pod.name, node.name, node.netns, node.address, True))
        else:
            pod_nets.append(
                PodNet(
                    pod.namespace, pod.name, node.name, f"{prefix}pod-{pod.namespace}-{pod.name}", pod.pod_ip,  # type: ignore[arg-type]
                    veth=cni.host_veth_name(profile, pod.namespace, pod.name), mac=str(cni.pod_mac(pod)),
                )  # fmt: skip
            )
    upstreams = {cni.node_gateway(built, n) for n in built.nodes}
    if len(upstreams) != 1:
        raise InvalidValue(f"the nodes are on different node networks (routers {', '.join(map(str, sorted(upstreams)))})")
    return Topology(
        prefix=prefix,
        cluster=built,
        nodes=nodes,
        pods=tuple(pod_nets),
        upstream=upstreams.pop(),
        mtu=profile.mtu,
        notes=notes,
    )


# --- the build, as shell text ------------------------------------------------------

_EVERY_NAMESPACE = (
    "net.ipv6.conf.all.disable_ipv6=1",
    "net.ipv6.conf.default.disable_ipv6=1",
    # REJECT and port-unreachable replies are not rate limited
    "net.ipv4.icmp_ratelimit=0",
    "net.ipv4.icmp_msgs_per_sec=100000",
    "net.ipv4.icmp_msgs_burst=100000",
)
_NODE = (
    "net.ipv4.ip_forward=1",
    "net.bridge.bridge-nf-call-iptables=1",
    "net.ipv4.conf.all.rp_filter=0",
    "net.ipv4.conf.default.rp_filter=0",
)


def _route_add(route) -> str | None:
    """``route add`` words for a model Route; None for the kernel's own (proto kernel) routes."""
    from ..cni import RouteProtocol

    if route.protocol is RouteProtocol.KERNEL:
        return None
    return f"route add {route}"


def _addr_add(address, device: str) -> str:
    """``addr add``, with the broadcast address netlink clients compute below /31 (``brd +``)."""
    brd = " brd +" if address.network.prefixlen < 31 else ""
    return f"addr add {address.with_prefixlen}{brd} dev {device}"


def underlay_batch(topology: Topology) -> str:
    """``ip -batch`` input for the underlay namespace: ``br0`` and one veth per node."""
    lines = ["link set lo up", f"link add {UNDERLAY_BRIDGE} type bridge", f"link set {UNDERLAY_BRIDGE} up"]
    for node in topology.nodes:
        lines += [
            f"link add {node.underlay_port} type veth peer name eth0 netns {node.netns}",
            f"link set {node.underlay_port} master {UNDERLAY_BRIDGE}",
            f"link set {node.underlay_port} up",
        ]
    return "\n".join(lines) + "\n"


def node_batch(topology: Topology, node: NodeNet) -> str:
    """``ip -batch`` input for one node: its devices as the CNI model lists them, in
    creation order (``eth0``, ``flannel.1``, ``cni0``), then the remote leases."""
    from .. import cni

    profile = _profile()
    model = cni.node_namespace(topology.cluster, node.name, profile)
    lines = []
    for link in model.links:
        addresses = [_addr_add(a, link.name) for a in link.addresses]
        if link.kind == "loopback":
            lines.append("link set lo up")
        elif link.name == "eth0":
            lines += [f"link set eth0 address {link.mac}", *addresses, "link set eth0 up"]
        elif link.kind == "vxlan":
            lines += [
                f"link add {link.name} address {link.mac} type vxlan id {profile.vni} local {node.address} dev eth0 "
                f"dstport {profile.udp_port} nolearning",
                *addresses,
                f"link set {link.name} up",
            ]
        elif link.kind == "bridge":
            lines += [f"link add {link.name} address {link.mac} type bridge", *addresses, f"link set {link.name} up"]
    for remote in topology.nodes:
        if remote.name != node.name:
            lines.append(
                f"neigh add {remote.vtep_address} lladdr {remote.vtep_mac} dev {profile.tunnel_device} nud permanent"
            )
    lines += [line for line in map(_route_add, model.routes) if line]
    return "\n".join(lines) + "\n"


def attach_batch(topology: Topology, node: NodeNet) -> str:
    """``ip -batch`` input for one node after its pods' veths arrived: enslave them to ``cni0``."""
    bridge = _profile().bridge
    lines = []
    for pod in topology.pods_on(node.name):
        if not pod.host_network:
            lines += [f"link set {pod.veth} master {bridge}", f"link set {pod.veth} up"]
    return "\n".join(lines) + "\n"


def fdb_batch(topology: Topology, node: NodeNet) -> str:
    """``bridge -batch`` input: where each remote VTEP MAC lives on the node network."""
    device = _profile().tunnel_device
    return "".join(
        f"fdb add {remote.vtep_mac} dev {device} dst {remote.address} self permanent\n"
        for remote in topology.nodes
        if remote.name != node.name
    )


def pod_batch(topology: Topology, pod: PodNet) -> str:
    """``ip -batch`` input for one pod, as the bridge plugin does it: the veth pair is
    created in the pod's namespace (the host end is registered first), the host end is
    moved to the node; then eth0's address and the model's routes."""
    from .. import cni

    profile = _profile()
    model_pod = topology.cluster.pod(pod.key)
    namespace = cni.pod_namespace(topology.cluster, model_pod, profile)
    eth0 = namespace.link("eth0")
    node = topology.node(pod.node)
    lines = [
        "link set lo up",
        f"link add eth0 address {eth0.mac} mtu {eth0.mtu} type veth peer name {pod.veth} "
        f"address {cni.host_veth_mac(model_pod, profile)} mtu {eth0.mtu}",
        f"link set {pod.veth} netns {node.netns}",
        *(_addr_add(a, "eth0") for a in eth0.addresses),
        "link set eth0 up",
    ]
    lines += [line for line in map(_route_add, namespace.routes) if line]
    return "\n".join(lines) + "\n"


def _heredoc(command: str, body: str) -> str:
    return f"{command} <<'K8SNET_EOF'\n{body}K8SNET_EOF\n"


def build_script(topology: Topology) -> str:
    """The whole build as one ``sh -e`` script, run inside the lab's private namespaces.

    Every ``ip`` and ``bridge`` command names a lab namespace (``-n``); sysctls run
    under ``ip netns exec`` in a lab namespace, never in the namespace the script
    itself runs in. Sysctls come first, so devices are born without IPv6.
    """
    node_names = {n.netns for n in topology.nodes}
    out = ["set -e"]
    for name in topology.namespaces:
        out.append(f"ip netns add {name}")
        sysctls = _EVERY_NAMESPACE + (_NODE if name in node_names else ())
        out.append(f"ip netns exec {name} sysctl -q -w {' '.join(sysctls)}")
    out.append(_heredoc(f"ip -n {topology.underlay_netns} -batch -", underlay_batch(topology)))
    for node in topology.nodes:
        out.append(_heredoc(f"ip -n {node.netns} -batch -", node_batch(topology, node)))
        if len(topology.nodes) > 1:
            out.append(_heredoc(f"bridge -n {node.netns} -batch -", fdb_batch(topology, node)))
    for pod in topology.pods:  # in cluster order, so each node's veths are numbered as the model says
        if not pod.host_network:
            out.append(_heredoc(f"ip -n {pod.netns} -batch -", pod_batch(topology, pod)))
    for node in topology.nodes:
        if any(not p.host_network for p in topology.pods_on(node.name)):
            out.append(_heredoc(f"ip -n {node.netns} -batch -", attach_batch(topology, node)))
    return "\n".join(out) + "\n"
