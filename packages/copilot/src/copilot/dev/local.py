"""`copilot dev up/down/demo/workload`: the local stack loaded with the simulator's demo scenarios.

The demo layout (see :func:`copilot.dev.simulator.demo_plan`) is written to ``<state>/manifest.json``
so that the demo, the docs and anyone poking at the stack can find the scenario windows.

With ``temporal=True`` the stack also runs a real Temporal dev server that its Prometheus scrapes;
:func:`run_live_demo` drives two real workloads on it (``steady``, then ``incident``) and profiles,
baselines and compares their windows the way :func:`run_demo` does with the simulated hours.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Callable, Collection
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from rich.console import Console

from behaviour_profiles.catalogue import Dialect
from copilot.dev.simulator import DEMO_DEPLOYMENTS, DEMO_DRIFT_SCENARIO, Placement, demo_plan, write_openmetrics
from copilot.dev.stack import LocalStack, StackConfig, StackError, ensure_prometheus
from copilot.dev.workload import (
    DEFAULT_NAMESPACE,
    DEFAULT_TASK_QUEUE,
    WORKLOADS,
    RunReport,
    WorkloadError,
    WorkloadProcess,
    start_workload,
)

DEMO_CLUSTER = "temporal-dev"
DEMO_NAMESPACE = "default"


def stack_config(state_dir: Path) -> StackConfig:
    """One database per state directory, so two checkouts sharing a PostgreSQL never mix their indexes
    (each keeps its documents in its own SeaweedFS data directory); the ports are the defaults but for
    those the environment moves (``COPILOT_DEV_PROMETHEUS_PORT`` and the like, :meth:`StackConfig.with_ports_from`)."""
    resolved = state_dir.resolve()
    digest = hashlib.sha1(str(resolved).encode()).hexdigest()[:8]
    return StackConfig(state_dir=resolved, database=f"copilot_dev_{digest}").with_ports_from(os.environ)


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
    temporal_address: str | None = None
    """``host:port`` of the real Temporal's frontend, when the stack runs one."""
    temporal_metrics_url: str | None = None


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


def dynamic_config_values(values: Collection[str]) -> tuple[tuple[str, str], ...]:
    """``KEY=VALUE`` options for the Temporal dev server's dynamic config, as (key, value) pairs; a
    StackError naming the first one without a key, an ``=`` or a JSON value (the dev server takes JSON)."""
    pairs: list[tuple[str, str]] = []
    for item in values:
        key, sep, value = (part.strip() for part in item.partition("="))
        if not sep or not key:
            raise StackError(f"--dynamic-config {item!r}: expected KEY=VALUE (e.g. frontend.namespaceRPS=50)")
        try:
            json.loads(value)
        except ValueError:
            raise StackError(
                f"--dynamic-config {item!r}: the value must be JSON, as the dev server reads it: a number, true "
                f'or false, or a string in double quotes ({key}="text")'
            ) from None
        pairs.append((key, value))
    return tuple(pairs)


def bring_up(
    state_dir: Path,
    *,
    start_api: bool,
    temporal: bool = False,
    temporal_dynamic_config: tuple[tuple[str, str], ...] = (),
    now: datetime | None = None,
    log: Callable[[str], None] = print,
) -> StackInfo:
    """Start the local stack (``temporal``: with a real Temporal dev server, given
    ``temporal_dynamic_config`` when this call starts it)."""
    import asyncio

    from copilot.index import apply_schema
    from copilot.settings import Settings

    if temporal_dynamic_config and not temporal:
        raise StackError("--dynamic-config sets the Temporal dev server's dynamic config: add --temporal")
    ensure_prometheus()
    stack = LocalStack(replace(stack_config(state_dir), temporal_dynamic_config=temporal_dynamic_config))
    if temporal_dynamic_config and stack.temporal_running:
        raise StackError(
            "the stack's Temporal dev server is already running, and dynamic config is given when it starts: "
            "run `copilot dev down` first"
        )
    log("starting PostgreSQL ...")
    stack.start_postgres()
    log("starting SeaweedFS S3 ...")
    stack.start_s3()
    if temporal:
        log("starting the Temporal dev server ...")
        stack.start_temporal()
    placements = demo_plan(now or datetime.now(UTC))
    log(f"simulating {len(placements)} scenario windows and backfilling Prometheus ...")
    stack.stop("prometheus")
    load_scenarios(stack, placements)
    stack.start_prometheus()
    log("recording the behaviour-profiles rules over the simulated history ...")
    stack.backfill_rules(
        min(p.start for p in placements).timestamp(), max(p.start + p.duration for p in placements).timestamp()
    )
    env = stack.env()
    asyncio.run(apply_schema(Settings(copilot_dsql_endpoint=env["COPILOT_DSQL_ENDPOINT"])))
    api_url = None
    if start_api:
        log("starting the Copilot API ...")
        api_url = stack.start_api()
    if not stack.temporal_running:
        return StackInfo(api_url=api_url, env=env, placements=placements)
    return StackInfo(
        api_url=api_url,
        env=env,
        placements=placements,
        temporal_address=stack.temporal_address,
        temporal_metrics_url=stack.temporal_metrics_url,
    )


def bring_down(state_dir: Path) -> None:
    LocalStack(stack_config(state_dir)).down()


DEMO_PRESET = "mid-scale"
"""The preset the demo checks the failing window's conformance against."""


@dataclass(frozen=True)
class DemoResult:
    api_url: str
    profile_a_id: str
    profile_b_id: str
    comparison: dict[str, Any]
    drift: dict[str, Any] | None = None
    """The failing window judged against the healthy baseline, with its configuration correlated."""
    conformance: dict[str, Any] | None = None
    """The failing profile checked against :data:`DEMO_PRESET`."""

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
                    **DEMO_DEPLOYMENTS[scenario].profile_fields(),
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
        # drift: a third, later window judged as the current window against the healthy baseline, with
        # the configuration it ran with; then the failing profile's conformance to a preset
        later = _window(info.placements, DEMO_DRIFT_SCENARIO, DEMO_NAMESPACE)
        console.print(
            f"[dim]judging drift of a later hour ({later.start:%H:%M}-{later.start + later.duration:%H:%M} UTC) "
            "against the baseline ...[/]"
        )
        drift = client.post(
            "/profiles/drift",
            json={
                "cluster_id": later.cluster,
                "namespace": later.namespace,
                "task_queue": later.task_queue,
                "time_window_start": later.start.isoformat(),
                "time_window_end": (later.start + later.duration).isoformat(),
                "config": DEMO_DEPLOYMENTS[DEMO_DRIFT_SCENARIO].profile_fields()["config"],
            },
        )
        drift.raise_for_status()
        conformance = client.post(f"/profiles/{ids['failing-400wps']}/conformance", json={"preset": DEMO_PRESET})
        conformance.raise_for_status()
    return DemoResult(
        info.api_url,
        ids["healthy-150wps"],
        ids["failing-400wps"],
        comparison.json(),
        drift=drift.json(),
        conformance=conformance.json(),
    )


# --- the real Temporal: workloads and the live demo ----------------------------------------------

LIVE_PHASES: tuple[tuple[str, float], ...] = (("steady", 95.0), ("incident", 95.0))
"""The live demo's two windows: the healthy load, then the incident (the change the tests use too)."""

SCRAPE_SETTLE_S = 15.0
"""After a window ends, wait this long so that Prometheus (10 s interval) has scraped its last seconds."""


def running_stack(state_dir: Path) -> LocalStack:
    """The stack of ``state_dir`` with its Temporal running, or a StackError saying how to start it."""
    stack = LocalStack(stack_config(state_dir))
    if not stack.temporal_running:
        raise StackError(
            f"no Temporal is running in the stack at {stack.state_dir}: start it with `copilot dev up --temporal`"
        )
    return stack


def run_workload(
    state_dir: Path,
    name: str,
    duration_s: float,
    *,
    namespace: str = DEFAULT_NAMESPACE,
    task_queue: str = DEFAULT_TASK_QUEUE,
) -> RunReport:
    """Drive a named workload on the stack's Temporal in the foreground (the runner prints as it goes)."""
    if name not in WORKLOADS:
        raise StackError(f"unknown workload {name!r}; expected one of {', '.join(sorted(WORKLOADS))}")
    stack = running_stack(state_dir)
    process = start_workload(
        WORKLOADS[name],
        address=stack.temporal_address,
        metrics_address=stack.sdk_metrics_address,
        duration_s=duration_s,
        report_path=stack.state_dir / "workloads" / f"{name}-{datetime.now(UTC):%Y%m%dT%H%M%S}.json",
        namespace=namespace,
        task_queue=task_queue,
    )
    try:
        return process.wait()
    except WorkloadError as exc:
        raise StackError(str(exc)) from exc
    finally:
        process.stop()


def _settle(report: RunReport) -> None:
    """Sleep until Prometheus has scraped the whole window."""
    wait = (report.end + timedelta(seconds=SCRAPE_SETTLE_S) - datetime.now(UTC)).total_seconds()
    if wait > 0:
        time.sleep(wait)


def live_profile_body(report: RunReport, cluster: str, label: str | None = None) -> dict[str, Any]:
    """``POST /profiles`` for a workload's window, with the names a user types and the worker options used."""
    body: dict[str, Any] = {
        "name": f"live {report.workload}",
        "cluster_id": cluster,
        "namespace": report.namespace,
        "task_queue": report.task_queue,
        "time_window_start": report.start.isoformat(),
        "time_window_end": report.end.isoformat(),
        "config": {"worker_options": report.worker_options},
    }
    if label is not None:
        body["label"] = label
    return body


def run_live_demo(state_dir: Path, console: Console, phases: tuple[tuple[str, float], ...] = LIVE_PHASES) -> DemoResult:
    """The main job on a real Temporal: two workload windows, a profile of each, baseline, compare."""
    (first, first_s), (second, second_s) = phases
    info = bring_up(state_dir, start_api=True, temporal=True, log=lambda m: console.print(f"[dim]{m}[/]"))
    assert info.api_url and info.temporal_address
    stack = running_stack(state_dir)
    cluster = stack.config.temporal_cluster
    log_path = stack.log_dir / "workload.log"
    console.print(
        f"[dim]Temporal at {info.temporal_address}, metrics {info.temporal_metrics_url}; workload log {log_path}[/]"
    )

    def start(name: str, seconds: float, index: int) -> WorkloadProcess:
        console.print(f"[dim]phase {index}: workload {name} for {seconds:.0f} s ({WORKLOADS[name].summary}) ...[/]")
        with log_path.open("ab") as log:
            return start_workload(
                WORKLOADS[name],
                address=stack.temporal_address,
                metrics_address=stack.sdk_metrics_address,
                duration_s=seconds,
                report_path=stack.state_dir / "workloads" / f"demo-{index}-{name}.json",
                output=log,
                seed=index,
            )

    def finish(process: WorkloadProcess) -> RunReport:
        try:
            report = process.wait()
        except WorkloadError as exc:
            raise StackError(f"{exc}; see {log_path}") from exc
        finally:
            process.stop()
        console.print(f"[dim]  {report.lines()[2]}; activity backlog at the end {report.activity_backlog}[/]")
        return report

    with httpx.Client(base_url=info.api_url, timeout=300) as client:

        def create(report: RunReport, label: str) -> str:
            _settle(report)
            console.print(
                f"[dim]creating profile {report.workload} ({report.start:%H:%M:%S}-{report.end:%H:%M:%S} UTC) ...[/]"
            )
            response = client.post("/profiles", json=live_profile_body(report, cluster, label))
            response.raise_for_status()
            return str(response.json()["id"])

        process = start(first, first_s, 1)
        try:
            healthy = finish(process)
            process = start(second, second_s, 2)
            id_a = create(healthy, f"{first} (live)")  # while the second phase runs
            incident = finish(process)
        finally:
            process.stop()
        id_b = create(incident, f"{second} (live)")
        client.post(f"/profiles/{id_a}/baseline").raise_for_status()
        comparison = client.post("/profiles/compare", json={"profile_a_id": id_a, "profile_b_id": id_b})
        comparison.raise_for_status()
    return DemoResult(info.api_url, id_a, id_b, comparison.json())
