"""What happens when a pod opens a connection to IP:port: the path, and where it ends.

Models the first packet of a connection (a TCP SYN, or a UDP datagram) from a client pod:

1. **kube-proxy on the client's node.** The packet walks that node's rules
   (:func:`k8snet_lesson.kube_proxy.rules_for`, traced by :func:`k8snet_lesson.trace.trace`),
   whatever its destination. ``DNAT`` picks one endpoint, drawn with the rules'
   probabilities from a seeded generator; ``REJECT`` (a Service without endpoints) answers
   with ICMP port unreachable: *connection refused*; ``DROP`` (internalTrafficPolicy Local
   without a local endpoint) is silence: *timed out*. No rule: the packet is routed as
   it is. A node whose kube-proxy is down or stale (``Node.kube_proxy_synced=False``)
   still has the rules of the cluster's system Services (``kube-system``, and
   ``default/kubernetes``), which existed when it last synced, and none of the
   application's: their ClusterIPs go unanswered.
2. **routing.** An address no interface holds (a ClusterIP without a rule, or an address
   outside the pod network) leaves by the node's default route and nothing answers:
   *timed out*. An address in the pod network that no pod holds is not answered to ARP:
   *no route to host*. A pod that is not Running, or on a node that is not Ready,
   never answers: *timed out*.
3. **NetworkPolicy** at the server pod, enforced only when the cluster's CNI enforces
   policy (Calico, Cilium do; Flannel does not): a denied SYN is dropped: *timed out*.
4. **the server's sockets.** A socket bound to ``0.0.0.0`` or the pod IP on that port and
   protocol accepts; one bound to ``127.0.0.1`` only sees loopback traffic, so a packet
   that arrives on ``eth0`` is refused (RST); no socket: refused (RST, or ICMP port
   unreachable for UDP).

What it simplifies: only the first packet (no conntrack, session affinity, or
retransmissions); the draw among endpoints uses Python's :class:`random.Random`, so a
seed gives a reproducible endpoint but not the one the kernel's ``statistic`` match
would pick; egress policy, host firewalls, MTU and the overlay are not modelled (the
hop-by-hop walk of :mod:`k8snet_lesson.walk` shows those).
"""

from __future__ import annotations

import dataclasses
import enum
import functools
import random
from ipaddress import IPv4Address

from .cluster import ANY_ADDRESS, LOOPBACK, Cluster, NetworkPolicy, Pod, PodPhase, Protocol, Service, ipv4_address
from .endpoints import api_server_endpoints
from .errors import InvalidValue, NotFound
from .iptables import RuleSet
from .kube_proxy import rules_for
from .trace import Destination, Packet, Trace, Verdict
from .trace import trace as follow

__all__ = [
    "Outcome",
    "Reason",
    "Connection",
    "connect",
    "node_rules",
    "kube_proxy_view",
    "pick",
    "enforces_network_policy",
]


class Outcome(str, enum.Enum):
    """How ``connect()`` ends, in the words of the error the client sees."""

    ESTABLISHED = "established"
    REFUSED = "Connection refused"
    TIMED_OUT = "Connection timed out"
    UNREACHABLE = "No route to host"


class Reason(str, enum.Enum):
    """Why the connection ended as it did (the layer that decided)."""

    ACCEPTED = "accepted by the server"
    SERVICE_REJECT = "kube-proxy REJECT: the Service has no endpoints"
    SERVICE_DROP = "kube-proxy DROP: no local endpoint for internalTrafficPolicy Local"
    NO_RULE = "no kube-proxy rule for this ClusterIP on the client's node"
    NOT_A_POD = "no pod holds this address"
    OUTSIDE = "the address is outside the cluster; nothing answers"
    POD_NOT_RUNNING = "the pod is not running"
    NODE_NOT_READY = "the pod's node is not Ready"
    POLICY_DENIED = "a NetworkPolicy drops the packet"
    NOT_LISTENING = "nothing listens on that port"
    LOOPBACK_ONLY = "the app listens on 127.0.0.1 only"


@dataclasses.dataclass(frozen=True)
class Connection:
    """The fate of one connection from ``client`` to ``destination:port``.

    ``trace`` is the walk through the client node's rules; ``service`` the Service whose
    rules caught the packet (by ClusterIP); ``endpoint`` the address and port after DNAT
    and ``candidates`` every endpoint the DNAT could have picked, with its share;
    ``server`` the pod that received the packet; ``policy`` the NetworkPolicies that
    denied it. ``detail`` says in one sentence what happened.
    """

    client: Pod
    destination: IPv4Address
    port: int
    protocol: Protocol
    outcome: Outcome
    reason: Reason
    detail: str
    node_name: str
    trace: Trace | None = None
    service: Service | None = None
    endpoint: tuple[IPv4Address, int] | None = None
    candidates: tuple[tuple[IPv4Address, int, float], ...] = ()
    server: Pod | None = None
    policies: tuple[NetworkPolicy, ...] = ()
    cni: str = ""

    @property
    def established(self) -> bool:
        return self.outcome is Outcome.ESTABLISHED

    @property
    def final_address(self) -> IPv4Address:
        """Where the packet went after kube-proxy: the endpoint, or the destination itself."""
        return self.endpoint[0] if self.endpoint else self.destination

    @property
    def final_port(self) -> int:
        return self.endpoint[1] if self.endpoint else self.port


def _system(service: Service) -> bool:
    """Services that exist from the moment a cluster is made, so a stale kube-proxy has them."""
    return service.namespace == "kube-system" or service.key == "default/kubernetes"


def _stale_view(cluster: Cluster) -> Cluster:
    """The cluster as a kube-proxy that stopped syncing last saw it: system Services only."""
    keep = tuple(s for s in cluster.services if _system(s))
    keys = {s.key for s in keep}
    return cluster.with_(services=keep, endpoint_slices=tuple(e for e in cluster.endpoint_slices if e.service_key in keys))


def kube_proxy_view(cluster: Cluster, node_name: str) -> Cluster:
    """The cluster as kube-proxy on ``node_name`` last synced it: all of it, or, when it
    stopped syncing (``Node.kube_proxy_synced=False``), the system Services only. Either
    proxy mode programs its rules from this view."""
    return cluster if cluster.node(node_name).kube_proxy_synced else _stale_view(cluster)


@functools.lru_cache(maxsize=64)
def node_rules(cluster: Cluster, node_name: str) -> RuleSet:
    """The rules kube-proxy has programmed on ``node_name``, stale ones included."""
    return rules_for(kube_proxy_view(cluster, node_name), node_name)


def _replaces_kube_proxy(cni: str) -> bool:
    """Whether ``cni`` answers ClusterIPs itself (Cilium's kube-proxy replacement): then no
    kube-proxy runs, and the same decisions come from Cilium's eBPF service map."""
    from .cni import profile

    return profile(cni).replaces_kube_proxy


def enforces_network_policy(cni: str) -> bool:
    """Whether the CNI profile ``cni`` enforces NetworkPolicy (NotFound lists the profiles).

    >>> enforces_network_policy("flannel"), enforces_network_policy("calico")
    (False, True)
    """
    from .cni import profile

    return bool(profile(cni).network_policy)


def pick(destinations: tuple[Destination, ...], seed: int) -> Destination:
    """Draw one DNAT destination with the rules' shares, from a generator seeded with ``seed``."""
    weights = [float(d.share) for d in destinations]
    if len(destinations) == 1 or sum(weights) <= 0:
        return destinations[0]
    return destinations[random.Random(seed).choices(range(len(destinations)), weights=weights)[0]]



def connect(
    cluster: Cluster,
    client: Pod | str,
    destination: IPv4Address | str,
    port: int,
    protocol: Protocol | str = Protocol.TCP,
    *,
    cni: str | None = None,
    seed: int = 0,
) -> Connection:
    """Open a connection from ``client`` (a Pod or ``namespace/name``) to ``destination:port``."""
    if not isinstance(client, Pod):
        client = cluster.pod(client)
    if client.pod_ip is None or client.node_name is None:
        raise InvalidValue(f"pod {client.key} has no IP yet (not scheduled or not started): it cannot open connections")
    destination = ipv4_address(destination, "destination")
    if isinstance(port, bool) or not isinstance(port, int) or not 1 <= port <= 65535:
        raise InvalidValue(f"port {port!r} is not a port number (1-65535)")
    protocol = Protocol(protocol) if not isinstance(protocol, Protocol) else protocol
    cni = cni or cluster.cni
    enforces = enforces_network_policy(cni)
    node_name = client.node_name
    base = dict(client=client, destination=destination, port=port, protocol=protocol, node_name=node_name, cni=cni)

    walk = follow(node_rules(cluster, node_name), Packet(client.pod_ip, destination, port, protocol))
    service = cluster.service_by_ip(destination)
    if walk.verdict is Verdict.REJECT:
        who = f"Service {service.key}" if service else "the Service"
        return Connection(
            **base, outcome=Outcome.REFUSED, reason=Reason.SERVICE_REJECT, trace=walk, service=service,
            detail=f"kube-proxy on {node_name} rejects {destination}:{port}: {who} has no endpoints "
            "(REJECT --reject-with icmp-port-unreachable)" if not _replaces_kube_proxy(cni) else
            f"Cilium on {node_name} refuses {destination}:{port}: {who} has no backends in its service map",
        )
    if walk.verdict is Verdict.DROP:
        return Connection(
            **base, outcome=Outcome.TIMED_OUT, reason=Reason.SERVICE_DROP, trace=walk, service=service,
            detail=f"kube-proxy on {node_name} drops {destination}:{port}: no endpoint on this node "
            "(internalTrafficPolicy: Local)",
        )
    endpoint = None
    candidates: tuple = ()
    target, target_port = destination, port
    if walk.verdict is Verdict.DNAT and walk.destinations:
        candidates = tuple((d.address, d.port, float(d.share)) for d in walk.destinations)
        chosen = pick(walk.destinations, seed)
        target, target_port = chosen.address, chosen.port
        endpoint = (target, target_port)
    elif cluster.pod_by_ip(destination) is None and (service is not None or destination in cluster.service_cidr):
        # No DNAT: nothing on any host holds a ClusterIP, so the packet leaves by the
        # default route and is never answered. (A pod whose IP lies in an overlapping
        # service range is still routed to like any pod: kube-proxy intercepts only the
        # ClusterIP:port pairs it has rules for.)
        why = "kube-proxy on this node has not synced" if not cluster.node(node_name).kube_proxy_synced else "no Service has this ClusterIP and port"
        return Connection(
            **base, outcome=Outcome.TIMED_OUT, reason=Reason.NO_RULE, trace=walk, service=service,
            detail=(f"no kube-proxy rule on {node_name} matches {destination}:{port} ({why}); "
                    if not _replaces_kube_proxy(cni) else
                    f"Cilium's service map on {node_name} has no entry for {destination}:{port}; ")
            + "no interface holds a ClusterIP, so nothing answers",
        )
    more = dict(trace=walk, service=service, endpoint=endpoint, candidates=candidates)
    hop = f"{destination}:{port}" + (f" -> DNAT {target}:{target_port}" if endpoint else "")

    server = cluster.pod_by_ip(target)
    if server is None and (target, target_port) in api_server_endpoints(cluster):
        return Connection(
            **base, outcome=Outcome.ESTABLISHED, reason=Reason.ACCEPTED, **more,
            detail=f"{hop}: kube-apiserver accepts the connection (the control plane, on its host network)",
        )
    if server is None:
        if target in cluster.cluster_cidr:
            return Connection(
                **base, outcome=Outcome.UNREACHABLE, reason=Reason.NOT_A_POD, **more,
                detail=f"{hop}: no pod holds {target}; nobody answers ARP for it, so the node reports host unreachable",
            )
        return Connection(
            **base, outcome=Outcome.TIMED_OUT, reason=Reason.OUTSIDE, **more,
            detail=f"{hop}: {target} is neither a pod nor a ClusterIP; the packet leaves the cluster and nothing answers",
        )
    more["server"] = server
    if server.phase is not PodPhase.RUNNING:
        return Connection(
            **base, outcome=Outcome.TIMED_OUT, reason=Reason.POD_NOT_RUNNING, **more,
            detail=f"{hop}: pod {server.key} is {server.phase.value}, its network namespace answers nothing",
        )
    if server.node_name and not _node_ready(cluster, server.node_name):
        return Connection(
            **base, outcome=Outcome.TIMED_OUT, reason=Reason.NODE_NOT_READY, **more,
            detail=f"{hop}: node {server.node_name} of pod {server.key} is not Ready",
        )
    if enforces and server.key != client.key:
        applying = tuple(p for p in cluster.network_policies if p.applies_to(server))
        if applying and not any(p.allows(client, server) for p in applying):
            names = ", ".join(f"{p.namespace}/{p.name}" for p in applying)
            return Connection(
                **base, outcome=Outcome.TIMED_OUT, reason=Reason.POLICY_DENIED, policies=applying, **more,
                detail=f"{hop}: NetworkPolicy {names} selects pod {server.key} and allows no ingress "
                f"from {client.key}; {cni} drops the packet",
            )
    sockets = [(address, p) for c in server.containers for (address, p, proto) in c.listening if proto is protocol]
    if any(p == target_port and address in (ANY_ADDRESS, server.pod_ip) for address, p in sockets):
        return Connection(
            **base, outcome=Outcome.ESTABLISHED, reason=Reason.ACCEPTED, **more,
            detail=f"{hop}: pod {server.key} accepts the connection",
        )
    if any(p == target_port and address == LOOPBACK for address, p in sockets):
        return Connection(
            **base, outcome=Outcome.REFUSED, reason=Reason.LOOPBACK_ONLY, **more,
            detail=f"{hop}: the app in pod {server.key} listens on 127.0.0.1:{target_port} only; "
            f"a packet arriving on eth0 for {target} gets a reset",
        )
    return Connection(
        **base, outcome=Outcome.REFUSED, reason=Reason.NOT_LISTENING, **more,
        detail=f"{hop}: nothing in pod {server.key} listens on {target_port}/{protocol.value}; the kernel answers with a reset",
    )


def _node_ready(cluster: Cluster, name: str) -> bool:
    try:
        return cluster.node(name).ready
    except NotFound:
        return True
