"""The extensions iptables knows here (``-m`` matches and ``-j`` targets), one record each.

A record says which options the extension takes (with their spellings and value counts),
which may be negated, how each value is checked, what the extension needs as a whole, and
how ``iptables-save`` prints it back. The option values' readers (ports, marks, address
types, the kernel's probability) live here too.
"""

from __future__ import annotations

import dataclasses
import math
import re
from collections.abc import Callable
from typing import Any

from ._tokenize import _SaveQuoted

# Target extensions iptables ships: anything else after -j (but a verdict) is a user chain.
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



# --- the records ----------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Option:
    """One option of an extension: its spelling, how many values follow, what iptables allows.

    ``check`` reads each value and returns why iptables would refuse it (or None);
    ``invertible`` options take a ``!`` before them (XTOPT_INVERT); a ``decides`` option's
    value changes which other options the extension needs (statistic's ``--mode``), so
    it is part of the rule's shape; ``shortcut`` names the slot of the rule's shape that
    keeps where its value stands, for the views read most (``Rule.comment``, ``Rule.dport``).
    """

    name: str
    arity: int = 1
    check: Callable[[str], str | None] | None = None
    invertible: bool = False
    aliases: tuple[str, ...] = ()
    decides: bool = False
    shortcut: str | None = None


@dataclasses.dataclass(frozen=True)
class Extension:
    """A ``-m`` match or a ``-j`` target: everything iptables needs to read and print it.

    ``mandatory`` options must be given; ``check`` sees the whole extension once its
    options are read (``(module, words)``, raising :class:`_WordError`); ``save`` gives
    the words iptables-save prints after ``-m name`` (or after ``-j NAME``);
    ``protocol`` matches are also loaded by ``-p name`` alone (``-p tcp --dport 80``).
    """

    name: str
    options: tuple[Option, ...] = ()
    mandatory: tuple[str, ...] = ()
    check: Callable[[Any, tuple[str, ...]], None] | None = None
    save: Callable[[Any], list[str]] | None = None
    target: bool = False
    protocol: bool = False
    # every spelling (the name and its aliases) -> its option
    spellings: dict[str, Option] = dataclasses.field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        spellings = {}
        for option in self.options:
            for spelling in (option.name, *option.aliases):
                spellings[spelling] = option
        object.__setattr__(self, "spellings", spellings)


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


def _require_mandatory(extension: Extension, module: _Module) -> None:
    for option in extension.mandatory:
        if module.get(option) is None:
            raise _WordError(module.position, f"missing {option} for {'target' if extension.target else 'module'}")


def _check_statistic(module: _Module, args: tuple[str, ...]) -> None:
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


def _check_recent(module: _Module, args: tuple[str, ...]) -> None:
    commands = [o for o in ("--set", "--rcheck", "--update", "--remove") if module.get(o)]
    if not commands:
        raise _WordError(module.position, "missing --set, --rcheck, --update or --remove for module")
    if len(commands) > 1:
        raise _WordError(_index_of(args, commands[1]), "-m recent takes one command, a second")
    if module.get("--reap") is not None and module.get("--seconds") is None:
        raise _WordError(_index_of(args, "--reap"), "missing --seconds for")


def _check_addrtype(module: _Module, args: tuple[str, ...]) -> None:
    if module.get("--src-type") is None and module.get("--dst-type") is None:
        raise _WordError(module.position, "missing --src-type or --dst-type for module")


def _check_multiport(module: _Module, args: tuple[str, ...]) -> None:
    if sum(1 for o in ("--sports", "--dports", "--ports") if module.get(o)) != 1:
        raise _WordError(module.position, "needs exactly one of --sports, --dports, --ports: module")


def _check_tcp(module: _Module, args: tuple[str, ...]) -> None:
    if module.get("--syn") is not None and module.get("--tcp-flags") is not None:
        raise _WordError(_index_of(args, "--syn"), "--tcp-flags is given too, so no")


def _check_conntrack(module: _Module, args: tuple[str, ...]) -> None:
    if not module.options:
        raise _WordError(module.position, "no option given for module")


def _check_mark_target(module: _Module, args: tuple[str, ...]) -> None:
    if not module.options:
        raise _WordError(module.position,
                         "missing --set-xmark, --set-mark, --or-mark, --and-mark or --xor-mark for target")
    if len(module.options) > 1:
        raise _WordError(_index_of(args, module.options[1][0]), "MARK takes one operation, a second")


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


# --- the extensions -------------------------------------------------------------------
#
# Each -m match and -j target as one record, in the words of its libxt_*.c / libipt_*.c.
# Supporting a new one is adding its record here (its values' checks and its saver above).

_PORTS = (Option("--sport", check=_check_ports, invertible=True, aliases=("--source-port",), shortcut="sport"),
          Option("--dport", check=_check_ports, invertible=True, aliases=("--destination-port",), shortcut="dport"))
_CONNTRACK_CHECKS = {"--ctstate": _check_ctstates, "--ctstatus": _check_ctstatus}

EXTENSIONS: tuple[Extension, ...] = (
    Extension("comment", (Option("--comment", shortcut="comment"),), mandatory=("--comment",), save=_save_comment),
    Extension("tcp", (*_PORTS, Option("--tcp-flags", 2, _check_tcp_flags, invertible=True),
                      Option("--syn", 0, invertible=True), Option("--tcp-option", check=_check_uint, invertible=True)),
              check=_check_tcp, save=_save_ports, protocol=True),
    Extension("udp", _PORTS, save=_save_ports, protocol=True),
    Extension("sctp", (*_PORTS, Option("--chunk-types", 2, invertible=True)), save=_save_ports, protocol=True),
    Extension("statistic", (Option("--mode", check=_check_mode, decides=True),
                            Option("--probability", check=_check_probability, invertible=True, shortcut="probability"),
                            Option("--every", check=_check_uint, invertible=True),
                            Option("--packet", check=_check_uint)),
              mandatory=("--mode",), check=_check_statistic, save=_save_statistic),
    Extension("recent", (*(Option(o, 0, invertible=True) for o in ("--set", "--rcheck", "--update", "--remove")),
                         Option("--seconds", check=_check_uint), Option("--reap", 0),
                         Option("--hitcount", check=_check_uint), Option("--rttl", 0), Option("--name"),
                         Option("--rsource", 0), Option("--rdest", 0), Option("--mask", check=_check_host)),
              check=_check_recent, save=_save_recent),
    Extension("addrtype", (Option("--src-type", check=_check_addrtypes, invertible=True),
                           Option("--dst-type", check=_check_addrtypes, invertible=True),
                           Option("--limit-iface-in", 0), Option("--limit-iface-out", 0)),
              check=_check_addrtype, save=_save_addrtype),
    Extension("mark", (Option("--mark", check=_check_markmask, invertible=True),), mandatory=("--mark",),
              save=_save_mark),
    Extension("conntrack", tuple(Option(o, check=_CONNTRACK_CHECKS.get(o), invertible=True) for o in _CONNTRACK_ORDER),
              check=_check_conntrack, save=_save_conntrack),
    Extension("state", (Option("--state", check=_check_ctstates, invertible=True),), save=_save_state),
    Extension("multiport", (Option("--sports", check=_check_port_list, invertible=True, aliases=("--source-ports",)),
                            Option("--dports", check=_check_port_list, invertible=True,
                                   aliases=("--destination-ports",)),
                            Option("--ports", check=_check_port_list, invertible=True)),
              check=_check_multiport, save=_save_multiport),
    Extension("nfacct", (Option("--nfacct-name"),), save=_save_nfacct),
    # targets
    *(Extension(verdict, target=True) for verdict in ("ACCEPT", "DROP", "RETURN", "QUEUE")),
    Extension("DNAT", (Option("--to-destination", check=_check_nat_range, shortcut="dnat"), Option("--random", 0),
                       Option("--persistent", 0)),
              mandatory=("--to-destination",), save=_save_nat, target=True),
    Extension("SNAT", (Option("--to-source", check=_check_nat_range), Option("--random", 0),
                       Option("--random-fully", 0), Option("--persistent", 0)), save=_save_nat, target=True),
    Extension("MASQUERADE", (Option("--to-ports", check=_check_ports), Option("--random", 0),
                             Option("--random-fully", 0)), save=_save_nat, target=True),
    Extension("MARK", (Option("--set-xmark", check=_check_markmask), Option("--set-mark", check=_check_markmask),
                       Option("--and-mark", check=_check_mark32), Option("--or-mark", check=_check_mark32),
                       Option("--xor-mark", check=_check_mark32)),
              check=_check_mark_target, save=_save_set_xmark, target=True),
    Extension("REJECT", (Option("--reject-with", check=_check_reject),), save=_save_reject, target=True),
)

# The registries the option parser reads: name -> record.
_MATCHES: dict[str, Extension] = {e.name: e for e in EXTENSIONS if not e.target}
_TARGETS: dict[str, Extension] = {e.name: e for e in EXTENSIONS if e.target}
_PORT_MODULES = frozenset(e.name for e in EXTENSIONS if e.protocol)
