"""Access to the Copilot API: the API token, CORS, request size limits and the profile creation rate.

``install_access(app, settings)`` adds, from the outside in:

* CORS for the origins of ``COPILOT_CORS_ORIGINS`` (no CORS headers at all when it is empty), outside
  the token check so that preflights never need the token and a 401 still reaches the page;
* :class:`AccessMiddleware`, a pure ASGI middleware that

  - asks for ``Authorization: Bearer <COPILOT_API_TOKEN>`` (compared in constant time) on the
    requests of routes that declare themselves writes (:mod:`behaviour_profiles.routing`), and with
    ``COPILOT_API_TOKEN_FOR_READS`` on every request under the API's roots (``/profiles``,
    ``/presets``: the first segments of the routes that declare an access class); 401 with
    ``WWW-Authenticate: Bearer`` otherwise. A method a path does not take is guarded as the strongest
    class declared on that path, so an unknown method on a write path still needs the token;
  - refuses bodies over ``COPILOT_MAX_BODY_BYTES`` with 413, from ``Content-Length`` before the app
    runs, and by counting the bytes of a body sent without it (chunked) as the app reads them;
  - takes one token of the creation bucket (``app.state.create_limiter``) for every request of a route
    that declares itself a profile creation (``POST /profiles``) and answers 429 with ``Retry-After``
    when it is empty.

CORS allows the methods of the routes that declare an access class.

Its answers are RFC 9457 problem documents with the request id, like the rest of the API.
"""

from __future__ import annotations

import hmac
import json
import math
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Final

from starlette.exceptions import HTTPException
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse

from behaviour_profiles.routing import Access
from copilot.observability import REQUEST_ID_HEADER, current_request_id
from copilot.problems import PROBLEM_JSON, problem, problem_body
from copilot.routes import RouteMethods, api_methods

if TYPE_CHECKING:
    from fastapi import FastAPI
    from starlette.types import ASGIApp, Message, Receive, Scope, Send

    from copilot.settings import Settings

_OPEN_METHODS: Final = frozenset({"OPTIONS"})


def guarded_as(routes: RouteMethods, app: Any, method: str, path: str) -> Access | None:
    """The access class a request is guarded as: its route's declared class; on a path whose routes do
    not take the method, the strongest class declared there; elsewhere under the API's roots, a read.
    ``None`` (open): ``OPTIONS``, and what lies outside the API (``/healthz``, ``/metrics``, the UI)."""
    if method in _OPEN_METHODS:
        return None
    found = routes.lookup(app, path)
    if found is not None:
        if method in found.methods:
            return found.access.get(method)
        if found.access:
            return max(found.access.values())
    under_api = any(path == root or path.startswith(root + "/") for root in routes.roots(app))
    return Access.READ if under_api else None


def needs_token(access: Access | None, *, for_reads: bool) -> bool:
    """Does a request guarded as ``access`` need the API token (when one is configured)?"""
    if access is None:
        return False
    return access >= Access.WRITE or for_reads


def bearer_token(authorization: str | None) -> str | None:
    """The token of an ``Authorization: Bearer <token>`` header, ``None`` for any other header."""
    if authorization is None:
        return None
    scheme, _, token = authorization.strip().partition(" ")
    token = token.strip()
    return token if scheme.lower() == "bearer" and token else None


def token_matches(presented: str | None, expected: str) -> bool:
    """Constant-time comparison (the time does not depend on how much of the token matches)."""
    if presented is None:
        return False
    return hmac.compare_digest(presented.encode(), expected.encode())


class TokenBucket:
    """``rate_per_minute`` tokens per minute, at most ``capacity`` (default: the same number) saved up.

    ``clock`` returns seconds (monotonic); tests pass their own.
    """

    def __init__(
        self, rate_per_minute: int, *, capacity: int | None = None, clock: Callable[[], float] = time.monotonic
    ) -> None:
        if rate_per_minute < 1:
            raise ValueError("rate_per_minute must be at least 1")
        self.rate_per_minute = rate_per_minute
        self.capacity = float(capacity if capacity is not None else rate_per_minute)
        self._per_second = rate_per_minute / 60.0
        self._clock = clock
        self._tokens = self.capacity
        self._updated = clock()

    def take(self) -> float:
        """Take a token: 0.0 when one was there, else the seconds until the next one."""
        now = self._clock()
        self._tokens = min(self.capacity, self._tokens + (now - self._updated) * self._per_second)
        self._updated = now
        if self._tokens >= 1.0:
            self._tokens -= 1.0
            return 0.0
        return (1.0 - self._tokens) / self._per_second


class BodyTooLarge(HTTPException):
    """Raised while the app reads a body (without ``Content-Length``) that grows over the limit.

    An ``HTTPException`` so that FastAPI's body parsing lets it through unchanged."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, too_large_detail(limit))
        self.limit = limit


def too_large_detail(limit: int) -> str:
    return f"The request body is larger than {limit} bytes; send less, or raise COPILOT_MAX_BODY_BYTES"


def _on_body_too_large(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, BodyTooLarge)
    return problem(413, "Content too large", exc.detail)


async def send_problem(send: Send, status: int, title: str, detail: str, headers: dict[str, str] | None = None) -> None:
    payload = json.dumps(problem_body(status, title, detail)).encode()
    raw = [
        (b"content-type", PROBLEM_JSON.encode()),
        (b"content-length", str(len(payload)).encode()),
        *((k.lower().encode(), v.encode("latin-1")) for k, v in (headers or {}).items()),
    ]
    request_id = current_request_id()
    if request_id is not None:
        raw.append((REQUEST_ID_HEADER.lower().encode(), request_id.encode()))
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": payload})


class AccessMiddleware:
    """Token check, body size limit and creation rate limit (see the module docstring)."""

    def __init__(self, app: ASGIApp, *, token: str | None, token_for_reads: bool, max_body_bytes: int) -> None:
        self.app = app
        self.token = token
        self.token_for_reads = token_for_reads
        self.max_body_bytes = max_body_bytes
        self.routes = RouteMethods()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        method: str = scope["method"]
        path: str = scope["path"]
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        access = guarded_as(self.routes, scope.get("app"), method, path)

        if self.token is not None and needs_token(access, for_reads=self.token_for_reads):
            presented = bearer_token(headers.get("authorization"))
            if not token_matches(presented, self.token):
                await self._unauthorized(send, presented is None)
                return

        length = headers.get("content-length")
        if length is not None:
            if not length.isdigit():
                await send_problem(send, 400, "Request error", "Content-Length must be a whole number of bytes")
                return
            if int(length) > self.max_body_bytes:
                await send_problem(send, 413, "Content too large", too_large_detail(self.max_body_bytes))
                return

        if self.routes.declared(scope.get("app"), method, path) is Access.CREATE:
            limiter: TokenBucket | None = (
                getattr(scope["app"].state, "create_limiter", None) if "app" in scope else None
            )
            wait = limiter.take() if limiter is not None else 0.0
            if wait > 0:
                assert limiter is not None
                await send_problem(
                    send,
                    429,
                    "Too many requests",
                    f"Profile creation is limited to {limiter.rate_per_minute} per minute "
                    f"(COPILOT_CREATE_RATE_PER_MINUTE); try again in {math.ceil(wait)} s",
                    {"Retry-After": str(math.ceil(wait))},
                )
                return

        await self.app(scope, self._counting(receive) if length is None else receive, send)

    def _counting(self, receive: Receive) -> Receive:
        """``receive`` that raises :class:`BodyTooLarge` once the body read so far is over the limit."""
        received = 0
        limit = self.max_body_bytes

        async def counted() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyTooLarge(limit)
            return message

        return counted

    @staticmethod
    async def _unauthorized(send: Send, missing: bool) -> None:
        if missing:
            detail = "This request needs the API token: send the header `Authorization: Bearer <COPILOT_API_TOKEN>`"
            challenge = 'Bearer realm="copilot"'
        else:
            detail = "The bearer token is not the API token; send the value of COPILOT_API_TOKEN"
            challenge = 'Bearer realm="copilot", error="invalid_token"'
        await send_problem(send, 401, "Unauthorized", detail, {"WWW-Authenticate": challenge})


def cors_origins(settings: Settings) -> list[str]:
    return [o.strip().rstrip("/") for o in settings.copilot_cors_origins.split(",") if o.strip()]


def install_access(app: FastAPI, settings: Settings, *, clock: Callable[[], float] = time.monotonic) -> None:
    """Add the access middleware and CORS to ``app`` (before the observability middleware, which must
    stay outermost) and put the creation rate limiter on ``app.state.create_limiter``. Install it after
    the API's routes: CORS allows their methods."""
    rate = settings.copilot_create_rate_per_minute
    app.state.create_limiter = TokenBucket(rate, clock=clock) if rate > 0 else None
    app.add_exception_handler(BodyTooLarge, _on_body_too_large)
    app.add_middleware(
        AccessMiddleware,
        token=settings.copilot_api_token,
        token_for_reads=settings.copilot_api_token_for_reads,
        max_body_bytes=settings.copilot_max_body_bytes,
    )
    origins = cors_origins(settings)
    if origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=origins,
            allow_methods=api_methods(app.routes),
            allow_headers=["Authorization", "Content-Type", REQUEST_ID_HEADER],
            expose_headers=["Location", "Link", "X-Next-Cursor", "Retry-After", REQUEST_ID_HEADER],
            max_age=600,
        )
