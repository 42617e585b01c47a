# %% [markdown]
# # 04 · A request across nodes
#
# **What you will be able to do:**
#
# - read `kubectl get pods -o wide` and say which calls stay on a node and which cross the node network;
# - follow a Pod's packet to a Pod on another node, hop by hop, with its inner and
#   <abbr title="the headers a tunnel puts in front of a Pod's packet, addressed node to node; the Pod's own headers ride inside, untouched">outer headers</abbr>;
# - predict the outer destination, the <abbr title="time to live: a counter in the IP header that every router lowers by one; at zero the packet is dropped, so a routing loop dies out">TTL</abbr> and the source address the other Pod sees;
# - switch the <abbr title="Container Network Interface: the plugin a node runs when a Pod starts, to give it an IP, an interface and routes">CNI</abbr> and see the path change.
#
# Pod to Pod only, by Pod IP: the Service in front comes in 05. Every cell runs on the lesson
# cluster (`data/lesson-cluster.yaml`), whose CNI is Calico in
# <abbr title="an overlay that wraps each Pod's Ethernet frame in a UDP packet between nodes (Flannel: UDP 8472; Calico: UDP 4789), adding 50 bytes">VXLAN</abbr> mode.

# %%
from functools import partial

from k8snet_lesson import cni, predictions, scenarios, walk
from k8snet_lesson.predictions import pod_to_pod
from k8snet_lesson.view import kubectl, paths
from k8snet_lesson.view.gates import predict
from k8snet_lesson.walk import HopKind

cluster = scenarios.lesson_cluster()
pod_a = "production/checkout-api-6f8b9d-2xkpj"
print(f"lesson cluster, CNI profile {cluster.cni!r}")

# %% [markdown]
# ## Where the Pods are
#
# `-o wide` adds each Pod's node and IP, the two facts that decide a packet's path.

# %% tags=["nbval-check-output"]
print("$ kubectl get pods -o wide -n production    # lesson cluster")
print(kubectl.get_pods_wide(cluster, "production", columns="lesson"))

# %% [markdown]
# ## Same node: no tunnel
#
# `checkout-api-6f8b9d-2xkpj` calls `payment-api-7d9c4b-xr7nq` on the same node. The Pod's only
# route is `default via 169.254.1.1`, so the packet goes up its
# <abbr title="a virtual Ethernet cable with two ends: one is the Pod's eth0, the other stays on the node">veth</abbr>
# into the node, and the node routes it down the other Pod's veth. Nothing is wrapped.

# %%
same = walk.request(cluster, pod_a, "10.244.2.15", 3000, cni=cluster.cni)
paths.walk_table(same, quiet_hooks=True)

# %% [markdown]
# ## Across nodes: a packet inside a packet
#
# Now Pod A, `checkout-api-6f8b9d-2xkpj` on node-eu-west-1a, calls Pod B, `checkout-api-6f8b9d-7rvqn`
# (10.244.3.7:3000) on node-eu-west-1b. The node network knows only node addresses. So each
# node has a <dfn>VTEP</dfn>, a VXLAN tunnel endpoint (`vxlan.calico`): it puts an outer header
# in front of the Pod's frame, addressed node to node, and the far VTEP takes it off again.

# %% tags=["predict"]
cross = pod_to_pod.cross_node(cluster)
on_wire = next(h for h in cross.hops if h.kind is HopKind.WIRE)
predict(predictions.build("04-outer-destination", cluster), reveal=partial(paths.inner_outer_table, on_wire))

# %% [markdown]
# The VTEP found node-eu-west-1b behind Pod B's block in its <dfn>FDB</dfn>, the forwarding
# database of which MAC address lives behind which node. The <dfn>VNI</dfn>, VXLAN's network
# number, says which VXLAN network the frame belongs to (Calico uses 4096).
#
# Each router that forwards a packet lowers its <dfn>TTL</dfn> (time to live) by one.

# %% tags=["predict"]
predict(predictions.build("04-ttl", cluster), reveal=partial(paths.walk_table, cross, quiet_hooks=True))

# %% tags=["predict"]
predict(predictions.build("04-source-seen", cluster), reveal=partial(paths.ends_table, cross))

# %% tags=["check"] jupyter={"source_hidden": true}
node_a, node_b = cluster.node_of(cross.client), cluster.node_of(cross.server)
assert (on_wire.outer.src_ip, on_wire.outer.dst_ip) == (node_a.internal_ip, node_b.internal_ip)
assert on_wire.outer.dst_port == cni.profile(cluster.cni).udp_port and on_wire.outer.vni == cni.profile(cluster.cni).vni
assert cross.arrived.src_ip == cross.client.pod_ip and cross.arrived.dst_ip == cross.server.pod_ip
assert cross.arrived.ttl == cross.hops[0].inner.ttl - sum(h.kind is HopKind.ROUTE for h in cross.hops)
assert not same.encapsulated and same.same_node and len(cross.nodes) == 2

# %% [markdown]
# **Step through it:** **Next** moves the packet one hop; the diagram marks where it is, the
# table shows its headers there, changes in red. After Pod B comes the reply. Pick another CNI
# to walk the same call through another plugin.

# %% tags=["nbval-ignore-output"]
paths.walk_stepper(cluster, pod_a, "10.244.3.7", 3000, cni_name=cluster.cni, quiet_hooks=True)

# %% [markdown]
# ## Switch the CNI
#
# The same call under every plugin profile of 03. Predict first what a plugin without a tunnel adds.

# %% tags=["predict"]
walks = {name: pod_to_pod.cross_node(cluster, cni_name=name) for name in cni.profiles()}
predict(predictions.build("04-bgp-overhead", cluster), reveal=partial(paths.cni_paths, walks))

# %% tags=["check"] jupyter={"source_hidden": true}
assert all(w.delivered and w.arrived.src_ip == w.client.pod_ip for w in walks.values())
assert {name for name, w in walks.items() if w.encapsulated} == {n for n, p in cni.profiles().items() if p.overlay}

# %% [markdown]
# The tunnel changes the path and the bytes on the wire; it never changes what Pod B sees.
# Flannel adds a bridge on each node; plain routing and the AWS VPC send the packet as it is.

# %% [markdown]
# ## Recap
#
# - `-o wide` tells you the path: same node, one node routes it; other node, it crosses the node network.
# - Under VXLAN the VTEP wraps the Pod's frame in an outer header from node to node; the far VTEP unwraps it.
# - Each routing node lowers the TTL: Pod B sees two less than Pod A sent.
# - Pod B sees Pod A's own IP: nothing on the way rewrites Pod addresses.
#
# Next: **05**, what happens when Pod A calls a Service instead of a Pod IP.

# %% tags=["graded"]
from k8snet_lesson.view.quiz import graded_check
graded_check("04")

# %% [markdown] jp-MarkdownHeadingCollapsed=true
# ## Going further: the lesson's three points, checked
#
# **"Each Pod has its own /32"** holds for Calico and the AWS VPC CNI. Flannel gives a `/24`
# and puts same-node Pods on the
# <abbr title="the Linux bridge on a Flannel node that all its Pods' veths plug into; it holds the node podCIDR's .1 address, the Pods' gateway">cni0</abbr>
# bridge, the lesson's "virtual bridge":

# %%
paths.walk_table(walk.request(cluster, pod_a, "10.244.2.15", 3000, cni="flannel"), quiet_hooks=True)

# %% [markdown]
# **"169.254.1.1, then VXLAN to Node 2"** is exactly Calico's VXLAN mode, the lesson cluster's:
# `vxlan.calico`, UDP 4789. What the lesson mixes in is Flannel's: UDP 8472 and `cni0` go with a
# `.1` gateway, never with 169.254.1.1. Calico in pure
# <abbr title="the routing protocol Calico uses to tell every node which node's Pod block sits behind which node IP">BGP</abbr>
# mode wraps nothing:

# %%
paths.cni_paths({name: walks[name] for name in ("calico-vxlan", "flannel", "calico")})

# %% [markdown] jp-MarkdownHeadingCollapsed=true
# ## Going further: the lesson's direct call to 10.244.1.5
#
# The lesson ends with `curl http://10.244.1.5:8080/health` from `checkout-api-6f8b9d-2xkpj`.
# That address is Pod A's in the lesson's two-node diagram; in the lesson cluster no Pod holds it:

# %%
try:
    walk.request(cluster, pod_a, "10.244.1.5", 8080, cni=cluster.cni)
except LookupError as error:
    print(error)

# %% [markdown] jp-MarkdownHeadingCollapsed=true
# ## Going further: keep the walk as a capture
#
# `frames.write_pcap` writes every hop's frame, request then reply, to a file Wireshark or
# `tcpdump -r` opens. Read back:

# %%
import tempfile
from pathlib import Path

from k8snet_lesson import frames
from k8snet_lesson.view import tables

with tempfile.TemporaryDirectory() as folder:
    captured = frames.read_pcap(frames.write_pcap(cross, Path(folder) / "walk.pcap"))
tables.table(paths.capture_table(captured))
