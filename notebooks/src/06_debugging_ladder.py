# %% [markdown]
# # 06 · The debugging ladder
#
# **What you will be able to do:**
#
# - start a `nicolaka/netshoot` debug pod and say what each flag of `kubectl run` does;
# - climb the lesson's ladder, **DNS name → ClusterIP → Pod IP**, and say what a failure
#   on each rung means (CoreDNS, kube-proxy or endpoints, the application);
# - explain the lesson's own transcript, where the ClusterIP answers `200 OK` while one
#   Pod IP refuses, and find the app bound to `127.0.0.1` with `netstat -tlnp`;
# - read a pod's `/etc/resolv.conf` and say which names its resolver tries, and why
#   `curl http://checkout-api-svc:80/health` works from the `production` namespace;
# - tell a refused connection (a REJECT rule, a closed port) from a timed-out one (no
#   rule, a dropped packet), and find a hidden fault in a broken cluster.
#
# Every command output below is printed by `k8snet_lesson.netshoot` from the model of the
# lesson's cluster; faults come from `k8snet_lesson.faults` and the ladder is
# `k8snet_lesson.ladder.climb`, the same code `k8snet ladder` runs.

# %%
from datetime import timedelta

import pandas as pd

from k8snet_lesson import dns, faults, iptables, kube_proxy, ladder, netshoot, scenarios
from k8snet_lesson.view import debugging, kubectl, plots

pd.set_option("display.max_colwidth", 140)
SERVICE = "production/checkout-api-svc"
CLIENT = "production/debug-pod"
FQDN = "checkout-api-svc.production.svc.cluster.local"
CLUSTER_IP_URL = "http://10.96.214.88:80/health"

# %% [markdown]
# ## The scenario
#
# > Service A is getting connection refused errors when trying to reach Service B. Both
# > services are running, both have healthy Pods. You need to systematically diagnose
# > whether the problem is in DNS, the Service selector, the endpoints list, or the actual
# > application.
#
# Service B here is the lesson's `checkout-api-svc` (ClusterIP 10.96.214.88:80, endpoints
# 10.244.2.14:3000, 10.244.3.7:3000 and 10.244.4.2:3000). The runbook starts by getting
# a shell **inside** the cluster network.
#
# ## A debug pod: nicolaka/netshoot
#
# `kubectl run debug-pod --image=nicolaka/netshoot --rm -it --restart=Never -n production`
# creates a bare Pod (no Deployment) from the netshoot image, a container packed with
# curl, dig, nslookup, ping, traceroute, nmap, tcpdump, iperf, netstat, ss and ip:
#
# - `-it` attaches your terminal to the container's shell (stdin, a TTY);
# - `--rm` deletes the Pod when you exit the shell;
# - `--restart=Never` makes a Pod that is not restarted when its shell exits;
# - `-n production` runs it in the namespace of the Service, so it gets that namespace's
#   DNS search list (below).
#
# It is an ordinary Pod: it gets a Pod IP from its node's podCIDR and the node's
# kube-proxy rules apply to what it sends, exactly as for the client app. In the model,
# `netshoot.debug_pod` schedules it on the Ready node with the fewest pods and gives it
# the next free address there (host-local's order).

# %%
lesson = scenarios.lesson_cluster()
cluster, debug = netshoot.debug_pod(lesson, "production")
debug = debug.with_(age=timedelta(seconds=12))  # kubectl run created it a moment ago
cluster = cluster.with_pod(debug)

# %%
# NBVAL_CHECK_OUTPUT
print(debugging.kubectl_run("production").transcript)
print()
print("$ kubectl get pods -o wide -n production        # in a second terminal")
print(kubectl.get_pods_wide(cluster, "production"))

# %% [markdown]
# ## The lesson's transcript, reproduced
#
# The lesson's session resolves the Service's name, gets `200 OK` from the ClusterIP, and
# then **Connection refused** from the Pod IP `10.244.2.14:3000`. Those three answers
# cannot all come from one healthy Service. The model reproduces them when **one**
# endpoint of three is broken: here the app in `checkout-api-6f8b9d-2xkpj` (10.244.2.14)
# listens on `127.0.0.1:3000` instead of `0.0.0.0:3000`, the bug the lesson describes.

# %%
broken = faults.inject(cluster, "bound-to-localhost", service=SERVICE, client=CLIENT,
                       pod="checkout-api-6f8b9d-2xkpj").cluster
looked_up = netshoot.nslookup(broken, CLIENT, FQDN)
through_service = netshoot.curl(broken, CLIENT, CLUSTER_IP_URL, seed=0)
direct = netshoot.curl(broken, CLIENT, "http://10.244.2.14:3000/health")

# %%
# NBVAL_CHECK_OUTPUT
print(debugging.kubectl_run("production").transcript)
print(looked_up.transcript)
print()
print(through_service.transcript)
print()
print(direct.transcript)

# %% [markdown]
# The lesson abridges curl: curl 7.88 prints `*   Trying` with three spaces, the request
# (`> GET /health HTTP/1.1`, `> Host:`...) and response headers, and after a refused
# connection `Failed to connect ... Couldn't connect to server` and `curl: (7)` (curl's
# exit code 7). busybox's `nslookup` (the lesson's form) prints each address with the
# name CoreDNS gives it in reverse.

# %%
assert looked_up.ok and [str(a) for a in looked_up.resolution.addresses] == ["10.96.214.88"]
assert through_service.ok and "< HTTP/1.1 200 OK" in through_service.text
assert direct.exit_code == 7 and "Connection refused" in direct.text

# %% [markdown]
# ### Why the ClusterIP answered: kube-proxy drew a healthy endpoint
#
# kube-proxy picks an endpoint **per connection**, at random (1/3, then 1/2, then the
# rest). The request above (seed 0) was sent to 10.244.4.2:3000, which is healthy. Send it
# a few more times and the draw sometimes lands on 10.244.2.14, which refuses:

# %%
# NBVAL_CHECK_OUTPUT
draws = debugging.draws_table(broken, CLIENT, CLUSTER_IP_URL, range(10))
draws

# %%
assert (draws["curl"] == "Connection refused").eq(draws["endpoint picked"] == "10.244.2.14:3000").all()
assert draws.loc[0, "endpoint picked"] == "10.244.4.2:3000"

# %% [markdown]
# So "ClusterIP works but Pod IP fails" can mean *the ClusterIP works sometimes*. With k of
# the 3 endpoints broken, about k in 3 requests through the Service fail: Service A sees
# intermittent "connection refused", which is the scenario's complaint. Requests are
# seeded 0 to 89 for each case.

# %%
# NBVAL_CHECK_OUTPUT
refusals = debugging.refusal_table(cluster, client=CLIENT, service=SERVICE, requests=90, seed=0)
refusals.round(4)

# %%
plots.show(debugging.refusals_figure(refusals))

# %%
# Threshold: within 0.15 of the exact share (three standard deviations of a share of 90
# requests at p = 1/3 is 0.149); seeds 0-89.
assert list(refusals["exact share"].round(6)) == [0.0, round(1 / 3, 6), round(2 / 3, 6), 1.0]
assert (abs(refusals["refused share"] - refusals["exact share"]) <= 0.15).all()

# %% [markdown]
# ## Inside the pod: netstat -tlnp and kubectl describe pod
#
# > App not listening on 0.0.0.0: the app is listening on 127.0.0.1:3000 (localhost
# > only) instead of 0.0.0.0:3000 (all interfaces).
#
# The SYN to 10.244.2.14:3000 arrives on the pod's `eth0`; no socket listens on that
# address and port (only on loopback), so the kernel answers with a TCP RST: **Connection
# refused**. `netstat -tlnp` shows it; `kubectl describe pod` shows what the manifest
# *declares* (`Port: 3000/TCP`), which is all Kubernetes knows.

# %%
# NBVAL_CHECK_OUTPUT
print(netshoot.netstat(broken, "production/checkout-api-6f8b9d-2xkpj").transcript)
print(netshoot.kubectl_describe_pod(broken, "production/checkout-api-6f8b9d-2xkpj").transcript)

# %% [markdown]
# The lesson's note under its transcript says something else: "app listening on wrong
# port! kubectl describe pod to check containerPort vs actual app port". That is another
# fault with the same symptom. curl cannot tell the two apart; netstat can:

# %%
# NBVAL_CHECK_OUTPUT
wrong_port = faults.inject(cluster, "app-wrong-port", service=SERVICE, client=CLIENT,
                           pod="checkout-api-6f8b9d-2xkpj").cluster
print("# bound-to-localhost: the right port, on loopback only")
print(netshoot.netstat(broken, "production/checkout-api-6f8b9d-2xkpj").text)
print()
print("# app-wrong-port: all interfaces, but not the declared containerPort 3000")
print(netshoot.netstat(wrong_port, "production/checkout-api-6f8b9d-2xkpj").text)
print()
print(netshoot.curl(wrong_port, CLIENT, "http://10.244.2.14:3000/health").text.splitlines()[1])

# %% [markdown]
# ## Names: resolv.conf, ndots:5 and the search list
#
# The runbook's first command is `curl -v http://checkout-api-svc:80/health`: a bare
# Service name. It works because of the file the kubelet writes into every
# `dnsPolicy: ClusterFirst` pod:

# %%
# NBVAL_CHECK_OUTPUT
print(netshoot.cat_resolv_conf(cluster, CLIENT).transcript)
print()
print(netshoot.curl(cluster, CLIENT, "http://checkout-api-svc:80/health").transcript)

# %% [markdown]
# - `nameserver 10.96.0.10` is the ClusterIP of the `kube-dns` Service (CoreDNS), the
#   tenth address of the service range;
# - `search production.svc.cluster.local svc.cluster.local cluster.local`: the pod's own
#   namespace first;
# - `options ndots:5`: a name with fewer than 5 dots is tried with each search domain
#   first, and as written last.
#
# So `checkout-api-svc` (no dot) is first asked as `checkout-api-svc.production.svc.cluster.local`,
# which CoreDNS answers at once:

# %%
# NBVAL_CHECK_OUTPUT
debugging.search_table(dns.resolve(cluster, cluster.pod(CLIENT), "checkout-api-svc"))

# %% [markdown]
# The lesson's "fully-qualified" name has only **4** dots, so the resolver tries it with
# every search domain first: three NXDOMAIN round trips before the name as written. A
# trailing dot (`checkout-api-svc.production.svc.cluster.local.`) marks a name as
# absolute and sends one query.

# %%
# NBVAL_CHECK_OUTPUT
debugging.search_table(dns.resolve(cluster, cluster.pod(CLIENT), FQDN))

# %% [markdown]
# From another namespace the bare name fails (every candidate is NXDOMAIN, curl exits 6,
# "Could not resolve host"); `checkout-api-svc.production` works through the second
# search domain. Try names and namespaces here (for example `kube-dns.kube-system`,
# `checkout-api-svc.production`, `10-244-2-14.production.pod.cluster.local`, `example.com`):

# %%
names = debugging.dns_explorer(cluster, name="checkout-api-svc", namespace="default")
names

# %%
assert not names.last.ok and len(names.last.answers) == 4
names.name.value = "checkout-api-svc.production"
assert names.last.ok and names.last.fqdn == FQDN
names.name.value = "checkout-api-svc"

# %% [markdown]
# ## What just happened? The ladder
#
# > DNS name → ClusterIP → Pod IP directly is the standard debugging progression. Each
# > step isolates a different layer. DNS fails = CoreDNS issue. DNS works but ClusterIP
# > fails = kube-proxy or no endpoints. ClusterIP works but Pod IP fails =
# > application-level issue (wrong port, firewall rule inside container, app not bound to
# > 0.0.0.0).
#
# The model's ladder adds the rung the lesson uses in the middle of its section
# (`kubectl get endpoints`) and the last step inside the pod (netstat, describe). Here it
# is on the lesson's transcript cluster, which breaks all the way to the top rung:

# %%
transcript_climb = ladder.climb(broken, client=CLIENT, service=SERVICE, seed=0)

# %%
# NBVAL_CHECK_OUTPUT
debugging.ladder_table(transcript_climb)

# %%
# NBVAL_CHECK_OUTPUT
debugging.rungs_table(transcript_climb)

# %%
# NBVAL_CHECK_OUTPUT
print(transcript_climb.finding)
print()
print("\n".join(transcript_climb.notes))

# %% [markdown]
# ## Climbing broken clusters
#
# Every fault the library knows, injected into the lesson's cluster one at a time: the
# layer where it lives, what it breaks, what `curl` to the ClusterIP prints, and what the
# climb finds on Calico (which enforces NetworkPolicy) and on Flannel (which does not),
# and the fix.

# %%
# NBVAL_CHECK_OUTPUT
table = debugging.fault_table(cluster, client=CLIENT, service=SERVICE, cnis=("calico", "flannel"))
table

# %% [markdown]
# Read the `curl ClusterIP` column. **Refused** means something answered with a reset or
# an ICMP error: kube-proxy's REJECT rule for a Service without endpoints, or the pod's
# kernel for a port nobody listens on. **Timed out** means nobody answered at all: no
# rule turns the virtual ClusterIP into a pod address (a stale kube-proxy), or a
# NetworkPolicy drops the SYN. And `coredns-down` still answers `200 OK` by ClusterIP:
# only names are broken.
#
# ### The selector that matches nothing: `<none>`, a REJECT rule, connection refused
#
# The lesson's quiz: the Service selects `app: checkout-api`, the pods say `app: checkout`.

# %%
mismatch = faults.inject(cluster, "selector-mismatch", service=SERVICE, client=CLIENT).cluster
mismatched_service = mismatch.service(SERVICE)

# %%
# NBVAL_CHECK_OUTPUT
print("Service selector:", dict(mismatched_service.selector))
pd.DataFrame([{"pod": p.name, "app": p.labels.get("app", "-"), "selected": mismatched_service.selects(p)}
              for p in mismatch.pods if p.namespace == "production"]).set_index("pod")

# %%
# NBVAL_CHECK_OUTPUT
print(netshoot.kubectl_get_endpoints(mismatch, SERVICE).transcript)

# %% [markdown]
# The lesson says traffic to such a Service is "silently dropped". It is not: kube-proxy
# writes a **REJECT** rule for a Service with no endpoints, in the `filter` table's
# `KUBE-SERVICES` chain (the input kube-proxy gives `iptables-restore`, then the same rule
# as `iptables-save` prints it on the node):

# %%
# NBVAL_CHECK_OUTPUT
reject = kube_proxy.rules_of_service(kube_proxy.rules_for(mismatch, "node-eu-west-1a"), SERVICE)
print(iptables.to_restore(reject))
print(iptables.to_save(reject))

# %% [markdown]
# The REJECT sends back an ICMP port unreachable, which the client's kernel turns into
# `ECONNREFUSED` at once:

# %%
# NBVAL_CHECK_OUTPUT
print(netshoot.curl(mismatch, CLIENT, CLUSTER_IP_URL).transcript)

# %%
# NBVAL_CHECK_OUTPUT
mismatch_climb = ladder.climb(mismatch, client=CLIENT, service=SERVICE)
print(mismatch_climb.finding)
debugging.rungs_table(mismatch_climb)

# %%
rule_text = iptables.to_restore(reject)
assert '"production/checkout-api-svc has no endpoints"' in rule_text and "-j REJECT" in rule_text
assert "<none>" in netshoot.kubectl_get_endpoints(mismatch, SERVICE).text
assert netshoot.curl(mismatch, CLIENT, CLUSTER_IP_URL).connection.outcome.value == "Connection refused"

# %% [markdown]
# ### kube-proxy stopped syncing: the ClusterIP times out, the Pod IPs answer
#
# A Service created after kube-proxy on the client's node stopped syncing has no rules
# there; the packet to 10.96.214.88 leaves the node towards the default gateway, and no
# machine holds that address. Every Pod IP still answers, which is what points at
# kube-proxy (`--connect-timeout 5` keeps curl from waiting Linux's full 127 s).

# %%
# NBVAL_CHECK_OUTPUT
stale = faults.inject(cluster, "kube-proxy-stale", service=SERVICE, client=CLIENT).cluster
print(netshoot.curl(stale, CLIENT, CLUSTER_IP_URL, connect_timeout=5).transcript)
stale_climb = ladder.climb(stale, client=CLIENT, service=SERVICE)
print()
print(stale_climb.finding)
debugging.rungs_table(stale_climb)

# %% [markdown]
# ### CoreDNS down: the first rung breaks
#
# With the CoreDNS pods not ready, the `kube-dns` Service has no endpoints; queries to
# 10.96.0.10 are never answered and the ladder stops at its first rung. The ClusterIP
# itself still works (see the table above).

# %%
# NBVAL_CHECK_OUTPUT
no_dns = faults.inject(cluster, "coredns-down", service=SERVICE, client=CLIENT).cluster
no_dns_climb = ladder.climb(no_dns, client=CLIENT, service=SERVICE)
print(no_dns_climb.finding)
print()
print("\n\n".join(o.transcript for o in no_dns_climb.rungs[0].outputs[:2]))

# %% [markdown]
# ### A NetworkPolicy: Flannel vs Calico
#
# The policy admits only `role=frontend` pods to checkout-api. Calico enforces it: the
# debug pod's SYNs are dropped and curl times out although the app listens. Flannel has no
# NetworkPolicy support: the same policy object exists and nothing enforces it.

# %%
policed = faults.inject(cluster, "network-policy-deny", service=SERVICE, client=CLIENT).cluster
on_calico = ladder.climb(policed, client=CLIENT, service=SERVICE, cni="calico")
on_flannel = ladder.climb(policed, client=CLIENT, service=SERVICE, cni="flannel")

# %%
# NBVAL_CHECK_OUTPUT
debugging.climbs_table({"calico": on_calico, "flannel": on_flannel})

# %%
# NBVAL_CHECK_OUTPUT
print("calico: ", on_calico.finding)
print()
print("flannel:", "\n".join(on_flannel.notes))

# %% [markdown]
# ### Every fault, found broken and passing fixed
#
# The check the course rests on: for every fault, the climb on the broken cluster names
# it, and the climb on the fixed cluster passes every rung. On Flannel, the one fault it
# cannot see is the NetworkPolicy.

# %%
for name in faults.FAULTS:
    injected = faults.inject(cluster, name, service=SERVICE, client=CLIENT)
    for cni in ("calico", "flannel"):
        found = ladder.climb(injected.cluster, client=CLIENT, service=SERVICE, cni=cni)
        if cni == "flannel" and name == "network-policy-deny":
            assert found.passed, name
        else:
            assert found.finding is not None and found.finding.fault_name == name, (name, cni)
            assert found.finding.layer is faults.fault(name).layer
        assert ladder.climb(injected.fixed(), client=CLIENT, service=SERVICE, cni=cni).passed, (name, cni)

# %% [markdown]
# ## Your turn: break it and climb
#
# Pick one fault or several (Ctrl/Cmd-click), optionally limit the backend faults to one
# pod, pick a CNI and press **Climb**. Things to try:
#
# - `bound-to-localhost` on `checkout-api-6f8b9d-2xkpj` only, then change the seed: the
#   ClusterIP rung flips between ok and BROKEN (the lesson's transcript is the ok case);
# - `network-policy-deny` on calico, then on flannel;
# - `coredns-down` with `selector-mismatch`: the ladder stops at the first broken rung,
#   and the second fault is hidden behind it;
# - `selector-mismatch` on one pod only: the widget says why that makes no sense.

# %%
explorer = debugging.climb_explorer(cluster, client=CLIENT, service=SERVICE,
                                    faults=("bound-to-localhost",))
explorer

# %% [markdown]
# ## The mystery fault
#
# A fault is hidden on the way from the debug pod to `checkout-api-svc`. Below is what
# the tools printed on the climb (the finding is not shown). Name the fault and press
# **Submit**; a wrong name is explained with the model's evidence. Change the mystery's
# number for another one; some hide two faults, one behind the other: name the one you
# see, and the climb is shown again with it fixed.

# %%
exercise = debugging.mystery_exercise(cluster, client=CLIENT, service=SERVICE, seed=2)
exercise

# %%
assert exercise.mystery.count == 1 and exercise.verdict.value == ""

# %% [markdown]
# ## Recap
#
# - Debug from inside: `kubectl run debug-pod --image=nicolaka/netshoot --rm -it
#   --restart=Never -n <namespace>`.
# - Climb DNS name → ClusterIP → (Endpoints) → Pod IP → inside the pod; the first rung
#   that breaks says which layer to look at.
# - Refused means something answered (a REJECT rule, a closed port, an app on
#   127.0.0.1); timed out means nothing did (no kube-proxy rule, a dropped packet).
# - A Service without endpoints is rejected, not silently dropped; `kubectl get
#   endpoints` shows `<none>`.
# - A ClusterIP that works "most of the time" with one Pod IP refusing is one broken
#   endpoint out of several: each connection draws its own.
# - Bare Service names work from the Service's own namespace thanks to the search list;
#   names with fewer than 5 dots are tried with every search domain first.
#
# Next: **07 · Practice questions and quiz**.
