"""The values: rules, chains, tables and rule sets, and the matches read from a rule's words."""

from __future__ import annotations

import dataclasses
import socket
from collections.abc import Iterable
from ipaddress import IPv4Address, IPv4Network
from typing import Any, Literal, get_args

from .._speed import slot_setters
from ..errors import InvalidValue, NotFound
from ._extensions import _TARGET_EXTENSIONS, _WordError, _addrtypes, _markmask, _port_range, _protocol_name, _reject_name, _xmark
from ._save import _match_save_words, _save_words
from ._shape import _Plan, _checked_plan
from ._tokenize import _NEEDS_QUOTES

# The built-in chains of each table, in the order iptables-save lists them (hook order).
BUILTIN_CHAINS: dict[str, tuple[str, ...]] = {
    "raw": ("PREROUTING", "OUTPUT"),
    "mangle": ("PREROUTING", "INPUT", "FORWARD", "OUTPUT", "POSTROUTING"),
    "filter": ("INPUT", "FORWARD", "OUTPUT"),
    "nat": ("PREROUTING", "INPUT", "OUTPUT", "POSTROUTING"),
    "security": ("INPUT", "FORWARD", "OUTPUT"),
}
TABLES = tuple(BUILTIN_CHAINS)

# ctime() of a clearly made-up instant (the Unix epoch), so rendered dumps are deterministic.
SAMPLE_DATE = "Thu Jan  1 00:00:00 1970"
_MAX_CHAIN_NAME = 28  # XT_EXTENSION_MAXNAMELEN - 1: iptables refuses longer chain names
# --- values --------------------------------------------------------------------------


# What ``-m recent`` does with the source address: the option without its dashes.
RecentCommand = Literal["set", "rcheck", "update", "remove"]
_RECENT_COMMANDS: tuple[RecentCommand, ...] = get_args(RecentCommand)


@dataclasses.dataclass(frozen=True, slots=True)
class RecentMatch:
    """``-m recent`` (session affinity): the list, the command (set/rcheck/update/remove), its window.

    >>> RecentMatch("KUBE-SEP-A", "check")
    Traceback (most recent call last):
    ...
    k8snet_lesson.errors.InvalidValue: -m recent command 'check' is not one of set, rcheck, update, remove
    """

    name: str
    command: RecentCommand
    seconds: int | None = None
    reap: bool = False
    negated: bool = False

    def __post_init__(self) -> None:
        if self.command not in _RECENT_COMMANDS:
            raise InvalidValue(f"-m recent command {self.command!r} is not one of {', '.join(_RECENT_COMMANDS)}")


@dataclasses.dataclass(frozen=True, slots=True)
class AddrTypeMatch:
    """``-m addrtype``: source and destination address types (``LOCAL``, ``UNICAST``...)."""

    src_types: tuple[str, ...] = ()
    dst_types: tuple[str, ...] = ()
    src_negated: bool = False
    dst_negated: bool = False


@dataclasses.dataclass(frozen=True, slots=True)
class MarkMatch:
    """``-m mark [!] --mark value/mask``: matches when ``packet_mark & mask == value``."""

    value: int
    mask: int = 0xFFFFFFFF
    negated: bool = False

    def matches(self, mark: int) -> bool:
        return ((mark & self.mask) == self.value) != self.negated


@dataclasses.dataclass(frozen=True, slots=True, init=False)
class Rule:
    """One rule: the chain it is appended to and its words after ``-A CHAIN``.

    ``counters`` are ``(packets, bytes)`` when the text carried them. The typed views
    below (``comment``, ``target``, ``destination``...) are read from the words on first
    use: the rule's shape (which word is an option, which a value) is worked out once per
    shape and shared, so building a Rule stays as cheap as building a tuple.
    A rule whose words iptables would refuse raises :class:`InvalidValue` from its views.
    """

    chain: str
    args: tuple[str, ...]
    counters: tuple[int, int] | None = None
    # The shape of ``args`` (see _Plan), worked out on first use. Not an init field, so
    # dataclasses.replace(rule, args=...) starts the new rule without a stale one.
    _plan: Any = dataclasses.field(default=None, init=False, repr=False, compare=False, hash=False)

    def __init__(self, chain: str, args: tuple[str, ...], counters: tuple[int, int] | None = None, *,
                 _plan: Any = None) -> None:
        # Hundreds of thousands of rules per sync: fill the slots directly (see _speed).
        _set_rule_chain(self, chain)
        _set_rule_args(self, args)
        _set_rule_counters(self, counters)
        _set_rule_plan(self, _plan)

    @property
    def _words(self) -> _Plan:
        plan = self._plan
        if plan is None:
            try:
                plan = _checked_plan(self.args)
            except _WordError as exc:
                word = self.args[exc.index] if exc.index < len(self.args) else "(end of rule)"
                raise InvalidValue(f"rule in chain {self.chain}: {exc.message} {word!r}") from None
            object.__setattr__(self, "_plan", plan)
        return plan

    def _option(self, module_name: str, option: str) -> tuple[bool, tuple[str, ...]] | None:
        args = self.args
        for module in self._words.matches:
            if module.name == module_name and module.known:
                value = module.get(option)
                if value is not None:
                    return value[0], tuple(args[p] for p in value[1])
        return None

    # -- typed views ------------------------------------------------------------------
    @property
    def comment(self) -> str | None:
        """The ``-m comment --comment`` text (the first one), unquoted."""
        position = self._words.comment
        return None if position is None else self.args[position]

    @property
    def target(self) -> str | None:
        """The word after ``-j`` (or ``-g``): a verdict, a target extension or a chain."""
        position = self._words.target
        return None if position is None else self.args[position]

    @property
    def goto(self) -> bool:
        """Whether the rule uses ``-g`` (goto: a RETURN from that chain returns past this one)."""
        return self._words.goto

    @property
    def jump_chain(self) -> str | None:
        """The user chain this rule jumps to, or None for verdicts and target extensions."""
        plan = self._words
        if plan.target is None or plan.target_module.known:
            return None
        target = self.args[plan.target]
        return None if target in _TARGET_EXTENSIONS else target

    @property
    def target_args(self) -> tuple[str, ...]:
        """The target's own words (``--to-destination 10.0.0.1:80``), as written."""
        args = self.args
        return tuple(args[p] for p in self._words.target_words)

    @property
    def source(self) -> IPv4Network | None:
        """``-s``: the source network (a host is a /32), or None; see :attr:`source_negated`."""
        position = self._words.src
        return None if position is None else IPv4Network(self.args[position], strict=False)

    @property
    def source_negated(self) -> bool:
        return self._words.src_neg

    @property
    def destination(self) -> IPv4Network | None:
        """``-d``: the destination network (a host is a /32), or None."""
        position = self._words.dst
        return None if position is None else IPv4Network(self.args[position], strict=False)

    @property
    def destination_negated(self) -> bool:
        return self._words.dst_neg

    @property
    def destination_address(self) -> IPv4Address | None:
        """``-d`` when it names one host (kube-proxy's ``-d 10.96.0.10``, or ``/32``), else None."""
        position = self._words.dst
        if position is None or self._words.dst_neg:
            return None
        return _host_address(self.args[position])

    def uses(self, module: str) -> bool:
        """Whether the rule loads ``-m module`` (or the protocol match it implies)."""
        return module in self._words.module_names

    @property
    def protocol(self) -> str | None:
        """``-p``, lower case (``tcp``), or None when the rule matches every protocol."""
        position = self._words.proto
        return None if position is None else _protocol_name(self.args[position])

    @property
    def protocol_negated(self) -> bool:
        return self._words.proto_neg

    @property
    def in_interface(self) -> str | None:
        position = self._words.iface_in
        return None if position is None else self.args[position]

    @property
    def out_interface(self) -> str | None:
        position = self._words.iface_out
        return None if position is None else self.args[position]

    @property
    def modules(self) -> tuple[str, ...]:
        """The ``-m`` modules, in the order they were loaded (implicit ``-p tcp`` ones too)."""
        return tuple(m.name for m in self._words.matches)

    @property
    def dport_range(self) -> tuple[int, int] | None:
        """The tcp/udp/sctp ``--dport`` as ``(first, last)``, or None."""
        position = self._words.dport
        return None if position is None else _port_range(self.args[position])

    @property
    def dport(self) -> int | None:
        """The tcp/udp/sctp ``--dport`` when it is one port (a range gives None)."""
        position = self._words.dport
        if position is None:
            return None
        first, last = _port_range(self.args[position])
        return first if first == last else None

    @property
    def dport_negated(self) -> bool:
        return self._words.dport_neg

    @property
    def sport_range(self) -> tuple[int, int] | None:
        position = self._words.sport
        return None if position is None else _port_range(self.args[position])

    @property
    def sport_negated(self) -> bool:
        return self._words.sport_neg

    @property
    def probability(self) -> float | None:
        """``-m statistic --mode random --probability``, as written (not as the kernel keeps it)."""
        position = self._words.probability
        return None if position is None else float(self.args[position])

    @property
    def probability_text(self) -> str | None:
        """The probability word exactly as this rule's text prints it (``0.3333333333``)."""
        position = self._words.probability
        return None if position is None else self.args[position]

    @property
    def nth(self) -> tuple[int, int] | None:
        """``-m statistic --mode nth --every N [--packet P]`` as ``(N, P)``: the rule takes
        one packet in N, the P-th of each round (counting from 0)."""
        statistic = self._option("statistic", "--mode")
        if statistic is None or statistic[1][0] != "nth":
            return None
        every = self._option("statistic", "--every")
        packet = self._option("statistic", "--packet")
        return int(every[1][0]), int(packet[1][0]) if packet else 0

    def match_words(self, skip: Iterable[str] = ()) -> tuple[str, ...]:
        """What the rule matches, as iptables-save prints it, leaving out the modules in
        ``skip`` (e.g. ``("comment", "statistic")``) and the target."""
        return tuple(_match_save_words(self._words, self.args, frozenset(skip)))

    @property
    def dnat_text(self) -> str | None:
        """``-j DNAT --to-destination`` as written: ``ip[-ip][:port[-port]]``."""
        position = self._words.dnat
        return None if position is None else self.args[position]

    @property
    def dnat_destination(self) -> tuple[IPv4Address, int | None] | None:
        """``-j DNAT --to-destination ip[:port]`` as ``(IPv4Address, port)``, or None."""
        position = self._words.dnat
        if position is None:
            return None
        address, _, port = self.args[position].partition(":")
        return _address_of(address.split("-", 1)[0]), (int(port.split("-", 1)[0]) if port else None)

    @property
    def recent(self) -> RecentMatch | None:
        """``-m recent`` (session affinity): list name, command and ``--seconds``."""
        for module in self._words.matches:
            if module.name == "recent" and module.known:
                # The parser has checked that exactly one command is given.
                command, negated = next((c, value[0]) for c in _RECENT_COMMANDS
                                        if (value := module.get("--" + c)) is not None)
                seconds = module.get("--seconds")
                name = module.get("--name")
                return RecentMatch(
                    name=self.args[name[1][0]] if name else "DEFAULT",
                    command=command,
                    seconds=int(self.args[seconds[1][0]]) if seconds else None,
                    reap=module.get("--reap") is not None,
                    negated=negated,
                )
        return None

    @property
    def addrtype(self) -> AddrTypeMatch | None:
        """``-m addrtype``: e.g. ``--dst-type LOCAL`` (an address of this host)."""
        for module in self._words.matches:
            if module.name == "addrtype" and module.known:
                src, dst = module.get("--src-type"), module.get("--dst-type")
                return AddrTypeMatch(
                    src_types=_addrtypes(self.args[src[1][0]]) if src else (),
                    dst_types=_addrtypes(self.args[dst[1][0]]) if dst else (),
                    src_negated=bool(src and src[0]),
                    dst_negated=bool(dst and dst[0]),
                )
        return None

    @property
    def mark_match(self) -> MarkMatch | None:
        """``-m mark [!] --mark value[/mask]``."""
        option = self._option("mark", "--mark")
        if option is None:
            return None
        mark, mask = _markmask(option[1][0])
        return MarkMatch(mark, mask, option[0])

    @property
    def mark_target(self) -> tuple[int, int] | None:
        """``-j MARK``'s effect as the kernel keeps it: ``(value, mask)`` of ``--set-xmark``.

        The new mark is ``(mark & ~mask) ^ value``.
        """
        plan = self._words
        if plan.target_name != "MARK":
            return None
        return _xmark(plan.target_module, self.args)

    @property
    def ctstates(self) -> tuple[frozenset[str], bool] | None:
        """``-m conntrack --ctstate`` (or ``-m state --state``): the states and the negation."""
        option = self._option("conntrack", "--ctstate") or self._option("state", "--state")
        if option is None:
            return None
        return frozenset(s.upper() for s in option[1][0].split(",")), option[0]

    @property
    def reject_with(self) -> str | None:
        """REJECT's reply, by its full name (``icmp-port-unreachable`` unless given)."""
        plan = self._words
        if plan.target_name != "REJECT":
            return None
        value = plan.target_module.get("--reject-with")
        return _reject_name(None if value is None else self.args[value[1][0]])

    @property
    def save_args(self) -> tuple[str, ...]:
        """The words as ``iptables-save`` prints this rule back, after ``-A CHAIN``."""
        return tuple(_save_words(self._words, self.args))


def _address_of(text: str) -> IPv4Address:
    """A checked dotted quad as an IPv4Address (inet_aton is the quick way for checked text)."""
    return IPv4Address(socket.inet_aton(text))


def _host_address(text: str) -> IPv4Address | None:
    address, slash, mask = text.partition("/")
    if slash and mask not in ("32", "255.255.255.255"):
        return None
    return _address_of(address)


_set_rule_chain, _set_rule_args, _set_rule_counters, _set_rule_plan = slot_setters(
    Rule, "chain", "args", "counters", "_plan")


@dataclasses.dataclass(frozen=True, slots=True, init=False)
class Chain:
    """A chain declaration (``:NAME POLICY [packets:bytes]``); user chains have policy ``-``."""

    name: str
    policy: str = "-"
    counters: tuple[int, int] = (0, 0)

    def __init__(self, name: str, policy: str = "-", counters: tuple[int, int] = (0, 0)) -> None:
        _set_chain_name(self, name)
        _set_chain_policy(self, policy)
        _set_chain_counters(self, counters)


_set_chain_name, _set_chain_policy, _set_chain_counters = slot_setters(Chain, "name", "policy", "counters")


@dataclasses.dataclass(frozen=True, slots=True)
class Table:
    """One table (``*nat`` ... ``COMMIT``): its chains, in order, and its rules, in order."""

    name: str
    chains: tuple[Chain, ...]
    rules: tuple[Rule, ...]
    _index: Any = dataclasses.field(default=None, init=False, repr=False, compare=False, hash=False)

    def rules_in(self, chain: str) -> tuple[Rule, ...]:
        """The rules of ``chain``, in order (empty if it has none)."""
        index = self._index
        if index is None:
            grouped: dict[str, list[Rule]] = {}
            for rule in self.rules:
                bucket = grouped.get(rule.chain)
                if bucket is None:
                    grouped[rule.chain] = [rule]
                else:
                    bucket.append(rule)
            index = {name: tuple(rules) for name, rules in grouped.items()}
            object.__setattr__(self, "_index", index)
        return index.get(chain, ())

    def chain(self, name: str) -> Chain | None:
        """The declaration of chain ``name``, or None when the table does not declare it."""
        return next((c for c in self.chains if c.name == name), None)

    def has_chain(self, name: str) -> bool:
        """Whether ``name`` exists here: declared, built in, or holding rules."""
        return (
            self.chain(name) is not None
            or name in BUILTIN_CHAINS.get(self.name, ())
            or bool(self.rules_in(name))
        )


@dataclasses.dataclass(frozen=True, slots=True)
class RuleSet:
    """Several tables, as one iptables-restore input or one iptables-save dump."""

    tables: tuple[Table, ...]

    def __str__(self) -> str:
        from ._render import to_restore  # the rendering module reads these values

        return to_restore(self)

    def table(self, name: str) -> Table:
        """The (first) table called ``name``."""
        for table in self.tables:
            if table.name == name:
                return table
        known = ", ".join(t.name for t in self.tables) or "none"
        raise NotFound(f"no table {name!r} in this rule set (tables: {known})")

    def get_table(self, name: str) -> Table | None:
        """The (first) table called ``name``, or None."""
        return next((t for t in self.tables if t.name == name), None)

    @property
    def rule_count(self) -> int:
        return sum(len(t.rules) for t in self.tables)



def _chain_problem(name: str) -> str | None:
    """Why iptables would refuse ``name`` as a chain name, or None."""
    if not name:
        return "empty chain name"
    if len(name) > _MAX_CHAIN_NAME:
        return f"chain name too long ({_MAX_CHAIN_NAME} characters at most)"
    if name[0] in "-!":
        return "a chain name cannot start with '-' or '!'"
    if _NEEDS_QUOTES.search(name):
        return "a chain name cannot hold spaces or quotes"
    return None
