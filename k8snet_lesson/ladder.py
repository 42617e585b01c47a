"""The debugging ladder: DNS name -> ClusterIP -> Endpoints -> Pod IP -> inside the pod.

The lesson's runbook ("Practical Network Debugging"), climbed from a client pod towards
a Service, one rung per layer, each rung recording what its tools printed (the
simulated netshoot of :mod:`k8snet_lesson.netshoot`):

1. **DNS name**: ``curl -v http://<service>:<port>/health``, then ``nslookup
   <service>.<namespace>.svc.cluster.local``. DNS fails: CoreDNS is down.
2. **ClusterIP**: ``curl -v http://<ClusterIP>:<port>/health``. DNS works but the
   ClusterIP fails: kube-proxy, or no endpoints.
3. **Endpoints**: ``kubectl get endpoints``. Empty: the selector matches no pod, or the
   pods are not ready (their addresses are in notReadyAddresses).
4. **Pod IP**: ``curl -v http://<pod IP>:<targetPort>/health`` for every ready endpoint
   (this bypasses kube-proxy). Pod IPs work but the ClusterIP does not: kube-proxy on
   the client's node. A pod IP times out: a NetworkPolicy drops it, or the address is
   caught by another Service's rules (pod and service ranges overlap).
5. **inside the pod**: ``kubectl exec ... -- netstat -tlnp`` and ``kubectl describe
   pod``: bound to 127.0.0.1, listening on another port than declared, a targetPort
   that is not the containerPort, or nothing listening at all.

:func:`climb` stops at the rung that localises the break and returns a :class:`Climb`
with a :class:`Finding`: the layer, the likely fault (a name from
:data:`k8snet_lesson.faults.FAULTS`), the evidence and the advice. :func:`mystery` picks
one or two faults for an exercise, seeded; :func:`check_diagnosis` checks the
learner's answer and that the fix passes the ladder.

The lesson's transcript is internally odd (curl to the ClusterIP answers 200 OK while
curl to one endpoint's Pod IP is refused); the model reproduces it when one endpoint of
three is broken and kube-proxy's draw for the ClusterIP request picks a healthy one,
and the climb says so in its notes.

There is one climb, :func:`climb_with`, and its decisions read only what a debugger
can observe: curl's exit status and verbose lines (:class:`CurlSeen`), nslookup's
answers (:class:`LookupSeen`), the listening sockets netstat or ss lists
(:class:`SocketsSeen`), the API's objects (Endpoints, the pod's declared ports,
NetworkPolicies, Services' ClusterIPs) and what ``explain()`` reads from the client
node's kube-proxy rules: ``iptables-save``, or ``nft list table ip kube-proxy`` when
kube-proxy runs in nftables mode (``proxy_mode``). When every pod IP answers and the
ClusterIP does not, those rules are compared with what kube-proxy should have programmed
for the API's objects (:func:`k8snet_lesson.drift.drift`, as ``k8snet diff`` does): a
missing or drifted Service port is ``kube-proxy-stale``, and the finding names the
Service ports and endpoints that are missing, stale or extra (its ``drift`` field holds
them all). A :class:`Tools` value supplies the tool observations: :class:`ModelTools`
answers from the simulated netshoot and the model's rules (:func:`climb`), and
:mod:`k8snet_lesson.lab.ladder` runs the real ``curl``, ``nslookup`` and ``ss`` in the
kernel lab's namespaces and reads its nodes' rules from the kernel.

What it simplifies: one request per rung (the ClusterIP draw is seeded); the first
Service port is the one climbed; a timeout to a pod IP is put down to NetworkPolicy
when an enforced policy in the API denies the client, and left unnamed otherwise.
"""

from __future__ import annotations

import dataclasses
import random
import typing
from collections.abc import Iterable, Sequence
from ipaddress import IPv4Address
from typing import Any

from .cluster import LOOPBACK, Cluster, Pod, Protocol, Service
from .connect import Outcome, enforces_network_policy, node_rules
from .dns import dns_endpoints, dns_service
from .drift import MODES, Drift, PortDrift, drift, expected, port_drift, port_drift_text
from .endpoints import endpoints_for
from .errors import InvalidValue, NotFound
from .explain import ServiceExplanation, explain
from .faults import FAULTS, Broken, Layer, fault, inject, targets
from .netshoot import (
    Output,
    cat_resolv_conf,
    curl,
    kubectl_describe_pod,
    kubectl_get_endpoints,
    netstat,
    nslookup,
)

__all__ = [
    "Layer",
    "Rung",
    "Finding",
    "Climb",
    "Mystery",
    "Verdict",
    "CurlSeen",
    "LookupSeen",
    "SocketsSeen",
    "Tools",
    "ModelTools",
    "climb",
    "climb_with",
    "mystery",
    "check_diagnosis",
    "layer_label",
]

HEALTH_PATH = "/health"


@dataclasses.dataclass(frozen=True)
class Rung:
    """One rung: what was run, what it printed, and whether this layer works."""

    name: str
    layer: Layer
    outputs: tuple[Output, ...]
    passed: bool
    summary: str


@dataclasses.dataclass(frozen=True)
class Finding:
    """Where the ladder broke: the layer at fault, the likely fault, why, and what to do.

    ``fault_name`` is a registered fault's name, or None when the symptom matches none
    (the evidence still says what was seen).
    """

    layer: Layer
    fault_name: str | None
    evidence: tuple[str, ...]
    advice: str
    layer_label: str = ""  # the layer as this cluster names it (Cilium: no kube-proxy); layer.value by default
    drift: Drift | None = None  # kube-proxy-stale: the client node's rules against the API (k8snet diff)

    def __str__(self) -> str:
        name = self.fault_name or "no registered fault matches"
        lines = [f"Finding: {self.layer_label or self.layer.value}: {name}"]
        lines += [f"  - {line}" for line in self.evidence]
        lines.append(f"  Fix: {self.advice}")
        return "\n".join(lines)


@dataclasses.dataclass(frozen=True)
class Climb:
    """A climb of the ladder: the rungs in order, the finding (None: every rung passed), notes."""

    client: str
    service: str
    cni: str
    seed: int | None  # None: real tools, no seeded draw
    rungs: tuple[Rung, ...]
    finding: Finding | None
    notes: tuple[str, ...] = ()

    @property
    def passed(self) -> bool:
        return self.finding is None

    @property
    def verdict(self) -> tuple[str, str | None] | None:
        """``(layer, fault name)`` of the finding, None when every rung passed."""
        return None if self.finding is None else (self.finding.layer.value, self.finding.fault_name)

    def __str__(self) -> str:
        how = "real tools" if self.seed is None else f"seed {self.seed}"
        head = f"Debugging ladder from {self.client} to Service {self.service} (CNI {self.cni}, {how})"
        out = [head, "=" * len(head)]
        for i, rung in enumerate(self.rungs, 1):
            out += ["", f"{i}. {rung.name}: {'ok' if rung.passed else 'BROKEN'} - {rung.summary}", ""]
            out += [o.transcript for o in rung.outputs]
        out.append("")
        out.append(str(self.finding) if self.finding else "Every rung passed: DNS, the ClusterIP, the endpoints and the pods all answer.")
        if self.notes:
            out += ["", "Notes:"] + [f"  - {n}" for n in self.notes]
        return "\n".join(out)


# --- what a debugger observes ----------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class CurlSeen:
    """What ``curl -v URL`` showed: its exit status and what its verbose lines say.

    ``resolved``: the host name resolved (or was an address); ``connected``: ``* Connected
    to``; ``refused``: ``Connection refused`` (a reset, or ICMP port unreachable);
    ``timed_out``: exit 28; ``status``: the HTTP status line's code, when a response came.
    ``detail`` is the line that says why it failed. ``served_by`` is the endpoint that
    answered, when the tool can tell (the model knows its draw; a real curl to a ClusterIP
    does not show it), and is only ever used for notes, never for a decision.
    """

    output: Any
    exit_code: int
    resolved: bool
    connected: bool
    refused: bool
    timed_out: bool
    status: int | None
    detail: str
    served_by: tuple[IPv4Address, int] | None = None

    @property
    def ok(self) -> bool:
        return self.exit_code == 0 and self.status == 200


@dataclasses.dataclass(frozen=True)
class LookupSeen:
    """What ``nslookup NAME`` showed: the addresses answered, or how it failed.

    ``timed_out``: no server answered; otherwise ``rcode`` is the answer's code
    (``NXDOMAIN``, ``NOERROR`` for a name without A records). ``detail`` says why the
    queries were lost when they were.
    """

    output: Any
    nameserver: IPv4Address | None
    addresses: tuple[IPv4Address, ...]
    timed_out: bool
    rcode: str | None
    detail: str = ""

    @property
    def ok(self) -> bool:
        return bool(self.addresses)


@dataclasses.dataclass(frozen=True)
class SocketsSeen:
    """The pod's listening TCP sockets, ``(address, port)``, as ``netstat -tlnp`` or ``ss -tlnp`` list them."""

    output: Any
    tool: str
    listening: tuple[tuple[IPv4Address, int], ...]


class Tools(typing.Protocol):
    """Where a climb's evidence comes from: the tools of a shell in the client pod, and the client node's rules.

    ``cni`` is the cluster's CNI (whether NetworkPolicy is enforced); ``curl`` and
    ``nslookup`` run in the client pod; ``resolv_conf`` is its ``cat /etc/resolv.conf``;
    ``sockets`` runs ``netstat``/``ss`` in another pod; ``kube_proxy`` is the explanation
    of a node's kube-proxy rules in ``proxy_mode``: :func:`k8snet_lesson.explain.explain`
    of its ``iptables-save``, or :func:`k8snet_lesson.nftables.explain.explain` of its
    ``nft list table ip kube-proxy``. What the API holds (``kubectl get endpoints``,
    ``kubectl describe pod``, NetworkPolicies, labels) is read from the cluster value itself.
    """

    cni: str
    proxy_mode: str  # "iptables" or "nftables"

    def curl(self, url: str) -> CurlSeen: ...

    def nslookup(self, name: str) -> LookupSeen: ...

    def resolv_conf(self) -> Any: ...

    def sockets(self, pod: Pod) -> SocketsSeen: ...

    def kube_proxy(self, node: str) -> tuple[ServiceExplanation, ...]: ...


@dataclasses.dataclass(frozen=True)
class ModelTools:
    """The model's tools: the simulated netshoot of :mod:`k8snet_lesson.netshoot` and the model's rules.

    Each request is its own draw from a generator seeded with ``seed``, in the order the
    climb makes them, as each connection in the kernel is drawn anew. ``proxy_mode`` picks
    the rules :meth:`kube_proxy` reads (the generator of that mode over what the node's
    kube-proxy last synced); the simulated requests walk the iptables rules in either
    mode, since both modes give a request the same outcome: an endpoint drawn with the
    same shares, refused (no endpoints: reject), or timed out (no rule in iptables mode;
    nftables mode drops a ClusterIP it has no element for).
    """

    cluster: Cluster
    client: Pod
    cni: str
    seed: int = 0
    proxy_mode: str = "iptables"
    draws: random.Random = dataclasses.field(init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "draws", random.Random(self.seed))

    def _draw(self) -> int:
        return self.draws.randrange(2**32)

    def curl(self, url: str) -> CurlSeen:
        shown = curl(self.cluster, self.client, url, cni=self.cni, seed=self._draw())
        conn = shown.connection
        if conn is None:
            last = shown.text.splitlines()[-1] if shown.text else ""
            return CurlSeen(shown, shown.exit_code, False, False, False, shown.exit_code == 28, None, last)
        return CurlSeen(
            shown,
            shown.exit_code,
            True,
            conn.established,
            conn.outcome is Outcome.REFUSED,
            shown.exit_code == 28,
            200 if conn.established else None,
            conn.detail,
            conn.endpoint,
        )

    def nslookup(self, name: str) -> LookupSeen:
        shown = nslookup(self.cluster, self.client, name, cni=self.cni, seed=self._draw())
        r = shown.resolution
        rcode = None if r.timed_out or not r.answers else r.answers[-1].rcode.value
        return LookupSeen(shown, r.nameserver, r.addresses, r.timed_out, rcode, r.reason)

    def resolv_conf(self) -> Output:
        return cat_resolv_conf(self.cluster, self.client)

    def sockets(self, pod: Pod) -> SocketsSeen:
        listening = tuple((a, p) for c in pod.containers for (a, p, proto) in c.listening if proto is Protocol.TCP)
        return SocketsSeen(netstat(self.cluster, pod), "netstat -tlnp", listening)

    def kube_proxy(self, node: str) -> tuple[ServiceExplanation, ...]:
        if self.proxy_mode == "nftables":
            from .connect import kube_proxy_view
            from .nftables import rules_for as nft_rules_for
            from .nftables.explain import explain as explain_nft

            return explain_nft(nft_rules_for(kube_proxy_view(self.cluster, node), node))
        return explain(node_rules(self.cluster, node))


# --- the climb -------------------------------------------------------------------------------


def _resolve_targets(cluster: Cluster, client: Pod | str, service: Service | str) -> tuple[Pod, Service]:
    target, source = targets(cluster, service, client)
    if not target.ports:
        raise InvalidValue(f"service {target.key} has no ports to climb towards")
    return source, target


def _short_name(client: Pod, service: Service) -> str:
    return service.name if client.namespace == service.namespace else f"{service.name}.{service.namespace}"


def _finding(name: str | None, layer: Layer | None, evidence: Iterable[str], advice: str | None = None) -> Finding:
    if name is not None:
        registered = fault(name)
        return Finding(layer or registered.layer, name, tuple(evidence), advice or registered.fix)
    return Finding(layer or Layer.POD_IP, None, tuple(evidence), advice or "read the evidence; no registered fault matches")


def _dns_rung(tools: Tools, cluster: Cluster, client: Pod, service: Service) -> tuple[Rung, Finding | None]:
    port = service.ports[0].port
    by_name = tools.curl(f"http://{_short_name(client, service)}:{port}{HEALTH_PATH}")
    look = tools.nslookup(service.dns_name)
    if look.ok:
        summary = f"{service.dns_name} is {', '.join(map(str, look.addresses))}"
        if by_name.ok:
            summary += "; the Service answers by name, so DNS and the Service work"
        return Rung("DNS name", Layer.DNS, (by_name.output, look.output), True, summary), None

    outputs = [by_name.output, look.output, tools.resolv_conf()]
    kube_dns = dns_service(cluster)
    evidence = []
    if look.timed_out:
        evidence.append(f"nslookup got no answer from {look.nameserver}: {look.detail}")
    if kube_dns is None:
        evidence.append("there is no kube-system/kube-dns Service at all")
        name = None
    else:
        outputs.append(kubectl_get_endpoints(cluster, kube_dns))
        ready = dns_endpoints(cluster)
        coredns = [p for p in cluster.pods if kube_dns.selects(p)]
        if not ready:
            states = ", ".join(f"{p.name} (Ready: {p.ready}, restarts {p.restarts})" for p in coredns) or "none"
            evidence.append(f"kube-dns has no ready endpoints; CoreDNS pods: {states}")
            name = "coredns-down"
        else:
            evidence.append(f"kube-dns has ready endpoints ({', '.join(map(str, ready))}) but the query was lost on the way")
            name = None
    if not look.timed_out and look.rcode is not None:
        evidence.append(f"CoreDNS answered {look.rcode} for {service.dns_name}")
    rung = Rung("DNS name", Layer.DNS, tuple(outputs), False, f"{service.dns_name} does not resolve")
    return rung, _finding(name, Layer.DNS, evidence)


def _endpoints_rung(cluster: Cluster, service: Service) -> tuple[Rung, Finding | None, tuple]:
    endpoints = endpoints_for(cluster, service)
    shown = kubectl_get_endpoints(cluster, service)
    ready = [(a.ip, a, s.ports) for s in endpoints.subsets for a in s.addresses]
    if ready:
        summary = f"{len(ready)} ready address{'es' if len(ready) != 1 else ''}"
        if endpoints.not_ready_addresses:
            summary += f", {len(endpoints.not_ready_addresses)} not ready"
        return Rung("Endpoints", Layer.ENDPOINTS, (shown,), True, summary), None, tuple(ready)

    selected = [p for p in cluster.pods if service.selects(p)]
    outputs = [shown]
    evidence = [f"kubectl get endpoints shows no ready address for {service.key}"]
    if not selected:
        selector = service.selector
        evidence.append(f"the selector {selector} matches no pod in namespace {service.namespace}")
        near = [p for p in cluster.pods if p.namespace == service.namespace and selector and set(selector) & set(p.labels)]
        for p in near[:5]:
            shared = ", ".join(f"{k}={p.labels[k]}" for k in sorted(set(selector or ()) & set(p.labels)))
            evidence.append(f"pod {p.name} is labelled {shared}")
        name = "selector-mismatch" if selector else None
    elif endpoints.not_ready_addresses:
        not_ready = [p for p in selected if not p.ready]
        evidence.append(
            "notReadyAddresses: " + ", ".join(str(ip) for ip in endpoints.not_ready_addresses)
            + " (the pods run but fail their readiness probes; kube-proxy never sends them traffic)"
        )
        if not_ready:
            outputs.append(kubectl_describe_pod(cluster, not_ready[0]))
        name = "readiness-failing"
    else:
        evidence.append(f"{len(selected)} pods match the selector but none has an address or a matching port")
        name = None
    rung = Rung("Endpoints", Layer.ENDPOINTS, tuple(outputs), False, "no ready endpoints")
    return rung, _finding(name, Layer.ENDPOINTS, evidence), ()


def _endpoint_port(ports: Sequence, service: Service) -> int | None:
    first = service.ports[0]
    for p in ports:
        if (p.name or "") == (first.name or "") and p.protocol == first.protocol:
            return p.port
    return ports[0].port if ports else None


def _inside(tools: Tools, cluster: Cluster, pod: Pod, port: int) -> tuple[Rung, Finding]:
    seen = tools.sockets(pod)
    described = kubectl_describe_pod(cluster, pod)
    declared = {p.container_port for c in pod.containers for p in c.ports if p.protocol is Protocol.TCP}
    sockets = seen.listening
    public = {p for (a, p) in sockets if a != LOOPBACK}
    loopback = {p for (a, p) in sockets if a == LOOPBACK}
    listing = ", ".join(f"{a}:{p}" for a, p in sorted(sockets, key=lambda s: (s[1], int(s[0])))) or "nothing"
    evidence = [f"{seen.tool} in {pod.name}: listening on {listing}"]
    declared_text = ", ".join(map(str, sorted(declared))) or "none"
    if port in loopback:
        evidence.append(f"the app listens on 127.0.0.1:{port}, loopback only: a connection to {pod.pod_ip}:{port} arrives on eth0 and is refused")
        name = "bound-to-localhost"
    elif port not in declared and public & declared:
        evidence.append(
            f"the endpoints send traffic to port {port} (the Service's targetPort), but the pod declares "
            f"containerPort {declared_text} and the app listens there"
        )
        name = "wrong-target-port"
    elif public:
        evidence.append(f"the pod declares containerPort {declared_text}, but the app listens on {', '.join(map(str, sorted(public)))}")
        name = "app-wrong-port" if port in declared else "wrong-target-port"
    else:
        evidence.append(f"containerPort {declared_text} is declared, but nothing in the pod listens on {port}")
        name = "nothing-listening"
    rung = Rung("inside the pod", Layer.APP, (seen.output, described), False, f"nothing accepts connections on {pod.pod_ip}:{port}")
    return rung, _finding(name, None, evidence)


def _denying_policies(cluster: Cluster, client: Pod, server: Pod, cni: str) -> tuple:
    """The NetworkPolicies (``kubectl get networkpolicy``) that select ``server`` and admit nothing from ``client``,
    when ``cni`` enforces them; empty otherwise."""
    if not enforces_network_policy(cni) or server.key == client.key:
        return ()
    applying = tuple(p for p in cluster.network_policies if p.applies_to(server))
    if applying and not any(p.allows(client, server) for p in applying):
        return applying
    return ()


def _policy_notes(cluster: Cluster, client: Pod, service: Service, cni: str) -> list[str]:
    if enforces_network_policy(cni):
        return []
    notes = []
    for pod in (p for p in cluster.pods if service.selects(p)):
        for policy in cluster.network_policies:
            if policy.applies_to(pod) and not policy.allows(client, pod):
                notes.append(
                    f"NetworkPolicy {policy.namespace}/{policy.name} would deny {client.name}, but {cni} does not "
                    "enforce NetworkPolicy: the traffic is allowed (switch to Calico or Cilium and it is dropped)"
                )
                return notes
    return notes


def _replaces_kube_proxy(cni: str) -> bool:
    from .cni import profile

    return profile(cni).replaces_kube_proxy


def layer_label(layer: Layer, cni: str) -> str:
    """``layer`` as a cluster on ``cni`` names it: with Cilium's kube-proxy replacement the
    ClusterIP rung is Cilium's service map, not kube-proxy.

    >>> layer_label(Layer.SERVICE, "calico"), layer_label(Layer.SERVICE, "cilium")
    ('ClusterIP (kube-proxy)', "ClusterIP (Cilium's service map)")
    """
    if layer is Layer.SERVICE and _replaces_kube_proxy(cni):
        return "ClusterIP (Cilium's service map)"
    return layer.value


def _rules_for(explained: Iterable[ServiceExplanation], address: IPv4Address, port: int, protocol: str) -> ServiceExplanation | None:
    return next((e for e in explained if e.cluster_ip == address and e.port == port and e.protocol == protocol), None)


def _not_synced(node: str, service: Service, protocol: str, port: int, absent: bool, mode: str) -> str:
    """The first line of a kube-proxy-stale finding, in the words of the node's proxy mode."""
    if not absent:
        return f"kube-proxy on {node} has not synced: its rules for {service.key} are not what the API holds"
    if mode == "nftables":
        return (f"kube-proxy on {node} has not synced: its nftables table ip kube-proxy has no service-ips element "
                f"for {service.cluster_ip} . {protocol.lower()} . {port} ({service.key})")
    return f"kube-proxy on {node} has not synced: its iptables rules have no KUBE-SVC chain for {service.key}"


_DRIFT_LINES = 4  # the climbed Service port, then at most this many others (the finding's drift has them all)


def _drift_evidence(drifted: Drift, mine: PortDrift | None) -> list[str]:
    """The evidence lines of ``k8snet diff`` on the client's node: the climbed Service port first."""
    out = [f"k8snet diff on {drifted.node} ({drifted.mode} mode): {len(drifted.ports)} Service port"
           f"{'s' if len(drifted.ports) != 1 else ''} drifted, {len(drifted.in_sync)} in sync"]
    if mine is not None:
        out.append(port_drift_text(mine))
    others = [p for p in drifted.ports if p != mine]
    out += [port_drift_text(p) for p in others[:_DRIFT_LINES]]
    if len(others) > _DRIFT_LINES:
        out.append(f"... and {len(others) - _DRIFT_LINES} more drifted Service ports")
    return out


def climb(cluster: Cluster, *, client: Pod | str, service: Service | str, cni: str | None = None, seed: int = 0,
          proxy_mode: str = "iptables") -> Climb:
    """Climb the ladder from ``client`` to ``service`` with the model's tools; stop at the rung that localises the break.

    ``proxy_mode`` is kube-proxy's mode (``iptables`` or ``nftables``): the rules the
    ClusterIP rung reads and compares with the API."""
    source, target = _resolve_targets(cluster, client, service)
    cni = cni or cluster.cni
    enforces_network_policy(cni)  # an unknown CNI fails here, naming the known ones
    if proxy_mode not in MODES:
        raise InvalidValue(f"no proxy mode {proxy_mode!r} (modes: {', '.join(MODES)})")
    return climb_with(ModelTools(cluster, source, cni, seed, proxy_mode), cluster, client=source, service=target,
                      seed=seed)


def climb_with(tools: Tools, cluster: Cluster, *, client: Pod | str, service: Service | str, seed: int | None = None) -> Climb:
    """Climb the ladder from ``client`` to ``service`` on what ``tools`` observe; ``cluster`` is the API.

    Every decision reads an observation a debugger has: exit codes and verbose lines of
    curl, nslookup's answers, the listening sockets, the API's objects, and the client
    node's kube-proxy rules. ``seed`` is only shown (the draw the tools were seeded with).
    """
    source, target = _resolve_targets(cluster, client, service)
    cni = tools.cni
    rungs: list[Rung] = []
    notes = _policy_notes(cluster, source, target, cni)

    def done(finding: Finding | None) -> Climb:
        if finding is not None and layer_label(finding.layer, cni) != finding.layer.value:
            finding = dataclasses.replace(finding, layer_label=layer_label(finding.layer, cni))
        return Climb(source.key, target.key, cni, seed, tuple(rungs), finding, tuple(notes))

    rung, finding = _dns_rung(tools, cluster, source, target)
    rungs.append(rung)
    if finding:
        return done(finding)

    first = target.ports[0]
    port = first.port
    through_service = None
    if target.cluster_ip is not None:
        through_service = tools.curl(f"http://{target.cluster_ip}:{port}{HEALTH_PATH}")
        summary = "200 OK" if through_service.ok else through_service.detail
        rungs.append(Rung("ClusterIP", Layer.SERVICE, (through_service.output,), through_service.ok, summary))
    else:
        notes.append(f"{target.key} is headless (clusterIP: None): DNS returns the pod IPs and there is no ClusterIP rung")

    rung, finding, ready = _endpoints_rung(cluster, target)
    rungs.append(rung)
    if finding:
        return done(finding)

    outputs, failed = [], []
    for address, _endpoint_address, ports in ready:
        pod_port = _endpoint_port(ports, target)
        if pod_port is None:
            continue
        seen = tools.curl(f"http://{address}:{pod_port}{HEALTH_PATH}")
        outputs.append(seen.output)
        if not seen.ok:
            failed.append((seen, address, pod_port))
    broken = len(failed)
    summary = f"{len(outputs) - broken} of {len(outputs)} pod IPs answer"
    rungs.append(Rung("Pod IP", Layer.POD_IP, tuple(outputs), not failed, summary))
    node = source.node_name

    if not failed:
        if through_service is not None and not through_service.ok:
            evidence = [f"every pod IP answers, the ClusterIP does not: {through_service.detail}"]
            explained = tools.kube_proxy(node)
            programmed = _rules_for(explained, target.cluster_ip, port, first.protocol.iptables)
            name, advice, drifted = None, None, None
            if programmed is None and _replaces_kube_proxy(cni):
                # No kube-proxy runs: Cilium's agent answers ClusterIPs from its eBPF service map
                # (the model reads the same entries kube-proxy would have programmed).
                evidence.append(f"{cni} replaces kube-proxy: there are no KUBE-SVC rules to read; Cilium's service "
                                f"map on {node} (cilium-dbg service list) has no entry for {target.cluster_ip}:{port}")
                name = "kube-proxy-stale"
                advice = ("restart the Cilium agent on that node (kubectl -n kube-system delete pod -l k8s-app=cilium "
                          "--field-selector spec.nodeName=NODE), so it syncs its service map again")
            else:
                # k8snet diff: what kube-proxy should have programmed for the API's objects, against the node's rules.
                drifted = drift(expected(cluster, node, mode=tools.proxy_mode), explained, mode=tools.proxy_mode,
                                node=node)
                mine = port_drift(drifted, first.protocol.iptables, target.cluster_ip, port)
                if programmed is None or mine is not None:
                    evidence.append(_not_synced(node, target, first.protocol.iptables, port, programmed is None,
                                                tools.proxy_mode))
                    evidence += _drift_evidence(drifted, mine)
                    name = "kube-proxy-stale"
                elif programmed.drop:
                    evidence.append("internalTrafficPolicy: Local and no endpoint on the client's node")
            finding = _finding(name, Layer.SERVICE, evidence, advice)
            if name == "kube-proxy-stale" and drifted is not None:
                finding = dataclasses.replace(finding, drift=drifted)
            return done(finding)
        return done(None)

    seen, address, pod_port = failed[0]
    if through_service is not None and through_service.ok:
        picked = through_service.served_by
        drawn = (
            f"kube-proxy's random draw (climb seed {seed}) picked {picked[0]}:{picked[1]}, a healthy endpoint"
            if picked is not None else "kube-proxy's random draw picked a healthy endpoint"
        )
        notes.append(
            f"The ClusterIP request succeeded because {drawn}; {broken} of {len(outputs)} endpoints are broken, so about "
            f"{broken} in {len(outputs)} requests through the Service fail. The lesson's transcript "
            "(ClusterIP 200 OK, Pod IP refused) is this case."
        )
    pod_ip = f"{address}:{pod_port}"
    catching = cluster.service_by_ip(address)  # kubectl get services -A
    if catching is not None:
        evidence = [
            f"pod IP {address} is also the ClusterIP of Service {catching.key}: kube-proxy on "
            f"{node} catches {pod_ip} ({seen.detail})",
            f"the pod network {cluster.cluster_cidr} overlaps the service range {cluster.service_cidr}",
        ]
        return done(_finding("cidr-overlap", None, evidence))
    server = cluster.pod_by_ip(address)  # kubectl get pods -o wide
    denying = _denying_policies(cluster, source, server, cni) if server is not None and seen.timed_out else ()
    if denying:
        inside = tools.sockets(server)
        listens = any(p == pod_port and a != LOOPBACK for a, p in inside.listening)
        summary = "the app listens; the packets never reach it" if listens else "the packets never reach the pod"
        rungs.append(Rung("inside the pod", Layer.APP, (inside.output,), listens, summary))
        names = ", ".join(f"{p.namespace}/{p.name}" for p in denying)
        evidence = [
            f"curl to {pod_ip} times out while the app listens ({inside.tool.split()[0]}): the SYN is dropped on the way"
            if listens else f"curl to {pod_ip} times out: the SYN is dropped on the way",
            f"NetworkPolicy {names} selects {server.name} and admits no ingress from {source.name}; {cni} enforces it",
        ]
        return done(_finding("network-policy-deny", None, evidence))
    if seen.refused and server is not None:
        rung, finding = _inside(tools, cluster, server, pod_port)
        rungs.append(rung)
        return done(finding)
    return done(_finding(None, Layer.POD_IP, [f"curl to {pod_ip}: {seen.detail}"]))


# --- exercises ------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Mystery:
    """A broken cluster for an exercise: one or two hidden faults on the way to a Service."""

    broken: Broken
    seed: int
    cni: str

    @property
    def cluster(self) -> Cluster:
        return self.broken.cluster

    @property
    def client(self) -> str:
        return self.broken.client

    @property
    def service(self) -> str:
        return self.broken.service

    @property
    def count(self) -> int:
        """How many faults are hidden (the exercise may tell the learner)."""
        return len(self.broken.faults)

    def climb(self, cluster: Cluster | None = None) -> Climb:
        """Climb the ladder on the mystery cluster (or on ``cluster``, a partly fixed one)."""
        return climb(cluster or self.cluster, client=self.client, service=self.service, cni=self.cni, seed=self.seed)

    def without(self, name: str) -> Cluster:
        """The cluster with fault ``name`` fixed (the others stay)."""
        return self.broken.without(name)

    def fixed(self) -> Cluster:
        return self.broken.fixed()


@dataclasses.dataclass(frozen=True)
class Verdict:
    """The check of a diagnosis: which faults were named right, missed, or named wrongly."""

    correct: bool
    found: tuple[str, ...]
    missed: tuple[str, ...]
    wrong: tuple[str, ...]
    fixed_passes: bool
    message: str

    def __str__(self) -> str:
        return self.message


def _observable(cluster: Cluster, names: tuple[str, ...], client: str, service: str, cni: str, seed: int) -> Broken | None:
    """Inject ``names``; keep it only if the ladder finds each fault, one after the other."""
    try:
        broken = inject(cluster, names, service=service, client=client)
    except (InvalidValue, NotFound):
        return None
    remaining, current = set(names), broken.cluster
    while remaining:
        result = climb(current, client=client, service=service, cni=cni, seed=seed)
        if result.finding is None or result.finding.fault_name not in remaining:
            return None
        remaining.discard(result.finding.fault_name)
        current = inject(broken.healthy, tuple(remaining), service=service, client=client).cluster
    return broken


def mystery(
    cluster: Cluster,
    seed: int,
    client: Pod | str,
    service: Service | str,
    *,
    cni: str | None = None,
    candidates: Sequence[str] | None = None,
) -> Mystery:
    """Pick one or two faults (seeded) that the ladder can find here, and hide them in ``cluster``.

    Two faults are always of different layers. Faults the ladder cannot see on this
    cluster (a NetworkPolicy on a CNI that ignores policy, CoreDNS in a cluster without
    it) are never picked. ``candidates`` limits the choice to those fault names.
    """
    source, target = _resolve_targets(cluster, client, service)
    cni = cni or cluster.cni
    enforces = enforces_network_policy(cni)
    pool = list(candidates) if candidates is not None else list(FAULTS)
    for name in pool:
        fault(name)
    pool = [n for n in pool if enforces or not FAULTS[n].needs_policy_enforcement]
    if climb(cluster, client=source, service=target, cni=cni, seed=seed).finding is not None:
        raise InvalidValue(f"the cluster is broken already on the way from {source.key} to {target.key}: start from a healthy one")
    rng = random.Random(seed)
    singles = list(pool)
    rng.shuffle(singles)
    pairs = [(a, b) for i, a in enumerate(pool) for b in pool[i + 1 :] if FAULTS[a].layer is not FAULTS[b].layer]
    rng.shuffle(pairs)
    choices: list[tuple[str, ...]] = [(n,) for n in singles]
    if rng.random() < 0.5:
        choices = [tuple(p) for p in pairs] + choices
    for names in choices:
        broken = _observable(cluster, names, source.key, target.key, cni, seed)
        if broken is not None:
            return Mystery(broken, seed, cni)
    raise InvalidValue(f"no fault the ladder can find from {source.key} to {target.key} on {cni}")


def check_diagnosis(mystery: Mystery, names: str | Iterable[str]) -> Verdict:
    """Check the learner's fault names against the mystery's, and that the fix passes the ladder."""
    given = (names,) if isinstance(names, str) else tuple(names)
    for name in given:
        fault(name)
    actual = set(mystery.broken.faults)
    found = tuple(n for n in mystery.broken.faults if n in given)
    missed = tuple(n for n in mystery.broken.faults if n not in given)
    wrong = tuple(dict.fromkeys(n for n in given if n not in actual))
    fixed_passes = mystery.climb(mystery.fixed()).passed
    correct = not missed and not wrong
    if correct:
        message = f"Right: {', '.join(found)}. " + " ".join(f"Fix: {FAULTS[n].fix}." for n in found)
    else:
        parts = []
        if found:
            parts.append(f"right: {', '.join(found)}")
        if wrong:
            parts.append(f"not the fault here: {', '.join(wrong)}")
        if missed:
            parts.append(f"{len(missed)} fault{'s' if len(missed) != 1 else ''} still hidden")
        message = "Not yet: " + "; ".join(parts) + ". Climb again, rung by rung."
    if not fixed_passes:
        message += " (The fixed cluster does not pass the ladder: the starting cluster was not healthy.)"
    return Verdict(correct, found, missed, wrong, fixed_passes, message)
