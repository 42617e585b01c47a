"""Frames encoded with scapy: sizes, overheads, decoding and pcap files."""

from __future__ import annotations

import builtins
import dataclasses
from ipaddress import IPv4Address

import pytest
from hypothesis import given
from hypothesis import strategies as st

pytest.importorskip("scapy")

from k8snet_lesson import cni, frames  # noqa: E402
from k8snet_lesson.cluster import Protocol  # noqa: E402
from k8snet_lesson.errors import InvalidValue  # noqa: E402

MAC = cni.MACAddress.derive
INNER = frames.Headers(
    IPv4Address("10.244.1.5"),
    41234,
    IPv4Address("10.244.2.8"),
    3000,
    ttl=63,
    src_mac=MAC("flannel.1", "node-1"),
    dst_mac=MAC("flannel.1", "node-2"),
    mss=1410,
)
VXLAN_OUTER = frames.Outer(
    cni.Encapsulation.VXLAN,
    MAC("eth0", "node-1"),
    MAC("eth0", "node-2"),
    IPv4Address("192.168.0.10"),
    IPv4Address("192.168.0.11"),
    src_port=frames.vxlan_source_port(INNER),
    dst_port=8472,
    vni=1,
)

# RFC 894 Ethernet header 14, RFC 791 IPv4 header 20, RFC 768 UDP header 8, RFC 7348
# VXLAN header 8: VXLAN wraps a whole Ethernet frame, so it adds 14 + 20 + 8 + 8 = 50.
# IP-in-IP (RFC 2003) adds one IPv4 header: 20.
OVERHEAD = {"flannel": 50, "calico": 0, "calico-ipip": 20, "calico-vxlan": 50, "cilium": 50, "aws-vpc": 0}


@pytest.mark.parametrize("name,overhead", OVERHEAD.items())
def test_overhead_is_measured_from_frames(name: str, overhead: int) -> None:
    assert frames.encapsulation_overhead(name) == overhead


@pytest.mark.parametrize("name", list(cni.profiles()))
def test_documented_mtu_is_underlay_minus_measured_overhead(name: str) -> None:
    # The MTU each project documents (data file) agrees with the bytes the frames add.
    assert frames.mtu(name) == cni.profile(name).mtu


def test_linux_syn_is_74_bytes() -> None:
    # Ethernet 14 + IPv4 20 + TCP 20 + options 20 (MSS 4, SACK-permitted 2, timestamps 10,
    # NOP 1, window scale 3): the 74-byte SYN tcpdump shows for a Linux connect().
    assert frames.frame_length(INNER) == 74


def test_vxlan_frame_decodes_as_the_lesson_describes() -> None:
    from scapy.layers.inet import IP, TCP, UDP
    from scapy.layers.l2 import Ether
    from scapy.layers.vxlan import VXLAN

    wire = bytes(frames.build(INNER, VXLAN_OUTER))
    assert len(wire) == 74 + 50
    decoded = Ether(wire)
    assert (decoded[IP].src, decoded[IP].dst) == ("192.168.0.10", "192.168.0.11")
    assert decoded[UDP].dport == 8472 and decoded[UDP].chksum == 0
    assert decoded[VXLAN].vni == 1 and decoded[VXLAN].flags == 0x08
    inner = decoded[VXLAN].payload
    assert inner[Ether].src == str(INNER.src_mac)
    assert (inner[IP].src, inner[IP].dst, inner[IP].ttl) == ("10.244.1.5", "10.244.2.8", 63)
    assert (inner[TCP].sport, inner[TCP].dport, str(inner[TCP].flags)) == (41234, 3000, "S")
    assert dict(inner[TCP].options)["MSS"] == 1410


def test_ipip_frame_is_ip_protocol_4_around_the_inner_packet() -> None:
    from scapy.layers.inet import IP
    from scapy.layers.l2 import Ether

    outer = dataclasses.replace(VXLAN_OUTER, encapsulation=cni.Encapsulation.IPIP, src_port=None, dst_port=None, vni=None, ttl=63)
    wire = bytes(frames.build(INNER, outer))
    decoded = Ether(wire)
    assert decoded[IP].proto == 4
    assert decoded[IP].payload[IP].dst == "10.244.2.8"
    assert len(wire) - frames.frame_length(INNER) == 20


@pytest.mark.parametrize("protocol,length", [(Protocol.UDP, 42), (Protocol.SCTP, 14 + 20 + 12 + 20)])
def test_udp_and_sctp_first_packets(protocol: Protocol, length: int) -> None:
    # UDP: 14 + 20 + 8 with no payload; SCTP: common header 12 + INIT chunk 20.
    assert frames.frame_length(INNER.with_(protocol=protocol)) == length


def test_syn_ack_echoes_the_timestamp() -> None:
    from scapy.layers.inet import TCP
    from scapy.layers.l2 import Ether

    reply = INNER.with_(src_ip=INNER.dst_ip, dst_ip=INNER.src_ip, src_port=3000, dst_port=41234, tcp_flags="SA")
    syn = Ether(bytes(frames.build(INNER)))[TCP]
    syn_ack = Ether(bytes(frames.build(reply)))[TCP]
    assert str(syn_ack.flags) == "SA"
    assert syn_ack.ack == syn.seq + 1
    assert dict(syn_ack.options)["Timestamp"][1] == dict(syn.options)["Timestamp"][0]


ports = st.integers(1, 65535)
addresses = st.integers(0, 2**32 - 1).map(IPv4Address)


@given(addresses, ports, addresses, ports)
def test_vxlan_source_port_is_in_linux_range_and_per_flow(src, sport, dst, dport) -> None:
    headers = frames.Headers(src, sport, dst, dport)
    port = frames.vxlan_source_port(headers)
    assert 32768 <= port <= 60999
    assert port == frames.vxlan_source_port(frames.Headers(src, sport, dst, dport, ttl=5))


def test_frame_without_link_addresses_is_refused() -> None:
    with pytest.raises(InvalidValue, match="no Ethernet addresses"):
        frames.build(INNER.with_(src_mac=None))


@dataclasses.dataclass(frozen=True)
class _Hop:
    inner: frames.Headers
    outer: frames.Outer | None


@dataclasses.dataclass(frozen=True)
class _Walk:
    hops: tuple[_Hop, ...]
    reply: tuple[_Hop, ...]


def test_pcap_round_trip(tmp_path) -> None:
    from scapy.layers.inet import IP
    from scapy.layers.vxlan import VXLAN

    walk = _Walk((_Hop(INNER, None), _Hop(INNER, VXLAN_OUTER)), (_Hop(INNER.with_(tcp_flags="SA"), None),))
    path = frames.write_pcap(walk, tmp_path / "walk.pcap")
    packets = frames.read_pcap(path)
    assert len(packets) == 3
    assert [len(p) for p in packets] == [74, 124, 74]
    assert packets[1][VXLAN].vni == 1 and packets[1][VXLAN].payload[IP].dst == "10.244.2.8"
    assert packets[0].time < packets[1].time < packets[2].time
    assert not list(tmp_path.glob("*.partial"))


def test_pcap_into_missing_directory_writes_nothing(tmp_path) -> None:
    walk = _Walk((_Hop(INNER, None),), ())
    target = tmp_path / "no" / "such" / "dir" / "walk.pcap"
    with pytest.raises(InvalidValue, match="cannot write pcap"):
        frames.write_pcap(walk, target)
    assert not target.exists()


def test_without_scapy_frames_say_so(monkeypatch) -> None:
    real_import = builtins.__import__

    def no_scapy(name, *args, **kwargs):
        if name.startswith("scapy"):
            raise ImportError(name)
        return real_import(name, *args, **kwargs)

    frames._layers.cache_clear()
    frames.encode.cache_clear()
    monkeypatch.setattr(builtins, "__import__", no_scapy)
    try:
        assert not frames.scapy_available()
        with pytest.raises(frames.ScapyMissing, match="scapy is not installed"):
            frames.encapsulation_overhead("flannel")
        pytest.importorskip("pandas")
        assert cni.comparison_table()["Overhead (bytes)"].isna().all()
    finally:
        monkeypatch.undo()
        frames._layers.cache_clear()
        frames.encode.cache_clear()
    assert frames.encapsulation_overhead("flannel") == 50
