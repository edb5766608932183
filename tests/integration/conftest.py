"""Shared fixtures: the real local stack (PostgreSQL, SeaweedFS S3, Prometheus) for the whole session.

The stack runs on free ports in a temporary state directory, in its own database, so it never touches
a developer's `copilot dev up` stack. Prometheus is backfilled by the simulator with the demo plan.

``live_temporal`` is a real Temporal dev server with a scraping Prometheus after six real workload
phases (see ``tests/live.py``). The phases take about 10 minutes, so they start in a background
thread as soon as collection finds a test that uses the fixture, and run while the other tests do: every
test that needs no real server runs first, then those of ``live_temporal``.
``live_unnamed`` is another real server that leaves task queues unnamed in its metrics
(:meth:`tests.live.LiveHarness.unnamed`), and ``live_limited`` a third one with a low history persistence
QPS limit (:meth:`tests.live.LiveHarness.persistence_limited`), both run side by side once the first one's
phases whose latencies are compared are done; the tests that use them run last, in that order.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from fastapi import FastAPI

from copilot.app import create_app
from copilot.dev.local import load_scenarios
from copilot.dev.simulator import Placement, demo_plan
from copilot.dev.stack import LocalStack, StackConfig, ensure_prometheus, free_port
from copilot.index import apply_schema
from copilot.settings import Settings
from tests.live import LiveHarness, LiveTemporal

_SERVERS: tuple[tuple[str, Callable[[LiveHarness | None], LiveHarness]], ...] = (
    ("live_temporal", lambda after: LiveHarness.in_temporary_directory()),
    ("live_unnamed", LiveHarness.unnamed),
    ("live_limited", LiveHarness.persistence_limited),
)
"""The real servers' fixtures and how each harness is made, the first first: each later one starts once the
first the session has is past the phases it runs alone (their latencies are compared), the later ones side
by side."""
_HARNESSES = {fixture: pytest.StashKey[LiveHarness]() for fixture, _ in _SERVERS}


def _wants(items: list[pytest.Item], fixture: str) -> bool:
    return any(fixture in getattr(item, "fixturenames", ()) for item in items)


def _harness(config: pytest.Config, fixture: str) -> LiveHarness:
    """The session's harness of ``fixture``, made the first time it is asked for (after the first harness
    made before it)."""
    harness = config.stash.get(_HARNESSES[fixture], None)
    if harness is None:
        after: LiveHarness | None = None
        for name, make in _SERVERS:
            if name == fixture:
                harness = config.stash[_HARNESSES[fixture]] = make(after)
                break
            after = after or config.stash.get(_HARNESSES[name], None)
    assert harness is not None, fixture
    return harness


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The tests that need no real server first (they run while the servers' phases do, instead of the
    session idling while a test waits for them), then those of each server, in the order their harnesses
    run; the sort is stable, so each group keeps its own order."""

    def rank(item: pytest.Item) -> int:
        names = getattr(item, "fixturenames", ())
        return next((i for i, (fixture, _) in reversed(list(enumerate(_SERVERS, 1))) if fixture in names), 0)

    items.sort(key=rank)


def pytest_collection_finish(session: pytest.Session) -> None:
    """Start the live Temporal phases early when a collected test will want them."""
    for fixture, _ in _SERVERS:
        if _wants(session.items, fixture):
            _harness(session.config, fixture).start()


def pytest_sessionfinish(session: pytest.Session) -> None:
    for fixture, _ in reversed(_SERVERS):
        harness = session.config.stash.get(_HARNESSES[fixture], None)
        if harness is not None:
            harness.close()


@dataclass
class Stack:
    stack: LocalStack
    env: dict[str, str]
    placements: list[Placement]
    now: datetime

    def settings(self, **overrides: Any) -> Settings:
        values: dict[str, Any] = {key.lower(): value for key, value in self.env.items()}
        values.update(overrides)
        return Settings(_env_file=None, **values)

    def window(self, scenario: str, namespace: str = "default") -> Placement:
        return next(p for p in self.placements if p.scenario == scenario and p.namespace == namespace)

    async def _admin(self, sql: str) -> None:
        conn = await asyncpg.connect(self.env["COPILOT_DSQL_ENDPOINT"])
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    async def new_index_database(self, name: str) -> str:
        """Create database ``name`` beside the stack's own, with the index schema; its URL."""
        await self._admin(f'CREATE DATABASE "{name}"')
        dsn = self.env["COPILOT_DSQL_ENDPOINT"].rsplit("/", 1)[0] + f"/{name}"
        await apply_schema(self.settings(copilot_dsql_endpoint=dsn))
        return dsn

    async def drop_database(self, name: str) -> None:
        await self._admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextmanager
def simulated_prometheus(state_dir: Path, placements: Sequence[Placement], **load: Any) -> Iterator[str]:
    """A Prometheus of its own on a free port, holding ``placements`` backfilled by the simulator
    (``load``: :func:`load_scenarios`'s ``dialect`` and ``omit``); its URL, stopped on leaving."""
    local = LocalStack(StackConfig(state_dir=state_dir, prometheus_port=free_port()))
    try:
        load_scenarios(local, list(placements), **load)
        yield local.start_prometheus()
    finally:
        local.down()


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    ensure_prometheus()
    state = tmp_path_factory.mktemp("stack")
    config = StackConfig.isolated(Path(state), f"bp_test_{os.getpid()}")
    local = LocalStack(config)
    try:
        local.start_postgres()
        local.start_s3()
        now = datetime.now(UTC)
        placements = demo_plan(now)
        load_scenarios(local, placements)
        local.start_prometheus()
        env = local.env()
        handle = Stack(local, env, placements, now)
        asyncio.run(apply_schema(handle.settings()))
        yield handle
    finally:
        local.down()


@pytest.fixture
async def app(stack: Stack) -> AsyncIterator[FastAPI]:
    """The real app with its lifespan entered, against the real stack."""
    application = create_app(stack.settings())
    async with application.router.lifespan_context(application):
        yield application


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client of the in-process app."""
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://copilot") as http:
        yield http


@pytest.fixture(scope="session")
def live_temporal(request: pytest.FixtureRequest, stack: Stack) -> LiveTemporal:
    """A real Temporal after its workload phases (``steady`` twice, ``incident``, ``workflow-bug``,
    ``hung-activities``, ``no-worker``), scraped by its own Prometheus.

    See :class:`tests.live.LiveTemporal` for the fields; its ``settings()`` run an app on it with the
    session stack's PostgreSQL and S3.
    """
    # made here when asked for without collection seeing it (getfixturevalue); wait() starts it
    return _harness(request.config, "live_temporal").wait(stack.env)


@pytest.fixture(scope="session")
def live_unnamed(request: pytest.FixtureRequest, stack: Stack) -> LiveTemporal:
    """A real Temporal started with ``metrics.breakdownByTaskQueue`` false after one ``incident`` phase,
    scraped by its own Prometheus (no backfilled hour)."""
    return _harness(request.config, "live_unnamed").wait(stack.env)


@pytest.fixture(scope="session")
def live_limited(request: pytest.FixtureRequest, stack: Stack) -> LiveTemporal:
    """A real Temporal started with a low ``history.persistenceMaxQPS`` after one ``steady`` phase, scraped by
    its own Prometheus (no backfilled hour)."""
    return _harness(request.config, "live_limited").wait(stack.env)
