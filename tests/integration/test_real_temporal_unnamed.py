"""The product on a real Temporal server constrained as operators constrain one at scale.

``live_unnamed`` is a real dev server started with ``metrics.breakdownByTaskQueue=false`` (operators turn
it off to bound the ``taskqueue`` label's cardinality) and a namespace request rate limit
(``frontend.namespaceRPS``) that its one ``incident`` phase exceeds, with a real SDK worker. The server then
writes ``taskqueue="__omitted__"`` on its matching and history series and no backlog gauges (the SDK keeps
``main-queue``), and refuses some requests with ResourceExhausted, counted in
``service_errors_resource_exhausted`` and not in ``service_errors``. A real server is the judge: the
simulator must write the same.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from behaviour_profiles.breakdown import BREAKDOWN_SETTING, UNNAMED_TASK_QUEUE
from behaviour_profiles.catalogue import CATALOGUE, Dialect, Source, terms_of
from tests.integration.test_real_temporal import (
    NO_DSQL_HERE,
    assert_simulated_like_real,
    direct_mean,
    simulated_series,
)
from tests.live import LiveTemporal
from tests.support import created_profile, serve

pytestmark = pytest.mark.stack

ONLY_NAMED = frozenset({"backlog_count", "backlog_age"})


@pytest.fixture(scope="module")
async def unnamed_api(live_unnamed: LiveTemporal) -> AsyncIterator[httpx.AsyncClient]:
    async with serve(live_unnamed.settings()) as client:
        yield client


async def test_a_task_queue_profile_is_refused_saying_the_server_leaves_it_unnamed(
    live_unnamed: LiveTemporal, unnamed_api: httpx.AsyncClient
) -> None:
    answer = await unnamed_api.post("/profiles", json=live_unnamed.profile_body(live_unnamed.incident))
    assert answer.status_code == 422, answer.text
    detail = answer.json()["detail"]
    assert "the server does not name 'main-queue' in its metrics" in detail
    assert f'taskqueue="{UNNAMED_TASK_QUEUE}"' in detail and BREAKDOWN_SETTING in detail
    assert "SDK workers do report 'main-queue'" in detail and "Profile the namespace instead" in detail


async def test_a_namespace_profile_reads_everything_but_the_backlog_gauges_and_says_why(
    live_unnamed: LiveTemporal, unnamed_api: httpx.AsyncClient
) -> None:
    live = live_unnamed
    telemetry = (await created_profile(unnamed_api, live.profile_body(live.incident, task_queue=None)))["telemetry"]
    metrics = telemetry["metrics"]
    missing = {k for k, m in metrics.items() if m["status"] != "ok"}
    assert missing == NO_DSQL_HERE | ONLY_NAMED, {k: metrics[k]["reason"] for k in missing - NO_DSQL_HERE}
    for key in ONLY_NAMED:
        assert "only for the task queues it names" in metrics[key]["reason"], metrics[key]["reason"]
    (note,) = [n for n in telemetry["notes"] if n.startswith("Task queues:")]
    assert "does not name its task queues" in note and "backlog_count and backlog_age have no data" in note
    # the incident's slow activities are placed where the server put them, and said so in words
    top = metrics["activity_schedule_to_start_p95"]["contributors"]["top"]
    assert [c["labels"] for c in top] == [{"namespace": "default", "taskqueue": UNNAMED_TASK_QUEUE}]
    # the SDK still names its queue, so its slots are read (how busy varies: the rate limit refuses many of
    # the worker's polls, and a run read no slot busy at any of its points)
    assert metrics["worker_task_slot_utilization.activity"]["status"] == "ok"


async def test_where_the_server_names_its_queues_a_namespace_profile_has_no_such_note(
    live_temporal: LiveTemporal,
) -> None:
    async with serve(live_temporal.settings()) as api:
        telemetry = (await created_profile(api, live_temporal.profile_body(live_temporal.incident, task_queue=None)))[
            "telemetry"
        ]
    assert not [n for n in telemetry["notes"] if n.startswith("Task queues:")]
    assert telemetry["metrics"]["backlog_count"]["status"] == "ok"


async def test_the_simulator_leaves_task_queues_unnamed_as_the_real_server_does(live_unnamed: LiveTemporal) -> None:
    names = {
        term.name.for_dialect(Dialect.TALLY)
        for spec in CATALOGUE
        for term in terms_of(spec)
        if term.source is Source.SERVER
    }
    simulated = simulated_series(server_names_queue=False)
    real: dict[str, set[str]] = {}
    async with httpx.AsyncClient(base_url=live_unnamed.prometheus_url, timeout=30) as http:
        for name in sorted(names):
            match = f'{name}{{cluster="{live_unnamed.cluster}",namespace="default"}}'
            series = (await http.get("/api/v1/series", params={"match[]": match})).json()["data"]
            if series:
                real[name] = {s["taskqueue"] for s in series if "taskqueue" in s}
    with_queue = {name: values for name, values in real.items() if values}
    # matching and history families all carry the one unnamed value, on the real server and in the simulator
    assert {"poll_success", "task_schedule_to_start_latency_bucket", "activity_success"} <= with_queue.keys()
    for name, values in with_queue.items():
        assert values == {UNNAMED_TASK_QUEUE}, (name, values)
        assert {s["taskqueue"] for s in simulated[name]} == {UNNAMED_TASK_QUEUE}, name
    # and neither writes a backlog gauge
    for gauge in ("approximate_backlog_count", "approximate_backlog_age_seconds"):
        assert gauge not in real and gauge not in simulated


async def test_requests_the_rate_limit_refused_are_read_and_placed_by_the_limit_that_refused_them(
    live_unnamed: LiveTemporal,
) -> None:
    live = live_unnamed
    # raw series, to agree with the same PromQL run directly (the recorded ones lag by up to one rule interval)
    async with serve(live.settings(prometheus_recording_rules=False)) as api:
        profile = await created_profile(api, live.profile_body(live.incident, task_queue=None))
    throttled = profile["telemetry"]["metrics"]["throttled_requests_per_sec"]
    assert throttled["status"] == "ok" and throttled["mean"] > 0.1, throttled
    promql = f'sum(rate(service_errors_resource_exhausted{{cluster="{live.cluster}",namespace="default"}}[1m]))'
    assert throttled["mean"] == pytest.approx(await direct_mean(live, promql, profile), rel=0.15)
    # the contributors name the limit and what it refused: the worker's polls
    top = throttled["contributors"]["top"]
    assert top and {c["labels"]["resource_exhausted_cause"] for c in top} == {"RpsLimit"}, top
    assert top[0]["labels"]["operation"].startswith("Poll"), top
    # the simulator writes the family under the real server's label keys
    real = await assert_simulated_like_real(live, "service_errors_resource_exhausted")
    assert {s["resource_exhausted_cause"] for s in real} == {"RpsLimit"}
