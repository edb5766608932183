"""The workflow and activity the workload runner drives on a real Temporal (:mod:`copilot.dev.workload`).

Kept apart from the runner and free of side effects at import: the workflow sandbox imports this
module again for every workflow run, so it must only define things.
"""

from __future__ import annotations

import asyncio
import random
from dataclasses import dataclass
from datetime import timedelta

from temporalio import activity, workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ApplicationError

__all__ = [
    "HANG_PAST_TIMEOUT_SECONDS",
    "ActivityInput",
    "Counters",
    "WorkActivities",
    "WorkflowInput",
    "WorkloadWorkflow",
    "attempt_seconds",
]


HANG_PAST_TIMEOUT_SECONDS = 2.0
"""How long a hung attempt goes on after its start-to-close timeout (then its answer is refused)."""


@dataclass(frozen=True)
class ActivityInput:
    seconds: float
    failure_fraction: float
    hang_fraction: float = 0.0
    """Share of attempts that hang past their start-to-close timeout (a downstream that stops answering):
    the server times them out and retries them."""


@dataclass(frozen=True)
class WorkflowInput:
    activity: ActivityInput
    activities: int
    """Activities run one after the other by each workflow."""
    max_attempts: int
    """Attempts per activity (the first one and its retries); after the last one the workflow fails."""
    bug_fraction: float = 0.0
    """Share of workflows whose code raises after their activities (a bug, not an application failure):
    their workflow task fails, and fails again at every retry, so they neither complete nor fail."""


def attempt_seconds(rng: random.Random, mean: float) -> float:
    """How long one activity attempt takes: uniform within half of ``mean`` either side, so ``mean`` on
    average, as real activities vary (and never in step with a scrape)."""
    return mean * (0.5 + rng.random())


@dataclass
class Counters:
    """What the runner's own activities did (workflows run in the sandbox and keep no counters)."""

    attempts: int = 0
    failures: int = 0
    hangs: int = 0


class WorkActivities:
    """The activity, bound to the runner's counters and random source."""

    def __init__(self, counters: Counters, rng: random.Random) -> None:
        self._counters = counters
        self._rng = rng

    @activity.defn(name="work")
    async def work(self, spec: ActivityInput) -> None:
        """Sleep about ``seconds`` (busy for a slot, idle for the CPU), then fail a ``failure_fraction`` of
        attempts; a ``hang_fraction`` of them first hang past their start-to-close timeout."""
        self._counters.attempts += 1
        if spec.hang_fraction and self._rng.random() < spec.hang_fraction:  # no draw otherwise: same stream
            # hold the slot past the attempt's timeout: the server times the attempt out (and retries it)
            # and refuses the late answer, as when a downstream stops answering
            self._counters.hangs += 1
            timeout = activity.info().start_to_close_timeout or timedelta(seconds=10)
            await asyncio.sleep(timeout.total_seconds() + HANG_PAST_TIMEOUT_SECONDS)
        await asyncio.sleep(attempt_seconds(self._rng, spec.seconds))
        if self._rng.random() < spec.failure_fraction:
            self._counters.failures += 1
            raise ApplicationError("injected activity failure (workload's failure fraction)", type="InjectedFailure")


@workflow.defn(name="WorkloadWorkflow")
class WorkloadWorkflow:
    @workflow.run
    async def run(self, spec: WorkflowInput) -> None:
        for _ in range(spec.activities):
            await workflow.execute_activity_method(
                WorkActivities.work,
                spec.activity,
                start_to_close_timeout=timedelta(seconds=max(10.0, spec.activity.seconds * 4)),
                retry_policy=RetryPolicy(
                    initial_interval=timedelta(milliseconds=500),
                    backoff_coefficient=2.0,
                    maximum_attempts=spec.max_attempts,
                ),
            )
        if workflow.random().random() < spec.bug_fraction:
            # deterministic per workflow: every retry of the workflow task replays to the same bug
            raise RuntimeError("injected workflow bug (workload's bug fraction)")
