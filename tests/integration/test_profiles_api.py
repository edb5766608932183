"""The profile API end to end on real PostgreSQL, SeaweedFS and a simulator-backfilled Prometheus."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta
from typing import Any

import asyncpg
import httpx
import pytest
from fastapi import FastAPI

from tests.integration.conftest import Stack

pytestmark = pytest.mark.stack


def body(stack: Stack, scenario: str, namespace: str = "default", **extra: Any) -> dict[str, Any]:
    p = stack.window(scenario, namespace)
    return {
        "name": f"{scenario} {namespace}",
        "cluster_id": p.cluster,
        "namespace": namespace,
        "task_queue": p.task_queue,
        "time_window_start": p.start.isoformat(),
        "time_window_end": (p.start + p.duration).isoformat(),
        "label": extra.pop("label", f"test-{uuid.uuid4().hex[:10]}"),
        **extra,
    }


async def create(client: httpx.AsyncClient, payload: dict[str, Any]) -> dict[str, Any]:
    response = await client.post("/profiles", json=payload)
    assert response.status_code == 201, response.text
    data: dict[str, Any] = response.json()
    return data


async def test_create_get_and_list_a_profile(stack: Stack, client: httpx.AsyncClient) -> None:
    payload = body(stack, "healthy-150wps")
    meta = await create(client, payload)
    assert meta["name"] == payload["name"] and meta["is_baseline"] is False
    assert meta["coverage_with_data"] > 20
    assert meta["temporal_server_version"]  # read from build_information in the window

    full = (await client.get(f"/profiles/{meta['id']}")).json()
    metrics = full["telemetry"]["metrics"]
    assert full["telemetry"]["dialect"] == "opentelemetry"
    started = metrics["workflows_started_per_sec"]
    assert started["status"] == "ok"
    assert 120 < started["mean"] < 180  # the healthy scenario runs at 150 WPS
    for stat in ("min", "max", "mean", "p50", "p95", "p99"):
        assert started[stat] is not None
    assert started["sample_count"] > 100 and 100 < len(started["series"]) <= 400
    assert metrics["persistence_latency_p99"]["unit"] == "ms"
    assert metrics["persistence_latency_p99"]["mean"] > metrics["persistence_latency_p95"]["mean"] > 0
    # no CPU metric is exported by Temporal and this Prometheus has no platform CPU: never a 0, and not
    # four "no data" rows either, but one note saying where CPU would come from
    assert not any(key.startswith("cpu_utilization.") for key in metrics)
    assert any("no CPU metric" in note and "cAdvisor" in note for note in full["telemetry"]["notes"])
    assert any("no CPU metric" in note for note in meta["notes"])
    # healthy never exhausted a retry: the counter is absent, its family is present -> zero
    assert metrics["exhausted_retries_per_sec"]["status"] == "ok"
    assert metrics["exhausted_retries_per_sec"]["max"] == 0

    listed = (await client.get("/profiles", params={"label": payload["label"]})).json()
    assert [p["id"] for p in listed] == [meta["id"]]
    # both spellings of the collection path work
    assert (await client.get("/profiles/", params={"label": payload["label"]})).json() == listed


async def test_namespace_scoping_gives_different_profiles(stack: Stack, client: httpx.AsyncClient) -> None:
    default = await create(client, body(stack, "healthy-150wps", "default"))
    payments = await create(client, body(stack, "healthy-150wps", "payments"))
    a = (await client.get(f"/profiles/{default['id']}")).json()["telemetry"]["metrics"]
    b = (await client.get(f"/profiles/{payments['id']}")).json()["telemetry"]["metrics"]
    ratio = b["workflows_started_per_sec"]["mean"] / a["workflows_started_per_sec"]["mean"]
    assert 0.3 < ratio < 0.5  # payments runs at 0.4 of the load


async def test_list_filters_and_pagination(stack: Stack, client: httpx.AsyncClient) -> None:
    label = f"page-{uuid.uuid4().hex[:8]}"
    created = [await create(client, body(stack, "healthy-150wps", label=label)) for _ in range(3)]
    created.append(await create(client, body(stack, "failing-400wps", "payments", label=label)))
    newest_first = [c["id"] for c in reversed(created)]

    first = await client.get("/profiles", params={"label": label, "limit": 2})
    assert [p["id"] for p in first.json()] == newest_first[:2]
    assert 'rel="next"' in first.headers["link"]
    next_url = first.headers["link"].split(";")[0].strip("<>")
    second = await client.get(next_url)
    assert [p["id"] for p in second.json()] == newest_first[2:]
    assert "link" not in second.headers

    by_ns = (await client.get("/profiles", params={"label": label, "namespace": "payments"})).json()
    assert [p["id"] for p in by_ns] == [created[3]["id"]]
    by_queue = (await client.get("/profiles", params={"label": label, "task_queue": "main-queue"})).json()
    assert len(by_queue) == 4
    none = (await client.get("/profiles", params={"label": label, "cluster": "elsewhere"})).json()
    assert none == []
    failing = stack.window("failing-400wps")
    in_failing_window = (
        await client.get(
            "/profiles",
            params={
                "label": label,
                "start": failing.start.isoformat(),
                "end": (failing.start + timedelta(minutes=5)).isoformat(),
            },
        )
    ).json()
    assert [p["id"] for p in in_failing_window] == [created[3]["id"]]


async def test_baseline_switch_keeps_exactly_one(stack: Stack, client: httpx.AsyncClient) -> None:
    a = await create(client, body(stack, "healthy-150wps", "payments"))
    b = await create(client, body(stack, "failing-400wps", "payments"))
    r = await client.post(f"/profiles/{a['id']}/baseline")
    assert r.status_code == 200 and r.json()["is_baseline"] is True
    r = await client.post(f"/profiles/{b['id']}/baseline")
    assert r.json()["is_baseline"] is True
    assert (await client.get(f"/profiles/{a['id']}")).json()["is_baseline"] is False
    assert (await client.get(f"/profiles/{b['id']}")).json()["is_baseline"] is True
    listed = {p["id"]: p["is_baseline"] for p in (await client.get("/profiles", params={"limit": 500})).json()}
    assert listed[a["id"]] is False and listed[b["id"]] is True


async def test_twenty_concurrent_designations_leave_one_baseline(
    stack: Stack, client: httpx.AsyncClient, app: FastAPI
) -> None:
    label = f"conc-{uuid.uuid4().hex[:8]}"
    profiles = [await create(client, body(stack, "healthy-150wps", "payments", label=label)) for _ in range(4)]
    results = await asyncio.gather(*(client.post(f"/profiles/{profiles[i % 4]['id']}/baseline") for i in range(20)))
    assert all(r.status_code == 200 for r in results), [r.text for r in results if r.status_code != 200]
    # the concurrent upserts of one row really conflicted (SQLSTATE 40001) and were retried
    assert app.state.profile_services.store.conflicts_retried > 0
    conn = await asyncpg.connect(stack.env["COPILOT_DSQL_ENDPOINT"])
    try:
        count = await conn.fetchval(
            "SELECT count(*) FROM behaviour_profile_baselines WHERE cluster_id = $1 AND namespace_key = $2",
            "temporal-dev",
            "payments",
        )
    finally:
        await conn.close()
    assert count == 1
    marks = [p["is_baseline"] for p in (await client.get("/profiles", params={"label": label})).json()]
    assert marks.count(True) <= 1
    everywhere = [
        p
        for p in (await client.get("/profiles", params={"namespace": "payments", "limit": 500})).json()
        if p["is_baseline"]
    ]
    assert len(everywhere) == 1


async def test_compare_healthy_with_failing_finds_the_injected_regressions(
    stack: Stack, client: httpx.AsyncClient
) -> None:
    healthy = await create(client, body(stack, "healthy-150wps"))
    failing = await create(client, body(stack, "failing-400wps"))
    r = await client.post("/profiles/compare", json={"profile_a_id": healthy["id"], "profile_b_id": failing["id"]})
    assert r.status_code == 200, r.text
    result = r.json()
    assert set(result) >= {"profile_a_id", "profile_b_id", "config_diffs", "telemetry_diffs", "version_diffs"}
    by_metric = {d["metric"]: d for d in result["telemetry_diffs"]}
    for metric in (
        "persistence_latency_p99",
        "occ_conflicts_per_sec",
        "exhausted_retries_per_sec",
        "reservoir_size",
        "sync_match_rate",
        "backlog_count",
    ):
        assert by_metric[metric]["direction"] == "regressed", (metric, by_metric.get(metric))
    assert by_metric["sync_match_rate"]["new_value"] < by_metric["sync_match_rate"]["old_value"]
    assert by_metric["exhausted_retries_per_sec"]["change_pct"] is None  # from zero: absolute, not +100 %
    assert by_metric["workflows_started_per_sec"]["direction"] == "changed"  # offered load is neutral
    severities = [d["severity"] for d in result["telemetry_diffs"]]
    rank = {"critical": 0, "warning": 1, "info": 2}
    assert severities == sorted(severities, key=rank.__getitem__)
    assert result["verdict"] == "fail"
    counted = [d for d in result["telemetry_diffs"] if d["direction"] == "regressed" and d["counts_toward_verdict"]]
    top = [d["metric"] for d in sorted(counted, key=lambda d: not d["key_metric"])][:3]  # key metrics named first
    assert "dsql_auth_failures" not in result["summary"]  # a side counter, crowded out by key metrics
    assert all(metric in result["summary"] for metric in top), (top, result["summary"])

    reverse = (
        await client.post("/profiles/compare", json={"profile_a_id": failing["id"], "profile_b_id": healthy["id"]})
    ).json()
    assert {d["metric"]: d["direction"] for d in reverse["telemetry_diffs"]}["persistence_latency_p99"] == "improved"


async def test_compare_reports_config_and_version_diffs(stack: Stack, client: httpx.AsyncClient) -> None:
    a = await create(
        client,
        body(
            stack,
            "healthy-150wps",
            temporal_server_version="1.27.2",
            config={
                "environment": {"TEMPORAL_SQL_MAX_CONNS": "50", "DB_PASSWORD": "hunter2-secret"},
                "dynamic_config": "history.persistenceMaxQPS:\n  - value: 3000\n",
            },
        ),
    )
    b = await create(
        client,
        body(
            stack,
            "failing-400wps",
            temporal_server_version="1.28.0",
            config={
                "environment": {"TEMPORAL_SQL_MAX_CONNS": "20", "DB_PASSWORD": "another-secret"},
                "dynamic_config": {"history.persistenceMaxQPS": [{"value": 1500}]},
            },
        ),
    )
    full_a = (await client.get(f"/profiles/{a['id']}")).text
    assert "hunter2" not in full_a
    result = (await client.post("/profiles/compare", json={"profile_a_id": a["id"], "profile_b_id": b["id"]})).json()
    keys = {d["key"]: d for d in result["config_diffs"]}
    sql = next(d for k, d in keys.items() if k.endswith("TEMPORAL_SQL_MAX_CONNS") and d["part"] == "environment")
    assert (sql["old_value"], sql["new_value"]) == ("50", "20")
    qps = next(d for k, d in keys.items() if "history.persistenceMaxQPS" in k)
    assert qps["change"] == "changed"
    secret = next(d for k, d in keys.items() if k.endswith("DB_PASSWORD"))
    assert secret["change"] == "changed" and "secret" not in str(secret)
    versions = {d["component"]: d for d in result["version_diffs"]}
    assert versions["temporal_server_version"]["old_version"] == "1.27.2"
    assert versions["temporal_server_version"]["new_version"] == "1.28.0"


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"time_window_end_hours": 25}, "24 hours"),
        ({"time_window_end_hours": -1}, "after time_window_start"),
        ({"time_window_start": "yesterday"}, "time_window_start"),
        ({"time_window_start": "2026-02-18T10:00:00"}, "time zone"),
        ({"cluster_id": "bad cluster; drop"}, "cluster_id"),
        ({"name": ""}, "name"),
    ],
)
async def test_bad_create_requests_say_what_to_fix(
    stack: Stack, client: httpx.AsyncClient, change: dict[str, Any], expected: str
) -> None:
    payload = body(stack, "healthy-150wps")
    if "time_window_end_hours" in change:
        start = stack.window("healthy-150wps").start
        payload["time_window_end"] = (start + timedelta(hours=change.pop("time_window_end_hours"))).isoformat()
    payload.update(change)
    r = await client.post("/profiles", json=payload)
    assert r.status_code == 422, r.text
    problem = r.json()
    assert problem["status"] == 422 and expected in problem["detail"]
    assert r.headers["content-type"].startswith("application/problem+json")


async def test_window_in_the_future_is_refused(stack: Stack, client: httpx.AsyncClient) -> None:
    payload = body(stack, "healthy-150wps")
    payload["time_window_start"] = (stack.now + timedelta(hours=1)).isoformat()
    payload["time_window_end"] = (stack.now + timedelta(hours=2)).isoformat()
    r = await client.post("/profiles", json=payload)
    assert r.status_code == 422 and "future" in r.json()["detail"]


async def test_empty_window_is_refused_and_nothing_is_stored(stack: Stack, client: httpx.AsyncClient) -> None:
    payload = body(stack, "healthy-150wps")
    start = stack.window("healthy-150wps").start - timedelta(hours=20)
    payload.update(time_window_start=start.isoformat(), time_window_end=(start + timedelta(hours=1)).isoformat())
    r = await client.post("/profiles", json=payload)
    assert r.status_code == 422 and "no samples" in r.json()["detail"]
    assert (await client.get("/profiles", params={"label": payload["label"]})).json() == []


async def test_a_mistyped_namespace_or_queue_is_refused(stack: Stack, client: httpx.AsyncClient) -> None:
    """Cluster-wide DSQL metrics have data in any namespace; a misspelt namespace must not pass for one."""
    for field, value in (("namespace", "defualt"), ("task_queue", "main-queu")):
        payload = body(stack, "healthy-150wps")
        payload[field] = value
        r = await client.post("/profiles", json=payload)
        assert r.status_code == 422, r.text
        assert value in r.json()["detail"] and "Check the name" in r.json()["detail"]
        assert (await client.get("/profiles", params={"label": payload["label"]})).json() == []


async def test_unknown_and_malformed_ids(client: httpx.AsyncClient) -> None:
    r = await client.get(f"/profiles/{uuid.uuid4()}")
    assert r.status_code == 404 and "No profile" in r.json()["detail"]
    for bad in ("not-a-uuid", "x" * 300, "3f2b8c1e-0d4a-4a57-9a43-1c9e2f7b6d1"):
        r = await client.get(f"/profiles/{bad}")
        assert r.status_code == 404 and "not a profile id" in r.json()["detail"], bad
    # a traversal that the URL layer resolves never matches a profile route
    r = await client.get("/profiles/..%2F..%2Fetc%2Fpasswd")
    assert r.status_code == 404
    r = await client.post("/profiles/nope/baseline")
    assert r.status_code == 404
    r = await client.post(f"/profiles/{uuid.uuid4()}/baseline")
    assert r.status_code == 404


async def test_comparing_a_profile_with_itself_is_refused(stack: Stack, client: httpx.AsyncClient) -> None:
    meta = await create(client, body(stack, "healthy-150wps"))
    r = await client.post("/profiles/compare", json={"profile_a_id": meta["id"], "profile_b_id": meta["id"]})
    assert r.status_code == 422 and "same profile" in r.json()["detail"]
    r = await client.post("/profiles/compare", json={"profile_a_id": meta["id"], "profile_b_id": str(uuid.uuid4())})
    assert r.status_code == 404


async def test_empty_store_lists_nothing(client: httpx.AsyncClient) -> None:
    r = await client.get("/profiles/", params={"cluster": f"nobody-{uuid.uuid4().hex[:6]}"})
    assert r.status_code == 200 and r.json() == []
