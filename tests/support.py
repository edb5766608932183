"""Helpers shared by the test suites."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from fastapi import FastAPI

from copilot.app import create_app
from copilot.settings import Settings


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
