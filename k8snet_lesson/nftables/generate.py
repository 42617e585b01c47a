"""kube-proxy in nftables mode: Services and EndpointSlices in, an nftables transaction out.

:func:`generate` writes the state kube-proxy's ``syncProxyRules`` leaves in table
``ip kube-proxy`` on one node, as one ``add …`` command per line (knftables' transaction
syntax, the form kube-proxy pipes to ``nft -f -``). ``str()`` of the result is in an
order ``nft -f`` loads as it is: the table, its sets and maps, every chain, then the rules,
then the set and map elements, so nothing is referred to before it exists.
:func:`normalize` sorts a transaction the way kube-proxy's unit tests compare one.

What it models (pkg/proxy/nftables/proxier.go, v1.34 cycle):

- names: ``HASH8-ns/svc/proto/port`` (``__ip/port`` for an endpoint), HASH8 the first 8
  characters of base32(sha256(the rest)); a base longer than 240 characters is cut to
  237 plus ``...`` (:func:`chain_name`);
- dispatch through the verdict maps ``service-ips`` (ClusterIP, external and LB IPs) and
  ``service-nodeports``; every ClusterIP in ``cluster-ips``;
- endpoint choice as one uniform draw, ``numgen random mod N vmap { i : goto … }``, over
  endpoints sorted by their ``ip:port`` string;
- ClientIP affinity (a dynamic set per endpoint, ``update @set { ip saddr }``), the
  loadBalancerSourceRanges firewall, both traffic policies, and the no-endpoint verdicts
  (``goto reject-chain``, or ``drop`` when only the Local policy lacks endpoints);
- :class:`NodeProxy`: syncs one after the other, where a chain no longer used is flushed
  and kept until it has been stale for more than a second, a partial sync rewrites only
  the chains of changed Services, and a first sync may start from an existing state.

What it leaves out: IPv6 (``ip6 kube-proxy``), topology-aware routing, nodePortAddresses
other than the node IP, and the metrics-only counters.

    >>> from k8snet_lesson.cluster import Service, ServicePort, EndpointSlice, Endpoint, EndpointPort
    >>> svc = Service("production", "checkout-api-svc", cluster_ip="10.96.214.88",
    ...               ports=(ServicePort(80, 3000),))
    >>> eps = EndpointSlice("production", "checkout-api-svc-abc12", "checkout-api-svc",
    ...                     tuple(Endpoint((ip,)) for ip in ("10.244.2.14", "10.244.3.7", "10.244.4.2")),
    ...                     (EndpointPort(3000),))
    >>> tx = generate([svc], [eps], node_name="node-eu-west-1a", cluster_cidr="10.244.0.0/16")
    >>> service_ips(tx)
    {'10.96.214.88 . tcp . 80': 'goto service-I3VMJ4JL-production/checkout-api-svc/tcp/'}
    >>> numgen_shares(tx)["service-I3VMJ4JL-production/checkout-api-svc/tcp/"]  # doctest: +NORMALIZE_WHITESPACE
    {'endpoint-TGTXVG4O-production/checkout-api-svc/tcp/__10.244.2.14/3000': Fraction(1, 3),
     'endpoint-NGGZSG42-production/checkout-api-svc/tcp/__10.244.3.7/3000': Fraction(1, 3),
     'endpoint-LMIIZRU6-production/checkout-api-svc/tcp/__10.244.4.2/3000': Fraction(1, 3)}
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import re
from collections.abc import Iterable
from fractions import Fraction
from ipaddress import IPv4Address, IPv4Network, ip_address, ip_network
from typing import Any

from ..cluster import (
    Cluster,
    EndpointSlice,
    Protocol,
    Service,
    ServiceType,
    SessionAffinity,
    TrafficPolicy,
    ipv4_address,
)
from ..errors import InvalidValue
from ..kube_proxy import _categorize, _endpoints, _externally_accessible_type, _mark

FAMILY = "ip"
TABLE = "kube-proxy"
# knftables' 256-character name limit, less 16 for the longest prefix.
NAME_BASE_MAX = 240
KINDS = ("service", "local", "external", "firewall", "endpoint", "affinity")
_SERVICE_KINDS = ("service", "local", "external", "firewall")
_PROTOCOL_WORDS = {p.iptables for p in Protocol}

# The verdict maps and sets every node has: name -> (set or map, its spec).
_CONTAINERS = {
    "cluster-ips": ("set", '{ type ipv4_addr ; comment "Active ClusterIPs" ; }'),
    "nodeport-ips": ("set", '{ type ipv4_addr ; comment "IPs that accept NodePort traffic" ; }'),
    "firewall-ips": ("map", '{ type ipv4_addr . inet_proto . inet_service : verdict ; '
                            'comment "destinations that are subject to LoadBalancerSourceRanges" ; }'),
    "no-endpoint-nodeports": ("map", '{ type inet_proto . inet_service : verdict ; '
                                     'comment "vmap to drop or reject packets to service nodeports with no endpoints" ; }'),
    "no-endpoint-services": ("map", '{ type ipv4_addr . inet_proto . inet_service : verdict ; '
                                    'comment "vmap to drop or reject packets to services with no endpoints" ; }'),
    "service-ips": ("map", '{ type ipv4_addr . inet_proto . inet_service : verdict ; '
                           'comment "ClusterIP, ExternalIP and LoadBalancer IP traffic" ; }'),
    "service-nodeports": ("map", '{ type inet_proto . inet_service : verdict ; comment "NodePort traffic" ; }'),
}

# The fixed chains: name -> spec (None for a regular chain), in kube-proxy's order.
_BASE_CHAINS = {
    "cluster-ips-check": None,
    "filter-prerouting-pre-dnat": "{ type filter hook prerouting priority -110 ; }",
    "filter-output-pre-dnat": "{ type filter hook output priority -110 ; }",
    "filter-forward": "{ type filter hook forward priority 0 ; }",
    "filter-input": "{ type filter hook input priority 0 ; }",
    "filter-output": "{ type filter hook output priority 0 ; }",
    "firewall-check": None,
    "mark-for-masquerade": None,
    "masquerading": None,
    "nat-output": "{ type nat hook output priority -100 ; }",
    "nat-postrouting": "{ type nat hook postrouting priority 100 ; }",
    "nat-prerouting": "{ type nat hook prerouting priority -100 ; }",
    "nodeport-endpoints-check": None,
    "reject-chain": '{ comment "helper for @no-endpoint-services / @no-endpoint-nodeports" ; }',
    "services": None,
    "service-endpoints-check": None,
}

# (chain jumped from, chain jumped to, match): the base chains' jumps, in rule order per chain.
_BASE_JUMPS = (
    ("filter-prerouting-pre-dnat", "firewall-check", "ct state new"),
    ("filter-output-pre-dnat", "firewall-check", "ct state new"),
    ("filter-forward", "service-endpoints-check", "ct state new"),
    ("filter-forward", "cluster-ips-check", "ct state new"),
    ("filter-input", "nodeport-endpoints-check", "ct state new"),
    ("filter-input", "service-endpoints-check", "ct state new"),
    ("filter-output", "service-endpoints-check", "ct state new"),
    ("filter-output", "cluster-ips-check", "ct state new"),
    ("nat-output", "services", ""),
    ("nat-prerouting", "services", ""),
    ("nat-postrouting", "masquerading", ""),
)


# --- names -----------------------------------------------------------------------


def _hash8(text: str) -> str:
    return base64.b32encode(hashlib.sha256(text.encode()).digest())[:8].decode()


def _truncate(base: str) -> str:
    return base if len(base) <= NAME_BASE_MAX else base[: NAME_BASE_MAX - 3] + "..."


def _split_port_name(service_port_name: str) -> tuple[str, str]:
    """``ns/svc:port`` (or ``ns/svc``) -> (``ns/svc``, ``port``)."""
    key, _, port = service_port_name.partition(":")
    if key.count("/") != 1 or not all(key.split("/")):
        raise InvalidValue(f"service port name {service_port_name!r} is not namespace/name[:port]")
    return key, port


def _endpoint_word(endpoint: str) -> str:
    """``10.0.1.1:80`` -> ``10.0.1.1/80``; ``[fd00::1]:80`` -> ``fd00..1/80``."""
    host, sep, port = endpoint.rpartition(":")
    if not sep or not host or not port.isdigit():
        raise InvalidValue(f"endpoint {endpoint!r} is not ip:port")
    return f"{host.strip('[]').replace(':', '.')}/{port}"


def chain_name_base(service_port_name: str, protocol: Protocol | str, endpoint: str | None = None) -> str:
    """kube-proxy's name base for a service port (or one endpoint of it), before the prefix.

    >>> chain_name_base("ns1/svc1:p80", "tcp")
    'ULMVA6XW-ns1/svc1/tcp/p80'
    >>> chain_name_base("ns1/svc1:p80", "TCP", "10.180.0.1:80")
    '5OJB2KTY-ns1/svc1/tcp/p80__10.180.0.1/80'
    """
    key, port = _split_port_name(service_port_name)
    word = protocol.iptables if isinstance(protocol, Protocol) else str(protocol).lower()
    if word not in _PROTOCOL_WORDS:
        raise InvalidValue(f"protocol {protocol!r} is not one of TCP, UDP, SCTP")
    text = f"{key}/{word}/{port}"
    if endpoint is not None:
        text += "__" + _endpoint_word(endpoint)
    return _truncate(f"{_hash8(text)}-{text}")


def chain_name(kind: str, service_port_name: str, protocol: Protocol | str, endpoint: str | None = None) -> str:
    """The name of a service port's ``service-``/``local-``/``external-``/``firewall-`` chain,
    or of one endpoint's ``endpoint-`` chain or ``affinity-`` set.

    >>> chain_name("endpoint", "ns1/svc1:p80", "tcp", "10.180.0.1:80")
    'endpoint-5OJB2KTY-ns1/svc1/tcp/p80__10.180.0.1/80'
    """
    if kind not in KINDS:
        raise InvalidValue(f"object kind {kind!r} is not one of {', '.join(KINDS)}")
    needs_endpoint = kind in ("endpoint", "affinity")
    if needs_endpoint != (endpoint is not None):
        raise InvalidValue(f"a {kind} name {'needs' if needs_endpoint else 'takes no'} endpoint (ip:port)")
    return f"{kind}-{chain_name_base(service_port_name, protocol, endpoint)}"


def sloppy_ip(text: str) -> str:
    """An IPv4 address or CIDR as kube-proxy reads it (``ParseIPSloppy``): leading zeros
    allowed and dropped, so ``172.30.0.041`` is ``172.30.0.41``.

    >>> sloppy_ip("203.0.113.000/025")
    '203.0.113.0/25'
    """
    text = str(text).strip()
    address, slash, bits = text.partition("/")
    parts = address.split(".")
    if len(parts) != 4 or not all(p.isdigit() for p in parts) or (slash and not bits.isdigit()):
        raise InvalidValue(f"{text!r} is not an IPv4 address or CIDR")
    canonical = ".".join(str(int(p)) for p in parts) + (f"/{int(bits)}" if slash else "")
    try:
        return str(ip_network(canonical, strict=False)) if slash else str(ip_address(canonical))
    except ValueError:
        raise InvalidValue(f"{text!r} is not an IPv4 address or CIDR") from None


# --- the transaction ----------------------------------------------------------------


@dataclasses.dataclass
class Transaction:
    """The objects of table ``ip kube-proxy``, and which Service owns each service chain.

    ``sets``/``maps``/``chains`` map a name to its spec (``{ … }``, or None for a plain
    chain); ``rules`` a chain to its rule texts in order; ``elements`` are
    (set or map, element text) pairs. ``owners`` maps a service or endpoint chain, and an
    affinity set, to its Service's ``namespace/name`` (not printed).
    """

    table_comment: str | None = "rules for kube-proxy"
    sets: dict[str, str] = dataclasses.field(default_factory=dict)
    maps: dict[str, str] = dataclasses.field(default_factory=dict)
    chains: dict[str, str | None] = dataclasses.field(default_factory=dict)
    rules: dict[str, list[str]] = dataclasses.field(default_factory=dict)
    elements: list[tuple[str, str]] = dataclasses.field(default_factory=list)
    owners: dict[str, str] = dataclasses.field(default_factory=dict)
    family: str = FAMILY
    table: str = TABLE

    def _prefix(self, kind: str) -> str:
        return f"add {kind} {self.family} {self.table} "

    def lines(self) -> list[str]:
        """One ``add …`` command per line, in an order ``nft -f`` loads."""
        out = [f"add table {self.family} {self.table}"
               + (f' {{ comment "{self.table_comment}" ; }}' if self.table_comment else "")]
        out += [self._prefix("set") + f"{name} {spec}" for name, spec in self.sets.items()]
        out += [self._prefix("map") + f"{name} {spec}" for name, spec in self.maps.items()]
        out += [self._prefix("chain") + name + (f" {spec}" if spec else "") for name, spec in self.chains.items()]
        rule, element = self._prefix("rule"), self._prefix("element")  # once, not once a line
        for chain, rules in self.rules.items():
            head = rule + chain + " "
            out += [head + text for text in rules]
        out += [f"{element}{container} {{ {text} }}" for container, text in self.elements]
        return out

    def __str__(self) -> str:
        return "\n".join(self.lines()) + "\n"

    def element_map(self, container: str) -> dict[str, str]:
        """A map's elements as key -> verdict (a set's as key -> ``""``); comments dropped."""
        out = {}
        for name, text in self.elements:
            if name == container:
                key, _, value = text.partition(" : ")
                out[_COMMENTED.sub("", key)] = value
        return out


_ORDER = {"table": 0, "chain": 1, "rule": 2, "set": 3, "map": 4, "element": 5}


def normalize(text: str | Transaction) -> list[str]:
    """A transaction's lines as kube-proxy's tests compare them (``sortNFTablesTransaction``):
    no blank or ``#`` lines; sorted by object type (table, chain, rule, set, map, element),
    then object name; rules keep their order within a chain; other lines by their text."""
    lines = [line for line in str(text).split("\n") if line and not line.startswith("#")]

    def key(line: str) -> tuple:
        words = line.split(" ")
        kind = words[1] if len(words) > 1 else ""
        name = words[4] if len(words) > 4 else ""
        return (_ORDER.get(kind, len(_ORDER)), name, "" if kind == "rule" else line)

    return sorted(lines, key=key)


def service_ips(tx: Transaction) -> dict[str, str]:
    """The ``service-ips`` verdict map: ``IP . proto . port`` -> ``goto <chain>``."""
    return tx.element_map("service-ips")


_COMMENTED = re.compile(r' comment "[^"]*"')
_NUMGEN = re.compile(r"numgen random mod (\d+) vmap \{ (.*) \}$")


def numgen_shares(tx: Transaction) -> dict[str, dict[str, Fraction]]:
    """Each chain's ``numgen random mod N`` draw: chain -> {endpoint chain: its share}."""
    out: dict[str, dict[str, Fraction]] = {}
    for chain, rules in tx.rules.items():
        for rule in rules:
            match = _NUMGEN.search(rule)
            if match:
                n = int(match.group(1))
                shares: dict[str, Fraction] = {}
                for entry in match.group(2).split(","):
                    target = entry.split("goto", 1)[1].strip()
                    shares[target] = shares.get(target, Fraction(0)) + Fraction(1, n)
                out[chain] = shares
    return out


# --- generation ---------------------------------------------------------------------


def _base(node_ip: str | None, service_cidrs: tuple[str, ...], mark: str) -> Transaction:
    tx = Transaction()
    for name, (kind, spec) in _CONTAINERS.items():
        (tx.sets if kind == "set" else tx.maps)[name] = spec
    tx.chains.update(_BASE_CHAINS)
    rules = tx.rules
    for chain in _BASE_CHAINS:
        rules[chain] = []
    rules["cluster-ips-check"] += ['ip daddr @cluster-ips reject comment "Reject traffic to invalid ports of ClusterIPs"']
    if service_cidrs:
        rules["cluster-ips-check"].append(
            f'ip daddr {{ {" , ".join(service_cidrs)} }} drop comment "Drop traffic to unallocated ClusterIPs"')
    for source, target, match in _BASE_JUMPS:
        rules[source].append(f"{match} jump {target}".strip())
    rules["firewall-check"].append("ip daddr . meta l4proto . th dport vmap @firewall-ips")
    rules["mark-for-masquerade"].append(f"mark set mark or {mark}")
    rules["masquerading"] += [f"mark and {mark} == 0 return", f"mark set mark xor {mark}",
                              "masquerade fully-random"]
    rules["nodeport-endpoints-check"].append(
        "ip daddr @nodeport-ips meta l4proto . th dport vmap @no-endpoint-nodeports")
    rules["reject-chain"].append("reject")
    rules["services"] += ["ip daddr . meta l4proto . th dport vmap @service-ips",
                          "ip daddr @nodeport-ips meta l4proto . th dport vmap @service-nodeports"]
    rules["service-endpoints-check"].append("ip daddr . meta l4proto . th dport vmap @no-endpoint-services")
    if node_ip:
        tx.elements.append(("nodeport-ips", node_ip))
    return tx


def _cidr_text(value: Any, what: str) -> str:
    if isinstance(value, IPv4Network):
        return str(value)
    try:
        network = ip_network(str(value).strip(), strict=False)
    except ValueError:
        raise InvalidValue(f"{what} {value!r} is not a CIDR such as 10.244.0.0/16") from None
    if not isinstance(network, IPv4Network):
        raise InvalidValue(f"{what} {value!r} is not an IPv4 CIDR (the model is IPv4 only)")
    return str(network)


def generate(
    services: Iterable[Service],
    endpoint_slices: Iterable[EndpointSlice],
    *,
    node_name: str,
    node_ip: Any = None,
    cluster_cidr: Any = None,
    service_cidr: Any = None,
    masquerade_mark: Any = "0x4000",
    masquerade_all: bool = False,
) -> Transaction:
    """The state kube-proxy (nftables mode) on ``node_name`` programs for these objects.

    ``node_ip`` is the NodePort address (``nodeport-ips``) and matters for
    loadBalancerSourceRanges that contain it; ``cluster_cidr`` is the local traffic
    detector's range (no masquerade rule for off-cluster sources without it);
    ``service_cidr`` (one CIDR or several) gives the drop rule for unallocated ClusterIPs.
    """
    node = None if node_ip is None else str(ipv4_address(str(node_ip).strip(), "node IP"))
    cidr = None if cluster_cidr is None else _cidr_text(cluster_cidr, "cluster CIDR")
    if service_cidr is None:
        service_cidrs: tuple[str, ...] = ()
    elif isinstance(service_cidr, (str, IPv4Network)):
        service_cidrs = (_cidr_text(service_cidr, "service CIDR"),)
    else:
        service_cidrs = tuple(_cidr_text(c, "service CIDR") for c in service_cidr)
    mark = _mark(masquerade_mark)
    tx = _base(node, service_cidrs, mark)

    slices_by_service: dict[tuple[str, str], list[EndpointSlice]] = {}
    for endpoint_slice in endpoint_slices:
        if endpoint_slice.address_type == "IPv4":
            slices_by_service.setdefault((endpoint_slice.namespace, endpoint_slice.service_name), []).append(
                endpoint_slice)
    seen: set[str] = set()
    writer = _Writer(tx, cidr=cidr, node_ip=None if node is None else IPv4Address(node),
                     masquerade_all=masquerade_all)
    for service in sorted(services, key=lambda s: s.key):
        if service.key in seen:
            raise InvalidValue(f"service {service.key} is given twice")
        seen.add(service.key)
        if service.cluster_ip is None or service.type is ServiceType.EXTERNAL_NAME:
            continue  # headless and ExternalName services get nothing
        slices = slices_by_service.get((service.namespace, service.name), [])
        for port in service.ports:
            writer.service_port(service, port, _endpoints(slices, port.name, port.protocol, str(node_name or "")))
    # A set holds an element once (a Service's ClusterIP, whatever its number of ports).
    tx.elements = list(dict.fromkeys(tx.elements))
    return tx


class _Writer:
    """Adds one service port's chains, rules and elements to a transaction."""

    def __init__(self, tx: Transaction, *, cidr: str | None, node_ip: IPv4Address | None,
                 masquerade_all: bool) -> None:
        self.tx = tx
        self.cidr = cidr
        self.node_ip = node_ip
        self.masquerade_all = masquerade_all

    def _chain(self, name: str, owner: str) -> list[str]:
        tx = self.tx
        if name not in tx.chains:
            tx.chains[name] = None
            tx.rules[name] = []
            tx.owners[name] = owner
        return tx.rules[name]

    def service_port(self, service: Service, port: Any, endpoints: list[tuple]) -> None:
        tx = self.tx
        owner = service.key
        name = service.port_name(port)
        protocol = port.protocol.iptables
        base = chain_name_base(name, protocol)
        cluster_chain, local_chain, ext_chain, fw_chain = (f"{k}-{base}" for k in _SERVICE_KINDS)
        port_word = str(port.port)
        cluster_ip = str(service.cluster_ip)

        node_port = port.node_port if service.type in (ServiceType.NODE_PORT, ServiceType.LOAD_BALANCER) else None
        external_ips = [str(a) for a in service.external_ips]
        lb_ips = [str(a) for a in service.load_balancer_ips]
        ranges = list(service.load_balancer_source_ranges)
        externally_accessible = bool(node_port) or bool(lb_ips) or bool(external_ips)
        external_local = _externally_accessible_type(service) and (
            service.external_traffic_policy is TrafficPolicy.LOCAL)
        internal_local = service.internal_traffic_policy is TrafficPolicy.LOCAL
        uses_cluster = not internal_local or externally_accessible
        uses_local = internal_local or (external_local and externally_accessible)
        cluster_eps, local_eps, reachable, has_endpoints = _categorize(endpoints, uses_cluster, uses_local)

        ep_names = {e.ip_port: chain_name_base(name, protocol, e.ip_port) for e in reachable}
        for e in reachable:
            self._chain("endpoint-" + ep_names[e.ip_port], owner)
        uses_cluster_chain = bool(cluster_eps) and uses_cluster
        uses_local_chain = bool(local_eps) and uses_local
        if uses_cluster_chain:
            self._chain(cluster_chain, owner)
        if uses_local_chain:
            self._chain(local_chain, owner)
        internal_chain, has_internal = cluster_chain, has_endpoints
        if internal_local:
            internal_chain, has_internal = local_chain, has_endpoints and bool(local_eps)
        external_policy_chain, has_external = cluster_chain, has_endpoints
        if external_local:
            external_policy_chain, has_external = local_chain, has_endpoints and bool(local_eps)
        uses_ext_chain = has_endpoints and externally_accessible
        if uses_ext_chain:
            self._chain(ext_chain, owner)

        if not has_endpoints:
            internal_verdict = external_verdict = "goto reject-chain"
        else:
            internal_verdict = "" if has_internal else "drop"
            external_verdict = "" if has_external else "drop"

        add = tx.elements.append
        proto_port = f"{protocol} . {port_word}"
        add(("cluster-ips", cluster_ip))
        if has_internal:
            add(("service-ips", f"{cluster_ip} . {proto_port} : goto {internal_chain}"))
        else:
            add(("no-endpoint-services", f'{cluster_ip} . {proto_port} comment "{name}" : {internal_verdict}'))
        for address in external_ips:
            if has_endpoints:
                add(("service-ips", f"{address} . {proto_port} : goto {ext_chain}"))
            if not has_external:
                add(("no-endpoint-services", f'{address} . {proto_port} comment "{name}" : {external_verdict}'))

        uses_fw_chain = bool(lb_ips) and bool(ranges)
        if uses_fw_chain:
            sources = [str(r.network) for r in ranges]
            if self.node_ip is not None and any(self.node_ip in r.network for r in ranges):
                sources += lb_ips
            self._chain(fw_chain, owner).append(f"ip saddr != {{ {' , '.join(sources)} }} drop")
        for address in lb_ips:
            if has_endpoints:
                add(("service-ips", f"{address} . {proto_port} : goto {ext_chain}"))
            if uses_fw_chain:
                add(("firewall-ips", f"{address} . {proto_port} : goto {fw_chain}"))
        if not has_external:
            for address in lb_ips:
                add(("no-endpoint-services", f'{address} . {proto_port} comment "{name}" : {external_verdict}'))
        if node_port:
            if has_endpoints:
                add(("service-nodeports", f"{protocol} . {node_port} : goto {ext_chain}"))
            if not has_external:
                add(("no-endpoint-nodeports", f'{protocol} . {node_port} comment "{name}" : {external_verdict}'))

        if has_internal:
            if self.masquerade_all:
                tx.rules[internal_chain].append(f"ip daddr {cluster_ip} jump mark-for-masquerade")
            elif self.cidr is not None:
                tx.rules[internal_chain].append(
                    f"ip daddr {cluster_ip} ip saddr != {self.cidr} jump mark-for-masquerade")

        if uses_ext_chain:
            rules = tx.rules[ext_chain]
            if not external_local:
                rules.append("jump mark-for-masquerade")
            else:
                if self.cidr is not None:
                    rules.append(f'ip saddr {self.cidr} goto {cluster_chain} comment "short-circuit pod traffic"')
                rules.append('fib saddr type local jump mark-for-masquerade comment "masquerade local traffic"')
                rules.append(f'fib saddr type local goto {cluster_chain} comment "short-circuit local traffic"')
            if has_external:
                rules.append(f"goto {external_policy_chain}")

        affinity = service.session_affinity is SessionAffinity.CLIENT_IP
        if affinity:
            for e in reachable:
                set_name = "affinity-" + ep_names[e.ip_port]
                tx.sets[set_name] = (f"{{ type ipv4_addr ; flags dynamic,timeout ; "
                                     f"timeout {service.session_affinity_timeout}s ; }}")
                tx.owners[set_name] = owner
        if uses_cluster_chain:
            self._endpoint_rules(cluster_chain, cluster_eps, ep_names, affinity)
        if uses_local_chain:
            self._endpoint_rules(local_chain, local_eps, ep_names, affinity)
        for e in reachable:
            base_ep = ep_names[e.ip_port]
            rules = tx.rules["endpoint-" + base_ep]
            rules.append(f"ip saddr {e.ip} jump mark-for-masquerade")
            if affinity:
                rules.append(f"update @affinity-{base_ep} {{ ip saddr }}")
            rules.append(f"meta l4proto {protocol} dnat to {e.ip_port}")

    def _endpoint_rules(self, chain: str, endpoints: list[tuple], ep_names: dict[str, str], affinity: bool) -> None:
        rules = self.tx.rules[chain]
        if affinity:
            for e in endpoints:
                base_ep = ep_names[e.ip_port]
                rules.append(f"ip saddr @affinity-{base_ep} goto endpoint-{base_ep}")
        entries = " , ".join(f"{i} : goto endpoint-{ep_names[e.ip_port]}" for i, e in enumerate(endpoints))
        rules.append(f"numgen random mod {len(endpoints)} vmap {{ {entries} }}")


def rules_for(cluster: Cluster, node_name: str, **kw: Any) -> Transaction:
    """:func:`generate` for ``node_name`` of ``cluster``: its InternalIP, the cluster and
    service CIDRs and the EndpointSlice controller's slices (keywords override)."""
    from ..endpoints import slices_for

    if cluster.nodes:
        kw.setdefault("node_ip", cluster.node(node_name).internal_ip)
    kw.setdefault("cluster_cidr", cluster.cluster_cidr)
    kw.setdefault("service_cidr", cluster.service_cidr)
    return generate(cluster.services, slices_for(cluster), node_name=node_name, **kw)


# --- a node over time ------------------------------------------------------------------


def _inputs_by_service(services: list[Service], slices: list[EndpointSlice]) -> dict[str, tuple]:
    by_service: dict[tuple[str, str], list[EndpointSlice]] = {}
    for endpoint_slice in slices:
        by_service.setdefault((endpoint_slice.namespace, endpoint_slice.service_name), []).append(endpoint_slice)
    return {service.key: (service, tuple(sorted(by_service.get((service.namespace, service.name), ()),
                                                key=lambda s: s.name)))
            for service in services}


def _is_service_chain(name: str) -> bool:
    return "/" in name  # kube-proxy's own test: no fixed chain has a slash


class NodeProxy:
    """kube-proxy's nftables state on one node across syncs.

    :meth:`sync` returns the commands of that sync's transaction; :meth:`state` is the
    table after it, as kube-proxy's tests dump it. The first sync is a full one; later
    ones are partial, as kube-proxy's are: only the Services whose Service or
    EndpointSlices changed since the last sync get their chains rewritten (elements are
    added and deleted as they change). A service or endpoint chain no longer used is
    flushed and kept (a bare ``add chain`` line), and deleted at the start of a sync once
    it has been stale for more than a second (:meth:`age_stale_chains` stands for that
    second passing; the deletions are :attr:`last_cleanup`, a transaction of their own);
    affinity sets no longer used are deleted at once.
    """

    def __init__(self, *, node_name: str, initial: Transaction | None = None, **settings: Any) -> None:
        self.node_name = node_name
        self.settings = settings
        self._state = initial
        self._stale: dict[str, bool] = {}  # stale chain -> aged past a second
        self._inputs: dict[str, tuple] | None = None  # Service key -> (Service, its slices) at the last sync
        self.last_cleanup: list[str] = []

    def age_stale_chains(self) -> None:
        self._stale = dict.fromkeys(self._stale, True)

    @property
    def stale_chains(self) -> list[str]:
        return sorted(self._stale)

    def sync(self, services: Iterable[Service], endpoint_slices: Iterable[EndpointSlice], *,
             changed_services: Iterable[str] | None = None, full: bool = False) -> list[str]:
        """One sync. ``changed_services`` (``namespace/name``) names the changed Services
        (by default, those whose Service or EndpointSlices differ from the last sync's);
        ``full`` rewrites everything, as the first sync does."""
        services, endpoint_slices = list(services), list(endpoint_slices)
        inputs = _inputs_by_service(services, endpoint_slices)
        new = generate(services, endpoint_slices, node_name=self.node_name, **self.settings)
        old = self._state
        partial = not full and self._inputs is not None
        if changed_services is not None:
            changed = frozenset(changed_services)
        else:
            before = self._inputs or {}
            changed = frozenset(k for k in before.keys() | inputs.keys() if before.get(k) != inputs.get(k))
        self._inputs = inputs
        prefix = f"{FAMILY} {TABLE} "
        existing = dict(old.chains) if old is not None else {}
        self.last_cleanup = []
        for chain, aged in list(self._stale.items()):
            if aged:
                self.last_cleanup.append(f"delete chain {prefix}{chain}")
                existing.pop(chain, None)
                del self._stale[chain]
        ops: list[str] = []
        if not partial:
            ops += [line for line in new.lines() if not line.startswith(("add rule", "add element"))
                    and not (line.startswith("add chain") and _is_service_chain(line.split(" ")[4]))]
            ops += [f"flush {kind} {prefix}{name}" for name, (kind, _) in _CONTAINERS.items()]
        else:
            ops += [f"add set {prefix}{name} {spec}" for name, spec in new.sets.items()
                    if new.owners.get(name) in changed]
        for chain in new.chains:
            if _is_service_chain(chain) and (not partial or new.owners.get(chain) in changed):
                ops += [f"add chain {prefix}{chain}", f"flush chain {prefix}{chain}"]
                ops += [f"add rule {prefix}{chain} {rule}" for rule in new.rules[chain]]
            elif not partial:
                ops += [f"add rule {prefix}{chain} {rule}" for rule in new.rules[chain]]
        old_elements = old.elements if old is not None and partial else []
        new_elements = set(new.elements)
        kept = set(old_elements)
        ops += [f"delete element {prefix}{c} {{ {_COMMENTED.sub('', t.partition(' : ')[0])} }}"
                for c, t in old_elements if (c, t) not in new_elements]
        ops += [f"add element {prefix}{c} {{ {t} }}" for c, t in new.elements if (c, t) not in kept]
        for chain in existing:
            if _is_service_chain(chain) and chain not in new.chains:
                ops.append(f"flush chain {prefix}{chain}")
                self._stale[chain] = False  # stale since this sync
        for chain in new.chains:
            self._stale.pop(chain, None)
        if old is not None:
            ops += [f"delete set {prefix}{name}" for name in old.sets
                    if name.startswith("affinity-") and name not in new.sets]
        for chain in self._stale:
            new.chains[chain] = None
            new.rules.setdefault(chain, [])
        self._state = new
        return ops

    def state(self) -> Transaction:
        if self._state is None:
            raise InvalidValue("the node has not synced yet")
        return self._state
