"""Notebooks 00-02 and what they stand on: the lesson's discrepancies, who reaches whom,
what a server records, pod churn, the sizing strip and the gates of 01 and 02."""

from __future__ import annotations

from ipaddress import IPv4Address, IPv4Network
from pathlib import Path

import pytest

import course_shape
from k8snet_lesson import churn, faults, networking_model, predictions
from k8snet_lesson.discrepancies import FIELDS, discrepancies, load
from k8snet_lesson.errors import InvalidValue, NotFound
from k8snet_lesson.ipam import plan
from k8snet_lesson.networking_model import FLAT, Reach, natted, reachers_of, what_the_app_sees, who_reaches_whom
from k8snet_lesson.predictions import check
from k8snet_lesson.scenarios import lesson_cluster
from k8snet_lesson.view import layers

ROOT = Path(__file__).resolve().parents[1]
CLIENT, SERVER = "production/checkout-api-6f8b9d-2xkpj", "production/checkout-api-6f8b9d-7rvqn"
COREDNS = "kube-system/coredns-5d78c9869d-4k7mz"


@pytest.fixture(scope="module")
def cluster():
    return lesson_cluster()


# --- 00: the lesson's discrepancies ---------------------------------------------------------


def test_the_discrepancies_cover_the_series_and_fold_past_twelve_rows():
    rows = discrepancies()
    assert len(rows) >= 15
    assert {d.notebook for d in rows} >= {"00", "01", "02", "03", "04", "05", "06"}
    html = layers.discrepancies_table()._repr_html_()
    shown, folded = html.split("<details", 1)
    assert shown.count("<tr>") == 12 + 1  # twelve rows and the header
    assert folded.count("<tr>") == len(rows) - 12


def test_the_first_discrepancy_is_the_clusters_own_resolution(cluster):
    first = discrepancies()[0]
    assert "10.244.4.2" in first.lesson and first.notebook == "00"
    assert str(cluster.pod("production/checkout-api-6f8b9d-m5t9w").pod_ip) == "10.244.4.2"
    assert str(cluster.pod("production/auth-service-5c7d8f-p2rkx").pod_ip) in first.course


@pytest.mark.parametrize("text, message", [
    ("discrepancies: []", "no 'discrepancies:' list"),
    ("lesson: [", "not YAML"),
    ("discrepancies:\n- just a line", "entry 1 is not a mapping"),
    ("discrepancies:\n- {lesson: a, real: b, course: c, notebook: '01'}", "entry 1: no source"),
    ("discrepancies:\n- {lesson: a, real: b, course: c, notebook: '01', source: s, extra: x}", "entry 1: unknown extra"),
    ("discrepancies:\n- {lesson: a, real: b, course: c, notebook: '9', source: s}", "notebook '9' is not 00-08"),
    ("discrepancies:\n- {lesson: a, real: b, course: c, notebook: '01', source: s}\n"
     "- {lesson: a, real: b, course: c, notebook: '02', source: s}", "an entry is listed twice"),
])
def test_a_bad_discrepancies_file_is_named_with_its_entry(tmp_path, text, message):
    path = tmp_path / "discrepancies.yaml"
    path.write_text(text)
    with pytest.raises(InvalidValue, match=message) as caught:
        load(path)
    assert str(path) in str(caught.value)


def test_a_missing_discrepancies_file_is_an_error_not_a_traceback(tmp_path):
    with pytest.raises(InvalidValue, match="cannot read it"):
        load(tmp_path / "nowhere.yaml")
    assert FIELDS == ("lesson", "real", "course", "notebook", "source")


# --- 01: who reaches whom ------------------------------------------------------------------


def test_on_the_flat_network_everyone_reaches_every_app_with_real_addresses(cluster):
    rows = who_reaches_whom(cluster)
    pods = [p for p in cluster.pods if p.pod_ip is not None and not p.host_network]
    assert len(rows) == (len(cluster.nodes) + len(pods)) * len(pods)
    for r in rows:
        expected = Reach.LOOPBACK if r.source == r.target else Reach.DIRECT
        assert r.reach is expected, r
        if r.reach is Reach.LOOPBACK:
            assert r.via.startswith("127.0.0.1:")


def test_a_nodes_agents_reach_the_pods_on_their_node_directly_on_both_networks(cluster):
    natted_cluster, network = natted(cluster)
    for c in (cluster, natted_cluster):
        for r in who_reaches_whom(c, FLAT if c is cluster else network):
            if r.source.startswith("node/") and c.pod(r.target).node_name == r.source.split("/", 1)[1]:
                assert r.reach is Reach.DIRECT, r


def test_a_natd_network_translates_every_crossing_and_nothing_on_one_node(cluster):
    natted_cluster, network = natted(cluster)
    for r in who_reaches_whom(natted_cluster, network):
        if r.source == r.target:
            continue
        source_node = r.source.split("/", 1)[1] if r.source.startswith("node/") else natted_cluster.pod(r.source).node_name
        same = source_node == natted_cluster.pod(r.target).node_name
        assert r.reach is (Reach.DIRECT if same else Reach.TRANSLATED), r


def test_an_app_bound_to_loopback_is_reached_only_from_inside_its_pod(cluster):
    broken = faults.fault("bound-to-localhost")(cluster, service="production/checkout-api-svc", client=CLIENT,
                                                pod="checkout-api-6f8b9d-2xkpj")
    assert reachers_of(broken, CLIENT) == (CLIENT,)
    refused = [r for r in who_reaches_whom(broken) if r.target == CLIENT and r.source != CLIENT]
    assert refused and all(r.reach is Reach.REFUSED and "127.0.0.1 only" in r.why for r in refused)
    assert len(reachers_of(cluster, CLIENT)) == len(cluster.nodes) + 7  # healthy: everyone


def test_upstream_rules_name_node_agents_and_the_shared_namespace():
    first, second = networking_model.UPSTREAM_RULES
    assert "all Pods on that node" in first and "127.0.0.1" in second


# --- 01: what a server records ---------------------------------------------------------------


def test_a_query_to_coredns_is_shown_as_dns_not_as_an_http_access_log(cluster):
    connection = what_the_app_sees(cluster, FLAT, CLIENT, COREDNS)
    text = layers.server_log(connection, cluster)
    assert connection.protocol.value == "UDP"
    assert text.splitlines() == ["DNS query from 10.244.2.14: A? checkout-api-svc.production.svc.cluster.local.",
                                 "DNS answer: A 10.96.214.88 (NOERROR)"]
    assert "HTTP" not in text and "GET" not in text


def test_an_http_server_gets_an_access_log_line_and_nat_changes_its_source(cluster):
    assert layers.server_log(what_the_app_sees(cluster, FLAT, CLIENT, SERVER), cluster) == \
        'access log: 10.244.2.14 - - [...] "GET /health HTTP/1.1" 200 -'
    natted_cluster, network = natted(cluster)
    dns = layers.server_log(what_the_app_sees(natted_cluster, network, CLIENT, COREDNS), natted_cluster)
    assert dns.startswith("DNS query from 192.168.1.10:")  # the client's node, after MASQUERADE


def test_the_connection_explorer_shows_dns_traffic_as_dns(cluster):
    explorer = layers.connection_explorer(cluster, client=CLIENT, server=COREDNS)
    assert "DNS query from 10.244.2.14" in explorer.result.value and "GET /health" not in explorer.result.value
    explorer.server.value = SERVER
    assert "GET /health HTTP/1.1" in explorer.result.value


def test_the_reach_figure_has_a_title_per_network_and_labelled_axes(cluster):
    fig = layers.reach_figure({"flat": who_reaches_whom(cluster)})
    (ax,) = fig.axes
    assert ax.get_title() == "flat" and ax.get_xlabel() and ax.get_ylabel()
    labels = [t.get_text() for t in ax.get_yticklabels()]
    assert labels[0] == "agents of node-eu-west-1a" and labels[3].startswith("P1 ")


# --- 02: churn -------------------------------------------------------------------------------


def test_replacement_of_names_what_became_of_a_pod(cluster):
    history = churn.churn(cluster, "production/checkout-api-svc", ["pod deleted"], seed=31)
    replaced = churn.replacement_of(history, CLIENT)
    assert replaced.old_ip == IPv4Address("10.244.2.14") and replaced.ip_changed
    assert replaced.new_ip in cluster.node("node-eu-west-1a").pod_cidr
    assert replaced.new_ip not in {p.pod_ip for p in cluster.pods}
    with pytest.raises(NotFound, match="is not among the pods replaced at step 2"):
        churn.replacement_of(history, CLIENT, step=2)


def test_the_view_keeps_the_churn_names_it_had():
    assert layers.churn is churn.churn and layers.ChurnEvent is churn.ChurnEvent


# --- 02: the sizing strip ----------------------------------------------------------------------


@pytest.mark.parametrize("flags, used", [
    (dict(cluster_cidr="10.244.0.0/16", service_cidr="10.96.0.0/12", node_network="192.168.0.0/16"),
     ["10.244.2.0/24", "10.244.3.0/24", "10.244.4.0/24"]),
    (dict(cluster_cidr="10.96.0.0/11", node_cidr_mask_size=16, service_cidr="10.96.0.0/12"), []),
    (dict(cluster_cidr="10.0.0.0/16", service_cidr="10.96.0.0/12", node_network="10.0.0.0/8"), ["10.0.1.0/24"]),
    (dict(cluster_cidr="10.244.0.0/16", node_cidr_mask_size=26, service_cidr="10.244.128.0/20"), []),
])
def test_the_strip_covers_the_cluster_cidr_in_order_without_gaps(flags, used):
    p = plan(**flags)
    runs = layers.cidr_strip(p, [IPv4Network(u) for u in used])
    assert runs[0][0].first == p.cluster_cidr.network_address
    assert runs[-1][0].last == p.cluster_cidr.broadcast_address
    for (a, _), (b, _) in zip(runs, runs[1:]):
        assert int(b.first) == int(a.last) + 1 and a.state != b.state
    assert abs(sum(share for _, share in runs) - 1) < 1e-9
    lost = sum(s.blocks for s, _ in runs if s.state is layers.CIDRState.SERVICE_OVERLAP)
    assert lost == p.node_cidrs - p.nodes
    # an assigned block inside the node network shows the collision, the more telling state
    clear = [u for u in used if not (p.node_network and IPv4Network(u).overlaps(p.node_network))]
    assert sum(s.blocks for s, _ in runs if s.state is layers.CIDRState.ASSIGNED) == len(clear)


def test_the_sizing_widget_shows_a_strip_not_a_table_or_a_grid(cluster):
    explorer = layers.sizing_explorer(used=[n.pod_cidr for n in cluster.nodes])
    result = explorer.result.value
    assert "<table" not in result and "<img" not in result
    assert result.count('class="k8snet-strip-run"') == 3  # free, the lesson's three nodes, free
    assert "3 assigned to a node" in result and "253 free" in result
    explorer.mask.value = "banana"
    assert explorer.result.value == "" and "banana" in explorer.message.value
    explorer.mask.value = "26"  # the lesson's /24s no longer fit these flags: none is shown as assigned
    assert "assigned" not in explorer.result.value and 'data-pods-per-node="61"' in explorer.result.value


# --- the gates of 01 and 02 ----------------------------------------------------------------------


GATES = ("01-loopback", "01-nat-rules", "01-nat-source", "02-next-pod-ip", "02-clusterip-stays",
         "02-pods-per-node", "02-overlap-nodes")


@pytest.mark.parametrize("pid", GATES)
def test_each_gate_is_answered_by_the_model_and_explains_its_tempting_answer(cluster, pid):
    p = predictions.build(pid, cluster)
    assert check(p, p.answer).correct and p.why
    tempting = p.tempting_option
    assert tempting is not None and not check(p, tempting.text).correct
    assert check(p, tempting.text).explanation == tempting.explanation != p.why


def test_the_nat_gates_follow_the_model(cluster):
    natted_cluster, network = natted(cluster)
    failing = [c.number for c in networking_model.check_all(natted_cluster, network) if not c.holds]
    assert predictions.build("01-nat-rules", cluster).answer == "rules " + ", ".join(map(str, failing[:-1])) + \
        f" and {failing[-1]}"
    seen = what_the_app_sees(natted_cluster, network, CLIENT, SERVER).source_seen
    assert predictions.build("01-nat-source", cluster).answer == str(seen) == \
        str(cluster.node("node-eu-west-1a").internal_ip)


def test_the_next_pod_ip_moves_on_when_the_node_has_handed_out_more(cluster):
    assert predictions.build("02-next-pod-ip", cluster).answer == "10.244.2.16"
    other = cluster.pod("production/payment-api-7d9c4b-xr7nq")
    busier = cluster.with_pod(other.with_(name="payment-api-7d9c4b-zz9zz", pod_ip="10.244.2.40", uid=""))
    assert predictions.build("02-next-pod-ip", busier).answer == "10.244.2.41"


def test_the_sizing_gates_follow_the_plan(cluster):
    for mask in (25, 26, 27):
        p = plan(cluster_cidr=cluster.cluster_cidr, node_cidr_mask_size=mask, service_cidr=cluster.service_cidr)
        assert predictions.build("02-pods-per-node", cluster, mask=mask).answer == str(p.pods_per_node)
    assert predictions.build("02-overlap-nodes", cluster, cluster_cidr="10.96.0.0/16").answer == "0"
    assert predictions.build("02-overlap-nodes", cluster, cluster_cidr="10.64.0.0/10").answer == str(
        plan(cluster_cidr="10.64.0.0/10", service_cidr=cluster.service_cidr).nodes)


# --- the notebooks ---------------------------------------------------------------------------------


def _cells(stem):
    return course_shape.load(ROOT / "notebooks" / f"{stem}.ipynb")


@pytest.mark.parametrize("stem", ["02_three_network_layers"])
def test_02_leaves_cni_plumbing_to_notebook_03(stem):
    for cell in _cells(stem):
        if cell.core:
            for word in ("host-local", "cni0", "proxy ARP", "/32", "169.254.1.1"):
                assert word not in cell.source, (cell.index, word)


@pytest.mark.parametrize("stem, gates", [("01_networking_model", {"01-loopback", "01-nat-rules", "01-nat-source"}),
                                         ("02_three_network_layers", set(GATES[3:]))])
def test_each_gate_of_the_notebook_is_asked_on_its_core_path(stem, gates):
    asked = {pid for cell in _cells(stem) if "predict" in cell.tags and cell.core
             for pid in gates if f'"{pid}"' in cell.source}
    assert asked == gates


@pytest.mark.parametrize("stem", ["00_start_here", "01_networking_model", "02_three_network_layers"])
def test_the_graded_cell_calls_the_quiz_for_its_notebook(stem):
    graded = [c for c in _cells(stem) if "graded" in c.tags]
    assert len(graded) == 1
    assert graded[0].source.splitlines() == ["from k8snet_lesson.view.quiz import graded_check",
                                             f'graded_check("{stem[:2]}")']


def test_predictions_of_several_gates_of_one_notebook_all_survive(tmp_path):
    """Every gate opens its own store on the same file; each save keeps the others' entries."""
    from k8snet_lesson.view.learner import Progress

    path = tmp_path / "progress.json"
    first, second = Progress.open(path), Progress.open(path)  # two gates, opened before any answer
    first.record_prediction("01-loopback", "its own pod and the kubelet on its node", correct=False)
    second.record_prediction("01-nat-rules", "rule 3 only", correct=False)
    first.record_prediction("01-loopback", "only the containers of its own pod", correct=True)
    reopened = Progress.open(path)
    assert reopened.prediction("01-loopback")["given"] == "its own pod and the kubelet on its node"
    assert reopened.prediction("01-loopback")["attempts"] == [{"given": "only the containers of its own pod",
                                                                "correct": True}]
    assert reopened.prediction("01-nat-rules")["given"] == "rule 3 only"
