"""`copilot dev up/down/demo`: the local stack loaded with the simulator's demo scenarios.

The demo layout (see :func:`copilot.dev.simulator.demo_plan`) is written to ``<state>/manifest.json``
so that the demo, the docs and anyone poking at the stack can find the scenario windows.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Collection
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from rich.console import Console

from behaviour_profiles.catalogue import Dialect
from copilot.dev.simulator import Placement, demo_plan, write_openmetrics
from copilot.dev.stack import LocalStack, StackConfig, ensure_prometheus

DEMO_CLUSTER = "temporal-dev"
DEMO_NAMESPACE = "default"


def stack_config(state_dir: Path) -> StackConfig:
    """One database per state directory, so two checkouts sharing a PostgreSQL never mix their indexes
    (each keeps its documents in its own SeaweedFS data directory)."""
    resolved = state_dir.resolve()
    digest = hashlib.sha1(str(resolved).encode()).hexdigest()[:8]
    return StackConfig(state_dir=resolved, database=f"copilot_dev_{digest}")


def placements_manifest(placements: list[Placement]) -> list[dict[str, Any]]:
    return [
        {
            "scenario": p.scenario,
            "namespace": p.namespace,
            "cluster": p.cluster,
            "task_queue": p.task_queue,
            "start": p.start.isoformat(),
            "end": (p.start + p.duration).isoformat(),
        }
        for p in placements
    ]


@dataclass(frozen=True)
class StackInfo:
    api_url: str | None
    env: dict[str, str]
    placements: list[Placement]


def load_scenarios(
    stack: LocalStack,
    placements: list[Placement],
    *,
    scrape_interval_s: int = 15,
    dialect: Dialect = Dialect.OPENTELEMETRY,
    omit: Collection[str] = (),
) -> None:
    """Write the placements as OpenMetrics and backfill them into Prometheus's TSDB (``omit``: families left out)."""
    sim_dir = stack.config.state_dir / "sim"
    sim_dir.mkdir(parents=True, exist_ok=True)
    path = sim_dir / "scenarios.om"
    with path.open("w") as out:
        write_openmetrics(out, placements, scrape_interval_s=scrape_interval_s, dialect=dialect, omit=omit)
    stack.load_prometheus(path)
    path.unlink()
    (stack.config.state_dir / "manifest.json").write_text(json.dumps(placements_manifest(placements), indent=2))


def bring_up(
    state_dir: Path,
    *,
    start_api: bool,
    now: datetime | None = None,
    log: Callable[[str], None] = print,
) -> StackInfo:
    import asyncio

    from copilot.index import apply_schema
    from copilot.settings import Settings

    ensure_prometheus()
    stack = LocalStack(stack_config(state_dir))
    log("starting PostgreSQL ...")
    stack.start_postgres()
    log("starting SeaweedFS S3 ...")
    stack.start_s3()
    placements = demo_plan(now or datetime.now(UTC))
    log(f"simulating {len(placements)} scenario windows and backfilling Prometheus ...")
    stack.stop("prometheus")
    load_scenarios(stack, placements)
    stack.start_prometheus()
    env = stack.env()
    asyncio.run(apply_schema(Settings(copilot_dsql_endpoint=env["COPILOT_DSQL_ENDPOINT"])))
    api_url = None
    if start_api:
        log("starting the Copilot API ...")
        api_url = stack.start_api()
    return StackInfo(api_url=api_url, env=env, placements=placements)


def bring_down(state_dir: Path) -> None:
    LocalStack(stack_config(state_dir)).down()


@dataclass(frozen=True)
class DemoResult:
    api_url: str
    profile_a_id: str
    profile_b_id: str
    comparison: dict[str, Any]

    @property
    def ui_url(self) -> str:
        """The web UI's page of the demo's comparison (A = the healthy baseline, B = the failing window)."""
        return f"{self.api_url}/ui/compare?a={self.profile_a_id}&b={self.profile_b_id}"


def _window(placements: list[Placement], scenario: str, namespace: str) -> Placement:
    for p in placements:
        if p.scenario == scenario and p.namespace == namespace:
            return p
    raise LookupError(f"the demo plan has no {scenario} window in namespace {namespace}")


def run_demo(state_dir: Path, console: Console) -> DemoResult:
    info = bring_up(state_dir, start_api=True, log=lambda m: console.print(f"[dim]{m}[/]"))
    assert info.api_url
    with httpx.Client(base_url=info.api_url, timeout=300) as client:
        ids: dict[str, str] = {}
        for scenario, label in (("healthy-150wps", "healthy @ 150 WPS"), ("failing-400wps", "failed @ 400 WPS")):
            p = _window(info.placements, scenario, DEMO_NAMESPACE)
            console.print(f"[dim]creating profile {scenario} ({p.start:%H:%M}-{p.start + p.duration:%H:%M} UTC) ...[/]")
            response = client.post(
                "/profiles",
                json={
                    "name": f"demo {scenario}",
                    "cluster_id": p.cluster,
                    "namespace": p.namespace,
                    "task_queue": p.task_queue,
                    "label": label,
                    "time_window_start": p.start.isoformat(),
                    "time_window_end": (p.start + p.duration).isoformat(),
                },
            )
            response.raise_for_status()
            ids[scenario] = response.json()["id"]
        client.post(f"/profiles/{ids['healthy-150wps']}/baseline").raise_for_status()
        comparison = client.post(
            "/profiles/compare",
            json={"profile_a_id": ids["healthy-150wps"], "profile_b_id": ids["failing-400wps"]},
        )
        comparison.raise_for_status()
    return DemoResult(info.api_url, ids["healthy-150wps"], ids["failing-400wps"], comparison.json())
