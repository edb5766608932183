"""Judgement v2 (issue 13): noise band, ratio floors in points, Benjamini-Hochberg, severity from none by
absolute levels, multiples, and load-aware comparison of cost metrics."""

from __future__ import annotations

import random

from hypothesis import given, settings
from hypothesis import strategies as st

from behaviour_profiles.catalogue import BY_KEY, CATALOGUE
from behaviour_profiles.comparison import describe_change, judge_telemetry, load_comparison
from behaviour_profiles.formatting import format_change
from behaviour_profiles.models import (
    CompareOptions,
    Direction,
    LoadLabel,
    MetricStatus,
    MetricSummary,
    Severity,
    Verdict,
)
from behaviour_profiles.stats import benjamini_hochberg
from tests.unit.test_comparison import T0, by_metric, compare, healthy, judge, ok

# --- noise -------------------------------------------------------------------------------------


def test_a_ratio_at_its_floor_on_both_sides_is_unchanged() -> None:
    key = "async_match_rate"  # floor 0.01
    d = judge(key, ok(key, 0.00999), ok(key, 0.0101))
    assert (d.direction, d.severity, d.beyond_threshold, d.change_text) == (
        Direction.UNCHANGED,
        Severity.INFO,
        False,
        "unchanged",
    )
    assert "noise band" in d.reason


def test_a_change_from_none_must_clear_the_floor_by_a_floor() -> None:
    key = "occ_conflicts_per_sec"  # floor 0.01/s
    assert judge(key, ok(key, 0.0), ok(key, 0.019)).direction is Direction.UNCHANGED
    cleared = judge(key, ok(key, 0.0), ok(key, 0.05))
    assert cleared.direction is Direction.REGRESSED and cleared.counts_toward_verdict


def test_a_ratio_change_smaller_than_its_floor_in_points_is_noise() -> None:
    key = "async_match_rate"  # 2-point floor: 3 % to 4.5 % is +50 % but 1.5 points
    assert BY_KEY[key].floor_points == 2.0
    d = judge(key, ok(key, 0.03), ok(key, 0.045))
    assert d.direction is Direction.UNCHANGED and "point" in d.reason
    assert judge(key, ok(key, 0.03), ok(key, 0.09)).direction is Direction.REGRESSED


# --- multiple comparisons ----------------------------------------------------------------------


def test_benjamini_hochberg_adjusts_in_the_given_order() -> None:
    assert benjamini_hochberg([]) == []
    adjusted = benjamini_hochberg([0.01, 0.04, 0.03, 0.2])
    assert adjusted == [0.04, 0.04 * 4 / 3, 0.04 * 4 / 3, 0.2]
    assert all(a >= p for a, p in zip(adjusted, [0.01, 0.04, 0.03, 0.2], strict=True))


def test_adjusted_p_is_reported_beside_the_raw_one_and_decides() -> None:
    key = "persistence_latency_p95"
    old_series = [10.0, 11, 12, 13, 14, 15, 16, 17]
    new_series = [12.0, 13, 14, 15, 16, 17, 18, 19]
    old, new = healthy(), healthy()
    old[key], new[key] = ok(key, 10.0, old_series), ok(key, 13.0, new_series)
    alone = judge(key, old[key], new[key], significance_level=0.2)
    assert alone.evidence is not None and alone.evidence.p_value < 0.2 and alone.counts_toward_verdict
    # the other metrics are tested too (their series differ a little): the family is the whole comparison
    for other in ("persistence_latency_p99", "task_dispatch_latency", "backlog_age"):
        new[other] = ok(other, old[other].mean or 0, [(old[other].mean or 0) * (1 + 0.01 * (i % 3)) for i in range(30)])
    d = by_metric(judge_telemetry(old, new, CompareOptions(significance_level=0.2, include_all=True)))[key]
    assert d.evidence is not None and d.evidence.tests > 1
    assert d.evidence.p_adjusted is not None and d.evidence.p_adjusted > d.evidence.p_value
    assert d.evidence.significant == (d.evidence.p_adjusted < 0.2)


def _noise(rng: random.Random, key: str) -> MetricSummary:
    """30 points of heavy-tailed noise around the metric's typical value: means differ by 20 % often."""
    base = max(BY_KEY[key].noise_floor * 100, 1.0)
    points = [base * rng.lognormvariate(0.0, 1.0) for _ in range(30)]
    mean = sum(points) / len(points)
    ordered = sorted(points)
    return MetricSummary(
        key=key,
        status=MetricStatus.OK,
        unit=BY_KEY[key].unit,
        min=ordered[0],
        max=ordered[-1],
        mean=mean,
        p50=ordered[15],
        p95=ordered[28],
        p99=ordered[29],
        sample_count=30,
        series=[(T0.timestamp() + 15 * i, v) for i, v in enumerate(points)],
    )


NOISE_KEYS = [spec.key for spec in CATALOGUE][:40]


def test_forty_metrics_of_pure_noise_at_a_hundred_seeds_stay_within_the_false_discovery_rate() -> None:
    alpha = 0.05
    options = CompareOptions(significance_level=alpha, load_aware=False)
    raw_alarms = alarmed_seeds = 0
    for seed in range(100):
        rng = random.Random(seed)
        old = {key: _noise(rng, key) for key in NOISE_KEYS}
        new = {key: _noise(rng, key) for key in NOISE_KEYS}
        diffs = judge_telemetry(old, new, options)
        counted = [d for d in diffs if d.counts_toward_verdict and d.direction is not Direction.NO_DATA]
        alarmed_seeds += bool(counted)
        # without the adjustment, a raw p below alpha beyond the threshold would have counted
        raw_alarms += any(d.beyond_threshold and d.evidence and d.evidence.p_value < alpha for d in diffs)
    assert len(NOISE_KEYS) == 40
    # every change is noise, so any discovery is false: BH keeps the expected share of seeds with one at
    # or below alpha (at 1,000 seeds it is 4.3 %; these 100 see 6). A sample of 100 scatters around it,
    # so the bound is the binomial's 99th percentile at alpha: 10 of 100.
    assert alarmed_seeds <= 10
    assert raw_alarms > 3 * alarmed_seeds  # the test can fail: unadjusted, noise would alarm often


# --- severity from none and multiples ------------------------------------------------------------


def test_backlog_from_none_is_judged_by_its_levels() -> None:
    count, age = "backlog_count", "backlog_age"
    assert judge(count, ok(count, 0.0), ok(count, 24_758.0)).severity is Severity.CRITICAL
    assert judge(age, ok(age, 0.0), ok(age, 3_660.0)).severity is Severity.CRITICAL
    warning = judge(age, ok(age, 0.0), ok(age, 90.0))
    assert warning.severity is Severity.WARNING and warning.counts_toward_verdict
    quiet = judge(age, ok(age, 0.0), ok(age, 30.0))
    assert quiet.direction is Direction.REGRESSED and quiet.severity is Severity.INFO
    assert not quiet.counts_toward_verdict and "below the warning level 60 s" in quiet.reason


def test_error_metrics_without_levels_stay_critical_from_none() -> None:
    key = "exhausted_retries_per_sec"
    assert judge(key, ok(key, 0.0), ok(key, 0.5)).severity is Severity.CRITICAL


def test_beyond_ten_times_a_change_reads_as_a_multiple() -> None:
    assert format_change(506_300.0) == "\u00d75,064"
    assert format_change(1_100.0) == "\u00d712.0"
    assert format_change(900.0) == "+900 %"
    assert format_change(-95.0) == "-95 %"
    key = "persistence_latency_p99"
    d = judge(key, ok(key, 1.2), ok(key, 1.2 * 5_064))
    assert d.change_text == "\u00d75,064" and "\u00d75,064" in d.reason
    assert describe_change(d) == "persistence_latency_p99 \u00d75,064"
    old, new = healthy(), healthy()
    old[key], new[key] = d_old, d_new = ok(key, 1.2), ok(key, 1.2 * 5_064)
    assert d_old and d_new
    assert "\u00d75,064" in compare(old, new).summary


# --- load-aware ----------------------------------------------------------------------------------

STARTS, WORK, OCC = "workflows_started_per_sec", "state_transitions_per_sec", "occ_conflicts_per_sec"


def _at_load(factor: float, occ_per_1000: float) -> dict[str, MetricSummary]:
    metrics = healthy()
    metrics[STARTS] = ok(STARTS, 150.0 * factor)
    metrics[WORK] = ok(WORK, 1_500.0 * factor)
    metrics[OCC] = ok(OCC, 1.5 * factor * occ_per_1000)
    metrics["pool_in_use_count"] = ok("pool_in_use_count", 20.0 * factor)
    return metrics


def test_the_same_efficiency_at_two_and_a_half_times_the_load_is_explained_by_load() -> None:
    result = compare(_at_load(1.0, 1.0), _at_load(2.5, 1.0))
    assert result.load is not None and result.load.differs
    assert result.notes[0].startswith("Offered load differs")
    occ = by_metric(result.telemetry_diffs)[OCC]
    assert occ.direction is Direction.REGRESSED and occ.load_label is LoadLabel.EXPLAINED_BY_LOAD
    assert not occ.counts_toward_verdict and occ.severity is Severity.INFO
    assert occ.per_unit is not None and occ.per_unit.direction is Direction.UNCHANGED
    assert result.verdict is Verdict.PASS


def test_worse_efficiency_at_equal_load_is_worse_per_unit_of_work() -> None:
    result = compare(_at_load(1.0, 1.0), _at_load(1.0, 3.0))
    assert result.load is not None and not result.load.differs
    occ = by_metric(result.telemetry_diffs)[OCC]
    assert occ.load_label is LoadLabel.WORSE_PER_UNIT and occ.counts_toward_verdict
    assert result.verdict is Verdict.FAIL and "(worse per unit of work)" in result.summary


def test_load_awareness_can_be_turned_off() -> None:
    result = compare(_at_load(1.0, 1.0), _at_load(2.5, 1.0), load_aware=False)
    occ = by_metric(result.telemetry_diffs)[OCC]
    assert occ.load_label is None and occ.per_unit is None and occ.counts_toward_verdict
    assert result.verdict is Verdict.FAIL
    assert load_comparison(_at_load(1.0, 1.0), _at_load(2.5, 1.0), CompareOptions(load_aware=False)) is not None


@settings(max_examples=40, deadline=None)
@given(
    st.floats(0.3, 5.0),
    st.floats(0.3, 5.0),
    st.floats(0.2, 6.0),
    st.sampled_from([0.5, 2.0, 2.5, 4.0, 10.0]),
)
def test_property_scaling_both_windows_load_changes_no_per_unit_verdict(
    old_load: float, new_load: float, efficiency: float, factor: float
) -> None:
    options = CompareOptions()
    plain = by_metric(judge_telemetry(_at_load(old_load, 1.0), _at_load(new_load, efficiency), options))[OCC]
    scaled = by_metric(
        judge_telemetry(_at_load(old_load * factor, 1.0), _at_load(new_load * factor, efficiency), options)
    )[OCC]
    assert plain.per_unit is not None and scaled.per_unit is not None
    assert (plain.per_unit.direction, plain.per_unit.counts_toward_verdict) == (
        scaled.per_unit.direction,
        scaled.per_unit.counts_toward_verdict,
    )
    if plain.load_label is not None and scaled.load_label is not None:
        assert plain.load_label is scaled.load_label


def test_the_load_aware_worked_example_in_docs_comparison_md() -> None:
    busier = compare(_at_load(1.0, 1.0), _at_load(2.5, 1.0))
    assert busier.verdict is Verdict.PASS
    assert busier.notes[0] == (
        "Offered load differs: workflows_started_per_sec 150/s then 375/s (+150 %, beyond 20 %); cost metrics "
        "are judged per unit of work too, and each cost regression says whether load explains it"
    )
    worse = compare(_at_load(1.0, 1.0), _at_load(2.5, 3.0))
    assert worse.summary.startswith(
        "Fail: 1 metric regressed beyond threshold: occ_conflicts_per_sec +650 % (worse per unit of work)"
    )
