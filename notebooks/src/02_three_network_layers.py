# %% [markdown]
# # 02 · The three network layers
#
# **What you will be able to do:**
#
# - name the three networks of every cluster (node, pod, service), their typical CIDRs,
#   what lives in each and who manages it, and say how many nodes, pods and Services a
#   set of CIDRs can hold;
# - follow how addresses are handed out: a podCIDR per node by kube-controller-manager,
#   a pod IP per pod by the CNI's IPAM, a ClusterIP per Service by kube-apiserver;
# - show why Pod IPs are ephemeral and ClusterIPs are not, by replacing pods and
#   watching their IPs change while the Service stays put;
# - size a cluster yourself and catch overlapping ranges before they bite.
#
# Every number below is computed by `k8snet_lesson.ipam`, which allocates the way the
# real components do (the docstrings name the Kubernetes and CNI code they follow).

# %%
from IPython.display import Image

import pandas as pd

from k8snet_lesson import cni, ipam, scenarios
from k8snet_lesson.view import kubectl, layers, plots

pd.set_option("display.max_colwidth", 160)  # show whole sentences in tables

cluster = scenarios.lesson_cluster()

# %% [markdown]
# ## Three networks, three ranges
#
# The lesson's table, with three columns the model adds for the lesson's cluster: its own
# CIDRs, what is in use, and what the ranges hold (a pod CIDR of /16 cut into /24 node
# CIDRs, kubelet's default of 110 pods per node).

# %%
# NBVAL_CHECK_OUTPUT
layers.network_layers(cluster)

# %% [markdown]
# The three ranges must not share a single address: a packet for 10.96.0.10 must mean
# "the kube-dns Service" and nothing else. The cluster's ranges are pairwise disjoint:

# %%
# NBVAL_CHECK_OUTPUT
networks = {"node network": cluster.node_network, "pod network": cluster.cluster_cidr,
            "service network": cluster.service_cidr}
print("overlaps:", [str(o) for o in ipam.overlaps(networks)] or "none")
assert ipam.overlaps(networks) == ()

# %% [markdown]
# And every address in the cluster lies in its own network: nodes in the node network,
# pods in the pod network (and in their node's podCIDR), ClusterIPs in the service
# network. No interface anywhere holds a ClusterIP; it exists only in kube-proxy's rules.

# %%
# NBVAL_CHECK_OUTPUT
members = layers.network_members(cluster)
members

# %%
assert members["inside the CIDR"].all()
assert all(p.pod_ip in cluster.node_of(p).pod_cidr for p in cluster.pods if not p.host_network)

# %% [markdown]
# ## Node CIDRs: kube-controller-manager cuts the pod network
#
# With `--allocate-node-cidrs`, kube-controller-manager's range allocator gives each new
# Node a `spec.podCIDR` of `--node-cidr-mask-size` bits (24 by default for IPv4) from
# `--cluster-cidr`, lowest free block first. On a fresh cluster the first three nodes get:

# %%
# NBVAL_CHECK_OUTPUT
cidrs = ipam.CIDRSet(cluster.cluster_cidr, cluster.node_cidr_mask_size)
blocks = {name: cidrs.allocate_next() for name in ("node-1", "node-2", "node-3")}
layers.node_cidr_table(blocks)

# %% [markdown]
# The allocator remembers where it stopped. Delete `node-2` and join a new node: the new
# node does **not** get the freed `10.244.1.0/24` back; the allocator carries on from
# where it was and reuses the gap only after it wraps round the whole range.

# %%
# NBVAL_CHECK_OUTPUT
cidrs.release(blocks["node-2"])
blocks["node-4"] = cidrs.allocate_next()
print("node-4 gets", blocks["node-4"])

# %%
assert blocks["node-4"] == ipam.parse_cidr("10.244.3.0/24")
assert ipam.parse_cidr("10.244.1.0/24") not in cidrs

# %% [markdown]
# The lesson's nodes hold `10.244.2.0/24`, `10.244.3.0/24` and `10.244.4.0/24`, three of
# the 256 blocks. Each square below is one node CIDR of the pod network:

# %%
lesson_plan = ipam.plan(cluster_cidr=cluster.cluster_cidr, node_cidr_mask_size=cluster.node_cidr_mask_size,
                        service_cidr=cluster.service_cidr, node_network=cluster.node_network)
tiling = layers.node_cidr_figure(lesson_plan, used=[node.pod_cidr for node in cluster.nodes])
Image(plots.figure_png(tiling, dpi=100))

# %% [markdown]
# **Try it:** change the mask in `ipam.CIDRSet(cluster.cluster_cidr, 26)` above and run
# the cells again: more, smaller blocks (a /26 holds 61 pods).
#
# ## Pod IPs: the CNI's IPAM on each node
#
# With Flannel (and any plugin that chains the `bridge` plugin with `host-local` IPAM),
# each node hands out its own podCIDR: `.1` belongs to the `cni0` bridge, the pods'
# gateway, and pods get `.2`, `.3`, ... round robin. Here is a fresh `node-eu-west-1a`
# starting three pods:

# %%
# NBVAL_CHECK_OUTPUT
node_a = cluster.node("node-eu-west-1a")
host_local = ipam.HostLocal(node_a.pod_cidr)
for pod in ("production/web-1", "production/web-2", "production/web-3"):
    host_local.allocate(pod)
layers.host_local_table(host_local)

# %% [markdown]
# Delete `web-1` and start `web-4`: host-local goes on from the last address it handed
# out, so `web-4` gets `.5`, not the freed `.2`.

# %%
# NBVAL_CHECK_OUTPUT
host_local.release("10.244.2.2")
web_4 = host_local.allocate("production/web-4")
print("web-4 gets", web_4)

# %%
assert str(web_4) == "10.244.2.5" and host_local.gateway == node_a.pod_cidr.network_address + 1

# %% [markdown]
# The lesson's `ip addr` shows `inet 10.244.2.14/32` and `default via 169.254.1.1`.
# That is Calico's way (the lesson's cluster runs Calico): a /32 on `eth0` and a
# link-local gateway the host answers by proxy ARP. Under Flannel the same pod shows
# the node's /24 and the `cni0` bridge (`.1`) as its gateway. Same IP, two plumbings;
# notebook 03 builds both step by step.

# %%
# NBVAL_CHECK_OUTPUT
checkout = cluster.pod("production/checkout-api-6f8b9d-2xkpj")
for plugin in ("flannel", "calico"):
    print(f"--- {plugin}: eth0 {cni.pod_interface(cluster, checkout, plugin)}")
    print(cni.pod_namespace(cluster, checkout, plugin).ip_route_show())

# %% [markdown]
# ## ⚠️ Pod IPs are ephemeral: never hardcode them
#
# > Every time a Pod is deleted and recreated — during a rolling update, a node drain, a
# > crash — it gets a new IP from the Pod network range. [...] Always communicate with
# > Services, never with Pod IPs directly.
#
# Let us do it to the pods behind `checkout-api-svc`: a crash (the container restarts),
# a deleted pod (its ReplicaSet creates a replacement), then a rolling update (a new
# ReplicaSet). Each row is the state after one event. The replacement is placed on its
# predecessor's node and gets the address host-local would hand out there (Calico's own
# IPAM orders addresses its own way; no IPAM promises a new pod its predecessor's IP).

# %%
# NBVAL_CHECK_OUTPUT
events = ["container restart", "pod deleted", "rolling update"]
history = layers.churn(cluster, "production/checkout-api-svc", events, seed=31)
layers.churn_table(history)

# %% [markdown]
# One precise point the lesson words loosely: a **crash restarts the container inside
# the same pod**, so the pod keeps its name and its IP (only `RESTARTS` goes up). A new
# IP comes with a new *pod*: deleted and recreated, evicted, drained, or replaced by a
# rolling update. Pod by pod:

# %%
# NBVAL_CHECK_OUTPUT
layers.replacements_table(history)

# %%
original_ip = cluster.service("production/checkout-api-svc").cluster_ip
assert all(c.service("production/checkout-api-svc").cluster_ip == original_ip for c in history.clusters)
assert all(r.ip_changed == (r.event is not layers.ChurnEvent.CONTAINER_RESTART) for r in history.replacements)

# %% [markdown]
# A client that had saved `10.244.2.14` now talks to nobody (or, worse, one day to a
# stranger that gets the address). A client that uses `checkout-api-svc` or
# `10.96.214.88` never noticed: the Endpoints, which kube-proxy follows, moved with the pods.

# %%
# NBVAL_CHECK_OUTPUT
print("$ kubectl get endpoints checkout-api-svc -n production   # before")
print(kubectl.get_endpoints(history.clusters[0], namespace="production", name="checkout-api-svc"))
print("$ kubectl get endpoints checkout-api-svc -n production   # after the rolling update")
print(kubectl.get_endpoints(history.clusters[-1], namespace="production", name="checkout-api-svc"))

# %% [markdown]
# **Try it:** change `events` (any sequence of `"container restart"`, `"pod deleted"`,
# `"rolling update"`) or the `seed` and run the three cells again.
#
# ## ClusterIPs: kube-apiserver's allocator
#
# ClusterIPs come from `--service-cluster-ip-range`. `kubernetes.default` takes the
# first address and kubeadm gives kube-dns the tenth. The allocator keeps a lower band
# (for a /12, the first 256 addresses) for IPs you request, and hands out dynamic IPs
# at random from the band above, so a requested IP rarely collides with a dynamic one.

# %%
# NBVAL_CHECK_OUTPUT
service_ips = ipam.ServiceIPRange(cluster.service_cidr, seed=31)
service_ips.allocate(ipam.kubernetes_service_ip(cluster.service_cidr), "default/kubernetes")
service_ips.allocate(ipam.dns_service_ip(cluster.service_cidr), "kube-system/kube-dns")
service_ips.allocate("10.96.214.88", "production/checkout-api-svc")  # the lesson's, as if requested
for name in ("production/payment-api-svc", "production/auth-service-svc"):
    service_ips.allocate_next(name)
print("lower band:", ipam.kubernetes_service_ip(cluster.service_cidr), "-", service_ips.static_band_last)
layers.service_ip_table(service_ips)

# %%
assert [str(s.cluster_ip) for s in (cluster.service("default/kubernetes"), cluster.service("kube-system/kube-dns"))] == [
    "10.96.0.1", "10.96.0.10"]
assert set(layers.service_ip_table(service_ips).loc[["10.96.0.1", "10.96.0.10"], "band"]) == {"lower (static)"}

# %% [markdown]
# ## Size a cluster
#
# The flags decide how big a cluster can grow: `--cluster-cidr` and
# `--node-cidr-mask-size` (kube-controller-manager) give the number of nodes and the pod
# addresses per node, kubelet's `--max-pods` caps pods per node, and
# `--service-cluster-ip-range` (kube-apiserver) gives the ClusterIPs. Type into the
# boxes: try a mask of 26, a cluster CIDR of `10.96.0.0/16` (it collides with the
# services), a node network of `10.0.0.0/8` (a common VPC that swallows both), or
# something that is not a CIDR at all.

# %%
sizing = layers.sizing_explorer(cluster_cidr="10.244.0.0/16", node_cidr_mask_size=24, max_pods=110,
                                service_cidr="10.96.0.0/12", node_network="192.168.0.0/16")
sizing

# %% [markdown]
# The same plan without widgets, for the lesson's flags and for three common mistakes:

# %%
# NBVAL_CHECK_OUTPUT
layers.sizing_table(lesson_plan)

# %%
# NBVAL_CHECK_OUTPUT
mistakes = {
    "pod CIDR inside the service CIDR": dict(cluster_cidr="10.96.0.0/16", service_cidr="10.96.0.0/12",
                                             node_network="192.168.0.0/16"),
    "node network of a whole /8": dict(cluster_cidr="10.244.0.0/16", service_cidr="10.96.0.0/12",
                                       node_network="10.0.0.0/8"),
    "/26 node CIDRs with max-pods 110": dict(cluster_cidr="10.244.0.0/16", node_cidr_mask_size=26,
                                             service_cidr="10.96.0.0/12", node_network="192.168.0.0/16"),
}
for name, flags in mistakes.items():
    p = ipam.plan(**flags)
    print(f"{name}: {p.nodes:,} nodes x {p.pods_per_node} pods")
    for problem in (*p.overlaps, *p.warnings):
        print("   ", problem)

# %%
assert not ipam.plan(**mistakes["pod CIDR inside the service CIDR"]).ok
assert ipam.plan(**mistakes["pod CIDR inside the service CIDR"]).nodes == 0
assert len(ipam.plan(**mistakes["node network of a whole /8"]).overlaps) == 2
assert ipam.plan(**mistakes["/26 node CIDRs with max-pods 110"]).pods_per_node == 61

# %% [markdown]
# When the pod CIDR overlaps the service CIDR, kube-controller-manager never hands out
# the blocks inside the service range. A pod CIDR of `10.96.0.0/11` with the default
# service CIDR `10.96.0.0/12` loses half its node CIDRs:

# %%
swallowed = layers.node_cidr_figure(ipam.plan(cluster_cidr="10.96.0.0/11", node_cidr_mask_size=16,
                                              service_cidr="10.96.0.0/12"))
Image(plots.figure_png(swallowed, dpi=100))

# %% [markdown]
# ## Recap
#
# - **Node network** (the machines), **pod network** (one IP per pod, from the node's
#   podCIDR), **service network** (virtual ClusterIPs, held by no interface). Three
#   disjoint ranges.
# - kube-controller-manager cuts the pod network into node CIDRs; the CNI's IPAM hands
#   out pod IPs from them (`.1` is `cni0` with Flannel); kube-apiserver hands out ClusterIPs.
# - A new pod gets a new IP; a container restart does not. The Service's ClusterIP and
#   DNS name stay, and its Endpoints follow the pods: talk to Services.
# - The flags decide capacity: nodes = node CIDRs outside the service range; pods per
#   node = min(max-pods, addresses in a node CIDR - 3).
#
# Next: **03 · What the CNI plugin does**: the four steps that give a new pod its
# address, its `eth0` and its routes.
