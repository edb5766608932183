"""Fixtures of the unit tests."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from copilot.settings import Settings
from tests.support import serve


@pytest.fixture
async def bare() -> AsyncIterator[httpx.AsyncClient]:
    """The app with no profile storage configured: /profiles answers 503, the rest serves."""
    settings = Settings(_env_file=None, copilot_profile_s3_bucket=None, prometheus_endpoint=None)
    async with serve(settings) as http:
        yield http
