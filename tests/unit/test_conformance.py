"""Conformance to a scale preset and the config recommendation: rules by example, then properties."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import pytest
from hypothesis import given
from hypothesis import strategies as st

from behaviour_profiles.catalogue import BY_KEY
from behaviour_profiles.conformance import check_bound, check_conformance, classify, get_preset, recommend
from behaviour_profiles.errors import InvalidRequest
from behaviour_profiles.models import (
    BehaviourProfile,
    BoundStatus,
    ConfigSnapshot,
    ConformanceLabel,
    Contributor,
    Contributors,
    Coverage,
    ExpectedBound,
    MetricStatus,
    MetricSummary,
    ShareOf,
    Statistic,
    TelemetrySummary,
    Verdict,
    VersionIdentity,
)
from behaviour_profiles.presets import PRESETS, THROUGHPUT_METRIC
from behaviour_profiles.telemetry import answered_only_note

MID = PRESETS["mid-scale"]
T0 = datetime(2026, 2, 18, 10, 0, tzinfo=UTC)
UPPER = ExpectedBound(metric="persistence_latency_p99", warn_max=60.0, max=120.0)
LOWER = ExpectedBound(metric="sync_match_rate", min=0.7, warn_min=0.85)

HEALTHY = {
    THROUGHPUT_METRIC: 150.0,
    "state_transitions_per_sec": 1180.0,
    "workflow_schedule_to_start_p99": 46.0,
    "activity_schedule_to_start_p95": 35.0,
    "backlog_age": 0.2,
    "activity_failure_rate": 0.0,
    "sync_match_rate": 0.95,
    "persistence_latency_p99": 37.0,
    "occ_conflicts_per_sec": 0.5,
    "exhausted_retries_per_sec": 0.0,
    "reservoir_fill": 0.96,
    "worker_task_slot_utilization": 0.4,
}
FAILING = {
    THROUGHPUT_METRIC: 403.0,
    "state_transitions_per_sec": 1930.0,
    "workflow_schedule_to_start_p99": 2640.0,
    "activity_schedule_to_start_p95": 2960.0,
    "backlog_age": 301.0,
    "activity_failure_rate": 0.12,
    "sync_match_rate": 0.3,
    "persistence_latency_p99": 235.0,
    "occ_conflicts_per_sec": 3.0,
    "exhausted_retries_per_sec": 2.0,
    "reservoir_fill": 0.06,
    "worker_task_slot_utilization": 0.985,
}


def ok(key: str, value: float, **stats: float) -> MetricSummary:
    values = {s: value for s in ("min", "max", "mean", "p50", "p95", "p99")}
    values.update(stats)
    unit = BY_KEY[key].unit if key in BY_KEY else ""
    return MetricSummary(key=key, status=MetricStatus.OK, unit=unit, sample_count=10, **values)


def no_data(key: str) -> MetricSummary:
    return MetricSummary(key=key, status=MetricStatus.NO_DATA, unit=BY_KEY[key].unit, reason="no samples")


def metrics(values: dict[str, float], **overrides: MetricSummary | None) -> dict[str, MetricSummary]:
    out = {key: ok(key, value) for key, value in values.items()}
    for key, summary in overrides.items():
        if summary is None:
            out.pop(key, None)
        else:
            out[key] = summary
    return out


def profile(
    values: dict[str, MetricSummary], *, config: ConfigSnapshot | None = None, **fields: Any
) -> BehaviourProfile:
    with_data = sum(1 for m in values.values() if m.status is MetricStatus.OK)
    return BehaviourProfile(
        id=UUID(int=7),
        name="p",
        label=None,
        cluster_id="c",
        namespace="default",
        task_queue=None,
        time_window_start=T0,
        time_window_end=T0 + timedelta(hours=1),
        created_at=T0 + timedelta(hours=1),
        versions=VersionIdentity(),
        config=config or ConfigSnapshot(),
        telemetry=TelemetrySummary(
            dialect="opentelemetry",
            step_seconds=15,
            metrics=values,
            coverage=Coverage(with_data=with_data, asked=len(values)),
        ),
        **fields,
    )


# --- one bound ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("bound", "value", "status"),
    [
        (UPPER, 30.0, BoundStatus.PASS),
        (UPPER, 59.99, BoundStatus.PASS),
        (UPPER, 60.0, BoundStatus.WARN),  # half-open: the band starts at its edge
        (UPPER, 119.0, BoundStatus.WARN),
        (UPPER, 120.0, BoundStatus.FAIL),
        (UPPER, -5.0, BoundStatus.PASS),
        (LOWER, 0.95, BoundStatus.PASS),
        (LOWER, 0.85, BoundStatus.PASS),
        (LOWER, 0.8, BoundStatus.WARN),
        (LOWER, 0.7, BoundStatus.WARN),
        (LOWER, 0.69, BoundStatus.FAIL),
    ],
)
def test_classify(bound: ExpectedBound, value: float, status: BoundStatus) -> None:
    assert classify(value, bound) is status


_RANK = {BoundStatus.PASS: 0, BoundStatus.WARN: 1, BoundStatus.FAIL: 2}


@given(st.floats(-1e6, 1e6), st.floats(-1e6, 1e6))
def test_a_worse_value_never_gets_a_better_status(a: float, b: float) -> None:
    low, high = sorted((a, b))
    assert _RANK[classify(high, UPPER)] >= _RANK[classify(low, UPPER)]  # lower is better
    assert _RANK[classify(low, LOWER)] >= _RANK[classify(high, LOWER)]  # higher is better


@pytest.mark.parametrize(
    "summary",
    [
        None,
        no_data("persistence_latency_p99"),
        MetricSummary(key="persistence_latency_p99", status=MetricStatus.OK, unit="ms", mean=None),
        ok("persistence_latency_p99", math.nan),
        ok("persistence_latency_p99", math.inf),
    ],
    ids=["missing", "no_data", "no_statistic", "nan", "inf"],
)
def test_no_value_is_no_data_never_a_pass(summary: MetricSummary | None) -> None:
    check = check_bound(UPPER, summary)
    assert check.status is BoundStatus.NO_DATA and check.observed is None
    assert "never passes" in check.reason


def test_a_bound_reads_its_own_statistic() -> None:
    bound = ExpectedBound(metric="persistence_latency_p99", statistic=Statistic.MAX, warn_max=60.0, max=120.0)
    check = check_bound(bound, ok("persistence_latency_p99", 30.0, max=150.0))
    assert check.status is BoundStatus.FAIL and check.observed == 150.0
    assert check.reason.startswith("max 150 ms")


def test_check_carries_value_bounds_and_unit() -> None:
    check = check_bound(UPPER, ok("persistence_latency_p99", 70.0))
    assert (check.observed, check.warn_max, check.max, check.unit) == (70.0, 60.0, 120.0, "ms")
    assert "warning band" in check.reason and "120 ms" in check.reason


# --- a profile against a preset ------------------------------------------------------------------


def test_healthy_conforms() -> None:
    result = check_conformance(metrics(HEALTHY), MID, profile_id="x")
    assert result.conforming and result.label is ConformanceLabel.CONFORMING and result.verdict is Verdict.PASS
    assert len(result.checks) == 1 + len(MID.bounds)
    assert result.summary == f"Conforms to mid-scale: all {len(result.checks)} bounds pass."
    assert result.profile_id == "x"


def test_failing_drifts_and_lists_each_failing_metric_first() -> None:
    result = check_conformance(metrics(FAILING), MID)
    assert not result.conforming and result.label is ConformanceLabel.DRIFTED and result.verdict is Verdict.FAIL
    assert "state_transitions_per_sec" not in result.failing
    assert {THROUGHPUT_METRIC, "persistence_latency_p99", "reservoir_fill"} <= set(result.failing)
    statuses = [c.status for c in result.checks]
    assert statuses[: len(result.failing)] == [BoundStatus.FAIL] * len(result.failing)
    assert result.summary.startswith("Drifted from mid-scale: ")
    assert "persistence_latency_p99 235 ms" in result.summary


def test_the_reservoir_is_judged_by_its_fill_whatever_its_size() -> None:
    # a small deployment with a full reservoir of 6 connections conforms; a large one half drained does not
    small = metrics(HEALTHY, reservoir_size=ok("reservoir_size", 6.0))
    assert check_conformance(small, MID).conforming
    drained = metrics(HEALTHY, reservoir_size=ok("reservoir_size", 400.0), reservoir_fill=ok("reservoir_fill", 0.45))
    result = check_conformance(drained, MID)
    assert result.failing == ["reservoir_fill"]
    warned = check_conformance(metrics(HEALTHY, reservoir_fill=ok("reservoir_fill", 0.7)), MID)
    assert warned.warnings == ["reservoir_fill"] and warned.failing == []


def test_a_warning_is_not_conforming_but_says_so() -> None:
    result = check_conformance(metrics(HEALTHY, persistence_latency_p99=ok("persistence_latency_p99", 80.0)), MID)
    assert not result.conforming and result.verdict is Verdict.WARN
    assert result.warnings == ["persistence_latency_p99"] and result.failing == []
    assert "(warnings only)" in result.summary


def test_no_data_on_a_bounded_metric_is_inconclusive_never_conforming() -> None:
    result = check_conformance(metrics(HEALTHY, reservoir_fill=no_data("reservoir_fill")), MID)
    assert not result.conforming and result.verdict is Verdict.INCONCLUSIVE
    assert result.no_data == ["reservoir_fill"] and result.checks[0].metric == "reservoir_fill"
    assert "(inconclusive)" in result.summary and "never a pass" in result.summary


def test_an_idle_profile_never_conforms() -> None:
    for preset in PRESETS.values():
        result = check_conformance({}, preset)
        assert not result.conforming and result.verdict is Verdict.INCONCLUSIVE
        assert all(c.status is BoundStatus.NO_DATA for c in result.checks)


def test_a_failure_outranks_missing_data() -> None:
    values = metrics(FAILING, reservoir_fill=None)
    result = check_conformance(values, MID)
    assert result.verdict is Verdict.FAIL and result.no_data == ["reservoir_fill"]


def test_unknown_preset_is_an_invalid_request_naming_the_known_ones() -> None:
    with pytest.raises(InvalidRequest, match="mid-scale"):
        get_preset("galactic")


_bounded = [MID.throughput.metric, *(b.metric for b in MID.bounds)]
_summaries = st.one_of(
    st.none(),
    st.just("no_data"),
    st.floats(min_value=-10, max_value=5000, allow_nan=False),
)


@given(st.fixed_dictionaries({key: _summaries for key in _bounded}), st.sampled_from(list(PRESETS.values())))
def test_conforming_exactly_when_every_bound_passes(choice: dict[str, Any], preset: Any) -> None:
    values: dict[str, MetricSummary] = {}
    for key, item in choice.items():
        if item == "no_data":
            values[key] = no_data(key)
        elif item is not None:
            values[key] = ok(key, float(item))
    result = check_conformance(values, preset)
    statuses = [c.status for c in result.checks]
    assert result.conforming == all(s is BoundStatus.PASS for s in statuses)
    assert result.conforming == (result.label is ConformanceLabel.CONFORMING)
    for check in result.checks:
        if check.observed is None:
            assert check.status is BoundStatus.NO_DATA
    order = [BoundStatus.FAIL, BoundStatus.NO_DATA, BoundStatus.WARN, BoundStatus.PASS]
    assert statuses == sorted(statuses, key=order.index)
    expected = (
        Verdict.FAIL
        if BoundStatus.FAIL in statuses
        else Verdict.INCONCLUSIVE
        if BoundStatus.NO_DATA in statuses
        else Verdict.WARN
        if BoundStatus.WARN in statuses
        else Verdict.PASS
    )
    assert result.verdict is expected
    assert set(result.failing) == {c.metric for c in result.checks if c.status is BoundStatus.FAIL}


# --- recommendation ----------------------------------------------------------------------------


def failing_config() -> ConfigSnapshot:
    return ConfigSnapshot(
        environment={"TEMPORAL_SQL_MAX_CONNS": "20", "DSQL_RESERVOIR_ENABLED": "true"},
        dsql_plugin={"TEMPORAL_SQL_MAX_CONNS": 20, "DSQL_RESERVOIR_ENABLED": True},
        dynamic_config={
            "history.persistenceMaxQPS": [
                {"value": 500, "constraints": {"namespace": "other"}},
                {"value": 3000, "constraints": {}},
            ]
        },
        worker_options={"orders": {"MaxConcurrentActivityExecutionSize": 5000}},
    )


def test_recommend_fits_the_throughput_and_addresses_failing_metrics_with_evidence() -> None:
    advice = recommend(profile(metrics(FAILING), config=failing_config()))
    assert advice.preset == "high-throughput" and advice.observed_throughput == 403.0
    assert advice.conformance is not None and advice.conformance.preset == "high-throughput"
    keys = {o.key: o for o in advice.overrides}
    conns = keys["TEMPORAL_SQL_MAX_CONNS"]
    assert (conns.current_value, conns.suggested_value, conns.part) == (20, 100, "environment")
    latency = next(e for e in conns.evidence if e.metric == "persistence_latency_p99")
    assert (latency.status, latency.observed, latency.max) == (BoundStatus.FAIL, 235.0, 120.0)
    qps = keys["history.persistenceMaxQPS"]
    assert qps.current_value == 3000  # the unconstrained entry
    # already above the preset's value: not suggested, and said so
    assert "MaxConcurrentActivityExecutionSize" not in keys
    assert any("MaxConcurrentActivityExecutionSize is already 5000" in n for n in advice.notes)
    assert "DSQL_RESERVOIR_ENABLED" not in keys  # already true
    assert "Suggested overrides" in advice.summary
    for override in advice.overrides:
        assert override.evidence and all(e.status in (BoundStatus.FAIL, BoundStatus.WARN) for e in override.evidence)


def test_recommend_for_a_conforming_profile_is_no_change() -> None:
    advice = recommend(profile(metrics(HEALTHY)))
    assert advice.preset == "mid-scale" and advice.overrides == []
    assert "no override needed" in advice.summary


def test_recommend_notes_a_named_preset_that_does_not_fit() -> None:
    advice = recommend(profile(metrics(FAILING), preset="mid-scale"))
    assert advice.preset == "high-throughput"
    assert any("names preset mid-scale" in n for n in advice.notes)


def test_recommend_without_throughput_data() -> None:
    values = metrics(FAILING, **{THROUGHPUT_METRIC: no_data(THROUGHPUT_METRIC)})
    advice = recommend(profile(values))
    assert advice.preset is None and advice.overrides == [] and advice.conformance is None
    named = recommend(profile(values, preset="mid-scale"))
    assert named.preset == "mid-scale" and named.conformance is not None and not named.conformance.conforming


def test_recommend_raises_the_saturated_slot_type_and_not_its_pollers() -> None:
    # what a real worker showed: 3 of 3 activity slots busy, 16 of 20 pollers, workflow slots idle
    values = {
        **{k: v for k, v in HEALTHY.items() if k != THROUGHPUT_METRIC},
        THROUGHPUT_METRIC: 10.0,
        "activity_schedule_to_start_p95": 190_000.0,
        "backlog_age": 180.0,
        "sync_match_rate": 0.1,
        "worker_task_slot_utilization": 1.0,
    }
    per_type = {
        "worker_task_slot_utilization.activity": ok("worker_task_slot_utilization.activity", 1.0),
        "worker_task_slot_utilization.workflow": ok("worker_task_slot_utilization.workflow", 0.02),
    }
    options = {"MaxConcurrentActivityExecutionSize": 3, "MaxConcurrentActivityTaskPollers": 16}
    advice = recommend(profile({**metrics(values), **per_type}, config=ConfigSnapshot(worker_options=options)))
    assert advice.preset == "starter"
    keys = {o.key: o for o in advice.overrides}
    slots = keys["MaxConcurrentActivityExecutionSize"]
    assert (slots.current_value, slots.current_known, slots.suggested_value) == (3, True, 200)
    assert {e.metric for e in slots.evidence} >= {"worker_task_slot_utilization", "activity_schedule_to_start_p95"}
    # the saturated type's pollers are never the answer, and the workflow slots are not full
    assert "MaxConcurrentActivityTaskPollers" not in keys
    assert "MaxConcurrentWorkflowTaskExecutionSize" not in keys
    assert any("ActivityWorker slots are the saturated type" in n for n in advice.notes)
    assert any(n.startswith("MaxConcurrentActivityTaskPollers is not suggested") for n in advice.notes)


def hung(share_of_failures: float, failure_rate: float = 0.2) -> dict[str, MetricSummary]:
    """What a real server showed when a fifth of the attempts hung past their start-to-close timeout: all
    activity slots busy, tasks waiting, and the activity failures split by how the attempts ended."""
    where = {"namespace": "default", "taskqueue": "main_queue", "activityType": "work"}
    timeouts = {**where, "operation": "TimerActiveTaskActivityTimeout", "timeout_type": "StartToClose"}
    failed = {**where, "operation": "RespondActivityTaskFailed", "timeout_type": ""}
    failures = ok("activity_failures_per_sec", 1.3)
    failures.contributors = Contributors(
        by=[*where, "operation", "timeout_type"],
        share_of=ShareOf.TOTAL,
        top=[
            Contributor(labels=timeouts, value=1.3 * share_of_failures, share=share_of_failures),
            Contributor(labels=failed, value=1.3 * (1 - share_of_failures), share=1 - share_of_failures),
        ],
        rest_share=0.0,
        series=2,
    )
    values = {
        **{k: v for k, v in HEALTHY.items() if k != THROUGHPUT_METRIC},
        THROUGHPUT_METRIC: 5.0,
        "activity_schedule_to_start_p95": 6_800.0,
        "activity_failure_rate": failure_rate,
        "sync_match_rate": 0.6,
        "worker_task_slot_utilization": 1.0,
    }
    per_type = {
        "worker_task_slot_utilization.activity": ok("worker_task_slot_utilization.activity", 0.9),
        "worker_task_slot_utilization.workflow": ok("worker_task_slot_utilization.workflow", 0.02),
    }
    return {**metrics(values), **per_type, "activity_failures_per_sec": failures}


def test_slots_held_by_attempts_that_hang_are_not_raised() -> None:
    options = ConfigSnapshot(worker_options={"MaxConcurrentActivityExecutionSize": 20})
    advice = recommend(profile(hung(1.0), config=options))
    assert advice.preset == "starter"
    keys = {o.key for o in advice.overrides}
    assert "MaxConcurrentActivityExecutionSize" not in keys and "MaxConcurrentActivityTaskPollers" not in keys
    (note,) = [n for n in advice.notes if n.startswith("MaxConcurrentActivityExecutionSize is not suggested")]
    assert "20.0 % of activity attempts hung past their timeout" in note
    assert "StartToClose timeouts of activity work in task queue main_queue in namespace default" in note
    assert "heartbeat" in note
    pollers = next(n for n in advice.notes if n.startswith("MaxConcurrentActivityTaskPollers is not suggested"))
    assert pollers.endswith("the activity slots are held by hung attempts")


@pytest.mark.parametrize(
    ("timeouts", "failure_rate"),
    [
        (0.3, 0.2),  # failures are mostly application errors: the slots are busy with work
        (1.0, 0.004),  # hung attempts, but within the preset's bound for failures: not the cause
    ],
)
def test_slots_are_still_raised_where_attempts_do_not_mostly_hang(timeouts: float, failure_rate: float) -> None:
    options = ConfigSnapshot(worker_options={"MaxConcurrentActivityExecutionSize": 20})
    advice = recommend(profile(hung(timeouts, failure_rate), config=options))
    slots = next(o for o in advice.overrides if o.key == "MaxConcurrentActivityExecutionSize")
    assert slots.suggested_value == 200
    assert not any("hung past their timeout" in n for n in advice.notes)


def test_a_suggestion_that_cannot_be_compared_says_so() -> None:
    values = {**{k: v for k, v in HEALTHY.items() if k != THROUGHPUT_METRIC}, THROUGHPUT_METRIC: 10.0}
    values["workflow_schedule_to_start_p99"] = 900.0
    advice = recommend(profile(metrics(values)))  # no worker options in the snapshot
    pollers = next(o for o in advice.overrides if o.key == "MaxConcurrentWorkflowTaskPollers")
    assert pollers.current_value is None and pollers.current_known is False
    assert "could not be compared with the value in force" in pollers.why


def test_the_execution_latency_says_it_reads_answered_attempts_only_when_attempts_hung() -> None:
    failures = hung(1.0)["activity_failures_per_sec"]
    note = answered_only_note(failures)
    assert note.startswith("Answered attempts only: 1.3/s activity attempts hung past their timeout")
    assert "(StartToClose; see activity_failures_per_sec)" in note
    assert answered_only_note(hung(0.0)["activity_failures_per_sec"]) == ""  # failures only: nothing hung
    assert answered_only_note(ok("activity_failures_per_sec", 0.0)) == ""  # no contributors
    assert answered_only_note(None) == ""
