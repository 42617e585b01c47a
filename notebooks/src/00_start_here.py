# %% [markdown]
# # 00 · Start here
#
# This course follows lesson 31, *Kubernetes Networking Deep Dive*, and goes past it:
# every rule, address, chain name and `kubectl` column you see is computed by a small,
# exact model of Kubernetes networking (`k8snet_lesson`), and you can change the inputs
# and watch the network answer.
#
# **What you will be able to do after this notebook:**
#
# - run the course notebooks and use their widgets;
# - tell what is computed from what is only shown;
# - find your way through the series;
# - read the lesson's cluster as `kubectl get pods -o wide` shows it, and name its
#   three networks.
#
# ## How to use the course
#
# - **Run the cells from top to bottom**: *Run → Run All Cells*, or `Shift+Enter` cell by
#   cell. Later cells use values built by earlier ones.
# - **Widgets** (drop-downs, buttons, text boxes, sliders) recompute as you change them.
#   Input that makes no sense (a CIDR like `10.0.0.0/33`) shows a red message in the
#   widget instead of failing.
# - **"Try it"** paragraphs suggest a value to change in the cell above; change it, run the
#   cell again, and compare.
# - **Computed, not typed in:** tables, command outputs and rules come from the model,
#   run on the lesson's cluster (the manifests in `data/lesson-cluster.yaml`). Cells that
#   start with `# NBVAL_CHECK_OUTPUT` are compared with the saved output by the test
#   suite, and cells of `assert`s state what the notebook teaches; if the model changed,
#   they would fail.
# - **No cluster needed.** Everything runs from the model. On Linux with root, notebook 08
#   builds the same cluster out of network namespaces for real.

# %%
import pandas as pd

from k8snet_lesson import __version__, scenarios
from k8snet_lesson.view import kubectl, layers

pd.set_option("display.max_colwidth", 160)  # show whole sentences in tables

# %% [markdown]
# ## The map of the series

# %%
# NBVAL_CHECK_OUTPUT
layers.course_map()

# %% [markdown]
# ## Check your environment
#
# Versions differ from machine to machine, so this table is not compared by the tests.
# The `widgets` row moves a slider inside the kernel and checks that its callback ran;
# if the widgets further down stay blank, your front end lacks the ipywidgets extension.
# The `kernel lab` row says whether notebook 08 can build real namespaces here.

# %%
environment = layers.environment_check()
environment

# %%
assert environment.loc["k8snet_lesson", "result"] == __version__
assert environment.loc["widgets", "result"].startswith("yes")

# %% [markdown]
# ## The lesson's cluster
#
# Three nodes, one per availability zone of `eu-west-1`, running the lesson's four pods in
# the `production` namespace (and CoreDNS in `kube-system`). The lesson prints:
#
# ```
# $ kubectl get pods -o wide -n production
# NAME                             READY   STATUS    NODE              IP
# checkout-api-6f8b9d-2xkpj        1/1     Running   node-eu-west-1a   10.244.2.14
# ...
# ```
#
# The model prints the same rows with the lesson's columns:

# %%
cluster = scenarios.lesson_cluster()

# %%
# NBVAL_CHECK_OUTPUT
print("$ kubectl get pods -o wide -n production   # the lesson's abridged columns")
print(kubectl.get_pods_wide(cluster, "production", columns="lesson"))

# %% [markdown]
# A real `kubectl get pods -o wide` prints more: `RESTARTS` and `AGE`, then `IP` *before*
# `NODE`, then `NOMINATED NODE` and `READINESS GATES`. And it lists pods in name order,
# as the API server returns them, so `auth-service` comes first. The lesson trimmed and
# reordered the columns; this is the full output:

# %%
# NBVAL_CHECK_OUTPUT
print("$ kubectl get pods -o wide -n production")
print(kubectl.get_pods_wide(cluster, "production"))

# %%
lesson_listing = {  # NAME: (NODE, IP), as the lesson prints them
    "checkout-api-6f8b9d-2xkpj": ("node-eu-west-1a", "10.244.2.14"),
    "checkout-api-6f8b9d-7rvqn": ("node-eu-west-1b", "10.244.3.7"),
    "payment-api-7d9c4b-xr7nq": ("node-eu-west-1a", "10.244.2.15"),
    "checkout-api-6f8b9d-m5t9w": ("node-eu-west-1c", "10.244.4.2"),  # the lesson prints auth-service here
}
for name, (node, ip) in lesson_listing.items():
    pod = cluster.pod(name, "production")
    assert (pod.node_name, str(pod.pod_ip)) == (node, ip)

# %% [markdown]
# **Try it:** choose another namespace, a single node (`--field-selector
# spec.nodeName=...`, the way to see which pods share a node), or the lesson's columns.
# `checkout-api` and `payment-api` share `node-eu-west-1a`: notebook 04 shows why their
# traffic never leaves the node.

# %%
pods = layers.pods_view(cluster, namespace="production")
pods

# %% [markdown]
# ## The three networks of this cluster
#
# Every address above belongs to one of three networks, each with its own range and its
# own manager (notebook 02 takes them apart):

# %%
# NBVAL_CHECK_OUTPUT
layers.network_layers(cluster)

# %% [markdown]
# The nodes' own addresses are in the node network, the pods' in the pod network (each
# inside its node's podCIDR), the Services' ClusterIPs in the service network:

# %%
# NBVAL_CHECK_OUTPUT
members = layers.network_members(cluster)
members

# %%
assert members["inside the CIDR"].all()
assert set(members["network"]) == {"node network", "pod network", "service network"}

# %% [markdown]
# ## Recap
#
# - Run top to bottom; widgets recompute; "Try it" invites a change.
# - Tables and outputs are computed by the model from the lesson's manifests; checked
#   cells and `assert`s keep them honest.
# - The lesson's cluster: three nodes (`192.168.1.10`, `192.168.2.10`, `192.168.3.10`),
#   pods from `10.244.0.0/16`, Services from `10.96.0.0/12`. A real `kubectl get pods -o
#   wide` shows more columns than the lesson, in a different order.
#
# Next: **01 · The networking model**: the four rules every CNI plugin must keep, checked
# on this cluster, and broken on purpose.
