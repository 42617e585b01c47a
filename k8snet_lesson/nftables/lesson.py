"""The same Service in both proxy modes: what the course shows of nftables mode.

- :func:`service_lines`: the lines of kube-proxy's transaction that belong to one Service
  (its ``service-ips``/``service-nodeports``/``no-endpoint-*`` elements, its chains with
  the ``numgen`` draw, its endpoint chains and affinity sets);
- :func:`shares_in_both_modes`: each endpoint's share of new connections in iptables mode
  (the 1/3, 1/2, 1 ladder, as printed) and in nftables mode (one draw, exactly 1/N);
- :func:`simulate_numgen`: N connections through ``numgen random mod n``, seeded.

    >>> from k8snet_lesson.scenarios import lesson_cluster
    >>> both = shares_in_both_modes(lesson_cluster(), "node-eu-west-1a", "production/checkout-api-svc")
    >>> [(e, round(s, 4)) for e, s in both["iptables"]] == [(e, round(s, 4)) for e, s in both["nftables"]]
    True
    >>> [line.split(" ", 4)[4] for line in service_lines(
    ...     rules_for(lesson_cluster(), "node-eu-west-1a"), "production/checkout-api-svc")
    ...  if line.startswith("add element ip kube-proxy service-ips")]
    ['service-ips { 10.96.214.88 . tcp . 80 : goto service-I3VMJ4JL-production/checkout-api-svc/tcp/ }']
"""

from __future__ import annotations

from typing import Any

from ..errors import InvalidValue, NotFound
from .generate import Transaction, rules_for

__all__ = ["service_lines", "shares_in_both_modes", "simulate_numgen"]


def _service_of(name: str) -> str | None:
    """``service-HASH-ns/svc/tcp/port`` (or an endpoint/affinity name) -> ``ns/svc``."""
    parts = name.split("-", 2)
    if len(parts) < 3 or "/" not in parts[2]:
        return None
    return "/".join(parts[2].split("/")[:2])


def service_lines(tx: Transaction, service: str) -> list[str]:
    """The transaction lines of one Service (``namespace/name``), in loadable order."""
    prefix = f"{tx.family} {tx.table} "
    own = {name for name in (*tx.chains, *tx.sets) if _service_of(name) == service}
    out = []
    for line in tx.lines():
        words = line.split(" ")
        if len(words) < 5:
            continue
        kind, name = words[1], words[4]
        if kind in ("chain", "set", "rule") and name in own:
            out.append(line)
        elif kind == "element" and (any(f"goto {c} " in line for c in own)
                                    or f'comment "{service}' in line):
            out.append(line)
    if not out:
        raise NotFound(f"no nftables objects for service {service!r} in table {prefix.strip()}")
    return out


def shares_in_both_modes(cluster: Any, node: str, service: str, port: int | None = None) -> dict[str, list]:
    """``{"iptables": [(endpoint, share)], "nftables": [(endpoint, share)]}`` for one
    Service port (its first, or ``port``) on ``node``."""
    from ..explain import explain as explain_iptables
    from ..kube_proxy import rules_for as iptables_rules_for
    from .explain import explain as explain_nft

    svc = cluster.service(service)
    wanted = port if port is not None else svc.ports[0].port
    out: dict[str, list] = {}
    for mode, explained in (("iptables", explain_iptables(iptables_rules_for(cluster, node))),
                            ("nftables", explain_nft(rules_for(cluster, node)))):
        entry = next((e for e in explained if e.cluster_ip == svc.cluster_ip and e.port == wanted), None)
        if entry is None:
            raise NotFound(f"no rules for {service} port {wanted} on {node} in {mode} mode")
        out[mode] = [(p.destination, p.share) for p in entry.endpoints]
    return out


def simulate_numgen(n: int, connections: int, *, seed: int) -> list[int]:
    """How many of ``connections`` new connections each of ``n`` endpoints gets from
    ``numgen random mod n``: one uniform draw each (numpy, seeded)."""
    import numpy as np

    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise InvalidValue(f"number of endpoints {n!r} must be a positive integer")
    if isinstance(connections, bool) or not isinstance(connections, int) or connections < 0:
        raise InvalidValue(f"number of connections {connections!r} must be a whole number >= 0")
    draws = np.random.default_rng(seed).integers(0, n, size=connections)
    return [int(c) for c in np.bincount(draws, minlength=n)]
