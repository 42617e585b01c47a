"""``k8snet explain`` reads whatever iptables accepts (issue 12, item 4).

iptables reads a rule's words with getopt_long (iptables/xshared.c, ``do_parse``):
a short option's value may be attached (``-jACCEPT``), a long option's value may follow
``=``, and any unambiguous prefix of a long option names it. The protocol's match is
loaded only when an option is not known yet (``command_default`` in xshared.c), so a
prefix is ambiguous only among the options loaded at that point. A rule that spells
its words any of these ways means what the canonical spelling means.
"""

from __future__ import annotations

import pytest

from k8snet_lesson.errors import ParseError
from k8snet_lesson.explain import explain, explanations_as_json, explanations_as_text
from k8snet_lesson.iptables import parse, to_save

CANONICAL = """*nat
-A KUBE-SERVICES -m comment --comment "ns/web:http cluster IP" -m tcp -p tcp -d 10.96.0.20/32 --dport 80 -j KUBE-SVC-WEB
-A KUBE-SVC-WEB -m comment --comment "ns/web:http -> 10.244.1.5:8080" -m statistic --mode random --probability 0.50000000000 -j KUBE-SEP-A
-A KUBE-SVC-WEB -m comment --comment "ns/web:http -> 10.244.2.6:8080" -j KUBE-SEP-B
-A KUBE-SEP-A -m comment --comment ns/web:http -m tcp -p tcp -j DNAT --to-destination 10.244.1.5:8080
-A KUBE-SEP-B -m comment --comment ns/web:http -m tcp -p tcp -j DNAT --to-destination 10.244.2.6:8080
COMMIT
"""

SPELLED = [
    # attached short-option values
    ("-m tcp -p tcp -d 10.96.0.20/32 --dport 80 -j KUBE-SVC-WEB", "-mtcp -ptcp -d10.96.0.20/32 --dport 80 -jKUBE-SVC-WEB"),
    # --option=value
    ("--dport 80", "--dport=80"),
    ("--to-destination 10.244.1.5:8080", "--to-destination=10.244.1.5:8080"),
    ("--probability 0.50000000000", "--probability=0.50000000000"),
    # unambiguous prefixes of long options
    ("-m statistic --mode random --probability", "--match statistic --mo random --prob"),
    ("--to-destination 10.244.2.6:8080", "--to-dest 10.244.2.6:8080"),
    ("-m tcp -p tcp -d 10.96.0.20/32", "-p tcp --dest 10.96.0.20/32 -m tcp"),  # before -m tcp: not --dport
    ("--comment \"ns/web:http -> 10.244.2.6:8080\"", "--comm \"ns/web:http -> 10.244.2.6:8080\""),
]


@pytest.mark.parametrize("canonical, spelled", SPELLED)
def test_a_rule_spelled_as_getopt_accepts_it_means_the_same(canonical, spelled):
    assert canonical in CANONICAL
    text = CANONICAL.replace(canonical, spelled, 1)
    assert text != CANONICAL
    assert explain(parse(text)) == explain(parse(CANONICAL))
    assert to_save(parse(text)) == to_save(parse(CANONICAL))  # read into the same words


def test_a_byte_order_mark_before_the_first_line_is_ignored():
    assert parse("\ufeff" + CANONICAL) == parse(CANONICAL)


def test_the_cli_reads_a_dump_with_a_byte_order_mark(tmp_path, capsys):
    from k8snet_lesson.cli import main

    dump = tmp_path / "dump.txt"
    dump.write_bytes(b"\xef\xbb\xbf" + CANONICAL.encode())
    assert main(["explain", str(dump), "--json"]) == 0
    assert capsys.readouterr().out.strip() == explanations_as_json(explain(parse(CANONICAL)))


@pytest.mark.parametrize("rule, message", [
    # after -m tcp, "--d" could be --destination, --dst, --dport or --destination-port
    ("-A X -p tcp -m tcp --d 5 -j ACCEPT", "ambiguous option (could be --destination, --destination-port, --dport, --dst):"),
    ("-A X --bogus 1 -j ACCEPT", "unknown option"),
])
def test_what_getopt_refuses_is_refused(rule, message):
    with pytest.raises(ParseError, match=message.replace("(", r"\(").replace(")", r"\)")):
        parse(f"*nat\n{rule}\nCOMMIT\n")


def test_before_the_protocol_match_loads_a_prefix_names_a_generic_option():
    # "-p tcp --dest": the tcp match is not loaded yet, so --dest is --destination only;
    # "--dp" is then unknown, which loads tcp, where it is --dport.
    rules = parse("*nat\n-A X -p tcp --dest 10.0.0.1 --dp 80 -j ACCEPT\nCOMMIT\n")
    (rule,) = rules.tables[0].rules
    assert rule.args == ("-p", "tcp", "--destination", "10.0.0.1", "--dport", "80", "-j", "ACCEPT")


CONDITIONAL = """*nat
-A KUBE-SERVICES -m comment --comment "ns/web:http cluster IP" -m tcp -p tcp -d 10.96.0.20 --dport 80 -j KUBE-SVC-WEB
-A KUBE-SVC-WEB -s 10.0.0.0/8 -m statistic --mode random --probability 0.5 -j KUBE-SEP-A
-A KUBE-SVC-WEB -m mark --mark 0x1 -j KUBE-SEP-B
-A KUBE-SVC-WEB -i eth0 -j KUBE-SEP-C
-A KUBE-SVC-WEB -j KUBE-SEP-D
-A KUBE-SEP-A -p tcp -j DNAT --to-destination 10.244.1.5:8080
-A KUBE-SEP-B -p tcp -j DNAT --to-destination 10.244.1.6:8080
-A KUBE-SEP-C -p tcp -j DNAT --to-destination 10.244.1.7:8080
-A KUBE-SEP-D -p tcp -j DNAT --to-destination 10.244.1.8:8080
COMMIT
"""


def test_rules_with_extra_matches_are_conditional_and_do_not_take_the_rest():
    (web,) = explain(parse(CONDITIONAL))
    got = [(e.condition, e.share) for e in web.endpoints]
    assert got == [("-s 10.0.0.0/8", 0.5), ("-m mark --mark 0x1", 1.0), ("-i eth0", 1.0), (None, 1.0)]
    text = explanations_as_text([web])
    assert "conditional: takes only packets matching -s 10.0.0.0/8" in text
    assert "conditional: takes only packets matching -m mark --mark 0x1" in text
    assert web.unmatched_share == 0.0


def test_nth_statistic_takes_one_packet_in_every():
    # xt_statistic (net/netfilter/xt_statistic.c): XT_STATISTIC_MODE_NTH matches when the
    # rule's counter, counting 0..every-1, equals packet: one packet in `every`.
    text = CONDITIONAL.replace("-s 10.0.0.0/8 -m statistic --mode random --probability 0.5",
                               "-m statistic --mode nth --every 3 --packet 0")
    (web,) = explain(parse(text))
    first = web.endpoints[0]
    assert first.nth == (3, 0) and first.condition is None and first.share == pytest.approx(1 / 3)
    assert web.endpoints[1].share == pytest.approx(2 / 3)  # the conditional rule sees the other two thirds
    assert "--mode nth --every 3 --packet 0: one packet in 3" in explanations_as_text([web])


def test_dnat_ranges_are_shown_as_ranges():
    text = CONDITIONAL.replace("--to-destination 10.244.1.5:8080", "--to-destination 10.244.1.5-10.244.1.9:8080-8082")
    text = text.replace("--to-destination 10.244.1.6:8080", "--to-destination 10.244.1.6-10.244.1.7")
    (web,) = explain(parse(text))
    assert [e.destination for e in web.endpoints[:2]] == ["10.244.1.5-10.244.1.9:8080-8082", "10.244.1.6-10.244.1.7:80"]
    assert '"address": "10.244.1.5-10.244.1.9:8080-8082"' in explanations_as_json([web])


@pytest.mark.parametrize("words, message", [
    ("--every 0", "--every must be 1 or more, not '0'"),
    ("--every 3 --packet 3", "the --packet p must be 0 <= p <= n-1, not '3'"),
])
def test_nth_values_iptables_refuses_are_refused(words, message):
    # libxt_statistic.c: --every has a minimum of 1; statistic_check refuses packet > every - 1
    with pytest.raises(ParseError, match=message.replace("(", r"\(")):
        parse(f"*nat\n-A X -m statistic --mode nth {words} -j ACCEPT\nCOMMIT\n")
