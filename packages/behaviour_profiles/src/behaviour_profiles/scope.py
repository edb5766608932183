"""Where and when telemetry is read: :class:`Scope` and :class:`Window`, value objects of the pure core.

Each says what it is in words once (:meth:`Scope.describe`, :meth:`Window.describe`), and the rules of
a time window (after its start, at most ``MAX_WINDOW`` long, not after now) are written once, here.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from behaviour_profiles.errors import InvalidRequest

MAX_WINDOW = timedelta(hours=24)
"""The longest time window a profile (or a drift check) may cover."""
FUTURE_SKEW = timedelta(minutes=2)
"""How far past ``now`` a window may end: clocks of the caller and the server differ a little."""


@dataclass(frozen=True)
class Scope:
    """What every query is scoped by: a cluster, and optionally a namespace and a task queue.

    ``cluster_label`` is the Prometheus label that carries the cluster id, when the deployment has one.
    """

    cluster_id: str
    namespace: str | None
    task_queue: str | None
    cluster_label: str | None = None

    def values(self) -> dict[str, str]:
        """The namespace and task queue that narrow the scope, by dimension."""
        out: dict[str, str] = {}
        if self.namespace:
            out["namespace"] = self.namespace
        if self.task_queue:
            out["task_queue"] = self.task_queue
        return out

    def cluster_only(self) -> Scope:
        """The whole cluster: no namespace, no task queue."""
        return Scope(self.cluster_id, None, None, self.cluster_label)

    def describe(self) -> str:
        """``cluster 'c', namespace 'n', task queue 'q'``, leaving out what is not set."""
        where = f"cluster {self.cluster_id!r}"
        if self.namespace:
            where += f", namespace {self.namespace!r}"
        if self.task_queue:
            where += f", task queue {self.task_queue!r}"
        return where


def window_problem(start: datetime, end: datetime) -> str | None:
    """What is wrong with a window from ``start`` to ``end`` (that is not about ``now``), or ``None``."""
    if end <= start:
        return "time_window_end must be after time_window_start"
    if end - start > MAX_WINDOW:
        return "the time window is longer than 24 hours; choose a window of at most 24 hours"
    return None


@dataclass(frozen=True)
class Window:
    """A time window of telemetry; constructing one checks :func:`window_problem` (:class:`InvalidRequest`)."""

    start: datetime
    end: datetime

    def __post_init__(self) -> None:
        problem = window_problem(self.start, self.end)
        if problem is not None:
            raise InvalidRequest(problem)

    @classmethod
    def before(cls, end: datetime, length: timedelta) -> Window:
        """The ``length`` of time that ends at ``end``."""
        return cls(end - length, end)

    def must_have_passed(self, now: datetime, why: str) -> None:
        """Refuse a window that ends later than ``FUTURE_SKEW`` after ``now``; ``why`` ends the message."""
        if self.end > now + FUTURE_SKEW:
            raise InvalidRequest(f"time_window_end {self.end.isoformat()} is in the future; {why}")

    def describe(self) -> str:
        """``<start> .. <end>`` in ISO 8601, with their zones."""
        return f"{self.start.isoformat()} .. {self.end.isoformat()}"
