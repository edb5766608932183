"""Configuration snapshots from the request and from the host's configured files, with no secret stored."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest

from tests.integration.conftest import Stack
from tests.integration.test_faults import s3_keys
from tests.integration.test_profiles_api import body, create
from tests.support import serve

pytestmark = pytest.mark.stack

SECRET = "s3cr3t-Pa55word-never-stored"


@pytest.fixture
def host_files(tmp_path: Path) -> dict[str, Path]:
    dynamic = tmp_path / "dynamicconfig.yaml"
    dynamic.write_text(
        "history.persistenceMaxQPS:\n  - value: 3000\n"
        "matching.numTaskqueueReadPartitions:\n  - value: 8\n    constraints:\n      namespace: default\n"
    )
    env = tmp_path / "temporal.env"
    env.write_text(
        f"export TEMPORAL_SQL_MAX_CONNS=50\nDSQL_RESERVOIR_ENABLED=true\nTEMPORAL_SQL_PASSWORD='{SECRET}'\n"
        "TEMPORAL_SQL_MAX_CONN_LIFETIME=55m\n"
    )
    workers = tmp_path / "workers.yaml"
    workers.write_text("MaxConcurrentActivityExecutionSize: 200\nMaxConcurrentWorkflowTaskPollers: 4\n")
    return {"dynamic": dynamic, "env": env, "workers": workers}


@pytest.fixture
async def host_client(stack: Stack, host_files: dict[str, Path]) -> AsyncIterator[httpx.AsyncClient]:
    settings = stack.settings(
        monitored_dynamic_config_path=str(host_files["dynamic"]),
        monitored_env_file=str(host_files["env"]),
        monitored_worker_options_path=str(host_files["workers"]),
    )
    async with serve(settings) as http:
        yield http


async def test_snapshot_from_host_files_with_sources_and_no_secret(
    stack: Stack, host_client: httpx.AsyncClient, host_files: dict[str, Path]
) -> None:
    meta = await create(host_client, body(stack, "healthy-150wps"))
    response = await host_client.get(f"/profiles/{meta['id']}")
    assert SECRET not in response.text
    config: dict[str, Any] = response.json()["config"]
    assert config["sources"]["dynamic_config"] == f"file:{host_files['dynamic']}"
    assert config["sources"]["environment"] == f"file:{host_files['env']}"
    assert config["dynamic_config"]["history.persistenceMaxQPS"][0]["value"] == 3000
    assert config["environment"]["TEMPORAL_SQL_MAX_CONNS"] == "50"
    assert config["environment"]["TEMPORAL_SQL_PASSWORD"].startswith("<redacted")
    assert config["dsql_plugin"]["TEMPORAL_SQL_MAX_CONNS"] == 50
    assert config["dsql_plugin"]["DSQL_RESERVOIR_ENABLED"] is True
    assert config["worker_options"]["MaxConcurrentActivityExecutionSize"] == 200

    # the request wins over the host, part by part; a part nobody gives stays "not collected"
    own = await create(
        host_client, body(stack, "healthy-150wps", config={"environment": {"TEMPORAL_SQL_MAX_CONNS": "20"}})
    )
    own_config = (await host_client.get(f"/profiles/{own['id']}")).json()["config"]
    assert own_config["sources"]["environment"] == "request"
    assert own_config["environment"] == {"TEMPORAL_SQL_MAX_CONNS": "20"}
    assert own_config["sources"]["dynamic_config"].startswith("file:")

    # nothing stored anywhere carries the secret: S3 documents and the index
    for key in s3_keys(stack):
        obj = stack.stack.s3_client().get_object(Bucket=stack.env["COPILOT_PROFILE_S3_BUCKET"], Key=key)
        assert SECRET.encode() not in obj["Body"].read()
    conn = await asyncpg.connect(stack.env["COPILOT_DSQL_ENDPOINT"])
    try:
        rows = await conn.fetch("SELECT * FROM behaviour_profiles")
    finally:
        await conn.close()
    assert all(SECRET not in str(dict(r)) for r in rows)


async def test_request_without_config_and_no_host_files_is_not_collected(
    stack: Stack, client: httpx.AsyncClient
) -> None:
    meta = await create(client, body(stack, "healthy-150wps"))
    config = (await client.get(f"/profiles/{meta['id']}")).json()["config"]
    assert config["dynamic_config"] is None and config["environment"] is None and config["sources"] == {}
    empty = await create(client, body(stack, "healthy-150wps", config={"environment": {}}))
    config = (await client.get(f"/profiles/{empty['id']}")).json()["config"]
    assert config["environment"] == {} and config["sources"]["environment"] == "request"


async def test_a_broken_host_file_answers_503_naming_it(stack: Stack, tmp_path: Path) -> None:
    broken = tmp_path / "broken.env"
    broken.write_text("THIS IS NOT AN ENV LINE\n")
    async with serve(stack.settings(monitored_env_file=str(broken))) as http:
        r = await http.post("/profiles", json=body(stack, "healthy-150wps"))
    assert r.status_code == 503 and "MONITORED_ENV_FILE" in r.json()["detail"]


async def test_a_malformed_host_dynamic_config_answers_503_naming_it(stack: Stack, tmp_path: Path) -> None:
    broken = tmp_path / "dynamicconfig.yaml"
    broken.write_text("history.persistenceMaxQPS: [unclosed\n")
    async with serve(stack.settings(monitored_dynamic_config_path=str(broken))) as http:
        r = await http.post("/profiles", json=body(stack, "healthy-150wps"))
    assert r.status_code == 503 and "MONITORED_DYNAMIC_CONFIG_PATH" in r.json()["detail"]
