"""Steady state: ramp-up and drain trimmed from the offered load series (behaviour_profiles.steady)."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from behaviour_profiles.models import MetricSummary, Verdict
from behaviour_profiles.steady import steady_span, trim_to_steady_state
from tests.unit.test_comparison import compare, healthy, ok, telemetry

STARTS, LATENCY = "workflows_started_per_sec", "persistence_latency_p99"


def _ramped(values: list[float], ramp: int, drain: int) -> list[float]:
    return [v * (i + 1) / (ramp + 1) if i < ramp else v for i, v in enumerate(values[: len(values) - drain])] + [
        v * 0.2 for v in values[len(values) - drain :]
    ]


def test_a_ramp_up_and_a_drain_are_found_at_the_edges_only() -> None:
    level = [150.0] * 40
    series = [(float(i * 15), v) for i, v in enumerate(_ramped(level, 5, 3))]
    assert steady_span(series) == (4, 36)  # the ramp's last point is within 75 % of the level
    dip = [(float(i * 15), 10.0 if i == 20 else 150.0) for i in range(40)]
    assert steady_span(dip) is None  # a dip in the middle is not an edge


def test_an_early_fluctuation_that_heals_does_not_decide_the_verdict() -> None:
    steady = [12.0 * (1 + 0.02 * ((i % 5) - 2)) for i in range(120)]
    starts = _ramped([150.0] * 120, 30, 0)  # the first 23 points are under 75 % of 150/s
    latency = [60.0] * 23 + steady[23:]  # slow while load ramps up, then as steady as A
    old = {STARTS: ok(STARTS, 150.0, [150.0] * 120), LATENCY: ok(LATENCY, 12.0, steady)}
    new = {STARTS: ok(STARTS, sum(starts) / 120, starts), LATENCY: ok(LATENCY, sum(latency) / 120, latency)}
    assert compare(old, new, trim_steady_state=False).verdict is Verdict.FAIL
    trimmed = compare(old, new)
    assert trimmed.verdict is Verdict.PASS
    (trim,) = trimmed.trims
    assert trim.side == "B" and trim.ramp_up_seconds == 23 * 15 and trim.drain_seconds == 0
    assert any(note.startswith("B: trimmed a ramp-up of 5.8 min") for note in trimmed.notes)


def test_nothing_is_trimmed_without_an_offered_load_series() -> None:
    metrics = healthy()
    del metrics[STARTS]
    same, trim = trim_to_steady_state(metrics, side="A")
    assert trim is None and same == metrics


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    telemetry(),
    telemetry(),
    st.lists(st.floats(-0.1, 0.1), min_size=8, max_size=40),
    st.lists(st.floats(-0.1, 0.1), min_size=8, max_size=40),
)
def test_property_trimming_never_turns_a_steady_windows_pass_into_fail(
    old: dict[str, MetricSummary], new: dict[str, MetricSummary], old_noise: list[float], new_noise: list[float]
) -> None:
    old[STARTS] = ok(STARTS, 150.0, [150.0 * (1 + u) for u in old_noise])
    new[STARTS] = ok(STARTS, 150.0, [150.0 * (1 + u) for u in new_noise])
    untrimmed = compare(old, new, trim_steady_state=False)
    trimmed = compare(old, new)
    if untrimmed.verdict is Verdict.PASS:
        assert trimmed.verdict is not Verdict.FAIL
    assert trimmed.trims == []  # within ±10 % of its level a window has no ramp
