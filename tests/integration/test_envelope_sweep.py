"""The capacity envelope on a real Prometheus: a simulated load sweep, profiled and ordered by load.

A second Prometheus holds a sweep of cluster ``sweep``: ``healthy-150wps`` at 100, 200, ... 600
workflows/s (``Placement.load_factor``) and ``failing-400wps`` at 700, each in its own 20 minutes. The
known breaking load comes from the parameters: healthy-150wps makes 0.985 closes per start and 8 state
transitions per close (7.88 per start), and ``mid-scale`` fails state transitions at 4,500/s, so the
sweep holds at 500 and breaks at 600 (571 workflows/s) on state transitions first (OCC conflicts also
follow the load and reach their 2/s limit right at 600, by less). Throughput keeps pace until the
failing step (0.6 closes per start), so the knee is at 600.
"""

from __future__ import annotations

import os
import re
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from uuid import uuid4

import httpx
import pytest

from copilot.dev.simulator import SCENARIOS, Placement
from tests.integration.conftest import Stack, simulated_prometheus
from tests.integration.test_profiles_api import create
from tests.support import serve

pytestmark = pytest.mark.stack

CLUSTER = "sweep"
LABEL = "load-sweep"
HEALTHY_LOADS = (100.0, 200.0, 300.0, 400.0, 500.0, 600.0)
FAILING_LOAD = 700.0
STEP = timedelta(minutes=20)
GAP = timedelta(minutes=10)
TRANSITIONS_PER_START = 7.88
MID_SCALE_TRANSITIONS_MAX = 4500.0


def sweep_plan(now: datetime) -> list[Placement]:
    """Each load in its own 20 minutes, 10 minutes apart, ending an hour before ``now`` floored to the hour."""
    end = now.replace(minute=0, second=0, microsecond=0) - timedelta(hours=1)
    runs = [("healthy-150wps", load) for load in HEALTHY_LOADS] + [("failing-400wps", FAILING_LOAD)]
    start = end - len(runs) * (STEP + GAP)
    return [
        Placement(
            scenario,
            "default",
            start + i * (STEP + GAP),
            STEP,
            cluster=CLUSTER,
            load_factor=load / SCENARIOS[scenario].wps,
        )
        for i, (scenario, load) in enumerate(runs)
    ]


ROLLING_CLUSTER = "rolling"


def rolling_plan(now: datetime) -> list[Placement]:
    """Five healthy-150wps runs, then failing-400wps at the same 150 workflows/s, of cluster ``rolling``."""
    end = now.replace(minute=0, second=0, microsecond=0) - timedelta(hours=1)
    runs = [("healthy-150wps", 1.0)] * 5 + [("failing-400wps", 150.0 / SCENARIOS["failing-400wps"].wps)]
    start = end - len(runs) * (STEP + GAP)
    return [
        Placement(scenario, "default", start + i * (STEP + GAP), STEP, cluster=ROLLING_CLUSTER, load_factor=load)
        for i, (scenario, load) in enumerate(runs)
    ]


@dataclass
class Sweep:
    http: httpx.AsyncClient
    ids: list[str]
    """Lightest first."""
    placements: list[Placement]
    rolling: list[tuple[str, Placement]]
    """Profile id and placement of each rolling run, oldest first."""


@pytest.fixture(scope="module")
def sweep_prometheus(stack: Stack, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, list[Placement]]]:
    now = datetime.now(UTC)
    placements = sweep_plan(now) + rolling_plan(now)
    with simulated_prometheus(tmp_path_factory.mktemp("sweep"), placements) as url:
        yield url, placements


@pytest.fixture(scope="module")
async def sweep(stack: Stack, sweep_prometheus: tuple[str, list[Placement]]) -> AsyncIterator[Sweep]:
    url, placements = sweep_prometheus
    async with serve(stack.settings(prometheus_endpoint=url)) as http:
        made = []
        for p in placements:
            payload = {
                "name": f"{p.cluster} {p.scenario} x{p.load_factor:.2f} {p.start:%H:%M}",
                "cluster_id": p.cluster,
                "namespace": p.namespace,
                "task_queue": p.task_queue,
                "time_window_start": p.start.isoformat(),
                "time_window_end": (p.start + p.duration).isoformat(),
                "label": LABEL,
            }
            made.append(((await create(http, payload))["id"], p))
        sweep = [(pid, p) for pid, p in made if p.cluster == CLUSTER]
        yield Sweep(
            http, [pid for pid, _ in sweep], [p for _, p in sweep], [m for m in made if m[1].cluster != CLUSTER]
        )


def test_the_known_breaking_load_lies_between_two_steps() -> None:
    breaks_at = MID_SCALE_TRANSITIONS_MAX / TRANSITIONS_PER_START
    assert HEALTHY_LOADS[-2] < breaks_at < HEALTHY_LOADS[-1]


async def test_the_envelope_finds_the_breaking_load_within_one_step_and_names_the_bound(sweep: Sweep) -> None:
    response = await sweep.http.post(
        "/profiles/envelope",
        json={"cluster_id": CLUSTER, "namespace": "default", "label": LABEL, "preset": "mid-scale"},
    )
    assert response.status_code == 200, response.text
    envelope = response.json()

    loads = [s["offered_load"] for s in envelope["steps"]]
    assert loads == sorted(loads)
    assert loads == pytest.approx([*HEALTHY_LOADS, FAILING_LOAD], rel=0.05)
    assert [s["profile_id"] for s in envelope["steps"]] == sweep.ids
    assert envelope["safe_load"] == pytest.approx(500.0, rel=0.05)
    assert envelope["breaking_load"] == pytest.approx(600.0, rel=0.05)
    assert envelope["breaking_profile_id"] == sweep.ids[5]
    first = envelope["first_broken"][0]
    assert first["metric"] == "state_transitions_per_sec", envelope["first_broken"]
    assert first["limit"] == MID_SCALE_TRANSITIONS_MAX and first["observed"] > MID_SCALE_TRANSITIONS_MAX
    # OCC conflicts follow the load too (0.5/s at 150/s, so mid-scale's 2/s limit sits right at 600/s):
    # noise decides whether they fail there as well, but never by as much as state transitions
    assert all(b["overshoot_pct"] < first["overshoot_pct"] for b in envelope["first_broken"][1:]), envelope["summary"]
    assert {b["metric"] for b in envelope["first_broken"]} <= {"state_transitions_per_sec", "occ_conflicts_per_sec"}
    assert envelope["knee_profile_id"] == sweep.ids[5]
    assert "first state_transitions_per_sec" in envelope["summary"]
    # the failing step breaks many bounds at once; every healthy step up to 500 held
    assert {s["status"] for s in envelope["steps"][:5]} <= {"held", "warn"}
    failing = {b["metric"] for b in envelope["steps"][6]["breaches"] if b["status"] == "fail"}
    assert {"persistence_latency_p99", "sync_match_rate", "backlog_age"} <= failing


async def test_the_envelope_by_ids_equals_the_envelope_by_label(sweep: Sweep) -> None:
    by_ids = await sweep.http.post(
        "/profiles/envelope", json={"profile_ids": list(reversed(sweep.ids)), "preset": "mid-scale"}
    )
    by_label = await sweep.http.post(
        "/profiles/envelope", json={"cluster_id": CLUSTER, "label": LABEL, "preset": "mid-scale"}
    )
    assert by_ids.status_code == by_label.status_code == 200, (by_ids.text, by_label.text)
    assert by_ids.json() == by_label.json()


async def test_without_a_preset_each_step_is_judged_against_the_lightest(sweep: Sweep) -> None:
    response = await sweep.http.post("/profiles/envelope", json={"profile_ids": sweep.ids})
    assert response.status_code == 200, response.text
    envelope = response.json()
    assert envelope["mode"] == "thresholds" and envelope["preset"] is None
    # the failing step regresses far beyond any threshold: the envelope never holds past it
    assert envelope["breaking_load"] is not None and envelope["breaking_load"] <= loads_of(envelope)[-1]
    assert envelope["steps"][-1]["status"] == "broken"


def loads_of(envelope: dict[str, object]) -> list[float]:
    steps = envelope["steps"]
    assert isinstance(steps, list)
    return [float(s["offered_load"]) for s in steps]


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ({"cluster_id": CLUSTER}, "send a label or a time range"),
        ({}, "name the profiles"),
        ({"profile_ids": ["not-a-uuid", "also-not"]}, "not-a-uuid"),
        ({"cluster_id": CLUSTER, "label": "no such label"}, "at least 2 profiles; 0 matched"),
        ({"cluster_id": CLUSTER, "label": LABEL, "preset": "huge"}, "unknown preset"),
    ],
)
async def test_a_bad_envelope_request_says_what_to_send(sweep: Sweep, body: dict[str, object], fragment: str) -> None:
    response = await sweep.http.post("/profiles/envelope", json=body)
    assert 400 <= response.status_code < 500, response.text
    assert fragment in response.text


# --- rolling baselines and "exclude from baselines" ------------------------------------------------
# Cluster ``rolling``: five healthy-150wps runs (r0 designated), then failing-400wps at the same load.
# Each later run is judged against the pool before it; r2 is excluded, so it is left out unjudged, and
# the failing run fails.


async def test_a_rolling_baseline_leaves_out_an_excluded_and_a_failing_profile(sweep: Sweep) -> None:
    http = sweep.http
    ids = [pid for pid, _ in sweep.rolling]
    where: dict[str, str | int] = {"cluster": ROLLING_CLUSTER, "namespace": "default", "n": 3}
    assert (await http.post(f"/profiles/{ids[0]}/baseline")).status_code == 200
    excluded = await http.post(f"/profiles/{ids[2]}/exclusion", json={"reason": "generator misconfigured"})
    assert excluded.status_code == 200, excluded.text
    assert excluded.json()["excluded_from_baselines"] is True
    assert excluded.json()["exclusion_reason"] == "generator misconfigured"
    try:
        # shown in lists and in the full profile (from the index: the document never holds it)
        listed = (await http.get("/profiles", params={"cluster": ROLLING_CLUSTER, "limit": 50})).json()
        flags = {item["id"]: item["excluded_from_baselines"] for item in listed}
        assert flags[ids[2]] is True and sum(flags.values()) == 1
        full = (await http.get(f"/profiles/{ids[2]}")).json()
        assert full["exclusion_reason"] == "generator misconfigured"

        response = await http.get("/profiles/baseline/rolling", params=where)
        assert response.status_code == 200, response.text
        rolling = response.json()
        assert rolling["anchor"]["id"] == ids[0]
        left = {o["profile"]["id"]: o for o in rolling["left_out"]}
        assert [m["id"] for m in rolling["pooled"]] == [ids[1], ids[3], ids[4]], left
        assert set(left) == {ids[2], ids[5]}
        assert left[ids[2]]["verdict"] is None and "generator misconfigured" in left[ids[2]]["reason"]
        assert left[ids[5]]["verdict"] == "fail"

        # drift of the failing window against the pooled rest names what it pooled
        failing = sweep.rolling[5][1]
        window = {
            "time_window_start": failing.start.isoformat(),
            "time_window_end": (failing.start + failing.duration).isoformat(),
        }
        scope = {"cluster_id": ROLLING_CLUSTER, "namespace": "default", **window}
        drift = await http.post("/profiles/drift", json={**scope, "rolling": 3})
        assert drift.status_code == 200, drift.text
        result = drift.json()
        assert result["drifted"] is True
        assert [m["id"] for m in result["rolling_baseline"]["pooled"]] == [ids[1], ids[3], ids[4]]
        # the judged window's own profile ends after the window starts: it is not part of the chain
        assert {o["profile"]["id"] for o in result["rolling_baseline"]["left_out"]} == {ids[2]}
        (said,) = [n for n in result["rolling_baseline"]["notes"] if "were not considered" in n]
        assert said.startswith("1 profile(s) whose windows end after the judged window starts")
        assert "rolling baseline of 3 pooled profiles" in result["summary"]
        assert "was judged against the rolling baseline of 3 pooled profile(s) (" in result["explanation"]
        assert all(pid in result["summary"] for pid in (ids[1], ids[3], ids[4]))
        # the pooled profiles' contributors place the regressions, as a single baseline's do
        placed = {a["metric"]: a for a in result["attributions"]}
        assert "persistence_latency_p99" in placed, result["attributions"]
        assert "of it from operation " in placed["persistence_latency_p99"]["statement"]
        # the single designated baseline keeps working as before
        single = await http.post("/profiles/drift", json=scope)
        assert single.status_code == 200 and single.json()["rolling_baseline"] is None
        assert single.json()["baseline"]["id"] == ids[0]
    finally:
        included = await http.delete(f"/profiles/{ids[2]}/exclusion")
    assert included.status_code == 200 and included.json()["excluded_from_baselines"] is False
    assert included.json()["exclusion_reason"] is None
    again = (await http.get("/profiles/baseline/rolling", params=where)).json()
    assert [m["id"] for m in again["pooled"]] == ids[2:5]


async def test_exclusion_needs_a_reason_and_a_known_profile(sweep: Sweep) -> None:
    blank = await sweep.http.post(f"/profiles/{sweep.ids[1]}/exclusion", json={"reason": "  "})
    assert blank.status_code == 422 and "reason" in blank.text
    unknown = await sweep.http.post(f"/profiles/{uuid4()}/exclusion", json={"reason": "x"})
    assert unknown.status_code == 404
    no_baseline = await sweep.http.get("/profiles/baseline/rolling", params={"cluster": "nowhere"})
    assert no_baseline.status_code == 404 and "designate" in no_baseline.text


# --- the envelope page, in headless Chromium ---------------------------------------------------------


def test_the_envelope_page_charts_every_metric_with_bounds_and_marks_the_break(
    stack: Stack, sweep: Sweep, tmp_path_factory: pytest.TempPathFactory
) -> None:
    from playwright.sync_api import expect

    from tests.integration.test_ui_browser import _chromium_page, _serve
    from tests.support import screenshot_dir

    shots = screenshot_dir(os.environ, tmp_path_factory.mktemp("envelope-shots"))
    shots.mkdir(parents=True, exist_ok=True)
    with _serve(stack.settings()) as url, _chromium_page() as page:
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.goto(f"{url}/ui/envelope")
        expect(page.locator("nav a.active")).to_have_text("Envelope")
        page.fill("#f-cluster", CLUSTER)
        page.fill("#f-namespace", "default")
        page.fill("#f-label", LABEL)
        page.select_option("#f-preset", "mid-scale")
        page.click("#envelope-submit")

        expect(page).to_have_url(
            re.compile(rf"/ui/envelope\?cluster={CLUSTER}&namespace=default&label={LABEL}&preset=mid-scale$")
        )
        summary = page.locator("#envelope-summary")
        expect(summary).to_have_attribute("data-first-broken", "state_transitions_per_sec")
        expect(summary.locator(".verdict-word")).to_have_text("BREAKS")
        assert 570 <= float(summary.get_attribute("data-breaking-load") or 0) <= 630
        assert 475 <= float(summary.get_attribute("data-safe-load") or 0) <= 525
        rows = page.locator("#envelope-steps tbody tr")
        expect(rows).to_have_count(len(sweep.ids))
        assert rows.evaluate_all("rows => rows.map(r => r.dataset.profile)") == sweep.ids
        expect(page.locator(f'#envelope-steps tr[data-profile="{sweep.ids[5]}"]')).to_contain_text("breaks")
        expect(page.locator(f'#envelope-steps tr[data-profile="{sweep.ids[4]}"]')).to_contain_text("last held")

        # one chart per metric, every one drawn; the bounded ones carry their limit lines
        cards = page.locator("#envelope-grid .envelope-chart")
        expect(page.locator("#app")).to_have_attribute("data-charts-drawn", re.compile(r"^\d+$"))
        count = cards.count()
        assert count >= 10 and page.locator("#app").get_attribute("data-charts-drawn") == str(count + 1)
        broken = page.locator('#envelope-grid .envelope-chart[data-metric="state_transitions_per_sec"]')
        expect(broken.locator(".badge")).to_have_text("first broken")
        lines = broken.locator(".annotation-text").all_text_contents()
        assert {"fails above", "warns above", "breaks", "held"} <= set(lines), lines
        expect(page.locator("#envelope-throughput .annotation-text", has_text="knee")).to_have_count(1)
        page.screenshot(path=str(shots / "envelope.png"), full_page=True)

        # the list shows a profile excluded from baselines, with its reason
        with httpx.Client(base_url=url, timeout=60) as http:
            marked = http.post(f"/profiles/{sweep.ids[1]}/exclusion", json={"reason": "warm-up run"})
            assert marked.status_code == 200, marked.text
            try:
                page.goto(f"{url}/ui/?cluster={CLUSTER}&label={LABEL}")
                mark = page.locator(f'tr[data-id="{sweep.ids[1]}"] .badge.excluded')
                expect(mark).to_have_text("excluded from baselines")
                expect(mark).to_have_attribute("title", "warm-up run")
                expect(page.locator(".badge.excluded")).to_have_count(1)
            finally:
                assert http.delete(f"/profiles/{sweep.ids[1]}/exclusion").status_code == 200

        # a shared link renders at once; a selection of one profile says what to send
        page.goto(f"{url}/ui/envelope?ids={sweep.ids[0]}")
        expect(page.locator("#envelope-result .error")).to_contain_text("at least 2 profiles")
    assert errors == [], errors


# --- the drift page against a rolling baseline, in headless Chromium ----------------------------------


def test_the_drift_page_judges_against_a_rolling_baseline_and_lists_what_it_pooled(
    stack: Stack, sweep: Sweep, sweep_prometheus: tuple[str, list[Placement]]
) -> None:
    from playwright.sync_api import expect

    from tests.integration.test_ui_browser import _chromium_page, _serve

    ids = [pid for pid, _ in sweep.rolling]
    failing = sweep.rolling[5][1]
    start, end = failing.start, failing.start + failing.duration
    settings = stack.settings(prometheus_endpoint=sweep_prometheus[0])
    with _serve(settings) as url, _chromium_page() as page, httpx.Client(base_url=url, timeout=120) as http:
        assert http.post(f"/profiles/{ids[0]}/baseline").status_code == 200
        excluded = http.post(f"/profiles/{ids[2]}/exclusion", json={"reason": "generator misconfigured"})
        assert excluded.status_code == 200, excluded.text
        body = {
            "cluster_id": ROLLING_CLUSTER,
            "namespace": "default",
            "time_window_start": start.isoformat(),
            "time_window_end": end.isoformat(),
            "rolling": 3,
            "statistic": "p95",
            "include_all": True,
        }
        answer = http.post("/profiles/drift", json=body)
        assert answer.status_code == 200, answer.text
        expected = answer.json()
        pooled = [m["id"] for m in expected["rolling_baseline"]["pooled"]]
        assert len(pooled) == 3 and expected["attributions"]

        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.goto(f"{url}/ui/drift")
        page.fill("#f-cluster", ROLLING_CLUSTER)
        page.fill("#f-namespace", "default")
        page.fill("#f-time_window_start", f"{start:%Y-%m-%dT%H:%M}")
        page.fill("#f-time_window_end", f"{end:%Y-%m-%dT%H:%M}")
        page.fill("#f-rolling", "25")
        page.click("#drift-submit")
        expect(page.locator("#err-rolling")).to_have_text("A whole number from 1 to 20, or empty.")
        expect(page.locator("#drift-status")).to_have_count(0)

        page.fill("#f-rolling", "3")
        page.select_option("#f-statistic", "p95")
        page.check("#f-all")
        page.click("#drift-submit")
        status = page.locator("#drift-status")
        expect(status).to_have_attribute("data-status", expected["status"])
        expect(status).to_contain_text("statistic p95")
        for part in ("rolling=3", "statistic=p95", "all=1", f"cluster={ROLLING_CLUSTER}"):
            assert part in page.url, page.url
        card = page.locator("#drift-baseline")
        expect(card.locator("h2")).to_have_text("Rolling baseline: 3 pooled")
        expect(card.locator("#drift-pooled li")).to_have_count(3)
        assert card.locator("#drift-pooled li").evaluate_all("items => items.map(i => i.dataset.id)") == pooled
        # the excluded run is left out with its reason; the failing run is the judged window itself, so it is
        # not in the chain at all, and the card says so
        assert [o["profile"]["id"] for o in expected["rolling_baseline"]["left_out"]] == [ids[2]]
        expect(card.locator("#drift-left-out summary")).to_have_text("Left out (1)")
        expect(card.locator("#drift-left-out li")).to_contain_text("generator misconfigured")
        expect(card).to_contain_text("1 profile(s) whose windows end after the judged window starts")
        rows = page.locator("#deviations-table tbody tr")
        expect(rows).to_have_count(len(expected["deviations"]))
        placed = page.locator("#attributions li").evaluate_all("items => items.map(i => i.dataset.metric)")
        assert placed == [a["metric"] for a in expected["attributions"]]

        # the page's address keeps the options: opened again, it checks at once with the same ones
        page.goto(page.url)
        expect(page.locator("#drift-status")).to_have_attribute("data-status", expected["status"])
        expect(page.locator("#f-statistic")).to_have_value("p95")
        expect(page.locator("#f-all")).to_be_checked()
        expect(page.locator("#f-rolling")).to_have_value("3")
        expect(page.locator("#drift-pooled li")).to_have_count(3)
        assert errors == []
        assert http.delete(f"/profiles/{ids[2]}/exclusion").status_code == 200
