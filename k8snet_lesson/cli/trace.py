"""``k8snet trace``: walk a request hop by hop through a cluster read from manifests.

    k8snet trace two-node-flow.yaml --from checkout-api --to payment-api-svc:80
    k8snet trace cluster/*.yaml --from production/debug --to 10.244.2.8:3000 --cni calico-ipip --pcap walk.pcap

Prints every hop of the first packet and of its reply (node, device or hook, inner and
outer headers, the frame's size, what happens there), then how it ended. ``--to`` is a
Service (``name`` in the client's namespace, ``namespace/name`` or a DNS name), a
ClusterIP or a pod IP, with the port. ``--cni`` picks the plugin profile (default: the
cluster's, Flannel); ``--seed`` fixes the endpoint drawn and the source port; ``--pcap``
writes every hop's frame to a file Wireshark opens. Unknown pods, Services, CNIs and
addresses are one error line naming the value and what exists (exit status 2); a
packet that stops on the way (no endpoints, a blackhole) exits with status 1.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from ..errors import InvalidValue


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "trace",
        help="walk a request hop by hop: veth, bridge, DNAT, VXLAN, the node network, and back",
        description="Walk the first packet of a connection from a pod to a Service, ClusterIP or pod IP, "
        "hop by hop, and its reply, under a CNI plugin's data path.",
    )
    parser.add_argument("manifests", nargs="+", metavar="MANIFEST", help="Kubernetes manifests (YAML or JSON)")
    parser.add_argument("--from", dest="source", required=True, metavar="POD", help="the client pod (name or namespace/name)")
    parser.add_argument(
        "--to", dest="target", required=True, metavar="NAME_OR_IP:PORT", help="a Service, ClusterIP or pod IP, and a port"
    )
    parser.add_argument(
        "--cni",
        metavar="PROFILE",
        help="flannel, calico, calico-ipip, calico-vxlan, cilium or aws-vpc (default: the cluster's)",
    )
    parser.add_argument("--seed", type=int, default=0, metavar="N", help="seed for the endpoint draw and source port (default: 0)")
    parser.add_argument("--pcap", metavar="FILE", help="also write every hop's frame to this pcap file")
    parser.set_defaults(func=run)


def parse_target(text: str) -> tuple[str, int]:
    """``NAME_OR_IP:PORT`` -> (name or IP, port).

    >>> parse_target("checkout-api-svc:80")
    ('checkout-api-svc', 80)
    >>> parse_target("10.96.214.88:80")
    ('10.96.214.88', 80)
    """
    name, colon, port = text.rpartition(":")
    if not colon or not name:
        raise InvalidValue(f"--to {text!r}: expected NAME_OR_IP:PORT, e.g. checkout-api-svc:80")
    if not (port.isascii() and port.isdigit() and len(port) <= 5) or not 1 <= int(port) <= 65535:
        raise InvalidValue(f"--to {text!r}: port {port!r} is not a port number (1-65535)")
    return name, int(port)


def render(walk) -> str:
    """The walk as two tables (request, reply) and the outcome."""
    lines = [
        f"{walk.client.key} -> {walk.destination}"
        + (f" (Service {walk.service.key})" if walk.service is not None else "")
        + f"   CNI: {walk.cni.name} ({walk.cni.plugin}, {walk.cni.mode})   seed: {walk.seed}",
        "",
    ]
    for title, hops in (("request", walk.hops), ("reply", walk.reply)):
        if not hops:
            continue
        lines.append(f"{title}:")
        lines.extend(_table(hops))
        lines.append("")
    lines.append(("outcome: " if walk.delivered else "stopped: ") + walk.outcome)
    lines.extend(f"note: {note}" for note in walk.notes)
    return "\n".join(lines)


def _table(hops: Sequence) -> list[str]:
    rows = [("HOP", "NODE", "WHERE", "INNER SRC -> DST", "TTL", "OUTER", "BYTES", "ACTION")]
    for hop in hops:
        rows.append(
            (
                str(hop.index),
                hop.node or "-",
                hop.where,
                str(hop.inner),
                str(hop.inner.ttl),
                str(hop.outer) if hop.outer is not None else "-",
                str(hop.frame_bytes) if hop.frame_bytes is not None else "-",
                hop.action,
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]) - 1)]
    return ["  ".join(cell.ljust(width) for cell, width in zip(row, widths)) + "  " + row[-1] for row in rows]


def run(args: argparse.Namespace) -> int:
    from ..cni import profile
    from ..manifests import load
    from ..walk import request

    name, port = parse_target(args.target)
    cluster = load(args.manifests)
    cni = profile(args.cni or cluster.cni)
    walk = request(cluster, args.source, name, port, cni=cni, seed=args.seed)
    if args.pcap:
        from ..frames import write_pcap

        write_pcap(walk, args.pcap)
    print(render(walk))
    if args.pcap:
        print(f"pcap: {len(walk.hops) + len(walk.reply)} frames written to {args.pcap}")
    return 0 if walk.delivered else 1
