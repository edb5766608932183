"""The judgement engine on the real Prometheus: each one-change scenario flags exactly its own effects.

A second Prometheus, loaded with :func:`copilot.dev.simulator.judgement_plan`, serves an in-process app
that shares the session stack's PostgreSQL and S3. Every scenario's profile is compared with the
healthy-150wps profile (A = healthy, B = scenario) and the outcome of every catalogue metric is checked.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from copilot.dev.simulator import JUDGEMENT_SCENARIOS, Placement, judgement_plan
from tests.integration.conftest import Stack, simulated_prometheus
from tests.integration.test_profiles_api import create
from tests.support import serve

pytestmark = pytest.mark.stack

HEALTHY = "healthy-150wps"

ALWAYS_NO_DATA: frozenset[str] = frozenset()
"""Temporal exports no CPU metric and the simulator writes no platform CPU: the profiles leave CPU out
(with one note saying where it would come from), so nothing is "no data" on both sides every time."""


@dataclass(frozen=True)
class Expect:
    """What comparing healthy-150wps (A) with the scenario (B) must show; every other metric is unchanged."""

    verdicts: frozenset[str]
    regressed: frozenset[str] = frozenset()
    improved: frozenset[str] = frozenset()
    changed: frozenset[str] = frozenset()
    """Neutral metrics beyond their threshold."""
    no_data: frozenset[str] = field(default=frozenset())
    """Beyond ALWAYS_NO_DATA."""
    explained: frozenset[str] = frozenset()
    """Cost regressions explained by load: listed, labelled, not counted."""


_PERSISTENCE = frozenset({"persistence_latency_p95", "persistence_latency_p99"})
_DSQL_PLUGIN = frozenset(
    {
        "pool_open_count",
        "pool_in_use_count",
        "pool_idle_count",
        "reservoir_size",
        "reservoir_fill",
        "reservoir_empty_events",
        "open_failures",
        "dsql_auth_failures",
        "occ_conflicts_per_sec",
        "exhausted_retries_per_sec",
    }
)

# Each scenario changes one cause; the simulator keeps everything else independent of it (backlog,
# dispatch latency, slots and the cluster-wide counters do not follow load, latency or matching), so
# the expected sets below are that cause's direct effects only.
EXPECTED: dict[str, Expect] = {
    # another noise realisation of the same parameters: nothing beyond any threshold
    "healthy-150wps-noise": Expect(frozenset({"pass"})),
    # both catalogue percentiles of the one family, +80 % (beyond twice the 20 % latency threshold)
    "latency-family-up-80": Expect(frozenset({"fail"}), regressed=_PERSISTENCE),
    # async_match_rate is 1 - sync_match_rate over the same counters: not a knock-on but the same
    # measurement read the other way (0.05 -> 0.7, lower is better), so it regresses with it
    "sync-match-collapse": Expect(frozenset({"fail"}), regressed=frozenset({"sync_match_rate", "async_match_rate"})),
    # +300 %, beyond twice the 50 % error threshold
    "conflicts-x4": Expect(frozenset({"fail"}), regressed=frozenset({"occ_conflicts_per_sec"})),
    # from none (the absent counter reads 0 because dsql_tx_conflict_total reports): critical, no percentage
    "exhausted-from-zero": Expect(frozenset({"fail"}), regressed=frozenset({"exhausted_retries_per_sec"})),
    # only the reservoir gauge; empty events and refill failures are separate causes and stay at healthy
    "reservoir-drained": Expect(frozenset({"fail"}), regressed=frozenset({"reservoir_size", "reservoir_fill"})),
    # starts are offered load (neutral: changed); completions and state transitions derive from starts
    # in the simulator, so they fall with them. -40 % sits on twice the 20 % threshold, so noise decides
    # between warning and critical.
    "throughput-down-40": Expect(
        frozenset({"warn", "fail"}),
        regressed=frozenset({"workflows_completed_per_sec", "state_transitions_per_sec"}),
        changed=frozenset({"workflows_started_per_sec"}),
    ),
    "latency-improved-40": Expect(frozenset({"pass"}), improved=_PERSISTENCE),
    # every DSQL plugin metric has no data on B (the absent-is-zero rule needs a family member that
    # reports); OCC conflicts and exhausted retries are key metrics, so the verdict is inconclusive
    "dsql-family-missing": Expect(frozenset({"inconclusive"}), no_data=_DSQL_PLUGIN),
    # issue 13: from none, an hour-old backlog is judged by backlog age's levels (critical at 300 s)
    "backlog-age-from-none": Expect(frozenset({"fail"}), regressed=frozenset({"backlog_age"})),
    # 8 to 40,000 tasks reads as a multiple, and is critical
    # the activities' own time on their workers, as a real server's history records it
    "activities-slow-x5": Expect(frozenset({"fail"}), regressed=frozenset({"activity_execution_latency_p95"})),
    # polls refused by the namespace's rate limit: an error from none, critical
    "polls-throttled": Expect(frozenset({"fail"}), regressed=frozenset({"throttled_requests_per_sec"})),
    # workflow code that raises: its tasks fail and time out at their retries, errors from none, critical
    "workflow-tasks-failing": Expect(
        frozenset({"fail"}), regressed=frozenset({"workflow_task_failures_per_sec", "workflow_task_timeouts_per_sec"})
    ),
    "backlog-x5000": Expect(frozenset({"fail"}), regressed=frozenset({"backlog_count"})),
    # 2.5 times the load with the same conflicts and workflow failures per state transition: both rises
    # are explained by load (listed, not counted); more completions and transitions are improvements,
    # starts neutral; nothing counts against it, so it passes
    "same-efficiency-2.5x-load": Expect(
        frozenset({"pass"}),
        improved=frozenset({"workflows_completed_per_sec", "state_transitions_per_sec"}),
        changed=frozenset({"workflows_started_per_sec"}),
        explained=frozenset({"occ_conflicts_per_sec", "workflow_failures_per_sec"}),
    ),
    # the ramp-up is trimmed (offered load under 75 % of its level), so the steady part is judged: healthy
    "ramp-up-12min": Expect(frozenset({"pass"})),
    # with the median steady, a 2.5x p99 widens the lognormal's tail, so p95 rises too (about +90 %):
    # a direct effect of the same change, for both task types
    "schedule-to-start-p99-up-150": Expect(
        frozenset({"fail"}),
        regressed=frozenset(
            {
                "workflow_schedule_to_start_p95",
                "workflow_schedule_to_start_p99",
                "activity_schedule_to_start_p95",
                "activity_schedule_to_start_p99",
            }
        ),
    ),
}


@dataclass
class Judge:
    http: httpx.AsyncClient
    placements: list[Placement]
    profiles: dict[str, str]
    """scenario -> profile id"""

    async def compare(self, a: str, b: str, **options: Any) -> dict[str, Any]:
        payload = {"profile_a_id": self.profiles[a], "profile_b_id": self.profiles[b], **options}
        response = await self.http.post("/profiles/compare", json=payload)
        assert response.status_code == 200, response.text
        data: dict[str, Any] = response.json()
        return data


def _payload(p: Placement) -> dict[str, Any]:
    return {
        "name": f"judge {p.scenario}",
        "cluster_id": p.cluster,
        "namespace": p.namespace,
        "task_queue": p.task_queue,
        "time_window_start": p.start.isoformat(),
        "time_window_end": (p.start + p.duration).isoformat(),
        "label": "judgement-scenarios",
    }


@pytest.fixture(scope="module")
def judge_prometheus(stack: Stack, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, list[Placement]]]:
    """A second Prometheus holding only the judgement plan; stopped at the end of the module."""
    placements = judgement_plan(datetime.now(UTC))
    with simulated_prometheus(tmp_path_factory.mktemp("judge"), placements) as url:
        yield url, placements


@pytest.fixture(scope="module")
async def judge(stack: Stack, judge_prometheus: tuple[str, list[Placement]]) -> AsyncIterator[Judge]:
    url, placements = judge_prometheus
    async with serve(stack.settings(prometheus_endpoint=url)) as http:
        profiles = {p.scenario: (await create(http, _payload(p)))["id"] for p in placements}
        yield Judge(http, placements, profiles)


def _keys(diffs: list[dict[str, Any]], direction: str, *, counted: bool | None = None) -> set[str]:
    return {
        d["metric"]
        for d in diffs
        if d["direction"] == direction and (counted is None or d["counts_toward_verdict"] is counted)
    }


def test_every_judgement_scenario_has_an_expectation() -> None:
    assert set(EXPECTED) == set(JUDGEMENT_SCENARIOS)


def test_the_plan_keeps_one_cluster_apart(judge_prometheus: tuple[str, list[Placement]]) -> None:
    _, placements = judge_prometheus
    assert [p.scenario for p in placements] == [HEALTHY, *JUDGEMENT_SCENARIOS]
    assert {(p.cluster, p.namespace) for p in placements} == {("judge", "default")}


@pytest.mark.parametrize("scenario", JUDGEMENT_SCENARIOS)
async def test_scenario_flags_exactly_its_injected_change(judge: Judge, scenario: str) -> None:
    expect = EXPECTED[scenario]
    full = await judge.compare(HEALTHY, scenario, include_all=True)
    diffs: list[dict[str, Any]] = full["telemetry_diffs"]
    by_key = {d["metric"]: d for d in diffs}
    why = {
        k: (d["direction"], d["change_pct"], d["reason"]) for k, d in by_key.items() if d["direction"] != "unchanged"
    }

    assert _keys(diffs, "regressed", counted=True) == expect.regressed, why
    assert _keys(diffs, "improved", counted=True) == expect.improved, why
    assert _keys(diffs, "changed") == expect.changed, why
    assert _keys(diffs, "no_data") == ALWAYS_NO_DATA | expect.no_data, why
    explained = {k for k, d in by_key.items() if d.get("load_label") == "explained by load"}
    assert explained == expect.explained, why
    for key in explained:
        assert by_key[key]["direction"] == "regressed" and not by_key[key]["counts_toward_verdict"]
    # nothing else moved, not even beyond a threshold without significance
    flagged = expect.regressed | expect.improved | expect.changed | expect.no_data | expect.explained | ALWAYS_NO_DATA
    assert {k for k, d in by_key.items() if d["direction"] != "unchanged"} == flagged, why
    assert full["verdict"] in expect.verdicts, full["summary"]

    for key in expect.regressed | expect.improved | expect.changed:
        d = by_key[key]
        assert d["beyond_threshold"] and d["severity"] in {"warning", "critical"}, d
        assert d["evidence"] is not None and d["evidence"]["significant"], d
    for key in expect.changed:
        assert by_key[key]["better"] == "neutral"

    # the default listing: exactly what is beyond a threshold, plus no data
    default = await judge.compare(HEALTHY, scenario)
    assert default["verdict"] == full["verdict"] and default["summary"] == full["summary"]
    assert {d["metric"] for d in default["telemetry_diffs"]} == flagged


async def test_load_and_levels_on_the_real_prometheus(judge: Judge) -> None:
    busier = await judge.compare(HEALTHY, "same-efficiency-2.5x-load")
    assert busier["load"]["differs"] and busier["notes"][0].startswith("Offered load differs")
    occ = next(d for d in busier["telemetry_diffs"] if d["metric"] == "occ_conflicts_per_sec")
    assert occ["per_unit"]["direction"] == "unchanged" and occ["load_label"] == "explained by load"
    worse = await judge.compare(HEALTHY, "conflicts-x4")
    occ = next(d for d in worse["telemetry_diffs"] if d["metric"] == "occ_conflicts_per_sec")
    assert occ["load_label"] == "worse per unit of work" and not worse["load"]["differs"]
    age = await judge.compare(HEALTHY, "backlog-age-from-none")
    (d,) = [d for d in age["telemetry_diffs"] if d["metric"] == "backlog_age"]
    assert d["severity"] == "critical" and d["change_pct"] is None and "critical level 300 s" in d["reason"]
    ramp = await judge.compare(HEALTHY, "ramp-up-12min")
    (trim,) = ramp["trims"]
    assert trim["side"] == "B" and 5 * 60 <= trim["ramp_up_seconds"] <= 12 * 60 and trim["drain_seconds"] == 0
    assert (await judge.compare(HEALTHY, "ramp-up-12min", trim_steady_state=False))["trims"] == []
    backlog = await judge.compare(HEALTHY, "backlog-x5000")
    (d,) = [d for d in backlog["telemetry_diffs"] if d["metric"] == "backlog_count"]
    assert d["change_text"].startswith("\u00d7") and d["change_text"] in backlog["summary"]


async def test_noise_only_passes_with_nothing_flagged(judge: Judge) -> None:
    result = await judge.compare(HEALTHY, "healthy-150wps-noise")
    assert result["verdict"] == "pass"
    assert result["summary"] == "Pass: no metric regressed beyond its threshold."
    assert {d["metric"] for d in result["telemetry_diffs"]} == ALWAYS_NO_DATA
    assert any("Temporal exports no CPU metric" in note for note in result["notes"])


async def test_latency_family_regresses_critically(judge: Judge) -> None:
    result = await judge.compare(HEALTHY, "latency-family-up-80")
    by_key = {d["metric"]: d for d in result["telemetry_diffs"]}
    for key in _PERSISTENCE:
        d = by_key[key]
        assert d["direction"] == "regressed" and d["severity"] == "critical", d
        assert 50 < d["change_pct"] < 120, d
        assert d["evidence"]["effect_size"] > 0.9
    assert result["summary"].startswith("Fail: 2 metrics regressed beyond threshold: persistence_latency_p9")


async def test_exhausted_from_zero_is_critical_without_a_percentage(judge: Judge) -> None:
    result = await judge.compare(HEALTHY, "exhausted-from-zero")
    (d,) = [d for d in result["telemetry_diffs"] if d["metric"] == "exhausted_retries_per_sec"]
    assert d["direction"] == "regressed" and d["severity"] == "critical"
    assert d["change_pct"] is None
    assert d["old_value"] == 0 and 0.15 < d["new_value"] < 0.25
    assert "from none" in d["reason"]
    assert "exhausted_retries_per_sec from none to" in result["summary"]


async def test_throughput_down_regresses_completions_and_only_changes_starts(judge: Judge) -> None:
    result = await judge.compare(HEALTHY, "throughput-down-40")
    by_key = {d["metric"]: d for d in result["telemetry_diffs"]}
    started = by_key["workflows_started_per_sec"]
    assert started["direction"] == "changed" and started["better"] == "neutral"
    assert started["counts_toward_verdict"] is True
    for key in ("workflows_started_per_sec", "workflows_completed_per_sec", "state_transitions_per_sec"):
        assert by_key[key]["change_pct"] == pytest.approx(-40, abs=3), by_key[key]
    assert "workflows_started_per_sec" not in result["summary"]


async def test_improved_latency_passes(judge: Judge) -> None:
    result = await judge.compare(HEALTHY, "latency-improved-40")
    assert result["verdict"] == "pass"
    assert result["summary"] == "Pass: no metric regressed beyond its threshold, 2 metrics improved."
    for d in result["telemetry_diffs"]:
        if d["metric"] in _PERSISTENCE:
            assert d["direction"] == "improved" and d["change_pct"] < -20, d


async def test_missing_family_is_no_data_and_inconclusive(judge: Judge) -> None:
    result = await judge.compare(HEALTHY, "dsql-family-missing")
    assert result["verdict"] == "inconclusive"
    assert result["summary"].startswith("Inconclusive: no data for key metrics ")
    assert "occ_conflicts_per_sec" in result["summary"] and "exhausted_retries_per_sec" in result["summary"]
    for d in result["telemetry_diffs"]:
        if d["metric"] in _DSQL_PLUGIN:
            assert d["old"] is not None and d["old"]["mean"] is not None, d  # A has the data, B has none
            assert d["new_value"] is None and d["change_pct"] is None, d
            # a key metric without data is a counted warning; any other is information
            assert (d["severity"], d["counts_toward_verdict"]) == (
                ("warning", True) if d["key_metric"] else ("info", False)
            ), d
    keys = {d["metric"] for d in result["telemetry_diffs"] if d["key_metric"] and d["direction"] == "no_data"}
    assert keys == {"occ_conflicts_per_sec", "exhausted_retries_per_sec"}


async def test_swapping_sides_swaps_regressed_and_improved(judge: Judge) -> None:
    for scenario in ("latency-family-up-80", "sync-match-collapse", "throughput-down-40"):
        forward = (await judge.compare(HEALTHY, scenario, include_all=True))["telemetry_diffs"]
        backward = (await judge.compare(scenario, HEALTHY, include_all=True))["telemetry_diffs"]
        assert _keys(backward, "improved") == _keys(forward, "regressed") == EXPECTED[scenario].regressed
        # workflow failures follow load: -40 % forward stays inside the 50 % error threshold, but the
        # same change read backwards is +67 %, beyond it (percentages are not symmetric)
        load_following = {"workflow_failures_per_sec"} if scenario == "throughput-down-40" else set()
        assert _keys(backward, "regressed") == load_following
        assert _keys(forward, "improved") == set()
        assert _keys(backward, "changed") == _keys(forward, "changed")
        assert _keys(backward, "unchanged") == _keys(forward, "unchanged") - load_following
