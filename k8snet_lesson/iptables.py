"""iptables rule sets as values, in both real text forms, and their parser.

A :class:`Rule` is what follows ``-A CHAIN`` on one line: its words (arguments),
unquoted, in the order they were written. That is how iptables-restore itself reads a
line, and it keeps kube-proxy's own word order (``-m comment --comment ... -m tcp -p tcp
-d IP --dport 80 -j ...``) so ``parse(str(ruleset)) == ruleset`` holds exactly. Typed
views (destination network, ports, probability, target, comment) are read from the words.

Two renderings, both real:

* :func:`to_restore` (also ``str(ruleset)``) is the ``iptables-restore`` input kube-proxy
  writes: ``*table``, ``:CHAIN - [0:0]``, ``-A CHAIN words...`` with a word wrapped in
  double quotes when it holds whitespace (``--comment "ns1/svc1 cluster IP"`` but
  ``--comment ns1/svc1``), ``COMMIT``. For kube-proxy's rules this is byte for byte the
  text kube-proxy hands to iptables-restore.
* :func:`to_save` is what ``iptables-save`` prints on the node once the kernel has the
  rules: the format of iptables 1.8.9 (the version in Debian 12), whose save functions
  (``libxt_*.c``, ``libipt_*.c``, ``xshared.c``) are followed word for word: ``-s``,
  ``-d``, ``-i``, ``-o``, ``-p`` first, hosts as ``/32``; then each ``-m module`` in the
  order the modules were loaded, with its options in the module's own order
  (``-m tcp -p tcp`` becomes ``-p tcp -m tcp --dport 80``); then ``-j`` and the target's
  options. Comments are quoted by ``xtables_save_string`` (anything but ``[A-Za-z0-9_-]``
  is quoted); ``--probability`` is printed back from the 31-bit integer the kernel keeps
  (``lround(p * 2**31)``, printed with ``%.11f``: ``0.3333333333`` comes back as
  ``0.33333333349``); MARK is always ``--set-xmark value/mask`` (``--or-mark 0x4000`` is
  ``--set-xmark 0x4000/0x4000``, ``--xor-mark 0x4000`` is ``--set-xmark 0x4000/0x0``);
  REJECT names its ``--reject-with icmp-port-unreachable``; ``-m recent`` prints
  ``--rcheck --seconds 10800 --reap --name X --mask 255.255.255.255 --rsource``.

:func:`parse` reads the restore form, the save form (with or without ``[packets:bytes]``
counters), ``iptables -S`` output (``-P``/``-N``/``-A``, one table, no ``*table`` line)
and what older kube-proxy wrote (5-decimal probabilities, ``"ns/svc:"`` comments,
``MARK --set-xmark`` in KUBE-SEP chains). It tokenises like iptables-restore
(``add_param_to_argv``: double quotes group, a backslash escapes inside quotes, a closing
quote ends the word) and checks each rule the way iptables' option parser would for the
extensions kube-proxy uses, so bad input raises :class:`~k8snet_lesson.errors.ParseError`
with the source, line, word and a caret. Extensions it does not know keep their words.

What it simplifies: IPv4 only; port and protocol *names* (``--dport http``) are not
looked up in ``/etc/services``; chain counters print as ``[0:0]`` unless
``counters=True``; tables keep the order they were given (iptables-save lists them in
the kernel's order); an extension option claimed by two loaded modules goes to the most
recent one; ``-I``/``-N``/``-X``/``-F``/``-P`` lines are applied to the text's own rules
(there is no kernel state to append to).

    >>> rs = parse('''*nat
    ... :KUBE-SVC-X - [0:0]
    ... -A KUBE-SVC-X -m comment --comment "ns1/svc1 -> 10.0.1.2:80" -m statistic --mode random --probability 0.3333333333 -j KUBE-SEP-A
    ... COMMIT
    ... ''')
    >>> rule = rs.tables[0].rules[0]
    >>> rule.comment, rule.probability, rule.jump_chain
    ('ns1/svc1 -> 10.0.1.2:80', 0.3333333333, 'KUBE-SEP-A')
    >>> print(save_line(rule))
    -A KUBE-SVC-X -m comment --comment "ns1/svc1 -> 10.0.1.2:80" -m statistic --mode random --probability 0.33333333349 -j KUBE-SEP-A
"""

from __future__ import annotations

import dataclasses
import gc
import math
import operator
import re
import socket
import sys
from collections.abc import Iterable
from ipaddress import IPv4Address, IPv4Network
from typing import Any

from .errors import InvalidValue, NotFound, ParseError

__all__ = [
    "Rule",
    "Chain",
    "Table",
    "RuleSet",
    "RecentMatch",
    "AddrTypeMatch",
    "MarkMatch",
    "parse",
    "to_restore",
    "to_save",
    "save_line",
    "restore_line",
    "kernel_probability",
    "saved_probability_text",
    "BUILTIN_CHAINS",
    "TABLES",
    "SAMPLE_DATE",
]

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

# Verdicts and target extensions: anything else after -j is a user chain.
_VERDICTS = frozenset({"ACCEPT", "DROP", "RETURN", "QUEUE"})
_TARGET_EXTENSIONS = frozenset({
    "DNAT", "SNAT", "MASQUERADE", "REDIRECT", "NETMAP", "MARK", "CONNMARK", "REJECT", "LOG",
    "NFLOG", "NFQUEUE", "NOTRACK", "CT", "TRACE", "TPROXY", "TCPMSS", "CHECKSUM", "CLASSIFY",
    "DSCP", "TOS", "TTL", "SECMARK", "CONNSECMARK", "AUDIT", "TEE", "IDLETIMER", "LED",
    "HMARK", "SET", "SYNPROXY", "ULOG", "CLUSTERIP", "ECN", "TCPOPTSTRIP",
})

# getprotobynumber() for the protocols /etc/protocols names on Debian.
_PROTOCOL_NUMBERS = {"icmp": 1, "igmp": 2, "tcp": 6, "udp": 17, "gre": 47, "esp": 50, "ah": 51,
                     "ipv6-icmp": 58, "sctp": 132, "udplite": 136}
_PROTOCOL_NAMES = {number: name for name, number in _PROTOCOL_NUMBERS.items()}
_PROTOCOL_ALIASES = {"icmpv6": "ipv6-icmp"}


# --- values --------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True, slots=True)
class RecentMatch:
    """``-m recent`` (session affinity): the list, the command (set/rcheck/update/remove), its window."""

    name: str
    command: str
    seconds: int | None = None
    reap: bool = False
    negated: bool = False


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
        # The generator builds hundreds of thousands of rules: set the slots directly
        # rather than through object.__setattr__ as a frozen dataclass's __init__ does.
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
                command, negated = "", False
                for option in ("--set", "--rcheck", "--update", "--remove"):
                    value = module.get(option)
                    if value is not None:
                        command, negated = option[2:], value[0]
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


_set_rule_chain, _set_rule_args, _set_rule_counters, _set_rule_plan = (
    Rule.chain.__set__, Rule.args.__set__, Rule.counters.__set__, Rule._plan.__set__)


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


_set_chain_name, _set_chain_policy, _set_chain_counters = (
    Chain.name.__set__, Chain.policy.__set__, Chain.counters.__set__)


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


# --- the kernel's probability --------------------------------------------------------


def _lround(x: float) -> int:
    """C's lround for non-negative x: halves round away from zero."""
    return int(math.floor(x + 0.5))


def kernel_probability(p: float) -> float:
    """The probability the kernel really applies: ``lround(p * 2**31) / 2**31``.

    >>> kernel_probability(0.3333333333)
    0.33333333348855376
    """
    return _lround(p * 0x80000000) / 0x80000000


def saved_probability_text(p: float) -> str:
    """How iptables-save prints a ``--probability p`` back (``%.11f`` of the kernel's value).

    >>> saved_probability_text(0.3333333333), saved_probability_text(0.33333)
    ('0.33333333349', '0.33332999982')
    """
    return "%.11f" % kernel_probability(p)


# --- tokenising ----------------------------------------------------------------------


class _TokenError(Exception):
    def __init__(self, column: int, message: str, word: str) -> None:
        self.column, self.message, self.word = column, message, word


def _tokenize(line: str) -> list[tuple[str, int]]:
    """Split one line into ``(word, column)`` exactly as iptables-restore does.

    Outside quotes, spaces, tabs and newlines separate words and a backslash is an
    ordinary character; a double quote opens a quoted part (joined to what precedes it);
    inside quotes a backslash escapes the next character and the closing quote ends the
    word (so ``""`` is an empty word).
    """
    words: list[tuple[str, int]] = []
    buf: list[str] = []
    start = -1
    quote_open = False
    quote_column = 0
    escaped = False
    for i, ch in enumerate(line):
        if quote_open:
            if escaped:
                buf.append(ch)
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                quote_open = False
                words.append(("".join(buf), start))
                buf, start = [], -1
            else:
                buf.append(ch)
            continue
        if ch == '"':
            quote_open, quote_column = True, i
            if start < 0:
                start = i
        elif ch in " \t\n":
            if buf:
                words.append(("".join(buf), start))
                buf, start = [], -1
        else:
            if start < 0:
                start = i
            buf.append(ch)
    if quote_open:
        raise _TokenError(quote_column, "unterminated quote", line[quote_column:])
    if buf:
        words.append(("".join(buf), start))
    return words


def _split_quoted(line: str) -> list[str] | None:
    """The fast path of :func:`_tokenize` for printable lines without backslashes."""
    parts = line.split('"')
    if not len(parts) % 2:
        return None  # unterminated quote: the slow path reports where
    words: list[str] = []
    pending = ""
    last = len(parts) - 1
    for k, segment in enumerate(parts):
        if k % 2:
            words.append(pending + segment)
            pending = ""
            continue
        split = segment.split()
        if k < last and segment and segment[-1] != " ":
            pending = split.pop()
        words.extend(split)
    return words


# Quoting for the restore form: kube-proxy wraps a word in double quotes when it holds
# whitespace; a quote or backslash inside a quoted word is escaped so the text reads back.
_NEEDS_QUOTES = re.compile(r'[ \t"\n\r]')


def _restore_word(word: str) -> str:
    if word and not _NEEDS_QUOTES.search(word):
        return word
    if "\n" in word or "\r" in word:
        raise InvalidValue(f"the word {word!r} holds a line break, which iptables text cannot carry")
    return '"' + word.replace("\\", "\\\\").replace('"', '\\"') + '"'


_SAVE_PLAIN = re.compile(r"[A-Za-z0-9_-]+")


def _save_string(value: str) -> str:
    """``xtables_save_string``: quote unless only ``[A-Za-z0-9_-]``; escape ``"``, ``\\``, ``'``."""
    if _SAVE_PLAIN.fullmatch(value):
        return value
    out = value.replace("\\", "\\\\").replace('"', '\\"').replace("'", "\\'")
    return '"' + out + '"'


# Generic options (xshared.c): short and long spellings.
_GENERIC = {
    "-s": "s", "--source": "s", "--src": "s",
    "-d": "d", "--destination": "d", "--dst": "d",
    "-p": "p", "--protocol": "p",
    "-i": "i", "--in-interface": "i",
    "-o": "o", "--out-interface": "o",
    "-f": "f", "--fragment": "f",
    "-j": "j", "--jump": "j",
    "-g": "g", "--goto": "g",
    "-m": "m", "--match": "m",
    "-c": "c", "--set-counters": "c",
}

# Known extensions: option spelling -> (canonical option, number of values).
_PORTS = {"--sport": ("--sport", 1), "--source-port": ("--sport", 1),
          "--dport": ("--dport", 1), "--destination-port": ("--dport", 1)}
_MATCHES: dict[str, dict[str, tuple[str, int]]] = {
    "comment": {"--comment": ("--comment", 1)},
    "tcp": {**_PORTS, "--tcp-flags": ("--tcp-flags", 2), "--syn": ("--syn", 0),
            "--tcp-option": ("--tcp-option", 1)},
    "udp": dict(_PORTS),
    "sctp": {**_PORTS, "--chunk-types": ("--chunk-types", 2)},
    "statistic": {"--mode": ("--mode", 1), "--probability": ("--probability", 1),
                  "--every": ("--every", 1), "--packet": ("--packet", 1)},
    "recent": {"--set": ("--set", 0), "--rcheck": ("--rcheck", 0), "--update": ("--update", 0),
               "--remove": ("--remove", 0), "--seconds": ("--seconds", 1), "--reap": ("--reap", 0),
               "--hitcount": ("--hitcount", 1), "--rttl": ("--rttl", 0), "--name": ("--name", 1),
               "--rsource": ("--rsource", 0), "--rdest": ("--rdest", 0), "--mask": ("--mask", 1)},
    "addrtype": {"--src-type": ("--src-type", 1), "--dst-type": ("--dst-type", 1),
                 "--limit-iface-in": ("--limit-iface-in", 0), "--limit-iface-out": ("--limit-iface-out", 0)},
    "mark": {"--mark": ("--mark", 1)},
    "conntrack": {f"--ct{o}": (f"--ct{o}", 1) for o in (
        "state", "proto", "origsrc", "origdst", "replsrc", "repldst", "origsrcport", "origdstport",
        "replsrcport", "repldstport", "status", "expire", "dir")},
    "state": {"--state": ("--state", 1)},
    "multiport": {"--sports": ("--sports", 1), "--source-ports": ("--sports", 1),
                  "--dports": ("--dports", 1), "--destination-ports": ("--dports", 1),
                  "--ports": ("--ports", 1)},
    "nfacct": {"--nfacct-name": ("--nfacct-name", 1)},
}
_TARGETS: dict[str, dict[str, tuple[str, int]]] = {
    "ACCEPT": {}, "DROP": {}, "RETURN": {}, "QUEUE": {},
    "DNAT": {"--to-destination": ("--to-destination", 1), "--random": ("--random", 0),
             "--persistent": ("--persistent", 0)},
    "SNAT": {"--to-source": ("--to-source", 1), "--random": ("--random", 0),
             "--random-fully": ("--random-fully", 0), "--persistent": ("--persistent", 0)},
    "MASQUERADE": {"--to-ports": ("--to-ports", 1), "--random": ("--random", 0),
                   "--random-fully": ("--random-fully", 0)},
    "MARK": {o: (o, 1) for o in ("--set-xmark", "--set-mark", "--and-mark", "--or-mark", "--xor-mark")},
    "REJECT": {"--reject-with": ("--reject-with", 1)},
}
# Options that may be negated with "!" (XTOPT_INVERT); the rest refuse it.
_INVERTIBLE = frozenset({"--sport", "--dport", "--tcp-flags", "--syn", "--tcp-option", "--probability",
                         "--every", "--set", "--rcheck", "--update", "--remove", "--src-type", "--dst-type",
                         "--mark", "--state", "--sports", "--dports", "--ports", "--chunk-types",
                         *_MATCHES["conntrack"]})
_PORT_MODULES = frozenset({"tcp", "udp", "sctp"})
_MANDATORY = {"comment": ("--comment",), "mark": ("--mark",), "statistic": ("--mode",)}

_IPV4 = r"(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])(?:\.(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])){3}"
_NETWORK_RE = re.compile(_IPV4 + r"(?:/(?:3[0-2]|[12]?[0-9]|" + _IPV4 + r"))?")
_ADDRESS_RE = re.compile(_IPV4)
_NAT_RANGE_RE = re.compile(f"({_IPV4})(?:-({_IPV4}))?(?::([0-9]{{1,10}})(?:-([0-9]{{1,10}}))?)?")
_PORT = r"(?:6553[0-5]|655[0-2][0-9]|65[0-4][0-9]{2}|6[0-4][0-9]{3}|[1-5][0-9]{4}|[1-9][0-9]{0,3})"
_GOOD_NAT_RANGE_RE = re.compile(f"{_IPV4}(?:-{_IPV4})?(?::{_PORT}(?:-{_PORT})?)?")  # the common case, at once
_PORT_RANGE_RE = re.compile(r"([0-9]{0,5})(?::([0-9]{0,5}))?")
# Numbers are bounded in length: iptables reads them into 64 bits at most, and Python's
# int() refuses decimal strings past 4,300 digits.
_UINT_RE = re.compile(r"[0-9]{1,20}")
_NUMBER_RE = re.compile(r"0[xX][0-9a-fA-F]{1,16}|0[0-7]{0,22}|[1-9][0-9]{0,19}")
_ADDRTYPES = ("UNSPEC", "UNICAST", "LOCAL", "BROADCAST", "ANYCAST", "MULTICAST", "BLACKHOLE",
              "UNREACHABLE", "PROHIBIT", "THROW", "NAT", "XRESOLVE")
_CTSTATES = ("INVALID", "NEW", "RELATED", "ESTABLISHED", "UNTRACKED", "SNAT", "DNAT")
_CTSTATUS = ("EXPECTED", "SEEN_REPLY", "ASSURED", "CONFIRMED", "NONE")
_REJECT_TYPES = (  # (name, alias) in libipt_REJECT.c's table order
    ("icmp-net-unreachable", "net-unreach"), ("icmp-host-unreachable", "host-unreach"),
    ("icmp-proto-unreachable", "proto-unreach"), ("icmp-port-unreachable", "port-unreach"),
    ("icmp-net-prohibited", "net-prohib"), ("icmp-host-prohibited", "host-prohib"),
    ("tcp-reset", "tcp-rst"), ("icmp-admin-prohibited", "admin-prohib"),
)
_TCP_FLAGS = (("FIN", 0x01), ("SYN", 0x02), ("RST", 0x04), ("PSH", 0x08), ("ACK", 0x10), ("URG", 0x20),
              ("ALL", 0x3F), ("NONE", 0))


def _is_option(word: str) -> bool:
    return len(word) > 1 and word[0] == "-" and not word[1].isdigit()


def _check_network(value: str) -> str | None:
    if _NETWORK_RE.fullmatch(value):
        return None
    return "bad IPv4 address or network"


def _port_number(text: str, default: int) -> int:
    return int(text) if text else default


def _port_range(value: str) -> tuple[int, int]:
    match = _PORT_RANGE_RE.fullmatch(value)
    first = _port_number(match.group(1), 0)
    if match.group(2) is None:
        return first, first
    return first, _port_number(match.group(2), 0xFFFF)


def _check_ports(value: str) -> str | None:
    if value.isascii() and value.isdigit() and len(value) <= 5 and int(value) <= 0xFFFF:
        return None
    match = _PORT_RANGE_RE.fullmatch(value)
    if match is None or (not match.group(1) and match.group(2) is None):
        return "bad port (a number 0-65535 or a range first:last)"
    first, last = _port_range(value)
    if first > 0xFFFF or last > 0xFFFF:
        return "port out of range (0-65535)"
    if first > last:
        return "invalid port range (first > last)"
    return None


def _check_port_list(value: str) -> str | None:
    items = value.split(",")
    if len(items) > 15:
        return "too many ports (multiport takes at most 15)"
    for item in items:
        if _check_ports(item) is not None:
            return "bad port list"
    return None


def _check_probability(value: str) -> str | None:
    try:
        p = float(value)
    except ValueError:
        return "bad probability (a number from 0 to 1)"
    if not 0.0 <= p <= 1.0:  # also refuses nan
        return "probability out of range (0 to 1)"
    return None


def _check_uint(value: str) -> str | None:
    if not _UINT_RE.fullmatch(value) or int(value) > 0xFFFFFFFF:
        return "bad number"
    return None


def _parse_number(text: str) -> int:
    """strtoul(text, 0): hex with 0x, octal with a leading 0, else decimal."""
    if not _NUMBER_RE.fullmatch(text):
        raise ValueError(text)
    if text[:2] in ("0x", "0X"):
        return int(text, 16)
    if len(text) > 1 and text[0] == "0":
        return int(text, 8)
    return int(text)


def _markmask(value: str) -> tuple[int, int]:
    mark, slash, mask = value.partition("/")
    mark_value = _parse_number(mark)
    mask_value = _parse_number(mask) if slash else 0xFFFFFFFF
    if mark_value > 0xFFFFFFFF or mask_value > 0xFFFFFFFF:
        raise ValueError(value)
    return mark_value, mask_value


def _check_markmask(value: str) -> str | None:
    try:
        _markmask(value)
    except ValueError:
        return "bad mark (value[/mask], e.g. 0x4000/0x4000)"
    return None


def _check_mark32(value: str) -> str | None:
    try:
        if _parse_number(value) > 0xFFFFFFFF:
            raise ValueError(value)
    except ValueError:
        return "bad mark value"
    return None


def _addrtypes(value: str) -> tuple[str, ...]:
    """addrtype's parse_types: names matched case-insensitively by prefix, in table order."""
    found = set()
    for item in value.split(","):
        upper = item.upper()
        for name in _ADDRTYPES:
            if item and name.startswith(upper):
                found.add(name)
                break
        else:
            raise ValueError(item)
    return tuple(n for n in _ADDRTYPES if n in found)


def _check_addrtypes(value: str) -> str | None:
    try:
        _addrtypes(value)
    except ValueError:
        return "bad address type (LOCAL, UNICAST, BROADCAST, ...)"
    return None


def _names_in(value: str, names: tuple[str, ...]) -> tuple[str, ...] | None:
    found = set()
    for item in value.split(","):
        upper = item.upper()
        if upper not in names:
            return None
        found.add(upper)
    return tuple(n for n in names if n in found)


def _check_ctstates(value: str) -> str | None:
    return None if _names_in(value, _CTSTATES) else "bad conntrack state"


def _check_ctstatus(value: str) -> str | None:
    return None if _names_in(value, _CTSTATUS) else "bad conntrack status"


def _check_nat_range(value: str) -> str | None:
    if _GOOD_NAT_RANGE_RE.fullmatch(value):
        return None
    match = _NAT_RANGE_RE.fullmatch(value)
    if match is None:
        return "bad address[:port] (e.g. 10.244.1.5:8080)"
    for port in (match.group(3), match.group(4)):
        if port is not None and not 0 < int(port) <= 0xFFFF:
            return "port out of range (1-65535)"
    return None


def _check_host(value: str) -> str | None:
    return None if _ADDRESS_RE.fullmatch(value) else "bad IPv4 address"


def _reject_name(value: str | None) -> str:
    if value is None:
        return "icmp-port-unreachable"
    lower = value.lower()
    for name, alias in _REJECT_TYPES:
        if lower and (name.startswith(lower) or alias.startswith(lower)):
            return name
    raise ValueError(value)


def _check_reject(value: str) -> str | None:
    try:
        _reject_name(value)
    except ValueError:
        return "unknown reject type"
    return None


def _check_mode(value: str) -> str | None:
    return None if value in ("random", "nth") else "bad statistic mode (random or nth)"


def _check_tcp_flags(value: str) -> str | None:
    names = {n for n, _ in _TCP_FLAGS}
    for item in value.split(","):
        if item.upper() not in names:
            return "unknown TCP flag"
    return None


_CHECKS = {
    "--sport": _check_ports, "--dport": _check_ports, "--probability": _check_probability,
    "--every": _check_uint, "--packet": _check_uint, "--seconds": _check_uint, "--hitcount": _check_uint,
    "--mask": _check_host, "--src-type": _check_addrtypes, "--dst-type": _check_addrtypes,
    "--mark": _check_markmask, "--ctstate": _check_ctstates, "--state": _check_ctstates,
    "--ctstatus": _check_ctstatus, "--sports": _check_port_list, "--dports": _check_port_list,
    "--ports": _check_port_list, "--to-destination": _check_nat_range, "--to-source": _check_nat_range,
    "--to-ports": _check_ports, "--set-xmark": _check_markmask, "--set-mark": _check_markmask,
    "--and-mark": _check_mark32, "--or-mark": _check_mark32, "--xor-mark": _check_mark32,
    "--reject-with": _check_reject, "--mode": _check_mode, "--tcp-option": _check_uint,
}


# --- reading a rule's words (iptables' option parser, for the extensions we know) -----
#
# A rule's *shape* is which of its words are options, module and target names, and which
# are free values (a comment, an address, a port). Reading a shape is the slow part, so
# it is done once per shape: the result (a _Plan) records positions, not words, and is
# shared by every rule of that shape, guarded by the words that decided it.


class _WordError(Exception):
    def __init__(self, index: int, message: str) -> None:
        self.index, self.message = index, message


class _Module:
    """One loaded extension (``-m name`` or the target): its options, or its raw words."""

    __slots__ = ("name", "known", "options", "words", "implicit", "position")

    def __init__(self, name: str, known: bool, implicit: bool = False, position: int = 0) -> None:
        self.name = name
        self.known = known
        self.implicit = implicit
        self.position = position  # where its name stands in the words (for error messages)
        self.options: list[tuple[str, bool, tuple[int, ...]]] = []  # (option, negated, value positions)
        self.words: list[int] = []  # an unknown extension's words (positions), as written

    def get(self, option: str) -> tuple[bool, tuple[int, ...]] | None:
        for name, negated, positions in self.options:
            if name == option:
                return negated, positions
        return None


class _Plan:
    """The shape of a rule: positions of its parts, the checks its values need, its guard."""

    __slots__ = ("length", "getter", "expected", "target_free", "checks",
                 "src", "src_neg", "dst", "dst_neg", "proto", "proto_neg", "iface_in", "iface_in_neg",
                 "iface_out", "iface_out_neg", "fragment", "matches", "target", "target_name", "goto",
                 "target_module", "target_words", "counters",
                 "comment", "probability", "dport", "dport_neg", "sport", "sport_neg", "dnat", "module_names")

    def __init__(self) -> None:
        self.src = self.dst = self.proto = self.iface_in = self.iface_out = None
        self.src_neg = self.dst_neg = self.proto_neg = self.iface_in_neg = self.iface_out_neg = False
        self.fragment = None  # None, or True/False for -f / ! -f
        self.matches: list[_Module] = []
        self.target: int | None = None
        self.target_name: str | None = None  # the target when it is one we know (DNAT, MARK...)
        self.goto = False
        self.target_module: _Module | None = None
        self.target_words: list[int] = []
        self.counters: tuple[int, int] | None = None
        self.checks: list[tuple[int, Any]] = []
        self.target_free: int | None = None  # an unknown target's position: any word but a known target
        self.comment = self.probability = self.dport = self.sport = self.dnat = None
        self.dport_neg = self.sport_neg = False

    def fits(self, args: tuple[str, ...]) -> bool:
        """Whether ``args`` has this shape (same length, same deciding words)."""
        return (len(args) == self.length and self.getter(args) == self.expected
                and (self.target_free is None or args[self.target_free] not in _TARGETS))


def _no_words(args: tuple[str, ...]) -> tuple[()]:
    return ()


def _check_not_negation(value: str) -> str | None:
    return "unexpected '!'" if value == "!" else None


def _analyse(args: tuple[str, ...]) -> _Plan:
    """Read a rule's words the way iptables' option parser does; raise _WordError if it would fail."""
    plan = _Plan()
    matches = plan.matches
    checks = plan.checks
    deciding: list[int] = []  # positions whose words decided the shape
    claims: dict[str, tuple[_Module, str, int]] = {}  # option -> (owner, canonical, arity)
    stray: _Module | None = None  # the latest unknown extension: it takes words no one else claims
    n = len(args)
    i = 0
    negate = -1  # index of a pending "!"
    while i < n:
        word = args[i]
        if word == "!":
            if negate >= 0:
                raise _WordError(i, "two negations in a row, the second")
            negate = i
            deciding.append(i)
            i += 1
            continue
        generic = _GENERIC.get(word)
        if generic is not None:
            deciding.append(i)
            if generic == "f":
                if plan.fragment is not None:
                    raise _WordError(i, "option given twice")
                plan.fragment = negate < 0
                negate = -1
                i += 1
                continue
            if i + 1 >= n:
                raise _WordError(i, "missing value after")
            value_at = i + 1
            if args[value_at] == "!" and generic in "sdpio" and negate < 0:  # old "-s ! 10.0.0.0/8" spelling
                if i + 2 >= n:
                    raise _WordError(i, "missing value after")
                deciding.append(value_at)
                negate = value_at
                value_at += 1
            value = args[value_at]
            if generic == "m":
                if negate >= 0:
                    raise _WordError(i, "'!' cannot negate")
                deciding.append(value_at)
                table = _MATCHES.get(value)
                module = _Module(value, table is not None, position=value_at)
                matches.append(module)
                if table is not None:
                    for option, (canonical, arity) in table.items():
                        claims[option] = (module, canonical, arity)
                else:
                    stray = module
                i = value_at + 1
                continue
            if generic == "j" or generic == "g":
                if negate >= 0:
                    raise _WordError(i, "'!' cannot negate")
                if plan.target is not None:
                    raise _WordError(i, "only one target per rule, another")
                plan.target = value_at
                plan.goto = generic == "g"
                table = _TARGETS.get(value)
                module = _Module(value, table is not None, position=value_at)
                plan.target_module = module
                if table is not None:
                    deciding.append(value_at)
                    plan.target_name = value
                    for option, (canonical, arity) in table.items():
                        claims.setdefault(option, (module, canonical, arity))
                else:
                    plan.target_free = value_at
                    stray = module
                i = value_at + 1
                continue
            if generic == "c":
                if value_at + 1 >= n:
                    raise _WordError(i, "missing packets and bytes after")
                for at in (value_at, value_at + 1):
                    if not _UINT_RE.fullmatch(args[at]):
                        raise _WordError(at, "bad counter")
                    checks.append((at, _check_uint))
                plan.counters = (value_at, value_at + 1)
                i = value_at + 2
                continue
            negated = negate >= 0
            negate = -1
            if generic == "s" or generic == "d":
                problem = _check_network(value)
                if problem:
                    raise _WordError(value_at, problem)
                checks.append((value_at, _check_network))
                if generic == "s":
                    if plan.src is not None:
                        raise _WordError(i, "option given twice")
                    plan.src, plan.src_neg = value_at, negated
                else:
                    if plan.dst is not None:
                        raise _WordError(i, "option given twice")
                    plan.dst, plan.dst_neg = value_at, negated
            elif generic == "p":
                if plan.proto is not None:
                    raise _WordError(i, "option given twice")
                if _protocol_number(value) is None:
                    raise _WordError(value_at, "unknown protocol")
                deciding.append(value_at)
                plan.proto, plan.proto_neg = value_at, negated
            else:
                checks.append((value_at, _check_not_negation))
                if generic == "i":
                    plan.iface_in, plan.iface_in_neg = value_at, negated
                else:
                    plan.iface_out, plan.iface_out_neg = value_at, negated
            i = value_at + 1
            continue
        claim = claims.get(word)
        if claim is None and plan.proto is not None and not plan.proto_neg and _is_option(word):
            # "-p tcp --dport 80" without "-m tcp": iptables loads the protocol's match here.
            proto = _protocol_name(args[plan.proto])
            table = _MATCHES.get(proto) if proto in _PORT_MODULES else None
            if table is not None and word in table and not any(m.name == proto for m in matches):
                module = _Module(proto, True, implicit=True, position=i)
                matches.append(module)
                for option, (canonical, arity) in table.items():
                    claims[option] = (module, canonical, arity)
                claim = claims[word]
        if claim is not None:
            deciding.append(i)
            module, canonical, arity = claim
            if negate >= 0 and canonical not in _INVERTIBLE:
                raise _WordError(i, "'!' cannot negate")
            if i + arity >= n + (arity == 0):
                raise _WordError(i, "missing value after")
            if module.get(canonical) is not None:
                raise _WordError(i, "option given twice")
            positions = tuple(range(i + 1, i + 1 + arity))
            if canonical in _DECIDING_VALUES:
                deciding.extend(positions)
            check = None if canonical in _DECIDING_VALUES else _CHECKS.get(canonical)
            if canonical in _DECIDING_VALUES:
                problem = _CHECKS[canonical](args[i + 1])
                if problem:
                    raise _WordError(i + 1, problem)
            if check is not None:
                for at in positions:
                    problem = check(args[at])
                    if problem:
                        raise _WordError(at, problem)
                    checks.append((at, check))
            module.options.append((canonical, negate >= 0, positions))
            if module is plan.target_module:
                if negate >= 0:
                    plan.target_words.append(negate)
                plan.target_words.append(i)
                plan.target_words.extend(positions)
            negate = -1
            i += 1 + arity
            continue
        if stray is None:
            if _is_option(word):
                raise _WordError(i, "unknown option")
            raise _WordError(i, "unexpected word")
        deciding.append(i)
        if negate >= 0:
            stray.words.append(negate)
        stray.words.append(i)
        if stray is plan.target_module:
            if negate >= 0:
                plan.target_words.append(negate)
            plan.target_words.append(i)
        negate = -1
        i += 1
    if negate >= 0:
        raise _WordError(negate, "nothing to negate after")
    for module in matches:
        if module.known:
            _check_module(module, args)
    if plan.target_module is not None and plan.target_module.known:
        _check_target(plan.target_module, args)
    _finish(plan, args, deciding)
    return plan


def _finish(plan: _Plan, args: tuple[str, ...], deciding: list[int]) -> None:
    """Freeze the plan: its guard, and shortcuts to the parts explain and trace read most."""
    plan.length = len(args)
    deciding = sorted(set(deciding))
    plan.getter = operator.itemgetter(*deciding) if deciding else _no_words
    plan.expected = plan.getter(args)
    plan.matches = tuple(plan.matches)
    plan.module_names = frozenset(m.name for m in plan.matches)
    for module in (*plan.matches, *( [plan.target_module] if plan.target_module else [])):
        module.options = tuple(module.options)
        module.words = tuple(module.words)
    plan.target_words = tuple(plan.target_words)
    plan.checks = tuple(plan.checks)
    for module in plan.matches:
        if not module.known:
            continue
        if module.name == "comment" and plan.comment is None:
            plan.comment = module.get("--comment")[1][0]
        elif module.name == "statistic" and plan.probability is None:
            option = module.get("--probability")
            if option is not None:
                plan.probability = option[1][0]
        elif module.name in _PORT_MODULES:
            for name, slot in (("--dport", "dport"), ("--sport", "sport")):
                option = module.get(name)
                if option is not None and getattr(plan, slot) is None:
                    setattr(plan, slot, option[1][0])
                    setattr(plan, slot + "_neg", option[0])
    if plan.target_name == "DNAT":
        plan.dnat = plan.target_module.get("--to-destination")[1][0]


# Option values that decide a rule's shape (statistic's mode decides which options it needs).
_DECIDING_VALUES = frozenset({"--mode"})

_PLANS: dict[tuple[str, ...], list[_Plan]] = {}
_PLAN_LIMIT = 4096


def _plan_for(args: tuple[str, ...]) -> _Plan | None:
    plans = _PLANS.get(args[::2])
    if plans is not None:
        for plan in plans:
            if plan.fits(args):
                return plan
    return None


def _checked_plan(args: tuple[str, ...]) -> _Plan:
    """The plan of ``args`` with every value checked; raise _WordError like iptables would."""
    plan = _plan_for(args)
    if plan is not None:
        for position, check in plan.checks:
            if check(args[position]) is not None:
                break
        else:
            return plan
    plan = _analyse(args)
    if len(_PLANS) >= _PLAN_LIMIT:
        _PLANS.clear()
    _PLANS.setdefault(args[::2], []).append(plan)
    return plan


def _plan_as_iptables_reads(args: tuple[str, ...]) -> tuple[tuple[str, ...], _Plan]:
    """The words of a rule and their plan, reading what iptables' getopt_long accepts.

    The canonical spelling is tried first (kube-proxy's and iptables-save's text, at no
    extra cost); a rule that fails is read again through :func:`_getopt_words`, so
    ``-jACCEPT``, ``-pudp``, ``--dport=80`` and ``--dest 10.0.0.1`` are read as iptables
    reads them. When that does not help, the first reading's error stands.
    """
    try:
        return args, _checked_plan(args)
    except _WordError as exc:
        try:
            words = _getopt_words(args)
        except _WordError as spelling:
            raise spelling from None
        if words == args:
            raise
        try:
            return words, _checked_plan(words)
        except _WordError:
            raise exc from None


_GENERIC_ARITY = {"s": 1, "d": 1, "p": 1, "i": 1, "o": 1, "j": 1, "g": 1, "m": 1, "c": 2, "f": 0}
_GENERIC_SHORT = {f"-{letter}" for letter in _GENERIC_ARITY}


def _getopt_words(args: tuple[str, ...]) -> tuple[str, ...]:
    """``args`` in canonical spelling, as iptables' option parser (getopt_long) reads them.

    getopt_long accepts a short option's value attached (``-jDNAT``, ``-pudp``,
    ``-s10.0.0.0/8``), a long option's value after ``=`` (``--dport=80``), and any
    prefix of a long option that names one option only (``--dest`` for
    ``--destination``, ``--to-dest`` for ``--to-destination``). The long options known
    at each word are the generic ones and those of the matches (``-m``, or the protocol's
    own after ``-p``, loaded once an option is unknown) and the target (``-j``) loaded
    before it, as in iptables. A
    prefix shared by two options is an error, as getopt's "option is ambiguous".

    >>> _getopt_words(("-pudp", "--dest=10.0.0.1", "--dp", "53", "-jDNAT", "--to-dest", "10.0.0.2"))
    ('-p', 'udp', '--destination', '10.0.0.1', '--dport', '53', '-j', 'DNAT', '--to-destination', '10.0.0.2')
    """
    known: dict[str, tuple[str, int]] = {o: (l, _GENERIC_ARITY[l]) for o, l in _GENERIC.items() if o[:2] == "--"}
    protocol: dict[str, tuple[str, int]] = {}  # -p's match: loaded when an option is unknown, as iptables does
    out: list[str] = []
    n, i = len(args), 0
    while i < n:
        word = args[i]
        values: list[str] = []
        if word[:2] == "--" and len(word) > 2 and word not in known:
            name, equals, value = word.partition("=")
            if protocol and not any(o.startswith(name) for o in known):
                known.update(protocol)
                protocol = {}
            name = _long_option(name, known, i)
            arity = known[name][1] if name in known else 0
            if equals:
                values.append(value)
            word = name
        elif word[:1] == "-" and len(word) > 2 and word[:2] in _GENERIC_SHORT and word[1] != "-":
            values.append(word[2:])  # -jDNAT: the value attached
            word = word[:2]
            arity = _GENERIC_ARITY[word[1]]
        elif word in _GENERIC_SHORT:
            arity = _GENERIC_ARITY[word[1]]
        else:
            if protocol and word in protocol and word not in known:
                known.update(protocol)
                protocol = {}
            arity = known[word][1] if word in known else 0
        take = max(0, arity - len(values))
        if word in _GENERIC_SHORT and take and i + 1 < n and args[i + 1] == "!":
            take += 1  # the old "-s ! 10.0.0.0/8" spelling
        values.extend(args[i + 1:i + 1 + take])
        out.append(word)
        out.extend(values)
        letter = known[word][0] if word in known and len(known[word][0]) == 1 else word[1:] if word in _GENERIC_SHORT else ""
        value = values[-1] if values else ""
        if letter == "m":
            known.update({o: (c, a) for o, (c, a) in _MATCHES.get(value, {}).items()})
        elif letter == "p" and _protocol_name(value) in _PORT_MODULES:
            protocol = dict(_MATCHES[_protocol_name(value)])
        elif letter in ("j", "g"):
            known.update({o: (c, a) for o, (c, a) in _TARGETS.get(value, {}).items()})
        i += 1 + take
    return tuple(out)


def _long_option(name: str, known: dict[str, tuple[str, int]], index: int) -> str:
    """The long option that ``name`` spells: itself, or the one option it is a prefix of."""
    if name in known:
        return name
    matches = sorted(o for o in known if o.startswith(name))
    meanings = {known[o][0] for o in matches}
    if len(meanings) == 1:
        # aliases of one option (--dst, --destination) count once; take the canonical one
        canonical = matches[0]
        for option in matches:
            if option in _GENERIC or option == known[option][0]:
                canonical = option
                break
        return canonical
    if len(meanings) > 1:
        raise _WordError(index, f"ambiguous option (could be {', '.join(matches)}):")
    return name


def _check_module(module: _Module, args: tuple[str, ...]) -> None:
    name = module.name
    for option in _MANDATORY.get(name, ()):
        if module.get(option) is None:
            raise _WordError(module.position, f"missing {option} for module")
    if name == "statistic":
        mode = args[module.get("--mode")[1][0]]
        if mode == "random" and module.get("--probability") is None:
            raise _WordError(module.position, "missing --probability (--mode random) for module")
        if mode == "nth" and module.get("--every") is None:
            raise _WordError(module.position, "missing --every (--mode nth) for module")
        if mode == "random" and (module.get("--every") or module.get("--packet")):
            raise _WordError(_index_of(args, "--every" if module.get("--every") else "--packet"),
                             "--mode random does not take")
        if mode == "nth" and module.get("--probability"):
            raise _WordError(_index_of(args, "--probability"), "--mode nth does not take")
        every, packet = module.get("--every"), module.get("--packet")
        if mode == "nth" and int(args[every[1][0]]) < 1:  # libxt_statistic: --every takes 1 at least
            raise _WordError(every[1][0], "--every must be 1 or more, not")
        if mode == "nth" and packet is not None and int(args[packet[1][0]]) >= int(args[every[1][0]]):
            raise _WordError(packet[1][0], "the --packet p must be 0 <= p <= n-1, not")
    elif name == "recent":
        commands = [o for o in ("--set", "--rcheck", "--update", "--remove") if module.get(o)]
        if not commands:
            raise _WordError(module.position, "missing --set, --rcheck, --update or --remove for module")
        if len(commands) > 1:
            raise _WordError(_index_of(args, commands[1]), "-m recent takes one command, a second")
        if module.get("--reap") is not None and module.get("--seconds") is None:
            raise _WordError(_index_of(args, "--reap"), "missing --seconds for")
    elif name == "addrtype":
        if module.get("--src-type") is None and module.get("--dst-type") is None:
            raise _WordError(module.position, "missing --src-type or --dst-type for module")
    elif name == "multiport":
        if sum(1 for o in ("--sports", "--dports", "--ports") if module.get(o)) != 1:
            raise _WordError(module.position, "needs exactly one of --sports, --dports, --ports: module")
    elif name == "tcp":
        if module.get("--syn") is not None and module.get("--tcp-flags") is not None:
            raise _WordError(_index_of(args, "--syn"), "--tcp-flags is given too, so no")
    elif name == "conntrack":
        if not module.options:
            raise _WordError(module.position, "no option given for module")


def _check_target(module: _Module, args: tuple[str, ...]) -> None:
    if module.name == "MARK" and not module.options:
        raise _WordError(module.position,
                         "missing --set-xmark, --set-mark, --or-mark, --and-mark or --xor-mark for target")
    if module.name == "MARK" and len(module.options) > 1:
        raise _WordError(_index_of(args, module.options[1][0]), "MARK takes one operation, a second")
    if module.name == "DNAT" and module.get("--to-destination") is None:
        raise _WordError(module.position, "missing --to-destination for target")


def _index_of(args: tuple[str, ...], word: str) -> int:
    try:
        return args.index(word)
    except ValueError:
        return len(args)


def _protocol_number(value: str) -> int | None:
    lower = value.lower()
    lower = _PROTOCOL_ALIASES.get(lower, lower)
    if lower == "all":
        return 0
    number = _PROTOCOL_NUMBERS.get(lower)
    if number is not None:
        return number
    if _UINT_RE.fullmatch(value) and int(value) <= 255:
        return int(value)
    return None


def _protocol_name(value: str | None) -> str | None:
    if value is None:
        return None
    number = _protocol_number(value)
    if not number:
        return None
    return _PROTOCOL_NAMES.get(number, str(number))


def _xmark(module: _Module, args: tuple[str, ...]) -> tuple[int, int]:
    """libxt_MARK's mark_tg_parse: every spelling as the (value, mask) of --set-xmark."""
    option, _, (position,) = module.options[0]
    value = args[position]
    if option == "--set-xmark":
        return _markmask(value)
    if option == "--set-mark":
        mark, mask = _markmask(value)
        return mark, mark | mask
    number = _parse_number(value)
    if option == "--and-mark":
        return 0, ~number & 0xFFFFFFFF
    if option == "--or-mark":
        return number, number
    return number, 0  # --xor-mark


# --- rendering the save form ---------------------------------------------------------


def _saved_network(value: str) -> str:
    """The kernel's address/prefix: a host gets /32, an address with a mask is masked."""
    if "/" not in value:
        return value + "/32"
    if value.endswith("/32"):
        return value
    network = IPv4Network(value, strict=False)
    return f"{network.network_address}/{network.prefixlen}"


def _save_words(plan: _Plan, args: tuple[str, ...]) -> list[str]:
    out = _match_save_words(plan, args)
    if plan.target is not None:
        out += ["-g" if plan.goto else "-j", args[plan.target]]
        module = plan.target_module
        if module.known:
            saver = _TARGET_SAVERS.get(module.name)
            out += saver(_Values(module, args)) if saver else []
        else:
            out += [args[p] for p in module.words]
    return out


def _match_save_words(plan: _Plan, args: tuple[str, ...], skip: frozenset[str] = frozenset()) -> list[str]:
    """The rule's matches as iptables-save prints them, without the modules in ``skip``."""
    out: list[str] = []
    if plan.src is not None:
        out += (["!"] if plan.src_neg else []) + ["-s", _saved_network(args[plan.src])]
    if plan.dst is not None:
        out += (["!"] if plan.dst_neg else []) + ["-d", _saved_network(args[plan.dst])]
    if plan.iface_in is not None:
        out += (["!"] if plan.iface_in_neg else []) + ["-i", args[plan.iface_in]]
    if plan.iface_out is not None:
        out += (["!"] if plan.iface_out_neg else []) + ["-o", args[plan.iface_out]]
    number = _protocol_number(args[plan.proto]) if plan.proto is not None else 0
    if number:
        out += (["!"] if plan.proto_neg else []) + ["-p", _PROTOCOL_NAMES.get(number, str(number))]
    if plan.fragment is not None:
        out += ["-f"] if plan.fragment else ["!", "-f"]
    for module in plan.matches:
        if module.name in skip:
            continue
        out += ["-m", module.name]
        if module.known:
            out += _SAVERS[module.name](_Values(module, args))
        else:
            out += [args[p] for p in module.words]
    return out


class _Values:
    """A known module's options with their words (what the save functions read)."""

    __slots__ = ("module", "args")

    def __init__(self, module: _Module, args: tuple[str, ...]) -> None:
        self.module, self.args = module, args

    def get(self, option: str) -> tuple[bool, tuple[str, ...]] | None:
        value = self.module.get(option)
        if value is None:
            return None
        return value[0], tuple(map(self.args.__getitem__, value[1]))

    def items(self) -> list[tuple[str, bool, tuple[str, ...]]]:
        return [(o, n, tuple(self.args[p] for p in ps)) for o, n, ps in self.module.options]


def _saved_ports(value: str) -> str:
    first, last = _port_range(value)
    return str(first) if first == last else f"{first}:{last}"


def _tcp_flags_text(value: str) -> str:
    mask = 0
    flags = dict(_TCP_FLAGS)
    for item in value.split(","):
        mask |= flags[item.upper()]
    return ",".join(name for name, flag in _TCP_FLAGS[:6] if mask & flag) or "NONE"


def _save_ports(values: _Values) -> list[str]:
    out: list[str] = []
    for option in ("--sport", "--dport"):
        value = values.get(option)
        if value is not None and _port_range(value[1][0]) != (0, 0xFFFF):
            out += (["!"] if value[0] else []) + [option, _saved_ports(value[1][0])]
    name = values.module.name
    if name == "tcp":
        value = values.get("--tcp-option")
        if value is not None:
            out += (["!"] if value[0] else []) + ["--tcp-option", str(int(value[1][0]))]
        flags = values.get("--tcp-flags")
        syn = values.get("--syn")
        if syn is not None:
            flags = (syn[0], ("FIN,SYN,RST,ACK", "SYN"))
        if flags is not None:
            out += (["!"] if flags[0] else []) + ["--tcp-flags", _tcp_flags_text(flags[1][0]),
                                                   _tcp_flags_text(flags[1][1])]
    elif name == "sctp":
        value = values.get("--chunk-types")
        if value is not None:
            out += (["!"] if value[0] else []) + ["--chunk-types", *value[1]]
    return out


def _save_comment(values: _Values) -> list[str]:
    return ["--comment", _SaveQuoted(values.get("--comment")[1][0])]


def _save_statistic(values: _Values) -> list[str]:
    mode = values.get("--mode")[1][0]
    if mode == "random":
        negated, (p,) = values.get("--probability")
        return ["--mode", "random", *(["!"] if negated else []), "--probability", saved_probability_text(float(p))]
    negated, (every,) = values.get("--every")
    out = ["--mode", "nth", *(["!"] if negated else []), "--every", str(int(every))]
    packet = values.get("--packet")
    if packet is not None and int(packet[1][0]):
        out += ["--packet", str(int(packet[1][0]))]
    return out


def _save_recent(values: _Values) -> list[str]:
    out: list[str] = []
    for option in ("--set", "--rcheck", "--update", "--remove"):
        value = values.get(option)
        if value is not None:
            out += (["!"] if value[0] else []) + [option]
    seconds = values.get("--seconds")
    if seconds is not None and int(seconds[1][0]):
        out += ["--seconds", str(int(seconds[1][0]))]
    if values.get("--reap") is not None:
        out.append("--reap")
    hitcount = values.get("--hitcount")
    if hitcount is not None and int(hitcount[1][0]):
        out += ["--hitcount", str(int(hitcount[1][0]))]
    if values.get("--rttl") is not None:
        out.append("--rttl")
    name = values.get("--name")
    out += ["--name", name[1][0] if name else "DEFAULT"]
    mask = values.get("--mask")
    out += ["--mask", mask[1][0] if mask else "255.255.255.255"]
    side = "--rsource"
    for option, _, _ in values.items():
        if option in ("--rsource", "--rdest"):
            side = option
    out.append(side)
    return out


def _save_addrtype(values: _Values) -> list[str]:
    out: list[str] = []
    for option in ("--src-type", "--dst-type"):
        value = values.get(option)
        if value is not None:
            out += (["!"] if value[0] else []) + [option, ",".join(_addrtypes(value[1][0]))]
    for option in ("--limit-iface-in", "--limit-iface-out"):
        if values.get(option) is not None:
            out.append(option)
    return out


def _mark_text(mark: int, mask: int) -> str:
    return f"{mark:#x}" if mask == 0xFFFFFFFF else f"{mark:#x}/{mask:#x}"


def _save_mark(values: _Values) -> list[str]:
    negated, (value,) = values.get("--mark")
    return [*(["!"] if negated else []), "--mark", _mark_text(*_markmask(value))]


_CONNTRACK_ORDER = ("--ctstate", "--ctproto", "--ctorigsrc", "--ctorigdst", "--ctreplsrc", "--ctrepldst",
                    "--ctorigsrcport", "--ctorigdstport", "--ctreplsrcport", "--ctrepldstport",
                    "--ctstatus", "--ctexpire", "--ctdir")


def _save_conntrack(values: _Values) -> list[str]:
    out: list[str] = []
    for option in _CONNTRACK_ORDER:
        value = values.get(option)
        if value is None:
            continue
        negated, (text,) = value
        if option == "--ctstate":
            text = ",".join(_names_in(text, _CTSTATES))
        elif option == "--ctstatus":
            text = ",".join(_names_in(text, _CTSTATUS))
        out += (["!"] if negated else []) + [option, text]
    return out


def _save_state(values: _Values) -> list[str]:
    negated, (text,) = values.get("--state")
    return [*(["!"] if negated else []), "--state", ",".join(_names_in(text, _CTSTATES))]


def _save_multiport(values: _Values) -> list[str]:
    out: list[str] = []
    for option, negated, (text,) in values.items():
        out += (["!"] if negated else []) + [option, ",".join(_saved_ports(p) for p in text.split(","))]
    return out


def _save_nfacct(values: _Values) -> list[str]:
    return ["--nfacct-name", values.get("--nfacct-name")[1][0]]


_SAVERS = {
    "comment": _save_comment, "tcp": _save_ports, "udp": _save_ports, "sctp": _save_ports,
    "statistic": _save_statistic, "recent": _save_recent, "addrtype": _save_addrtype, "mark": _save_mark,
    "conntrack": _save_conntrack, "state": _save_state, "multiport": _save_multiport, "nfacct": _save_nfacct,
}


def _save_reject(values: _Values) -> list[str]:
    value = values.get("--reject-with")
    return ["--reject-with", _reject_name(value[1][0] if value else None)]


def _save_set_xmark(values: _Values) -> list[str]:
    mark, mask = _xmark(values.module, values.args)
    return ["--set-xmark", f"{mark:#x}/{mask:#x}"]


def _save_nat(values: _Values) -> list[str]:
    out: list[str] = []
    for option in ("--to-destination", "--to-source", "--to-ports", "--random", "--random-fully", "--persistent"):
        value = values.get(option)
        if value is not None:
            out += [option, *value[1]]
    return out


_TARGET_SAVERS = {"REJECT": _save_reject, "MARK": _save_set_xmark, "DNAT": _save_nat, "SNAT": _save_nat,
                  "MASQUERADE": _save_nat}


class _SaveQuoted(str):
    """A word iptables-save passes through xtables_save_string (the comment)."""


# --- rendering -----------------------------------------------------------------------


def restore_line(rule: Rule) -> str:
    """One ``-A CHAIN words...`` line of the restore form (with ``[p:b]`` when it has counters)."""
    _check_chain_name(rule.chain)
    line = "-A " + rule.chain
    if rule.args:
        line += " " + " ".join(map(_restore_word, rule.args))
    if rule.counters is not None:
        line = f"[{rule.counters[0]}:{rule.counters[1]}] " + line
    return line


def save_line(rule: Rule, *, counters: bool = False) -> str:
    """One rule as ``iptables-save`` prints it (``iptables-save -c`` with ``counters=True``)."""
    _check_chain_name(rule.chain)
    return _save_line(rule, counters)


def _save_line(rule: Rule, counters: bool) -> str:
    parts = ["-A", rule.chain]
    needs_quotes = _NEEDS_QUOTES.search
    for word in _save_words(rule._words, rule.args):
        if word.__class__ is _SaveQuoted:
            parts.append(_save_string(word))
        elif word and needs_quotes(word) is None:
            parts.append(word)
        else:
            parts.append(_restore_word(word))
    line = " ".join(parts)
    if counters:
        packets, octets = rule.counters or (0, 0)
        line = f"[{packets}:{octets}] " + line
    return line


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


def _check_chain_name(name: str) -> None:
    problem = _chain_problem(name)
    if problem:
        raise InvalidValue(f"chain name {name!r} cannot be written: {problem}")


def _check_table_name(name: str) -> None:
    if name not in BUILTIN_CHAINS:
        raise InvalidValue(f"table {name!r} is not one of {', '.join(TABLES)}")


def _check_policy(policy: str) -> None:
    if not policy or _NEEDS_QUOTES.search(policy) or "\n" in policy or "\r" in policy:
        raise InvalidValue(f"chain policy {policy!r} cannot be written")


def to_restore(ruleset: RuleSet) -> str:
    """The rule set as kube-proxy's ``iptables-restore`` input.

    >>> rs = RuleSet((Table("nat", (Chain("KUBE-SERVICES"),), (Rule("KUBE-SERVICES",
    ...     ("-m", "comment", "--comment", "ns1/svc1 cluster IP", "-j", "KUBE-SVC-X")),)),))
    >>> print(to_restore(rs), end="")
    *nat
    :KUBE-SERVICES - [0:0]
    -A KUBE-SERVICES -m comment --comment "ns1/svc1 cluster IP" -j KUBE-SVC-X
    COMMIT
    """
    out: list[str] = []
    for table in ruleset.tables:
        _check_table_name(table.name)
        out.append("*" + table.name)
        for chain in table.chains:
            _check_chain_name(chain.name)
            _check_policy(chain.policy)
            out.append(f":{chain.name} {chain.policy} [{chain.counters[0]}:{chain.counters[1]}]")
        out.extend(map(restore_line, table.rules))
        out.append("COMMIT")
    return "\n".join(out) + "\n" if out else ""


def _save_chain_order(table: Table) -> list[Chain]:
    """Built-in chains in hook order, then user chains by name (as iptables-save lists them)."""
    declared = {c.name: c for c in table.chains}
    builtins = BUILTIN_CHAINS.get(table.name, ())
    out = []
    for name in builtins:
        chain = declared.get(name)
        if chain is None or chain.policy == "-":  # restore's "-" keeps the policy: ACCEPT unless set
            chain = Chain(name, "ACCEPT", chain.counters if chain else (0, 0))
        out.append(chain)
    user = set(declared) | {r.chain for r in table.rules}
    user.difference_update(builtins)
    for name in sorted(user):
        out.append(declared.get(name, Chain(name)))
    return out


def to_save(
    ruleset: RuleSet,
    *,
    counters: bool = False,
    version: str = "1.8.9",
    backend: str | None = "nf_tables",
    date: str | None = SAMPLE_DATE,
) -> str:
    """What ``iptables-save`` (``-c`` with ``counters=True``) prints on a node holding these rules.

    Each table gets its ``# Generated by`` / ``# Completed on`` lines (``date=None`` leaves
    the date out); built-in chains appear with their policy (ACCEPT unless declared
    otherwise); chains are listed built-ins first, then by name, and the rules follow
    chain by chain in that order, each in the kernel's word order. ``backend`` is
    ``"nf_tables"``, ``"legacy"`` or None (an old build that did not say).

    >>> rs = parse("*nat\\n:KUBE-MARK-MASQ - [0:0]\\n-A KUBE-MARK-MASQ -j MARK --or-mark 0x4000\\nCOMMIT\\n")
    >>> print(to_save(rs, date=None), end="")
    # Generated by iptables-save v1.8.9 (nf_tables)
    *nat
    :PREROUTING ACCEPT [0:0]
    :INPUT ACCEPT [0:0]
    :OUTPUT ACCEPT [0:0]
    :POSTROUTING ACCEPT [0:0]
    :KUBE-MARK-MASQ - [0:0]
    -A KUBE-MARK-MASQ -j MARK --set-xmark 0x4000/0x4000
    COMMIT
    # Completed
    """
    program = f"iptables-save v{version}" + (f" ({backend})" if backend else "")
    out: list[str] = []
    for table in ruleset.tables:
        _check_table_name(table.name)
        out.append(f"# Generated by {program}" + (f" on {date}" if date else ""))
        out.append("*" + table.name)
        order = _save_chain_order(table)
        for chain in order:
            _check_chain_name(chain.name)
            _check_policy(chain.policy)
            packets, octets = chain.counters if counters else (0, 0)
            out.append(f":{chain.name} {chain.policy} [{packets}:{octets}]")
        for chain in order:  # (their names were checked above)
            for rule in table.rules_in(chain.name):
                out.append(_save_line(rule, counters))
        out.append("COMMIT")
        out.append("# Completed" + (f" on {date}" if date else ""))
    return "\n".join(out) + "\n" if out else ""


# --- parsing -------------------------------------------------------------------------

_COUNTERS_RE = re.compile(r"\[([0-9]{1,20}):([0-9]{1,20})\]")
_CONTROL_RE = re.compile(r"[\x00-\x09\x0b-\x1f\x7f]")  # control characters but the newline
_CHAIN_NAME_RE = re.compile(r'[^ \t"\n\r!-][^ \t"\n\r]{0,27}')  # what _chain_problem accepts
_intern = sys.intern


class _TableBuilder:
    __slots__ = ("name", "chains", "rules", "line")

    def __init__(self, name: str, line: int) -> None:
        self.name = name
        self.line = line
        self.chains: dict[str, Chain] = {}
        self.rules: list[Rule] = []

    def build(self) -> Table:
        return Table(self.name, tuple(self.chains.values()), tuple(self.rules))


def _error(message: str, source: str, lineno: int, line: str, column: int | None, word: str | None) -> ParseError:
    return ParseError(message, source=source, line=lineno, text=line, column=column, word=word)


def parse(text: str, *, source: str = "<string>", table: str | None = None) -> RuleSet:
    """Read iptables text: restore input, ``iptables-save`` output or ``iptables -S`` output.

    Grammar (one command per line; ``#`` lines and blank lines are skipped)::

        *TABLE                      start a table (filter, nat, mangle, raw, security)
        :CHAIN POLICY [p:b]         declare a chain (POLICY is "-" for user chains)
        [p:b] -A CHAIN words...     append a rule (the counters are optional)
        -I CHAIN [n] words...       insert a rule (before the chain's n-th rule, default 1)
        -N CHAIN / -X [CHAIN]       create / delete a chain; -F [CHAIN] flushes
        -P CHAIN POLICY             set a built-in chain's policy
        COMMIT                      end the table

    Text without any ``*TABLE`` line is ``iptables -S`` output for one table: ``table``
    names it (default ``filter``). Words are split the way iptables-restore splits them;
    each rule is checked the way iptables would check it for the extensions kube-proxy
    uses (others keep their words). Bad input raises :class:`ParseError` naming
    ``source``, the line and the word.

    >>> rs = parse("-P INPUT ACCEPT\\n-N KUBE-FIREWALL\\n-A INPUT -j KUBE-FIREWALL\\n")
    >>> [t.name for t in rs.tables], [c.name for c in rs.tables[0].chains]
    (['filter'], ['INPUT', 'KUBE-FIREWALL'])
    >>> parse("*nat\\n-A KUBE-SERVICES --bogus 1\\nCOMMIT\\n", source="dump.txt")
    Traceback (most recent call last):
    ...
    k8snet_lesson.errors.ParseError: dump.txt:2: unknown option '--bogus'
        -A KUBE-SERVICES --bogus 1
                         ^~~~~~~
    """
    if not isinstance(text, str):
        raise ParseError(f"expected text, got {type(text).__name__}", source=source)
    if table is not None and table not in BUILTIN_CHAINS:
        raise ParseError(f"unknown table {table!r} (tables: {', '.join(TABLES)})", source=source)
    # Hundreds of thousands of small objects, none of them in cycles: the cyclic
    # collector would only rescan them again and again while they are being made.
    collecting = gc.isenabled()
    gc.disable()
    try:
        return _parse(text, source, table)
    finally:
        if collecting:
            gc.enable()


def _parse(text: str, source: str, table: str | None) -> RuleSet:
    if text[:1] == "\ufeff":  # a byte-order mark before the first line, as some editors write
        text = text[1:]
    if "\r\n" in text:
        text = text.replace("\r\n", "\n")
    lines = text.split("\n")
    has_tables = any(line[:1] == "*" for line in lines)
    # Text of printable ASCII without backslashes (kube-proxy's, iptables-save's) splits on
    # spaces exactly as iptables-restore splits it; anything else goes word by word.
    plain = text.isascii() and "\\" not in text and _CONTROL_RE.search(text) is None
    tables: list[Table] = []
    current: _TableBuilder | None = None
    if not has_tables:
        current = _TableBuilder(table or "filter", 1)
    rules_append = None if current is None else current.rules.append
    plans = _PLANS
    targets = _TARGETS
    names: dict[str, str] = {}  # chain names already checked, to their interned string
    # A few hundred thousand rules: build them through their slots, without a call each.
    new = object.__new__
    rule_class, chain_class = Rule, Chain
    set_chain, set_args, set_counters, set_plan = _set_rule_chain, _set_rule_args, _set_rule_counters, _set_rule_plan
    set_name, set_policy, set_chain_counters = _set_chain_name, _set_chain_policy, _set_chain_counters
    no_counters = (0, 0)
    good_name = _CHAIN_NAME_RE.fullmatch
    lineno = 0
    for lineno, line in enumerate(lines, 1):
        if line.startswith("-A "):
            # The hot path: one appended rule, most often without escapes and with at most
            # one quoted word (kube-proxy's comment).
            if current is None:
                raise _error("rule outside a table (missing *table line)", source, lineno, line, 0, "-A")
            if not plain and ("\\" in line or not line.isprintable()):
                words = _checked_words(line, source, lineno)
            elif '"' not in line:
                words = line.split()
            elif line.count('"') == 2 and line[line.index('"') - 1] == " ":
                head, quoted, tail = line.split('"')
                words = head.split()
                words.append(quoted)
                words += tail.split()
            else:
                words = _split_quoted(line) or _checked_words(line, source, lineno)
            if len(words) < 2:
                raise _error("-A needs a chain name", source, lineno, line, 0, "-A")
            chain = names.get(words[1])
            if chain is None:
                chain = words[1]
                if not good_name(chain):
                    problem = _chain_problem(chain)
                    if problem:
                        raise _error(problem, source, lineno, line, _tokenize(line)[1][1], chain)
                chain = names[chain] = _intern(chain)
            args = tuple(words[2:])
            plan = None
            candidates = plans.get(args[::2])
            if candidates is not None:
                n = len(args)
                for candidate in candidates:
                    if (candidate.length == n and candidate.getter(args) == candidate.expected
                            and (candidate.target_free is None or args[candidate.target_free] not in targets)):
                        for position, check in candidate.checks:
                            if check(args[position]) is not None:
                                break
                        else:
                            plan = candidate
                        break
            if plan is None:
                try:
                    args, plan = _plan_as_iptables_reads(args)
                except _WordError as exc:
                    raise _rule_error(exc, line, source, lineno, 2) from None
            if plan.counters is not None:
                rule = _counted_rule(chain, args, plan)
            else:
                rule = new(rule_class)
                set_chain(rule, chain)
                set_args(rule, args)
                set_counters(rule, None)
                set_plan(rule, plan)
            rules_append(rule)
            continue
        first = line[:1]
        if first == ":" and current is not None and '"' not in line and (
                plain or ("\\" not in line and line.isprintable())):
            # a chain declaration, most often ":NAME - [0:0]"
            parts = line.split()
            if len(parts) == 3 and parts[2] == "[0:0]":
                name = names.get(parts[0][1:])
                if name is None and good_name(parts[0][1:]):
                    name = names[parts[0][1:]] = _intern(parts[0][1:])
                if name is not None:
                    chain = new(chain_class)
                    set_name(chain, name)
                    set_policy(chain, parts[1])
                    set_chain_counters(chain, no_counters)
                    current.chains[name] = chain
                    continue
        stripped = line.strip()
        if not stripped or first == "#":
            continue
        if first == ":":
            if current is None:
                raise _error("chain line outside a table (missing *table line)", source, lineno, line, 0, stripped)
            _parse_chain_line(current, line, source, lineno)
            continue
        if first == "*":
            if current is not None and has_tables:
                raise _error(f"table {current.name} (line {current.line}) needs a COMMIT before the next table",
                             source, lineno, line, 0, line.split()[0])
            name = stripped[1:]
            if name not in BUILTIN_CHAINS:
                raise _error(f"unknown table (tables: {', '.join(TABLES)})", source, lineno, line, 0, stripped)
            current = _TableBuilder(name, lineno)
            rules_append = current.rules.append
            continue
        if stripped == "COMMIT":
            if current is None or not has_tables:
                raise _error("COMMIT without a table", source, lineno, line, line.find("COMMIT"), "COMMIT")
            tables.append(current.build())
            current, rules_append = None, None
            continue
        if current is None:
            word = stripped.split()[0]
            raise _error("line outside a table (missing *table line)", source, lineno, line, line.find(word), word)
        if first == "[":
            _parse_counted_rule(current, line, source, lineno)
            continue
        _parse_command(current, line, source, lineno)
    if current is not None:
        if has_tables:
            raise ParseError(f"table {current.name} (line {current.line}) is never committed "
                             "(COMMIT expected before the end)", source=source,
                             line=len(text.rstrip("\n").split("\n")))
        if current.chains or current.rules or any(line.strip()[:1] not in ("", "#") for line in lines):
            tables.append(current.build())  # iptables -S output: one table, even if it was flushed
    return RuleSet(tuple(tables))


def _counted_rule(chain: str, args: tuple[str, ...], plan: _Plan) -> Rule:
    """A rule that carried ``-c packets bytes`` among its words: the counters move out."""
    p, b = plan.counters
    counters = (int(args[p]), int(args[b]))
    args = args[:p - 1] + args[b + 1:]
    rule = Rule(_intern(chain), args, counters)
    rule._words  # noqa: B018 - read (and check) the shape now
    return rule


def _checked_words(line: str, source: str, lineno: int) -> list[str]:
    return [w for w, _ in _checked_columns(line, source, lineno)]


def _checked_columns(line: str, source: str, lineno: int) -> list[tuple[str, int]]:
    try:
        return _tokenize(line)
    except _TokenError as exc:
        raise _error(exc.message, source, lineno, line, exc.column, exc.word) from None


def _rule_error(exc: _WordError, line: str, source: str, lineno: int, offset: int) -> ParseError:
    columns = _tokenize(line)
    index = exc.index + offset
    if index < len(columns):
        word, column = columns[index]
        return _error(exc.message, source, lineno, line, column, word)
    return _error(exc.message, source, lineno, line, len(line), "(end of line)")


def _parse_chain_line(current: _TableBuilder, line: str, source: str, lineno: int) -> None:
    if "\\" not in line and '"' not in line and line.isprintable():
        parts = line.split()
        if len(parts) == 3 and len(parts[0]) > 1 and _COUNTERS_RE.fullmatch(parts[2]):
            name = parts[0][1:]
            if _chain_problem(name) is None:
                name = _intern(name)
                counters = parts[2]
                if counters == "[0:0]":
                    current.chains[name] = Chain(name, parts[1])
                else:
                    packets, octets = counters[1:-1].split(":")
                    current.chains[name] = Chain(name, parts[1], (int(packets), int(octets)))
                return
    words = _checked_columns(line, source, lineno)
    if len(words[0][0]) < 2:
        raise _error("chain line needs a name (:CHAIN POLICY [packets:bytes])", source, lineno, line, 0, words[0][0])
    name = words[0][0][1:]
    problem = _chain_problem(name)
    if problem:
        raise _error(problem, source, lineno, line, words[0][1] + 1, name)
    policy = words[1][0] if len(words) > 1 else "-"
    if _NEEDS_QUOTES.search(policy) or not policy:
        raise _error("bad chain policy", source, lineno, line, words[1][1], policy)
    counters = (0, 0)
    if len(words) > 2:
        match = _COUNTERS_RE.fullmatch(words[2][0])
        if match is None:
            raise _error("bad chain counters (expected [packets:bytes])", source, lineno, line, words[2][1], words[2][0])
        counters = (int(match.group(1)), int(match.group(2)))
    if len(words) > 3:
        raise _error("unexpected word after the chain counters", source, lineno, line, words[3][1], words[3][0])
    name = _intern(name)
    current.chains[name] = Chain(name, policy, counters)


def _parse_counted_rule(current: _TableBuilder, line: str, source: str, lineno: int) -> None:
    words = _checked_columns(line, source, lineno)
    match = _COUNTERS_RE.fullmatch(words[0][0])
    if match is None:
        raise _error("bad rule counters (expected [packets:bytes])", source, lineno, line, words[0][1], words[0][0])
    if len(words) < 2 or words[1][0] not in ("-A", "--append", "-I", "--insert"):
        word, column = words[1] if len(words) > 1 else ("(end of line)", len(line))
        raise _error("counters must be followed by -A CHAIN", source, lineno, line, column, word)
    counters = (int(match.group(1)), int(match.group(2)))
    _parse_command(current, line, source, lineno, words[1:], counters)


def _parse_command(
    current: _TableBuilder,
    line: str,
    source: str,
    lineno: int,
    words: list[tuple[str, int]] | None = None,
    counters: tuple[int, int] | None = None,
) -> None:
    if words is None:
        words = _checked_columns(line, source, lineno)
    command, column = words[0]
    if command in ("-t", "--table"):
        raise _error("-t cannot be used in iptables-restore input", source, lineno, line, column, command)
    if command in ("-A", "--append", "-I", "--insert"):
        if len(words) < 2:
            raise _error(f"{command} needs a chain name", source, lineno, line, column, command)
        chain, chain_column = words[1]
        problem = _chain_problem(chain)
        if problem:
            raise _error(problem, source, lineno, line, chain_column, chain)
        rest = words[2:]
        position = None
        if command in ("-I", "--insert") and rest and _UINT_RE.fullmatch(rest[0][0]):
            position = int(rest[0][0])
            if position < 1:
                raise _error("rule position must be 1 or more", source, lineno, line, rest[0][1], rest[0][0])
            rest = rest[1:]
        args = tuple(w for w, _ in rest)
        try:
            args, plan = _plan_as_iptables_reads(args)
        except _WordError as exc:
            if exc.index < len(rest):
                word, at = rest[exc.index]
                raise _error(exc.message, source, lineno, line, at, word) from None
            raise _error(exc.message, source, lineno, line, len(line), "(end of line)") from None
        if plan.counters is not None:
            rule = _counted_rule(chain, args, plan)
        else:
            rule = Rule(_intern(chain), args, counters)
            object.__setattr__(rule, "_plan", plan)
        if command in ("-A", "--append"):
            current.rules.append(rule)
        elif not _insert(current, rule, position or 1):
            raise _error(f"chain {chain} has fewer rules than that: cannot insert at", source, lineno, line,
                         rest[0][1] if position is not None else chain_column, str(position))
        return
    if command in ("-N", "--new-chain", "-X", "--delete-chain", "-F", "--flush", "-P", "--policy"):
        if command in ("-P", "--policy") and len(words) < 3:
            raise _error(f"{command} needs a chain and a policy", source, lineno, line, column, command)
        if command in ("-N", "--new-chain") and len(words) < 2:
            raise _error(f"{command} needs a chain name", source, lineno, line, column, command)
        chain = words[1][0] if len(words) > 1 else None
        problem = None if chain is None else _chain_problem(chain)
        if problem:
            raise _error(problem, source, lineno, line, words[1][1], chain)
        if command in ("-P", "--policy") and (_NEEDS_QUOTES.search(words[2][0]) or not words[2][0]):
            raise _error("bad chain policy", source, lineno, line, words[2][1], words[2][0])
        extra = words[3 if command in ("-P", "--policy") else 2:]
        if command in ("-P", "--policy") and len(extra) >= 3 and extra[0][0] in ("-c", "--set-counters"):
            extra = extra[3:]  # "iptables -S -v" prints the policy's counters
        if extra:
            raise _error(f"unexpected word after {command}", source, lineno, line, extra[0][1], extra[0][0])
        if command in ("-N", "--new-chain"):
            if chain in current.chains:
                raise _error("chain already exists", source, lineno, line, words[1][1], chain)
            name = _intern(chain)
            current.chains[name] = Chain(name)
        elif command in ("-P", "--policy"):
            name = _intern(chain)
            old = current.chains.get(name)
            current.chains[name] = Chain(name, words[2][0], old.counters if old else (0, 0))
        elif command in ("-F", "--flush"):
            current.rules[:] = [r for r in current.rules if chain is not None and r.chain != chain]
        elif chain is None:  # -X alone deletes every user chain
            builtins = BUILTIN_CHAINS.get(current.name, ())
            current.chains = {n: c for n, c in current.chains.items() if n in builtins}
            current.rules[:] = [r for r in current.rules if r.chain in builtins]
        else:
            current.chains.pop(chain, None)
            current.rules[:] = [r for r in current.rules if r.chain != chain]
        return
    raise _error("unknown or unsupported command", source, lineno, line, column, command)


def _insert(current: _TableBuilder, rule: Rule, position: int) -> bool:
    """``-I CHAIN n``: put ``rule`` before the chain's n-th rule (or at its end, n = count + 1)."""
    indexes = [i for i, r in enumerate(current.rules) if r.chain == rule.chain]
    if position > len(indexes) + 1:
        return False
    if position <= len(indexes):
        at = indexes[position - 1]
    else:
        at = indexes[-1] + 1 if indexes else len(current.rules)
    current.rules.insert(at, rule)
    return True
