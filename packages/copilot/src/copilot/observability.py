"""Self-observability of the Copilot API: request ids, ``/metrics`` and structured logs.

``install_observability(app, settings)`` gives an app

* its own :class:`prometheus_client.CollectorRegistry` (never the process-wide default one, so two apps
  in one process, as in the tests, never share counters), on ``app.state.metrics``;
* a pure ASGI middleware that gives every HTTP request an id (a sane incoming ``X-Request-ID`` is kept,
  anything else is replaced by a fresh one), echoes it in the response header, counts and times the
  request by method, route template and status, and writes one log line per request;
* ``GET /metrics`` in the Prometheus text format.

The request id of the request being served is held in a :class:`contextvars.ContextVar`, so problem
bodies (``request_id``) and every log record written while serving it carry it.
"""

from __future__ import annotations

import json
import logging
import re
import sys
import time
import uuid
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Final

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    GCCollector,
    Histogram,
    PlatformCollector,
    ProcessCollector,
    generate_latest,
)
from starlette.datastructures import MutableHeaders
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Mount, compile_path

from behaviour_profiles.routing import Access
from copilot.routes import RouteMethods

if TYPE_CHECKING:
    from fastapi import FastAPI
    from starlette.types import ASGIApp, Message, Receive, Scope, Send

    from copilot.settings import Settings

REQUEST_ID_HEADER: Final = "X-Request-ID"
_REQUEST_ID_OK = re.compile(r"^[A-Za-z0-9._:+=-]{1,128}$")

request_id_var: ContextVar[str | None] = ContextVar("copilot_request_id", default=None)
"""The id of the request being served in this context (``None`` outside a request)."""

log = logging.getLogger("copilot.request")

CREATE_OUTCOMES: Final = ("created", "invalid", "unauthorized", "too_large", "rate_limited", "failed")
PROMETHEUS_QUERY_KINDS: Final = ("query_range", "query", "label_values", "runtimeinfo")
LATENCY_BUCKETS: Final = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0)


def current_request_id() -> str | None:
    return request_id_var.get()


def accept_request_id(incoming: str | None) -> str:
    """The incoming id when it is 1-128 characters of ``[A-Za-z0-9._:+=-]``, else a fresh one."""
    if incoming is not None and _REQUEST_ID_OK.match(incoming):
        return incoming
    return uuid.uuid4().hex


def creation_outcome(status: int) -> str:
    """What became of one ``POST /profiles``, as the ``outcome`` label."""
    if status == 201:
        return "created"
    return {401: "unauthorized", 413: "too_large", 429: "rate_limited"}.get(
        status, "failed" if status >= 500 else "invalid"
    )


class Metrics:
    """The app's metrics, in a registry of its own."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry if registry is not None else CollectorRegistry(auto_describe=True)
        ProcessCollector(registry=self.registry)
        PlatformCollector(registry=self.registry)
        GCCollector(registry=self.registry)
        self.requests = Counter(
            "copilot_http_requests",
            "HTTP requests answered, by method, route template and status",
            ("method", "route", "status"),
            registry=self.registry,
        )
        self.request_seconds = Histogram(
            "copilot_http_request_duration_seconds",
            "Time to answer an HTTP request, by method, route template and status",
            ("method", "route", "status"),
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.creations = Counter(
            "copilot_profile_creations",
            "POST /profiles requests by outcome (created, invalid, unauthorized, too_large, rate_limited, failed)",
            ("outcome",),
            registry=self.registry,
        )
        self.prometheus_seconds = Histogram(
            "copilot_prometheus_query_duration_seconds",
            "Time of one Prometheus API call (all its attempts), by kind",
            ("kind",),
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.prometheus_failures = Counter(
            "copilot_prometheus_query_failures",
            "Prometheus API calls that failed after their attempts, by kind",
            ("kind",),
            registry=self.registry,
        )
        for outcome in CREATE_OUTCOMES:
            self.creations.labels(outcome)
        for kind in PROMETHEUS_QUERY_KINDS:
            self.prometheus_seconds.labels(kind)
            self.prometheus_failures.labels(kind)

    def observe_request(self, method: str, route: str, status: int, seconds: float, *, creates: bool = False) -> None:
        """One answered request; ``creates``: its route declares itself a profile creation."""
        labels = (method, route, str(status))
        self.requests.labels(*labels).inc()
        self.request_seconds.labels(*labels).observe(seconds)
        if creates:
            self.creations.labels(creation_outcome(status)).inc()

    def observe_prometheus_query(self, kind: str, seconds: float, ok: bool) -> None:
        """The ``on_query`` observer of :class:`behaviour_profiles.telemetry.PrometheusClient`."""
        self.prometheus_seconds.labels(kind).observe(seconds)
        if not ok:
            self.prometheus_failures.labels(kind).inc()

    def exposition(self) -> bytes:
        return generate_latest(self.registry)


def _routed_template(scope: Scope) -> str | None:
    """The template of the route that answered, with the prefix of the router it was included with.

    FastAPI may keep an included route's path relative to its router (``/{profile_id}``); the prefix is
    then the part of the request path before the part the route matched, and always literal here
    (our routers are included with fixed prefixes)."""
    route = scope.get("route")
    regex = getattr(route, "path_regex", None)
    template = getattr(route, "path_format", None)
    if regex is None or not isinstance(template, str):
        return None
    path: str = scope["path"]
    for start in range(len(path) + 1):
        if regex.match(path[start:]):
            return path[:start] + template
    return template


class RouteTemplates:
    """Path templates of an app, to label requests answered before routing (401, 413, 429).

    Built on first use from the OpenAPI document and the app's top-level routes; a path that matches
    none of them is ``unmatched``. ``/profiles/`` (the hidden alias of ``/profiles``) is matched too."""

    def __init__(self) -> None:
        self._compiled: list[tuple[re.Pattern[str], str]] | None = None

    def _build(self, app: Any) -> list[tuple[re.Pattern[str], str]]:
        templates: set[str] = set()
        openapi = getattr(app, "openapi", None)
        if callable(openapi):
            templates.update(openapi().get("paths", {}))
        for route in getattr(app, "routes", ()):
            path = getattr(route, "path", None)
            if isinstance(path, str) and path:
                templates.add(f"{path}/{{path}}" if isinstance(route, Mount) else path)
        # literal paths first (/profiles/baseline before /profiles/{profile_id}), then longer ones
        ordered = sorted(templates, key=lambda t: (t.count("{"), -len(t)))
        return [(compile_path(t)[0], t) for t in ordered]

    def match(self, app: Any, path: str) -> str:
        if self._compiled is None:
            self._compiled = self._build(app)
        for candidate, suffix in ((path, ""), (path.rstrip("/"), "/")):
            if suffix and (candidate == path or not candidate):
                continue
            for regex, template in self._compiled:
                if regex.match(candidate):
                    return template + suffix
        return "unmatched"


class RequestObservabilityMiddleware:
    """Request id, request metrics and one structured log line per HTTP request."""

    def __init__(self, app: ASGIApp, *, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics
        self.templates = RouteTemplates()
        self.routes = RouteMethods()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        root_path = scope.get("root_path", "")
        incoming = next((v.decode("latin-1") for k, v in scope["headers"] if k == b"x-request-id"), None)
        request_id = accept_request_id(incoming)
        token = request_id_var.set(request_id)
        scope.setdefault("state", {})["request_id"] = request_id
        status = 500
        started = time.perf_counter()

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                MutableHeaders(scope=message)[REQUEST_ID_HEADER] = request_id
            await send(message)

        failed = False
        try:
            await self.app(scope, receive, send_with_id)
        except BaseException:
            # The app's 500 handler runs outside this middleware and still reads the request id.
            failed = True
            status = 500
            raise
        finally:
            self._record(scope, root_path, request_id, status, time.perf_counter() - started)
            if not failed:
                request_id_var.reset(token)

    def route(self, scope: Scope, root_path: str) -> str:
        """The route template of the request: never its raw path, so that ids never become labels."""
        routed = _routed_template(scope)
        if routed is not None:
            return routed
        mounted = scope.get("root_path", "")
        if mounted != root_path and mounted.startswith(root_path):  # answered by a mounted app
            return f"{mounted[len(root_path) :]}/{{path}}"
        return self.templates.match(scope.get("app"), scope["path"])

    def _record(self, scope: Scope, root_path: str, request_id: str, status: int, seconds: float) -> None:
        method = scope["method"]
        route = self.route(scope, root_path)
        creates = self.routes.declared(scope.get("app"), method, scope["path"]) is Access.CREATE
        self.metrics.observe_request(method, route, status, seconds, creates=creates)
        log.info(
            "%s %s %d %.1fms",
            method,
            route,
            status,
            seconds * 1000,
            extra={
                "request_id": request_id,
                "method": method,
                "route": route,
                "path": scope["path"],
                "status": status,
                "duration_ms": round(seconds * 1000, 1),
            },
        )


# --- logging ---------------------------------------------------------------------------------

_RECORD_ATTRIBUTES = frozenset(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {"message", "asctime"}


class RequestIdFilter(logging.Filter):
    """Put the current request id (or ``None``) on every record as ``request_id``."""

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "request_id", None) is None:
            record.request_id = request_id_var.get()
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line: ``time``, ``level``, ``logger``, ``message``, ``request_id``, the
    record's ``extra`` fields, and ``exception`` when there is one."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", None),
        }
        for key, value in record.__dict__.items():
            if key not in _RECORD_ATTRIBUTES and key not in entry and not key.startswith("_"):
                entry[key] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


TEXT_FORMAT: Final = "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"


def log_formatter(log_format: str) -> logging.Formatter:
    return JsonFormatter() if log_format == "json" else logging.Formatter(TEXT_FORMAT)


class _CopilotHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Marks the one handler this module installs, so installing again replaces its format only."""


def configure_logging(log_format: str) -> logging.Handler:
    """Send the ``copilot`` loggers' records (INFO and up) to stderr, one line each, JSON or text.

    Idempotent: a second app in the same process reuses the handler (with the latest format). Records
    still propagate, so a host that configures the root logger (or pytest's ``caplog``) sees them too.
    """
    logger = logging.getLogger("copilot")
    handler = next((h for h in logger.handlers if isinstance(h, _CopilotHandler)), None)
    if handler is None:
        handler = _CopilotHandler(sys.stderr)
        handler.addFilter(RequestIdFilter())
        logger.addHandler(handler)
    handler.setFormatter(log_formatter(log_format))
    if logger.level == logging.NOTSET:
        logger.setLevel(logging.INFO)
    return handler


# --- wiring ----------------------------------------------------------------------------------


def install_observability(app: FastAPI, settings: Settings) -> Metrics:
    """Give ``app`` its metrics registry, the request middleware (outermost of ours: add it last),
    ``GET /metrics`` and the log format of ``settings``."""
    metrics = Metrics()
    app.state.metrics = metrics
    app.add_middleware(RequestObservabilityMiddleware, metrics=metrics)
    configure_logging(settings.copilot_log_format)

    # Not in the OpenAPI document: a Prometheus scrape target, not part of the JSON API.
    @app.get("/metrics", include_in_schema=False)
    async def metrics_endpoint(request: Request) -> Response:
        current: Metrics = request.app.state.metrics
        return Response(current.exposition(), media_type=CONTENT_TYPE_LATEST)

    return metrics
