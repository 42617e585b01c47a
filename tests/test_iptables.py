"""iptables text, both ways: kube-proxy's restore input, iptables-save's output, and the parser.

The save-form goldens below are written from iptables 1.8.9's save functions (each case
says which), not from this package's output. kube-proxy's own expected restore texts
(shared/kube-proxy-golden) are used as fixtures when present.
"""

from __future__ import annotations

import re
import string
from ipaddress import IPv4Address, IPv4Network
from pathlib import Path

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from k8snet_lesson import iptables
from k8snet_lesson.iptables import _save, _shape
from k8snet_lesson.iptables import _tokenize as tokenizer
from k8snet_lesson.errors import InvalidValue, NotFound, ParseError
from k8snet_lesson.iptables import (
    AddrTypeMatch,
    Chain,
    MarkMatch,
    RecentMatch,
    Rule,
    RuleSet,
    Table,
    kernel_probability,
    parse,
    save_line,
    saved_probability_text,
    to_restore,
    to_save,
)

from golden_data import GOLDEN as _FOUND

GOLDEN = _FOUND if _FOUND is not None else Path("kube-proxy-golden-not-found")
GOLDEN_FILES = sorted(GOLDEN.glob("*.expected.txt")) if GOLDEN.is_dir() else []
needs_golden = pytest.mark.skipif(not GOLDEN_FILES, reason="kube-proxy golden texts (shared/kube-proxy-golden) not present")


def rule(line: str, table: str = "nat") -> Rule:
    """The one rule of a one-line restore text."""
    (only,) = parse(f"*{table}\n{line}\nCOMMIT\n").tables[0].rules
    return only


# --- the restore form: kube-proxy's text, byte for byte ------------------------------


@needs_golden
@pytest.mark.parametrize("path", GOLDEN_FILES, ids=lambda p: p.name)
def test_kube_proxy_restore_text_round_trips_byte_for_byte(path):
    text = path.read_text()
    rules = parse(text, source=str(path))
    assert to_restore(rules) == text
    assert str(rules) == text
    assert parse(to_restore(rules)) == rules


@needs_golden
@pytest.mark.parametrize("path", GOLDEN_FILES, ids=lambda p: p.name)
def test_save_form_of_kube_proxy_rules_is_stable(path):
    rules = parse(path.read_text())
    saved = to_save(rules)
    assert to_save(parse(saved)) == saved


@needs_golden
def test_golden_rules_keep_kube_proxy_word_order():
    rules = parse((GOLDEN / "v128_itp_cluster_three_endpoints.expected.txt").read_text())
    first = rules.table("nat").rules_in("KUBE-SERVICES")[0]
    assert first.args == ("-m", "comment", "--comment", "ns1/svc1 cluster IP", "-m", "tcp", "-p", "tcp",
                          "-d", "172.30.1.1", "--dport", "80", "-j", "KUBE-SVC-AQI2S6QIMU7PVVRP")


def test_restore_quotes_only_words_with_whitespace():
    rs = RuleSet((Table("nat", (Chain("KUBE-SEP-A"), Chain("KUBE-SVC-A")), (
        Rule("KUBE-SEP-A", ("-m", "comment", "--comment", "ns1/svc1:p80", "-s", "10.180.0.1", "-j", "KUBE-MARK-MASQ")),
        Rule("KUBE-SVC-A", ("-m", "comment", "--comment", "ns1/svc1:p80 -> 10.180.0.1:80", "-j", "KUBE-SEP-A")),
    )),))
    assert to_restore(rs) == (
        "*nat\n"
        ":KUBE-SEP-A - [0:0]\n"
        ":KUBE-SVC-A - [0:0]\n"
        "-A KUBE-SEP-A -m comment --comment ns1/svc1:p80 -s 10.180.0.1 -j KUBE-MARK-MASQ\n"
        '-A KUBE-SVC-A -m comment --comment "ns1/svc1:p80 -> 10.180.0.1:80" -j KUBE-SEP-A\n'
        "COMMIT\n"
    )


def test_empty_table_and_empty_rule_set():
    assert to_restore(RuleSet(())) == ""
    assert parse("") == RuleSet(())
    assert to_restore(RuleSet((Table("filter", (), ()),))) == "*filter\nCOMMIT\n"


@pytest.mark.parametrize("word, written", [
    ("plain", "plain"),
    ("two words", '"two words"'),
    ("tab\there", '"tab\there"'),
    ("", '""'),
    ('say "hi"', r'"say \"hi\""'),
    ("back\\slash", "back\\slash"),  # outside quotes a backslash is an ordinary character
    ("back\\slash and space", r'"back\\slash and space"'),
    ("it's", "it's"),
])
def test_restore_word_quoting_reads_back(word, written):
    rs = RuleSet((Table("filter", (), (Rule("X", ("-m", "comment", "--comment", word)),)),))
    text = to_restore(rs)
    assert text == f"*filter\n-A X -m comment --comment {written}\nCOMMIT\n"
    assert parse(text) == rs


def test_words_with_line_breaks_cannot_be_written():
    rs = RuleSet((Table("filter", (), (Rule("X", ("-m", "comment", "--comment", "a\nb")),)),))
    with pytest.raises(InvalidValue, match="line break"):
        to_restore(rs)


def test_bad_chain_and_table_names_cannot_be_written():
    with pytest.raises(InvalidValue, match="chain name"):
        to_restore(RuleSet((Table("nat", (Chain("HAS SPACE"),), ()),)))
    with pytest.raises(InvalidValue, match="chain name"):
        to_restore(RuleSet((Table("nat", (Chain("A" * 29),), ()),)))
    with pytest.raises(InvalidValue, match="table 'bogus'"):
        to_restore(RuleSet((Table("bogus", (), ()),)))


# --- tokenising like iptables-restore ------------------------------------------------


@pytest.mark.parametrize("line, words", [
    ("-A X -j Y", ["-A", "X", "-j", "Y"]),
    ("-A X   -j\tY  ", ["-A", "X", "-j", "Y"]),
    ('-A X -m comment --comment "a b" -j Y', ["-A", "X", "-m", "comment", "--comment", "a b", "-j", "Y"]),
    ('-A X -m foo ab"c d"', ["-A", "X", "-m", "foo", "abc d"]),  # a quote joins what precedes it
    ('-A X -m foo "a"b', ["-A", "X", "-m", "foo", "a", "b"]),  # and the closing quote ends the word
    ('-A X -m comment --comment ""', ["-A", "X", "-m", "comment", "--comment", ""]),
    (r'-A X -m comment --comment "a \"q\" \\ b"', ["-A", "X", "-m", "comment", "--comment", 'a "q" \\ b']),
    (r"-A X -m comment --comment a\b", ["-A", "X", "-m", "comment", "--comment", "a\\b"]),
    ("-A X -m comment --comment \u00e9t\u00e9", ["-A", "X", "-m", "comment", "--comment", "\u00e9t\u00e9"]),
    ("-A X -m comment --comment a\u00a0b", ["-A", "X", "-m", "comment", "--comment", "a\u00a0b"]),  # only space, tab, newline separate
])
def test_tokenizer_follows_iptables_restore(line, words):
    assert [w for w, _ in tokenizer._tokenize(line)] == words
    # and the parser's own quick splitting of rule lines gives the same words
    (only,) = parse(f"*filter\n{line}\nCOMMIT\n").tables[0].rules
    assert ["-A", only.chain, *only.args] == words


@given(st.text(alphabet=st.sampled_from(list('ab "\\\t\u00a0x-')), max_size=30))
def test_quick_and_exact_splitting_agree(line):
    # "-m foo" loads an extension this model does not know: it keeps every word after it
    text = f"-A X -m foo {line}"
    try:
        exact = [w for w, _ in tokenizer._tokenize(text)]
    except tokenizer._TokenError:
        exact = None
    fast = tokenizer._split_quoted(text) if "\\" not in text and text.isprintable() else None
    if fast is not None:
        assert fast == exact
    try:
        (only,) = parse(f"*filter\n{text}\nCOMMIT\n").tables[0].rules
    except ParseError:
        assert exact is None
    else:
        assert ["-A", only.chain, *only.args] == exact


# --- the save form, from iptables 1.8.9's save functions ------------------------------

SAVE_CASES = [
    # (restore words after -A CHAIN, what iptables-save prints, why)
    ('-m comment --comment "ns1/svc1:p80 cluster IP" -m tcp -p tcp -d 172.30.0.41 --dport 80 -j KUBE-SVC-X',
     '-d 172.30.0.41/32 -p tcp -m comment --comment "ns1/svc1:p80 cluster IP" -m tcp --dport 80 -j KUBE-SVC-X',
     "-d and -p first (host as /32), then the modules in load order, --dport inside -m tcp"),
    ("-m comment --comment ns1/svc1:p80 -s 10.180.0.1 -j KUBE-MARK-MASQ",
     '-s 10.180.0.1/32 -m comment --comment "ns1/svc1:p80" -j KUBE-MARK-MASQ',
     "xtables_save_string quotes anything outside [A-Za-z0-9_-]: '/' and ':'"),
    ("-m comment --comment plain_word-1 -j ACCEPT",
     "-m comment --comment plain_word-1 -j ACCEPT",
     "a comment of [A-Za-z0-9_-] only is printed bare"),
    ("-m comment --comment it's -j ACCEPT",
     r'-m comment --comment "it\'s" -j ACCEPT',
     "xtables_save_string escapes ', \" and \\ with a backslash"),
    ('-m comment --comment "ns4/svc4:p80 cluster IP" -m tcp -p tcp -d 172.30.0.44 --dport 80 ! -s 10.0.0.0/8 -j KUBE-MARK-MASQ',
     '! -s 10.0.0.0/8 -d 172.30.0.44/32 -p tcp -m comment --comment "ns4/svc4:p80 cluster IP" -m tcp --dport 80 -j KUBE-MARK-MASQ',
     "-s (with its !) comes before -d"),
    ('-m comment --comment "ns1/svc1 -> 10.0.1.2:80" -m statistic --mode random --probability 0.3333333333 -j KUBE-SEP-A',
     '-m comment --comment "ns1/svc1 -> 10.0.1.2:80" -m statistic --mode random --probability 0.33333333349 -j KUBE-SEP-A',
     "libxt_statistic keeps lround(p * 2^31) and prints it / 2^31 with %.11f"),
    ("-m statistic --mode random --probability 0.5000000000 -j KUBE-SEP-A",
     "-m statistic --mode random --probability 0.50000000000 -j KUBE-SEP-A",
     "1/2 is exact in 31 bits"),
    ("-m statistic --mode random --probability 0.33333 -j KUBE-SEP-A",
     "-m statistic --mode random --probability 0.33332999982 -j KUBE-SEP-A",
     "old kube-proxy's %0.5f: lround(0.33333 * 2^31) = 715820724"),
    ("-m statistic --mode random ! --probability 0.25 -j X",
     "-m statistic --mode random ! --probability 0.25000000000 -j X",
     "the ! of --probability is printed after --mode random"),
    ("-m statistic --mode nth --every 3 --packet 0 -j X",
     "-m statistic --mode nth --every 3 -j X",
     "nth mode prints --packet only when it is not 0"),
    ("-j MARK --or-mark 0x4000",
     "-j MARK --set-xmark 0x4000/0x4000",
     "libxt_MARK revision 2 saves every spelling as --set-xmark mark/mask; or-mark: mark = mask = value"),
    ("-j MARK --xor-mark 0x4000",
     "-j MARK --set-xmark 0x4000/0x0",
     "xor-mark: mask 0"),
    ("-j MARK --set-mark 0x4d415351",
     "-j MARK --set-xmark 0x4d415351/0xffffffff",
     "set-mark without a mask clears every bit"),
    ("-j MARK --and-mark 0xffffbfff",
     "-j MARK --set-xmark 0x0/0x4000",
     "and-mark: mark 0, mask ~value"),
    ("-j MARK --set-xmark 16384/16384",
     "-j MARK --set-xmark 0x4000/0x4000",
     "values are read with strtoul(base 0) and printed in hex"),
    ("-m mark ! --mark 0x4000/0x4000 -j RETURN",
     "-m mark ! --mark 0x4000/0x4000 -j RETURN",
     "libxt_mark prints ! before --mark"),
    ("-m mark --mark 0x8000/0xffffffff -j DROP",
     "-m mark --mark 0x8000 -j DROP",
     "a full mask is left out"),
    ('-m comment --comment "ns6/svc6:p80 has no endpoints" -m tcp -p tcp -d 172.30.0.46 --dport 80 -j REJECT',
     '-d 172.30.0.46/32 -p tcp -m comment --comment "ns6/svc6:p80 has no endpoints" -m tcp --dport 80 -j REJECT --reject-with icmp-port-unreachable',
     "libipt_REJECT always names its reply; icmp-port-unreachable is the default"),
    ("-p tcp -j REJECT --reject-with tcp-rst",
     "-p tcp -j REJECT --reject-with tcp-reset",
     "aliases are printed by their full name"),
    ("-m comment --comment ns1/svc1 -m recent --name KUBE-SEP-A --rcheck --seconds 10800 --reap -j KUBE-SEP-A",
     '-m comment --comment "ns1/svc1" -m recent --rcheck --seconds 10800 --reap --name KUBE-SEP-A --mask 255.255.255.255 --rsource -j KUBE-SEP-A',
     "libxt_recent: command, --seconds, --reap, --name, then the mask and side it defaults to"),
    ("-m comment --comment ns1/svc1 -m recent --name KUBE-SEP-A --set -m tcp -p tcp -j DNAT --to-destination 10.0.1.5:80",
     '-p tcp -m comment --comment "ns1/svc1" -m recent --set --name KUBE-SEP-A --mask 255.255.255.255 --rsource -m tcp -j DNAT --to-destination 10.0.1.5:80',
     "-m tcp with no port stays, DNAT keeps --to-destination"),
    ('-m comment --comment "kubernetes service nodeports; NOTE: this must be the last rule in this chain" -m addrtype --dst-type LOCAL -j KUBE-NODEPORTS',
     '-m comment --comment "kubernetes service nodeports; NOTE: this must be the last rule in this chain" -m addrtype --dst-type LOCAL -j KUBE-NODEPORTS',
     "addrtype prints --dst-type LOCAL"),
    ("-m addrtype ! --src-type local,unicast -j X",
     "-m addrtype ! --src-type UNICAST,LOCAL -j X",
     "types are upper case, in rtn_names order, ! before the option"),
    ("-m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT",
     "-m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT",
     "libxt_conntrack prints states in its fixed order (INVALID,NEW,RELATED,ESTABLISHED,...)"),
    ('-m comment --comment "block incoming localnet connections" -d 127.0.0.0/8 ! -s 127.0.0.0/8 -m conntrack ! --ctstate RELATED,ESTABLISHED,DNAT -j DROP',
     '! -s 127.0.0.0/8 -d 127.0.0.0/8 -m comment --comment "block incoming localnet connections" -m conntrack ! --ctstate RELATED,ESTABLISHED,DNAT -j DROP',
     "kubelet's KUBE-FIREWALL rule as iptables-save shows it"),
    ("-p tcp --dport 80 -j ACCEPT",
     "-p tcp -m tcp --dport 80 -j ACCEPT",
     "an option of the protocol's match loads it implicitly"),
    ("-m tcp -p tcp --dport 30000:30010 --sport 1024: -j ACCEPT",
     "-p tcp -m tcp --sport 1024:65535 --dport 30000:30010 -j ACCEPT",
     "--sport before --dport; an open range is closed"),
    ("-d 10.0.0.5/8 -j ACCEPT",
     "-d 10.0.0.0/8 -j ACCEPT",
     "the kernel keeps the address masked"),
    ("-s 10.0.0.0/255.255.0.0 -j ACCEPT",
     "-s 10.0.0.0/16 -j ACCEPT",
     "a dotted mask is printed as a prefix length"),
    ("-p 6 -j ACCEPT",
     "-p tcp -j ACCEPT",
     "protocol numbers are printed by name (getprotobynumber)"),
    ("-p all -j ACCEPT",
     "-j ACCEPT",
     "-p all is protocol 0, which is not printed"),
    ("-j MASQUERADE --random-fully",
     "-j MASQUERADE --random-fully",
     "MASQUERADE keeps its flags"),
    ("-i cni0 ! -o cni0 -j ACCEPT",
     "-i cni0 ! -o cni0 -j ACCEPT",
     "interfaces after addresses"),
    ("-m physdev ! --physdev-is-in -m addrtype ! --src-type LOCAL -j KUBE-SVC-X",
     "-m physdev ! --physdev-is-in -m addrtype ! --src-type LOCAL -j KUBE-SVC-X",
     "an extension this model does not know keeps its words"),
    ("-m nfacct --nfacct-name localhost_nps_accepted_pkts -j KUBE-EXT-X",
     "-m nfacct --nfacct-name localhost_nps_accepted_pkts -j KUBE-EXT-X",
     "nfacct prints its name"),
    ("-j LOG --log-prefix \"dropped: \"",
     '-j LOG --log-prefix "dropped: "',
     "an unknown target keeps its words"),
]


@pytest.mark.parametrize("restore, saved, why", SAVE_CASES, ids=[c[2] for c in SAVE_CASES])
def test_save_form_of_one_rule(restore, saved, why):
    one = rule(f"-A CHAIN {restore}")
    assert save_line(one) == f"-A CHAIN {saved}"
    # what iptables-save prints reads back and prints the same again
    assert save_line(rule(f"-A CHAIN {saved}")) == f"-A CHAIN {saved}"


def test_save_form_of_a_table_golden():
    text = (
        "*nat\n"
        ":KUBE-SERVICES - [0:0]\n"
        ":KUBE-MARK-MASQ - [0:0]\n"
        ":KUBE-SVC-AQI2S6QIMU7PVVRP - [0:0]\n"
        '-A KUBE-SERVICES -m comment --comment "ns1/svc1 cluster IP" -m tcp -p tcp -d 172.30.1.1 --dport 80 -j KUBE-SVC-AQI2S6QIMU7PVVRP\n'
        "-A KUBE-MARK-MASQ -j MARK --or-mark 0x4000\n"
        '-A KUBE-SVC-AQI2S6QIMU7PVVRP -m comment --comment "ns1/svc1 -> 10.0.1.2:80" -j KUBE-SEP-IO5XOSKPAXIFQXAJ\n'
        "COMMIT\n"
    )
    # iptables-save: a Generated/Completed comment around each table, the built-in chains
    # first (hook order, ACCEPT), then user chains by name, then the rules chain by chain.
    assert to_save(parse(text)) == (
        "# Generated by iptables-save v1.8.9 (nf_tables) on Thu Jan  1 00:00:00 1970\n"
        "*nat\n"
        ":PREROUTING ACCEPT [0:0]\n"
        ":INPUT ACCEPT [0:0]\n"
        ":OUTPUT ACCEPT [0:0]\n"
        ":POSTROUTING ACCEPT [0:0]\n"
        ":KUBE-MARK-MASQ - [0:0]\n"
        ":KUBE-SERVICES - [0:0]\n"
        ":KUBE-SVC-AQI2S6QIMU7PVVRP - [0:0]\n"
        "-A KUBE-MARK-MASQ -j MARK --set-xmark 0x4000/0x4000\n"
        '-A KUBE-SERVICES -d 172.30.1.1/32 -p tcp -m comment --comment "ns1/svc1 cluster IP" -m tcp --dport 80 -j KUBE-SVC-AQI2S6QIMU7PVVRP\n'
        '-A KUBE-SVC-AQI2S6QIMU7PVVRP -m comment --comment "ns1/svc1 -> 10.0.1.2:80" -j KUBE-SEP-IO5XOSKPAXIFQXAJ\n'
        "COMMIT\n"
        "# Completed on Thu Jan  1 00:00:00 1970\n"
    )


def test_save_with_counters_and_legacy_header():
    text = (
        "*filter\n"
        ":INPUT ACCEPT [4013:241060]\n"
        ":KUBE-FIREWALL - [0:0]\n"
        "[12:720] -A INPUT -j KUBE-FIREWALL\n"
        "COMMIT\n"
    )
    rules = parse(text)
    assert rules.tables[0].rules[0].counters == (12, 720)
    assert to_save(rules, counters=True, backend="legacy", date=None) == (
        "# Generated by iptables-save v1.8.9 (legacy)\n"
        "*filter\n"
        ":INPUT ACCEPT [4013:241060]\n"
        ":FORWARD ACCEPT [0:0]\n"
        ":OUTPUT ACCEPT [0:0]\n"
        ":KUBE-FIREWALL - [0:0]\n"
        "[12:720] -A INPUT -j KUBE-FIREWALL\n"
        "COMMIT\n"
        "# Completed\n"
    )
    # without -c, iptables-nft prints the chain counters as [0:0] and no rule counters
    assert ":INPUT ACCEPT [0:0]\n" in to_save(rules)
    assert "\n-A INPUT -j KUBE-FIREWALL\n" in to_save(rules)


@pytest.mark.parametrize("p, text", [
    (0.5, "0.50000000000"),
    (0.25, "0.25000000000"),
    (0.2, "0.20000000019"),  # lround(0.2 * 2^31) = 429496730
    (0.1, "0.10000000009"),
    (0.3333333333, "0.33333333349"),
    (0.33333, "0.33332999982"),
    (1.0, "1.00000000000"),
    (0.0, "0.00000000000"),
])
def test_saved_probability_text(p, text):
    assert saved_probability_text(p) == text
    # printed back and read again, the kernel keeps the same 31-bit value
    assert kernel_probability(float(text)) == kernel_probability(p)


# --- other inputs: save output, iptables -S, old kube-proxy ---------------------------

NODE_SAVE = """\
# Generated by iptables-save v1.8.9 (nf_tables) on Thu Jan  1 00:00:00 1970
*nat
:PREROUTING ACCEPT [120:7200]
:INPUT ACCEPT [0:0]
:OUTPUT ACCEPT [33:1980]
:POSTROUTING ACCEPT [40:2400]
:KUBE-MARK-MASQ - [0:0]
:KUBE-SERVICES - [0:0]
[120:7200] -A PREROUTING -m comment --comment "kubernetes service portals" -j KUBE-SERVICES
[3:180] -A KUBE-MARK-MASQ -j MARK --set-xmark 0x4000/0x4000
[7:420] -A KUBE-SERVICES -d 10.96.0.10/32 -p udp -m comment --comment "kube-system/kube-dns:dns cluster IP" -m udp --dport 53 -j KUBE-SVC-TCOU7JCQXEZGVUNU
COMMIT
# Completed on Thu Jan  1 00:00:00 1970
"""


def test_parse_save_form_with_counters():
    nat = parse(NODE_SAVE).table("nat")
    assert nat.chain("PREROUTING") == Chain("PREROUTING", "ACCEPT", (120, 7200))
    assert [r.counters for r in nat.rules] == [(120, 7200), (3, 180), (7, 420)]
    service = nat.rules_in("KUBE-SERVICES")[0]
    assert service.destination == IPv4Network("10.96.0.10/32")
    assert service.protocol == "udp" and service.dport == 53
    assert service.comment == "kube-system/kube-dns:dns cluster IP"
    assert to_save(parse(NODE_SAVE), counters=True) == NODE_SAVE


def test_parse_iptables_S_output():
    text = (
        "-P PREROUTING ACCEPT\n"
        "-P OUTPUT ACCEPT\n"
        "-N KUBE-SERVICES\n"
        '-A PREROUTING -m comment --comment "kubernetes service portals" -j KUBE-SERVICES\n'
        '-A KUBE-SERVICES -d 10.96.0.1/32 -p tcp -m comment --comment "default/kubernetes:https cluster IP" -m tcp --dport 443 -j KUBE-SVC-NPX46M4PTMTKRN6Y\n'
    )
    (table,) = parse(text, table="nat").tables
    assert table.name == "nat"
    assert table.chains == (Chain("PREROUTING", "ACCEPT"), Chain("OUTPUT", "ACCEPT"), Chain("KUBE-SERVICES"))
    assert [r.chain for r in table.rules] == ["PREROUTING", "KUBE-SERVICES"]
    assert parse(text).tables[0].name == "filter"  # iptables -S lists the filter table by default


def test_parse_iptables_S_verbose_counters():
    text = "-P INPUT ACCEPT -c 10 600\n-A INPUT -s 10.0.0.0/8 -c 2 120 -j ACCEPT\n"
    (table,) = parse(text).tables
    (only,) = table.rules
    assert only.counters == (2, 120)
    assert only.args == ("-s", "10.0.0.0/8", "-j", "ACCEPT")


OLD_KUBE_PROXY = """\
*nat
:KUBE-SERVICES - [0:0]
:KUBE-SVC-KMMA4UO25W53IH36 - [0:0]
:KUBE-SEP-PUI35VG6I46PKTF6 - [0:0]
-A KUBE-SERVICES -m comment --comment "default/svc-nginx: cluster IP" -m tcp -p tcp -d 10.254.180.23/32 --dport 80 -j KUBE-SVC-KMMA4UO25W53IH36
-A KUBE-SVC-KMMA4UO25W53IH36 -m comment --comment default/svc-nginx: -m statistic --mode random --probability 0.33333 -j KUBE-SEP-PUI35VG6I46PKTF6
-A KUBE-SEP-PUI35VG6I46PKTF6 -m comment --comment default/svc-nginx: -s 172.16.8.2/32 -j MARK --set-xmark 0x4d415351/0xffffffff
-A KUBE-SEP-PUI35VG6I46PKTF6 -m comment --comment default/svc-nginx: -m tcp -p tcp -j DNAT --to-destination 172.16.8.2:80
COMMIT
"""


def test_parse_old_kube_proxy_text():
    nat = parse(OLD_KUBE_PROXY).table("nat")
    svc = nat.rules_in("KUBE-SVC-KMMA4UO25W53IH36")[0]
    assert svc.comment == "default/svc-nginx:"  # ServicePortName with an empty port name
    assert svc.probability_text == "0.33333" and svc.probability == 0.33333
    mark = nat.rules_in("KUBE-SEP-PUI35VG6I46PKTF6")[0]
    assert mark.target == "MARK" and mark.jump_chain is None
    assert mark.mark_target == (0x4D415351, 0xFFFFFFFF)
    assert to_restore(parse(OLD_KUBE_PROXY)) == OLD_KUBE_PROXY


def test_restore_commands_beyond_append():
    text = (
        "*nat\n"
        ":KUBE-SEP-OLD - [0:0]\n"
        ":KUBE-SVC-A - [0:0]\n"
        "-A KUBE-SEP-OLD -j ACCEPT\n"
        "-A KUBE-SVC-A -j KUBE-SEP-2\n"
        "-I KUBE-SVC-A -j KUBE-SEP-1\n"
        "-I KUBE-SVC-A 3 -j KUBE-SEP-3\n"
        "-X KUBE-SEP-OLD\n"
        "COMMIT\n"
    )
    nat = parse(text).table("nat")
    assert [c.name for c in nat.chains] == ["KUBE-SVC-A"]
    assert [r.target for r in nat.rules] == ["KUBE-SEP-1", "KUBE-SEP-2", "KUBE-SEP-3"]
    assert parse("*nat\n-A X -j A\n-F X\nCOMMIT\n").table("nat").rules == ()


def test_windows_line_endings_are_read():
    assert parse("*nat\r\n-A X -j Y\r\nCOMMIT\r\n") == parse("*nat\n-A X -j Y\nCOMMIT\n")


# --- errors: source, line, word, caret ------------------------------------------------

ERROR_CASES = [
    ("*nat\n-A X --bogus 1\nCOMMIT\n",
     "dump.txt:2: unknown option '--bogus'\n    -A X --bogus 1\n         ^~~~~~~"),
    ('*nat\n-A X -m comment --comment "unterminated\nCOMMIT\n',
     "dump.txt:2: unterminated quote '\"unterminated'\n    -A X -m comment --comment \"unterminated\n"
     "                              ^~~~~~~~~~~~~"),
    ("*nat\n-A X -s 300.1.1.1 -j Y\nCOMMIT\n",
     "dump.txt:2: bad IPv4 address or network '300.1.1.1'\n    -A X -s 300.1.1.1 -j Y\n            ^~~~~~~~~"),
    ("*nat\n-A X -m tcp -p tcp --dport 70000 -j Y\nCOMMIT\n",
     "dump.txt:2: port out of range (0-65535) '70000'\n    -A X -m tcp -p tcp --dport 70000 -j Y\n"
     "                               ^~~~~"),
    ("*nat\n-A X -m statistic --mode random --probability 1.5 -j Y\nCOMMIT\n",
     "dump.txt:2: probability out of range (0 to 1) '1.5'\n"
     "    -A X -m statistic --mode random --probability 1.5 -j Y\n"
     "                                                  ^~~"),
    ("*nat\n-A X -j\nCOMMIT\n",
     "dump.txt:2: missing value after '-j'\n    -A X -j\n         ^~"),
    ("*nat\n-A X -m comment -j Y\nCOMMIT\n",
     "dump.txt:2: missing --comment for module 'comment'\n    -A X -m comment -j Y\n            ^~~~~~~"),
    ("*nat\n-A X ! -j Y\nCOMMIT\n",
     "dump.txt:2: '!' cannot negate '-j'\n    -A X ! -j Y\n           ^~"),
    ("*nat\n-A X -j MARK\nCOMMIT\n",
     "dump.txt:2: missing --set-xmark, --set-mark, --or-mark, --and-mark or --xor-mark for target 'MARK'\n"
     "    -A X -j MARK\n            ^~~~"),
    ("*nat\n-Z X\nCOMMIT\n",
     "dump.txt:2: unknown or unsupported command '-Z'\n    -Z X\n    ^~"),
    ("*nat\n-t nat -A X\nCOMMIT\n",
     "dump.txt:2: -t cannot be used in iptables-restore input '-t'\n    -t nat -A X\n    ^~"),
    ("*foo\nCOMMIT\n",
     "dump.txt:1: unknown table (tables: raw, mangle, filter, nat, security) '*foo'\n    *foo\n    ^~~~"),
    ("*nat\n:X - [a:b]\nCOMMIT\n",
     "dump.txt:2: bad chain counters (expected [packets:bytes]) '[a:b]'\n    :X - [a:b]\n         ^~~~~"),
    ("*nat\n-A X -j Y\n",
     "dump.txt:2: table nat (line 1) is never committed (COMMIT expected before the end)"),
    ("-A X -j Y\nCOMMIT\n",
     "dump.txt:2: COMMIT without a table 'COMMIT'\n    COMMIT\n    ^~~~~~"),
    ("*nat\n*filter\nCOMMIT\n",
     "dump.txt:2: table nat (line 1) needs a COMMIT before the next table '*filter'\n    *filter\n    ^~~~~~~"),
    ("*nat\n-A " + "C" * 29 + " -j Y\nCOMMIT\n",
     "dump.txt:2: chain name too long (28 characters at most) '" + "C" * 29 + "'\n    -A " + "C" * 29
     + " -j Y\n       ^" + "~" * 28),
]


@pytest.mark.parametrize("text, message", ERROR_CASES, ids=[c[1].split("\n")[0] for c in ERROR_CASES])
def test_parse_errors_name_source_line_and_word(text, message):
    with pytest.raises(ParseError) as caught:
        parse(text, source="dump.txt")
    assert str(caught.value) == message
    assert caught.value.source == "dump.txt"


def test_parse_error_is_a_value_error_and_has_its_fields():
    with pytest.raises(ValueError) as caught:
        parse("*nat\n\n-A X -j Y -j Z\nCOMMIT\n", source="node.txt")
    err = caught.value
    assert isinstance(err, ParseError)
    assert (err.line, err.word, err.column) == (3, "-j", 10)


def test_unknown_table_option():
    with pytest.raises(ParseError, match="unknown table 'bogus'"):
        parse("-A X -j Y\n", table="bogus")


# --- typed views --------------------------------------------------------------------


def test_views_of_a_cluster_ip_rule():
    r = rule('-A KUBE-SERVICES -m comment --comment "ns1/svc1:p80 cluster IP" -m tcp -p tcp -d 172.30.0.41 --dport 80 -j KUBE-SVC-X')
    assert r.comment == "ns1/svc1:p80 cluster IP"
    assert r.target == r.jump_chain == "KUBE-SVC-X"
    assert r.destination == IPv4Network("172.30.0.41/32") and not r.destination_negated
    assert r.source is None
    assert r.protocol == "tcp" and r.dport == 80 and r.dport_range == (80, 80) and not r.dport_negated
    assert r.probability is None and r.probability_text is None
    assert r.modules == ("comment", "tcp")
    assert r.dnat_destination is None and r.recent is None and r.addrtype is None


def test_views_of_masquerade_and_balancing_rules():
    masq = rule('-A KUBE-SVC-X -m comment --comment "ns1/svc1:p80 cluster IP" -m tcp -p tcp -d 172.30.0.41 --dport 80 ! -s 10.0.0.0/8 -j KUBE-MARK-MASQ')
    assert masq.source == IPv4Network("10.0.0.0/8") and masq.source_negated
    assert masq.jump_chain == "KUBE-MARK-MASQ"
    balance = rule('-A KUBE-SVC-X -m comment --comment "ns1/svc1 -> 10.0.1.2:80" -m statistic --mode random --probability 0.3333333333 -j KUBE-SEP-A')
    assert balance.probability == 0.3333333333 and balance.probability_text == "0.3333333333"
    saved = rule(save_line(balance))
    assert saved.probability_text == "0.33333333349"


def test_views_of_endpoint_rules():
    dnat = rule("-A KUBE-SEP-A -m comment --comment ns1/svc1 -m recent --name KUBE-SEP-A --set -m tcp -p tcp -j DNAT --to-destination 10.0.1.5:80")
    assert dnat.dnat_destination == (IPv4Address("10.0.1.5"), 80)
    assert dnat.target == "DNAT" and dnat.jump_chain is None
    assert dnat.target_args == ("--to-destination", "10.0.1.5:80")
    assert dnat.recent == RecentMatch(name="KUBE-SEP-A", command="set")
    check = rule("-A KUBE-SVC-A -m recent --name KUBE-SEP-A --rcheck --seconds 10800 --reap -j KUBE-SEP-A")
    assert check.recent == RecentMatch(name="KUBE-SEP-A", command="rcheck", seconds=10800, reap=True)
    no_port = rule("-A KUBE-SEP-A -j DNAT --to-destination 10.0.1.5")
    assert no_port.dnat_destination == (IPv4Address("10.0.1.5"), None)


@pytest.mark.parametrize("command", ["set", "rcheck", "update", "remove"])
def test_recent_command_is_each_of_the_four(command):
    got = rule(f"-A KUBE-SVC-A -m recent --name KUBE-SEP-A --{command} -j KUBE-SEP-A").recent
    assert got.command == command


@pytest.mark.parametrize(
    "words, message",
    [
        ("-m recent --name X -j Y", "missing --set, --rcheck, --update or --remove for module 'recent'"),
        ("-m recent --name X --check -j Y", "unknown option '--check'"),
    ],
)
def test_recent_commands_outside_the_four_are_refused(words, message):
    with pytest.raises(ParseError, match=re.escape(message)):
        parse(f"*nat\n:Y - [0:0]\n-A Y {words}\nCOMMIT\n")
    with pytest.raises(InvalidValue, match=re.escape("-m recent command 'check' is not one of set, rcheck")):
        RecentMatch("X", "check")  # type: ignore[arg-type]  # the Literal's check, made at run time too


def test_views_of_marks_addrtype_conntrack_reject():
    assert rule("-A P -m mark ! --mark 0x4000/0x4000 -j RETURN").mark_match == MarkMatch(0x4000, 0x4000, True)
    assert MarkMatch(0x4000, 0x4000, True).matches(0) and not MarkMatch(0x4000, 0x4000, True).matches(0x4000)
    assert rule("-A P -j MARK --xor-mark 0x4000").mark_target == (0x4000, 0)
    assert rule("-A S -m addrtype --dst-type LOCAL -j N").addrtype == AddrTypeMatch(dst_types=("LOCAL",))
    assert rule("-A F -m conntrack ! --ctstate RELATED,ESTABLISHED,DNAT -j DROP", "filter").ctstates == (
        frozenset({"RELATED", "ESTABLISHED", "DNAT"}), True)
    assert rule("-A F -j REJECT", "filter").reject_with == "icmp-port-unreachable"
    assert rule("-A F -j REJECT --reject-with tcp-rst", "filter").reject_with == "tcp-reset"
    assert rule("-A F -j ACCEPT", "filter").jump_chain is None


def test_a_rule_is_built_cheaply_and_checked_when_read():
    bad = Rule("X", ("--bogus",))  # building never reads the words
    with pytest.raises(InvalidValue, match="rule in chain X: unknown option '--bogus'"):
        bad.target
    assert Rule("X", ("-j", "Y")) == Rule("X", ("-j", "Y"))
    assert hash(Rule("X", ("-j", "Y"))) == hash(Rule("X", ("-j", "Y")))


def test_table_lookups():
    rs = parse(NODE_SAVE)
    assert rs.table("nat").has_chain("POSTROUTING")
    assert rs.get_table("filter") is None
    with pytest.raises(NotFound, match="no table 'filter'"):
        rs.table("filter")
    assert rs.rule_count == 3


# --- the shape cache gives what a fresh reading gives -----------------------------------

_IPS = st.builds(lambda a, b, c, d: f"{a}.{b}.{c}.{d}", *(st.integers(0, 255),) * 4)
_CIDRS = st.builds(lambda ip, n: f"{ip}/{n}", _IPS, st.integers(0, 32))
_PORTS = st.integers(1, 65535).map(str)
_WORD = st.text(alphabet=st.characters(blacklist_characters="\n\r", blacklist_categories=("Cs",)), max_size=12)
_FREE_WORD = st.text(alphabet=string.ascii_letters + string.digits + "./:_", min_size=1, max_size=10).filter(
    lambda w: w not in _shape._GENERIC and w != "!")
_CHAIN = st.text(alphabet=string.ascii_uppercase + string.digits + "-_", min_size=1, max_size=28).filter(
    lambda n: n[0] not in "-!" and n not in _shape._TARGETS)  # "-j MARK" is the MARK target, not a chain


@st.composite
def kube_proxy_args(draw):
    """The words of a rule in kube-proxy's shape, with random values and optional extras."""
    kind = draw(st.sampled_from(["cluster_ip", "masq", "balance", "last", "sep_masq", "dnat", "affinity", "unknown"]))
    comment = ("-m", "comment", "--comment", draw(_WORD))
    proto = draw(st.sampled_from(["tcp", "udp", "sctp"]))
    if kind == "cluster_ip":
        return (*comment, "-m", proto, "-p", proto, "-d", draw(_IPS), "--dport", draw(_PORTS), "-j", draw(_CHAIN))
    if kind == "masq":
        return (*comment, "-m", proto, "-p", proto, "-d", draw(_IPS), "--dport", draw(_PORTS),
                "!", "-s", draw(_CIDRS), "-j", "KUBE-MARK-MASQ")
    if kind == "balance":
        p = draw(st.floats(0, 1))
        return (*comment, "-m", "statistic", "--mode", "random", "--probability", f"{p:.10f}", "-j", draw(_CHAIN))
    if kind == "last":
        return (*comment, "-j", draw(_CHAIN))
    if kind == "sep_masq":
        return (*comment, "-s", draw(_IPS), "-j", "KUBE-MARK-MASQ")
    if kind == "dnat":
        return (*comment, "-m", proto, "-p", proto, "-j", "DNAT", "--to-destination", f"{draw(_IPS)}:{draw(_PORTS)}")
    if kind == "affinity":
        return (*comment, "-m", "recent", "--name", draw(_CHAIN), "--rcheck", "--seconds",
                str(draw(st.integers(1, 86400))), "--reap", "-j", draw(_CHAIN))
    return ("-m", "physdev", *draw(st.lists(_FREE_WORD, max_size=4)), "-j", draw(_CHAIN), *draw(st.lists(_FREE_WORD, max_size=3)))


@st.composite
def rule_sets(draw):
    tables = []
    for name in draw(st.lists(st.sampled_from(iptables.TABLES), max_size=3)):
        chains = tuple(Chain(n, draw(st.sampled_from(["-", "ACCEPT", "DROP"])),
                             draw(st.tuples(st.integers(0, 10**12), st.integers(0, 10**15))))
                       for n in draw(st.lists(_CHAIN, max_size=4, unique=True)))
        rules = tuple(Rule(draw(_CHAIN), draw(kube_proxy_args()),
                           draw(st.none() | st.tuples(st.integers(0, 10**9), st.integers(0, 10**12))))
                      for _ in range(draw(st.integers(0, 6))))
        tables.append(Table(name, chains, rules))
    return RuleSet(tuple(tables))


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(rule_sets())
def test_restore_round_trip_property(rs):
    assert parse(to_restore(rs)) == rs


@settings(max_examples=200, suppress_health_check=[HealthCheck.too_slow])
@given(rule_sets())
def test_save_form_is_a_fixed_point(rs):
    saved = to_save(rs)
    assert to_save(parse(saved)) == saved


@settings(max_examples=300)
@given(kube_proxy_args())
def test_cached_shape_reads_like_a_fresh_one(args):
    fresh = _shape._analyse(args)
    cached = _shape._checked_plan(args)
    assert _save._save_words(cached, args) == _save._save_words(fresh, args)


@settings(max_examples=300)
@given(st.lists(st.sampled_from(["-s", "-d", "-p", "tcp", "-m", "comment", "--comment", "tcp", "--dport", "80",
                                 "!", "-j", "ACCEPT", "DNAT", "--to-destination", "10.0.0.1:80", "10.0.0.0/8",
                                 "statistic", "--mode", "random", "--probability", "0.5", "x", "-i", "-c", "1"]),
                max_size=10))
def test_shape_cache_never_accepts_what_a_fresh_reading_refuses(words):
    args = tuple(words)
    try:
        fresh = _shape._analyse(args)
    except _shape._WordError:
        fresh = None
    try:
        cached = _shape._checked_plan(args)
    except _shape._WordError:
        cached = None
    assert (fresh is None) == (cached is None)
    if fresh is not None:
        assert _save._save_words(cached, args) == _save._save_words(fresh, args)


@settings(max_examples=500)
@given(st.text(alphabet=st.sampled_from(list('*:-A []"\\#!\n\tnatfilterCOMMIT0123456789.KUBE-jmsd/x')), max_size=80))
def test_parse_of_arbitrary_text_raises_only_parse_errors(text):
    try:
        rules = parse(text)
    except ParseError:
        return
    assume(rules.tables)
    for table in rules.tables:
        for r in table.rules:
            save_line(r)  # what was accepted can be read back


def test_replacing_a_rules_words_reads_them_again():
    import dataclasses

    first = Rule("X", ("-j", "KUBE-SEP-A"))
    assert first.jump_chain == "KUBE-SEP-A"
    changed = dataclasses.replace(first, args=("-j", "DROP"))
    assert changed.target == "DROP" and changed.jump_chain is None


def test_builtin_chains_declared_with_dash_print_their_policy():
    # restore input may declare ":PREROUTING - [0:0]" ("keep the policy"); iptables-save
    # prints the policy the chain has, ACCEPT unless one was set
    saved = to_save(parse("*nat\n:PREROUTING - [0:0]\n:OUTPUT DROP [0:0]\nCOMMIT\n"), date=None)
    assert ":PREROUTING ACCEPT [0:0]\n" in saved and ":OUTPUT DROP [0:0]\n" in saved
