"""Pure parts of telemetry collection: planning, PromQL rendering, quantiles, summaries."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from behaviour_profiles.attribution import tail_above
from behaviour_profiles.catalogue import (
    BY_KEY,
    CATALOGUE,
    CPU_PLATFORMS,
    Dialect,
    RateSum,
    series_queries,
    tally_value,
    version_from_tally,
    with_cpu_platform,
)
from behaviour_profiles.models import MetricStatus
from behaviour_profiles.telemetry import (
    BucketRows,
    CatalogueSummary,
    MatrixSeries,
    QueryPlan,
    Scope,
    TelemetryCollector,
    _combine_ratio,
    downsample,
    histogram_quantile,
    parse_matrix,
    plan_window,
    render,
    scope_coverage,
    share_counters,
    shared_part,
    short_window_note,
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
    assert (one_hour.rate_window, day.rate_window) == (60, 303)
    assert five_min.step == 15
    for plan in (one_hour, day, five_min):
        assert len(plan.grid()) <= 11_000
        assert plan.rate_window >= 60
        assert plan.start >= T0.timestamp() and plan.end == plan.start + (plan.end - plan.start)
    assert 250 <= len(day.grid()) <= 310


@given(st.integers(min_value=60, max_value=24 * 3600), st.integers(min_value=1, max_value=120))
def test_consecutive_rate_windows_share_a_sample_so_no_increment_goes_unread(span: int, scrape: int) -> None:
    plan = plan_window(T0, T0 + timedelta(seconds=span), scrape)
    # a window reaching one scrape before the previous point holds that point's last sample
    assert plan.rate_window >= plan.step + scrape
    assert plan.rate_window == max(plan.step + scrape, 4 * scrape)


@given(st.integers(min_value=60, max_value=24 * 3600), st.integers(min_value=1, max_value=120))
def test_plan_never_exceeds_prometheus_point_limit(span: int, scrape: int) -> None:
    plan = plan_window(T0, T0 + timedelta(seconds=span), scrape)
    assert plan.step >= scrape
    assert (plan.end - plan.start) / plan.step + 1 <= 11_000
    assert T0.timestamp() < plan.start <= plan.end


def test_a_window_too_short_for_a_test_is_noted_with_the_length_that_is_enough() -> None:
    note = short_window_note(plan_window(T0, T0 + timedelta(seconds=95), 15))
    assert note is not None and note.startswith("Short window: 4 points per metric (one every 15 s,")
    assert "a comparison needs 5 on each side" in note and note.endswith("A window of at least 2 min gives 5.")
    assert short_window_note(plan_window(T0, T0 + timedelta(minutes=2), 15)) is None


@given(st.integers(min_value=60, max_value=24 * 3600), st.integers(min_value=1, max_value=120))
def test_the_short_window_note_is_there_exactly_when_there_are_too_few_points(span: int, scrape: int) -> None:
    plan = plan_window(T0, T0 + timedelta(seconds=span), scrape)
    assert (short_window_note(plan) is None) == (len(plan.grid()) >= 5)
    if len(plan.grid()) < 5:  # and the length it names is enough
        longer = plan_window(T0, T0 + timedelta(seconds=plan.rate_window + 4 * plan.step), scrape)
        assert len(longer.grid()) >= 5, longer


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
    # split by task queue (and namespace) to name its contributors
    assert wf == (
        "sum by (le, namespace, taskqueue) "
        '(rate(task_schedule_to_start_latency_milliseconds_bucket{task_type="Workflow",'
        'namespace="ns\\"x",taskqueue="main-queue",cluster="prod-1"}[60s]))'
    )
    tally = render(series_queries(BY_KEY["workflow_schedule_to_start_p99"])[0], Dialect.TALLY, scope, 60)
    assert "task_schedule_to_start_latency_bucket{" in tally
    slots = render(series_queries(BY_KEY["worker_task_slot_utilization"])[0], Dialect.OPENTELEMETRY, scope, 60)
    assert 'task_queue="main-queue"' in slots  # the SDK's label name
    pool = render(series_queries(BY_KEY["pool_open_count"])[0], Dialect.OPENTELEMETRY, scope, 60)
    assert "namespace" not in pool and 'cluster="prod-1"' in pool  # the pool has no namespace label


def test_completions_per_start_reads_both_sides_namespace_wide_under_a_task_queue_scope() -> None:
    # start requests carry no task queue: one queue's closes over its namespace's starts would be too low
    scope = Scope("prod-1", "default", "main-queue")
    texts = [render(q, Dialect.TALLY, scope, 60) for q in series_queries(BY_KEY["completion_ratio"])]
    assert any("workflow_success{" in t for t in texts) and any("service_requests{" in t for t in texts)
    assert all('namespace="default"' in t and "taskqueue" not in t for t in texts)
    completed = render(series_queries(BY_KEY["workflows_completed_per_sec"])[0], Dialect.TALLY, scope, 60)
    assert 'taskqueue="main_queue"' in completed  # the queue's own throughput stays scoped


def test_multi_term_rates_are_tagged_so_absent_terms_add_nothing() -> None:
    promql = render(
        series_queries(BY_KEY["workflows_completed_per_sec"])[0], Dialect.OPENTELEMETRY, Scope("c", None, None), 60
    )
    assert promql.startswith(  # a whole cluster is split by namespace only (catalogue.split_labels)
        "sum by (namespace) (label_replace(sum by (namespace) (rate(workflow_success_total{}[60s]))"
    )
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
    texts = list(dict.fromkeys(ask.promql for ask in queries.values()))
    assert sum("persistence_latency_milliseconds_bucket" in t for t in texts) == 1
    assert sum("poll_success_total{" in t for t in texts) == 1
    # fewer queries than metrics: p95/p99 and sync/async share theirs
    assert len(texts) < len(CATALOGUE)
    # and each counter is read once: closes, the completion ratio's closes and workflow failures share a
    # query, as do activity failures (split by outcome), the failure ratio's part and its attempts (by type)
    for counter in ("workflow_success_total{", "workflow_failed_total{", "activity_task_fail_total{"):
        assert sum(counter in t for t in texts) == 1, counter
    assert len(texts) == len(queries) - 4


def test_queries_sharing_counters_each_add_up_their_own_terms() -> None:
    scope = Scope("c", None, None, cluster_label="cluster")
    keys = ("workflows_completed_per_sec", "completion_ratio", "workflow_failures_per_sec")
    closes, in_namespace, failures = (series_queries(BY_KEY[key])[0] for key in keys)
    assert isinstance(closes, RateSum)
    asks = share_counters([closes, in_namespace, failures], Dialect.OPENTELEMETRY, scope, 60)
    assert len({ask.promql for ask in asks.values()}) == 1 and asks[closes].labels == ("namespace",)
    (text,) = {ask.promql for ask in asks.values()}
    assert text.count("workflow_failed_total{") == 1 and text.startswith("label_replace(sum by (namespace) (rate(")
    tag = {t.name.otel: str(i) for i, t in enumerate(closes.terms)}  # closes' terms come first, in order
    answer = [
        MatrixSeries({"bp_term": tag["workflow_success_total"], "namespace": "a"}, [(0.0, 5.0)]),
        MatrixSeries({"bp_term": tag["workflow_success_total"], "namespace": "b"}, [(0.0, 2.0)]),
        MatrixSeries({"bp_term": tag["workflow_failed_total"], "namespace": "a"}, [(0.0, 1.0), (15.0, 1.0)]),
        MatrixSeries({"bp_term": tag["workflow_timeout_total"], "namespace": "b"}, [(0.0, 0.5)]),
    ]
    assert parse_matrix(closes, shared_part(asks[closes], answer)) == {
        ("a", ""): {0.0: 6.0, 15.0: 1.0},
        ("b", ""): {0.0: 2.5},
    }
    # the completion ratio's closes are split by namespace alone (its starts carry no task queue)
    assert parse_matrix(in_namespace, shared_part(asks[in_namespace], answer)) == {
        ("a",): {0.0: 6.0, 15.0: 1.0},
        ("b",): {0.0: 2.5},
    }
    assert parse_matrix(failures, shared_part(asks[failures], answer)) == {
        ("a", ""): {0.0: 1.0, 15.0: 1.0},
        ("b", ""): {0.0: 0.5},
    }
    # a query that shares nothing is asked as it was
    assert share_counters([closes], Dialect.OPENTELEMETRY, scope, 60) == {}


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
    results[series_queries(BY_KEY["occ_conflicts_per_sec"])[0]] = {("UpdateWorkflowExecution",): conflicts}
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


def test_a_namespace_wide_counter_does_not_vouch_for_a_task_queue_counter_of_its_family() -> None:
    """workflow_task_failures_per_sec (namespace-wide) reporting says nothing of a task queue's closes: where
    the server leaves the queue unnamed, its workflow counters stay "no data"; where the queue's completions
    report, the namespace-wide counters of the family absent read 0."""
    plan = QueryPlan(0, 600, 60, 60)
    grid = plan.grid()
    results: dict[object, object] = {q: {} for spec in CATALOGUE for q in series_queries(spec)}
    (failures,) = series_queries(BY_KEY["workflow_task_failures_per_sec"])
    results[failures] = {("ns", "WorkflowWorkerUnhandledFailure"): {ts: 2.0 for ts in grid}}
    summaries = summarise_catalogue(results, Dialect.TALLY, plan)  # type: ignore[arg-type]
    assert summaries["workflow_task_failures_per_sec"].mean == 2.0
    assert summaries["workflow_task_timeouts_per_sec"].status is MetricStatus.OK  # same scope: read as zero
    assert summaries["workflow_failures_per_sec"].status is MetricStatus.NO_DATA  # narrower: not vouched for

    results[failures] = {}
    (completions,) = series_queries(BY_KEY["workflows_completed_per_sec"])
    results[completions] = {("ns", "q"): {ts: 5.0 for ts in grid}}
    summaries = summarise_catalogue(results, Dialect.TALLY, plan)  # type: ignore[arg-type]
    for key in ("workflow_failures_per_sec", "workflow_task_failures_per_sec", "workflow_task_timeouts_per_sec"):
        assert summaries[key].status is MetricStatus.OK and summaries[key].max == 0.0, key


def test_no_task_taken_while_tasks_wait_says_no_worker_polled() -> None:
    """A window in which no worker polled (seen on a real server): tasks pile up in the backlog and nothing
    that needs a task taken (schedule-to-start, matches, activity outcomes) has a sample. Their "no data"
    says so, instead of reading like a scrape problem; without a backlog it stays as it was."""
    plan = QueryPlan(0, 600, 60, 60)
    grid = plan.grid()
    results: dict[object, object] = {q: {} for spec in CATALOGUE for q in series_queries(spec)}
    (backlog,) = series_queries(BY_KEY["backlog_count"])
    results[backlog] = {("ns", "q"): {ts: 40.0 * i for i, ts in enumerate(grid)}}
    summaries = summarise_catalogue(results, Dialect.TALLY, plan)  # type: ignore[arg-type]
    taken = [spec.key for spec in CATALOGUE if spec.taken]
    assert {"workflow_schedule_to_start_p95", "activity_schedule_to_start_p99", "sync_match_rate"} <= set(taken)
    assert "persistence_latency_p95" not in taken
    for key in taken:
        assert summaries[key].status is MetricStatus.NO_DATA, key
        assert "No task was taken in the window while up to 400 tasks waited" in (summaries[key].reason or ""), key
        assert "no worker polled this scope" in (summaries[key].reason or ""), key
    assert "No task was taken" not in (summaries["persistence_latency_p95"].reason or "")

    results[backlog] = {("ns", "q"): {ts: 0.0 for ts in grid}}
    summaries = summarise_catalogue(results, Dialect.TALLY, plan)  # type: ignore[arg-type]
    assert not any("No task was taken" in (summaries[key].reason or "") for key in taken)


def test_metrics_are_summarised_as_their_answers_arrive_and_end_as_all_at_once() -> None:
    plan = QueryPlan(0, 600, 60, 60)
    grid = plan.grid()
    ratio = BY_KEY["sync_match_rate"]
    num, den = series_queries(ratio)
    answers: dict[object, object] = {q: {} for spec in CATALOGUE for q in series_queries(spec)}
    answers[num] = {("Activity", "ns", "q"): {ts: 1.0 for ts in grid}}  # by task type, split by ns, queue
    answers[den] = {("Activity", "ns", "q"): {ts: 4.0 for ts in grid}}
    conflicts = series_queries(BY_KEY["occ_conflicts_per_sec"])[0]
    answers[conflicts] = {("UpdateWorkflowExecution",): {ts: 0.5 for ts in grid}}

    summary = CatalogueSummary(Dialect.OPENTELEMETRY)
    while summary.summarise_one():  # the metrics that read nothing (CPU without a platform)
        pass
    summary.add(num, answers[num])
    assert not summary.summarise_one()  # its denominator is not in yet
    summary.add(den, answers[den])
    done = 0
    while summary.summarise_one():
        done += 1
    assert done == 2  # sync and async match, which read these two answers, and nothing else
    for query, answer in answers.items():
        if query not in (num, den):
            summary.add(query, answer, "store down" if query == conflicts else None)  # type: ignore[arg-type]
    while summary.summarise_one():
        pass
    partial = {conflicts: "store down"}
    assert summary.finish(plan) == summarise_catalogue(answers, Dialect.OPENTELEMETRY, plan, partial=partial)  # type: ignore[arg-type]
    once = summarise_catalogue(answers, Dialect.OPENTELEMETRY, plan, partial=partial)  # type: ignore[arg-type]
    assert once["sync_match_rate"].mean == pytest.approx(0.25)
    # a partial answer is not collected, and its family's absent counters are not read as zero either
    assert "partial" in (once["occ_conflicts_per_sec"].reason or "")
    assert once["exhausted_retries_per_sec"].status is MetricStatus.NO_DATA


def test_ratio_and_quantile_computation_from_series() -> None:
    plan = QueryPlan(0, 120, 60, 60)
    results: dict[object, object] = {}
    for spec in CATALOGUE:
        for query in series_queries(spec):
            results.setdefault(query, {})
    sync_q, all_q = series_queries(BY_KEY["sync_match_rate"])
    # per task type; the activity tasks' zero denominator is undefined, not 0
    # (task type, then the split labels: namespace and task queue)
    results[sync_q] = {("Workflow", "ns", "q"): {0.0: 9.0, 60.0: 3.0}, ("Activity", "ns", "q"): {0.0: 5.0}}
    results[all_q] = {
        ("Workflow", "ns", "q"): {0.0: 10.0, 60.0: 10.0, 120.0: 0.0},
        ("Activity", "ns", "q"): {0.0: 10.0, 60.0: 0.0},
    }
    hist = series_queries(BY_KEY["persistence_latency_p99"])[0]
    # split by operation and service: two operations' buckets add up to the whole's
    results[hist] = {
        ("UpdateWorkflowExecution", "history"): {0.01: {0.0: 30.0}, 0.1: {0.0: 60.0}, math.inf: {0.0: 60.0}},
        ("GetWorkflowExecution", "history"): {0.01: {0.0: 20.0}, 0.1: {0.0: 40.0}, math.inf: {0.0: 40.0}},
    }
    tally = summarise_catalogue(results, Dialect.TALLY, plan)  # type: ignore[arg-type]
    # the task type matched worst over the window: activity (mean 0.5) rather than workflow (0.9, 0.3)
    assert tally["sync_match_rate"].series == [(0.0, 0.5)]
    assert tally["async_match_rate"].mean == pytest.approx(0.5)
    # tally timers are seconds: reported in ms
    assert tally["persistence_latency_p99"].mean == pytest.approx((0.01 + 0.09 * 49 / 50) * 1000)


# --- what a real Temporal server exports (tally rewrites label values, slots are per worker type) --


@given(st.text(max_size=40))
def test_tally_values_keep_only_word_characters_and_their_length(value: str) -> None:
    rewritten = tally_value(value)
    assert len(rewritten) == len(value)
    assert all(c == "_" or (c.isascii() and c.isalnum()) for c in rewritten)
    assert tally_value(rewritten) == rewritten


def test_server_scopes_are_matched_as_tally_exports_them_sdk_scopes_verbatim() -> None:
    scope = Scope("prod", "temporal-system", "main-queue", cluster_label="cluster")
    server = render(series_queries(BY_KEY["sync_match_rate"])[0], Dialect.TALLY, scope, 60)
    assert 'namespace="temporal_system"' in server and 'taskqueue="main_queue"' in server
    assert 'cluster="prod"' in server  # added by Prometheus, never rewritten
    sdk = render(series_queries(BY_KEY["worker_task_slot_utilization"])[0], Dialect.TALLY, scope, 60)
    assert 'namespace="temporal-system"' in sdk and 'task_queue="main-queue"' in sdk
    # the OpenTelemetry exporter rewrites nothing, and nothing is ever widened into a pattern
    otel = render(series_queries(BY_KEY["sync_match_rate"])[0], Dialect.OPENTELEMETRY, scope, 60)
    assert 'taskqueue="main-queue"' in otel and "=~" not in otel


def test_versions_are_read_back_with_dots() -> None:
    assert version_from_tally("1_32_0") == "1.32.0"
    assert version_from_tally("1_32_0_rc1") == "1.32.0-rc1"
    assert version_from_tally("1.32.0") == "1.32.0"
    assert version_from_tally("unknown") == "unknown"


def test_slot_utilisation_is_the_most_saturated_worker_type() -> None:
    spec = BY_KEY["worker_task_slot_utilization"]
    used_q, free_q = series_queries(spec)
    promql = render(used_q, Dialect.TALLY, Scope("c", "default", "main-queue"), 60)
    assert promql.startswith("sum by (worker_type, task_queue) (temporal_worker_task_slots_used{")
    plan = QueryPlan(0, 30, 15, 60)
    # what the real worker reported: 3 of 3 activity slots busy beside 100 idle workflow and local slots
    used = {("ActivityWorker", "main-queue"): {0.0: 3.0, 15.0: 3.0}, ("WorkflowWorker", "main-queue"): {0.0: 0.0}}
    used[("LocalActivityWorker", "main-queue")] = {0.0: 0.0}
    free = {
        ("ActivityWorker", "main-queue"): {0.0: 0.0, 15.0: 1.0},
        ("WorkflowWorker", "main-queue"): {0.0: 100.0},
        ("LocalActivityWorker", "main-queue"): {0.0: 100.0},
    }
    keys = [spec.key, *(f"{spec.key}.{t}" for t in ("workflow", "activity", "local_activity"))]
    summaries = summarise_catalogue({used_q: used, free_q: free}, Dialect.TALLY, plan, [BY_KEY[k] for k in keys])
    headline = summaries[spec.key]
    assert headline.max == 1.0 and headline.min == pytest.approx(0.75)  # not 3 / 203 = 1.5 %
    assert summaries[f"{spec.key}.activity"].mean == pytest.approx(0.875)
    assert summaries[f"{spec.key}.workflow"].mean == 0.0
    assert summaries[f"{spec.key}.local_activity"].max == 0.0


def test_completions_per_start_is_uncapped_and_failures_read_zero_when_absent() -> None:
    plan = QueryPlan(0, 30, 15, 60)
    ratio = BY_KEY["completion_ratio"]
    closes, starts = series_queries(ratio)
    out = summarise_catalogue(
        {closes: {("a",): {0.0: 3.0, 15.0: 12.0}}, starts: {("a",): {0.0: 6.0, 15.0: 8.0}}},
        Dialect.TALLY,
        plan,
        [ratio],
    )
    assert out["completion_ratio"].min == 0.5 and out["completion_ratio"].max == 1.5
    rate_spec, fails_spec = BY_KEY["activity_failure_rate"], BY_KEY["activity_failures_per_sec"]
    failures, attempts = series_queries(rate_spec)
    (outcomes,) = series_queries(fails_spec)
    out = summarise_catalogue(
        {failures: {}, attempts: {("ns", "q", "work"): {0.0: 4.0}}, outcomes: {}},
        Dialect.TALLY,
        plan,
        [rate_spec, fails_spec],
    )
    assert out["activity_failure_rate"].mean == 0.0
    assert out["activity_failures_per_sec"].status is MetricStatus.OK and out["activity_failures_per_sec"].max == 0


def test_cpu_comes_from_the_platform_or_is_left_out() -> None:
    specs = with_cpu_platform(CATALOGUE, None)
    assert not any(s.key.startswith("cpu_utilization.") for s in specs)
    assert len(specs) == len(CATALOGUE) - 4
    cadvisor = {s.key: s for s in with_cpu_platform(CATALOGUE, CPU_PLATFORMS["cadvisor"])}
    promql = render(series_queries(cadvisor["cpu_utilization.history"])[0], Dialect.TALLY, Scope("c", "ns", "q"), 60)
    assert promql == 'sum(rate(container_cpu_usage_seconds_total{container=~".*history.*"}[60s]))'
    ecs = {s.key: s for s in with_cpu_platform(CATALOGUE, CPU_PLATFORMS["ecs"])}
    plan = QueryPlan(0, 15, 15, 60)
    (query,) = series_queries(ecs["cpu_utilization.matching"])
    out = summarise_catalogue({query: {0.0: 0.5, 15.0: 1.25}}, Dialect.TALLY, plan, [ecs["cpu_utilization.matching"]])
    assert out["cpu_utilization.matching"].max == 1.25  # vCPUs in use are cores
    assert "container_cpu_usage_vcpu{" in render(query, Dialect.TALLY, Scope("c", None, None), 60)


def test_scope_coverage_says_per_source_what_matched() -> None:
    plan = QueryPlan(0, 15, 15, 60)
    keys = ["sync_match_rate", "backlog_count", "worker_task_slot_utilization"]
    specs = [BY_KEY[k] for k in keys]
    results: dict[object, object] = {}
    for spec in specs:
        for query in series_queries(spec):
            results[query] = (
                {} if spec.key != "worker_task_slot_utilization" else {("ActivityWorker", "q-1"): {0.0: 1.0}}
            )
    metrics = summarise_catalogue(results, Dialect.TALLY, plan, specs)  # type: ignore[arg-type]
    matches = scope_coverage(specs, metrics, Scope("c", None, "q-1"), Dialect.TALLY)
    by_source = {m.source: m for m in matches}
    assert by_source["server"].exported_as == "q_1" and by_source["server"].label == "taskqueue"
    assert by_source["server"].with_data == [] and set(by_source["server"].without_data) == set(keys[:2])
    assert by_source["sdk"].exported_as == "q-1" and by_source["sdk"].with_data == ["worker_task_slot_utilization"]


def test_bucket_rows_read_each_instant_as_its_own_buckets_say() -> None:
    inf = math.inf
    # the 2.0 bucket has no point at 15: that instant reads the buckets it has, as Prometheus would
    rows = BucketRows({2.0: {0.0: 8.0}, 1.0: {0.0: 5.0, 15.0: 6.0}, inf: {0.0: 10.0, 15.0: 10.0}})
    at_0, at_15 = [(1.0, 5.0), (2.0, 8.0), (inf, 10.0)], [(1.0, 6.0), (inf, 10.0)]
    assert rows.quantile(0.5) == [(0.0, histogram_quantile(0.5, at_0)), (15.0, histogram_quantile(0.5, at_15))]
    assert rows.tail_above({0.0: 1.5, 15.0: 0.5}) == pytest.approx(tail_above(at_0, 1.5) + tail_above(at_15, 0.5))
    assert rows.tail_above({}) == 0.0 and BucketRows({}).quantile(0.99) == []


BOUNDS = st.sets(st.sampled_from([0.001, 0.01, 0.05, 0.1, 0.5, 1.0, 5.0]), max_size=5).map(lambda b: [*b, math.inf])
STAMPS = [0.0, 15.0, 30.0]


@given(BOUNDS, st.data(), st.booleans(), st.sampled_from([0.5, 0.95, 0.99]))
def test_bucket_rows_give_each_instant_s_own_percentile_and_tail(
    bounds: list[float], data: st.DataObject, every_instant: bool, q: float
) -> None:
    """Whether every bucket has every instant (the rows read as columns turned) or some lack some."""
    count = st.floats(0, 1e4, allow_nan=False)
    stamps = st.just(STAMPS) if every_instant else st.lists(st.sampled_from(STAMPS), unique=True)
    by_le = {le: {ts: data.draw(count) for ts in data.draw(stamps)} for le in bounds}
    rows = BucketRows(by_le)
    at = {
        ts: [(le, series[ts]) for le, series in sorted(by_le.items()) if ts in series]
        for ts in STAMPS
        if any(ts in series for series in by_le.values())
    }
    expected = [(ts, histogram_quantile(q, at[ts])) for ts in sorted(at)]
    assert rows.quantile(q) == [(ts, v) for ts, v in expected if math.isfinite(v)]
    thresholds = {ts: data.draw(st.floats(0, 10)) for ts in at}
    assert rows.tail_above(thresholds) == pytest.approx(math.fsum(tail_above(at[ts], thresholds[ts]) for ts in at))


@pytest.mark.parametrize(
    ("form", "expected"),
    [
        ("a/b", [(0.0, 0.5), (15.0, 3.0), (45.0, 0.0)]),
        ("a/(a+b)", [(0.0, 1 / 3), (15.0, 0.75), (45.0, 0.0)]),
        ("part/whole", [(0.0, 0.5), (15.0, 1.0), (45.0, 0.0)]),  # a part above its whole reads as all of it
        ("1-part/whole", [(0.0, 0.5), (15.0, 0.0), (45.0, 1.0)]),
    ],
)
def test_a_ratio_is_read_where_its_denominator_is(form: str, expected: list[tuple[float, float]]) -> None:
    # no numerator at 45 s reads as 0; a zero denominator (30 s) leaves the instant out
    num, den = {0.0: 1.0, 15.0: 6.0}, {0.0: 2.0, 15.0: 2.0, 30.0: 0.0, 45.0: 4.0}
    got = _combine_ratio(num, den, form)
    assert [ts for ts, _ in got] == [ts for ts, _ in expected]
    assert [v for _, v in got] == pytest.approx([v for _, v in expected])
