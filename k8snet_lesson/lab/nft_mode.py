"""kube-proxy's nftables mode in the kernel lab.

- :func:`load_in_private_namespace`: ``nft -f`` a transaction in a network namespace of
  its own (made inside a lab sandbox, deleted after), and what ``nft list ruleset``
  prints back;
- :func:`use_nftables`: a lab node's kube-proxy switched from iptables to nftables mode
  (its ``KUBE-`` iptables rules removed, the model's transaction loaded with ``nft -f``);
- :class:`NftablesLab` (:func:`in_nftables_mode`): a whole lab whose kube-proxy runs in
  nftables mode, so that :meth:`~k8snet_lesson.lab.kernel.Lab.apply` (a fault, a fix)
  goes into the kernel as kube-proxy's nftables syncs do: a :class:`NodeProxy` per node
  (the model's generator) and its transaction loaded with ``nft -f``, partial syncs,
  stale chains flushed and deleted at the next sync;
- :func:`spread`: N new connections from a pod to a Service's ClusterIP on such a node,
  counted by the client and by the node's conntrack table (the reply source of each
  entry is the endpoint the ``numgen`` draw chose), with a chi-square test against 1/N.

Load balancing happens once per conntrack entry, so conntrack is flushed first and every
connection comes from a new source port. The draw is the kernel's own ``numgen random``
(prandom): nothing seeds it; ``seed`` picks the client's source ports.
"""

from __future__ import annotations

import dataclasses
import json
import random
import re
from collections.abc import Sequence
from ipaddress import IPv4Address
from typing import Any

from ..errors import InvalidValue
from ..nftables import NodeProxy, Transaction, rules_for
from ..nftables.explain import explain
from ..nftables.parse import parse
from .kernel import Lab
from .sandbox import Sandbox

__all__ = ["Loaded", "NftReport", "NftSpread", "NftablesLab", "full_run", "conntrack_endpoints", "in_nftables_mode",
           "kernel_table", "load_in_private_namespace", "model_table", "proxy_mode", "spread", "tables_agree",
           "use_nftables"]

_REPLY_SOURCE = re.compile(r"dst=(\S+) sport=(\d+) dport=(\d+)\s+(?:\[\S+\]\s+)?src=(\S+) dst=\S+ sport=(\d+)")


@dataclasses.dataclass(frozen=True)
class Loaded:
    """A transaction loaded into a private namespace: what the kernel printed back."""

    version: str  # ``nft --version``
    listing: str  # ``nft list ruleset``
    namespace: str

    @property
    def table(self) -> Transaction:
        return parse(self.listing, source="nft list ruleset")


def load_in_private_namespace(*transactions: str | Transaction | Sequence[str]) -> Loaded:
    """``nft -f`` each transaction in turn (a text, a :class:`Transaction` or a list of
    commands, as :meth:`NodeProxy.sync` returns) in a fresh network namespace, and read
    the ruleset back.

    The namespace is made inside a lab sandbox (its own mount, PID and network
    namespaces), deleted when done, and gone with the sandbox in any case."""
    sandbox = Sandbox.start()
    try:
        name = sandbox.prefix + "nft"
        sandbox.run(["ip", "netns", "add", name])
        try:
            for transaction in transactions:
                text = transaction if isinstance(transaction, (str, Transaction)) else "\n".join(transaction)
                if str(text).strip():
                    sandbox.run(["nft", "-f", "-"], netns=name, input=str(text) + "\n", timeout=120)
            listing = sandbox.run(["nft", "list", "ruleset"], netns=name).stdout
            version = sandbox.run(["nft", "--version"]).stdout.strip()
        finally:
            sandbox.run(["ip", "netns", "del", name], check=False)
        return Loaded(version=version, listing=listing, namespace=name)
    finally:
        sandbox.stop()


def _drop_iptables_rules(lab: Any, node: str) -> None:
    """Remove kube-proxy's ``KUBE-`` iptables rules from ``node`` (the other rules stay)."""
    saved = lab.save(node)
    kept = "".join(line + "\n" for line in saved.splitlines() if "KUBE-" not in line)
    lab.exec(node, [lab.backend.restore, "-w"], input=kept, timeout=120)


def use_nftables(lab: Any, node: str) -> Transaction:
    """Switch ``node``'s kube-proxy to nftables mode: drop its ``KUBE-`` iptables rules
    (the other rules stay) and load the model's transaction for the node."""
    _drop_iptables_rules(lab, node)
    tx = rules_for(lab.cluster, node)
    lab.exec(node, ["nft", "-f", "-"], input=str(tx), timeout=120)
    return tx


def model_table(cluster: Any, node: str) -> Transaction:
    """What kube-proxy in nftables mode has programmed on ``node``: the generator over the
    cluster as that kube-proxy last synced it (the system Services only when it is stale)."""
    from ..connect import kube_proxy_view

    return rules_for(kube_proxy_view(cluster, node), node)


@dataclasses.dataclass
class NftablesLab(Lab):
    """A lab whose kube-proxy runs in nftables mode on every node.

    :meth:`apply` (from :class:`~k8snet_lesson.lab.kernel.Lab`) makes the kernel agree with a
    changed cluster; here each node's rules change as kube-proxy in nftables mode changes
    them: its :class:`NodeProxy` syncs the cluster as that kube-proxy sees it
    (:func:`k8snet_lesson.connect.kube_proxy_view`), and the sync's transaction goes in with
    ``nft -f``. Chains left stale by one sync are deleted, in a transaction of their own,
    at the start of the next (each apply comes after a climb, longer than kube-proxy's
    one second). No iptables rule of kube-proxy's is written.
    """

    proxies: dict[str, NodeProxy] = dataclasses.field(default_factory=dict)
    transactions: list[tuple[str, tuple[str, ...]]] = dataclasses.field(default_factory=list)  # (node, commands)

    def _nft(self, node: str, commands: Sequence[str]) -> None:
        self.exec(node, ["nft", "-f", "-"], input="\n".join(commands) + "\n", timeout=120)
        self.transactions.append((node, tuple(commands)))

    def _sync_rules(self, node_name: str, *, initial: bool) -> bool:
        from ..connect import kube_proxy_view
        from ..endpoints import slices_for

        proxy = self.proxies.get(node_name)
        if proxy is None:
            proxy = self.proxies[node_name] = NodeProxy(
                node_name=node_name, node_ip=str(self.cluster.node(node_name).internal_ip),
                cluster_cidr=self.cluster.cluster_cidr, service_cidr=self.cluster.service_cidr)
        seen = kube_proxy_view(self.cluster, node_name)
        proxy.age_stale_chains()
        commands = proxy.sync(seen.services, slices_for(seen))
        if proxy.last_cleanup:
            self._nft(node_name, proxy.last_cleanup)
        if commands:
            self._nft(node_name, commands)
        return bool(commands or proxy.last_cleanup)

    def kernel_rules(self, node: str) -> Any:
        raise InvalidValue(f"kube-proxy on {node} runs in nftables mode: read kernel_table(lab, node), not iptables-save")

    def model_rules(self, node: str) -> Any:
        raise InvalidValue(f"kube-proxy on {node} runs in nftables mode: read model_table(cluster, node)")


def in_nftables_mode(lab: Lab) -> NftablesLab:
    """The running ``lab`` with kube-proxy switched to nftables mode on every node: its
    ``KUBE-`` iptables rules removed, then each node's first (full) nftables sync loaded.
    Use the returned lab from then on (it holds the same sandbox, processes and namespaces)."""
    moved = NftablesLab(**{f.name: getattr(lab, f.name) for f in dataclasses.fields(Lab)})
    moved.loaded_rules = {}
    for node in moved.topology.nodes:
        _drop_iptables_rules(moved, node.name)
        moved._sync_rules(node.name, initial=True)
    return moved


def proxy_mode(lab: Any) -> str:
    """``nftables`` for an :class:`NftablesLab`, ``iptables`` for any other lab."""
    return "nftables" if isinstance(lab, NftablesLab) else "iptables"


def kernel_table(lab: Any, node: str) -> Transaction:
    """``nft list table ip kube-proxy`` on ``node``, read back."""
    text = lab.exec(node, ["nft", "list", "table", "ip", "kube-proxy"]).stdout
    return parse(text, source=f"nft list table ip kube-proxy on {node}")


def conntrack_endpoints(listing: str, cluster_ip: IPv4Address | str, port: int) -> dict[str, int]:
    """From ``conntrack -L`` text: how many entries to ``cluster_ip:port`` each endpoint
    (the reply's source ``ip:port``) answered."""
    counts: dict[str, int] = {}
    for line in listing.splitlines():
        match = _REPLY_SOURCE.search(line)
        if match and match.group(1) == str(cluster_ip) and int(match.group(3)) == port:
            endpoint = f"{match.group(4)}:{match.group(5)}"
            counts[endpoint] = counts.get(endpoint, 0) + 1
    return counts


@dataclasses.dataclass(frozen=True)
class NftSpread:
    """Where N new connections went on an nftables-mode node."""

    node: str
    endpoints: tuple[str, ...]
    model_shares: tuple[float, ...]
    client_counts: tuple[int, ...]
    conntrack_counts: tuple[int, ...]
    failures: tuple[tuple[str, int], ...]
    seed: int
    first_port: int
    chi_square: Any


def spread(lab: Any, client: str, service: str, connections: int = 3000, *, seed: int = 0,
           concurrency: int = 8) -> NftSpread:
    """``connections`` new TCP connections from ``client`` to ``service``'s first TCP port."""
    from ..simulate import chi_square
    from .programs import SOURCE_PORTS

    svc = lab.cluster.service(service)
    tcp = [p for p in svc.ports if p.protocol.value == "TCP"]
    if svc.cluster_ip is None or not tcp:
        raise InvalidValue(f"service {svc.key} has no ClusterIP with a TCP port to spread over")
    port = tcp[0].port
    node = lab.node_of(client)
    entry = next((e for e in explain(kernel_table(lab, node)) if e.cluster_ip == svc.cluster_ip and e.port == port),
                 None)
    if entry is None or not entry.endpoints:
        raise InvalidValue(f"no nftables rules with endpoints for {svc.key} on {node}: load them first")
    if connections > len(SOURCE_PORTS):
        raise InvalidValue(f"{connections} connections need as many source ports; the client has {len(SOURCE_PORTS)}")
    first = SOURCE_PORTS.start + random.Random(seed).randrange(len(SOURCE_PORTS) - connections + 1)
    lab.flush_conntrack(node)
    args = ["--target", f"{svc.cluster_ip}:{port}", "--protocol", "tcp", "--count", str(connections),
            "--concurrency", str(concurrency), "--first-port", str(first)]  # fmt: skip
    answer = json.loads(lab.exec(client, lab.sandbox.program("client", *args), timeout=600).stdout)
    listing = lab.exec(node, ["conntrack", "-L", "-p", "tcp"], check=False).stdout
    by_endpoint = conntrack_endpoints(listing, svc.cluster_ip, port)
    endpoints = tuple(e.destination for e in entry.endpoints)
    pod_ips = {p.name: str(p.pod_ip) for p in lab.cluster.pods if p.pod_ip is not None}
    client_counts = [0] * len(endpoints)
    for pod, count in answer["counts"].items():
        for i, e in enumerate(endpoints):
            if e.split(":")[0] == pod_ips.get(pod):
                client_counts[i] += count
    shares = tuple(e.share for e in entry.endpoints)
    return NftSpread(
        node=node,
        endpoints=endpoints,
        model_shares=shares,
        client_counts=tuple(client_counts),
        conntrack_counts=tuple(by_endpoint.get(e, 0) for e in endpoints),
        failures=tuple(sorted(answer["errors"].items())),
        seed=seed,
        first_port=first,
        chi_square=chi_square(list(client_counts), list(shares)) if len(shares) > 1 else None,
    )


def shares_of(explanations: Sequence[Any], cluster_ip: IPv4Address, port: int) -> tuple[tuple[str, float], ...]:
    """(endpoint, share) of one Service port in a list of explanations."""
    for e in explanations:
        if e.cluster_ip == cluster_ip and e.port == port:
            return tuple((p.destination, p.share) for p in e.endpoints)
    return ()


# --- a whole run in nftables mode ------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class NftReport:
    """``k8snet netlab run --proxy-mode nftables``: what was checked, and how it went."""

    version: str
    nodes: tuple[tuple[str, bool], ...]  # (node, the kernel's table equals the model's)
    four_rules: Any  # checks.FourRules, measured with nftables rules in place
    spread: NftSpread | None
    clean: bool
    faults: tuple[Any, ...] = ()  # ladder.FaultCheck per fault, broken and fixed through nftables syncs
    after_faults: tuple[tuple[str, bool], ...] = ()  # (node, its table explains as the model's, no KUBE- iptables)

    @property
    def ok(self) -> bool:
        spread_ok = self.spread is None or (
            not self.spread.failures and self.spread.conntrack_counts == self.spread.client_counts
            and (self.spread.chi_square is None or self.spread.chi_square.p_value > 1e-3))
        return (all(same for _, same in self.nodes) and self.four_rules.hold and self.four_rules.agree
                and spread_ok and all(f.agree for f in self.faults) and all(same for _, same in self.after_faults)
                and self.clean)

    def text(self) -> str:
        lines = [f"kube-proxy in nftables mode ({self.version})"]
        for node, same in self.nodes:
            lines.append(f"  {node}: nft list table ip kube-proxy {'equals' if same else 'DIFFERS from'} the model's")
        lines.append(f"four rules: {'hold' if self.four_rules.hold else 'BROKEN'}, "
                     f"{'as' if self.four_rules.agree else 'NOT as'} the model says")
        s = self.spread
        if s is not None:
            lines.append(f"spread of {sum(s.client_counts)} connections from {s.node} (numgen random mod "
                         f"{len(s.endpoints)}; client source ports from seed {s.seed}):")
            for endpoint, share, mine, tracked in zip(s.endpoints, s.model_shares, s.client_counts,
                                                       s.conntrack_counts):
                lines.append(f"  {endpoint:<20} model {share:.4f}  client {mine:>5}  conntrack {tracked:>5}")
            if s.chi_square is not None:
                lines.append(f"  chi-square p = {s.chi_square.p_value:.3f} (threshold 0.001)")
        if self.faults:
            from .run import fault_lines

            lines.append("fault ladder, each fault applied as nftables syncs (model verdict | kernel verdict; then fixed):")
            lines += fault_lines(self.faults)
            differ = [node for node, same in self.after_faults if not same]
            lines.append("  after the fixes: " + (f"the tables of {', '.join(differ)} DIFFER from the model's" if differ
                         else "every node's table explains as the model's, no KUBE- iptables rule"))
        else:
            lines.append("fault ladder: no fault checked")
        lines.append(f"teardown: {'clean' if self.clean else 'NOT CLEAN'}")
        lines.append("OK" if self.ok else "FAILED")
        return "\n".join(lines)


def full_run(chosen: Any, *, connections: int = 3000, seed: int = 0, faults: Sequence[str] | None = None,
             prefix: str | None = None, backend: str = "nft", progress: Any = None) -> NftReport:
    """Build the scenario, switch every node's kube-proxy to nftables mode, check the
    tables, the four rules, the spread and the fault ladder (``faults``: the iptables
    run's :data:`~k8snet_lesson.lab.run.DEFAULT_FAULTS` by default), tear down."""
    from .checks import four_rules
    from .kernel import build
    from .ladder import check_fault
    from .run import DEFAULT_FAULTS

    say = progress or (lambda _: None)
    lab: Lab = build(chosen.cluster, prefix=prefix, backend=backend)
    clean = False
    try:
        say(f"built {lab.prefix}")
        lab = in_nftables_mode(lab)
        nodes = []
        for node in lab.topology.nodes:
            same = (normalize_equal(kernel_table(lab, node.name), model_table(lab.cluster, node.name))
                    and "KUBE-" not in lab.save(node.name))
            nodes.append((node.name, same))
        version = lab.sandbox.run(["nft", "--version"]).stdout.strip()
        say("nftables rules loaded")
        measured = four_rules(lab)
        say("four rules done")
        measured_spread = None
        target = lab.cluster.service(chosen.service).key
        if connections > 0:
            measured_spread = spread(lab, chosen.client, target, connections, seed=seed)
        say("spread done")
        checked = tuple(check_fault(lab, name, client=chosen.client, service=target)
                        for name in (DEFAULT_FAULTS if faults is None else faults))
        after = tuple((node.name, tables_agree(lab, node.name)) for node in lab.topology.nodes) if checked else ()
        say("faults done")
    finally:
        clean = lab.teardown().clean
    return NftReport(version=version, nodes=tuple(nodes), four_rules=measured, spread=measured_spread, clean=clean,
                     faults=checked, after_faults=after)


def tables_agree(lab: Any, node: str) -> bool:
    """``node`` holds no ``KUBE-`` iptables rule, and its ``nft list table ip kube-proxy``
    explains as the model's table does (``k8snet diff`` finds no drift; chains a sync left
    stale, flushed and kept, change no explanation)."""
    from ..drift import drift

    found = explain(kernel_table(lab, node))
    return "KUBE-" not in lab.save(node) and not drift(explain(model_table(lab.cluster, node)), found).drifted


def normalize_equal(a: Transaction | str, b: Transaction | str) -> bool:
    from ..nftables import normalize

    return normalize(a) == normalize(b)
