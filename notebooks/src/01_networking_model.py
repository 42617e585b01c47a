# %% [markdown]
# # 01 · The networking model
#
# **What you will be able to do:**
#
# - state the lesson's four rules, and the two it leaves out;
# - check them on the lesson's cluster and read who reaches whom;
# - break the model with a network that translates addresses, and predict what an
#   application then sees;
# - tell a DNS query from an HTTP request in what a server records.

# %%
from functools import partial

import pandas as pd

from k8snet_lesson import faults, networking_model, predictions, scenarios
from k8snet_lesson.view import layers, plots, tables
from k8snet_lesson.view.gates import predict

pd.set_option("display.max_colwidth", 160)  # whole sentences in tables

cluster = scenarios.lesson_cluster()  # the lesson's cluster: three nodes, Calico VXLAN

# %% [markdown]
# ## The four rules
#
# The lesson states four rules that every <abbr title="Container Network Interface: the plugin a node runs when a Pod starts, to give it an IP, an interface and routes">CNI</abbr> plugin must keep. The model checks each
# one on the lesson's cluster, by connecting every pod to every other pod and recording
# the address each side dials and sees:

# %% tags=["nbval-check-output"]
flat_checks = networking_model.check_all(cluster)
tables.table(layers.rules_table(flat_checks))

# %% tags=["check"] jupyter={"source_hidden": true}
assert [check.holds for check in flat_checks] == [True, True, True, True]

# %% [markdown]
# Together the rules make a *flat* network: a pod dials a peer at the peer's own IP, and
# the peer sees the caller's own IP. There is no <dfn>NAT</dfn> between pods (network
# address translation: rewriting a packet's source or destination address on its way
# through a machine).
#
# ## Who reaches whom
#
# The upstream model has two more rules. The agents on a node, such as the kubelet, reach
# every pod on that node. And the containers of one pod share one
# <dfn>network namespace</dfn> (a private copy of the Linux network stack: interfaces,
# routes, iptables rules; every Pod gets one), so they reach each other at `127.0.0.1`.
# One picture shows all six rules at work: a row per source, a column per pod's app.

# %%
plots.show(layers.reach_figure({"the lesson's cluster (Calico VXLAN): a flat pod network":
                                networking_model.who_reaches_whom(cluster)}))

# %% tags=["check"] jupyter={"source_hidden": true}
assert all(r.reach is networking_model.Reach.DIRECT  # every node's agents reach every pod, as the text says
           for r in networking_model.who_reaches_whom(cluster) if r.source.startswith("node/"))

# %% [markdown]
# Green everywhere, blue on the diagonal. The rule asks only that a node's agents reach
# the pods on their node; on this flat network they reach every pod. The lesson's
# debugging story turns on the loopback rule:

# %% tags=["predict"]
broken = faults.fault("bound-to-localhost")(cluster, service="production/checkout-api-svc",
                                            client="production/checkout-api-6f8b9d-2xkpj",
                                            pod="checkout-api-6f8b9d-2xkpj")
predict(predictions.build("01-loopback", cluster),
        reveal=partial(plots.show, layers.reach_figure(
            {"checkout-api-6f8b9d-2xkpj's app on 127.0.0.1 (the lesson's cluster)":
             networking_model.who_reaches_whom(broken)})))

# %% [markdown]
# ## Break it: a network that translates addresses
#
# Plain Docker hosts are the classic network without these rules. Each node has its own
# private bridge, `172.17.0.0/16`, and hands out the same addresses again. A container on
# another node is reached only through that node's IP and a published port, and traffic
# leaving a node takes the node's IP as its source.

# %% tags=["predict"]
natted_cluster, natted_network = networking_model.natted(cluster)
nat_checks = networking_model.check_all(natted_cluster, natted_network)
predict(predictions.build("01-nat-rules", cluster),
        reveal=partial(tables.table, layers.rules_table(nat_checks)))

# %% [markdown]
# What does an application notice? A `checkout-api` pod on `node-eu-west-1c`
# (`192.168.3.10`) calls the one on `node-eu-west-1b` (`192.168.2.10`).

# %% tags=["predict"]
client, server = "production/checkout-api-6f8b9d-m5t9w", "production/checkout-api-6f8b9d-7rvqn"
nat = networking_model.what_the_app_sees(natted_cluster, natted_network, client, server)
predict(predictions.build("01-nat-source", cluster, client=client, server=server),
        reveal=partial(layers.connection_report, nat, natted_cluster))

# %% tags=["check"] jupyter={"source_hidden": true}
assert [check.holds for check in nat_checks] == [False, True, False, False]
assert nat.source_seen == natted_cluster.node_of(natted_cluster.pod(client)).internal_ip
assert not nat.direct and len(nat.translations) == 2

# %% [markdown]
# Every pod on that node now looks the same to the server: an allow-list by client IP, a
# rate limit per client, a trace of who called, all lost. Both networks side by side:

# %%
plots.show(layers.reach_figure({"the lesson's cluster, flat (Calico VXLAN)": networking_model.who_reaches_whom(cluster),
                                "the same pods NAT'd per node (plain Docker hosts)":
                                networking_model.who_reaches_whom(natted_cluster, natted_network)}))

# %% [markdown]
# ## Try it: any two pods
#
# Pick a client, a server and a network of the lesson's cluster. Pick a <abbr title="the cluster&#x27;s DNS server, behind the kube-dns Service at the service network&#x27;s tenth address">CoreDNS</abbr> pod as the server: it receives a
# DNS query on port 53/UDP, not an HTTP request, and records it as one.

# %%
layers.connection_explorer(cluster, client=client, server="kube-system/coredns-5d78c9869d-4k7mz")

# %% tags=["check"] jupyter={"source_hidden": true}
to_dns = networking_model.what_the_app_sees(cluster, networking_model.FLAT, client, "kube-system/coredns-5d78c9869d-4k7mz")
assert layers.server_log(to_dns, cluster).startswith(f"DNS query from {cluster.pod(client).pod_ip}")
assert "HTTP" not in layers.server_log(to_dns, cluster)

# %% [markdown] jp-MarkdownHeadingCollapsed=true
# ## Going further: the evidence, connection by connection
#
# Rule 3 on the flat network: every ordered pair of pods on different nodes, the address
# dialled and the source the server saw. Then rule 1 on the NAT'd network: who holds
# which address.

# %%
tables.table(layers.evidence_table(flat_checks[2]))

# %%
tables.table(layers.evidence_table(nat_checks[0]))

# %% [markdown]
# The lesson's Teacher's Note says why this matters: with NAT everywhere, every hop may
# change the IP and port, and debugging is nightmarish. Counted over every pair of pods:

# %% tags=["nbval-check-output"]
for name, checks in (("flat", flat_checks), ("NAT'd", nat_checks)):
    connections = checks[1].evidence + checks[2].evidence  # every ordered pair of pods
    direct = sum(c.direct for c in connections)
    print(f"{name:6} network: {direct} of {len(connections)} connections carry both real pod IPs end to end")

# %% [markdown]
# The one translation that remains is at the Service layer: <abbr title="the DaemonSet that watches Services and EndpointSlices and writes the kernel rules that turn a ClusterIP into Pod IPs; it is not in the data path">kube-proxy</abbr> rewrites the
# *destination* of Service traffic, a <abbr title="the virtual IP of a Service, from the service network; no interface holds it, only kube-proxy&#x27;s rules recognise it">ClusterIP</abbr>, to a Pod IP. The server still sees the
# client's real Pod IP. Notebook 05 reads those rules.

# %% [markdown]
# ## Recap
#
# - Four rules: a unique IP per pod; pods talk by Pod IP without NAT, on one node and
#   across nodes; the IP a pod sees for itself is the one others use.
# - Two more: a node's agents reach its pods; a pod's containers share `127.0.0.1`, so an
#   app bound there is reachable only from inside its pod.
# - A network that NATs between nodes breaks rules 1, 3 and 4: servers log a node's IP.
# - A query to CoreDNS on 53/UDP is DNS, not HTTP.
#
# Next: **02 · The three network layers**: where node, pod and Service addresses come
# from, and why Pod IPs change while ClusterIPs do not.

# %% tags=["graded"]
from k8snet_lesson.view.quiz import graded_check
graded_check("01")
