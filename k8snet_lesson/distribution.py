"""How a Service spreads new connections over its endpoints, from the real rules.

Every number here comes from the rules kube-proxy would write: a ClusterIP Service
with ``n`` ready endpoints is generated with :func:`k8snet_lesson.kube_proxy.generate`,
read back with :func:`k8snet_lesson.explain.explain` (probabilities as printed, exact
shares), and pushed through :func:`k8snet_lesson.simulate.simulate` as the kernel draws.

What it leaves out: selection happens per new connection (per conntrack entry), so a
keep-alive connection or ``kubectl port-forward`` (which picks one pod up front)
stays on one endpoint; this module counts connections, not requests.

    >>> chain = service_chain(3)
    >>> [e.probability_text for e in chain.endpoints]
    ['0.3333333333', '0.5000000000', None]
    >>> [round(e.share, 9) for e in chain.endpoints]
    [0.333333333, 0.333333333, 0.333333333]
"""

from __future__ import annotations

import dataclasses
import functools
from ipaddress import IPv4Address

from .errors import InvalidValue

__all__ = [
    "service_chain", "Spread", "spread", "spread_of", "convergence", "naive_shares", "ipvs_round_robin",
    "socket_level_choice", "requests_per_endpoint", "CLUSTER_IP", "FIRST_ENDPOINT",
]

CLUSTER_IP = IPv4Address("10.96.214.88")
FIRST_ENDPOINT = IPv4Address("10.244.2.10")


@functools.lru_cache(maxsize=64)
def service_chain(n_endpoints: int, *, target_port: int = 3000):
    """The explained KUBE-SVC chain of ``checkout-api-svc`` with ``n_endpoints`` ready endpoints.

    Endpoint addresses are 10.244.2.10, .11, ...; kube-proxy orders its rules by the
    ``ip:port`` string, so the chain's order is the string order (``10.244.2.10:3000``
    sorts before ``10.244.2.2:3000``), exactly as on a node.
    """
    from . import explain, kube_proxy
    from .cluster import Endpoint, EndpointPort, EndpointSlice, Service, ServicePort

    if isinstance(n_endpoints, bool) or not isinstance(n_endpoints, int) or n_endpoints < 1:
        raise InvalidValue(f"number of endpoints {n_endpoints!r}: a load-balancing chain needs at least 1 endpoint "
                           "(with 0, kube-proxy writes a REJECT rule instead)")
    service = Service("production", "checkout-api-svc", ports=(ServicePort(port=80, target_port=target_port),),
                      selector={"app": "checkout-api"}, cluster_ip=CLUSTER_IP)
    endpoints = tuple(Endpoint((FIRST_ENDPOINT + i,)) for i in range(n_endpoints))
    endpoint_slice = EndpointSlice("production", "checkout-api-svc-7x2kq", "checkout-api-svc", endpoints,
                                   (EndpointPort(target_port),))
    rules = kube_proxy.generate((service,), (endpoint_slice,), node_name="node-eu-west-1a",
                                cluster_cidr="10.244.0.0/16")
    (explained,) = [e for e in explain.explain(rules) if not e.reject and e.cluster_ip == CLUSTER_IP]
    return explained


@dataclasses.dataclass(frozen=True)
class Spread:
    """N simulated new connections through a chain, against its exact shares."""

    labels: tuple[str, ...]
    probability_texts: tuple[str | None, ...]
    shares: tuple[float, ...]
    counts: tuple[int, ...]
    connections: int
    seed: int
    chi_square: object  # simulate.ChiSquare

    @property
    def observed_shares(self) -> tuple[float, ...]:
        return tuple(c / self.connections for c in self.counts)


def spread(n_endpoints: int, connections: int, *, seed: int = 0) -> Spread:
    """Simulate ``connections`` new connections to a Service with ``n_endpoints`` endpoints."""
    return spread_of(service_chain(n_endpoints), connections, seed=seed)


def spread_of(chain, connections: int, *, seed: int = 0) -> Spread:
    """Simulate ``connections`` new connections through one explained chain
    (a :class:`k8snet_lesson.explain.ServiceExplanation`, e.g. a real node's)."""
    from . import simulate

    if isinstance(connections, bool) or not isinstance(connections, int) or connections < 1:
        raise InvalidValue(f"number of connections {connections!r} must be a positive whole number")
    if not chain.endpoints:
        raise InvalidValue(f"{chain.service_port} has no endpoints to spread connections over")
    probabilities = [None if e.probability_text is None else float(e.probability_text) for e in chain.endpoints]
    counts = simulate.simulate(probabilities, connections, seed=seed)[: len(probabilities)]
    shares = [e.share for e in chain.endpoints]
    return Spread(
        labels=tuple(f"{e.address}:{e.port}" for e in chain.endpoints),
        probability_texts=tuple(e.probability_text for e in chain.endpoints),
        shares=tuple(shares),
        counts=tuple(int(c) for c in counts),
        connections=connections,
        seed=seed,
        chi_square=simulate.chi_square(counts, shares),
    )


def convergence(n_endpoints: int, checkpoints, *, seed: int = 0):
    """Observed shares after each of ``checkpoints`` connections (one seeded stream).

    Returns ``(checkpoints, observed)`` where ``observed[k][j]`` is endpoint j's share
    of the first ``checkpoints[k]`` connections: one run, counted as it accumulates,
    as a load test watching its own counters would see it.
    """
    import numpy as np

    from . import simulate

    checkpoints = sorted(int(c) for c in checkpoints)
    chain = service_chain(n_endpoints)
    probabilities = [None if e.probability_text is None else float(e.probability_text) for e in chain.endpoints]
    running = np.zeros(len(probabilities), dtype=np.int64)
    observed = []
    done = 0
    for k, c in enumerate(checkpoints):
        if c > done:
            counts = simulate.simulate(probabilities, c - done, seed=seed * 1_000_003 + k)
            running += np.asarray(counts[: len(probabilities)], dtype=np.int64)
            done = c
        observed.append(running / c)
    return checkpoints, np.asarray(observed)


def naive_shares(n_endpoints: int) -> tuple[float, ...]:
    """Exact shares of the naive chain that puts 1/n on every rule but the last."""
    from . import explain, simulate

    probabilities = list(simulate.naive_probabilities(n_endpoints))
    probabilities[-1] = None  # the last rule takes whatever is left
    return tuple(explain.exact_shares(probabilities))


def ipvs_round_robin(n_endpoints: int, connections: int) -> tuple[int, ...]:
    """Connections per real server under IPVS's ``rr`` scheduler (kube-proxy ``--proxy-mode=ipvs``).

    Round robin hands new connection k to server k mod n: counts differ by at most one,
    with no randomness at all (unlike iptables mode's statistic rules).
    """
    if n_endpoints < 1 or connections < 0:
        raise InvalidValue(f"need at least 1 endpoint and a non-negative number of connections, got {n_endpoints}, {connections}")
    base, extra = divmod(connections, n_endpoints)
    return tuple(base + (1 if i < extra else 0) for i in range(n_endpoints))


def socket_level_choice(n_endpoints: int, connections: int, *, seed: int = 0) -> tuple[int, ...]:
    """Connections per backend when Cilium's socket-level load balancer picks at connect().

    Cilium's default backend selection (``--bpf-lb-algorithm=random``) is uniform per
    connect() call; the socket is then connected straight to the backend, so no DNAT
    happens on the wire. Modelled as a seeded uniform draw per connection.
    """
    import numpy as np

    if n_endpoints < 1 or connections < 0:
        raise InvalidValue(f"need at least 1 endpoint and a non-negative number of connections, got {n_endpoints}, {connections}")
    rng = np.random.default_rng(seed)
    return tuple(int(c) for c in rng.multinomial(connections, [1 / n_endpoints] * n_endpoints))


def requests_per_endpoint(n_endpoints: int, connections: int, requests_per_connection: int, *, seed: int = 0) -> tuple[int, ...]:
    """HTTP requests per endpoint when each connection is kept alive for several requests.

    kube-proxy chooses an endpoint once per new connection (conntrack then pins the
    flow), so every request on a keep-alive connection lands on the same pod. With few
    long-lived connections, a handful of pods take all the requests.
    """
    result = spread(n_endpoints, connections, seed=seed)
    return tuple(c * requests_per_connection for c in result.counts)
