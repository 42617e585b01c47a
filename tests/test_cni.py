"""CNI profiles, names, routing tables and the CNI ADD, checked against stated facts."""

from __future__ import annotations

import hashlib
from ipaddress import IPv4Address, IPv4Network

import pytest
from hypothesis import given
from hypothesis import strategies as st

from k8snet_lesson import cni
from k8snet_lesson.cluster import Cluster, Node, Pod
from k8snet_lesson.resources import DATA_DIR
from k8snet_lesson.errors import ExhaustedError, InvalidValue, NotFound, ParseError

# The lesson's nodes and pods ("kubectl get pods -o wide -n production"); the node
# addresses are the lesson's node network (192.168.0.0/16, nodes .10, .11, .12).
LESSON = Cluster(
    nodes=(
        Node("node-eu-west-1a", "192.168.0.10", "10.244.2.0/24"),
        Node("node-eu-west-1b", "192.168.0.11", "10.244.3.0/24"),
        Node("node-eu-west-1c", "192.168.0.12", "10.244.4.0/24"),
    ),
    pods=(
        Pod("production", "checkout-api-6f8b9d-2xkpj", node_name="node-eu-west-1a", pod_ip="10.244.2.14"),
        Pod("production", "checkout-api-6f8b9d-7rvqn", node_name="node-eu-west-1b", pod_ip="10.244.3.7"),
        Pod("production", "payment-api-7d9c4b-xr7nq", node_name="node-eu-west-1a", pod_ip="10.244.2.15"),
        Pod("production", "auth-service-5c7d8f-p2rkx", node_name="node-eu-west-1c", pod_ip="10.244.4.2"),
    ),
)
CHECKOUT = "production/checkout-api-6f8b9d-2xkpj"


def sha1_11(text: str) -> str:
    return hashlib.sha1(text.encode()).hexdigest()[:11]


# --- profiles as data --------------------------------------------------------------------
def test_profile_names() -> None:
    assert list(cni.profiles()) == ["flannel", "calico", "calico-ipip", "calico-vxlan", "cilium", "aws-vpc"]


# name, encapsulation, tunnel device, UDP port, VNI, underlay MTU, pod MTU: each from the
# project's documentation or source (see the `sources` of data/cni-plugins.yaml).
FACTS = [
    ("flannel", cni.Encapsulation.VXLAN, "flannel.1", 8472, 1, 1500, 1450),
    ("calico", cni.Encapsulation.NONE, None, None, None, 1500, 1500),
    ("calico-ipip", cni.Encapsulation.IPIP, "tunl0", None, None, 1500, 1480),
    ("calico-vxlan", cni.Encapsulation.VXLAN, "vxlan.calico", 4789, 4096, 1500, 1450),
    ("cilium", cni.Encapsulation.VXLAN, "cilium_vxlan", 8472, None, 1500, 1450),
    ("aws-vpc", cni.Encapsulation.NONE, None, None, None, 9001, 9001),
]


@pytest.mark.parametrize("name,encapsulation,device,port,vni,underlay,mtu", FACTS)
def test_profile_facts(name, encapsulation, device, port, vni, underlay, mtu) -> None:
    p = cni.profile(name)
    assert (p.encapsulation, p.tunnel_device, p.udp_port, p.vni, p.underlay_mtu, p.mtu) == (
        encapsulation,
        device,
        port,
        vni,
        underlay,
        mtu,
    )


@pytest.mark.parametrize(
    "name,policy,l7,services,pod_prefix,gateway",
    [
        ("flannel", False, False, cni.ServiceImplementation.KUBE_PROXY, 24, cni.PodGateway.BRIDGE_ADDRESS),
        ("calico", True, False, cni.ServiceImplementation.KUBE_PROXY, 32, cni.PodGateway.LINK_LOCAL),
        ("cilium", True, True, cni.ServiceImplementation.SOCKET_LB, 32, cni.PodGateway.ROUTER_ADDRESS),
        ("aws-vpc", True, False, cni.ServiceImplementation.KUBE_PROXY, 32, cni.PodGateway.LINK_LOCAL),
    ],
)
def test_policy_services_and_addressing(name, policy, l7, services, pod_prefix, gateway) -> None:
    p = cni.profile(name)
    assert (p.network_policy, p.l7_policy, p.services, p.pod_prefix_length, p.pod_gateway) == (
        policy,
        l7,
        services,
        pod_prefix,
        gateway,
    )


@pytest.mark.parametrize("name", list(cni.profiles()))
def test_every_profile_cites_its_facts(name: str) -> None:
    sources = cni.profile(name).sources
    for fact in cni.REQUIRED_SOURCES:
        assert sources.get(fact, "").strip(), f"{name}: no source for {fact}"


def test_unknown_profile_lists_the_known_ones() -> None:
    with pytest.raises(NotFound) as info:
        cni.profile("weave")
    assert str(info.value) == (
        "no CNI profile 'weave' (profiles: flannel, calico, calico-ipip, calico-vxlan, cilium, aws-vpc)"
    )
    assert isinstance(info.value, LookupError)


# The lesson's table, word for word (lesson 31, "What the CNI Plugin Does").
LESSON_TABLE = {
    "Flannel": (
        "VXLAN overlay — encapsulates Pod traffic in UDP packets between nodes",
        "Simple, minimal. No NetworkPolicy support.",
        "Dev clusters, kubeadm defaults",
    ),
    "Calico": (
        "BGP routing — advertises Pod CIDRs as routes between nodes (no overlay needed in pure BGP mode)",
        "Full NetworkPolicy support. High performance. Widely used in production.",
        "Production clusters, on-prem, EKS",
    ),
    "Cilium": (
        "eBPF — bypasses iptables entirely, implements networking in Linux kernel using eBPF programs",
        "Best performance, L7 network policies, Hubble observability. Increasingly the default.",
        "GKE, EKS (Cilium mode), modern clusters",
    ),
    "AWS VPC CNI": (
        "Native — assigns real VPC ENIs/IPs to Pods, no overlay needed",
        "Pods get routable VPC IPs. Security Groups on Pods. Native AWS integration.",
        "EKS (default)",
    ),
}


def test_comparison_table_reproduces_the_lesson_and_extends_it() -> None:
    pytest.importorskip("pandas")
    pytest.importorskip("scapy")
    table = cni.comparison_table()
    assert list(table.columns[:4]) == ["Plugin", "Approach", "Notable features", "Common in"]
    for column in ("Encapsulation", "Overhead (bytes)", "MTU", "Routes from", "NetworkPolicy", "Services"):
        assert column in table.columns
    for plugin, texts in LESSON_TABLE.items():
        rows = table[table["Plugin"] == plugin]
        assert len(rows) >= 1
        for _, row in rows.iterrows():
            assert (row["Approach"], row["Notable features"], row["Common in"]) == texts
    # Overheads measured from encoded frames: VXLAN 50, IP-in-IP 20, none 0.
    assert table["Overhead (bytes)"].to_dict() == {
        "flannel": 50,
        "calico": 0,
        "calico-ipip": 20,
        "calico-vxlan": 50,
        "cilium": 50,
        "aws-vpc": 0,
    }
    assert (table["MTU"] + table["Overhead (bytes)"]).tolist() == [1500, 1500, 1500, 1500, 1500, 9001]
    assert table.loc["flannel", "NetworkPolicy"] == "no"
    assert table.loc["cilium", "NetworkPolicy"] == "yes, with L7"


# --- the data file's own errors ---------------------------------------------------------
@pytest.fixture
def data_file(tmp_path, monkeypatch):
    path = tmp_path / "cni-plugins.yaml"
    monkeypatch.setattr(cni, "data_path", lambda name: path)
    cni._profiles.cache_clear()
    cni._instance_types.cache_clear()
    yield path
    cni._profiles.cache_clear()
    cni._instance_types.cache_clear()


def test_broken_yaml_names_file_and_line(data_file) -> None:
    data_file.write_text("profiles:\n  flannel:\n    plugin: [Flannel\n")
    with pytest.raises(ParseError) as info:
        cni.profiles()
    assert info.value.source == str(data_file)
    assert info.value.line == 4
    assert str(info.value).startswith(f"{data_file}:4: invalid YAML")


def test_missing_field_names_profile_and_field(data_file) -> None:
    original = (DATA_DIR / "cni-plugins.yaml").read_text()
    data_file.write_text(original.replace("    udp_port: 8472\n", "", 1))
    with pytest.raises(InvalidValue, match=r"profile 'flannel': missing field 'udp_port'"):
        cni.profiles()


def test_bad_enum_value_lists_the_allowed_ones(data_file) -> None:
    original = (DATA_DIR / "cni-plugins.yaml").read_text()
    data_file.write_text(original.replace("encapsulation: vxlan", "encapsulation: gre", 1))
    with pytest.raises(InvalidValue) as info:
        cni.profiles()
    assert "field 'encapsulation' is 'gre', not one of none, vxlan, ipip" in str(info.value)


def test_missing_source_is_refused(data_file) -> None:
    original = (DATA_DIR / "cni-plugins.yaml").read_text()
    data_file.write_text(original.replace("      mtu: \"flannel-io", "      not_mtu: \"flannel-io", 1))
    with pytest.raises(InvalidValue, match=r"profile 'flannel': no source for mtu"):
        cni.profiles()


# --- AWS VPC CNI pod limits ----------------------------------------------------------------
@pytest.mark.parametrize("name", list(cni.instance_types()))
def test_max_pods_formula_matches_eni_max_pods_txt(name: str) -> None:
    instance = cni.instance_types()[name]
    assert instance.max_pods == instance.max_pods_listed


def test_m5_large() -> None:
    assert cni.aws_max_pods(3, 10) == 29  # the brief's and eni-max-pods.txt's example


@given(st.integers(1, 16), st.integers(2, 50))
def test_max_pods_is_pod_addresses_plus_two_host_network_pods(enis: int, ips: int) -> None:
    # Each ENI keeps its primary address; every other address can be a pod's.
    assert cni.aws_max_pods(enis, ips) - 2 == sum(ips - 1 for _ in range(enis))
    assert cni.aws_max_pods(enis + 1, ips) > cni.aws_max_pods(enis, ips)


@pytest.mark.parametrize("enis,ips", [(0, 10), (3, 0), (True, 10), (3, "10"), (-1, 4)])
def test_max_pods_refuses_nonsense(enis, ips) -> None:
    with pytest.raises(InvalidValue):
        cni.aws_max_pods(enis, ips)


# --- names and MAC addresses -----------------------------------------------------------
def test_calico_veth_name_is_cali_plus_sha1_of_namespace_dot_pod() -> None:
    # `echo -n production.checkout-api-6f8b9d-2xkpj | sha1sum | cut -c1-11` prints 0b08960e0ec.
    assert cni.host_veth_name("calico", "production", "checkout-api-6f8b9d-2xkpj") == "cali0b08960e0ec"
    assert cni.host_veth_name("aws-vpc", "production", "checkout-api-6f8b9d-2xkpj") == "eni0b08960e0ec"


def test_cilium_veth_name_is_lxc_plus_12_hex() -> None:
    name = cni.host_veth_name("cilium", "production", "checkout-api-6f8b9d-2xkpj")
    assert name.startswith("lxc") and len(name) == 15 and int(name[3:], 16) >= 0


names = st.from_regex(r"[a-z0-9]([-a-z0-9]{0,40}[a-z0-9])?", fullmatch=True)


@given(names, names, st.sampled_from(list(cni.profiles())))
def test_veth_names_fit_ifnamsiz_and_are_stable(namespace: str, pod: str, name: str) -> None:
    veth = cni.host_veth_name(name, namespace, pod)
    assert len(veth) <= 15  # IFNAMSIZ is 16 with the terminating NUL
    assert veth.startswith(cni.profile(name).host_veth_prefix)
    assert veth == cni.host_veth_name(name, namespace, pod)
    if cni.profile(name).host_veth_naming is cni.HostVethNaming.SHA1_WORKLOAD:
        assert veth[-11:] == sha1_11(f"{namespace}.{pod}")


@given(st.binary(min_size=6, max_size=6))
def test_mac_round_trip(octets: bytes) -> None:
    mac = cni.MACAddress(octets)
    assert cni.MACAddress.parse(str(mac)) == mac
    assert str(mac) == str(mac).lower() and len(str(mac)) == 17


@given(st.text(max_size=30))
def test_derived_macs_are_locally_administered_unicast(seed: str) -> None:
    mac = cni.MACAddress.derive("x", seed)
    assert mac.octets[0] & 0x02 and not mac.octets[0] & 0x01


@pytest.mark.parametrize("text", ["ee:ee:ee:ee:ee", "zz:ee:ee:ee:ee:ee", "eeee.eeee.eeee", ""])
def test_bad_mac_text(text: str) -> None:
    with pytest.raises(InvalidValue, match="is not a MAC address"):
        cni.MACAddress.parse(text)


# --- routes as iproute2 prints them ----------------------------------------------------
N = IPv4Network
A = IPv4Address


@pytest.mark.parametrize(
    "route,text",
    [
        (cni.Route(N("0.0.0.0/0"), "eth0", gateway=A("169.254.1.1")), "default via 169.254.1.1 dev eth0"),
        (cni.Route(N("169.254.1.1/32"), "eth0", scope="link"), "169.254.1.1 dev eth0 scope link"),
        (
            cni.Route(N("10.244.2.0/24"), "cni0", protocol=cni.RouteProtocol.KERNEL, scope="link", source=A("10.244.2.1")),
            "10.244.2.0/24 dev cni0 proto kernel scope link src 10.244.2.1",
        ),
        (
            cni.Route(N("10.244.3.0/24"), "flannel.1", gateway=A("10.244.3.0"), onlink=True),
            "10.244.3.0/24 via 10.244.3.0 dev flannel.1 onlink",
        ),
        (
            cni.Route(N("10.244.2.0/26"), None, type=cni.RouteType.BLACKHOLE, protocol=cni.RouteProtocol.BIRD),
            "blackhole 10.244.2.0/26 proto bird",
        ),
        (
            cni.Route(N("10.244.3.0/26"), "tunl0", gateway=A("192.168.0.11"), protocol=cni.RouteProtocol.BIRD, onlink=True),
            "10.244.3.0/26 via 192.168.0.11 dev tunl0 proto bird onlink",
        ),
        (
            cni.Route(N("10.244.3.0/24"), "cilium_host", gateway=A("10.244.2.1"), source=A("10.244.2.1"), mtu=1450),
            "10.244.3.0/24 via 10.244.2.1 dev cilium_host src 10.244.2.1 mtu 1450",
        ),
    ],
)
def test_route_text(route: cni.Route, text: str) -> None:
    assert str(route) == text


def test_dump_order_is_by_address_longer_prefix_first() -> None:
    # As `ip route show` lists a Calico node's table (iproute2 6.1, Linux 6.1).
    table = cni.NetworkNamespace(
        "node",
        (),
        (
            cni.Route(N("192.168.0.0/24"), "eth0", protocol=cni.RouteProtocol.KERNEL, scope="link", source=A("192.168.0.10")),
            cni.Route(N("10.244.2.0/24"), "cni0", protocol=cni.RouteProtocol.KERNEL, scope="link", source=A("10.244.2.1")),
            cni.Route(N("10.244.2.20/32"), "cali0b08960e0ec", scope="link"),
            cni.Route(N("10.244.2.0/26"), None, type=cni.RouteType.BLACKHOLE, protocol=cni.RouteProtocol.BIRD),
            cni.Route(N("0.0.0.0/0"), "eth0", gateway=A("192.168.0.1")),
        ),
    )
    assert table.ip_route_show().splitlines() == [
        "default via 192.168.0.1 dev eth0",
        "blackhole 10.244.2.0/26 proto bird",
        "10.244.2.0/24 dev cni0 proto kernel scope link src 10.244.2.1",
        "10.244.2.20 dev cali0b08960e0ec scope link",
        "192.168.0.0/24 dev eth0 proto kernel scope link src 192.168.0.10",
    ]


def test_lookup_is_longest_prefix_match() -> None:
    routes = [
        cni.Route(N("0.0.0.0/0"), "eth0", gateway=A("192.168.0.1")),
        cni.Route(N("10.244.2.0/26"), None, type=cni.RouteType.BLACKHOLE),
        cni.Route(N("10.244.2.14/32"), "cali0b08960e0ec", scope="link"),
    ]
    assert cni.lookup(routes, A("10.244.2.14")).device == "cali0b08960e0ec"
    assert cni.lookup(routes, A("10.244.2.20")).type is cni.RouteType.BLACKHOLE
    assert cni.lookup(routes, A("8.8.8.8")).device == "eth0"
    assert cni.lookup(routes[1:], A("8.8.8.8")) is None


# --- the CNI ADD: golden output built from the plugins' documented behaviour ------------
# The line formats are iproute2 6.1's on Linux 6.1, as a veth pair configured with these
# commands in scratch namespaces printed them (trailing spaces stripped).
def test_calico_pod_prints_the_lessons_shape() -> None:
    add = cni.cni_add(LESSON, CHECKOUT, "calico")
    mac = cni.MACAddress.derive("eth0", CHECKOUT)
    # eth0 is index 3 (lo, then the veth peer registered first); the host end is the
    # node's 3rd device (lo, eth0) + the pod's place among the node's pods (first).
    assert add.ip_addr_show == (
        "3: eth0@if3: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500 qdisc noqueue state UP group default qlen 1000\n"
        f"    link/ether {mac} brd ff:ff:ff:ff:ff:ff link-netnsid 0\n"
        "    inet 10.244.2.14/32 scope global eth0\n"
        "       valid_lft forever preferred_lft forever"
    )
    assert add.ip_route_show == "default via 169.254.1.1 dev eth0\n169.254.1.1 dev eth0 scope link"
    assert add.node_route_show == (
        "default via 192.168.0.1 dev eth0\n"
        "blackhole 10.244.2.0/26 proto bird\n"
        f"10.244.2.14 dev cali{sha1_11('production.checkout-api-6f8b9d-2xkpj')} scope link\n"
        f"10.244.2.15 dev cali{sha1_11('production.payment-api-7d9c4b-xr7nq')} scope link\n"
        "10.244.3.0/26 via 192.168.0.11 dev eth0 proto bird\n"
        "10.244.4.0/26 via 192.168.0.12 dev eth0 proto bird\n"
        "192.168.0.0/24 dev eth0 proto kernel scope link src 192.168.0.10"
    )
    assert any("Calico" in note and "169.254.1.1" in note for note in add.notes)


def test_flannel_pod_shows_a_slash_24_and_the_bridge_gateway() -> None:
    add = cni.cni_add(LESSON, CHECKOUT, "flannel")
    mac = cni.MACAddress.derive("eth0", CHECKOUT)
    # Node devices: lo 1, eth0 2, flannel.1 3, cni0 4; the first pod's veth is 5.
    assert add.ip_addr_show == (
        "3: eth0@if5: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1450 qdisc noqueue state UP group default qlen 1000\n"
        f"    link/ether {mac} brd ff:ff:ff:ff:ff:ff link-netnsid 0\n"
        "    inet 10.244.2.14/24 brd 10.244.2.255 scope global eth0\n"
        "       valid_lft forever preferred_lft forever"
    )
    assert add.ip_route_show == (
        "default via 10.244.2.1 dev eth0\n"
        "10.244.0.0/16 via 10.244.2.1 dev eth0\n"
        "10.244.2.0/24 dev eth0 proto kernel scope link src 10.244.2.14"
    )
    assert add.node_route_show == (
        "default via 192.168.0.1 dev eth0\n"
        "10.244.2.0/24 dev cni0 proto kernel scope link src 10.244.2.1\n"
        "10.244.3.0/24 via 10.244.3.0 dev flannel.1 onlink\n"
        "10.244.4.0/24 via 10.244.4.0 dev flannel.1 onlink\n"
        "192.168.0.0/24 dev eth0 proto kernel scope link src 192.168.0.10"
    )
    assert any("Flannel" in note and "Calico's way" in note for note in add.notes)


def test_calico_ipip_and_vxlan_node_routes() -> None:
    ipip = cni.cni_add(LESSON, CHECKOUT, "calico-ipip")
    assert "10.244.3.0/26 via 192.168.0.11 dev tunl0 proto bird onlink" in ipip.node_route_show.splitlines()
    # ipip's fallback tunl0 sits in every namespace: the pod's eth0 moves to index 4.
    assert ipip.pod_namespace.ip_addr_show().splitlines()[:6] == [
        "1: lo: <LOOPBACK,UP,LOWER_UP> mtu 65536 qdisc noqueue state UNKNOWN group default qlen 1000",
        "    link/loopback 00:00:00:00:00:00 brd 00:00:00:00:00:00",
        "    inet 127.0.0.1/8 scope host lo",
        "       valid_lft forever preferred_lft forever",
        "2: tunl0@NONE: <NOARP> mtu 1480 qdisc noop state DOWN group default qlen 1000",
        "    link/ipip 0.0.0.0 brd 0.0.0.0",
    ]
    assert ipip.ip_addr_show.startswith("4: eth0@if4: ")
    vxlan = cni.cni_add(LESSON, CHECKOUT, "calico-vxlan")
    lines = vxlan.node_route_show.splitlines()
    assert "10.244.3.0/26 via 10.244.3.0 dev vxlan.calico onlink" in lines
    assert "blackhole 10.244.2.0/26 proto 80" in lines


def test_cilium_routes_to_cilium_host_with_the_route_mtu() -> None:
    add = cni.cni_add(LESSON, CHECKOUT, "cilium")
    assert add.ip_route_show == "default via 10.244.2.1 dev eth0 mtu 1450\n10.244.2.1 dev eth0 scope link"
    assert "10.244.3.0/24 via 10.244.2.1 dev cilium_host src 10.244.2.1 mtu 1450" in add.node_route_show.splitlines()
    assert " mtu 1500 " in add.ip_addr_show.splitlines()[0]  # the device keeps the underlay MTU


def test_aws_vpc_pod_gets_static_neighbour_and_host_route() -> None:
    add = cni.cni_add(LESSON, CHECKOUT, "aws-vpc")
    assert add.ip_route_show == "default via 169.254.1.1 dev eth0\n169.254.1.1 dev eth0 scope link"
    assert " mtu 9001 " in add.ip_addr_show.splitlines()[0]
    attach = add.steps[2].commands
    assert any("neigh add 169.254.1.1 lladdr" in c and "nud permanent" in c for c in attach)
    assert f"10.244.2.14 dev eni{sha1_11('production.checkout-api-6f8b9d-2xkpj')} scope link" in add.node_route_show


@pytest.mark.parametrize("name", list(cni.profiles()))
def test_four_steps_build_up_the_state(name: str) -> None:
    add = cni.cni_add(LESSON, CHECKOUT, name)
    assert [s.number for s in add.steps] == [1, 2, 3, 4]
    assert add.steps[0].title == "Assign the Pod an IP from the Pod CIDR"
    first, second, third, fourth = add.steps
    assert "eth0" not in [l.name for l in first.pod.links]
    assert "eth0" in [l.name for l in second.pod.links]
    veth = cni.host_veth_name(name, "production", "checkout-api-6f8b9d-2xkpj")
    assert veth not in [l.name for l in first.node.links]
    assert veth in [l.name for l in second.node.links]
    # Only step 4 gives the pod a default route.
    assert all(r.destination.prefixlen != 0 for r in second.pod.routes)
    assert any(r.destination.prefixlen == 0 for r in fourth.pod.routes)
    assert any(c.startswith(f"ip -n {cni.netns_name(add.pod)} route add default via ") for c in fourth.commands)
    # eth0@ifN names the host end's index, and the host end points back at eth0.
    eth0 = fourth.pod.link("eth0")
    host = fourth.node.link(veth)
    assert (eth0.peer_index, host.peer_index) == (host.index, eth0.index)


def test_bridge_appears_with_the_nodes_first_pod() -> None:
    empty = Cluster(nodes=(Node("n1", "192.168.0.10", "10.244.1.0/24"),), pods=(Pod("default", "web", node_name="n1"),))
    add = cni.cni_add(empty, "web", "flannel")
    assert "cni0" not in [l.name for l in add.steps[0].node.links]
    assert "cni0" in [l.name for l in add.steps[2].node.links]
    assert add.steps[2].node.link(cni.host_veth_name("flannel", "default", "web")).master == "cni0"


def test_pod_without_ip_gets_host_locals_next_address() -> None:
    # host-local: .1 is cni0's; allocation runs round robin from the last reserved + 1.
    cluster = Cluster(
        nodes=(Node("n1", "192.168.0.10", "10.244.1.0/24"),),
        pods=(Pod("default", "a", node_name="n1", pod_ip="10.244.1.7"), Pod("default", "b", node_name="n1")),
    )
    assert str(cni.cni_add(cluster, "b", "flannel").address) == "10.244.1.8/24"
    assert str(cni.cni_add(cluster, "b", "calico").address) == "10.244.1.1/32"


def test_full_range_is_exhausted() -> None:
    cluster = Cluster(
        nodes=(Node("n1", "192.168.0.10", "10.244.1.0/30"),),
        pods=(Pod("default", "a", node_name="n1", pod_ip="10.244.1.2"), Pod("default", "b", node_name="n1")),
    )
    with pytest.raises(ExhaustedError):
        cni.cni_add(cluster, "b", "flannel")


@pytest.mark.parametrize(
    "pod,message",
    [
        (Pod("default", "h", node_name="n1", host_network=True), "uses hostNetwork"),
        (Pod("default", "x", node_name="n1", pod_ip="10.9.9.9"), "outside node n1's podCIDR 10.244.1.0/24"),
        (Pod("default", "dup", node_name="n1", pod_ip="10.244.1.7"), "already belongs to pod default/a"),
    ],
)
def test_cni_add_refuses_bad_pods(pod: Pod, message: str) -> None:
    cluster = Cluster(
        nodes=(Node("n1", "192.168.0.10", "10.244.1.0/24"),),
        pods=(Pod("default", "a", node_name="n1", pod_ip="10.244.1.7"), pod),
    )
    with pytest.raises(InvalidValue, match=message):
        cni.cni_add(cluster, pod, "flannel")


def test_node_without_pod_cidr() -> None:
    cluster = Cluster(nodes=(Node("n1", "192.168.0.10"),), pods=(Pod("default", "a", node_name="n1"),))
    with pytest.raises(InvalidValue, match="node n1 has no podCIDR"):
        cni.cni_add(cluster, "a", "flannel")


# --- invariants over the routing tables ---------------------------------------------------
@pytest.mark.parametrize("name", ["flannel", "calico", "calico-ipip", "calico-vxlan", "aws-vpc"])
def test_every_node_routes_every_pod_the_plugins_way(name: str) -> None:
    p = cni.profile(name)
    for node in LESSON.nodes:
        table = cni.node_namespace(LESSON, node.name, name)
        for pod in LESSON.pods:
            route = table.route_to(pod.pod_ip)
            assert route is not None and route.type is cni.RouteType.UNICAST, (node.name, pod.key)
            if pod.node_name == node.name:
                expected = p.bridge if p.attachment is cni.Attachment.BRIDGE else cni.host_veth_name(p, pod.namespace, pod.name)
                assert route.device == expected
            elif p.encapsulation is cni.Encapsulation.NONE and p.route_source is cni.RouteSource.BIRD:
                assert (route.device, route.gateway) == ("eth0", LESSON.node(pod.node_name).internal_ip)
            elif p.route_source is cni.RouteSource.VPC:
                assert route.destination.prefixlen == 0  # the VPC, not the node, knows the pod
            else:
                assert route.device == p.tunnel_device


@pytest.mark.parametrize("name", list(cni.profiles()))
def test_pod_address_lies_in_its_node_range(name: str) -> None:
    for pod in LESSON.pods:
        address = cni.pod_interface(LESSON, pod, name)
        assert address.ip == pod.pod_ip
        node = LESSON.node_of(pod)
        if name != "aws-vpc":
            assert any(pod.pod_ip in block for block in cni.pod_blocks(LESSON, node, name))


def test_core_modules_import_without_the_edge_libraries() -> None:
    # YAML, pandas and scapy are imported inside the functions that need them.
    import subprocess
    import sys

    code = (
        "import sys, k8snet_lesson.cni, k8snet_lesson.frames, k8snet_lesson.walk, k8snet_lesson.cli.trace; "
        "print(sorted(m for m in ('yaml', 'pandas', 'scapy', 'matplotlib') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
