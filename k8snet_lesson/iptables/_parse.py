"""Reading iptables text (restore input, save output, ``iptables -S``) into values."""

from __future__ import annotations

import re
import sys

from .._speed import no_cycle_collection
from ..errors import ParseError
from ._extensions import _TARGETS, _UINT_RE, _WordError
from ._shape import _PLANS, _Plan, _plan_as_iptables_reads
from ._tokenize import _NEEDS_QUOTES, _TokenError, _split_quoted, _tokenize
from ._values import BUILTIN_CHAINS, Chain, Rule, RuleSet, TABLES, Table, _chain_problem, _set_chain_counters, _set_chain_name, _set_chain_policy, _set_rule_args, _set_rule_chain, _set_rule_counters, _set_rule_plan

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
    with no_cycle_collection():  # hundreds of thousands of small values: see _speed
        return _parse(text, source, table)


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
