"""The local stack with real processes: SeaweedFS S3, Prometheus, PostgreSQL and the API.

Every test runs on free ports in its own state directory and stops what it started.
"""

from __future__ import annotations

import importlib
import json
import os
import signal
import socket
import subprocess
import time
import urllib.parse
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from copilot.dev.stack import LocalStack, StackConfig, StackError, free_port

pytestmark = pytest.mark.stack


def _config(state_dir: Path, **overrides: Any) -> StackConfig:
    ports = {
        "s3_port": free_port(),
        "weed_master_port": free_port(),
        "weed_volume_port": free_port(),
        "weed_filer_port": free_port(),
        "prometheus_port": free_port(),
        "api_port": free_port(),
    }
    return StackConfig(state_dir=state_dir, **{**ports, **overrides})


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[LocalStack]:
    local = LocalStack(_config(tmp_path / "state"))
    try:
        yield local
    finally:
        local.down()


def _pid_alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat[stat.rindex(")") + 2] not in "ZX"


def _pid(stack: LocalStack, component: str) -> int:
    state = stack.status()[component]
    assert state.startswith("running pid "), state
    return int(state.split()[2])


def _state_components(stack: LocalStack) -> dict[str, Any]:
    components: dict[str, Any] = json.loads(stack.state_path.read_text())["components"]
    return components


def _get_json(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=10) as response:
        return json.loads(response.read())


def _cli_importable() -> bool:
    try:
        importlib.import_module("copilot.cli")
    except Exception:
        return False
    return True


def _machine_postgres() -> bool:
    try:
        with socket.create_connection(("127.0.0.1", 5432), timeout=1):
            return True
    except OSError:
        return False


def test_s3_starts_creates_bucket_serves_objects_and_stops(stack: LocalStack) -> None:
    url = stack.start_s3()
    assert url == f"http://127.0.0.1:{stack.config.s3_port}"
    pid = _pid(stack, "s3")

    client = stack.s3_client()
    try:
        client.head_bucket(Bucket=stack.config.s3_bucket)
        client.put_object(Bucket=stack.config.s3_bucket, Key="profiles/p.json", Body=b'{"ok": true}')
        body = client.get_object(Bucket=stack.config.s3_bucket, Key="profiles/p.json")["Body"].read()
        assert body == b'{"ok": true}'
    finally:
        client.close()

    assert stack.start_s3() == url  # already running: a no-op
    assert _pid(stack, "s3") == pid

    stack.stop("s3")
    assert not _pid_alive(pid)
    assert stack.status()["s3"] == "stopped"
    assert "s3" not in _state_components(stack)
    assert not list(Path("/tmp").glob(f"seaweedfs-*-{stack.config.s3_port}.sock"))


def test_prometheus_answers_queries_for_backfilled_openmetrics(stack: LocalStack, tmp_path: Path) -> None:
    start = int(time.time()) - 2 * 3600  # a counter over 10 minutes, two hours ago
    samples = "".join(f'demo_requests_total{{job="demo"}} {i * 3} {start + i}\n' for i in range(0, 601, 15))
    openmetrics = tmp_path / "demo.om"
    openmetrics.write_text(
        "# HELP demo_requests Requests served.\n# TYPE demo_requests counter\n" + samples + "# EOF\n"
    )

    stack.load_prometheus(openmetrics)
    url = stack.start_prometheus()
    assert _get_json(f"{url}/api/v1/status/buildinfo")["status"] == "success"

    def query(expr: str, at: int) -> list[Any]:
        params = urllib.parse.urlencode({"query": expr, "time": at})
        result: list[Any] = _get_json(f"{url}/api/v1/query?{params}")["data"]["result"]
        return result

    [point] = query("demo_requests_total", start + 600)
    assert point["metric"] == {"__name__": "demo_requests_total", "job": "demo"}
    assert float(point["value"][1]) == 1800.0
    [rate] = query("rate(demo_requests_total[5m])", start + 600)
    assert float(rate["value"][1]) == pytest.approx(3.0)

    # loading while Prometheus runs stops it, backfills and starts it again
    pid = _pid(stack, "prometheus")
    stack.load_prometheus(openmetrics)
    assert not _pid_alive(pid)
    assert stack.status()["prometheus"].startswith("running")
    assert query("demo_requests_total", start + 300)

    pid = _pid(stack, "prometheus")
    stack.stop("prometheus")
    assert not _pid_alive(pid)


@pytest.mark.skipif(not _machine_postgres(), reason="no PostgreSQL on 127.0.0.1:5432")
async def test_postgres_uses_the_running_server_and_creates_the_database(tmp_path: Path) -> None:
    database = f"copilot_stack_test_{uuid.uuid4().hex[:12]}"
    stack = LocalStack(_config(tmp_path / "state", database=database))
    url = stack.start_postgres()
    try:
        assert url == f"postgresql://postgres@127.0.0.1:5432/{database}"
        assert stack.status()["postgres"] == "external"
        assert stack.env()["COPILOT_DSQL_ENDPOINT"] == url
        assert stack.start_postgres() == url  # idempotent: the database already exists
        conn = await asyncpg.connect(url)
        try:
            assert await conn.fetchval("SELECT current_database()") == database
        finally:
            await conn.close()

        stack.down()  # never stops a server it did not start
        assert stack.status()["postgres"] == "stopped"
        assert _machine_postgres()
    finally:
        admin = await asyncpg.connect("postgresql://postgres@127.0.0.1:5432/postgres")
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{database}"')
        finally:
            await admin.close()


async def test_postgres_starts_the_embedded_server_when_nothing_listens(stack: LocalStack, tmp_path: Path) -> None:
    port = free_port()
    stack.config.postgres_port = port
    url = stack.start_postgres()
    assert url == f"postgresql://postgres@127.0.0.1:{port}/copilot_dev"
    pid = _pid(stack, "postgres")
    conn = await asyncpg.connect(url)
    try:
        assert await conn.fetchval("SELECT current_database()") == "copilot_dev"
    finally:
        await conn.close()

    stack.stop("postgres")
    assert not _pid_alive(pid)
    assert stack.status()["postgres"] == "stopped"


def test_stop_of_a_component_not_running_is_a_no_op(stack: LocalStack) -> None:
    for component in ("api", "prometheus", "s3", "postgres"):
        stack.stop(component)
    stack.down()
    assert set(stack.status().values()) == {"stopped"}
    with pytest.raises(StackError, match="unknown component"):
        stack.stop("redis")


def test_a_recorded_pid_that_is_not_ours_is_never_signalled(stack: LocalStack) -> None:
    stranger = subprocess.Popen(["sleep", "60"])
    try:
        stack.state_dir.mkdir(parents=True)
        record = {"pid": stranger.pid, "argv": ["/usr/bin/prometheus", "--what-we-started"], "url": "http://x"}
        stack.state_path.write_text(json.dumps({"components": {"prometheus": record}}))
        assert stack.status()["prometheus"] == "stopped"
        stack.stop("prometheus")
        assert stranger.poll() is None
        assert "prometheus" not in _state_components(stack)
    finally:
        os.kill(stranger.pid, signal.SIGKILL)
        stranger.wait()


def test_a_port_clash_raises_a_stack_error_naming_port_and_component(stack: LocalStack) -> None:
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", stack.config.prometheus_port))
        squatter.listen()
        with pytest.raises(
            StackError,
            match=rf"port {stack.config.prometheus_port} .*prometheus.*set COPILOT_DEV_PROMETHEUS_PORT to a free port",
        ):
            stack.start_prometheus()
    assert stack.status()["prometheus"] == "stopped"

    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", stack.config.weed_filer_port + 10_000))  # SeaweedFS's gRPC port
        squatter.listen()
        with pytest.raises(
            StackError,
            match=rf"port {stack.config.weed_filer_port + 10_000} .*s3.*move COPILOT_DEV_WEED_FILER_PORT \(SeaweedFS",
        ):
            stack.start_s3()
    assert stack.status()["s3"] == "stopped"


@pytest.mark.skipif(not _cli_importable(), reason="copilot.cli (the `copilot serve` command) is not importable yet")
@pytest.mark.skipif(not _machine_postgres(), reason="no PostgreSQL on 127.0.0.1:5432")
def test_the_whole_stack_comes_up_and_down_stops_everything(tmp_path: Path) -> None:
    up = LocalStack(_config(tmp_path / "state"))
    try:
        up.start_postgres()
        up.start_s3()
        up.start_prometheus()
        api = up.start_api()
        with urllib.request.urlopen(f"{api}/healthz", timeout=5) as response:
            assert response.status == 200
        status = up.status()
        assert status["postgres"] == "external"
        pids = {component: _pid(up, component) for component in ("s3", "prometheus", "api")}
        assert set(_state_components(up)) == {"postgres", "s3", "prometheus", "api"}

        # `copilot dev down` runs in another process: a fresh LocalStack on the same state directory
        LocalStack(up.config).down()
        assert not any(_pid_alive(pid) for pid in pids.values())
        assert _state_components(up) == {}
        assert set(up.status().values()) == {"stopped"}
        assert _machine_postgres()
    finally:
        up.down()
