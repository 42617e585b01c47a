# %% [markdown]
# # 06 · The debugging ladder
#
# **What you will be able to do:**
#
# - open a debug shell inside the cluster network and say what each flag of `kubectl run` does;
# - predict which names a pod's resolver asks for, and why;
# - climb the lesson's ladder, **DNS name → <abbr title="the virtual IP of a Service, from the service network; no interface holds it, only kube-proxy&#x27;s rules recognise it">ClusterIP</abbr> → Pod IP**, and say what the first broken rung means;
# - tell *refused* from *timed out*, and explain why an app on 127.0.0.1 fails;
# - find a hidden fault in a broken cluster.
#
# Every output is computed from the lesson's cluster (<abbr title="Container Network Interface: the plugin a node runs when a Pod starts, to give it an IP, an interface and routes">CNI</abbr>: Calico <abbr title="an overlay that wraps each Pod&#x27;s Ethernet frame in a UDP packet between nodes (Flannel: UDP 8472; Calico: UDP 4789), adding 50 bytes">VXLAN</abbr>; `checkout-api-svc`, 10.96.214.88,
# in front of three checkout-api pods) by the same code that `k8snet ladder` runs.

# %%
from functools import partial

from k8snet_lesson import faults, netshoot, predictions, scenarios
from k8snet_lesson.view import debugging, kubectl, tables
from k8snet_lesson.view.gates import predict

SERVICE, CLIENT = "production/checkout-api-svc", "production/debug-pod"
BROKEN_POD = "checkout-api-6f8b9d-2xkpj"  # 10.244.2.14
cluster, debug = netshoot.debug_pod(scenarios.lesson_cluster(), "production")

# %% [markdown]
# ## A shell inside the cluster
#
# The runbook starts a <dfn>netshoot</dfn> pod: nicolaka/netshoot, a debugging container image with curl,
# dig, nslookup, tcpdump, ss and netstat. `-it` attaches your terminal to its shell, `--rm` deletes the
# pod when you exit, `--restart=Never` makes a bare Pod, and `-n production` puts it in the Service's
# namespace. It is an ordinary pod: it sees the network exactly as the client app does.

# %% tags=["nbval-check-output"]
print(debugging.kubectl_run("production").transcript)
print("\n$ kubectl get pods -o wide -n production     # cluster: the lesson's, Calico VXLAN")
print(kubectl.get_pods_wide(cluster, "production"))

# %% [markdown]
# ## Rung 1: the name
#
# A pod asks <dfn>CoreDNS</dfn>, the cluster's DNS server behind the `kube-dns` Service, for every name.
# The kubelet writes the pod's resolver file:

# %% tags=["nbval-check-output"]
print(netshoot.cat_resolv_conf(cluster, CLIENT).transcript)

# %% [markdown]
# The <dfn>search list</dfn> holds the domains the resolver appends to a short name, the pod's own
# namespace first. <dfn>ndots</dfn>:5 says a name with fewer than 5 dots is tried with each search domain
# first and as written last. netshoot is an Alpine image, so its resolver is musl's.

# %% tags=["predict"]
predict(predictions.build("06-names-tried", cluster), reveal=partial(debugging.reveal, "06-names-tried", cluster))

# %% [markdown]
# **Try it.** A bare name from another namespace, the lesson's "fully qualified"
# `checkout-api-svc.production.svc.cluster.local` (4 dots), the same with a trailing dot, an address
# such as `10.96.214.88`, a name with a space:

# %%
debugging.dns_explorer(cluster, name="checkout-api-svc", namespace="default")

# %% [markdown]
# ## The ladder
#
# > DNS name → ClusterIP → Pod IP directly is the standard debugging progression. […] DNS fails = CoreDNS
# > issue. DNS works but ClusterIP fails = <abbr title="the DaemonSet that watches Services and EndpointSlices and writes the kernel rules that turn a ClusterIP into Pod IPs; it is not in the data path">kube-proxy</abbr> or no endpoints. ClusterIP works but Pod IP fails =
# > application-level issue.
#
# Here is the lesson's own session, reproduced. The app in one checkout-api pod of three listens on
# 127.0.0.1:

# %%
transcript = faults.inject(cluster, "bound-to-localhost", service=SERVICE, client=CLIENT, pod=BROKEN_POD).cluster

# %% tags=["nbval-check-output"]
print(netshoot.nslookup(transcript, CLIENT, "checkout-api-svc.production.svc.cluster.local").transcript)
print(netshoot.curl(transcript, CLIENT, "http://10.96.214.88:80/health", seed=0).transcript)

# %% tags=["nbval-check-output"]
print(netshoot.curl(transcript, CLIENT, "http://10.244.2.14:3000/health").transcript)

# %% [markdown]
# Why did the ClusterIP answer? kube-proxy's rules draw an endpoint
# for each new connection, and this one drew a healthy pod. Send the same request with other draws:

# %% tags=["nbval-check-output"]
tables.table(debugging.draws_table(transcript, CLIENT, "http://10.96.214.88:80/health", range(6)),
             caption="curl to the ClusterIP, six connections (seeds 0-5); cluster: the lesson's, Calico VXLAN")

# %% [markdown]
# One broken pod of three makes about one request in three fail: the scenario's "connection refused",
# some of the time. Now a different fault: kube-proxy on the debug pod's node has stopped updating its rules.

# %% tags=["predict"]
predict(predictions.build("06-first-rung", cluster), reveal=partial(debugging.reveal, "06-first-rung", cluster))

# %% [markdown]
# ## Refused or timed out?
#
# curl ends in one of two ways, and the difference tells you where to look. Predict each.

# %% tags=["predict"]
predict(predictions.build("06-selector-curl", cluster), reveal=partial(debugging.reveal, "06-selector-curl", cluster))

# %% tags=["predict"]
predict(predictions.build("06-policy-curl", cluster), reveal=partial(debugging.reveal, "06-policy-curl", cluster))

# %% [markdown]
# **Refused** means something answered: kube-proxy's REJECT rule, or a pod's kernel with no socket on
# that address and port. **Timed out** means nothing did: no rule for the ClusterIP, or a
# <dfn>NetworkPolicy</dfn> (a rule object saying which pods may connect to which) dropping the packet.
# Every fault the course knows:

# %% tags=["nbval-check-output"]
debugging.fault_summary(cluster, client=CLIENT, service=SERVICE)

# %% [markdown]
# ## When DNS itself is down

# %% tags=["predict"]
predict(predictions.build("06-coredns-wait", cluster), reveal=partial(debugging.reveal, "06-coredns-wait", cluster))

# %% [markdown]
# The ClusterIP still answers (see the table above): only names are broken.
#
# ## Inside the pod: 127.0.0.1
#
# Back to the lesson's session. The SYN to 10.244.2.14:3000 arrives on the pod's `eth0`, but the app
# listens on loopback only, so the kernel answers with a reset. `netstat -tlnp` shows it; `kubectl
# describe pod` shows only what the manifest declares:

# %% tags=["nbval-check-output"]
print(netshoot.netstat(transcript, f"production/{BROKEN_POD}").transcript)
print(debugging.describe_excerpt(transcript, f"production/{BROKEN_POD}").transcript)

# %% [markdown]
# In the lesson this pod stays in the Service, so it has no HTTP
# <abbr title="kubelet&#x27;s periodic check that a container is ready for traffic; a Pod that fails it leaves its Services&#x27; endpoints">readiness probe</abbr>.
# Give it one:

# %% tags=["predict"]
predict(predictions.build("06-localhost-probe", cluster),
        reveal=partial(debugging.reveal, "06-localhost-probe", cluster))

# %% [markdown]
# ## Your turn: break it and climb
#
# Pick faults, limit them to one backend, pick a CNI and a seed, press **Climb**. Try
# `bound-to-localhost` on one pod with several seeds; `network-policy-deny` on calico, then on flannel;
# `kube-proxy-stale` on cilium, which runs no kube-proxy: its ClusterIP rung reads Cilium's service map.

# %%
debugging.climb_explorer(cluster, client=CLIENT, service=SERVICE)

# %% [markdown]
# ## The mystery fault
#
# A fault hides between the debug pod and `checkout-api-svc`. Read the rungs, name the fault and press
# **Submit**. Change the number for another mystery; some hide two faults, one behind the other.

# %%
exercise = debugging.mystery_exercise(cluster, client=CLIENT, service=SERVICE, seed=2)
exercise

# %% tags=["check"] jupyter={"source_hidden": true}
from k8snet_lesson import ladder

assert exercise.mystery.count == 1 and exercise.verdict.value == ""
for name in faults.FAULTS:
    injected = faults.inject(cluster, name, service=SERVICE, client=CLIENT)
    for cni in ("calico", "flannel", "cilium"):
        found = ladder.climb(injected.cluster, client=CLIENT, service=SERVICE, cni=cni)
        if cni == "flannel" and name == "network-policy-deny":
            assert found.passed, name
        else:
            assert found.finding is not None and found.finding.fault_name == name, (name, cni)
        assert ladder.climb(injected.fixed(), client=CLIENT, service=SERVICE, cni=cni).passed, (name, cni)

# %% [markdown] jp-MarkdownHeadingCollapsed=true
# ## Going further: every fault, on Calico and on Flannel
#
# What each fault breaks, what the climb finds on a CNI that enforces NetworkPolicy (Calico) and on
# one that does not (Flannel), and the fix.

# %%
tables.table(debugging.fault_table(cluster, client=CLIENT, service=SERVICE, cnis=("calico", "flannel")),
             caption="Every fault injected into the lesson's cluster, one at a time")

# %% [markdown]
# The lesson's note under its transcript blames "wrong port". That is another fault with the same
# curl output; netstat tells them apart:

# %%
wrong_port = faults.inject(cluster, "app-wrong-port", service=SERVICE, client=CLIENT, pod=BROKEN_POD).cluster
print(netshoot.netstat(wrong_port, f"production/{BROKEN_POD}").transcript)

# %% [markdown] jp-MarkdownHeadingCollapsed=true
# ## Going further: the real tools' output
#
# The lesson abridges curl: curl 7.88 prints `*   Trying` with three spaces, the request and response
# headers, and after a refusal `Failed to connect ... Couldn't connect to server` and `curl: (7)`. The
# lesson's `nslookup` output is busybox's; netshoot installs BIND's tools, whose nslookup prints the same
# answers so:

# %%
print(netshoot.nslookup(cluster, CLIENT, "checkout-api-svc.production.svc.cluster.local", style="bind").transcript)
print(netshoot.nslookup(cluster, CLIENT, "10.96.214.88", style="bind").transcript)

# %% [markdown] jp-MarkdownHeadingCollapsed=true
# ## Going further: one broken endpoint, many requests
#
# Break 0 to 3 of the endpoints and send 90 requests (seeds 0-89) each time:

# %%
refusals = debugging.refusal_table(cluster, client=CLIENT, service=SERVICE, requests=90, seed=0)
tables.table(refusals.round(3))

# %%
from k8snet_lesson.view import plots

plots.show(debugging.refusals_figure(refusals))

# %% tags=["check"] jupyter={"source_hidden": true}
# Threshold: within 0.15 of the exact share (three standard deviations of a share of 90 requests at
# p = 1/3 is 0.149); seeds 0-89.
assert list(refusals["exact share"].round(6)) == [0.0, round(1 / 3, 6), round(2 / 3, 6), 1.0]
assert (abs(refusals["refused share"] - refusals["exact share"]) <= 0.15).all()

# %% [markdown]
# ## Recap
#
# - Debug from inside: `kubectl run debug-pod --image=nicolaka/netshoot --rm -it --restart=Never -n <namespace>`.
# - With `ndots:5`, a name with fewer than 5 dots tries the search list first; an address is not a name
#   (curl sends no query; nslookup asks a PTR question).
# - Climb DNS name → ClusterIP → Pod IP; the first rung that breaks says which layer to look at.
# - Refused: something answered (a REJECT rule, a closed port, an app on 127.0.0.1). Timed out: nothing
#   did (no rule, a dropped packet). With CoreDNS down, musl waits its 5 s timeout even for a REJECT.
# - An app on 127.0.0.1 also fails an httpGet readiness probe, which goes to the Pod IP.
#
# Next: **07 · Practice and quiz**: the lesson's own questions, and your results across the course.

# %% tags=["graded"]
from k8snet_lesson.view.quiz import graded_check
graded_check("06")
