"""The two text forms of a rule set: ``iptables-restore`` input and ``iptables-save`` output."""

from __future__ import annotations

import re

from ..errors import InvalidValue
from ._save import _save_words
from ._tokenize import _NEEDS_QUOTES, _SaveQuoted, _restore_word, _save_string
from ._values import BUILTIN_CHAINS, Chain, Rule, RuleSet, SAMPLE_DATE, TABLES, Table, _chain_problem

# --- rendering -----------------------------------------------------------------------


def restore_line(rule: Rule) -> str:
    """One ``-A CHAIN words...`` line of the restore form (with ``[p:b]`` when it has counters)."""
    _check_chain_name(rule.chain)
    return _restore_line(rule)


# A word needs quotes in the restore form when it is empty or holds one of _NEEDS_QUOTES'
# characters. The rule's words are joined at once and checked once: the spaces counted,
# the other characters searched for.
_QUOTED_BUT_SPACE = re.compile(r'[\t"\n\r]')


def _restore_line(rule: Rule) -> str:
    """:func:`restore_line` for a chain name checked already.

    Rules of kube-proxy's shapes take the quick way: their words as they are, joined once,
    but for the comment (the one word kube-proxy quotes), quoted in place. Any other rule
    is quoted word by word.
    """
    args = rule.args
    line = "-A " + rule.chain
    if args:
        text = " ".join(args)
        spaces = text.count(" ") - len(args) + 1
        if spaces or "" in args or _QUOTED_BUT_SPACE.search(text) is not None:
            text = _quoted_words(rule, text, spaces)
        line += " " + text
    if rule.counters is not None:
        line = f"[{rule.counters[0]}:{rule.counters[1]}] " + line
    return line


def _quoted_words(rule: Rule, text: str, spaces: int) -> str:
    """The words of a rule whose joined ``text`` holds ``spaces`` spaces more than it has
    gaps between words, with the words that need it quoted."""
    args = rule.args
    # the comment follows --comment; any word would do, the count below checks it
    position = args.index("--comment") + 1 if "--comment" in args[:-1] else None
    if (position is not None and spaces and args[position].count(" ") == spaces and "" not in args
            and _QUOTED_BUT_SPACE.search(text) is None):
        # only that word has spaces: quote it in place
        start = len(" ".join(args[:position])) + 1 if position else 0
        comment = args[position]
        return text[:start] + _restore_word(comment) + text[start + len(comment):]
    return " ".join(map(_restore_word, args))


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
        checked = {chain.name for chain in table.chains}
        search, append = _QUOTED_BUT_SPACE.search, out.append
        for rule in table.rules:
            chain, args = rule.chain, rule.args
            if chain not in checked:
                _check_chain_name(chain)
                checked.add(chain)
            # _restore_line's quick way, written out here: a call per rule would cost more
            text = " ".join(args)
            if (text.count(" ") + 1 != len(args) or "" in args or search(text) is not None
                    or rule.counters is not None or not args):
                append(_restore_line(rule))
            else:
                append("-A " + chain + " " + text)
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

    >>> from k8snet_lesson.iptables import parse
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
