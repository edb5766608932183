"""`copilot dev schema setup` upgrades an index made before the exclusion columns, idempotently."""

from __future__ import annotations

from datetime import UTC, datetime
from uuid import uuid4

import asyncpg
import pytest

from behaviour_profiles.storage import _TABLES, ADDED_COLUMNS, PROFILES_TABLE, setup_schema
from copilot.index import apply_schema
from tests.integration.conftest import Stack

pytestmark = pytest.mark.stack

COLUMNS = (
    "SELECT column_name, is_nullable FROM information_schema.columns "
    "WHERE table_schema = current_schema() AND table_name = $1"
)


async def test_an_index_of_the_first_release_is_upgraded_in_place_and_twice_is_a_no_op(stack: Stack) -> None:
    name = f"{stack.stack.config.database}_upgrade"
    await stack.drop_database(name)
    await stack._admin(f'CREATE DATABASE "{name}"')
    dsn = stack.env["COPILOT_DSQL_ENDPOINT"].rsplit("/", 1)[0] + f"/{name}"
    try:
        conn = await asyncpg.connect(dsn)
        try:
            for statement in _TABLES:  # the tables as first released: without the added columns
                await conn.execute(statement)
            pid, now = uuid4(), datetime.now(UTC)
            await conn.execute(
                f"""INSERT INTO {PROFILES_TABLE} (id, name, cluster_id, namespace_key, time_window_start,
                    time_window_end, created_at, document_key, coverage_with_data, coverage_asked)
                    VALUES ($1, 'old', 'c', '', $2, $2, $2, 'profiles/x.json', 1, 1)""",
                pid,
                now,
            )
            before = {r["column_name"] for r in await conn.fetch(COLUMNS, PROFILES_TABLE)}
            assert not before & {c for c, _ in ADDED_COLUMNS}

            first = await apply_schema(stack.settings(copilot_dsql_endpoint=dsn))
            assert [s for s in first if s.startswith("ALTER TABLE")] == [
                f"ALTER TABLE {PROFILES_TABLE} ADD COLUMN {c} {kind}" for c, kind in ADDED_COLUMNS
            ]
            after = {r["column_name"]: r["is_nullable"] for r in await conn.fetch(COLUMNS, PROFILES_TABLE)}
            assert all(after[c] == "YES" for c, _ in ADDED_COLUMNS)
            # the existing row is kept, and reads as not excluded
            row = await conn.fetchrow(f"SELECT name, excluded_at FROM {PROFILES_TABLE} WHERE id = $1", pid)
            assert row is not None and row["name"] == "old" and row["excluded_at"] is None

            second = await setup_schema(conn, dsql=False)
            assert not [s for s in second if s.startswith("ALTER TABLE")]
        finally:
            await conn.close()
    finally:
        await stack.drop_database(name)
