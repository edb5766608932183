"""SigV4 signing and retries of the Prometheus client, against a real HTTP server on 127.0.0.1.

The server plays Amazon Managed Prometheus: it re-derives the signature of every request it receives
from the known test credentials (botocore's signing steps, fed the request exactly as received, its
query re-encoded canonically and the ``X-Amz-Date`` it carries) and answers 403 on any mismatch.
"""

from __future__ import annotations

import hmac
import json
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, quote, urlsplit

import httpx
import pytest
from botocore.auth import SigV4Auth as BotocoreSigV4
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials, ReadOnlyCredentials

from behaviour_profiles.errors import DependencyFailed, DependencyTimeout
from behaviour_profiles.sigv4 import SigV4Auth, amp_region, is_amp
from behaviour_profiles.telemetry import MatrixSeries, PrometheusClient, QueryPlan

ACCESS_KEY = "AKIDEXAMPLE"
SECRET_KEY = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
TOKEN = "session-token/with+odd=chars"
REGION = "us-east-1"

PROMQL = 'sum by (le) (rate(persistence_latency_bucket{namespace="a b",task_queue=~"q|r+"}[60s]))'
PLAN = QueryPlan(start=1_700_000_000.0, end=1_700_000_600.0, step=15, rate_window=60)
MATRIX = {"resultType": "matrix", "result": [{"metric": {"le": "+Inf"}, "values": [[1_700_000_000, "1"]]}]}
SERIES = [MatrixSeries({"le": "+Inf"}, [(1_700_000_000.0, 1.0)])]  # MATRIX's result as the client reads it


# --- the local verifying server ----------------------------------------------------------------


@dataclass
class Seen:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    verdict: str


@dataclass
class Script:
    """What the server answers, in order; the last answer repeats. ``None`` means: verify SigV4."""

    answers: list[tuple[int, dict[str, str], Any] | None] = field(default_factory=lambda: [None])
    verify: bool = True
    seen: list[Seen] = field(default_factory=list)


def canonical(query: str) -> str:
    pairs = sorted((quote(k, safe="-_.~"), quote(v, safe="-_.~")) for k, v in parse_qsl(query, keep_blank_values=True))
    return "&".join(f"{k}={v}" for k, v in pairs)


def verify_sigv4(method: str, raw_path: str, headers: dict[str, str], body: bytes) -> str:
    """``"ok"`` when the request carries a valid signature by the test credentials, else why not."""
    auth = headers.get("authorization", "")
    if not auth.startswith("AWS4-HMAC-SHA256 "):
        return "not signed"
    fields = dict(part.strip().split("=", 1) for part in auth[len("AWS4-HMAC-SHA256 ") :].split(","))
    access_key, date, region, service, terminator = fields["Credential"].split("/")
    signed = fields["SignedHeaders"].split(";")
    amz_date = headers.get("x-amz-date", "")
    if (access_key, region, service, terminator) != (ACCESS_KEY, REGION, "aps", "aws4_request"):
        return f"wrong scope {fields['Credential']}"
    if not amz_date.startswith(date) or not {"host", "x-amz-date", "x-amz-security-token"} <= set(signed):
        return f"date or signed headers wrong: {amz_date} {signed}"
    sent_at = datetime.strptime(amz_date, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
    if abs((datetime.now(UTC) - sent_at).total_seconds()) > 300:
        return "stale x-amz-date"
    if headers.get("x-amz-security-token") != TOKEN:
        return "wrong security token"
    parts = urlsplit(raw_path)
    url = f"http://{headers['host']}{parts.path}" + (f"?{canonical(parts.query)}" if parts.query else "")
    request = AWSRequest(method=method, url=url, headers={h: headers[h] for h in signed}, data=body)
    request.context["timestamp"] = amz_date
    signer = BotocoreSigV4(Credentials(ACCESS_KEY, SECRET_KEY, TOKEN), "aps", REGION)
    string_to_sign = signer.string_to_sign(request, signer.canonical_request(request))
    expected = signer.signature(string_to_sign, request)
    return "ok" if hmac.compare_digest(expected, fields["Signature"]) else "signature mismatch"


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: Server

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _handle(self) -> None:
        body = self.rfile.read(int(self.headers.get("content-length") or 0))
        headers = {k.lower(): v for k, v in self.headers.items()}
        script = self.server.script
        verdict = verify_sigv4(self.command, self.path, headers, body) if script.verify else "unchecked"
        script.seen.append(Seen(self.command, self.path, headers, body, verdict))
        answer = script.answers[min(len(script.seen) - 1, len(script.answers) - 1)]
        if answer is None:
            if verdict not in ("ok", "unchecked"):
                answer = (403, {}, {"message": f"The request signature we calculated does not match: {verdict}"})
            else:
                data = MATRIX if "query_range" in self.path else ["persistence_latency_bucket"]
                answer = (200, {}, {"status": "success", "data": data})
        status, extra, payload = answer
        raw = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(raw)))
        for name, value in extra.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(raw)

    do_GET = _handle
    do_POST = _handle


class Server(ThreadingHTTPServer):
    daemon_threads = True
    script: Script


@pytest.fixture(scope="module")
def server() -> Iterator[Server]:
    srv = Server(("127.0.0.1", 0), Handler)
    srv.script = Script()
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    yield srv
    srv.shutdown()
    srv.server_close()


@pytest.fixture
def base(server: Server) -> str:
    server.script = Script()
    return f"http://127.0.0.1:{server.server_address[1]}/workspaces/ws-test"


def provider(secret: str = SECRET_KEY, calls: list[int] | None = None) -> Any:
    def credentials() -> ReadOnlyCredentials:
        if calls is not None:
            calls.append(1)
        return ReadOnlyCredentials(ACCESS_KEY, secret, TOKEN)

    return credentials


# --- signing -----------------------------------------------------------------------------------


async def test_signed_get_and_form_post_are_accepted(server: Server, base: str) -> None:
    calls: list[int] = []
    async with httpx.AsyncClient() as http:
        client = PrometheusClient(http, base, auth=SigV4Auth(provider(calls=calls), REGION))
        names = await client.metric_names(["persistence_latency_bucket", "service_requests"], PLAN.start, PLAN.end)
        matrix = await client.query_range(PROMQL, PLAN)
    assert names == {"persistence_latency_bucket"}
    assert matrix == SERIES
    get, post = server.script.seen
    assert (get.method, get.verdict, post.method, post.verdict) == ("GET", "ok", "POST", "ok")
    assert "match%5B%5D=" in get.path
    assert dict(parse_qsl(post.body.decode()))["query"] == PROMQL  # the form body was signed as sent
    assert len(calls) == 2  # credentials are asked for on every request, so refreshed ones are used


async def test_wrong_secret_is_refused_with_403_and_not_retried(server: Server, base: str) -> None:
    async with httpx.AsyncClient() as http:
        client = PrometheusClient(http, base, auth=SigV4Auth(provider(secret="not-the-secret"), REGION))
        with pytest.raises(DependencyFailed) as caught:
            await client.query_range(PROMQL, PLAN)
    assert "HTTP 403" in caught.value.message
    assert [s.verdict for s in server.script.seen] == ["signature mismatch"]


async def test_unsigned_request_is_refused(server: Server, base: str) -> None:
    async with httpx.AsyncClient() as http:
        with pytest.raises(DependencyFailed, match="HTTP 403"):
            await PrometheusClient(http, base).check()
    assert [s.verdict for s in server.script.seen] == ["not signed"]


def test_sync_client_signs_too_and_sends_the_query_as_signed(server: Server, base: str) -> None:
    with httpx.Client(auth=SigV4Auth(provider(), REGION)) as http:
        got = http.get(f"{base}/api/v1/series", params={"match[]": 'up{job="a b+c"}', "start": "1"})
        posted = http.post(f"{base}/api/v1/query", data={"query": 'up{job="a b"}', "time": "1"})
    assert (got.status_code, posted.status_code) == (200, 200)
    assert [s.verdict for s in server.script.seen] == ["ok", "ok"]
    # httpx would send the space as "+"; SigV4 canonical form (and so the wire) has %20, "+" is %2B
    assert "a%20b%2Bc" in server.script.seen[0].path


def test_signing_again_replaces_the_previous_signature() -> None:
    auth = SigV4Auth(provider(), REGION)
    request = httpx.Request(
        "GET", "https://aps-workspaces.us-east-1.amazonaws.com/workspaces/ws-1/api/v1/query?query=up"
    )
    auth.sign(request, provider()())
    first = request.headers["authorization"]
    auth.sign(request, ReadOnlyCredentials(ACCESS_KEY, SECRET_KEY, None))
    assert request.headers["authorization"] != first
    assert "x-amz-security-token" not in request.headers
    assert request.headers["authorization"].count("AWS4-HMAC-SHA256") == 1


@pytest.mark.parametrize(
    ("url", "region"),
    [
        ("https://aps-workspaces.us-east-1.amazonaws.com/workspaces/ws-xxxx", "us-east-1"),
        ("https://aps-workspaces.eu-west-2.amazonaws.com/workspaces/ws-1/api/v1/query", "eu-west-2"),
        ("https://aps-workspaces-fips.us-gov-west-1.amazonaws.com/workspaces/ws-1", "us-gov-west-1"),
        ("https://aps-workspaces.ap-southeast-2.api.aws/workspaces/ws-1", "ap-southeast-2"),
        ("https://aps-workspaces.cn-north-1.amazonaws.com.cn/workspaces/ws-1", "cn-north-1"),
        ("https://vpce-0a1b-2c3d.aps-workspaces.eu-central-1.vpce.amazonaws.com/workspaces/ws-1", "eu-central-1"),
        ("HTTPS://APS-WORKSPACES.US-EAST-2.AMAZONAWS.COM/workspaces/ws-1", "us-east-2"),
        ("http://localhost:9090", None),
        ("http://127.0.0.1:9090/workspaces/ws-1", None),
        ("https://mimir.example.com/prometheus", None),
        ("https://aps.us-east-1.amazonaws.com/workspaces", None),
        ("https://aps-workspaces.us-east-1.amazonaws.com.evil.example/workspaces/ws-1", None),
        ("https://example.com/aps-workspaces.us-east-1.amazonaws.com", None),
        ("", None),
    ],
)
def test_amp_region(url: str, region: str | None) -> None:
    assert amp_region(url) == region
    assert is_amp(url) is (region is not None)


def test_is_amp_of_nothing() -> None:
    assert is_amp(None) is False


# --- retries -----------------------------------------------------------------------------------


def fast(client: PrometheusClient) -> PrometheusClient:
    client.BACKOFF_BASE_S = 0.01
    return client


ERROR_429 = (429, {"Retry-After": "0"}, {"status": "error", "errorType": "throttled", "error": "slow down"})
ERROR_503: tuple[int, dict[str, str], Any] = (503, {}, b"Service Unavailable")


async def test_429_twice_then_success(server: Server, base: str) -> None:
    server.script = Script(answers=[ERROR_429, ERROR_429, None])
    async with httpx.AsyncClient() as http:
        client = PrometheusClient(http, base, auth=SigV4Auth(provider(), REGION))
        started = time.monotonic()
        assert await client.query_range(PROMQL, PLAN) == SERIES
    assert time.monotonic() - started < 1.0  # Retry-After: 0 was honoured
    assert [s.verdict for s in server.script.seen] == ["ok", "ok", "ok"]  # each attempt signed


async def test_always_503_gives_up_after_bounded_attempts(server: Server, base: str) -> None:
    server.script = Script(answers=[ERROR_503], verify=False)
    async with httpx.AsyncClient() as http:
        client = fast(PrometheusClient(http, base))
        with pytest.raises(DependencyFailed) as caught:
            await client.query_range(PROMQL, PLAN)
    assert len(server.script.seen) == PrometheusClient.MAX_ATTEMPTS == 3
    assert "HTTP 503 after 3 attempts" in caught.value.message


async def test_bad_data_is_not_retried(server: Server, base: str) -> None:
    error = {"status": "error", "errorType": "bad_data", "error": 'parse error at char 5: unexpected "}"'}
    bad: tuple[int, dict[str, str], Any] = (400, {}, error)
    server.script = Script(answers=[bad], verify=False)
    async with httpx.AsyncClient() as http:
        with pytest.raises(DependencyFailed) as caught:
            await fast(PrometheusClient(http, base)).query(PROMQL, PLAN.end)
    assert len(server.script.seen) == 1
    assert "HTTP 400: parse error" in caught.value.message
    assert "attempts" not in caught.value.message


async def test_retry_after_beyond_the_deadline_is_not_waited_for(server: Server, base: str) -> None:
    server.script = Script(answers=[(503, {"Retry-After": "5"}, b"busy")], verify=False)
    async with httpx.AsyncClient() as http:
        client = PrometheusClient(http, base, timeout_s=0.5)  # all attempts within 1.5 s
        started = time.monotonic()
        with pytest.raises(DependencyFailed, match="HTTP 503"):
            await client.check()
    assert time.monotonic() - started < 1.0
    assert len(server.script.seen) == 1


def test_backoff_grows_with_jitter_and_retry_after_is_capped() -> None:
    client = PrometheusClient(httpx.AsyncClient(), "http://prometheus")
    for attempt in (1, 2, 3):
        ceiling = client.BACKOFF_BASE_S * 2 ** (attempt - 1)
        assert all(ceiling / 2 <= client._backoff(attempt, None) <= ceiling for _ in range(50))
    assert client._backoff(30, None) <= client.BACKOFF_CAP_S
    capped = httpx.Response(429, headers={"Retry-After": "3600"})
    assert client._backoff(1, capped) == client.RETRY_AFTER_CAP_S
    assert client._backoff(1, httpx.Response(429, headers={"Retry-After": "2"})) == 2.0
    dated = httpx.Response(503, headers={"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"})
    assert client._backoff(1, dated) == 0.0  # a date in the past: retry now


async def test_connect_errors_are_retried_then_reported() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # closed again below: nothing listens there
    async with httpx.AsyncClient() as http:
        client = fast(PrometheusClient(http, f"http://127.0.0.1:{port}", timeout_s=2))
        with pytest.raises((DependencyFailed, DependencyTimeout)) as caught:
            await client.check()
    assert "after 3 attempts" in caught.value.message
