"""Split storage: the full profile document in S3, the metadata index in DSQL (PostgreSQL protocol).

S3 is the source of truth; the index can be rebuilt from it. The SQL is what Aurora DSQL accepts:
application-generated UUID keys, no foreign keys, triggers, JSON columns, TRUNCATE or temp tables, one
DDL statement per transaction, ``CREATE INDEX ASYNC`` on DSQL. DSQL's optimistic concurrency answers
SQLSTATE 40001 on conflict; every index transaction is retried with jittered exponential backoff.

Only this module imports asyncpg and botocore; it translates their errors into our error tree.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import random
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence, Set
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial
from typing import Any, Protocol, TypeVar
from urllib.parse import quote
from uuid import UUID

import asyncpg
from botocore.exceptions import BotoCoreError, ClientError, ConnectTimeoutError, ReadTimeoutError
from botocore.exceptions import ConnectionError as BotoConnectionError

from behaviour_profiles.errors import (
    BaselineNotFound,
    DependencyError,
    DependencyFailed,
    DependencyTimeout,
    DependencyUnavailable,
    InvalidRequest,
    ProfileNotFound,
)
from behaviour_profiles.models import BehaviourProfile, ProfileMetadata
from behaviour_profiles.repository import ProfileFilter, ReindexReport
from behaviour_profiles.scope import Scope

log = logging.getLogger(__name__)

S3 = "S3"
INDEX = "PostgreSQL (DSQL metadata index)"
T = TypeVar("T")
Conn = asyncpg.Connection | asyncpg.pool.PoolConnectionProxy

PROFILES_TABLE = "behaviour_profiles"
INDEX_ONLY = {"is_baseline", "excluded_from_baselines", "excluded_at", "exclusion_reason"}
"""Metadata that lives in the index only (never stale in a document): overlaid on every read."""
BASELINES_TABLE = "behaviour_profile_baselines"

_TABLES = (
    f"""CREATE TABLE IF NOT EXISTS {PROFILES_TABLE} (
        id UUID PRIMARY KEY,
        name VARCHAR(200) NOT NULL,
        label VARCHAR(200),
        cluster_id VARCHAR(200) NOT NULL,
        namespace VARCHAR(200),
        namespace_key VARCHAR(200) NOT NULL,
        task_queue VARCHAR(200),
        time_window_start TIMESTAMPTZ NOT NULL,
        time_window_end TIMESTAMPTZ NOT NULL,
        created_at TIMESTAMPTZ NOT NULL,
        document_key VARCHAR(500) NOT NULL,
        temporal_server_version VARCHAR(100),
        dsql_plugin_version VARCHAR(100),
        worker_code_sha VARCHAR(100),
        coverage_with_data INTEGER NOT NULL,
        coverage_asked INTEGER NOT NULL
    )""",
    f"""CREATE TABLE IF NOT EXISTS {BASELINES_TABLE} (
        cluster_id VARCHAR(200) NOT NULL,
        namespace_key VARCHAR(200) NOT NULL,
        profile_id UUID NOT NULL,
        designated_at TIMESTAMPTZ NOT NULL,
        PRIMARY KEY (cluster_id, namespace_key)
    )""",
)
_INDEXES = (
    ("bp_created_idx", "(created_at, id)"),
    ("bp_cluster_created_idx", "(cluster_id, created_at, id)"),
    # cluster + namespace is the list page's usual filter; namespaces are busy in one cluster and quiet
    # in another, so neither single-column index serves the pair in order without filtering or sorting
    ("bp_cluster_namespace_created_idx", "(cluster_id, namespace, created_at, id)"),
    ("bp_namespace_created_idx", "(namespace, created_at, id)"),
    ("bp_label_created_idx", "(label, created_at, id)"),
    ("bp_task_queue_created_idx", "(task_queue, created_at, id)"),
)


ADDED_COLUMNS: tuple[tuple[str, str], ...] = (
    # "exclude from baselines": set and cleared in the index only, like the baseline designation
    ("excluded_at", "TIMESTAMPTZ"),
    ("excluded_reason", "VARCHAR(500)"),
)
"""Columns added to the profiles table after its first release: nullable, no default, so that adding one
is a metadata-only change that DSQL accepts (and an existing index upgrades in place)."""


def schema_statements(dsql: bool) -> list[str]:
    """The DDL, one statement per transaction; DSQL builds indexes asynchronously.

    The added columns come as ``ALTER TABLE ... ADD COLUMN``; :func:`setup_schema` runs each only when
    the column is missing, so an existing index is upgraded idempotently.
    """
    create_index = "CREATE INDEX ASYNC IF NOT EXISTS" if dsql else "CREATE INDEX IF NOT EXISTS"
    return [
        *_TABLES,
        *(f"ALTER TABLE {PROFILES_TABLE} ADD COLUMN {name} {kind}" for name, kind in ADDED_COLUMNS),
        *(f"{create_index} {name} ON {PROFILES_TABLE} {cols}" for name, cols in _INDEXES),
    ]


def namespace_key(namespace: str | None) -> str:
    """Baselines are unique per (cluster, namespace); a profile of all namespaces has key ''."""
    return namespace or ""


# --- cursor ------------------------------------------------------------------------------------


def encode_cursor(created_at: datetime, profile_id: UUID) -> str:
    raw = f"{created_at.isoformat()}|{profile_id}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, UUID]:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        created, pid = base64.urlsafe_b64decode(padded.encode()).decode().split("|", 1)
        created_at = datetime.fromisoformat(created)
        if created_at.utcoffset() is None:  # ours always carry one; PostgreSQL would guess the zone
            raise ValueError("a cursor time without a zone")
        return created_at, UUID(pid)
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidRequest("cursor is not valid: pass the cursor from the previous page's next link") from exc


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 8
    base_delay_s: float = 0.02
    max_delay_s: float = 1.0

    def delay(self, attempt: int) -> float:
        # full jitter: uniform in [0, min(max, base * 2**attempt)]
        return random.uniform(0, min(self.max_delay_s, self.base_delay_s * 2**attempt))


class S3Client(Protocol):
    """The subset of an aiobotocore S3 client the store uses."""

    async def put_object(self, **kwargs: Any) -> Any: ...
    async def get_object(self, **kwargs: Any) -> Any: ...
    async def delete_object(self, **kwargs: Any) -> Any: ...
    async def head_bucket(self, **kwargs: Any) -> Any: ...
    def get_paginator(self, name: str) -> Any: ...


# --- error translation -------------------------------------------------------------------------


@asynccontextmanager
async def s3_errors(action: str) -> AsyncIterator[None]:
    try:
        yield
    except (ConnectTimeoutError, ReadTimeoutError) as exc:
        raise DependencyTimeout(S3, f"{action} timed out ({exc})") from exc
    except TimeoutError as exc:  # the store's own deadline on one S3 operation (before OSError: a subclass)
        raise DependencyTimeout(S3, f"{action} timed out (no answer within the deadline)") from exc
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code", "")
        if code == "NoSuchBucket":
            raise DependencyUnavailable(S3, f"{action} failed: the bucket does not exist") from exc
        raise DependencyFailed(S3, f"{action} failed: {code or exc}") from exc
    except (BotoCoreError, OSError) as exc:
        raise DependencyUnavailable(S3, f"{action} failed: {exc}") from exc


ROW_CHECK_TIMEOUT_S = 5.0
"""How long a failed save looks for its row before removing the document."""


def _write_may_have_landed(cause: BaseException | None) -> bool:
    """After a failed write: could S3 have stored the object anyway? Not if it answered an error or
    was never reached; yes after a timeout or a connection lost mid-request."""
    return not isinstance(cause, (ClientError, BotoConnectionError))


def _commit_unknown(cause: BaseException | None) -> bool:
    """After a failed index transaction: could it have committed? Yes when the connection was lost or
    timed out while the transaction ran (possibly during COMMIT)."""
    return isinstance(
        cause,
        (
            asyncpg.exceptions.ConnectionDoesNotExistError,
            asyncpg.exceptions.InterfaceError,
            asyncpg.exceptions.QueryCanceledError,
            TimeoutError,
            ConnectionResetError,
        ),
    )


def _is_conflict(exc: BaseException) -> bool:
    return isinstance(exc, asyncpg.PostgresError) and getattr(exc, "sqlstate", None) == "40001"


@asynccontextmanager
async def index_errors(action: str) -> AsyncIterator[None]:
    try:
        yield
    except (TimeoutError, asyncpg.exceptions.QueryCanceledError) as exc:
        raise DependencyTimeout(INDEX, f"{action} timed out") from exc
    except (OSError, asyncpg.exceptions.PostgresConnectionError, asyncpg.exceptions.InterfaceError) as exc:
        raise DependencyUnavailable(INDEX, f"{action} failed: {exc or type(exc).__name__}") from exc
    except asyncpg.exceptions.CannotConnectNowError as exc:
        raise DependencyUnavailable(INDEX, f"{action} failed: server is starting or shutting down") from exc
    except asyncpg.PostgresError as exc:
        if _is_conflict(exc):
            raise DependencyUnavailable(INDEX, f"{action} kept conflicting (SQLSTATE 40001); retry later") from exc
        raise DependencyUnavailable(INDEX, f"{action} failed: {exc}") from exc


# --- the store ---------------------------------------------------------------------------------

_SELECT = f"""
SELECT p.id, p.name, p.label, p.cluster_id, p.namespace, p.task_queue, p.time_window_start,
       p.time_window_end, p.created_at, p.temporal_server_version, p.dsql_plugin_version,
       p.worker_code_sha, p.coverage_with_data, p.coverage_asked, p.document_key,
       (b.profile_id IS NOT NULL) AS is_baseline, (p.excluded_at IS NOT NULL) AS excluded_from_baselines,
       p.excluded_at, p.excluded_reason AS exclusion_reason
FROM {PROFILES_TABLE} p
LEFT JOIN {BASELINES_TABLE} b
  ON b.cluster_id = p.cluster_id AND b.namespace_key = p.namespace_key AND b.profile_id = p.id
"""


async def _drop_row(profile_id: UUID, conn: Conn) -> None:
    await conn.execute(f"DELETE FROM {BASELINES_TABLE} WHERE profile_id = $1", profile_id)
    await conn.execute(f"DELETE FROM {PROFILES_TABLE} WHERE id = $1", profile_id)


def _metadata(row: asyncpg.Record) -> ProfileMetadata:
    return ProfileMetadata.model_validate({k: v for k, v in row.items() if k != "document_key"})


MARKS = "marks/"
"""Below the document prefix: baseline designations and exclusions, kept beside the documents so that an
index rebuilt from them gets those back (they are set in the index; the marks follow it)."""


@dataclass
class _MarkPlan:
    restore: list[tuple[str, Callable[[Conn], Awaitable[None]]]] = field(default_factory=list)
    rewrite: list[tuple[str, Callable[[], Awaitable[None]]]] = field(default_factory=list)


async def _restore_baseline(cluster_id: str, key: str, profile_id: UUID, when: datetime, conn: Conn) -> None:
    await conn.execute(
        f"""INSERT INTO {BASELINES_TABLE} (cluster_id, namespace_key, profile_id, designated_at)
            SELECT $1, $2, $3, $4 WHERE EXISTS (SELECT 1 FROM {PROFILES_TABLE} WHERE id = $3)
            ON CONFLICT (cluster_id, namespace_key) DO NOTHING""",
        cluster_id,
        key,
        profile_id,
        when,
    )


async def _restore_exclusion(profile_id: UUID, when: datetime, reason: str, conn: Conn) -> None:
    await conn.execute(
        f"UPDATE {PROFILES_TABLE} SET excluded_at = $2, excluded_reason = $3 WHERE id = $1 AND excluded_at IS NULL",
        profile_id,
        when,
        reason,
    )


class ProfileStore:
    """Profiles in S3 (documents) and PostgreSQL/DSQL (index): the production
    :class:`~behaviour_profiles.repository.ProfileRepository`."""

    def __init__(
        self,
        s3: S3Client,
        bucket: str,
        pool: asyncpg.Pool,
        *,
        prefix: str = "profiles/",
        retry: RetryPolicy | None = None,
        s3_deadline_s: float | None = None,
    ) -> None:
        """``s3_deadline_s`` bounds each S3 read, write or delete, its client's own retries included
        (a client read timeout does not cover every wait: botocore's ``Expect: 100-continue`` on a PUT
        waits for the server unbounded)."""
        self._s3 = s3
        self._s3_deadline_s = s3_deadline_s
        self._bucket = bucket
        self._pool = pool
        self._prefix = prefix
        self._retry = retry or RetryPolicy()
        self.conflicts_retried = 0
        """How many transactions were retried after an OCC conflict (SQLSTATE 40001)."""

    @asynccontextmanager
    async def _s3_call(self, action: str) -> AsyncIterator[None]:
        """One S3 operation: its errors in our tree, and bounded by the store's deadline."""
        async with s3_errors(action), asyncio.timeout(self._s3_deadline_s):
            yield

    def document_key(self, profile_id: UUID) -> str:
        return f"{self._prefix}{profile_id}.json"

    def _baseline_mark_key(self, cluster_id: str, namespace: str | None) -> str:
        scope = f"{quote(cluster_id, safe='')}/{quote(namespace_key(namespace), safe='')}"
        return f"{self._prefix}{MARKS}baselines/{scope}.json"

    def _exclusion_mark_key(self, profile_id: UUID) -> str:
        return f"{self._prefix}{MARKS}exclusions/{profile_id}.json"

    async def _put_mark(self, key: str, mark: Mapping[str, Any]) -> None:
        """Keep a designation or exclusion beside the documents; the index has it already, so a failure
        is logged, not raised (reindex reports the mark out of step and writes it)."""
        try:
            async with self._s3_call(f"writing {key}"):
                body = json.dumps(mark, default=str).encode()
                await self._s3.put_object(Bucket=self._bucket, Key=key, Body=body, ContentType="application/json")
        except DependencyError as exc:
            log.warning("could not write %s (%s); `copilot profiles reindex` writes it", key, exc.message)

    async def _drop_mark(self, key: str) -> None:
        try:
            async with self._s3_call(f"deleting {key}"):
                await self._s3.delete_object(Bucket=self._bucket, Key=key)
        except DependencyError as exc:
            log.warning("could not remove %s (%s); `copilot profiles reindex` removes it", key, exc.message)

    async def _transaction(self, action: str, work: Callable[[Conn], Awaitable[T]]) -> T:
        """Run ``work`` in a transaction, retrying the whole of it on OCC conflicts (40001)."""
        async with index_errors(action):
            for attempt in range(self._retry.attempts):
                try:
                    # Repeatable read is DSQL's isolation; on PostgreSQL it also turns concurrent writes
                    # of one row into SQLSTATE 40001, so the retry path runs locally too.
                    async with self._pool.acquire() as conn, conn.transaction(isolation="repeatable_read"):
                        return await work(conn)
                except asyncpg.PostgresError as exc:
                    if not _is_conflict(exc) or attempt == self._retry.attempts - 1:
                        raise
                    self.conflicts_retried += 1
                    log.info("index conflict on %s (attempt %d), retrying", action, attempt + 1)
                    await asyncio.sleep(self._retry.delay(attempt))
        raise AssertionError("unreachable")  # pragma: no cover

    # writes

    async def save(self, profile: BehaviourProfile) -> ProfileMetadata:
        """Write the document, then the index row; if the row cannot be written, remove the document."""
        key = self.document_key(profile.id)
        body = profile.model_dump_json(exclude=INDEX_ONLY).encode()
        try:
            async with self._s3_call(f"writing {key}"):
                await self._s3.put_object(Bucket=self._bucket, Key=key, Body=body, ContentType="application/json")
        except DependencyError as exc:
            if _write_may_have_landed(exc.__cause__):  # e.g. a read timeout: S3 may have stored it anyway
                await self._delete_document(key)
            raise
        try:
            await self._insert_row(profile, key)
        except DependencyError as exc:
            if _commit_unknown(exc.__cause__) and await self._row_exists(profile.id):
                log.warning("the index connection broke after profile %s was committed; it is saved", profile.id)
                return profile.metadata()
            await self._delete_document(key)
            raise
        except BaseException:
            await self._delete_document(key)
            raise
        return profile.metadata()

    async def _row_exists(self, profile_id: UUID) -> bool:
        """One quick look (no retries) whether a row landed; ``False`` when the index cannot say."""
        try:
            async with asyncio.timeout(ROW_CHECK_TIMEOUT_S):
                found = await self._pool.fetchval(f"SELECT 1 FROM {PROFILES_TABLE} WHERE id = $1", profile_id)
        except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.exceptions.InterfaceError):
            log.error(
                "could not tell whether profile %s was indexed; if it was, `copilot profiles reindex` removes its row",
                profile_id,
            )
            return False
        return found is not None

    async def _insert_row(self, profile: BehaviourProfile, key: str) -> None:
        async def work(conn: Conn) -> None:
            await conn.execute(
                f"""INSERT INTO {PROFILES_TABLE} (id, name, label, cluster_id, namespace, namespace_key, task_queue,
                    time_window_start, time_window_end, created_at, document_key, temporal_server_version,
                    dsql_plugin_version, worker_code_sha, coverage_with_data, coverage_asked)
                    VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,$15,$16)
                    ON CONFLICT (id) DO NOTHING""",
                profile.id,
                profile.name,
                profile.label,
                profile.cluster_id,
                profile.namespace,
                namespace_key(profile.namespace),
                profile.task_queue,
                profile.time_window_start,
                profile.time_window_end,
                profile.created_at,
                key,
                profile.temporal_server_version,
                profile.dsql_plugin_version,
                profile.worker_code_sha,
                profile.coverage_with_data,
                profile.coverage_asked,
            )

        await self._transaction(f"indexing profile {profile.id}", work)

    async def _delete_document(self, key: str) -> None:
        try:
            async with self._s3_call(f"deleting {key}"):
                await self._s3.delete_object(Bucket=self._bucket, Key=key)
        except DependencyError:
            log.error("could not remove %s after a failed index write; `copilot profiles reindex` reports it", key)

    async def designate_baseline(self, profile_id: UUID, *, now: datetime) -> ProfileMetadata:
        """Make a profile the baseline of its (cluster, namespace): one upsert, so never two."""

        async def work(conn: Conn) -> ProfileMetadata:
            row = await conn.fetchrow(
                f"SELECT cluster_id, namespace_key FROM {PROFILES_TABLE} WHERE id = $1", profile_id
            )
            if row is None:
                raise ProfileNotFound(str(profile_id))
            await conn.execute(
                f"""INSERT INTO {BASELINES_TABLE} (cluster_id, namespace_key, profile_id, designated_at)
                    VALUES ($1, $2, $3, $4)
                    ON CONFLICT (cluster_id, namespace_key)
                    DO UPDATE SET profile_id = EXCLUDED.profile_id, designated_at = EXCLUDED.designated_at""",
                row["cluster_id"],
                row["namespace_key"],
                profile_id,
                now,
            )
            meta = await conn.fetchrow(f"{_SELECT} WHERE p.id = $1", profile_id)
            if meta is None:  # deleted between the two statements of this transaction
                raise ProfileNotFound(str(profile_id))
            return _metadata(meta)

        meta = await self._transaction(f"designating baseline {profile_id}", work)
        mark = {"cluster_id": meta.cluster_id, "namespace": meta.namespace, "profile_id": str(profile_id)}
        await self._put_mark(self._baseline_mark_key(meta.cluster_id, meta.namespace), {**mark, "designated_at": now})
        return meta

    # reads

    async def _row(self, profile_id: UUID) -> asyncpg.Record:
        async def work(conn: Conn) -> asyncpg.Record | None:
            return await conn.fetchrow(f"{_SELECT} WHERE p.id = $1", profile_id)

        row = await self._transaction(f"reading profile {profile_id}", work)
        if row is None:
            raise ProfileNotFound(str(profile_id))
        return row

    async def get_metadata(self, profile_id: UUID) -> ProfileMetadata:
        return _metadata(await self._row(profile_id))

    async def _read_document(self, key: str) -> bytes:
        async with self._s3_call(f"reading {key}"):
            response = await self._s3.get_object(Bucket=self._bucket, Key=key)
            async with response["Body"] as stream:
                body: bytes = await stream.read()
        return body

    async def get(self, profile_id: UUID) -> BehaviourProfile:
        """The full document, with the baseline status overlaid from the index (never stale)."""
        row = await self._row(profile_id)
        meta = _metadata(row)
        key: str = row["document_key"]  # where it was written, even if the prefix setting changed since
        try:
            body = await self._read_document(key)
        except DependencyFailed as exc:
            if "NoSuchKey" in exc.message:
                raise DependencyFailed(
                    S3, f"document {key} is missing for an indexed profile; `copilot profiles reindex` reports it"
                ) from exc
            raise
        profile = BehaviourProfile.model_validate_json(body)
        return profile.model_copy(update={k: getattr(meta, k) for k in INDEX_ONLY})

    async def list(
        self, filters: ProfileFilter, *, limit: int, cursor: str | None = None
    ) -> tuple[list[ProfileMetadata], str | None]:
        """Newest first; returns the page and the cursor of the next page (None on the last)."""
        clauses: list[str] = []
        args: list[Any] = []

        def add(sql: str, value: Any) -> None:
            args.append(value)
            clauses.append(sql.format(f"${len(args)}"))

        for column, value in (
            ("cluster_id", filters.cluster_id),
            ("namespace", filters.namespace),
            ("label", filters.label),
            ("task_queue", filters.task_queue),
        ):
            if value is not None:
                add(f"p.{column} = {{}}", value)
        if filters.window_from is not None:
            add("p.time_window_end >= {}", filters.window_from)
        if filters.window_to is not None:
            add("p.time_window_start <= {}", filters.window_to)
        if cursor:
            created_at, last_id = decode_cursor(cursor)
            args.extend([created_at, last_id])
            clauses.append(f"(p.created_at, p.id) < (${len(args) - 1}, ${len(args)})")
        where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
        args.append(limit + 1)
        sql = f"{_SELECT} {where} ORDER BY p.created_at DESC, p.id DESC LIMIT ${len(args)}"

        async def work(conn: Conn) -> list[asyncpg.Record]:
            rows: list[asyncpg.Record] = await conn.fetch(sql, *args)
            return rows

        rows = await self._transaction("listing profiles", work)
        page = [_metadata(r) for r in rows[:limit]]
        next_cursor = encode_cursor(page[-1].created_at, page[-1].id) if len(rows) > limit else None
        return page, next_cursor

    async def reindex(self, *, repair: bool) -> ReindexReport:
        """Reconcile the index with the documents in S3 (the source of truth).

        Documents without a row are indexed again; rows whose document is gone are removed (with any
        baseline pointing at them). Baseline designations and exclusions are kept beside the documents
        as marks: one the index lacks is restored (an index rebuilt from the documents gets its
        baselines and exclusions back), and a mark the index contradicts or lacks is rewritten from the
        index, which is where they are set. With ``repair=False`` it only reports.
        """

        # Rows first, then documents: a profile is written document-first, so any row seen here has its
        # document listed below unless it is really gone, and a profile saved meanwhile is at worst
        # indexed twice (the insert ignores an existing id).
        async def rows_work(conn: Conn) -> tuple[list[asyncpg.Record], list[asyncpg.Record]]:
            rows: list[asyncpg.Record] = await conn.fetch(
                f"SELECT id, document_key, cluster_id, namespace, excluded_at, excluded_reason FROM {PROFILES_TABLE}"
            )
            baselines: list[asyncpg.Record] = await conn.fetch(
                f"""SELECT b.cluster_id, b.namespace_key, b.profile_id, b.designated_at, p.namespace, p.document_key
                    FROM {BASELINES_TABLE} b JOIN {PROFILES_TABLE} p ON p.id = b.profile_id"""
            )
            return rows, baselines

        all_rows, baseline_rows = await self._transaction("reading the index", rows_work)
        # rows written under another prefix are not judged against this prefix's listing
        mine = [row for row in all_rows if row["document_key"].startswith(self._prefix)]
        rows = {row["id"]: row["document_key"] for row in mine}
        documents: dict[UUID, str] = {}
        mark_keys: list[str] = []
        unreadable: list[str] = []
        async with s3_errors("listing documents"):
            async for page in self._s3.get_paginator("list_objects_v2").paginate(
                Bucket=self._bucket, Prefix=self._prefix
            ):
                for item in page.get("Contents", []):
                    key: str = item["Key"]
                    if key.startswith(f"{self._prefix}{MARKS}"):
                        mark_keys.append(key)
                        continue
                    try:
                        documents[UUID(key.removeprefix(self._prefix).removesuffix(".json"))] = key
                    except ValueError:
                        unreadable.append(key)

        report = ReindexReport(
            documents=len(documents),
            rows=len(rows),
            documents_without_row=sorted(str(i) for i in documents.keys() - rows.keys()),
            rows_without_document=sorted(str(i) for i in rows.keys() - documents.keys()),
            unreadable=unreadable,
            repaired=repair,
        )
        marks = await self._read_marks(mark_keys, report)
        my_baselines = [b for b in baseline_rows if b["document_key"].startswith(self._prefix)]
        taken = {(b["cluster_id"], b["namespace_key"]) for b in baseline_rows}
        plan = self._plan_marks(marks, mine, my_baselines, taken, documents.keys(), rows.keys())
        report.marks_to_restore = [what for what, _ in plan.restore]
        report.marks_out_of_step = [what for what, _ in plan.rewrite]
        if not repair:
            return report
        for raw in report.documents_without_row:
            key = documents[UUID(raw)]
            body = await self._read_document(key)
            try:
                profile = BehaviourProfile.model_validate_json(body)
            except ValueError:
                report.unreadable.append(key)
                continue
            await self._insert_row(profile, key)
        for raw in report.rows_without_document:
            await self._transaction(f"removing the row of {raw}", partial(_drop_row, UUID(raw)))
        for what, restore in plan.restore:
            await self._transaction(f"restoring the {what}", restore)
        for _, rewrite in plan.rewrite:
            await rewrite()
        return report

    def _plan_marks(
        self,
        marks: Mapping[str, Mapping[str, Any]],
        rows: Sequence[asyncpg.Record],
        baselines: Sequence[asyncpg.Record],
        taken: Set[tuple[str, str]],
        documents: Set[UUID],
        indexed: Set[UUID],
    ) -> _MarkPlan:
        """What to restore into the index from the marks, and which marks to rewrite from the index.

        ``baselines`` are the index's designations of profiles under this prefix; ``taken`` every
        (cluster, namespace key) the index has a baseline for, whatever its prefix (the index wins there).
        """
        plan = _MarkPlan()

        def drop(key: str) -> Callable[[], Awaitable[None]]:
            return partial(self._drop_mark, key)

        for b in baselines:
            key = self._baseline_mark_key(b["cluster_id"], b["namespace"])
            where = Scope(b["cluster_id"], b["namespace"], None).describe()
            mark = marks.get(key)
            if mark is None or mark.get("profile_id") != str(b["profile_id"]):
                fresh = {"cluster_id": b["cluster_id"], "namespace": b["namespace"], "profile_id": str(b["profile_id"])}
                plan.rewrite.append(
                    (
                        f"baseline mark of {where}",
                        partial(self._put_mark, key, {**fresh, "designated_at": b["designated_at"]}),
                    )
                )
        excluded = {r["id"]: r for r in rows if r["excluded_at"] is not None}
        for r in excluded.values():
            key = self._exclusion_mark_key(r["id"])
            mark = marks.get(key)
            if mark is None or mark.get("reason") != r["excluded_reason"]:
                fresh = {"profile_id": str(r["id"]), "reason": r["excluded_reason"], "excluded_at": r["excluded_at"]}
                plan.rewrite.append((f"exclusion mark of {r['id']}", partial(self._put_mark, key, fresh)))
        for key, mark in marks.items():
            try:
                profile_id = UUID(str(mark.get("profile_id")))
                when = datetime.fromisoformat(str(mark.get("designated_at") or mark.get("excluded_at")))
            except ValueError:
                plan.rewrite.append((f"unreadable mark {key}", drop(key)))
                continue
            if "/baselines/" in key.removeprefix(self._prefix):
                cluster_id, namespace = str(mark.get("cluster_id")), mark.get("namespace")
                where = Scope(cluster_id, namespace, None).describe()
                if (cluster_id, namespace_key(namespace)) in taken:
                    continue  # the index has a baseline there: it wins (rewritten above when they differ)
                if profile_id not in documents:
                    plan.rewrite.append(
                        (f"baseline mark of {where} (no document {profile_id})", partial(self._drop_mark, key))
                    )
                    continue
                restore = partial(_restore_baseline, cluster_id, namespace_key(namespace), profile_id, when)
                plan.restore.append((f"baseline of {where}: {profile_id}", restore))
            else:
                if profile_id not in documents:
                    plan.rewrite.append(
                        (f"exclusion mark of {profile_id} (no document)", partial(self._drop_mark, key))
                    )
                elif profile_id not in indexed:  # the row comes back from its document: so does its exclusion
                    restore = partial(_restore_exclusion, profile_id, when, str(mark.get("reason") or ""))
                    plan.restore.append((f"exclusion of {profile_id}", restore))
                elif profile_id not in excluded:  # included again since; the mark was not removed
                    plan.rewrite.append(
                        (f"exclusion mark of {profile_id} (included since)", partial(self._drop_mark, key))
                    )
        return plan

    async def _read_marks(self, keys: Sequence[str], report: ReindexReport) -> dict[str, dict[str, Any]]:
        marks: dict[str, dict[str, Any]] = {}
        for key in keys:
            try:
                mark = json.loads(await self._read_document(key))
            except ValueError:
                report.unreadable.append(key)
                continue
            if isinstance(mark, dict):
                marks[key] = mark
            else:
                report.unreadable.append(key)
        return marks

    async def get_baseline(self, cluster_id: str, namespace: str | None) -> ProfileMetadata:
        async def work(conn: Conn) -> asyncpg.Record | None:
            return await conn.fetchrow(
                f"{_SELECT} WHERE b.cluster_id = $1 AND b.namespace_key = $2",
                cluster_id,
                namespace_key(namespace),
            )

        row = await self._transaction("reading baseline", work)
        if row is None:
            where = Scope(cluster_id, namespace, None).describe()
            raise BaselineNotFound(f"No baseline for {where}; designate one with POST /profiles/{{id}}/baseline")
        return _metadata(row)

    async def set_exclusion(self, profile_id: UUID, *, reason: str | None, now: datetime) -> ProfileMetadata:
        """Mark a profile "exclude from baselines" with ``reason``, or (``reason=None``) include it again."""

        async def work(conn: Conn) -> ProfileMetadata:
            status = await conn.execute(
                f"UPDATE {PROFILES_TABLE} SET excluded_at = $2, excluded_reason = $3 WHERE id = $1",
                profile_id,
                now if reason is not None else None,
                reason,
            )
            if status == "UPDATE 0":
                raise ProfileNotFound(str(profile_id))
            row = await conn.fetchrow(f"{_SELECT} WHERE p.id = $1", profile_id)
            if row is None:  # pragma: no cover - updated in this same transaction
                raise ProfileNotFound(str(profile_id))
            return _metadata(row)

        action = "excluding" if reason is not None else "including"
        meta = await self._transaction(f"{action} profile {profile_id} (baselines)", work)
        key = self._exclusion_mark_key(profile_id)
        if reason is None:
            await self._drop_mark(key)
        else:
            await self._put_mark(key, {"profile_id": str(profile_id), "reason": reason, "excluded_at": now})
        return meta

    async def baselines_count(self, cluster_id: str, namespace: str | None) -> int:
        async def work(conn: Conn) -> int:
            value = await conn.fetchval(
                f"SELECT count(*) FROM {BASELINES_TABLE} WHERE cluster_id = $1 AND namespace_key = $2",
                cluster_id,
                namespace_key(namespace),
            )
            return int(value)

        return await self._transaction("counting baselines", work)

    async def check(self) -> None:
        """Raise unless both the index and the bucket answer."""
        await self._transaction("checking the index", lambda conn: conn.fetchval("SELECT 1"))
        async with self._s3_call("checking the bucket"):
            await self._s3.head_bucket(Bucket=self._bucket)


async def setup_schema(conn: Conn, *, dsql: bool) -> list[str]:
    """Create tables and indexes idempotently, one DDL statement per transaction."""
    done = []
    async with index_errors("creating the schema"):
        for statement in schema_statements(dsql):
            if statement.startswith("ALTER TABLE"):
                column = statement.split("ADD COLUMN ", 1)[1].split()[0]
                present = await conn.fetchval(
                    "SELECT 1 FROM information_schema.columns WHERE table_schema = current_schema() "
                    "AND table_name = $1 AND column_name = $2",
                    PROFILES_TABLE,
                    column,
                )
                if present:
                    continue
            async with conn.transaction():
                await conn.execute(statement)
            done.append(statement if statement.startswith("ALTER TABLE") else statement.split("(")[0].strip())
    return done
