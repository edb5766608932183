"""Rolling baselines (pure): the last N passing profiles of a cluster and namespace, pooled.

The chain starts at the designated baseline (``POST /profiles/{id}/baseline``), which is always pooled.
Every later profile of the same cluster and namespace, in window order, is judged against the baseline
in force before it (the pool of the last ``n`` accepted profiles) with the comparison's rules
(``docs/comparison.md``): only a ``pass`` joins the pool. A profile marked "exclude from baselines" is
left out without being judged; so is one that warns, fails or is inconclusive, with its verdict. The
rolling baseline is the last ``n`` profiles of the pool.

Pooling, per metric, over the pooled profiles with data: ``min`` of the minima, ``max`` of the maxima,
the mean and the percentiles averaged weighted by sample count (an approximation: the raw samples are
not kept, so percentiles are not recomputed from them), the sample counts added and the downsampled
series concatenated (so the comparison's rank test sees every pooled point). A metric without data in
every pooled profile is "no data", never 0. Its top contributors, where every pooled profile with data
kept them, are pooled the same way (``attribution.pool_contributors``), so a drift from a rolling
baseline is placed as one from a single profile.

Usage::

    rolling = roll(anchor, later_profiles, n=5, options=CompareOptions())
    baseline = pooled_profile(rolling_profiles)
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from behaviour_profiles.attribution import pool_contributors
from behaviour_profiles.comparison import judge_telemetry, verdict_and_summary
from behaviour_profiles.models import (
    BehaviourProfile,
    CompareOptions,
    Coverage,
    LeftOut,
    MetricStatus,
    MetricSummary,
    RollingBaseline,
    Verdict,
)

__all__ = ["MAX_ROLLING", "pool_metrics", "pooled_profile", "roll"]

MAX_ROLLING = 20
"""The most profiles a rolling baseline pools."""

_STATS = ("mean", "p50", "p95", "p99")


def _weighted(summaries: Sequence[MetricSummary], stat: str) -> float | None:
    pairs = [(getattr(s, stat), max(s.sample_count, 1)) for s in summaries]
    known = [(v, w) for v, w in pairs if v is not None and math.isfinite(v)]
    if not known:
        return None
    return math.fsum(v * w for v, w in known) / math.fsum(w for _, w in known)


def pool_metrics(profiles: Sequence[BehaviourProfile]) -> dict[str, MetricSummary]:
    """Per-metric statistics pooled across ``profiles`` (see the module docstring)."""
    keys = list(dict.fromkeys(k for p in profiles for k in p.telemetry.metrics))
    pooled: dict[str, MetricSummary] = {}
    for key in keys:
        present = [p.telemetry.metrics[key] for p in profiles if key in p.telemetry.metrics]
        with_data = [s for s in present if s.status is MetricStatus.OK]
        unit = present[0].unit
        if not with_data:
            reasons = list(dict.fromkeys(s.reason for s in present if s.reason))
            pooled[key] = MetricSummary(
                key=key,
                status=MetricStatus.NO_DATA,
                unit=unit,
                reason="no data in any pooled profile" + (f" ({'; '.join(reasons)})" if reasons else ""),
            )
            continue
        mins = [s.min for s in with_data if s.min is not None]
        maxs = [s.max for s in with_data if s.max is not None]
        stats = {stat: _weighted(with_data, stat) for stat in _STATS}
        pooled[key] = MetricSummary(
            key=key,
            status=MetricStatus.OK,
            unit=unit,
            min=min(mins) if mins else None,
            max=max(maxs) if maxs else None,
            sample_count=sum(s.sample_count for s in with_data),
            series=sorted(point for s in with_data for point in s.series),
            reason=f"pooled over {len(with_data)} of {len(profiles)} profiles",
            contributors=pool_contributors([(s.contributors, s.sample_count) for s in with_data]),
            **stats,
        )
    return pooled


def pooled_profile(profiles: Sequence[BehaviourProfile]) -> BehaviourProfile:
    """A baseline profile of pooled telemetry: the newest pooled profile's identity, window and config."""
    if not profiles:
        raise ValueError("nothing to pool")
    newest = max(profiles, key=lambda p: (p.time_window_end, str(p.id)))
    metrics = pool_metrics(profiles)
    with_data = sum(1 for m in metrics.values() if m.status is MetricStatus.OK)
    notes = list(dict.fromkeys(n for p in profiles for n in p.telemetry.notes))
    telemetry = newest.telemetry.model_copy(
        update={"metrics": metrics, "coverage": Coverage(with_data=with_data, asked=len(metrics)), "notes": notes}
    )
    return newest.model_copy(update={"telemetry": telemetry})


def _left_out(profile: BehaviourProfile, reason: str, verdict: Verdict | None = None) -> LeftOut:
    return LeftOut(profile=profile.metadata(), reason=reason, verdict=verdict)


def roll(
    anchor: BehaviourProfile, later: Sequence[BehaviourProfile], *, n: int, options: CompareOptions
) -> tuple[list[BehaviourProfile], RollingBaseline]:
    """The last ``n`` accepted profiles, from ``anchor`` (the designated baseline) through ``later``.

    Returns the pooled profiles (oldest first) and the account of the chain: what was pooled and what was
    left out, and why.
    """
    if not 1 <= n <= MAX_ROLLING:
        raise ValueError(f"n must be 1..{MAX_ROLLING}")
    pool = [anchor]
    left_out: list[LeftOut] = []
    notes: list[str] = []
    if anchor.excluded_from_baselines:
        notes.append(
            f"the designated baseline {anchor.name!r} is marked excluded ({anchor.exclusion_reason}); it is "
            "pooled anyway because it is designated: designate another to change that"
        )
    for profile in sorted(later, key=lambda p: (p.time_window_start, str(p.id))):
        if profile.id == anchor.id:
            continue
        if profile.excluded_from_baselines:
            left_out.append(_left_out(profile, f"excluded from baselines: {profile.exclusion_reason}"))
            continue
        baseline = pooled_profile(pool[-n:])
        judged = judge_telemetry(baseline.telemetry.metrics, profile.telemetry.metrics, options)
        verdict, summary = verdict_and_summary(judged)
        if verdict is Verdict.PASS:
            pool.append(profile)
        else:
            left_out.append(
                _left_out(profile, f"{verdict.value} against the {len(pool[-n:])} pooled before it: {summary}", verdict)
            )
    pooled = pool[-n:]
    account = RollingBaseline(
        cluster_id=anchor.cluster_id,
        namespace=anchor.namespace,
        n=n,
        anchor=anchor.metadata(),
        pooled=[p.metadata() for p in pooled],
        left_out=left_out,
        summary=(
            f"Pooled {len(pooled)} of the last {n} passing profiles (from designated baseline {anchor.name!r}): "
            + ", ".join(repr(p.name) for p in pooled)
            + (f"; left out {len(left_out)}" if left_out else "")
            + "."
        ),
        notes=notes,
    )
    return pooled, account
