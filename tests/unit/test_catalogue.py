"""The catalogue's entries: keyword-only, and what influences a metric declared once on it."""

from __future__ import annotations

from typing import Any

import pytest

from behaviour_profiles.catalogue import (
    BY_KEY,
    CATALOGUE,
    Direct,
    GaugeAgg,
    Influence,
    MetricSpec,
    Raising,
    Remedy,
    Term,
    same,
)
from behaviour_profiles.models import Better, Category, ThresholdClass

FIELDS: dict[str, Any] = {
    "key": "made_up",
    "category": Category.RESOURCES,
    "title": "Made up",
    "unit": "1/s",
    "better": Better.LOWER,
    "threshold_class": ThresholdClass.CAPACITY,
    "noise_floor": 0.01,
    "computation": Direct(GaugeAgg((Term(same("made_up")),))),
}


def test_an_entry_is_built_by_keyword_only() -> None:
    assert MetricSpec(**FIELDS).influenced_by == ()
    with pytest.raises(TypeError):
        MetricSpec(*FIELDS.values())  # type: ignore[call-arg]


def test_an_entry_refuses_a_setting_twice_and_a_remedy_by_a_setting_that_does_not_influence_it() -> None:
    with pytest.raises(ValueError, match="declared twice"):
        MetricSpec(**FIELDS, influences=(Influence(setting="A"), Influence(setting="A")))
    with pytest.raises(ValueError, match="do not influence it: \\['B'\\]"):
        MetricSpec(**FIELDS, influences=(Influence(setting="A"),), remedy=Remedy(settings=("A", "B"), why="w"))
    with pytest.raises(ValueError, match="mechanism"):
        Influence(setting="A", raising=Raising.IMPROVES)


def test_effects_are_the_influences_with_a_known_direction() -> None:
    for spec in CATALOGUE:
        assert spec.effects == tuple(i for i in spec.influences if i.raising is not None)
        assert spec.influenced_by == tuple(i.setting for i in spec.influences)
        if spec.remedy is not None:
            assert set(spec.remedy.settings) <= set(spec.influenced_by)


def test_what_a_remedy_says_correlation_reads_the_same_way() -> None:
    # the reservoir the persistence-latency recommendation suggests also explains a persistence-latency
    # regression: both read the one declaration on the metric
    latency = BY_KEY["persistence_latency_p99"]
    assert latency.remedy is not None and "DSQL_RESERVOIR_TARGET_READY" in latency.remedy.settings
    effect = {e.setting: e.raising for e in latency.effects}
    assert effect["DSQL_RESERVOIR_TARGET_READY"] is Raising.IMPROVES
    assert effect["DSQL_RESERVOIR_ENABLED"] is Raising.IMPROVES
