"""The capacity envelope of a load sweep (pure): where a cluster stops holding as offered load rises.

Given profiles of one cluster and namespace, :func:`capacity_envelope` orders them by offered load
(``workflows_started_per_sec``, mean) and judges every step:

* **preset mode**: each step against every bound of a scale preset except its throughput range (offered
  load is the sweep's axis, not a health bound), with the rules of :mod:`behaviour_profiles.conformance`;
* **thresholds mode** (no preset): each step against the lightest step, with the comparison's rules and
  percent thresholds (``docs/comparison.md``): a critical regression breaks the step, a warning-level one
  warns, a key metric without data makes it inconclusive.

A step *held* when nothing failed and nothing bounded lacked data (a warning still holds). ``safe_load``
is the load of the last step of the unbroken run of holding steps from the lightest; the next step is
the breaking point, and ``first_broken`` lists what failed there, the metric furthest beyond its limit
first (a no-data bound is listed after every failure). A step that holds again after the breaking point
is only noted: the envelope is where it *first* stopped holding.

The knee: throughput (``workflows_completed_per_sec``) against offered load. The reference slope is the
first segment's; the knee is the step after which a segment's slope falls below
:data:`KNEE_FRACTION` of it (throughput stopped keeping pace). None when it kept pace all along.

Usage::

    envelope = capacity_envelope(profiles, preset=PRESETS["mid-scale"])
    envelope.safe_load, envelope.breaking_load, [b.metric for b in envelope.first_broken]
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence

from behaviour_profiles.catalogue import CATALOGUE
from behaviour_profiles.comparison import judge_telemetry, order_diffs, verdict_and_summary
from behaviour_profiles.conformance import check_bound
from behaviour_profiles.errors import InvalidRequest
from behaviour_profiles.formatting import format_pct, format_value
from behaviour_profiles.models import (
    BehaviourProfile,
    BoundStatus,
    CapacityEnvelope,
    CompareOptions,
    Direction,
    EnvelopeBreach,
    EnvelopeMetric,
    EnvelopeStep,
    EnvelopeStepStatus,
    ExpectedBound,
    MetricConformance,
    MetricStatus,
    ScalePreset,
    Severity,
    Statistic,
    ThresholdClass,
    Verdict,
)
from behaviour_profiles.presets import THROUGHPUT_METRIC

__all__ = ["COMPLETED_METRIC", "KNEE_FRACTION", "capacity_envelope", "find_knee"]

COMPLETED_METRIC = "workflows_completed_per_sec"
"""Throughput: what the cluster got done, against the offered load of :data:`THROUGHPUT_METRIC`."""

KNEE_FRACTION = 0.5
"""A segment whose throughput slope falls below this share of the first segment's is past the knee."""

SAME_LOAD_SHARE = 0.01
"""Offered loads closer than this share of the lower one are one load measured twice: no knee segment."""

_HOLDS = (EnvelopeStepStatus.HELD, EnvelopeStepStatus.WARN)
_BREACH_RANK = {BoundStatus.FAIL: 0, BoundStatus.NO_DATA: 1, BoundStatus.WARN: 2}


def _mean(profile: BehaviourProfile, key: str, stat: Statistic = Statistic.MEAN) -> float | None:
    summary = profile.telemetry.metrics.get(key)
    if summary is None or summary.status is MetricStatus.NO_DATA:
        return None
    value = summary.statistic(stat)
    return value if value is not None and math.isfinite(value) else None


def _overshoot(check: MetricConformance) -> tuple[float | None, float | None]:
    """The hard limit crossed and by how much in percent of it (a failing check only)."""
    value = check.observed
    if value is None or check.status is not BoundStatus.FAIL:
        return None, None
    if check.max is not None and value >= check.max:
        limit = check.max
    elif check.min is not None and value < check.min:
        limit = check.min
    else:  # pragma: no cover - a failing check is outside one of its limits
        return None, None
    return limit, (abs(value - limit) / abs(limit) * 100 if limit else None)


def _preset_step(
    profile: BehaviourProfile, bounds: Sequence[ExpectedBound]
) -> tuple[EnvelopeStepStatus, list[EnvelopeBreach]]:
    checks = [check_bound(bound, profile.telemetry.metrics.get(bound.metric)) for bound in bounds]
    breaches = []
    for check in checks:
        if check.status is BoundStatus.PASS:
            continue
        limit, overshoot = _overshoot(check)
        if check.status is BoundStatus.WARN and check.observed is not None:
            high = check.warn_max is not None and check.observed >= check.warn_max
            limit = check.warn_max if high else check.warn_min
        breaches.append(
            EnvelopeBreach(
                metric=check.metric,
                title=check.title,
                unit=check.unit,
                status=check.status,
                observed=check.observed,
                limit=limit,
                overshoot_pct=overshoot,
                reason=check.reason,
            )
        )
    return _status(breaches), _ordered(breaches)


def _thresholds_step(
    reference: BehaviourProfile, profile: BehaviourProfile, options: CompareOptions
) -> tuple[EnvelopeStepStatus, list[EnvelopeBreach]]:
    judged = judge_telemetry(reference.telemetry.metrics, profile.telemetry.metrics, options)
    verdict, _ = verdict_and_summary(judged)
    breaches = []
    for diff in order_diffs(judged):
        if diff.direction is Direction.REGRESSED and diff.counts_toward_verdict:
            status = BoundStatus.FAIL if diff.severity is Severity.CRITICAL else BoundStatus.WARN
        elif diff.direction is Direction.NO_DATA and diff.key_metric:
            status = BoundStatus.NO_DATA
        else:
            continue
        breaches.append(
            EnvelopeBreach(
                metric=diff.metric,
                title=diff.title,
                unit=diff.unit,
                status=status,
                observed=diff.new_value,
                limit=diff.old_value,
                overshoot_pct=abs(diff.change_pct) if diff.change_pct is not None else None,
                reason=f"against the lightest step: {diff.reason}",
            )
        )
    step_status = {
        Verdict.FAIL: EnvelopeStepStatus.BROKEN,
        Verdict.INCONCLUSIVE: EnvelopeStepStatus.INCONCLUSIVE,
        Verdict.WARN: EnvelopeStepStatus.WARN,
        Verdict.PASS: EnvelopeStepStatus.HELD,
    }[verdict]
    return step_status, _ordered(breaches)


def _status(breaches: Sequence[EnvelopeBreach]) -> EnvelopeStepStatus:
    statuses = {b.status for b in breaches}
    if BoundStatus.FAIL in statuses:
        return EnvelopeStepStatus.BROKEN
    if BoundStatus.NO_DATA in statuses:
        return EnvelopeStepStatus.INCONCLUSIVE
    if BoundStatus.WARN in statuses:
        return EnvelopeStepStatus.WARN
    return EnvelopeStepStatus.HELD


def _ordered(breaches: Sequence[EnvelopeBreach]) -> list[EnvelopeBreach]:
    """Failures, no data, warnings; within each the largest overshoot first (unknown size first), then key."""
    return sorted(
        breaches,
        key=lambda b: (
            _BREACH_RANK[b.status],
            -(b.overshoot_pct if b.overshoot_pct is not None else math.inf),
            b.metric,
        ),
    )


def find_knee(points: Sequence[tuple[float, float]], fraction: float = KNEE_FRACTION) -> int | None:
    """The index of the point after which throughput stopped keeping pace with offered load.

    ``points`` are ``(offered, throughput)`` in ascending offered load. A point whose load is within
    :data:`SAME_LOAD_SHARE` of the last kept point's is the same load measured twice and starts no segment
    (a slope over next to no load is noise). The first segment's slope is the reference; the knee is the
    start of the first later segment whose slope is below ``fraction`` of it. None with fewer than three
    distinct loads, a non-positive reference slope, or no such segment.
    """
    kept: list[int] = []
    for i, (x, _) in enumerate(points):
        if not kept or x - points[kept[-1]][0] > SAME_LOAD_SHARE * abs(points[kept[-1]][0]):
            kept.append(i)
    if len(kept) < 3:
        return None
    (x0, y0), (x1, y1) = points[kept[0]], points[kept[1]]
    reference = (y1 - y0) / (x1 - x0)
    if reference <= 0:
        return None
    for a, b in itertools.pairwise(kept[1:]):
        (xa, ya), (xb, yb) = points[a], points[b]
        if (yb - ya) / (xb - xa) < fraction * reference:
            return a
    return None


def _charted(bounds: Sequence[ExpectedBound], thresholds: CompareOptions | None) -> list[EnvelopeMetric]:
    """Key metrics and bounded metrics, in catalogue order; each with its bound or threshold."""
    by_metric = {b.metric: b for b in bounds}
    metrics = []
    for spec in CATALOGUE:
        bound = by_metric.get(spec.key)
        if not (spec.key_metric or bound is not None or spec.key in (THROUGHPUT_METRIC, COMPLETED_METRIC)):
            continue
        metrics.append(
            EnvelopeMetric(
                metric=spec.key,
                title=spec.title,
                unit=spec.unit,
                statistic=bound.statistic if bound is not None else Statistic.MEAN,
                better=spec.better,
                bound=bound,
                threshold_pct=thresholds.threshold_for(spec.threshold_class) if thresholds is not None else None,
            )
        )
    return metrics


def _load(value: float | None) -> str:
    return format_value(value, "1/s") if value is not None else "unknown load"


def capacity_envelope(
    profiles: Sequence[BehaviourProfile],
    *,
    preset: ScalePreset | None = None,
    thresholds_pct: dict[ThresholdClass, float] | None = None,
) -> CapacityEnvelope:
    """Order ``profiles`` by offered load and find where they stopped holding (see the module docstring).

    The profiles must share one cluster and namespace; each needs an offered load (a profile without
    ``workflows_started_per_sec`` data cannot be placed on the axis and is refused).
    """
    if len(profiles) < 2:
        raise InvalidRequest(f"an envelope needs at least 2 profiles; {len(profiles)} matched")
    scopes = sorted({(p.cluster_id, p.namespace or "") for p in profiles})
    if len(scopes) > 1:
        shown = ", ".join(f"{c}/{n or '(no namespace)'}" for c, n in scopes)
        raise InvalidRequest(f"the profiles span several clusters or namespaces ({shown}); choose one of them")
    unplaced = [p for p in profiles if _mean(p, THROUGHPUT_METRIC) is None]
    if unplaced:
        raise InvalidRequest(
            f"profiles without {THROUGHPUT_METRIC} data cannot be placed on the load axis: "
            + ", ".join(f"{p.name!r} ({p.id})" for p in unplaced)
            + "; leave them out"
        )
    ordered = sorted(profiles, key=lambda p: (_mean(p, THROUGHPUT_METRIC) or 0.0, p.time_window_start, str(p.id)))
    bounds = list(preset.bounds) if preset is not None else []
    options = CompareOptions(thresholds_pct=thresholds_pct or {}) if preset is None else None
    metrics = _charted(bounds, options)

    steps: list[EnvelopeStep] = []
    for i, profile in enumerate(ordered):
        if preset is not None:
            status, breaches = _preset_step(profile, bounds)
        elif i == 0:
            status, breaches = EnvelopeStepStatus.HELD, []
        else:
            assert options is not None
            status, breaches = _thresholds_step(ordered[0], profile, options)
        steps.append(
            EnvelopeStep(
                profile_id=str(profile.id),
                name=profile.name,
                label=profile.label,
                time_window_start=profile.time_window_start,
                time_window_end=profile.time_window_end,
                offered_load=_mean(profile, THROUGHPUT_METRIC),
                throughput=_mean(profile, COMPLETED_METRIC),
                status=status,
                values={m.metric: _mean(profile, m.metric, m.statistic) for m in metrics},
                breaches=breaches,
            )
        )

    held = 0
    while held < len(steps) and steps[held].status in _HOLDS:
        held += 1
    safe = steps[held - 1] if held else None
    breaking = steps[held] if held < len(steps) else None
    notes: list[str] = []
    if breaking is not None:
        recovered = [s for s in steps[held + 1 :] if s.status in _HOLDS]
        if recovered:
            notes.append(
                f"{len(recovered)} heavier step{'s' if len(recovered) > 1 else ''} held again after the breaking "
                f"point ({', '.join(_load(s.offered_load) for s in recovered)}); the envelope stops where it first "
                "broke"
            )
    first_broken = [b for b in breaking.breaches if b.status is not BoundStatus.WARN] if breaking else []

    curve = [(s.offered_load, s.throughput) for s in steps]
    knee_index = None
    if all(x is not None and y is not None for x, y in curve):
        knee_index = find_knee([(float(x or 0.0), float(y or 0.0)) for x, y in curve])
    else:
        notes.append(f"no knee: some steps have no {COMPLETED_METRIC} data")
    knee = steps[knee_index] if knee_index is not None else None

    judged_by = (
        f"the {preset.name} preset's bounds" if preset is not None else "the lightest step, by percent thresholds"
    )
    if safe is None:
        assert breaking is not None
        head = f"Did not hold even at the lightest step ({_load(breaking.offered_load)}) against {judged_by}"
    elif breaking is None:
        head = (
            f"Held at every step up to {_load(safe.offered_load)} against {judged_by}; no breaking point in this sweep"
        )
    else:
        head = f"Held up to {_load(safe.offered_load)}; broke at {_load(breaking.offered_load)} against {judged_by}"
    if first_broken:
        first = first_broken[0]
        shown = format_value(first.observed, first.unit) if first.observed is not None else "no data, never a pass"
        beyond = f", {format_pct(first.overshoot_pct)} beyond its limit" if first.overshoot_pct is not None else ""
        head += f": first {first.metric} ({shown}{beyond})"
        if len(first_broken) > 1:
            head += f", then {', '.join(b.metric for b in first_broken[1:4])}"
            head += f" and {len(first_broken) - 4} more" if len(first_broken) > 4 else ""
    elif breaking is not None and breaking.status is EnvelopeStepStatus.INCONCLUSIVE:
        head += " (no data for a bounded metric, never a pass)"
    knee_text = (
        f"throughput stopped keeping pace after {_load(knee.offered_load)}"
        if knee is not None
        else "throughput kept pace with offered load"
    )
    return CapacityEnvelope(
        cluster_id=ordered[0].cluster_id,
        namespace=ordered[0].namespace,
        mode="preset" if preset is not None else "thresholds",
        preset=preset.name if preset is not None else None,
        offered_load_metric=THROUGHPUT_METRIC,
        throughput_metric=COMPLETED_METRIC,
        metrics=metrics,
        steps=steps,
        safe_load=safe.offered_load if safe else None,
        safe_profile_id=safe.profile_id if safe else None,
        breaking_load=breaking.offered_load if breaking else None,
        breaking_profile_id=breaking.profile_id if breaking else None,
        first_broken=first_broken,
        knee_load=knee.offered_load if knee else None,
        knee_profile_id=knee.profile_id if knee else None,
        summary=f"{head}; {knee_text}.",
        notes=notes,
    )
