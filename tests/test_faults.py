"""Faults as values: each changes exactly what its line says, and the fix gives the healthy cluster back.

(That the debugging ladder finds each fault, and passes once it is fixed, is in
test_ladder.py.)
"""

from __future__ import annotations

from ipaddress import IPv4Address, IPv4Network

import pytest

from k8snet_lesson import dns, faults
from k8snet_lesson.cluster import (
    LOOPBACK,
    Cluster,
    Container,
    ContainerPort,
    Endpoint,
    EndpointPort,
    EndpointSlice,
    Node,
    Pod,
    Service,
    ServicePort,
)
from k8snet_lesson.endpoints import endpoints_for
from k8snet_lesson.errors import InvalidValue, NotFound

SERVICE = "production/checkout-api-svc"
CLIENT = "production/debug-pod"
BACKENDS = ("checkout-api-6f8b9d-2xkpj", "checkout-api-6f8b9d-7rvqn", "checkout-api-6f8b9d-k4m2p")


def healthy() -> Cluster:
    """Three nodes, three checkout-api pods behind checkout-api-svc (80 -> 3000), CoreDNS, a debug pod."""
    nodes = tuple(Node(f"node-eu-west-1{z}", f"192.168.0.{10 + i}", f"10.244.{2 + i}.0/24") for i, z in enumerate("abc"))
    app = (Container("checkout-api", ports=(ContainerPort(3000, "http"),), image="registry.example.com/checkout-api:1.4.2"),)
    pods = tuple(
        Pod("production", name, labels={"app": "checkout-api", "pod-template-hash": "6f8b9d"}, node_name=node, pod_ip=ip, containers=app)
        for name, node, ip in zip(BACKENDS, ("node-eu-west-1a", "node-eu-west-1b", "node-eu-west-1c"), ("10.244.2.14", "10.244.3.7", "10.244.4.2"))
    ) + (Pod("production", "debug-pod", labels={"run": "debug-pod"}, node_name="node-eu-west-1c", pod_ip="10.244.4.9",
             containers=(Container("debug-pod", image="nicolaka/netshoot"),)),)
    service = Service("production", "checkout-api-svc", ports=(ServicePort(80, 3000),), selector={"app": "checkout-api"}, cluster_ip="10.96.214.88")
    return dns.with_cluster_dns(Cluster(nodes=nodes, pods=pods, services=(service,), cni="calico"))


def broken(name: str, **kw) -> faults.Broken:
    return faults.inject(healthy(), name, service=SERVICE, client=CLIENT, **kw)


def test_at_least_eight_faults_each_with_one_line_a_layer_and_a_fix():
    assert len(faults.FAULTS) >= 8
    for name, f in faults.FAULTS.items():
        assert f.name == name and "\n" not in f.summary and f.summary and f.fix
        assert isinstance(f.layer, faults.Layer)
    assert {"coredns-down", "selector-mismatch", "readiness-failing", "wrong-target-port", "bound-to-localhost",
            "nothing-listening", "network-policy-deny", "kube-proxy-stale", "cidr-overlap"} <= set(faults.FAULTS)


def test_an_unknown_fault_is_named_with_the_list():
    with pytest.raises(NotFound, match=r"no fault 'dns-down' \(faults: coredns-down, kube-proxy-stale, "):
        faults.fault("dns-down")
    with pytest.raises(NotFound, match="no fault 'nope'"):
        faults.inject(healthy(), ["bound-to-localhost", "nope"], service=SERVICE, client=CLIENT)


@pytest.mark.parametrize("name", sorted(faults.FAULTS))
def test_every_fault_changes_the_cluster_and_its_fix_is_the_healthy_cluster(name):
    result = broken(name)
    assert result.cluster != result.healthy
    assert result.fixed() == healthy()
    assert result.faults == (name,)


def test_coredns_down_leaves_kube_dns_without_endpoints():
    c = broken("coredns-down").cluster
    assert dns.dns_endpoints(c) == ()
    kube_dns = endpoints_for(c, "kube-system/kube-dns")
    assert kube_dns.ready_addresses == () and len(kube_dns.not_ready_addresses) == 2


def test_selector_mismatch_is_the_lessons_quiz_question():
    c = broken("selector-mismatch").cluster
    assert c.service(SERVICE).selector == {"app": "checkout-api"}
    assert {c.pod(n, "production").labels["app"] for n in BACKENDS} == {"checkout"}
    assert endpoints_for(c, SERVICE).subsets == ()  # kubectl get endpoints: <none>


def test_readiness_failing_moves_addresses_to_not_ready():
    e = endpoints_for(broken("readiness-failing").cluster, SERVICE)
    assert e.ready_addresses == ()
    assert sorted(map(str, e.not_ready_addresses)) == ["10.244.2.14", "10.244.3.7", "10.244.4.2"]


def test_a_pod_fault_can_hit_one_endpoint_of_three():
    e = endpoints_for(broken("readiness-failing", pod=BACKENDS[0]).cluster, SERVICE)
    assert [str(a) for a in e.not_ready_addresses] == ["10.244.2.14"]
    assert sorted(map(str, e.ready_addresses)) == ["10.244.3.7", "10.244.4.2"]
    with pytest.raises(NotFound, match=r"pod 'payment' is not a backend of service production/checkout-api-svc \(backends: checkout-api-6f8b9d-2xkpj, "):
        broken("bound-to-localhost", pod="payment")


def test_wrong_target_port_points_the_service_elsewhere():
    c = broken("wrong-target-port").cluster
    assert c.service(SERVICE).ports[0].target_port == 8080
    assert {p.port for s in endpoints_for(c, SERVICE).subsets for p in s.ports} == {8080}
    assert all(c.pod(n, "production").containers == healthy().pod(n, "production").containers for n in BACKENDS)


@pytest.mark.parametrize(
    "name, sockets",
    [
        ("bound-to-localhost", [(LOOPBACK, 3000)]),
        ("nothing-listening", []),
        ("app-wrong-port", [(IPv4Address("0.0.0.0"), 8080)]),
    ],
)
def test_app_faults_change_where_the_app_listens_not_what_it_declares(name, sockets):
    c = broken(name).cluster
    for n in BACKENDS:
        container = c.pod(n, "production").containers[0]
        assert [(a, p) for (a, p, _) in container.listening] == sockets
        assert [p.container_port for p in container.ports] == [3000]


def test_network_policy_admits_only_frontend_pods():
    c = broken("network-policy-deny").cluster
    (policy,) = c.network_policies
    client, server = c.pod(CLIENT), c.pod(BACKENDS[0], "production")
    assert policy.applies_to(server) and not policy.allows(client, server)
    assert policy.allows(client.with_labels({"role": "frontend"}), server)


def test_kube_proxy_stale_is_on_the_clients_node_only():
    c = broken("kube-proxy-stale").cluster
    assert [n.name for n in c.nodes if not n.kube_proxy_synced] == ["node-eu-west-1c"]
    with pytest.raises(InvalidValue, match="predates any kube-proxy outage"):
        faults.inject(healthy(), "kube-proxy-stale", service="kube-system/kube-dns", client=CLIENT)


def test_cidr_overlap_folds_the_pod_network_into_the_service_range():
    c = broken("cidr-overlap").cluster
    assert c.cluster_cidr == IPv4Network("10.96.0.0/16") and c.cluster_cidr.overlaps(c.service_cidr)
    # every pod keeps its place: same node, same host part, inside its node's new podCIDR
    for pod in c.pods:
        before = healthy().pod(pod.name, pod.namespace).pod_ip
        assert int(pod.pod_ip) - int(c.cluster_cidr.network_address) == int(before) - int(healthy().cluster_cidr.network_address)
        assert pod.pod_ip in c.node(pod.node_name).pod_cidr
    victim = c.pod(BACKENDS[0], "production")
    shadow = c.service_by_ip(victim.pod_ip)
    assert shadow is not None and shadow.key == "production/legacy-checkout-api-svc"
    assert [(p.port, p.target_port) for p in shadow.ports] == [(3000, 3000)]


def test_controller_slices_are_rederived_and_hand_made_ones_kept():
    stale = EndpointSlice("production", "checkout-api-svc-x7k2p", "checkout-api-svc",
                          (Endpoint((IPv4Address("10.244.2.14"),)),), (EndpointPort(3000),))
    by_hand = EndpointSlice("production", "external-db-1", "external-db", (Endpoint((IPv4Address("192.0.2.7"),)),),
                            (EndpointPort(5432),), managed_by="staff")
    start = healthy().with_endpoint_slice(stale).with_endpoint_slice(by_hand).with_service(
        Service("production", "external-db", ports=(ServicePort(5432),), cluster_ip="10.96.7.7"))
    result = faults.inject(start, "readiness-failing", service=SERVICE, client=CLIENT)
    assert result.cluster.endpoint_slices == (by_hand,)
    assert endpoints_for(result.cluster, SERVICE).ready_addresses == ()


def test_two_faults_apply_in_registry_order_and_fix_one_at_a_time():
    a = faults.inject(healthy(), ["bound-to-localhost", "coredns-down"], service=SERVICE, client=CLIENT)
    b = faults.inject(healthy(), ["coredns-down", "bound-to-localhost"], service=SERVICE, client=CLIENT)
    assert a == b and a.faults == ("coredns-down", "bound-to-localhost")
    assert a.without("coredns-down") == broken("bound-to-localhost").cluster
    assert a.without("bound-to-localhost") == broken("coredns-down").cluster
    with pytest.raises(NotFound, match="fault 'cidr-overlap' is not injected here"):
        a.without("cidr-overlap")


@pytest.mark.parametrize(
    "kwargs, error, message",
    [
        (dict(service="production/nope", client=CLIENT), NotFound, "no service 'nope' in namespace 'production'"),
        (dict(service=SERVICE, client="production/nobody"), NotFound, "no pod 'nobody'"),
    ],
)
def test_targets_that_do_not_exist_are_named(kwargs, error, message):
    with pytest.raises(error, match=message):
        faults.inject(healthy(), "bound-to-localhost", **kwargs)


def test_faults_refuse_clusters_they_cannot_break():
    bare = Cluster(nodes=(Node("n", "192.168.0.1", "10.244.0.0/24"),),
                   pods=(Pod("default", "c", node_name="n", pod_ip="10.244.0.5"),),
                   services=(Service("default", "s", ports=(ServicePort(80),), selector={"app": "s"}, cluster_ip="10.96.0.50"),))
    with pytest.raises(InvalidValue, match="no kube-system/kube-dns Service"):
        faults.inject(bare, "coredns-down", service="default/s", client="default/c")
    with pytest.raises(InvalidValue, match="selects no pod"):
        faults.inject(bare, "bound-to-localhost", service="default/s", client="default/c")
