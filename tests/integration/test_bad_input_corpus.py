"""A hand corpus of bad input against the real stack: each case names the status and what the detail says.

Huge and unicode names, injection strings in every filter, path traversal in ids, wrong types, missing
fields, oversized bodies, time zones, leap days, and windows of exactly 24 hours and 24 hours + 1 s. No
answer is a 5xx, every error is problem+json, and its ``detail`` names the offending field or what to do.

Times without a zone are refused everywhere (bodies and the list filters alike), with the same message.
"""

from __future__ import annotations

import base64
import json
import time
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import asyncpg
import httpx
import pytest

from behaviour_profiles.storage import BASELINES_TABLE, PROFILES_TABLE
from copilot.dev.stack import free_port
from copilot.settings import Settings
from tests.integration.conftest import Stack
from tests.support import serve

pytestmark = pytest.mark.stack

ZONE_HINT = "with a time zone"
INJECTIONS = (
    "' OR '1'='1",
    "'; DROP TABLE behaviour_profiles; --",
    '" OR ""="',
    "%' OR 1=1 --",
    "x') UNION SELECT id, name FROM behaviour_profiles --",
    "$1",
    "\\'; SELECT pg_sleep(5); --",
    "%",
    "_",
    "*",
)
"""SQL injection attempts and LIKE/glob wildcards: every filter is an exact, parametrized match."""

TRAVERSALS = (
    "%2e%2e",
    "%2E%2E%2F%2E%2E%2Fetc%2Fpasswd",
    "..%5C..%5Cwindows%5Cwin.ini",
    "....%2F%2F....%2F%2Fetc",
    "%252e%252e%252fetc",
    "profiles%2F..%2F..%2Fsecret.json",
    "3f2b8c1e-0d4a-4a57-9a43-1c9e2f7b6d10.json",
    "3f2b8c1e-0d4a-4a57-9a43-1c9e2f7b6d10%2F..%2F..%2Fx",
    "%00",
    "%ff%fe",
    "x" * 5000,
)
"""Ids (as written in the URL path) that try to escape the profile key prefix."""

ALIAS_BOMB = "\n".join(
    ["a0: &a0 {k0: lol, k1: lol, k2: lol, k3: lol, k4: lol, k5: lol, k6: lol, k7: lol, k8: lol}"]
    + [f"a{i}: &a{i} {{" + ", ".join(f"k{j}: *a{i - 1}" for j in range(9)) + "}" for i in range(1, 9)]
    + ["x:\n  - value: *a8"]
)
"""A few hundred bytes of YAML that expand to 9^9 values: refused quickly, never expanded."""


def _settings(stack: Stack, **overrides: Any) -> Settings:
    if "copilot_create_rate_per_minute" in Settings.model_fields:
        overrides.setdefault("copilot_create_rate_per_minute", 100_000)  # not the rate limiter's test
    return stack.settings(**overrides)


@pytest.fixture
async def api(stack: Stack) -> AsyncIterator[httpx.AsyncClient]:
    async with serve(_settings(stack)) as client:
        yield client


def create_body(stack: Stack, **changes: Any) -> dict[str, Any]:
    placement = stack.window("healthy-150wps")
    payload: dict[str, Any] = {
        "name": "corpus",
        "cluster_id": placement.cluster,
        "namespace": "default",
        "time_window_start": placement.start.isoformat(),
        "time_window_end": (placement.start + timedelta(minutes=20)).isoformat(),
        "label": f"corpus-{uuid.uuid4().hex[:10]}",
    }
    payload.update(changes)
    return {key: value for key, value in payload.items() if value is not ...}


def problem(response: httpx.Response, status: int) -> dict[str, Any]:
    """The problem document of ``response``, checked: the status, the media type, a useful detail."""
    assert response.status_code == status, f"{response.status_code}: {response.text[:1000]}"
    assert response.headers["content-type"].startswith("application/problem+json"), response.headers
    body: dict[str, Any] = response.json()
    assert body["status"] == status and body["title"]
    assert isinstance(body["detail"], str) and len(body["detail"]) >= 10
    for leak in ("Traceback", 'File "', "site-packages", ".py"):
        assert leak not in response.text, response.text
    return body


def fields(body: dict[str, Any]) -> set[str]:
    return {error["field"] for error in body.get("errors", [])}


# --- creating a profile ----------------------------------------------------------------------------

BAD_CREATES: list[tuple[str, dict[str, Any], str, str]] = [
    # (case, changes to a valid body, field in the errors, text in the detail)
    ("huge name", {"name": "n" * 100_000}, "name", "at most 200 characters"),
    ("blank name", {"name": "   "}, "name", "must not be blank"),
    ("NUL in name", {"name": "a\x00b"}, "name", "control characters"),
    ("NUL in label", {"label": "a\x00b"}, "label", "control characters"),
    ("escape sequence in name", {"name": "\x1b[31mred"}, "name", "control characters"),
    ("unicode cluster", {"cluster_id": "集群-1"}, "cluster_id", "only letters, digits"),
    ("emoji namespace", {"namespace": "prod🚀"}, "namespace", "only letters, digits"),
    ("right-to-left override in queue", {"task_queue": "q\u202eeuq"}, "task_queue", "only letters, digits"),
    ("injection in cluster", {"cluster_id": "x' OR '1'='1"}, "cluster_id", "only letters, digits"),
    ("traversal in cluster", {"cluster_id": "../../etc"}, "cluster_id", "must start with a letter or digit"),
    ("huge cluster", {"cluster_id": "c" * 201}, "cluster_id", "at most 200 characters"),
    ("empty cluster", {"cluster_id": ""}, "cluster_id", "at least 1 character"),
    ("number as cluster", {"cluster_id": 123}, "cluster_id", "valid string"),
    ("list as name", {"name": ["a"]}, "name", "valid string"),
    ("object as start", {"time_window_start": {"at": "now"}}, "time_window_start", "ISO-8601"),
    ("bool as end", {"time_window_end": True}, "time_window_end", "ISO-8601"),
    ("words as start", {"time_window_start": "yesterday"}, "time_window_start", "ISO-8601"),
    ("no zone", {"time_window_start": "2026-02-18T10:00:00"}, "time_window_start", ZONE_HINT),
    ("no zone on a date", {"time_window_end": "2026-02-18"}, "time_window_end", ZONE_HINT),
    ("not a leap year", {"time_window_start": "2023-02-29T00:00:00Z"}, "time_window_start", "day value"),
    ("hour 24", {"time_window_start": "2026-02-18T24:00:00Z"}, "time_window_start", "ISO-8601"),
    ("offset beyond a day", {"time_window_start": "2026-02-18T10:00:00+25:00"}, "time_window_start", "ISO-8601"),
    ("missing name", {"name": ...}, "name", "Field required"),
    ("missing cluster", {"cluster_id": ...}, "cluster_id", "Field required"),
    ("missing window", {"time_window_start": ..., "time_window_end": ...}, "time_window_end", "Field required"),
    ("null name", {"name": None}, "name", "valid string"),
    ("unknown field", {"clusterid": "typo"}, "clusterid", "unknown field; remove it"),
    ("unknown preset", {"preset": "../../etc/passwd"}, "preset", "choose one of starter"),
    ("long version", {"temporal_server_version": "1." * 100}, "temporal_server_version", "at most 100"),
    ("NUL in version", {"dsql_plugin_version": "1.0\x00"}, "dsql_plugin_version", "control characters"),
    ("NUL in sha", {"worker_code_sha": "\x00"}, "worker_code_sha", "control characters"),
    ("config as text", {"config": "TEMPORAL_SQL_MAX_CONNS=5"}, "config", "valid dictionary"),
    ("unknown config part", {"config": {"env": {}}}, "config.env", "unknown field"),
    ("environment values not text", {"config": {"environment": {"A": 1}}}, "config.environment.A", "valid string"),
]


@pytest.mark.parametrize(
    ("changes", "field", "expected"), [c[1:] for c in BAD_CREATES], ids=[c[0] for c in BAD_CREATES]
)
async def test_bad_create_names_the_field(
    stack: Stack, api: httpx.AsyncClient, changes: dict[str, Any], field: str, expected: str
) -> None:
    body = problem(await api.post("/profiles", json=create_body(stack, **changes)), 422)
    assert field in fields(body), body
    assert expected in body["detail"], body["detail"]
    assert field in body["detail"]


@pytest.mark.parametrize(
    ("content", "content_type", "expected"),
    [
        (b"", "application/json", "Field required"),
        (b"{", "application/json", "not valid JSON"),
        (b'{"name": "a",}', "application/json", "not valid JSON"),
        (b"[]", "application/json", "must be a JSON object"),
        (b'"profile"', "application/json", "must be a JSON object"),
        (b"null", "application/json", "must be a JSON object"),
        (b"\xff\xfe{}", "application/json", "not valid JSON"),
        (b"name=x&cluster_id=y", "application/x-www-form-urlencoded", "must be a JSON object"),
        (b"[" * 50_000 + b"]" * 50_000, "application/json", "nested"),
    ],
    ids=["empty", "truncated", "trailing comma", "array", "string", "null", "not UTF-8", "form", "deeply nested"],
)
async def test_a_body_that_is_not_a_json_object_says_so(
    api: httpx.AsyncClient, content: bytes, content_type: str, expected: str
) -> None:
    response = await api.post("/profiles", content=content, headers={"content-type": content_type})
    assert response.status_code in (400, 422), response.text
    body = problem(response, response.status_code)
    assert expected in body["detail"], body["detail"]


async def test_an_oversized_body_is_refused_before_it_is_read(stack: Stack, api: httpx.AsyncClient) -> None:
    limit = _settings(stack).copilot_max_body_bytes
    payload = create_body(stack, config={"environment": {"BIG": "x" * (limit + 1)}})
    body = problem(await api.post("/profiles", json=payload), 413)
    assert str(limit) in body["detail"] or f"{limit // 1024} KiB" in body["detail"] or "MiB" in body["detail"]


async def test_huge_unicode_names_round_trip(stack: Stack, api: httpx.AsyncClient) -> None:
    name = ("健康 profile ünïcödé 🚀 ‮RTL‬ " * 10)[:200]
    payload = create_body(stack, name=name, label=f"ünï-🚀-{uuid.uuid4().hex[:8]}")
    response = await api.post("/profiles", json=payload)
    assert response.status_code == 201, response.text
    profile = (await api.get(f"/profiles/{response.json()['id']}")).json()
    assert profile["name"] == name and profile["label"] == payload["label"]
    listed = (await api.get("/profiles", params={"label": payload["label"]})).json()
    assert [p["id"] for p in listed] == [profile["id"]]


# --- time zones, leap days, the 24-hour limit ----------------------------------------------------


async def test_a_window_of_exactly_24_hours_is_accepted(stack: Stack, api: httpx.AsyncClient) -> None:
    end = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=1)
    payload = create_body(
        stack, time_window_start=(end - timedelta(hours=24)).isoformat(), time_window_end=end.isoformat()
    )
    response = await api.post("/profiles", json=payload)
    assert response.status_code == 201, response.text  # the simulated scenarios lie inside the last 24 hours
    meta = response.json()
    assert datetime.fromisoformat(meta["time_window_end"]) - datetime.fromisoformat(
        meta["time_window_start"]
    ) == timedelta(hours=24)


@pytest.mark.parametrize("path", ["/profiles", "/profiles/drift"])
async def test_a_window_of_24_hours_and_a_second_is_refused(stack: Stack, api: httpx.AsyncClient, path: str) -> None:
    end = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=1)
    start = (end - timedelta(hours=24, seconds=1)).isoformat()
    payload = (
        create_body(stack, time_window_start=start, time_window_end=end.isoformat())
        if path == "/profiles"
        else {"cluster_id": "temporal-dev", "time_window_start": start, "time_window_end": end.isoformat()}
    )
    body = problem(await api.post(path, json=payload), 422)
    assert "longer than 24 hours" in body["detail"] and "at most 24 hours" in body["detail"]


async def test_drift_takes_exactly_24_hours(api: httpx.AsyncClient) -> None:
    """The window passes validation; the cluster has no baseline, so the answer is the baseline's 404."""
    end = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=1)
    payload = {
        "cluster_id": f"no-baseline-{uuid.uuid4().hex[:6]}",
        "time_window_start": (end - timedelta(hours=24)).isoformat(),
        "time_window_end": end.isoformat(),
    }
    body = problem(await api.post("/profiles/drift", json=payload), 404)
    assert "No baseline" in body["detail"] and "POST /profiles/{id}/baseline" in body["detail"]


@pytest.mark.parametrize(
    "zone",
    [timezone(timedelta(hours=5, minutes=30)), timezone(timedelta(hours=-12)), timezone(timedelta(hours=14))],
    ids=["+05:30", "-12:00", "+14:00"],
)
async def test_windows_in_any_time_zone_mean_the_same_instants(
    stack: Stack, api: httpx.AsyncClient, zone: timezone
) -> None:
    placement = stack.window("healthy-150wps")
    start = placement.start.astimezone(zone)
    payload = create_body(
        stack, time_window_start=start.isoformat(), time_window_end=(start + timedelta(minutes=10)).isoformat()
    )
    response = await api.post("/profiles", json=payload)
    assert response.status_code == 201, response.text
    assert datetime.fromisoformat(response.json()["time_window_start"]) == placement.start


async def test_a_leap_day_window_parses_and_has_no_data(stack: Stack, api: httpx.AsyncClient) -> None:
    payload = create_body(stack, time_window_start="2024-02-29T00:00:00Z", time_window_end="2024-02-29T23:59:59Z")
    body = problem(await api.post("/profiles", json=payload), 422)
    assert body["title"] == "No telemetry in window"
    assert "no samples" in body["detail"] and "2024-02-29T00:00:00+00:00 .. 2024-02-29T23:59:59+00:00" in body["detail"]


@pytest.mark.parametrize(
    ("start", "end"),
    [
        ("0001-01-01T00:00:00Z", "0001-01-01T01:00:00Z"),
        ("0001-01-01T00:00:00+14:00", "0001-01-01T01:00:00+14:00"),
        ("1969-12-31T23:00:00Z", "1970-01-01T00:30:00Z"),
    ],
    ids=["year 1", "year 1 east of UTC", "before the epoch"],
)
@pytest.mark.parametrize("path", ["/profiles", "/profiles/drift"])
async def test_windows_before_1970_are_out_of_range(
    stack: Stack, api: httpx.AsyncClient, path: str, start: str, end: str
) -> None:
    """Refused before Prometheus is asked: not "no telemetry", but a time out of range."""
    window = {"time_window_start": start, "time_window_end": end}
    payload = create_body(stack, **window) if path == "/profiles" else {"cluster_id": "temporal-dev", **window}
    body = problem(await api.post(path, json=payload), 422)
    assert body["title"] == "Invalid request" and "time_window_start" in fields(body)
    assert "out of range" in body["detail"] and "1970-01-01T00:00:00Z" in body["detail"], body["detail"]


async def test_the_first_second_of_the_epoch_is_asked_of_prometheus(stack: Stack, api: httpx.AsyncClient) -> None:
    payload = create_body(stack, time_window_start="1970-01-01T00:00:00Z", time_window_end="1970-01-01T00:00:01Z")
    body = problem(await api.post("/profiles", json=payload), 422)
    assert body["title"] == "No telemetry in window" and "no samples" in body["detail"]


@pytest.mark.parametrize("value", [1771408800, 1771408800.25, "1771408800", "-86400"], ids=repr)
@pytest.mark.parametrize("path", ["/profiles", "/profiles/drift"])
async def test_epoch_numbers_are_not_window_times(
    stack: Stack, api: httpx.AsyncClient, path: str, value: int | float | str
) -> None:
    """Unix-epoch seconds carry no zone, so they are refused like any time without one."""
    payload = (
        create_body(stack, time_window_start=value)
        if path == "/profiles"
        else {"cluster_id": "temporal-dev", "time_window_start": value}
    )
    body = problem(await api.post(path, json=payload), 422)
    assert "time_window_start" in fields(body)
    assert "Unix-epoch times are not accepted" in body["detail"] and "ISO-8601" in body["detail"], body["detail"]


async def test_the_far_future_is_refused(stack: Stack, api: httpx.AsyncClient) -> None:
    payload = create_body(stack, time_window_start="9999-12-31T00:00:00Z", time_window_end="9999-12-31T23:59:59Z")
    body = problem(await api.post("/profiles", json=payload), 422)
    assert "in the future" in body["detail"]


# --- the list filters ------------------------------------------------------------------------------


async def _tables(stack: Stack) -> set[str]:
    conn = await asyncpg.connect(stack.env["COPILOT_DSQL_ENDPOINT"])
    try:
        rows = await conn.fetch("SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'")
        return {row["table_name"] for row in rows}
    finally:
        await conn.close()


@pytest.mark.parametrize("param", ["cluster", "namespace", "label", "task_queue"])
async def test_injection_in_a_list_filter_matches_nothing(stack: Stack, api: httpx.AsyncClient, param: str) -> None:
    # at least one profile exists, so a filter that were spliced into SQL would show it
    assert (await api.get("/profiles", params={"limit": 1})).json() or (
        await api.post("/profiles", json=create_body(stack))
    ).status_code == 201
    for value in INJECTIONS:
        response = await api.get("/profiles", params={param: value})
        assert response.status_code == 200, response.text
        assert response.json() == [], (param, value)
    assert {PROFILES_TABLE, BASELINES_TABLE} <= await _tables(stack)
    assert (await api.get("/profiles", params={"limit": 1})).json()


async def test_injection_in_the_baseline_lookup_matches_nothing(stack: Stack, api: httpx.AsyncClient) -> None:
    for value in INJECTIONS:
        for params in ({"cluster": value}, {"cluster": "temporal-dev", "namespace": value}):
            body = problem(await api.get("/profiles/baseline", params=params), 404)
            assert "No baseline" in body["detail"]
    assert {PROFILES_TABLE, BASELINES_TABLE} <= await _tables(stack)


NAIVE_CURSOR = (
    base64.urlsafe_b64encode(b"2999-01-01T00:00:00|3f2b8c1e-0d4a-4a57-9a43-1c9e2f7b6d10").decode().rstrip("=")
)
"""A forged cursor of the real shape whose time has no zone (ours always carry one)."""

BAD_FILTERS: list[tuple[str, str, str, str]] = [
    # (case, raw query string, field, text in the detail)
    ("NUL in cluster", "cluster=a%00b", "cluster", "control characters"),
    ("NUL in label", "label=%00", "label", "control characters"),
    ("huge label", "label=" + "l" * 201, "label", "at most 200 characters"),
    ("naive start", "start=2026-02-18T10:00:00", "start", ZONE_HINT),
    ("naive end", "end=2026-02-18", "end", ZONE_HINT),
    ("plus sign not encoded", "start=2026-02-18T10:00:00+00:00", "start", "ISO-8601"),
    ("not a time", "end=tomorrow", "end", "ISO-8601"),
    ("not a leap year", "start=2023-02-29T00:00:00Z", "start", "day value"),
    ("limit zero", "limit=0", "limit", "greater than or equal to 1"),
    ("limit too big", "limit=501", "limit", "less than or equal to 500"),
    ("limit not a number", "limit=ten", "limit", "valid integer"),
    ("limit fractional", "limit=1.5", "limit", "valid integer"),
    ("injection in cursor", "cursor=%27%20OR%201%3D1%20--", "cursor", "pass the cursor from the previous page"),
    ("cursor time without a zone", "cursor=" + NAIVE_CURSOR, "cursor", "pass the cursor from the previous page"),
    ("epoch start", "start=1771408800", "start", "Unix-epoch times are not accepted"),
    ("start before 1970", "start=1969-12-31T00:00:00Z", "start", "out of range"),
    ("traversal in cursor", "cursor=..%2F..%2Fetc%2Fpasswd", "cursor", "pass the cursor from the previous page"),
]


@pytest.mark.parametrize(("query", "field", "expected"), [c[1:] for c in BAD_FILTERS], ids=[c[0] for c in BAD_FILTERS])
async def test_bad_list_filters_name_the_parameter(
    api: httpx.AsyncClient, query: str, field: str, expected: str
) -> None:
    body = problem(await api.get(f"/profiles?{query}"), 422)
    assert field in body["detail"] and expected in body["detail"], body["detail"]


@pytest.mark.parametrize(
    "query",
    [
        "start=2024-02-29T00:00:00Z&end=2024-02-29T23:59:59Z",
        "start=2024-02-29T05:30:00%2B05:30&end=2024-02-29T06:00:00-12:00",
        "cluster=集群",
        "label=🚀",
    ],
    ids=["leap day", "offsets", "unicode", "emoji"],
)
async def test_good_but_unusual_filters_list_nothing(api: httpx.AsyncClient, query: str) -> None:
    response = await api.get(f"/profiles?{query}")
    assert response.status_code == 200 and response.json() == [], response.text


# --- ids in paths and bodies -------------------------------------------------------------------------


@pytest.mark.parametrize("raw", TRAVERSALS)
@pytest.mark.parametrize(
    ("method", "template"),
    [
        ("GET", "/profiles/{}"),
        ("POST", "/profiles/{}/baseline"),
        ("POST", "/profiles/{}/conformance"),
        ("POST", "/profiles/{}/recommendation"),
    ],
)
async def test_traversal_ids_are_a_404_that_never_reaches_storage(
    stack: Stack, raw: str, method: str, template: str
) -> None:
    """The app's storage is a port where nothing listens: reaching it would be a 503, not a 404."""
    dead = f"http://127.0.0.1:{free_port()}"
    async with serve(_settings(stack, aws_endpoint_url_s3=dead)) as api:
        response = await api.request(method, template.format(raw))
    body = problem(response, 404)
    assert "not a profile id" in body["detail"] or "No such endpoint" in body["detail"], body["detail"]
    assert len(body["detail"]) < 300


@pytest.mark.parametrize("raw", ["../../etc/passwd", "..\\..\\boot.ini", "%2e%2e", "", "x" * 5000, "' OR 1=1 --"])
async def test_traversal_ids_in_a_compare_body_are_a_404(api: httpx.AsyncClient, raw: str) -> None:
    body = problem(
        await api.post("/profiles/compare", json={"profile_a_id": raw, "profile_b_id": str(uuid.uuid4())}), 404
    )
    assert "is not a profile id" in body["detail"] and len(body["detail"]) < 300


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"profile_a_id": str(uuid.uuid4())}, "profile_b_id"),
        ({"profile_a_id": 1, "profile_b_id": 2}, "profile_a_id"),
        ({"profile_a_id": "a", "profile_b_id": "b", "statistic": "median"}, "statistic"),
        ({"profile_a_id": "a", "profile_b_id": "b", "thresholds_pct": {"latency": -1}}, "thresholds_pct.latency"),
        ({"profile_a_id": "a", "profile_b_id": "b", "thresholds_pct": {"speed": 5}}, "thresholds_pct.speed"),
        ({"profile_a_id": "a", "profile_b_id": "b", "significance_level": 1}, "significance_level"),
    ],
    ids=["missing b", "numbers", "unknown statistic", "negative threshold", "unknown class", "significance 1"],
)
async def test_bad_compare_bodies_name_the_field(api: httpx.AsyncClient, payload: dict[str, Any], field: str) -> None:
    body = problem(await api.post("/profiles/compare", json=payload), 422)
    assert field in fields(body) and field in body["detail"], body


@pytest.mark.parametrize("raw", ["..%2F..%2Fetc%2Fpasswd", "%2e%2e", "x" * 5000, "starter%00", "STARTER"])
async def test_unknown_presets_list_the_real_ones(api: httpx.AsyncClient, raw: str) -> None:
    body = problem(await api.get(f"/presets/{raw}"), 404)
    assert "starter, mid-scale, high-throughput" in body["detail"] or "No such endpoint" in body["detail"]
    assert len(body["detail"]) < 300


@pytest.mark.parametrize("value", [float("nan"), float("inf")], ids=["NaN", "Infinity"])
@pytest.mark.parametrize("path", ["/profiles/compare", "/profiles/drift"])
async def test_a_threshold_that_is_not_a_finite_number_says_so(api: httpx.AsyncClient, path: str, value: float) -> None:
    ids = {"profile_a_id": str(uuid.uuid4()), "profile_b_id": str(uuid.uuid4())}
    base = ids if path == "/profiles/compare" else {"cluster_id": "temporal-dev"}
    for extra, field in (
        ({"thresholds_pct": {"latency": value}}, "thresholds_pct.latency"),
        ({"significance_level": value}, "significance_level"),
    ):
        # NaN and Infinity are not JSON, but Python's json module writes them and the API's reader takes them
        content = json.dumps({**base, **extra}, allow_nan=True)
        assert "NaN" in content or "Infinity" in content
        response = await api.post(path, content=content, headers={"content-type": "application/json"})
        body = problem(response, 422)
        assert field in fields(body), body
        assert "finite number" in body["detail"] and "10000" not in body["detail"], body["detail"]


@pytest.mark.parametrize(
    ("payload", "field", "expected"),
    [
        ({"cluster_id": "temporal-dev", "time_window_start": "2026-02-18T10:00:00"}, "time_window_start", ZONE_HINT),
        ({"cluster_id": "temporal-dev", "namespace": "../x"}, "namespace", "only letters, digits"),
        ({"cluster_id": "temporal-dev", "statistic": "p42"}, "statistic", "'mean'"),
        ({"namespace": "default"}, "cluster_id", "Field required"),
    ],
    ids=["naive start", "traversal namespace", "unknown statistic", "missing cluster"],
)
async def test_bad_drift_bodies_name_the_field(
    api: httpx.AsyncClient, payload: dict[str, Any], field: str, expected: str
) -> None:
    body = problem(await api.post("/profiles/drift", json=payload), 422)
    assert field in body["detail"] and expected in body["detail"], body


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("a: [unclosed", "config.dynamic_config is not valid YAML"),
        ("!!python/object/apply:os.system ['true']", "config.dynamic_config is not valid YAML"),
        ("- just\n- a list", "must be a mapping"),
        ("x:\n  - value: !!binary /w==", "binary"),
        ("x:\n  - value: 2023-02-30", "quote it as text"),
        ("x:\n  - value: &a {k: *a}", "refers to itself"),
        (ALIAS_BOMB, "more than 100000 values"),
        ("x:\n  - value: " + "[" * 5000 + "]" * 5000, "nested more than 64 levels"),
    ],
    ids=["unclosed", "python tag", "list", "binary", "no such date", "alias cycle", "alias bomb", "deep"],
)
async def test_bad_dynamic_config_text_says_what_is_wrong(
    stack: Stack, api: httpx.AsyncClient, text: str, expected: str
) -> None:
    started = time.monotonic()
    body = problem(await api.post("/profiles", json=create_body(stack, config={"dynamic_config": text})), 422)
    assert expected in body["detail"], body["detail"]
    assert time.monotonic() - started < 5


@pytest.mark.parametrize(
    ("dynamic_config", "expected"),
    [
        (
            {"history.persistenceMaxQPS": {"value": 5}},
            "['history.persistenceMaxQPS'] must be a list of {value, constraints}",
        ),
        ({"history.persistenceMaxQPS": 5}, "must be a list of {value, constraints}"),
        ("history.persistenceMaxQPS: 5\n", "(in YAML: '- value: 5')"),
        (
            {"history.persistenceMaxQPS": [{"value": 5, "constraint": {"namespace": "x"}}]},
            "take only 'value' and 'constraints'",
        ),
        ({"history.persistenceMaxQPS": [{"constraints": {}}]}, "mappings with a 'value'"),
    ],
    ids=["entry not a list", "bare value", "bare value in YAML", "misspelt constraints", "no value"],
)
async def test_dynamic_config_of_a_shape_temporal_does_not_read_is_refused(
    stack: Stack, api: httpx.AsyncClient, dynamic_config: Any, expected: str
) -> None:
    body = problem(await api.post("/profiles", json=create_body(stack, config={"dynamic_config": dynamic_config})), 422)
    assert "config.dynamic_config" in body["detail"] and expected in body["detail"], body["detail"]


async def test_deeply_nested_worker_options_are_refused(stack: Stack, api: httpx.AsyncClient) -> None:
    nested: Any = "leaf"
    for _ in range(300):
        nested = {"k": nested}
    payload = create_body(stack, config={"worker_options": nested})
    body = problem(await api.post("/profiles", json=payload), 422)
    assert "config.worker_options is nested more than 64 levels" in body["detail"]


# --- methods: 405 with Allow, HEAD like GET, OPTIONS ---------------------------------------------------

PATHS_AND_METHODS: list[tuple[str, str]] = [
    ("/profiles", "GET, HEAD, POST, OPTIONS"),
    ("/profiles/compare", "POST, OPTIONS"),
    ("/profiles/drift", "POST, OPTIONS"),
    ("/profiles/baseline", "GET, HEAD, OPTIONS"),
    ("/profiles/3f2b8c1e-0d4a-4a57-9a43-1c9e2f7b6d10", "GET, HEAD, OPTIONS"),
    ("/profiles/3f2b8c1e-0d4a-4a57-9a43-1c9e2f7b6d10/baseline", "POST, OPTIONS"),
    ("/profiles/3f2b8c1e-0d4a-4a57-9a43-1c9e2f7b6d10/conformance", "POST, OPTIONS"),
    ("/profiles/3f2b8c1e-0d4a-4a57-9a43-1c9e2f7b6d10/recommendation", "POST, OPTIONS"),
    ("/presets", "GET, HEAD, OPTIONS"),
    ("/presets/starter", "GET, HEAD, OPTIONS"),
    ("/healthz", "GET, HEAD, OPTIONS"),
    ("/readyz", "GET, HEAD, OPTIONS"),
    ("/metrics", "GET, HEAD, OPTIONS"),
]
"""Each path of the API and its ``Allow``, written out by hand (the app derives it from its routes)."""


@pytest.mark.parametrize(("path", "allow"), PATHS_AND_METHODS, ids=[p for p, _ in PATHS_AND_METHODS])
async def test_a_method_a_path_does_not_take_is_a_405_with_allow(api: httpx.AsyncClient, path: str, allow: str) -> None:
    taken = allow.split(", ")
    refused = [m for m in ("GET", "POST", "PUT", "DELETE", "PATCH") if m not in taken]
    for method in refused:
        response = await api.request(method, path, json={} if method != "GET" else None)
        body = problem(response, 405)
        assert response.headers["allow"] == allow, (method, path)
        assert f"does not take {method}" in body["detail"] and "send " in body["detail"], body["detail"]
        assert all(m in body["detail"] for m in taken if m != "OPTIONS"), body["detail"]
    options = await api.options(path)
    assert options.status_code == 204 and options.headers["allow"] == allow and options.content == b""


@pytest.mark.parametrize(
    "path",
    ["/healthz", "/readyz", "/profiles", "/profiles/", "/presets", "/profiles/baseline?cluster=temporal-dev", "/ui/"],
)
async def test_head_works_wherever_get_does(api: httpx.AsyncClient, path: str) -> None:
    got, head = await api.get(path), await api.head(path)
    assert head.status_code == got.status_code and head.status_code != 405, head.status_code
    assert head.content == b""
    assert head.headers["content-type"] == got.headers["content-type"]
