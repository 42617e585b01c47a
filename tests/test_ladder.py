"""The debugging ladder on the lesson's cluster: every fault found when broken, nothing when fixed.

The lesson's runbook: DNS fails = CoreDNS; DNS works but the ClusterIP fails = kube-proxy
or no endpoints; the ClusterIP works but a Pod IP fails = the application (wrong port,
not bound to 0.0.0.0). Its transcript (ClusterIP 200 OK, Pod IP 10.244.2.14:3000
refused) needs one endpoint of three broken and kube-proxy's draw landing on another.
"""

from __future__ import annotations

from ipaddress import IPv4Address

import pytest

from k8snet_lesson import faults, ladder, netshoot, scenarios
from k8snet_lesson.errors import InvalidValue, NotFound
from k8snet_lesson.faults import Layer
from k8snet_lesson.lab.ladder import listening_sockets, parse_curl, parse_nslookup

SERVICE = "production/checkout-api-svc"
CLIENT = "production/debug-pod"


@pytest.fixture(scope="module")
def lesson():
    cluster, _ = netshoot.debug_pod(scenarios.lesson_cluster(), "production")
    return cluster


def test_the_healthy_lesson_cluster_passes_every_rung(lesson):
    result = ladder.climb(lesson, client=CLIENT, service=SERVICE)
    assert result.passed and result.finding is None
    assert [(r.name, r.passed) for r in result.rungs] == [("DNS name", True), ("ClusterIP", True), ("Endpoints", True), ("Pod IP", True)]
    assert [o.command for o in result.rungs[0].outputs] == [
        "curl -v http://checkout-api-svc:80/health",
        "nslookup checkout-api-svc.production.svc.cluster.local",
    ]
    assert [o.command for o in result.rungs[3].outputs] == [
        "curl -v http://10.244.2.14:3000/health",
        "curl -v http://10.244.3.7:3000/health",
        "curl -v http://10.244.4.2:3000/health",
    ]


@pytest.mark.parametrize("name", list(faults.FAULTS))
def test_every_fault_is_found_when_broken_and_the_fix_passes(lesson, name):
    broken = faults.inject(lesson, name, service=SERVICE, client=CLIENT)
    found = ladder.climb(broken.cluster, client=CLIENT, service=SERVICE, cni="calico")
    assert found.finding is not None and found.finding.fault_name == name, str(found)
    assert found.finding.layer is faults.fault(name).layer
    assert found.finding.evidence and found.finding.advice == faults.fault(name).fix
    assert ladder.climb(broken.fixed(), client=CLIENT, service=SERVICE, cni="calico").passed


@pytest.mark.parametrize(
    "name, last_rung",
    [
        ("coredns-down", "DNS name"),
        ("kube-proxy-stale", "Pod IP"),
        ("selector-mismatch", "Endpoints"),
        ("readiness-failing", "Endpoints"),
        ("wrong-target-port", "inside the pod"),
        ("app-wrong-port", "inside the pod"),
        ("nothing-listening", "inside the pod"),
        ("bound-to-localhost", "inside the pod"),
        ("network-policy-deny", "inside the pod"),
        ("cidr-overlap", "Pod IP"),
    ],
)
def test_the_climb_stops_where_the_fault_is_localised(lesson, name, last_rung):
    broken = faults.inject(lesson, name, service=SERVICE, client=CLIENT).cluster
    assert ladder.climb(broken, client=CLIENT, service=SERVICE).rungs[-1].name == last_rung


@pytest.mark.parametrize(
    "name, evidence",
    [
        ("coredns-down", "kube-dns has no ready endpoints; CoreDNS pods: coredns-5d78c9869d-4k7mz (Ready: False"),
        ("selector-mismatch", "pod checkout-api-6f8b9d-2xkpj is labelled app=checkout"),
        ("readiness-failing", "notReadyAddresses: 10.244.2.14, 10.244.3.7, 10.244.4.2"),
        ("kube-proxy-stale", "kube-proxy on node-eu-west-1a has not synced"),
        ("bound-to-localhost", "netstat -tlnp in checkout-api-6f8b9d-2xkpj: listening on 127.0.0.1:3000"),
        ("wrong-target-port", "the endpoints send traffic to port 8080 (the Service's targetPort), but the pod declares containerPort 3000"),
        ("app-wrong-port", "the pod declares containerPort 3000, but the app listens on 8080"),
        ("nothing-listening", "containerPort 3000 is declared, but nothing in the pod listens on 3000"),
        ("network-policy-deny", "NetworkPolicy production/checkout-api-svc-allow-frontend-only selects"),
        ("cidr-overlap", "pod IP 10.96.2.14 is also the ClusterIP of Service production/legacy-checkout-api-svc"),
    ],
)
def test_findings_name_their_evidence(lesson, name, evidence):
    broken = faults.inject(lesson, name, service=SERVICE, client=CLIENT).cluster
    finding = ladder.climb(broken, client=CLIENT, service=SERVICE).finding
    assert any(evidence in line for line in finding.evidence), finding.evidence


def test_coredns_down_shows_the_dns_tools_and_kube_dns_endpoints(lesson):
    broken = faults.inject(lesson, "coredns-down", service=SERVICE, client=CLIENT).cluster
    rung = ladder.climb(broken, client=CLIENT, service=SERVICE).rungs[0]
    commands = [o.command for o in rung.outputs]
    assert commands[-2:] == ["cat /etc/resolv.conf", "kubectl get endpoints kube-dns -n kube-system"]
    assert rung.outputs[1].text.endswith("nslookup: can't resolve 'checkout-api-svc.production.svc.cluster.local'")
    # pods exist but none is ready: kubectl prints an empty ENDPOINTS cell (no ready address
    # in the one subset), not <none> (which means no subsets at all)
    assert rung.outputs[-1].text.splitlines()[1].split() == ["kube-dns", "8d"]


def test_network_policy_on_flannel_is_silently_allowed(lesson):
    broken = faults.inject(lesson, "network-policy-deny", service=SERVICE, client=CLIENT).cluster
    result = ladder.climb(broken, client=CLIENT, service=SERVICE, cni="flannel")
    assert result.passed
    assert any("flannel does not enforce NetworkPolicy" in note for note in result.notes)


def _seeds_where_the_clusterip_works(cluster, seeds=range(12)):
    return [s for s in seeds if ladder.climb(cluster, client=CLIENT, service=SERVICE, seed=s).rungs[1].passed]


@pytest.mark.parametrize("name", ["bound-to-localhost", "app-wrong-port"])
def test_the_lessons_transcript_with_one_endpoint_of_three_broken(lesson, name):
    broken = faults.inject(lesson, name, service=SERVICE, client=CLIENT, pod="checkout-api-6f8b9d-2xkpj").cluster
    seeds = _seeds_where_the_clusterip_works(broken)
    assert seeds and len(seeds) < 12  # some draws hit the broken endpoint, some do not
    result = ladder.climb(broken, client=CLIENT, service=SERVICE, seed=seeds[0])
    dns_rung, cluster_ip, endpoints, pod_ip, inside = result.rungs
    nslookup = dns_rung.outputs[1]
    assert nslookup.text.splitlines() == [
        "Server:    10.96.0.10",
        "Address 1: 10.96.0.10 kube-dns.kube-system.svc.cluster.local",
        "",
        "Name:      checkout-api-svc.production.svc.cluster.local",
        "Address 1: 10.96.214.88 checkout-api-svc.production.svc.cluster.local",
    ]
    # The lesson abridges curl: it prints "* Trying" where curl prints "*   Trying", and
    # leaves out the request and response headers between the lines it shows.
    lines = cluster_ip.outputs[0].text.splitlines()
    assert lines[0] == "*   Trying 10.96.214.88:80..."
    assert "* Connected to 10.96.214.88 (10.96.214.88) port 80 (#0)" in lines
    assert "> GET /health HTTP/1.1" in lines and "< HTTP/1.1 200 OK" in lines and lines[-1] == '{"status":"healthy"}'
    refused = pod_ip.outputs[0].text.splitlines()
    assert refused[:2] == ["*   Trying 10.244.2.14:3000...", "* connect to 10.244.2.14 port 3000 failed: Connection refused"]
    assert [o.ok for o in pod_ip.outputs] == [False, True, True]
    assert inside.outputs[1].command == "kubectl describe pod checkout-api-6f8b9d-2xkpj -n production"
    assert result.finding.fault_name == name
    assert any("1 of 3 endpoints are broken" in n and "lesson's transcript" in n for n in result.notes)


def test_the_climb_renders_as_a_report(lesson):
    broken = faults.inject(lesson, "readiness-failing", service=SERVICE, client=CLIENT).cluster
    text = str(ladder.climb(broken, client=CLIENT, service=SERVICE))
    assert text.splitlines()[0] == "Debugging ladder from production/debug-pod to Service production/checkout-api-svc (CNI calico-vxlan, seed 0)"
    assert "3. Endpoints: BROKEN - no ready endpoints" in text
    assert "$ kubectl get endpoints checkout-api-svc -n production" in text
    assert "Finding: Endpoints: readiness-failing" in text


@pytest.mark.parametrize(
    "kwargs, error, message",
    [
        (dict(client="production/nobody", service=SERVICE), NotFound, "no pod 'nobody'"),
        (dict(client=CLIENT, service="production/nope"), NotFound, "no service 'nope'"),
        (dict(client=CLIENT, service=SERVICE, cni="weave"), NotFound, "no CNI profile 'weave'"),
    ],
)
def test_bad_targets_are_named(lesson, kwargs, error, message):
    with pytest.raises(error, match=message):
        ladder.climb(lesson, **kwargs)


# --- exercises ---------------------------------------------------------------------------


def test_a_mystery_is_reproducible_and_solvable(lesson):
    first = ladder.mystery(lesson, 7, CLIENT, SERVICE)
    assert ladder.mystery(lesson, 7, CLIENT, SERVICE) == first
    assert 1 <= first.count <= 2 and first.cluster != lesson
    # climb, fix what was found, climb again: the faults come out one by one
    remaining, cluster = set(first.broken.faults), first.cluster
    while remaining:
        finding = first.climb(cluster).finding
        assert finding.fault_name in remaining
        remaining.discard(finding.fault_name)
        cluster = faults.inject(lesson, sorted(remaining), service=SERVICE, client=CLIENT).cluster
    assert first.climb(cluster).passed


def test_mysteries_over_many_seeds(lesson):
    seen, counts = set(), set()
    for seed in range(8):
        m = ladder.mystery(lesson, seed, CLIENT, SERVICE, cni="flannel")
        seen.update(m.broken.faults)
        counts.add(m.count)
        if m.count == 2:
            a, b = m.broken.faults
            assert faults.fault(a).layer is not faults.fault(b).layer
    assert counts == {1, 2}
    assert "network-policy-deny" not in seen  # flannel would hide it: never picked there
    assert len(seen) >= 4


def test_check_diagnosis(lesson):
    m = ladder.mystery(lesson, 3, CLIENT, SERVICE, candidates=["bound-to-localhost", "coredns-down"])
    right = ladder.check_diagnosis(m, m.broken.faults)
    assert right.correct and right.fixed_passes and right.message.startswith("Right: ")
    wrong = ladder.check_diagnosis(m, ["cidr-overlap"])
    assert not wrong.correct and wrong.wrong == ("cidr-overlap",) and set(wrong.missed) == set(m.broken.faults)
    assert "not the fault here: cidr-overlap" in wrong.message
    with pytest.raises(NotFound, match="no fault 'dns'"):
        ladder.check_diagnosis(m, ["dns"])


def test_a_two_fault_mystery_needs_both_names(lesson):
    m = next(m for m in (ladder.mystery(lesson, s, CLIENT, SERVICE) for s in range(20)) if m.count == 2)
    one = m.broken.faults[0]
    partial = ladder.check_diagnosis(m, [one])
    assert not partial.correct and partial.found == (one,) and len(partial.missed) == 1
    assert "1 fault still hidden" in partial.message
    assert ladder.check_diagnosis(m, reversed(m.broken.faults)).correct


def test_a_mystery_needs_a_healthy_start(lesson):
    broken = faults.inject(lesson, "coredns-down", service=SERVICE, client=CLIENT).cluster
    with pytest.raises(InvalidValue, match="broken already"):
        ladder.mystery(broken, 0, CLIENT, SERVICE)
    with pytest.raises(InvalidValue, match="no fault the ladder can find"):
        ladder.mystery(lesson, 0, CLIENT, SERVICE, cni="flannel", candidates=["network-policy-deny"])


def test_layers_are_the_lessons_rungs():
    assert [layer.value for layer in Layer] == ["DNS", "ClusterIP (kube-proxy)", "Endpoints", "Pod IP (network)", "inside the pod (app)"]


def test_a_headless_service_has_no_clusterip_rung(lesson):
    from k8snet_lesson.cluster import Service, ServicePort

    headless = Service("production", "checkout-api-headless", ports=(ServicePort(3000),), selector={"app": "checkout-api"})
    cluster = lesson.with_service(headless)
    result = ladder.climb(cluster, client=CLIENT, service=headless.key)
    assert result.passed and [r.name for r in result.rungs] == ["DNS name", "Endpoints", "Pod IP"]
    assert result.rungs[0].summary.startswith("checkout-api-headless.production.svc.cluster.local is 10.244.2.14, 10.244.3.7, 10.244.4.2")
    assert any("headless" in n for n in result.notes)


def test_the_ladder_modules_import_without_yaml_plots_or_widgets():
    import subprocess
    import sys

    code = (
        "import sys\n"
        "import k8snet_lesson.ladder, k8snet_lesson.netshoot, k8snet_lesson.faults, k8snet_lesson.dns, "
        "k8snet_lesson.connect, k8snet_lesson.cli.ladder\n"
        "print(sorted(m for m in ('yaml', 'matplotlib', 'pandas', 'networkx', 'scapy', 'ipywidgets', 'IPython') if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


# --- one climb, fed by observations ---------------------------------------------------------

REFUSED = """*   Trying 10.244.2.14:3000...
* connect to 10.244.2.14 port 3000 failed: Connection refused
* Failed to connect to 10.244.2.14 port 3000 after 0 ms: Couldn't connect to server
* Closing connection 0
curl: (7) Failed to connect to 10.244.2.14 port 3000 after 0 ms: Couldn't connect to server"""
NO_ROUTE = REFUSED.replace("Connection refused", "No route to host").replace("after 0 ms", "after 3061 ms")
TIMEOUT = """*   Trying 10.244.2.14:3000...
* ipv4 connect timeout after 1999ms, move on!
* Failed to connect to 10.244.2.14 port 3000 after 2001 ms: Timeout was reached
* Closing connection 0
curl: (28) Failed to connect to 10.244.2.14 port 3000 after 2001 ms: Timeout was reached"""
UNRESOLVED = "* Could not resolve host: nope\n* Closing connection 0\ncurl: (6) Could not resolve host: nope"


def _answered(status_line):
    return (
        "*   Trying 10.96.214.88:80...\n* Connected to 10.96.214.88 (10.96.214.88) port 80 (#0)\n> GET /health HTTP/1.1\n"
        f"> Host: 10.96.214.88\n> \n{status_line}\n< Content-Length: 20\n< \n* Connection #0 to host 10.96.214.88 left intact\n"
        '{"status":"healthy"}'
    )


@pytest.mark.parametrize(
    "text, code, expected",
    [
        # curl's exit codes: 6 could not resolve, 7 could not connect, 28 timed out
        (UNRESOLVED, 6, {"resolved": False, "connected": False, "refused": False, "timed_out": False, "status": None, "ok": False}),
        (REFUSED, 7, {"resolved": True, "connected": False, "refused": True, "timed_out": False, "status": None, "ok": False}),
        (NO_ROUTE, 7, {"resolved": True, "connected": False, "refused": False, "timed_out": False, "status": None, "ok": False}),
        (TIMEOUT, 28, {"resolved": True, "connected": False, "refused": False, "timed_out": True, "status": None, "ok": False}),
        (_answered("< HTTP/1.1 200 OK"), 0, {"resolved": True, "connected": True, "refused": False, "timed_out": False, "status": 200, "ok": True}),
        (_answered("< HTTP/1.1 503 Service Unavailable"), 0, {"resolved": True, "connected": True, "refused": False, "timed_out": False, "status": 503, "ok": False}),
    ],
)
def test_curl_output_read_as_observations(text, code, expected):
    seen = parse_curl(text, code)
    assert {k: getattr(seen, k) for k in expected} == expected
    if code:
        assert seen.detail.startswith(f"curl: ({code}) ")


@pytest.mark.parametrize(
    "text, addresses, timed_out, rcode",
    [
        ("Server:\t\t10.96.0.10\nAddress:\t10.96.0.10#53\n\nName:\tcheckout-api-svc.production.svc.cluster.local\nAddress: 10.96.214.88\n",
         ("10.96.214.88",), False, "NOERROR"),
        ("Server:\t\t10.96.0.10\nAddress:\t10.96.0.10#53\n\n** server can't find nope.production.svc.cluster.local: NXDOMAIN\n", (), False, "NXDOMAIN"),
        ("Server:\t\t10.96.0.10\nAddress:\t10.96.0.10#53\n\n*** Can't find kube-dns: No answer\n", (), False, "NOERROR"),
        # BIND 9.18 and 9.16 when no server answers
        (";; communications error to 10.96.0.10#53: timed out\n;; no servers could be reached\n", (), True, None),
        (";; connection timed out; no servers could be reached\n", (), True, None),
    ],
)
def test_nslookup_output_read_as_observations(text, addresses, timed_out, rcode):
    seen = parse_nslookup(text, nameserver=IPv4Address("10.96.0.10"))
    assert seen.addresses == tuple(map(IPv4Address, addresses))
    assert (seen.ok, seen.timed_out, seen.rcode, seen.nameserver) == (bool(addresses), timed_out, rcode, IPv4Address("10.96.0.10"))


def test_ss_listening_sockets():
    text = (
        "State  Recv-Q Send-Q Local Address:Port  Peer Address:PortProcess\n"
        'LISTEN 0      128          0.0.0.0:3000       0.0.0.0:*    users:(("node",pid=1,fd=18))\n'
        'LISTEN 0      5          127.0.0.1:9090       0.0.0.0:*    users:(("python",pid=2,fd=3))\n'
        'LISTEN 0      4096               *:8080             *:*    users:(("app",pid=3,fd=7))\n'
    )
    assert listening_sockets(text) == (
        (IPv4Address("0.0.0.0"), 3000), (IPv4Address("127.0.0.1"), 9090), (IPv4Address("0.0.0.0"), 8080),
    )


class _TextTools(ladder.ModelTools):
    """The model's tools, but curl's and nslookup's text re-read the way the lab reads the real tools."""

    def curl(self, url):
        shown = super().curl(url).output
        return parse_curl(shown.text, shown.exit_code, shown)

    def nslookup(self, name):
        shown = netshoot.nslookup(self.cluster, self.client, name, style="bind", cni=self.cni, seed=self._draw())
        return parse_nslookup(shown.text, shown, shown.resolution.nameserver)


@pytest.mark.parametrize("cni", ["calico", "flannel"])
@pytest.mark.parametrize("name", list(faults.FAULTS))
def test_the_climb_reads_only_what_the_tools_print(lesson, name, cni):
    """The same verdict when curl and nslookup are known only by their printed text and exit status."""
    broken = faults.inject(lesson, name, service=SERVICE, client=CLIENT).cluster
    client = broken.pod(CLIENT)
    model = ladder.climb(broken, client=CLIENT, service=SERVICE, cni=cni)
    from_text = ladder.climb_with(_TextTools(broken, client, cni), broken, client=CLIENT, service=SERVICE, seed=0)
    assert from_text.verdict == model.verdict
    assert [(r.name, r.passed) for r in from_text.rungs] == [(r.name, r.passed) for r in model.rungs]


class _Observed:
    """Tools that answer from stated facts only: DNS works, the ClusterIP answers, the pod IP is refused,
    and ``ss`` shows the app on 127.0.0.1:3000 (the lesson's transcript)."""

    cni = "flannel"

    def __init__(self, cluster):
        self.cluster = cluster

    def curl(self, url):
        if "10.244.2.14" in url:
            return parse_curl(REFUSED, 7, netshoot.Output(f"curl -v {url}", REFUSED, 7))
        return parse_curl(_answered("< HTTP/1.1 200 OK"), 0, netshoot.Output(f"curl -v {url}", "", 0))

    def nslookup(self, name):
        text = f"Server:\t\t10.96.0.10\nAddress:\t10.96.0.10#53\n\nName:\t{name}\nAddress: 10.96.214.88\n"
        return parse_nslookup(text, netshoot.Output(f"nslookup {name}", text))

    def resolv_conf(self):
        raise AssertionError("DNS works: resolv.conf is not read")

    def sockets(self, pod):
        return ladder.SocketsSeen(netshoot.Output("ss -tlnp", ""), "ss -tlnp", ((IPv4Address("127.0.0.1"), 3000),))

    def kube_proxy(self, node):
        raise AssertionError("the ClusterIP answers: the node's rules are not read")


def test_a_climb_on_observations_alone(lesson):
    result = ladder.climb_with(_Observed(lesson), lesson, client=CLIENT, service=SERVICE)
    assert result.verdict == (Layer.APP.value, "bound-to-localhost")
    assert [(r.name, r.passed) for r in result.rungs] == [
        ("DNS name", True), ("ClusterIP", True), ("Endpoints", True), ("Pod IP", False), ("inside the pod", False),
    ]
    assert "ss -tlnp in checkout-api-6f8b9d-2xkpj: listening on 127.0.0.1:3000" in result.finding.evidence
    assert str(result).splitlines()[0].endswith("(CNI flannel, real tools)")
    assert any("1 of 3 endpoints are broken" in n and "picked a healthy endpoint" in n for n in result.notes)


def test_a_denied_pod_where_nothing_listens_is_not_said_to_listen(lesson):
    """NetworkPolicy drops the SYN first (the finding), but netstat shows nothing on the port: the rung says so."""
    broken = faults.inject(lesson, ("nothing-listening", "network-policy-deny"), service=SERVICE, client=CLIENT).cluster
    result = ladder.climb(broken, client=CLIENT, service=SERVICE, cni="calico")
    assert result.finding.fault_name == "network-policy-deny"
    inside = result.rungs[-1]
    assert inside.name == "inside the pod" and not inside.passed
    assert not any("while the app listens" in line for line in result.finding.evidence)


# --- kube-proxy-stale names what is stale (k8snet diff of the client's node) -------------------


def _destinations(cluster, service):
    """kubectl get endpoints: each ready address with its port, as ``ip:port``."""
    from k8snet_lesson.endpoints import endpoints_for

    return sorted(f"{a.ip}:{p.port}" for s in endpoints_for(cluster, service).subsets for a in s.addresses for p in s.ports)


@pytest.mark.parametrize("mode", ["iptables", "nftables"])
def test_kube_proxy_stale_names_the_missing_service_port_and_its_endpoints(lesson, mode):
    broken = faults.inject(lesson, "kube-proxy-stale", service=SERVICE, client=CLIENT).cluster
    found = ladder.climb(broken, client=CLIENT, service=SERVICE, proxy_mode=mode, seed=3)
    assert found.verdict == (Layer.SERVICE.value, "kube-proxy-stale")
    drifted = found.finding.drift
    node = broken.pod(CLIENT).node_name
    assert (drifted.mode, drifted.node) == (mode, node)
    service = broken.service(SERVICE)
    port = next(p for p in drifted.ports if (p.cluster_ip, p.port) == (str(service.cluster_ip), service.ports[0].port))
    assert port.kind == "missing" and sorted(port.missing_endpoints) == _destinations(broken, SERVICE)
    # Only the application's Services are missing: a stale kube-proxy still has the system ones.
    assert {p.service_port.split(":")[0] for p in drifted.ports} == {
        s.key for s in broken.services if s.namespace != "kube-system" and s.key != "default/kubernetes" and s.cluster_ip}
    assert all(any(e in line for line in found.finding.evidence) for e in port.missing_endpoints)
    assert any(f"k8snet diff on {node} ({mode} mode)" in line for line in found.finding.evidence)


def test_other_findings_carry_no_drift(lesson):
    broken = faults.inject(lesson, "selector-mismatch", service=SERVICE, client=CLIENT).cluster
    assert ladder.climb(broken, client=CLIENT, service=SERVICE).finding.drift is None


def test_an_unknown_proxy_mode_is_refused(lesson):
    with pytest.raises(InvalidValue, match=r"no proxy mode 'ipvs' \(modes: iptables, nftables\)"):
        ladder.climb(lesson, client=CLIENT, service=SERVICE, proxy_mode="ipvs")


class _StaleRules(ladder.ModelTools):
    """A node whose kube-proxy stopped syncing before a checkout pod was deleted: its rules
    still send to that pod, the ClusterIP request times out (it drew the gone pod), the pods
    that exist answer."""

    def __init__(self, cluster, client, cni, synced_from, proxy_mode):
        super().__init__(cluster, client, cni, 0, proxy_mode)
        object.__setattr__(self, "synced_from", synced_from)

    def curl(self, url):
        service = self.cluster.service(SERVICE)
        if f"//{service.cluster_ip}:" in url:
            text = f"*   Trying {service.cluster_ip}:80...\ncurl: (28) Connection timed out after 3001 milliseconds"
            return parse_curl(text, 28, netshoot.Output(f"curl -v {url}", text, 28))
        return super().curl(url)

    def kube_proxy(self, node):
        return ladder.ModelTools(self.synced_from, self.client, self.cni, 0, self.proxy_mode).kube_proxy(node)


@pytest.mark.parametrize("mode", ["iptables", "nftables"])
def test_kube_proxy_stale_names_an_endpoint_the_node_still_sends_to(lesson, mode):
    service = lesson.service(SERVICE)
    gone = next(p for p in lesson.pods if service.selects(p))
    now = lesson.without_pod(gone.name, gone.namespace)
    client = now.pod(CLIENT)
    tools = _StaleRules(now, client, "flannel", lesson, mode)
    found = ladder.climb_with(tools, now, client=CLIENT, service=SERVICE)
    assert found.verdict == (Layer.SERVICE.value, "kube-proxy-stale"), str(found)
    port = found.finding.drift.ports[0]
    target = next(p.target_port for p in service.ports)
    assert (port.kind, port.stale_endpoints, port.missing_endpoints) == ("stale", (f"{gone.pod_ip}:{target}",), ())
    assert f"stale endpoint {gone.pod_ip}:{target}" in "\n".join(found.finding.evidence)
    assert "its rules for production/checkout-api-svc are not what the API holds" in "\n".join(found.finding.evidence)
