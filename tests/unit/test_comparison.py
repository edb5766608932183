"""The judgement engine in behaviour_profiles.comparison: rules by example, then properties."""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from behaviour_profiles.catalogue import BY_KEY, CATALOGUE, MetricSpec
from behaviour_profiles.comparison import (
    CRITICAL_FACTOR,
    CRITICAL_TIMES,
    compare_profiles,
    config_diffs,
    config_notes,
    describe_change,
    filter_diffs,
    judge_metric,
    judge_telemetry,
    order_diffs,
    verdict_and_summary,
    version_diffs,
    window_length_note,
)
from behaviour_profiles.correlation import correlate
from behaviour_profiles.models import (
    BehaviourProfile,
    Better,
    ChangeKind,
    CompareOptions,
    ConfigSnapshot,
    CorrelationRelation,
    Coverage,
    Direction,
    LoadLabel,
    MetricStatus,
    MetricSummary,
    ProfileComparison,
    Severity,
    Statistic,
    TelemetryDiff,
    TelemetrySummary,
    ThresholdClass,
    Verdict,
    VersionIdentity,
)

T0 = datetime(2026, 2, 18, 10, 0, tzinfo=UTC)
ID_A = UUID(int=0xA)
ID_B = UUID(int=0xB)
DEFAULTS = CompareOptions()

# --- factories ---------------------------------------------------------------------------------


def around(value: float, n: int = 30) -> list[float]:
    """A steady series near ``value`` (±4 %), deterministic."""
    return [value * (1 + 0.02 * ((i % 5) - 2)) for i in range(n)]


def ok(key: str, mean: float, series: Sequence[float] | None = None, **stats: float) -> MetricSummary:
    """A summary whose statistics all equal ``mean`` unless given; series defaults to a steady one."""
    points = around(mean) if series is None else list(series)
    values: dict[str, float] = {s: mean for s in ("min", "max", "mean", "p50", "p95", "p99")}
    values.update(stats)
    return MetricSummary(
        key=key,
        status=MetricStatus.OK,
        unit=BY_KEY[key].unit,
        sample_count=len(points),
        series=[(T0.timestamp() + 15 * i, v) for i, v in enumerate(points)],
        **values,
    )


def no_data(key: str, reason: str = "no samples in the window") -> MetricSummary:
    return MetricSummary(key=key, status=MetricStatus.NO_DATA, unit=BY_KEY[key].unit, reason=reason)


def typical(spec: MetricSpec) -> float:
    """A value well above the metric's noise floor."""
    return max(spec.noise_floor * 100, 1.0)


def healthy() -> dict[str, MetricSummary]:
    return {spec.key: ok(spec.key, typical(spec)) for spec in CATALOGUE}


def changed(metrics: Mapping[str, MetricSummary], **summaries: MetricSummary) -> dict[str, MetricSummary]:
    out = dict(metrics)
    out.update(summaries)
    return out


def scaled(key: str, factor: float) -> MetricSummary:
    """The healthy value of ``key`` times ``factor``, with a series that moved with it."""
    return ok(key, typical(BY_KEY[key]) * factor)


def make_profile(
    metrics: Mapping[str, MetricSummary],
    *,
    profile_id: UUID = ID_A,
    hours: float = 1.0,
    config: ConfigSnapshot | None = None,
    versions: VersionIdentity | None = None,
    namespace: str | None = "default",
) -> BehaviourProfile:
    with_data = sum(1 for m in metrics.values() if m.status is MetricStatus.OK)
    return BehaviourProfile(
        id=profile_id,
        name=f"profile {profile_id.int}",
        label=None,
        cluster_id="dsql-1",
        namespace=namespace,
        task_queue=None,
        time_window_start=T0,
        time_window_end=T0 + timedelta(hours=hours),
        created_at=T0 + timedelta(hours=hours, minutes=1),
        versions=versions or VersionIdentity(),
        config=config or ConfigSnapshot(),
        telemetry=TelemetrySummary(
            dialect="opentelemetry",
            step_seconds=15,
            metrics=dict(metrics),
            coverage=Coverage(with_data=with_data, asked=len(metrics)),
        ),
    )


def compare(old: Mapping[str, MetricSummary], new: Mapping[str, MetricSummary], **options: Any) -> ProfileComparison:
    return compare_profiles(
        make_profile(old, profile_id=ID_A), make_profile(new, profile_id=ID_B), CompareOptions(**options)
    )


def judge(key: str, old: MetricSummary | None, new: MetricSummary | None, **options: Any) -> TelemetryDiff:
    return judge_metric(BY_KEY[key], old, new, CompareOptions(**options))


def by_metric(diffs: Sequence[TelemetryDiff]) -> dict[str, TelemetryDiff]:
    return {d.metric: d for d in diffs}


# --- one metric --------------------------------------------------------------------------------


def test_latency_regression_beyond_twice_the_threshold_is_critical() -> None:
    d = judge("persistence_latency_p99", ok("persistence_latency_p99", 12.5), ok("persistence_latency_p99", 51.5))
    assert d.direction is Direction.REGRESSED
    assert d.severity is Severity.CRITICAL
    assert d.change_pct == pytest.approx(312.0)
    assert (d.old_value, d.new_value) == (12.5, 51.5)
    assert d.beyond_threshold and d.counts_toward_verdict
    assert d.threshold_pct == 20.0
    assert d.evidence is not None and d.evidence.significant and d.evidence.effect_size == 1.0
    assert d.old is not None and d.old.mean == 12.5
    assert d.key_metric
    assert "+312 %" in d.reason and "12.5 ms" in d.reason and "lower is better" in d.reason
    assert describe_change(d) == "persistence_latency_p99 +312 %"


@pytest.mark.parametrize(
    ("factor", "direction", "severity"),
    [
        (1.10, Direction.UNCHANGED, Severity.INFO),
        (1.20, Direction.UNCHANGED, Severity.INFO),  # exactly at the threshold is within it
        (1.30, Direction.REGRESSED, Severity.WARNING),
        (1.41, Direction.REGRESSED, Severity.CRITICAL),
        (0.70, Direction.IMPROVED, Severity.WARNING),
        (0.50, Direction.IMPROVED, Severity.CRITICAL),
    ],
)
def test_latency_thresholds(factor: float, direction: Direction, severity: Severity) -> None:
    key = "workflow_schedule_to_start_p95"
    d = judge(key, ok(key, 100.0), ok(key, 100.0 * factor))
    assert (d.direction, d.severity) == (direction, severity)


@pytest.mark.parametrize(("beyond", "severity"), [(0.9, Severity.WARNING), (1.1, Severity.CRITICAL)])
def test_critical_is_beyond_the_critical_factor_times_the_threshold_and_says_so(
    beyond: float, severity: Severity
) -> None:
    key = "workflow_schedule_to_start_p95"
    threshold = CompareOptions().threshold_for(ThresholdClass.LATENCY)
    d = judge(key, ok(key, 100.0), ok(key, 100.0 * (1 + beyond * CRITICAL_FACTOR * threshold / 100)))
    assert d.direction is Direction.REGRESSED and d.severity is severity
    assert (f"beyond {CRITICAL_TIMES} the" in d.reason) is (severity is Severity.CRITICAL)


def test_error_class_uses_its_own_threshold() -> None:
    key = "occ_conflicts_per_sec"
    d = judge(key, ok(key, 1.0), ok(key, 1.4))  # +40 % is within the 50 % error threshold
    assert d.direction is Direction.UNCHANGED and d.threshold_pct == 50.0
    d = judge(key, ok(key, 1.0), ok(key, 1.6))
    assert (d.direction, d.severity) == (Direction.REGRESSED, Severity.WARNING)


def test_threshold_override() -> None:
    key = "persistence_latency_p95"
    d = judge(key, ok(key, 10.0), ok(key, 15.0), thresholds_pct={ThresholdClass.LATENCY: 60})
    assert d.direction is Direction.UNCHANGED and d.threshold_pct == 60.0


def test_higher_is_better_metric_falling_is_a_regression() -> None:
    key = "sync_match_rate"
    assert BY_KEY[key].better is Better.HIGHER
    d = judge(key, ok(key, 0.9), ok(key, 0.5))
    assert d.direction is Direction.REGRESSED and d.severity is Severity.CRITICAL
    d = judge(key, ok(key, 0.5), ok(key, 0.9))
    assert d.direction is Direction.IMPROVED


def test_neutral_metric_is_changed_never_regressed() -> None:
    key = "workflows_started_per_sec"
    assert BY_KEY[key].better is Better.NEUTRAL
    for old, new in ((100.0, 300.0), (300.0, 100.0)):
        d = judge(key, ok(key, old), ok(key, new))
        assert d.direction is Direction.CHANGED
        assert d.severity is Severity.CRITICAL
        assert "not a regression" in d.reason


def test_from_none_to_activity_on_an_error_metric_is_critical_without_a_percentage() -> None:
    key = "occ_conflicts_per_sec"
    d = judge(key, ok(key, 0.0, [0.0] * 30), ok(key, 2.1))
    assert d.direction is Direction.REGRESSED
    assert d.severity is Severity.CRITICAL
    assert d.change_pct is None
    assert d.beyond_threshold and d.counts_toward_verdict
    assert "from none to 2.1/s" in d.reason
    assert describe_change(d) == "occ_conflicts_per_sec from none to 2.1/s"


def test_from_under_the_noise_floor_to_activity_elsewhere_is_a_warning() -> None:
    key = "cpu_utilization.history"  # capacity class, noise floor 0.01 cores, no absolute levels
    d = judge(key, ok(key, 0.005), ok(key, 4.0))
    assert (d.direction, d.severity, d.change_pct) == (Direction.REGRESSED, Severity.WARNING, None)
    assert "under the noise floor" in d.reason and "4 cores" in d.reason


def test_from_none_for_a_higher_is_better_metric_is_an_improvement() -> None:
    key = "workflows_completed_per_sec"
    d = judge(key, ok(key, 0.0, [0.0] * 30), ok(key, 150.0))
    assert (d.direction, d.severity, d.change_pct) == (Direction.IMPROVED, Severity.WARNING, None)


def test_both_under_the_noise_floor_is_unchanged() -> None:
    key = "occ_conflicts_per_sec"  # floor 0.01/s
    d = judge(key, ok(key, 0.001), ok(key, 0.009))
    assert (d.direction, d.severity, d.change_pct) == (Direction.UNCHANGED, Severity.INFO, None)
    assert not d.beyond_threshold
    assert "noise floor" in d.reason


def test_activity_stopping_is_a_percentage() -> None:
    key = "occ_conflicts_per_sec"
    d = judge(key, ok(key, 2.0), ok(key, 0.0, [0.0] * 30))
    assert d.change_pct == pytest.approx(-100.0)
    # -100 % is beyond the 50 % error threshold but not beyond twice it
    assert (d.direction, d.severity) == (Direction.IMPROVED, Severity.WARNING)


def test_no_data_outcomes() -> None:
    key = "persistence_latency_p99"  # a key metric
    d = judge(key, ok(key, 10.0), no_data(key, "no samples for persistence_latency"))
    assert d.direction is Direction.NO_DATA
    assert d.severity is Severity.WARNING
    assert (d.old_value, d.new_value, d.change_pct) == (10.0, None, None)
    assert d.new is not None and d.new.mean is None
    assert "new side" in d.reason and "no samples for persistence_latency" in d.reason
    assert "cannot pass" in d.reason

    d = judge(key, None, None)
    assert d.direction is Direction.NO_DATA and "either side" in d.reason and d.old is None

    other = "cpu_utilization.history"  # not a key metric
    d = judge(other, no_data(other), ok(other, 1.0))
    assert (d.direction, d.severity, d.key_metric) == (Direction.NO_DATA, Severity.INFO, False)
    assert "old side" in d.reason


def test_a_missing_statistic_is_no_data_never_zero() -> None:
    key = "backlog_age"
    old = ok(key, 10.0)
    new = MetricSummary(key=key, status=MetricStatus.OK, unit="s", mean=10.0, p99=None)
    d = judge(key, old, new, statistic=Statistic.P99)
    assert d.direction is Direction.NO_DATA and "no p99 value" in d.reason


def test_chosen_statistic_is_compared() -> None:
    key = "task_dispatch_latency"
    old, new = ok(key, 10.0, p99=50.0), ok(key, 10.5, p99=200.0)
    assert judge(key, old, new).direction is Direction.UNCHANGED
    d = judge(key, old, new, statistic=Statistic.P99)
    assert d.statistic is Statistic.P99
    assert (d.old_value, d.new_value) == (50.0, 200.0)
    assert d.direction is Direction.REGRESSED and d.reason.startswith("p99 rose")


def test_change_beyond_threshold_that_is_not_significant_is_info_and_not_counted() -> None:
    key = "persistence_latency_p95"
    # one spike lifts the mean by 30 % but the series barely differ
    old = ok(key, 10.0, [10.0] * 30)
    new = ok(key, 13.0, [10.0] * 29 + [100.0])
    d = judge(key, old, new)
    assert d.direction is Direction.REGRESSED and d.beyond_threshold
    assert d.severity is Severity.INFO
    assert not d.counts_toward_verdict
    assert d.evidence is not None and not d.evidence.significant and d.evidence.p_value >= 0.05
    assert "not statistically significant" in d.reason
    verdict, summary = verdict_and_summary([d])
    assert verdict is Verdict.PASS
    assert "not statistically significant" in summary


def test_significance_level_is_an_option() -> None:
    key = "persistence_latency_p95"
    old = ok(key, 10.0, [10, 11, 12, 13, 14, 15, 16, 17])
    new = ok(key, 13.0, [12, 13, 14, 15, 16, 17, 18, 19])
    d = judge(key, old, new)
    assert d.evidence is not None and 0.01 < d.evidence.p_value < 0.2
    strict = judge(key, old, new, significance_level=0.01)
    lax = judge(key, old, new, significance_level=0.2)
    assert not strict.counts_toward_verdict and lax.counts_toward_verdict


def test_too_few_points_is_judged_on_the_threshold_alone() -> None:
    key = "persistence_latency_p95"
    d = judge(key, ok(key, 40.0, [40.0, 40.0, 40.0]), ok(key, 80.0))
    assert d.evidence is None
    assert d.counts_toward_verdict and d.severity is Severity.CRITICAL
    assert "too few points" in d.reason and "3 old, 30 new" in d.reason
    assert d.reason.endswith("so judged on the threshold alone")


def test_too_few_points_and_under_the_warning_level_is_reported_not_counted() -> None:
    """Two healthy 95 s windows of a real server moved p99s, start latency and busy slots this much:
    untestable, and far from any level that matters, so not a regression that decides a verdict."""
    for key, old_value, new_value in (
        ("persistence_latency_p95", 10.0, 20.0),
        ("workflow_schedule_to_start_p99", 22.4, 30.1),
        ("worker_task_slot_utilization", 0.05, 0.10),
    ):
        d = judge(key, ok(key, old_value, [old_value] * 4), ok(key, new_value, [new_value] * 4))
        assert d.evidence is None and d.direction is Direction.REGRESSED and d.beyond_threshold, key
        assert d.severity is Severity.INFO and not d.counts_toward_verdict, key
        assert "too few points" in d.reason and "is below the warning level" in d.reason, d.reason
        assert d.reason.endswith("so not counted"), d.reason
    # at or over the level, the threshold decides as before; with enough points, the test does
    over = judge(
        "worker_task_slot_utilization",
        ok("worker_task_slot_utilization", 0.5, [0.5] * 4),
        ok("worker_task_slot_utilization", 0.9, [0.9] * 4),
    )
    assert over.counts_toward_verdict and over.severity is Severity.CRITICAL
    tested = judge(
        "workflow_schedule_to_start_p99",
        ok("workflow_schedule_to_start_p99", 10.0, [9.0, 10.0, 11.0, 10.0, 9.5, 10.5]),
        ok("workflow_schedule_to_start_p99", 30.0, [29.0, 30.0, 31.0, 30.0, 29.5, 30.5]),
    )
    assert tested.evidence is not None and tested.counts_toward_verdict


def test_a_capacity_metric_under_its_warning_level_has_headroom_and_is_not_counted() -> None:
    """Two healthy 150 s windows of a real server: 1 then 2 busy activity slots of 20 at every point, a
    significant +100 %, and 90 % of the slots still free."""
    key = "worker_task_slot_utilization"
    d = judge(key, ok(key, 0.05, [0.05] * 6), ok(key, 0.10, [0.10] * 6))
    assert d.evidence is not None and d.evidence.significant and d.direction is Direction.REGRESSED
    assert d.severity is Severity.INFO and not d.counts_toward_verdict
    assert d.reason.endswith("10.0 % is below the warning level 80.0 %: headroom is left, so not counted"), d.reason
    assert verdict_and_summary([d])[0] is Verdict.PASS
    # at the level there is none left; and latency under its level is still a regression when tested
    saturated = judge(key, ok(key, 0.05, [0.05] * 6), ok(key, 0.85, [0.85] * 6))
    assert saturated.counts_toward_verdict and saturated.severity is Severity.CRITICAL
    p95 = "persistence_latency_p95"
    slower = judge(p95, ok(p95, 5.0, [5.0, 5.1, 4.9, 5.0, 5.2, 4.8]), ok(p95, 6.6, [6.6, 6.7, 6.5, 6.6, 6.8, 6.4]))
    assert slower.counts_toward_verdict and slower.severity is Severity.WARNING


def test_a_capacity_metric_whose_peak_reached_its_level_had_no_headroom() -> None:
    """A real incident (2 activity slots, hundreds of tasks queued) read 1 of 2 slots busy at some of its 4
    points, between a task and the next poll: its mean under the 80 % warning level, its peak 2 of 2."""
    key = "worker_task_slot_utilization"
    old = ok(key, 0.05, [0.05] * 4)
    saturated = judge(key, old, ok(key, 0.75, [1.0, 0.5, 1.0, 0.5], max=1.0))
    assert saturated.evidence is None and saturated.direction is Direction.REGRESSED
    assert saturated.counts_toward_verdict and saturated.severity is Severity.CRITICAL
    assert (
        "75.0 % is below the warning level 80.0 %, but its peak 100.0 % is at or above the critical level 95.0 %: "
        "no headroom at its busiest" in saturated.reason
    ), saturated.reason
    assert saturated.reason.endswith("so judged on the threshold alone"), saturated.reason
    # tested, the same: the peak decides headroom
    tested = judge(key, ok(key, 0.05, [0.05] * 6), ok(key, 0.75, [1.0, 0.5] * 3, max=1.0))
    assert tested.counts_toward_verdict and "no headroom at its busiest" in tested.reason
    # a peak under the level leaves headroom, as before
    calm = judge(key, ok(key, 0.05, [0.05] * 6), ok(key, 0.10, [0.10] * 5 + [0.15], max=0.15))
    assert not calm.counts_toward_verdict and calm.reason.endswith("headroom is left, so not counted")
    # latency has no headroom rule: a p95 whose peak crossed its level is judged as before (untested, under)
    p95 = "persistence_latency_p95"
    spiky = judge(p95, ok(p95, 10.0, [10.0] * 4), ok(p95, 20.0, [20.0] * 4, max=500.0))
    assert not spiky.counts_toward_verdict and "no headroom" not in spiky.reason


# the backlog gauges of a real server during overload (updated about once a minute, so they plateau)
GROWING_BACKLOG = [267.0, 267.0, 267.0, 357.0, 639.0, 639.0]


def test_a_backlog_growing_through_the_window_counts_even_under_its_level() -> None:
    key = "backlog_count"
    zero = ok(key, 0.0, [0.0] * 6)
    growing = judge(key, zero, ok(key, 406.0, GROWING_BACKLOG))
    assert growing.change_pct is None and growing.direction is Direction.REGRESSED
    assert growing.severity is Severity.WARNING and growing.counts_toward_verdict
    assert "406 tasks is below the warning level 1,000 tasks" in growing.reason
    assert growing.reason.endswith(
        "but it rose through the window (267 tasks to 639 tasks, trend test p = 0.020): a backlog that keeps "
        "growing reaches its level later, so counted as a warning"
    ), growing.reason
    assert verdict_and_summary([growing])[0] is Verdict.WARN
    # the same mean, level and draining (the previous run's backlog at the first point), or flat: not counted
    for series in ([697.0, 0.0, 0.0, 0.0, 0.0, 0.0], [116.0] * 6):
        d = judge(key, zero, ok(key, sum(series) / 6, series))
        assert d.severity is Severity.INFO and not d.counts_toward_verdict, series
        assert "rose through the window" not in d.reason
    # one jump at the end is not a trend
    jump = judge(key, zero, ok(key, 100.0, [0.0] * 5 + [600.0]))
    assert not jump.counts_toward_verdict


def test_an_untested_backlog_growing_counts_and_a_growing_latency_does_not_by_growth() -> None:
    age = "backlog_age"
    d = judge(age, ok(age, 10.0, [10.0] * 4), ok(age, 30.0, [12.0, 25.0, 35.0, 48.0]))
    assert d.evidence is None and "too few points" in d.reason
    assert d.severity is Severity.WARNING and d.counts_toward_verdict
    assert "but it rose through the window (12 s to 48 s" in d.reason, d.reason
    # only a backlog accumulates: a rising latency under its level with too few points stays uncounted
    p99 = "workflow_schedule_to_start_p99"
    latency = judge(p99, ok(p99, 10.0, [10.0] * 4), ok(p99, 30.0, [12.0, 25.0, 35.0, 48.0]))
    assert not latency.counts_toward_verdict and "rose through the window" not in latency.reason


def test_the_summary_says_why_each_change_beyond_threshold_was_not_counted() -> None:
    key = "worker_task_slot_utilization"
    untested = judge(key, ok(key, 0.05, [0.05] * 4), ok(key, 0.10, [0.10] * 4))
    verdict, summary = verdict_and_summary([untested])
    assert verdict is Verdict.PASS
    assert summary.endswith("(1 change beyond threshold under the metric's warning level, not counted).")
    p99 = "persistence_latency_p99"
    old, new = ok(p99, 60.0, [60, 61, 62, 63, 64, 65, 66, 67]), ok(p99, 78.0, [62, 63, 64, 65, 66, 67, 68, 69])
    noisy = judge(p99, old, new, significance_level=0.01)
    assert noisy.evidence is not None and not noisy.evidence.significant and noisy.beyond_threshold
    _, mixed = verdict_and_summary([untested, noisy])
    assert mixed.endswith(
        "(2 changes beyond threshold not counted: 1 not statistically significant, 1 under the metric's warning level)."
    ), mixed


def test_the_go_heap_is_reported_as_changed_and_never_counted() -> None:
    key = "memory_utilization.history"
    d = judge(key, ok(key, 68e6, [68e6] * 4), ok(key, 124e6, [124e6] * 4))
    assert d.direction is Direction.CHANGED and d.beyond_threshold  # listed, never a regression


def test_not_significant_absolute_change_is_not_counted() -> None:
    key = "dsql_auth_failures"
    # 0.03/s clears twice the 0.01/s floor, but it is one spike in 30 points
    d = judge(key, ok(key, 0.0, [0.0] * 30), ok(key, 0.03, [0.0] * 29 + [0.9]))
    assert d.change_pct is None and d.direction is Direction.REGRESSED
    assert d.severity is Severity.INFO and not d.counts_toward_verdict


# --- a whole comparison ------------------------------------------------------------------------


def test_a_profile_compared_with_itself_passes_and_lists_nothing() -> None:
    metrics = healthy()
    result = compare(metrics, metrics)
    assert result.verdict is Verdict.PASS
    assert result.telemetry_diffs == []
    assert result.summary == "Pass: no metric regressed beyond its threshold."
    assert (result.profile_a_id, result.profile_b_id) == (str(ID_A), str(ID_B))
    assert result.thresholds_pct == {
        ThresholdClass.LATENCY: 20.0,
        ThresholdClass.ERROR: 50.0,
        ThresholdClass.THROUGHPUT: 20.0,
        ThresholdClass.CAPACITY: 20.0,
    }
    everything = compare(metrics, metrics, include_all=True)
    assert len(everything.telemetry_diffs) == len(CATALOGUE)
    assert {d.direction for d in everything.telemetry_diffs} == {Direction.UNCHANGED}


def test_fail_with_ordered_diffs_and_summary() -> None:
    old = healthy()
    old["occ_conflicts_per_sec"] = ok("occ_conflicts_per_sec", 0.0, [0.0] * 30)
    new = changed(
        old,
        persistence_latency_p99=ok("persistence_latency_p99", typical(BY_KEY["persistence_latency_p99"]) * 4.12),
        occ_conflicts_per_sec=ok("occ_conflicts_per_sec", 2.1),
        sync_match_rate=scaled("sync_match_rate", 0.55),
        backlog_age=scaled("backlog_age", 1.3),
        workflows_completed_per_sec=scaled("workflows_completed_per_sec", 1.5),
        workflows_started_per_sec=scaled("workflows_started_per_sec", 1.5),
        task_dispatch_latency=scaled("task_dispatch_latency", 1.1),
    )
    result = compare(old, new)
    assert result.verdict is Verdict.FAIL
    assert [(d.metric, d.direction, d.severity) for d in result.telemetry_diffs] == [
        ("occ_conflicts_per_sec", Direction.REGRESSED, Severity.CRITICAL),
        ("persistence_latency_p99", Direction.REGRESSED, Severity.CRITICAL),
        ("sync_match_rate", Direction.REGRESSED, Severity.CRITICAL),
        ("workflows_completed_per_sec", Direction.IMPROVED, Severity.CRITICAL),
        ("workflows_started_per_sec", Direction.CHANGED, Severity.CRITICAL),
        ("backlog_age", Direction.REGRESSED, Severity.WARNING),
    ]
    assert result.summary == (
        "Fail: 4 metrics regressed beyond threshold: occ_conflicts_per_sec from none to 2.1/s "
        "(worse per unit of work), persistence_latency_p99 +312 %, sync_match_rate -45 % and 1 more."
    )


def test_warn_when_only_warnings_regress() -> None:
    result = compare(healthy(), changed(healthy(), backlog_age=scaled("backlog_age", 1.3)))
    assert result.verdict is Verdict.WARN
    assert result.summary == "Warn: 1 metric regressed beyond threshold: backlog_age +30 %."


def test_improvements_alone_pass() -> None:
    result = compare(healthy(), changed(healthy(), backlog_age=scaled("backlog_age", 0.5)))
    assert result.verdict is Verdict.PASS
    assert result.summary == "Pass: no metric regressed beyond its threshold, 1 metric improved."
    assert [d.metric for d in result.telemetry_diffs] == ["backlog_age"]


def test_key_metric_without_data_is_inconclusive_and_listed() -> None:
    new = changed(healthy(), state_transitions_per_sec=no_data("state_transitions_per_sec"))
    result = compare(healthy(), new)
    assert result.verdict is Verdict.INCONCLUSIVE
    assert [d.metric for d in result.telemetry_diffs] == ["state_transitions_per_sec"]
    assert result.summary == (
        "Inconclusive: no data for key metric state_transitions_per_sec; "
        "nothing with data regressed beyond its threshold."
    )


def test_key_metric_missing_from_the_document_is_listed_but_does_not_hold_the_verdict() -> None:
    # a document without the key at all predates the metric: it is shown as no data, but a baseline
    # made before the catalogue grew must not make every later comparison inconclusive
    new = healthy()
    del new["sync_match_rate"]
    result = compare(healthy(), new)
    assert result.verdict is Verdict.PASS
    missing = by_metric(result.telemetry_diffs)["sync_match_rate"]
    assert missing.direction is Direction.NO_DATA and "not collected" in missing.reason


def test_other_metric_without_data_is_listed_but_passes() -> None:
    new = changed(healthy(), **{"cpu_utilization.worker": no_data("cpu_utilization.worker")})
    result = compare(healthy(), new)
    assert result.verdict is Verdict.PASS
    assert [(d.metric, d.severity) for d in result.telemetry_diffs] == [("cpu_utilization.worker", Severity.INFO)]


def test_inconclusive_outranks_warn_but_not_fail() -> None:
    missing = {"sync_match_rate": no_data("sync_match_rate")}
    warn = changed(healthy(), backlog_age=scaled("backlog_age", 1.3), **missing)
    result = compare(healthy(), warn)
    assert result.verdict is Verdict.INCONCLUSIVE
    assert result.summary == (
        "Inconclusive: no data for key metric sync_match_rate; 1 metric regressed beyond threshold: backlog_age +30 %."
    )
    fail = changed(healthy(), backlog_age=scaled("backlog_age", 2.0), **missing)
    result = compare(healthy(), fail)
    assert result.verdict is Verdict.FAIL
    assert result.summary.endswith("; no data for key metric sync_match_rate.")


def test_window_length_note() -> None:
    old, new = healthy(), healthy()
    same = compare_profiles(make_profile(old), make_profile(new, hours=1.05, profile_id=ID_B), DEFAULTS)
    assert not any("windows differ" in n for n in same.notes)
    longer = compare_profiles(make_profile(old), make_profile(new, hours=4, profile_id=ID_B), DEFAULTS)
    assert any("windows differ in length (A 1 h, B 4 h)" in n for n in longer.notes)
    assert window_length_note(T0, T0 + timedelta(minutes=60), T0, T0 + timedelta(minutes=66)) is None
    assert window_length_note(T0, T0 + timedelta(minutes=60), T0, T0 + timedelta(minutes=67)) is not None


def test_scope_and_unknown_metric_notes() -> None:
    extra = MetricSummary(key="made_up_metric", status=MetricStatus.OK, unit="x", mean=1.0)
    result = compare_profiles(
        make_profile(healthy(), namespace="default"),
        make_profile(changed(healthy(), made_up_metric=extra), namespace="orders", profile_id=ID_B),
        DEFAULTS,
    )
    assert "The profiles cover different namespaces (A default, B orders)" in result.notes
    assert "Metrics not in the catalogue were not judged: made_up_metric" in result.notes
    assert result.verdict is Verdict.PASS


def test_judge_telemetry_and_filter_are_usable_without_profiles() -> None:
    diffs = judge_telemetry(healthy(), changed(healthy(), backlog_age=scaled("backlog_age", 1.3)), DEFAULTS)
    assert len(diffs) == len(CATALOGUE)
    assert diffs[0].metric == "backlog_age"
    assert [d.metric for d in filter_diffs(diffs)] == ["backlog_age"]
    assert len(filter_diffs(diffs, include_all=True)) == len(CATALOGUE)


def test_ordering_rules() -> None:
    key = "persistence_latency_p95"
    crit_improved = judge("sync_match_rate", ok("sync_match_rate", 0.4), ok("sync_match_rate", 0.9))
    crit_small = judge(key, ok(key, 10.0), ok(key, 15.0))
    crit_large = judge(
        "persistence_latency_p99", ok("persistence_latency_p99", 10.0), ok("persistence_latency_p99", 40.0)
    )
    warn_absolute = judge("backlog_age", ok("backlog_age", 0.0), ok("backlog_age", 90.0))
    assert warn_absolute.severity is Severity.WARNING  # from none past its 60 s warning level
    crit_error_absolute = judge("open_failures", ok("open_failures", 0.0), ok("open_failures", 3.0))
    warning = judge(
        "workflow_schedule_to_start_p95",
        ok("workflow_schedule_to_start_p95", 10.0),
        ok("workflow_schedule_to_start_p95", 13.0),
    )
    info = judge("backlog_count", ok("backlog_count", 100.0), ok("backlog_count", 101.0))
    diffs = [info, warning, crit_improved, crit_small, warn_absolute, crit_large, crit_error_absolute]
    assert [d.metric for d in order_diffs(diffs)] == [
        "open_failures",  # critical regression, absolute: sorts as largest
        "persistence_latency_p99",  # critical regression +300 %
        "persistence_latency_p95",  # critical regression +50 %
        "sync_match_rate",  # critical, but an improvement
        "backlog_age",  # warning regression from none
        "workflow_schedule_to_start_p95",  # warning regression +30 %
        "backlog_count",  # info
    ]


# --- configuration and versions ----------------------------------------------------------------


def dc(*entries: tuple[Any, dict[str, Any] | None]) -> list[dict[str, Any]]:
    return [{"value": value, "constraints": constraints or {}} for value, constraints in entries]


def test_config_diffs_cover_every_part() -> None:
    old = ConfigSnapshot(
        dynamic_config={
            "history.persistenceMaxQPS": dc((3000, None)),
            "matching.numTaskqueueReadPartitions": dc((4, None), (8, {"namespace": "default"})),
            "frontend.keepAliveMaxConnectionAge": dc(("5m", None)),
        },
        environment={"TEMPORAL_SQL_MAX_CONNS": "20", "LOG_LEVEL": "info", "SQL_PASSWORD": "<redacted:ab12>"},
        worker_options={"MaxConcurrentActivityExecutionSize": 100, "identity": "w1"},
        dsql_plugin={"DSQL_RESERVOIR_ENABLED": False, "TEMPORAL_SQL_MAX_CONNS": 20},
    )
    new = ConfigSnapshot(
        dynamic_config={
            "history.persistenceMaxQPS": dc((6000, None)),
            "matching.numTaskqueueReadPartitions": dc((4, None), (16, {"namespace": "default"})),
            "matching.numTaskqueueWritePartitions": dc((8, {"taskQueueName": "orders", "namespace": "default"})),
        },
        environment={"TEMPORAL_SQL_MAX_CONNS": "50", "LOG_LEVEL": "info", "SQL_PASSWORD": "<redacted:cd34>"},
        worker_options={"MaxConcurrentActivityExecutionSize": 100, "identity": "w1"},
        dsql_plugin={"DSQL_RESERVOIR_ENABLED": True, "TEMPORAL_SQL_MAX_CONNS": 50},
    )
    diffs = [(d.key, d.part, d.change, d.old_value, d.new_value, d.classification) for d in config_diffs(old, new)]
    assert diffs == [
        ("dynamic_config.frontend.keepAliveMaxConnectionAge", "dynamic_config", ChangeKind.REMOVED, "5m", None, None),
        ("dynamic_config.history.persistenceMaxQPS", "dynamic_config", ChangeKind.CHANGED, 3000, 6000, "persistence"),
        (
            "dynamic_config.matching.numTaskqueueReadPartitions[namespace=default]",
            "dynamic_config",
            ChangeKind.CHANGED,
            8,
            16,
            "matching",
        ),
        (
            "dynamic_config.matching.numTaskqueueWritePartitions[namespace=default,taskQueueName=orders]",
            "dynamic_config",
            ChangeKind.ADDED,
            None,
            8,
            "matching",
        ),
        ("environment.SQL_PASSWORD", "environment", ChangeKind.CHANGED, "<redacted>", "<redacted>", None),
        ("environment.TEMPORAL_SQL_MAX_CONNS", "environment", ChangeKind.CHANGED, "20", "50", "sql_pool"),
        ("dsql_plugin.DSQL_RESERVOIR_ENABLED", "dsql_plugin", ChangeKind.CHANGED, False, True, "dsql_reservoir"),
        ("dsql_plugin.TEMPORAL_SQL_MAX_CONNS", "dsql_plugin", ChangeKind.CHANGED, 20, 50, "sql_pool"),
    ]
    assert config_diffs(old, old) == []


def test_redacted_values_never_show_their_fingerprint() -> None:
    old = ConfigSnapshot(environment={"A": "<redacted:ab12>", "B": "<redacted:ab12>", "C": "<redacted:ff>"})
    new = ConfigSnapshot(environment={"A": "<redacted:ab12>", "B": "<redacted:9999>", "D": "<redacted:ee>"})
    diffs = config_diffs(old, new)
    assert [(d.key, d.change, d.old_value, d.new_value) for d in diffs] == [
        ("environment.B", ChangeKind.CHANGED, "<redacted>", "<redacted>"),
        ("environment.C", ChangeKind.REMOVED, "<redacted>", None),
        ("environment.D", ChangeKind.ADDED, None, "<redacted>"),
    ]
    dumped = str([d.model_dump() for d in diffs])
    assert "ab12" not in dumped and "9999" not in dumped


def test_nested_secrets_are_masked_and_types_matter() -> None:
    old = ConfigSnapshot(worker_options={"tls": {"key": "<redacted:aa>"}, "flag": 1, "sizes": [1, 2]})
    new = ConfigSnapshot(worker_options={"tls": {"key": "<redacted:bb>"}, "flag": True, "sizes": [1, 2.0]})
    diffs = config_diffs(old, new)
    assert [(d.key, d.old_value, d.new_value) for d in diffs] == [
        ("worker_options.flag", 1, True),
        ("worker_options.tls.key", "<redacted>", "<redacted>"),
    ]


def test_dynamic_config_whole_list_when_not_the_usual_shape() -> None:
    old = ConfigSnapshot(dynamic_config={"x.y": 5, "x.z": dc((1, None), (2, None))})
    new = ConfigSnapshot(dynamic_config={"x.y": 6, "x.z": dc((1, None), (3, None))})
    # a duplicate constraint set is ignored, as Temporal takes the first match
    assert [(d.key, d.old_value, d.new_value) for d in config_diffs(old, new)] == [("dynamic_config.x.y", 5, 6)]


def test_uncollected_part_gives_a_note_and_no_diffs() -> None:
    old = ConfigSnapshot(environment={"A": "1"}, worker_options=None)
    new = ConfigSnapshot(environment={"A": "1"}, worker_options={"MaxConcurrentActivityExecutionSize": 5})
    assert config_diffs(old, new) == []
    notes = config_notes(old, new)
    assert "worker_options was not collected for profile A, so its keys were not compared" in notes
    assert "dynamic_config was not collected for either profile, so its keys were not compared" in notes
    result = compare_profiles(
        make_profile(healthy(), config=old), make_profile(healthy(), config=new, profile_id=ID_B), DEFAULTS
    )
    assert result.config_diffs == []
    assert any(n.startswith("worker_options was not collected for profile A") for n in result.notes)


def test_notes_name_the_sides_they_are_given() -> None:
    old = ConfigSnapshot(environment={"A": "1"}, worker_options=None)
    new = ConfigSnapshot(environment={"A": "1"}, worker_options={"MaxConcurrentActivityExecutionSize": 5})
    notes = config_notes(old, new, sides=("the baseline", "the current configuration"))
    assert "worker_options was not collected for the baseline, so its keys were not compared" in notes
    assert "dynamic_config was not collected for either profile, so its keys were not compared" in notes
    swapped = config_notes(new, old, sides=("left", "right"))
    assert "worker_options was not collected for right, so its keys were not compared" in swapped
    note = window_length_note(T0, T0 + timedelta(hours=1), T0, T0 + timedelta(hours=3), sides=("old", "new"))
    assert note is not None and note.startswith("The windows differ in length (old 1 h, new 3 h):")


def test_a_comparison_carries_its_own_correlations() -> None:
    old_config = ConfigSnapshot(environment={"TEMPORAL_SQL_MAX_CONNS": "50", "LOG_LEVEL": "info"})
    new_config = ConfigSnapshot(environment={"TEMPORAL_SQL_MAX_CONNS": "20", "LOG_LEVEL": "debug"})
    new = changed(healthy(), persistence_latency_p99=scaled("persistence_latency_p99", 4.0))
    result = compare_profiles(
        make_profile(healthy(), config=old_config),
        make_profile(new, config=new_config, profile_id=ID_B),
        DEFAULTS,
    )
    assert result.correlations == correlate(result.config_diffs, result.telemetry_diffs)
    (link,) = [c for c in result.correlations if c.metric == "persistence_latency_p99"]
    assert (link.setting, link.relation) == ("TEMPORAL_SQL_MAX_CONNS", CorrelationRelation.EXPECTED)
    assert not any(c.setting == "LOG_LEVEL" for c in result.correlations)  # no metric names it
    same = compare_profiles(make_profile(healthy(), config=old_config), make_profile(new, profile_id=ID_B), DEFAULTS)
    assert same.correlations == []  # no configuration on one side: no change to connect


def test_version_diffs() -> None:
    old = VersionIdentity(temporal_server_version="1.26.2", dsql_plugin_version="0.4.0", worker_code_sha="abc")
    new = VersionIdentity(temporal_server_version="1.27.0", dsql_plugin_version="0.4.0", worker_code_sha=None)
    assert [(v.component, v.old_version, v.new_version) for v in version_diffs(old, new)] == [
        ("temporal_server_version", "1.26.2", "1.27.0"),
        ("worker_code_sha", "abc", None),
    ]
    assert version_diffs(old, old) == []
    result = compare_profiles(
        make_profile(healthy(), versions=old), make_profile(healthy(), versions=new, profile_id=ID_B), DEFAULTS
    )
    assert len(result.version_diffs) == 2


# --- properties --------------------------------------------------------------------------------

_LEVELS = (0.0, 0.3, 0.9, 1.0, 1.5, 2.0, 5.0, 10.0, 100.0, 150.0, 400.0)
"""Multiples of a metric's noise floor: under it, at it, and well above it."""


@st.composite
def summaries(draw: st.DrawFn, spec: MetricSpec) -> MetricSummary | None:
    kind = draw(st.sampled_from(["ok", "ok", "ok", "ok", "no_data", "absent"]))
    if kind == "absent":
        return None
    if kind == "no_data":
        return no_data(spec.key)
    level = draw(st.sampled_from(_LEVELS)) * spec.noise_floor
    value = level * draw(st.sampled_from([1.0, 1.01, 1.17, 1.33]))
    n = draw(st.sampled_from([0, 3, 5, 12]))
    if draw(st.booleans()):
        return ok(spec.key, value, around(value, n))  # a series that agrees with the value
    series = draw(st.lists(st.sampled_from(_LEVELS), min_size=n, max_size=n))
    return ok(spec.key, value, [s * spec.noise_floor for s in series])


@st.composite
def telemetry(draw: st.DrawFn) -> dict[str, MetricSummary]:
    out: dict[str, MetricSummary] = {}
    for spec in CATALOGUE:
        summary = draw(summaries(spec))
        if summary is not None:
            out[spec.key] = summary
    return out


thresholds = st.dictionaries(
    st.sampled_from(list(ThresholdClass)), st.sampled_from([5.0, 10.0, 20.0, 33.0, 50.0, 100.0, 400.0])
)
options = st.builds(
    CompareOptions,
    thresholds_pct=thresholds,
    statistic=st.sampled_from(list(Statistic)),
    significance_level=st.sampled_from([0.01, 0.05, 0.2]),
)

PROPERTY = settings(max_examples=60, deadline=None)


def regressions(result: ProfileComparison | Sequence[TelemetryDiff]) -> set[str]:
    diffs = result.telemetry_diffs if isinstance(result, ProfileComparison) else result
    return {d.metric for d in diffs if d.direction is Direction.REGRESSED}


@PROPERTY
@given(telemetry(), options)
def test_property_self_comparison_has_no_regressions(metrics: dict[str, MetricSummary], opts: CompareOptions) -> None:
    profile = make_profile(metrics)
    result = compare_profiles(profile, profile, opts.model_copy(update={"include_all": True}))
    assert regressions(result) == set()
    assert not any(d.direction in (Direction.IMPROVED, Direction.CHANGED) for d in result.telemetry_diffs)
    assert result.verdict in (Verdict.PASS, Verdict.INCONCLUSIVE)


@PROPERTY
@given(telemetry(), telemetry(), options, st.sampled_from([1.0, 1.5, 2.0, 10.0]))
def test_property_looser_thresholds_never_add_regressions(
    old: dict[str, MetricSummary], new: dict[str, MetricSummary], opts: CompareOptions, factor: float
) -> None:
    tight = opts.model_copy(update={"include_all": True})
    loose = tight.model_copy(
        update={"thresholds_pct": {cls: min(tight.threshold_for(cls) * factor, 10_000) for cls in ThresholdClass}}
    )
    tight_diffs = judge_telemetry(old, new, tight)
    loose_diffs = judge_telemetry(old, new, loose)
    assert regressions(loose_diffs) <= regressions(tight_diffs)
    counted = {d.metric for d in loose_diffs if d.direction is Direction.REGRESSED and d.counts_toward_verdict}
    assert counted <= {d.metric for d in tight_diffs if d.direction is Direction.REGRESSED and d.counts_toward_verdict}
    loose_verdict, tight_verdict = verdict_and_summary(loose_diffs)[0], verdict_and_summary(tight_diffs)[0]
    if loose_verdict is Verdict.FAIL:
        assert tight_verdict is Verdict.FAIL
    if loose_verdict is Verdict.WARN:
        assert tight_verdict in (Verdict.WARN, Verdict.FAIL)
    if tight_verdict is Verdict.PASS:
        assert loose_verdict is Verdict.PASS


_OPPOSITE = {Direction.IMPROVED: Direction.REGRESSED, Direction.REGRESSED: Direction.IMPROVED}


@PROPERTY
@given(telemetry(), telemetry(), options)
def test_property_swapping_sides_swaps_improved_and_regressed(
    old: dict[str, MetricSummary], new: dict[str, MetricSummary], opts: CompareOptions
) -> None:
    forward = by_metric(judge_telemetry(old, new, opts))
    backward = by_metric(judge_telemetry(new, old, opts))
    for key, ahead in forward.items():
        behind = backward[key]
        if ahead.direction is Direction.NO_DATA:
            assert behind.direction is Direction.NO_DATA
            continue
        if ahead.direction in _OPPOSITE:
            # a percentage is not symmetric (+25 % back is -20 %), so the way back may stay within it
            assert behind.direction in (_OPPOSITE[ahead.direction], Direction.UNCHANGED)
            if behind.beyond_threshold:
                assert behind.direction is _OPPOSITE[ahead.direction]
                # the p-value is symmetric; a regression from none below its warning level, or one
                # explained by load, is not counted where the way back (a percentage) is
                excused = any(
                    "below the warning level" in d.reason or d.load_label is LoadLabel.EXPLAINED_BY_LOAD
                    for d in (ahead, behind)
                )
                if not excused:
                    assert behind.counts_toward_verdict == ahead.counts_toward_verdict
        if ahead.direction is Direction.CHANGED:
            assert behind.direction in (Direction.CHANGED, Direction.UNCHANGED)
        if ahead.evidence is not None:
            assert behind.evidence is not None
            assert behind.evidence.p_value == ahead.evidence.p_value
            assert behind.evidence.effect_size == -ahead.evidence.effect_size


KEY_METRICS = [spec.key for spec in CATALOGUE if spec.key_metric]


@PROPERTY
@given(telemetry(), telemetry(), options, st.sampled_from(KEY_METRICS), st.booleans())
def test_property_no_data_on_a_key_metric_never_passes(
    old: dict[str, MetricSummary],
    new: dict[str, MetricSummary],
    opts: CompareOptions,
    key: str,
    on_new_side: bool,
) -> None:
    (new if on_new_side else old)[key] = no_data(key)
    # the other profile has data for the metric (the documented exceptions: a key metric a document lacks,
    # made before the catalogue had it, or whose whole family reports on neither side, does not hold the
    # verdict)
    other = old if on_new_side else new
    if key not in other or other[key].status is not MetricStatus.OK:
        other[key] = ok(key, typical(BY_KEY[key]))
    result = compare(old, new, **opts.model_dump())
    assert result.verdict in (Verdict.INCONCLUSIVE, Verdict.FAIL)
    assert key in {d.metric for d in result.telemetry_diffs if d.direction is Direction.NO_DATA}


@PROPERTY
@given(telemetry(), telemetry(), options, st.randoms(use_true_random=False))
def test_property_ordering_is_stable(
    old: dict[str, MetricSummary], new: dict[str, MetricSummary], opts: CompareOptions, rnd: random.Random
) -> None:
    first = compare(old, new, **opts.model_dump())
    assert compare(old, new, **opts.model_dump()) == first

    def shuffled(metrics: dict[str, MetricSummary]) -> dict[str, MetricSummary]:
        items = list(metrics.items())
        rnd.shuffle(items)
        return dict(items)

    assert compare(shuffled(old), shuffled(new), **opts.model_dump()).model_dump() == first.model_dump()
    diffs = judge_telemetry(old, new, opts)
    mixed = diffs[:]
    rnd.shuffle(mixed)
    assert order_diffs(mixed) == diffs


@PROPERTY
@given(telemetry(), telemetry(), options)
def test_property_filtered_diffs_are_beyond_threshold_or_no_data(
    old: dict[str, MetricSummary], new: dict[str, MetricSummary], opts: CompareOptions
) -> None:
    result = compare(old, new, **opts.model_dump())
    for d in result.telemetry_diffs:
        assert d.beyond_threshold or d.direction is Direction.NO_DATA
        if d.better is Better.NEUTRAL:
            assert d.direction is not Direction.REGRESSED and d.direction is not Direction.IMPROVED
        if d.change_pct is None and d.direction is not Direction.NO_DATA and d.beyond_threshold:
            spec = BY_KEY[d.metric]
            expected = Severity.CRITICAL if d.threshold_class is ThresholdClass.ERROR else Severity.WARNING
            if d.direction is Direction.REGRESSED and d.new_value is not None and spec.warning_level is not None:
                assert spec.critical_level is not None
                expected = (
                    Severity.CRITICAL
                    if d.new_value >= spec.critical_level
                    else Severity.WARNING
                    if d.new_value >= spec.warning_level
                    # a backlog still rising through the window reaches its level later (growth rule)
                    or (spec.accumulates and "reaches its level later" in d.reason)
                    else Severity.INFO
                )
            assert d.severity in (expected, Severity.INFO)


def test_the_worked_example_in_docs_comparison_md() -> None:
    old = changed(
        healthy(),
        occ_conflicts_per_sec=ok("occ_conflicts_per_sec", 0.0, [0.0] * 30),
        persistence_latency_p99=ok("persistence_latency_p99", 12.5),
        workflows_started_per_sec=ok("workflows_started_per_sec", 150.0),
        sync_match_rate=ok("sync_match_rate", 0.92),
        backlog_age=ok("backlog_age", 4.0, [4.0] * 30),
    )
    new = changed(
        old,
        occ_conflicts_per_sec=ok("occ_conflicts_per_sec", 2.1),
        persistence_latency_p99=ok("persistence_latency_p99", 51.5),
        workflows_started_per_sec=ok("workflows_started_per_sec", 400.0),
        sync_match_rate=ok("sync_match_rate", 0.71),
        backlog_age=ok("backlog_age", 5.2, [4.0] * 29 + [40.0]),
    )
    result = compare(old, new)
    assert [(d.metric, d.direction, d.severity) for d in result.telemetry_diffs] == [
        ("occ_conflicts_per_sec", Direction.REGRESSED, Severity.CRITICAL),
        ("persistence_latency_p99", Direction.REGRESSED, Severity.CRITICAL),
        ("workflows_started_per_sec", Direction.CHANGED, Severity.CRITICAL),
        ("sync_match_rate", Direction.REGRESSED, Severity.WARNING),
        ("backlog_age", Direction.REGRESSED, Severity.INFO),
    ]
    backlog = result.telemetry_diffs[-1].evidence
    assert backlog is not None
    assert backlog.u_statistic == 465.0
    assert backlog.p_value == pytest.approx(0.334, abs=1e-3)
    assert result.verdict is Verdict.FAIL
    assert result.summary == (
        "Fail: 3 metrics regressed beyond threshold: occ_conflicts_per_sec from none to 2.1/s "
        "(worse per unit of work), persistence_latency_p99 +312 %, sync_match_rate -23 % "
        "(1 change beyond threshold not statistically significant, not counted)."
    )


def test_summary_names_key_metrics_before_side_counters_from_none() -> None:
    side_key, latency_key = "dsql_auth_failures", "persistence_latency_p99"
    side = judge(side_key, ok(side_key, 0.0, [0.0] * 30), ok(side_key, 3.0, around(3.0)))
    latency = judge(latency_key, ok(latency_key, 10.0, around(10.0)), ok(latency_key, 50.0, around(50.0)))
    assert not side.key_metric and latency.key_metric
    assert side.direction is Direction.REGRESSED and side.change_pct is None  # "from none": sorts as largest
    assert order_diffs([latency, side])[0] is side  # the diff order stays by size
    _, summary = verdict_and_summary([side, latency])
    assert summary.index(latency_key) < summary.index(side_key)


def test_a_key_metric_whose_family_neither_side_exports_does_not_hold_the_verdict() -> None:
    # a server without the DSQL plugin (the dev server persists to SQLite): no dsql_tx family at all
    dsql_tx = [s.key for s in CATALOGUE if s.family == "dsql_tx"]
    old = {k: v for k, v in healthy().items() if k not in dsql_tx}
    new = {k: v for k, v in healthy().items() if k not in dsql_tx}
    for key in dsql_tx:
        old[key] = new[key] = no_data(key)
    diffs = judge_telemetry(old, new, CompareOptions())
    verdict, summary = verdict_and_summary(diffs)
    assert verdict is Verdict.PASS, summary
    conflicts = next(d for d in diffs if d.metric == "occ_conflicts_per_sec")
    assert conflicts.direction is Direction.NO_DATA and conflicts.severity is Severity.INFO
    assert not conflicts.counts_toward_verdict and "does not export it" in conflicts.reason
    # one side exporting the family and the other not still holds it
    one_sided = judge_telemetry(healthy(), new, CompareOptions())
    assert verdict_and_summary(one_sided)[0] is Verdict.INCONCLUSIVE


def test_a_profile_made_before_a_key_metric_existed_does_not_hold_the_verdict() -> None:
    # a baseline from before completion_ratio was in the catalogue: the key is not in its document
    old = {k: v for k, v in healthy().items() if k != "completion_ratio"}
    diffs = judge_telemetry(old, healthy(), CompareOptions())
    ratio = next(d for d in diffs if d.metric == "completion_ratio")
    assert ratio.direction is Direction.NO_DATA and not ratio.counts_toward_verdict
    assert "created before the catalogue had it" in ratio.reason
    assert verdict_and_summary(diffs)[0] is Verdict.PASS
    # but a key metric the newer profile carries as "no data" still holds it
    new = {**healthy(), "completion_ratio": no_data("completion_ratio")}
    assert verdict_and_summary(judge_telemetry(healthy(), new, CompareOptions()))[0] is Verdict.INCONCLUSIVE
