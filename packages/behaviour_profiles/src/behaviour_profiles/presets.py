"""The scale presets and their expected telemetry bounds, as data (no logic beyond lookups).

A preset says which throughput it is for (``workflows_started_per_sec``, half-open ranges that never
overlap: ``starter`` [0, 50), ``mid-scale`` [50, 300), ``high-throughput`` [300, inf) workflows/s) and
what a deployment of that size looks like when it is healthy. Every bound is over one catalogue
metric's statistic (the mean over the window unless it says otherwise), in the catalogue's unit, with a
warning band inside its hard limits (:class:`~behaviour_profiles.models.ExpectedBound`).

Calibration: the simulator's ``healthy-150wps`` (and the same workload at 0.4 load, 60 workflows/s)
passes every ``mid-scale`` bound with room to spare; ``failing-400wps`` fails schedule-to-start,
activity schedule-to-start, backlog age, activity failures, sync match, persistence latency, OCC
conflicts, exhausted retries, reservoir and worker slots. A real dev server with its activity slots cut
to 2 under twice the load fails activity schedule-to-start, backlog age and worker slots (the activity
type is the saturated one).

Reservoir: the presets bound ``reservoir_fill`` (``dsql_reservoir_size / dsql_reservoir_target``, both
summed over the services), the same at every scale, not the number of ready connections: a deployment
sized otherwise than a preset's ``DSQL_RESERVOIR_TARGET_READY`` suggests is judged by how full it keeps
its own reservoir. A deployment that does not run reservoir mode has no reservoir series: that is no
data, never a pass.

``settings`` are starting values for the configuration keys of ``metrics-reference.md``; a
recommendation suggests them for the metrics they address (each metric's catalogue entry says which,
:attr:`~behaviour_profiles.catalogue.MetricSpec.remedy`). They are where to start, not a substitute for
measuring.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from behaviour_profiles.models import PRESET_NAMES, ExpectedBound, PresetSetting, ScalePreset, Statistic

__all__ = [
    "HIGH_THROUGHPUT",
    "MID_SCALE",
    "PRESETS",
    "STARTER",
    "THROUGHPUT_METRIC",
    "preset_for_throughput",
    "throughput_range",
]

THROUGHPUT_METRIC = "workflows_started_per_sec"
"""What a preset's range is over: offered load, StartWorkflowExecution (and SignalWithStart) per second."""

ENV = "environment"
DYNAMIC = "dynamic_config"
WORKER = "worker_options"


def _throughput(low: float, high: float | None, warn_low: float | None, warn_high: float | None) -> ExpectedBound:
    return ExpectedBound(
        metric=THROUGHPUT_METRIC,
        min=low,
        warn_min=warn_low,
        warn_max=warn_high,
        max=high,
        why="the preset's throughput range; the warning band is the last 10 % before its edges",
    )


RESERVOIR_FILL_MIN = 0.5
"""Below half its target the reservoir fails every preset (it is drained faster than it refills)."""
RESERVOIR_FILL_WARN = 0.8
"""Below 80 % of its target it warns."""


def _common(
    *,
    transitions: tuple[float | None, float | None, float | None, float | None],
    s2s_p99: tuple[float, float],
    activity_s2s_p95: tuple[float, float],
    persistence_p99: tuple[float, float],
    conflicts: tuple[float, float],
) -> tuple[ExpectedBound, ...]:
    t_min, t_warn_min, t_warn_max, t_max = transitions
    return (
        ExpectedBound(
            metric="state_transitions_per_sec",
            min=t_min,
            warn_min=t_warn_min,
            warn_max=t_warn_max,
            max=t_max,
            why="history work at this scale: about 8 transitions per workflow over the throughput range",
        ),
        ExpectedBound(
            metric="workflow_schedule_to_start_p99",
            warn_max=s2s_p99[0],
            max=s2s_p99[1],
            why="workflow tasks wait for a worker only briefly when pollers and slots keep up",
        ),
        ExpectedBound(
            metric="activity_schedule_to_start_p95",
            warn_max=activity_s2s_p95[0],
            max=activity_s2s_p95[1],
            why="activity tasks start soon after they are scheduled when activity slots and pollers keep up",
        ),
        ExpectedBound(
            metric="backlog_age",
            statistic=Statistic.P95,
            warn_max=5.0,
            max=30.0,
            why="the oldest task in a backlog waits seconds at most; minutes mean workers fall behind "
            "(p95 over the window: a backlog that grows from nothing is judged by where it got to)",
        ),
        ExpectedBound(
            metric="activity_failure_rate",
            warn_max=0.01,
            max=0.05,
            why="a few activity attempts fail and retry; many failing attempts add load and delay completions",
        ),
        ExpectedBound(
            metric="sync_match_rate",
            min=0.7,
            warn_min=0.85,
            why="most tasks go straight to a waiting poller; a falling rate means a growing backlog",
        ),
        ExpectedBound(
            metric="persistence_latency_p99",
            warn_max=persistence_p99[0],
            max=persistence_p99[1],
            why="DSQL round trips stay in tens of milliseconds when the pool and limits keep up",
        ),
        ExpectedBound(
            metric="occ_conflicts_per_sec",
            warn_max=conflicts[0],
            max=conflicts[1],
            why="some optimistic-concurrency retries are normal; many mean contention on hot rows",
        ),
        ExpectedBound(
            metric="exhausted_retries_per_sec",
            warn_max=0.01,
            max=0.1,
            why="a transaction that ran out of retries is a failed persistence operation",
        ),
        ExpectedBound(
            metric="reservoir_fill",
            min=RESERVOIR_FILL_MIN,
            warn_min=RESERVOIR_FILL_WARN,
            why="ready connections over the reservoir's target, in reservoir mode: a reservoir kept below its "
            "target has fewer connections ready for a burst than the deployment was sized for",
        ),
        ExpectedBound(
            metric="worker_task_slot_utilization",
            statistic=Statistic.P50,
            warn_max=0.7,
            max=0.9,
            why="workers need headroom in every slot type; 1 means the most saturated type (e.g. activity "
            "slots) has every slot busy and its tasks queue (median over the window: full half the time "
            "or more is saturated)",
        ),
    )


STARTER = ScalePreset(
    name="starter",
    title="Starter",
    description="Development and small production: under 50 workflows/s.",
    throughput=_throughput(0.0, 50.0, 0.0, 45.0),
    bounds=_common(
        transitions=(None, None, 600.0, 800.0),
        s2s_p99=(150.0, 400.0),
        activity_s2s_p95=(200.0, 1000.0),
        persistence_p99=(80.0, 150.0),
        conflicts=(0.3, 1.0),
    ),
    settings=(
        PresetSetting(key="TEMPORAL_SQL_MAX_CONNS", part=ENV, value=20, why="pool size per service"),
        PresetSetting(key="DSQL_RESERVOIR_ENABLED", part=ENV, value=True, why="connections made off the request path"),
        PresetSetting(key="DSQL_RESERVOIR_TARGET_READY", part=ENV, value=20, why="as many ready as the pool holds"),
        PresetSetting(key="history.persistenceMaxQPS", part=DYNAMIC, value=3000, why="persistence QPS per history"),
        PresetSetting(key="matching.numTaskqueueReadPartitions", part=DYNAMIC, value=4, why="Temporal's default"),
        PresetSetting(key="matching.numTaskqueueWritePartitions", part=DYNAMIC, value=4, why="Temporal's default"),
        PresetSetting(key="MaxConcurrentWorkflowTaskPollers", part=WORKER, value=2, why="pollers per worker"),
        PresetSetting(key="MaxConcurrentActivityTaskPollers", part=WORKER, value=2, why="pollers per worker"),
        PresetSetting(key="MaxConcurrentWorkflowTaskExecutionSize", part=WORKER, value=200, why="slots per worker"),
        PresetSetting(key="MaxConcurrentActivityExecutionSize", part=WORKER, value=200, why="slots per worker"),
    ),
)

MID_SCALE = ScalePreset(
    name="mid-scale",
    title="Mid-scale",
    description="Steady production load: 50 to 300 workflows/s.",
    throughput=_throughput(50.0, 300.0, 55.0, 270.0),
    bounds=_common(
        transitions=(200.0, 300.0, 3000.0, 4500.0),
        s2s_p99=(100.0, 250.0),
        activity_s2s_p95=(100.0, 500.0),
        persistence_p99=(60.0, 120.0),
        conflicts=(1.0, 2.0),
    ),
    settings=(
        PresetSetting(key="TEMPORAL_SQL_MAX_CONNS", part=ENV, value=50, why="pool size per service"),
        PresetSetting(key="DSQL_RESERVOIR_ENABLED", part=ENV, value=True, why="connections made off the request path"),
        PresetSetting(key="DSQL_RESERVOIR_TARGET_READY", part=ENV, value=50, why="as many ready as the pool holds"),
        PresetSetting(key="history.persistenceMaxQPS", part=DYNAMIC, value=9000, why="Temporal's default per host"),
        PresetSetting(key="matching.numTaskqueueReadPartitions", part=DYNAMIC, value=4, why="Temporal's default"),
        PresetSetting(key="matching.numTaskqueueWritePartitions", part=DYNAMIC, value=4, why="Temporal's default"),
        PresetSetting(key="MaxConcurrentWorkflowTaskPollers", part=WORKER, value=8, why="pollers per worker"),
        PresetSetting(key="MaxConcurrentActivityTaskPollers", part=WORKER, value=8, why="pollers per worker"),
        PresetSetting(key="MaxConcurrentWorkflowTaskExecutionSize", part=WORKER, value=500, why="slots per worker"),
        PresetSetting(key="MaxConcurrentActivityExecutionSize", part=WORKER, value=500, why="slots per worker"),
    ),
)

HIGH_THROUGHPUT = ScalePreset(
    name="high-throughput",
    title="High throughput",
    description="Large production load: 300 workflows/s and more.",
    throughput=_throughput(300.0, None, 330.0, None),
    bounds=_common(
        transitions=(1500.0, 2500.0, None, None),
        s2s_p99=(100.0, 250.0),
        activity_s2s_p95=(100.0, 500.0),
        persistence_p99=(60.0, 120.0),
        conflicts=(2.0, 5.0),
    ),
    settings=(
        PresetSetting(key="TEMPORAL_SQL_MAX_CONNS", part=ENV, value=100, why="pool size per service"),
        PresetSetting(key="DSQL_RESERVOIR_ENABLED", part=ENV, value=True, why="connections made off the request path"),
        PresetSetting(key="DSQL_RESERVOIR_TARGET_READY", part=ENV, value=100, why="as many ready as the pool holds"),
        PresetSetting(key="history.persistenceMaxQPS", part=DYNAMIC, value=15000, why="persistence QPS per history"),
        PresetSetting(key="matching.numTaskqueueReadPartitions", part=DYNAMIC, value=8, why="spread hot task queues"),
        PresetSetting(key="matching.numTaskqueueWritePartitions", part=DYNAMIC, value=8, why="spread hot task queues"),
        PresetSetting(key="MaxConcurrentWorkflowTaskPollers", part=WORKER, value=16, why="pollers per worker"),
        PresetSetting(key="MaxConcurrentActivityTaskPollers", part=WORKER, value=16, why="pollers per worker"),
        PresetSetting(key="MaxConcurrentWorkflowTaskExecutionSize", part=WORKER, value=1000, why="slots per worker"),
        PresetSetting(key="MaxConcurrentActivityExecutionSize", part=WORKER, value=1000, why="slots per worker"),
    ),
)

PRESETS: Mapping[str, ScalePreset] = MappingProxyType({p.name: p for p in (STARTER, MID_SCALE, HIGH_THROUGHPUT)})
"""By name, in ascending throughput order."""
if tuple(PRESETS) != PRESET_NAMES:
    raise ValueError(f"the presets {tuple(PRESETS)} are not the names requests may use, {PRESET_NAMES}")


def throughput_range(preset: ScalePreset) -> tuple[float, float]:
    """``[low, high)`` in workflows/s; ``high`` is ``inf`` for the open-ended preset."""
    low = preset.throughput.min if preset.throughput.min is not None else 0.0
    high = preset.throughput.max if preset.throughput.max is not None else float("inf")
    return low, high


def preset_for_throughput(value: float) -> ScalePreset | None:
    """The one preset whose range holds ``value`` (workflows/s), or None for a negative or non-finite value."""
    for preset in PRESETS.values():
        low, high = throughput_range(preset)
        if low <= value < high:
            return preset
    return None
