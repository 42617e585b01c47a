"""Cluster DNS: CoreDNS's answers, the kubelet's resolv.conf, and the resolver's search list.

Facts used (sources):
- kubeadm gives kube-dns the tenth address of --service-cluster-ip-range (10.96.0.10 for
  10.96.0.0/12); the kubelet writes "search <ns>.svc.cluster.local svc.cluster.local
  cluster.local", "nameserver <cluster-dns>", "options ndots:5" (Kubernetes "DNS for
  Services and Pods"; containerd writes search, nameserver, options in that order).
- CoreDNS kubernetes plugin: <svc>.<ns>.svc.<zone> is the ClusterIP whatever the endpoints;
  a headless Service answers its ready endpoints' addresses and NXDOMAIN without any;
  <ip-dashed or hostname>.<svc>.<ns>.svc.<zone> is one endpoint; a-b-c-d.<ns>.pod.<zone> is
  that address ("pods insecure"); <ns>.svc.<zone> is NODATA for an existing namespace;
  PTR: a ClusterIP names its Service, an endpoint only when it has a hostname.
- musl's resolver: fewer dots than ndots -> search domains first, the name as written
  last; ndots dots or more, or a trailing dot -> the name only.
"""

from __future__ import annotations

from ipaddress import IPv4Address

import pytest
from hypothesis import given
from hypothesis import strategies as st

from k8snet_lesson import dns
from k8snet_lesson.cluster import (
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
from k8snet_lesson.errors import InvalidValue

IP = IPv4Address


def cluster() -> Cluster:
    nodes = (
        Node("node-eu-west-1a", "192.168.0.10", "10.244.2.0/24"),
        Node("node-eu-west-1b", "192.168.0.11", "10.244.3.0/24"),
    )
    app = (Container("checkout-api", ports=(ContainerPort(3000),)),)
    pods = (
        Pod("production", "checkout-api-6f8b9d-2xkpj", labels={"app": "checkout-api"}, node_name="node-eu-west-1a", pod_ip="10.244.2.14", containers=app),
        Pod("production", "checkout-api-6f8b9d-7rvqn", labels={"app": "checkout-api"}, node_name="node-eu-west-1b", pod_ip="10.244.3.7", containers=app),
        Pod("production", "db-0", labels={"app": "db"}, node_name="node-eu-west-1a", pod_ip="10.244.2.20", containers=app),
        Pod("production", "db-1", labels={"app": "db"}, node_name="node-eu-west-1b", pod_ip="10.244.3.21", containers=app, ready=False),
    )
    services = (
        Service("production", "checkout-api-svc", ports=(ServicePort(80, 3000),), selector={"app": "checkout-api"}, cluster_ip="10.96.214.88"),
        Service("production", "db", ports=(ServicePort(5432, 3000),), selector={"app": "db"}),  # headless
        Service("production", "empty", ports=(ServicePort(80, 3000),), selector={"app": "nothing"}, cluster_ip="10.96.5.5"),
        Service("production", "empty-headless", ports=(ServicePort(80, 3000),), selector={"app": "nothing"}),
        Service("production", "kafka", ports=(ServicePort(9092),)),  # headless, endpoints by hand
    )
    kafka = EndpointSlice(
        "production", "kafka-abcde", "kafka",
        endpoints=(Endpoint((IP("10.244.2.30"),), hostname="kafka-0"), Endpoint((IP("10.244.3.31"),))),
        ports=(EndpointPort(9092),),
        managed_by="staff",
    )
    return dns.with_cluster_dns(Cluster(nodes=nodes, pods=pods, services=services, endpoint_slices=(kafka,)))


@pytest.mark.parametrize(
    "service_cidr, expected",
    [
        ("10.96.0.0/12", "10.96.0.10"),  # kubeadm's default, the lesson's Server line
        ("10.100.0.0/16", "10.100.0.10"),  # EKS
        ("172.20.0.0/16", "172.20.0.10"),
        ("10.43.0.0/16", "10.43.0.10"),  # k3s
    ],
)
def test_the_nameserver_is_the_tenth_address_of_the_service_range(service_cidr, expected):
    assert dns.nameserver(Cluster(service_cidr=service_cidr)) == IP(expected)


@pytest.mark.parametrize("namespace", ["production", "default", "kube-system"])
def test_resolv_conf_as_the_kubelet_writes_it(namespace):
    text = str(dns.resolv_conf(Cluster(), Pod(namespace, "p")))
    assert text == (
        f"search {namespace}.svc.cluster.local svc.cluster.local cluster.local\n"
        "nameserver 10.96.0.10\n"
        "options ndots:5"
    )


def test_resolv_conf_follows_the_cluster_domain():
    conf = dns.resolv_conf(Cluster(dns_domain="corp.example", service_cidr="10.100.0.0/16"), Pod("shop", "p"))
    assert conf.search == ("shop.svc.corp.example", "svc.corp.example", "corp.example")
    assert conf.nameservers == (IP("10.100.0.10"),)


CONF = dns.ResolvConf((IP("10.96.0.10"),), ("production.svc.cluster.local", "svc.cluster.local", "cluster.local"))


@pytest.mark.parametrize(
    "name, expected",
    [
        ("checkout-api-svc", [
            "checkout-api-svc.production.svc.cluster.local",
            "checkout-api-svc.svc.cluster.local",
            "checkout-api-svc.cluster.local",
            "checkout-api-svc",
        ]),
        ("checkout-api-svc.production", [
            "checkout-api-svc.production.production.svc.cluster.local",
            "checkout-api-svc.production.svc.cluster.local",
            "checkout-api-svc.production.cluster.local",
            "checkout-api-svc.production",
        ]),
        # four dots is fewer than ndots:5, so even the full name goes through the search list first
        ("checkout-api-svc.production.svc.cluster.local", [
            "checkout-api-svc.production.svc.cluster.local.production.svc.cluster.local",
            "checkout-api-svc.production.svc.cluster.local.svc.cluster.local",
            "checkout-api-svc.production.svc.cluster.local.cluster.local",
            "checkout-api-svc.production.svc.cluster.local",
        ]),
        ("checkout-api-svc.production.svc.cluster.local.", ["checkout-api-svc.production.svc.cluster.local"]),
        ("a.b.c.d.e.f", ["a.b.c.d.e.f"]),  # five dots: tried as written only
    ],
)
def test_search_list_and_ndots(name, expected):
    assert list(dns.search_names(name, CONF)) == expected


@pytest.mark.parametrize("bad", ["", ".", "a..b", ".a"])
def test_bad_names_are_refused_naming_the_value(bad):
    with pytest.raises(InvalidValue, match="is not a DNS name"):
        dns.search_names(bad, CONF)


@given(st.lists(st.from_regex(r"[a-z][a-z0-9-]{0,10}", fullmatch=True), min_size=1, max_size=7), st.integers(1, 6))
def test_search_names_properties(labels, ndots):
    name = ".".join(labels)
    conf = dns.ResolvConf(CONF.nameservers, CONF.search, ndots)
    names = dns.search_names(name, conf)
    assert names[-1] == name  # the name as written is always tried, and last
    if name.count(".") >= ndots:
        assert names == (name,)
    else:
        assert names[:-1] == tuple(f"{name}.{d}" for d in conf.search)


@pytest.mark.parametrize(
    "name, rcode, addresses",
    [
        ("checkout-api-svc.production.svc.cluster.local", "NOERROR", ["10.96.214.88"]),
        ("CHECKOUT-API-SVC.Production.svc.cluster.local.", "NOERROR", ["10.96.214.88"]),  # DNS is case-insensitive
        ("kube-dns.kube-system.svc.cluster.local", "NOERROR", ["10.96.0.10"]),
        ("empty.production.svc.cluster.local", "NOERROR", ["10.96.5.5"]),  # a ClusterIP with no endpoints still resolves
        ("db.production.svc.cluster.local", "NOERROR", ["10.244.2.20"]),  # headless: ready endpoints only
        ("empty-headless.production.svc.cluster.local", "NXDOMAIN", []),
        ("kafka.production.svc.cluster.local", "NOERROR", ["10.244.2.30", "10.244.3.31"]),
        ("kafka-0.kafka.production.svc.cluster.local", "NOERROR", ["10.244.2.30"]),
        ("10-244-3-31.kafka.production.svc.cluster.local", "NOERROR", ["10.244.3.31"]),
        ("10-244-2-14.checkout-api-svc.production.svc.cluster.local", "NOERROR", ["10.244.2.14"]),
        ("kafka-9.kafka.production.svc.cluster.local", "NXDOMAIN", []),
        ("10-244-2-14.production.pod.cluster.local", "NOERROR", ["10.244.2.14"]),
        ("10-1-2-3.production.pod.cluster.local", "NOERROR", ["10.1.2.3"]),  # pods insecure: not checked
        ("production.svc.cluster.local", "NOERROR", []),  # NODATA
        ("svc.cluster.local", "NOERROR", []),
        ("cluster.local", "NOERROR", []),
        ("nosuch.production.svc.cluster.local", "NXDOMAIN", []),
        ("checkout-api-svc.staging.svc.cluster.local", "NXDOMAIN", []),  # no such namespace
        ("staging.svc.cluster.local", "NXDOMAIN", []),
        ("checkout-api-svc.production.svc.cluster.local.production.svc.cluster.local", "NXDOMAIN", []),
        ("checkout-api-svc.cluster.local", "NXDOMAIN", []),
        ("example.com", "NXDOMAIN", []),  # forwarded upstream; the model's upstream knows no names
    ],
)
def test_coredns_answers(name, rcode, addresses):
    answer = dns.lookup(cluster(), name)
    assert (answer.rcode.value, [str(a) for a in answer.addresses]) == (rcode, addresses)


@pytest.mark.parametrize(
    "address, expected",
    [
        ("10.96.214.88", "checkout-api-svc.production.svc.cluster.local"),
        ("10.96.0.10", "kube-dns.kube-system.svc.cluster.local"),
        ("10.244.2.30", "kafka-0.kafka.production.svc.cluster.local"),  # an endpoint with a hostname
        ("10.244.3.31", None),  # an endpoint without one has no PTR in current CoreDNS
        ("10.244.2.14", None),
        ("192.0.2.1", None),
    ],
)
def test_reverse_lookups(address, expected):
    assert dns.reverse(cluster(), address) == expected


def test_the_dns_add_on_is_kubeadms():
    c = cluster()
    service = dns.dns_service(c)
    assert (service.key, service.cluster_ip, service.selector) == ("kube-system/kube-dns", IP("10.96.0.10"), {"k8s-app": "kube-dns"})
    assert [(p.name, p.port, p.protocol.value) for p in service.ports] == [("dns", 53, "UDP"), ("dns-tcp", 53, "TCP"), ("metrics", 9153, "TCP")]
    coredns = [p for p in c.pods if service.selects(p)]
    assert len(coredns) == 2 and {p.node_name for p in coredns} == {"node-eu-west-1a", "node-eu-west-1b"}
    for pod in coredns:  # each IP in its node's podCIDR, none taken twice
        assert pod.pod_ip in c.node(pod.node_name).pod_cidr
    assert len({p.pod_ip for p in c.pods}) == len(c.pods)
    assert set(dns.dns_endpoints(c)) == {p.pod_ip for p in coredns}
    assert dns.with_cluster_dns(c) is c  # already there: unchanged


def test_dns_has_no_endpoints_when_coredns_is_not_ready():
    c = cluster()
    broken = c.with_(pods=tuple(p.with_ready(False) if p.namespace == "kube-system" else p for p in c.pods))
    assert dns.dns_endpoints(broken) == ()
    assert dns.dns_endpoints(Cluster()) == ()  # no kube-dns Service at all
    # CoreDNS still answers nothing different: the ClusterIP record does not depend on endpoints
    assert dns.lookup(broken, "checkout-api-svc.production.svc.cluster.local").found


def test_with_cluster_dns_needs_a_node():
    with pytest.raises(InvalidValue, match="no node with a podCIDR"):
        dns.with_cluster_dns(Cluster())
    with pytest.raises(InvalidValue, match="replicas"):
        dns.with_cluster_dns(Cluster(nodes=(Node("n", "192.168.0.1", "10.244.0.0/24"),)), replicas=0)


def test_resolve_sends_the_search_list_until_the_first_noerror():
    c = cluster()
    client = c.pod("production/db-0")
    short = dns.resolve(c, client, "checkout-api-svc")
    assert [a.name for a in short.answers] == ["checkout-api-svc.production.svc.cluster.local"]
    assert short.addresses == (IP("10.96.214.88"),) and not short.timed_out
    # the full name, four dots < ndots:5: three NXDOMAINs before the name as written answers
    full = dns.resolve(c, client, "checkout-api-svc.production.svc.cluster.local")
    assert [a.rcode.value for a in full.answers] == ["NXDOMAIN", "NXDOMAIN", "NXDOMAIN", "NOERROR"]
    assert full.fqdn == "checkout-api-svc.production.svc.cluster.local"
    # a namespace's own name is NODATA, and musl stops there with no address
    nodata = dns.resolve(c, client, "production")
    assert [a.name for a in nodata.answers] == ["production.production.svc.cluster.local", "production.svc.cluster.local"]
    assert not nodata.ok


def test_resolve_times_out_when_no_coredns_pod_is_ready():
    c = cluster()
    down = c.with_(pods=tuple(p.with_ready(False) if p.namespace == "kube-system" else p for p in c.pods))
    result = dns.resolve(down, down.pod("production/db-0"), "checkout-api-svc")
    assert result.timed_out and result.answers == () and not result.ok
    assert "kube-system/kube-dns has no endpoints" in result.reason
