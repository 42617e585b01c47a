"""IPAM: node CIDRs (kube-controller-manager's cidrset), pod IPs (CNI host-local) and
ClusterIPs (kube-apiserver's ipallocator), and CIDR plans.

The expected values come from the behaviour of the real allocators:
cidrset keeps ``nextCandidate`` (one past the last block handed out, wrapping) and never
moves it on release or occupy; host-local starts after ``last_reserved_ip``, skips the
gateway ``.1`` and ends the range before the broadcast; the apiserver allocator never
uses the network or broadcast address and fills the upper band before the lower one
(``min(max(16, size/16), 256)`` addresses).
"""

from __future__ import annotations

import random
from collections import Counter
from ipaddress import IPv4Address, IPv4Network

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from k8snet_lesson.cluster import Cluster, Node, Pod, PodPhase
from k8snet_lesson.errors import ExhaustedError, InvalidValue
from k8snet_lesson.ipam import (
    CIDRSet,
    HostLocal,
    Overlap,
    ServiceIPRange,
    allocate_pod_cidrs,
    allocate_pod_ips,
    dns_service_ip,
    kubernetes_service_ip,
    parse_cidr,
    parse_mask_size,
    plan,
    pod_addresses,
    static_band_size,
)

A = IPv4Address
N = IPv4Network


# --- parsing ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("10.244.0.0/33", "cluster CIDR '10.244.0.0/33' is not a valid IPv4 CIDR"),
        ("banana", "cluster CIDR 'banana' is not a valid IPv4 CIDR"),
        ("10.244.0.0", "cluster CIDR '10.244.0.0' is not a valid IPv4 CIDR (no /prefix length)"),
        ("fd00:10:244::/56", "cluster CIDR 'fd00:10:244::/56' is not an IPv4 CIDR (the model is IPv4 only)"),
        ("10.244.1.0/16", "cluster CIDR '10.244.1.0/16' has host bits set (the network is 10.244.0.0/16)"),
        ("", "cluster CIDR '' is not a valid IPv4 CIDR"),
    ],
)
def test_bad_cidrs_name_the_value(text, message):
    with pytest.raises(InvalidValue) as err:
        parse_cidr(text, "cluster CIDR")
    assert str(err.value) == message


@pytest.mark.parametrize(("value", "size"), [(24, 24), ("24", 24), ("/26", 26), (" 0 ", 0), (32, 32)])
def test_mask_sizes(value, size):
    assert parse_mask_size(value) == size


@pytest.mark.parametrize("value", [33, -1, "abc", "2 4", True, 24.0, None])
def test_bad_mask_sizes(value):
    with pytest.raises(InvalidValue, match="is not a prefix length"):
        parse_mask_size(value)


# --- node CIDRs: cidrset ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("cluster_cidr", "mask", "max_cidrs"),
    [
        ("10.244.0.0/16", 24, 256),
        ("10.244.0.0/16", 16, 1),  # kubeadm allows mask == prefix: one node CIDR
        ("10.244.0.0/16", 25, 512),
        ("10.244.0.0/16", 26, 1024),
        ("10.0.0.0/8", 24, 65536),
        ("192.168.0.0/24", 28, 16),
    ],
)
def test_cidrset_capacity(cluster_cidr, mask, max_cidrs):
    assert CIDRSet(cluster_cidr, mask).max_cidrs == max_cidrs


def test_cidrset_hands_out_blocks_lowest_first():
    cidrs = CIDRSet("10.244.0.0/16", 24)
    assert [cidrs.allocate_next() for _ in range(3)] == [N("10.244.0.0/24"), N("10.244.1.0/24"), N("10.244.2.0/24")]


def test_cidrset_node_mask_shorter_than_cluster_prefix_is_refused():
    with pytest.raises(InvalidValue) as err:
        CIDRSet("10.244.0.0/16", 15)
    assert "/15" in str(err.value) and "10.244.0.0/16" in str(err.value)


def test_cidrset_exhaustion_says_how_many_nodes_the_range_holds():
    cidrs = CIDRSet("10.244.0.0/16", 24)
    for _ in range(256):
        cidrs.allocate_next()
    with pytest.raises(ExhaustedError) as err:
        cidrs.allocate_next()
    assert "10.244.0.0/16 with /24 node CIDRs holds 256 nodes" in str(err.value)
    assert "no remaining CIDRs left to allocate" in str(err.value)


def test_cidrset_released_block_is_reused_only_after_wrapping():
    cidrs = CIDRSet("10.244.0.0/22", 24)  # four blocks: .0 .1 .2 .3
    for _ in range(3):
        cidrs.allocate_next()
    cidrs.release("10.244.0.0/24")
    assert cidrs.allocate_next() == N("10.244.3.0/24")  # nextCandidate went on
    assert cidrs.allocate_next() == N("10.244.0.0/24")  # wrapped back to the gap


def test_cidrset_occupy_marks_existing_node_cidrs():
    cidrs = CIDRSet("10.244.0.0/16", 24)
    cidrs.occupy("10.244.0.0/24")
    cidrs.occupy(N("10.244.2.0/24"))
    cidrs.occupy("10.244.2.0/24")  # idempotent, as cidrset's Occupy
    assert cidrs.used == 2
    assert [cidrs.allocate_next(), cidrs.allocate_next()] == [N("10.244.1.0/24"), N("10.244.3.0/24")]
    assert N("10.244.2.0/24") in cidrs and N("10.244.4.0/24") not in cidrs


@pytest.mark.parametrize(
    ("cluster_cidr", "occupied", "used"),
    [
        ("10.244.0.0/16", "10.244.1.64/26", 1),  # smaller than a node CIDR: the block holding it
        ("10.244.0.0/16", "10.244.4.0/22", 4),  # larger: every block inside it
        ("10.96.0.0/16", "10.96.0.0/12", 256),  # covers the whole cluster CIDR (as a service range can)
    ],
)
def test_cidrset_occupy_marks_every_block_it_overlaps(cluster_cidr, occupied, used):
    cidrs = CIDRSet(cluster_cidr, 24)
    cidrs.occupy(occupied)
    assert cidrs.used == used
    for block in cidrs.allocated:
        assert block.overlaps(parse_cidr(occupied))


def test_cidrset_occupy_outside_the_cluster_cidr_names_both():
    cidrs = CIDRSet("10.244.0.0/16", 24)
    with pytest.raises(InvalidValue) as err:
        cidrs.occupy("10.245.0.0/24")
    assert "10.245.0.0/24" in str(err.value) and "10.244.0.0/16" in str(err.value)


@st.composite
def cidrset_programs(draw):
    prefix = draw(st.integers(min_value=20, max_value=28))
    mask = draw(st.integers(min_value=prefix, max_value=min(prefix + 5, 32)))
    ops = draw(
        st.lists(
            st.tuples(st.sampled_from(["allocate", "release", "occupy"]), st.integers(min_value=0, max_value=63)),
            max_size=80,
        )
    )
    return N(f"10.{prefix}.0.0/{prefix}", strict=False), mask, ops


@settings(max_examples=150, deadline=None)
@given(cidrset_programs())
def test_cidrset_random_programs_keep_the_invariants(program):
    cluster_cidr, mask, ops = program
    cidrs = CIDRSet(cluster_cidr, mask)
    blocks = list(cluster_cidr.subnets(new_prefix=mask))
    next_candidate = 0  # cidrset: one past the last block handed out, wrapping
    for op, n in ops:
        used_before = set(cidrs.allocated)
        if op == "allocate":
            if len(used_before) == len(blocks):
                with pytest.raises(ExhaustedError):
                    cidrs.allocate_next()
                continue
            expected = next(
                blocks[(next_candidate + i) % len(blocks)]
                for i in range(len(blocks))
                if blocks[(next_candidate + i) % len(blocks)] not in used_before
            )
            got = cidrs.allocate_next()
            assert got == expected
            assert got not in used_before
            next_candidate = (blocks.index(got) + 1) % len(blocks)
        elif op == "release" and used_before:
            cidrs.release(sorted(used_before)[n % len(used_before)])
        elif op == "occupy":
            cidrs.occupy(blocks[n % len(blocks)])
        allocated = cidrs.allocated
        assert len(set(allocated)) == len(allocated) == cidrs.used
        assert all(b.prefixlen == mask and b.subnet_of(cluster_cidr) for b in allocated)
        assert not any(a.overlaps(b) for i, a in enumerate(allocated) for b in allocated[i + 1 :])
        assert cidrs.free == len(blocks) - cidrs.used


# --- pod IPs: host-local ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("subnet", "capacity", "first", "last"),
    [
        ("10.244.1.0/24", 253, "10.244.1.2", "10.244.1.254"),
        ("10.244.1.0/25", 125, "10.244.1.2", "10.244.1.126"),
        ("10.244.1.0/26", 61, "10.244.1.2", "10.244.1.62"),
        ("10.244.1.0/29", 5, "10.244.1.2", "10.244.1.6"),
        ("10.244.1.0/30", 1, "10.244.1.2", "10.244.1.2"),
        ("10.244.0.0/16", 65533, "10.244.0.2", "10.244.255.254"),
    ],
)
def test_host_local_range(subnet, capacity, first, last):
    ipam = HostLocal(subnet)
    assert ipam.gateway == N(subnet).network_address + 1
    assert ipam.capacity == capacity == pod_addresses(subnet)
    assert ipam.allocate() == A(first)
    assert ipam.range_end == A(last)


@pytest.mark.parametrize("subnet", ["10.244.1.0/31", "10.244.1.1/32"])
def test_host_local_refuses_networks_with_no_addresses(subnet):
    with pytest.raises(InvalidValue, match=f"Network {subnet} too small to allocate from"):
        HostLocal(subnet)


def test_host_local_gives_a_restarted_pod_a_new_ip():
    ipam = HostLocal("10.244.2.0/24")
    assert [ipam.allocate(p) for p in ("a", "b", "c")] == [A("10.244.2.2"), A("10.244.2.3"), A("10.244.2.4")]
    ipam.release("10.244.2.3")
    assert ipam.allocate("b") == A("10.244.2.5")
    assert ipam.owner_of("10.244.2.5") == "b" and "10.244.2.3" not in ipam


def test_host_local_wraps_after_the_last_address_and_skips_the_gateway():
    ipam = HostLocal("10.244.3.0/29")  # range .1-.6, .1 is cni0
    assert [ipam.allocate() for _ in range(5)] == [A(f"10.244.3.{i}") for i in range(2, 7)]
    ipam.release("10.244.3.2")
    ipam.release("10.244.3.4")
    assert ipam.allocate() == A("10.244.3.2")  # .6 was last: wrap to .1 (gateway, skipped), then .2
    assert ipam.allocate() == A("10.244.3.4")
    with pytest.raises(ExhaustedError) as err:
        ipam.allocate()
    assert str(err.value) == (
        "no IP addresses available in range set: 10.244.3.1-10.244.3.6 (10.244.3.0/29 holds 5 pod addresses)"
    )


def test_host_local_exhaustion_counts_253_for_a_slash_24():
    ipam = HostLocal("10.244.4.0/24")
    handed = {ipam.allocate() for _ in range(253)}
    assert len(handed) == 253
    assert A("10.244.4.0") not in handed and A("10.244.4.1") not in handed and A("10.244.4.255") not in handed
    with pytest.raises(ExhaustedError, match="holds 253 pod addresses"):
        ipam.allocate()


def test_host_local_requested_ip_moves_the_round_robin_cursor():
    ipam = HostLocal("10.244.2.0/24")
    assert ipam.reserve("10.244.2.14", "checkout-api-6f8b9d-2xkpj") == A("10.244.2.14")
    assert ipam.allocate("payment-api-7d9c4b-xr7nq") == A("10.244.2.15")


@pytest.mark.parametrize(
    ("address", "words"),
    [
        ("10.244.3.7", ["10.244.3.7", "10.244.2.1-10.244.2.254"]),
        ("10.244.2.0", ["10.244.2.0", "10.244.2.1-10.244.2.254"]),
        ("10.244.2.255", ["10.244.2.255", "10.244.2.1-10.244.2.254"]),
        ("10.244.2.1", ["10.244.2.1", "gateway"]),
        ("10.244.2.14", ["10.244.2.14", "not available", "held by web-1"]),
        ("not-an-ip", ["'not-an-ip'", "not an IPv4 address"]),
    ],
)
def test_host_local_refuses_bad_requested_ips(address, words):
    ipam = HostLocal("10.244.2.0/24")
    ipam.reserve("10.244.2.14", "web-1")
    with pytest.raises(InvalidValue) as err:
        ipam.reserve(address)
    for word in words:
        assert word in str(err.value)


@st.composite
def host_local_programs(draw):
    prefix = draw(st.integers(min_value=26, max_value=30))
    ops = draw(
        st.lists(
            st.tuples(st.sampled_from(["allocate", "release", "reserve"]), st.integers(min_value=0, max_value=80)),
            max_size=120,
        )
    )
    return N(f"10.244.7.0/{prefix}"), ops


@settings(max_examples=150, deadline=None)
@given(host_local_programs())
def test_host_local_random_programs_keep_the_invariants(program):
    subnet, ops = program
    ipam = HostLocal(subnet)
    gateway = subnet.network_address + 1
    usable = [a for a in subnet.hosts() if a != gateway]  # hosts(): no network, no broadcast
    for op, n in ops:
        before = set(ipam.allocated)
        if op == "allocate":
            if len(before) == len(usable):
                with pytest.raises(ExhaustedError):
                    ipam.allocate()
                continue
            # host-local: the first free address after the last reserved one, wrapping
            last = ipam.last_reserved_ip
            start = usable.index(last) + 1 if last in usable else 0
            expected = next(
                usable[(start + i) % len(usable)]
                for i in range(len(usable))
                if usable[(start + i) % len(usable)] not in before
            )
            assert ipam.allocate() == expected
        elif op == "release" and before:
            ipam.release(sorted(before)[n % len(before)])
        elif op == "reserve":
            address = subnet.network_address + n
            try:
                ipam.reserve(address)
            except InvalidValue:
                assert address not in usable or address in before
            else:
                assert address in usable and address not in before
        handed = list(ipam.allocated)
        assert len(handed) == len(set(handed))
        assert all(a in usable for a in handed)  # never .0, .1 or the broadcast
        assert ipam.free == len(usable) - len(handed)


@settings(max_examples=60, deadline=None)
@given(st.integers(min_value=26, max_value=29), st.data())
def test_host_local_released_ip_is_not_reused_until_the_range_wraps(prefix, data):
    subnet = N(f"10.244.9.0/{prefix}")
    ipam = HostLocal(subnet)
    count = data.draw(st.integers(min_value=1, max_value=ipam.capacity))
    handed = [ipam.allocate() for _ in range(count)]
    released = data.draw(st.sampled_from(handed))
    ipam.release(released)
    # every other free address comes first
    others = [ipam.allocate() for _ in range(ipam.free - 1)]
    assert released not in others
    assert ipam.allocate() == released


# --- ClusterIPs: kube-apiserver ---------------------------------------------------------


@pytest.mark.parametrize(
    ("cidr", "band"),
    [
        ("10.96.0.0/12", 256),  # 2^20/16 capped at 256
        ("10.96.0.0/16", 256),
        ("10.96.0.0/20", 256),  # 4096/16 = 256
        ("10.96.0.0/21", 128),
        ("10.96.0.0/24", 16),
        ("10.96.0.0/25", 16),  # 128/16 = 8, raised to the minimum 16
        ("10.96.0.0/27", 16),
        ("10.96.0.0/28", 0),  # 16 addresses or fewer: no band
        ("10.96.0.0/30", 0),
    ],
)
def test_static_band_size(cidr, band):
    assert static_band_size(cidr) == band


def test_well_known_service_ips():
    assert kubernetes_service_ip("10.96.0.0/12") == A("10.96.0.1")
    assert dns_service_ip("10.96.0.0/12") == A("10.96.0.10")
    assert dns_service_ip("10.100.0.0/16") == A("10.100.0.10")


def test_service_range_rejects_a_range_larger_than_slash_12():
    with pytest.raises(InvalidValue, match="the mask must be >= 12"):
        ServiceIPRange("10.0.0.0/8")


def test_service_range_static_allocation():
    r = ServiceIPRange("10.96.0.0/12")
    assert r.max == 2**20 - 2
    assert r.allocate("10.96.0.1", "default/kubernetes") == A("10.96.0.1")
    assert r.allocate("10.96.0.10", "kube-system/kube-dns") == A("10.96.0.10")
    assert r.static_band_last == A("10.96.1.0")
    with pytest.raises(InvalidValue) as err:
        r.allocate("10.96.0.10")
    assert "10.96.0.10" in str(err.value) and "already allocated" in str(err.value)
    assert "kube-system/kube-dns" in str(err.value)


@pytest.mark.parametrize("address", ["10.112.0.1", "10.96.0.0", "10.111.255.255", "192.168.0.10"])
def test_service_range_refuses_addresses_outside_the_usable_range(address):
    r = ServiceIPRange("10.96.0.0/12")
    with pytest.raises(InvalidValue) as err:
        r.allocate(address)
    assert address in str(err.value) and "10.96.0.0/12" in str(err.value)


def test_dynamic_clusterips_fill_the_upper_band_before_the_lower():
    r = ServiceIPRange("10.96.0.0/24", seed=42)  # 254 usable, lower band .1-.16
    upper = [r.allocate_next() for _ in range(254 - 16)]
    assert len(set(upper)) == 238
    assert all(A("10.96.0.17") <= a <= A("10.96.0.254") for a in upper)
    lower = [r.allocate_next() for _ in range(16)]
    assert sorted(lower) == [A(f"10.96.0.{i}") for i in range(1, 17)]
    with pytest.raises(ExhaustedError, match="10.96.0.0/24 holds 254 ClusterIPs"):
        r.allocate_next()


def test_dynamic_allocation_is_reproducible_with_a_seed():
    first = [ServiceIPRange("10.96.0.0/12", seed=3).allocate_next() for _ in range(2)]
    assert first[0] == first[1]
    a, b = ServiceIPRange("10.96.0.0/12", seed=3), ServiceIPRange("10.96.0.0/12", seed=3)
    assert [a.allocate_next() for _ in range(20)] == [b.allocate_next() for _ in range(20)]


def test_first_dynamic_clusterip_is_uniform_over_the_upper_band():
    # Seeds 0..3999; four equal quarters of the /24's upper band (.17-.254, 238 addresses,
    # quarters of 59 or 60); each quarter must get 1000 +/- 15%.
    upper_first, size = 17, 238
    quarters = Counter()
    for seed in range(4000):
        offset = int(ServiceIPRange("10.96.0.0/24", seed=seed).allocate_next()) - int(A("10.96.0.0")) - upper_first
        quarters[offset * 4 // size] += 1
    assert set(quarters) == {0, 1, 2, 3}
    assert all(850 <= quarters[q] <= 1150 for q in range(4)), quarters


def test_release_then_static_reuse():
    r = ServiceIPRange("10.96.0.0/12")
    r.allocate("10.96.0.10")
    r.release("10.96.0.10")
    r.release("10.96.0.11")  # not allocated: a no-op
    r.release("172.16.0.1")  # out of range: a no-op, as kube-apiserver
    assert r.allocate("10.96.0.10") == A("10.96.0.10")


@settings(max_examples=120, deadline=None)
@given(
    st.integers(min_value=24, max_value=29),  # kube-apiserver refuses a range of fewer than 8 addresses
    st.integers(min_value=0, max_value=2**32 - 1),
    st.lists(st.tuples(st.sampled_from(["next", "static", "release"]), st.integers(0, 300)), max_size=120),
)
def test_service_range_random_programs_keep_the_invariants(prefix, seed, ops):
    cidr = N(f"10.96.0.0/{prefix}")
    r = ServiceIPRange(cidr, seed=random.Random(seed))
    usable = set(cidr.hosts())
    band = static_band_size(cidr)
    upper = {a for a in usable if int(a) - int(cidr.network_address) > band}
    for op, n in ops:
        before = set(r.allocated)
        if op == "next":
            if len(before) == len(usable):
                with pytest.raises(ExhaustedError):
                    r.allocate_next()
                continue
            got = r.allocate_next()
            assert got in usable and got not in before
            if upper - before:
                assert got in upper
        elif op == "static":
            address = cidr.network_address + n
            try:
                r.allocate(address)
            except InvalidValue:
                assert address not in usable or address in before
        elif before:
            r.release(sorted(before)[n % len(before)])
        assert set(r.allocated) <= usable
        assert r.free == len(usable) - r.used


# --- plans ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("cluster_cidr", "mask", "service_cidr", "max_pods", "nodes", "addresses", "per_node", "total"),
    [
        ("10.244.0.0/16", 24, "10.96.0.0/12", 110, 256, 253, 110, 28160),
        ("10.244.0.0/16", 25, "10.96.0.0/12", 110, 512, 125, 110, 56320),
        ("10.244.0.0/16", 26, "10.96.0.0/12", 110, 1024, 61, 61, 62464),
        ("10.244.0.0/16", 24, "10.96.0.0/12", 250, 256, 253, 250, 64000),
        ("10.244.0.0/16", 24, "10.96.0.0/12", 300, 256, 253, 253, 64768),
        ("10.244.0.0/24", 24, "10.96.0.0/12", 110, 1, 253, 110, 110),
        ("10.244.0.0/16", 31, "10.96.0.0/12", 110, 32768, 0, 0, 0),
        ("10.0.0.0/8", 24, "10.96.0.0/12", 110, 65536 - 4096, 253, 110, (65536 - 4096) * 110),
    ],
)
def test_plan_capacities(cluster_cidr, mask, service_cidr, max_pods, nodes, addresses, per_node, total):
    p = plan(cluster_cidr=cluster_cidr, node_cidr_mask_size=mask, service_cidr=service_cidr, max_pods=max_pods)
    assert (p.nodes, p.pod_addresses_per_node, p.pods_per_node, p.total_pods) == (nodes, addresses, per_node, total)


def test_plan_of_the_lesson_networks():
    p = plan(
        cluster_cidr="10.244.0.0/16", node_cidr_mask_size=24, service_cidr="10.96.0.0/12", node_network="192.168.0.0/16"
    )
    assert p.ok and p.overlaps == () and p.warnings == ()
    assert p.service_ips == 2**20 - 2
    assert (p.kubernetes_service_ip, p.dns_service_ip) == (A("10.96.0.1"), A("10.96.0.10"))
    assert p.node_addresses == 65534
    assert [p.node_cidr(i) for i in (0, 2, 255)] == [N("10.244.0.0/24"), N("10.244.2.0/24"), N("10.244.255.0/24")]


@pytest.mark.parametrize(
    ("cluster_cidr", "service_cidr", "node_network", "messages"),
    [
        ("10.96.0.0/16", "10.96.0.0/12", None, ["pod network 10.96.0.0/16 overlaps service network 10.96.0.0/12"]),
        ("10.0.0.0/8", "10.96.0.0/12", None, ["pod network 10.0.0.0/8 overlaps service network 10.96.0.0/12"]),
        (
            "10.244.0.0/16",
            "10.96.0.0/12",
            "10.0.0.0/8",
            [
                "node network 10.0.0.0/8 overlaps pod network 10.244.0.0/16",
                "node network 10.0.0.0/8 overlaps service network 10.96.0.0/12",
            ],
        ),
        (
            "192.168.0.0/16",
            "10.96.0.0/12",
            "192.168.1.0/24",
            ["node network 192.168.1.0/24 overlaps pod network 192.168.0.0/16"],
        ),
        ("10.244.0.0/16", "10.96.0.0/12", "192.168.0.0/16", []),
    ],
)
def test_plan_names_every_overlap(cluster_cidr, service_cidr, node_network, messages):
    p = plan(cluster_cidr=cluster_cidr, service_cidr=service_cidr, node_network=node_network)
    assert [str(o) for o in p.overlaps] == messages
    assert p.ok == (not messages)
    assert all(isinstance(o, Overlap) and o.first.overlaps(o.second) for o in p.overlaps)


def test_plan_counts_node_cidrs_filtered_out_by_the_service_range():
    p = plan(cluster_cidr="10.96.0.0/16", service_cidr="10.96.0.0/12")
    assert (p.node_cidrs, p.nodes, p.total_pods) == (256, 0, 0)
    assert any("256 of 256 node CIDRs are never assigned" in w for w in p.warnings)


@pytest.mark.parametrize(
    ("kwargs", "fragment"),
    [
        ({"max_pods": 110, "node_cidr_mask_size": 26}, "max-pods 110 is more than a /26 node CIDR holds"),
        ({"max_pods": 250}, "above kubelet's default of 110"),
        ({"node_cidr_mask_size": 31}, "too small for host-local"),
    ],
)
def test_plan_warnings(kwargs, fragment):
    p = plan(cluster_cidr="10.244.0.0/16", service_cidr="10.96.0.0/12", **kwargs)
    assert any(fragment in w for w in p.warnings), p.warnings


def test_plan_warns_when_kubeadm_would_refuse_the_mask_difference():
    p = plan(cluster_cidr="10.0.0.0/8", node_cidr_mask_size=25, service_cidr="172.16.0.0/16")
    assert any("difference is greater than 16" in w for w in p.warnings)


@pytest.mark.parametrize(
    ("kwargs", "words"),
    [
        ({"cluster_cidr": "10.244.0.0/33"}, ["cluster CIDR '10.244.0.0/33' is not a valid IPv4 CIDR"]),
        ({"cluster_cidr": "10.244.1.0/16"}, ["10.244.1.0/16", "host bits"]),
        ({"service_cidr": "10.96.0.0/40"}, ["service CIDR '10.96.0.0/40'"]),
        ({"service_cidr": "10.0.0.0/8"}, ["10.0.0.0/8", "mask must be >= 12"]),
        ({"node_network": "192.168.0/16"}, ["node network '192.168.0/16'"]),
        ({"node_cidr_mask_size": 8}, ["/8", "10.244.0.0/16"]),
        ({"node_cidr_mask_size": "x"}, ["'x'"]),
        ({"max_pods": 0}, ["max-pods 0"]),
    ],
)
def test_plan_bad_values_name_them(kwargs, words):
    args = {"cluster_cidr": "10.244.0.0/16", "service_cidr": "10.96.0.0/12", **kwargs}
    with pytest.raises(InvalidValue) as err:
        plan(**args)
    for word in words:
        assert word in str(err.value)


@settings(max_examples=200, deadline=None)
@given(
    st.integers(min_value=8, max_value=30),
    st.integers(min_value=0, max_value=12),
    st.integers(min_value=1, max_value=1000),
)
def test_plan_invariants(prefix, extra, max_pods):
    mask = min(32, prefix + extra)
    cluster_cidr = N((int(A("10.0.0.0")), prefix), strict=False)
    p = plan(cluster_cidr=cluster_cidr, node_cidr_mask_size=mask, service_cidr="172.20.0.0/16", max_pods=max_pods)
    assert p.node_cidrs == sum(1 for _ in cluster_cidr.subnets(new_prefix=mask))
    assert p.pods_per_node == min(max_pods, p.pod_addresses_per_node) <= max_pods
    assert p.total_pods == p.nodes * p.pods_per_node
    if mask <= 30:
        assert p.pod_addresses_per_node == HostLocal(p.node_cidr(p.node_cidrs - 1)).capacity
    assert p.node_cidr(p.node_cidrs - 1).broadcast_address == cluster_cidr.broadcast_address


# --- whole clusters ---------------------------------------------------------------------


def three_nodes(**pod_cidrs):
    return tuple(
        Node(name, f"192.168.0.{10 + i}", pod_cidr=pod_cidrs.get(name.replace("-", "_")))
        for i, name in enumerate(("node-a", "node-b", "node-c"))
    )


def test_allocate_pod_cidrs_keeps_assigned_ones_and_fills_the_rest():
    cluster = Cluster(nodes=three_nodes(node_b="10.244.0.0/24"))
    nodes = allocate_pod_cidrs(cluster).nodes
    assert [n.pod_cidr for n in nodes] == [N("10.244.1.0/24"), N("10.244.0.0/24"), N("10.244.2.0/24")]


def test_allocate_pod_cidrs_refuses_a_node_cidr_outside_the_cluster_cidr():
    with pytest.raises(InvalidValue, match="node node-a podCIDR 10.245.0.0/24"):
        allocate_pod_cidrs(Cluster(nodes=three_nodes(node_a="10.245.0.0/24")))


def test_allocate_pod_cidrs_runs_out_with_a_count():
    nodes = tuple(Node(f"n{i}", f"192.168.0.{i + 1}") for i in range(5))
    with pytest.raises(ExhaustedError, match="10.244.0.0/22 with /24 node CIDRs holds 4 nodes"):
        allocate_pod_cidrs(Cluster(nodes=nodes, cluster_cidr="10.244.0.0/22"))


def lesson_like_cluster():
    nodes = three_nodes(node_a="10.244.2.0/24", node_b="10.244.3.0/24", node_c="10.244.4.0/24")
    pods = (
        Pod("production", "checkout-api-6f8b9d-2xkpj", node_name="node-a", pod_ip="10.244.2.14"),
        Pod("production", "payment-api-7d9c4b-xr7nq", node_name="node-a"),
        Pod("production", "checkout-api-6f8b9d-7rvqn", node_name="node-b"),
        Pod("production", "auth-service-5c7d8f-p2rkx", node_name="node-c"),
        Pod("kube-system", "kube-proxy-abcde", node_name="node-c", host_network=True),
        Pod("production", "migrate-1", node_name="node-c", phase=PodPhase.SUCCEEDED),
        Pod("production", "pending-1"),
    )
    return Cluster(nodes=nodes, pods=pods)


def test_allocate_pod_ips_as_host_local_on_each_node():
    cluster = allocate_pod_ips(lesson_like_cluster())
    ips = {p.name: p.pod_ip for p in cluster.pods}
    assert ips == {
        "checkout-api-6f8b9d-2xkpj": A("10.244.2.14"),
        "payment-api-7d9c4b-xr7nq": A("10.244.2.15"),  # after the last reserved address
        "checkout-api-6f8b9d-7rvqn": A("10.244.3.2"),
        "auth-service-5c7d8f-p2rkx": A("10.244.4.2"),
        "kube-proxy-abcde": A("192.168.0.12"),  # hostNetwork: the node's InternalIP
        "migrate-1": None,  # Succeeded: its sandbox and address are gone
        "pending-1": None,  # not scheduled
    }
    for pod in cluster.pods:
        if pod.pod_ip is not None and not pod.host_network:
            node_cidr = cluster.node(pod.node_name).pod_cidr
            assert pod.pod_ip in node_cidr
            assert pod.pod_ip not in (node_cidr.network_address, node_cidr.network_address + 1, node_cidr.broadcast_address)


@pytest.mark.parametrize(
    ("pod_ip", "words"),
    [
        ("10.244.3.9", ["production/checkout-api-6f8b9d-2xkpj", "10.244.3.9", "10.244.2.1-10.244.2.254"]),
        ("10.244.2.1", ["production/checkout-api-6f8b9d-2xkpj", "gateway"]),
    ],
)
def test_allocate_pod_ips_refuses_ips_outside_the_node_range(pod_ip, words):
    cluster = lesson_like_cluster()
    cluster = cluster.with_pod(cluster.pod("checkout-api-6f8b9d-2xkpj").with_pod_ip(pod_ip))
    with pytest.raises(InvalidValue) as err:
        allocate_pod_ips(cluster)
    for word in words:
        assert word in str(err.value)


def test_allocate_pod_ips_needs_a_node_cidr():
    cluster = Cluster(nodes=(Node("node-a", "192.168.0.10"),), pods=(Pod("default", "web", node_name="node-a"),))
    with pytest.raises(InvalidValue, match="node node-a has no podCIDR"):
        allocate_pod_ips(cluster)


def test_allocate_pod_ips_runs_out_naming_the_pod_and_the_count():
    nodes = (Node("node-a", "192.168.0.10", pod_cidr="10.244.0.0/30"),)
    pods = (Pod("default", "web-1", node_name="node-a"), Pod("default", "web-2", node_name="node-a"))
    with pytest.raises(ExhaustedError) as err:
        allocate_pod_ips(Cluster(nodes=nodes, pods=pods))
    assert "default/web-2" in str(err.value) and "holds 1 pod address" in str(err.value)
