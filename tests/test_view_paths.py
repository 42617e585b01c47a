"""The tables, widgets and diagram of notebooks 03 (CNI plugins) and 04 (a request across
nodes).

Facts the expected values rest on:
- the lesson's CNI table (lesson 31, "What the CNI Plugin Does"), word for word, and its
  output for checkout-api-6f8b9d-2xkpj: ``inet 10.244.2.14/32 brd 10.244.2.14`` and
  ``default via 169.254.1.1 dev eth0`` / ``169.254.1.1 dev eth0 scope link``;
- Calico gives a pod a /32 and the link-local gateway 169.254.1.1, and names the host
  end of the veth ``cali`` + the first 11 hex digits of sha1("<namespace>.<pod>"); it
  routes the pod's /32 into that veth (``<ip> dev cali... scope link``);
- Flannel (the bridge plugin with host-local) gives the pod an address on the node's
  /24 (broadcast .255) behind the cni0 bridge, which holds .1 and is the default gateway;
  the pod also routes the cluster CIDR via .1;
- header sizes: Ethernet 14 (RFC 894), IPv4 20 (RFC 791), UDP 8 (RFC 768), VXLAN 8
  (RFC 7348); Linux's SYN carries 20 bytes of TCP options, so its TCP header is 40 and
  the frame 74 bytes; VXLAN wraps a whole Ethernet frame (+50), IP-in-IP adds one IPv4
  header (+20); Flannel's VXLAN port is 8472 (the kernel's default), Calico's 4789 (IANA);
- the AWS VPC CNI: max pods = ENIs x (IPv4 addresses per ENI - 1) + 2; an m5.large has
  3 ENIs of 10 addresses: 29;
- the lesson's two-node flow: Pod A 10.244.1.5 on node 192.168.0.10 to 10.96.214.88:80,
  DNAT to Pod B 10.244.2.8:3000 on 192.168.0.11; Pod B sees 10.244.1.5; the reply
  reaches Pod A from 10.96.214.88:80 (conntrack reverses the DNAT).
"""

from __future__ import annotations

import hashlib
import subprocess
import sys

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from k8snet_lesson import cni, scenarios, walk
from k8snet_lesson.cluster import Pod
from k8snet_lesson.errors import InvalidValue, NotFound
from k8snet_lesson.view import paths
from k8snet_lesson.walk import HopKind, Rewrite

pytest.importorskip("scapy")

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
CHECKOUT = "production/checkout-api-6f8b9d-2xkpj"
PAYMENT = "production/payment-api-7d9c4b-xr7nq"
POD_A = "production/checkout-api-6f8b9d-k8m2w"
SERVICE_IP, SERVICE_PORT = "10.96.214.88", 80
ETHERNET, IPV4, UDP, VXLAN, SYN_TCP = 14, 20, 8, 8, 40
OVERHEAD = {"flannel": 50, "calico": 0, "calico-ipip": 20, "calico-vxlan": 50, "cilium": 50, "aws-vpc": 0}
TUNNEL = {"flannel": "flannel.1", "calico": None, "calico-ipip": "tunl0", "calico-vxlan": "vxlan.calico",
          "cilium": "cilium_vxlan", "aws-vpc": None}
ALL = list(OVERHEAD)


@pytest.fixture(scope="module")
def lesson():
    return scenarios.lesson_cluster()


@pytest.fixture(scope="module")
def flow():
    return scenarios.two_node_flow()


def calico_veth(namespace: str, name: str) -> str:
    return "cali" + hashlib.sha1(f"{namespace}.{name}".encode()).hexdigest()[:11]


# --- 03: the tables -------------------------------------------------------------------


def test_lesson_cni_table_is_the_lessons_word_for_word():
    table = paths.lesson_cni_table()
    assert table.index.name == "CNI Plugin"
    assert list(table.columns) == ["Approach", "Notable features", "Common in"]
    assert table.loc["Flannel"].tolist() == [
        "VXLAN overlay — encapsulates Pod traffic in UDP packets between nodes",
        "Simple, minimal. No NetworkPolicy support.",
        "Dev clusters, kubeadm defaults",
    ]
    assert table.loc["AWS VPC CNI", "Approach"] == "Native — assigns real VPC ENIs/IPs to Pods, no overlay needed"
    assert table.loc["Calico", "Common in"] == "Production clusters, on-prem, EKS"
    assert table.loc["Cilium", "Common in"] == "GKE, EKS (Cilium mode), modern clusters"


def test_extended_table_adds_encapsulation_overhead_and_mtu_per_profile():
    table = paths.extended_cni_table()
    assert list(table.index) == ALL
    assert table["Overhead (bytes)"].tolist() == [OVERHEAD[n] for n in ALL]
    assert table["MTU"].tolist() == [1450, 1500, 1480, 1450, 1450, 9001]
    assert table.loc["flannel", "Encapsulation"] == "VXLAN (UDP 8472)"
    assert table.loc["calico-vxlan", "Encapsulation"] == "VXLAN (UDP 4789)"
    assert table.loc["flannel", "NetworkPolicy"] == "no"
    assert table.loc["cilium", "NetworkPolicy"] == "yes, with L7"
    assert "Approach" not in table.columns


def test_max_pods_formula_matches_the_listed_values():
    table = paths.max_pods_table()
    assert table.loc["m5.large", "ENIs x (IPs - 1) + 2"] == 29
    assert (table["ENIs x (IPs - 1) + 2"] == table["ENIs"] * (table["IPv4 addresses per ENI"] - 1) + 2).all()
    assert (table["ENIs x (IPs - 1) + 2"] == table["eni-max-pods.txt"]).all()


# --- 03: the CNI ADD ------------------------------------------------------------------------


def test_cni_add_text_is_four_steps_then_the_outputs(lesson):
    add = cni.cni_add(lesson, CHECKOUT, "calico")
    text = paths.cni_add_text(add)
    lines = text.splitlines()
    steps = [line for line in lines if line.startswith("Step ")]
    assert [s.split(":")[0] for s in steps] == ["Step 1", "Step 2", "Step 3", "Step 4"]
    assert steps[0] == "Step 1: Assign the Pod an IP from the Pod CIDR"
    at = lines.index("$ kubectl exec checkout-api-6f8b9d-2xkpj -n production -- ip route show")
    assert lines[at + 1:at + 3] == ["default via 169.254.1.1 dev eth0", "169.254.1.1 dev eth0 scope link"]
    assert "    inet 10.244.2.14/32 scope global eth0" in lines
    node = lines.index("$ ip route show    # on node-eu-west-1a")
    assert f"10.244.2.14 dev {calico_veth('production', 'checkout-api-6f8b9d-2xkpj')} scope link" in lines[node:]


def test_step_changes_calico(lesson):
    veth = calico_veth("production", "checkout-api-6f8b9d-2xkpj")
    table = paths.step_changes(cni.cni_add(lesson, CHECKOUT, "calico"))
    assert list(table.index) == [1, 2, 3, 4]
    # Step 1 only reserves an address.
    assert table.loc[1, ["pod: eth0 address", "pod: new routes", "node: new devices", "node: new routes"]].tolist() == [
        "-", "-", "-", "-"]
    assert table.loc[2, "node: new devices"] == veth
    assert table.loc[2, "pod: eth0 address"] == "10.244.2.14/32"
    assert table.loc[2, "pod: new routes"] == "-"  # a /32 brings no connected route
    assert table.loc[3, "node: new routes"] == f"10.244.2.14 dev {veth} scope link"
    assert table.loc[4, "pod: new routes"] == "default via 169.254.1.1 dev eth0; 169.254.1.1 dev eth0 scope link"


def test_step_changes_flannel(lesson):
    table = paths.step_changes(cni.cni_add(lesson, CHECKOUT, "flannel"))
    assert table.loc[2, "pod: eth0 address"] == "10.244.2.14/24"
    assert table.loc[2, "pod: new routes"] == "10.244.2.0/24 dev eth0 proto kernel scope link src 10.244.2.14"
    assert table.loc[2, "node: new devices"].startswith("veth")
    # payment-api already runs on the node, so cni0 exists: step 3 only enslaves the veth.
    assert table.loc[3, "node: new devices"] == "-" and table.loc[3, "node: new routes"] == "-"
    assert table.loc[4, "pod: new routes"] == "default via 10.244.2.1 dev eth0; 10.244.0.0/16 via 10.244.2.1 dev eth0"


def test_lesson_lines_pick_the_same_lines_from_any_listing():
    lines = paths.lesson_lines(paths.LESSON_IP_ADDR_SHOW, paths.LESSON_IP_ROUTE_SHOW)
    assert lines == {
        "interface": "3: eth0@if8: <BROADCAST,MULTICAST,UP,LOWER_UP>",
        "link/ether": "link/ether 6e:2a:4c:8d:1b:3f brd ff:ff:ff:ff:ff:ff",
        "inet": "inet 10.244.2.14/32 brd 10.244.2.14 scope global eth0",
        "default route": "default via 169.254.1.1 dev eth0",
        "other routes": "169.254.1.1 dev eth0 scope link",
    }
    assert paths.lesson_lines("", "")["default route"] == "-"


def test_lesson_comparison_calico_is_the_lessons_shape_flannel_is_not(lesson):
    table = paths.lesson_comparison(lesson, CHECKOUT)
    assert list(table.columns) == ["lesson", "Calico (calico)", "Flannel (flannel)"]
    calico, flannel, taught = table["Calico (calico)"], table["Flannel (flannel)"], table["lesson"]
    assert calico["default route"] == taught["default route"] == "default via 169.254.1.1 dev eth0"
    assert calico["other routes"] == taught["other routes"]
    assert calico["inet"] == "inet 10.244.2.14/32 scope global eth0"  # no brd below /31 is computed for a /32
    assert flannel["inet"] == "inet 10.244.2.14/24 brd 10.244.2.255 scope global eth0"
    assert flannel["default route"] == "default via 10.244.2.1 dev eth0"
    assert "10.244.0.0/16 via 10.244.2.1 dev eth0" in flannel["other routes"]


# --- 03: frames ---------------------------------------------------------------------------


@pytest.mark.parametrize("name", ALL)
def test_wire_frame_layers_are_the_rfc_header_sizes(flow, name):
    first, wire = paths.wire_frames(flow, POD_A, SERVICE_IP, SERVICE_PORT, [name])[name]
    layers = paths.frame_layers(wire.inner, wire.outer)
    expected = {
        "none": [("Ethernet", ETHERNET), ("IPv4", IPV4), ("TCP", SYN_TCP)],
        "ipip": [("Ethernet", ETHERNET), ("IPv4", IPV4), ("inner IPv4", IPV4), ("TCP", SYN_TCP)],
        "vxlan": [("Ethernet", ETHERNET), ("IPv4", IPV4), ("UDP", UDP), ("VXLAN", VXLAN),
                  ("inner Ethernet", ETHERNET), ("inner IPv4", IPV4), ("TCP", SYN_TCP)],
    }[cni.profile(name).encapsulation.value]
    assert layers == expected
    assert sum(size for _, size in layers) == wire.frame_bytes
    assert [label for label, _ in paths.frame_layers(first.inner)] == ["Ethernet", "IPv4", "TCP"]


def test_frame_sizes_measure_overhead_and_the_documented_mtu(flow):
    table = paths.frame_sizes(paths.wire_frames(flow, POD_A, SERVICE_IP, SERVICE_PORT))
    assert list(table.index) == ALL
    assert (table["pod's frame (bytes)"] == ETHERNET + IPV4 + SYN_TCP).all()
    assert table["overhead (bytes)"].to_dict() == OVERHEAD
    assert (table["pod MTU = underlay - overhead"] == table["documented MTU"]).all()
    assert table.loc["aws-vpc", "documented MTU"] == 9001


def test_wire_frames_refuse_a_request_that_stays_on_its_node(lesson):
    with pytest.raises(InvalidValue, match="stays on node-eu-west-1a"):
        paths.wire_frames(lesson, CHECKOUT, "10.244.2.15", 3000, ["flannel"])


def test_frame_sizes_figure_has_a_bar_per_cni_and_labelled_axes(flow):
    wire = paths.wire_frames(flow, POD_A, SERVICE_IP, SERVICE_PORT, ["flannel", "calico-ipip"])
    layers = {name: paths.frame_layers(w.inner, w.outer) for name, (_, w) in wire.items()}
    fig = paths.frame_sizes_figure(layers, pod_frames={name: f.frame_bytes for name, (f, _) in wire.items()})
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["flannel", "calico-ipip"]
    assert "bytes" in ax.get_xlabel() and ax.get_title()
    notes = sorted(t.get_text() for t in ax.texts)
    assert notes == ["124 bytes = 74 + 50 added", "94 bytes = 74 + 20 added"]
    # hatched bars are the headers the encapsulation adds: 4 for VXLAN (50 bytes), 1 for IP-in-IP (20)
    hatched = [bar for bar in ax.patches if bar.get_hatch() and bar.get_height() < 1]
    assert len(hatched) == 4 + 1
    assert sorted(round(bar.get_width()) for bar in hatched if bar.get_y() > 0.5) == [20]


# --- 03: the explorer ---------------------------------------------------------------------


def test_cni_explorer_shows_each_plugins_cni_add(lesson):
    explorer = paths.cni_explorer(lesson, pod=CHECKOUT, cni_name="flannel")
    assert "k8snet-cni-choice" in explorer.cni._dom_classes
    assert "k8snet-cni-output" in explorer.output._dom_classes
    assert explorer.last.address == cni.pod_interface(lesson, lesson.pod(CHECKOUT), "flannel")
    assert "inet 10.244.2.14/24 brd 10.244.2.255 scope global eth0" in explorer.output.value
    assert "default via 10.244.2.1 dev eth0" in explorer.output.value
    explorer.cni.value = "calico"
    assert explorer.last.profile.name == "calico"
    assert "inet 10.244.2.14/32 scope global eth0" in explorer.output.value
    assert "default via 169.254.1.1 dev eth0" in explorer.output.value
    assert explorer.output.value.count('class="k8snet-cni-step"') == 4
    assert explorer.message.value == ""


def test_cni_explorer_new_pod_gets_a_free_address_of_its_node(lesson):
    explorer = paths.cni_explorer(lesson, cni_name="flannel")
    explorer.pod.value = "a new pod on node-eu-west-1b (no IP yet)"
    node = lesson.node("node-eu-west-1b")
    address = explorer.last.address.ip
    assert address in node.pod_cidr and address != node.pod_cidr.network_address + 1
    assert address not in {p.pod_ip for p in lesson.pods}
    assert f"data-address=\"{explorer.last.address}\"" in explorer.output.value


def test_cni_explorer_says_what_is_wrong_instead_of_raising(lesson):
    explorer = paths.cni_explorer(lesson, pod=CHECKOUT)
    host = Pod("kube-system", "kube-proxy-x", node_name="node-eu-west-1a", host_network=True,
               pod_ip="192.168.1.10")
    explorer.pods[explorer.pod.value] = host
    paths.render_cni(explorer)
    assert "hostNetwork" in explorer.message.value and "k8snet-message" in explorer.message.value
    assert explorer.output.value == "" and explorer.last is None


def test_cni_explorer_refuses_unknown_pods_and_plugins(lesson):
    with pytest.raises(NotFound):
        paths.cni_explorer(lesson, pod="production/nobody")
    with pytest.raises(NotFound, match="no CNI profile 'weave'"):
        paths.cni_explorer(lesson, cni_name="weave")


# --- 04: the walk as tables -----------------------------------------------------------------


def test_hops_table_of_the_lessons_flow(flow):
    w = walk.request(flow, POD_A, SERVICE_IP, SERVICE_PORT, cni="flannel")
    table = paths.hops_table(w)
    assert list(table.index) == list(range(1, len(w.hops) + 1))
    assert table.iloc[0]["source"].startswith("10.244.1.5:") and table.iloc[0]["destination"] == "10.96.214.88:80"
    dnat = table[table["where"] == "nat PREROUTING"]
    assert len(dnat) == 1 and dnat.iloc[0]["destination"] == "10.244.2.8:3000"
    between = table[table["node"] == "(between nodes)"]
    assert len(between) == 1
    outer = between.iloc[0]["outer headers"]
    assert outer.startswith("192.168.0.10 -> 192.168.0.11 UDP ") and outer.endswith("->8472 VNI 1")
    assert between.iloc[0]["frame (bytes)"] == 74 + 50
    last = table.iloc[-1]
    assert (last["node"], last["destination"]) == ("node-2", "10.244.2.8:3000")
    assert last["source"] == table.iloc[0]["source"]  # Pod B sees Pod A's real IP and port

    reply = paths.hops_table(w, reply=True)
    assert reply.iloc[0]["source"] == "10.244.2.8:3000"
    assert reply.iloc[-1]["source"] == "10.96.214.88:80" and reply.iloc[-1]["node"] == "node-1"


def test_header_fields_vxlan_hop(flow):
    w = walk.request(flow, POD_A, SERVICE_IP, SERVICE_PORT, cni="flannel")
    hop = next(h for h in w.hops if h.node is None)
    fields = {(h, f): v for h, f, v in paths.header_fields(hop)}
    assert fields[("outer IPv4", "source")] == "192.168.0.10"
    assert fields[("outer IPv4", "destination")] == "192.168.0.11"
    assert fields[("outer IPv4", "protocol")] == "17 (UDP)"
    assert fields[("outer UDP", "destination port")] == "8472"
    assert 32768 <= int(fields[("outer UDP", "source port")]) <= 60999
    assert fields[("VXLAN", "VNI")] == "1"
    assert fields[("inner IPv4", "source")] == "10.244.1.5"
    assert fields[("inner IPv4", "destination")] == "10.244.2.8"
    assert fields[("TCP", "destination port")] == "3000" and fields[("TCP", "flags")] == "SYN"
    assert fields[("frame", "length (bytes)")] == "124"
    headers = [h for h, _, _ in paths.header_fields(hop)]
    assert headers.index("outer Ethernet") < headers.index("VXLAN") < headers.index("inner Ethernet")
    assert list(paths.headers_table(hop).index.names) == ["header", "field"]


def test_header_fields_ipip_and_plain_hops(flow):
    ipip = walk.request(flow, POD_A, SERVICE_IP, SERVICE_PORT, cni="calico-ipip")
    hop = next(h for h in ipip.hops if h.node is None)
    headers = {h for h, _, _ in paths.header_fields(hop)}
    assert ("outer IPv4", "protocol", "4 (IP-in-IP)") in paths.header_fields(hop)
    assert "outer UDP" not in headers and "VXLAN" not in headers
    assert "inner Ethernet" not in headers  # tunl0 has no link layer
    plain = walk.request(flow, POD_A, SERVICE_IP, SERVICE_PORT, cni="calico")
    hop = next(h for h in plain.hops if h.node is None)
    assert {h for h, _, _ in paths.header_fields(hop)} == {"Ethernet", "IPv4", "TCP", "frame"}


def test_path_comparison_per_cni(flow):
    walks = {name: walk.request(flow, POD_A, SERVICE_IP, SERVICE_PORT, cni=name) for name in ALL}
    table = paths.path_comparison(walks)
    assert list(table.index) == ALL
    assert table["frame there (bytes)"].to_dict() == {n: 74 + OVERHEAD[n] for n in ALL}
    assert table.loc["calico", "between the nodes"] == "no encapsulation: 10.244.1.5 -> 10.244.2.8"
    assert table.loc["flannel", "between the nodes"].endswith("->8472 VNI 1")
    assert table.loc["calico-vxlan", "between the nodes"].endswith("->4789 VNI 4096")
    assert "(IP-in-IP)" in table.loc["calico-ipip", "between the nodes"]
    assert table.loc["flannel", "Service address translated"] == "DNAT in node-1's nat PREROUTING"
    assert table.loc["cilium", "Service address translated"].startswith("at connect()")
    assert set(table["server sees source"]) == {"10.244.1.5"}
    # kube-proxy's conntrack answers from the ClusterIP; Cilium's wire carries the backend
    assert table.loc["flannel", "reply reaches the client from"] == "10.96.214.88:80"
    assert table.loc["cilium", "reply reaches the client from"] == "10.244.2.8:3000"
    assert table.loc["flannel", "path"].startswith("pod eth0 > veth") and table.loc["flannel", "path"].endswith("pod eth0")
    assert " > node network > " in table.loc["calico", "path"] and " > VPC > " in table.loc["aws-vpc", "path"]


def test_path_comparison_same_node_stays_on_the_node(lesson):
    table = paths.path_comparison({"flannel": walk.request(lesson, CHECKOUT, "10.244.2.15", 3000, cni="flannel")})
    assert table.loc["flannel", "between the nodes"] == "(stays on the node)"
    assert table.loc["flannel", "Service address translated"] == "-"


def test_capture_table_reads_back_the_walk_from_a_pcap(flow, tmp_path):
    from k8snet_lesson import frames

    w = walk.request(flow, POD_A, SERVICE_IP, SERVICE_PORT, cni="flannel")
    table = paths.capture_table(frames.read_pcap(frames.write_pcap(w, tmp_path / "walk.pcap")))
    assert len(table) == len(w.all_hops)
    assert table["bytes"].tolist() == [h.frame_bytes for h in w.all_hops]
    wire = [i for i, h in enumerate(w.all_hops, start=1) if h.node is None]
    for i in wire:
        assert table.loc[i, "headers"] == "Ether / IP / UDP / VXLAN / Ether / IP / TCP"
        assert table.loc[i, "outer"].endswith("UDP " + f"{w.all_hops[i - 1].outer.src_port}->8472")
    first = table.loc[1]
    assert first["outer"] == "-" and first["packet"] == f"10.244.1.5:{w.hops[0].inner.src_port} -> 10.96.214.88:80"
    assert table.iloc[-1]["packet"].startswith("10.96.214.88:80 -> 10.244.1.5:")


# --- 04: the diagram ---------------------------------------------------------------------


@pytest.mark.parametrize("name", ALL)
def test_topology_shows_the_plugins_devices(flow, name):
    import networkx as nx

    w = walk.request(flow, POD_A, SERVICE_IP, SERVICE_PORT, cni=name)
    g = paths.walk_topology(flow, w)
    assert nx.is_connected(g)
    kinds = {d["kind"] for _, d in g.nodes(data=True)}
    assert ("tunnel" in kinds) == (TUNNEL[name] is not None)
    if TUNNEL[name]:
        assert {d["label"] for _, d in g.nodes(data=True) if d["kind"] == "tunnel"} == {TUNNEL[name]}
    assert ("bridge" in kinds) == (name == "flannel")
    network = g.nodes[("network",)]["label"]
    assert network == ("VPC (routes pod IPs to ENIs)" if name == "aws-vpc" else "node network 192.168.0.0/16")
    # client's node on the left, the server's on the right
    assert g.nodes[("nic", "node-1")]["pos"][0] < g.nodes[("nic", "node-2")]["pos"][0]
    assert g.nodes[("nic", "node-1")]["label"] == "eth0\n192.168.0.10"
    # laid out the same on every call
    again = paths.walk_topology(flow, w)
    assert dict(g.nodes(data="pos")) == dict(again.nodes(data="pos"))


def test_topology_shows_at_most_three_pods_per_node_walk_pods_first(lesson):
    crowded = lesson
    for i in range(4):
        crowded = crowded.with_pod(Pod("production", f"extra-{i}", node_name="node-eu-west-1a",
                                       pod_ip=f"10.244.2.{100 + i}"))
    g = paths.topology(crowded, "calico", ["node-eu-west-1a"], [PAYMENT])
    pods = [n for n, d in g.nodes(data=True) if d["kind"] == "pod"]
    assert len(pods) == paths.MAX_PODS_SHOWN
    assert ("pod", "node-eu-west-1a", PAYMENT) in pods
    with pytest.raises(InvalidValue):
        paths.topology(lesson, "calico", [])


@pytest.mark.parametrize("name", ALL)
def test_every_hop_has_a_place_and_the_trail_follows_links(flow, name):
    import networkx as nx

    w = walk.request(flow, POD_A, SERVICE_IP, SERVICE_PORT, cni=name)
    g = paths.walk_topology(flow, w)
    places = paths.walk_places(g, w.all_hops)
    assert len(places) == len(w.all_hops) and all(p in g for p in places)
    assert places[0] == ("pod", "node-1", POD_A)
    assert places[len(w.hops) - 1] == ("pod", "node-2", "production/payment-api-7d9c4b-h5t9r")
    assert places[-1] == places[0]
    for hop, place in zip(w.all_hops, places):
        assert (place == ("network",)) == (hop.node is None)
        if hop.node is not None:
            assert g.nodes[place]["node"] == hop.node
    for a, b in zip(places, places[1:]):
        assert a == b or nx.has_path(g, a, b)


def test_same_node_flannel_is_bridged_and_never_leaves_the_node(lesson):
    w = walk.request(lesson, CHECKOUT, "10.244.2.15", 3000, cni="flannel")
    g = paths.walk_topology(lesson, w)
    places = paths.walk_places(g, w.all_hops)
    assert ("network",) not in places and ("tunnel", "node-eu-west-1a") not in places
    assert ("bridge", "node-eu-west-1a") in places
    assert ("routing", "node-eu-west-1a") not in places  # br_netfilter sees it on the bridge


def test_hop_place_refuses_a_hop_the_diagram_does_not_have(flow):
    w = walk.request(flow, POD_A, SERVICE_IP, SERVICE_PORT, cni="flannel")
    g = paths.topology(flow, "calico", ["node-1", "node-2"])
    with pytest.raises(InvalidValue, match="has no place in the diagram"):
        paths.walk_places(g, w.hops)


def test_diagram_png_is_deterministic_and_follows_the_packet(flow):
    w = walk.request(flow, POD_A, SERVICE_IP, SERVICE_PORT, cni="flannel")
    g = paths.walk_topology(flow, w)
    places = paths.walk_places(g, w.all_hops)
    diagram = paths.walk_diagram(g)
    first = paths.diagram_png(diagram, places, 0)
    later = paths.diagram_png(diagram, places, 6)
    assert first.startswith(PNG_SIGNATURE) and later.startswith(PNG_SIGNATURE)
    assert first != later
    assert paths.diagram_png(diagram, places, 0) == first
    assert paths.diagram_png(paths.walk_diagram(g), places, 6) == later
    with pytest.raises(InvalidValue, match="outside the walk"):
        paths.diagram_png(diagram, places, len(places))
    # the trail holds one segment per link crossed so far
    paths.diagram_png(diagram, places, 6)
    assert len(diagram.trail.get_segments()) == len(paths._trail_links(g, places[:7]))
    fig = paths.walk_figure(g, places, 6)
    assert fig.axes and len(fig.axes[0].texts) >= g.number_of_nodes()


BOX = st.tuples(st.floats(-10, 10), st.floats(-10, 10), st.floats(0.1, 3), st.floats(0.1, 3)).map(
    lambda t: (t[0] - t[2], t[1] - t[3], t[0] + t[2], t[1] + t[3]))


@settings(max_examples=200, deadline=None)
@given(BOX, BOX)
def test_trail_segments_stay_on_the_line_and_off_both_labels(box_a, box_b):
    a = ((box_a[0] + box_a[2]) / 2, (box_a[1] + box_a[3]) / 2)
    b = ((box_b[0] + box_b[2]) / 2, (box_b[1] + box_b[3]) / 2)
    (x0, y0), (x1, y1) = paths._between(a, b, box_a, box_b)

    def strictly_inside(x, y, box):
        eps = 1e-9
        return box[0] + eps < x < box[2] - eps and box[1] + eps < y < box[3] - eps

    overlapping = not (box_a[2] < box_b[0] or box_b[2] < box_a[0] or box_a[3] < box_b[1] or box_b[3] < box_a[1])
    dx, dy = b[0] - a[0], b[1] - a[1]
    for x, y in ((x0, y0), (x1, y1)):
        # a + t (b - a) for one t in [0, 1]
        if abs(dx) >= abs(dy) and dx:
            t = (x - a[0]) / dx
        elif dy:
            t = (y - a[1]) / dy
        else:
            t = 0.0
        assert -1e-9 <= t <= 1 + 1e-9
        assert abs(a[0] + t * dx - x) < 1e-6 and abs(a[1] + t * dy - y) < 1e-6
        if not overlapping:
            assert not strictly_inside(x, y, box_a) and not strictly_inside(x, y, box_b)


# --- 04: the stepper --------------------------------------------------------------------------


def test_stepper_steps_through_request_and_reply(flow):
    stepper = paths.walk_stepper(flow, POD_A, SERVICE_IP, SERVICE_PORT, cni_name="flannel")
    for widget, css in ((stepper.next, "k8snet-walk-next"), (stepper.prev, "k8snet-walk-prev"),
                        (stepper.hop, "k8snet-walk-hop"), (stepper.cni, "k8snet-walk-cni"),
                        (stepper.output, "k8snet-walk-output"), (stepper.headers, "k8snet-walk-headers")):
        assert css in widget._dom_classes
    w = stepper.walk
    n = len(w.hops) + len(w.reply)
    assert paths.hop_caption(w, 0) == f"Hop 1 of {n}: request, node-1, {POD_A} eth0"
    assert f">Hop 1 of {n}: " in stepper.hop.value and stepper.prev.disabled and not stepper.next.disabled
    first_image = bytes(stepper.image.value)
    assert first_image.startswith(PNG_SIGNATURE)
    stepper.next.click()
    assert f">Hop 2 of {n}: request, node-1, " in stepper.hop.value and bytes(stepper.image.value) != first_image
    stepper.prev.click()
    assert f">Hop 1 of {n}: " in stepper.hop.value and bytes(stepper.image.value) == first_image
    # to the DNAT: the changed destination is marked
    dnat = next(h.index for h in w.hops if h.rewrite is Rewrite.DNAT)
    paths.step(stepper, dnat)
    assert stepper.current.rewrite is Rewrite.DNAT
    assert 'k8snet-walk-changed"><td>IPv4</td><td>destination</td>' in stepper.headers.value
    # the encapsulated hop shows the outer headers
    paths.step(stepper, next(h.index for h in w.hops if h.node is None) - dnat)
    assert "outer UDP" in stepper.headers.value and "<code>8472</code>" in stepper.headers.value
    # past the end it stays on the last hop: the reply, back from the ClusterIP
    paths.step(stepper, 100)
    assert stepper.position == n - 1 and stepper.next.disabled
    assert stepper.current.inner.src_ip == w.reply[-1].inner.src_ip
    assert str(stepper.current.inner.src_ip) == SERVICE_IP
    paths.step(stepper, -100)
    assert stepper.position == 0


def test_stepper_switching_the_cni_changes_the_path(flow):
    stepper = paths.walk_stepper(flow, POD_A, SERVICE_IP, SERVICE_PORT, cni_name="flannel")
    paths.step(stepper, 3)
    stepper.cni.value = "calico"
    assert stepper.position == 0 and stepper.walk.cni.name == "calico"
    assert not stepper.walk.encapsulated
    wheres = [h.where for h in stepper.walk.hops]
    assert "cni0" not in wheres and "flannel.1" not in wheres
    stepper.cni.value = "cilium"
    assert HopKind.NAT not in [h.kind for h in stepper.walk.hops]  # socket LB: no DNAT on the wire
    assert stepper.walk.hops[0].rewrite is Rewrite.SOCKET_LB
    assert str(stepper.walk.hops[0].inner.dst_ip) == "10.244.2.8"
    stepper.cni.value = "flannel"  # back: the kept walk, not a new one
    assert len(stepper.walks) == 3


def test_stepper_shows_a_message_for_a_destination_that_does_not_exist(flow):
    stepper = paths.walk_stepper(flow, POD_A, "10.96.0.99", 80)
    assert "neither a ClusterIP nor a pod IP" in stepper.message.value
    assert stepper.hop.value == "" and stepper.next.disabled and stepper.prev.disabled
    assert stepper.walk is None and stepper.current is None


def test_hop_caption_refuses_positions_outside_the_walk(flow):
    w = walk.request(flow, POD_A, SERVICE_IP, SERVICE_PORT)
    with pytest.raises(InvalidValue):
        paths.hop_caption(w, -1)
    with pytest.raises(InvalidValue):
        paths.hop_caption(w, len(w.all_hops))


def test_importing_paths_loads_no_plotting_or_widget_library():
    code = ("import sys, k8snet_lesson.view.paths; "
            "print(sorted(m for m in ('matplotlib', 'ipywidgets', 'networkx', 'pandas', 'scapy') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
