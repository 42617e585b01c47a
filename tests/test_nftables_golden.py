"""The nftables generator against kube-proxy's own expected states (pkg/proxy/nftables/proxier_test.go).

The reference data is ``shared/kube-proxy-golden/nftables`` next to the checkout (or
``$K8SNET_GOLDEN_DIR/nftables``): 15 expected states with their inputs as JSON, and 36
object names. Both sides are compared after sorting them as kube-proxy's tests do
(:func:`k8snet_lesson.nftables.normalize`). Stateful cases replay ``prior_syncs`` on one
:class:`~k8snet_lesson.nftables.NodeProxy` first; where kube-proxy's test also counted
the operations of the last (partial) sync's transaction, the model's count must be the same.
"""

from __future__ import annotations

import json

import pytest
from test_kube_proxy_golden import GOLDEN, SKIP_REASON, service_from_json, slice_from_json

from k8snet_lesson import nftables
from k8snet_lesson.nftables import parse as nft_parse

NFT = GOLDEN / "nftables" if GOLDEN else None
CASES = sorted(p.name for p in NFT.glob("nft_*.json")) if NFT and NFT.is_dir() else []
NAMES = json.loads((NFT / "chain_names.json").read_text()) if CASES else []

pytestmark = pytest.mark.skipif(not CASES, reason=SKIP_REASON)


def _canonical(service: dict) -> dict:
    """kube-proxy reads IPs sloppily (leading zeros allowed): canonicalise them first."""
    s = dict(service)
    for field in ("clusterIP",):
        if field in s:
            s[field] = nftables.sloppy_ip(s[field])
    for field in ("externalIPs", "loadBalancerIngressIPs", "loadBalancerSourceRanges"):
        if field in s:
            s[field] = [nftables.sloppy_ip(v) for v in s[field]]
    return s


def _slice(e: dict):
    e = dict(e, endpoints=[dict(x, addresses=[nftables.sloppy_ip(a) for a in x["addresses"]])
                           for x in e["endpoints"]])
    return slice_from_json(e)


def _inputs(step: dict):
    return [service_from_json(_canonical(s)) for s in step["services"]], [_slice(e) for e in step["endpointSlices"]]


def _proxy(case: dict, initial=None) -> nftables.NodeProxy:
    p = case["proxier"]
    assert p["ipFamily"] == "IPv4" and not p["masqueradeAll"]
    return nftables.NodeProxy(node_name=p["hostname"], node_ip=p["nodeIP"], cluster_cidr=p["podCIDR_for_localDetector"],
                              service_cidr=p["serviceCIDRs"].split(","), masquerade_mark=p["masqueradeMark"],
                              initial=initial)


def run_case(case: dict) -> nftables.NodeProxy:
    initial = nft_parse.parse(case["initial_nft_state"], source="initial_nft_state") if "initial_nft_state" in case else None
    proxy = _proxy(case, initial)
    for step in case.get("prior_syncs", ()):
        proxy.sync(*_inputs(step))
        if step.get("then_age_stale_chains"):
            proxy.age_stale_chains()
    proxy.sync(*_inputs(case))
    return proxy


def test_the_reference_data_is_complete():
    assert len(CASES) == 15
    assert len(NAMES) == 36


@pytest.mark.parametrize("name", CASES)
def test_the_state_equals_kube_proxys_expected_state(name):
    case = json.loads((NFT / name).read_text())
    got = run_case(case).state()
    assert nftables.normalize(got) == nftables.normalize(case["expected"])
    assert case["expected"] == (NFT / name.replace(".json", ".expected.txt")).read_text()


@pytest.mark.parametrize("name", CASES)
def test_the_expected_text_parses_to_the_same_state(name):
    case = json.loads((NFT / name).read_text())
    parsed = nft_parse.parse(case["expected"], source=name)
    assert nftables.normalize(parsed) == nftables.normalize(case["expected"])


@pytest.mark.parametrize("entry", NAMES, ids=[f"{e['kind']}:{e['hashed_string'][:60]}" for e in NAMES])
def test_object_names(entry):
    args = (entry["servicePortName"], entry["protocol"], entry.get("endpoint"))
    if entry["kind"] == "base":
        assert nftables.chain_name_base(*args) == entry["expected"]
    else:
        assert nftables.chain_name(entry["kind"], *args) == entry["expected"]


@pytest.mark.parametrize("name", [c for c in CASES if "repeated" in c])
def test_the_last_transaction_is_as_big_as_kube_proxys(name):
    """TestSyncProxyRulesRepeated also counts the operations of each partial sync's transaction."""
    case = json.loads((NFT / name).read_text())
    if not isinstance(case.get("upstream_num_operations"), int):
        pytest.skip("this assertion has no operation count")
    proxy = _proxy(case)
    for step in case["prior_syncs"]:
        proxy.sync(*_inputs(step))
        if step.get("then_age_stale_chains"):
            proxy.age_stale_chains()
    ops = proxy.sync(*_inputs(case))
    assert len(ops) == case["upstream_num_operations"], "\n".join(ops)
