"""Reading iptables text (restore input, save output, ``iptables -S``) into values."""

from __future__ import annotations

import re
import sys

from .._speed import no_cycle_collection
from ..errors import ParseError
from ._extensions import EXTENSIONS, _PROTOCOL_NUMBERS, _UINT_RE, _WordError
from ._shape import _GENERIC, _Plan, _cached_plan, _plan_as_iptables_reads
from ._tokenize import _NEEDS_QUOTES, _TokenError, _split_quoted, _tokenize
from ._values import BUILTIN_CHAINS, Chain, Rule, RuleSet, TABLES, Table, _chain_problem, _set_chain_counters, _set_chain_name, _set_chain_policy, _set_rule_args, _set_rule_chain, _set_rule_counters, _set_rule_plan

# --- parsing -------------------------------------------------------------------------

_COUNTERS_RE = re.compile(r"\[([0-9]{1,20}):([0-9]{1,20})\]")
_CONTROL_RE = re.compile(r"[\x00-\x09\x0b-\x1f\x7f]")  # control characters but the newline
_CHAIN_NAME_RE = re.compile(r'[^ \t"\n\r!-][^ \t"\n\r]{0,27}')  # what _chain_problem accepts
_intern = sys.intern
_new = object.__new__
_NO_COUNTERS = (0, 0)


def _vocabulary() -> dict[str, str]:
    """The words most rules share (options, module, target and protocol names, kube-proxy's
    marks), each to one string: a node's 10^6 rules then hold one copy of ``-m`` rather than
    hundreds of thousands (the words are equal either way)."""
    words = {"!", "random", "nth", "LOCAL", "0x4000", "0x4000/0x4000", "0x8000", "0x8000/0x8000",
             "icmp-port-unreachable", "KUBE-MARK-MASQ", "KUBE-MARK-DROP"}
    words.update(_GENERIC, _PROTOCOL_NUMBERS)
    for extension in EXTENSIONS:
        words.add(extension.name)
        for option in extension.options:
            words.update((option.name, *option.aliases))
    return {word: _intern(word) for word in words}


_VOCABULARY = _vocabulary()


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
    with no_cycle_collection():  # hundreds of thousands of small values: see _speed
        return _parse(text, source, table)


class _Reader:
    """Where the reading of one text stands: what the steps of :func:`_parse` share."""

    __slots__ = ("source", "text", "lines", "plain", "has_tables", "tables", "current", "names", "shared")

    def __init__(self, text: str, source: str, table: str | None) -> None:
        if text[:1] == "\ufeff":  # a byte-order mark before the first line, as some editors write
            text = text[1:]
        if "\r\n" in text:
            text = text.replace("\r\n", "\n")
        self.source = source
        self.text = text
        self.lines = text.split("\n")
        self.has_tables = any(line[:1] == "*" for line in self.lines)
        # Text of printable ASCII without backslashes (kube-proxy's, iptables-save's) splits on
        # spaces exactly as iptables-restore splits it; anything else goes word by word.
        self.plain = text.isascii() and "\\" not in text and _CONTROL_RE.search(text) is None
        self.tables: list[Table] = []
        # iptables -S output has no *table line: its one table starts at once
        self.current = None if self.has_tables else _TableBuilder(table or "filter", 1)
        self.names: dict[str, str] = {}  # chain names already checked, to their interned string
        self.shared = dict(_VOCABULARY)  # and the chain names declared: each word to its one string


def _parse(text: str, source: str, table: str | None) -> RuleSet:
    reader = _Reader(text, source, table)
    _read_lines(reader)
    return _end(reader)


def _parse_general(text: str, *, source: str = "<string>", table: str | None = None) -> RuleSet:
    """:func:`parse` by the general steps alone: every line tokenized and read by
    :func:`_read_line`, none by the quick steps for kube-proxy's shapes. The same RuleSet
    (or the same error) by definition; tests hold the quick steps to it."""
    with no_cycle_collection():
        reader = _Reader(text, source, table)
        for lineno, line in enumerate(reader.lines, 1):
            _read_line(reader, line, lineno)
        return _end(reader)


def _read_lines(reader: _Reader) -> None:
    """Every line in turn. ``-A`` rules, the bulk of a node's dump, are read right here.

    They are a few hundred thousand, so their step is written out in the loop with its
    names bound once (a call per rule would cost more than the rest of the step);
    ``:CHAIN - [0:0]`` declarations have their quick step, every other line goes
    through :func:`_read_line`.
    """
    source, plain, names = reader.source, reader.plain, reader.names
    cached_plan, declare_chain, new = _cached_plan, _declare_chain, object.__new__
    set_chain, set_args, set_counters, set_plan = _set_rule_chain, _set_rule_args, _set_rule_counters, _set_rule_plan
    current = reader.current
    shared = reader.shared.get
    for lineno, line in enumerate(reader.lines, 1):
        if not line.startswith("-A "):
            if line[:1] != ":" or not declare_chain(reader, line):
                _read_line(reader, line, lineno)
                current = reader.current
            continue
        if current is None:
            raise _error("rule outside a table (missing *table line)", source, lineno, line, 0, "-A")
        if plain and '"' not in line:
            words = line.split()  # kube-proxy's and iptables-save's rules, but for their comments
        else:
            words = _rule_words(line, plain, source, lineno)
        if len(words) < 2:
            raise _error("-A needs a chain name", source, lineno, line, 0, "-A")
        chain = names.get(words[1]) or _checked_chain_name(reader, words[1], line, lineno)
        del words[:2]
        args = tuple(map(shared, words, words))  # each common word as its one string
        plan = cached_plan(args)
        if plan is None:
            try:
                args, plan = _plan_as_iptables_reads(args)
            except _WordError as exc:
                raise _rule_error(exc, line, source, lineno, 2) from None
        if plan.counters is not None:
            rule = _counted_rule(chain, args, plan)
        else:  # built through its slots (see _speed)
            rule = new(Rule)
            set_chain(rule, chain)
            set_args(rule, args)
            set_counters(rule, None)
            set_plan(rule, plan)
        current.rules.append(rule)


def _rule_words(line: str, plain: bool, source: str, lineno: int) -> list[str]:
    """The words of a line as iptables-restore splits them, by the quickest way that is exact."""
    if not plain and ("\\" in line or not line.isprintable()):
        return _checked_words(line, source, lineno)
    if '"' not in line:
        return line.split()
    if line.count('"') == 2 and line[line.index('"') - 1] == " ":  # one quoted word: kube-proxy's comment
        head, quoted, tail = line.split('"')
        words = head.split()
        words.append(quoted)
        words += tail.split()
        return words
    return _split_quoted(line) or _checked_words(line, source, lineno)


def _checked_chain_name(reader: _Reader, name: str, line: str, lineno: int) -> str:
    """A chain name seen for the first time: checked as iptables checks it, then interned."""
    if not _CHAIN_NAME_RE.fullmatch(name):
        problem = _chain_problem(name)
        if problem:
            raise _error(problem, reader.source, lineno, line, _tokenize(line)[1][1], name)
    interned = reader.names[name] = _intern(name)
    return interned


def _declare_chain(reader: _Reader, line: str) -> bool:
    """``:NAME - [0:0]`` in plain words, the usual declaration; False leaves the line to _read_line."""
    current = reader.current
    if current is None or '"' in line or not (reader.plain or ("\\" not in line and line.isprintable())):
        return False
    parts = line.split()
    if len(parts) != 3 or parts[2] != "[0:0]":
        return False
    name = reader.names.get(parts[0][1:])
    if name is None:
        if not _CHAIN_NAME_RE.fullmatch(parts[0][1:]):
            return False
        name = reader.names[parts[0][1:]] = reader.shared[name] = _intern(parts[0][1:])
    chain = _new(Chain)  # through its slots, as the rules (see _speed)
    _set_chain_name(chain, name)
    _set_chain_policy(chain, parts[1])
    _set_chain_counters(chain, _NO_COUNTERS)
    current.chains[name] = chain
    return True


def _read_line(reader: _Reader, line: str, lineno: int) -> None:
    """Any other line: blank, comment, chain line, ``*table``, COMMIT, counted rule or command."""
    source, current, first = reader.source, reader.current, line[:1]
    stripped = line.strip()
    if not stripped or first == "#":
        return
    if first == ":":
        if current is None:
            raise _error("chain line outside a table (missing *table line)", source, lineno, line, 0, stripped)
        _parse_chain_line(current, line, source, lineno)
    elif first == "*":
        _start_table(reader, line, stripped, lineno)
    elif stripped == "COMMIT":
        if current is None or not reader.has_tables:
            raise _error("COMMIT without a table", source, lineno, line, line.find("COMMIT"), "COMMIT")
        reader.tables.append(current.build())
        reader.current = None
    elif current is None:
        word = stripped.split()[0]
        raise _error("line outside a table (missing *table line)", source, lineno, line, line.find(word), word)
    elif first == "[":
        _parse_counted_rule(current, line, source, lineno)
    else:
        _parse_command(current, line, source, lineno)


def _start_table(reader: _Reader, line: str, stripped: str, lineno: int) -> None:
    """``*TABLE``: the previous table must have been committed."""
    current = reader.current
    if current is not None and reader.has_tables:
        raise _error(f"table {current.name} (line {current.line}) needs a COMMIT before the next table",
                     reader.source, lineno, line, 0, line.split()[0])
    name = stripped[1:]
    if name not in BUILTIN_CHAINS:
        raise _error(f"unknown table (tables: {', '.join(TABLES)})", reader.source, lineno, line, 0, stripped)
    reader.current = _TableBuilder(name, lineno)


def _end(reader: _Reader) -> RuleSet:
    """The end of the text: every table committed (or the one table of ``iptables -S`` output)."""
    current = reader.current
    if current is not None:
        if reader.has_tables:
            raise ParseError(f"table {current.name} (line {current.line}) is never committed "
                             "(COMMIT expected before the end)", source=reader.source,
                             line=len(reader.text.rstrip("\n").split("\n")))
        if current.chains or current.rules or any(line.strip()[:1] not in ("", "#") for line in reader.lines):
            reader.tables.append(current.build())  # iptables -S output: one table, even if it was flushed
    return RuleSet(tuple(reader.tables))


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
    """``-A``/``-I`` (a rule) or ``-N``/``-X``/``-F``/``-P`` (a chain), in iptables' long or short spelling."""
    if words is None:
        words = _checked_columns(line, source, lineno)
    command, column = words[0]
    if command in ("-t", "--table"):
        raise _error("-t cannot be used in iptables-restore input", source, lineno, line, column, command)
    if command in ("-A", "--append", "-I", "--insert"):
        _rule_command(current, line, source, lineno, words, counters)
    elif command in ("-N", "--new-chain", "-X", "--delete-chain", "-F", "--flush", "-P", "--policy"):
        _chain_command(current, line, source, lineno, words)
    else:
        raise _error("unknown or unsupported command", source, lineno, line, column, command)


def _rule_command(current: _TableBuilder, line: str, source: str, lineno: int, words: list[tuple[str, int]],
                  counters: tuple[int, int] | None) -> None:
    """``-A CHAIN words...`` or ``-I CHAIN [n] words...``."""
    command, column = words[0]
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


def _chain_command(current: _TableBuilder, line: str, source: str, lineno: int,
                   words: list[tuple[str, int]]) -> None:
    """``-N CHAIN``, ``-X [CHAIN]``, ``-F [CHAIN]`` or ``-P CHAIN POLICY``, applied to the text's own rules."""
    command, column = words[0]
    policy = command in ("-P", "--policy")
    if policy and len(words) < 3:
        raise _error(f"{command} needs a chain and a policy", source, lineno, line, column, command)
    if command in ("-N", "--new-chain") and len(words) < 2:
        raise _error(f"{command} needs a chain name", source, lineno, line, column, command)
    chain = words[1][0] if len(words) > 1 else None
    problem = None if chain is None else _chain_problem(chain)
    if problem:
        raise _error(problem, source, lineno, line, words[1][1], chain)
    if policy and (_NEEDS_QUOTES.search(words[2][0]) or not words[2][0]):
        raise _error("bad chain policy", source, lineno, line, words[2][1], words[2][0])
    extra = words[3 if policy else 2:]
    if policy and len(extra) >= 3 and extra[0][0] in ("-c", "--set-counters"):
        extra = extra[3:]  # "iptables -S -v" prints the policy's counters
    if extra:
        raise _error(f"unexpected word after {command}", source, lineno, line, extra[0][1], extra[0][0])
    if command in ("-N", "--new-chain"):
        if chain in current.chains:
            raise _error("chain already exists", source, lineno, line, words[1][1], chain)
        name = _intern(chain)
        current.chains[name] = Chain(name)
    elif policy:
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
