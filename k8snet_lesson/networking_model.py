"""The lesson's four rules of the Kubernetes network model, as checks over a cluster.

1. Every Pod gets its own unique IP address.
2. Pods on the same node communicate directly using their Pod IPs, with no NAT.
3. Pods on different nodes communicate using their Pod IPs, with no NAT.
4. The IP a Pod sees for itself is the IP other Pods use to reach it.

A check takes a :class:`~k8snet_lesson.cluster.Cluster` and a :class:`Network` (the
dataplane between pods) and returns a :class:`RuleCheck` whose evidence rows a notebook
can show as a table (``pandas.DataFrame(check.rows())``).

Two dataplanes are modelled:

* :data:`FLAT`, what every CNI plugin must provide: pod IPs are routable from every
  node and no address is rewritten between pods. A packet for a pod IP is delivered
  on the sender's node if a pod there holds it (the local bridge answers first),
  otherwise on the node whose podCIDR contains it, to the pod there that holds it.
* a NAT'd network built by :func:`natted`, the way containers on plain Docker hosts
  talk: each node has its own private bridge (``docker0``, 172.17.0.0/16, gateway
  172.17.0.1) and hands out 172.17.0.2, .3, ... again on every node; a pod on another
  node is reached only through its node's IP and a published host port (Docker's
  ``DNAT`` in the ``DOCKER`` chain), and traffic leaving a node is masqueraded to the
  node's IP (``-A POSTROUTING -s 172.17.0.0/16 ! -o docker0 -j MASQUERADE``). Rule 2
  still holds there (pods on one bridge talk directly), rule 3 fails (another node's
  pod is dialled at the node IP and a host port, and both addresses are rewritten),
  rule 4 fails (peers on other nodes reach a pod at its node's IP and see it as its
  node's IP), and rule 1 fails as soon as two nodes run pods, because every node reuses
  the same range.

What it simplifies: ``hostNetwork`` pods share their node's IP and network namespace,
so they are outside the pod network and exempt from the rules (a client on the host
network is shown with its node's InternalIP; a real node may pick another source
address, such as flannel's ``flannel.1`` address for remote pods). Pods in phase
Succeeded or Failed have released their address and are exempt too. Services, kube-proxy's
DNAT and NetworkPolicy are left out: the rules are about pod-to-pod traffic. Docker's
host ports are handed out in turn from 32768 on each node, as its port allocator does
on a fresh host.

    >>> from k8snet_lesson.cluster import Cluster, Node, Pod
    >>> cluster = Cluster(
    ...     nodes=(Node("node-a", "192.168.0.10", pod_cidr="10.244.2.0/24"),
    ...            Node("node-b", "192.168.0.11", pod_cidr="10.244.3.0/24")),
    ...     pods=(Pod("default", "client", node_name="node-a", pod_ip="10.244.2.14"),
    ...           Pod("default", "server", node_name="node-b", pod_ip="10.244.3.7")))
    >>> [check.holds for check in check_all(cluster)]
    [True, True, True, True]
    >>> seen = what_the_app_sees(cluster, FLAT, "client", "server")
    >>> str(seen.dialled), str(seen.source_seen), seen.translations
    ('10.244.3.7', '10.244.2.14', ())
"""

from __future__ import annotations

import dataclasses
import enum
from collections import defaultdict
from collections.abc import Iterable
from ipaddress import IPv4Address, IPv4Network
from typing import Any

from .cluster import ANY_ADDRESS, LOOPBACK, Cluster, Node, Pod, PodPhase, Protocol
from .errors import ExhaustedError, InvalidValue, NotFound
from .ipam import HostLocal, parse_cidr

__all__ = [
    "RULES",
    "NetworkKind",
    "PortMapping",
    "Translation",
    "Network",
    "FLAT",
    "DOCKER_BRIDGE_CIDR",
    "DOCKER_FIRST_HOST_PORT",
    "natted",
    "Connection",
    "what_the_app_sees",
    "PodAddress",
    "SelfView",
    "RuleCheck",
    "check_rule",
    "check_all",
    "UPSTREAM_RULES",
    "Reach",
    "Reachability",
    "node_agent",
    "who_reaches_whom",
    "reachers_of",
]

#: The four rules, worded as the lesson words them.
RULES = (
    "Every Pod gets its own unique IP address. No two Pods share an IP — even across different nodes.",
    "Pods on the same node can communicate with each other directly using their Pod IPs — no NAT.",
    "Pods on different nodes can communicate with each other using their Pod IPs — no NAT required.",
    "The IP a Pod sees for itself (its own IP) is the same IP other Pods use to reach it.",
)

#: The two requirements of the upstream networking model (kubernetes.io, "The Kubernetes
#: network model") that the lesson's four rules leave out.
UPSTREAM_RULES = (
    "Agents on a node (system daemons, the kubelet) can communicate with all Pods on that node.",
    "Containers in one Pod share one network namespace: they reach each other at 127.0.0.1.",
)

#: Docker's default bridge network (``docker0``), reused on every host.
DOCKER_BRIDGE_CIDR = IPv4Network("172.17.0.0/16")

#: The first host port Docker publishes on a fresh host: the start of Linux's default
#: ephemeral port range (``net.ipv4.ip_local_port_range = 32768 60999``).
DOCKER_FIRST_HOST_PORT = 32768


class NetworkKind(str, enum.Enum):
    FLAT = "flat"
    NODE_NAT = "node-nat"


@dataclasses.dataclass(frozen=True)
class PortMapping:
    """A published port: ``host_ip:host_port`` on ``node_name`` goes to ``pod``'s ``container_port``."""

    node_name: str
    host_ip: IPv4Address
    host_port: int
    pod: str
    pod_ip: IPv4Address
    container_port: int
    protocol: Protocol = Protocol.TCP

    @property
    def rule(self) -> str:
        """Docker's DNAT rule for this mapping, as ``iptables-save -t nat`` prints it."""
        proto = self.protocol.iptables
        return (
            f"-A DOCKER ! -i docker0 -p {proto} -m {proto} --dport {self.host_port} "
            f"-j DNAT --to-destination {self.pod_ip}:{self.container_port}"
        )


@dataclasses.dataclass(frozen=True)
class Translation:
    """One address rewrite on the way: which node did it, by which rule, from what to what."""

    node_name: str
    field: str  # "source" or "destination"
    before: IPv4Address
    after: IPv4Address
    rule: str

    def __str__(self) -> str:
        return f"{self.node_name}: {self.field} {self.before} -> {self.after} ({self.rule})"


@dataclasses.dataclass(frozen=True)
class Network:
    """The dataplane between pods: flat (what Kubernetes requires) or NAT'd per node."""

    kind: NetworkKind = NetworkKind.FLAT
    bridge: str = "cni0"
    bridge_cidr: IPv4Network | None = None
    port_mappings: tuple[PortMapping, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "kind", NetworkKind(self.kind))
        if self.bridge_cidr is not None:
            object.__setattr__(self, "bridge_cidr", parse_cidr(self.bridge_cidr, "bridge CIDR"))
        object.__setattr__(self, "port_mappings", tuple(self.port_mappings))

    def mapping_for(self, pod: str, port: int, protocol: Protocol = Protocol.TCP) -> PortMapping | None:
        """The host port published for ``pod``'s ``port`` (``pod`` is ``namespace/name``)."""
        return next(
            (m for m in self.port_mappings if m.pod == pod and m.container_port == port and m.protocol == protocol),
            None,
        )

    @property
    def masquerade_rule(self) -> str:
        """The rule that hides a NAT'd node's pods behind its IP (empty on a flat network)."""
        if self.kind is not NetworkKind.NODE_NAT or self.bridge_cidr is None:
            return ""
        return f"-A POSTROUTING -s {self.bridge_cidr} ! -o {self.bridge} -j MASQUERADE"


#: The flat pod network every CNI plugin must provide.
FLAT = Network()


def _terminal(pod: Pod) -> bool:
    return pod.phase in (PodPhase.SUCCEEDED, PodPhase.FAILED)


def _in_pod_network(pod: Pod) -> bool:
    """Pods the rules are about: scheduled, not hostNetwork, not finished, with an IP."""
    return pod.node_name is not None and not pod.host_network and not _terminal(pod) and pod.pod_ip is not None


def natted(
    cluster: Cluster,
    *,
    bridge_cidr: Any = DOCKER_BRIDGE_CIDR,
    first_host_port: int = DOCKER_FIRST_HOST_PORT,
) -> tuple[Cluster, Network]:
    """``cluster`` as if each node ran its pods behind its own NAT, as plain Docker hosts do.

    Every node gets ``bridge_cidr`` as its pod range (the same range on every node) and
    hands out its pods' addresses from ``.2`` in pod order (``.1`` is the bridge); each
    declared container port is published on the node's IP at the next host port from
    ``first_host_port``. ``hostNetwork`` pods keep their node's IP; finished pods lose theirs.

    >>> from k8snet_lesson.cluster import Cluster, Node, Pod, Container, ContainerPort
    >>> web = (Container("web", ports=(ContainerPort(3000),)),)
    >>> cluster = Cluster(nodes=(Node("node-a", "192.168.0.10"), Node("node-b", "192.168.0.11")),
    ...                   pods=(Pod("default", "a", node_name="node-a", containers=web),
    ...                         Pod("default", "b", node_name="node-b", containers=web)))
    >>> natted_cluster, network = natted(cluster)
    >>> [str(p.pod_ip) for p in natted_cluster.pods]
    ['172.17.0.2', '172.17.0.2']
    >>> network.port_mappings[1].rule
    '-A DOCKER ! -i docker0 -p tcp -m tcp --dport 32768 -j DNAT --to-destination 172.17.0.2:3000'
    """
    bridge = parse_cidr(bridge_cidr, "bridge CIDR")
    if isinstance(first_host_port, bool) or not isinstance(first_host_port, int) or not 1 <= first_host_port <= 65535:
        raise InvalidValue(f"first host port {first_host_port!r} is not a port number (1-65535)")
    ranges = {node.name: HostLocal(bridge) for node in cluster.nodes}
    next_port = {node.name: first_host_port for node in cluster.nodes}
    pods: list[Pod] = []
    mappings: list[PortMapping] = []
    for pod in cluster.pods:
        if pod.node_name is None:
            pods.append(pod)
            continue
        node = cluster.node(pod.node_name)
        if pod.host_network:
            pods.append(pod.with_pod_ip(node.internal_ip))
            continue
        if _terminal(pod):
            pods.append(pod.with_pod_ip(None))
            continue
        try:
            address = ranges[node.name].allocate(pod.key)
        except ExhaustedError as exc:
            raise ExhaustedError(f"pod {pod.key} on node {node.name}: {exc}") from None
        pods.append(pod.with_pod_ip(address))
        published: set[tuple[int, Protocol]] = set()
        for container in pod.containers:
            for port in container.ports:
                if (port.container_port, port.protocol) in published:
                    continue
                published.add((port.container_port, port.protocol))
                if next_port[node.name] > 65535:
                    raise ExhaustedError(f"node {node.name} has no host port left to publish {pod.key}:{port.container_port}")
                mappings.append(
                    PortMapping(
                        node.name, node.internal_ip, next_port[node.name], pod.key, address, port.container_port, port.protocol
                    )
                )
                next_port[node.name] += 1
    nodes = tuple(node.with_(pod_cidr=bridge) for node in cluster.nodes)
    network = Network(NetworkKind.NODE_NAT, bridge="docker0", bridge_cidr=bridge, port_mappings=tuple(mappings))
    return cluster.with_(nodes=nodes, pods=tuple(pods)), network


# --- what an application sees ------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Connection:
    """One connection from ``client`` to ``server``, as both applications see it.

    ``client_ip``/``server_ip`` are the addresses each pod sees on its own ``eth0``;
    ``dialled``:``dialled_port`` is what the client must connect to; ``reached`` is the
    pod the connection arrives at (``None`` if it arrives nowhere); ``source_seen`` is the
    source address the server's application logs; ``translations`` are the rewrites on
    the way. ``direct`` means no translation, the client dialled the server's own IP,
    reached the server, and the server saw the client's own IP.
    """

    client: str
    client_node: str
    server: str
    server_node: str
    client_ip: IPv4Address
    server_ip: IPv4Address
    dialled: IPv4Address | None
    dialled_port: int | None
    reached: str | None
    source_seen: IPv4Address | None
    translations: tuple[Translation, ...]
    direct: bool
    note: str = ""
    protocol: Protocol = Protocol.TCP  # of the port dialled: 53/UDP is a DNS query, not an HTTP request

    @property
    def nat(self) -> bool:
        return bool(self.translations)


class _Dataplane:
    """Lookups for one (cluster, network) pair, built once for many connections."""

    def __init__(self, cluster: Cluster, network: Network) -> None:
        self.cluster = cluster
        self.network = network
        self.nodes = {node.name: node for node in cluster.nodes}
        self.holders: dict[IPv4Address, list[Pod]] = defaultdict(list)
        for pod in cluster.pods:
            if _in_pod_network(pod):
                self.holders[pod.pod_ip].append(pod)

    def own_ip(self, pod: Pod) -> IPv4Address:
        if pod.host_network:
            return self.nodes[pod.node_name].internal_ip
        if pod.pod_ip is None:
            raise InvalidValue(f"pod {pod.key} has no IP")
        return pod.pod_ip

    def deliver(self, from_node: str, address: IPv4Address, local_only: bool = False) -> Pod | None:
        """The pod a packet for ``address`` sent from ``from_node`` arrives at."""
        holders = self.holders.get(address, [])
        local = [p for p in holders if p.node_name == from_node]
        if local or local_only:
            return local[0] if local else None
        owners = [n for n in self.cluster.nodes if n.pod_cidr is not None and address in n.pod_cidr]
        if owners:
            there = [p for p in holders if p.node_name == owners[0].name]
            return there[0] if there else None
        return holders[0] if holders else None

    def connect(self, client: Pod, server: Pod, port: int | None) -> Connection:
        client_node, server_node = client.node_name, server.node_name
        if client_node is None or server_node is None:
            unscheduled = client if client_node is None else server
            raise InvalidValue(f"pod {unscheduled.key} is not scheduled on a node")
        client_ip, server_ip = self.own_ip(client), self.own_ip(server)
        protocol = Protocol.TCP
        if port is None:
            declared = [p for c in server.containers for p in c.ports]
            if declared:
                port, protocol = declared[0].container_port, declared[0].protocol
        else:
            protocol = next(
                (p.protocol for c in server.containers for p in c.ports if p.container_port == port), Protocol.TCP
            )
        same_node = client_node == server_node

        def done(dialled, dialled_port, reached, source, translations=(), note=""):
            direct = (
                not translations and reached == server.key and dialled == server_ip and source == client_ip
            )
            return Connection(
                client.key, client_node, server.key, server_node, client_ip, server_ip,
                dialled, dialled_port, reached, source, tuple(translations), direct, note, protocol,
            )

        if self.network.kind is NetworkKind.FLAT or server.host_network and client.host_network:
            if server.host_network:
                reached: Pod | None = server
            else:
                reached = self.deliver(client_node, server_ip)
            note = ""
            if reached is not None and reached.key != server.key:
                note = f"{server_ip} is also held by {reached.key}, which the packet reaches first"
            elif reached is None:
                note = f"no pod holds {server_ip} where the route for it leads"
            return done(server_ip, port, reached.key if reached else None, client_ip if reached else None, note=note)

        # A NAT'd network: private bridges on every node, published ports between nodes.
        if same_node:
            reached = server if server.host_network else self.deliver(client_node, server_ip, local_only=True)
            return done(server_ip, port, reached.key if reached else None, client_ip if reached else None)
        client_host_ip = self.nodes[client_node].internal_ip
        server_host_ip = self.nodes[server_node].internal_ip
        masquerade = []
        source = client_ip
        if not client.host_network:
            masquerade = [Translation(client_node, "source", client_ip, client_host_ip, self.network.masquerade_rule)]
            source = client_host_ip
        if server.host_network:
            return done(server_host_ip, port, server.key, source, masquerade)
        mapping = None if port is None else self.network.mapping_for(server.key, port, protocol)
        if mapping is None:
            what = f"port {port}" if port is not None else "any port (it declares none)"
            return done(
                None, None, None, None,
                note=f"no host port on {server_node} is published for {server.key} {what}; its address {server_ip} "
                f"is in the private bridge range every node reuses, so it is not routable from {client_node}",
            )
        dnat = Translation(server_node, "destination", mapping.host_ip, mapping.pod_ip, mapping.rule)
        return done(mapping.host_ip, mapping.host_port, server.key, source, (*masquerade, dnat))


def _pod(cluster: Cluster, pod: Pod | str) -> Pod:
    if isinstance(pod, Pod):
        return cluster.pod(pod.name, pod.namespace)
    return cluster.pod(pod)


def what_the_app_sees(
    cluster: Cluster, network: Network, client: Pod | str, server: Pod | str, port: int | None = None
) -> Connection:
    """What the client dials and what the server's application logs for one connection.

    ``client`` and ``server`` are pods or their names (``name`` or ``namespace/name``),
    looked up in ``cluster``. ``port`` defaults to the server's first declared
    container port; it matters on a NAT'd network, where only published ports cross
    nodes.
    """
    plane = _Dataplane(cluster, network)
    return plane.connect(_pod(cluster, client), _pod(cluster, server), port)


# --- the four rules ----------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class PodAddress:
    """Rule 1 evidence: one pod's address and who else holds it."""

    pod: str
    node: str | None
    pod_ip: IPv4Address | None
    shared_with: tuple[str, ...]
    note: str
    holds: bool


@dataclasses.dataclass(frozen=True)
class SelfView:
    """Rule 4 evidence: the IP a pod sees on its eth0, the IPs peers dial to reach it,
    and the source IPs peers observe when it connects to them."""

    pod: str
    node: str
    own_ip: IPv4Address
    peers_dial: tuple[IPv4Address, ...]
    peers_observe: tuple[IPv4Address, ...]
    holds: bool


@dataclasses.dataclass(frozen=True)
class RuleCheck:
    """The verdict on one rule, with the rows that show it and one line saying why."""

    number: int
    statement: str
    holds: bool
    evidence: tuple[Any, ...]
    reason: str = ""

    def rows(self) -> list[dict[str, Any]]:
        """The evidence as flat dicts for a table: tuples become comma-separated text."""
        out = []
        for row in self.evidence:
            flat: dict[str, Any] = {}
            for field in dataclasses.fields(row):
                value = getattr(row, field.name)
                if isinstance(value, tuple):
                    value = ", ".join(str(v) for v in value)
                flat[field.name] = value
            out.append(flat)
        return out


def _addresses(cluster: Cluster) -> RuleCheck:
    holders: dict[IPv4Address, list[Pod]] = defaultdict(list)
    for pod in cluster.pods:
        if _in_pod_network(pod):
            holders[pod.pod_ip].append(pod)
    rows = []
    for pod in cluster.pods:
        if pod.host_network:
            row = PodAddress(pod.key, pod.node_name, pod.pod_ip, (), "hostNetwork: shares its node's IP (exempt)", True)
        elif _terminal(pod):
            row = PodAddress(pod.key, pod.node_name, pod.pod_ip, (), f"{pod.phase.value}: its IP was released (exempt)", True)
        elif pod.node_name is None:
            row = PodAddress(pod.key, None, pod.pod_ip, (), "not scheduled yet (exempt)", True)
        elif pod.pod_ip is None:
            row = PodAddress(pod.key, pod.node_name, None, (), "scheduled but has no IP", False)
        else:
            others = tuple(p.key for p in holders[pod.pod_ip] if p.key != pod.key)
            note = "unique" if not others else "shared with " + ", ".join(others)
            row = PodAddress(pod.key, pod.node_name, pod.pod_ip, others, note, not others)
        rows.append(row)
    shared = {ip: pods for ip, pods in holders.items() if len(pods) > 1}
    missing = [r.pod for r in rows if not r.holds and r.pod_ip is None]
    reasons = []
    if shared:
        ip, pods = min(shared.items())
        nodes = sorted({p.node_name for p in pods})
        where = "on different nodes" if len(nodes) > 1 else f"on {nodes[0]}"
        reasons.append(
            f"{len(shared)} address{'es are' if len(shared) > 1 else ' is'} held by more than one pod, "
            f"e.g. {ip} by {', '.join(p.key for p in pods)} {where}"
        )
    if missing:
        reasons.append(f"{len(missing)} scheduled pod{'s have' if len(missing) > 1 else ' has'} no IP: {', '.join(missing)}")
    holds = not reasons
    counted = sum(1 for r in rows if r.pod_ip is not None and not r.note.endswith("(exempt)"))
    reason = "; ".join(reasons) if reasons else f"each of the {counted} pods in the pod network has an address no other pod holds"
    return RuleCheck(1, RULES[0], holds, tuple(rows), reason)


def _members(cluster: Cluster) -> list[Pod]:
    return [p for p in cluster.pods if _in_pod_network(p)]


def _connections(cluster: Cluster, network: Network) -> list[Connection]:
    plane = _Dataplane(cluster, network)
    members = _members(cluster)
    return [plane.connect(a, b, None) for a in members for b in members if a.key != b.key]


def _pairs(number: int, connections: Iterable[Connection], same_node: bool) -> RuleCheck:
    rows = tuple(c for c in connections if (c.client_node == c.server_node) == same_node)
    failing = [c for c in rows if not c.direct]
    where = "on the same node" if same_node else "on different nodes"
    if not rows:
        return RuleCheck(number, RULES[number - 1], True, rows, f"no two pods {where} to check")
    if not failing:
        return RuleCheck(
            number, RULES[number - 1], True, rows,
            f"all {len(rows)} connections between pods {where} dial the peer's pod IP and keep both addresses",
        )
    first = failing[0]
    if first.reached is None:
        example = f"{first.client} cannot reach {first.server}: {first.note}"
    elif first.translations:
        example = (
            f"{first.client} ({first.client_ip}) dials {first.dialled}:{first.dialled_port} to reach "
            f"{first.server} ({first.server_ip}), which sees the source {first.source_seen}"
        )
    else:
        example = f"{first.client} dials {first.dialled} but reaches {first.reached}: {first.note}"
    return RuleCheck(
        number, RULES[number - 1], False, rows,
        f"{len(failing)} of {len(rows)} connections between pods {where} are not direct, e.g. {example}",
    )


def _self_views(cluster: Cluster, connections: list[Connection]) -> RuleCheck:
    dial: dict[str, set[IPv4Address]] = defaultdict(set)
    observe: dict[str, set[IPv4Address]] = defaultdict(set)
    for c in connections:
        if c.dialled is not None:
            dial[c.server].add(c.dialled)
        if c.source_seen is not None:
            observe[c.client].add(c.source_seen)
    rows = []
    for pod in _members(cluster):
        seen_by_peers = tuple(sorted(dial[pod.key]))
        seen_as = tuple(sorted(observe[pod.key]))
        holds = set(seen_by_peers) <= {pod.pod_ip} and set(seen_as) <= {pod.pod_ip}
        rows.append(SelfView(pod.key, pod.node_name, pod.pod_ip, seen_by_peers, seen_as, holds))
    failing = [r for r in rows if not r.holds]
    if not failing:
        return RuleCheck(
            4, RULES[3], True, tuple(rows),
            f"each of the {len(rows)} pods is dialled at, and seen as, the IP on its own eth0",
        )
    first = failing[0]
    other_dial = [str(a) for a in first.peers_dial if a != first.own_ip]
    other_seen = [str(a) for a in first.peers_observe if a != first.own_ip]
    parts = []
    if other_dial:
        parts.append(f"dial it at {', '.join(other_dial)}")
    if other_seen:
        parts.append(f"see it as {', '.join(other_seen)}")
    return RuleCheck(
        4, RULES[3], False, tuple(rows),
        f"{len(failing)} of {len(rows)} pods are known to peers by another IP, e.g. {first.pod} sees "
        f"{first.own_ip} on eth0, but peers {' and '.join(parts)}",
    )


def check_rule(number: int, cluster: Cluster, network: Network = FLAT) -> RuleCheck:
    """Check rule ``number`` (1-4) on ``cluster`` over ``network``."""
    if number == 1:
        return _addresses(cluster)
    if number not in (2, 3, 4):
        raise NotFound(f"no rule {number!r} (the rules are 1, 2, 3, 4)")
    connections = _connections(cluster, network)
    if number == 4:
        return _self_views(cluster, connections)
    return _pairs(number, connections, same_node=number == 2)


def check_all(cluster: Cluster, network: Network = FLAT) -> tuple[RuleCheck, ...]:
    """The four rules checked on ``cluster`` over ``network``, in order."""
    connections = _connections(cluster, network)
    return (
        _addresses(cluster),
        _pairs(2, connections, same_node=True),
        _pairs(3, connections, same_node=False),
        _self_views(cluster, connections),
    )


# --- who reaches whom ----------------------------------------------------------------------


class Reach(str, enum.Enum):
    """How a connection from a source to a pod's app ends."""

    DIRECT = "direct"  # it arrives, with both real addresses
    TRANSLATED = "translated"  # it arrives, but an address was rewritten on the way
    LOOPBACK = "loopback"  # the same pod: 127.0.0.1, inside the shared network namespace
    REFUSED = "refused"  # it arrives at the pod, but no socket listens on that address
    NONE = "none"  # there is no address to dial, or it leads elsewhere


@dataclasses.dataclass(frozen=True)
class Reachability:
    """One source (a pod, or a node's agents) connecting to one pod's app."""

    source: str  # a pod key, or "node/<name>" for the agents on that node
    target: str
    reach: Reach
    via: str  # what the source dials: "10.244.3.7:3000", "127.0.0.1:3000", or ""
    why: str

    @property
    def reaches(self) -> bool:
        return self.reach in (Reach.DIRECT, Reach.TRANSLATED, Reach.LOOPBACK)


def node_agent(node: Node) -> Pod:
    """The kubelet and the other agents of ``node``, as a client: a host-network pod there."""
    return Pod("node", node.name, node_name=node.name, host_network=True)


def _listens_on(pod: Pod, port: int | None, protocol: Protocol) -> IPv4Address | None:
    """The address the pod's app binds for ``port`` (``None``: nothing listens there).

    A pod that declares no port and no listening socket is taken to listen on every
    address, as the small clusters of the examples do.
    """
    sockets = [socket for container in pod.containers for socket in container.listening]
    if not sockets:
        return ANY_ADDRESS
    for address, listening, proto in sockets:
        if (port is None or listening == port) and proto == protocol:
            return address
    return None


def _first_port(pod: Pod) -> tuple[int | None, Protocol]:
    declared = [p for c in pod.containers for p in c.ports]
    return (declared[0].container_port, declared[0].protocol) if declared else (None, Protocol.TCP)


def who_reaches_whom(cluster: Cluster, network: Network = FLAT) -> tuple[Reachability, ...]:
    """Every source against every pod of the pod network: the agents of each node first,
    then each pod (itself included, over 127.0.0.1).

    A source connects to the target's first declared port. The agents on a node connect
    from the node's own network namespace, so they reach the pods on their node at the
    pod IP (the upstream rule); a pod reaches itself, and its sidecars reach it, at
    127.0.0.1, because the containers of a pod share one network namespace. An app bound
    to 127.0.0.1 is reached only that way: a connection to its pod IP arrives on ``eth0``
    and is refused.
    """
    plane = _Dataplane(cluster, network)
    sources = [node_agent(node) for node in cluster.nodes] + _members(cluster)
    out = []
    for target in _members(cluster):
        port, protocol = _first_port(target)
        bound = _listens_on(target, port, protocol)
        at = f":{port}" if port is not None else ""
        for source in sources:
            key = source.key  # a node's agents are "node/<node name>"
            if source.key == target.key:
                if bound is None:
                    out.append(Reachability(key, target.key, Reach.REFUSED, f"{LOOPBACK}{at}", "nothing listens there"))
                else:
                    out.append(Reachability(key, target.key, Reach.LOOPBACK, f"{LOOPBACK}{at}",
                                            "the pod's containers share one network namespace"))
                continue
            c = plane.connect(source, target, port)
            via = "" if c.dialled is None else f"{c.dialled}:{c.dialled_port}" if c.dialled_port else str(c.dialled)
            if c.reached != target.key:
                out.append(Reachability(key, target.key, Reach.NONE, via, c.note or "the packet arrives elsewhere"))
            elif bound is None or bound == LOOPBACK:
                what = "nothing listens on that port" if bound is None else "the app listens on 127.0.0.1 only"
                out.append(Reachability(key, target.key, Reach.REFUSED, via, f"it arrives on eth0, but {what}"))
            elif c.translations:
                out.append(Reachability(key, target.key, Reach.TRANSLATED, via,
                                        "; ".join(str(t) for t in c.translations)))
            else:
                out.append(Reachability(key, target.key, Reach.DIRECT, via, "no address is rewritten"))
    return tuple(out)


def reachers_of(cluster: Cluster, target: Pod | str, network: Network = FLAT) -> tuple[str, ...]:
    """The sources that reach ``target``'s app (``node/<name>`` for a node's agents)."""
    key = _pod(cluster, target).key
    return tuple(r.source for r in who_reaches_whom(cluster, network) if r.target == key and r.reaches)
