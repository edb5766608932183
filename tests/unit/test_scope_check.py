"""The scope check of a create: names matched as each source exports them, refused with what exists."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from behaviour_profiles.catalogue import Dialect, Source
from behaviour_profiles.errors import NoTelemetry
from behaviour_profiles.models import Coverage, ScopeMatch, TelemetrySummary
from behaviour_profiles.service import check_scope
from behaviour_profiles.telemetry import Scope

START = datetime(2026, 12, 1, 10, tzinfo=UTC)
END = START + timedelta(minutes=5)


class Known:
    """A collector that only knows which names each source reports."""

    def __init__(self, **names: list[str]) -> None:
        self.names = names
        self.asked: list[tuple[str, Source, Dialect]] = []

    async def known_values(
        self, scope: Scope, dimension: str, source: Source, dialect: Dialect, start: datetime, end: datetime
    ) -> list[str]:
        self.asked.append((dimension, source, dialect))
        return self.names.get(source.value, [])


def telemetry(value: str, server: bool, sdk: bool, dialect: Dialect = Dialect.TALLY) -> TelemetrySummary:
    exported = value.replace("-", "_") if dialect is Dialect.TALLY else value
    scope = [
        ScopeMatch(
            dimension="task_queue",
            value=value,
            source="server",
            label="taskqueue",
            exported_as=exported,
            with_data=["sync_match_rate"] if server else [],
            without_data=[] if server else ["sync_match_rate"],
        ),
        ScopeMatch(
            dimension="task_queue",
            value=value,
            source="sdk",
            label="task_queue",
            exported_as=value,
            with_data=["worker_task_slot_utilization"] if sdk else [],
            without_data=[] if sdk else ["worker_task_slot_utilization"],
        ),
    ]
    return TelemetrySummary(
        dialect=dialect.value, step_seconds=15, metrics={}, coverage=Coverage(with_data=3, asked=40, scope=scope)
    )


async def refusal(collector: Known, value: str, *, server: bool = False, sdk: bool = False) -> str:
    """The message of ``check_scope``'s refusal of task queue ``value`` (matched by ``server``/``sdk``)."""
    with pytest.raises(NoTelemetry) as caught:
        await check_scope(collector, Scope("c", "default", value), telemetry(value, server, sdk), START, END)
    return caught.value.message


async def test_a_name_both_sources_know_passes_untouched() -> None:
    collector = Known()
    summary = telemetry("main-queue", server=True, sdk=True)
    assert await check_scope(collector, Scope("c", "default", "main-queue"), summary, START, END) is summary
    assert collector.asked == []


async def test_a_misspelt_task_queue_is_refused_with_the_names_that_exist_closest_first() -> None:
    collector = Known(server=["aux_queue", "main_queue", "zz_other"], sdk=["aux-queue", "main-queue"])
    message = await refusal(collector, "main-qeue")
    assert "Task queue 'main-qeue' matches no series of the server, SDK workers" in message
    assert "the server knows task queues main_queue, aux_queue, zz_other" in message
    assert "SDK workers know task queues main-queue, aux-queue" in message
    assert "exports 'main-qeue' as 'main_qeue'" in message and "nothing was stored" in message


async def test_a_name_only_the_sdk_matches_is_refused_when_the_server_knows_others() -> None:
    # what the product did before: the server's series were silently "no data" because of the rewrite
    collector = Known(server=["main_queue"])
    with pytest.raises(NoTelemetry, match="the server knows task queues main_queue"):
        await check_scope(
            collector, Scope("c", "default", "main.queue"), telemetry("main.queue", False, True), START, END
        )


async def test_a_name_the_sdk_does_not_report_is_kept_with_a_note() -> None:
    collector = Known(sdk=["other-queue"])
    summary = telemetry("main-queue", server=True, sdk=False)
    checked = await check_scope(collector, Scope("c", "default", "main-queue"), summary, START, END)
    (note,) = checked.notes
    assert note.startswith("SDK workers report task queues other-queue but not task queue 'main-queue'")
    assert "worker_task_slot_utilization has no data" in note
    silent = await check_scope(Known(), Scope("c", "default", "main-queue"), summary, START, END)
    assert silent.notes == [
        "SDK workers report no task queue 'main-queue' in this window, so worker_task_slot_utilization has no "
        "data; are the workers' metrics scraped into this Prometheus?"
    ]


async def test_workers_reported_around_the_window_but_not_in_it_are_not_called_unknown() -> None:
    """Prometheus looks names up by index block: SDK series of the queue from before the window are found
    while none has a sample in it (no worker polled). The note must not say the name is not reported."""
    collector = Known(sdk=["main-queue", "other-queue"])
    summary = telemetry("main-queue", server=True, sdk=False)
    checked = await check_scope(collector, Scope("c", "default", "main-queue"), summary, START, END)
    assert checked.notes == [
        "SDK workers report task queue 'main-queue' around this window but not in it, so "
        "worker_task_slot_utilization has no data: no worker of it reported in the window. Were its workers "
        "down, or polling another task queue? Or their metrics not scraped then?"
    ]


async def test_a_server_that_reports_no_names_while_sdk_workers_match_is_noted() -> None:
    summary = telemetry("main-queue", server=False, sdk=True)
    checked = await check_scope(Known(), Scope("c", "default", "main-queue"), summary, START, END)
    assert checked.notes == [
        "The server reports no task queue 'main-queue' in this window, so sync_match_rate has no data; "
        "is the server's metrics endpoint scraped into this Prometheus?"
    ]


async def test_a_task_queue_the_server_leaves_unnamed_is_refused_with_what_to_do() -> None:
    message = await refusal(Known(server=["__omitted__"]), "main-queue", sdk=True)
    assert message.startswith("Task queue 'main-queue' matches no series of the server in ")
    assert "the server does not name 'main-queue' in its metrics" in message
    assert 'taskqueue="__omitted__"' in message and "metrics.breakdownByTaskQueue is false" in message
    assert "SDK workers do report 'main-queue'" in message
    assert "Profile the namespace instead (leave the task queue empty)" in message and "nothing was stored" in message
    assert "type the name as your workers use it" not in message


async def test_a_name_neither_knows_beside_unnamed_queues_says_what_each_names() -> None:
    message = await refusal(Known(server=["__omitted__", "aux_queue"], sdk=["main-queue", "aux-queue"]), "main-qeue")
    assert "it names only aux_queue" in message
    assert "SDK workers do not report it either (they know main-queue, aux-queue): check the name" in message
