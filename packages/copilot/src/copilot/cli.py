"""The ``copilot`` command: ``serve``, ``profiles ...`` and ``dev ...``.

Configured by the same environment variables as the API (see ``docs/configuration.md``). Errors print
one red line and exit 1.
"""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path
from typing import Annotated, Any, NoReturn

import httpx
import typer
from rich.console import Console

from copilot.render import print_comparison, profiles_table
from copilot.settings import Settings

app = typer.Typer(help="The Copilot: Behaviour Profiles for Temporal on Aurora DSQL.", no_args_is_help=True)
profiles_app = typer.Typer(help="Create, list, show, baseline and compare profiles (talks to the API).")
dev_app = typer.Typer(help="The local stack: PostgreSQL, SeaweedFS S3, Prometheus and the API.")
schema_app = typer.Typer(help="The metadata index schema.")
app.add_typer(profiles_app, name="profiles")
app.add_typer(dev_app, name="dev")
dev_app.add_typer(schema_app, name="schema")

# Off a terminal (CI logs, pipes) rich would wrap tables at 80 columns; give them room instead.
console = Console(width=None if sys.stdout.isatty() else 160)
err_console = Console(stderr=True)

StateDir = Annotated[Path, typer.Option(envvar="COPILOT_DEV_DIR", help="Where the local stack keeps its state")]
DEFAULT_STATE_DIR = Path(".copilot-dev")


def fail(message: str) -> NoReturn:
    err_console.print(f"[bold red]error:[/] {message}", highlight=False, soft_wrap=True)
    raise typer.Exit(1)


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Bind address (COPILOT_HOST)")] = None,
    port: Annotated[int | None, typer.Option(help="Port (COPILOT_PORT, default 8081)")] = None,
) -> None:
    """Run the Copilot API (profiles at /profiles, OpenAPI at /docs)."""
    import uvicorn

    from copilot.app import create_app

    settings = Settings()
    uvicorn.run(
        create_app(settings),
        host=host or settings.copilot_host,
        port=port or settings.copilot_port,
        log_level="info",
    )


# --- profiles: an HTTP client of the API --------------------------------------------------------


def _api(method: str, path: str, *, body: Any = None, params: dict[str, Any] | None = None) -> Any:
    base = Settings().copilot_api_url.rstrip("/")
    try:
        response = httpx.request(method, f"{base}{path}", json=body, params=params, timeout=300)
    except httpx.HTTPError as exc:
        fail(f"the Copilot API at {base} is not reachable ({exc}); start it with `copilot serve` or `copilot dev up`")
    if response.status_code >= 400:
        try:
            detail = response.json().get("detail", response.text)
        except ValueError:
            detail = response.text
        fail(f"HTTP {response.status_code}: {detail}")
    return response.json()


def _emit(data: Any) -> None:
    console.print_json(json.dumps(data))


@profiles_app.command("create")
def profiles_create(
    name: Annotated[str, typer.Option(help="Profile name")],
    cluster: Annotated[str, typer.Option(help="Cluster id")],
    start: Annotated[str, typer.Option(help="Window start, ISO-8601 with zone")],
    end: Annotated[str, typer.Option(help="Window end, ISO-8601 with zone")],
    namespace: Annotated[str | None, typer.Option()] = None,
    task_queue: Annotated[str | None, typer.Option()] = None,
    label: Annotated[str | None, typer.Option()] = None,
) -> None:
    """Snapshot a time window into a profile."""
    body = {
        "name": name,
        "cluster_id": cluster,
        "time_window_start": start,
        "time_window_end": end,
        "namespace": namespace,
        "task_queue": task_queue,
        "label": label,
    }
    with console.status("Collecting telemetry from Prometheus..."):
        _emit(_api("POST", "/profiles", body={k: v for k, v in body.items() if v is not None}))


@profiles_app.command("list")
def profiles_list(
    cluster: Annotated[str | None, typer.Option()] = None,
    namespace: Annotated[str | None, typer.Option()] = None,
    label: Annotated[str | None, typer.Option()] = None,
    task_queue: Annotated[str | None, typer.Option()] = None,
    limit: Annotated[int, typer.Option()] = 50,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """List profiles, newest first."""
    params = {"cluster": cluster, "namespace": namespace, "label": label, "task_queue": task_queue, "limit": limit}
    items = _api("GET", "/profiles", params={k: v for k, v in params.items() if v is not None})
    if as_json:
        _emit(items)
    else:
        console.print(profiles_table(items))


@profiles_app.command("show")
def profiles_show(profile_id: str) -> None:
    """Print a full profile as JSON."""
    _emit(_api("GET", f"/profiles/{profile_id}"))


@profiles_app.command("baseline")
def profiles_baseline(profile_id: str) -> None:
    """Designate a profile as the baseline of its cluster and namespace."""
    _emit(_api("POST", f"/profiles/{profile_id}/baseline"))


@profiles_app.command("compare")
def profiles_compare(
    profile_a: str,
    profile_b: str,
    statistic: Annotated[str, typer.Option(help="mean, p50, p95, p99 or max")] = "mean",
    include_all: Annotated[bool, typer.Option("--all", help="Show metrics within thresholds too")] = False,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Compare profile A (before) with profile B (after)."""
    body = {"profile_a_id": profile_a, "profile_b_id": profile_b, "statistic": statistic, "include_all": include_all}
    result = _api("POST", "/profiles/compare", body=body)
    if as_json:
        _emit(result)
    else:
        print_comparison(console, result)


# --- dev: the local stack -----------------------------------------------------------------------


@schema_app.command("setup")
def schema_setup() -> None:
    """Create the metadata index tables and indexes (idempotent)."""
    from behaviour_profiles.errors import BehaviourProfileError
    from copilot.index import apply_schema

    settings = Settings()
    if not settings.copilot_dsql_endpoint:
        fail("COPILOT_DSQL_ENDPOINT is not set: give a DSQL hostname or a postgresql:// URL")
    try:
        done = asyncio.run(apply_schema(settings))
    except BehaviourProfileError as exc:
        fail(exc.message)
    for statement in done:
        console.print(f"[green]ok[/] {statement}")


@dev_app.command("up")
def dev_up(state_dir: StateDir = DEFAULT_STATE_DIR) -> None:
    """Start PostgreSQL, SeaweedFS S3, Prometheus (loaded with the simulator's scenarios) and the API."""
    from copilot.dev.local import bring_up

    info = _stack_call(lambda: bring_up(state_dir, start_api=True, log=console.print))
    console.print(f"[green]Stack up.[/] API at {info.api_url}  (stop with `copilot dev down`)")


@dev_app.command("down")
def dev_down(state_dir: StateDir = DEFAULT_STATE_DIR) -> None:
    """Stop everything `copilot dev up` started."""
    from copilot.dev.local import bring_down

    _stack_call(lambda: bring_down(state_dir))
    console.print("[green]Stack down.[/]")


@dev_app.command("status")
def dev_status(state_dir: StateDir = DEFAULT_STATE_DIR) -> None:
    """Show what the local stack is running."""
    from copilot.dev.local import stack_config
    from copilot.dev.stack import LocalStack

    for component, state in LocalStack(stack_config(state_dir)).status().items():
        console.print(f"{component:<11} {state}")


@dev_app.command("demo")
def dev_demo(state_dir: StateDir = DEFAULT_STATE_DIR) -> None:
    """The main job: bring the stack up, profile both scenarios, baseline the healthy one, compare."""
    from copilot.dev.local import run_demo

    result = _stack_call(lambda: run_demo(state_dir, console))
    print_comparison(console, result.comparison)
    console.print(
        f"\n[green]API serving at {result.api_url}[/]: try `curl {result.api_url}/profiles/` or open "
        f"{result.api_url}/docs. Compared {result.profile_a_id} (healthy) with {result.profile_b_id} (failing). "
        "Stop the stack with `copilot dev down`."
    )


def _stack_call(action: Any) -> Any:
    from copilot.dev.stack import StackError

    try:
        return action()
    except StackError as exc:
        fail(str(exc))
    except httpx.HTTPStatusError as exc:
        fail(f"API answered HTTP {exc.response.status_code}: {exc.response.text}")


def main() -> None:
    try:
        app()
    except KeyboardInterrupt:
        sys.exit(130)
