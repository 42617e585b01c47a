"""A rule's shape: iptables' option parser over a rule's words, done once per shape."""

from __future__ import annotations

import operator
from typing import Any

from ._extensions import (
    _MATCHES,
    _NETWORK_RE,
    _PORT_MODULES,
    _TARGETS,
    _UINT_RE,
    Extension,
    Option,
    _require_mandatory,
    _check_uint,
    _Module,
    _protocol_name,
    _protocol_number,
    _WordError,
)

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



def _is_option(word: str) -> bool:
    return len(word) > 1 and word[0] == "-" and not word[1].isdigit()


def _check_network(value: str) -> str | None:
    if _NETWORK_RE.fullmatch(value):
        return None
    return "bad IPv4 address or network"

# --- reading a rule's words (iptables' option parser, for the extensions we know) -----
#
# A rule's *shape* is which of its words are options, module and target names, and which
# are free values (a comment, an address, a port). Reading a shape is the slow part, so
# it is done once per shape: the result (a _Plan) records positions, not words, and is
# shared by every rule of that shape, guarded by the words that decided it.



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



def _no_words(args: tuple[str, ...]) -> tuple[()]:
    return ()


def _check_not_negation(value: str) -> str | None:
    return "unexpected '!'" if value == "!" else None


class _Reading:
    """Where the reading of one rule's words stands: what the steps of :func:`_analyse` share."""

    __slots__ = ("args", "n", "i", "negate", "plan", "deciding", "claims", "stray")

    def __init__(self, args: tuple[str, ...]) -> None:
        self.args = args
        self.n = len(args)
        self.i = 0  # the word being read
        self.negate = -1  # index of a pending "!"
        self.plan = _Plan()
        self.deciding: list[int] = []  # positions whose words decided the shape
        self.claims: dict[str, tuple[_Module, Option]] = {}  # option spelling -> (owner, option)
        self.stray: _Module | None = None  # the latest unknown extension: it takes words no one else claims


def _analyse(args: tuple[str, ...]) -> _Plan:
    """Read a rule's words the way iptables' option parser does; raise _WordError if it would fail.

    One pass, left to right; each word starts one of these parts::

        "!"                       negates the next part (where iptables allows it)
        -s -d -p -i -o VALUE      the generic matches ("-s ! VALUE" is the old spelling)
        -f                        fragments
        -m NAME                   loads a match: its options are claimed from here on
        -j NAME / -g NAME         the target (a known one claims its options too)
        -c PACKETS BYTES          the rule's counters
        OPTION VALUE...           an option claimed by a loaded match or the target
        WORD                      taken by the latest extension this model does not know
    """
    reading = _Reading(args)
    while reading.i < reading.n:
        word = args[reading.i]
        if word == "!":
            _read_negation(reading)
            continue
        generic = _GENERIC.get(word)
        if generic is not None:
            _read_generic(reading, generic)
            continue
        claim = reading.claims.get(word) or _implied_protocol_claim(reading, word)
        if claim is not None:
            _read_option(reading, *claim)
        else:
            _read_unclaimed(reading)
    if reading.negate >= 0:
        raise _WordError(reading.negate, "nothing to negate after")
    plan = reading.plan
    for module in plan.matches:
        if module.known:
            _check_extension(_MATCHES[module.name], module, args)
    if plan.target_module is not None and plan.target_module.known:
        _check_extension(_TARGETS[plan.target_module.name], plan.target_module, args)
    _finish(plan, args, reading.deciding)
    return plan


def _read_negation(reading: _Reading) -> None:
    i = reading.i
    if reading.negate >= 0:
        raise _WordError(i, "two negations in a row, the second")
    reading.negate = i
    reading.deciding.append(i)
    reading.i = i + 1


def _read_generic(reading: _Reading, generic: str) -> None:
    """A generic option (xshared.c's ``-s``, ``-p``, ``-m``, ``-j``...) and its value."""
    i, n = reading.i, reading.n
    reading.deciding.append(i)
    if generic == "f":
        _read_fragment(reading)
        return
    if i + 1 >= n:
        raise _WordError(i, "missing value after")
    value_at = i + 1
    if reading.args[value_at] == "!" and generic in "sdpio" and reading.negate < 0:  # old "-s ! 10.0.0.0/8"
        if i + 2 >= n:
            raise _WordError(i, "missing value after")
        reading.deciding.append(value_at)
        reading.negate = value_at
        value_at += 1
    if generic == "m":
        _load_match(reading, value_at)
    elif generic == "j" or generic == "g":
        _load_target(reading, value_at, goto=generic == "g")
    elif generic == "c":
        _read_counters(reading, value_at)
    else:
        _read_generic_match(reading, generic, value_at)


def _read_fragment(reading: _Reading) -> None:
    plan = reading.plan
    if plan.fragment is not None:
        raise _WordError(reading.i, "option given twice")
    plan.fragment = reading.negate < 0
    reading.negate = -1
    reading.i += 1


def _load_match(reading: _Reading, value_at: int) -> None:
    """``-m NAME``: a known match claims its options; an unknown one takes the words no one claims."""
    if reading.negate >= 0:
        raise _WordError(reading.i, "'!' cannot negate")
    reading.deciding.append(value_at)
    name = reading.args[value_at]
    extension = _MATCHES.get(name)
    module = _Module(name, extension is not None, position=value_at)
    reading.plan.matches.append(module)
    if extension is not None:
        for spelling, option in extension.spellings.items():
            reading.claims[spelling] = (module, option)
    else:
        reading.stray = module
    reading.i = value_at + 1


def _load_target(reading: _Reading, value_at: int, goto: bool) -> None:
    """``-j NAME`` or ``-g NAME``: a verdict, a target extension or a user chain."""
    i, plan = reading.i, reading.plan
    if reading.negate >= 0:
        raise _WordError(i, "'!' cannot negate")
    if plan.target is not None:
        raise _WordError(i, "only one target per rule, another")
    plan.target = value_at
    plan.goto = goto
    name = reading.args[value_at]
    extension = _TARGETS.get(name)
    module = _Module(name, extension is not None, position=value_at)
    plan.target_module = module
    if extension is not None:
        reading.deciding.append(value_at)
        plan.target_name = name
        for spelling, option in extension.spellings.items():
            reading.claims.setdefault(spelling, (module, option))
    else:
        plan.target_free = value_at
        reading.stray = module
    reading.i = value_at + 1


def _read_counters(reading: _Reading, value_at: int) -> None:
    """``-c PACKETS BYTES``."""
    args, plan = reading.args, reading.plan
    if value_at + 1 >= reading.n:
        raise _WordError(reading.i, "missing packets and bytes after")
    for at in (value_at, value_at + 1):
        if not _UINT_RE.fullmatch(args[at]):
            raise _WordError(at, "bad counter")
        plan.checks.append((at, _check_uint))
    plan.counters = (value_at, value_at + 1)
    reading.i = value_at + 2


# The generic matches given once each: option letter -> the _Plan slot of its value's position.
_GENERIC_SLOTS = {"s": "src", "d": "dst", "p": "proto", "i": "iface_in", "o": "iface_out"}


def _read_generic_match(reading: _Reading, generic: str, value_at: int) -> None:
    """``-s``, ``-d`` (a network), ``-p`` (a protocol), ``-i``, ``-o`` (an interface)."""
    i, plan = reading.i, reading.plan
    value = reading.args[value_at]
    negated = reading.negate >= 0
    reading.negate = -1
    slot = _GENERIC_SLOTS[generic]
    if generic in "sd":
        problem = _check_network(value)
        if problem:
            raise _WordError(value_at, problem)
        plan.checks.append((value_at, _check_network))
    if generic in "sdp" and getattr(plan, slot) is not None:
        raise _WordError(i, "option given twice")
    if generic == "p":
        if _protocol_number(value) is None:
            raise _WordError(value_at, "unknown protocol")
        reading.deciding.append(value_at)
    elif generic in "io":
        plan.checks.append((value_at, _check_not_negation))
    setattr(plan, slot, value_at)
    setattr(plan, slot + "_neg", negated)
    reading.i = value_at + 1


def _implied_protocol_claim(reading: _Reading, word: str) -> tuple[_Module, Option] | None:
    """``-p tcp --dport 80`` without ``-m tcp``: iptables loads the protocol's match here."""
    plan = reading.plan
    if plan.proto is None or plan.proto_neg or not _is_option(word):
        return None
    protocol = _protocol_name(reading.args[plan.proto])
    extension = _MATCHES.get(protocol) if protocol in _PORT_MODULES else None
    if extension is None or word not in extension.spellings or any(m.name == protocol for m in plan.matches):
        return None
    module = _Module(protocol, True, implicit=True, position=reading.i)
    plan.matches.append(module)
    for spelling, option in extension.spellings.items():
        reading.claims[spelling] = (module, option)
    return reading.claims[word]


def _read_option(reading: _Reading, module: _Module, option: Option) -> None:
    """An option a loaded match or the target claims, with its values (checked)."""
    i, plan = reading.i, reading.plan
    reading.deciding.append(i)
    canonical, arity = option.name, option.arity
    negated = reading.negate >= 0
    if negated and not option.invertible:
        raise _WordError(i, "'!' cannot negate")
    if i + arity >= reading.n + (arity == 0):
        raise _WordError(i, "missing value after")
    if module.get(canonical) is not None:
        raise _WordError(i, "option given twice")
    positions = tuple(range(i + 1, i + 1 + arity))
    _check_values(reading, option, positions)
    module.options.append((canonical, negated, positions))
    if module is plan.target_module:
        if negated:
            plan.target_words.append(reading.negate)
        plan.target_words.append(i)
        plan.target_words.extend(positions)
    reading.negate = -1
    reading.i = i + 1 + arity


def _check_values(reading: _Reading, option: Option, positions: tuple[int, ...]) -> None:
    """Check an option's values; note the checks for the rules that share this shape."""
    check, args = option.check, reading.args
    if check is None:
        return
    if option.decides:  # the value is part of the guard: no other rule of the shape needs the check
        reading.deciding.extend(positions)
        positions, record = positions[:1], False
    else:
        record = True
    for at in positions:
        problem = check(args[at])
        if problem:
            raise _WordError(at, problem)
        if record:
            reading.plan.checks.append((at, check))


def _read_unclaimed(reading: _Reading) -> None:
    """A word no loaded extension claims: the latest unknown extension's, or an error."""
    i, plan, stray = reading.i, reading.plan, reading.stray
    if stray is None:
        if _is_option(reading.args[i]):
            raise _WordError(i, "unknown option")
        raise _WordError(i, "unexpected word")
    reading.deciding.append(i)
    words = [i] if reading.negate < 0 else [reading.negate, i]
    stray.words.extend(words)
    if stray is plan.target_module:
        plan.target_words.extend(words)
    reading.negate = -1
    reading.i = i + 1


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
        if module.known:
            _note_shortcuts(plan, _MATCHES[module.name], module)
    if plan.target_name is not None:
        _note_shortcuts(plan, _TARGETS[plan.target_name], plan.target_module)


def _check_extension(extension: Extension, module: _Module, args: tuple[str, ...]) -> None:
    """What the extension needs as a whole (iptables' final_check), once its options are read."""
    _require_mandatory(extension, module)
    if extension.check is not None:
        extension.check(module, args)


def _note_shortcuts(plan: _Plan, extension: Extension, module: _Module) -> None:
    """Where the values read most stand (the first comment, the first --dport...)."""
    for option in extension.options:
        slot = option.shortcut
        if slot is None or getattr(plan, slot) is not None:
            continue
        value = module.get(option.name)
        if value is not None:
            setattr(plan, slot, value[1][0])
            if slot + "_neg" in _NEGATED_SHORTCUTS:
                setattr(plan, slot + "_neg", value[0])


_NEGATED_SHORTCUTS = frozenset({"dport_neg", "sport_neg"})



_PLANS: dict[tuple[str, ...], list[_Plan]] = {}
_PLAN_LIMIT = 4096


def _cached_plan(args: tuple[str, ...]) -> _Plan | None:
    """The known shape ``args`` fits, when every value passes its check; else None.

    Shapes are filed under every other word (see :func:`_key`). Called once for each
    rule of a dump, so the key and the guard are spelled out here.
    """
    candidates = _PLANS.get(args[1::2] if args[:1] == _NEGATION else args[::2])
    if candidates is not None:
        n = len(args)
        for plan in candidates:
            if (plan.length == n and plan.getter(args) == plan.expected
                    and (plan.target_free is None or args[plan.target_free] not in _TARGETS)):
                for position, check in plan.checks:
                    if check(args[position]) is not None:
                        return None  # a value this shape refuses: read the rule afresh
                return plan
    return None


def _key(args: tuple[str, ...]) -> tuple[str, ...]:
    """Where a shape is filed: every other word, which are mostly options, not values.

    From the second word when the first is ``!``: iptables-save prints ``! -s 10.0.0.0/8``
    first, and from the first word on every other word would be a value (the addresses).
    """
    return args[1::2] if args[:1] == _NEGATION else args[::2]


_NEGATION = ("!",)


def _checked_plan(args: tuple[str, ...]) -> _Plan:
    """The plan of ``args`` with every value checked; raise _WordError like iptables would."""
    plan = _cached_plan(args)
    if plan is None:
        plan = _analyse(args)
        if len(_PLANS) >= _PLAN_LIMIT:
            _PLANS.clear()
        _PLANS.setdefault(_key(args), []).append(plan)
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
            known.update(_spellings(_MATCHES.get(value)))
        elif letter == "p" and _protocol_name(value) in _PORT_MODULES:
            protocol = _spellings(_MATCHES[_protocol_name(value)])
        elif letter in ("j", "g"):
            known.update(_spellings(_TARGETS.get(value)))
        i += 1 + take
    return tuple(out)


def _spellings(extension: Extension | None) -> dict[str, tuple[str, int]]:
    """An extension's long options as getopt_long knows them: spelling -> (option, arity)."""
    if extension is None:
        return {}
    return {spelling: (option.name, option.arity) for spelling, option in extension.spellings.items()}


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
