"""The server's default (tally) naming dialect on a real Prometheus: detected, and read in the same units."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import httpx
import pytest

from behaviour_profiles.catalogue import Dialect
from tests.integration.conftest import Stack, simulated_prometheus
from tests.integration.test_profiles_api import body, create
from tests.support import serve

pytestmark = pytest.mark.stack


@pytest.fixture(scope="module")
def tally_prometheus(stack: Stack, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with simulated_prometheus(
        tmp_path_factory.mktemp("tally"), [stack.window("healthy-150wps")], dialect=Dialect.TALLY
    ) as url:
        yield url


@pytest.fixture
async def tally_client(stack: Stack, tally_prometheus: str) -> AsyncIterator[httpx.AsyncClient]:
    async with serve(stack.settings(prometheus_endpoint=tally_prometheus)) as http:
        yield http


async def test_tally_dialect_is_detected_and_reported_in_the_same_units(
    stack: Stack, client: httpx.AsyncClient, tally_client: httpx.AsyncClient
) -> None:
    otel = await create(client, body(stack, "healthy-150wps"))
    tally = await create(tally_client, body(stack, "healthy-150wps"))
    a = (await client.get(f"/profiles/{otel['id']}")).json()["telemetry"]
    b = (await client.get(f"/profiles/{tally['id']}")).json()["telemetry"]
    assert (a["dialect"], b["dialect"]) == ("opentelemetry", "tally")
    assert (b["coverage"]["with_data"], b["coverage"]["asked"]) == (a["coverage"]["with_data"], a["coverage"]["asked"])
    # each source matched the task queue as it exports it: tally rewrites the server's, SDKs never do
    exported = {(m["source"], m["dimension"]): m["exported_as"] for m in b["coverage"]["scope"]}
    assert exported[("server", "task_queue")] == "main_queue" and exported[("sdk", "task_queue")] == "main-queue"
    assert all(m["without_data"] == [] for m in b["coverage"]["scope"])
    assert b["coverage"]["scope"] == [
        {**m, "exported_as": "main_queue" if m["label"] == "taskqueue" else m["exported_as"]}
        for m in a["coverage"]["scope"]
    ]
    for key in ("workflows_started_per_sec", "state_transitions_per_sec", "sync_match_rate", "occ_conflicts_per_sec"):
        assert b["metrics"][key]["mean"] == pytest.approx(a["metrics"][key]["mean"], rel=1e-6), key
    # tally timers are seconds; the profile reports milliseconds either way
    for key in ("persistence_latency_p99", "workflow_schedule_to_start_p95", "task_dispatch_latency"):
        assert b["metrics"][key]["unit"] == "ms"
        assert b["metrics"][key]["mean"] == pytest.approx(a["metrics"][key]["mean"], rel=1e-3), key


async def test_the_names_a_user_types_reach_every_scoped_metric_in_tally(
    stack: Stack, tally_client: httpx.AsyncClient
) -> None:
    # the simulator writes the server's series as a real tally server does: taskqueue="main_queue"
    meta = await create(tally_client, body(stack, "healthy-150wps", task_queue="main-queue"))
    full = (await tally_client.get(f"/profiles/{meta['id']}")).json()
    scope = {(m["dimension"], m["source"]): m for m in full["telemetry"]["coverage"]["scope"]}
    assert scope[("task_queue", "server")]["exported_as"] == "main_queue"
    assert scope[("task_queue", "server")]["without_data"] == []
    assert "sync_match_rate" in scope[("task_queue", "server")]["with_data"]
    assert scope[("task_queue", "sdk")]["with_data"] == [
        "worker_task_slot_utilization",
        "worker_task_slot_utilization.workflow",
        "worker_task_slot_utilization.activity",
        "worker_task_slot_utilization.local_activity",
    ]
    assert full["telemetry"]["metrics"]["backlog_count"]["status"] == "ok"
    assert full["temporal_server_version"] == "1.27.2"  # build_version="1_27_2" read back with dots


async def test_a_misspelt_task_queue_is_refused_naming_what_each_source_knows(
    stack: Stack, tally_client: httpx.AsyncClient
) -> None:
    answer = await tally_client.post("/profiles", json=body(stack, "healthy-150wps", task_queue="main-qeue"))
    assert answer.status_code == 422, answer.text
    detail = answer.json()["detail"]
    assert "Task queue 'main-qeue' matches no series of the server, SDK workers" in detail
    assert "the server knows task queues main_queue" in detail and "SDK workers know task queues main-queue" in detail
    assert "nothing was stored" in detail
