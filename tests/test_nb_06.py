"""Notebook 06's facts, each held by the model: the resolver, names, probes, Cilium, the gates.

Facts the tests rest on:

- musl (Alpine, so netshoot) sends DNS queries from an unconnected UDP socket
  (``res_msend.c``: ``sendto`` to each nameserver, never ``connect``); Linux reports an
  ICMP port unreachable only to a connected socket, so musl waits out its timeout
  (``timeout:5``) and ``getaddrinfo`` fails with EAI_AGAIN. glibc connects its socket,
  reads ECONNREFUSED and ``res_search`` gives up the whole search list at once;
- ``options ndots:5``: fewer than 5 dots, the search list first, the name as written
  last; the resolver stops at the first name that exists;
- an address is not a name: curl sends no query; ``nslookup ADDRESS`` asks one PTR
  question for ``d.c.b.a.in-addr.arpa``;
- a DNS name: labels of at most 63 characters, at most 253 in all, no spaces (RFC 1035, 1123);
- the kubelet's httpGet probe goes to the Pod IP (``httpGet.host`` defaults to it), so an
  app bound to 127.0.0.1 fails it and leaves the Service's endpoints;
- with Cilium's kube-proxy replacement there is no kube-proxy: no KUBE-SVC chains, no
  REJECT rule, nothing to restart but the Cilium agent.
"""

from __future__ import annotations

import html
import re

import pytest

from k8snet_lesson import dns, faults, ladder, netshoot, predictions, scenarios
from k8snet_lesson.endpoints import endpoints_for
from k8snet_lesson.errors import InvalidValue

SERVICE = "production/checkout-api-svc"
CLIENT = "production/debug-pod"
FQDN = "checkout-api-svc.production.svc.cluster.local"
BROKEN_POD = "checkout-api-6f8b9d-2xkpj"


@pytest.fixture(scope="module")
def cluster():
    return netshoot.debug_pod(scenarios.lesson_cluster(), "production")[0]


def inject(cluster, name, **kwargs):
    return faults.inject(cluster, name, service=SERVICE, client=CLIENT, **kwargs).cluster


def text_of(markup: str) -> str:
    return html.unescape(re.sub(r"<[^>]+>", "", markup))


# --- the resolver: musl waits, glibc does not ------------------------------------------------------


def test_coredns_down_is_a_rejected_query_that_musl_waits_out_and_glibc_does_not(cluster):
    down = inject(cluster, "coredns-down")
    resolution = dns.resolve(down, down.pod(CLIENT), "checkout-api-svc")
    assert resolution.timed_out and resolution.refused and "REJECT" in resolution.reason
    assert netshoot.resolver_wait(resolution, "musl") == 5.0
    assert netshoot.resolver_wait(resolution, "glibc") == 0.0
    shown = netshoot.curl(down, CLIENT, "http://checkout-api-svc/health")
    assert shown.exit_code == 6 and "Could not resolve host: checkout-api-svc" in shown.text
    summary = faults.fault("coredns-down").summary
    assert "every name times out" not in summary and "rejects every query" in summary and "glibc fails at once" in summary


def test_silence_is_waited_out_by_both_and_an_answer_by_neither(cluster):
    healthy = dns.resolve(cluster, cluster.pod(CLIENT), "checkout-api-svc")
    assert not healthy.refused and netshoot.resolver_wait(healthy, "musl") == netshoot.resolver_wait(healthy, "glibc") == 0
    silent = dns.Resolution("x", dns.nameserver(cluster), ("x",), (), timed_out=True, refused=False)
    assert netshoot.resolver_wait(silent, "glibc") == netshoot.RESOLVER_TIMEOUT_S
    with pytest.raises(InvalidValue, match="the model knows musl"):
        netshoot.resolver_wait(healthy, "bionic")


@pytest.mark.parametrize("name, namespace, tried", [
    ("checkout-api-svc", "production", 1),
    ("checkout-api-svc.production", "production", 2),
    ("checkout-api-svc.production", "default", 2),
    (FQDN, "production", 4),  # 4 dots < ndots 5: every search domain first
    (FQDN + ".", "production", 1),  # absolute: as written only
])
def test_names_tried_follow_ndots_and_the_search_list(name, namespace, tried):
    with_pod, pod = netshoot.debug_pod(scenarios.lesson_cluster(), namespace)
    resolution = dns.resolve(with_pod, pod, name)
    assert resolution.ok and len(resolution.answers) == tried
    assert [a.rcode for a in resolution.answers] == [dns.Rcode.NXDOMAIN] * (tried - 1) + [dns.Rcode.NOERROR]


# --- names and addresses --------------------------------------------------------------------------


@pytest.mark.parametrize("bad, message", [
    ("checkout api", "holds a space"),
    ("checkout-api-svc/production", "holds the characters '/'"),
    ("a" * 300, "one of its labels has 300 characters; a label (the part between two dots) has at most 63"),
    ("a" * 64 + ".production", "one of its labels has 64 characters"),
    (".".join(["a" * 60] * 5), "it has 304 characters; a DNS name has at most 253"),
])
def test_what_is_not_a_dns_name_is_refused_with_a_clear_message(bad, message):
    with pytest.raises(InvalidValue) as raised:
        dns.search_names(bad, dns.ResolvConf((dns.nameserver(scenarios.lesson_cluster()),), ("cluster.local",)))
    text = str(raised.value)
    assert "is not a DNS name" in text and message in text
    assert len(text) < 200 and "…" not in text and "..." not in text  # the name is not echoed at length


@pytest.mark.parametrize("good", ["a" * 63, ".".join(["a" * 63] * 3) + ".abcdefghijklmnopqrstuvwxyz0123456789ab",
                                  "_http._tcp.checkout-api-svc.production", "kube-dns.kube-system."])
def test_real_names_pass(good):
    assert len(dns.search_names(good, dns.ResolvConf((dns.nameserver(scenarios.lesson_cluster()),), ()))) == 1


def test_an_address_is_not_a_name_nslookup_asks_ptr_and_curl_asks_nothing(cluster):
    assert netshoot.ptr_name(dns.nameserver(cluster)) == "10.0.96.10.in-addr.arpa"
    shown = netshoot.nslookup(cluster, CLIENT, "10.96.214.88", style="bind")
    assert "88.214.96.10.in-addr.arpa\tname = checkout-api-svc.production.svc.cluster.local." in shown.text
    assert shown.ok and "search" not in shown.text and "production.svc.cluster.local." not in shown.command
    unnamed = netshoot.nslookup(cluster, CLIENT, "10.244.2.14", style="bind")
    assert not unnamed.ok and "** server can't find 14.2.244.10.in-addr.arpa: NXDOMAIN" in unnamed.text
    busybox = netshoot.nslookup(cluster, CLIENT, "10.96.214.88")
    assert busybox.text.splitlines()[-1] == "Address 1: 10.96.214.88 checkout-api-svc.production.svc.cluster.local"
    assert netshoot.curl(cluster, CLIENT, "http://10.96.214.88:80/health").resolution is None
    down = inject(cluster, "coredns-down")
    assert "connection timed out" in netshoot.nslookup(down, CLIENT, "10.96.214.88", style="bind").text


def test_dns_explorer_treats_addresses_as_tools_do_and_refuses_non_names(cluster):
    pytest.importorskip("ipywidgets")
    from k8snet_lesson.view import debugging

    explorer = debugging.dns_explorer(cluster)
    explorer.name.value = "10.96.214.88"
    shown = text_of(explorer.result.value)
    assert "is an address, not a name: no search list applies" in shown
    assert "curl sends no DNS query at all" in shown and "88.214.96.10.in-addr.arpa" in shown
    assert "k8snet-dns-queries" not in explorer.result.value and explorer.message.value == ""
    for bad in ("checkout api", "x" * 300):
        explorer.name.value = bad
        assert "is not a DNS name" in text_of(explorer.message.value)
        assert explorer.result.value == "" and explorer.last is None
    explorer.name.value = "checkout-api-svc.production"
    assert explorer.message.value == "" and explorer.last.fqdn == FQDN
    assert "2 names asked for" in text_of(explorer.result.value)


# --- 127.0.0.1 and the readiness probe ------------------------------------------------------------


def test_an_app_on_127_0_0_1_fails_its_readiness_probe_and_leaves_the_endpoints(cluster):
    broken = inject(cluster, "bound-to-localhost", pod=BROKEN_POD)
    probes = {p.pod: p for p in faults.readiness_probes(broken, SERVICE)}
    failing = probes[f"production/{BROKEN_POD}"]
    assert not failing.passes and failing.url == "http://10.244.2.14:3000/health"
    assert failing.event == ('Readiness probe failed: Get "http://10.244.2.14:3000/health": '
                             "dial tcp 10.244.2.14:3000: connect: connection refused")
    assert sum(p.passes for p in probes.values()) == 2
    probed = faults.with_readiness_probes(broken, SERVICE)
    shown = endpoints_for(probed, probed.service(SERVICE))
    assert [str(a) for a in shown.not_ready_addresses] == ["10.244.2.14"]
    assert sorted(str(a.ip) for s in shown.subsets for a in s.addresses) == ["10.244.3.7", "10.244.4.2"]
    assert all(p.passes for p in faults.readiness_probes(cluster, SERVICE))  # healthy apps pass


def test_with_probes_the_clusterip_never_draws_the_broken_pod(cluster):
    probed = faults.with_readiness_probes(inject(cluster, "bound-to-localhost", pod=BROKEN_POD), SERVICE)
    for seed in range(30):
        assert netshoot.curl(probed, CLIENT, "http://10.96.214.88:80/health", seed=seed).ok


# --- Cilium: no kube-proxy on the ladder ----------------------------------------------------------


def test_on_cilium_a_stale_node_is_not_blamed_on_kube_proxy(cluster):
    stale = inject(cluster, "kube-proxy-stale")
    on_cilium = ladder.climb(stale, client=CLIENT, service=SERVICE, cni="cilium")
    text = str(on_cilium)
    assert on_cilium.finding.fault_name == "kube-proxy-stale"
    assert "restart kube-proxy" not in text and "KUBE-SVC chain for" not in text and "kube-proxy rule" not in text
    assert "Cilium's service map" in text and "restart the Cilium agent" in on_cilium.finding.advice
    assert text.splitlines().count("Finding: ClusterIP (Cilium's service map): kube-proxy-stale") == 1
    assert on_cilium.verdict == ("ClusterIP (kube-proxy)", "kube-proxy-stale")  # the layer itself is the same
    on_calico = ladder.climb(stale, client=CLIENT, service=SERVICE, cni="calico")
    assert "restart kube-proxy" in on_calico.finding.advice and "KUBE-SVC chain" in str(on_calico)


def test_on_cilium_a_service_without_endpoints_is_refused_without_a_reject_rule(cluster):
    mismatch = inject(cluster, "selector-mismatch")
    on_cilium = ladder.climb(mismatch, client=CLIENT, service=SERVICE, cni="cilium")
    cluster_ip_rung = on_cilium.rungs[1]
    assert cluster_ip_rung.name == "ClusterIP" and not cluster_ip_rung.passed
    assert "REJECT" not in cluster_ip_rung.summary and "kube-proxy" not in cluster_ip_rung.summary
    assert "Cilium" in cluster_ip_rung.summary and "Connection refused" in cluster_ip_rung.outputs[0].text
    assert "REJECT" in ladder.climb(mismatch, client=CLIENT, service=SERVICE, cni="calico").rungs[1].summary


# --- the notebook's tables ------------------------------------------------------------------------


def test_fault_summary_is_short_complete_and_reads_from_the_climb(cluster):
    pytest.importorskip("pandas")
    from k8snet_lesson.view import debugging

    shown = debugging.fault_summary(cluster, client=CLIENT, service=SERVICE)
    frame = shown.frame
    assert len(frame) == len(faults.FAULTS) <= 12 and list(frame.columns) == ["fault", "first rung to break",
                                                                              "curl to the ClusterIP"]
    for name, first in zip(frame["fault"], frame["first rung to break"]):
        climbed = ladder.climb(inject(cluster, name), client=CLIENT, service=SERVICE, cni="calico")
        assert first == debugging.first_broken(climbed), name
    markup = shown._repr_html_()
    assert "text-align:left" in markup and "…" not in markup and "<details" not in markup
    assert frame.set_index("fault").loc["selector-mismatch", "curl to the ClusterIP"] == "Connection refused"


def test_describe_excerpt_is_the_real_describe_grepped(cluster):
    pytest.importorskip("pandas")
    from k8snet_lesson.view import debugging

    excerpt = debugging.describe_excerpt(cluster, f"production/{BROKEN_POD}")
    full = netshoot.kubectl_describe_pod(cluster, f"production/{BROKEN_POD}").text.splitlines()
    lines = excerpt.text.splitlines()
    assert all(line in full for line in lines) and 4 <= len(lines) <= 8
    assert any(line.startswith("IP:") and "10.244.2.14" in line for line in lines)
    assert any("Port:" in line and "3000/TCP" in line for line in lines)
    assert excerpt.command.startswith(f"kubectl describe pod {BROKEN_POD} -n production | grep -E ")


# --- the gates: computed, not typed ---------------------------------------------------------------


def test_gates_read_their_answers_from_the_model(cluster):
    assert predictions.build("06-names-tried", cluster).answer == "2"
    assert predictions.build("06-names-tried", cluster, name=FQDN).answer == "4"
    assert predictions.build("06-names-tried", cluster, name="checkout-api-svc").answer == "1"
    assert predictions.build("06-first-rung", cluster).answer == "ClusterIP"
    assert predictions.build("06-selector-curl", cluster).answer == "refused"
    assert predictions.build("06-policy-curl", cluster).answer == "timed out"
    assert predictions.build("06-policy-curl", cluster, cni="cilium").answer == "timed out"
    assert predictions.build("06-coredns-wait", cluster).answer == "after 5 s"
    assert predictions.build("06-localhost-probe", cluster).answer == "it leaves the endpoints"
    ids = [pid for pid in predictions.catalogue() if pid.startswith("06-")]
    assert len(ids) >= 5


def test_gates_build_on_the_lessons_cluster_without_a_debug_pod():
    for pid in (p for p in predictions.catalogue() if p.startswith("06-")):
        made = predictions.build(pid, scenarios.lesson_cluster())
        assert predictions.check(made, made.answer).correct and made.tempting_option is not None


def test_every_gate_reveals_what_the_model_computed():
    pytest.importorskip("pandas")
    from k8snet_lesson.view import debugging

    lesson = scenarios.lesson_cluster()
    shown = {pid: debugging.reveal(pid, lesson) for pid in predictions.catalogue() if pid.startswith("06-")}
    assert len(shown) == 6 and all(s._repr_html_() and "…" not in s._repr_html_() for s in shown.values())
    assert "<none>" in shown["06-selector-curl"].text and "-j REJECT --reject-with icmp-port-unreachable" in shown["06-selector-curl"].text
    assert "curl: (28)" in shown["06-policy-curl"].text
    assert "Readiness probe failed" in shown["06-localhost-probe"].text and "10.244.2.14" not in shown["06-localhost-probe"].text.split("ENDPOINTS")[1]
    assert "waited 5 s; a glibc image would have waited 0 s" in shown["06-coredns-wait"].note
    with pytest.raises(InvalidValue, match="no gate"):
        debugging.reveal("06-nothing", lesson)
