"""Drift from a baseline and drift correlation: rules by example, then properties."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from behaviour_profiles.catalogue import BY_KEY, CATALOGUE, Effect, Influence, MetricSpec, Raising, influences
from behaviour_profiles.comparison import config_diffs, judge_telemetry
from behaviour_profiles.correlation import cause_text, change_direction, correlate, setting_name
from behaviour_profiles.drift import assess_drift, rolling_words
from behaviour_profiles.formatting import format_window
from behaviour_profiles.models import (
    BehaviourProfile,
    ChangeKind,
    CompareOptions,
    ConfigDiff,
    ConfigInput,
    ConfigSnapshot,
    Contributor,
    Contributors,
    CorrelationRelation,
    Coverage,
    Direction,
    DriftResult,
    DriftStatus,
    MetricStatus,
    MetricSummary,
    ShareOf,
    TelemetryDiff,
    TelemetrySummary,
    ThresholdClass,
    Verdict,
    VersionIdentity,
)
from behaviour_profiles.rolling import pooled_profile
from behaviour_profiles.scope import Scope, Window
from behaviour_profiles.snapshot import build_snapshot

T0 = datetime(2026, 2, 18, 10, 0, tzinfo=UTC)
KEY = b"test-key"
NOW = Window(T0 + timedelta(hours=3), T0 + timedelta(hours=3, minutes=30))
SCOPE = Scope("dsql-1", "default", None)


def steady(value: float, n: int = 40) -> list[float]:
    return [value * (1 + 0.02 * ((i % 5) - 2)) for i in range(n)]


def ok(key: str, mean: float) -> MetricSummary:
    points = steady(mean)
    return MetricSummary(
        key=key,
        status=MetricStatus.OK,
        unit=BY_KEY[key].unit,
        min=min(points),
        max=max(points),
        mean=mean,
        p50=mean,
        p95=mean,
        p99=mean,
        sample_count=len(points),
        series=[(T0.timestamp() + 15 * i, v) for i, v in enumerate(points)],
    )


def no_data(key: str) -> MetricSummary:
    return MetricSummary(key=key, status=MetricStatus.NO_DATA, unit=BY_KEY[key].unit, reason="no samples")


def typical(spec: MetricSpec) -> float:
    return max(spec.noise_floor * 100, 1.0)


def healthy() -> dict[str, MetricSummary]:
    return {spec.key: ok(spec.key, typical(spec)) for spec in CATALOGUE}


def with_changes(**factors: float) -> dict[str, MetricSummary]:
    """Healthy metrics with ``key=factor`` applied (factor 0: no data)."""
    out = healthy()
    for key, factor in factors.items():
        out[key] = no_data(key) if factor == 0 else ok(key, typical(BY_KEY[key]) * factor)
    return out


def summary(metrics: Mapping[str, MetricSummary]) -> TelemetrySummary:
    with_data = sum(1 for m in metrics.values() if m.status is MetricStatus.OK)
    return TelemetrySummary(
        dialect="opentelemetry",
        step_seconds=15,
        metrics=dict(metrics),
        coverage=Coverage(with_data=with_data, asked=len(metrics)),
    )


def baseline(config: ConfigSnapshot | None = None, **fields: Any) -> BehaviourProfile:
    values: dict[str, Any] = {
        "id": UUID(int=1),
        "name": "healthy baseline",
        "label": None,
        "cluster_id": "dsql-1",
        "namespace": "default",
        "task_queue": None,
        "time_window_start": T0,
        "time_window_end": T0 + timedelta(minutes=30),
        "created_at": T0 + timedelta(hours=1),
        "is_baseline": True,
        "versions": VersionIdentity(),
        "config": config or ConfigSnapshot(),
        "telemetry": summary(healthy()),
    }
    values.update(fields)
    return BehaviourProfile(**values)


def snapshot(environment: dict[str, str] | None = None, dynamic: Any = None, worker: Any = None) -> ConfigSnapshot:
    return build_snapshot(ConfigInput(environment=environment, dynamic_config=dynamic, worker_options=worker), KEY)


def regressions(**factors: float) -> list[TelemetryDiff]:
    return judge_telemetry(healthy(), with_changes(**factors), CompareOptions())


# --- config keys meet catalogue keys -------------------------------------------------------------


@pytest.mark.parametrize(
    ("part", "key", "expected"),
    [
        ("environment", "environment.TEMPORAL_SQL_MAX_CONNS", ("TEMPORAL_SQL_MAX_CONNS", "")),
        ("dsql_plugin", "dsql_plugin.DSQL_RESERVOIR_TARGET_READY", ("DSQL_RESERVOIR_TARGET_READY", "")),
        ("dynamic_config", "dynamic_config.history.persistenceMaxQPS", ("history.persistenceMaxQPS", "")),
        (
            "dynamic_config",
            "dynamic_config.matching.numTaskqueueReadPartitions[namespace=default,taskQueueName=orders]",
            ("matching.numTaskqueueReadPartitions", "[namespace=default,taskQueueName=orders]"),
        ),
        ("worker_options", "worker_options.MaxConcurrentActivityTaskPollers", ("MaxConcurrentActivityTaskPollers", "")),
        (
            "worker_options",
            "worker_options.orders.MaxConcurrentActivityExecutionSize",
            ("MaxConcurrentActivityExecutionSize", "orders."),
        ),
    ],
)
def test_setting_name(part: str, key: str, expected: tuple[str, str]) -> None:
    assert setting_name(ConfigDiff(key=key, part=part, change=ChangeKind.CHANGED, old_value=1, new_value=2)) == expected


def diff(old: Any, new: Any, change: ChangeKind = ChangeKind.CHANGED) -> ConfigDiff:
    return ConfigDiff(key="environment.X", part="environment", change=change, old_value=old, new_value=new)


@pytest.mark.parametrize(
    ("old", "new", "change", "expected"),
    [
        (50, 20, ChangeKind.CHANGED, "decreased"),
        ("50", "200", ChangeKind.CHANGED, "increased"),
        (1.5, 2, ChangeKind.CHANGED, "increased"),
        ("55m", "1h", ChangeKind.CHANGED, "increased"),
        ("1h", "30m", ChangeKind.CHANGED, "decreased"),
        (True, False, ChangeKind.CHANGED, "disabled"),
        ("false", "true", ChangeKind.CHANGED, "enabled"),
        ("us-east-1", "us-west-2", ChangeKind.CHANGED, "changed"),
        ("<redacted>", "<redacted>", ChangeKind.CHANGED, "changed"),
        (None, 5, ChangeKind.ADDED, "added"),
        (5, None, ChangeKind.REMOVED, "removed"),
    ],
)
def test_change_direction(old: Any, new: Any, change: ChangeKind, expected: str) -> None:
    assert change_direction(diff(old, new, change)) == expected


def test_setting_effects_are_declared_on_real_metrics_once_and_influence_them() -> None:
    pairs = [(i.setting, spec.key) for spec in CATALOGUE for i in spec.influences]
    assert len(pairs) == len(set(pairs))
    assert any(spec.effects for spec in CATALOGUE)
    for spec in CATALOGUE:
        for effect in spec.effects:
            assert effect.setting in spec.influenced_by and effect.mechanism
            assert [e.setting for e in spec.effects].count(effect.setting) == 1
    with pytest.raises(ValueError, match="declared twice"):
        influences(Effect(Raising.WORSENS, "a").of("X"), Effect(Raising.IMPROVES, "b").of("X"))
    assert influences(Effect(Raising.WORSENS, "a").of("X"), ("X", "Y")) == (
        Influence(setting="X", raising=Raising.WORSENS, mechanism="a"),
        Influence(setting="Y"),
    )
    # more connections on an optimistic store: more OCC conflicts, less persistence queueing
    occ = {e.setting: e.raising for e in BY_KEY["occ_conflicts_per_sec"].effects}
    latency = {e.setting: e.raising for e in BY_KEY["persistence_latency_p99"].effects}
    assert occ["TEMPORAL_SQL_MAX_CONNS"] is Raising.WORSENS
    assert latency["TEMPORAL_SQL_MAX_CONNS"] is Raising.IMPROVES


# --- correlation -------------------------------------------------------------------------------


def test_lower_connection_limit_is_expected_to_raise_latency_and_conflicts() -> None:
    cfg = config_diffs(
        snapshot({"TEMPORAL_SQL_MAX_CONNS": "50"}, "history.persistenceMaxQPS:\n  - value: 9000\n"),
        snapshot({"TEMPORAL_SQL_MAX_CONNS": "20"}, {"history.persistenceMaxQPS": [{"value": 3000}]}),
    )
    telemetry = regressions(persistence_latency_p99=6.0, occ_conflicts_per_sec=6.0, sync_match_rate=0.3)
    links = correlate(cfg, telemetry)
    pairs = {(c.setting, c.metric): c for c in links}
    assert len(pairs) == len(links)  # environment and dsql_plugin views of one setting are one change
    conns = pairs[("TEMPORAL_SQL_MAX_CONNS", "persistence_latency_p99")]
    assert conns.relation is CorrelationRelation.EXPECTED and conns.change_direction == "decreased"
    assert conns.config_keys == ["dsql_plugin.TEMPORAL_SQL_MAX_CONNS", "environment.TEMPORAL_SQL_MAX_CONNS"]
    assert conns.old_value == 50 and conns.new_value == 20  # the typed DSQL plugin view speaks
    assert conns.statement.startswith(
        "changed TEMPORAL_SQL_MAX_CONNS from 50 to 20 -> persistence_latency_p99 regressed by 500 % (100 ms -> 600 ms)"
    )
    # lowering the QPS limit means fewer concurrent transactions on the same rows: on DSQL that does not
    # cause OCC conflicts (issue 13: the old table read this backwards and called it expected)
    assert pairs[("history.persistenceMaxQPS", "occ_conflicts_per_sec")].relation is CorrelationRelation.CONTRARY
    # sync matching regressed too, but the SQL pool does not influence it
    assert not any(c.metric == "sync_match_rate" for c in links)


def test_raising_a_limit_is_contrary_to_a_latency_regression() -> None:
    cfg = config_diffs(snapshot({"TEMPORAL_SQL_MAX_CONNS": "20"}), snapshot({"TEMPORAL_SQL_MAX_CONNS": "100"}))
    (link,) = [
        c for c in correlate(cfg, regressions(persistence_latency_p99=3.0)) if c.metric == "persistence_latency_p99"
    ]
    assert link.relation is CorrelationRelation.CONTRARY and "usually helps" in link.statement


def test_more_connections_are_expected_to_raise_occ_conflicts_on_dsql() -> None:
    cfg = config_diffs(snapshot({"TEMPORAL_SQL_MAX_CONNS": "50"}), snapshot({"TEMPORAL_SQL_MAX_CONNS": "100"}))
    links = {c.metric: c for c in correlate(cfg, regressions(occ_conflicts_per_sec=3.89, persistence_latency_p99=3.0))}
    assert links["occ_conflicts_per_sec"].relation is CorrelationRelation.EXPECTED
    assert "optimistic" in links["occ_conflicts_per_sec"].statement
    assert links["persistence_latency_p99"].relation is CorrelationRelation.CONTRARY


def test_an_influence_without_known_direction_is_possible() -> None:
    cfg = config_diffs(
        snapshot({"DSQL_RESERVOIR_LIFETIME_JITTER": "2m"}), snapshot({"DSQL_RESERVOIR_LIFETIME_JITTER": "30s"})
    )
    (link,) = correlate(cfg, regressions(reservoir_size=0.1))
    assert link.relation is CorrelationRelation.POSSIBLE and link.mechanism is None
    assert "direction not known" in link.statement


def test_added_worker_option_and_dynamic_config_case_meet_the_catalogue() -> None:
    cfg = config_diffs(
        snapshot(dynamic={"matching.numTaskqueueReadPartitions": [{"value": 8}]}, worker={"orders": {}}),
        snapshot(
            dynamic={"Matching.NumTaskqueueReadPartitions": [{"value": 2, "constraints": {"namespace": "default"}}]},
            worker={"orders": {"MaxConcurrentActivityTaskPollers": 2}},
        ),
    )
    links = correlate(cfg, regressions(sync_match_rate=0.3))
    by_setting = {c.setting: c for c in links}
    assert set(by_setting) == {"matching.numTaskqueueReadPartitions", "MaxConcurrentActivityTaskPollers"}
    added = by_setting["MaxConcurrentActivityTaskPollers"]
    assert added.change is ChangeKind.ADDED and added.relation is CorrelationRelation.POSSIBLE
    assert added.statement.startswith("set orders.MaxConcurrentActivityTaskPollers to 2 (unset before)")


def test_improvements_and_unrelated_keys_are_not_correlated() -> None:
    cfg = config_diffs(
        snapshot({"TEMPORAL_SQL_MAX_CONNS": "50", "LOG_LEVEL": "info"}),
        snapshot({"TEMPORAL_SQL_MAX_CONNS": "20", "LOG_LEVEL": "debug"}),
    )
    assert correlate(cfg, regressions(persistence_latency_p99=0.5)) == []  # latency improved
    assert correlate(cfg, regressions()) == []
    assert correlate([], regressions(persistence_latency_p99=6.0)) == []


def test_a_regression_that_does_not_count_is_not_correlated() -> None:
    cfg = config_diffs(snapshot({"TEMPORAL_SQL_MAX_CONNS": "50"}), snapshot({"TEMPORAL_SQL_MAX_CONNS": "20"}))
    telemetry = [
        d.model_copy(update={"counts_toward_verdict": False}) for d in regressions(persistence_latency_p99=6.0)
    ]
    assert correlate(cfg, telemetry) == []


_CHANGES = [
    ("TEMPORAL_SQL_MAX_CONNS", "50", "20"),
    ("DSQL_RESERVOIR_TARGET_READY", "50", "10"),
    ("DSQL_CONNECTION_RATE_LIMIT", "100", "400"),
    ("TEMPORAL_SQL_MAX_CONN_LIFETIME", "55m", "5m"),
]
_REGRESSED = [
    "persistence_latency_p99",
    "occ_conflicts_per_sec",
    "reservoir_size",
    "reconnect_count",
    "state_transitions_per_sec",
]
_FACTOR = {"reservoir_size": 0.1, "state_transitions_per_sec": 0.5}


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.sampled_from(_CHANGES), unique=True, min_size=1),
    st.lists(st.sampled_from(_REGRESSED), unique=True, min_size=1),
    st.randoms(use_true_random=False),
)
def test_correlation_is_deterministic_and_only_joins_what_the_catalogue_joins(
    changes: list[tuple[str, str, str]], regressed: list[str], rnd: Any
) -> None:
    cfg = config_diffs(snapshot({k: old for k, old, _ in changes}), snapshot({k: new for k, _, new in changes}))
    telemetry = regressions(**{m: _FACTOR.get(m, 6.0) for m in regressed})
    links = correlate(cfg, telemetry)
    shuffled_cfg, shuffled_tel = list(cfg), list(telemetry)
    rnd.shuffle(shuffled_cfg)
    rnd.shuffle(shuffled_tel)
    assert correlate(shuffled_cfg, shuffled_tel) == links
    regressed_now = {d.metric for d in telemetry if d.direction is Direction.REGRESSED and d.counts_toward_verdict}
    expected_pairs = {(k, m) for k, _, _ in changes for m in regressed_now if k in BY_KEY[m].influenced_by}
    assert {(c.setting, c.metric) for c in links} == expected_pairs
    ranks = [list(CorrelationRelation).index(c.relation) for c in links]
    assert ranks == sorted(ranks)


# --- drift -------------------------------------------------------------------------------------


def test_same_behaviour_is_no_drift() -> None:
    result = assess_drift(baseline(), summary(healthy()), window=NOW, scope=SCOPE, options=CompareOptions())
    assert result.status is DriftStatus.NO_DRIFT and result.drifted is False and result.verdict is Verdict.PASS
    assert result.deviations == [] and result.baseline.id == UUID(int=1) and result.baseline.is_baseline
    assert result.explanation.startswith("No drift") and "'healthy baseline'" in result.explanation
    assert any("No current configuration" in n for n in result.notes)


def test_regressions_beyond_threshold_are_drift_ordered_by_severity() -> None:
    current = summary(with_changes(persistence_latency_p99=6.0, sync_match_rate=0.5, backlog_age=1.3))
    result = assess_drift(baseline(), current, window=NOW, scope=SCOPE, options=CompareOptions())
    assert result.status is DriftStatus.DRIFTED and result.drifted is True and result.verdict is Verdict.FAIL
    metrics = [d.metric for d in result.deviations]
    assert metrics[:2] == ["persistence_latency_p99", "sync_match_rate"]  # critical, largest first
    assert result.deviations[-1].metric == "backlog_age" and result.deviations[-1].severity.value == "warning"
    assert result.explanation.startswith("Drifted: 3 metrics regressed beyond their thresholds, 2 critically.")
    assert "persistence_latency_p99: mean rose from 100 ms to 600 ms" in result.explanation


def test_thresholds_come_from_the_options() -> None:
    current = summary(with_changes(persistence_latency_p99=1.3))
    default = assess_drift(baseline(), current, window=NOW, scope=SCOPE, options=CompareOptions())
    assert default.status is DriftStatus.DRIFTED
    lenient = assess_drift(
        baseline(),
        current,
        window=NOW,
        scope=SCOPE,
        options=CompareOptions(thresholds_pct={ThresholdClass.LATENCY: 50}),
    )
    assert lenient.status is DriftStatus.NO_DRIFT and lenient.thresholds_pct[ThresholdClass.LATENCY] == 50


def test_missing_key_metric_without_regression_is_inconclusive_never_a_pass() -> None:
    current = summary(with_changes(persistence_latency_p99=0))
    result = assess_drift(baseline(), current, window=NOW, scope=SCOPE, options=CompareOptions())
    assert result.status is DriftStatus.INCONCLUSIVE and result.drifted is None
    assert result.verdict is Verdict.INCONCLUSIVE
    assert result.explanation.startswith("Inconclusive, not a pass")
    assert [d.metric for d in result.deviations] == ["persistence_latency_p99"]


def test_regression_with_a_missing_key_metric_is_still_drift() -> None:
    current = summary(with_changes(persistence_latency_p99=0, backlog_age=1.3))
    result = assess_drift(baseline(), current, window=NOW, scope=SCOPE, options=CompareOptions())
    assert result.status is DriftStatus.DRIFTED and result.drifted is True
    assert "No data for key metrics persistence_latency_p99" in result.explanation


def test_an_empty_window_is_inconclusive() -> None:
    empty = summary({spec.key: no_data(spec.key) for spec in CATALOGUE})
    result = assess_drift(baseline(), empty, window=NOW, scope=SCOPE, options=CompareOptions())
    assert result.status is DriftStatus.INCONCLUSIVE and result.drifted is None
    assert "not a pass" in result.summary and "no samples" in result.explanation


def test_drift_correlates_the_current_configuration() -> None:
    base = baseline(config=snapshot({"TEMPORAL_SQL_MAX_CONNS": "50"}))
    current = summary(with_changes(persistence_latency_p99=6.0))
    result = assess_drift(
        base,
        current,
        window=NOW,
        scope=SCOPE,
        options=CompareOptions(),
        current_config=snapshot({"TEMPORAL_SQL_MAX_CONNS": "10"}),
    )
    assert {d.key for d in result.config_diffs} == {
        "environment.TEMPORAL_SQL_MAX_CONNS",
        "dsql_plugin.TEMPORAL_SQL_MAX_CONNS",
    }
    assert result.correlations and result.correlations[0].relation is CorrelationRelation.EXPECTED
    assert "Configuration changes that explain it: changed TEMPORAL_SQL_MAX_CONNS from 50 to 10" in result.explanation
    cause = cause_text(result.correlations[0])
    assert cause in result.explanation and "; expected" not in cause
    assert result.correlations[0].statement.startswith(cause + "; expected: ")
    empty = assess_drift(
        base, current, window=NOW, scope=SCOPE, options=CompareOptions(), current_config=ConfigSnapshot()
    )
    assert empty.correlations == [] and any("No current configuration" in n for n in empty.notes)


def test_scope_and_window_differences_are_noted() -> None:
    result = assess_drift(
        baseline(task_queue="orders"),
        summary(healthy()),
        window=Window(NOW.start, NOW.start + timedelta(hours=2)),
        scope=Scope("dsql-1", "default", "billing"),
        options=CompareOptions(),
    )
    assert any("task queue orders" in n and "billing" in n for n in result.notes)
    assert any("differ in length" in n and "baseline 30 min" in n for n in result.notes)


# --- where a drift lives --------------------------------------------------------------------------

S2S = "workflow_schedule_to_start_p99"
ORDERS = {"namespace": "default", "taskqueue": "orders_queue"}
MAIN = {"namespace": "default", "taskqueue": "main_queue"}


def by_queue(mean: float, kept: dict[str, tuple[float, float]]) -> MetricSummary:
    """``S2S`` with top contributors by task queue: queue -> (share, own value)."""
    top = [
        Contributor(labels={"namespace": "default", "taskqueue": queue}, value=value, share=share)
        for queue, (share, value) in sorted(kept.items(), key=lambda item: -item[1][0])
    ]
    contributors = Contributors(
        by=["namespace", "taskqueue"],
        share_of=ShareOf.SLOW_TAIL,
        top=top,
        rest_share=max(0.0, 1 - sum(share for share, _ in kept.values())),
        series=len(top),
    )
    return ok(S2S, mean).model_copy(update={"contributors": contributors})


def drift_of_s2s(old: MetricSummary, new: MetricSummary) -> DriftResult:
    """Drift of a healthy window whose workflow schedule-to-start moved from ``old`` to ``new``."""
    return assess_drift(
        baseline(telemetry=summary({**healthy(), S2S: old})),
        summary({**healthy(), S2S: new}),
        window=NOW,
        scope=SCOPE,
        options=CompareOptions(),
    )


def test_a_drift_names_the_task_queue_it_lives_in() -> None:
    base = typical(BY_KEY[S2S])
    old = by_queue(base, {"main_queue": (0.6, 40.0), "orders_queue": (0.4, 40.0)})
    new = by_queue(base * 3, {"orders_queue": (0.9, 160.0), "main_queue": (0.1, 41.0)})
    result = drift_of_s2s(old, new)
    assert result.status is DriftStatus.DRIFTED
    (found,) = result.attributions
    assert found.metric == S2S and found.by == ["namespace", "taskqueue"]
    lead, other = found.contributors
    assert lead.labels == ORDERS and lead.share_change_points == pytest.approx(50.0)
    assert lead.value_change_pct == pytest.approx(300.0)
    assert other.labels == MAIN and other.share_change_points == pytest.approx(-50.0)
    assert found.statement == (
        "Workflow task schedule-to-start p99 +200 %: 90 % of it from task queue orders_queue in "
        "namespace default (was 40 %; its own value +300 %)."
    )
    assert (
        "Where it lives: Workflow task schedule-to-start p99, 90 % of it from task queue orders_queue "
        "in namespace default." in result.explanation
    )


def test_a_drift_names_the_sides_baseline_and_current_window() -> None:
    base = typical(BY_KEY[S2S])
    old = by_queue(base, {"main_queue": (1.0, 40.0)})
    new = by_queue(base * 3, {"orders_queue": (0.9, 160.0), "main_queue": (0.1, 41.0)})
    result = drift_of_s2s(old, new)
    (found,) = result.attributions
    assert found.contributors[0].labels == ORDERS and found.contributors[0].old_share is None
    assert found.statement.endswith(
        "of it from task queue orders_queue in namespace default (not among the baseline's top 1)."
    )
    assert "profile A" not in found.statement


def test_a_drift_is_attributed_only_when_both_sides_kept_contributors() -> None:
    base = typical(BY_KEY[S2S])
    new = by_queue(base * 3, {"orders_queue": (0.9, 160.0), "main_queue": (0.1, 41.0)})
    # the baseline kept none (made before contributors were kept)
    result = assess_drift(
        baseline(), summary({**healthy(), S2S: new}), window=NOW, scope=SCOPE, options=CompareOptions()
    )
    assert result.status is DriftStatus.DRIFTED and result.attributions == []
    assert "Where it lives" not in result.explanation
    # a rolling baseline pooling one profile that kept none
    kept = baseline(telemetry=summary({**healthy(), S2S: by_queue(base, {"main_queue": (1.0, 40.0)})}))
    pooled = pooled_profile([kept, baseline().model_copy(update={"id": UUID(int=2)})])
    assert pooled.telemetry.metrics[S2S].contributors is None
    rolled = assess_drift(pooled, summary({**healthy(), S2S: new}), window=NOW, scope=SCOPE, options=CompareOptions())
    assert rolled.status is DriftStatus.DRIFTED and rolled.attributions == []
    # the current window kept none
    bare = assess_drift(kept, summary(with_changes(**{S2S: 3.0})), window=NOW, scope=SCOPE, options=CompareOptions())
    assert bare.status is DriftStatus.DRIFTED and bare.attributions == []


def test_a_drift_from_a_rolling_baseline_is_placed_against_the_pooled_contributors() -> None:
    base = typical(BY_KEY[S2S])
    first = baseline(telemetry=summary({**healthy(), S2S: by_queue(base, {"main_queue": (0.8, 40.0)})}))
    second = baseline(
        telemetry=summary({**healthy(), S2S: by_queue(base, {"main_queue": (0.6, 44.0), "orders_queue": (0.4, 40.0)})})
    ).model_copy(update={"id": UUID(int=2)})
    pooled = pooled_profile([first, second])
    new = by_queue(base * 3, {"orders_queue": (0.9, 160.0), "main_queue": (0.1, 41.0)})
    result = assess_drift(pooled, summary({**healthy(), S2S: new}), window=NOW, scope=SCOPE, options=CompareOptions())
    assert result.status is DriftStatus.DRIFTED
    (found,) = result.attributions
    lead = found.contributors[0]
    # equal sample counts: orders_queue held 0 and 40 % of the slow tail, 20 % pooled; its value is the one kept
    assert lead.labels == ORDERS and lead.old_share == pytest.approx(0.2) and lead.old_value == pytest.approx(40.0)
    assert lead.share_change_points == pytest.approx(70.0)
    assert found.statement == (
        "Workflow task schedule-to-start p99 +200 %: 90 % of it from task queue orders_queue in "
        "namespace default (was 20 %; its own value +300 %)."
    )


def test_a_drifted_maximum_names_the_series_that_held_it() -> None:
    def ages(mean: float, held: dict[str, float]) -> MetricSummary:
        top = [
            Contributor(labels={"namespace": "default", "taskqueue": q}, value=mean, share=share)
            for q, share in held.items()
        ]
        kept = Contributors(
            by=["namespace", "taskqueue"], share_of=ShareOf.LARGEST, top=top, rest_share=0.0, series=len(top)
        )
        return ok("backlog_age", mean).model_copy(update={"contributors": kept})

    base = typical(BY_KEY["backlog_age"])
    result = assess_drift(
        baseline(telemetry=summary({**healthy(), "backlog_age": ages(base, {"main_queue": 1.0})})),
        summary({**healthy(), "backlog_age": ages(base * 10, {"orders_queue": 0.9, "main_queue": 0.1})}),
        window=NOW,
        scope=SCOPE,
        options=CompareOptions(),
    )
    (found,) = result.attributions
    assert found.share_of is ShareOf.LARGEST
    assert found.statement.startswith(
        "Backlog age +900 %: the largest in task queue orders_queue in namespace default at 90 % of instants "
        "(not among the baseline's top 1"
    )
    assert (
        "Where it lives: Backlog age, the largest in task queue orders_queue in namespace default at 90 % of "
        "instants." in result.explanation
    )


def test_a_rolling_baseline_is_named_as_the_pool_it_is() -> None:
    first = baseline().model_copy(update={"name": "monday"})
    second = baseline().model_copy(
        update={
            "id": UUID(int=2),
            "name": "tuesday",
            "time_window_start": first.time_window_start + timedelta(days=1),
            "time_window_end": first.time_window_end + timedelta(days=1),
        }
    )
    words = rolling_words([second, first])
    assert words.startswith(
        f"rolling baseline of 2 pooled profile(s) ({format_window(first.time_window_start, second.time_window_end)}"
    )
    assert words.endswith(f"the newest 'tuesday', profile {second.id})")
    result = assess_drift(
        pooled_profile([first, second]),
        summary(healthy()),
        window=NOW,
        scope=SCOPE,
        options=CompareOptions(),
        named=words,
    )
    assert f"was judged against the {words} with the comparison rules" in result.explanation
    single = assess_drift(first, summary(healthy()), window=NOW, scope=SCOPE, options=CompareOptions())
    assert "was judged against the baseline 'monday' (profile" in single.explanation


def test_no_drift_is_attributed_to_nothing() -> None:
    base = typical(BY_KEY[S2S])
    kept = {"main_queue": (0.6, 40.0), "orders_queue": (0.4, 40.0)}
    result = assess_drift(
        baseline(telemetry=summary({**healthy(), S2S: by_queue(base, kept)})),
        summary({**healthy(), S2S: by_queue(base * 1.02, kept)}),
        window=NOW,
        scope=SCOPE,
        options=CompareOptions(),
    )
    assert result.status is DriftStatus.NO_DRIFT and result.attributions == []
    assert "Where it lives" not in result.explanation
