"""Rolling baselines: what joins the pool, what is left out and why, and how statistics are pooled."""

from __future__ import annotations

from datetime import timedelta
from uuid import UUID

import pytest
from hypothesis import given
from hypothesis import strategies as st

from behaviour_profiles.models import (
    BehaviourProfile,
    CompareOptions,
    MetricStatus,
    MetricSummary,
    ThresholdClass,
    Verdict,
)
from behaviour_profiles.rolling import pool_metrics, pooled_profile, roll
from tests.unit.test_conformance import HEALTHY, T0, metrics, no_data, ok, profile

OPTIONS = CompareOptions()


def at(hour: int, *, excluded: str | None = None, **overrides: float | MetricSummary) -> BehaviourProfile:
    values = dict(HEALTHY)
    summaries = {k: v for k, v in overrides.items() if isinstance(v, MetricSummary)}
    values.update({k: v for k, v in overrides.items() if not isinstance(v, MetricSummary)})
    return profile(metrics(values, **summaries)).model_copy(
        update={
            "id": UUID(int=hour + 1),
            "name": f"hour {hour}",
            "time_window_start": T0 + timedelta(hours=hour),
            "time_window_end": T0 + timedelta(hours=hour, minutes=30),
            "excluded_from_baselines": excluded is not None,
            "exclusion_reason": excluded,
        }
    )


def names(items: list[BehaviourProfile]) -> list[str]:
    return [p.name for p in items]


def test_the_last_n_passing_profiles_are_pooled_leaving_out_excluded_and_failing() -> None:
    anchor = at(0)
    later = [
        at(1),
        at(2, excluded="load test misconfigured"),
        at(3, persistence_latency_p99=37.0 * 3),  # +200 %: fails against the pool
        at(4),
        at(5),
    ]
    pooled, account = roll(anchor, list(reversed(later)), n=3, options=OPTIONS)

    assert names(pooled) == ["hour 1", "hour 4", "hour 5"]
    assert [m.name for m in account.pooled] == ["hour 1", "hour 4", "hour 5"]
    assert account.anchor.name == "hour 0"
    out = {o.profile.name: o for o in account.left_out}
    assert set(out) == {"hour 2", "hour 3"}
    assert out["hour 2"].verdict is None and "excluded from baselines: load test misconfigured" in out["hour 2"].reason
    assert out["hour 3"].verdict is Verdict.FAIL and "persistence_latency_p99" in out["hour 3"].reason
    assert "'hour 1', 'hour 4', 'hour 5'" in account.summary and "left out 2" in account.summary


def test_the_designated_baseline_alone_when_nothing_passed_after_it() -> None:
    pooled, account = roll(at(0), [at(1, excluded="bad")], n=5, options=OPTIONS)
    assert names(pooled) == ["hour 0"] and len(account.left_out) == 1


def test_a_warning_is_not_a_pass() -> None:
    # -30 % of the state transitions: beyond the 20 % threshold, within twice it
    _, account = roll(at(0), [at(1, state_transitions_per_sec=1180.0 * 0.7)], n=5, options=OPTIONS)
    assert [o.verdict for o in account.left_out] == [Verdict.WARN]


def test_looser_thresholds_pool_what_the_defaults_leave_out() -> None:
    later = [at(1, state_transitions_per_sec=1180.0 * 0.7)]
    assert names(roll(at(0), later, n=5, options=OPTIONS)[0]) == ["hour 0"]
    pooled, _ = roll(at(0), later, n=5, options=CompareOptions(thresholds_pct={ThresholdClass.THROUGHPUT: 50.0}))
    assert names(pooled) == ["hour 0", "hour 1"]


def test_an_excluded_designated_baseline_is_pooled_and_noted() -> None:
    pooled, account = roll(at(0, excluded="oops"), [], n=2, options=OPTIONS)
    assert names(pooled) == ["hour 0"] and "marked excluded" in account.notes[0]


def test_pooled_statistics() -> None:
    a = ok("persistence_latency_p99", 10.0, min=5.0, max=20.0)
    b = ok("persistence_latency_p99", 40.0, min=2.0, max=90.0).model_copy(update={"sample_count": 30})
    pooled = pool_metrics([at(0, persistence_latency_p99=a), at(1, persistence_latency_p99=b)])
    summary = pooled["persistence_latency_p99"]
    assert summary.status is MetricStatus.OK
    assert (summary.min, summary.max, summary.sample_count) == (2.0, 90.0, 40)
    assert summary.mean == pytest.approx((10 * 10 + 40 * 30) / 40)
    assert summary.p99 == pytest.approx((10 * 10 + 40 * 30) / 40)


def test_no_data_in_every_pooled_profile_is_no_data_never_zero() -> None:
    missing = no_data("reservoir_fill")
    pooled = pool_metrics([at(0, reservoir_fill=missing), at(1, reservoir_fill=missing)])
    assert pooled["reservoir_fill"].status is MetricStatus.NO_DATA and pooled["reservoir_fill"].mean is None
    one = pool_metrics([at(0, reservoir_fill=missing), at(1)])
    assert one["reservoir_fill"].mean == HEALTHY["reservoir_fill"]


def test_the_pooled_profile_takes_the_newest_identity() -> None:
    baseline = pooled_profile([at(2), at(0), at(1)])
    assert baseline.name == "hour 2" and baseline.telemetry.coverage.with_data == len(HEALTHY)


@given(st.lists(st.floats(min_value=0.1, max_value=1e6), min_size=1, max_size=8))
def test_the_pooled_mean_lies_between_the_pooled_means(values: list[float]) -> None:
    profiles = [at(i, persistence_latency_p99=v) for i, v in enumerate(values)]
    mean = pool_metrics(profiles)["persistence_latency_p99"].mean
    assert mean is not None and min(values) * (1 - 1e-9) <= mean <= max(values) * (1 + 1e-9)


@given(st.integers(min_value=1, max_value=6), st.lists(st.booleans(), max_size=8))
def test_never_more_than_n_pooled_and_never_an_excluded_one(n: int, excluded: list[bool]) -> None:
    later = [at(i + 1, excluded="x" if flag else None) for i, flag in enumerate(excluded)]
    pooled, account = roll(at(0), later, n=n, options=OPTIONS)
    assert 1 <= len(pooled) <= n
    assert not any(p.excluded_from_baselines for p in pooled)
    # identical healthy profiles all pass: exactly the excluded ones are left out, the rest roll through
    assert len(account.left_out) == sum(excluded)
    kept = [at(0), *(p for p in later if not p.excluded_from_baselines)]
    assert names(pooled) == names(kept[-n:])
