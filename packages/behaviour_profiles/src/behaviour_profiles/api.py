"""The FastAPI router mounted at ``/profiles``.

Its collaborators come from ``request.app.state`` through small dependencies: ``profile_services``
(a :class:`~behaviour_profiles.service.ProfileServices`, or ``None`` when storage is not configured)
and ``clock`` (a callable returning an aware ``datetime``). Handlers raise errors of our tree; the host
maps them to HTTP in one table.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Depends, Query, Request, Response

from behaviour_profiles import service
from behaviour_profiles.errors import InvalidRequest, NotConfigured
from behaviour_profiles.models import (
    BehaviourProfile,
    CapacityEnvelope,
    CompareRequest,
    ConformanceRequest,
    ConformanceResult,
    DriftRequest,
    DriftResult,
    EnvelopeRequest,
    ExclusionRequest,
    FilterText,
    Instant,
    ProfileComparison,
    ProfileCreate,
    ProfileCreated,
    ProfileMetadata,
    Recommendation,
    RequiredFilterText,
    RollingBaseline,
    ThresholdClass,
)
from behaviour_profiles.repository import ProfileFilter
from behaviour_profiles.service import ProfileServices

NOT_CONFIGURED = (
    "Profile storage not configured: set COPILOT_PROFILE_S3_BUCKET, PROMETHEUS_ENDPOINT and "
    "COPILOT_DSQL_ENDPOINT, then restart the Copilot API"
)
DEFAULT_LIMIT = 50
MAX_LIMIT = 500


def get_services(request: Request) -> ProfileServices:
    services: ProfileServices | None = getattr(request.app.state, "profile_services", None)
    if services is None:
        raise NotConfigured(NOT_CONFIGURED)
    return services


def get_clock(request: Request) -> Callable[[], datetime]:
    clock: Callable[[], datetime] = request.app.state.clock
    return clock


def get_drift_defaults(request: Request) -> dict[ThresholdClass, float]:
    """The deployment's drift thresholds: ``app.state.drift_thresholds_pct`` if the host set it, else none."""
    configured: Mapping[str, float] | None = getattr(request.app.state, "drift_thresholds_pct", None)
    return {ThresholdClass(cls): float(pct) for cls, pct in (configured or {}).items()}


def get_profile_id(profile_id: str) -> UUID:
    """Parse the path's id first, so that a malformed id never reaches storage (nor needs it)."""
    return service.parse_profile_id(profile_id)


ProfileId = Annotated[UUID, Depends(get_profile_id)]
Services = Annotated[ProfileServices, Depends(get_services)]
Clock = Annotated[Callable[[], datetime], Depends(get_clock)]
DriftDefaults = Annotated[dict[ThresholdClass, float], Depends(get_drift_defaults)]

router = APIRouter(tags=["profiles"])


@router.post("", status_code=201, summary="Create a profile from a time range (max 24 hours)")
@router.post("/", status_code=201, include_in_schema=False)
async def create_profile(body: ProfileCreate, services: Services, clock: Clock, response: Response) -> ProfileCreated:
    meta = await service.create_profile(services, body, now=clock())
    response.headers["Location"] = f"/profiles/{meta.id}"
    return meta


@router.get("", summary="List profiles, newest first")
@router.get("/", include_in_schema=False)
async def list_profiles(
    request: Request,
    response: Response,
    services: Services,
    cluster: Annotated[FilterText | None, Query(description="Cluster id")] = None,
    namespace: Annotated[FilterText | None, Query()] = None,
    label: Annotated[FilterText | None, Query()] = None,
    task_queue: Annotated[FilterText | None, Query()] = None,
    start: Annotated[
        Instant | None, Query(description="Only profiles whose window ends at or after this instant (with its zone)")
    ] = None,
    end: Annotated[
        Instant | None, Query(description="Only profiles whose window starts at or before this instant (with its zone)")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT, description="Page size")] = DEFAULT_LIMIT,
    cursor: Annotated[str | None, Query(max_length=200, description="From the previous page's next link")] = None,
) -> list[ProfileMetadata]:
    filters = ProfileFilter(
        cluster_id=cluster, namespace=namespace, label=label, task_queue=task_queue, window_from=start, window_to=end
    )
    page, next_cursor = await services.store.list(filters, limit=limit, cursor=cursor)
    if next_cursor:
        next_url = request.url.include_query_params(cursor=next_cursor)
        response.headers["Link"] = f'<{next_url}>; rel="next"'
        response.headers["X-Next-Cursor"] = next_cursor
    return page


@router.post("/compare", summary="Compare two profiles")
async def compare_profiles(body: CompareRequest, services: Services) -> ProfileComparison:
    return await service.compare(services, body)


@router.post("/drift", summary="Judge the current window of a cluster and namespace against its baseline")
async def drift(body: DriftRequest, services: Services, clock: Clock, defaults: DriftDefaults) -> DriftResult:
    return await service.drift(services, body, now=clock(), default_thresholds_pct=defaults)


@router.post("/envelope", summary="The capacity envelope of a load sweep: where it stopped holding")
async def envelope(body: EnvelopeRequest, services: Services, defaults: DriftDefaults) -> CapacityEnvelope:
    return await service.envelope(services, body, default_thresholds_pct=defaults)


@router.get("/baseline", summary="The active baseline of a cluster and namespace")
async def get_baseline(
    services: Services,
    cluster: Annotated[RequiredFilterText, Query(description="Cluster id")],
    namespace: Annotated[FilterText | None, Query(description="Namespace; omit for none")] = None,
) -> ProfileMetadata:
    return await service.get_baseline(services, cluster, namespace)


@router.get("/baseline/rolling", summary="The last N passing profiles of a cluster and namespace, pooled")
async def get_rolling_baseline(
    services: Services,
    defaults: DriftDefaults,
    cluster: Annotated[RequiredFilterText, Query(description="Cluster id")],
    namespace: Annotated[FilterText | None, Query(description="Namespace; omit for none")] = None,
    n: Annotated[int, Query(ge=1, le=20, description="How many passing profiles to pool")] = 5,
) -> RollingBaseline:
    return await service.rolling_baseline(services, cluster, namespace, n, default_thresholds_pct=defaults)


@router.get("/{profile_id}", summary="Retrieve a full profile")
async def get_profile(profile_id: ProfileId, services: Services) -> BehaviourProfile:
    return await services.store.get(profile_id)


@router.post("/{profile_id}/baseline", summary="Designate a profile as the baseline of its cluster and namespace")
async def designate_baseline(profile_id: ProfileId, services: Services, clock: Clock) -> ProfileMetadata:
    return await services.store.designate_baseline(profile_id, now=clock())


@router.post("/{profile_id}/exclusion", summary="Exclude a profile from baselines, with a reason")
async def exclude(profile_id: ProfileId, body: ExclusionRequest, services: Services, clock: Clock) -> ProfileMetadata:
    return await service.set_exclusion(services, profile_id, body.reason, now=clock())


@router.delete("/{profile_id}/exclusion", summary="Include an excluded profile in baselines again")
async def include(profile_id: ProfileId, services: Services, clock: Clock) -> ProfileMetadata:
    return await service.set_exclusion(services, profile_id, None, now=clock())


@router.post("/{profile_id}/conformance", summary="Does this profile match a scale preset?")
async def conformance(
    profile_id: ProfileId,
    services: Services,
    body: ConformanceRequest | None = None,
    preset: Annotated[str | None, Query(max_length=100, description="Preset name (or in the body)")] = None,
) -> ConformanceResult:
    named = body.preset if body is not None else None
    if named is not None and preset is not None and named != preset:
        raise InvalidRequest(f"the body names preset {named!r} and the query {preset!r}; name one")
    return await service.conformance(services, profile_id, named or preset)


@router.post("/{profile_id}/recommendation", summary="Suggest a preset and config overrides for a profile")
async def recommendation(profile_id: ProfileId, services: Services) -> Recommendation:
    return await service.recommendation(services, profile_id)
