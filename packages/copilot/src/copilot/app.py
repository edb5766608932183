"""The Copilot API process: ``create_app(settings)``.

The lifespan opens one keep-alive HTTP client (Prometheus), one S3 client and one asyncpg pool, asks
Prometheus its cores in the background (:func:`warm_up`), puts the profile services on the app
(``behaviour_profiles.api.install_services``) and closes them on the way out. Errors of our tree
become RFC 9457 problem details in one table.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from datetime import UTC, datetime
from typing import Any

import httpx
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from behaviour_profiles import api as profiles_api
from behaviour_profiles import presets_api, service
from behaviour_profiles.catalogue import Dialect
from behaviour_profiles.errors import (
    BehaviourProfileError,
    DependencyError,
    DependencyFailed,
    DependencyTimeout,
    DependencyUnavailable,
    InvalidRequest,
    NotConfigured,
    NoTelemetry,
    NotFound,
)
from behaviour_profiles.service import ProfileServices
from behaviour_profiles.storage import ProfileStore
from behaviour_profiles.telemetry import PrometheusClient, QueryObserver, TelemetryCollector
from copilot import ui
from copilot.access import install_access
from copilot.frontend import frontend_version_reader
from copilot.index import open_index_pool, recycle_connections
from copilot.methods import MethodsMiddleware
from copilot.monitored import host_config_reader
from copilot.observability import install_observability
from copilot.problems import PROBLEM_JSON, problem
from copilot.settings import DialectSetting, Settings

log = logging.getLogger("copilot")

ERROR_STATUS: tuple[tuple[type[BehaviourProfileError], int, str], ...] = (
    (InvalidRequest, 422, "Invalid request"),
    (NotFound, 404, "Not found"),
    (NoTelemetry, 422, "No telemetry in window"),
    (NotConfigured, 503, "Not configured"),
    (DependencyFailed, 502, "Dependency failed"),
    (DependencyUnavailable, 503, "Dependency unavailable"),
    (DependencyTimeout, 504, "Dependency timed out"),
    (BehaviourProfileError, 500, "Internal error"),
)
"""Our error tree -> HTTP status, first match wins (subclasses before their bases)."""


PROBLEM_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["type", "title", "status", "detail"],
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string", "description": "What went wrong and what to do about it"},
        "errors": {
            "type": "array",
            "description": "On invalid input: each offending field and what is wrong with it",
            "items": {
                "type": "object",
                "required": ["field", "message"],
                "properties": {"field": {"type": "string"}, "message": {"type": "string"}},
            },
        },
        "dependency": {"type": "string", "description": "On 502/503/504: the dependency that failed"},
    },
}
"""RFC 9457 problem details, the body of every error answer."""

PROBLEM_RESPONSES: dict[int | str, dict[str, Any]] = {
    "4XX": {
        "description": "Bad input, unknown id or missing baseline: `detail` says what to fix",
        "content": {PROBLEM_JSON: {"schema": PROBLEM_SCHEMA}},
    },
    "5XX": {
        "description": "A dependency (PostgreSQL, S3, Prometheus) failed, timed out or is not configured",
        "content": {PROBLEM_JSON: {"schema": PROBLEM_SCHEMA}},
    },
}
"""The error answers every profile and preset route documents in the OpenAPI schema."""


S3_ATTEMPTS = 3
"""Attempts of one S3 operation (botocore's standard retry mode), the first included."""


def _on_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, BehaviourProfileError)
    for cls, status, title in ERROR_STATUS:
        if isinstance(exc, cls):
            extra = {"dependency": exc.dependency} if isinstance(exc, DependencyError) else {}
            if status >= 500:
                log.warning("%s %s -> %d: %s", request.method, request.url.path, status, exc.message)
            return problem(status, title, exc.message, **extra)
    raise exc  # pragma: no cover - BehaviourProfileError is the last row


def _field(loc: tuple[Any, ...]) -> str:
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "[key]")]  # "[key]": a mapping's bad key
    return ".".join(parts) or "body"


_HINTS = {
    "extra_forbidden": "unknown field; remove it (/docs lists the accepted fields)",
    "model_attributes_type": "the body must be a JSON object (/docs shows its fields)",
    "dict_type": "must be a JSON object",
    "datetime_parsing": "use an ISO-8601 instant with a time zone, e.g. 2026-02-18T10:00:00Z",
    "datetime_from_date_parsing": "use an ISO-8601 instant with a time zone, e.g. 2026-02-18T10:00:00Z",
    "datetime_type": "use an ISO-8601 instant with a time zone, e.g. 2026-02-18T10:00:00Z",
    "missing": "add it (/docs lists the required fields)",
    "string_type": "send it as a JSON string",
    "int_parsing": "send a whole number, e.g. 50",
    "int_type": "send a whole number, e.g. 50",
    "float_parsing": "send a number, e.g. 20",
    "float_type": "send a number, e.g. 20",
    "finite_number": "send a number such as 20 (NaN and Infinity are not numbers here)",
    "bool_parsing": "send true or false",
    "bool_type": "send true or false",
    "list_type": "send a JSON array",
}
"""What to do about a pydantic error whose own message only says what is wrong."""


def _validation_error(error: Any) -> dict[str, str]:
    if error.get("type") == "json_invalid":  # loc is ("body", <character offset>)
        loc, reason = tuple(error.get("loc", ())), (error.get("ctx") or {}).get("error", "not JSON")
        at = f" at character {loc[-1]}" if len(loc) > 1 else ""
        return {"field": "body", "message": f"is not valid JSON ({reason}{at}); send a JSON object"}
    message = str(error.get("msg", "invalid")).removeprefix("Value error, ")
    hint = _HINTS.get(str(error.get("type")))
    return {"field": _field(tuple(error.get("loc", ()))), "message": f"{message}: {hint}" if hint else message}


def _on_validation(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = [_validation_error(e) for e in exc.errors()]
    detail = "; ".join(f"{e['field']}: {e['message']}" for e in errors)
    return problem(422, "Invalid request", detail, errors=errors)


def _on_http(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    detail = str(exc.detail)
    if exc.status_code == 404 and detail == "Not Found":
        detail = f"No such endpoint: {request.method} {request.url.path}; see /docs"
    elif exc.status_code == 400 and detail == "There was an error parsing the body":  # FastAPI's
        if isinstance(exc.__cause__, RecursionError):
            detail = "The request body is nested too deeply to read: send a JSON object nested less than 500 levels"
        else:
            detail = "The request body could not be read: send UTF-8 JSON with Content-Type: application/json"
    answer = problem(exc.status_code, detail if exc.status_code >= 500 else "Request error", detail)
    answer.headers.update(exc.headers or {})  # e.g. Allow on a 405
    return answer


def _on_unexpected(request: Request, exc: Exception) -> JSONResponse:
    log.exception("unhandled error on %s %s", request.method, request.url.path)
    return problem(500, "Internal error", "The server failed unexpectedly; the error is in its log")


def wall_clock() -> datetime:
    return datetime.now(UTC)


async def open_profile_services(
    settings: Settings,
    stack: AsyncExitStack,
    *,
    on_query: QueryObserver | None = None,
    clock: Callable[[], datetime] = wall_clock,
) -> ProfileServices | None:
    """Open the clients the profile API needs; ``None`` when it is not configured."""
    if not settings.profiles_configured:
        log.warning(profiles_api.NOT_CONFIGURED)
        return None
    assert settings.prometheus_endpoint and settings.copilot_profile_s3_bucket and settings.copilot_dsql_endpoint
    from aiobotocore.config import AioConfig
    from aiobotocore.session import get_session

    from behaviour_profiles.sigv4 import SigV4Auth, amp_region, is_amp

    http = await stack.enter_async_context(
        httpx.AsyncClient(limits=httpx.Limits(max_connections=32, max_keepalive_connections=16))
    )
    s3_config = AioConfig(
        connect_timeout=3,
        read_timeout=settings.copilot_s3_timeout_seconds,
        retries={"total_max_attempts": S3_ATTEMPTS, "mode": "standard"},
        s3={"addressing_style": "path"} if settings.aws_endpoint_url_s3 else None,
    )
    s3 = await stack.enter_async_context(
        get_session().create_client(
            "s3",
            region_name=settings.region,
            endpoint_url=settings.aws_endpoint_url_s3,
            config=s3_config,
            # None falls back to botocore's own credential chain (env, profile, instance role)
            aws_access_key_id=settings.aws_access_key_id,
            aws_secret_access_key=settings.aws_secret_access_key,
            aws_session_token=settings.aws_session_token,
        )
    )
    pool = await open_index_pool(settings)
    stack.push_async_callback(pool.close)
    recycler = asyncio.create_task(recycle_connections(pool), name="index-connection-recycler")
    stack.callback(recycler.cancel)
    dialect = (
        None
        if settings.prometheus_metrics_dialect is DialectSetting.AUTO
        else Dialect(settings.prometheus_metrics_dialect.value)
    )
    prometheus_auth: httpx.Auth | None = None
    if is_amp(settings.prometheus_endpoint):
        # Amazon Managed Prometheus wants every query signed (SigV4, service "aps"); Mimir and plain
        # Prometheus stay unsigned.
        import botocore.session

        aws = botocore.session.get_session()
        if settings.aws_access_key_id and settings.aws_secret_access_key:
            aws.set_credentials(settings.aws_access_key_id, settings.aws_secret_access_key, settings.aws_session_token)

        def aws_credentials() -> Any:
            # Resolved lazily (off the event loop) so refreshing credentials (roles, IRSA, SSO) stay fresh.
            credentials = aws.get_credentials()
            return None if credentials is None else credentials.get_frozen_credentials()

        prometheus_auth = SigV4Auth(aws_credentials, amp_region(settings.prometheus_endpoint) or settings.region)
    collector = TelemetryCollector(
        PrometheusClient(
            http,
            settings.prometheus_endpoint,
            timeout_s=settings.prometheus_query_timeout_seconds,
            auth=prometheus_auth,
            on_query=on_query,
            compressed=settings.prometheus_compressed_answers,
        ),
        scrape_interval_s=settings.prometheus_scrape_interval_seconds,
        cluster_label=settings.prometheus_cluster_label,
        dialect=dialect,
        concurrency=settings.prometheus_query_concurrency,
        cpu_source=settings.copilot_cpu_source,
        use_recorded=settings.prometheus_recording_rules,
    )
    warming = asyncio.create_task(warm_up(collector), name="prometheus-warm-up")
    stack.callback(warming.cancel)
    store = ProfileStore(
        s3,
        settings.copilot_profile_s3_bucket,
        pool,
        prefix=settings.copilot_profile_s3_prefix,
        # every S3 operation, its 3 attempts included, ends within 3 read timeouts
        s3_deadline_s=S3_ATTEMPTS * settings.copilot_s3_timeout_seconds,
    )
    return ProfileServices(
        store=store,
        collector=collector,
        redaction_key=settings.copilot_redaction_key.encode(),
        clock=clock,
        drift_thresholds_pct=dict(settings.copilot_drift_thresholds_pct),
        host_config=host_config_reader(settings),
        frontend_version=frontend_version_reader(settings),
    )


async def warm_up(collector: TelemetryCollector) -> None:
    """What the first profile would otherwise pay for, done while the process waits for it: Prometheus
    asked how many queries to keep in flight (remembered), which opens the first keep-alive connection
    and loads the HTTP client's event-loop backend (about 0.1 s of the first create on the bench's
    machine). A Prometheus that does not answer is asked again by the first collection."""
    try:
        await collector.in_flight()
    except DependencyError as exc:  # pragma: no cover - in_flight() reads a failed answer as "unknown"
        log.info("Prometheus warm-up: %s", exc)


def create_app(settings: Settings, *, clock: Callable[[], datetime] | None = None) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with AsyncExitStack() as stack:
            services = await open_profile_services(
                settings, stack, on_query=app.state.metrics.observe_prometheus_query, clock=clock or wall_clock
            )
            profiles_api.install_services(app, services)
            yield
            profiles_api.install_services(app, None)

    app = FastAPI(
        title="Copilot API: Behaviour Profiles",
        version="0.1.0",
        description="Snapshot, compare and baseline the behaviour of a Temporal deployment on Aurora DSQL.",
        lifespan=lifespan,
    )
    profiles_api.install_services(app, None)  # until the lifespan opens them
    app.add_exception_handler(BehaviourProfileError, _on_error)
    app.add_exception_handler(RequestValidationError, _on_validation)
    app.add_exception_handler(StarletteHTTPException, _on_http)
    app.add_exception_handler(Exception, _on_unexpected)
    app.include_router(profiles_api.router, prefix="/profiles", responses=PROBLEM_RESPONSES)
    app.include_router(presets_api.router, responses=PROBLEM_RESPONSES)
    app.include_router(ui.router)  # the web UI at /ui/ and GET / -> /ui/; no schema, no token

    @app.get("/healthz", tags=["health"], summary="Liveness")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get(
        "/readyz",
        tags=["health"],
        summary="Readiness: PostgreSQL, S3 and Prometheus reachable",
        responses={503: {**PROBLEM_RESPONSES["5XX"], "description": "Not ready: names the dependency"}},
    )
    async def readyz(request: Request) -> JSONResponse:
        services = profiles_api.services_of(request.app)
        if services is None:
            return problem(503, "Not configured", profiles_api.NOT_CONFIGURED)
        try:
            await service.check_ready(services)
        except DependencyError as exc:
            return problem(503, "Not ready", exc.message, dependency=exc.dependency)
        return JSONResponse({"status": "ready"})

    # after the routes: access and CORS read the access class each route declares
    app.add_middleware(MethodsMiddleware)  # OPTIONS, HEAD and 405 with Allow, from the routes: inside the rest
    install_access(app, settings)  # token, body size, creation rate; CORS outside them
    install_observability(app, settings)  # request id, metrics, logs: outermost, sees every answer
    return app
