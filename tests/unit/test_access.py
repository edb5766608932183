"""Access control on the app without storage: API token, CORS, body size, creation rate, request ids.

The app has no profile storage configured, so a request that gets through the access layer to a
``/profiles`` endpoint answers 503 "Profile storage not configured": that is how these tests see that
the layer let it pass.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner

from copilot import cli
from copilot.access import TokenBucket, bearer_token, guarded_as, token_matches
from copilot.access import needs_token as token_needed
from copilot.app import create_app
from copilot.observability import accept_request_id
from copilot.routes import RouteMethods
from copilot.settings import Settings
from tests.support import serve, serving, serving_over_http

TOKEN = "s3cret-token-0123456789"
PROFILE = "3f2b8c1e-0d4a-4a57-9a43-1c9e2f7b6d10"
CREATE = {
    "name": "n",
    "cluster_id": "c",
    "time_window_start": "2026-02-18T10:00:00Z",
    "time_window_end": "2026-02-18T11:00:00Z",
}
NOT_CONFIGURED = 503
AUTH = {"Authorization": f"Bearer {TOKEN}"}


def settings(**values: Any) -> Settings:
    return Settings(_env_file=None, copilot_profile_s3_bucket=None, prometheus_endpoint=None, **values)


@pytest.fixture
async def guarded() -> AsyncIterator[httpx.AsyncClient]:
    async with serve(settings(copilot_api_token=TOKEN)) as http:
        yield http


@pytest.fixture
async def guarded_reads() -> AsyncIterator[httpx.AsyncClient]:
    async with serve(settings(copilot_api_token=TOKEN, copilot_api_token_for_reads=True)) as http:
        yield http


def assert_problem(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = response.json()
    assert body["status"] == status and body["title"] and body["detail"]
    assert body["request_id"] == response.headers["x-request-id"]
    return body


# --- the token ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "json"), [("/profiles", CREATE), ("/profiles/", CREATE), (f"/profiles/{PROFILE}/baseline", None)]
)
async def test_writes_without_the_token_answer_401(guarded: httpx.AsyncClient, path: str, json: Any) -> None:
    response = await guarded.post(path, json=json)
    body = assert_problem(response, 401)
    assert response.headers["www-authenticate"] == 'Bearer realm="copilot"'
    assert "Authorization: Bearer" in body["detail"] and "COPILOT_API_TOKEN" in body["detail"]


@pytest.mark.parametrize("header", [f"Bearer {TOKEN}x", f"Bearer {TOKEN[:-1]}", "Bearer other", f"Basic {TOKEN}"])
async def test_a_wrong_token_answers_401(guarded: httpx.AsyncClient, header: str) -> None:
    response = await guarded.post("/profiles", json=CREATE, headers={"Authorization": header})
    assert_problem(response, 401)
    assert response.headers["www-authenticate"].startswith("Bearer")


@pytest.mark.parametrize(
    ("path", "json"), [("/profiles", CREATE), ("/profiles/", CREATE), (f"/profiles/{PROFILE}/baseline", None)]
)
async def test_the_right_token_passes(guarded: httpx.AsyncClient, path: str, json: Any) -> None:
    response = await guarded.post(path, json=json, headers=AUTH)
    assert response.status_code == NOT_CONFIGURED, response.text
    # the scheme is case-insensitive and surrounding blanks do not matter
    again = await guarded.post(path, json=json, headers={"Authorization": f"  bearer   {TOKEN} "})
    assert again.status_code == NOT_CONFIGURED, again.text


async def test_reads_and_other_posts_stay_open_without_for_reads(guarded: httpx.AsyncClient) -> None:
    assert (await guarded.get("/profiles")).status_code == NOT_CONFIGURED
    assert (await guarded.get(f"/profiles/{PROFILE}")).status_code == NOT_CONFIGURED
    assert (await guarded.get("/presets")).status_code == 200
    compare = await guarded.post("/profiles/compare", json={"profile_a_id": PROFILE, "profile_b_id": PROFILE})
    assert compare.status_code != 401


async def test_reads_need_the_token_with_for_reads(guarded_reads: httpx.AsyncClient) -> None:
    for path in ("/profiles", "/profiles/", f"/profiles/{PROFILE}", "/presets", "/presets/starter"):
        assert_problem(await guarded_reads.get(path), 401)
    assert (await guarded_reads.get("/presets", headers=AUTH)).status_code == 200
    assert (await guarded_reads.get("/profiles", headers=AUTH)).status_code == NOT_CONFIGURED


async def test_health_metrics_and_docs_never_need_the_token(guarded_reads: httpx.AsyncClient) -> None:
    assert (await guarded_reads.get("/healthz")).status_code == 200
    assert (await guarded_reads.get("/readyz")).status_code == NOT_CONFIGURED
    assert (await guarded_reads.get("/metrics")).status_code == 200
    assert (await guarded_reads.get("/openapi.json")).status_code == 200
    assert (await guarded_reads.get("/docs")).status_code == 200


async def test_no_token_configured_means_open() -> None:
    async with serve(settings()) as http:
        assert (await http.post("/profiles", json=CREATE)).status_code == NOT_CONFIGURED


def test_the_token_is_not_in_the_settings_repr() -> None:
    assert TOKEN not in repr(settings(copilot_api_token=TOKEN))
    assert settings(copilot_api_token="  ").copilot_api_token is None


def test_token_helpers() -> None:
    assert bearer_token(f"Bearer {TOKEN}") == TOKEN
    assert bearer_token("Bearer") is None and bearer_token("Bearer   ") is None and bearer_token(None) is None
    assert bearer_token(f"Token {TOKEN}") is None
    assert token_matches(TOKEN, TOKEN) and not token_matches(TOKEN + "x", TOKEN) and not token_matches(None, TOKEN)
    assert token_matches("é", "é") and not token_matches("e", "é")


def test_which_requests_need_the_token_comes_from_the_routes_declared_access() -> None:
    app, routes = create_app(settings()), RouteMethods()

    def needs_token(method: str, path: str, *, for_reads: bool) -> bool:
        return token_needed(guarded_as(routes, app, method, path), for_reads=for_reads)

    assert needs_token("POST", "/profiles", for_reads=False)
    assert needs_token("POST", f"/profiles/{PROFILE}/baseline", for_reads=False)
    assert not needs_token("POST", "/profiles/compare", for_reads=False)
    assert not needs_token("GET", "/profiles", for_reads=False)
    assert needs_token("GET", "/profiles", for_reads=True) and needs_token("GET", "/presets/x", for_reads=True)
    assert not needs_token("GET", "/profilesx", for_reads=True)
    assert not needs_token("GET", "/ui/", for_reads=True) and not needs_token("GET", "/metrics", for_reads=True)
    assert not needs_token("OPTIONS", "/profiles", for_reads=True)
    # a method a write path does not take is still guarded as a write; elsewhere in the API, as a read
    assert needs_token("DELETE", f"/profiles/{PROFILE}/baseline", for_reads=False)
    assert needs_token("DELETE", f"/profiles/{PROFILE}/exclusion", for_reads=False)
    assert not needs_token("DELETE", f"/profiles/{PROFILE}", for_reads=False)
    assert needs_token("GET", "/profiles/no/such/path", for_reads=True)


# --- CORS ---------------------------------------------------------------------------------------

ALLOWED = "https://grafana.example.com"


def preflight(origin: str) -> dict[str, str]:
    return {
        "Origin": origin,
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization, content-type",
    }


async def test_cors_preflight_from_an_allowed_origin() -> None:
    cors = settings(copilot_api_token=TOKEN, copilot_cors_origins=f"{ALLOWED}/, https://other.example.com")
    async with serve(cors) as http:
        response = await http.options("/profiles", headers=preflight(ALLOWED))
        assert response.status_code == 200  # no token needed for a preflight
        assert response.headers["access-control-allow-origin"] == ALLOWED
        assert "POST" in response.headers["access-control-allow-methods"]
        assert "authorization" in response.headers["access-control-allow-headers"].lower()
        # the real request's answer, even a 401, is readable by the page
        denied = await http.post("/profiles", json=CREATE, headers={"Origin": ALLOWED})
        assert denied.status_code == 401 and denied.headers["access-control-allow-origin"] == ALLOWED
        assert "x-request-id" in denied.headers["access-control-expose-headers"].lower()


async def test_cors_preflight_from_another_origin_is_refused() -> None:
    async with serve(settings(copilot_cors_origins=ALLOWED)) as http:
        response = await http.options("/profiles", headers=preflight("https://evil.example.com"))
        assert response.status_code == 400
        assert "access-control-allow-origin" not in response.headers
        simple = await http.get("/presets", headers={"Origin": "https://evil.example.com"})
        assert "access-control-allow-origin" not in simple.headers


async def test_no_cors_origins_means_no_cors_headers(guarded: httpx.AsyncClient) -> None:
    response = await guarded.options("/profiles", headers=preflight(ALLOWED))
    assert "access-control-allow-origin" not in response.headers
    assert "access-control-allow-origin" not in (await guarded.get("/presets", headers={"Origin": ALLOWED})).headers


# --- body size ----------------------------------------------------------------------------------

LIMIT = 2048


@pytest.fixture
async def small() -> AsyncIterator[httpx.AsyncClient]:
    async with serve(settings(copilot_max_body_bytes=LIMIT)) as http:
        yield http


async def test_a_large_content_length_answers_413(small: httpx.AsyncClient) -> None:
    payload = {**CREATE, "name": "x" * LIMIT}
    body = assert_problem(await small.post("/profiles", json=payload), 413)
    assert str(LIMIT) in body["detail"] and "COPILOT_MAX_BODY_BYTES" in body["detail"]
    # the same route with a body under the limit goes through
    assert (await small.post("/profiles", json=CREATE)).status_code == NOT_CONFIGURED


def chunks(total: int, size: int = 500) -> Any:
    async def generate() -> AsyncIterator[bytes]:
        sent = 0
        yield b'{"name": "'
        while sent < total:
            yield b"x" * size
            sent += size
        yield b'", "cluster_id": "c", "time_window_start": "2026-02-18T10:00:00Z", '
        yield b'"time_window_end": "2026-02-18T11:00:00Z"}'

    return generate()


async def test_a_large_chunked_body_answers_413(small: httpx.AsyncClient) -> None:
    headers = {"Content-Type": "application/json"}
    response = await small.post("/profiles", content=chunks(LIMIT * 2), headers=headers)
    assert "content-length" not in response.request.headers
    body = assert_problem(response, 413)
    assert str(LIMIT) in body["detail"]
    # a chunked body under the limit is read as usual
    assert (await small.post("/profiles", content=chunks(500), headers=headers)).status_code == NOT_CONFIGURED


# --- creation rate ------------------------------------------------------------------------------


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_token_bucket_refills_at_its_rate() -> None:
    clock = FakeClock()
    bucket = TokenBucket(6, clock=clock)  # one every 10 s, 6 saved up
    assert [bucket.take() for _ in range(6)] == [0.0] * 6
    assert bucket.take() == pytest.approx(10.0)
    clock.now += 4
    assert bucket.take() == pytest.approx(6.0)
    clock.now += 6
    assert bucket.take() == 0.0
    clock.now += 3600  # a long pause saves up no more than the burst
    assert [bucket.take() for _ in range(7)][-1] > 0
    with pytest.raises(ValueError):
        TokenBucket(0)


async def test_creation_is_rate_limited_with_retry_after() -> None:
    clock = FakeClock()
    async with serving(settings(copilot_create_rate_per_minute=3)) as (http, app):
        app.state.create_limiter = TokenBucket(3, clock=clock)
        for _ in range(3):
            assert (await http.post("/profiles", json=CREATE)).status_code == NOT_CONFIGURED
        limited = await http.post("/profiles/", json=CREATE)
        body = assert_problem(limited, 429)
        assert limited.headers["retry-after"] == "20"  # 3 per minute: the next token in 20 s
        assert "COPILOT_CREATE_RATE_PER_MINUTE" in body["detail"] and "3 per minute" in body["detail"]
        # only creations are limited
        assert (await http.get("/profiles")).status_code == NOT_CONFIGURED
        assert (await http.post(f"/profiles/{PROFILE}/baseline")).status_code == NOT_CONFIGURED
        clock.now += 20
        assert (await http.post("/profiles", json=CREATE)).status_code == NOT_CONFIGURED
        assert (await http.post("/profiles", json=CREATE)).status_code == 429


async def test_a_rate_of_zero_turns_the_limit_off() -> None:
    async with serve(settings(copilot_create_rate_per_minute=0)) as http:
        for _ in range(5):
            assert (await http.post("/profiles", json=CREATE)).status_code == NOT_CONFIGURED


# --- request ids --------------------------------------------------------------------------------


async def test_a_sane_request_id_is_echoed(bare: httpx.AsyncClient) -> None:
    response = await bare.get("/healthz", headers={"X-Request-ID": "trace-42.abc_DEF:1"})
    assert response.headers["x-request-id"] == "trace-42.abc_DEF:1"
    problem = await bare.get("/profiles", headers={"X-Request-ID": "from-the-client"})
    assert problem.status_code == NOT_CONFIGURED
    assert problem.json()["request_id"] == problem.headers["x-request-id"] == "from-the-client"


@pytest.mark.parametrize("incoming", [None, "", "x" * 129, "has space", "new\nline", "é", "<script>"])
async def test_an_absent_or_odd_request_id_is_replaced(bare: httpx.AsyncClient, incoming: str | None) -> None:
    headers: dict[bytes, bytes] = {b"X-Request-ID": incoming.encode("utf-8")} if incoming is not None else {}
    try:
        response = await bare.get("/healthz", headers=headers)
    except httpx.LocalProtocolError:
        pytest.skip("httpx refuses to send this header")
    assert re.fullmatch(r"[0-9a-f]{32}", response.headers["x-request-id"])
    assert accept_request_id(incoming) != incoming


async def test_every_response_gets_its_own_request_id(bare: httpx.AsyncClient) -> None:
    ids = {(await bare.get("/healthz")).headers["x-request-id"] for _ in range(5)}
    assert len(ids) == 5


# --- the CLI sends the token --------------------------------------------------------------------


@pytest.fixture
def live_api() -> Iterator[str]:
    """A real HTTP server of the app (no storage) that asks for the token on reads too."""
    with serving_over_http(settings(copilot_api_token=TOKEN, copilot_api_token_for_reads=True)) as (url, _):
        yield url


def test_the_cli_sends_the_token(live_api: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> None:
    monkeypatch.chdir(tmp_path)  # no dev/.env
    monkeypatch.setenv("COPILOT_API_URL", live_api)
    monkeypatch.delenv("COPILOT_API_TOKEN", raising=False)
    runner = CliRunner()
    missing = runner.invoke(cli.app, ["profiles", "presets", "--json"])
    assert missing.exit_code == 1
    assert "HTTP 401" in missing.output and "set COPILOT_API_TOKEN" in missing.output

    monkeypatch.setenv("COPILOT_API_TOKEN", "not-it")
    wrong = runner.invoke(cli.app, ["profiles", "presets", "--json"])
    assert wrong.exit_code == 1 and "refused the token" in wrong.output

    monkeypatch.setenv("COPILOT_API_TOKEN", TOKEN)
    ok = runner.invoke(cli.app, ["profiles", "presets", "--json"])
    assert ok.exit_code == 0, ok.output
    assert "mid-scale" in ok.output
