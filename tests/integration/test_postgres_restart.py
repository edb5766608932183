"""A real PostgreSQL restart while a create is in flight: a private embedded server, stopped and started.

The proxy-based test in ``test_faults_more.py`` cuts the connection at a chosen byte; this one restarts
a real server (its own embedded PostgreSQL on a free port) while the create is still collecting
telemetry, so the pool's connection dies the way it does in production. The create must answer
clearly, leave no half-written profile, and the same app must work afterwards.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import pytest

from copilot.dev.stack import LocalStack, StackConfig, free_port
from copilot.index import apply_schema
from tests.faultproxy import FaultProxy
from tests.integration.conftest import Stack
from tests.integration.test_faults_more import consistent, port_of, running
from tests.integration.test_profiles_api import body

pytestmark = pytest.mark.stack


@pytest.fixture(scope="module")
def private_postgres(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    state = Path(tmp_path_factory.mktemp("pg-restart"))
    local = LocalStack(StackConfig(state_dir=state, postgres_port=free_port(), database="bp_restart"))
    try:
        local.start_postgres()
        yield local
    finally:
        local.down()


async def server_started_at(dsn: str) -> object:
    conn = await asyncpg.connect(dsn)
    try:
        return await conn.fetchval("SELECT pg_postmaster_start_time()")
    finally:
        await conn.close()


async def test_a_create_survives_a_real_postgres_restart_mid_request(
    stack: Stack, private_postgres: LocalStack
) -> None:
    dsn = private_postgres.postgres_url
    settings_dsn = {"copilot_dsql_endpoint": dsn}
    await apply_schema(stack.settings(**settings_dsn))
    prefix = f"restart-{time.monotonic_ns()}/"
    async with FaultProxy(port_of(stack.env["PROMETHEUS_ENDPOINT"])) as prometheus:
        # slow answers keep the create in its telemetry phase for several seconds
        prometheus.delay_s, prometheus.delay_direction = 0.6, "response"
        async with running(stack, prefix, prometheus_endpoint=prometheus.url(), **settings_dsn) as (client, _):
            warm = await client.get("/profiles")  # the pool now holds a live connection
            assert warm.status_code == 200, warm.text
            create = asyncio.create_task(client.post("/profiles", json=body(stack, "healthy-150wps")))
            await asyncio.sleep(0.5)
            before = await server_started_at(dsn)
            started = time.monotonic()
            await asyncio.to_thread(private_postgres.stop, "postgres")
            await asyncio.to_thread(private_postgres.start_postgres)
            restart_s = time.monotonic() - started
            assert await server_started_at(dsn) != before  # a new server process, not the same one
            assert not create.done(), "the create ended before the restart; the test proves nothing"
            async with asyncio.timeout(60):
                answer = await create
            # the connection the pool held died with the old server: the create either got a fresh one
            # (201) or answered 503 naming the index; never a 500, never a half-written profile
            if answer.status_code != 201:
                assert answer.status_code == 503, answer.text
                assert "PostgreSQL" in answer.json()["dependency"]
            prometheus.pass_through()
            again = await client.post("/profiles", json=body(stack, "healthy-150wps"))
            assert again.status_code == 201, again.text  # the same app, no restart
            listed = (await client.get("/profiles", params={"label": again.json()["label"]})).json()
            assert [p["id"] for p in listed] == [again.json()["id"]]
    stored = await consistent(stack, prefix, dsn)
    expected = {again.json()["id"]} | ({answer.json()["id"]} if answer.status_code == 201 else set())
    assert stored == expected
    assert restart_s < 30
