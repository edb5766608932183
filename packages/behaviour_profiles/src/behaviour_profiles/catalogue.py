"""The fixed metric list, as data.

Every consumer (collection, comparison, drift, correlation, conformance, UI) reads a metric's meaning
from its entry here and never guesses it from its name. Metric names are the real ones Temporal, its
SDKs and the DSQL persistence plugin export (see ``docs/metrics.md``), in both of the server's naming
dialects:

* ``opentelemetry``: counters end in ``_total``, timers are ``<name>_milliseconds_bucket`` in ms,
  dimensionless histograms are ``<name>_ratio_*``;
* ``tally`` (the server's default reporter): counters have no suffix, timers are ``<name>_bucket``
  in **seconds**.

DSQL plugin counters end in ``_total`` in both dialects; SDK metrics (``temporal_*``) are the same in
both since they come from the worker, not the server.

Label VALUES differ too: the tally reporter rewrites every character outside ``[A-Za-z0-9_]`` to ``_``
(task queue ``main-queue`` is exported as ``taskqueue="main_queue"``), while SDK workers export names
verbatim. Each :class:`Term` says which :class:`Source` exports it, and :func:`exported_value` gives the
value a scope must be matched against in that source.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass, replace
from enum import Enum, StrEnum
from typing import Any

from behaviour_profiles.models import Better, Category, ThresholdClass


class Dialect(StrEnum):
    OPENTELEMETRY = "opentelemetry"
    TALLY = "tally"


@dataclass(frozen=True)
class Name:
    """A metric name in each dialect, and the factor that turns its values into the catalogue unit."""

    otel: str
    tally: str
    tally_scale: float = 1.0

    def for_dialect(self, dialect: Dialect) -> str:
        return self.otel if dialect is Dialect.OPENTELEMETRY else self.tally

    def scale(self, dialect: Dialect) -> float:
        return 1.0 if dialect is Dialect.OPENTELEMETRY else self.tally_scale


def server_counter(base: str) -> Name:
    return Name(f"{base}_total", base)


def server_timer_buckets(base: str) -> Name:
    # tally timers are seconds; the catalogue reports milliseconds in both dialects
    return Name(f"{base}_milliseconds_bucket", f"{base}_bucket", tally_scale=1000.0)


def same(name: str) -> Name:
    """DSQL plugin counters, gauges and SDK metrics read the same in both dialects."""
    return Name(name, name)


class Source(StrEnum):
    """Who exports a series, which decides how its label values are written."""

    SERVER = "server"
    """The Temporal server (its tally reporter rewrites label values)."""
    PLUGIN = "plugin"
    """The DSQL persistence plugin, reporting through the server's metrics handler (rewritten like it)."""
    SDK = "sdk"
    """An SDK worker (label values verbatim)."""
    PLATFORM = "platform"
    """The platform the services run on: cAdvisor/kubelet, the ECS agent through ADOT."""


_TALLY_UNSAFE = re.compile(r"[^A-Za-z0-9_]")


def tally_value(value: str) -> str:
    """A label value as the tally reporter exports it: every character outside ``[A-Za-z0-9_]`` -> ``_``."""
    return _TALLY_UNSAFE.sub("_", value)


def exported_value(value: str, source: Source, dialect: Dialect) -> str:
    """The label value ``value`` as ``source`` exports it in ``dialect`` (rewritten by tally only)."""
    if dialect is Dialect.TALLY and source in (Source.SERVER, Source.PLUGIN):
        return tally_value(value)
    return value


def version_from_tally(value: str) -> str:
    """A version read back from a tally label: ``1_32_0`` -> ``1.32.0``, ``1_32_0_rc1`` -> ``1.32.0-rc1``.

    Anything that does not start with three numeric parts is returned unchanged.
    """
    match = re.fullmatch(r"v?(\d+)_(\d+)_(\d+)(?:_(.+))?", value)
    if match is None:
        return value
    major, minor, patch, rest = match.groups()
    return f"{major}.{minor}.{patch}" + (f"-{rest}" if rest else "")


Scopes = tuple[tuple[str, str], ...]
"""(profile dimension, label) pairs: which of the profile's scope a metric's labels can carry."""

SERVER_SCOPES: Scopes = (("namespace", "namespace"), ("task_queue", "taskqueue"))
"""Server metrics that carry both; the server's task queue label is ``taskqueue``."""
SDK_SCOPES: Scopes = (("namespace", "namespace"), ("task_queue", "task_queue"))
NAMESPACE_ONLY: Scopes = (("namespace", "namespace"),)
UNSCOPED: Scopes = ()

Matchers = tuple[tuple[str, str, str], ...]
"""Extra label matchers: (label, operator, value), e.g. ("task_type", "=", "Workflow")."""


@dataclass(frozen=True)
class Term:
    """One selector: a metric name with fixed matchers and the profile dimensions it can be scoped by."""

    name: Name
    matchers: Matchers = ()
    scopes: Scopes = ()
    source: Source = Source.SERVER


# --- the series queries sent to Prometheus -----------------------------------------------------


@dataclass(frozen=True)
class RateSum:
    """``sum(rate(...))`` of one or more counters; absent terms add nothing. ``by``: keep these labels
    apart (one series per group; one term only). ``split``: see :data:`Split`."""

    terms: tuple[Term, ...]
    by: tuple[str, ...] = ()
    split: tuple[str, ...] = ()


@dataclass(frozen=True)
class GaugeAgg:
    """``sum(...)`` or ``max(...)`` of one or more gauges; ``by``: keep these labels apart (one series
    per group)."""

    terms: tuple[Term, ...]
    agg: str = "sum"
    by: tuple[str, ...] = ()
    split: tuple[str, ...] = ()


@dataclass(frozen=True)
class BucketRates:
    """``sum by (le) (rate(<histogram>_bucket[...]))``: one query serves every percentile."""

    term: Term
    split: tuple[str, ...] = ()


Split = tuple[str, ...]
"""The labels a series query is also grouped by, only to name the metric's top contributors
(:mod:`behaviour_profiles.attribution`): the metric itself is computed on the sum over them, so its value
is the same as without. Empty: the query is not split.

The labels that are the query's scope labels (namespace, task queue) are levels, coarsest first: a profile
splits by the first level its scope leaves open and not below it (:func:`split_labels`), e.g. a
whole-cluster profile by namespace, a namespace's by task queue. Other labels (operation, service) are
always split by."""


SeriesQuery = RateSum | GaugeAgg | BucketRates


def fetched_labels(query: SeriesQuery) -> tuple[str, ...]:
    """The labels a query's answer is grouped by, ``le`` aside: its ``by`` labels, then its split labels."""
    by = () if isinstance(query, BucketRates) else query.by
    return tuple(dict.fromkeys((*by, *query.split)))


def level_labels(query: SeriesQuery) -> frozenset[str]:
    """The labels of a query that are scope levels (namespace, task queue): a profile splits by some of
    them, depending on its scope (:func:`split_labels`); by its other split labels always."""
    return frozenset(label for term in _terms(query) for _, label in term.scopes)


def split_labels(query: SeriesQuery, fixed: Collection[str]) -> tuple[str, ...]:
    """The split labels a query is grouped by in a scope that fixes the dimensions ``fixed`` (see
    :data:`Split`): every label that is not a scope level, every level the scope fixes (one value: it
    costs nothing and names the contributor fully), and the first level it leaves open."""
    levels = {label: dimension for term in _terms(query) for dimension, label in term.scopes}
    out: list[str] = []
    opened = False
    for label in query.split:
        dimension = levels.get(label)
        if dimension is not None and dimension not in fixed:
            if opened:
                continue
            opened = True
        out.append(label)
    return tuple(out)


def grouped_labels(query: SeriesQuery, fixed: Collection[str]) -> tuple[str, ...]:
    """The labels a query is grouped by in a scope that fixes the dimensions ``fixed``, ``le`` aside: its
    ``by`` labels, then :func:`split_labels` (a subset of :func:`fetched_labels`, in the same order)."""
    by = () if isinstance(query, BucketRates) else query.by
    return tuple(dict.fromkeys((*by, *split_labels(query, fixed))))


# --- how a metric is computed from series queries ---------------------------------------------


@dataclass(frozen=True)
class Direct:
    query: RateSum | GaugeAgg


@dataclass(frozen=True)
class Ratio:
    """Pointwise ratio. ``form``: ``part/whole`` (capped at 1), ``1-part/whole``, ``a/(a+b)`` or ``a/b``
    (uncapped).

    When both queries are grouped (``by``) the ratio is taken per group and the metric is the series of
    the group that is worst over the window: the highest mean (``worst="max"``, e.g. the most saturated
    slot type) or the lowest (``worst="min"``, e.g. the task type matched least often); ``where`` keeps
    only the groups with those label values.
    """

    numerator: RateSum | GaugeAgg
    denominator: RateSum | GaugeAgg
    form: str = "part/whole"
    where: tuple[tuple[str, str], ...] = ()
    worst: str = "max"


@dataclass(frozen=True)
class Quantile:
    buckets: BucketRates
    q: float


@dataclass(frozen=True)
class Unavailable:
    reason: str


@dataclass(frozen=True)
class PlatformCpu:
    """CPU of one Temporal service, read from whichever platform exports it (:data:`CPU_PLATFORMS`).

    Temporal exports no CPU metric; the collector detects the platform in the window (or is told it)
    and turns this into that platform's query. With no platform the metric is left out of the profile
    and one note says where CPU would come from.
    """

    service: str


Computation = Direct | Ratio | Quantile | Unavailable | PlatformCpu


class Raising(StrEnum):
    """What raising a setting does to a metric."""

    WORSENS = "worsens"
    IMPROVES = "improves"


@dataclass(frozen=True, kw_only=True)
class Influence:
    """A setting that influences a metric and, where it is known, what raising it does to it and why."""

    setting: str
    raising: Raising | None = None
    """Raising the setting worsens or improves the metric; None: it influences it in a way not known here."""
    mechanism: str | None = None
    """Why, in words (with a known direction only)."""

    def __post_init__(self) -> None:
        if (self.raising is None) != (self.mechanism is None):
            raise ValueError(f"{self.setting}: a known direction comes with its mechanism, and only then")


@dataclass(frozen=True)
class Effect:
    """A known effect of raising settings on metrics, and why: declared on each metric it applies to."""

    raising: Raising
    mechanism: str

    def of(self, *settings: str) -> tuple[Influence, ...]:
        """This effect of each of ``settings``."""
        return tuple(Influence(setting=s, raising=self.raising, mechanism=self.mechanism) for s in settings)


def influences(*declared: tuple[Influence, ...] | tuple[str, ...]) -> tuple[Influence, ...]:
    """Known effects (:meth:`Effect.of`) and bare setting names (direction not known), in order, each setting
    once: a bare name adds nothing to a setting already declared; a setting with two known effects on one
    metric is refused."""
    out: dict[str, Influence] = {}
    for group in declared:
        for item in group:
            if isinstance(item, str):
                out.setdefault(item, Influence(setting=item))
            elif item.setting in out and out[item.setting].raising is not None:
                raise ValueError(f"the effect of {item.setting} is declared twice")
            else:
                out[item.setting] = item
    return tuple(out.values())


@dataclass(frozen=True, kw_only=True)
class Remedy:
    """Which of a metric's influencing settings a preset's values address when the metric is outside a
    preset's bound (conformance recommendations), and how."""

    settings: tuple[str, ...]
    """In the order they are suggested."""
    why: str
    raise_only: bool = True
    """Suggest the preset's value only where the profile's value is lower (or unknown)."""
    worker_type: str | None = None
    """The worker type the metric belongs to (``workflow``, ``activity``); None: any type's symptom, so a
    recommendation addresses the saturated type's options only."""


@dataclass(frozen=True)
class PerUnit:
    """The unit of work a cost metric is divided by: ``metric``'s value / ``scale``."""

    metric: str
    scale: float
    words: str
    """How the unit reads after a value: ``per 1,000 state transitions``."""


PER_1000_TRANSITIONS = PerUnit("state_transitions_per_sec", 1000.0, "per 1,000 state transitions")
"""Work done: a cost metric's rate (or level) for each 1,000 state transitions per second."""

WAITING_METRIC = "backlog_count"
"""Tasks waiting in the backlog: where they wait while a metric that needs a task taken (``taken``) has
no samples, no worker took any."""

PER_1000_STARTS = PerUnit("workflows_started_per_sec", 1000.0, "per 1,000 workflows started")
"""Work offered: for a cost that makes state transitions of its own (a failed workflow task is retried, and
each attempt transitions), so that transitions would hide it."""


@dataclass(frozen=True, kw_only=True)
class MetricSpec:
    key: str
    category: Category
    title: str
    unit: str
    better: Better
    threshold_class: ThresholdClass
    noise_floor: float
    computation: Computation
    influences: tuple[Influence, ...] = ()
    """The settings that influence this metric, each once (build it with :func:`influences`): the one
    declaration correlation, drift and conformance recommendations read."""
    remedy: Remedy | None = None
    """Which of those settings a preset's values address when the metric is outside a preset's bound."""
    family: str | None = None
    """Metrics exported together by one component (e.g. the DSQL plugin's transaction counters)."""
    absent_is_zero: bool = False
    """A counter that is absent while another metric of its family has samples never happened: 0."""
    key_metric: bool = False
    """A key metric lacking data makes a comparison inconclusive."""
    description: str = ""
    floor_points: float | None = None
    """Ratio metrics: a change of fewer percentage points than this is noise, whatever its percentage."""
    warning_level: float | None = None
    """In the metric's unit: a regression from none to at least this is a warning (below it: info); an
    untested regression, or a capacity metric's, that ends below it is info too (docs/comparison.md)."""
    critical_level: float | None = None
    """In the metric's unit: a regression from none to at least this is critical."""
    per_unit: PerUnit | None = None
    """A cost metric: it rises with work by design, so it is also judged per this unit of work."""
    named_queues_only: bool = False
    """The server emits it only for the task queues it names in its metrics (see
    :mod:`behaviour_profiles.breakdown`): nothing for those it leaves unnamed."""
    taken: bool = False
    """Observed only when a worker takes a task (schedule-to-start, poll matches, activity outcomes): with no
    task taken it has no samples, however many wait."""
    accumulates: bool = False
    """A backlog: it piles up while demand outpaces what the workers take, so one that rises through the
    new window (a significant rising trend) counts as a regression even below its warning level; the
    level would only be crossed later."""
    offered_load: bool = False
    """The metric that measures offered load (one in the catalogue): load-aware comparison and steady
    state detection read it."""

    def __post_init__(self) -> None:
        settings = [i.setting for i in self.influences]
        if len(settings) != len(set(settings)):
            raise ValueError(f"{self.key}: a setting is declared twice among its influences")
        if self.remedy is not None and not set(self.remedy.settings) <= set(settings):
            unknown = sorted(set(self.remedy.settings) - set(settings))
            raise ValueError(f"{self.key}: its remedy names settings that do not influence it: {unknown}")

    @property
    def influenced_by(self) -> tuple[str, ...]:
        """The names of the settings that influence this metric."""
        return tuple(i.setting for i in self.influences)

    @property
    def effects(self) -> tuple[Influence, ...]:
        """The influences whose direction is known."""
        return tuple(i for i in self.influences if i.raising is not None)


# --- shared terms and queries ------------------------------------------------------------------

# the labels a key metric's contributors are told apart by (see Split)
_BY_QUEUE: Split = ("namespace", "taskqueue")
_BY_SDK_QUEUE: Split = ("task_queue",)
_BY_NAMESPACE: Split = ("namespace",)
_BY_PERSISTENCE_OP: Split = ("operation", "service_name")
_BY_PLUGIN_OP: Split = ("operation",)
_BY_NAMESPACE_OP: Split = ("namespace", "operation")
_BY_THROTTLE: Split = ("namespace", "operation", "resource_exhausted_cause")
_BY_WORKFLOW_TASK_FAILURE: Split = ("namespace", "failure")
# history writes an activity's type on each of its attempts' series (activityType), and how an attempt ended
# in operation (RespondActivityTaskFailed, TimerActiveTaskActivityTimeout) and, for a timeout, timeout_type
# (StartToClose, ScheduleToStart, Heartbeat): which activity fails, and whether it fails or hangs
_BY_ACTIVITY: Split = ("namespace", "taskqueue", "activityType")
ACTIVITY_TIMEOUT_OPERATION = "TimerActiveTaskActivityTimeout"
"""The ``operation`` history counts an activity attempt's timeout under (``activity_task_timeout``)."""
ACTIVITY_FAILURES = "activity_failures_per_sec"
"""The metric whose contributors tell failed activity attempts from timed-out ones, and of what type."""
ANSWERED_ONLY = "activity_execution_latency_p95"
"""History's execution latency: only attempts a worker answered in time are in it, never a hung one."""
HUNG_TIMEOUT_TYPES = frozenset({"StartToClose", "Heartbeat"})
"""The ``timeout_type`` of an attempt that a worker took and did not answer in time: it hung, holding its
slot (a schedule-to-start timeout is a task nobody took)."""
_BY_ACTIVITY_OUTCOME: Split = (*_BY_ACTIVITY, "operation", "timeout_type")
_START_OPS = "StartWorkflowExecution|SignalWithStartWorkflowExecution"
_STARTS = RateSum(
    (
        Term(
            server_counter("service_requests"),
            (("service_name", "=", "frontend"), ("operation", "=~", _START_OPS)),
            NAMESPACE_ONLY,
        ),
    ),
    split=_BY_NAMESPACE,
)
_CLOSE_COUNTERS = (
    "workflow_success",
    "workflow_failed",
    "workflow_timeout",
    "workflow_terminate",
    "workflow_cancel",
    "workflow_continued_as_new",
)
_CLOSES = RateSum(tuple(Term(server_counter(base), (), SERVER_SCOPES) for base in _CLOSE_COUNTERS), split=_BY_QUEUE)
_CLOSES_IN_NAMESPACE = RateSum(
    tuple(Term(server_counter(base), (), NAMESPACE_ONLY) for base in _CLOSE_COUNTERS), split=_BY_NAMESPACE
)
"""Closes over the scope starts are counted in: start requests carry no task queue, so a ratio of the two
reads both namespace-wide (a task queue's closes over all of its namespace's starts would be too low)."""
_STATE_TRANSITIONS = RateSum(
    (Term(Name("state_transition_count_ratio_count", "state_transition_count_count"), (), NAMESPACE_ONLY),),
    split=_BY_NAMESPACE,
)


def _schedule_to_start(task_type: str) -> BucketRates:
    return BucketRates(
        Term(
            server_timer_buckets("task_schedule_to_start_latency"),
            (("task_type", "=", task_type),),
            SERVER_SCOPES,
        ),
        split=_BY_QUEUE,
    )


_WF_S2S = _schedule_to_start("Workflow")
_ACT_S2S = _schedule_to_start("Activity")
_PERSISTENCE = BucketRates(
    Term(server_timer_buckets("persistence_latency"), (), NAMESPACE_ONLY), split=_BY_PERSISTENCE_OP
)
_DISPATCH = BucketRates(Term(server_timer_buckets("task_dispatch_latency"), (), SERVER_SCOPES))
# per task type: a workflow-task stream that still matches sync must not hide an activity backlog
_POLL_SYNC = RateSum(
    (Term(server_counter("poll_success_sync"), (), SERVER_SCOPES),), by=("task_type",), split=_BY_QUEUE
)
_POLL_ALL = RateSum((Term(server_counter("poll_success"), (), SERVER_SCOPES),), by=("task_type",), split=_BY_QUEUE)
_SLOT_GROUPS = ("worker_type", "task_queue")
_SLOTS_USED = GaugeAgg(
    (Term(same("temporal_worker_task_slots_used"), (), SDK_SCOPES, Source.SDK),), by=_SLOT_GROUPS, split=_BY_SDK_QUEUE
)
_SLOTS_FREE = GaugeAgg(
    (Term(same("temporal_worker_task_slots_available"), (), SDK_SCOPES, Source.SDK),),
    by=_SLOT_GROUPS,
    split=_BY_SDK_QUEUE,
)
WORKER_TYPES: Mapping[str, str] = {
    "workflow": "WorkflowWorker",
    "activity": "ActivityWorker",
    "local_activity": "LocalActivityWorker",
}
"""Catalogue suffix -> the SDK's ``worker_type`` label value (``NexusWorker`` is left out)."""

_ACTIVITY_FAILED = (
    Term(server_counter("activity_task_fail"), (), SERVER_SCOPES),
    Term(server_counter("activity_task_timeout"), (), SERVER_SCOPES),
)
_ACTIVITY_FAILURES = RateSum(_ACTIVITY_FAILED, split=_BY_ACTIVITY_OUTCOME)
_ACTIVITY_FAILURE_SHARE = Ratio(
    RateSum(_ACTIVITY_FAILED, split=_BY_ACTIVITY),
    RateSum((Term(server_counter("activity_success"), (), SERVER_SCOPES), *_ACTIVITY_FAILED), split=_BY_ACTIVITY),
    "part/whole",
)
_WORKFLOW_FAILURES = RateSum(
    (
        Term(server_counter("workflow_failed"), (), SERVER_SCOPES),
        Term(server_counter("workflow_timeout"), (), SERVER_SCOPES),
    ),
    split=_BY_QUEUE,
)


def _namespace_rates(base: str, split: Split, matchers: Matchers = ()) -> RateSum:
    """The rate of one server counter whose series carry a namespace and no task queue."""
    return RateSum((Term(server_counter(base), matchers, NAMESPACE_ONLY),), split=split)


_SERVICE_ERRORS = _namespace_rates("service_errors", _BY_NAMESPACE_OP)
# persistence requests a service's QPS limit refused (history's, mostly: it retries them), by operation;
# on a real 1.32 server they are in persistence_error_with_type only (tally writes the type with "_",
# OpenTelemetry keeps the Go package's ".")
_PERSISTENCE_THROTTLED = _namespace_rates(
    "persistence_error_with_type", _BY_PERSISTENCE_OP, (("error_type", "=~", "serviceerror[._]ResourceExhausted"),)
)
# requests refused with ResourceExhausted (a rate, concurrency or persistence limit): each service counts
# them here, by cause and scope, and not in service_errors (seen on a real 1.32 server)
_THROTTLED = _namespace_rates("service_errors_resource_exhausted", _BY_THROTTLE)
# workflow tasks a worker failed, by cause (label failure: WorkflowWorkerUnhandledFailure for workflow code
# that raised, NonDeterministicError, ...), and those a worker took and never answered (history's workflow
# task timeout timer). On a real 1.32 server a workflow whose code keeps raising reports its first failure
# and then times out at each retry: the SDK does not report the same failure again.
_WORKFLOW_TASK_FAILURES = _namespace_rates("failed_workflow_tasks", _BY_WORKFLOW_TASK_FAILURE)
_WORKFLOW_TASK_TIMEOUTS = _namespace_rates(
    "start_to_close_timeout", _BY_NAMESPACE, (("operation", "=", "TimerActiveTaskWorkflowTaskTimeout"),)
)
_START_LATENCY = BucketRates(
    Term(
        server_timer_buckets("service_latency"),
        (("service_name", "=", "frontend"), ("operation", "=", "StartWorkflowExecution")),
        NAMESPACE_ONLY,
    )
)
# every activity attempt, from its start on a worker to its completion or failure, as history
# records it when the worker answers (timed-out attempts are not in it: the worker never answered)
_ACTIVITY_EXECUTION = BucketRates(
    Term(server_timer_buckets("activity_start_to_close_latency"), (), SERVER_SCOPES), split=_BY_ACTIVITY
)
_SHARD_LOCK = BucketRates(Term(server_timer_buckets("lock_latency"), (("operation", "=", "ShardInfo"),)))


@dataclass(frozen=True)
class CpuPlatform:
    """Where a deployment's CPU comes from: the metric whose presence detects it, and its query."""

    name: str
    probe: str
    description: str

    def query(self, service: str) -> RateSum | GaugeAgg:
        if self.name == "cadvisor":
            return RateSum((Term(same(self.probe), (("container", "=~", f".*{service}.*"),), (), Source.PLATFORM),))
        # ADOT's ECS container metrics: vCPUs in use, already in cores
        return GaugeAgg((Term(same(self.probe), (("container_name", "=~", f".*{service}.*"),), (), Source.PLATFORM),))


CPU_PLATFORMS: Mapping[str, CpuPlatform] = {
    "cadvisor": CpuPlatform(
        "cadvisor",
        "container_cpu_usage_seconds_total",
        "cAdvisor/kubelet container CPU (container_cpu_usage_seconds_total, containers named after the service)",
    ),
    "ecs": CpuPlatform(
        "ecs",
        "container_cpu_usage_vcpu",
        "ECS container CPU through the ADOT collector's awsecscontainermetrics receiver "
        "(container.cpu.usage.vcpu, vCPUs in use, containers named after the service)",
    ),
}
"""Detected in this order when the deployment does not say which one it has."""

CPU_OFF = (
    "CPU: not read (COPILOT_CPU_SOURCE is none). Temporal exports no CPU metric; set COPILOT_CPU_SOURCE to "
    "auto, cadvisor or ecs to read CPU per service from the platform."
)

CPU_EXPLANATION = (
    "CPU: Temporal exports no CPU metric, and no platform CPU series was found in the window. "
    "CPU per service comes from the platform: cAdvisor/kubelet (container_cpu_usage_seconds_total) on "
    "Kubernetes, or the ADOT collector's ECS container metrics (container_cpu_usage_vcpu) on ECS; scrape one "
    "of them into this Prometheus (or set COPILOT_CPU_SOURCE) and profiles carry cpu_utilization.<service>."
)


def _gauge(name: str, agg: str = "sum", scopes: Scopes = UNSCOPED, split: Split = ()) -> Direct:
    return Direct(GaugeAgg((Term(same(name), (), scopes),), agg, split=split))


def _rate(*terms: Term) -> Direct:
    return Direct(RateSum(terms))


POOL_KEYS = ("TEMPORAL_SQL_MAX_CONNS", "TEMPORAL_SQL_MAX_IDLE_CONNS", "TEMPORAL_SQL_MAX_CONN_LIFETIME")
RESERVOIR_KEYS = (
    "DSQL_RESERVOIR_ENABLED",
    "DSQL_RESERVOIR_TARGET_READY",
    "DSQL_RESERVOIR_BASE_LIFETIME",
    "DSQL_RESERVOIR_LIFETIME_JITTER",
    "DSQL_RESERVOIR_INFLIGHT_LIMIT",
    "DSQL_CONNECTION_RATE_LIMIT",
    "DSQL_CONNECTION_BURST_LIMIT",
)
MATCHING_KEYS = (
    "matching.numTaskqueueReadPartitions",
    "matching.numTaskqueueWritePartitions",
    "matching.getTasksBatchSize",
    "matching.maxTaskBatchSize",
    "matching.longPollExpirationInterval",
    "matching.persistenceMaxQPS",
)
PERSISTENCE_KEYS = (
    "history.persistenceMaxQPS",
    "frontend.persistenceMaxQPS",
    "matching.persistenceMaxQPS",
    "TEMPORAL_SQL_MAX_CONNS",
    "DSQL_CONNECTION_RATE_LIMIT",
)
WORKER_KEYS = (
    "MaxConcurrentActivityExecutionSize",
    "MaxConcurrentWorkflowTaskExecutionSize",
    "MaxConcurrentLocalActivityExecutionSize",
    "MaxConcurrentWorkflowTaskPollers",
    "MaxConcurrentActivityTaskPollers",
)

_SERVICES = ("history", "matching", "frontend", "worker")
SLOT_SIZE_KEYS: Mapping[str, str] = {
    "workflow": "MaxConcurrentWorkflowTaskExecutionSize",
    "activity": "MaxConcurrentActivityExecutionSize",
    "local_activity": "MaxConcurrentLocalActivityExecutionSize",
}
"""Worker type (catalogue suffix) -> the worker option that sizes its task slots (Go SDK names)."""
POLLER_KEYS: Mapping[str, str] = {
    "workflow": "MaxConcurrentWorkflowTaskPollers",
    "activity": "MaxConcurrentActivityTaskPollers",
}
"""Worker type -> the worker option that sets its pollers."""
_SLOT_KEYS: Mapping[str, tuple[str, ...]] = {
    suffix: (size, *((POLLER_KEYS[suffix],) if suffix in POLLER_KEYS else ()))
    for suffix, size in SLOT_SIZE_KEYS.items()
}
WORKER_KEY_TYPES: Mapping[str, str] = {key: suffix for suffix, keys in _SLOT_KEYS.items() for key in keys}
"""A worker option that sizes one worker type's slots or pollers -> that type (catalogue suffix)."""


# --- what raising a setting does to a metric ---------------------------------------------------
# Each known effect once, by what it does; each metric's entry below declares which settings
# influence it (:attr:`MetricSpec.influences`), with these effects where the direction is known.

_CONNECTION_LIMITS = ("TEMPORAL_SQL_MAX_CONNS", "DSQL_CONNECTION_RATE_LIMIT")
_PERSISTENCE_QPS_LIMITS = ("history.persistenceMaxQPS", "frontend.persistenceMaxQPS", "matching.persistenceMaxQPS")
_TRANSACTION_LIMITS = ("TEMPORAL_SQL_MAX_CONNS", "history.persistenceMaxQPS")
_REQUEST_LIMITS = (
    "frontend.namespaceRPS",
    "frontend.globalNamespaceRPS",
    "frontend.namespaceBurstRatio",
    "frontend.rps",
    "frontend.namespaceCount",
    *_PERSISTENCE_QPS_LIMITS,
)
_POLLERS = ("MaxConcurrentWorkflowTaskPollers", "MaxConcurrentActivityTaskPollers")
_RESERVOIR_FILL = (
    "DSQL_RESERVOIR_TARGET_READY",
    "DSQL_RESERVOIR_INFLIGHT_LIMIT",
    "DSQL_CONNECTION_RATE_LIMIT",
    "DSQL_CONNECTION_BURST_LIMIT",
)
_MATCH_SPREAD = (
    "matching.numTaskqueueReadPartitions",
    "matching.numTaskqueueWritePartitions",
    "MaxConcurrentWorkflowTaskPollers",
    "MaxConcurrentActivityTaskPollers",
)
_SLOT_SIZES = (
    "MaxConcurrentActivityExecutionSize",
    "MaxConcurrentWorkflowTaskExecutionSize",
    "MaxConcurrentLocalActivityExecutionSize",
)

_QUEUES_FOR_A_CONNECTION = Effect(
    Raising.IMPROVES,
    "persistence requests queue for a connection when the pool is full or new connections are rate "
    "limited: a higher limit queues less, so latency falls and history keeps up",
)
_REFUSED_OVER_QPS = Effect(
    Raising.IMPROVES,
    "a service's persistence requests over its QPS limit are refused with ResourceExhausted, not queued, "
    "and retried later, so work progresses no faster than the limit: a higher limit refuses fewer",
)
_MORE_CONCURRENT_TRANSACTIONS = Effect(
    Raising.WORSENS,
    "on an optimistic store (DSQL) more concurrent transactions touch the same rows (shard, "
    "execution) at once, so more of them conflict at commit and more run out of retries",
)
_IDLE_CONNECTIONS_KEPT = Effect(
    Raising.IMPROVES, "more idle connections are kept, so fewer requests wait for a new connection"
)
_CONNECTIONS_OFF_THE_REQUEST_PATH = Effect(
    Raising.IMPROVES,
    "in reservoir mode connections are made off the request path, and with more of them ready fewer "
    "persistence requests wait for a new connection",
)
_RESERVOIR_KEPT_FULL = Effect(
    Raising.IMPROVES, "more ready connections, or faster refills, keep the reservoir from draining under load"
)
_POLLERS_WAITING = Effect(
    Raising.IMPROVES,
    "with more partitions or pollers, tasks more often find a waiting poller: more sync matches, "
    "shorter schedule-to-start and a smaller backlog",
)
_FEWER_REFUSED = Effect(
    Raising.IMPROVES,
    "a request over a rate, concurrent-poll or persistence limit is refused with ResourceExhausted: a higher "
    "limit refuses fewer",
)
_MORE_POLLS = Effect(
    Raising.WORSENS,
    "each poller sends its own long polls, and the namespace's rate and concurrent-poll limits count every "
    "one: more pollers, more of them refused once the limit is reached",
)
_FREE_SLOTS = Effect(Raising.IMPROVES, "more task slots per worker leave free slots, so tasks do not wait for one")
_FEWER_RECYCLES = Effect(Raising.IMPROVES, "longer connection lifetimes recycle connections less often")

_PROGRESS_UNDER_PERSISTENCE_LIMITS = (
    _QUEUES_FOR_A_CONNECTION.of(*_CONNECTION_LIMITS),
    _REFUSED_OVER_QPS.of(*_PERSISTENCE_QPS_LIMITS),
)
"""How the persistence limits bound the work done (completions, state transitions): connection limits
queue requests, QPS limits refuse them; either way a higher limit lets work progress faster."""

_PERSISTENCE_INFLUENCES = influences(
    # a QPS limit refuses what is over it rather than queue it (seen on a real server: persistence latency
    # fell, the refused requests answered at once), so it influences latency in no known direction
    _QUEUES_FOR_A_CONNECTION.of(*_CONNECTION_LIMITS),
    _IDLE_CONNECTIONS_KEPT.of("TEMPORAL_SQL_MAX_IDLE_CONNS"),
    _CONNECTIONS_OFF_THE_REQUEST_PATH.of("DSQL_RESERVOIR_ENABLED", "DSQL_RESERVOIR_TARGET_READY"),
    PERSISTENCE_KEYS + POOL_KEYS,
)
"""Persistence latency (p95 and p99)."""
_MATCHING_INFLUENCES = influences(
    _POLLERS_WAITING.of(*_MATCH_SPREAD), _FREE_SLOTS.of(*_SLOT_SIZES), MATCHING_KEYS + WORKER_KEYS
)
"""Matching and schedule-to-start: sync and async match rates, backlog, schedule-to-start."""
_RESERVOIR_SIZE = GaugeAgg((Term(same("dsql_reservoir_size")),))
"""Ready connections in the reservoir, summed over the services: its size, and its fill's numerator."""
_RESERVOIR_TARGET = GaugeAgg((Term(same("dsql_reservoir_target")),))
_RESERVOIR_INFLUENCES = influences(_RESERVOIR_KEPT_FULL.of(*_RESERVOIR_FILL), RESERVOIR_KEYS)
"""The reservoir's size, empty events and failed opens."""

_LATENCY_REMEDIES: Mapping[str, Remedy] = {
    "persistence_latency_p99": Remedy(
        settings=("TEMPORAL_SQL_MAX_CONNS", "DSQL_RESERVOIR_ENABLED", "DSQL_RESERVOIR_TARGET_READY"),
        why="persistence requests wait for a connection when the pool is small or connections are made on "
        "the request path",
    ),
    "workflow_schedule_to_start_p99": Remedy(
        settings=("MaxConcurrentWorkflowTaskPollers", "MaxConcurrentWorkflowTaskExecutionSize"),
        why="workflow tasks wait when too few pollers or slots take them",
        worker_type="workflow",
    ),
    "activity_schedule_to_start_p95": Remedy(
        settings=("MaxConcurrentActivityExecutionSize", "MaxConcurrentActivityTaskPollers"),
        why="activity tasks wait when too few slots or pollers take them",
        worker_type="activity",
    ),
}
"""The remedies of the latency family entries built in a loop below, by metric."""


_LATENCY_LEVELS: Mapping[str, tuple[float, float]] = {
    "workflow_schedule_to_start": (100.0, 1_000.0),
    "activity_schedule_to_start": (100.0, 1_000.0),
    "persistence_latency": (50.0, 200.0),
}
"""Warning and critical levels (ms) of the latency families, for a change from none."""


def _error_rate(key: str, title: str, rates: RateSum, family: str, **judgement: Any) -> MetricSpec:
    """Errors per second: lower is better, judged by the error threshold, and read as zero while the rest of
    its family reports (a counter that never incremented has no series)."""
    return MetricSpec(
        key=key,
        category=Category.ERRORS,
        title=title,
        unit="1/s",
        better=Better.LOWER,
        threshold_class=ThresholdClass.ERROR,
        noise_floor=0.01,
        computation=Direct(rates),
        family=family,
        absent_is_zero=True,
        **judgement,
    )


def _workflow_task_errors(key: str, title: str, rates: RateSum, description: str) -> MetricSpec:
    """Workflow tasks that did not complete: key errors, judged per workflow started (each retry of such a
    task makes state transitions of its own)."""
    return _error_rate(
        key, title, rates, "workflow_outcomes", key_metric=True, per_unit=PER_1000_STARTS, description=description
    )


def _build() -> tuple[MetricSpec, ...]:
    specs: list[MetricSpec] = [
        MetricSpec(
            key="workflows_started_per_sec",
            category=Category.THROUGHPUT,
            title="Workflows started/s",
            unit="1/s",
            better=Better.NEUTRAL,
            threshold_class=ThresholdClass.THROUGHPUT,
            noise_floor=0.05,
            computation=Direct(_STARTS),
            family="service_requests",
            offered_load=True,
            description="Rate of StartWorkflowExecution and SignalWithStart requests at the frontend "
            "(Temporal has no 'workflow started' counter). It reflects offered load, so it is neutral.",
        ),
        MetricSpec(
            key="workflows_completed_per_sec",
            category=Category.THROUGHPUT,
            title="Workflows completed/s",
            unit="1/s",
            better=Better.HIGHER,
            threshold_class=ThresholdClass.THROUGHPUT,
            noise_floor=0.05,
            computation=Direct(_CLOSES),
            influences=influences(
                *_PROGRESS_UNDER_PERSISTENCE_LIMITS,
                _FREE_SLOTS.of(*_SLOT_SIZES),
                ("history.persistenceMaxQPS", *WORKER_KEYS),
            ),
            family="workflow_outcomes",
            key_metric=True,
            description="All workflow closes: success, failed, timeout, terminate, cancel, continued-as-new.",
        ),
        MetricSpec(
            key="state_transitions_per_sec",
            category=Category.THROUGHPUT,
            title="State transitions/s",
            unit="1/s",
            better=Better.HIGHER,
            threshold_class=ThresholdClass.THROUGHPUT,
            noise_floor=0.5,
            computation=Direct(_STATE_TRANSITIONS),
            influences=influences(*_PROGRESS_UNDER_PERSISTENCE_LIMITS),
            remedy=Remedy(
                settings=("history.persistenceMaxQPS", "TEMPORAL_SQL_MAX_CONNS"),
                why="history progresses no faster than its persistence limit and pool allow",
            ),
            key_metric=True,
            description="Rate of the state_transition_count histogram's count (its _sum overcounts).",
        ),
    ]
    for key, title, hist in (
        ("workflow_schedule_to_start", "Workflow task schedule-to-start", _WF_S2S),
        ("activity_schedule_to_start", "Activity task schedule-to-start", _ACT_S2S),
        ("persistence_latency", "Persistence latency", _PERSISTENCE),
    ):
        latency_influences = _PERSISTENCE_INFLUENCES if key == "persistence_latency" else _MATCHING_INFLUENCES
        for q in (95, 99):
            specs.append(
                MetricSpec(
                    key=f"{key}_p{q}",
                    category=Category.LATENCY,
                    title=f"{title} p{q}",
                    unit="ms",
                    better=Better.LOWER,
                    threshold_class=ThresholdClass.LATENCY,
                    noise_floor=1.0,
                    computation=Quantile(hist, q / 100),
                    influences=latency_influences,
                    remedy=_LATENCY_REMEDIES.get(f"{key}_p{q}"),
                    family="persistence" if key == "persistence_latency" else None,
                    taken=key != "persistence_latency",
                    key_metric=True,
                    warning_level=_LATENCY_LEVELS[key][0],
                    critical_level=_LATENCY_LEVELS[key][1],
                )
            )
    specs += [
        MetricSpec(
            key="sync_match_rate",
            category=Category.MATCHING,
            title="Sync match rate",
            unit="ratio",
            better=Better.HIGHER,
            threshold_class=ThresholdClass.THROUGHPUT,
            noise_floor=0.01,
            computation=Ratio(_POLL_SYNC, _POLL_ALL, "part/whole", worst="min"),
            influences=_MATCHING_INFLUENCES,
            remedy=Remedy(
                settings=(
                    "MaxConcurrentWorkflowTaskPollers",
                    "MaxConcurrentActivityTaskPollers",
                    "matching.numTaskqueueReadPartitions",
                    "matching.numTaskqueueWritePartitions",
                ),
                why="a task matches synchronously only when a poller is waiting on its partition",
            ),
            key_metric=True,
            description="poll_success_sync / poll_success per task type, the lower of workflow and activity "
            "tasks: tasks handed straight to a waiting poller.",
            floor_points=2.0,
            taken=True,
        ),
        MetricSpec(
            key="async_match_rate",
            category=Category.MATCHING,
            title="Async match rate",
            unit="ratio",
            better=Better.LOWER,
            threshold_class=ThresholdClass.THROUGHPUT,
            noise_floor=0.01,
            computation=Ratio(_POLL_SYNC, _POLL_ALL, "1-part/whole"),
            influences=_MATCHING_INFLUENCES,
            description="Share of polls served from the backlog (1 - sync match rate), the higher of the task types.",
            floor_points=2.0,
            taken=True,
            warning_level=0.2,
            critical_level=0.5,
        ),
        MetricSpec(
            key="task_dispatch_latency",
            category=Category.MATCHING,
            title="Task dispatch latency p95",
            unit="ms",
            better=Better.LOWER,
            threshold_class=ThresholdClass.LATENCY,
            noise_floor=1.0,
            computation=Quantile(_DISPATCH, 0.95),
            influences=influences(_POLLERS_WAITING.of(*_MATCH_SPREAD), _FREE_SLOTS.of(*_SLOT_SIZES), MATCHING_KEYS),
            warning_level=100.0,
            critical_level=1_000.0,
        ),
        MetricSpec(
            key="backlog_count",
            category=Category.MATCHING,
            title="Backlog count",
            unit="tasks",
            better=Better.LOWER,
            threshold_class=ThresholdClass.CAPACITY,
            noise_floor=5.0,
            computation=Direct(
                GaugeAgg((Term(same("approximate_backlog_count"), (), SERVER_SCOPES),), split=_BY_QUEUE)
            ),
            influences=_MATCHING_INFLUENCES,
            named_queues_only=True,
            accumulates=True,
            warning_level=1_000.0,
            critical_level=10_000.0,
        ),
        MetricSpec(
            key="backlog_age",
            category=Category.MATCHING,
            title="Backlog age",
            unit="s",
            better=Better.LOWER,
            threshold_class=ThresholdClass.LATENCY,
            noise_floor=1.0,
            computation=_gauge("approximate_backlog_age_seconds", "max", SERVER_SCOPES, split=_BY_QUEUE),
            influences=_MATCHING_INFLUENCES,
            named_queues_only=True,
            accumulates=True,
            remedy=Remedy(
                settings=(
                    "MaxConcurrentActivityExecutionSize",
                    "MaxConcurrentWorkflowTaskExecutionSize",
                    "MaxConcurrentActivityTaskPollers",
                    "MaxConcurrentWorkflowTaskPollers",
                ),
                why="a backlog ages when workers take tasks more slowly than they are scheduled",
            ),
            warning_level=60.0,
            critical_level=300.0,
        ),
        MetricSpec(
            key="pool_open_count",
            category=Category.DSQL_POOL,
            title="Pool open connections",
            unit="connections",
            better=Better.NEUTRAL,
            threshold_class=ThresholdClass.CAPACITY,
            noise_floor=1.0,
            computation=_gauge("dsql_pool_open"),
            influences=influences(POOL_KEYS),
        ),
        MetricSpec(
            key="pool_in_use_count",
            category=Category.DSQL_POOL,
            title="Pool in-use connections",
            unit="connections",
            better=Better.NEUTRAL,
            threshold_class=ThresholdClass.CAPACITY,
            noise_floor=1.0,
            computation=_gauge("dsql_pool_in_use"),
            influences=influences(POOL_KEYS),
            per_unit=PER_1000_TRANSITIONS,
        ),
        MetricSpec(
            key="pool_idle_count",
            category=Category.DSQL_POOL,
            title="Pool idle connections",
            unit="connections",
            better=Better.NEUTRAL,
            threshold_class=ThresholdClass.CAPACITY,
            noise_floor=1.0,
            computation=_gauge("dsql_pool_idle"),
            influences=influences(POOL_KEYS),
        ),
        MetricSpec(
            key="reservoir_size",
            category=Category.DSQL_POOL,
            title="Reservoir size",
            unit="connections",
            better=Better.HIGHER,
            threshold_class=ThresholdClass.CAPACITY,
            noise_floor=1.0,
            computation=Direct(_RESERVOIR_SIZE),
            influences=_RESERVOIR_INFLUENCES,
            family="dsql_reservoir",
            description="Ready connections in the DSQL reservoir (reservoir mode only); drained is bad.",
        ),
        MetricSpec(
            key="reservoir_fill",
            category=Category.DSQL_POOL,
            title="Reservoir fill",
            unit="ratio",
            better=Better.HIGHER,
            threshold_class=ThresholdClass.CAPACITY,
            noise_floor=0.02,
            computation=Ratio(_RESERVOIR_SIZE, _RESERVOIR_TARGET, "part/whole"),
            influences=_RESERVOIR_INFLUENCES,
            remedy=Remedy(
                settings=("DSQL_RESERVOIR_ENABLED", "DSQL_RESERVOIR_TARGET_READY"),
                why="the reservoir keeps ready connections only in reservoir mode and only as many as its target",
            ),
            family="dsql_reservoir",
            description="Ready connections over the reservoir's target, both summed over the services "
            "(reservoir mode only): 1 is full, 0 drained. Unlike reservoir_size it does not grow with the "
            "deployment, so the scale presets bound it.",
            floor_points=5.0,
        ),
        MetricSpec(
            key="reservoir_empty_events",
            category=Category.DSQL_POOL,
            title="Reservoir empty events/s",
            unit="1/s",
            better=Better.LOWER,
            threshold_class=ThresholdClass.ERROR,
            noise_floor=0.01,
            computation=_rate(Term(same("dsql_reservoir_empty_total"))),
            influences=_RESERVOIR_INFLUENCES,
            family="dsql_reservoir",
            absent_is_zero=True,
        ),
        MetricSpec(
            key="open_failures",
            category=Category.DSQL_POOL,
            title="Connection open failures/s",
            unit="1/s",
            better=Better.LOWER,
            threshold_class=ThresholdClass.ERROR,
            noise_floor=0.01,
            computation=_rate(
                Term(same("dsql_reservoir_refill_failures_total")),
                Term(same("dsql_pool_keeper_topup_failures_total")),
            ),
            influences=_RESERVOIR_INFLUENCES,
            family="dsql_reservoir",
            absent_is_zero=True,
        ),
        MetricSpec(
            key="reconnect_count",
            category=Category.DSQL_POOL,
            title="Reconnects (session refreshes)/s",
            unit="1/s",
            better=Better.LOWER,
            threshold_class=ThresholdClass.ERROR,
            noise_floor=0.01,
            computation=_rate(Term(server_counter("persistence_session_refresh_attempts"))),
            influences=_FEWER_RECYCLES.of("TEMPORAL_SQL_MAX_CONN_LIFETIME", "DSQL_RESERVOIR_BASE_LIFETIME"),
            description="No reconnect metric exists; session refresh attempts count whole-handle reconnects.",
        ),
        MetricSpec(
            key="occ_conflicts_per_sec",
            category=Category.ERRORS,
            title="OCC conflicts/s",
            unit="1/s",
            better=Better.LOWER,
            threshold_class=ThresholdClass.ERROR,
            noise_floor=0.01,
            computation=Direct(RateSum((Term(same("dsql_tx_conflict_total")),), split=_BY_PLUGIN_OP)),
            influences=influences(
                _MORE_CONCURRENT_TRANSACTIONS.of(*_TRANSACTION_LIMITS),
                ("persistence.numHistoryShards",),
            ),
            remedy=Remedy(
                settings=("history.persistenceMaxQPS",),
                why="a persistence limit sized for the load keeps retried transactions from piling onto the same rows",
                raise_only=False,
            ),
            family="dsql_tx",
            absent_is_zero=True,
            key_metric=True,
            per_unit=PER_1000_TRANSITIONS,
        ),
        MetricSpec(
            key="exhausted_retries_per_sec",
            category=Category.ERRORS,
            title="Exhausted retries/s",
            unit="1/s",
            better=Better.LOWER,
            threshold_class=ThresholdClass.ERROR,
            noise_floor=0.01,
            computation=Direct(RateSum((Term(same("dsql_tx_exhausted_total")),), split=_BY_PLUGIN_OP)),
            influences=_MORE_CONCURRENT_TRANSACTIONS.of(*_TRANSACTION_LIMITS),
            remedy=Remedy(
                settings=("history.persistenceMaxQPS", "TEMPORAL_SQL_MAX_CONNS"),
                why="retries run out when contended transactions also wait for a connection or the QPS limit",
            ),
            family="dsql_tx",
            absent_is_zero=True,
            key_metric=True,
            per_unit=PER_1000_TRANSITIONS,
        ),
        MetricSpec(
            key="dsql_auth_failures",
            category=Category.ERRORS,
            title="DSQL auth failures/s",
            unit="1/s",
            better=Better.LOWER,
            threshold_class=ThresholdClass.ERROR,
            noise_floor=0.01,
            computation=_rate(
                Term(same("dsql_token_refresh_failures_total")),
                Term(same("dsql_reservoir_refill_failures_total"), (("reason", "=", "token_provider"),)),
            ),
            family="dsql_reservoir",
            absent_is_zero=True,
            description="IAM token generation failures plus reservoir refills failed by the token provider.",
        ),
    ]
    specs += [
        MetricSpec(
            key="completion_ratio",
            category=Category.THROUGHPUT,
            title="Workflows completed per workflow started",
            unit="ratio",
            better=Better.HIGHER,
            threshold_class=ThresholdClass.THROUGHPUT,
            noise_floor=0.05,
            computation=Ratio(_CLOSES_IN_NAMESPACE, _STARTS, "a/b"),
            influences=influences(("history.persistenceMaxQPS", *WORKER_KEYS)),
            key_metric=True,
            description="Workflow closes / start requests over the same instants: below 1 the cluster "
            "takes in more than it finishes (more offered, less done); above 1 it drains a backlog. "
            "Namespace-wide even when a task queue is in scope: start requests carry no task queue.",
            floor_points=5.0,
        ),
        MetricSpec(
            key="activity_failure_rate",
            category=Category.ERRORS,
            title="Activity attempts failed or timed out",
            unit="ratio",
            better=Better.LOWER,
            threshold_class=ThresholdClass.ERROR,
            noise_floor=0.01,
            computation=_ACTIVITY_FAILURE_SHARE,
            influences=influences(WORKER_KEYS),
            family="activity_outcomes",
            key_metric=True,
            taken=True,
            description="(activity_task_fail + activity_task_timeout) / (activity_success + both): the share "
            "of activity attempts that failed or timed out, retried ones included; contributors by activity type.",
            floor_points=1.0,
        ),
        _error_rate(
            ACTIVITY_FAILURES,
            "Activity failures and timeouts/s",
            _ACTIVITY_FAILURES,
            "activity_outcomes",
            influences=influences(WORKER_KEYS),
            description="activity_task_fail + activity_task_timeout, every attempt; its contributors tell failed "
            "attempts from timed-out ones (by timeout type: StartToClose is an attempt that hung past its "
            "timeout, Heartbeat one that stopped heartbeating) per activity type.",
        ),
        _error_rate(
            "workflow_failures_per_sec",
            "Workflow failures and timeouts/s",
            _WORKFLOW_FAILURES,
            "workflow_outcomes",
            per_unit=PER_1000_TRANSITIONS,
            description="workflow_failed + workflow_timeout.",
        ),
        _workflow_task_errors(
            "workflow_task_failures_per_sec",
            "Workflow task failures/s",
            _WORKFLOW_TASK_FAILURES,
            "failed_workflow_tasks, by cause: WorkflowWorkerUnhandledFailure is workflow code that raised, "
            "NonDeterministicError a replay that took another path. The server retries the task, so its workflow "
            "neither completes nor fails: after a bad deploy this and workflow task timeouts are the errors that "
            "move while completions fall.",
        ),
        _workflow_task_errors(
            "workflow_task_timeouts_per_sec",
            "Workflow task timeouts/s",
            _WORKFLOW_TASK_TIMEOUTS,
            "start_to_close_timeout of workflow tasks: tasks a worker took and did not answer in time (a hung or "
            "starved worker, one that died holding them), retried by the server. Workflow code that keeps raising "
            "shows here too: the SDK reports its first failure (workflow_task_failures_per_sec) and lets each retry "
            "time out.",
        ),
        _error_rate(
            "service_errors_per_sec",
            "Service errors/s",
            _SERVICE_ERRORS,
            "service_requests",
            influences=influences(("frontend.persistenceMaxQPS", "history.persistenceMaxQPS")),
            description="service_errors: requests the services answered with an unexpected error. Requests "
            "refused by a limit are not in it: see throttled_requests_per_sec.",
        ),
        _error_rate(
            "throttled_requests_per_sec",
            "Throttled requests/s",
            _THROTTLED,
            "service_requests",
            influences=influences(_FEWER_REFUSED.of(*_REQUEST_LIMITS), _MORE_POLLS.of(*_POLLERS)),
            # key: a limit that refuses is the cause the verdict should name first, not its symptoms
            key_metric=True,
            description="service_errors_resource_exhausted: requests refused with ResourceExhausted, by the "
            "limit that refused them (resource_exhausted_cause: RpsLimit, ConcurrentLimit, PersistenceLimit, "
            "...) and the operation. Refused polls leave tasks waiting however many workers run.",
        ),
        _error_rate(
            "throttled_persistence_per_sec",
            "Throttled persistence requests/s",
            _PERSISTENCE_THROTTLED,
            "persistence",
            influences=influences(_REFUSED_OVER_QPS.of(*_PERSISTENCE_QPS_LIMITS)),
            key_metric=True,
            description="persistence_error_with_type with error_type ResourceExhausted: persistence requests a "
            "service's QPS limit (history.persistenceMaxQPS and the like) refused, by operation and service. "
            "The limit refuses rather than queues, so persistence latency does not show it; the work waits "
            "instead (schedule-to-start, completions, state transitions).",
        ),
        MetricSpec(
            key="start_workflow_latency_p95",
            category=Category.LATENCY,
            title="StartWorkflowExecution latency p95",
            unit="ms",
            better=Better.LOWER,
            threshold_class=ThresholdClass.LATENCY,
            noise_floor=1.0,
            computation=Quantile(_START_LATENCY, 0.95),
            influences=influences(PERSISTENCE_KEYS + POOL_KEYS),
            description="service_latency of StartWorkflowExecution at the frontend (Temporal's guidance: "
            "p95 under 150 ms).",
            warning_level=150.0,
            critical_level=500.0,
        ),
        MetricSpec(
            key=ANSWERED_ONLY,
            category=Category.LATENCY,
            title="Activity execution latency p95",
            unit="ms",
            better=Better.LOWER,
            threshold_class=ThresholdClass.LATENCY,
            noise_floor=1.0,
            computation=Quantile(_ACTIVITY_EXECUTION, 0.95),
            description="activity_start_to_close_latency (history): each activity attempt from its start on a "
            "worker to the worker's answer. The activities' own code and what it calls, not the cluster: no "
            "Temporal setting speeds it up, so it has no influences and no levels, and when it rises the "
            "slots it holds and the schedule-to-start behind them follow.",
        ),
        MetricSpec(
            key="shard_lock_latency_p95",
            category=Category.LATENCY,
            title="Shard lock latency p95",
            unit="ms",
            better=Better.LOWER,
            threshold_class=ThresholdClass.LATENCY,
            noise_floor=0.1,
            computation=Quantile(_SHARD_LOCK, 0.95),
            influences=influences(("persistence.numHistoryShards", "history.persistenceMaxQPS")),
            description="lock_latency of the history shard lock (operation ShardInfo): contention on a shard.",
            warning_level=10.0,
            critical_level=100.0,
        ),
    ]
    for service in _SERVICES:
        specs.append(
            MetricSpec(
                key=f"cpu_utilization.{service}",
                category=Category.RESOURCES,
                title=f"CPU ({service})",
                unit="cores",
                better=Better.LOWER,
                threshold_class=ThresholdClass.CAPACITY,
                noise_floor=0.01,
                computation=PlatformCpu(service),
                description="Temporal exports no CPU metric; read from the platform (cAdvisor/kubelet or "
                "ECS through ADOT) where this Prometheus has it.",
                per_unit=PER_1000_TRANSITIONS,
            )
        )
    for service in _SERVICES:
        specs.append(
            MetricSpec(
                key=f"memory_utilization.{service}",
                category=Category.RESOURCES,
                title=f"Go heap in use ({service})",
                unit="bytes",
                better=Better.NEUTRAL,
                threshold_class=ThresholdClass.CAPACITY,
                noise_floor=1_000_000.0,
                computation=Direct(GaugeAgg((Term(same("memory_heapinuse"), (("service_name", "=", service),)),))),
                description="memory_heapinuse: Go heap bytes in use (not RSS). Neutral: on a real server it grows "
                "for many minutes after a start as the caches fill, whatever the load and health, so a change is "
                "reported and never counted.",
                per_unit=PER_1000_TRANSITIONS,
            )
        )
    specs.append(
        MetricSpec(
            key="worker_task_slot_utilization",
            category=Category.RESOURCES,
            title="Worker task slot utilization (most saturated type)",
            unit="ratio",
            better=Better.LOWER,
            threshold_class=ThresholdClass.CAPACITY,
            noise_floor=0.01,
            computation=Ratio(_SLOTS_USED, _SLOTS_FREE, "a/(a+b)"),
            influences=influences(_FREE_SLOTS.of(*_SLOT_SIZES), WORKER_KEYS),
            remedy=Remedy(
                settings=("MaxConcurrentActivityExecutionSize", "MaxConcurrentWorkflowTaskExecutionSize"),
                why="busy slots leave tasks queued; more slots per worker (or more workers) give headroom",
            ),
            key_metric=True,
            description="SDK slots used / (used + available) per worker type and task queue; the value is "
            "the most saturated one, 1 means saturated. The per-type values are "
            "worker_task_slot_utilization.<type>.",
            floor_points=5.0,
            warning_level=0.8,
            critical_level=0.95,
        )
    )
    for suffix, worker_type in WORKER_TYPES.items():
        specs.append(
            MetricSpec(
                key=f"worker_task_slot_utilization.{suffix}",
                category=Category.RESOURCES,
                title=f"Worker task slot utilization ({worker_type})",
                unit="ratio",
                better=Better.LOWER,
                threshold_class=ThresholdClass.CAPACITY,
                noise_floor=0.01,
                computation=Ratio(_SLOTS_USED, _SLOTS_FREE, "a/(a+b)", where=(("worker_type", worker_type),)),
                influences=influences(_SLOT_KEYS[suffix]),
                description=f"{worker_type} slots used / (used + available), most saturated task queue.",
                floor_points=5.0,
                warning_level=0.8,
                critical_level=0.95,
            )
        )
    unknown = _LATENCY_REMEDIES.keys() - {spec.key for spec in specs}
    if unknown:
        raise ValueError(f"remedies of metrics not in the catalogue: {sorted(unknown)}")
    return tuple(specs)


CATALOGUE: tuple[MetricSpec, ...] = _build()
BY_KEY: Mapping[str, MetricSpec] = {spec.key: spec for spec in CATALOGUE}


def spec_for(key: str) -> MetricSpec:
    return BY_KEY[key]


def series_queries(spec: MetricSpec) -> tuple[SeriesQuery, ...]:
    """The series queries a metric needs, in a stable order."""
    comp = spec.computation
    if isinstance(comp, Direct):
        return (comp.query,)
    if isinstance(comp, Ratio):
        return (comp.numerator, comp.denominator)
    if isinstance(comp, Quantile):
        return (comp.buckets,)
    return ()


def _terms(query: SeriesQuery) -> tuple[Term, ...]:
    return (query.term,) if isinstance(query, BucketRates) else query.terms


def with_cpu_platform(specs: tuple[MetricSpec, ...], platform: CpuPlatform | None) -> tuple[MetricSpec, ...]:
    """The specs with each :class:`PlatformCpu` read from ``platform``; with none, those metrics are left out
    (the profile carries :data:`CPU_EXPLANATION` instead of a row of "no data" per service)."""
    out: list[MetricSpec] = []
    for spec in specs:
        comp = spec.computation
        if not isinstance(comp, PlatformCpu):
            out.append(spec)
        elif platform is not None:
            out.append(
                replace(spec, computation=Direct(platform.query(comp.service)), description=platform.description)
            )
    return tuple(out)


def terms_of(spec: MetricSpec) -> tuple[Term, ...]:
    """Every selector a metric reads."""
    return tuple(term for query in series_queries(spec) for term in _terms(query))


def scoped_sources(spec: MetricSpec, dimension: str) -> frozenset[Source]:
    """The sources whose series of this metric are scoped by ``dimension`` (every such term must be)."""
    terms = terms_of(spec)
    if not terms or not all(dimension in dict(term.scopes) for term in terms):
        return frozenset()
    return frozenset(term.source for term in terms)


def scope_dimensions(spec: MetricSpec) -> frozenset[str]:
    """The dimensions every series of this metric is narrowed by when they are in scope."""
    return frozenset(dimension for dimension, _ in SERVER_SCOPES if scoped_sources(spec, dimension))


def scope_label(source: Source, dimension: str) -> str | None:
    """The label that carries ``dimension`` in ``source``'s series (``taskqueue`` on the server)."""
    scopes = SDK_SCOPES if source is Source.SDK else SERVER_SCOPES
    return dict(scopes).get(dimension)


# --- recording rules: one recorded series per series query -----------------------------------


@dataclass(frozen=True)
class RuleTier:
    """One resolution of the recording rules: evaluated every ``interval_s``, rates over ``window_s``."""

    interval_s: int
    window_s: int

    @property
    def operation(self) -> str:
        return f"rate{self.window_s // 60}m"


RULE_TIERS: tuple[RuleTier, ...] = (RuleTier(15, 60), RuleTier(120, 120))
"""The fine tier follows the default 15 s scrape (a recorded gauge is the raw one at each evaluation, a
recorded rate the raw rate over 1 m); the coarse tier records histograms only (:func:`rule_tiers`), every
2 m over 2 m: an eighth of the samples, for windows whose rates look back at least 2 m (profiles longer
than about 9 h)."""
RECORD_PREFIX: Mapping[Dialect, str] = {Dialect.OPENTELEMETRY: "bp", Dialect.TALLY: "bp_tally"}


class RuleView(Enum):
    """Which profiles a recorded series serves.

    ``SCOPED`` keeps every label a profile scopes by: profiles of a namespace or a task queue read it.
    ``CLUSTER`` keeps only what a whole-cluster profile reads (the cluster label, ``le``, the query's
    groups and the first scope level it splits by): a whole cluster's task dispatch latency is 14
    series instead of one per bucket, task type, namespace and task queue, and Prometheus's cost follows
    the series it evaluates at each step. Recorded only where it keeps fewer labels than ``SCOPED``.
    """

    SCOPED = ""
    CLUSTER = "_cluster"


def _slug(key: str) -> str:
    return re.sub(r"[^A-Za-z0-9_]", "_", key)


def record_slugs(specs: tuple[MetricSpec, ...] = CATALOGUE) -> dict[SeriesQuery, str]:
    """Each distinct series query of ``specs`` -> the slug of its recorded series, from the key of the
    first metric that reads it (a histogram's percentile suffix dropped; a ratio's parts ``_num``/``_den``)."""
    out: dict[SeriesQuery, str] = {}
    taken: set[str] = set()
    for spec in specs:
        queries = series_queries(spec)
        for i, query in enumerate(queries):
            if query in out:
                continue
            if isinstance(spec.computation, Quantile):
                slug = re.sub(r"_p\d+$", "", spec.key)
            elif isinstance(spec.computation, Ratio):
                slug = f"{spec.key}_{('num', 'den')[i]}"
            else:
                slug = spec.key
            slug = _slug(slug)
            if slug in taken:
                raise ValueError(f"two series queries would record as {slug}")
            taken.add(slug)
            out[query] = slug
    return out


def rule_tiers(query: SeriesQuery) -> tuple[RuleTier, ...]:
    """The tiers that record ``query``: every tier for histograms, the fine one for rates and gauges.

    A long window's rate is the mean of the recorded rates evaluated within each step. The coarse tier's
    2 m rates, one every 2 m, do not overlap, so none reads the increment between the last sample of one
    and the first of the next (one in eight at a 15 s scrape; the rate extrapolates over it): harmless
    for a histogram's many observations, but a counter that rarely increments then read 1.75 % off its
    raw rate over a whole day on the bench. The fine tier's overlapping 1 m rates every 15 s read every
    increment, and a rate query has few series, so the extra samples cost little."""
    return RULE_TIERS if isinstance(query, BucketRates) else RULE_TIERS[:1]


def recorded_name(
    query: SeriesQuery,
    slug: str,
    dialect: Dialect,
    tier: RuleTier = RULE_TIERS[0],
    view: RuleView = RuleView.SCOPED,
) -> str:
    """The recorded series of ``query`` in ``dialect``: ``bp:<slug>:<operation>`` (``bp_tally:`` for tally;
    ``bp_cluster:``/``bp_tally_cluster:`` for the :attr:`RuleView.CLUSTER` view), the operation
    ``rate1m``/``rate2m`` (``_bucket`` for histograms), or the gauge's aggregation."""
    if isinstance(query, BucketRates):
        operation = f"{tier.operation}_bucket"
    elif isinstance(query, RateSum):
        operation = tier.operation
    else:
        operation = query.agg
    return f"{RECORD_PREFIX[dialect]}{view.value}:{slug}:{operation}"


def kept_labels(query: SeriesQuery, cluster_label: str | None) -> tuple[str, ...]:
    """The labels a recorded series keeps: exactly what a profile scopes by (the terms' namespace and
    task queue labels, the cluster label), plus ``le`` of a histogram and the groups of a grouped query."""
    labels: list[str] = []
    for term in _terms(query):
        labels += [label for _, label in term.scopes]
    if cluster_label:
        labels.append(cluster_label)
    if isinstance(query, BucketRates):
        labels.append("le")
    labels += fetched_labels(query)
    return tuple(dict.fromkeys(labels))


def view_labels(query: SeriesQuery, view: RuleView, cluster_label: str | None) -> tuple[str, ...]:
    """The labels ``query``'s recorded series keep in ``view``: :func:`kept_labels`, or for a whole
    cluster the subset it reads (the cluster label, ``le``, and :func:`grouped_labels` with nothing fixed)."""
    kept = kept_labels(query, cluster_label)
    if view is RuleView.SCOPED:
        return kept
    read = {cluster_label, "le", *grouped_labels(query, ())}
    return tuple(label for label in kept if label in read)


def rule_views(query: SeriesQuery) -> tuple[RuleView, ...]:
    """The views ``query`` is recorded in: always :attr:`RuleView.SCOPED`, and :attr:`RuleView.CLUSTER`
    where a whole-cluster profile reads fewer labels."""
    if len(view_labels(query, RuleView.CLUSTER, None)) < len(kept_labels(query, None)):
        return (RuleView.SCOPED, RuleView.CLUSTER)
    return (RuleView.SCOPED,)
