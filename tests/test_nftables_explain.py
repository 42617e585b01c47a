"""Reading nftables mode back: the transaction and ``nft list ruleset`` as the kernel prints it."""

from __future__ import annotations

import json
from ipaddress import IPv4Address
from pathlib import Path

import pytest

from k8snet_lesson import kube_proxy, manifests, nftables
from k8snet_lesson.cli import main
from k8snet_lesson.errors import ParseError
from k8snet_lesson.explain import explain as explain_iptables
from k8snet_lesson.explain import explanations_as_dicts
from k8snet_lesson.nftables.explain import explain, service_port_of_chain
from k8snet_lesson.nftables.parse import parse
from k8snet_lesson.resources import data_path

LESSON = str(data_path("lesson-cluster.yaml"))
LISTING = Path(__file__).parent / "data" / "nft-list" / "overall-rules.txt"


def _summary(explanations) -> dict:
    """What both modes must agree on, per Service port."""
    return {
        (e.service_port, e.protocol, str(e.cluster_ip), e.port): (
            # iptables' printed 0.3333333333 is 1/3 to 1e-10; nftables' draw is exactly 1/N
            sorted((p.destination, round(p.share, 9)) for p in e.endpoints), e.reject, e.drop,
            e.session_affinity_seconds, str(e.masquerade_source_outside), sorted(e.node_ports),
        )
        for e in explanations
    }


@pytest.mark.parametrize("node", ["node-eu-west-1a", "node-eu-west-1b"])
def test_both_modes_explain_the_lesson_the_same(node):
    cluster = manifests.load([LESSON])
    iptables_view = _summary(explain_iptables(kube_proxy.rules_for(cluster, node)))
    nft_view = _summary(explain(nftables.rules_for(cluster, node)))
    assert nft_view == iptables_view
    assert any(len(v[0]) == 3 for v in nft_view.values())  # the checkout Service's three endpoints


def test_the_kernels_listing_reads_back():
    explained = {e.service_port: e for e in explain(parse(LISTING.read_text(), source=LISTING.name))}
    assert [(p.destination, p.share) for p in explained["ns4/svc4:p80"].endpoints] == [
        ("10.180.0.4:80", 0.5), ("10.180.0.5:80", 0.5)]
    assert explained["ns6/svc6:p80"].reject and not explained["ns6/svc6:p80"].endpoints
    assert explained["ns5/svc5:p80"].session_affinity_seconds == 10800  # printed by the kernel as 3h
    assert explained["ns5/svc5:p80"].load_balancer_ips == (IPv4Address("5.6.7.8"),)
    assert explained["ns2/svc2:p80"].node_ports == (3001,)
    assert str(explained["ns1/svc1:p80"].masquerade_source_outside) == "10.0.0.0/8"


def test_the_kernels_spellings_come_back_as_kube_proxy_writes_them():
    tx = parse(LISTING.read_text())
    assert tx.rules["mark-for-masquerade"] == ["mark set mark or 0x4000"]
    assert tx.rules["masquerading"] == ["mark and 0x4000 == 0 return", "mark set mark xor 0x4000",
                                        "masquerade fully-random"]
    assert tx.chains["filter-prerouting-pre-dnat"] == "{ type filter hook prerouting priority -110 ; }"
    assert tx.chains["nat-postrouting"] == "{ type nat hook postrouting priority 100 ; }"
    assert tx.rules["cluster-ips-check"][1].startswith("ip daddr { 172.30.0.0/16 } drop")
    (svc4,) = [c for c in tx.chains if c.startswith("service-") and "svc4" in c]
    assert " , 1 : goto " in tx.rules[svc4][-1]
    # parsed again from its own transaction text: the same state
    assert nftables.normalize(parse(str(tx))) == nftables.normalize(tx)


def test_explain_cli_reads_nftables_in_both_forms(capsys, tmp_path):
    assert main(["explain", str(LISTING), "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    transaction = tmp_path / "tx.nft"
    transaction.write_text(str(parse(LISTING.read_text())))
    assert main(["explain", str(transaction), "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == listed
    assert set(listed) == {"services"} and set(listed["services"][0]) == set(
        explanations_as_dicts(explain_iptables(kube_proxy.rules_for(manifests.load([LESSON]), "node-eu-west-1a")))[
            "services"][0])
    assert main(["explain", str(LISTING)]) == 0
    text = capsys.readouterr().out
    assert "numgen random mod 2" in text and "no-endpoint-services: goto reject-chain" in text
    assert "KUBE-" not in text and "-m recent" not in text  # nftables' own objects are named


@pytest.mark.parametrize("text, line, word", [
    ("add table ip kube-proxy\nadd rule ip kube-proxy nowhere accept\n", 2, "nowhere"),
    ("add table ip kube-proxy\nadd chain ip6 kube-proxy x\n", 2, "ip6"),
    ("table ip kube-proxy {\n\tchain x {\n\t\taccept\n\t}\n\tbogus thing\n}\n", 5, "bogus"),
    ("table ip kube-proxy {\n\tset s {\n\t\ttype ipv4_addr\n\t\twhatever 1\n\t}\n}\n", 4, "whatever"),
    ("table ip filter {\n}\n", None, None),
])
def test_bad_input_names_the_line_and_puts_a_caret(text, line, word):
    with pytest.raises(ParseError) as caught:
        parse(text, source="dump.nft")
    message = str(caught.value)
    if line is None:
        assert message.startswith("dump.nft: ") and "table ip kube-proxy" in message
    else:
        assert message.startswith(f"dump.nft:{line}: ") and f"'{word}'" in message
        assert message.splitlines()[-1].strip().startswith("^")


def test_bad_input_at_the_cli_is_one_message(capsys, tmp_path):
    bad = tmp_path / "bad.nft"
    bad.write_text("add table ip kube-proxy\nadd element ip kube-proxy service-ips { 1.2.3.4 . tcp . 80 : accept }\n")
    assert main(["explain", str(bad)]) != 0
    err = capsys.readouterr().err
    assert "bad.nft:2:" in err and "service-ips" in err and "^" in err and "Traceback" not in err


def test_service_port_names_from_chain_names():
    assert service_port_of_chain("service-ULMVA6XW-ns1/svc1/tcp/p80") == "ns1/svc1:p80"
    assert service_port_of_chain("local-ABCDEFGH-production/checkout-api-svc/tcp/") == "production/checkout-api-svc"
    assert service_port_of_chain("services") is None


def test_nft_a_listing_with_handles_reads_the_same():
    handles = LISTING.with_name("overall-rules.handles.txt").read_text()
    assert "# handle" in handles
    assert nftables.normalize(parse(handles)) == nftables.normalize(parse(LISTING.read_text()))


def test_an_older_kube_proxys_masquerade_rule_is_read_too():
    tx = parse(LISTING.read_text())
    (svc1,) = [c for c in tx.chains if c.startswith("service-") and "svc1" in c]
    tx.rules[svc1][0] = "ip daddr 172.30.0.41 tcp dport 80 ip saddr != 10.0.0.0/8 jump mark-for-masquerade"
    (one,) = [e for e in explain(tx) if e.service_port == "ns1/svc1:p80"]
    assert str(one.masquerade_source_outside) == "10.0.0.0/8"


def test_a_bad_node_ip_is_named():
    from k8snet_lesson.errors import InvalidValue

    with pytest.raises(InvalidValue, match="node IP '10.0.0.300'"):
        nftables.generate([], [], node_name="n1", node_ip="10.0.0.300")


@pytest.mark.parametrize("text, line, word", [
    ("table ip kube-proxy {\n\tchain services {\n", 2, "chain services"),
    ("table ip kube-proxy {\n\tset cluster-ips {\n\t\ttype ipv4_addr\n", 2, "set cluster-ips"),
])
def test_an_unclosed_block_is_named_where_it_opens(text, line, word):
    with pytest.raises(ParseError) as caught:
        parse(text, source="cut.nft")
    message = str(caught.value).splitlines()
    assert message[0].startswith(f"cut.nft:{line}: this ") and f"'{word}'" in message[0]
    assert message[2].index("^") == message[1].index(word)  # the caret under the block's first word
