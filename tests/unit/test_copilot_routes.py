"""The Copilot's routes without storage: route order, 503 for what needs storage, presets always served."""

from __future__ import annotations

import httpx
import pytest

PROFILE = "3f2b8c1e-0d4a-4a57-9a43-1c9e2f7b6d10"


@pytest.mark.parametrize(
    ("method", "path", "json"),
    [
        ("GET", "/profiles/baseline?cluster=temporal-dev&namespace=default", None),  # not taken for an id
        ("POST", "/profiles/drift", {"cluster_id": "temporal-dev"}),
        ("POST", f"/profiles/{PROFILE}/conformance", {"preset": "mid-scale"}),
        ("POST", f"/profiles/{PROFILE}/recommendation", None),
    ],
)
async def test_storage_backed_routes_answer_503_when_not_configured(
    bare: httpx.AsyncClient, method: str, path: str, json: object
) -> None:
    response = await bare.request(method, path, json=json)
    assert response.status_code == 503, response.text
    assert "not configured" in response.json()["detail"]


async def test_presets_are_served_without_storage(bare: httpx.AsyncClient) -> None:
    response = await bare.get("/presets")
    assert response.status_code == 200
    assert [p["name"] for p in response.json()] == ["starter", "mid-scale", "high-throughput"]
    assert (await bare.get("/presets/starter")).json()["throughput"]["max"] == 50.0
    assert (await bare.get("/presets/nope")).status_code == 404


async def test_malformed_ids_never_reach_storage(bare: httpx.AsyncClient) -> None:
    for path in ("/profiles/not-a-uuid/conformance", "/profiles/not-a-uuid/recommendation"):
        assert (await bare.post(path)).status_code == 404
