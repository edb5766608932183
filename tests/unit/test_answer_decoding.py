"""Prometheus answers are decoded with the cyclic garbage collector paused, and only while decoding."""

from __future__ import annotations

import gc

import httpx
import pytest

from behaviour_profiles.errors import DependencyFailed
from behaviour_profiles.telemetry import PrometheusClient, QueryPlan

MATRIX = b'{"status":"success","data":{"resultType":"matrix","result":[{"metric":{"le":"+Inf"},"values":[[1,"2"]]}]}}'


@pytest.mark.parametrize("enabled", [True, False])
async def test_the_collector_s_state_is_restored_after_each_answer(enabled: bool) -> None:
    seen: list[bool] = []

    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=MATRIX if request.url.path.endswith("query_range") else b"not json")

    original = gc.isenabled()
    try:
        gc.enable() if enabled else gc.disable()
        async with httpx.AsyncClient(transport=httpx.MockTransport(answer)) as http:
            client = PrometheusClient(http, "http://prometheus.test")
            result = await client.query_range("x", QueryPlan(start=0, end=60, step=15, rate_window=60))
            seen.append(gc.isenabled())
            with pytest.raises(DependencyFailed, match="not JSON"):
                await client.query("x", 0)
            seen.append(gc.isenabled())
    finally:
        gc.enable() if original else gc.disable()
    assert result == [{"metric": {"le": "+Inf"}, "values": [[1, "2"]]}]
    assert seen == [enabled, enabled]


@pytest.mark.parametrize("compressed", [False, True])
async def test_answers_are_asked_for_uncompressed_unless_told(compressed: bool) -> None:
    asked: list[str | None] = []

    def answer(request: httpx.Request) -> httpx.Response:
        asked.append(request.headers.get("accept-encoding"))
        return httpx.Response(200, content=MATRIX)

    async with httpx.AsyncClient(transport=httpx.MockTransport(answer)) as http:
        client = PrometheusClient(http, "http://prometheus.test", compressed=compressed)
        await client.query_range("x", QueryPlan(start=0, end=60, step=15, rate_window=60))
        await client.query("x", 0)
    assert asked == ["gzip" if compressed else "identity"] * 2
