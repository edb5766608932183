"""The Copilot's Grafana dashboard (grafana/copilot/copilot.json) without Grafana.

The dashboard model is checked structurally; every request its panels make is rendered the way
Grafana would (tests/grafana_dashboard.py), with the Business Forms JavaScript run in Chromium, and
checked against the API's OpenAPI document; then the requests are replayed against the real API on
the local stack, and the form's response code is run on the real answers.
"""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import AsyncIterator, Mapping
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest

from copilot.app import create_app
from copilot.settings import Settings
from tests.grafana_dashboard import (
    BUILTINS,
    ROOT,
    RequestTemplate,
    TimeRange,
    UnknownVariable,
    Value,
    body_errors,
    dashboard_requests,
    find_operation,
    interpolate,
    iso_millis,
    load_dashboard,
    load_dashboard_providers,
    load_datasources,
    panels,
    references,
    strings,
    undeclared_query_params,
    variables_by_name,
)
from tests.integration.conftest import Stack
from tests.support import serve

API_URL = "http://copilot"  # the in-process client's base URL stands in for the copilot_api_url variable
DASHBOARD = load_dashboard()
FORM = next(p for p in panels(DASHBOARD) if p["type"] == "volkovlabs-form-panel")
TABLE = next(p for p in panels(DASHBOARD) if p["title"] == "Recent Profiles")
PLUGINS = {"volkovlabs-form-panel", "yesoreyeram-infinity-datasource"}

# Runs a Business Forms code option as the plugin does (``new Function('context', code)``) with a
# recording context; the payload comes back as the JSON text the plugin would send.
HARNESS = """
async ({ code, elements, response }) => {
  const calls = [];
  const context = {
    panel: {
      elements,
      initial: {},
      response: response === null ? undefined : new Response(response.body, response.init),
      patchFormValue: (values) => calls.push({ kind: 'patch', values }),
    },
    grafana: {
      notifySuccess: (payload) => calls.push({ kind: 'success', payload }),
      notifyError: (payload) => calls.push({ kind: 'error', payload }),
      refresh: () => calls.push({ kind: 'refresh' }),
    },
    utils: {},
  };
  const result = await new Function('context', code)(context);
  return { json: result === undefined ? null : JSON.stringify(result), calls };
}
"""


class Js:
    """JavaScript of the dashboard, run in a real browser engine."""

    def __init__(self, page: Any) -> None:
        self.page = page

    async def run(
        self, code: str, elements: list[dict[str, Any]], response: httpx.Response | None = None
    ) -> tuple[Any, list[dict[str, Any]]]:
        answer = None
        if response is not None:
            init = {"status": response.status_code, "headers": dict(response.headers)}
            answer = {"body": response.text, "init": init}
        out = await self.page.evaluate(HARNESS, {"code": code, "elements": elements, "response": answer})
        return (json.loads(out["json"]) if out["json"] is not None else None), out["calls"]


@pytest.fixture(scope="module")
async def js() -> AsyncIterator[Js]:
    chromium = shutil.which("chromium")
    if chromium is None:
        pytest.skip("Debian's chromium is not installed (scripts/setup.sh installs it)")
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=chromium)
        try:
            yield Js(await browser.new_page())
        finally:
            await browser.close()


def variables(**overrides: Value) -> dict[str, Value]:
    values: dict[str, Value] = {
        "cluster_label": "cluster",
        "cluster": "temporal-dev",
        "namespace": "default",
        "task_queue": "main-queue",
        "label": "grafana-replay",
        "profile_name": "grafana-snapshot",
        "copilot_api_url": API_URL,
        "api_token": "",
    }
    values.update(overrides)
    return values


def elements(name: str = "") -> list[dict[str, Any]]:
    """The form's elements as the plugin holds them, with ``name`` typed into the name field."""
    return [{**e, "value": name if e["id"] == "name" else e.get("value", "")} for e in FORM["options"]["elements"]]


@pytest.fixture(scope="module")
def requests() -> dict[str, RequestTemplate]:
    found = dashboard_requests(DASHBOARD, load_datasources())
    assert sorted(r.panel for r in found) == ["Create Profile", "Recent Profiles"]
    return {r.panel: r for r in found}


async def render(
    template: RequestTemplate, values: Mapping[str, Value], window: TimeRange, js: Js, name: str = ""
) -> dict[str, Any]:
    """The request as Grafana would send it: method, URL, query params, headers and JSON body."""
    request: dict[str, Any] = {
        "method": template.method,
        "url": interpolate(template.url, values, window),
        "params": [(k, interpolate(v, values, window)) for k, v in template.params],
        "headers": {k: interpolate(v, values, window) for k, v in template.headers},
        "json": None,
    }
    if template.payload_code is not None:
        request["json"], _ = await js.run(interpolate(template.payload_code, values, window), elements(name))
    return request


async def send(client: httpx.AsyncClient, request: Mapping[str, Any]) -> httpx.Response:
    content = json.dumps(request["json"]) if request["json"] is not None else None
    return await client.request(
        request["method"], request["url"], params=request["params"], headers=request["headers"], content=content
    )


def window_of(stack: Stack, scenario: str = "healthy-150wps") -> TimeRange:
    placement = stack.window(scenario)
    return TimeRange(placement.start, placement.start + placement.duration)


# --- the model --------------------------------------------------------------------------------------


def test_the_dashboard_is_a_grafana_dashboard_model() -> None:
    assert DASHBOARD["uid"] == "copilot-behaviour-profiles" and DASHBOARD["title"]
    assert isinstance(DASHBOARD["schemaVersion"], int) and DASHBOARD["schemaVersion"] >= 36
    assert set(DASHBOARD["time"]) == {"from", "to"}
    all_panels = list(panels(DASHBOARD))
    ids = [p["id"] for p in all_panels]
    assert len(ids) == len(set(ids)) and all(isinstance(i, int) for i in ids)
    for panel in all_panels:
        pos = panel["gridPos"]
        assert {"h", "w", "x", "y"} <= set(pos) and all(isinstance(v, int) and v >= 0 for v in pos.values())
        assert pos["x"] + pos["w"] <= 24 and pos["h"] > 0, panel["title"]
        assert panel["type"] in {"row", "table", "volkovlabs-form-panel"}, panel["type"]
    rows = [p for p in all_panels if p["type"] == "row"]
    assert [r["title"] for r in rows] == ["Behaviour Profiles"]
    below = [p for p in all_panels if p["type"] != "row"]
    assert {p["title"] for p in below} == {"Create Profile", "Recent Profiles"}
    assert all(p["gridPos"]["y"] > rows[0]["gridPos"]["y"] for p in below)
    names = [v["name"] for v in DASHBOARD["templating"]["list"]]
    assert len(names) == len(set(names))
    assert {"cluster", "namespace", "task_queue", "label", "profile_name", "copilot_api_url", "api_token"} <= set(names)


def test_every_variable_the_dashboard_refers_to_exists() -> None:
    defined = set(variables_by_name(DASHBOARD)) | BUILTINS
    used = set().union(*(references(text) for text in strings(DASHBOARD)))
    assert used - defined == set()
    assert {"cluster", "namespace", "task_queue", "label", "profile_name", "copilot_api_url", "api_token"} <= used
    # and the renderer refuses what the dashboard does not define, so this check can fail
    with pytest.raises(UnknownVariable):
        interpolate("${clustr}", variables(), TimeRange(datetime.now(), datetime.now()))


def test_datasources_are_provisioned_and_the_plugins_documented() -> None:
    provisioned = load_datasources()
    referenced = [v["datasource"] for v in DASHBOARD["templating"]["list"] if "datasource" in v]
    for panel in panels(DASHBOARD):
        referenced += [panel["datasource"]] if "datasource" in panel else []
        referenced += [t["datasource"] for t in panel.get("targets", []) if "datasource" in t]
    assert referenced
    for ref in referenced:
        assert ref["uid"] in provisioned, ref
        assert provisioned[ref["uid"]]["type"] == ref["type"], ref
    assert {v["datasource"]["uid"] for v in DASHBOARD["templating"]["list"] if v["type"] == "query"} == {
        "copilot-prometheus"
    }
    expanded = load_datasources({"COPILOT_API_URL": "https://copilot.example", "COPILOT_API_TOKEN": "s3cret"})
    api = expanded["copilot-api"]
    assert api["jsonData"]["allowedHosts"] == ["https://copilot.example"]
    assert api["secureJsonData"]["bearerToken"] == "s3cret"
    providers = load_dashboard_providers()
    assert [p["type"] for p in providers] == ["file"] and providers[0]["options"]["path"]
    docs = (ROOT / "docs" / "grafana.md").read_text()
    for plugin in PLUGINS:
        assert plugin in docs
    assert providers[0]["options"]["path"] in docs


# --- the requests against the OpenAPI document --------------------------------------------------------


async def test_every_request_matches_the_openapi_document(js: Js, requests: dict[str, RequestTemplate]) -> None:
    openapi = create_app(Settings(_env_file=None)).openapi()
    window = TimeRange(
        datetime.fromisoformat("2026-02-18T10:00:00+00:00"), datetime.fromisoformat("2026-02-18T11:00:00+00:00")
    )
    for template in requests.values():
        request = await render(template, variables(), window, js)
        assert request["url"].startswith(API_URL + "/")
        path = request["url"].removeprefix(API_URL)
        _, operation = find_operation(openapi, request["method"], path)
        assert undeclared_query_params(operation, [k for k, _ in request["params"]]) == []
        if request["method"] == "POST":
            assert request["headers"]["Content-Type"] == "application/json"
            assert body_errors(openapi, operation, request["json"]) == []
        else:
            assert request["json"] is None and "requestBody" not in operation

    create = await render(requests["Create Profile"], variables(), window, js)
    assert create["json"] == {
        "name": "grafana-snapshot",
        "cluster_id": "temporal-dev",
        "time_window_start": "2026-02-18T10:00:00.000Z",
        "time_window_end": "2026-02-18T11:00:00.000Z",
        "namespace": "default",
        "task_queue": "main-queue",
        "label": "grafana-replay",
    }
    # "All" leaves the scope out, an empty label is left out, a typed name wins over the variable
    scoped = variables(namespace=["default", "payments"], task_queue=["main-queue"], label="")
    loose = await render(requests["Create Profile"], scoped, window, js, name="  typed name ")
    assert loose["json"] == {
        "name": "typed name",
        "cluster_id": "temporal-dev",
        "time_window_start": "2026-02-18T10:00:00.000Z",
        "time_window_end": "2026-02-18T11:00:00.000Z",
    }
    assert body_errors(openapi, find_operation(openapi, "POST", "/profiles")[1], loose["json"]) == []
    # the check itself rejects a body the API would not take
    assert body_errors(openapi, find_operation(openapi, "POST", "/profiles")[1], {"name": "x"})


# --- the variables against the real Prometheus --------------------------------------------------------


@pytest.mark.stack
async def test_variable_queries_find_the_simulated_deployment(stack: Stack) -> None:
    window = window_of(stack)
    values = variables(namespace=["default", "payments"])
    found: dict[str, list[str]] = {}
    prometheus = stack.env["PROMETHEUS_ENDPOINT"].rstrip("/")
    async with httpx.AsyncClient(timeout=10) as http:
        for variable in DASHBOARD["templating"]["list"]:
            if variable["type"] != "query":
                continue
            query = interpolate(variable["query"]["query"], values, window)
            match = re.fullmatch(r"label_values\((.+),\s*(\w+)\)", query)
            assert match, query
            selector, label = match.groups()
            params = {"match[]": selector, "start": window.start.timestamp(), "end": window.end.timestamp()}
            response = await http.get(f"{prometheus}/api/v1/label/{label}/values", params=params)
            assert response.status_code == 200, response.text
            found[variable["name"]] = response.json()["data"]
    assert "temporal-dev" in found["cluster"]
    assert {"default", "payments"} <= set(found["namespace"])
    assert found["task_queue"] == ["main-queue"]


# --- replayed against the live API ---------------------------------------------------------------------


@pytest.mark.stack
async def test_create_profile_replayed_then_listed_newest_first(
    stack: Stack, client: httpx.AsyncClient, js: Js, requests: dict[str, RequestTemplate]
) -> None:
    window = window_of(stack)
    values = variables(label=f"grafana-{datetime.now().timestamp():.0f}")
    create = await render(requests["Create Profile"], values, window, js)
    response = await send(client, create)
    assert response.status_code == 201, response.text
    created = response.json()
    assert created["name"] == "grafana-snapshot" and created["label"] == values["label"]
    assert created["time_window_start"].startswith(iso_millis(window.start)[:19])

    # what the form shows: the id and a link to the profile's page
    template = requests["Create Profile"]
    assert template.response_code is not None
    _, calls = await js.run(interpolate(template.response_code, values, window), elements(), response)
    link = f"{API_URL}/ui/profiles/{created['id']}"
    assert {"kind": "patch", "values": {"created_id": created["id"], "profile_link": link, "error": ""}} in calls
    assert [c["kind"] for c in calls if c["kind"] != "patch"] == ["success", "refresh"]
    shown = [{**e, "value": {"profile_link": link}.get(e["id"], "")} for e in elements()]
    for element in FORM["options"]["elements"]:
        if element.get("showIf"):
            visible, _ = await js.run(element["showIf"], shown)
            assert visible is (element["id"] == "profile_link")

    # the Recent Profiles table: newest first, our profile on top, every mapped column present
    table = requests["Recent Profiles"]
    listed = await send(client, await render(table, values, window, js))
    assert listed.status_code == 200, listed.text
    rows = listed.json()
    assert rows[0]["id"] == created["id"]
    assert [r["created_at"] for r in rows] == sorted((r["created_at"] for r in rows), reverse=True)
    assert {r["cluster_id"] for r in rows} == {"temporal-dev"}
    wanted = {"ID", "Name", "Label", "Cluster", "Namespace", "Window start", "Window end", "Baseline", "Created"}
    assert wanted <= {c["text"] for c in table.columns}
    for row in rows:
        assert {c["selector"] for c in table.columns} <= set(row)
    fields = {c["text"]: rows[0][c["selector"]] for c in table.columns}
    assert fields["Baseline"] is False and fields["Label"] == values["label"]
    links = [
        prop["value"][0]["url"]
        for override in TABLE["fieldConfig"]["overrides"]
        for prop in override["properties"]
        if prop["id"] == "links"
    ]
    assert links and {interpolate(url, values, window, fields=fields) for url in links} == {link}


@pytest.mark.stack
async def test_a_window_over_24_hours_shows_the_api_detail(
    stack: Stack, client: httpx.AsyncClient, js: Js, requests: dict[str, RequestTemplate]
) -> None:
    end = window_of(stack).end
    window = TimeRange(end - timedelta(hours=25), end)
    template = requests["Create Profile"]
    response = await send(client, await render(template, variables(), window, js))
    assert response.status_code == 422, response.text
    detail = response.json()["detail"]
    assert "24 hours" in detail
    assert template.response_code is not None
    _, calls = await js.run(interpolate(template.response_code, variables(), window), elements(), response)
    assert {"kind": "patch", "values": {"created_id": "", "profile_link": "", "error": detail}} in calls
    assert {"kind": "error", "payload": ["Profile not created", detail]} in calls
    assert not [c for c in calls if c["kind"] in ("success", "refresh")]


@pytest.mark.stack
async def test_a_rate_limited_create_shows_when_to_retry(
    stack: Stack, js: Js, requests: dict[str, RequestTemplate]
) -> None:
    """The API's 429 (creations over COPILOT_CREATE_RATE_PER_MINUTE) shows its detail and when to press again."""
    template = requests["Create Profile"]
    window = window_of(stack)
    async with serve(stack.settings(copilot_create_rate_per_minute=1), base_url=API_URL) as client:
        request = await render(template, variables(), TimeRange(window.end, window.start), js)  # refused at once
        assert (await send(client, request)).status_code == 422  # takes the one token
        response = await send(client, request)
    assert response.status_code == 429, response.text
    seconds = response.headers["retry-after"]
    assert template.response_code is not None
    _, calls = await js.run(interpolate(template.response_code, variables(), window), elements(), response)
    errors = [c["payload"][1] for c in calls if c["kind"] == "error"]
    assert len(errors) == 1, calls
    assert errors[0].startswith(f"Rate limited: press Create Profile again in {seconds} s (at ")
    assert response.json()["detail"] in errors[0]
    assert {"kind": "patch", "values": {"created_id": "", "profile_link": "", "error": errors[0]}} in calls
    assert not [c for c in calls if c["kind"] in ("success", "refresh")]


async def test_no_answer_is_shown_as_an_error(js: Js, requests: dict[str, RequestTemplate]) -> None:
    code = requests["Create Profile"].response_code
    assert code is not None
    window = TimeRange(datetime.now(), datetime.now())
    _, calls = await js.run(interpolate(code, variables(copilot_api_url="http://copilot/"), window), elements())
    errors = [c["payload"][1] for c in calls if c["kind"] == "error"]
    assert len(errors) == 1 and "http://copilot:" in errors[0] and "COPILOT_CORS_ORIGINS" in errors[0]


@pytest.mark.stack
@pytest.mark.skipif(
    "copilot_api_token" not in Settings.model_fields, reason="COPILOT_API_TOKEN is not implemented by the API yet"
)
async def test_the_api_token_reaches_the_api(stack: Stack, js: Js, requests: dict[str, RequestTemplate]) -> None:
    settings = stack.settings(copilot_api_token="grafana-token", copilot_api_token_for_reads=True)
    window = window_of(stack, "failing-400wps")
    with_token = variables(api_token="grafana-token")
    table = dashboard_requests(DASHBOARD, load_datasources({"COPILOT_API_TOKEN": "grafana-token"}))[-1]
    assert table.panel == "Recent Profiles"
    async with serve(settings, base_url=API_URL) as client:
        refused = await send(client, await render(requests["Create Profile"], variables(), window, js))
        assert refused.status_code == 401, refused.text
        created = await send(client, await render(requests["Create Profile"], with_token, window, js))
        assert created.status_code == 201, created.text
        unauthorised_list = await send(client, await render(requests["Recent Profiles"], variables(), window, js))
        assert unauthorised_list.status_code == 401
        listed = await send(client, await render(table, variables(), window, js))
        assert listed.status_code == 200 and listed.json()[0]["id"] == created.json()["id"]


@pytest.mark.stack
async def test_the_profile_link_opens_the_profile_page(
    stack: Stack, client: httpx.AsyncClient, js: Js, requests: dict[str, RequestTemplate]
) -> None:
    window = window_of(stack, "failing-400wps")
    response = await send(client, await render(requests["Create Profile"], variables(), window, js))
    assert response.status_code == 201, response.text
    code = requests["Create Profile"].response_code
    assert code is not None
    _, calls = await js.run(interpolate(code, variables(), window), elements(), response)
    link = next(c["values"]["profile_link"] for c in calls if c["kind"] == "patch")
    page = await client.get(link)
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
