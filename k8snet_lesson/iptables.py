"""iptables rule sets as values, in both real text forms, and their parser.

A :class:`Rule` is what follows ``-A CHAIN`` on one line: its words (arguments),
unquoted, in the order they were written. That is how iptables-restore itself reads a
line, and it keeps kube-proxy's own word order (``-m comment --comment ... -m tcp -p tcp
-d IP --dport 80 -j ...``) so ``parse(str(ruleset)) == ruleset`` holds exactly. Typed
views (destination network, ports, probability, target, comment) are read from the words.
"""

from __future__ import annotations

import dataclasses

__all__ = ["Rule", "Chain", "Table", "RuleSet"]


@dataclasses.dataclass(frozen=True, slots=True)
class Rule:
    """One rule: the chain it is appended to and its words after ``-A CHAIN``."""

    chain: str
    args: tuple[str, ...]
    counters: tuple[int, int] | None = None


@dataclasses.dataclass(frozen=True, slots=True)
class Chain:
    """A chain declaration (``:NAME POLICY [packets:bytes]``); user chains have policy ``-``."""

    name: str
    policy: str = "-"
    counters: tuple[int, int] = (0, 0)


@dataclasses.dataclass(frozen=True, slots=True)
class Table:
    """One table (``*nat`` ... ``COMMIT``): its chains, in order, and its rules, in order."""

    name: str
    chains: tuple[Chain, ...]
    rules: tuple[Rule, ...]


@dataclasses.dataclass(frozen=True, slots=True)
class RuleSet:
    """Several tables, as one iptables-restore input or one iptables-save dump."""

    tables: tuple[Table, ...]
