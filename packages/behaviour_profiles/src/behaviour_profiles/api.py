"""The FastAPI router mounted at ``/profiles``.

Its one collaborator is the host's :class:`~behaviour_profiles.service.ProfileServices` (the repository,
the telemetry source, the clock and the deployment's drift thresholds), put on the app with
:func:`install_services` and read back, type-checked, by :func:`services_of`. Every handler parses its
input and calls one use case of :mod:`behaviour_profiles.service`; handlers raise errors of our tree and
the host maps them to HTTP in one table.
"""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Depends, Query, Request, Response
from starlette.applications import Starlette

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
    RecordingRulesStatus,
    RequiredFilterText,
    RollingBaseline,
)
from behaviour_profiles.repository import ProfileFilter
from behaviour_profiles.routing import CREATES, READS, WRITES
from behaviour_profiles.scope import Scope
from behaviour_profiles.service import ProfileServices

NOT_CONFIGURED = (
    "Profile storage not configured: set COPILOT_PROFILE_S3_BUCKET, PROMETHEUS_ENDPOINT and "
    "COPILOT_DSQL_ENDPOINT, then restart the Copilot API"
)
DEFAULT_LIMIT = 50
MAX_LIMIT = 500


def install_services(app: Starlette, services: ProfileServices | None) -> None:
    """The host's side of the contract: ``services``, or ``None`` when storage is not configured. The host
    installs ``None`` when it builds the app, and its services in its lifespan."""
    app.state.profile_services = services


def services_of(app: Starlette) -> ProfileServices | None:
    """The services the host installed (``None``: storage is not configured)."""
    services = app.state.profile_services
    if services is not None and not isinstance(services, ProfileServices):
        raise TypeError(f"app.state.profile_services is a {type(services).__name__}, not ProfileServices")
    return services


def get_services(request: Request) -> ProfileServices:
    services = services_of(request.app)
    if services is None:
        raise NotConfigured(NOT_CONFIGURED)
    return services


def get_profile_id(profile_id: str) -> UUID:
    """Parse the path's id first, so that a malformed id never reaches storage (nor needs it)."""
    return service.parse_profile_id(profile_id)


ProfileId = Annotated[UUID, Depends(get_profile_id)]
Services = Annotated[ProfileServices, Depends(get_services)]

router = APIRouter(tags=["profiles"])


@router.post(
    "",
    status_code=201,
    summary="Create a profile from a time range (max 24 hours)",
    dependencies=CREATES,
)
@router.post("/", status_code=201, include_in_schema=False, dependencies=CREATES)
async def create_profile(body: ProfileCreate, services: Services, response: Response) -> ProfileCreated:
    meta = await service.create_profile(services, body)
    response.headers["Location"] = f"/profiles/{meta.id}"
    return meta


@router.get("", summary="List profiles, newest first", dependencies=READS)
@router.get("/", include_in_schema=False, dependencies=READS)
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
    page, next_cursor = await service.list_profiles(services, filters, limit=limit, cursor=cursor)
    if next_cursor:
        next_url = request.url.include_query_params(cursor=next_cursor)
        response.headers["Link"] = f'<{next_url}>; rel="next"'
        response.headers["X-Next-Cursor"] = next_cursor
    return page


@router.post("/compare", summary="Compare two profiles", dependencies=READS)
async def compare_profiles(body: CompareRequest, services: Services) -> ProfileComparison:
    return await service.compare(services, body)


@router.post(
    "/drift",
    summary="Judge the current window of a cluster and namespace against its baseline",
    dependencies=READS,
)
async def drift(body: DriftRequest, services: Services) -> DriftResult:
    return await service.drift(services, body)


@router.post(
    "/envelope",
    summary="The capacity envelope of a load sweep: where it stopped holding",
    dependencies=READS,
)
async def envelope(body: EnvelopeRequest, services: Services) -> CapacityEnvelope:
    return await service.envelope(services, body)


@router.get("/baseline", summary="The active baseline of a cluster and namespace", dependencies=READS)
async def get_baseline(
    services: Services,
    cluster: Annotated[RequiredFilterText, Query(description="Cluster id")],
    namespace: Annotated[FilterText | None, Query(description="Namespace; omit for none")] = None,
) -> ProfileMetadata:
    return await service.get_baseline(services, cluster, namespace)


@router.get(
    "/baseline/rolling",
    summary="The last N passing profiles of a cluster and namespace, pooled",
    dependencies=READS,
)
async def get_rolling_baseline(
    services: Services,
    cluster: Annotated[RequiredFilterText, Query(description="Cluster id")],
    namespace: Annotated[FilterText | None, Query(description="Namespace; omit for none")] = None,
    n: Annotated[int, Query(ge=1, le=20, description="How many passing profiles to pool")] = 5,
) -> RollingBaseline:
    return await service.rolling_baseline(services, cluster, namespace, n)


@router.get(
    "/recording-rules",
    summary="Which metrics a profile of a window would read from the shipped recording rules",
    dependencies=READS,
)
async def get_recording_rules(
    services: Services,
    cluster: Annotated[RequiredFilterText, Query(description="Cluster id")],
    namespace: Annotated[FilterText | None, Query(description="Namespace; omit for the whole cluster")] = None,
    task_queue: Annotated[FilterText | None, Query()] = None,
    start: Annotated[Instant | None, Query(description="Window start, with its zone (default: end - 1 h)")] = None,
    end: Annotated[Instant | None, Query(description="Window end, with its zone (default: now)")] = None,
) -> RecordingRulesStatus:
    return await service.recording_rules_status(services, Scope(cluster, namespace, task_queue), start, end)


@router.get("/{profile_id}", summary="Retrieve a full profile", dependencies=READS)
async def get_profile(profile_id: ProfileId, services: Services) -> BehaviourProfile:
    return await service.get_profile(services, profile_id)


@router.post(
    "/{profile_id}/baseline",
    summary="Designate a profile as the baseline of its cluster and namespace",
    dependencies=WRITES,
)
async def designate_baseline(profile_id: ProfileId, services: Services) -> ProfileMetadata:
    return await service.designate_baseline(services, profile_id)


@router.post(
    "/{profile_id}/exclusion",
    summary="Exclude a profile from baselines, with a reason",
    dependencies=WRITES,
)
async def exclude(profile_id: ProfileId, body: ExclusionRequest, services: Services) -> ProfileMetadata:
    return await service.set_exclusion(services, profile_id, body.reason)


@router.delete(
    "/{profile_id}/exclusion",
    summary="Include an excluded profile in baselines again",
    dependencies=WRITES,
)
async def include(profile_id: ProfileId, services: Services) -> ProfileMetadata:
    return await service.set_exclusion(services, profile_id, None)


@router.post("/{profile_id}/conformance", summary="Does this profile match a scale preset?", dependencies=READS)
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


@router.post(
    "/{profile_id}/recommendation",
    summary="Suggest a preset and config overrides for a profile",
    dependencies=READS,
)
async def recommendation(profile_id: ProfileId, services: Services) -> Recommendation:
    return await service.recommendation(services, profile_id)
