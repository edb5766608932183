"""More dependency faults, injected with :mod:`tests.faultproxy` in front of the real services.

Every case checks three things: the status and the dependency the answer names, that the answer came
within a wall-time bound derived from the configured timeouts, and the store invariant: under the
test's own S3 prefix, the documents and the index rows name exactly the same profiles (no document
without a row, no row without a document).
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit, urlunsplit

import asyncpg
import httpx
import pytest
import uvicorn
from fastapi import FastAPI
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from typer.testing import CliRunner

from behaviour_profiles.storage import MARKS
from copilot import cli
from copilot.dev.stack import free_port
from tests.faultproxy import FaultProxy, http_response
from tests.integration.conftest import Stack
from tests.integration.test_profiles_api import body
from tests.support import serving

pytestmark = pytest.mark.stack


# --- helpers -----------------------------------------------------------------------------------


@pytest.fixture
def prefix() -> str:
    """An S3 prefix of this test alone, so the invariant is judged on its own profiles."""
    return f"faults-{uuid.uuid4().hex[:10]}/"


@asynccontextmanager
async def running(stack: Stack, prefix: str, **overrides: Any) -> AsyncIterator[tuple[httpx.AsyncClient, FastAPI]]:
    """The real app (lifespan entered) on the test's prefix, with settings overrides, and its client."""
    settings = stack.settings(copilot_profile_s3_prefix=prefix, copilot_create_rate_per_minute=0, **overrides)
    async with serving(settings) as (client, app):
        yield client, app


def port_of(url: str) -> int:
    port = urlsplit(url).port
    assert port is not None
    return port


def with_port(url: str, port: int) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(netloc=f"{parts.netloc.rsplit(':', 1)[0]}:{port}"))


async def store_state(stack: Stack, prefix: str, dsn: str | None = None) -> tuple[set[str], set[str]]:
    """(profile ids with a document under ``prefix``, profile ids with an index row pointing there); the
    baseline and exclusion marks beside the documents are left out."""
    s3 = stack.stack.s3_client()
    docs: set[str] = set()
    for page in s3.get_paginator("list_objects_v2").paginate(
        Bucket=stack.env["COPILOT_PROFILE_S3_BUCKET"], Prefix=prefix
    ):
        keys = (item["Key"].removeprefix(prefix) for item in page.get("Contents", []))
        docs.update(key.removesuffix(".json") for key in keys if not key.startswith(MARKS))  # marks: not documents
    conn = await asyncpg.connect(dsn or stack.env["COPILOT_DSQL_ENDPOINT"])
    try:
        rows = await conn.fetch("SELECT id FROM behaviour_profiles WHERE document_key LIKE $1", prefix + "%")
    finally:
        await conn.close()
    return docs, {str(r["id"]) for r in rows}


async def consistent(stack: Stack, prefix: str, dsn: str | None = None) -> set[str]:
    """Assert the invariant and return the profile ids stored under ``prefix``."""
    docs, rows = await store_state(stack, prefix, dsn)
    assert docs == rows, f"documents without a row: {docs - rows}; rows without a document: {rows - docs}"
    return docs


@asynccontextmanager
async def timed(bound_s: float) -> AsyncIterator[None]:
    started = time.monotonic()
    yield
    elapsed = time.monotonic() - started
    assert elapsed < bound_s, f"answered after {elapsed:.1f} s, beyond the {bound_s} s bound"


def problem(response: httpx.Response, status: int, dependency: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    data: dict[str, Any] = response.json()
    assert dependency in data["dependency"] and dependency in data["detail"], data
    return data


# --- Prometheus ----------------------------------------------------------------------------------


async def test_prometheus_slower_than_its_timeout_answers_504_in_time(stack: Stack, prefix: str) -> None:
    async with FaultProxy(port_of(stack.env["PROMETHEUS_ENDPOINT"])) as proxy:
        proxy.delay_s, proxy.delay_direction = 4.0, "response"
        overrides = {"prometheus_endpoint": proxy.url(), "prometheus_query_timeout_seconds": 1}
        async with running(stack, prefix, **overrides) as (client, _):
            async with timed(4):  # one 1 s attempt: a read timeout is not retried
                r = await client.post("/profiles", json=body(stack, "healthy-150wps"))
            assert "within 1s" in problem(r, 504, "Prometheus")["detail"]
            proxy.pass_through()
            proxy.cut()
            recovered = await client.post("/profiles", json=body(stack, "healthy-150wps"))
            assert recovered.status_code == 201, recovered.text  # same app, no restart
    assert await consistent(stack, prefix) == {recovered.json()["id"]}


async def test_prometheus_5xx_is_retried_and_the_profile_is_complete(stack: Stack, prefix: str) -> None:
    error = http_response(503, b'{"status":"error","errorType":"unavailable","error":"overloaded"}')
    async with FaultProxy(port_of(stack.env["PROMETHEUS_ENDPOINT"])) as proxy:
        proxy.reply_next(2, error)
        async with running(stack, prefix, prometheus_endpoint=proxy.url()) as (client, _), timed(30):
            r = await client.post("/profiles", json=body(stack, "healthy-150wps"))
        assert r.status_code == 201, r.text
        assert proxy.replied == 2  # two answers were 503 and their calls were tried again
    assert r.json()["coverage_with_data"] > 20
    assert await consistent(stack, prefix) == {r.json()["id"]}


async def test_prometheus_failing_every_attempt_answers_502_and_stores_nothing(stack: Stack, prefix: str) -> None:
    error = http_response(500, b'{"status":"error","errorType":"internal","error":"storage is broken"}')
    async with FaultProxy(port_of(stack.env["PROMETHEUS_ENDPOINT"])) as proxy:
        proxy.reply_next(1000, error)
        async with running(stack, prefix, prometheus_endpoint=proxy.url()) as (client, _):
            async with timed(10):  # 3 attempts, backoff 0.25-0.5 s then 0.5-1 s
                r = await client.post("/profiles", json=body(stack, "healthy-150wps"))
            detail = problem(r, 502, "Prometheus")["detail"]
            assert "HTTP 500 after 3 attempts" in detail and "storage is broken" in detail
    assert await consistent(stack, prefix) == set()


async def test_prometheus_connection_cut_mid_query_is_tried_again(stack: Stack, prefix: str) -> None:
    """Prometheus restarts while a query is in flight: the connection drops without an answer, and the
    query (read-only, so safe to repeat) is tried again on a new connection."""
    async with FaultProxy(port_of(stack.env["PROMETHEUS_ENDPOINT"])) as proxy:
        fired = proxy.cut_on(b"query_range", after_forward=True)
        async with running(stack, prefix, prometheus_endpoint=proxy.url()) as (client, _), timed(10):
            r = await client.post("/profiles", json=body(stack, "healthy-150wps"))
        assert fired.is_set()
        assert r.status_code == 201, r.text
    assert r.json()["coverage_with_data"] > 20
    assert await consistent(stack, prefix) == {r.json()["id"]}


@asynccontextmanager
async def partial_prometheus(upstream: str, markers: tuple[str, ...], warning: str) -> AsyncIterator[str]:
    """A Prometheus front that relays to the real one and flags answers to queries naming any of
    ``markers`` as partial (``warnings``, as Thanos or Mimir do when a store did not answer)."""
    http = httpx.AsyncClient(base_url=upstream, timeout=30)

    async def relay(request: Request) -> Response:
        raw = await request.body()
        upstream_answer = await http.request(
            request.method,
            request.url.path,
            params=request.query_params,
            content=raw,
            headers={"content-type": request.headers.get("content-type", "")},
        )
        query = " ".join(parse_qs(raw.decode()).get("query", []))
        if request.url.path.endswith("/query_range") and any(marker in query for marker in markers):
            answer = upstream_answer.json()
            answer["warnings"] = [warning]
            return JSONResponse(answer, status_code=upstream_answer.status_code)
        return Response(upstream_answer.content, upstream_answer.status_code, media_type="application/json")

    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(
            Starlette(routes=[Route("/{path:path}", relay, methods=["GET", "POST"])]),
            host="127.0.0.1",
            port=port,
            log_level="warning",
            lifespan="off",
        )
    )
    task = asyncio.create_task(server.serve())
    while not server.started:  # noqa: ASYNC110 - uvicorn offers a flag, not an event
        await asyncio.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task
        await http.aclose()


async def test_a_partial_answer_marks_its_metrics_not_collected_never_zero(stack: Stack, prefix: str) -> None:
    """Partial: Prometheus answers success but warns that the data is incomplete. The metrics built on
    such an answer are ``no_data`` with the warning as the reason; the rest of the profile is kept."""
    warning = "partial response: store 10.0.0.7:10901 did not answer"
    markers = ("dsql_tx_exhausted", "persistence_latency")
    async with (
        partial_prometheus(stack.env["PROMETHEUS_ENDPOINT"], markers, warning) as url,
        running(stack, prefix, prometheus_endpoint=url) as (client, _),
    ):
        r = await client.post("/profiles", json=body(stack, "healthy-150wps"))
        assert r.status_code == 201, r.text
        full = (await client.get(f"/profiles/{r.json()['id']}")).json()
    async with running(stack, prefix) as (client, _):  # the same window from the real Prometheus
        complete = (await client.post("/profiles", json=body(stack, "healthy-150wps"))).json()
    metrics = full["telemetry"]["metrics"]
    # an absent counter would be read as zero (its family reports): a partial answer is not absence
    exhausted = metrics["exhausted_retries_per_sec"]
    assert exhausted["status"] == "no_data" and exhausted["max"] is None
    assert "not collected" in exhausted["reason"] and warning in exhausted["reason"]
    for key in ("persistence_latency_p95", "persistence_latency_p99"):
        assert metrics[key]["status"] == "no_data" and metrics[key]["mean"] is None, metrics[key]
        assert warning in metrics[key]["reason"]
    assert metrics["workflows_started_per_sec"]["status"] == "ok"
    assert 0 < full["coverage_with_data"] < complete["coverage_with_data"]
    assert await consistent(stack, prefix) == {full["id"], complete["id"]}


# --- S3 ------------------------------------------------------------------------------------------


S3_TIMEOUT_S = 1.0
S3_DEADLINE_S = 3 * S3_TIMEOUT_S
"""One S3 operation, its attempts included, ends within 3 read timeouts (copilot.app.S3_ATTEMPTS)."""


@pytest.mark.parametrize("fault", ["slow", "hung"])
async def test_s3_slow_or_hung_on_write_answers_504_and_leaves_no_document(
    stack: Stack, prefix: str, fault: str
) -> None:
    """slow: the PUT reaches S3 but its answers are late, so S3 may well have stored the document: the
    save removes it again before answering. hung: S3 accepts the connection and never answers (a PUT
    waits for ``100 Continue`` beyond any read timeout: the store's deadline ends it)."""
    async with FaultProxy(port_of(stack.env["AWS_ENDPOINT_URL_S3"])) as proxy:
        overrides = {"aws_endpoint_url_s3": proxy.url(), "copilot_s3_timeout_seconds": S3_TIMEOUT_S}
        async with running(stack, prefix, **overrides) as (client, _):
            if fault == "slow":
                proxy.delay_s, proxy.delay_direction = 2.0, "response"
            else:
                proxy.blackhole = True
            async with timed(2 * S3_DEADLINE_S + 4):  # collection, the PUT, then the compensating DELETE
                r = await client.post("/profiles", json=body(stack, "healthy-150wps"))
            assert "timed out" in problem(r, 504, "S3")["detail"]
            # (only answers were late: the DELETE reached S3 before the 504 was sent)
            assert await consistent(stack, prefix) == set()
            proxy.pass_through()
            recovered = await client.post("/profiles", json=body(stack, "healthy-150wps"))
            assert recovered.status_code == 201, recovered.text
    assert await consistent(stack, prefix) == {recovered.json()["id"]}


async def test_s3_slow_on_read_answers_504_then_recovers(stack: Stack, prefix: str) -> None:
    async with FaultProxy(port_of(stack.env["AWS_ENDPOINT_URL_S3"])) as proxy:
        overrides = {"aws_endpoint_url_s3": proxy.url(), "copilot_s3_timeout_seconds": S3_TIMEOUT_S}
        async with running(stack, prefix, **overrides) as (client, _):
            meta = (await client.post("/profiles", json=body(stack, "healthy-150wps"))).json()
            proxy.delay_s, proxy.delay_direction = 3.0, "response"
            async with timed(S3_DEADLINE_S + 1.5):
                r = await client.get(f"/profiles/{meta['id']}")
            assert "timed out" in problem(r, 504, "S3")["detail"]
            listed = await client.get("/profiles", params={"label": meta["label"]})
            assert listed.status_code == 200 and [p["id"] for p in listed.json()] == [meta["id"]]  # index only
            proxy.pass_through()
            again = await client.get(f"/profiles/{meta['id']}")
            assert again.status_code == 200 and again.json()["id"] == meta["id"]
    assert await consistent(stack, prefix) == {meta["id"]}


# --- PostgreSQL ----------------------------------------------------------------------------------


async def test_postgres_restarted_mid_insert_answers_503_removes_the_document_and_recovers(
    stack: Stack, prefix: str
) -> None:
    dsn = stack.env["COPILOT_DSQL_ENDPOINT"]
    async with (
        FaultProxy(port_of(dsn)) as proxy,
        running(stack, prefix, copilot_dsql_endpoint=with_port(dsn, proxy.port)) as (client, _),
    ):
        # the connection drops inside the transaction, before COMMIT; the server is down for 1.5 s
        fired = proxy.cut_on(b"INSERT INTO behaviour_profiles", refuse_for_s=1.5)
        async with timed(20):
            r = await client.post("/profiles", json=body(stack, "healthy-150wps"))
        assert fired.is_set()
        problem(r, 503, "PostgreSQL")
        assert await consistent(stack, prefix) == set()  # the document written first is gone
        await asyncio.sleep(1.6)
        recovered = await client.post("/profiles", json=body(stack, "healthy-150wps"))
        assert recovered.status_code == 201, recovered.text  # the pool reconnects, no restart
        listed = await client.get("/profiles", params={"label": recovered.json()["label"]})
        assert [p["id"] for p in listed.json()] == [recovered.json()["id"]]
    assert await consistent(stack, prefix) == {recovered.json()["id"]}


async def test_postgres_lost_after_commit_keeps_the_profile(stack: Stack, prefix: str) -> None:
    """The COMMIT reaches the server, the answer never comes back: the save looks, finds its row and
    answers 201 rather than removing the document of a committed row."""
    dsn = stack.env["COPILOT_DSQL_ENDPOINT"]
    async with (
        FaultProxy(port_of(dsn)) as proxy,
        running(stack, prefix, copilot_dsql_endpoint=with_port(dsn, proxy.port)) as (client, _),
    ):
        fired = proxy.cut_on(b"COMMIT", after_forward=True)
        r = await client.post("/profiles", json=body(stack, "healthy-150wps"))
        assert fired.is_set()
        assert r.status_code == 201, r.text
        assert (await client.get(f"/profiles/{r.json()['id']}")).status_code == 200
    assert await consistent(stack, prefix) == {r.json()["id"]}


@pytest.fixture
async def private_db(stack: Stack) -> AsyncIterator[str]:
    """A database of this test alone with the index schema: triggers added there touch no other test."""
    name = f"bp_faults_{uuid.uuid4().hex[:8]}"
    yield await stack.new_index_database(name)
    await stack.drop_database(name)


CONFLICT_FUNCTION = """
CREATE OR REPLACE FUNCTION bp_inject_conflict() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF nextval('bp_conflicts_left') <= {limit} THEN
        RAISE EXCEPTION 'could not serialize access (injected)' USING ERRCODE = 'serialization_failure';
    END IF;
    RETURN NEW;
END $$"""


async def inject_conflicts(dsn: str, table: str, limit: int) -> None:
    """The server answers SQLSTATE 40001 to the next ``limit`` writes of ``table`` (a real error, raised
    by a trigger: PostgreSQL cannot be made to conflict a fixed number of times otherwise)."""
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute("DROP SEQUENCE IF EXISTS bp_conflicts_left; CREATE SEQUENCE bp_conflicts_left")
        await conn.execute(CONFLICT_FUNCTION.format(limit=limit))
        await conn.execute(
            f"DROP TRIGGER IF EXISTS bp_conflict ON {table}; CREATE TRIGGER bp_conflict BEFORE INSERT OR UPDATE "
            f"ON {table} FOR EACH ROW EXECUTE FUNCTION bp_inject_conflict()"
        )
    finally:
        await conn.close()


async def test_occ_conflicts_on_insert_are_retried_then_answer_503_with_no_orphan(
    stack: Stack, prefix: str, private_db: str
) -> None:
    async with running(stack, prefix, copilot_dsql_endpoint=private_db) as (client, app):
        store = app.state.profile_services.store
        await inject_conflicts(private_db, "behaviour_profiles", 3)
        transient = await client.post("/profiles", json=body(stack, "healthy-150wps"))
        assert transient.status_code == 201, transient.text
        assert store.conflicts_retried == 3

        await inject_conflicts(private_db, "behaviour_profiles", 1000)
        attempts = store._retry.attempts
        async with timed(20):  # collection, then 8 attempts with at most ~2.3 s of backoff in all
            r = await client.post("/profiles", json=body(stack, "healthy-150wps"))
        detail = problem(r, 503, "PostgreSQL")["detail"]
        assert "SQLSTATE 40001" in detail and "retry later" in detail
        assert store.conflicts_retried == 3 + attempts - 1
        assert await consistent(stack, prefix, private_db) == {transient.json()["id"]}


async def test_occ_conflicts_on_baseline_upsert_answer_503_and_keep_the_old_baseline(
    stack: Stack, prefix: str, private_db: str
) -> None:
    async with running(stack, prefix, copilot_dsql_endpoint=private_db) as (client, app):
        old = (await client.post("/profiles", json=body(stack, "healthy-150wps"))).json()
        new = (await client.post("/profiles", json=body(stack, "healthy-150wps"))).json()
        assert (await client.post(f"/profiles/{old['id']}/baseline")).status_code == 200
        await inject_conflicts(private_db, "behaviour_profile_baselines", 1000)
        async with timed(6):
            r = await client.post(f"/profiles/{new['id']}/baseline")
        assert "SQLSTATE 40001" in problem(r, 503, "PostgreSQL")["detail"]
        where = {"cluster": old["cluster_id"], "namespace": old["namespace"]}
        assert (await client.get("/profiles/baseline", params=where)).json()["id"] == old["id"]
        assert await app.state.profile_services.store.baselines_count(old["cluster_id"], old["namespace"]) == 1

        conn = await asyncpg.connect(private_db)
        try:
            await conn.execute("DROP TRIGGER bp_conflict ON behaviour_profile_baselines")
        finally:
            await conn.close()
        assert (await client.post(f"/profiles/{new['id']}/baseline")).status_code == 200
        assert (await client.get("/profiles/baseline", params=where)).json()["id"] == new["id"]
    assert await consistent(stack, prefix, private_db) == {old["id"], new["id"]}


# --- copilot profiles reindex --verify -----------------------------------------------------------


async def reindex_cli(stack: Stack, prefix: str, cwd: Path, *args: str) -> tuple[int, str]:
    """The real CLI in a subprocess, configured like the API (the stack's environment, this prefix)."""
    env = {**os.environ, **stack.env, "COPILOT_PROFILE_S3_PREFIX": prefix, "COLUMNS": "400"}
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "copilot",
        "profiles",
        "reindex",
        *args,
        cwd=cwd,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    out, _ = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode is not None
    return process.returncode, out.decode()


async def test_reindex_verify_reports_and_repairs_orphans_either_way(stack: Stack, prefix: str, tmp_path: Path) -> None:
    async with running(stack, prefix) as (client, _):
        kept, lost_row, lost_doc = [
            (await client.post("/profiles", json=body(stack, "healthy-150wps"))).json() for _ in range(3)
        ]
    bucket = stack.env["COPILOT_PROFILE_S3_BUCKET"]
    s3 = stack.stack.s3_client()
    conn = await asyncpg.connect(stack.env["COPILOT_DSQL_ENDPOINT"])
    try:
        await conn.execute("DELETE FROM behaviour_profiles WHERE id = $1", uuid.UUID(lost_row["id"]))
    finally:
        await conn.close()
    s3.delete_object(Bucket=bucket, Key=f"{prefix}{lost_doc['id']}.json")

    code, out = await reindex_cli(stack, prefix, tmp_path, "--dry-run")
    assert code == 1, out
    assert f"documents without an index row: 1 ({lost_row['id']})" in out
    assert f"index rows without a document: 1 ({lost_doc['id']})" in out

    code, out = await reindex_cli(stack, prefix, tmp_path, "--verify")
    assert code == 0, out
    assert lost_row["id"] in out and lost_doc["id"] in out and "verified" in out
    assert await consistent(stack, prefix) == {kept["id"], lost_row["id"]}
    async with running(stack, prefix) as (client, _):
        restored = await client.get(f"/profiles/{lost_row['id']}")
        assert restored.status_code == 200 and restored.json()["name"] == lost_row["name"]
        assert (await client.get(f"/profiles/{lost_doc['id']}")).status_code == 404

    # orphans it cannot repair: a document that is not a profile, under a profile's name and under another
    broken = str(uuid.uuid4())
    s3.put_object(Bucket=bucket, Key=f"{prefix}{broken}.json", Body=b"{not json")
    s3.put_object(Bucket=bucket, Key=f"{prefix}notes.json", Body=json.dumps({"hello": 1}).encode())
    code, out = await reindex_cli(stack, prefix, tmp_path, "--verify")
    assert code == 1, out
    assert "not repaired" in out and broken in out and f"{prefix}notes.json" in out

    refused = CliRunner().invoke(cli.app, ["profiles", "reindex", "--verify", "--dry-run"])
    assert refused.exit_code == 1 and "exclude each other" in refused.output
