"""The API observes itself on the real stack: ``/metrics``, request ids and JSON log lines."""

from __future__ import annotations

import asyncio
import io
import json
import logging
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from copilot.dev.stack import free_port
from copilot.observability import JsonFormatter, configure_logging
from tests.integration.conftest import Stack
from tests.integration.test_profiles_api import body
from tests.support import serve

pytestmark = pytest.mark.stack


def samples(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """Every sample of a Prometheus text exposition, by name and label set."""
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def value(metrics: dict[tuple[str, frozenset[tuple[str, str]]], float], name: str, **labels: str) -> float:
    return metrics.get((name, frozenset(labels.items())), 0.0)


@pytest.fixture
def log_lines() -> Iterator[io.StringIO]:
    """What the app's own log handler (the one ``create_app`` installs) writes, while the test runs."""
    handler = configure_logging("json")  # idempotent: the handler the app installed, or the same one now
    assert isinstance(handler, logging.StreamHandler) and isinstance(handler.formatter, JsonFormatter)
    buffer = io.StringIO()
    previous = handler.setStream(buffer)
    try:
        yield buffer
    finally:
        handler.setStream(previous)


def records(buffer: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in buffer.getvalue().splitlines() if line.strip()]


async def test_metrics_count_requests_creations_and_prometheus_queries(
    stack: Stack, client: httpx.AsyncClient, log_lines: io.StringIO
) -> None:
    created = await client.post("/profiles", json=body(stack, "healthy-150wps", label=f"obs-{uuid.uuid4().hex[:8]}"))
    assert created.status_code == 201, created.text
    profile_id = created.json()["id"]
    assert (await client.get(f"/profiles/{profile_id}")).status_code == 200
    assert (await client.get(f"/profiles/{uuid.uuid4()}")).status_code == 404

    exposition = await client.get("/metrics")
    assert exposition.status_code == 200 and exposition.headers["content-type"].startswith("text/plain")
    assert profile_id not in exposition.text  # ids never become label values
    metrics = samples(exposition.text)
    requests = "copilot_http_requests_total"
    assert value(metrics, requests, method="POST", route="/profiles", status="201") == 1
    assert value(metrics, requests, method="GET", route="/profiles/{profile_id}", status="200") == 1
    assert value(metrics, requests, method="GET", route="/profiles/{profile_id}", status="404") == 1
    latency = value(
        metrics, "copilot_http_request_duration_seconds_count", method="POST", route="/profiles", status="201"
    )
    assert latency == 1
    assert value(metrics, "copilot_profile_creations_total", outcome="created") == 1
    assert value(metrics, "copilot_profile_creations_total", outcome="failed") == 0
    assert value(metrics, "copilot_prometheus_query_duration_seconds_count", kind="query_range") >= 20
    assert value(metrics, "copilot_prometheus_query_duration_seconds_sum", kind="query_range") > 0
    assert value(metrics, "copilot_prometheus_query_failures_total", kind="query_range") == 0

    # one JSON line per request, with the id the response carried
    lines = records(log_lines)
    create_line = next(r for r in lines if r.get("route") == "/profiles" and r.get("method") == "POST")
    assert create_line["request_id"] == created.headers["x-request-id"]
    assert create_line["status"] == 201 and create_line["duration_ms"] > 0
    assert create_line["logger"] == "copilot.request" and create_line["level"] == "INFO"
    assert create_line["path"] == "/profiles"


async def test_the_process_asks_prometheus_its_cores_before_the_first_profile(
    stack: Stack, client: httpx.AsyncClient
) -> None:
    asked = "copilot_prometheus_query_duration_seconds_count"
    deadline = asyncio.get_running_loop().time() + 10
    while value(samples((await client.get("/metrics")).text), asked, kind="runtimeinfo") < 1:
        assert asyncio.get_running_loop().time() < deadline, "the warm-up never asked Prometheus"
        await asyncio.sleep(0.05)
    created = await client.post("/profiles", json=body(stack, "healthy-150wps", label=f"warm-{uuid.uuid4().hex[:8]}"))
    assert created.status_code == 201, created.text
    # the answer was remembered: the first profile did not ask again
    assert value(samples((await client.get("/metrics")).text), asked, kind="runtimeinfo") == 1


async def test_prometheus_failures_are_counted(stack: Stack, log_lines: io.StringIO) -> None:
    dead = stack.settings(prometheus_endpoint=f"http://127.0.0.1:{free_port()}")
    async with serve(dead) as http:
        response = await http.post(
            "/profiles", json=body(stack, "healthy-150wps"), headers={"X-Request-ID": "obs-dead-prometheus"}
        )
        assert response.status_code == 502, response.text
        assert response.json()["dependency"] == "Prometheus"
        assert response.json()["request_id"] == response.headers["x-request-id"] == "obs-dead-prometheus"
        metrics = samples((await http.get("/metrics")).text)
    failures = sum(
        value(metrics, "copilot_prometheus_query_failures_total", kind=kind)
        for kind in ("query_range", "query", "label_values")
    )
    assert failures >= 1
    assert value(metrics, "copilot_profile_creations_total", outcome="failed") == 1
    assert value(metrics, "copilot_profile_creations_total", outcome="created") == 0
    assert value(metrics, "copilot_http_requests_total", method="POST", route="/profiles", status="502") == 1

    # the app's warning about the 502 carries the request id too, not only the request line
    mine = [r for r in records(log_lines) if r["request_id"] == "obs-dead-prometheus"]
    assert {r["logger"] for r in mine} >= {"copilot", "copilot.request"}
    assert any(r["level"] == "WARNING" and "502" in r["message"] for r in mine)
