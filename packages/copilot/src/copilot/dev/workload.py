"""Named real workloads on a real Temporal: a temporalio worker and a starter, for a bounded time.

A workload is data (:class:`Workload`): how many workflows start per second, how long each activity
takes, what fraction of activity attempts fail, and the worker's slots and pollers. ``WORKLOADS`` names
the ones the CLI, the live demo and the tests use.

The runner is a child process, ``python -m copilot.dev.workload NAME --address ... --duration ...``
(:func:`start_workload` starts it, :meth:`WorkloadProcess.wait` collects its :class:`RunReport`):

- one worker on the task queue with the workload's options, its SDK metrics served for Prometheus on
  ``--metrics-address`` (the stack's fixed SDK metrics port, so every run is the same scrape target);
- a starter starting ``WorkloadWorkflow`` at the workload's rate on average, at random instants (a
  Poisson process, :func:`next_start`), for ``--duration`` seconds; each workflow runs its activities one
  after the other, each retried up to ``max_attempts`` attempts and each attempt lasting its
  ``activity_seconds`` on average (:func:`~copilot.dev.workload_flows.attempt_seconds`);
- then the activity backlog is read (``DescribeTaskQueue``), the workflows still running on the task
  queue are terminated and, the worker still polling, the run waits (up to :data:`DRAIN_SECONDS`) for
  their queued activity tasks to be handed out and dropped, so that the next run starts on an empty
  queue; then the worker stops;
- the report (window, worker options under their Go SDK names, counts) is written as JSON.

It runs in a process of its own because the SDK's metrics endpoint lives as long as its runtime, and a
process is the one thing that always gives the port back.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

__all__ = [
    "WORKLOADS",
    "RunReport",
    "Workload",
    "WorkloadError",
    "WorkloadProcess",
    "activity_backlog",
    "next_start",
    "run_phases",
    "start_workload",
]

DEFAULT_NAMESPACE = "default"
DEFAULT_TASK_QUEUE = "main-queue"
WORKFLOW_TYPE = "WorkloadWorkflow"


class WorkloadError(Exception):
    """A workload run that could not start or did not finish; the message says why."""


@dataclass(frozen=True)
class Workload:
    """One named workload: the load the starter offers and the worker that takes it."""

    name: str
    summary: str
    starts_per_second: float
    activity_seconds: float
    activity_failure_fraction: float = 0.0
    activities_per_workflow: int = 1
    max_attempts: int = 3
    """Attempts per activity, the first included; a workflow whose activity fails them all fails."""
    activity_hang_fraction: float = 0.0
    """Share of activity attempts that hang past their start-to-close timeout (a downstream that stops
    answering): each holds a slot until the timeout, then the server times the attempt out and retries it."""
    workflow_bug_fraction: float = 0.0
    """Share of workflows whose code raises after their activities: their workflow task fails at every
    attempt (the server retries it), so they stay running, as after a bad deploy."""
    worker_running: bool = True
    """False: no worker polls the task queue while the starter runs (a worker fleet that is down, or polls
    another queue); one starts afterwards, only to take the terminated workflows' tasks away."""
    activity_slots: int = 20
    workflow_slots: int = 100
    local_activity_slots: int = 100
    workflow_pollers: int = 4
    activity_pollers: int = 4

    def worker_options(self) -> dict[str, int | bool]:
        """The worker's options as the Go SDK names them (what ``config.worker_options`` of a profile holds)."""
        return {
            "MaxConcurrentActivityExecutionSize": self.activity_slots,
            "MaxConcurrentWorkflowTaskExecutionSize": self.workflow_slots,
            "MaxConcurrentLocalActivityExecutionSize": self.local_activity_slots,
            "MaxConcurrentWorkflowTaskPollers": self.workflow_pollers,
            "MaxConcurrentActivityTaskPollers": self.activity_pollers,
            # every activity goes through the task queue (no eager dispatch), so the queue's metrics see them all
            "DisableEagerActivities": True,
        }

    @property
    def attempts_per_activity(self) -> float:
        """Expected attempts per activity: 1 + f + f² + ... up to ``max_attempts`` terms."""
        f = self.activity_failure_fraction
        return sum(f**k for k in range(self.max_attempts))

    @property
    def activity_demand_per_second(self) -> float:
        """Activity attempts per second the starts ask for."""
        return self.starts_per_second * self.activities_per_workflow * self.attempts_per_activity

    @property
    def activity_capacity_per_second(self) -> float:
        """Activity attempts per second the worker's slots can run."""
        return self.activity_slots / self.activity_seconds

    @property
    def activity_slot_demand(self) -> float:
        """Demand over capacity: above 1 the activity backlog grows without end."""
        return self.activity_demand_per_second / self.activity_capacity_per_second


_STEADY = Workload(
    name="steady",
    summary="5 starts/s, one 0.3 s activity each, 20 activity slots: the worker keeps up easily",
    starts_per_second=5.0,
    activity_seconds=0.3,
)

WORKLOADS: Mapping[str, Workload] = {
    w.name: w
    for w in (
        _STEADY,
        Workload(
            name="overload",
            summary="12 starts/s of 0.5 s activities on 3 slots: twice what the worker can take, the backlog grows",
            starts_per_second=12.0,
            activity_seconds=0.5,
            activity_slots=3,
        ),
        Workload(
            name="activity-failures",
            summary="steady, but 15 % of activity attempts fail and are retried (3 attempts)",
            starts_per_second=_STEADY.starts_per_second,
            activity_seconds=_STEADY.activity_seconds,
            activity_failure_fraction=0.15,
        ),
        Workload(
            name="slow-activities",
            summary="steady, but each activity takes 1.5 s (slots still suffice)",
            starts_per_second=_STEADY.starts_per_second,
            activity_seconds=1.5,
        ),
        Workload(
            name="slot-starvation",
            summary="steady, but activity slots cut to 2: slots busy most of the time, tasks wait for them",
            starts_per_second=_STEADY.starts_per_second,
            activity_seconds=_STEADY.activity_seconds,
            activity_slots=2,
        ),
        Workload(
            name="surge",
            summary="three times steady's starts, within the slots; under a namespace request limit "
            "(frontend.namespaceRPS=50) the frontend refuses the worker's polls",
            starts_per_second=_STEADY.starts_per_second * 3,
            activity_seconds=_STEADY.activity_seconds,
        ),
        Workload(
            name="workflow-bug",
            summary="steady, but a third of the workflows hit a bug in workflow code after their activity: "
            "their workflow task fails at every attempt, so they never complete (a bad deploy)",
            starts_per_second=_STEADY.starts_per_second,
            activity_seconds=_STEADY.activity_seconds,
            workflow_bug_fraction=1 / 3,
        ),
        Workload(
            name="hung-activities",
            summary="steady, but a fifth of activity attempts hang past their 10 s start-to-close timeout "
            "(a downstream that stops answering): they hold slots, time out and are retried",
            starts_per_second=_STEADY.starts_per_second,
            activity_seconds=_STEADY.activity_seconds,
            activity_hang_fraction=0.2,
        ),
        Workload(
            name="no-worker",
            summary="steady's starts with no worker polling the task queue (the worker fleet is down): "
            "nothing runs, workflow tasks pile up",
            starts_per_second=_STEADY.starts_per_second,
            activity_seconds=_STEADY.activity_seconds,
            worker_running=False,
        ),
        Workload(
            name="incident",
            summary="twice steady's starts, activity slots cut to 2, 0.6 s activities, 15 % failed attempts",
            starts_per_second=_STEADY.starts_per_second * 2,
            activity_seconds=0.6,
            activity_failure_fraction=0.15,
            activity_slots=2,
        ),
    )
}


@dataclass(frozen=True)
class RunReport:
    """What one run did. ``start``/``end`` bound the time the worker and the starter ran (UTC)."""

    workload: str
    address: str
    namespace: str
    task_queue: str
    start: datetime
    end: datetime
    worker_options: dict[str, int | bool]
    started: int
    """Workflows started."""
    start_errors: int
    activity_attempts: int
    activity_failures: int
    activity_backlog: int | None
    """The activity task queue's approximate backlog when the starter stopped (None if unreadable)."""
    terminated: int
    """Workflows still running afterwards, terminated so that the next run starts on an empty queue."""
    notes: list[str] = field(default_factory=list)
    activity_hangs: int = 0
    """Activity attempts that hung past their start-to-close timeout (``activity_hang_fraction``)."""

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["start"] = self.start.isoformat()
        data["end"] = self.end.isoformat()
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> RunReport:
        values = dict(data)
        values["start"] = datetime.fromisoformat(values["start"])
        values["end"] = datetime.fromisoformat(values["end"])
        return cls(**values)

    def lines(self) -> list[str]:
        """A human summary, one fact a line."""
        seconds = (self.end - self.start).total_seconds()
        lines = [
            f"workload {self.workload} on {self.address}, namespace {self.namespace}, task queue {self.task_queue}",
            f"window {self.start:%Y-%m-%dT%H:%M:%SZ} .. {self.end:%Y-%m-%dT%H:%M:%SZ} ({seconds:.0f} s)",
            f"started {self.started} workflows ({self.started / max(seconds, 1e-9):.1f}/s), {self.start_errors} "
            f"start errors; {self.activity_attempts} activity attempts, {self.activity_failures} failed, "
            f"{self.activity_hangs} hung past their timeout",
            "activity backlog at the end: "
            + ("unknown" if self.activity_backlog is None else str(self.activity_backlog)),
            f"terminated {self.terminated} workflows left running",
            "worker options: " + ", ".join(f"{k}={v}" for k, v in self.worker_options.items()),
        ]
        return lines + [f"note: {note}" for note in self.notes]


# --- the parent side: a child process per run --------------------------------------------------


class WorkloadProcess:
    """A running ``python -m copilot.dev.workload`` child; stop it by its PID only."""

    def __init__(self, proc: subprocess.Popen[bytes], report_path: Path, workload: Workload, duration_s: float) -> None:
        self.proc = proc
        self.report_path = report_path
        self.workload = workload
        self.duration_s = duration_s

    @property
    def pid(self) -> int:
        return self.proc.pid

    def wait(self, timeout: float | None = None) -> RunReport:
        """Wait for the run to end (by default its duration plus three minutes: connecting, the last starts,
        terminating and draining are each bounded, together under two and a half); its report."""
        limit = self.duration_s + 180 if timeout is None else timeout
        try:
            code = self.proc.wait(timeout=limit)
        except subprocess.TimeoutExpired:
            self.stop()
            raise WorkloadError(
                f"workload {self.workload.name} (pid {self.pid}) still running after {limit:.0f} s; stopped"
            ) from None
        if code != 0:
            raise WorkloadError(f"workload {self.workload.name} exited with code {code}")
        try:
            return RunReport.from_json(json.loads(self.report_path.read_text()))
        except (OSError, ValueError, TypeError, KeyError) as exc:
            raise WorkloadError(
                f"workload {self.workload.name} wrote no readable report at {self.report_path}: {exc}"
            ) from exc

    def stop(self, grace: float = 10.0) -> None:
        """SIGTERM, then SIGKILL after ``grace`` seconds; a no-op once it has ended."""
        if self.proc.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=10)


def start_workload(
    workload: Workload,
    *,
    address: str,
    metrics_address: str,
    duration_s: float,
    report_path: Path,
    namespace: str = DEFAULT_NAMESPACE,
    task_queue: str = DEFAULT_TASK_QUEUE,
    output: IO[bytes] | int | None = None,
    seed: int | None = None,
) -> WorkloadProcess:
    """Start a run in a child process (its output to ``output``, by default this process's own)."""
    report_path.parent.mkdir(parents=True, exist_ok=True)
    report_path.unlink(missing_ok=True)
    argv = [
        sys.executable,
        "-m",
        "copilot.dev.workload",
        workload.name,
        "--address",
        address,
        "--metrics-address",
        metrics_address,
        "--duration",
        str(duration_s),
        "--namespace",
        namespace,
        "--task-queue",
        task_queue,
        "--report",
        str(report_path),
    ]
    if seed is not None:
        argv += ["--seed", str(seed)]
    proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=output, stderr=subprocess.STDOUT if output else None)
    return WorkloadProcess(proc, report_path, workload, duration_s)


def run_phases(
    phases: Sequence[tuple[str, float]],
    *,
    address: str,
    metrics_address: str,
    report_dir: Path,
    namespace: str = DEFAULT_NAMESPACE,
    task_queue: str = DEFAULT_TASK_QUEUE,
    output: IO[bytes] | int | None = None,
    on_start: Callable[[WorkloadProcess], None] | None = None,
) -> list[RunReport]:
    """Run named workloads one after the other, ``(name, seconds)`` each; their reports.

    ``on_start`` sees each child as it starts (to stop it from elsewhere: :meth:`WorkloadProcess.stop`).
    """
    reports: list[RunReport] = []
    for index, (name, seconds) in enumerate(phases):
        process = start_workload(
            WORKLOADS[name],
            address=address,
            metrics_address=metrics_address,
            duration_s=seconds,
            report_path=report_dir / f"phase-{index + 1}-{name}.json",
            namespace=namespace,
            task_queue=task_queue,
            output=output,
            seed=index,
        )
        if on_start is not None:
            on_start(process)
        try:
            reports.append(process.wait())
        finally:
            process.stop()
    return reports


# --- the child side: worker and starter ----------------------------------------------------------


async def _connect(address: str, namespace: str, metrics_address: str, deadline: float) -> Any:
    """A client whose runtime serves the SDK's metrics; waits for the server and the namespace."""
    from temporalio.client import Client
    from temporalio.runtime import PrometheusConfig, Runtime, TelemetryConfig
    from temporalio.service import RPCError

    runtime = Runtime(telemetry=TelemetryConfig(metrics=PrometheusConfig(bind_address=metrics_address)))
    last: Exception | None = None
    while time.monotonic() < deadline:
        try:
            client = await Client.connect(address, namespace=namespace, runtime=runtime)
            from temporalio.api.workflowservice.v1 import DescribeNamespaceRequest

            await client.workflow_service.describe_namespace(DescribeNamespaceRequest(namespace=namespace))
            return client
        except (RuntimeError, RPCError, OSError) as exc:
            last = exc
            await asyncio.sleep(0.5)
    raise WorkloadError(f"no Temporal namespace {namespace!r} answering at {address}: {last}")


async def task_backlog(client: Any, namespace: str, task_queue: str, task_type: str = "activity") -> int | None:
    """The task queue's approximate backlog of ``task_type`` (``activity`` or ``workflow``) tasks as
    ``DescribeTaskQueue`` reports it; None when it fails."""
    from temporalio.api.enums.v1 import TaskQueueType
    from temporalio.api.taskqueue.v1 import TaskQueue
    from temporalio.api.workflowservice.v1 import DescribeTaskQueueRequest
    from temporalio.service import RPCError

    kinds = {"workflow": TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW, "activity": TaskQueueType.TASK_QUEUE_TYPE_ACTIVITY}
    request = DescribeTaskQueueRequest(
        namespace=namespace, task_queue=TaskQueue(name=task_queue), task_queue_type=kinds[task_type], report_stats=True
    )
    try:
        answer = await client.workflow_service.describe_task_queue(request)
    except RPCError:
        return None
    return int(answer.stats.approximate_backlog_count)


async def activity_backlog(client: Any, namespace: str, task_queue: str) -> int | None:
    """The task queue's approximate activity backlog (:func:`task_backlog`)."""
    return await task_backlog(client, namespace, task_queue, "activity")


DRAIN_SECONDS = 30.0
"""How long a run waits, its worker still polling, for the tasks of the workflows it terminated to leave."""


async def _drain(client: Any, namespace: str, task_queue: str, deadline: float) -> int:
    """Wait until the activity and workflow backlogs are empty (or ``deadline``); the tasks left then, 0 when
    unknown."""
    while True:
        backlogs = [await task_backlog(client, namespace, task_queue, kind) for kind in ("activity", "workflow")]
        left = sum(b or 0 for b in backlogs)
        if not left or time.monotonic() > deadline:
            return left
        await asyncio.sleep(1.0)


async def _terminate_running(client: Any, task_queue: str, deadline: float) -> int:
    """Terminate this task queue's running ``WorkloadWorkflow``s (best effort, until ``deadline``)."""
    from temporalio.service import RPCError

    query = f'WorkflowType = "{WORKFLOW_TYPE}" AND TaskQueue = "{task_queue}" AND ExecutionStatus = "Running"'
    semaphore = asyncio.Semaphore(32)
    done = 0

    async def terminate(workflow_id: str, run_id: str | None) -> None:
        nonlocal done
        async with semaphore:
            with contextlib.suppress(RPCError):
                await client.get_workflow_handle(workflow_id, run_id=run_id).terminate(reason="workload run ended")
                done += 1

    for _ in range(5):  # visibility lags a little behind: look again until nothing is listed
        ids = []
        async for execution in client.list_workflows(query):
            ids.append((execution.id, execution.run_id))
            if time.monotonic() > deadline:
                break
        if not ids or time.monotonic() > deadline:
            break
        await asyncio.gather(*(terminate(wid, rid) for wid, rid in ids))
        await asyncio.sleep(1.0)
    return done


def next_start(rng: random.Random, per_second: float) -> float:
    """Seconds to the next start: independent arrivals at ``per_second`` on average (a Poisson process).

    Starts at exact intervals and activities of one exact length make the worker's slot gauges periodic;
    a scrape every 10 s then reads the same phase at every scrape (1 busy slot of 2 at all 15 scrapes where
    0, 1 and 2 alternate), which no real load does.
    """
    return rng.expovariate(per_second)


async def run(
    workload: Workload,
    *,
    address: str,
    namespace: str,
    task_queue: str,
    metrics_address: str,
    duration_s: float,
    seed: int | None,
    stop: asyncio.Event,
    log: Any = print,
) -> RunReport:
    """Run the worker and the starter for ``duration_s`` seconds (or until ``stop``), then tidy up."""
    from temporalio.worker import Worker

    from copilot.dev.workload_flows import ActivityInput, Counters, WorkActivities, WorkflowInput, WorkloadWorkflow

    client = await _connect(address, namespace, metrics_address, time.monotonic() + 60)
    counters = Counters()
    rng = random.Random(seed)
    activities = WorkActivities(counters, rng)
    worker = Worker(
        client,
        task_queue=task_queue,
        workflows=[WorkloadWorkflow],
        activities=[activities.work],
        max_concurrent_activities=workload.activity_slots,
        max_concurrent_workflow_tasks=workload.workflow_slots,
        max_concurrent_local_activities=workload.local_activity_slots,
        max_concurrent_workflow_task_polls=workload.workflow_pollers,
        max_concurrent_activity_task_polls=workload.activity_pollers,
        disable_eager_activity_execution=True,
    )
    spec = WorkflowInput(
        activity=ActivityInput(
            workload.activity_seconds, workload.activity_failure_fraction, workload.activity_hang_fraction
        ),
        activities=workload.activities_per_workflow,
        max_attempts=workload.max_attempts,
        bug_fraction=workload.workflow_bug_fraction,
    )
    run_id = f"{workload.name}-{datetime.now(UTC):%Y%m%dT%H%M%S}-{os.getpid()}"
    started = errors = 0
    notes: list[str] = []
    pending: set[asyncio.Task[Any]] = set()

    async def start_one(n: int) -> None:
        nonlocal started, errors
        try:
            await client.start_workflow(WorkloadWorkflow.run, spec, id=f"{run_id}-{n}", task_queue=task_queue)
            started += 1
        except Exception as exc:  # a start that fails is counted, never fatal
            errors += 1
            if errors <= 3:
                notes.append(f"start failed: {exc}")

    async with contextlib.AsyncExitStack() as running:
        if workload.worker_running:
            await running.enter_async_context(worker)
        start = datetime.now(UTC)
        t0 = time.monotonic()
        who = "worker and starter" if workload.worker_running else "starter (no worker)"
        log(f"{workload.name}: {who} running for {duration_s:.0f} s ({workload.summary})")
        n = 0
        due = t0
        while not stop.is_set():
            now = time.monotonic()
            if due - t0 >= duration_s:
                break
            if due > now:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), due - now)
                continue
            task = asyncio.create_task(start_one(n))
            pending.add(task)
            task.add_done_callback(pending.discard)
            n += 1
            due += next_start(rng, workload.starts_per_second)
        # the next start falls past the duration: the window still lasts all of it (a 120 s run is a
        # 2-minute profile, not one a moment shorter)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), max(0.0, duration_s - (time.monotonic() - t0)))
        if pending:
            await asyncio.wait(pending, timeout=10)
        end = datetime.now(UTC)
        backlog = await activity_backlog(client, namespace, task_queue)
        if not workload.worker_running:
            notes.append(
                f"no worker polled during the window; {await task_backlog(client, namespace, task_queue, 'workflow')} "
                "workflow tasks were queued at its end"
            )
            await running.enter_async_context(worker)
        # terminated while the worker still polls: the tasks of closed workflows left queued are handed to
        # its pollers, refused by history and dropped, instead of waiting for the next run's worker
        terminated = await _terminate_running(client, task_queue, time.monotonic() + 30)
        left = await _drain(client, namespace, task_queue, time.monotonic() + DRAIN_SECONDS)
        if left:
            notes.append(
                f"{left} tasks of the terminated workflows were still queued {DRAIN_SECONDS:.0f} s later: "
                "the next run's worker is handed them first"
            )
    return RunReport(
        workload=workload.name,
        address=address,
        namespace=namespace,
        task_queue=task_queue,
        start=start,
        end=end,
        # no worker polled in the window: no worker options were in effect there
        worker_options=workload.worker_options() if workload.worker_running else {},
        started=started,
        start_errors=errors,
        activity_attempts=counters.attempts,
        activity_failures=counters.failures,
        activity_hangs=counters.hangs,
        activity_backlog=backlog,
        terminated=terminated,
        notes=notes,
    )


def _parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m copilot.dev.workload", description=__doc__.split("\n")[0])
    parser.add_argument("workload", choices=sorted(WORKLOADS))
    parser.add_argument("--address", required=True, help="host:port of the Temporal frontend")
    parser.add_argument("--metrics-address", required=True, help="host:port to serve the SDK's metrics on")
    parser.add_argument("--duration", type=float, required=True, help="seconds to run the starter")
    parser.add_argument("--namespace", default=DEFAULT_NAMESPACE)
    parser.add_argument("--task-queue", default=DEFAULT_TASK_QUEUE)
    parser.add_argument("--report", type=Path, required=True, help="where to write the JSON report")
    parser.add_argument("--seed", type=int, default=None, help="seed of the activity failures")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = _parse(argv)
    workload = WORKLOADS[args.workload]
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    # The SDK logs every failed activity attempt with its traceback; the failures are the point here.
    logging.getLogger("temporalio.activity").setLevel(logging.ERROR)
    logging.getLogger("temporalio.worker._activity").setLevel(logging.ERROR)
    # likewise every failed workflow activation of a workload with a workflow bug (one per retry)
    logging.getLogger("temporalio.worker._workflow_instance").setLevel(logging.ERROR)

    async def go() -> RunReport:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        return await run(
            workload,
            address=args.address,
            namespace=args.namespace,
            task_queue=args.task_queue,
            metrics_address=args.metrics_address,
            duration_s=args.duration,
            seed=args.seed,
            stop=stop,
            log=lambda m: print(m, flush=True),
        )

    try:
        report = asyncio.run(go())
    except WorkloadError as exc:
        print(f"error: {exc}", file=sys.stderr, flush=True)
        return 1
    tmp = args.report.with_suffix(".tmp")
    tmp.write_text(json.dumps(report.to_json(), indent=2) + "\n")
    os.replace(tmp, args.report)
    for line in report.lines():
        print(line, flush=True)
    return 0


if __name__ == "__main__":
    exit_code = main()
    sys.stdout.flush()
    sys.stderr.flush()
    # Skip interpreter teardown: under load the SDK's native runtime was seen to crash there (SIGSEGV)
    # after the report had been written, failing a run that had done all its work.
    os._exit(exit_code)
