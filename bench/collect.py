"""Profile collection at scale: our collector against the naive query set run one after another.

Starts its own stack (PostgreSQL in a database of its own, SeaweedFS S3, Prometheus; free ports, a
temporary directory), backfills Prometheus with 24 hours of the simulator's ``healthy-150wps``
scenario in ``--namespaces`` namespaces of one cluster (``default`` at full load, the others at 0.4;
about 140 series each) at ``--scrape`` seconds, and starts the API as its own process
(``python -m copilot serve``). Then, for each window (1 h, 6 h, 24 h ending at the end of the data) and
each scope (one namespace and task queue, and the whole cluster), median of ``--runs`` runs:

* ``collector``: what ``POST /profiles`` runs (one query per histogram family, shared ratio parts,
  ``--concurrency`` queries in flight over one keep-alive client, percentiles computed locally, and
  the summaries), called in this process;
* ``same, serial``: the same collector with one query in flight;
* ``naive serial``: one PromQL query per catalogue metric (``histogram_quantile`` per percentile,
  one ratio query per ratio metric), one after another, no summarising;
* ``Prometheus s``: the time Prometheus itself spent evaluating the queries of each of those, read
  from its own ``prometheus_engine_query_duration_seconds`` (all slices) before and after.

Last, ``POST /profiles`` of the 24 h window is sent to the API process for each scope: wall time,
Prometheus time, and the API process's peak resident memory during the request (its peak is reset
through ``/proc/<pid>/clear_refs`` before each request and read from ``VmHWM`` after).

Usage::

    uv run python bench/collect.py [--namespaces 113] [--scrape 60] [--runs 3] [--concurrency 4]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path

import asyncpg
import httpx

from behaviour_profiles.catalogue import CATALOGUE, Dialect, Direct, Quantile, Ratio
from behaviour_profiles.telemetry import (
    PrometheusClient,
    QueryPlan,
    Scope,
    TelemetryCollector,
    plan_window,
    render,
)
from copilot.dev.local import load_scenarios
from copilot.dev.simulator import Placement
from copilot.dev.stack import LocalStack, StackConfig, ensure_prometheus
from copilot.index import apply_schema
from copilot.settings import Settings

CLUSTER = "temporal-dev"
SCOPES = {
    "namespace": Scope(CLUSTER, "default", "main-queue"),
    "cluster": Scope(CLUSTER, None, None),
}


def naive_queries(scope: Scope, rate_window: int) -> list[str]:
    out = []
    for spec in CATALOGUE:
        comp = spec.computation
        if isinstance(comp, Direct):
            out.append(render(comp.query, Dialect.OPENTELEMETRY, scope, rate_window))
        elif isinstance(comp, Ratio):
            num = render(comp.numerator, Dialect.OPENTELEMETRY, scope, rate_window)
            den = render(comp.denominator, Dialect.OPENTELEMETRY, scope, rate_window)
            out.append(f"({num}) / ({den})")
        elif isinstance(comp, Quantile):
            buckets = render(comp.buckets, Dialect.OPENTELEMETRY, scope, rate_window)
            out.append(f"histogram_quantile({comp.q}, {buckets})")
    return out


async def prometheus_seconds(http: httpx.AsyncClient, url: str) -> float:
    """Seconds Prometheus's query engine has spent so far (every slice: queue, prepare, eval, sort)."""
    text = (await http.get(f"{url}/metrics")).text
    total = 0.0
    for line in text.splitlines():
        if line.startswith("prometheus_engine_query_duration_seconds_sum"):
            total += float(line.rsplit(" ", 1)[1])
    return total


@dataclass
class Timed:
    wall: float
    prometheus: float


async def timed(http: httpx.AsyncClient, url: str, work: Callable[[], Awaitable[object]]) -> Timed:
    before = await prometheus_seconds(http, url)
    t0 = time.perf_counter()
    await work()
    wall = time.perf_counter() - t0
    return Timed(wall, await prometheus_seconds(http, url) - before)


def median(values: list[Timed]) -> Timed:
    return Timed(statistics.median(v.wall for v in values), statistics.median(v.prometheus for v in values))


async def compare_collectors(prom_url: str, end: datetime, args: argparse.Namespace) -> None:
    async with httpx.AsyncClient() as http:
        client = PrometheusClient(http, prom_url, timeout_s=300)
        collector = TelemetryCollector(
            client, scrape_interval_s=args.scrape, cluster_label="cluster", concurrency=args.concurrency
        )
        sequential = TelemetryCollector(client, scrape_interval_s=args.scrape, cluster_label="cluster", concurrency=1)
        print(
            f"\n{'scope':<9} {'window':>6}  {'collector s':>11} {'(Prom s)':>8}  "
            f"{'same, serial s':>14} {'(Prom s)':>8}  "
            f"{'naive serial s':>14} {'(Prom s)':>8}  {'naive/collector':>15}  {'Prom naive/ours':>15}  "
            "queries (ours/naive)"
        )
        for scope_name, target in SCOPES.items():
            for hours in args.windows:
                start = end - timedelta(hours=hours)
                plan = plan_window(start, end, args.scrape)
                scoped = Scope(target.cluster_id, target.namespace, target.task_queue, cluster_label="cluster")
                ours_n = len(collector.queries(Dialect.OPENTELEMETRY, scoped, plan))
                naive = naive_queries(scoped, plan.rate_window)
                ours: list[Timed] = []
                serial: list[Timed] = []
                plain: list[Timed] = []

                async def run_naive(naive: list[str] = naive, plan: QueryPlan = plan) -> None:
                    for promql in naive:
                        await client.query_range(promql, plan)

                await collector.collect(target, start, end)  # warm Prometheus's page cache and the client
                for _ in range(args.runs):
                    ours.append(await timed(http, prom_url, partial(collector.collect, target, start, end)))
                    serial.append(await timed(http, prom_url, partial(sequential.collect, target, start, end)))
                    plain.append(await timed(http, prom_url, run_naive))
                a, s, b = median(ours), median(serial), median(plain)
                print(
                    f"{scope_name:<9} {hours:>5}h  {a.wall:>11.3f} {a.prometheus:>8.3f}  "
                    f"{s.wall:>14.3f} {s.prometheus:>8.3f}  "
                    f"{b.wall:>14.3f} {b.prometheus:>8.3f}  {b.wall / a.wall:>14.1f}x  "
                    f"{b.prometheus / max(a.prometheus, 1e-9):>14.1f}x  {ours_n}/{len(naive)}"
                )


def read_status(pid: int) -> dict[str, str]:
    lines = Path(f"/proc/{pid}/status").read_text().splitlines()
    return {k: v.strip() for k, _, v in (line.partition(":") for line in lines)}


def reset_peak_rss(pid: int) -> None:
    """Reset the process's peak resident set size (VmHWM) to its current size (Linux >= 4.0)."""
    Path(f"/proc/{pid}/clear_refs").write_text("5")


async def create_through_api(api_url: str, prom_url: str, pid: int, end: datetime, hours: int) -> None:
    print(f"\nPOST /profiles of the last {hours} h to the API process (pid {pid}):")
    start = end - timedelta(hours=hours)
    async with httpx.AsyncClient(base_url=api_url, timeout=600) as http:
        rss = read_status(pid)["VmRSS"]
        print(f"  API process resident before the first profile: {rss}")
        for name, scope in SCOPES.items():
            body = {
                "name": f"bench {name} {hours}h",
                "cluster_id": scope.cluster_id,
                "time_window_start": start.isoformat(),
                "time_window_end": end.isoformat(),
            }
            if scope.namespace:
                body.update(namespace=scope.namespace, task_queue=scope.task_queue or "")
            for attempt in ("first", "second"):
                reset_peak_rss(pid)
                response: httpx.Response | None = None

                async def send(body: dict[str, str] = body) -> None:
                    nonlocal response
                    response = await http.post("/profiles", json=body)

                result = await timed(http, prom_url, send)
                assert response is not None
                if response.status_code != 201:
                    raise SystemExit(f"POST /profiles answered {response.status_code}: {response.text[:400]}")
                status = read_status(pid)
                print(
                    f"  {name:<9} {attempt:<6}: {result.wall:.3f}s wall, Prometheus {result.prometheus:.3f}s, "
                    f"API peak RSS during the request {status['VmHWM']} (resident after {status['VmRSS']})"
                )


async def _drop_database(port: int, name: str) -> None:
    conn = await asyncpg.connect(host="127.0.0.1", port=port, user="postgres", database="postgres", timeout=10)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--namespaces", type=int, default=113, help="about 140 series each; 113 -> ~16,000")
    parser.add_argument("--scrape", type=int, default=60, help="scrape interval of the backfilled data, seconds")
    parser.add_argument("--windows", type=int, nargs="+", default=[1, 6, 24], help="window lengths, hours")
    parser.add_argument("--no-api", action="store_true", help="skip POST /profiles through the API process")
    args = parser.parse_args()
    ensure_prometheus()
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs, load average {os.getloadavg()}")
    end = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - timedelta(hours=1)
    start = end - timedelta(hours=24)
    with tempfile.TemporaryDirectory(prefix="bp-collect-") as state:
        config = StackConfig.isolated(Path(state), f"bp_collect_{os.getpid()}")
        stack = LocalStack(config)
        try:
            namespaces = ["default", *(f"ns-{i}" for i in range(1, args.namespaces))]
            placements = [
                Placement("healthy-150wps", ns, start, timedelta(hours=24), load_factor=1.0 if i == 0 else 0.4)
                for i, ns in enumerate(namespaces)
            ]
            t0 = time.perf_counter()
            load_scenarios(stack, placements, scrape_interval_s=args.scrape)
            print(
                f"simulated and backfilled 24 h x {len(namespaces)} namespaces at {args.scrape}s "
                f"in {time.perf_counter() - t0:.0f}s"
            )
            url = stack.start_prometheus()
            answer = httpx.get(
                f"{url}/api/v1/query", params={"query": "count({__name__!=''})", "time": end.timestamp()}
            )
            series = answer.json()["data"]["result"][0]["value"][1]
            print(f"Prometheus holds {int(series):,} series at the window end")
            asyncio.run(compare_collectors(url, end, args))
            if not args.no_api:
                stack.start_postgres()
                stack.start_s3()
                env = stack.env()
                settings = Settings(_env_file=None, copilot_dsql_endpoint=env["COPILOT_DSQL_ENDPOINT"])
                asyncio.run(apply_schema(settings))
                os.environ["PROMETHEUS_SCRAPE_INTERVAL_SECONDS"] = str(args.scrape)
                os.environ["PROMETHEUS_QUERY_TIMEOUT_SECONDS"] = "300"
                os.environ["PROMETHEUS_QUERY_CONCURRENCY"] = str(args.concurrency)
                api = stack.start_api()
                pid = int(stack.status()["api"].split("pid ")[1].split()[0])
                asyncio.run(create_through_api(api, url, pid, end, max(args.windows)))
        finally:
            try:
                stack.down()
            finally:
                with contextlib.suppress(OSError, asyncpg.PostgresError):
                    asyncio.run(_drop_database(config.postgres_port, config.database))


if __name__ == "__main__":
    main()
