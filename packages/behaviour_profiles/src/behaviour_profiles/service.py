"""Use cases: one coordinating function each, shared by the API and the CLI.

They take their collaborators in one :class:`ProfileServices` (a
:class:`~behaviour_profiles.repository.ProfileRepository`, a :class:`TelemetrySource`, the clock and the
deployment's drift thresholds); nothing here reads the environment or the system clock, and nothing
here knows which storage or metrics backend is behind them.
"""

from __future__ import annotations

import asyncio
import difflib
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Protocol
from uuid import UUID, uuid4

from behaviour_profiles.breakdown import UNNAMED_REMEDY, UNNAMED_TASK_QUEUE, names_queues, unnamed_refusal
from behaviour_profiles.catalogue import Dialect, Source
from behaviour_profiles.comparison import compare_profiles
from behaviour_profiles.conformance import check_conformance, get_preset, recommend
from behaviour_profiles.drift import assess_drift, rolling_words
from behaviour_profiles.envelope import capacity_envelope
from behaviour_profiles.errors import BaselineNotFound, InvalidRequest, NoTelemetry, NotFound, ProfileNotFound
from behaviour_profiles.formatting import format_instant
from behaviour_profiles.models import (
    MAX_ENVELOPE_PROFILES,
    BehaviourProfile,
    CapacityEnvelope,
    CompareOptions,
    CompareRequest,
    ConfigInput,
    ConfigSnapshot,
    ConformanceResult,
    Coverage,
    DriftRequest,
    DriftResult,
    EnvelopeRequest,
    ProfileComparison,
    ProfileCreate,
    ProfileCreated,
    ProfileMetadata,
    Recommendation,
    RecordingRulesStatus,
    RollingBaseline,
    ScalePreset,
    ScopeMatch,
    TelemetrySummary,
    ThresholdClass,
    VersionIdentity,
    VersionSource,
)
from behaviour_profiles.presets import PRESETS
from behaviour_profiles.repository import ProfileFilter, ProfileRepository, ReindexReport
from behaviour_profiles.rolling import pooled_profile, roll
from behaviour_profiles.scope import Scope, Window
from behaviour_profiles.snapshot import HostConfig, build_snapshot

if TYPE_CHECKING:
    from behaviour_profiles.telemetry import BuildInfo


class KnownNames(Protocol):
    """What the scope check asks of the telemetry adapter: the names a source reports in a window."""

    async def known_values(
        self, scope: Scope, dimension: str, source: Source, dialect: Dialect, start: datetime, end: datetime
    ) -> list[str]: ...


class Reachable(Protocol):
    async def check(self) -> None:
        """Raise a ``Dependency*`` error unless the dependency answers."""
        ...


class TelemetrySource(KnownNames, Protocol):
    """What the use cases ask of the telemetry adapter (``telemetry.TelemetryCollector`` in production)."""

    async def collect(self, scope: Scope, start: datetime, end: datetime) -> TelemetrySummary: ...

    async def server_version(self, scope: Scope, start: datetime, end: datetime) -> BuildInfo | None: ...

    async def recording_status(self, scope: Scope, start: datetime, end: datetime) -> RecordingRulesStatus: ...

    @property
    def client(self) -> Reachable:
        """The metrics endpoint, for readiness."""
        ...


@dataclass(frozen=True)
class ProfileServices:
    """What the profile use cases need; the host builds it once in its lifespan."""

    store: ProfileRepository
    collector: TelemetrySource
    redaction_key: bytes
    clock: Callable[[], datetime]
    """The current time, aware; the host's wall clock, a test's fixed one."""
    drift_thresholds_pct: Mapping[ThresholdClass, float] = field(default_factory=dict)
    """The deployment's drift thresholds, between a request's own and the built-in ones."""
    host_config: Callable[[], HostConfig | None] = lambda: None
    """Reads the monitored deployment's configured files (dynamic config, env file, worker options)."""
    frontend_version: Callable[[], Awaitable[str | None]] | None = None
    """Best-effort server version from the monitored frontend (GetClusterInfo); never raises."""


async def snapshot_for(services: ProfileServices, config: ConfigInput | None) -> ConfigSnapshot:
    """The request's configuration, completed from the host's configured files (read off the event loop)."""
    host = await asyncio.to_thread(services.host_config)
    return build_snapshot(config, services.redaction_key, host)


def parse_profile_id(raw: str) -> UUID:
    """A profile id is a UUID; anything else is rejected before any storage call."""
    try:
        return UUID(raw)
    except ValueError:
        raise ProfileNotFound(raw, malformed=True) from None


async def create_profile(
    services: ProfileServices, request: ProfileCreate, *, profile_id: UUID | None = None
) -> ProfileCreated:
    now = services.clock()
    window = Window(request.time_window_start, request.time_window_end)
    window.must_have_passed(now, "a profile can only cover time that has passed")
    scope = Scope(request.cluster_id, request.namespace, request.task_queue)
    start, end = window.start, window.end
    versions = VersionIdentity(
        temporal_server_version=request.temporal_server_version,
        dsql_plugin_version=request.dsql_plugin_version,
        worker_code_sha=request.worker_code_sha,
    )
    versions.sources = {
        field: VersionSource.REQUEST for field, value in versions.model_dump().items() if isinstance(value, str)
    }
    snapshot = await snapshot_for(services, request.config)
    if versions.temporal_server_version is None:
        telemetry, build = await asyncio.gather(
            services.collector.collect(scope, start, end), services.collector.server_version(scope, start, end)
        )
        if build is not None:
            versions.temporal_server_version = build.version
            versions.sources["temporal_server_version"] = VersionSource.BUILD_INFORMATION
            if build.git_revision:
                versions.temporal_server_git_revision = build.git_revision
                versions.sources["temporal_server_git_revision"] = VersionSource.BUILD_INFORMATION
        elif services.frontend_version is not None:
            server_version = await services.frontend_version()
            if server_version is not None:
                versions.temporal_server_version = server_version
                versions.sources["temporal_server_version"] = VersionSource.FRONTEND
    else:
        telemetry = await services.collector.collect(scope, start, end)
    if telemetry.coverage.with_data == 0:
        raise NoTelemetry(
            f"Prometheus has no samples for any catalogue metric in {window.describe()} "
            f"for {scope.describe()}; check the time window, the names and the cluster label. Nothing was stored."
        )
    telemetry = await check_scope(services.collector, scope, telemetry, start, end)
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
        preset=request.preset,
    )
    meta = await services.store.save(profile)
    return ProfileCreated(**meta.model_dump(), notes=telemetry.notes)


_DIMENSION_WORDS = {"namespace": ("namespace", "namespaces"), "task_queue": ("task queue", "task queues")}
_SOURCE_WORDS = {Source.SERVER: "the server", Source.SDK: "SDK workers"}
_VERB_ENDING = {Source.SERVER: "s", Source.SDK: ""}
"""The server knows / reports; SDK workers know / report."""
_SCRAPED = {
    Source.SERVER: "is the server's metrics endpoint scraped into this Prometheus?",
    Source.SDK: "are the workers' metrics scraped into this Prometheus?",
}
_WORKERS_GONE = (
    "no worker of it reported in the window. Were its workers down, or polling another {word}? Or their metrics "
    "not scraped then?"
)
"""Why SDK workers that report a name around a window have nothing of it in the window (a server in that case
refuses the name instead)."""
NEARBY = 8
"""How many existing names a refusal lists, closest first."""


def _sentence(text: str) -> str:
    return text[:1].upper() + text[1:]


def _nearby(wanted: str, known: list[str]) -> str:
    ranked = sorted(known, key=lambda name: (-difflib.SequenceMatcher(None, wanted, name).ratio(), name))
    shown = ", ".join(ranked[:NEARBY])
    return shown + (f" and {len(ranked) - NEARBY} more" if len(ranked) > NEARBY else "")


async def check_scope(
    collector: KnownNames, scope: Scope, telemetry: TelemetrySummary, start: datetime, end: datetime
) -> TelemetrySummary:
    """Refuse a namespace or task queue that the server's series do not know, naming those that exist.

    Each source is matched as it exports the name (the server's tally reporter rewrites it, SDK workers
    do not). A name no source knows, or one the server does not know while it reports others, is refused
    (:class:`NoTelemetry`, nothing stored). A name the server knows but SDK workers do not is kept with a
    note: worker metrics of that scope have no data (the workers may not be scraped).
    """
    dialect = Dialect(telemetry.dialect)
    notes = list(telemetry.notes)
    for dimension, (word, words) in _DIMENSION_WORDS.items():
        matches = [m for m in telemetry.coverage.scope if m.dimension == dimension]
        unmatched = [m for m in matches if not m.matched]
        if not unmatched:
            continue
        value = matches[0].value
        known = dict(
            zip(
                [Source(m.source) for m in unmatched],
                await asyncio.gather(
                    *(
                        collector.known_values(scope, dimension, Source(m.source), dialect, start, end)
                        for m in unmatched
                    )
                ),
                strict=True,
            )
        )
        server_refuses = Source.SERVER in known and bool(known[Source.SERVER])
        if dimension == "task_queue" and server_refuses and names_queues(known[Source.SERVER])[0]:
            raise NoTelemetry(_unnamed(value, matches, known, scope, Window(start, end)))
        if len(unmatched) == len(matches) or server_refuses:
            told = [
                f"{_SOURCE_WORDS[source]} know{_VERB_ENDING[source]} {words} "
                f"{_nearby(next(m.exported_as for m in unmatched if m.source == source), names)}"
                for source, names in known.items()
                if names
            ]
            rewritten = [m for m in unmatched if m.exported_as != m.value]
            how = (
                f" (the server exports {value!r} as {rewritten[0].exported_as!r}: type the name as your workers use it)"
                if rewritten
                else ""
            )
            missing = ", ".join(_SOURCE_WORDS[Source(m.source)] for m in unmatched)
            detail = "; ".join(told) if told else f"no {word} is reported in this window"
            raise NoTelemetry(
                f"{_sentence(word)} {value!r} matches no series of {missing} in {Window(start, end).describe()} "
                f"({scope.cluster_only().describe()}): {detail}{how}. "
                "Check the name; nothing was stored."
            )
        for match in unmatched:
            source = Source(match.source)
            names = known[source]
            report = f"report{_VERB_ENDING[source]}"
            have = f"ha{'s' if len(match.without_data) == 1 else 've'} no data"
            if source is Source.SDK and match.exported_as in names:
                # the name look-up is as coarse as Prometheus's series index (a block): it can name a series
                # whose samples all lie outside the window
                notes.append(
                    f"{_sentence(_SOURCE_WORDS[source])} {report} {word} {value!r} around this window but not in "
                    f"it, so {', '.join(match.without_data)} {have}: {_WORKERS_GONE.format(word=word)}"
                )
                continue
            reported = f"{report} {words} {_nearby(match.exported_as, names)} but not" if names else f"{report} no"
            notes.append(
                f"{_sentence(_SOURCE_WORDS[source])} {reported} {word} {value!r} in this window, "
                f"so {', '.join(match.without_data)} {have}; {_SCRAPED[source]}"
            )
    return telemetry.model_copy(update={"notes": notes}) if notes != telemetry.notes else telemetry


def _unnamed(
    value: str, matches: list[ScopeMatch], known: Mapping[Source, list[str]], scope: Scope, window: Window
) -> str:
    """The refusal of task queue ``value`` by a server that leaves task queues unnamed in its metrics."""
    server = next(m for m in matches if m.source == Source.SERVER.value)
    named = [name for name in known[Source.SERVER] if name != UNNAMED_TASK_QUEUE]
    told = [unnamed_refusal(value)]
    if named:
        told.append(f"it names only {_nearby(server.exported_as, named)}")
    if any(m.source == Source.SDK.value and m.matched for m in matches):
        told.append(f"SDK workers do report {value!r}")
    elif known.get(Source.SDK):
        told.append(
            f"SDK workers do not report it either (they know {_nearby(value, known[Source.SDK])}): check the name"
        )
    return (
        f"Task queue {value!r} matches no series of the server in {window.describe()} "
        f"({scope.cluster_only().describe()}): {'; '.join(told)}. {UNNAMED_REMEDY}; nothing was stored."
    )


async def get_profile(services: ProfileServices, profile_id: UUID) -> BehaviourProfile:
    """The full profile, its baseline and exclusion status current."""
    return await services.store.get(profile_id)


async def list_profiles(
    services: ProfileServices, filters: ProfileFilter, *, limit: int, cursor: str | None = None
) -> tuple[list[ProfileMetadata], str | None]:
    """A page of profiles, newest first, and the cursor of the next page (``None`` on the last)."""
    return await services.store.list(filters, limit=limit, cursor=cursor)


async def compare(services: ProfileServices, request: CompareRequest) -> ProfileComparison:
    a_id, b_id = parse_profile_id(request.profile_a_id), parse_profile_id(request.profile_b_id)
    if a_id == b_id:
        raise InvalidRequest(
            "profile_a_id and profile_b_id name the same profile; choose two different profiles to compare"
        )
    a, b = await asyncio.gather(services.store.get(a_id), services.store.get(b_id))
    return compare_profiles(a, b, request)


# --- the Copilot's uses: baseline, drift, presets, conformance, recommendation -----------------

DRIFT_WINDOW = timedelta(minutes=30)
"""The current window of a drift check when the request names none."""


async def get_baseline(services: ProfileServices, cluster_id: str, namespace: str | None) -> ProfileMetadata:
    """The active baseline of a cluster and namespace; a 404 that says how to designate one."""
    try:
        return await services.store.get_baseline(cluster_id, namespace)
    except BaselineNotFound:
        where = Scope(cluster_id, namespace, None).describe() + ("" if namespace else " (no namespace)")
        raise BaselineNotFound(
            f"No baseline for {where}. Create a profile of a known-good window (POST /profiles, or "
            "`copilot profiles create`) and designate it with POST /profiles/{id}/baseline "
            "(`copilot profiles baseline ID`)."
        ) from None


async def designate_baseline(services: ProfileServices, profile_id: UUID) -> ProfileMetadata:
    """Make a profile the baseline of its cluster and namespace, replacing the one before."""
    return await services.store.designate_baseline(profile_id, now=services.clock())


RULES_WINDOW = timedelta(hours=1)
"""The window ``GET /profiles/recording-rules`` looks at when none is given: the last hour."""


async def recording_rules_status(
    services: ProfileServices, scope: Scope, start: datetime | None, end: datetime | None
) -> RecordingRulesStatus:
    """Which metrics a profile of the window (default: the last :data:`RULES_WINDOW`) would read from the
    recorded series of this version's rules, and why the others would be read raw."""
    now = services.clock()
    end = end or now
    window = Window(start, end) if start else Window.before(end, RULES_WINDOW)
    window.must_have_passed(now, "the rules are checked over time that has passed")
    return await services.collector.recording_status(scope, window.start, window.end)


def drift_window(request: DriftRequest, now: datetime) -> Window:
    """The request's window, defaulting to the ``DRIFT_WINDOW`` before ``now``; validated like a profile's."""
    end = request.time_window_end or now
    window = Window(request.time_window_start, end) if request.time_window_start else Window.before(end, DRIFT_WINDOW)
    window.must_have_passed(now, "drift is judged on time that has passed")
    return window


async def drift(services: ProfileServices, request: DriftRequest) -> DriftResult:
    """The current window of a cluster and namespace against its active baseline.

    Thresholds: the request's, then the deployment's (``services.drift_thresholds_pct``), then the
    built-in ones. No data at all in the current window is :class:`NoTelemetry`, never a pass.
    """
    window = drift_window(request, services.clock())
    start, end = window.start, window.end
    thresholds = {**services.drift_thresholds_pct, **request.thresholds_pct}
    account: RollingBaseline | None = None
    named: str | None = None
    if request.rolling is not None:
        pooled, account = await _rolling(
            services,
            request.cluster_id,
            request.namespace,
            request.rolling,
            CompareOptions(thresholds_pct=thresholds),
            before=start,
        )
        baseline = pooled_profile(pooled)
        named = rolling_words(pooled)
    else:
        meta = await get_baseline(services, request.cluster_id, request.namespace)
        baseline = await services.store.get(meta.id)
    task_queue = request.task_queue if request.task_queue is not None else baseline.task_queue
    scope = Scope(request.cluster_id, request.namespace, task_queue)
    current = await services.collector.collect(scope, start, end)
    if current.coverage.with_data == 0:
        raise NoTelemetry(
            f"No drift verdict, and this is not a pass: Prometheus has no samples for any catalogue metric in the "
            f"current window {window.describe()} for {scope.describe()} (baseline "
            f"{baseline.name!r}, profile {baseline.id}). Check that the cluster is reporting, or give an explicit "
            "window with time_window_start and time_window_end."
        )
    current = await check_scope(services.collector, scope, current, start, end)
    options = CompareOptions(
        thresholds_pct=thresholds,
        statistic=request.statistic,
        include_all=request.include_all,
        significance_level=request.significance_level,
    )
    snapshot = await snapshot_for(services, request.config)
    result = assess_drift(
        baseline,
        current,
        window=window,
        scope=scope,
        options=options,
        current_config=snapshot,
        named=named,
    )
    if account is not None:
        names = ", ".join(f"{m.name!r} ({m.id})" for m in account.pooled)
        result.rolling_baseline = account
        result.summary = (
            f"Against a rolling baseline of {len(account.pooled)} pooled profiles ({names}): {result.summary}"
        )
    return result


ROLLING_LOOKBACK = 200
"""How many index rows of a cluster a rolling baseline reads, newest first, to find the profiles after its anchor."""


async def _rolling(
    services: ProfileServices,
    cluster_id: str,
    namespace: str | None,
    n: int,
    options: CompareOptions,
    *,
    before: datetime | None = None,
) -> tuple[list[BehaviourProfile], RollingBaseline]:
    """The rolling baseline from the designated one on; with ``before`` (a judged window's start), only the
    profiles whose windows ended by then join the chain: a window is never judged against itself or against
    what came after it (the designated baseline is pooled whatever its window, as a single baseline is)."""
    anchor_meta = await get_baseline(services, cluster_id, namespace)
    page, more = await services.store.list(
        ProfileFilter(cluster_id=cluster_id, namespace=namespace, window_from=anchor_meta.time_window_start),
        limit=ROLLING_LOOKBACK,
    )
    after_anchor = [
        m
        for m in page
        if m.id != anchor_meta.id and m.namespace == namespace and m.time_window_start > anchor_meta.time_window_start
    ]
    later = [m for m in after_anchor if before is None or m.time_window_end <= before]
    too_late = len(after_anchor) - len(later)
    judged = [m.id for m in later if not m.excluded_from_baselines]
    anchor, *documents = await _read_all(services, [anchor_meta.id, *judged])
    by_id = {p.id: p for p in documents}
    # excluded profiles are accounted for from their index row alone: their documents are never read
    chain = [by_id.get(m.id) or _metadata_only(m) for m in later]
    pooled, account = roll(anchor, chain, n=n, options=options)
    if too_late and before is not None:
        account.notes.append(
            f"{too_late} profile(s) whose windows end after the judged window starts ({format_instant(before)}) "
            "were not considered: a window is judged against what came before it"
        )
    if more is not None:
        account.notes.append(
            f"only the newest {ROLLING_LOOKBACK} profiles since the designated baseline were judged; designate a "
            "newer baseline to start the chain later"
        )
    return pooled, account


def _metadata_only(meta: ProfileMetadata) -> BehaviourProfile:
    return BehaviourProfile(
        **meta.model_dump(),
        versions=VersionIdentity(),
        config=ConfigSnapshot(),
        telemetry=TelemetrySummary(dialect="", step_seconds=0, metrics={}, coverage=Coverage(with_data=0, asked=0)),
    )


async def rolling_baseline(
    services: ProfileServices,
    cluster_id: str,
    namespace: str | None,
    n: int,
) -> RollingBaseline:
    """Which profiles a rolling baseline of ``n`` pools now, and which it leaves out, with why."""
    _, account = await _rolling(
        services, cluster_id, namespace, n, CompareOptions(thresholds_pct=dict(services.drift_thresholds_pct))
    )
    return account


async def set_exclusion(services: ProfileServices, profile_id: UUID, reason: str | None) -> ProfileMetadata:
    """Mark a profile "exclude from baselines" (with a reason), or include it again (``reason=None``)."""
    return await services.store.set_exclusion(profile_id, reason=reason, now=services.clock())


def list_presets() -> list[ScalePreset]:
    """Every scale preset, in ascending throughput order."""
    return list(PRESETS.values())


def find_preset(name: str) -> ScalePreset:
    """One scale preset by name; :class:`NotFound` naming the presets there are."""
    preset = PRESETS.get(name)
    if preset is None:
        raise NotFound(f"No preset {name[:100]!r}; the presets are {', '.join(PRESETS)} (GET /presets)")
    return preset


async def conformance(services: ProfileServices, profile_id: UUID, preset: str | None) -> ConformanceResult:
    """A profile against ``preset``, or against the preset it named at creation."""
    profile = await services.store.get(profile_id)
    name = preset or profile.preset
    if name is None:
        raise InvalidRequest(
            f"profile {profile_id} names no preset; say which one to check against: {', '.join(PRESETS)} "
            "(GET /presets lists their bounds)"
        )
    return check_conformance(profile.telemetry.metrics, get_preset(name), profile_id=str(profile.id))


async def recommendation(services: ProfileServices, profile_id: UUID) -> Recommendation:
    """The preset fitting a profile's throughput and the overrides for its failing metrics."""
    return recommend(await services.store.get(profile_id))


ENVELOPE_READS = 8
"""How many profile documents an envelope reads at once."""


async def _read_all(services: ProfileServices, ids: list[UUID]) -> list[BehaviourProfile]:
    gate = asyncio.Semaphore(ENVELOPE_READS)

    async def one(profile_id: UUID) -> BehaviourProfile:
        async with gate:
            return await services.store.get(profile_id)

    return list(await asyncio.gather(*(one(i) for i in ids)))


async def envelope(
    services: ProfileServices,
    request: EnvelopeRequest,
) -> CapacityEnvelope:
    """The capacity envelope of the profiles a request names (by ids, or by cluster with label/time range).

    Without a preset, steps are judged against the lightest one with the request's thresholds, then the
    deployment's (``services.drift_thresholds_pct``), then the built-in ones.
    """
    preset = get_preset(request.preset) if request.preset is not None else None
    if request.profile_ids is not None:
        ids = [parse_profile_id(raw) for raw in request.profile_ids]
    else:
        assert request.cluster_id is not None  # the request's validation: profile_ids or cluster_id
        filters = ProfileFilter(
            cluster_id=request.cluster_id,
            namespace=request.namespace,
            label=request.label,
            window_from=request.time_window_start,
            window_to=request.time_window_end,
        )
        page, more = await services.store.list(filters, limit=MAX_ENVELOPE_PROFILES)
        if more is not None:
            raise InvalidRequest(
                f"more than {MAX_ENVELOPE_PROFILES} profiles match; narrow the selection (a label, a shorter time "
                "range) or name the profiles with profile_ids"
            )
        ids = [meta.id for meta in page]
        if len(ids) < 2:
            raise InvalidRequest(
                f"an envelope needs at least 2 profiles; {len(ids)} matched "
                + Scope(request.cluster_id, request.namespace, None).describe()
                + (f", label {request.label!r}" if request.label else "")
                + (" in the time range" if request.time_window_start or request.time_window_end else "")
            )
    profiles = await _read_all(services, ids)
    thresholds = {**services.drift_thresholds_pct, **request.thresholds_pct} if preset is None else None
    return capacity_envelope(profiles, preset=preset, thresholds_pct=thresholds)


async def check_ready(services: ProfileServices) -> None:
    """Raise a ``Dependency*`` error unless the repository and the metrics endpoint both answer."""
    await services.store.check()
    await services.collector.client.check()


async def reindex(services: ProfileServices, *, repair: bool) -> ReindexReport:
    """Reconcile the repository's index with its documents; with ``repair``, fix what it can."""
    return await services.store.reindex(repair=repair)
