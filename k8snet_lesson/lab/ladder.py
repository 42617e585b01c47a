"""The debugging ladder climbed with real tools in the lab, next to the model's climb.

The rungs are the model's (:mod:`k8snet_lesson.ladder`): DNS name -> ClusterIP ->
Endpoints -> Pod IP -> inside the pod, each named by a :class:`k8snet_lesson.faults.Layer`,
and a finding names a fault of :data:`k8snet_lesson.faults.FAULTS`. What differs is where
the evidence comes from:

- **DNS name**: real ``curl -v http://<service>:<port>/health`` (the pod's resolver with
  the kubelet's search list) and ``nslookup <service>.<namespace>.svc.cluster.local``
  against dnsmasq behind the kube-dns ClusterIP. When it fails, the client node's real
  iptables rules say whether kube-dns has endpoints (a REJECT rule means none).
- **ClusterIP**: real ``curl -v`` to the ClusterIP, through the node's real kube-proxy rules.
- **Endpoints**: ``kubectl get endpoints`` reads the API, and in the lab the API is the
  model; the rung adds what kube-proxy actually programmed on the client's node
  (the endpoints :func:`k8snet_lesson.explain.explain` reads from ``iptables-save``).
  Why there are none (labels, readiness) is an API question too.
- **Pod IP**: real ``curl -v`` to each ready endpoint. If every pod IP answers but the
  ClusterIP does not, the node's real rules are read: no chain for the Service means
  kube-proxy there is stale.
- **inside the pod**: real ``ss -tlnp`` in the refusing pod; its listening sockets
  against the ports the pod declares (``kubectl describe pod``: the API again).

The model's climb reads the model's reasons (``Output.connection``); it offers no way to
feed it real tool outputs, so this module repeats the climb's decisions over observed
facts (exit codes, HTTP status, listening sockets) and :func:`check_fault` compares the
two verdicts. What it simplifies: one request per rung, as the model does; timeouts
are short (the lab's network answers in milliseconds or not at all).
"""

from __future__ import annotations

import dataclasses
import re
import shlex
from ipaddress import IPv4Address
from typing import Any

from ..cluster import LOOPBACK, Protocol
from ..faults import Layer
from .kernel import Lab

__all__ = ["Observation", "KernelRung", "KernelFinding", "KernelClimb", "climb", "FaultCheck", "check_fault", "listening_sockets"]

PROMPT = "bash-5.1# "
CURL = ("curl", "-v", "-sS", "--connect-timeout", "2", "-m", "3")
NSLOOKUP = ("nslookup", "-timeout=2", "-retry=0")


@dataclasses.dataclass(frozen=True)
class Observation:
    """One real command run in a pod: what it printed (stdout and stderr) and its exit status."""

    where: str
    command: str
    text: str
    exit_code: int

    @property
    def ok(self) -> bool:
        return self.exit_code == 0

    @property
    def transcript(self) -> str:
        return f"{PROMPT}{self.command}\n{self.text.rstrip()}"


@dataclasses.dataclass(frozen=True)
class KernelRung:
    name: str
    layer: Layer
    observations: tuple[Any, ...]  # Observation, or the model's netshoot Output for API reads
    passed: bool
    summary: str


@dataclasses.dataclass(frozen=True)
class KernelFinding:
    layer: Layer
    fault_name: str | None
    evidence: tuple[str, ...]


@dataclasses.dataclass(frozen=True)
class KernelClimb:
    client: str
    service: str
    rungs: tuple[KernelRung, ...]
    finding: KernelFinding | None

    @property
    def passed(self) -> bool:
        return self.finding is None

    @property
    def verdict(self) -> tuple[str, str | None] | None:
        return None if self.finding is None else (self.finding.layer.value, self.finding.fault_name)

    def __str__(self) -> str:
        head = f"Debugging ladder with real tools from {self.client} to Service {self.service}"
        out = [head, "=" * len(head)]
        for i, rung in enumerate(self.rungs, 1):
            out += ["", f"{i}. {rung.name}: {'ok' if rung.passed else 'BROKEN'} - {rung.summary}", ""]
            out += [o.transcript for o in rung.observations]
        out.append("")
        if self.finding is None:
            out.append("Every rung passed.")
        else:
            out.append(f"Finding: {self.finding.layer.value}: {self.finding.fault_name or 'no registered fault matches'}")
            out += [f"  - {line}" for line in self.finding.evidence]
        return "\n".join(out)


def _run(lab: Lab, pod: str, argv: tuple[str, ...] | list[str]) -> Observation:
    done = lab.in_pod(pod, list(argv), check=False, timeout=30)
    text = (done.stdout + done.stderr) if done.stdout and done.stderr else (done.stdout or done.stderr)
    return Observation(lab.topology.pod(pod).key, shlex.join(argv), text, done.returncode)


def _http_ok(observation: Observation) -> bool:
    return observation.ok and "< HTTP/1.1 200" in observation.text


def _resolved(observation: Observation) -> list[IPv4Address]:
    """The addresses bind9's nslookup printed after ``Name:`` lines."""
    out = []
    after_name = False
    for line in observation.text.splitlines():
        if line.startswith("Name:"):
            after_name = True
        elif after_name and line.startswith("Address:"):
            out.append(IPv4Address(line.split()[1].split("#")[0]))
    return out


_SS_LOCAL = re.compile(r"^\s*LISTEN\s+\d+\s+\d+\s+(\S+):(\d+)\s")


def listening_sockets(ss_output: str) -> tuple[tuple[IPv4Address, int], ...]:
    """The (address, port) of each listening TCP socket in ``ss -tlnp`` output.

    >>> listening_sockets('''State  Recv-Q Send-Q Local Address:Port Peer Address:PortProcess
    ... LISTEN 0      5          127.0.0.1:3000      0.0.0.0:*    users:(("python",pid=7,fd=3))
    ... ''')
    ((IPv4Address('127.0.0.1'), 3000),)
    """
    out = []
    for line in ss_output.splitlines():
        match = _SS_LOCAL.match(line)
        if match and match.group(1) not in ("*", "[::]"):
            out.append((IPv4Address(match.group(1)), int(match.group(2))))
    return tuple(out)


def _kernel_endpoints(lab: Lab, node: str, cluster_ip: IPv4Address, port: int, protocol: str) -> Any:
    """What kube-proxy programmed on ``node`` for one service port (explain() of iptables-save)."""
    from ..explain import explain

    for entry in explain(lab.kernel_rules(node)):
        if entry.cluster_ip == cluster_ip and entry.port == port and entry.protocol == protocol:
            return entry
    return None


def climb(lab: Lab, *, client: str, service: str) -> KernelClimb:
    """Climb the ladder from ``client`` to ``service`` with real tools in the lab."""
    from ..dns import DNS_PORT, dns_service
    from ..endpoints import endpoints_for
    from ..faults import FAULTS
    from ..netshoot import kubectl_describe_pod, kubectl_get_endpoints

    cluster = lab.cluster
    source = lab.topology.pod(client)
    target = cluster.service(service)
    node = source.node
    port = target.ports[0].port
    short = target.name if cluster.pod(source.key).namespace == target.namespace else f"{target.name}.{target.namespace}"
    rungs: list[KernelRung] = []

    def done(layer: Layer | None, name: str | None, evidence: list[str]) -> KernelClimb:
        finding = None if layer is None else KernelFinding(layer, name if name in FAULTS else None, tuple(evidence))
        return KernelClimb(source.key, target.key, tuple(rungs), finding)

    # 1. DNS name
    by_name = _run(lab, source.key, [*CURL, f"http://{short}:{port}/health"])
    look = _run(lab, source.key, [*NSLOOKUP, target.dns_name])
    addresses = _resolved(look)
    if look.ok and addresses:
        summary = f"{target.dns_name} is {', '.join(map(str, addresses))}"
        rungs.append(KernelRung("DNS name", Layer.DNS, (by_name, look), True, summary))
    else:
        evidence = [f"nslookup exited {look.exit_code}: {look.text.strip().splitlines()[-1] if look.text.strip() else 'no output'}"]
        kube_dns = dns_service(cluster)
        name = None
        if kube_dns is not None and kube_dns.cluster_ip is not None:
            entry = _kernel_endpoints(lab, node, kube_dns.cluster_ip, DNS_PORT, "udp")
            if entry is None or not entry.endpoints:
                evidence.append(f"kube-proxy on {node} programs no endpoint for {kube_dns.cluster_ip}:53/udp (REJECT): kube-dns has no ready endpoints")
                name = "coredns-down"
            else:
                evidence.append(f"kube-proxy on {node} sends 53/udp to {', '.join(str(e.address) for e in entry.endpoints)}, yet no answer came")
        rungs.append(KernelRung("DNS name", Layer.DNS, (by_name, look), False, f"{target.dns_name} does not resolve"))
        return done(Layer.DNS, name, evidence)

    # 2. ClusterIP
    through_service = None
    if target.cluster_ip is not None:
        through_service = _run(lab, source.key, [*CURL, f"http://{target.cluster_ip}:{port}/health"])
        ok = _http_ok(through_service)
        last = through_service.text.strip().splitlines()[-1] if through_service.text.strip() else ""
        rungs.append(KernelRung("ClusterIP", Layer.SERVICE, (through_service,), ok, "200 OK" if ok else last))

    # 3. Endpoints (the API's view, and what kube-proxy programmed)
    endpoints = endpoints_for(cluster, target)
    shown = kubectl_get_endpoints(cluster, target)
    ready = [(a.ip, s.ports) for s in endpoints.subsets for a in s.addresses]
    programmed = None
    if target.cluster_ip is not None:
        programmed = _kernel_endpoints(lab, node, target.cluster_ip, port, target.ports[0].protocol.iptables)
    kernel_view = (
        "kube-proxy on {} programs {}".format(
            node,
            "REJECT (no endpoints)" if programmed is None or not programmed.endpoints
            else ", ".join(f"{e.address}:{e.port}" for e in programmed.endpoints),
        )
    )  # fmt: skip
    if not ready:
        evidence = [f"kubectl get endpoints shows no ready address for {target.key}", kernel_view]
        selected = [p for p in cluster.pods if target.selects(p)]
        if not selected:
            evidence.append(f"the selector {target.selector} matches no pod in namespace {target.namespace}")
            name = "selector-mismatch" if target.selector else None
        elif endpoints.not_ready_addresses:
            evidence.append("notReadyAddresses: " + ", ".join(str(ip) for ip in endpoints.not_ready_addresses))
            name = "readiness-failing"
        else:
            name = None
        rungs.append(KernelRung("Endpoints", Layer.ENDPOINTS, (shown,), False, "no ready endpoints"))
        return done(Layer.ENDPOINTS, name, evidence)
    rungs.append(KernelRung("Endpoints", Layer.ENDPOINTS, (shown,), True, f"{len(ready)} ready; {kernel_view}"))

    # 4. Pod IP
    first = target.ports[0]
    observations, failed = [], []
    for address, ports in ready:
        pod_port = next((p.port for p in ports if (p.name or "") == (first.name or "") and p.protocol == first.protocol), None)
        if pod_port is None:
            continue
        shown_curl = _run(lab, source.key, [*CURL, f"http://{address}:{pod_port}/health"])
        observations.append(shown_curl)
        if not _http_ok(shown_curl):
            failed.append((shown_curl, address, pod_port))
    rungs.append(KernelRung("Pod IP", Layer.POD_IP, tuple(observations), not failed,
                            f"{len(observations) - len(failed)} of {len(observations)} pod IPs answer"))  # fmt: skip
    if not failed:
        if through_service is not None and not _http_ok(through_service):
            evidence = [f"every pod IP answers, the ClusterIP does not (curl exit {through_service.exit_code})"]
            name = None
            if programmed is None:
                evidence.append(f"iptables-save on {node} has no rule for {target.cluster_ip}:{port}: kube-proxy there has not synced")
                name = "kube-proxy-stale"
            return done(Layer.SERVICE, name, evidence)
        return done(None, None, [])

    # 5. inside the first pod that refused
    refused, address, pod_port = failed[0]
    if refused.exit_code != 7:
        return done(Layer.POD_IP, None, [f"curl to {address}:{pod_port} exited {refused.exit_code}: not refused, lost on the way"])
    server = next(p for p in cluster.pods if p.pod_ip == address and not p.host_network)
    ss = _run(lab, server.key, ["ss", "-tlnp"])
    described = kubectl_describe_pod(cluster, server)
    sockets = listening_sockets(ss.text)
    declared = {p.container_port for c in server.containers for p in c.ports if p.protocol is Protocol.TCP}
    public = {p for (a, p) in sockets if a != LOOPBACK}
    loopback = {p for (a, p) in sockets if a == LOOPBACK}
    listing = ", ".join(f"{a}:{p}" for a, p in sorted(sockets, key=lambda s: (s[1], int(s[0])))) or "nothing"
    evidence = [f"ss -tlnp in {server.name}: listening on {listing}"]
    if pod_port in loopback:
        evidence.append(f"the app listens on 127.0.0.1:{pod_port} only: {address}:{pod_port} is refused")
        name = "bound-to-localhost"
    elif pod_port not in declared and public & declared:
        evidence.append(f"the endpoints send traffic to port {pod_port}, the pod declares and listens on {', '.join(map(str, sorted(public & declared)))}")
        name = "wrong-target-port"
    elif public:
        evidence.append(f"the pod declares {', '.join(map(str, sorted(declared))) or 'no port'}, the app listens on {', '.join(map(str, sorted(public)))}")
        name = "app-wrong-port" if pod_port in declared else "wrong-target-port"
    else:
        evidence.append(f"nothing in the pod listens on {pod_port}")
        name = "nothing-listening"
    rungs.append(KernelRung("inside the pod", Layer.APP, (ss, described), False, f"nothing accepts connections on {address}:{pod_port}"))
    return done(Layer.APP, name, evidence)


@dataclasses.dataclass(frozen=True)
class FaultCheck:
    """One fault in the model and in the kernel: both climbs broken, then both fixed."""

    fault: str
    model: Any  # ladder.Climb on the broken cluster
    kernel: KernelClimb
    model_fixed: Any
    kernel_fixed: KernelClimb
    changes: tuple[str, ...]  # what the lab changed to break it

    @property
    def model_verdict(self) -> tuple[str, str | None] | None:
        f = self.model.finding
        return None if f is None else (f.layer.value, f.fault_name)

    @property
    def kernel_verdict(self) -> tuple[str, str | None] | None:
        return self.kernel.verdict

    @property
    def agree(self) -> bool:
        """Same verdict broken, and both ladders pass once fixed."""
        return self.model_verdict == self.kernel_verdict and self.model_fixed.passed and self.kernel_fixed.passed


def check_fault(lab: Lab, name: str, *, client: str, service: str, pod: str | None = None) -> FaultCheck:
    """Break the lab with fault ``name`` (the model's), climb both ladders, fix it, climb again."""
    from .. import ladder
    from ..faults import inject

    healthy = lab.cluster
    client_key = lab.topology.pod(client).key
    broken = inject(healthy, name, service=service, client=client_key, pod=pod)
    changes = lab.apply(broken.cluster)
    try:
        model = ladder.climb(broken.cluster, client=client_key, service=service)
        kernel = climb(lab, client=client_key, service=service)
    finally:
        lab.apply(broken.fixed())
    model_fixed = ladder.climb(lab.cluster, client=client_key, service=service)
    kernel_fixed = climb(lab, client=client_key, service=service)
    return FaultCheck(name, model, kernel, model_fixed, kernel_fixed, changes)
