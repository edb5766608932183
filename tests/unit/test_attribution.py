"""Where a metric lives: top contributors at creation and the attribution of a regression (pure)."""

from __future__ import annotations

import math
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from behaviour_profiles.attribution import (
    MAX_CONTRIBUTORS,
    Candidate,
    attribute_regressions,
    contender_floor,
    describe_labels,
    held_largest,
    pool_contributors,
    tail_above,
    top_contributors,
    worse_part,
)
from behaviour_profiles.catalogue import BY_KEY, Dialect, SeriesQuery, series_queries, split_labels
from behaviour_profiles.models import (
    Better,
    Contributor,
    Contributors,
    Direction,
    MetricStatus,
    MetricSummary,
    ShareOf,
)
from behaviour_profiles.telemetry import QueryPlan, Scope, render, summarise_catalogue
from behaviour_profiles.telemetry import contributors as split_contributors
from tests.unit.test_comparison import compare, healthy, ok, typical

HISTORY = "history"
UPDATE = "UpdateWorkflowExecution"
GET = "GetWorkflowExecution"

# --- the weights --------------------------------------------------------------------------------


def test_tail_above_interpolates_inside_the_bucket_like_histogram_quantile() -> None:
    buckets = [(1.0, 10.0), (2.0, 20.0), (5.0, 90.0), (math.inf, 100.0)]
    assert tail_above(buckets, 2.0) == pytest.approx(80.0)
    # half way through (2, 5]: half of its 70 observations lie above
    assert tail_above(buckets, 3.5) == pytest.approx(100.0 - 20.0 - 35.0)
    assert tail_above(buckets, 0.5) == pytest.approx(95.0)  # the first bucket interpolates from 0
    assert tail_above(buckets, 50.0) == pytest.approx(10.0)  # past the last bound: the +Inf bucket
    assert tail_above([], 1.0) == 0.0
    assert tail_above(buckets, math.nan) == 0.0


@given(st.floats(min_value=0.0, max_value=20.0), st.floats(min_value=0.0, max_value=20.0))
def test_tail_above_never_grows_with_the_threshold(a: float, b: float) -> None:
    buckets = [(1.0, 3.0), (2.0, 3.0), (5.0, 40.0), (10.0, 41.0), (math.inf, 50.0)]
    low, high = sorted((a, b))
    assert 0.0 <= tail_above(buckets, high) <= tail_above(buckets, low) <= 50.0


def test_the_worse_part_of_a_ratio_follows_its_form_and_what_is_better() -> None:
    # failed attempts of all attempts (lower is better): the failures
    assert worse_part("part/whole", Better.LOWER, 3.0, 10.0) == 3.0
    # sync polls of all polls (higher is better): the polls not matched at once
    assert worse_part("part/whole", Better.HIGHER, 3.0, 10.0) == 7.0
    # slots used / (used + free), lower is better: the slots in use
    assert worse_part("a/(a+b)", Better.LOWER, 3.0, 10.0) == 3.0
    # 1 - sync/all (lower is better): again the polls not matched at once
    assert worse_part("1-part/whole", Better.LOWER, 3.0, 10.0) == 7.0
    # closes per start (higher is better, uncapped): the starts not closed, none when more closed than started
    assert worse_part("a/b", Better.HIGHER, 3.0, 10.0) == 7.0
    assert worse_part("a/b", Better.HIGHER, 12.0, 10.0) == 0.0
    assert worse_part("a/b", Better.LOWER, 12.0, 10.0) == 2.0


# --- the top contributors -----------------------------------------------------------------------


def test_top_contributors_are_bounded_ordered_and_their_shares_add_up() -> None:
    candidates = [Candidate({"taskqueue": f"q{i}", "namespace": "ns"}, float(i), float(i)) for i in range(1, 9)]
    found = top_contributors(("namespace", "taskqueue"), ShareOf.TOTAL, candidates)
    assert found is not None
    assert len(found.top) == MAX_CONTRIBUTORS and found.series == 8
    assert [c.labels["taskqueue"] for c in found.top] == ["q8", "q7", "q6", "q5", "q4"]
    assert found.top[0].share == pytest.approx(8 / 36)
    assert math.fsum(c.share for c in found.top) + found.rest_share == pytest.approx(1.0)
    assert found.rest_share == pytest.approx((1 + 2 + 3) / 36)


def test_series_without_the_split_labels_name_nothing() -> None:
    # e.g. recorded series from rules older than the split: one series, no label values
    assert top_contributors(("operation",), ShareOf.TOTAL, [Candidate({"operation": ""}, 1.0, 1.0)]) is None
    assert top_contributors(("operation",), ShareOf.TOTAL, []) is None


def test_with_no_weight_every_share_is_zero_and_the_largest_values_lead() -> None:
    found = top_contributors(
        ("taskqueue",),
        ShareOf.WORSE_PART,
        [Candidate({"taskqueue": "a"}, 0.0, 0.0), Candidate({"taskqueue": "b"}, 0.2, 0.0)],
    )
    assert found is not None
    assert [c.labels["taskqueue"] for c in found.top] == ["b", "a"]
    assert all(c.share == 0.0 for c in found.top) and found.rest_share == 0.0


# --- pooled, for a rolling baseline ---------------------------------------------------------------


def queues(weights: dict[str, float]) -> Contributors:
    """Top contributors by task queue from raw weights (each queue's own value is its weight)."""
    found = top_contributors(
        ("taskqueue",), ShareOf.TOTAL, [Candidate({"taskqueue": q}, w, w) for q, w in weights.items()]
    )
    assert found is not None
    return found


def test_pooled_contributors_average_shares_and_values_by_sample_count() -> None:
    a = queues({"main": 6.0, "orders": 4.0})
    b = queues({"main": 2.0, "orders": 8.0})
    pooled = pool_contributors([(a, 10), (b, 30)])
    assert pooled is not None and pooled.by == ["taskqueue"] and pooled.series == 2
    shares = {c.labels["taskqueue"]: c.share for c in pooled.top}
    assert shares == pytest.approx({"orders": 0.25 * 0.4 + 0.75 * 0.8, "main": 0.25 * 0.6 + 0.75 * 0.2})
    assert [c.labels["taskqueue"] for c in pooled.top] == ["orders", "main"]
    assert pooled.top[0].value == pytest.approx(0.25 * 4.0 + 0.75 * 8.0)
    assert pooled.rest_share == pytest.approx(0.0, abs=1e-12)
    # the same profiles pooled alone give their own contributors back
    alone = pool_contributors([(a, 10)])
    assert alone is not None and [(c.labels, c.share, c.value) for c in alone.top] == [
        (c.labels, c.share, c.value) for c in a.top
    ]


def test_a_series_outside_one_top_counts_there_with_no_share_and_no_value() -> None:
    wide = queues({f"q{i}": 1.0 for i in range(MAX_CONTRIBUTORS + 3)})  # q5.. fall in the rest
    narrow = queues({"q7": 9.0, "q0": 1.0})
    pooled = pool_contributors([(wide, 1), (narrow, 1)])
    assert pooled is not None and len(pooled.top) == MAX_CONTRIBUTORS
    found = {c.labels["taskqueue"]: c for c in pooled.top}
    assert found["q7"].share == pytest.approx(0.5 * 0.9) and found["q7"].value == pytest.approx(9.0)
    assert pooled.top[0].labels == {"taskqueue": "q7"}
    assert math.fsum(c.share for c in pooled.top) + pooled.rest_share == pytest.approx(1.0)


def test_nothing_is_pooled_when_a_profile_kept_none_or_split_otherwise() -> None:
    a = queues({"main": 1.0})
    assert pool_contributors([]) is None
    assert pool_contributors([(a, 1), (None, 1)]) is None
    other = a.model_copy(update={"by": ["operation"]})
    assert pool_contributors([(a, 1), (other, 1)]) is None
    weighed = a.model_copy(update={"share_of": ShareOf.SLOW_TAIL})
    assert pool_contributors([(a, 1), (weighed, 1)]) is None


@given(
    st.lists(
        st.tuples(
            st.dictionaries(st.sampled_from("abcdefgh"), st.floats(min_value=0.0, max_value=1e3), min_size=1),
            st.integers(min_value=0, max_value=10_000),
        ),
        min_size=1,
        max_size=6,
    )
)
def test_pooled_shares_add_up_and_do_not_depend_on_the_order(sides: list[tuple[dict[str, float], int]]) -> None:
    kept = [(queues(weights), count) for weights, count in sides]
    pooled = pool_contributors(kept)
    assert pooled is not None and len(pooled.top) <= MAX_CONTRIBUTORS
    every_side_weighed = all(any(w > 0 for w in weights.values()) for weights, _ in sides)
    total = math.fsum(c.share for c in pooled.top) + pooled.rest_share
    if every_side_weighed:
        assert total == pytest.approx(1.0)
    else:
        assert total <= 1.0 + 1e-9
    assert pool_contributors(list(reversed(kept))) == pooled


# --- at creation: the collector's split answers -------------------------------------------------


def test_a_latency_is_attributed_to_the_operation_slower_than_the_whole() -> None:
    spec = BY_KEY["persistence_latency_p99"]
    (hist,) = series_queries(spec)
    # two instants; UpdateWorkflowExecution: half its 60 calls up to 10 ms, the rest up to 100 ms;
    # GetWorkflowExecution: all its 40 calls under 10 ms (tally: seconds)
    fetched = {
        hist: {
            (UPDATE, HISTORY): {
                0.01: {0.0: 30.0, 15.0: 30.0},
                0.1: {0.0: 60.0, 15.0: 60.0},
                math.inf: {0.0: 60.0, 15.0: 60.0},
            },
            (GET, HISTORY): {
                0.01: {0.0: 40.0, 15.0: 40.0},
                0.1: {0.0: 40.0, 15.0: 40.0},
                math.inf: {0.0: 40.0, 15.0: 40.0},
            },
        }
    }
    summary = summarise_catalogue(fetched, Dialect.TALLY, QueryPlan(0, 15, 15, 60), [spec])[spec.key]
    # the whole is the same as without the split: 100 calls, 70 up to 10 ms
    assert summary.mean == pytest.approx((0.01 + 0.09 * (99 - 70) / 30) * 1000)
    found = summary.contributors
    assert found is not None and found.share_of is ShareOf.SLOW_TAIL and found.by == ["operation", "service_name"]
    lead, other = found.top
    assert lead.labels == {"operation": UPDATE, "service_name": HISTORY}
    assert lead.share == pytest.approx(1.0) and other.share == 0.0  # every slow call is an update
    assert lead.value == pytest.approx((0.01 + 0.09 * (59.4 - 30) / 30) * 1000)
    assert other.value == pytest.approx(0.01 * 0.99 * 1000)


def test_a_rate_is_attributed_by_its_part_of_the_sum_and_a_ratio_by_its_worse_part() -> None:
    plan = QueryPlan(0, 15, 15, 60)
    completed = BY_KEY["workflows_completed_per_sec"]
    (closes,) = series_queries(completed)
    fetched: dict[SeriesQuery, Any] = {
        closes: {("ns", "fast"): {0.0: 3.0, 15.0: 3.0}, ("ns", "slow"): {0.0: 1.0, 15.0: 1.0}}
    }
    summary = summarise_catalogue(fetched, Dialect.TALLY, plan, [completed])[completed.key]
    assert summary.mean == pytest.approx(4.0)
    assert summary.contributors is not None
    assert [(c.labels["taskqueue"], c.value, c.share) for c in summary.contributors.top] == [
        ("fast", 3.0, 0.75),
        ("slow", 1.0, 0.25),
    ]
    failing = BY_KEY["activity_failure_rate"]
    failures, attempts = series_queries(failing)
    # by activity type: which activity fails, and how often it does
    fetched = {
        failures: {("ns", "q", "charge"): {0.0: 10.0}},
        attempts: {("ns", "q", "charge"): {0.0: 100.0}, ("ns", "q", "email"): {0.0: 300.0}},
    }
    found = split_contributors(failing, fetched, Dialect.TALLY)
    assert found is not None and found.share_of is ShareOf.WORSE_PART
    assert [(c.labels["activityType"], c.value, c.share) for c in found.top] == [
        ("charge", 0.1, 1.0),
        ("email", 0.0, 0.0),
    ]
    assert describe_labels(found.top[0].labels) == "activity charge in task queue q in namespace ns"


def test_activity_failures_are_told_from_attempts_that_hung_past_their_timeout() -> None:
    """History counts a failed attempt under RespondActivityTaskFailed and one it timed out under
    TimerActiveTaskActivityTimeout with its timeout type: the contributors say which, and of which activity."""
    spec = BY_KEY["activity_failures_per_sec"]
    (outcomes,) = series_queries(spec)
    fetched = {
        outcomes: {
            ("ns", "q", "charge", "TimerActiveTaskActivityTimeout", "StartToClose"): {0.0: 0.6, 15.0: 0.6},
            ("ns", "q", "charge", "RespondActivityTaskFailed", ""): {0.0: 0.3, 15.0: 0.3},
            ("ns", "q", "email", "TimerActiveTaskActivityTimeout", "Heartbeat"): {0.0: 0.1, 15.0: 0.1},
        }
    }
    summary = summarise_catalogue(fetched, Dialect.TALLY, QueryPlan(0, 15, 15, 60), [spec])[spec.key]
    assert summary.mean == pytest.approx(1.0)
    assert summary.contributors is not None
    assert [describe_labels(c.labels) for c in summary.contributors.top] == [
        "StartToClose timeouts of activity charge in task queue q in namespace ns",
        "failed attempts of activity charge in task queue q in namespace ns",
        "Heartbeat timeouts of activity email in task queue q in namespace ns",
    ]
    assert [c.share for c in summary.contributors.top] == pytest.approx([0.6, 0.3, 0.1])
    # a window where attempts only failed is split by the same labels, so the two are matched in a comparison
    failed_only = {outcomes: {("ns", "q", "charge", "RespondActivityTaskFailed", ""): {0.0: 0.3, 15.0: 0.3}}}
    before = summarise_catalogue(failed_only, Dialect.TALLY, QueryPlan(0, 15, 15, 60), [spec])[spec.key]
    assert before.contributors is not None and before.contributors.by == summary.contributors.by
    assert summary.contributors.by == ["namespace", "taskqueue", "activityType", "operation", "timeout_type"]


def test_failures_and_service_errors_are_placed_where_they_happen() -> None:
    plan = QueryPlan(0, 15, 15, 60)
    failures_spec, errors_spec = BY_KEY["workflow_failures_per_sec"], BY_KEY["service_errors_per_sec"]
    (failures,) = series_queries(failures_spec)
    (errors,) = series_queries(errors_spec)
    fetched = {
        failures: {("ns", "orders"): {0.0: 0.9, 15.0: 0.9}, ("ns", "main"): {0.0: 0.1, 15.0: 0.1}},
        errors: {
            ("ns", "StartWorkflowExecution"): {0.0: 0.2, 15.0: 0.2},
            ("ns", "SignalWorkflowExecution"): {0.0: 1.8, 15.0: 1.8},
        },
    }
    summaries = summarise_catalogue(fetched, Dialect.TALLY, plan, [failures_spec, errors_spec])
    failed, errored = summaries[failures_spec.key], summaries[errors_spec.key]
    assert failed.mean == pytest.approx(1.0) and errored.mean == pytest.approx(2.0)  # the sums, as unsplit
    assert failed.contributors is not None and errored.contributors is not None
    assert [c.labels["taskqueue"] for c in failed.contributors.top] == ["orders", "main"]
    assert [c.share for c in failed.contributors.top] == pytest.approx([0.9, 0.1])
    assert errored.contributors.by == ["namespace", "operation"]
    assert describe_labels(errored.contributors.top[0].labels) == "operation SignalWorkflowExecution in namespace ns"
    assert errored.contributors.top[0].share == pytest.approx(0.9)


def test_the_completion_ratio_is_placed_in_the_namespace_whose_starts_are_not_closed() -> None:
    plan = QueryPlan(0, 30, 15, 60)
    ratio, started = BY_KEY["completion_ratio"], BY_KEY["workflows_started_per_sec"]
    closes, starts = series_queries(ratio)
    fetched = {
        # "busy" starts three times as many as "stuck" and closes them all; "stuck" closes a quarter
        closes: {("busy",): {0.0: 30.0, 15.0: 30.0, 30.0: 30.0}, ("stuck",): {0.0: 2.5, 15.0: 2.5, 30.0: 2.5}},
        starts: {("busy",): {0.0: 30.0, 15.0: 30.0, 30.0: 30.0}, ("stuck",): {0.0: 10.0, 15.0: 10.0, 30.0: 10.0}},
    }
    summaries = summarise_catalogue(fetched, Dialect.TALLY, plan, [ratio, started])
    completion = summaries[ratio.key]
    assert completion.mean == pytest.approx(32.5 / 40)  # the whole's ratio, as unsplit
    assert completion.contributors is not None and completion.contributors.share_of is ShareOf.WORSE_PART
    assert completion.contributors.by == ["namespace"]
    lead, other = completion.contributors.top
    assert lead.labels == {"namespace": "stuck"} and (lead.share, lead.value) == pytest.approx((1.0, 0.25))
    assert (other.labels, other.share, other.value) == ({"namespace": "busy"}, 0.0, 1.0)
    # the starts themselves (the offered load) by their part of the sum
    starts_kept = summaries[started.key].contributors
    assert starts_kept is not None and [c.share for c in starts_kept.top] == pytest.approx([0.75, 0.25])


def test_a_maximum_is_held_by_the_series_largest_at_each_instant() -> None:
    a = {0.0: 5.0, 15.0: 1.0, 30.0: 2.0, 45.0: 0.0}
    b = {0.0: 1.0, 15.0: 3.0, 30.0: 2.0, 45.0: 0.0, 60.0: math.nan}
    # a leads at 0, b at 15, they tie at 30; nothing is largest of all-zero or non-finite values
    assert held_largest([a, b]) == [1.5, 1.5]
    assert held_largest([]) == [] and held_largest([{}, {}]) == [0.0, 0.0]


@given(st.lists(st.dictionaries(st.integers(0, 20).map(float), st.floats(0, 1e6)), min_size=1, max_size=6))
def test_the_instants_held_add_up_to_those_with_a_largest(series: list[dict[float, float]]) -> None:
    held = held_largest(series)
    with_largest = {t for points in series for t, v in points.items() if v > 0}
    assert all(h >= 0 for h in held) and math.fsum(held) == pytest.approx(len(with_largest))


def test_the_oldest_backlog_is_placed_in_the_queue_that_held_it() -> None:
    plan = QueryPlan(0, 45, 15, 60)
    spec = BY_KEY["backlog_age"]
    (ages,) = series_queries(spec)
    fetched = {
        ages: {
            ("ns", "orders"): {0.0: 300.0, 15.0: 320.0, 30.0: 340.0, 45.0: 5.0},
            ("ns", "main"): {0.0: 2.0, 15.0: 3.0, 30.0: 2.0, 45.0: 9.0},
        }
    }
    summary = summarise_catalogue(fetched, Dialect.TALLY, plan, [spec])[spec.key]
    assert summary.max == pytest.approx(340.0)  # the whole is the maximum over the queues, as unsplit
    found = summary.contributors
    assert found is not None and found.share_of is ShareOf.LARGEST and found.by == ["namespace", "taskqueue"]
    assert [(c.labels["taskqueue"], c.share) for c in found.top] == [("orders", 0.75), ("main", 0.25)]
    assert found.top[0].value == pytest.approx((300 + 320 + 340 + 5) / 4)


def test_the_scope_splits_by_the_level_just_below_it() -> None:
    (s2s,) = series_queries(BY_KEY["workflow_schedule_to_start_p95"])
    (persistence,) = series_queries(BY_KEY["persistence_latency_p99"])
    assert split_labels(s2s, ()) == ("namespace",)  # a whole cluster: by namespace
    assert split_labels(s2s, ("namespace",)) == ("namespace", "taskqueue")  # a namespace: by task queue
    assert split_labels(s2s, ("namespace", "task_queue")) == ("namespace", "taskqueue")  # one series
    assert split_labels(persistence, ()) == ("operation", "service_name")  # not a scope level: always
    cluster = render(s2s, Dialect.TALLY, Scope("c", None, None), 60)
    namespace = render(s2s, Dialect.TALLY, Scope("c", "default", None), 60)
    assert cluster.startswith("sum by (le, namespace) (") and "taskqueue" not in cluster
    assert namespace.startswith("sum by (le, namespace, taskqueue) (")


def test_a_whole_cluster_answer_names_namespaces_only() -> None:
    completed = BY_KEY["workflows_completed_per_sec"]
    (closes,) = series_queries(completed)
    # answered split by namespace alone: the task queue label is absent (read as empty)
    fetched = {closes: {("default", ""): {0.0: 3.0}, ("payments", ""): {0.0: 1.0}}}
    found = split_contributors(completed, fetched, Dialect.TALLY)
    assert found is not None and found.by == ["namespace"]
    assert [(c.labels, c.share) for c in found.top] == [
        ({"namespace": "default"}, 0.75),
        ({"namespace": "payments"}, 0.25),
    ]


def test_only_the_heaviest_candidates_need_a_value() -> None:
    weights = [5.0, 1.0, 3.0, 3.0, -2.0, math.nan, 4.0, 2.0, 3.0]
    floor = contender_floor(weights)
    assert floor == 3.0  # the fifth largest: 5, 4, 3, 3, 3

    # whatever the values of those under the floor, the top ones are the same
    def top(value_under: float | None) -> list[str]:
        ranked = top_contributors(
            ["q"],
            ShareOf.TOTAL,
            [Candidate({"q": str(i)}, w if w >= floor else value_under, w) for i, w in enumerate(weights)],
        )
        assert ranked is not None
        return [c.labels["q"] for c in ranked.top]

    assert top(None) == top(1e9) == ["0", "6", "2", "3", "8"]
    assert contender_floor([1.0] * MAX_CONTRIBUTORS) == -math.inf  # few enough: every one is ranked
    assert contender_floor([0.0] * (MAX_CONTRIBUTORS + 1)) == 0.0  # no weight: values decide among all


def test_a_metric_read_as_zero_or_not_split_keeps_no_contributors() -> None:
    plan = QueryPlan(0, 15, 15, 60)
    conflicts, exhausted = BY_KEY["occ_conflicts_per_sec"], BY_KEY["exhausted_retries_per_sec"]
    fetched = {
        series_queries(conflicts)[0]: {(UPDATE,): {0.0: 0.5, 15.0: 0.5}},
        series_queries(exhausted)[0]: {},
    }
    out = summarise_catalogue(fetched, Dialect.TALLY, plan, [conflicts, exhausted])
    assert out[conflicts.key].contributors is not None
    assert out[exhausted.key].status is MetricStatus.OK and out[exhausted.key].contributors is None
    reconnects = BY_KEY["reconnect_count"]  # not split: one pool's reconnections
    out = summarise_catalogue({series_queries(reconnects)[0]: {0.0: 5.0}}, Dialect.TALLY, plan, [reconnects])
    assert out[reconnects.key].status is MetricStatus.OK and out[reconnects.key].contributors is None


# --- in a comparison ------------------------------------------------------------------------------


def _persistence(mean: float, shares: dict[str, float], values: dict[str, float]) -> MetricSummary:
    top = [
        Contributor(labels={"operation": op, "service_name": HISTORY}, value=values[op], share=share)
        for op, share in sorted(shares.items(), key=lambda item: -item[1])
    ]
    kept = Contributors(
        by=["operation", "service_name"],
        share_of=ShareOf.SLOW_TAIL,
        top=top,
        rest_share=max(0.0, 1 - sum(shares.values())),
        series=len(top),
    )
    return ok("persistence_latency_p99", mean).model_copy(update={"contributors": kept})


def test_a_regression_names_the_contributor_whose_share_grew() -> None:
    key = "persistence_latency_p99"
    base = typical(BY_KEY[key])
    old = _persistence(
        base,
        {UPDATE: 0.4, GET: 0.35, "CreateWorkflowExecution": 0.25},
        {UPDATE: 50, GET: 45, "CreateWorkflowExecution": 40},
    )
    new = _persistence(
        base * 1.8,
        {UPDATE: 0.7, GET: 0.25, "CreateWorkflowExecution": 0.05},
        {UPDATE: 110, GET: 46, "CreateWorkflowExecution": 41},
    )
    result = compare({**healthy(), key: old}, {**healthy(), key: new})
    (found,) = [a for a in result.attributions if a.metric == key]
    assert found.contributors[0].labels == {"operation": UPDATE, "service_name": HISTORY}
    assert found.contributors[0].share_change_points == pytest.approx(30.0)
    assert found.contributors[0].value_change_pct == pytest.approx(120.0)
    assert found.statement == (
        "Persistence latency p99 +80 %: 70 % of it from operation UpdateWorkflowExecution on history "
        "(was 40 %; its own value +120 %)."
    )
    # the shares of the others fell, the less the earlier
    assert [c.labels["operation"] for c in found.contributors[1:]] == [GET, "CreateWorkflowExecution"]


def test_a_regression_spread_like_before_names_the_largest_part() -> None:
    key = "persistence_latency_p99"
    base = typical(BY_KEY[key])
    shares = {UPDATE: 0.6, GET: 0.4}
    old = _persistence(base, shares, {UPDATE: 50, GET: 40})
    new = _persistence(base * 2, {UPDATE: 0.58, GET: 0.42}, {UPDATE: 100, GET: 80})
    (found,) = compare({**healthy(), key: old}, {**healthy(), key: new}).attributions
    assert found.statement.startswith(
        "Persistence latency p99 +100 %: 58 % of it from operation UpdateWorkflowExecution"
    )
    assert "as before, 60 %: spread like the whole" in found.statement


def test_old_documents_without_contributors_still_load_and_compare() -> None:
    key = "persistence_latency_p99"
    base = typical(BY_KEY[key])
    document = ok(key, base).model_dump(mode="json")
    document.pop("contributors")
    old = MetricSummary.model_validate(document)
    assert old.contributors is None
    new = _persistence(base * 1.8, {UPDATE: 0.7, GET: 0.3}, {UPDATE: 110, GET: 46})
    (found,) = compare({**healthy(), key: old}, {**healthy(), key: new}).attributions
    assert found.contributors[0].old_share is None
    assert "(profile A kept no contributors)" in found.statement
    # neither side kept any: no attribution, the comparison is as before
    assert compare({**healthy(), key: old}, {**healthy(), key: ok(key, base * 1.8)}).attributions == []


def test_a_regression_from_none_says_the_old_side_had_none_rather_than_kept_none() -> None:
    key = "persistence_latency_p99"
    base = typical(BY_KEY[key])
    none = ok(key, 0.0).model_copy(update={"contributors": None})
    new = _persistence(base, {UPDATE: 0.7, GET: 0.3}, {UPDATE: 110, GET: 46})
    (found,) = compare({**healthy(), key: none}, {**healthy(), key: new}).attributions
    assert "(profile A had none of it" in found.statement and "kept no contributors" not in found.statement


def test_only_regressions_beyond_their_threshold_are_attributed() -> None:
    key = "persistence_latency_p99"
    base = typical(BY_KEY[key])
    old = _persistence(base, {UPDATE: 0.5, GET: 0.5}, {UPDATE: 50, GET: 50})
    better = _persistence(base * 0.5, {UPDATE: 0.9, GET: 0.1}, {UPDATE: 30, GET: 5})
    assert compare({**healthy(), key: old}, {**healthy(), key: better}).attributions == []
    diffs = compare({**healthy(), key: old}, {**healthy(), key: better}, include_all=True).telemetry_diffs
    improved = next(d for d in diffs if d.metric == key)
    assert improved.direction is Direction.IMPROVED
    assert attribute_regressions([improved], {key: old}, {key: better}) == []


def test_contributors_read_in_words() -> None:
    assert describe_labels({"operation": UPDATE, "service_name": HISTORY}) == f"operation {UPDATE} on history"
    assert describe_labels({"namespace": "default", "taskqueue": "main_queue"}) == (
        "task queue main_queue in namespace default"
    )
    assert describe_labels({"namespace": "default"}) == "namespace default"
    assert describe_labels({"zone": "b"}) == "zone=b"
