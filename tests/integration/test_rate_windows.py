"""Every increment of a counter is read, against a real Prometheus: a burst that falls between two of a
profile's points is in the profile (the rate windows of consecutive points share a sample)."""

from __future__ import annotations

import math
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from behaviour_profiles.models import MetricStatus
from behaviour_profiles.telemetry import PrometheusClient, Scope, TelemetryCollector, plan_window
from copilot.dev.stack import LocalStack, StackConfig, free_port

pytestmark = pytest.mark.stack

SCRAPE = 15
PHASE = 7
"""Seconds past each whole scrape interval at which the samples are taken: never on the profile's grid."""
BURST = 60.0
COUNTER = "persistence_session_refresh_attempts_total"  # reconnect_count, a plain rate


@pytest.fixture(scope="module")
def window() -> tuple[datetime, datetime]:
    start = (datetime.now(UTC) - timedelta(hours=9)).replace(minute=0, second=0, microsecond=0)
    return start, start + timedelta(hours=6)


def burst_interval(start: datetime, end: datetime) -> tuple[float, float]:
    """The scrape interval that holds the profile's 100th point: between the last sample at or before it
    and the first after it."""
    plan = plan_window(start, end, SCRAPE)
    point = plan.start + 100 * plan.step
    before = math.floor((point - PHASE) / SCRAPE) * SCRAPE + PHASE
    assert before < point < before + SCRAPE
    return before, before + SCRAPE


@pytest.fixture(scope="module")
def prometheus(tmp_path_factory: pytest.TempPathFactory, window: tuple[datetime, datetime]) -> Iterator[str]:
    state = Path(tmp_path_factory.mktemp("rate-windows"))
    local = LocalStack(StackConfig(state_dir=state, prometheus_port=free_port()))
    start, end = window
    _, after = burst_interval(start, end)
    first = int(start.timestamp()) - 900 + PHASE
    lines = [f"# TYPE {COUNTER.removesuffix('_total')} counter\n"]
    for at in range(first, int(end.timestamp()) + 900, SCRAPE):
        value = BURST if at >= after else 0.0
        lines.append(f'{COUNTER}{{cluster="rates"}} {value} {at}\n')
    source = state / "burst.om"
    source.write_text("".join(lines) + "# EOF\n")
    try:
        local.load_prometheus(source)
        yield local.start_prometheus()
    finally:
        local.down()


async def test_a_burst_between_two_points_is_read_once(prometheus: str, window: tuple[datetime, datetime]) -> None:
    start, end = window
    plan = plan_window(start, end, SCRAPE)
    assert plan.step == 72  # a 6 h profile
    async with httpx.AsyncClient() as http:
        collector = TelemetryCollector(PrometheusClient(http, prometheus), cluster_label="cluster", cpu_source="none")
        summary = await collector.collect(Scope("rates", None, None), start, end)
    reconnects = summary.metrics["reconnect_count"]
    assert reconnects.status is MetricStatus.OK, reconnects.reason
    assert reconnects.max is not None and reconnects.max > 0, "the burst fell between two rate windows"
    # read by one point's window alone: the events per second over the window add up to the burst
    assert reconnects.mean is not None
    events = reconnects.mean * reconnects.sample_count * plan.step
    assert events == pytest.approx(BURST, rel=0.25)
    assert sum(1 for _, value in reconnects.series if value > 0) == 1
