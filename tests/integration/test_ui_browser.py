"""The web UI in headless Chromium (Debian's `chromium`, driven by Playwright) against the real stack.

One walk through what an SRE does: create a profile from a time range, find it in the list, designate
the baseline, compare two profiles with their charts, and check conformance against a preset. Each
page is saved as a screenshot (1400x900 viewport, full page): to a temporary directory, or over
docs/screenshots/ with ``COPILOT_UPDATE_SCREENSHOTS=1`` (see docs/ui.md).
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import httpx
import pytest
import uvicorn

from copilot.app import create_app
from copilot.settings import Settings
from tests.integration.conftest import Stack
from tests.integration.test_profiles_api import body
from tests.support import DOC_SCREENSHOTS, UPDATE_SCREENSHOTS, screenshot_dir

if TYPE_CHECKING:
    from playwright.sync_api import Page

pytestmark = pytest.mark.stack

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
HOSTILE = "<script>alert('x')</script>"
"""Part of a profile name: it must show as text and never run."""


def _chromium() -> str:
    path = shutil.which("chromium")
    if path is None:
        message = "Debian's chromium is not installed (scripts/setup.sh installs it)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return path


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextmanager
def _serve(settings: Settings) -> Iterator[str]:
    """The real app under uvicorn on a free port, in a thread of this process."""
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(settings), host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, name="ui-test-server", daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=15)


@pytest.fixture(scope="module")
def screenshots(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Where this module saves its screenshots; the docs' own are left untouched unless asked for."""
    directory = screenshot_dir(os.environ, tmp_path_factory.mktemp("screenshots"))
    directory.mkdir(parents=True, exist_ok=True)
    docs_before = {p.name: p.read_bytes() for p in DOC_SCREENSHOTS.glob("*.png")}
    yield directory
    if directory != DOC_SCREENSHOTS:
        assert {p.name: p.read_bytes() for p in DOC_SCREENSHOTS.glob("*.png")} == docs_before, (
            f"a browser test wrote to {DOC_SCREENSHOTS} without {UPDATE_SCREENSHOTS}=1"
        )


@pytest.fixture(scope="module")
def ui_server(stack: Stack) -> Iterator[str]:
    with _serve(stack.settings()) as url:
        yield url


@contextmanager
def _chromium_page() -> Iterator[Page]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=_chromium(), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 900}, locale="en-GB", timezone_id="UTC")
            page.set_default_timeout(60_000)
            yield page
        finally:
            browser.close()


def _local_input(moment: object) -> str:
    """A datetime as the UI's UTC datetime-local field takes it."""
    from datetime import datetime

    assert isinstance(moment, datetime)
    return moment.strftime("%Y-%m-%dT%H:%M")


def create_through_the_api(base_url: str, stack: Stack, scenario: str, name: str, label: str, *, max_conns: int) -> str:
    """A profile of ``scenario`` made through the JSON API, with ``TEMPORAL_SQL_MAX_CONNS`` in its snapshot."""
    config = {"environment": {"TEMPORAL_SQL_MAX_CONNS": str(max_conns)}}
    with httpx.Client(base_url=base_url, timeout=120) as http:
        created = http.post("/profiles", json=body(stack, scenario, name=name, label=label, config=config))
    assert created.status_code == 201, created.text
    profile_id: str = created.json()["id"]
    return profile_id


def test_sre_walk_through_the_ui(stack: Stack, ui_server: str, screenshots: Path) -> None:
    from playwright.sync_api import Dialog, expect

    run = uuid.uuid4().hex[:8]
    label = f"ui-{run}"
    healthy_window = stack.window("healthy-150wps")

    with _chromium_page() as page:
        dialogs: list[str] = []

        def on_dialog(dialog: Dialog) -> None:
            dialogs.append(dialog.message)
            dialog.dismiss()

        page.on("dialog", on_dialog)
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        outside: list[str] = []
        page.on(
            "request",
            lambda req: None if req.url.startswith((ui_server, "data:", "blob:")) else outside.append(req.url),
        )
        # --- create: quick ranges fill the window; a custom range matches the simulated hour ---
        page.goto(f"{ui_server}/ui/create")
        quick = page.locator(".quick-ranges button")
        expect(quick).to_have_count(6)
        page.get_by_role("button", name="Last hour").click()
        expect(page.locator("#window-info")).to_contain_text("(1 h)")

        # A cluster with no telemetry: the API's problem detail is shown, and nothing is created.
        page.fill("#f-name", f"nothing {run}")
        page.fill("#f-cluster_id", f"no-such-cluster-{run}")
        page.fill("#f-time_window_start", _local_input(healthy_window.start))
        page.fill("#f-time_window_end", _local_input(healthy_window.start + healthy_window.duration))
        page.click("#create-submit")
        problem = page.locator("#create-result .error")
        expect(problem).to_contain_text("HTTP 422")
        expect(problem).to_contain_text(f"no-such-cluster-{run}")

        page.fill("#f-name", f"healthy @ 150 WPS {run}")
        page.fill("#f-cluster_id", healthy_window.cluster)
        page.fill("#f-namespace", healthy_window.namespace)
        page.fill("#f-task_queue", healthy_window.task_queue)
        page.fill("#f-label", label)
        page.select_option("#f-preset", "mid-scale")
        page.click(".advanced summary")
        page.fill("#f-config\\.environment", "TEMPORAL_SQL_MAX_CONNS=100\nDB_PASSWORD=hunter2-secret")
        expect(page.locator("#window-info")).to_contain_text("(1 h)")
        page.screenshot(path=str(screenshots / "create.png"), full_page=True)
        page.click("#create-submit")
        page.wait_for_url(re.compile(r"/ui/profiles/[0-9a-f-]{36}$"))
        healthy_id = page.url.rsplit("/", 1)[1]

        # --- profile page: aggregates, charts of the stored series, redacted config, versions ---
        expect(page.locator(".flash")).to_contain_text("created")
        expect(page.locator(".flash")).to_contain_text("One note below")
        # the simulator writes no platform CPU: one note says where CPU would come from
        expect(page.locator("#profile-notes")).to_contain_text("Temporal exports no CPU metric")
        expect(page.locator("h1")).to_have_text(f"healthy @ 150 WPS {run}")
        card = page.locator('.metric-card[data-metric="persistence_latency_p99"]')
        expect(card).to_contain_text("ms")
        expect(card.locator(".js-plotly-plot svg.main-svg").first).to_be_visible()
        environment = page.locator('.config-part[data-part="environment"]')
        expect(environment.locator(".badge.redacted")).to_have_text("redacted")
        expect(environment).not_to_contain_text("hunter2-secret")
        expect(page.locator('.config-part[data-part="dynamic_config"]')).to_contain_text("not collected")
        expect(page.locator("table.kv").first).to_contain_text("1.27.2")

        # B through the JSON API, with the connection limit lowered so a correlation shows.
        failing_id = create_through_the_api(
            ui_server, stack, "failing-400wps", f"failing {HOSTILE} {run}", label, max_conns=20
        )

        # --- list: filter by label, both listed, designate the baseline and see its mark ---
        page.click("nav >> text=Profiles")
        page.fill("#filters input[name=label]", label)
        page.click("#filters button[type=submit]")
        expect(page).to_have_url(re.compile(rf"/ui/\?label={label}$"))
        rows = page.locator("#profiles-table tbody tr")
        expect(rows).to_have_count(2)
        expect(rows.locator(".profile-name")).to_have_text([f"failing {HOSTILE} {run}", f"healthy @ 150 WPS {run}"])
        healthy_row = page.locator(f'tr[data-id="{healthy_id}"]')
        expect(healthy_row.locator(".badge.baseline")).to_have_count(0)
        healthy_row.get_by_role("button", name="Make baseline").click()
        expect(page.locator(f'tr[data-id="{healthy_id}"] .badge.baseline')).to_have_text("★ baseline")
        expect(page.locator(".flash")).to_contain_text("is now the baseline")
        expect(page.locator(f'tr[data-id="{failing_id}"] .badge.baseline')).to_have_count(0)
        page.screenshot(path=str(screenshots / "list.png"), full_page=True)

        # --- compare: A = healthy, B = failing; verdict, severity order, correlation, charts ---
        compare_button = page.locator("#compare-selected")
        expect(compare_button).to_be_disabled()
        page.locator(f'tr[data-id="{healthy_id}"] input[name=pick-a]').check()
        page.locator(f'tr[data-id="{failing_id}"] input[name=pick-b]').check()
        compare_button.click()
        page.wait_for_url(re.compile(rf"/ui/compare\?a={healthy_id}&b={failing_id}$"))
        expect(page.locator("#verdict .verdict-word")).to_have_text("FAIL")
        expect(page.locator(".side-a")).to_contain_text("★ baseline")
        expect(page.locator(".side-b .profile-name")).to_have_text(f"failing {HOSTILE} {run}")
        severities = page.locator("#diffs-table tbody tr").evaluate_all(
            "rows => rows.map(r => r.className.match(/sev-(critical|warning|info)/)[1])"
        )
        rank = {"critical": 0, "warning": 1, "info": 2}
        assert severities and severities == sorted(severities, key=rank.__getitem__), severities
        assert severities[0] == "critical"
        expect(page.locator('#diffs-table tr[data-metric="persistence_latency_p99"] .dir')).to_have_text("regressed")
        correlation = page.locator('#correlations li[data-setting="TEMPORAL_SQL_MAX_CONNS"]')
        expect(correlation).to_contain_text("decreased")
        expect(correlation).to_contain_text("likely cause")
        # where it lives: every operation slowed alike in the failing hour, so the largest part is named
        placed = page.locator('#attributions li[data-metric="persistence_latency_p99"]')
        expect(placed).to_contain_text("of it from operation")
        expect(placed.locator("table.contributors tbody tr").first).to_contain_text("operation=")
        expect(page.locator("#overlay-grid .js-plotly-plot").first).to_be_visible()
        expect(page.locator("#app[data-charts-drawn]")).to_have_count(1)  # every chart drawn
        drawn = page.locator("#overlay-grid .js-plotly-plot")
        assert drawn.count() >= 20
        overlay = page.locator('#overlay-grid [data-metric="persistence_latency_p99"] .js-plotly-plot')
        expect(overlay.locator("g.trace.scatter")).to_have_count(2)  # A and B overlaid
        page.screenshot(path=str(screenshots / "compare.png"), full_page=True)
        page.screenshot(path=str(screenshots / "compare-top.png"))  # the first screen, shown in the README

        # --- conformance: from B's profile page, a preset chosen in a select ---
        page.locator(".side-b .profile-name").click()
        page.wait_for_url(re.compile(rf"/ui/profiles/{failing_id}$"))
        expect(page.locator("#conformance-preset option")).to_have_count(3)
        page.select_option("#conformance-preset", "starter")
        page.locator("form", has=page.locator("#conformance-preset")).get_by_role("button", name="Check").click()
        page.wait_for_url(re.compile(rf"/ui/profiles/{failing_id}/conformance\?preset=starter$"))
        expect(page.locator("#conformance-verdict .verdict-word")).to_have_text("DRIFTED")
        page.select_option("#preset-select", "mid-scale")
        expect(page.locator("#preset-description")).to_contain_text("50 to 300")
        page.click("#run-conformance")
        expect(page).to_have_url(re.compile(r"preset=mid-scale$"))
        expect(page.locator("#conformance-verdict")).to_contain_text("mid-scale")
        expect(page.locator("#conformance-verdict .verdict-word")).to_have_text("DRIFTED")
        failing_checks = page.locator("#checks-table tr.check-fail")
        expect(failing_checks.first).to_be_visible()
        expect(page.locator('#checks-table tr[data-metric="persistence_latency_p99"] .badge')).to_have_text("fail")
        page.screenshot(path=str(screenshots / "conformance.png"), full_page=True)

        # --- the baseline's own page, for the profile screenshot ---
        page.goto(f"{ui_server}/ui/profiles/{healthy_id}")
        expect(page.locator(".page-header .badge.baseline")).to_be_visible()
        expect(page.locator("#baseline-info")).to_contain_text("This is the baseline")
        expect(page.locator("#app[data-charts-drawn]")).to_have_count(1)  # every chart drawn
        page.screenshot(path=str(screenshots / "profile.png"), full_page=True)

        # --- errors: an unknown profile shows the API's problem detail ---
        page.goto(f"{ui_server}/ui/profiles/{uuid.uuid4()}")
        expect(page.locator(".error")).to_contain_text("HTTP 404")

    assert dialogs == [], f"data ran as script: {dialogs}"
    assert errors == [], errors
    assert outside == [], f"the UI reached outside its origin: {outside}"
    saved = {"create", "list", "compare", "compare-top", "conformance", "profile"}
    assert {p.stem for p in screenshots.glob("*.png")} >= saved


def test_a_profile_created_in_the_ui_stores_its_environment_as_the_server_reads_it(
    stack: Stack, ui_server: str
) -> None:
    """The create form sends the environment as typed; the API's env-file parser drops quotes and comments."""
    from playwright.sync_api import expect

    run = uuid.uuid4().hex[:8]
    healthy = stack.window("healthy-150wps")
    typed = "export TEMPORAL_SQL_MAX_CONNS=\"100\"\n# the pool\nLOG_LEVEL='info'  # inline comment\n"
    with _chromium_page() as page:
        page.goto(f"{ui_server}/ui/create")
        page.fill("#f-name", f"quoted env {run}")
        page.fill("#f-cluster_id", healthy.cluster)
        page.fill("#f-namespace", healthy.namespace)
        page.fill("#f-time_window_start", _local_input(healthy.start))
        page.fill("#f-time_window_end", _local_input(healthy.start + timedelta(minutes=15)))
        page.click(".advanced summary")
        page.fill("#f-config\\.environment", typed)
        page.click("#create-submit")
        page.wait_for_url(re.compile(r"/ui/profiles/[0-9a-f-]{36}$"))
        from_ui = page.url.rsplit("/", 1)[1]
        expect(page.locator('.config-part[data-part="environment"]')).to_contain_text("LOG_LEVEL")

    config = {"environment": {"TEMPORAL_SQL_MAX_CONNS": "100", "LOG_LEVEL": "info"}}
    with httpx.Client(base_url=ui_server, timeout=120) as http:
        stored = http.get(f"/profiles/{from_ui}").json()["config"]["environment"]
        assert stored == config["environment"]
        created = http.post("/profiles", json=body(stack, "healthy-150wps", name=f"mapping env {run}", config=config))
        assert created.status_code == 201, created.text
        compared = http.post(
            "/profiles/compare", json={"profile_a_id": created.json()["id"], "profile_b_id": from_ui}
        ).json()
    assert [d for d in compared["config_diffs"] if d["key"].startswith(("environment.", "dsql_plugin."))] == []


def test_a_token_protected_api_asks_for_the_token_and_the_ui_sends_it(stack: Stack) -> None:
    from playwright.sync_api import expect

    token = f"ui-token-{uuid.uuid4().hex}"
    with (
        _serve(stack.settings(copilot_api_token=token, copilot_api_token_for_reads=True)) as url,
        _chromium_page() as page,
    ):
        page.goto(f"{url}/ui/")
        problem = page.locator(".error")
        expect(problem).to_contain_text("HTTP 401")
        expect(problem).to_contain_text("enter it in the API token field")
        page.fill("#token-input", "wrong")
        page.click("#token-form button[type=submit]")
        expect(page.locator(".error")).to_contain_text("The saved API token was refused")
        page.fill("#token-input", token)
        page.click("#token-form button[type=submit]")
        expect(page.locator("#token-state")).to_have_text("saved")
        expect(page.locator(".error")).to_have_count(0)
        expect(page.locator("#profiles-table")).to_be_visible()
        assert page.evaluate("localStorage.getItem('copilot.apiToken')") == token


def test_drift_page_judges_a_window_against_the_baseline(stack: Stack, ui_server: str, screenshots: Path) -> None:
    from playwright.sync_api import Dialog, expect

    run = uuid.uuid4().hex[:8]
    label = f"drift-{run}"
    healthy = stack.window("healthy-150wps")
    failing = stack.window("failing-400wps")
    failing_end = failing.start + failing.duration
    baseline_id = create_through_the_api(
        ui_server, stack, "healthy-150wps", f"drift baseline {HOSTILE} {run}", label, max_conns=100
    )

    with _chromium_page() as page:
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        dialogs: list[str] = []

        def on_dialog(dialog: Dialog) -> None:
            dialogs.append(dialog.message)
            dialog.dismiss()

        page.on("dialog", on_dialog)

        # Designate the baseline right before judging: other tests designate on the same cluster and namespace.
        page.goto(f"{ui_server}/ui/?label={label}")
        row = page.locator(f'tr[data-id="{baseline_id}"]')
        expect(row.locator("a.check-drift")).to_have_count(0)
        row.get_by_role("button", name="Make baseline").click()
        expect(page.locator(f'tr[data-id="{baseline_id}"] .badge.baseline')).to_have_text("★ baseline")
        check_drift = page.locator(f'tr[data-id="{baseline_id}"] a.check-drift')
        expect(check_drift).to_have_text("Check drift")
        check_drift.click()

        # Pre-filled from the row; it judges the default window (the last 30 minutes) at once.
        page.wait_for_url(re.compile(rf"/ui/drift\?cluster={healthy.cluster}&namespace={healthy.namespace}$"))
        expect(page.locator("nav a.active")).to_have_text("Drift")
        expect(page.locator("#f-cluster")).to_have_value(healthy.cluster)
        expect(page.locator("#f-namespace")).to_have_value(healthy.namespace)
        expect(page.locator(".quick-ranges button.active")).to_have_text("Last 30 min")
        expect(page.locator(".quick-ranges button")).to_have_text(
            ["Last 15 min", "Last 30 min", "Last hour", "Last 3 hours"]
        )

        # A custom window over the failing scenario, with the connection limit lowered since the baseline.
        page.fill("#f-time_window_start", _local_input(failing.start))
        page.fill("#f-time_window_end", _local_input(failing_end))
        expect(page.locator(".quick-ranges button.active")).to_have_count(0)
        page.fill("#f-latency_pct", "25")
        page.click("#drift-form .advanced summary")
        page.fill("#f-config\\.environment", "TEMPORAL_SQL_MAX_CONNS=20")
        page.click("#drift-submit")  # waits for the first check to finish
        expect(page).to_have_url(re.compile(r"&start=[^&]+&end=[^&]+&latency_pct=25$"))
        status = page.locator("#drift-status")
        expect(status).to_have_attribute("data-status", "drifted")
        expect(status.locator(".verdict-word")).to_have_text("DRIFTED")
        expect(status).to_contain_text("latency 25 %")
        expect(status.locator(".explanation")).not_to_be_empty()
        baseline_link = page.locator("#drift-baseline a.profile-name")
        expect(baseline_link).to_have_attribute("href", f"/ui/profiles/{baseline_id}")
        expect(baseline_link).to_have_text(f"drift baseline {HOSTILE} {run}")
        expect(page.locator("#drift-window")).to_contain_text(healthy.task_queue)
        p99 = page.locator('#deviations-table tr[data-metric="persistence_latency_p99"]')
        expect(p99.locator(".dir")).to_have_text("regressed")
        expect(p99).to_contain_text(" ms")
        correlation = page.locator('#correlations li[data-setting="TEMPORAL_SQL_MAX_CONNS"]')
        expect(correlation).to_contain_text("decreased")
        expect(correlation).to_contain_text("likely cause")
        # where it lives: the baseline and the window both kept contributors by persistence operation
        placed = page.locator('#attributions li[data-metric="persistence_latency_p99"]')
        expect(placed).to_contain_text("of it from operation")
        expect(placed.locator("table.contributors thead")).to_contain_text("share baseline")
        expect(placed.locator("table.contributors tbody tr").first).to_contain_text("operation=")

        # The deviations keep the API's order.
        with httpx.Client(base_url=ui_server, timeout=120) as http:
            answer = http.post(
                "/profiles/drift",
                json={
                    "cluster_id": healthy.cluster,
                    "namespace": healthy.namespace,
                    "time_window_start": failing.start.isoformat(),
                    "time_window_end": failing_end.isoformat(),
                    "thresholds_pct": {"latency": 25},
                    "config": {"environment": {"TEMPORAL_SQL_MAX_CONNS": "20"}},
                },
            )
            assert answer.status_code == 200, answer.text
            drift = answer.json()
        assert drift["baseline"]["id"] == baseline_id
        shown = page.locator("#deviations-table tbody tr").evaluate_all("rows => rows.map(r => r.dataset.metric)")
        assert shown == [d["metric"] for d in drift["deviations"]]
        placed_all = page.locator("#attributions li").evaluate_all("items => items.map(i => i.dataset.metric)")
        assert placed_all == [a["metric"] for a in drift["attributions"]]
        page.screenshot(path=str(screenshots / "drift.png"), full_page=True)

        # The baseline link opens its profile page.
        baseline_link.click()
        page.wait_for_url(re.compile(rf"/ui/profiles/{baseline_id}$"))
        expect(page.locator(".page-header .badge.baseline")).to_be_visible()

        # Errors show the problem's detail: no baseline (404), a window in the future (422).
        page.goto(f"{ui_server}/ui/drift?cluster=no-such-cluster-{run}&namespace=default&range=180")
        expect(page.locator(".quick-ranges button.active")).to_have_text("Last 3 hours")
        problem = page.locator("#drift-result .error")
        expect(problem).to_contain_text("HTTP 404")
        expect(problem).to_contain_text(f"No baseline for cluster 'no-such-cluster-{run}', namespace 'default'")
        page.goto(
            f"{ui_server}/ui/drift?cluster={healthy.cluster}&namespace={healthy.namespace}"
            "&start=2099-01-01T00:00&end=2099-01-01T01:00"
        )
        problem = page.locator("#drift-result .error")
        expect(problem).to_contain_text("HTTP 422")
        expect(problem).to_contain_text("is in the future")

    assert dialogs == [], f"data ran as script: {dialogs}"
    assert errors == [], errors


def test_the_create_page_checks_the_recording_rules_of_its_window(stack: Stack, ui_server: str) -> None:
    """Before a long profile: would it read the recording rules? The page shows the API's answer (the
    session stack records none: every metric with data reads raw, named with what to do)."""
    from playwright.sync_api import expect

    healthy = stack.window("healthy-150wps")
    errors: list[str] = []
    with _chromium_page() as page:
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.goto(f"{ui_server}/ui/create")
        page.click("#rules-check")  # no cluster yet: the field says so, nothing is asked
        expect(page.locator("#err-cluster_id")).to_have_text("Required.")
        expect(page.locator("#rules-result")).to_be_empty()
        page.fill("#f-cluster_id", healthy.cluster)
        page.fill("#f-namespace", healthy.namespace)
        page.fill("#f-time_window_start", _local_input(healthy.start))
        page.fill("#f-time_window_end", _local_input(healthy.start + timedelta(minutes=30)))
        page.click("#rules-check")
        summary = page.locator("#rules-summary")
        expect(summary).to_contain_text("metrics would be read from the recorded series")
        said = summary.text_content() or ""
        shown = page.locator("#rules-table tbody tr").evaluate_all(
            "rows => rows.map(r => [r.dataset.metric, r.cells[1].textContent])"
        )
        page.fill("#f-time_window_end", "2099-01-01T01:00")
        page.fill("#f-time_window_start", "2099-01-01T00:00")
        page.click("#rules-check")
        expect(page.locator("#rules-result .error")).to_contain_text("is in the future")
    window = {"start": healthy.start.isoformat(), "end": (healthy.start + timedelta(minutes=30)).isoformat()}
    with httpx.Client(base_url=ui_server, timeout=60) as http:
        where = {"cluster": healthy.cluster, "namespace": healthy.namespace, **window}
        status = http.get("/profiles/recording-rules", params=where).json()
    assert said == status["summary"]
    assert said.startswith("0 of ") and "not recorded (install the rules for this cluster" in said
    assert shown == [[m["metric"], m["state"]] for m in status["metrics"] if m["state"] != "recorded"]
    assert ["task_dispatch_latency", "absent"] in shown  # the session stack records no rules
    assert errors == [], errors


def test_create_waits_out_the_rate_limit_and_retries(stack: Stack) -> None:
    """With the creation bucket empty, the create page shows the wait from Retry-After, then sends again."""
    from playwright.sync_api import expect

    run = uuid.uuid4().hex[:8]
    healthy = stack.window("healthy-150wps")
    rate = 20  # one creation every 3 s once the bucket is empty
    with _serve(stack.settings(copilot_create_rate_per_minute=rate)) as url, _chromium_page() as page:
        page.goto(f"{url}/ui/create")
        page.fill("#f-name", f"rate limited {run}")
        page.fill("#f-cluster_id", healthy.cluster)
        page.fill("#f-namespace", healthy.namespace)
        page.fill("#f-time_window_start", _local_input(healthy.start))
        page.fill("#f-time_window_end", _local_input(healthy.start + timedelta(minutes=15)))
        with httpx.Client(base_url=url, timeout=30) as http:
            for _ in range(rate):  # empty the bucket with creations refused at once (422), as other clients might
                assert http.post("/profiles", json={}).status_code == 422
            limited = http.post("/profiles", json={})
        assert limited.status_code == 429 and 1 <= int(limited.headers["retry-after"]) <= 3, limited.headers
        page.click("#create-submit")
        wait = page.locator("#rate-limit-wait")
        expect(wait).to_contain_text("Rate limited")
        expect(wait).to_contain_text(re.compile(r"Retrying in \d s|retrying now"))
        page.wait_for_url(re.compile(r"/ui/profiles/[0-9a-f-]{36}$"))
        expect(page.locator(".flash")).to_contain_text("created")
        expect(page.locator("h1")).to_have_text(f"rate limited {run}")
