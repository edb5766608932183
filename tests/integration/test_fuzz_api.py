"""Property-based fuzzing of every operation in the OpenAPI document, against the real stack.

Schemathesis generates valid (positive) and invalid (negative) requests from ``/openapi.json`` and
sends them to the real app, its lifespan entered, with PostgreSQL, SeaweedFS S3 and Prometheus behind
it. Every answer must be a non-5xx that matches the documented response schema, and every 4xx a problem
document whose ``detail`` says what to fix, without a traceback or a source path in it.

The run is bounded and deterministic: derandomized generation (a fixed seed per test), a cap on the
examples per operation and mode, and no example database.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import hypothesis
import pytest
import schemathesis
from fastapi import FastAPI
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.python import asgi
from schemathesis.specs.openapi.checks import response_schema_conformance

from copilot.app import create_app
from copilot.settings import Settings
from tests.integration.conftest import Stack

pytestmark = pytest.mark.stack

MAX_EXAMPLES = 25
"""Per operation and mode: enough to reach every field's edge cases, bounded for CI."""

OPERATIONS = (
    ("POST", "/profiles"),
    ("GET", "/profiles"),
    ("POST", "/profiles/compare"),
    ("POST", "/profiles/drift"),
    ("GET", "/profiles/baseline"),
    ("GET", "/profiles/{profile_id}"),
    ("POST", "/profiles/{profile_id}/baseline"),
    ("POST", "/profiles/{profile_id}/conformance"),
    ("POST", "/profiles/{profile_id}/recommendation"),
    ("POST", "/profiles/envelope"),
    ("GET", "/profiles/baseline/rolling"),
    ("GET", "/profiles/recording-rules"),
    ("POST", "/profiles/{profile_id}/exclusion"),
    ("DELETE", "/profiles/{profile_id}/exclusion"),
    ("GET", "/presets"),
    ("GET", "/presets/{name}"),
    ("GET", "/healthz"),
    ("GET", "/readyz"),
)
"""Every operation of the OpenAPI document; ``test_every_documented_operation_is_fuzzed`` keeps it complete."""

NEGATABLE = {
    ("POST", "/profiles"),
    ("GET", "/profiles"),
    ("POST", "/profiles/compare"),
    ("POST", "/profiles/drift"),
    ("GET", "/profiles/baseline"),
    ("POST", "/profiles/{profile_id}/conformance"),
    ("POST", "/profiles/envelope"),
    ("GET", "/profiles/baseline/rolling"),
    ("GET", "/profiles/recording-rules"),
    ("POST", "/profiles/{profile_id}/exclusion"),
}
"""Operations with a body or a constrained query: the others take any string, so nothing is invalid to them."""

CASES = [(method, path, GenerationMode.POSITIVE) for method, path in OPERATIONS] + [
    (method, path, GenerationMode.NEGATIVE) for method, path in OPERATIONS if (method, path) in NEGATABLE
]

LEAKS = re.compile(
    r"Traceback \(most recent call last\)|File \"[^\"]+\", line \d+|site-packages/|\.venv/|/src/\w+/\w+\.py"
)
"""What a response must never show: a stack trace or a path into the server's source (echoed input may be odd)."""


def problem_details(ctx: Any, response: schemathesis.Response, case: schemathesis.Case[Any]) -> bool | None:
    """Every 4xx is problem+json with a ``detail`` that says something; no response leaks internals."""
    label = f"{case.operation.label} -> {response.status_code}"
    text = response.text or ""
    leak = LEAKS.search(text)
    assert leak is None, f"{label} leaks {leak.group()!r}: {text[:500]}"
    if 400 <= response.status_code < 500:
        content_type = (response.headers.get("content-type") or [""])[0]
        assert content_type.startswith("application/problem+json"), f"{label} with content type {content_type!r}"
        body = response.json()
        assert body["status"] == response.status_code and body["title"], f"{label}: {body}"
        assert isinstance(body["detail"], str) and len(body["detail"].strip()) >= 10, f"{label}: {body}"
    return None


CHECKS = [not_a_server_error, response_schema_conformance, problem_details]


def _settings(stack: Stack) -> Settings:
    overrides: dict[str, Any] = {}
    if "copilot_create_rate_per_minute" in Settings.model_fields:
        overrides["copilot_create_rate_per_minute"] = 100_000  # fuzzing is not the rate limiter's test
    return stack.settings(**overrides)


@pytest.fixture(scope="module")
def fuzz_app(stack: Stack) -> Iterator[FastAPI]:
    """The real app; schemathesis enters its lifespan on its own event loop thread, ended here."""
    app = create_app(_settings(stack))
    yield app
    asgi.shutdown_lifespans()


@pytest.fixture(scope="module")
def api_schema(fuzz_app: FastAPI) -> Any:
    config = schemathesis.Config.from_dict({"generation": {"deterministic": True, "database": "none"}})
    return schemathesis.openapi.from_asgi("/openapi.json", fuzz_app, config=config)


def test_every_documented_operation_is_fuzzed(api_schema: Any) -> None:
    documented = {(method.upper(), path) for path, item in api_schema.raw_schema["paths"].items() for method in item}
    assert documented == set(OPERATIONS)


@pytest.mark.parametrize(("method", "path", "mode"), CASES, ids=[f"{m} {p} {g.value}" for m, p, g in CASES])
def test_operation_survives_fuzzing(api_schema: Any, method: str, path: str, mode: GenerationMode) -> None:
    operation = api_schema[path][method]

    @hypothesis.settings(
        max_examples=MAX_EXAMPLES,
        derandomize=True,
        database=None,
        deadline=None,
        suppress_health_check=list(hypothesis.HealthCheck),
        phases=[hypothesis.Phase.explicit, hypothesis.Phase.generate],
    )
    @hypothesis.given(case=operation.as_strategy(generation_mode=mode))
    def fuzz(case: schemathesis.Case[Any]) -> None:
        case.call_and_validate(checks=CHECKS)

    fuzz()
