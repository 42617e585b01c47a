"""``k8snet rules``: the iptables rules kube-proxy would program on one node.

Reads Kubernetes manifests (Services, EndpointSlices, Endpoints, Pods, Nodes; YAML or
JSON, ``-`` for standard input), derives the EndpointSlices the controller would
write, and prints what kube-proxy (iptables mode, v1.28+) programs on ``--node``
(its MASQUERADE rule with ``--random-fully``, as on any node whose iptables is 1.6.2 or
later; ``--no-random-fully`` leaves it out, as kube-proxy's unit tests expect):

* ``--form restore`` (the default): kube-proxy's own ``iptables-restore`` input, in the
  order kube-proxy's unit tests compare it;
* ``--form save``: the node's filter and nat tables as ``iptables-save`` prints them,
  built-in chains and kube-proxy's jumps into them included.

``--mode nftables`` prints kube-proxy's nftables transaction for table ``ip kube-proxy``
instead (the text of the v1.34 cycle), in an order ``nft -f`` loads as it is.

The node's InternalIP and the cluster CIDR come from the manifests (a Node, a kubeadm
ClusterConfiguration); ``--node-ip`` and ``--cluster-cidr`` override them. When the
manifests hold no Node at all, any node name is accepted.
"""

from __future__ import annotations

import sys
from ipaddress import IPv4Address, IPv4Network, ip_address, ip_network

from ..errors import InvalidValue


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "rules",
        help="print the iptables rules kube-proxy would program on a node",
        description="Print the iptables rules kube-proxy (iptables mode, v1.28+) programs on one node "
        "for the Services, EndpointSlices, Endpoints, Pods and Nodes in MANIFEST files.",
    )
    parser.add_argument("manifests", nargs="+", metavar="MANIFEST",
                        help="YAML or JSON manifest file (several documents or a List); - reads standard input; "
                        "lesson or two-node-flow names the course's own cluster")
    parser.add_argument("--node", required=True, metavar="NAME", help="the node whose rules to print")
    parser.add_argument("--node-ip", metavar="IP", help="the node's InternalIP (default: from its Node manifest)")
    parser.add_argument("--cluster-cidr", metavar="CIDR",
                        help="the pod network kube-proxy treats as local (default: from the manifests)")
    parser.add_argument("--mode", choices=("iptables", "nftables"), default="iptables",
                        help="kube-proxy's proxy mode (default: iptables); nftables prints its transaction for "
                        "table ip kube-proxy, in an order nft -f loads")
    parser.add_argument("--service-cidr", metavar="CIDR",
                        help="nftables mode: the ClusterIP range (default: from the manifests)")
    parser.add_argument("--form", choices=("restore", "save"), default=None,
                        help="restore: kube-proxy's iptables-restore input (default); "
                        "save: the node's tables as iptables-save prints them")
    parser.add_argument("--no-random-fully", dest="random_fully", action="store_false",
                        help="leave --random-fully off the MASQUERADE rule, as kube-proxy does where iptables "
                        "lacks it (older than 1.6.2) and as kube-proxy's unit tests expect")
    parser.set_defaults(func=run)


def _node_ip(text: str) -> IPv4Address:
    try:
        address = ip_address(text.strip())
    except ValueError:
        raise InvalidValue(f"--node-ip {text!r} is not an IPv4 address") from None
    if not isinstance(address, IPv4Address):
        raise InvalidValue(f"--node-ip {text!r} is not an IPv4 address (the model is IPv4 only)")
    return address


def _cluster_cidr(text: str, option: str = "--cluster-cidr") -> IPv4Network:
    try:
        network = ip_network(text.strip())
    except ValueError as exc:
        raise InvalidValue(f"{option} {text!r} is not a CIDR such as 10.244.0.0/16 ({exc})") from None
    if not isinstance(network, IPv4Network):
        raise InvalidValue(f"{option} {text!r} is not an IPv4 CIDR (the model is IPv4 only)")
    return network


_CHUNK = 10_000  # lines written at once


def run(args) -> int:
    from .. import iptables
    from ..kube_proxy import rules_for
    from ..manifests import load

    overrides = {}
    if args.node_ip is not None:
        overrides["node_ip"] = _node_ip(args.node_ip)
    if args.cluster_cidr is not None:
        overrides["cluster_cidr"] = _cluster_cidr(args.cluster_cidr)
    cluster = load(args.manifests)
    if args.mode == "nftables":
        from ..nftables import rules_for as nft_rules_for

        if args.form is not None:
            raise InvalidValue("--form is for iptables mode; --mode nftables prints kube-proxy's nftables transaction")

        if args.service_cidr is not None:
            overrides["service_cidr"] = _cluster_cidr(args.service_cidr, "--service-cidr")
        lines = nft_rules_for(cluster, args.node, **overrides).lines()
        del cluster  # as below
        for start in range(0, len(lines), _CHUNK):  # every step has succeeded: no need of one whole string
            sys.stdout.write("\n".join(lines[start:start + _CHUNK]) + "\n")
        return 0
    save = args.form == "save"
    ruleset = rules_for(cluster, args.node, include_builtin=save, random_fully=args.random_fully, **overrides)
    del cluster  # at a big cluster's size, its values would double the memory the text needs
    text = iptables.to_save(ruleset) if save else iptables.to_restore(ruleset)
    sys.stdout.write(text)  # written whole, once every step has succeeded
    return 0
