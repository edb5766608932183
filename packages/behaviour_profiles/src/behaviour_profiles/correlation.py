"""Configuration changes connected to the regressions they are known to influence (pure).

A changed setting is connected to every counted regression whose catalogue entry lists it among the
settings that influence the metric (:attr:`~behaviour_profiles.catalogue.MetricSpec.influences`, the one
place that says so). Config diff keys carry their snapshot part
(``environment.TEMPORAL_SQL_MAX_CONNS``, ``dsql_plugin.TEMPORAL_SQL_MAX_CONNS``,
``dynamic_config.history.persistenceMaxQPS[namespace=default]``, ``worker_options.orders.MaxConcurrent...``);
:func:`setting_name` reduces them to the catalogue's bare names (case-insensitively, as Temporal reads
dynamic config keys). The same setting seen in two parts (the environment and the DSQL plugin view of
it) is one change. Where the metric's entry declares the direction of the setting's effect (raising it
worsens or improves the metric), the correlation says whether the change went the way that causes the
regression (``expected``), the other way (``contrary``), or that the setting influences the metric in a
way not known here (``possible``). The output is sorted, so the same inputs always give the same list.

This module sits below :mod:`~behaviour_profiles.comparison` and :mod:`~behaviour_profiles.drift`:
both call :func:`correlate` on the diffs they judged, and neither finishes the other's answer.

Usage::

    links = correlate(config_diffs(a.config, b.config), judge_telemetry(old, new, options))
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from behaviour_profiles.catalogue import CATALOGUE, Influence, MetricSpec, Raising
from behaviour_profiles.formatting import format_change, format_value
from behaviour_profiles.models import (
    ChangeKind,
    ConfigDiff,
    Correlation,
    CorrelationRelation,
    Direction,
    TelemetryDiff,
)
from behaviour_profiles.ordering import order_diffs
from behaviour_profiles.snapshot import parse_duration

__all__ = ["cause_text", "change_direction", "correlate", "setting_name"]

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


def _relation(influence: Influence, direction: str) -> tuple[CorrelationRelation, str | None]:
    """From the declared influence: did the change go the way that worsens the metric?"""
    if influence.raising is None:
        return CorrelationRelation.POSSIBLE, None
    raised = _RAISED.get(direction)
    if raised is None:
        return CorrelationRelation.POSSIBLE, influence.mechanism
    worsens = raised == (influence.raising is Raising.WORSENS)
    return (CorrelationRelation.EXPECTED if worsens else CorrelationRelation.CONTRARY), influence.mechanism


def _why(relation: CorrelationRelation, mechanism: str | None, setting: str, metric: str) -> str:
    """What follows the cause in a statement: why the change and the regression are linked."""
    if relation is CorrelationRelation.EXPECTED:
        return f"; expected: {mechanism}"
    if relation is CorrelationRelation.CONTRARY:
        return f"; contrary: a change this way usually helps: {mechanism}"
    return f"; {setting} is known to influence {metric}, direction not known"


def cause_text(correlation: Correlation) -> str:
    """A correlation's statement without why the two are linked: ``changed X from a to b -> Y regressed by
    n % (old -> new)``."""
    why = _why(correlation.relation, correlation.mechanism, correlation.setting, correlation.metric)
    return correlation.statement.removesuffix(why)


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
    :func:`~behaviour_profiles.ordering.order_diffs`); then the setting. Regressions that do not
    count toward the verdict (not significant) are left out.
    """
    specs = {spec.key: spec for spec in catalogue}
    influence_of = {
        key: {influence.setting.lower(): influence for influence in spec.influences} for key, spec in specs.items()
    }
    known = {setting: i.setting for by_setting in influence_of.values() for setting, i in by_setting.items()}
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
            influence = influence_of[diff.metric].get(change.setting.lower())
            if influence is None:
                continue
            relation, mechanism = _relation(influence, direction)
            cause = f"{_change_text(change)} -> {_regression_text(diff)}"
            statement = cause + _why(relation, mechanism, change.setting, diff.metric)
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
