"""Helpers shared by the test suites."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx

from copilot.app import create_app
from copilot.settings import Settings


@asynccontextmanager
async def serve(settings: Settings, base_url: str = "http://copilot") -> AsyncIterator[httpx.AsyncClient]:
    """The real app, its lifespan entered, behind an in-process HTTP client."""
    app = create_app(settings)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=base_url) as http,
    ):
        yield http
