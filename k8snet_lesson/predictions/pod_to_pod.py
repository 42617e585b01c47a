"""The gates of notebook 04 (a request across nodes): one Pod calls another Pod on another
node by its Pod IP, and the learner predicts what the packet looks like on the way.

Every answer is read off the walk the model computes (:func:`k8snet_lesson.walk.request`)
under the cluster's CNI: the outer destination on the node network, the TTL the server
Pod sees, the source address it sees, and what changes when the CNI changes. The
options are the cluster's own addresses, so the question follows the cluster.
"""

from __future__ import annotations

from .. import cni, frames, walk
from ..cluster import Cluster
from ..errors import InvalidValue
from ..walk import HopKind
from . import Kind, Option, Prediction, gate

CLIENT = "production/checkout-api-6f8b9d-2xkpj"  # Pod A, on node-eu-west-1a
SERVER = "production/checkout-api-6f8b9d-7rvqn"  # Pod B, on node-eu-west-1b


def cross_node(cluster: Cluster, *, client: str = CLIENT, server: str = SERVER, cni_name: str | None = None,
               seed: int = 0) -> walk.Walk:
    """Pod ``client`` calls Pod ``server`` by its Pod IP on its first container port."""
    target = cluster.pod(server)
    if target.pod_ip is None:
        raise InvalidValue(f"pod {target.key} has no IP yet")
    ports = [port for container in target.containers for port in container.ports]
    port = ports[0].container_port if ports else 80
    return walk.request(cluster, client, str(target.pod_ip), port, cni=cni_name or cluster.cni, seed=seed)


def _on_wire(w: walk.Walk) -> walk.Hop:
    hop = next((h for h in w.hops if h.kind is HopKind.WIRE), None)
    if hop is None:
        raise InvalidValue(f"the walk from {w.client.key} stays on {w.client.node_name}: nothing crosses the node network")
    return hop


def _choice(pid: str, prompt: str, answer_key, candidates: dict, *, tempting_key, title: str) -> Prediction:
    if answer_key not in candidates:
        raise InvalidValue(f"{pid}: the model's answer {answer_key} is none of the options")
    answer, why = candidates[answer_key]
    return Prediction(pid, prompt, Kind.CHOICE, answer, why,
                      options=tuple(Option(text, explanation) for text, explanation in sorted(candidates.values())),
                      tempting=candidates[tempting_key][0], title=title)


@gate("04-outer-destination")
def outer_destination(cluster: Cluster, **kwargs) -> Prediction:
    """The destination of the outer IPv4 header on the node network."""
    w = cross_node(cluster, **kwargs)
    hop = _on_wire(w)
    if hop.outer is None:
        raise InvalidValue(f"04-outer-destination: {w.cni.name} does not encapsulate")
    a, b = cluster.node_of(w.client), cluster.node_of(w.server)
    block = next((blk for blk in cni.pod_blocks(cluster, b, w.cni) if w.arrived.dst_ip in blk), None)
    vtep = str(cni.tunnel_address(block)) if block is not None and w.cni.name != "cilium" else None
    candidates = {
        str(b.internal_ip): (f"{b.internal_ip}, {b.name}'s address",
                             f"The tunnel runs node to node: {a.name}'s VTEP sends the wrapped frame to {b.name}'s "
                             "address, the only kind of address the node network knows how to deliver"),
        str(w.arrived.dst_ip): (f"{w.arrived.dst_ip}, Pod B's address",
                                "Pod B's address is the inner destination; the node network has no route to Pod "
                                "addresses, which is why the packet is wrapped in one addressed to a node"),
        "169.254.1.1": ("169.254.1.1, the Pod's gateway",
                        "169.254.1.1 only gets the frame from Pod A to its own node; it never appears in an IP "
                        "header, only as the next hop of Pod A's route"),
    }
    if vtep and vtep not in candidates:
        candidates[vtep] = (f"{vtep}, {b.name}'s VTEP address",
                            "That address is the next hop in node 1's route; the VTEP looks it up and addresses "
                            f"the outer header to the node behind it, {b.internal_ip}")
    return _choice("04-outer-destination",
                   f"Pod A (`{w.client.name}`, {w.client.pod_ip} on {a.name}) sends a SYN to Pod B (`{w.server.name}`, "
                   f"{w.arrived.dst_ip} on {b.name}). The cluster runs {w.cni.plugin} {w.cni.mode}. On the node "
                   "network, what is the destination of the outer IPv4 header?",
                   str(hop.outer.dst_ip), candidates, tempting_key=str(w.arrived.dst_ip), title="the outer destination")


@gate("04-ttl")
def ttl(cluster: Cluster, **kwargs) -> Prediction:
    """The TTL of the inner packet as Pod B receives it."""
    w = cross_node(cluster, **kwargs)
    sent, got = w.hops[0].inner.ttl, w.arrived.ttl
    routers = sent - got
    return Prediction(
        "04-ttl",
        f"Pod A sends its SYN with TTL {sent}. With what TTL does Pod B receive it?",
        Kind.NUMBER, str(got),
        why=f"{routers} routers forward it: {w.client.node_name} routes it into the tunnel ({sent} -> {sent - 1}) and "
            f"{w.server.node_name} routes it out of the tunnel to Pod B's veth; the tunnel itself is one hop, so the "
            "node network's switches and routers touch only the outer header",
        wrong=(Option(str(sent), "Every node that routes the packet lowers its TTL by one; only the encapsulation is "
                                 "invisible, not the two nodes' routing"),
               Option(str(sent - 1), "That counts node 1 only; after decapsulation node 2 routes the inner packet too")),
        otherwise=f"Count the machines that route the inner packet, from {sent}",
        title="the TTL Pod B sees",
    )


@gate("04-source-seen")
def source_seen(cluster: Cluster, **kwargs) -> Prediction:
    """The source address Pod B sees."""
    w = cross_node(cluster, **kwargs)
    a = cluster.node_of(w.client)
    candidates = {
        str(w.client.pod_ip): (f"{w.client.pod_ip}, Pod A's own address",
                               "Pod-to-Pod traffic is never NATed: the tunnel wraps the packet and unwraps it, "
                               "but never rewrites its addresses, so Pod B can log and allow Pod A by its IP"),
        str(a.internal_ip): (f"{a.internal_ip}, {a.name}'s address",
                             "The node's address is only on the outer header, which node 2 strips; nothing "
                             "rewrites the inner source"),
        "169.254.1.1": ("169.254.1.1, Pod A's gateway",
                        "The gateway is a next hop, never written into a packet"),
    }
    return _choice("04-source-seen", "Which source address does Pod B see on the SYN?", str(w.arrived.src_ip),
                   candidates, tempting_key=str(a.internal_ip), title="the source Pod B sees")


@gate("04-bgp-overhead")
def bgp_overhead(cluster: Cluster, *, cni_name: str = "calico", **kwargs) -> Prediction:
    """Bytes a CNI without encapsulation adds on the node network."""
    w = cross_node(cluster, cni_name=cni_name, **kwargs)
    added = _on_wire(w).frame_bytes - w.hops[0].frame_bytes
    return Prediction(
        "04-bgp-overhead",
        f"Switch the cluster to {w.cni.plugin} in {w.cni.mode} mode (no tunnel device). How many bytes bigger is "
        "the SYN on the node network than when it left Pod A?",
        Kind.NUMBER, str(added),
        why="With plain routing the packet crosses the node network as Pod A sent it: node 1 routes it to node 2's "
            "address by MAC, and only the Ethernet addresses change",
        wrong=(Option(str(frames.encapsulation_overhead("calico-vxlan")),
                      "That is what VXLAN's wrapping adds; without a tunnel there is nothing to add"),
               Option(str(frames.encapsulation_overhead("calico-ipip")),
                      "That is IP-in-IP's outer header; plain routing adds none")),
        otherwise="Look for headers added in front of the Pod's packet: are there any?",
        title="bytes added without a tunnel",
    )
