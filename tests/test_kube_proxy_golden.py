"""The generator against kube-proxy's own expected outputs (pkg/proxy/iptables/proxier_test.go).

The reference data lives outside the package, in ``shared/kube-proxy-golden`` next to
the checkout (or wherever ``K8SNET_GOLDEN_DIR`` points): 13 upstream unit tests with
their inputs written out as JSON and the expected ``iptables-restore`` input, and 61
chain names. Each JSON input is converted here into the model's Service and
EndpointSlice values and generated with the proxier settings the test used.
"""

from __future__ import annotations

import json

import pytest

from k8snet_lesson import iptables, kube_proxy
from k8snet_lesson.cluster import (
    Endpoint,
    EndpointConditions,
    EndpointPort,
    EndpointSlice,
    Service,
    ServicePort,
)

from golden_data import GOLDEN, SKIP_REASON

CASES = sorted(p.name for p in GOLDEN.glob("*.json") if p.name != "chain_names.json") if GOLDEN else []
CHAIN_NAMES = json.loads((GOLDEN / "chain_names.json").read_text()) if GOLDEN else []

pytestmark = pytest.mark.skipif(GOLDEN is None, reason=SKIP_REASON)


def service_from_json(s: dict) -> Service:
    return Service(
        s["namespace"],
        s["name"],
        type=s.get("type", "ClusterIP"),
        cluster_ip=s.get("clusterIP"),
        ports=tuple(
            ServicePort(p["port"], p.get("targetPort"), name=p.get("name", ""), protocol=p.get("protocol", "TCP"),
                        node_port=p.get("nodePort"))
            for p in s["ports"]
        ),
        external_traffic_policy=s.get("externalTrafficPolicy", "Cluster"),
        internal_traffic_policy=s.get("internalTrafficPolicy", "Cluster"),
        external_ips=tuple(s.get("externalIPs", ())),
        load_balancer_ips=tuple(s.get("loadBalancerIngressIPs", ())),
        load_balancer_source_ranges=tuple(s.get("loadBalancerSourceRanges", ())),
        health_check_node_port=s.get("healthCheckNodePort"),
        session_affinity=s.get("sessionAffinity", "None"),
        session_affinity_timeout=s.get("sessionAffinityTimeoutSeconds", 10800),
    )


def slice_from_json(e: dict) -> EndpointSlice:
    # Conditions left out mean ready=true, serving=true, terminating=false (the README's words).
    endpoints = tuple(
        Endpoint(tuple(x["addresses"]), EndpointConditions(**x.get("conditions", {})), node_name=x.get("nodeName"))
        for x in e["endpoints"]
    )
    ports = tuple(EndpointPort(p["port"], p.get("name", ""), p.get("protocol", "TCP")) for p in e["ports"])
    return EndpointSlice(e["namespace"], e["name"], e["serviceName"], endpoints, ports, address_type=e["addressType"])


def generate_case(case: dict):
    proxier = case["proxier"]
    assert proxier["ipFamily"] == "IPv4" and proxier["nodePortAddresses"] is None and not proxier["masqueradeAll"]
    kw = {}
    if "partial_sync" in case:
        kw["changed_services"] = case["partial_sync"]["changed_services"]
    return kube_proxy.generate(
        [service_from_json(s) for s in case["services"]],
        [slice_from_json(e) for e in case["endpointSlices"]],
        node_name=proxier["hostname"],
        node_ip=proxier["nodeIP"],
        cluster_cidr=proxier["podCIDR_for_localDetector"],
        masquerade_mark=proxier["masqueradeMark"],
        localhost_nodeports=proxier["localhostNodePorts"],
        nfacct=proxier["nfacct_counters"],
        random_fully=False,  # kube-proxy's fake iptables lacks --random-fully
        **kw,
    )


def test_the_reference_data_is_complete():
    assert len(CASES) == 13
    assert len(CHAIN_NAMES) == 61


@pytest.mark.parametrize("name", CASES)
def test_generate_reproduces_kube_proxys_expected_restore_input(name):
    case = json.loads((GOLDEN / name).read_text())
    got = str(generate_case(case))  # iptables-restore text, as kube-proxy writes it
    assert got == case["expected"]
    # The .expected.txt beside the JSON holds the same text.
    text_file = GOLDEN / name.replace(".json", ".expected.txt")
    assert got == text_file.read_text()


@pytest.mark.parametrize("name", CASES)
def test_the_golden_sets_are_already_in_canonical_order(name):
    ruleset = generate_case(json.loads((GOLDEN / name).read_text()))
    assert kube_proxy.canonical_order(ruleset) == ruleset


@pytest.mark.parametrize("name", CASES)
def test_the_expected_text_parses_back_to_what_generate_returns(name):
    case = json.loads((GOLDEN / name).read_text())
    assert iptables.parse(case["expected"], source=name) == generate_case(case)


@pytest.mark.parametrize(
    "entry", CHAIN_NAMES, ids=[f"{e['kind']}:{e['servicePortName']}:{e.get('endpoint', '')}" for e in CHAIN_NAMES]
)
def test_chain_names(entry):
    assert kube_proxy.chain_name(entry["kind"], entry["servicePortName"], entry["protocol"],
                                 entry.get("endpoint")) == entry["expected"]
