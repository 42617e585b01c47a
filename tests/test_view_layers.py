"""The tables and widgets of notebooks 00-02: the course map, the four rules, the three
network layers, pod churn and cluster sizing.

Facts the expected values rest on:
- the lesson's table of network layers: node 192.168.0.0/16, pod 10.244.0.0/16,
  service 10.96.0.0/12;
- a /16 holds 256 /24s; a /24 behind the bridge plugin gives host-local 253 pod
  addresses (.1 is cni0, network and broadcast are not handed out), a /26 gives 61;
  kubelet's default --max-pods is 110; a /12 service range holds 2^20 - 2 ClusterIPs;
  a /16 node network 65,534 host addresses;
- kube-apiserver gives kubernetes.default the first address of the service range and
  kubeadm gives kube-dns the tenth; its lower (static) band of a /12 is 256 addresses
  long, and dynamic ClusterIPs come from the band above;
- a container restart keeps the pod (same name, same IP); a deleted pod is replaced by
  a new one named <replicaset>-<5 characters of bcdfghjklmnpqrstvwxz2456789>, and
  host-local gives it the next free address after the last one it handed out;
- on plain Docker hosts a container on another host is dialled at that host's IP and
  a published port (from 32768), its source is masqueraded to its host's IP.
"""

from __future__ import annotations

import re
from ipaddress import IPv4Address, IPv4Network

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from k8snet_lesson import __version__
from k8snet_lesson.cluster import Cluster, Container, ContainerPort, Node, Pod, Service, ServicePort
from k8snet_lesson.errors import InvalidValue, NotFound
from k8snet_lesson.ipam import CIDRSet, HostLocal, ServiceIPRange, plan
from k8snet_lesson.networking_model import FLAT, check_all, natted, what_the_app_sees
from k8snet_lesson.view import layers

A = IPv4Address
N = IPv4Network
SUFFIX = "[bcdfghjklmnpqrstvwxz2456789]"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def serving(port: int) -> tuple[Container, ...]:
    return (Container("app", ports=(ContainerPort(port),)),)


def labels(app: str, template_hash: str) -> dict[str, str]:
    return {"app": app, "pod-template-hash": template_hash}


NODES = (
    Node("node-eu-west-1a", "192.168.1.10", pod_cidr="10.244.2.0/24"),
    Node("node-eu-west-1b", "192.168.2.10", pod_cidr="10.244.3.0/24"),
    Node("node-eu-west-1c", "192.168.3.10", pod_cidr="10.244.4.0/24"),
)
CHECKOUT_A = "production/checkout-api-6f8b9d-2xkpj"
CHECKOUT_B = "production/checkout-api-6f8b9d-7rvqn"
PAYMENT = "production/payment-api-7d9c4b-xr7nq"
AUTH = "production/auth-service-5c7d8f-p2rkx"


def lesson_like() -> Cluster:
    """The lesson's four pods (`kubectl get pods -o wide -n production`) and its Service."""
    return Cluster(
        nodes=NODES,
        pods=(
            Pod("production", "checkout-api-6f8b9d-2xkpj", labels=labels("checkout-api", "6f8b9d"),
                node_name="node-eu-west-1a", pod_ip="10.244.2.14", containers=serving(3000)),
            Pod("production", "checkout-api-6f8b9d-7rvqn", labels=labels("checkout-api", "6f8b9d"),
                node_name="node-eu-west-1b", pod_ip="10.244.3.7", containers=serving(3000)),
            Pod("production", "payment-api-7d9c4b-xr7nq", labels=labels("payment-api", "7d9c4b"),
                node_name="node-eu-west-1a", pod_ip="10.244.2.15", containers=serving(8080)),
            Pod("production", "auth-service-5c7d8f-p2rkx", labels=labels("auth-service", "5c7d8f"),
                node_name="node-eu-west-1c", pod_ip="10.244.4.2", containers=serving(9000)),
        ),
        services=(
            Service("production", "checkout-api-svc", selector={"app": "checkout-api"}, cluster_ip="10.96.214.88",
                    ports=(ServicePort(80, 3000),)),
        ),
        node_network="192.168.0.0/16",
    )


# --- 00 -----------------------------------------------------------------------------


def test_course_map_lists_notebooks_00_to_08_in_order():
    frame = layers.course_map()
    assert list(frame.index) == [f"{n:02d}" for n in range(9)]
    assert frame.loc["01", "title"] == "The networking model"
    assert frame["title"].is_unique


def test_environment_check_reports_the_package_and_live_widgets():
    frame = layers.environment_check()
    assert frame.loc["k8snet_lesson", "result"] == __version__
    assert frame.loc["widgets", "result"].startswith("yes")


def test_pods_view_prints_what_kubectl_prints_for_each_choice():
    view = layers.pods_view(lesson_like(), namespace="production")
    lines = view.last.splitlines()
    assert lines[0] == "$ kubectl get pods -o wide -n production"
    assert lines[1].split() == ["NAME", "READY", "STATUS", "RESTARTS", "AGE", "IP", "NODE", "NOMINATED", "NODE",
                                "READINESS", "GATES"]
    # the API server lists by name
    assert [line.split()[0] for line in lines[2:]] == sorted(p.split("/")[1] for p in (CHECKOUT_A, CHECKOUT_B, PAYMENT, AUTH))

    view.columns.value = "lesson"
    assert view.last.splitlines()[1].split() == ["NAME", "READY", "STATUS", "NODE", "IP"]
    row = next(line for line in view.last.splitlines() if line.startswith("checkout-api-6f8b9d-2xkpj"))
    assert row.split() == ["checkout-api-6f8b9d-2xkpj", "1/1", "Running", "node-eu-west-1a", "10.244.2.14"]

    view.node.value = "node-eu-west-1a"  # the lesson's two pods that share a node
    lines = view.last.splitlines()
    assert lines[0] == "$ kubectl get pods -o wide -n production --field-selector spec.nodeName=node-eu-west-1a"
    assert [line.split()[0] for line in lines[2:]] == ["checkout-api-6f8b9d-2xkpj", "payment-api-7d9c4b-xr7nq"]
    assert "k8snet-pods-text" in view.output.value


def test_pods_view_says_no_resources_like_kubectl():
    cluster = lesson_like().with_pod(Pod("staging", "web-1", node_name="node-eu-west-1b", pod_ip="10.244.3.30"))
    view = layers.pods_view(cluster, namespace="staging", node="node-eu-west-1a")
    assert view.last.splitlines()[1] == "No resources found in staging namespace."
    view.namespace.value = ""
    assert view.last.splitlines()[0] == "$ kubectl get pods -o wide -A --field-selector spec.nodeName=node-eu-west-1a"
    assert view.last.splitlines()[1].split()[:2] == ["NAMESPACE", "NAME"]


def test_pods_view_refuses_unknown_names():
    with pytest.raises(NotFound, match="no pods in namespace 'staging'"):
        layers.pods_view(lesson_like(), namespace="staging")
    with pytest.raises(NotFound, match="no node 'node-9'"):
        layers.pods_view(lesson_like(), node="node-9")
    with pytest.raises(InvalidValue, match="columns 'tall' is not one of wide, lesson"):
        layers.pods_view(lesson_like(), columns="tall")


# --- the three layers -------------------------------------------------------------------


def test_network_layers_keep_the_lessons_table_and_add_what_the_ranges_hold():
    frame = layers.network_layers(lesson_like())
    assert list(frame.index) == ["Node Network", "Pod Network", "Service Network"]
    assert list(frame["typical CIDR"]) == ["192.168.0.0/16", "10.244.0.0/16", "10.96.0.0/12"]
    assert frame.loc["Pod Network", "who manages it"] == "CNI plugin (Calico, Flannel, Cilium, WeaveNet)"
    assert list(frame["in use"]) == ["3 nodes", "4 pods", "1 ClusterIP"]
    assert frame.loc["Node Network", "capacity (computed)"] == "65,534 node addresses"
    assert frame.loc["Pod Network", "capacity (computed)"] == "256 node CIDRs (/24) x 110 pods = 28,160 pods"
    assert frame.loc["Service Network", "capacity (computed)"] == f"{2**20 - 2:,} ClusterIPs"


def test_network_layers_follow_the_clusters_own_flags():
    cluster = lesson_like().with_(cluster_cidr="10.32.0.0/12", node_cidr_mask_size=26, node_network=None)
    frame = layers.network_layers(cluster)
    assert frame.loc["Node Network", "this cluster's CIDR"] == "(not given)"
    # a /12 holds 2^14 /26s; host-local hands out 61 of a /26's 64 addresses
    assert frame.loc["Pod Network", "capacity (computed)"] == f"{2**14:,} node CIDRs (/26) x 61 pods = {2**14 * 61:,} pods"


def test_network_members_put_every_address_in_its_network():
    frame = layers.network_members(lesson_like())
    assert list(frame["network"].value_counts().sort_index().items()) == [
        ("node network", 3), ("pod network", 4), ("service network", 1)
    ]
    assert frame["inside the CIDR"].all()
    row = frame.set_index("name").loc[CHECKOUT_A]
    assert (row["address"], row["CIDR"], row["note"]) == ("10.244.2.14", "10.244.0.0/16",
                                                         "on node-eu-west-1a, podCIDR 10.244.2.0/24")


def test_network_members_flag_addresses_outside_their_ranges_and_host_network_pods():
    cluster = lesson_like()
    stray = cluster.pod(CHECKOUT_B).with_pod_ip("10.245.0.9")
    host = Pod("kube-system", "kube-proxy-abcde", node_name="node-eu-west-1c", host_network=True)
    cluster = cluster.with_pod(stray).with_pod(host).with_node(NODES[0].with_(internal_ip="172.31.0.5"))
    frame = layers.network_members(cluster).set_index("name")
    assert frame.loc[CHECKOUT_B, "inside the CIDR"] == False  # noqa: E712 (numpy bool)
    assert frame.loc[CHECKOUT_B, "note"].endswith("(outside it)")
    assert frame.loc["node-eu-west-1a", "inside the CIDR"] == False  # noqa: E712
    assert (frame.loc["kube-system/kube-proxy-abcde", "network"], frame.loc["kube-system/kube-proxy-abcde", "address"]) == (
        "node network", "192.168.3.10")


# --- 01: the rules ----------------------------------------------------------------------


def test_rules_table_flat_all_hold_natted_breaks_1_3_4():
    cluster = lesson_like()
    flat = layers.rules_table(check_all(cluster))
    assert flat["holds"].tolist() == [True, True, True, True]
    nat_cluster, network = natted(cluster)
    broken = layers.rules_table(check_all(nat_cluster, network))
    assert broken["holds"].tolist() == [False, True, False, False]
    assert broken.loc[1, "the lesson says"].startswith("Every Pod gets its own unique IP address.")


def test_evidence_tables_show_the_deciding_columns():
    cluster = lesson_like()
    nat_cluster, network = natted(cluster)
    rules = check_all(nat_cluster, network)
    cross = layers.evidence_table(rules[2])
    # 4 pods on 3 nodes: 12 ordered pairs, 2 of them on the same node
    assert len(cross) == 10
    assert set(cross["dialled"]) == {"192.168.1.10", "192.168.2.10", "192.168.3.10"}
    assert set(cross["direct"]) == {False}
    addresses = layers.evidence_table(rules[0]).set_index("pod")
    assert addresses.loc[CHECKOUT_A, "pod_ip"] == "172.17.0.2"
    assert addresses.loc[PAYMENT, "pod_ip"] == "172.17.0.3"
    selves = layers.evidence_table(check_all(cluster)[3]).set_index("pod")
    assert selves.loc[CHECKOUT_A, "own_ip"] == "10.244.2.14"
    assert selves.loc[CHECKOUT_A, "peers_dial"] == "10.244.2.14"


@pytest.mark.parametrize(
    ("nat", "client", "server", "log_source", "dialled", "rewrites"),
    [
        (False, CHECKOUT_A, CHECKOUT_B, "10.244.2.14", "10.244.3.7:3000", 0),
        (False, PAYMENT, CHECKOUT_A, "10.244.2.15", "10.244.2.14:3000", 0),
        # Docker hosts: the same node talks directly over docker0
        (True, PAYMENT, CHECKOUT_A, "172.17.0.3", "172.17.0.2:3000", 0),
        # another node: its IP and the first published port; the source is the client's node
        (True, CHECKOUT_A, CHECKOUT_B, "192.168.1.10", "192.168.2.10:32768", 2),
        (True, CHECKOUT_A, AUTH, "192.168.1.10", "192.168.3.10:32768", 2),
    ],
)
def test_what_each_application_sees(nat, client, server, log_source, dialled, rewrites):
    cluster, network = natted(lesson_like()) if nat else (lesson_like(), FLAT)
    connection = what_the_app_sees(cluster, network, client, server)
    table = layers.connection_table(connection)["value"]
    assert table["the client dials"] == dialled
    assert table["source IP the server sees"] == log_source
    assert table["address rewrites on the way"] == str(rewrites)
    assert table["direct (no NAT, real IPs)"] == ("yes" if rewrites == 0 else "no")
    assert layers.access_log_line(connection) == f'{log_source} - - [...] "GET /health HTTP/1.1" 200 -'


def test_rewrite_rules_are_dockers_masquerade_then_dnat():
    cluster, network = natted(lesson_like())
    connection = what_the_app_sees(cluster, network, CHECKOUT_A, CHECKOUT_B)
    assert layers.rewrite_rules(connection).splitlines() == [
        "# node-eu-west-1a, nat table: source 172.17.0.2 -> 192.168.1.10",
        "-A POSTROUTING -s 172.17.0.0/16 ! -o docker0 -j MASQUERADE",
        "# node-eu-west-1b, nat table: destination 192.168.2.10 -> 172.17.0.2",
        "-A DOCKER ! -i docker0 -p tcp -m tcp --dport 32768 -j DNAT --to-destination 172.17.0.2:3000",
    ]
    assert layers.rewrite_rules(what_the_app_sees(lesson_like(), FLAT, CHECKOUT_A, CHECKOUT_B)) == ""


def test_a_connection_that_reaches_nothing_leaves_no_log_line():
    cluster = lesson_like().with_pod(
        Pod("production", "quiet-1", node_name="node-eu-west-1b", pod_ip="10.244.3.9")  # declares no port
    )
    nat_cluster, network = natted(cluster)
    connection = what_the_app_sees(nat_cluster, network, CHECKOUT_A, "production/quiet-1")
    assert connection.reached is None
    assert layers.access_log_line(connection) == ""
    assert layers.connection_table(connection).loc["the client dials", "value"] == "nothing to dial"


def test_connection_explorer_answers_each_change():
    explorer = layers.connection_explorer(lesson_like(), client=CHECKOUT_A, server=CHECKOUT_B)
    assert explorer.last.direct and 'data-direct="true"' in explorer.result.value
    assert "10.244.2.14 - - [...]" in explorer.result.value

    explorer.network.value = "natted"
    assert not explorer.last.direct
    assert 'data-direct="false"' in explorer.result.value
    assert "192.168.1.10 - - [...]" in explorer.result.value
    assert "--dport 32768 -j DNAT --to-destination 172.17.0.2:3000" in explorer.result.value

    explorer.server.value = PAYMENT  # same node as the client: direct again, even on Docker hosts
    assert explorer.last.direct and explorer.message.value == ""

    explorer.server.value = CHECKOUT_A
    assert "same pod" in explorer.message.value and "k8snet-message" in explorer.message.value
    assert explorer.result.value == "" and explorer.last is None


def test_connection_explorer_refuses_what_it_cannot_show():
    with pytest.raises(NotFound, match="no pod 'production/nope'"):
        layers.connection_explorer(lesson_like(), client="production/nope")
    with pytest.raises(InvalidValue, match="network 'vpn' is not one of flat, natted"):
        layers.connection_explorer(lesson_like(), network="vpn")
    lonely = Cluster(nodes=NODES, pods=(lesson_like().pod(CHECKOUT_A),))
    with pytest.raises(InvalidValue, match="a connection needs two"):
        layers.connection_explorer(lonely)


# --- 02: allocation ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("block", "gateway", "ips", "count"),
    [
        ("10.244.0.0/24", "10.244.0.1", "10.244.0.2 - 10.244.0.254", 253),
        ("10.244.1.0/26", "10.244.1.1", "10.244.1.2 - 10.244.1.62", 61),
        ("10.244.1.64/30", "10.244.1.65", "10.244.1.66 - 10.244.1.66", 1),
        ("10.244.1.0/31", "-", "none (a /31 or /32 is too small for host-local)", 0),
    ],
)
def test_node_cidr_table(block, gateway, ips, count):
    row = layers.node_cidr_table({"node-a": N(block)}).loc["node-a"]
    assert (row["spec.podCIDR"], row["cni0 (gateway)"], row["pod IPs"], row["pod addresses"]) == (block, gateway, ips, count)


def test_node_cidr_table_in_the_order_the_range_allocator_hands_blocks_out():
    cidrs = CIDRSet("10.244.0.0/16", 24)
    frame = layers.node_cidr_table({name: cidrs.allocate_next() for name in ("control-plane", "worker-1", "worker-2")})
    assert list(frame["spec.podCIDR"]) == ["10.244.0.0/24", "10.244.1.0/24", "10.244.2.0/24"]


def test_host_local_table_shows_cni0_then_pods_and_the_cursor():
    ipam = HostLocal("10.244.2.0/24")
    ipam.allocate("production/a")
    ipam.allocate("production/b")
    ipam.release("10.244.2.2")
    ipam.allocate("production/c")  # round robin: .4, not the freed .2
    frame = layers.host_local_table(ipam)
    assert list(frame.index) == ["10.244.2.1", "10.244.2.3", "10.244.2.4"]
    assert frame.loc["10.244.2.1", "held by"].startswith("cni0")
    assert frame["cursor"].tolist() == ["", "", "<- last reserved"]


def test_service_ip_table_bands():
    r = ServiceIPRange("10.96.0.0/12", seed=31)
    r.allocate("10.96.0.1", "default/kubernetes")
    r.allocate("10.96.0.10", "kube-system/kube-dns")
    r.allocate("10.96.214.88", "production/checkout-api-svc")
    dynamic = r.allocate_next("production/payment-api-svc")
    frame = layers.service_ip_table(r)
    assert frame.loc["10.96.0.1", "band"] == frame.loc["10.96.0.10", "band"] == "lower (static)"
    assert frame.loc["10.96.214.88", "band"] == "upper (dynamic)"  # requested, but above 10.96.1.0
    assert frame.loc[str(dynamic), "band"] == "upper (dynamic)"
    assert list(frame.index) == sorted(frame.index, key=A)


@settings(max_examples=40, deadline=None)
@given(prefix=st.integers(min_value=12, max_value=27), seed=st.integers(min_value=0, max_value=2**16),
       count=st.integers(min_value=1, max_value=8))
def test_dynamic_clusterips_land_in_the_upper_band(prefix, seed, count):
    r = ServiceIPRange(f"10.96.0.0/{prefix}", seed=seed)
    for i in range(count):
        r.allocate_next(f"default/s{i}")
    bands = layers.service_ip_table(r)["band"]
    assert len(bands) == count
    assert set(bands) == {"upper (dynamic)"}


# --- 02: churn --------------------------------------------------------------------------


def test_a_container_restart_keeps_pod_and_ip():
    history = layers.churn(lesson_like(), "production/checkout-api-svc", ["container restart"])
    after = history.clusters[-1]
    assert [r.ip_changed for r in history.replacements] == [False, False]
    assert after.pod(CHECKOUT_A).pod_ip == A("10.244.2.14") and after.pod(CHECKOUT_A).restarts == 1


def test_a_deleted_pod_comes_back_with_a_new_name_and_the_next_address():
    history = layers.churn(lesson_like(), "production/checkout-api-svc", ["pod deleted"], seed=3)
    first, second = history.replacements
    assert re.fullmatch(rf"production/checkout-api-6f8b9d-{SUFFIX}{{5}}", first.new_pod)
    assert first.new_pod != CHECKOUT_A and first.node == "node-eu-west-1a"
    # host-local's cursor is past the highest address in use on the node (.15), so .16 next
    assert (first.old_ip, first.new_ip) == (A("10.244.2.14"), A("10.244.2.16"))
    assert (second.old_ip, second.new_ip) == (A("10.244.3.7"), A("10.244.3.8"))
    after = history.clusters[-1]
    assert after.pod(first.new_pod).labels["pod-template-hash"] == "6f8b9d"
    with pytest.raises(NotFound):
        after.pod(CHECKOUT_A)


def test_a_rolling_update_changes_the_template_hash_once_per_deployment():
    history = layers.churn(lesson_like(), "production/checkout-api-svc", ["rolling update"], seed=5)
    hashes = {r.new_pod.rsplit("-", 2)[1] for r in history.replacements}
    assert len(hashes) == 1
    (new_hash,) = hashes
    assert new_hash != "6f8b9d" and re.fullmatch(rf"{SUFFIX}{{6}}", new_hash)
    after = history.clusters[-1]
    assert {after.pod(r.new_pod).labels["pod-template-hash"] for r in history.replacements} == {new_hash}


def test_churn_table_the_clusterip_stays_while_endpoints_follow_the_pods():
    events = ["container restart", "pod deleted", "rolling update", "pod deleted"]
    history = layers.churn(lesson_like(), "production/checkout-api-svc", events, seed=1)
    frame = layers.churn_table(history)
    assert list(frame.index) == [0, 1, 2, 3, 4]
    assert list(frame["event"]) == ["(start)", *events]
    assert set(frame["ClusterIP"]) == {"10.96.214.88"}
    assert set(frame["DNS name"]) == {"checkout-api-svc.production.svc.cluster.local"}
    assert frame.loc[0, "ready endpoints"] == "10.244.2.14:3000,10.244.3.7:3000"
    for step, cluster in enumerate(history.clusters):
        ips = sorted(str(p.pod_ip) for p in cluster.pods if p.labels.get("app") == "checkout-api")
        assert sorted(e.split(":")[0] for e in frame.loc[step, "ready endpoints"].split(",")) == ips


def test_replacements_table_one_row_per_pod_per_step():
    history = layers.churn(lesson_like(), "production/checkout-api-svc", ["container restart", "pod deleted"], seed=2)
    frame = layers.replacements_table(history)
    assert list(frame.index) == [1, 1, 2, 2]
    assert list(frame["IP changed"]) == [False, False, True, True]
    assert list(frame["old IP"]) == ["10.244.2.14", "10.244.3.7", "10.244.2.14", "10.244.3.7"]
    assert list(frame["new IP"])[2:] == ["10.244.2.16", "10.244.3.8"]
    assert frame.iloc[0]["old pod"] == frame.iloc[0]["new pod"] == "checkout-api-6f8b9d-2xkpj"


def test_churn_is_reproducible_by_seed():
    events = ["pod deleted", "rolling update"]
    one = layers.churn(lesson_like(), "production/checkout-api-svc", events, seed=9)
    two = layers.churn(lesson_like(), "production/checkout-api-svc", events, seed=9)
    assert one.replacements == two.replacements


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda c: c.with_pod(c.pod(CHECKOUT_A).with_(name="checkout")).without_pod(CHECKOUT_A),
         "is not named like a Deployment's pod"),
        (lambda c: c.with_service(c.service("production/checkout-api-svc").with_(selector={"app": "none"})),
         "selects no pod with an IP"),
    ],
)
def test_churn_refuses_what_a_replicaset_would_not_do(change, message):
    with pytest.raises(InvalidValue, match=message):
        layers.churn(change(lesson_like()), "production/checkout-api-svc", ["pod deleted"])


@settings(max_examples=40, deadline=None)
@given(events=st.lists(st.sampled_from(list(layers.ChurnEvent)), min_size=1, max_size=12),
       seed=st.integers(min_value=0, max_value=2**16))
def test_churn_invariants(events, seed):
    history = layers.churn(lesson_like(), "production/checkout-api-svc", events, seed=seed)
    for cluster in history.clusters:
        ips = [p.pod_ip for p in cluster.pods]
        assert len(ips) == len(set(ips)), "pod IPs are unique"
        names = [p.key for p in cluster.pods]
        assert len(names) == len(set(names)), "pod names are unique"
        for pod in cluster.pods:
            node = cluster.node(pod.node_name)
            assert pod.pod_ip in node.pod_cidr and pod.pod_ip != node.pod_cidr.network_address + 1
        assert cluster.service("production/checkout-api-svc").cluster_ip == A("10.96.214.88")
        assert len(cluster.pods) == 4
    for r in history.replacements:
        # only a container restart keeps the address; a new pod never gets the one just freed
        assert r.ip_changed == (r.event is not layers.ChurnEvent.CONTAINER_RESTART)
        assert (r.new_pod == r.old_pod) == (r.event is layers.ChurnEvent.CONTAINER_RESTART)


# --- 02: sizing -------------------------------------------------------------------------


def test_sizing_table_reads_the_plan():
    frame = layers.sizing_table(plan(cluster_cidr="10.244.0.0/16", node_cidr_mask_size=24,
                                     service_cidr="10.96.0.0/12", node_network="192.168.0.0/16"))["value"]
    assert frame["nodes (node CIDRs handed out)"] == "256"
    assert frame["pod addresses per node CIDR (host-local)"] == "253"
    assert frame["pods in the cluster"] == "28,160"
    assert frame["ClusterIPs"] == "1,048,574"
    assert frame["kubernetes.default ClusterIP"] == "10.96.0.1"
    assert frame["kube-dns ClusterIP"] == "10.96.0.10"
    assert frame["overlaps"] == "none"


@pytest.mark.parametrize(
    ("cluster_cidr", "mask", "service_cidr", "node_network", "shape", "per_cell", "counts"),
    [
        ("10.244.0.0/16", 24, "10.96.0.0/12", None, (16, 16), 1, {0: 256}),
        ("10.244.0.0/24", 24, "10.96.0.0/12", None, (1, 1), 1, {0: 1}),
        ("10.244.0.0/16", 25, "10.96.0.0/12", None, (16, 32), 1, {0: 512}),
        # 10.96.0.0/12 covers 4,096 of the /8's 65,536 /24s; 16 per cell -> 256 cells
        ("10.0.0.0/8", 24, "10.96.0.0/12", None, (64, 64), 16, {0: 3840, 2: 256}),
        # the node network 10.0.0.0/16 is 256 /24s: 16 cells
        ("10.0.0.0/8", 24, "10.96.0.0/12", "10.0.0.0/16", (64, 64), 16, {0: 3824, 2: 256, 3: 16}),
        # the service range overlaps one /24 of the cluster CIDR
        ("10.96.0.0/16", 24, "10.96.5.0/24", None, (16, 16), 1, {0: 255, 2: 1}),
    ],
)
def test_node_cidr_grid(cluster_cidr, mask, service_cidr, node_network, shape, per_cell, counts):
    import numpy as np

    grid, cells = layers.node_cidr_grid(plan(cluster_cidr=cluster_cidr, node_cidr_mask_size=mask,
                                             service_cidr=service_cidr, node_network=node_network))
    assert grid.shape == shape and cells == per_cell
    values, numbers = np.unique(grid, return_counts=True)
    assert dict(zip(values.tolist(), numbers.tolist())) == counts


def test_node_cidr_grid_marks_assigned_blocks_in_address_order():
    p = plan(cluster_cidr="10.244.0.0/16", service_cidr="10.96.0.0/12")
    grid, _ = layers.node_cidr_grid(p, [N("10.244.2.0/24"), N("10.244.17.0/24")])
    assert grid[0, 2] == grid[1, 1] == layers.CIDRState.ASSIGNED
    assert int((grid == layers.CIDRState.ASSIGNED).sum()) == 2


@settings(max_examples=60, deadline=None)
@given(cluster_prefix=st.integers(min_value=8, max_value=24), extra_bits=st.integers(min_value=0, max_value=12),
       service_prefix=st.integers(min_value=12, max_value=28), service_base=st.integers(min_value=0, max_value=2**20))
def test_node_cidr_grid_counts_the_blocks_the_range_allocator_filters(cluster_prefix, extra_bits, service_prefix,
                                                                       service_base):
    mask = min(32, cluster_prefix + extra_bits)
    cluster_cidr = N(f"10.0.0.0/{cluster_prefix}", strict=False)
    service_cidr = N((int(A("10.0.0.0")) + (service_base << (32 - service_prefix)) % 2**24, service_prefix), strict=False)
    p = plan(cluster_cidr=cluster_cidr, node_cidr_mask_size=mask, service_cidr=service_cidr)
    grid, per_cell = layers.node_cidr_grid(p)
    assert grid.size * per_cell == p.node_cidrs
    filtered = int((grid == layers.CIDRState.SERVICE_OVERLAP).sum())
    if per_cell == 1:
        assert filtered == p.node_cidrs - p.nodes
    else:  # a merged cell is marked if any of its blocks is filtered
        assert filtered * per_cell >= p.node_cidrs - p.nodes > (filtered - 2) * per_cell


def test_node_cidr_figure():
    p = plan(cluster_cidr="10.244.0.0/16", service_cidr="10.96.0.0/12")
    fig = layers.node_cidr_figure(p, [N("10.244.2.0/24")])
    (ax,) = fig.axes
    assert ax.get_title() == "10.244.0.0/16 as /24 node CIDRs: 256 blocks, 256 assignable"
    assert ax.get_xlabel() and ax.get_ylabel()
    assert [t.get_text() for t in ax.get_yticklabels()] == ["10.244.0.0/24", "10.244.240.0/24"]


def test_sizing_explorer_recomputes_on_each_change():
    explorer = layers.sizing_explorer()
    assert explorer.message.value == ""
    assert 'data-nodes="256"' in explorer.result.value and 'data-pods-per-node="110"' in explorer.result.value
    assert explorer.result.value.count('class="k8snet-strip-run"') == 1  # one run: all 256 node CIDRs free

    explorer.mask.value = "26"
    assert 'data-nodes="1024"' in explorer.result.value and 'data-pods-per-node="61"' in explorer.result.value
    assert "max-pods 110 is more than a /26 node CIDR holds" in explorer.result.value

    explorer.mask.value = "24"
    explorer.cluster_cidr.value = "10.96.0.0/16"
    assert 'data-ok="false"' in explorer.result.value
    assert "pod network 10.96.0.0/16 overlaps service network 10.96.0.0/12" in explorer.result.value
    assert 'data-nodes="0"' in explorer.result.value  # every block lies in the service range

    explorer.node_network.value = ""
    explorer.cluster_cidr.value = "10.244.0.0/16"
    assert 'data-ok="true"' in explorer.result.value and explorer.last.node_network is None


@pytest.mark.parametrize(
    ("box", "value", "message"),
    [
        ("cluster_cidr", "10.244.0.0/33", "cluster CIDR &#x27;10.244.0.0/33&#x27; is not a valid IPv4 CIDR"),
        ("cluster_cidr", "10.244.1.0/16", "has host bits set (the network is 10.244.0.0/16)"),
        ("cluster_cidr", "banana", "cluster CIDR &#x27;banana&#x27; is not a valid IPv4 CIDR"),
        ("mask", "12", "node CIDR mask size /12 is shorter than the cluster CIDR 10.244.0.0/16"),
        ("mask", "33", "node CIDR mask size &#x27;33&#x27; is not a prefix length (0-32)"),
        ("max_pods", "0", "max-pods 0 is not a positive whole number"),
        ("max_pods", "lots", "max-pods &#x27;lots&#x27; is not a positive whole number"),
        ("service_cidr", "10.0.0.0/8", "specified --service-cluster-ip-range is too large"),
        ("node_network", "192.168.0.0", "node network &#x27;192.168.0.0&#x27; is not a valid IPv4 CIDR (no /prefix length)"),
    ],
)
def test_sizing_explorer_explains_nonsense_instead_of_failing(box, value, message):
    explorer = layers.sizing_explorer()
    getattr(explorer, box).value = value
    assert 'class="k8snet-message"' in explorer.message.value
    assert message in explorer.message.value
    assert explorer.result.value == "" and explorer.last is None
    getattr(explorer, box).value = {"cluster_cidr": "10.244.0.0/16", "mask": "24", "max_pods": "110",
                                    "service_cidr": "10.96.0.0/12", "node_network": "192.168.0.0/16"}[box]
    assert explorer.message.value == "" and explorer.last is not None


def test_widgets_carry_the_css_classes_the_browser_tests_look_for():
    sizing = layers.sizing_explorer()
    classes = {
        "k8snet-sizing-cluster-cidr": sizing.cluster_cidr, "k8snet-sizing-mask": sizing.mask,
        "k8snet-sizing-max-pods": sizing.max_pods, "k8snet-sizing-service-cidr": sizing.service_cidr,
        "k8snet-sizing-node-network": sizing.node_network, "k8snet-sizing-result": sizing.result,
        "k8snet-message": sizing.message,
    }
    for css, widget in classes.items():
        assert css in widget._dom_classes, css
    connection = layers.connection_explorer(lesson_like())
    assert "k8snet-connection-result" in connection.result._dom_classes
    assert "k8snet-message" in connection.message._dom_classes
