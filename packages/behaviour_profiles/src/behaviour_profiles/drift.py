"""Drift of a current telemetry summary from a baseline profile, and drift correlation (pure).

Drift uses the judgement engine of :mod:`behaviour_profiles.comparison` unchanged: the baseline is the
old side, the current window the new side, with the same statistic, thresholds, noise floors and
significance test. The current window has **drifted** when any metric regressed beyond its threshold
(verdict ``warn`` or ``fail``); with no regression but a key metric without data it is
**inconclusive** (never a pass); otherwise there is **no drift**.

Correlation connects configuration changes to regressions: a changed key is connected to every
regressed metric whose catalogue entry lists it in ``influenced_by``. Config diff keys carry their
snapshot part (``environment.TEMPORAL_SQL_MAX_CONNS``, ``dsql_plugin.TEMPORAL_SQL_MAX_CONNS``,
``dynamic_config.history.persistenceMaxQPS[namespace=default]``, ``worker_options.orders.MaxConcurrent...``);
:func:`setting_name` reduces them to the catalogue's bare names (case-insensitively, as Temporal reads
dynamic config keys). The same setting seen in two parts (the environment and the DSQL plugin view
of it) is one change. Where a metric's catalogue entry declares the direction of a setting's effect
(:attr:`~behaviour_profiles.catalogue.MetricSpec.effects`: raising it worsens or improves the metric), the
correlation says whether the change went the way that causes the regression (``expected``), the
other way (``contrary``), or that the key influences the metric in a way not known here
(``possible``). The output is sorted, so the same inputs always give the same list.

Usage::

    result = assess_drift(baseline, current_summary, window=(start, end), scope=("c", "default", None),
                          options=CompareOptions())
    links = correlate(comparison.config_diffs, comparison.telemetry_diffs)
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from behaviour_profiles.catalogue import BY_KEY, CATALOGUE, MetricSpec, Raising
from behaviour_profiles.comparison import (
    CONFIG_PARTS,
    config_diffs,
    config_notes,
    filter_diffs,
    judge_telemetry,
    load_comparison,
    missing_key_metrics,
    order_diffs,
    verdict_and_summary,
    window_length_note,
)
from behaviour_profiles.formatting import format_change, format_value
from behaviour_profiles.models import (
    BehaviourProfile,
    ChangeKind,
    CompareOptions,
    ConfigDiff,
    ConfigSnapshot,
    Correlation,
    CorrelationRelation,
    Direction,
    DriftResult,
    DriftStatus,
    Severity,
    SteadyStateTrim,
    TelemetryDiff,
    TelemetrySummary,
    ThresholdClass,
    Verdict,
)
from behaviour_profiles.snapshot import parse_duration
from behaviour_profiles.steady import trim_to_steady_state

__all__ = [
    "assess_drift",
    "change_direction",
    "correlate",
    "drift_status",
    "setting_name",
]

EXPLAIN_TOP = 3
"""How many deviations and correlations the explanation spells out."""

_PART_PREFERENCE = ("dsql_plugin", "environment", "dynamic_config", "worker_options")
"""Which part's diff speaks for a setting seen in several (the typed DSQL plugin view first)."""

_RAISED = {"increased": True, "enabled": True, "decreased": False, "disabled": False}
"""Which change directions raise a setting (a flag turned on counts as raised), and which lower it."""


# --- config keys meet catalogue keys -----------------------------------------------------------


def setting_name(diff: ConfigDiff) -> tuple[str, str]:
    """``(bare setting, qualifier)`` of a config diff key.

    ``environment.TEMPORAL_SQL_MAX_CONNS`` -> ``("TEMPORAL_SQL_MAX_CONNS", "")``;
    ``dynamic_config.history.persistenceMaxQPS[namespace=default]`` ->
    ``("history.persistenceMaxQPS", "[namespace=default]")``;
    ``worker_options.orders.MaxConcurrentActivityExecutionSize`` ->
    ``("MaxConcurrentActivityExecutionSize", "orders.")``.
    """
    prefix = f"{diff.part}."
    name = diff.key[len(prefix) :] if diff.key.startswith(prefix) else diff.key
    if diff.part == "dynamic_config":
        bare, bracket, rest = name.partition("[")
        return bare, bracket + rest
    if diff.part == "worker_options":
        path, _, leaf = name.rpartition(".")
        return leaf, f"{path}." if path else ""
    return name, ""


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float):
        return float(value) if math.isfinite(value) else None
    if isinstance(value, str):
        text = value.strip()
        try:
            number = float(text)
        except ValueError:
            nanos = parse_duration(text)
            return None if nanos is None else float(nanos)
        return number if math.isfinite(number) else None
    return None


def _flag(value: Any) -> bool | None:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    return None


def change_direction(diff: ConfigDiff) -> str:
    """``increased``/``decreased`` (numbers and Go durations), ``enabled``/``disabled`` (booleans),
    ``added``, ``removed``, or ``changed`` when the values do not order."""
    if diff.change is ChangeKind.ADDED:
        return "added"
    if diff.change is ChangeKind.REMOVED:
        return "removed"
    old_flag, new_flag = _flag(diff.old_value), _flag(diff.new_value)
    if old_flag is not None and new_flag is not None and old_flag != new_flag:
        return "enabled" if new_flag else "disabled"
    old, new = _number(diff.old_value), _number(diff.new_value)
    if old is not None and new is not None and old != new:
        return "increased" if new > old else "decreased"
    return "changed"


# --- correlation -------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Change:
    setting: str
    display: str
    diff: ConfigDiff
    keys: tuple[str, ...]


def _changes(diffs: Iterable[ConfigDiff], known: Mapping[str, str]) -> list[_Change]:
    """One change per (setting, qualifier) whose setting the catalogue knows, in a stable order."""
    groups: dict[tuple[str, str], list[ConfigDiff]] = {}
    for diff in diffs:
        bare, qualifier = setting_name(diff)
        canonical = known.get(bare.lower())
        if canonical is not None:
            groups.setdefault((canonical, qualifier), []).append(diff)
    changes = []
    for (canonical, qualifier), members in sorted(groups.items()):
        rank = {part: i for i, part in enumerate(_PART_PREFERENCE)}
        members.sort(key=lambda d: (rank.get(d.part, len(rank)), d.key))
        lead = members[0]
        if lead.part == "dynamic_config":
            display = canonical + qualifier
        elif lead.part == "worker_options":
            display = qualifier + canonical
        else:
            display = canonical
        changes.append(_Change(canonical, display, lead, tuple(sorted(d.key for d in members))))
    return changes


def _value_text(value: Any) -> str:
    return "(unset)" if value is None else str(value)


def _change_text(change: _Change) -> str:
    diff = change.diff
    if diff.change is ChangeKind.ADDED:
        return f"set {change.display} to {_value_text(diff.new_value)} (unset before)"
    if diff.change is ChangeKind.REMOVED:
        return f"removed {change.display} (was {_value_text(diff.old_value)})"
    return f"changed {change.display} from {_value_text(diff.old_value)} to {_value_text(diff.new_value)}"


def _pct_text(pct: float) -> str:
    return format_change(pct, signed=False)  # "by 45 %", or a multiple: "by x5,064"


def _regression_text(diff: TelemetryDiff) -> str:
    new = format_value(diff.new_value, diff.unit) if diff.new_value is not None else "?"
    if diff.change_pct is None:
        return f"{diff.metric} regressed from none to {new}"
    old = format_value(diff.old_value, diff.unit) if diff.old_value is not None else "?"
    return f"{diff.metric} regressed by {_pct_text(diff.change_pct)} ({old} -> {new})"


def _relation(spec: MetricSpec, setting: str, direction: str) -> tuple[CorrelationRelation, str | None]:
    """From the metric's declared effect of ``setting``: did the change go the way that worsens it?"""
    effect = next((e for e in spec.effects if e.setting.lower() == setting.lower()), None)
    if effect is None:
        return CorrelationRelation.POSSIBLE, None
    raised = _RAISED.get(direction)
    if raised is None:
        return CorrelationRelation.POSSIBLE, effect.mechanism
    worsens = raised == (effect.raising is Raising.WORSENS)
    return (CorrelationRelation.EXPECTED if worsens else CorrelationRelation.CONTRARY), effect.mechanism


_RELATION_RANK: Mapping[CorrelationRelation, int] = {
    CorrelationRelation.EXPECTED: 0,
    CorrelationRelation.POSSIBLE: 1,
    CorrelationRelation.CONTRARY: 2,
}


def correlate(
    config: Iterable[ConfigDiff],
    telemetry: Iterable[TelemetryDiff],
    catalogue: Iterable[MetricSpec] = CATALOGUE,
) -> list[Correlation]:
    """Each changed config key against each counted regression whose catalogue entry it influences.

    Order: expected, possible, contrary; then the regression's severity and size (as
    :func:`~behaviour_profiles.comparison.order_diffs`); then the setting. Regressions that do not
    count toward the verdict (not significant) are left out.
    """
    specs = {spec.key: spec for spec in catalogue}
    known = {key.lower(): key for spec in specs.values() for key in spec.influenced_by}
    known.update({e.setting.lower(): e.setting for spec in specs.values() for e in spec.effects})
    regressions = [
        d
        for d in order_diffs(telemetry)
        if d.direction is Direction.REGRESSED and d.counts_toward_verdict and d.metric in specs
    ]
    rank = {d.metric: i for i, d in enumerate(regressions)}
    out: list[Correlation] = []
    for change in _changes(config, known):
        direction = change_direction(change.diff)
        for diff in regressions:
            spec = specs[diff.metric]
            influencers = {k.lower() for k in spec.influenced_by} | {e.setting.lower() for e in spec.effects}
            if change.setting.lower() not in influencers:
                continue
            relation, mechanism = _relation(spec, change.setting, direction)
            statement = f"{_change_text(change)} -> {_regression_text(diff)}"
            if relation is CorrelationRelation.EXPECTED:
                statement += f"; expected: {mechanism}"
            elif relation is CorrelationRelation.CONTRARY:
                statement += f"; contrary: a change this way usually helps: {mechanism}"
            else:
                statement += f"; {change.setting} is known to influence {diff.metric}, direction not known"
            out.append(
                Correlation(
                    setting=change.setting,
                    config_keys=list(change.keys),
                    change=change.diff.change,
                    change_direction=direction,
                    old_value=change.diff.old_value,
                    new_value=change.diff.new_value,
                    metric=diff.metric,
                    title=diff.title,
                    unit=diff.unit,
                    severity=diff.severity,
                    old_metric_value=diff.old_value,
                    new_metric_value=diff.new_value,
                    change_pct=diff.change_pct,
                    relation=relation,
                    mechanism=mechanism,
                    statement=statement,
                )
            )
    out.sort(key=lambda c: (_RELATION_RANK[c.relation], rank[c.metric], c.setting, c.config_keys))
    return out


# --- drift -------------------------------------------------------------------------------------


def drift_status(verdict: Verdict, judged: Sequence[TelemetryDiff]) -> DriftStatus:
    """drifted: a counted regression (even with key metrics missing); inconclusive: no regression but a
    key metric without data; no drift: a pass."""
    regressed = any(d.direction is Direction.REGRESSED and d.counts_toward_verdict for d in judged)
    if verdict in (Verdict.FAIL, Verdict.WARN) or regressed:
        return DriftStatus.DRIFTED
    if verdict is Verdict.INCONCLUSIVE:
        return DriftStatus.INCONCLUSIVE
    return DriftStatus.NO_DRIFT


def _when(start: datetime, end: datetime) -> str:
    fmt = "%Y-%m-%d %H:%M"
    same_day = start.date() == end.date() and start.tzinfo == end.tzinfo
    return f"{start.strftime(fmt)} to {end.strftime('%H:%M' if same_day else fmt)} {start.tzname() or ''}".rstrip()


def _scope_text(cluster_id: str, namespace: str | None, task_queue: str | None) -> str:
    text = f"cluster {cluster_id}, namespace {namespace or '(all)'}"
    return text + (f", task queue {task_queue}" if task_queue else "")


def _thresholds_text(options: CompareOptions) -> str:
    return ", ".join(f"{cls.value} {options.threshold_for(cls):g} %" for cls in ThresholdClass)


def _explain(
    status: DriftStatus,
    baseline: BehaviourProfile,
    current: TelemetrySummary,
    judged: Sequence[TelemetryDiff],
    correlations: Sequence[Correlation],
    scope: str,
    window: str,
    options: CompareOptions,
) -> str:
    base = (
        f"baseline {baseline.name!r} (profile {baseline.id}, "
        f"{_when(baseline.time_window_start, baseline.time_window_end)})"
    )
    lead = (
        f"The window {window} of {scope} was judged against the {base} with the comparison rules "
        f"(statistic {options.statistic.value}; thresholds {_thresholds_text(options)}; beyond a threshold "
        "is a warning, beyond twice it critical)."
    )
    if current.coverage.with_data == 0:
        return (
            f"Inconclusive, not a pass: Prometheus has no samples for any metric in the current window. {lead} "
            "Check the window (the default is the last 30 minutes) and that the cluster is reporting."
        )
    regressions = [d for d in judged if d.direction is Direction.REGRESSED and d.counts_toward_verdict]
    missing = missing_key_metrics(judged)
    sentences = []
    if status is DriftStatus.DRIFTED:
        critical = sum(1 for d in regressions if d.severity is Severity.CRITICAL)
        sentences.append(
            f"Drifted: {len(regressions)} metric{'s' if len(regressions) != 1 else ''} regressed beyond "
            f"{'their thresholds' if len(regressions) != 1 else 'its threshold'}"
            + (f", {critical} critically" if critical else "")
            + "."
        )
        sentences.append(lead)
        worst = "; ".join(f"{d.metric}: {d.reason}" for d in regressions[:EXPLAIN_TOP])
        more = len(regressions) - EXPLAIN_TOP
        sentences.append(f"Worst: {worst}" + (f"; and {more} more." if more > 0 else "."))
    elif status is DriftStatus.INCONCLUSIVE:
        sentences.append(
            f"Inconclusive, not a pass: key metrics {', '.join(missing)} have no data on a side, and "
            "drift there cannot be ruled out; nothing with data regressed beyond its threshold."
        )
        sentences.append(lead)
    else:
        sentences.append("No drift: no metric regressed beyond its threshold.")
        sentences.append(lead)
    if missing and status is DriftStatus.DRIFTED:
        sentences.append(f"No data for key metrics {', '.join(missing)}.")
    expected = [c for c in correlations if c.relation is CorrelationRelation.EXPECTED]
    if expected:
        shown = "; ".join(c.statement.split("; expected:")[0] for c in expected[:EXPLAIN_TOP])
        sentences.append(f"Configuration changes that explain it: {shown}.")
    elif correlations:
        sentences.append(
            f"{len(correlations)} configuration change(s) influence regressed metrics, none in a known direction."
        )
    return " ".join(sentences)


def assess_drift(
    baseline: BehaviourProfile,
    current: TelemetrySummary,
    *,
    window: tuple[datetime, datetime],
    scope: tuple[str, str | None, str | None],
    options: CompareOptions,
    current_config: ConfigSnapshot | None = None,
) -> DriftResult:
    """Judge ``current`` (the new side) against ``baseline`` (the old side) with the comparison rules.

    ``scope`` is (cluster, namespace, task queue) of the current window. With ``current_config`` the
    baseline's configuration is diffed against it and changes are correlated with the regressions; a
    snapshot with no part collected counts as none.
    """
    start, end = window
    cluster_id, namespace, task_queue = scope
    base_metrics, now_metrics = dict(baseline.telemetry.metrics), dict(current.metrics)
    trims: list[SteadyStateTrim] = []
    if options.trim_steady_state:
        base_metrics, base_trim = trim_to_steady_state(base_metrics, side="baseline")
        now_metrics, now_trim = trim_to_steady_state(now_metrics, side="current")
        trims = [t for t in (base_trim, now_trim) if t is not None]
    judged = judge_telemetry(base_metrics, now_metrics, options)
    verdict, summary = verdict_and_summary(judged)
    status = drift_status(verdict, judged)
    if current.coverage.with_data == 0:
        verdict, status = Verdict.INCONCLUSIVE, DriftStatus.INCONCLUSIVE
        summary = "Inconclusive: the current window has no data for any metric; this is not a pass."

    load = load_comparison(base_metrics, now_metrics, options)
    notes: list[str] = [load.statement] if load is not None and load.differs else []
    notes += [t.statement for t in trims]
    for label, base_value, now_value in (
        ("cluster", baseline.cluster_id, cluster_id),
        ("namespace", baseline.namespace, namespace),
        ("task queue", baseline.task_queue, task_queue),
    ):
        if base_value != now_value:
            notes.append(
                f"The baseline covers {label} {base_value or '(all)'}, the current window {now_value or '(all)'}"
            )
    length = window_length_note(baseline.time_window_start, baseline.time_window_end, start, end)
    if length is not None:
        notes.append(length.replace("(A ", "(baseline ").replace(", B ", ", current "))

    diffs: list[ConfigDiff] = []
    correlations: list[Correlation] = []
    collected = current_config is not None and any(getattr(current_config, part) is not None for part in CONFIG_PARTS)
    if current_config is not None and collected:
        diffs = config_diffs(baseline.config, current_config)
        notes.extend(
            n.replace("profile A", "the baseline").replace("profile B", "the current configuration")
            for n in config_notes(baseline.config, current_config)
        )
        correlations = correlate(diffs, judged)
    else:
        notes.append(
            "No current configuration was given (in the request or the host's configured files), "
            "so configuration changes were not correlated"
        )
    unknown = sorted(current.metrics.keys() - BY_KEY.keys())
    if unknown:
        notes.append(f"Metrics not in the catalogue were not judged: {', '.join(unknown)}")
    notes.extend(dict.fromkeys(current.notes))

    scope_text = _scope_text(cluster_id, namespace, task_queue)
    explanation = _explain(status, baseline, current, judged, correlations, scope_text, _when(start, end), options)
    return DriftResult(
        cluster_id=cluster_id,
        namespace=namespace,
        task_queue=task_queue,
        time_window_start=start,
        time_window_end=end,
        baseline=baseline.metadata(),
        status=status,
        drifted={DriftStatus.DRIFTED: True, DriftStatus.NO_DRIFT: False}.get(status),
        verdict=verdict,
        statistic=options.statistic,
        thresholds_pct={cls: options.threshold_for(cls) for cls in ThresholdClass},
        deviations=filter_diffs(judged, options.include_all),
        config_diffs=diffs,
        correlations=correlations,
        coverage=current.coverage,
        summary=summary,
        explanation=explanation,
        notes=notes,
        load=load,
        trims=trims,
    )
