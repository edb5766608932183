"""The shipped recording rules on a real Prometheus: the collector reads them and gives the raw numbers.

A Prometheus of its own holds the judgement plan (:func:`copilot.dev.simulator.judgement_plan`) and the
recorded series of every catalogue query but one family's (the shard lock histogram), backfilled with
``promtool tsdb create-blocks-from rules``. The workflow failures are recorded only as a rules file
without forms (the one before ``bp_form``) recorded them, and the starts both ways, side by side. Each
placement is collected twice, from recorded series where they exist and from raw series only; the
summaries, the diffs against healthy-150wps and the verdicts must agree, the family without recorded
series must be read raw, alone, and named in the profile, and so must the one recorded by the older file.
The raw collection reads each histogram's buckets only where its percentiles need them; a third collection
reads every bucket, and every metric must be the same as the raw one's.
"""

from __future__ import annotations

import math
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import parse_qsl

import httpx
import pytest
import yaml

from behaviour_profiles.catalogue import (
    BY_KEY,
    CATALOGUE,
    RULE_TIERS,
    BucketRates,
    Dialect,
    GaugeAgg,
    Quantile,
    RuleView,
    record_slugs,
    rule_views,
    series_queries,
)
from behaviour_profiles.comparison import judge_telemetry, verdict_and_summary
from behaviour_profiles.models import CompareOptions, MetricStatus, TelemetrySummary
from behaviour_profiles.telemetry import (
    FORM_LABEL,
    PROBE_POINTS,
    PrometheusClient,
    Scope,
    TelemetryCollector,
    plan_window,
    recording_rules,
)
from copilot.dev.local import load_scenarios
from copilot.dev.simulator import JUDGEMENT_SCENARIOS, Placement, judgement_plan
from copilot.dev.stack import LocalStack, StackConfig, free_port
from tests.integration.conftest import Stack
from tests.support import serve

pytestmark = pytest.mark.stack

HEALTHY = "healthy-150wps"
WITHOUT_RULES = frozenset({"shard_lock_latency_p95"})
"""The family left out of the backfilled rules: its recorded series are missing."""
OLDER_RULES = "workflow_failures_per_sec"
"""The metric whose recorded series only an older rules file wrote (no :data:`FORM_LABEL`): read raw."""
BOTH_RULES = "workflows_started_per_sec"
"""The metric recorded by this version's rules and by the older file beside them: only this version's read."""
TOLERANCE = 0.01
"""Of the window's mean, the statistic profiles are judged by."""
POINT_TOLERANCE = 0.05
COARSE_TOLERANCE = 0.02
"""Of an hour's mean read from the 2 m tier: a recorded point lags by up to 2 m, 3 % of the hour (over the
24 h that tier is for, bench/collect.py measures the means within 1 %)."""
"""Of its median and p95: each recorded point is the raw value up to one rule interval earlier."""


@pytest.fixture(scope="module")
def recorded_prometheus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, list[Placement]]]:
    local = LocalStack(StackConfig(state_dir=Path(tmp_path_factory.mktemp("rules")), prometheus_port=free_port()))
    try:
        placements = judgement_plan(datetime.now(UTC))
        load_scenarios(local, placements)
        start = min(p.start for p in placements).timestamp()
        end = max(p.start + p.duration for p in placements).timestamp()
        specs = tuple(spec for spec in CATALOGUE if spec.key not in WITHOUT_RULES)
        local.backfill_rules(start, end, with_an_older_file(recording_rules(specs)))
        yield local.prometheus_url, placements
    finally:
        local.down()


def with_an_older_file(rules: str) -> str:
    """``rules`` with the rules of :data:`OLDER_RULES` as a rules file without forms wrote them, and
    those of :data:`BOTH_RULES` written both ways."""
    older, both = record_slugs()[series_queries(BY_KEY[OLDER_RULES])[0]], BY_KEY[BOTH_RULES]
    both_slugs = {record_slugs()[q] for q in series_queries(both)}
    document = yaml.safe_load(rules)
    for group in document["groups"]:
        kept = []
        for rule in group["rules"]:
            slug = rule["record"].split(":")[1]
            formless = {k: v for k, v in rule["labels"].items() if k != FORM_LABEL}
            old = {"record": rule["record"], "expr": rule["expr"]} | ({"labels": formless} if formless else {})
            kept += [old] if slug == older else [rule, old] if slug in both_slugs else [rule]
        group["rules"] = kept
    return yaml.safe_dump(document, sort_keys=False)


@dataclass
class Collected:
    """Each placement's summaries by scope: ``namespace`` (its namespace and task queue, read from the
    scoped view) and ``cluster`` (its whole cluster over the same hour, read from the cluster view)."""

    recorded: dict[str, dict[str, TelemetrySummary]]
    raw: dict[str, dict[str, TelemetrySummary]]
    every_bucket: dict[str, dict[str, TelemetrySummary]]
    """Raw series, every bucket of each histogram read (``raw`` reads only those its percentiles need)."""
    raw_reads: dict[str, dict[str, list[dict[str, str]]]]
    """The range queries ``raw`` sent (their form fields), by scope and placement."""

    def pairs(self) -> Iterator[tuple[str, str, TelemetrySummary, TelemetrySummary]]:
        """(scope, scenario, recorded, raw) for every scope and placement."""
        for scope, by_scenario in self.recorded.items():
            for scenario, recorded in by_scenario.items():
                yield scope, scenario, recorded, self.raw[scope][scenario]


@pytest.fixture(scope="module")
async def collected(recorded_prometheus: tuple[str, list[Placement]]) -> AsyncIterator[Collected]:
    url, placements = recorded_prometheus
    reads: list[dict[str, str]] = []

    async def read(request: httpx.Request) -> None:
        if request.url.path.endswith("/query_range"):
            reads.append(dict(parse_qsl(request.content.decode())))

    async with httpx.AsyncClient() as http, httpx.AsyncClient(event_hooks={"request": [read]}) as watched:
        client = PrometheusClient(http, url)
        with_rules = TelemetryCollector(client, cluster_label="cluster")
        # (bucket by bucket even in an hour, where the collector's default reads every bucket: it pays for
        # longer windows, and the numbers must be the same whatever the window)
        raw_only = TelemetryCollector(
            PrometheusClient(watched, url), cluster_label="cluster", use_recorded=False, narrow_buckets=True
        )
        whole = TelemetryCollector(client, cluster_label="cluster", use_recorded=False, narrow_buckets=False)
        out = Collected({}, {}, {}, {})
        for p in placements:
            end = p.start + p.duration
            for name, scope in scopes_of(p).items():
                out.recorded.setdefault(name, {})[p.scenario] = await with_rules.collect(scope, p.start, end)
                reads.clear()
                out.raw.setdefault(name, {})[p.scenario] = await raw_only.collect(scope, p.start, end)
                out.raw_reads.setdefault(name, {})[p.scenario] = list(reads)
                out.every_bucket.setdefault(name, {})[p.scenario] = await whole.collect(scope, p.start, end)
        yield out


def scopes_of(p: Placement) -> dict[str, Scope]:
    return {"namespace": Scope(p.cluster, p.namespace, p.task_queue), "cluster": Scope(p.cluster, None, None)}


async def test_the_recorded_series_are_found_for_every_family_with_data_but_the_one_left_out(
    recorded_prometheus: tuple[str, list[Placement]], collected: Collected
) -> None:
    url, placements = recorded_prometheus
    healthy = next(p for p in placements if p.scenario == HEALTHY)
    async with httpx.AsyncClient() as http:
        collector = TelemetryCollector(PrometheusClient(http, url), cluster_label="cluster")
        plan = plan_window(healthy.start, healthy.start + healthy.duration, 15)
        found = await collector.detect_recorded(
            plan, Scope(healthy.cluster, None, None, "cluster"), Dialect.OPENTELEMETRY
        )
        scoped = await collector.detect_recorded(
            plan, Scope(healthy.cluster, healthy.namespace, healthy.task_queue, "cluster"), Dialect.OPENTELEMETRY
        )
    left_out = {q for spec in CATALOGUE if spec.key in WITHOUT_RULES for q in series_queries(spec)}
    older = set(series_queries(BY_KEY[OLDER_RULES]))
    # every recordable query with raw series in the window is found, but the family left out and the one an
    # older rules file recorded, which is told apart; the one recorded both ways is found
    # (13 are not: those two, and 11 with no series in the healthy hour, among them the two queries of
    # the activity failures, split by type and by outcome: no attempt failed there)
    assert len(found.found) >= len(record_slugs()) - 13
    assert not (left_out | older) & found.found.keys()
    assert set(found.missing) == left_out | older
    assert set(found.outdated) == set(scoped.outdated) == older
    assert set(series_queries(BY_KEY[BOTH_RULES])) <= found.found.keys()
    assert found.found.keys() == scoped.found.keys()
    # a whole cluster reads its own view where the rules record one, a namespace the scoped view
    for query, recorded in found.found.items():
        assert recorded.name.startswith("bp_cluster:" if RuleView.CLUSTER in rule_views(query) else "bp:"), query
    assert all(r.name.startswith("bp:") for r in scoped.found.values())
    assert any(r.name.startswith("bp_cluster:") for r in found.found.values())


def test_every_metric_reads_the_same_from_recorded_and_raw_series(collected: Collected) -> None:
    for scope, scenario, recorded, raw in collected.pairs():
        assert recorded.metrics.keys() == raw.metrics.keys()
        for key, r in recorded.metrics.items():
            w = raw.metrics[key]
            assert r.status is w.status, (scope, scenario, key, r.reason, w.reason)
            if r.status is not MetricStatus.OK:
                continue
            assert r.sample_count == w.sample_count, (scope, scenario, key)
            # A recorded sample is the raw value at the rule's evaluation, up to RULE_INTERVAL_S before the
            # grid point: the window's mean agrees within 1 %, its points within their noise, a single
            # extreme point (min, max, p99 of 240 points) need not.
            # (a rate may also differ by one event in the window: a rare counter's increment at its edge)
            rare = 1 / (placement_seconds := 3600) if r.unit == "1/s" else 0.0
            assert math.isclose(r.mean or 0, w.mean or 0, rel_tol=TOLERANCE, abs_tol=rare or 1e-9), (
                scope,
                scenario,
                key,
                r.mean,
                w.mean,
                placement_seconds,
            )
            for stat in ("p50", "p95"):
                # (a rare counter's rate moves by one event per sampled span of its rate window: four samples
                # 15 s apart span 45 s of the 60 s, so 1/45 per second, whatever the phase; a gauge of a
                # few tasks moves by one task when a lagged recorded point lands on its neighbour; a noisy
                # ratio's percentile by up to its noise floor, what a comparison calls no change: half of it
                # was seen exceeded, 0.0657 against 0.0606 for async_match_rate's p95, depending on where the
                # rule evaluations fell against the grid)
                mine, theirs = getattr(r, stat) or 0, getattr(w, stat) or 0
                step = 1 / 45 if rare else {"tasks": 1.0, "ratio": BY_KEY[key].noise_floor}.get(r.unit, 1e-9)
                close = math.isclose(mine, theirs, rel_tol=POINT_TOLERANCE, abs_tol=step)
                assert close, (scope, scenario, key, stat, mine, theirs)


def test_histograms_read_for_only_the_buckets_their_percentiles_need_give_every_bucket_s_numbers(
    collected: Collected,
) -> None:
    for scope, by_scenario in collected.raw.items():
        for scenario, raw in by_scenario.items():
            whole = collected.every_bucket[scope][scenario]
            assert raw.metrics == whole.metrics, (scope, scenario)
    # and they were read so: the healthy hour's task dispatch latency, one histogram of 14 bounds, in a
    # look at 5 instants (every bucket, one point each) and then a few of its buckets over the whole hour
    for scope, reads in ((scope, collected.raw_reads[scope][HEALTHY]) for scope in collected.raw_reads):
        dispatch = [r for r in reads if "task_dispatch_latency" in r["query"]]
        looks = [r for r in dispatch if 'le=~"' not in r["query"]]
        narrowed = [r for r in dispatch if 'le=~"' in r["query"]]
        assert len(looks) == PROBE_POINTS and all(r["start"] == r["end"] for r in looks), (scope, looks)
        assert narrowed and all(float(r["end"]) - float(r["start"]) > 3000 for r in narrowed), (scope, narrowed)
        read = {le for r in narrowed for le in r["query"].split('le=~"')[1].split('"')[0].split("|")}
        assert "[+]Inf" in read and 2 <= len(read) <= 6, (scope, read)


def test_the_judgement_is_the_same_either_way(collected: Collected) -> None:
    options = CompareOptions(include_all=True)
    for scope, scenario in ((scope, scenario) for scope in collected.recorded for scenario in JUDGEMENT_SCENARIOS):
        recorded, raw = collected.recorded[scope], collected.raw[scope]
        by_rules = judge_telemetry(recorded[HEALTHY].metrics, recorded[scenario].metrics, options)
        by_raw = judge_telemetry(raw[HEALTHY].metrics, raw[scenario].metrics, options)
        assert verdict_and_summary(by_rules)[0] == verdict_and_summary(by_raw)[0], (scope, scenario)
        raw_diffs = {d.metric: d for d in by_raw}
        assert {d.metric for d in by_rules} == raw_diffs.keys()
        for d in by_rules:
            w = raw_diffs[d.metric]
            assert (d.direction, d.severity, d.beyond_threshold) == (w.direction, w.severity, w.beyond_threshold), (
                scope,
                scenario,
                d.metric,
                d.change_pct,
                w.change_pct,
            )
            if d.change_pct is not None and w.change_pct is not None:
                # within 1 point, or 1 % of the change itself (a x5,000 backlog moves by hundreds of points)
                allowed = max(1.0, abs(w.change_pct) / 100)
                assert abs(d.change_pct - w.change_pct) <= allowed, (
                    scope,
                    scenario,
                    d.metric,
                    d.change_pct,
                    w.change_pct,
                )


def test_the_family_without_recorded_series_is_read_raw_alone_and_named(collected: Collected) -> None:
    read_raw = set(WITHOUT_RULES)
    for scope, scenario, summary, raw in collected.pairs():
        (note,) = [n for n in summary.notes if n.startswith("Recording rules:")]
        listed = note.split("do not cover the window: ")[1].split("; ")[0].rstrip(".").split(", ")
        assert read_raw <= set(listed), (scope, scenario, note)
        assert OLDER_RULES not in listed, (scope, scenario, note)
        assert summary.metrics["shard_lock_latency_p95"].status is MetricStatus.OK, (scope, scenario)
        assert not [n for n in raw.notes if n.startswith("Recording rules:")]


def test_a_family_an_older_rules_file_recorded_is_read_raw_with_its_contributors_and_named(
    collected: Collected,
) -> None:
    placed = 0
    for scope, scenario, summary, raw in collected.pairs():
        (note,) = [n for n in summary.notes if n.startswith("Recording rules:")]
        older = note.split("another version's rules file (install this version's, ")[1]
        assert older.split(": ")[1] == f"{OLDER_RULES}.", (scope, scenario, note)
        # read raw: the very same numbers and contributors as a raw-only collection
        mine, theirs = summary.metrics[OLDER_RULES], raw.metrics[OLDER_RULES]
        assert (mine.mean, mine.p95, mine.contributors) == (theirs.mean, theirs.p95, theirs.contributors)
        placed += mine.contributors is not None and bool(mine.contributors.top)
    assert placed  # the failures were placed somewhere, as the older file's recorded series could not
    quantiles = [spec.key for spec in CATALOGUE if isinstance(spec.computation, Quantile)]
    assert set(quantiles) > WITHOUT_RULES


async def test_a_long_rate_window_reads_the_coarse_tier_and_the_same_means(
    recorded_prometheus: tuple[str, list[Placement]],
) -> None:
    """Histograms whose rates look back 4 minutes (a 60 s scrape interval) read the 2 m tier, as a profile
    over 10 h or more does, and rates the 1 m tier; the placements' hours are continuous data, so the
    means agree."""
    url, placements = recorded_prometheus
    async with httpx.AsyncClient() as http:
        client = PrometheusClient(http, url)
        with_rules = TelemetryCollector(client, scrape_interval_s=60, cluster_label="cluster")
        raw_only = TelemetryCollector(client, scrape_interval_s=60, cluster_label="cluster", use_recorded=False)
        for p in placements[:3]:
            end = p.start + p.duration
            plan = plan_window(p.start, end, 60)
            assert plan.rate_window >= RULE_TIERS[1].window_s
            found = await with_rules.detect_recorded(
                plan, Scope(p.cluster, p.namespace, p.task_queue, "cluster"), Dialect.OPENTELEMETRY
            )
            assert {r.tier for q, r in found.found.items() if isinstance(q, BucketRates)} == {RULE_TIERS[1]}
            assert {r.tier for q, r in found.found.items() if not isinstance(q, BucketRates)} == {RULE_TIERS[0]}
            scope = Scope(p.cluster, p.namespace, p.task_queue)
            recorded = await with_rules.collect(scope, p.start, end)
            raw = await raw_only.collect(scope, p.start, end)
            rare = 2 / p.duration.total_seconds()  # a rare counter: one event at each end of the hour
            for key, r in recorded.metrics.items():
                w = raw.metrics[key]
                assert r.status is w.status, (p.scenario, key)
                # gauges have the fine tier only, sampled here at 60 s steps: the test above covers them
                if r.status is MetricStatus.OK and not all(
                    isinstance(q, GaugeAgg) for q in series_queries(BY_KEY[key])
                ):
                    tolerance = rare if r.unit == "1/s" else 1e-9
                    close = math.isclose(r.mean or 0, w.mean or 0, rel_tol=COARSE_TOLERANCE, abs_tol=tolerance)
                    assert close, (p.scenario, key, r.mean, w.mean)


async def test_the_rules_check_says_what_each_metric_would_read_and_why(
    stack: Stack, recorded_prometheus: tuple[str, list[Placement]]
) -> None:
    url, placements = recorded_prometheus
    first = min(placements, key=lambda p: p.start)
    healthy = next(p for p in placements if p.scenario == HEALTHY)
    hour = {"start": healthy.start.isoformat(), "end": (healthy.start + healthy.duration).isoformat()}
    async with serve(stack.settings(prometheus_endpoint=url)) as http:
        answer = await http.get("/profiles/recording-rules", params={"cluster": healthy.cluster, **hour})
        assert answer.status_code == 200, answer.text
        status = answer.json()
        # a window whose start is before the rules' history (the backfill starts with the data)
        straddling = await http.get(
            "/profiles/recording-rules",
            params={
                "cluster": first.cluster,
                "namespace": first.namespace,
                "start": (first.start - timedelta(minutes=30)).isoformat(),
                "end": (first.start + timedelta(minutes=30)).isoformat(),
            },
        )
        future = await http.get(
            "/profiles/recording-rules",
            params={"cluster": healthy.cluster, "end": (datetime.now(UTC) + timedelta(hours=1)).isoformat()},
        )
    states = {m["metric"]: m["state"] for m in status["metrics"]}
    assert states[OLDER_RULES] == "older_rules"
    assert {states[key] for key in WITHOUT_RULES} == {"absent"}
    assert states[BOTH_RULES] == "recorded"
    recorded = [m for m in status["metrics"] if m["state"] == "recorded"]
    assert len(recorded) >= len(states) - 12
    # a whole cluster reads the cluster view where there is one
    series = {m["metric"]: m["series"] for m in recorded}
    assert series["task_dispatch_latency"] == ["bp_cluster:task_dispatch_latency:rate1m_bucket"]
    assert all(m["series"] == [] for m in status["metrics"] if m["state"] != "recorded")
    assert status["in_use"] is True and status["dialect"] == "opentelemetry"
    assert status["summary"].startswith(f"{len(recorded)} of {len(states)} metrics would be read from")
    assert "; 1 read raw, recorded by another version's rules file only (install this version's)" in status["summary"]
    # every metric with data in the straddling window reads raw there: its rules start within it
    partly = {m["metric"]: m["state"] for m in straddling.json()["metrics"]}
    assert partly[BOTH_RULES] == partly["task_dispatch_latency"] == "partial", partly
    assert "recorded" not in partly.values()
    assert future.status_code == 422 and "in the future" in future.json()["detail"]


async def test_the_rules_check_says_when_the_api_does_not_read_them(
    stack: Stack, recorded_prometheus: tuple[str, list[Placement]]
) -> None:
    url, placements = recorded_prometheus
    healthy = next(p for p in placements if p.scenario == HEALTHY)
    settings = stack.settings(prometheus_endpoint=url, prometheus_recording_rules=False)
    async with serve(settings) as http:
        answer = await http.get(
            "/profiles/recording-rules",
            params={"cluster": healthy.cluster, "end": (healthy.start + healthy.duration).isoformat()},
        )
    status = answer.json()
    assert status["in_use"] is False and "PROMETHEUS_RECORDING_RULES=false" in status["summary"]
    assert status["metrics"] and any(m["state"] == "recorded" for m in status["metrics"])  # looked up anyway
