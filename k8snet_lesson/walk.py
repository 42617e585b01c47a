"""A request from one pod, hop by hop: veth, bridge or routing, kube-proxy's DNAT, the
overlay, the node network, and back.

Models the lesson's "How a Request Travels Across Nodes" and "The Full Cluster Networking
Architecture": Pod A (10.244.1.5 on node 192.168.0.10) sends to the Service's ClusterIP
10.96.214.88:80; kube-proxy's rules in the node's nat table DNAT it to one endpoint
(10.244.2.8:3000), the CNI carries it to that pod's node, and Pod B sees Pod A's real IP
as the source (rule 4). The reply comes back through the same conntrack entry, which
rewrites its source to the ClusterIP, so the client sees the reply come from the address
it dialled.

Every decision comes from the rest of the model, computed once:

- the routes are the ones :mod:`k8snet_lesson.cni` prints for the pod and the nodes
  (longest-prefix match over ``ip route show``), per plugin: a bridge and a VXLAN route
  via ``flannel.1`` (Flannel), BGP routes via the other node (Calico), ``tunl0`` onlink
  (Calico IP-in-IP), ``vxlan.calico`` (Calico VXLAN), the VPC's own routing (AWS VPC CNI);
- the DNAT is :func:`k8snet_lesson.trace.trace` over the rules
  :func:`k8snet_lesson.kube_proxy.rules_for` writes for the client's node (as
  :func:`k8snet_lesson.connect.node_rules` holds them: a node whose kube-proxy stopped
  syncing has only the system Services' rules); the endpoint is drawn with the rules'
  shares from ``random.Random(seed)``, the same draw :func:`k8snet_lesson.connect.connect`
  makes, so both pick the same endpoint; a masquerade mark becomes SNAT to the address
  of the interface the packet leaves by, and the reply is un-NATed by conntrack;
- on a bridge, a frame between two pods of one node is bridged, not routed (no TTL
  change); br_netfilter still shows it to iptables, which is how conntrack can un-DNAT
  a reply there;
- Cilium replaces kube-proxy: its socket-level load balancer rewrites the destination at
  ``connect()``, so the packet leaves the pod already addressed to the backend and no
  DNAT happens on the wire; its eBPF programs forward by the ipcache, not the routing
  table, and the VXLAN VNI carries the sender's security identity;
- every hop's headers are encoded as a real frame (:mod:`k8snet_lesson.frames`) when
  scapy is installed, so ``frame_bytes`` and the encapsulation overhead are measured.

What it simplifies: the walk is the connection's first packet (SYN, or one UDP datagram)
and its reply; ARP, the rest of the handshake, retransmissions and NetworkPolicy are not
walked (see :mod:`k8snet_lesson.connect` for refusals and policy); nodes on different
subnets reach each other through their gateway, which does not decrement TTL in the
model (the AWS VPC router does not); Cilium's identities are numbered from the pod's
labels (256 upward), its TTL is decremented on local delivery only; the client's
ephemeral port is drawn from Linux's 32768-60999 with the seed.
"""

from __future__ import annotations

import dataclasses
import enum
import random
import zlib
from collections.abc import Callable
from ipaddress import IPv4Address, ip_address
from typing import Any

from .cluster import Cluster, Node, Pod, PodPhase, Protocol, Service, ServicePort
from .cni import (
    Attachment,
    CNIProfile,
    Encapsulation,
    MACAddress,
    Route,
    RouteSource,
    RouteType,
    device_mac,
    host_veth_mac,
    host_veth_name,
    node_namespace,
    node_subnet,
    pod_blocks,
    pod_mac,
    pod_namespace,
    profile,
    tunnel_address,
)
from .endpoints import api_server_endpoints
from .errors import InvalidValue, NotFound
from .frames import EPHEMERAL_PORTS, Headers, Outer, ScapyMissing, frame_length, vxlan_source_port
from .trace import Verdict

__all__ = ["Direction", "HopKind", "Rewrite", "StopReason", "Hop", "Walk", "Headers", "Outer", "request",
           "ephemeral_port", "security_identity"]

MAX_NODES = 4  # a walk crosses at most this many nodes before it is called a loop


class Direction(str, enum.Enum):
    REQUEST = "request"
    REPLY = "reply"


class HopKind(str, enum.Enum):
    """What happens to the packet at a hop, as a closed set (the ``where`` and ``action``
    texts say it in words; code and notebooks compare kinds)."""

    SEND = "send"  # the sending pod's eth0 puts the frame on its veth
    VETH_IN = "veth-in"  # the frame comes out of the veth pair in the node's namespace
    BRIDGE = "bridge"  # a Linux bridge switches the frame, or hands it up to IP
    NAT = "nat"  # a netfilter nat hook rewrites an address
    ROUTE = "route"  # the node's routing decides the next hop (TTL - 1)
    ENCAPSULATE = "encapsulate"  # a tunnel device puts outer headers in front
    WIRE = "wire"  # on the node network (or the VPC) between nodes
    DECAPSULATE = "decapsulate"  # the tunnel device on the far node strips them
    VETH_OUT = "veth-out"  # leaves the node by the receiving pod's host veth
    RECEIVE = "receive"  # the receiving pod's eth0 takes it
    NODE_STACK = "node-stack"  # a node's own address: its stack takes it
    STOP = "stop"  # the packet goes no further


class Rewrite(str, enum.Enum):
    """Which address translation happens at a hop, as a closed set (the ``action`` text
    says it in words, with the addresses)."""

    DNAT = "DNAT"  # kube-proxy's KUBE-SEP rule: the ClusterIP:port becomes an endpoint's
    MASQUERADE = "MASQUERADE"  # KUBE-POSTROUTING: the source becomes the outgoing interface's address
    SOCKET_LB = "socket-lb"  # Cilium at connect(): the socket is addressed to a backend before any packet
    REPLY_UNDO_DNAT = "reply-undo-dnat"  # conntrack: a reply's source becomes the ClusterIP:port dialled
    REPLY_UNDO_SNAT = "reply-undo-snat"  # conntrack: a masqueraded reply's destination becomes the client's


class StopReason(str, enum.Enum):
    """Why a packet goes no further, as a closed set (a ``STOP`` hop's ``action`` and the
    walk's ``outcome`` say it in words)."""

    REJECT = "REJECT"  # kube-proxy's REJECT: the Service has no ready endpoints (connection refused)
    DROP = "DROP"  # kube-proxy's DROP: no usable endpoint for this node (timed out)
    NO_RULE = "no-rule"  # no kube-proxy rule translates the ClusterIP (timed out)
    NO_BACKEND = "no-backend"  # Cilium's service map has no backend (connection refused)
    NO_ROUTE = "no-route"  # the pod or the node has no route to the destination
    BLACKHOLE = "blackhole"  # a blackhole route drops it: no pod holds the address
    NOT_IN_CLUSTER = "not-in-cluster"  # it leaves by a default route, or to a next hop no node holds
    LOOP = "loop"  # it crossed too many nodes without arriving


@dataclasses.dataclass(frozen=True)
class Hop:
    """One place a packet passes: the node (``None`` between nodes), the device or hook,
    what kind of thing happens there and in words, the headers as they leave it, and the
    encoded frame's size.

    The words (``where``, ``action``) are for reading; code and notebooks compare the
    values: ``kind``; the ``device`` the hop is at, by its name (``eth0``, a veth,
    ``cni0``, ``flannel.1``; None at the routing decision, a hook, between the nodes), and
    the ``pod`` (``namespace/name``) whose ``eth0`` sends or receives; the netfilter ``table`` and ``chain`` of a hook (``nat``
    ``PREROUTING``) or of the rule that stopped the packet (``filter`` ``KUBE-SERVICES``),
    with ``bridged`` when br_netfilter showed a bridged frame to it; ``rewrite``, the
    address translation done here (a routed packet's POSTROUTING rewrite rides on the
    routing hop, as its ``action`` says); ``stop``, why a ``STOP`` hop ends the walk.
    """

    index: int
    node: str | None
    where: str
    kind: HopKind
    action: str
    inner: Headers
    outer: Outer | None = None
    frame_bytes: int | None = None
    direction: Direction = Direction.REQUEST
    device: str | None = None
    pod: str | None = None
    table: str | None = None
    chain: str | None = None
    bridged: bool = False
    rewrite: Rewrite | None = None
    stop: StopReason | None = None


@dataclasses.dataclass(frozen=True)
class Walk:
    """A request and its reply, hop by hop.

    ``delivered`` is False when the packet stops on the way (a kube-proxy ``REJECT`` or
    ``DROP``, a blackhole route, an address nothing in the cluster holds); ``outcome``
    says how it ended; ``notes`` says what the walk could not show.
    """

    cni: CNIProfile
    client: Pod
    destination: str
    service: Service | None
    service_port: ServicePort | None
    server: Pod | None
    hops: tuple[Hop, ...]
    reply: tuple[Hop, ...]
    rules: tuple[Any, ...]
    masqueraded: bool
    delivered: bool
    outcome: str
    notes: tuple[str, ...]
    seed: int

    @property
    def stopped(self) -> StopReason | None:
        """Why the request went no further (None when it was delivered)."""
        return None if self.delivered or not self.hops else self.hops[-1].stop

    @property
    def all_hops(self) -> tuple[Hop, ...]:
        return self.hops + self.reply

    @property
    def arrived(self) -> Headers:
        """The request's headers as the server pod receives them."""
        return self.hops[-1].inner

    @property
    def reply_arrived(self) -> Headers | None:
        """The reply's headers as the client pod receives them."""
        return self.reply[-1].inner if self.reply else None

    @property
    def encapsulated(self) -> bool:
        return any(h.outer is not None for h in self.all_hops)

    @property
    def nodes(self) -> tuple[str, ...]:
        seen: list[str] = []
        for hop in self.hops:
            if hop.node is not None and hop.node not in seen:
                seen.append(hop.node)
        return tuple(seen)

    @property
    def same_node(self) -> bool:
        return len(self.nodes) == 1


# --- small facts the walk needs -----------------------------------------------------------
def ephemeral_port(pod: Pod, seed: int) -> int:
    """The client's source port: one of Linux's ``ip_local_port_range`` (32768-60999)."""
    return random.Random(f"{pod.key}|{seed}").randrange(EPHEMERAL_PORTS.start, EPHEMERAL_PORTS.stop)


def security_identity(pod: Pod) -> int:
    """A Cilium security identity for the pod's labels (the model numbers them from 256)."""
    key = pod.namespace + "|" + ",".join(f"{k}={v}" for k, v in sorted(pod.labels.items()))
    return 256 + zlib.crc32(key.encode()) % (65536 - 256)


def _address(value: Any) -> IPv4Address | None:
    if isinstance(value, IPv4Address):
        return value
    try:
        address = ip_address(str(value))
    except ValueError:
        return None
    return address if isinstance(address, IPv4Address) else None


def _client(cluster: Cluster, source: Pod | str) -> Pod:
    pod = cluster.pod(source) if isinstance(source, str) else source
    if pod.host_network:
        raise InvalidValue(
            f"pod {pod.key} uses hostNetwork: its packets start in the node's namespace (OUTPUT chain); "
            "the walk starts from a pod on the pod network"
        )
    if pod.node_name is None or pod.pod_ip is None:
        raise InvalidValue(f"pod {pod.key} has no node or no IP yet: it cannot send")
    if pod.phase is not PodPhase.RUNNING:
        raise InvalidValue(f"pod {pod.key} is {pod.phase.value}, not Running: it cannot send")
    cluster.node(pod.node_name)
    return pod


def _service_named(cluster: Cluster, name: str, namespace: str) -> Service | None:
    """``name``, ``ns/name``, ``name.ns``, ``name.ns.svc`` or ``name.ns.svc.<domain>``."""
    if "/" in name:
        ns, short = name.split("/", 1)
        return next((s for s in cluster.services if s.namespace == ns and s.name == short), None)
    suffix = f".svc.{cluster.dns_domain}"
    text = name.rstrip(".")
    if text.endswith(suffix):
        text = text[: -len(suffix)]
    elif text.endswith(".svc"):
        text = text[:-4]
    parts = text.split(".")
    if len(parts) == 1:
        short, ns = parts[0], namespace  # the pod's resolver searches its own namespace first
    elif len(parts) == 2:
        short, ns = parts
    else:
        return None
    return next((s for s in cluster.services if s.namespace == ns and s.name == short), None)


def _resolve(
    cluster: Cluster, client: Pod, destination: Any, port: int
) -> tuple[IPv4Address, Service | None, ServicePort | None, Pod | None, str]:
    """What the destination is: a Service (by name or ClusterIP) or a pod (by IP)."""
    if isinstance(port, bool) or not isinstance(port, int) or not 1 <= port <= 65535:
        raise InvalidValue(f"port {port!r} is not a port number (1-65535)")
    text = str(destination)
    address = _address(destination)
    service: Service | None = None
    if address is None:
        service = _service_named(cluster, text, client.namespace)
        if service is None:
            known = ", ".join(s.key for s in cluster.services) or "none"
            raise NotFound(f"no service {text!r} as seen from namespace {client.namespace} (services: {known})")
        if service.cluster_ip is None:
            raise InvalidValue(f"service {service.key} is headless: DNS answers with pod IPs; walk to one of them")
        address = service.cluster_ip
    else:
        service = cluster.service_by_ip(address)
    if service is not None:
        service_port = next((p for p in service.ports if p.port == port), None)
        if service_port is None:
            ports = ", ".join(f"{p.port}/{p.protocol.value}" for p in service.ports) or "none"
            raise NotFound(f"service {service.key} has no port {port} (ports: {ports})")
        return address, service, service_port, None, text
    pod = cluster.pod_by_ip(address)
    if pod is None:
        cluster_ips = ", ".join(str(s.cluster_ip) for s in cluster.services if s.cluster_ip is not None) or "none"
        pod_ips = ", ".join(str(p.pod_ip) for p in cluster.pods if p.pod_ip is not None and not p.host_network) or "none"
        raise NotFound(
            f"address {address} is neither a ClusterIP nor a pod IP in the cluster "
            f"(ClusterIPs: {cluster_ips}; pod IPs: {pod_ips})"
        )
    return address, None, None, pod, text


# --- kube-proxy's nat table, through the tracer -------------------------------------------------
@dataclasses.dataclass(frozen=True)
class _Translation:
    """What the client node's nat table did to the first packet."""

    to: tuple[IPv4Address, int] | None
    rules: tuple[Any, ...]
    chains: tuple[str, ...]
    share: float | None
    masqueraded: bool
    verdict: Verdict


def _node_rules(cluster: Cluster, node_name: str) -> Any:
    """kube-proxy's rules on a node, as :func:`k8snet_lesson.connect.node_rules` has them
    (a node whose kube-proxy stopped syncing keeps only the system Services' rules)."""
    from .connect import node_rules

    return node_rules(cluster, node_name)


def _kube_proxy(cluster: Cluster, node: Node, headers: Headers, seed: int) -> _Translation:
    from .trace import Packet, trace

    packet = Packet(headers.src_ip, headers.dst_ip, headers.dst_port, headers.protocol, sport=headers.src_port)
    result = trace(_node_rules(cluster, node.name), packet, node_ip=node.internal_ip)
    verdict = result.verdict
    destinations = tuple(result.destinations)
    if not destinations:
        rules = tuple(result.rules)
        return _Translation(None, rules, _chains(rules), None, bool(result.masqueraded), verdict)
    weights = [float(d.share) for d in destinations]
    if len(destinations) == 1 or sum(weights) <= 0:
        index = 0
    else:
        # The draw connect() makes too: one endpoint, weighted by the rules' shares.
        index = random.Random(seed).choices(range(len(destinations)), weights=weights)[0]
    chosen = destinations[index]
    rules = tuple(getattr(chosen, "rules", ()) or result.rules)
    chains = _chains(rules)
    if chosen.chain and chosen.chain not in chains:
        chains += (chosen.chain,)
    return _Translation(
        (_address(chosen.address), int(chosen.port)),
        rules,
        chains,
        float(chosen.share),
        bool(getattr(chosen, "masqueraded", result.masqueraded)),
        verdict,
    )


def _chains(rules: tuple[Any, ...]) -> tuple[str, ...]:
    """The chains a path went through, in order, without the mark-setting helper."""
    return tuple(c for c in dict.fromkeys(r.chain for r in rules) if c != "KUBE-MARK-MASQ")


# --- the walk engine -------------------------------------------------------------------------
class _Stop(Exception):
    """The packet goes no further; the message says why in words, ``reason`` as a value;
    ``where`` names the place, ``table`` and ``chain`` the netfilter rule's, if a rule stopped it."""

    def __init__(self, message: str, reason: StopReason, where: str = "stop", *,
                 table: str | None = None, chain: str | None = None) -> None:
        super().__init__(message)
        self.reason = reason
        self.where = where
        self.table = table
        self.chain = chain


@dataclasses.dataclass
class _Builder:
    cluster: Cluster
    p: CNIProfile
    direction: Direction
    hops: list[Hop]
    notes: list[str]
    frames_ok: bool = True

    @property
    def api_servers(self) -> frozenset[IPv4Address]:
        """The addresses kube-apiserver listens on (the ``default/kubernetes`` endpoints)."""
        return frozenset(address for address, _ in api_server_endpoints(self.cluster))

    def add(self, kind: HopKind, node: str | None, where: str, action: str, inner: Headers,
            outer: Outer | None = None, *, device: str | None = None, pod: str | None = None,
            table: str | None = None, chain: str | None = None, bridged: bool = False,
            rewrite: Rewrite | None = None, stop: StopReason | None = None) -> Headers:
        size = None
        if self.frames_ok:
            try:
                size = frame_length(inner, outer)
            except ScapyMissing as exc:
                self.frames_ok = False
                self.notes.append(f"{exc}; frame_bytes is None and no pcap can be written")
            except InvalidValue:
                size = None  # a place with no link-layer frame to show
        self.hops.append(Hop(len(self.hops), node, where, kind, action, inner, outer, size, self.direction,
                             device, pod, table, chain, bridged, rewrite, stop))
        return inner


@dataclasses.dataclass(frozen=True)
class _Hooked:
    """What a netfilter hook did to the packet, in words, and the translation (None: it
    passed untouched, and the hop says why)."""

    text: str
    rewrite: Rewrite | None = None


# A hook at a netfilter point: (node, headers) -> (headers, what it rewrote or None).
Hook = Callable[[Node, Headers], tuple[Headers, _Hooked | None]]


def _no_hook(node: Node, headers: Headers) -> tuple[Headers, _Hooked | None]:
    return headers, None


def _pod_where(pod: Pod) -> str:
    return f"{pod.namespace}/{pod.name} eth0"


def _local_pod(cluster: Cluster, node: Node, address: IPv4Address) -> Pod | None:
    pod = cluster.pod_by_ip(address)
    return pod if pod is not None and pod.node_name == node.name else None


def _node_by_ip(cluster: Cluster, address: IPv4Address) -> Node | None:
    return next((n for n in cluster.nodes if n.internal_ip == address), None)


def _owner(cluster: Cluster, p: CNIProfile, address: IPv4Address) -> Node | None:
    """The node whose pods hold ``address`` (by the pod, else by its block)."""
    pod = cluster.pod_by_ip(address)
    if pod is not None and pod.node_name is not None:
        return cluster.node(pod.node_name)
    for node in cluster.nodes:
        if any(address in block for block in pod_blocks(cluster, node, p)):
            return node
    return _node_by_ip(cluster, address)


def _gateway_mac(cluster: Cluster, node: Node) -> MACAddress:
    return MACAddress.derive("gateway", str(node_subnet(cluster, node)))


def _wire_macs(cluster: Cluster, here: Node, there: Node) -> tuple[MACAddress, MACAddress]:
    """Ethernet addresses on the node network from ``here`` towards ``there``."""
    if there.internal_ip in node_subnet(cluster, here):
        return device_mac(here, "eth0"), device_mac(there, "eth0")
    return device_mac(here, "eth0"), _gateway_mac(cluster, here)


def _first_hop_mac(cluster: Cluster, p: CNIProfile, sender: Pod, route: Route, destination: IPv4Address) -> tuple[MACAddress, str]:
    """Who the sending pod addresses its frame to, and why."""
    node = cluster.node_of(sender)
    if route.gateway is None and route.destination.prefixlen < 32:
        neighbour = _local_pod(cluster, node, destination)
        if neighbour is not None:
            return pod_mac(neighbour), f"on-link ('{route}'): ARP gives {neighbour.key}'s MAC"
        if p.attachment is Attachment.BRIDGE:
            bridge = p.bridge or "cni0"
            return device_mac(node, bridge), f"on-link ('{route}'): {destination} is {bridge}'s own address"
    if p.attachment is Attachment.BRIDGE:
        return device_mac(node, p.bridge or "cni0"), f"route '{route}': to the gateway, the {p.bridge} bridge"
    mac = host_veth_mac(sender, p)
    if p.route_source is RouteSource.CILIUM_AGENT:
        return mac, f"route '{route}': Cilium answers ARP for the router address {route.gateway} with the host veth's MAC"
    if p.route_source is RouteSource.VPC:
        how = "a static ARP entry gives the host veth's MAC"
    else:
        how = f"proxy ARP on the host veth answers with {mac}"
    return mac, f"route '{route}': {route.gateway} is no device's address; {how}"


def _deliver_local(b: _Builder, node: Node, pod: Pod, headers: Headers, *, bridged_from: Pod | None = None) -> None:
    """The last hops on the server's node: bridge or host veth, then the pod's eth0."""
    p = b.p
    veth = host_veth_name(p, pod.namespace, pod.name)
    if p.attachment is Attachment.BRIDGE:
        b.add(HopKind.BRIDGE, node.name, p.bridge or "cni0", f"the bridge looks up {headers.dst_mac} in its FDB: port {veth}", headers,
              device=p.bridge or "cni0")
    b.add(HopKind.VETH_OUT, node.name, veth, f"leaves the node by {veth}, the veth pair's host end", headers, device=veth)


def _leg(
    b: _Builder,
    sender: Pod,
    headers: Headers,
    *,
    prerouting: Hook,
    postrouting: Hook,
    first_action: str,
    lb: Callable[[Headers], tuple[Headers, _Hooked]] | None = None,
) -> Pod | Node | ControlPlane:
    """Walk one packet from ``sender``'s eth0 to the pod (or node) holding its destination."""
    cluster, p = b.cluster, b.p
    node = cluster.node_of(sender)
    balanced = None
    if lb is not None:
        headers, balanced = lb(headers)
        first_action = f"{first_action}; {balanced.text}"
    route = pod_namespace(cluster, sender, p).route_to(headers.dst_ip)
    if route is None:
        raise _Stop(f"{sender.key} has no route to {headers.dst_ip}", StopReason.NO_ROUTE)
    dst_mac, why = _first_hop_mac(cluster, p, sender, route, headers.dst_ip)
    headers = headers.with_(src_mac=pod_mac(sender), dst_mac=dst_mac)
    b.add(HopKind.SEND, node.name, _pod_where(sender), f"{first_action}; {why}", headers,
          device="eth0", pod=sender.key, rewrite=balanced.rewrite if balanced is not None else None)
    veth = host_veth_name(p, sender.namespace, sender.name)
    b.add(HopKind.VETH_IN, node.name, veth, f"crosses the veth pair into the node's namespace on {veth}", headers, device=veth)

    if p.route_source is RouteSource.CILIUM_AGENT:
        return _cilium(b, sender, node, headers)

    neighbour = _local_pod(cluster, node, headers.dst_ip)
    if p.attachment is Attachment.BRIDGE and neighbour is not None and dst_mac == pod_mac(neighbour):
        # Same subnet, same bridge: no routing at all. br_netfilter still shows bridged
        # IPv4 frames to iptables, which is how conntrack can un-DNAT a reply here.
        headers, done = prerouting(node, headers)
        if done:
            b.add(HopKind.NAT, node.name, "nat PREROUTING (br_netfilter)", done.text, headers,
                  table="nat", chain="PREROUTING", bridged=True, rewrite=done.rewrite)
        headers, done = postrouting(node, headers)
        if done:
            b.add(HopKind.NAT, node.name, "nat POSTROUTING (br_netfilter)", done.text, headers,
                  table="nat", chain="POSTROUTING", bridged=True, rewrite=done.rewrite)
        _deliver_local(b, node, neighbour, headers)
        return neighbour

    if p.attachment is Attachment.BRIDGE:
        b.add(HopKind.BRIDGE, node.name, p.bridge or "cni0", f"addressed to {p.bridge}'s own MAC: handed up to IP, not bridged", headers,
              device=p.bridge or "cni0")

    for _ in range(MAX_NODES):
        headers, done = prerouting(node, headers)
        if done:
            b.add(HopKind.NAT, node.name, "nat PREROUTING", done.text, headers,
                  table="nat", chain="PREROUTING", rewrite=done.rewrite)
        table = node_namespace(cluster, node.name, p)
        route = table.route_to(headers.dst_ip)
        if route is None:
            raise _Stop(f"node {node.name} has no route to {headers.dst_ip}", StopReason.NO_ROUTE)
        if route.type is RouteType.BLACKHOLE:
            raise _Stop(f"node {node.name}: '{route}' drops {headers.dst_ip}: no pod holds it", StopReason.BLACKHOLE)
        if headers.dst_ip == node.internal_ip:
            b.add(HopKind.NODE_STACK, node.name, "eth0", f"{headers.dst_ip} is {node.name}'s own address: delivered to its stack (INPUT)", headers,
                  device="eth0")
            return node
        ttl = headers.ttl - 1
        headers, done = postrouting(node, headers.with_(ttl=ttl))
        nat = f"; POSTROUTING: {done.text}" if done else ""
        rewrite = done.rewrite if done else None  # the routing hop carries POSTROUTING's rewrite
        local = _local_pod(cluster, node, headers.dst_ip)
        if local is not None:
            out = p.bridge if p.attachment is Attachment.BRIDGE else host_veth_name(p, local.namespace, local.name)
            src = device_mac(node, out) if p.attachment is Attachment.BRIDGE else host_veth_mac(local, p)
            headers = headers.with_(src_mac=src, dst_mac=pod_mac(local))
            b.add(HopKind.ROUTE, node.name, "routing", f"route '{route}' (TTL {ttl + 1}->{ttl}){nat}", headers,
                  rewrite=rewrite)
            _deliver_local(b, node, local, headers)
            return local
        if headers.dst_ip in b.api_servers and _node_by_ip(cluster, headers.dst_ip) is None:
            return _to_control_plane(b, node, route, headers, f"route '{route}' (TTL {ttl + 1}->{ttl}){nat}", rewrite)
        node = _forward(b, node, route, headers, f"route '{route}' (TTL {ttl + 1}->{ttl}){nat}", rewrite)
        headers = b.hops[-1].inner
    raise _Stop(f"{headers.dst_ip}: the packet crossed {MAX_NODES} nodes without arriving (a routing loop)",
                StopReason.LOOP)


@dataclasses.dataclass(frozen=True)
class ControlPlane:
    """kube-apiserver where the ``default/kubernetes`` endpoints say it listens: on the
    control plane's host network, outside the cluster's nodes (as a managed cluster runs it)."""

    address: IPv4Address
    name: str = "control plane"


def _to_control_plane(b: _Builder, node: Node, route: Route, headers: Headers, decided: str,
                      rewrite: Rewrite | None = None) -> ControlPlane:
    """From ``node`` to kube-apiserver's address: out of eth0, no encapsulation (it is no pod)."""
    gateway = "" if route.gateway is None else f" via {route.gateway}"
    # the next hop's MAC: the router's when the route has a gateway, else the control
    # plane's own NIC (ARP answers it on the node network)
    next_mac = _gateway_mac(b.cluster, node) if route.gateway is not None else MACAddress.derive("eth0", str(headers.dst_ip))
    leaving = headers.with_(src_mac=device_mac(node, "eth0"), dst_mac=next_mac)
    b.add(HopKind.ROUTE, node.name, "eth0", f"{decided}; {headers.dst_ip} is no pod: it leaves unencapsulated{gateway}", leaving,
          device="eth0", rewrite=rewrite)
    b.add(HopKind.WIRE, None, f"node network {node_subnet(b.cluster, node)}",
          f"eth0 {node.internal_ip} -> {headers.dst_ip}, the control plane (kube-apiserver, host network)", leaving)
    return ControlPlane(headers.dst_ip)


def _forward(b: _Builder, node: Node, route: Route, headers: Headers, decided: str,
             rewrite: Rewrite | None = None) -> Node:
    """From ``node`` to the next node: encapsulate or not, cross the node network, arrive.
    The first hop on ``node`` says what routing ``decided``, and carries POSTROUTING's ``rewrite``."""
    cluster, p = b.cluster, b.p
    if route.destination.prefixlen == 0:
        return _via_default(b, node, route, headers, decided, rewrite)
    if route.device == p.tunnel_device and p.encapsulation is Encapsulation.VXLAN:
        there = next(
            (n for n in cluster.nodes if n.name != node.name and any(route.gateway == tunnel_address(blk) for blk in pod_blocks(cluster, n, p))),
            None,
        )
        if there is None:
            raise _Stop(f"node {node.name}: no node owns VTEP {route.gateway}", StopReason.NOT_IN_CLUSTER)
        device = p.tunnel_device
        inner = headers.with_(src_mac=device_mac(node, device), dst_mac=device_mac(there, device))
        b.add(HopKind.ROUTE, node.name, device, f"{decided}; the neighbour entry for {route.gateway} is {there.name}'s VTEP MAC", inner,
              device=device, rewrite=rewrite)
        src_mac, dst_mac = _wire_macs(cluster, node, there)
        outer = Outer(
            Encapsulation.VXLAN, src_mac, dst_mac, node.internal_ip, there.internal_ip,
            src_port=vxlan_source_port(inner), dst_port=p.udp_port, vni=p.vni,
        )
        b.add(
            HopKind.ENCAPSULATE,
            node.name,
            f"{device} (VXLAN)",
            f"VXLAN encapsulation: the FDB maps {inner.dst_mac} to {there.internal_ip}; outer UDP "
            f"{outer.src_port}->{p.udp_port}, VNI {p.vni}",
            inner,
            outer,
            device=device,
        )
        b.add(HopKind.WIRE, None, f"node network {node_subnet(cluster, node)}", f"eth0 {node.internal_ip} -> {there.internal_ip}: UDP {p.udp_port}", inner, outer)
        b.add(
            HopKind.DECAPSULATE,
            there.name,
            device,
            f"UDP {p.udp_port} reaches the VXLAN socket; {device} decapsulates (VNI {p.vni}): the inner "
            f"packet, dst {inner.dst_ip}, is received as if it came in on {device}",
            inner,
            device=device,
        )
        return there
    if route.device == p.tunnel_device and p.encapsulation is Encapsulation.IPIP:
        there = _node_by_ip(cluster, route.gateway)
        if there is None:
            raise _Stop(f"node {node.name}: {route.gateway} is no node's address", StopReason.NOT_IN_CLUSTER)
        src_mac, dst_mac = _wire_macs(cluster, node, there)
        inner = headers.with_(src_mac=None, dst_mac=None)  # tunl0 has no link layer
        outer = Outer(Encapsulation.IPIP, src_mac, dst_mac, node.internal_ip, there.internal_ip, ttl=inner.ttl)
        b.add(
            HopKind.ENCAPSULATE,
            node.name,
            "tunl0 (IP-in-IP)",
            f"{decided}; tunl0 wraps the packet in an outer IPv4 header {node.internal_ip} -> "
            f"{there.internal_ip}, protocol 4",
            inner,
            outer,
            device=route.device,
            rewrite=rewrite,
        )
        b.add(HopKind.WIRE, None, f"node network {node_subnet(cluster, node)}", f"eth0 {node.internal_ip} -> {there.internal_ip}: IP protocol 4", inner, outer)
        b.add(
            HopKind.DECAPSULATE,
            there.name,
            "tunl0 (IP-in-IP)",
            f"IP protocol 4 from a known peer arrives on eth0; tunl0 strips the outer header: inner dst {inner.dst_ip}",
            inner,
            outer,
            device=route.device,
        )
        return there
    # Plain routing on the node network (Calico BGP): the next hop is the other node.
    there = _node_by_ip(cluster, route.gateway) if route.gateway is not None else _owner(cluster, p, headers.dst_ip)
    if there is None:
        raise _Stop(f"node {node.name}: next hop {route.gateway} is no node", StopReason.NOT_IN_CLUSTER)
    src_mac, dst_mac = _wire_macs(cluster, node, there)
    plain = headers.with_(src_mac=src_mac, dst_mac=dst_mac)
    b.add(HopKind.ROUTE, node.name, route.device or "eth0", f"{decided}; no encapsulation: the pod addresses travel as they are", plain,
          device=route.device or "eth0", rewrite=rewrite)
    b.add(HopKind.WIRE, None, f"node network {node_subnet(cluster, node)}", f"eth0 {node.internal_ip} -> {there.name} ({there.internal_ip}) by MAC; IP header untouched", plain)
    return there


def _via_default(b: _Builder, node: Node, route: Route, headers: Headers, decided: str,
                 rewrite: Rewrite | None = None) -> Node:
    cluster, p = b.cluster, b.p
    there = _owner(cluster, p, headers.dst_ip)
    if p.route_source is not RouteSource.VPC or there is None:
        raise _Stop(f"{headers.dst_ip} leaves {node.name} by its default route; nothing in the cluster answers",
                    StopReason.NOT_IN_CLUSTER)
    gateway = _gateway_mac(cluster, node)
    leaving = headers.with_(src_mac=device_mac(node, "eth0"), dst_mac=gateway)
    b.add(HopKind.ROUTE, node.name, "eth0", f"{decided}; to the VPC router, no encapsulation", leaving, device="eth0", rewrite=rewrite)
    arriving = headers.with_(src_mac=gateway, dst_mac=device_mac(there, "eth0"))
    b.add(
        HopKind.WIRE,
        None,
        "VPC",
        f"{headers.dst_ip} is a secondary address of {there.name}'s ENI: the VPC delivers it there "
        "(the VPC router does not decrement TTL)",
        arriving,
    )
    return there


def _cilium(b: _Builder, sender: Pod, node: Node, headers: Headers) -> Pod | Node | ControlPlane:
    """Cilium's eBPF path: ipcache lookup, VXLAN with the identity as VNI, local delivery."""
    cluster, p = b.cluster, b.p
    there = _owner(cluster, p, headers.dst_ip)
    if there is None and headers.dst_ip in b.api_servers:
        route = node_namespace(cluster, node.name, p).route_to(headers.dst_ip)
        if route is not None:
            decided = f"Cilium's ipcache: {headers.dst_ip} is outside the cluster (world); the node routes it by '{route}'"
            return _to_control_plane(b, node, route, headers.with_(ttl=headers.ttl - 1), decided)
    if there is None:
        raise _Stop(f"Cilium's ipcache has no entry for {headers.dst_ip}; it leaves by the default route and nothing answers",
                    StopReason.NOT_IN_CLUSTER)
    veth = host_veth_name(p, sender.namespace, sender.name)
    if there.name != node.name:
        identity = security_identity(sender)
        device = p.tunnel_device or "cilium_vxlan"
        inner = headers.with_(src_mac=device_mac(node, device), dst_mac=device_mac(there, device))
        src_mac, dst_mac = _wire_macs(cluster, node, there)
        outer = Outer(
            Encapsulation.VXLAN, src_mac, dst_mac, node.internal_ip, there.internal_ip,
            src_port=vxlan_source_port(inner), dst_port=p.udp_port, vni=identity,
        )
        b.add(
            HopKind.ENCAPSULATE,
            node.name,
            f"{device} (VXLAN)",
            f"eBPF on {veth}: the ipcache maps {headers.dst_ip} to tunnel endpoint {there.internal_ip}; "
            f"encapsulated with VNI {identity}, {sender.key}'s security identity",
            inner,
            outer,
            device=device,
        )
        b.add(HopKind.WIRE, None, f"node network {node_subnet(cluster, node)}", f"eth0 {node.internal_ip} -> {there.internal_ip}: UDP {p.udp_port}", inner, outer)
        b.add(HopKind.DECAPSULATE, there.name, device, f"{device} decapsulates; the source identity {identity} rides along for policy", inner,
              device=device)
        headers = inner
    target = _local_pod(cluster, there, headers.dst_ip)
    if target is None:
        b.add(HopKind.NODE_STACK, there.name, "eth0", f"{headers.dst_ip} is {there.name}'s own address: delivered to its stack", headers,
              device="eth0")
        return there
    out = host_veth_name(p, target.namespace, target.name)
    ttl = headers.ttl - 1
    headers = headers.with_(ttl=ttl, src_mac=host_veth_mac(target, p), dst_mac=pod_mac(target))
    b.add(HopKind.VETH_OUT, there.name, out, f"eBPF local delivery: redirect into {out} (TTL {ttl + 1}->{ttl}); no routing table, no iptables", headers,
          device=out)
    return target


# --- the request and its reply ---------------------------------------------------------------
def request(
    cluster: Cluster,
    source_pod: Pod | str,
    destination: Any,
    port: int,
    *,
    cni: str | CNIProfile = "flannel",
    seed: int = 0,
    protocol: Protocol | None = None,
) -> Walk:
    """Walk the first packet from ``source_pod`` to ``destination``:``port`` and its reply.

    ``destination`` is a Service (``name`` in the client's namespace, ``ns/name``, or a DNS
    name), a ClusterIP, or a pod IP. ``seed`` fixes the endpoint kube-proxy's (or
    Cilium's) draw picks and the client's source port.
    """
    p = profile(cni)
    client = _client(cluster, source_pod)
    address, service, service_port, target, asked = _resolve(cluster, client, destination, port)
    proto = service_port.protocol if service_port is not None else (protocol or Protocol.TCP)
    notes: list[str] = []
    b = _Builder(cluster, p, Direction.REQUEST, [], notes)
    sport = ephemeral_port(client, seed)
    first = Headers(client.pod_ip, sport, address, port, proto, ttl=64, tcp_flags="S", mss=p.mtu - 40)
    resolved = ""
    if service is not None and _address(destination) is None:
        resolved = f"{asked} resolves to {service.cluster_ip} (the DNS query itself is not walked); "
    action = f"{resolved}connect() to {address}:{port} sends a {_first_packet(proto)}"
    client_node = cluster.node_of(client)
    state: dict[str, Any] = {"dnat": None, "rules": (), "masq": None, "verdict": None, "outcome": None}

    def forward_pre(node: Node, headers: Headers) -> tuple[Headers, _Hooked | None]:
        if p.replaces_kube_proxy or node.name != client_node.name or state["verdict"] is not None:
            return headers, None
        t = _kube_proxy(cluster, node, headers, seed)
        state["verdict"], state["rules"] = t.verdict, t.rules
        path = " -> ".join(t.chains) if t.chains else "KUBE-SERVICES"
        if t.to is None:
            if service is None:
                return headers, _Hooked(f"kube-proxy: no rule matches {headers.dst_ip}:{headers.dst_port}; "
                                        "not translated (rule 3: no NAT between pods)")
            chain = t.chains[-1] if t.chains else "KUBE-SERVICES"
            if t.verdict is Verdict.REJECT:
                raise _Stop(f"{path}: REJECT: {service.key} has no ready endpoints; ICMP port unreachable: connection refused",
                            StopReason.REJECT, f"filter {chain}", table="filter", chain=chain)
            if t.verdict is Verdict.DROP:
                raise _Stop(f"{path}: DROP: no usable endpoint for this node; the SYN is dropped: timed out",
                            StopReason.DROP, f"filter {chain}", table="filter", chain=chain)
            stale = "" if node.kube_proxy_synced else f" (kube-proxy on {node.name} has not synced)"
            raise _Stop(
                f"no kube-proxy rule on {node.name} translates {headers.dst_ip}:{headers.dst_port}{stale}; "
                "no interface holds a ClusterIP: timed out",
                StopReason.NO_RULE,
                "nat PREROUTING",
                table="nat",
                chain="PREROUTING",
            )
        state["dnat"] = (headers.dst_ip, headers.dst_port)
        state["masq"] = t.masqueraded
        to_ip, to_port = t.to
        share = f" (share {t.share:.4g})" if t.share is not None and t.share < 1 else ""
        return headers.with_(dst_ip=to_ip, dst_port=to_port), _Hooked(
            f"{path}: DNAT {headers.dst_ip}:{headers.dst_port} -> {to_ip}:{to_port}{share}; conntrack records the original",
            Rewrite.DNAT,
        )

    def forward_post(node: Node, headers: Headers) -> tuple[Headers, _Hooked | None]:
        if node.name != client_node.name or not state["masq"] or state.get("snat"):
            return headers, None
        out = node_namespace(cluster, node.name, p).route_to(headers.dst_ip)
        snat = _masquerade_source(cluster, p, node, out)
        state["snat"] = (snat, headers.src_ip)
        return headers.with_(src_ip=snat), _Hooked(
            f"KUBE-POSTROUTING masquerades (mark 0x4000): source {headers.src_ip} -> {snat}", Rewrite.MASQUERADE)

    def socket_lb(headers: Headers) -> tuple[Headers, _Hooked]:
        t = _socket_lb(cluster, client_node, headers, seed)
        if t.to is None:
            raise _Stop(f"Cilium's service map has no backend for {service.key}: connect() fails (ECONNREFUSED)",
                        StopReason.NO_BACKEND)
        state["dnat"] = (headers.dst_ip, headers.dst_port)
        to_ip, to_port = t.to
        return headers.with_(dst_ip=to_ip, dst_port=to_port), _Hooked(
            f"Cilium's socket LB (cgroup connect4) picks {to_ip}:{to_port} and rewrites the socket's "
            "destination: the packet leaves the pod already addressed to the backend, no DNAT on the wire",
            Rewrite.SOCKET_LB,
        )

    lb = socket_lb if p.replaces_kube_proxy and service is not None else None
    delivered, outcome, server = True, "", target
    try:
        end = _leg(b, client, first, prerouting=forward_pre, postrouting=forward_post, first_action=action, lb=lb)
    except _Stop as stop:
        delivered, outcome, end = False, str(stop), None
        _stop_hop(b, client_node.name, first, stop)
    if delivered:
        arrived = b.hops[-1].inner
        if isinstance(end, Pod):
            server = end
            b.add(HopKind.RECEIVE, end.node_name, _pod_where(end), _arrival_text(end, arrived, client, state), arrived,
                  device="eth0", pod=end.key)
            outcome = f"delivered to {end.key} at {arrived.dst_ip}:{arrived.dst_port}, source {arrived.src_ip}:{arrived.src_port}"
        elif isinstance(end, ControlPlane):
            listening = (arrived.dst_ip, arrived.dst_port) in api_server_endpoints(cluster)
            b.add(HopKind.NODE_STACK, None, "kube-apiserver", f"kube-apiserver {'accepts' if listening else 'does not listen on'} "
                  f"{arrived.dst_ip}:{arrived.dst_port}", arrived)
            outcome = f"delivered to kube-apiserver (the control plane) at {arrived.dst_ip}:{arrived.dst_port}"
            notes.append("the control plane is outside the cluster's nodes: its reply is not walked")
        else:
            outcome = f"delivered to node {end.name} at {arrived.dst_ip}:{arrived.dst_port}"
    reply_hops: list[Hop] = []
    if delivered and isinstance(end, Pod):
        reply_hops = _reply(cluster, p, client, end, b.hops[-1].inner, state, notes)
    if target is not None and not _listens(target, port, proto):
        notes.append(f"no container of {target.key} listens on {port}/{proto.value}: the real SYN would be answered with a RST")
    return Walk(
        cni=p,
        client=client,
        destination=asked,
        service=service,
        service_port=service_port,
        server=server,
        hops=tuple(b.hops),
        reply=tuple(reply_hops),
        rules=tuple(state["rules"]),
        masqueraded=bool(state["masq"]),
        delivered=delivered,
        outcome=outcome,
        notes=tuple(dict.fromkeys(notes)),
        seed=seed,
    )


def _stop_hop(b: _Builder, node: str | None, fallback: Headers, stop: _Stop) -> None:
    last = b.hops[-1] if b.hops else None
    b.add(HopKind.STOP, last.node if last else node, stop.where, f"stops here: {stop}", last.inner if last else fallback,
          last.outer if last else None, table=stop.table, chain=stop.chain, stop=stop.reason)


def _first_packet(protocol: Protocol) -> str:
    return {Protocol.TCP: "SYN", Protocol.UDP: "UDP datagram", Protocol.SCTP: "SCTP INIT"}[protocol]


def _listens(pod: Pod, port: int, protocol: Protocol) -> bool:
    return any(p == port and proto == protocol for c in pod.containers for _, p, proto in c.listening) or not pod.containers


def _masquerade_source(cluster: Cluster, p: CNIProfile, node: Node, route: Route | None) -> IPv4Address:
    """MASQUERADE's choice: the primary address of the interface the packet leaves by
    (``cni0``'s, ``flannel.1``'s, a tunnel's block address, else the node's)."""
    table = node_namespace(cluster, node.name, p)
    device = (route.device if route is not None else None) or "eth0"
    link = next((l for l in table.links if l.name == device), None)
    if link is not None and link.addresses:
        return link.addresses[0].ip
    if device == p.tunnel_device:
        blocks = pod_blocks(cluster, node, p)
        if blocks:
            return tunnel_address(blocks[0])
    return node.internal_ip


def _socket_lb(cluster: Cluster, node: Node, headers: Headers, seed: int) -> _Translation:
    """Cilium's service lookup at connect(): the same backends (EndpointSlices) and shares
    kube-proxy's rules hold, since both are built from them."""
    return _kube_proxy(cluster, node, headers, seed)


def _arrival_text(server: Pod, arrived: Headers, client: Pod, state: dict[str, Any]) -> str:
    text = f"receives the {'SYN' if arrived.protocol is Protocol.TCP else 'packet'} on port {arrived.dst_port} from {arrived.src_ip}:{arrived.src_port}"
    if arrived.src_ip == client.pod_ip:
        return f"{text}: {client.key}'s real IP, no SNAT (rule 4)"
    return f"{text}: kube-proxy masqueraded it, so the server sees {arrived.src_ip}, not {client.pod_ip}"


def _reply(
    cluster: Cluster, p: CNIProfile, client: Pod, server: Pod, arrived: Headers, state: dict[str, Any], notes: list[str]
) -> list[Hop]:
    b = _Builder(cluster, p, Direction.REPLY, [], notes, frames_ok=not any("scapy" in n for n in notes))
    client_node = cluster.node_of(client)
    answer = Headers(
        arrived.dst_ip,
        arrived.dst_port,
        arrived.src_ip,
        arrived.src_port,
        arrived.protocol,
        ttl=64,
        tcp_flags="SA",
        mss=p.mtu - 40,
    )
    dnat, snat = state["dnat"], state.get("snat")

    def reply_pre(node: Node, headers: Headers) -> tuple[Headers, _Hooked | None]:
        if snat is None or node.name != client_node.name or headers.dst_ip != snat[0]:
            return headers, None
        return headers.with_(dst_ip=snat[1]), _Hooked(
            f"conntrack: reply to a masqueraded connection; destination {snat[0]} -> {snat[1]}", Rewrite.REPLY_UNDO_SNAT)

    def reply_post(node: Node, headers: Headers) -> tuple[Headers, _Hooked | None]:
        if dnat is None or p.replaces_kube_proxy or node.name != client_node.name or headers.src_ip == dnat[0]:
            return headers, None
        return headers.with_(src_ip=dnat[0], src_port=dnat[1]), _Hooked(
            f"conntrack: reply of a DNATed connection; source {headers.src_ip}:{headers.src_port} -> "
            f"{dnat[0]}:{dnat[1]} (no rule is walked)",
            Rewrite.REPLY_UNDO_DNAT,
        )

    kind = "SYN-ACK" if arrived.protocol is Protocol.TCP else "reply"
    try:
        _leg(b, server, answer, prerouting=reply_pre, postrouting=reply_post, first_action=f"answers with a {kind} to {answer.dst_ip}:{answer.dst_port}")
    except _Stop as stop:
        _stop_hop(b, server.node_name, answer, stop)
        return b.hops
    got = b.hops[-1].inner
    if p.replaces_kube_proxy and dnat is not None:
        text = (
            f"receives the {kind} from {got.src_ip}:{got.src_port}; the socket reports its peer as "
            f"{dnat[0]}:{dnat[1]}, the ClusterIP it dialled (Cilium's getpeername hook)"
        )
    elif dnat is not None:
        text = f"receives the {kind} from {got.src_ip}:{got.src_port}, the ClusterIP it dialled: the conntrack entry matches its socket"
    else:
        text = f"receives the {kind} from {got.src_ip}:{got.src_port}"
    b.add(HopKind.RECEIVE, client_node.name, _pod_where(client), text, got, device="eth0", pod=client.key)
    return b.hops
