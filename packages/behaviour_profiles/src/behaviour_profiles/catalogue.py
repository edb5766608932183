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
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

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


# --- the series queries sent to Prometheus -----------------------------------------------------


@dataclass(frozen=True)
class RateSum:
    """``sum(rate(...))`` of one or more counters; absent terms add nothing."""

    terms: tuple[Term, ...]


@dataclass(frozen=True)
class GaugeAgg:
    """``sum(...)`` or ``max(...)`` of one or more gauges."""

    terms: tuple[Term, ...]
    agg: str = "sum"


@dataclass(frozen=True)
class BucketRates:
    """``sum by (le) (rate(<histogram>_bucket[...]))``: one query serves every percentile."""

    term: Term


SeriesQuery = RateSum | GaugeAgg | BucketRates


# --- how a metric is computed from series queries ---------------------------------------------


@dataclass(frozen=True)
class Direct:
    query: RateSum | GaugeAgg


@dataclass(frozen=True)
class Ratio:
    """Pointwise ratio. ``form``: ``part/whole``, ``1-part/whole`` or ``a/(a+b)``."""

    numerator: RateSum | GaugeAgg
    denominator: RateSum | GaugeAgg
    form: str = "part/whole"


@dataclass(frozen=True)
class Quantile:
    buckets: BucketRates
    q: float


@dataclass(frozen=True)
class Unavailable:
    reason: str


Computation = Direct | Ratio | Quantile | Unavailable


@dataclass(frozen=True)
class MetricSpec:
    key: str
    category: Category
    title: str
    unit: str
    better: Better
    threshold_class: ThresholdClass
    noise_floor: float
    computation: Computation
    influenced_by: tuple[str, ...] = ()
    family: str | None = None
    """Metrics exported together by one component (e.g. the DSQL plugin's transaction counters)."""
    absent_is_zero: bool = False
    """A counter that is absent while another metric of its family has samples never happened: 0."""
    key_metric: bool = False
    """A key metric lacking data makes a comparison inconclusive."""
    description: str = ""


# --- shared terms and queries ------------------------------------------------------------------

_START_OPS = "StartWorkflowExecution|SignalWithStartWorkflowExecution"
_STARTS = RateSum(
    (
        Term(
            server_counter("service_requests"),
            (("service_name", "=", "frontend"), ("operation", "=~", _START_OPS)),
            NAMESPACE_ONLY,
        ),
    )
)
_CLOSES = RateSum(
    tuple(
        Term(server_counter(base), (), SERVER_SCOPES)
        for base in (
            "workflow_success",
            "workflow_failed",
            "workflow_timeout",
            "workflow_terminate",
            "workflow_cancel",
            "workflow_continued_as_new",
        )
    )
)
_STATE_TRANSITIONS = RateSum(
    (Term(Name("state_transition_count_ratio_count", "state_transition_count_count"), (), NAMESPACE_ONLY),)
)


def _schedule_to_start(task_type: str) -> BucketRates:
    return BucketRates(
        Term(
            server_timer_buckets("task_schedule_to_start_latency"),
            (("task_type", "=", task_type),),
            SERVER_SCOPES,
        )
    )


_WF_S2S = _schedule_to_start("Workflow")
_ACT_S2S = _schedule_to_start("Activity")
_PERSISTENCE = BucketRates(Term(server_timer_buckets("persistence_latency"), (), NAMESPACE_ONLY))
_DISPATCH = BucketRates(Term(server_timer_buckets("task_dispatch_latency"), (), SERVER_SCOPES))
_POLL_SYNC = RateSum((Term(server_counter("poll_success_sync"), (), SERVER_SCOPES),))
_POLL_ALL = RateSum((Term(server_counter("poll_success"), (), SERVER_SCOPES),))
_SLOTS_USED = GaugeAgg((Term(same("temporal_worker_task_slots_used"), (), SDK_SCOPES),))
_SLOTS_FREE = GaugeAgg((Term(same("temporal_worker_task_slots_available"), (), SDK_SCOPES),))


def _gauge(name: str, agg: str = "sum", scopes: Scopes = UNSCOPED) -> Direct:
    return Direct(GaugeAgg((Term(same(name), (), scopes),), agg))


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


def _build() -> tuple[MetricSpec, ...]:
    T, L, M, D, E, R = (
        Category.THROUGHPUT,
        Category.LATENCY,
        Category.MATCHING,
        Category.DSQL_POOL,
        Category.ERRORS,
        Category.RESOURCES,
    )
    specs: list[MetricSpec] = [
        MetricSpec(
            "workflows_started_per_sec",
            T,
            "Workflows started/s",
            "1/s",
            Better.NEUTRAL,
            ThresholdClass.THROUGHPUT,
            0.05,
            Direct(_STARTS),
            description="Rate of StartWorkflowExecution and SignalWithStart requests at the frontend "
            "(Temporal has no 'workflow started' counter). It reflects offered load, so it is neutral.",
        ),
        MetricSpec(
            "workflows_completed_per_sec",
            T,
            "Workflows completed/s",
            "1/s",
            Better.HIGHER,
            ThresholdClass.THROUGHPUT,
            0.05,
            Direct(_CLOSES),
            influenced_by=("history.persistenceMaxQPS", *WORKER_KEYS),
            key_metric=True,
            description="All workflow closes: success, failed, timeout, terminate, cancel, continued-as-new.",
        ),
        MetricSpec(
            "state_transitions_per_sec",
            T,
            "State transitions/s",
            "1/s",
            Better.HIGHER,
            ThresholdClass.THROUGHPUT,
            0.5,
            Direct(_STATE_TRANSITIONS),
            influenced_by=("history.persistenceMaxQPS", "TEMPORAL_SQL_MAX_CONNS"),
            key_metric=True,
            description="Rate of the state_transition_count histogram's count (its _sum overcounts).",
        ),
    ]
    for key, title, hist in (
        ("workflow_schedule_to_start", "Workflow task schedule-to-start", _WF_S2S),
        ("activity_schedule_to_start", "Activity task schedule-to-start", _ACT_S2S),
        ("persistence_latency", "Persistence latency", _PERSISTENCE),
    ):
        influencers = PERSISTENCE_KEYS + POOL_KEYS if key == "persistence_latency" else MATCHING_KEYS + WORKER_KEYS
        for q in (95, 99):
            specs.append(
                MetricSpec(
                    f"{key}_p{q}",
                    L,
                    f"{title} p{q}",
                    "ms",
                    Better.LOWER,
                    ThresholdClass.LATENCY,
                    1.0,
                    Quantile(hist, q / 100),
                    influenced_by=tuple(dict.fromkeys(influencers)),
                    key_metric=True,
                )
            )
    specs += [
        MetricSpec(
            "sync_match_rate",
            M,
            "Sync match rate",
            "ratio",
            Better.HIGHER,
            ThresholdClass.THROUGHPUT,
            0.01,
            Ratio(_POLL_SYNC, _POLL_ALL, "part/whole"),
            influenced_by=MATCHING_KEYS + WORKER_KEYS,
            key_metric=True,
            description="poll_success_sync / poll_success: tasks handed straight to a waiting poller.",
        ),
        MetricSpec(
            "async_match_rate",
            M,
            "Async match rate",
            "ratio",
            Better.LOWER,
            ThresholdClass.THROUGHPUT,
            0.01,
            Ratio(_POLL_SYNC, _POLL_ALL, "1-part/whole"),
            influenced_by=MATCHING_KEYS + WORKER_KEYS,
            description="Share of polls served from the backlog (1 - sync match rate).",
        ),
        MetricSpec(
            "task_dispatch_latency",
            M,
            "Task dispatch latency p95",
            "ms",
            Better.LOWER,
            ThresholdClass.LATENCY,
            1.0,
            Quantile(_DISPATCH, 0.95),
            influenced_by=MATCHING_KEYS,
        ),
        MetricSpec(
            "backlog_count",
            M,
            "Backlog count",
            "tasks",
            Better.LOWER,
            ThresholdClass.CAPACITY,
            5.0,
            _gauge("approximate_backlog_count", "sum", SERVER_SCOPES),
            influenced_by=MATCHING_KEYS + WORKER_KEYS,
        ),
        MetricSpec(
            "backlog_age",
            M,
            "Backlog age",
            "s",
            Better.LOWER,
            ThresholdClass.LATENCY,
            1.0,
            _gauge("approximate_backlog_age_seconds", "max", SERVER_SCOPES),
            influenced_by=MATCHING_KEYS + WORKER_KEYS,
        ),
        MetricSpec(
            "pool_open_count",
            D,
            "Pool open connections",
            "connections",
            Better.NEUTRAL,
            ThresholdClass.CAPACITY,
            1.0,
            _gauge("dsql_pool_open"),
            influenced_by=POOL_KEYS,
        ),
        MetricSpec(
            "pool_in_use_count",
            D,
            "Pool in-use connections",
            "connections",
            Better.NEUTRAL,
            ThresholdClass.CAPACITY,
            1.0,
            _gauge("dsql_pool_in_use"),
            influenced_by=POOL_KEYS,
        ),
        MetricSpec(
            "pool_idle_count",
            D,
            "Pool idle connections",
            "connections",
            Better.NEUTRAL,
            ThresholdClass.CAPACITY,
            1.0,
            _gauge("dsql_pool_idle"),
            influenced_by=POOL_KEYS,
        ),
        MetricSpec(
            "reservoir_size",
            D,
            "Reservoir size",
            "connections",
            Better.HIGHER,
            ThresholdClass.CAPACITY,
            1.0,
            _gauge("dsql_reservoir_size"),
            influenced_by=RESERVOIR_KEYS,
            family="dsql_reservoir",
            description="Ready connections in the DSQL reservoir (reservoir mode only); drained is bad.",
        ),
        MetricSpec(
            "reservoir_empty_events",
            D,
            "Reservoir empty events/s",
            "1/s",
            Better.LOWER,
            ThresholdClass.ERROR,
            0.01,
            _rate(Term(same("dsql_reservoir_empty_total"))),
            influenced_by=RESERVOIR_KEYS,
            family="dsql_reservoir",
            absent_is_zero=True,
        ),
        MetricSpec(
            "open_failures",
            D,
            "Connection open failures/s",
            "1/s",
            Better.LOWER,
            ThresholdClass.ERROR,
            0.01,
            _rate(
                Term(same("dsql_reservoir_refill_failures_total")),
                Term(same("dsql_pool_keeper_topup_failures_total")),
            ),
            influenced_by=RESERVOIR_KEYS,
            family="dsql_reservoir",
            absent_is_zero=True,
        ),
        MetricSpec(
            "reconnect_count",
            D,
            "Reconnects (session refreshes)/s",
            "1/s",
            Better.LOWER,
            ThresholdClass.ERROR,
            0.01,
            _rate(Term(server_counter("persistence_session_refresh_attempts"))),
            influenced_by=("TEMPORAL_SQL_MAX_CONN_LIFETIME", "DSQL_RESERVOIR_BASE_LIFETIME"),
            description="No reconnect metric exists; session refresh attempts count whole-handle reconnects.",
        ),
        MetricSpec(
            "occ_conflicts_per_sec",
            E,
            "OCC conflicts/s",
            "1/s",
            Better.LOWER,
            ThresholdClass.ERROR,
            0.01,
            _rate(Term(same("dsql_tx_conflict_total"))),
            influenced_by=(
                "history.persistenceMaxQPS",
                "TEMPORAL_SQL_MAX_CONNS",
                "persistence.numHistoryShards",
            ),
            family="dsql_tx",
            absent_is_zero=True,
            key_metric=True,
        ),
        MetricSpec(
            "exhausted_retries_per_sec",
            E,
            "Exhausted retries/s",
            "1/s",
            Better.LOWER,
            ThresholdClass.ERROR,
            0.01,
            _rate(Term(same("dsql_tx_exhausted_total"))),
            influenced_by=("history.persistenceMaxQPS", "TEMPORAL_SQL_MAX_CONNS"),
            family="dsql_tx",
            absent_is_zero=True,
            key_metric=True,
        ),
        MetricSpec(
            "dsql_auth_failures",
            E,
            "DSQL auth failures/s",
            "1/s",
            Better.LOWER,
            ThresholdClass.ERROR,
            0.01,
            _rate(
                Term(same("dsql_token_refresh_failures_total")),
                Term(same("dsql_reservoir_refill_failures_total"), (("reason", "=", "token_provider"),)),
            ),
            family="dsql_reservoir",
            absent_is_zero=True,
            description="IAM token generation failures plus reservoir refills failed by the token provider.",
        ),
    ]
    for service in _SERVICES:
        specs.append(
            MetricSpec(
                f"cpu_utilization.{service}",
                R,
                f"CPU ({service})",
                "cores",
                Better.LOWER,
                ThresholdClass.CAPACITY,
                0.01,
                _rate(Term(same("container_cpu_usage_seconds_total"), (("container", "=~", f".*{service}.*"),))),
                description="Temporal exports no CPU metric; read from cAdvisor's "
                "container_cpu_usage_seconds_total where the deployment scrapes it, otherwise no data.",
            )
        )
    for service in _SERVICES:
        specs.append(
            MetricSpec(
                f"memory_utilization.{service}",
                R,
                f"Go heap in use ({service})",
                "bytes",
                Better.LOWER,
                ThresholdClass.CAPACITY,
                1_000_000.0,
                Direct(GaugeAgg((Term(same("memory_heapinuse"), (("service_name", "=", service),)),))),
                description="memory_heapinuse: Go heap bytes in use (not RSS).",
            )
        )
    specs.append(
        MetricSpec(
            "worker_task_slot_utilization",
            R,
            "Worker task slot utilization",
            "ratio",
            Better.LOWER,
            ThresholdClass.CAPACITY,
            0.01,
            Ratio(_SLOTS_USED, _SLOTS_FREE, "a/(a+b)"),
            influenced_by=WORKER_KEYS,
            description="SDK slots used / (used + available); 1 means saturated.",
        )
    )
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


def scoped_by(dimension: str) -> frozenset[str]:
    """Keys of the metrics whose every query is scoped by a profile dimension (``namespace``, ``task_queue``)."""
    return frozenset(
        spec.key
        for spec in CATALOGUE
        if series_queries(spec)
        and all(dimension in dict(term.scopes) for query in series_queries(spec) for term in _terms(query))
    )
