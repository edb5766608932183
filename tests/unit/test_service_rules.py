"""Every rule of the use cases (service.py), against the in-memory repository and a scripted telemetry source."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

import pytest
from pydantic import ValidationError

from behaviour_profiles import service
from behaviour_profiles.catalogue import Dialect, Source
from behaviour_profiles.errors import (
    BaselineNotFound,
    DependencyUnavailable,
    InvalidRequest,
    NoTelemetry,
    NotFound,
    ProfileNotFound,
)
from behaviour_profiles.models import (
    MAX_ENVELOPE_PROFILES,
    BehaviourProfile,
    CompareOptions,
    CompareRequest,
    Coverage,
    DriftRequest,
    EnvelopeRequest,
    ProfileCreate,
    RecordingRulesStatus,
    ScopeMatch,
    TelemetrySummary,
    ThresholdClass,
    VersionSource,
)
from behaviour_profiles.presets import PRESETS
from behaviour_profiles.repository import ProfileFilter
from behaviour_profiles.scope import FUTURE_SKEW, MAX_WINDOW, Scope, Window
from behaviour_profiles.service import ProfileServices
from behaviour_profiles.snapshot import HostConfig
from behaviour_profiles.telemetry import BuildInfo
from tests.memory_repository import MemoryRepository
from tests.unit.test_conformance import FAILING, HEALTHY, T0, metrics, profile

NOW = T0 + timedelta(days=1)
KEY = b"k" * 32


class Ready:
    async def check(self) -> None:
        return None


class Telemetry:
    """A telemetry source that answers what the test scripted and records what it was asked."""

    def __init__(
        self,
        summary: TelemetrySummary | None = None,
        *,
        build: BuildInfo | None = None,
        known: dict[str, list[str]] | None = None,
    ) -> None:
        self.summary = summary if summary is not None else telemetry()
        self.build = build
        self.known = known or {}
        self.collected: list[tuple[Scope, datetime, datetime]] = []
        self.versions_asked = 0
        self.client = Ready()

    async def collect(self, scope: Scope, start: datetime, end: datetime) -> TelemetrySummary:
        self.collected.append((scope, start, end))
        return self.summary

    async def server_version(self, scope: Scope, start: datetime, end: datetime) -> BuildInfo | None:
        self.versions_asked += 1
        return self.build

    async def known_values(
        self, scope: Scope, dimension: str, source: Source, dialect: Dialect, start: datetime, end: datetime
    ) -> list[str]:
        return self.known.get(source.value, [])

    async def recording_status(self, scope: Scope, start: datetime, end: datetime) -> RecordingRulesStatus:
        self.collected.append((scope, start, end))
        return RecordingRulesStatus(
            cluster_id=scope.cluster_id,
            namespace=scope.namespace,
            task_queue=scope.task_queue,
            time_window_start=start,
            time_window_end=end,
            dialect="opentelemetry",
            in_use=True,
            summary="scripted",
            metrics=[],
        )


def telemetry(values: dict[str, float] = HEALTHY, *, notes: Sequence[str] = (), **extra: Any) -> TelemetrySummary:
    summaries = metrics(values)
    coverage = Coverage(with_data=len(summaries), asked=max(len(summaries), 1), **extra)
    return TelemetrySummary(
        dialect="opentelemetry", step_seconds=15, metrics=summaries, coverage=coverage, notes=list(notes)
    )


def stored(
    hour: int,
    *,
    namespace: str | None = "default",
    values: dict[str, float] = HEALTHY,
    **fields: Any,
) -> BehaviourProfile:
    """A stored profile of cluster ``c``: a 30-minute window ``hour`` hours after T0, with id ``hour + 1``."""
    start = T0 + timedelta(hours=hour)
    return profile(metrics(values)).model_copy(
        update={
            "id": UUID(int=hour + 1),
            "name": f"hour {hour}",
            "namespace": namespace,
            "time_window_start": start,
            "time_window_end": start + timedelta(minutes=30),
            "created_at": start + timedelta(minutes=31),
            **fields,
        }
    )


def services(
    repo: MemoryRepository,
    source: Telemetry | None = None,
    *,
    host: HostConfig | None = None,
    frontend: Callable[[], Awaitable[str | None]] | None = None,
    thresholds: dict[ThresholdClass, float] | None = None,
) -> ProfileServices:
    return ProfileServices(
        store=repo,
        collector=source or Telemetry(),
        redaction_key=KEY,
        clock=lambda: NOW,
        drift_thresholds_pct=thresholds or {},
        host_config=lambda: host,
        frontend_version=frontend,
    )


def create_body(**fields: Any) -> ProfileCreate:
    body: dict[str, Any] = {
        "name": "orders at noon",
        "cluster_id": "c",
        "namespace": "orders",
        "task_queue": "main-queue",
        "time_window_start": NOW - timedelta(hours=1),
        "time_window_end": NOW,
    }
    return ProfileCreate.model_validate({**body, **fields})


def drift_body(**fields: Any) -> DriftRequest:
    return DriftRequest.model_validate({"cluster_id": "c", "namespace": "default", **fields})


# --- create -------------------------------------------------------------------------------------


async def test_a_profile_is_collected_for_the_request_scope_and_window_and_stored() -> None:
    repo, source = MemoryRepository(), Telemetry(telemetry(notes=["CPU comes from cAdvisor"]))
    created = await service.create_profile(services(repo, source), create_body(), profile_id=UUID(int=99))

    assert source.collected == [(Scope("c", "orders", "main-queue"), NOW - timedelta(hours=1), NOW)]
    assert created.id == UUID(int=99) and created.notes == ["CPU comes from cAdvisor"]
    kept = await repo.get(UUID(int=99))
    assert (kept.cluster_id, kept.namespace, kept.task_queue, kept.created_at) == ("c", "orders", "main-queue", NOW)
    assert (kept.coverage_with_data, kept.coverage_asked) == (len(HEALTHY), len(HEALTHY))
    assert not kept.is_baseline and not kept.excluded_from_baselines


async def test_a_window_may_end_up_to_the_clock_skew_after_now_but_not_later() -> None:
    repo = MemoryRepository()
    late = NOW + FUTURE_SKEW + timedelta(seconds=1)
    with pytest.raises(InvalidRequest, match="is in the future; a profile can only cover time that has passed"):
        await service.create_profile(services(repo), create_body(time_window_end=late))
    assert (await repo.list(ProfileFilter(), limit=10))[0] == []

    await service.create_profile(services(repo), create_body(time_window_end=NOW + FUTURE_SKEW))
    assert len((await repo.list(ProfileFilter(), limit=10))[0]) == 1


async def test_a_window_without_any_sample_is_refused_naming_its_scope_and_nothing_is_stored() -> None:
    repo = MemoryRepository()
    empty = Telemetry(telemetry({}))
    with pytest.raises(NoTelemetry) as refused:
        await service.create_profile(services(repo, empty), create_body())
    assert "cluster 'c', namespace 'orders', task queue 'main-queue'" in refused.value.message
    assert refused.value.message.endswith("Nothing was stored.")
    assert (await repo.list(ProfileFilter(), limit=10))[0] == []


async def test_a_task_queue_no_source_reports_is_refused_and_nothing_is_stored() -> None:
    unmatched = [
        ScopeMatch(
            dimension="task_queue",
            value="main-qeue",
            source=source,
            label="task_queue",
            exported_as="main-qeue",
            without_data=["sync_match_rate"],
        )
        for source in ("server", "sdk")
    ]
    source = Telemetry(telemetry(scope=unmatched), known={"server": ["main-queue"]})
    repo = MemoryRepository()
    with pytest.raises(NoTelemetry, match=r"Task queue 'main-qeue' matches no series .* main-queue"):
        await service.create_profile(services(repo, source), create_body(task_queue="main-qeue"))
    assert (await repo.list(ProfileFilter(), limit=10))[0] == []


async def test_versions_named_in_the_request_are_kept_with_their_source_and_telemetry_is_not_asked() -> None:
    repo, source = MemoryRepository(), Telemetry(build=BuildInfo("1.27.0", "abc123"))
    body = create_body(temporal_server_version="1.26.2", worker_code_sha="deadbeef")
    created = await service.create_profile(services(repo, source), body)

    versions = (await repo.get(created.id)).versions
    assert versions.temporal_server_version == "1.26.2" and versions.temporal_server_git_revision is None
    assert versions.sources == {
        "temporal_server_version": VersionSource.REQUEST,
        "worker_code_sha": VersionSource.REQUEST,
    }
    assert source.versions_asked == 0


async def test_the_server_version_comes_from_build_information_before_the_frontend() -> None:
    asked: list[bool] = []

    async def frontend() -> str | None:
        asked.append(True)
        return "9.9.9"

    repo, source = MemoryRepository(), Telemetry(build=BuildInfo("1.27.0", "abc123"))
    created = await service.create_profile(services(repo, source, frontend=frontend), create_body())

    versions = (await repo.get(created.id)).versions
    assert (versions.temporal_server_version, versions.temporal_server_git_revision) == ("1.27.0", "abc123")
    assert versions.sources == {
        "temporal_server_version": VersionSource.BUILD_INFORMATION,
        "temporal_server_git_revision": VersionSource.BUILD_INFORMATION,
    }
    assert asked == []


async def test_without_build_information_the_server_version_comes_from_the_frontend_or_stays_unknown() -> None:
    async def frontend() -> str | None:
        return "1.26.2"

    async def silent() -> str | None:
        return None

    repo = MemoryRepository()
    told = await service.create_profile(services(repo, frontend=frontend), create_body())
    versions = (await repo.get(told.id)).versions
    assert versions.temporal_server_version == "1.26.2"
    assert versions.sources == {"temporal_server_version": VersionSource.FRONTEND}

    for reader in (silent, None):
        unknown = await service.create_profile(services(repo, frontend=reader), create_body())
        versions = (await repo.get(unknown.id)).versions
        assert versions.temporal_server_version is None and versions.sources == {}


async def test_the_configuration_comes_from_the_request_else_from_the_host_files_redacted() -> None:
    host = HostConfig(environment={"DSQL_PASSWORD": "hunter2", "LOG_LEVEL": "info"}, environment_source="file:/x.env")
    repo = MemoryRepository()
    from_host = await service.create_profile(services(repo, host=host), create_body())
    config = (await repo.get(from_host.id)).config
    assert config.sources["environment"] == "file:/x.env" and config.environment is not None
    assert config.environment["LOG_LEVEL"] == "info" and "hunter2" not in config.environment["DSQL_PASSWORD"]

    body = create_body(config={"environment": {"LOG_LEVEL": "debug"}})
    from_request = await service.create_profile(services(repo, host=host), body)
    config = (await repo.get(from_request.id)).config
    assert config.sources["environment"] == "request" and config.environment == {"LOG_LEVEL": "debug"}


# --- ids and comparison ---------------------------------------------------------------------------


def test_a_malformed_profile_id_is_not_found_before_any_storage_call() -> None:
    with pytest.raises(ProfileNotFound):
        service.parse_profile_id("not-a-uuid")
    assert service.parse_profile_id(str(UUID(int=5))) == UUID(int=5)


async def test_a_comparison_needs_two_different_existing_profiles() -> None:
    repo = MemoryRepository(stored(0), stored(1))
    same = CompareRequest(profile_a_id=str(UUID(int=1)), profile_b_id=str(UUID(int=1)))
    with pytest.raises(InvalidRequest, match="name the same profile"):
        await service.compare(services(repo), same)
    assert repo.reads == []

    missing = CompareRequest(profile_a_id=str(UUID(int=1)), profile_b_id=str(UUID(int=77)))
    with pytest.raises(ProfileNotFound):
        await service.compare(services(repo), missing)

    both = await service.compare(
        services(repo), CompareRequest(profile_a_id=str(UUID(int=1)), profile_b_id=str(UUID(int=2)))
    )
    assert (both.profile_a_id, both.profile_b_id) == (str(UUID(int=1)), str(UUID(int=2)))


# --- baselines ------------------------------------------------------------------------------------


async def test_a_baseline_belongs_to_its_cluster_and_namespace_only() -> None:
    repo = MemoryRepository(stored(0), stored(1, namespace=None))
    await repo.designate_baseline(UUID(int=1), now=NOW)

    assert (await service.get_baseline(services(repo), "c", "default")).id == UUID(int=1)
    with pytest.raises(BaselineNotFound) as other:
        await service.get_baseline(services(repo), "c", "orders")
    assert other.value.message.startswith("No baseline for cluster 'c', namespace 'orders'. Create a profile")
    assert "POST /profiles/{id}/baseline" in other.value.message
    with pytest.raises(BaselineNotFound, match=r"^No baseline for cluster 'c' \(no namespace\)\. "):
        await service.get_baseline(services(repo), "c", None)
    with pytest.raises(BaselineNotFound, match="cluster 'd', namespace 'default'"):
        await service.get_baseline(services(repo), "d", "default")


async def test_excluding_and_including_a_profile_again() -> None:
    repo = MemoryRepository(stored(0))
    excluded = await service.set_exclusion(services(repo), UUID(int=1), "load test misconfigured")
    assert excluded.excluded_from_baselines and excluded.exclusion_reason == "load test misconfigured"
    assert excluded.excluded_at == NOW

    included = await service.set_exclusion(services(repo), UUID(int=1), None)
    assert not included.excluded_from_baselines and included.excluded_at is None
    with pytest.raises(ProfileNotFound):
        await service.set_exclusion(services(repo), UUID(int=42), "gone")


# --- drift ----------------------------------------------------------------------------------------


def test_the_drift_window_defaults_to_the_half_hour_before_now_and_is_validated_like_a_profiles() -> None:
    assert service.drift_window(drift_body(), NOW) == Window(NOW - service.DRIFT_WINDOW, NOW)
    end = NOW - timedelta(hours=2)
    assert service.drift_window(drift_body(time_window_end=end), NOW) == Window(end - service.DRIFT_WINDOW, end)
    start = NOW - timedelta(hours=3)
    assert service.drift_window(drift_body(time_window_start=start), NOW) == Window(start, NOW)

    with pytest.raises(InvalidRequest, match="time_window_end must be after time_window_start"):
        service.drift_window(drift_body(time_window_start=NOW - timedelta(hours=1), time_window_end=end), NOW)
    with pytest.raises(InvalidRequest, match="longer than 24 hours"):
        service.drift_window(drift_body(time_window_start=end - timedelta(hours=25), time_window_end=end), NOW)
    with pytest.raises(InvalidRequest, match="in the future; drift is judged on time that has passed"):
        service.drift_window(drift_body(time_window_end=NOW + timedelta(minutes=3)), NOW)


async def test_the_rules_are_checked_over_the_last_hour_or_a_window_that_has_passed() -> None:
    source = Telemetry()
    scope = Scope("c", "default", None)
    await service.recording_rules_status(services(MemoryRepository(), source), scope, None, None)
    end = NOW - timedelta(days=3)
    await service.recording_rules_status(services(MemoryRepository(), source), scope, end - timedelta(hours=6), end)
    assert source.collected == [
        (scope, NOW - service.RULES_WINDOW, NOW),
        (scope, end - timedelta(hours=6), end),
    ]
    for start, stop, problem in (
        (None, NOW + timedelta(minutes=3), "in the future; the rules are checked over time that has passed"),
        (NOW, NOW - timedelta(hours=1), "time_window_end must be after time_window_start"),
        (NOW - timedelta(hours=30), NOW, "longer than 24 hours"),
    ):
        with pytest.raises(InvalidRequest, match=problem):
            await service.recording_rules_status(services(MemoryRepository(), source), scope, start, stop)
    assert len(source.collected) == 2  # nothing asked of Prometheus for a bad window


async def test_drift_thresholds_are_the_requests_then_the_deployments_then_the_built_in_ones() -> None:
    repo = MemoryRepository(stored(0))
    await repo.designate_baseline(UUID(int=1), now=NOW)
    defaults = {ThresholdClass.LATENCY: 50.0, ThresholdClass.ERROR: 70.0}
    body = drift_body(thresholds_pct={"latency": 5.0})
    result = await service.drift(services(repo, thresholds=defaults), body)

    builtin = CompareOptions()
    assert result.thresholds_pct == {
        cls: {ThresholdClass.LATENCY: 5.0, ThresholdClass.ERROR: 70.0}.get(cls, builtin.threshold_for(cls))
        for cls in ThresholdClass
    }
    assert result.baseline.id == UUID(int=1)


async def test_drift_is_judged_on_the_baselines_task_queue_unless_the_request_names_one() -> None:
    repo = MemoryRepository(stored(0, task_queue="main-queue"))
    await repo.designate_baseline(UUID(int=1), now=NOW)
    source = Telemetry()
    await service.drift(services(repo, source), drift_body())
    await service.drift(services(repo, source), drift_body(task_queue="other-queue"))
    assert [scope for scope, _, _ in source.collected] == [
        Scope("c", "default", "main-queue"),
        Scope("c", "default", "other-queue"),
    ]
    assert [(start, end) for _, start, end in source.collected] == [(NOW - service.DRIFT_WINDOW, NOW)] * 2


async def test_drift_without_a_baseline_or_without_data_is_never_a_pass() -> None:
    repo = MemoryRepository(stored(0))
    with pytest.raises(BaselineNotFound):
        await service.drift(services(repo), drift_body())

    await repo.designate_baseline(UUID(int=1), now=NOW)
    with pytest.raises(NoTelemetry) as refused:
        await service.drift(services(repo, Telemetry(telemetry({}))), drift_body())
    assert refused.value.message.startswith("No drift verdict, and this is not a pass")
    assert "cluster 'c', namespace 'default'" in refused.value.message and "'hour 0'" in refused.value.message


async def test_drift_of_a_task_queue_the_server_has_stopped_naming_is_refused_saying_why() -> None:
    repo = MemoryRepository(stored(0, task_queue="main-queue"))
    await repo.designate_baseline(UUID(int=1), now=NOW)
    unmatched = [
        ScopeMatch(
            dimension="task_queue",
            value="main-queue",
            source=source,
            label="taskqueue" if source == "server" else "task_queue",
            exported_as="main-queue",
            with_data=[] if source == "server" else ["worker_task_slot_utilization"],
            without_data=["sync_match_rate"] if source == "server" else [],
        )
        for source in ("server", "sdk")
    ]
    source = Telemetry(telemetry(scope=unmatched), known={"server": ["__omitted__"]})
    with pytest.raises(NoTelemetry) as refused:
        await service.drift(services(repo, source), drift_body())
    assert "the server does not name 'main-queue' in its metrics" in refused.value.message
    assert "metrics.breakdownByTaskQueue" in refused.value.message
    assert "SDK workers do report 'main-queue'" in refused.value.message


# --- rolling baselines ----------------------------------------------------------------------------


async def rolling_repo() -> MemoryRepository:
    repo = MemoryRepository(
        stored(0),
        stored(1),
        stored(2),
        stored(3, values=FAILING),
        stored(4, namespace="orders"),  # another namespace: never in the chain
        stored(5),
    )
    await repo.designate_baseline(UUID(int=1), now=NOW)
    await repo.set_exclusion(UUID(int=3), reason="load test misconfigured", now=NOW)
    return repo


async def test_a_rolling_baseline_accounts_for_excluded_profiles_without_reading_them() -> None:
    repo = await rolling_repo()
    account = await service.rolling_baseline(services(repo), "c", "default", 5)

    assert [m.name for m in account.pooled] == ["hour 0", "hour 1", "hour 5"]
    assert {o.profile.name for o in account.left_out} == {"hour 2", "hour 3"}  # excluded, failing
    assert UUID(int=3) not in repo.reads and UUID(int=5) not in repo.reads  # excluded; another namespace
    assert account.anchor.name == "hour 0"


async def test_drift_against_a_rolling_baseline_says_what_it_pooled() -> None:
    repo = await rolling_repo()
    result = await service.drift(services(repo), drift_body(rolling=2))
    assert result.rolling_baseline is not None
    assert result.summary.startswith("Against a rolling baseline of 2 pooled profiles ('hour 1'")


async def test_a_rolling_baseline_needs_a_designated_one() -> None:
    with pytest.raises(BaselineNotFound):
        await service.rolling_baseline(services(MemoryRepository(stored(0))), "c", "default", 3)


# --- presets, conformance, recommendation ---------------------------------------------------------


async def test_conformance_is_judged_against_the_named_preset_else_the_profiles_own() -> None:
    repo = MemoryRepository(stored(0, preset="mid-scale"), stored(1))
    named = await service.conformance(services(repo), UUID(int=1), "starter")
    own = await service.conformance(services(repo), UUID(int=1), None)
    assert (named.preset, own.preset) == ("starter", "mid-scale")
    with pytest.raises(InvalidRequest, match=f"names no preset; say which one to check against: {', '.join(PRESETS)}"):
        await service.conformance(services(repo), UUID(int=2), None)


async def test_a_recommendation_is_made_for_the_stored_profile() -> None:
    repo = MemoryRepository(stored(0))
    recommendation = await service.recommendation(services(repo), UUID(int=1))
    assert recommendation.profile_id == str(UUID(int=1)) and repo.reads == [UUID(int=1)]
    with pytest.raises(ProfileNotFound):
        await service.recommendation(services(repo), UUID(int=2))


def test_the_presets_are_listed_in_ascending_throughput_order_and_found_by_name() -> None:
    assert [p.name for p in service.list_presets()] == list(PRESETS)
    assert service.find_preset("starter") is PRESETS["starter"]
    with pytest.raises(NotFound, match=f"No preset 'huge'; the presets are {', '.join(PRESETS)}"):
        service.find_preset("huge")


# --- envelopes ------------------------------------------------------------------------------------


async def test_an_envelope_by_selection_reads_the_matching_profiles_only() -> None:
    repo = MemoryRepository(
        stored(0, label="sweep"),
        stored(1, label="sweep"),
        stored(2, label="other"),
        stored(3, label="sweep", namespace="x"),
    )
    body = EnvelopeRequest(cluster_id="c", namespace="default", label="sweep")
    await service.envelope(services(repo), body)
    assert sorted(repo.reads) == [UUID(int=1), UUID(int=2)]


async def test_an_envelope_selection_of_fewer_than_two_profiles_says_what_it_matched() -> None:
    repo = MemoryRepository(stored(0, label="sweep"))
    body = EnvelopeRequest(cluster_id="c", namespace="default", label="sweep", time_window_start=T0)
    with pytest.raises(InvalidRequest) as refused:
        await service.envelope(services(repo), body)
    assert refused.value.message == (
        "an envelope needs at least 2 profiles; 1 matched cluster 'c', namespace 'default', label 'sweep' "
        "in the time range"
    )


async def test_an_envelope_selection_over_the_limit_is_refused_before_any_document_is_read() -> None:
    repo = MemoryRepository(*(stored(hour, label="sweep") for hour in range(MAX_ENVELOPE_PROFILES + 1)))
    with pytest.raises(InvalidRequest, match=f"more than {MAX_ENVELOPE_PROFILES} profiles match"):
        await service.envelope(services(repo), EnvelopeRequest(cluster_id="c", label="sweep"))
    assert repo.reads == []


async def test_an_envelope_by_ids_refuses_a_malformed_id_before_reading() -> None:
    repo = MemoryRepository(stored(0), stored(1))
    with pytest.raises(ProfileNotFound):
        await service.envelope(services(repo), EnvelopeRequest(profile_ids=[str(UUID(int=1)), "nope"]))
    assert repo.reads == []


# --- the repository itself ------------------------------------------------------------------------


async def test_the_memory_repository_lists_newest_first_in_pages_like_the_store() -> None:
    repo = MemoryRepository(*(stored(hour) for hour in range(5)))
    first, cursor = await repo.list(ProfileFilter(cluster_id="c"), limit=2)
    assert cursor is not None
    second, last = await repo.list(ProfileFilter(cluster_id="c"), limit=3, cursor=cursor)
    assert [m.name for m in first + second] == [f"hour {h}" for h in (4, 3, 2, 1, 0)] and last is None
    with pytest.raises(InvalidRequest, match="cursor is not valid"):
        await repo.list(ProfileFilter(), limit=2, cursor="forged")


# --- reading, designating, readiness, reindex ------------------------------------------------------


async def test_designating_a_baseline_replaces_the_one_of_its_cluster_and_namespace_only() -> None:
    repo = MemoryRepository(stored(0), stored(1), stored(2, namespace="orders"))
    await service.designate_baseline(services(repo), UUID(int=3))
    await service.designate_baseline(services(repo), UUID(int=1))
    second = await service.designate_baseline(services(repo), UUID(int=2))

    assert second.is_baseline
    assert not (await service.get_profile(services(repo), UUID(int=1))).is_baseline
    assert (await service.get_baseline(services(repo), "c", "orders")).id == UUID(int=3)
    with pytest.raises(ProfileNotFound):
        await service.designate_baseline(services(repo), UUID(int=50))


async def test_profiles_are_listed_through_the_repository_by_filter() -> None:
    repo = MemoryRepository(stored(0), stored(1, namespace="orders"), stored(2))
    page, more = await service.list_profiles(services(repo), ProfileFilter(namespace="default"), limit=1)
    assert [m.name for m in page] == ["hour 2"] and more is not None
    rest, last = await service.list_profiles(services(repo), ProfileFilter(namespace="default"), limit=5, cursor=more)
    assert [m.name for m in rest] == ["hour 0"] and last is None


async def test_ready_only_when_the_repository_answers() -> None:
    repo = MemoryRepository()
    await service.check_ready(services(repo))
    repo.down = True
    with pytest.raises(DependencyUnavailable):
        await service.check_ready(services(repo))


async def test_reindex_reports_what_the_repository_found() -> None:
    report = await service.reindex(services(MemoryRepository(stored(0), stored(1))), repair=False)
    assert (report.documents, report.rows, report.consistent, report.repaired) == (2, 2, True, False)


# --- scope and window -----------------------------------------------------------------------------


def test_a_scope_says_what_it_covers_once() -> None:
    assert Scope("c", "orders", "main-queue").describe() == "cluster 'c', namespace 'orders', task queue 'main-queue'"
    assert Scope("c", None, "main-queue").describe() == "cluster 'c', task queue 'main-queue'"
    assert Scope("c", "orders", "q", cluster_label="cluster").cluster_only() == Scope("c", None, None, "cluster")


def test_a_window_is_after_its_start_at_most_a_day_long_and_has_passed() -> None:
    assert Window(NOW - MAX_WINDOW, NOW).describe() == f"{(NOW - MAX_WINDOW).isoformat()} .. {NOW.isoformat()}"
    with pytest.raises(InvalidRequest, match="time_window_end must be after time_window_start"):
        Window(NOW, NOW)
    with pytest.raises(InvalidRequest, match="longer than 24 hours"):
        Window(NOW - MAX_WINDOW - timedelta(seconds=1), NOW)
    Window.before(NOW + FUTURE_SKEW, timedelta(hours=1)).must_have_passed(NOW, "why")
    with pytest.raises(InvalidRequest, match=r"is in the future; because$"):
        Window.before(NOW + FUTURE_SKEW + timedelta(seconds=1), timedelta(hours=1)).must_have_passed(NOW, "because")


def test_a_profile_request_is_held_to_the_same_window_rules() -> None:
    with pytest.raises(ValidationError, match="longer than 24 hours"):
        create_body(time_window_start=NOW - MAX_WINDOW - timedelta(minutes=1))
    with pytest.raises(ValidationError, match="time_window_end must be after time_window_start"):
        create_body(time_window_start=NOW)
