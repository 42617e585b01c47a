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

__all__ = ["Loaded", "NftSpread", "conntrack_endpoints", "kernel_table", "load_in_private_namespace", "spread",
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


def load_in_private_namespace(transaction: str | Transaction) -> Loaded:
    """``nft -f`` the transaction in a fresh network namespace and read the ruleset back.

    The namespace is made inside a lab sandbox (its own mount, PID and network
    namespaces), deleted when done, and gone with the sandbox in any case."""
    sandbox = Sandbox.start()
    try:
        name = sandbox.prefix + "nft"
        sandbox.run(["ip", "netns", "add", name])
        try:
            sandbox.run(["nft", "-f", "-"], netns=name, input=str(transaction), timeout=120)
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
