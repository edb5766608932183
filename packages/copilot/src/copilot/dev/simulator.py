"""Workload simulator: Temporal- and DSQL-shaped Prometheus metrics for named scenarios.

The simulator writes OpenMetrics text that ``promtool tsdb create-blocks-from openmetrics FILE DIR``
backfills into a Prometheus TSDB, so that a profile can be built from real PromQL on a real Prometheus.
It uses the real metric names and label sets of the Temporal server, its SDKs and the DSQL persistence
plugin (see ``shared/metrics-reference.md``), in either of the server's naming dialects.

Scenarios
    A :class:`Scenario` is a set of parameters (load, completion ratios, latency distributions, matching
    behaviour, DSQL pool and reservoir behaviour, heap sizes). :data:`SCENARIOS` holds the named ones:
    ``healthy-150wps``, ``healthy-150wps-noise`` (same parameters, another noise realisation) and
    ``failing-400wps``.

Judgement scenarios
    Each is ``healthy-150wps`` with exactly one cause changed, so that a comparison against the healthy
    baseline must flag exactly that cause's direct effects (:data:`JUDGEMENT_SCENARIOS`, in the order
    :func:`judgement_plan` lays them out):

    ``healthy-150wps-noise``          nothing (another noise realisation)
    ``latency-family-up-80``          persistence latency median and p99 x1.8
    ``sync-match-collapse``           sync match ratio 0.95 -> 0.3 (polls unchanged)
    ``conflicts-x4``                  OCC conflicts 0.5/s -> 2/s
    ``exhausted-from-zero``           exhausted retries 0 -> 0.2/s
    ``reservoir-drained``             reservoir fill drains from 0.4 to 0 over the window (was 0.96)
    ``throughput-down-40``            150 -> 90 workflows/s; completions, transitions, tasks follow
    ``latency-improved-40``           persistence latency median and p99 x0.6
    ``dsql-family-missing``           no DSQL plugin series (``dsql_*``) at all
    ``schedule-to-start-p99-up-150``  workflow and activity schedule-to-start p99 x2.5, median steady

    Nothing else in the simulator depends on these parameters: backlog, dispatch latency, slots and
    the cluster-wide counters do not follow load, latency or matching.

Attribution scenarios
    ``update-execution-slow-x3`` is ``healthy-150wps`` with persistence operation
    ``UpdateWorkflowExecution`` alone three times slower: a regression that lives in one operation.
    ``healthy-150wps-three-queues`` splits the namespace's work over three task queues
    (``Scenario.other_queues``): the placement's own queue keeps half, ``orders-queue`` takes 30 % and
    ``billing-queue`` 20 %; every per-task-queue series (closes, activities, schedule-to-start, dispatch,
    polls, backlog, worker slots) is written for each queue at its share of the load, the namespace's
    other series as with one queue. ``orders-queue-slow-x4`` is the same with tasks on ``orders-queue``
    alone waiting four times longer (``Scenario.queue_slowdown``: its schedule-to-start latencies and
    backlog x4): a regression that lives in one task queue.

Placements
    A :class:`Placement` puts a scenario into a time window of one namespace in one cluster.
    ``load_factor`` multiplies the scenario's per-namespace throughput. Two placements of the same cluster
    and namespace must not overlap in time (they would write the same series twice).

Per-namespace and cluster-wide series
    Series that carry a ``namespace`` label are written once per placement. Series without one (DSQL
    pool, reservoir and transaction counters, ``persistence_session_refresh_attempts``,
    ``memory_heapinuse``, ``build_information``) are written once per *cluster window*: placements of
    one cluster whose windows overlap form a group covering the union of their windows, and the group's
    first placement (earliest start, then order given) drives those series with its scenario and load
    factor. This way two namespaces sharing an hour never produce duplicate series.

Values
    Counters start at 0 at the window start and grow by ``rate * interval`` times a noise factor. A
    counter whose scenario rate is zero is not written at all: a real counter appears only after its
    first increment. Histograms are cumulative per bucket; each interval adds the expected bucket
    increments of a lognormal distribution (chosen median and p99, with a slightly jittered median) times
    the interval's event count, so ``+Inf`` equals ``_count`` and ``_sum`` matches the distribution's
    mean. Noise comes from ``random.Random`` seeded per series from ``seed``, the scenario's name, the
    placement (cluster, namespace, task queue, start) and the series' name and labels: the output is
    a pure function of its inputs.

Format
    One ``# TYPE`` line per family, every sample of a family contiguous, per labelset ascending
    timestamps (promtool silently drops out-of-order samples), timestamps in unix seconds, ``# EOF`` last.
    Counters are typed ``counter`` with ``_total`` samples; tally's suffix-less server counters are typed
    ``unknown`` (OpenMetrics reserves ``counter`` for ``_total`` samples). Timers are ``histogram``
    families: ``<name>_milliseconds`` in ms (OpenTelemetry) or ``<name>`` in seconds with ``le`` bounds
    divided by 1000 (tally).

Demo layout (:func:`demo_plan`)
    With ``A`` = ``now`` floored to the hour minus 6 h, cluster ``temporal-dev``, task queue
    ``main-queue``::

        [A,    A+1h)  healthy-150wps  namespace "default" (load 1.0) and "payments" (load 0.4)
        [A+1h, A+2h)  nothing (a gap, so the two hours never blend in a range query)
        [A+2h, A+3h)  failing-400wps  namespace "default" (load 1.0) and "payments" (load 0.4)
        [A+3h, A+4h)  nothing
        [A+4h, A+5h)  latency-family-up-80  namespace "default" (load 1.0): a later hour whose drift
                      from the healthy baseline the demo judges (persistence latency up 80 %)

    The DSQL and other cluster-wide series follow the "default" placement of each hour.

Judgement layout (:func:`judgement_plan`)
    Cluster ``judge``, namespace ``default``, task queue ``main-queue``, load 1.0. With ``E`` = ``now``
    floored to the hour minus 1 h, the i-th scenario of ``("healthy-150wps", *JUDGEMENT_SCENARIOS)``
    runs over ``[E - 72i min - 1 h, E - 72i min)``: one hour each, 12 minutes' gap between two, the
    oldest starting under 24 h before the floored ``now``.

Not written: ``container_cpu_usage_seconds_total`` (Temporal exports no CPU metric, so a profile built
from simulated data must report "no data" for CPU).
"""

from __future__ import annotations

import hashlib
import math
import random
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from enum import Enum
from itertools import accumulate
from types import MappingProxyType
from typing import Any, TextIO

from behaviour_profiles.breakdown import UNNAMED_TASK_QUEUE
from behaviour_profiles.catalogue import Dialect, tally_value

__all__ = [
    "DEMO_DEPLOYMENTS",
    "DEMO_DRIFT_SCENARIO",
    "JUDGEMENT_CLUSTER",
    "JUDGEMENT_SCENARIOS",
    "SCENARIOS",
    "SLOW_QUEUE",
    "SLOW_QUEUE_SCENARIO",
    "Deployment",
    "Latency",
    "Placement",
    "Scenario",
    "demo_plan",
    "judgement_plan",
    "write_openmetrics",
]

_Z99 = 2.3263478740408408
"""Standard normal quantile at 0.99."""


@dataclass(frozen=True)
class Latency:
    """A lognormal latency distribution, given by its median and 99th percentile in milliseconds."""

    median_ms: float
    p99_ms: float

    def __post_init__(self) -> None:
        if not 0 < self.median_ms < self.p99_ms:
            raise ValueError("need 0 < median_ms < p99_ms")

    @property
    def sigma(self) -> float:
        return math.log(self.p99_ms / self.median_ms) / _Z99

    def scaled(self, factor: float) -> Latency:
        return Latency(self.median_ms * factor, self.p99_ms * factor)


Span = tuple[float, float]
"""A value at the window's start and at its end; values in between are interpolated linearly."""


@dataclass(frozen=True)
class Refusal:
    """Requests one service refuses with ResourceExhausted (``service_errors_resource_exhausted``), per second
    at load 1.0: which operation, which limit refused them and at what scope (as a real server labels them)."""

    operation: str
    cause: str
    per_second: float
    scope: str = "Namespace"
    service: str = "frontend"


@dataclass(frozen=True)
class Scenario:
    """Parameters of a simulated workload. Rates are per second at ``load_factor`` 1.0."""

    name: str
    description: str
    wps: float
    """StartWorkflowExecution requests per second at the frontend."""
    success_ratio: float
    """Workflows completed successfully per workflow started."""
    failure_ratio: float
    """Workflows closed as failed per workflow started."""
    transitions_per_close: float
    """State transition observations per closed workflow."""
    workflow_schedule_to_start: Latency
    activity_schedule_to_start: Latency
    persistence: Latency
    """UpdateWorkflowExecution latency; other operations scale from it."""
    task_dispatch: Latency
    sync_match_ratio: float
    """poll_success_sync / poll_success."""
    backlog_count: Span
    """Tasks in backlog per task queue (all task types), at load 1.0."""
    backlog_age_s: Span
    slot_utilization: float
    """SDK activity worker task slots used / total (workflow slots run at half of it, local-activity slots idle)."""
    pool_open_fraction: float
    """dsql_pool_open / dsql_pool_max_open."""
    pool_in_use_fraction: float
    """dsql_pool_in_use / dsql_pool_max_open."""
    reservoir_fill: Span
    """dsql_reservoir_size / dsql_reservoir_target."""
    tx_conflicts_per_s: float
    tx_exhausted_per_s: float
    reservoir_empty_per_s: float
    reservoir_refills_per_s: float
    refill_failures_per_s: tuple[tuple[str, float], ...]
    """(reason, rate) of dsql_reservoir_refill_failures_total."""
    token_refresh_failures_per_s: float
    session_refreshes_per_s: float
    heap_scale: Span
    """memory_heapinuse relative to each service's base heap."""
    noise: float = 0.03
    """Relative standard deviation of per-interval noise."""
    dsql_plugin: bool = True
    """Whether the DSQL persistence plugin exports its series (``dsql_*``) at all."""
    activity_failure_ratio: float = 0.0
    """Activity attempts that fail (``activity_task_fail``) per attempt."""
    activity_timeout_ratio: float = 0.0
    """Activity attempts that time out (``activity_task_timeout``) per attempt."""
    terminate_ratio: float = 0.0
    """Workflows terminated (``workflow_terminate``) per workflow started."""
    service_error_ratio: float = 0.0
    """Start requests answered with an error (``service_errors``) per request."""
    refusals: tuple[Refusal, ...] = ()
    """Requests refused by a limit (``service_errors_resource_exhausted``; a real server does not count them in
    ``service_errors``)."""
    persistence_refusals: tuple[tuple[str, float], ...] = ()
    """(persistence operation, per second at load 1.0) that history's persistence QPS limit refuses
    (``persistence_error_with_type``, ResourceExhausted): a real server refuses them rather than queue them."""
    workflow_task_failures: tuple[tuple[str, float], ...] = ()
    """(cause, per second at load 1.0) of workflow tasks a worker failed (``failed_workflow_tasks``, label
    ``failure``: WorkflowWorkerUnhandledFailure for workflow code that raises)."""
    workflow_task_timeouts_per_s: float = 0.0
    """Workflow tasks a worker took and never answered, per second at load 1.0 (history's timer,
    ``start_to_close_timeout`` with operation TimerActiveTaskWorkflowTaskTimeout)."""
    start_latency: Latency = Latency(12.0, 90.0)
    """StartWorkflowExecution latency at the frontend (``service_latency``)."""
    shard_lock: Latency = Latency(0.3, 3.0)
    """History shard lock latency (``lock_latency``, operation ShardInfo)."""
    activity_execution: Latency = Latency(250.0, 1_500.0)
    """Each activity attempt's time on its worker (``activity_start_to_close_latency``, completed and failed
    attempts)."""
    ramp_up: float = 0.0
    """Share of the window over which every counter's rate rises linearly from zero (a load test's ramp-up)."""
    operation_latency: tuple[tuple[str, float], ...] = ()
    """(persistence operation, factor): that operation alone is this many times slower (a regression that
    lives in one operation)."""
    other_queues: tuple[tuple[str, float], ...] = ()
    """(task queue, share of the namespace's work) beside the placement's own task queue, which keeps the
    rest: every per-task-queue series is written for each queue at its share of the load."""
    queue_slowdown: tuple[tuple[str, float], ...] = ()
    """(task queue, factor): tasks wait this many times longer on that queue alone (its schedule-to-start
    latencies, median and p99, and its backlog count and age; a regression that lives in one task queue)."""

    def __post_init__(self) -> None:
        shares = [share for _, share in self.other_queues]
        if any(share <= 0 for share in shares) or math.fsum(shares) >= 1.0:
            raise ValueError("other_queues' shares must be positive and leave the placement's queue some work")
        if len({queue for queue, _ in self.other_queues}) != len(self.other_queues):
            raise ValueError("other_queues names a task queue twice")
        if any(factor <= 0 for _, factor in self.queue_slowdown):
            raise ValueError("queue_slowdown's factors must be positive")


HEALTHY_150 = Scenario(
    name="healthy-150wps",
    description="Steady 150 workflows/s: fast persistence, sync matching, full reservoir, few OCC conflicts.",
    wps=150.0,
    success_ratio=0.98,
    failure_ratio=0.005,
    transitions_per_close=8.0,
    workflow_schedule_to_start=Latency(5.0, 40.0),
    activity_schedule_to_start=Latency(8.0, 60.0),
    persistence=Latency(6.0, 30.0),
    task_dispatch=Latency(2.0, 20.0),
    sync_match_ratio=0.95,
    backlog_count=(8.0, 8.0),
    backlog_age_s=(0.2, 0.2),
    slot_utilization=0.4,
    pool_open_fraction=0.5,
    pool_in_use_fraction=0.3,
    reservoir_fill=(0.96, 0.96),
    tx_conflicts_per_s=0.5,
    tx_exhausted_per_s=0.0,
    reservoir_empty_per_s=0.0,
    reservoir_refills_per_s=0.25,
    refill_failures_per_s=(),
    token_refresh_failures_per_s=0.0,
    session_refreshes_per_s=0.003,
    heap_scale=(1.0, 1.0),
    noise=0.03,
)

FAILING_400 = Scenario(
    name="failing-400wps",
    description="400 workflows/s overload: slow persistence, OCC conflicts and exhausted retries, drained "
    "reservoir, sync-match collapse, growing backlog, saturated workers.",
    wps=400.0,
    success_ratio=0.55,
    failure_ratio=0.05,
    transitions_per_close=8.0,
    workflow_schedule_to_start=Latency(150.0, 2500.0),
    activity_schedule_to_start=Latency(400.0, 6000.0),
    persistence=Latency(20.0, 200.0),
    task_dispatch=Latency(30.0, 800.0),
    sync_match_ratio=0.3,
    backlog_count=(200.0, 20000.0),
    backlog_age_s=(2.0, 600.0),
    slot_utilization=0.99,
    pool_open_fraction=1.0,
    pool_in_use_fraction=0.97,
    reservoir_fill=(0.12, 0.0),
    tx_conflicts_per_s=3.0,
    tx_exhausted_per_s=2.0,
    reservoir_empty_per_s=1.5,
    reservoir_refills_per_s=2.5,
    refill_failures_per_s=(("rate_limit", 0.4), ("connection_open", 0.15), ("token_provider", 0.05)),
    token_refresh_failures_per_s=0.05,
    session_refreshes_per_s=0.03,
    heap_scale=(1.5, 1.9),
    noise=0.08,
    activity_failure_ratio=0.12,
    activity_timeout_ratio=0.02,
    terminate_ratio=0.01,
    service_error_ratio=0.02,
    # the namespace's request rate limit reached: polls (the lowest priority) refused first, then starts
    refusals=(
        Refusal("PollWorkflowTaskQueue", "RpsLimit", 6.0),
        Refusal("PollActivityTaskQueue", "RpsLimit", 4.0),
        Refusal("StartWorkflowExecution", "RpsLimit", 1.0),
    ),
    # and history's persistence QPS limit (lowered from 9000 to 3000 in its deployment) refuses requests
    persistence_refusals=(("UpdateWorkflowExecution", 8.0), ("GetWorkflowExecution", 4.0)),
    # CPU-starved workers: some workflow tasks overrun the SDK's deadlock detector (failed), others are
    # answered after their timeout (timed out)
    workflow_task_failures=(("WorkflowWorkerUnhandledFailure", 0.5),),
    workflow_task_timeouts_per_s=1.5,
    start_latency=Latency(60.0, 1200.0),
    shard_lock=Latency(2.0, 40.0),
)


def _one_change(name: str, description: str, **changes: Any) -> Scenario:
    """``healthy-150wps`` with exactly one cause changed."""
    return replace(HEALTHY_150, name=name, description=description, **changes)


@dataclass(frozen=True)
class Deployment:
    """The configuration and versions a demo window ran with, as a profile request carries them."""

    environment: Mapping[str, str]
    dynamic_config: str
    """Temporal's dynamic config YAML."""
    temporal_server_version: str
    dsql_plugin_version: str
    worker_code_sha: str

    def profile_fields(self) -> dict[str, Any]:
        """The ``config`` and version fields of ``POST /profiles``."""
        return {
            "config": {"environment": dict(self.environment), "dynamic_config": self.dynamic_config},
            "temporal_server_version": self.temporal_server_version,
            "dsql_plugin_version": self.dsql_plugin_version,
            "worker_code_sha": self.worker_code_sha,
        }


_HEALTHY_DEPLOYMENT = Deployment(
    environment={
        "TEMPORAL_SQL_MAX_CONNS": "50",
        "DSQL_RESERVOIR_ENABLED": "true",
        "DSQL_RESERVOIR_TARGET_READY": "40",
    },
    dynamic_config="history.persistenceMaxQPS:\n  - value: 9000\n",
    temporal_server_version="1.27.2",
    dsql_plugin_version="0.4.1",
    worker_code_sha="3f9c2e1",
)

DEMO_DRIFT_SCENARIO = "latency-family-up-80"
"""The demo's third window: a later hour judged for drift against the healthy baseline."""

DEMO_DEPLOYMENTS: Mapping[str, Deployment] = MappingProxyType(
    {
        "healthy-150wps": _HEALTHY_DEPLOYMENT,
        # the later hour: the SQL pool shrunk from 50 to 20 connections (persistence requests queue)
        DEMO_DRIFT_SCENARIO: replace(
            _HEALTHY_DEPLOYMENT,
            environment={**_HEALTHY_DEPLOYMENT.environment, "TEMPORAL_SQL_MAX_CONNS": "20"},
        ),
        # the incident's changes: more SQL connections (more concurrent transactions: OCC conflicts on
        # DSQL), a lower history persistence QPS limit (persistence requests refused), a smaller
        # reservoir target (drained under load) and a new DSQL plugin version
        "failing-400wps": replace(
            _HEALTHY_DEPLOYMENT,
            environment={
                "TEMPORAL_SQL_MAX_CONNS": "100",
                "DSQL_RESERVOIR_ENABLED": "true",
                "DSQL_RESERVOIR_TARGET_READY": "10",
            },
            dynamic_config="history.persistenceMaxQPS:\n  - value: 3000\n",
            dsql_plugin_version="0.5.0",
        ),
    }
)
"""What each demo window ran with: the demo's profiles carry it, so its comparison shows config and version
diffs and the correlation of the changed settings with the regressions."""


_H = HEALTHY_150
_JUDGEMENT: tuple[Scenario, ...] = (
    _one_change(
        "latency-family-up-80",
        "healthy-150wps with persistence latency (median and p99) 80 % higher.",
        persistence=_H.persistence.scaled(1.8),
    ),
    _one_change(
        "sync-match-collapse",
        "healthy-150wps with the sync match ratio collapsed from 0.95 to 0.3 (polls unchanged).",
        sync_match_ratio=0.3,
    ),
    _one_change(
        "conflicts-x4",
        "healthy-150wps with four times the OCC conflicts (0.5/s to 2/s).",
        tx_conflicts_per_s=_H.tx_conflicts_per_s * 4,
    ),
    _one_change(
        "exhausted-from-zero",
        "healthy-150wps with exhausted transaction retries appearing (0 to 0.2/s).",
        tx_exhausted_per_s=0.2,
    ),
    _one_change(
        "reservoir-drained",
        "healthy-150wps with the DSQL reservoir draining from 40 % of its target to empty.",
        reservoir_fill=(0.4, 0.0),
    ),
    _one_change(
        "throughput-down-40",
        "healthy-150wps at 90 workflows/s: starts, and so completions and state transitions, 40 % lower.",
        wps=_H.wps * 0.6,
    ),
    _one_change(
        "latency-improved-40",
        "healthy-150wps with persistence latency (median and p99) 40 % lower.",
        persistence=_H.persistence.scaled(0.6),
    ),
    _one_change(
        "dsql-family-missing",
        "healthy-150wps without any DSQL plugin series (pool, reservoir, transactions, tokens).",
        dsql_plugin=False,
    ),
    _one_change(
        "schedule-to-start-p99-up-150",
        "healthy-150wps with workflow and activity schedule-to-start p99 2.5 times higher, medians steady.",
        workflow_schedule_to_start=Latency(
            _H.workflow_schedule_to_start.median_ms, _H.workflow_schedule_to_start.p99_ms * 2.5
        ),
        activity_schedule_to_start=Latency(
            _H.activity_schedule_to_start.median_ms, _H.activity_schedule_to_start.p99_ms * 2.5
        ),
    ),
)

_JUDGEMENT_V2: tuple[Scenario, ...] = (
    _one_change(
        "backlog-age-from-none",
        "healthy-150wps with the oldest backlog task an hour old (backlog age from under a second to ~3,630 s).",
        backlog_age_s=(3_600.0, 3_660.0),
    ),
    _one_change(
        "activities-slow-x5",
        "healthy-150wps with every activity attempt five times slower on its worker (median 250 ms to 1.25 s).",
        activity_execution=_H.activity_execution.scaled(5.0),
    ),
    _one_change(
        "polls-throttled",
        "healthy-150wps with the namespace's request rate limit refusing 5 polls/s (ResourceExhausted, RpsLimit).",
        refusals=(Refusal("PollWorkflowTaskQueue", "RpsLimit", 3.0), Refusal("PollActivityTaskQueue", "RpsLimit", 2.0)),
    ),
    _one_change(
        "workflow-tasks-failing",
        "healthy-150wps with workflow code that raises after a deploy: 2 workflow tasks/s failed "
        "(WorkflowWorkerUnhandledFailure) and 3/s timed out at their retries.",
        workflow_task_failures=(("WorkflowWorkerUnhandledFailure", 2.0),),
        workflow_task_timeouts_per_s=3.0,
    ),
    _one_change(
        "backlog-x5000",
        "healthy-150wps with 5,000 times the backlog (8 to 40,000 tasks per task queue).",
        backlog_count=(_H.backlog_count[0] * 5_000, _H.backlog_count[1] * 5_000),
    ),
    _one_change(
        "same-efficiency-2.5x-load",
        "healthy-150wps at 375 workflows/s with OCC conflicts 2.5 times higher too: the same conflicts per "
        "state transition, only busier.",
        wps=_H.wps * 2.5,
        tx_conflicts_per_s=_H.tx_conflicts_per_s * 2.5,
    ),
    _one_change(
        "ramp-up-12min",
        "healthy-150wps whose counters ramp up from zero over the first 12 minutes (a load test's ramp-up).",
        ramp_up=0.2,
    ),
)

SLOW_QUEUE = "orders-queue"
"""The task queue that scenario ``orders-queue-slow-x4`` slows down."""
SLOW_QUEUE_SCENARIO = "orders-queue-slow-x4"
_THREE_QUEUES = _one_change(
    "healthy-150wps-three-queues",
    f"healthy-150wps with its work split over three task queues: the placement's own (half), {SLOW_QUEUE} "
    "(30 %) and billing-queue (20 %).",
    other_queues=((SLOW_QUEUE, 0.3), ("billing-queue", 0.2)),
)

SCENARIOS: Mapping[str, Scenario] = MappingProxyType(
    {
        s.name: s
        for s in (
            HEALTHY_150,
            _one_change(
                "update-execution-slow-x3",
                "healthy-150wps with persistence operation UpdateWorkflowExecution alone three times slower.",
                operation_latency=(("UpdateWorkflowExecution", 3.0),),
            ),
            _THREE_QUEUES,
            replace(
                _THREE_QUEUES,
                name=SLOW_QUEUE_SCENARIO,
                description=f"{_THREE_QUEUES.name} with tasks on {SLOW_QUEUE} alone waiting four times longer "
                "(its schedule-to-start latencies and its backlog x4).",
                queue_slowdown=((SLOW_QUEUE, 4.0),),
            ),
            replace(
                HEALTHY_150,
                name="healthy-150wps-noise",
                description="healthy-150wps again with another noise realisation (a no-change baseline).",
            ),
            FAILING_400,
            *_JUDGEMENT,
            *_JUDGEMENT_V2,
        )
    }
)

JUDGEMENT_SCENARIOS: tuple[str, ...] = (
    "healthy-150wps-noise",
    *(s.name for s in _JUDGEMENT),
    *(s.name for s in _JUDGEMENT_V2),
)
"""The one-change scenarios compared against ``healthy-150wps``, in :func:`judgement_plan` order."""

JUDGEMENT_CLUSTER = "judge"
JUDGEMENT_GAP = timedelta(minutes=12)
"""Between two judgement windows: no rate window reaches across it, and all of them fit in a day."""


@dataclass(frozen=True)
class Placement:
    """A scenario running in one namespace of one cluster over ``[start, start + duration)``."""

    scenario: str
    namespace: str
    start: datetime
    duration: timedelta
    cluster: str = "temporal-dev"
    task_queue: str = "main-queue"
    load_factor: float = 1.0
    server_names_queue: bool = True
    """False: the server leaves the task queue unnamed, as with the dynamic config
    ``metrics.breakdownByTaskQueue`` false: its series carry ``taskqueue="__omitted__"`` and it writes no
    backlog gauges (SDK series keep the name). One task queue per placement then."""


def demo_plan(now: datetime) -> list[Placement]:
    """The demo layout described in the module docstring (naive ``now`` is taken as UTC)."""
    if now.tzinfo is None:
        now = now.replace(tzinfo=UTC)
    anchor = now.replace(minute=0, second=0, microsecond=0) - timedelta(hours=6)
    hour = timedelta(hours=1)
    plan: list[Placement] = []
    for scenario, start in (("healthy-150wps", anchor), ("failing-400wps", anchor + 2 * hour)):
        for namespace, load in (("default", 1.0), ("payments", 0.4)):
            plan.append(Placement(scenario, namespace, start, hour, load_factor=load))
    plan.append(Placement(DEMO_DRIFT_SCENARIO, "default", anchor + 4 * hour, hour))
    return plan


def judgement_plan(now: datetime) -> list[Placement]:
    """``healthy-150wps`` and each judgement scenario in its own hour of cluster ``judge`` (see above)."""
    if now.tzinfo is None:
        now = now.replace(tzinfo=UTC)
    end = now.replace(minute=0, second=0, microsecond=0) - timedelta(hours=1)
    hour = timedelta(hours=1)
    step = hour + JUDGEMENT_GAP
    return [
        Placement(name, "default", end - i * step - hour, hour, cluster=JUDGEMENT_CLUSTER)
        for i, name in enumerate(("healthy-150wps", *JUDGEMENT_SCENARIOS))
    ]


# --- constants of the simulated deployment ------------------------------------------------------

BUILD_VERSION = "1.27.2"
_BUILD_LABELS = (
    ("build_version", BUILD_VERSION),
    ("git_revision", "simulated"),
    ("build_date", "2025-03-01T00:00:00Z"),
    ("go_version", "go1.23.6"),
    ("build_platform", "amd64"),
)
_SERVICES = ("history", "matching", "frontend", "worker")
_HEAP_BASE_BYTES = {"history": 450e6, "matching": 220e6, "frontend": 180e6, "worker": 120e6}
_POOL_MAX_OPEN = {"history": 100, "matching": 50, "frontend": 30, "worker": 20}
_POOL_TOTAL = sum(_POOL_MAX_OPEN.values())
_TASK_TYPES = ("Workflow", "Activity")
_TASKS_PER_CLOSE = {"Workflow": 3.0, "Activity": 2.0}
_BACKLOG_SHARE = {"Workflow": 0.3, "Activity": 0.7}
_WORKER_SLOTS = {"WorkflowWorker": 100, "ActivityWorker": 200, "LocalActivityWorker": 100}
_SLOT_SHARE = {"WorkflowWorker": 0.5, "ActivityWorker": 1.0, "LocalActivityWorker": 0.0}
"""Each worker type's utilisation relative to the scenario's (activity) ``slot_utilization``."""
_SDK_SERVICE = "temporal-core-sdk"
_PERSISTENCE_OPS = (
    # operation, requests per start (Create) or per close (others), latency factor
    ("CreateWorkflowExecution", 1.0, 1.3),
    ("UpdateWorkflowExecution", 6.0, 1.0),
    ("GetWorkflowExecution", 2.0, 0.5),
)
_TX_OPERATIONS = (("UpdateWorkflowExecution", 0.75), ("CreateWorkflowExecution", 0.25))
_MS_BUCKETS = (1.0, 2.0, 5.0, 10.0, 25.0, 50.0, 100.0, 250.0, 500.0, 1000.0, 2500.0, 5000.0, 10000.0)
_LOCK_MS_BUCKETS = (0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 25.0, 50.0, 100.0, 250.0)
_RATIO_BUCKETS = (1.0, 2.0, 5.0, 10.0, 20.0, 50.0, 100.0, 200.0, 500.0, 1000.0)
_TRANSITIONS_DIST = Latency(12.0, 80.0)
"""Distribution of a state_transition_count observation (dimensionless, reuses the lognormal)."""


# --- families and naming ------------------------------------------------------------------------


class _Kind(Enum):
    SERVER_COUNTER = "server_counter"
    PLUGIN_COUNTER = "plugin_counter"
    GAUGE = "gauge"
    TIMER = "timer"
    RATIO = "ratio"


@dataclass(frozen=True)
class _Family:
    base: str
    kind: _Kind

    def family_name(self, dialect: Dialect) -> str:
        if self.kind is _Kind.TIMER and dialect is Dialect.OPENTELEMETRY:
            return f"{self.base}_milliseconds"
        if self.kind is _Kind.RATIO and dialect is Dialect.OPENTELEMETRY:
            return f"{self.base}_ratio"
        return self.base

    def type_name(self, dialect: Dialect) -> str:
        if self.kind is _Kind.SERVER_COUNTER:
            return "counter" if dialect is Dialect.OPENTELEMETRY else "unknown"
        if self.kind is _Kind.PLUGIN_COUNTER:
            return "counter"
        if self.kind is _Kind.GAUGE:
            return "gauge"
        return "histogram"

    def sample_name(self, dialect: Dialect) -> str:
        """The sample name of a counter or gauge."""
        if self.kind is _Kind.PLUGIN_COUNTER or (
            self.kind is _Kind.SERVER_COUNTER and dialect is Dialect.OPENTELEMETRY
        ):
            return f"{self.base}_total"
        return self.family_name(dialect)


Labels = tuple[tuple[str, str], ...]
_NOT_REWRITTEN = frozenset({"cluster", "le"})


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _render_labels(labels: Labels) -> str:
    return "{" + ",".join(f'{k}="{_escape(v)}"' for k, v in labels) + "}"


def _fmt(value: float) -> str:
    if value == int(value) and abs(value) < 2**53:
        return str(int(value))
    return repr(value)


def _fmt_bound(bound: float) -> str:
    return "+Inf" if math.isinf(bound) else format(bound, "g")


def _cdf(x: float, median: float, sigma: float) -> float:
    return 0.5 * (1.0 + math.erf((math.log(x) - math.log(median)) / (sigma * math.sqrt(2.0))))


def _lerp(span: Span, frac: float) -> float:
    return span[0] + (span[1] - span[0]) * frac


# --- windows and seeded noise ---------------------------------------------------------------------


@dataclass(frozen=True)
class _Window:
    start_s: float
    n: int
    dt: float

    def ts(self, k: int) -> float:
        return self.start_s + k * self.dt

    def frac(self, k: int) -> float:
        return k / (self.n - 1) if self.n > 1 else 0.0


def _window(start: datetime, end: datetime, dt: int) -> _Window:
    length = (end - start).total_seconds()
    return _Window(_epoch(start), max(1, math.ceil(length / dt)), float(dt))


def _epoch(moment: datetime) -> float:
    return (moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)).timestamp()


@dataclass(frozen=True)
class _Ctx:
    """Everything a family emitter needs about one placement or one cluster window."""

    scenario: Scenario
    cluster: str
    namespace: str
    task_queue: str
    load: float
    window: _Window
    seed_parts: tuple[object, ...] = field(default=())
    names_queue: bool = True

    def rng(self, *key: object) -> random.Random:
        digest = hashlib.blake2b(repr((self.seed_parts, key)).encode(), digest_size=8).digest()
        return random.Random(int.from_bytes(digest, "big"))


def _noisy(rng: random.Random, sd: float) -> float:
    return max(0.0, rng.gauss(1.0, sd))


def _increments(ctx: _Ctx, key: tuple[object, ...], rate: Span) -> list[float]:
    """Per-interval event counts (``n - 1`` of them) of a counter with the given rate."""
    rng = ctx.rng(*key)
    w = ctx.window
    sd = ctx.scenario.noise
    ramp = ctx.scenario.ramp_up

    def ramped(frac: float) -> float:
        return min(1.0, frac / ramp) if ramp > 0 else 1.0

    return [max(0.0, _lerp(rate, w.frac(k))) * ramped(w.frac(k)) * w.dt * _noisy(rng, sd) for k in range(1, w.n)]


# --- the writer -----------------------------------------------------------------------------------


class _Writer:
    def __init__(self, out: TextIO, dialect: Dialect) -> None:
        self.out = out
        self.dialect = dialect
        self.samples = 0
        self._pending: str | None = None

    def _render(self, fam: _Family, labels: Labels) -> str:
        """Labels as the exporter writes them: the server's tally reporter (and the DSQL plugin reporting
        through it) rewrites every value's characters outside ``[A-Za-z0-9_]`` to ``_``; SDK workers
        (``temporal_*``) do not; ``cluster`` is added by Prometheus at scrape time and ``le`` by the
        reporter, so neither is rewritten."""
        if self.dialect is Dialect.TALLY and not fam.base.startswith("temporal_"):
            labels = tuple((k, v if k in _NOT_REWRITTEN else tally_value(v)) for k, v in labels)
        return _render_labels(labels)

    def begin(self, family: _Family) -> None:
        """Start a family; its ``# TYPE`` line is written only if a sample follows."""
        self._pending = f"# TYPE {family.family_name(self.dialect)} {family.type_name(self.dialect)}\n"

    def sample(self, name: str, labels: str, value: float, ts: float) -> None:
        if self._pending is not None:
            self.out.write(self._pending)
            self._pending = None
        self.out.write(f"{name}{labels} {_fmt(value)} {_fmt(round(ts, 3))}\n")
        self.samples += 1

    def counter(self, fam: _Family, ctx: _Ctx, labels: Labels, increments: Sequence[float]) -> None:
        """A cumulative integer counter from 0; nothing at all if it never increments."""
        if sum(increments) <= 0.0:
            return
        name = fam.sample_name(self.dialect)
        rendered = self._render(fam, labels)
        w = ctx.window
        total = 0.0
        self.sample(name, rendered, 0, w.ts(0))
        for k, inc in enumerate(increments, start=1):
            total += inc
            self.sample(name, rendered, round(total), w.ts(k))

    def steady_counter(self, fam: _Family, ctx: _Ctx, labels: Labels, rate: float) -> None:
        """A counter of ``rate`` events/s, with the scenario's noise and ramp-up (:func:`_increments`)."""
        self.counter(fam, ctx, labels, _increments(ctx, (fam.base, labels), (rate, rate)))

    def gauge(self, fam: _Family, ctx: _Ctx, labels: Labels, values: Sequence[float]) -> None:
        name = fam.sample_name(self.dialect)
        rendered = self._render(fam, labels)
        for k, value in enumerate(values):
            self.sample(name, rendered, value, ctx.window.ts(k))

    def histogram(
        self,
        fam: _Family,
        ctx: _Ctx,
        labels: Labels,
        rate: float,
        dist: Latency,
        bounds: Sequence[float],
    ) -> None:
        """Cumulative buckets, ``_count`` and ``_sum`` of ``rate`` observations/s drawn from ``dist``.

        Each bucket counts whole observations, as a real histogram does: each step's expected share of a
        bucket (between its bound and the one below) is carried over until it makes a whole one. So, as on a
        real server, a bucket never gains less over any span than a bucket below it (rounding each
        cumulative count on its own did not keep that: rates across the buckets could fall by one)."""
        timer = fam.kind is _Kind.TIMER
        scale = 0.001 if timer and self.dialect is Dialect.TALLY else 1.0
        family = fam.family_name(self.dialect)
        bucket, count_name, sum_name = f"{family}_bucket", f"{family}_count", f"{family}_sum"
        rendered_buckets = [self._render(fam, (*labels, ("le", _fmt_bound(b * scale)))) for b in (*bounds, math.inf)]
        plain = self._render(fam, labels)
        sigma = dist.sigma
        mean_factor = math.exp(sigma * sigma / 2.0)
        rng = ctx.rng(fam.base, labels)
        sd = ctx.scenario.noise
        counted = [0] * (len(bounds) + 1)  # whole observations in each bucket alone, +Inf's last
        carried = [0.0] * (len(bounds) + 1)
        total = 0.0
        w = ctx.window
        for k in range(w.n):
            if k > 0:
                n = rate * w.dt * _noisy(rng, sd)
                median = dist.median_ms * math.exp(rng.gauss(0.0, sd))
                below = 0.0
                for i, share in enumerate((*(_cdf(b, median, sigma) for b in bounds), 1.0)):
                    expected = n * (share - below) + carried[i]
                    below = share
                    whole = math.floor(expected)
                    counted[i] += whole
                    carried[i] = expected - whole
                total += n * median * mean_factor
            ts = w.ts(k)
            for rendered, cumulative in zip(rendered_buckets, accumulate(counted), strict=True):
                self.sample(bucket, rendered, cumulative, ts)
            self.sample(count_name, plain, sum(counted), ts)
            self.sample(sum_name, plain, round(total * scale, 6 if scale < 1 else 3), ts)


# --- per-placement families -----------------------------------------------------------------------

Emit = Callable[[_Writer, _Family, _Ctx], None]


def _closes_per_s(ctx: _Ctx) -> float:
    s = ctx.scenario
    return s.wps * ctx.load * (s.success_ratio + s.failure_ratio)


_ACTIVE = (("namespace_state", "active"),)
_UNVERSIONED = "__unversioned__"
_PARTITION = (("partition", "0"), ("worker_version", _UNVERSIONED))
_WORKFLOW_TYPE = "ProfiledWorkflow"
_ACTIVITY_TYPE = "profiled_activity"


def _server(ctx: _Ctx, service: str, *extra: tuple[str, str], queue: bool = True) -> Labels:
    labels: Labels = (("namespace", ctx.namespace),)
    if queue:
        labels += (("taskqueue", ctx.task_queue if ctx.names_queue else UNNAMED_TASK_QUEUE),)
    return (*labels, *extra, ("service_name", service), ("cluster", ctx.cluster))


def _waits_longer(s: Scenario, factor: float) -> Scenario:
    """``s`` with its tasks waiting ``factor`` times longer: schedule-to-start latencies and backlog."""
    return replace(
        s,
        workflow_schedule_to_start=s.workflow_schedule_to_start.scaled(factor),
        activity_schedule_to_start=s.activity_schedule_to_start.scaled(factor),
        backlog_count=(s.backlog_count[0] * factor, s.backlog_count[1] * factor),
        backlog_age_s=(s.backlog_age_s[0] * factor, s.backlog_age_s[1] * factor),
    )


def _queues(ctx: _Ctx) -> list[_Ctx]:
    """One context per task queue of the placement's namespace (``Scenario.other_queues``): the placement's
    own queue keeps the work the others do not take, each queue runs at its share of the load, and a queue
    named in ``queue_slowdown`` waits longer. A scenario with one queue gives ``ctx`` itself."""
    s = ctx.scenario
    if not s.other_queues and not s.queue_slowdown:
        return [ctx]
    queues = [(ctx.task_queue, 1.0 - math.fsum(share for _, share in s.other_queues)), *s.other_queues]
    names = [queue for queue, _ in queues]
    slower = dict(s.queue_slowdown)
    if len(set(names)) != len(names) or not slower.keys() <= set(names):
        raise ValueError(
            f"scenario {s.name!r}: task queues {names} (the placement's first) must differ, and its slowed "
            f"queues {sorted(slower)} must be among them"
        )
    return [
        replace(
            ctx,
            scenario=_waits_longer(s, slower[queue]) if queue in slower else s,
            task_queue=queue,
            load=ctx.load * share,
        )
        for queue, share in queues
    ]


def _per_queue(emit: Emit) -> Emit:
    """``emit`` once per task queue of the placement's namespace (see :func:`_queues`)."""

    def each(w: _Writer, fam: _Family, ctx: _Ctx) -> None:
        for queue in _queues(ctx):
            emit(w, fam, queue)

    return each


def _emit_requests(w: _Writer, fam: _Family, ctx: _Ctx) -> None:
    labels = _server(ctx, "frontend", ("operation", "StartWorkflowExecution"), queue=False)
    rate = ctx.scenario.wps * ctx.load
    w.steady_counter(fam, ctx, labels, rate)


def _emit_closes(ratio: Callable[[Scenario], float]) -> Emit:
    def emit(w: _Writer, fam: _Family, ctx: _Ctx) -> None:
        labels = _server(ctx, "history", *_ACTIVE, ("operation", "CompletionStats"), ("workflowType", _WORKFLOW_TYPE))
        rate = ctx.scenario.wps * ctx.load * ratio(ctx.scenario)
        w.steady_counter(fam, ctx, labels, rate)

    return emit


def _emit_transitions(w: _Writer, fam: _Family, ctx: _Ctx) -> None:
    rate = _closes_per_s(ctx) * ctx.scenario.transitions_per_close
    labels = _server(ctx, "history", *_ACTIVE, ("operation", "WorkflowContext"), queue=False)
    w.histogram(fam, ctx, labels, rate, _TRANSITIONS_DIST, _RATIO_BUCKETS)


def _emit_schedule_to_start(w: _Writer, fam: _Family, ctx: _Ctx) -> None:
    s = ctx.scenario
    for task_type, dist in (("Workflow", s.workflow_schedule_to_start), ("Activity", s.activity_schedule_to_start)):
        rate = _closes_per_s(ctx) * _TASKS_PER_CLOSE[task_type]
        labels = _server(
            ctx,
            "history",
            ("task_type", task_type),
            ("operation", f"Record{task_type}TaskStarted"),
            ("partition", "__normal__"),
        )
        w.histogram(fam, ctx, labels, rate, dist, _MS_BUCKETS)


def _emit_persistence(w: _Writer, fam: _Family, ctx: _Ctx) -> None:
    slower = dict(ctx.scenario.operation_latency)
    for operation, per_workflow, factor in _PERSISTENCE_OPS:
        base = ctx.scenario.wps * ctx.load if operation.startswith("Create") else _closes_per_s(ctx)
        labels = _server(ctx, "history", ("operation", operation), queue=False)
        latency = ctx.scenario.persistence.scaled(factor * slower.get(operation, 1.0))
        w.histogram(fam, ctx, labels, base * per_workflow, latency, _MS_BUCKETS)


def _emit_persistence_refusals(w: _Writer, fam: _Family, ctx: _Ctx) -> None:
    for operation, per_second in ctx.scenario.persistence_refusals:
        labels = _server(
            ctx, "history", ("error_type", "serviceerror.ResourceExhausted"), ("operation", operation), queue=False
        )
        rate = per_second * ctx.load
        w.steady_counter(fam, ctx, labels, rate)


def _emit_dispatch(w: _Writer, fam: _Family, ctx: _Ctx) -> None:
    for task_type in _TASK_TYPES:
        rate = _closes_per_s(ctx) * _TASKS_PER_CLOSE[task_type]
        dist = ctx.scenario.task_dispatch.scaled(1.0 if task_type == "Workflow" else 1.5)
        labels = _server(
            ctx,
            "matching",
            ("task_type", task_type),
            ("forwarded", "false"),
            ("operation", "MatchingEngine"),
            ("partition", "0"),
            ("source", "History"),
            ("worker_version", _UNVERSIONED),
        )
        w.histogram(fam, ctx, labels, rate, dist, _MS_BUCKETS)


_POLL_SUCCESS = _Family("poll_success", _Kind.SERVER_COUNTER)


def _poll_increments(ctx: _Ctx, task_type: str) -> tuple[Labels, list[float]]:
    labels = _server(ctx, "matching", ("task_type", task_type), *_ACTIVE, ("operation", "TaskQueueMgr"), *_PARTITION)
    rate = _closes_per_s(ctx) * _TASKS_PER_CLOSE[task_type]
    return labels, _increments(ctx, (_POLL_SUCCESS.base, labels), (rate, rate))


def _emit_polls(w: _Writer, fam: _Family, ctx: _Ctx) -> None:
    for task_type in _TASK_TYPES:
        labels, increments = _poll_increments(ctx, task_type)
        w.counter(fam, ctx, labels, increments)


def _emit_sync_polls(w: _Writer, fam: _Family, ctx: _Ctx) -> None:
    for task_type in _TASK_TYPES:
        labels, polls = _poll_increments(ctx, task_type)
        rng = ctx.rng(fam.base, labels)
        ratio = ctx.scenario.sync_match_ratio
        sd = ctx.scenario.noise / 2
        w.counter(fam, ctx, labels, [p * min(1.0, ratio * _noisy(rng, sd)) for p in polls])


def _emit_backlog(span: Callable[[Scenario], Span], per_load: bool, digits: int) -> Emit:
    def emit(w: _Writer, fam: _Family, ctx: _Ctx) -> None:
        if not ctx.names_queue:  # the server emits per-queue gauges only for the queues it names
            return
        for task_type in _TASK_TYPES:
            labels = _server(
                ctx,
                "matching",
                ("task_type", task_type),
                *_ACTIVE,
                ("operation", "TaskQueuePartitionManager"),
                *_PARTITION,
                *((("task_priority", "3"),) if fam.base == "approximate_backlog_count" else ()),
            )
            rng = ctx.rng(fam.base, labels)
            scale = _BACKLOG_SHARE[task_type] * ctx.load if per_load else 1.0
            values = [
                round(_lerp(span(ctx.scenario), ctx.window.frac(k)) * scale * _noisy(rng, ctx.scenario.noise), digits)
                for k in range(ctx.window.n)
            ]
            w.gauge(fam, ctx, labels, values)

    return emit


def _slots_used(ctx: _Ctx, worker_type: str) -> tuple[Labels, list[int]]:
    labels: Labels = (
        ("namespace", ctx.namespace),
        ("service_name", _SDK_SERVICE),
        ("task_queue", ctx.task_queue),
        ("worker_type", worker_type),
        ("cluster", ctx.cluster),
    )
    rng = ctx.rng("temporal_worker_task_slots_used", labels)
    total = _WORKER_SLOTS[worker_type]
    util = ctx.scenario.slot_utilization * _SLOT_SHARE[worker_type]
    used = [round(total * min(1.0, util * _noisy(rng, ctx.scenario.noise / 4))) for _ in range(ctx.window.n)]
    return labels, used


def _emit_slots(available: bool) -> Emit:
    def emit(w: _Writer, fam: _Family, ctx: _Ctx) -> None:
        for worker_type, total in _WORKER_SLOTS.items():
            labels, used = _slots_used(ctx, worker_type)
            w.gauge(fam, ctx, labels, [total - u for u in used] if available else used)

    return emit


_ACTIVITY_OUTCOMES: Mapping[str, str] = {
    "completed": "RespondActivityTaskCompleted",
    "failed": "RespondActivityTaskFailed",
    "timed_out": "TimerActiveTaskActivityTimeout",
}
"""Outcome of an activity attempt -> the operation that counts it."""


def _activity_labels(ctx: _Ctx, outcome: str) -> Labels:
    """The labels history writes on an activity attempt's series: its type, workflow type and outcome (and a
    timed-out attempt's timeout type: a real 1.32 server writes ``timeout_type="StartToClose"`` for an attempt
    that hung past its start-to-close timeout)."""
    timeout = (("timeout_type", "StartToClose"),) if outcome == "timed_out" else ()
    return _server(
        ctx,
        "history",
        ("activityType", _ACTIVITY_TYPE),
        ("operation", _ACTIVITY_OUTCOMES[outcome]),
        *timeout,
        ("versioning_behavior", "Unspecified"),
        ("workflowType", _WORKFLOW_TYPE),
    )


def _attempt_rates(ctx: _Ctx) -> dict[str, float]:
    """Activity attempts per second by outcome (completed, failed, timed out): each attempt counts."""
    s = ctx.scenario
    shares = {"failed": s.activity_failure_ratio, "timed_out": s.activity_timeout_ratio}
    shares["completed"] = 1.0 - sum(shares.values())
    attempts = _closes_per_s(ctx) * _TASKS_PER_CLOSE["Activity"]
    return {outcome: attempts * share for outcome, share in shares.items()}


def _emit_activities(outcome: str) -> Emit:
    """Activity attempts completed, failed or timed out (history counts each attempt)."""

    def emit(w: _Writer, fam: _Family, ctx: _Ctx) -> None:
        rate = _attempt_rates(ctx)[outcome]
        labels = _activity_labels(ctx, outcome)
        w.steady_counter(fam, ctx, labels, rate)

    return emit


def _emit_activity_execution(w: _Writer, fam: _Family, ctx: _Ctx) -> None:
    """Start-to-close time of the attempts the worker answered (a timed-out one never answers)."""
    rates = _attempt_rates(ctx)
    for outcome in ("completed", "failed"):
        if rates[outcome] > 0:
            labels = _activity_labels(ctx, outcome)
            w.histogram(fam, ctx, labels, rates[outcome], ctx.scenario.activity_execution, _MS_BUCKETS)


def _emit_service_errors(w: _Writer, fam: _Family, ctx: _Ctx) -> None:
    labels = _server(ctx, "frontend", ("operation", "StartWorkflowExecution"), queue=False)
    rate = ctx.scenario.wps * ctx.load * ctx.scenario.service_error_ratio
    w.steady_counter(fam, ctx, labels, rate)


def _emit_refusals(w: _Writer, fam: _Family, ctx: _Ctx) -> None:
    for refusal in ctx.scenario.refusals:
        labels = _server(
            ctx,
            refusal.service,
            ("operation", refusal.operation),
            ("resource_exhausted_cause", refusal.cause),
            ("resource_exhausted_scope", refusal.scope),
            queue=False,
        )
        rate = refusal.per_second * ctx.load
        w.steady_counter(fam, ctx, labels, rate)


_WORKFLOW_TASK_OUTCOME = (("versioning_behavior", "Unspecified"),)


def _emit_workflow_task_failures(w: _Writer, fam: _Family, ctx: _Ctx) -> None:
    for cause, per_second in ctx.scenario.workflow_task_failures:
        labels = _server(
            ctx,
            "history",
            ("failure", cause),
            ("first_attempt", "true"),
            ("operation", "RespondWorkflowTaskFailed"),
            *_WORKFLOW_TASK_OUTCOME,
            queue=False,
        )
        rate = per_second * ctx.load
        w.steady_counter(fam, ctx, labels, rate)


def _emit_workflow_task_timeouts(w: _Writer, fam: _Family, ctx: _Ctx) -> None:
    # retries of tasks whose first attempt failed, as the real server's timeouts were (first_attempt false)
    labels = _server(
        ctx,
        "history",
        ("first_attempt", "false"),
        ("operation", "TimerActiveTaskWorkflowTaskTimeout"),
        *_WORKFLOW_TASK_OUTCOME,
        queue=False,
    )
    w.steady_counter(fam, ctx, labels, ctx.scenario.workflow_task_timeouts_per_s * ctx.load)


def _emit_start_latency(w: _Writer, fam: _Family, ctx: _Ctx) -> None:
    labels = _server(ctx, "frontend", ("operation", "StartWorkflowExecution"), queue=False)
    w.histogram(fam, ctx, labels, ctx.scenario.wps * ctx.load, ctx.scenario.start_latency, _MS_BUCKETS)


_PLACEMENT_FAMILIES: tuple[tuple[_Family, Emit], ...] = (
    (_Family("service_requests", _Kind.SERVER_COUNTER), _emit_requests),
    (_Family("workflow_success", _Kind.SERVER_COUNTER), _per_queue(_emit_closes(lambda s: s.success_ratio))),
    (_Family("workflow_failed", _Kind.SERVER_COUNTER), _per_queue(_emit_closes(lambda s: s.failure_ratio))),
    (_Family("workflow_terminate", _Kind.SERVER_COUNTER), _per_queue(_emit_closes(lambda s: s.terminate_ratio))),
    (_Family("state_transition_count", _Kind.RATIO), _emit_transitions),
    (_Family("task_schedule_to_start_latency", _Kind.TIMER), _per_queue(_emit_schedule_to_start)),
    (_Family("persistence_latency", _Kind.TIMER), _emit_persistence),
    (_Family("persistence_error_with_type", _Kind.SERVER_COUNTER), _emit_persistence_refusals),
    (_Family("task_dispatch_latency", _Kind.TIMER), _per_queue(_emit_dispatch)),
    (_POLL_SUCCESS, _per_queue(_emit_polls)),
    (_Family("poll_success_sync", _Kind.SERVER_COUNTER), _per_queue(_emit_sync_polls)),
    (_Family("approximate_backlog_count", _Kind.GAUGE), _per_queue(_emit_backlog(lambda s: s.backlog_count, True, 0))),
    (
        _Family("approximate_backlog_age_seconds", _Kind.GAUGE),
        _per_queue(_emit_backlog(lambda s: s.backlog_age_s, False, 2)),
    ),
    (_Family("temporal_worker_task_slots_used", _Kind.GAUGE), _per_queue(_emit_slots(available=False))),
    (_Family("temporal_worker_task_slots_available", _Kind.GAUGE), _per_queue(_emit_slots(available=True))),
    (_Family("activity_success", _Kind.SERVER_COUNTER), _per_queue(_emit_activities("completed"))),
    (_Family("activity_task_fail", _Kind.SERVER_COUNTER), _per_queue(_emit_activities("failed"))),
    (_Family("activity_task_timeout", _Kind.SERVER_COUNTER), _per_queue(_emit_activities("timed_out"))),
    (_Family("activity_start_to_close_latency", _Kind.TIMER), _per_queue(_emit_activity_execution)),
    (_Family("failed_workflow_tasks", _Kind.SERVER_COUNTER), _emit_workflow_task_failures),
    (_Family("start_to_close_timeout", _Kind.SERVER_COUNTER), _emit_workflow_task_timeouts),
    (_Family("service_errors", _Kind.SERVER_COUNTER), _emit_service_errors),
    (_Family("service_errors_resource_exhausted", _Kind.SERVER_COUNTER), _emit_refusals),
    (_Family("service_latency", _Kind.TIMER), _emit_start_latency),
)


# --- cluster-wide families ------------------------------------------------------------------------


def _plain(ctx: _Ctx, service: str, *extra: tuple[str, str]) -> Labels:
    return (*extra, ("service_name", service), ("cluster", ctx.cluster))


def _pool(ctx: _Ctx, service: str) -> tuple[list[int], list[int]]:
    """(open, in_use) per sample of one service's pool; in_use never exceeds open nor max_open."""
    rng = ctx.rng("dsql_pool", service)
    s, max_open, sd = ctx.scenario, _POOL_MAX_OPEN[service], ctx.scenario.noise
    opened: list[int] = []
    in_use: list[int] = []
    for _ in range(ctx.window.n):
        o = min(max_open, round(max_open * s.pool_open_fraction * _noisy(rng, sd)))
        opened.append(o)
        in_use.append(min(o, round(max_open * s.pool_in_use_fraction * _noisy(rng, sd))))
    return opened, in_use


def _emit_pool(pick: Callable[[int, int, int], int]) -> Emit:
    """``pick(max_open, open, in_use)`` gives the gauge's value."""

    def emit(w: _Writer, fam: _Family, ctx: _Ctx) -> None:
        for service, max_open in _POOL_MAX_OPEN.items():
            opened, in_use = _pool(ctx, service)
            w.gauge(fam, ctx, _plain(ctx, service), [pick(max_open, o, u) for o, u in zip(opened, in_use, strict=True)])

    return emit


def _reservoir_target(service: str) -> int:
    return _POOL_MAX_OPEN[service] // 2


def _emit_reservoir_size(w: _Writer, fam: _Family, ctx: _Ctx) -> None:
    for service in _SERVICES:
        rng = ctx.rng(fam.base, service)
        target = _reservoir_target(service)
        values = [
            min(
                target,
                round(
                    target * _lerp(ctx.scenario.reservoir_fill, ctx.window.frac(k)) * _noisy(rng, ctx.scenario.noise)
                ),
            )
            for k in range(ctx.window.n)
        ]
        w.gauge(fam, ctx, _plain(ctx, service), values)


def _emit_reservoir_target(w: _Writer, fam: _Family, ctx: _Ctx) -> None:
    for service in _SERVICES:
        w.gauge(fam, ctx, _plain(ctx, service), [_reservoir_target(service)] * ctx.window.n)


def _emit_per_service(rate: Callable[[Scenario], float]) -> Emit:
    """A cluster-wide counter rate split across services by pool size."""

    def emit(w: _Writer, fam: _Family, ctx: _Ctx) -> None:
        for service, max_open in _POOL_MAX_OPEN.items():
            r = rate(ctx.scenario) * ctx.load * max_open / _POOL_TOTAL
            labels = _plain(ctx, service)
            w.steady_counter(fam, ctx, labels, r)

    return emit


def _emit_refill_failures(w: _Writer, fam: _Family, ctx: _Ctx) -> None:
    for service, max_open in _POOL_MAX_OPEN.items():
        for reason, rate in ctx.scenario.refill_failures_per_s:
            r = rate * ctx.load * max_open / _POOL_TOTAL
            labels = _plain(ctx, service, ("reason", reason))
            w.steady_counter(fam, ctx, labels, r)


def _emit_tx(rate: Callable[[Scenario], float]) -> Emit:
    def emit(w: _Writer, fam: _Family, ctx: _Ctx) -> None:
        for operation, share in _TX_OPERATIONS:
            r = rate(ctx.scenario) * ctx.load * share
            labels = _plain(ctx, "history", ("operation", operation))
            w.steady_counter(fam, ctx, labels, r)

    return emit


def _emit_history_counter(rate: Callable[[Scenario], float]) -> Emit:
    def emit(w: _Writer, fam: _Family, ctx: _Ctx) -> None:
        r = rate(ctx.scenario) * ctx.load
        labels = _plain(ctx, "history")
        w.steady_counter(fam, ctx, labels, r)

    return emit


def _emit_heap(w: _Writer, fam: _Family, ctx: _Ctx) -> None:
    for service in _SERVICES:
        rng = ctx.rng(fam.base, service)
        base = _HEAP_BASE_BYTES[service]
        values = [
            round(base * _lerp(ctx.scenario.heap_scale, ctx.window.frac(k)) * _noisy(rng, ctx.scenario.noise / 2))
            for k in range(ctx.window.n)
        ]
        w.gauge(fam, ctx, _plain(ctx, service), values)


def _emit_shard_lock(w: _Writer, fam: _Family, ctx: _Ctx) -> None:
    rate = ctx.scenario.wps * ctx.load * 10.0  # a handful of shard-info updates per workflow
    labels = _plain(ctx, "history", ("operation", "ShardInfo"))
    w.histogram(fam, ctx, labels, rate, ctx.scenario.shard_lock, _LOCK_MS_BUCKETS)


def _emit_build(w: _Writer, fam: _Family, ctx: _Ctx) -> None:
    for service in _SERVICES:
        w.gauge(fam, ctx, _plain(ctx, service, *_BUILD_LABELS), [1] * ctx.window.n)


_CLUSTER_FAMILIES: tuple[tuple[_Family, Emit], ...] = (
    (_Family("dsql_pool_max_open", _Kind.GAUGE), _emit_pool(lambda m, o, u: m)),
    (_Family("dsql_pool_open", _Kind.GAUGE), _emit_pool(lambda m, o, u: o)),
    (_Family("dsql_pool_in_use", _Kind.GAUGE), _emit_pool(lambda m, o, u: u)),
    (_Family("dsql_pool_idle", _Kind.GAUGE), _emit_pool(lambda m, o, u: o - u)),
    (_Family("dsql_reservoir_size", _Kind.GAUGE), _emit_reservoir_size),
    (_Family("dsql_reservoir_target", _Kind.GAUGE), _emit_reservoir_target),
    (_Family("dsql_reservoir_empty", _Kind.PLUGIN_COUNTER), _emit_per_service(lambda s: s.reservoir_empty_per_s)),
    (_Family("dsql_reservoir_refills", _Kind.PLUGIN_COUNTER), _emit_per_service(lambda s: s.reservoir_refills_per_s)),
    (_Family("dsql_reservoir_refill_failures", _Kind.PLUGIN_COUNTER), _emit_refill_failures),
    (_Family("dsql_tx_conflict", _Kind.PLUGIN_COUNTER), _emit_tx(lambda s: s.tx_conflicts_per_s)),
    (_Family("dsql_tx_exhausted", _Kind.PLUGIN_COUNTER), _emit_tx(lambda s: s.tx_exhausted_per_s)),
    (
        _Family("dsql_token_refresh_failures", _Kind.PLUGIN_COUNTER),
        _emit_per_service(lambda s: s.token_refresh_failures_per_s),
    ),
    (
        _Family("persistence_session_refresh_attempts", _Kind.SERVER_COUNTER),
        _emit_history_counter(lambda s: s.session_refreshes_per_s),
    ),
    (_Family("memory_heapinuse", _Kind.GAUGE), _emit_heap),
    (_Family("build_information", _Kind.GAUGE), _emit_build),
    (_Family("lock_latency", _Kind.TIMER), _emit_shard_lock),
)


# --- planning -------------------------------------------------------------------------------------


def _scenario(name: str) -> Scenario:
    try:
        return SCENARIOS[name]
    except KeyError:
        raise ValueError(f"unknown scenario {name!r}; known: {', '.join(sorted(SCENARIOS))}") from None


def _contexts(placements: Sequence[Placement], dt: int, seed: int) -> tuple[list[_Ctx], list[_Ctx]]:
    """Per-placement contexts and cluster-window contexts, each in ascending start order."""
    ordered = sorted(enumerate(placements), key=lambda ip: (_epoch(ip[1].start), ip[0]))
    per_placement: list[_Ctx] = []
    for _, p in ordered:
        if p.duration <= timedelta(0):
            raise ValueError(f"placement {p!r} has a non-positive duration")
        if p.load_factor < 0:
            raise ValueError(f"placement {p!r} has a negative load factor")
        scenario = _scenario(p.scenario)
        if not p.server_names_queue and (scenario.other_queues or scenario.queue_slowdown):
            raise ValueError(
                f"placement {p!r}: a server that leaves task queues unnamed writes them as one series, so its "
                f"scenario {scenario.name!r} must run one task queue"
            )
        per_placement.append(
            _Ctx(
                scenario,
                p.cluster,
                p.namespace,
                p.task_queue,
                p.load_factor,
                _window(p.start, p.start + p.duration, dt),
                (seed, scenario.name, p.cluster, p.namespace, p.task_queue, _epoch(p.start)),
                p.server_names_queue,
            )
        )
    # same cluster and namespace must not overlap: namespace-only series would be written twice
    last_end: dict[tuple[str, str], float] = {}
    for _, p in ordered:
        key = (p.cluster, p.namespace)
        if key in last_end and _epoch(p.start) < last_end[key]:
            raise ValueError(f"placements of cluster {p.cluster!r} namespace {p.namespace!r} overlap in time")
        last_end[key] = max(last_end.get(key, -math.inf), _epoch(p.start + p.duration))

    # cluster windows: overlapping placements of one cluster, led by the earliest
    groups: dict[str, list[tuple[Placement, datetime]]] = {}
    cluster_ctx: list[tuple[float, int, _Ctx]] = []
    for _, p in ordered:
        runs = groups.setdefault(p.cluster, [])
        end = p.start + p.duration
        if runs and _epoch(p.start) < _epoch(runs[-1][1]):
            lead, run_end = runs[-1]
            runs[-1] = (lead, max(run_end, end, key=_epoch))
        else:
            runs.append((p, end))
    for cluster, runs in groups.items():
        for lead, end in runs:
            scenario = _scenario(lead.scenario)
            ctx = _Ctx(
                scenario,
                cluster,
                lead.namespace,
                lead.task_queue,
                lead.load_factor,
                _window(lead.start, end, dt),
                (seed, scenario.name, cluster, "cluster-wide", _epoch(lead.start)),
            )
            cluster_ctx.append((_epoch(lead.start), len(cluster_ctx), ctx))
    cluster_ctx.sort(key=lambda t: (t[0], t[1]))
    return per_placement, [c for _, _, c in cluster_ctx]


def write_openmetrics(
    out: TextIO,
    placements: Sequence[Placement],
    *,
    scrape_interval_s: int = 15,
    dialect: Dialect = Dialect.OPENTELEMETRY,
    seed: int = 0,
    omit: Collection[str] = (),
) -> int:
    """Write the placements' metrics as OpenMetrics text ending in ``# EOF``; return the sample count.

    ``omit`` names metric families (by base name, e.g. ``build_information``) to leave out, to simulate a
    deployment that does not export them.
    """
    if scrape_interval_s <= 0:
        raise ValueError("scrape_interval_s must be positive")
    dialect = Dialect(dialect)
    per_placement, per_cluster = _contexts(placements, scrape_interval_s, seed)
    writer = _Writer(out, dialect)
    for families, contexts in ((_PLACEMENT_FAMILIES, per_placement), (_CLUSTER_FAMILIES, per_cluster)):
        for fam, emit in families:
            if fam.base in omit:
                continue
            writer.begin(fam)
            plugin = fam.base.startswith("dsql_")
            for ctx in contexts:
                if plugin and not ctx.scenario.dsql_plugin:
                    continue
                emit(writer, fam, ctx)
    out.write("# EOF\n")
    return writer.samples
