"""Identity fallback: the monitored frontend's GetClusterInfo, over real gRPC, when build_information is absent.

The frontend is a real gRPC server speaking Temporal's WorkflowService protocol (its generated protobuf
messages and service registration from the ``temporalio`` package), answering GetClusterInfo as a Temporal
frontend does. Prometheus is a real one backfilled without the ``build_information`` family.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import grpc
import httpx
import pytest
from temporalio.api.workflowservice.v1 import GetClusterInfoRequest, GetClusterInfoResponse, service_pb2_grpc

from copilot.dev.stack import free_port
from copilot.frontend import get_cluster_info
from tests.integration.conftest import Stack, simulated_prometheus
from tests.integration.test_profiles_api import body, create
from tests.support import serve

pytestmark = pytest.mark.stack

FRONTEND_VERSION = "1.29.1"


# The generated servicer is typed for the synchronous server; grpc.aio serves the same registration with
# coroutine methods, hence the ignores below. Registering through the generated code (not a hand-written
# method path) is the point: it checks the path the client calls against Temporal's service definition.
class Frontend(service_pb2_grpc.WorkflowServiceServicer):
    """Answers GetClusterInfo like a Temporal frontend; ``delay_s`` makes it hang."""

    def __init__(self) -> None:
        self.calls = 0
        self.delay_s = 0.0

    async def GetClusterInfo(  # type: ignore[override]
        self, request: GetClusterInfoRequest, context: Any
    ) -> GetClusterInfoResponse:
        self.calls += 1
        await asyncio.sleep(self.delay_s)
        return GetClusterInfoResponse(
            server_version=FRONTEND_VERSION,
            cluster_name="temporal-dev",
            cluster_id="5b1c0ad4-cluster",
            persistence_store="dsql",
            visibility_store="opensearch",
            history_shard_count=512,
        )


@pytest.fixture
async def frontend() -> AsyncIterator[tuple[Frontend, str]]:
    servicer = Frontend()  # type: ignore[abstract]
    server = grpc.aio.server()
    service_pb2_grpc.add_WorkflowServiceServicer_to_server(servicer, server)  # type: ignore[arg-type]
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    try:
        yield servicer, f"127.0.0.1:{port}"
    finally:
        await server.stop(grace=None)


@pytest.fixture(scope="module")
def prometheus_without_build_info(stack: Stack, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    window = stack.window("healthy-150wps")
    with simulated_prometheus(tmp_path_factory.mktemp("nobuild"), [window], omit={"build_information"}) as url:
        yield url


async def _profile(client: httpx.AsyncClient, meta: dict[str, Any]) -> dict[str, Any]:
    data: dict[str, Any] = (await client.get(f"/profiles/{meta['id']}")).json()
    return data


async def test_get_cluster_info_reads_the_frontend(frontend: tuple[Frontend, str]) -> None:
    _, address = frontend
    identity = await get_cluster_info(address, timeout_s=2)
    assert identity.server_version == FRONTEND_VERSION
    assert identity.cluster_name == "temporal-dev" and identity.persistence_store == "dsql"


async def test_server_version_falls_back_to_the_frontend(
    stack: Stack, prometheus_without_build_info: str, frontend: tuple[Frontend, str]
) -> None:
    servicer, address = frontend
    settings = stack.settings(prometheus_endpoint=prometheus_without_build_info, monitored_temporal_address=address)
    async with serve(settings) as client:
        meta = await create(client, body(stack, "healthy-150wps"))
        full = await _profile(client, meta)
    assert servicer.calls == 1
    assert meta["temporal_server_version"] == FRONTEND_VERSION
    versions = full["versions"]
    assert versions["sources"] == {"temporal_server_version": "frontend"}
    # the frontend speaks for the server only: other components' versions stay unrecorded
    assert versions["dsql_plugin_version"] is None and versions["worker_code_sha"] is None


async def test_build_information_wins_over_the_frontend(stack: Stack, frontend: tuple[Frontend, str]) -> None:
    servicer, address = frontend
    async with serve(stack.settings(monitored_temporal_address=address)) as client:
        meta = await create(client, body(stack, "healthy-150wps"))
        full = await _profile(client, meta)
    assert servicer.calls == 0
    assert meta["temporal_server_version"] == "1.27.2"  # the simulator's build_version
    assert full["versions"]["sources"] == {
        "temporal_server_version": "build_information",
        "temporal_server_git_revision": "build_information",
    }
    assert full["versions"]["temporal_server_git_revision"] == "simulated"


async def test_the_request_wins_over_everything(
    stack: Stack, prometheus_without_build_info: str, frontend: tuple[Frontend, str]
) -> None:
    servicer, address = frontend
    settings = stack.settings(prometheus_endpoint=prometheus_without_build_info, monitored_temporal_address=address)
    payload = body(stack, "healthy-150wps", temporal_server_version="1.28.0-rc.1", dsql_plugin_version="0.4.2")
    async with serve(settings) as client:
        meta = await create(client, payload)
        full = await _profile(client, meta)
    assert servicer.calls == 0
    assert full["versions"]["temporal_server_version"] == "1.28.0-rc.1"
    assert full["versions"]["dsql_plugin_version"] == "0.4.2"
    assert full["versions"]["sources"] == {"temporal_server_version": "request", "dsql_plugin_version": "request"}


async def test_an_unreachable_frontend_never_fails_the_profile(
    stack: Stack, prometheus_without_build_info: str
) -> None:
    settings = stack.settings(
        prometheus_endpoint=prometheus_without_build_info, monitored_temporal_address=f"127.0.0.1:{free_port()}"
    )
    async with serve(settings) as client:
        meta = await create(client, body(stack, "healthy-150wps"))
    assert meta["temporal_server_version"] is None


async def test_a_hung_frontend_costs_at_most_its_timeout(
    stack: Stack, prometheus_without_build_info: str, frontend: tuple[Frontend, str]
) -> None:
    servicer, address = frontend
    servicer.delay_s = 10
    settings = stack.settings(
        prometheus_endpoint=prometheus_without_build_info,
        monitored_temporal_address=address,
        monitored_temporal_timeout_seconds=0.5,
    )
    async with serve(settings) as client:
        started = time.monotonic()
        meta = await create(client, body(stack, "healthy-150wps"))
        elapsed = time.monotonic() - started
    assert servicer.calls == 1
    assert meta["temporal_server_version"] is None
    # collection itself takes a fraction of a second here; the frontend adds no more than its deadline
    assert elapsed < 5
