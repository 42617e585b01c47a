"""The lesson's cluster built in the kernel, checked against the model.

One lab per module (built once, about a second); each test reads it or changes it and
puts it back. Facts checked come from the lesson and from Flannel/kube-proxy, not from
the lab's own output: VXLAN VNI 1 on UDP 8472, 50 bytes of overhead, MTU 1450,
kube-proxy's 1/3 written as 0.3333333333 and printed back by the kernel as 0.33333333349.
"""

from __future__ import annotations

import json
from ipaddress import IPv4Address

import pytest

from k8snet_lesson.cluster import ContainerPort, Protocol, ServicePort
from k8snet_lesson.lab import checks
from k8snet_lesson.lab.run import DEFAULT_FAULTS, rules_agree

pytestmark = pytest.mark.lab

SERVICE = "production/checkout-api-svc"
CLUSTER_IP = IPv4Address("10.96.214.88")
# The lesson's endpoints (kubectl get endpoints checkout-api-svc).
ENDPOINTS = ("10.244.2.14:3000", "10.244.3.7:3000", "10.244.4.2:3000")


def test_namespaces_are_the_plan(lab):
    names = set(lab.sandbox.run(["ip", "netns", "list"]).stdout.split()[::1])
    names = {n for n in names if n.startswith(lab.prefix)}
    assert names == set(lab.topology.namespaces)
    # 3 nodes, the underlay, and one namespace per pod (7 in the lesson's cluster, the debug pod)
    assert len(names) == 1 + 3 + 8


def test_the_lessons_nodes_keep_the_models_addresses(lab):
    """The lesson's nodes sit at 192.168.1.10, 2.10, 3.10 of 192.168.0.0/16: the lab builds them there."""
    assert [(n.name, str(n.address)) for n in lab.topology.nodes] == [
        ("node-eu-west-1a", "192.168.1.10"), ("node-eu-west-1b", "192.168.2.10"), ("node-eu-west-1c", "192.168.3.10")]
    assert not any("renumbered" in note for note in lab.notes)
    eth0 = lab.exec("node-eu-west-1a", ["ip", "-4", "-o", "addr", "show", "eth0"]).stdout
    assert "inet 192.168.1.10/16 " in eth0


def test_routes_are_the_models(lab):
    routes = [c for c in checks.interfaces(lab) if c.command == "ip route show"]
    assert len(routes) == 3 + 8
    for comparison in routes:
        assert comparison.same, (comparison.where, comparison.differences)
    node = next(c for c in routes if c.where == "node-eu-west-1a")
    # flanneld's entries for the two remote leases, and the dead upstream router
    assert "10.244.3.0/24 via 10.244.3.0 dev flannel.1 onlink" in node.kernel
    assert "10.244.4.0/24 via 10.244.4.0 dev flannel.1 onlink" in node.kernel
    assert node.kernel.startswith("default via 192.168.0.1 dev eth0")


def test_pod_eth0_is_the_models(lab):
    """`ip addr show eth0` in every pod, as a container sees it, equals the CNI model's
    rendering line for line: index, peer index, MTU, MAC, link-netnsid, address, broadcast."""
    shown = [c for c in checks.interfaces(lab) if c.command == "ip addr show eth0"]
    assert len(shown) == 8
    for comparison in shown:
        assert comparison.same, (comparison.where, comparison.differences)
        assert "mtu 1450" in comparison.kernel and "link-netnsid 0" in comparison.kernel


def test_flannel_vxlan_device(lab):
    node = lab.topology.node("node-eu-west-1a")
    link = json.loads(lab.exec(node.name, ["ip", "-d", "-j", "link", "show", "flannel.1"]).stdout)[0]
    vxlan = link["linkinfo"]["info_data"]
    assert (vxlan["id"], vxlan["port"], vxlan["local"], vxlan["learning"]) == (1, 8472, str(node.address), False)
    assert link["mtu"] == 1450 and link["address"] == node.vtep_mac
    fdb = json.loads(lab.exec(node.name, ["bridge", "-j", "fdb", "show", "dev", "flannel.1"]).stdout)
    remote = {(e["mac"], e["dst"]) for e in fdb if "dst" in e}
    assert remote == {(n.vtep_mac, str(n.address)) for n in lab.topology.nodes if n.name != node.name}
    neigh = json.loads(lab.exec(node.name, ["ip", "-j", "neigh", "show", "dev", "flannel.1"]).stdout)
    assert {(e["dst"], e["lladdr"]) for e in neigh} == {
        (str(n.vtep_address), n.vtep_mac) for n in lab.topology.nodes if n.name != node.name
    }


@pytest.mark.parametrize(
    "key, value",
    [
        ("net/ipv4/ip_forward", "1"),
        ("net/bridge/bridge-nf-call-iptables", "1"),
        ("net/ipv4/icmp_ratelimit", "0"),
    ],
)
def test_node_sysctls(lab, key, value):
    for node in lab.topology.nodes:
        assert lab.exec(node.name, ["cat", f"/proc/sys/{key}"]).stdout.strip() == value


def test_kube_proxy_rules_read_back_from_the_kernel(lab):
    for check in rules_agree(lab):
        assert check.agree, check.node
        checkout = next(e for e in check.kernel if e.cluster_ip == CLUSTER_IP and e.port == 80)
        assert tuple(f"{e.address}:{e.port}" for e in checkout.endpoints) == ENDPOINTS
        # kube-proxy writes 0.3333333333 and 0.5000000000; iptables stores lround(p * 2**31)
        assert [e.probability_text for e in checkout.endpoints] == ["0.33333333349", "0.50000000000", None]


def test_four_rules_hold_in_the_kernel_as_in_the_model(lab):
    measured = checks.four_rules(lab)
    assert measured.hold and measured.agree
    rule3 = measured.kernel[2]
    assert len(rule3.evidence) > 0 and all(c.source_seen == c.client_ip for c in rule3.evidence)


def test_dns_from_the_debug_pod(lab, lesson):
    from k8snet_lesson import dns

    conf = lab.in_pod(lesson.client, ["cat", "/etc/resolv.conf"]).stdout
    assert conf == str(dns.resolv_conf(lab.cluster, lab.cluster.pod(lesson.client))) + "\n"
    answer = lab.in_pod(lesson.client, ["nslookup", "checkout-api-svc"]).stdout  # search list, ndots:5
    assert "Name:\tcheckout-api-svc.production.svc.cluster.local\nAddress: 10.96.214.88" in answer
    assert "Server:\t\t10.96.0.10" in answer


def test_spread_tcp(lab, lesson):
    """3,000 connections; seed: the kernel's own random numbers (prandom); threshold p > 0.001."""
    measured = checks.spread(lab, lesson.client, SERVICE, 3000)
    assert measured.endpoints == ENDPOINTS
    assert sum(measured.client_counts) == 3000 and not measured.failures
    assert measured.client_counts == measured.kernel_counts
    assert measured.chi_square.p_value > 1e-3
    assert all(abs(share - 1 / 3) < 1e-9 for share in measured.model_shares)


def test_spread_udp_from_fresh_source_ports(lab, lesson):
    """A UDP port on the checkout pods: each datagram from a new source port is a new
    conntrack entry, so each is drawn again (threshold p > 0.001)."""
    healthy = lab.cluster
    service = healthy.service(SERVICE)
    udp = service.with_(ports=service.ports + (ServicePort(5353, 5353, "echo", Protocol.UDP),))
    changed = healthy.with_service(udp)
    for pod in healthy.pods:
        if service.selects(pod):
            container = pod.containers[0]
            extra = container.with_(ports=container.ports + (ContainerPort(5353, "echo", Protocol.UDP),))
            changed = changed.with_pod(pod.with_(containers=(extra,) + pod.containers[1:]))
    lab.apply(changed)
    try:
        measured = checks.spread(lab, lesson.client, SERVICE, 6000, port=5353, protocol="UDP")
    finally:
        lab.apply(healthy)
    assert sum(measured.client_counts) == 6000 and not measured.failures
    assert measured.client_counts == measured.kernel_counts
    assert measured.chi_square.p_value > 1e-3


@pytest.mark.parametrize("fault", DEFAULT_FAULTS)
def test_fault_model_and_kernel_agree(lab, lesson, fault):
    from k8snet_lesson.lab.ladder import check_fault

    checked = check_fault(lab, fault, client=lesson.client, service=SERVICE)
    assert checked.model_verdict is not None and checked.model_verdict[1] == fault
    assert checked.kernel_verdict == checked.model_verdict, str(checked.kernel)
    assert checked.model_fixed.passed and checked.kernel_fixed.passed, str(checked.kernel_fixed)


def test_the_lab_climb_names_what_kube_proxy_left_stale(lab, lesson):
    """kube-proxy-stale: k8snet diff of the client node's iptables-save names the Service
    port it lacks and that port's endpoints (kubectl get endpoints)."""
    from k8snet_lesson.endpoints import endpoints_for
    from k8snet_lesson.lab.ladder import check_fault

    checked = check_fault(lab, "kube-proxy-stale", client=lesson.client, service=SERVICE)
    drifted = checked.kernel.finding.drift
    assert (drifted.mode, drifted.node) == ("iptables", lab.node_of(lesson.client))
    service = lab.cluster.service(SERVICE)
    port = next(p for p in drifted.ports if (p.cluster_ip, p.port) == (str(service.cluster_ip), service.ports[0].port))
    ready = sorted(f"{a.ip}:{p.port}" for s in endpoints_for(lab.cluster, service).subsets
                   for a in s.addresses for p in s.ports)
    assert port.kind == "missing" and sorted(port.missing_endpoints) == ready
    assert drifted == checked.model.finding.drift


def test_capture_of_a_cross_node_request(lab, lesson):
    from k8snet_lesson.lab.capture import capture

    client = lab.topology.pod(lesson.client)  # on node-eu-west-1a
    server = lab.topology.pod("production/checkout-api-6f8b9d-7rvqn")  # on node-eu-west-1b
    caught = capture(lab, client.key, server.key)
    nodes = {n.name: n.address for n in lab.topology.nodes}
    assert caught.mtu == 1450 and caught.overheads == {50}
    assert caught.answer["peer"] == str(client.address)  # no NAT between pods
    outbound = [f for f in caught.frames if f.inner_src == client.address]
    assert outbound and all(
        (f.outer_src, f.outer_dst, f.udp_dport, f.vni, f.inner_dst) == (nodes[client.node], nodes[server.node], 8472, 1, server.address)
        for f in outbound
    )
    assert outbound[0].inner_flags == "S"
    assert len(caught.pcap) > 24 and caught.pcap[:4] == b"\xd4\xc3\xb2\xa1"  # a little-endian pcap file


def test_a_change_leaves_no_stale_chain_in_the_kernel(lab, lesson):
    """After selector-mismatch the checkout Service's KUBE-SVC/KUBE-SEP chains are gone from
    the kernel (kube-proxy's -X), and they come back with the fix."""
    from k8snet_lesson.faults import inject

    healthy = lab.cluster
    broken = inject(healthy, "selector-mismatch", service=SERVICE, client=lesson.client)

    def chains(rules):
        return {c.name for t in rules.tables for c in t.chains if c.name.startswith("KUBE-")}

    lab.apply(broken.cluster)
    try:
        for node in lab.topology.nodes:
            assert chains(lab.kernel_rules(node.name)) == chains(lab.model_rules(node.name))
    finally:
        lab.apply(healthy)
    for node in lab.topology.nodes:
        assert chains(lab.kernel_rules(node.name)) == chains(lab.model_rules(node.name))


def test_the_kernel_ladder_is_the_models_climb_on_real_ss(lab, lesson):
    """The lab climbs the model's one ladder; inside the pod it reads the real `ss -tlnp`, which
    shows the lesson's app on 127.0.0.1:3000 only."""
    from k8snet_lesson import ladder
    from k8snet_lesson.lab.ladder import check_fault

    checked = check_fault(lab, "bound-to-localhost", client=lesson.client, service=SERVICE)
    kernel = checked.kernel
    assert isinstance(kernel, ladder.Climb) and kernel.seed is None and kernel.cni == "flannel"
    inside = kernel.rungs[-1]
    assert inside.name == "inside the pod" and inside.outputs[0].command == "ss -tlnp"
    assert "ss -tlnp in checkout-api-6f8b9d-2xkpj: listening on 127.0.0.1:3000" in kernel.finding.evidence
