"""Where a regression lives, on a real Prometheus: top contributors kept at creation, named by a comparison.

A second Prometheus holds cluster ``where`` in the tally dialect (the server's default, which exports
task queue ``main-queue`` as ``main_queue``): ``healthy-150wps``, then ``update-execution-slow-x3`` (the
same with persistence operation UpdateWorkflowExecution alone three times slower), 20 minutes each. The
comparison must place the persistence latency regression in that operation. Cluster ``where-queues`` on the
same Prometheus runs ``healthy-150wps-three-queues`` (namespace ``default``'s work over ``main-queue``,
``orders-queue`` and ``billing-queue``), then ``orders-queue-slow-x4`` (tasks on ``orders-queue`` alone wait
four times longer): a namespace-wide comparison, and drift of the slow window from the healthy one as the
baseline, must place the schedule-to-start regression in that task queue. Cluster ``where-namespaces``
runs ``healthy-150wps`` in namespace ``default`` beside ``failing-400wps`` at a quarter of its load in
``payments``: a cluster-wide profile must place the starts not closed in ``payments``. The main stack's
demo hours (namespaces ``default`` at load 1.0 and ``payments`` at 0.4) split a cluster-wide profile by
namespace.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from behaviour_profiles.attribution import MAX_CONTRIBUTORS
from behaviour_profiles.catalogue import CATALOGUE, Dialect
from copilot.dev.simulator import SLOW_QUEUE_SCENARIO, Placement
from tests.integration.conftest import Stack, simulated_prometheus
from tests.integration.test_profiles_api import create
from tests.support import compared, serve

pytestmark = pytest.mark.stack

CLUSTER = "where"
SLOW = "UpdateWorkflowExecution"
STEP = timedelta(minutes=20)
QUEUES = "where-queues"
SLOW_QUEUE = {"namespace": "default", "taskqueue": "orders_queue"}
"""orders-queue as the server's tally reporter exports it"""
NAMESPACES = "where-namespaces"
OTHER_QUEUES = (
    {"namespace": "default", "taskqueue": "main_queue"},
    {"namespace": "default", "taskqueue": "billing_queue"},
)


def plan(now: datetime) -> list[Placement]:
    end = now.replace(minute=0, second=0, microsecond=0) - timedelta(hours=1)
    healthy_start = end - 2 * STEP - timedelta(minutes=10)
    return [
        Placement("healthy-150wps", "default", healthy_start, STEP, cluster=CLUSTER),
        Placement("update-execution-slow-x3", "default", end - STEP, STEP, cluster=CLUSTER),
        Placement("healthy-150wps-three-queues", "default", healthy_start, STEP, cluster=QUEUES),
        Placement(SLOW_QUEUE_SCENARIO, "default", end - STEP, STEP, cluster=QUEUES),
        Placement("healthy-150wps", "default", healthy_start, STEP, cluster=NAMESPACES),
        Placement("failing-400wps", "payments", healthy_start, STEP, cluster=NAMESPACES, load_factor=0.25),
    ]


async def _profile(
    http: httpx.AsyncClient, p: Placement, task_queue: str | None, *, cluster_wide: bool = False
) -> dict[str, Any]:
    meta = await create(
        http,
        {
            "name": f"{p.cluster} {p.scenario}",
            "cluster_id": p.cluster,
            "namespace": None if cluster_wide else p.namespace,
            "task_queue": task_queue,
            "time_window_start": p.start.isoformat(),
            "time_window_end": (p.start + p.duration).isoformat(),
        },
    )
    profile: dict[str, Any] = (await http.get(f"/profiles/{meta['id']}")).json()
    return profile


@dataclass
class Placed:
    http: httpx.AsyncClient
    healthy: dict[str, Any]
    slow: dict[str, Any]
    comparison: dict[str, Any]


@pytest.fixture(scope="module")
def where_prometheus(stack: Stack, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, list[Placement]]]:
    placements = plan(datetime.now(UTC))
    with simulated_prometheus(tmp_path_factory.mktemp("where"), placements, dialect=Dialect.TALLY) as url:
        yield url, placements


@pytest.fixture(scope="module")
async def placed(stack: Stack, where_prometheus: tuple[str, list[Placement]]) -> AsyncIterator[Placed]:
    url, placements = where_prometheus
    async with serve(stack.settings(prometheus_endpoint=url)) as http:
        healthy, slow = [await _profile(http, p, p.task_queue) for p in placements if p.cluster == CLUSTER]
        yield Placed(http, healthy, slow, await compared(http, healthy, slow))


@pytest.fixture(scope="module")
async def queued(stack: Stack, where_prometheus: tuple[str, list[Placement]]) -> AsyncIterator[Placed]:
    """Namespace-wide profiles (no task queue) of the three-queue hours, and their comparison."""
    url, placements = where_prometheus
    async with serve(stack.settings(prometheus_endpoint=url)) as http:
        healthy, slow = [await _profile(http, p, None) for p in placements if p.cluster == QUEUES]
        yield Placed(http, healthy, slow, await compared(http, healthy, slow))


@pytest.fixture(scope="module")
async def spread(stack: Stack, where_prometheus: tuple[str, list[Placement]]) -> AsyncIterator[dict[str, Any]]:
    """A cluster-wide profile of the hour one namespace is healthy and the other fails in."""
    url, placements = where_prometheus
    first = next(p for p in placements if p.cluster == NAMESPACES)
    async with serve(stack.settings(prometheus_endpoint=url)) as http:
        yield await _profile(http, first, None, cluster_wide=True)


def _contributors(profile: dict[str, Any], key: str) -> dict[str, Any]:
    kept: dict[str, Any] | None = profile["telemetry"]["metrics"][key].get("contributors")
    assert kept is not None, f"{key} kept no contributors"
    return kept


def test_every_key_metric_with_data_keeps_a_handful_of_contributors(placed: Placed) -> None:
    metrics = placed.slow["telemetry"]["metrics"]
    for spec in CATALOGUE:
        if not spec.key_metric or spec.key in ("completion_ratio",) or metrics[spec.key]["status"] != "ok":
            continue
        if "read as zero" in (metrics[spec.key].get("reason") or ""):
            continue  # a counter that never moved has no series to split
        kept = _contributors(placed.slow, spec.key)
        assert 1 <= len(kept["top"]) <= MAX_CONTRIBUTORS
        assert sum(c["share"] for c in kept["top"]) + kept["rest_share"] == pytest.approx(1.0, abs=1e-6) or all(
            c["share"] == 0 for c in kept["top"]
        )


def test_the_slow_operation_carries_the_slow_tail_at_creation(placed: Placed) -> None:
    for key in ("persistence_latency_p95", "persistence_latency_p99"):
        healthy, slow = _contributors(placed.healthy, key), _contributors(placed.slow, key)
        assert slow["by"] == ["operation", "service_name"] and slow["share_of"] == "slow_tail"
        lead = slow["top"][0]
        assert lead["labels"] == {"operation": SLOW, "service_name": "history"}
        assert lead["share"] > 0.9
        before = next(c for c in healthy["top"] if c["labels"]["operation"] == SLOW)
        assert lead["share"] > before["share"] + 0.05
        assert lead["value"] == pytest.approx(3 * before["value"], rel=0.25)
        # the other operations are as fast as before
        for other in slow["top"][1:]:
            was = next(c for c in healthy["top"] if c["labels"] == other["labels"])
            assert other["value"] == pytest.approx(was["value"], rel=0.15)


def test_the_comparison_places_the_regression_in_that_operation(placed: Placed) -> None:
    comparison = placed.comparison
    regressed = {d["metric"] for d in comparison["telemetry_diffs"] if d["direction"] == "regressed"}
    assert "persistence_latency_p99" in regressed
    by_metric = {a["metric"]: a for a in comparison["attributions"]}
    assert set(by_metric) <= regressed
    found = by_metric["persistence_latency_p99"]
    lead = found["contributors"][0]
    assert lead["labels"] == {"operation": SLOW, "service_name": "history"}
    assert lead["share_change_points"] > 5 and lead["value_change_pct"] > 100
    assert f"of it from operation {SLOW} on history" in found["statement"]
    assert found["statement"].startswith("Persistence latency p99 +")


def test_task_queues_are_named_as_the_server_exported_them(placed: Placed) -> None:
    # the profile was asked for main-queue; tally exports main_queue, and contributors say so
    for key in ("activity_schedule_to_start_p99", "workflows_completed_per_sec", "sync_match_rate"):
        (only,) = _contributors(placed.slow, key)["top"]
        assert only["labels"] == {"namespace": "default", "taskqueue": "main_queue"}
    slots = _contributors(placed.slow, "worker_task_slot_utilization")  # the SDK exports names verbatim
    assert [c["labels"] for c in slots["top"]] == [{"task_queue": "main-queue"}]


async def test_a_cluster_wide_profile_is_split_by_namespace(stack: Stack, client: httpx.AsyncClient) -> None:
    healthy = next(p for p in stack.placements if p.scenario == "healthy-150wps")
    meta = await create(
        client,
        {
            "name": "cluster-wide healthy hour",
            "cluster_id": healthy.cluster,
            "time_window_start": healthy.start.isoformat(),
            "time_window_end": (healthy.start + healthy.duration).isoformat(),
        },
    )
    profile = (await client.get(f"/profiles/{meta['id']}")).json()
    kept = _contributors(profile, "state_transitions_per_sec")
    shares = {c["labels"]["namespace"]: c["share"] for c in kept["top"]}
    # default runs at load 1.0, payments at 0.4
    assert shares == pytest.approx({"default": 1 / 1.4, "payments": 0.4 / 1.4}, abs=0.03)


# --- a regression in one task queue ------------------------------------------------------------

_SCHEDULE_TO_START = (
    "workflow_schedule_to_start_p95",
    "workflow_schedule_to_start_p99",
    "activity_schedule_to_start_p95",
    "activity_schedule_to_start_p99",
)


def test_a_namespace_wide_profile_keeps_every_task_queue_at_its_share(queued: Placed) -> None:
    shares = {"main_queue": 0.5, "orders_queue": 0.3, "billing_queue": 0.2}
    kept = _contributors(queued.healthy, "workflows_completed_per_sec")
    assert kept["by"] == ["namespace", "taskqueue"] and kept["series"] == 3
    assert {c["labels"]["taskqueue"]: c["share"] for c in kept["top"]} == pytest.approx(shares, abs=0.03)
    # healthy: every queue waits alike, so each carries the slow tail at its share of the tasks
    for key in _SCHEDULE_TO_START:
        tail = _contributors(queued.healthy, key)
        assert {c["labels"]["taskqueue"]: c["share"] for c in tail["top"]} == pytest.approx(shares, abs=0.1), key


def test_the_oldest_backlog_is_placed_in_the_task_queue_that_waits(queued: Placed) -> None:
    slow = _contributors(queued.slow, "backlog_age")
    assert slow["by"] == ["namespace", "taskqueue"] and slow["share_of"] == "largest"
    lead = slow["top"][0]
    assert lead["labels"] == SLOW_QUEUE and lead["share"] > 0.9
    # healthy: every queue's backlog is as young, so none holds the oldest throughout
    healthy = _contributors(queued.healthy, "backlog_age")
    assert len(healthy["top"]) == 3 and max(c["share"] for c in healthy["top"]) < 0.9


def test_the_comparison_places_the_schedule_to_start_regression_in_that_task_queue(queued: Placed) -> None:
    comparison = queued.comparison
    regressed = {d["metric"] for d in comparison["telemetry_diffs"] if d["direction"] == "regressed"}
    assert set(_SCHEDULE_TO_START) <= regressed
    # throughput did not move: the work is where it was, only one queue waits longer
    assert "workflows_completed_per_sec" not in regressed
    by_metric = {a["metric"]: a for a in comparison["attributions"]}
    for key in _SCHEDULE_TO_START:
        found = by_metric[key]
        assert found["by"] == ["namespace", "taskqueue"] and found["share_of"] == "slow_tail"
        lead, *others = found["contributors"]
        assert lead["labels"] == SLOW_QUEUE, key
        assert lead["share_change_points"] > 20 and lead["new_share"] > 0.6, key
        assert lead["value_change_pct"] > 100, key
        assert "of it from task queue orders_queue in namespace default" in found["statement"], key
        # the other queues lost share and kept their own wait
        assert sorted((c["labels"] for c in others), key=str) == sorted(OTHER_QUEUES, key=str)
        for other in others:
            assert other["share_change_points"] < 0, (key, other)
            assert abs(other["value_change_pct"]) < 25, (key, other)


async def test_drift_of_the_slow_window_from_the_healthy_baseline_names_that_task_queue(
    queued: Placed, where_prometheus: tuple[str, list[Placement]]
) -> None:
    _, placements = where_prometheus
    slow = next(p for p in placements if p.scenario == SLOW_QUEUE_SCENARIO)
    designated = await queued.http.post(f"/profiles/{queued.healthy['id']}/baseline")
    assert designated.status_code == 200, designated.text
    answer = await queued.http.post(
        "/profiles/drift",
        json={
            "cluster_id": QUEUES,
            "namespace": "default",
            "time_window_start": slow.start.isoformat(),
            "time_window_end": (slow.start + slow.duration).isoformat(),
        },
    )
    assert answer.status_code == 200, answer.text
    drift = answer.json()
    assert drift["status"] == "drifted" and drift["baseline"]["id"] == queued.healthy["id"]
    by_metric = {a["metric"]: a for a in drift["attributions"]}
    assert set(_SCHEDULE_TO_START) <= set(by_metric)
    for key in _SCHEDULE_TO_START:
        assert by_metric[key]["contributors"][0]["labels"] == SLOW_QUEUE, key
        assert "of it from task queue orders_queue in namespace default (was " in by_metric[key]["statement"]
    assert "Where it lives: " in drift["explanation"]
    assert "from task queue orders_queue in namespace default." in drift["explanation"]


# --- a namespace that does not close its starts --------------------------------------------------


def test_the_starts_not_closed_are_placed_in_the_namespace_that_fails(spread: dict[str, Any]) -> None:
    metrics = spread["telemetry"]["metrics"]
    # the whole cluster: 150 starts/s all closed in default, 100/s of which 60 % closed in payments
    assert metrics["completion_ratio"]["mean"] == pytest.approx((150 + 60) / 250, abs=0.03)
    kept = _contributors(spread, "completion_ratio")
    assert kept["by"] == ["namespace"] and kept["share_of"] == "worse_part"
    lead = kept["top"][0]
    assert lead["labels"] == {"namespace": "payments"} and lead["share"] > 0.9
    assert lead["value"] == pytest.approx(0.6, abs=0.03)
    healthy = next(c for c in kept["top"] if c["labels"] == {"namespace": "default"})
    assert healthy["value"] == pytest.approx(1.0, abs=0.03)
    # while the starts themselves mostly come from default
    starts = {c["labels"]["namespace"]: c["share"] for c in _contributors(spread, "workflows_started_per_sec")["top"]}
    assert starts == pytest.approx({"default": 0.6, "payments": 0.4}, abs=0.03)
