"""The EndpointSlice and Endpoints controllers: which pods back a Service, and how ready they are.

:func:`slices_for` is kube-controller-manager's EndpointSlice controller
(``staging/src/k8s.io/endpointslice``), run once over a whole cluster:

* only Services with a selector get slices (``spec.selector`` nil: endpoints are managed by
  hand, here given as explicit slices in ``cluster.endpoint_slices``); ExternalName
  Services get none;
* a pod is in a Service's slices if the selector picks it (same namespace, labels match),
  it has an IP and it is not terminal (phase Succeeded/Failed): ``ShouldPodBeInEndpoints``
  with ``includeTerminating=true``;
* a pod whose node does not exist is skipped, unless the Service publishes not-ready
  addresses (the reconciler's "Node not found" branch);
* conditions: ``serving`` = the pod's Ready condition, ``terminating`` = a deletion was
  requested (``deletionTimestamp`` set), ``ready`` = ``publishNotReadyAddresses`` or
  (serving and not terminating);
* each endpoint carries ``nodeName``, the zone from the node's
  ``topology.kubernetes.io/zone`` label and ``targetRef`` (kind Pod, namespace, name, uid);
  a hostNetwork pod's address is its podIP (its node's IP, as the kubelet reports it);
* endpoint ports come from the Service's ports, a named ``targetPort`` resolved against
  the pod's container ports (first container port with that name and protocol,
  ``FindPort``). A port that a pod cannot resolve is left out *of that pod's* port list,
  so pods are grouped by their resolved ports and each group gets its own slices, as
  upstream groups endpoints by ``PortMapKey``; a pod that resolves no port at all lands
  in a slice with no ports;
* at most 100 endpoints per slice (``--max-endpoints-per-slice``); a selector Service
  with no endpoints gets one empty placeholder slice, as the reconciler creates;
* a Service whose slices are given explicitly (``cluster.endpoint_slices``, e.g. from
  manifests) keeps those and gets none derived.

:func:`endpoints_for` is the Endpoints controller (``pkg/controller/endpoint``): the v1
Endpoints object with ``subsets`` of ready ``addresses`` and ``notReadyAddresses``.
There, terminating pods are left out (``includeTerminating`` is
``publishNotReadyAddresses``), a pod is ready if its Ready condition is true (or the
Service publishes not-ready addresses), and the subsets are repacked into the canonical
form (``RepackSubsets``): addresses grouped by the exact set of ports they offer, and an
address not ready on a port is not ready there even if another subset said ready. More
than 1000 addresses are truncated and the object marked ``over-capacity``.

What it simplifies: IPv4 only (one ``IPv4`` slice per group, no dual stack); no topology
hints and no ``trafficDistribution``; no ``hostname``/``subdomain`` (pods carry neither);
no ``appProtocol``; no sidecar (restartable init) containers in port resolution. Upstream
names a new slice ``<service>-`` plus five random characters (``generateName``); here the
five characters come from a SHA-256 hash of the Service, its port group and the slice's
index, in the same alphabet, so names are stable from run to run. Upstream fills slices in
map order; here endpoints are sorted by IP string then pod uid and name, the order the
Endpoints controller and kube-proxy themselves sort by. Upstream sorts an Endpoints
object's ports and subsets by a hash of their Go dump; here ports are sorted by (name,
port, protocol) and subsets by their ports.

    >>> from k8snet_lesson.cluster import Cluster, Node, Pod, Service, ServicePort
    >>> web = Pod("default", "web-1", labels={"app": "web"}, node_name="node-a", pod_ip="10.244.1.5")
    >>> cluster = Cluster(nodes=(Node("node-a", "192.168.0.10"),), pods=(web,),
    ...                   services=(Service("default", "web", selector={"app": "web"},
    ...                             cluster_ip="10.96.0.20", ports=(ServicePort(80, 8080),)),))
    >>> [str(e.address) for s in slices_for(cluster) for e in s.endpoints]
    ['10.244.1.5']
    >>> print(endpoints_for(cluster, "default/web").subsets[0].addresses[0].ip)
    10.244.1.5
"""

from __future__ import annotations

import dataclasses
import hashlib
import math
import weakref
from collections.abc import Iterable
from datetime import timedelta
from ipaddress import IPv4Address

from .cluster import (
    Cluster,
    Endpoint,
    EndpointConditions,
    EndpointPort,
    EndpointSlice,
    Node,
    ObjectReference,
    Pod,
    PodPhase,
    Service,
    ServicePort,
    ServiceType,
)
from .errors import InvalidValue

__all__ = [
    "api_server_endpoints",
    "MAX_ENDPOINTS_PER_SLICE",
    "ENDPOINTS_MAX_CAPACITY",
    "ENDPOINTSLICE_CONTROLLER",
    "ENDPOINTSLICE_MIRRORING_CONTROLLER",
    "LABEL_SERVICE_NAME",
    "LABEL_MANAGED_BY",
    "LABEL_ZONE",
    "EndpointAddress",
    "EndpointSubset",
    "Endpoints",
    "should_be_in_endpoints",
    "pod_address",
    "endpoint_conditions",
    "endpoint_ports",
    "find_port",
    "slice_name",
    "slices_for",
    "slices_for_service",
    "endpoints_for",
    "has_endpoints_object",
]

#: ``--max-endpoints-per-slice`` (kube-controller-manager's default).
MAX_ENDPOINTS_PER_SLICE = 100
#: The Endpoints controller keeps at most this many addresses (``maxCapacity``).
ENDPOINTS_MAX_CAPACITY = 1000
ENDPOINTSLICE_CONTROLLER = "endpointslice-controller.k8s.io"
ENDPOINTSLICE_MIRRORING_CONTROLLER = "endpointslicemirroring-controller.k8s.io"
LABEL_SERVICE_NAME = "kubernetes.io/service-name"
LABEL_MANAGED_BY = "endpointslice.kubernetes.io/managed-by"
LABEL_ZONE = "topology.kubernetes.io/zone"

# The alphabet of generateName's random suffix (k8s.io/apimachinery/pkg/util/rand):
# no vowels and no 0/1/3, so no words and no look-alikes.
_SUFFIX_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"


# --- the v1 Endpoints object ------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class EndpointAddress:
    """One address of an Endpoints subset (``ip``, ``nodeName``, ``targetRef``)."""

    ip: IPv4Address
    node_name: str | None = None
    target_ref: ObjectReference | None = None
    hostname: str | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.ip, IPv4Address):
            try:
                object.__setattr__(self, "ip", IPv4Address(self.ip))
            except ValueError:
                raise InvalidValue(f"endpoint address {self.ip!r} is not an IPv4 address") from None

    @property
    def _key(self) -> tuple[str, str]:
        # LessEndpointAddress: the IP string byte by byte, then the target's uid.
        return (str(self.ip), self.target_ref.uid if self.target_ref else "")


@dataclasses.dataclass(frozen=True)
class EndpointSubset:
    """Addresses that offer the same ports: ready ones and not-ready ones."""

    addresses: tuple[EndpointAddress, ...] = ()
    not_ready_addresses: tuple[EndpointAddress, ...] = ()
    ports: tuple[EndpointPort, ...] = ()

    def __post_init__(self) -> None:
        for name in ("addresses", "not_ready_addresses", "ports"):
            object.__setattr__(self, name, tuple(getattr(self, name)))


@dataclasses.dataclass(frozen=True)
class Endpoints:
    """A v1 Endpoints object, named after its Service. ``over_capacity`` is the
    ``endpoints.kubernetes.io/over-capacity: truncated`` annotation."""

    namespace: str
    name: str
    subsets: tuple[EndpointSubset, ...] = ()
    age: timedelta = timedelta(days=8)
    over_capacity: bool = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "subsets", tuple(self.subsets))

    @property
    def ready_addresses(self) -> tuple[IPv4Address, ...]:
        """Every ready IP, subset by subset (what kube-proxy would send traffic to)."""
        return tuple(a.ip for s in self.subsets for a in s.addresses)

    @property
    def not_ready_addresses(self) -> tuple[IPv4Address, ...]:
        return tuple(a.ip for s in self.subsets for a in s.not_ready_addresses)


# --- the rules both controllers share ----------------------------------------------


def pod_address(pod: Pod, node: Node | None) -> IPv4Address | None:
    """The address an endpoint of ``pod`` gets: its ``status.podIP``, or None.

    A hostNetwork pod's podIP is its node's IP once the kubelet reports it; until then
    (no ``status.podIP``) it is no endpoint, like any pod without an IP
    (``ShouldPodBeInEndpoints``, pkg/controller/util/endpoint/controller_utils.go). ``node``
    is kept for callers that pass it."""
    return pod.pod_ip


def should_be_in_endpoints(pod: Pod, include_terminating: bool, node: Node | None = None) -> bool:
    """``ShouldPodBeInEndpoints``: not terminal, has an IP, and (unless
    ``include_terminating``) no deletion requested.

    >>> pod = Pod("default", "web-1", pod_ip="10.244.1.5")
    >>> should_be_in_endpoints(pod, False), should_be_in_endpoints(pod.with_(terminating=True), False)
    (True, False)
    >>> should_be_in_endpoints(pod.with_(phase="Succeeded"), True)
    False
    """
    if pod.phase in (PodPhase.SUCCEEDED, PodPhase.FAILED):
        return False
    if pod_address(pod, node) is None:
        return False
    return include_terminating or not pod.terminating


def endpoint_conditions(pod: Pod, service: Service) -> EndpointConditions:
    """``podToEndpoint``'s conditions.

    >>> svc = Service("default", "web", selector={"app": "web"})
    >>> endpoint_conditions(Pod("default", "web-1", ready=True, terminating=True), svc)
    EndpointConditions(ready=False, serving=True, terminating=True)
    """
    serving = bool(pod.ready)
    terminating = bool(pod.terminating)
    ready = bool(service.publish_not_ready_addresses) or (serving and not terminating)
    return _CONDITIONS[ready, serving, terminating]


# The eight possible conditions, made once: a cluster at the limits has 150,000 endpoints
# and only these eight distinct (frozen, shared) condition values among them.
_CONDITIONS = {
    (ready, serving, terminating): EndpointConditions(ready=ready, serving=serving, terminating=terminating)
    for ready in (False, True) for serving in (False, True) for terminating in (False, True)
}


def find_port(pod: Pod, service_port: ServicePort) -> int | None:
    """``FindPort``: a numeric targetPort as is; a named one looked up in the pod's
    container ports (name and protocol must match); ``None`` when no port matches."""
    target = service_port.target_port
    if isinstance(target, int):
        return target
    return pod.container_port_named(target, service_port.protocol)


def endpoint_ports(service: Service, pod: Pod) -> tuple[EndpointPort, ...]:
    """``getEndpointPorts``: one EndpointPort per Service port this pod resolves."""
    ports = []
    for service_port in service.ports:
        number = find_port(pod, service_port)
        if number is None:
            continue  # upstream logs "Failed to find port for service" and goes on
        ports.append(EndpointPort(port=number, name=service_port.name, protocol=service_port.protocol))
    return tuple(ports)


def slice_name(service: Service, *seed: object) -> str:
    """A slice name: ``<service>-`` and five characters derived from a hash of the
    Service and ``seed`` (upstream draws them at random; a hash keeps them stable).

    >>> slice_name(Service("production", "checkout-api-svc"), "3000/TCP", 0) == \\
    ...     slice_name(Service("production", "checkout-api-svc"), "3000/TCP", 0)
    True
    >>> len(slice_name(Service("production", "checkout-api-svc"), 0)) == len("checkout-api-svc-") + 5
    True
    >>> len(slice_name(Service("production", "a" * 63), 0))
    63
    """
    text = "/".join([service.namespace, service.name, *map(str, seed)])
    digest = hashlib.sha256(text.encode()).digest()
    suffix = "".join(_SUFFIX_ALPHABET[b % len(_SUFFIX_ALPHABET)] for b in digest[:5])
    # generateName: the base is cut to 58 characters before the 5 random ones, so the
    # name stays within 63 (SimpleNameGenerator, apiserver/pkg/storage/names/generate.go)
    return f"{service.name}-"[:_MAX_GENERATED_BASE] + suffix


_MAX_GENERATED_BASE = 58


# --- selection ---------------------------------------------------------------------


class _PodIndex:
    """Pods indexed by (namespace, label key, label value), so that selecting the pods of
    10,000 Services out of 150,000 pods does not test every pair; and nodes by name."""

    def __init__(self, pods: Iterable[Pod], nodes: Iterable[Node] = ()) -> None:
        self.nodes: dict[str, Node] = {node.name: node for node in nodes}
        self._by_label: dict[tuple[str, str, str], list[Pod]] = {}
        for pod in pods:
            for key, value in pod.labels.items():
                self._by_label.setdefault((pod.namespace, key, value), []).append(pod)

    def selected_by(self, service: Service) -> list[Pod]:
        if service.selector is None or len(service.selector) == 0:
            return []
        lists = [self._by_label.get((service.namespace, k, v), []) for k, v in service.selector.items()]
        smallest = min(lists, key=len)
        return [pod for pod in smallest if service.selects(pod)]


# The index of the last few clusters asked about, so that asking for the Endpoints of
# each of 10,000 Services does not index 150,000 pods 10,000 times. Clusters are
# immutable, so an index stays right as long as its cluster is alive (checked by weakref).
_INDEXES: dict[int, tuple[weakref.ref, _PodIndex]] = {}


def _index_of(cluster: Cluster) -> _PodIndex:
    entry = _INDEXES.get(id(cluster))
    if entry is not None and entry[0]() is cluster:
        return entry[1]
    index = _PodIndex(cluster.pods, cluster.nodes)
    if len(_INDEXES) >= 4:
        _INDEXES.pop(next(iter(_INDEXES)))
    _INDEXES[id(cluster)] = (weakref.ref(cluster), index)
    return index


def _sort_key(pod: Pod, address: IPv4Address) -> tuple[str, str, str]:
    return (str(address), pod.uid, pod.name)


def _gets_controller_endpoints(service: Service) -> bool:
    return service.selector is not None and service.type is not ServiceType.EXTERNAL_NAME


# --- the EndpointSlice controller --------------------------------------------------


def _derived_slices(service: Service, pods: list[Pod], nodes: dict[str, Node]) -> tuple[EndpointSlice, ...]:
    groups: dict[tuple[EndpointPort, ...], list[tuple[tuple, Endpoint]]] = {}
    # With numeric targetPorts every pod resolves the same ports: work them out once.
    same_ports = endpoint_ports(service, pods[0]) if pods and all(
        isinstance(p.target_port, int) for p in service.ports) else None
    for pod in pods:
        node = nodes.get(pod.node_name) if pod.node_name else None
        if not should_be_in_endpoints(pod, True, node):
            continue
        if node is None and not service.publish_not_ready_addresses:
            continue  # "skipping Pod for Service, Node not found"
        address = pod_address(pod, node)
        endpoint = Endpoint(
            addresses=(address,),
            conditions=endpoint_conditions(pod, service),
            node_name=pod.node_name,
            zone=node.labels.get(LABEL_ZONE) if node is not None else None,
            target_ref=ObjectReference("Pod", pod.namespace, pod.name, pod.uid),
        )
        ports = same_ports if same_ports is not None else endpoint_ports(service, pod)
        groups.setdefault(ports, []).append((_sort_key(pod, address), endpoint))

    if not groups:
        # The placeholder slice the reconciler keeps for a Service without endpoints.
        return (EndpointSlice(service.namespace, slice_name(service, "placeholder"), service.name, age=service.age),)

    slices = []
    for ports, entries in groups.items():
        entries.sort(key=lambda entry: entry[0])
        endpoints = [endpoint for _, endpoint in entries]
        port_seed = ",".join(f"{p.name}:{p.port}/{p.protocol.value}" for p in ports)
        for index, start in enumerate(range(0, len(endpoints), MAX_ENDPOINTS_PER_SLICE)):
            slices.append(
                EndpointSlice(
                    namespace=service.namespace,
                    name=slice_name(service, port_seed, index),
                    service_name=service.name,
                    endpoints=tuple(endpoints[start : start + MAX_ENDPOINTS_PER_SLICE]),
                    ports=ports,
                    managed_by=ENDPOINTSLICE_CONTROLLER,
                    age=service.age,
                )
            )
    return tuple(slices)


def slices_for(cluster: Cluster) -> tuple[EndpointSlice, ...]:
    """Every EndpointSlice of the cluster: derived ones for Services with a selector,
    the explicitly given ones for Services that have them, in Service order; explicit
    slices of Services that do not exist come last (the API keeps them; kube-proxy
    ignores them)."""
    explicit: dict[tuple[str, str], list[EndpointSlice]] = {}
    for endpoint_slice in cluster.endpoint_slices:
        explicit.setdefault((endpoint_slice.namespace, endpoint_slice.service_name), []).append(endpoint_slice)
    index = _index_of(cluster)
    nodes = index.nodes
    out: list[EndpointSlice] = []
    for service in cluster.services:
        given = explicit.pop((service.namespace, service.name), None)
        if given is not None:
            out.extend(given)
        elif _gets_controller_endpoints(service):
            out.extend(_derived_slices(service, index.selected_by(service), nodes))
    for orphans in explicit.values():
        out.extend(orphans)
    return tuple(out)


def _service(cluster: Cluster, service: Service | str) -> Service:
    return service if isinstance(service, Service) else cluster.service(service)


def slices_for_service(cluster: Cluster, service: Service | str) -> tuple[EndpointSlice, ...]:
    """The EndpointSlices of one Service (``service`` or ``"namespace/name"``)."""
    service = _service(cluster, service)
    given = cluster.slices_of(service)
    if given:
        return given
    if not _gets_controller_endpoints(service):
        return ()
    index = _index_of(cluster)
    return _derived_slices(service, index.selected_by(service), index.nodes)


# --- the Endpoints controller ------------------------------------------------------

# One (address, port, ready) fact before repacking; port None is the "no ports" sentinel
# RepackSubsets uses for headless Services without ports.
_Fact = tuple[EndpointAddress, EndpointPort | None, bool]


def _facts_from_pods(service: Service, pods: list[Pod], nodes: dict[str, Node]) -> list[_Fact]:
    facts: list[_Fact] = []
    for pod in pods:
        node = nodes.get(pod.node_name) if pod.node_name else None
        if not should_be_in_endpoints(pod, service.publish_not_ready_addresses, node):
            continue
        address = EndpointAddress(
            ip=pod_address(pod, node),
            node_name=pod.node_name,
            target_ref=ObjectReference("Pod", pod.namespace, pod.name, pod.uid),
        )
        ready = service.publish_not_ready_addresses or pod.ready
        if not service.ports:
            if service.cluster_ip is None:  # headless without ports
                facts.append((address, None, ready))
            continue
        for service_port in service.ports:
            number = find_port(pod, service_port)
            if number is not None:
                facts.append((address, EndpointPort(number, service_port.name, service_port.protocol), ready))
    return facts


def _facts_from_slices(service: Service, slices: Iterable[EndpointSlice]) -> list[_Fact]:
    facts: list[_Fact] = []
    for endpoint_slice in slices:
        for endpoint in endpoint_slice.endpoints:
            if endpoint.conditions.terminating and not service.publish_not_ready_addresses:
                continue
            ready = service.publish_not_ready_addresses or endpoint.conditions.ready is not False
            address = EndpointAddress(endpoint.address, endpoint.node_name, endpoint.target_ref, endpoint.hostname)
            if not endpoint_slice.ports:
                facts.append((address, None, ready))
            for port in endpoint_slice.ports:
                facts.append((address, port, ready))
    return facts


def _port_key(port: EndpointPort | None) -> tuple:
    return ("", -1, "") if port is None else (port.name, -1 if port.port is None else port.port, port.protocol.value)


def _repack(facts: list[_Fact]) -> tuple[EndpointSubset, ...]:
    """``RepackSubsets``: group addresses by the exact set of ports they offer."""
    by_port: dict[EndpointPort | None, dict[tuple, tuple[EndpointAddress, bool]]] = {}
    for address, port, ready in facts:
        seen = by_port.setdefault(port, {})
        previous = seen.get(address._key)
        # Not ready always trumps ready, for the same address on the same port.
        if previous is None or previous[1]:
            seen[address._key] = (previous[0] if previous else address, ready)
    by_addresses: dict[frozenset, list[EndpointPort | None]] = {}
    for port, addresses in by_port.items():
        key = frozenset((k, ready) for k, (_, ready) in addresses.items())
        by_addresses.setdefault(key, []).append(port)
    subsets = []
    for ports in by_addresses.values():
        members = by_port[ports[0]]
        ready = sorted((a for a, r in members.values() if r), key=lambda a: a._key)
        not_ready = sorted((a for a, r in members.values() if not r), key=lambda a: a._key)
        real_ports = tuple(sorted((p for p in ports if p is not None), key=_port_key))
        subsets.append(EndpointSubset(tuple(ready), tuple(not_ready), real_ports))
    subsets.sort(key=lambda s: (tuple(_port_key(p) for p in s.ports), [a._key for a in s.addresses + s.not_ready_addresses]))
    return tuple(subsets)


def _truncate(subsets: tuple[EndpointSubset, ...]) -> tuple[tuple[EndpointSubset, ...], bool]:
    """``truncateEndpoints``: keep at most 1000 addresses, ready ones first, each subset
    keeping its share (rounded up)."""
    total_ready = sum(len(s.addresses) for s in subsets)
    total_not_ready = sum(len(s.not_ready_addresses) for s in subsets)
    if total_ready + total_not_ready <= ENDPOINTS_MAX_CAPACITY:
        return subsets, False
    truncate_ready = total_ready > ENDPOINTS_MAX_CAPACITY
    limit = ENDPOINTS_MAX_CAPACITY if truncate_ready else ENDPOINTS_MAX_CAPACITY - total_ready
    total = total_ready if truncate_ready else total_not_ready
    can_be_added = limit
    out = []
    for subset in subsets:
        count = len(subset.addresses) if truncate_ready else len(subset.not_ready_addresses)
        # int(math.Ceil((float64(numInSubset) / float64(numTotal)) * float64(max))), in
        # floating point as upstream: 35/125*100 is 28.000000000000004, so 29 are kept
        share = math.ceil((count / total) * limit)
        share = min(share, can_be_added)
        if truncate_ready:
            subset = dataclasses.replace(subset, addresses=subset.addresses[:share], not_ready_addresses=())
            can_be_added -= len(subset.addresses)
        else:
            subset = dataclasses.replace(subset, not_ready_addresses=subset.not_ready_addresses[:share])
            can_be_added -= len(subset.not_ready_addresses)
        out.append(subset)
    return tuple(out), True


def has_endpoints_object(cluster: Cluster, service: Service | str) -> bool:
    """Whether ``kubectl get endpoints`` would list this Service: the controller writes one
    for a selector Service; a selectorless one has one only if it was given (as slices)."""
    service = _service(cluster, service)
    return _gets_controller_endpoints(service) or bool(cluster.slices_of(service))


def api_server_endpoints(cluster: Cluster) -> frozenset[tuple[IPv4Address, int]]:
    """Where kube-apiserver listens: the ``address, port`` pairs of the ``default/kubernetes``
    Service's EndpointSlices that no pod holds.

    kube-apiserver writes that Service's endpoints itself (the endpoint reconciler,
    pkg/controlplane/reconcilers): its advertise address and secure port (6443), on the
    control plane's host network. In a managed cluster the control plane is not among
    the cluster's nodes, so its address belongs to no node and no pod: this is how the
    model knows that something answers there.

    >>> from k8snet_lesson.cluster import Endpoint, EndpointPort, EndpointSlice
    >>> kubernetes = Service("default", "kubernetes", cluster_ip="10.96.0.1", ports=(ServicePort(443, 6443, name="https"),))
    >>> slice_ = EndpointSlice("default", "kubernetes", "kubernetes", (Endpoint(("192.168.0.2",)),),
    ...                        (EndpointPort(6443, "https"),))
    >>> sorted(api_server_endpoints(Cluster(services=(kubernetes,), endpoint_slices=(slice_,))))
    [(IPv4Address('192.168.0.2'), 6443)]
    """
    service = next((s for s in cluster.services if (s.namespace, s.name) == KUBERNETES_SERVICE), None)
    if service is None:
        return frozenset()
    return frozenset(
        (address, port.port)
        for endpoint_slice in cluster.slices_of(service)
        for endpoint in endpoint_slice.endpoints if endpoint.conditions.ready is not False
        for address in endpoint.addresses if cluster.pod_by_ip(address) is None
        for port in endpoint_slice.ports if port.port is not None
    )


KUBERNETES_SERVICE = ("default", "kubernetes")


def endpoints_for(cluster: Cluster, service: Service | str) -> Endpoints:
    """The v1 Endpoints object of ``service`` (or ``"namespace/name"``), as the Endpoints
    controller writes it; for a Service whose slices are given explicitly (a selectorless
    Service, or slices read from a dump), the Endpoints those slices describe.

    A Service with no Endpoints object gets an empty one (no subsets).
    """
    service = _service(cluster, service)
    given = cluster.slices_of(service)
    if given:
        facts = _facts_from_slices(service, given)
    elif _gets_controller_endpoints(service):
        index = _index_of(cluster)
        facts = _facts_from_pods(service, index.selected_by(service), index.nodes)
    else:
        facts = []
    subsets, truncated = _truncate(_repack(facts))
    return Endpoints(service.namespace, service.name, subsets, age=service.age, over_capacity=truncated)
