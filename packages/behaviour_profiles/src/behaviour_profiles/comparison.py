"""Judging one profile against another: telemetry, configuration and version diffs, and a verdict.

Everything here is pure: models in, models out; no I/O, clocks or environment. A metric's meaning
(which way is better, its threshold class, unit and noise floor) comes from its catalogue entry only.
``docs/comparison.md`` states the rules in plain language.

Usage::

    comparison = compare_profiles(healthy, failing, CompareOptions())
    comparison.verdict, comparison.summary

Drift detection reuses the parts that do not need whole profiles: :func:`judge_metric`,
:func:`judge_telemetry`, :func:`order_diffs`, :func:`filter_diffs` and :func:`verdict_and_summary`.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any

from behaviour_profiles.attribution import attribute_regressions
from behaviour_profiles.catalogue import (
    BY_KEY,
    CATALOGUE,
    MATCHING_KEYS,
    PERSISTENCE_KEYS,
    POOL_KEYS,
    RESERVOIR_KEYS,
    WORKER_KEYS,
    MetricSpec,
    PerUnit,
)
from behaviour_profiles.correlation import correlate
from behaviour_profiles.formatting import format_change, format_p, format_span, format_threshold, format_value
from behaviour_profiles.models import (
    BehaviourProfile,
    Better,
    ChangeKind,
    CompareOptions,
    ConfigDiff,
    ConfigSnapshot,
    Direction,
    Evidence,
    LoadComparison,
    LoadLabel,
    MetricStatus,
    MetricSummary,
    ProfileComparison,
    Severity,
    Statistic,
    StatsView,
    SteadyStateTrim,
    TelemetryDiff,
    ThresholdClass,
    Verdict,
    VersionDiff,
    VersionIdentity,
)
from behaviour_profiles.ordering import order_diffs
from behaviour_profiles.stats import (
    InsufficientData,
    MannWhitneyResult,
    benjamini_hochberg,
    compare_samples,
    finite_values,
    rising_trend,
    series_stats,
)
from behaviour_profiles.steady import trim_to_steady_state

__all__ = [
    "CONFIG_PARTS",
    "CRITICAL_FACTOR",
    "CRITICAL_TIMES",
    "REDACTED",
    "VERSION_COMPONENTS",
    "Sides",
    "classify_config_key",
    "compare_profiles",
    "config_diffs",
    "config_notes",
    "describe_change",
    "filter_diffs",
    "flatten_config_part",
    "judge_metric",
    "judge_telemetry",
    "load_comparison",
    "missing_key_metrics",
    "order_diffs",
    "per_unit_spec",
    "verdict_and_summary",
    "version_diffs",
    "window_length_note",
]

CONFIG_PARTS: tuple[str, ...] = ("dynamic_config", "environment", "worker_options", "dsql_plugin")
"""The parts of a ConfigSnapshot that are diffed, in the order their diffs are listed."""

VERSION_COMPONENTS: tuple[str, ...] = ("temporal_server_version", "dsql_plugin_version", "worker_code_sha")

WINDOW_LENGTH_TOLERANCE = 0.10
"""Windows whose lengths differ by more than this share of the shorter one get a note."""

CRITICAL_FACTOR = 2.0
"""A change beyond its class threshold is a warning; beyond this many times the threshold, critical."""

CRITICAL_TIMES = "twice" if CRITICAL_FACTOR == 2 else f"{CRITICAL_FACTOR:g} times"
""":data:`CRITICAL_FACTOR` in words, for every sentence that states or applies the rule."""

SUMMARY_TOP = 3
"""How many regressions the summary sentence names."""

Sides = tuple[str, str]
"""How a note names the old and the new side: ``("A", "B")`` in a comparison, ``("baseline", "current")`` in
drift. Notes are written with their sides' names, never rewritten afterwards."""

REDACTED = "<redacted>"
"""How a redacted value is shown in a diff: its fingerprint is never shown."""

_REDACTED_RE = re.compile(r"<redacted(?::([0-9a-f]+))?>")

# First match wins: a key listed in several tuples gets its most specific classification.
_CLASSIFICATIONS: tuple[tuple[str, frozenset[str]], ...] = tuple(
    (label, frozenset(k.lower() for k in keys))
    for label, keys in (
        ("sql_pool", POOL_KEYS),
        ("dsql_reservoir", RESERVOIR_KEYS),
        ("persistence", PERSISTENCE_KEYS),
        ("matching", MATCHING_KEYS),
        ("worker", WORKER_KEYS),
    )
)


# --- one metric --------------------------------------------------------------------------------


def _view(summary: MetricSummary | None) -> StatsView | None:
    if summary is None:
        return None
    return StatsView(
        min=summary.min,
        max=summary.max,
        mean=summary.mean,
        p50=summary.p50,
        p95=summary.p95,
        p99=summary.p99,
        sample_count=summary.sample_count,
    )


def _missing(summary: MetricSummary | None, stat: Statistic) -> str | None:
    """Why a side has no usable value, or None when it has one."""
    if summary is None:
        return "not collected"
    if summary.status is MetricStatus.NO_DATA:
        return summary.reason or "no samples"
    value = summary.statistic(stat)
    if value is None:
        return f"no {stat.value} value"
    if not math.isfinite(value):
        return f"{stat.value} is not a finite number"
    return None


def _value(summary: MetricSummary | None, stat: Statistic) -> float | None:
    if summary is None or _missing(summary, stat) is not None:
        return None
    return summary.statistic(stat)


def _direction(better: Better, rising: bool) -> Direction:
    if better is Better.NEUTRAL:
        return Direction.CHANGED
    if (better is Better.HIGHER) == rising:
        return Direction.IMPROVED
    return Direction.REGRESSED


def _better_phrase(better: Better) -> str:
    if better is Better.HIGHER:
        return "higher is better"
    if better is Better.LOWER:
        return "lower is better"
    return "a neutral metric: a change, not a regression"


def _to_evidence(result: MannWhitneyResult, p_adjusted: float, tests: int, alpha: float) -> Evidence:
    return Evidence(
        n_old=result.n_old,
        n_new=result.n_new,
        u_statistic=result.u_statistic,
        p_value=result.p_value,
        effect_size=result.effect_size,
        significant=p_adjusted < alpha,
        p_adjusted=p_adjusted,
        tests=tests,
    )


def _in_band(spec: MetricSpec, old_value: float, new_value: float) -> bool:
    """Both values within a floor-sized band above the noise floor (at most twice the floor): noise."""
    band = 2 * spec.noise_floor
    return abs(old_value) <= band and abs(new_value) <= band


def _test_outcome(
    spec: MetricSpec, old: MetricSummary | None, new: MetricSummary | None, stat: Statistic
) -> MannWhitneyResult | InsufficientData | None:
    """The significance test of a metric, or None when it is not judged on evidence (no data, noise)."""
    old_value, new_value = _value(old, stat), _value(new, stat)
    if old is None or new is None or old_value is None or new_value is None or _in_band(spec, old_value, new_value):
        return None
    return compare_samples([v for _, v in old.series], [v for _, v in new.series])


def _level_severity(spec: MetricSpec, value: float) -> tuple[Severity, str] | None:
    """Severity of a regression from none by the metric's absolute levels, or None without levels."""
    if spec.warning_level is None and spec.critical_level is None:
        return None
    shown = format_value(value, spec.unit)
    if spec.critical_level is not None and value >= spec.critical_level:
        level_text = format_value(spec.critical_level, spec.unit)
        return Severity.CRITICAL, f"{shown} is at or above the critical level {level_text}"
    if spec.warning_level is not None and value >= spec.warning_level:
        level_text = format_value(spec.warning_level, spec.unit)
        return Severity.WARNING, f"{shown} is at or above the warning level {level_text}"
    level = spec.warning_level if spec.warning_level is not None else spec.critical_level
    assert level is not None
    return Severity.INFO, f"{shown} is below the warning level {format_value(level, spec.unit)}"


def _peak_at_level(spec: MetricSpec, new: MetricSummary | None) -> str | None:
    """Words for a capacity metric whose peak in the new window reached its warning level, or None.

    Its statistic may sit under the level while the busiest instants were at it (a 2-slot worker with a
    growing backlog reads 1 of 2 slots busy at some scrapes, between a task and its next poll): that is no
    headroom.
    """
    if spec.threshold_class is not ThresholdClass.CAPACITY or new is None or new.max is None:
        return None
    peak = _level_severity(spec, new.max)
    if peak is None or peak[0] is Severity.INFO:
        return None
    return f"its peak {peak[1]}: no headroom at its busiest"


def _growth(spec: MetricSpec, new: MetricSummary | None, alpha: float) -> str | None:
    """Words for a backlog (``spec.accumulates``) that rose through the new window, or None.

    Rising means a significant rising trend (:func:`~behaviour_profiles.stats.rising_trend` at ``alpha``)
    and a last point more than twice the noise floor above the first: demand outpaced the workers for
    the whole window, so the backlog's level is only a matter of time.
    """
    if not spec.accumulates or new is None:
        return None
    values = finite_values(v for _, v in new.series)
    trend = rising_trend(values)
    if trend is None or trend.p_value >= alpha or values[-1] - values[0] <= 2 * spec.noise_floor:
        return None
    return (
        f"it rose through the window ({format_value(values[0], spec.unit)} to "
        f"{format_value(values[-1], spec.unit)}, trend test p = {format_p(trend.p_value)}): a backlog that "
        "keeps growing reaches its level later"
    )


def judge_metric(
    spec: MetricSpec,
    old: MetricSummary | None,
    new: MetricSummary | None,
    options: CompareOptions,
    *,
    family_absent: bool = False,
    p_adjusted: float | None = None,
    tests: int = 1,
) -> TelemetryDiff:
    """Judge one catalogue metric, old side against new side.

    ``None`` or ``status == "no_data"`` on either side gives ``direction == "no_data"`` (a warning
    for key metrics). Otherwise the chosen statistic is compared: both sides within twice the noise
    floor is unchanged, and so is a ratio's change smaller than its floor in points; none on the old
    side and more than twice the floor on the new side is an absolute change without a percentage,
    judged by the metric's warning and critical levels where it declares them; otherwise the percent
    change is held against the class threshold. A change beyond it that the Mann-Whitney test does not
    find significant is reported at severity info and not counted toward the verdict. Significance is
    judged on ``p_adjusted`` (the Benjamini-Hochberg adjusted p-value across ``tests`` tests of the
    whole comparison, given by :func:`judge_telemetry`); alone, the test is a family of one.
    """
    outcome = _test_outcome(spec, old, new, options.statistic)
    return _judge(spec, old, new, options, outcome, p_adjusted, tests, family_absent=family_absent)


def _judge(
    spec: MetricSpec,
    old: MetricSummary | None,
    new: MetricSummary | None,
    options: CompareOptions,
    outcome: MannWhitneyResult | InsufficientData | None,
    p_adjusted: float | None,
    tests: int,
    *,
    family_absent: bool = False,
) -> TelemetryDiff:
    stat = options.statistic
    threshold = options.threshold_for(spec.threshold_class)
    old_value, new_value = _value(old, stat), _value(new, stat)

    def diff(
        direction: Direction,
        severity: Severity,
        change_pct: float | None,
        beyond: bool,
        counts: bool,
        evidence: Evidence | None,
        reason: str,
        change_text: str,
    ) -> TelemetryDiff:
        return TelemetryDiff(
            metric=spec.key,
            title=spec.title,
            category=spec.category,
            unit=spec.unit,
            better=spec.better,
            threshold_class=spec.threshold_class,
            statistic=stat,
            direction=direction,
            severity=severity,
            old_value=old_value,
            new_value=new_value,
            change_pct=change_pct,
            threshold_pct=threshold,
            beyond_threshold=beyond,
            counts_toward_verdict=counts,
            key_metric=spec.key_metric,
            old=_view(old),
            new=_view(new),
            evidence=evidence,
            reason=reason,
            change_text=change_text,
        )

    if old is None or new is None or old_value is None or new_value is None:
        why_old, why_new = _missing(old, stat), _missing(new, stat)
        if why_old is not None and why_new is not None:
            reason = (
                f"no data on either side ({why_old})"
                if why_old == why_new
                else f"no data on either side (old: {why_old}; new: {why_new})"
            )
        elif why_old is not None:
            reason = f"no data on the old side ({why_old})"
        else:
            reason = f"no data on the new side ({why_new})"
        not_in_document = old is None or new is None
        holds = spec.key_metric and not family_absent and not not_in_document
        if holds:
            reason += "; a key metric, so the comparison cannot pass"
        elif spec.key_metric and not_in_document:
            side = "old" if old is None else "new"
            reason += (
                f"; the {side} profile does not carry this metric at all (it was created before the catalogue "
                "had it), so this key metric does not hold the verdict; profile that window again to compare it"
            )
        elif spec.key_metric:
            reason += (
                f"; nothing of the {spec.family} family reports in either profile (this deployment does not "
                "export it), so this key metric does not hold the verdict"
            )
        severity = Severity.WARNING if holds else Severity.INFO
        return diff(Direction.NO_DATA, severity, None, False, holds, None, reason, "no data")

    floor = spec.noise_floor
    floor_text = format_value(floor, spec.unit)
    if _in_band(spec, old_value, new_value):
        reason = (
            f"{stat.value} within the noise band on both sides ({format_value(old_value, spec.unit)} and "
            f"{format_value(new_value, spec.unit)}, at most twice the noise floor {floor_text})"
        )
        return diff(Direction.UNCHANGED, Severity.INFO, None, False, False, None, reason, "unchanged")
    if spec.floor_points is not None:
        points = abs(new_value - old_value) * 100.0
        if points < spec.floor_points:
            reason = (
                f"{stat.value} moved {points:.2g} points ({format_value(old_value, spec.unit)} to "
                f"{format_value(new_value, spec.unit)}), within this ratio's {spec.floor_points:g}-point floor"
            )
            return diff(Direction.UNCHANGED, Severity.INFO, None, False, False, None, reason, "unchanged")

    evidence: Evidence | None = None
    insufficient: InsufficientData | None = None
    if isinstance(outcome, MannWhitneyResult):
        adjusted = outcome.p_value if p_adjusted is None else p_adjusted
        evidence = _to_evidence(outcome, adjusted, tests if p_adjusted is not None else 1, options.significance_level)
    elif isinstance(outcome, InsufficientData):
        insufficient = outcome

    change_pct: float | None
    # set when the regression stays below the metric's warning level where that decides (from none,
    # untested, or a capacity metric with headroom left): the words said before "so not counted"
    under_level: str | None = None
    if abs(old_value) <= floor:
        # no activity before: a percentage would be meaningless, so the absolute value is judged
        change_pct = None
        beyond = True
        direction = _direction(spec.better, rising=new_value > old_value)
        levels = _level_severity(spec, new_value) if direction is Direction.REGRESSED else None
        if levels is not None:
            severity, judged = levels
            judged = f"judged by its level: {judged}"
            under_level = "" if severity is Severity.INFO else None
        else:
            severity = Severity.CRITICAL if spec.threshold_class is ThresholdClass.ERROR else Severity.WARNING
            judged = "critical for an error metric" if severity is Severity.CRITICAL else "a warning"
        start = "none" if old_value == 0 else f"none ({format_value(old_value, spec.unit)}, under the noise floor)"
        change_text = f"from none to {format_value(new_value, spec.unit)}"
        reason = (
            f"{stat.value} went from {start} to {format_value(new_value, spec.unit)} "
            f"(from none there is no percentage: {judged}); {_better_phrase(spec.better)}"
        )
    else:
        # rounded far below any threshold's precision, so the same ratio computed two ways (a cost
        # per unit of work at another load) lands on the same side of a threshold
        change_pct = round((new_value - old_value) / abs(old_value) * 100.0, 9)
        change_text = format_change(change_pct)
        magnitude = abs(change_pct)
        beyond = magnitude > threshold
        verb = "rose" if change_pct > 0 else "fell" if change_pct < 0 else "held"
        reason = (
            f"{stat.value} {verb} from {format_value(old_value, spec.unit)} to "
            f"{format_value(new_value, spec.unit)} ({change_text})"
        )
        limit = f"{format_threshold(threshold)} {spec.threshold_class.value} threshold"
        if not beyond:
            severity, direction = Severity.INFO, Direction.UNCHANGED
            change_text = "unchanged"
            reason += f", within the {limit}"
        else:
            critical = magnitude > CRITICAL_FACTOR * threshold
            severity = Severity.CRITICAL if critical else Severity.WARNING
            direction = _direction(spec.better, rising=change_pct > 0)
            reason += f", beyond {CRITICAL_TIMES + ' ' if critical else ''}the {limit}; {_better_phrase(spec.better)}"
            level = _level_severity(spec, new_value) if direction is Direction.REGRESSED else None
            if level is not None and level[0] is Severity.INFO:
                # untested, a rise under the level is within what short real windows show between two
                # healthy runs; a capacity metric under its level still has headroom, tested or not,
                # unless its peak reached the level
                busiest = _peak_at_level(spec, new)
                if busiest is not None:
                    reason += f"; {level[1]}, but {busiest}"
                elif insufficient is not None:
                    under_level = f"; {insufficient.reason}, and {level[1]}"
                elif spec.threshold_class is ThresholdClass.CAPACITY:
                    under_level = f"; {level[1]}: headroom is left"

    counts = beyond
    if beyond and evidence is not None and not evidence.significant:
        severity, counts = Severity.INFO, False
        adjusted_text = ""
        if evidence.tests > 1 and evidence.p_adjusted is not None:
            adjusted_text = f", adjusted {format_p(evidence.p_adjusted)} across {evidence.tests} tests"
        reason += (
            f"; not statistically significant (p = {format_p(evidence.p_value)}{adjusted_text}, "
            f"level {options.significance_level:g}), so not counted"
        )
    elif under_level is not None:
        # below its warning level a regression is reported and not counted, unless it is a backlog growing
        growth = _growth(spec, new, options.significance_level)
        if growth is None:
            severity, counts = Severity.INFO, False
            reason += f"{under_level}, so not counted"
        else:
            severity = Severity.WARNING
            reason += f"{under_level}, but {growth}, so counted as a warning"
    elif beyond and insufficient is not None:
        reason += f"; {insufficient.reason}, so judged on the threshold alone"
    return diff(direction, severity, change_pct, beyond, counts, evidence, reason, change_text)


def _per_unit_summary(
    cost: MetricSummary | None, work: MetricSummary | None, per: PerUnit, unit: str, key: str
) -> MetricSummary | None:
    """The cost metric divided by the work done, instant by instant; None when work is unknown or zero."""
    if cost is None or work is None or cost.status is MetricStatus.NO_DATA or work.status is MetricStatus.NO_DATA:
        return None
    done = dict(work.series)
    points = [(t, v / (done[t] / per.scale)) for t, v in cost.series if done.get(t, 0.0) > 0.0]
    stats = series_stats(v for _, v in points)
    if stats is None:
        return None
    return MetricSummary(key=key, status=MetricStatus.OK, unit=unit, **stats.summary_fields(), series=points)


def per_unit_spec(spec: MetricSpec) -> MetricSpec | None:
    """The entry a cost metric is judged by per unit of work, or None for a metric that is not a cost.

    Its noise floor is the metric's floor per unit of work at one unit per second, so zero stays none.
    """
    per = spec.per_unit
    if per is None:
        return None
    return replace(
        spec,
        key=f"{spec.key} {per.words}",
        title=f"{spec.title} {per.words}",
        unit=f"{spec.unit} {per.words}",
        noise_floor=0.0,
        floor_points=None,
        warning_level=None,
        critical_level=None,
        per_unit=None,
        influences=(),
        remedy=None,
        key_metric=False,
    )


def load_comparison(
    old: Mapping[str, MetricSummary],
    new: Mapping[str, MetricSummary],
    options: CompareOptions,
    catalogue: Iterable[MetricSpec] = CATALOGUE,
) -> LoadComparison | None:
    """Offered load (the catalogue's offered-load metric) on both sides, or None when the catalogue has none."""
    spec = next((s for s in catalogue if s.offered_load), None)
    if spec is None:
        return None
    stat = options.statistic
    old_value, new_value = _value(old.get(spec.key), stat), _value(new.get(spec.key), stat)
    threshold = options.load_threshold_pct
    change_pct: float | None = None
    if old_value is None or new_value is None:
        statement = f"Offered load ({spec.key}) is not known on both sides, so it could not be compared"
        differs = False
    elif abs(old_value) <= spec.noise_floor:
        differs = abs(new_value) > spec.noise_floor
        statement = (
            f"Offered load ({spec.key}, {stat.value}) went from none to {format_value(new_value, spec.unit)}"
            if differs
            else f"No offered load on either side ({spec.key})"
        )
    else:
        change_pct = (new_value - old_value) / abs(old_value) * 100.0
        differs = abs(change_pct) > threshold
        both = f"{format_value(old_value, spec.unit)} then {format_value(new_value, spec.unit)}"
        if differs:
            beyond_pct = format_threshold(threshold)
            statement = f"Offered load differs: {spec.key} {both} ({format_change(change_pct)}, beyond {beyond_pct})"
            if options.load_aware:
                statement += "; cost metrics are judged per unit of work too, and each cost regression says "
                statement += "whether load explains it"
            else:
                statement += "; load-aware judgement is off, so costs are judged as measured"
        else:
            statement = f"Offered load is comparable: {spec.key} {both} ({format_change(change_pct)})"
    return LoadComparison(
        metric=spec.key,
        old_value=old_value,
        new_value=new_value,
        change_pct=change_pct,
        threshold_pct=threshold,
        differs=differs,
        statement=statement,
    )


def _label_by_load(diff: TelemetryDiff, per_unit: TelemetryDiff | None, words: str) -> TelemetryDiff:
    """Attach the per-unit judgement; a cost regression gets its load label (explained: not counted)."""
    if per_unit is None:
        return diff.model_copy(update={"per_unit": None})
    update: dict[str, Any] = {"per_unit": per_unit}
    if diff.direction is Direction.REGRESSED and diff.beyond_threshold:
        if per_unit.direction is Direction.REGRESSED and per_unit.counts_toward_verdict:
            update["load_label"] = LoadLabel.WORSE_PER_UNIT
            update["reason"] = f"{diff.reason}; worse per unit of work ({words}: {per_unit.change_text})"
        else:
            update["load_label"] = LoadLabel.EXPLAINED_BY_LOAD
            update["severity"] = Severity.INFO
            update["counts_toward_verdict"] = False
            update["reason"] = f"{diff.reason}; explained by load: {words} it is {per_unit.change_text}, so not counted"
    return diff.model_copy(update=update)


def judge_telemetry(
    old: Mapping[str, MetricSummary],
    new: Mapping[str, MetricSummary],
    options: CompareOptions,
    catalogue: Iterable[MetricSpec] = CATALOGUE,
) -> list[TelemetryDiff]:
    """Judge every catalogue metric (a metric missing from one side is no data), in :func:`order_diffs` order.

    A metric missing from both sides was not asked for (CPU where the platform exports none: the
    profiles carry a note instead) and is not judged. A key metric whose whole family reports in neither
    profile (the DSQL plugin's on a server that does not run it) is no data that does not hold the
    verdict; one side reporting the family and the other not still does.

    Every significance test of the comparison (each metric's, and each cost metric's per unit of
    work) is one family: their p-values are adjusted together (Benjamini-Hochberg) and significance
    is judged on the adjusted ones. With ``options.load_aware`` each cost metric
    (:attr:`MetricSpec.per_unit`) is also judged per unit of work, and its regression is labelled.

    Keys that are not in the catalogue are not judged: nothing here guesses a metric's meaning. An
    absent counter read as zero is the collector's business (``absent_is_zero``), not this one's.
    """
    specs = [spec for spec in catalogue if spec.key in old or spec.key in new]
    reporting = {
        spec.family
        for spec in specs
        for side in (old, new)
        if spec.family and (summary := side.get(spec.key)) is not None and summary.status is MetricStatus.OK
    }
    stat = options.statistic
    jobs: list[tuple[MetricSpec, MetricSummary | None, MetricSummary | None]] = [
        (spec, old.get(spec.key), new.get(spec.key)) for spec in specs
    ]
    per_unit_of: dict[int, str] = {}
    if options.load_aware:
        for spec in specs:
            derived = per_unit_spec(spec)
            if derived is None or spec.per_unit is None:
                continue
            per = spec.per_unit
            old_per = _per_unit_summary(old.get(spec.key), old.get(per.metric), per, derived.unit, derived.key)
            new_per = _per_unit_summary(new.get(spec.key), new.get(per.metric), per, derived.unit, derived.key)
            if old_per is None or new_per is None:
                continue
            per_unit_of[len(jobs)] = spec.key
            jobs.append((derived, old_per, new_per))
    outcomes = [_test_outcome(spec, o, n, stat) for spec, o, n in jobs]
    tested = [i for i, outcome in enumerate(outcomes) if isinstance(outcome, MannWhitneyResult)]
    adjusted = benjamini_hochberg([outcomes[i].p_value for i in tested])  # type: ignore[union-attr]
    p_of = dict(zip(tested, adjusted, strict=True))
    judged = [
        _judge(
            spec,
            o,
            n,
            options,
            outcomes[i],
            p_of.get(i),
            len(tested),
            family_absent=spec.family is not None and spec.family not in reporting,
        )
        for i, (spec, o, n) in enumerate(jobs)
    ]
    per_unit = {per_unit_of[i]: judged[i] for i in per_unit_of}
    out: list[TelemetryDiff] = []
    for spec, diff in zip(specs, judged[: len(specs)], strict=True):
        if options.load_aware and spec.per_unit is not None:
            diff = _label_by_load(diff, per_unit.get(spec.key), spec.per_unit.words)
        out.append(diff)
    return order_diffs(out)


# --- ordering, selection, verdict --------------------------------------------------------------


def filter_diffs(diffs: Iterable[TelemetryDiff], include_all: bool = False) -> list[TelemetryDiff]:
    """Keep changes beyond their threshold (significant or not) and no data; everything if ``include_all``."""
    return [d for d in diffs if include_all or d.beyond_threshold or d.direction is Direction.NO_DATA]


def describe_change(diff: TelemetryDiff) -> str:
    """``persistence_latency_p99 +312 %``, ``backlog_age x5,064`` or ``occ_conflicts_per_sec from none to 2.1/s``,
    followed by a cost regression's load label in brackets."""
    if diff.change_pct is not None:
        text = f"{diff.metric} {format_change(diff.change_pct)}"
    elif diff.direction is Direction.NO_DATA:
        text = f"{diff.metric} no data"
    elif diff.beyond_threshold and diff.new_value is not None:
        text = f"{diff.metric} from none to {format_value(diff.new_value, diff.unit)}"
    else:
        text = f"{diff.metric} unchanged"
    if diff.load_label is not None:
        text += f" ({diff.load_label.value})"
    return text


def _name_list(items: Sequence[str], top: int = SUMMARY_TOP) -> str:
    shown = ", ".join(items[:top])
    more = len(items) - top
    return f"{shown} and {more} more" if more > 0 else shown


def _plural(count: int, word: str) -> str:
    return f"{count} {word}" if count == 1 else f"{count} {word}s"


def missing_key_metrics(diffs: Iterable[TelemetryDiff]) -> list[str]:
    """The key metrics whose missing data holds the verdict (not those of a family neither side exports)."""
    return [d.metric for d in diffs if d.direction is Direction.NO_DATA and d.counts_toward_verdict]


def verdict_and_summary(diffs: Iterable[TelemetryDiff]) -> tuple[Verdict, str]:
    """The verdict over all judged diffs, and one plain sentence naming it and the top regressions.

    fail: a counted critical regression; else inconclusive: a key metric without data on a side;
    else warn: a counted (warning) regression; else pass. Give this every diff, not a filtered list.
    """
    ordered = order_diffs(diffs)
    regressions = [d for d in ordered if d.direction is Direction.REGRESSED and d.counts_toward_verdict]
    missing = missing_key_metrics(ordered)
    uncounted = Counter(_why_uncounted(d) for d in ordered if d.beyond_threshold and not d.counts_toward_verdict)

    if any(d.severity is Severity.CRITICAL for d in regressions):
        verdict = Verdict.FAIL
    elif missing:
        verdict = Verdict.INCONCLUSIVE
    elif regressions:
        verdict = Verdict.WARN
    else:
        verdict = Verdict.PASS

    regressed = ""
    if regressions:
        # the sentence names key metrics first (stable: otherwise in diff order), so a headline such as
        # p99 persistence latency is not pushed out by a side counter that went "from none"
        named = sorted(regressions, key=lambda d: not d.key_metric)
        regressed = (
            f"{_plural(len(regressions), 'metric')} regressed beyond threshold: "
            f"{_name_list([describe_change(d) for d in named])}"
        )
    no_data = f"no data for key {'metric' if len(missing) == 1 else 'metrics'} {_name_list(missing)}"
    if verdict is Verdict.FAIL:
        sentence = f"Fail: {regressed}" + (f"; {no_data}" if missing else "")
    elif verdict is Verdict.WARN:
        sentence = f"Warn: {regressed}"
    elif verdict is Verdict.INCONCLUSIVE:
        rest = regressed if regressions else "nothing with data regressed beyond its threshold"
        sentence = f"Inconclusive: {no_data}; {rest}"
    else:
        improved = sum(1 for d in ordered if d.direction is Direction.IMPROVED and d.counts_toward_verdict)
        sentence = "Pass: no metric regressed beyond its threshold"
        if improved:
            sentence += f", {_plural(improved, 'metric')} improved"
    if len(uncounted) == 1:
        ((why, n),) = uncounted.items()
        sentence += f" ({_plural(n, 'change')} beyond threshold {why}, not counted)"
    elif uncounted:
        whys = ", ".join(f"{n} {why}" for why, n in sorted(uncounted.items(), key=lambda item: (-item[1], item[0])))
        sentence += f" ({_plural(uncounted.total(), 'change')} beyond threshold not counted: {whys})"
    return verdict, sentence + "."


def _why_uncounted(diff: TelemetryDiff) -> str:
    """Why a change beyond its threshold does not count toward the verdict, in a few words."""
    if diff.load_label is LoadLabel.EXPLAINED_BY_LOAD:
        return "explained by load"
    if diff.evidence is not None and not diff.evidence.significant:
        return "not statistically significant"
    return "under the metric's warning level"


# --- configuration -----------------------------------------------------------------------------


def _constraint_suffix(constraints: Mapping[Any, Any]) -> str:
    if not constraints:
        return ""
    pairs = sorted((str(k), v) for k, v in constraints.items())
    return "[" + ",".join(f"{k}={v}" for k, v in pairs) + "]"


def _dynamic_entries(value: Any) -> list[tuple[str, Any]] | None:
    """``[(constraint suffix, value)]`` for Temporal's ``[{value, constraints}]``, or None if not that shape."""
    if not isinstance(value, list) or not value:
        return None
    entries: list[tuple[str, Any]] = []
    seen: set[str] = set()
    for item in value:
        if not isinstance(item, Mapping) or "value" not in item:
            return None
        constraints = item.get("constraints") or {}
        if not isinstance(constraints, Mapping):
            return None
        suffix = _constraint_suffix(constraints)
        if suffix in seen:
            continue  # Temporal uses the first entry whose constraints match
        seen.add(suffix)
        entries.append((suffix, item["value"]))
    return entries


def _flatten_nested(prefix: str, data: Mapping[Any, Any], out: dict[str, Any]) -> None:
    for name, value in data.items():
        key = f"{prefix}.{name}"
        if isinstance(value, Mapping) and value:
            _flatten_nested(key, value, out)
        else:
            out[key] = value


def flatten_config_part(part: str, data: Mapping[Any, Any]) -> dict[str, Any]:
    """Flatten one snapshot part into ``{part}.{key}`` -> value.

    Dynamic config entries become one key per constraint set, e.g.
    ``dynamic_config.history.persistenceMaxQPS`` and
    ``dynamic_config.matching.numTaskqueueReadPartitions[namespace=default,taskQueueName=orders]``;
    other parts flatten nested mappings with dots. Lists are compared whole.
    """
    out: dict[str, Any] = {}
    if part != "dynamic_config":
        _flatten_nested(part, data, out)
        return out
    for name, value in data.items():
        key = f"{part}.{name}"
        entries = _dynamic_entries(value)
        if entries is None:
            out[key] = value
            continue
        for suffix, entry_value in entries:
            out[key + suffix] = entry_value
    return out


def classify_config_key(name: str) -> str | None:
    """``sql_pool``, ``dsql_reservoir``, ``persistence``, ``matching``, ``worker`` or None.

    ``name`` is the key within its part (no part prefix, no constraint suffix); its last dotted
    segment is tried too, so nested worker options are found.
    """
    candidates = (name.lower(), name.rsplit(".", 1)[-1].lower())
    for label, keys in _CLASSIFICATIONS:
        if any(c in keys for c in candidates):
            return label
    return None


def _redacted(value: Any) -> re.Match[str] | None:
    return _REDACTED_RE.fullmatch(value) if isinstance(value, str) else None


def _mask(value: Any) -> Any:
    """The value as shown: every redacted string loses its fingerprint."""
    if _redacted(value):
        return REDACTED
    if isinstance(value, Mapping):
        return {k: _mask(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_mask(v) for v in value]
    return value


def _same(old: Any, new: Any) -> bool:
    old_secret, new_secret = _redacted(old), _redacted(new)
    if old_secret and new_secret:
        old_print, new_print = old_secret.group(1), new_secret.group(1)
        # without a fingerprint on both sides a change cannot be seen, so none is claimed
        return old_print is None or new_print is None or old_print == new_print
    if isinstance(old, bool) or isinstance(new, bool):
        return type(old) is type(new) and old == new
    if isinstance(old, Mapping) and isinstance(new, Mapping):
        return old.keys() == new.keys() and all(_same(old[k], new[k]) for k in old)
    if isinstance(old, list | tuple) and isinstance(new, list | tuple):
        return len(old) == len(new) and all(_same(o, n) for o, n in zip(old, new, strict=True))
    same: bool = old == new
    return same


def _part_name(part: str, key: str) -> str:
    name = key[len(part) + 1 :]
    return name.split("[", 1)[0] if part == "dynamic_config" else name


def config_diffs(a: ConfigSnapshot, b: ConfigSnapshot) -> list[ConfigDiff]:
    """Added, removed and changed keys of every part collected on both sides, by part then key.

    Redacted values are compared by fingerprint and always shown as ``<redacted>``.
    """
    diffs: list[ConfigDiff] = []
    for part in CONFIG_PARTS:
        old_part: Mapping[Any, Any] | None = getattr(a, part)
        new_part: Mapping[Any, Any] | None = getattr(b, part)
        if old_part is None or new_part is None:
            continue
        old_flat, new_flat = flatten_config_part(part, old_part), flatten_config_part(part, new_part)
        for key in sorted(old_flat.keys() | new_flat.keys()):
            if key not in new_flat:
                change, old_value, new_value = ChangeKind.REMOVED, old_flat[key], None
            elif key not in old_flat:
                change, old_value, new_value = ChangeKind.ADDED, None, new_flat[key]
            elif _same(old_flat[key], new_flat[key]):
                continue
            else:
                change, old_value, new_value = ChangeKind.CHANGED, old_flat[key], new_flat[key]
            diffs.append(
                ConfigDiff(
                    key=key,
                    part=part,
                    change=change,
                    old_value=_mask(old_value),
                    new_value=_mask(new_value),
                    classification=classify_config_key(_part_name(part, key)),
                )
            )
    return diffs


def config_notes(a: ConfigSnapshot, b: ConfigSnapshot, *, sides: Sides = ("profile A", "profile B")) -> list[str]:
    """One note per part that was not collected on a side (named by ``sides``), since its keys were not
    compared."""
    notes: list[str] = []
    for part in CONFIG_PARTS:
        missing = [side for side, snap in zip(sides, (a, b), strict=True) if getattr(snap, part) is None]
        if not missing:
            continue
        where = "either profile" if len(missing) == 2 else missing[0]
        notes.append(f"{part} was not collected for {where}, so its keys were not compared")
    return notes


# --- versions and profiles ---------------------------------------------------------------------


def version_diffs(a: VersionIdentity, b: VersionIdentity) -> list[VersionDiff]:
    """The components whose versions differ, with the actual old and new strings (None when unknown)."""
    diffs: list[VersionDiff] = []
    for component in VERSION_COMPONENTS:
        old: str | None = getattr(a, component)
        new: str | None = getattr(b, component)
        if old != new:
            diffs.append(VersionDiff(component=component, old_version=old, new_version=new))
    return diffs


def window_length_note(
    a_start: datetime, a_end: datetime, b_start: datetime, b_end: datetime, *, sides: Sides = ("A", "B")
) -> str | None:
    """A note when the windows' lengths differ by more than 10 % of the shorter one (sides named by ``sides``)."""
    a_len, b_len = a_end - a_start, b_end - b_start
    shorter = min(a_len, b_len)
    if abs(a_len - b_len) <= shorter * WINDOW_LENGTH_TOLERANCE:
        return None
    old_side, new_side = sides
    return (
        f"The windows differ in length ({old_side} {format_span(a_len)}, {new_side} {format_span(b_len)}): "
        "rates are per second and percentiles are over each whole window, so values compare fairly, "
        "but a longer window smooths out short bursts"
    )


def _scope_notes(a: BehaviourProfile, b: BehaviourProfile) -> list[str]:
    notes: list[str] = []
    for field, label in (("cluster_id", "clusters"), ("namespace", "namespaces"), ("task_queue", "task queues")):
        old, new = getattr(a, field), getattr(b, field)
        if old != new:
            notes.append(f"The profiles cover different {label} (A {old or 'all'}, B {new or 'all'})")
    return notes


def compare_profiles(a: BehaviourProfile, b: BehaviourProfile, options: CompareOptions) -> ProfileComparison:
    """Compare profile ``a`` (old) with profile ``b`` (new).

    The verdict and summary are judged over every metric; ``telemetry_diffs`` holds those beyond
    their threshold and those without data, or all of them with ``options.include_all``;
    ``correlations`` connects the configuration changes to the regressions they are known to influence.
    """
    old_metrics, new_metrics = dict(a.telemetry.metrics), dict(b.telemetry.metrics)
    trims: list[SteadyStateTrim] = []
    if options.trim_steady_state:
        old_metrics, old_trim = trim_to_steady_state(old_metrics, side="A")
        new_metrics, new_trim = trim_to_steady_state(new_metrics, side="B")
        trims = [t for t in (old_trim, new_trim) if t is not None]
    judged = judge_telemetry(old_metrics, new_metrics, options)
    verdict, summary = verdict_and_summary(judged)
    load = load_comparison(old_metrics, new_metrics, options)

    # offered load that differs is said first: it changes how every cost is read
    notes = [load.statement] if load is not None and load.differs else []
    notes += [t.statement for t in trims]
    notes += _scope_notes(a, b)
    window = window_length_note(a.time_window_start, a.time_window_end, b.time_window_start, b.time_window_end)
    if window is not None:
        notes.append(window)
    unknown = sorted((a.telemetry.metrics.keys() | b.telemetry.metrics.keys()) - BY_KEY.keys())
    if unknown:
        notes.append(f"Metrics not in the catalogue were not judged: {', '.join(unknown)}")
    notes.extend(config_notes(a.config, b.config))
    notes.extend(dict.fromkeys([*a.telemetry.notes, *b.telemetry.notes]))

    diffs = config_diffs(a.config, b.config)
    return ProfileComparison(
        profile_a_id=str(a.id),
        profile_b_id=str(b.id),
        statistic=options.statistic,
        thresholds_pct={cls: options.threshold_for(cls) for cls in ThresholdClass},
        config_diffs=diffs,
        telemetry_diffs=filter_diffs(judged, options.include_all),
        version_diffs=version_diffs(a.versions, b.versions),
        verdict=verdict,
        summary=summary,
        notes=notes,
        load=load,
        trims=trims,
        correlations=correlate(diffs, judged),
        attributions=attribute_regressions(judged, old_metrics, new_metrics),
    )
