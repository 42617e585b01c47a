"""Notebooks 03 (CNI plugins) and 04 (a request across nodes): the facts they teach, the
walk's hop kinds, their gates computed from the model, and the tables a learner reads."""

from __future__ import annotations

import html
import json
from ipaddress import IPv4Address, IPv4Network
from pathlib import Path

import pytest

from k8snet_lesson import cni, frames, predictions, walk
from k8snet_lesson.cluster import Pod
from k8snet_lesson.errors import InvalidValue
from k8snet_lesson.predictions import check, pod_to_pod
from k8snet_lesson.scenarios import lesson_cluster, two_node_flow
from k8snet_lesson.view import paths
from k8snet_lesson.view.learner import Progress
from k8snet_lesson.walk import HopKind

pytest.importorskip("scapy")

ROOT = Path(__file__).resolve().parents[1]
LESSON = lesson_cluster()
POD_A = "production/checkout-api-6f8b9d-2xkpj"  # node-eu-west-1a
POD_B_IP = "10.244.3.7"  # checkout-api-6f8b9d-7rvqn, node-eu-west-1b
K = HopKind


# --- the walk's hop kinds ------------------------------------------------------------------
@pytest.mark.parametrize("name, kinds", [
    ("calico-vxlan", [K.SEND, K.VETH_IN, K.NAT, K.ROUTE, K.ENCAPSULATE, K.WIRE, K.DECAPSULATE, K.ROUTE, K.VETH_OUT,
                      K.RECEIVE]),
    ("calico", [K.SEND, K.VETH_IN, K.NAT, K.ROUTE, K.WIRE, K.ROUTE, K.VETH_OUT, K.RECEIVE]),
    ("calico-ipip", [K.SEND, K.VETH_IN, K.NAT, K.ENCAPSULATE, K.WIRE, K.DECAPSULATE, K.ROUTE, K.VETH_OUT, K.RECEIVE]),
    ("flannel", [K.SEND, K.VETH_IN, K.BRIDGE, K.NAT, K.ROUTE, K.ENCAPSULATE, K.WIRE, K.DECAPSULATE, K.ROUTE, K.BRIDGE,
                 K.VETH_OUT, K.RECEIVE]),
    ("aws-vpc", [K.SEND, K.VETH_IN, K.NAT, K.ROUTE, K.WIRE, K.ROUTE, K.VETH_OUT, K.RECEIVE]),
    ("cilium", [K.SEND, K.VETH_IN, K.ENCAPSULATE, K.WIRE, K.DECAPSULATE, K.VETH_OUT, K.RECEIVE]),
])
def test_each_plugins_path_across_nodes_as_kinds(name, kinds):
    w = walk.request(LESSON, POD_A, POD_B_IP, 3000, cni=name)
    assert [h.kind for h in w.hops] == kinds


@pytest.mark.parametrize("name", list(cni.profiles()))
@pytest.mark.parametrize("destination, port", [(POD_B_IP, 3000), ("10.244.2.15", 3000), ("10.96.214.88", 80)])
def test_hop_kinds_agree_with_the_headers(name, destination, port):
    """Outer headers exist from the wrapping to the wire, and on the wire only under an overlay;
    the TTL drops only where a hop routes;
    the first hop sends and the last receives, for every plugin and every kind of call."""
    w = walk.request(LESSON, POD_A, destination, port, cni=name)
    for hops in (w.hops, w.reply):
        assert hops[0].kind is K.SEND and hops[-1].kind is K.RECEIVE
        for before, hop in zip(hops, hops[1:]):
            if hop.inner.ttl != before.inner.ttl:
                assert hop.kind in (K.ROUTE, K.ENCAPSULATE, K.VETH_OUT), hop  # IP-in-IP and Cilium route as they wrap or deliver
        for hop in hops:
            if hop.kind is K.WIRE:
                assert (hop.outer is not None) == w.cni.overlay, hop
            elif hop.kind is K.ENCAPSULATE:
                assert hop.outer is not None, hop
            else:  # IP-in-IP's decapsulating hop shows the packet as it arrives, still wrapped
                assert hop.outer is None or hop.kind is K.DECAPSULATE, hop
    assert any(h.kind is K.WIRE for h in w.hops) == (not w.same_node)


# --- 03: facts with sources --------------------------------------------------------------
def test_calico_encapsulates_per_install_method():
    methods = {m.method: m for m in cni.calico_install_methods()}
    encapsulation = {name: cni.profile(m.profile).encapsulation for name, m in methods.items()}
    assert encapsulation["manifest calico.yaml"] is cni.Encapsulation.IPIP
    assert encapsulation["operator, Installation without ipPools"] is cni.Encapsulation.IPIP
    quick_start = methods["operator quick start (custom-resources.yaml)"]
    assert encapsulation[quick_start.method] is cni.Encapsulation.VXLAN and quick_start.cross_subnet
    assert [cni.profile(m.profile).encapsulation for m in methods.values()].count(cni.Encapsulation.NONE) == 1
    assert all(m.source and cni.profile(m.profile).plugin == "Calico" for m in methods.values())


def test_the_lesson_tables_footnotes_name_a_phrase_of_the_table_and_a_source():
    notes = {n.profile: n for n in cni.lesson_table_notes()}
    assert set(notes) == set(paths.LESSON_PLUGINS)
    assert "installs no CNI" in notes["flannel"].fact
    assert "kube-proxy replacement" in notes["cilium"].fact
    assert "VPC subnet" in notes["aws-vpc"].fact and str(LESSON.cluster_cidr) in notes["aws-vpc"].fact
    assert all(n.source for n in notes.values())


def test_a_footnote_on_a_phrase_the_table_does_not_hold_is_refused(monkeypatch):
    document, source = cni._read_data()
    broken = dict(document, lesson_table_notes=[{"profile": "flannel", "says": "runs on Windows", "fact": "x",
                                                 "source": "y"}])
    monkeypatch.setattr(cni, "_read_data", lambda: (broken, source))
    cni.lesson_table_notes.cache_clear()
    try:
        with pytest.raises(InvalidValue, match="lesson_table_notes entry 1: the lesson's row for Flannel does not "
                                               "say 'runs on Windows'"):
            cni.lesson_table_notes()
    finally:
        cni.lesson_table_notes.cache_clear()


def test_aws_vpc_cni_gives_a_new_pod_an_address_of_the_nodes_vpc_subnet():
    node = LESSON.node("node-eu-west-1a")
    new = Pod("production", "new-pod", labels={"app": "new-pod"}, node_name=node.name)
    address = cni.cni_add(LESSON, new, "aws-vpc").address.ip
    subnet = cni.node_subnet(LESSON, node)
    assert address in subnet and address not in LESSON.cluster_cidr
    assert int(address) - int(subnet.network_address) >= cni.VPC_RESERVED  # AWS keeps the first four
    assert address not in {n.internal_ip for n in LESSON.nodes} | {p.pod_ip for p in LESSON.pods}
    # the other plugins keep to the node's podCIDR
    assert cni.cni_add(LESSON, new, "calico-vxlan").address.ip in node.pod_cidr


@pytest.mark.parametrize("name", list(cni.profiles()))
def test_the_hatched_headers_are_exactly_the_measured_overhead(name):
    first, between = paths.wire_frames(LESSON, POD_A, POD_B_IP, 3000, [name])[name]
    layers = paths.frame_layers(between.inner, between.outer)
    added = sum(size for i, (_, size) in enumerate(layers) if i in paths.added_headers(layers))
    assert added == between.frame_bytes - first.frame_bytes == frames.encapsulation_overhead(name)


def test_ip_in_ip_adds_twenty_bytes_and_vxlan_fifty():
    assert frames.encapsulation_overhead("calico-ipip") == 20
    assert frames.encapsulation_overhead("calico-vxlan") == frames.encapsulation_overhead("flannel") == 50


def test_the_frame_size_legend_sits_below_the_axes_in_readable_rows():
    wire = paths.wire_frames(LESSON, POD_A, POD_B_IP, 3000)
    layers = {n: paths.frame_layers(h.inner, h.outer) for n, (_, h) in wire.items()}
    fig = paths.frame_sizes_figure(layers)
    legend = fig.axes[0].get_legend()
    texts = [t.get_text() for t in legend.get_texts()]
    assert "added by the encapsulation" in texts and len(texts) == len(set(texts))
    assert legend._ncols == 4 and min(t.get_fontsize() for t in legend.get_texts()) >= 8
    fig.canvas.draw()
    box, axes = legend.get_window_extent(), fig.axes[0].get_window_extent()
    assert box.y1 <= axes.y0 and box.x1 <= fig.bbox.x1  # below the plot, inside the figure


# --- the gates: computed from the cluster they are given ------------------------------------
def test_04_gates_follow_the_cluster_and_the_cni():
    flow = two_node_flow()
    client, server = "production/checkout-api-6f8b9d-k8m2w", "production/payment-api-7d9c4b-h5t9r"
    w = pod_to_pod.cross_node(flow, client=client, server=server, cni_name="flannel")
    outer = predictions.build("04-outer-destination", flow, client=client, server=server, cni_name="flannel")
    assert outer.answer.startswith(f"{flow.node_of(w.server).internal_ip},")
    ttl = predictions.build("04-ttl", flow, client=client, server=server, cni_name="flannel")
    assert int(ttl.answer) == w.arrived.ttl == w.hops[0].inner.ttl - 2
    seen = predictions.build("04-source-seen", flow, client=client, server=server, cni_name="flannel")
    assert seen.answer.startswith(f"{w.client.pod_ip},")
    with pytest.raises(InvalidValue, match="does not encapsulate"):
        predictions.build("04-outer-destination", LESSON, cni_name="calico")


@pytest.mark.parametrize("name, added", [("calico", 0), ("aws-vpc", 0), ("calico-ipip", 20), ("flannel", 50)])
def test_04_bytes_added_follow_the_plugin(name, added):
    assert predictions.build("04-bgp-overhead", LESSON, cni_name=name).answer == str(added)


def test_03_gates_follow_the_plugin():
    flannel = predictions.build("03-pod-gateway", LESSON, cni_name="flannel")
    assert flannel.answer.startswith("10.244.2.1,")  # the cni0 bridge's address
    assert predictions.build("03-pod-gateway", LESSON).answer.startswith("169.254.1.1,")
    assert predictions.build("03-vxlan-mtu", LESSON, cni_name="flannel").answer == "1450"
    with pytest.raises(InvalidValue, match="asks about VXLAN"):
        predictions.build("03-vxlan-mtu", LESSON, cni_name="calico-ipip")


@pytest.mark.parametrize("prediction_id", [p for p in predictions.catalogue() if p[:2] in ("03", "04")])
def test_a_choice_does_not_give_its_answer_away_by_position(prediction_id):
    made = predictions.build(prediction_id, LESSON)
    if made.choices:
        assert list(made.choices) == sorted(made.choices)
        assert check(made, made.tempting_option.text).correct is False


def test_every_gate_of_a_notebook_keeps_its_prediction(tmp_path):
    """Each gate holds its own Progress on one file: a later gate's write keeps the earlier ones."""
    path = tmp_path / "progress.json"
    first, second = Progress.open(path), Progress.open(path)
    first.record_prediction("03-pod-gateway", "a", correct=False)
    second.record_prediction("03-vxlan-mtu", "1500", correct=False)
    first.record_prediction("03-pod-gateway", "b", correct=True)
    kept = Progress.open(path).predictions()
    assert set(kept) == {"03-pod-gateway", "03-vxlan-mtu"}
    assert kept["03-pod-gateway"]["given"] == "a" and kept["03-pod-gateway"]["attempts"] == [{"given": "b",
                                                                                              "correct": True}]


# --- tables a learner reads --------------------------------------------------------------------
def test_the_walk_table_shows_every_explanation_whole_and_folds_nothing():
    w = pod_to_pod.cross_node(LESSON)
    shown = paths.walk_table(w, quiet_hooks=True)
    page = shown._repr_html_()
    assert len(shown.frame) <= 12 and "<details" not in page
    for hop in w.hops:
        if hop.kind is not K.NAT:
            assert html.escape(hop.action) in page
    assert "kube-proxy" not in page  # a call by Pod IP meets no rule worth showing
    assert 'text-align:left' in page and "…" not in page
    assert len(paths.walk_table(w).frame) == len(w.hops)  # without quiet_hooks nothing is left out


def test_a_hook_that_rewrites_is_never_left_out():
    w = walk.request(LESSON, POD_A, "10.96.214.88", 80, cni="calico-vxlan")
    quiet = paths.walk_table(w, quiet_hooks=True).frame
    dnat = next(h for h in w.hops if h.rewrite is walk.Rewrite.DNAT)
    assert dnat.action in list(quiet["what happens"])


def test_the_stepper_can_leave_out_quiet_hooks():
    stepper = paths.walk_stepper(LESSON, POD_A, POD_B_IP, 3000, cni_name="calico-vxlan", quiet_hooks=True)
    assert K.NAT not in {h.kind for h in stepper.walk.all_hops}
    assert stepper.walk.arrived == pod_to_pod.cross_node(LESSON).arrived


def test_inner_and_outer_headers_side_by_side():
    hop = next(h for h in pod_to_pod.cross_node(LESSON).hops if h.kind is K.WIRE)
    frame = paths.inner_outer_table(hop).frame.set_index(["header", "field"])
    assert frame.loc[("IPv4", "destination"), "outer (node to node)"] == str(hop.outer.dst_ip)
    assert frame.loc[("IPv4", "destination"), "inner (Pod to Pod)"] == str(hop.inner.dst_ip)
    assert frame.loc[("VXLAN", "VNI"), "outer (node to node)"] == str(cni.profile("calico-vxlan").vni)
    assert len(frame) <= 12


# --- the notebooks ---------------------------------------------------------------------------
@pytest.mark.parametrize("stem", ["03_cni_plugins", "04_request_across_nodes"])
def test_the_graded_cell_is_the_quiz_check(stem):
    cells = json.loads((ROOT / "notebooks" / f"{stem}.ipynb").read_text())["cells"]
    graded = [c for c in cells if "graded" in c["metadata"].get("tags", [])]
    assert len(graded) == 1
    assert "".join(graded[0]["source"]) == (f"from k8snet_lesson.view.quiz import graded_check\n"
                                            f'graded_check("{stem[:2]}")')


def test_04s_core_path_is_pod_to_pod():
    import course_shape

    cells = course_shape.load(ROOT / "notebooks" / "04_request_across_nodes.ipynb")
    core = [c for c in cells if c.core]
    text = " ".join(c.source for c in core if c.kind == "markdown")
    outputs = json.dumps([c.outputs for c in core if c.kind == "code"])
    for word in ("kube-proxy", "DNAT", "ClusterIP", "conntrack", "10.96.214.88"):
        assert word not in text and word not in outputs, word
