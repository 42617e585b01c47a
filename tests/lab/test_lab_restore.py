"""kube-proxy's --noflush restores as the lab writes them: stale chains are declared
(which flushes them) and then deleted with -X, as proxier.go does after a sync."""

from __future__ import annotations

from k8snet_lesson.iptables import Chain, Rule, RuleSet, Table
from k8snet_lesson.lab.kernel import _stale_chains, _with_deletions, _without_builtin


def ruleset(nat_chains, filter_chains=("KUBE-SERVICES",)) -> RuleSet:
    nat = Table("nat", tuple(Chain(c) for c in nat_chains), tuple(Rule(c, ("-j", "RETURN")) for c in nat_chains))
    return RuleSet((Table("filter", tuple(Chain(c) for c in filter_chains), ()), nat))


def test_stale_chains_are_the_kube_chains_that_went_away():
    before = ruleset(("KUBE-SERVICES", "KUBE-SVC-AAA", "KUBE-SEP-BBB", "KUBE-SEP-CCC"))
    after = ruleset(("KUBE-SERVICES", "KUBE-SVC-AAA", "KUBE-SEP-CCC"))
    assert _stale_chains(before, after) == {"nat": ["KUBE-SEP-BBB"]}
    assert _stale_chains(None, after) == {}
    assert _stale_chains(after, after) == {}


def test_deletions_flush_then_delete_inside_their_table():
    text = "*filter\n:KUBE-SERVICES - [0:0]\nCOMMIT\n*nat\n:KUBE-SERVICES - [0:0]\n-A KUBE-SERVICES -j RETURN\nCOMMIT\n"
    assert _with_deletions(text, {"nat": ["KUBE-SEP-BBB"]}) == (
        "*filter\n:KUBE-SERVICES - [0:0]\nCOMMIT\n"
        "*nat\n:KUBE-SEP-BBB - [0:0]\n:KUBE-SERVICES - [0:0]\n-A KUBE-SERVICES -j RETURN\n-X KUBE-SEP-BBB\nCOMMIT\n"
    )
    assert _with_deletions(text, {}) == text


def test_a_table_that_is_gone_gets_its_own_block():
    text = "*filter\nCOMMIT\n"
    assert _with_deletions(text, {"nat": ["KUBE-SVC-X"]}) == "*filter\nCOMMIT\n*nat\n:KUBE-SVC-X - [0:0]\n-X KUBE-SVC-X\nCOMMIT\n"


def test_without_builtin_keeps_only_kube_proxys_own_chains():
    full = RuleSet((Table("nat", (Chain("PREROUTING", "ACCEPT"), Chain("KUBE-SERVICES")),
                          (Rule("PREROUTING", ("-j", "KUBE-SERVICES")), Rule("KUBE-SERVICES", ("-j", "RETURN")))),))  # fmt: skip
    assert _without_builtin(full) == RuleSet((Table("nat", (Chain("KUBE-SERVICES"),), (Rule("KUBE-SERVICES", ("-j", "RETURN")),)),))
