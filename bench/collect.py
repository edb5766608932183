"""Profile collection at scale: our collector against the naive query set run one after another.

Starts its own stack (PostgreSQL in a database of its own, SeaweedFS S3, Prometheus; free ports, a
temporary directory), backfills Prometheus with 24 hours of the simulator's ``healthy-150wps``
scenario in ``--namespaces`` x ``--task-queues`` placements of one cluster (namespace ``default``,
task queue ``main-queue`` at full load, the others at 0.4) at ``--scrape`` seconds, records the
catalogue's recording rules over those 24 hours (``promtool tsdb create-blocks-from rules``), and
starts the API as its own process (``python -m copilot serve``).

First, the breakdown of one 24 h whole-cluster collection, query by query, for the raw and the
recorded query sets: Prometheus's own samples read and evaluation time (``stats=all``), the HTTP
round trip, and the API-side time to decode the JSON and turn it into series; then the critical path
(the slowest query) and the time Prometheus needs to read every family once (the sum of the raw
set's evaluation times, spread over the machine's cores).

Then, for each window (``--windows``, ending at the end of the data) and each scope (one namespace and
task queue, and the whole cluster), median of ``--runs`` runs, interleaved:

* ``recorded``: what ``POST /profiles`` runs, reading the recorded series;
* ``collector``: the same collector told not to use them (raw series: one query per histogram family,
  shared ratio parts, ``--concurrency`` queries in flight over one keep-alive client, percentiles
  computed locally, and the summaries), called in this process;
* ``naive serial``: one PromQL query per catalogue metric, unsplit (``histogram_quantile`` per percentile,
  one ratio query per ratio metric), one after another, no summarising;
* ``Prometheus s``: the time Prometheus itself spent evaluating the queries of each of those, read
  from its own ``prometheus_engine_query_duration_seconds`` (all slices) before and after.

Last, ``POST /profiles`` of the 24 h window is sent to the API process for each scope, once and then
``--runs`` more times: wall time and Prometheus time of the first and the median of the others, and
the API process's largest peak resident memory during a request (its peak is reset
through ``/proc/<pid>/clear_refs`` before each request and read from ``VmHWM`` after).

Usage::

    uv run python bench/collect.py [--namespaces 8] [--task-queues 8] [--scrape 15] [--runs 5] [--concurrency N]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import os
import re
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterable, Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any, TextIO
from urllib.parse import parse_qsl

import asyncpg
import httpx
import yaml

from behaviour_profiles.catalogue import (
    CATALOGUE,
    Dialect,
    Direct,
    MetricSpec,
    Quantile,
    Ratio,
    SeriesQuery,
    record_slugs,
    with_cpu_platform,
)
from behaviour_profiles.models import BehaviourProfile, ProfileCreate, ProfileMetadata
from behaviour_profiles.service import create_profile
from behaviour_profiles.telemetry import (
    FORM_LABEL,
    PrometheusClient,
    QueryPlan,
    Scope,
    TelemetryCollector,
    decode_answer,
    decode_range_answer,
    parse_matrix,
    plan_window,
    recording_rules,
    render,
    shared_part,
    summarise_catalogue,
)
from copilot.app import open_profile_services
from copilot.dev.simulator import Placement, write_openmetrics
from copilot.dev.stack import LocalStack, StackConfig, ensure_prometheus
from copilot.index import apply_schema
from copilot.settings import Settings

CLUSTER = "temporal-dev"
SCOPES = {
    "namespace": Scope(CLUSTER, "default", "main-queue"),
    "cluster": Scope(CLUSTER, None, None),
}


def naive_queries(scope: Scope, rate_window: int) -> list[str]:
    """One query per catalogue metric, as the original implementation asked: no split by contributors
    (it kept none), a ratio's parts in one query, ``histogram_quantile`` per percentile."""

    def plain(query: SeriesQuery) -> str:
        return render(replace(query, split=()), Dialect.OPENTELEMETRY, scope, rate_window)

    out = []
    for spec in CATALOGUE:
        comp = spec.computation
        if isinstance(comp, Direct):
            out.append(plain(comp.query))
        elif isinstance(comp, Ratio):
            out.append(f"({plain(comp.numerator)}) / ({plain(comp.denominator)})")
        elif isinstance(comp, Quantile):
            out.append(f"histogram_quantile({comp.q}, {plain(comp.buckets)})")
    return out


async def prometheus_seconds(http: httpx.AsyncClient, url: str) -> tuple[float, float]:
    """Seconds Prometheus's query engine has spent so far (every slice: queue, prepare, eval, sort), and
    the CPU seconds of the Prometheus process (``process_cpu_seconds_total``: its query engine, its Go
    garbage collector, the HTTP answers' encoding, scraping)."""
    text = (await http.get(f"{url}/metrics")).text
    engine = cpu = 0.0
    for line in text.splitlines():
        if line.startswith("prometheus_engine_query_duration_seconds_sum"):
            engine += float(line.rsplit(" ", 1)[1])
        elif line.startswith("process_cpu_seconds_total "):
            cpu = float(line.rsplit(" ", 1)[1])
    return engine, cpu


@dataclass
class Timed:
    wall: float
    prometheus: float
    prometheus_cpu: float = 0.0
    """the Prometheus process's CPU seconds"""
    own_cpu: float = 0.0
    """this process's CPU seconds: the collector's own work (answers read, summaries), the HTTP client"""


async def timed(http: httpx.AsyncClient, url: str, work: Callable[[], Awaitable[object]]) -> Timed:
    engine, cpu = await prometheus_seconds(http, url)
    c0, t0 = time.process_time(), time.perf_counter()
    await work()
    wall, own = time.perf_counter() - t0, time.process_time() - c0
    engine_after, cpu_after = await prometheus_seconds(http, url)
    return Timed(wall, engine_after - engine, cpu_after - cpu, own)


def median(values: list[Timed]) -> Timed:
    return Timed(
        statistics.median(v.wall for v in values),
        statistics.median(v.prometheus for v in values),
        statistics.median(v.prometheus_cpu for v in values),
        statistics.median(v.own_cpu for v in values),
    )


def cpu_bound(ours: Timed, naive: Timed, cores: int) -> str:
    """Where the raw collector stands against the machine: on ``cores`` cores shared by Prometheus and the
    collector, it cannot take less than their CPU seconds spread over all cores, so no collector reading
    every sample can beat the naive set by more than ``naive wall / that``."""
    floor = (ours.prometheus_cpu + ours.own_cpu) / cores
    return (
        f"CPU of the raw collector: Prometheus {ours.prometheus_cpu:.3f}s + collector {ours.own_cpu:.3f}s "
        f"= {floor:.3f}s over {cores} cores at best (wall {ours.wall:.3f}s); naive serial: Prometheus "
        f"{naive.prometheus_cpu:.3f}s + {naive.own_cpu:.3f}s; naive/collector at that CPU at most "
        f"{naive.wall / floor:.1f}x"
    )


async def compare_collectors(prom_url: str, end: datetime, args: argparse.Namespace) -> None:
    async with httpx.AsyncClient() as http:
        client = PrometheusClient(http, prom_url, timeout_s=300)
        recorded, collector, every_bucket = (
            TelemetryCollector(
                client,
                scrape_interval_s=args.scrape,
                cluster_label="cluster",
                concurrency=args.concurrency,
                use_recorded=recorded_series,
                narrow_buckets=narrow,
            )
            for recorded_series, narrow in ((True, True), (False, True), (False, False))
        )
        print(
            f"\n{'scope':<9} {'window':>6}  {'recorded s':>10} {'(Prom s)':>8}  {'collector s':>11} {'(Prom s)':>8}  "
            f"{'naive serial s':>14} {'(Prom s)':>8}  {'naive/collector':>15}  {'naive/recorded':>14}  "
            "queries (ours/naive)"
        )
        for scope_name, target in SCOPES.items():
            for hours in args.windows:
                start = end - timedelta(hours=hours)
                plan = plan_window(start, end, args.scrape)
                scoped = Scope(target.cluster_id, target.namespace, target.task_queue, cluster_label="cluster")
                ours_n = len({ask.promql for ask in collector.queries(Dialect.OPENTELEMETRY, scoped, plan).values()})
                naive = naive_queries(scoped, plan.rate_window)
                fast: list[Timed] = []
                ours: list[Timed] = []
                plain: list[Timed] = []
                whole: list[Timed] = []

                async def run_naive(naive: list[str] = naive, plan: QueryPlan = plan) -> None:
                    for promql in naive:
                        await client.query_range(promql, plan)

                await collector.collect(target, start, end)  # warm Prometheus's page cache and the client
                await recorded.collect(target, start, end)
                for _ in range(args.runs):
                    fast.append(await timed(http, prom_url, partial(recorded.collect, target, start, end)))
                    ours.append(await timed(http, prom_url, partial(collector.collect, target, start, end)))
                    plain.append(await timed(http, prom_url, run_naive))
                    whole.append(await timed(http, prom_url, partial(every_bucket.collect, target, start, end)))
                f, a, b, e = median(fast), median(ours), median(plain), median(whole)
                print(
                    f"{scope_name:<9} {hours:>5}h  {f.wall:>10.3f} {f.prometheus:>8.3f}  "
                    f"{a.wall:>11.3f} {a.prometheus:>8.3f}  "
                    f"{b.wall:>14.3f} {b.prometheus:>8.3f}  {b.wall / a.wall:>14.1f}x  "
                    f"{b.wall / f.wall:>13.1f}x  {ours_n}/{len(naive)}"
                )
                print(f"  {cpu_bound(a, b, os.cpu_count() or 1)}")
                print(
                    f"  raw collector reading every bucket (narrow_buckets=False): {e.wall:.3f}s "
                    f"(Prom {e.prometheus:.3f}s), naive/it {b.wall / e.wall:.1f}x;\n  "
                    f"{cpu_bound(e, b, os.cpu_count() or 1)}"
                )
        end_scope = SCOPES["cluster"]
        start = end - timedelta(hours=max(args.windows))
        by_rules = await recorded.collect(end_scope, start, end)
        by_raw = await collector.collect(end_scope, start, end)
        worst = max(
            (
                abs(r.mean - w.mean) / abs(w.mean)
                for key, r in by_rules.metrics.items()
                if (w := by_raw.metrics[key]).mean and r.mean is not None
            ),
            default=0.0,
        )
        print(
            f"recorded vs raw, whole cluster {max(args.windows)} h: largest difference of a metric's mean {worst:.3%}"
        )
        print(f"  {next((n for n in by_rules.notes if n.startswith('Recording rules')), 'no recorded series found')}")


async def in_flight(prom_url: str, end: datetime, args: argparse.Namespace) -> None:
    """The raw collector of the whole cluster over the longest window at each in-flight limit (``--sweep``),
    interleaved: median of ``--runs``."""
    hours = max(args.windows)
    start = end - timedelta(hours=hours)
    scope = SCOPES["cluster"]
    async with httpx.AsyncClient() as http:
        client = PrometheusClient(http, prom_url, timeout_s=300)
        collectors = {
            limit: TelemetryCollector(
                client, scrape_interval_s=args.scrape, cluster_label="cluster", concurrency=limit, use_recorded=False
            )
            for limit in args.sweep
        }
        times: dict[int, list[Timed]] = {limit: [] for limit in collectors}
        loads: list[float] = []
        for collector in collectors.values():
            await collector.collect(scope, start, end)  # warm Prometheus's page cache and the client
        for _ in range(args.runs):
            for limit, collector in collectors.items():
                times[limit].append(await timed(http, prom_url, partial(collector.collect, scope, start, end)))
            loads.append(os.getloadavg()[0])
        print(f"\nraw collector, whole cluster, {hours} h, by queries in flight (median of {args.runs}, interleaved):")
        for limit, values in times.items():
            m = median(values)
            walls = ", ".join(f"{v.wall:.2f}" for v in values)
            print(f"  {limit} in flight: {m.wall:.3f}s wall, Prometheus {m.prometheus:.3f}s  (runs: {walls})")
        print(f"  load average (1 min) after each round: {', '.join(f'{x:.1f}' for x in loads)}")


@dataclass
class QueryCost:
    label: str
    samples: int
    eval_s: float
    http_s: float
    decode_s: float
    convert_s: float
    points: int
    promql: str


async def ask_with_stats(http: httpx.AsyncClient, prom_url: str, promql: str, plan: QueryPlan) -> httpx.Response:
    """``promql`` over the plan's grid, with Prometheus's own figures (``stats=all``) in the answer."""
    params = {"query": promql, "start": f"{plan.start:.3f}", "end": f"{plan.end:.3f}", "step": str(plan.step)}
    return await http.post(f"{prom_url}/api/v1/query_range", data=params | {"stats": "all"})


def stats_of(response: httpx.Response) -> dict[str, Any]:
    """The ``stats`` part of an answer to :func:`ask_with_stats` (empty when the server sent none)."""
    stats: dict[str, Any] = decode_answer(response.content)["data"].get("stats", {})
    return stats


async def breakdown(prom_url: str, end: datetime, args: argparse.Namespace) -> None:
    """One whole-cluster collection of the longest window, query by query, raw and recorded."""
    hours = max(args.windows)
    start = end - timedelta(hours=hours)
    cores = os.cpu_count() or 1
    async with httpx.AsyncClient(timeout=300) as http:
        client = PrometheusClient(http, prom_url, timeout_s=300)
        collector = TelemetryCollector(client, scrape_interval_s=args.scrape, cluster_label="cluster")
        plan = plan_window(start, end, args.scrape)
        scope = Scope(CLUSTER, None, None, cluster_label="cluster")
        found = (await collector.detect_recorded(plan, scope, Dialect.OPENTELEMETRY)).found
        slugs = record_slugs()
        sets = {
            "raw": collector.queries(Dialect.OPENTELEMETRY, scope, plan),
            "recorded": collector.queries(Dialect.OPENTELEMETRY, scope, plan, recorded=found),
        }
        for name, queries in sets.items():
            costs: list[QueryCost] = []
            sharing: dict[str, list[SeriesQuery]] = {}
            for query, ask in queries.items():
                sharing.setdefault(ask.promql, []).append(query)
            for promql, sharers in sharing.items():
                t0 = time.perf_counter()
                response = await ask_with_stats(http, prom_url, promql, plan)
                t1 = time.perf_counter()
                result = decode_range_answer(response.content)["data"]["result"]
                t2 = time.perf_counter()
                for query in sharers:
                    parse_matrix(query, shared_part(queries[query], result))
                t3 = time.perf_counter()
                stats = stats_of(response)
                recorded_mark = " (recorded)" if sharers[0] in found and name == "recorded" else ""
                costs.append(
                    QueryCost(
                        " + ".join(slugs.get(query, "?") for query in sharers) + recorded_mark,
                        int(stats.get("samples", {}).get("totalQueryableSamples", 0)),
                        float(stats.get("timings", {}).get("evalTotalTime", 0.0)),
                        t1 - t0,
                        t2 - t1,
                        t3 - t2,
                        sum(len(item.values) for item in result),
                        promql,
                    )
                )
            costs.sort(key=lambda c: c.eval_s, reverse=True)
            print(f"\n{name} query set, whole cluster, {hours} h (step {plan.step}s), one query at a time:")
            print(
                f"  {'query':<44} {'samples read':>13} {'Prom eval s':>11} {'HTTP s':>7} {'decode s':>8} "
                f"{'convert s':>9} {'points':>7}"
            )
            for c in costs:
                print(
                    f"  {c.label:<44} {c.samples:>13,} {c.eval_s:>11.3f} {c.http_s:>7.3f} {c.decode_s:>8.3f} "
                    f"{c.convert_s:>9.3f} {c.points:>7,}"
                )
            total_eval = sum(c.eval_s for c in costs)
            print(
                f"  total: {sum(c.samples for c in costs):,} samples, Prometheus {total_eval:.3f}s "
                f"(over {cores} cores at best {total_eval / cores:.3f}s), HTTP {sum(c.http_s for c in costs):.3f}s, "
                f"API decode {sum(c.decode_s for c in costs):.3f}s + convert {sum(c.convert_s for c in costs):.3f}s; "
                f"critical path (slowest query) {costs[0].label}: {costs[0].http_s:.3f}s"
            )
            if name == "raw":
                await decoding_share(http, prom_url, plan, costs[0])
        results = await collector.run_queries(sets["raw"], plan)
        t0 = time.perf_counter()
        summarise_catalogue(results, Dialect.OPENTELEMETRY, plan, collector_specs())
        print(f"  API quantiles and summaries of the raw set: {time.perf_counter() - t0:.3f}s")
        await bucket_reads(http, prom_url, start, end, args)


async def bucket_reads(
    http: httpx.AsyncClient,
    prom_url: str,
    start: datetime,
    end: datetime,
    args: argparse.Namespace,
) -> None:
    """The raw histograms as the collector reads them (bucket by bucket, ``BucketNarrowing``): one
    whole-cluster raw collection's range reads of each histogram, caught on the way out, then asked again
    one at a time with Prometheus's own figures: reads, ``le`` values read, samples, evaluation."""
    sent: list[dict[str, str]] = []

    async def catch(request: httpx.Request) -> None:
        if request.url.path.endswith("/query_range"):
            sent.append(dict(parse_qsl(request.content.decode())))

    async with httpx.AsyncClient(timeout=300, event_hooks={"request": [catch]}) as watched:
        collector = TelemetryCollector(
            PrometheusClient(watched, prom_url, timeout_s=300),
            scrape_interval_s=args.scrape,
            cluster_label="cluster",
            use_recorded=False,
        )
        await collector.collect(SCOPES["cluster"], start, end)
    by_family: dict[str, list[tuple[int, float, int]]] = {}
    for params in sent:
        family = re.search(r"(\w+)_bucket\{", params["query"])
        if family is None:
            continue
        response = await http.post(f"{prom_url}/api/v1/query_range", data=params | {"stats": "all"})
        stats = stats_of(response)
        buckets = re.search(r'le=~"([^"]*)"', params["query"])
        by_family.setdefault(family.group(1), []).append(
            (
                int(stats.get("samples", {}).get("totalQueryableSamples", 0)),
                float(stats.get("timings", {}).get("evalTotalTime", 0.0)),
                len(buckets.group(1).split("|")) if buckets else 0,
            )
        )
    print("\nraw histograms as the collector reads them (a look at every bucket, then the buckets it calls for):")
    print(f"  {'histogram':<44} {'reads':>5} {'le read':>7} {'samples read':>13} {'Prom eval s':>11}")
    for name, reads in sorted(by_family.items(), key=lambda item: -sum(r[1] for r in item[1])):
        print(
            f"  {name:<44} {len(reads):>5} {sum(r[2] for r in reads):>7} {sum(r[0] for r in reads):>13,} "
            f"{sum(r[1] for r in reads):>11.3f}"
        )
    reads = [r for family_reads in by_family.values() for r in family_reads]
    print(f"  total: {sum(r[0] for r in reads):,} samples, Prometheus {sum(r[1] for r in reads):.3f}s")


async def decoding_share(http: httpx.AsyncClient, prom_url: str, plan: QueryPlan, heaviest: QueryCost) -> None:
    """How much of the heaviest raw query's evaluation is reading its samples: the same selection asked
    without ``rate`` (each step then takes one sample, but Prometheus still decodes every sample of every
    chunk on the way) against the query itself, each the best of 3."""

    async def best_eval(promql: str) -> float:
        evals = []
        for _ in range(3):
            stats = stats_of(await ask_with_stats(http, prom_url, promql, plan))
            evals.append(float(stats["timings"]["evalTotalTime"]))
        return min(evals)

    plain = await best_eval(re.sub(r"rate\((.*?)\[\d+s\]\)", r"\1", heaviest.promql))
    with_rate = await best_eval(heaviest.promql)
    print(
        f"  decoding alone: {heaviest.label} asked without rate() took {plain:.3f}s of evaluation, "
        f"{plain / with_rate:.0%} of its {with_rate:.3f}s with rate() (best of 3 each): reading the samples, "
        "not the rates"
    )


def collector_specs() -> tuple[MetricSpec, ...]:
    return with_cpu_platform(CATALOGUE, None)


def simulated(placements: list[Placement], scrape: int) -> Iterator[str]:
    """The simulator's OpenMetrics text of the placements (one task queue per namespace), line by line."""
    with tempfile.TemporaryFile("w+") as buffer:
        write_openmetrics(buffer, placements, scrape_interval_s=scrape)
        buffer.seek(0)
        yield from buffer


def widen(lines: Iterable[str], out: TextIO, queues: list[str], operations: int) -> None:
    """Copy every task-queue-scoped series to each of ``queues``, and every persistence series to
    ``operations`` operations in all (the simulator's names plus ``_<k>`` copies): the same values, more
    series, the shape of a cluster with more task queues and persistence operations."""
    base_ops = 3  # the simulator's persistence operations (Create, Update, Get)
    copies = max(0, math.ceil(operations / base_ops) - 1)
    for line in lines:
        out.write(line)
        if line.startswith("#"):
            continue
        for label in ('taskqueue="main-queue"', 'task_queue="main-queue"'):
            if label in line:
                for queue in queues:
                    out.write(line.replace(label, label.replace("main-queue", queue)))
        if line.startswith("persistence_latency") and 'operation="' in line:
            for k in range(1, copies + 1):
                out.write(re.sub(r'operation="([^"]*)"', rf'operation="\1_{k}"', line))


def stack_settings(env: dict[str, str], args: argparse.Namespace) -> dict[str, object]:
    """The stack's environment as settings fields, as the API process reads them."""
    return (
        {key.lower(): value for key, value in env.items()}
        | {
            "prometheus_scrape_interval_seconds": args.scrape,
            "prometheus_query_timeout_seconds": 300,
        }
        | ({} if args.concurrency is None else {"prometheus_query_concurrency": args.concurrency})
    )


def read_status(pid: int) -> dict[str, str]:
    lines = Path(f"/proc/{pid}/status").read_text().splitlines()
    return {k: v.strip() for k, _, v in (line.partition(":") for line in lines)}


def reset_peak_rss(pid: int) -> None:
    """Reset the process's peak resident set size (VmHWM) to its current size (Linux >= 4.0)."""
    Path(f"/proc/{pid}/clear_refs").write_text("5")


async def create_through_api(api_url: str, prom_url: str, pid: int, end: datetime, hours: int, runs: int) -> None:
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
            laps: list[Timed] = []
            peaks: list[int] = []
            for _ in range(1 + runs):
                reset_peak_rss(pid)
                response: httpx.Response | None = None

                async def send(body: dict[str, str] = body) -> None:
                    nonlocal response
                    response = await http.post("/profiles", json=body)

                laps.append(await timed(http, prom_url, send))
                assert response is not None
                if response.status_code != 201:
                    raise SystemExit(f"POST /profiles answered {response.status_code}: {response.text[:400]}")
                peaks.append(int(read_status(pid)["VmHWM"].split()[0]))
            first, rest = laps[0], laps[1:]
            after = median(rest)
            walls = [t.wall for t in rest]
            print(
                f"  {name:<9} first: {first.wall:.3f}s wall (Prometheus {first.prometheus:.3f}s); then median of "
                f"{runs}: {after.wall:.3f}s (Prometheus {after.prometheus:.3f}s), fastest {min(walls):.3f}s, "
                f"slowest {max(walls):.3f}s; API peak RSS during a request {max(peaks) / 1024:.1f} MiB"
            )


async def write_cost(settings: Settings, end: datetime, hours: int, runs: int) -> None:
    """In this process, through the API's own services: a whole-cluster create of the last ``hours``,
    split into what it spends before the write (collection, the scope check) and the write itself (the
    S3 document, then the index row)."""
    start = end - timedelta(hours=hours)
    request = ProfileCreate(
        name=f"bench write {hours}h", cluster_id=CLUSTER, time_window_start=start, time_window_end=end
    )
    async with contextlib.AsyncExitStack() as exits:
        services = await open_profile_services(settings, exits)
        assert services is not None
        store = services.store
        saving = store.save
        laps: list[tuple[float, float, int]] = []
        spent: list[float] = []
        size: list[int] = []

        async def timed_save(profile: BehaviourProfile) -> ProfileMetadata:
            t0 = time.perf_counter()
            meta = await saving(profile)
            spent.append(time.perf_counter() - t0)
            size.append(len(profile.model_dump_json()))
            return meta

        setattr(store, "save", timed_save)  # noqa: B010 (a bench's stopwatch around the real method)
        await create_profile(services, request)  # warm the clients' connections
        for _ in range(runs):
            t0 = time.perf_counter()
            await create_profile(services, request)
            laps.append((time.perf_counter() - t0, spent[-1], size[-1]))
    total = statistics.median(lap[0] for lap in laps)
    write = statistics.median(lap[1] for lap in laps)
    print(
        f"\ncreate_profile in this process, whole cluster, {hours} h (median of {runs}): {total:.3f}s, of which "
        f"the write (S3 document of {laps[0][2] / 1024:.0f} KiB, then the index row) {write:.3f}s "
        f"({write / total:.0%}); load average {os.getloadavg()[0]:.1f}"
    )


def recorded_form(rule: dict[str, Any]) -> str:
    """A rule's record name and form (:data:`FORM_LABEL`): a rule whose expression changed since a kept
    dataset recorded it is recorded again."""
    return f"{rule['record']}@{rule.get('labels', {}).get(FORM_LABEL, '')}"


def recorded_forms(rules: str) -> set[str]:
    return {recorded_form(rule) for group in yaml.safe_load(rules)["groups"] for rule in group["rules"]}


def only_records(rules: str, names: set[str]) -> str:
    """The rules file ``rules`` with only the rules recording ``names`` (:func:`recorded_form`; a dataset
    kept with ``--state`` gets the series of rules added or changed since it was built, not the others
    again)."""
    groups = []
    for group in yaml.safe_load(rules)["groups"]:
        kept = [rule for rule in group["rules"] if recorded_form(rule) in names]
        if kept:
            groups.append(group | {"rules": kept})
    return yaml.safe_dump({"groups": groups}, sort_keys=False)


async def _drop_database(port: int, name: str) -> None:
    conn = await asyncpg.connect(host="127.0.0.1", port=port, user="postgres", database="postgres", timeout=10)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument(
        "--concurrency", type=int, help="queries in flight (default: the collector's, as many as Prometheus's cores)"
    )
    parser.add_argument(
        "--sweep", type=int, nargs="*", default=[1, 2, 3, 4], help="in-flight limits to compare (none: skip)"
    )
    parser.add_argument("--namespaces", type=int, default=8)
    parser.add_argument("--task-queues", type=int, default=8, help="per namespace")
    parser.add_argument("--operations", type=int, default=10, help="persistence operations per namespace")
    parser.add_argument("--scrape", type=int, default=15, help="scrape interval of the backfilled data, seconds")
    parser.add_argument("--windows", type=int, nargs="+", default=[1, 6, 24], help="window lengths, hours")
    parser.add_argument("--no-api", action="store_true", help="skip POST /profiles through the API process")
    parser.add_argument(
        "--state",
        type=Path,
        help="keep the stack's state in this directory (not a temporary one), and reuse the dataset it holds "
        "from an earlier run with the same shape instead of building it again",
    )
    parser.add_argument("--build-only", action="store_true", help="build the raw dataset in --state, then stop")
    args = parser.parse_args()
    ensure_prometheus()
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs, load average {os.getloadavg()}")
    with contextlib.ExitStack() as cleanup:
        if args.state is None:
            state = cleanup.enter_context(tempfile.TemporaryDirectory(prefix="bp-collect-"))
        else:
            args.state.mkdir(parents=True, exist_ok=True)
            state = str(args.state.absolute())
        run(Path(state), args)


def run(state: Path, args: argparse.Namespace) -> None:
    shape = {k: getattr(args, k) for k in ("namespaces", "task_queues", "operations", "scrape")}
    marker = state / "dataset.json"
    kept = json.loads(marker.read_text()) if marker.is_file() else {}
    if kept.get("shape") == shape:
        end = datetime.fromtimestamp(kept["end"], UTC)
        print(f"reusing the dataset in {state} (24 h ending {end:%Y-%m-%d %H:%M} UTC)")
    else:
        kept = {}
        marker.unlink(missing_ok=True)
        shutil.rmtree(state / "prometheus", ignore_errors=True)
        end = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - timedelta(hours=1)
    start = end - timedelta(hours=24)
    config = StackConfig.isolated(state, f"bp_collect_{os.getpid()}")
    stack = LocalStack(config)
    try:
        if not kept:
            namespaces = ["default", *(f"ns-{i}" for i in range(1, args.namespaces))]
            queues = ["main-queue", *(f"tq-{i}" for i in range(1, args.task_queues))]
            placements = [
                Placement("healthy-150wps", ns, start, timedelta(hours=24), load_factor=1.0 if i == 0 else 0.4)
                for i, ns in enumerate(namespaces)
            ]
            t0 = time.perf_counter()
            om = state / "scale.om"
            with om.open("w") as out:
                widen(simulated(placements, args.scrape), out, queues[1:], args.operations)
            stack.load_prometheus(om)
            om.unlink()
            print(
                f"simulated and backfilled 24 h x {len(namespaces)} namespaces x {len(queues)} task queues "
                f"at {args.scrape}s in {time.perf_counter() - t0:.0f}s"
            )
            kept = {"shape": shape, "end": end.timestamp(), "recorded": []}
            marker.write_text(json.dumps(kept))
        if args.build_only:
            return
        rules = recording_rules(cluster_label="cluster")
        wanted = recorded_forms(rules)
        done = set(kept.get("recorded", []))
        if wanted - done:
            t0 = time.perf_counter()
            stack.backfill_rules(start.timestamp(), end.timestamp(), only_records(rules, wanted - done))
            print(
                f"recorded {len(wanted - done)} recording rules' series over the 24 h with promtool "
                f"in {time.perf_counter() - t0:.0f}s ({len(done & wanted)} already recorded)"
            )
            marker.write_text(json.dumps(kept | {"recorded": sorted(done | wanted)}))
        url = stack.start_prometheus()
        t0 = time.perf_counter()
        blocks = stack.wait_for_merged_blocks()
        print(f"Prometheus merged the overlapping blocks into {blocks} in {time.perf_counter() - t0:.0f}s")
        answer = httpx.get(f"{url}/api/v1/query", params={"query": "count({__name__!=''})", "time": end.timestamp()})
        series = answer.json()["data"]["result"][0]["value"][1]
        print(f"Prometheus holds {int(series):,} series at the window end")
        asyncio.run(breakdown(url, end, args))
        if args.sweep:
            asyncio.run(in_flight(url, end, args))
        asyncio.run(compare_collectors(url, end, args))
        if not args.no_api:
            stack.start_postgres()
            stack.start_s3()
            env = stack.env()
            settings = Settings(_env_file=None, copilot_dsql_endpoint=env["COPILOT_DSQL_ENDPOINT"])
            asyncio.run(apply_schema(settings))
            os.environ["PROMETHEUS_SCRAPE_INTERVAL_SECONDS"] = str(args.scrape)
            os.environ["PROMETHEUS_QUERY_TIMEOUT_SECONDS"] = "300"
            if args.concurrency is not None:
                os.environ["PROMETHEUS_QUERY_CONCURRENCY"] = str(args.concurrency)
            in_process = Settings(_env_file=None, **stack_settings(env, args))  # type: ignore[arg-type]
            asyncio.run(write_cost(in_process, end, max(args.windows), args.runs))
            api = stack.start_api()
            pid = int(stack.status()["api"].split("pid ")[1].split()[0])
            asyncio.run(create_through_api(api, url, pid, end, max(args.windows), args.runs))
    finally:
        try:
            stack.down()
        finally:
            with contextlib.suppress(OSError, asyncpg.PostgresError):
                asyncio.run(_drop_database(config.postgres_port, config.database))


if __name__ == "__main__":
    main()
