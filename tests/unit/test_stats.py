"""The Mann-Whitney U test in behaviour_profiles.stats: worked examples and properties."""

from __future__ import annotations

import math
import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from behaviour_profiles.stats import (
    MIN_SAMPLES,
    MIN_TREND_POINTS,
    InsufficientData,
    MannWhitneyResult,
    average_ranks,
    compare_samples,
    mann_whitney_u,
    rising_trend,
)

values = st.floats(min_value=-1e6, max_value=1e6, allow_nan=False, allow_infinity=False)
# few distinct values, so ties are common
tied_values = st.integers(min_value=0, max_value=4).map(float)
samples = st.lists(st.one_of(values, tied_values), min_size=1, max_size=40)


def pair_count_u(old: list[float], new: list[float]) -> float:
    """U of the new sample by definition: pairs where new wins, ties counting one half."""
    return sum(1.0 if n > o else 0.5 if n == o else 0.0 for o in old for n in new)


# --- examples ----------------------------------------------------------------------------------


def test_separated_samples() -> None:
    result = mann_whitney_u([1, 2, 3, 4, 5], [6, 7, 8, 9, 10])
    assert result.u_statistic == 25.0
    assert result.effect_size == 1.0
    # mean U 12.5, variance 25/12 * 11, continuity-corrected z = 12 / 4.787 = 2.507
    assert result.p_value == pytest.approx(0.01219, abs=1e-5)
    assert (result.n_old, result.n_new) == (5, 5)


def test_ties_use_average_ranks_and_the_tie_correction() -> None:
    # combined ranks: 1 -> 1; 2,2 -> 2.5; 3,3,3 -> 5; 4,4 -> 7.5; 5,5 -> 9.5
    # new rank sum 5 + 15 + 19 = 39, so U = 39 - 15 = 24; tie term 6 + 24 + 6 + 6 = 42
    result = mann_whitney_u([1, 2, 2, 3, 3], [3, 4, 4, 5, 5])
    assert result.u_statistic == 24.0
    assert result.effect_size == pytest.approx(0.92)
    variance = 25 / 12 * (11 - 42 / 90)
    expected = math.erfc((abs(24 - 12.5) - 0.5) / math.sqrt(variance) / math.sqrt(2))
    assert result.p_value == pytest.approx(expected)
    assert result.p_value == pytest.approx(0.0189, abs=5e-4)  # z = 11 / 4.684 = 2.348


def test_average_ranks() -> None:
    ranks, tie_term = average_ranks([3.0, 1.0, 3.0, 2.0])
    assert ranks == [3.5, 1.0, 3.5, 2.0]
    assert tie_term == 6.0


def test_identical_samples_are_not_significant() -> None:
    result = mann_whitney_u([5.0] * 10, [5.0] * 10)
    assert result.p_value == 1.0
    assert result.effect_size == 0.0


def test_new_below_old_gives_negative_effect() -> None:
    result = mann_whitney_u([10, 11, 12, 13, 14, 15], [1, 2, 3, 4, 5, 6])
    assert result.effect_size == -1.0
    assert result.u_statistic == 0.0
    assert result.p_value < 0.01


def test_interleaved_samples_are_not_significant() -> None:
    result = mann_whitney_u([1, 3, 5, 7, 9, 11], [2, 4, 6, 8, 10, 12])
    assert result.p_value > 0.5


def test_small_sample_guard() -> None:
    outcome = compare_samples([1, 2, 3, 4], [5, 6, 7, 8, 9, 10])
    assert isinstance(outcome, InsufficientData)
    assert (outcome.n_old, outcome.n_new) == (4, 6)
    assert "too few points" in outcome.reason
    assert isinstance(compare_samples([1, 2, 3, 4, 5], [6, 7, 8, 9, 10]), MannWhitneyResult)
    assert MIN_SAMPLES == 5


def test_non_finite_values_are_dropped_before_the_guard() -> None:
    nan = float("nan")
    outcome = compare_samples([1, 2, nan, 3, 4, math.inf], [5, 6, 7, 8, 9])
    assert isinstance(outcome, InsufficientData)
    assert outcome.n_old == 4
    outcome = compare_samples([1, 2, nan, 3, 4, 5], [6, 7, 8, 9, 10])
    assert isinstance(outcome, MannWhitneyResult)
    assert outcome.n_old == 5


def test_empty_sample_is_refused() -> None:
    with pytest.raises(ValueError):
        mann_whitney_u([], [1.0])
    with pytest.raises(ValueError):
        mann_whitney_u([1.0, math.nan], [1.0])


# --- properties --------------------------------------------------------------------------------


@given(samples, samples)
def test_u_matches_the_pair_count(old: list[float], new: list[float]) -> None:
    result = mann_whitney_u(old, new)
    assert result.u_statistic == pair_count_u(old, new)


@given(samples, samples)
def test_bounds(old: list[float], new: list[float]) -> None:
    result = mann_whitney_u(old, new)
    assert 0.0 <= result.p_value <= 1.0
    assert -1.0 <= result.effect_size <= 1.0
    assert 0.0 <= result.u_statistic <= len(old) * len(new)


@given(samples, samples)
def test_swapping_samples_keeps_p_and_negates_effect(old: list[float], new: list[float]) -> None:
    forward, backward = mann_whitney_u(old, new), mann_whitney_u(new, old)
    assert forward.p_value == backward.p_value
    assert forward.effect_size == -backward.effect_size
    assert forward.u_statistic + backward.u_statistic == len(old) * len(new)


@given(samples, samples, st.randoms(use_true_random=False))
def test_order_within_a_sample_does_not_matter(old: list[float], new: list[float], rnd: random.Random) -> None:
    shuffled_old, shuffled_new = old[:], new[:]
    rnd.shuffle(shuffled_old)
    rnd.shuffle(shuffled_new)
    assert mann_whitney_u(old, new) == mann_whitney_u(shuffled_old, shuffled_new)


@given(samples, samples)
def test_invariant_under_a_monotone_transform(old: list[float], new: list[float]) -> None:
    # doubling is exact in floating point, so it keeps order and ties
    assert mann_whitney_u(old, new) == mann_whitney_u([2 * v for v in old], [2 * v for v in new])


@given(st.lists(values, min_size=MIN_SAMPLES, max_size=30))
def test_a_sample_against_itself_is_never_significant(sample: list[float]) -> None:
    result = mann_whitney_u(sample, sample)
    assert result.effect_size == 0.0
    assert result.p_value == 1.0


# --- the rising-trend test ---------------------------------------------------------------------


def pair_sign_sum(series: list[float]) -> int:
    """Mann-Kendall S by definition: later-larger pairs minus later-smaller pairs."""
    return sum((b > a) - (b < a) for i, a in enumerate(series) for b in series[i + 1 :])


def test_a_steady_rise_is_a_trend_and_a_fall_or_a_level_is_not() -> None:
    rise = rising_trend([1.0, 2.0, 3.0, 4.0, 5.0, 6.0])
    assert rise is not None and rise.s_statistic == 15 and rise.p_value < 0.01
    fall = rising_trend([6.0, 5.0, 4.0, 3.0, 2.0, 1.0])
    assert fall is not None and fall.p_value > 0.99
    level = rising_trend([3.0] * 8)
    assert level is not None and level.s_statistic == 0 and level.p_value == 1.0
    # four points in a row is the least that can be significant at 0.05; three never is
    four = rising_trend([1.0, 2.0, 3.0, 4.0])
    assert four is not None and four.p_value < 0.05
    assert rising_trend([1.0, 2.0, 3.0]) is None and MIN_TREND_POINTS == 4
    assert rising_trend([1.0, math.nan, 2.0, math.inf]) is None  # two finite points


trend_series = st.lists(st.one_of(values, tied_values), min_size=MIN_TREND_POINTS, max_size=30)


@given(trend_series)
def test_s_matches_the_pair_signs_and_p_is_a_probability(series: list[float]) -> None:
    result = rising_trend(series)
    assert result is not None and result.n == len(series)
    assert result.s_statistic == pair_sign_sum(series)
    assert 0.0 <= result.p_value <= 1.0


@given(trend_series)
def test_reversing_a_series_mirrors_its_trend(series: list[float]) -> None:
    forward, backward = rising_trend(series), rising_trend(series[::-1])
    assert forward is not None and backward is not None
    assert forward.s_statistic == -backward.s_statistic
    if forward.s_statistic > 0:
        assert forward.p_value <= 0.5 <= backward.p_value


@given(trend_series)
def test_the_trend_depends_on_order_alone(series: list[float]) -> None:
    # doubling is exact in floating point, so it keeps the order and the ties
    assert rising_trend(series) == rising_trend([2 * v for v in series])
