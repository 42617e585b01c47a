"""Notebook 08's guided steps: a goal, a command to start from, hints, and a check of the answer.

Each :class:`Step` states a goal the learner reaches with real commands in the command
box (:mod:`~k8snet_lesson.lab.commands`), and asks for what they found. :func:`check`
judges the answer against the running lab's real state (a route the kernel picks, a
packet counter, the VXLAN device, the sockets a pod listens on), or, where no lab runs,
against what the model says the lab would show. The expected answer is never stored in
a step: it is read or computed when the learner asks for a check.

The four steps follow one request from the debug pod: which device takes it to another
node (``route``), how kube-proxy spread many of them (``counter``), what the packet
looks like on the node network (``vxlan``), and the lesson's own case, one checkout pod
of three bound to 127.0.0.1 (``broken``: :func:`lesson_case`).

What it simplifies: answers are one word, number or name; a step does not follow the
order in which the learner typed commands.
"""

from __future__ import annotations

import dataclasses
import json
import re
from ipaddress import IPv4Address
from typing import Any

from ..cluster import LOOPBACK, Cluster
from ..errors import InvalidValue, NotFound
from ..predictions.lab import BROKEN_POD, SEEN, lesson_case, service_entry

__all__ = ["Step", "Checked", "steps", "check", "lesson_case", "broken_pod", "open_connections", "service_entry",
           "model_view", "SEEN", "BROKEN_POD"]

@dataclasses.dataclass(frozen=True)
class Step:
    """One guided step: where to start, what to find, how to answer."""

    id: str
    goal: str
    where: str  # where the box starts ("run in")
    start: str  # a command to start from
    question: str
    hints: tuple[str, ...]


@dataclasses.dataclass(frozen=True)
class Checked:
    """The verdict on an answer: right or not, and what the learner reads."""

    correct: bool
    message: str


def _server(cluster: Cluster) -> Any:
    return cluster.pod(SEEN, "production")


def steps(cluster: Cluster, client: str) -> tuple[Step, ...]:
    """The four steps on ``cluster`` (the lesson's, as the lab builds it) from pod ``client``."""
    from .topology import _profile

    debug = cluster.pod(client)
    node = debug.node_name
    server = _server(cluster)
    profile = _profile()
    return (
        Step("route", f"Find the device on {node} that carries {debug.name}'s packets to {server.name} ({server.pod_ip}).",
             node, "ip route",
             f"Which device on {node} sends packets to {server.pod_ip}?",
             (f"Run `ip route` on {node}: the line whose network holds {server.pod_ip} names the device after `dev`.",
              f"`ip route get {server.pod_ip}` asks the kernel which route it would take.")),
        Step("counter", "Open 3,000 new connections to checkout-api-svc, then read the kernel's counters.",
             node, "iptables -t nat -L KUBE-SERVICES -n",
             f"How many of the 3,000 connections did the kernel send to {server.pod_ip}:3000?",
             ("KUBE-SERVICES names the checkout Service's chain: KUBE-SVC-... on the line with 10.96.214.88.",
              "List that chain with counters: `iptables -t nat -L KUBE-SVC-... -n -v -x`; the `pkts` column counts "
              "the connections each KUBE-SEP rule took.",
              f"Each KUBE-SEP chain DNATs to one endpoint: `iptables -t nat -L KUBE-SEP-... -n` shows which is {server.pod_ip}.")),
        Step("vxlan", f"Show that the packet leaves {node} inside UDP {profile.udp_port}.",
             node, f"tcpdump -c 4 -n -i eth0 udp port {profile.udp_port}",
             "Which UDP destination port do the outer headers carry?",
             (f"Capture on {node}'s eth0; the box sends one request from {debug.name} to {server.pod_ip} while you listen.",
              f"tcpdump guesses that port {profile.udp_port} is OTV; add `-T vxlan` to read it as VXLAN.",
              f"`ip -d link show {profile.tunnel_device}` shows the port the VXLAN device sends to.")),
        Step("broken", "Break one checkout pod of three (the first button), then find it with curl and ss.",
             client, "curl -s http://checkout-api-svc/health",
             "Which pod is broken? Give its name or its IP.",
             ("curl the Service a few times: some requests fail. `kubectl get pods -o wide` lists the pod IPs.",
              "curl each pod IP on port 3000: one is refused.",
              "`ss -tlnp` in that pod (pick it in 'run in') shows the address its app listens on.",
              "In that pod, `curl -s http://127.0.0.1:3000/health` answers: the app runs, on loopback only.")),
    )


def broken_pod(cluster: Cluster, *, lab: Any = None, service: str = "production/checkout-api-svc") -> tuple[str, ...]:
    """The pods behind ``service`` whose app does not listen on the pod IP (names).

    With a lab: read from ``ss -tlnp`` in each pod (the kernel's sockets); without: the model's.
    """
    from ..faults import backends, target_port

    target = cluster.service(service)
    out = []
    for pod in backends(cluster, target):
        port = target_port(target, pod)
        if lab is not None:
            from .ladder import listening_sockets

            text = lab.in_pod(pod.key, ["ss", "-tln"], check=False).stdout
            sockets = listening_sockets(text)
        else:
            sockets = tuple((a, p) for c in pod.containers for (a, p, _) in c.listening)
        if not any(p == port and a != LOOPBACK for a, p in sockets):
            out.append(pod.name)
    return tuple(out)


def open_connections(cluster: Cluster, *, client: str, connections: int = 300, lab: Any = None,
                     seed: int = 8) -> dict[str, int]:
    """Open ``connections`` new connections from ``client`` to checkout-api-svc: counts per endpoint address.

    With a lab, real connections (conntrack flushed and counters zeroed first, as
    :func:`k8snet_lesson.lab.checks.spread` does) counted by the client; without one,
    the model's draw over the same rules (``seed``).
    """
    if lab is not None:
        from .checks import spread

        done = spread(lab, client, "production/checkout-api-svc", connections)
        return {e.split(":")[0]: n for e, n in zip(done.endpoints, done.client_counts)}
    from ..simulate import simulate

    entry = service_entry(cluster, cluster.pod(client).node_name)
    counts = simulate([e.probability for e in entry.endpoints], connections, seed=seed)
    return {str(e.address): int(n) for e, n in zip(entry.endpoints, counts)}


def _route_device(cluster: Cluster, node: str, address: IPv4Address, lab: Any) -> str:
    if lab is not None:
        text = lab.exec(node, ["ip", "route", "get", str(address)]).stdout
        found = re.search(r"\bdev (\S+)", text)
        if found:
            return found.group(1)
    from .. import cni
    from .topology import CNI

    routes = [r for r in cni.node_namespace(cluster, node, CNI).routes if address in r.destination]
    return max(routes, key=lambda r: r.destination.prefixlen).device or ""


def _counter(cluster: Cluster, node: str, address: IPv4Address, lab: Any, simulated: dict | None) -> int | None:
    if lab is None:
        return None if simulated is None else simulated.get(str(address))
    from ..explain import explain
    from .checks import _svc_chain, chain_counters

    service = cluster.service("production/checkout-api-svc")
    entry = next(e for e in explain(lab.kernel_rules(node)) if e.cluster_ip == service.cluster_ip and e.port == 80)
    chains = {e.chain: str(e.address) for e in entry.endpoints}
    listing = lab.list_chain(node, _svc_chain(lab, node, entry))
    counts = {chains[row.target]: row.packets for row in chain_counters(listing) if row.target in chains}
    return counts.get(str(address))


def _vxlan_port(node: str, lab: Any) -> int:
    if lab is not None:
        from .topology import _profile

        text = lab.exec(node, ["ip", "-d", "-j", "link", "show", _profile().tunnel_device]).stdout
        return int(json.loads(text)[0]["linkinfo"]["info_data"]["port"])
    from .topology import _profile

    return int(_profile().udp_port)


def check(step: Step, answer: str, *, cluster: Cluster, client: str, lab: Any = None,
          simulated: dict | None = None) -> Checked:
    """Judge ``answer`` to ``step`` against the lab (or, without one, the model's ``cluster``).

    ``simulated`` holds the model's counts per endpoint address for the ``counter`` step
    where no lab runs. Answers that are not of the asked kind raise InvalidValue.
    """
    given = (answer or "").strip()
    if not given:
        raise InvalidValue("type your answer first")
    if len(given) > 80:
        raise InvalidValue("an answer here is one word, number or name")
    current = lab.cluster if lab is not None else cluster
    debug = current.pod(client)
    node = debug.node_name
    server = _server(current)
    seen = "the kernel" if lab is not None else "the model (no lab runs here)"
    if step.id == "route":
        want = _route_device(current, node, server.pod_ip, lab)
        if given == want:
            return Checked(True, f"Right: {want}, the VXLAN device. {seen.capitalize()} routes {server.pod_ip} through it, "
                                 f"because {server.pod_ip} is in another node's pod CIDR.")
        return Checked(False, f"Not {given}: find the route whose network holds {server.pod_ip} and read its `dev`.")
    if step.id == "counter":
        if not re.fullmatch(r"\d{1,6}", given):
            raise InvalidValue(f"{given!r} is not a count: type a whole number, e.g. 97")
        want_count = _counter(current, node, server.pod_ip, lab, simulated)
        if want_count is None:
            return Checked(False, "Open the connections first (the button above), then read the counter.")
        if int(given) == want_count:
            return Checked(True, f"Right: {want_count}, the `pkts` of that endpoint's rule in {seen}. "
                                 "It is near a third of the connections: the chain's probabilities give each endpoint 1/3.")
        return Checked(False, f"Not {given}. Read the `pkts` column of the KUBE-SVC chain's rule that jumps to "
                              f"{server.pod_ip}'s KUBE-SEP chain.")
    if step.id == "vxlan":
        if not re.fullmatch(r"\d{1,5}", given):
            raise InvalidValue(f"{given!r} is not a port number")
        want_port = _vxlan_port(node, lab)
        if int(given) == want_port:
            return Checked(True, f"Right: UDP {want_port}, Flannel's VXLAN port (IANA's is 4789). The outer header goes "
                                 f"from node IP to node IP; inside, the pod-to-pod packet is unchanged.")
        if int(given) == 4789:
            return Checked(False, "4789 is IANA's VXLAN port; Flannel chose its own before that. Look at the capture.")
        return Checked(False, f"Not {given}: read the port after the destination address on the outer `IP` line.")
    if step.id == "broken":
        broken = broken_pod(current, lab=lab)
        if not broken:
            return Checked(False, "No checkout pod is broken right now: every one listens on its pod IP.")
        names = {p.name: p for p in current.pods if p.name in broken}
        by_ip = {str(p.pod_ip): p.name for p in names.values()}
        name = by_ip.get(given, given.split("/")[-1])
        if name in names:
            return Checked(True, f"Right: {name} ({names[name].pod_ip}). Its app listens on 127.0.0.1:3000 only, so "
                                 "connections to its pod IP are refused, and about 1 in 3 requests through the Service fail.")
        try:
            current.pod(name, "production")
        except NotFound:
            raise InvalidValue(f"no pod {given!r} in production (kubectl get pods -o wide lists them)") from None
        return Checked(False, f"{name} answers on its pod IP. Try curl on each pod IP, port 3000.")
    raise NotFound(f"no step {step.id!r}")


def model_view(step: Step, cluster: Cluster, *, client: str, simulated: dict | None = None) -> str:
    """What the step's commands would show, as the model computes it (for where no lab runs)."""
    from .. import cni
    from .topology import CNI, _profile, lab_cluster

    built, _ = lab_cluster(cluster)
    debug = built.pod(client)
    node = built.node_of(debug)
    server = _server(built)
    if step.id == "route":
        return f"$ ip route   (on {node.name}, as the model computes it)\n" + cni.node_namespace(built, node.name, CNI).ip_route_show()
    if step.id == "counter":
        if not simulated:
            return "Open the connections first (the button above)."
        lines = [f"The model's draw of {sum(simulated.values()):,} connections (seeded; the kernel draws its own):"]
        lines += [f"  {address:<14} {count:>5}" for address, count in simulated.items()]
        return "\n".join(lines)
    if step.id == "vxlan":
        profile = _profile()
        remote = built.node_of(server)
        return (f"$ tcpdump -c 1 -n -T vxlan -i eth0 udp port {profile.udp_port}   (on {node.name}, as the model computes it)\n"
                f"IP {node.internal_ip}.<port> > {remote.internal_ip}.{profile.udp_port}: VXLAN, flags [I] (0x08), "
                f"vni {profile.vni}\n"
                f"IP {debug.pod_ip}.<port> > {server.pod_ip}.3000: Flags [S], length 0")
    if step.id == "broken":
        from ..netshoot import netstat

        pod = built.pod(BROKEN_POD, "production")
        shown = netstat(built, pod)
        return f"{shown.prompt}{shown.command}\n{shown.text}"
    raise NotFound(f"no step {step.id!r}")
