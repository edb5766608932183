"""The product on a real Temporal server: real dev server, real SDK worker, real Prometheus scrape.

The ``live_temporal`` fixture runs two ``steady`` phases and then an ``incident`` phase (twice the starts,
activity slots cut to 2, slower activities, about 15 % failed attempts). Profiles are created with
the names a user types (``default``, ``main-queue``), although the server exports the task queue as
``main_queue``. A real server is the judge: what it exports decides what the catalogue and the
simulator must read and write.
"""

from __future__ import annotations

import io
import math
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from behaviour_profiles.catalogue import CATALOGUE, Dialect, Quantile, Source, terms_of
from behaviour_profiles.models import MetricStatus
from behaviour_profiles.telemetry import NARROW_MIN_POINTS, PrometheusClient, Scope, TelemetryCollector, plan_window
from copilot.dev.simulator import Placement, write_openmetrics
from tests.live import LivePhase, LiveTemporal
from tests.support import compared, created_profile, serve

pytestmark = pytest.mark.stack

NO_DSQL_HERE = frozenset(
    {
        "pool_open_count",
        "pool_in_use_count",
        "pool_idle_count",
        "reservoir_size",
        "reservoir_fill",
        "reservoir_empty_events",
        "open_failures",
        "reconnect_count",
        "occ_conflicts_per_sec",
        "exhausted_retries_per_sec",
        "dsql_auth_failures",
    }
)
"""The dev server persists to SQLite: no DSQL plugin, no session refreshes. Everything else has data."""

REGRESSED_IN_THE_INCIDENT = frozenset(
    {
        "activity_schedule_to_start_p95",
        "backlog_count",
        "backlog_age",
        "sync_match_rate",
        "worker_task_slot_utilization",
        "activity_failure_rate",
        "activity_execution_latency_p95",  # 0.3 s activities, then 0.6 s ones
    }
)


@dataclass(frozen=True)
class Judged:
    live: LiveTemporal
    steady: dict[str, Any]
    incident: dict[str, Any]
    comparison: dict[str, Any]


@pytest.fixture(scope="module")
async def api(live_temporal: LiveTemporal) -> AsyncIterator[httpx.AsyncClient]:
    # raw series: the agreement below is with the same PromQL on the raw series (the recorded ones lag by
    # up to one rule interval, which a 95 s window of sparse histograms feels; test_recording_rules.py
    # holds the two paths to each other)
    async with serve(live_temporal.settings(prometheus_recording_rules=False)) as client:
        yield client


@pytest.fixture(scope="module")
async def judged(live_temporal: LiveTemporal, api: httpx.AsyncClient) -> Judged:
    steady = await created_profile(api, live_temporal.profile_body(live_temporal.steady))
    incident = await created_profile(api, live_temporal.profile_body(live_temporal.incident))
    return Judged(live_temporal, steady, incident, await compared(api, steady, incident))


def test_every_metric_the_server_and_sdk_produce_has_data_in_both_profiles(judged: Judged) -> None:
    for profile in (judged.steady, judged.incident):
        metrics = profile["telemetry"]["metrics"]
        assert profile["telemetry"]["dialect"] == "tally"
        missing = sorted(k for k, m in metrics.items() if m["status"] != "ok" and k not in NO_DSQL_HERE)
        assert missing == [], {k: metrics[k]["reason"] for k in missing}
        assert {k for k, m in metrics.items() if m["status"] != "ok"} == NO_DSQL_HERE
        # the names the user typed reached every scoped series of both sources
        for match in profile["telemetry"]["coverage"]["scope"]:
            assert match["without_data"] == [], match
        exported = {(m["dimension"], m["source"]): m["exported_as"] for m in profile["telemetry"]["coverage"]["scope"]}
        assert exported[("task_queue", "server")] == "main_queue"
        assert exported[("task_queue", "sdk")] == "main-queue"
        # one CPU explanation, not four empty rows
        assert not any(k.startswith("cpu_utilization.") for k in metrics)
        assert any("no CPU metric" in note for note in profile["telemetry"]["notes"])


def test_the_stored_version_is_read_back_with_dots(judged: Judged) -> None:
    for profile in (judged.steady, judged.incident):
        assert profile["temporal_server_version"] == "1.32.0"
        assert len(profile["versions"]["temporal_server_git_revision"]) == 40
        assert profile["versions"]["sources"]["temporal_server_version"] == "build_information"


async def _range(live: LiveTemporal, promql: str, profile: dict[str, Any]) -> list[dict[str, Any]]:
    """``promql`` run directly against Prometheus over the profile's own grid."""
    step = profile["telemetry"]["step_seconds"]
    series = profile["telemetry"]["metrics"]["workflows_started_per_sec"]["series"]
    start, end = series[0][0], series[-1][0]
    async with httpx.AsyncClient(base_url=live.prometheus_url, timeout=30) as http:
        answer = await http.get(
            "/api/v1/query_range", params={"query": promql, "start": start, "end": end, "step": step}
        )
    result: list[dict[str, Any]] = answer.json()["data"]["result"]
    return result


def _mean(values: list[Any]) -> float:
    finite = [float(v) for _, v in values if math.isfinite(float(v))]
    assert finite
    return sum(finite) / len(finite)


async def direct_mean(live: LiveTemporal, promql: str, profile: dict[str, Any]) -> float:
    """The mean over the profile's own grid of ``promql`` run directly against Prometheus."""
    return _mean([point for item in await _range(live, promql, profile) for point in item["values"]])


async def _direct_by(live: LiveTemporal, promql: str, profile: dict[str, Any], label: str) -> dict[str, float]:
    """The mean of each series of ``promql`` (one per value of ``label``) over the profile's grid."""
    return {item["metric"][label]: _mean(item["values"]) for item in await _range(live, promql, profile)}


async def test_values_agree_with_the_same_promql_run_directly(judged: Judged) -> None:
    live = judged.live
    scope = f'namespace="default",cluster="{live.cluster}"'
    queue = f'{scope},taskqueue="main_queue"'
    rate = "1m"
    direct = {
        "workflows_started_per_sec": (
            f'sum(rate(service_requests{{{scope},service_name="frontend",'
            f'operation=~"StartWorkflowExecution|SignalWithStartWorkflowExecution"}}[{rate}]))'
        ),
        "activity_schedule_to_start_p95": (
            "1000 * histogram_quantile(0.95, sum by (le) "
            f'(rate(task_schedule_to_start_latency_bucket{{{queue},task_type="Activity"}}[{rate}])))'
        ),
        "activity_execution_latency_p95": (
            "1000 * histogram_quantile(0.95, sum by (le) "
            f"(rate(activity_start_to_close_latency_bucket{{{queue}}}[{rate}])))"
        ),
    }
    for profile in (judged.steady, judged.incident):
        metrics = profile["telemetry"]["metrics"]
        for key, promql in direct.items():
            ours, theirs = metrics[key]["mean"], await direct_mean(live, promql, profile)
            assert ours == pytest.approx(theirs, rel=0.15), (key, profile["name"], ours, theirs)
        # per task type, the type matched worst over the window (an activity backlog is not hidden by
        # sync-matched workflow tasks)
        per_type = (
            f"(sum by (task_type) (rate(poll_success_sync{{{queue}}}[{rate}])) "
            f"or 0 * sum by (task_type) (rate(poll_success{{{queue}}}[{rate}]))) "
            f"/ (sum by (task_type) (rate(poll_success{{{queue}}}[{rate}])) > 0)"
        )
        worst = min((await _direct_by(live, per_type, profile, "task_type")).values())
        assert metrics["sync_match_rate"]["mean"] == pytest.approx(worst, rel=0.15), (profile["name"], worst)
    backlog = await direct_mean(live, f"sum(approximate_backlog_count{{{queue}}})", judged.incident)
    assert judged.incident["telemetry"]["metrics"]["backlog_count"]["mean"] == pytest.approx(backlog, rel=0.15)
    assert judged.incident["telemetry"]["metrics"]["backlog_count"]["max"] > 100  # a real backlog


async def test_the_cluster_view_is_recorded_live_as_the_scoped_view_added_up(judged: Judged) -> None:
    """Scraped live, Prometheus evaluates a group's rules in order at one instant: each cluster-view rule
    adds up what the scoped rules before it recorded at that same evaluation (not the one before)."""
    nonzero = 0
    for family in ("task_dispatch_latency:rate1m_bucket", "workflow_schedule_to_start:rate1m_bucket"):
        where = f'{{cluster="{judged.live.cluster}"}}'
        view = await _range(judged.live, f"sum(bp_tally_cluster:{family}{where})", judged.incident)
        scoped = await _range(judged.live, f"sum(bp_tally:{family}{where})", judged.incident)
        assert view and scoped, family
        (mine,), (theirs,) = [[dict(item["values"]) for item in answer] for answer in (view, scoped)]
        assert mine.keys() == theirs.keys(), family
        for at, value in mine.items():
            assert math.isclose(float(value), float(theirs[at]), rel_tol=1e-9, abs_tol=1e-12), (family, at)
        nonzero += sum(float(v) > 0 for v in mine.values())
    assert nonzero > 5  # the incident's tasks were recorded in both views


async def test_the_rules_check_sees_rules_that_start_within_a_window_of_the_head_block(
    judged: Judged, api: httpx.AsyncClient
) -> None:
    """Live data sits in Prometheus's head block, whose label-values answers name every series it holds
    whatever the range: the rules' presence at a window's start is read from samples instead."""
    live = judged.live

    async def states(start: datetime, end: datetime) -> dict[str, str]:
        answer = await api.get(
            "/profiles/recording-rules",
            params={
                "cluster": live.cluster,
                "namespace": live.namespace,
                "start": start.isoformat(),
                "end": end.isoformat(),
            },
        )
        assert answer.status_code == 200, answer.text
        return {m["metric"]: m["state"] for m in answer.json()["metrics"]}

    # from before the stack's Prometheus ran: the rules start within the window
    before = await states(live.steady.start - timedelta(minutes=20), live.incident.end)
    assert before["task_dispatch_latency"] == before["workflows_started_per_sec"] == "partial", before
    # the incident alone: recorded throughout
    during = await states(live.incident.start, live.incident.end)
    assert during["task_dispatch_latency"] == during["workflows_started_per_sec"] == "recorded", during


async def test_a_run_leaves_its_task_queue_empty_for_the_next(judged: Judged) -> None:
    """The incident ends with hundreds of activity tasks queued; the runner terminates its workflows
    while its worker still polls, so their tasks are handed out and dropped, not left to the next run."""
    from temporalio.client import Client

    from copilot.dev.workload import activity_backlog

    live = judged.live
    incident = live.incident.report
    assert incident.activity_backlog is not None and incident.activity_backlog > 100, incident.lines()
    assert not any("still queued" in note for note in incident.notes), incident.notes
    client = await Client.connect(live.temporal_address, namespace=live.namespace)
    assert await activity_backlog(client, live.namespace, live.task_queue) == 0


def test_the_incident_fails_and_names_what_regressed(judged: Judged) -> None:
    result = judged.comparison
    assert result["verdict"] == "fail", result["summary"]
    regressed = {d["metric"] for d in result["telemetry_diffs"] if d["direction"] == "regressed"}
    missing = REGRESSED_IN_THE_INCIDENT - regressed
    assert not missing, (missing, result["summary"])
    slots = judged.incident["telemetry"]["metrics"]
    # the saturated type is the activity worker, and the headline shows it (not 3 of 203 slots)
    assert slots["worker_task_slot_utilization.activity"]["max"] == 1.0
    assert slots["worker_task_slot_utilization"]["mean"] == pytest.approx(
        slots["worker_task_slot_utilization.activity"]["mean"], abs=0.05
    )
    assert slots["worker_task_slot_utilization.workflow"]["mean"] < 0.5
    # more offered, less done: completions per start fell with twice the starts
    ratio = {d["metric"]: d for d in result["telemetry_diffs"]}.get("completion_ratio")
    assert ratio is not None and ratio["direction"] == "regressed", result["summary"]


def _nothing_under_its_level_counts(diffs: list[dict[str, Any]]) -> None:
    """Between two healthy windows: no counted regression stays under its metric's warning level (short
    windows cannot be tested, and that much moves between healthy runs), and the Go heap, which grows as
    the server's caches fill, is never a regression. A level crossed on a busy machine still counts."""
    levels = {spec.key: spec.warning_level for spec in CATALOGUE}
    for d in diffs:
        if d["direction"] == "regressed" and d["counts_toward_verdict"]:
            level = levels.get(d["metric"])
            assert level is None or d["new_value"] >= level, d
        if d["metric"].startswith("memory_utilization."):
            assert d["direction"] in ("changed", "unchanged"), d


async def test_two_healthy_windows_raise_nothing_under_the_metrics_levels(
    judged: Judged, api: httpx.AsyncClient
) -> None:
    """Two steady runs back to back on a real server: 95 s windows (too few points for a test), the first
    one warming up, the heap growing. On an idle machine they compare as a pass; beside the rest of the
    suite a p99 may cross its warning level, which is then rightly counted."""
    live = judged.live
    again = await created_profile(api, live.profile_body(live.phase("steady", 1)))
    result = await compared(api, judged.steady, again)
    _nothing_under_its_level_counts(result["telemetry_diffs"])
    # the healthy workload keeps 1 or 2 of its 20 activity slots busy: never a counted regression, whichever
    # way it moves (headroom)
    regressed = {
        d["metric"] for d in result["telemetry_diffs"] if d["direction"] == "regressed" and d["counts_toward_verdict"]
    }
    assert "worker_task_slot_utilization" not in regressed, result["summary"]


async def test_drift_from_the_healthy_baseline_is_found_in_the_incident_and_not_in_noise(
    judged: Judged, api: httpx.AsyncClient
) -> None:
    live = judged.live
    designated = await api.post(f"/profiles/{judged.steady['id']}/baseline")
    assert designated.status_code == 200, designated.text

    async def drift(phase: LivePhase) -> dict[str, Any]:
        answer = await api.post(
            "/profiles/drift",
            json={
                "cluster_id": live.cluster,
                "namespace": live.namespace,
                "time_window_start": phase.start.isoformat(),
                "time_window_end": phase.end.isoformat(),
            },
        )
        assert answer.status_code == 200, answer.text
        result: dict[str, Any] = answer.json()
        return result

    healthy = await drift(live.phase("steady", 1))
    _nothing_under_its_level_counts(healthy["deviations"])
    assert healthy["task_queue"] == live.task_queue  # the baseline's, as the user typed it
    incident = await drift(live.incident)
    assert incident["status"] == "drifted", incident["summary"]
    drifted = {
        d["metric"] for d in incident["deviations"] if d["direction"] == "regressed" and d["counts_toward_verdict"]
    }
    assert {"activity_schedule_to_start_p95", "worker_task_slot_utilization"} <= drifted, incident["summary"]


def test_the_incident_regressions_are_placed_in_the_task_queue_as_exported(judged: Judged) -> None:
    """The profiles were asked for main-queue: server series name main_queue, SDK series main-queue."""
    places = ({"namespace": "default", "taskqueue": "main_queue"}, {"task_queue": "main-queue"})
    for key in ("activity_schedule_to_start_p95", "backlog_count"):
        kept = judged.incident["telemetry"]["metrics"][key]["contributors"]
        assert kept is not None and [c["labels"] for c in kept["top"]] == [places[0]], key
    by_metric = {a["metric"]: a for a in judged.comparison["attributions"]}
    # an activity's attempts are placed in its activity type too (history writes activityType on them)
    of_activities = {"activity_failure_rate", "activity_execution_latency_p95"}
    for key in REGRESSED_IN_THE_INCIDENT - of_activities - {"backlog_age"}:  # a maximum has no parts
        found = by_metric[key]
        assert found["contributors"][0]["labels"] in places, found
        assert "of it from task queue main" in found["statement"], found["statement"]
    for key in of_activities:
        found = by_metric[key]
        assert found["contributors"][0]["labels"] == {**places[0], "activityType": "work"}, found
        assert "of it from activity work in task queue main_queue" in found["statement"], found["statement"]
    # the starts not closed: start requests carry no task queue, so they are placed in their namespace
    closes = by_metric["completion_ratio"]
    assert [c["labels"] for c in closes["contributors"]] == [{"namespace": "default"}], closes
    assert "of it from namespace default" in closes["statement"], closes["statement"]


async def test_the_starter_preset_sees_the_backlog_and_the_advice_names_the_full_slots(
    judged: Judged, api: httpx.AsyncClient
) -> None:
    incident_id = judged.incident["id"]
    checked = (await api.post(f"/profiles/{incident_id}/conformance", json={"preset": "starter"})).json()
    assert checked["verdict"] == "fail" and "activity_schedule_to_start_p95" in checked["failing"]
    status = {c["metric"]: c["status"] for c in checked["checks"]}
    assert status["backlog_age"] in ("fail", "warn") and status["worker_task_slot_utilization"] in ("fail", "warn")
    advice = (await api.post(f"/profiles/{incident_id}/recommendation")).json()
    overrides = {o["key"]: o for o in advice["overrides"]}
    slots = overrides["MaxConcurrentActivityExecutionSize"]
    assert slots["current_value"] == judged.live.incident.worker_options["MaxConcurrentActivityExecutionSize"]
    assert slots["current_known"] is True and slots["suggested_value"] > slots["current_value"]
    assert "MaxConcurrentActivityTaskPollers" not in overrides


async def test_a_misspelt_task_queue_is_refused_naming_what_exists(judged: Judged, api: httpx.AsyncClient) -> None:
    live = judged.live
    answer = await api.post("/profiles", json=live.profile_body(live.incident, task_queue="main-qeue"))
    assert answer.status_code == 422, answer.text
    detail = answer.json()["detail"]
    assert "the server knows task queues main_queue" in detail and "SDK workers know task queues main-queue" in detail
    typed = await api.post(
        "/profiles", json=live.profile_body(live.incident, namespace="temporal-system", task_queue=None)
    )
    assert typed.status_code == 201, typed.text  # exported as temporal_system, matched as typed


def label_keys(series: list[dict[str, str]]) -> set[frozenset[str]]:
    scrape_added = {"__name__", "cluster", "instance", "job"}
    return {frozenset(k for k, v in s.items() if k not in scrape_added and v != "") for s in series}


async def assert_simulated_like_real(live: LiveTemporal, family: str, matchers: str = "") -> list[dict[str, str]]:
    """Assert that the simulator writes ``family`` (tally) under the label keys of the real server's series
    matching ``matchers``; the real series."""
    selector = ",".join(m for m in (f'cluster="{live.cluster}"', matchers) if m)
    async with httpx.AsyncClient(base_url=live.prometheus_url, timeout=30) as http:
        real: list[dict[str, str]] = (
            await http.get("/api/v1/series", params={"match[]": f"{family}{{{selector}}}"})
        ).json()["data"]
    assert real, f"the real server wrote no {family}{{{selector}}}"
    assert label_keys(real) == {frozenset(s) for s in simulated_series()[family]}, family
    return real


async def test_the_simulator_exports_the_names_and_label_keys_of_a_real_server(judged: Judged) -> None:
    """Every catalogue family the real server and SDK exported here, the simulator writes under the
    same name with the same label keys (tally dialect), so the two cannot drift apart again."""
    live = judged.live
    names: dict[str, Source] = {}
    for spec in CATALOGUE:
        for term in terms_of(spec):
            if term.source in (Source.SERVER, Source.SDK):
                name = term.name.for_dialect(Dialect.TALLY)
                names[name] = term.source
    simulated = _simulated_label_keys()
    checked: list[str] = []
    differ: dict[str, object] = {}
    async with httpx.AsyncClient(base_url=live.prometheus_url, timeout=30) as http:
        for name, source in sorted(names.items()):
            ours = 'namespace="default",task_queue="main-queue"' if source is Source.SDK else 'namespace="default"'
            match = f'{name}{{cluster="{live.cluster}",{ours}}}'
            series = (await http.get("/api/v1/series", params={"match[]": match})).json()["data"]
            if not series:
                unscoped = await http.get("/api/v1/series", params={"match[]": f'{name}{{cluster="{live.cluster}"}}'})
                series = unscoped.json()["data"]
            if not series:
                continue  # never happened on the real server in these phases (e.g. workflow_terminate)
            checked.append(name)
            if simulated.get(name) != label_keys(series):
                differ[name] = {
                    "real": sorted(sorted(keys) for keys in label_keys(series)),
                    "simulated": sorted(sorted(keys) for keys in simulated.get(name, set())),
                }
    assert not differ, f"the simulator must write what the real server exports, under the same label keys: {differ}"
    # the comparison above is not vacuous: these are what the real run must have exported
    assert {
        "service_requests",
        "workflow_success",
        "poll_success",
        "poll_success_sync",
        "task_schedule_to_start_latency_bucket",
        "approximate_backlog_count",
        "activity_success",
        "activity_task_fail",
        "temporal_worker_task_slots_used",
        "service_latency_bucket",
        "lock_latency_bucket",
    } <= set(checked)


def simulated_series(**placement: Any) -> dict[str, list[dict[str, str]]]:
    """The labels (``cluster`` aside) of each series the simulator writes in the tally dialect for two
    minutes of ``failing-400wps`` in namespace ``default``, with ``placement``'s fields."""
    out = io.StringIO()
    start = datetime(2026, 1, 1, tzinfo=UTC)
    plan = [Placement("failing-400wps", "default", start, timedelta(minutes=2), cluster="sim", **placement)]
    write_openmetrics(out, plan, dialect=Dialect.TALLY)
    found: dict[str, list[dict[str, str]]] = {}
    for line in out.getvalue().splitlines():
        parsed = re.match(r"([a-zA-Z_:][a-zA-Z0-9_:]*)\{(.*)\} ", line)
        if parsed is None:
            continue
        labels = dict(re.findall(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"', parsed.group(2)))
        found.setdefault(parsed.group(1), []).append({k: v for k, v in labels.items() if k != "cluster"})
    return found


def _simulated_label_keys() -> dict[str, set[frozenset[str]]]:
    return {name: {frozenset(labels) for labels in series} for name, series in simulated_series().items()}


async def test_a_workflow_bug_is_named_by_its_failed_workflow_tasks(judged: Judged, api: httpx.AsyncClient) -> None:
    """A third of ``workflow-bug``'s workflows raise in workflow code: the real server counts the first
    failure in ``failed_workflow_tasks`` (cause WorkflowWorkerUnhandledFailure) and each retry after that
    as a workflow task timeout, and their workflows neither complete nor fail. The comparison with
    ``steady`` must name both, and the cause, not only the completions that fell."""
    live = judged.live
    phase = live.phase("workflow-bug")
    profile = await created_profile(api, live.profile_body(phase))
    metrics = profile["telemetry"]["metrics"]
    selector = f'cluster="{live.cluster}",namespace="default"'
    for key, promql in (
        ("workflow_task_failures_per_sec", f"sum(rate(failed_workflow_tasks{{{selector}}}[1m]))"),
        (
            "workflow_task_timeouts_per_sec",
            f'sum(rate(start_to_close_timeout{{{selector},operation="TimerActiveTaskWorkflowTaskTimeout"}}[1m]))',
        ),
    ):
        assert metrics[key]["status"] == "ok" and metrics[key]["mean"] > 0.1, metrics[key]
        assert metrics[key]["mean"] == pytest.approx(await direct_mean(live, promql, profile), rel=0.15), key
        # healthy: none (the family reports, so absent reads 0)
        healthy = judged.steady["telemetry"]["metrics"][key]
        assert healthy["status"] == "ok" and healthy["mean"] == 0, healthy
    top = metrics["workflow_task_failures_per_sec"]["contributors"]["top"]
    assert top[0]["labels"] == {"namespace": "default", "failure": "WorkflowWorkerUnhandledFailure"}, top

    result = await compared(api, judged.steady, profile)
    diffs = {d["metric"]: d for d in result["telemetry_diffs"]}
    for key in ("workflow_task_failures_per_sec", "workflow_task_timeouts_per_sec"):
        assert diffs[key]["direction"] == "regressed" and diffs[key]["severity"] == "critical", diffs[key]
        assert diffs[key]["counts_toward_verdict"], diffs[key]
    assert result["verdict"] == "fail", result["summary"]
    # the sentence starts with the failed tasks (key metrics from none come first), and says the cause
    assert result["summary"].startswith("Fail: ") and "workflow_task_failures_per_sec" in result["summary"]
    placed = {a["metric"]: a["statement"] for a in result["attributions"]}
    assert "failed with WorkflowWorkerUnhandledFailure in namespace default" in placed["workflow_task_failures_per_sec"]


async def test_a_window_no_worker_polled_says_so(judged: Judged, api: httpx.AsyncClient) -> None:
    """``no-worker`` starts steady's workflows with no worker polling: nothing is taken, tasks pile up.
    The comparison with ``steady`` fails on completions, and what has no data says why (no task taken while
    tasks waited; the queue's workers reported before the window but not in it), not "not scraped?"."""
    live = judged.live
    phase = live.phase("no-worker")
    assert any("no worker polled" in note for note in phase.report.notes), phase.report.notes
    # From 35 s in: the first point of a window under two rate windows (60 s) long looks back before the
    # window's start (docs/metrics.md, plan_window), which would read the last tasks the previous phase's
    # worker took a moment before it stopped. 35 s into a 95 s phase, it starts 5 s after the phase does.
    start = phase.start + timedelta(seconds=35)
    profile = await created_profile(api, live.profile_body(phase, time_window_start=start.isoformat()))
    metrics = profile["telemetry"]["metrics"]
    assert metrics["backlog_count"]["status"] == "ok" and metrics["backlog_count"]["max"] > 0, metrics["backlog_count"]
    for key in ("workflow_schedule_to_start_p95", "activity_schedule_to_start_p95", "sync_match_rate"):
        assert metrics[key]["status"] == "no_data", metrics[key]
        assert "No task was taken in the window while up to" in metrics[key]["reason"], metrics[key]
    sdk_notes = [note for note in profile["telemetry"]["notes"] if note.startswith("SDK workers")]
    assert sdk_notes, profile["telemetry"]["notes"]
    for note in sdk_notes:  # earlier phases' workers named the queue: never "report main-queue but not main-queue"
        assert "around this window but not in it" in note and "no worker of it reported in the window" in note, note

    result = await compared(api, judged.steady, profile)
    assert result["verdict"] == "fail", result["summary"]
    diffs = {d["metric"]: d for d in result["telemetry_diffs"]}
    assert diffs["completion_ratio"]["direction"] == "regressed", diffs["completion_ratio"]
    assert "no worker polled this scope" in diffs["workflow_schedule_to_start_p95"]["reason"]


async def test_activities_that_hang_past_their_timeout_are_named_as_timeouts(
    judged: Judged, api: httpx.AsyncClient
) -> None:
    """A fifth of ``hung-activities``' attempts hang past their 10 s start-to-close timeout (a downstream that
    stops answering): the real server counts each in ``activity_task_timeout`` with ``timeout_type``
    StartToClose, and retries it. The comparison with ``steady`` fails on the failed-or-timed-out share,
    and says they are timeouts, of which activity, not failures; the advice does not raise the activity
    slots the hung attempts hold."""
    live = judged.live
    phase = live.phase("hung-activities")
    assert phase.report.activity_hangs > 10, phase.report.lines()
    profile = await created_profile(api, live.profile_body(phase))
    metrics = profile["telemetry"]["metrics"]
    selector = f'cluster="{live.cluster}",namespace="default",taskqueue="main_queue"'
    failures = metrics["activity_failures_per_sec"]
    assert failures["status"] == "ok" and failures["mean"] > 0.3, failures
    promql = f'sum(rate({{__name__=~"activity_task_timeout|activity_task_fail",{selector}}}[1m]))'
    assert failures["mean"] == pytest.approx(await direct_mean(live, promql, profile), rel=0.15)
    top = failures["contributors"]["top"]
    assert top[0]["labels"] == {
        "namespace": "default",
        "taskqueue": "main_queue",
        "activityType": "work",
        "operation": "TimerActiveTaskActivityTimeout",
        "timeout_type": "StartToClose",
    }, top
    assert top[0]["share"] > 0.95, top  # the workload fails none of them: every one is a timeout
    # history's execution latency holds only the answered attempts: it says so where attempts hung
    answered = metrics["activity_execution_latency_p95"]
    assert answered["status"] == "ok" and answered["reason"].startswith("Answered attempts only: "), answered
    assert "(StartToClose; see activity_failures_per_sec)" in answered["reason"]
    assert judged.steady["telemetry"]["metrics"]["activity_execution_latency_p95"]["reason"] is None

    result = await compared(api, judged.steady, profile)
    assert result["verdict"] == "fail", result["summary"]
    diffs = {d["metric"]: d for d in result["telemetry_diffs"]}
    for key in ("activity_failure_rate", "activity_failures_per_sec"):
        assert diffs[key]["direction"] == "regressed" and diffs[key]["severity"] == "critical", diffs[key]
    placed = {a["metric"]: a["statement"] for a in result["attributions"]}
    statement = placed["activity_failures_per_sec"]
    assert "StartToClose timeouts of activity work in task queue main_queue in namespace default" in statement

    # the activity slots are busy holding hung attempts: more of them is not the advice, and it says why
    advice = (await api.post(f"/profiles/{profile['id']}/recommendation")).json()
    assert "MaxConcurrentActivityExecutionSize" not in {o["key"] for o in advice["overrides"]}, advice["summary"]
    (held,) = [n for n in advice["notes"] if n.startswith("MaxConcurrentActivityExecutionSize is not suggested")]
    assert "of activity attempts hung past their timeout" in held
    assert "StartToClose timeouts of activity work in task queue main_queue in namespace default" in held


async def test_histograms_read_bucket_by_bucket_give_every_bucket_s_numbers(judged: Judged) -> None:
    """Over the whole run of every phase (steady latencies, the incident's climb, the timeouts, the window
    nobody polled), the collector reading only the buckets each percentile needs gives, metric for metric
    and contributor for contributor, what reading every bucket gives: for the task queue and the cluster.
    (Told to: by default it does so only for windows of hours, where it pays.)"""
    live = judged.live
    settings = live.settings()
    start, end = live.phases[0].start, live.phases[-1].end
    quantiles = [spec.key for spec in CATALOGUE if isinstance(spec.computation, Quantile)]
    async with httpx.AsyncClient() as http:
        client = PrometheusClient(http, live.prometheus_url)
        scrape, label = settings.prometheus_scrape_interval_seconds, settings.prometheus_cluster_label
        narrowed, whole = (
            TelemetryCollector(
                client, scrape_interval_s=scrape, cluster_label=label, use_recorded=False, narrow_buckets=n
            )
            for n in (True, False)
        )
        plan = plan_window(start, end, settings.prometheus_scrape_interval_seconds)
        assert len(plan.grid()) >= NARROW_MIN_POINTS  # long enough to be read bucket by bucket
        for scope in (Scope(live.cluster, live.namespace, live.task_queue), Scope(live.cluster, None, None)):
            mine, theirs = await narrowed.collect(scope, start, end), await whole.collect(scope, start, end)
            with_data = [key for key in quantiles if theirs.metrics[key].status is MetricStatus.OK]
            assert len(with_data) >= 8, (scope, with_data)
            for key in quantiles:
                assert mine.metrics[key] == theirs.metrics[key], (scope, key)
