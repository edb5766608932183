"""HTTP methods on every route: 405 with ``Allow``, ``HEAD`` wherever ``GET`` works, ``OPTIONS`` with ``Allow``."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import httpx
import pytest
from fastapi.routing import iter_route_contexts

from copilot.app import create_app
from copilot.settings import Settings
from tests.support import serve, serving

PROFILE = "3f2b8c1e-0d4a-4a57-9a43-1c9e2f7b6d10"
SAMPLE_PARAMS = {"profile_id": PROFILE, "name": "starter", "page": "compare"}
PROBED = ("GET", "POST", "PUT", "PATCH", "DELETE", "TRACE", "HEAD")


def settings(**values: Any) -> Settings:
    return Settings(_env_file=None, copilot_profile_s3_bucket=None, prometheus_endpoint=None, **values)


def declared_methods() -> dict[str, set[str]]:
    """Each route template of the app and the methods its routes declare, read straight from the routes."""
    app = create_app(settings())
    found: dict[str, set[str]] = defaultdict(set)
    for route in iter_route_contexts(app.routes):
        assert route.path_format is not None
        found[route.path_format] |= set(route.methods or ())
    return dict(found)


def concrete(template: str) -> str:
    path = template
    for name, value in SAMPLE_PARAMS.items():
        path = path.replace("{" + name + "}", value)
    assert "{" not in path, f"no sample value for a parameter of {template}"
    return path


def expected_allow(declared: set[str]) -> set[str]:
    return declared | {"OPTIONS"} | ({"HEAD"} if "GET" in declared else set())


def allow_of(response: httpx.Response) -> set[str]:
    return {m.strip() for m in response.headers["allow"].split(",")}


DECLARED = declared_methods()


def test_the_route_list_is_the_one_the_api_documents() -> None:
    """The templates below are the app's: a route added without methods tests would show here."""
    expected = {"/profiles", "/profiles/compare", "/profiles/{profile_id}/baseline", "/healthz", "/ui/static/{name}"}
    assert expected <= set(DECLARED)
    assert DECLARED["/profiles"] == {"GET", "POST"} and DECLARED["/profiles/compare"] == {"POST"}


@pytest.mark.parametrize("template", sorted(DECLARED))
async def test_every_routes_405_carries_its_allow(bare: httpx.AsyncClient, template: str) -> None:
    path = concrete(template)
    allowed = expected_allow(DECLARED[template])
    refused = [m for m in PROBED if m not in allowed]
    assert refused, template
    for method in refused:
        response = await bare.request(method, path)
        assert response.status_code == 405, (method, path, response.text)
        assert allow_of(response) == allowed, (method, path)
        assert response.headers["content-type"].startswith("application/problem+json")
        if method == "HEAD":
            assert response.content == b""
            continue
        detail = response.json()["detail"]
        assert method in detail and template in detail
        named = sorted(allowed - {"OPTIONS"})
        assert all(m in detail for m in named), detail


@pytest.mark.parametrize(
    ("path", "allow"),
    [
        ("/profiles", "GET, HEAD, POST, OPTIONS"),
        ("/profiles/", "GET, HEAD, POST, OPTIONS"),
        ("/profiles/compare", "POST, OPTIONS"),
        ("/profiles/drift", "POST, OPTIONS"),
        ("/profiles/baseline", "GET, HEAD, OPTIONS"),
        (f"/profiles/{PROFILE}", "GET, HEAD, OPTIONS"),
        (f"/profiles/{PROFILE}/baseline", "POST, OPTIONS"),
        ("/healthz", "GET, HEAD, OPTIONS"),
        ("/presets/starter", "GET, HEAD, OPTIONS"),
    ],
)
async def test_options_answers_204_with_allow(bare: httpx.AsyncClient, path: str, allow: str) -> None:
    response = await bare.options(path)
    assert response.status_code == 204, response.text
    assert response.headers["allow"] == allow
    assert response.content == b"" and "content-type" not in response.headers


async def test_get_on_a_literal_post_path_is_a_405_not_an_id_lookup(bare: httpx.AsyncClient) -> None:
    """/profiles/compare also matches /profiles/{profile_id}; the literal route is the path's."""
    for path in ("/profiles/compare", "/profiles/drift"):
        response = await bare.get(path)
        assert response.status_code == 405 and response.headers["allow"] == "POST, OPTIONS", response.text
        assert "send POST" in response.json()["detail"]


@pytest.mark.parametrize(
    "path", ["/healthz", "/presets", "/presets/starter", "/profiles", "/openapi.json", "/ui/", "/ui/static/app.js"]
)
async def test_head_answers_like_get_without_a_body(bare: httpx.AsyncClient, path: str) -> None:
    got = await bare.get(path)
    head = await bare.head(path)
    assert head.status_code == got.status_code != 405
    assert head.content == b""
    ignore = {"x-request-id", "date"}
    assert {k: v for k, v in head.headers.items() if k not in ignore} == {
        k: v for k, v in got.headers.items() if k not in ignore
    }
    assert int(head.headers["content-length"]) == len(got.content) > 0


async def test_head_on_a_post_only_path_is_a_405_without_a_body(bare: httpx.AsyncClient) -> None:
    response = await bare.head("/profiles/compare")
    assert response.status_code == 405 and response.headers["allow"] == "POST, OPTIONS"
    assert response.content == b""


async def test_unknown_paths_stay_404_whatever_the_method(bare: httpx.AsyncClient) -> None:
    for method in ("OPTIONS", "PUT", "GET"):
        response = await bare.request(method, "/no/such/path")
        assert response.status_code == 404, (method, response.text)
        assert "allow" not in response.headers
    assert (await bare.head("/no/such/path")).status_code == 404


async def test_head_counts_as_a_read_for_the_token() -> None:
    async with serve(settings(copilot_api_token="t0ken-0123456789", copilot_api_token_for_reads=True)) as http:
        assert (await http.head("/profiles")).status_code == 401
        assert (await http.head("/healthz")).status_code == 200
        # OPTIONS needs no token
        assert (await http.options("/profiles")).status_code == 204


async def test_with_cors_preflights_stay_cors_and_plain_options_answers_allow() -> None:
    origin = "https://grafana.example.com"
    async with serve(settings(copilot_cors_origins=origin)) as http:
        preflight = await http.options("/profiles", headers={"Origin": origin, "Access-Control-Request-Method": "POST"})
        assert preflight.status_code == 200 and preflight.headers["access-control-allow-origin"] == origin
        plain = await http.options("/profiles")
        assert plain.status_code == 204 and plain.headers["allow"] == "GET, HEAD, POST, OPTIONS"


async def test_head_and_refused_methods_are_labelled_by_route_in_metrics() -> None:
    async with serving(settings()) as (http, _):
        await http.head("/healthz")
        await http.put(f"/profiles/{PROFILE}")
        text = (await http.get("/metrics")).text
    assert 'copilot_http_requests_total{method="HEAD",route="/healthz",status="200"} 1.0' in text
    assert 'copilot_http_requests_total{method="PUT",route="/profiles/{profile_id}",status="405"} 1.0' in text
