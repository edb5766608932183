"""A server that leaves task queues unnamed: what a profile says of the metrics it cannot have."""

from __future__ import annotations

from behaviour_profiles.attribution import describe_labels, lead_words
from behaviour_profiles.breakdown import UNNAMED_TASK_QUEUE, names_queues, with_unnamed_queues
from behaviour_profiles.catalogue import CATALOGUE
from behaviour_profiles.models import NO_SAMPLES, MetricStatus, MetricSummary, ShareOf


def _metrics(**status: MetricStatus) -> dict[str, MetricSummary]:
    out = {
        spec.key: MetricSummary(key=spec.key, status=status.get(spec.key, MetricStatus.OK), unit=spec.unit)
        for spec in CATALOGUE
    }
    return {
        key: m.model_copy(update={"reason": NO_SAMPLES}) if m.status is MetricStatus.NO_DATA else m
        for key, m in out.items()
    }


def test_names_queues_tells_unnamed_from_named() -> None:
    assert names_queues([]) == (False, False)
    assert names_queues(["main_queue"]) == (False, True)
    assert names_queues([UNNAMED_TASK_QUEUE]) == (True, False)
    assert names_queues([UNNAMED_TASK_QUEUE, "main_queue"]) == (True, True)


def test_every_queue_unnamed_the_backlog_gauges_say_why_they_have_no_data() -> None:
    metrics = _metrics(backlog_count=MetricStatus.NO_DATA, backlog_age=MetricStatus.NO_DATA)
    out, note = with_unnamed_queues(metrics, CATALOGUE, named_too=False)
    for key in ("backlog_count", "backlog_age"):
        reason = out[key].reason
        assert out[key].status is MetricStatus.NO_DATA and reason is not None
        assert reason.startswith("the server emits it only for the task queues it names, and it names none in this")
        assert "metrics.breakdownByTaskQueue" in reason
    assert {k for k in out if out[k] != metrics[k]} == {"backlog_count", "backlog_age"}
    assert note.startswith("Task queues: the server does not name its task queues in its metrics")
    assert "backlog_count and backlog_age have no data" in note
    assert "count them together as the task queues the server does not name" in note


def test_some_queues_named_the_backlog_gauges_are_said_to_cover_only_those() -> None:
    metrics = _metrics()
    out, note = with_unnamed_queues(metrics, CATALOGUE, named_too=True)
    assert out == metrics  # nothing to mend: the gauges have the named queues' data
    assert "does not name some of its task queues" in note
    assert "backlog_count and backlog_age cover only the task queues it names" in note and "no data" not in note


def test_named_queues_without_backlog_and_a_partial_answer_keep_what_is_true_of_them() -> None:
    metrics = _metrics(backlog_count=MetricStatus.NO_DATA, backlog_age=MetricStatus.NO_DATA)
    partial = "not collected: Prometheus answered with a warning that its data is partial (store down)"
    metrics["backlog_age"] = metrics["backlog_age"].model_copy(update={"reason": partial})
    metrics["backlog_count"] = metrics["backlog_count"].model_copy(update={"reason": NO_SAMPLES})
    out, note = with_unnamed_queues(metrics, CATALOGUE, named_too=True)
    reason = out["backlog_count"].reason
    assert reason is not None and "and none of those it names reported it in this window" in reason
    assert out["backlog_age"].reason == partial  # not the setting's doing: its own reason stands
    assert "does not name some of its task queues" in note


def test_the_unnamed_queues_read_as_words_in_contributors() -> None:
    labels = {"namespace": "default", "taskqueue": UNNAMED_TASK_QUEUE}
    assert describe_labels(labels) == "the task queues the server does not name in namespace default"
    assert lead_words(ShareOf.TOTAL, 1.0, labels) == (
        "100 % of it from the task queues the server does not name in namespace default"
    )
    assert describe_labels({"namespace": "default", "taskqueue": "main_queue"}) == (
        "task queue main_queue in namespace default"
    )
