"""The gates of notebook 03 (what the CNI plugin does): what a CNI ADD leaves in the pod,
what encapsulation costs, where the AWS VPC CNI takes a pod's address from.

Every answer is computed: the gateway from the CNI ADD the model runs
(:func:`k8snet_lesson.cni.cni_add`), the overhead and the MTU from frames encoded byte
for byte (:mod:`k8snet_lesson.frames`), the address range from the AWS VPC CNI's
allocation. The options are the cluster's own addresses and ranges, so a changed
cluster changes the question with it.
"""

from __future__ import annotations

from ipaddress import IPv4Network

from .. import cni, frames
from ..cluster import Cluster, Pod
from ..errors import InvalidValue
from . import Kind, Option, Prediction, gate

POD = "production/checkout-api-6f8b9d-2xkpj"


def _default_gateway(cluster: Cluster, pod: str, cni_name: str):
    add = cni.cni_add(cluster, pod, cni_name)
    default = next(r for r in add.pod_namespace.routes if r.destination.prefixlen == 0)
    return add, default.gateway


@gate("03-pod-gateway")
def pod_gateway(cluster: Cluster, *, pod: str = POD, cni_name: str | None = None) -> Prediction:
    """The gateway of the pod's default route after the CNI ADD (the cluster's CNI by default)."""
    cni_name = cni_name or cluster.cni
    add, gateway = _default_gateway(cluster, pod, cni_name)
    if add.node.pod_cidr is None:
        raise InvalidValue(f"03-pod-gateway: node {add.node.name} has no podCIDR")
    node_first = add.node.pod_cidr.network_address + 1
    candidates = {
        cni.LINK_LOCAL_GATEWAY: (
            f"{cni.LINK_LOCAL_GATEWAY}, a link-local address",
            f"{add.profile.plugin} gives the Pod a /32 and a gateway no device holds: the host end of the "
            "veth answers ARP for it (proxy ARP), so every packet goes to the node, which routes it",
        ),
        node_first: (
            f"{node_first}, the first address of {add.node.name}'s podCIDR",
            f"That is a bridge plugin's gateway (Flannel's `cni0`); {add.profile.plugin} has no bridge "
            "and gives the Pod a /32, so no address of the node's range can be its neighbour",
        ),
        add.node.internal_ip: (
            f"{add.node.internal_ip}, {add.node.name}'s own address",
            "The node's address sits on the node network, which the Pod's namespace cannot reach "
            "directly: its only link is the veth",
        ),
    }
    if gateway not in candidates:
        raise InvalidValue(f"03-pod-gateway: {cni_name}'s gateway {gateway} is none of the options")
    options = tuple(Option(text, why) for text, why in sorted(candidates.values()))  # by address, not answer first
    answer, why = candidates[gateway]
    return Prediction(
        "03-pod-gateway",
        f"After the {add.profile.plugin} ({add.profile.mode}) CNI ADD, `ip route show` in `{add.pod.name}` "
        "starts with `default via ...`: via which address?",
        Kind.CHOICE, answer, why, options=options, tempting=candidates[node_first][0],
        title="the Pod's default gateway",
    )


@gate("03-ipip-overhead")
def ipip_overhead(cluster: Cluster) -> Prediction:
    """How many bytes IP-in-IP adds, measured from encoded frames."""
    added = frames.encapsulation_overhead("calico-ipip")
    vxlan = frames.encapsulation_overhead("calico-vxlan")
    return Prediction(
        "03-ipip-overhead",
        "Calico in IP-in-IP mode wraps each Pod packet for the trip between nodes. How many bytes "
        "longer is the frame on the node network than the frame the Pod sent?",
        Kind.NUMBER, str(added),
        why=f"IP-in-IP puts one outer IPv4 header ({added} bytes) in front of the Pod's packet; the "
            "Ethernet header is not extra, it replaces the one the Pod's frame had",
        wrong=(Option(str(added + 14), "That counts the outer Ethernet header too, but the frame on the "
                                       "wire still has one Ethernet header, as the Pod's frame did"),
               Option(str(vxlan), "That is VXLAN's cost: outer Ethernet, IPv4, UDP and VXLAN headers around "
                                  "the Pod's whole frame")),
        otherwise="Count the headers the tunnel adds in front of the Pod's IPv4 header",
        title="bytes IP-in-IP adds",
    )


@gate("03-vxlan-mtu")
def vxlan_mtu(cluster: Cluster, *, cni_name: str | None = None) -> Prediction:
    """The Pod's MTU under VXLAN on the profile's node network (the cluster's CNI by default)."""
    p = cni.profile(cni_name or cluster.cni)
    if p.encapsulation is not cni.Encapsulation.VXLAN:
        raise InvalidValue(f"03-vxlan-mtu asks about VXLAN; {p.name} encapsulates with {p.encapsulation.value}")
    added = frames.encapsulation_overhead(p)
    mtu = p.underlay_mtu - added
    return Prediction(
        "03-vxlan-mtu",
        f"The lesson cluster runs {p.plugin} {p.mode} on a node network whose MTU is {p.underlay_mtu} bytes. "
        "What MTU must the Pod's `eth0` have, so that a full-size Pod packet still fits once wrapped?",
        Kind.NUMBER, str(mtu),
        why=f"VXLAN adds {added} bytes, so a Pod packet may be at most {p.underlay_mtu} - {added} = {mtu} bytes",
        wrong=(Option(str(p.underlay_mtu), f"A {p.underlay_mtu}-byte Pod packet plus {added} bytes of VXLAN "
                                           "would not fit the node network: it would be fragmented or dropped"),
               Option(str(p.underlay_mtu - frames.encapsulation_overhead("calico-ipip")),
                      "That is the MTU under IP-in-IP, which adds fewer bytes than VXLAN")),
        otherwise=f"Subtract what VXLAN adds from the node network's {p.underlay_mtu}",
        title="the Pod's MTU under VXLAN",
    )


@gate("03-aws-address")
def aws_address(cluster: Cluster, *, node: str = "node-eu-west-1a") -> Prediction:
    """Where the AWS VPC CNI takes a new pod's address from."""
    where = cluster.node(node)
    new = Pod("production", f"new-pod-{where.name}", labels={"app": "new-pod"}, node_name=where.name)
    address = cni.cni_add(cluster, new, "aws-vpc").address.ip
    subnet = cni.node_subnet(cluster, where)
    ranges: dict[IPv4Network, tuple[str, str]] = {
        subnet: (f"{subnet}, the node's VPC subnet",
                 "The AWS VPC CNI gives the Pod a secondary address of the node's network card (ENI), so the Pod "
                 "holds an address of the VPC, which routes it like any instance's"),
        cluster.cluster_cidr: (f"{cluster.cluster_cidr}, the cluster's Pod network",
                               "That is where Flannel, Calico and Cilium take Pod addresses from; the AWS VPC CNI "
                               "ignores it and uses VPC addresses, so no overlay is needed"),
        IPv4Network("169.254.0.0/16"): ("169.254.0.0/16, link-local addresses",
                                        "169.254.1.1 is only the Pod's gateway; a link-local address cannot be "
                                        "reached from another machine"),
    }
    chosen = next((net for net in ranges if address in net), None)
    if chosen is None:
        raise InvalidValue(f"03-aws-address: the AWS VPC CNI gave {address}, in none of the options")
    answer, why = ranges[chosen]
    return Prediction(
        "03-aws-address",
        f"A new Pod starts on {where.name} under the AWS VPC CNI. Which range does its address come from?",
        Kind.CHOICE, answer, why, options=tuple(Option(t, w) for t, w in sorted(ranges.values())),
        tempting=ranges[cluster.cluster_cidr][0], title="the AWS VPC CNI's Pod address",
    )
