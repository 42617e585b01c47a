"""A cross-node request caught on the node network, as Wireshark would show it.

An AF_PACKET socket on the client node's ``eth0`` (inside the node's namespace, see
:mod:`~k8snet_lesson.lab.programs`) records the frames of one HTTP request from a pod
to a pod on another node, written as pcap. Decoded with scapy (bound as Wireshark
must be told: ``bind_layers(UDP, VXLAN, dport=8472)``, since 8472 is Flannel's port, not
IANA's 4789), each frame shows the outer Ethernet/IPv4/UDP/VXLAN headers between the
node IPs and, inside, the pod-to-pod frame unchanged: VXLAN adds 50 bytes, which is why
``flannel.1``'s MTU is 1450 on a 1500-byte node network.

What it simplifies: the capture keeps only UDP frames to the VXLAN port and stops
after a bounded time; the request is plain HTTP from the ``reach`` program.
"""

from __future__ import annotations

import dataclasses
import io
import json
import time
from ipaddress import IPv4Address
from pathlib import Path
from typing import Any

from ..errors import InvalidValue
from .kernel import Lab
from .sandbox import LabCommandError

__all__ = ["EncapsulatedFrame", "Capture", "capture", "decode", "device_mtu"]


@dataclasses.dataclass(frozen=True)
class EncapsulatedFrame:
    """One VXLAN frame on the node network, outer and inner headers."""

    outer_src: IPv4Address
    outer_dst: IPv4Address
    udp_sport: int
    udp_dport: int
    vni: int
    inner_src: IPv4Address
    inner_dst: IPv4Address
    inner_sport: int | None
    inner_dport: int | None
    inner_flags: str  # TCP flags as scapy prints them ("S", "SA", "PA", ...)
    length: int  # the whole frame on the wire
    inner_length: int  # the encapsulated Ethernet frame

    @property
    def overhead(self) -> int:
        return self.length - self.inner_length


@dataclasses.dataclass(frozen=True)
class Capture:
    """What the capture saw for one request from ``client`` to ``server``."""

    client: str
    server: str
    node: str  # where it was captured (the client's node, on eth0)
    frames: tuple[EncapsulatedFrame, ...]
    answer: dict  # what the server answered (pod, peer)
    mtu: int  # flannel.1's MTU, read from the kernel
    pcap: bytes = dataclasses.field(repr=False, default=b"")

    @property
    def overheads(self) -> frozenset[int]:
        return frozenset(f.overhead for f in self.frames)

    def write(self, path: str | Path) -> Path:
        """Write the frames as a pcap file (Wireshark: Decode As VXLAN on UDP 8472)."""
        path = Path(path)
        path.write_bytes(self.pcap)
        return path


def device_mtu(lab: Lab, node: str, device: str) -> int:
    """A device's MTU as the kernel reports it (``ip -j link show DEV``)."""
    return int(json.loads(lab.exec(node, ["ip", "-j", "link", "show", device]).stdout)[0]["mtu"])


def decode(pcap: bytes, vxlan_port: int) -> tuple[EncapsulatedFrame, ...]:
    """The VXLAN frames in ``pcap``, decoded with scapy (imported here, at the edge)."""
    from scapy.layers.inet import IP, TCP, UDP
    from scapy.layers.l2 import Ether
    from scapy.layers.vxlan import VXLAN
    from scapy.packet import bind_layers
    from scapy.utils import PcapReader

    bind_layers(UDP, VXLAN, dport=vxlan_port)
    frames = []
    for packet in PcapReader(io.BytesIO(pcap)):
        if VXLAN not in packet or IP not in packet:
            continue
        inner = packet[VXLAN].payload
        if not isinstance(inner, Ether) or IP not in inner:
            continue
        tcp = inner[TCP] if TCP in inner else None
        frames.append(
            EncapsulatedFrame(
                outer_src=IPv4Address(packet[IP].src),
                outer_dst=IPv4Address(packet[IP].dst),
                udp_sport=int(packet[UDP].sport),
                udp_dport=int(packet[UDP].dport),
                vni=int(packet[VXLAN].vni),
                inner_src=IPv4Address(inner[IP].src),
                inner_dst=IPv4Address(inner[IP].dst),
                inner_sport=int(tcp.sport) if tcp is not None else None,
                inner_dport=int(tcp.dport) if tcp is not None else None,
                inner_flags=str(tcp.flags) if tcp is not None else "",
                length=len(bytes(packet)),
                inner_length=len(bytes(inner)),
            )
        )
    return tuple(frames)


def capture(lab: Lab, client: str, server: str, *, seconds: float = 0.5) -> Capture:
    """Capture one HTTP request from ``client`` to ``server`` (pods on different nodes)."""
    from .topology import _profile

    profile = _profile()
    client_net, server_net = lab.topology.pod(client), lab.topology.pod(server)
    if client_net.node == server_net.node:
        raise InvalidValue(f"pods {client_net.key} and {server_net.key} share node {client_net.node}: nothing crosses the node network")
    ports = [p for a in lab.apps.values() if a.pod == server_net.key and a.program == "app" for (_, p, proto) in a.sockets
             if proto.value == "TCP"]  # fmt: skip
    if not ports:
        raise InvalidValue(f"pod {server_net.key} runs no TCP application to send a request to")
    node = client_net.node
    argv = lab.sandbox.program("capture", "--interface", "eth0", "--count", "200", "--timeout", str(seconds),
                               "--udp-port", str(profile.udp_port))  # fmt: skip
    process = lab.sandbox.popen(argv, netns=lab.netns(node))
    try:
        ready = process.stderr.readline()  # type: ignore[union-attr]
        if b"capturing" not in ready:
            raise LabCommandError(f"the capture on {node} did not start: {ready.decode(errors='replace').strip()}")
        started = time.monotonic()
        target = f"{server_net.address}:{ports[0]}"
        answer = json.loads(lab.exec(client_net.key, lab.sandbox.program("reach", "--target", target)).stdout)[target]
        pcap, err = process.communicate(timeout=seconds + 10 - (time.monotonic() - started))
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    if process.returncode != 0:
        raise LabCommandError(f"the capture on {node} failed: {err.decode(errors='replace').strip()}")
    return Capture(
        client=client_net.key,
        server=server_net.key,
        node=node,
        frames=decode(pcap, profile.udp_port),
        answer=answer,
        mtu=device_mtu(lab, node, profile.tunnel_device),
        pcap=pcap,
    )


def _frame_rows(frames: tuple[EncapsulatedFrame, ...]) -> list[dict[str, Any]]:
    """Rows for a table: one per frame (used by the report and the notebook)."""
    return [
        {
            "outer": f"{f.outer_src} -> {f.outer_dst} UDP {f.udp_dport} VNI {f.vni}",
            "inner": f"{f.inner_src}:{f.inner_sport} -> {f.inner_dst}:{f.inner_dport} [{f.inner_flags}]",
            "bytes": f.length,
            "overhead": f.overhead,
        }
        for f in frames
    ]
