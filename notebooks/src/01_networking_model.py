# %% [markdown]
# # 01 · The Kubernetes networking model
#
# **What you will be able to do:**
#
# - state the four rules every CNI plugin must implement, in the lesson's words;
# - check each rule on a cluster and read the evidence: which pod holds which IP, which
#   address a client dials, which source address a server sees;
# - break the model on purpose (a network that NATs between nodes, the way plain Docker
#   hosts do) and say which rules fail and what an application would notice;
# - explain why the flat network makes debugging simpler.
#
# The checks are `k8snet_lesson.networking_model`: they connect every pod to every other
# pod over a modelled dataplane and record what each side sees.

# %%
import pandas as pd

from k8snet_lesson import networking_model, scenarios
from k8snet_lesson.view import layers

pd.set_option("display.max_colwidth", 160)  # show whole sentences in tables

cluster = scenarios.lesson_cluster()

# %% [markdown]
# ## The four rules
#
# > **Rule 1.** Every Pod gets its own unique IP address. No two Pods share an IP — even
# > across different nodes.
# >
# > **Rule 2.** Pods on the same node can communicate with each other directly using
# > their Pod IPs — no NAT.
# >
# > **Rule 3.** Pods on different nodes can communicate with each other using their Pod
# > IPs — no NAT required. The underlying network must make this possible.
# >
# > **Rule 4.** The IP a Pod sees for itself (its own IP) is the same IP other Pods use
# > to reach it. There is no hidden translation layer between peers.
#
# Checked on the lesson's cluster (three nodes, six pods: the four of the lesson in
# `production` and two CoreDNS pods in `kube-system`) over a flat pod network:

# %%
# NBVAL_CHECK_OUTPUT
flat_checks = networking_model.check_all(cluster)
layers.rules_table(flat_checks)

# %%
assert [check.holds for check in flat_checks] == [True, True, True, True]

# %% [markdown]
# ### The evidence, rule by rule
#
# **Rule 1**: one row per pod; no address appears twice.

# %%
# NBVAL_CHECK_OUTPUT
layers.evidence_table(flat_checks[0])

# %% [markdown]
# **Rule 2**: every ordered pair of pods on the same node. `dialled` is the address the
# client connects to, `source_seen` the address the server's socket reports. Both are
# the pods' own IPs: nothing rewrote them.

# %%
# NBVAL_CHECK_OUTPUT
layers.evidence_table(flat_checks[1])

# %% [markdown]
# **Rule 3**: every ordered pair of pods on different nodes. The same picture, across
# nodes: the underlying network (here Calico's routes; with Flannel a VXLAN tunnel)
# carries pod IPs unchanged.

# %%
# NBVAL_CHECK_OUTPUT
layers.evidence_table(flat_checks[2])

# %% [markdown]
# **Rule 4**: for each pod, the IP on its own `eth0`, the IPs peers dial to reach it
# and the IPs peers see when it connects to them. All three are the same address.

# %%
# NBVAL_CHECK_OUTPUT
layers.evidence_table(flat_checks[3])

# %% [markdown]
# ## One connection, as both applications see it
#
# `checkout-api` on `node-eu-west-1a` calls the other `checkout-api` pod on
# `node-eu-west-1b` directly by Pod IP (the lesson's `curl http://<pod IP>:3000/health`).
# The server's access log records the client's real Pod IP.

# %%
# NBVAL_CHECK_OUTPUT
client, server = "production/checkout-api-6f8b9d-2xkpj", "production/checkout-api-6f8b9d-7rvqn"
flat = networking_model.what_the_app_sees(cluster, networking_model.FLAT, client, server)
print(layers.connection_table(flat).to_string())
print()
print("server's access log:", layers.access_log_line(flat))

# %%
assert flat.direct and flat.source_seen == cluster.pod(client).pod_ip

# %% [markdown]
# ## Break it: a network with NAT between nodes
#
# What would a cluster look like without the model? Plain Docker hosts are the classic
# example: every node has its own private bridge `docker0` with `172.17.0.0/16`, hands
# out `172.17.0.2`, `.3`, ... again on every node, reaches a container on another host
# only through that host's IP and a published port (`DNAT`), and hides its own
# containers behind its IP (`MASQUERADE`). Run the same four checks on the same pods
# placed that way:

# %%
# NBVAL_CHECK_OUTPUT
natted_cluster, natted_network = networking_model.natted(cluster)
nat_checks = networking_model.check_all(natted_cluster, natted_network)
layers.rules_table(nat_checks)

# %%
assert [check.holds for check in nat_checks] == [False, True, False, False]

# %% [markdown]
# Rule 1 fails: every node reuses the same range, so three pods are `172.17.0.2`.

# %%
# NBVAL_CHECK_OUTPUT
layers.evidence_table(nat_checks[0])

# %% [markdown]
# Rule 3 fails: to reach a pod on another node, a client must dial that *node's* IP and a
# published port, and the server sees the *client's node* as the source. Rule 2 still
# holds: on one bridge, containers talk directly. Rule 4 fails as a consequence: peers
# know each pod by an address that is not on its `eth0`.

# %%
# NBVAL_CHECK_OUTPUT
layers.evidence_table(nat_checks[2])

# %%
# NBVAL_CHECK_OUTPUT
layers.evidence_table(nat_checks[3])

# %% [markdown]
# The same connection as before, on the NAT'd network, with the two rules that rewrote
# it, as `iptables-save -t nat` prints them on each node:

# %%
# NBVAL_CHECK_OUTPUT
nat = networking_model.what_the_app_sees(natted_cluster, natted_network, client, server)
print(layers.connection_table(nat).to_string())
print()
print("server's access log:", layers.access_log_line(nat))
print()
print(layers.rewrite_rules(nat))

# %%
client_node_ip = cluster.node_of(cluster.pod(client)).internal_ip
assert nat.source_seen == client_node_ip and len(nat.translations) == 2
assert nat.dialled == cluster.node_of(cluster.pod(server)).internal_ip

# %% [markdown]
# The server's log now says the request came from `192.168.1.10`, a *node*. Every pod on
# that node looks the same to the server; an allow-list by client IP, a rate limit per
# client or a trace of "who called me" is lost. And the client had to know a node IP and
# a port number that Docker picked, instead of the server's own address.
#
# ## Try it
#
# Pick a client, a server and a network. Things to look for: two pods on the same node
# (rule 2 holds even on the NAT'd network); a pod calling CoreDNS in `kube-system`;
# the source address in the log line on each network.

# %%
explorer = layers.connection_explorer(cluster, client=client, server=server)
explorer

# %% [markdown]
# ## Teacher's Note: why the flat network model matters so much
#
# > Traditional VM networking has NAT everywhere — NAT at the cloud VPC border, NAT
# > between subnets, port forwarding to expose services. Debugging is nightmarish because
# > every hop potentially changes the IP and port. Kubernetes's flat Pod network
# > eliminates all of that. Every Pod sees every other Pod's real IP. Wireshark on a node
# > captures traffic as-is. Application logs show real source IPs.
#
# The model shows both halves. On the flat network, all pod-to-pod connections carry
# the real addresses end to end, so a capture anywhere on the path shows the two pods'
# own IPs and the server's log names the real client. On the NAT'd network, no
# cross-node connection does:

# %%
# NBVAL_CHECK_OUTPUT
for name, checks in (("flat", flat_checks), ("NAT'd", nat_checks)):
    connections = checks[1].evidence + checks[2].evidence  # every ordered pair of pods
    direct = sum(c.direct for c in connections)
    print(f"{name:6} network: {direct} of {len(connections)} connections carry both real pod IPs end to end")

# %% [markdown]
# > The one complexity that remains is at the Service layer — kube-proxy does do DNAT for
# > Service traffic.
#
# That DNAT rewrites only the *destination* (ClusterIP to a Pod IP), so the server still
# logs the client's real Pod IP. Notebook 04 walks such a packet hop by hop and notebook
# 05 reads the rules that do it.
#
# ## Recap
#
# - Four rules: a unique IP per pod; pods talk by Pod IP, without NAT, on one node and
#   across nodes; a pod's own IP is the IP everyone uses for it.
# - Together they make a flat network: what a pod dials is what it reaches, and what a
#   server sees is who called.
# - A network that NATs between nodes breaks rules 1, 3 and 4: reused addresses, node IPs
#   and host ports to dial, node IPs in the logs.
#
# Next: **02 · The three network layers**: where node, pod and Service addresses come
# from, and why Pod IPs change while ClusterIPs do not.
