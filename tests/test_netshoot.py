"""The simulated netshoot pod and the connection model behind it, on the lesson's cluster.

Golden texts come from stated facts:
- the lesson's transcript (busybox nslookup; curl -v's "Connected to ... (#0)" and
  "connect to 10.244.2.14 port 3000 failed: Connection refused");
- real tools run in a private network namespace: curl 7.88.1 on a terminal prints
  "*   Trying IP:PORT..." (three spaces), the request and response headers, then
  "* Connection #0 to host H left intact" and the body; refused -> exit 7 "Couldn't
  connect to server"; a dropped SYN -> exit 28; --connect-timeout -> "ipv4 connect
  timeout after Nms, move on!" / "Timeout was reached"; -m -> "Connection timed out after N
  milliseconds"; an address nobody answers ARP for -> "No route to host", exit 7. BIND's
  nslookup prints "Server:\\t\\t", "Address:\\t...#53", "Name:\\t", "Address: ", and
  "** server can't find NAME: NXDOMAIN", "*** Can't find NAME: No answer" (exit 0); net-tools netstat's header is
  "Proto Recv-Q Send-Q Local Address           Foreign Address         State       PID/Program name";
- Kubernetes' DNS-debugging page: busybox nslookup with DNS down prints the server
  without a name and "nslookup: can't resolve 'NAME'"; BIND 9.16 prints
  ";; connection timed out; no servers could be reached".
"""

from __future__ import annotations

import collections
from ipaddress import IPv4Address

import pytest

from k8snet_lesson import faults, netshoot, scenarios
from k8snet_lesson.cluster import LOOPBACK, Container, ContainerPort, PodPhase
from k8snet_lesson.connect import Outcome, Reason, connect
from k8snet_lesson.errors import InvalidValue, NotFound

SERVICE = "production/checkout-api-svc"
CHECKOUT_1 = "production/checkout-api-6f8b9d-2xkpj"  # 10.244.2.14 on node-eu-west-1a
ENDPOINTS = {IPv4Address("10.244.2.14"), IPv4Address("10.244.3.7"), IPv4Address("10.244.4.2")}


@pytest.fixture(scope="module")
def lesson():
    """The lesson's cluster with the lesson's debug pod (kubectl run debug-pod ... -n production)."""
    cluster, pod = netshoot.debug_pod(scenarios.lesson_cluster(), "production")
    return cluster, pod


def broken(lesson, name, **kw):
    cluster, client = lesson
    return faults.inject(cluster, name, service=SERVICE, client=client, **kw).cluster


def test_debug_pod_is_what_kubectl_run_creates(lesson):
    cluster, pod = lesson
    assert pod.key == "production/debug-pod" and pod.labels == {"run": "debug-pod"}
    assert [(c.name, c.image) for c in pod.containers] == [("debug-pod", "nicolaka/netshoot")]
    assert pod.pod_ip in cluster.node(pod.node_name).pod_cidr
    assert len({p.pod_ip for p in cluster.pods if not p.host_network}) == len([p for p in cluster.pods if not p.host_network])
    with pytest.raises(NotFound, match="no node 'node-x'"):
        netshoot.debug_pod(scenarios.lesson_cluster(), "production", node_name="node-x")


# --- nslookup -------------------------------------------------------------------------------

LESSON_NSLOOKUP = """\
Server:    10.96.0.10
Address 1: 10.96.0.10 kube-dns.kube-system.svc.cluster.local

Name:      checkout-api-svc.production.svc.cluster.local
Address 1: 10.96.214.88 checkout-api-svc.production.svc.cluster.local"""


def test_nslookup_prints_the_lessons_transcript(lesson):
    out = netshoot.nslookup(*lesson, "checkout-api-svc.production.svc.cluster.local")
    assert (out.text, out.exit_code) == (LESSON_NSLOOKUP, 0)
    assert out.transcript.startswith("bash-5.1# nslookup checkout-api-svc.production.svc.cluster.local\nServer:")


def test_busybox_shows_the_name_as_typed_and_the_ptr_name(lesson):
    out = netshoot.nslookup(*lesson, "checkout-api-svc")
    assert out.text.splitlines()[3:] == [
        "Name:      checkout-api-svc",
        "Address 1: 10.96.214.88 checkout-api-svc.production.svc.cluster.local",
    ]
    # the search list was walked: the first candidate was the one that answered
    assert out.resolution.fqdn == "checkout-api-svc.production.svc.cluster.local"


@pytest.mark.parametrize(
    "name, style, text, code",
    [
        ("checkout-api-svc", "bind",
         "Server:\t\t10.96.0.10\nAddress:\t10.96.0.10#53\n\nName:\tcheckout-api-svc.production.svc.cluster.local\nAddress: 10.96.214.88\n", 0),
        ("nosuch", "bind", "Server:\t\t10.96.0.10\nAddress:\t10.96.0.10#53\n\n** server can't find nosuch: NXDOMAIN\n", 1),
        # a namespace's name exists with no A record (NODATA): BIND says so and exits 0
        ("production", "bind", "Server:\t\t10.96.0.10\nAddress:\t10.96.0.10#53\n\n*** Can't find production.svc.cluster.local: No answer\n", 0),
        ("nosuch", "busybox",
         "Server:    10.96.0.10\nAddress 1: 10.96.0.10 kube-dns.kube-system.svc.cluster.local\n\nnslookup: can't resolve 'nosuch'", 1),
    ],
)
def test_nslookup_forms(lesson, name, style, text, code):
    out = netshoot.nslookup(*lesson, name, style=style)
    assert (out.text, out.exit_code) == (text, code)


def test_nslookup_when_coredns_is_down(lesson):
    cluster = broken(lesson, "coredns-down")
    client = lesson[1]
    busybox = netshoot.nslookup(cluster, client, "checkout-api-svc")
    assert busybox.text == "Server:    10.96.0.10\nAddress 1: 10.96.0.10\n\nnslookup: can't resolve 'checkout-api-svc'"
    bind = netshoot.nslookup(cluster, client, "checkout-api-svc", style="bind")
    assert (bind.text, bind.exit_code) == (";; connection timed out; no servers could be reached\n", 1)
    assert bind.resolution.timed_out and "no endpoints" in bind.resolution.reason


def test_dns_queries_cross_kube_proxy_like_any_service_traffic(lesson):
    cluster, client = lesson
    path = connect(cluster, client, "10.96.0.10", 53, "UDP")
    assert path.established and path.service.key == "kube-system/kube-dns"
    assert path.server.labels["k8s-app"] == "kube-dns"


# --- curl -----------------------------------------------------------------------------------


def test_curl_by_name_success_golden(lesson):
    out = netshoot.curl(*lesson, "http://checkout-api-svc:80/health")
    assert out.exit_code == 0
    assert out.text == "\n".join([
        "*   Trying 10.96.214.88:80...",
        "* Connected to checkout-api-svc (10.96.214.88) port 80 (#0)",
        "> GET /health HTTP/1.1",
        "> Host: checkout-api-svc",
        "> User-Agent: curl/7.88.1",
        "> Accept: */*",
        "> ",
        "< HTTP/1.1 200 OK",
        "< Content-Type: application/json",
        "< Content-Length: 20",
        "< ",
        "* Connection #0 to host checkout-api-svc left intact",
        '{"status":"healthy"}',
    ])
    assert out.connection.endpoint[0] in ENDPOINTS and out.connection.endpoint[1] == 3000


def test_curl_pod_ip_keeps_the_port_in_the_host_header(lesson):
    out = netshoot.curl(*lesson, "http://10.244.3.7:3000/health")
    assert "> Host: 10.244.3.7:3000" in out.text.splitlines()
    assert out.connection.endpoint is None  # no kube-proxy rule matches a pod IP


def test_curl_refused_golden(lesson):
    # The lesson's third command, with the app bound to 127.0.0.1 in that pod.
    cluster = broken(lesson, "bound-to-localhost", pod="checkout-api-6f8b9d-2xkpj")
    out = netshoot.curl(cluster, lesson[1], "http://10.244.2.14:3000/health")
    assert out.exit_code == 7
    assert out.text == "\n".join([
        "*   Trying 10.244.2.14:3000...",
        "* connect to 10.244.2.14 port 3000 failed: Connection refused",
        "* Failed to connect to 10.244.2.14 port 3000 after 0 ms: Couldn't connect to server",
        "* Closing connection 0",
        "curl: (7) Failed to connect to 10.244.2.14 port 3000 after 0 ms: Couldn't connect to server",
    ])
    assert out.connection.reason is Reason.LOOPBACK_ONLY


@pytest.mark.parametrize(
    "kwargs, lines, code",
    [
        ({}, ["* connect to 10.96.214.88 port 80 failed: Connection timed out",
              "* Failed to connect to 10.96.214.88 port 80 after 127000 ms: Couldn't connect to server",
              "* Closing connection 0",
              "curl: (28) Failed to connect to 10.96.214.88 port 80 after 127000 ms: Couldn't connect to server"], 28),
        ({"connect_timeout": 5}, ["* ipv4 connect timeout after 5000ms, move on!",
                                  "* Failed to connect to 10.96.214.88 port 80 after 5001 ms: Timeout was reached",
                                  "* Closing connection 0",
                                  "curl: (28) Failed to connect to 10.96.214.88 port 80 after 5001 ms: Timeout was reached"], 28),
        ({"max_time": 2}, ["* Connection timed out after 2001 milliseconds",
                           "* Closing connection 0",
                           "curl: (28) Connection timed out after 2001 milliseconds"], 28),
    ],
)
def test_curl_timeouts_when_kube_proxy_is_stale(lesson, kwargs, lines, code):
    cluster = broken(lesson, "kube-proxy-stale")
    out = netshoot.curl(cluster, lesson[1], "http://10.96.214.88:80/health", **kwargs)
    assert out.text.splitlines() == ["*   Trying 10.96.214.88:80..."] + lines
    assert out.exit_code == code


def test_curl_could_not_resolve(lesson):
    out = netshoot.curl(*lesson, "http://checkout-svc/health")
    assert (out.text, out.exit_code) == (
        "* Could not resolve host: checkout-svc\n* Closing connection 0\ncurl: (6) Could not resolve host: checkout-svc", 6)


def test_curl_no_route_to_host(lesson):
    out = netshoot.curl(*lesson, "http://10.244.3.99:3000/")
    assert out.exit_code == 7
    assert out.text.splitlines()[1:3] == [
        "* connect to 10.244.3.99 port 3000 failed: No route to host",
        "* Failed to connect to 10.244.3.99 port 3000 after 3000 ms: Couldn't connect to server",
    ]


@pytest.mark.parametrize("url", ["https://checkout-api-svc/", "http://:80/", "http://10.244.2.14:99999/"])
def test_curl_refuses_urls_it_cannot_model(lesson, url):
    with pytest.raises(InvalidValue, match="URL"):
        netshoot.curl(*lesson, url)


# --- the connection model: a packet-flow table --------------------------------------------------


def _no_endpoints(lesson):
    cluster = broken(lesson, "readiness-failing")
    return cluster


@pytest.mark.parametrize(
    "case, destination, port, outcome, reason",
    [
        ("healthy", "10.96.214.88", 80, Outcome.ESTABLISHED, Reason.ACCEPTED),
        ("healthy", "10.244.2.14", 3000, Outcome.ESTABLISHED, Reason.ACCEPTED),
        ("healthy", "10.244.2.14", 8080, Outcome.REFUSED, Reason.NOT_LISTENING),
        ("healthy", "10.96.214.88", 443, Outcome.TIMED_OUT, Reason.NO_RULE),  # a ClusterIP answers only on its ports
        ("healthy", "10.96.7.7", 80, Outcome.TIMED_OUT, Reason.NO_RULE),
        ("healthy", "10.244.9.9", 80, Outcome.UNREACHABLE, Reason.NOT_A_POD),
        ("healthy", "192.0.2.1", 80, Outcome.TIMED_OUT, Reason.OUTSIDE),
        ("readiness-failing", "10.96.214.88", 80, Outcome.REFUSED, Reason.SERVICE_REJECT),
        ("readiness-failing", "10.244.2.14", 3000, Outcome.ESTABLISHED, Reason.ACCEPTED),  # not ready still answers
        ("kube-proxy-stale", "10.96.214.88", 80, Outcome.TIMED_OUT, Reason.NO_RULE),
        ("kube-proxy-stale", "10.96.0.10", 53, Outcome.ESTABLISHED, Reason.ACCEPTED),  # kube-dns predates the outage
        ("bound-to-localhost", "10.244.3.7", 3000, Outcome.REFUSED, Reason.LOOPBACK_ONLY),
        ("nothing-listening", "10.244.3.7", 3000, Outcome.REFUSED, Reason.NOT_LISTENING),
        ("network-policy-deny", "10.244.3.7", 3000, Outcome.TIMED_OUT, Reason.POLICY_DENIED),
        ("network-policy-deny", "10.96.214.88", 80, Outcome.TIMED_OUT, Reason.POLICY_DENIED),
    ],
)
def test_packet_flow(lesson, case, destination, port, outcome, reason):
    cluster = lesson[0] if case == "healthy" else broken(lesson, case)
    path = connect(cluster, lesson[1], destination, port)
    assert (path.outcome, path.reason) == (outcome, reason), path.detail


def test_flannel_does_not_enforce_network_policy(lesson):
    cluster = broken(lesson, "network-policy-deny")
    assert connect(cluster, lesson[1], "10.244.3.7", 3000, cni="calico").reason is Reason.POLICY_DENIED
    assert connect(cluster, lesson[1], "10.244.3.7", 3000, cni="flannel").established
    # the backends' own namespace peers labelled role=frontend are admitted
    frontend = lesson[1].with_labels({"role": "frontend"})
    assert connect(cluster.with_pod(frontend), frontend, "10.244.3.7", 3000, cni="calico").established


def test_a_pod_that_is_not_running_never_answers(lesson):
    cluster, client = lesson
    stopped = cluster.with_pod(cluster.pod(CHECKOUT_1).with_(phase=PodPhase.FAILED))
    assert connect(stopped, client, "10.244.2.14", 3000).reason is Reason.POD_NOT_RUNNING


def test_loopback_sockets_accept_nothing_from_eth0_but_pod_ip_sockets_do(lesson):
    cluster, client = lesson
    pod = cluster.pod(CHECKOUT_1)
    on_pod_ip = Container("checkout-api", ports=(ContainerPort(3000),), bind_address=pod.pod_ip)
    assert connect(cluster.with_pod(pod.with_(containers=(on_pod_ip,))), client, pod.pod_ip, 3000).established
    on_loopback = on_pod_ip.with_(bind_address=LOOPBACK)
    assert connect(cluster.with_pod(pod.with_(containers=(on_loopback,))), client, pod.pod_ip, 3000).reason is Reason.LOOPBACK_ONLY


def test_endpoint_draws_follow_kube_proxys_shares(lesson):
    # Statistical: 3000 seeded connections (seeds 0..2999); each endpoint's share must be
    # within 0.03 of 1/3 (a binomial standard deviation is 0.0086, so this is 3.5 sigma).
    cluster, client = lesson
    counts = collections.Counter(connect(cluster, client, "10.96.214.88", 80, seed=s).endpoint[0] for s in range(3000))
    assert set(counts) == ENDPOINTS
    for address in ENDPOINTS:
        assert abs(counts[address] / 3000 - 1 / 3) < 0.03
    assert {round(share, 6) for (_, _, share) in connect(cluster, client, "10.96.214.88", 80).candidates} == {round(1 / 3, 6)}


@pytest.mark.parametrize(
    "kwargs, error, message",
    [
        (dict(destination="10.96.214.300", port=80), InvalidValue, "destination '10.96.214.300' is not an IPv4 address"),
        (dict(destination="10.96.214.88", port=0), InvalidValue, "port 0 is not a port number"),
        (dict(destination="10.96.214.88", port=80, cni="weave"), NotFound, r"no CNI profile 'weave' \(profiles: flannel, "),
    ],
)
def test_bad_connections_are_named(lesson, kwargs, error, message):
    with pytest.raises(error, match=message):
        connect(lesson[0], lesson[1], **kwargs)


# --- netstat, resolv.conf, kubectl -----------------------------------------------------------

NETSTAT_HEAD = [
    "Active Internet connections (only servers)",
    "Proto Recv-Q Send-Q Local Address           Foreign Address         State       PID/Program name",
]


@pytest.mark.parametrize(
    "case, rows",
    [
        ("healthy", ["tcp        0      0 0.0.0.0:3000            0.0.0.0:*               LISTEN      1/checkout-api"]),
        ("bound-to-localhost", ["tcp        0      0 127.0.0.1:3000          0.0.0.0:*               LISTEN      1/checkout-api"]),
        ("app-wrong-port", ["tcp        0      0 0.0.0.0:8080            0.0.0.0:*               LISTEN      1/checkout-api"]),
        ("nothing-listening", []),
    ],
)
def test_netstat_inside_the_pod(lesson, case, rows):
    cluster = lesson[0] if case == "healthy" else broken(lesson, case)
    out = netshoot.netstat(cluster, CHECKOUT_1)
    assert out.text.splitlines() == NETSTAT_HEAD + rows
    assert out.command == "kubectl exec -it checkout-api-6f8b9d-2xkpj -n production -- netstat -tlnp"


def test_netstat_names_only_the_processes_of_the_container_it_runs_in(lesson):
    cluster, _ = lesson
    pod = cluster.pod(CHECKOUT_1)
    sidecar = Container("envoy", ports=(ContainerPort(15001),), image="envoyproxy/envoy:v1.29.1")
    two = cluster.with_pod(pod.with_(containers=pod.containers + (sidecar,)))
    rows = netshoot.netstat(two, CHECKOUT_1, container="envoy").text.splitlines()[2:]
    assert [r.split()[3] + " " + r.split()[-1] for r in rows] == ["0.0.0.0:3000 -", "0.0.0.0:15001 1/envoy"]
    with pytest.raises(InvalidValue, match=r"container 'nginx' is not in pod production/checkout-api-6f8b9d-2xkpj \(containers: checkout-api, envoy\)"):
        netshoot.netstat(two, CHECKOUT_1, container="nginx")


def test_resolv_conf_of_the_debug_pod(lesson):
    assert netshoot.cat_resolv_conf(*lesson).text == (
        "search production.svc.cluster.local svc.cluster.local cluster.local\nnameserver 10.96.0.10\noptions ndots:5")


def test_kubectl_get_endpoints_shows_the_lessons_line(lesson):
    out = netshoot.kubectl_get_endpoints(lesson[0], SERVICE)
    assert out.command == "kubectl get endpoints checkout-api-svc -n production"
    assert out.text.splitlines()[1].split() == ["checkout-api-svc", "10.244.2.14:3000,10.244.3.7:3000,10.244.4.2:3000", "8d"]
    assert "<none>" in netshoot.kubectl_get_endpoints(broken(lesson, "selector-mismatch"), SERVICE).text
