"""Connections through a chain as the kernel draws them, and the chi-square test of the counts.

Statistical tests use fixed seeds; each states the p-value threshold it checks.
"""

from __future__ import annotations

import math
from decimal import Decimal, localcontext

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from k8snet_lesson.errors import InvalidValue
from k8snet_lesson.explain import exact_shares
from k8snet_lesson.simulate import (
    ChiSquare,
    chi_square,
    first_repeated_probability,
    kernel_probabilities,
    kernel_threshold,
    kube_proxy_probabilities,
    naive_probabilities,
    probability_texts,
    regularized_gamma_q,
    simulate,
)

# --- what the kernel keeps and compares ----------------------------------------------


@pytest.mark.parametrize("p, threshold", [
    (1.0, 2**31),  # (random & 0x7FFFFFFF) < 2^31 always: --probability 1 always matches
    (0.5, 2**30),
    (0.3333333333, 715827883),  # lround(0.3333333333 * 2^31)
    (0.33333, 715820724),  # old kube-proxy's 5 decimals
    (0.0, 0),
    (2.0e-10, 0),  # lround(0.43): the kernel never matches, though p > 0
    (2.4e-10, 1),  # lround(0.515): one chance in 2^31
])
def test_kernel_threshold(p, threshold):
    assert kernel_threshold(p) == threshold


def test_a_probability_the_kernel_rounds_to_zero_never_matches():
    counts = simulate([2.0e-10, None], 1_000_000, seed=1)
    assert counts.tolist() == [0, 1_000_000]


def test_probability_one_always_matches_and_zero_never():
    assert simulate([1.0, None], 50_000, seed=2).tolist() == [50_000, 0]
    assert simulate([0.0, None], 50_000, seed=2).tolist() == [0, 50_000]


def test_a_rule_without_probability_takes_everyone_left():
    assert simulate([None], 1234, seed=3).tolist() == [1234]
    counts = simulate([0.5, None, 0.5], 10_000, seed=3)
    assert counts[2] == 0 and counts.sum() == 10_000  # the rule after an unconditional one is never reached


def test_fall_through_element_when_every_rule_has_a_probability():
    counts = simulate([0.5, 0.5], 100_000, seed=4)
    assert len(counts) == 3 and counts.sum() == 100_000
    assert counts[2] > 0  # about a quarter of connections match no rule


def test_same_seed_same_counts_and_chunking_only_bounds_memory():
    probabilities = kube_proxy_probabilities(4)
    a = simulate(probabilities, 200_001, seed=5)
    b = simulate(probabilities, 200_001, seed=5)
    assert a.tolist() == b.tolist()
    small = simulate(probabilities, 200_001, seed=5, chunk=997)
    assert small.sum() == 200_001 and small.dtype == np.int64
    assert simulate(probabilities, 0, seed=5).tolist() == [0, 0, 0, 0]


@settings(max_examples=50, deadline=None)
@given(st.lists(st.none() | st.floats(0, 1), min_size=1, max_size=6), st.integers(0, 5000), st.integers(0, 2**32))
def test_every_connection_is_counted_once(probabilities, n, seed):
    counts = simulate(probabilities, n, seed=seed)
    assert counts.sum() == n
    assert len(counts) == len(probabilities) + (probabilities[-1] is not None)
    assert (counts >= 0).all()


@pytest.mark.parametrize("bad", [[], [1.5], [-0.1], ["0.5"], [True]])
def test_simulate_rejects_bad_probabilities(bad):
    with pytest.raises(InvalidValue):
        simulate(bad, 10, seed=0)


@pytest.mark.parametrize("n", [-1, 2.5, True])
def test_simulate_rejects_bad_counts(n):
    with pytest.raises(InvalidValue):
        simulate([None], n, seed=0)


# --- the shares come out as computed -------------------------------------------------


@pytest.mark.parametrize("endpoints", [2, 3, 5, 10])
def test_kube_proxy_chain_is_uniform(endpoints):
    # seed 20240601, one million connections; threshold: p-value above 0.001
    counts = simulate(kube_proxy_probabilities(endpoints), 1_000_000, seed=20240601)
    result = chi_square(counts, [1 / endpoints] * endpoints)
    assert result.dof == endpoints - 1
    assert result.p_value > 0.001


def test_naive_chain_follows_its_exact_shares_and_is_not_uniform():
    # seed 7, one million connections through "1/3 on every rule"
    probabilities = naive_probabilities(3)
    counts = simulate(probabilities, 1_000_000, seed=7)
    shares = exact_shares(probabilities)  # 1/3, 2/9, 4/27 and 8/27 falling through
    assert [round(s, 6) for s in shares] == [0.333333, 0.222222, 0.148148, 0.296296]
    assert chi_square(counts, shares).p_value > 0.001  # threshold: fits its own shares
    uniform = chi_square(counts[:3], [1 / 3] * 3)
    assert uniform.p_value < 1e-12  # threshold: the skew is plain at this size


def test_chi_square_finds_a_wrong_share():
    # seed 11: a chain with 0.4 on the first of two rules, tested against 50/50
    counts = simulate([0.4, None], 100_000, seed=11)
    assert chi_square(counts, [0.5, 0.5]).p_value < 1e-12
    assert chi_square(counts, [0.4, 0.6]).p_value > 0.001


# --- chi-square with the standard library, checked against its closed forms -----------
#
# For whole and half-whole a the upper tail has closed forms (Abramowitz & Stegun 6.5.13,
# 26.4.4 and 26.4.5); evaluated in 50-digit decimals they are an exact reference:
#   even k = 2n:   chi2.sf(x2, k) = e^-x * sum_{i<n} x^i / i!                       (x = x2 / 2)
#   odd k = 2n+1:  chi2.sf(x2, k) = erfc(sqrt x) + e^-x * sum_{i<n} x^(i+1/2) / Gamma(i+3/2)

PI = Decimal("3.14159265358979323846264338327950288419716939937510")


def _erfc(x: Decimal) -> Decimal:
    """erfc(sqrt x): the C library's where it does not underflow, else its asymptotic series
    (at x >= 600 the series' smallest term is far below 50 digits)."""
    if x < 600:
        return Decimal(math.erfc(math.sqrt(x)))
    total, term, m = Decimal(1), Decimal(1), 0
    while abs(term) > Decimal("1e-40"):
        m += 1
        term *= -(2 * m - 1) / (2 * x)
        total += term
    return (-x).exp() / (x.sqrt() * PI.sqrt()) * total


def chi2_sf_exact(statistic: float, dof: int) -> Decimal:
    with localcontext() as context:
        context.prec = 50
        x = Decimal(statistic) / 2
        n, odd = divmod(dof, 2)
        if not odd:
            term, total = Decimal(1), Decimal(0)
            for i in range(n):
                total += term
                term *= x / (i + 1)
            return (-x).exp() * total
        # Gamma(3/2) = sqrt(pi) / 2, Gamma(i + 5/2) = (i + 3/2) Gamma(i + 3/2)
        term, total = x.sqrt() / (PI.sqrt() / 2), Decimal(0)
        for i in range(n):
            total += term
            term *= x / (i + Decimal("1.5"))
        return _erfc(x) + (-x).exp() * total


@settings(max_examples=300, deadline=None)
@given(st.floats(0, 5000, allow_nan=False), st.integers(1, 300))
def test_chi_square_p_value_matches_the_closed_form(statistic, dof):
    ours = regularized_gamma_q(dof / 2, statistic / 2)
    exact = chi2_sf_exact(statistic, dof)
    if exact > Decimal("1e-290"):
        assert ours == pytest.approx(float(exact), rel=1e-9, abs=1e-300)
    else:
        assert ours < 1e-280


@pytest.mark.parametrize("statistic, dof", [(0.5, 1), (3.0, 2), (10.0, 3), (100.0, 50), (700.0, 2), (50.0, 80),
                                             (1e-8, 4), (299.0, 300), (301.0, 300), (1300.0, 1), (1300.0, 3)])
def test_chi_square_table_against_the_closed_form(statistic, dof):
    assert regularized_gamma_q(dof / 2, statistic / 2) == pytest.approx(float(chi2_sf_exact(statistic, dof)), rel=1e-10)


def test_the_closed_form_reference_is_right_where_it_is_known():
    # k = 2: sf = e^(-x2/2); k = 1: sf = erfc(sqrt(x2/2)); the two branches of erfc meet at 600
    assert float(chi2_sf_exact(7.0, 2)) == pytest.approx(math.exp(-3.5), rel=1e-15)
    assert float(chi2_sf_exact(3.0, 1)) == pytest.approx(math.erfc(math.sqrt(1.5)), rel=1e-15)
    assert float(_erfc(Decimal(600))) == pytest.approx(math.erfc(math.sqrt(600)), rel=1e-12)


def test_chi_square_statistic_and_degrees_of_freedom():
    result = chi_square([30, 20, 50], [0.25, 0.25, 0.5])
    # expected 25, 25, 50: (5^2 + 5^2 + 0) / 25 = 2
    assert result == ChiSquare(statistic=pytest.approx(2.0), dof=2, p_value=pytest.approx(math.exp(-1.0)))
    assert chi_square([10, 0], [1.0, 0.0]) == ChiSquare(0.0, 0, 1.0)  # a zero share is no category
    assert chi_square([9, 1], [1.0, 0.0]).statistic == math.inf


@pytest.mark.parametrize("counts, shares, message", [
    ([1, 2], [1.0], "2 counts but 1 shares"),
    ([1, 2], [0.5, 0.6], "shares sum to"),
    ([0, 0], [0.5, 0.5], "no connections"),
    ([-1, 2], [0.5, 0.5], "negative"),
])
def test_chi_square_rejects_bad_input(counts, shares, message):
    with pytest.raises(InvalidValue, match=message):
        chi_square(counts, shares)


def test_regularized_gamma_edges():
    assert regularized_gamma_q(2.0, 0.0) == 1.0
    assert regularized_gamma_q(2.0, math.inf) == 0.0
    # Q(1, x) = e^-x and Q(a, x) for a = n: e^-x * sum x^k / k!
    assert regularized_gamma_q(1.0, 3.0) == pytest.approx(math.exp(-3.0), rel=1e-14)
    assert regularized_gamma_q(3.0, 2.0) == pytest.approx(math.exp(-2.0) * (1 + 2 + 2), rel=1e-14)
    with pytest.raises(InvalidValue):
        regularized_gamma_q(0.0, 1.0)


# --- what kube-proxy prints ---------------------------------------------------------------


def test_probability_texts_like_kube_proxy():
    assert probability_texts(1) == [None]
    assert probability_texts(2) == ["0.5000000000", None]
    assert probability_texts(3) == ["0.3333333333", "0.5000000000", None]
    assert probability_texts(3, decimals=5) == ["0.33333", "0.50000", None]
    assert kube_proxy_probabilities(4) == [0.25, 0.3333333333, 0.5, None]
    with pytest.raises(InvalidValue):
        probability_texts(0)


@pytest.mark.parametrize("endpoints", [1, 2, 3, 7, 10, 100, 1000])
def test_kube_proxy_shares_are_uniform_to_print_precision(endpoints):
    shares = exact_shares(kube_proxy_probabilities(endpoints))
    assert len(shares) == endpoints
    assert max(abs(s - 1 / endpoints) for s in shares) < 1e-9 * endpoints


def test_old_five_decimal_probabilities_repeat_from_320_endpoints():
    assert first_repeated_probability(5) == 320
    texts = probability_texts(320, decimals=5)
    assert texts[0] == texts[1] == "0.00313"  # 1/320 and 1/319
    assert len(set(probability_texts(319, decimals=5))) == 319  # no repeat yet (the last is None)
    # rounding to 5 decimals moves the shares off 1/n: the first endpoint of 320 gets
    # 0.00313 (printed) instead of 1/320 = 0.003125, 0.16% too much
    shares = exact_shares(kube_proxy_probabilities(320, decimals=5))
    assert shares[0] == 0.00313
    assert max(abs(s * 320 - 1) for s in shares) == pytest.approx(0.0016)
    # with 10 decimals the same chain is uniform to 1e-7 of a share
    assert max(abs(s * 320 - 1) for s in exact_shares(kube_proxy_probabilities(320))) < 1e-6


def test_ten_decimals_repeat_much_later():
    n = first_repeated_probability(10)
    texts = probability_texts(n, decimals=10)
    assert texts[0] == texts[1]
    assert len(set(probability_texts(n - 1, decimals=10))) == n - 1


def test_kernel_probabilities():
    assert kernel_probabilities([0.3333333333, None]) == [715827883 / 2**31, None]
