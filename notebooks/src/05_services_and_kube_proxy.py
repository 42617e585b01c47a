# %% [markdown]
# # 05 · Services and kube-proxy
#
# **What you will be able to do:** read the Endpoints of a Service and say which Pods
# are in rotation; read the exact iptables rules kube-proxy writes for it, in the form
# kube-proxy writes them and in the form `iptables-save` prints on a node; and explain,
# with numbers, why the chain's probabilities 1/3, 1/2, 1 spread connections evenly.
#
# Everything here is computed by `k8snet_lesson`: the EndpointSlice controller, the
# kube-proxy rule generator, the parser and the simulator are the same code the `k8snet`
# command runs against real nodes.

# %%
from IPython.display import display

import pandas as pd

from k8snet_lesson import distribution, explain, iptables, kube_proxy, scenarios, simulate
from k8snet_lesson.view import kubectl, plots
from k8snet_lesson.view.widgets import readiness_explorer, spread_explorer

cluster = scenarios.lesson_cluster()
service = cluster.service("checkout-api-svc", "production")

# %% [markdown]
# ## Endpoints: the live truth
#
# `kubectl get endpoints` lists the **ready** `ip:port` pairs behind a Service: the list
# kube-proxy programs.

# %%
# NBVAL_CHECK_OUTPUT
print("$ kubectl get endpoints checkout-api-svc -n production")
print(kubectl.get_endpoints(cluster, namespace="production", name="checkout-api-svc"))

# %% [markdown]
# The full object (`-o yaml`) separates `addresses` (ready, in rotation) from
# `notReadyAddresses` (running, but failing their readiness probe).

# %%
# NBVAL_CHECK_OUTPUT
print("$ kubectl get endpoints checkout-api-svc -n production -o yaml")
print(kubectl.endpoints_yaml(cluster, "checkout-api-svc", "production"))

# %% [markdown]
# ### Flip readiness and watch
#
# Untick a Pod's readiness: its address moves to `notReadyAddresses`, leaves the
# `ENDPOINTS` column, and its `KUBE-SEP` rule leaves the chain; the probabilities of the
# remaining rules change so the shares stay equal.

# %%
readiness = readiness_explorer(cluster, service, node_name="node-eu-west-1a")
readiness

# %% [markdown]
# ## The rules kube-proxy writes
#
# kube-proxy on `node-eu-west-1a` feeds this to `iptables-restore` (only the lines
# for `checkout-api-svc` and the fixed chains are shown; chain names are hashes of
# `production/checkout-api-svc` and `tcp`, exactly as on a real node).

# %%
rules = kube_proxy.rules_for(cluster, "node-eu-west-1a")
checkout = kube_proxy.rules_of_service(rules, "production/checkout-api-svc")

# %%
# NBVAL_CHECK_OUTPUT
print(iptables.to_restore(checkout))

# %% [markdown]
# The same rules as `iptables-save` prints them on the node. The kernel reorders the
# matches, adds `/32`, and prints the probability it really stores: iptables keeps
# `lround(p * 2^31)`, so `0.3333333333` comes back as `0.33333333349`.

# %%
# NBVAL_CHECK_OUTPUT
print(iptables.to_save(checkout))

# %% [markdown]
# ### What the chain does, read back from the text
#
# `explain` parses the rules and multiplies out each endpoint's exact share of new
# connections: p_i times the chance that every earlier rule did not match.

# %%
# NBVAL_CHECK_OUTPUT
(svc,) = [e for e in explain.explain(rules) if e.service_port == "production/checkout-api-svc"]
table = pd.DataFrame(
    [{"endpoint": f"{e.address}:{e.port}", "--probability": e.probability_text or "(none: last rule)",
      "exact share": round(e.share, 10), "chain": e.chain} for e in svc.endpoints]
)
table

# %%
assert all(abs(e.share - 1 / len(svc.endpoints)) < 1e-9 for e in svc.endpoints)

# %% [markdown]
# ### The chain as a probability tree
#
# Rule 1 takes 1/3 of new connections. The 2/3 it lets through meet rule 2, which takes
# half of them: another 1/3. What is left (1/3) reaches rule 3, which has no
# probability and always matches.

# %%
plots.show(plots.probability_tree_figure([e.probability_text for e in svc.endpoints], [e.share for e in svc.endpoints]))


# %% [markdown]
# ## Simulate many connections
#
# The simulator draws as the kernel does: every statistic rule draws its own random
# number, first match wins. Move the sliders: more endpoints, more connections, another
# seed. The black marks are the exact shares times N; the p-value is a chi-square test
# of the counts against them.

# %%
explorer = spread_explorer(endpoints=3, connections=1000, seed=7)
explorer

# %%
# NBVAL_CHECK_OUTPUT
result = distribution.spread(3, 100_000, seed=7)
print("counts:", result.counts, "p =", round(result.chi_square.p_value, 4))
assert sum(result.counts) == 100_000 and result.chi_square.p_value > 0.001

# %% [markdown]
# ## Why "traffic always goes to the same pod"
#
# With a handful of connections the observed shares are far from 1/3; they settle only
# as connections grow. And kube-proxy chooses **per connection**, not per request: a
# client with one keep-alive connection sends every request to one Pod, and
# `kubectl port-forward svc/...` picks a single Pod when it starts.

# %%
checkpoints, observed = distribution.convergence(3, [10, 30, 100, 300, 1_000, 3_000, 10_000, 100_000], seed=7)
plots.show(plots.convergence_figure(checkpoints, observed, [1 / 3] * 3, seed=7))

# %%
# NBVAL_CHECK_OUTPUT
print("2 keep-alive connections x 500 requests:", distribution.requests_per_endpoint(3, 2, 500, seed=1))
print("1000 connections x 1 request:          ", distribution.requests_per_endpoint(3, 1000, 1, seed=1))

# %% [markdown]
# ## The naive chain: 1/n on every rule
#
# Writing `--probability 0.3333` on every rule looks fair and is not: rule 1 takes 1/3,
# rule 2 takes 1/3 of the remaining 2/3 (2/9), and the last rule gets what is left.

# %%
n = 5
kube = [e.share for e in distribution.service_chain(n).endpoints]
naive = distribution.naive_shares(n)
plots.show(plots.chain_shares_figure({"kube-proxy: 1/(n-i)": kube, "naive: 1/n on every rule": naive},
                                     title=f"Exact share per endpoint, {n} endpoints"))

# %%
# NBVAL_CHECK_OUTPUT
pd.DataFrame({"kube-proxy": [round(s, 4) for s in kube], "naive 1/n": [round(s, 4) for s in naive]},
             index=pd.RangeIndex(1, n + 1, name="endpoint"))

# %% [markdown]
# ## Old kube-proxy's five decimals
#
# Older kube-proxy printed the probability with `%0.5f`. From 320 endpoints on, 1/(n-i)
# rounds to the same five decimals for neighbouring rules (1/320 and 1/319 both print
# `0.00313`), and the rounding makes the shares drift away from 1/n. Today's `%0.10f`
# keeps every share within a hair of 1/n. `k8snet explain` reads probabilities as
# printed, so it shows an old node's real skew.

# %%
# NBVAL_CHECK_OUTPUT
first = simulate.first_repeated_probability(decimals=5)
print("first endpoint count whose 5-decimal probabilities repeat:", first)
texts = simulate.probability_texts(first, decimals=5)
print(f"rules 1 and 2 of {first} print {texts[0]} and {texts[1]}")
assert texts[0] == texts[1]
for n in (100, 320, 1000):
    shares = explain.exact_shares(simulate.kube_proxy_probabilities(n, decimals=5))
    print(f"{n:>5} endpoints, 5 decimals: shares from {min(shares) * n:.3f}/n to {max(shares) * n:.3f}/n")

# %% [markdown]
# ## Other data planes
#
# - **IPVS** (`--proxy-mode=ipvs`, scheduler `rr`): strict rotation, no randomness.
# - **Cilium's socket-level load balancing**: the backend is chosen at `connect()`, the
#   socket is connected straight to it, and no DNAT happens on the wire.

# %%
# NBVAL_CHECK_OUTPUT
pd.DataFrame({
    "iptables (statistic)": distribution.spread(3, 1000, seed=3).counts,
    "IPVS rr": distribution.ipvs_round_robin(3, 1000),
    "Cilium socket LB": distribution.socket_level_choice(3, 1000, seed=3),
}, index=pd.RangeIndex(1, 4, name="endpoint"))

# %% [markdown]
# ## Recap
#
# - Endpoints (EndpointSlices) list the ready Pods; not-ready Pods are out of rotation.
# - kube-proxy writes one `KUBE-SEP` chain per endpoint and a `KUBE-SVC` chain whose
#   rule i of n matches with probability 1/(n-i): every endpoint gets 1/n.
# - Selection is per new connection; keep-alive and port-forward pin one Pod.
#
# Next: **06 · The debugging ladder**.
