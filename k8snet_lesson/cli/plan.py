"""``k8snet plan``: check a cluster's network flags before building it.

Takes the flags kubeadm passes on (``--cluster-cidr`` and ``--node-cidr-mask-size`` to
kube-controller-manager, ``--service-cluster-ip-range`` to kube-apiserver, kubelet's
``--max-pods``) and prints what they give: how many nodes, pods per node, pods and
ClusterIPs, and every overlap between the node, pod and service networks.
Exit status: 0 when the networks are disjoint, 1 when two overlap, 2 on a bad value.
"""

from __future__ import annotations

import argparse

from ..ipam import KUBELET_DEFAULT_MAX_PODS, Plan, plan


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "plan",
        help="check pod, service and node CIDRs: capacities and overlaps",
        description="Print the capacity a set of network flags gives a cluster and every overlap "
        "between its node, pod and service networks. Exit status 1 when networks overlap, "
        "2 when a value is not valid.",
    )
    parser.add_argument(
        "--cluster-cidr", required=True, metavar="CIDR", help="the pod network (kube-controller-manager --cluster-cidr)"
    )
    parser.add_argument(
        "--node-cidr-mask-size", default="24", metavar="N", help="prefix length of each node's podCIDR (default: 24)"
    )
    parser.add_argument(
        "--service-cidr",
        default="10.96.0.0/12",
        metavar="CIDR",
        help="the service network (kube-apiserver --service-cluster-ip-range; default: kubeadm's 10.96.0.0/12)",
    )
    parser.add_argument("--node-network", metavar="CIDR", help="the network the nodes' InternalIPs are on")
    parser.add_argument(
        "--max-pods",
        default=str(KUBELET_DEFAULT_MAX_PODS),
        metavar="N",
        help=f"kubelet --max-pods (default: {KUBELET_DEFAULT_MAX_PODS})",
    )
    parser.set_defaults(func=run)


def render(result: Plan) -> str:
    """The plan as a short table, then its overlaps and warnings."""
    mask = result.node_cidr_mask_size
    if result.node_network is None:
        node_row = ("node network", "-", "not given")
    else:
        node_row = ("node network", str(result.node_network), f"{result.node_addresses} node addresses")
    pod_capacity = f"{result.node_cidrs} node CIDRs of /{mask}"
    if result.pod_addresses_per_node:
        pod_capacity += f", {result.pod_addresses_per_node} pod IPs each (.1 is cni0)"
    else:
        pod_capacity += ", no pod IPs (host-local needs a /30 or larger)"
    service_capacity = f"{result.service_ips} ClusterIPs"
    well_known = []
    if result.kubernetes_service_ip is not None:
        well_known.append(f"kubernetes {result.kubernetes_service_ip}")
    if result.dns_service_ip is not None:
        well_known.append(f"kube-dns {result.dns_service_ip}")
    if well_known:
        service_capacity += f" ({', '.join(well_known)})"
    table = [
        ("NETWORK", "CIDR", "HOLDS"),
        node_row,
        ("pod network", str(result.cluster_cidr), pod_capacity),
        ("service network", str(result.service_cidr), service_capacity),
    ]
    widths = [max(len(row[i]) for row in table) for i in range(2)]
    lines = [f"{a:<{widths[0]}}   {b:<{widths[1]}}   {c}" for a, b, c in table]

    nodes = str(result.nodes)
    if result.nodes != result.node_cidrs:
        nodes += f" (of {result.node_cidrs} node CIDRs; the rest overlap the service network)"
    per_node = f"{result.pods_per_node} (max-pods {result.max_pods}, a /{mask} holds {result.pod_addresses_per_node})"
    summary = [("nodes", nodes), ("pods per node", per_node), ("pods", str(result.total_pods))]
    width = max(len(name) for name, _ in summary)
    lines.append("")
    lines.extend(f"{name:<{width}}   {value}" for name, value in summary)

    lines.append("")
    if result.overlaps:
        lines.extend(f"overlap: {overlap}" for overlap in result.overlaps)
    else:
        lines.append("overlaps: none")
    lines.extend(f"warning: {warning}" for warning in result.warnings)
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    result = plan(
        cluster_cidr=args.cluster_cidr,
        node_cidr_mask_size=args.node_cidr_mask_size,
        service_cidr=args.service_cidr,
        node_network=args.node_network,
        max_pods=args.max_pods,
    )
    print(render(result))
    return 0 if result.ok else 1
