"""`copilot dev workload` refuses what it cannot run, with a line that says what to do."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from copilot.cli import app


def _run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, ["dev", "workload", *args])
    return result.exit_code, result.output + (result.stderr if result.stderr_bytes is not None else "")


def test_without_a_running_temporal_it_says_how_to_start_one(tmp_path: Path) -> None:
    code, output = _run("steady", "--duration", "5", "--state-dir", str(tmp_path))
    assert code == 1
    assert "copilot dev up --temporal" in output


def test_an_unknown_workload_is_refused_naming_the_known_ones(tmp_path: Path) -> None:
    code, output = _run("stampede", "--state-dir", str(tmp_path))
    assert code == 1
    assert "stampede" in output
    assert "incident" in output and "steady" in output
