"""`copilot profiles rules`: the recording rules check as a table, or as the API's answer."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from typer.testing import CliRunner

from behaviour_profiles.models import RecordedMetric, RecordedState, RecordingRulesStatus
from behaviour_profiles.telemetry import STATE_WORDS, rules_summary
from copilot import cli

STATES = {"task_dispatch_latency": RecordedState.RECORDED, "workflow_failures_per_sec": RecordedState.OLDER_RULES}
STATUS = RecordingRulesStatus(
    cluster_id="prod",
    namespace=None,
    task_queue=None,
    time_window_start=datetime(2026, 12, 4, 10, tzinfo=UTC),
    time_window_end=datetime(2026, 12, 4, 11, tzinfo=UTC),
    dialect="tally",
    in_use=True,
    summary=rules_summary(STATES, in_use=True),
    metrics=[
        RecordedMetric(
            metric=key,
            state=state,
            reads=STATE_WORDS[state],
            series=["bp_tally_cluster:task_dispatch_latency:rate1m_bucket"] if state is RecordedState.RECORDED else [],
        )
        for key, state in STATES.items()
    ],
).model_dump(mode="json")


@pytest.fixture
def calls(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, str, Any]]:
    recorded: list[tuple[str, str, Any]] = []

    def fake(method: str, path: str, *, body: Any = None, params: Any = None) -> Any:
        recorded.append((method, path, params))
        return STATUS

    monkeypatch.setattr(cli, "_api", fake)
    return recorded


def run(*args: str) -> str:
    result = CliRunner().invoke(cli.app, ["profiles", "rules", *args], env={"COLUMNS": "240", "NO_COLOR": "1"})
    assert result.exit_code == 0, result.output
    return result.output


def test_the_rules_check_prints_each_metric_s_state_and_what_to_do(calls: list[Any]) -> None:
    out = run("--cluster", "prod", "--start", "2026-12-04T10:00:00Z", "--end", "2026-12-04T11:00:00Z")
    assert calls == [
        (
            "GET",
            "/profiles/recording-rules",
            {"cluster": "prod", "start": "2026-12-04T10:00:00Z", "end": "2026-12-04T11:00:00Z"},
        )
    ]
    dispatch = next(line for line in out.splitlines() if "task_dispatch_latency" in line)
    assert "recorded" in dispatch and "bp_tally_cluster:task_dispatch_latency:rate1m_bucket" in dispatch
    failures = next(line for line in out.splitlines() if "workflow_failures_per_sec" in line)
    assert "older_rules" in failures and "another version's rules file only" in failures
    assert "1 of 2 metrics would be read from the recorded series of this version's rules" in " ".join(out.split())


def test_the_rules_check_as_json_is_the_api_s_answer(calls: list[Any]) -> None:
    assert json.loads(run("--cluster", "prod", "--namespace", "default", "--json")) == STATUS
    assert calls[0][2] == {"cluster": "prod", "namespace": "default"}
