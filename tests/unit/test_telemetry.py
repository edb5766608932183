"""Pure parts of telemetry collection: planning, PromQL rendering, quantiles, summaries."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from behaviour_profiles.catalogue import BY_KEY, CATALOGUE, Dialect, series_queries
from behaviour_profiles.models import MetricStatus
from behaviour_profiles.telemetry import (
    QueryPlan,
    Scope,
    TelemetryCollector,
    downsample,
    histogram_quantile,
    plan_window,
    render,
    summarise,
    summarise_catalogue,
)

T0 = datetime(2026, 2, 18, 10, tzinfo=UTC)


def test_step_adapts_to_window_and_respects_limits() -> None:
    one_hour = plan_window(T0, T0 + timedelta(hours=1), 15)
    day = plan_window(T0, T0 + timedelta(hours=24), 15)
    five_min = plan_window(T0, T0 + timedelta(minutes=5), 15)
    assert one_hour.step == 15  # never under the scrape interval
    assert day.step == 288  # about 300 points
    assert five_min.step == 15
    for plan in (one_hour, day, five_min):
        assert len(plan.grid()) <= 11_000
        assert plan.rate_window >= 60
        assert plan.start >= T0.timestamp() and plan.end == plan.start + (plan.end - plan.start)
    assert 250 <= len(day.grid()) <= 310


@given(st.integers(min_value=60, max_value=24 * 3600), st.integers(min_value=1, max_value=120))
def test_plan_never_exceeds_prometheus_point_limit(span: int, scrape: int) -> None:
    plan = plan_window(T0, T0 + timedelta(seconds=span), scrape)
    assert plan.step >= scrape
    assert (plan.end - plan.start) / plan.step + 1 <= 11_000
    assert T0.timestamp() < plan.start <= plan.end


def test_histogram_quantile_follows_prometheus_interpolation() -> None:
    buckets = [(1.0, 10.0), (2.0, 20.0), (5.0, 90.0), (math.inf, 100.0)]
    # rank 50 lies in (2, 5]: 2 + 3 * (50 - 20) / 70
    assert histogram_quantile(0.5, buckets) == pytest.approx(2 + 3 * 30 / 70)
    # rank 5 in the first bucket interpolates from 0
    assert histogram_quantile(0.05, buckets) == pytest.approx(0.5)
    # a rank in the +Inf bucket answers the highest finite bound
    assert histogram_quantile(0.99, buckets) == 5.0
    assert math.isnan(histogram_quantile(0.5, [(1.0, 0.0), (math.inf, 0.0)]))
    assert math.isnan(histogram_quantile(0.5, [(1.0, 3.0)]))  # no +Inf bucket


def test_render_scopes_every_query_and_escapes_values() -> None:
    scope = Scope("prod-1", 'ns"x', "main-queue", cluster_label="cluster")
    wf = render(series_queries(BY_KEY["workflow_schedule_to_start_p99"])[0], Dialect.OPENTELEMETRY, scope, 60)
    assert wf == (
        'sum by (le) (rate(task_schedule_to_start_latency_milliseconds_bucket{task_type="Workflow",'
        'namespace="ns\\"x",taskqueue="main-queue",cluster="prod-1"}[60s]))'
    )
    tally = render(series_queries(BY_KEY["workflow_schedule_to_start_p99"])[0], Dialect.TALLY, scope, 60)
    assert "task_schedule_to_start_latency_bucket{" in tally
    slots = render(series_queries(BY_KEY["worker_task_slot_utilization"])[0], Dialect.OPENTELEMETRY, scope, 60)
    assert 'task_queue="main-queue"' in slots  # the SDK's label name
    pool = render(series_queries(BY_KEY["pool_open_count"])[0], Dialect.OPENTELEMETRY, scope, 60)
    assert "namespace" not in pool and 'cluster="prod-1"' in pool  # the pool has no namespace label


def test_multi_term_rates_are_tagged_so_absent_terms_add_nothing() -> None:
    promql = render(
        series_queries(BY_KEY["workflows_completed_per_sec"])[0], Dialect.OPENTELEMETRY, Scope("c", None, None), 60
    )
    assert promql.startswith("sum(label_replace(sum(rate(workflow_success_total{}[60s]))")
    assert promql.count(" or ") == 5
    assert "workflow_continued_as_new_total" in promql


def test_counters_drop_total_suffix_in_tally_but_dsql_counters_keep_it() -> None:
    scope = Scope("c", None, None)
    assert "service_requests{" in render(
        series_queries(BY_KEY["workflows_started_per_sec"])[0], Dialect.TALLY, scope, 60
    )
    assert "dsql_tx_conflict_total{" in render(
        series_queries(BY_KEY["occ_conflicts_per_sec"])[0], Dialect.TALLY, scope, 60
    )


def test_histogram_families_and_ratio_parts_are_fetched_once() -> None:
    class _Nobody:
        pass

    collector = TelemetryCollector(_Nobody())  # type: ignore[arg-type]
    plan = QueryPlan(0, 3600, 15, 60)
    queries = collector.queries(Dialect.OPENTELEMETRY, Scope("c", "default", None), plan)
    texts = list(queries.values())
    assert len(texts) == len(set(texts))
    assert sum("persistence_latency_milliseconds_bucket" in t for t in texts) == 1
    assert sum("poll_success_total{" in t for t in texts) == 1
    # fewer queries than metrics: p95/p99 and sync/async share theirs
    assert len(texts) < len(CATALOGUE)


def test_summary_statistics_and_no_data() -> None:
    points = [(float(i), float(v)) for i, v in enumerate([5, 1, 3, 2, 4])]
    summary = summarise("k", "ms", points)
    assert summary.status is MetricStatus.OK
    assert (summary.min, summary.max, summary.mean, summary.p50) == (1, 5, 3, 3)
    assert summary.sample_count == 5
    assert summary.series == sorted(points)
    empty = summarise("k", "ms", [(1.0, math.nan)])
    assert empty.status is MetricStatus.NO_DATA
    assert empty.mean is None and empty.sample_count == 0


def test_downsample_keeps_at_most_limit_points_and_the_mean() -> None:
    points = [(float(i), float(i % 7)) for i in range(1000)]
    small = downsample(points, 300)
    assert len(small) <= 300
    assert sum(v for _, v in small) / len(small) == pytest.approx(sum(v for _, v in points) / 1000, rel=0.02)


def test_absent_counter_is_zero_only_when_its_family_reports() -> None:
    plan = QueryPlan(0, 600, 60, 60)
    grid = plan.grid()
    conflicts = {ts: 0.5 for ts in grid}
    results: dict[object, object] = {}
    for spec in CATALOGUE:
        for query in series_queries(spec):
            results.setdefault(query, {})
    results[series_queries(BY_KEY["occ_conflicts_per_sec"])[0]] = conflicts
    summaries = summarise_catalogue(results, Dialect.OPENTELEMETRY, plan)  # type: ignore[arg-type]
    exhausted = summaries["exhausted_retries_per_sec"]
    assert exhausted.status is MetricStatus.OK and exhausted.max == 0.0
    assert "read as zero" in (exhausted.reason or "")
    # nothing of the reservoir family reports: its counters stay "no data", never 0
    assert summaries["reservoir_empty_events"].status is MetricStatus.NO_DATA
    assert summaries["cpu_utilization.history"].status is MetricStatus.NO_DATA
    assert "cAdvisor" in (summaries["cpu_utilization.history"].reason or "")

    results[series_queries(BY_KEY["occ_conflicts_per_sec"])[0]] = {}
    summaries = summarise_catalogue(results, Dialect.OPENTELEMETRY, plan)  # type: ignore[arg-type]
    assert summaries["exhausted_retries_per_sec"].status is MetricStatus.NO_DATA


def test_ratio_and_quantile_computation_from_series() -> None:
    plan = QueryPlan(0, 120, 60, 60)
    results: dict[object, object] = {}
    for spec in CATALOGUE:
        for query in series_queries(spec):
            results.setdefault(query, {})
    sync_q, all_q = series_queries(BY_KEY["sync_match_rate"])
    results[sync_q] = {0.0: 9.0, 60.0: 3.0}
    results[all_q] = {0.0: 10.0, 60.0: 10.0, 120.0: 0.0}  # a zero denominator is undefined, not 0
    hist = series_queries(BY_KEY["persistence_latency_p99"])[0]
    results[hist] = {0.01: {0.0: 50.0}, 0.1: {0.0: 100.0}, math.inf: {0.0: 100.0}}
    tally = summarise_catalogue(results, Dialect.TALLY, plan)  # type: ignore[arg-type]
    assert tally["sync_match_rate"].series == [(0.0, 0.9), (60.0, 0.3)]
    assert tally["async_match_rate"].mean == pytest.approx(0.4)
    # tally timers are seconds: reported in ms
    assert tally["persistence_latency_p99"].mean == pytest.approx((0.01 + 0.09 * 49 / 50) * 1000)
