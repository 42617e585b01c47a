# %% [markdown]
# # 08 · The kernel lab: the lesson's cluster, built from real Linux networking
#
# **What you will be able to do:**
#
# - see the lesson's three-node cluster built from the same pieces a real node uses: network
#   namespaces, veth pairs, the `cni0` bridge, Flannel's `flannel.1` VXLAN device, kube-proxy's
#   iptables rules and a DNS server behind the `kube-dns` ClusterIP;
# - compare what Linux prints (`ip addr`, `ip route`, `iptables-save`, packet counters, captured
#   frames) with what the course's model said it would print;
# - watch the debugging ladder find each fault with the real `curl`, `nslookup` and `ss`, and
#   get the same verdict as the model's ladder.
#
# Everything here runs inside private network, mount and PID namespaces that belong to this
# notebook's kernel: nothing touches your machine's own network, and when the kernel stops, Linux
# removes the whole lab by itself. The lab needs Linux, and either root (`CAP_NET_ADMIN`,
# `CAP_SYS_ADMIN`) or unprivileged user namespaces (then it runs rootless, in a user namespace of its
# own); where it cannot run, the cells show the model's side only and say why.

# %%
import pandas as pd

pd.set_option("display.max_colwidth", 160)  # show whole sentences in tables

from k8snet_lesson import cni, networking_model
from k8snet_lesson.connect import node_rules
from k8snet_lesson.explain import explain
from k8snet_lesson.lab import checks, probe, run
from k8snet_lesson.lab.kernel import build
from k8snet_lesson.lab.topology import plan

lesson = run.scenario("lesson")  # the lesson's cluster, plus `kubectl run debug-pod --image=nicolaka/netshoot`
found = probe()
if found.ok:
    print("The kernel lab can run here.")
else:
    print(f"The kernel lab cannot run here: {found.reason}")
    print("The cells below show the model's side only.")

# %% [markdown]
# ## Build it
#
# `build()` plans the namespaces from the cluster value and runs one `ip -batch` per namespace:
# one namespace per node, joined by a bridge in an "underlay" namespace (the node network), a
# `cni0` bridge per node holding its pod CIDR's `.1`, one namespace per pod on a veth, and
# `flannel.1` (VXLAN ID 1, UDP port 8472) with the route, neighbour and forwarding entries
# flanneld writes for every other node. Then it plays the cluster's components: kube-proxy's
# rules are loaded with `iptables-restore`, each pod runs a tiny HTTP server on exactly the port
# and address its container listens on, and dnsmasq stands in for CoreDNS.
#
# The lesson's nodes sit at 192.168.1.10, 192.168.2.10 and 192.168.3.10; the lab's node network is
# 192.168.0.0/24, so it renumbers them, and it builds Flannel's network although the lesson's
# `ip addr` output is Calico's. It says so:

# %%
lab = build(lesson.cluster) if found.ok else None
layout = lab.topology if lab else plan(lesson.cluster, "k8snet-notebook-")
cluster = layout.cluster  # the cluster as built: the model and the kernel both read this one
for note in layout.notes:
    print("note:", note)
print()
print(run.layout(layout, lab.apps.values() if lab else ()))

# %% [markdown]
# ## What a pod sees: `ip addr show eth0` and `ip route`
#
# The lesson runs `kubectl exec ... -- ip addr show eth0` in a pod. Here is the model's answer
# for the debug pod, then what Linux prints inside the pod's namespace:

# %%
debug = cluster.pod(lesson.client)
model_ns = cni.pod_namespace(cluster, debug, "flannel")
print("model:")
print(model_ns.ip_addr_show("eth0"))
print(model_ns.ip_route_show())
if lab:
    print()
    print("kernel:")
    print(lab.in_pod(lesson.client, ["ip", "addr", "show", "eth0"]).stdout.rstrip())
    print(lab.in_pod(lesson.client, ["ip", "route", "show"]).stdout.rstrip())

# %% [markdown]
# The same comparison for every pod and every node's routing table (a node shows
# `10.244.x.0/24 via 10.244.x.0 dev flannel.1 onlink` for each other node: flanneld's route):

# %%
if lab:
    compared = checks.interfaces(lab)
    table = pd.DataFrame([{"where": c.where, "command": c.command, "kernel == model": c.same} for c in compared])
    print(f"{sum(c.same for c in compared)} of {len(compared)} outputs are identical")
    display(table)
else:
    print(cni.node_namespace(cluster, "node-eu-west-1a", "flannel").ip_route_show())

# %% [markdown]
# ## kube-proxy's rules, read back from the kernel
#
# kube-proxy writes `--probability 0.3333333333` for the first of three endpoints. iptables keeps
# the probability as a 31-bit integer, `lround(p × 2³¹)`, and prints it back from that integer,
# so `iptables-save` shows `0.33333333349`. The core parser reads the kernel's text and
# `explain()` turns it into shares: still one third each, to nine decimals.

# %%
node = cluster.node_of(debug).name
if lab:
    saved = lab.save(node)
    print("\n".join(line for line in saved.splitlines() if "checkout-api-svc ->" in line))
    print()
model_entries = {(e.cluster_ip, e.port, e.protocol): e for e in explain(node_rules(cluster, node))}
checkout = cluster.service(lesson.service)
model = model_entries[(checkout.cluster_ip, 80, "tcp")]
rows = [{"endpoint": f"{e.address}:{e.port}", "model probability": e.probability_text or "(last rule)",
         "model share": round(e.share, 10)} for e in model.endpoints]
if lab:
    kernel = next(e for e in explain(lab.kernel_rules(node)) if e.cluster_ip == checkout.cluster_ip and e.port == 80)
    for row, e in zip(rows, kernel.endpoints):
        row["kernel prints"] = e.probability_text or "(last rule)"
        row["kernel share"] = round(e.share, 10)
pd.DataFrame(rows)

# %%
if lab:
    rules_checked = run.rules_agree(lab)
    print("\n".join(f"{r.node}: {len(r.kernel)} service ports, the kernel's shares {'agree' if r.agree else 'DIFFER'}" for r in rules_checked))

# %% [markdown]
# ## The four rules, with real packets
#
# Every pod sends one HTTP request to every other pod that runs a server; the server answers with
# the source address it saw. Rule 1 reads each pod's own `eth0`; rules 2 and 3 hold when the server
# saw the client's own pod IP (no NAT) on the same node and across nodes; rule 4 when every pod is
# dialled at, and seen as, the address on its own `eth0`.

# %%
model_checks = networking_model.check_all(cluster)
rows = [{"rule": m.number, "model": "holds" if m.holds else "fails"} for m in model_checks]
if lab:
    measured = checks.four_rules(lab)
    for row, k in zip(rows, measured.kernel):
        row["kernel"] = "holds" if k.holds else "fails"
        row["kernel evidence"] = k.reason
pd.DataFrame(rows)

# %% [markdown]
# ## The spread: 3,000 connections to the ClusterIP
#
# The debug pod opens 3,000 new connections to `10.96.214.88:80`. Load balancing happens once per
# connection (conntrack remembers the choice), so the lab flushes conntrack and zeroes the counters
# first. Each server answers with its pod name; the kernel counts, per rule of the `KUBE-SVC-...`
# chain, the packets that jumped to each endpoint. The two counts must be equal, and a chi-square
# test compares them with the model's shares (p above 0.001 expected; the kernel's random numbers
# are its own, so the counts change from run to run).

# %%
if lab:
    spread = checks.spread(lab, lesson.client, lesson.service, 3000)
    print(spread.listing)
    display(pd.DataFrame({
        "endpoint": spread.endpoints,
        "model share": [round(s, 4) for s in spread.model_shares],
        "client count": spread.client_counts,
        "kernel counter": spread.kernel_counts,
    }))
    print(f"client counts equal kernel counters: {spread.counts_agree}; "
          f"chi-square {spread.chi_square.statistic:.2f} ({spread.chi_square.dof} dof), p = {spread.chi_square.p_value:.3f}")
else:
    print("model shares:", [round(e.share, 4) for e in model.endpoints])

# %% [markdown]
# ## The debugging ladder, on real faults
#
# Each fault is one of the model's (`k8snet_lesson.faults`): the lab applies the broken cluster to
# the kernel (new kube-proxy rules with `iptables-restore --noflush`, an app restarted on
# 127.0.0.1, ...), climbs the ladder with the real tools, then applies the fix and climbs again.
# The model climbs its own ladder on the same clusters. The verdicts must match.

# %%
from k8snet_lesson import ladder
from k8snet_lesson.faults import inject
from k8snet_lesson.lab.ladder import check_fault

fault_rows = []
for name in run.DEFAULT_FAULTS:
    if lab:
        checked = check_fault(lab, name, client=lesson.client, service=lesson.service)
        fault_rows.append({"fault": name, "model verdict": run.verdict_text(checked.model_verdict),
                           "kernel verdict": run.verdict_text(checked.kernel_verdict),
                           "fixed: both pass": checked.model_fixed.passed and checked.kernel_fixed.passed})
    else:
        broken = inject(cluster, name, service=lesson.service, client=lesson.client)
        climbed = ladder.climb(broken.cluster, client=lesson.client, service=lesson.service)
        finding = climbed.finding
        fault_rows.append({"fault": name, "model verdict": run.verdict_text(finding and (finding.layer.value, finding.fault_name))})
pd.DataFrame(fault_rows)

# %% [markdown]
# What the real tools printed for the lesson's own case, the app bound to 127.0.0.1 (timings and
# process IDs masked):

# %%
if lab:
    from k8snet_lesson.lab.ladder import climb

    broken = inject(lab.cluster, "bound-to-localhost", service=lesson.service, client=lesson.client)
    lab.apply(broken.cluster)
    try:
        print(run.masked(str(climb(lab, client=lesson.client, service=lesson.service))))
    finally:
        lab.apply(broken.fixed())

# %% [markdown]
# ## A cross-node request on the wire
#
# A capture on node-eu-west-1a's `eth0` (an `AF_PACKET` socket inside the node's namespace) while
# the debug pod calls a checkout pod on node-eu-west-1b, decoded with scapy (told that UDP 8472 is
# VXLAN, as Wireshark must be too): the outer header goes from node IP to node IP, the inner one
# from pod IP to pod IP, unchanged, and each frame is 50 bytes longer than the frame inside it.
# That is why `flannel.1`'s MTU is 1450 on a 1500-byte network.

# %%
if lab:
    from k8snet_lesson.lab.capture import capture

    caught = capture(lab, lesson.client, "production/checkout-api-6f8b9d-7rvqn")
    print(f"flannel.1 MTU: {caught.mtu}; overhead per frame: {sorted(caught.overheads)} bytes; "
          f"the server saw the client as {caught.answer['peer']}")
    display(pd.DataFrame([{
        "outer": f"{f.outer_src} -> {f.outer_dst} UDP {f.udp_dport} VNI {f.vni}",
        "inner": f"{f.inner_src} -> {f.inner_dst}:{f.inner_dport} [{f.inner_flags}]",
        "bytes": f.length, "inner bytes": f.inner_length,
    } for f in caught.frames]))
else:
    print("model: VXLAN adds", 1500 - cni.profile("flannel").mtu, "bytes; flannel.1 MTU", cni.profile("flannel").mtu)

# %% [markdown]
# ## Tear it down
#
# `teardown()` stops every process the lab started (by PID), deletes its namespaces, stops the
# sandbox, and checks that no lab process and no lab namespace is left.

# %%
if lab:
    left = lab.teardown()
    print("nothing left" if left.clean else f"LEFT: {left}")

# %%
if lab:
    assert left.clean
    assert all(c.same for c in compared) and all(r.agree for r in rules_checked)
    assert measured.hold and measured.agree
    assert spread.counts_agree and spread.chi_square.p_value > 1e-3
    assert all(row["model verdict"] == row["kernel verdict"] and row["fixed: both pass"] for row in fault_rows)
    assert caught.overheads == {50} and caught.mtu == 1450
