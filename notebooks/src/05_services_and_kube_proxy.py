# %% [markdown]
# # 05 · Services and <abbr title="the DaemonSet that watches Services and EndpointSlices and writes the kernel rules that turn a ClusterIP into Pod IPs; it is not in the data path">kube-proxy</abbr>
#
# **What you will be able to do:**
#
# - say which Pods a Service sends traffic to, and what a failing readiness check changes;
# - read the rules kube-proxy writes on a node, as `iptables -L` prints them;
# - explain with numbers why the probabilities 1/3, 1/2, 1 give each Pod a third, and why
#   1/n on every rule would not;
# - say which source IP a server Pod sees, and when it is rewritten.
#
# Everything below runs on the lesson's cluster (Calico <abbr title="an overlay that wraps each Pod&#x27;s Ethernet frame in a UDP packet between nodes (Flannel: UDP 8472; Calico: UDP 4789), adding 50 bytes">VXLAN</abbr>): `checkout-api-svc` at
# 10.96.214.88 in front of three `checkout-api` Pods, computed by `k8snet_lesson`.

# %%
import pandas as pd

from k8snet_lesson import client_ip, distribution, explain, faults, iptables, kube_proxy, predictions, scenarios, simulate
from k8snet_lesson.view import iptables_list, plots, proxy_modes, services, tables
from k8snet_lesson.view.gates import predict
from k8snet_lesson.view.kubectl_run import run
from k8snet_lesson.view.widgets import spread_explorer

cluster = scenarios.lesson_cluster()  # Calico VXLAN, data/lesson-cluster.yaml
service = cluster.service("checkout-api-svc", "production")
node = "node-eu-west-1a"
rules = kube_proxy.rules_for(cluster, node, include_builtin=True)  # the node's whole nat and filter tables

# %% [markdown]
# ## What kube-proxy is
#
# A <abbr title="the virtual IP of a Service, from the service network; no interface holds it, only kube-proxy&#x27;s rules recognise it">ClusterIP</abbr> is held by no network interface. kube-proxy is a <dfn>DaemonSet</dfn>,
# one Pod on every node, that watches Services and their <dfn>EndpointSlices</dfn> and
# writes kernel rules that turn the ClusterIP into Pod IPs. It is not in the data path:
# no packet passes through its process.
#
# The <dfn>EndpointSlice controller</dfn> in kube-controller-manager writes those slices:
# one entry per Pod the Service's selector matches, with its IP, port and readiness. The
# older <dfn>Endpoints</dfn> object says the same in one list; kube-proxy no longer reads
# it, and since v1.33 kubectl prints a warning when you do.

# %% tags=["nbval-check-output"]
print(run(cluster, "get endpointslices -n production -l kubernetes.io/service-name=checkout-api-svc"))
print()
print(run(cluster, "get endpoints checkout-api-svc -n production"))

# %% [markdown]
# ## The rules kube-proxy writes
#
# - <dfn>DNAT</dfn> rewrites a packet's destination: ClusterIP:port becomes Pod IP:port.
# - <dfn>SNAT</dfn> rewrites its source, so the reply comes back through the machine that
#   rewrote it. <dfn>MASQUERADE</dfn> is the SNAT that uses the outgoing interface's own
#   address.
# - <dfn>conntrack</dfn>, the kernel's table of live connections, remembers each
#   connection's rewrites and applies them to every later packet and to the replies.
#   Only the first packet of a connection walks the rules.
#
# In the nat table, PREROUTING (packets arriving, from Pods or outside) and OUTPUT (from
# the node itself) jump to <dfn>KUBE-SERVICES</dfn>, kube-proxy's entry chain, with one
# rule per ClusterIP:port.
# The lesson's command, on node-eu-west-1a:

# %% tags=["nbval-check-output"]
print("\n\n".join(iptables_list.run(rules, command) for command in (
    "iptables -t nat -L PREROUTING -n", "iptables -t nat -L OUTPUT -n",
    "iptables -t nat -L KUBE-SERVICES -n | grep checkout")))

# %% [markdown]
# The matching rule jumps to the Service's <dfn>KUBE-SVC</dfn> chain: one rule per endpoint,
# after a <dfn>KUBE-MARK-MASQ</dfn> rule that marks sources outside the Pod <abbr title="a block of IP addresses written as address/prefix length: 10.244.0.0/16 holds the 65,536 addresses that share the first 16 bits">CIDR</abbr> for
# MASQUERADE (more below). Each endpoint's rule jumps to its
# <dfn>KUBE-SEP</dfn> chain, which DNATs to the Pod. The first rule that matches wins.

# %% tags=["predict"]
predict(predictions.build("05-rule-two-share", cluster), reveal=services.chain_reveal(cluster, service, node))

# %% [markdown]
# ### Why 1/(n-i) is fair
#
# Number the rules from i = 0 (rule 2 above is i = 1). Rule i only sees what the i rules above it let through:
# (n-i)/n of all connections. Taking 1/(n-i) of that is exactly 1/n, for every rule; the
# last rule (i = n-1) takes all that reaches it. The obvious alternative, 1/n on every
# rule, is not fair:

# %% tags=["predict"]
predict(predictions.build("05-naive-chain", cluster, endpoints_count=5), reveal=services.naive_reveal(5))

# %% [markdown]
# ## Readiness decides who gets traffic
#
# A <dfn>readiness probe</dfn> is kubelet's periodic check that a container can take
# traffic. A Pod that fails it is not ready: the Endpoints object moves its address to
# <dfn>notReadyAddresses</dfn>.

# %% tags=["predict"]
predict(predictions.build("05-unready-leaves", cluster, pod="checkout-api-6f8b9d-7rvqn"),
        reveal=services.unready_reveal(cluster, service, "checkout-api-6f8b9d-7rvqn", node))

# %% [markdown]
# **Try it.** Untick a Pod and watch its address and its rule go; untick all three and
# the chain gives way to a REJECT rule: connections are refused at once.

# %% tags=["nbval-ignore-output"]
services.readiness_explorer(cluster, service, node_name=node)

# %% [markdown]
# ## Simulate many connections
#
# The kernel draws a fresh random number at each probability rule. Here are 3,000 connections to the three Pods, drawn that way (seed 7). The
# <dfn>chi-square</dfn> p-value in the title is the chance of a spread at least this
# uneven if every share really is 1/3: only a tiny p (below 0.001) would mean unfair
# rules.

# %%
spread = services.lesson_spread(cluster, service, node, 3000, seed=7)
plots.show(plots.spread_figure(spread.counts, spread.shares, labels=spread.labels,
                               p_value=spread.chi_square.p_value, seed=7,
                               subject="checkout-api-svc (lesson's cluster)"))

# %% [markdown]
# **Try it.** More endpoints, more connections, another seed. The choice is made per new
# connection, not per request: a client that keeps one connection open, or
# `kubectl port-forward svc/...`, stays on one Pod.

# %% tags=["nbval-ignore-output"]
spread_explorer(endpoints=3, connections=1000, seed=7)

# %% [markdown]
# ## Which source IP the server sees
#
# DNAT changes only the destination, so a server normally sees the client Pod's own IP.
# Two kinds of traffic are masqueraded, so that the reply comes back through the node
# that did the DNAT:
#
# - a <dfn>hairpin</dfn>: a Pod that reaches itself through its own Service. Its KUBE-SEP
#   chain jumps to KUBE-MARK-MASQ, which marks the packet (0x4000) for
#   MASQUERADE on the way out, when the source is the Pod itself (`-s 10.244.2.14`);
# - clients from outside the Pod CIDR, which the KUBE-SVC rule
#   `! -s 10.244.0.0/16 -j KUBE-MARK-MASQ` catches.
#
# Here are the first endpoint's KUBE-SEP chain and the chain that masquerades what is marked:

# %% tags=["nbval-check-output"]
first_sep = explain.explain_service(rules, "production/checkout-api-svc").endpoints[0].chain
print("\n\n".join(iptables_list.run(rules, command) for command in (
    f"iptables -t nat -L {first_sep} -n", "iptables -t nat -L KUBE-POSTROUTING -n")))

# %%
seen = client_ip.seen_sources(cluster, service, client="payment-api-7d9c4b-xr7nq", other="checkout-api-6f8b9d-2xkpj")

# %% tags=["predict"]
predict(predictions.build("05-hairpin-source", cluster, pod="checkout-api-6f8b9d-2xkpj"),
        reveal=services.client_ip_reveal(seen))

# %% [markdown]
# Once you answer, the table's last two rows expose the Service as a NodePort: with
# `externalTrafficPolicy: Local` the Pod sees the real client, at the price of taking
# traffic only on nodes that run one of its Pods.

# %% [markdown]
# ## Recap
#
# - kube-proxy, a DaemonSet outside the data path, turns EndpointSlices into kernel rules.
#   Endpoints is the older, deprecated view of the same list.
# - Readiness decides rotation: an unready Pod keeps running but loses its rule.
# - KUBE-SERVICES → KUBE-SVC → KUBE-SEP (DNAT). Rule i of n matches with probability
#   1/(n-i), so every endpoint gets 1/n of new connections, chosen per connection.
# - Pod-to-Service traffic keeps its source IP; hairpin and off-cluster traffic is
#   masqueraded.
#
# Next: **06 · The debugging ladder** climbs from a Service's DNS name to its Pods when a
# request fails.

# %% tags=["graded"]
from k8snet_lesson.view.quiz import graded_check
graded_check("05")

# %% [markdown] jp-MarkdownHeadingCollapsed=true
# ## Going further: the rules as kube-proxy writes them and as iptables-save prints them
#
# kube-proxy feeds `iptables-restore` this text for `checkout-api-svc` (chain names are
# hashes of `production/checkout-api-svc` and `tcp`, as on a real node):

# %% tags=["nbval-check-output"]
checkout = kube_proxy.rules_of_service(kube_proxy.rules_for(cluster, node), "production/checkout-api-svc")
print(iptables.to_restore(checkout))

# %% [markdown]
# `iptables-save` prints the same rules in the kernel's word order, with `/32` on hosts and
# the probability the kernel really keeps: `lround(p * 2^31)`, so `0.3333333333` comes back
# as `0.33333333349`.

# %% tags=["nbval-check-output"]
print(iptables.to_save(checkout))

# %% [markdown] jp-MarkdownHeadingCollapsed=true
# ## Going further: the whole Endpoints object, and `describe`
#
# The lesson's `-o yaml` shows two addresses and `notReadyAddresses: []`. The API leaves
# empty lists out, and the lesson's Service has three ready Pods:

# %% tags=["nbval-check-output"]
print(run(cluster, "get endpoints checkout-api-svc -n production -o yaml"))
print()
print(run(cluster, "describe endpoints checkout-api-svc -n production"))

# %% [markdown] jp-MarkdownHeadingCollapsed=true
# ## Going further: no ready Pod means refused, not dropped
#
# The lesson says traffic to a Service with an empty endpoint list is "silently dropped".
# kube-proxy writes a REJECT rule in the filter table instead, so a client gets
# "connection refused" at once rather than a timeout:

# %% tags=["nbval-check-output"]
unready = faults.inject(cluster, "readiness-failing", service=service, client="payment-api-7d9c4b-xr7nq").cluster
print(run(unready, "get endpoints checkout-api-svc -n production"))
print()
print(iptables_list.run(kube_proxy.rules_for(unready, node, include_builtin=True),
                        "iptables -t filter -L KUBE-SERVICES -n | grep checkout"))

# %% [markdown] jp-MarkdownHeadingCollapsed=true
# ## Going further: few connections, keep-alive and port-forward
#
# Observed shares wander far from 1/3 over a handful of connections and settle only as
# they grow; and requests ride on connections, so a few long-lived connections spread
# requests unevenly.

# %%
checkpoints, observed = distribution.convergence(3, [10, 30, 100, 300, 1_000, 3_000, 10_000, 100_000], seed=7)
plots.show(plots.convergence_figure(checkpoints, observed, [1 / 3] * 3, seed=7))

# %% tags=["nbval-check-output"]
print("2 keep-alive connections x 500 requests:", distribution.requests_per_endpoint(3, 2, 500, seed=1))
print("1000 connections x 1 request:          ", distribution.requests_per_endpoint(3, 1000, 1, seed=1))

# %% [markdown] jp-MarkdownHeadingCollapsed=true
# ## Going further: old kube-proxy's five decimals
#
# Older kube-proxy printed the probability with `%0.5f`. From 320 endpoints on, 1/(n-i)
# rounds to the same five decimals for neighbouring rules (1/320 and 1/319 both print
# `0.00313`), and the shares drift away from 1/n. Today's `%0.10f` keeps every share
# within a hair of 1/n.

# %% tags=["nbval-check-output"]
first = simulate.first_repeated_probability(decimals=5)
texts = simulate.probability_texts(first, decimals=5)
print(f"first endpoint count whose 5-decimal probabilities repeat: {first} ({texts[0]}, {texts[1]})")
for n in (100, 320, 1000):
    shares = explain.exact_shares(simulate.kube_proxy_probabilities(n, decimals=5))
    print(f"{n:>5} endpoints, 5 decimals: shares from {min(shares) * n:.3f}/n to {max(shares) * n:.3f}/n")

# %% [markdown] jp-MarkdownHeadingCollapsed=true
# ## Going further: other proxy modes
#
# - **iptables** (this notebook) is still kube-proxy's default mode on Linux. Each rule
#   draws its own random number, so the spread is random but fair.
# - **<dfn>nftables</dfn>** mode (`--proxy-mode=nftables`) is GA since v1.33. It writes
#   the kernel's newer packet filter: one map lookup finds the Service instead of a chain
#   walked rule by rule, and one random number (`numgen random mod n`) picks the endpoint.
# - **IPVS** mode (`--proxy-mode=ipvs`, scheduler `rr` by default) rotates strictly, with
#   no randomness. It is deprecated since v1.35; nftables is its successor.
# - **Cilium** can replace kube-proxy altogether: its <abbr title="small programs loaded into the Linux kernel; Cilium uses them instead of iptables and routes to move Pod packets">eBPF</abbr> programs pick the backend at
#   `connect()`, so no DNAT happens on the wire.

# %% tags=["nbval-check-output"]
tables.table(pd.DataFrame({"iptables (random)": distribution.spread(3, 1000, seed=3).counts,
                           "IPVS rr": distribution.ipvs_round_robin(3, 1000),
                           "Cilium socket LB": distribution.socket_level_choice(3, 1000, seed=3)},
                          index=pd.RangeIndex(1, 4, name="endpoint")),
             caption="1,000 new connections to three endpoints (seeded), by proxy mode")

# %% [markdown] jp-MarkdownHeadingCollapsed=true
# ## Going further: the same Service in nftables mode
#
# In nftables mode kube-proxy writes one table, `ip kube-proxy`. Its `services` chain makes
# one lookup in a <dfn>verdict map</dfn>, `service-ips`, whose keys are
# `ClusterIP . protocol . port` and whose values say which chain to go to; no rule list is
# walked. The Service's own chain then picks the endpoint. How, for `checkout-api-svc`?

# %% tags=["predict"]
predict(predictions.build("05-nftables-draw", cluster), reveal=proxy_modes.draw_reveal(cluster, service, node))

# %% [markdown]
# The `service-ips` element on node-eu-west-1a, then the chain it goes to, as kube-proxy
# hands them to `nft -f` (chain names end in the Service's name; the 8 letters are a hash):

# %% tags=["nbval-check-output"]
element, chain = proxy_modes.service_listing(cluster, service, node)
print(element, chain, sep="\n\n")

# %% [markdown]
# The same 3,000 connections (seed 7) in both modes. iptables draws a number at each rule a
# connection reaches; nftables draws once. Either way each Pod gets a third. Above, the
# readiness explorer's **kube-proxy mode** buttons show the same change in nftables lines.

# %%
figures = proxy_modes.spread_figures(cluster, service, node, 3000, seed=7)
plots.show(figures[0])

# %%
plots.show(figures[1])

# %% tags=["check"] jupyter={"source_hidden": true}
# What this notebook showed, recomputed.
assert sum(spread.counts) == 3000 and spread.chi_square.p_value > 0.001  # seed 7, threshold 0.001
assert all(abs(share - 1 / 3) < 1e-9 for share in spread.shares)
assert [row.masqueraded for row in seen] == [False, True, True, False]
assert "numgen random mod 3 vmap" in chain and "10.96.214.88 . tcp . 80" in element
