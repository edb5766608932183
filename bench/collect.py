"""Profile collection speed: our collector against the naive query set run one after another.

Starts its own Prometheus (free port, temporary directory) backfilled by the simulator with 24 hours of
the healthy scenario in two namespaces, then for 1 h, 6 h and 24 h windows times:

* ``collector``: what `POST /profiles` runs (one query per histogram family, shared ratio parts,
  bounded concurrency over one keep-alive client, percentiles computed locally);
* ``naive``: one PromQL query per catalogue metric (``histogram_quantile`` per percentile, a ratio per
  ratio metric), run one after another.

Prints the median of several runs of each, and their ratio. Usage::

    uv run python bench/collect.py [--runs 5] [--concurrency 4]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx

from behaviour_profiles.catalogue import CATALOGUE, Dialect, Direct, Quantile, Ratio
from behaviour_profiles.telemetry import PrometheusClient, Scope, TelemetryCollector, plan_window, render
from copilot.dev.local import load_scenarios
from copilot.dev.simulator import Placement
from copilot.dev.stack import LocalStack, StackConfig, ensure_prometheus, free_port

SCRAPE = 30


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


async def run(prom_url: str, end: datetime, runs: int, concurrency: int) -> None:
    scope = Scope("temporal-dev", "default", "main-queue", cluster_label="cluster")
    async with httpx.AsyncClient() as http:
        client = PrometheusClient(http, prom_url, timeout_s=120)
        collector = TelemetryCollector(
            client, scrape_interval_s=SCRAPE, cluster_label="cluster", concurrency=concurrency
        )
        sequential = TelemetryCollector(client, scrape_interval_s=SCRAPE, cluster_label="cluster", concurrency=1)
        print(
            f"{'window':>6}  {'collector s':>11}  {'same, serial s':>14}  {'naive serial s':>14}  "
            f"{'naive/collector':>15}  queries (ours/naive)"
        )
        for hours in (1, 6, 24):
            start = end - timedelta(hours=hours)
            plan = plan_window(start, end, SCRAPE)
            ours_n = len(collector.queries(Dialect.OPENTELEMETRY, scope, plan))
            naive = naive_queries(scope, plan.rate_window)
            ours_t, serial_t, naive_t = [], [], []
            target = Scope("temporal-dev", "default", "main-queue")
            for _ in range(runs):
                t0 = time.perf_counter()
                summary = await collector.collect(target, start, end)
                ours_t.append(time.perf_counter() - t0)
                assert summary.coverage.with_data > 0
                t0 = time.perf_counter()
                await sequential.collect(target, start, end)
                serial_t.append(time.perf_counter() - t0)
                t0 = time.perf_counter()
                for promql in naive:
                    await client.query_range(promql, plan)
                naive_t.append(time.perf_counter() - t0)
            a, s, b = (statistics.median(t) for t in (ours_t, serial_t, naive_t))
            print(f"{hours:>5}h  {a:>11.3f}  {s:>14.3f}  {b:>14.3f}  {b / a:>14.1f}x  {ours_n}/{len(naive)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--namespaces", type=int, default=2, help="More namespaces, more series in Prometheus")
    args = parser.parse_args()
    ensure_prometheus()
    end = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - timedelta(hours=1)
    start = end - timedelta(hours=24)
    with tempfile.TemporaryDirectory() as state:
        stack = LocalStack(StackConfig(state_dir=Path(state), prometheus_port=free_port()))
        try:
            namespaces = ["default", *(f"ns-{i}" for i in range(1, args.namespaces))]
            placements = [
                Placement("healthy-150wps", ns, start, timedelta(hours=24), load_factor=1.0 if i == 0 else 0.4)
                for i, ns in enumerate(namespaces)
            ]
            t0 = time.perf_counter()
            load_scenarios(stack, placements, scrape_interval_s=SCRAPE)
            print(f"backfilled 24 h x {len(namespaces)} namespaces at {SCRAPE}s in {time.perf_counter() - t0:.1f}s")
            url = stack.start_prometheus()
            series = httpx.get(
                f"{url}/api/v1/query", params={"query": "count({__name__!=''})", "time": end.timestamp()}
            )
            print(f"Prometheus holds {series.json()['data']['result'][0]['value'][1]} series at the window end")
            asyncio.run(run(url, end, args.runs, args.concurrency))
        finally:
            stack.down()


if __name__ == "__main__":
    main()
