"""The web UI's routes: one HTML shell for every page path, its static files and Plotly from the package."""

from __future__ import annotations

import json
import re

import httpx
import pytest

from behaviour_profiles.catalogue import CATALOGUE
from behaviour_profiles.formatting import ui_rules
from behaviour_profiles.models import ThresholdClass
from behaviour_profiles.scope import MAX_WINDOW
from copilot.settings import Settings
from copilot.ui import STATIC_DIR, plotly_js_path
from copilot.ui.routes import catalogue_json, ui_rules_json
from tests.support import serve

PAGES = (
    "/ui/",
    "/ui/create",
    "/ui/profiles/3f1c1f9e-0000-4000-8000-000000000000",
    "/ui/profiles/3f1c1f9e-0000-4000-8000-000000000000/conformance?preset=mid-scale",
    "/ui/compare?a=1&b=2",
    "/ui/drift?cluster=temporal-dev&namespace=default&start=2026-02-18T10:00&end=2026-02-18T10:30",
    "/ui/no/such/page",
)


def _catalogue_block(html: str) -> str:
    match = re.search(r'<script id="catalogue" type="application/json">(.*?)</script>', html, re.S)
    assert match, "the shell carries the catalogue"
    return match.group(1)


@pytest.mark.parametrize("path", PAGES)
async def test_every_page_path_answers_the_same_shell(bare: httpx.AsyncClient, path: str) -> None:
    response = await bare.get(path)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert response.text == (await bare.get("/ui/")).text
    assert '<script type="module" src="/ui/static/app.js"></script>' in response.text
    assert '<script src="/ui/static/plotly.min.js" defer></script>' in response.text
    csp = response.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "connect-src 'self'" in csp and "frame-ancestors 'none'" in csp


async def test_the_shell_names_every_catalogue_metric(bare: httpx.AsyncClient) -> None:
    entries = json.loads(_catalogue_block((await bare.get("/ui/")).text))
    assert set(entries) == {spec.key for spec in CATALOGUE}
    assert entries["persistence_latency_p99"]["unit"] == "ms"
    assert entries["persistence_latency_p99"]["category"] == "latency"


async def test_the_shell_carries_the_servers_formatting_rules_and_constants(bare: httpx.AsyncClient) -> None:
    match = re.search(r'<script id="ui-rules" type="application/json">(.*?)</script>', (await bare.get("/ui/")).text)
    assert match, "the shell carries the UI rules"
    rules = json.loads(match.group(1))
    assert rules["format"] == json.loads(json.dumps(ui_rules()))
    constants = rules["constants"]
    assert constants["max_window_seconds"] == MAX_WINDOW.total_seconds()
    assert constants["threshold_classes"] == [c.value for c in ThresholdClass]
    assert constants["severities"] == ["critical", "warning", "info"]
    assert constants["drift_window_minutes"] == 30
    block = ui_rules_json()
    assert "<" not in block and ">" not in block


def test_catalogue_text_cannot_close_its_script_element() -> None:
    block = catalogue_json()
    assert "<" not in block and ">" not in block
    json.loads(block)


async def test_root_and_bare_ui_redirect_to_the_list(bare: httpx.AsyncClient) -> None:
    for path in ("/", "/ui"):
        response = await bare.get(path)
        assert response.status_code == 307 and response.headers["location"] == "/ui/"


async def test_static_files_are_served_with_their_types(bare: httpx.AsyncClient) -> None:
    script = await bare.get("/ui/static/app.js")
    assert script.status_code == 200 and script.headers["content-type"].startswith("text/javascript")
    assert script.content == (STATIC_DIR / "app.js").read_bytes()
    style = await bare.get("/ui/static/style.css")
    assert style.status_code == 200 and style.headers["content-type"].startswith("text/css")


async def test_plotly_comes_from_the_installed_package(bare: httpx.AsyncClient) -> None:
    response = await bare.get("/ui/static/plotly.min.js")
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/javascript")
    assert len(response.content) == plotly_js_path().stat().st_size > 1_000_000
    assert "max-age" in response.headers["cache-control"]
    assert not (STATIC_DIR / "plotly.min.js").exists(), "Plotly is served from the package, not copied into ours"


@pytest.mark.parametrize(
    "path", ["/ui/static/nope.js", "/ui/static/index.html", "/ui/static/..%2Froutes.py", "/ui/static/sub/app.js"]
)
async def test_unknown_static_files_are_a_problem_404(bare: httpx.AsyncClient, path: str) -> None:
    response = await bare.get(path)
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("application/problem+json")
    assert "/ui/static/" in response.json()["detail"]


async def test_ui_routes_stay_out_of_the_openapi_schema(bare: httpx.AsyncClient) -> None:
    paths = (await bare.get("/openapi.json")).json()["paths"]
    assert not [path for path in paths if path == "/" or path.startswith("/ui")]


async def test_the_shell_needs_no_token_when_the_api_does() -> None:
    settings = Settings(
        _env_file=None,
        copilot_profile_s3_bucket=None,
        prometheus_endpoint=None,
        copilot_api_token="s3cret-token-for-tests",
        copilot_api_token_for_reads=True,
    )
    async with serve(settings) as http:
        assert (await http.get("/presets")).status_code == 401
        assert (await http.get("/ui/compare?a=1&b=2")).status_code == 200
        assert (await http.get("/ui/static/app.js")).status_code == 200
        assert (await http.get("/ui/static/plotly.min.js")).status_code == 200


def test_the_demo_prints_the_ui_address_of_its_comparison() -> None:
    from copilot.dev.local import DemoResult

    result = DemoResult("http://127.0.0.1:8081", "a-id", "b-id", {})
    assert result.ui_url == "http://127.0.0.1:8081/ui/compare?a=a-id&b=b-id"
