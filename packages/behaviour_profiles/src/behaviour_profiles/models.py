"""Data models: profiles, telemetry summaries, configuration snapshots and comparisons.

These are plain pydantic models with no I/O. The API serialises them as they are, so a field added
here is a field added to the API contract.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Any
from uuid import UUID

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    WithJsonSchema,
    field_validator,
    model_validator,
)

from behaviour_profiles.envfile import parse_env_file
from behaviour_profiles.errors import InvalidRequest
from behaviour_profiles.scope import window_problem

_IDENT_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:/@+-]*$")


def _identifier(value: str) -> str:
    if not _IDENT_RE.match(value):
        raise ValueError("may contain only letters, digits and _ . : / @ + - and must start with a letter or digit")
    return value


Identifier = Annotated[
    str,
    # the pattern is documented in the OpenAPI schema; the validator checks it with a message that says what to fix
    Field(min_length=1, max_length=200, json_schema_extra={"pattern": _IDENT_RE.pattern}),
    AfterValidator(_identifier),
]
"""A cluster, namespace or task queue name: sane length and charset, never free text."""

ProfileName = Annotated[str, Field(min_length=1, max_length=200)]


_NO_CONTROL = r"^[^\u0000-\u001f\u007f]*$"


def _no_control(value: str) -> str:
    # PostgreSQL refuses NUL in text: caught here it is a 422 naming the field, not an index failure
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in value):
        raise ValueError("must not contain control characters")
    return value


def _printable(value: str) -> str:
    _no_control(value)
    if not value.strip():
        raise ValueError("must not be blank")
    return value


FreeText = Annotated[
    ProfileName, Field(json_schema_extra={"pattern": r"^[^\u0000-\u001f\u007f]+$"}), AfterValidator(_printable)
]

# Plain text without control characters, of a bounded length (the bounds come before the validator, so that
# pydantic reports them as characters).
FilterText = Annotated[
    str, Field(max_length=200, json_schema_extra={"pattern": _NO_CONTROL}), AfterValidator(_no_control)
]
"""A list or lookup filter: matched exactly, so any text goes, but no control characters (PostgreSQL refuses NUL)."""
RequiredFilterText = Annotated[
    str, Field(min_length=1, max_length=200, json_schema_extra={"pattern": _NO_CONTROL}), AfterValidator(_no_control)
]
VersionText = Annotated[
    str, Field(max_length=100, json_schema_extra={"pattern": _NO_CONTROL}), AfterValidator(_no_control)
]

ZONE_REQUIRED = "must be an ISO-8601 instant with a time zone, e.g. 2026-02-18T10:00:00Z"
EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
"""The earliest instant a request may name: the Unix epoch (no telemetry is older)."""


def _text_instant(value: Any) -> Any:
    # pydantic would read a number (or a numeric string) as Unix-epoch seconds, and so give it a zone
    # the client never named; times are ISO-8601 text, as the docs say
    if isinstance(value, datetime):
        return value
    numeric = isinstance(value, (int, float)) and not isinstance(value, bool)
    if isinstance(value, str):
        try:
            float(value)
            numeric = True
        except ValueError:
            return value
    if numeric:
        raise ValueError(f"is a number, not a time: Unix-epoch times are not accepted; {ZONE_REQUIRED}")
    raise ValueError(f"{ZONE_REQUIRED}, as a string")


def _require_zone(value: datetime) -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(ZONE_REQUIRED)
    if value < EARLIEST:
        raise ValueError(
            "is out of range: times start at 1970-01-01T00:00:00Z (the Unix epoch; no telemetry is older); "
            "send a later instant"
        )
    return value


Instant = Annotated[datetime, BeforeValidator(_text_instant), AfterValidator(_require_zone)]
"""A point in time as ISO-8601 text with its zone, from 1970 on: a time without a zone is refused, never
guessed (UTC? the server's zone?), and so is a number (epoch seconds carry no zone either)."""


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


class ShareOf(StrEnum):
    """What a contributor's share is a share of."""

    TOTAL = "total"
    """The metric's sum (a rate, a summed gauge): the contributor's part of it."""
    SLOW_TAIL = "slow_tail"
    """A latency percentile: the observations slower than the whole's percentile at each instant."""
    WORSE_PART = "worse_part"
    """A ratio: the part that makes it worse (failed attempts, polls not matched at once, slots in use)."""
    LARGEST = "largest"
    """A maximum (the oldest backlog): the instants at which this series was the largest."""


class Contributor(BaseModel):
    """One series of a split metric: its labels as the source exported them, its own value and its share."""

    labels: dict[str, str] = Field(description="The split labels and their values, as exported (main_queue)")
    value: float | None = Field(description="The metric computed on this series alone, its mean over the window")
    share: float = Field(ge=0, le=1, description="Its share of the whole, 0..1 (see share_of)")


class Contributors(BaseModel):
    """A metric's top contributors: at most a handful of series, largest share first."""

    by: list[str] = Field(description="The labels the metric was split by")
    share_of: ShareOf
    top: list[Contributor]
    rest_share: float = Field(ge=0, le=1, description="The share of every other series together")
    series: int = Field(ge=0, description="How many series the metric was split into")


NO_SAMPLES = "no samples in window"
"""The reason of a metric without data when nothing more is known about why."""


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
    contributors: Contributors | None = Field(
        default=None,
        description="The few series carrying most of the metric (key metrics only; absent in documents made "
        "before contributors were kept)",
    )

    def statistic(self, stat: Statistic) -> float | None:
        value: float | None = getattr(self, stat.value)
        return value


class ScopeMatch(BaseModel):
    """How one scope value (a namespace or task queue as the user named it) matched one source's series."""

    dimension: str = Field(description="namespace or task_queue")
    value: str = Field(description="The name as given in the request")
    source: str = Field(description="server (with the DSQL plugin) or sdk")
    label: str = Field(description="The label it was matched on, e.g. taskqueue on the server, task_queue in SDKs")
    exported_as: str = Field(
        description="The value matched: the server's tally reporter writes main-queue as main_queue"
    )
    with_data: list[str] = Field(default_factory=list, description="Scoped metrics of this source with data")
    without_data: list[str] = Field(default_factory=list, description="Scoped metrics of this source without data")

    @property
    def matched(self) -> bool:
        return bool(self.with_data)


class Coverage(BaseModel):
    with_data: int
    asked: int
    scope: list[ScopeMatch] = Field(
        default_factory=list, description="Per scope value and source: which scoped metrics matched"
    )


class TelemetrySummary(BaseModel):
    dialect: str = Field(description="Metric naming dialect detected on the endpoint: opentelemetry or tally")
    step_seconds: int
    metrics: dict[str, MetricSummary]
    coverage: Coverage
    notes: list[str] = Field(
        default_factory=list,
        description="What the operator should know about this collection (a source that did not match the "
        "scope, where CPU would come from)",
    )


def _environment_text(value: Any) -> Any:
    """The text of an env file, as typed in the web UI, read by the one env-file parser."""
    if not isinstance(value, str):
        return value
    try:
        return parse_env_file(value)
    except InvalidRequest as exc:
        raise ValueError(exc.message) from None


EnvironmentInput = Annotated[
    dict[str, str],
    BeforeValidator(_environment_text),
    WithJsonSchema(
        {
            "anyOf": [{"type": "object", "additionalProperties": {"type": "string"}}, {"type": "string"}],
            "description": "Server environment variables: a mapping, or the text of an env file (KEY=VALUE "
            "lines; export, quotes and # comments are read as a shell reads them)",
        }
    ),
]


class ConfigInput(BaseModel):
    """Configuration supplied with a create request. Each part is optional."""

    model_config = ConfigDict(extra="forbid")

    dynamic_config: dict[str, Any] | str | None = Field(
        default=None,
        description="Temporal dynamic config: YAML text or a mapping of key -> [{value, constraints}]",
    )
    environment: EnvironmentInput | None = None
    worker_options: dict[str, Any] | None = None


class ConfigSnapshot(BaseModel):
    """The configuration of the monitored deployment. A part that is ``None`` was not collected."""

    dynamic_config: dict[str, Any] | None = None
    environment: dict[str, str] | None = None
    worker_options: dict[str, Any] | None = None
    dsql_plugin: dict[str, Any] | None = None
    sources: dict[str, str] = Field(default_factory=dict, description="Where each part came from")


class VersionSource(StrEnum):
    REQUEST = "request"
    BUILD_INFORMATION = "build_information"
    FRONTEND = "frontend"


class VersionIdentity(BaseModel):
    temporal_server_version: str | None = None
    temporal_server_git_revision: str | None = Field(
        default=None, description="The server's git revision from build_information, when read from there"
    )
    dsql_plugin_version: str | None = None
    worker_code_sha: str | None = None
    sources: dict[str, VersionSource] = Field(
        default_factory=dict, description="Where each recorded version came from, by field name"
    )


class ProfileCreate(BaseModel):
    """The body of ``POST /profiles``."""

    model_config = ConfigDict(extra="forbid")

    name: FreeText
    cluster_id: Identifier
    time_window_start: Instant
    time_window_end: Instant
    namespace: Identifier | None = None
    task_queue: Identifier | None = None
    label: FreeText | None = None
    temporal_server_version: VersionText | None = None
    dsql_plugin_version: VersionText | None = None
    worker_code_sha: VersionText | None = None
    config: ConfigInput | None = None
    preset: Annotated[str, Field(max_length=100)] | None = Field(
        default=None, description="The scale preset this deployment is meant to match (GET /presets lists them)"
    )

    @field_validator("preset")
    @classmethod
    def _known_preset(cls, value: str | None) -> str | None:
        if value is not None and value not in PRESET_NAMES:
            raise ValueError(f"unknown preset; choose one of {', '.join(PRESET_NAMES)}")
        return value

    @model_validator(mode="after")
    def _window(self) -> ProfileCreate:
        problem = window_problem(self.time_window_start, self.time_window_end)
        if problem is not None:
            raise ValueError(problem)
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
    excluded_from_baselines: bool = Field(
        default=False, description="Left out of rolling baselines (POST/DELETE /profiles/{id}/exclusion)"
    )
    excluded_at: datetime | None = None
    exclusion_reason: str | None = Field(default=None, description="Why it is left out of baselines")


class ProfileCreated(ProfileMetadata):
    """The answer to a create: the metadata, and what the operator should know about the collection."""

    notes: list[str] = Field(
        default_factory=list,
        description="The telemetry's notes (e.g. SDK workers that do not report the task queue, where CPU would "
        "come from); also kept in the profile's telemetry.notes",
    )


class BehaviourProfile(ProfileMetadata):
    """The full profile document, as stored in S3."""

    schema_version: int = 1
    versions: VersionIdentity
    config: ConfigSnapshot
    telemetry: TelemetrySummary
    preset: str | None = Field(default=None, description="The scale preset named at creation, if any")

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

    # allow_inf_nan=False: NaN is refused as "a finite number", not by a bound it cannot be compared with
    thresholds_pct: dict[ThresholdClass, Annotated[float, Field(gt=0, le=10_000, allow_inf_nan=False)]] = Field(
        default_factory=dict, description="Override the percent threshold of any class"
    )
    statistic: Statistic = Statistic.MEAN
    include_all: bool = Field(default=False, description="Include metrics within their thresholds too")
    significance_level: Annotated[float, Field(gt=0, lt=1, allow_inf_nan=False)] = Field(
        default=0.05,
        description="The false discovery rate: a change is significant when its Benjamini-Hochberg adjusted "
        "p-value (across all the comparison's tests) is below it",
    )
    load_aware: bool = Field(
        default=True,
        description="Judge cost metrics per unit of work too, and label each cost regression "
        "'explained by load' or 'worse per unit of work'",
    )
    load_threshold_pct: Annotated[float, Field(gt=0, le=10_000, allow_inf_nan=False)] = Field(
        default=20.0, description="Offered load differing by more than this percentage is said first"
    )
    trim_steady_state: bool = Field(
        default=True,
        description="Trim ramp-up and drain at the windows' edges (read from the offered load series) "
        "and judge the steady part",
    )

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
    p_value: float = Field(description="The test's own (raw) p-value")
    effect_size: float = Field(description="Rank-biserial correlation, -1..1; positive means new > old")
    significant: bool = Field(description="p_adjusted below the significance level")
    p_adjusted: float | None = Field(
        default=None,
        description="Benjamini-Hochberg adjusted p-value across the comparison's tests (null: not adjusted)",
    )
    tests: int = Field(default=1, description="How many tests the adjustment was across")


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
    change_text: str = Field(
        default="",
        description="The change in words: '+312 %', 'x5,064' (with the multiplication sign) beyond ten "
        "times, 'from none to 2.1/s', 'unchanged' or 'no data'",
    )
    load_label: LoadLabel | None = Field(
        default=None,
        description="A cost metric's regression: 'explained by load' (not worse per unit of work, so not "
        "counted) or 'worse per unit of work'",
    )
    per_unit: TelemetryDiff | None = Field(
        default=None, description="A cost metric judged per unit of work (load-aware comparison)"
    )


class LoadLabel(StrEnum):
    EXPLAINED_BY_LOAD = "explained by load"
    WORSE_PER_UNIT = "worse per unit of work"


class LoadComparison(BaseModel):
    """Offered load on both sides (the catalogue's offered-load metric, the compared statistic)."""

    metric: str
    old_value: float | None
    new_value: float | None
    change_pct: float | None
    threshold_pct: float
    differs: bool = Field(description="The load differs by more than the threshold")
    statement: str


class SteadyStateTrim(BaseModel):
    """What was cut from one side's window before judging: ramp-up at the start, drain at the end."""

    side: str = Field(description="A/B in a comparison, baseline/current in drift")
    ramp_up_seconds: float
    drain_seconds: float
    steady_start: datetime
    steady_end: datetime
    statement: str


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
    load: LoadComparison | None = Field(default=None, description="Offered load on both sides, when known")
    trims: list[SteadyStateTrim] = Field(default_factory=list, description="Ramp-up and drain trimmed")
    correlations: list[Correlation] = Field(
        default_factory=list,
        description="Config changes connected to the regressed metrics they are known to influence",
    )
    attributions: list[Attribution] = Field(
        default_factory=list,
        description="Where each regression lives: the contributors whose share or value moved most",
    )


class ContributorChange(BaseModel):
    """One contributor of a regressed metric on both sides (``None``: not among that side's top ones)."""

    labels: dict[str, str]
    old_share: float | None
    new_share: float | None
    old_value: float | None
    new_value: float | None
    share_change_points: float | None = Field(description="New share minus old share, in percentage points")
    value_change_pct: float | None = Field(description="The change of its own value, in %")


class Attribution(BaseModel):
    """Where a regression lives, from the top contributors both profiles kept for the metric."""

    metric: str
    title: str
    unit: str = Field(description="The unit of each contributor's own value (the metric's)")
    by: list[str]
    share_of: ShareOf
    contributors: list[ContributorChange] = Field(description="Moved most first, at most a handful")
    statement: str = Field(
        description="In words: 'Persistence latency p99 +80 %: 70 % of it from operation UpdateWorkflowExecution "
        "on history ...'"
    )


# --- drift correlation ------------------------------------------------------------------------


class CorrelationRelation(StrEnum):
    """How a config change relates to a regressed metric that its key is known to influence."""

    EXPECTED = "expected"
    """The change went the way known to cause this regression (e.g. a lower connection limit, higher latency)."""
    POSSIBLE = "possible"
    """The key influences the metric, but which way is not known for this change."""
    CONTRARY = "contrary"
    """The change went the way known to *improve* the metric: an unlikely cause of this regression."""


class Correlation(BaseModel):
    """``changed X from a to b`` -> ``Y regressed by n %``."""

    setting: str = Field(description="The configuration key as the catalogue names it, e.g. TEMPORAL_SQL_MAX_CONNS")
    config_keys: list[str] = Field(description="The config diff keys that carry this change (one per snapshot part)")
    change: ChangeKind
    change_direction: str = Field(description="increased, decreased, enabled, disabled, added, removed or changed")
    old_value: Any = None
    new_value: Any = None
    metric: str
    title: str
    unit: str
    severity: Severity
    old_metric_value: float | None
    new_metric_value: float | None
    change_pct: float | None
    relation: CorrelationRelation
    mechanism: str | None = Field(default=None, description="Why the relation holds, where it is known")
    statement: str


# --- drift ------------------------------------------------------------------------------------


class DriftStatus(StrEnum):
    DRIFTED = "drifted"
    NO_DRIFT = "no_drift"
    INCONCLUSIVE = "inconclusive"


class DriftRequest(CompareOptions):
    """The body of ``POST /profiles/drift``. The window defaults to the last 30 minutes."""

    cluster_id: Identifier
    namespace: Identifier | None = None
    task_queue: Identifier | None = Field(default=None, description="Defaults to the baseline's task queue")
    time_window_start: Instant | None = Field(default=None, description="Default: 30 minutes before the end")
    time_window_end: Instant | None = Field(default=None, description="Default: now")
    config: ConfigInput | None = Field(
        default=None, description="The current configuration, to diff against the baseline's and correlate"
    )
    rolling: Annotated[int, Field(ge=1, le=20)] | None = Field(
        default=None,
        description="Judge against a rolling baseline: the last N passing profiles from the designated one, pooled",
    )


class LeftOut(BaseModel):
    """A profile a rolling baseline did not pool, and why."""

    profile: ProfileMetadata
    reason: str
    verdict: Verdict | None = Field(
        default=None, description="Its verdict against the baseline in force before it (null when excluded)"
    )


class RollingBaseline(BaseModel):
    """The last ``n`` passing profiles of a cluster and namespace, from its designated baseline on."""

    cluster_id: str
    namespace: str | None
    n: int
    anchor: ProfileMetadata = Field(description="The designated baseline the chain starts from (always pooled)")
    pooled: list[ProfileMetadata] = Field(description="Oldest first")
    left_out: list[LeftOut] = Field(default_factory=list, description="Excluded, warning, failing or inconclusive")
    summary: str
    notes: list[str] = Field(default_factory=list)


class ExclusionRequest(BaseModel):
    """The body of ``POST /profiles/{id}/exclusion``: why this profile must stay out of baselines."""

    model_config = ConfigDict(extra="forbid")

    reason: Annotated[
        str,
        Field(min_length=1, max_length=500, json_schema_extra={"pattern": r"^[^\u0000-\u001f\u007f]+$"}),
        AfterValidator(_printable),
    ]


class RecordedState(StrEnum):
    """How a metric would be read over a window, as far as the shipped recording rules go."""

    RECORDED = "recorded"
    """From the recorded series of this version's rules, which cover the window."""
    OLDER_RULES = "older_rules"
    """Raw: its recorded series at the window's end come from another version's rules file only."""
    PARTIAL = "partial"
    """Raw: this version's recorded series are there at the window's end, not at its start (rules
    installed or backfilled part-way through, or the data itself begun part-way)."""
    ABSENT = "absent"
    """Raw: its raw series are there, recorded ones are not (rules not installed for this cluster)."""
    NO_DATA = "no_data"
    """Neither raw nor recorded series in the window: nothing to read."""
    NOT_RECORDED = "not_recorded"
    """The rules do not record it (platform CPU): always raw."""


class RecordedMetric(BaseModel):
    metric: str
    state: RecordedState
    reads: str = Field(description="The state in words, with what to do about it")
    series: list[str] = Field(default_factory=list, description="The recorded series it would read")


class RecordingRulesStatus(BaseModel):
    """The answer of ``GET /profiles/recording-rules``: which metrics a profile of the window would read
    from the recorded series of the shipped rules, and why the others would be read raw."""

    cluster_id: str
    namespace: str | None
    task_queue: str | None
    time_window_start: datetime
    time_window_end: datetime
    dialect: str = Field(description="The naming dialect found in the window")
    in_use: bool = Field(description="Whether the API reads recorded series at all (PROMETHEUS_RECORDING_RULES)")
    summary: str
    metrics: list[RecordedMetric]


class DriftResult(BaseModel):
    """The current window of a cluster and namespace judged against its active baseline."""

    cluster_id: str
    namespace: str | None
    task_queue: str | None
    time_window_start: datetime
    time_window_end: datetime
    baseline: ProfileMetadata
    status: DriftStatus
    drifted: bool | None = Field(description="null when the assessment is inconclusive: never read that as a pass")
    verdict: Verdict
    statistic: Statistic
    thresholds_pct: dict[ThresholdClass, float]
    deviations: list[TelemetryDiff] = Field(
        description="Metrics beyond their threshold, and those without data, by severity then size"
    )
    config_diffs: list[ConfigDiff] = Field(default_factory=list)
    correlations: list[Correlation] = Field(default_factory=list)
    coverage: Coverage
    summary: str
    explanation: str
    notes: list[str] = Field(default_factory=list)
    rolling_baseline: RollingBaseline | None = Field(
        default=None, description="With ``rolling``: which profiles were pooled and which left out"
    )
    load: LoadComparison | None = Field(default=None, description="Offered load in the baseline and now")
    trims: list[SteadyStateTrim] = Field(default_factory=list, description="Ramp-up and drain trimmed")
    attributions: list[Attribution] = Field(
        default_factory=list,
        description="Where each regression lives, for metrics whose top contributors both the baseline and the "
        "current window kept",
    )


# --- presets and conformance ------------------------------------------------------------------

PRESET_NAMES: tuple[str, ...] = ("starter", "mid-scale", "high-throughput")
"""The scale presets' names, in ascending throughput order: what a request may name. ``presets.py``
defines one preset for each, in this order, and refuses to load otherwise (it imports this module; this
module never imports it)."""


class ExpectedBound(BaseModel):
    """Expected values of one metric's statistic: half-open ranges, ``min <= value < max``.

    Outside ``[min, max)`` fails; inside it but outside ``[warn_min, warn_max)`` warns; otherwise passes.
    A side left ``None`` is unbounded.
    """

    model_config = ConfigDict(frozen=True)

    metric: str
    statistic: Statistic = Statistic.MEAN
    min: float | None = None
    warn_min: float | None = None
    warn_max: float | None = None
    max: float | None = None
    why: str = ""

    @model_validator(mode="after")
    def _ordered(self) -> ExpectedBound:
        edges = [v for v in (self.min, self.warn_min, self.warn_max, self.max) if v is not None]
        if edges != sorted(edges):
            raise ValueError(f"{self.metric}: need min <= warn_min <= warn_max <= max")
        if self.min is not None and self.warn_min is None:
            raise ValueError(f"{self.metric}: a lower bound needs its warning band (warn_min)")
        if self.max is not None and self.warn_max is None:
            raise ValueError(f"{self.metric}: an upper bound needs its warning band (warn_max)")
        return self


class PresetSetting(BaseModel):
    """A starting value a preset suggests for one configuration key."""

    model_config = ConfigDict(frozen=True)

    key: str
    part: str = Field(description="environment, dynamic_config or worker_options")
    value: Any
    why: str


class ScalePreset(BaseModel):
    """A scale preset: the throughput range it is for and the telemetry it expects."""

    model_config = ConfigDict(frozen=True)

    name: str
    title: str
    description: str
    throughput: ExpectedBound = Field(
        description="Its range over the throughput metric; ranges of different presets never overlap"
    )
    bounds: tuple[ExpectedBound, ...]
    settings: tuple[PresetSetting, ...] = ()


class BoundStatus(StrEnum):
    PASS = "pass"
    WARN = "warn"
    FAIL = "fail"
    NO_DATA = "no_data"


class ConformanceLabel(StrEnum):
    CONFORMING = "conforming"
    DRIFTED = "drifted"


class MetricConformance(BaseModel):
    metric: str
    title: str
    unit: str
    statistic: Statistic
    status: BoundStatus
    observed: float | None
    min: float | None
    warn_min: float | None
    warn_max: float | None
    max: float | None
    reason: str


class ConformanceResult(BaseModel):
    profile_id: str | None
    preset: str
    label: ConformanceLabel = Field(description="conforming only when every bound passes")
    conforming: bool
    verdict: Verdict = Field(
        description="fail: a bound failed; inconclusive: a bounded metric has no data; warn: only warnings; pass"
    )
    checks: list[MetricConformance] = Field(description="fail, no_data, warn, then pass; in preset order within each")
    failing: list[str]
    warnings: list[str]
    no_data: list[str]
    summary: str


class ConformanceRequest(BaseModel):
    """The body of ``POST /profiles/{id}/conformance``; without a preset, the one named at creation."""

    model_config = ConfigDict(extra="forbid")

    preset: Annotated[str, Field(max_length=100)] | None = None


class BoundEvidence(BaseModel):
    """What in the profile a suggestion answers: a metric, its observed value and the bound it broke."""

    metric: str
    status: BoundStatus
    observed: float | None
    unit: str
    min: float | None
    warn_min: float | None
    warn_max: float | None
    max: float | None


class ConfigSuggestion(BaseModel):
    key: str
    part: str
    current_value: Any = Field(default=None, description="The profile's value, when its snapshot has the key")
    current_known: bool = Field(
        default=True,
        description="False when the profile's snapshot lacks the key: the suggestion could not be compared "
        "with the value in force, which may already be as high",
    )
    suggested_value: Any
    why: str
    evidence: list[BoundEvidence]


class Recommendation(BaseModel):
    profile_id: str | None
    preset: str | None = Field(description="The preset whose throughput range holds the observed throughput")
    observed_throughput: float | None
    preset_reason: str
    conformance: ConformanceResult | None
    overrides: list[ConfigSuggestion]
    notes: list[str] = Field(default_factory=list)
    summary: str


# --- capacity envelope ------------------------------------------------------------------------

MAX_ENVELOPE_PROFILES = 50
"""The most profiles one envelope orders and judges."""


class EnvelopeStepStatus(StrEnum):
    """How one load step fared against the envelope's bounds."""

    HELD = "held"
    """Every bound passed."""
    WARN = "warn"
    """Inside every hard limit, but a bound is in its warning band."""
    BROKEN = "broken"
    """A bound failed."""
    INCONCLUSIVE = "inconclusive"
    """A bounded (or key) metric has no data: never read as held."""


class EnvelopeRequest(BaseModel):
    """The body of ``POST /profiles/envelope``: which profiles, and what to judge them against.

    Choose the profiles by ``profile_ids``, or by ``cluster_id`` (and ``namespace``) with a ``label``
    and/or a time range. Judge them against a scale ``preset``'s bounds, or, without one, each step
    against the lightest step with the deployment's percent thresholds (``thresholds_pct`` overrides).
    """

    model_config = ConfigDict(extra="forbid")

    profile_ids: list[Annotated[str, Field(max_length=100)]] | None = Field(
        default=None, max_length=MAX_ENVELOPE_PROFILES, description="The profiles of one cluster and namespace"
    )
    cluster_id: Identifier | None = None
    namespace: Identifier | None = None
    label: FreeText | None = None
    time_window_start: Instant | None = Field(
        default=None, description="Only profiles whose window ends at or after this instant"
    )
    time_window_end: Instant | None = Field(
        default=None, description="Only profiles whose window starts at or before this instant"
    )
    preset: Annotated[str, Field(max_length=100)] | None = Field(
        default=None, description="Judge every step against this preset's bounds (GET /presets lists them)"
    )
    thresholds_pct: dict[ThresholdClass, Annotated[float, Field(gt=0, le=10_000, allow_inf_nan=False)]] = Field(
        default_factory=dict, description="Without a preset: override the percent threshold of any class"
    )

    @model_validator(mode="after")
    def _selection(self) -> EnvelopeRequest:
        if self.profile_ids is not None:
            if self.cluster_id or self.namespace or self.label or self.time_window_start or self.time_window_end:
                raise ValueError(
                    "choose profiles either by profile_ids or by cluster_id (with namespace, label, time range), "
                    "not both"
                )
            if len(self.profile_ids) < 2:
                raise ValueError("profile_ids: an envelope needs at least 2 profiles")
            if len(set(self.profile_ids)) != len(self.profile_ids):
                raise ValueError("profile_ids: a profile is named twice")
        elif self.cluster_id is None:
            raise ValueError("name the profiles: send profile_ids, or cluster_id (with namespace, label, time range)")
        elif self.label is None and self.time_window_start is None and self.time_window_end is None:
            raise ValueError("with cluster_id, send a label or a time range (time_window_start/time_window_end)")
        if self.time_window_start and self.time_window_end and self.time_window_end <= self.time_window_start:
            raise ValueError("time_window_end must be after time_window_start")
        if self.preset is not None and self.thresholds_pct:
            raise ValueError("send a preset or thresholds_pct, not both: a preset brings its own bounds")
        return self


class EnvelopeMetric(BaseModel):
    """One charted metric: a key metric or one bounded by the preset, with its bound when there is one."""

    metric: str
    title: str
    unit: str
    statistic: Statistic
    better: Better
    bound: ExpectedBound | None = None
    threshold_pct: float | None = Field(default=None, description="Thresholds mode: the metric's percent threshold")


class EnvelopeBreach(BaseModel):
    """A bound a step did not hold: the metric, its value there and the limit it crossed."""

    metric: str
    title: str
    unit: str
    status: BoundStatus
    observed: float | None
    limit: float | None = Field(description="The hard limit crossed (preset), or the lightest step's value")
    overshoot_pct: float | None = Field(description="How far beyond the limit, in percent of it")
    reason: str


class EnvelopeStep(BaseModel):
    """One profile of the sweep, at its offered load."""

    profile_id: str
    name: str
    label: str | None
    time_window_start: datetime
    time_window_end: datetime
    offered_load: float | None = Field(description="workflows_started_per_sec, mean")
    throughput: float | None = Field(description="workflows_completed_per_sec, mean")
    status: EnvelopeStepStatus
    values: dict[str, float | None] = Field(description="Each charted metric's value (its statistic), or null")
    breaches: list[EnvelopeBreach] = Field(
        default_factory=list, description="Failing, then no-data, then warning bounds; largest overshoot first"
    )


class CapacityEnvelope(BaseModel):
    """A sweep of profiles ordered by offered load, and where it stopped holding."""

    cluster_id: str
    namespace: str | None
    mode: str = Field(description="preset (a preset's bounds) or thresholds (each step against the lightest)")
    preset: str | None
    offered_load_metric: str
    throughput_metric: str
    metrics: list[EnvelopeMetric]
    steps: list[EnvelopeStep] = Field(description="Ascending offered load")
    safe_load: float | None = Field(
        description="The highest offered load up to which every step held (warnings included): null if the "
        "lightest step did not"
    )
    safe_profile_id: str | None
    breaking_load: float | None = Field(description="The offered load of the first step after safe_load that did not")
    breaking_profile_id: str | None
    first_broken: list[EnvelopeBreach] = Field(
        default_factory=list, description="What broke at breaking_load, the first to break first"
    )
    knee_load: float | None = Field(
        description="The offered load after which throughput stopped keeping pace (null when it kept pace)"
    )
    knee_profile_id: str | None
    summary: str
    notes: list[str] = Field(default_factory=list)


ProfileComparison.model_rebuild()
TelemetryDiff.model_rebuild()
