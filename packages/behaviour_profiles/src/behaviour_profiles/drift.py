"""Drift of a current telemetry summary from a baseline profile (pure).

Drift uses the judgement engine of :mod:`behaviour_profiles.comparison` unchanged: the baseline is the
old side, the current window the new side, with the same statistic, thresholds, noise floors and
significance test. The current window has **drifted** when any metric regressed beyond its threshold
(verdict ``warn`` or ``fail``); with no regression but a key metric without data it is
**inconclusive** (never a pass); otherwise there is **no drift**. With the current configuration, its
changes from the baseline's are connected to the regressions by :mod:`behaviour_profiles.correlation`.
A regression whose metric kept top contributors in both the baseline and the current window is placed
where it lives by :mod:`behaviour_profiles.attribution`, as in a comparison.

Usage::

    result = assess_drift(baseline, current_summary, window=Window(start, end),
                          scope=Scope("c", "default", None), options=CompareOptions())
"""

from __future__ import annotations

from collections.abc import Sequence

from behaviour_profiles.attribution import attribute_regressions, lead_words, named_contributor
from behaviour_profiles.catalogue import BY_KEY
from behaviour_profiles.comparison import (
    CONFIG_PARTS,
    CRITICAL_TIMES,
    config_diffs,
    config_notes,
    filter_diffs,
    judge_telemetry,
    load_comparison,
    missing_key_metrics,
    verdict_and_summary,
    window_length_note,
)
from behaviour_profiles.correlation import cause_text, correlate
from behaviour_profiles.formatting import format_window
from behaviour_profiles.models import (
    Attribution,
    BehaviourProfile,
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
from behaviour_profiles.scope import Scope, Window
from behaviour_profiles.steady import trim_to_steady_state

__all__ = ["assess_drift", "drift_status"]

EXPLAIN_TOP = 3
"""How many deviations and correlations the explanation spells out."""

_SIDES = ("baseline", "current")
"""The old and the new side, as the notes name them beside a value."""
_CONFIG_SIDES = ("the baseline", "the current configuration")
"""The old and the new side, as the notes name them in a sentence about configuration."""
_ATTRIBUTION_SIDES = ("the baseline", "the current window")
"""The old and the new side, as an attribution's statement names them."""

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


def _thresholds_text(options: CompareOptions) -> str:
    return ", ".join(f"{cls.value} {options.threshold_for(cls):g} %" for cls in ThresholdClass)


def baseline_words(baseline: BehaviourProfile) -> str:
    """A single baseline as a drift explanation names it: its name, profile id and window."""
    return (
        f"baseline {baseline.name!r} (profile {baseline.id}, "
        f"{format_window(baseline.time_window_start, baseline.time_window_end)})"
    )


def rolling_words(pooled: Sequence[BehaviourProfile]) -> str:
    """A rolling baseline as a drift explanation names it: how many it pools, over which span, the newest."""
    first = min(p.time_window_start for p in pooled)
    newest = max(pooled, key=lambda p: (p.time_window_end, str(p.id)))
    return (
        f"rolling baseline of {len(pooled)} pooled profile(s) ({format_window(first, newest.time_window_end)}; "
        f"the newest {newest.name!r}, profile {newest.id})"
    )


def _explain(
    status: DriftStatus,
    base: str,
    current: TelemetrySummary,
    judged: Sequence[TelemetryDiff],
    correlations: Sequence[Correlation],
    attributions: Sequence[Attribution],
    scope: str,
    window: str,
    options: CompareOptions,
) -> str:
    lead = (
        f"The window {window} of {scope} was judged against the {base} with the comparison rules "
        f"(statistic {options.statistic.value}; thresholds {_thresholds_text(options)}; beyond a threshold "
        f"is a warning, beyond {CRITICAL_TIMES} it critical)."
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
        where = _where_it_lives(attributions)
        if where is not None:
            sentences.append(where)
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
        shown = "; ".join(cause_text(c) for c in expected[:EXPLAIN_TOP])
        sentences.append(f"Configuration changes that explain it: {shown}.")
    elif correlations:
        sentences.append(
            f"{len(correlations)} configuration change(s) influence regressed metrics, none in a known direction."
        )
    return " ".join(sentences)


def _where_it_lives(attributions: Sequence[Attribution]) -> str | None:
    """One short sentence on where the first attributed regression lives (the contributor its statement names)."""
    for found in attributions:
        lead = named_contributor(found.contributors)
        if lead is not None and lead.new_share is not None:
            return f"Where it lives: {found.title}, {lead_words(found.share_of, lead.new_share, lead.labels)}."
    return None


def assess_drift(
    baseline: BehaviourProfile,
    current: TelemetrySummary,
    *,
    window: Window,
    scope: Scope,
    options: CompareOptions,
    current_config: ConfigSnapshot | None = None,
    named: str | None = None,
) -> DriftResult:
    """Judge ``current`` (the new side) against ``baseline`` (the old side) with the comparison rules.

    ``scope`` is the current window's cluster, namespace and task queue. With ``current_config`` the
    baseline's configuration is diffed against it and changes are correlated with the regressions; a
    snapshot with no part collected counts as none. ``named`` is how the explanation names the baseline
    (:func:`rolling_words` for a pooled one); by default :func:`baseline_words`.
    """
    start, end = window.start, window.end
    cluster_id, namespace, task_queue = scope.cluster_id, scope.namespace, scope.task_queue
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
    length = window_length_note(baseline.time_window_start, baseline.time_window_end, start, end, sides=_SIDES)
    if length is not None:
        notes.append(length)

    diffs: list[ConfigDiff] = []
    correlations: list[Correlation] = []
    collected = current_config is not None and any(getattr(current_config, part) is not None for part in CONFIG_PARTS)
    if current_config is not None and collected:
        diffs = config_diffs(baseline.config, current_config)
        notes.extend(config_notes(baseline.config, current_config, sides=_CONFIG_SIDES))
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

    attributions = attribute_regressions(judged, base_metrics, now_metrics, sides=_ATTRIBUTION_SIDES, both_sides=True)
    explanation = _explain(
        status,
        named or baseline_words(baseline),
        current,
        judged,
        correlations,
        attributions,
        scope.describe(),
        format_window(start, end),
        options,
    )
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
        attributions=attributions,
    )
