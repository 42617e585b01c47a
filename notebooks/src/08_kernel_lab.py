# %% [markdown]
# # 08 · The kernel lab: type the real commands
#
# **What you will be able to do:**
#
# - run `ip`, `iptables`, `curl`, `nslookup` and `tcpdump` inside the lesson's pods and nodes;
# - read how a Service spreads connections off the kernel's own packet counters;
# - show a packet between nodes wrapped in <abbr title="an overlay that wraps each Pod&#x27;s Ethernet frame in a UDP packet between nodes (Flannel: UDP 8472; Calico: UDP 4789), adding 50 bytes">VXLAN</abbr> on the node network;
# - find the lesson's broken pod with real tools, fix it, and check the fix.
#
# The cell below builds the lesson's cluster from real Linux networking: a <abbr title="a private copy of the Linux network stack (interfaces, routes, iptables rules); every Pod gets one">network namespace</abbr> per node
# and per pod, <abbr title="a virtual Ethernet cable with two ends: one is the Pod&#x27;s eth0, the other stays on the node">veth pairs</abbr>, a <abbr title="the Linux bridge on a Flannel node that all its Pods&#x27; veths plug into; it holds the node podCIDR&#x27;s .1 address, the Pods&#x27; gateway">cni0</abbr> bridge per node and Flannel's VXLAN device, with
# <abbr title="the DaemonSet that watches Services and EndpointSlices and writes the kernel rules that turn a ClusterIP into Pod IPs; it is not in the data path">kube-proxy</abbr>'s real rules and a DNS server behind kube-dns. Everything lives in private namespaces
# of this notebook's kernel and goes when the kernel stops. Where the lab cannot run (no Linux root, no
# tools), the cell says why and each step shows what the model says the lab would print.

# %%
from functools import partial

from k8snet_lesson import predictions
from k8snet_lesson.lab import probe, run, steps
from k8snet_lesson.lab.kernel import build
from k8snet_lesson.lab.topology import plan
from k8snet_lesson.view import labbox, proxy_modes
from k8snet_lesson.view.gates import predict

lesson = run.scenario("lesson")  # the lesson's cluster, plus `kubectl run debug-pod --image=nicolaka/netshoot`
found = probe()
lab = build(lesson.cluster) if found.ok else None
layout = lab.topology if lab else plan(lesson.cluster, "k8snet-notebook-")
cluster = layout.cluster  # the lesson's addresses; Flannel's VXLAN where the lesson runs Calico's
print("The kernel lab is running." if lab else f"The kernel lab cannot run here: {found.reason}")
print(run.layout(layout))

# %% [markdown]
# ## Look around
#
# Each step has a command box. Pick where to run (a pod or a node), type one command, press **Run**.
# The box runs real programs, one at a time, without a shell; `kubectl` is answered from the model,
# since the lab has no API server. Long output folds after 25 lines.

# %%
step_list = steps.steps(cluster, lesson.client)
traffic = (lesson.client, ("curl", "-s", "-m", "3", "http://10.244.3.7:3000/health"))
options = dict(lab=lab, cluster=cluster, client=lesson.client, traffic=traffic, unavailable=found.reason)
labbox.step_box(step_list[0], **options)

# %% [markdown]
# ## kube-proxy's rules, read back from the kernel
#
# kube-proxy writes one rule per endpoint in the Service's <abbr title="kube-proxy&#x27;s per-Service chain: one rule per endpoint, chosen at random with probabilities 1/n, 1/(n-1), ..., 1">KUBE-SVC</abbr> chain. Each new connection
# walks the rules and is sent to the first one whose random draw matches; <abbr title="the kernel&#x27;s table of live connections; it remembers each NAT decision and applies it to every later packet and the replies">conntrack</abbr> remembers the
# choice for the rest of the connection.

# %% tags=["predict"]
predict(predictions.build("08-spread-second", cluster, client=lesson.client),
        reveal=partial(labbox.gate_reveal, "08-spread-second", cluster, client=lesson.client))

# %% [markdown]
# Now count for real: open the connections, then read the counters on the debug pod's node.

# %%
labbox.step_box(step_list[1], **options)

# %% [markdown]
# ## A cross-node request on the wire
#
# A request from debug-pod to a checkout pod on another node leaves through `flannel.1`, the node's
# <abbr title="VXLAN tunnel endpoint: the device on each node (flannel.1, vxlan.calico) that wraps and unwraps VXLAN packets">VTEP</abbr>. Its <abbr title="a bridge or VXLAN device&#x27;s forwarding database: which MAC address lives behind which port or remote node IP">FDB</abbr> says which node IP holds each remote VTEP.

# %% tags=["predict"]
predict(predictions.build("08-outer-destination", cluster, client=lesson.client),
        reveal=partial(labbox.gate_reveal, "08-outer-destination", cluster, client=lesson.client))

# %% [markdown]
# Capture it on the node's `eth0`. While `tcpdump` listens, the box sends one request from debug-pod
# to 10.244.3.7.

# %%
labbox.step_box(step_list[2], **options)

# %% [markdown]
# ## The lesson's case: one pod of three
#
# In the lesson's transcript the Service answers but `curl 10.244.2.14:3000` is refused: one
# checkout pod's app listens on 127.0.0.1. The step's first button breaks that one pod in the lab.

# %% tags=["predict"]
predict(predictions.build("08-first-failing-rung", cluster, client=lesson.client),
        reveal=partial(labbox.gate_reveal, "08-first-failing-rung", cluster, client=lesson.client))

# %%
case = steps.lesson_case(cluster, client=lesson.client)  # the app of one checkout pod binds 127.0.0.1:3000
labbox.step_box(step_list[3], **options, case=case)

# %% [markdown]
# Once you found it, deploy the fix with the step's second button and curl the pod IPs again.

# %% [markdown]
# ## Recap
#
# - Pods and nodes are network namespaces; `ip route` on a node shows which device leaves for which pods.
# - kube-proxy's 1/3, 1/2, 1 give each endpoint a third; the kernel's counters show it per connection.
# - Between nodes, the pod-to-pod packet travels unchanged inside UDP 8472, from node IP to node IP.
# - One broken pod of three fails a third of Service requests; curl to each pod IP finds it every time.

# %% tags=["graded"]
from k8snet_lesson.view.quiz import graded_check
graded_check("08")

# %% [markdown] jp-MarkdownHeadingCollapsed=true
# ## Going further: the whole run, and cleaning up
#
# One button builds a second lab, checks devices, rules, the four rules, a 3,000-connection spread,
# every fault of the ladder and a capture against the model, then tears it down (about 15 seconds).

# %%
labbox.full_run_button(unavailable=found.reason)

# %% [markdown]
# The lab goes when this notebook's kernel stops. To remove it now:

# %%
labbox.teardown_button(lab)

# %% [markdown] jp-MarkdownHeadingCollapsed=true
# ## Going further: the kernel's `nft list ruleset` for kube-proxy's other mode
#
# In <abbr title="the kernel&#x27;s newer packet filter; kube-proxy&#x27;s nftables mode (GA since v1.33) uses it instead of iptables">nftables</abbr> mode kube-proxy writes no iptables rules: it hands `nft -f` one
# transaction for the table `ip kube-proxy`. Here the model's transaction for node-eu-west-1a is
# loaded into a fresh network namespace, and the kernel prints it back with `nft list ruleset`.
# Shown: the `service-ips` map, one lookup for every Service, and the chain of `checkout-api-svc`
# with its one draw, `numgen random mod 3`; the whole ruleset is folded below.
# (`k8snet netlab run --proxy-mode nftables` runs the whole lab this way: the spread, and the fault ladder with each fault arriving as an `nft -f` sync.)

# %%
ruleset = proxy_modes.ruleset_view(cluster, "node-eu-west-1a", lab_ok=found.ok, reason=found.reason,
                                   service="production/checkout-api-svc")
ruleset

# %% tags=["check"] jupyter={"source_hidden": true}
assert "service-ips" in "\n".join(ruleset.lines) and any("numgen random mod 3" in line for line in ruleset.lines)
if lab:
    assert steps.check(step_list[0], "flannel.1", cluster=cluster, client=lesson.client, lab=lab).correct
    assert steps.broken_pod(lab.cluster, lab=lab) == ()
assert steps.broken_pod(case.cluster) == (steps.BROKEN_POD,)
