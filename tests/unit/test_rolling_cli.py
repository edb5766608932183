"""`copilot profiles exclude|include|rolling-baseline`, `drift --rolling`, and the excluded column of lists."""

from __future__ import annotations

from typing import Any

import pytest
from typer.testing import CliRunner

from copilot import cli

PROFILE = "3f2b8c1e-0d4a-4a57-9a43-1c9e2f7b6d10"
META = {
    "id": PROFILE,
    "name": "hour 3",
    "label": None,
    "cluster_id": "c",
    "namespace": "default",
    "time_window_start": "2026-02-18T10:00:00Z",
    "time_window_end": "2026-02-18T11:00:00Z",
    "created_at": "2026-02-18T11:01:00Z",
    "is_baseline": False,
    "excluded_from_baselines": False,
    "exclusion_reason": None,
}
EXCLUDED = {**META, "excluded_from_baselines": True, "exclusion_reason": "generator misconfigured"}
ROLLING = {
    "cluster_id": "c",
    "namespace": "default",
    "n": 3,
    "anchor": META,
    "pooled": [META],
    "left_out": [{"profile": EXCLUDED, "reason": "excluded from baselines: generator misconfigured", "verdict": None}],
    "summary": "Pooled 1 of the last 3 passing profiles.",
    "notes": [],
}


@pytest.fixture
def calls(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, str, Any, Any]]:
    recorded: list[tuple[str, str, Any, Any]] = []
    answers = {
        ("POST", f"/profiles/{PROFILE}/exclusion"): EXCLUDED,
        ("DELETE", f"/profiles/{PROFILE}/exclusion"): META,
        ("GET", "/profiles/baseline/rolling"): ROLLING,
        ("GET", "/profiles"): [META, EXCLUDED],
        ("GET", "/profiles/baseline"): META,
    }

    def fake(method: str, path: str, *, body: Any = None, params: Any = None) -> Any:
        recorded.append((method, path, body, params))
        return answers[(method, path)]

    monkeypatch.setattr(cli, "_api", fake)
    return recorded


def run(*args: str) -> str:
    result = CliRunner().invoke(cli.app, ["profiles", *args], env={"COLUMNS": "240", "NO_COLOR": "1"})
    assert result.exit_code == 0, result.output
    return result.output


def test_exclude_sends_the_reason_and_include_reverses_it(calls: list[Any]) -> None:
    assert "excluded from baselines: generator misconfigured" in run(
        "exclude", PROFILE, "--reason", "generator misconfigured"
    )
    assert "counts toward baselines again" in run("include", PROFILE)
    assert [(m, p, b) for m, p, b, _ in calls] == [
        ("POST", f"/profiles/{PROFILE}/exclusion", {"reason": "generator misconfigured"}),
        ("DELETE", f"/profiles/{PROFILE}/exclusion", None),
    ]


def test_exclude_needs_a_reason(calls: list[Any]) -> None:
    result = CliRunner().invoke(cli.app, ["profiles", "exclude", PROFILE])
    assert result.exit_code != 0 and calls == []


def test_rolling_baseline_lists_pooled_and_left_out(calls: list[Any]) -> None:
    out = run("rolling-baseline", "--cluster", "c", "--namespace", "default", "-n", "3")
    assert calls == [("GET", "/profiles/baseline/rolling", None, {"cluster": "c", "namespace": "default", "n": 3})]
    assert "Rolling baseline: pooled profiles" in out
    assert "left out" in out and "generator misconfigured" in out


def test_the_list_shows_the_excluded_column_only_when_needed(calls: list[Any]) -> None:
    out = run("list", "--cluster", "c")
    assert "excluded (why)" in out and "✗ generator" in out and "misconfigured" in out
    assert out.count("✗") == 1
    calls.clear()
    assert "excluded (why)" not in run("baseline-show", "--cluster", "c")
