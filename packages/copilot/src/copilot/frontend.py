"""Best-effort identity from the monitored Temporal frontend: ``WorkflowService.GetClusterInfo`` over gRPC.

Used only when neither the create request nor the window's ``build_information`` series names the server
version. The call has a short deadline and never fails a profile: any error is logged and answered with
``None``. Only the server's own version is taken; the DSQL plugin version and the worker SHA are other
components' and are never filled from it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from copilot.settings import Settings

# grpc and the Temporal SDK's protobufs are imported where they are used, not with the API: together they
# add about 25 MiB to every API process, and only a deployment with MONITORED_TEMPORAL_ADDRESS asks.

log = logging.getLogger("copilot.frontend")

GET_CLUSTER_INFO = "/temporal.api.workflowservice.v1.WorkflowService/GetClusterInfo"


@dataclass(frozen=True)
class FrontendIdentity:
    """What the frontend says of itself, as the strings it reports (empty strings become ``None``)."""

    server_version: str | None
    cluster_name: str | None
    cluster_id: str | None
    persistence_store: str | None


async def get_cluster_info(address: str, *, timeout_s: float, tls: bool = False) -> FrontendIdentity:
    """Ask the frontend at ``host:port``; raises ``grpc.RpcError`` or ``TimeoutError`` when it cannot answer."""
    import grpc
    from temporalio.api.workflowservice.v1 import GetClusterInfoRequest, GetClusterInfoResponse

    channel = (
        grpc.aio.secure_channel(address, grpc.ssl_channel_credentials()) if tls else grpc.aio.insecure_channel(address)
    )
    async with channel:
        call = channel.unary_unary(
            GET_CLUSTER_INFO,
            request_serializer=GetClusterInfoRequest.SerializeToString,
            response_deserializer=GetClusterInfoResponse.FromString,
        )
        # the outer bound also covers name resolution and connection set-up
        response: GetClusterInfoResponse = await asyncio.wait_for(
            call(GetClusterInfoRequest(), timeout=timeout_s), timeout_s + 0.5
        )
    return FrontendIdentity(
        server_version=response.server_version or None,
        cluster_name=response.cluster_name or None,
        cluster_id=response.cluster_id or None,
        persistence_store=response.persistence_store or None,
    )


def frontend_version_reader(settings: Settings) -> Callable[[], Awaitable[str | None]] | None:
    """The server-version fallback for profile creation; ``None`` when no frontend address is configured."""
    address = settings.monitored_temporal_address
    if not address:
        return None
    timeout_s = settings.monitored_temporal_timeout_seconds
    tls = settings.monitored_temporal_tls

    async def server_version() -> str | None:
        import grpc

        try:
            identity = await get_cluster_info(address, timeout_s=timeout_s, tls=tls)
        except grpc.RpcError as exc:
            code = exc.code() if isinstance(exc, grpc.aio.AioRpcError) else None
            log.warning("GetClusterInfo on %s failed (%s); server version not recorded", address, code or exc)
            return None
        except TimeoutError:
            log.warning("GetClusterInfo on %s: no answer in %.1f s; server version not recorded", address, timeout_s)
            return None
        return identity.server_version

    return server_version
