"""Conformance of a profile to a scale preset, and a config recommendation for a problematic profile (pure).

Rules (``docs/copilot.md`` says them in plain language):

* Every bound of the preset, and its throughput range, is one check over one catalogue metric's
  statistic: ``pass`` inside the warning band, ``warn`` inside the hard limits but outside the band,
  ``fail`` outside the hard limits, ``no_data`` when the profile has no value for it. Ranges are
  half-open: ``min <= value < max``.
* The profile is ``conforming`` only when every check passes. A warning is not a failure, but it is
  not a pass either: the label is ``drifted`` and the verdict ``warn`` says that nothing broke a hard
  limit. ``no_data`` on a bounded metric is never a pass (verdict ``inconclusive``, label ``drifted``).
* Verdict precedence: fail, then inconclusive, then warn, then pass.

:func:`recommend` picks the preset whose throughput range holds the profile's observed throughput,
checks the profile against it, and for every metric that fails or warns suggests that preset's values
for the configuration keys known to address it (its catalogue entry's
:attr:`~behaviour_profiles.catalogue.MetricSpec.remedy`), each suggestion carrying its evidence: the
metric, its observed value and the bound it broke.

Usage::

    result = check_conformance(profile.telemetry.metrics, PRESETS["mid-scale"], profile_id=str(profile.id))
    result.label, [c.metric for c in result.checks if c.status == "fail"]
    advice = recommend(profile)
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any

from behaviour_profiles.attribution import describe_labels, hung_attempts_of
from behaviour_profiles.catalogue import (
    ACTIVITY_FAILURES,
    BY_KEY,
    POLLER_KEYS,
    SLOT_SIZE_KEYS,
    WORKER_KEY_TYPES,
    WORKER_TYPES,
)
from behaviour_profiles.errors import InvalidRequest
from behaviour_profiles.formatting import expected_text, format_value, limits_text
from behaviour_profiles.models import (
    BehaviourProfile,
    BoundEvidence,
    BoundStatus,
    ConfigSnapshot,
    ConfigSuggestion,
    ConformanceLabel,
    ConformanceResult,
    ExpectedBound,
    MetricConformance,
    MetricStatus,
    MetricSummary,
    PresetSetting,
    Recommendation,
    ScalePreset,
    Verdict,
)
from behaviour_profiles.presets import PRESETS, THROUGHPUT_METRIC, preset_for_throughput

__all__ = [
    "check_bound",
    "check_conformance",
    "classify",
    "current_setting",
    "get_preset",
    "recommend",
]

_STATUS_RANK: Mapping[BoundStatus, int] = {
    BoundStatus.FAIL: 0,
    BoundStatus.NO_DATA: 1,
    BoundStatus.WARN: 2,
    BoundStatus.PASS: 3,
}


def get_preset(name: str) -> ScalePreset:
    """The preset called ``name``; an unknown name is an invalid request that lists the known ones."""
    preset = PRESETS.get(name)
    if preset is None:
        raise InvalidRequest(f"unknown preset {name[:100]!r}; choose one of {', '.join(PRESETS)} (GET /presets)")
    return preset


def classify(value: float, bound: ExpectedBound) -> BoundStatus:
    """``fail`` outside ``[min, max)``, ``warn`` outside ``[warn_min, warn_max)``, else ``pass``."""
    if (bound.min is not None and value < bound.min) or (bound.max is not None and value >= bound.max):
        return BoundStatus.FAIL
    if (bound.warn_min is not None and value < bound.warn_min) or (
        bound.warn_max is not None and value >= bound.warn_max
    ):
        return BoundStatus.WARN
    return BoundStatus.PASS


def _missing_reason(summary: MetricSummary | None, bound: ExpectedBound) -> tuple[float | None, str | None]:
    if summary is None:
        return None, "not collected"
    if summary.status is MetricStatus.NO_DATA:
        return None, summary.reason or "no samples"
    value = summary.statistic(bound.statistic)
    if value is None:
        return None, f"no {bound.statistic.value} value"
    if not math.isfinite(value):
        return None, f"{bound.statistic.value} is not a finite number"
    return value, None


def check_bound(bound: ExpectedBound, summary: MetricSummary | None) -> MetricConformance:
    """One metric against one bound; a missing, no-data or non-finite value is ``no_data``, never a pass."""
    spec = BY_KEY.get(bound.metric)
    unit = spec.unit if spec else (summary.unit if summary else "")
    title = spec.title if spec else bound.metric
    stat = bound.statistic.value
    value, missing = _missing_reason(summary, bound)
    expected = expected_text(bound.warn_min, bound.warn_max, unit)
    limits = limits_text(bound.min, bound.max, unit)
    if value is None:
        status = BoundStatus.NO_DATA
        reason = f"no data ({missing}): a bounded metric without data never passes; expected {expected}"
    else:
        status = classify(value, bound)
        shown = format_value(value, unit)
        if status is BoundStatus.PASS:
            reason = f"{stat} {shown} is within the expected {expected}"
        elif status is BoundStatus.WARN:
            reason = f"{stat} {shown} is in the warning band: expected {expected}, {limits}"
        else:
            reason = f"{stat} {shown} is beyond the hard limit: {limits} (expected {expected})"
    return MetricConformance(
        metric=bound.metric,
        title=title,
        unit=unit,
        statistic=bound.statistic,
        status=status,
        observed=value,
        min=bound.min,
        warn_min=bound.warn_min,
        warn_max=bound.warn_max,
        max=bound.max,
        reason=reason,
    )


def _names(checks: Iterable[MetricConformance]) -> str:
    return ", ".join(
        f"{c.metric} {format_value(c.observed, c.unit)}" if c.observed is not None else c.metric for c in checks
    )


def check_conformance(
    metrics: Mapping[str, MetricSummary], preset: ScalePreset, *, profile_id: str | None = None
) -> ConformanceResult:
    """A profile's metrics against every bound of ``preset``, its throughput range first."""
    bounds = (preset.throughput, *preset.bounds)
    checked = [check_bound(bound, metrics.get(bound.metric)) for bound in bounds]
    order = {id(c): i for i, c in enumerate(checked)}
    checks = sorted(checked, key=lambda c: (_STATUS_RANK[c.status], order[id(c)]))
    failing = [c for c in checks if c.status is BoundStatus.FAIL]
    no_data = [c for c in checks if c.status is BoundStatus.NO_DATA]
    warnings = [c for c in checks if c.status is BoundStatus.WARN]

    if failing:
        verdict = Verdict.FAIL
    elif no_data:
        verdict = Verdict.INCONCLUSIVE
    elif warnings:
        verdict = Verdict.WARN
    else:
        verdict = Verdict.PASS
    conforming = verdict is Verdict.PASS

    total = len(checks)
    if conforming:
        summary = f"Conforms to {preset.name}: all {total} bounds pass."
    else:
        parts = []
        if failing:
            parts.append(f"{len(failing)} of {total} bounds fail ({_names(failing)})")
        if no_data:
            parts.append(f"no data for {', '.join(c.metric for c in no_data)}, which is never a pass")
        if warnings:
            parts.append(f"{len(warnings)} in the warning band ({_names(warnings)})")
        qualifier = {Verdict.FAIL: "", Verdict.INCONCLUSIVE: " (inconclusive)", Verdict.WARN: " (warnings only)"}
        summary = f"Drifted from {preset.name}{qualifier[verdict]}: " + "; ".join(parts) + "."
    return ConformanceResult(
        profile_id=profile_id,
        preset=preset.name,
        label=ConformanceLabel.CONFORMING if conforming else ConformanceLabel.DRIFTED,
        conforming=conforming,
        verdict=verdict,
        checks=checks,
        failing=[c.metric for c in failing],
        warnings=[c.metric for c in warnings],
        no_data=[c.metric for c in no_data],
        summary=summary,
    )


# --- recommendation ----------------------------------------------------------------------------


def _find_nested(data: Mapping[Any, Any], key: str) -> Any:
    lowered = key.lower()
    for name in sorted(data, key=str):
        value = data[name]
        if str(name).lower() == lowered:
            return value
        if isinstance(value, Mapping):
            found = _find_nested(value, key)
            if found is not None:
                return found
    return None


def current_setting(config: ConfigSnapshot, setting: PresetSetting) -> Any:
    """The profile's value for a preset setting's key, or None when its snapshot does not have it.

    Environment keys are read from the typed DSQL plugin part first; dynamic config from the entry
    without constraints; worker options from the first match in key order, at any depth.
    """
    if setting.part == "environment":
        for part in (config.dsql_plugin, config.environment):
            if part and setting.key in part:
                return part[setting.key]
        return None
    if setting.part == "dynamic_config":
        entries = None
        for name, value in (config.dynamic_config or {}).items():
            if name.lower() == setting.key.lower():
                entries = value
        if isinstance(entries, list):
            for entry in entries:
                if isinstance(entry, Mapping) and not entry.get("constraints"):
                    return entry.get("value")
        return None
    return _find_nested(config.worker_options or {}, setting.key)


def _as_number(value: Any) -> float | None:
    if isinstance(value, bool):
        return 1.0 if value else 0.0
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        lowered = value.strip().lower()
        if lowered in ("true", "false"):
            return 1.0 if lowered == "true" else 0.0
        try:
            return float(lowered)
        except ValueError:
            return None
    return None


def _evidence(check: MetricConformance) -> BoundEvidence:
    return BoundEvidence(
        metric=check.metric,
        status=check.status,
        observed=check.observed,
        unit=check.unit,
        min=check.min,
        warn_min=check.warn_min,
        warn_max=check.warn_max,
        max=check.max,
    )


def _fit(profile: BehaviourProfile) -> tuple[ScalePreset | None, float | None, str]:
    summary = profile.telemetry.metrics.get(THROUGHPUT_METRIC)
    observed = summary.mean if summary is not None and summary.status is MetricStatus.OK else None
    if observed is not None and math.isfinite(observed):
        fitted = preset_for_throughput(observed)
        if fitted is not None:
            return fitted, observed, f"observed {format_value(observed, '1/s')} workflows started is in its range"
    named = PRESETS.get(profile.preset) if profile.preset else None
    if named is not None:
        return named, None, f"no throughput data; the profile names {named.name} at creation"
    return None, None, "no throughput data and no preset named at creation: no preset can be fitted"


SLOT_METRIC = "worker_task_slot_utilization"


def _saturated_type(profile: BehaviourProfile, preset: ScalePreset) -> tuple[str, float] | None:
    """The worker type whose slots are the busiest, when it is past the preset's slot warning level."""
    bound = next((b for b in preset.bounds if b.metric == SLOT_METRIC), None)
    level = bound.warn_max if bound is not None and bound.warn_max is not None else 0.0
    busiest: tuple[str, float] | None = None
    for suffix in WORKER_TYPES:
        summary = profile.telemetry.metrics.get(f"{SLOT_METRIC}.{suffix}")
        if summary is None or summary.status is not MetricStatus.OK or summary.mean is None:
            continue
        if summary.mean >= level and (busiest is None or summary.mean > busiest[1]):
            busiest = (suffix, summary.mean)
    return busiest


HUNG_METRIC = "activity_failure_rate"
"""The share of activity attempts that failed or timed out: where the preset bounds it and the attempts
mostly hung (:func:`hung_attempts`), more activity slots are not the advice."""


def hung_attempts(metrics: Mapping[str, MetricSummary]) -> tuple[float, str] | None:
    """The share of activity attempts that hung past their timeout (:func:`hung_attempts_of`), and where the
    most of them were, in words; None unless such timeouts are at least half of the activity failures (as
    the contributors of :data:`ACTIVITY_FAILURES` split them)."""
    rate, failures = metrics.get(HUNG_METRIC), metrics.get(ACTIVITY_FAILURES)
    if rate is None or rate.mean is None or failures is None:
        return None
    hung = hung_attempts_of(failures.contributors)
    share = math.fsum(c.share for c in hung)
    if not hung or share < 0.5:
        return None
    return rate.mean * share, describe_labels(max(hung, key=lambda c: c.share).labels)


def recommend(profile: BehaviourProfile) -> Recommendation:
    """The preset fitting the profile's throughput, and overrides for the metrics outside its bounds."""
    preset, observed, reason = _fit(profile)
    profile_id = str(profile.id)
    if preset is None:
        return Recommendation(
            profile_id=profile_id,
            preset=None,
            observed_throughput=observed,
            preset_reason=reason,
            conformance=None,
            overrides=[],
            notes=[f"{THROUGHPUT_METRIC} has no data in this profile, so no preset fits it"],
            summary=f"No recommendation: {reason}.",
        )
    result = check_conformance(profile.telemetry.metrics, preset, profile_id=profile_id)
    notes: list[str] = []
    if profile.preset and profile.preset != preset.name:
        notes.append(
            f"The profile names preset {profile.preset} at creation, but its throughput fits {preset.name}; "
            f"check it against {profile.preset} with POST /profiles/{{id}}/conformance"
        )
    settings = {s.key: s for s in preset.settings}
    saturated = _saturated_type(profile, preset)
    if saturated is not None:
        notes.append(
            f"{WORKER_TYPES[saturated[0]]} slots are the saturated type ({format_value(saturated[1], 'ratio')} busy)"
        )
    beyond = any(c.metric == HUNG_METRIC and c.status in (BoundStatus.FAIL, BoundStatus.WARN) for c in result.checks)
    hung = hung_attempts(profile.telemetry.metrics) if beyond else None
    hung_slots = SLOT_SIZE_KEYS["activity"]
    if hung is not None:
        notes.append(
            f"{hung_slots} is not suggested: {format_value(hung[0], 'ratio')} of activity attempts hung past "
            f"their timeout (most: {hung[1]}), and a hung attempt keeps its slot until its code returns: more "
            "slots would send more calls to what is not answering. Find what the activity waits on; heartbeats "
            "with a heartbeat timeout end a hung attempt sooner (its code is stopped only where it heeds the "
            "cancellation)"
        )
    suggestions: dict[str, ConfigSuggestion] = {}
    for check in result.checks:
        if check.status is BoundStatus.NO_DATA and check.metric != THROUGHPUT_METRIC:
            notes.append(f"{check.metric} has no data: cannot tell whether it needs an override")
        if check.status not in (BoundStatus.FAIL, BoundStatus.WARN):
            continue
        spec = BY_KEY.get(check.metric)
        remedy = spec.remedy if spec is not None else None
        if remedy is None:
            continue
        keys = remedy.settings
        if saturated is not None and not remedy.worker_type:
            # a symptom of any worker type (backlog, sync match, slots): address the type that is full
            keys = tuple(k for k in keys if WORKER_KEY_TYPES.get(k, saturated[0]) == saturated[0])
        for key in keys:
            setting = settings.get(key)
            if setting is None:
                continue
            if hung is not None and key == hung_slots:
                continue  # said once above
            if saturated is not None and key == POLLER_KEYS.get(saturated[0]):
                instead = SLOT_SIZE_KEYS[saturated[0]]
                notes.append(
                    f"{key} is not suggested: {WORKER_TYPES[saturated[0]]} slots are full, and a poller takes a "
                    f"task only when a slot is free; "
                    + (
                        "the activity slots are held by hung attempts"
                        if hung is not None and instead == hung_slots
                        else f"raise {instead} instead"
                    )
                )
                continue
            current = current_setting(profile.config, setting)
            now, target = _as_number(current), _as_number(setting.value)
            if current is not None and (current == setting.value or (now is not None and now == target)):
                notes.append(
                    f"{key} is already {current}, the {preset.name} value, so it does not explain {check.metric}"
                )
                continue
            if remedy.raise_only and now is not None and target is not None and now > target:
                notes.append(f"{key} is already {current}, above the {preset.name} value {setting.value}")
                continue
            if key in suggestions:
                suggestions[key].evidence.append(_evidence(check))
                continue
            unknown = (
                ""
                if current is not None
                else f"; the profile's {setting.part} has no {key}, so this could not be compared with the value "
                "in force (send it with the profile to check)"
            )
            suggestions[key] = ConfigSuggestion(
                key=key,
                part=setting.part,
                current_value=current,
                current_known=current is not None,
                suggested_value=setting.value,
                why=f"{remedy.why} ({setting.why}; {preset.name} value){unknown}",
                evidence=[_evidence(check)],
            )
    overrides = list(suggestions.values())
    notes = list(dict.fromkeys(notes))
    if result.conforming:
        summary = f"Fits {preset.name} ({reason}) and conforms to it: no override needed."
    elif overrides:
        shown = ", ".join(f"{s.key}={s.suggested_value}" for s in overrides)
        summary = f"Fits {preset.name} ({reason}). {result.summary} Suggested overrides: {shown}."
    else:
        summary = f"Fits {preset.name} ({reason}). {result.summary} No config override addresses it."
    return Recommendation(
        profile_id=profile_id,
        preset=preset.name,
        observed_throughput=observed,
        preset_reason=reason,
        conformance=result,
        overrides=overrides,
        notes=notes,
        summary=summary,
    )
