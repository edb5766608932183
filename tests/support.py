"""Helpers shared by the test suites."""

from __future__ import annotations

import threading
import time
from collections.abc import AsyncIterator, Iterator, Mapping
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from fastapi import FastAPI

from copilot.app import create_app
from copilot.dev.stack import free_port
from copilot.settings import Settings

DOC_SCREENSHOTS = Path(__file__).resolve().parent.parent / "docs" / "screenshots"
"""The screenshots the docs show: tracked files, rewritten only on request."""
UPDATE_SCREENSHOTS = "COPILOT_UPDATE_SCREENSHOTS"
"""``COPILOT_UPDATE_SCREENSHOTS=1``: the browser tests save their screenshots over the docs' ones."""


@asynccontextmanager
async def serving(
    settings: Settings, base_url: str = "http://copilot", client_timeout_s: float = 5.0
) -> AsyncIterator[tuple[httpx.AsyncClient, FastAPI]]:
    """The real app, its lifespan entered, behind an in-process HTTP client: (client, app)."""
    app = create_app(settings)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=base_url, timeout=client_timeout_s) as http,
    ):
        yield http, app


@asynccontextmanager
async def serve(settings: Settings, base_url: str = "http://copilot") -> AsyncIterator[httpx.AsyncClient]:
    """The real app, its lifespan entered, behind an in-process HTTP client."""
    async with serving(settings, base_url) as (http, _):
        yield http


@contextmanager
def serving_over_http(settings: Settings) -> Iterator[tuple[str, FastAPI]]:
    """The real app under uvicorn on a free port, in a thread of this process: (base URL, app)."""
    port = free_port()
    app = create_app(settings)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, name="api-test-server", daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "the API did not start"
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}", app
    finally:
        server.should_exit = True
        thread.join(10)


def screenshot_dir(environ: Mapping[str, str], scratch: Path) -> Path:
    """Where the browser tests save screenshots: the docs' directory with ``COPILOT_UPDATE_SCREENSHOTS=1``,
    else ``scratch`` (a temporary directory), so that a test run leaves the checkout as it found it."""
    return DOC_SCREENSHOTS if environ.get(UPDATE_SCREENSHOTS, "").strip() == "1" else scratch


async def created_profile(api: httpx.AsyncClient, body: dict[str, Any]) -> dict[str, Any]:
    """``POST /profiles`` with ``body`` (asserting 201), then the whole profile."""
    created = await api.post("/profiles", json=body)
    assert created.status_code == 201, created.text
    profile: dict[str, Any] = (await api.get(f"/profiles/{created.json()['id']}")).json()
    return profile


async def compared(api: httpx.AsyncClient, a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
    """The comparison of profile ``a`` (before) with ``b`` (after), asserting 200."""
    answer = await api.post("/profiles/compare", json={"profile_a_id": a["id"], "profile_b_id": b["id"]})
    assert answer.status_code == 200, answer.text
    result: dict[str, Any] = answer.json()
    return result
