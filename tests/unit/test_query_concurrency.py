"""How many PromQL queries the collector keeps in flight: as set, else as many as the server's cores."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from behaviour_profiles.catalogue import Dialect
from behaviour_profiles.telemetry import (
    CONCURRENCY_UNKNOWN_CORES,
    PrometheusClient,
    Scope,
    TelemetryCollector,
    plan_window,
)

END = datetime(2026, 1, 1, tzinfo=UTC)


class FakePrometheus:
    """A Prometheus HTTP API that reports ``cores`` in its runtime information (404 when ``None``, as on
    Mimir) and answers every range query with an empty matrix after a short wait, counting how many it
    holds at once."""

    def __init__(self, cores: int | None) -> None:
        self.cores = cores
        self.runtimeinfo_asked = 0
        self.open = 0
        self.most_open = 0

    async def __call__(self, request: httpx.Request) -> httpx.Response:
        if request.url.path == "/api/v1/status/runtimeinfo":
            self.runtimeinfo_asked += 1
            if self.cores is None:
                return httpx.Response(404, text="404 page not found")
            return httpx.Response(200, json={"status": "success", "data": {"GOMAXPROCS": self.cores, "GOGC": ""}})
        if request.url.path == "/api/v1/query_range":
            self.open += 1
            self.most_open = max(self.most_open, self.open)
            await asyncio.sleep(0.01)
            self.open -= 1
            return httpx.Response(200, json={"status": "success", "data": {"resultType": "matrix", "result": []}})
        if request.url.path.startswith("/api/v1/label/"):
            return httpx.Response(200, json={"status": "success", "data": []})
        return httpx.Response(200, text=json.dumps({"status": "success", "data": {"result": []}}))


async def _run(server: FakePrometheus, concurrency: int | None, times: int = 1) -> TelemetryCollector:
    async with httpx.AsyncClient(transport=httpx.MockTransport(server)) as http:
        collector = TelemetryCollector(
            PrometheusClient(http, "http://prometheus.test"),
            dialect=Dialect.OPENTELEMETRY,
            cpu_source="none",
            concurrency=concurrency,
        )
        plan = plan_window(END - timedelta(hours=1), END, 15)
        queries = collector.queries(Dialect.OPENTELEMETRY, Scope("c", None, None), plan)
        assert len(queries) > 8
        for _ in range(times):
            await collector.run_queries(queries, plan)
    return collector


@pytest.mark.parametrize("cores", [1, 2, 3])
async def test_by_default_as_many_queries_in_flight_as_the_server_has_cores(cores: int) -> None:
    server = FakePrometheus(cores)
    await _run(server, None, times=2)
    assert server.most_open == cores
    assert server.runtimeinfo_asked == 1  # asked once, then remembered


async def test_a_server_that_does_not_say_gets_the_fixed_default_and_is_asked_again() -> None:
    server = FakePrometheus(None)
    await _run(server, None, times=2)
    assert server.most_open == CONCURRENCY_UNKNOWN_CORES
    assert server.runtimeinfo_asked == 2  # not remembered: it may answer once it is back


async def test_a_set_limit_is_kept_and_the_server_is_not_asked() -> None:
    server = FakePrometheus(2)
    await _run(server, 5)
    assert server.most_open == 5
    assert server.runtimeinfo_asked == 0


async def test_a_whole_collection_asks_the_cores_alongside_detection() -> None:
    server = FakePrometheus(3)
    async with httpx.AsyncClient(transport=httpx.MockTransport(server)) as http:
        collector = TelemetryCollector(
            PrometheusClient(http, "http://prometheus.test"), dialect=Dialect.OPENTELEMETRY, cpu_source="none"
        )
        await collector.collect(Scope("c", None, None), END - timedelta(hours=1), END)
    assert server.runtimeinfo_asked == 1
    assert server.most_open == 3
