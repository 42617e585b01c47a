# %% [markdown]
# # 03 · What the <abbr title="Container Network Interface: the plugin a node runs when a Pod starts, to give it an IP, an interface and routes">CNI</abbr> plugin does
#
# **What you will be able to do:**
#
# - run a CNI ADD step by step and read what each step leaves in the Pod's `ip addr` and `ip route`;
# - compare Flannel, Calico, Cilium and the AWS VPC CNI by encapsulation, bytes of overhead,
#   <abbr title="the largest packet an interface sends in one piece; an overlay lowers the Pod's MTU by the bytes it adds">MTU</abbr> and policy support;
# - say where the lesson's plugin table is too quick, with a source for each fact.
#
# Every cell runs on the lesson cluster (`data/lesson-cluster.yaml`), whose CNI is Calico in
# <abbr title="an overlay that wraps each Pod's Ethernet frame in a UDP packet between nodes (Flannel: UDP 8472; Calico: UDP 4789), adding 50 bytes">VXLAN</abbr> mode.

# %%
from functools import partial

from k8snet_lesson import cni, predictions, scenarios
from k8snet_lesson.cluster import Pod
from k8snet_lesson.view import paths, plots, tables
from k8snet_lesson.view.gates import predict

cluster = scenarios.lesson_cluster()
checkout = "production/checkout-api-6f8b9d-2xkpj"
print(f"lesson cluster, CNI profile {cluster.cni!r}")

# %% [markdown]
# ## Four steps when a Pod starts
#
# kubelet asks the container runtime for the Pod's sandbox. The runtime creates the Pod's
# <abbr title="a private copy of the Linux network stack (interfaces, routes, iptables rules); every Pod gets one">network namespace</abbr>
# and runs the plugin binary from `/opt/cni/bin` with `CNI_COMMAND=ADD`. The plugin then:
#
# 1. picks the Pod's IP: its <abbr title="IP address management: the part of a CNI plugin that picks a free address for each new Pod">IPAM</abbr> hands out a free address;
# 2. creates a <dfn>veth</dfn> pair, a virtual Ethernet cable with two ends, and moves one end into the Pod as `eth0`;
# 3. connects the other end to the node;
# 4. adds the routes that make the new IP reachable.
#
# Predict what the four steps leave in the Pod, then see each step's changes.

# %% tags=["predict"]
add = cni.cni_add(cluster, checkout, cluster.cni)
predict(predictions.build("03-pod-gateway", cluster),
        reveal=partial(tables.table, paths.step_changes(add).drop(columns="pod: devices"), caption=f"CNI ADD of {checkout}, lesson cluster, Calico VXLAN"))

# %% [markdown]
# The result, as the lesson prints it: a `/32` and `default via 169.254.1.1`.

# %% tags=["nbval-check-output"]
print(f"$ kubectl exec {add.pod.name} -n production -- ip addr show eth0    # Calico VXLAN")
print(add.ip_addr_show)
print(f"$ kubectl exec {add.pod.name} -n production -- ip route show")
print(add.ip_route_show)

# %% [markdown]
# No device holds 169.254.1.1. The host end of the veth answers ARP for it: that is
# <dfn>proxy ARP</dfn>, the node answering for an address it does not hold. So every
# packet leaves the Pod for its node, and the node routes it.
#
# **Try it:** pick another plugin or a new Pod. Flannel gives the same Pod a `/24` behind
# the <dfn>cni0</dfn> bridge, the node's switch for its Pods, with the bridge's `.1` as gateway.

# %% tags=["nbval-ignore-output"]
paths.cni_explorer(cluster, pod=checkout, cni_name=cluster.cni)

# %% [markdown]
# ## Crossing nodes: what wrapping costs
#
# The node network knows node addresses, not Pod addresses. An <dfn>overlay</dfn> wraps
# each Pod packet in a packet addressed node to node:
#
# - VXLAN wraps the Pod's whole Ethernet frame in UDP;
# - <dfn>IP-in-IP</dfn> puts a second IPv4 header in front of the Pod's IP packet;
# - with plain routing (Calico's <dfn>BGP</dfn> mode, or the AWS VPC) nothing is wrapped.
#
# The sizes below are measured from frames encoded byte for byte: the lesson cluster's SYN
# from `checkout-api-6f8b9d-2xkpj` to `checkout-api-6f8b9d-7rvqn` on another node.

# %% tags=["predict"]
wire = paths.wire_frames(cluster, checkout, "10.244.3.7", 3000)
layers = {name: paths.frame_layers(hop.inner, hop.outer) for name, (_, hop) in wire.items()}
pod_frames = {name: first.frame_bytes for name, (first, _) in wire.items()}
predict(predictions.build("03-ipip-overhead", cluster),
        reveal=partial(plots.show, paths.frame_sizes_figure(layers, pod_frames=pod_frames)))

# %% [markdown]
# The Pod's MTU, the largest packet its `eth0` sends in one piece, must leave room for
# those bytes.

# %% tags=["predict"]
predict(predictions.build("03-vxlan-mtu", cluster), reveal=paths.plugins_table)

# %% tags=["check"] jupyter={"source_hidden": true}
sizes = paths.frame_sizes(wire)
assert sizes["overhead (bytes)"].to_dict() == {name: cni.profile(name).underlay_mtu - cni.profile(name).mtu
                                               for name in sizes.index}
assert sizes.loc["calico-ipip", "overhead (bytes)"] == 20 and sizes.loc["calico-vxlan", "overhead (bytes)"] == 50
assert add.pod_namespace.link("eth0").mtu == cni.profile(cluster.cni).mtu

# %% [markdown]
# ## The lesson's table, and what it leaves out
#
# The lesson's plugin table, word for word:

# %%
tables.table(paths.lesson_cni_table())

# %% [markdown]
# Four of its phrases need a footnote. Each fact below comes from `data/cni-plugins.yaml`,
# which names its source.

# %%
paths.lesson_table_notes()

# %% [markdown]
# So "Calico" names no single encapsulation: the IP pool decides, and the install method
# creates the first pool. The lesson cluster's pool is VXLAN.

# %%
paths.calico_install_table()

# %% [markdown]
# The AWS VPC CNI gives each Pod an address of one of the node's <dfn>ENI</dfn>s, its
# virtual network cards. Predict where that address comes from.

# %% tags=["predict"]
new_pod = Pod("production", "new-pod", labels={"app": "new-pod"}, node_name="node-eu-west-1a")
predict(predictions.build("03-aws-address", cluster),
        reveal=partial(paths.CommandOutput, f"kubectl exec {new_pod.name} -n production -- ip addr show eth0   # AWS VPC CNI",
                       cni.cni_add(cluster, new_pod, "aws-vpc").ip_addr_show))

# %% tags=["check"] jupyter={"source_hidden": true}
aws = cni.cni_add(cluster, new_pod, "aws-vpc").address.ip
assert aws in cni.node_subnet(cluster, cluster.node("node-eu-west-1a")) and aws not in cluster.cluster_cidr
assert [m.profile for m in cni.calico_install_methods()].count("calico-ipip") == 2

# %% [markdown]
# ## Recap
#
# - A CNI ADD: IPAM picks the IP, a veth pair gives the Pod `eth0`, the host end joins the
#   node (a bridge, or a `/32` route), routes make the IP reachable.
# - The lesson's `/32` and `169.254.1.1` are Calico's wiring; Flannel gives a `/24` on `cni0`.
# - Overlays cost bytes: VXLAN 50, IP-in-IP 20, plain routing 0; the Pod's MTU shrinks by as much.
# - Calico's encapsulation depends on how it was installed; AWS VPC CNI Pods hold VPC addresses.
#
# Next: **04 · A request across nodes**, the packet itself, hop by hop.

# %% tags=["graded"]
from k8snet_lesson.view.quiz import graded_check
graded_check("03")

# %% [markdown] jp-MarkdownHeadingCollapsed=true
# ## Going further: Flannel's CNI ADD, step by step
#
# Flannel delegates to the standard `bridge` plugin with <dfn>host-local</dfn> IPAM, which
# hands out addresses from the node's own <abbr title="the block of pod addresses one node hands out, cut from the cluster's pod network by kube-controller-manager">podCIDR</abbr>. Same Pod, same IP, other plumbing:

# %%
tables.table(paths.step_changes(cni.cni_add(cluster, checkout, "flannel")),
             caption=f"CNI ADD of {checkout}, lesson cluster, Flannel")

# %% [markdown] jp-MarkdownHeadingCollapsed=true
# ## Going further: the lesson's `ip addr`, line by line
#
# The lesson prints `brd 10.244.2.14` and the `inet` line before `link/ether`; today's
# iproute2 prints `link/ether` first and no broadcast address for a `/32`.

# %%
tables.table(paths.lesson_comparison(cluster, checkout, cnis=("calico-vxlan", "flannel")))

# %% [markdown] jp-MarkdownHeadingCollapsed=true
# ## Going further: where each plugin's routes come from
#
# Cilium forwards with <dfn>eBPF</dfn> programs in the kernel, looking Pods up in its
# <dfn>ipcache</dfn>, instead of the routing table.

# %%
paths.plugins_table(columns=("Plugin", "Mode", "Routes from", "Services"))

# %% [markdown] jp-MarkdownHeadingCollapsed=true
# ## Going further: how many Pods fit on an EC2 node
#
# Under the AWS VPC CNI each Pod needs an ENI address: max pods = ENIs × (IPs per ENI − 1) + 2.

# %%
tables.table(paths.max_pods_table())
