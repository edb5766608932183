"""Data models: profiles, telemetry summaries, configuration snapshots and comparisons.

These are plain pydantic models with no I/O. The API serialises them as they are, so a field added
here is a field added to the API contract.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Annotated, Any
from uuid import UUID

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator, model_validator

MAX_WINDOW = timedelta(hours=24)
"""The longest time window a profile may cover (the seed caps it at 24 hours)."""

_IDENT_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:/@+-]*$")


def _identifier(value: str) -> str:
    if not _IDENT_RE.match(value):
        raise ValueError("may contain only letters, digits and _ . : / @ + - and must start with a letter or digit")
    return value


Identifier = Annotated[str, Field(min_length=1, max_length=200), AfterValidator(_identifier)]
"""A cluster, namespace or task queue name: sane length and charset, never free text."""

ProfileName = Annotated[str, Field(min_length=1, max_length=200)]


def _printable(value: str) -> str:
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in value):
        raise ValueError("must not contain control characters")
    if not value.strip():
        raise ValueError("must not be blank")
    return value


FreeText = Annotated[ProfileName, AfterValidator(_printable)]


class Better(StrEnum):
    """Which way a metric should move to be called an improvement."""

    HIGHER = "higher"
    LOWER = "lower"
    NEUTRAL = "neutral"


class ThresholdClass(StrEnum):
    LATENCY = "latency"
    ERROR = "error"
    THROUGHPUT = "throughput"
    CAPACITY = "capacity"


class Category(StrEnum):
    THROUGHPUT = "throughput"
    LATENCY = "latency"
    MATCHING = "matching"
    DSQL_POOL = "dsql_pool"
    ERRORS = "errors"
    RESOURCES = "resources"


class MetricStatus(StrEnum):
    OK = "ok"
    NO_DATA = "no_data"


class Statistic(StrEnum):
    MEAN = "mean"
    P50 = "p50"
    P95 = "p95"
    P99 = "p99"
    MAX = "max"


class MetricSummary(BaseModel):
    """Aggregates of one catalogue metric over the profile's window.

    ``status == "no_data"`` means Prometheus had no samples: every statistic is then null, never 0.
    """

    key: str
    status: MetricStatus
    unit: str
    min: float | None = None
    max: float | None = None
    mean: float | None = None
    p50: float | None = None
    p95: float | None = None
    p99: float | None = None
    sample_count: int = 0
    series: list[tuple[float, float]] = Field(
        default_factory=list, description="Downsampled (unix seconds, value) points"
    )
    reason: str | None = Field(default=None, description="Why there is no data, or how the value was read")

    def statistic(self, stat: Statistic) -> float | None:
        value: float | None = getattr(self, stat.value)
        return value


class Coverage(BaseModel):
    with_data: int
    asked: int


class TelemetrySummary(BaseModel):
    dialect: str = Field(description="Metric naming dialect detected on the endpoint: opentelemetry or tally")
    step_seconds: int
    metrics: dict[str, MetricSummary]
    coverage: Coverage


class ConfigInput(BaseModel):
    """Configuration supplied with a create request. Each part is optional."""

    model_config = ConfigDict(extra="forbid")

    dynamic_config: dict[str, Any] | str | None = Field(
        default=None,
        description="Temporal dynamic config: YAML text or a mapping of key -> [{value, constraints}]",
    )
    environment: dict[str, str] | None = Field(default=None, description="Server environment variables")
    worker_options: dict[str, Any] | None = None


class ConfigSnapshot(BaseModel):
    """The configuration of the monitored deployment. A part that is ``None`` was not collected."""

    dynamic_config: dict[str, Any] | None = None
    environment: dict[str, str] | None = None
    worker_options: dict[str, Any] | None = None
    dsql_plugin: dict[str, Any] | None = None
    sources: dict[str, str] = Field(default_factory=dict, description="Where each part came from")


class VersionIdentity(BaseModel):
    temporal_server_version: str | None = None
    dsql_plugin_version: str | None = None
    worker_code_sha: str | None = None


class ProfileCreate(BaseModel):
    """The body of ``POST /profiles``."""

    model_config = ConfigDict(extra="forbid")

    name: FreeText
    cluster_id: Identifier
    time_window_start: datetime
    time_window_end: datetime
    namespace: Identifier | None = None
    task_queue: Identifier | None = None
    label: FreeText | None = None
    temporal_server_version: Annotated[str, Field(max_length=100)] | None = None
    dsql_plugin_version: Annotated[str, Field(max_length=100)] | None = None
    worker_code_sha: Annotated[str, Field(max_length=100)] | None = None
    config: ConfigInput | None = None

    @field_validator("time_window_start", "time_window_end")
    @classmethod
    def _zoned(cls, value: datetime) -> datetime:
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError("must be an ISO-8601 instant with a time zone, e.g. 2026-02-18T10:00:00Z")
        return value

    @model_validator(mode="after")
    def _window(self) -> ProfileCreate:
        if self.time_window_end <= self.time_window_start:
            raise ValueError("time_window_end must be after time_window_start")
        if self.time_window_end - self.time_window_start > MAX_WINDOW:
            raise ValueError("the time window is longer than 24 hours; choose a window of at most 24 hours")
        return self


class ProfileMetadata(BaseModel):
    """What the index knows about a profile: enough to list, filter and designate baselines."""

    id: UUID
    name: str
    label: str | None
    cluster_id: str
    namespace: str | None
    task_queue: str | None
    time_window_start: datetime
    time_window_end: datetime
    created_at: datetime
    is_baseline: bool = False
    temporal_server_version: str | None = None
    dsql_plugin_version: str | None = None
    worker_code_sha: str | None = None
    coverage_with_data: int = 0
    coverage_asked: int = 0


class BehaviourProfile(ProfileMetadata):
    """The full profile document, as stored in S3."""

    schema_version: int = 1
    versions: VersionIdentity
    config: ConfigSnapshot
    telemetry: TelemetrySummary

    def metadata(self) -> ProfileMetadata:
        return ProfileMetadata.model_validate(self.model_dump(include=set(ProfileMetadata.model_fields)))


# --- comparison -------------------------------------------------------------------------------


class Direction(StrEnum):
    IMPROVED = "improved"
    REGRESSED = "regressed"
    CHANGED = "changed"
    UNCHANGED = "unchanged"
    NO_DATA = "no_data"


class Severity(StrEnum):
    INFO = "info"
    WARNING = "warning"
    CRITICAL = "critical"


class Verdict(StrEnum):
    PASS = "pass"
    WARN = "warn"
    FAIL = "fail"
    INCONCLUSIVE = "inconclusive"


class ChangeKind(StrEnum):
    ADDED = "added"
    REMOVED = "removed"
    CHANGED = "changed"


DEFAULT_THRESHOLDS_PCT: dict[ThresholdClass, float] = {
    ThresholdClass.LATENCY: 20.0,
    ThresholdClass.ERROR: 50.0,
    ThresholdClass.THROUGHPUT: 20.0,
    ThresholdClass.CAPACITY: 20.0,
}


class CompareOptions(BaseModel):
    """How to judge a comparison. Every field has the seed's default."""

    model_config = ConfigDict(extra="forbid")

    thresholds_pct: dict[ThresholdClass, Annotated[float, Field(gt=0, le=10_000)]] = Field(
        default_factory=dict, description="Override the percent threshold of any class"
    )
    statistic: Statistic = Statistic.MEAN
    include_all: bool = Field(default=False, description="Include metrics within their thresholds too")
    significance_level: Annotated[float, Field(gt=0, lt=1)] = 0.05

    def threshold_for(self, cls: ThresholdClass) -> float:
        return self.thresholds_pct.get(cls, DEFAULT_THRESHOLDS_PCT[cls])


class CompareRequest(CompareOptions):
    """The body of ``POST /profiles/compare``."""

    profile_a_id: str
    profile_b_id: str


class Evidence(BaseModel):
    test: str = "mann_whitney_u"
    n_old: int
    n_new: int
    u_statistic: float
    p_value: float
    effect_size: float = Field(description="Rank-biserial correlation, -1..1; positive means new > old")
    significant: bool


class StatsView(BaseModel):
    min: float | None
    max: float | None
    mean: float | None
    p50: float | None
    p95: float | None
    p99: float | None
    sample_count: int


class TelemetryDiff(BaseModel):
    metric: str
    title: str
    category: Category
    unit: str
    better: Better
    threshold_class: ThresholdClass
    statistic: Statistic
    direction: Direction
    severity: Severity
    old_value: float | None
    new_value: float | None
    change_pct: float | None
    threshold_pct: float
    beyond_threshold: bool
    counts_toward_verdict: bool
    key_metric: bool = Field(
        default=False, description="A key metric (catalogue) lacking data makes the verdict inconclusive"
    )
    old: StatsView | None
    new: StatsView | None
    evidence: Evidence | None
    reason: str


class ConfigDiff(BaseModel):
    key: str
    part: str
    change: ChangeKind
    old_value: Any = None
    new_value: Any = None
    classification: str | None = None


class VersionDiff(BaseModel):
    component: str
    old_version: str | None
    new_version: str | None


class ProfileComparison(BaseModel):
    profile_a_id: str
    profile_b_id: str
    statistic: Statistic
    thresholds_pct: dict[ThresholdClass, float]
    config_diffs: list[ConfigDiff]
    telemetry_diffs: list[TelemetryDiff]
    version_diffs: list[VersionDiff]
    verdict: Verdict
    summary: str
    notes: list[str] = Field(default_factory=list)
