"""`copilot dev up --dynamic-config` passes the Temporal dev server's dynamic config, or says what to fix."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from copilot.cli import app
from copilot.dev.local import dynamic_config_values
from copilot.dev.stack import StackError


def _up(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, ["dev", "up", *args])
    return result.exit_code, result.output + (result.stderr if result.stderr_bytes is not None else "")


def test_values_are_read_as_key_and_json_value_pairs() -> None:
    assert dynamic_config_values(
        ["frontend.namespaceRPS=50", " metrics.breakdownByTaskQueue = false ", 'limit.blobSize.warn="a=b"']
    ) == (
        ("frontend.namespaceRPS", "50"),
        ("metrics.breakdownByTaskQueue", "false"),
        ("limit.blobSize.warn", '"a=b"'),
    )
    assert dynamic_config_values([]) == ()


@pytest.mark.parametrize(
    ("item", "says"),
    [
        ("frontend.namespaceRPS", "expected KEY=VALUE"),
        ("=50", "expected KEY=VALUE"),
        ("frontend.namespaceRPS=", "must be JSON"),
        ("history.shardName=abc", 'history.shardName="text"'),
    ],
)
def test_a_value_the_dev_server_would_refuse_is_refused_first(item: str, says: str) -> None:
    with pytest.raises(StackError, match=r"--dynamic-config") as raised:
        dynamic_config_values([item])
    assert says in str(raised.value)


def test_the_cli_refuses_bad_values_and_values_without_a_temporal(tmp_path: Path) -> None:
    code, output = _up("--temporal", "--dynamic-config", "frontend.namespaceRPS", "--state-dir", str(tmp_path))
    assert code == 1 and "expected KEY=VALUE" in output
    code, output = _up("--dynamic-config", "frontend.namespaceRPS=50", "--state-dir", str(tmp_path))
    assert code == 1 and "add --temporal" in output
    assert not any(tmp_path.iterdir())  # nothing was started
