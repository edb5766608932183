"""Task queues the server does not name in its metrics (pure).

Temporal's matching and history services write a task queue's name in their ``taskqueue`` label only
while the dynamic config ``metrics.breakdownByTaskQueue`` is true for it (the default). Operators turn it
off to bound that label's cardinality; then every such queue of a namespace shares one series whose
``taskqueue`` is ``__omitted__``, and the server emits no per-queue gauges (backlog count and age) for
them at all. SDK workers keep the name. Seen on a real 1.32 dev server started with
``--dynamic-config-value metrics.breakdownByTaskQueue=false``.

Everything a profile, a refusal or a contributor says about it is worded here.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping

from behaviour_profiles.catalogue import MetricSpec
from behaviour_profiles.models import NO_SAMPLES, MetricStatus, MetricSummary

UNNAMED_TASK_QUEUE = "__omitted__"
"""The ``taskqueue`` value the server writes for the task queues it does not name."""

BREAKDOWN_SETTING = "metrics.breakdownByTaskQueue"
"""The dynamic config that decides, per task queue, whether the server names it."""

UNNAMED_WORDS = "the task queues the server does not name"
"""A contributor whose ``taskqueue`` is :data:`UNNAMED_TASK_QUEUE`, in words."""

_WHY = f'its series carry taskqueue="{UNNAMED_TASK_QUEUE}": the dynamic config {BREAKDOWN_SETTING} is false for them'
_HOW = (
    f"set {BREAKDOWN_SETTING} to true (for a few task queues: with a taskQueueName constraint); windows after "
    "the change have them"
)


def names_queues(values: Collection[str]) -> tuple[bool, bool]:
    """Of the ``taskqueue`` values the server's series carry: whether some queues are unnamed, and
    whether some are named."""
    return UNNAMED_TASK_QUEUE in values, any(value != UNNAMED_TASK_QUEUE for value in values)


def with_unnamed_queues(
    metrics: Mapping[str, MetricSummary], specs: Iterable[MetricSpec], *, named_too: bool
) -> tuple[dict[str, MetricSummary], str]:
    """A profile's metrics and note where the server leaves task queues unnamed: each metric the server
    emits only for named queues says why it has no data; the note says which metrics that leaves without
    data, or covering only the named queues, and how contributors count the unnamed ones."""
    out = dict(metrics)
    only_named = [spec.key for spec in specs if spec.named_queues_only and spec.key in metrics]
    empty = [key for key in only_named if metrics[key].status is MetricStatus.NO_DATA]
    thin = [key for key in only_named if key not in empty]
    named = "none of those it names reported it" if named_too else "it names none"
    for key in empty:
        if (metrics[key].reason or "").startswith(NO_SAMPLES):  # another reason (a partial answer) stands
            out[key] = metrics[key].model_copy(
                update={
                    "reason": f"the server emits it only for the task queues it names, and {named} in this "
                    f"window ({_WHY}); {_HOW}"
                }
            )
    which = "some of its task queues" if named_too else "its task queues"
    effects = []
    if empty:
        effects.append(f"{' and '.join(empty)} {_have(empty)} no data")
    if thin:
        effects.append(f"{' and '.join(thin)} cover only the task queues it names")
    return out, (
        f"Task queues: the server does not name {which} in its metrics in this window ({_WHY}), and emits no "
        f"backlog gauges for them{': ' + ' and '.join(effects) if effects else ''}. Contributors by task queue "
        f"count them together as {UNNAMED_WORDS}. To profile them one by one, {_HOW}."
    )


def unnamed_refusal(value: str) -> str:
    """Why a profile of task queue ``value`` cannot read the server's series when the server leaves task
    queues unnamed."""
    return (
        f"the server does not name {value!r} in its metrics ({_WHY}), so its matching and history metrics "
        "cannot be read for one task queue"
    )


UNNAMED_REMEDY = f"Profile the namespace instead (leave the task queue empty), or {_HOW}"
"""What to do instead of profiling a task queue the server leaves unnamed."""


def _have(keys: list[str]) -> str:
    return "has" if len(keys) == 1 else "have"
