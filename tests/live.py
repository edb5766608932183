"""The live Temporal harness: a real dev server, a scraping Prometheus and six real workload phases.

``tests/integration/conftest.py`` starts a :class:`LiveHarness` in a background thread as soon as
collection finds a test that uses the ``live_temporal`` fixture, so the six phases (about 10 minutes)
run while the rest of the suite does; the fixture waits for them and returns a :class:`LiveTemporal`.

What runs, on free ports in a temporary state directory (the session ``stack`` keeps PostgreSQL and S3):

- ``temporal server start-dev`` (namespace ``default``), its metrics scraped every 10 s;
- Prometheus, scraping that server and the workload runner's SDK metrics port every 10 s, with
  ``cluster="temporal-live"`` on every scraped series; it also holds one backfilled simulated hour
  (``healthy-150wps`` of cluster ``temporal-dev``, hours back), so backfill and scrape live side by side;
- workload ``steady`` twice (two healthy windows, which must compare as a pass), then workload
  ``incident`` (twice the starts, activity slots cut to 2, slower activities, 15 % failed attempts),
  each :data:`PHASE_SECONDS` long, then workload ``workflow-bug`` (a third of the workflows raise in
  workflow code, so their workflow tasks fail and time out at every retry) and workload ``hung-activities``
  (a fifth of the activity attempts hang past their start-to-close timeout) for :data:`LATER_PHASE_SECONDS`
  each, and workload ``no-worker`` (steady's starts, no worker polling) for :data:`PHASE_SECONDS`; task
  queue ``main-queue``.
  The fixture returns once Prometheus has scraped the end of the last phase.

:meth:`LiveHarness.unnamed` is another real server, constrained as operators constrain one at scale:
started with ``metrics.breakdownByTaskQueue`` false (it leaves task queues unnamed in its metrics) and a
namespace request rate limit the incident exceeds (``frontend.namespaceRPS``): one ``incident`` phase, no
backfill. :meth:`LiveHarness.persistence_limited` is a third, started with a history persistence QPS limit
that ``steady`` exceeds (``history.persistenceMaxQPS``): one ``steady`` phase, no backfill. Both start, side
by side, once the first harness's ``steady``, ``steady`` and ``incident`` phases are done (its
:attr:`LiveHarness.alone`): the tests compare those phases' latencies, which a busy machine would move,
where what the later phases are read for (failed, timed-out and refused requests, tasks nobody took) does
not depend on how busy the two cores are.
"""

from __future__ import annotations

import shutil
import tempfile
import threading
import time
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from copilot.dev.local import live_profile_body, load_scenarios
from copilot.dev.simulator import demo_plan
from copilot.dev.stack import LocalStack, StackConfig
from copilot.dev.workload import DEFAULT_NAMESPACE, DEFAULT_TASK_QUEUE, RunReport, WorkloadProcess, run_phases
from copilot.settings import Settings

PHASE_SECONDS = 95.0
"""Each phase's length: over 90 s, so that the server's backlog gauges (refreshed about once a
minute, first ~60 s after a queue gets load) report inside the incident window."""

SETTLE_SECONDS = 15.0
"""After the last phase, the time Prometheus (10 s interval) needs to scrape its end."""

WAIT_SECONDS = 900.0
"""How long the fixture waits for the harness before failing."""

NAMESPACE_RPS_LIMIT = 20
"""The unnamed server's ``frontend.namespaceRPS``: the incident's 10 starts/s and its worker's polls and
answers ask for more, so the server refuses some of them (ResourceExhausted, RpsLimit)."""

PERSISTENCE_QPS_LIMIT = 30
"""The limited server's ``history.persistenceMaxQPS``: ``steady`` asks history for more persistence requests
a second, so it refuses many of them (ResourceExhausted) and the workflows barely progress."""

LATER_PHASE_SECONDS = 75.0
"""The one phase of each later server (unnamed, limited), and the first server's ``workflow-bug`` and
``hung-activities``: long
enough for a few scrapes of a loaded queue (none of them has backlog gauges to wait for)."""


@dataclass(frozen=True)
class LivePhase:
    """One workload phase: its window (UTC, the time the worker and starter ran) and what it used."""

    workload: str
    start: datetime
    end: datetime
    worker_options: dict[str, int | bool]
    """Under the Go SDK's names; pass as ``config.worker_options`` when creating a profile."""
    report: RunReport
    """Everything the runner counted: starts, activity attempts and failures, end-of-phase backlog."""

    @classmethod
    def of(cls, report: RunReport) -> LivePhase:
        return cls(report.workload, report.start, report.end, dict(report.worker_options), report)


@dataclass(frozen=True)
class LiveTemporal:
    """What ``live_temporal`` returns: a real Temporal after its phases (``steady`` twice, ``incident``,
    ``workflow-bug``, ``hung-activities``, ``no-worker``).

    Profile a phase with the names a user types: ``cluster_id=cluster`` (``temporal-live``),
    ``namespace`` (``default``), ``task_queue`` (``main-queue``), the phase's ``start``/``end`` and
    ``config={"worker_options": phase.worker_options}``. ``settings()`` builds the app's settings: the
    session stack's PostgreSQL and S3 with this harness's Prometheus and Temporal frontend.
    """

    cluster: str
    namespace: str
    task_queue: str
    phases: tuple[LivePhase, ...]
    """Every phase, in the order they ran."""
    prometheus_url: str
    temporal_address: str
    """``host:port`` of the dev server's gRPC frontend."""
    env: dict[str, str]
    """The app's environment: ``PROMETHEUS_ENDPOINT``, ``MONITORED_TEMPORAL_ADDRESS``, the stack's storage."""
    state_dir: Path
    """The harness stack's state directory (``logs/`` has the server's, Prometheus's and the workloads' logs)."""

    def phase(self, workload: str, nth: int = 0) -> LivePhase:
        """The ``nth`` phase (from 0) that ran ``workload``."""
        return [p for p in self.phases if p.workload == workload][nth]

    @property
    def steady(self) -> LivePhase:
        return self.phase("steady")

    @property
    def incident(self) -> LivePhase:
        return self.phase("incident")

    def settings(self, **overrides: Any) -> Settings:
        values: dict[str, Any] = {key.lower(): value for key, value in self.env.items()}
        values.update(overrides)
        return Settings(_env_file=None, **values)

    def profile_body(self, phase: LivePhase, **extra: Any) -> dict[str, Any]:
        """A ``POST /profiles`` body for a phase's window, as a user would type it (the live demo's)."""
        return {**live_profile_body(phase.report, self.cluster), **extra}


@dataclass
class LiveHarness:
    """Runs the live stack and its phases in a background thread; ``wait`` collects, ``close`` stops."""

    state_dir: Path
    phases: tuple[tuple[str, float], ...] = (
        ("steady", PHASE_SECONDS),
        ("steady", PHASE_SECONDS),
        ("incident", PHASE_SECONDS),
        ("workflow-bug", LATER_PHASE_SECONDS),
        ("hung-activities", LATER_PHASE_SECONDS),
        ("no-worker", PHASE_SECONDS),
    )
    """(workload, seconds) in the order they run."""
    alone: int = 3
    """How many of the first phases run with no other harness beside them: those whose latencies the tests
    compare (the two ``steady`` windows and ``incident``). The later harnesses start once they are done."""
    dynamic_config: tuple[tuple[str, str], ...] = ()
    """The dev server's dynamic config (:attr:`StackConfig.temporal_dynamic_config`)."""
    backfill: bool = True
    """Whether Prometheus also holds a backfilled simulated hour."""
    after: LiveHarness | None = None
    """A harness whose first :attr:`alone` phases to let finish before starting."""
    stack: LocalStack = field(init=False)
    _thread: threading.Thread | None = field(default=None, init=False)
    _reports: list[RunReport] = field(default_factory=list, init=False)
    _error: BaseException | None = field(default=None, init=False)
    _current: WorkloadProcess | None = field(default=None, init=False)
    _closed: threading.Event = field(default_factory=threading.Event, init=False)
    _alone_done: threading.Event = field(default_factory=threading.Event, init=False)
    _started_phases: int = field(default=0, init=False)
    started_at: float = field(default=0.0, init=False)
    finished_at: float = field(default=0.0, init=False)

    def __post_init__(self) -> None:
        config = StackConfig.isolated(self.state_dir, "unused")
        self.stack = LocalStack(replace(config, temporal_dynamic_config=self.dynamic_config))

    @classmethod
    def in_temporary_directory(cls) -> LiveHarness:
        return cls(Path(tempfile.mkdtemp(prefix="bp-live-temporal-")))

    @classmethod
    def unnamed(cls, after: LiveHarness | None) -> LiveHarness:
        """A real server that leaves task queues unnamed in its metrics and limits the namespace's requests to
        :data:`NAMESPACE_RPS_LIMIT` a second, one ``incident`` phase."""
        return cls(
            Path(tempfile.mkdtemp(prefix="bp-live-unnamed-")),
            phases=(("incident", LATER_PHASE_SECONDS),),
            dynamic_config=(
                ("metrics.breakdownByTaskQueue", "false"),
                ("frontend.namespaceRPS", str(NAMESPACE_RPS_LIMIT)),
            ),
            backfill=False,
            after=after,
        )

    @classmethod
    def persistence_limited(cls, after: LiveHarness | None) -> LiveHarness:
        """A real server whose history persistence QPS limit is :data:`PERSISTENCE_QPS_LIMIT`, one ``steady``
        phase."""
        return cls(
            Path(tempfile.mkdtemp(prefix="bp-live-limited-")),
            phases=(("steady", LATER_PHASE_SECONDS),),
            dynamic_config=(("history.persistenceMaxQPS", str(PERSISTENCE_QPS_LIMIT)),),
            backfill=False,
            after=after,
        )

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="live-temporal", daemon=True)
            self._thread.start()

    def _run(self) -> None:
        if self.after is not None and self.after._thread is not None:
            self.after._alone_done.wait()
        self.started_at = time.monotonic()
        try:
            if self._closed.is_set():
                raise RuntimeError("closed before it started")
            self.stack.start_temporal()
            if self.backfill:
                placement = next(p for p in demo_plan(datetime.now(UTC)) if p.scenario == "healthy-150wps")
                load_scenarios(self.stack, [placement])
            self.stack.start_prometheus()
            log_path = self.stack.log_dir / "workload.log"
            with log_path.open("ab") as log:
                reports = run_phases(
                    list(self.phases),
                    address=self.stack.temporal_address,
                    metrics_address=self.stack.sdk_metrics_address,
                    report_dir=self.state_dir / "workloads",
                    output=log,
                    on_start=self._track,
                )
            settle = (reports[-1].end + timedelta(seconds=SETTLE_SECONDS) - datetime.now(UTC)).total_seconds()
            if settle > 0:
                self._closed.wait(settle)
            self._reports = reports
        except BaseException as exc:  # handed to the fixture, which fails the tests that wanted it
            self._error = exc
        finally:
            self._alone_done.set()  # never leave a later harness waiting on one that failed
            self.finished_at = time.monotonic()

    def _track(self, process: WorkloadProcess) -> None:
        self._current = process
        self._started_phases += 1
        if self._started_phases > self.alone:
            self._alone_done.set()
        if self._closed.is_set():
            process.stop()

    def wait(self, storage_env: dict[str, str], timeout: float = WAIT_SECONDS) -> LiveTemporal:
        """Block until its phases ran and were scraped; the result, or an AssertionError saying why not."""
        self.start()
        assert self._thread is not None
        self._thread.join(timeout)
        if self._thread.is_alive():
            raise AssertionError(f"the live Temporal phases did not finish within {timeout:.0f} s ({self.state_dir})")
        if self._error is not None:
            raise AssertionError(
                f"the live Temporal harness failed: {self._error!r}; logs in {self.stack.log_dir}"
            ) from self._error
        env = {
            **storage_env,
            "PROMETHEUS_ENDPOINT": self.stack.prometheus_url,
            "PROMETHEUS_CLUSTER_LABEL": self.stack.config.cluster_label,
            "MONITORED_TEMPORAL_ADDRESS": self.stack.temporal_address,
        }
        return LiveTemporal(
            cluster=self.stack.config.temporal_cluster,
            namespace=DEFAULT_NAMESPACE,
            task_queue=DEFAULT_TASK_QUEUE,
            phases=tuple(LivePhase.of(r) for r in self._reports),
            prometheus_url=self.stack.prometheus_url,
            temporal_address=self.stack.temporal_address,
            env=env,
            state_dir=self.state_dir,
        )

    def close(self) -> None:
        """Stop the running workload (if any) and every process of the harness stack; remove its files
        unless it failed."""
        self._closed.set()
        if self._current is not None:
            self._current.stop()
        if self._thread is not None:
            self._thread.join(60)
        self.stack.down()
        if self._error is None:
            shutil.rmtree(self.state_dir, ignore_errors=True)
