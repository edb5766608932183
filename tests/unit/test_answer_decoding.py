"""Reading Prometheus answers: range answers typed as series of numbers in one pass (with a fallback that
gives the same series where the fast reader cannot type an answer), the cyclic garbage collector paused
only while reading, and answers asked for uncompressed unless told."""

from __future__ import annotations

import gc
import json
import math
from typing import Any

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from behaviour_profiles.errors import DependencyFailed
from behaviour_profiles.telemetry import MatrixSeries, PrometheusClient, QueryPlan, decode_range_answer

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
            with pytest.raises(DependencyFailed, match="not the JSON of an answer"):
                await client.query("x", 0)
            seen.append(gc.isenabled())
    finally:
        gc.enable() if original else gc.disable()
    assert result == [MatrixSeries({"le": "+Inf"}, [(1.0, 2.0)])]
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


# Prometheus writes a sample's value as Go formats a float64: "+Inf", "-Inf", "NaN", exponents
VALUE = st.one_of(
    st.floats(allow_nan=False, allow_infinity=False).map(repr),
    st.sampled_from(["+Inf", "-Inf", "NaN", "1e-05", "0", "-0", "1.5e+300"]),
)
SERIES_JSON = st.fixed_dictionaries(
    {
        "metric": st.dictionaries(st.sampled_from(["le", "namespace", "operation"]), st.text(max_size=5), max_size=3),
        "values": st.lists(st.tuples(st.integers(0, 10**10).map(lambda t: t / 1000), VALUE), max_size=6),
    }
)


def _reference(item: dict[str, Any]) -> MatrixSeries:
    return MatrixSeries(dict(item["metric"]), [(float(ts), float(v)) for ts, v in item["values"]])


def _same(a: MatrixSeries, b: MatrixSeries) -> bool:
    """Equal labels and points, NaN equal to NaN."""
    return a.metric == b.metric and [(t, v if not math.isnan(v) else "nan") for t, v in a.values] == [
        (t, v if not math.isnan(v) else "nan") for t, v in b.values
    ]


@given(st.lists(SERIES_JSON, max_size=4), st.lists(st.text(max_size=8), max_size=2))
def test_a_range_answer_reads_as_python_would_read_it(result: list[dict[str, Any]], warnings: list[str]) -> None:
    body = {"status": "success", "data": {"resultType": "matrix", "result": result}, "warnings": warnings}
    read = decode_range_answer(json.dumps(body).encode())
    assert read["status"] == "success" and read["warnings"] == warnings
    assert read["data"]["resultType"] == "matrix"
    series = read["data"]["result"]
    assert len(series) == len(result)
    assert all(_same(got, _reference(item)) for got, item in zip(series, result, strict=True))


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (b'{"status":"error","errorType":"bad_data","error":"parse error"}', "parse error"),
        (b'{"status":"success","data":{"resultType":"vector","result":[]}}', "other than a matrix"),
    ],
)
async def test_errors_and_other_result_types_are_still_told_apart(body: bytes, expected: str) -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(400 if b"error" in body else 200, content=body)

    async with httpx.AsyncClient(transport=httpx.MockTransport(answer)) as http:
        client = PrometheusClient(http, "http://prometheus.test")
        with pytest.raises(DependencyFailed, match=expected):
            await client.query_range("x", QueryPlan(start=0, end=60, step=15, rate_window=60))


@pytest.mark.parametrize(
    "body",
    [
        b'{"status":"success","data":{"resultType":"matrix","result":[{"metric":{},"values":[[1,"many"]]}]}}',
        b'{"status":"success","data":{"resultType":"matrix","result":[{"metric":{},"values":[1]}]}}',
        b'{"status":"success","data":{"resultType":"matrix","result":[1]}}',
    ],
)
async def test_a_matrix_that_is_not_numbers_is_a_clear_dependency_failure(body: bytes) -> None:
    async with httpx.AsyncClient(transport=httpx.MockTransport(lambda _: httpx.Response(200, content=body))) as http:
        client = PrometheusClient(http, "http://prometheus.test")
        with pytest.raises(DependencyFailed, match="not the JSON of an answer"):
            await client.query_range("x", QueryPlan(start=0, end=60, step=15, rate_window=60))
