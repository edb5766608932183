"""The Copilot's uses of profiles end to end: drift, correlation, presets, conformance, recommendation.

Real PostgreSQL, SeaweedFS and a Prometheus backfilled by the simulator's demo plan: ``healthy-150wps``
then ``failing-400wps`` in namespaces ``default`` (150 / 400 workflows/s) and ``payments`` (0.4 of it)
of cluster ``temporal-dev``. Each test designates its own baseline first.
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from behaviour_profiles import presets_api
from behaviour_profiles.api import install_services, services_of
from behaviour_profiles.catalogue import BY_KEY
from behaviour_profiles.models import BehaviourProfile, ConfigSnapshot, ThresholdClass, VersionIdentity
from behaviour_profiles.telemetry import Scope
from tests.integration.conftest import Stack
from tests.integration.test_profiles_api import body, create

pytestmark = pytest.mark.stack

CLUSTER = "temporal-dev"
RANK = {"critical": 0, "warning": 1, "info": 2}

INJECTED = (
    "persistence_latency_p99",
    "workflow_schedule_to_start_p99",
    "sync_match_rate",
    "occ_conflicts_per_sec",
    "exhausted_retries_per_sec",
    "throttled_requests_per_sec",
    "throttled_persistence_per_sec",
    "reservoir_size",
    "reservoir_fill",
    "worker_task_slot_utilization",
)
"""What failing-400wps injects, as catalogue metrics that must regress against a healthy baseline."""

MID_SCALE_FAILURES = {
    "workflows_started_per_sec",
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


@pytest.fixture
async def copilot(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """The app with the Copilot's top-level router (``/presets``) mounted, as the host mounts it."""
    if not any(getattr(route, "path", None) == "/presets" for route in app.routes):
        app.include_router(presets_api.router)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://copilot") as http:
        yield http


def window(stack: Stack, scenario: str, namespace: str = "default") -> dict[str, str]:
    p = stack.window(scenario, namespace)
    return {"time_window_start": p.start.isoformat(), "time_window_end": (p.start + p.duration).isoformat()}


async def baseline(client: httpx.AsyncClient, stack: Stack, namespace: str = "default", **extra: Any) -> dict[str, Any]:
    meta = await create(client, body(stack, "healthy-150wps", namespace, **extra))
    r = await client.post(f"/profiles/{meta['id']}/baseline")
    assert r.status_code == 200, r.text
    return meta


async def drift(client: httpx.AsyncClient, **payload: Any) -> httpx.Response:
    return await client.post("/profiles/drift", json={"cluster_id": CLUSTER, "namespace": "default", **payload})


def ok(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 200, response.text
    data: dict[str, Any] = response.json()
    return data


# --- baseline and drift ------------------------------------------------------------------------


async def test_active_baseline_can_be_read(stack: Stack, copilot: httpx.AsyncClient) -> None:
    meta = await baseline(copilot, stack, "payments")
    shown = ok(await copilot.get("/profiles/baseline", params={"cluster": CLUSTER, "namespace": "payments"}))
    assert shown["id"] == meta["id"] and shown["is_baseline"] is True and shown["namespace"] == "payments"


async def test_no_baseline_is_a_404_that_says_how_to_designate_one(copilot: httpx.AsyncClient) -> None:
    cluster = f"nobase-{uuid.uuid4().hex[:8]}"
    for response in (
        await copilot.get("/profiles/baseline", params={"cluster": cluster, "namespace": "default"}),
        await copilot.post("/profiles/drift", json={"cluster_id": cluster, "namespace": "default"}),
    ):
        assert response.status_code == 404, response.text
        detail = response.json()["detail"]
        assert cluster in detail and "POST /profiles/{id}/baseline" in detail


async def test_failing_window_drifts_from_a_healthy_baseline(stack: Stack, copilot: httpx.AsyncClient) -> None:
    base = await baseline(copilot, stack)
    result = ok(await drift(copilot, **window(stack, "failing-400wps")))
    assert result["status"] == "drifted" and result["drifted"] is True and result["verdict"] == "fail"
    assert result["baseline"]["id"] == base["id"]
    assert result["task_queue"] == base["task_queue"]  # the baseline's scope by default
    regressed = {d["metric"] for d in result["deviations"] if d["direction"] == "regressed"}
    assert set(INJECTED) <= regressed, set(INJECTED) - regressed
    severities = [RANK[d["severity"]] for d in result["deviations"]]
    assert severities == sorted(severities)
    assert result["deviations"][0]["direction"] == "regressed"
    assert result["explanation"].startswith("Drifted:")
    assert base["name"] in result["explanation"] and base["id"] in result["explanation"]
    assert result["coverage"]["with_data"] > 20


async def test_a_window_that_behaves_like_the_baseline_has_not_drifted(
    stack: Stack, copilot: httpx.AsyncClient
) -> None:
    await baseline(copilot, stack)
    healthy = stack.window("healthy-150wps")
    same = ok(await drift(copilot, **window(stack, "healthy-150wps")))
    assert same["status"] == "no_drift" and same["drifted"] is False and same["verdict"] == "pass"
    assert not [d for d in same["deviations"] if d["direction"] == "regressed"]
    assert same["explanation"].startswith("No drift")

    # the last half hour of the healthy hour against the whole hour: the same behaviour
    half = ok(
        await drift(
            copilot,
            time_window_start=(healthy.start + timedelta(minutes=30)).isoformat(),
            time_window_end=(healthy.start + healthy.duration).isoformat(),
        )
    )
    assert half["status"] == "no_drift", half["explanation"]

    await baseline(copilot, stack, "payments")
    payments = ok(
        await drift(copilot, namespace="payments", **window(stack, "healthy-150wps", "payments")),
    )
    assert payments["status"] == "no_drift", payments["explanation"]


async def test_the_default_window_has_no_data_and_is_never_a_pass(stack: Stack, copilot: httpx.AsyncClient) -> None:
    await baseline(copilot, stack)
    # the demo data ends hours ago, so the last 30 minutes are empty
    response = await drift(copilot)
    assert response.status_code == 422, response.text
    detail = response.json()["detail"]
    assert "not a pass" in detail and "no samples" in detail


async def test_drift_thresholds_per_deployment_and_per_request(
    stack: Stack, app: FastAPI, copilot: httpx.AsyncClient
) -> None:
    await baseline(copilot, stack)
    failing = window(stack, "failing-400wps")
    services = services_of(app)
    assert services is not None
    install_services(app, dataclasses.replace(services, drift_thresholds_pct={ThresholdClass.LATENCY: 1000.0}))
    try:
        deployment = ok(await drift(copilot, **failing))
        assert deployment["thresholds_pct"]["latency"] == 1000.0
        latency = {d["metric"]: d for d in deployment["deviations"]}.get("persistence_latency_p99")
        assert latency is None or latency["beyond_threshold"] is False  # +530 % is within 1000 %

        request = ok(await drift(copilot, thresholds_pct={"latency": 50}, **failing))
        assert request["thresholds_pct"]["latency"] == 50.0  # the request wins over the deployment
        by_metric = {d["metric"]: d for d in request["deviations"]}
        assert by_metric["persistence_latency_p99"]["severity"] == "critical"
    finally:
        install_services(app, services)


async def test_bad_drift_windows_are_refused(stack: Stack, copilot: httpx.AsyncClient) -> None:
    await baseline(copilot, stack)
    failing = stack.window("failing-400wps")
    backwards = await drift(
        copilot,
        time_window_start=(failing.start + failing.duration).isoformat(),
        time_window_end=failing.start.isoformat(),
    )
    assert backwards.status_code == 422 and "after" in backwards.json()["detail"]
    naive = await drift(copilot, time_window_start="2026-02-18T10:00:00")
    assert naive.status_code == 422 and "time zone" in naive.json()["detail"]


# --- correlation -------------------------------------------------------------------------------

HEALTHY_CONFIG = {
    "environment": {"TEMPORAL_SQL_MAX_CONNS": "50", "DSQL_RESERVOIR_ENABLED": "true"},
    "dynamic_config": "history.persistenceMaxQPS:\n  - value: 9000\n",
}
FAILING_CONFIG = {
    "environment": {"TEMPORAL_SQL_MAX_CONNS": "20", "DSQL_RESERVOIR_ENABLED": "true"},
    "dynamic_config": {"history.persistenceMaxQPS": [{"value": 3000}]},
}


def check_correlations(correlations: list[dict[str, Any]], telemetry: list[dict[str, Any]]) -> None:
    """Every correlation meets the catalogue, points at a real regression, and the expected ones are there."""
    regressed = {d["metric"] for d in telemetry if d["direction"] == "regressed" and d["counts_toward_verdict"]}
    assert correlations
    for item in correlations:
        assert item["metric"] in regressed
        assert item["setting"] in BY_KEY[item["metric"]].influenced_by
    pairs = {(c["setting"], c["metric"]): c for c in correlations}
    assert len(pairs) == len(correlations)  # one per setting and metric, even across snapshot parts

    conns = pairs[("TEMPORAL_SQL_MAX_CONNS", "persistence_latency_p99")]
    assert conns["relation"] == "expected" and conns["change_direction"] == "decreased"
    assert set(conns["config_keys"]) == {"dsql_plugin.TEMPORAL_SQL_MAX_CONNS", "environment.TEMPORAL_SQL_MAX_CONNS"}
    assert conns["statement"].startswith("changed TEMPORAL_SQL_MAX_CONNS from 50 to 20 -> persistence_latency_p99")
    assert "regressed by" in conns["statement"] and "%" in conns["statement"]

    # a lower QPS limit means fewer concurrent transactions: on DSQL that does not cause OCC conflicts, so
    # the link is contrary (issue 13: it used to read "expected"); a conflict rise that load explains
    # (not worse per 1,000 state transitions) does not count, and is not linked at all
    occ = next(d for d in telemetry if d["metric"] == "occ_conflicts_per_sec")
    qps = pairs.get(("history.persistenceMaxQPS", "occ_conflicts_per_sec"))
    if occ["direction"] == "regressed" and occ["counts_toward_verdict"]:
        assert qps is not None and qps["relation"] == "contrary" and qps["change_direction"] == "decreased"
        assert qps["config_keys"] == ["dynamic_config.history.persistenceMaxQPS"]
    else:
        assert qps is None
    # a lower persistence QPS limit refuses more persistence requests; it does not queue them (a real server
    # refuses what is over it), so slower persistence is only possibly its doing
    refused = pairs[("history.persistenceMaxQPS", "throttled_persistence_per_sec")]
    assert refused["relation"] == "expected" and refused["config_keys"] == ["dynamic_config.history.persistenceMaxQPS"]
    assert pairs[("history.persistenceMaxQPS", "persistence_latency_p99")]["relation"] == "possible"
    # sync matching is not influenced by the SQL pool: no link is invented
    assert ("TEMPORAL_SQL_MAX_CONNS", "sync_match_rate") not in pairs
    relations = [c["relation"] for c in correlations]
    order = {"expected": 0, "possible": 1, "contrary": 2}
    assert relations == sorted(relations, key=order.__getitem__)


async def test_compare_correlates_config_changes_with_the_regressions_they_influence(
    stack: Stack, copilot: httpx.AsyncClient
) -> None:
    healthy = await create(copilot, body(stack, "healthy-150wps", config=HEALTHY_CONFIG))
    failing = await create(copilot, body(stack, "failing-400wps", config=FAILING_CONFIG))
    request = {"profile_a_id": healthy["id"], "profile_b_id": failing["id"]}
    result = ok(await copilot.post("/profiles/compare", json=request))
    check_correlations(result["correlations"], result["telemetry_diffs"])
    again = ok(await copilot.post("/profiles/compare", json=request))
    assert again["correlations"] == result["correlations"]  # deterministic


async def test_drift_correlates_the_current_config_with_the_baseline(stack: Stack, copilot: httpx.AsyncClient) -> None:
    await baseline(copilot, stack, config=HEALTHY_CONFIG)
    result = ok(await drift(copilot, config=FAILING_CONFIG, **window(stack, "failing-400wps")))
    assert {d["key"] for d in result["config_diffs"]} >= {
        "environment.TEMPORAL_SQL_MAX_CONNS",
        "dynamic_config.history.persistenceMaxQPS",
    }
    check_correlations(result["correlations"], result["deviations"])
    assert "changed TEMPORAL_SQL_MAX_CONNS from 50 to 20" in result["explanation"]


# --- presets, conformance, recommendation ------------------------------------------------------


async def test_presets_are_listed_with_their_bounds(copilot: httpx.AsyncClient) -> None:
    presets: list[dict[str, Any]] = (await copilot.get("/presets")).json()
    assert [p["name"] for p in presets] == ["starter", "mid-scale", "high-throughput"]
    ranges = [(p["throughput"]["min"], p["throughput"]["max"]) for p in presets]
    assert ranges == [(0.0, 50.0), (50.0, 300.0), (300.0, None)]  # half-open, contiguous, never overlapping
    for preset in presets:
        metrics = {b["metric"] for b in preset["bounds"]}
        assert {"persistence_latency_p99", "sync_match_rate", "worker_task_slot_utilization"} <= metrics
    assert ok(await copilot.get("/presets/mid-scale"))["name"] == "mid-scale"
    missing = await copilot.get("/presets/huge")
    assert missing.status_code == 404 and "mid-scale" in missing.json()["detail"]


@pytest.mark.parametrize("namespace", ["default", "payments"])
async def test_healthy_conforms_to_mid_scale(stack: Stack, copilot: httpx.AsyncClient, namespace: str) -> None:
    meta = await create(copilot, body(stack, "healthy-150wps", namespace))
    result = ok(await copilot.post(f"/profiles/{meta['id']}/conformance", json={"preset": "mid-scale"}))
    assert result["label"] == "conforming" and result["conforming"] is True and result["verdict"] == "pass"
    assert {c["status"] for c in result["checks"]} == {"pass"}
    assert all(c["observed"] is not None for c in result["checks"])
    # "does this profile match preset X": not the others
    for other in ("starter", "high-throughput"):
        assert ok(await copilot.post(f"/profiles/{meta['id']}/conformance", params={"preset": other}))["label"] == (
            "drifted"
        )


async def test_failing_drifts_from_mid_scale_with_the_right_metrics(stack: Stack, copilot: httpx.AsyncClient) -> None:
    meta = await create(copilot, body(stack, "failing-400wps"))
    result = ok(await copilot.post(f"/profiles/{meta['id']}/conformance", params={"preset": "mid-scale"}))
    assert result["label"] == "drifted" and result["conforming"] is False and result["verdict"] == "fail"
    assert set(result["failing"]) == MID_SCALE_FAILURES
    checks = {c["metric"]: c for c in result["checks"]}
    latency = checks["persistence_latency_p99"]
    assert latency["observed"] > latency["max"] and latency["status"] == "fail"
    assert checks["state_transitions_per_sec"]["status"] == "pass"  # not injected, not blamed
    assert [c["status"] for c in result["checks"]][: len(MID_SCALE_FAILURES)] == ["fail"] * len(MID_SCALE_FAILURES)


async def test_a_profile_names_its_preset_at_creation(stack: Stack, copilot: httpx.AsyncClient) -> None:
    meta = await create(copilot, body(stack, "healthy-150wps", preset="mid-scale"))
    assert ok(await copilot.get(f"/profiles/{meta['id']}"))["preset"] == "mid-scale"
    result = ok(await copilot.post(f"/profiles/{meta['id']}/conformance"))
    assert result["preset"] == "mid-scale" and result["conforming"] is True

    unknown = await copilot.post("/profiles", json=body(stack, "healthy-150wps", preset="galactic"))
    assert unknown.status_code == 422 and "preset" in unknown.json()["detail"]


async def test_conformance_needs_a_known_preset(stack: Stack, copilot: httpx.AsyncClient) -> None:
    meta = await create(copilot, body(stack, "healthy-150wps"))
    unnamed = await copilot.post(f"/profiles/{meta['id']}/conformance")
    assert unnamed.status_code == 422 and "mid-scale" in unnamed.json()["detail"]
    unknown = await copilot.post(f"/profiles/{meta['id']}/conformance", json={"preset": "galactic"})
    assert unknown.status_code == 422 and "galactic" in unknown.json()["detail"]
    both = await copilot.post(
        f"/profiles/{meta['id']}/conformance", json={"preset": "starter"}, params={"preset": "mid-scale"}
    )
    assert both.status_code == 422
    missing = await copilot.post(f"/profiles/{uuid.uuid4()}/conformance", json={"preset": "mid-scale"})
    assert missing.status_code == 404


async def idle_profile(app: FastAPI, stack: Stack, namespace: str, start: datetime, end: datetime) -> str:
    """A profile of an idle window, collected from the real Prometheus and stored directly.

    ``POST /profiles`` refuses to store a window without data, so this stands for a stored profile whose
    workload has gone quiet: the same collector, the same store, no creation guard.
    """
    services = app.state.profile_services
    telemetry = await services.collector.collect(Scope(CLUSTER, namespace, None), start, end)
    profile = BehaviourProfile(
        id=uuid.uuid4(),
        name="idle window",
        label=f"test-{uuid.uuid4().hex[:10]}",
        cluster_id=CLUSTER,
        namespace=namespace,
        task_queue=None,
        time_window_start=start,
        time_window_end=end,
        created_at=stack.now,
        coverage_with_data=telemetry.coverage.with_data,
        coverage_asked=telemetry.coverage.asked,
        versions=VersionIdentity(),
        config=ConfigSnapshot(),
        telemetry=telemetry,
    )
    meta = await services.store.save(profile)
    return str(meta.id)


async def test_an_idle_window_never_conforms(stack: Stack, app: FastAPI, copilot: httpx.AsyncClient) -> None:
    healthy, failing = stack.window("healthy-150wps"), stack.window("failing-400wps")
    # the middle of the demo's empty hour (clear of staleness at its edges): nothing at all
    gap = (healthy.start + healthy.duration + timedelta(minutes=10), failing.start - timedelta(minutes=10))
    quiet = (healthy.start, healthy.start + healthy.duration)  # a namespace with no workload in a busy hour
    for namespace, (start, end) in (("default", gap), (f"idle-{uuid.uuid4().hex[:8]}", quiet)):
        profile_id = await idle_profile(app, stack, namespace, start, end)
        for preset in ("starter", "mid-scale", "high-throughput"):
            result = ok(await copilot.post(f"/profiles/{profile_id}/conformance", json={"preset": preset}))
            assert result["conforming"] is False and result["label"] == "drifted", result["summary"]
            assert result["verdict"] in ("inconclusive", "fail")
            checks = {c["metric"]: c for c in result["checks"]}
            assert checks["workflows_started_per_sec"]["status"] == "no_data"
            assert checks["workflows_started_per_sec"]["observed"] is None
            assert all(c["status"] == "no_data" for c in result["checks"] if c["observed"] is None)
            assert "workflows_started_per_sec" in result["no_data"]
        advice = ok(await copilot.post(f"/profiles/{profile_id}/recommendation"))
        assert advice["preset"] is None and advice["overrides"] == []

    # and drift over the empty hour is no verdict, never a pass
    await baseline(copilot, stack)
    response = await drift(copilot, time_window_start=gap[0].isoformat(), time_window_end=gap[1].isoformat())
    assert response.status_code == 422 and "not a pass" in response.json()["detail"]


async def test_recommendation_for_the_failing_profile(stack: Stack, copilot: httpx.AsyncClient) -> None:
    meta = await create(copilot, body(stack, "failing-400wps", config=FAILING_CONFIG))
    advice = ok(await copilot.post(f"/profiles/{meta['id']}/recommendation"))
    assert advice["preset"] == "high-throughput"  # ~400 workflows/s
    assert 350 < advice["observed_throughput"] < 450
    keys = {o["key"]: o for o in advice["overrides"]}
    assert {"TEMPORAL_SQL_MAX_CONNS", "DSQL_RESERVOIR_TARGET_READY", "MaxConcurrentActivityExecutionSize"} <= set(keys)
    conns = keys["TEMPORAL_SQL_MAX_CONNS"]
    assert conns["current_value"] == 20 and conns["suggested_value"] == 100
    for override in advice["overrides"]:
        assert override["evidence"]
        for evidence in override["evidence"]:
            assert evidence["status"] in ("fail", "warn") and evidence["observed"] is not None
            assert evidence["min"] is not None or evidence["max"] is not None
    latency = next(e for e in conns["evidence"] if e["metric"] == "persistence_latency_p99")
    assert latency["observed"] > latency["max"]
    assert "DSQL_RESERVOIR_ENABLED" not in keys  # already true in the profile's config


async def test_recommendation_for_a_healthy_profile_is_no_change(stack: Stack, copilot: httpx.AsyncClient) -> None:
    meta = await create(copilot, body(stack, "healthy-150wps"))
    advice = ok(await copilot.post(f"/profiles/{meta['id']}/recommendation"))
    assert advice["preset"] == "mid-scale" and advice["overrides"] == []
    assert advice["conformance"]["conforming"] is True


async def test_the_demo_flow_shows_config_and_version_diffs_correlation_drift_and_conformance(
    stack: Stack, copilot: httpx.AsyncClient
) -> None:
    """What ``copilot dev demo`` does, against the shared stack's demo hours (issue 13)."""
    from copilot.dev.local import DEMO_PRESET
    from copilot.dev.simulator import DEMO_DEPLOYMENTS, DEMO_DRIFT_SCENARIO

    healthy_run, failing_run = DEMO_DEPLOYMENTS["healthy-150wps"], DEMO_DEPLOYMENTS["failing-400wps"]
    healthy = await create(copilot, {**body(stack, "healthy-150wps"), **healthy_run.profile_fields()})
    assert (await copilot.post(f"/profiles/{healthy['id']}/baseline")).status_code == 200
    failing = await create(copilot, {**body(stack, "failing-400wps"), **failing_run.profile_fields()})

    result = ok(
        await copilot.post("/profiles/compare", json={"profile_a_id": healthy["id"], "profile_b_id": failing["id"]})
    )
    assert result["load"]["differs"] and result["notes"][0].startswith("Offered load differs")
    changed = {d["key"]: (d["old_value"], d["new_value"]) for d in result["config_diffs"]}
    assert changed["environment.TEMPORAL_SQL_MAX_CONNS"] == ("50", "100")
    assert changed["dynamic_config.history.persistenceMaxQPS"] == (9000, 3000)
    assert changed["environment.DSQL_RESERVOIR_TARGET_READY"] == ("40", "10")
    versions = {v["component"]: (v["old_version"], v["new_version"]) for v in result["version_diffs"]}
    assert versions["dsql_plugin_version"] == ("0.4.1", "0.5.0")
    relations = {(c["setting"], c["metric"]): c["relation"] for c in result["correlations"]}
    assert relations[("history.persistenceMaxQPS", "throttled_persistence_per_sec")] == "expected"
    assert relations[("DSQL_RESERVOIR_TARGET_READY", "reservoir_size")] == "expected"
    assert relations[("TEMPORAL_SQL_MAX_CONNS", "occ_conflicts_per_sec")] == "expected"  # more connections
    counted = {d["metric"] for d in result["telemetry_diffs"] if d["counts_toward_verdict"]}
    assert {c["metric"] for c in result["correlations"]} <= counted

    # the third, later hour drifts: persistence latency up 80 % after the SQL pool shrank from 50 to 20
    later_run = DEMO_DEPLOYMENTS[DEMO_DRIFT_SCENARIO]
    current = ok(
        await drift(copilot, **window(stack, DEMO_DRIFT_SCENARIO), config=later_run.profile_fields()["config"])
    )
    assert current["status"] == "drifted" and current["baseline"]["id"] == healthy["id"]
    regressed = {d["metric"] for d in current["deviations"] if d["direction"] == "regressed"}
    assert {"persistence_latency_p95", "persistence_latency_p99"} <= regressed
    relations = {(c["setting"], c["metric"]): c["relation"] for c in current["correlations"]}
    assert relations[("TEMPORAL_SQL_MAX_CONNS", "persistence_latency_p99")] == "expected"  # fewer connections
    conformance = ok(await copilot.post(f"/profiles/{failing['id']}/conformance", json={"preset": DEMO_PRESET}))
    assert conformance["preset"] == DEMO_PRESET and conformance["conforming"] is False
