"""Pure statistics for comparisons: the Mann-Whitney U test and the Mann-Kendall trend test, written
out so they need no SciPy.

The test asks whether values from one window tend to be larger than values from another, without
assuming any distribution. It ranks both samples together (tied values share the average of their
ranks) and counts how often a value of one sample beats a value of the other.

Usage::

    outcome = compare_samples(old_values, new_values)
    if isinstance(outcome, InsufficientData):
        print(outcome.reason)
    else:
        print(outcome.p_value, outcome.effect_size)

The p-value is two-sided and uses the normal approximation with a tie correction and a continuity
correction, which is accurate for the few hundred points a profile stores per metric. The effect size
is the rank-biserial correlation: ``+1`` when every new value exceeds every old one, ``-1`` when every
new value is below every old one, ``0`` when neither side tends to be larger.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

MIN_SAMPLES = 5
"""Fewer points than this on either side and no test is run: the approximation would mislead."""

MIN_TREND_POINTS = 4
"""Fewer points than this and no trend test is run: three points in a row rise by chance one time in six."""


@dataclass(frozen=True)
class MannWhitneyResult:
    """The outcome of a two-sided Mann-Whitney U test of ``new`` against ``old``.

    ``u_statistic`` is the U of the *new* sample (the number of (old, new) pairs in which the new
    value is larger, ties counting one half); the old sample's U is ``n_old * n_new - u_statistic``.
    """

    n_old: int
    n_new: int
    u_statistic: float
    p_value: float
    effect_size: float


@dataclass(frozen=True)
class InsufficientData:
    """No test was run; ``reason`` says why in words."""

    n_old: int
    n_new: int
    reason: str


def finite_values(values: Iterable[float]) -> list[float]:
    """The finite values, in order: NaN and infinities (e.g. a 0/0 ratio) carry no rank."""
    return [float(v) for v in values if math.isfinite(v)]


def average_ranks(values: Sequence[float]) -> tuple[list[float], float]:
    """1-based ranks of ``values`` with ties given their average rank, and the tie term ``sum(t^3 - t)``.

    >>> average_ranks([3.0, 1.0, 3.0])
    ([2.5, 1.0, 2.5], 6.0)
    """
    order = sorted(range(len(values)), key=lambda i: values[i])
    ranks = [0.0] * len(values)
    tie_term = 0.0
    start = 0
    while start < len(order):
        end = start
        while end + 1 < len(order) and values[order[end + 1]] == values[order[start]]:
            end += 1
        # positions start..end (0-based) share ranks start+1..end+1; their mean is exact in floats
        shared = (start + end + 2) / 2.0
        for pos in range(start, end + 1):
            ranks[order[pos]] = shared
        t = end - start + 1
        tie_term += float(t * t * t - t)
        start = end + 1
    return ranks, tie_term


def mann_whitney_u(old: Sequence[float], new: Sequence[float]) -> MannWhitneyResult:
    """Two-sided Mann-Whitney U test with tie and continuity corrections (normal approximation).

    Both samples must be non-empty and finite; :func:`compare_samples` applies the small-sample
    guard and drops non-finite values first. When every value is tied there is no evidence of a
    difference and the p-value is 1.

    >>> r = mann_whitney_u([1, 2, 3, 4, 5], [6, 7, 8, 9, 10])
    >>> r.u_statistic, round(r.p_value, 4), r.effect_size
    (25.0, 0.0122, 1.0)
    """
    n_old, n_new = len(old), len(new)
    if n_old == 0 or n_new == 0:
        raise ValueError("both samples need at least one value")
    combined = [*old, *new]
    if not all(math.isfinite(v) for v in combined):
        raise ValueError("samples must be finite")
    ranks, tie_term = average_ranks(combined)
    rank_sum_new = math.fsum(ranks[n_old:])
    u_new = rank_sum_new - n_new * (n_new + 1) / 2.0
    pairs = float(n_old * n_new)
    effect = (2.0 * u_new - pairs) / pairs

    n = n_old + n_new
    mean_u = pairs / 2.0
    variance = pairs / 12.0 * ((n + 1) - tie_term / (n * (n - 1))) if n > 1 else 0.0
    if variance <= 0.0:
        p_value = 1.0
    else:
        # |U - mean| is the same whichever sample's U is used, so the test is symmetric
        z = max(abs(u_new - mean_u) - 0.5, 0.0) / math.sqrt(variance)
        p_value = min(1.0, math.erfc(z / math.sqrt(2.0)))
    return MannWhitneyResult(n_old=n_old, n_new=n_new, u_statistic=u_new, p_value=p_value, effect_size=effect)


@dataclass(frozen=True)
class TrendResult:
    """The outcome of a one-sided Mann-Kendall test for a rising trend in a series of values.

    ``s_statistic`` counts the later-larger pairs minus the later-smaller ones (ties count nothing);
    ``p_value`` is the chance of an ``S`` at least this large in values with no trend.
    """

    n: int
    s_statistic: int
    p_value: float


def rising_trend(values: Sequence[float]) -> TrendResult | None:
    """One-sided Mann-Kendall test: do later values tend to be larger than earlier ones?

    The normal approximation with a tie correction and a continuity correction; None with fewer than
    :data:`MIN_TREND_POINTS` finite values. A flat series has p = 1.

    >>> r = rising_trend([267, 267, 267, 357, 639, 639])
    >>> r.s_statistic, round(r.p_value, 3)
    (11, 0.02)
    >>> rising_trend([5, 4, 3, 2]).p_value > 0.9
    True
    """
    xs = finite_values(values)
    n = len(xs)
    if n < MIN_TREND_POINTS:
        return None
    s = sum((xs[j] > xs[i]) - (xs[j] < xs[i]) for i in range(n) for j in range(i + 1, n))
    ties = Counter(xs).values()
    variance = (n * (n - 1) * (2 * n + 5) - sum(t * (t - 1) * (2 * t + 5) for t in ties)) / 18.0
    if variance <= 0.0:
        return TrendResult(n=n, s_statistic=s, p_value=1.0)
    z = (s - 1) / math.sqrt(variance) if s > 0 else (s + 1) / math.sqrt(variance) if s < 0 else 0.0
    return TrendResult(n=n, s_statistic=s, p_value=0.5 * math.erfc(z / math.sqrt(2.0)))


def compare_samples(
    old: Iterable[float], new: Iterable[float], min_samples: int = MIN_SAMPLES
) -> MannWhitneyResult | InsufficientData:
    """Run :func:`mann_whitney_u` on the finite values, or say why not (too few points on a side)."""
    old_values = finite_values(old)
    new_values = finite_values(new)
    if len(old_values) < min_samples or len(new_values) < min_samples:
        return InsufficientData(
            n_old=len(old_values),
            n_new=len(new_values),
            reason=(
                f"too few points for a significance test ({len(old_values)} old, {len(new_values)} new; "
                f"at least {min_samples} needed on each side)"
            ),
        )
    return mann_whitney_u(old_values, new_values)


def benjamini_hochberg(p_values: Sequence[float]) -> list[float]:
    """Benjamini-Hochberg adjusted p-values, in the order given.

    With ``m`` tests, the i-th smallest p-value becomes ``min over j >= i of (m / j) * p_(j)``, capped
    at 1. Calling a test significant when its adjusted p-value is below ``alpha`` keeps the expected
    share of false discoveries among the discoveries at or below ``alpha`` (and, when every change is
    noise, the chance of any false alarm at or below ``alpha``).

    >>> [round(p, 3) for p in benjamini_hochberg([0.01, 0.04, 0.03, 0.2])]
    [0.04, 0.053, 0.053, 0.2]
    """
    m = len(p_values)
    order = sorted(range(m), key=lambda i: p_values[i])
    adjusted = [1.0] * m
    running = 1.0
    for rank in range(m, 0, -1):
        index = order[rank - 1]
        running = min(running, p_values[index] * m / rank)
        adjusted[index] = min(1.0, running)
    return adjusted


def percentile(sorted_values: Sequence[float], q: float) -> float:
    """Linear interpolation between closest ranks (``q`` in 0..1) of an ascending, non-empty sequence."""
    if len(sorted_values) == 1:
        return sorted_values[0]
    pos = q * (len(sorted_values) - 1)
    lo = math.floor(pos)
    hi = min(lo + 1, len(sorted_values) - 1)
    return sorted_values[lo] + (sorted_values[hi] - sorted_values[lo]) * (pos - lo)


@dataclass(frozen=True)
class SeriesStats:
    """The statistics a profile stores for a metric, taken from a series' finite values."""

    min: float
    max: float
    mean: float
    p50: float
    p95: float
    p99: float
    count: int

    def summary_fields(self) -> dict[str, float | int]:
        """The statistics under a ``MetricSummary``'s field names (``count`` is its ``sample_count``)."""
        return {
            "min": self.min,
            "max": self.max,
            "mean": self.mean,
            "p50": self.p50,
            "p95": self.p95,
            "p99": self.p99,
            "sample_count": self.count,
        }


def series_stats(values: Iterable[float]) -> SeriesStats | None:
    """min, max, mean, p50, p95 and p99 of the finite values, or None when there are none."""
    ordered = sorted(finite_values(values))
    if not ordered:
        return None
    return SeriesStats(
        min=ordered[0],
        max=ordered[-1],
        mean=math.fsum(ordered) / len(ordered),
        p50=percentile(ordered, 0.50),
        p95=percentile(ordered, 0.95),
        p99=percentile(ordered, 0.99),
        count=len(ordered),
    )
