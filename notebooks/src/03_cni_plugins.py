# %% [markdown]
# # 03 · What the CNI plugin does
#
# **What you will be able to do:**
#
# - say what a CNI plugin does when a Pod starts, in four steps, and read the `ip`
#   commands each step amounts to;
# - read a Pod's `ip addr show eth0` and `ip route show` and tell which plugin wired it:
#   a `/32` with `default via 169.254.1.1` (Calico, the lesson's output) or a `/24`
#   behind the `cni0` bridge (Flannel);
# - compare Flannel, Calico, Cilium and the AWS VPC CNI by encapsulation, bytes of
#   overhead, MTU, where routes come from, NetworkPolicy and how Services work;
# - measure the encapsulation overhead from real frames, and work out how many Pods an
#   EC2 node can hold under the AWS VPC CNI.
#
# Everything is computed by `k8snet_lesson.cni` (the plugins' facts live in
# `data/cni-plugins.yaml`, each with its source) and `k8snet_lesson.frames` (frames
# encoded with scapy, byte for byte).

# %%
import pandas as pd

from k8snet_lesson import cni, scenarios
from k8snet_lesson.view import paths, plots

pd.set_option("display.max_colwidth", 120)
cluster = scenarios.lesson_cluster()
flow = scenarios.two_node_flow()
checkout = "production/checkout-api-6f8b9d-2xkpj"

# %% [markdown]
# ## The plugin's job
#
# > The Container Network Interface (CNI) plugin is the component that actually
# > implements the Kubernetes networking model on physical hardware. When a new Pod is
# > created, the CNI plugin is called to: assign the Pod an IP from the Pod CIDR, create
# > a virtual network interface inside the Pod's network namespace, connect it to the
# > node's network, and set up routing so other Pods can reach the new IP.
#
# Who calls it: kubelet asks the container runtime (containerd, CRI-O) for a Pod
# sandbox; the runtime creates the sandbox's network namespace and runs the plugin
# binary from `/opt/cni/bin` with `CNI_COMMAND=ADD`, the config from `/etc/cni/net.d`
# on its standard input. The plugin answers with the address it gave.
#
# ## The lesson's table of plugins

# %%
# NBVAL_CHECK_OUTPUT
paths.lesson_cni_table()

# %% [markdown]
# The same plugins with what decides how a packet crosses nodes. Calico appears three
# times because it runs in three modes: pure BGP routing, IP-in-IP, or VXLAN. The
# overhead column is not typed in: it is measured from frames encoded with scapy.

# %%
# NBVAL_CHECK_OUTPUT
paths.extended_cni_table()

# %%
extended = paths.extended_cni_table()
assert extended.loc["flannel", "NetworkPolicy"] == "no"
assert (extended.loc[extended["Encapsulation"] == "none", "Overhead (bytes)"] == 0).all()
assert extended.loc["cilium", "Services"].startswith("eBPF socket LB")

# %% [markdown]
# ## A CNI ADD, step by step: Flannel
#
# Flannel delegates to the standard `bridge` plugin with `host-local` IPAM: the Pod gets
# an address from its node's `/24` (the node's `spec.podCIDR`), its veth's host end is
# enslaved to the `cni0` bridge, and `cni0`'s address (`.1`) is the Pod's gateway. Here
# is `checkout-api-6f8b9d-2xkpj` (10.244.2.14 on `node-eu-west-1a`) wired by Flannel:

# %%
# NBVAL_CHECK_OUTPUT
flannel_add = cni.cni_add(cluster, checkout, "flannel")
print(paths.cni_add_text(flannel_add))

# %% [markdown]
# What each step changed, in the Pod's namespace and on the node. Routes to other
# nodes' Pods are not the CNI ADD's business: flanneld programmed them (one per remote
# node, via `flannel.1`) when the nodes joined.

# %%
# NBVAL_CHECK_OUTPUT
paths.step_changes(flannel_add)

# %% [markdown]
# ## The same Pod wired by Calico
#
# Calico gives the Pod a `/32`, no bridge: the host end of the veth (`cali...`, named
# from a hash of the Pod's namespace and name) gets a `/32` route on the node, and
# answers ARP for the gateway `169.254.1.1` by proxy ARP. Other nodes learn the node's
# `/26` block over BGP.

# %%
# NBVAL_CHECK_OUTPUT
calico_add = cni.cni_add(cluster, checkout, "calico")
print(paths.cni_add_text(calico_add))

# %%
# NBVAL_CHECK_OUTPUT
paths.step_changes(calico_add)

# %% [markdown]
# ## The lesson's `ip addr` and `ip route`, and whose they are
#
# The lesson shows this for `checkout-api-6f8b9d-2xkpj`:

# %%
# NBVAL_CHECK_OUTPUT
print("$ kubectl exec -it checkout-api-6f8b9d-2xkpj -n production -- ip addr show eth0")
print(paths.LESSON_IP_ADDR_SHOW)
print("$ kubectl exec -it checkout-api-6f8b9d-2xkpj -n production -- ip route show")
print(paths.LESSON_IP_ROUTE_SHOW)

# %% [markdown]
# That `/32` and `169.254.1.1` are **Calico's way** (the AWS VPC CNI does the same). The
# lesson's cluster runs Calico, so that is what its Pods print. Under Flannel the same
# Pod, same IP, prints a `/24` and `default via 10.244.2.1`, the `cni0` bridge:

# %%
# NBVAL_CHECK_OUTPUT
for add in (calico_add, flannel_add):
    print(f"--- {add.profile.plugin}: ip addr show eth0")
    print(add.ip_addr_show)
    print(f"--- {add.profile.plugin}: ip route show")
    print(add.ip_route_show)

# %% [markdown]
# Line by line. Two small differences from the lesson's listing are iproute2's, not
# the plugin's: iproute2 prints `link/ether` before `inet`, and today's netlink library
# computes no broadcast address for a `/32`, so there is no `brd 10.244.2.14`. The `@if8`
# (the index of the veth's host end on the node) depends on how many devices the node
# already has; the model numbers them `lo`, `eth0`, the plugin's devices, then one veth
# per Pod.

# %%
# NBVAL_CHECK_OUTPUT
paths.lesson_comparison(cluster, checkout)

# %%
lesson = paths.lesson_lines(paths.LESSON_IP_ADDR_SHOW, paths.LESSON_IP_ROUTE_SHOW)
calico_lines = paths.lesson_lines(calico_add.ip_addr_show, calico_add.ip_route_show)
flannel_lines = paths.lesson_lines(flannel_add.ip_addr_show, flannel_add.ip_route_show)
assert calico_lines["default route"] == lesson["default route"] == "default via 169.254.1.1 dev eth0"
assert calico_lines["other routes"] == lesson["other routes"] == "169.254.1.1 dev eth0 scope link"
assert calico_lines["inet"].startswith("inet 10.244.2.14/32 ")
assert flannel_lines["inet"].startswith("inet 10.244.2.14/24 brd 10.244.2.255 ")
assert flannel_lines["default route"] == "default via 10.244.2.1 dev eth0"

# %% [markdown]
# ## Try it: pick a plugin and a Pod
#
# Choose a CNI and a Pod (or a new Pod on a node, which first gets an address from the
# plugin's IPAM) and read the four steps, the Pod's `ip addr` and `ip route`, and the
# node's routing table. Compare the node's routes: Flannel routes other nodes' `/24`s via
# `flannel.1`, Calico's BGP mode via the other nodes' own addresses (`proto bird`), Calico
# IP-in-IP via `tunl0`, Cilium everything via `cilium_host`, and the AWS VPC CNI needs
# no route to other nodes at all: the VPC knows where every Pod IP lives.

# %%
explorer = paths.cni_explorer(cluster, pod=checkout, cni_name="flannel")
explorer

# %% [markdown]
# ## Encapsulation: the bytes it costs, measured
#
# An overlay wraps each Pod packet in another packet addressed node to node. Below, the
# first packet of the lesson's cross-node request (a TCP SYN from Pod A, 10.244.1.5, to
# Pod B, 10.244.2.8:3000) is encoded as the Pod sends it and as it crosses the node
# network, under each plugin. VXLAN carries a whole Ethernet frame inside UDP (outer
# Ethernet 14 + IPv4 20 + UDP 8 + VXLAN 8 = **50 bytes**); IP-in-IP adds one IPv4 header
# (**20 bytes**); plain routing and the VPC add nothing.

# %%
# NBVAL_CHECK_OUTPUT
wire = paths.wire_frames(flow, "production/checkout-api-6f8b9d-k8m2w", "10.96.214.88", 80)
sizes = paths.frame_sizes(wire)
sizes

# %%
layers = {name: paths.frame_layers(hop.inner, hop.outer) for name, (_, hop) in wire.items()}
pod_frames = {name: first.frame_bytes for name, (first, _) in wire.items()}
plots.show(paths.frame_sizes_figure(layers, pod_frames=pod_frames))

# %% [markdown]
# Flannel's VXLAN frame, header by header, as a capture on the node's `eth0` shows it:

# %%
# NBVAL_CHECK_OUTPUT
pd.DataFrame(layers["flannel"], columns=["header", "bytes"])

# %% [markdown]
# The overhead is why the Pod's MTU is smaller than the node's: a full-size Pod packet
# plus the encapsulation must still fit the node network's 1500 bytes. So Flannel and
# Calico VXLAN set the Pod's `eth0` to **1450**, Calico IP-in-IP to **1480**; plain
# routing keeps 1500, and in an AWS VPC (jumbo frames) Pods get **9001**. The MTU each
# project documents is exactly the underlay's minus the measured overhead:

# %%
assert sizes["overhead (bytes)"].to_dict() == {"flannel": 50, "calico": 0, "calico-ipip": 20,
                                               "calico-vxlan": 50, "cilium": 50, "aws-vpc": 0}
assert (sizes["pod MTU = underlay - overhead"] == sizes["documented MTU"]).all()
assert all(add.pod_namespace.link("eth0").mtu == add.profile.mtu for add in (flannel_add, calico_add))

# %% [markdown]
# ## The AWS VPC CNI: real VPC addresses, and how many Pods fit
#
# The AWS VPC CNI gives each Pod a secondary IP address of one of the node's ENIs (its
# virtual network cards), so Pod IPs are VPC addresses and need no overlay. The price:
# a node holds only as many Pods as its ENIs have addresses. Each ENI's primary address
# is the ENI's own, and the two host-network Pods (aws-node, kube-proxy) need none:
# **max pods = ENIs × (IPs per ENI − 1) + 2**.

# %%
# NBVAL_CHECK_OUTPUT
paths.max_pods_table()

# %%
table = paths.max_pods_table()
assert (table["ENIs x (IPs - 1) + 2"] == table["eni-max-pods.txt"]).all()
assert cni.aws_max_pods(3, 10) == 29  # m5.large

# %% [markdown]
# **Try it:** `cni.aws_max_pods(enis, ips_per_eni)` for an instance type you use; a
# t3.micro has 2 ENIs of 2 addresses each.
#
# ## Recap
#
# - The CNI ADD: (1) IPAM gives the Pod an IP, (2) a veth pair puts `eth0` in the Pod's
#   namespace, (3) the host end joins the node (a bridge, or a `/32` route), (4) routes.
# - The lesson's `/32` and `169.254.1.1` are Calico's way; Flannel gives a `/24` on
#   `cni0` with gateway `.1`. Same Pod IP, two plumbings.
# - Overlays cost bytes: VXLAN 50, IP-in-IP 20; the Pod's MTU shrinks by as much.
# - Only some plugins enforce NetworkPolicy (not Flannel); Cilium can replace kube-proxy.
#
# Next: **04 · A request across nodes**: the packet itself, hop by hop, with its inner
# and outer headers.
