"""Faults to inject: each a function from a healthy cluster to a broken one, and its fix.

Each :class:`Fault` is registered by name with one line saying what it breaks, the
layer of the debugging ladder where it shows (:class:`Layer`), and the fix in kubectl
words. :func:`inject` applies one or more faults for a target Service and a client pod
and returns a :class:`Broken` cluster that remembers the healthy one: ``fixed()`` gives
it back, ``without(name)`` fixes one fault and leaves the others.

The faults are the lesson's failure modes ("Practical Network Debugging", and the quiz's
``app: checkout-api`` selector), plus the usual others:

========================  ==========================================================
``coredns-down``          CoreDNS pods not ready: kube-dns has no endpoints
``kube-proxy-stale``      kube-proxy on the client's node stopped syncing
``selector-mismatch``     the Service selects ``app: checkout-api``, pods say ``app: checkout``
``readiness-failing``     readiness probes fail: addresses move to notReadyAddresses
``wrong-target-port``     the Service's targetPort is not the port the app listens on
``app-wrong-port``        the app listens on another port than its declared containerPort
``nothing-listening``     containerPort declared, but nothing listens on it
``bound-to-localhost``    the app binds 127.0.0.1, not 0.0.0.0
``network-policy-deny``   a NetworkPolicy denies the client (dropped only where enforced)
``cidr-overlap``          the pod network overlaps the service range; a pod IP is a ClusterIP
========================  ==========================================================

Faults on the backend pods break every pod the Service selects, or only ``pod=`` (the
lesson's transcript has one endpoint of three broken). A Service whose EndpointSlices
were given explicitly by the EndpointSlice controller (read from a dump) gets them
re-derived after a fault changes its pods, as the controller would.

What it simplifies: a fault is a changed value, not a history (no restarts, events or
rollout); the CIDR overlap renumbers the pod network into the service range at once,
where a real cluster would meet it pod by pod as addresses are handed out.

    >>> sorted(FAULTS)[:3]
    ['app-wrong-port', 'bound-to-localhost', 'cidr-overlap']
    >>> print(fault("selector-mismatch").summary)
    the Service's selector matches no pod (app: checkout-api vs pods labelled app: checkout): no endpoints
"""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Callable, Iterable, Sequence
from ipaddress import IPv4Address, IPv4Network

from .cluster import LOOPBACK, Cluster, Labels, NetworkPolicy, Pod, Protocol, Service, ServicePort
from .errors import InvalidValue, NotFound

__all__ = [
    "Layer",
    "Fault",
    "Broken",
    "FAULTS",
    "fault",
    "inject",
    "targets",
    "backends",
    "target_port",
    "Probe",
    "readiness_probes",
    "with_readiness_probes",
]

CONTROLLER = "endpointslice-controller.k8s.io"


class Layer(str, enum.Enum):
    """The rungs of the debugging ladder, bottom up: where a fault shows."""

    DNS = "DNS"
    SERVICE = "ClusterIP (kube-proxy)"
    ENDPOINTS = "Endpoints"
    POD_IP = "Pod IP (network)"
    APP = "inside the pod (app)"


@dataclasses.dataclass(frozen=True)
class Fault:
    """A named way to break a cluster: ``breaks(cluster, service, client, pod) -> Cluster``."""

    name: str
    summary: str
    layer: Layer
    fix: str
    breaks: Callable[[Cluster, Service, Pod, str | None], Cluster] = dataclasses.field(repr=False, compare=False)
    needs_policy_enforcement: bool = False

    def __call__(self, cluster: Cluster, *, service: Service | str, client: Pod | str, pod: str | None = None) -> Cluster:
        target, source = targets(cluster, service, client)
        return self.breaks(cluster, target, source, pod)


@dataclasses.dataclass(frozen=True)
class Broken:
    """A broken cluster, the faults that broke it and the healthy cluster they broke."""

    cluster: Cluster
    healthy: Cluster
    faults: tuple[str, ...]
    service: str
    client: str
    pod: str | None = None

    def fixed(self) -> Cluster:
        """The fix for every fault: the healthy cluster back."""
        return self.healthy

    def without(self, name: str) -> Cluster:
        """The cluster with fault ``name`` fixed and the others still in place."""
        if name not in self.faults:
            raise NotFound(f"fault {name!r} is not injected here (faults: {', '.join(self.faults)})")
        rest = tuple(f for f in self.faults if f != name)
        return inject(self.healthy, rest, service=self.service, client=self.client, pod=self.pod).cluster


# --- targets ----------------------------------------------------------------------------------


def targets(cluster: Cluster, service: Service | str, client: Pod | str) -> tuple[Service, Pod]:
    """The Service (value or ``namespace/name``) and the client pod (value, name or ``namespace/name``)."""
    target = service if isinstance(service, Service) else cluster.service(service)
    source = client if isinstance(client, Pod) else cluster.pod(client)
    return target, source


def backends(cluster: Cluster, service: Service, pod: str | None = None) -> tuple[Pod, ...]:
    """The pods ``service`` selects (or only ``pod``, which must be one of them)."""
    selected = tuple(p for p in cluster.pods if service.selects(p))
    if pod is None:
        if not selected:
            raise InvalidValue(f"service {service.key} selects no pod: there is no backend to break")
        return selected
    chosen = tuple(p for p in selected if p.name == pod or p.key == pod)
    if not chosen:
        known = ", ".join(p.name for p in selected) or "none"
        raise NotFound(f"pod {pod!r} is not a backend of service {service.key} (backends: {known})")
    return chosen


def _service_port(service: Service) -> ServicePort:
    if not service.ports:
        raise InvalidValue(f"service {service.key} has no ports")
    return service.ports[0]


def target_port(service: Service, pod: Pod) -> int | None:
    """The container port the Service's first port sends ``pod``'s traffic to."""
    port = _service_port(service)
    if isinstance(port.target_port, int):
        return port.target_port
    return pod.container_port_named(port.target_port, port.protocol)


def _rederive(cluster: Cluster, services: Iterable[Service] | None = None) -> Cluster:
    """Drop the controller's slices of ``services`` (or of every Service with a selector),
    so they are derived again from the changed pods, as the controller would rewrite them."""
    chosen = cluster.services if services is None else services
    keys = {s.key for s in chosen if s.selector}
    kept = tuple(s for s in cluster.endpoint_slices if not (s.managed_by == CONTROLLER and s.service_key in keys))
    return cluster.with_(endpoint_slices=kept)


def _replace_pods(cluster: Cluster, pods: Iterable[Pod], service: Service) -> Cluster:
    for pod in pods:
        cluster = cluster.with_pod(pod)
    return _rederive(cluster, [service])


def _free_port(taken: set[int]) -> int:
    for port in (8080, 8000, 5000, 9000, 8081, 8888):
        if port not in taken:
            return port
    return max(taken) + 1


def _ports_of(pods: Iterable[Pod]) -> set[int]:
    out: set[int] = set()
    for pod in pods:
        for container in pod.containers:
            out.update(p.container_port for p in container.ports)
            out.update(port for (_, port, _) in container.listening)
    return out


# --- the faults -------------------------------------------------------------------------------


def _coredns_down(cluster: Cluster, service: Service, client: Pod, pod: str | None) -> Cluster:
    from .dns import dns_service

    kube_dns = dns_service(cluster)
    if kube_dns is None:
        raise InvalidValue("the cluster has no kube-system/kube-dns Service: its DNS is down already")
    coredns = [p for p in cluster.pods if kube_dns.selects(p)]
    if not coredns:
        raise InvalidValue("no CoreDNS pods (kube-system pods that kube-dns selects): its DNS is down already")
    broken = [p.with_(ready=False, restarts=p.restarts + 5) for p in coredns]
    return _replace_pods(cluster, broken, kube_dns)


def _kube_proxy_stale(cluster: Cluster, service: Service, client: Pod, pod: str | None) -> Cluster:
    if service.namespace == "kube-system" or service.key == "default/kubernetes":
        raise InvalidValue(f"service {service.key} predates any kube-proxy outage: a stale kube-proxy still has its rules")
    node = cluster.node_of(client)
    return cluster.with_node(node.with_(kube_proxy_synced=False))


def _mismatched(value: str) -> str:
    head, _, tail = value.rpartition("-")
    return head if head and tail else f"{value}-v2"


def _selector_mismatch(cluster: Cluster, service: Service, client: Pod, pod: str | None) -> Cluster:
    """The quiz's case: the Service selects ``app: checkout-api``, the pods say ``app: checkout``.

    When the backends carry an ``app`` label, the Service selects on it (the value most
    of them have) and those pods lose their suffix; otherwise the selector's first key
    is the one that stops matching.
    """
    if pod is not None:
        raise InvalidValue("selector-mismatch changes the Service's selector, which every backend shares: "
                           "it cannot break one pod alone")
    pods = backends(cluster, service)
    selector = service.selector or Labels()
    apps = [p.labels["app"] for p in pods if "app" in p.labels]
    if len(apps) == len(pods):
        wanted = selector.get("app") or max(sorted(set(apps)), key=apps.count)
        service = service.with_(selector=Labels({"app": wanted}))
        cluster = cluster.with_service(service)
        changed = [p.with_labels({**dict(p.labels), "app": _mismatched(wanted)}) for p in pods if p.labels["app"] == wanted]
    else:
        key = next(iter(selector))
        changed = [p.with_labels({**dict(p.labels), key: _mismatched(selector[key])}) for p in pods]
    return _replace_pods(cluster, changed, service)


def _readiness_failing(cluster: Cluster, service: Service, client: Pod, pod: str | None) -> Cluster:
    return _replace_pods(cluster, [p.with_ready(False) for p in backends(cluster, service, pod)], service)


def _wrong_target_port(cluster: Cluster, service: Service, client: Pod, pod: str | None) -> Cluster:
    if pod is not None:
        raise InvalidValue("wrong-target-port changes the Service's targetPort, which every backend shares: "
                           "it cannot break one pod alone")
    pods = backends(cluster, service)
    first = _service_port(service)
    wrong = _free_port(_ports_of(pods) | {first.port})
    ports = (first.with_(target_port=wrong),) + service.ports[1:]
    return _rederive(cluster.with_service(service.with_(ports=ports)), [service])


def _containers_on(pod: Pod, port: int) -> list[int]:
    """Indexes of the containers of ``pod`` that declare or listen on ``port``."""
    return [
        i
        for i, c in enumerate(pod.containers)
        if any(p.container_port == port for p in c.ports) or any(lp == port for (_, lp, _) in c.listening)
    ]


def _change_app(pods: Sequence[Pod], service: Service, change: Callable[[Pod, int, int], Pod]) -> list[Pod]:
    out = []
    for p in pods:
        port = target_port(service, p)
        where = _containers_on(p, port) if port is not None else []
        if not where:
            raise InvalidValue(f"pod {p.key} has no container on port {port} to break")
        for index in where:
            p = change(p, index, port)
        out.append(p)
    return out


def _with_container(pod: Pod, index: int, **changes: object) -> Pod:
    containers = list(pod.containers)
    containers[index] = containers[index].with_(**changes)
    return pod.with_(containers=tuple(containers))


def _listen_ports(pod: Pod, index: int) -> tuple[int, ...]:
    return tuple(port for (_, port, _) in pod.containers[index].listening)


def _bound_to_localhost(cluster: Cluster, service: Service, client: Pod, pod: str | None) -> Cluster:
    pods = _change_app(backends(cluster, service, pod), service, lambda p, i, port: _with_container(p, i, bind_address=LOOPBACK))
    return _replace_pods(cluster, pods, service)


def _nothing_listening(cluster: Cluster, service: Service, client: Pod, pod: str | None) -> Cluster:
    def change(p: Pod, i: int, port: int) -> Pod:
        return _with_container(p, i, listen_ports=tuple(lp for lp in _listen_ports(p, i) if lp != port))

    return _replace_pods(cluster, _change_app(backends(cluster, service, pod), service, change), service)


def _app_wrong_port(cluster: Cluster, service: Service, client: Pod, pod: str | None) -> Cluster:
    def change(p: Pod, i: int, port: int) -> Pod:
        other = _free_port(_ports_of([p]) | {_service_port(service).port})
        return _with_container(p, i, listen_ports=tuple(other if lp == port else lp for lp in _listen_ports(p, i)))

    return _replace_pods(cluster, _change_app(backends(cluster, service, pod), service, change), service)


def _network_policy_deny(cluster: Cluster, service: Service, client: Pod, pod: str | None) -> Cluster:
    pods = backends(cluster, service, pod)
    allowed = Labels({"role": "frontend"})
    if allowed.matches(client.labels):
        allowed = Labels({"role": "checkout-frontend"})
    selector = service.selector if pod is None else pods[0].labels
    policy = NetworkPolicy(
        service.namespace,
        f"{service.name}-allow-frontend-only",
        pod_selector=selector,
        allow_from=(allowed,),
    )
    return cluster.with_network_policy(policy)


def _cidr_overlap(cluster: Cluster, service: Service, client: Pod, pod: str | None) -> Cluster:
    old, services = cluster.cluster_cidr, cluster.service_cidr
    if old.prefixlen < services.prefixlen:
        raise InvalidValue(f"cluster CIDR {old} is larger than the service range {services}: cannot fold it inside")
    new = IPv4Network((int(services.network_address), old.prefixlen))
    if new.overlaps(old):
        raise InvalidValue(f"cluster CIDR {old} already overlaps the service range {services}")

    def moved(address: IPv4Address) -> IPv4Address:
        return IPv4Address(int(new.network_address) + int(address) - int(old.network_address)) if address in old else address

    nodes = tuple(
        n.with_(pod_cidr=IPv4Network((int(moved(n.pod_cidr.network_address)), n.pod_cidr.prefixlen)))
        if n.pod_cidr is not None and n.pod_cidr.subnet_of(old)
        else n
        for n in cluster.nodes
    )
    pods = tuple(p if p.pod_ip is None or p.host_network else p.with_pod_ip(moved(p.pod_ip)) for p in cluster.pods)
    out = _rederive(cluster.with_(cluster_cidr=new, nodes=nodes, pods=pods))
    victim = backends(out, service, pod)[0]
    port = target_port(service, victim) or _service_port(service).port
    taken = {s.name for s in out.services}
    name = next(n for n in (f"legacy-{service.name}", f"legacy-{service.name}-2", f"legacy-{service.name}-3") if n not in taken)
    if out.service_by_ip(victim.pod_ip) is not None:
        return out  # the address already collides with a ClusterIP
    # The service IP allocator does not know the pod network, so it handed a Service the
    # address the CNI gave the pod; kube-proxy now catches the pod's traffic on that port.
    shadow = Service(
        service.namespace,
        name,
        ports=(ServicePort(port, port, protocol=Protocol.TCP),),
        selector={"app": name},
        cluster_ip=victim.pod_ip,
    )
    return out.with_service(shadow)


_REGISTRY: tuple[Fault, ...] = (
    Fault(
        "coredns-down",
        "CoreDNS pods are not ready, so the kube-dns Service has no endpoints: kube-proxy rejects every query "
        "(musl, as in netshoot, waits out its 5 s timeout; glibc fails at once)",
        Layer.DNS,
        "fix the CoreDNS pods (kubectl -n kube-system get pods -l k8s-app=kube-dns; logs, then rollout restart)",
        _coredns_down,
    ),
    Fault(
        "kube-proxy-stale",
        "kube-proxy on the client's node stopped syncing: the Service's ClusterIP has no rules there",
        Layer.SERVICE,
        "restart kube-proxy on that node (kubectl -n kube-system delete pod -l k8s-app=kube-proxy "
        "--field-selector spec.nodeName=NODE)",
        _kube_proxy_stale,
    ),
    Fault(
        "selector-mismatch",
        "the Service's selector matches no pod (app: checkout-api vs pods labelled app: checkout): no endpoints",
        Layer.ENDPOINTS,
        "make the Service's selector and the pods' labels agree (kubectl get pods --show-labels)",
        _selector_mismatch,
    ),
    Fault(
        "readiness-failing",
        "the pods' readiness probes fail: their addresses move to notReadyAddresses, out of rotation",
        Layer.ENDPOINTS,
        "fix what the readiness probe checks (kubectl describe pod: Readiness probe failed)",
        _readiness_failing,
    ),
    Fault(
        "wrong-target-port",
        "the Service's targetPort is not the port the containers declare and listen on",
        Layer.APP,
        "set the Service's targetPort to the containerPort (or to its name)",
        _wrong_target_port,
    ),
    Fault(
        "app-wrong-port",
        "the app listens on another port than the containerPort the pod declares",
        Layer.APP,
        "make the app listen on the declared containerPort (its PORT setting), or fix the manifest",
        _app_wrong_port,
    ),
    Fault(
        "nothing-listening",
        "the containerPort is declared but nothing in the pod listens on it",
        Layer.APP,
        "start the server (kubectl logs: did it crash or fail to bind?); declaring a port opens nothing",
        _nothing_listening,
    ),
    Fault(
        "bound-to-localhost",
        "the app binds 127.0.0.1 instead of 0.0.0.0: connections to the pod IP are refused",
        Layer.APP,
        "bind the app to 0.0.0.0 (all interfaces)",
        _bound_to_localhost,
    ),
    Fault(
        "network-policy-deny",
        "a NetworkPolicy admits only role=frontend pods: the client is dropped where policy is enforced",
        Layer.POD_IP,
        "allow the client in the policy's ingress rules (kubectl get networkpolicy)",
        _network_policy_deny,
        needs_policy_enforcement=True,
    ),
    Fault(
        "cidr-overlap",
        "the pod network overlaps the service range: a pod IP is also a ClusterIP that kube-proxy catches",
        Layer.POD_IP,
        "give pods a --cluster-cidr disjoint from --service-cluster-ip-range (and rebuild the nodes' podCIDRs)",
        _cidr_overlap,
    ),
)

FAULTS: dict[str, Fault] = {f.name: f for f in _REGISTRY}


def fault(name: str) -> Fault:
    """The fault registered as ``name``; NotFound lists the names that exist."""
    try:
        return FAULTS[name]
    except KeyError:
        raise NotFound(f"no fault {name!r} (faults: {', '.join(FAULTS)})") from None


def inject(
    cluster: Cluster,
    names: str | Sequence[str],
    *,
    service: Service | str,
    client: Pod | str,
    pod: str | None = None,
) -> Broken:
    """Break ``cluster`` with the faults ``names``, aimed at ``service`` as seen from ``client``.

    Faults apply in the registry's order (so the result does not depend on the order the
    names are given in). ``pod`` limits faults on backend pods to that one pod.
    """
    wanted = (names,) if isinstance(names, str) else tuple(names)
    for name in wanted:
        fault(name)
    target, source = targets(cluster, service, client)
    broken = cluster
    ordered = tuple(f.name for f in _REGISTRY if f.name in wanted)
    for name in ordered:
        current_service = broken.service(target.key)
        current_client = broken.pod(source.key)
        broken = FAULTS[name].breaks(broken, current_service, current_client, pod)
    return Broken(broken, cluster, ordered, target.key, source.key, pod)


# --- readiness probes ---------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Probe:
    """What the kubelet's httpGet readiness probe of one backend finds.

    ``url`` is where the probe goes; ``passes`` whether the app accepts it; ``event`` the
    text ``kubectl describe pod`` shows under Events when it fails (empty when it passes).
    """

    pod: str
    url: str
    passes: bool
    event: str = ""


def readiness_probes(cluster: Cluster, service: Service | str, *, path: str = "/health") -> tuple[Probe, ...]:
    """An httpGet readiness probe on the Service's target port, run against each backend.

    The kubelet runs the probe from its node, in the node's network namespace, and
    ``httpGet.host`` defaults to the pod's IP: the probe reaches the app exactly as a
    client's connection does, on ``eth0``. An app bound to 127.0.0.1 refuses it, so the
    pod turns not Ready and leaves the Service's endpoints. (An ``exec`` probe runs
    inside the container and could still pass; the model probes over HTTP only.)
    """
    target = service if isinstance(service, Service) else cluster.service(service)
    out = []
    for pod in backends(cluster, target):
        port = target_port(target, pod)
        url = f"http://{pod.pod_ip}:{port}{path}"
        sockets = [(a, p) for c in pod.containers for (a, p, proto) in c.listening if proto is Protocol.TCP]
        passes = port is not None and any(p == port and a != LOOPBACK for a, p in sockets)
        event = "" if passes else (f'Readiness probe failed: Get "{url}": dial tcp {pod.pod_ip}:{port}: '
                                   "connect: connection refused")
        out.append(Probe(pod.key, url, passes, event))
    return tuple(out)


def with_readiness_probes(cluster: Cluster, service: Service | str, *, path: str = "/health") -> Cluster:
    """``cluster`` with each backend's Ready condition set by its readiness probe (:func:`readiness_probes`)."""
    target = service if isinstance(service, Service) else cluster.service(service)
    results = {probe.pod: probe.passes for probe in readiness_probes(cluster, target, path=path)}
    pods = [p.with_ready(results[p.key]) for p in backends(cluster, target)]
    return _replace_pods(cluster, pods, target)
