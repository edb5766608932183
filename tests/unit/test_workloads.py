"""The named real workloads: data that says what each one offers and what the worker can take."""

from __future__ import annotations

import random
import statistics
from datetime import UTC, datetime

import pytest

from copilot.dev.workload import WORKLOADS, RunReport, Workload, next_start
from copilot.dev.workload_flows import attempt_seconds

GO_NAMES = {
    "MaxConcurrentActivityExecutionSize",
    "MaxConcurrentWorkflowTaskExecutionSize",
    "MaxConcurrentLocalActivityExecutionSize",
    "MaxConcurrentWorkflowTaskPollers",
    "MaxConcurrentActivityTaskPollers",
}


def test_the_named_workloads_exist() -> None:
    assert {
        "steady",
        "overload",
        "activity-failures",
        "slow-activities",
        "slot-starvation",
        "incident",
        "surge",
        "workflow-bug",
        "no-worker",
    } <= set(WORKLOADS)
    for name, workload in WORKLOADS.items():
        assert workload.name == name
        assert workload.summary


def test_steady_is_well_within_the_workers_capacity() -> None:
    steady = WORKLOADS["steady"]
    assert steady.activity_failure_fraction == 0
    assert steady.activity_slot_demand < 0.25


@pytest.mark.parametrize("name", ["overload", "incident"])
def test_overloads_offer_more_activity_work_than_the_slots_can_run(name: str) -> None:
    assert WORKLOADS[name].activity_slot_demand > 1.5


def test_incident_is_the_change_the_tests_use() -> None:
    steady, incident = WORKLOADS["steady"], WORKLOADS["incident"]
    assert incident.starts_per_second == 2 * steady.starts_per_second
    assert incident.activity_slots == 2 < steady.activity_slots
    assert incident.activity_seconds > steady.activity_seconds
    assert incident.activity_failure_fraction == pytest.approx(0.15)
    assert incident.max_attempts > 1


def test_single_cause_workloads_change_one_thing_from_steady() -> None:
    steady = WORKLOADS["steady"]
    expected = {
        "activity-failures": {"activity_failure_fraction"},
        "slow-activities": {"activity_seconds"},
        "slot-starvation": {"activity_slots"},
        "surge": {"starts_per_second"},
        "workflow-bug": {"workflow_bug_fraction"},
        "no-worker": {"worker_running"},
    }
    for name, fields in expected.items():
        changed = {
            field
            for field in Workload.__dataclass_fields__
            if field not in {"name", "summary"} and getattr(WORKLOADS[name], field) != getattr(steady, field)
        }
        assert changed == fields, name
    assert WORKLOADS["activity-failures"].activity_failure_fraction == pytest.approx(0.15)
    assert WORKLOADS["slot-starvation"].activity_slots == 2
    assert WORKLOADS["slot-starvation"].activity_slot_demand < 1  # busy slots, not a runaway backlog
    # three times the starts, still within the slots: what it changes is the requests a limit counts
    assert WORKLOADS["surge"].starts_per_second == 3 * steady.starts_per_second
    assert WORKLOADS["surge"].activity_slot_demand < 0.5
    # a bad deploy: a third of the workflows raise in workflow code (steady never does)
    assert steady.workflow_bug_fraction == 0 < WORKLOADS["workflow-bug"].workflow_bug_fraction < 0.5
    assert steady.worker_running and not WORKLOADS["no-worker"].worker_running


def test_worker_options_use_the_go_sdk_names_and_the_workloads_values() -> None:
    incident = WORKLOADS["incident"]
    options = incident.worker_options()
    assert set(options) >= GO_NAMES
    assert options["MaxConcurrentActivityExecutionSize"] == incident.activity_slots == 2
    assert options["MaxConcurrentWorkflowTaskExecutionSize"] == incident.workflow_slots
    assert options["MaxConcurrentLocalActivityExecutionSize"] == incident.local_activity_slots
    assert options["MaxConcurrentWorkflowTaskPollers"] == incident.workflow_pollers
    assert options["MaxConcurrentActivityTaskPollers"] == incident.activity_pollers
    changed = {k for k, v in WORKLOADS["steady"].worker_options().items() if options[k] != v}
    assert changed == {"MaxConcurrentActivityExecutionSize"}


def test_expected_attempts_count_the_retries_up_to_the_last_attempt() -> None:
    w = Workload("x", "x", starts_per_second=10, activity_seconds=0.5, activity_failure_fraction=0.5, max_attempts=3)
    assert w.attempts_per_activity == pytest.approx(1.75)
    assert w.activity_demand_per_second == pytest.approx(17.5)
    assert w.activity_capacity_per_second == pytest.approx(40)


def test_a_report_survives_its_json_form() -> None:
    report = RunReport(
        workload="steady",
        address="127.0.0.1:7433",
        namespace="default",
        task_queue="main-queue",
        start=datetime(2026, 1, 1, 10, 0, tzinfo=UTC),
        end=datetime(2026, 1, 1, 10, 1, 35, tzinfo=UTC),
        worker_options=WORKLOADS["steady"].worker_options(),
        started=475,
        start_errors=0,
        activity_attempts=475,
        activity_failures=0,
        activity_backlog=0,
        terminated=0,
    )
    assert RunReport.from_json(report.to_json()) == report
    text = "\n".join(report.lines())
    assert "started 475 workflows (5.0/s)" in text
    assert "MaxConcurrentActivityExecutionSize=20" in text


def test_starts_arrive_at_random_instants_at_the_workloads_rate_on_average() -> None:
    """Independent arrivals: the mean gap is 1 / rate and the gaps vary as much as they average (an
    exponential's spread), so no two scrapes 10 s apart see the worker in the same phase."""
    rng = random.Random(7)
    gaps = [next_start(rng, 5.0) for _ in range(20_000)]
    assert statistics.fmean(gaps) == pytest.approx(0.2, rel=0.03)
    assert statistics.pstdev(gaps) == pytest.approx(0.2, rel=0.05)
    assert min(gaps) > 0
    assert [next_start(random.Random(1), 5.0) for _ in range(3)] == [next_start(random.Random(1), 5.0)] * 3


def test_activity_attempts_vary_around_the_workloads_length() -> None:
    rng = random.Random(11)
    lengths = [attempt_seconds(rng, 0.3) for _ in range(20_000)]
    assert min(lengths) >= 0.15 and max(lengths) <= 0.45
    assert statistics.fmean(lengths) == pytest.approx(0.3, rel=0.02)
    assert len({round(v, 3) for v in lengths}) > 100  # not one exact length
