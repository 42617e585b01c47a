"""Drift: what kube-proxy should have programmed on a node, against what the node holds.

:func:`drift` compares two lists of Service-port explanations (the model's and the ones
read from a node's dump, either mode) and names, for each Service port (keyed by
protocol, ClusterIP and port):

- **missing**: the model has it, the node does not;
- **extra**: the node has it, the model does not (a deleted Service's rules left behind,
  or rules nobody generated);
- **stale**: both have it but they differ: endpoints the node lacks (missing), endpoints
  only the node has (stale: a pod that is gone), or a different no-endpoint verdict.

:func:`drift_of_dump` reads the dump (``iptables-save`` / restore input, or
``nft list ruleset`` / the nftables transaction, detected from the text) and builds the
model's view of the node in the same mode.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence
from typing import Any

from .errors import InvalidValue
from .explain import ServiceExplanation

__all__ = ["MODES", "Drift", "PortDrift", "drift", "expected", "drift_of_dump", "port_drift", "port_drift_text",
           "drift_as_text", "drift_as_dict"]

MODES = ("iptables", "nftables")


def _key(e: ServiceExplanation) -> tuple[str, str, int]:
    return (e.protocol, str(e.cluster_ip), e.port)


def _verdict(e: ServiceExplanation) -> str:
    return "reject" if e.reject else "drop" if e.drop else "forward" if e.endpoints else "none"


@dataclasses.dataclass(frozen=True)
class PortDrift:
    """One Service port that differs."""

    kind: str  # missing, extra or stale
    service_port: str
    protocol: str
    cluster_ip: str
    port: int
    missing_endpoints: tuple[str, ...] = ()
    stale_endpoints: tuple[str, ...] = ()
    expected_verdict: str | None = None
    found_verdict: str | None = None


@dataclasses.dataclass(frozen=True)
class Drift:
    mode: str
    node: str
    in_sync: tuple[str, ...]  # Service ports that match
    ports: tuple[PortDrift, ...]

    @property
    def drifted(self) -> bool:
        return bool(self.ports)


def drift(expected: Iterable[ServiceExplanation], found: Iterable[ServiceExplanation], *, mode: str = "",
          node: str = "") -> Drift:
    want = {_key(e): e for e in expected}
    have = {_key(e): e for e in found}
    ports: list[PortDrift] = []
    in_sync: list[str] = []
    for key in sorted(want.keys() | have.keys(), key=lambda k: (k[1], k[2], k[0])):
        w, h = want.get(key), have.get(key)
        e = w or h
        head = (e.service_port, e.protocol, str(e.cluster_ip), e.port)
        if h is None:
            ports.append(PortDrift("missing", *head, missing_endpoints=tuple(p.destination for p in w.endpoints)))
            continue
        if w is None:
            ports.append(PortDrift("extra", *head, stale_endpoints=tuple(p.destination for p in h.endpoints)))
            continue
        wanted = [p.destination for p in w.endpoints]
        held = [p.destination for p in h.endpoints]
        missing = tuple(d for d in wanted if d not in held)
        stale = tuple(d for d in held if d not in wanted)
        if missing or stale or _verdict(w) != _verdict(h):
            ports.append(PortDrift("stale", *head, missing_endpoints=missing, stale_endpoints=stale,
                                   expected_verdict=_verdict(w), found_verdict=_verdict(h)))
        else:
            in_sync.append(w.service_port)
    return Drift(mode=mode, node=node, in_sync=tuple(in_sync), ports=tuple(ports))


def expected(cluster: Any, node: str, *, mode: str = "iptables") -> tuple[ServiceExplanation, ...]:
    """What kube-proxy in ``mode`` (``iptables`` or ``nftables``) should have programmed on
    ``node`` for ``cluster`` (the API's objects), explained."""
    if mode == "nftables":
        from .nftables import rules_for as nft_rules_for
        from .nftables.explain import explain as explain_nft

        return explain_nft(nft_rules_for(cluster, node))
    if mode != "iptables":
        raise InvalidValue(f"no proxy mode {mode!r} (modes: {', '.join(MODES)})")
    from .explain import explain
    from .kube_proxy import rules_for

    return explain(rules_for(cluster, node))


def drift_of_dump(cluster: Any, node: str, text: str, *, source: str = "<string>") -> Drift:
    """The drift of a node's dump (either mode, detected from the text) from ``cluster``."""
    from .nftables.explain import is_nftables_text

    if is_nftables_text(text):
        from .nftables.explain import explain as explain_nft
        from .nftables.parse import parse as parse_nft

        found = explain_nft(parse_nft(text, source=source))
        return drift(expected(cluster, node, mode="nftables"), found, mode="nftables", node=node)
    from .explain import explain
    from .iptables import parse

    found = explain(parse(text, source=source))
    return drift(expected(cluster, node, mode="iptables"), found, mode="iptables", node=node)


def port_drift(result: Drift, protocol: str, cluster_ip: Any, port: int) -> PortDrift | None:
    """The drift of one Service port (its protocol as explain() writes it, ``tcp``; its
    ClusterIP; its port), None when it is in sync."""
    return next((p for p in result.ports if (p.protocol, p.cluster_ip, p.port) == (protocol, str(cluster_ip), port)),
                None)


def port_drift_text(p: PortDrift) -> str:
    """One drifted Service port on one line: what is missing, stale or extra, endpoints named.

    >>> port_drift_text(PortDrift("stale", "shop/web:http", "tcp", "10.96.0.20", 80,
    ...                           missing_endpoints=("10.244.1.5:8080",), stale_endpoints=("10.244.2.9:8080",),
    ...                           expected_verdict="forward", found_verdict="forward"))
    'stale shop/web:http (tcp 10.96.0.20:80): missing endpoint 10.244.1.5:8080; stale endpoint 10.244.2.9:8080'
    """
    parts = []
    if p.missing_endpoints:
        word = "endpoint" if p.kind == "missing" else "missing endpoint"
        parts.append(f"{word}{'s' if len(p.missing_endpoints) > 1 else ''} {', '.join(p.missing_endpoints)}")
    if p.stale_endpoints:
        word = "stale endpoint" if p.kind == "stale" else "endpoint"
        parts.append(f"{word}{'s' if len(p.stale_endpoints) > 1 else ''} {', '.join(p.stale_endpoints)}")
    if p.kind == "stale" and p.expected_verdict != p.found_verdict:
        parts.append(f"{p.found_verdict} on the node, {p.expected_verdict} in the API")
    head = f"{p.kind} {p.service_port} ({p.protocol} {p.cluster_ip}:{p.port})"
    return head + (": " + "; ".join(parts) if parts else "")


def drift_as_dict(result: Drift) -> dict:
    return {"mode": result.mode, "node": result.node, "drifted": result.drifted, "in_sync": list(result.in_sync),
            "service_ports": [dataclasses.asdict(p) | {"missing_endpoints": list(p.missing_endpoints),
                                                       "stale_endpoints": list(p.stale_endpoints)}
                              for p in result.ports]}


def drift_as_text(result: Drift) -> str:
    """One line per drifted Service port, then its endpoints; or the all-clear."""
    where = f"{result.node} ({result.mode} mode)"
    if not result.drifted:
        return f"{where}: in sync, {len(result.in_sync)} Service ports as the manifests say"
    lines = [f"{where}: {len(result.ports)} Service ports drifted, {len(result.in_sync)} in sync"]
    for p in result.ports:
        lines.append(f"{p.kind:<8} {p.service_port}  {p.protocol} {p.cluster_ip}:{p.port}")
        lines += _endpoint_lines(p.missing_endpoints, "missing endpoint" if p.kind != "missing" else "endpoint")
        lines += _endpoint_lines(p.stale_endpoints, "stale endpoint" if p.kind == "stale" else "endpoint")
        if p.kind == "stale" and p.expected_verdict != p.found_verdict:
            lines.append(f"  verdict: {p.found_verdict} on the node, {p.expected_verdict} in the manifests")
    return "\n".join(lines)


def _endpoint_lines(endpoints: Sequence[str], label: str) -> list[str]:
    return [f"  {label} {e}" for e in endpoints]
