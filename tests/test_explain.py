"""Reading Service ports, endpoints and exact shares out of a node's rules.

Expected values come from the facts each fixture states (the services kube-proxy's own
test set up; the endpoints a sample dump was written for) and from the share formula
share_i = p_i * prod(1 - p_j, j < i) applied to the probabilities as printed.
"""

from __future__ import annotations

import json
from ipaddress import IPv4Address, IPv4Network
from pathlib import Path

import pytest

from k8snet_lesson.errors import InvalidValue
from k8snet_lesson.explain import (
    EndpointShare,
    ServiceExplanation,
    exact_shares,
    explain,
    explanations_as_dicts,
    explanations_as_json,
    explanations_as_text,
)
from k8snet_lesson.iptables import parse, to_save
from k8snet_lesson.resources import data_path

from golden_data import GOLDEN as _FOUND

GOLDEN = _FOUND if _FOUND is not None else Path("kube-proxy-golden-not-found")
needs_golden = pytest.mark.skipif(not GOLDEN.is_dir(), reason="kube-proxy golden texts (shared/kube-proxy-golden) not present")


def dump(name: str):
    path = data_path(f"dumps/{name}")
    return parse(path.read_text(), source=str(path))


def by_port(explanations):
    return {(e.service_port, e.protocol): e for e in explanations}


# --- exact shares -------------------------------------------------------------------------


@pytest.mark.parametrize("probabilities, shares", [
    ([None], [1.0]),
    ([0.5, None], [0.5, 0.5]),
    ([0.25, 1 / 3, 0.5, None], [0.25, 0.25, 0.25, 0.25]),
    ([0.5, 0.5], [0.5, 0.25, 0.25]),  # every rule has a probability: a quarter matches none
    ([1 / 3, 1 / 3, 1 / 3], [1 / 3, 2 / 9, 4 / 27, 8 / 27]),
    ([0.3, None, 0.5], [0.3, 0.7, 0.0, 0.0]),  # nothing reaches the rule after an unconditional one
    ([], [1.0]),
])
def test_exact_shares(probabilities, shares):
    assert exact_shares(probabilities) == pytest.approx(shares, abs=1e-15)


def test_exact_shares_sum_to_one_and_reject_bad_probabilities():
    assert sum(exact_shares([0.1, 0.7, 0.2, 0.9])) == pytest.approx(1.0)
    with pytest.raises(InvalidValue):
        exact_shares([1.5, None])


# --- the JSON of a known dump -----------------------------------------------------------------

DNS = """\
*nat
:KUBE-SERVICES - [0:0]
:KUBE-SVC-TCOU7JCQXEZGVUNU - [0:0]
:KUBE-SEP-YIL6JZP7A3QYXJU2 - [0:0]
:KUBE-SEP-6E7XQMQ4RAYOWTTM - [0:0]
-A KUBE-SERVICES -m comment --comment "kube-system/kube-dns:dns cluster IP" -m udp -p udp -d 10.96.0.10 --dport 53 -j KUBE-SVC-TCOU7JCQXEZGVUNU
-A KUBE-SVC-TCOU7JCQXEZGVUNU -m comment --comment "kube-system/kube-dns:dns cluster IP" -m udp -p udp -d 10.96.0.10 --dport 53 ! -s 10.244.0.0/16 -j KUBE-MARK-MASQ
-A KUBE-SVC-TCOU7JCQXEZGVUNU -m comment --comment "kube-system/kube-dns:dns -> 10.244.0.2:53" -m statistic --mode random --probability 0.5000000000 -j KUBE-SEP-YIL6JZP7A3QYXJU2
-A KUBE-SVC-TCOU7JCQXEZGVUNU -m comment --comment "kube-system/kube-dns:dns -> 10.244.0.3:53" -j KUBE-SEP-6E7XQMQ4RAYOWTTM
-A KUBE-SEP-YIL6JZP7A3QYXJU2 -m comment --comment kube-system/kube-dns:dns -s 10.244.0.2 -j KUBE-MARK-MASQ
-A KUBE-SEP-YIL6JZP7A3QYXJU2 -m comment --comment kube-system/kube-dns:dns -m udp -p udp -j DNAT --to-destination 10.244.0.2:53
-A KUBE-SEP-6E7XQMQ4RAYOWTTM -m comment --comment kube-system/kube-dns:dns -s 10.244.0.3 -j KUBE-MARK-MASQ
-A KUBE-SEP-6E7XQMQ4RAYOWTTM -m comment --comment kube-system/kube-dns:dns -m udp -p udp -j DNAT --to-destination 10.244.0.3:53
COMMIT
"""


def test_json_of_a_known_dump():
    assert explanations_as_json(explain(parse(DNS))) == (
        '{"services": [{"service_port": "kube-system/kube-dns:dns", "protocol": "udp", "cluster_ip": "10.96.0.10", '
        '"port": 53, "endpoints": [{"address": "10.244.0.2:53", "share": 0.5}, {"address": "10.244.0.3:53", '
        '"share": 0.5}], "reject": false, "session_affinity_seconds": null}]}'
    )


def test_save_form_of_the_same_rules_explains_the_same():
    assert explanations_as_dicts(explain(parse(to_save(parse(DNS))))) == explanations_as_dicts(explain(parse(DNS)))


def test_explanation_fields_of_a_known_dump():
    (dns,) = explain(parse(DNS))
    assert dns.cluster_ip == IPv4Address("10.96.0.10") and dns.port == 53 and dns.protocol == "udp"
    assert dns.chain == "KUBE-SVC-TCOU7JCQXEZGVUNU"
    assert dns.masquerade_source_outside == IPv4Network("10.244.0.0/16")
    assert dns.endpoints == (
        EndpointShare(IPv4Address("10.244.0.2"), 53, 0.5, "KUBE-SEP-YIL6JZP7A3QYXJU2", "0.5000000000"),
        EndpointShare(IPv4Address("10.244.0.3"), 53, 0.5, "KUBE-SEP-6E7XQMQ4RAYOWTTM", None),
    )
    assert dns.endpoints[0].probability == 0.5


# --- kube-proxy's own expected rules ----------------------------------------------------------


@needs_golden
def test_kube_proxy_overall_rules():
    # TestOverallIPTablesRulesWithMultipleServices (v1.28): svc1 ClusterIP (one endpoint),
    # svc2 LoadBalancer with externalTrafficPolicy Local (external IP 192.168.99.22, LB
    # 1.2.3.4, NodePort 3001), svc3 NodePort 3003, svc4 with external IP 192.168.99.33 and
    # two endpoints, svc5 LoadBalancer 5.6.7.8 (NodePort 3002), svc6 with no endpoints.
    rules = parse((GOLDEN / "v128_overall_multiple_services.expected.txt").read_text())
    found = by_port(explain(rules))
    assert sorted(name for name, _ in found) == [f"ns{i}/svc{i}:p80" for i in range(1, 7)]
    rows = {name: (str(e.cluster_ip), e.port, [f"{p.address}:{p.port}" for p in e.endpoints], [p.share for p in e.endpoints],
                   e.reject, e.session_affinity_seconds, e.node_ports, [str(a) for a in e.external_ips],
                   [str(a) for a in e.load_balancer_ips]) for (name, _), e in found.items()}
    assert rows == {
        "ns1/svc1:p80": ("172.30.0.41", 80, ["10.180.0.1:80"], [1.0], False, None, (), [], []),
        "ns2/svc2:p80": ("172.30.0.42", 80, ["10.180.0.2:80"], [1.0], False, None, (3001,), ["192.168.99.22"], ["1.2.3.4"]),
        "ns3/svc3:p80": ("172.30.0.43", 80, ["10.180.0.3:80"], [1.0], False, None, (3003,), [], []),
        "ns4/svc4:p80": ("172.30.0.44", 80, ["10.180.0.4:80", "10.180.0.5:80"], [0.5, 0.5], False, None, (), ["192.168.99.33"], []),
        "ns5/svc5:p80": ("172.30.0.45", 80, ["10.180.0.3:80"], [1.0], False, None, (3002,), [], ["5.6.7.8"]),
        "ns6/svc6:p80": ("172.30.0.46", 80, [], [], True, None, (), [], []),
    }
    assert all(e.masquerade_source_outside == IPv4Network("10.0.0.0/8") for e in found.values() if e.endpoints)


@needs_golden
def test_kube_proxy_three_endpoints():
    # TestInternalTrafficPolicyE2E: 10.0.1.1, .2, .3 ready behind 172.30.1.1:80
    (svc,) = explain(parse((GOLDEN / "v128_itp_cluster_three_endpoints.expected.txt").read_text()))
    assert [str(p.address) for p in svc.endpoints] == ["10.0.1.1", "10.0.1.2", "10.0.1.3"]
    assert [p.probability_text for p in svc.endpoints] == ["0.3333333333", "0.5000000000", None]
    assert [p.share for p in svc.endpoints] == [0.3333333333, (1 - 0.3333333333) * 0.5, (1 - 0.3333333333) * 0.5]
    assert svc.session_affinity_seconds is None


@needs_golden
def test_kube_proxy_terminating_endpoints_and_affinity():
    # TestTerminatingEndpointsTrafficPolicyCluster: ClientIP affinity, LB 1.2.3.4; of
    # 10.0.1.1-.5, .3 (serving but terminating) and .4 (not serving) are left out while
    # ready endpoints exist
    (svc,) = explain(parse((GOLDEN / "v128_terminating_cluster_ready_endpoints_exist.expected.txt").read_text()))
    assert [str(p.address) for p in svc.endpoints] == ["10.0.1.1", "10.0.1.2", "10.0.1.5"]
    assert svc.session_affinity_seconds == 10800
    assert svc.load_balancer_ips == (IPv4Address("1.2.3.4"),)


@needs_golden
def test_modern_rules_with_nfacct_and_affinity():
    # the post-1.31 TestOverallIPTablesRules: svc5 has ClientIP affinity (10800 s), and
    # NodePorts get a second, localhost rule counted by nfacct
    found = by_port(explain(parse((GOLDEN / "modern_overall_ipt_rules.expected.txt").read_text())))
    assert found[("ns5/svc5:p80", "tcp")].session_affinity_seconds == 10800
    assert found[("ns2/svc2:p80", "tcp")].node_ports == (3001,)
    assert found[("ns6/svc6:p80", "tcp")].reject


@needs_golden
@pytest.mark.parametrize("name, expect", [
    ("v128_clusterip_reject_no_endpoints", ("ns1/svc1:p80", True, False)),
    ("v128_terminating_cluster_no_usable_endpoints", ("ns1/svc1", True, False)),
    ("v128_itp_local_no_local_endpoints", ("ns1/svc1", False, True)),
])
def test_kube_proxy_rules_for_ports_without_endpoints(name, expect):
    (svc,) = explain(parse((GOLDEN / f"{name}.expected.txt").read_text()))
    assert (svc.service_port, svc.reject, svc.drop) == expect
    assert svc.endpoints == ()


@needs_golden
def test_internal_traffic_policy_local_chain_is_walked():
    (svc,) = explain(parse((GOLDEN / "v128_itp_local_with_local_endpoint.expected.txt").read_text()))
    assert svc.chain == "KUBE-SVL-AQI2S6QIMU7PVVRP"
    assert [(str(p.address), p.share) for p in svc.endpoints] == [("10.0.1.1", 1.0)]


@needs_golden
def test_partial_sync_names_chains_it_does_not_write():
    # the second, partial sync rewrites only svc3's chains; svc1 and svc2 keep theirs in the kernel
    found = by_port(explain(parse((GOLDEN / "v128_repeated_second_partial_sync.expected.txt").read_text())))
    assert [str(p.address) for p in found[("ns3/svc3:p80", "tcp")].endpoints] == ["10.0.3.1"]
    assert found[("ns1/svc1:p80", "tcp")].chain == "KUBE-SVC-XPGD46QRK7WJZT7O"
    assert found[("ns1/svc1:p80", "tcp")].endpoints == ()


@needs_golden
def test_sctp_service():
    (svc,) = explain(parse((GOLDEN / "v128_clusterip_sctp_one_endpoint.expected.txt").read_text()))
    assert (svc.protocol, svc.port, [str(p.address) for p in svc.endpoints]) == ("sctp", 80, ["10.180.0.1"])


# --- the sample dumps in data/dumps -------------------------------------------------------


def test_node_dump():
    # node-eu-west-1a: the lesson's checkout-api-svc (three endpoints on port 3000),
    # kube-dns (two CoreDNS pods), payment-api with ClientIP affinity, storefront on
    # NodePort 30080, reports-svc with no endpoints. iptables-save prints the kernel's
    # probabilities: 1/3 as 0.33333333349, 1/2 as 0.50000000000.
    found = by_port(explain(dump("node-eu-west-1a.iptables-save.txt")))
    checkout = found[("production/checkout-api-svc", "tcp")]
    assert (str(checkout.cluster_ip), checkout.port) == ("10.96.214.88", 80)
    assert [f"{p.address}:{p.port}" for p in checkout.endpoints] == ["10.244.2.14:3000", "10.244.3.7:3000", "10.244.4.2:3000"]
    assert [p.probability_text for p in checkout.endpoints] == ["0.33333333349", "0.50000000000", None]
    p = 0.33333333349
    assert [e.share for e in checkout.endpoints] == [p, (1 - p) * 0.5, (1 - p) * 0.5]
    dns = found[("kube-system/kube-dns:dns", "udp")]
    assert [(f"{e.address}:{e.port}", e.share) for e in dns.endpoints] == [("10.244.0.2:53", 0.5), ("10.244.0.3:53", 0.5)]
    assert found[("production/payment-api-svc", "tcp")].session_affinity_seconds == 10800
    assert found[("production/storefront:http", "tcp")].node_ports == (30080,)
    assert found[("production/reports-svc:http", "tcp")].reject
    assert found[("default/kubernetes:https", "tcp")].endpoints[0].address == IPv4Address("192.168.0.10")
    assert len(found) == 8


def test_old_kube_proxy_save_dump_shows_its_skew():
    # kube-proxy 1.1 printed 0.33333; the kernel kept lround(0.33333 * 2^31) and prints 0.33332999982
    found = by_port(explain(dump("kube-proxy-v1.1.iptables-save.txt")))
    nginx = found[("default/svc-nginx:", "tcp")]
    assert [p.probability_text for p in nginx.endpoints] == ["0.33332999982", "0.50000000000", None]
    shares = [p.share for p in nginx.endpoints]
    assert shares == [0.33332999982, (1 - 0.33332999982) / 2, (1 - 0.33332999982) / 2]
    assert shares[0] < 1 / 3 < shares[1]  # the first pod gets a little less than a third
    assert nginx.masquerade_source_outside is None  # 1.1 marked in the KUBE-SEP chains instead


def test_old_kube_proxy_restore_input():
    (hostnames,) = explain(dump("kube-proxy-v1.2.iptables-restore.txt"))
    assert hostnames.service_port == "default/hostnames:"
    assert [p.probability_text for p in hostnames.endpoints] == ["0.33333", "0.50000", None]
    assert [p.share for p in hostnames.endpoints] == [0.33333, 0.66667 * 0.5, 0.66667 * 0.5]
    assert [p.chain for p in hostnames.endpoints] == ["KUBE-SEP-WNBA2IHDGP2BOBGZ", "KUBE-SEP-X3P2623AGDH6CDF3",
                                                       "KUBE-SEP-57KPRZ3JQVENLNBR"]


OLD_MASQUERADE = """\
*filter
:KUBE-SERVICES - [0:0]
-A KUBE-SERVICES -m comment --comment "default/empty: has no endpoints" -m tcp -p tcp -d 10.96.7.7/32 --dport 80 -j REJECT
COMMIT
*nat
:KUBE-SERVICES - [0:0]
:KUBE-SVC-WEB - [0:0]
:KUBE-SVC-EMPTY - [0:0]
:KUBE-SEP-A - [0:0]
-A KUBE-SERVICES -m comment --comment "default/web: cluster IP" -m tcp -p tcp -d 10.96.0.20/32 --dport 80 ! -s 10.244.0.0/16 -j KUBE-MARK-MASQ
-A KUBE-SERVICES -m comment --comment "default/web: cluster IP" -m tcp -p tcp -d 10.96.0.20/32 --dport 80 -j KUBE-SVC-WEB
-A KUBE-SERVICES -m comment --comment "default/empty: cluster IP" -m tcp -p tcp -d 10.96.7.7/32 --dport 80 -j KUBE-SVC-EMPTY
-A KUBE-NODEPORTS -m comment --comment default/web: -m tcp -p tcp --dport 30080 -j KUBE-MARK-MASQ
-A KUBE-NODEPORTS -m comment --comment default/web: -m tcp -p tcp --dport 30080 -j KUBE-SVC-WEB
-A KUBE-SVC-WEB -m comment --comment default/web: -j KUBE-SEP-A
-A KUBE-SEP-A -m comment --comment default/web: -s 10.244.1.5/32 -j KUBE-MARK-MASQ
-A KUBE-SEP-A -m comment --comment default/web: -m tcp -p tcp -j DNAT --to-destination 10.244.1.5:8080
COMMIT
"""


def test_kube_proxy_before_1_22_masqueraded_in_kube_services():
    # older kube-proxy wrote the "! -s clusterCIDR -j KUBE-MARK-MASQ" rule in KUBE-SERVICES,
    # kept an empty KUBE-SVC chain for a Service without endpoints and REJECTed in filter
    found = by_port(explain(parse(OLD_MASQUERADE)))
    web = found[("default/web:", "tcp")]
    assert web.masquerade_source_outside == IPv4Network("10.244.0.0/16")
    assert web.node_ports == (30080,)
    assert [(str(p.address), p.port, p.share) for p in web.endpoints] == [("10.244.1.5", 8080, 1.0)]
    empty = found[("default/empty:", "tcp")]
    assert empty.reject and empty.endpoints == () and empty.chain == "KUBE-SVC-EMPTY"


def test_hand_written_chain_shows_what_falls_through():
    text = """*nat
-A KUBE-SERVICES -m comment --comment "ns/naive cluster IP" -m tcp -p tcp -d 10.96.0.30 --dport 80 -j KUBE-SVC-N
-A KUBE-SVC-N -m statistic --mode random --probability 0.5 -j KUBE-SEP-A
-A KUBE-SVC-N -m statistic --mode random --probability 0.5 -j KUBE-SEP-B
-A KUBE-SEP-A -m tcp -p tcp -j DNAT --to-destination 10.244.1.2:80
-A KUBE-SEP-B -m tcp -p tcp -j DNAT --to-destination 10.244.1.3:80
COMMIT
"""
    (naive,) = explain(parse(text))
    assert [p.share for p in naive.endpoints] == [0.5, 0.25]
    assert naive.unmatched_share == 0.25
    assert "falls through" in explanations_as_text([naive])


def test_nothing_to_explain():
    assert explain(parse("*filter\nCOMMIT\n")) == ()
    assert explanations_as_json(()) == '{"services": []}'
    assert "no Service ports found" in explanations_as_text(())


# --- the readable table -------------------------------------------------------------------------


def test_text_table():
    explained = explain(dump("kube-proxy-v1.2.iptables-restore.txt"))
    assert explanations_as_text(explained) == (
        "default/hostnames:  tcp 10.0.1.175:80  (KUBE-SVC-NWV5X2332I4OT4T3)\n"
        "    1. 10.244.1.7:9376   33.3330%  --probability 0.33333  -> KUBE-SEP-WNBA2IHDGP2BOBGZ\n"
        "    2. 10.244.2.3:9376   33.3335%  --probability 0.50000  -> KUBE-SEP-X3P2623AGDH6CDF3\n"
        "    3. 10.244.3.6:9376   33.3335%  no probability: takes the rest  -> KUBE-SEP-57KPRZ3JQVENLNBR"
    )


def test_json_is_json():
    data = json.loads(explanations_as_json(explain(dump("node-eu-west-1a.iptables-save.txt")), indent=2))
    assert [s["service_port"] for s in data["services"]][:2] == ["default/kubernetes:https", "kube-system/kube-dns:dns"]
    assert set(data["services"][0]) == {"service_port", "protocol", "cluster_ip", "port", "endpoints", "reject",
                                        "session_affinity_seconds"}


def test_explanation_is_a_value():
    one = ServiceExplanation("a/b", "tcp", IPv4Address("10.96.0.1"), 80)
    assert one == ServiceExplanation("a/b", "tcp", IPv4Address("10.96.0.1"), 80)
    with pytest.raises(AttributeError):
        one.port = 81  # frozen
