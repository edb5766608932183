"""`copilot profiles envelope`: the request it sends, and the table and terminal chart it prints."""

from __future__ import annotations

from typing import Any

import pytest
from typer.testing import CliRunner

from behaviour_profiles.envelope import capacity_envelope
from behaviour_profiles.presets import PRESETS
from copilot import cli
from copilot.render import envelope_chart
from tests.unit.test_envelope import step

ENVELOPE = capacity_envelope(
    [step(load, i) for i, load in enumerate((100.0, 300.0, 500.0, 600.0))], preset=PRESETS["mid-scale"]
).model_dump(mode="json")


@pytest.fixture
def calls(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, str, Any]]:
    recorded: list[tuple[str, str, Any]] = []

    def fake(method: str, path: str, *, body: Any = None, params: Any = None) -> Any:
        recorded.append((method, path, body))
        return ENVELOPE

    monkeypatch.setattr(cli, "_api", fake)
    return recorded


def run(*args: str) -> str:
    result = CliRunner().invoke(cli.app, ["profiles", "envelope", *args], env={"COLUMNS": "200", "NO_COLOR": "1"})
    assert result.exit_code == 0, result.output
    return result.output


def test_by_label_with_a_preset(calls: list[Any]) -> None:
    out = run("--cluster", "c", "--namespace", "default", "--label", "sweep", "--preset", "mid-scale")
    assert calls == [
        (
            "POST",
            "/profiles/envelope",
            {"cluster_id": "c", "namespace": "default", "label": "sweep", "preset": "mid-scale"},
        )
    ]
    assert "Capacity envelope of c/default (preset mid-scale)" in out
    assert "broken (breaks)" in out and "warn (safe)" in out
    assert "state_transitions_per_sec fail 4,728/s / 4,500/s" in out
    assert "Held up to 500/s; broke at 600/s" in out


def test_by_ids_with_thresholds(calls: list[Any]) -> None:
    run("a", "b", "--threshold", "latency=30")
    assert calls == [("POST", "/profiles/envelope", {"profile_ids": ["a", "b"], "thresholds_pct": {"latency": 30.0}})]


def test_json_prints_the_answer(calls: list[Any]) -> None:
    assert '"breaking_load": 600.0' in run("a", "b", "--json")


def test_the_chart_draws_throughput_bars_and_marks_the_broken_bound() -> None:
    lines = envelope_chart(ENVELOPE)
    bars = [line for line in lines if "│" in line]
    assert len(bars) == 4
    # throughput grows with load: each bar is longer than the last, the heaviest full width
    lengths = [line.count("█") for line in bars]
    assert lengths == sorted(lengths) and lengths[-1] == 40
    transitions = next(line for line in lines if line.startswith("state_transitions_per_sec"))
    assert "[red]█[/]" in transitions and "fails at 4,500/s or more" in transitions
    # lightest to heaviest: low, middle, in the warning band (yellow), beyond the hard limit (red)
    assert "▁▄[yellow]▇[/][red]█[/]  788/s … 4,728/s" in transitions
