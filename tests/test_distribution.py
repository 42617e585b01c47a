"""Load distribution read from the generated rules (seeded, thresholds stated)."""

import pytest

from k8snet_lesson import distribution
from k8snet_lesson.errors import InvalidValue


@pytest.mark.parametrize("n", range(1, 11))
def test_the_generated_chain_gives_every_endpoint_one_nth(n):
    chain = distribution.service_chain(n)
    assert len(chain.endpoints) == n
    assert all(abs(e.share - 1 / n) < 1e-9 for e in chain.endpoints)
    # rule i of n carries 1/(n-i) printed %0.10f; the last one none
    texts = [e.probability_text for e in chain.endpoints]
    assert texts == [f"{1 / (n - i):.10f}" for i in range(n - 1)] + [None]


def test_chain_order_is_the_ip_port_string_order():
    labels = [f"{e.address}:{e.port}" for e in distribution.service_chain(10).endpoints]
    assert labels == sorted(labels)
    assert labels[0] == "10.244.2.10:3000" and labels[1] == "10.244.2.11:3000"


def test_spread_is_seeded_and_passes_chi_square():
    # seed 11, 200,000 connections, 4 endpoints: p must exceed 0.001 (fails ~1 in 1000 seeds)
    a = distribution.spread(4, 200_000, seed=11)
    b = distribution.spread(4, 200_000, seed=11)
    assert a.counts == b.counts and sum(a.counts) == 200_000
    assert a.chi_square.p_value > 0.001
    assert distribution.spread(4, 200_000, seed=12).counts != a.counts


def test_naive_chain_is_skewed_towards_the_last_endpoint():
    shares = distribution.naive_shares(5)
    assert shares[0] == pytest.approx(0.2)
    assert shares[1] == pytest.approx(0.8 * 0.2)
    assert shares[-1] == pytest.approx(0.8 ** 4)
    assert sum(shares) == pytest.approx(1.0)


def test_convergence_ends_near_the_exact_share():
    # seed 3: after 100,000 connections every share is within 0.01 of 1/3
    checkpoints, observed = distribution.convergence(3, [10, 1000, 100_000], seed=3)
    assert checkpoints == [10, 1000, 100_000]
    assert all(abs(s - 1 / 3) < 0.01 for s in observed[-1])
    assert abs(observed[0].sum() - 1) < 1e-9


def test_ipvs_round_robin_differs_by_at_most_one():
    assert distribution.ipvs_round_robin(3, 10) == (4, 3, 3)
    assert distribution.ipvs_round_robin(4, 4) == (1, 1, 1, 1)


def test_keep_alive_pins_requests_to_the_connections_endpoints():
    per_endpoint = distribution.requests_per_endpoint(3, 2, 500, seed=1)
    assert sum(per_endpoint) == 1000
    assert sum(1 for c in per_endpoint if c) <= 2


@pytest.mark.parametrize("bad", [0, -1, True, 2.5, "3"])
def test_bad_endpoint_counts_are_refused_with_a_message(bad):
    with pytest.raises(InvalidValue, match="endpoints"):
        distribution.service_chain(bad)


@pytest.mark.parametrize("bad", [0, -5, 1.5])
def test_bad_connection_counts_are_refused(bad):
    with pytest.raises(InvalidValue, match="connections"):
        distribution.spread(3, bad)
