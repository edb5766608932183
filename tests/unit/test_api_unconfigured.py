"""The API without storage: every /profiles endpoint answers 503 while the rest of the app serves."""

from __future__ import annotations

import ssl

import httpx
import pytest

from copilot.settings import Settings


@pytest.mark.parametrize(
    ("method", "path", "json"),
    [
        ("GET", "/profiles", None),
        ("GET", "/profiles/", None),
        ("POST", "/profiles", None),
        ("GET", "/profiles/3f2b8c1e-0d4a-4a57-9a43-1c9e2f7b6d10", None),
        ("POST", "/profiles/3f2b8c1e-0d4a-4a57-9a43-1c9e2f7b6d10/baseline", None),
        ("POST", "/profiles/compare", {"profile_a_id": "a", "profile_b_id": "b"}),
    ],
)
async def test_profiles_answer_503_when_not_configured(
    bare: httpx.AsyncClient, method: str, path: str, json: object
) -> None:
    body = {
        "name": "n",
        "cluster_id": "c",
        "time_window_start": "2026-02-18T10:00:00Z",
        "time_window_end": "2026-02-18T11:00:00Z",
    }
    response = await bare.request(method, path, json=json if json is not None else (body if method == "POST" else None))
    assert response.status_code == 503
    assert "Profile storage not configured" in response.json()["detail"]


async def test_health_still_answers(bare: httpx.AsyncClient) -> None:
    assert (await bare.get("/healthz")).json() == {"status": "ok"}
    assert (await bare.get("/readyz")).status_code == 503
    assert (await bare.get("/docs")).status_code == 200
    spec = (await bare.get("/openapi.json")).json()
    assert {"/profiles", "/profiles/{profile_id}", "/profiles/{profile_id}/baseline", "/profiles/compare"} <= set(
        spec["paths"]
    )


async def test_unknown_route_is_a_problem_document(bare: httpx.AsyncClient) -> None:
    response = await bare.get("/nowhere")
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("application/problem+json")
    assert "/docs" in response.json()["detail"]


def test_settings_read_dev_env_file_and_real_env_wins(tmp_path: object, monkeypatch: pytest.MonkeyPatch) -> None:
    from pathlib import Path

    env_file = Path(str(tmp_path)) / ".env"
    env_file.write_text("COPILOT_PROFILE_S3_BUCKET=from-file\nPROMETHEUS_ENDPOINT=http://file:9090\n")
    monkeypatch.setenv("PROMETHEUS_ENDPOINT", "http://env:9090")
    settings = Settings(_env_file=env_file)
    assert settings.copilot_profile_s3_bucket == "from-file"
    assert settings.prometheus_endpoint == "http://env:9090"


def test_dsql_hostnames_are_recognised() -> None:
    from copilot.index import connect_kwargs, dsql_region

    host = "abcdefghijklmnopqrstuvwxyz.dsql.us-east-2.on.aws"
    settings = Settings(_env_file=None, copilot_dsql_endpoint=host)
    assert settings.dsql_is_cluster_host
    assert dsql_region(host, "eu-west-1") == "us-east-2"
    kwargs = connect_kwargs(settings)
    assert (kwargs["user"], kwargs["database"]) == ("admin", "postgres")
    assert kwargs["ssl"].verify_mode == ssl.CERT_REQUIRED and kwargs["ssl"].check_hostname
    assert callable(kwargs["password"])  # a fresh token per connection
    local = Settings(_env_file=None, copilot_dsql_endpoint="postgresql://u@127.0.0.1:5432/x")
    assert not local.dsql_is_cluster_host and connect_kwargs(local) == {"dsn": "postgresql://u@127.0.0.1:5432/x"}


def test_dsql_token_is_generated_offline(monkeypatch: pytest.MonkeyPatch) -> None:
    """boto3's DSQL token generator presigns locally: no network, a fresh SigV4-signed token."""
    from copilot.index import dsql_token

    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDEXAMPLEEXAMPLE00")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY")
    host = "abcdefghijklmnopqrstuvwxyz.dsql.us-east-2.on.aws"
    token = dsql_token(host, "us-east-2")
    assert token.startswith(host) and "Action=DbConnectAdmin" in token
    assert "X-Amz-Signature=" in token and "us-east-2%2Fdsql%2Faws4_request" in token


def test_drift_thresholds_come_from_the_environment_as_json(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COPILOT_DRIFT_THRESHOLDS_PCT", '{"latency": 30, "error": 100}')
    settings = Settings(_env_file=None)
    assert {k.value: v for k, v in settings.copilot_drift_thresholds_pct.items()} == {"latency": 30, "error": 100}
    monkeypatch.setenv("COPILOT_DRIFT_THRESHOLDS_PCT", '{"latency": -1}')
    with pytest.raises(ValueError, match="greater than 0"):
        Settings(_env_file=None)
