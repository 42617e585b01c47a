"""kube-proxy's iptables rules, case by case, from the facts of its source.

Expected texts are written from what kube-proxy v1.28 writes (pkg/proxy/iptables/
proxier.go): the words of each rule, the chain-name hash (recomputed here with
``base64.b32encode`` as the definition says, independently of the generator's own
code), the probability ladder ``1/(n-i)`` printed ``%0.10f``, and the canonical order
of kube-proxy's unit tests.
"""

from __future__ import annotations

import base64
import hashlib
import random
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from k8snet_lesson import iptables, kube_proxy
from k8snet_lesson.cluster import (
    Endpoint,
    EndpointConditions,
    EndpointPort,
    EndpointSlice,
    Protocol,
    Service,
    ServicePort,
)
from k8snet_lesson.errors import InvalidValue
from k8snet_lesson.iptables import Chain, Rule, RuleSet, Table
from k8snet_lesson.kube_proxy import canonical_order, chain_name, generate, probability, rules_in

NODE = "node-eu-west-1a"
CIDR = "10.244.0.0/16"
TARGETS = {"ACCEPT", "DROP", "REJECT", "RETURN", "MARK", "MASQUERADE", "DNAT"}
LAST_RULE = ('-A KUBE-SERVICES -m comment --comment "kubernetes service nodeports; NOTE: this must be the last '
             'rule in this chain" -m addrtype --dst-type LOCAL -j KUBE-NODEPORTS')


def h(text: str) -> str:
    """The definition: the first 16 characters of base32(sha256(text))."""
    return base64.b32encode(hashlib.sha256(text.encode()).digest()).decode()[:16]


line = iptables.restore_line  # "-A CHAIN words...", quoted as kube-proxy writes them
restore = str  # a RuleSet's str() is its iptables-restore text


def lines(ruleset: RuleSet, table: str, chain: str) -> list[str]:
    return [line(r) for r in rules_in(ruleset, table, chain)]


def declared(ruleset: RuleSet, table: str) -> list[str]:
    return [c.name for t in ruleset.tables if t.name == table for c in t.chains]


def service(name="checkout-api-svc", namespace="production", cluster_ip="10.96.214.88", ports=None, **kw):
    return Service(namespace, name, cluster_ip=cluster_ip, ports=ports or (ServicePort(80, 3000),), **kw)


def endpoint(ip, node=None, ready=True, serving=True, terminating=False):
    return Endpoint((ip,), EndpointConditions(ready, serving, terminating), node_name=node)


def slice_of(svc, *endpoints, port=3000, name="", protocol="TCP", slice_name=None, address_type="IPv4"):
    return EndpointSlice(svc.namespace, slice_name or f"{svc.name}-x7k2p", svc.name, tuple(endpoints),
                         (EndpointPort(port, name, protocol),), address_type=address_type)


def undeclared_jumps(ruleset: RuleSet) -> list[str]:
    bad = []
    for table in ruleset.tables:
        names = {c.name for c in table.chains}
        for rule in table.rules:
            if rule.chain not in names:
                bad.append(f"{table.name}: rule in undeclared chain {rule.chain}")
            if "-j" in rule.args:
                target = rule.args[rule.args.index("-j") + 1]
                if target not in TARGETS and target not in names:
                    bad.append(f"{table.name}: {line(rule)}")
    return bad


# --- chain names ----------------------------------------------------------------------

@pytest.mark.parametrize("prefix, port_name, protocol, endpoint_text, expected", [
    ("KUBE-SVC", "ns1/svc1:p80", "tcp", None, "KUBE-SVC-XPGD46QRK7WJZT7O"),
    ("KUBE-SVC", "default/kubernetes:https", "tcp", None, "KUBE-SVC-NPX46M4PTMTKRN6Y"),
    ("KUBE-SVC-", "default/kubernetes:https", Protocol.TCP, None, "KUBE-SVC-NPX46M4PTMTKRN6Y"),
    ("KUBE-EXT", "ns1/svc1:p80", "TCP", None, "KUBE-EXT-XPGD46QRK7WJZT7O"),
    ("KUBE-SEP", "ns1/svc1", "tcp", "10.0.1.1:80", "KUBE-SEP-" + h("ns1/svc1tcp10.0.1.1:80")),
    ("KUBE-SVL", "ns1/svc1", Protocol.UDP, None, "KUBE-SVL-" + h("ns1/svc1udp")),
    ("KUBE-FW", "ns1/svc1:p80", "sctp", None, "KUBE-FW-" + h("ns1/svc1:p80sctp")),
])
def test_chain_name(prefix, port_name, protocol, endpoint_text, expected):
    assert chain_name(prefix, port_name, protocol, endpoint_text) == expected


@given(st.text(min_size=1, max_size=60), st.sampled_from(list(Protocol)),
       st.one_of(st.none(), st.from_regex(r"\A10\.[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}:[0-9]{1,5}\Z")))
def test_chain_name_is_the_hash_of_the_definition(port_name, protocol, endpoint_text):
    prefix = "KUBE-SVC" if endpoint_text is None else "KUBE-SEP"
    name = chain_name(prefix, port_name, protocol, endpoint_text)
    assert name == f"{prefix}-" + h(port_name + protocol.value.lower() + (endpoint_text or ""))
    assert len(name) <= 28  # iptables' limit on chain names


@pytest.mark.parametrize("args, message", [
    (("KUBE-FOO", "ns/svc", "tcp"), "chain prefix 'KUBE-FOO'"),
    (("KUBE-SEP", "ns/svc", "tcp"), "needs the endpoint"),
    (("KUBE-SVC", "ns/svc", "tcp", "10.0.0.1:80"), "only KUBE-SEP"),
    (("KUBE-SVC", "ns/svc", "icmp"), "protocol 'icmp'"),
])
def test_chain_name_rejects(args, message):
    with pytest.raises(InvalidValue, match=message):
        chain_name(*args)


# --- the probability ladder ------------------------------------------------------------

@pytest.mark.parametrize("n, text", [(1, "1.0000000000"), (2, "0.5000000000"), (3, "0.3333333333"),
                                     (7, "0.1428571429"), (1000, "0.0010000000")])
def test_probability_is_one_over_n_printed_with_ten_decimals(n, text):
    assert probability(n) == text


@pytest.mark.parametrize("n", [0, -1, True, 2.5, "3"])
def test_probability_rejects(n):
    with pytest.raises(InvalidValue):
        probability(n)


@settings(max_examples=60, deadline=None)
@given(st.integers(min_value=1, max_value=50), st.randoms(use_true_random=False))
def test_svc_chain_ladder_for_n_endpoints(n, rnd):
    addresses = rnd.sample(range(1, 60000), n)
    ips = [f"10.244.{a // 250}.{a % 250 + 1}" for a in addresses]
    svc = service()
    rs = generate([svc], [slice_of(svc, *(endpoint(ip) for ip in ips))], node_name=NODE, cluster_cidr=CIDR)
    svc_chain = "KUBE-SVC-" + h("production/checkout-api-svctcp")
    rules = rules_in(rs, "nat", svc_chain)
    assert rules[0].args[-2:] == ("-j", "KUBE-MARK-MASQ")
    ladder = rules[1:]
    assert len(ladder) == n
    ordered = sorted(f"{ip}:3000" for ip in ips)  # by the ip:port *string*
    remaining = Fraction(1)
    for i, (rule, text) in enumerate(zip(ladder, ordered)):
        assert rule.args[:4] == ("-m", "comment", "--comment", f"production/checkout-api-svc -> {text}")
        assert rule.args[-2:] == ("-j", "KUBE-SEP-" + h("production/checkout-api-svctcp" + text))
        if i < n - 1:
            assert rule.args[4:10] == ("-m", "statistic", "--mode", "random", "--probability", "%0.10f" % (1 / (n - i)))
            p = Fraction(rule.args[9])
        else:
            assert "statistic" not in rule.args  # the last rule always matches
            p = Fraction(1)
        share = remaining * p
        remaining -= share
        assert abs(share - Fraction(1, n)) < 1e-9
    assert remaining == 0


# --- a whole ClusterIP service, as text ------------------------------------------------

FIXED_FILTER = """\
-A KUBE-FIREWALL -m comment --comment "block incoming localnet connections" -d 127.0.0.0/8 ! -s 127.0.0.0/8 -m conntrack ! --ctstate RELATED,ESTABLISHED,DNAT -j DROP
-A KUBE-FORWARD -m conntrack --ctstate INVALID -j DROP
-A KUBE-FORWARD -m comment --comment "kubernetes forwarding rules" -m mark --mark 0x4000/0x4000 -j ACCEPT
-A KUBE-FORWARD -m comment --comment "kubernetes forwarding conntrack rule" -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT
"""
FIXED_NAT = """\
-A KUBE-MARK-MASQ -j MARK --or-mark 0x4000
-A KUBE-POSTROUTING -m mark ! --mark 0x4000/0x4000 -j RETURN
-A KUBE-POSTROUTING -j MARK --xor-mark 0x4000
-A KUBE-POSTROUTING -m comment --comment "kubernetes service traffic requiring SNAT" -j MASQUERADE --random-fully
"""


def test_the_lessons_checkout_service_on_a_node():
    svc = service()
    pods = [("10.244.2.14", "node-eu-west-1a"), ("10.244.3.7", "node-eu-west-1b"), ("10.244.4.2", "node-eu-west-1c")]
    rs = generate([svc], [slice_of(svc, *(endpoint(ip, node) for ip, node in pods))], node_name=NODE,
                  cluster_cidr=CIDR)
    spn = "production/checkout-api-svc"
    svc_chain = "KUBE-SVC-" + h(spn + "tcp")
    seps = {ip: "KUBE-SEP-" + h(f"{spn}tcp{ip}:3000") for ip, _ in pods}
    expected = (
        "*filter\n:KUBE-NODEPORTS - [0:0]\n:KUBE-SERVICES - [0:0]\n:KUBE-EXTERNAL-SERVICES - [0:0]\n"
        ":KUBE-FIREWALL - [0:0]\n:KUBE-FORWARD - [0:0]\n:KUBE-PROXY-FIREWALL - [0:0]\n"
        + FIXED_FILTER + "COMMIT\n"
        "*nat\n:KUBE-NODEPORTS - [0:0]\n:KUBE-SERVICES - [0:0]\n:KUBE-MARK-MASQ - [0:0]\n:KUBE-POSTROUTING - [0:0]\n"
        + "".join(f":{sep} - [0:0]\n" for sep in sorted(seps.values()))
        + f":{svc_chain} - [0:0]\n"
        f'-A KUBE-SERVICES -m comment --comment "{spn} cluster IP" -m tcp -p tcp -d 10.96.214.88 --dport 80 -j {svc_chain}\n'
        + LAST_RULE + "\n" + FIXED_NAT
        + "".join(f"-A {sep} -m comment --comment {spn} -s {ip} -j KUBE-MARK-MASQ\n"
                  f"-A {sep} -m comment --comment {spn} -m tcp -p tcp -j DNAT --to-destination {ip}:3000\n"
                  for sep, ip in sorted((sep, ip) for ip, sep in seps.items()))
        + f'-A {svc_chain} -m comment --comment "{spn} cluster IP" -m tcp -p tcp -d 10.96.214.88 --dport 80 '
          f"! -s {CIDR} -j KUBE-MARK-MASQ\n"
        f'-A {svc_chain} -m comment --comment "{spn} -> 10.244.2.14:3000" -m statistic --mode random '
        f"--probability 0.3333333333 -j {seps['10.244.2.14']}\n"
        f'-A {svc_chain} -m comment --comment "{spn} -> 10.244.3.7:3000" -m statistic --mode random '
        f"--probability 0.5000000000 -j {seps['10.244.3.7']}\n"
        f'-A {svc_chain} -m comment --comment "{spn} -> 10.244.4.2:3000" -j {seps["10.244.4.2"]}\n'
        "COMMIT\n"
    )
    assert restore(rs) == expected
    assert undeclared_jumps(rs) == []


def test_endpoints_are_ordered_by_their_ip_port_string():
    svc = service()
    ips = ["10.244.2.9", "10.244.2.10", "10.244.2.2", "10.244.10.1"]
    rs = generate([svc], [slice_of(svc, *(endpoint(ip) for ip in ips))], node_name=NODE, cluster_cidr=CIDR)
    comments = [r.args[3] for r in rules_in(rs, "nat", "KUBE-SVC-" + h("production/checkout-api-svctcp"))[1:]]
    assert [c.split(" -> ")[1] for c in comments] == [
        "10.244.10.1:3000", "10.244.2.10:3000", "10.244.2.2:3000", "10.244.2.9:3000"]


# --- services without usable endpoints --------------------------------------------------

def test_no_endpoints_rejects_in_filter_and_writes_no_nat_chains():
    svc = service(type="LoadBalancer", ports=(ServicePort(80, 3000, name="http", node_port=30080),),
                  external_ips=("192.0.2.10",), load_balancer_ips=("198.51.100.7",))
    rs = generate([svc], [], node_name=NODE, cluster_cidr=CIDR)
    spn = "production/checkout-api-svc:http"
    assert lines(rs, "filter", "KUBE-SERVICES") == [
        f'-A KUBE-SERVICES -m comment --comment "{spn} has no endpoints" -m tcp -p tcp -d 10.96.214.88 --dport 80 -j REJECT']
    assert lines(rs, "filter", "KUBE-EXTERNAL-SERVICES") == [
        f'-A KUBE-EXTERNAL-SERVICES -m comment --comment "{spn} has no endpoints" -m tcp -p tcp -d 192.0.2.10 --dport 80 -j REJECT',
        f'-A KUBE-EXTERNAL-SERVICES -m comment --comment "{spn} has no endpoints" -m tcp -p tcp -d 198.51.100.7 --dport 80 -j REJECT',
        f'-A KUBE-EXTERNAL-SERVICES -m comment --comment "{spn} has no endpoints" -m addrtype --dst-type LOCAL -m tcp -p tcp --dport 30080 -j REJECT',
    ]
    assert declared(rs, "nat") == ["KUBE-NODEPORTS", "KUBE-SERVICES", "KUBE-MARK-MASQ", "KUBE-POSTROUTING"]
    assert lines(rs, "nat", "KUBE-SERVICES") == [LAST_RULE]
    assert lines(rs, "nat", "KUBE-NODEPORTS") == []


def test_a_selector_matching_nothing_is_a_service_with_no_endpoints():
    svc = service()
    rs = generate([svc], [slice_of(svc)], node_name=NODE, cluster_cidr=CIDR)
    assert [r.args[-1] for r in rules_in(rs, "filter", "KUBE-SERVICES")] == ["REJECT"]


# --- internalTrafficPolicy: Local ---------------------------------------------------------

def test_internal_traffic_policy_local_uses_only_local_endpoints():
    svc = service(internal_traffic_policy="Local")
    rs = generate([svc], [slice_of(svc, endpoint("10.244.2.14", NODE), endpoint("10.244.3.7", "node-eu-west-1b"))],
                  node_name=NODE, cluster_cidr=CIDR)
    spn = "production/checkout-api-svc"
    svl, sep = "KUBE-SVL-" + h(spn + "tcp"), "KUBE-SEP-" + h(spn + "tcp10.244.2.14:3000")
    assert lines(rs, "nat", "KUBE-SERVICES")[0] == (
        f'-A KUBE-SERVICES -m comment --comment "{spn} cluster IP" -m tcp -p tcp -d 10.96.214.88 --dport 80 -j {svl}')
    assert lines(rs, "nat", svl) == [
        f'-A {svl} -m comment --comment "{spn} cluster IP" -m tcp -p tcp -d 10.96.214.88 --dport 80 ! -s {CIDR} -j KUBE-MARK-MASQ',
        f'-A {svl} -m comment --comment "{spn} -> 10.244.2.14:3000" -j {sep}',
    ]
    assert [c for c in declared(rs, "nat") if c.startswith(("KUBE-SVC", "KUBE-SEP"))] == [sep]


def test_internal_traffic_policy_local_without_local_endpoints_drops():
    svc = service(internal_traffic_policy="Local")
    rs = generate([svc], [slice_of(svc, endpoint("10.244.3.7", "node-eu-west-1b"))], node_name=NODE, cluster_cidr=CIDR)
    assert lines(rs, "filter", "KUBE-SERVICES") == [
        '-A KUBE-SERVICES -m comment --comment "production/checkout-api-svc has no local endpoints" '
        "-m tcp -p tcp -d 10.96.214.88 --dport 80 -j DROP"]
    assert lines(rs, "nat", "KUBE-SERVICES") == [LAST_RULE]


# --- ready, serving, terminating ----------------------------------------------------------

R, NR = dict(ready=True, serving=True, terminating=False), dict(ready=False, serving=False, terminating=False)
ST, NST = dict(ready=False, serving=True, terminating=True), dict(ready=False, serving=False, terminating=True)


@pytest.mark.parametrize("conditions, used", [
    ([R, R, ST], ["10.0.1.1", "10.0.1.2"]),   # ready endpoints exist: terminating ones are not used
    ([NR, ST, ST], ["10.0.1.2", "10.0.1.3"]),  # none ready: fall back to serving and terminating
    ([NR, NST, ST], ["10.0.1.3"]),             # a terminating endpoint that no longer serves is never used
    ([NR, NST], []),                           # nothing usable: REJECT
    ([dict(ready=None, serving=None, terminating=None)], ["10.0.1.1"]),  # unknown reads as ready
])
def test_ready_then_serving_terminating_fallback(conditions, used):
    svc = service()
    eps = [endpoint(f"10.0.1.{i + 1}", **c) for i, c in enumerate(conditions)]
    rs = generate([svc], [slice_of(svc, *eps)], node_name=NODE, cluster_cidr=CIDR)
    ladder = rules_in(rs, "nat", "KUBE-SVC-" + h("production/checkout-api-svctcp"))[1:]
    assert [r.args[3].split(" -> ")[1] for r in ladder] == [f"{ip}:3000" for ip in used]
    assert len([c for c in declared(rs, "nat") if c.startswith("KUBE-SEP-")]) == len(used)
    assert (lines(rs, "filter", "KUBE-SERVICES") != []) == (not used)


def test_local_policy_falls_back_to_local_serving_terminating_endpoints():
    svc = service(internal_traffic_policy="Local")
    eps = [endpoint("10.0.1.1", "node-eu-west-1b"), endpoint("10.0.1.2", NODE, **ST)]
    rs = generate([svc], [slice_of(svc, *eps)], node_name=NODE, cluster_cidr=CIDR)
    svl = rules_in(rs, "nat", "KUBE-SVL-" + h("production/checkout-api-svctcp"))
    assert [r.args[3] for r in svl[1:]] == ["production/checkout-api-svc -> 10.0.1.2:3000"]


def test_the_same_endpoint_twice_is_one_endpoint_and_the_local_copy_wins():
    svc = service(internal_traffic_policy="Local")
    first = slice_of(svc, endpoint("10.0.1.1", "node-eu-west-1b"), slice_name="a")
    second = slice_of(svc, endpoint("10.0.1.1", NODE), slice_name="b")
    rs = generate([svc], [first, second], node_name=NODE, cluster_cidr=CIDR)
    assert len([c for c in declared(rs, "nat") if c.startswith("KUBE-SEP-")]) == 1
    assert lines(rs, "filter", "KUBE-SERVICES") == []  # the copy on this node makes it local


# --- session affinity -------------------------------------------------------------------------

def test_client_ip_affinity_checks_recent_before_the_ladder_and_sets_it_in_the_sep_chain():
    svc = service(session_affinity="ClientIP", session_affinity_timeout=600)
    rs = generate([svc], [slice_of(svc, endpoint("10.0.1.1"), endpoint("10.0.1.2"))], node_name=NODE,
                  cluster_cidr=CIDR)
    spn = "production/checkout-api-svc"
    svc_chain = "KUBE-SVC-" + h(spn + "tcp")
    s1, s2 = ("KUBE-SEP-" + h(f"{spn}tcp10.0.1.{i}:3000") for i in (1, 2))
    assert lines(rs, "nat", svc_chain)[1:] == [
        f'-A {svc_chain} -m comment --comment "{spn} -> 10.0.1.1:3000" -m recent --name {s1} --rcheck --seconds 600 --reap -j {s1}',
        f'-A {svc_chain} -m comment --comment "{spn} -> 10.0.1.2:3000" -m recent --name {s2} --rcheck --seconds 600 --reap -j {s2}',
        f'-A {svc_chain} -m comment --comment "{spn} -> 10.0.1.1:3000" -m statistic --mode random --probability 0.5000000000 -j {s1}',
        f'-A {svc_chain} -m comment --comment "{spn} -> 10.0.1.2:3000" -j {s2}',
    ]
    assert lines(rs, "nat", s1) == [
        f"-A {s1} -m comment --comment {spn} -s 10.0.1.1 -j KUBE-MARK-MASQ",
        f"-A {s1} -m comment --comment {spn} -m recent --name {s1} --set -m tcp -p tcp -j DNAT --to-destination 10.0.1.1:3000",
    ]


# --- masquerading -----------------------------------------------------------------------------

def test_without_a_cluster_cidr_there_is_no_masquerade_rule_for_the_cluster_ip():
    svc = service()
    rs = generate([svc], [slice_of(svc, endpoint("10.0.1.1"))], node_name=NODE)
    svc_chain = "KUBE-SVC-" + h("production/checkout-api-svctcp")
    assert [r.args[-1] for r in rules_in(rs, "nat", svc_chain)] == ["KUBE-SEP-" + h("production/checkout-api-svctcp10.0.1.1:3000")]
    assert undeclared_jumps(rs) == []


def test_masquerade_all_marks_every_cluster_ip_packet():
    svc = service()
    rs = generate([svc], [slice_of(svc, endpoint("10.0.1.1"))], node_name=NODE, cluster_cidr=CIDR, masquerade_all=True)
    svc_chain = "KUBE-SVC-" + h("production/checkout-api-svctcp")
    assert lines(rs, "nat", svc_chain)[0] == (
        f'-A {svc_chain} -m comment --comment "production/checkout-api-svc cluster IP" -m tcp -p tcp '
        "-d 10.96.214.88 --dport 80 -j KUBE-MARK-MASQ")


# --- the fixed chains ---------------------------------------------------------------------

def test_fixed_chains_without_services():
    rs = generate([], [], node_name=NODE, cluster_cidr=CIDR)
    assert restore(rs) == (
        "*filter\n:KUBE-NODEPORTS - [0:0]\n:KUBE-SERVICES - [0:0]\n:KUBE-EXTERNAL-SERVICES - [0:0]\n"
        ":KUBE-FIREWALL - [0:0]\n:KUBE-FORWARD - [0:0]\n:KUBE-PROXY-FIREWALL - [0:0]\n" + FIXED_FILTER + "COMMIT\n"
        "*nat\n:KUBE-NODEPORTS - [0:0]\n:KUBE-SERVICES - [0:0]\n:KUBE-MARK-MASQ - [0:0]\n:KUBE-POSTROUTING - [0:0]\n"
        + LAST_RULE + "\n" + FIXED_NAT + "COMMIT\n")


def test_without_localhost_nodeports_loopback_is_excluded_and_kube_firewall_not_written():
    rs = generate([], [], node_name=NODE, cluster_cidr=CIDR, localhost_nodeports=False, masquerade_mark=0x8000)
    assert "KUBE-FIREWALL" not in declared(rs, "filter")
    assert lines(rs, "nat", "KUBE-SERVICES") == [LAST_RULE.replace(" -j ", " ! -d 127.0.0.0/8 -j ")]
    assert lines(rs, "nat", "KUBE-MARK-MASQ") == ["-A KUBE-MARK-MASQ -j MARK --or-mark 0x8000"]


def test_the_nodeports_rule_stays_last_among_many_services():
    services = [service(name=f"svc-{i}", cluster_ip=f"10.96.0.{i + 10}") for i in range(30)]
    slices = [slice_of(s, endpoint(f"10.244.1.{i + 1}")) for i, s in enumerate(services)]
    rs = generate(services, slices, node_name=NODE, cluster_cidr=CIDR)
    nat_services = lines(rs, "nat", "KUBE-SERVICES")
    assert len(nat_services) == 31 and nat_services[-1] == LAST_RULE
    names = [r.args[3].split(" ")[0] for r in rules_in(rs, "nat", "KUBE-SERVICES")[:-1]]
    assert names == sorted(names)


def test_random_fully_and_nfacct_options():
    svc = service(type="NodePort", ports=(ServicePort(80, 3000, node_port=30080),))
    rs = generate([svc], [slice_of(svc, endpoint("10.0.1.1"))], node_name=NODE, cluster_cidr=CIDR,
                  nfacct=True)
    # On by default, as on every node whose iptables has it (1.6.2+): proxier.go adds it
    # when iptables.HasRandomFully(); kube-proxy's unit tests' fake iptables lacks it.
    assert lines(rs, "nat", "KUBE-POSTROUTING")[-1].endswith("-j MASQUERADE --random-fully")
    without = generate([svc], [slice_of(svc, endpoint("10.0.1.1"))], node_name=NODE, cluster_cidr=CIDR,
                       random_fully=False)
    assert lines(without, "nat", "KUBE-POSTROUTING")[-1].endswith("-j MASQUERADE")
    assert lines(rs, "filter", "KUBE-FORWARD")[0] == (
        "-A KUBE-FORWARD -m conntrack --ctstate INVALID -m nfacct --nfacct-name ct_state_invalid_dropped_pkts -j DROP")
    ext = "KUBE-EXT-" + h("production/checkout-api-svctcp")
    assert lines(rs, "nat", "KUBE-NODEPORTS") == [
        f"-A KUBE-NODEPORTS -m comment --comment production/checkout-api-svc -m tcp -p tcp -d 127.0.0.0/8 "
        f"--dport 30080 -m nfacct --nfacct-name localhost_nps_accepted_pkts -j {ext}",
        f"-A KUBE-NODEPORTS -m comment --comment production/checkout-api-svc -m tcp -p tcp --dport 30080 -j {ext}",
    ]


# --- NodePort, LoadBalancer, externalIPs ---------------------------------------------------

def test_node_port_with_cluster_policy_masquerades_and_goes_to_the_svc_chain():
    svc = service(type="NodePort", ports=(ServicePort(80, 3000, name="http", node_port=30080),))
    rs = generate([svc], [slice_of(svc, endpoint("10.0.1.1"), name="http")], node_name=NODE, cluster_cidr=CIDR)
    spn = "production/checkout-api-svc:http"
    ext, svc_chain = "KUBE-EXT-" + h(spn + "tcp"), "KUBE-SVC-" + h(spn + "tcp")
    assert lines(rs, "nat", "KUBE-NODEPORTS") == [
        f"-A KUBE-NODEPORTS -m comment --comment {spn} -m tcp -p tcp --dport 30080 -j {ext}"]
    assert lines(rs, "nat", ext) == [
        f'-A {ext} -m comment --comment "masquerade traffic for {spn} external destinations" -j KUBE-MARK-MASQ',
        f"-A {ext} -j {svc_chain}",
    ]
    assert lines(rs, "filter", "KUBE-NODEPORTS") == []  # no health check port with Cluster policy


def test_load_balancer_with_local_policy_and_a_local_endpoint():
    svc = service(type="LoadBalancer", ports=(ServicePort(80, 3000, node_port=30080),),
                  external_traffic_policy="Local", load_balancer_ips=("198.51.100.7",), health_check_node_port=32000)
    eps = [endpoint("10.0.1.1", NODE), endpoint("10.0.2.1", "node-eu-west-1b")]
    rs = generate([svc], [slice_of(svc, *eps)], node_name=NODE, cluster_cidr=CIDR)
    spn = "production/checkout-api-svc"
    ext, svc_chain, svl = ("KUBE-EXT-" + h(spn + "tcp"), "KUBE-SVC-" + h(spn + "tcp"), "KUBE-SVL-" + h(spn + "tcp"))
    local_sep = "KUBE-SEP-" + h(spn + "tcp10.0.1.1:3000")
    assert lines(rs, "nat", "KUBE-SERVICES")[:2] == [
        f'-A KUBE-SERVICES -m comment --comment "{spn} cluster IP" -m tcp -p tcp -d 10.96.214.88 --dport 80 -j {svc_chain}',
        f'-A KUBE-SERVICES -m comment --comment "{spn} loadbalancer IP" -m tcp -p tcp -d 198.51.100.7 --dport 80 -j {ext}',
    ]
    assert lines(rs, "nat", ext) == [
        f'-A {ext} -m comment --comment "pod traffic for {spn} external destinations" -s {CIDR} -j {svc_chain}',
        f'-A {ext} -m comment --comment "masquerade LOCAL traffic for {spn} external destinations" -m addrtype --src-type LOCAL -j KUBE-MARK-MASQ',
        f'-A {ext} -m comment --comment "route LOCAL traffic for {spn} external destinations" -m addrtype --src-type LOCAL -j {svc_chain}',
        f"-A {ext} -j {svl}",
    ]
    assert lines(rs, "nat", svl) == [f'-A {svl} -m comment --comment "{spn} -> 10.0.1.1:3000" -j {local_sep}']
    assert len(rules_in(rs, "nat", svc_chain)) == 3  # masquerade + both endpoints
    assert lines(rs, "filter", "KUBE-NODEPORTS") == [
        f'-A KUBE-NODEPORTS -m comment --comment "{spn} health check node port" -m tcp -p tcp --dport 32000 -j ACCEPT']
    assert undeclared_jumps(rs) == []


def test_local_external_policy_without_local_endpoints_drops_external_traffic_only():
    svc = service(type="LoadBalancer", ports=(ServicePort(80, 3000, node_port=30080),),
                  external_traffic_policy="Local", load_balancer_ips=("198.51.100.7",), external_ips=("192.0.2.10",),
                  health_check_node_port=32000)
    rs = generate([svc], [slice_of(svc, endpoint("10.0.2.1", "node-eu-west-1b"))], node_name=NODE)
    spn = "production/checkout-api-svc"
    ext, svc_chain = "KUBE-EXT-" + h(spn + "tcp"), "KUBE-SVC-" + h(spn + "tcp")
    assert lines(rs, "filter", "KUBE-EXTERNAL-SERVICES") == [
        f'-A KUBE-EXTERNAL-SERVICES -m comment --comment "{spn} has no local endpoints" -m tcp -p tcp -d 192.0.2.10 --dport 80 -j DROP',
        f'-A KUBE-EXTERNAL-SERVICES -m comment --comment "{spn} has no local endpoints" -m tcp -p tcp -d 198.51.100.7 --dport 80 -j DROP',
        f'-A KUBE-EXTERNAL-SERVICES -m comment --comment "{spn} has no local endpoints" -m addrtype --dst-type LOCAL -m tcp -p tcp --dport 30080 -j DROP',
    ]
    # No cluster CIDR: no "pod traffic" short cut; no local endpoints: no jump to KUBE-SVL.
    assert [r.args[3] for r in rules_in(rs, "nat", ext)] == [
        f"masquerade LOCAL traffic for {spn} external destinations", f"route LOCAL traffic for {spn} external destinations"]
    assert rules_in(rs, "nat", svc_chain)  # the cluster IP still works from inside
    assert undeclared_jumps(rs) == []


def test_load_balancer_source_ranges_go_through_a_firewall_chain():
    svc = service(type="LoadBalancer", ports=(ServicePort(80, 3000, node_port=30080),),
                  load_balancer_ips=("198.51.100.7",), load_balancer_source_ranges=("203.0.113.0/25", "192.168.0.0/16"))
    spn = "production/checkout-api-svc"
    fw, ext = "KUBE-FW-" + h(spn + "tcp"), "KUBE-EXT-" + h(spn + "tcp")
    rs = generate([svc], [slice_of(svc, endpoint("10.0.1.1"))], node_name=NODE, node_ip="192.168.0.2",
                  cluster_cidr=CIDR)
    assert lines(rs, "nat", "KUBE-SERVICES")[1] == (
        f'-A KUBE-SERVICES -m comment --comment "{spn} loadbalancer IP" -m tcp -p tcp -d 198.51.100.7 --dport 80 -j {fw}')
    assert lines(rs, "nat", fw) == [
        f'-A {fw} -m comment --comment "{spn} loadbalancer IP" -s 203.0.113.0/25 -j {ext}',
        f'-A {fw} -m comment --comment "{spn} loadbalancer IP" -s 192.168.0.0/16 -j {ext}',
        # the node's own IP is in a source range: traffic from the LB IP itself is let in too
        f'-A {fw} -m comment --comment "{spn} loadbalancer IP" -s 198.51.100.7 -j {ext}',
        f'-A {fw} -m comment --comment "other traffic to {spn} will be dropped by KUBE-PROXY-FIREWALL"',
    ]
    assert lines(rs, "filter", "KUBE-PROXY-FIREWALL") == [
        f'-A KUBE-PROXY-FIREWALL -m comment --comment "{spn} traffic not accepted by {fw}" -m tcp -p tcp -d 198.51.100.7 --dport 80 -j DROP']
    outside = generate([svc], [slice_of(svc, endpoint("10.0.1.1"))], node_name=NODE, node_ip="10.0.0.5", cluster_cidr=CIDR)
    assert len(rules_in(outside, "nat", fw)) == 3


def test_external_ips_of_a_cluster_ip_service():
    svc = service(external_ips=("192.0.2.10", "192.0.2.11"))
    rs = generate([svc], [slice_of(svc, endpoint("10.0.1.1"))], node_name=NODE, cluster_cidr=CIDR)
    spn = "production/checkout-api-svc"
    ext = "KUBE-EXT-" + h(spn + "tcp")
    assert lines(rs, "nat", "KUBE-SERVICES")[1:3] == [
        f'-A KUBE-SERVICES -m comment --comment "{spn} external IP" -m tcp -p tcp -d 192.0.2.{i} --dport 80 -j {ext}'
        for i in (10, 11)]
    assert ext in declared(rs, "nat")


# --- which services and slices count ------------------------------------------------------

def test_headless_and_external_name_services_get_no_rules():
    headless = service(name="db", cluster_ip=None)
    external = service(name="mail", cluster_ip=None, type="ExternalName")
    rs = generate([headless, external], [slice_of(headless, endpoint("10.0.1.1"))], node_name=NODE, cluster_cidr=CIDR)
    assert rs == generate([], [], node_name=NODE, cluster_cidr=CIDR)


def test_endpoints_come_from_the_slice_port_with_the_same_name_and_protocol():
    svc = service(ports=(ServicePort(53, 53, name="dns", protocol="UDP"), ServicePort(53, 53, name="dns-tcp")))
    udp = slice_of(svc, endpoint("10.0.1.1"), port=5353, name="dns", protocol="UDP", slice_name="a")
    wrong = slice_of(svc, endpoint("10.0.1.9"), port=53, name="dns", protocol="TCP", slice_name="b")
    v6 = slice_of(svc, endpoint("10.0.1.8"), port=53, name="dns-tcp", slice_name="c", address_type="IPv6")
    rs = generate([svc], [udp, wrong, v6], node_name=NODE, cluster_cidr=CIDR)
    udp_svc = "KUBE-SVC-" + h("production/checkout-api-svc:dnsudp")
    sep = "KUBE-SEP-" + h("production/checkout-api-svc:dnsudp10.0.1.1:5353")
    assert lines(rs, "nat", sep)[1] == (
        f"-A {sep} -m comment --comment production/checkout-api-svc:dns -m udp -p udp -j DNAT --to-destination 10.0.1.1:5353")
    assert rules_in(rs, "nat", udp_svc)[0].args[4:8] == ("-m", "udp", "-p", "udp")
    # dns-tcp has no usable slice port: it rejects
    assert [r.args[3] for r in rules_in(rs, "filter", "KUBE-SERVICES")] == ["production/checkout-api-svc:dns-tcp has no endpoints"]


def test_sctp_words():
    svc = service(ports=(ServicePort(80, 80, protocol="SCTP"),))
    rs = generate([svc], [slice_of(svc, endpoint("10.0.1.1"), port=80, protocol="SCTP")], node_name=NODE)
    assert lines(rs, "nat", "KUBE-SERVICES")[0] == (
        '-A KUBE-SERVICES -m comment --comment "production/checkout-api-svc cluster IP" -m sctp -p sctp '
        f"-d 10.96.214.88 --dport 80 -j KUBE-SVC-{h('production/checkout-api-svcsctp')}")


# --- large cluster mode -----------------------------------------------------------------------

@pytest.mark.parametrize("endpoints, comments", [(1000, True), (1001, False)])
def test_large_cluster_mode_drops_per_endpoint_comments(endpoints, comments):
    services = [service(name=f"svc-{i}", cluster_ip=f"10.96.{i // 250}.{i % 250 + 1}") for i in range(endpoints)]
    slices = [slice_of(s, endpoint(f"10.244.{i // 250}.{i % 250 + 1}")) for i, s in enumerate(services)]
    rs = generate(services, slices, node_name=NODE, cluster_cidr=CIDR)
    spn = "production/svc-0"
    sep = "KUBE-SEP-" + h(spn + "tcp10.244.0.1:3000")
    svc_chain = "KUBE-SVC-" + h(spn + "tcp")
    if comments:
        assert lines(rs, "nat", sep)[0] == f"-A {sep} -m comment --comment {spn} -s 10.244.0.1 -j KUBE-MARK-MASQ"
        assert lines(rs, "nat", svc_chain)[1] == f'-A {svc_chain} -m comment --comment "{spn} -> 10.244.0.1:3000" -j {sep}'
    else:
        assert lines(rs, "nat", sep) == [f"-A {sep} -s 10.244.0.1 -j KUBE-MARK-MASQ",
                                         f"-A {sep} -m tcp -p tcp -j DNAT --to-destination 10.244.0.1:3000"]
        assert lines(rs, "nat", svc_chain)[1] == f"-A {svc_chain} -j {sep}"
    # The cluster IP rules keep their comments either way.
    assert lines(rs, "nat", svc_chain)[0].startswith(f'-A {svc_chain} -m comment --comment "{spn} cluster IP"')


# --- the built-in chains ----------------------------------------------------------------------

def test_include_builtin_declares_the_builtin_chains_and_kube_proxys_jumps():
    rs = generate([], [], node_name=NODE, cluster_cidr=CIDR, include_builtin=True)
    table = {t.name: t for t in rs.tables}
    assert [(c.name, c.policy) for c in table["filter"].chains[-3:]] == [
        ("FORWARD", "ACCEPT"), ("INPUT", "ACCEPT"), ("OUTPUT", "ACCEPT")]
    assert [(c.name, c.policy) for c in table["nat"].chains[-4:]] == [
        ("INPUT", "ACCEPT"), ("OUTPUT", "ACCEPT"), ("POSTROUTING", "ACCEPT"), ("PREROUTING", "ACCEPT")]
    new = "-m conntrack --ctstate NEW"
    # kube-proxy prepends each jump, so the last one it ensures stands first; kubelet's
    # KUBE-FIREWALL jumps were there before it started.
    assert lines(rs, "filter", "INPUT") == [
        f'-A INPUT {new} -m comment --comment "kubernetes load balancer firewall" -j KUBE-PROXY-FIREWALL',
        '-A INPUT -m comment --comment "kubernetes health check service ports" -j KUBE-NODEPORTS',
        f'-A INPUT {new} -m comment --comment "kubernetes externally-visible service portals" -j KUBE-EXTERNAL-SERVICES',
        "-A INPUT -j KUBE-FIREWALL",
    ]
    assert lines(rs, "filter", "FORWARD") == [
        f'-A FORWARD {new} -m comment --comment "kubernetes load balancer firewall" -j KUBE-PROXY-FIREWALL',
        '-A FORWARD -m comment --comment "kubernetes forwarding rules" -j KUBE-FORWARD',
        f'-A FORWARD {new} -m comment --comment "kubernetes service portals" -j KUBE-SERVICES',
        f'-A FORWARD {new} -m comment --comment "kubernetes externally-visible service portals" -j KUBE-EXTERNAL-SERVICES',
    ]
    assert lines(rs, "filter", "OUTPUT") == [
        f'-A OUTPUT {new} -m comment --comment "kubernetes load balancer firewall" -j KUBE-PROXY-FIREWALL',
        f'-A OUTPUT {new} -m comment --comment "kubernetes service portals" -j KUBE-SERVICES',
        "-A OUTPUT -j KUBE-FIREWALL",
    ]
    assert lines(rs, "nat", "PREROUTING") == [
        '-A PREROUTING -m comment --comment "kubernetes service portals" -j KUBE-SERVICES']
    assert lines(rs, "nat", "OUTPUT") == ['-A OUTPUT -m comment --comment "kubernetes service portals" -j KUBE-SERVICES']
    assert lines(rs, "nat", "POSTROUTING") == [
        '-A POSTROUTING -m comment --comment "kubernetes postrouting rules" -j KUBE-POSTROUTING']
    assert lines(rs, "nat", "INPUT") == []
    assert undeclared_jumps(rs) == []
    # Without localhost node ports kube-proxy writes no KUBE-FIREWALL rule, but kubelet's chain is there.
    bare = generate([], [], node_name=NODE, include_builtin=True, localhost_nodeports=False)
    assert "KUBE-FIREWALL" in declared(bare, "filter") and undeclared_jumps(bare) == []


# --- invariants over many shapes of service -----------------------------------------------

service_shapes = st.fixed_dictionaries({
    "type": st.sampled_from(["ClusterIP", "NodePort", "LoadBalancer"]),
    "itp": st.sampled_from(["Cluster", "Local"]),
    "etp": st.sampled_from(["Cluster", "Local"]),
    "affinity": st.sampled_from(["None", "ClientIP"]),
    "external_ips": st.integers(0, 2),
    "lb_ips": st.integers(0, 2),
    "ranges": st.integers(0, 2),
    "endpoints": st.lists(st.tuples(st.integers(1, 20), st.sampled_from([NODE, "node-b", None]),
                                    st.sampled_from([R, NR, ST, NST])), max_size=6),
})


def build(shapes):
    services, slices = [], []
    for i, shape in enumerate(shapes):
        node_port = 30000 + i if shape["type"] != "ClusterIP" else None
        svc = Service(
            f"ns{i % 3}", f"svc{i}", cluster_ip=f"10.96.0.{i + 1}", type=shape["type"],
            ports=(ServicePort(80, 8080, name="http", node_port=node_port),),
            internal_traffic_policy=shape["itp"],
            external_traffic_policy=shape["etp"] if shape["type"] != "ClusterIP" else "Cluster",
            session_affinity=shape["affinity"],
            external_ips=tuple(f"192.0.2.{i * 3 + k}" for k in range(shape["external_ips"])),
            load_balancer_ips=tuple(f"198.51.100.{i * 3 + k}" for k in range(shape["lb_ips"]))
            if shape["type"] == "LoadBalancer" else (),
            load_balancer_source_ranges=tuple(f"203.0.{k}.0/24" for k in range(shape["ranges"])),
            health_check_node_port=31000 + i if shape["type"] == "LoadBalancer" else None,
        )
        services.append(svc)
        slices.append(slice_of(svc, *(endpoint(f"10.244.{i}.{n}", node, **c) for n, node, c in shape["endpoints"]),
                               port=8080, name="http"))
    return services, slices


@settings(max_examples=80, deadline=None)
@given(st.lists(service_shapes, min_size=1, max_size=5), st.booleans(), st.booleans(), st.booleans())
def test_no_rule_jumps_to_an_undeclared_chain(shapes, with_cidr, builtin, localhost):
    services, slices = build(shapes)
    rs = generate(services, slices, node_name=NODE, node_ip="203.0.0.9", cluster_cidr=CIDR if with_cidr else None,
                  include_builtin=builtin, localhost_nodeports=localhost)
    assert undeclared_jumps(rs) == []
    # Every declared service chain holds rules, and every one is reached from somewhere.
    for table in rs.tables:
        jumped = {r.args[r.args.index("-j") + 1] for r in table.rules if "-j" in r.args}
        for chain in table.chains:
            if chain.name.startswith(("KUBE-SVC-", "KUBE-SVL-", "KUBE-EXT-", "KUBE-FW-", "KUBE-SEP-")):
                assert any(r.chain == chain.name for r in table.rules), f"empty {chain.name}"
                assert chain.name in jumped, f"nothing jumps to {chain.name}"
    assert canonical_order(rs) == rs
    assert lines(rs, "nat", "KUBE-SERVICES")[-1].startswith(LAST_RULE[:60])
    assert iptables.parse(str(rs)) == rs  # every word survives the restore text


@settings(max_examples=40, deadline=None)
@given(st.lists(service_shapes, min_size=1, max_size=5), st.integers(0, 2**32 - 1))
def test_canonical_order_undoes_any_shuffle_that_keeps_each_chains_order(shapes, seed):
    services, slices = build(shapes)
    rs = generate(services, slices, node_name=NODE, cluster_cidr=CIDR, include_builtin=True)
    rnd = random.Random(seed)
    tables = []
    for table in reversed(rs.tables):
        queues = {}
        for rule in table.rules:
            if rule.chain in ("KUBE-SERVICES", "KUBE-NODEPORTS"):
                queues.setdefault((rule.chain, rnd.random()), []).append(rule)  # any order at all
            else:
                queues.setdefault(rule.chain, []).append(rule)
        mixed = []
        while queues:
            key = rnd.choice(sorted(queues, key=str))
            mixed.append(queues[key].pop(0))
            if not queues[key]:
                del queues[key]
        chains = list(table.chains)
        rnd.shuffle(chains)
        tables.append(Table(table.name, tuple(chains), tuple(mixed)))
    shuffled = RuleSet(tuple(tables))
    ordered = canonical_order(shuffled)
    assert [t.name for t in ordered.tables] == ["filter", "nat"]
    assert [t.chains for t in ordered.tables] == [t.chains for t in rs.tables]
    for got, want in zip(ordered.tables, rs.tables):
        for chain in {r.chain for r in want.rules} - {"KUBE-SERVICES", "KUBE-NODEPORTS"}:
            assert [r for r in got.rules if r.chain == chain] == [r for r in want.rules if r.chain == chain]
        assert sorted(map(repr, got.rules)) == sorted(map(repr, want.rules))
    nat_services = [r for r in ordered.tables[1].rules if r.chain == "KUBE-SERVICES"]
    assert line(nat_services[-1]) == LAST_RULE
    keys = [r.args[3].split(" ")[0].split(":")[0] for r in nat_services[:-1]]
    assert keys == sorted(keys)


def test_canonical_order_puts_kube_chains_before_others_and_the_last_rule_last():
    rules = (
        Rule("KUBE-SERVICES", ("-m", "comment", "--comment", LAST_RULE.split('"')[1], "-j", "KUBE-NODEPORTS")),
        Rule("KUBE-SERVICES", ("-m", "comment", "--comment", "ns2/b cluster IP", "-j", "KUBE-SVC-B")),
        Rule("KUBE-SERVICES", ("-m", "comment", "--comment", "ns1/a:http cluster IP", "-j", "KUBE-SVC-A")),
    )
    chains = tuple(Chain(n) for n in ("PREROUTING", "KUBE-SVC-B", "KUBE-SERVICES", "KUBE-NODEPORTS", "FOO", "KUBE-SVC-A"))
    ordered = canonical_order(RuleSet((Table("nat", chains, rules), Table("filter", (), ()))))
    assert [t.name for t in ordered.tables] == ["filter", "nat"]
    nat = ordered.tables[1]
    assert [c.name for c in nat.chains] == ["KUBE-NODEPORTS", "KUBE-SERVICES", "KUBE-SVC-A", "KUBE-SVC-B", "FOO",
                                            "PREROUTING"]
    assert [r.args[-1] for r in nat.rules] == ["KUBE-SVC-A", "KUBE-SVC-B", "KUBE-NODEPORTS"]


def test_canonical_order_finds_comments_where_iptables_save_puts_them():
    """iptables-save writes the comment after -d and -p: the sort reads it through Rule.comment."""
    rules = (
        Rule("KUBE-SERVICES", ("-d", "10.96.0.2/32", "-p", "tcp", "-m", "comment", "--comment", "ns2/b cluster IP",
                               "-m", "tcp", "--dport", "80", "-j", "KUBE-SVC-B")),
        Rule("KUBE-SERVICES", ("-m", "addrtype", "--dst-type", "LOCAL", "-m", "comment", "--comment",
                               LAST_RULE.split('"')[1], "-j", "KUBE-NODEPORTS")),
        Rule("KUBE-SERVICES", ("-d", "10.96.0.1/32", "-p", "tcp", "-m", "comment", "--comment", "ns1/a:http cluster IP",
                               "-m", "tcp", "--dport", "80", "-j", "KUBE-SVC-A")),
    )
    chains = tuple(Chain(n) for n in ("KUBE-SERVICES", "KUBE-NODEPORTS", "KUBE-SVC-A", "KUBE-SVC-B"))
    ordered = canonical_order(RuleSet((Table("nat", chains, rules),)))
    assert [r.args[-1] for r in ordered.tables[0].rules] == ["KUBE-SVC-A", "KUBE-SVC-B", "KUBE-NODEPORTS"]


# --- a partial sync ---------------------------------------------------------------------------

def test_a_partial_sync_rewrites_only_the_changed_services_chains():
    services = [service(name=n, cluster_ip=f"10.96.0.{i + 1}") for i, n in enumerate(("a", "b"))]
    slices = [slice_of(s, endpoint(f"10.244.0.{i + 1}")) for i, s in enumerate(services)]
    full = generate(services, slices, node_name=NODE, cluster_cidr=CIDR)
    partial = generate(services, slices, node_name=NODE, cluster_cidr=CIDR, changed_services=["production/b"])
    chain_a, chain_b = ("KUBE-SVC-" + h(f"production/{n}tcp") for n in "ab")
    assert chain_b in declared(partial, "nat") and chain_a not in declared(partial, "nat")
    assert rules_in(partial, "nat", chain_b) == rules_in(full, "nat", chain_b)
    assert rules_in(partial, "nat", "KUBE-SERVICES") == rules_in(full, "nat", "KUBE-SERVICES")
    # Like kube-proxy's own partial restore input, it jumps to a chain it leaves as it is.
    assert undeclared_jumps(partial) == ["nat: " + line(rules_in(full, "nat", "KUBE-SERVICES")[0])]


# --- bad input -----------------------------------------------------------------------------------

@pytest.mark.parametrize("kw, message", [
    (dict(node_ip="10.0.0.300"), "node IP '10.0.0.300' is not an IPv4 address"),
    (dict(node_ip="fd00::1"), "node IP 'fd00::1' is not an IPv4 address"),
    (dict(cluster_cidr="10.244.0.0/33"), "cluster CIDR '10.244.0.0/33'"),
    (dict(cluster_cidr="fd00::/64"), "not an IPv4 CIDR"),
    (dict(masquerade_mark="0xzz"), "masquerade mark '0xzz'"),
    (dict(masquerade_mark=0), "masquerade mark 0"),
])
def test_bad_settings_are_named(kw, message):
    with pytest.raises(InvalidValue, match=message.replace("(", r"\(")):
        generate([], [], node_name=NODE, **kw)


def test_a_service_given_twice_is_an_error():
    with pytest.raises(InvalidValue, match="service production/checkout-api-svc is given twice"):
        generate([service(), service()], [], node_name=NODE)


def test_two_ports_with_the_same_name_and_protocol_are_an_error():
    svc = service(ports=(ServicePort(80, 3000, name="http"), ServicePort(81, 3001, name="http")))
    with pytest.raises(InvalidValue, match="two TCP ports named 'http'"):
        generate([svc], [], node_name=NODE)


# --- from a whole cluster -------------------------------------------------------------------------

def lesson_like_cluster():
    from k8snet_lesson.cluster import Cluster, Container, ContainerPort, Node, Pod

    nodes = tuple(Node(f"node-eu-west-1{z}", f"10.0.1.{i + 10}", f"10.244.{i + 2}.0/24") for i, z in enumerate("abc"))
    pods = tuple(
        Pod("production", f"checkout-api-6f8b9d-{suffix}", labels={"app": "checkout-api"}, node_name=node.name,
            pod_ip=ip, containers=(Container("api", ports=(ContainerPort(3000),)),))
        for suffix, node, ip in zip(("2xkpj", "7rvqn", "k9w2m"), nodes, ("10.244.2.14", "10.244.3.7", "10.244.4.2")))
    svc = service(selector={"app": "checkout-api"})
    return Cluster(nodes=nodes, pods=pods, services=(svc,), cluster_cidr="10.244.0.0/16")


def test_rules_for_a_cluster_reads_the_node_the_cidr_and_the_controllers_slices():
    cluster = lesson_like_cluster()
    rs = kube_proxy.rules_for(cluster, "node-eu-west-1a")
    svc_chain = "KUBE-SVC-" + h("production/checkout-api-svctcp")
    ladder = rules_in(rs, "nat", svc_chain)
    assert ladder[0].args[-5:] == ("!", "-s", "10.244.0.0/16", "-j", "KUBE-MARK-MASQ")
    assert [r.args[3] for r in ladder[1:]] == [f"production/checkout-api-svc -> {ip}:3000"
                                              for ip in ("10.244.2.14", "10.244.3.7", "10.244.4.2")]
    assert [r.args[9] for r in ladder[1:3]] == ["0.3333333333", "0.5000000000"]
    # One pod stops being ready: the EndpointSlice controller marks it, kube-proxy drops it.
    unready = cluster.with_pod(cluster.pod("checkout-api-6f8b9d-7rvqn").with_ready(False))
    after = rules_in(kube_proxy.rules_for(unready, "node-eu-west-1a"), "nat", svc_chain)
    assert [r.args[3].split(" -> ")[1] for r in after[1:]] == ["10.244.2.14:3000", "10.244.4.2:3000"]


def test_rules_for_an_unknown_node_names_the_nodes_there_are():
    from k8snet_lesson.errors import NotFound

    with pytest.raises(NotFound, match="no node 'node-x' \\(nodes: node-eu-west-1a, node-eu-west-1b, node-eu-west-1c\\)"):
        kube_proxy.rules_for(lesson_like_cluster(), "node-x")


def test_generation_leaves_the_garbage_collector_as_it_found_it():
    import gc

    assert gc.isenabled()
    generate([service()], [], node_name=NODE)
    assert gc.isenabled()
    with pytest.raises(InvalidValue):
        generate([service(), service()], [], node_name=NODE)
    assert gc.isenabled()
    gc.disable()
    try:
        generate([service()], [], node_name=NODE)
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_rules_of_service_keeps_one_service_ports_chains_and_nothing_else():
    from k8snet_lesson import scenarios
    from k8snet_lesson.kube_proxy import rules_for, rules_of_service

    rules = rules_for(scenarios.lesson_cluster(), "node-eu-west-1a")
    part = rules_of_service(rules, "production/checkout-api-svc")
    (nat,) = part.tables
    chains = {c.name for c in nat.chains}
    assert {r.chain for r in nat.rules} <= chains
    assert sum(c.startswith("KUBE-SEP-") for c in chains) == 3
    assert sum(c.startswith("KUBE-SVC-") for c in chains) == 1
    assert all("checkout-api-svc" in (r.comment or "") for r in nat.rules)
    dns = rules_of_service(rules, "kube-system/kube-dns:dns")
    assert dns.tables and all(":dns " in (r.comment or "") or (r.comment or "").endswith(":dns") for t in dns.tables for r in t.rules)
    assert not ({c.name for t in dns.tables for c in t.chains} & (chains - {"KUBE-SERVICES"}))
