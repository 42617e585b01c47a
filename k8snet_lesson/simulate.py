"""New connections through a load-balancing chain, drawn the way the kernel draws them.

A KUBE-SVC chain is a list of rules, first match wins. A rule with ``-m statistic --mode
random --probability p`` matches when the kernel's fresh random number passes: iptables
stored ``lround(p * 2**31)`` when the rule was loaded, and ``xt_statistic`` compares
``(get_random_u32() & 0x7FFFFFFF) < that`` (``--probability 1`` always matches,
``0`` never does). Every rule draws its own number, so a connection that misses rule 1
is tried against rule 2 with a new draw. A rule without a probability always matches.

:func:`simulate` does exactly that for ``n`` connections at once with numpy: for each
rule, one 31-bit draw per connection still unmatched. :func:`chi_square` tests counts
against expected shares with the standard library only (the regularised upper
incomplete gamma function). The probability helpers give what kube-proxy prints:
``1/(n-i)`` as ``%0.10f`` today, ``%0.5f`` before (which prints the same text for two
neighbouring rules once a chain has 320 endpoints).

What it simplifies: the kernel's random source (ChaCha-based ``get_random_u32``) is
replaced by numpy's PCG64, seeded so results repeat; conntrack is not modelled (each
connection is new).

    >>> counts = simulate(kube_proxy_probabilities(3), 30_000, seed=7)
    >>> [int(c) for c in counts]
    [9918, 10023, 10059]
    >>> chi_square(counts, [1/3, 1/3, 1/3]).p_value > 0.01
    True
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence

import numpy as np

from .errors import InvalidValue
from .iptables import kernel_probability

__all__ = [
    "ChiSquare",
    "simulate",
    "chi_square",
    "regularized_gamma_q",
    "kube_proxy_probabilities",
    "probability_texts",
    "naive_probabilities",
    "kernel_threshold",
    "first_repeated_probability",
]

_TWO_31 = 0x80000000
_CHUNK = 1 << 22  # connections drawn at a time: bounds memory at ~16 MiB of draws


@dataclasses.dataclass(frozen=True)
class ChiSquare:
    """Pearson's chi-square test of observed counts against expected shares."""

    statistic: float
    dof: int
    p_value: float


def kernel_threshold(p: float) -> int:
    """The integer the kernel keeps for ``--probability p``: ``lround(p * 2**31)``.

    >>> kernel_threshold(0.5), kernel_threshold(0.3333333333), kernel_threshold(1.0)
    (1073741824, 715827883, 2147483648)
    """
    if not 0.0 <= p <= 1.0:
        raise InvalidValue(f"probability {p!r} is not between 0 and 1")
    return int(math.floor(p * _TWO_31 + 0.5))


def _thresholds(probabilities: Sequence[float | None]) -> list[int | None]:
    if len(probabilities) == 0:
        raise InvalidValue("a chain needs at least one rule")
    out: list[int | None] = []
    for p in probabilities:
        if p is None:
            out.append(None)
            continue
        if isinstance(p, bool) or not isinstance(p, (int, float, np.floating)):
            raise InvalidValue(f"probability {p!r} is not a number")
        out.append(kernel_threshold(float(p)))
    return out


def simulate(probabilities: Sequence[float | None], n: int, *, seed: int, chunk: int = _CHUNK) -> np.ndarray:
    """How many of ``n`` new connections each rule of the chain takes (numpy int64 array).

    ``probabilities[i]`` is rule i's ``--probability`` (None: the rule has none and
    takes everyone left). If every rule has a probability, one more element counts the
    connections that matched no rule and fell off the end of the chain.
    """
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 0:
        raise InvalidValue(f"number of connections {n!r} must be a whole number >= 0")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise InvalidValue(f"seed {seed!r} must be a whole number")
    if chunk < 1:
        raise InvalidValue(f"chunk {chunk!r} must be at least 1")
    thresholds = _thresholds(probabilities)
    fall_through = thresholds[-1] is not None
    counts = np.zeros(len(thresholds) + fall_through, dtype=np.int64)
    bits = np.random.default_rng(seed).bit_generator
    done = 0
    while done < n:
        left = min(chunk, n - done)
        done += left
        for i, threshold in enumerate(thresholds):
            if threshold is None:  # no statistic match: the rule always matches
                counts[i] += left
                left = 0
                break
            # One 31-bit draw per connection still unmatched; two draws per 64-bit word.
            draws = bits.random_raw((left + 1) // 2).view(np.uint32)[:left]
            draws &= 0x7FFFFFFF
            hit = int(np.count_nonzero(draws < threshold))
            counts[i] += hit
            left -= hit
            if left == 0:
                break
        if fall_through:
            counts[-1] += left
    return counts


def regularized_gamma_q(a: float, x: float) -> float:
    """Q(a, x) = Gamma(a, x) / Gamma(a), the upper tail; chi2.sf(s, k) = Q(k/2, s/2).

    A power series for P = 1 - Q when x < a + 1, a continued fraction (modified Lentz)
    for Q otherwise, both to double precision.

    >>> round(regularized_gamma_q(1.0, 2.0), 12) == round(math.exp(-2.0), 12)
    True
    """
    if a <= 0 or math.isnan(a) or math.isnan(x) or x < 0:
        raise InvalidValue(f"regularized gamma needs a > 0 and x >= 0, got a={a!r}, x={x!r}")
    if x == 0:
        return 1.0
    if math.isinf(x):
        return 0.0
    log_prefactor = a * math.log(x) - x - math.lgamma(a)
    eps = 1e-16
    if x < a + 1.0:
        term = total = 1.0 / a
        k = a
        for _ in range(100_000):
            k += 1.0
            term *= x / k
            total += term
            if abs(term) < abs(total) * eps:
                break
        return max(0.0, 1.0 - total * math.exp(log_prefactor))
    tiny = 1e-300
    b = x + 1.0 - a
    c = 1.0 / tiny
    d = 1.0 / b
    h = d
    for i in range(1, 100_000):
        an = -i * (i - a)
        b += 2.0
        d = an * d + b
        if abs(d) < tiny:
            d = tiny
        c = b + an / c
        if abs(c) < tiny:
            c = tiny
        d = 1.0 / d
        delta = d * c
        h *= delta
        if abs(delta - 1.0) < eps:
            break
    return min(1.0, math.exp(log_prefactor) * h)


def chi_square(counts: Sequence[int], shares: Sequence[float]) -> ChiSquare:
    """Pearson's test: do ``counts`` fit the expected ``shares`` (which sum to 1)?

    Categories with share 0 must have count 0 (else the statistic is infinite) and do
    not count as degrees of freedom: ``dof`` is the number of categories with a share,
    minus one.
    """
    observed = [int(c) for c in counts]
    expected_shares = [float(s) for s in shares]
    if len(observed) != len(expected_shares):
        raise InvalidValue(f"{len(observed)} counts but {len(expected_shares)} shares")
    if any(c < 0 for c in observed):
        raise InvalidValue("counts cannot be negative")
    if any(s < 0 or math.isnan(s) for s in expected_shares):
        raise InvalidValue("shares cannot be negative")
    total_share = math.fsum(expected_shares)
    if abs(total_share - 1.0) > 1e-6:
        raise InvalidValue(f"shares sum to {total_share!r}, not 1")
    total = sum(observed)
    if total == 0:
        raise InvalidValue("no connections counted")
    statistic = 0.0
    categories = 0
    for o, s in zip(observed, expected_shares):
        e = total * s / total_share
        if e == 0:
            if o:
                statistic = math.inf
            continue
        categories += 1
        statistic += (o - e) ** 2 / e
    dof = categories - 1
    if dof <= 0:
        p_value = 1.0 if statistic == 0 else 0.0
    else:
        p_value = regularized_gamma_q(dof / 2.0, statistic / 2.0)
    return ChiSquare(statistic, dof, p_value)


# --- the probabilities kube-proxy prints ------------------------------------------------


def _check_count(n: int) -> None:
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise InvalidValue(f"number of endpoints {n!r} must be a whole number >= 1")


def probability_texts(n: int, decimals: int = 10) -> list[str | None]:
    """The ``--probability`` words of a chain of ``n`` endpoints: ``1/(n-i)`` printed
    with ``%0.<decimals>f``, and None for the last rule (it has no statistic match).

    kube-proxy prints 10 decimals (``computeProbability``); releases before 1.13 printed 5.

    >>> probability_texts(3)
    ['0.3333333333', '0.5000000000', None]
    >>> probability_texts(4, decimals=5)
    ['0.25000', '0.33333', '0.50000', None]
    """
    _check_count(n)
    if isinstance(decimals, bool) or not isinstance(decimals, int) or not 0 <= decimals <= 20:
        raise InvalidValue(f"decimals {decimals!r} must be a whole number from 0 to 20")
    return [f"{1.0 / (n - i):.{decimals}f}" for i in range(n - 1)] + [None]


def kube_proxy_probabilities(n: int, decimals: int = 10) -> list[float | None]:
    """:func:`probability_texts` read back as numbers (what iptables-restore was given)."""
    return [None if t is None else float(t) for t in probability_texts(n, decimals)]


def naive_probabilities(n: int) -> list[float]:
    """Every rule ``1/n`` (and none takes the rest): the mistake kube-proxy avoids.

    Rule i then gets ``(1/n)(1 - 1/n)^i``, so the first endpoint gets most and some
    connections match no rule at all.
    """
    _check_count(n)
    return [1.0 / n] * n


def first_repeated_probability(decimals: int = 5) -> int:
    """The smallest number of endpoints whose chain prints the same probability twice.

    With 5 decimals, ``1/320`` and ``1/319`` both print ``0.00313``: from 320 endpoints
    on, old kube-proxy's chains repeat a probability (and the shares drift).

    >>> first_repeated_probability(5)
    320
    """
    if isinstance(decimals, bool) or not isinstance(decimals, int) or not 1 <= decimals <= 12:
        raise InvalidValue(f"decimals {decimals!r} must be a whole number from 1 to 12")
    k = 2
    previous = f"{1.0 / k:.{decimals}f}"
    while True:
        current = f"{1.0 / (k + 1):.{decimals}f}"
        if current == previous:
            return k + 1
        previous = current
        k += 1


def kernel_probabilities(probabilities: Sequence[float | None]) -> list[float | None]:
    """The probabilities as the kernel applies them (``lround(p * 2**31) / 2**31``)."""
    return [None if p is None else kernel_probability(p) for p in probabilities]
