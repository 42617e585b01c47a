"""The course's clusters hold the lesson's facts and the network model's invariants."""

from __future__ import annotations

from ipaddress import IPv4Address, IPv4Network

import pytest

from k8snet_lesson.cluster import Protocol
from k8snet_lesson.endpoints import endpoints_for, slices_for
from k8snet_lesson.errors import InvalidValue
from k8snet_lesson.scenarios import KUBERNETES_LIMITS, lesson_cluster, scaled_cluster, two_node_flow

# Lesson 31, `kubectl get pods -o wide -n production`, with the course's resolution of its
# one inconsistency: 10.244.4.2, the third checkout-api-svc endpoint, is a third checkout-api
# replica, and auth-service (which the lesson prints at 10.244.4.2) has the next free address.
LESSON_PODS = [
    ("checkout-api-6f8b9d-2xkpj", "node-eu-west-1a", "10.244.2.14"),
    ("checkout-api-6f8b9d-7rvqn", "node-eu-west-1b", "10.244.3.7"),
    ("checkout-api-6f8b9d-m5t9w", "node-eu-west-1c", "10.244.4.2"),
    ("payment-api-7d9c4b-xr7nq", "node-eu-west-1a", "10.244.2.15"),
    ("auth-service-5c7d8f-p2rkx", "node-eu-west-1c", "10.244.4.4"),
]


@pytest.mark.parametrize("name, node, ip", LESSON_PODS)
def test_lesson_pods(name, node, ip):
    pod = lesson_cluster().pod(name, "production")
    assert (pod.node_name, str(pod.pod_ip), pod.ready, pod.phase.value) == (node, ip, True, "Running")


def test_lesson_networks_and_services():
    cluster = lesson_cluster()
    assert (str(cluster.node_network), str(cluster.cluster_cidr), str(cluster.service_cidr)) == (
        "192.168.0.0/16", "10.244.0.0/16", "10.96.0.0/12")
    # the lesson's 169.254.1.1 gateway and /32 pod address, then "encapsulates it in VXLAN"
    assert cluster.cni == "calico-vxlan"
    service = cluster.service("checkout-api-svc", "production")
    assert str(service.cluster_ip) == "10.96.214.88"
    assert [(p.port, p.target_port, p.protocol) for p in service.ports] == [(80, 3000, Protocol.TCP)]
    assert str(service.age) == "8 days, 0:00:00"
    # kube-apiserver gives kubernetes.default the first address of the range; kube-dns is the tenth
    assert cluster.service("kubernetes", "default").cluster_ip == cluster.service_cidr[1]
    assert cluster.service("kube-dns", "kube-system").cluster_ip == cluster.service_cidr[10]


def test_lesson_endpoints_are_the_lessons_three():
    endpoints = endpoints_for(lesson_cluster(), "production/checkout-api-svc")
    (subset,) = endpoints.subsets
    assert [f"{a.ip}:{p.port}" for p in subset.ports for a in subset.addresses] == [
        "10.244.2.14:3000", "10.244.3.7:3000", "10.244.4.2:3000"]
    # the resolution of the lesson's inconsistency: every endpoint is a checkout-api pod
    assert [a.target_ref.name for a in subset.addresses] == [
        "checkout-api-6f8b9d-2xkpj", "checkout-api-6f8b9d-7rvqn", "checkout-api-6f8b9d-m5t9w"]
    assert subset.not_ready_addresses == ()


@pytest.mark.parametrize("cluster", [lesson_cluster(), two_node_flow()], ids=["lesson", "two-node"])
def test_network_model_invariants(cluster):
    pod_ips = [p.pod_ip for p in cluster.pods if not p.host_network]
    assert len(pod_ips) == len(set(pod_ips)), "rule 1: every pod gets its own IP"
    for pod in cluster.pods:
        node = cluster.node_of(pod)
        assert pod.pod_ip in node.pod_cidr, f"{pod.key} lies in its node's pod CIDR"
        assert pod.pod_ip in cluster.cluster_cidr
    cidrs = [n.pod_cidr for n in cluster.nodes]
    assert not any(a.overlaps(b) for i, a in enumerate(cidrs) for b in cidrs[i + 1:]), "pod CIDRs never overlap"
    assert all(n.internal_ip in cluster.node_network for n in cluster.nodes)
    assert all(s.cluster_ip in cluster.service_cidr for s in cluster.services)
    networks = [cluster.node_network, cluster.cluster_cidr, cluster.service_cidr]
    assert not any(a.overlaps(b) for i, a in enumerate(networks) for b in networks[i + 1:]), "the three layers are apart"


def test_two_node_flow_facts():
    cluster = two_node_flow()
    assert [(n.name, str(n.internal_ip)) for n in cluster.nodes] == [("node-1", "192.168.0.10"), ("node-2", "192.168.0.11")]
    pod_a = cluster.pod_by_ip("10.244.1.5")
    pod_b = cluster.pod_by_ip("10.244.2.8")
    assert (pod_a.labels["app"], pod_a.node_name) == ("checkout-api", "node-1")
    assert (pod_b.labels["app"], pod_b.node_name) == ("payment-api", "node-2")
    assert cluster.cni == "flannel"
    service = cluster.service_by_ip("10.96.214.88")
    # the DNAT's one target: 10.96.214.88:80 -> 10.244.2.8:3000
    assert service.ports[0].port == 80
    endpoints = [(str(e.address), s.ports[0].port) for s in slices_for(cluster)
                 if s.service_name == service.name for e in s.endpoints]
    assert endpoints == [("10.244.2.8", 3000)]
    assert cluster.service_by_ip("10.96.0.10").name == "kube-dns"


def test_scenarios_are_read_once():
    assert lesson_cluster() is lesson_cluster()
    assert two_node_flow() is two_node_flow()


def test_scaled_cluster_shape():
    cluster = scaled_cluster(services=7, endpoints_per_service=3, nodes=4)
    assert (len(cluster.nodes), len(cluster.pods), len(cluster.services)) == (4, 21, 7)
    for service in cluster.services:
        assert len(endpoints_for(cluster, service).ready_addresses) == 3
    for pod in cluster.pods:
        assert pod.pod_ip in cluster.node_of(pod).pod_cidr
    assert len({p.pod_ip for p in cluster.pods}) == 21


def test_scaled_cluster_beyond_256_nodes_uses_a_wider_cluster_cidr():
    cluster = scaled_cluster(services=1, endpoints_per_service=1, nodes=300)
    assert cluster.cluster_cidr == IPv4Network("10.128.0.0/9")
    assert cluster.nodes[299].pod_cidr == IPv4Network("10.129.43.0/24")
    assert all(n.internal_ip in IPv4Network("192.168.0.0/16") for n in cluster.nodes)
    assert not cluster.cluster_cidr.overlaps(cluster.service_cidr)


@pytest.mark.parametrize(
    "args, message",
    [
        ({"services": -1}, "services -1"),
        ({"nodes": 0}, "nodes 0"),
        ({"services": 300, "endpoints_per_service": 1, "nodes": 1}, "300 pods on 1 nodes"),
        ({"nodes": 40000}, "40000"),
    ],
)
def test_scaled_cluster_refuses_impossible_shapes(args, message):
    with pytest.raises(InvalidValue, match=message):
        scaled_cluster(**args)


@pytest.mark.slow
def test_scaled_cluster_at_kubernetes_limits():
    limits = KUBERNETES_LIMITS
    per_service = limits["pods"] // limits["services"]
    cluster = scaled_cluster(limits["services"], per_service, limits["nodes"])
    assert (len(cluster.nodes), len(cluster.pods), len(cluster.services)) == (5000, 150_000, 10_000)
    assert max(len(cluster.pods_on(n.name)) for n in cluster.nodes[:10]) <= limits["pods_per_node"]
    slices = slices_for(cluster)
    assert len(slices) == 10_000 and sum(len(s.endpoints) for s in slices) == 150_000
    assert slices[-1].endpoints[-1].address == IPv4Address(cluster.pods[-1].pod_ip)
