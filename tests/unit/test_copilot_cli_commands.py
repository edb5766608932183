"""The `copilot profiles` commands of the Copilot's uses call the right endpoints and print their answers."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from behaviour_profiles.presets import PRESETS
from copilot import cli

PROFILE = "3f2b8c1e-0d4a-4a57-9a43-1c9e2f7b6d10"
META = {
    "id": PROFILE,
    "name": "healthy",
    "label": None,
    "cluster_id": "temporal-dev",
    "namespace": "default",
    "time_window_start": "2026-02-18T10:00:00Z",
    "time_window_end": "2026-02-18T11:00:00Z",
    "created_at": "2026-02-18T11:01:00Z",
    "is_baseline": True,
}
CHECK = {
    "metric": "persistence_latency_p99",
    "unit": "ms",
    "status": "fail",
    "observed": 235.0,
    "min": None,
    "warn_min": None,
    "warn_max": 60.0,
    "max": 120.0,
}
CONFORMANCE = {
    "preset": "mid-scale",
    "conforming": False,
    "verdict": "fail",
    "summary": "Drifted from mid-scale: 1 of 9 bounds fail.",
    "checks": [CHECK],
}
DRIFT = {
    "baseline": META,
    "time_window_start": "2026-02-18T12:00:00Z",
    "time_window_end": "2026-02-18T12:30:00Z",
    "status": "drifted",
    "verdict": "fail",
    "summary": "Fail: ...",
    "explanation": "Drifted: 1 metric regressed beyond its threshold.",
    "deviations": [],
    "correlations": [
        {"relation": "expected", "statement": "changed TEMPORAL_SQL_MAX_CONNS from 50 to 20 -> latency regressed"}
    ],
    "notes": [],
    "attributions": [
        {
            "metric": "workflow_schedule_to_start_p99",
            "statement": "Workflow task schedule-to-start p99 +200 %: 90 % of it from task queue orders_queue in "
            "namespace default (was 30 %; its own value +300 %).",
        }
    ],
}


@pytest.fixture
def calls(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, str, Any, Any]]:
    recorded: list[tuple[str, str, Any, Any]] = []
    answers = {
        "/profiles/baseline": META,
        "/profiles/drift": DRIFT,
        "/presets": [p.model_dump(mode="json") for p in PRESETS.values()],
        f"/profiles/{PROFILE}/conformance": CONFORMANCE,
        f"/profiles/{PROFILE}/recommendation": {
            "conformance": CONFORMANCE,
            "overrides": [
                {
                    "key": "TEMPORAL_SQL_MAX_CONNS",
                    "part": "environment",
                    "current_value": 20,
                    "suggested_value": 50,
                    "why": "pool",
                    "evidence": [CHECK],
                }
            ],
            "notes": [],
            "summary": "Fits mid-scale.",
        },
    }

    def fake(method: str, path: str, *, body: Any = None, params: Any = None) -> Any:
        recorded.append((method, path, body, params))
        return answers[path]

    monkeypatch.setattr(cli, "_api", fake)
    return recorded


def run(*args: str) -> str:
    result = CliRunner().invoke(cli.app, ["profiles", *args])
    assert result.exit_code == 0, result.output
    return result.output


def test_baseline_show(calls: list[Any]) -> None:
    out = run("baseline-show", "--cluster", "temporal-dev", "--namespace", "default")
    assert calls == [("GET", "/profiles/baseline", None, {"cluster": "temporal-dev", "namespace": "default"})]
    assert "healthy" in out


def test_drift_sends_window_thresholds_and_config(calls: list[Any], tmp_path: Path) -> None:
    env = tmp_path / "server.env"
    env.write_text("TEMPORAL_SQL_MAX_CONNS=20\n")
    out = run(
        "drift",
        "--cluster",
        "temporal-dev",
        "--namespace",
        "default",
        "--start",
        "2026-02-18T12:00:00Z",
        "--end",
        "2026-02-18T12:30:00Z",
        "--threshold",
        "latency=30",
        "--env-file",
        str(env),
    )
    ((method, path, body, _),) = calls
    assert (method, path) == ("POST", "/profiles/drift")
    assert body["thresholds_pct"] == {"latency": 30.0}
    assert body["config"] == {"environment": {"TEMPORAL_SQL_MAX_CONNS": "20"}}
    assert body["time_window_start"] == "2026-02-18T12:00:00Z" and "task_queue" not in body
    assert "drifted" in out and "changed TEMPORAL_SQL_MAX_CONNS from 50 to 20" in out
    assert "Where the regressions live (top contributors of the baseline and of the current window)" in out
    assert "90 % of it from task queue orders_queue in namespace default" in " ".join(out.split())


def test_drift_refuses_a_malformed_threshold(calls: list[Any]) -> None:
    result = CliRunner().invoke(cli.app, ["profiles", "drift", "--cluster", "c", "--threshold", "latency"])
    assert result.exit_code == 1 and calls == []


def test_presets_conformance_and_recommend(calls: list[Any]) -> None:
    assert "high-throughput" in run("presets")
    out = run("conformance", PROFILE, "--preset", "mid-scale")
    assert calls[-1] == ("POST", f"/profiles/{PROFILE}/conformance", {"preset": "mid-scale"}, None)
    assert "persistence_latency_p99" in out and "drifted" in out
    run("conformance", PROFILE)
    assert calls[-1][2] is None  # the preset named at creation
    out = run("recommend", PROFILE)
    assert calls[-1][:2] == ("POST", f"/profiles/{PROFILE}/recommendation")
    assert "TEMPORAL_SQL_MAX_CONNS" in out and "Fits mid-scale." in out


def test_correlations_print_every_relation_and_text_with_brackets() -> None:
    """A relation without a style (``possible``) and a statement with brackets print as plain text."""
    from rich.console import Console

    from copilot import cli

    out = Console(record=True, width=200)
    original = cli.console
    cli.console = out
    try:
        cli._print_correlations(
            [
                {"relation": "possible", "statement": "changed dynamic_config[history.persistenceMaxQPS] -> [x] rose"},
                {"relation": "expected", "statement": "changed TEMPORAL_SQL_MAX_CONNS from 50 to 20"},
            ]
        )
    finally:
        cli.console = original
    text = out.export_text()
    assert "possible  changed dynamic_config[history.persistenceMaxQPS] -> [x] rose" in text
    assert "expected  changed TEMPORAL_SQL_MAX_CONNS from 50 to 20" in text


def test_compare_prints_where_each_regression_lives(monkeypatch: pytest.MonkeyPatch) -> None:
    statement = (
        "Persistence latency p99 +80 %: 70 % of it from operation UpdateWorkflowExecution on history "
        "(was 40 %; its own value +120 %)."
    )
    answer = {
        "statistic": "mean",
        "telemetry_diffs": [],
        "verdict": "fail",
        "summary": "Fail: persistence_latency_p99 +80 %.",
        "attributions": [{"metric": "persistence_latency_p99", "statement": statement}],
    }
    monkeypatch.setattr(cli, "_api", lambda method, path, *, body=None, params=None: answer)
    result = CliRunner().invoke(cli.app, ["profiles", "compare", PROFILE, PROFILE], terminal_width=250)
    assert result.exit_code == 0, result.output
    assert "Where the regressions live" in result.output
    assert statement in result.output
    answer["attributions"] = []
    quiet = CliRunner().invoke(cli.app, ["profiles", "compare", PROFILE, PROFILE], terminal_width=250)
    assert "Where the regressions live" not in quiet.output
