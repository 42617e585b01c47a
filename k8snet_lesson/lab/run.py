"""One full lab run, end to end, and its report (``k8snet netlab run``, notebook 08).

:func:`full_run` builds a scenario's cluster in the kernel, then checks in turn that the
kernel and the model agree: devices and routes (``ip addr``, ``ip route``), kube-proxy's
rules read back from the kernel (``iptables-save`` parsed, :func:`k8snet_lesson.explain.explain`),
the four rules with real requests, the spread of N connections over a Service's
endpoints (client counts, kernel counters, chi-square), the debugging ladder on each
fault, and a cross-node request captured on the node network; then it tears the lab down
and checks that nothing is left. :class:`Report` holds every result as values and
renders them as text, with or without timings.

Scenarios: ``lesson`` (the lesson's three-node cluster with a netshoot debug pod in
``production`` as the client, towards ``checkout-api-svc``) and ``two-node`` (the lesson's
two-node flow: Pod A towards the Service whose one endpoint is Pod B).
"""

from __future__ import annotations

import dataclasses
import re
import time
from collections.abc import Callable, Sequence
from typing import Any

from ..cluster import Cluster
from ..errors import NotFound
from .topology import CNI

__all__ = ["DEFAULT_FAULTS", "Scenario", "scenario", "from_manifests", "RulesCheck", "rules_agree", "Report", "full_run", "masked", "layout",
           "fault_lines", "verdict_text"]

# The lesson's failure modes, each shown broken and fixed, in the kernel and the model.
DEFAULT_FAULTS = (
    "coredns-down",
    "selector-mismatch",
    "readiness-failing",
    "wrong-target-port",
    "bound-to-localhost",
    "nothing-listening",
    "kube-proxy-stale",
)
SCENARIOS = ("lesson", "two-node")


@dataclasses.dataclass(frozen=True)
class Scenario:
    """A cluster to build, the pod to test from, and the Service to test towards."""

    name: str
    cluster: Cluster
    client: str  # namespace/name
    service: str  # namespace/name


def scenario(name: str = "lesson") -> Scenario:
    """The lesson's cluster (``lesson``) or the lesson's two-node flow (``two-node``)."""
    from .. import scenarios
    from ..netshoot import debug_pod

    if name == "lesson":
        cluster, client = debug_pod(scenarios.lesson_cluster(), "production")
        return Scenario(name, cluster, client.key, "production/checkout-api-svc")
    if name == "two-node":
        cluster = scenarios.two_node_flow()
        client = next(p for p in cluster.pods if p.namespace == "production" and str(p.pod_ip) == "10.244.1.5")
        service = next(s for s in cluster.services if str(s.cluster_ip) == "10.96.214.88")
        return Scenario(name, cluster, client.key, service.key)
    raise NotFound(f"no scenario {name!r} (scenarios: {', '.join(SCENARIOS)})")


def from_manifests(paths: Sequence[str], *, client: str | None, service: str) -> Scenario:
    """A scenario from manifests: ``client`` names a pod (``namespace/name``); without one,
    a netshoot debug pod is added in the Service's namespace."""
    from ..manifests import load
    from ..netshoot import debug_pod

    cluster = load(list(paths))
    target = cluster.service(service)
    if client is None:
        cluster, pod = debug_pod(cluster, target.namespace)
        client = pod.key
    else:
        client = cluster.pod(client).key
    return Scenario("manifests", cluster, client, target.key)


@dataclasses.dataclass(frozen=True)
class RulesCheck:
    """One node's kube-proxy rules: the model's explanation and the kernel's, side by side."""

    node: str
    model: tuple[Any, ...]  # explain.ServiceExplanation per service port
    kernel: tuple[Any, ...]

    @property
    def agree(self) -> bool:
        """Same service ports, same endpoints in order, shares equal to 1e-9."""
        if len(self.model) != len(self.kernel):
            return False
        for m, k in zip(self.model, self.kernel):
            if (m.service_port, m.cluster_ip, m.port, m.protocol, m.reject) != (k.service_port, k.cluster_ip, k.port, k.protocol, k.reject):
                return False
            if [(e.address, e.port, e.chain) for e in m.endpoints] != [(e.address, e.port, e.chain) for e in k.endpoints]:
                return False
            if any(abs(a.share - b.share) > 1e-9 for a, b in zip(m.endpoints, k.endpoints)):
                return False
        return True


def _key(entry: Any) -> tuple:
    return (entry.service_port, entry.protocol, str(entry.cluster_ip), entry.port)


def rules_agree(lab: Any) -> tuple[RulesCheck, ...]:
    """Per node: explain() of the model's rules and of ``iptables-save`` read back from the kernel."""
    from ..explain import explain

    out = []
    for node in lab.topology.nodes:
        model = tuple(sorted(explain(lab.model_rules(node.name)), key=_key))
        kernel = tuple(sorted(explain(lab.kernel_rules(node.name)), key=_key))
        out.append(RulesCheck(node.name, model, kernel))
    return tuple(out)


@dataclasses.dataclass(frozen=True)
class Report:
    """Everything one full run measured."""

    scenario: str
    client: str
    service: str
    notes: tuple[str, ...]
    nodes: tuple[tuple[str, str, str], ...]  # (name, node IP, pod CIDR)
    pods: tuple[tuple[str, str, str], ...]  # (namespace/name, node, pod IP)
    interfaces: tuple[Any, ...]  # checks.Comparison
    rules: tuple[RulesCheck, ...]
    four_rules: Any  # checks.FourRules
    spread: Any  # checks.Spread
    faults: tuple[Any, ...]  # ladder.FaultCheck
    capture: Any  # capture.Capture or None
    teardown: Any  # kernel.Teardown
    seconds: tuple[tuple[str, float], ...]  # phase, seconds

    @property
    def ok(self) -> bool:
        """The kernel agreed with the model everywhere the run looked, and nothing was left.

        Device listings are reported but not part of this verdict (see ``interfaces``)."""
        spread_ok = self.spread is None or (
            self.spread.counts_agree and (self.spread.chi_square is None or self.spread.chi_square.p_value > 1e-3)
        )
        capture_ok = self.capture is None or (self.capture.overheads == {50} and self.capture.mtu == 1450)
        return (
            all(r.agree for r in self.rules)
            and self.four_rules.agree
            and self.four_rules.hold
            and spread_ok
            and all(f.agree for f in self.faults)
            and capture_ok
            and self.teardown.clean
        )

    @property
    def total_seconds(self) -> float:
        return sum(s for _, s in self.seconds)

    def text(self, *, timings: bool = True) -> str:
        """The report as the CLI prints it (``timings=False`` leaves out every duration)."""
        out = [f"Kernel lab run: scenario {self.scenario}, client {self.client}, Service {self.service}"]
        out += [f"  note: {n}" for n in self.notes]
        out.append("")
        out.append(f"Built {len(self.nodes)} nodes and {len(self.pods)} pods (CNI {CNI}: cni0, flannel.1 VXLAN 8472):")
        for name, address, cidr in self.nodes:
            out.append(f"  node {name:<18} {address:<15} podCIDR {cidr}")
        out.append("")
        same = sum(1 for c in self.interfaces if c.same)
        out.append(f"Devices and routes, kernel vs the CNI model: {same} of {len(self.interfaces)} outputs identical")
        seen = set()
        for c in self.interfaces:
            for kernel, model in c.differences:
                if (c.command, kernel.split(":", 1)[-1], model.split(":", 1)[-1]) in seen:
                    continue
                seen.add((c.command, kernel.split(":", 1)[-1], model.split(":", 1)[-1]))
                out += [f"  {c.where}: {c.command}", f"    kernel: {kernel}", f"    model:  {model}"]
        out.append("")
        out.append("kube-proxy's rules read back from the kernel (iptables-save, parsed, explained):")
        for r in self.rules:
            printed = sorted({e.probability_text for s in r.kernel for e in s.endpoints if e.probability_text})
            out.append(
                f"  {r.node:<18} {len(r.kernel)} service ports, endpoint shares "
                f"{'agree with the model' if r.agree else 'DIFFER from the model'}"
                + (f" (kernel prints {', '.join(printed)})" if printed else "")
            )
        out.append("")
        out.append("The four rules, measured with real requests (kernel | model):")
        for k, m in zip(self.four_rules.kernel, self.four_rules.model):
            out.append(f"  {k.number}. {'holds' if k.holds else 'FAILS'} | {'holds' if m.holds else 'FAILS'}: {k.reason}")
        out.append("")
        if self.spread is not None:
            s = self.spread
            out.append(f"Spread: {s.connections} new {s.protocol} connections from {s.client} to {s.cluster_ip}:{s.port} ({s.service_port})")
            out.append(f"  {'endpoint':<20} {'share':>8} {'client':>7} {'kernel':>7}  probability as the kernel prints it")
            for e, share, c, k, p in zip(s.endpoints, s.model_shares, s.client_counts, s.kernel_counts, s.kernel_probabilities):
                out.append(f"  {e:<20} {share:>8.4f} {c:>7} {k:>7}  {p or '(last rule: always)'}")
            agree = "yes" if s.counts_agree else "NO"
            if s.chi_square is not None:
                out.append(f"  chi-square {s.chi_square.statistic:.3f} with {s.chi_square.dof} dof, p = {s.chi_square.p_value:.3f}; client counts equal kernel counters: {agree}")
            else:
                out.append(f"  one endpoint: nothing to test; client counts equal kernel counters: {agree}")
            if s.failures:
                out.append("  failed connections: " + ", ".join(f"{n} {e}" for e, n in s.failures))
            if s.syn_retransmits:
                out.append(f"  {s.syn_retransmits} SYNs were sent again; each resent SYN of a connection the node no longer tracks is drawn again")
            out.append("")
        if self.faults:
            out.append("The debugging ladder on each fault (model verdict | kernel verdict; then fixed):")
            out += fault_lines(self.faults)
            out.append("")
        if self.capture is not None:
            c = self.capture
            first = c.frames[0] if c.frames else None
            if first is not None:
                out.append(
                    f"Capture on {c.node} eth0: {len(c.frames)} VXLAN frames, outer {first.outer_src} -> {first.outer_dst} "
                    f"UDP {first.udp_dport} VNI {first.vni}, inner {first.inner_src} -> {first.inner_dst}:{first.inner_dport}"
                )
            out.append(f"  overhead {', '.join(map(str, sorted(c.overheads)))} bytes per frame; flannel.1 MTU {c.mtu}; "
                       f"the server saw the client as {c.answer.get('peer')}")  # fmt: skip
            out.append("")
        left = self.teardown
        out.append("Teardown: " + ("no lab namespace and no lab process left" if left.clean
                   else f"LEFT namespaces {left.namespaces_left}, processes {left.processes_left}"))  # fmt: skip
        if timings:
            out.append("Seconds: " + ", ".join(f"{name} {s:.2f}" for name, s in self.seconds) + f"; total {self.total_seconds:.1f}")
        out.append("Verdict: " + ("the kernel agrees with the model" if self.ok else "the kernel and the model DISAGREE (see above)"))
        return "\n".join(out)


_DURATION = re.compile(r"\b(after|in) \d+(\.\d+)? (ms|milliseconds|seconds|s)\b")
_PID = re.compile(r"\bpid=\d+")
_PREFIX = re.compile(r"\bk8snet-[0-9a-z]{1,12}-")
_PEER_PORT = re.compile(r'"peer_port": \d+')


def masked(text: str) -> str:
    """``text`` without what changes from run to run: durations, PIDs, the run's prefix,
    the client's ephemeral port (so a committed notebook shows no machine details).

    >>> masked('curl: (7) Failed to connect to 10.244.2.14 port 3000 after 3 ms: Couldn\\'t connect')
    "curl: (7) Failed to connect to 10.244.2.14 port 3000 after … ms: Couldn't connect"
    >>> masked('users:(("python",pid=41,fd=3)) k8snet-3fa2c1-node-a "peer_port": 40780')
    'users:(("python",pid=…,fd=3)) <lab>-node-a "peer_port": …'
    """
    text = _DURATION.sub(lambda m: f"{m.group(1)} … {m.group(3)}", text)
    text = _PID.sub("pid=…", text)
    text = _PEER_PORT.sub('"peer_port": …', text)
    return _PREFIX.sub("<lab>-", text)


def layout(topology: Any, apps: Any = ()) -> str:
    """Nodes, their pods and what each pod runs, as a short listing (no namespace names)."""
    lines = []
    for node in topology.nodes:
        lines.append(f"node {node.name:<18} {str(node.address):<15} podCIDR {node.pod_cidr}")
        for pod in topology.pods_on(node.name):
            runs = ", ".join(
                f"{a.program} on " + " ".join(f"{address}:{port}/{protocol.value}" for address, port, protocol in a.sockets)
                for a in apps
                if a.pod == pod.key
            )
            lines.append(f"  pod {pod.key:<45} {str(pod.address):<13} {runs}".rstrip())
    return "\n".join(lines)


def fault_lines(faults: Sequence[Any]) -> list[str]:
    """One line per :class:`~k8snet_lesson.lab.ladder.FaultCheck`: the model's verdict, the
    kernel's (``same`` when equal), and whether both ladders pass once fixed; a
    kube-proxy-stale finding adds what ``k8snet diff`` named on the client's node."""
    from ..drift import port_drift_text

    out = []
    for f in faults:
        model = verdict_text(f.model_verdict)
        kernel = verdict_text(f.kernel_verdict)
        fixed = "both pass" if f.model_fixed.passed and f.kernel_fixed.passed else "NOT BOTH PASS"
        out.append(f"  {f.fault:<20} {model} | {kernel if kernel != model else 'same'}; fixed: {fixed}")
        drifted = f.kernel.finding.drift if f.kernel.finding is not None else None
        if drifted is not None:
            climbed = [p for p in drifted.ports if p.service_port.split(":")[0] == f.kernel.service]
            first = next(iter(climbed or drifted.ports), None)
            named = f": {port_drift_text(first)}" if first is not None else ""
            count = len(drifted.ports)
            out.append(f"  {'':<20} kernel's diff on {drifted.node}: {count} Service port{'s' if count != 1 else ''} "
                       f"drifted{named}")
    return out


def verdict_text(value: tuple[str, str | None] | None) -> str:
    """A ladder verdict as one phrase: ``passes`` or ``<fault> at <layer>``."""
    if value is None:
        return "passes"
    layer, name = value
    return f"{name or 'unnamed'} at {layer}"


def full_run(
    chosen: Scenario | str = "lesson",
    *,
    connections: int = 3000,
    faults: Sequence[str] = DEFAULT_FAULTS,
    capture: bool = True,
    prefix: str | None = None,
    backend: str = "nft",
    progress: Callable[[str], None] | None = None,
) -> Report:
    """Build, check everything, tear down; returns the :class:`Report` (the lab is gone)."""
    from . import capture as capture_module
    from .checks import four_rules, interfaces, spread
    from .kernel import build
    from .ladder import check_fault

    chosen = scenario(chosen) if isinstance(chosen, str) else chosen
    say = progress or (lambda _: None)
    seconds: list[tuple[str, float]] = []
    clock = time.monotonic()

    def lap(name: str) -> None:
        nonlocal clock
        now = time.monotonic()
        seconds.append((name, now - clock))
        clock = now
        say(f"{name} done")

    lab = build(chosen.cluster, prefix=prefix, backend=backend)
    teardown = None
    try:
        say(f"built {lab.prefix}")
        lap("build")
        compared = interfaces(lab)
        rules = rules_agree(lab)
        lap("devices and rules")
        measured = four_rules(lab)
        lap("four rules")
        target = lab.cluster.service(chosen.service)
        measured_spread = None
        if connections > 0:
            measured_spread = spread(lab, chosen.client, target.key, connections)
        lap("spread")
        checked = tuple(check_fault(lab, name, client=chosen.client, service=target.key) for name in faults)
        lap("faults")
        caught = None
        if capture:
            caught = _capture(lab, chosen, capture_module)
        lap("capture")
    finally:
        teardown = lab.teardown()
    lap("teardown")
    return Report(
        scenario=chosen.name,
        client=chosen.client,
        service=chosen.service,
        notes=lab.notes,
        nodes=tuple((n.name, str(n.address), str(n.pod_cidr)) for n in lab.topology.nodes),
        pods=tuple((p.key, p.node, str(p.address)) for p in lab.topology.pods),
        interfaces=compared,
        rules=rules,
        four_rules=measured,
        spread=measured_spread,
        faults=checked,
        capture=caught,
        teardown=teardown,
        seconds=tuple(seconds),
    )


def _capture(lab: Any, chosen: Scenario, capture_module: Any) -> Any:
    """Capture a request from the client to an endpoint of the Service on another node."""
    client = lab.topology.pod(chosen.client)
    target = lab.cluster.service(chosen.service)
    others = [p for p in lab.topology.pods if p.node != client.node and not p.host_network
              and target.selects(lab.cluster.pod(p.key))]  # fmt: skip
    if not others:
        return None
    return capture_module.capture(lab, client.key, others[0].key)
