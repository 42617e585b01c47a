"""Cluster DNS at its edges (issue 12, item 13): ExternalName CNAMEs, SRV names, and
glibc's resolver beside musl's. Each test names the source it follows."""

from __future__ import annotations

from ipaddress import IPv4Address

import pytest

from k8snet_lesson import dns, scenarios
from k8snet_lesson.cluster import Cluster, Endpoint, EndpointPort, EndpointSlice, Service, ServicePort
from k8snet_lesson.dns import Libc, Rcode, lookup, lookup_srv, resolve, search_names
from k8snet_lesson.manifests import loads

ZONE = "cluster.local"
WEB = Service("production", "web", selector={"app": "web"}, cluster_ip="10.96.0.20",
              ports=(ServicePort(80, 8080, "http"), ServicePort(53, 53, "dns", "UDP")))
HEADLESS = Service("production", "db", ports=(ServicePort(5432, 5432, "pg"),))
DB_SLICE = EndpointSlice("production", "db-abcde", "db", (
    Endpoint(("10.244.1.7",), hostname="db-0"), Endpoint(("10.244.2.8",))), (EndpointPort(5432, "pg"),))
MAPS = Service("production", "maps", type="ExternalName", external_name="maps.example.com")
ALIAS = Service("production", "alias", type="ExternalName", external_name=f"web.production.svc.{ZONE}")
CLUSTER = Cluster(services=(WEB, HEADLESS, MAPS, ALIAS), endpoint_slices=(DB_SLICE,))


# --- ExternalName: CoreDNS plugin/kubernetes answers with a CNAME to spec.externalName;
# plugin/backend_lookup.go follows a target in its own zone (CNAME + A records).

def test_an_external_name_service_answers_with_a_cname():
    answer = lookup(CLUSTER, f"maps.production.svc.{ZONE}")
    assert (answer.rcode, answer.cname, answer.addresses) == (Rcode.NOERROR, "maps.example.com", ())


def test_a_cname_into_the_cluster_is_followed():
    answer = lookup(CLUSTER, f"alias.production.svc.{ZONE}")
    assert answer.cname == f"web.production.svc.{ZONE}" and answer.addresses == (IPv4Address("10.96.0.20"),)


def test_a_cname_loop_stops():
    loop = Service("production", "loop", type="ExternalName", external_name=f"loop.production.svc.{ZONE}")
    answer = lookup(Cluster(services=(loop,)), f"loop.production.svc.{ZONE}")
    assert answer.rcode is Rcode.NOERROR and answer.addresses == ()


def test_external_name_is_read_from_a_manifest():
    text = ("apiVersion: v1\nkind: Service\nmetadata: {name: maps, namespace: production}\n"
            "spec: {type: ExternalName, externalName: maps.example.com.}\n")
    (service,) = loads(text).services
    assert service.external_name == "maps.example.com"
    with pytest.raises(ValueError, match="spec.externalName: Required value"):
        loads(text.replace(", externalName: maps.example.com.", ""))


# --- SRV: the Kubernetes DNS specification (kubernetes/dns docs/specification.md, 2.4.2
# and 2.4.3) and CoreDNS plugin/kubernetes: _<port>._<proto>.<service>.<ns>.svc.<zone>

def test_srv_of_a_cluster_ip_service_points_at_the_service():
    answer = lookup_srv(CLUSTER, f"_http._tcp.web.production.svc.{ZONE}")
    assert [str(r) for r in answer.srv] == [f"0 100 80 web.production.svc.{ZONE}."]
    assert [str(r) for r in lookup_srv(CLUSTER, f"_dns._udp.web.production.svc.{ZONE}").srv] == [
        f"0 100 53 web.production.svc.{ZONE}."]


def test_srv_of_a_headless_service_points_at_each_ready_endpoint():
    answer = lookup_srv(CLUSTER, f"_pg._tcp.db.production.svc.{ZONE}")
    assert [str(r) for r in answer.srv] == [f"0 50 5432 db-0.db.production.svc.{ZONE}.",
                                            f"0 50 5432 10-244-2-8.db.production.svc.{ZONE}."]


@pytest.mark.parametrize("name", [f"_http._udp.web.production.svc.{ZONE}", f"_https._tcp.web.production.svc.{ZONE}",
                                  f"_http._tcp.nosuch.production.svc.{ZONE}"])
def test_srv_names_without_a_matching_port_do_not_exist(name):
    assert lookup_srv(CLUSTER, name).rcode is Rcode.NXDOMAIN
    assert lookup(CLUSTER, name).rcode is Rcode.NXDOMAIN


def test_an_a_query_for_an_srv_name_answers_the_service_records():
    assert lookup(CLUSTER, f"_http._tcp.web.production.svc.{ZONE}").addresses == (IPv4Address("10.96.0.20"),)
    assert lookup(CLUSTER, f"_pg._tcp.db.production.svc.{ZONE}").addresses == (
        IPv4Address("10.244.1.7"), IPv4Address("10.244.2.8"))


def test_a_plain_service_name_has_no_srv_records():
    assert lookup_srv(CLUSTER, f"web.production.svc.{ZONE}").rcode is Rcode.NOERROR
    assert lookup_srv(CLUSTER, f"web.production.svc.{ZONE}").srv == ()


# --- glibc beside musl: glibc resolv/res_query.c (__res_context_search) and res_send.c;
# musl src/network/lookup_name.c (name_from_dns_search) and res_msend.c

CONF = dns.ResolvConf((IPv4Address("10.96.0.10"),), (f"production.svc.{ZONE}", f"svc.{ZONE}", ZONE))


def test_musl_is_the_default_and_tries_a_dotted_name_as_written_only():
    name = "a.b.c.d.e.f"
    assert search_names(name, CONF) == search_names(name, CONF, Libc.MUSL) == (name,)


def test_glibc_tries_a_dotted_name_as_written_then_through_the_search_list():
    name = "a.b.c.d.e.f"
    assert search_names(name, CONF, "glibc") == (name, f"{name}.production.svc.{ZONE}", f"{name}.svc.{ZONE}",
                                                 f"{name}.{ZONE}")
    assert search_names("web", CONF, "glibc") == search_names("web", CONF)  # fewer dots: the same


LESSON = scenarios.lesson_cluster()
CLIENT = LESSON.pod("production/payment-api-7d9c4b-xr7nq")


def test_after_nodata_musl_stops_and_glibc_goes_on():
    # "production" from a production pod: production.production.svc... is NXDOMAIN, then
    # production.svc.cluster.local is the namespace: it exists but holds no record (NODATA)
    musl = resolve(LESSON, CLIENT, "production")
    glibc = resolve(LESSON, CLIENT, "production", libc="glibc")
    assert [a.rcode for a in musl.answers] == [Rcode.NXDOMAIN, Rcode.NOERROR] and not musl.ok
    assert len(glibc.answers) == 4 and [a.rcode for a in glibc.answers][1] is Rcode.NOERROR and not glibc.ok
    assert glibc.query_types == ("A", "AAAA") and musl.query_types == ("A",)


def test_glibc_finds_a_name_that_exists_as_written_with_many_dots():
    name = f"checkout-api-svc.production.svc.{ZONE}"  # 4 dots: below ndots 5, searched first
    for libc in Libc:
        assert resolve(LESSON, CLIENT, name, libc=libc).addresses == (IPv4Address("10.96.214.88"),)


def test_a_refused_query_fails_fast_under_glibc_and_times_out_under_musl():
    # kube-dns without endpoints: kube-proxy REJECTs with ICMP port unreachable. glibc's
    # connected UDP socket gets ECONNREFUSED at once; musl's unconnected one never sees it.
    down = LESSON.with_(endpoint_slices=tuple(s for s in LESSON.endpoint_slices if s.service_name != "kube-dns"),
                        pods=tuple(p for p in LESSON.pods if not p.name.startswith("coredns")))
    musl = resolve(down, CLIENT, "checkout-api-svc")
    glibc = resolve(down, CLIENT, "checkout-api-svc", libc="glibc")
    assert musl.timed_out and musl.refused  # the REJECT happened; musl only waits it out
    assert glibc.refused and not glibc.timed_out and glibc.answers == ()
    assert "REJECT" in glibc.reason or "reject" in glibc.reason


def test_an_unknown_libc_is_refused_by_name():
    with pytest.raises(ValueError, match="libc 'uclibc' is not one of musl, glibc"):
        search_names("web", CONF, "uclibc")
