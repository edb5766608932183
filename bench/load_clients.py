"""Many concurrent clients on get and list against the API as a separate process (uvicorn).

Prepares the same real stack and index as ``bench/index_scale.py`` (``--rows`` rows bulk-loaded, a
real S3 document for ``--documents`` of them), starts the API with ``python -m copilot serve`` (one
uvicorn process, access log on, as deployed), then runs ``--clients`` concurrent clients for
``--seconds`` seconds. Each client has its own HTTP client and sends one request at a time over its
own keep-alive connection:
``GET /profiles/{id}`` with probability ``--get-share``, otherwise ``GET /profiles`` with a random
shape (newest first, by cluster, by cluster and namespace, by label, or a page deep in the list by
cursor). Prints requests per second, client-side latency p50/p99/max per operation, the answers by
status and the connection errors, and the API process's CPU time and peak memory.

The clients run in this process on the same (small) machine: compare its CPU time with the API's to
see which side was the bottleneck.

Usage::

    uv run python bench/load_clients.py [--clients 200] [--seconds 30] [--rows 100000] [--pool 10]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import re
import resource
import sys
import tempfile
import time
from collections import Counter, defaultdict
from datetime import UTC, datetime
from pathlib import Path

import httpx

from behaviour_profiles.storage import encode_cursor
from copilot.dev.stack import LocalStack

sys.path.insert(0, str(Path(__file__).parent))
from index_scale import (
    Dataset,
    bench_stack,
    bulk_load,
    create_real_profiles,
    generate_rows,
    pct,
    write_documents,
)

CLK_TCK = os.sysconf("SC_CLK_TCK")


def proc_status(pid: int) -> dict[str, str]:
    out = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        out[key] = value.strip()
    return out


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process (its threads included)."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    fields = stat[stat.rindex(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def api_pid(stack: LocalStack) -> int:
    match = re.search(r"pid (\d+)", stack.status()["api"])
    if not match:
        raise SystemExit(f"the API is not running: {stack.status()['api']}")
    return int(match.group(1))


class Tally:
    def __init__(self) -> None:
        self.latency: dict[str, list[float]] = defaultdict(list)
        self.status: Counter[tuple[str, int]] = Counter()
        self.errors: Counter[str] = Counter()


def list_params(rng: random.Random, data: Dataset) -> dict[str, str]:
    shape = rng.randrange(5)
    if shape == 0:
        return {}
    if shape == 1:
        return {"cluster": data.cluster(rng)}
    if shape == 2:
        cluster, namespace = rng.choice(data.pairs)
        return {"cluster": cluster, "namespace": namespace}
    if shape == 3:
        return {"label": data.label(rng)}
    created, pid = rng.choice(data.keys)
    return {"cursor": encode_cursor(created, pid)}


async def client(
    url: str, data: Dataset, seed: int, until: float, measure_from: float, args: argparse.Namespace, tally: Tally
) -> None:
    """One client: its own HTTP client and keep-alive connection, one request at a time."""
    async with httpx.AsyncClient(base_url=url, timeout=args.timeout) as http:
        await _client_loop(http, data, seed, until, measure_from, args.get_share, tally)


async def _client_loop(
    http: httpx.AsyncClient, data: Dataset, seed: int, until: float, measure_from: float, share: float, tally: Tally
) -> None:
    rng = random.Random(seed)
    while (now := time.perf_counter()) < until:
        if rng.random() < share:
            op, call = "get", http.get(f"/profiles/{rng.choice(data.document_ids)}")
        else:
            op, call = "list", http.get("/profiles", params=list_params(rng, data))
        try:
            response = await call
            await response.aread()
        except httpx.HTTPError as exc:
            if now >= measure_from:
                tally.errors[f"{op}: {type(exc).__name__}"] += 1
            continue
        if now >= measure_from:
            tally.latency[op].append((time.perf_counter() - now) * 1000)
            tally.status[(op, response.status_code)] += 1


async def load(url: str, data: Dataset, args: argparse.Namespace, pid: int) -> None:
    tally = Tally()
    start = time.perf_counter()
    measure_from = start + args.warmup
    until = measure_from + args.seconds
    cpu_api, cpu_self = cpu_seconds(pid), time.process_time()
    await asyncio.gather(*(client(url, data, i, until, measure_from, args, tally) for i in range(args.clients)))
    elapsed = time.perf_counter() - start
    cpu_api, cpu_self = cpu_seconds(pid) - cpu_api, time.process_time() - cpu_self
    measured = args.seconds
    total = sum(len(v) for v in tally.latency.values()) + sum(tally.errors.values())
    print(f"\n{args.clients} clients for {measured}s (after {args.warmup}s warm-up): {total / measured:.0f} requests/s")
    print(f"{'op':<6} {'n':>7} {'req/s':>7} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8}")
    for op, values in sorted(tally.latency.items()):
        print(
            f"{op:<6} {len(values):>7} {len(values) / measured:>7.0f} {pct(values, 50):>8.1f} "
            f"{pct(values, 99):>8.1f} {max(values):>8.1f}"
        )
    statuses = ", ".join(f"{op} {code}: {n}" for (op, code), n in sorted(tally.status.items()))
    print(f"answers by status: {statuses}")
    print(f"connection errors and timeouts: {dict(tally.errors) or 'none'}")
    status = proc_status(pid)
    own_peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        f"API process: {cpu_api:.1f} CPU s over {elapsed:.1f}s wall ({cpu_api / elapsed:.0%} of one core), "
        f"peak RSS {status['VmHWM']}, threads {status['Threads']}; "
        f"clients (this process): {cpu_self:.1f} CPU s ({cpu_self / elapsed:.0%}), peak RSS {own_peak:.0f} MB"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--clients", type=int, default=200)
    parser.add_argument("--seconds", type=int, default=30, help="measured duration")
    parser.add_argument("--warmup", type=int, default=3, help="seconds of load before measuring")
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--documents", type=int, default=100)
    parser.add_argument("--get-share", type=float, default=0.5, help="share of requests that are gets")
    parser.add_argument("--pool", type=int, default=10, help="COPILOT_DSQL_POOL_MAX_SIZE of the API")
    parser.add_argument("--timeout", type=float, default=30.0, help="client timeout per request, seconds")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs, rows={args.rows:,}, pool={args.pool}")
    now = datetime.now(UTC)
    os.environ["COPILOT_DSQL_POOL_MAX_SIZE"] = str(args.pool)
    with (
        tempfile.TemporaryDirectory(prefix="bp-load-") as state,
        bench_stack(Path(state), now=now) as (
            stack,
            placements,
        ),
    ):
        url = stack.start_api()
        pid = api_pid(stack)
        data, rows = generate_rows(args.rows, now, args.seed)

        async def prepare() -> None:
            async with httpx.AsyncClient(base_url=url, timeout=120) as http:
                templates = await create_real_profiles(http, placements)
            await bulk_load(stack.postgres_url, rows, random.Random(args.seed))
            write_documents(stack, data, rows, templates, args.documents)

        asyncio.run(prepare())
        print(f"index: {args.rows:,} rows, {len(data.document_ids)} with a real S3 document; API pid {pid} at {url}")
        asyncio.run(load(url, data, args, pid))


if __name__ == "__main__":
    main()
