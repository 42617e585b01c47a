"""``iptables -L -n``: the model's rules as the listing command prints them on a node.

The lesson's own command is ``iptables -t nat -L KUBE-SERVICES -n | grep checkout``; this
module prints what that shows for the rules kube-proxy would write. The format is
iptables 1.8.9's (Debian 12), byte for byte: a ``Chain NAME (policy ACCEPT)`` or
``Chain NAME (N references)`` line, the column header, then one line per rule whose
target is padded to 9 columns, the protocol printed as its number (``-n`` prints ``6``
for tcp and ``0`` for "all"), the options ``--``, the source and the destination padded
to 19 columns (a ``!`` in front when negated, a host without its ``/32``), then what each
match and the target print (``/* comment */``, ``tcp dpt:80``, ``statistic mode random
probability 0.33333333349``, ``to:10.244.2.14:3000``, ``MARK or 0x4000``...). A whole
table lists the built-in chains in hook order, then the user chains by name, with a
blank line between chains. ``iptables-legacy`` and ``iptables-nft`` print the same; the
files in ``tests/data/iptables-list/`` were recorded from both and pin every form here.

What it leaves out: ``-v`` (counters and interfaces), ``-x``, ``--line-numbers``, and
listing without ``-n`` (names from ``/etc/services`` and reverse DNS). It knows the
extensions kube-proxy's iptables mode writes (comment, tcp, udp, statistic, mark,
conntrack, addrtype, recent; DNAT, MASQUERADE, MARK, REJECT and the verdicts); any
other extension is refused with a message naming it, rather than printed in a form
nobody has checked.

    >>> from k8snet_lesson import iptables
    >>> rules = iptables.parse('''*nat
    ... :KUBE-SVC-X - [0:0]
    ... -A KUBE-SVC-X -m comment --comment "ns1/svc1 -> 10.0.1.2:80" -m statistic --mode random --probability 0.5000000000 -j KUBE-SEP-A
    ... COMMIT
    ... ''')
    >>> print(list_rules(rules, "nat", "KUBE-SVC-X"))
    Chain KUBE-SVC-X (0 references)
    target     prot opt source               destination         
    KUBE-SEP-A  0    --  0.0.0.0/0            0.0.0.0/0            /* ns1/svc1 -> 10.0.1.2:80 */ statistic mode random probability 0.50000000000
"""

from __future__ import annotations

from ipaddress import IPv4Network
from typing import Callable

from ..errors import InvalidValue, NotFound
from ..iptables import BUILTIN_CHAINS, Rule, RuleSet, Table

__all__ = ["list_rules", "rule_line", "grep"]

# /etc/protocols numbers, as ``-n`` prints them (``0`` is "all").
_PROTOCOLS = {"all": 0, "icmp": 1, "igmp": 2, "tcp": 6, "udp": 17, "gre": 47, "esp": 50, "ah": 51,
              "ipv6-icmp": 58, "sctp": 132, "udplite": 136}
_HEADER = "target     prot opt source               destination         "
_NO_CHAIN = "iptables: No chain/target/match by that name."


def _address(word: str | None, negated: bool) -> str:
    """An address column: ``!`` or a space, then the host or network padded to 19 (``%-19s ``)."""
    if word is None:
        text = "0.0.0.0/0"
    else:
        network = IPv4Network(word, strict=False)
        text = str(network.network_address) if network.prefixlen == 32 else str(network)
    return ("!" if negated else " ") + f"{text:<19} "


def _ports(name: str, value: str, negated: bool) -> str:
    # libxt_tcp.c print_ports: "dpt:80", "dpts:30000:32767", "dpt:!80"
    low, _, high = value.partition(":")
    inverse = "!" if negated else ""
    if high and high != low:
        return f" {name}s:{inverse}{low or 0}:{high}"
    return f" {name}:{inverse}{low}"


def _mark_target(value: str) -> str:
    # libxt_MARK.c mark_tg_print, for --set-xmark value/mask
    mark_text, _, mask_text = value.partition("/")
    mark, mask = int(mark_text, 0), int(mask_text or "0xffffffff", 0)
    if mask == 0xFFFFFFFF:
        return f" MARK set {mark:#x}"
    if mark == 0:
        return f" MARK and {~mask & 0xFFFFFFFF:#x}"
    if mark == mask:
        return f" MARK or {mark:#x}"
    if mask == 0:
        return f" MARK xor {mark:#x}"
    return f" MARK xset {mark:#x}/{mask:#x}"


_PORT_NAMES = {"--sport": "spt", "--dport": "dpt"}


# Each known extension: how many values each option takes, and how the listing prints it.
_Options = list[tuple[str, bool, tuple[str, ...]]]  # (option, negated, values)


def _print_comment(options: _Options) -> str:
    return "".join(f" /* {values[0]} */" for _, _, values in options)


def _print_protocol_match(name: str) -> Callable[[_Options], str]:
    def show(options: _Options) -> str:
        text = f" {name}"
        for option, negated, values in options:
            if option in _PORT_NAMES:
                text += _ports(_PORT_NAMES[option], values[0], negated)
            else:
                raise InvalidValue(f"the listing of '-m {name} {option}' is not known")
        return text
    return show


def _print_statistic(options: _Options) -> str:
    found = {option: (negated, values) for option, negated, values in options}
    mode = found.get("--mode", (False, ("random",)))[1][0]
    if mode != "random" or "--probability" not in found:
        raise InvalidValue(f"the listing of '-m statistic --mode {mode}' is not known")
    negated, (probability,) = found["--probability"]
    return f" statistic mode random{' !' if negated else ''} probability {float(probability):.11f}"


def _print_mark(options: _Options) -> str:
    return "".join(f" mark match{' !' if negated else ''} {values[0]}" for _, negated, values in options)


def _print_conntrack(options: _Options) -> str:
    text = ""
    for option, negated, values in options:
        if option != "--ctstate":
            raise InvalidValue(f"the listing of '-m conntrack {option}' is not known")
        text += f"{' !' if negated else ''} ctstate {values[0]}"
    return text


def _print_addrtype(options: _Options) -> str:
    text = " ADDRTYPE match"
    for option, negated, values in options:
        if option not in ("--src-type", "--dst-type"):
            raise InvalidValue(f"the listing of '-m addrtype {option}' is not known")
        text += f" {option[2:]} {'!' if negated else ''}{values[0]}"
    return text


def _print_recent(options: _Options) -> str:
    # libxt_recent.c recent_print: the command, then seconds, reap, name, side and mask
    found = {option: values for option, _, values in options}
    command = next((word for option, word in (("--set", "SET"), ("--rcheck", "CHECK"), ("--update", "UPDATE"),
                                              ("--remove", "REMOVE")) if option in found), None)
    if command is None or "--hitcount" in found or "--rttl" in found or any(n for _, n, _ in options):
        raise InvalidValue("the listing of this '-m recent' is not known")
    text = f" recent: {command}"
    if "--seconds" in found:
        text += f" seconds: {found['--seconds'][0]}"
    if "--reap" in found:
        text += " reap"
    text += f" name: {found.get('--name', ('DEFAULT',))[0]}"
    text += " side: dest" if "--rdest" in found else " side: source"
    return text + f" mask: {found.get('--mask', ('255.255.255.255',))[0]}"


_MATCHES: dict[str, tuple[dict[str, int], Callable[[_Options], str]]] = {
    "comment": ({"--comment": 1}, _print_comment),
    "tcp": ({"--sport": 1, "--dport": 1}, _print_protocol_match("tcp")),
    "udp": ({"--sport": 1, "--dport": 1}, _print_protocol_match("udp")),
    "statistic": ({"--mode": 1, "--probability": 1}, _print_statistic),
    "mark": ({"--mark": 1}, _print_mark),
    "conntrack": ({"--ctstate": 1}, _print_conntrack),
    "addrtype": ({"--src-type": 1, "--dst-type": 1}, _print_addrtype),
    "recent": ({"--set": 0, "--rcheck": 0, "--update": 0, "--remove": 0, "--seconds": 1, "--reap": 0,
                "--name": 1, "--mask": 1, "--rsource": 0, "--rdest": 0}, _print_recent),
}


def _print_dnat(options: _Options) -> str:
    found = {option: values for option, _, values in options}
    text = f" to:{found['--to-destination'][0]}" if "--to-destination" in found else ""
    return text + (" random" if "--random" in found else "") + (" persistent" if "--persistent" in found else "")


_TARGETS: dict[str, tuple[dict[str, int], Callable[[_Options], str]]] = {
    "DNAT": ({"--to-destination": 1, "--random": 0, "--persistent": 0}, _print_dnat),
    "MASQUERADE": ({"--random-fully": 0, "--random": 0},
                   lambda options: "".join(f" {option[2:]}" for option, _, _ in options)),
    "MARK": ({"--set-xmark": 1}, lambda options: "".join(_mark_target(values[0]) for _, _, values in options)),
    "REJECT": ({"--reject-with": 1}, lambda options: "".join(f" reject-with {values[0]}" for _, _, values in options)),
}


def _options(words: tuple[str, ...], start: int, arity: dict[str, int], what: str) -> tuple[_Options, int]:
    """The ``[!] --option values...`` of one extension, from ``start`` to the next ``-m``/``-j``."""
    options: _Options = []
    i = start
    while i < len(words) and words[i] not in ("-m", "-j", "-g"):
        negated = words[i] == "!"
        if negated:
            i += 1
        option = words[i] if i < len(words) else "(end of rule)"
        if option not in arity:
            raise InvalidValue(f"the listing of '{what} {option}' is not known")
        count = arity[option]
        options.append((option, negated, tuple(words[i + 1:i + 1 + count])))
        i += 1 + count
    return options, i


def rule_line(rule: Rule) -> str:
    """One rule as ``iptables -L -n`` prints it (without the newline)."""
    words = rule.save_args
    source = destination = protocol = None
    negated: set[str] = set()
    fragment = fragment_negated = False
    i = 0
    while i < len(words) and words[i] not in ("-m", "-j", "-g"):
        inverse = words[i] == "!"
        if inverse:
            i += 1
        option = words[i]
        if option == "-f":
            fragment, fragment_negated = True, inverse
            i += 1
            continue
        value = words[i + 1]
        if option == "-s":
            source = value
        elif option == "-d":
            destination = value
        elif option == "-p":
            protocol = value
        elif option not in ("-i", "-o"):  # interfaces show only with -v
            raise InvalidValue(f"rule in chain {rule.chain}: the listing of {option!r} is not known")
        if inverse:
            negated.add(option)
        i += 2
    tail = ""
    while i < len(words) and words[i] == "-m":
        name = words[i + 1]
        if name not in _MATCHES:
            raise InvalidValue(f"rule in chain {rule.chain}: the listing of '-m {name}' is not known")
        arity, show = _MATCHES[name]
        options, i = _options(words, i + 2, arity, f"-m {name}")
        tail += show(options)
    target = ""
    if i < len(words):
        goto = words[i] == "-g"
        target = words[i + 1]
        if target in _TARGETS:
            arity, show = _TARGETS[target]
            options, i = _options(words, i + 2, arity, f"-j {target}")
            tail += show(options)
        elif i + 2 < len(words):
            raise InvalidValue(f"rule in chain {rule.chain}: the listing of '-j {target}' with options is not known")
        if goto:
            tail = " [goto]" + tail
    number = _PROTOCOLS.get(protocol or "all")
    if number is None:
        if protocol is not None and protocol.isdigit():
            number = int(protocol)
        else:
            raise InvalidValue(f"rule in chain {rule.chain}: protocol {protocol!r} has no number here")
    line = f"{target:<9} " + ("!" if "-p" in negated else " ") + f"{number:<5}"
    line += ("!" if fragment_negated else "-") + ("f" if fragment else "-") + " "
    line += _address(source, "-s" in negated) + _address(destination, "-d" in negated)
    return line + tail


def _references(table: Table, chain: str) -> int:
    return sum(1 for rule in table.rules if rule.target == chain)


def _chain_block(table: Table, chain: str) -> list[str]:
    builtins = BUILTIN_CHAINS.get(table.name, ())
    if chain in builtins:
        declared = table.chain(chain)
        policy = declared.policy if declared is not None and declared.policy != "-" else "ACCEPT"
        head = f"Chain {chain} (policy {policy})"
    else:
        head = f"Chain {chain} ({_references(table, chain)} references)"
    return [head, _HEADER, *(rule_line(rule) for rule in table.rules_in(chain))]


def list_rules(ruleset: RuleSet, table: str = "filter", chain: str | None = None) -> str:
    """``iptables -t TABLE -L [CHAIN] -n`` for these rules (without the final newline).

    A table the rule set does not hold lists as the kernel's empty table: its built-in
    chains with no rules. A chain that does not exist is refused as iptables refuses it.
    """
    if table not in BUILTIN_CHAINS:
        raise InvalidValue(f"table {table!r} is not one of {', '.join(BUILTIN_CHAINS)}")
    held = ruleset.get_table(table) or Table(table, (), ())
    builtins = BUILTIN_CHAINS[table]
    user = sorted(({c.name for c in held.chains} | {r.chain for r in held.rules}) - set(builtins))
    if chain is not None:
        if chain not in builtins and chain not in user:
            raise NotFound(f"{_NO_CHAIN} (no chain {chain!r} in table {table})")
        return "\n".join(_chain_block(held, chain))
    blocks = ["\n".join(_chain_block(held, name)) for name in (*builtins, *user)]
    return "\n\n".join(blocks)


def grep(text: str, word: str) -> str:
    """The lines of ``text`` that hold ``word``, as ``| grep word`` keeps them.

    >>> grep("a checkout\\nb\\nc checkout-api", "checkout")
    'a checkout\\nc checkout-api'
    """
    return "\n".join(line for line in text.splitlines() if word in line)


def run(ruleset: RuleSet, command: str) -> str:
    """``command`` (``iptables [-t TABLE] -L [CHAIN] -n [| grep WORD]``) as a node's terminal shows it.

    >>> from k8snet_lesson import iptables
    >>> rules = iptables.parse("*nat\\n:KUBE-MARK-MASQ - [0:0]\\n-A KUBE-MARK-MASQ -j MARK --or-mark 0x4000\\nCOMMIT\\n")
    >>> print(run(rules, "iptables -t nat -L KUBE-MARK-MASQ -n | grep MARK"))
    $ iptables -t nat -L KUBE-MARK-MASQ -n | grep MARK
    Chain KUBE-MARK-MASQ (0 references)
    MARK       0    --  0.0.0.0/0            0.0.0.0/0            MARK or 0x4000
    """
    import shlex

    listing, bar, filtered = command.partition("|")
    try:
        words = shlex.split(listing)
        filter_words = shlex.split(filtered)
    except ValueError as exc:
        raise InvalidValue(f"command {command!r} cannot be read: {exc}") from None
    usage = "iptables [-t TABLE] -L [CHAIN] -n [| grep WORD]"
    if words[:1] != ["iptables"] or "-L" not in words or "-n" not in words:
        raise InvalidValue(f"{command.strip()!r} is not a listing this course prints: {usage}")
    if bar and (len(filter_words) != 2 or filter_words[0] != "grep"):
        raise InvalidValue(f"only '| grep WORD' may follow the listing: {usage}")
    table, chain = "filter", None
    rest = words[1:]
    i = 0
    while i < len(rest):
        word = rest[i]
        if word == "-t" and i + 1 < len(rest):
            table, i = rest[i + 1], i + 2
        elif word == "-L":
            if i + 1 < len(rest) and not rest[i + 1].startswith("-"):
                chain, i = rest[i + 1], i + 2
            else:
                i += 1
        elif word == "-n":
            i += 1
        else:
            raise InvalidValue(f"{word!r} is not an option this course's listing knows: {usage}")
    text = list_rules(ruleset, table, chain)
    if bar:
        text = grep(text, filter_words[1])
    return f"$ {' '.join(command.split())}\n{text}"
