"""The list queries are served by an index, in newest-first order, on the real PostgreSQL.

A database of its own on the stack's PostgreSQL gets the real schema and 20,000 rows whose
namespaces are busy in one cluster and quiet in another (as in real deployments). The SQL that
``ProfileStore.list`` really sends is captured and EXPLAIN ANALYZEd, with the planner's custom plan
and with the generic plan a cached prepared statement may switch to: every shape must read exactly
one page (plus the look-ahead row) from one index, with no sequential scan and no sort.
"""

from __future__ import annotations

import json
import random
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import uuid4

import asyncpg

from behaviour_profiles.repository import ProfileFilter
from behaviour_profiles.storage import (
    BASELINES_TABLE,
    PROFILES_TABLE,
    ProfileStore,
    encode_cursor,
    schema_statements,
    setup_schema,
)
from tests.integration.conftest import Stack

PAGE = 50
BUSY = "temporal-big"
QUIET_HERE = "payments"
"""A namespace with 2% of the busy cluster's rows, but half of every other cluster's."""


@asynccontextmanager
async def plans_database(stack: Stack) -> AsyncIterator[asyncpg.Connection]:
    port = stack.stack.config.postgres_port
    name = f"{stack.stack.config.database}_plans"
    admin = await asyncpg.connect(host="127.0.0.1", port=port, user="postgres", database="postgres")
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.execute(f'CREATE DATABASE "{name}"')
        try:
            conn = await asyncpg.connect(host="127.0.0.1", port=port, user="postgres", database=name)
            try:
                yield conn
            finally:
                await conn.close()
        finally:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


def rows(count: int) -> list[tuple[Any, ...]]:
    rng = random.Random(11)
    now = datetime(2026, 1, 1, tzinfo=UTC)
    clusters = [BUSY, "temporal-b", "temporal-c", "temporal-d"]
    out = []
    for i in range(count):
        cluster = rng.choices(clusters, (40, 25, 20, 15))[0]
        if cluster == BUSY:
            namespace = QUIET_HERE if rng.random() < 0.02 else f"ns-{rng.randrange(10)}"
        else:
            namespace = QUIET_HERE if rng.random() < 0.5 else f"ns-{rng.randrange(10)}"
        created = now - timedelta(seconds=rng.uniform(0, 365 * 86400))
        pid = uuid4()
        out.append(
            (
                pid,
                f"p{i}",
                f"label-{rng.randrange(20)}",
                cluster,
                namespace,
                namespace,
                f"tq-{rng.randrange(5)}",
                created - timedelta(hours=2),
                created - timedelta(hours=1),
                created,
                f"profiles/{pid}.json",
                "1.27.2",
                None,
                None,
                30,
                33,
            )
        )
    return out


class _Explaining:
    """A pool for ProfileStore whose connections EXPLAIN every ``fetch`` instead of running it."""

    def __init__(self, conn: asyncpg.Connection) -> None:
        self.conn = conn
        self.plans: list[dict[str, Any]] = []

    @asynccontextmanager
    async def acquire(self) -> AsyncIterator[_Explaining]:
        yield self

    def transaction(self, **kwargs: Any) -> Any:
        return self.conn.transaction(**kwargs)

    async def fetch(self, sql: str, *args: Any) -> list[Any]:
        raw = await self.conn.fetchval(f"EXPLAIN (ANALYZE, FORMAT JSON) {sql}", *args)
        self.plans.append(json.loads(raw)[0]["Plan"])
        return []


COLUMNS_SQL = (
    "SELECT column_name FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = $1 "
    "ORDER BY ordinal_position"
)


def nodes(plan: dict[str, Any]) -> list[dict[str, Any]]:
    return [plan, *(n for child in plan.get("Plans", []) for n in nodes(child))]


async def list_plan(conn: asyncpg.Connection, filters: ProfileFilter, cursor: str | None) -> list[dict[str, Any]]:
    explaining = _Explaining(conn)
    store = ProfileStore(s3=None, bucket="-", pool=explaining)  # type: ignore[arg-type]
    page, _ = await store.list(filters, limit=PAGE, cursor=cursor)
    assert page == [] and len(explaining.plans) == 1
    return nodes(explaining.plans[0])


def test_the_cluster_and_namespace_index_is_part_of_the_schema() -> None:
    assert (
        f"CREATE INDEX ASYNC IF NOT EXISTS bp_cluster_namespace_created_idx ON {PROFILES_TABLE} "
        "(cluster_id, namespace, created_at, id)"
    ) in schema_statements(dsql=True)


async def test_every_list_shape_reads_one_page_from_an_index_in_order(stack: Stack) -> None:
    data = rows(20_000)
    middle = sorted(data, key=lambda r: (r[9], r[0]))[len(data) // 2]
    deep = encode_cursor(middle[9], middle[0])
    quiet_pair = sum(1 for r in data if r[3] == BUSY and r[4] == QUIET_HERE)
    assert 150 < quiet_pair < 200 and sum(1 for r in data if r[4] == QUIET_HERE) > 5000
    shapes: list[tuple[ProfileFilter, str | None, str]] = [
        (ProfileFilter(), None, "bp_created_idx"),
        (ProfileFilter(), deep, "bp_created_idx"),
        (ProfileFilter(cluster_id=BUSY), None, "bp_cluster_created_idx"),
        (ProfileFilter(cluster_id=BUSY), deep, "bp_cluster_created_idx"),
        (ProfileFilter(cluster_id=BUSY, namespace=QUIET_HERE), None, "bp_cluster_namespace_created_idx"),
        (ProfileFilter(cluster_id="temporal-d", namespace="ns-3"), deep, "bp_cluster_namespace_created_idx"),
        (ProfileFilter(namespace=QUIET_HERE), None, "bp_namespace_created_idx"),
        (ProfileFilter(label="label-7"), None, "bp_label_created_idx"),
        (ProfileFilter(task_queue="tq-2"), None, "bp_task_queue_created_idx"),
    ]
    async with plans_database(stack) as conn:
        await setup_schema(conn, dsql=False)
        # the rows fill the table's first columns; the columns added since (exclusion) stay null
        columns = [r["column_name"] for r in await conn.fetch(COLUMNS_SQL, PROFILES_TABLE)][: len(data[0])]
        await conn.copy_records_to_table(PROFILES_TABLE, records=data, columns=columns)
        baselines = {(r[3], r[5]): r[0] for r in data}
        await conn.copy_records_to_table(
            BASELINES_TABLE,
            records=[(c, n, pid, datetime.now(UTC)) for (c, n), pid in baselines.items()],
        )
        await conn.execute(f"ANALYZE {PROFILES_TABLE}")
        await conn.execute(f"ANALYZE {BASELINES_TABLE}")
        for mode in ("custom", "generic"):
            await conn.execute(f"SET plan_cache_mode = force_{mode}_plan")
            for filters, cursor, index in shapes:
                plan = await list_plan(conn, filters, cursor)
                where = f"{mode} plan of {filters} cursor={cursor is not None}: {[n['Node Type'] for n in plan]}"
                on_profiles = [n for n in plan if n.get("Relation Name") == PROFILES_TABLE]
                assert [n["Node Type"] for n in on_profiles] == ["Index Scan"], where
                assert on_profiles[0]["Index Name"] == index, where
                assert on_profiles[0]["Scan Direction"] == "Backward", where
                assert not any(n["Node Type"] in ("Sort", "Incremental Sort") for n in plan), where
                # exactly the page and its look-ahead row: nothing read only to be filtered out
                assert on_profiles[0]["Actual Rows"] == PAGE + 1, where
                assert on_profiles[0].get("Rows Removed by Filter", 0) == 0, where
