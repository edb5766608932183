"""The workload simulator: its OpenMetrics output parsed back and checked for shape and behaviour."""

from __future__ import annotations

import io
import itertools
import json
import math
import re
import shutil
import subprocess
import time
import urllib.parse
import urllib.request
from collections import defaultdict
from dataclasses import dataclass, field, fields, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from behaviour_profiles.catalogue import Dialect
from copilot.dev.simulator import (
    JUDGEMENT_SCENARIOS,
    SCENARIOS,
    SLOW_QUEUE,
    SLOW_QUEUE_SCENARIO,
    Latency,
    Placement,
    demo_plan,
    judgement_plan,
    write_openmetrics,
)
from copilot.dev.stack import free_port

NOW = datetime(2025, 6, 1, 12, 34, 56, tzinfo=UTC)
ANCHOR = datetime(2025, 6, 1, 6, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)

_LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')
_SAMPLE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})? (\S+) (\S+)$")

Key = tuple[str, tuple[tuple[str, str], ...]]


@dataclass
class Parsed:
    text: str
    types: dict[str, str] = field(default_factory=dict)
    sample_types: dict[str, str] = field(default_factory=dict)
    """sample name -> its family's type"""
    series: dict[Key, list[tuple[float, float]]] = field(default_factory=lambda: defaultdict(list))
    sample_count: int = 0

    def names(self) -> set[str]:
        return {name for name, _ in self.series}

    def of(self, name: str, **match: str) -> dict[Key, list[tuple[float, float]]]:
        return {
            k: v
            for k, v in self.series.items()
            if k[0] == name and all(dict(k[1]).get(lk) == lv for lk, lv in match.items())
        }

    def one(self, name: str, **match: str) -> list[tuple[float, float]]:
        found = self.of(name, **match)
        assert len(found) == 1, (name, match, list(found))
        return next(iter(found.values()))


def parse(text: str) -> Parsed:
    """Parse the simulator's output, asserting the OpenMetrics layout on the way."""
    p = Parsed(text)
    lines = text.split("\n")
    assert lines[-1] == "" and lines[-2] == "# EOF", "output must end with '# EOF\\n'"
    family: str | None = None
    for line in lines[:-2]:
        assert line, "no blank lines allowed"
        if line.startswith("#"):
            _, kw, name, typ = line.split(" ")
            assert kw == "TYPE"
            assert name not in p.types, f"family {name} declared twice (samples not contiguous)"
            p.types[name] = typ
            family = name
            continue
        m = _SAMPLE.match(line)
        assert m, line
        name, raw_labels, value, ts = m.groups()
        assert family is not None and name.startswith(family), f"{name} outside its family {family}"
        p.sample_types[name] = p.types[family]
        labels = tuple(_LABEL.findall(raw_labels or ""))
        assert len({k for k, _ in labels}) == len(labels), line
        p.series[(name, labels)].append((float(ts), float(value)))
        p.sample_count += 1
    return p


def render(placements: list[Placement], **kwargs: object) -> tuple[str, int]:
    buf = io.StringIO()
    n = write_openmetrics(buf, placements, **kwargs)  # type: ignore[arg-type]
    return buf.getvalue(), n


def small_plan(minutes: int = 20) -> list[Placement]:
    d = timedelta(minutes=minutes)
    return [
        Placement("healthy-150wps", "default", ANCHOR, d),
        Placement("healthy-150wps", "payments", ANCHOR, d, load_factor=0.4),
        Placement("failing-400wps", "default", ANCHOR + HOUR, d),
    ]


@pytest.fixture(scope="module")
def demo() -> Parsed:
    text, n = render(demo_plan(NOW))
    p = parse(text)
    assert p.sample_count == n
    return p


def in_window(points: list[tuple[float, float]], start: datetime, end: datetime) -> list[tuple[float, float]]:
    return [(t, v) for t, v in points if start.timestamp() <= t < end.timestamp()]


def rate(points: list[tuple[float, float]]) -> float:
    (t0, v0), (t1, v1) = points[0], points[-1]
    return (v1 - v0) / (t1 - t0)


def quantile(q: float, buckets: dict[float, float]) -> float:
    """Prometheus-style histogram_quantile over cumulative bucket increases."""
    bounds = sorted(buckets)
    total = buckets[math.inf]
    rank = q * total
    prev_bound, prev_count = 0.0, 0.0
    for b in bounds:
        if buckets[b] >= rank:
            if math.isinf(b):
                return prev_bound
            return prev_bound + (b - prev_bound) * (rank - prev_count) / max(buckets[b] - prev_count, 1e-9)
        prev_bound, prev_count = b, buckets[b]
    raise AssertionError("unreachable")


def window_buckets(p: Parsed, family: str, start: datetime, end: datetime, **match: str) -> dict[float, float]:
    out: dict[float, float] = defaultdict(float)
    for (_, labels), points in p.of(f"{family}_bucket", **match).items():
        pts = in_window(points, start, end)
        out[float(dict(labels)["le"])] += pts[-1][1] - pts[0][1]
    return out


# --- layout ------------------------------------------------------------------------------------


def test_demo_plan_layout() -> None:
    plan = demo_plan(NOW)
    assert [(p.scenario, p.namespace, p.start, p.duration, p.load_factor) for p in plan] == [
        ("healthy-150wps", "default", ANCHOR, HOUR, 1.0),
        ("healthy-150wps", "payments", ANCHOR, HOUR, 0.4),
        ("failing-400wps", "default", ANCHOR + 2 * HOUR, HOUR, 1.0),
        ("failing-400wps", "payments", ANCHOR + 2 * HOUR, HOUR, 0.4),
        ("latency-family-up-80", "default", ANCHOR + 4 * HOUR, HOUR, 1.0),
    ]
    assert {(p.cluster, p.task_queue) for p in plan} == {("temporal-dev", "main-queue")}
    assert demo_plan(NOW.replace(tzinfo=None)) == plan


def test_scenarios_named() -> None:
    assert {"healthy-150wps", "failing-400wps"} <= set(SCENARIOS)
    for name, scenario in SCENARIOS.items():
        assert scenario.name == name and scenario.description


def test_format_eof_contiguous_families_and_count(demo: Parsed) -> None:
    # parse() asserts '# EOF' last, one TYPE per family and contiguous samples
    assert demo.text.count("# EOF") == 1
    assert demo.sample_count == sum(len(v) for v in demo.series.values())
    assert demo.types["service_requests"] == "counter"
    assert demo.types["persistence_latency_milliseconds"] == "histogram"
    assert demo.types["dsql_pool_open"] == "gauge"


def test_series_timestamps_strictly_ascending_without_duplicates(demo: Parsed) -> None:
    for key, points in demo.series.items():
        stamps = [t for t, _ in points]
        assert all(a < b for a, b in itertools.pairwise(stamps)), key


def test_samples_on_the_scrape_grid_inside_the_windows(demo: Parsed) -> None:
    windows = [(ANCHOR, ANCHOR + HOUR), (ANCHOR + 2 * HOUR, ANCHOR + 3 * HOUR), (ANCHOR + 4 * HOUR, ANCHOR + 5 * HOUR)]
    points = demo.one("service_requests_total", namespace="default")
    assert len(points) == 3 * 240
    for t, _ in points:
        assert any(s.timestamp() <= t < e.timestamp() for s, e in windows)
        assert (t - ANCHOR.timestamp()) % 15 == 0


# --- value shapes ------------------------------------------------------------------------------


def _cumulative_names(p: Parsed) -> set[str]:
    return {n for n, t in p.sample_types.items() if t != "gauge"}


def test_counters_monotonic_from_zero_per_window(demo: Parsed) -> None:
    names = _cumulative_names(demo)
    assert "service_requests_total" in names and "dsql_tx_conflict_total" in names
    for (name, labels), points in demo.series.items():
        if name not in names:
            continue
        for start in (ANCHOR, ANCHOR + 2 * HOUR):
            pts = in_window(points, start, start + HOUR)
            if not pts:
                continue
            assert pts[0] == (start.timestamp(), 0.0), (name, labels)
            values = [v for _, v in pts]
            assert all(a <= b for a, b in itertools.pairwise(values)), (name, labels)


def test_histograms_cumulative_and_inf_equals_count(demo: Parsed) -> None:
    families = [f for f, t in demo.types.items() if t == "histogram"]
    assert set(families) == {
        "state_transition_count_ratio",
        "task_schedule_to_start_latency_milliseconds",
        "persistence_latency_milliseconds",
        "task_dispatch_latency_milliseconds",
        "service_latency_milliseconds",
        "lock_latency_milliseconds",
        "activity_start_to_close_latency_milliseconds",
    }
    for fam in families:
        groups: dict[tuple[tuple[str, str], ...], dict[float, list[tuple[float, float]]]] = defaultdict(dict)
        for (_, labels), points in demo.of(f"{fam}_bucket").items():
            rest = tuple(kv for kv in labels if kv[0] != "le")
            le = dict(labels)["le"]
            assert le == "+Inf" or math.isfinite(float(le)), le
            groups[rest][float(le)] = points
        assert groups
        for rest, by_le in groups.items():
            assert math.inf in by_le and len(by_le) >= 10
            count = demo.series[(f"{fam}_count", rest)]
            total = demo.series[(f"{fam}_sum", rest)]
            bounds = sorted(by_le)
            for i, (t, c) in enumerate(count):
                column = [by_le[b][i] for b in bounds]
                assert all(by_le[b][i][0] == t for b in bounds)
                values = [v for _, v in column]
                assert all(a <= b for a, b in itertools.pairwise(values)), (fam, rest, t)
                assert values[-1] == c, (fam, rest, t)
                assert total[i][0] == t and (total[i][1] > 0) == (c > 0)


def test_lognormal_parameters_round_trip() -> None:
    from copilot.dev import simulator

    lat = Latency(6.0, 30.0)
    assert simulator._cdf(6.0, lat.median_ms, lat.sigma) == pytest.approx(0.5)
    assert simulator._cdf(30.0, lat.median_ms, lat.sigma) == pytest.approx(0.99)
    with pytest.raises(ValueError):
        Latency(10.0, 5.0)


def test_histogram_quantiles_match_the_scenario(demo: Parsed) -> None:
    healthy = window_buckets(
        demo,
        "persistence_latency_milliseconds",
        ANCHOR,
        ANCHOR + HOUR,
        namespace="default",
        operation="UpdateWorkflowExecution",
    )
    # healthy UpdateWorkflowExecution: median 6 ms, p99 30 ms (buckets ... 5, 10, 25, 50 ...)
    assert 5 <= quantile(0.5, healthy) <= 10
    assert 25 <= quantile(0.99, healthy) <= 50
    mean = demo.one("persistence_latency_milliseconds_sum", namespace="default", operation="UpdateWorkflowExecution")
    count = demo.one("persistence_latency_milliseconds_count", namespace="default", operation="UpdateWorkflowExecution")
    avg = in_window(mean, ANCHOR, ANCHOR + HOUR)[-1][1] / in_window(count, ANCHOR, ANCHOR + HOUR)[-1][1]
    assert 6 < avg < 12  # lognormal mean = median * exp(sigma^2 / 2) ~ 7.6


# --- scenario behaviour ------------------------------------------------------------------------

HEALTHY = (ANCHOR, ANCHOR + HOUR)
FAILING = (ANCHOR + 2 * HOUR, ANCHOR + 3 * HOUR)


def _rate(p: Parsed, name: str, window: tuple[datetime, datetime], **match: str) -> float:
    total = 0.0
    for points in p.of(name, **match).values():
        pts = in_window(points, *window)
        if pts:
            total += rate(pts)
    return total


def _gauge_mean(p: Parsed, name: str, window: tuple[datetime, datetime], **match: str) -> float:
    """Mean over time of the sum across matching series."""
    by_t: dict[float, float] = defaultdict(float)
    for points in p.of(name, **match).values():
        for t, v in in_window(points, *window):
            by_t[t] += v
    return sum(by_t.values()) / len(by_t)


def test_exhausted_retries_absent_when_healthy_present_when_failing(demo: Parsed) -> None:
    exhausted = demo.of("dsql_tx_exhausted_total")
    assert exhausted
    for points in exhausted.values():
        assert not in_window(points, *HEALTHY)
        assert in_window(points, *FAILING)
    assert _rate(demo, "dsql_tx_exhausted_total", FAILING) == pytest.approx(2.0, rel=0.15)

    healthy_only, _ = render([Placement("healthy-150wps", "default", ANCHOR, HOUR)])
    p = parse(healthy_only)
    for absent in ("dsql_tx_exhausted", "dsql_reservoir_empty", "dsql_reservoir_refill_failures"):
        assert absent not in p.types and f"{absent}_total" not in p.names()
    # its siblings are present, so the absent counters read as "never happened"
    assert "dsql_tx_conflict_total" in p.names() and "dsql_reservoir_refills_total" in p.names()


def test_failing_is_worse_than_healthy(demo: Parsed) -> None:
    ns = {"namespace": "default"}
    starts_h = _rate(demo, "service_requests_total", HEALTHY, **ns)
    starts_f = _rate(demo, "service_requests_total", FAILING, **ns)
    assert starts_h == pytest.approx(150, rel=0.03)
    assert starts_f == pytest.approx(400, rel=0.03)

    ok_h = _rate(demo, "workflow_success_total", HEALTHY, **ns)
    ok_f = _rate(demo, "workflow_success_total", FAILING, **ns)
    assert ok_h / starts_h == pytest.approx(0.98, abs=0.02)
    assert ok_f / starts_f < 0.65
    assert _rate(demo, "workflow_failed_total", FAILING, **ns) > 5 * _rate(demo, "workflow_failed_total", HEALTHY, **ns)

    closes_h = ok_h + _rate(demo, "workflow_failed_total", HEALTHY, **ns)
    transitions_h = _rate(demo, "state_transition_count_ratio_count", HEALTHY, **ns)
    assert transitions_h / closes_h == pytest.approx(8, rel=0.05)

    p99 = {
        w: quantile(0.99, window_buckets(demo, "persistence_latency_milliseconds", win[0], win[1], namespace="default"))
        for w, win in (("h", HEALTHY), ("f", FAILING))
    }
    assert p99["f"] > 3 * p99["h"]
    s2s = {
        w: quantile(
            0.95,
            window_buckets(
                demo,
                "task_schedule_to_start_latency_milliseconds",
                win[0],
                win[1],
                task_type="Workflow",
                namespace="default",
            ),
        )
        for w, win in (("h", HEALTHY), ("f", FAILING))
    }
    assert s2s["f"] > 10 * s2s["h"]

    conflicts_h = _rate(demo, "dsql_tx_conflict_total", HEALTHY)
    conflicts_f = _rate(demo, "dsql_tx_conflict_total", FAILING)
    assert conflicts_h == pytest.approx(0.5, rel=0.25)
    assert conflicts_f > 4 * conflicts_h

    sync_h = _rate(demo, "poll_success_sync_total", HEALTHY, **ns) / _rate(demo, "poll_success_total", HEALTHY, **ns)
    sync_f = _rate(demo, "poll_success_sync_total", FAILING, **ns) / _rate(demo, "poll_success_total", FAILING, **ns)
    assert sync_h == pytest.approx(0.95, abs=0.02)
    assert sync_f == pytest.approx(0.3, abs=0.05)

    fill_h = _gauge_mean(demo, "dsql_reservoir_size", HEALTHY) / _gauge_mean(demo, "dsql_reservoir_target", HEALTHY)
    fill_f = _gauge_mean(demo, "dsql_reservoir_size", FAILING) / _gauge_mean(demo, "dsql_reservoir_target", FAILING)
    assert fill_h > 0.9 and fill_f < 0.1
    assert _rate(demo, "dsql_reservoir_empty_total", FAILING) > 1.0
    assert _rate(demo, "dsql_reservoir_refill_failures_total", FAILING, reason="token_provider") > 0

    act = {**ns, "worker_type": "ActivityWorker"}
    used_f = _gauge_mean(demo, "temporal_worker_task_slots_used", FAILING, **act)
    free_f = _gauge_mean(demo, "temporal_worker_task_slots_available", FAILING, **act)
    used_h = _gauge_mean(demo, "temporal_worker_task_slots_used", HEALTHY, **act)
    free_h = _gauge_mean(demo, "temporal_worker_task_slots_available", HEALTHY, **act)
    assert used_h / (used_h + free_h) == pytest.approx(0.4, abs=0.03)
    assert used_f / (used_f + free_f) > 0.95
    # slots are per worker type, as a real SDK worker reports them: local-activity slots stay idle
    local = {**ns, "worker_type": "LocalActivityWorker"}
    assert _gauge_mean(demo, "temporal_worker_task_slots_used", FAILING, **local) == 0
    assert _gauge_mean(demo, "temporal_worker_task_slots_available", FAILING, **local) == 100

    done_f = _rate(demo, "activity_success_total", FAILING, **ns)
    fails_f = _rate(demo, "activity_task_fail_total", FAILING, **ns)
    assert fails_f / (fails_f + done_f) == pytest.approx(0.12, abs=0.02)
    assert _rate(demo, "activity_success_total", HEALTHY, **ns) > 0

    for service in ("history", "matching", "frontend", "worker"):
        heap_h = _gauge_mean(demo, "memory_heapinuse", HEALTHY, service_name=service)
        heap_f = _gauge_mean(demo, "memory_heapinuse", FAILING, service_name=service)
        assert 1e8 <= heap_h < 1e9 and heap_f > 1.3 * heap_h


def test_backlog_grows_only_when_failing(demo: Parsed) -> None:
    for name in ("approximate_backlog_count", "approximate_backlog_age_seconds"):
        for task_type in ("Workflow", "Activity"):
            points = demo.one(name, namespace="default", task_type=task_type)
            h = [v for _, v in in_window(points, *HEALTHY)]
            f = [v for _, v in in_window(points, *FAILING)]
            assert max(h) < 2 * (sum(h) / len(h)) + 1  # steady
            assert sum(f[-20:]) > 10 * sum(f[:20])  # growing
            assert sum(f) / len(f) > 10 * sum(h) / len(h)


def test_load_factor_scales_the_second_namespace(demo: Parsed) -> None:
    for window in (HEALTHY, FAILING):
        main = _rate(demo, "service_requests_total", window, namespace="default")
        small = _rate(demo, "service_requests_total", window, namespace="payments")
        assert small / main == pytest.approx(0.4, rel=0.05)


def test_healthy_is_steady() -> None:
    text, _ = render([Placement("healthy-150wps", "default", ANCHOR, HOUR)])
    p = parse(text)
    points = p.one("service_requests_total")
    per_minute = [rate(points[i : i + 5]) for i in range(0, len(points) - 4, 4)]
    assert min(per_minute) > 0.9 * 150 and max(per_minute) < 1.1 * 150


# --- labels ------------------------------------------------------------------------------------

_SERVER_SCOPED = {
    "service_requests_total": ("frontend", False),
    "workflow_success_total": ("history", True),
    "workflow_failed_total": ("history", True),
    "workflow_terminate_total": ("history", True),
    "state_transition_count_ratio_count": ("history", False),
    "task_schedule_to_start_latency_milliseconds_count": ("history", True),
    "persistence_latency_milliseconds_count": ("history", False),
    "persistence_error_with_type_total": ("history", False),
    "task_dispatch_latency_milliseconds_count": ("matching", True),
    "poll_success_total": ("matching", True),
    "poll_success_sync_total": ("matching", True),
    "approximate_backlog_count": ("matching", True),
    "approximate_backlog_age_seconds": ("matching", True),
    "activity_success_total": ("history", True),
    "activity_task_fail_total": ("history", True),
    "activity_task_timeout_total": ("history", True),
    "activity_start_to_close_latency_milliseconds_count": ("history", True),
    "failed_workflow_tasks_total": ("history", False),
    "start_to_close_timeout_total": ("history", False),
    "service_errors_total": ("frontend", False),
    "service_errors_resource_exhausted_total": ("frontend", False),
    "service_latency_milliseconds_count": ("frontend", False),
}
_CLUSTER_WIDE = {
    "dsql_pool_open",
    "dsql_pool_max_open",
    "dsql_pool_in_use",
    "dsql_pool_idle",
    "dsql_reservoir_size",
    "dsql_reservoir_target",
    "dsql_reservoir_empty_total",
    "dsql_reservoir_refill_failures_total",
    "dsql_reservoir_refills_total",
    "dsql_tx_conflict_total",
    "dsql_tx_exhausted_total",
    "dsql_token_refresh_failures_total",
    "persistence_session_refresh_attempts_total",
    "memory_heapinuse",
    "build_information",
    "lock_latency_milliseconds_count",
    "lock_latency_milliseconds_bucket",
    "lock_latency_milliseconds_sum",
}


def test_label_sets(demo: Parsed) -> None:
    names = demo.names()
    assert set(_SERVER_SCOPED) <= names and names >= _CLUSTER_WIDE
    assert not any("cpu" in n for n in names)
    for (name, labels), _ in demo.series.items():
        d = dict(labels)
        assert d["cluster"] == "temporal-dev", name
        base = re.sub(r"_(bucket|sum)$", "_count", name) if "latency" in name or "ratio" in name else name
        if base in _SERVER_SCOPED:
            service, with_queue = _SERVER_SCOPED[base]
            assert d["service_name"] == service and d["namespace"] in {"default", "payments"}, (name, d)
            assert ("taskqueue" in d) == with_queue and "task_queue" not in d, (name, d)
        elif name.startswith("temporal_worker_task_slots"):
            assert set(d) == {"namespace", "service_name", "task_queue", "worker_type", "cluster"}
            assert d["worker_type"] in {"WorkflowWorker", "ActivityWorker", "LocalActivityWorker"}
        else:
            assert name in _CLUSTER_WIDE, name
            assert "namespace" not in d and d["service_name"] in {"history", "matching", "frontend", "worker"}
    assert {dict(k[1])["operation"] for k in demo.of("service_requests_total")} == {"StartWorkflowExecution"}
    # refusals carry the limit that refused them, as a real server labels them (seen on 1.32)
    refused = [dict(k[1]) for k in demo.of("service_errors_resource_exhausted_total")]
    assert {(d["resource_exhausted_cause"], d["resource_exhausted_scope"]) for d in refused} == {
        ("RpsLimit", "Namespace")
    }
    assert {dict(k[1])["task_type"] for k in demo.of("task_schedule_to_start_latency_milliseconds_count")} == {
        "Workflow",
        "Activity",
    }
    ops = {dict(k[1])["operation"] for k in demo.of("persistence_latency_milliseconds_count")}
    assert 2 <= len(ops) <= 3
    assert {dict(k[1])["reason"] for k in demo.of("dsql_reservoir_refill_failures_total")} <= {
        "lease_acquire",
        "rate_limit",
        "token_provider",
        "dsn_inject",
        "connection_open",
    }
    builds = demo.of("build_information")
    assert len(builds) == 4
    for (_, labels), points in builds.items():
        assert dict(labels)["build_version"] == "1.27.2"
        assert {"git_revision", "build_date", "go_version"} <= dict(labels).keys()
        assert {v for _, v in points} == {1.0}


def test_cluster_wide_series_written_once_per_window(demo: Parsed) -> None:
    pools = demo.of("dsql_pool_open")
    assert len(pools) == 4  # one per service, not per namespace
    for points in pools.values():
        assert len(in_window(points, *HEALTHY)) == 240 and len(in_window(points, *FAILING)) == 240


def test_overlapping_windows_of_one_cluster_merge() -> None:
    half = timedelta(minutes=30)
    text, _ = render(
        [
            Placement("healthy-150wps", "default", ANCHOR, HOUR),
            Placement("failing-400wps", "payments", ANCHOR + half, HOUR),
            Placement("healthy-150wps", "default", ANCHOR, HOUR, cluster="other"),
        ]
    )
    p = parse(text)  # parse() would see duplicate samples as non-ascending timestamps below
    for key, points in p.of("dsql_pool_open", service_name="history").items():
        stamps = [t for t, _ in points]
        assert all(a < b for a, b in itertools.pairwise(stamps))
        expected = 360 if dict(key[1])["cluster"] == "temporal-dev" else 240
        assert len(points) == expected
    # the window's first placement (healthy) drives it: no exhausted retries anywhere
    assert "dsql_tx_exhausted_total" not in p.names()


def test_rejects_bad_input() -> None:
    with pytest.raises(ValueError, match="overlap"):
        render(
            [
                Placement("healthy-150wps", "default", ANCHOR, HOUR),
                Placement("failing-400wps", "default", ANCHOR + timedelta(minutes=59), HOUR, task_queue="other"),
            ]
        )
    with pytest.raises(ValueError, match="unknown scenario"):
        render([Placement("nope", "default", ANCHOR, HOUR)])
    with pytest.raises(ValueError):
        render(small_plan(), scrape_interval_s=0)


# --- determinism and dialects ------------------------------------------------------------------


def test_deterministic_for_a_seed() -> None:
    a, n_a = render(small_plan(), seed=7)
    b, n_b = render(small_plan(), seed=7)
    c, _ = render(small_plan(), seed=8)
    assert a == b and n_a == n_b
    assert a != c
    noise, _ = render([Placement("healthy-150wps-noise", "default", ANCHOR, HOUR)])
    base, _ = render([Placement("healthy-150wps", "default", ANCHOR, HOUR)])
    assert noise != base
    assert _rate(parse(noise), "service_requests_total", HEALTHY) == pytest.approx(
        _rate(parse(base), "service_requests_total", HEALTHY), rel=0.02
    )


def _tally_labels(labels: tuple[tuple[str, str], ...]) -> tuple[tuple[str, str], ...]:
    """Label values as the server's tally reporter writes them (``cluster`` and ``le`` are not its own)."""
    return tuple((k, v if k in ("cluster", "le") else re.sub(r"[^A-Za-z0-9_]", "_", v)) for k, v in labels)


def test_tally_rewrites_server_label_values_like_a_real_server() -> None:
    tally = parse(render(small_plan(), seed=3, dialect=Dialect.TALLY)[0])
    assert {dict(k[1])["taskqueue"] for k in tally.of("poll_success")} == {"main_queue"}
    assert {dict(k[1])["build_version"] for k in tally.of("build_information")} == {"1_27_2"}
    assert {dict(k[1])["task_queue"] for k in tally.of("temporal_worker_task_slots_used")} == {"main-queue"}
    assert {dict(k[1])["cluster"] for k in tally.of("poll_success")} == {"temporal-dev"}


def test_tally_dialect_names_and_units() -> None:
    otel_text, n_otel = render(small_plan(), seed=3)
    tally_text, n_tally = render(small_plan(), seed=3, dialect=Dialect.TALLY)
    otel, tally = parse(otel_text), parse(tally_text)
    assert n_otel == n_tally

    names = tally.names()
    for server_counter in (
        "service_requests",
        "workflow_success",
        "poll_success",
        "poll_success_sync",
        "persistence_session_refresh_attempts",
    ):
        assert server_counter in names and f"{server_counter}_total" not in names
        assert tally.types[server_counter] == "unknown"
        expected = {(server_counter, _tally_labels(k[1])) for k in otel.of(f"{server_counter}_total")}
        assert tally.series.keys() >= expected
    for kept in ("dsql_tx_conflict_total", "dsql_reservoir_refills_total", "dsql_tx_exhausted_total"):
        assert kept in names
    for same in ("approximate_backlog_count", "dsql_pool_open", "memory_heapinuse", "build_information"):
        assert tally.of(same) == {(same, _tally_labels(k[1])): v for k, v in otel.of(same).items()}
    # SDK series are the worker's own: never rewritten
    assert otel.of("temporal_worker_task_slots_used") == tally.of("temporal_worker_task_slots_used")
    assert "state_transition_count_count" in names and "state_transition_count_ratio_count" not in names
    assert tally.of("state_transition_count_count") == {
        ("state_transition_count_count", _tally_labels(k[1])): v
        for k, v in otel.of("state_transition_count_ratio_count").items()
    }

    assert not any("milliseconds" in n for n in names)
    for base in ("persistence_latency", "task_schedule_to_start_latency", "task_dispatch_latency"):
        ms = otel.of(f"{base}_milliseconds_bucket")
        s = tally.of(f"{base}_bucket")
        assert len(ms) == len(s)
        for (_, labels), points in ms.items():
            d = dict(labels)
            le = d["le"]
            d["le"] = "+Inf" if le == "+Inf" else format(float(le) / 1000, "g")
            assert s[(f"{base}_bucket", _tally_labels(tuple(d.items())))] == points
        for (_, labels), points in otel.of(f"{base}_milliseconds_sum").items():
            seconds = tally.series[(f"{base}_sum", _tally_labels(labels))]
            for (t_ms, v_ms), (t_s, v_s) in zip(points, seconds, strict=True):
                assert t_ms == t_s and v_s == pytest.approx(v_ms / 1000, abs=1e-5)
    les = {dict(k[1])["le"] for k in tally.of("persistence_latency_bucket")}
    assert {"0.001", "0.025", "0.25", "2.5", "10", "+Inf"} <= les


def test_fast_enough_for_the_demo() -> None:
    started = time.perf_counter()
    n = write_openmetrics(io.StringIO(), demo_plan(NOW))
    assert n > 100_000
    assert time.perf_counter() - started < 10


# --- judgement scenarios -----------------------------------------------------------------------

_JUDGE_CHANGES: dict[str, set[str]] = {
    "healthy-150wps-noise": set(),
    "latency-family-up-80": {"persistence"},
    "sync-match-collapse": {"sync_match_ratio"},
    "conflicts-x4": {"tx_conflicts_per_s"},
    "exhausted-from-zero": {"tx_exhausted_per_s"},
    "reservoir-drained": {"reservoir_fill"},
    "throughput-down-40": {"wps"},
    "latency-improved-40": {"persistence"},
    "dsql-family-missing": {"dsql_plugin"},
    "schedule-to-start-p99-up-150": {"workflow_schedule_to_start", "activity_schedule_to_start"},
    "backlog-age-from-none": {"backlog_age_s"},
    "activities-slow-x5": {"activity_execution"},
    "polls-throttled": {"refusals"},
    "workflow-tasks-failing": {"workflow_task_failures", "workflow_task_timeouts_per_s"},
    "backlog-x5000": {"backlog_count"},
    # one cause: load, with conflicts following it at the same rate per unit of work
    "same-efficiency-2.5x-load": {"wps", "tx_conflicts_per_s"},
    "ramp-up-12min": {"ramp_up"},
}
JUDGE_END = ANCHOR + timedelta(minutes=20)
JUDGE_WINDOW = (ANCHOR, JUDGE_END)


def _render_one(scenario: str) -> Parsed:
    return parse(render([Placement(scenario, "default", ANCHOR, JUDGE_END - ANCHOR)])[0])


@pytest.fixture(scope="module")
def judged() -> dict[str, Parsed]:
    return {name: _render_one(name) for name in ("healthy-150wps", *JUDGEMENT_SCENARIOS)}


def test_judgement_scenarios_change_exactly_one_cause() -> None:
    healthy = SCENARIOS["healthy-150wps"]
    assert set(JUDGEMENT_SCENARIOS) == set(_JUDGE_CHANGES)
    for name in JUDGEMENT_SCENARIOS:
        scenario = SCENARIOS[name]
        changed = {
            f.name
            for f in fields(scenario)
            if f.name not in {"name", "description"} and getattr(scenario, f.name) != getattr(healthy, f.name)
        }
        assert changed == _JUDGE_CHANGES[name], name
    s2s = SCENARIOS["schedule-to-start-p99-up-150"]
    for new, old in (
        (s2s.workflow_schedule_to_start, healthy.workflow_schedule_to_start),
        (s2s.activity_schedule_to_start, healthy.activity_schedule_to_start),
    ):
        assert new.median_ms == old.median_ms and new.p99_ms == pytest.approx(2.5 * old.p99_ms)
    assert SCENARIOS["latency-family-up-80"].persistence == healthy.persistence.scaled(1.8)
    assert SCENARIOS["latency-improved-40"].persistence == healthy.persistence.scaled(0.6)
    assert SCENARIOS["throughput-down-40"].wps == pytest.approx(0.6 * healthy.wps)
    assert SCENARIOS["conflicts-x4"].tx_conflicts_per_s == pytest.approx(4 * healthy.tx_conflicts_per_s)
    assert healthy.tx_exhausted_per_s == 0 < SCENARIOS["exhausted-from-zero"].tx_exhausted_per_s


def test_judgement_plan_layout() -> None:
    plan = judgement_plan(NOW)
    assert [p.scenario for p in plan] == ["healthy-150wps", *JUDGEMENT_SCENARIOS]
    assert {(p.cluster, p.namespace, p.task_queue, p.duration, p.load_factor) for p in plan} == {
        ("judge", "default", "main-queue", HOUR, 1.0)
    }
    floor = NOW.replace(minute=0, second=0, microsecond=0)
    assert plan[0].start + HOUR == floor - HOUR  # the newest ends an hour before the floored now
    ordered = sorted(plan, key=lambda p: p.start)
    assert ordered[0].start >= floor - timedelta(hours=24)
    for earlier, later in itertools.pairwise(ordered):
        assert earlier.start + earlier.duration < later.start  # a gap: no blending in range queries
    assert judgement_plan(NOW.replace(tzinfo=None)) == plan
    text, n = render(plan)
    assert parse(text).sample_count == n  # no overlaps, every series in order


def test_judgement_scenarios_write_the_healthy_series(judged: dict[str, Parsed]) -> None:
    healthy = set(judged["healthy-150wps"].series)
    for name in JUDGEMENT_SCENARIOS:
        keys = set(judged[name].series)
        if name == "dsql-family-missing":
            assert keys == {k for k in healthy if not k[0].startswith("dsql_")}, name
            assert {k[0] for k in healthy if k[0].startswith("dsql_")}  # there was something to drop
        elif name == "exhausted-from-zero":
            assert {k[0] for k in keys - healthy} == {"dsql_tx_exhausted_total"} and healthy <= keys
        elif name == "polls-throttled":
            added = keys - healthy
            assert {k[0] for k in added} == {"service_errors_resource_exhausted_total"} and healthy <= keys
            assert {dict(k[1])["operation"] for k in added} == {"PollWorkflowTaskQueue", "PollActivityTaskQueue"}
        elif name == "workflow-tasks-failing":
            added = keys - healthy
            assert {k[0] for k in added} == {"failed_workflow_tasks_total", "start_to_close_timeout_total"}
            assert healthy <= keys
            assert {dict(k[1]).get("failure") for k in added} == {"WorkflowWorkerUnhandledFailure", None}
        else:
            assert keys == healthy, name


def _judge_p(p: Parsed, q: float, **match: str) -> float:
    return quantile(q, window_buckets(p, "persistence_latency_milliseconds", ANCHOR, JUDGE_END, **match))


def test_judgement_scenarios_move_their_cause(judged: dict[str, Parsed]) -> None:
    h = judged["healthy-150wps"]

    def ratio(scenario: str, name: str, **match: str) -> float:
        return _rate(judged[scenario], name, JUDGE_WINDOW, **match) / _rate(h, name, JUDGE_WINDOW, **match)

    for name in ("service_requests_total", "workflow_success_total", "state_transition_count_ratio_count"):
        assert ratio("throughput-down-40", name) == pytest.approx(0.6, rel=0.03)
        assert ratio("healthy-150wps-noise", name) == pytest.approx(1.0, rel=0.03)
    assert ratio("throughput-down-40", "dsql_tx_conflict_total") == pytest.approx(1.0, rel=0.1)
    assert ratio("conflicts-x4", "dsql_tx_conflict_total") == pytest.approx(4.0, rel=0.1)

    sync = _rate(judged["sync-match-collapse"], "poll_success_sync_total", JUDGE_WINDOW)
    assert sync / _rate(judged["sync-match-collapse"], "poll_success_total", JUDGE_WINDOW) == pytest.approx(
        0.3, abs=0.02
    )
    assert ratio("sync-match-collapse", "poll_success_total") == pytest.approx(1.0, rel=0.03)

    op = {"operation": "UpdateWorkflowExecution"}
    for scenario, factor in (("latency-family-up-80", 1.8), ("latency-improved-40", 0.6)):
        for q in (0.5, 0.99):
            assert _judge_p(judged[scenario], q, **op) / _judge_p(h, q, **op) == pytest.approx(factor, rel=0.2)

    s2s = judged["schedule-to-start-p99-up-150"]
    for task_type in ("Workflow", "Activity"):
        match = {"task_type": task_type}
        fam = "task_schedule_to_start_latency_milliseconds"
        new = window_buckets(s2s, fam, ANCHOR, JUDGE_END, **match)
        old = window_buckets(h, fam, ANCHOR, JUDGE_END, **match)
        assert quantile(0.5, new) == pytest.approx(quantile(0.5, old), rel=0.1)
        assert quantile(0.99, new) / quantile(0.99, old) > 2.0

    drained = judged["reservoir-drained"]
    fill = _gauge_mean(drained, "dsql_reservoir_size", JUDGE_WINDOW) / _gauge_mean(
        drained, "dsql_reservoir_target", JUDGE_WINDOW
    )
    assert fill == pytest.approx(0.2, abs=0.03)
    assert _gauge_mean(h, "dsql_reservoir_size", JUDGE_WINDOW) / _gauge_mean(
        h, "dsql_reservoir_target", JUDGE_WINDOW
    ) == pytest.approx(0.96, abs=0.03)
    assert _rate(judged["exhausted-from-zero"], "dsql_tx_exhausted_total", JUDGE_WINDOW) == pytest.approx(0.2, rel=0.1)
    failing = judged["workflow-tasks-failing"]
    assert _rate(failing, "failed_workflow_tasks_total", JUDGE_WINDOW) == pytest.approx(2.0, rel=0.1)
    timeouts = {"operation": "TimerActiveTaskWorkflowTaskTimeout"}
    assert _rate(failing, "start_to_close_timeout_total", JUDGE_WINDOW, **timeouts) == pytest.approx(3.0, rel=0.1)


# --- the real tools ----------------------------------------------------------------------------


def _promtool_blocks(tmp_path: Path, text: str) -> tuple[Path, str]:
    src = tmp_path / "metrics.om"
    src.write_text(text)
    out = tmp_path / "tsdb"
    proc = subprocess.run(
        ["promtool", "tsdb", "create-blocks-from", "openmetrics", str(src), str(out)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr + proc.stdout
    return out, proc.stdout


@pytest.mark.stack
@pytest.mark.skipif(shutil.which("promtool") is None, reason="promtool is not installed")
def test_promtool_backfills_every_sample(tmp_path: Path) -> None:
    text, n = render(small_plan(10))
    _, report = _promtool_blocks(tmp_path, text)
    # the table (BLOCK ULID, MIN TIME, MAX TIME, DURATION, NUM SAMPLES, ...) must account for every
    # sample written: promtool silently drops out-of-order or duplicate samples
    header, *rows = [line.split() for line in report.strip().splitlines() if line.strip()]
    assert header[:2] == ["BLOCK", "ULID"] and rows
    assert sum(int(row[4]) for row in rows) == n


@pytest.mark.stack
@pytest.mark.skipif(
    shutil.which("promtool") is None or shutil.which("prometheus") is None, reason="Prometheus is not installed"
)
def test_prometheus_answers_promql_on_the_backfill(tmp_path: Path) -> None:
    placement = Placement("healthy-150wps", "default", ANCHOR, timedelta(minutes=20))
    text, _ = render([placement])
    tsdb, _ = _promtool_blocks(tmp_path, text)
    config = tmp_path / "prometheus.yml"
    config.write_text("global:\n  scrape_interval: 15s\nscrape_configs: []\n")
    port = free_port()
    log = (tmp_path / "prometheus.log").open("w")
    proc = subprocess.Popen(
        [
            "prometheus",
            f"--storage.tsdb.path={tsdb}",
            "--storage.tsdb.retention.time=100y",
            f"--web.listen-address=127.0.0.1:{port}",
            f"--config.file={config}",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(f"{base}/-/ready", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            assert time.monotonic() < deadline, "Prometheus did not become ready"
            assert proc.poll() is None, "Prometheus exited"
            time.sleep(0.3)
        at = (ANCHOR + timedelta(minutes=10)).timestamp()

        def instant(promql: str) -> float:
            query = urllib.parse.urlencode({"query": promql, "time": at})
            with urllib.request.urlopen(f"{base}/api/v1/query?{query}", timeout=10) as r:
                body = json.load(r)
            assert body["status"] == "success", body
            (result,) = body["data"]["result"]
            return float(result["value"][1])

        assert instant("sum(rate(service_requests_total[1m]))") == pytest.approx(150, rel=0.1)
        p99 = instant("histogram_quantile(0.99, sum by (le) (rate(persistence_latency_milliseconds_bucket[5m])))")
        assert 20 < p99 < 60
        assert instant("sum(dsql_reservoir_size) / sum(dsql_reservoir_target)") > 0.9
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


def test_the_demo_windows_carry_configuration_and_versions_that_explain_the_incident() -> None:
    from behaviour_profiles.comparison import config_diffs, judge_telemetry, version_diffs
    from behaviour_profiles.correlation import correlate
    from behaviour_profiles.models import (
        CompareOptions,
        ConfigInput,
        ConfigSnapshot,
        CorrelationRelation,
        VersionIdentity,
    )
    from behaviour_profiles.snapshot import build_snapshot
    from copilot.dev.simulator import DEMO_DEPLOYMENTS
    from tests.unit.test_comparison import healthy, scaled

    old, new = DEMO_DEPLOYMENTS["healthy-150wps"].profile_fields(), DEMO_DEPLOYMENTS["failing-400wps"].profile_fields()

    def snapshot(fields: dict[str, object]) -> ConfigSnapshot:
        return build_snapshot(ConfigInput.model_validate(fields["config"]), b"k" * 32)

    def versions(fields: dict[str, object]) -> VersionIdentity:
        return VersionIdentity.model_validate({k: v for k, v in fields.items() if k.endswith(("version", "sha"))})

    diffs = config_diffs(snapshot(old), snapshot(new))
    changed = {d.key: (d.old_value, d.new_value) for d in diffs}
    assert changed["environment.TEMPORAL_SQL_MAX_CONNS"] == ("50", "100")
    assert changed["environment.DSQL_RESERVOIR_TARGET_READY"] == ("40", "10")
    assert changed["dynamic_config.history.persistenceMaxQPS"] == (9000, 3000)
    (plugin,) = version_diffs(versions(old), versions(new))
    assert (plugin.component, plugin.old_version, plugin.new_version) == ("dsql_plugin_version", "0.4.1", "0.5.0")

    telemetry = healthy()
    incident = {
        **telemetry,
        "occ_conflicts_per_sec": scaled("occ_conflicts_per_sec", 4.0),
        "persistence_latency_p99": scaled("persistence_latency_p99", 5.0),
        "reservoir_size": scaled("reservoir_size", 0.1),
        "throttled_persistence_per_sec": scaled("throttled_persistence_per_sec", 20.0),
    }
    judged = judge_telemetry(telemetry, incident, CompareOptions())
    links = {(c.setting, c.metric): c.relation for c in correlate(diffs, judged)}
    assert links[("TEMPORAL_SQL_MAX_CONNS", "occ_conflicts_per_sec")] is CorrelationRelation.EXPECTED
    # a lower persistence QPS limit refuses more (a real server refuses what is over it, it does not queue it),
    # and the more connections of the larger pool queue less: neither explains slower persistence
    assert links[("history.persistenceMaxQPS", "throttled_persistence_per_sec")] is CorrelationRelation.EXPECTED
    assert links[("history.persistenceMaxQPS", "persistence_latency_p99")] is CorrelationRelation.POSSIBLE
    assert links[("DSQL_RESERVOIR_TARGET_READY", "reservoir_size")] is CorrelationRelation.EXPECTED


# --- a regression in one task queue ----------------------------------------------------------------

_THREE_QUEUES = "healthy-150wps-three-queues"
QUEUE_SHARES = {"main-queue": 0.5, SLOW_QUEUE: 0.3, "billing-queue": 0.2}


@pytest.fixture(scope="module")
def queues() -> dict[str, Parsed]:
    return {name: _render_one(name) for name in ("healthy-150wps", _THREE_QUEUES, SLOW_QUEUE_SCENARIO)}


def _s2s_p(p: Parsed, q: float, **match: str) -> float:
    return quantile(q, window_buckets(p, "task_schedule_to_start_latency_milliseconds", ANCHOR, JUDGE_END, **match))


def test_three_queues_split_the_namespace_work_by_their_shares(queues: dict[str, Parsed]) -> None:
    one, three = queues["healthy-150wps"], queues[_THREE_QUEUES]
    for name in ("workflow_success_total", "poll_success_total", "activity_success_total"):
        whole = _rate(one, name, JUDGE_WINDOW)
        assert _rate(three, name, JUDGE_WINDOW) == pytest.approx(whole, rel=0.02), name
        for queue, share in QUEUE_SHARES.items():
            assert _rate(three, name, JUDGE_WINDOW, taskqueue=queue) == pytest.approx(whole * share, rel=0.03)
    # series without a task queue are the one-queue scenario's
    assert {k for k in three.series if "taskqueue" not in dict(k[1]) and "task_queue" not in dict(k[1])} == {
        k for k in one.series if "taskqueue" not in dict(k[1]) and "task_queue" not in dict(k[1])
    }
    assert {dict(k[1])["task_queue"] for k in three.of("temporal_worker_task_slots_used")} == set(QUEUE_SHARES)


def test_a_slowed_queue_alone_waits_longer(queues: dict[str, Parsed]) -> None:
    healthy, slow = queues[_THREE_QUEUES], queues[SLOW_QUEUE_SCENARIO]
    for queue in QUEUE_SHARES:
        factor = 4.0 if queue == SLOW_QUEUE else 1.0
        for task_type in ("Workflow", "Activity"):
            for q in (0.5, 0.99):
                was = _s2s_p(healthy, q, taskqueue=queue, task_type=task_type)
                # coarse buckets: a p99 interpolated inside (100, 250] ms reads a little under four times
                assert _s2s_p(slow, q, taskqueue=queue, task_type=task_type) == pytest.approx(was * factor, rel=0.3)
        # the queue's backlog (both task types) at its share of the load; each type's count is rounded
        backlog = slow.of("approximate_backlog_count", taskqueue=queue)
        per_sample = sum(v for pts in backlog.values() for _, v in pts) / len(next(iter(backlog.values())))
        expected = SCENARIOS["healthy-150wps"].backlog_count[0] * QUEUE_SHARES[queue] * factor
        assert per_sample == pytest.approx(expected, abs=1.0)
        # throughput is the healthy one's on every queue
        assert _rate(slow, "workflow_success_total", JUDGE_WINDOW, taskqueue=queue) == pytest.approx(
            _rate(healthy, "workflow_success_total", JUDGE_WINDOW, taskqueue=queue), rel=0.03
        )


def test_tally_writes_every_queue_as_the_server_does() -> None:
    tally = parse(
        render([Placement(SLOW_QUEUE_SCENARIO, "default", ANCHOR, JUDGE_END - ANCHOR)], dialect=Dialect.TALLY)[0]
    )
    assert {dict(k[1])["taskqueue"] for k in tally.of("task_schedule_to_start_latency_count")} == {
        "main_queue",
        "orders_queue",
        "billing_queue",
    }
    assert {dict(k[1])["task_queue"] for k in tally.of("temporal_worker_task_slots_used")} == set(QUEUE_SHARES)


def test_task_queues_must_be_told_apart() -> None:
    with pytest.raises(ValueError, match="shares"):
        replace(SCENARIOS["healthy-150wps"], other_queues=(("a", 0.6), ("b", 0.4)))
    with pytest.raises(ValueError, match="twice"):
        replace(SCENARIOS["healthy-150wps"], other_queues=(("a", 0.1), ("a", 0.1)))
    with pytest.raises(ValueError, match="among them"):
        render([Placement(SLOW_QUEUE_SCENARIO, "default", ANCHOR, HOUR, task_queue=SLOW_QUEUE)])


def test_a_server_that_leaves_task_queues_unnamed_writes_them_as_a_real_one_does() -> None:
    unnamed = [replace(p, server_names_queue=False) for p in small_plan()]
    named, out = (
        parse(render(small_plan(), seed=3, dialect=Dialect.TALLY)[0]),
        parse(render(unnamed, seed=3, dialect=Dialect.TALLY)[0]),
    )
    # matching and history write __omitted__ where they wrote the name; the SDK keeps it
    for family in ("poll_success", "task_schedule_to_start_latency_count", "workflow_success"):
        assert {dict(k[1])["taskqueue"] for k in out.of(family)} == {"__omitted__"}, family
        assert {dict(k[1])["taskqueue"] for k in named.of(family)} == {"main_queue"}, family
    assert {dict(k[1])["task_queue"] for k in out.of("temporal_worker_task_slots_used")} == {"main-queue"}
    # no per-queue gauges at all; every other family is there
    assert not out.of("approximate_backlog_count") and not out.of("approximate_backlog_age_seconds")
    assert named.names() - out.names() == {"approximate_backlog_count", "approximate_backlog_age_seconds"}
    # one series per queue is all an unnamed server has: a scenario of several queues is refused
    with pytest.raises(ValueError, match="must run one task queue"):
        render([Placement(SLOW_QUEUE_SCENARIO, "default", ANCHOR, HOUR, server_names_queue=False)])
