"""Clients of the API honour a 429's ``Retry-After``: the CLI waits it out once, then sends the request again."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi import FastAPI
from typer.testing import CliRunner

from copilot import cli
from copilot.access import TokenBucket
from copilot.settings import Settings
from tests.support import serving_over_http

CREATE = ["profiles", "create", "--name", "n", "--cluster", "c"]
WINDOW = ["--start", "2026-02-18T10:00:00Z", "--end", "2026-02-18T11:00:00Z"]


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def limited_api(monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> Iterator[tuple[FastAPI, FakeClock]]:
    """A real server of the app (no storage: a creation that gets through answers 503) taking 3 creations a
    minute on a clock of the test's own; the CLI is pointed at it."""
    settings = Settings(
        _env_file=None, copilot_profile_s3_bucket=None, prometheus_endpoint=None, copilot_create_rate_per_minute=3
    )
    clock = FakeClock()
    with serving_over_http(settings) as (url, app):
        app.state.create_limiter = TokenBucket(3, clock=clock)
        monkeypatch.chdir(tmp_path)  # no dev/.env
        monkeypatch.setenv("COPILOT_API_URL", url)
        monkeypatch.delenv("COPILOT_API_TOKEN", raising=False)
        yield app, clock


def test_the_cli_waits_out_a_429_once_and_sends_again(
    limited_api: tuple[FastAPI, FakeClock], monkeypatch: pytest.MonkeyPatch
) -> None:
    _, clock = limited_api
    waits: list[float] = []

    def sleep(seconds: float) -> None:  # the wait passes on the API's clock
        waits.append(seconds)
        clock.now += seconds

    monkeypatch.setattr(cli, "sleep", sleep)
    runner = CliRunner()
    for _ in range(3):
        spent = runner.invoke(cli.app, [*CREATE, *WINDOW])
        assert "HTTP 503" in spent.output and "rate limited" not in spent.output
    assert waits == []

    result = runner.invoke(cli.app, [*CREATE, *WINDOW])
    assert waits == [20]  # 3 a minute: the next creation in 20 s
    assert "rate limited; retrying in 20 s" in result.output
    # the second attempt got through the limiter and reached the (unconfigured) storage
    assert result.exit_code == 1 and "HTTP 503" in result.output and "HTTP 429" not in result.output


def test_the_cli_gives_up_after_one_wait(
    limited_api: tuple[FastAPI, FakeClock], monkeypatch: pytest.MonkeyPatch
) -> None:
    waits: list[float] = []
    monkeypatch.setattr(cli, "sleep", waits.append)  # the clock stands still: still limited after the wait
    runner = CliRunner()
    for _ in range(3):
        runner.invoke(cli.app, [*CREATE, *WINDOW])
    result = runner.invoke(cli.app, [*CREATE, *WINDOW])
    assert waits == [20]
    assert result.output.count("rate limited; retrying in") == 1
    assert result.exit_code == 1 and "HTTP 429" in result.output and "try again in 20 s" in result.output


@pytest.mark.parametrize(("header", "expected"), [("7", 7), ("0", 0), ("121", None), ("soon", None), ("", None)])
def test_retry_after_is_honoured_only_as_a_sane_number_of_seconds(header: str, expected: int | None) -> None:
    import httpx

    response = httpx.Response(429, headers={"Retry-After": header} if header else {})
    assert cli.retry_after_seconds(response) == expected
