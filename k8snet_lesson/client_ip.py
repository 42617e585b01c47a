"""Which source IP the server pod sees: the client's own, or a node's after MASQUERADE.

Pod to pod, and pod to a Service whose endpoint is another pod, the server sees the
client pod's real IP: kube-proxy only rewrites the destination (DNAT). Two kinds of
Service traffic are masqueraded (SNAT to the address of the interface the packet
leaves by) because the reply would otherwise not come back through the node that
did the DNAT:

- **hairpin**: a pod that reaches itself through its Service. The KUBE-SEP chain's
  ``-s <pod IP> -j KUBE-MARK-MASQ`` marks it;
- **from outside the cluster's pod CIDR**: a ClusterIP reached from a node
  (``! -s 10.244.0.0/16 -j KUBE-MARK-MASQ`` in KUBE-SVC), and NodePort or LoadBalancer
  traffic from outside with ``externalTrafficPolicy: Cluster`` (KUBE-EXT marks it).
  With ``externalTrafficPolicy: Local`` kube-proxy sends external traffic only to the
  node's own endpoints and does not masquerade it, so the server sees the real client.

Each case is computed, not stated: the rules are :func:`k8snet_lesson.kube_proxy.rules_for`
the client's node, pod clients are walked with :func:`k8snet_lesson.walk.request`, and
traffic from outside the pods is traced with :func:`k8snet_lesson.trace.trace`; the
MASQUERADE address is the walk's (the primary address of the outgoing interface).

What it leaves out: Cilium's kube-proxy replacement (which keeps the client IP in more
cases), ``--masquerade-all``, and the cloud load balancer's own SNAT.
"""

from __future__ import annotations

import dataclasses
from ipaddress import IPv4Address

from . import kube_proxy, trace, walk
from .cluster import Cluster, Pod, Service, ServiceType, TrafficPolicy
from .cni import node_namespace, profile
from .errors import InvalidValue, NotFound

__all__ = ["SeenSource", "seen_sources", "hairpin_seed", "EXTERNAL_CLIENT", "NODE_PORT"]

EXTERNAL_CLIENT = IPv4Address("203.0.113.7")  # a documentation address (RFC 5737) outside the cluster
NODE_PORT = 30080


@dataclasses.dataclass(frozen=True)
class SeenSource:
    """One way to reach the Service, and the source address the server pod sees."""

    case: str
    client: IPv4Address
    server: IPv4Address
    masqueraded: bool
    seen: IPv4Address
    why: str


def hairpin_seed(cluster: Cluster, pod: Pod, service: Service, *, tries: int = 64) -> int:
    """The first seed for which :func:`walk.request` from ``pod`` to ``service`` lands on ``pod`` itself."""
    port = service.ports[0].port
    for seed in range(tries):
        found = walk.request(cluster, pod, f"{service.namespace}/{service.name}", port, cni=cluster.cni, seed=seed)
        if found.server is not None and found.server.name == pod.name:
            return seed
    raise NotFound(f"no draw of {tries} sends {pod.key} to itself through {service.key}")


def _masquerade_address(cluster: Cluster, node_name: str, server: IPv4Address) -> IPv4Address:
    node = cluster.node(node_name)
    p = profile(cluster.cni)
    route = node_namespace(cluster, node.name, p).route_to(server)
    return walk._masquerade_source(cluster, p, node, route)  # MASQUERADE's pick, as the walk makes it


def _external(cluster: Cluster, service: Service, node_name: str, policy: TrafficPolicy) -> SeenSource:
    port = service.ports[0]
    exposed = dataclasses.replace(
        service, type=ServiceType.NODE_PORT, external_traffic_policy=policy,
        ports=(dataclasses.replace(port, node_port=NODE_PORT),) + service.ports[1:])
    variant = cluster.with_service(exposed)
    node = variant.node(node_name)
    rules = kube_proxy.rules_for(variant, node_name)
    traced = trace.trace(rules, trace.Packet(EXTERNAL_CLIENT, node.internal_ip, NODE_PORT), node_ip=node.internal_ip)
    if not traced.destinations:
        raise NotFound(f"no endpoint of {service.key} takes NodePort traffic on {node_name}")
    # The endpoint that shows the difference: one on another node when there is one.
    local = {p.pod_ip for p in variant.pods if p.node_name == node_name}
    chosen = next((d for d in traced.destinations if d.address not in local), traced.destinations[0])
    seen = _masquerade_address(variant, node_name, chosen.address) if chosen.masqueraded else EXTERNAL_CLIENT
    if policy is TrafficPolicy.LOCAL:
        why = ("externalTrafficPolicy: Local: kube-proxy sends it only to this node's own endpoints "
               "and does not masquerade, so the real client IP survives")
    else:
        why = "externalTrafficPolicy: Cluster: KUBE-EXT marks it for MASQUERADE, so the reply comes back through this node"
    return SeenSource(f"client outside the cluster -> NodePort {NODE_PORT} on {node_name}, externalTrafficPolicy: {policy.value}",
                      EXTERNAL_CLIENT, chosen.address, chosen.masqueraded, seen, why)


def seen_sources(cluster: Cluster, service: Service | str, *, client: Pod | str, other: Pod | str) -> tuple[SeenSource, ...]:
    """What the server sees, case by case, for ``service``.

    ``client`` is a pod that is not behind the Service; ``other`` a pod behind it (it
    reaches itself in the hairpin case). The NodePort cases expose ``service`` as a
    NodePort on ``other``'s node, with each externalTrafficPolicy.
    """
    if isinstance(service, str):
        service = cluster.service(*reversed(service.split("/", 1))) if "/" in service else cluster.service(service)
    client_pod = cluster.pod(client) if isinstance(client, str) else client
    behind = cluster.pod(other) if isinstance(other, str) else other
    if not service.ports or service.cluster_ip is None:
        raise InvalidValue(f"service {service.key} has no ClusterIP and port to reach")
    if not service.selects(behind) or service.selects(client_pod):
        raise InvalidValue(f"{behind.key} must be behind {service.key} and {client_pod.key} must not")
    target = f"{service.namespace}/{service.name}"
    port = service.ports[0].port
    rows = []
    plain = walk.request(cluster, client_pod, target, port, cni=cluster.cni, seed=0)
    rows.append(SeenSource(f"{client_pod.name} -> {service.name} (pod to Service)", client_pod.pod_ip,
                           plain.arrived.dst_ip, plain.masqueraded, plain.arrived.src_ip,
                           "DNAT rewrites only the destination; the pod CIDR is not masqueraded"))
    loop = walk.request(cluster, behind, target, port, cni=cluster.cni, seed=hairpin_seed(cluster, behind, service))
    rows.append(SeenSource(f"{behind.name} -> {service.name}, landing on itself (hairpin)", behind.pod_ip,
                           loop.arrived.dst_ip, loop.masqueraded, loop.arrived.src_ip,
                           "KUBE-SEP's '-s <its own IP> -j KUBE-MARK-MASQ': without SNAT the reply would skip the DNAT"))
    for policy in (TrafficPolicy.CLUSTER, TrafficPolicy.LOCAL):
        rows.append(_external(cluster, service, behind.node_name, policy))
    return tuple(rows)


