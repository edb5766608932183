"""Routes declare their access class where they are defined; access, CORS and metrics read it from there."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import httpx
from fastapi import APIRouter, FastAPI

from behaviour_profiles.routing import CREATES, READS, WRITES, Access, access_of
from copilot.access import install_access
from copilot.app import create_app
from copilot.observability import install_observability
from copilot.routes import RouteMethods, api_methods, route_entries
from copilot.settings import Settings

TOKEN = "s3cret-token-0123456789"


def settings(**values: Any) -> Settings:
    return Settings(_env_file=None, copilot_profile_s3_bucket=None, prometheus_endpoint=None, **values)


def unclassified(routes: Sequence[Any]) -> list[str]:
    """Routes taking a method other than GET (and its HEAD) that declare no access class."""
    return [
        f"{', '.join(sorted(e.methods))} {e.template}"
        for e in route_entries(routes)
        if e.methods - {"GET", "HEAD"} and e.access is None
    ]


def test_every_route_that_is_not_a_get_declares_its_access_class() -> None:
    assert unclassified(create_app(settings()).routes) == []


def test_an_undeclared_post_route_is_caught() -> None:
    app = FastAPI()

    @app.post("/things")
    async def add_thing() -> None:
        return None

    assert unclassified(app.routes) == ["POST /things"]


def test_the_api_routes_declare_reads_writes_and_the_creation() -> None:
    declared = {(m, e.template): e.access for e in route_entries(create_app(settings()).routes) for m in e.methods}
    assert declared["POST", "/profiles"] is declared["POST", "/profiles/"] is Access.CREATE
    assert declared["POST", "/profiles/{profile_id}/baseline"] is Access.WRITE
    assert declared["DELETE", "/profiles/{profile_id}/exclusion"] is Access.WRITE
    assert declared["POST", "/profiles/compare"] is declared["GET", "/presets/{name}"] is Access.READ
    assert declared["GET", "/healthz"] is declared["GET", "/metrics"] is None
    assert api_methods(create_app(settings()).routes) == ["GET", "POST", "DELETE"]


def test_the_strongest_declaration_wins() -> None:
    router = APIRouter(dependencies=READS)

    @router.post("/x", dependencies=WRITES)
    async def x() -> None:
        return None

    assert access_of(router.routes[0]) is Access.WRITE


def host(router: APIRouter, **values: Any) -> FastAPI:
    """A host that includes ``router`` and installs access and observability as the Copilot does."""
    app = FastAPI()
    app.include_router(router)
    install_access(app, settings(**values))
    install_observability(app, settings(**values))
    return app


async def test_a_new_route_is_guarded_counted_and_allowed_as_it_declares() -> None:
    router = APIRouter()

    @router.post("/things", dependencies=WRITES)
    async def add_thing() -> dict[str, str]:
        return {"added": "yes"}

    @router.put("/things/new", dependencies=CREATES, status_code=201)
    async def new_thing() -> dict[str, str]:
        return {"created": "yes"}

    @router.post("/things/count", dependencies=READS)
    async def count_things() -> int:
        return 0

    app = host(router, copilot_api_token=TOKEN, copilot_cors_origins="https://grafana.example.com")
    auth = {"Authorization": f"Bearer {TOKEN}"}
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as http:
        assert (await http.post("/things")).status_code == 401
        assert (await http.post("/things", headers=auth)).status_code == 200
        assert (await http.put("/things/new")).status_code == 401
        assert (await http.put("/things/new", headers=auth)).status_code == 201
        assert (await http.post("/things/count")).status_code == 200
        preflight = await http.options(
            "/things/new",
            headers={"Origin": "https://grafana.example.com", "Access-Control-Request-Method": "PUT"},
        )
        metrics = (await http.get("/metrics")).text
    assert preflight.status_code == 200 and "PUT" in preflight.headers["access-control-allow-methods"]
    assert 'copilot_profile_creations_total{outcome="created"} 1.0' in metrics
    assert 'copilot_profile_creations_total{outcome="unauthorized"} 1.0' in metrics


def test_a_route_table_answers_the_declared_class_of_a_request() -> None:
    app, routes = create_app(settings()), RouteMethods()
    assert routes.declared(app, "POST", "/profiles") is Access.CREATE
    assert routes.declared(app, "HEAD", "/profiles") is Access.READ  # HEAD is answered as GET
    assert routes.declared(app, "PUT", "/profiles") is None  # not taken: not a creation
    assert routes.roots(app) == {"/profiles", "/presets"}
