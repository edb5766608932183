"""Steady state: ramp-up and drain at a window's edges, read from the offered load series (pure).

A load test's window often starts while load is still ramping up and ends while it drains. What the
cluster did then is not what it does under the load being tested, so an early fluctuation that heals
should not decide a verdict. The steady level is the median of the middle half of the offered-load
series; the leading points below :data:`RAMP_SHARE` of it are the ramp-up and the trailing ones the
drain, each at most :data:`MAX_EDGE_SHARE` of the window. Every metric is then judged on the points
between them, with its statistics taken again from those points.

Usage::

    trimmed, trim = trim_to_steady_state(profile.telemetry.metrics, side="A")
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime

from behaviour_profiles.catalogue import CATALOGUE, MetricSpec
from behaviour_profiles.formatting import format_window
from behaviour_profiles.models import MetricStatus, MetricSummary, SteadyStateTrim
from behaviour_profiles.stats import percentile, series_stats

__all__ = ["MAX_EDGE_SHARE", "MIN_POINTS", "RAMP_SHARE", "steady_span", "trim_to_steady_state"]

RAMP_SHARE = 0.75
"""An edge point whose offered load is below this share of the steady level is ramp-up or drain."""

MAX_EDGE_SHARE = 0.25
"""At most this share of the window's points is trimmed from each edge."""

MIN_POINTS = 8
"""Shorter offered-load series are not trimmed: too few points to tell an edge from the level."""


def steady_span(series: list[tuple[float, float]]) -> tuple[int, int] | None:
    """Indexes (first, last) of the steady part of an offered-load series, or None when nothing is trimmed."""
    n = len(series)
    if n < MIN_POINTS:
        return None
    middle = sorted(v for _, v in series[n // 4 : n - n // 4])
    level = percentile(middle, 0.5)
    if level <= 0:
        return None
    limit = int(n * MAX_EDGE_SHARE)
    first = 0
    while first < limit and series[first][1] < RAMP_SHARE * level:
        first += 1
    last = n - 1
    while n - 1 - last < limit and series[last][1] < RAMP_SHARE * level:
        last -= 1
    if first == 0 and last == n - 1:
        return None
    return first, last


def _trimmed(summary: MetricSummary, start: float, end: float) -> MetricSummary:
    if summary.status is MetricStatus.NO_DATA or not summary.series:
        return summary
    points = [(t, v) for t, v in summary.series if start <= t <= end]
    stats = series_stats(v for _, v in points)
    if stats is None:
        return summary
    return summary.model_copy(update={**stats.summary_fields(), "series": points})


def _minutes(seconds: float) -> str:
    return f"{seconds / 60:.1f} min" if seconds < 600 else f"{seconds / 60:.0f} min"


def trim_to_steady_state(
    metrics: Mapping[str, MetricSummary], *, side: str, catalogue: Iterable[MetricSpec] = CATALOGUE
) -> tuple[dict[str, MetricSummary], SteadyStateTrim | None]:
    """The metrics judged on their steady part, and what was trimmed (None: nothing, metrics unchanged)."""
    load: MetricSpec | None = next((s for s in catalogue if s.offered_load), None)
    summary = metrics.get(load.key) if load is not None else None
    if summary is None or summary.status is MetricStatus.NO_DATA:
        return dict(metrics), None
    series = sorted(summary.series)
    span = steady_span(series)
    if span is None:
        return dict(metrics), None
    first, last = span
    start, end = series[first][0], series[last][0]
    ramp_up, drain = start - series[0][0], series[-1][0] - end
    parts = [
        f"ramp-up of {_minutes(ramp_up)}" if first else "",
        f"drain of {_minutes(drain)}" if last < len(series) - 1 else "",
    ]
    when = format_window(datetime.fromtimestamp(start, UTC), datetime.fromtimestamp(end, UTC))
    statement = (
        f"{side}: trimmed a {' and a '.join(p for p in parts if p)} (offered load below "
        f"{RAMP_SHARE:.0%} of its steady level); judged on the steady part, {when}"
    )
    trim = SteadyStateTrim(
        side=side,
        ramp_up_seconds=ramp_up,
        drain_seconds=drain,
        steady_start=datetime.fromtimestamp(start, UTC),
        steady_end=datetime.fromtimestamp(end, UTC),
        statement=statement,
    )
    return {key: _trimmed(m, start, end) for key, m in metrics.items()}, trim
