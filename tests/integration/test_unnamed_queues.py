"""A server that leaves task queues unnamed (``metrics.breakdownByTaskQueue`` false), simulated as a real
1.32 server exports it (``tests/integration/test_real_temporal_unnamed.py`` holds the simulator to one):
``taskqueue="__omitted__"`` on its matching and history series and no backlog gauges; SDK series keep
the name. A profile of one task queue is refused with what to do; a profile of the namespace is made,
saying which metrics the setting leaves without data and why."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from dataclasses import replace

import httpx
import pytest

from behaviour_profiles.breakdown import BREAKDOWN_SETTING, UNNAMED_TASK_QUEUE
from behaviour_profiles.catalogue import Dialect
from tests.integration.conftest import Stack, simulated_prometheus
from tests.integration.test_profiles_api import body, create
from tests.support import serve

pytestmark = pytest.mark.stack


@pytest.fixture(scope="module")
def unnamed_prometheus(stack: Stack, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    window = replace(stack.window("failing-400wps"), server_names_queue=False)
    with simulated_prometheus(tmp_path_factory.mktemp("unnamed"), [window], dialect=Dialect.TALLY) as url:
        yield url


@pytest.fixture
async def unnamed(stack: Stack, unnamed_prometheus: str) -> AsyncIterator[httpx.AsyncClient]:
    async with serve(stack.settings(prometheus_endpoint=unnamed_prometheus)) as http:
        yield http


async def test_a_task_queue_the_server_leaves_unnamed_is_refused_saying_what_to_do(
    stack: Stack, unnamed: httpx.AsyncClient
) -> None:
    answer = await unnamed.post("/profiles", json=body(stack, "failing-400wps", label="unnamed-queue"))
    assert answer.status_code == 422, answer.text
    detail = answer.json()["detail"]
    assert "the server does not name 'main-queue' in its metrics" in detail
    assert f'taskqueue="{UNNAMED_TASK_QUEUE}"' in detail and BREAKDOWN_SETTING in detail
    assert "SDK workers do report 'main-queue'" in detail
    assert "Profile the namespace instead" in detail and "nothing was stored" in detail
    assert "type the name as your workers use it" not in detail  # the old advice, wrong here
    listed = await unnamed.get("/profiles", params={"label": "unnamed-queue"})
    assert listed.status_code == 200 and listed.json() == []


async def test_a_namespace_profile_says_which_metrics_the_setting_leaves_without_data(
    stack: Stack, unnamed: httpx.AsyncClient, client: httpx.AsyncClient
) -> None:
    meta = await create(unnamed, body(stack, "failing-400wps", task_queue=None, label="unnamed-namespace"))
    telemetry = (await unnamed.get(f"/profiles/{meta['id']}")).json()["telemetry"]
    metrics = telemetry["metrics"]
    for key in ("backlog_count", "backlog_age"):
        assert metrics[key]["status"] == "no_data"
        assert "only for the task queues it names" in metrics[key]["reason"]
        assert BREAKDOWN_SETTING in metrics[key]["reason"]
    (note,) = [n for n in telemetry["notes"] if n.startswith("Task queues:")]
    assert "does not name its task queues" in note and "backlog_count and backlog_age have no data" in note
    # the unnamed queues are one contributor, and the rest of the profile reads as usual
    top = metrics["activity_schedule_to_start_p95"]["contributors"]["top"]
    assert [c["labels"] for c in top] == [{"namespace": "default", "taskqueue": UNNAMED_TASK_QUEUE}]
    assert metrics["sync_match_rate"]["status"] == "ok" and metrics["worker_task_slot_utilization"]["status"] == "ok"

    # a bounded backlog without data still never passes, and says why
    result = (await unnamed.post(f"/profiles/{meta['id']}/conformance", json={"preset": "mid-scale"})).json()
    (backlog,) = [c for c in result["checks"] if c["metric"] == "backlog_age"]
    assert backlog["status"] == "no_data" and BREAKDOWN_SETTING in backlog["reason"]
    assert result["conforming"] is False

    # the same window where the server names its queues carries no such note
    named = await create(client, body(stack, "failing-400wps", task_queue=None, label="named-namespace"))
    named_telemetry = (await client.get(f"/profiles/{named['id']}")).json()["telemetry"]
    assert not [n for n in named_telemetry["notes"] if n.startswith("Task queues:")]
    assert named_telemetry["metrics"]["backlog_age"]["status"] == "ok"
