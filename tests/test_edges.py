"""The facts at the edges of issue 12 (items 10 and 11), each checked against the upstream
source it follows (kubernetes/kubernetes unless said otherwise)."""

from __future__ import annotations

import json
from ipaddress import IPv4Address

import pytest

from k8snet_lesson.cli import main
from k8snet_lesson.cluster import Cluster, Node, Pod, Service, ServicePort
from k8snet_lesson.endpoints import (
    ENDPOINTS_MAX_CAPACITY,
    Endpoints,
    EndpointSubset,
    endpoints_for,
    slice_name,
    slices_for,
)
from k8snet_lesson.manifests import dumps, loads
from k8snet_lesson.view.kubectl import get_pods

from test_kube_proxy_golden import CASES, GOLDEN, generate_case, service_from_json, slice_from_json

# --- item 10: pkg/proxy/iptables/proxier.go writes "--random-fully" on the MASQUERADE
# rule when iptables.HasRandomFully() (iptables 1.6.2+); the unit tests' fake lacks it.

LESSON = "data/lesson-cluster.yaml"
MASQUERADE = '-A KUBE-POSTROUTING -m comment --comment "kubernetes service traffic requiring SNAT" -j MASQUERADE'


def _rules(capsys, *argv: str) -> str:
    assert main(["rules", *argv]) == 0
    return capsys.readouterr().out


def test_rules_carry_random_fully_by_default_as_the_sample_node_dump_does(capsys):
    out = _rules(capsys, LESSON, "--node", "node-eu-west-1a")
    assert MASQUERADE + " --random-fully\n" in out
    dump = open("data/dumps/node-eu-west-1a.iptables-save.txt").read()
    assert MASQUERADE + " --random-fully" in dump  # a real node's dump shows it
    assert MASQUERADE + " --random-fully\n" in _rules(capsys, LESSON, "--node", "node-eu-west-1a", "--form", "save")


def test_no_random_fully_leaves_it_out(capsys):
    out = _rules(capsys, LESSON, "--node", "node-eu-west-1a", "--no-random-fully")
    assert MASQUERADE + "\n" in out and "--random-fully" not in out


GOLDEN_CLI = [c for c in CASES if c.startswith("v128_") and "partial" not in c]


@pytest.mark.skipif(GOLDEN is None, reason="kube-proxy's golden files are not here")
@pytest.mark.parametrize("name", GOLDEN_CLI)
def test_the_command_with_no_random_fully_reproduces_kube_proxys_expected_output(capsys, tmp_path, name):
    case = json.loads((GOLDEN / name).read_text())
    proxier = case["proxier"]
    cluster = Cluster(services=tuple(service_from_json(s) for s in case["services"]),
                      endpoint_slices=tuple(slice_from_json(e) for e in case["endpointSlices"]))
    manifest = tmp_path / "case.yaml"
    manifest.write_text(dumps(cluster))
    out = _rules(capsys, str(manifest), "--node", proxier["hostname"], "--node-ip", proxier["nodeIP"],
                 "--cluster-cidr", proxier["podCIDR_for_localDetector"], "--no-random-fully")
    assert out == case["expected"] == str(generate_case(case))  # byte for byte


# --- item 11 ---------------------------------------------------------------------------

def test_a_slice_name_keeps_within_63_characters():
    # generateName "<service>-": SimpleNameGenerator (staging/src/k8s.io/apiserver/pkg/
    # storage/names/generate.go) cuts the base to 58 characters, then adds 5 random ones.
    long = Service("default", "s" * 63, selector={"app": "web"}, cluster_ip="10.96.0.20", ports=(ServicePort(80),))
    name = slice_name(long, "x")
    assert len(name) == 63 and name.startswith("s" * 58) and "-" not in name
    short = Service("default", "web", cluster_ip="10.96.0.21")
    assert slice_name(short, "x").startswith("web-") and len(slice_name(short, "x")) == 9
    (placeholder,) = slices_for(Cluster(services=(long,)))
    assert len(placeholder.name) == 63


NODE = Node("node-a", "192.168.0.10", pod_cidr="10.244.1.0/24")
WEB = Service("default", "web", selector={"app": "web"}, cluster_ip="10.96.0.20", ports=(ServicePort(80, 8080),))


@pytest.mark.parametrize("host_network", [False, True])
def test_a_pod_without_an_ip_is_no_endpoint_and_shows_none(host_network):
    # ShouldPodBeInEndpoints (pkg/controller/util/endpoint/controller_utils.go) skips a pod
    # with neither status.podIP nor podIPs; kubectl's IP column prints <none>
    # (printPod, pkg/printers/internalversion/printers.go).
    pod = Pod("default", "web-1", labels={"app": "web"}, node_name="node-a", host_network=host_network,
              phase="Running", ready=True)
    cluster = Cluster(nodes=(NODE,), pods=(pod,), services=(WEB,))
    assert endpoints_for(cluster, WEB).subsets == ()
    assert all(not s.endpoints for s in slices_for(cluster))
    assert get_pods(cluster, "default", wide=True).splitlines()[1].split()[5] == "<none>"


def test_a_host_network_pod_read_from_a_manifest_needs_its_pod_ip():
    text = """apiVersion: v1
kind: Node
metadata: {name: node-a}
status: {addresses: [{type: InternalIP, address: 192.168.0.10}]}
---
apiVersion: v1
kind: Pod
metadata: {name: proxy, namespace: default, labels: {app: web}}
spec: {nodeName: node-a, hostNetwork: true, containers: [{name: p}]}
status: {phase: Running}
"""
    cluster = loads(text)
    assert cluster.pods[0].pod_ip is None
    ready = loads(text.replace("{phase: Running}", "{phase: Running, podIP: 192.168.0.10}"))
    service = WEB.with_(ports=(ServicePort(80),))
    assert endpoints_for(cluster.with_(services=(service,)), service).subsets == ()
    (subset,) = endpoints_for(ready.with_(services=(service,)), service).subsets
    assert [a.ip for a in subset.addresses] == [IPv4Address("192.168.0.10")]


def test_over_capacity_truncation_rounds_up_in_floating_point():
    # truncateEndpoints (pkg/controller/endpoint/endpoints_controller.go):
    # int(math.Ceil((float64(numInSubset) / float64(numTotal)) * float64(max))).
    # 900 ready and 125 not ready addresses: 100 not-ready places; a subset with 35 of
    # the 125 keeps ceil(0.28 * 100) = ceil(28.000000000000004) = 29 (integer arithmetic
    # would say 28), and the other subset the 71 left.
    from k8snet_lesson.endpoints import _truncate

    def addresses(n: int, base: int) -> tuple:
        from k8snet_lesson.endpoints import EndpointAddress

        return tuple(EndpointAddress(IPv4Address(base + i)) for i in range(n))

    first = EndpointSubset(addresses(900, 0x0AF40000), addresses(35, 0x0AF50000), ())
    second = EndpointSubset((), addresses(90, 0x0AF60000), ())
    (kept_first, kept_second), truncated = _truncate((first, second))
    assert truncated
    assert len(kept_first.addresses) == 900 and len(kept_first.not_ready_addresses) == 29
    assert len(kept_second.not_ready_addresses) == 71
    assert 900 + 29 + 71 == ENDPOINTS_MAX_CAPACITY
    assert isinstance(Endpoints("default", "web", (kept_first, kept_second)), Endpoints)
