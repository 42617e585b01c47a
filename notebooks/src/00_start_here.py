# %% [markdown]
# # 00 · Start here
#
# This course works through lesson 31, *Kubernetes Networking Deep Dive*, on one cluster
# you can change. Every address, rule and `kubectl` output you see is computed by a small,
# exact model of Kubernetes networking.
#
# **What you will be able to do:**
#
# - run the notebooks and answer their prediction boxes;
# - find your way through the series;
# - read the lesson's cluster as `kubectl get pods -o wide` prints it;
# - say where the lesson's numbers disagree, and which ones the course uses.
#
# ## How to use the course
#
# - **Run the cells from top to bottom:** *Run → Run All Cells*. Later cells use what
#   earlier ones built.
# - **Predict:** before the course shows a result, a box asks you to commit to an answer.
#   Press *Lock in*, then read why the answer is right and why the tempting one is wrong.
#   Your predictions are kept on this machine, also after a restart.
# - **Try it:** widgets recompute as you change them. Input that makes no sense gets a
#   message, never a crash.
# - **Going further** sections are folded: skip them the first time.
# - **No cluster needed.** On Linux with root, notebook 08 builds the same cluster for real.

# %%
import pandas as pd

from k8snet_lesson import __version__, scenarios
from k8snet_lesson.view import layers, tables

pd.set_option("display.max_colwidth", 160)  # whole sentences in tables

# %% [markdown]
# ## The map of the series

# %% tags=["nbval-check-output"]
tables.table(layers.course_map())

# %% [markdown]
# ## The one cluster
#
# Every notebook uses the same cluster, wired by Calico in
# <abbr title="an overlay that wraps each Pod&#x27;s Ethernet frame in a UDP packet between nodes (Flannel: UDP 8472; Calico: UDP 4789), adding 50 bytes">VXLAN</abbr> mode. Each network is a <dfn>CIDR</dfn>, a block of IP addresses written as
# address/prefix length: `10.244.0.0/16` holds the 65,536 addresses that share the first
# 16 bits. Three nodes live in `192.168.0.0/16`: `node-eu-west-1a` at `192.168.1.10`,
# `-1b` at `192.168.2.10`, `-1c` at `192.168.3.10`. Pods live in `10.244.0.0/16`, Services in
# `10.96.0.0/12`. `checkout-api-svc` is the <abbr title="the virtual IP of a Service, from the service network; no interface holds it, only kube-proxy&#x27;s rules recognise it">ClusterIP</abbr> `10.96.214.88` in front of
# three `checkout-api` replicas.

# %%
cluster = scenarios.lesson_cluster()

# %% tags=["nbval-check-output"]
print(layers.get_pods_printed(cluster, "production"))

# %% tags=["check"] jupyter={"source_hidden": true}
lesson_listing = {  # NAME: (NODE, IP), as the lesson prints them
    "checkout-api-6f8b9d-2xkpj": ("node-eu-west-1a", "10.244.2.14"),
    "checkout-api-6f8b9d-7rvqn": ("node-eu-west-1b", "10.244.3.7"),
    "payment-api-7d9c4b-xr7nq": ("node-eu-west-1a", "10.244.2.15"),
    "checkout-api-6f8b9d-m5t9w": ("node-eu-west-1c", "10.244.4.2"),  # the lesson prints auth-service here
}
for name, (node, ip) in lesson_listing.items():
    pod = cluster.pod(name, "production")
    assert (pod.node_name, str(pod.pod_ip)) == (node, ip)
# the node addresses the text above names
assert {node.name: str(node.internal_ip) for node in cluster.nodes} == {
    "node-eu-west-1a": "192.168.1.10", "node-eu-west-1b": "192.168.2.10", "node-eu-west-1c": "192.168.3.10"}

# %% [markdown]
# **Try it:** choose another namespace, one node (the way to see which pods share a node),
# or kubectl's real columns.

# %%
layers.pods_view(cluster, namespace="production", columns="lesson")

# %% [markdown]
# ## Where the lesson's numbers disagree
#
# The lesson prints `10.244.4.2` for two different things, and a few of its outputs are
# not what a real cluster prints. Here is each place, once, with how the course resolves
# it. The notebook in the last column shows the resolution.

# %%
layers.discrepancies_table()

# %% tags=["check"] jupyter={"source_hidden": true}
from k8snet_lesson.discrepancies import discrepancies

assert len(discrepancies()) >= 15
assert str(cluster.pod("auth-service-5c7d8f-p2rkx", "production").pod_ip) == "10.244.4.4"

# %% [markdown]
# ## Check your environment
#
# If the widgets above stay blank, the `widgets` row says whether the kernel side works;
# the `kernel lab` row says whether notebook 08 can build real namespaces here.

# %%
environment = layers.environment_check()
tables.table(environment)

# %% tags=["check"] jupyter={"source_hidden": true}
assert environment.loc["k8snet_lesson", "result"] == __version__
assert environment.loc["widgets", "result"].startswith("yes")

# %% [markdown]
# ## Recap
#
# - Run top to bottom; commit to each prediction before you read on.
# - One cluster all the way: nodes in `192.168.0.0/16`, pods in `10.244.0.0/16`,
#   Services in `10.96.0.0/12`, Calico VXLAN, `checkout-api-svc` at `10.96.214.88`.
# - Where the lesson disagrees with itself or with real clusters, the table above says
#   what the course shows instead.
#
# Next: **01 · The networking model**, the rules every network plugin must keep,
# checked on this cluster and broken on purpose.

# %% tags=["graded"]
from k8snet_lesson.view.quiz import graded_check
graded_check("00")
