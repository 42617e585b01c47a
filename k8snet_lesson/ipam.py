"""IP address management: node pod CIDRs, pod IPs, Service ClusterIPs, and CIDR plans.

Three allocators hand out the three kinds of address a cluster uses, each the way the
real component does it:

* :class:`CIDRSet` carves ``spec.podCIDR`` blocks for nodes out of ``--cluster-cidr``
  with ``--node-cidr-mask-size``, as kube-controller-manager's range allocator does
  (``pkg/controller/nodeipam/ipam/cidrset``): it keeps a ``nextCandidate`` index, hands
  out the first free block at or after it, moves the index one past the block it gave
  and wraps at the end. A released block is therefore *not* handed out again at once:
  the allocator goes on from where it was and only comes back to the gap after
  wrapping. ``occupy()`` marks blocks that are already assigned (nodes that had a
  podCIDR when the controller started, and the service range, which the range
  allocator filters out of the cluster CIDR when the two overlap).
* :class:`HostLocal` hands out pod IPs from one node's podCIDR as the CNI
  ``host-local`` IPAM plugin does under the ``bridge`` plugin: ``.1`` is the gateway,
  held by the ``cni0`` bridge; the range runs from ``.1`` (skipped, it is the gateway)
  to the address before the broadcast; allocation is round robin from the last
  reserved address plus one, wrapping from the end of the range to its start, so a
  released address comes back only after the whole range has been run through and a
  restarted pod gets a new IP. An explicitly requested address also becomes the last
  reserved one, as in host-local's disk store.
* :class:`ServiceIPRange` hands out ClusterIPs from ``--service-cluster-ip-range`` as
  kube-apiserver's bitmap allocator does (``pkg/registry/core/service/ipallocator``):
  the network and broadcast addresses are never used; ``kubernetes.default`` takes the
  first address and kube-dns conventionally the tenth; the range is split into a lower
  band of ``min(max(16, size/16), 256)`` addresses, preferred for requested (static)
  IPs, and an upper band that dynamic allocation tries first (from a random offset,
  scanning forward and wrapping within the band) before falling back to the lower band.

:func:`plan` checks a set of flags before a cluster is built: capacities (nodes, pods
per node, pods, ClusterIPs) and every overlap between the node, pod and service
networks.

What it simplifies: one address family (IPv4) and one range per allocator (no dual
stack, no multiple ``ClusterCIDR`` objects, no host-local range sets or custom
``rangeStart``/``rangeEnd``/``gateway``); the allocators are in memory, not in etcd or
``/var/lib/cni/networks``. Random choices use Python's :class:`random.Random` seeded
by the caller, so a dynamic ClusterIP is reproducible here but is not the address Go's
``math/rand`` would pick. Go's ``net.ParseCIDR`` silently masks a CIDR with host bits
set (``10.244.1.0/16`` is read as ``10.244.0.0/16``); here it is refused, because it is
almost always a typo.

    >>> nodes = CIDRSet("10.244.0.0/16", 24)
    >>> [str(nodes.allocate_next()) for _ in range(3)]
    ['10.244.0.0/24', '10.244.1.0/24', '10.244.2.0/24']
    >>> node_a = HostLocal("10.244.1.0/24")
    >>> str(node_a.gateway), str(node_a.allocate("web-1")), str(node_a.allocate("web-2"))
    ('10.244.1.1', '10.244.1.2', '10.244.1.3')
    >>> node_a.release("10.244.1.2"); str(node_a.allocate("web-1"))   # a new IP after a restart
    '10.244.1.4'
    >>> services = ServiceIPRange("10.96.0.0/12", seed=1)
    >>> str(services.allocate("10.96.0.1")), str(dns_service_ip("10.96.0.0/12"))
    ('10.96.0.1', '10.96.0.10')
"""

from __future__ import annotations

import dataclasses
import random
from collections.abc import Iterator, Mapping
from ipaddress import IPv4Address, IPv4Network, ip_address, ip_network
from typing import Any

from .cluster import Cluster, Pod, PodPhase
from .errors import ExhaustedError, InvalidValue

__all__ = [
    "KUBELET_DEFAULT_MAX_PODS",
    "MAX_SERVICE_CIDR_BITS",
    "parse_cidr",
    "parse_mask_size",
    "CIDRSet",
    "HostLocal",
    "pod_addresses",
    "ServiceIPRange",
    "static_band_size",
    "kubernetes_service_ip",
    "dns_service_ip",
    "Overlap",
    "Plan",
    "plan",
    "overlaps",
    "allocate_pod_cidrs",
    "allocate_pod_ips",
]

#: kubelet's ``--max-pods`` default, also the most pods per node Kubernetes is tested with.
KUBELET_DEFAULT_MAX_PODS = 110

#: kube-apiserver refuses a ``--service-cluster-ip-range`` with more host bits than this
#: (the allocator's bitmap is stored in etcd), so an IPv4 service CIDR is /12 or smaller.
MAX_SERVICE_CIDR_BITS = 20

# kubeadm refuses a node mask more than this many bits longer than the pod subnet.
_KUBEADM_POD_SUBNET_NODE_MASK_MAX_DIFF = 16

# kubeadm refuses a service subnet with fewer addresses (kube-dns takes the tenth).
_KUBEADM_MINIMUM_ADDRESSES_IN_SERVICE_SUBNET = 10


# --- parsing --------------------------------------------------------------------------


def parse_cidr(value: Any, what: str = "CIDR") -> IPv4Network:
    """An :class:`~ipaddress.IPv4Network` from ``value`` (a network or its text).

    ``what`` names the value in the error (``"cluster CIDR"``, ``"service CIDR"``).

    >>> parse_cidr("10.244.0.0/16", "cluster CIDR")
    IPv4Network('10.244.0.0/16')
    >>> parse_cidr("10.244.0.0/33", "cluster CIDR")
    Traceback (most recent call last):
    ...
    k8snet_lesson.errors.InvalidValue: cluster CIDR '10.244.0.0/33' is not a valid IPv4 CIDR
    >>> parse_cidr("10.244.1.0/16", "cluster CIDR")
    Traceback (most recent call last):
    ...
    k8snet_lesson.errors.InvalidValue: cluster CIDR '10.244.1.0/16' has host bits set (the network is 10.244.0.0/16)
    """
    if isinstance(value, IPv4Network):
        return value
    if not isinstance(value, str):
        raise InvalidValue(f"{what} {value!r} is not a valid IPv4 CIDR")
    text = value.strip()
    if "/" not in text:
        try:
            ip_address(text)
        except ValueError:
            raise InvalidValue(f"{what} {value!r} is not a valid IPv4 CIDR") from None
        raise InvalidValue(f"{what} {value!r} is not a valid IPv4 CIDR (no /prefix length)")
    try:
        network = ip_network(text, strict=False)
    except ValueError:
        raise InvalidValue(f"{what} {value!r} is not a valid IPv4 CIDR") from None
    if not isinstance(network, IPv4Network):
        raise InvalidValue(f"{what} {value!r} is not an IPv4 CIDR (the model is IPv4 only)")
    if network.network_address != ip_address(text.split("/", 1)[0]):
        raise InvalidValue(f"{what} {value!r} has host bits set (the network is {network})")
    return network


def parse_mask_size(value: Any, what: str = "node CIDR mask size") -> int:
    """A prefix length 0-32 from an int or its text (``24`` or ``"/24"``).

    >>> parse_mask_size("/26")
    26
    >>> parse_mask_size("abc")
    Traceback (most recent call last):
    ...
    k8snet_lesson.errors.InvalidValue: node CIDR mask size 'abc' is not a prefix length (0-32)
    """
    size: int | None = None
    if isinstance(value, int) and not isinstance(value, bool):
        size = value
    elif isinstance(value, str):
        text = value.strip().removeprefix("/")
        if text.isascii() and text.isdigit() and len(text) <= 2:
            size = int(text)
    if size is None or not 0 <= size <= 32:
        raise InvalidValue(f"{what} {value!r} is not a prefix length (0-32)")
    return size


def _address(value: Any, what: str) -> IPv4Address:
    if isinstance(value, IPv4Address):
        return value
    try:
        address = ip_address(value.strip() if isinstance(value, str) else value)
    except ValueError:
        raise InvalidValue(f"{what} {value!r} is not an IPv4 address") from None
    if not isinstance(address, IPv4Address):
        raise InvalidValue(f"{what} {value!r} is not an IPv4 address (the model is IPv4 only)")
    return address


def _check_node_mask(cluster_cidr: IPv4Network, node_cidr_mask_size: int) -> None:
    # kubeadm's ValidatePodSubnetNodeMask: "if it has a /24 the node mask must be between
    # 24 and 32"; a node mask equal to the cluster prefix gives exactly one node CIDR.
    if node_cidr_mask_size < cluster_cidr.prefixlen:
        raise InvalidValue(
            f"node CIDR mask size /{node_cidr_mask_size} is shorter than the cluster CIDR "
            f"{cluster_cidr} (/{cluster_cidr.prefixlen}): a node CIDR cannot be larger than "
            f"the range it is carved from"
        )


# --- node pod CIDRs: kube-controller-manager's range allocator --------------------------


class CIDRSet:
    """The node CIDRs of one cluster CIDR, as kube-controller-manager's ``CidrSet``.

    An allocator is state, so this is a small mutable object (the values it returns
    are immutable ``ipaddress`` networks). Blocks are numbered from 0 (the lowest);
    ``allocate_next()`` takes the first free block at or after ``next_candidate`` and
    sets ``next_candidate`` one past it, wrapping; ``release()`` frees a block without
    moving ``next_candidate``, so the freed block is reused only after a wrap.
    ``occupy()`` marks every block that overlaps the given CIDR (also a larger one, such
    as a service range) and does not move ``next_candidate`` either.

    >>> cidrs = CIDRSet("10.244.0.0/16", 24)
    >>> cidrs.max_cidrs
    256
    >>> cidrs.occupy("10.244.1.0/24")
    >>> str(cidrs.allocate_next()), str(cidrs.allocate_next())
    ('10.244.0.0/24', '10.244.2.0/24')
    >>> cidrs.release("10.244.0.0/24"); str(cidrs.allocate_next())
    '10.244.3.0/24'
    """

    def __init__(self, cluster_cidr: Any, node_cidr_mask_size: Any = 24) -> None:
        self._cluster_cidr = parse_cidr(cluster_cidr, "cluster CIDR")
        self._mask = parse_mask_size(node_cidr_mask_size)
        _check_node_mask(self._cluster_cidr, self._mask)
        self._max = 1 << (self._mask - self._cluster_cidr.prefixlen)
        self._block_bits = 32 - self._mask
        self._base = int(self._cluster_cidr.network_address)
        self._used: set[int] = set()
        self._next_candidate = 0

    @property
    def cluster_cidr(self) -> IPv4Network:
        return self._cluster_cidr

    @property
    def node_cidr_mask_size(self) -> int:
        return self._mask

    @property
    def max_cidrs(self) -> int:
        """How many node CIDRs the cluster CIDR holds."""
        return self._max

    @property
    def next_candidate(self) -> int:
        """The index of the block ``allocate_next()`` looks at first."""
        return self._next_candidate

    @property
    def used(self) -> int:
        return len(self._used)

    @property
    def free(self) -> int:
        return self._max - len(self._used)

    @property
    def allocated(self) -> tuple[IPv4Network, ...]:
        """Every block in use (allocated or occupied), lowest first."""
        return tuple(self._block(i) for i in sorted(self._used))

    def __contains__(self, cidr: object) -> bool:
        """Whether the node CIDR ``cidr`` is in use."""
        if not isinstance(cidr, (IPv4Network, str)):
            return False
        network = parse_cidr(cidr, "node CIDR")
        if network.prefixlen != self._mask or not network.subnet_of(self._cluster_cidr):
            return False
        return self._index(network.network_address) in self._used

    def _block(self, index: int) -> IPv4Network:
        return IPv4Network((self._base | (index << self._block_bits), self._mask))

    def _index(self, address: IPv4Address) -> int:
        return (int(address) - self._base) >> self._block_bits

    def _indices(self, cidr: IPv4Network) -> range:
        """The blocks ``cidr`` overlaps (cidrset's getBeginningAndEndIndices)."""
        if not cidr.overlaps(self._cluster_cidr):
            raise InvalidValue(f"CIDR {cidr} is out of the range of cluster CIDR {self._cluster_cidr}")
        first = max(cidr.network_address, self._cluster_cidr.network_address)
        last = min(cidr.broadcast_address, self._cluster_cidr.broadcast_address)
        return range(self._index(first), self._index(last) + 1)

    def _exhausted(self) -> ExhaustedError:
        return ExhaustedError(
            "CIDR allocation failed; there are no remaining CIDRs left to allocate in the "
            f"accepted range: {self._cluster_cidr} with /{self._mask} node CIDRs holds "
            f"{self._max} node{'s' if self._max != 1 else ''}"
        )

    def allocate_next(self) -> IPv4Network:
        """The next free node CIDR, marked used; ExhaustedError when none is left."""
        if len(self._used) >= self._max:
            raise self._exhausted()
        candidate = self._next_candidate
        for _ in range(self._max):
            if candidate not in self._used:
                break
            candidate = (candidate + 1) % self._max
        self._next_candidate = (candidate + 1) % self._max
        self._used.add(candidate)
        return self._block(candidate)

    def occupy(self, cidr: Any) -> None:
        """Mark every node CIDR that ``cidr`` overlaps as used (idempotent)."""
        self._used.update(self._indices(parse_cidr(cidr, "CIDR")))

    def release(self, cidr: Any) -> None:
        """Free every node CIDR that ``cidr`` overlaps (releasing a free one is a no-op)."""
        self._used.difference_update(self._indices(parse_cidr(cidr, "CIDR")))


# --- pod IPs: the CNI host-local IPAM plugin under the bridge plugin -------------------


def pod_addresses(pod_cidr: Any) -> int:
    """How many pod IPs host-local hands out from ``pod_cidr`` with a bridge gateway.

    The network address, the broadcast address and ``.1`` (the ``cni0`` bridge, the
    pods' gateway) are not handed out; host-local refuses a /31 or /32 outright.

    >>> pod_addresses("10.244.1.0/24"), pod_addresses("10.244.1.0/26"), pod_addresses("10.244.1.0/31")
    (253, 61, 0)
    """
    network = parse_cidr(pod_cidr, "pod CIDR")
    if network.prefixlen > 30:
        return 0
    return network.num_addresses - 3


class HostLocal:
    """One node's pod IPs, as ``host-local`` IPAM hands them out behind the bridge plugin.

    Mutable, because IPAM is state (host-local keeps it in files under
    ``/var/lib/cni/networks/<network>``): ``allocated`` maps each address in use to its
    owner (a container ID or pod name) and ``last_reserved_ip`` is the round-robin
    cursor. The range is ``.1`` to the address before the broadcast; ``.1`` is the
    gateway and is never handed out.

    >>> ipam = HostLocal("10.244.2.0/30")
    >>> ipam.capacity, str(ipam.allocate("a"))
    (1, '10.244.2.2')
    >>> ipam.allocate("b")
    Traceback (most recent call last):
    ...
    k8snet_lesson.errors.ExhaustedError: no IP addresses available in range set: 10.244.2.1-10.244.2.2 (10.244.2.0/30 holds 1 pod address)
    """

    def __init__(self, subnet: Any) -> None:
        self._subnet = parse_cidr(subnet, "pod CIDR")
        if self._subnet.prefixlen > 30:
            raise InvalidValue(f"Network {self._subnet} too small to allocate from (host-local needs a /30 or larger)")
        self._start = int(self._subnet.network_address) + 1
        self._end = int(self._subnet.broadcast_address) - 1
        self._gateway = self._start
        self._allocated: dict[int, str] = {}
        self._last_reserved: int | None = None

    @property
    def subnet(self) -> IPv4Network:
        return self._subnet

    @property
    def gateway(self) -> IPv4Address:
        """``.1``: the ``cni0`` bridge's address and every pod's default gateway."""
        return IPv4Address(self._gateway)

    @property
    def range_start(self) -> IPv4Address:
        return IPv4Address(self._start)

    @property
    def range_end(self) -> IPv4Address:
        return IPv4Address(self._end)

    @property
    def capacity(self) -> int:
        """How many pod addresses the range holds (the gateway excluded)."""
        return self._end - self._start  # inclusive range minus the gateway

    @property
    def free(self) -> int:
        return self.capacity - len(self._allocated)

    @property
    def last_reserved_ip(self) -> IPv4Address | None:
        return None if self._last_reserved is None else IPv4Address(self._last_reserved)

    @property
    def allocated(self) -> Mapping[IPv4Address, str]:
        """Address -> owner, lowest address first (a copy)."""
        return {IPv4Address(a): owner for a, owner in sorted(self._allocated.items())}

    def __contains__(self, address: object) -> bool:
        """Whether ``address`` is handed out."""
        try:
            return int(_address(address, "pod IP")) in self._allocated
        except InvalidValue:
            return False

    def _range_text(self) -> str:
        return f"{self.range_start}-{self.range_end}"

    def _candidates(self) -> Iterator[int]:
        """host-local's RangeIter: from last reserved + 1 (or the range start) round the range once."""
        if self._last_reserved is None or not self._start <= self._last_reserved <= self._end:
            first = self._start
        else:
            first = self._last_reserved + 1 if self._last_reserved < self._end else self._start
        size = self._end - self._start + 1
        for step in range(size):
            candidate = self._start + (first - self._start + step) % size
            if candidate != self._gateway:
                yield candidate

    def allocate(self, owner: str = "") -> IPv4Address:
        """The next free address in round-robin order, recorded for ``owner``."""
        for candidate in self._candidates():
            if candidate not in self._allocated:
                self._allocated[candidate] = owner
                self._last_reserved = candidate
                return IPv4Address(candidate)
        raise ExhaustedError(
            f"no IP addresses available in range set: {self._range_text()} "
            f"({self._subnet} holds {self.capacity} pod address{'es' if self.capacity != 1 else ''})"
        )

    def reserve(self, address: Any, owner: str = "") -> IPv4Address:
        """Hand out a requested address (host-local's ``ips`` argument / ``requestedIP``)."""
        requested = _address(address, "requested pod IP")
        value = int(requested)
        if not self._start <= value <= self._end:
            raise InvalidValue(f"requested IP {requested} is not in range set {self._range_text()} ({self._subnet})")
        if value == self._gateway:
            raise InvalidValue(f"requested ip {requested} is subnet's gateway (cni0 on {self._subnet})")
        if value in self._allocated:
            holder = self._allocated[value]
            raise InvalidValue(
                f"requested IP address {requested} is not available in range set {self._range_text()}"
                + (f" (held by {holder})" if holder else "")
            )
        self._allocated[value] = owner
        self._last_reserved = value
        return requested

    def release(self, address: Any) -> None:
        """Free ``address``; freeing an address that is not handed out is a no-op, as in host-local."""
        self._allocated.pop(int(_address(address, "pod IP")), None)

    def owner_of(self, address: Any) -> str | None:
        return self._allocated.get(int(_address(address, "pod IP")))


# --- Service ClusterIPs: kube-apiserver's bitmap allocator ------------------------------


def static_band_size(service_cidr: Any) -> int:
    """How many addresses at the bottom of the range are kept for requested ClusterIPs.

    kube-apiserver's ``calculateRangeOffset``: ``min(max(16, size/16), 256)`` where size
    counts every address of the CIDR; 0 for a range of 16 addresses or fewer.

    >>> static_band_size("10.96.0.0/12"), static_band_size("10.96.0.0/24"), static_band_size("10.96.0.0/28")
    (256, 16, 0)
    """
    size = parse_cidr(service_cidr, "service CIDR").num_addresses
    if size <= 16:
        return 0
    return min(max(16, size // 16), 256)


def _service_cidr(value: Any) -> IPv4Network:
    network = parse_cidr(value, "service CIDR")
    if 32 - network.prefixlen > MAX_SERVICE_CIDR_BITS:
        raise InvalidValue(
            f"service CIDR {network}: specified --service-cluster-ip-range is too large; "
            f"for 32-bit addresses, the mask must be >= {32 - MAX_SERVICE_CIDR_BITS}"
        )
    if network.num_addresses < 8:  # kube-apiserver's ServiceIPRange (pkg/controlplane/services.go)
        raise InvalidValue(f"service CIDR {network}: the service cluster IP range must be at least 8 IP addresses")
    return network


def kubernetes_service_ip(service_cidr: Any) -> IPv4Address:
    """The first address of the range: the ClusterIP of ``default/kubernetes``.

    >>> kubernetes_service_ip("10.96.0.0/12")
    IPv4Address('10.96.0.1')
    """
    network = _service_cidr(service_cidr)
    if network.num_addresses < 3:
        raise InvalidValue(f"service CIDR {network} has no address for the kubernetes Service")
    return network.network_address + 1


def dns_service_ip(service_cidr: Any) -> IPv4Address:
    """The tenth address of the range: kubeadm's ClusterIP for ``kube-system/kube-dns``.

    >>> dns_service_ip("10.96.0.0/12")
    IPv4Address('10.96.0.10')
    """
    network = _service_cidr(service_cidr)
    if network.num_addresses < 12:
        raise InvalidValue(f"service CIDR {network} has no tenth address for kube-dns")
    return network.network_address + 10


class ServiceIPRange:
    """ClusterIPs of one service CIDR, as kube-apiserver's ``ipallocator.Range``.

    Mutable (an allocator is state). Offsets count from the address after the network
    address; the broadcast address is never used. ``allocate(ip)`` takes a requested
    address from anywhere in the range; ``allocate_next()`` picks a random free address
    in the upper band (offsets ``static_band .. max-1``), scanning forward from a random
    start and wrapping within the band, and only when the upper band is full does the
    same in the lower band. ``seed`` (an int or a :class:`random.Random`) makes the
    choice reproducible.

    >>> r = ServiceIPRange("10.96.0.0/24", seed=7)
    >>> r.max, r.static_band, str(r.static_band_last)
    (254, 16, '10.96.0.16')
    >>> r.allocate_next() > r.static_band_last
    True
    """

    def __init__(self, service_cidr: Any, *, seed: int | random.Random | None = None) -> None:
        self._cidr = _service_cidr(service_cidr)
        self._base = int(self._cidr.network_address) + 1
        self._max = max(0, self._cidr.num_addresses - 2)
        self._offset = static_band_size(self._cidr)
        self._random = seed if isinstance(seed, random.Random) else random.Random(seed)
        self._allocated: dict[int, str] = {}

    @property
    def service_cidr(self) -> IPv4Network:
        return self._cidr

    @property
    def max(self) -> int:
        """How many ClusterIPs the range holds (network and broadcast excluded)."""
        return self._max

    @property
    def static_band(self) -> int:
        """How many addresses, from the first, form the lower band for requested IPs."""
        return self._offset

    @property
    def static_band_last(self) -> IPv4Address | None:
        """The last address of the lower band (``None`` when there is no lower band)."""
        return IPv4Address(self._base + self._offset - 1) if self._offset else None

    @property
    def used(self) -> int:
        return len(self._allocated)

    @property
    def free(self) -> int:
        return self._max - len(self._allocated)

    @property
    def allocated(self) -> Mapping[IPv4Address, str]:
        """ClusterIP -> owner (a Service's ``namespace/name``), lowest first (a copy)."""
        return {IPv4Address(self._base + o): owner for o, owner in sorted(self._allocated.items())}

    def has(self, address: Any) -> bool:
        offset = self._offset_of(_address(address, "ClusterIP"))
        return offset is not None and offset in self._allocated

    __contains__ = has

    def _offset_of(self, address: IPv4Address) -> int | None:
        offset = int(address) - self._base
        return offset if 0 <= offset < self._max and address in self._cidr else None

    def _full(self) -> ExhaustedError:
        return ExhaustedError(
            f"range is full: service CIDR {self._cidr} holds {self._max} ClusterIP{'s' if self._max != 1 else ''}"
        )

    def allocate(self, address: Any, owner: str = "") -> IPv4Address:
        """Take the requested ClusterIP (``spec.clusterIP`` set by the user)."""
        requested = _address(address, "ClusterIP")
        offset = self._offset_of(requested)
        if offset is None:
            raise InvalidValue(
                f"failed to allocate IP {requested}: the provided IP ({requested}) is not in the valid range. "
                f"The range of valid IPs is {self._cidr}"
            )
        if offset in self._allocated:
            holder = self._allocated[offset]
            raise InvalidValue(
                f"failed to allocate IP {requested}: provided IP is already allocated"
                + (f" (to {holder})" if holder else "")
            )
        self._allocated[offset] = owner
        return requested

    def allocate_next(self, owner: str = "") -> IPv4Address:
        """A free ClusterIP, upper band first (``spec.clusterIP`` left empty)."""
        if len(self._allocated) >= self._max:
            raise self._full()
        upper = self._max - self._offset
        for first, size in ((self._offset, upper), (0, self._offset)):
            if size <= 0:
                continue
            start = self._random.randrange(size)
            for step in range(size):
                offset = first + (start + step) % size
                if offset not in self._allocated:
                    self._allocated[offset] = owner
                    return IPv4Address(self._base + offset)
        raise self._full()  # pragma: no cover - the count check above makes this unreachable

    def release(self, address: Any) -> None:
        """Free a ClusterIP; releasing a free or out-of-range IP is a no-op, as in kube-apiserver."""
        offset = self._offset_of(_address(address, "ClusterIP"))
        if offset is not None:
            self._allocated.pop(offset, None)


# --- planning ---------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Overlap:
    """Two of the cluster's networks that share addresses.

    >>> print(Overlap("pod network", IPv4Network("10.96.0.0/16"), "service network", IPv4Network("10.96.0.0/12")))
    pod network 10.96.0.0/16 overlaps service network 10.96.0.0/12
    """

    first_name: str
    first: IPv4Network
    second_name: str
    second: IPv4Network

    @property
    def message(self) -> str:
        return f"{self.first_name} {self.first} overlaps {self.second_name} {self.second}"

    def __str__(self) -> str:
        return self.message


def overlaps(networks: Mapping[str, IPv4Network | None]) -> tuple[Overlap, ...]:
    """Every overlapping pair among named networks, in the order given (``None`` skipped).

    >>> [str(o) for o in overlaps({"node network": IPv4Network("10.0.0.0/8"),
    ...                             "pod network": IPv4Network("10.244.0.0/16"),
    ...                             "service network": IPv4Network("10.96.0.0/12")})]
    ['node network 10.0.0.0/8 overlaps pod network 10.244.0.0/16', 'node network 10.0.0.0/8 overlaps service network 10.96.0.0/12']
    """
    named = [(name, network) for name, network in networks.items() if network is not None]
    return tuple(
        Overlap(a_name, a, b_name, b)
        for i, (a_name, a) in enumerate(named)
        for b_name, b in named[i + 1 :]
        if a.overlaps(b)
    )


@dataclasses.dataclass(frozen=True)
class Plan:
    """What a set of network flags gives a cluster: capacities, overlaps and warnings.

    ``node_cidrs`` counts the node CIDRs in the cluster CIDR; ``nodes`` those the range
    allocator can hand out (it filters out blocks the service CIDR overlaps).
    ``pod_addresses_per_node`` is what host-local hands out from one node CIDR;
    ``pods_per_node`` is that capped by ``max_pods``. ``service_ips`` counts usable
    ClusterIPs. ``node_addresses`` is the node network's host count (``None`` if no node
    network was given).
    """

    cluster_cidr: IPv4Network
    node_cidr_mask_size: int
    service_cidr: IPv4Network
    node_network: IPv4Network | None
    max_pods: int
    node_cidrs: int
    nodes: int
    pod_addresses_per_node: int
    pods_per_node: int
    total_pods: int
    service_ips: int
    kubernetes_service_ip: IPv4Address | None
    dns_service_ip: IPv4Address | None
    node_addresses: int | None
    overlaps: tuple[Overlap, ...]
    warnings: tuple[str, ...]

    @property
    def ok(self) -> bool:
        """Whether the three networks are disjoint."""
        return not self.overlaps

    def node_cidr(self, index: int) -> IPv4Network:
        """The ``index``-th node CIDR of the cluster CIDR (0 is the lowest)."""
        if not 0 <= index < self.node_cidrs:
            raise InvalidValue(f"node CIDR index {index} is outside 0-{self.node_cidrs - 1}")
        block_bits = 32 - self.node_cidr_mask_size
        first = int(self.cluster_cidr.network_address) | (index << block_bits)
        return IPv4Network((first, self.node_cidr_mask_size))


def _blocks_overlapping(cluster_cidr: IPv4Network, mask: int, other: IPv4Network) -> int:
    """How many node CIDRs of ``cluster_cidr`` share addresses with ``other``."""
    if not cluster_cidr.overlaps(other):
        return 0
    first = max(int(cluster_cidr.network_address), int(other.network_address))
    last = min(int(cluster_cidr.broadcast_address), int(other.broadcast_address))
    bits = 32 - mask
    return (last >> bits) - (first >> bits) + 1


def _max_pods(value: Any) -> int:
    if isinstance(value, str) and value.strip().isascii() and value.strip().isdigit() and len(value.strip()) <= 9:
        value = int(value.strip())
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise InvalidValue(f"max-pods {value!r} is not a positive whole number")
    return value


def plan(
    *,
    cluster_cidr: Any,
    node_cidr_mask_size: Any = 24,
    service_cidr: Any,
    node_network: Any = None,
    max_pods: Any = KUBELET_DEFAULT_MAX_PODS,
) -> Plan:
    """Check ``--cluster-cidr``, ``--node-cidr-mask-size``, ``--service-cluster-ip-range``
    (and the node network, and kubelet's ``--max-pods``) before building a cluster.

    Bad values raise :class:`~k8snet_lesson.errors.InvalidValue` naming them; overlaps
    are returned, not raised, so all of them can be shown at once.

    >>> p = plan(cluster_cidr="10.244.0.0/16", node_cidr_mask_size=24, service_cidr="10.96.0.0/12")
    >>> p.nodes, p.pods_per_node, p.total_pods, p.service_ips, p.ok
    (256, 110, 28160, 1048574, True)
    >>> [str(o) for o in plan(cluster_cidr="10.96.0.0/16", service_cidr="10.96.0.0/12").overlaps]
    ['pod network 10.96.0.0/16 overlaps service network 10.96.0.0/12']
    """
    cluster = parse_cidr(cluster_cidr, "cluster CIDR")
    mask = parse_mask_size(node_cidr_mask_size)
    _check_node_mask(cluster, mask)
    service = _service_cidr(service_cidr)
    nodes_net = None if node_network is None else parse_cidr(node_network, "node network")
    pods_cap = _max_pods(max_pods)

    node_cidrs = 1 << (mask - cluster.prefixlen)
    filtered = _blocks_overlapping(cluster, mask, service)
    nodes = node_cidrs - filtered
    per_node_addresses = 0 if mask > 30 else (1 << (32 - mask)) - 3
    pods_per_node = min(pods_cap, per_node_addresses)
    service_ips = max(0, service.num_addresses - 2)
    node_addresses = None
    if nodes_net is not None:
        node_addresses = nodes_net.num_addresses - 2 if nodes_net.prefixlen <= 30 else nodes_net.num_addresses

    warnings: list[str] = []
    if filtered:
        warnings.append(
            f"kube-controller-manager filters the service CIDR {service} out of the cluster CIDR: "
            f"{filtered} of {node_cidrs} node CIDRs are never assigned"
        )
    if mask > 30:
        warnings.append(f"a /{mask} node CIDR is too small for host-local: no pod on a node can get an IP")
    elif pods_cap > per_node_addresses:
        # worded for notebook 02, which comes before the CNI plugins (host-local, cni0) are taught
        warnings.append(
            f"max-pods {pods_cap} is more than a /{mask} node CIDR holds: the node's IPAM hands out "
            f"{per_node_addresses} pod addresses (the gateway takes .1), so pod {per_node_addresses + 1} on a node "
            f"fails with 'no IP addresses available in range set'"
        )
    if pods_cap > KUBELET_DEFAULT_MAX_PODS:
        warnings.append(
            f"max-pods {pods_cap} is above kubelet's default of {KUBELET_DEFAULT_MAX_PODS}, "
            f"the most pods per node Kubernetes is tested with"
        )
    if mask - cluster.prefixlen > _KUBEADM_POD_SUBNET_NODE_MASK_MAX_DIFF:
        warnings.append(
            f"kubeadm refuses this: pod subnet mask ({cluster.prefixlen}) and node-mask ({mask}) "
            f"difference is greater than {_KUBEADM_POD_SUBNET_NODE_MASK_MAX_DIFF}"
        )
    if service.num_addresses < _KUBEADM_MINIMUM_ADDRESSES_IN_SERVICE_SUBNET:
        warnings.append(
            f"service CIDR {service} is too small for kubeadm: it needs at least "
            f"{_KUBEADM_MINIMUM_ADDRESSES_IN_SERVICE_SUBNET} addresses (kube-dns takes the tenth)"
        )
    if node_addresses is not None and node_addresses < nodes:
        warnings.append(
            f"node network {nodes_net} has room for {node_addresses} node addresses, "
            f"fewer than the {nodes} node CIDRs: nodes run out first"
        )

    found = overlaps({"node network": nodes_net, "pod network": cluster, "service network": service})
    return Plan(
        cluster_cidr=cluster,
        node_cidr_mask_size=mask,
        service_cidr=service,
        node_network=nodes_net,
        max_pods=pods_cap,
        node_cidrs=node_cidrs,
        nodes=nodes,
        pod_addresses_per_node=per_node_addresses,
        pods_per_node=pods_per_node,
        total_pods=nodes * pods_per_node,
        service_ips=service_ips,
        kubernetes_service_ip=service.network_address + 1 if service_ips >= 1 else None,
        dns_service_ip=service.network_address + 10 if service_ips >= 10 else None,
        node_addresses=node_addresses,
        overlaps=found,
        warnings=tuple(warnings),
    )


# --- whole clusters ---------------------------------------------------------------------


def allocate_pod_cidrs(cluster: Cluster) -> Cluster:
    """``cluster`` with a podCIDR on every node, as the range allocator assigns them.

    Nodes that already have a podCIDR are occupied first (as when kube-controller-manager
    starts), the service CIDR is filtered out, then nodes without one get the next free
    block in the order they are listed (the real controller takes them in the order its
    node informer delivers them). A podCIDR outside the cluster CIDR raises
    InvalidValue naming the node.
    """
    cidrs = CIDRSet(cluster.cluster_cidr, cluster.node_cidr_mask_size)
    if cluster.service_cidr.overlaps(cluster.cluster_cidr):
        cidrs.occupy(cluster.service_cidr)
    for node in cluster.nodes:
        if node.pod_cidr is not None:
            if not node.pod_cidr.overlaps(cluster.cluster_cidr):
                raise InvalidValue(
                    f"node {node.name} podCIDR {node.pod_cidr} is out of the range of cluster CIDR {cluster.cluster_cidr}"
                )
            cidrs.occupy(node.pod_cidr)
    nodes = tuple(node if node.pod_cidr is not None else node.with_(pod_cidr=cidrs.allocate_next()) for node in cluster.nodes)
    return cluster.with_(nodes=nodes)


def allocate_pod_ips(cluster: Cluster) -> Cluster:
    """``cluster`` with an IP on every scheduled pod, as host-local on each node hands them out.

    Per node, the IPs pods already have are reserved first (in pod order; an IP outside
    the node's podCIDR, the gateway, or one held by another pod raises InvalidValue
    naming the pod), then pods without an IP get the next round-robin address. A
    ``hostNetwork`` pod gets its node's InternalIP, as the kubelet reports it; pods in
    phase Succeeded or Failed hold no address (their sandbox is gone) and are left as
    they are, as are pods not scheduled yet.
    """
    ranges: dict[str, HostLocal] = {}

    def ipam_of(node_name: str, pod_key: str) -> HostLocal:
        if node_name not in ranges:
            node = cluster.node(node_name)
            if node.pod_cidr is None:
                raise InvalidValue(f"node {node_name} has no podCIDR: host-local has no range for pod {pod_key}")
            ranges[node_name] = HostLocal(node.pod_cidr)
        return ranges[node_name]

    def holds_address(pod: Pod) -> bool:
        return pod.node_name is not None and not pod.host_network and pod.phase not in (PodPhase.SUCCEEDED, PodPhase.FAILED)

    for pod in cluster.pods:
        if holds_address(pod) and pod.pod_ip is not None:
            try:
                ipam_of(pod.node_name, pod.key).reserve(pod.pod_ip, pod.key)
            except InvalidValue as exc:
                raise InvalidValue(f"pod {pod.key} on node {pod.node_name}: {exc}") from None
    pods = []
    for pod in cluster.pods:
        if pod.host_network and pod.node_name is not None and pod.pod_ip is None:
            pod = pod.with_pod_ip(cluster.node(pod.node_name).internal_ip)
        elif holds_address(pod) and pod.pod_ip is None:
            try:
                pod = pod.with_pod_ip(ipam_of(pod.node_name, pod.key).allocate(pod.key))
            except ExhaustedError as exc:
                raise ExhaustedError(f"pod {pod.key} on node {pod.node_name}: {exc}") from None
        pods.append(pod)
    return cluster.with_(pods=tuple(pods))
