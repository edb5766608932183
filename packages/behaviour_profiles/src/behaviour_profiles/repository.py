"""The storage seam: what the use cases ask of wherever profiles are kept, and its query value types.

:class:`ProfileRepository` is a protocol. ``storage.ProfileStore`` (S3 documents + the DSQL/PostgreSQL
index) implements it in production; the unit tests use an in-memory one (``tests/memory_repository.py``).
A new backend implements these methods, raising errors of our tree (:class:`ProfileNotFound`,
:class:`BaselineNotFound`, :class:`InvalidRequest` for a cursor it did not issue, ``Dependency*``).
Pure: no I/O here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol
from uuid import UUID

from behaviour_profiles.models import BehaviourProfile, ProfileMetadata


@dataclass(frozen=True)
class ProfileFilter:
    """Which profiles a listing returns; ``None`` matches anything."""

    cluster_id: str | None = None
    namespace: str | None = None
    label: str | None = None
    task_queue: str | None = None
    window_from: datetime | None = None
    """Only profiles whose window ends at or after this instant."""
    window_to: datetime | None = None
    """Only profiles whose window starts at or before this instant."""


@dataclass
class ReindexReport:
    """What a reconciliation of the index with the documents found (and, with ``repaired``, fixed)."""

    documents: int
    rows: int
    documents_without_row: list[str]
    rows_without_document: list[str]
    unreadable: list[str]
    repaired: bool
    marks_to_restore: list[str] = field(default_factory=list)
    """Baseline designations and exclusions kept beside the documents that the index lacks (restored)."""
    marks_out_of_step: list[str] = field(default_factory=list)
    """Designations and exclusions of the index whose mark beside the documents is missing or stale
    (written or removed on repair)."""

    @property
    def consistent(self) -> bool:
        return not (
            self.documents_without_row
            or self.rows_without_document
            or self.unreadable
            or self.marks_to_restore
            or self.marks_out_of_step
        )


class ProfileRepository(Protocol):
    """Where profiles are kept. Baselines are one per (cluster, namespace); ``namespace=None`` is its own
    key. Baseline designation and exclusion are metadata of the repository, overlaid on every read."""

    async def save(self, profile: BehaviourProfile) -> ProfileMetadata:
        """Store a new profile (its baseline and exclusion fields are ignored)."""
        ...

    async def get(self, profile_id: UUID) -> BehaviourProfile:
        """The full profile; :class:`ProfileNotFound` when there is none."""
        ...

    async def get_baseline(self, cluster_id: str, namespace: str | None) -> ProfileMetadata:
        """The designated baseline of a cluster and namespace; :class:`BaselineNotFound` when none is."""
        ...

    async def designate_baseline(self, profile_id: UUID, *, now: datetime) -> ProfileMetadata:
        """Make a profile the baseline of its cluster and namespace, replacing any other."""
        ...

    async def set_exclusion(self, profile_id: UUID, *, reason: str | None, now: datetime) -> ProfileMetadata:
        """Exclude a profile from rolling baselines with ``reason``, or (``reason=None``) include it again."""
        ...

    async def reindex(self, *, repair: bool) -> ReindexReport:
        """Reconcile what the repository lists with what it holds; with ``repair``, fix what it can."""
        ...

    async def check(self) -> None:
        """Raise a ``Dependency*`` error unless the repository answers."""
        ...

    async def list(
        self, filters: ProfileFilter, *, limit: int, cursor: str | None = None
    ) -> tuple[list[ProfileMetadata], str | None]:
        """Newest first (by creation time, then id): a page and the cursor of the next one (``None`` on
        the last)."""
        ...
