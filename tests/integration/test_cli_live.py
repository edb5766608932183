"""The real `copilot profiles ...` commands, run as processes, against a real `copilot serve` on the local stack."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest

from tests.integration.conftest import Stack

pytestmark = pytest.mark.stack


class Cli:
    def __init__(self, env: dict[str, str]) -> None:
        self.env = env

    def run(self, *args: str, ok: bool = True) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(
            [sys.executable, "-m", "copilot", *args],
            env=self.env,
            capture_output=True,
            text=True,
            stdin=subprocess.DEVNULL,
            timeout=180,
        )
        if ok:
            assert done.returncode == 0, f"{args}: {done.stdout}\n{done.stderr}"
        return done

    def json(self, *args: str) -> Any:
        return json.loads(self.run(*args, "--json").stdout)


@pytest.fixture(scope="module")
def cli(stack: Stack) -> Iterator[Cli]:
    api = stack.stack.start_api()
    try:
        env = {**os.environ, "COPILOT_API_URL": api, "COLUMNS": "200", "NO_COLOR": "1"}
        env.pop("COPILOT_API_TOKEN", None)
        yield Cli(env)
    finally:
        stack.stack.stop("api")


def window(stack: Stack, scenario: str) -> list[str]:
    p = stack.window(scenario)
    return [
        "--cluster",
        p.cluster,
        "--namespace",
        p.namespace,
        "--task-queue",
        p.task_queue,
        "--start",
        p.start.isoformat(),
        "--end",
        (p.start + p.duration).isoformat(),
    ]


def test_the_profile_lifecycle_from_the_terminal(stack: Stack, cli: Cli) -> None:
    label = f"cli-{uuid.uuid4().hex[:8]}"
    created = cli.run("profiles", "create", "--name", "healthy", "--label", label, *window(stack, "healthy-150wps"))
    assert created.stdout.startswith("Created profile ")
    healthy_id = created.stdout.split()[2]
    assert uuid.UUID(healthy_id)
    assert "metrics with data" in created.stdout and "server version 1.27.2" in created.stdout
    assert f"/ui/profiles/{healthy_id}" in created.stdout
    failing = cli.json("profiles", "create", "--name", "failing", "--label", label, *window(stack, "failing-400wps"))

    # list: a table newest first, filtered by label; --json agrees
    table = cli.run("profiles", "list", "--label", label).stdout
    assert table.index(failing["id"]) < table.index(healthy_id)
    assert [p["id"] for p in cli.json("profiles", "list", "--label", label)] == [failing["id"], healthy_id]
    assert cli.json("profiles", "list", "--label", f"{label}-nothing") == []

    # show: a summary with each metric's aggregates; --json is the whole document
    shown = cli.run("profiles", "show", healthy_id).stdout
    assert "workflows_started_per_sec" in shown and "(from build_information)" in shown
    # no platform CPU in this Prometheus: one explanation instead of a "no data" row per service
    assert "cpu_utilization.history" not in shown and "Temporal exports no CPU metric" in shown
    document = cli.json("profiles", "show", healthy_id)
    assert document["telemetry"]["metrics"]["workflows_started_per_sec"]["status"] == "ok"

    # baseline: designate, then read it back
    designated = cli.run("profiles", "baseline", healthy_id).stdout
    assert "is now the baseline of cluster 'temporal-dev', namespace 'default'" in designated
    assert cli.json("profiles", "baseline-show", "--cluster", "temporal-dev", "--namespace", "default")["id"] == (
        healthy_id
    )

    # compare: a table with the verdict; --json carries the diffs ordered by severity
    compared = cli.run("profiles", "compare", healthy_id, failing["id"]).stdout
    assert "persistence_latency_p99" in compared and "Verdict: fail" in compared and "critical" in compared
    result = cli.json("profiles", "compare", healthy_id, failing["id"])
    assert result["verdict"] == "fail"
    ranks = {"critical": 0, "warning": 1, "info": 2}
    severities = [ranks[d["severity"]] for d in result["telemetry_diffs"]]
    assert severities == sorted(severities)

    # the Copilot's uses
    assert "mid-scale" in cli.run("profiles", "presets").stdout
    conformance = cli.json("profiles", "conformance", failing["id"], "--preset", "mid-scale")
    assert conformance["preset"] == "mid-scale" and conformance["verdict"] in {"fail", "warn"}
    recommendation = cli.json("profiles", "recommend", failing["id"])
    assert recommendation["summary"] in cli.run("profiles", "recommend", failing["id"]).stdout.replace("\n", " ")
    drift = cli.json("profiles", "drift", *window(stack, "failing-400wps"))
    assert drift["baseline"]["id"] == healthy_id and drift["status"] == "drifted"


def test_errors_are_one_red_line_and_a_non_zero_exit(stack: Stack, cli: Cli) -> None:
    p = stack.window("healthy-150wps")
    too_long = cli.run(
        "profiles",
        "create",
        "--name",
        "too long",
        "--cluster",
        p.cluster,
        "--start",
        (p.start - timedelta(hours=30)).isoformat(),
        "--end",
        p.start.isoformat(),
        ok=False,
    )
    assert too_long.returncode == 1 and too_long.stdout == ""
    lines = too_long.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: HTTP 422") and "24" in lines[0]

    missing = cli.run("profiles", "show", str(uuid.uuid4()), ok=False)
    assert missing.returncode == 1 and "HTTP 404" in missing.stderr

    nowhere = Cli({**cli.env, "COPILOT_API_URL": "http://127.0.0.1:9"})
    down = nowhere.run("profiles", "list", ok=False)
    assert down.returncode == 1 and "not reachable" in down.stderr and "copilot serve" in down.stderr
