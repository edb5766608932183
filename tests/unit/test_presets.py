"""The scale presets as data: ranges, bounds, settings, and calibration against the simulator."""

from __future__ import annotations

import itertools
import math
import subprocess
import sys

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from behaviour_profiles.catalogue import BY_KEY, CATALOGUE
from behaviour_profiles.conformance import check_conformance
from behaviour_profiles.models import ExpectedBound, MetricStatus, MetricSummary, ProfileCreate, ScalePreset
from behaviour_profiles.presets import (
    PRESETS,
    THROUGHPUT_METRIC,
    preset_for_throughput,
    throughput_range,
)
from copilot.dev.simulator import SCENARIOS, Scenario

BOUNDED = {
    "state_transitions_per_sec",
    "workflow_schedule_to_start_p99",
    "activity_schedule_to_start_p95",
    "backlog_age",
    "activity_failure_rate",
    "sync_match_rate",
    "persistence_latency_p99",
    "occ_conflicts_per_sec",
    "exhausted_retries_per_sec",
    "reservoir_fill",
    "worker_task_slot_utilization",
}


def test_three_presets_in_ascending_order() -> None:
    assert list(PRESETS) == ["starter", "mid-scale", "high-throughput"]


def test_models_know_the_preset_names_without_importing_the_presets() -> None:
    code = (
        "import sys, behaviour_profiles.models as m; print(m.PRESET_NAMES, 'behaviour_profiles.presets' in sys.modules)"
    )
    shown = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert shown == f"{tuple(PRESETS)} False"
    body = {"name": "n", "cluster_id": "c", "preset": "huge"}
    window = {"time_window_start": "2026-02-18T10:00:00Z", "time_window_end": "2026-02-18T11:00:00Z"}
    with pytest.raises(ValidationError, match="choose one of starter, mid-scale, high-throughput"):
        ProfileCreate.model_validate(body | window)


def test_throughput_ranges_are_contiguous_and_never_overlap() -> None:
    ranges = [throughput_range(p) for p in PRESETS.values()]
    assert ranges[0][0] == 0.0 and math.isinf(ranges[-1][1])
    for (low, high), (next_low, _) in itertools.pairwise(ranges):
        assert low < high == next_low


@given(st.floats(min_value=0, max_value=1e7, allow_nan=False))
def test_every_throughput_fits_exactly_one_preset(value: float) -> None:
    holding = [p for p in PRESETS.values() if throughput_range(p)[0] <= value < throughput_range(p)[1]]
    assert len(holding) == 1
    assert preset_for_throughput(value) == holding[0]


@pytest.mark.parametrize(
    ("value", "name"), [(0.0, "starter"), (49.99, "starter"), (50.0, "mid-scale"), (300.0, "high-throughput")]
)
def test_range_edges_are_half_open(value: float, name: str) -> None:
    preset = preset_for_throughput(value)
    assert preset is not None and preset.name == name


@pytest.mark.parametrize("value", [-1.0, math.nan, math.inf])
def test_no_preset_for_impossible_throughput(value: float) -> None:
    assert preset_for_throughput(value) is None


@pytest.mark.parametrize("preset", PRESETS.values(), ids=list(PRESETS))
def test_every_preset_bounds_the_required_metrics_with_warning_bands(preset: ScalePreset) -> None:
    assert preset.throughput.metric == THROUGHPUT_METRIC
    metrics = [b.metric for b in preset.bounds]
    assert set(metrics) == BOUNDED and len(metrics) == len(set(metrics))
    for bound in (preset.throughput, *preset.bounds):
        assert bound.metric in BY_KEY
        assert bound.warn_min is not None or bound.warn_max is not None, bound.metric
        assert bound.why


@pytest.mark.parametrize("preset", PRESETS.values(), ids=list(PRESETS))
def test_preset_settings_are_real_configuration_keys(preset: ScalePreset) -> None:
    influencers = {key for spec in CATALOGUE for key in spec.influenced_by}
    for setting in preset.settings:
        assert setting.key in influencers, setting.key
        assert setting.part in ("environment", "dynamic_config", "worker_options")
    remedied = [spec for spec in CATALOGUE if spec.remedy is not None]
    assert remedied
    for spec in remedied:
        assert spec.remedy is not None
        assert spec.key in {b.metric for b in preset.bounds}
        assert set(spec.remedy.settings) <= {s.key for s in preset.settings}


@pytest.mark.parametrize(
    "fields",
    [
        {"min": 10.0, "warn_min": 5.0},  # warning band outside the limit
        {"warn_max": 10.0, "max": 5.0},
        {"min": 1.0},  # a limit without its warning band
        {"max": 1.0},
        {"warn_min": 5.0, "warn_max": 1.0},
    ],
)
def test_malformed_bounds_are_refused(fields: dict[str, float]) -> None:
    with pytest.raises(ValidationError):
        ExpectedBound(metric="sync_match_rate", **fields)


# --- calibration: the simulator's scenarios against the presets ---------------------------------


def summary(key: str, value: float) -> MetricSummary:
    return MetricSummary(
        key=key, status=MetricStatus.OK, unit=BY_KEY[key].unit, mean=value, p50=value, p95=value, p99=value
    )


def expected_telemetry(scenario: Scenario, load: float = 1.0) -> dict[str, MetricSummary]:
    """What a profile of the scenario reads, from its parameters (percentiles as the simulator sets them)."""
    values = {
        THROUGHPUT_METRIC: scenario.wps * load,
        "state_transitions_per_sec": scenario.wps
        * load
        * (scenario.success_ratio + scenario.failure_ratio)
        * scenario.transitions_per_close,
        "workflow_schedule_to_start_p99": scenario.workflow_schedule_to_start.p99_ms,
        # the lognormal's p95: median x exp(1.645 sigma)
        "activity_schedule_to_start_p95": scenario.activity_schedule_to_start.median_ms
        * math.exp(1.6448536 * scenario.activity_schedule_to_start.sigma),
        "backlog_age": sum(scenario.backlog_age_s) / 2,
        "activity_failure_rate": scenario.activity_failure_ratio,
        "sync_match_rate": scenario.sync_match_ratio,
        "persistence_latency_p99": scenario.persistence.p99_ms,
        "occ_conflicts_per_sec": scenario.tx_conflicts_per_s,
        "exhausted_retries_per_sec": scenario.tx_exhausted_per_s,
        "reservoir_fill": sum(scenario.reservoir_fill) / 2,
        "worker_task_slot_utilization": scenario.slot_utilization,
    }
    return {key: summary(key, value) for key, value in values.items()}


@pytest.mark.parametrize("load", [1.0, 0.4])
def test_healthy_150wps_conforms_to_mid_scale(load: float) -> None:
    result = check_conformance(expected_telemetry(SCENARIOS["healthy-150wps"], load), PRESETS["mid-scale"])
    assert result.conforming, result.summary


def test_failing_400wps_fails_mid_scale_on_the_injected_metrics() -> None:
    result = check_conformance(expected_telemetry(SCENARIOS["failing-400wps"]), PRESETS["mid-scale"])
    assert not result.conforming
    assert set(result.failing) == BOUNDED - {"state_transitions_per_sec"} | {THROUGHPUT_METRIC}
    at_its_own_scale = check_conformance(expected_telemetry(SCENARIOS["failing-400wps"]), PRESETS["high-throughput"])
    assert {"persistence_latency_p99", "sync_match_rate", "reservoir_fill"} <= set(at_its_own_scale.failing)
