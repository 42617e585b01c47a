"""kube-proxy's nftables mode in the kernel lab.

- :func:`load_in_private_namespace`: ``nft -f`` a transaction in a network namespace of
  its own (made inside a lab sandbox, deleted after), and what ``nft list ruleset``
  prints back;
- :func:`use_nftables`: a lab node's kube-proxy switched from iptables to nftables mode
  (its ``KUBE-`` iptables rules removed, the model's transaction loaded with ``nft -f``);
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
from ..nftables import Transaction, rules_for
from ..nftables.explain import explain
from ..nftables.parse import parse
from .sandbox import Sandbox

__all__ = ["Loaded", "NftReport", "NftSpread", "full_run", "conntrack_endpoints", "kernel_table", "load_in_private_namespace", "spread",
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


def use_nftables(lab: Any, node: str) -> Transaction:
    """Switch ``node``'s kube-proxy to nftables mode: drop its ``KUBE-`` iptables rules
    (the other rules stay) and load the model's transaction for the node."""
    saved = lab.save(node)
    kept = "".join(line + "\n" for line in saved.splitlines() if "KUBE-" not in line)
    lab.exec(node, [lab.backend.restore, "-w"], input=kept, timeout=120)
    tx = rules_for(lab.cluster, node)
    lab.exec(node, ["nft", "-f", "-"], input=str(tx), timeout=120)
    return tx


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

    @property
    def ok(self) -> bool:
        spread_ok = self.spread is None or (
            not self.spread.failures and self.spread.conntrack_counts == self.spread.client_counts
            and (self.spread.chi_square is None or self.spread.chi_square.p_value > 1e-3))
        return (all(same for _, same in self.nodes) and self.four_rules.hold and self.four_rules.agree
                and spread_ok and self.clean)

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
        lines.append("fault ladder: checked in iptables mode only (k8snet netlab run)")
        lines.append(f"teardown: {'clean' if self.clean else 'NOT CLEAN'}")
        lines.append("OK" if self.ok else "FAILED")
        return "\n".join(lines)


def full_run(chosen: Any, *, connections: int = 3000, seed: int = 0, prefix: str | None = None,
             backend: str = "nft", progress: Any = None) -> NftReport:
    """Build the scenario, switch every node's kube-proxy to nftables mode, check the
    tables, the four rules and the spread, tear down."""
    from .checks import four_rules
    from .kernel import build

    say = progress or (lambda _: None)
    lab = build(chosen.cluster, prefix=prefix, backend=backend)
    clean = False
    try:
        say(f"built {lab.prefix}")
        nodes = []
        for node in lab.topology.nodes:
            tx = use_nftables(lab, node.name)
            same = normalize_equal(kernel_table(lab, node.name), tx) and "KUBE-" not in lab.save(node.name)
            nodes.append((node.name, same))
        version = lab.sandbox.run(["nft", "--version"]).stdout.strip()
        say("nftables rules loaded")
        measured = four_rules(lab)
        say("four rules done")
        measured_spread = None
        if connections > 0:
            measured_spread = spread(lab, chosen.client, lab.cluster.service(chosen.service).key, connections,
                                     seed=seed)
        say("spread done")
    finally:
        clean = lab.teardown().clean
    return NftReport(version=version, nodes=tuple(nodes), four_rules=measured, spread=measured_spread, clean=clean)


def normalize_equal(a: Transaction | str, b: Transaction | str) -> bool:
    from ..nftables import normalize

    return normalize(a) == normalize(b)
