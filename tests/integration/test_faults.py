"""Dependency outages: a clear 5xx naming the dependency, and nothing half-written.

Outages are real: the app is pointed at a port where nothing listens (connection refused), at a server
that accepts connections and never answers (timeout), or at a real server that is not Prometheus.
"""

from __future__ import annotations

import socket
import threading
import uuid
from collections.abc import Iterator
from contextlib import AbstractAsyncContextManager
from typing import Any

import asyncpg
import botocore.session
import httpx
import pytest

from copilot.dev.stack import free_port
from copilot.index import apply_schema
from tests.integration.conftest import Stack
from tests.integration.test_profiles_api import body, create
from tests.support import serve

pytestmark = pytest.mark.stack


def app_client(stack: Stack, **overrides: Any) -> AbstractAsyncContextManager[httpx.AsyncClient]:
    return serve(stack.settings(**overrides))


@pytest.fixture
def silent_server() -> Iterator[int]:
    """Accepts TCP connections and never answers: a hung dependency."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
                held.append(conn)
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield listener.getsockname()[1]
    stop.set()
    thread.join()
    for conn in held:
        conn.close()
    listener.close()


async def index_rows(stack: Stack, label: str) -> int:
    conn = await asyncpg.connect(stack.env["COPILOT_DSQL_ENDPOINT"])
    try:
        return int(await conn.fetchval("SELECT count(*) FROM behaviour_profiles WHERE label = $1", label))
    finally:
        await conn.close()


def s3_keys(stack: Stack) -> set[str]:
    client = botocore.session.get_session().create_client(
        "s3",
        endpoint_url=stack.env["AWS_ENDPOINT_URL_S3"],
        region_name="us-east-1",
        aws_access_key_id="any",
        aws_secret_access_key="any",
    )
    keys: set[str] = set()
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=stack.env["COPILOT_PROFILE_S3_BUCKET"]):
        keys.update(item["Key"] for item in page.get("Contents", []))
    return keys


async def test_prometheus_down_answers_502_and_stores_nothing(stack: Stack) -> None:
    payload = body(stack, "healthy-150wps")
    before = s3_keys(stack)
    async with app_client(stack, prometheus_endpoint=f"http://127.0.0.1:{free_port()}") as client:
        r = await client.post("/profiles", json=payload)
        assert r.status_code == 502, r.text
        assert r.json()["dependency"] == "Prometheus" and "unreachable" in r.json()["detail"]
        assert (await client.get("/readyz")).status_code == 503
    assert await index_rows(stack, payload["label"]) == 0
    assert s3_keys(stack) == before


async def test_prometheus_hanging_answers_504(stack: Stack, silent_server: int) -> None:
    payload = body(stack, "healthy-150wps")
    overrides = {"prometheus_endpoint": f"http://127.0.0.1:{silent_server}", "prometheus_query_timeout_seconds": 1}
    async with app_client(stack, **overrides) as client:
        r = await client.post("/profiles", json=payload)
    assert r.status_code == 504, r.text
    assert r.json()["dependency"] == "Prometheus"
    assert await index_rows(stack, payload["label"]) == 0


async def test_a_server_that_is_not_prometheus_answers_502(stack: Stack) -> None:
    async with app_client(stack, prometheus_endpoint=stack.env["AWS_ENDPOINT_URL_S3"]) as client:
        r = await client.post("/profiles", json=body(stack, "healthy-150wps"))
    assert r.status_code == 502 and r.json()["dependency"] == "Prometheus"


async def test_s3_down_answers_503_and_indexes_nothing(stack: Stack) -> None:
    payload = body(stack, "healthy-150wps")
    async with app_client(stack, aws_endpoint_url_s3=f"http://127.0.0.1:{free_port()}") as client:
        r = await client.post("/profiles", json=payload)
        assert r.status_code == 503, r.text
        assert r.json()["dependency"] == "S3"
    assert await index_rows(stack, payload["label"]) == 0


async def test_s3_down_on_read_answers_503(stack: Stack, client: httpx.AsyncClient) -> None:
    meta = await create(client, body(stack, "healthy-150wps"))
    async with app_client(stack, aws_endpoint_url_s3=f"http://127.0.0.1:{free_port()}") as broken:
        r = await broken.get(f"/profiles/{meta['id']}")
    assert r.status_code == 503 and r.json()["dependency"] == "S3"


async def test_postgres_down_answers_503_and_leaves_no_document(stack: Stack) -> None:
    payload = body(stack, "healthy-150wps")
    before = s3_keys(stack)
    dead = f"postgresql://postgres@127.0.0.1:{free_port()}/nowhere"
    async with app_client(stack, copilot_dsql_endpoint=dead) as client:
        r = await client.post("/profiles", json=payload)
        assert r.status_code == 503, r.text
        assert "PostgreSQL" in r.json()["dependency"]
        listed = await client.get("/profiles")
        assert listed.status_code == 503 and "PostgreSQL" in listed.json()["detail"]
        assert (await client.get("/healthz")).status_code == 200
    assert s3_keys(stack) == before  # the document written first was removed again


async def test_empty_store_answers_an_empty_list(stack: Stack) -> None:
    """`curl /profiles/` on a freshly set-up store answers []."""
    name = f"bp_empty_{uuid.uuid4().hex[:8]}"
    dsn = await stack.new_index_database(name)
    try:
        await apply_schema(stack.settings(copilot_dsql_endpoint=dsn))  # idempotent
        async with app_client(stack, copilot_dsql_endpoint=dsn) as client:
            r = await client.get("/profiles/")
            assert r.status_code == 200 and r.json() == []
            assert (await client.get("/readyz")).json() == {"status": "ready"}
    finally:
        await stack.drop_database(name)


async def test_reindex_reports_and_repairs_orphans_either_way(stack: Stack, app: Any) -> None:
    """A document whose row is gone and a row whose document is gone are both found and repaired."""
    services = app.state.profile_services
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://copilot") as client:
        keep = await create(client, body(stack, "healthy-150wps"))
        lose_doc = await create(client, body(stack, "healthy-150wps"))
    conn = await asyncpg.connect(stack.env["COPILOT_DSQL_ENDPOINT"])
    try:
        await conn.execute("DELETE FROM behaviour_profiles WHERE id = $1", uuid.UUID(keep["id"]))
    finally:
        await conn.close()
    stack.stack.s3_client().delete_object(
        Bucket=stack.env["COPILOT_PROFILE_S3_BUCKET"], Key=f"profiles/{lose_doc['id']}.json"
    )
    report = await services.store.reindex(repair=False)
    assert keep["id"] in report.documents_without_row
    assert lose_doc["id"] in report.rows_without_document
    repaired = await services.store.reindex(repair=True)
    assert repaired.repaired
    after = await services.store.reindex(repair=False)
    assert keep["id"] not in after.documents_without_row and lose_doc["id"] not in after.rows_without_document
    restored = await services.store.get(uuid.UUID(keep["id"]))
    assert restored.name == keep["name"]


async def test_an_index_rebuilt_from_the_documents_gets_its_baselines_and_exclusions_back(
    stack: Stack, app: Any
) -> None:
    """Designations and exclusions are set in the index and kept as marks beside the documents: an index
    that lost them (rebuilt by reindex) gets them back, and lost marks are written again from the index."""
    from datetime import UTC, datetime

    services = app.state.profile_services
    store = services.store
    bucket = stack.env["COPILOT_PROFILE_S3_BUCKET"]
    s3 = stack.stack.s3_client()
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://copilot") as client:
        chosen = await create(client, body(stack, "healthy-150wps"))
        left_out = await create(client, body(stack, "healthy-150wps"))
    chosen_id, left_out_id = uuid.UUID(chosen["id"]), uuid.UUID(left_out["id"])
    cluster = chosen["cluster_id"]
    now = datetime.now(UTC)
    await store.designate_baseline(chosen_id, now=now)
    await store.set_exclusion(left_out_id, reason="a failed load test", now=now)
    listed = s3.list_objects_v2(Bucket=bucket, Prefix="profiles/marks/")
    mark_keys = sorted(item["Key"] for item in listed.get("Contents", []))
    assert f"profiles/marks/exclusions/{left_out_id}.json" in mark_keys
    assert any(k.startswith(f"profiles/marks/baselines/{cluster}/") for k in mark_keys)

    conn = await asyncpg.connect(stack.env["COPILOT_DSQL_ENDPOINT"])
    try:  # the index loses both profiles' rows and the baseline, as if rebuilt from nothing
        await conn.execute("DELETE FROM behaviour_profile_baselines WHERE profile_id = $1", chosen_id)
        await conn.execute("DELETE FROM behaviour_profiles WHERE id = ANY($1::uuid[])", [chosen_id, left_out_id])
    finally:
        await conn.close()
    report = await store.reindex(repair=False)
    assert not report.consistent
    assert any(str(chosen_id) in m and cluster in m for m in report.marks_to_restore)
    assert f"exclusion of {left_out_id}" in report.marks_to_restore
    await store.reindex(repair=True)
    baseline = await store.get_baseline(cluster, chosen["namespace"])
    assert baseline.id == chosen_id
    excluded = await store.get(left_out_id)
    assert excluded.excluded_from_baselines and excluded.exclusion_reason == "a failed load test"

    for key in mark_keys:  # the marks are lost instead: the index writes them again
        if key.endswith(f"{left_out_id}.json") or key.startswith(f"profiles/marks/baselines/{cluster}/"):
            s3.delete_object(Bucket=bucket, Key=key)
    lost = await store.reindex(repair=False)
    assert f"exclusion mark of {left_out_id}" in lost.marks_out_of_step
    assert any(f"cluster {cluster!r}" in m for m in lost.marks_out_of_step)
    await store.reindex(repair=True)
    after = await store.reindex(repair=False)
    assert not (after.marks_out_of_step or after.marks_to_restore)
    await store.set_exclusion(left_out_id, reason=None, now=now)  # included again: its mark goes
    listed = s3.list_objects_v2(Bucket=bucket, Prefix=f"profiles/marks/exclusions/{left_out_id}")
    assert not listed.get("Contents")


async def test_index_connections_are_recycled_before_dsqls_age_limit(stack: Stack) -> None:
    import asyncio

    from copilot.index import recycle_connections

    pool = await asyncpg.create_pool(stack.env["COPILOT_DSQL_ENDPOINT"], min_size=1, max_size=1)
    try:
        before = await pool.fetchval("SELECT pg_backend_pid()")
        recycler = asyncio.create_task(recycle_connections(pool, every_s=0.05))
        await asyncio.sleep(0.2)
        recycler.cancel()
        after = await pool.fetchval("SELECT pg_backend_pid()")
    finally:
        await pool.close()
    assert before != after  # a new server connection (and, on DSQL, a fresh IAM token)
