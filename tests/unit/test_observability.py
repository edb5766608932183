"""Log formats, request ids in log records, and the metrics of one app kept apart from another's."""

from __future__ import annotations

import io
import json
import logging

from copilot.observability import (
    JsonFormatter,
    Metrics,
    RequestIdFilter,
    configure_logging,
    creation_outcome,
    log_formatter,
    request_id_var,
)


def emit(formatter: logging.Formatter, **extra: object) -> str:
    buffer = io.StringIO()
    handler = logging.StreamHandler(buffer)
    handler.setFormatter(formatter)
    handler.addFilter(RequestIdFilter())
    logger = logging.getLogger("copilot.test-observability")
    logger.propagate = False
    logger.addHandler(handler)
    try:
        logger.warning("answered %s", "503", extra=extra)
    finally:
        logger.removeHandler(handler)
    return buffer.getvalue().strip()


def test_json_lines_carry_the_request_id_of_the_context_and_the_extras() -> None:
    token = request_id_var.set("req-1")
    try:
        line = json.loads(emit(JsonFormatter(), status=503, route="/readyz"))
    finally:
        request_id_var.reset(token)
    assert line["request_id"] == "req-1" and line["message"] == "answered 503" and line["level"] == "WARNING"
    assert line["status"] == 503 and line["route"] == "/readyz"
    assert json.loads(emit(JsonFormatter()))["request_id"] is None  # outside a request


def test_text_lines_show_the_request_id() -> None:
    token = request_id_var.set("req-2")
    try:
        line = emit(log_formatter("text"))
    finally:
        request_id_var.reset(token)
    assert "[req-2]" in line and line.endswith("answered 503")


def test_configure_logging_is_idempotent_and_switches_format() -> None:
    logger = logging.getLogger("copilot")
    before = list(logger.handlers)
    handler = configure_logging("text")
    try:
        assert configure_logging("text") is handler and not isinstance(handler.formatter, JsonFormatter)
        assert len([h for h in logger.handlers if h is handler]) == 1
        assert len(logger.handlers) == len(before) + (handler not in before)
    finally:
        configure_logging("json")
    assert isinstance(handler.formatter, JsonFormatter)


def test_each_app_has_its_own_registry() -> None:
    a, b = Metrics(), Metrics()
    a.observe_request("POST", "/profiles", 201, 0.5, creates=True)
    a.observe_prometheus_query("query_range", 0.1, False)
    assert b'copilot_profile_creations_total{outcome="created"} 1.0' in a.exposition()
    assert b'copilot_profile_creations_total{outcome="created"} 0.0' in b.exposition()
    assert b'copilot_prometheus_query_failures_total{kind="query_range"} 1.0' in a.exposition()


def test_creation_outcomes() -> None:
    assert [creation_outcome(s) for s in (201, 401, 413, 422, 429, 502, 503)] == [
        "created",
        "unauthorized",
        "too_large",
        "invalid",
        "rate_limited",
        "failed",
        "failed",
    ]
