"""An in-memory :class:`~behaviour_profiles.repository.ProfileRepository`, for unit tests of the use cases.

It keeps the rules the S3 + index store keeps: baselines one per (cluster, namespace) with ``None`` its
own key, baseline and exclusion as repository metadata overlaid on every read (never stored in the
document), newest-first listing with an opaque keyset cursor, our error tree. It also records which
profile documents were read, so a test can tell that a use case did not read one.
"""

from __future__ import annotations

import base64
from datetime import datetime
from uuid import UUID

from behaviour_profiles.errors import BaselineNotFound, DependencyUnavailable, InvalidRequest, ProfileNotFound
from behaviour_profiles.models import BehaviourProfile, ProfileMetadata
from behaviour_profiles.repository import ProfileFilter, ReindexReport
from behaviour_profiles.scope import Scope

MEMORY = "memory repository"


class MemoryRepository:
    def __init__(self, *profiles: BehaviourProfile) -> None:
        self._documents: dict[UUID, BehaviourProfile] = {}
        self._baselines: dict[tuple[str, str], UUID] = {}
        self._exclusions: dict[UUID, tuple[datetime, str]] = {}
        self.reads: list[UUID] = []
        """Every profile whose document :meth:`get` returned, in order."""
        self.down = False
        """When true, :meth:`check` raises as a store that does not answer would."""
        for profile in profiles:
            self._documents[profile.id] = self._stored(profile)

    @staticmethod
    def _stored(profile: BehaviourProfile) -> BehaviourProfile:
        return profile.model_copy(
            update={
                "is_baseline": False,
                "excluded_from_baselines": False,
                "excluded_at": None,
                "exclusion_reason": None,
            }
        )

    def _overlay(self, profile: BehaviourProfile) -> BehaviourProfile:
        excluded = self._exclusions.get(profile.id)
        return profile.model_copy(
            update={
                "is_baseline": self._baselines.get(_key(profile.cluster_id, profile.namespace)) == profile.id,
                "excluded_from_baselines": excluded is not None,
                "excluded_at": excluded[0] if excluded else None,
                "exclusion_reason": excluded[1] if excluded else None,
            }
        )

    def _found(self, profile_id: UUID) -> BehaviourProfile:
        document = self._documents.get(profile_id)
        if document is None:
            raise ProfileNotFound(str(profile_id))
        return self._overlay(document)

    async def save(self, profile: BehaviourProfile) -> ProfileMetadata:
        self._documents.setdefault(profile.id, self._stored(profile))  # like the index: an existing id is kept
        return profile.metadata()

    async def get(self, profile_id: UUID) -> BehaviourProfile:
        profile = self._found(profile_id)
        self.reads.append(profile_id)
        return profile

    async def get_baseline(self, cluster_id: str, namespace: str | None) -> ProfileMetadata:
        profile_id = self._baselines.get(_key(cluster_id, namespace))
        if profile_id is None:
            raise BaselineNotFound(f"No baseline for {Scope(cluster_id, namespace, None).describe()}")
        return self._found(profile_id).metadata()

    async def designate_baseline(self, profile_id: UUID, *, now: datetime) -> ProfileMetadata:
        profile = self._found(profile_id)
        self._baselines[_key(profile.cluster_id, profile.namespace)] = profile_id
        return self._found(profile_id).metadata()

    async def set_exclusion(self, profile_id: UUID, *, reason: str | None, now: datetime) -> ProfileMetadata:
        self._found(profile_id)
        if reason is None:
            self._exclusions.pop(profile_id, None)
        else:
            self._exclusions[profile_id] = (now, reason)
        return self._found(profile_id).metadata()

    async def reindex(self, *, repair: bool) -> ReindexReport:
        count = len(self._documents)
        return ReindexReport(count, count, [], [], [], repaired=repair)

    async def check(self) -> None:
        if self.down:
            raise DependencyUnavailable(MEMORY, "checking failed: down for the test")

    async def list(
        self, filters: ProfileFilter, *, limit: int, cursor: str | None = None
    ) -> tuple[list[ProfileMetadata], str | None]:
        matching = sorted(
            (self._overlay(p) for p in self._documents.values() if _matches(p, filters)),
            key=lambda p: (p.created_at, p.id),
            reverse=True,
        )
        if cursor is not None:
            after = _decode(cursor)
            matching = [p for p in matching if (p.created_at, p.id) < after]
        page = [p.metadata() for p in matching[:limit]]
        more = _encode(page[-1].created_at, page[-1].id) if len(matching) > limit else None
        return page, more


def _key(cluster_id: str, namespace: str | None) -> tuple[str, str]:
    return cluster_id, namespace or ""


def _matches(profile: BehaviourProfile, filters: ProfileFilter) -> bool:
    wanted = {
        "cluster_id": filters.cluster_id,
        "namespace": filters.namespace,
        "label": filters.label,
        "task_queue": filters.task_queue,
    }
    if any(value is not None and getattr(profile, field) != value for field, value in wanted.items()):
        return False
    if filters.window_from is not None and profile.time_window_end < filters.window_from:
        return False
    return filters.window_to is None or profile.time_window_start <= filters.window_to


def _encode(created_at: datetime, profile_id: UUID) -> str:
    return base64.urlsafe_b64encode(f"{created_at.isoformat()}|{profile_id}".encode()).decode()


def _decode(cursor: str) -> tuple[datetime, UUID]:
    try:
        created, profile_id = base64.urlsafe_b64decode(cursor.encode()).decode().split("|", 1)
        return datetime.fromisoformat(created), UUID(profile_id)
    except ValueError as exc:
        raise InvalidRequest("cursor is not valid: pass the cursor from the previous page's next link") from exc
