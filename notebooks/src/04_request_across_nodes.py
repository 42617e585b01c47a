# %% [markdown]
# # 04 · A request across nodes
#
# **What you will be able to do:**
#
# - read `kubectl get pods -o wide` and say which requests stay on a node and which
#   cross the node network;
# - follow the lesson's request from Pod A to a Service to Pod B hop by hop: the veth,
#   the bridge, kube-proxy's DNAT, the VXLAN tunnel, the node network, and back, with
#   every header the packet carries at every hop, inner and outer;
# - switch the CNI and see the path change: VXLAN (Flannel), plain routing (Calico),
#   IP-in-IP (Calico), native VPC routing (AWS), Cilium's socket-level load balancing;
# - explain why Pod B sees Pod A's real IP, and why Pod A sees the reply come from the
#   Service's address;
# - write the walk as a pcap file that Wireshark opens.
#
# The walk is `k8snet_lesson.walk.request`: routes from the CNI model's routing tables,
# the DNAT from kube-proxy's own rules run through the tracer, every frame encoded with
# scapy.

# %%
import tempfile
from pathlib import Path

import pandas as pd

from k8snet_lesson import cni, frames, scenarios, walk
from k8snet_lesson.errors import NotFound
from k8snet_lesson.view import kubectl, paths, plots

pd.set_option("display.max_colwidth", 110)
cluster = scenarios.lesson_cluster()
flow = scenarios.two_node_flow()

# %% [markdown]
# ## Where the Pods are
#
# `-o wide` adds the `IP` and `NODE` columns: which node each Pod runs on and its Pod IP,
# the two facts that decide a packet's path. The lesson prints a shortened table:

# %%
# NBVAL_CHECK_OUTPUT
print("$ kubectl get pods -o wide -n production")
print(kubectl.get_pods_wide(cluster, "production", columns="lesson"))

# %% [markdown]
# kubectl itself prints a few more columns:

# %%
# NBVAL_CHECK_OUTPUT
print("$ kubectl get pods -o wide -n production")
print(kubectl.get_pods_wide(cluster, "production"))

# %% [markdown]
# `checkout-api-6f8b9d-2xkpj` and `payment-api-7d9c4b-xr7nq` share `node-eu-west-1a`;
# the other two run elsewhere. Traffic between the first two never leaves the node.
#
# ## The lesson's two-node flow
#
# The lesson's diagram, as a cluster: Pod A (`checkout-api`, 10.244.1.5) on node 1
# (192.168.0.10) sends an HTTP request to the Service's ClusterIP 10.96.214.88:80, whose
# one endpoint is Pod B (`payment-api`, 10.244.2.8:3000) on node 2 (192.168.0.11). The
# CNI is Flannel with VXLAN.

# %%
# NBVAL_CHECK_OUTPUT
print("$ kubectl get pods -o wide -n production")
print(kubectl.get_pods_wide(flow, "production"))
print()
print("$ kubectl get endpoints -n production")
print(kubectl.get_endpoints(flow, "production"))

# %% [markdown]
# Walk the connection's first packet (the TCP SYN). Each row is one place the packet
# passes, with its addresses as they are there; between the nodes, the outer headers of
# the VXLAN packet that carries it. The source port is the one Pod A's kernel picked
# (seeded, so the same on every run).

# %%
pod_a = "production/checkout-api-6f8b9d-k8m2w"
request = walk.request(flow, pod_a, "10.96.214.88", 80, cni="flannel", seed=0)
print(request.outcome)

# %%
# NBVAL_CHECK_OUTPUT
paths.hops_table(request)

# %% [markdown]
# The lesson's three boxes on node 1 are rows 1-6 (Pod A, kube-proxy's DNAT, VXLAN
# encapsulation), its three boxes on node 2 are rows 8-12 (decapsulation, node routing
# to the bridge and the veth, Pod B). Checked against the lesson's numbers:

# %%
assert [h.node for h in request.hops] == ["node-1"] * 6 + [None] + ["node-2"] * 5
dnat = next(h for h in request.hops if h.where == "nat PREROUTING")
assert (str(dnat.inner.dst_ip), dnat.inner.dst_port) == ("10.244.2.8", 3000)
assert "DNAT 10.96.214.88:80 -> 10.244.2.8:3000" in dnat.action
between = next(h for h in request.hops if h.node is None)
assert (str(between.outer.src_ip), str(between.outer.dst_ip)) == ("192.168.0.10", "192.168.0.11")
assert between.outer.dst_port == 8472 and between.outer.vni == 1
assert str(request.arrived.src_ip) == "10.244.1.5"  # Pod B sees Pod A's real IP
assert not request.masqueraded

# %% [markdown]
# Every header of the packet as it crosses the node network: the outer Ethernet, IPv4,
# UDP and VXLAN headers the node added, then the frame Pod A sent (its Ethernet header
# rewritten for the tunnel: VTEP to VTEP). The outer UDP source port is a hash of the
# inner flow, so one connection always takes one path through the network.

# %%
# NBVAL_CHECK_OUTPUT
paths.headers_table(between)

# %% [markdown]
# ## Step through it
#
# **Next** and **Previous** move the packet one hop; the diagram marks where it is (red)
# and where it has been (orange), and the table shows its headers there, with what
# changed since the previous hop in red. After Pod B, the walk goes on with the reply.
# Pick another CNI to walk the same request through another plugin.

# %%
stepper = paths.walk_stepper(flow, pod_a, "10.96.214.88", 80, cni_name="flannel", seed=0)
stepper

# %% [markdown]
# The same diagram, for readers without a kernel: the packet in the VXLAN tunnel, between
# the nodes.

# %%
graph = paths.walk_topology(flow, request)
places = paths.walk_places(graph, request.all_hops)
plots.show(paths.walk_figure(graph, places, between.index))

# %% [markdown]
# ## Switch the CNI: the same request, five plumbings
#
# - **Flannel**: VXLAN on UDP 8472, VNI 1, through `cni0` and `flannel.1`.
# - **Calico (BGP)**: no tunnel at all; the node routes 10.244.2.0/26 to 192.168.0.11,
#   which BIRD learned over BGP. The packet crosses the node network as it is.
# - **Calico IP-in-IP**: `tunl0` adds one IPv4 header (protocol 4), 20 bytes.
# - **Calico VXLAN**: `vxlan.calico`, UDP 4789, VNI 4096.
# - **Cilium**: its socket-level load balancer picks Pod B at `connect()`: the SYN
#   leaves Pod A already addressed to 10.244.2.8:3000, so no DNAT happens on the wire;
#   eBPF forwards it into VXLAN with Pod A's security identity as the VNI.
# - **AWS VPC CNI**: Pod IPs are VPC addresses; the VPC delivers the packet to node 2's
#   ENI, no encapsulation.

# %%
# NBVAL_CHECK_OUTPUT
walks = {name: walk.request(flow, pod_a, "10.96.214.88", 80, cni=name, seed=0) for name in cni.profiles()}
paths.path_comparison(walks)

# %%
assert all(w.delivered and str(w.arrived.src_ip) == "10.244.1.5" for w in walks.values())
assert not walks["calico"].encapsulated and not walks["aws-vpc"].encapsulated
assert not any(h.where.startswith("nat PREROUTING") for h in walks["cilium"].hops)
assert str(walks["cilium"].hops[0].inner.dst_ip) == "10.244.2.8"

# %% [markdown]
# ## The reply: conntrack undoes the DNAT
#
# Pod B answers the address it saw, Pod A's. The SYN-ACK travels back the same way and
# reaches node 1, where the conntrack entry kube-proxy's DNAT created rewrites its
# source back to the Service's address. Pod A sent to 10.96.214.88:80 and hears back from
# 10.96.214.88:80: its socket matches. No iptables rule is walked for the reply.

# %%
# NBVAL_CHECK_OUTPUT
paths.hops_table(request, reply=True)

# %%
back = request.reply_arrived
assert (str(back.src_ip), back.src_port) == ("10.96.214.88", 80)
assert (str(back.dst_ip), back.dst_port) == ("10.244.1.5", request.hops[0].inner.src_port)
assert any("conntrack" in h.action for h in request.reply)

# %% [markdown]
# Under Cilium the reply arrives from 10.244.2.8:3000 on the wire (there was no DNAT to
# undo); the socket-level load balancer makes `getpeername()` report the ClusterIP, so
# the application sees the same as with kube-proxy.
#
# ## Two Pods on the same node
#
# `checkout-api-6f8b9d-2xkpj` (10.244.2.14) calling `payment-api-7d9c4b-xr7nq`
# (10.244.2.15:3000) on `node-eu-west-1a`. Under Flannel both sit on the node's `/24`
# behind `cni0`: the sender ARPs for its neighbour directly, and the bridge switches the
# frame from one veth to the other. No routing, no tunnel.

# %%
# NBVAL_CHECK_OUTPUT
same_flannel = walk.request(cluster, "production/checkout-api-6f8b9d-2xkpj", "10.244.2.15", 3000, cni="flannel")
paths.hops_table(same_flannel)

# %% [markdown]
# Under Calico, the lesson's plugin, there is **no bridge**: each Pod has a `/32`, so the
# packet goes to the gateway 169.254.1.1 (the host veth, by proxy ARP) and the node
# routes it into the other Pod's veth by its `/32` route. Still one node, still no
# encapsulation.

# %%
# NBVAL_CHECK_OUTPUT
same_calico = walk.request(cluster, "production/checkout-api-6f8b9d-2xkpj", "10.244.2.15", 3000, cni="calico")
paths.hops_table(same_calico)

# %%
for w in (same_flannel, same_calico):
    assert w.same_node and not w.encapsulated and all(h.node == "node-eu-west-1a" for h in w.all_hops)
assert "cni0" in [h.where for h in same_flannel.hops] and "routing" not in [h.where for h in same_flannel.hops]
assert "cni0" not in [h.where for h in same_calico.hops] and "routing" in [h.where for h in same_calico.hops]

# %%
same_graph = paths.walk_topology(cluster, same_flannel)
same_places = paths.walk_places(same_graph, same_flannel.all_hops)
plots.show(paths.walk_figure(same_graph, same_places, len(same_flannel.hops) - 1))

# %% [markdown]
# ## A direct Pod-to-Pod call
#
# The lesson's commands end with a direct call by Pod IP from `checkout-api-6f8b9d-2xkpj`:
# `curl -v http://10.244.1.5:8080/health`. That address is Pod A's in the two-node
# diagram; in the lesson's own `production` cluster no Pod holds it, and the model says so:

# %%
# NBVAL_CHECK_OUTPUT
try:
    walk.request(cluster, "production/checkout-api-6f8b9d-2xkpj", "10.244.1.5", 8080)
except NotFound as error:
    print(error)

# %% [markdown]
# Aimed at a Pod that exists, `checkout-api-6f8b9d-7rvqn` (10.244.3.7:3000 on
# `node-eu-west-1b`), the call works: kube-proxy has no rule for a Pod IP, so nothing is
# translated, and the packet crosses to the other node like any other. It works until the
# next rollout replaces that Pod (notebook 02): use the Service's name or ClusterIP.

# %%
# NBVAL_CHECK_OUTPUT
direct = walk.request(cluster, "production/checkout-api-6f8b9d-2xkpj", "10.244.3.7", 3000, cni="calico")
print(direct.outcome)
print(next(h.action for h in direct.hops if h.where == "nat PREROUTING"))

# %%
assert direct.delivered and str(direct.arrived.dst_ip) == "10.244.3.7" and direct.arrived.dst_port == 3000
assert not any("DNAT" in h.action for h in direct.hops)

# %% [markdown]
# ## What just happened? The lesson's three points, checked
#
# **"Each Pod has its own /32."** True under Calico and the AWS VPC CNI, whose Pods need
# no subnet: every packet goes to the gateway and the node routes it. Under Flannel a
# Pod has a `/24` (its node's) and reaches same-node Pods directly over the bridge.

# %%
# NBVAL_CHECK_OUTPUT
checkout = cluster.pod("production/checkout-api-6f8b9d-2xkpj")
pd.DataFrame({name: {"eth0 address": str(cni.pod_interface(cluster, checkout, name)),
                     "default route": cni.pod_namespace(cluster, checkout, name).ip_route_show().splitlines()[0]}
              for name in cni.profiles()}).T

# %% [markdown]
# **"169.254.1.1 as the gateway ... the CNI answers ARP requests for it."** Calico's
# host veth answers by proxy ARP with the MAC `ee:ee:ee:ee:ee:ee`; no device holds the
# address. But the lesson then says that a packet to 10.244.3.7, on another node, is
# sent to 169.254.1.1 "and the CNI on Node 1 encapsulates it in VXLAN". That mixes two
# plugins: the 169.254.1.1 gateway is Calico's, and Calico in its default BGP mode
# encapsulates nothing; VXLAN is Calico's VXLAN mode (`vxlan.calico`, UDP 4789) or
# Flannel (whose Pods use 10.244.x.1 as the gateway). The same packet under three
# plugins:

# %%
# NBVAL_CHECK_OUTPUT
to_other_node = {name: walk.request(cluster, "production/checkout-api-6f8b9d-2xkpj", "10.244.3.7", 3000, cni=name)
                 for name in ("calico", "calico-vxlan", "flannel")}
comparison = paths.path_comparison(to_other_node)[["path", "between the nodes"]]
comparison.insert(0, "Pod's default route",
                  [cni.pod_namespace(cluster, checkout, name).ip_route_show().splitlines()[0] for name in to_other_node])
comparison.insert(1, "first frame to MAC", [str(w.hops[0].inner.dst_mac) for w in to_other_node.values()])
comparison

# %%
assert str(to_other_node["calico"].hops[0].inner.dst_mac) == "ee:ee:ee:ee:ee:ee"
assert not to_other_node["calico"].encapsulated
assert to_other_node["calico-vxlan"].encapsulated and to_other_node["flannel"].encapsulated

# %% [markdown]
# **"Pods on the same node communicate through a virtual bridge."** True for Flannel
# (and any bridge-based plugin), as the walk above shows. With Calico or the AWS VPC CNI
# there is no bridge; the node routes between the veths. Either way no overlay is
# involved.
#
# And the diagram's **key insight**, checked above: Pod A addressed the ClusterIP,
# kube-proxy rewrote the destination on node 1, the tunnel carried it, and Pod B sees
# Pod A's real IP, not the Service's and not node 1's.
#
# ## Keep the walk as a capture
#
# `frames.write_pcap` writes every hop's frame (request, then reply) to a pcap file that
# Wireshark or `tcpdump -r` opens; here it is written to a temporary file and read back.

# %%
# NBVAL_CHECK_OUTPUT
with tempfile.TemporaryDirectory() as folder:
    captured = frames.read_pcap(frames.write_pcap(request, Path(folder) / "walk.pcap"))
capture = paths.capture_table(captured)
capture

# %%
assert len(capture) == len(request.all_hops)
assert capture["bytes"].tolist() == [h.frame_bytes for h in request.all_hops]

# %% [markdown]
# ## Recap
#
# - The CNI decides the path between nodes: a VXLAN or IP-in-IP tunnel, plain routing,
#   or the VPC's own routing. The Pod's packet inside is the same in all of them.
# - kube-proxy's DNAT happens once, on the client's node; conntrack reverses it for the
#   reply. Cilium translates at `connect()` instead, so nothing is rewritten on the wire.
# - Pod B sees Pod A's real IP: no NAT between Pods (rules 3 and 4).
# - Same-node traffic never touches the node network; with Flannel it is bridged, with
#   Calico routed through the node.
#
# Next: **05 · Services and kube-proxy**: the rules behind that DNAT, and how they
# spread connections over endpoints.
