"""List, get and compare with a large index: server time per request shape, and the query plans.

Starts a real local stack (PostgreSQL, SeaweedFS S3, Prometheus) on free ports in a temporary
directory, in its own database (dropped at the end), then:

1. backfills Prometheus with the demo scenarios and creates two real profiles through the API
   (``healthy-150wps`` and ``failing-400wps``);
2. bulk-loads ``--rows`` index rows with ``COPY`` into the real schema: clusters, namespaces, task
   queues and labels with a skewed (Zipf-like) spread, ``created_at`` spread over two years, one
   baseline per cluster and namespace; ``--documents`` of those rows get a real S3 document (a copy
   of one of the two real profiles carrying the row's identity), for ``get`` and ``compare``;
3. runs the real app in process and times each request inside the ASGI call ("server time": from
   the request reaching the app to the last body byte, no network or client);
4. runs ``EXPLAIN (ANALYZE, BUFFERS)`` on the SQL ``ProfileStore.list`` really sends for each list
   shape (captured from the store, not rewritten here), with the planner's custom plan and with the
   generic plan a cached prepared statement may switch to, and says whether the newest-first order
   comes from an index or from a scan and a sort.

Usage::

    uv run python bench/index_scale.py [--rows 100000] [--documents 100] [--requests 300]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import math
import os
import random
import statistics
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, MutableMapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

import asyncpg
import httpx

from behaviour_profiles.repository import ProfileFilter
from behaviour_profiles.storage import BASELINES_TABLE, PROFILES_TABLE, ProfileStore, encode_cursor
from copilot.app import create_app
from copilot.dev.local import load_scenarios
from copilot.dev.simulator import Placement, demo_plan
from copilot.dev.stack import LocalStack, StackConfig, ensure_prometheus
from copilot.index import apply_schema
from copilot.settings import Settings

COLUMNS = (
    "id",
    "name",
    "label",
    "cluster_id",
    "namespace",
    "namespace_key",
    "task_queue",
    "time_window_start",
    "time_window_end",
    "created_at",
    "document_key",
    "temporal_server_version",
    "dsql_plugin_version",
    "worker_code_sha",
    "coverage_with_data",
    "coverage_asked",
)
Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]


# --- the stack ------------------------------------------------------------------------------------


def settings_of(env: dict[str, str], **overrides: Any) -> Settings:
    values: dict[str, Any] = {key.lower(): value for key, value in env.items()}
    values.update(overrides)
    return Settings(_env_file=None, **values)


async def _drop_database(stack: LocalStack) -> None:
    conn = await asyncpg.connect(
        host="127.0.0.1", port=stack.config.postgres_port, user="postgres", database="postgres", timeout=10
    )
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{stack.config.database}" WITH (FORCE)')
    finally:
        await conn.close()


@contextlib.contextmanager
def bench_stack(state: Path, *, now: datetime) -> Iterator[tuple[LocalStack, list[Placement]]]:
    """The real stack on free ports (the machine's PostgreSQL on 5432 when one listens there, in a
    database of its own), Prometheus backfilled with the demo scenarios, the schema applied."""
    ensure_prometheus()
    config = StackConfig.isolated(state, f"bp_bench_{os.getpid()}")
    stack = LocalStack(config)
    try:
        stack.start_postgres()
        stack.start_s3()
        placements = demo_plan(now)
        load_scenarios(stack, placements)
        stack.start_prometheus()
        asyncio.run(apply_schema(settings_of(stack.env())))
        yield stack, placements
    finally:
        try:
            stack.down()
        finally:
            with contextlib.suppress(OSError, asyncpg.PostgresError):
                asyncio.run(_drop_database(stack))


# --- the data set -------------------------------------------------------------------------------


@dataclass
class Dataset:
    rows: int
    clusters: list[str]
    cluster_weights: list[float]
    namespaces: list[str]
    namespace_weights: dict[str, list[float]]
    """Per cluster: each cluster has its own busy and quiet namespaces (as real deployments do), so
    the planner's independence assumption between cluster and namespace does not hold."""
    labels: list[str]
    label_weights: list[float]
    keys: list[tuple[datetime, UUID]] = field(default_factory=list)
    """(created_at, id) of every row, for cursors at any depth."""
    pairs: list[tuple[str, str]] = field(default_factory=list)
    """(cluster, namespace) pairs present in the index."""
    pair_rows: dict[tuple[str, str], int] = field(default_factory=dict)
    rare_pair: tuple[str, str] = ("", "")
    """The (cluster, namespace) pair with the fewest rows in the busiest cluster: the worst case of a
    cluster index with the namespace as a filter."""
    document_ids: list[UUID] = field(default_factory=list)

    def cluster(self, rng: random.Random) -> str:
        return rng.choices(self.clusters, self.cluster_weights)[0]

    def namespace(self, rng: random.Random, cluster: str) -> str:
        return rng.choices(self.namespaces, self.namespace_weights[cluster])[0]

    def label(self, rng: random.Random) -> str:
        return rng.choices(self.labels, self.label_weights)[0]


def _zipf(n: int, s: float = 1.0) -> list[float]:
    return [1.0 / (i + 1) ** s for i in range(n)]


def generate_rows(count: int, now: datetime, seed: int) -> tuple[Dataset, list[tuple[Any, ...]]]:
    """``count`` index rows with a realistic, skewed spread; deterministic for a seed."""
    rng = random.Random(seed)
    clusters = [f"temporal-{region}-{i}" for region in ("eu", "us", "ap", "sa") for i in range(1, 5)]
    namespaces = [f"ns-{i:02d}" for i in range(40)]
    labels = [f"{kind}-{i}" for i in range(120) for kind in ("baseline", "release", "load-test", "incident")]
    data = Dataset(
        rows=count,
        clusters=clusters,
        cluster_weights=_zipf(len(clusters)),
        namespaces=namespaces,
        namespace_weights={c: rng.sample(_zipf(len(namespaces), 1.1), len(namespaces)) for c in clusters},
        labels=labels,
        label_weights=_zipf(len(labels), 0.9),
    )
    versions = ["1.25.2", "1.26.2", "1.27.1", "1.27.2"]
    span = timedelta(days=730).total_seconds()
    rows: list[tuple[Any, ...]] = []
    pairs: dict[tuple[str, str], int] = {}
    for i in range(count):
        pid = uuid4()
        cluster = data.cluster(rng)
        namespace = None if rng.random() < 0.05 else data.namespace(rng, cluster)
        task_queue = None if rng.random() < 0.2 else f"tq-{rng.randrange(8)}"
        label = None if rng.random() < 0.25 else data.label(rng)
        created = now - timedelta(seconds=rng.uniform(0, span))
        end = created - timedelta(seconds=rng.uniform(0, 7200))
        start = end - timedelta(hours=rng.choice((1, 1, 1, 2, 6, 24)))
        rows.append(
            (
                pid,
                f"profile {i}",
                label,
                cluster,
                namespace,
                namespace or "",
                task_queue,
                start,
                end,
                created,
                f"profiles/{pid}.json",
                rng.choice(versions),
                "0.4.1",
                f"{rng.getrandbits(40):010x}",
                rng.randint(25, 33),
                33,
            )
        )
        data.keys.append((created, pid))
        if namespace:
            pairs[(cluster, namespace)] = pairs.get((cluster, namespace), 0) + 1
    data.pairs = sorted(pairs)
    data.pair_rows = pairs
    data.rare_pair = min((p for p in pairs if p[0] == clusters[0]), key=lambda p: (pairs[p], p))
    return data, rows


async def bulk_load(dsn: str, rows: list[tuple[Any, ...]], rng: random.Random) -> float:
    """COPY the rows, add one baseline per (cluster, namespace key), ANALYZE; returns the seconds."""
    t0 = time.perf_counter()
    conn = await asyncpg.connect(dsn)
    try:
        await conn.copy_records_to_table(PROFILES_TABLE, records=rows, columns=list(COLUMNS))
        chosen: dict[tuple[str, str], tuple[UUID, datetime]] = {}
        for row in rows:
            key = (row[3], row[5])
            if key not in chosen or rng.random() < 0.1:
                chosen[key] = (row[0], row[9])
        await conn.copy_records_to_table(
            BASELINES_TABLE,
            records=[(c, n, pid, at) for (c, n), (pid, at) in chosen.items()],
            columns=["cluster_id", "namespace_key", "profile_id", "designated_at"],
        )
        await conn.execute(f"ANALYZE {PROFILES_TABLE}")
        await conn.execute(f"ANALYZE {BASELINES_TABLE}")
    finally:
        await conn.close()
    return time.perf_counter() - t0


async def create_real_profiles(http: httpx.AsyncClient, placements: list[Placement]) -> list[dict[str, Any]]:
    """Two profiles created through the API from the backfilled demo windows; their full documents."""
    documents = []
    for scenario in ("healthy-150wps", "failing-400wps"):
        p = next(p for p in placements if p.scenario == scenario and p.namespace == "default")
        response = await http.post(
            "/profiles",
            json={
                "name": f"bench {scenario}",
                "cluster_id": p.cluster,
                "namespace": p.namespace,
                "task_queue": p.task_queue,
                "time_window_start": p.start.isoformat(),
                "time_window_end": (p.start + p.duration).isoformat(),
            },
        )
        response.raise_for_status()
        got = await http.get(f"/profiles/{response.json()['id']}")
        got.raise_for_status()
        documents.append(got.json())
    return documents


def write_documents(
    stack: LocalStack, data: Dataset, rows: list[tuple[Any, ...]], templates: list[dict[str, Any]], count: int
) -> float:
    """Give ``count`` rows a real S3 document: a template with the row's identity. Returns seconds."""
    t0 = time.perf_counter()
    rng = random.Random(7)
    s3 = stack.s3_client()
    for n, row in enumerate(rng.sample(rows, min(count, len(rows)))):
        doc = dict(templates[n % len(templates)])
        doc.pop("is_baseline", None)
        doc.update(
            id=str(row[0]),
            name=row[1],
            label=row[2],
            cluster_id=row[3],
            namespace=row[4],
            task_queue=row[6],
            time_window_start=row[7].isoformat(),
            time_window_end=row[8].isoformat(),
            created_at=row[9].isoformat(),
        )
        s3.put_object(Bucket=stack.config.s3_bucket, Key=row[10], Body=json.dumps(doc).encode())
        data.document_ids.append(row[0])
    return time.perf_counter() - t0


# --- timing -------------------------------------------------------------------------------------


class ServerTimer:
    """ASGI wrapper: the seconds the app spent on the last request (requests are sent one at a time)."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.last = 0.0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        t0 = time.perf_counter()
        await self.app(scope, receive, send)
        self.last = time.perf_counter() - t0


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    """Nearest-rank percentile."""
    return ordered[max(0, math.ceil(q / 100 * len(ordered)) - 1)]


Request = Callable[[random.Random], Awaitable[httpx.Response]]


def request_shapes(http: httpx.AsyncClient, data: Dataset, limit: int) -> dict[str, Request]:
    """name -> a function sending one request of that shape with randomly drawn parameters."""

    def listing(params: Callable[[random.Random], dict[str, str]]) -> Request:
        def send(rng: random.Random) -> Awaitable[httpx.Response]:
            return http.get("/profiles", params={"limit": str(limit), **params(rng)})

        return send

    def cursor(rng: random.Random) -> str:
        created, pid = rng.choice(data.keys)
        return encode_cursor(created, pid)

    def pair(rng: random.Random) -> dict[str, str]:
        cluster, namespace = rng.choice(data.pairs)
        return {"cluster": cluster, "namespace": namespace}

    def get(rng: random.Random) -> Awaitable[httpx.Response]:
        return http.get(f"/profiles/{rng.choice(data.document_ids)}")

    def compare(rng: random.Random) -> Awaitable[httpx.Response]:
        a, b = rng.sample(data.document_ids, 2)
        return http.post("/profiles/compare", json={"profile_a_id": str(a), "profile_b_id": str(b)})

    rare = {"cluster": data.rare_pair[0], "namespace": data.rare_pair[1]}
    return {
        "list newest first": listing(lambda rng: {}),
        "list cluster": listing(lambda rng: {"cluster": data.cluster(rng)}),
        "list cluster+namespace": listing(pair),
        "list cluster+namespace rare": listing(lambda rng: rare),
        "list label": listing(lambda rng: {"label": data.label(rng)}),
        "list task_queue": listing(lambda rng: {"task_queue": f"tq-{rng.randrange(8)}"}),
        "list deep page (cursor)": listing(lambda rng: {"cursor": cursor(rng)}),
        "list cluster deep page": listing(lambda rng: {"cluster": data.cluster(rng), "cursor": cursor(rng)}),
        "get": get,
        "compare": compare,
    }


async def measure(timer: ServerTimer, shapes: dict[str, Request], requests: int, seed: int) -> None:
    rng = random.Random(seed)
    print(f"\n{'request':<26} {'n':>5} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8}  rows/page")
    for name, send in shapes.items():
        for _ in range(5):  # warm the connection pool and the statement cache
            await send(rng)
        times: list[float] = []
        sizes: list[int] = []
        for _ in range(requests):
            response = await send(rng)
            if response.status_code != 200:
                raise SystemExit(f"{name}: {response.status_code} {response.text[:300]}")
            times.append(timer.last * 1000)
            body = response.json()
            if isinstance(body, list):
                sizes.append(len(body))
        shown = f"{statistics.mean(sizes):.0f}" if sizes else "-"
        print(f"{name:<26} {requests:>5} {pct(times, 50):>8.2f} {pct(times, 99):>8.2f} {max(times):>8.2f}  {shown}")


async def walk_pages(http: httpx.AsyncClient, timer: ServerTimer, pages: int, limit: int) -> None:
    """Follow the next cursor from the first page on, as a client paging through the whole list does."""
    times: list[float] = []
    params: dict[str, str] = {"limit": str(limit)}
    for _ in range(pages):
        response = await http.get("/profiles", params=params)
        response.raise_for_status()
        times.append(timer.last * 1000)
        nxt = response.headers.get("X-Next-Cursor")
        if not nxt:
            break
        params = {"limit": str(limit), "cursor": nxt}
    print(
        f"walked {len(times)} pages of {limit} (rows 1..{len(times) * limit}) by next cursor: "
        f"p50 {pct(times, 50):.2f} ms, p99 {pct(times, 99):.2f} ms, last page {times[-1]:.2f} ms"
    )


# --- plans --------------------------------------------------------------------------------------


class _ExplainingConnection:
    """Stands in for a pool connection: ``fetch`` EXPLAINs the statement instead of running it."""

    def __init__(self, conn: Any, plans: list[dict[str, Any]], prefix: str) -> None:
        self._conn = conn
        self._plans = plans
        self._prefix = prefix

    def transaction(self, **kwargs: Any) -> Any:
        return self._conn.transaction(**kwargs)

    async def fetch(self, sql: str, *args: Any) -> list[Any]:
        raw = await self._conn.fetchval(f"{self._prefix} {sql}", *args)
        self._plans.append(json.loads(raw)[0])
        return []


class ExplainingPool:
    """A pool for :class:`ProfileStore` that records the plan of every ``fetch`` it is asked to run."""

    def __init__(self, conn: asyncpg.Connection, prefix: str) -> None:
        self.conn = conn
        self.prefix = prefix
        self.plans: list[dict[str, Any]] = []

    @contextlib.asynccontextmanager
    async def acquire(self) -> AsyncIterator[_ExplainingConnection]:
        yield _ExplainingConnection(self.conn, self.plans, self.prefix)


def plan_nodes(node: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield node
    for child in node.get("Plans", []):
        yield from plan_nodes(child)


@dataclass(frozen=True)
class PlanSummary:
    nodes: str
    """The access path to the profiles table, e.g. ``Index Scan using bp_created_idx``."""
    seq_scan: bool
    sorted_rows: int | None
    """Rows fed to a Sort node, None when the order comes straight from an index."""
    rows_read: int
    """Profile rows the executor looked at: kept plus removed by a filter."""

    def verdict(self, page: int) -> str:
        if self.seq_scan:
            return "SEQ SCAN"
        if self.sorted_rows is None:
            return "index order"
        # the index found every match and there are no more of them than one page: nothing to walk
        return f"index, sorts {self.sorted_rows}" if self.sorted_rows <= page else "INDEX+SORT"

    def acceptable(self, page: int) -> bool:
        return not self.seq_scan and (self.sorted_rows is None or self.sorted_rows <= page)


def describe_plan(plan: dict[str, Any]) -> PlanSummary:
    """What an ``EXPLAIN (ANALYZE, FORMAT JSON)`` plan of a list query does with the profiles table."""
    nodes = list(plan_nodes(plan["Plan"]))
    on_profiles = [n for n in nodes if n.get("Relation Name") == PROFILES_TABLE]
    on_indexes = [
        n for n in nodes if n["Node Type"] == "Bitmap Index Scan" and not n["Index Name"].startswith(BASELINES_TABLE)
    ]
    sorts = [n for n in nodes if n["Node Type"] in ("Sort", "Incremental Sort")]
    parts = [
        f"{n['Node Type']} using {n['Index Name']}" if "Index Name" in n else n["Node Type"]
        for n in [*on_profiles, *on_indexes]
    ]
    read = sum(int(n.get("Actual Rows", 0)) + int(n.get("Rows Removed by Filter", 0)) for n in on_profiles)
    return PlanSummary(
        nodes=" + ".join([*parts, *(n["Node Type"] for n in sorts)]),
        seq_scan=any(n["Node Type"] == "Seq Scan" for n in on_profiles),
        sorted_rows=sum(int(n["Plans"][0].get("Actual Rows", 0)) for n in sorts) if sorts else None,
        rows_read=read,
    )


def plan_shapes(data: Dataset) -> list[tuple[str, ProfileFilter, str | None]]:
    rng = random.Random(3)
    middle = data.keys[len(data.keys) // 2]
    busy = max(data.pair_rows, key=lambda p: data.pair_rows[p])
    small = data.pairs[len(data.pairs) // 2]
    return [
        ("newest first", ProfileFilter(), None),
        ("cluster (busiest)", ProfileFilter(cluster_id=data.clusters[0]), None),
        ("cluster (quietest)", ProfileFilter(cluster_id=data.clusters[-1]), None),
        (f"cluster+ns ({data.pair_rows[busy]} rows)", ProfileFilter(cluster_id=busy[0], namespace=busy[1]), None),
        (f"cluster+ns ({data.pair_rows[small]} rows)", ProfileFilter(cluster_id=small[0], namespace=small[1]), None),
        (
            f"cluster+ns ({data.pair_rows[data.rare_pair]} rows)",
            ProfileFilter(cluster_id=data.rare_pair[0], namespace=data.rare_pair[1]),
            None,
        ),
        ("label", ProfileFilter(label=data.label(rng)), None),
        ("task_queue", ProfileFilter(task_queue="tq-3"), None),
        ("newest first, deep cursor", ProfileFilter(), encode_cursor(*middle)),
        ("cluster, deep cursor", ProfileFilter(cluster_id=data.clusters[0]), encode_cursor(*middle)),
    ]


async def explain_shapes(dsn: str, data: Dataset, page: int) -> bool:
    """Print the plan of every list shape; True when none walks or sorts more than it returns."""
    prefix = "EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON)"
    conn = await asyncpg.connect(dsn)
    fine = True
    try:
        print(
            f"\n{'list shape (page ' + str(page) + ')':<30} {'plan':<8} {'exec ms':>8} {'rows read':>9}  "
            f"{'order from':<16} access to {PROFILES_TABLE}"
        )
        for name, filters, cursor in plan_shapes(data):
            for mode in ("custom", "generic"):
                await conn.execute(f"SET plan_cache_mode = force_{mode}_plan")
                pool = ExplainingPool(conn, prefix)
                store = ProfileStore(s3=None, bucket="-", pool=pool)  # type: ignore[arg-type]
                await store.list(filters, limit=page, cursor=cursor)
                plan = pool.plans[0]
                summary = describe_plan(plan)
                fine &= summary.acceptable(page + 1)
                print(
                    f"{name:<30} {mode:<8} {plan['Execution Time']:>8.2f} {summary.rows_read:>9}  "
                    f"{summary.verdict(page + 1):<16} {summary.nodes}"
                )
    finally:
        await conn.close()
    return fine


# --- main ---------------------------------------------------------------------------------------


async def run(args: argparse.Namespace, stack: LocalStack, placements: list[Placement], now: datetime) -> None:
    data, rows = generate_rows(args.rows, now, args.seed)
    settings = settings_of(stack.env())
    app = create_app(settings)
    timer = ServerTimer(app)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=timer), base_url="http://bench", timeout=120) as http,
    ):
        # one JSON line per request on stderr would drown the figures; its cost is not server time here
        logging.getLogger("copilot.request").setLevel(logging.WARNING)
        templates = await create_real_profiles(http, placements)
        seconds = await bulk_load(stack.postgres_url, rows, random.Random(args.seed))
        print(f"COPY of {len(rows):,} index rows + baselines + ANALYZE: {seconds:.1f}s")
        seconds = write_documents(stack, data, rows, templates, args.documents)
        print(f"{len(data.document_ids)} real S3 documents (copies of 2 real profiles) written in {seconds:.1f}s")
        conn = await asyncpg.connect(stack.postgres_url)
        try:
            size = await conn.fetchval(f"SELECT pg_size_pretty(pg_total_relation_size('{PROFILES_TABLE}'))")
            total = await conn.fetchval(f"SELECT count(*) FROM {PROFILES_TABLE}")
        finally:
            await conn.close()
        print(
            f"index: {total:,} rows ({size} with indexes), {len(data.clusters)} clusters, "
            f"{len(data.pairs)} cluster/namespace pairs, {len(data.labels)} labels"
        )
        if args.requests > 0:
            await measure(timer, request_shapes(http, data, args.limit), args.requests, args.seed)
        if args.pages > 0:
            await walk_pages(http, timer, args.pages, args.limit)
    fine = await explain_shapes(stack.postgres_url, data, args.limit)
    print(
        "\nevery list shape is found by an index and read in newest-first order from it (or sorts at most one page)"
        if fine
        else "\nSOME LIST SHAPES SCAN OR SORT MORE THAN A PAGE"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000, help="index rows to bulk-load")
    parser.add_argument("--documents", type=int, default=100, help="rows that get a real S3 document")
    parser.add_argument("--requests", type=int, default=300, help="timed requests per shape (0: plans only)")
    parser.add_argument("--pages", type=int, default=200, help="pages to walk by next cursor")
    parser.add_argument("--limit", type=int, default=50, help="page size of the list requests")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    now = datetime.now(UTC)
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs, rows={args.rows:,}")
    with (
        tempfile.TemporaryDirectory(prefix="bp-bench-") as state,
        bench_stack(Path(state), now=now) as (
            stack,
            placements,
        ),
    ):
        asyncio.run(run(args, stack, placements, now))


if __name__ == "__main__":
    main()
