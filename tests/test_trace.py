"""Packet-flow tables: where a new connection goes through a node's rules, and whether it is SNATed.

The first table is kube-proxy's own TestTracePacket (its rules: the post-1.31
TestOverallIPTablesRules output plus the built-in chain jumps; node IP 192.168.0.2,
external client 203.0.113.2); the others follow from the rules each case names.
"""

from __future__ import annotations

from ipaddress import IPv4Address
from pathlib import Path

import pytest

from k8snet_lesson.cluster import Protocol
from k8snet_lesson.errors import InvalidValue
from k8snet_lesson.iptables import parse
from k8snet_lesson.resources import data_path
from k8snet_lesson.trace import Destination, Packet, Trace, Verdict, trace

GOLDEN = Path("/work/shared/kube-proxy-golden/modern_overall_ipt_rules.expected.txt")
needs_golden = pytest.mark.skipif(not GOLDEN.exists(), reason="kube-proxy golden texts (shared/kube-proxy-golden) not present")

NODE_IP = "192.168.0.2"
EXTERNAL_CLIENT = "203.0.113.2"
BUILTIN_JUMPS = (
    ":PREROUTING - [0:0]\n:INPUT - [0:0]\n:OUTPUT - [0:0]\n:POSTROUTING - [0:0]\n"
    '-A PREROUTING -m comment --comment "kubernetes service portals" -j KUBE-SERVICES\n'
    '-A OUTPUT -m comment --comment "kubernetes service portals" -j KUBE-SERVICES\n'
    '-A POSTROUTING -m comment --comment "kubernetes postrouting rules" -j KUBE-POSTROUTING\n'
)


@pytest.fixture(scope="module")
def kube_proxy_rules():
    if not GOLDEN.exists():
        pytest.skip("kube-proxy golden texts not present")
    return parse(GOLDEN.read_text().replace("*nat\n", "*nat\n" + BUILTIN_JUMPS, 1))


# name, source, destination, port, expected destinations or verdict, masqueraded
KUBE_PROXY_FLOWS = [
    ("no match", "10.0.0.2", "10.0.0.3", 80, "ACCEPT", "no"),
    ("single endpoint", "10.0.0.2", "172.30.0.41", 80, "10.180.0.1:80", "no"),
    ("multiple endpoints", "10.0.0.2", "172.30.0.44", 80, "10.180.0.4:80, 10.180.0.5:80", "no"),
    ("LOCAL, KUBE-MARK-MASQ", NODE_IP, "192.168.99.22", 80, "10.180.0.2:80", "yes"),
    ("DROP", EXTERNAL_CLIENT, "192.168.99.22", 80, "DROP", "no"),
    ("ACCEPT (NodePortHealthCheck)", NODE_IP, NODE_IP, 30000, "ACCEPT", "no"),
    ("REJECT", "10.0.0.2", "172.30.0.46", 80, "REJECT", "no"),
    # and more, from the same rules
    ("external client to a cluster IP is masqueraded (! -s 10.0.0.0/8)", EXTERNAL_CLIENT, "172.30.0.41", 80,
     "10.180.0.1:80", "yes"),
    ("hairpin: an endpoint calling its own Service", "10.180.0.4", "172.30.0.44", 80,
     "10.180.0.4:80, 10.180.0.5:80", "only to 10.180.0.4:80"),
    ("NodePort from outside (KUBE-EXT masquerades)", EXTERNAL_CLIENT, NODE_IP, 3003, "10.180.0.3:80", "yes"),
    ("NodePort of an externalTrafficPolicy Local service without local endpoints", EXTERNAL_CLIENT, NODE_IP, 3001,
     "DROP", "no"),
    ("load balancer IP from an allowed source range", "203.0.113.7", "5.6.7.8", 80, "10.180.0.3:80", "yes"),
    ("load balancer IP from outside the source ranges", "203.0.113.200", "5.6.7.8", 80, "DROP", "no"),
    ("pod to a LoadBalancer's external IP takes the cluster path", "10.0.0.2", "192.168.99.22", 80,
     "10.180.0.2:80", "no"),
    ("wrong port", "10.0.0.2", "172.30.0.41", 81, "ACCEPT", "no"),
]


@needs_golden
@pytest.mark.parametrize("name, source, destination, port, result, masq", KUBE_PROXY_FLOWS,
                         ids=[f[0] for f in KUBE_PROXY_FLOWS])
def test_kube_proxy_packet_flows(kube_proxy_rules, name, source, destination, port, result, masq):
    traced = trace(kube_proxy_rules, Packet(source, destination, port), node_ip=NODE_IP)
    assert traced.summary() == f"from {source} to {destination}:{port} -> {result}, masqueraded: {masq}"


@needs_golden
def test_shares_and_paths(kube_proxy_rules):
    traced = trace(kube_proxy_rules, Packet("10.0.0.2", "172.30.0.44", 80))
    assert traced.verdict == Verdict.DNAT == "DNAT"
    assert [(str(d.address), d.port, d.share) for d in traced.destinations] == [
        ("10.180.0.4", 80, 0.5), ("10.180.0.5", 80, 0.5)]
    assert [d.chain for d in traced.destinations] == ["KUBE-SEP-UKSFD7AGPMPPLUHC", "KUBE-SEP-C6EBXVWJJZMIWKLZ"]
    # matched before the paths fork: PREROUTING's jump and the cluster IP rule (the
    # masquerade rule for sources outside 10.0.0.0/8 does not match 10.0.0.2)
    assert [(r.chain, r.comment) for r in traced.rules] == [
        ("PREROUTING", "kubernetes service portals"), ("KUBE-SERVICES", "ns4/svc4:p80 cluster IP")]
    assert [r.chain for r in traced.destinations[0].rules] == [
        "PREROUTING", "KUBE-SERVICES", "KUBE-SVC-4SW47YFZTEDKD3PK", "KUBE-SEP-UKSFD7AGPMPPLUHC"]
    assert traced.share_of("DNAT") == 1.0


@needs_golden
def test_session_affinity_does_not_pin_a_new_client(kube_proxy_rules):
    traced = trace(kube_proxy_rules, Packet("10.0.0.2", "172.30.0.45", 80))
    assert traced.summary() == "from 10.0.0.2 to 172.30.0.45:80 -> 10.180.0.3:80, masqueraded: no"
    # the -m recent --rcheck rule is skipped; the DNAT rule's -m recent --set matches
    assert "recent" in traced.destinations[0].rules[-1].modules


def test_restore_input_without_builtin_chains_starts_at_kube_services():
    rules = parse(data_path("dumps/kube-proxy-v1.2.iptables-restore.txt").read_text())
    traced = trace(rules, Packet("10.244.2.3", "10.0.1.175", 80))
    # 1/3 printed as 0.33333, then 0.50000: old kube-proxy's shares
    assert [(f"{d.address}:{d.port}", round(d.share, 6)) for d in traced.destinations] == [
        ("10.244.1.7:9376", 0.33333), ("10.244.2.3:9376", 0.333335), ("10.244.3.6:9376", 0.333335)]
    # the caller is one of the endpoints: MARK --set-xmark 0x00004000/0x00004000 in its
    # KUBE-SEP chain, then KUBE-POSTROUTING masquerades marked packets
    assert [d.masqueraded for d in traced.destinations] == [False, True, False]


NODE_FLOWS = [
    # source, destination, port, protocol, from_node, result, masqueraded
    ("10.244.1.5", "10.96.214.88", 80, Protocol.TCP, False,
     "10.244.2.14:3000, 10.244.3.7:3000, 10.244.4.2:3000", "no"),
    ("10.244.1.5", "10.96.0.10", 53, Protocol.UDP, False, "10.244.0.2:53, 10.244.0.3:53", "no"),
    ("10.244.1.5", "10.96.0.10", 53, Protocol.TCP, False, "10.244.0.2:53, 10.244.0.3:53", "no"),
    # the node itself is outside the cluster CIDR: KUBE-MARK-MASQ in the KUBE-SVC chain
    ("192.168.0.10", "10.96.0.1", 443, Protocol.TCP, True, "192.168.0.10:6443", "yes"),
    ("203.0.113.9", "192.168.0.10", 30080, Protocol.TCP, False, "10.244.1.12:8080, 10.244.2.21:8080", "yes"),
    ("10.244.1.12", "10.96.45.12", 80, Protocol.TCP, False, "10.244.1.12:8080, 10.244.2.21:8080",
     "only to 10.244.1.12:8080"),
    ("10.244.1.5", "10.96.101.7", 8080, Protocol.TCP, False, "REJECT", "no"),
    # not a Service: no kube-proxy rule; flannel's FLANNEL-POSTRTG masquerades pod traffic leaving the cluster
    ("10.244.1.5", "93.184.216.34", 443, Protocol.TCP, False, "ACCEPT", "yes"),
    ("10.244.1.5", "10.244.2.14", 3000, Protocol.TCP, False, "ACCEPT", "no"),
]


@pytest.mark.parametrize("source, destination, port, protocol, from_node, result, masq", NODE_FLOWS)
def test_node_dump_packet_flows(source, destination, port, protocol, from_node, result, masq):
    rules = parse(data_path("dumps/node-eu-west-1a.iptables-save.txt").read_text())
    traced = trace(rules, Packet(source, destination, port, protocol), from_node=from_node, node_ip="192.168.0.10")
    suffix = "" if protocol == Protocol.TCP else "/udp"
    assert traced.summary() == f"from {source} to {destination}:{port}{suffix} -> {result}, masqueraded: {masq}"


def test_node_dump_shares_are_the_printed_probabilities():
    rules = parse(data_path("dumps/node-eu-west-1a.iptables-save.txt").read_text())
    traced = trace(rules, Packet("10.244.1.5", "10.96.214.88", 80))
    p = 0.33333333349  # iptables-save's print of 0.3333333333
    assert [d.share for d in traced.destinations] == [p, (1 - p) * 0.5, (1 - p) * 0.5]


MARKS = """\
*nat
:KUBE-SERVICES - [0:0]
-A POSTROUTING -j KUBE-POSTROUTING
-A KUBE-SERVICES -d 10.96.0.50/32 -p tcp -m tcp --dport 80 -j KUBE-SVC-A
-A KUBE-SVC-A -m statistic --mode random --probability 0.5 -j KUBE-SEP-A
-A KUBE-SVC-A -m statistic --mode random --probability 0.5 -j KUBE-SEP-B
-A KUBE-SEP-A -j MARK --or-mark 0x4000
-A KUBE-SEP-A -p tcp -m tcp -j DNAT --to-destination 10.244.1.2:80
-A KUBE-SEP-B -p tcp -m tcp -j DNAT --to-destination 10.244.1.3:80
-A KUBE-POSTROUTING -m mark ! --mark 0x4000/0x4000 -j RETURN
-A KUBE-POSTROUTING -j MARK --xor-mark 0x4000
-A KUBE-POSTROUTING -j MASQUERADE
COMMIT
*filter
-A KUBE-SERVICES -d 10.96.0.51/32 -p tcp -m tcp --dport 80 -j REJECT
COMMIT
"""


def test_marks_masquerade_and_what_falls_through():
    traced = trace(parse(MARKS), Packet("10.244.9.9", "10.96.0.50", 80))
    assert [(str(d.address), d.share, d.masqueraded) for d in traced.destinations] == [
        ("10.244.1.2", 0.5, True), ("10.244.1.3", 0.25, False)]
    assert traced.share_of(Verdict.ACCEPT) == 0.25  # a quarter of connections match no rule
    assert traced.summary() == ("from 10.244.9.9 to 10.96.0.50:80 -> 10.244.1.2:80, 10.244.1.3:80 (ACCEPT 25%), "
                                "masqueraded: only to 10.244.1.2:80")
    rejected = trace(parse(MARKS), Packet("10.244.9.9", "10.96.0.51", 80))
    assert rejected.verdict == Verdict.REJECT and rejected.destinations == ()


def test_goto_and_return():
    text = """*nat
-A PREROUTING -j KUBE-SERVICES
-A KUBE-SERVICES -p tcp -m tcp --dport 80 -g KUBE-GOTO
-A KUBE-SERVICES -p tcp -m tcp --dport 80 -j DNAT --to-destination 10.0.0.9:80
-A KUBE-GOTO -j RETURN
-A PREROUTING -p tcp -m tcp --dport 80 -j DNAT --to-destination 10.0.0.1:80
COMMIT
"""
    # -g KUBE-GOTO then RETURN goes back to PREROUTING, past KUBE-SERVICES' DNAT rule
    traced = trace(parse(text), Packet("10.1.1.1", "10.2.2.2", 80))
    assert [(str(d.address), d.share) for d in traced.destinations] == [("10.0.0.1", 1.0)]


def test_no_nat_table_passes_unchanged():
    traced = trace(parse("*filter\n-A INPUT -j ACCEPT\nCOMMIT\n"), Packet("10.0.0.1", "10.0.0.2", 22))
    assert traced == Trace(traced.packet, (), (), False, Verdict.ACCEPT, traced.paths)
    assert traced.summary() == "from 10.0.0.1 to 10.0.0.2:22 -> ACCEPT, masqueraded: no"


def test_a_partial_set_without_kube_mark_masq_still_marks():
    text = """*nat
-A KUBE-SERVICES -d 10.96.0.7/32 -p tcp -m tcp --dport 80 ! -s 10.244.0.0/16 -j KUBE-MARK-MASQ
-A KUBE-SERVICES -d 10.96.0.7/32 -p tcp -m tcp --dport 80 -j DNAT --to-destination 10.244.3.3:80
COMMIT
"""
    assert trace(parse(text), Packet("192.168.0.7", "10.96.0.7", 80)).destinations == (
        Destination(IPv4Address("10.244.3.3"), 80, 1.0, "KUBE-SERVICES", True,
                    parse(text).tables[0].rules),)


def test_loops_are_refused():
    text = "*nat\n-A KUBE-SERVICES -j KUBE-A\n-A KUBE-A -j KUBE-SERVICES\nCOMMIT\n"
    with pytest.raises(InvalidValue, match="nest more than"):
        trace(parse(text), Packet("10.0.0.1", "10.0.0.2", 80))


@pytest.mark.parametrize("args, message", [
    (("10.0.0.1", "not-an-ip", 80), "destination 'not-an-ip' is not an IPv4 address"),
    (("10.0.0.1", "10.0.0.2", 0), "destination port 0 is not a port number"),
    (("10.0.0.1", "10.0.0.2", 80, "ICMP"), "protocol 'ICMP' is not one of"),
    (("::1", "10.0.0.2", 80), "source '::1' is not an IPv4 address"),
])
def test_bad_packets(args, message):
    with pytest.raises(InvalidValue, match=message):
        Packet(*args)


def test_packet_coerces_its_values():
    packet = Packet("10.0.0.1", "10.0.0.2", 53, "udp")
    assert packet.source == IPv4Address("10.0.0.1") and packet.protocol == Protocol.UDP
