"""Many requests at once on one cluster and namespace: creates land exactly once, one baseline remains.

The profiles go to a cluster id of this test alone (the app runs without ``PROMETHEUS_CLUSTER_LABEL``,
so the cluster id scopes the index and the baselines but not the PromQL), under an S3 prefix of its own.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from tests.integration.conftest import Stack
from tests.integration.test_faults_more import consistent
from tests.support import serving

pytestmark = pytest.mark.stack

CREATES = 50


@pytest.fixture
async def isolated(stack: Stack) -> AsyncIterator[tuple[httpx.AsyncClient, FastAPI, str]]:
    prefix = f"concurrency-{uuid.uuid4().hex[:10]}/"
    settings = stack.settings(
        copilot_profile_s3_prefix=prefix,
        copilot_create_rate_per_minute=0,  # no rate limit: this test is the burst
        prometheus_cluster_label=None,
    )
    async with serving(settings, client_timeout_s=120) as (client, app):
        yield client, app, prefix


async def test_concurrent_creates_and_designations(
    stack: Stack, isolated: tuple[httpx.AsyncClient, FastAPI, str]
) -> None:
    client, app, prefix = isolated
    cluster = f"conc-{uuid.uuid4().hex[:8]}"
    label = f"conc-{uuid.uuid4().hex[:8]}"
    window = stack.window("healthy-150wps")
    start = window.start + timedelta(minutes=20)
    payloads: list[dict[str, Any]] = [
        {
            "name": f"concurrent {i:02d}",
            "cluster_id": cluster,
            "namespace": "default",
            "label": label,
            "time_window_start": start.isoformat(),
            "time_window_end": (start + timedelta(minutes=10)).isoformat(),
        }
        for i in range(CREATES)
    ]

    created = await asyncio.gather(*(client.post("/profiles", json=p) for p in payloads))
    assert [r.status_code for r in created] == [201] * CREATES, [r.text for r in created if r.status_code != 201]
    metas = {r.json()["id"]: r.json() for r in created}
    assert len(metas) == CREATES  # 50 distinct ids
    assert sorted(m["name"] for m in metas.values()) == sorted(p["name"] for p in payloads)  # each exactly once

    listed = await client.get("/profiles", params={"cluster": cluster, "namespace": "default", "limit": 500})
    assert listed.status_code == 200
    rows = {p["id"]: p for p in listed.json()}
    assert len(listed.json()) == CREATES and rows.keys() == metas.keys()
    assert (await client.get("/profiles", params={"label": label, "limit": 500})).json() == listed.json()
    gets = await asyncio.gather(*(client.get(f"/profiles/{pid}") for pid in metas))
    for got in gets:
        assert got.status_code == 200
        full = got.json()
        assert {k: full[k] for k in rows[full["id"]]} == rows[full["id"]]  # get and list agree field by field
    assert await consistent(stack, prefix) == metas.keys()

    designated = await asyncio.gather(*(client.post(f"/profiles/{pid}/baseline") for pid in metas))
    statuses = [r.status_code for r in designated]
    # 200, or the documented loser answer: 503 naming the index after the conflict retries ran out
    assert set(statuses) <= {200, 503}, statuses
    for r in designated:
        if r.status_code == 503:
            assert "SQLSTATE 40001" in r.json()["detail"]
    assert statuses.count(200) >= CREATES * 0.9, statuses
    winners = {r.json()["id"] for r in designated if r.status_code == 200}

    store = app.state.profile_services.store
    assert await store.baselines_count(cluster, "default") == 1
    baseline = await client.get("/profiles/baseline", params={"cluster": cluster, "namespace": "default"})
    assert baseline.status_code == 200 and baseline.json()["id"] in winners
    listed = (await client.get("/profiles", params={"cluster": cluster, "limit": 500})).json()
    assert [p["id"] for p in listed if p["is_baseline"]] == [baseline.json()["id"]]
    marked = await asyncio.gather(*(client.get(f"/profiles/{pid}") for pid in metas))
    assert [m.json()["id"] for m in marked if m.json()["is_baseline"]] == [baseline.json()["id"]]
    assert store.conflicts_retried > 0  # the designations really raced on one row
