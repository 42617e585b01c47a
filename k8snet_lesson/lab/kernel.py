"""A Cluster value built in the kernel: namespaces, veths, bridges, VXLAN, iptables, DNS.

:func:`build` plans the topology (:mod:`~k8snet_lesson.lab.topology`), starts a
sandbox (:mod:`~k8snet_lesson.lab.sandbox`), runs the build script, then plays the
cluster's components with real programs:

- **kube-proxy**: each node's rules are the core generator's
  (:func:`k8snet_lesson.kube_proxy.rules_for` with the built-in jump rules), loaded with
  one ``iptables-restore`` inside the node's namespace; later changes go in as kube-proxy
  sends them, ``iptables-restore --noflush`` of its own chains, declaring and deleting
  (``-X``) the chains that are no longer needed. A node whose kube-proxy is not synced
  (``Node.kube_proxy_synced=False``) gets what the model says it has programmed
  (:func:`k8snet_lesson.connect.node_rules`: the system Services only).
- **the pods' applications**: a small HTTP server per pod listening on exactly the
  sockets the model says (``Container.listening``: port and bind address), answering
  ``GET /health`` with the pod's name and the peer address it saw.
- **CoreDNS**: dnsmasq in the pods the kube-dns Service selects (:mod:`~k8snet_lesson.lab.dns`).

:meth:`Lab.apply` takes a changed cluster (a fault, a fix) and makes the kernel agree
with it: rules, applications and DNS records. Nothing is described twice: addresses,
ports, bind addresses, endpoints and rules all come from the model.

What it leaves out: the API server and kubelet (the model is the control plane), probes
(readiness is the model's ``Pod.ready``), pods that appear or disappear after the build
(:meth:`Lab.apply` refuses topology changes; build a new lab).
"""

from __future__ import annotations

import dataclasses
import enum
import os
import signal
import time
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from ipaddress import IPv4Address
from pathlib import Path
from typing import Any

from ..cluster import ANY_ADDRESS, Cluster, Pod, Protocol
from ..errors import InvalidValue, LabUnavailable
from ..iptables import RuleSet
from . import dns
from .probe import probe
from .sandbox import LabCommandError, Sandbox, processes_with
from .topology import Topology, build_script, lab_cluster, plan

__all__ = ["Backend", "App", "Teardown", "Lab", "build", "processes_for", "verify_gone", "DEFAULT_TTL"]

DEFAULT_TTL = 3 * 3600.0
_SERVED_BY_DNS = 53


class Backend(str, enum.Enum):
    """Which iptables kernel interface the lab's kube-proxy writes to."""

    NFT = "nft"
    LEGACY = "legacy"

    @property
    def iptables(self) -> str:
        return f"iptables-{self.value}"

    @property
    def restore(self) -> str:
        return f"iptables-{self.value}-restore"

    @property
    def save(self) -> str:
        return f"iptables-{self.value}-save"


@dataclasses.dataclass(frozen=True)
class App:
    """A process the lab runs for a pod: its PID inside the lab and what it listens on."""

    pod: str
    pid: int
    sockets: tuple[tuple[IPv4Address, int, Protocol], ...]
    program: str = "app"  # "app" (the HTTP server) or "dnsmasq"


@dataclasses.dataclass(frozen=True)
class Teardown:
    """What a teardown left behind (nothing, if it worked)."""

    namespaces_left: tuple[str, ...] = ()
    processes_left: tuple[int, ...] = ()

    @property
    def clean(self) -> bool:
        return not self.namespaces_left and not self.processes_left


def _sockets(pod: Pod) -> tuple[tuple[IPv4Address, int, Protocol], ...]:
    out = []
    for container in pod.containers:
        for socket in container.listening:
            if socket[2] in (Protocol.TCP, Protocol.UDP) and socket not in out:
                out.append(socket)
    return tuple(out)


def processes_for(cluster: Cluster, pod: Pod) -> tuple[tuple[str, tuple], ...]:
    """What the lab runs for ``pod``: ``("dnsmasq", sockets)`` in the pods the DNS Service
    selects (port 53, bound to the pod IP when the model says all addresses), and
    ``("app", sockets)`` for every other socket the pod's containers listen on."""
    sockets = _sockets(pod)
    out = []
    if any(p.key == pod.key for p in dns.dns_pods(cluster)):
        served = [s for s in sockets if s[1] == _SERVED_BY_DNS]
        address = served[0][0] if served else ANY_ADDRESS
        address = pod.pod_ip if address == ANY_ADDRESS else address
        out.append(("dnsmasq", ((address, 53, Protocol.UDP), (address, 53, Protocol.TCP))))
        sockets = tuple(s for s in sockets if s[1] != _SERVED_BY_DNS)
    if sockets:
        out.append(("app", sockets))
    return tuple(out)


@dataclasses.dataclass
class Lab:
    """A running lab: the sandbox, the topology, and the cluster the kernel now agrees with.

    A handle on running processes, hence mutable: :meth:`apply` updates ``cluster``,
    ``apps`` and the rules it last loaded on each node.
    """

    sandbox: Sandbox
    topology: Topology
    cluster: Cluster
    backend: Backend = Backend.NFT
    ttl: float = DEFAULT_TTL
    apps: dict[str, App] = dataclasses.field(default_factory=dict)
    loaded_rules: dict[str, RuleSet] = dataclasses.field(default_factory=dict)
    netns_inodes: dict[str, int] = dataclasses.field(default_factory=dict)
    build_seconds: float = 0.0
    next_source_port: int = 10000  # where the next spread's client starts handing out source ports

    # --- where things run ---------------------------------------------------------
    @property
    def prefix(self) -> str:
        return self.sandbox.prefix

    @property
    def notes(self) -> tuple[str, ...]:
        rootless = ("rootless: the lab runs in a user namespace of its own",) if self.sandbox.rootless else ()
        etc = () if self.sandbox.etc_netns else (
            "no private /etc/netns here: a pod's resolv.conf is in place only for commands run as the pod (in_pod)",)  # fmt: skip
        return self.topology.notes + rootless + etc

    def netns(self, where: str) -> str:
        """The lab namespace of a node (by name) or a pod (``namespace/name`` or name)."""
        for node in self.topology.nodes:
            if node.name == where:
                return node.netns
        if where == "underlay":
            return self.topology.underlay_netns
        return self.topology.pod(where).netns

    def exec(self, where: str, argv: Sequence[str], **kw: Any):
        """Run ``argv`` in a node's or a pod's namespace (``subprocess.CompletedProcess``)."""
        return self.sandbox.run(argv, netns=self.netns(where), **kw)

    def in_pod(self, pod: str, argv: Sequence[str], **kw: Any):
        """Run ``argv`` as a container in ``pod`` would see it: in the pod's network
        namespace, with its resolv.conf, and with no ``/run/netns`` names in sight (so
        ``ip`` prints a peer namespace as ``link-netnsid 0``, not by the lab's name)."""
        netns = self.netns(pod)
        script = 'mount -t tmpfs k8snet-pod-run /run/netns && exec "$@"'
        if not self.sandbox.etc_netns and not self.topology.pod(pod).host_network:
            # no private /etc/netns (a rootless lab): bind the pod's resolv.conf ourselves
            script = f"mount --bind {dns.RESOLV_DIR}/{netns}.conf /etc/resolv.conf && {script}"
        return self.sandbox.run(["unshare", "--mount", "sh", "-c", script, "sh", *argv], netns=netns, **kw)

    def node_of(self, pod: str) -> str:
        return self.topology.pod(pod).node

    # --- kube-proxy -------------------------------------------------------------
    def _restore(self, node: str, text: str, *, noflush: bool) -> None:
        argv = [self.backend.restore, "-w"] + (["--noflush"] if noflush else [])
        self.exec(node, argv, input=text, timeout=120)

    def _sync_rules(self, node_name: str, *, initial: bool) -> bool:
        """Program what kube-proxy has programmed on ``node_name`` in the model
        (:func:`k8snet_lesson.connect.node_rules`: a node whose kube-proxy stopped syncing
        has only the system Services' rules). The first load also writes the built-in
        chains' jump rules; later ones are kube-proxy's ``--noflush`` restores."""
        from ..connect import node_rules
        from ..iptables import to_restore
        from ..kube_proxy import rules_for

        if initial:
            rules = rules_for(self.cluster, node_name, include_builtin=True)
            self._restore(node_name, to_restore(rules), noflush=False)
            self.loaded_rules[node_name] = _without_builtin(rules)
        wanted = node_rules(self.cluster, node_name)
        previous = self.loaded_rules.get(node_name)
        if previous == wanted:
            return initial
        self._restore(node_name, _with_deletions(to_restore(wanted), _stale_chains(previous, wanted)), noflush=True)
        self.loaded_rules[node_name] = wanted
        return True

    def save(self, node: str, *, counters: bool = False) -> str:
        """``iptables-save`` of a node, as the kernel prints it back."""
        return self.exec(node, [self.backend.save] + (["-c"] if counters else [])).stdout

    def kernel_rules(self, node: str) -> RuleSet:
        """A node's rules read back from the kernel and parsed by the core parser."""
        from ..iptables import parse

        return parse(self.save(node), source=f"iptables-save on {node}")

    def model_rules(self, node: str) -> RuleSet:
        """What the model says kube-proxy has programmed on ``node`` (its own chains)."""
        from ..connect import node_rules

        return node_rules(self.cluster, node)

    def list_chain(self, node: str, chain: str, table: str = "nat") -> str:
        """``iptables -t TABLE -L CHAIN -v -x -n``: the kernel's per-rule packet counters."""
        return self.exec(node, [self.backend.iptables, "-w", "-t", table, "-L", chain, "-v", "-x", "-n"]).stdout

    def zero_counters(self, node: str) -> None:
        for table in ("nat", "filter"):
            self.exec(node, [self.backend.iptables, "-w", "-t", table, "-Z"])

    def flush_conntrack(self, node: str) -> None:
        """Forget every connection the node tracks: the next packets are new, and drawn again."""
        done = self.exec(node, ["conntrack", "-F"], check=False)
        if done.returncode != 0 and "0 flow entries" not in done.stderr:
            raise LabCommandError(f"conntrack -F on {node}: {done.stderr.strip()}")

    # --- applications and DNS -----------------------------------------------------
    def _start(self, pod: Pod) -> list[App]:
        started = []
        for program, sockets in processes_for(self.cluster, pod):
            start = self._start_dns if program == "dnsmasq" else self._start_app
            started.append(start(pod, sockets))
        return started

    def _start_app(self, pod: Pod, sockets: tuple) -> App:
        args = ["--pod", pod.name, "--ttl", str(int(self.ttl))]
        for address, port, protocol in sockets:
            args += ["--listen", f"{address}:{port}/{protocol.iptables}"]
        answer = _json_line(self.exec(pod.key, self.sandbox.program("serve", *args), timeout=30).stdout)
        if "pid" not in answer:
            raise LabCommandError(f"the app of pod {pod.key} did not start: {answer.get('error', answer)}")
        return App(pod.key, int(answer["pid"]), sockets)

    def _start_dns(self, pod: Pod, sockets: tuple) -> App:
        address = sockets[0][0]
        safe = pod.key.replace("/", "_")
        argv = dns.dnsmasq_argv(
            address,
            hosts_path=f"{dns.DNS_DIR}/hosts",
            pid_path=f"{dns.DNS_DIR}/{safe}.pid",
            domain=self.cluster.dns_domain,
        )
        launcher = self.sandbox.program("launch", "--wait", "udp:53", "--log", f"{dns.DNS_DIR}/{safe}.log", "--", *argv)
        answer = _json_line(self.exec(pod.key, launcher, timeout=30).stdout)
        if "pid" not in answer or "error" in answer:
            raise LabCommandError(f"dnsmasq in pod {pod.key} did not start: {answer.get('error', answer)}")
        return App(pod.key, int(answer["pid"]), sockets, program="dnsmasq")

    def _write_dns_files(self) -> None:
        lines = ["set -e", f"mkdir -p {dns.DNS_DIR}", f"cat > {dns.DNS_DIR}/hosts <<'K8SNET_EOF'",
                 dns.hosts_file(self.cluster) + "K8SNET_EOF"]  # fmt: skip
        lines.append(f"mkdir -p {dns.RESOLV_DIR}")
        for pod_net in self.topology.pods:
            if pod_net.host_network:
                continue
            pod = self.cluster.pod(pod_net.key)
            lines += [f"cat > {dns.RESOLV_DIR}/{pod_net.netns}.conf <<'K8SNET_EOF'",
                      dns.resolv_conf_text(self.cluster, pod) + "K8SNET_EOF"]  # fmt: skip
            if self.sandbox.etc_netns:  # where `ip netns exec` binds it over /etc/resolv.conf
                directory = f"/etc/netns/{pod_net.netns}"
                lines += [f"mkdir -p {directory}", f"cp {dns.RESOLV_DIR}/{pod_net.netns}.conf {directory}/resolv.conf"]
        self.sandbox.run(["sh", "-e"], input="\n".join(lines) + "\n")

    # --- changes ----------------------------------------------------------------
    def apply(self, cluster: Cluster) -> tuple[str, ...]:
        """Make the kernel agree with ``cluster`` (a fault or its fix); returns what changed.

        The same pods must run on the same nodes with the same IPs (the topology is
        fixed once built); labels, readiness, containers, Services and node sync state
        may change. Unchanged nodes and pods are left alone.
        """
        new, _ = lab_cluster(cluster)
        new_topology = plan(new, self.prefix)
        if (new_topology.nodes, new_topology.pods) != (self.topology.nodes, self.topology.pods):
            raise InvalidValue("the change adds, removes or moves pods or nodes: build a new lab for it")
        old, self.cluster = self.cluster, new
        changed: list[str] = []
        if dns.hosts_file(old) != dns.hosts_file(new):
            self._write_dns_files()
            for app in self.apps.values():
                if app.program == "dnsmasq":
                    self.sandbox.kill(app.pid, signal.SIGHUP)  # dnsmasq re-reads its hosts files
            changed.append("DNS records")
        for pod_net in self.topology.pods:
            before, after = old.pod(pod_net.key), new.pod(pod_net.key)
            if processes_for(old, before) == processes_for(new, after):
                continue
            for key in [k for k, app in self.apps.items() if app.pod == pod_net.key]:
                self.sandbox.kill(self.apps.pop(key).pid)
            for app in self._start(after):
                self.apps[f"{app.pod}#{app.program}"] = app
            changed.append(f"restarted the processes of pod {pod_net.key}")
        for node in self.topology.nodes:
            if self._sync_rules(node.name, initial=False):
                changed.append(f"kube-proxy rules on {node.name}")
        return tuple(changed)

    # --- the end ----------------------------------------------------------------
    def teardown(self) -> Teardown:
        """Stop every process the lab started (by PID), delete its namespaces, stop the
        sandbox, and check that no lab process or network namespace is left."""
        if self.sandbox.alive:
            for app in list(self.apps.values()):
                self.sandbox.kill(app.pid)
            self.apps.clear()
            names = list(reversed(self.topology.namespaces))
            self.sandbox.run(["sh", "-c", " ; ".join(f"ip netns del {n}" for n in names)], check=False)
        self.sandbox.stop()
        return verify_gone(self.prefix, self.netns_inodes)

    def __enter__(self) -> Lab:
        return self

    def __exit__(self, *exc: object) -> None:
        self.teardown()


def verify_gone(prefix: str, netns_inodes: dict[str, int], timeout: float = 5.0) -> Teardown:
    """Wait until no process mentions ``prefix`` and no process is in a lab network namespace."""
    deadline = time.monotonic() + timeout
    while True:
        processes = processes_with(prefix)
        namespaces = _namespaces_in_use(netns_inodes)
        if (not processes and not namespaces) or time.monotonic() > deadline:
            return Teardown(namespaces_left=namespaces, processes_left=processes)
        time.sleep(0.05)


def _namespaces_in_use(netns_inodes: dict[str, int]) -> tuple[str, ...]:
    """Lab namespaces (by inode) that some process on the host is still in."""
    if not netns_inodes:
        return ()
    by_inode = {inode: name for name, inode in netns_inodes.items()}
    found = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                inode = os.stat(entry / "ns" / "net").st_ino
            except OSError:
                continue
            if inode in by_inode:
                found.add(by_inode[inode])
    return tuple(sorted(found))


def _json_line(text: str) -> dict:
    import json

    for line in reversed(text.strip().splitlines()):
        try:
            value = json.loads(line)
        except ValueError:
            continue
        if isinstance(value, dict):
            return value
    return {"error": text.strip() or "no answer"}


def _without_builtin(rules: RuleSet) -> RuleSet:
    """The part of a rule set kube-proxy's own restores rewrite: its KUBE-* chains."""
    from ..iptables import Table

    tables = []
    for table in rules.tables:
        chains = tuple(c for c in table.chains if c.name.startswith("KUBE-"))
        kept = tuple(r for r in table.rules if r.chain.startswith("KUBE-"))
        tables.append(Table(table.name, chains, kept))
    return RuleSet(tuple(tables))


def _stale_chains(previous: RuleSet | None, current: RuleSet) -> dict[str, list[str]]:
    """Per table, the KUBE-* chains loaded before that the new rules no longer declare."""
    if previous is None:
        return {}
    now = {t.name: {c.name for c in t.chains} for t in current.tables}
    stale: dict[str, list[str]] = {}
    for table in previous.tables:
        gone = [c.name for c in table.chains if c.name.startswith("KUBE-") and c.name not in now.get(table.name, set())]
        if gone:
            stale[table.name] = gone
    return stale


def _with_deletions(text: str, stale: dict[str, list[str]]) -> str:
    """Add kube-proxy's stale-chain lines to restore text: declare (flush) them, then ``-X``."""
    if not stale:
        return text
    out: list[str] = []
    table = None
    seen = set()
    for line in text.splitlines():
        if line.startswith("*"):
            table = line[1:]
            seen.add(table)
            out.append(line)
            out += [f":{name} - [0:0]" for name in stale.get(table, ())]
            continue
        if line == "COMMIT":
            out += [f"-X {name}" for name in stale.get(table or "", ())]
        out.append(line)
    for name, chains in stale.items():
        if name not in seen:
            out += [f"*{name}", *(f":{c} - [0:0]" for c in chains), *(f"-X {c}" for c in chains), "COMMIT"]
    return "\n".join(out) + "\n"


def build(
    cluster: Cluster,
    *,
    prefix: str | None = None,
    backend: Backend | str = Backend.NFT,
    ttl: float = DEFAULT_TTL,
    detach: bool = False,
    rootless: bool | None = None,
) -> Lab:
    """Build ``cluster`` in the kernel and return the running :class:`Lab`.

    Raises LabUnavailable (with the probe's reason) where the lab cannot run. The lab
    dies with this process unless ``detach`` (then it lives until :meth:`Lab.teardown`,
    ``k8snet netlab down`` or ``ttl`` seconds). ``rootless`` puts it in a user namespace
    of its own (the default where this process lacks CAP_NET_ADMIN/CAP_SYS_ADMIN).
    """
    found = probe(trial=False)
    if not found.ok:
        raise LabUnavailable(found.reason)
    backend = Backend(backend)
    plan(cluster, prefix or "k8snet-check-")  # refuse a cluster the lab cannot build before starting anything
    started = time.monotonic()
    sandbox = Sandbox.start(prefix, detach=detach, ttl=ttl, rootless=found.rootless if rootless is None else rootless)
    try:
        topology = plan(cluster, sandbox.prefix)
        lab = Lab(sandbox=sandbox, topology=topology, cluster=topology.cluster, backend=backend, ttl=ttl)
        sandbox.run(["sh", "-e"], input=build_script(topology), timeout=120)
        lab.netns_inodes = _inodes(sandbox, topology.namespaces)
        _start_components(lab)
        lab.build_seconds = time.monotonic() - started
        return lab
    except BaseException:
        sandbox.stop()
        raise


def _inodes(sandbox: Sandbox, names: Iterable[str]) -> dict[str, int]:
    names = list(names)
    out = sandbox.run(["stat", "-L", "-c", "%i", *(f"/run/netns/{n}" for n in names)]).stdout.split()
    return {name: int(inode) for name, inode in zip(names, out)}


def _start_components(lab: Lab) -> None:
    lab._write_dns_files()
    with ThreadPoolExecutor(max_workers=4) as pool:
        list(pool.map(lambda n: lab._sync_rules(n.name, initial=True), lab.topology.nodes))
        pods = [lab.cluster.pod(p.key) for p in lab.topology.pods]
        for started in pool.map(lab._start, pods):
            for app in started:
                lab.apps[f"{app.pod}#{app.program}"] = app
