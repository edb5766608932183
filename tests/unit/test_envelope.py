"""The capacity envelope: ordering by offered load, the breaking point, the first bound broken, the knee."""

from __future__ import annotations

import random
from datetime import timedelta
from uuid import UUID

import pytest
from hypothesis import given
from hypothesis import strategies as st

from behaviour_profiles.envelope import COMPLETED_METRIC, capacity_envelope, find_knee
from behaviour_profiles.errors import InvalidRequest
from behaviour_profiles.models import BehaviourProfile, BoundStatus, EnvelopeStepStatus, MetricSummary, ThresholdClass
from behaviour_profiles.presets import PRESETS, THROUGHPUT_METRIC
from tests.unit.test_conformance import HEALTHY, T0, metrics, no_data, profile

MID = PRESETS["mid-scale"]
TRANSITIONS_PER_START = 7.88
"""healthy-150wps: 0.985 closes per start, 8 transitions per close."""


def step(load: float, n: int, **overrides: float | MetricSummary) -> BehaviourProfile:
    """A healthy step at ``load`` workflows/s: transitions and completions follow the load."""
    values = {
        **HEALTHY,
        THROUGHPUT_METRIC: load,
        COMPLETED_METRIC: load * 0.985,
        "state_transitions_per_sec": load * TRANSITIONS_PER_START,
    }
    summaries = {k: v for k, v in overrides.items() if isinstance(v, MetricSummary)}
    values.update({k: v for k, v in overrides.items() if not isinstance(v, MetricSummary)})
    return profile(metrics(values, **summaries)).model_copy(
        update={
            "id": UUID(int=n),
            "name": f"{load:g} wps",
            "time_window_start": T0 + timedelta(hours=n),
            "time_window_end": T0 + timedelta(hours=n, minutes=30),
        }
    )


SWEEP = [100.0, 200.0, 300.0, 400.0, 500.0, 600.0]


def test_a_healthy_sweep_breaks_where_state_transitions_leave_the_preset() -> None:
    # mid-scale fails transitions at 4,500/s: 571 workflows/s for healthy-150wps's 7.88 per start
    profiles = [step(load, i) for i, load in enumerate(SWEEP)]
    random.Random(3).shuffle(profiles)

    envelope = capacity_envelope(profiles, preset=MID)

    assert [s.offered_load for s in envelope.steps] == SWEEP
    assert envelope.safe_load == 500.0 and envelope.breaking_load == 600.0
    assert envelope.breaking_profile_id == str(UUID(int=5))
    assert [b.metric for b in envelope.first_broken] == ["state_transitions_per_sec"]
    broken = envelope.first_broken[0]
    assert broken.limit == 4500.0 and broken.status is BoundStatus.FAIL
    assert broken.overshoot_pct == pytest.approx((600 * TRANSITIONS_PER_START - 4500) / 4500 * 100)
    # the warning band (3,000/s) is crossed at 400 and 500: still held, with the warning listed
    assert [s.status for s in envelope.steps] == [
        *[EnvelopeStepStatus.HELD] * 3,
        EnvelopeStepStatus.WARN,
        EnvelopeStepStatus.WARN,
        EnvelopeStepStatus.BROKEN,
    ]
    assert envelope.knee_load is None
    assert "Held up to 500/s; broke at 600/s" in envelope.summary
    assert "first state_transitions_per_sec" in envelope.summary


def test_the_preset_throughput_range_is_the_axis_not_a_bound() -> None:
    envelope = capacity_envelope([step(100.0, 0), step(400.0, 1)], preset=MID)  # 400 is beyond mid-scale's range
    assert envelope.breaking_load is None
    assert THROUGHPUT_METRIC not in {b.metric for s in envelope.steps for b in s.breaches}
    charted = {m.metric: m for m in envelope.metrics}
    assert charted["persistence_latency_p99"].bound is not None
    assert charted[THROUGHPUT_METRIC].bound is None


def test_the_metric_furthest_beyond_its_limit_is_named_first() -> None:
    # at 300: persistence p99 150 ms (25 % past 120) and sync match 0.35 (50 % under 0.7)
    profiles = [step(100.0, 0), step(200.0, 1), step(300.0, 2, persistence_latency_p99=150.0, sync_match_rate=0.35)]
    envelope = capacity_envelope(profiles, preset=MID)
    assert envelope.safe_load == 200.0
    assert [b.metric for b in envelope.first_broken] == ["sync_match_rate", "persistence_latency_p99"]


def test_no_data_on_a_bounded_metric_stops_the_envelope_and_is_never_a_pass() -> None:
    profiles = [step(100.0, 0), step(200.0, 1, reservoir_fill=no_data("reservoir_fill")), step(300.0, 2)]
    envelope = capacity_envelope(profiles, preset=MID)
    assert envelope.steps[1].status is EnvelopeStepStatus.INCONCLUSIVE
    assert envelope.safe_load == 100.0 and envelope.breaking_load == 200.0
    assert [(b.metric, b.status) for b in envelope.first_broken] == [("reservoir_fill", BoundStatus.NO_DATA)]
    assert "never a pass" in envelope.summary


def test_a_sweep_broken_from_its_lightest_step_has_no_safe_load() -> None:
    envelope = capacity_envelope([step(100.0, 0, backlog_age=60.0), step(200.0, 1)], preset=MID)
    assert envelope.safe_load is None and envelope.breaking_load == 100.0
    assert envelope.summary.startswith("Did not hold even at the lightest step")
    assert "held again" in envelope.notes[0]


def test_the_knee_is_where_throughput_stops_keeping_pace() -> None:
    profiles = [
        step(100.0, 0),
        step(200.0, 1),
        step(300.0, 2),
        step(400.0, 3, **{COMPLETED_METRIC: 320.0}),
        step(500.0, 4, **{COMPLETED_METRIC: 330.0}),
    ]
    envelope = capacity_envelope(profiles, preset=MID)
    assert envelope.knee_load == 300.0
    assert envelope.knee_profile_id == str(UUID(int=2))
    assert "stopped keeping pace after 300/s" in envelope.summary


@pytest.mark.parametrize(
    ("points", "knee"),
    [
        ([(1, 1), (2, 2)], None),
        ([(1, 1), (2, 2), (3, 3), (4, 4)], None),
        ([(1, 1), (2, 2), (3, 2.2)], 1),
        ([(1, 1), (2, 2), (3, 2.6), (4, 2.7)], 2),
        ([(1, 2), (2, 1), (3, 0)], None),  # no rising reference
        ([(1, 0.1), (999.9999999999999, 100.0), (1000.0, 100.0)], None),  # the last two are one load
        ([(100, 100), (100.5, 90), (200, 200), (300, 220)], 2),  # a near-repeat starts no segment
    ],
)
def test_find_knee(points: list[tuple[float, float]], knee: int | None) -> None:
    assert find_knee(points) == knee


@given(
    st.lists(st.floats(min_value=1, max_value=1000), min_size=3, max_size=12, unique=True),
    st.floats(min_value=0.1, max_value=5),
)
def test_a_proportional_curve_has_no_knee(loads: list[float], efficiency: float) -> None:
    xs = sorted(loads)
    assert find_knee([(x, x * efficiency) for x in xs]) is None


@given(st.lists(st.sampled_from(["ok", "warn", "fail", "none"]), min_size=2, max_size=8))
def test_every_step_below_the_breaking_point_held(kinds: list[str]) -> None:
    latency = {"ok": 30.0, "warn": 90.0, "fail": 200.0}
    profiles = [
        step(
            100.0 + 10 * i,
            i,
            persistence_latency_p99=no_data("persistence_latency_p99") if kind == "none" else latency[kind],
        )
        for i, kind in enumerate(kinds)
    ]
    envelope = capacity_envelope(profiles, preset=MID)
    first_bad = next((i for i, k in enumerate(kinds) if k in ("fail", "none")), None)
    if first_bad is None:
        assert (
            envelope.breaking_load is None
            and envelope.safe_load == profiles[-1].telemetry.metrics[THROUGHPUT_METRIC].mean
        )
    else:
        assert envelope.breaking_load == 100.0 + 10 * first_bad
        assert envelope.safe_load == (None if first_bad == 0 else 100.0 + 10 * (first_bad - 1))
        assert envelope.first_broken[0].metric == "persistence_latency_p99"


def test_thresholds_mode_judges_each_step_against_the_lightest() -> None:
    profiles = [step(100.0, 0), step(200.0, 1), step(300.0, 2, persistence_latency_p99=37.0 * 2)]
    envelope = capacity_envelope(profiles)
    assert envelope.mode == "thresholds" and envelope.preset is None
    assert envelope.safe_load == 200.0 and envelope.breaking_load == 300.0
    assert envelope.first_broken[0].metric == "persistence_latency_p99"
    assert envelope.first_broken[0].limit == 37.0
    assert envelope.first_broken[0].overshoot_pct == pytest.approx(100.0)
    # a looser latency threshold holds the same step
    loose = capacity_envelope(profiles, thresholds_pct={ThresholdClass.LATENCY: 300.0})
    assert loose.breaking_load is None


def test_refuses_profiles_of_several_namespaces() -> None:
    other = step(200.0, 1).model_copy(update={"namespace": "payments"})
    with pytest.raises(InvalidRequest, match="several clusters or namespaces"):
        capacity_envelope([step(100.0, 0), other], preset=MID)


def test_refuses_a_profile_without_offered_load() -> None:
    blind = step(200.0, 1, **{THROUGHPUT_METRIC: no_data(THROUGHPUT_METRIC)})
    with pytest.raises(InvalidRequest, match="cannot be placed on the load axis"):
        capacity_envelope([step(100.0, 0), blind], preset=MID)


def test_refuses_a_single_profile() -> None:
    with pytest.raises(InvalidRequest, match="at least 2 profiles"):
        capacity_envelope([step(100.0, 0)], preset=MID)


def test_values_carry_each_charted_metric() -> None:
    envelope = capacity_envelope([step(100.0, 0), step(200.0, 1)], preset=MID)
    assert envelope.steps[1].values["state_transitions_per_sec"] == pytest.approx(200 * TRANSITIONS_PER_START)
    assert envelope.steps[0].values[COMPLETED_METRIC] == pytest.approx(98.5)
    assert set(envelope.steps[0].values) == {m.metric for m in envelope.metrics}
