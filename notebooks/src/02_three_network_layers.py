# %% [markdown]
# # 02 · The three network layers
#
# **What you will be able to do:**
#
# - name the three networks of a cluster, their <abbr title="a block of IP addresses written as address/prefix length: 10.244.0.0/16 holds the 65,536 addresses that share the first 16 bits">CIDRs</abbr>, and who hands out their
#   addresses;
# - predict the IP a new pod gets, and show that Pod IPs change while a Service's address
#   stays;
# - size a cluster from its flags, and catch ranges that overlap.

# %%
from functools import partial

import pandas as pd

from k8snet_lesson import churn, ipam, predictions, scenarios
from k8snet_lesson.view import layers, tables
from k8snet_lesson.view.gates import predict

pd.set_option("display.max_colwidth", 160)  # whole sentences in tables

cluster = scenarios.lesson_cluster()  # the lesson's cluster: three nodes, Calico VXLAN

# %% [markdown]
# ## Three networks, three ranges
#
# The lesson's table, with what the model computes for the lesson's cluster: its own
# CIDRs, what is in use, and what each range holds.

# %% tags=["nbval-check-output"]
tables.table(layers.network_layers(cluster))

# %% [markdown]
# The three ranges share no address, so an address alone says which network it is in.
# Each has its own allocator:
#
# - kube-controller-manager cuts the pod network into one <dfn>podCIDR</dfn> per node:
#   the block of pod addresses one node hands out (a /24 by default);
# - on each node, the <dfn>IPAM</dfn>, the part of the network plugin that picks a free
#   address for each new Pod, hands out Pod IPs from that node's podCIDR;
# - kube-apiserver gives each Service a <dfn>ClusterIP</dfn>, a virtual IP from the
#   service network that no interface holds. <abbr title="the DaemonSet that watches Services and EndpointSlices and writes the kernel rules that turn a ClusterIP into Pod IPs; it is not in the data path">kube-proxy</abbr>, the lesson's "who manages it",
#   only makes it work (notebook 05).
#
# ## Pod IPs: the next address on the node
#
# The lesson's `node-eu-west-1a` holds `10.244.2.0/24` and runs two pods:

# %% tags=["nbval-check-output"]
print(layers.get_pods_printed(cluster, node="node-eu-west-1a", columns="lesson"))

# %% [markdown]
# The IPAM hands out the next free address after the last one it gave, and it does not
# go back to the bottom of the range until it wraps round.

# %% tags=["predict"]
deleted = churn.churn(cluster, "production/checkout-api-svc", ["pod deleted"], seed=31)
predict(predictions.build("02-next-pod-ip", cluster),
        reveal=partial(tables.table, layers.replacements_table(deleted, pod="checkout-api-6f8b9d-2xkpj")))

# %% [markdown]
# ## ⚠️ Pod IPs are ephemeral: never hardcode them
#
# > Every time a Pod is deleted and recreated [...] it gets a new IP from the Pod network
# > range. [...] Always communicate with Services, never with Pod IPs directly.
#
# One precision: a crash restarts the *container* inside the same pod, which keeps its
# IP. A new IP comes with a new *pod*: deleted, evicted, drained, or rolled out.

# %% tags=["predict"]
history = churn.churn(cluster, "production/checkout-api-svc",
                      ["container restart", "pod deleted", "rolling update"], seed=31)
predict(predictions.build("02-clusterip-stays", cluster),
        reveal=partial(tables.table, layers.churn_table(history)))

# %% tags=["check"] jupyter={"source_hidden": true}
original_ip = cluster.service("production/checkout-api-svc").cluster_ip
assert all(c.service("production/checkout-api-svc").cluster_ip == original_ip for c in history.clusters)
assert all(r.ip_changed == (r.event is not churn.ChurnEvent.CONTAINER_RESTART) for r in history.replacements)

# %% [markdown]
# A client that saved `10.244.2.14` now talks to nobody, or one day to a stranger that
# gets the address. A client of `checkout-api-svc` never noticed.
#
# ## Size a cluster
#
# Two flags of kube-controller-manager decide how many nodes fit and how many addresses
# each gets: `--cluster-cidr` and `--node-cidr-mask-size`. kubelet's `--max-pods` caps
# the pods per node.

# %% tags=["predict"]
small = ipam.plan(cluster_cidr=cluster.cluster_cidr, node_cidr_mask_size=26, service_cidr=cluster.service_cidr)
predict(predictions.build("02-pods-per-node", cluster, mask=26), reveal=partial(layers.sizing_summary, small))

# %% [markdown]
# The ranges must not overlap. What if the pod network is carved from the service range?

# %% tags=["predict"]
inside = ipam.plan(cluster_cidr="10.96.0.0/16", service_cidr=cluster.service_cidr)
predict(predictions.build("02-overlap-nodes", cluster, cluster_cidr="10.96.0.0/16"),
        reveal=partial(layers.sizing_summary, inside))

# %% tags=["check"] jupyter={"source_hidden": true}
assert small.pods_per_node == min(small.max_pods, small.pod_addresses_per_node) < small.max_pods
assert inside.nodes == 0 and not inside.ok

# %% [markdown]
# **Try it:** change the flags; the strip shows the pod network, lowest address on the
# left, with the lesson's three node CIDRs marked. Try a mask of 26, a cluster CIDR of
# `10.96.0.0/16`, a node network of `10.0.0.0/8` (a common VPC that swallows both), or
# something that is not a CIDR at all.

# %%
layers.sizing_explorer(cluster_cidr=str(cluster.cluster_cidr), node_cidr_mask_size=cluster.node_cidr_mask_size,
                       service_cidr=str(cluster.service_cidr), node_network=str(cluster.node_network),
                       used=[node.pod_cidr for node in cluster.nodes])

# %% [markdown] jp-MarkdownHeadingCollapsed=true
# ## Going further: how the allocators hand out addresses
#
# kube-controller-manager's range allocator remembers where it stopped. On a fresh
# cluster, three nodes join; `node-2` leaves and `node-4` joins. `node-4` does not get the
# freed block back: the allocator goes on, and reuses the gap only after it wraps round.

# %% tags=["nbval-check-output"]
cidrs = ipam.CIDRSet(cluster.cluster_cidr, cluster.node_cidr_mask_size)
blocks = {name: cidrs.allocate_next() for name in ("node-1", "node-2", "node-3")}
cidrs.release(blocks.pop("node-2"))
blocks["node-4"] = cidrs.allocate_next()
print({name: str(block) for name, block in blocks.items()})

# %% [markdown]
# ClusterIPs come from `--service-cluster-ip-range`. `kubernetes.default` takes the first
# address and kubeadm gives kube-dns the tenth. The allocator keeps a lower band (for a
# /12, the first 256 addresses) for IPs you ask for, and picks dynamic ones at random from
# the band above, so a requested IP rarely collides with a dynamic one.

# %% tags=["nbval-check-output"]
service_ips = ipam.ServiceIPRange(cluster.service_cidr, seed=31)
service_ips.allocate(ipam.kubernetes_service_ip(cluster.service_cidr), "default/kubernetes")
service_ips.allocate(ipam.dns_service_ip(cluster.service_cidr), "kube-system/kube-dns")
service_ips.allocate("10.96.214.88", "production/checkout-api-svc")  # the lesson's, as if requested
for name in ("production/payment-api-svc", "production/auth-service-svc"):
    service_ips.allocate_next(name)
tables.table(layers.service_ip_table(service_ips))

# %% [markdown]
# Every address of the lesson's cluster, in its network:

# %%
tables.table(layers.network_members(cluster))

# %% [markdown]
# ## Recap
#
# - **Node network** (the machines), **pod network** (one IP per pod, from its node's
#   podCIDR), **service network** (ClusterIPs, held by no interface): three disjoint ranges.
# - kube-controller-manager hands out podCIDRs, each node's IPAM hands out Pod IPs, and
#   kube-apiserver hands out ClusterIPs.
# - A new pod gets a new IP, the next one on its node; a container restart does not. The
#   ClusterIP stays: talk to Services.
# - The flags decide capacity; a pod range inside the service range leaves no node a
#   block.
#
# Next: **03 · What the <abbr title="Container Network Interface: the plugin a node runs when a Pod starts, to give it an IP, an interface and routes">CNI</abbr> plugin does**: the steps that give a new pod its address, its
# `eth0` and its routes.

# %% tags=["graded"]
from k8snet_lesson.view.quiz import graded_check
graded_check("02")
