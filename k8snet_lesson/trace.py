"""Follow one new connection through a node's rules, as kube-proxy's own unit tests do.

kube-proxy checks its rules by tracing packets through them (``tracePacket`` in
``pkg/proxy/iptables/proxier_test.go``): nat PREROUTING (OUTPUT for a connection the
node itself opens), where KUBE-SERVICES matches the Service, KUBE-SVC picks endpoints
and KUBE-SEP DNATs; then the filter chains kube-proxy owns (KUBE-SERVICES,
KUBE-EXTERNAL-SERVICES, KUBE-NODEPORTS, KUBE-PROXY-FIREWALL; here also KUBE-FIREWALL)
with the rewritten destination, where REJECT/DROP/ACCEPT rules may stop it; then nat
POSTROUTING, where the masquerade mark (0x4000, set by KUBE-MARK-MASQ) turns into SNAT.

Where kube-proxy's tracer lists every endpoint a ``--probability`` rule may lead to, this
one follows both sides of each such rule and carries the share of connections down each
path, so every reachable endpoint comes with its share (the same numbers as
:mod:`k8snet_lesson.explain`). It runs the chains, jumps, gotos and RETURNs as the
kernel does, applies MARK targets to the packet's mark and reads ``-m mark`` from it,
treats the node's addresses (and 127.0.0.0/8) as ``--dst-type LOCAL``, and sees a new
connection: ``--ctstate NEW`` (plus ``DNAT`` once rewritten), a SYN for ``--syn``, and no
``-m recent`` entry yet (session affinity pins only returning clients).

What it simplifies: interfaces (``-i``/``-o``) and extensions it does not know (physdev,
ipset...) are taken to match, as kube-proxy's tracer does; routing is not modelled, so
the filter chains are run directly rather than through INPUT/FORWARD/OUTPUT; a missing
``--sport`` is taken to satisfy any source-port condition.

    >>> from k8snet_lesson.iptables import parse
    >>> rules = parse('''*nat
    ... -A KUBE-SERVICES -m comment --comment "ns1/svc1:p80 cluster IP" -m tcp -p tcp -d 172.30.0.41 --dport 80 -j KUBE-SVC-X
    ... -A KUBE-SVC-X -m comment --comment "ns1/svc1:p80 cluster IP" -m tcp -p tcp -d 172.30.0.41 --dport 80 ! -s 10.0.0.0/8 -j KUBE-MARK-MASQ
    ... -A KUBE-SVC-X -m comment --comment "ns1/svc1:p80 -> 10.180.0.1:80" -j KUBE-SEP-A
    ... -A KUBE-SEP-A -m comment --comment ns1/svc1:p80 -s 10.180.0.1 -j KUBE-MARK-MASQ
    ... -A KUBE-SEP-A -m comment --comment ns1/svc1:p80 -m tcp -p tcp -j DNAT --to-destination 10.180.0.1:80
    ... -A KUBE-MARK-MASQ -j MARK --or-mark 0x4000
    ... COMMIT
    ... ''')
    >>> print(trace(rules, Packet("10.0.0.2", "172.30.0.41", 80)).summary())
    from 10.0.0.2 to 172.30.0.41:80 -> 10.180.0.1:80, masqueraded: no
    >>> print(trace(rules, Packet("203.0.113.2", "172.30.0.41", 80)).summary())
    from 203.0.113.2 to 172.30.0.41:80 -> 10.180.0.1:80, masqueraded: yes
"""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Iterator
from ipaddress import IPv4Address, IPv4Network
from typing import Any

from .cluster import Protocol, ipv4_address
from .errors import InvalidValue
from .iptables import Rule, RuleSet, Table

__all__ = ["Verdict", "Packet", "Destination", "Path", "Trace", "trace"]

MASQUERADE_MARK = 0x4000  # kube-proxy's --iptables-masquerade-bit 14
_LOOPBACK = IPv4Network("127.0.0.0/8")
_FILTER_CHAINS = ("KUBE-SERVICES", "KUBE-EXTERNAL-SERVICES", "KUBE-NODEPORTS", "KUBE-PROXY-FIREWALL", "KUBE-FIREWALL")
_MAX_DEPTH = 200  # iptables refuses loops; this bounds a malformed set


class Verdict(str, enum.Enum):
    """Where a connection ends: rewritten to an endpoint, refused, dropped, or let through unchanged."""

    DNAT = "DNAT"
    REJECT = "REJECT"
    DROP = "DROP"
    ACCEPT = "ACCEPT"



def _port(value: Any, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 65535:
        raise InvalidValue(f"{what} {value!r} is not a port number (1-65535)")
    return value


@dataclasses.dataclass(frozen=True)
class Packet:
    """The first packet of a new connection: addresses, destination port, protocol."""

    source: IPv4Address
    destination: IPv4Address
    dport: int
    protocol: Protocol = Protocol.TCP
    sport: int | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "source", ipv4_address(self.source, "source"))
        object.__setattr__(self, "destination", ipv4_address(self.destination, "destination"))
        _port(self.dport, "destination port")
        if self.sport is not None:
            _port(self.sport, "source port")
        if not isinstance(self.protocol, Protocol):
            try:
                object.__setattr__(self, "protocol", Protocol(str(self.protocol).upper()))
            except ValueError:
                raise InvalidValue(f"protocol {self.protocol!r} is not one of TCP, UDP, SCTP") from None


@dataclasses.dataclass(frozen=True)
class Destination:
    """An endpoint the connection can reach, with its share of new connections."""

    address: IPv4Address
    port: int
    share: float
    chain: str  # the KUBE-SEP chain whose DNAT chose it
    masqueraded: bool = False
    rules: tuple[Rule, ...] = ()


@dataclasses.dataclass(frozen=True)
class Path:
    """One way through the rules: its verdict, the share of connections that take it, the rules matched."""

    verdict: Verdict
    share: float
    rules: tuple[Rule, ...]
    masqueraded: bool = False
    destination: tuple[IPv4Address, int] | None = None
    chain: str | None = None


@dataclasses.dataclass(frozen=True)
class Trace:
    """A connection traced through a rule set.

    ``rules`` are the rules matched before the paths fork; ``destinations`` every endpoint
    reachable, with its share; ``masqueraded`` whether any path is SNATed (each
    destination says for itself); ``verdict`` DNAT if any path is rewritten, else the
    verdict most connections get (ACCEPT: no kube-proxy rule stopped or rewrote it).
    """

    packet: Packet
    rules: tuple[Rule, ...]
    destinations: tuple[Destination, ...]
    masqueraded: bool
    verdict: Verdict
    paths: tuple[Path, ...] = ()

    def share_of(self, verdict: Verdict | str) -> float:
        """The share of connections that end with ``verdict``."""
        verdict = Verdict(verdict)
        return sum(p.share for p in self.paths if p.verdict == verdict)

    def summary(self) -> str:
        """One line in kube-proxy's packet-flow style: where it goes, and whether it is SNATed."""
        packet = self.packet
        suffix = "" if packet.protocol == Protocol.TCP else f"/{packet.protocol.iptables}"
        head = f"from {packet.source} to {packet.destination}:{packet.dport}{suffix} -> "
        if self.verdict == Verdict.DNAT:
            head += ", ".join(f"{d.address}:{d.port}" for d in self.destinations)
            others = [f"{v.value} {self.share_of(v):.0%}" for v in (Verdict.REJECT, Verdict.DROP, Verdict.ACCEPT)
                      if self.share_of(v) > 1e-12]
            if others:
                head += " (" + ", ".join(others) + ")"
        else:
            head += self.verdict.value
        masqueraded = [d for d in self.destinations if d.masqueraded]
        if not self.masqueraded:
            masq = "no"
        elif not self.destinations or len(masqueraded) == len(self.destinations):
            masq = "yes"
        else:
            masq = "only to " + ", ".join(f"{d.address}:{d.port}" for d in masqueraded)
        return f"{head}, masqueraded: {masq}"


# --- walking the chains -------------------------------------------------------------------


@dataclasses.dataclass(frozen=True, slots=True)
class _State:
    share: float
    mark: int
    rules: tuple[Rule, ...]
    destination: IPv4Address
    dport: int
    dnat: bool = False
    chain: str | None = None  # the chain that DNATed


@dataclasses.dataclass(frozen=True, slots=True)
class _Outcome:
    kind: str  # "return", or a verdict: "ACCEPT", "DROP", "REJECT", "DNAT", "MASQUERADE"
    state: _State


class _Walker:
    def __init__(self, table: Table, packet: Packet, local: frozenset[IPv4Address]) -> None:
        self.table = table
        self.packet = packet
        self.local = local
        self.protocol = packet.protocol.iptables

    # -- does a rule match? ---------------------------------------------------------------
    def _address_type(self, address: IPv4Address) -> str:
        if address in self.local or address in _LOOPBACK:
            return "LOCAL"
        if address == IPv4Address("255.255.255.255"):
            return "BROADCAST"
        if address.is_multicast:
            return "MULTICAST"
        return "UNICAST"

    def chance(self, rule: Rule, state: _State) -> float:
        """The probability that ``rule`` matches this connection (0, 1, or a statistic's p)."""
        packet = self.packet
        network = rule.source
        if network is not None and (packet.source in network) == rule.source_negated:
            return 0.0
        network = rule.destination
        if network is not None and (state.destination in network) == rule.destination_negated:
            return 0.0
        protocol = rule.protocol
        if protocol is not None and (protocol == self.protocol) == rule.protocol_negated:
            return 0.0
        fragment = rule._words.fragment
        if fragment is True:
            return 0.0  # a connection's first packet is not a fragment
        chance = 1.0
        for module in rule.modules:
            if module in ("tcp", "udp", "sctp"):
                if module != self.protocol or not self._ports_match(rule, state):
                    return 0.0
                if module == "tcp" and not self._flags_match(rule):
                    return 0.0
            elif module == "multiport":
                if not self._multiport_match(rule, state):
                    return 0.0
            elif module == "statistic":
                chance *= self._statistic(rule)
            elif module == "recent":
                recent = rule.recent
                # a new client has no entry yet: --set matches (and adds one), the checks do not
                if (recent.command == "set") == recent.negated:
                    return 0.0
            elif module == "addrtype":
                types = rule.addrtype
                if types.src_types and (self._address_type(packet.source) in types.src_types) == types.src_negated:
                    return 0.0
                if types.dst_types and (self._address_type(state.destination) in types.dst_types) == types.dst_negated:
                    return 0.0
            elif module == "mark":
                if not rule.mark_match.matches(state.mark):
                    return 0.0
            elif module in ("conntrack", "state"):
                found = rule.ctstates
                if found is not None:
                    states, negated = found
                    current = {"NEW", "DNAT"} if state.dnat else {"NEW"}
                    if bool(states & current) == negated:
                        return 0.0
        return chance

    def _ports_match(self, rule: Rule, state: _State) -> bool:
        ports = rule.dport_range
        if ports is not None and (ports[0] <= state.dport <= ports[1]) == rule.dport_negated:
            return False
        ports = rule.sport_range
        sport = self.packet.sport
        if ports is not None and sport is not None and (ports[0] <= sport <= ports[1]) == rule.sport_negated:
            return False
        return True

    def _flags_match(self, rule: Rule) -> bool:
        plan = rule._words
        for module in plan.matches:
            if module.name == "tcp" and module.known:
                flags = module.get("--tcp-flags")
                syn = module.get("--syn")
                if syn is not None:
                    return not syn[0]  # the first packet is a SYN
                if flags is not None:
                    mask = _flag_bits(rule.args[flags[1][0]])
                    compare = _flag_bits(rule.args[flags[1][1]])
                    return ((0x02 & mask) == compare) != flags[0]
        return True

    def _multiport_match(self, rule: Rule, state: _State) -> bool:
        for module in rule._words.matches:
            if module.name != "multiport" or not module.known:
                continue
            for option, negated, positions in module.options:
                ports = []
                for item in rule.args[positions[0]].split(","):
                    first, _, last = item.partition(":")
                    ports.append((int(first), int(last) if last else int(first)))
                wanted = {"--dports": [state.dport], "--sports": [self.packet.sport],
                          "--ports": [state.dport, self.packet.sport]}[option]
                hit = any(p is not None and a <= p <= b for p in wanted for a, b in ports)
                if option == "--sports" and self.packet.sport is None:
                    hit = not negated
                if hit == negated:
                    return False
        return True

    def _statistic(self, rule: Rule) -> float:
        for module in rule._words.matches:
            if module.name != "statistic" or not module.known:
                continue
            negated, (position,) = module.get("--probability") or module.get("--every")
            value = float(rule.args[position])
            p = value if module.get("--probability") else 1.0 / value
            return 1.0 - p if negated else p
        return 1.0

    # -- running chains -------------------------------------------------------------------
    def run(self, chain: str, state: _State, depth: int = 0) -> Iterator[_Outcome]:
        if depth > _MAX_DEPTH:
            raise InvalidValue(f"chain {chain}: jumps nest more than {_MAX_DEPTH} deep (a loop?)")
        yield from self._rules(self.table.rules_in(chain), 0, state, depth)

    def _rules(self, rules: tuple[Rule, ...], start: int, state: _State, depth: int) -> Iterator[_Outcome]:
        for index in range(start, len(rules)):
            rule = rules[index]
            chance = self.chance(rule, state)
            if chance <= 0.0:
                continue
            if chance < 1.0:
                yield from self._apply(rules, index, dataclasses.replace(state, share=state.share * chance), depth)
                yield from self._rules(rules, index + 1, dataclasses.replace(state, share=state.share * (1 - chance)),
                                       depth)
                return
            yield from self._apply(rules, index, state, depth)
            return
        yield _Outcome("return", state)

    def _apply(self, rules: tuple[Rule, ...], index: int, state: _State, depth: int) -> Iterator[_Outcome]:
        rule = rules[index]
        state = dataclasses.replace(state, rules=state.rules + (rule,))
        target = rule.target
        if target in ("ACCEPT", "DROP", "REJECT", "MASQUERADE", "SNAT"):
            yield _Outcome(target, state)
            return
        if target == "RETURN":
            yield _Outcome("return", state)
            return
        if target == "DNAT":
            address, port = rule.dnat_destination
            yield _Outcome("DNAT", dataclasses.replace(
                state, destination=address, dport=state.dport if port is None else port, dnat=True, chain=rule.chain))
            return
        if target == "MARK":
            value, mask = rule.mark_target
            state = dataclasses.replace(state, mark=(state.mark & ~mask & 0xFFFFFFFF) ^ value)
        chain = rule.jump_chain
        if chain is None:  # no target, or one that does not end the walk (LOG, MARK, CT...)
            yield from self._rules(rules, index + 1, state, depth + 1)
            return
        if not self.table.rules_in(chain) and chain == "KUBE-MARK-MASQ" and self.table.chain(chain) is None:
            # a partial set that jumps to kube-proxy's marking chain without writing it
            state = dataclasses.replace(state, mark=state.mark | MASQUERADE_MARK)
        for outcome in self.run(chain, state, depth + 1):
            if outcome.kind != "return":
                yield outcome
            elif rule.goto:  # -g: a RETURN goes back past this chain too
                yield outcome
            else:
                yield from self._rules(rules, index + 1, outcome.state, depth + 1)


def _flag_bits(text: str) -> int:
    bits = {"FIN": 0x01, "SYN": 0x02, "RST": 0x04, "PSH": 0x08, "ACK": 0x10, "URG": 0x20, "ALL": 0x3F, "NONE": 0}
    value = 0
    for name in text.split(","):
        value |= bits[name.upper()]
    return value


def _has_rules(table: Table | None, chain: str) -> bool:
    return table is not None and bool(table.rules_in(chain))


def trace(ruleset: RuleSet, packet: Packet, *, from_node: bool = False, node_ip: Any = None) -> Trace:
    """Where the rules send ``packet``: every endpoint with its share, and whether it is SNATed.

    ``from_node`` traces a connection the node opens itself (nat OUTPUT instead of
    PREROUTING); ``node_ip`` is the node's address, which ``--dst-type LOCAL`` matches.
    The walk starts at the built-in chain when the set has rules in it, else at
    KUBE-SERVICES (kube-proxy's restore input has no built-in chains).
    """
    if not isinstance(packet, Packet):
        raise InvalidValue(f"expected a Packet, got {type(packet).__name__}")
    local = {ipv4_address(node_ip, "node IP")} if node_ip is not None else set()
    if from_node:
        local.add(packet.source)
    local = frozenset(local)
    nat = ruleset.get_table("nat")
    filter_ = ruleset.get_table("filter")
    start = _State(share=1.0, mark=0, rules=(), destination=packet.destination, dport=packet.dport)

    # 1. nat PREROUTING (or OUTPUT): KUBE-SERVICES, KUBE-SVC, KUBE-SEP's DNAT
    if nat is None:
        after_nat = [_Outcome("return", start)]
    else:
        builtin = "OUTPUT" if from_node else "PREROUTING"
        first = builtin if _has_rules(nat, builtin) else "KUBE-SERVICES"
        after_nat = list(_Walker(nat, packet, local).run(first, start))

    # 2. the filter chains kube-proxy owns, with the rewritten destination
    after_filter: list[tuple[str, _State]] = []
    for outcome in after_nat:
        verdict = "DNAT" if outcome.kind == "DNAT" else ("ACCEPT" if outcome.kind in ("return", "ACCEPT") else outcome.kind)
        if verdict in ("DROP", "REJECT") or filter_ is None:
            after_filter.append((verdict, outcome.state))
            continue
        walker = _Walker(filter_, packet, local)
        pending = [outcome.state]
        for chain in _FILTER_CHAINS:
            next_pending = []
            for state in pending:
                for result in walker.run(chain, state):
                    if result.kind in ("DROP", "REJECT"):
                        after_filter.append((result.kind, result.state))
                    elif result.kind == "ACCEPT":
                        after_filter.append((verdict, result.state))
                    else:
                        next_pending.append(result.state)
            pending = next_pending
        after_filter.extend((verdict, state) for state in pending)

    # 3. nat POSTROUTING: the masquerade mark becomes SNAT
    paths = [_postrouting(nat, packet, local, verdict, state) for verdict, state in after_filter]
    return _summarise(packet, paths)


def _postrouting(nat: Table | None, packet: Packet, local: frozenset[IPv4Address], verdict: str, state: _State) -> Path:
    masqueraded = False
    if verdict not in ("DROP", "REJECT"):
        chain = "POSTROUTING" if _has_rules(nat, "POSTROUTING") else (
            "KUBE-POSTROUTING" if _has_rules(nat, "KUBE-POSTROUTING") else None)
        if chain is None:
            masqueraded = bool(state.mark & MASQUERADE_MARK)
        else:
            post = dataclasses.replace(state, rules=())
            outcomes = list(_Walker(nat, packet, local).run(chain, post))
            masqueraded = any(o.kind in ("MASQUERADE", "SNAT") for o in outcomes)
    destination = (state.destination, state.dport) if verdict == "DNAT" else None
    return Path(Verdict(verdict), state.share, state.rules, masqueraded, destination, state.chain)


def _common_prefix(paths: list[Path]) -> tuple[Rule, ...]:
    if not paths:
        return ()
    prefix = paths[0].rules
    for path in paths[1:]:
        n = 0
        for a, b in zip(prefix, path.rules):
            if a is not b:
                break
            n += 1
        prefix = prefix[:n]
    return prefix


def _summarise(packet: Packet, paths: list[Path]) -> Trace:
    destinations: dict[tuple[IPv4Address, int, str | None, bool], Destination] = {}
    for path in paths:
        if path.verdict != Verdict.DNAT or path.destination is None:
            continue
        address, port = path.destination
        key = (address, port, path.chain, path.masqueraded)
        found = destinations.get(key)
        if found is None:
            destinations[key] = Destination(address, port, path.share, path.chain or "", path.masqueraded, path.rules)
        else:
            destinations[key] = dataclasses.replace(found, share=found.share + path.share)
    if destinations:
        verdict = Verdict.DNAT
    else:
        totals: dict[Verdict, float] = {}
        for path in paths:
            totals[path.verdict] = totals.get(path.verdict, 0.0) + path.share
        verdict = max(totals, key=lambda v: totals[v]) if totals else Verdict.ACCEPT
    return Trace(
        packet=packet,
        rules=_common_prefix(paths),
        destinations=tuple(destinations.values()),
        masqueraded=any(p.masqueraded for p in paths),
        verdict=verdict,
        paths=tuple(paths),
    )
