"""kube-proxy in iptables mode (v1.28 and later): Services and EndpointSlices in, rules out.

:func:`generate` writes what kube-proxy's ``syncProxyRules`` hands to
``iptables-restore`` on one node, word for word, in the canonical order kube-proxy's own
unit tests compare in (:func:`canonical_order`). What it models:

- chain names: ``KUBE-SVC-``/``KUBE-SVL-``/``KUBE-EXT-``/``KUBE-FW-`` plus the first 16
  characters of base32(sha256(servicePortName + protocol)); ``KUBE-SEP-`` hashes the
  endpoint ``ip:port`` too (:func:`chain_name`);
- the endpoints of a service port: every IPv4 EndpointSlice of the Service whose port has
  the same name and protocol, de-duplicated by ``ip:port`` (a local copy wins) and ordered
  by that *string*, so ``10.244.2.10:3000`` comes before ``10.244.2.2:3000``;
- which endpoints are usable: ready ones; when there are none, serving-and-terminating
  ones (independently for Cluster and Local traffic policy);
- the ClusterIP rule, its ``! -s <cluster CIDR> -j KUBE-MARK-MASQ`` rule (omitted with no
  cluster CIDR), the probability ladder (rule *i* of *n* matches with ``1/(n-i)``, printed
  ``%0.10f``; the last rule has no match), session affinity (``-m recent``), hairpin
  masquerade and DNAT in each ``KUBE-SEP-`` chain;
- services without usable endpoints (no nat chains; a filter ``REJECT``),
  internalTrafficPolicy Local (``KUBE-SVL-``, ``DROP`` when no local endpoint),
  NodePort, LoadBalancer (``KUBE-FW-`` for loadBalancerSourceRanges, ``KUBE-PROXY-FIREWALL``),
  externalIPs, both externalTrafficPolicies, healthCheckNodePort;
- the fixed chains (KUBE-POSTROUTING, KUBE-MARK-MASQ, KUBE-FORWARD, KUBE-FIREWALL) and the
  nodeports rule that must be the last rule of nat KUBE-SERVICES;
- "large cluster mode": past 1000 endpoints kube-proxy drops the comments of the
  ``KUBE-SEP-`` rules and of the rules that jump to them;
- optionally, the built-in chains and the jump rules kube-proxy (and kubelet, for
  KUBE-FIREWALL) ensure in them, the nfacct counter rules of v1.30+, ``masqueradeAll``,
  and a partial sync that rewrites only changed services' chains;
- ``--random-fully`` on the MASQUERADE rule, as on every node whose iptables has it
  (``random_fully=False`` leaves it out, as kube-proxy's unit tests do).

A nodePort counts only on NodePort and LoadBalancer Services (the only ones the API
lets have one); load balancer IPs are the Service's ``status.loadBalancer`` ingress IPs.

What it simplifies or leaves out: IPv4 only; topology-aware routing (hints,
trafficDistribution) is ignored; nodePortAddresses is "all local addresses"; the local
traffic detector is the default cluster-CIDR one; a partial sync does not delete stale
chains (``-X``); the KUBE-PROXY-CANARY / KUBE-KUBELET-CANARY chains and the mangle table
are not written; the mark is written as iptables-save prints it (``0x4000``), not as
kube-proxy formats it for restore (``0x004000``).

    >>> from k8snet_lesson.cluster import Service, ServicePort, EndpointSlice, Endpoint, EndpointPort
    >>> svc = Service("production", "checkout-api-svc", cluster_ip="10.96.214.88",
    ...               ports=(ServicePort(80, 3000),))
    >>> eps = EndpointSlice("production", "checkout-api-svc-abc12", "checkout-api-svc",
    ...                     tuple(Endpoint((ip,)) for ip in ("10.244.2.14", "10.244.3.7", "10.244.4.2")),
    ...                     (EndpointPort(3000),))
    >>> rules = generate([svc], [eps], node_name="node-eu-west-1a", cluster_cidr="10.244.0.0/16")
    >>> svc_chain = chain_name("KUBE-SVC", "production/checkout-api-svc", "tcp")
    >>> for rule in rules_in(rules, "nat", svc_chain)[1:]:
    ...     print(" ".join(rule.args[3:-2]))
    production/checkout-api-svc -> 10.244.2.14:3000 -m statistic --mode random --probability 0.3333333333
    production/checkout-api-svc -> 10.244.3.7:3000 -m statistic --mode random --probability 0.5000000000
    production/checkout-api-svc -> 10.244.4.2:3000
"""

from __future__ import annotations

import dataclasses
import hashlib
import socket
from bisect import bisect_left
from collections.abc import Iterable, Mapping
from itertools import chain as _chain_iterables, repeat
from ipaddress import IPv4Address, IPv4Network, ip_network
from typing import Any, NamedTuple

from .cluster import (
    Cluster,
    EndpointSlice,
    Protocol,
    Service,
    ServiceType,
    SessionAffinity,
    TrafficPolicy,
    ipv4_address,
)
from ._speed import no_cycle_collection, slot_filler, tuple_maker
from .errors import InvalidValue
from .iptables import Chain, Rule, RuleSet, Table

__all__ = [
    "KUBE_SERVICES",
    "KUBE_EXTERNAL_SERVICES",
    "KUBE_NODEPORTS",
    "KUBE_POSTROUTING",
    "KUBE_MARK_MASQ",
    "KUBE_FORWARD",
    "KUBE_PROXY_FIREWALL",
    "KUBE_FIREWALL",
    "LARGE_CLUSTER_ENDPOINTS_THRESHOLD",
    "LAST_RULE_COMMENT",
    "chain_name",
    "probability",
    "generate",
    "rules_for",
    "canonical_order",
    "rules_in",
    "rules_of_service",
]

# The top-level chains (pkg/proxy/iptables/proxier.go).
KUBE_SERVICES = "KUBE-SERVICES"
KUBE_EXTERNAL_SERVICES = "KUBE-EXTERNAL-SERVICES"
KUBE_NODEPORTS = "KUBE-NODEPORTS"
KUBE_POSTROUTING = "KUBE-POSTROUTING"
KUBE_MARK_MASQ = "KUBE-MARK-MASQ"
KUBE_FORWARD = "KUBE-FORWARD"
KUBE_PROXY_FIREWALL = "KUBE-PROXY-FIREWALL"
KUBE_FIREWALL = "KUBE-FIREWALL"  # kubelet's chain; kube-proxy keeps a copy of its one rule

# Past this many endpoints in total, kube-proxy leaves out the per-endpoint comments.
LARGE_CLUSTER_ENDPOINTS_THRESHOLD = 1000

LAST_RULE_COMMENT = "kubernetes service nodeports; NOTE: this must be the last rule in this chain"

_SERVICE_CHAIN_PREFIXES = ("KUBE-SVC", "KUBE-SVL", "KUBE-EXT", "KUBE-FW", "KUBE-SEP")
_PROTOCOLS = {p.iptables: p for p in Protocol}
_NFACCT_INVALID = "ct_state_invalid_dropped_pkts"
_NFACCT_LOCALHOST_NODEPORTS = "localhost_nps_accepted_pkts"
_LOOPBACK_NET = "127.0.0.0/8"

# base32 (RFC 4648 alphabet, as Go's base32.StdEncoding) of 10-bit groups: two letters each.
_B32 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
_B32_PAIRS = tuple(_B32[i >> 5] + _B32[i & 31] for i in range(1024))


def _hash16(text: str) -> str:
    """The first 16 characters of base32(sha256(text)): the first 80 bits, 10 bits at a time."""
    n = int.from_bytes(hashlib.sha256(text.encode()).digest()[:10], "big")
    t = _B32_PAIRS
    return "".join((t[n >> 70], t[(n >> 60) & 1023], t[(n >> 50) & 1023], t[(n >> 40) & 1023],
                    t[(n >> 30) & 1023], t[(n >> 20) & 1023], t[(n >> 10) & 1023], t[n & 1023]))


def _protocol_word(protocol: Protocol | str) -> str:
    if isinstance(protocol, Protocol):
        return protocol.iptables
    word = str(protocol).lower()
    if word not in _PROTOCOLS:
        raise InvalidValue(f"protocol {protocol!r} is not one of TCP, UDP, SCTP")
    return word


def chain_name(prefix: str, service_port_name: str, protocol: Protocol | str, endpoint: str | None = None) -> str:
    """kube-proxy's name for a service port's chain, or (``KUBE-SEP``) for one endpoint's.

    ``service_port_name`` is ``namespace/name:portname`` (``namespace/name`` when the port
    has no name); ``endpoint`` is ``ip:port``. The prefix may be given with or without its
    trailing dash.

    >>> chain_name("KUBE-SVC", "ns1/svc1:p80", "tcp")
    'KUBE-SVC-XPGD46QRK7WJZT7O'
    >>> chain_name("KUBE-SVC-", "default/kubernetes:https", Protocol.TCP)
    'KUBE-SVC-NPX46M4PTMTKRN6Y'
    >>> chain_name("KUBE-SEP", "ns1/svc1", "tcp", "10.0.1.1:80")
    'KUBE-SEP-3JOIVZTXZZRGORX4'
    """
    stem = prefix[:-1] if prefix.endswith("-") else prefix
    if stem not in _SERVICE_CHAIN_PREFIXES:
        raise InvalidValue(f"chain prefix {prefix!r} is not one of {', '.join(_SERVICE_CHAIN_PREFIXES)}")
    word = _protocol_word(protocol)
    if stem == "KUBE-SEP":
        if not endpoint:
            raise InvalidValue("a KUBE-SEP chain name needs the endpoint (ip:port)")
        return f"KUBE-SEP-{_hash16(service_port_name + word + endpoint)}"
    if endpoint is not None:
        raise InvalidValue(f"only KUBE-SEP chain names hash an endpoint, not {stem}")
    return f"{stem}-{_hash16(service_port_name + word)}"


def probability(n: int) -> str:
    """The ``--probability`` word of the rule that picks one of ``n`` remaining endpoints.

    >>> probability(3), probability(2)
    ('0.3333333333', '0.5000000000')
    """
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise InvalidValue(f"number of endpoints {n!r} must be a positive integer")
    return "%0.10f" % (1.0 / n)


# --- inputs ------------------------------------------------------------------



def _cidr(value: Any) -> IPv4Network:
    if isinstance(value, IPv4Network):
        return value
    try:
        network = ip_network(str(value).strip(), strict=False)
    except ValueError:
        raise InvalidValue(f"cluster CIDR {value!r} is not a CIDR such as 10.244.0.0/16") from None
    if not isinstance(network, IPv4Network):
        raise InvalidValue(f"cluster CIDR {value!r} is not an IPv4 CIDR (the model is IPv4 only)")
    return network


def _mark(value: Any) -> str:
    try:
        number = value if isinstance(value, int) and not isinstance(value, bool) else int(str(value), 16)
    except ValueError:
        raise InvalidValue(f"masquerade mark {value!r} is not a hexadecimal mark such as 0x4000") from None
    if not 0 < number < 1 << 32:
        raise InvalidValue(f"masquerade mark {value!r} is not a 32-bit mark")
    return f"{number:#x}"


def _externally_accessible_type(service: Service) -> bool:
    """``apiservice.ExternallyAccessible``: NodePort, LoadBalancer, or ClusterIP with externalIPs."""
    return service.type in (ServiceType.NODE_PORT, ServiceType.LOAD_BALANCER) or (
        service.type is ServiceType.CLUSTER_IP and bool(service.external_ips)
    )


class _ProxyEndpoint(NamedTuple):
    """An endpoint as kube-proxy's endpointsMap holds it (``BaseEndpointInfo``), for one service port.

    A named tuple, not a dataclass: a cluster at Kubernetes' limits has 150,000 of them
    per sync, and the nftables generator reads the same ones.
    """

    ip_port: str  # "10.0.1.5:3000", as ``String()`` gives it: the KUBE-SEP hash and the DNAT target
    ip: str
    local: bool  # on this node (``IsLocal``)
    ready: bool
    serving: bool
    terminating: bool


_new_endpoint = tuple_maker(_ProxyEndpoint)  # _ProxyEndpoint(*fields), see _speed
_inet_ntoa = socket.inet_ntoa


_rule = slot_filler(Rule, ("chain", "args"))  # Rule(chain, args)
_user_chain = slot_filler(Chain, ("name",))  # Chain(name): a user chain, policy "-"


def _endpoints(slices: list[EndpointSlice], port_name: str, protocol: Protocol,
               node_name: str) -> list[_ProxyEndpoint]:
    """The endpoints of one service port, de-duplicated by ``ip:port`` and sorted by that string."""
    found: dict[str, _ProxyEndpoint] = {}
    on_a_node = bool(node_name)
    for endpoint_slice in slices:
        for slice_port in endpoint_slice.ports:
            number = slice_port.port
            if slice_port.name != port_name or slice_port.protocol is not protocol or not number:
                continue
            for endpoint in endpoint_slice.endpoints:
                ip = _inet_ntoa(endpoint.addresses[0].packed)  # str(), at C speed
                text = f"{ip}:{number}"
                local = on_a_node and endpoint.node_name == node_name
                if not local and text in found:
                    continue  # the first copy wins, unless a later one is on this node
                conditions = endpoint.conditions
                found[text] = _new_endpoint((text, ip, local, conditions.ready is not False,
                                            conditions.serving is not False, conditions.terminating is True))
    return [found[text] for text in sorted(found)]


def _categorize(endpoints: list[_ProxyEndpoint], uses_cluster: bool,
                uses_local: bool) -> tuple[list[_ProxyEndpoint], list[_ProxyEndpoint], list[_ProxyEndpoint], bool]:
    """``proxy.CategorizeEndpoints`` without topology: (cluster, local, reachable, has any usable)."""
    cluster: list[_ProxyEndpoint] = []
    local: list[_ProxyEndpoint] = []
    has_any = False
    if uses_cluster:
        cluster = [e for e in endpoints if e.ready]
        if not cluster:  # no ready endpoint anywhere: fall back to serving, terminating ones
            cluster = [e for e in endpoints if e.serving and e.terminating]
        has_any = bool(cluster)
    if not uses_local:
        return cluster, local, cluster, has_any
    local_ready = local_terminating = False
    for e in endpoints:
        if e.ready:
            has_any = True
            local_ready = local_ready or e.local
        elif e.serving and e.terminating:
            has_any = True
            local_terminating = local_terminating or e.local
    if local_ready:
        local = [e for e in endpoints if e.local and e.ready]
    elif local_terminating:
        local = [e for e in endpoints if e.local and e.serving and e.terminating]
    if not uses_cluster:
        return cluster, local, local, has_any
    if not local_terminating or local_ready:
        return cluster, local, cluster, has_any  # cluster already holds every local ready endpoint
    merged = {e.ip_port: e for e in cluster}
    merged.update((e.ip_port, e) for e in local)
    return cluster, local, [merged[k] for k in sorted(merged)], has_any


# --- generation ----------------------------------------------------------------


def generate(
    services: Iterable[Service],
    endpoint_slices: Iterable[EndpointSlice],
    *,
    node_name: str,
    node_ip: Any = None,
    cluster_cidr: Any = None,
    masquerade_mark: Any = "0x4000",
    localhost_nodeports: bool = True,
    include_builtin: bool = False,
    masquerade_all: bool = False,
    random_fully: bool = True,
    nfacct: bool = False,
    changed_services: Iterable[str] | None = None,
) -> RuleSet:
    """The rules kube-proxy on node ``node_name`` writes for these Services and EndpointSlices.

    ``node_ip`` only matters for loadBalancerSourceRanges that contain it (kube-proxy then
    also accepts traffic from the LB IP itself). ``cluster_cidr`` is the local traffic
    detector's range: without it there is no masquerade rule for off-cluster sources.
    ``localhost_nodeports=False`` is ``--iptables-localhost-nodeports=false``.
    ``include_builtin`` adds the built-in chains and the jump rules into them, so the set
    is a node's whole filter and nat tables. ``nfacct`` adds the counter rules of
    v1.30+ kube-proxy. ``random_fully`` is the ``--random-fully`` kube-proxy adds to its
    MASQUERADE rule when the node's iptables supports it (1.6.2 and later, every supported
    distribution; pkg/proxy/iptables/proxier.go checks ``HasRandomFully()``), so it is on
    by default; ``random_fully=False`` is what kube-proxy's unit tests expect, their fake
    iptables lacking it. ``masquerade_all`` is ``--masquerade-all``.
    ``changed_services`` (``namespace/name`` keys) makes a partial sync: the top-level
    chains in full, but the per-service chains only of those services, so the result
    jumps to chains it does not declare, as kube-proxy's own partial restore input does.
    """
    with no_cycle_collection():  # see _speed
        return _generate(services, endpoint_slices, node_name=node_name, node_ip=node_ip, cluster_cidr=cluster_cidr,
                         masquerade_mark=masquerade_mark, localhost_nodeports=localhost_nodeports,
                         include_builtin=include_builtin, masquerade_all=masquerade_all, random_fully=random_fully,
                         nfacct=nfacct, changed_services=changed_services)


def _generate(services: Iterable[Service], endpoint_slices: Iterable[EndpointSlice], *, node_name: str, node_ip: Any,
              cluster_cidr: Any, masquerade_mark: Any, localhost_nodeports: bool, include_builtin: bool,
              masquerade_all: bool, random_fully: bool, nfacct: bool, changed_services: Iterable[str] | None) -> RuleSet:
    node_name = str(node_name or "")
    node_address = None if node_ip is None else ipv4_address(node_ip, "node IP")
    cidr = None if cluster_cidr is None else str(_cidr(cluster_cidr))
    mark = _mark(masquerade_mark)
    changed = None if changed_services is None else frozenset(changed_services)

    slices_by_service: dict[tuple[str, str], list[EndpointSlice]] = {}
    for endpoint_slice in endpoint_slices:
        if endpoint_slice.address_type == "IPv4":
            slices_by_service.setdefault((endpoint_slice.namespace, endpoint_slice.service_name), []).append(endpoint_slice)

    # kube-proxy walks a map; the canonical order sorts by service name, so walk in that order.
    ports: list[tuple[Service, Any, list[_ProxyEndpoint]]] = []
    seen: set[str] = set()
    for service in sorted(services, key=lambda s: f"{s.namespace}/{s.name}"):
        key = service.key
        if key in seen:
            raise InvalidValue(f"service {key} is given twice")
        seen.add(key)
        if service.cluster_ip is None or service.type is ServiceType.EXTERNAL_NAME:
            continue  # headless and ExternalName services get no rules
        slices = slices_by_service.get((service.namespace, service.name), [])
        port_keys: set[tuple[str, Protocol]] = set()
        for port in service.ports:
            if (port.name, port.protocol) in port_keys:
                raise InvalidValue(f"service {key} has two {port.protocol.value} ports named {port.name!r}")
            port_keys.add((port.name, port.protocol))
            ports.append((service, port, _endpoints(slices, port.name, port.protocol, node_name)))

    large_cluster = sum(len(e) for _, _, e in ports) > LARGE_CLUSTER_ENDPOINTS_THRESHOLD
    writer = _Writer(mark=mark, cidr=cidr, masquerade_all=masquerade_all, large_cluster=large_cluster,
                     node_ip=node_address, nfacct=nfacct, localhost_nodeports=localhost_nodeports)
    for service, port, endpoints in ports:
        writer.service_port(service, port, endpoints, skip_chains=changed is not None and service.key not in changed)
    return writer.ruleset(include_builtin=include_builtin, random_fully=random_fully)


@dataclasses.dataclass(slots=True)
class _ServicePort:
    """One service port as syncProxyRules sees it: its chains, what it captures, where it sends.

    Worked out once (``of``) from the Service, the port and its endpoints, in the words of
    proxier.go (``hasEndpoints``, ``usesClusterPolicyChain``, ``internalTrafficChain``...);
    the writer's steps read it.
    """

    service: Service
    name: str  # "namespace/name:port"
    match: tuple[str, ...]  # "-m tcp -p tcp"
    port_word: str
    cluster_ip: str
    hash_text: str
    svc_chain: str
    svl_chain: str
    ext_chain: str
    fw_chain: str
    node_port: int | None
    external_ips: list[str]
    lb_ips: list[str]
    external_local: bool
    health_check_port: int | None
    cluster_eps: list[_ProxyEndpoint]
    local_eps: list[_ProxyEndpoint]
    reachable: list[_ProxyEndpoint]
    has_endpoints: bool
    uses_cluster_chain: bool
    uses_local_chain: bool
    internal_chain: str
    has_internal: bool
    external_policy_chain: str
    has_external: bool
    uses_ext_chain: bool
    uses_fw_chain: bool
    lb_chain: str
    internal_target: str
    internal_comment: str
    external_target: str
    external_comment: str

    @classmethod
    def of(cls, service: Service, port: Any, endpoints: list[_ProxyEndpoint]) -> _ServicePort:
        name = service.port_name(port)
        protocol = port.protocol.iptables
        hash_text = name + protocol
        suffix = _hash16(hash_text)
        svc_chain, svl_chain = "KUBE-SVC-" + suffix, "KUBE-SVL-" + suffix
        node_port = port.node_port if service.type in (ServiceType.NODE_PORT, ServiceType.LOAD_BALANCER) else None
        external_ips = [str(a) for a in service.external_ips]
        lb_ips = [str(a) for a in service.load_balancer_ips]
        externally_accessible = bool(node_port) or bool(lb_ips) or bool(external_ips)
        external_local = (_externally_accessible_type(service)
                          and service.external_traffic_policy is TrafficPolicy.LOCAL)
        internal_local = service.internal_traffic_policy is TrafficPolicy.LOCAL
        uses_cluster = not internal_local or externally_accessible
        uses_local = internal_local or (external_local and externally_accessible)
        cluster_eps, local_eps, reachable, has_endpoints = _categorize(endpoints, uses_cluster, uses_local)
        has_internal = has_endpoints and (not internal_local or bool(local_eps))
        has_external = has_endpoints and (not external_local or bool(local_eps))
        uses_fw_chain = has_endpoints and bool(lb_ips) and bool(service.load_balancer_source_ranges)
        if not has_endpoints:
            internal_target = external_target = "REJECT"
            internal_comment = external_comment = f"{name} has no endpoints"
        else:
            no_local = "DROP", f"{name} has no local endpoints"
            internal_target, internal_comment = ("", "") if has_internal else no_local
            external_target, external_comment = ("", "") if has_external else no_local
        return cls(
            service=service, name=name, match=("-m", protocol, "-p", protocol), port_word=str(port.port),
            cluster_ip=str(service.cluster_ip), hash_text=hash_text, svc_chain=svc_chain, svl_chain=svl_chain,
            ext_chain="KUBE-EXT-" + suffix, fw_chain="KUBE-FW-" + suffix, node_port=node_port,
            external_ips=external_ips, lb_ips=lb_ips, external_local=external_local,
            health_check_port=(service.health_check_node_port
                               if service.type is ServiceType.LOAD_BALANCER and external_local else None),
            cluster_eps=cluster_eps, local_eps=local_eps, reachable=reachable, has_endpoints=has_endpoints,
            uses_cluster_chain=bool(cluster_eps) and uses_cluster, uses_local_chain=bool(local_eps) and uses_local,
            internal_chain=svl_chain if internal_local else svc_chain, has_internal=has_internal,
            external_policy_chain=svl_chain if external_local else svc_chain, has_external=has_external,
            uses_ext_chain=has_endpoints and externally_accessible, uses_fw_chain=uses_fw_chain,
            lb_chain="KUBE-FW-" + suffix if uses_fw_chain else "KUBE-EXT-" + suffix,
            internal_target=internal_target, internal_comment=internal_comment,
            external_target=external_target, external_comment=external_comment,
        )


class _Writer:
    """Collects rules chain by chain, the way syncProxyRules fills its four line buffers."""

    def __init__(self, *, mark: str, cidr: str | None, masquerade_all: bool, large_cluster: bool,
                 node_ip: IPv4Address | None, nfacct: bool, localhost_nodeports: bool) -> None:
        self.mark = mark
        self.cidr = cidr
        self.masquerade_all = masquerade_all
        self.large_cluster = large_cluster
        self.node_ip = node_ip
        self.nfacct = nfacct
        self.localhost_nodeports = localhost_nodeports
        self.filter_chains = [KUBE_SERVICES, KUBE_EXTERNAL_SERVICES, KUBE_FORWARD, KUBE_NODEPORTS, KUBE_PROXY_FIREWALL]
        self.nat_chains = [KUBE_SERVICES, KUBE_NODEPORTS, KUBE_POSTROUTING, KUBE_MARK_MASQ]
        self.filter: dict[str, list[Rule]] = {}
        self.nat: dict[str, list[Rule]] = {}
        self.ladders: dict[int, tuple[tuple[str, ...], ...]] = {}

    def service_port(self, service: Service, port: Any, endpoints: list[_ProxyEndpoint], *, skip_chains: bool) -> None:
        """One service port's rules, part by part in the order proxier.go's syncProxyRules writes them."""
        port = _ServicePort.of(service, port, endpoints)
        self._capture_cluster_ip(port)
        self._capture_external_ips(port)
        self._capture_load_balancer_ips(port)
        self._capture_node_port(port)
        self._accept_health_check_node_port(port)
        if skip_chains:  # partial sync: this service's own chains are unchanged
            return
        self._masquerade_internal_traffic(port)
        self._external_chain(port)
        self._firewall_chain(port)
        targets = self._service_chains(port)
        self._endpoint_chains(port, targets)

    def _capture_cluster_ip(self, port: _ServicePort) -> None:
        if port.has_internal:
            _add(self.nat, KUBE_SERVICES, ("-m", "comment", "--comment", f"{port.name} cluster IP", *port.match,
                                           "-d", port.cluster_ip, "--dport", port.port_word, "-j", port.internal_chain))
        else:
            _add(self.filter, KUBE_SERVICES, ("-m", "comment", "--comment", port.internal_comment, *port.match,
                                              "-d", port.cluster_ip, "--dport", port.port_word, "-j", port.internal_target))

    def _capture_external_ips(self, port: _ServicePort) -> None:
        for address in port.external_ips:
            if port.has_endpoints:
                _add(self.nat, KUBE_SERVICES, ("-m", "comment", "--comment", f"{port.name} external IP", *port.match,
                                               "-d", address, "--dport", port.port_word, "-j", port.ext_chain))
            if not port.has_external:
                self._reject_external(port, (*port.match, "-d", address, "--dport", port.port_word))

    def _capture_load_balancer_ips(self, port: _ServicePort) -> None:
        for address in port.lb_ips:
            if port.has_endpoints:
                _add(self.nat, KUBE_SERVICES, ("-m", "comment", "--comment", f"{port.name} loadbalancer IP", *port.match,
                                               "-d", address, "--dport", port.port_word, "-j", port.lb_chain))
            if port.uses_fw_chain:
                _add(self.filter, KUBE_PROXY_FIREWALL, ("-m", "comment", "--comment",
                                                        f"{port.name} traffic not accepted by {port.fw_chain}", *port.match,
                                                        "-d", address, "--dport", port.port_word, "-j", "DROP"))
        if not port.has_external:
            for address in port.lb_ips:
                self._reject_external(port, (*port.match, "-d", address, "--dport", port.port_word))

    def _reject_external(self, port: _ServicePort, words: tuple[str, ...]) -> None:
        """REJECT (no endpoints) or DROP (no local endpoints) external traffic in KUBE-EXTERNAL-SERVICES."""
        _add(self.filter, KUBE_EXTERNAL_SERVICES,
             ("-m", "comment", "--comment", port.external_comment, *words, "-j", port.external_target))

    def _capture_node_port(self, port: _ServicePort) -> None:
        if not port.node_port:
            return
        node_port_word = str(port.node_port)
        if port.has_endpoints:
            if self.nfacct and self.localhost_nodeports:
                _add(self.nat, KUBE_NODEPORTS, ("-m", "comment", "--comment", port.name, *port.match, "-d", _LOOPBACK_NET,
                                                "--dport", node_port_word, "-m", "nfacct", "--nfacct-name",
                                                _NFACCT_LOCALHOST_NODEPORTS, "-j", port.ext_chain))
            _add(self.nat, KUBE_NODEPORTS, ("-m", "comment", "--comment", port.name, *port.match,
                                            "--dport", node_port_word, "-j", port.ext_chain))
        if not port.has_external:
            self._reject_external(port, ("-m", "addrtype", "--dst-type", "LOCAL", *port.match, "--dport", node_port_word))

    def _accept_health_check_node_port(self, port: _ServicePort) -> None:
        """Accept the health check node port, whether or not this node has local endpoints."""
        if port.health_check_port:
            _add(self.filter, KUBE_NODEPORTS, ("-m", "comment", "--comment", f"{port.name} health check node port",
                                               "-m", "tcp", "-p", "tcp", "--dport", str(port.health_check_port),
                                               "-j", "ACCEPT"))

    def _masquerade_internal_traffic(self, port: _ServicePort) -> None:
        """Internal traffic: masquerade what does not come from a pod."""
        if not port.has_internal:
            return
        head = ("-m", "comment", "--comment", f"{port.name} cluster IP", *port.match,
                "-d", port.cluster_ip, "--dport", port.port_word)
        if self.masquerade_all:
            _add(self.nat, port.internal_chain, (*head, "-j", KUBE_MARK_MASQ))
        elif self.cidr is not None:
            _add(self.nat, port.internal_chain, (*head, "!", "-s", self.cidr, "-j", KUBE_MARK_MASQ))

    def _external_chain(self, port: _ServicePort) -> None:
        """KUBE-EXT-: everything captured for NodePort, LB and external IPs."""
        if not port.uses_ext_chain:
            return
        nat, name, ext_chain = self.nat, port.name, port.ext_chain
        self.nat_chains.append(ext_chain)
        if not port.external_local:
            _add(nat, ext_chain, ("-m", "comment", "--comment",
                                  f"masquerade traffic for {name} external destinations", "-j", KUBE_MARK_MASQ))
        else:
            if self.cidr is not None:
                _add(nat, ext_chain, ("-m", "comment", "--comment", f"pod traffic for {name} external destinations",
                                      "-s", self.cidr, "-j", port.svc_chain))
            _add(nat, ext_chain, ("-m", "comment", "--comment",
                                  f"masquerade LOCAL traffic for {name} external destinations",
                                  "-m", "addrtype", "--src-type", "LOCAL", "-j", KUBE_MARK_MASQ))
            _add(nat, ext_chain, ("-m", "comment", "--comment",
                                  f"route LOCAL traffic for {name} external destinations",
                                  "-m", "addrtype", "--src-type", "LOCAL", "-j", port.svc_chain))
        if port.has_external:
            _add(nat, ext_chain, ("-j", port.external_policy_chain))

    def _firewall_chain(self, port: _ServicePort) -> None:
        """KUBE-FW-: the loadBalancerSourceRanges firewall."""
        if not port.uses_fw_chain:
            return
        nat, fw_chain = self.nat, port.fw_chain
        self.nat_chains.append(fw_chain)
        head = ("-m", "comment", "--comment", f"{port.name} loadbalancer IP")
        allow_from_node = False
        for source in port.service.load_balancer_source_ranges:
            _add(nat, fw_chain, (*head, "-s", str(source), "-j", port.ext_chain))
            allow_from_node = allow_from_node or (self.node_ip is not None and self.node_ip in source.network)
        if allow_from_node:
            for address in port.lb_ips:
                _add(nat, fw_chain, (*head, "-s", address, "-j", port.ext_chain))
        _add(nat, fw_chain, ("-m", "comment", "--comment",
                             f"other traffic to {port.name} will be dropped by KUBE-PROXY-FIREWALL"))

    def _service_chains(self, port: _ServicePort) -> list[tuple[_ProxyEndpoint, str]]:
        """KUBE-SVC- and KUBE-SVL-: affinity and the probability ladder; gives (endpoint, KUBE-SEP chain)."""
        service = port.service
        affinity = service.session_affinity is SessionAffinity.CLIENT_IP
        seconds = str(service.session_affinity_timeout)
        # (endpoint, its KUBE-SEP chain) for every endpoint this node can send to.
        targets = [(e, "KUBE-SEP-" + _hash16(port.hash_text + e.ip_port)) for e in port.reachable]
        if port.uses_cluster_chain:
            self.nat_chains.append(port.svc_chain)
            self._endpoint_rules(port.name, port.svc_chain, _targets_of(port.cluster_eps, port.reachable, targets),
                                 affinity, seconds)
        if port.uses_local_chain:
            self.nat_chains.append(port.svl_chain)
            self._endpoint_rules(port.name, port.svl_chain, _targets_of(port.local_eps, port.reachable, targets),
                                 affinity, seconds)
        return targets

    def _endpoint_chains(self, port: _ServicePort, targets: list[tuple[_ProxyEndpoint, str]]) -> None:
        """One KUBE-SEP- chain per endpoint: masquerade hairpin traffic, then DNAT."""
        nat, chains, rule = self.nat, self.nat_chains, _rule
        affinity = port.service.session_affinity is SessionAffinity.CLIENT_IP
        comment = () if self.large_cluster else ("-m", "comment", "--comment", port.name)
        dnat = port.match + ("-j", "DNAT", "--to-destination")
        for e, sep in targets:
            chains.append(sep)
            recent = comment + ("-m", "recent", "--name", sep, "--set") if affinity else comment
            nat[sep] = [rule(sep, comment + ("-s", e.ip, "-j", KUBE_MARK_MASQ)),
                        rule(sep, recent + dnat + (e.ip_port,))]

    def _endpoint_rules(self, name: str, chain: str, targets: list[tuple[_ProxyEndpoint, str]], affinity: bool,
                        seconds: str) -> None:
        """``writeServiceToEndpointRules``: affinity checks, then the probability ladder."""
        rules = self.nat.setdefault(chain, [])
        append = rules.append
        rule = _rule
        large = self.large_cluster
        if affinity:
            for e, sep in targets:
                comment = () if large else ("-m", "comment", "--comment", f"{name} -> {e.ip_port}")
                append(rule(chain, comment + ("-m", "recent", "--name", sep, "--rcheck", "--seconds", seconds,
                                              "--reap", "-j", sep)))
        n = len(targets)
        ladder = self._ladder(n)
        for i, (e, sep) in enumerate(targets):
            comment = () if large else ("-m", "comment", "--comment", f"{name} -> {e.ip_port}")
            append(rule(chain, comment + ladder[i] + (sep,)))

    def _ladder(self, n: int) -> tuple[tuple[str, ...], ...]:
        """The match words of rules 0..n-1 of a chain of n endpoints (the last has none)."""
        ladders = self.ladders
        ladder = ladders.get(n)
        if ladder is None:
            ladder = ladders[n] = tuple(
                ("-m", "statistic", "--mode", "random", "--probability", "%0.10f" % (1.0 / (n - i)), "-j")
                for i in range(n - 1)) + (("-j",),)
        return ladder

    def ruleset(self, *, include_builtin: bool, random_fully: bool) -> RuleSet:
        mark = self.mark
        nat, filter_ = self.nat, self.filter
        masquerade = ("-m", "comment", "--comment", "kubernetes service traffic requiring SNAT", "-j", "MASQUERADE")
        nat[KUBE_POSTROUTING] = [
            Rule(KUBE_POSTROUTING, ("-m", "mark", "!", "--mark", f"{mark}/{mark}", "-j", "RETURN")),
            Rule(KUBE_POSTROUTING, ("-j", "MARK", "--xor-mark", mark)),
            Rule(KUBE_POSTROUTING, (*masquerade, "--random-fully") if random_fully else masquerade),
        ]
        nat[KUBE_MARK_MASQ] = [Rule(KUBE_MARK_MASQ, ("-j", "MARK", "--or-mark", mark))]
        if self.localhost_nodeports:
            # route_localnet opens a hole (https://issue.k8s.io/90259); this rule closes it.
            self.filter_chains.append(KUBE_FIREWALL)
            filter_[KUBE_FIREWALL] = [Rule(KUBE_FIREWALL, (
                "-m", "comment", "--comment", "block incoming localnet connections",
                "-d", _LOOPBACK_NET, "!", "-s", _LOOPBACK_NET,
                "-m", "conntrack", "!", "--ctstate", "RELATED,ESTABLISHED,DNAT", "-j", "DROP"))]
        # Tail call to the node ports: it must stay after every service portal rule.
        destinations = ("-m", "addrtype", "--dst-type", "LOCAL")
        if not self.localhost_nodeports:
            destinations += ("!", "-d", _LOOPBACK_NET)
        _add(nat, KUBE_SERVICES, ("-m", "comment", "--comment", LAST_RULE_COMMENT, *destinations, "-j", KUBE_NODEPORTS))
        invalid = ("-m", "conntrack", "--ctstate", "INVALID")
        if self.nfacct:
            invalid += ("-m", "nfacct", "--nfacct-name", _NFACCT_INVALID)
        filter_[KUBE_FORWARD] = [
            Rule(KUBE_FORWARD, (*invalid, "-j", "DROP")),
            Rule(KUBE_FORWARD, ("-m", "comment", "--comment", "kubernetes forwarding rules",
                                "-m", "mark", "--mark", f"{mark}/{mark}", "-j", "ACCEPT")),
            Rule(KUBE_FORWARD, ("-m", "comment", "--comment", "kubernetes forwarding conntrack rule",
                                "-m", "conntrack", "--ctstate", "RELATED,ESTABLISHED", "-j", "ACCEPT")),
        ]
        filter_chains = [Chain(c) for c in self.filter_chains]
        nat_chains = list(map(_user_chain, self.nat_chains))
        if include_builtin:
            if not self.localhost_nodeports:
                filter_chains.append(Chain(KUBE_FIREWALL))  # kubelet's chain exists either way
            for table_name, chain, args in _BUILTIN_JUMPS:
                rules = filter_ if table_name == "filter" else nat
                _add(rules, chain, args)
            filter_chains += [Chain(c, "ACCEPT") for c in ("INPUT", "FORWARD", "OUTPUT")]
            nat_chains += [Chain(c, "ACCEPT") for c in ("PREROUTING", "INPUT", "OUTPUT", "POSTROUTING")]
        return RuleSet((_table("filter", filter_chains, filter_), _table("nat", nat_chains, nat)))


def _targets_of(endpoints: list[_ProxyEndpoint], reachable: list[_ProxyEndpoint],
                targets: list[tuple[_ProxyEndpoint, str]]) -> list[tuple[_ProxyEndpoint, str]]:
    """The (endpoint, KUBE-SEP chain) pairs of ``endpoints``, a subset of ``reachable``."""
    if endpoints is reachable:
        return targets
    chosen = {e.ip_port for e in endpoints}
    return [t for t in targets if t[0].ip_port in chosen]


def _add(rules: dict[str, list[Rule]], chain: str, args: tuple[str, ...]) -> None:
    bucket = rules.get(chain)
    if bucket is None:
        rules[chain] = [_rule(chain, args)]
    else:
        bucket.append(_rule(chain, args))


# The jump rules into the built-in chains, in the order they stand once kubelet (which
# creates KUBE-FIREWALL and its jumps first) and then kube-proxy have started: kube-proxy
# *prepends* each of its jumps (EnsureRule(Prepend, ...)), so the last one it ensures in a
# chain ends up first.
def _builtin_jumps() -> tuple[tuple[str, str, tuple[str, ...]], ...]:
    new = ("-m", "conntrack", "--ctstate", "NEW")
    ensured = (  # iptablesJumpChains, in kube-proxy's order
        ("filter", KUBE_EXTERNAL_SERVICES, "INPUT", "kubernetes externally-visible service portals", new),
        ("filter", KUBE_EXTERNAL_SERVICES, "FORWARD", "kubernetes externally-visible service portals", new),
        ("filter", KUBE_NODEPORTS, "INPUT", "kubernetes health check service ports", ()),
        ("filter", KUBE_SERVICES, "FORWARD", "kubernetes service portals", new),
        ("filter", KUBE_SERVICES, "OUTPUT", "kubernetes service portals", new),
        ("filter", KUBE_FORWARD, "FORWARD", "kubernetes forwarding rules", ()),
        ("filter", KUBE_PROXY_FIREWALL, "INPUT", "kubernetes load balancer firewall", new),
        ("filter", KUBE_PROXY_FIREWALL, "OUTPUT", "kubernetes load balancer firewall", new),
        ("filter", KUBE_PROXY_FIREWALL, "FORWARD", "kubernetes load balancer firewall", new),
        ("nat", KUBE_SERVICES, "OUTPUT", "kubernetes service portals", ()),
        ("nat", KUBE_SERVICES, "PREROUTING", "kubernetes service portals", ()),
        ("nat", KUBE_POSTROUTING, "POSTROUTING", "kubernetes postrouting rules", ()),
    )
    chains: dict[tuple[str, str], list[tuple[str, ...]]] = {}
    for table, target, chain, comment, extra in ensured:
        chains.setdefault((table, chain), []).insert(0, (*extra, "-m", "comment", "--comment", comment, "-j", target))
    for chain in ("INPUT", "OUTPUT"):  # kubelet's own jumps, already there
        chains.setdefault(("filter", chain), []).append(("-j", KUBE_FIREWALL))
    return tuple((table, chain, args) for (table, chain), rules in chains.items() for args in rules)


_BUILTIN_JUMPS = _builtin_jumps()


# --- canonical order ---------------------------------------------------------------


def _chain_key(name: str) -> tuple[int, str]:
    """KUBE-NODEPORTS, KUBE-SERVICES, other KUBE-* alphabetically, then the rest alphabetically."""
    if name == KUBE_NODEPORTS:
        return (0, "")
    if name == KUBE_SERVICES:
        return (1, "")
    return (2 if name.startswith("KUBE-") else 3, name)


_COMMENT_FIRST = ("-m", "comment", "--comment")


def _sort_comment(rule: Rule) -> str:
    """The rule's comment, "" if it has none: read where kube-proxy writes it, first, before
    asking :attr:`Rule.comment`, which works out the whole rule's shape (10,000s of rules a sync)."""
    args = rule.args
    if args[:3] == _COMMENT_FIRST and len(args) > 3:
        return args[3]
    return rule.comment or ""


def _service_name_key(rule: Rule) -> str:
    """The service name in a rule's comment: the comment up to its first space or colon."""
    comment = _sort_comment(rule)
    end = len(comment)
    for stop in (" ", ":"):
        i = comment.find(stop)
        if i != -1 and i < end:
            end = i
    return comment[:end]


def _last_rule_key(rule: Rule) -> tuple[bool, str]:
    return ("must be the last rule" in _sort_comment(rule), _service_name_key(rule))


def _table(name: str, chains: Iterable[Chain], rules_by_chain: Mapping[str, list[Rule]]) -> Table:
    """One table in canonical order: chains sorted, each chain's rules together, in chain order."""
    by_name = {chain.name: chain for chain in reversed(list(chains))}  # the first declaration wins
    names = sorted(by_name)
    # The KUBE-* names are one run of the sorted list: put them before the others.
    lo, hi = bisect_left(names, "KUBE-"), bisect_left(names, "KUBE.")
    kube = names[lo:hi]
    first = [n for n in (KUBE_NODEPORTS, KUBE_SERVICES) if n in by_name]
    for n in first:
        kube.remove(n)
    declared = first + kube + names[:lo] + names[hi:]
    # Rules of a chain the table does not declare (a partial sync's) follow, in the same order.
    undeclared = sorted(rules_by_chain.keys() - by_name.keys(), key=_chain_key)
    buckets = dict(rules_by_chain)
    if KUBE_NODEPORTS in buckets:
        buckets[KUBE_NODEPORTS] = sorted(buckets[KUBE_NODEPORTS], key=_service_name_key)
    if KUBE_SERVICES in buckets:
        buckets[KUBE_SERVICES] = sorted(buckets[KUBE_SERVICES],
                                        key=_last_rule_key if name == "nat" else _service_name_key)
    rules = tuple(_chain_iterables.from_iterable(map(buckets.get, declared + undeclared, repeat(()))))
    return Table(name, tuple(map(by_name.__getitem__, declared)), rules)


def canonical_order(ruleset: RuleSet) -> RuleSet:
    """``ruleset`` sorted the way kube-proxy's unit tests compare rules (``sortIPTablesRules``).

    Tables by name; chains KUBE-NODEPORTS, KUBE-SERVICES, the other KUBE-* chains
    alphabetically, then any others alphabetically; each chain's rules together, in chain
    order, keeping their relative order, except that KUBE-NODEPORTS and KUBE-SERVICES
    rules are stably sorted by the service name in their comment, with nat
    KUBE-SERVICES' "must be the last rule" rule last.
    """
    tables = []
    for table in sorted(ruleset.tables, key=lambda t: t.name):
        by_chain: dict[str, list[Rule]] = {}
        for rule in table.rules:
            by_chain.setdefault(rule.chain, []).append(rule)
        tables.append(_table(table.name, table.chains, by_chain))
    return RuleSet(tuple(tables))


def rules_in(ruleset: RuleSet, table: str, chain: str) -> tuple[Rule, ...]:
    """The rules of one chain of one table, in order (empty if there are none): :meth:`Table.rules_in`."""
    found = ruleset.get_table(table)
    return () if found is None else found.rules_in(chain)


# --- from a cluster ------------------------------------------------------------------


def rules_for(cluster: Cluster, node_name: str, *, include_builtin: bool = False, **kw: Any) -> RuleSet:
    """The rules kube-proxy programs on ``node_name`` of ``cluster``.

    The node's InternalIP and the cluster CIDR come from the cluster (``node_ip=`` and
    ``cluster_cidr=`` override them); the EndpointSlices are the EndpointSlice
    controller's (:func:`k8snet_lesson.endpoints.slices_for`). A cluster without Nodes
    accepts any node name. Other keywords go to :func:`generate`.
    """
    from .endpoints import slices_for

    if cluster.nodes:
        node = cluster.node(node_name)
        kw.setdefault("node_ip", node.internal_ip)
    kw.setdefault("cluster_cidr", cluster.cluster_cidr)
    with no_cycle_collection():  # the slices too are many small values in no cycle (see _speed)
        slices = slices_for(cluster)
    return generate(cluster.services, slices, node_name=node_name, include_builtin=include_builtin, **kw)


def rules_of_service(ruleset: RuleSet, service_port_name: str) -> RuleSet:
    """The part of ``ruleset`` that belongs to one service port, for showing it on its own.

    What ``iptables-save | grep`` would show for ``service_port_name`` (``ns/name`` or
    ``ns/name:port``): its rules in KUBE-SERVICES, KUBE-NODEPORTS and the filter chains,
    its own KUBE-SVC/SVL/EXT/FW chains, and the KUBE-SEP chains of its endpoints (the
    chains are found by following the jumps, so comment-less large-cluster rules are
    found too). Tables and chain order stay as they were.
    """
    name = service_port_name

    def mentions(rule: Rule) -> bool:
        comment = rule.comment
        return comment is not None and (comment == name or comment.startswith(name + " ")
                                        or comment.endswith(" " + name) or f" {name} " in comment)

    tables = []
    for table in ruleset.tables:
        own: set[str] = set()
        pending = [r.jump_chain for r in table.rules if mentions(r) and r.jump_chain]
        while pending:
            chain = pending.pop()
            if chain in own or not chain.startswith(("KUBE-SVC-", "KUBE-SVL-", "KUBE-EXT-", "KUBE-FW-", "KUBE-SEP-")):
                continue
            own.add(chain)
            pending.extend(r.jump_chain for r in table.rules if r.chain == chain and r.jump_chain)
        rules = tuple(r for r in table.rules if r.chain in own or mentions(r))
        if not rules:
            continue
        used = {r.chain for r in rules}
        chains = tuple(c for c in table.chains if c.name in used)
        tables.append(Table(table.name, chains, rules))
    return RuleSet(tuple(tables))
