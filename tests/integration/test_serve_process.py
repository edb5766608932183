"""A real `copilot serve` process, driven over HTTP, and the `copilot` CLI against it."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid

import httpx
import pytest

from tests.integration.conftest import Stack
from tests.integration.test_profiles_api import body

pytestmark = pytest.mark.stack


def test_copilot_serve_over_http_and_cli(stack: Stack) -> None:
    api = stack.stack.start_api()
    try:
        with httpx.Client(base_url=api, timeout=120) as http:
            assert http.get("/healthz").json() == {"status": "ok"}
            assert http.get("/readyz").json() == {"status": "ready"}
            label = f"serve-{uuid.uuid4().hex[:8]}"
            healthy = http.post("/profiles", json=body(stack, "healthy-150wps", label=label))
            assert healthy.status_code == 201, healthy.text
            failing = http.post("/profiles", json=body(stack, "failing-400wps", label=label))
            assert failing.status_code == 201, failing.text
            assert [p["id"] for p in http.get("/profiles/", params={"label": label}).json()] == [
                failing.json()["id"],
                healthy.json()["id"],
            ]

        env = {**os.environ, "COPILOT_API_URL": api, "COLUMNS": "200"}
        cli = [sys.executable, "-m", "copilot"]
        listed = subprocess.run([*cli, "profiles", "list", "--label", label], env=env, capture_output=True, text=True)
        assert listed.returncode == 0, listed.stderr
        assert healthy.json()["id"][:8] in listed.stdout
        compared = subprocess.run(
            [*cli, "profiles", "compare", healthy.json()["id"], failing.json()["id"]],
            env=env,
            capture_output=True,
            text=True,
        )
        assert compared.returncode == 0, compared.stderr
        assert "persistence_latency_p99" in compared.stdout and "Verdict: fail" in compared.stdout
        missing = subprocess.run([*cli, "profiles", "show", str(uuid.uuid4())], env=env, capture_output=True, text=True)
        assert missing.returncode == 1 and "HTTP 404" in missing.stderr
        store_env = {**os.environ, **stack.env, "COLUMNS": "200"}
        repaired = subprocess.run([*cli, "profiles", "reindex"], env=store_env, capture_output=True, text=True)
        assert repaired.returncode == 0, repaired.stderr
        verified = subprocess.run(
            [*cli, "profiles", "reindex", "--dry-run"], env=store_env, capture_output=True, text=True
        )
        assert verified.returncode == 0 and "index and documents agree" in verified.stdout, verified.stdout
    finally:
        stack.stack.stop("api")
