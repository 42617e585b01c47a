"""Real frames for a packet walk: each hop's headers encoded with scapy.

The walk (:mod:`k8snet_lesson.walk`) says what the headers are at every hop; this module
encodes them as the bytes a capture on that device would show, so sizes and overheads
are measured, not asserted: VXLAN adds 50 bytes (outer Ethernet 14 + IPv4 20 + UDP 8 +
VXLAN 8) and IP-in-IP 20 (one more IPv4 header), which is why Flannel's and Calico
VXLAN's pods get an MTU of 1450 and Calico IP-in-IP's 1480 on a 1500-byte network.
:func:`write_pcap` writes a whole walk as a pcap file Wireshark opens.

Scapy is imported inside the functions that need it (``bind_layers(UDP, VXLAN,
dport=...)`` is declared there too, once, for every VXLAN port a profile names), so the
package imports without it; :class:`ScapyMissing` says what cannot be shown then.

The model's frames are a connection's first packet (a TCP SYN with the options Linux
sends: MSS, SACK permitted, timestamps, window scale 7; its reply a SYN-ACK), a UDP
datagram with no payload, or an SCTP INIT. What it simplifies: IP IDs are 0; the
VXLAN source port is a CRC32 of the inner flow in Linux's port range 32768-60999 (the
kernel uses the skb's flow hash); the VXLAN UDP checksum is 0 (Linux's default for
IPv4); the IP-in-IP outer TTL is the inner one (tunl0 inherits it) and VXLAN's is 64.
"""

from __future__ import annotations

import dataclasses
import functools
import sys
import types
import zlib
from ipaddress import IPv4Address
from pathlib import Path
from typing import Any

from .cluster import Protocol
from .cni import CNIProfile, Encapsulation, MACAddress, profile, profiles
from .errors import InvalidValue, LabUnavailable

__all__ = [
    "ScapyMissing",
    "Headers",
    "Outer",
    "scapy_available",
    "build",
    "encode",
    "frame_length",
    "vxlan_source_port",
    "encapsulation_overhead",
    "mtu",
    "write_pcap",
    "read_pcap",
]

# Linux's default ip_local_port_range, which VXLAN also uses for its source ports.
EPHEMERAL_PORTS = range(32768, 61000)


class ScapyMissing(LabUnavailable):
    """Scapy is not installed, so frames cannot be encoded (the walk itself still works)."""


@dataclasses.dataclass(frozen=True)
class Headers:
    """The packet as the pods see it (the inner packet once encapsulated).

    ``src_mac``/``dst_mac`` are the Ethernet header on the link the hop is on (``None``
    where there is none, inside an IP-in-IP tunnel). ``tcp_flags`` is ``"S"`` for the
    first packet, ``"SA"`` for its reply; ``mss`` is what the sender advertises (its
    ``eth0`` MTU minus 40).
    """

    src_ip: IPv4Address
    src_port: int
    dst_ip: IPv4Address
    dst_port: int
    protocol: Protocol = Protocol.TCP
    ttl: int = 64
    src_mac: MACAddress | None = None
    dst_mac: MACAddress | None = None
    tcp_flags: str = "S"
    mss: int = 1460

    def with_(self, **changes: Any) -> Headers:
        return dataclasses.replace(self, **changes)

    def __str__(self) -> str:
        return f"{self.src_ip}:{self.src_port} -> {self.dst_ip}:{self.dst_port}"


@dataclasses.dataclass(frozen=True)
class Outer:
    """The encapsulating headers between nodes: Ethernet, IPv4, and for VXLAN UDP + VNI."""

    encapsulation: Encapsulation
    src_mac: MACAddress
    dst_mac: MACAddress
    src_ip: IPv4Address
    dst_ip: IPv4Address
    src_port: int | None = None
    dst_port: int | None = None
    vni: int | None = None
    ttl: int = 64

    def __str__(self) -> str:
        if self.encapsulation is Encapsulation.VXLAN:
            return f"{self.src_ip} -> {self.dst_ip} UDP {self.src_port}->{self.dst_port} VNI {self.vni}"
        return f"{self.src_ip} -> {self.dst_ip} IP proto 4 (IP-in-IP)"


def scapy_available() -> bool:
    try:
        __import__("scapy")
    except ImportError:
        return False
    return True


def _declare_ipv6_layers() -> None:
    """Load scapy's IPv6 layers where Python has no IPv6 sockets (Pyodide, JupyterLite).

    There ``socket.has_ipv6`` is false and ``socket.inet_pton`` refuses AF_INET6. scapy
    then refuses to declare its IPv6 layers, which its ARP, SCTP and VXLAN layers import.
    Frames here are only encoded, never sent, so the layers are loaded with ``has_ipv6``
    set and without the socket module's converters, which makes scapy use its own
    pure-Python ones; both are put back after the import. scapy's warnings that it
    cannot do I/O in a browser are kept out of the learner's notebook.
    """
    import logging
    import socket

    if socket.has_ipv6 and sys.platform != "emscripten":
        return
    log = logging.getLogger("scapy")
    saved = {name: getattr(socket, name) for name in ("has_ipv6", "inet_pton", "inet_ntop") if hasattr(socket, name)}
    level, log.level = log.level, logging.CRITICAL + 1
    socket.has_ipv6 = True
    for name in ("inet_pton", "inet_ntop"):
        if name in saved:
            delattr(socket, name)
    try:
        import scapy.layers.inet6  # noqa: F401
    finally:
        for name, value in saved.items():
            setattr(socket, name, value)
        log.level = level


@functools.cache
def _layers() -> Any:
    """scapy's layers, with VXLAN bound to every port a profile names (declared once)."""
    try:
        _declare_ipv6_layers()
        from scapy.layers.inet import IP, TCP, UDP
        from scapy.layers.l2 import Ether
        from scapy.layers.sctp import SCTP, SCTPChunkInit
        from scapy.layers.vxlan import VXLAN
        from scapy.packet import bind_layers
    except ImportError:
        raise ScapyMissing("scapy is not installed: frames cannot be encoded (pip install scapy)") from None
    for p in profiles().values():
        if p.encapsulation is Encapsulation.VXLAN and p.udp_port is not None:
            bind_layers(UDP, VXLAN, dport=p.udp_port)
    return types.SimpleNamespace(
        Ether=Ether, IP=IP, TCP=TCP, UDP=UDP, VXLAN=VXLAN, SCTP=SCTP, SCTPChunkInit=SCTPChunkInit
    )


def _tcp_options(headers: Headers) -> list[tuple[str, Any]]:
    # Linux's SYN and SYN-ACK options, in Linux's order.
    stamp = zlib.crc32(f"{headers.src_ip}:{headers.src_port}".encode()) & 0xFFFFFFFF
    echo = 0
    if "A" in headers.tcp_flags:
        echo = zlib.crc32(f"{headers.dst_ip}:{headers.dst_port}".encode()) & 0xFFFFFFFF
    return [("MSS", headers.mss), ("SAckOK", b""), ("Timestamp", (stamp, echo)), ("NOP", None), ("WScale", 7)]


def _inner_ip(headers: Headers) -> Any:
    L = _layers()
    ip = L.IP(src=str(headers.src_ip), dst=str(headers.dst_ip), ttl=headers.ttl, id=0)
    if headers.protocol is Protocol.TCP:
        seq = zlib.crc32(f"{headers.src_ip}:{headers.src_port}>{headers.dst_ip}".encode()) & 0xFFFFFFFF
        ack = 0
        if "A" in headers.tcp_flags:
            ack = (zlib.crc32(f"{headers.dst_ip}:{headers.dst_port}>{headers.src_ip}".encode()) + 1) & 0xFFFFFFFF
        ip.flags = "DF"
        return ip / L.TCP(
            sport=headers.src_port,
            dport=headers.dst_port,
            flags=headers.tcp_flags,
            seq=seq,
            ack=ack,
            window=64240 if "A" not in headers.tcp_flags else 65160,
            options=_tcp_options(headers),
        )
    if headers.protocol is Protocol.UDP:
        return ip / L.UDP(sport=headers.src_port, dport=headers.dst_port)
    return ip / L.SCTP(sport=headers.src_port, dport=headers.dst_port) / L.SCTPChunkInit()


def build(inner: Headers, outer: Outer | None = None) -> Any:
    """The scapy packet for one hop: ``Ether/IP/TCP``, or wrapped in VXLAN or IP-in-IP."""
    L = _layers()
    packet = _inner_ip(inner)
    if outer is None:
        if inner.src_mac is None or inner.dst_mac is None:
            raise InvalidValue(f"frame {inner}: no Ethernet addresses for the link it is on")
        return L.Ether(src=str(inner.src_mac), dst=str(inner.dst_mac)) / packet
    head = L.Ether(src=str(outer.src_mac), dst=str(outer.dst_mac))
    if outer.encapsulation is Encapsulation.VXLAN:
        if inner.src_mac is None or inner.dst_mac is None:
            raise InvalidValue("a VXLAN hop needs the inner Ethernet addresses (the VTEP MACs)")
        return (
            head
            / L.IP(src=str(outer.src_ip), dst=str(outer.dst_ip), ttl=outer.ttl, id=0)
            / L.UDP(sport=outer.src_port, dport=outer.dst_port, chksum=0)
            / L.VXLAN(flags=0x08, vni=outer.vni)
            / L.Ether(src=str(inner.src_mac), dst=str(inner.dst_mac))
            / packet
        )
    if outer.encapsulation is Encapsulation.IPIP:
        return head / L.IP(src=str(outer.src_ip), dst=str(outer.dst_ip), ttl=outer.ttl, proto=4, flags="DF", id=0) / packet
    raise InvalidValue(f"no outer headers for encapsulation {outer.encapsulation.value}")


@functools.lru_cache(maxsize=4096)
def encode(inner: Headers, outer: Outer | None = None) -> bytes:
    """The frame's bytes (headers are values, so equal headers encode once)."""
    return bytes(build(inner, outer))


def frame_length(inner: Headers, outer: Outer | None = None) -> int:
    """The encoded frame's length in bytes (``len(bytes(frame))``)."""
    return len(encode(inner, outer))


def vxlan_source_port(inner: Headers) -> int:
    """The outer UDP source port for a flow: a hash of the inner 5-tuple in 32768-60999.

    One flow always uses one port (so the underlay's ECMP keeps it on one path).
    """
    key = f"{inner.src_ip}|{inner.src_port}|{inner.dst_ip}|{inner.dst_port}|{inner.protocol.value}".encode()
    return EPHEMERAL_PORTS.start + zlib.crc32(key) % len(EPHEMERAL_PORTS)


def _sample(p: CNIProfile) -> tuple[Headers, Outer | None]:
    inner = Headers(
        IPv4Address("10.244.1.5"),
        40000,
        IPv4Address("10.244.2.8"),
        3000,
        src_mac=MACAddress.derive("vtep", "a"),
        dst_mac=MACAddress.derive("vtep", "b"),
    )
    if p.encapsulation is Encapsulation.NONE:
        return inner, None
    outer = Outer(
        p.encapsulation,
        MACAddress.derive("eth0", "a"),
        MACAddress.derive("eth0", "b"),
        IPv4Address("192.168.0.10"),
        IPv4Address("192.168.0.11"),
        src_port=vxlan_source_port(inner) if p.encapsulation is Encapsulation.VXLAN else None,
        dst_port=p.udp_port,
        vni=p.vni if p.vni is not None else 1,
    )
    return inner, outer


def encapsulation_overhead(cni: str | CNIProfile) -> int:
    """Bytes the plugin's encapsulation adds to a frame, measured from encoded frames.

    >>> encapsulation_overhead("flannel"), encapsulation_overhead("calico-ipip"), encapsulation_overhead("calico")
    (50, 20, 0)
    """
    p = profile(cni)
    inner, outer = _sample(p)
    plain = len(bytes(build(inner)))
    return len(bytes(build(inner, outer))) - plain if outer is not None else 0


def mtu(cni: str | CNIProfile) -> int:
    """The largest pod packet that fits the node network unfragmented: the underlay's MTU
    (1500, or 9001 in an AWS VPC) minus the measured encapsulation overhead."""
    p = profile(cni)
    return p.underlay_mtu - encapsulation_overhead(p)


def write_pcap(walk: Any, path: str | Path) -> Path:
    """Write every hop of ``walk`` (request, then reply) to a pcap file.

    One frame per hop, as a capture on that hop's device would show it; timestamps
    advance 10 microseconds per hop. The file is written whole or not at all.
    """
    L = _layers()
    from scapy.utils import wrpcap

    hops = tuple(walk.hops) + tuple(walk.reply)
    packets = []
    for number, hop in enumerate(hops):
        frame = L.Ether(encode(hop.inner, hop.outer))
        frame.time = 1_700_000_000 + number * 0.00001
        packets.append(frame)
    target = Path(path)
    partial = target.with_name(target.name + ".partial")
    try:
        wrpcap(str(partial), packets)
        partial.replace(target)
    except OSError as exc:
        partial.unlink(missing_ok=True)
        raise InvalidValue(f"cannot write pcap {target}: {exc.strerror}") from None
    return target


def read_pcap(path: str | Path) -> list[Any]:
    """The frames of a pcap file (scapy's ``rdpcap``), with VXLAN ports bound."""
    _layers()
    from scapy.utils import rdpcap

    try:
        return list(rdpcap(str(path)))
    except (OSError, ValueError) as exc:
        raise InvalidValue(f"cannot read pcap {path}: {exc}") from None
