"""Use cases: one coordinating function each, shared by the API and the CLI.

They take their collaborators (store, collector) and the current time as arguments; nothing here reads
the environment or a clock.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import datetime, timedelta
from uuid import UUID, uuid4

from behaviour_profiles.comparison import compare_profiles
from behaviour_profiles.errors import InvalidRequest, NoTelemetry, ProfileNotFound
from behaviour_profiles.models import (
    BehaviourProfile,
    CompareRequest,
    ProfileComparison,
    ProfileCreate,
    ProfileMetadata,
    VersionIdentity,
)
from behaviour_profiles.snapshot import build_snapshot
from behaviour_profiles.storage import ProfileStore
from behaviour_profiles.telemetry import Scope, TelemetryCollector

FUTURE_SKEW = timedelta(minutes=2)


@dataclass(frozen=True)
class ProfileServices:
    """What the profile use cases need; the host builds it once in its lifespan."""

    store: ProfileStore
    collector: TelemetryCollector
    redaction_key: bytes


def parse_profile_id(raw: str) -> UUID:
    """A profile id is a UUID; anything else is rejected before any storage call."""
    try:
        return UUID(raw)
    except ValueError:
        raise ProfileNotFound(raw, malformed=True) from None


async def create_profile(
    services: ProfileServices, request: ProfileCreate, *, now: datetime, profile_id: UUID | None = None
) -> ProfileMetadata:
    if request.time_window_end > now + FUTURE_SKEW:
        raise InvalidRequest(
            f"time_window_end {request.time_window_end.isoformat()} is in the future; "
            "a profile can only cover time that has passed"
        )
    scope = Scope(request.cluster_id, request.namespace, request.task_queue)
    start, end = request.time_window_start, request.time_window_end
    versions = VersionIdentity(
        temporal_server_version=request.temporal_server_version,
        dsql_plugin_version=request.dsql_plugin_version,
        worker_code_sha=request.worker_code_sha,
    )
    snapshot = build_snapshot(request.config, services.redaction_key)
    if versions.temporal_server_version is None:
        telemetry, server_version = await asyncio.gather(
            services.collector.collect(scope, start, end), services.collector.server_version(scope, start, end)
        )
        versions.temporal_server_version = server_version
    else:
        telemetry = await services.collector.collect(scope, start, end)
    if telemetry.coverage.with_data == 0:
        where = f"cluster {request.cluster_id!r}"
        if request.namespace:
            where += f", namespace {request.namespace!r}"
        if request.task_queue:
            where += f", task queue {request.task_queue!r}"
        raise NoTelemetry(
            f"Prometheus has no samples for any catalogue metric in {start.isoformat()} .. {end.isoformat()} "
            f"for {where}; check the time window, the names and the cluster label. Nothing was stored."
        )
    profile = BehaviourProfile(
        id=profile_id or uuid4(),
        name=request.name,
        label=request.label,
        cluster_id=request.cluster_id,
        namespace=request.namespace,
        task_queue=request.task_queue,
        time_window_start=start,
        time_window_end=end,
        created_at=now,
        temporal_server_version=versions.temporal_server_version,
        dsql_plugin_version=versions.dsql_plugin_version,
        worker_code_sha=versions.worker_code_sha,
        coverage_with_data=telemetry.coverage.with_data,
        coverage_asked=telemetry.coverage.asked,
        versions=versions,
        config=snapshot,
        telemetry=telemetry,
    )
    return await services.store.save(profile)


async def compare(services: ProfileServices, request: CompareRequest) -> ProfileComparison:
    a_id, b_id = parse_profile_id(request.profile_a_id), parse_profile_id(request.profile_b_id)
    if a_id == b_id:
        raise InvalidRequest(
            "profile_a_id and profile_b_id name the same profile; choose two different profiles to compare"
        )
    a, b = await asyncio.gather(services.store.get(a_id), services.store.get(b_id))
    return compare_profiles(a, b, request)
