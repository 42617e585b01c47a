"""The cluster as values: Nodes, Pods, Services, EndpointSlices, NetworkPolicies.

Frozen dataclasses with the Kubernetes API's field names in snake_case; addresses
and networks are :mod:`ipaddress` objects; closed vocabularies are enums. A change
returns a new value (``pod.with_ready(False)``, ``cluster.with_pod(...)``).

What it simplifies: one address family (IPv4); a pod's containers share its network
namespace, as in Kubernetes; ages are durations, not timestamps, so renderings are
deterministic; a NetworkPolicy models ingress from pods of the same namespace only.

    >>> web = Pod("default", "web-1", labels={"app": "web"}, node_name="node-a",
    ...           pod_ip="10.244.1.5", containers=(Container("web", ports=(ContainerPort(8080),)),))
    >>> svc = Service("default", "web", selector={"app": "web"}, cluster_ip="10.96.0.20",
    ...               ports=(ServicePort(port=80, target_port=8080),))
    >>> svc.selects(web)
    True
    >>> web.with_labels({"app": "other"}).labels["app"]
    'other'
"""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Iterable, Iterator, Mapping
from datetime import timedelta
from ipaddress import IPv4Address, IPv4Interface, IPv4Network, ip_address, ip_interface, ip_network
from typing import Any

from .errors import InvalidValue, NotFound

__all__ = [
    "Protocol",
    "ServiceType",
    "TrafficPolicy",
    "SessionAffinity",
    "PodPhase",
    "Labels",
    "ContainerPort",
    "Container",
    "Node",
    "Pod",
    "ServicePort",
    "Service",
    "ObjectReference",
    "EndpointConditions",
    "Endpoint",
    "EndpointPort",
    "EndpointSlice",
    "NetworkPolicy",
    "Cluster",
    "ANY_ADDRESS",
    "LOOPBACK",
    "ipv4_address",
    "ipv4_network",
]

ANY_ADDRESS = IPv4Address("0.0.0.0")
LOOPBACK = IPv4Address("127.0.0.1")


class Protocol(str, enum.Enum):
    """A Service or container port's protocol, as the API spells it."""

    TCP = "TCP"
    UDP = "UDP"
    SCTP = "SCTP"

    @property
    def iptables(self) -> str:
        """The lower-case spelling iptables and kube-proxy's chain hashes use."""
        return self.value.lower()


class ServiceType(str, enum.Enum):
    CLUSTER_IP = "ClusterIP"
    NODE_PORT = "NodePort"
    LOAD_BALANCER = "LoadBalancer"
    EXTERNAL_NAME = "ExternalName"


class TrafficPolicy(str, enum.Enum):
    """internalTrafficPolicy / externalTrafficPolicy."""

    CLUSTER = "Cluster"
    LOCAL = "Local"


class SessionAffinity(str, enum.Enum):
    NONE = "None"
    CLIENT_IP = "ClientIP"


class PodPhase(str, enum.Enum):
    PENDING = "Pending"
    RUNNING = "Running"
    SUCCEEDED = "Succeeded"
    FAILED = "Failed"


class Labels(Mapping[str, str]):
    """An immutable, hashable label map (also used for selectors).

    >>> Labels({"app": "web", "tier": "front"}) == Labels({"tier": "front", "app": "web"})
    True
    >>> Labels({"app": "web"}).matches(Labels({"app": "web", "pod-template-hash": "6f8b9d"}))
    True
    """

    __slots__ = ("_items", "_map")

    def __init__(self, items: Mapping[str, str] | Iterable[tuple[str, str]] | None = None) -> None:
        pairs = dict(items) if type(items) is dict else dict(items.items() if isinstance(items, Mapping) else (items or ()))
        for key, value in pairs.items():
            if not isinstance(key, str) or not isinstance(value, str):
                raise InvalidValue(f"label {key!r}: {value!r}: labels are strings")
        object.__setattr__(self, "_items", tuple(sorted(pairs.items())))
        object.__setattr__(self, "_map", pairs)  # private and never mutated: O(1) lookups

    def __getitem__(self, key: str) -> str:
        return self._map[key]

    def get(self, key: str, default: Any = None) -> Any:
        return self._map.get(key, default)

    def __contains__(self, key: object) -> bool:
        return key in self._map

    def __iter__(self) -> Iterator[str]:
        return (k for k, _ in self._items)

    def __len__(self) -> int:
        return len(self._items)

    def __hash__(self) -> int:
        return hash(self._items)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Labels):
            return self._items == other._items
        if isinstance(other, Mapping):
            return dict(self._items) == dict(other)
        return NotImplemented

    def __repr__(self) -> str:
        return f"Labels({dict(self._items)!r})"

    def matches(self, labels: Mapping[str, str]) -> bool:
        """Whether this map, read as an equality selector, selects ``labels``.

        An empty selector selects everything (as a NetworkPolicy's podSelector does).
        """
        get = labels._map.get if isinstance(labels, Labels) else labels.get
        return all(get(k) == v for k, v in self._items)

    def __str__(self) -> str:
        return ",".join(f"{k}={v}" for k, v in self._items)


def _labels(value: Mapping[str, str] | Labels | None) -> Labels:
    return value if isinstance(value, Labels) else Labels(value)


def ipv4_address(value: Any, what: str) -> IPv4Address:
    """``value`` as an IPv4Address, or InvalidValue naming ``what`` and the value.

    >>> ipv4_address("10.244.1.5", "pod IP")
    IPv4Address('10.244.1.5')
    """
    if isinstance(value, IPv4Address):
        return value
    try:
        address = ip_address(value)
    except ValueError:
        raise InvalidValue(f"{what} {value!r} is not an IPv4 address") from None
    if not isinstance(address, IPv4Address):
        raise InvalidValue(f"{what} {value!r} is not an IPv4 address (the model is IPv4 only)")
    return address


_address = ipv4_address


def _optional_address(value: Any, what: str) -> IPv4Address | None:
    return None if value is None else _address(value, what)


def ipv4_network(value: Any, what: str) -> IPv4Network:
    """``value`` as a strict IPv4Network (no host bits), or InvalidValue naming ``what`` and the value."""
    if isinstance(value, IPv4Network):
        return value
    try:
        network = ip_network(value)
    except ValueError as exc:
        raise InvalidValue(f"{what} {value!r} is not a valid IPv4 CIDR ({exc})") from None
    if not isinstance(network, IPv4Network):
        raise InvalidValue(f"{what} {value!r} is not an IPv4 CIDR (the model is IPv4 only)")
    return network


_network = ipv4_network


def _source_range(value: Any, what: str) -> IPv4Interface:
    """A loadBalancerSourceRanges entry: an IPv4 CIDR, host bits allowed (as the API allows)."""
    if isinstance(value, IPv4Interface):
        return value
    text = str(value).strip()
    try:
        interface = ip_interface(text) if "/" in text else None
    except ValueError:
        interface = None
    if not isinstance(interface, IPv4Interface):
        raise InvalidValue(f"{what} {value!r} is not a valid IPv4 CIDR")
    return interface


def _optional_network(value: Any, what: str) -> IPv4Network | None:
    return None if value is None else _network(value, what)


def _port(value: Any, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 65535:
        raise InvalidValue(f"{what} {value!r} is not a port number (1-65535)")
    return value


def _enum(kind: type[enum.Enum], value: Any, what: str) -> Any:
    if isinstance(value, kind):
        return value
    try:
        return kind(value)
    except ValueError:
        allowed = ", ".join(m.value for m in kind)
        raise InvalidValue(f"{what} {value!r} is not one of {allowed}") from None


class _Value:
    """Mixin: ``with_(field=value)`` returns a changed copy (validated again)."""

    def with_(self, **changes: Any) -> Any:
        return dataclasses.replace(self, **changes)  # type: ignore[type-var]


@dataclasses.dataclass(frozen=True)
class ContainerPort(_Value):
    """A declared ``containerPort`` (declaring it opens nothing; the app must listen)."""

    container_port: int
    name: str = ""
    protocol: Protocol = Protocol.TCP

    def __post_init__(self) -> None:
        _port(self.container_port, "containerPort")
        object.__setattr__(self, "protocol", _enum(Protocol, self.protocol, "protocol"))


@dataclasses.dataclass(frozen=True)
class Container(_Value):
    """A container: the ports it declares and where its application really listens.

    ``bind_address`` is the address the app binds: ``0.0.0.0`` (all interfaces, reachable
    at the pod IP) or ``127.0.0.1`` (loopback only: connections to the pod IP are
    refused). ``listen_ports`` are the ports the app really listens on; ``None`` means
    exactly the declared ports. They differ when the manifest and the app disagree.
    """

    name: str
    ports: tuple[ContainerPort, ...] = ()
    bind_address: IPv4Address = ANY_ADDRESS
    listen_ports: tuple[int, ...] | None = None
    image: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "ports", tuple(self.ports))
        object.__setattr__(self, "bind_address", _address(self.bind_address, "bind address"))
        if self.listen_ports is not None:
            ports = tuple(_port(p, "listen port") for p in self.listen_ports)
            object.__setattr__(self, "listen_ports", ports)

    @property
    def listening(self) -> tuple[tuple[IPv4Address, int, Protocol], ...]:
        """The sockets the app really has open: (bind address, port, protocol)."""
        if self.listen_ports is None:
            return tuple((self.bind_address, p.container_port, p.protocol) for p in self.ports)
        protocols = {p.container_port: p.protocol for p in self.ports}
        return tuple((self.bind_address, port, protocols.get(port, Protocol.TCP)) for port in self.listen_ports)

    def port_named(self, name: str) -> ContainerPort | None:
        return next((p for p in self.ports if p.name and p.name == name), None)


@dataclasses.dataclass(frozen=True)
class Node(_Value):
    """A node: its name, its InternalIP on the node network, and its ``spec.podCIDR``.

    ``kube_proxy_synced`` is False when kube-proxy on this node is down or stale, so its
    rules miss services created or changed since (a fault the debugging ladder finds).
    """

    name: str
    internal_ip: IPv4Address
    pod_cidr: IPv4Network | None = None
    ready: bool = True
    labels: Labels = dataclasses.field(default_factory=Labels)
    kube_proxy_synced: bool = True
    age: timedelta = timedelta(days=30)

    def __post_init__(self) -> None:
        object.__setattr__(self, "internal_ip", _address(self.internal_ip, f"node {self.name} InternalIP"))
        object.__setattr__(self, "pod_cidr", _optional_network(self.pod_cidr, f"node {self.name} podCIDR"))
        object.__setattr__(self, "labels", _labels(self.labels))


@dataclasses.dataclass(frozen=True)
class Pod(_Value):
    """A pod: where it runs, its IP, its containers, its readiness.

    ``ready`` is the Ready condition (all readiness probes pass); ``terminating`` means a
    deletion was requested (``deletionTimestamp`` set). A ``host_network`` pod uses its
    node's IP and namespace. Phase is Running unless given.
    """

    namespace: str
    name: str
    labels: Labels = dataclasses.field(default_factory=Labels)
    node_name: str | None = None
    pod_ip: IPv4Address | None = None
    containers: tuple[Container, ...] = ()
    ready: bool = True
    terminating: bool = False
    host_network: bool = False
    phase: PodPhase = PodPhase.RUNNING
    restarts: int = 0
    age: timedelta = timedelta(days=8)
    uid: str = ""

    def __post_init__(self) -> None:
        # Values already of the right type pass untouched: a cluster at Kubernetes'
        # limits builds 150,000 pods, and each check here is paid that often.
        if type(self.labels) is not Labels:
            object.__setattr__(self, "labels", _labels(self.labels))
        if self.pod_ip is not None and type(self.pod_ip) is not IPv4Address:
            object.__setattr__(self, "pod_ip", _address(self.pod_ip, f"pod {self.namespace}/{self.name} IP"))
        if type(self.containers) is not tuple:
            object.__setattr__(self, "containers", tuple(self.containers))
        if type(self.phase) is not PodPhase:
            object.__setattr__(self, "phase", _enum(PodPhase, self.phase, "pod phase"))

    @property
    def key(self) -> str:
        """``namespace/name``."""
        return f"{self.namespace}/{self.name}"

    def with_ready(self, ready: bool) -> Pod:
        return dataclasses.replace(self, ready=ready)

    def with_labels(self, labels: Mapping[str, str]) -> Pod:
        return dataclasses.replace(self, labels=Labels(labels))

    def with_pod_ip(self, pod_ip: Any) -> Pod:
        return dataclasses.replace(self, pod_ip=pod_ip)

    def container_port_named(self, name: str, protocol: Protocol) -> int | None:
        """Resolve a named targetPort the way the EndpointSlice controller does (first match)."""
        for container in self.containers:
            for port in container.ports:
                if port.name == name and port.protocol == protocol:
                    return port.container_port
        return None


@dataclasses.dataclass(frozen=True)
class ServicePort(_Value):
    """One port of a Service. ``target_port`` is a number or a container port's name."""

    port: int
    target_port: int | str | None = None
    name: str = ""
    protocol: Protocol = Protocol.TCP
    node_port: int | None = None

    def __post_init__(self) -> None:
        _port(self.port, "port")
        object.__setattr__(self, "protocol", _enum(Protocol, self.protocol, "protocol"))
        if self.target_port is None:
            object.__setattr__(self, "target_port", self.port)
        elif isinstance(self.target_port, int):
            _port(self.target_port, "targetPort")
        elif not isinstance(self.target_port, str) or not self.target_port:
            raise InvalidValue(f"targetPort {self.target_port!r} is neither a number nor a port name")
        if self.node_port is not None:
            _port(self.node_port, "nodePort")


@dataclasses.dataclass(frozen=True)
class Service(_Value):
    """A Service. ``selector=None`` means no selector (endpoints are managed by hand).

    ``cluster_ip=None`` is a headless Service (``clusterIP: None``).
    """

    namespace: str
    name: str
    ports: tuple[ServicePort, ...] = ()
    selector: Labels | None = None
    cluster_ip: IPv4Address | None = None
    type: ServiceType = ServiceType.CLUSTER_IP
    session_affinity: SessionAffinity = SessionAffinity.NONE
    session_affinity_timeout: int = 10800
    internal_traffic_policy: TrafficPolicy = TrafficPolicy.CLUSTER
    external_traffic_policy: TrafficPolicy = TrafficPolicy.CLUSTER
    external_ips: tuple[IPv4Address, ...] = ()
    load_balancer_ips: tuple[IPv4Address, ...] = ()
    # As written, host bits and all: the API accepts 192.168.0.1/24 and kube-proxy writes
    # it as given (``.network`` is the range it stands for).
    load_balancer_source_ranges: tuple[IPv4Interface, ...] = ()
    health_check_node_port: int | None = None
    publish_not_ready_addresses: bool = False
    age: timedelta = timedelta(days=8)
    # spec.externalName of a type ExternalName Service: the name its DNS record is a CNAME to
    external_name: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "ports", tuple(self.ports))
        if self.selector is not None:
            object.__setattr__(self, "selector", _labels(self.selector))
        where = f"service {self.namespace}/{self.name}"
        object.__setattr__(self, "cluster_ip", _optional_address(self.cluster_ip, f"{where} clusterIP"))
        object.__setattr__(self, "type", _enum(ServiceType, self.type, f"{where} type"))
        object.__setattr__(self, "session_affinity", _enum(SessionAffinity, self.session_affinity, "sessionAffinity"))
        object.__setattr__(self, "internal_traffic_policy", _enum(TrafficPolicy, self.internal_traffic_policy, "internalTrafficPolicy"))
        object.__setattr__(self, "external_traffic_policy", _enum(TrafficPolicy, self.external_traffic_policy, "externalTrafficPolicy"))
        object.__setattr__(self, "external_ips", tuple(_address(a, f"{where} externalIP") for a in self.external_ips))
        object.__setattr__(self, "load_balancer_ips", tuple(_address(a, f"{where} load balancer IP") for a in self.load_balancer_ips))
        object.__setattr__(
            self,
            "load_balancer_source_ranges",
            tuple(_source_range(r, f"{where} loadBalancerSourceRange") for r in self.load_balancer_source_ranges),
        )

    @property
    def key(self) -> str:
        """``namespace/name``."""
        return f"{self.namespace}/{self.name}"

    @property
    def dns_name(self) -> str:
        """``<service>.<namespace>.svc.cluster.local``."""
        return f"{self.name}.{self.namespace}.svc.cluster.local"

    def selects(self, pod: Pod) -> bool:
        """Whether this Service's selector picks ``pod`` (same namespace, labels match)."""
        return (
            self.selector is not None
            and len(self.selector) > 0
            and pod.namespace == self.namespace
            and self.selector.matches(pod.labels)
        )

    def port_named(self, name: str) -> ServicePort:
        for port in self.ports:
            if port.name == name:
                return port
        names = ", ".join(repr(p.name) for p in self.ports) or "none"
        raise NotFound(f"service {self.key} has no port named {name!r} (ports: {names})")

    def port_name(self, port: ServicePort) -> str:
        """kube-proxy's servicePortName: ``namespace/name:portname``, or ``namespace/name``."""
        return f"{self.key}:{port.name}" if port.name else self.key


@dataclasses.dataclass(frozen=True)
class ObjectReference(_Value):
    """An endpoint's ``targetRef``."""

    kind: str
    namespace: str
    name: str
    uid: str = ""


@dataclasses.dataclass(frozen=True)
class EndpointConditions(_Value):
    """discovery.k8s.io/v1 conditions. ``None`` means unknown (consumers read it as ready)."""

    ready: bool | None = True
    serving: bool | None = True
    terminating: bool | None = False


@dataclasses.dataclass(frozen=True)
class Endpoint(_Value):
    """One endpoint of an EndpointSlice."""

    addresses: tuple[IPv4Address, ...]
    conditions: EndpointConditions = EndpointConditions()
    node_name: str | None = None
    zone: str | None = None
    target_ref: ObjectReference | None = None
    hostname: str | None = None

    def __post_init__(self) -> None:
        addresses = self.addresses
        if type(addresses) is tuple and len(addresses) == 1 and type(addresses[0]) is IPv4Address:
            return  # the common case, checked first: every endpoint of every slice passes here
        if type(addresses) is not tuple or not all(type(a) is IPv4Address for a in addresses):
            object.__setattr__(self, "addresses", tuple(_address(a, "endpoint address") for a in addresses))
        if not self.addresses:
            raise InvalidValue("an endpoint needs at least one address")

    @property
    def address(self) -> IPv4Address:
        """The first (in IPv4 slices, the only) address; kube-proxy uses this one."""
        return self.addresses[0]


@dataclasses.dataclass(frozen=True)
class EndpointPort(_Value):
    """One port of an EndpointSlice (``name`` matches the ServicePort's name, "" if unnamed)."""

    port: int | None
    name: str = ""
    protocol: Protocol = Protocol.TCP

    def __post_init__(self) -> None:
        object.__setattr__(self, "protocol", _enum(Protocol, self.protocol, "protocol"))


@dataclasses.dataclass(frozen=True)
class EndpointSlice(_Value):
    """A discovery.k8s.io/v1 EndpointSlice of one Service (label kubernetes.io/service-name)."""

    namespace: str
    name: str
    service_name: str
    endpoints: tuple[Endpoint, ...] = ()
    ports: tuple[EndpointPort, ...] = ()
    address_type: str = "IPv4"
    managed_by: str = "endpointslice-controller.k8s.io"
    age: timedelta = timedelta(days=8)

    def __post_init__(self) -> None:
        object.__setattr__(self, "endpoints", tuple(self.endpoints))
        object.__setattr__(self, "ports", tuple(self.ports))

    @property
    def service_key(self) -> str:
        return f"{self.namespace}/{self.service_name}"


@dataclasses.dataclass(frozen=True)
class NetworkPolicy(_Value):
    """An ingress NetworkPolicy, simplified: pods selected by ``pod_selector`` accept
    ingress only from pods of the same namespace matching one of ``allow_from``
    (an empty tuple denies all ingress). Only CNIs that enforce policy apply it."""

    namespace: str
    name: str
    pod_selector: Labels = dataclasses.field(default_factory=Labels)
    allow_from: tuple[Labels, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "pod_selector", _labels(self.pod_selector))
        object.__setattr__(self, "allow_from", tuple(_labels(s) for s in self.allow_from))

    def applies_to(self, pod: Pod) -> bool:
        return pod.namespace == self.namespace and self.pod_selector.matches(pod.labels)

    def allows(self, client: Pod, server: Pod) -> bool:
        """Whether this policy lets ``client`` open a connection to ``server``."""
        if not self.applies_to(server):
            return True
        return client.namespace == self.namespace and any(s.matches(client.labels) for s in self.allow_from)


@dataclasses.dataclass(frozen=True)
class Cluster(_Value):
    """A whole cluster: its objects and the three networks (node, pod, service).

    ``endpoint_slices`` holds slices given explicitly (from manifests); a Service without
    one gets slices derived from its pods by :func:`k8snet_lesson.endpoints.slices_for`.
    ``cni`` names the CNI profile the cluster runs (see :mod:`k8snet_lesson.cni`).
    """

    nodes: tuple[Node, ...] = ()
    pods: tuple[Pod, ...] = ()
    services: tuple[Service, ...] = ()
    endpoint_slices: tuple[EndpointSlice, ...] = ()
    network_policies: tuple[NetworkPolicy, ...] = ()
    cluster_cidr: IPv4Network = IPv4Network("10.244.0.0/16")
    service_cidr: IPv4Network = IPv4Network("10.96.0.0/12")
    node_network: IPv4Network | None = None
    node_cidr_mask_size: int = 24
    cni: str = "flannel"
    dns_domain: str = "cluster.local"

    def __post_init__(self) -> None:
        for name in ("nodes", "pods", "services", "endpoint_slices", "network_policies"):
            object.__setattr__(self, name, tuple(getattr(self, name)))
        object.__setattr__(self, "cluster_cidr", _network(self.cluster_cidr, "cluster CIDR"))
        object.__setattr__(self, "service_cidr", _network(self.service_cidr, "service CIDR"))
        object.__setattr__(self, "node_network", _optional_network(self.node_network, "node network"))

    # --- queries -------------------------------------------------------------
    def node(self, name: str) -> Node:
        for node in self.nodes:
            if node.name == name:
                return node
        raise NotFound(f"no node {name!r} (nodes: {', '.join(n.name for n in self.nodes) or 'none'})")

    def pod(self, name: str, namespace: str | None = None) -> Pod:
        """Find a pod by ``name`` (or ``namespace/name``)."""
        if namespace is None and "/" in name:
            namespace, name = name.split("/", 1)
        for pod in self.pods:
            if pod.name == name and (namespace is None or pod.namespace == namespace):
                return pod
        known = ", ".join(p.key for p in self.pods) or "none"
        raise NotFound(f"no pod {name!r}{' in namespace ' + repr(namespace) if namespace else ''} (pods: {known})")

    def service(self, name: str, namespace: str | None = None) -> Service:
        """Find a service by ``name`` (or ``namespace/name``)."""
        if namespace is None and "/" in name:
            namespace, name = name.split("/", 1)
        for service in self.services:
            if service.name == name and (namespace is None or service.namespace == namespace):
                return service
        known = ", ".join(s.key for s in self.services) or "none"
        raise NotFound(f"no service {name!r}{' in namespace ' + repr(namespace) if namespace else ''} (services: {known})")

    def pods_on(self, node_name: str) -> tuple[Pod, ...]:
        return tuple(p for p in self.pods if p.node_name == node_name)

    def pod_by_ip(self, address: Any) -> Pod | None:
        address = _address(address, "pod IP")
        return next((p for p in self.pods if p.pod_ip == address and not p.host_network), None)

    def node_of(self, pod: Pod) -> Node:
        if pod.node_name is None:
            raise NotFound(f"pod {pod.key} is not scheduled on a node")
        return self.node(pod.node_name)

    def service_by_ip(self, address: Any) -> Service | None:
        address = _address(address, "service IP")
        return next((s for s in self.services if s.cluster_ip == address), None)

    def slices_of(self, service: Service) -> tuple[EndpointSlice, ...]:
        """The explicitly given slices of ``service`` (may be empty)."""
        return tuple(s for s in self.endpoint_slices if s.namespace == service.namespace and s.service_name == service.name)

    # --- changes -------------------------------------------------------------
    def _replace_in(self, field: str, value: Any, same: Any) -> Cluster:
        items = getattr(self, field)
        replaced = False
        out = []
        for item in items:
            if same(item):
                out.append(value)
                replaced = True
            else:
                out.append(item)
        if not replaced:
            out.append(value)
        return dataclasses.replace(self, **{field: tuple(out)})

    def with_pod(self, pod: Pod) -> Cluster:
        """Add ``pod`` or replace the pod with the same namespace and name."""
        return self._replace_in("pods", pod, lambda p: p.key == pod.key)

    def without_pod(self, name: str, namespace: str | None = None) -> Cluster:
        gone = self.pod(name, namespace)
        return dataclasses.replace(self, pods=tuple(p for p in self.pods if p.key != gone.key))

    def with_service(self, service: Service) -> Cluster:
        """Add ``service`` or replace the service with the same namespace and name."""
        return self._replace_in("services", service, lambda s: s.key == service.key)

    def without_service(self, name: str, namespace: str | None = None) -> Cluster:
        gone = self.service(name, namespace)
        return dataclasses.replace(
            self,
            services=tuple(s for s in self.services if s.key != gone.key),
            endpoint_slices=tuple(s for s in self.endpoint_slices if s.service_key != gone.key),
        )

    def with_node(self, node: Node) -> Cluster:
        return self._replace_in("nodes", node, lambda n: n.name == node.name)

    def with_network_policy(self, policy: NetworkPolicy) -> Cluster:
        return self._replace_in(
            "network_policies", policy, lambda p: (p.namespace, p.name) == (policy.namespace, policy.name)
        )

    def with_endpoint_slice(self, endpoint_slice: EndpointSlice) -> Cluster:
        return self._replace_in(
            "endpoint_slices",
            endpoint_slice,
            lambda s: (s.namespace, s.name) == (endpoint_slice.namespace, endpoint_slice.name),
        )
