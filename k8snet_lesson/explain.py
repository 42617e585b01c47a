"""What a node's kube-proxy rules do to each Service port: endpoints and their exact shares.

Read from the rules themselves, the way you would read ``iptables-save`` on a node: every
``cluster IP`` rule of nat ``KUBE-SERVICES`` names a Service port (its comment, as
written: ``ns/name:port``, or ``ns/name:`` in dumps of old kube-proxy) and the chain
that balances it (``KUBE-SVC-...``, or ``KUBE-SVL-...`` for internalTrafficPolicy
Local). That chain's rules jump to one ``KUBE-SEP-...`` chain per endpoint, each DNAT-ing
to ``ip:port``; a rule with ``-m statistic --mode random --probability p`` is taken by a
new connection with probability ``p``, the others fall through to the next rule, and a
rule without a probability takes everyone left. So endpoint i gets

    share_i = p_i * (1 - p_1) * ... * (1 - p_{i-1})

computed here from the probabilities **as printed** in the text you give: kube-proxy's
``0.3333333333`` (or iptables-save's ``0.33333333349``), or old kube-proxy's 5-decimal
``0.33333``, whose skew then shows. Filter-table ``has no endpoints`` REJECT rules (and
``has no local endpoints`` DROP rules) give Service ports with no endpoints; NodePorts
(``KUBE-NODEPORTS``), external IPs and load-balancer IPs are attached to their Service
port by the comment they share.

A balancing rule that matches more than its comment and statistic (``-s 10.0.0.0/8``,
``-i eth0``, ``-m mark --mark 0x1``) is *conditional*: its share is of the packets that
match, and the rules after it see the ones it does not take (their shares are of
those). ``-m statistic --mode nth --every N`` takes one packet in N. A DNAT to a range
(``--to-destination 10.0.0.1-10.0.0.3:80-82``) is shown as the range.

What it leaves out: session affinity (``-m recent --rcheck``) only pins clients that
already have an entry, so it does not change the shares of new clients and is reported,
not modelled; externalTrafficPolicy Local chains (``KUBE-EXT-``, ``KUBE-XLB-``) are not
walked for shares; probabilities are taken as printed, not as the kernel's 31-bit value
(see :func:`k8snet_lesson.iptables.kernel_probability` for that).

    >>> from k8snet_lesson.iptables import parse
    >>> rules = parse('''*nat
    ... -A KUBE-SERVICES -m comment --comment "kube-system/kube-dns:dns cluster IP" -m udp -p udp -d 10.96.0.10 --dport 53 -j KUBE-SVC-TCOU7JCQXEZGVUNU
    ... -A KUBE-SVC-TCOU7JCQXEZGVUNU -m comment --comment "kube-system/kube-dns:dns -> 10.244.0.2:53" -m statistic --mode random --probability 0.5000000000 -j KUBE-SEP-A
    ... -A KUBE-SVC-TCOU7JCQXEZGVUNU -m comment --comment "kube-system/kube-dns:dns -> 10.244.0.3:53" -j KUBE-SEP-B
    ... -A KUBE-SEP-A -m comment --comment kube-system/kube-dns:dns -m udp -p udp -j DNAT --to-destination 10.244.0.2:53
    ... -A KUBE-SEP-B -m comment --comment kube-system/kube-dns:dns -m udp -p udp -j DNAT --to-destination 10.244.0.3:53
    ... COMMIT
    ... ''')
    >>> (dns,) = explain(rules)
    >>> dns.service_port, str(dns.cluster_ip), dns.port, [(str(e.address), e.share) for e in dns.endpoints]
    ('kube-system/kube-dns:dns', '10.96.0.10', 53, [('10.244.0.2', 0.5), ('10.244.0.3', 0.5)])
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterable, Sequence
from ipaddress import IPv4Address, IPv4Network

from ._speed import no_cycle_collection
from .errors import InvalidValue, NotFound
from .iptables import Rule, RuleSet, Table
from .kube_proxy import KUBE_MARK_MASQ

__all__ = [
    "EndpointShare",
    "ServiceExplanation",
    "explain",
    "explain_service",
    "exact_shares",
    "explanations_as_dicts",
    "explanations_as_json",
    "explanations_as_text",
]

_CLUSTER_IP = " cluster IP"
_EXTERNAL_IP = " external IP"
_LOAD_BALANCER_IP = " loadbalancer IP"
_NO_ENDPOINTS = " has no endpoints"
_NO_LOCAL_ENDPOINTS = " has no local endpoints"
KUBE_MARK_DROP = "KUBE-MARK-DROP"


@dataclasses.dataclass(frozen=True)
class EndpointShare:
    """One endpoint of a Service port: where its KUBE-SEP chain DNATs, and its share of new connections."""

    address: IPv4Address
    port: int
    share: float
    chain: str
    probability_text: str | None
    # What the rule matches besides its comment and statistic (``-s 10.0.0.0/8``, ``-m
    # mark --mark 0x1``): only packets that match it are taken, so ``share`` is the share
    # of *those* packets and the rest fall through to the next rule.
    condition: str | None = None
    # ``-m statistic --mode nth --every N --packet P``: one packet in N, as (N, P).
    nth: tuple[int, int] | None = None
    # ``--to-destination`` when it names a range (``10.0.0.1-10.0.0.3:80-82``), as written.
    destination_range: str | None = None

    @property
    def destination(self) -> str:
        """Where the endpoint's DNAT sends packets: ``ip:port``, or the range as written."""
        if self.destination_range is None:
            return f"{self.address}:{self.port}"
        return self.destination_range if ":" in self.destination_range else f"{self.destination_range}:{self.port}"

    @property
    def probability(self) -> float | None:
        return None if self.probability_text is None else float(self.probability_text)


@dataclasses.dataclass(frozen=True)
class ServiceExplanation:
    """One Service port as a node's rules implement it.

    ``endpoints`` in rule order with their exact shares; ``reject`` when the filter table
    REJECTs it ("has no endpoints"), ``drop`` when it DROPs it ("has no local endpoints");
    ``session_affinity_seconds`` from ``-m recent --rcheck --seconds``;
    ``masquerade_source_outside`` is the network in ``! -s NET -j KUBE-MARK-MASQ`` (clients
    outside it are SNATed), ``masquerade_all`` when every client is. ``unmatched_share`` is
    what falls off the end of the chain (non-zero only for hand-written chains).
    """

    service_port: str
    protocol: str
    cluster_ip: IPv4Address
    port: int
    endpoints: tuple[EndpointShare, ...] = ()
    reject: bool = False
    session_affinity_seconds: int | None = None
    masquerade_source_outside: IPv4Network | None = None
    masquerade_all: bool = False
    drop: bool = False
    chain: str | None = None
    node_ports: tuple[int, ...] = ()
    external_ips: tuple[IPv4Address, ...] = ()
    load_balancer_ips: tuple[IPv4Address, ...] = ()
    unmatched_share: float = 0.0


def exact_shares(probabilities: Sequence[float | None]) -> list[float]:
    """The share of new connections each rule of a chain takes, first match wins.

    ``None`` is a rule without ``-m statistic`` (it takes everyone left). When the last
    rule has a probability, one more element is the share that matched no rule, the same
    shape :func:`k8snet_lesson.simulate.simulate` returns.

    >>> [round(s, 12) for s in exact_shares([1/3, 1/2, None])]
    [0.333333333333, 0.333333333333, 0.333333333333]
    >>> [round(s, 4) for s in exact_shares([1/3, 1/3, 1/3])]  # every rule 1/n: the last gets least
    [0.3333, 0.2222, 0.1481, 0.2963]
    """
    shares: list[float] = []
    remaining = 1.0
    for p in probabilities:
        if p is None:
            shares.append(remaining)
            remaining = 0.0
            continue
        if not 0.0 <= p <= 1.0:
            raise InvalidValue(f"probability {p!r} is not between 0 and 1")
        shares.append(remaining * p)
        remaining *= 1.0 - p
    if not probabilities or probabilities[-1] is not None:
        shares.append(remaining)
    return shares


# --- reading the rules ---------------------------------------------------------------


class _Entry:
    """A Service port being assembled from the rules that mention it."""

    __slots__ = ("service_port", "protocol", "cluster_ip", "port", "chain", "reject", "drop", "masq_outside",
                 "masq_all", "node_ports", "external_ips", "load_balancer_ips")

    def __init__(self, service_port: str, protocol: str, cluster_ip: IPv4Address, port: int) -> None:
        self.service_port = service_port
        self.protocol = protocol
        self.cluster_ip = cluster_ip
        self.port = port
        self.chain: str | None = None
        self.reject = False
        self.drop = False
        self.masq_outside: IPv4Network | None = None
        self.masq_all = False
        self.node_ports: list[int] = []
        self.external_ips: list[IPv4Address] = []
        self.load_balancer_ips: list[IPv4Address] = []


def _host(rule: Rule) -> IPv4Address | None:
    """The ``-d`` host of a rule (kube-proxy writes a bare address; iptables-save adds /32)."""
    return rule.destination_address


def _service_rule(rule: Rule, suffix: str) -> tuple[str, IPv4Address, int, str] | None:
    comment = rule.comment
    if comment is None or not comment.endswith(suffix):
        return None
    address, port, protocol = _host(rule), rule.dport, rule.protocol
    if address is None or port is None or protocol is None:
        return None
    return comment[: -len(suffix)], address, port, protocol


def explain(ruleset: RuleSet) -> tuple[ServiceExplanation, ...]:
    """Every Service port the rules implement, with its endpoints and their exact shares.

    Sorted by Service port name, then cluster IP and port.
    """
    with no_cycle_collection():  # many small values next to a large rule set: see _speed
        return _explain(ruleset)


def _explain(ruleset: RuleSet) -> tuple[ServiceExplanation, ...]:
    nat = ruleset.get_table("nat")
    filter_ = ruleset.get_table("filter")
    entries: dict[tuple[IPv4Address, int, str], _Entry] = {}
    by_name: dict[str, list[_Entry]] = {}

    def entry(service_port: str, address: IPv4Address, port: int, protocol: str) -> _Entry:
        key = (address, port, protocol)
        found = entries.get(key)
        if found is None:
            found = entries[key] = _Entry(service_port, protocol, address, port)
            by_name.setdefault(service_port, []).append(found)
        return found

    address_rules: list[Rule] = []
    node_port_rules: tuple[Rule, ...] = ()
    if nat is not None:
        for rule in nat.rules_in("KUBE-SERVICES"):
            found = _service_rule(rule, _CLUSTER_IP)
            if found is None:
                address_rules.append(rule)  # an external IP or a load balancer IP, attached below
                continue
            target = rule.jump_chain
            item = entry(*found)
            if target == KUBE_MARK_MASQ:  # kube-proxy before 1.22 masqueraded here
                _note_masquerade(item, rule)
            elif target is not None:
                item.chain = target
        node_port_rules = nat.rules_in("KUBE-NODEPORTS")
    if filter_ is not None:
        for rule in filter_.rules_in("KUBE-SERVICES"):
            verdict = rule.target in ("REJECT", "DROP")
            found = _service_rule(rule, _NO_ENDPOINTS)
            if found is not None:
                item = entry(*found)
                item.reject = item.reject or verdict
                continue
            found = _service_rule(rule, _NO_LOCAL_ENDPOINTS)
            if found is not None:
                item = entry(*found)
                item.drop = item.drop or verdict
    for rule in address_rules:
        _attach_address(rule, by_name)
    for rule in node_port_rules:
        _attach_node_port(rule, by_name)

    out = [_explained(item, nat) for item in entries.values()]
    out.sort(key=lambda e: (e.service_port, e.cluster_ip, e.port, e.protocol))
    return tuple(out)


def _note_masquerade(item: _Entry, rule: Rule) -> None:
    if rule.source is not None and rule.source_negated:
        item.masq_outside = rule.source
    elif rule.source is None:
        item.masq_all = True


def _attach_node_port(rule: Rule, by_name: dict[str, list[_Entry]]) -> None:
    """A KUBE-NODEPORTS rule, attached to its Service port by comment."""
    comment, port = rule.comment, rule.dport
    if comment is None or port is None or rule.jump_chain in (None, KUBE_MARK_MASQ):
        return
    for item in by_name.get(comment, ()):
        if item.protocol == rule.protocol and port not in item.node_ports:
            item.node_ports.append(port)


def _attach_address(rule: Rule, by_name: dict[str, list[_Entry]]) -> None:
    """An external IP or load balancer IP rule of nat KUBE-SERVICES, attached to its Service port by comment."""
    comment, address = rule.comment, _host(rule)
    if comment is None or address is None or rule.jump_chain in (None, KUBE_MARK_MASQ):
        return
    if comment.endswith(_EXTERNAL_IP):
        name, load_balancer = comment[: -len(_EXTERNAL_IP)], False
    elif comment.endswith(_LOAD_BALANCER_IP):
        name, load_balancer = comment[: -len(_LOAD_BALANCER_IP)], True
    else:
        return
    for item in by_name.get(name, ()):
        if item.port == rule.dport and item.protocol == rule.protocol:
            addresses = item.load_balancer_ips if load_balancer else item.external_ips
            if address not in addresses:
                addresses.append(address)


def _dnat_of(nat: Table, chain: str) -> tuple[tuple[IPv4Address, int | None], str] | None:
    """The first DNAT of ``chain``: its (first address, first port) and the text as written."""
    for rule in nat.rules_in(chain):
        destination = rule.dnat_destination
        if destination is not None:
            return destination, rule.dnat_text
    return None


def _explained(item: _Entry, nat: Table | None) -> ServiceExplanation:
    affinity: int | None = None
    # What each rule of the chain takes of the new connections that reach it, in order; a
    # rule with a condition takes only the packets that match it, so none of the flow.
    flow: list[float] = []
    taken: list[tuple[int, float, str | None, str, Rule, tuple[int, int] | None,
                      tuple[tuple[IPv4Address, int | None], str]]] = []
    if nat is not None and item.chain is not None:
        for rule in nat.rules_in(item.chain):
            target = rule.jump_chain
            if target is None:
                continue
            if target == KUBE_MARK_MASQ:
                _note_masquerade(item, rule)
                continue
            if rule.uses("recent"):
                recent = rule.recent
                if recent.command in ("rcheck", "update") and not recent.negated:
                    affinity = recent.seconds if recent.seconds is not None else affinity
                    continue  # only clients already pinned match: new connections go on
            if target == KUBE_MARK_DROP:
                flow.append(1.0)  # everything left is dropped
                continue
            dnat = _dnat_of(nat, target)
            if dnat is None:
                continue
            text, nth = rule.probability_text, rule.nth
            p = 1.0 / nth[0] if nth is not None else 1.0 if text is None else float(text)
            condition = " ".join(rule.match_words(skip=("comment", "statistic"))) or None
            taken.append((len(flow), p, condition, target, rule, nth, dnat))
            flow.append(p if condition is None else 0.0)
    shares = exact_shares(flow)  # one more than the rules: what falls off the end
    endpoints: list[EndpointShare] = []
    for position, p, condition, target, rule, nth, ((address, port), written) in taken:
        share = shares[position] if condition is None else exact_shares(flow[:position])[-1] * p
        endpoints.append(EndpointShare(address, item.port if port is None else port, share, target,
                                       rule.probability_text, condition=condition, nth=nth,
                                       destination_range=written if "-" in written else None))
    return ServiceExplanation(
        service_port=item.service_port,
        protocol=item.protocol,
        cluster_ip=item.cluster_ip,
        port=item.port,
        endpoints=tuple(endpoints),
        reject=item.reject,
        session_affinity_seconds=affinity,
        masquerade_source_outside=item.masq_outside,
        masquerade_all=item.masq_all,
        drop=item.drop,
        chain=item.chain,
        node_ports=tuple(item.node_ports),
        external_ips=tuple(item.external_ips),
        load_balancer_ips=tuple(item.load_balancer_ips),
        unmatched_share=shares[-1] if endpoints else 0.0,
    )


# --- output ----------------------------------------------------------------------------


def _rounded(share: float) -> float:
    return round(share, 12)


def explanations_as_dicts(explanations: Iterable[ServiceExplanation]) -> dict:
    """The JSON-ready form: ``{"services": [{"service_port", "protocol", "cluster_ip", "port",
    "endpoints": [{"address": "ip:port", "share"}], "reject", "session_affinity_seconds"}]}``."""
    return {
        "services": [
            {
                "service_port": e.service_port,
                "protocol": e.protocol,
                "cluster_ip": str(e.cluster_ip),
                "port": e.port,
                "endpoints": [_endpoint_dict(p) for p in e.endpoints],
                "reject": e.reject,
                "session_affinity_seconds": e.session_affinity_seconds,
            }
            for e in explanations
        ]
    }


def _endpoint_dict(p: EndpointShare) -> dict:
    out: dict = {"address": p.destination, "share": _rounded(p.share)}
    if p.nth is not None:
        out["nth"] = {"every": p.nth[0], "packet": p.nth[1]}
    if p.condition is not None:
        out["condition"] = p.condition
    return out


def explanations_as_json(explanations: Iterable[ServiceExplanation], *, indent: int | None = None) -> str:
    """:func:`explanations_as_dicts` as JSON text (shares rounded to 12 decimals).

    >>> one = ServiceExplanation("kube-system/kube-dns:dns", "udp", IPv4Address("10.96.0.10"), 53,
    ...     (EndpointShare(IPv4Address("10.244.0.2"), 53, 1.0, "KUBE-SEP-A", None),))
    >>> print(explanations_as_json([one]))
    {"services": [{"service_port": "kube-system/kube-dns:dns", "protocol": "udp", "cluster_ip": "10.96.0.10", "port": 53, "endpoints": [{"address": "10.244.0.2:53", "share": 1.0}], "reject": false, "session_affinity_seconds": null}]}
    """
    return json.dumps(explanations_as_dicts(explanations), indent=indent)


def _percent(share: float) -> str:
    return f"{share * 100:.4f}%"


def explanations_as_text(explanations: Sequence[ServiceExplanation]) -> str:
    """A readable table per Service port: each endpoint's share and the probability printed for it.

    >>> one = ServiceExplanation("default/web", "tcp", IPv4Address("10.96.0.20"), 80, reject=True)
    >>> print(explanations_as_text([one]))
    default/web  tcp 10.96.0.20:80
      REJECT: no endpoints (filter KUBE-SERVICES answers icmp-port-unreachable)
    """
    if not explanations:
        return "no Service ports found (no 'cluster IP' rules in nat KUBE-SERVICES, no REJECT rules in filter)"
    blocks = []
    for e in explanations:
        head = f"{e.service_port}  {e.protocol} {e.cluster_ip}:{e.port}"
        extras = []
        if e.chain:
            extras.append(e.chain)
        if e.node_ports:
            extras.append("NodePort " + ",".join(map(str, e.node_ports)))
        if e.external_ips:
            extras.append("external IP " + ",".join(map(str, e.external_ips)))
        if e.load_balancer_ips:
            extras.append("load balancer IP " + ",".join(map(str, e.load_balancer_ips)))
        if extras:
            head += "  (" + "; ".join(extras) + ")"
        lines = [head]
        if e.endpoints:
            destinations = [p.destination for p in e.endpoints]  # each formatted once
            width = max(map(len, destinations))
            for i, (p, destination) in enumerate(zip(e.endpoints, destinations), 1):
                if p.nth is not None:
                    probability = f"--mode nth --every {p.nth[0]} --packet {p.nth[1]}: one packet in {p.nth[0]}"
                elif p.chain.startswith("endpoint-"):  # nftables mode: one uniform draw
                    probability = f"numgen random mod {round(1 / p.share) if p.share else '?'}"
                elif p.probability_text:
                    probability = f"--probability {p.probability_text}"
                else:
                    probability = "no probability: takes the rest"
                lines.append(f"  {i:>3}. {destination:<{width}}  {_percent(p.share):>9}  {probability}  -> {p.chain}")
                if p.condition is not None:
                    lines.append(f"       conditional: takes only packets matching {p.condition} (its share is of "
                                 "those); the shares after it are of the packets it does not take")
            if e.unmatched_share > 1e-15:
                lines.append(f"       {'(no rule matched)':<{width}}  {_percent(e.unmatched_share):>9}  falls through, not load balanced")
        if e.session_affinity_seconds is not None:
            lines.append(f"  session affinity: ClientIP, {e.session_affinity_seconds} s (-m recent); "
                         "shares are for new clients")
        if e.masquerade_source_outside is not None:
            lines.append(f"  masquerade: clients outside {e.masquerade_source_outside} are SNATed (KUBE-MARK-MASQ)")
        elif e.masquerade_all:
            lines.append("  masquerade: every client is SNATed (KUBE-MARK-MASQ)")
        if e.reject:
            lines.append("  REJECT: no endpoints (filter KUBE-SERVICES answers icmp-port-unreachable)")
        if e.drop:
            lines.append("  DROP: no local endpoints (traffic policy Local)")
        if not e.endpoints and not e.reject and not e.drop:
            lines.append("  no endpoint rules found" + (f" in {e.chain}" if e.chain else ""))
        blocks.append("\n".join(lines))
    return "\n".join(blocks)


def explain_service(ruleset: RuleSet, service_port: str) -> ServiceExplanation:
    """The explanation of one Service port, named as kube-proxy's comments name it
    (``production/checkout-api-svc``, ``kube-system/kube-dns:dns``)."""
    found = [e for e in explain(ruleset) if e.service_port == service_port]
    if not found:
        known = ", ".join(sorted({e.service_port for e in explain(ruleset)})) or "none"
        raise NotFound(f"no rules for {service_port!r} (service ports: {known})")
    return found[0]
