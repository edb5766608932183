"""The one order of judged telemetry diffs (pure): what the summary names first, the lists show first and
correlation ranks its regressions by.

It sits below :mod:`~behaviour_profiles.comparison` and :mod:`~behaviour_profiles.correlation`.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping

from behaviour_profiles.models import Direction, Severity, TelemetryDiff

__all__ = ["order_diffs"]

_SEVERITY_RANK: Mapping[Severity, int] = {Severity.CRITICAL: 0, Severity.WARNING: 1, Severity.INFO: 2}


def _size(diff: TelemetryDiff) -> float:
    if diff.change_pct is not None:
        return abs(diff.change_pct)
    if diff.direction is Direction.UNCHANGED:
        return 0.0
    # an absolute change (from none) or no data: larger than any percentage
    return math.inf


def order_diffs(diffs: Iterable[TelemetryDiff]) -> list[TelemetryDiff]:
    """Severity (critical, warning, info), regressions first, larger changes first, then metric key."""
    return sorted(
        diffs,
        key=lambda d: (
            _SEVERITY_RANK[d.severity],
            0 if d.direction is Direction.REGRESSED else 1,
            -_size(d),
            d.metric,
        ),
    )
