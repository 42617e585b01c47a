"""CNI plugins as data, and the CNI ADD that wires a new pod into the node's network.

Models the lesson's section "What the CNI Plugin Does": when a pod is created the
plugin (1) assigns it an IP from the pod CIDR, (2) creates a veth pair whose one end is
the pod's ``eth0``, (3) connects the other end to the node (enslaved to the ``cni0``
bridge, or a /32 host route on a point-to-point veth) and (4) sets up routes. Each
plugin's facts (encapsulation, tunnel device, VXLAN port and VNI, MTU, naming, where
routes come from) live in ``data/cni-plugins.yaml`` with a source per fact; this module
loads them into :class:`CNIProfile` values and derives the per-pod and per-node state
from the cluster: interfaces, addresses and routing tables, printed exactly as
iproute2's ``ip addr show`` and ``ip route show`` print them.

The lesson's ``inet 10.244.2.14/32`` and ``default via 169.254.1.1`` are Calico's (and the
AWS VPC CNI's) way: a point-to-point /32 with a link-local gateway the host veth
answers by proxy ARP. Flannel's pod shows a /24 on the node's subnet and
``default via 10.244.x.1`` (the ``cni0`` bridge). Modern Calico also prints no ``brd``
for a /32 (the netlink library computes a broadcast address only below /31), and
iproute2 prints ``link/ether`` before ``inet``; the lesson's listing differs on both.

    >>> flannel = profile("flannel")
    >>> (flannel.tunnel_device, flannel.udp_port, flannel.vni, flannel.mtu)
    ('flannel.1', 8472, 1, 1450)
    >>> host_veth_name(profile("calico"), "production", "checkout-api-6f8b9d-2xkpj")
    'cali0b08960e0ec'
    >>> aws_max_pods(3, 10)
    29

The text is what iproute2 6.1 prints on Linux 6.1 (checked against a veth pair, a bridge
and these routes in scratch namespaces): a veth shows ``qlen 1000`` (older kernels printed
none, as the lesson's era did), and a route dump lists routes by address, the longer
prefix first where two share one.

What it simplifies: IPv4 only (no ``inet6`` lines); the node's default route and
connected route are the minimal pair (no ``proto dhcp``/``metric``); interface
indexes follow a stated rule (pod: ``lo``=1, the kernel's fallback tunnel devices, the
host end of the veth while it is still in the pod, then ``eth0``; node: ``lo``, ``eth0``,
the plugin's devices, then one host veth per pod in cluster order); random values the
kernel or plugin would draw (MAC addresses, ``veth`` names, the netns name) are derived
from a SHA-1 of the pod key so every run prints the same. Calico's VXLAN tunnel address
is taken as the block's first address; Cilium's router address as the pod CIDR's
first host. iproute2 ends some lines with a space; the model strips trailing spaces.
"""

from __future__ import annotations

import dataclasses
import enum
import functools
import hashlib
import uuid
from collections.abc import Iterable, Mapping
from ipaddress import IPv4Address, IPv4Interface, IPv4Network
from typing import Any

from .cluster import Cluster, Node, Pod
from .errors import ExhaustedError, InvalidValue, NotFound, ParseError
from .ipam import HostLocal
from .resources import data_path

__all__ = [
    "Encapsulation",
    "Attachment",
    "PodGateway",
    "HostVethNaming",
    "RouteSource",
    "ServiceImplementation",
    "PodBlock",
    "RouteProtocol",
    "RouteType",
    "MACAddress",
    "BROADCAST_MAC",
    "LINK_LOCAL_GATEWAY",
    "CNIProfile",
    "InstanceType",
    "profiles",
    "profile",
    "instance_types",
    "aws_max_pods",
    "comparison_table",
    "host_veth_name",
    "netns_name",
    "Link",
    "Route",
    "NetworkNamespace",
    "lookup",
    "node_subnet",
    "node_gateway",
    "pod_blocks",
    "router_address",
    "tunnel_address",
    "pod_interface",
    "pod_mac",
    "host_veth_mac",
    "device_mac",
    "pod_namespace",
    "node_namespace",
    "CNIStep",
    "CNIAdd",
    "cni_add",
    "InstallMethod",
    "TableNote",
    "calico_install_methods",
    "lesson_table_notes",
    "VPC_RESERVED",
]

DATA_FILE = "cni-plugins.yaml"
LINK_LOCAL_GATEWAY = IPv4Address("169.254.1.1")
VPC_RESERVED = 4  # AWS reserves a subnet's network address and the next three (router, DNS, future use)


# --- closed vocabularies -----------------------------------------------------------
class Encapsulation(str, enum.Enum):
    """How a pod packet crosses the node network."""

    NONE = "none"
    VXLAN = "vxlan"
    IPIP = "ipip"


class Attachment(str, enum.Enum):
    """How the host end of the pod's veth joins the node."""

    BRIDGE = "bridge"
    ROUTED = "routed"


class PodGateway(str, enum.Enum):
    """The pod's default gateway."""

    BRIDGE_ADDRESS = "bridge-address"
    LINK_LOCAL = "link-local"
    ROUTER_ADDRESS = "router-address"


class HostVethNaming(str, enum.Enum):
    """How the plugin names the host end of the veth."""

    RANDOM = "random"
    SHA1_WORKLOAD = "sha1-workload"
    SHA256_ENDPOINT = "sha256-endpoint"


class RouteSource(str, enum.Enum):
    """Who tells a node where other nodes' pods are."""

    FLANNELD = "flanneld"
    BIRD = "bird"
    FELIX = "felix"
    CILIUM_AGENT = "cilium-agent"
    VPC = "vpc"


class ServiceImplementation(str, enum.Enum):
    """What makes a ClusterIP work: kube-proxy's DNAT, or Cilium's socket-level LB."""

    KUBE_PROXY = "kube-proxy"
    SOCKET_LB = "socket-lb"


class PodBlock(str, enum.Enum):
    """Where a node's pod addresses come from."""

    NODE_POD_CIDR = "node-pod-cidr"
    IPAM_BLOCK = "ipam-block"
    ENI = "eni"


class RouteProtocol(str, enum.Enum):
    """A route's ``proto`` as ``ip route`` names it (``boot``, the default, is not printed)."""

    BOOT = "boot"
    KERNEL = "kernel"
    BIRD = "bird"
    FELIX = "80"


class RouteType(str, enum.Enum):
    UNICAST = "unicast"
    BLACKHOLE = "blackhole"


# --- MAC addresses -----------------------------------------------------------------
@dataclasses.dataclass(frozen=True, order=True)
class MACAddress:
    """A 48-bit Ethernet address.

    >>> str(MACAddress.parse("EE:EE:EE:EE:EE:EE"))
    'ee:ee:ee:ee:ee:ee'
    >>> MACAddress.derive("pod", "default/web").locally_administered
    True
    """

    octets: bytes

    def __post_init__(self) -> None:
        if not isinstance(self.octets, bytes) or len(self.octets) != 6:
            raise InvalidValue(f"a MAC address has 6 octets, not {self.octets!r}")

    @classmethod
    def parse(cls, text: str) -> MACAddress:
        parts = str(text).split(":")
        try:
            if len(parts) != 6 or any(len(p) != 2 for p in parts):
                raise ValueError
            return cls(bytes(int(p, 16) for p in parts))
        except ValueError:
            raise InvalidValue(f"{text!r} is not a MAC address (six hex pairs separated by ':')") from None

    @classmethod
    def derive(cls, *parts: str) -> MACAddress:
        """A locally administered unicast address from a SHA-1 of ``parts``.

        The kernel draws a random one the same way (``eth_random_addr``: clear the
        multicast bit, set the locally-administered bit); deriving it keeps runs equal.
        """
        digest = hashlib.sha1("|".join(parts).encode()).digest()
        return cls(bytes([(digest[0] & 0xFE) | 0x02]) + digest[1:6])

    @property
    def locally_administered(self) -> bool:
        return bool(self.octets[0] & 0x02)

    def __str__(self) -> str:
        return ":".join(f"{b:02x}" for b in self.octets)


BROADCAST_MAC = MACAddress(b"\xff" * 6)


# --- profiles ------------------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class CNIProfile:
    """One plugin in one mode, as ``data/cni-plugins.yaml`` states it (with sources)."""

    name: str
    plugin: str
    mode: str
    approach: str
    notable_features: str
    common_in: str
    encapsulation: Encapsulation
    tunnel_device: str | None
    udp_port: int | None
    vni: int | None
    underlay_mtu: int
    mtu: int
    veth_mtu: int
    attachment: Attachment
    bridge: str | None
    host_veth_prefix: str
    host_veth_naming: HostVethNaming
    host_veth_mac: MACAddress | None
    pod_prefix_length: int
    pod_gateway: PodGateway
    pod_block: PodBlock
    block_size: int | None
    node_devices: tuple[str, ...]
    pod_netns_devices: tuple[str, ...]
    ipam: str
    route_source: RouteSource
    routes_from: str
    network_policy: bool
    l7_policy: bool
    services: ServiceImplementation
    cni_config: str
    sources: Mapping[str, str]

    @property
    def overlay(self) -> bool:
        """Whether pod packets are encapsulated between nodes."""
        return self.encapsulation is not Encapsulation.NONE

    @property
    def replaces_kube_proxy(self) -> bool:
        return self.services is ServiceImplementation.SOCKET_LB

    @property
    def cni_binary(self) -> str:
        """The plugin binary kubelet's runtime execs for this profile."""
        return {"Flannel": "flannel", "Calico": "calico", "Cilium": "cilium-cni", "AWS VPC CNI": "aws-cni"}.get(
            self.plugin, self.plugin.lower()
        )


@dataclasses.dataclass(frozen=True)
class InstanceType:
    """An EC2 instance type's ENI limits and the max pods eni-max-pods.txt lists for it."""

    name: str
    enis: int
    ips_per_eni: int
    max_pods_listed: int

    @property
    def max_pods(self) -> int:
        return aws_max_pods(self.enis, self.ips_per_eni)


# Facts every profile must cite a source for.
REQUIRED_SOURCES = (
    "approach",
    "encapsulation",
    "mtu",
    "host_veth_naming",
    "pod_gateway",
    "routes_from",
    "network_policy",
    "services",
)


def _read_data() -> tuple[Mapping[str, Any], str]:
    import yaml  # the loader is the only place that needs it

    path = data_path(DATA_FILE)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise NotFound(f"{path}: cannot read the CNI profiles ({exc.strerror})") from None
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        problem = getattr(exc, "problem", None) or str(exc)
        raise ParseError(f"invalid YAML: {problem}", source=str(path), line=line) from None
    if not isinstance(document, Mapping) or not isinstance(document.get("profiles"), Mapping):
        raise InvalidValue(f"{path}: expected a mapping with a 'profiles' key")
    return document, str(path)


def _field(raw: Mapping[str, Any], key: str, where: str, kind: type | tuple[type, ...], *, optional: bool = False) -> Any:
    if key not in raw:
        raise InvalidValue(f"{where}: missing field {key!r}")
    value = raw[key]
    if value is None and optional:
        return None
    if isinstance(value, bool) and kind is int:
        raise InvalidValue(f"{where}: field {key!r} is {value!r}, not a number")
    if not isinstance(value, kind):
        raise InvalidValue(f"{where}: field {key!r} is {value!r}, not {getattr(kind, '__name__', kind)}")
    return value


def _choice(kind: type[enum.Enum], raw: Mapping[str, Any], key: str, where: str) -> Any:
    value = _field(raw, key, where, str)
    try:
        return kind(value)
    except ValueError:
        allowed = ", ".join(m.value for m in kind)
        raise InvalidValue(f"{where}: field {key!r} is {value!r}, not one of {allowed}") from None


def _profile(name: str, raw: Any, source: str) -> CNIProfile:
    where = f"{source}: profile {name!r}"
    if not isinstance(raw, Mapping):
        raise InvalidValue(f"{where}: expected a mapping")
    sources = _field(raw, "sources", where, Mapping)
    missing = [key for key in REQUIRED_SOURCES if key not in sources]
    if missing:
        raise InvalidValue(f"{where}: no source for {', '.join(missing)}")
    mac = raw.get("host_veth_mac")
    mtu = _field(raw, "mtu", where, int)
    return CNIProfile(
        name=name,
        plugin=_field(raw, "plugin", where, str),
        mode=_field(raw, "mode", where, str),
        approach=_field(raw, "approach", where, str),
        notable_features=_field(raw, "notable_features", where, str),
        common_in=_field(raw, "common_in", where, str),
        encapsulation=_choice(Encapsulation, raw, "encapsulation", where),
        tunnel_device=_field(raw, "tunnel_device", where, str, optional=True),
        udp_port=_field(raw, "udp_port", where, int, optional=True),
        vni=_field(raw, "vni", where, int, optional=True),
        underlay_mtu=_field(raw, "underlay_mtu", where, int),
        mtu=mtu,
        veth_mtu=_field(raw, "veth_mtu", where, int) if "veth_mtu" in raw else mtu,
        attachment=_choice(Attachment, raw, "attachment", where),
        bridge=_field(raw, "bridge", where, str, optional=True),
        host_veth_prefix=_field(raw, "host_veth_prefix", where, str),
        host_veth_naming=_choice(HostVethNaming, raw, "host_veth_naming", where),
        host_veth_mac=None if mac is None else MACAddress.parse(mac),
        pod_prefix_length=_field(raw, "pod_prefix_length", where, int),
        pod_gateway=_choice(PodGateway, raw, "pod_gateway", where),
        pod_block=_choice(PodBlock, raw, "pod_block", where),
        block_size=_field(raw, "block_size", where, int) if "block_size" in raw else None,
        node_devices=tuple(_field(raw, "node_devices", where, list)),
        pod_netns_devices=tuple(_field(raw, "pod_netns_devices", where, list)),
        ipam=_field(raw, "ipam", where, str),
        route_source=_choice(RouteSource, raw, "route_source", where),
        routes_from=_field(raw, "routes_from", where, str),
        network_policy=_field(raw, "network_policy", where, bool),
        l7_policy=_field(raw, "l7_policy", where, bool),
        services=_choice(ServiceImplementation, raw, "services", where),
        cni_config=_field(raw, "cni_config", where, str),
        sources=dict(sources),
    )


@functools.cache
def _profiles() -> tuple[tuple[str, CNIProfile], ...]:
    document, source = _read_data()
    return tuple((name, _profile(name, raw, source)) for name, raw in document["profiles"].items())


def profiles() -> dict[str, CNIProfile]:
    """Every profile, keyed ``flannel``, ``calico`` (BGP), ``calico-ipip``, ``calico-vxlan``,
    ``cilium``, ``aws-vpc``, in the data file's order."""
    return dict(_profiles())


def profile(name: str | CNIProfile) -> CNIProfile:
    """The profile called ``name``; :class:`NotFound` lists the names that exist."""
    if isinstance(name, CNIProfile):
        return name
    known = profiles()
    try:
        return known[name]
    except (KeyError, TypeError):
        raise NotFound(f"no CNI profile {name!r} (profiles: {', '.join(known)})") from None


@functools.cache
def _instance_types() -> tuple[InstanceType, ...]:
    document, source = _read_data()
    raw = document.get("aws_instance_types") or {}
    out = []
    for name, entry in raw.items():
        where = f"{source}: instance type {name!r}"
        out.append(
            InstanceType(
                name,
                _field(entry, "enis", where, int),
                _field(entry, "ips_per_eni", where, int),
                _field(entry, "max_pods", where, int),
            )
        )
    return tuple(out)


def instance_types() -> dict[str, InstanceType]:
    """EC2 instance types with their ENI limits (data file), keyed by name."""
    return {t.name: t for t in _instance_types()}


def aws_max_pods(enis: int, ips_per_eni: int) -> int:
    """The AWS VPC CNI's pods per node: ``ENIs x (IPs per ENI - 1) + 2``.

    Each ENI's primary address is not used for pods; the ``+ 2`` counts the two
    host-network pods (aws-node and kube-proxy) that need no address.

    >>> aws_max_pods(3, 10)   # m5.large
    29
    """
    for value, what in ((enis, "ENIs"), (ips_per_eni, "IPs per ENI")):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise InvalidValue(f"{what} must be a positive whole number, not {value!r}")
    return enis * (ips_per_eni - 1) + 2


def comparison_table() -> Any:
    """The lesson's CNI table (Plugin, Approach, Notable features, Common in), one row per
    profile, extended with the mode, encapsulation, overhead bytes (measured from real
    frames by :func:`k8snet_lesson.frames.encapsulation_overhead`; ``<NA>`` without scapy),
    MTU, where routes come from, NetworkPolicy support and how Services work."""
    import pandas as pd

    from . import frames

    rows = []
    for p in profiles().values():
        try:
            overhead: Any = frames.encapsulation_overhead(p.name)
        except frames.ScapyMissing:
            overhead = pd.NA
        rows.append(
            {
                "Plugin": p.plugin,
                "Approach": p.approach,
                "Notable features": p.notable_features,
                "Common in": p.common_in,
                "Mode": p.mode,
                "Encapsulation": {"none": "none", "vxlan": f"VXLAN (UDP {p.udp_port})", "ipip": "IP-in-IP (proto 4)"}[
                    p.encapsulation.value
                ],
                "Overhead (bytes)": overhead,
                "MTU": p.mtu,
                "Routes from": p.routes_from,
                "NetworkPolicy": ("yes, with L7" if p.l7_policy else "yes") if p.network_policy else "no",
                "Services": "kube-proxy (iptables DNAT)"
                if p.services is ServiceImplementation.KUBE_PROXY
                else "eBPF socket LB at connect() (replaces kube-proxy)",
            }
        )
    table = pd.DataFrame(rows, index=pd.Index(list(profiles()), name="profile"))
    table["Overhead (bytes)"] = table["Overhead (bytes)"].astype("Int64")
    return table


# --- names ---------------------------------------------------------------------------
def host_veth_name(cni: str | CNIProfile, namespace: str, name: str) -> str:
    """The host end of a pod's veth, named the way the plugin names it.

    Calico and the AWS VPC CNI hash ``"<namespace>.<pod>"`` with SHA-1 and keep 11 hex
    digits; Cilium hashes the endpoint id with SHA-256 and keeps 12; the bridge plugin
    (Flannel) draws 4 random bytes, which the model derives from the pod key instead.
    """
    p = profile(cni)
    if p.host_veth_naming is HostVethNaming.SHA1_WORKLOAD:
        digest = hashlib.sha1(f"{namespace}.{name}".encode()).hexdigest()[:11]
    elif p.host_veth_naming is HostVethNaming.SHA256_ENDPOINT:
        digest = hashlib.sha256(f"{namespace}/{name}".encode()).hexdigest()[:12]
    else:
        digest = hashlib.sha1(f"veth|{namespace}/{name}".encode()).hexdigest()[:8]
    return p.host_veth_prefix + digest


def netns_name(pod: Pod) -> str:
    """The pod sandbox's network namespace as containerd names it (``cni-<uuid>``)."""
    return f"cni-{uuid.UUID(bytes=hashlib.sha1(pod.key.encode()).digest()[:16], version=4)}"


# --- interfaces and routes -----------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class Link:
    """A network device in one namespace, with what ``ip addr show`` prints about it.

    ``kind`` is ``loopback``, ``veth``, ``ipip`` (a fallback ``tunl0``), ``bridge``, ``vxlan``
    or ``ether``; ``peer_index`` is the veth peer's ifindex (the ``@ifN``).
    """

    index: int
    name: str
    kind: str
    mtu: int
    mac: MACAddress | None = None
    addresses: tuple[IPv4Interface, ...] = ()
    peer_index: int | None = None
    link_netnsid: int | None = None
    master: str | None = None
    up: bool = True

    def ip_addr_show(self) -> str:
        """The lines ``ip addr show <dev>`` prints for a pod's ``lo``, ``tunl0`` or ``eth0``."""
        if self.kind == "loopback":
            lines = [
                f"{self.index}: {self.name}: <LOOPBACK,UP,LOWER_UP> mtu {self.mtu} qdisc noqueue state UNKNOWN group default qlen 1000",
                "    link/loopback 00:00:00:00:00:00 brd 00:00:00:00:00:00",
            ]
        elif self.kind == "ipip":
            lines = [
                f"{self.index}: {self.name}@NONE: <NOARP> mtu {self.mtu} qdisc noop state DOWN group default qlen 1000",
                "    link/ipip 0.0.0.0 brd 0.0.0.0",
            ]
        elif self.kind == "veth":
            flags = "<BROADCAST,MULTICAST,UP,LOWER_UP>" if self.up else "<BROADCAST,MULTICAST>"
            state = "UP" if self.up else "DOWN"
            qdisc = "noqueue" if self.up else "noop"
            master = f" master {self.master}" if self.master else ""
            peer = f"@if{self.peer_index}" if self.peer_index is not None else ""
            lines = [
                f"{self.index}: {self.name}{peer}: {flags} mtu {self.mtu} qdisc {qdisc}{master} state {state} group default qlen 1000",
                f"    link/ether {self.mac} brd {BROADCAST_MAC}"
                + (f" link-netnsid {self.link_netnsid}" if self.link_netnsid is not None else ""),
            ]
        else:
            raise InvalidValue(f"rendering {self.kind} device {self.name} is not modelled")
        for address in self.addresses:
            # The netlink library computes a broadcast below /31 (RFC 3021); lo has none.
            brd = f" brd {address.network.broadcast_address}" if address.network.prefixlen < 31 and self.kind != "loopback" else ""
            scope = "host" if address.ip.is_loopback else "global"
            lines.append(f"    inet {address.with_prefixlen}{brd} scope {scope} {self.name}")
            lines.append("       valid_lft forever preferred_lft forever")
        return "\n".join(lines)


@dataclasses.dataclass(frozen=True)
class Route:
    """One route of a routing table; ``str()`` is its ``ip route show`` line.

    >>> print(Route(IPv4Network("10.244.3.0/24"), "flannel.1", gateway=IPv4Address("10.244.3.0"), onlink=True))
    10.244.3.0/24 via 10.244.3.0 dev flannel.1 onlink
    >>> print(Route(IPv4Network("10.244.2.0/26"), None, type=RouteType.BLACKHOLE, protocol=RouteProtocol.BIRD))
    blackhole 10.244.2.0/26 proto bird
    """

    destination: IPv4Network
    device: str | None
    gateway: IPv4Address | None = None
    protocol: RouteProtocol = RouteProtocol.BOOT
    scope: str | None = None
    source: IPv4Address | None = None
    onlink: bool = False
    mtu: int | None = None
    type: RouteType = RouteType.UNICAST

    def __str__(self) -> str:
        words = []
        if self.type is not RouteType.UNICAST:
            words.append(self.type.value)
        words.append("default" if self.destination.prefixlen == 0 else _prefix(self.destination))
        if self.gateway is not None:
            words += ["via", str(self.gateway)]
        if self.device is not None:
            words += ["dev", self.device]
        if self.protocol is not RouteProtocol.BOOT:
            words += ["proto", self.protocol.value]
        if self.scope is not None:
            words += ["scope", self.scope]
        if self.source is not None:
            words += ["src", str(self.source)]
        if self.onlink:
            words.append("onlink")
        if self.mtu is not None:
            words += ["mtu", str(self.mtu)]
        return " ".join(words)

    @property
    def sort_key(self) -> tuple[int, int]:
        """The kernel dumps the main table in FIB-trie order: by address; of two routes
        with the same address, the longer prefix first (``blackhole 10.244.2.0/26``
        before ``10.244.2.0/24``)."""
        return (int(self.destination.network_address), -self.destination.prefixlen)


def _prefix(network: IPv4Network) -> str:
    # iproute2 prints a /32 as the bare address.
    return str(network.network_address) if network.prefixlen == 32 else str(network)


def _host(address: IPv4Address) -> IPv4Network:
    return IPv4Network(f"{address}/32")


def lookup(routes: Iterable[Route], address: IPv4Address) -> Route | None:
    """The route the kernel picks for ``address``: the longest matching prefix."""
    best: Route | None = None
    for route in routes:
        if address in route.destination and (best is None or route.destination.prefixlen > best.destination.prefixlen):
            best = route
    return best


@dataclasses.dataclass(frozen=True)
class NetworkNamespace:
    """A network namespace's devices and main routing table."""

    name: str
    links: tuple[Link, ...]
    routes: tuple[Route, ...]

    def link(self, name: str) -> Link:
        for link in self.links:
            if link.name == name:
                return link
        raise NotFound(f"no device {name!r} in {self.name} (devices: {', '.join(l.name for l in self.links)})")

    def ip_addr_show(self, device: str | None = None) -> str:
        """``ip addr show [dev]`` (for a pod's namespace)."""
        links = self.links if device is None else (self.link(device),)
        return "\n".join(link.ip_addr_show() for link in links)

    def ip_route_show(self) -> str:
        """``ip route show``: the main table in the kernel's dump order."""
        return "\n".join(str(r) for r in sorted(self.routes, key=lambda r: r.sort_key))

    def route_to(self, address: IPv4Address) -> Route | None:
        return lookup(self.routes, address)


# --- addresses the plugins pick -----------------------------------------------------
def node_subnet(cluster: Cluster, node: Node) -> IPv4Network:
    """The node network the node's ``eth0`` sits on: ``cluster.node_network`` when it
    holds the node's address, else the /24 around it."""
    if cluster.node_network is not None and node.internal_ip in cluster.node_network:
        return cluster.node_network
    return IPv4Network(f"{node.internal_ip}/24", strict=False)


def node_gateway(cluster: Cluster, node: Node) -> IPv4Address:
    """The node network's router: its first host address."""
    return node_subnet(cluster, node).network_address + 1


def _pod_cidr(node: Node) -> IPv4Network:
    if node.pod_cidr is None:
        raise InvalidValue(f"node {node.name} has no podCIDR (spec.podCIDR is empty)")
    return node.pod_cidr


def pod_blocks(cluster: Cluster, node: Node, cni: str | CNIProfile) -> tuple[IPv4Network, ...]:
    """The address blocks a node's pods come from under this profile.

    Flannel and Cilium: the node's ``spec.podCIDR``. Calico: the /26 blocks (IPPool
    ``blockSize``) that hold the node's pods, or the first block of its podCIDR when it
    runs none. AWS VPC CNI: none (pods hold ENI secondary addresses).
    """
    p = profile(cni)
    if p.pod_block is PodBlock.ENI:
        return ()
    if p.pod_block is PodBlock.NODE_POD_CIDR:
        return () if node.pod_cidr is None else (node.pod_cidr,)
    size = p.block_size or 26
    blocks = sorted(
        {IPv4Network(f"{pod.pod_ip}/{size}", strict=False) for pod in cluster.pods_on(node.name) if _networked(pod)},
        key=lambda n: int(n.network_address),
    )
    if not blocks and node.pod_cidr is not None:
        blocks = [next(node.pod_cidr.subnets(new_prefix=size)) if node.pod_cidr.prefixlen <= size else node.pod_cidr]
    return tuple(blocks)


def router_address(node: Node) -> IPv4Address:
    """Cilium's router address (on ``cilium_host``): the model takes the pod CIDR's first host."""
    return _pod_cidr(node).network_address + 1


def tunnel_address(block: IPv4Network) -> IPv4Address:
    """The VTEP address of a node owning ``block`` (flannel.1's /32; Calico's VXLAN tunnel address)."""
    return block.network_address


def _networked(pod: Pod) -> bool:
    return pod.pod_ip is not None and not pod.host_network and pod.node_name is not None


def _pod_gateway(p: CNIProfile, node: Node) -> IPv4Address:
    if p.pod_gateway is PodGateway.LINK_LOCAL:
        return LINK_LOCAL_GATEWAY
    if p.pod_gateway is PodGateway.ROUTER_ADDRESS:
        return router_address(node)
    return _pod_cidr(node).network_address + 1


def _ordinal(cluster: Cluster, node: Node, pod: Pod) -> int:
    keys = [p.key for p in cluster.pods_on(node.name) if not p.host_network]
    return keys.index(pod.key) if pod.key in keys else len(keys)


def _host_veth_index(cluster: Cluster, node: Node, pod: Pod, p: CNIProfile) -> int:
    # lo=1, eth0=2, then the plugin's devices, then one veth per pod in cluster order.
    return 3 + len(p.node_devices) + _ordinal(cluster, node, pod)


def _pod_eth0_index(p: CNIProfile) -> int:
    # lo=1, the fallback tunnel devices, the veth peer (registered first), then eth0.
    return 3 + len(p.pod_netns_devices)


def pod_interface(cluster: Cluster, pod: Pod, cni: str | CNIProfile) -> IPv4Interface:
    """The address the plugin puts on the pod's ``eth0``: its IP with the profile's prefix
    (Flannel: the node's /24; Calico, Cilium, AWS: /32)."""
    p = profile(cni)
    if pod.pod_ip is None:
        raise InvalidValue(f"pod {pod.key} has no IP yet")
    if p.pod_block is PodBlock.NODE_POD_CIDR and p.attachment is Attachment.BRIDGE:
        return IPv4Interface(f"{pod.pod_ip}/{_pod_cidr(cluster.node_of(pod)).prefixlen}")
    return IPv4Interface(f"{pod.pod_ip}/{p.pod_prefix_length}")


def pod_mac(pod: Pod) -> MACAddress:
    return MACAddress.derive("eth0", pod.key)


def host_veth_mac(pod: Pod, cni: str | CNIProfile) -> MACAddress:
    p = profile(cni)
    return p.host_veth_mac or MACAddress.derive("host-veth", p.name, pod.key)


def device_mac(node: Node, device: str) -> MACAddress:
    """A node device's MAC (``eth0``, ``cni0``, ``flannel.1``, ``vxlan.calico``, ...)."""
    return MACAddress.derive(device, node.name)


# --- namespaces ----------------------------------------------------------------------
def pod_namespace(cluster: Cluster, pod: Pod, cni: str | CNIProfile) -> NetworkNamespace:
    """The pod's network namespace after the CNI ADD: ``lo``, fallback tunnels, ``eth0`` and routes."""
    p = profile(cni)
    node = cluster.node_of(pod)
    address = pod_interface(cluster, pod, p)
    eth0 = Link(
        index=_pod_eth0_index(p),
        name="eth0",
        kind="veth",
        mtu=p.veth_mtu,
        mac=pod_mac(pod),
        addresses=(address,),
        peer_index=_host_veth_index(cluster, node, pod, p),
        link_netnsid=0,
    )
    return NetworkNamespace(netns_name(pod), _pod_base_links(p) + (eth0,), _pod_routes(cluster, pod, p, address))


def _pod_base_links(p: CNIProfile) -> tuple[Link, ...]:
    links = [Link(1, "lo", "loopback", 65536, addresses=(IPv4Interface("127.0.0.1/8"),))]
    for offset, device in enumerate(p.pod_netns_devices):
        links.append(Link(2 + offset, device, "ipip", p.underlay_mtu - 20, up=False))
    return tuple(links)


def _pod_routes(cluster: Cluster, pod: Pod, p: CNIProfile, address: IPv4Interface) -> tuple[Route, ...]:
    node = cluster.node_of(pod)
    gateway = _pod_gateway(p, node)
    default = IPv4Network("0.0.0.0/0")
    if p.pod_gateway is PodGateway.BRIDGE_ADDRESS:
        return (
            Route(default, "eth0", gateway=gateway),
            Route(cluster.cluster_cidr, "eth0", gateway=gateway),
            _connected(address, "eth0"),
        )
    route_mtu = p.mtu if p.veth_mtu != p.mtu else None
    return (Route(default, "eth0", gateway=gateway, mtu=route_mtu), Route(_host(gateway), "eth0", scope="link"))


def _connected(address: IPv4Interface, device: str) -> Route:
    """The route the kernel adds with an address: ``<net> dev X proto kernel scope link src A``."""
    return Route(address.network, device, protocol=RouteProtocol.KERNEL, scope="link", source=address.ip)


def node_namespace(
    cluster: Cluster, node_name: str, cni: str | CNIProfile, *, without: Pod | None = None
) -> NetworkNamespace:
    """The node's root namespace under this profile: its devices and main routing table.

    ``without`` leaves one pod out (the state before that pod's CNI ADD).
    """
    p = profile(cni)
    node = cluster.node(node_name)
    pods = [
        pod
        for pod in cluster.pods_on(node.name)
        if _networked(pod) and (without is None or pod.key != without.key)
    ]
    subnet = node_subnet(cluster, node)
    eth0 = IPv4Interface(f"{node.internal_ip}/{subnet.prefixlen}")
    links = [
        Link(1, "lo", "loopback", 65536, addresses=(IPv4Interface("127.0.0.1/8"),)),
        Link(2, "eth0", "ether", p.underlay_mtu, mac=device_mac(node, "eth0"), addresses=(eth0,)),
    ]
    routes = [Route(IPv4Network("0.0.0.0/0"), "eth0", gateway=node_gateway(cluster, node)), _connected(eth0, "eth0")]
    for offset, device in enumerate(p.node_devices):
        if device == p.bridge and not pods:
            continue  # the bridge plugin creates cni0 at the node's first pod
        links.append(_node_device(cluster, node, p, device, 3 + offset))
    for pod in pods:
        links.append(
            Link(
                _host_veth_index(cluster, node, pod, p),
                host_veth_name(p, pod.namespace, pod.name),
                "veth",
                p.veth_mtu,
                mac=host_veth_mac(pod, p),
                peer_index=_pod_eth0_index(p),
                master=p.bridge,
            )
        )
    routes += _plugin_routes(cluster, node, p, pods)
    return NetworkNamespace(f"node {node.name}", tuple(links), tuple(routes))


def _node_device(cluster: Cluster, node: Node, p: CNIProfile, device: str, index: int) -> Link:
    addresses: tuple[IPv4Interface, ...] = ()
    kind = "ether"
    if device == p.bridge:
        kind = "bridge"
        addresses = (IPv4Interface(f"{_pod_cidr(node).network_address + 1}/{_pod_cidr(node).prefixlen}"),)
    elif device == p.tunnel_device and p.encapsulation is Encapsulation.VXLAN:
        kind = "vxlan"
        blocks = pod_blocks(cluster, node, p)
        if blocks and device != "cilium_vxlan":
            addresses = (IPv4Interface(f"{tunnel_address(blocks[0])}/32"),)
    elif device == p.tunnel_device:
        kind = "ipip"
    elif device == "cilium_host":
        addresses = (IPv4Interface(f"{router_address(node)}/32"),)
    mtu = p.mtu if kind in ("vxlan", "ipip") else p.veth_mtu
    return Link(index, device, kind, mtu, mac=device_mac(node, device), addresses=addresses)


def _plugin_routes(cluster: Cluster, node: Node, p: CNIProfile, pods: list[Pod]) -> list[Route]:
    routes: list[Route] = []
    others = [n for n in cluster.nodes if n.name != node.name]
    if p.route_source is RouteSource.FLANNELD:
        if pods:
            bridge = IPv4Interface(f"{_pod_cidr(node).network_address + 1}/{_pod_cidr(node).prefixlen}")
            routes.append(_connected(bridge, p.bridge or "cni0"))
        for other in others:
            if other.pod_cidr is not None:
                routes.append(
                    Route(other.pod_cidr, p.tunnel_device, gateway=tunnel_address(other.pod_cidr), onlink=True)
                )
    elif p.route_source in (RouteSource.BIRD, RouteSource.FELIX):
        proto = RouteProtocol.BIRD if p.route_source is RouteSource.BIRD else RouteProtocol.FELIX
        for block in pod_blocks(cluster, node, p):
            routes.append(Route(block, None, type=RouteType.BLACKHOLE, protocol=proto))
        for other in others:
            for block in pod_blocks(cluster, other, p):
                if p.encapsulation is Encapsulation.NONE:
                    routes.append(Route(block, "eth0", gateway=other.internal_ip, protocol=proto))
                elif p.encapsulation is Encapsulation.IPIP:
                    routes.append(
                        Route(block, p.tunnel_device, gateway=other.internal_ip, protocol=proto, onlink=True)
                    )
                else:
                    routes.append(Route(block, p.tunnel_device, gateway=tunnel_address(block), onlink=True))
        routes += _workload_routes(p, pods)
    elif p.route_source is RouteSource.CILIUM_AGENT:
        router = router_address(node)
        routes.append(Route(_pod_cidr(node), "cilium_host", gateway=router, source=router))
        routes.append(Route(_host(router), "cilium_host", scope="link"))
        for other in others:
            if other.pod_cidr is not None:
                routes.append(Route(other.pod_cidr, "cilium_host", gateway=router, source=router, mtu=p.mtu))
    else:  # the VPC routes pod addresses; the node knows only its own pods
        routes += _workload_routes(p, pods)
    return routes


def _workload_routes(p: CNIProfile, pods: Iterable[Pod]) -> list[Route]:
    return [
        Route(_host(pod.pod_ip), host_veth_name(p, pod.namespace, pod.name), scope="link")
        for pod in pods
        if pod.pod_ip is not None
    ]


# --- the CNI ADD -----------------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class CNIStep:
    """One of the lesson's four steps: what it does, the commands it amounts to, and the
    pod's and node's namespaces right after it."""

    number: int
    title: str
    commands: tuple[str, ...]
    explanation: str
    pod: NetworkNamespace
    node: NetworkNamespace


@dataclasses.dataclass(frozen=True)
class CNIAdd:
    """The CNI ADD for one pod: four steps, then what the pod and the node print."""

    profile: CNIProfile
    pod: Pod
    node: Node
    address: IPv4Interface
    steps: tuple[CNIStep, ...]
    notes: tuple[str, ...]

    @property
    def pod_namespace(self) -> NetworkNamespace:
        return self.steps[-1].pod

    @property
    def node_namespace(self) -> NetworkNamespace:
        return self.steps[-1].node

    @property
    def ip_addr_show(self) -> str:
        """What ``kubectl exec <pod> -- ip addr show eth0`` prints."""
        return self.pod_namespace.ip_addr_show("eth0")

    @property
    def ip_route_show(self) -> str:
        """What ``kubectl exec <pod> -- ip route show`` prints."""
        return self.pod_namespace.ip_route_show()

    @property
    def node_route_show(self) -> str:
        """What ``ip route show`` prints on the pod's node afterwards."""
        return self.node_namespace.ip_route_show()


def _allocate(cluster: Cluster, pod: Pod, node: Node, p: CNIProfile) -> IPv4Address:
    """The pod's IP: the one it has, else the next one the plugin's IPAM hands out.

    Behind a bridge (Flannel) that is host-local's round robin over the node's podCIDR
    (:class:`k8snet_lesson.ipam.HostLocal`, the node's other pods reserved first); Calico
    and Cilium take the lowest free address of the node's range (Calico's block
    allocation). The AWS VPC CNI takes a secondary address of the node's ENI, so the
    lowest free address of the node's VPC subnet (:func:`node_subnet`) past the ones AWS
    reserves; it never uses the cluster's pod network. (The lesson cluster's running
    pods keep the addresses they have, so the one address plan holds under every
    profile; a new pod shows where the AWS VPC CNI really takes its address from.)
    """
    if pod.pod_ip is not None:
        owner = cluster.pod_by_ip(pod.pod_ip)
        if owner is not None and owner.key != pod.key:
            raise InvalidValue(f"pod {pod.key}: IP {pod.pod_ip} already belongs to pod {owner.key}")
        if p.pod_block is PodBlock.NODE_POD_CIDR and pod.pod_ip not in _pod_cidr(node):
            raise InvalidValue(f"pod {pod.key}: IP {pod.pod_ip} is outside node {node.name}'s podCIDR {node.pod_cidr}")
        return pod.pod_ip
    if p.pod_block is PodBlock.ENI:
        subnet = node_subnet(cluster, node)
        taken = {q.pod_ip for q in cluster.pods if q.pod_ip is not None} | {n.internal_ip for n in cluster.nodes}
        # AWS keeps a subnet's first four addresses and its last one.
        first, last = int(subnet.network_address) + VPC_RESERVED, int(subnet.broadcast_address) - 1
        free = next((IPv4Address(a) for a in range(first, last + 1) if IPv4Address(a) not in taken), None)
        if free is None:
            raise ExhaustedError(f"node {node.name}'s VPC subnet {subnet} has no free address for pod {pod.key}")
        return free
    cidr = _pod_cidr(node)
    neighbours = [q for q in cluster.pods_on(node.name) if _networked(q) and q.key != pod.key]
    if p.attachment is Attachment.BRIDGE:
        ipam = HostLocal(cidr)
        for q in neighbours:
            if q.pod_ip in cidr:
                ipam.reserve(q.pod_ip, q.key)
        return ipam.allocate(pod.key)
    taken = {q.pod_ip for q in cluster.pods if q.pod_ip is not None}
    if p.pod_gateway is PodGateway.ROUTER_ADDRESS:
        taken.add(router_address(node))
    for candidate in cidr.hosts():
        if candidate not in taken:
            return candidate
    raise ExhaustedError(f"node {node.name}'s pod range {cidr} has no free address for pod {pod.key}")


def cni_add(cluster: Cluster, pod: Pod | str, cni_name: str | CNIProfile) -> CNIAdd:
    """Run the lesson's four CNI steps for ``pod`` (a Pod or its name) under a profile.

    A pod without an IP gets the lowest free one of its node's range (what host-local
    does). Each step carries the ``ip`` commands it amounts to and the state after it.
    """
    p = profile(cni_name)
    if isinstance(pod, str):
        pod = cluster.pod(pod)
    if pod.host_network:
        raise InvalidValue(f"pod {pod.key} uses hostNetwork: the runtime does not call the CNI plugin for it")
    node = cluster.node_of(pod)
    pod = pod.with_pod_ip(_allocate(cluster, pod, node, p))
    after = cluster.with_pod(pod)
    before_node = node_namespace(after, node.name, p, without=pod)
    final_pod = pod_namespace(after, pod, p)
    final_node = node_namespace(after, node.name, p)
    address = pod_interface(after, pod, p)
    ns = netns_name(pod)
    veth = host_veth_name(p, pod.namespace, pod.name)
    eth0 = final_pod.link("eth0")
    host = final_node.link(veth)

    base_pod = NetworkNamespace(ns, _pod_base_links(p), ())
    pod_links_after_veth = base_pod.links + (eth0,)
    connected = (_connected(address, "eth0"),) if address.network.prefixlen < 31 else ()
    pod_after_veth = NetworkNamespace(ns, pod_links_after_veth, connected)

    # Node state after step 2: the host end exists, up, but not yet attached.
    loose = dataclasses.replace(host, master=None)
    node_after_veth = dataclasses.replace(before_node, links=before_node.links + (loose,))
    # After step 3 everything but the pod's own routes is in place.
    node_attached = final_node

    gateway = _pod_gateway(p, node)
    ipam_lines = _ipam_commands(p, pod, node, address, gateway, ns)
    steps = (
        CNIStep(
            1,
            "Assign the Pod an IP from the Pod CIDR",
            ipam_lines,
            _ipam_text(p, node, address),
            base_pod,
            before_node,
        ),
        CNIStep(
            2,
            "Create the veth pair; one end becomes eth0 in the Pod's network namespace",
            (
                f"ip -n {ns} link add eth0 mtu {p.veth_mtu} type veth peer name {veth} mtu {p.veth_mtu}",
                f"ip -n {ns} link set {veth} netns 1",
                f"ip -n {ns} link set eth0 address {eth0.mac}",
                f"ip -n {ns} addr add {_with_broadcast(address)} dev eth0",
                f"ip -n {ns} link set eth0 up",
                f"ip link set {veth} up",
            ),
            f"The pair is created inside the pod's namespace and the host end ({veth}) moved to the "
            f"node; eth0 keeps index {eth0.index} and points at its peer, index {host.index} on the node "
            f"(eth0@if{host.index}).",
            pod_after_veth,
            node_after_veth,
        ),
        CNIStep(
            3,
            "Connect the host end to the node's network",
            _attach_commands(p, pod, node, veth, address),
            _attach_text(p, veth, address),
            pod_after_veth,
            node_attached,
        ),
        CNIStep(
            4,
            "Set up routing so the Pod can reach others and others can reach it",
            tuple(f"ip -n {ns} route add {route}" for route in _route_add_order(final_pod.routes)),
            _routes_text(p, node, gateway),
            final_pod,
            final_node,
        ),
    )
    return CNIAdd(p, pod, node, address, steps, _notes(p))


def _with_broadcast(address: IPv4Interface) -> str:
    # `ip addr add` sets no broadcast unless told; the plugins' netlink library computes one below /31.
    if address.network.prefixlen < 31:
        return f"{address.with_prefixlen} brd {address.network.broadcast_address}"
    return address.with_prefixlen


def _route_add_order(routes: Iterable[Route]) -> list[Route]:
    # The kernel adds the connected route with the address; of the rest, link routes go
    # first (a gateway must be reachable before a route may use it), the default last.
    added = [r for r in routes if r.protocol is not RouteProtocol.KERNEL]
    return sorted(added, key=lambda r: (r.gateway is not None, -r.destination.prefixlen))


def _ipam_commands(
    p: CNIProfile, pod: Pod, node: Node, address: IPv4Interface, gateway: IPv4Address, ns: str
) -> tuple[str, ...]:
    invoke = (
        f"CNI_COMMAND=ADD CNI_CONTAINERID=<sandbox id> CNI_NETNS=/var/run/netns/{ns} CNI_IFNAME=eth0 "
        f"CNI_ARGS='K8S_POD_NAMESPACE={pod.namespace};K8S_POD_NAME={pod.name}' "
        f"/opt/cni/bin/{p.cni_binary} < {p.cni_config}"
    )
    if p.pod_block is PodBlock.NODE_POD_CIDR and p.attachment is Attachment.BRIDGE:
        reserve = f"# host-local: {address.ip} reserved in /var/lib/cni/networks/cbr0/{address.ip} (range {node.pod_cidr}, gateway {gateway})"
    elif p.pod_block is PodBlock.IPAM_BLOCK:
        reserve = f"# calico-ipam: {address.ip} assigned from block {IPv4Network(f'{address.ip}/{p.block_size}', strict=False)} affine to {node.name}"
    elif p.pod_block is PodBlock.ENI:
        reserve = f"# ipamd: {address.ip} taken from the warm pool of secondary IPs on {node.name}'s ENIs"
    else:
        reserve = f"# cilium-agent IPAM: {address.ip} assigned from {node.pod_cidr}"
    return (invoke, reserve)


def _ipam_text(p: CNIProfile, node: Node, address: IPv4Interface) -> str:
    return f"{p.plugin}'s IPAM ({p.ipam}) gives the pod {address.ip}; nothing is configured yet."


def _attach_commands(p: CNIProfile, pod: Pod, node: Node, veth: str, address: IPv4Interface) -> tuple[str, ...]:
    if p.attachment is Attachment.BRIDGE:
        cidr = _pod_cidr(node)
        return (
            f"ip link add {p.bridge} type bridge  # only for the node's first pod",
            f"ip addr add {_with_broadcast(IPv4Interface(f'{cidr.network_address + 1}/{cidr.prefixlen}'))} dev {p.bridge}",
            f"ip link set {p.bridge} up",
            f"ip link set {veth} master {p.bridge}",
        )
    lines = []
    if p.host_veth_mac is not None:
        lines.append(f"ip link set {veth} address {p.host_veth_mac}")
    if p.pod_gateway is PodGateway.LINK_LOCAL and p.route_source is not RouteSource.VPC:
        lines += [f"sysctl -w net.ipv4.conf.{veth}.proxy_arp=1", f"sysctl -w net.ipv4.neigh.{veth}.proxy_delay=0"]
    if p.route_source is RouteSource.VPC:
        lines.append(f"ip -n {netns_name(pod)} neigh add {LINK_LOCAL_GATEWAY} lladdr {host_veth_mac(pod, p)} dev eth0 nud permanent")
    if p.route_source is RouteSource.CILIUM_AGENT:
        lines.append(f"tc filter add dev {veth} ingress bpf da obj bpf_lxc.o sec cil_from_container")
        return tuple(lines)
    lines.append(f"ip route add {address.ip}/32 dev {veth} scope link")
    return tuple(lines)


def _attach_text(p: CNIProfile, veth: str, address: IPv4Interface) -> str:
    if p.attachment is Attachment.BRIDGE:
        return (
            f"{veth} is enslaved to the {p.bridge} bridge; the pod now shares an L2 segment with the node's "
            f"other pods and with {p.bridge}'s address, its gateway."
        )
    if p.route_source is RouteSource.CILIUM_AGENT:
        return f"No bridge and no per-pod route: Cilium's eBPF program on {veth} delivers to and from the pod."
    return (
        f"No bridge: a /32 route sends {address.ip} into {veth}; the host end answers ARP for the pod's "
        f"gateway (proxy ARP or a static neighbour entry)."
    )


def _routes_text(p: CNIProfile, node: Node, gateway: IPv4Address) -> str:
    inside = f"Inside the pod: default via {gateway}."
    if p.route_source is RouteSource.FLANNELD:
        outside = (
            f"Nothing per pod on other nodes: flanneld already routes {node.pod_cidr} via flannel.1 on "
            f"every other node from {node.name}'s lease."
        )
    elif p.route_source is RouteSource.BIRD:
        outside = "Nothing per pod on other nodes: BIRD already advertises the node's /26 block over BGP."
    elif p.route_source is RouteSource.FELIX:
        outside = "Nothing per pod on other nodes: Felix already routes the node's /26 block via vxlan.calico."
    elif p.route_source is RouteSource.CILIUM_AGENT:
        outside = "Other nodes already map the node's pod CIDR to its tunnel endpoint (ipcache)."
    else:
        outside = "Other nodes need nothing: the VPC routes the secondary address to this node's ENI."
    return f"{inside} {outside}"


def _notes(p: CNIProfile) -> tuple[str, ...]:
    if p.attachment is Attachment.BRIDGE:
        return (
            f"This is {p.plugin}'s output: a /{p.pod_prefix_length} on the node's pod subnet, gateway = the "
            f"{p.bridge} bridge. The lesson's 'inet 10.244.2.14/32' and 'default via 169.254.1.1' are "
            "Calico's way.",
        )
    if p.pod_gateway is PodGateway.LINK_LOCAL:
        return (
            f"This is {p.plugin}'s output, the shape the lesson shows: a /32 and 'default via 169.254.1.1', "
            "a gateway no device holds. The lesson prints 'brd 10.244.2.14' (older netlink) and the inet line before "
            "link/ether; iproute2 prints link/ether first and no brd for a /32.",
        )
    return (f"This is {p.plugin}'s output: a /32 routed to the cilium_host router address.",)


# --- facts about installs and the lesson's table -------------------------------------
@dataclasses.dataclass(frozen=True)
class InstallMethod:
    """A way to install Calico, the IP pool setting it creates, and the profile that behaves so."""

    method: str
    pool_setting: str
    profile: str
    cross_subnet: bool
    source: str


@dataclasses.dataclass(frozen=True)
class TableNote:
    """A footnote to the lesson's plugin table: what it says, what holds, and the source."""

    profile: str
    says: str
    fact: str
    source: str


def _entries(key: str) -> tuple[list[Mapping[str, Any]], str]:
    document, source = _read_data()
    raw = document.get(key)
    if not isinstance(raw, list):
        raise InvalidValue(f"{source}: expected a list under {key!r}")
    return raw, source


@functools.cache
def calico_install_methods() -> tuple[InstallMethod, ...]:
    """How Calico encapsulates, per install method (``data/cni-plugins.yaml``).

    >>> [(m.method, m.profile) for m in calico_install_methods()][:1]
    [('manifest calico.yaml', 'calico-ipip')]
    """
    raw, source = _entries("calico_install_methods")
    out = []
    for number, entry in enumerate(raw, start=1):
        where = f"{source}: calico_install_methods entry {number}"
        method = InstallMethod(_field(entry, "method", where, str), _field(entry, "pool_setting", where, str),
                               _field(entry, "profile", where, str), _field(entry, "cross_subnet", where, bool),
                               _field(entry, "source", where, str))
        if profile(method.profile).plugin != "Calico":
            raise InvalidValue(f"{where}: profile {method.profile!r} is not a Calico profile")
        out.append(method)
    return tuple(out)


@functools.cache
def lesson_table_notes() -> tuple[TableNote, ...]:
    """Footnotes to the lesson's plugin table, each with its source (``data/cni-plugins.yaml``)."""
    raw, source = _entries("lesson_table_notes")
    out = []
    for number, entry in enumerate(raw, start=1):
        where = f"{source}: lesson_table_notes entry {number}"
        note = TableNote(*(_field(entry, key, where, str) for key in ("profile", "says", "fact", "source")))
        p = profile(note.profile)
        if note.says.split(" (")[0] not in " ".join((p.approach, p.notable_features, p.common_in)):
            raise InvalidValue(f"{where}: the lesson's row for {p.plugin} does not say {note.says!r}")
        out.append(note)
    return tuple(out)
