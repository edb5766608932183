"""The recording rules: generated from the catalogue, valid for promtool, and read per query with a fallback."""

from __future__ import annotations

import math
import shutil
import subprocess
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from behaviour_profiles.catalogue import (
    CATALOGUE,
    RULE_TIERS,
    BucketRates,
    Dialect,
    GaugeAgg,
    RuleView,
    kept_labels,
    record_slugs,
    recorded_name,
    rule_tiers,
    rule_views,
    series_queries,
    view_labels,
)
from behaviour_profiles.models import RecordedState
from behaviour_profiles.telemetry import (
    NOT_COVERING_WORDS,
    OLDER_RULES_WORDS,
    MatrixSeries,
    PrometheusClient,
    QueryPlan,
    RangeAnswer,
    Recorded,
    Scope,
    TelemetryCollector,
    backfill_passes,
    parse_matrix,
    plan_window,
    recorded_note,
    recording_rules,
    render_recorded,
    rule_expressions,
    rule_form,
    rules_summary,
)
from copilot.dev.stack import ensure_prometheus

SHIPPED = Path(__file__).resolve().parents[2] / "prometheus" / "rules" / "behaviour-profiles.rules.yml"


def test_the_shipped_rules_file_is_the_catalogue_s() -> None:
    assert SHIPPED.read_text() == recording_rules(cluster_label="cluster"), (
        "regenerate it: uv run python scripts/recording_rules.py --output prometheus/rules/behaviour-profiles.rules.yml"
    )


@pytest.mark.parametrize("cluster_label", ["cluster", None])
def test_promtool_accepts_the_rules(tmp_path: Path, cluster_label: str | None) -> None:
    ensure_prometheus()  # installs the Debian package when missing (as root), else says how
    promtool = shutil.which("promtool")
    assert promtool is not None
    path = tmp_path / "rules.yml"
    path.write_text(recording_rules(cluster_label=cluster_label))
    result = subprocess.run([promtool, "check", "rules", str(path)], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    # the scoped view one rule per term, the cluster view one (read from the scoped view), in every tier
    rules = sum(len(rule_tiers(q)) * (len(series_queries_terms(q)) + len(rule_views(q)) - 1) for q in record_slugs())
    rules *= len(Dialect)
    assert f"SUCCESS: {rules} rules found" in result.stdout


def test_the_cluster_view_reads_the_scoped_view_s_series_of_this_form_and_backfills_after_it() -> None:
    dispatch = slugs_by("task_dispatch_latency")
    dialect, tier = Dialect.TALLY, RULE_TIERS[1]
    scoped_form = rule_form(dispatch, "task_dispatch_latency", dialect, "cluster", tier, RuleView.SCOPED)
    (expression,) = rule_expressions(dispatch, "task_dispatch_latency", dialect, "cluster", tier, RuleView.CLUSTER)
    assert expression == (
        f'sum by (cluster, le) (bp_tally:task_dispatch_latency:rate2m_bucket{{bp_form="{scoped_form}"}})'
    )
    # a gauge's view takes its own aggregation; a query of several terms adds them up at once
    age = next(
        q for q in record_slugs() if isinstance(q, GaugeAgg) and q.agg == "max" and RuleView.CLUSTER in rule_views(q)
    )
    assert rule_expressions(age, "a", dialect, "cluster", RULE_TIERS[0], RuleView.CLUSTER)[0].startswith("max by (")
    closes = slugs_by("workflows_completed_per_sec")
    assert len(series_queries_terms(closes)) > 1
    assert len(rule_expressions(closes, "c", dialect, "cluster", RULE_TIERS[0], RuleView.CLUSTER)) == 1
    # promtool reads the server, not the file: the cluster view is a second backfill pass
    first, second = (yaml.safe_load(text)["groups"] for text in backfill_passes(recording_rules()))
    records = {rule["record"] for group in first for rule in group["rules"]}
    assert all(":" in r and "_cluster:" not in r for r in records)
    later = [rule for group in second for rule in group["rules"]]
    assert later and all("_cluster:" in rule["record"] for rule in later)
    assert all(any(name in rule["expr"] for name in records) for rule in later)
    # a rules file that reads raw series only is one pass; rules reading each other in a loop are refused
    only_raw = recording_rules([spec for spec in CATALOGUE if spec.key == "reconnect_count"])
    assert len(backfill_passes(only_raw)) == 1
    loop = "groups:\n- name: g\n  rules:\n  - record: a:x\n    expr: b:y\n  - record: b:y\n    expr: a:x\n"
    with pytest.raises(ValueError, match="reads itself"):
        backfill_passes(loop)


def series_queries_terms(query: Any) -> tuple[Any, ...]:
    return (query.term,) if isinstance(query, BucketRates) else tuple(query.terms)


def test_every_query_records_under_its_own_name_keeping_exactly_the_scope_labels() -> None:
    slugs = record_slugs()
    assert {q for spec in CATALOGUE for q in series_queries(spec)} == slugs.keys()
    for dialect in Dialect:
        names = [recorded_name(q, slug, dialect) for q, slug in slugs.items()]
        assert len(set(names)) == len(names)
    assert kept_labels(slugs_by("workflow_schedule_to_start"), "cluster") == ("namespace", "taskqueue", "cluster", "le")
    # a split query also keeps the labels its contributors are told apart by
    assert kept_labels(slugs_by("persistence_latency"), None) == ("namespace", "le", "operation", "service_name")
    slots = next(q for q in slugs if isinstance(q, GaugeAgg) and q.by)
    assert kept_labels(slots, "k8s_cluster") == ("namespace", "task_queue", "k8s_cluster", "worker_type")
    for query in slugs:  # a recorded series is scoped like its raw terms: they must agree
        terms = series_queries_terms(query)
        assert len({(t.scopes, t.source) for t in terms}) == 1, query


def slugs_by(slug: str) -> Any:
    return next(q for q, s in record_slugs().items() if s == slug)


def planned(step: int, rate_window: int) -> QueryPlan:
    return QueryPlan(start=0.0, end=86_400.0, step=step, rate_window=rate_window)


def test_recorded_reads_scope_like_raw_and_averages_each_step_of_a_long_rate_window() -> None:
    scope = Scope("prod", "orders", "main-queue", cluster_label="cluster")
    query = slugs_by("workflow_schedule_to_start")
    keeps = view_labels(query, RuleView.SCOPED, "cluster")
    form = rule_form(query, "workflow_schedule_to_start", Dialect.TALLY, "cluster", RULE_TIERS[0], RuleView.SCOPED)
    name = Recorded(recorded_name(query, "workflow_schedule_to_start", Dialect.TALLY), RULE_TIERS[0], keeps, form)
    # every label the recorded series keep is fixed by the scope or read: one series per group, nothing to add
    # up; only the series this version's rule writes are read (not an older rules file's, backfilled beside them)
    assert render_recorded(query, name, Dialect.TALLY, scope, planned(15, 60)) == (
        f'bp_tally:workflow_schedule_to_start:rate1m_bucket{{bp_form="{form}",namespace="orders",'
        'taskqueue="main_queue",cluster="prod"}'
    )
    # a longer rate window: the mean of the recorded rates evaluated within each step, each read once
    assert render_recorded(query, name, Dialect.TALLY, scope, planned(288, 303)) == (
        f'avg_over_time(bp_tally:workflow_schedule_to_start:rate1m_bucket{{bp_form="{form}",namespace="orders",'
        'taskqueue="main_queue",cluster="prod"}[288s])'
    )
    coarse = Recorded(
        recorded_name(query, "workflow_schedule_to_start", Dialect.TALLY, RULE_TIERS[1]),
        RULE_TIERS[1],
        keeps,
        rule_form(query, "workflow_schedule_to_start", Dialect.TALLY, "cluster", RULE_TIERS[1], RuleView.SCOPED),
    )
    assert coarse.form != form  # another window, another form
    assert coarse.name == "bp_tally:workflow_schedule_to_start:rate2m_bucket"
    assert render_recorded(query, coarse, Dialect.TALLY, scope, planned(120, 120)).startswith(
        "bp_tally:workflow_schedule_to_start:rate2m_bucket{"
    )
    assert render_recorded(query, coarse, Dialect.TALLY, scope, planned(600, 615)).endswith("[600s])")
    # a step shorter than the tier's interval: each evaluation stands for the steps until the next
    assert render_recorded(query, coarse, Dialect.TALLY, scope, planned(60, 240)).startswith(
        "bp_tally:workflow_schedule_to_start:rate2m_bucket{"
    )


def test_recorded_series_are_added_up_by_prometheus_only_where_several_make_a_group() -> None:
    query = slugs_by("workflow_schedule_to_start")
    cluster = Scope("prod", None, None, cluster_label="cluster")
    scoped = Recorded("bp:s", RULE_TIERS[0], view_labels(query, RuleView.SCOPED, "cluster"), "f1")
    view = Recorded("bp_cluster:s", RULE_TIERS[0], view_labels(query, RuleView.CLUSTER, "cluster"), "f2")
    # a whole cluster from the scoped view: every task queue of a namespace is one group
    assert render_recorded(query, scoped, Dialect.OPENTELEMETRY, cluster, planned(15, 60)) == (
        'sum by (le, namespace) (bp:s{bp_form="f1",cluster="prod"})'
    )
    minute = planned(15, 60)
    assert render_recorded(query, view, Dialect.OPENTELEMETRY, cluster, minute) == (
        'bp_cluster:s{bp_form="f2",cluster="prod"}'
    )
    # without a cluster label to fix, Prometheus adds up the series of every cluster the rules kept apart
    anywhere = Scope("prod", None, None)
    assert render_recorded(query, view, Dialect.OPENTELEMETRY, anywhere, planned(15, 60)) == (
        'sum by (le, namespace) (bp_cluster:s{bp_form="f2"})'
    )


def test_a_histogram_read_without_sum_adds_up_series_that_share_a_group() -> None:
    query = slugs_by("workflow_schedule_to_start")  # split by namespace and task queue
    unsplit = BucketRates(query.term)
    twice = [
        MatrixSeries({"le": "1", "namespace": "a", "cluster": "x"}, [(0.0, 1.0)]),
        MatrixSeries({"le": "1", "namespace": "a", "cluster": "y"}, [(0.0, 2.0)]),
        MatrixSeries({"le": "+Inf", "namespace": "a", "cluster": "x"}, [(0.0, 3.0)]),
    ]
    assert parse_matrix(unsplit, twice) == {1.0: {0.0: 3.0}, math.inf: {0.0: 3.0}}
    assert parse_matrix(query, twice) == {("a", ""): {1.0: {0.0: 3.0}, math.inf: {0.0: 3.0}}}


class FakeClient(PrometheusClient):
    """Answers name look-ups from ``present`` and records every range query."""

    def __init__(self, present: set[str]) -> None:
        super().__init__(httpx.AsyncClient(), "http://prometheus.invalid")
        self.present = present
        self.asked: list[str] = []

    async def metric_names(self, names: Iterable[str], start: float, end: float, matchers: str = "") -> set[str]:
        return self.present & set(names)

    async def names_at(self, names: Iterable[str], at: float, matchers: str = "") -> set[str]:
        return await self.metric_names(names, at, at, matchers)

    async def label_values(
        self, label: str, names: Iterable[str], start: float, end: float, matchers: str = ""
    ) -> list[str]:
        return []  # no task queue names: nothing to say of them

    async def query_range_answer(self, promql: str, plan: QueryPlan) -> RangeAnswer:
        self.asked.append(promql)
        return RangeAnswer([])

    async def cores(self) -> int | None:
        return None


def _everything(dialect: Dialect) -> set[str]:
    raw = {t.name.for_dialect(dialect) for q in record_slugs() for t in series_queries_terms(q)}
    return raw | {
        recorded_name(q, s, dialect, t, v)
        for q, s in record_slugs().items()
        for t in rule_tiers(q)
        for v in rule_views(q)
    }


async def test_a_family_without_recorded_series_falls_back_alone_and_is_named() -> None:
    missing = slugs_by("persistence_latency")
    missing_names = {recorded_name(missing, "persistence_latency", Dialect.OPENTELEMETRY, t) for t in RULE_TIERS}
    client = FakeClient(_everything(Dialect.OPENTELEMETRY) - missing_names)
    collector = TelemetryCollector(client, dialect=Dialect.OPENTELEMETRY, cpu_source="none")
    end = datetime(2026, 1, 1, tzinfo=UTC)
    summary = await collector.collect(Scope("c", "ns", None), end - timedelta(hours=24), end)

    raw = [q for q in client.asked if "persistence_latency_milliseconds_bucket" in q]
    assert len(raw) == 1 and "rate(" in raw[0]
    assert all(q.startswith(("sum", "max")) and "bp:" in q for q in client.asked if q not in raw), client.asked
    assert len(client.asked) == len(record_slugs())
    # a 24 h window's rates look back 288 s: the coarse tier (2 m) serves the histograms, the fine one the
    # rates (every increment of a rare counter read) and the gauges
    recorded = [q for q in client.asked if "bp:" in q and ":rate" in q]
    assert all(":rate2m_bucket" in q for q in recorded if "_bucket" in q)
    assert all(":rate1m{" in q for q in recorded if "_bucket" not in q) and len(recorded) > 10
    (note,) = [n for n in summary.notes if n.startswith("Recording rules:")]
    assert note.endswith("do not cover the window: persistence_latency_p95, persistence_latency_p99."), note


class FormsClient(FakeClient):
    """:class:`FakeClient` whose recorded names in ``older`` exist only in another form (an older rules
    file's): found by a look-up that excludes this version's forms, not by one that asks for them."""

    def __init__(self, present: set[str], older: set[str]) -> None:
        super().__init__(present)
        self.older = older

    async def metric_names(self, names: Iterable[str], start: float, end: float, matchers: str = "") -> set[str]:
        found = self.present & set(names)
        if "bp_form!~" in matchers:
            return found & self.older
        return found - self.older if "bp_form=~" in matchers else found


async def test_recorded_series_of_another_version_s_rules_are_read_raw_and_named() -> None:
    dialect = Dialect.OPENTELEMETRY
    failures = slugs_by("workflow_failures_per_sec")
    older = {
        recorded_name(failures, "workflow_failures_per_sec", dialect, t, v)
        for t in rule_tiers(failures)
        for v in rule_views(failures)
    }
    client = FormsClient(_everything(dialect), older)
    collector = TelemetryCollector(client, dialect=dialect, cpu_source="none")
    end = datetime(2026, 1, 1, tzinfo=UTC)
    summary = await collector.collect(Scope("c", None, None), end - timedelta(hours=1), end)

    # the failures are read raw (their raw family asked, none of their recorded names), everything else recorded
    assert not [q for q in client.asked if any(name in q for name in older)]
    assert [q for q in client.asked if "workflow_failed_total" in q and "rate(" in q]
    assert len(client.asked) == len(record_slugs())
    (note,) = [n for n in summary.notes if n.startswith("Recording rules:")]
    assert "do not cover the window" not in note
    assert note.endswith(
        "another version's rules file (install this version's, see docs/deploy.md, Recording "
        "rules): workflow_failures_per_sec."
    ), note


class ReloadedClient(FakeClient):
    """:class:`FakeClient` whose recorded names in ``reloaded`` are in this version's form only from
    ``since`` on (an older rules file's before): the rules file was replaced within the window."""

    def __init__(self, present: set[str], reloaded: set[str], since: float) -> None:
        super().__init__(present)
        self.reloaded = reloaded
        self.since = since

    async def metric_names(self, names: Iterable[str], start: float, end: float, matchers: str = "") -> set[str]:
        found = self.present & set(names)
        if "bp_form=~" in matchers and end < self.since:
            return found - self.reloaded
        return found


async def test_a_rules_file_replaced_within_the_window_is_not_called_another_version_s() -> None:
    # this version's form at the window's end but not at its start: the family's recorded series do not
    # cover the window, which the note says as it always has
    dialect = Dialect.OPENTELEMETRY
    failures = slugs_by("workflow_failures_per_sec")
    names = {n for n in _everything(dialect) if "workflow_failures_per_sec" in n}
    end = datetime(2026, 1, 1, tzinfo=UTC)
    plan = plan_window(end - timedelta(hours=1), end, 15)
    client = ReloadedClient(_everything(dialect), names, since=plan.start + 60)
    collector = TelemetryCollector(client, dialect=dialect, cpu_source="none")
    recorded = await collector.detect_recorded(plan, Scope("c", None, None), dialect)
    assert failures in recorded.missing and not recorded.outdated
    assert recorded.found and failures not in recorded.found


async def test_no_recorded_series_or_told_not_to_means_raw_and_no_note() -> None:
    end = datetime(2026, 1, 1, tzinfo=UTC)
    for present, use in (
        (
            _everything(Dialect.OPENTELEMETRY) - {n for n in _everything(Dialect.OPENTELEMETRY) if n.startswith("bp:")},
            True,
        ),
        (_everything(Dialect.OPENTELEMETRY), False),
    ):
        client = FakeClient(present)
        collector = TelemetryCollector(client, dialect=Dialect.OPENTELEMETRY, cpu_source="none", use_recorded=use)
        summary = await collector.collect(Scope("c", "ns", None), end - timedelta(hours=1), end)
        assert not any("bp:" in q for q in client.asked)
        assert not [n for n in summary.notes if n.startswith("Recording rules:")]


def test_a_whole_cluster_reads_its_own_view_and_falls_back_to_the_scoped_one() -> None:
    dispatch = slugs_by("task_dispatch_latency")
    # a whole cluster reads neither task queues nor namespaces of the dispatch latency: one series per bucket
    assert view_labels(dispatch, RuleView.CLUSTER, "cluster") == ("cluster", "le")
    # and task-queue families keep the namespace a whole cluster is split by
    s2s = slugs_by("workflow_schedule_to_start")
    assert view_labels(s2s, RuleView.CLUSTER, "cluster") == ("namespace", "cluster", "le")
    # a query a whole cluster reads by every label it keeps has no view of its own
    assert rule_views(slugs_by("pool_open_count")) == (RuleView.SCOPED,)
    names = [
        recorded_name(q, s, Dialect.TALLY, RULE_TIERS[1], v) for q, s in record_slugs().items() for v in rule_views(q)
    ]
    assert len(set(names)) == len(names)
    assert recorded_name(dispatch, "task_dispatch_latency", Dialect.TALLY, RULE_TIERS[1], RuleView.CLUSTER) == (
        "bp_tally_cluster:task_dispatch_latency:rate2m_bucket"
    )


@pytest.mark.parametrize("cluster_view", [True, False])
async def test_whole_cluster_profiles_read_the_cluster_view_where_it_is_there(cluster_view: bool) -> None:
    dialect = Dialect.OPENTELEMETRY
    present = _everything(dialect)
    if not cluster_view:  # rules installed before the cluster view existed
        present = {n for n in present if not n.startswith("bp_cluster:")}
    end = datetime(2026, 1, 1, tzinfo=UTC)
    asked: dict[str, list[str]] = {}
    for name, scope in (("cluster", Scope("c", None, None)), ("namespace", Scope("c", "ns", None))):
        client = FakeClient(present)
        collector = TelemetryCollector(client, dialect=dialect, cpu_source="none")
        await collector.collect(scope, end - timedelta(hours=24), end)
        asked[name] = client.asked
    dispatch = next(q for q in asked["cluster"] if ":task_dispatch_latency:" in q)
    view = RuleView.CLUSTER if cluster_view else RuleView.SCOPED
    name = recorded_name(slugs_by("task_dispatch_latency"), "task_dispatch_latency", dialect, RULE_TIERS[1], view)
    form = rule_form(slugs_by("task_dispatch_latency"), "task_dispatch_latency", dialect, None, RULE_TIERS[1], view)
    assert dispatch == f'sum by (le) (avg_over_time({name}{{bp_form="{form}"}}[288s]))', dispatch
    assert not [q for q in asked["namespace"] if "bp_cluster:" in q]
    assert len(asked["cluster"]) == len(asked["namespace"]) == len(record_slugs())


def test_histograms_are_asked_first() -> None:
    collector = TelemetryCollector(FakeClient(set()))
    end = datetime(2026, 1, 1, tzinfo=UTC)
    from behaviour_profiles.telemetry import plan_window

    plan = plan_window(end - timedelta(hours=1), end, 15)
    queries = list(collector.queries(Dialect.OPENTELEMETRY, Scope("c", None, None), plan))
    kinds = [isinstance(q, BucketRates) for q in queries]
    assert kinds == sorted(kinds, reverse=True) and kinds[0]


def test_the_note_and_the_rules_check_word_the_same_states() -> None:
    states = {
        "a": RecordedState.RECORDED,
        "b": RecordedState.OLDER_RULES,
        "c": RecordedState.PARTIAL,
        "d": RecordedState.ABSENT,
        "e": RecordedState.NO_DATA,
        "f": RecordedState.NOT_RECORDED,
    }
    assert recorded_note(states) == (
        "Recording rules: 1 of 6 metrics were read from the recorded series of the behaviour-profiles rules; "
        f"read from raw series, {NOT_COVERING_WORDS}: c, d; read from raw series, {OLDER_RULES_WORDS}: b."
    )
    # after an upgrade from a rules file of another version, every recorded metric is older: said once
    older = {"a": RecordedState.OLDER_RULES, "b": RecordedState.OLDER_RULES, "c": RecordedState.NO_DATA}
    assert recorded_note(older) == (
        "Recording rules: 0 of 3 metrics were read from the recorded series of the behaviour-profiles rules; "
        f"every metric they record was read from raw series, {OLDER_RULES_WORDS}."
    )
    summary = rules_summary(states, in_use=True)
    assert summary.startswith("1 of 6 metrics would be read from the recorded series of this version's rules; 1 ")
    assert summary.count("; ") == 5 and "PROMETHEUS_RECORDING_RULES" not in summary
    assert rules_summary(states, in_use=False).endswith(
        "(PROMETHEUS_RECORDING_RULES=false): every profile reads raw series."
    )


async def test_an_upgrade_from_rules_without_forms_is_read_raw_and_said_once() -> None:
    dialect = Dialect.OPENTELEMETRY
    everything = _everything(dialect)
    recorded_names = {n for n in everything if n.startswith(("bp:", "bp_cluster:"))}
    client = FormsClient(everything, recorded_names)  # every recorded name in another form only
    collector = TelemetryCollector(client, dialect=dialect, cpu_source="none")
    end = datetime(2026, 1, 1, tzinfo=UTC)
    summary = await collector.collect(Scope("c", None, None), end - timedelta(hours=1), end)
    assert not [q for q in client.asked if "bp:" in q or "bp_cluster:" in q]
    (note,) = [n for n in summary.notes if n.startswith("Recording rules:")]
    assert note.endswith(f"every metric they record was read from raw series, {OLDER_RULES_WORDS}."), note
