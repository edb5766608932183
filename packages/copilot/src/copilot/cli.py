"""The ``copilot`` command: ``serve``, ``profiles ...`` and ``dev ...``.

Configured by the same environment variables as the API (see ``docs/configuration.md``). Errors print
one red line and exit 1.
"""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path
from time import sleep
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import httpx
import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from behaviour_profiles.models import ThresholdClass
from behaviour_profiles.scope import Scope
from copilot.render import (
    _num,
    collecting_progress,
    print_comparison,
    print_envelope,
    print_notes,
    print_profile,
    profile_created_line,
    profiles_table,
    window_text,
)
from copilot.settings import Settings

if TYPE_CHECKING:
    from copilot.dev.local import StackInfo

app = typer.Typer(help="The Copilot: Behaviour Profiles for Temporal on Aurora DSQL.", no_args_is_help=True)
profiles_app = typer.Typer(help="Create, list, show, baseline and compare profiles (talks to the API).")
dev_app = typer.Typer(
    help="The local stack: PostgreSQL, SeaweedFS S3, Prometheus, the API and optionally a real Temporal."
)
schema_app = typer.Typer(help="The metadata index schema.")
app.add_typer(profiles_app, name="profiles")
app.add_typer(dev_app, name="dev")
dev_app.add_typer(schema_app, name="schema")

# Off a terminal (CI logs, pipes) rich would wrap tables at 80 columns; give them room instead.
console = Console(width=None if sys.stdout.isatty() else 200)  # a list of profiles with an excluded one needs ~170
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
        # the app logs one structured line per request (with its request id); uvicorn's own would repeat it
        access_log=False,
    )


# --- profiles: an HTTP client of the API --------------------------------------------------------


RETRY_AFTER_LIMIT_S = 120
"""The longest ``Retry-After`` the CLI waits out (the API's own are at most a minute)."""


def retry_after_seconds(response: httpx.Response) -> int | None:
    """A 429's ``Retry-After`` in whole seconds, when it is given as seconds and is worth waiting for."""
    value = response.headers.get("Retry-After", "").strip()
    if not value.isdigit() or int(value) > RETRY_AFTER_LIMIT_S:
        return None
    return int(value)


def _given(values: dict[str, Any]) -> dict[str, Any]:
    """``values`` without those that are None (an option not given), as a query or a body sends them."""
    return {k: v for k, v in values.items() if v is not None}


def _api(method: str, path: str, *, body: Any = None, params: dict[str, Any] | None = None) -> Any:
    settings = Settings()
    base = settings.copilot_api_url.rstrip("/")
    headers = {"Authorization": f"Bearer {settings.copilot_api_token}"} if settings.copilot_api_token else None

    def send() -> httpx.Response:
        try:
            return httpx.request(method, f"{base}{path}", json=body, params=params, headers=headers, timeout=300)
        except httpx.HTTPError as exc:
            fail(
                f"the Copilot API at {base} is not reachable ({exc}); start it with `copilot serve` or `copilot dev up`"
            )

    response = send()
    wait = retry_after_seconds(response) if response.status_code == 429 else None
    if wait is not None:
        # nothing was done (the API refuses before it reads the request): wait it out once and send it again
        err_console.print(f"[yellow]rate limited; retrying in {wait} s[/]", highlight=False)
        sleep(wait)
        response = send()
    if response.status_code == 401:
        fail(
            f"HTTP 401: the Copilot API at {base} needs its API token; set COPILOT_API_TOKEN to it"
            if headers is None
            else f"HTTP 401: the Copilot API at {base} refused the token; set COPILOT_API_TOKEN to the API's token"
        )
    if response.status_code >= 400:
        try:
            detail = response.json().get("detail", response.text)
        except ValueError:
            detail = response.text
        fail(f"HTTP {response.status_code}: {detail}")
    return response.json()


def _emit(data: Any) -> None:
    console.print_json(json.dumps(data))


def ui_url(profile_id: str) -> str:
    """The web UI page of a profile, on the API the CLI talks to."""
    return f"{Settings().copilot_api_url.rstrip('/')}/ui/profiles/{profile_id}"


@profiles_app.command("create")
def profiles_create(
    name: Annotated[str, typer.Option(help="Profile name")],
    cluster: Annotated[str, typer.Option(help="Cluster id")],
    start: Annotated[str, typer.Option(help="Window start, ISO-8601 with zone")],
    end: Annotated[str, typer.Option(help="Window end, ISO-8601 with zone")],
    namespace: Annotated[str | None, typer.Option()] = None,
    task_queue: Annotated[str | None, typer.Option()] = None,
    label: Annotated[str | None, typer.Option()] = None,
    preset: Annotated[
        str | None, typer.Option(help="The scale preset it should match: starter, mid-scale, high-throughput")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the created profile's metadata as JSON")] = False,
) -> None:
    """Snapshot a time window into a profile (a progress bar runs while the API collects telemetry)."""
    body = {
        "name": name,
        "cluster_id": cluster,
        "time_window_start": start,
        "time_window_end": end,
        "namespace": namespace,
        "task_queue": task_queue,
        "label": label,
        "preset": preset,
    }
    with collecting_progress(err_console, f"Collecting telemetry for {cluster} {start} .. {end}"):
        meta = _api("POST", "/profiles", body=_given(body))
    if as_json:
        _emit(meta)
        return
    console.print(profile_created_line(meta), highlight=False, soft_wrap=True)
    print_notes(console, meta.get("notes") or [])
    console.print(f"Open it: {ui_url(meta['id'])}", highlight=False, soft_wrap=True)


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
    items = _api("GET", "/profiles", params=_given(params))
    if as_json:
        _emit(items)
    else:
        console.print(profiles_table(items))


@profiles_app.command("show")
def profiles_show(
    profile_id: str,
    as_json: Annotated[bool, typer.Option("--json", help="Print the whole profile document as JSON")] = False,
) -> None:
    """Show a profile: identity, versions, config sources and every metric's aggregates."""
    profile = _api("GET", f"/profiles/{profile_id}")
    if as_json:
        _emit(profile)
        return
    print_profile(console, profile)
    console.print(f"Open it: {ui_url(profile['id'])}", highlight=False, soft_wrap=True)


@profiles_app.command("baseline")
def profiles_baseline(
    profile_id: str, as_json: Annotated[bool, typer.Option("--json", help="Print the metadata as JSON")] = False
) -> None:
    """Designate a profile as the baseline of its cluster and namespace."""
    meta = _api("POST", f"/profiles/{profile_id}/baseline")
    if as_json:
        _emit(meta)
        return
    where = Scope(meta["cluster_id"], meta.get("namespace"), None).describe()
    console.print(f"[green]★[/] {meta['id']} ({meta['name']}) is now the baseline of {escape(where)}", highlight=False)


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
        _print_correlations(result.get("correlations", []))
        _print_attributions(result.get("attributions", []))


# --- the Copilot's uses: baseline, drift, presets, conformance, recommendation -----------------

STATUS_STYLE = {
    "pass": "green",
    "warn": "yellow",
    "fail": "bold red",
    "no_data": "magenta",
    "drifted": "bold red",
    "no_drift": "green",
    "inconclusive": "magenta",
    "conforming": "green",
}
RELATION_STYLE = {"expected": "bold", "possible": "", "contrary": "dim"}


def _markup(style: str, text: str) -> str:
    """``text`` (escaped) in ``style``; no markup at all for an empty style (``[]...[/]`` is a markup error)."""
    return f"[{style}]{escape(text)}[/]" if style else escape(text)


def _styled(word: str) -> str:
    return _markup(STATUS_STYLE.get(word, ""), word)


def _print_correlations(correlations: list[dict[str, Any]]) -> None:
    if not correlations:
        return
    console.print("[bold]Config changes connected to regressions[/] (catalogue influences):")
    for item in correlations:
        relation = _markup(RELATION_STYLE.get(item["relation"], ""), f"{item['relation']:<9}")
        console.print(f"  {relation} {escape(item['statement'])}", highlight=False, soft_wrap=True)


def _print_attributions(attributions: list[dict[str, Any]], kept: str = "top contributors at creation") -> None:
    """Each attribution's statement under a heading that says whose contributors were matched (``kept``)."""
    if not attributions:
        return
    console.print(f"[bold]Where the regressions live[/] ({escape(kept)}):")
    for item in attributions:
        console.print(f"  {escape(item['statement'])}", highlight=False, soft_wrap=True)


def _thresholds(values: list[str]) -> dict[str, float]:
    out: dict[str, float] = {}
    for item in values:
        cls, _, pct = item.partition("=")
        try:
            out[cls.strip()] = float(pct)
        except ValueError:
            classes = ", ".join(c.value for c in ThresholdClass)
            fail(f"--threshold {item!r}: write CLASS=PERCENT, e.g. latency=30 ({classes})")
    return out


def _read(path: Path, what: str) -> str:
    try:
        return path.read_text()
    except OSError as exc:
        fail(f"cannot read the {what} {path}: {exc.strerror}")


def _bound_text(check: dict[str, Any]) -> tuple[str, str]:
    """(expected, hard limits) of a conformance check, as short text."""
    unit = check.get("unit", "")

    def side(low: Any, high: Any) -> str:
        if low is not None and high is not None:
            return f"{_num(low, unit)} to <{_num(high, unit)}"
        if low is not None:
            return f"≥ {_num(low, unit)}"
        if high is not None:
            return f"< {_num(high, unit)}"
        return "—"

    return side(check.get("warn_min"), check.get("warn_max")), side(check.get("min"), check.get("max"))


def _print_conformance(result: dict[str, Any]) -> None:
    table = Table(title=f"Conformance to preset {result['preset']}")
    for column in ("metric", "status", "observed", "expected (pass)", "hard limits"):
        table.add_column(column, no_wrap=True)
    for check in result["checks"]:
        expected, limits = _bound_text(check)
        table.add_row(
            check["metric"], _styled(check["status"]), _num(check.get("observed"), check["unit"]), expected, limits
        )
    console.print(table)
    label = "conforming" if result["conforming"] else "drifted"
    console.print(f"{_styled(label)} (verdict {result['verdict']}) — {result['summary']}", soft_wrap=True)


@profiles_app.command("baseline-show")
def profiles_baseline_show(
    cluster: Annotated[str, typer.Option(help="Cluster id")],
    namespace: Annotated[str | None, typer.Option(help="Namespace (omit for none)")] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Show the active baseline of a cluster and namespace."""
    params = {"cluster": cluster, "namespace": namespace}
    meta = _api("GET", "/profiles/baseline", params=_given(params))
    if as_json:
        _emit(meta)
    else:
        console.print(profiles_table([meta]))


@profiles_app.command("drift")
def profiles_drift(
    cluster: Annotated[str, typer.Option(help="Cluster id")],
    namespace: Annotated[str | None, typer.Option()] = None,
    task_queue: Annotated[str | None, typer.Option(help="Default: the baseline's task queue")] = None,
    start: Annotated[str | None, typer.Option(help="Window start, ISO-8601 with zone (default: end - 30 min)")] = None,
    end: Annotated[str | None, typer.Option(help="Window end, ISO-8601 with zone (default: now)")] = None,
    threshold: Annotated[
        list[str] | None, typer.Option(help="CLASS=PERCENT, e.g. latency=30; repeatable (latency, error, ...)")
    ] = None,
    statistic: Annotated[str, typer.Option(help="mean, p50, p95, p99 or max")] = "mean",
    env_file: Annotated[
        Path | None, typer.Option(help="The server's current env file, to correlate config changes")
    ] = None,
    dynamic_config: Annotated[
        Path | None, typer.Option(help="The current dynamic config YAML, to correlate config changes")
    ] = None,
    include_all: Annotated[bool, typer.Option("--all", help="Show metrics within thresholds too")] = False,
    rolling: Annotated[
        int | None, typer.Option(help="Against a rolling baseline: the last N passing profiles, pooled (1..20)")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Judge the current window of a cluster and namespace against its active (or a rolling) baseline."""
    from behaviour_profiles.errors import InvalidRequest
    from behaviour_profiles.snapshot import parse_env_file

    body: dict[str, Any] = {
        "cluster_id": cluster,
        "namespace": namespace,
        "task_queue": task_queue,
        "time_window_start": start,
        "time_window_end": end,
        "statistic": statistic,
        "include_all": include_all,
        "thresholds_pct": _thresholds(threshold or []),
        "rolling": rolling,
    }
    config: dict[str, Any] = {}
    if env_file is not None:
        try:
            config["environment"] = parse_env_file(_read(env_file, "env file"))
        except InvalidRequest as exc:
            fail(exc.message)
    if dynamic_config is not None:
        config["dynamic_config"] = _read(dynamic_config, "dynamic config")
    if config:
        body["config"] = config
    with console.status("Collecting the current window from Prometheus..."):
        result = _api("POST", "/profiles/drift", body=_given(body))
    if as_json:
        _emit(result)
        return
    base = result["baseline"]
    if result.get("rolling_baseline"):
        _print_rolling(result["rolling_baseline"])
    else:
        console.print(
            f"Baseline {base['name']!r} ({base['id']}), window "
            f"{window_text(result['time_window_start'], result['time_window_end'])}",
            highlight=False,
        )
    if result["deviations"]:
        print_comparison(console, {**result, "telemetry_diffs": result["deviations"], "config_diffs": []})
    _print_correlations(result.get("correlations", []))
    _print_attributions(result.get("attributions", []), "top contributors of the baseline and of the current window")
    console.print(f"{_styled(result['status'])} — {result['explanation']}", highlight=False, soft_wrap=True)
    for note in result.get("notes", []):
        console.print(f"[dim]note: {note}[/]", highlight=False, soft_wrap=True)


def _print_rolling(rolling: dict[str, Any]) -> None:
    console.print(profiles_table(rolling["pooled"], title="Rolling baseline: pooled profiles (oldest first)"))
    for item in rolling["left_out"]:
        meta = item["profile"]
        console.print(
            f"[dim]left out[/] {meta['id']} ({meta['name']}): {item['reason']}", highlight=False, soft_wrap=True
        )
    console.print(rolling["summary"], highlight=False, soft_wrap=True)
    for note in rolling.get("notes", []):
        console.print(f"[dim]note: {note}[/]", highlight=False, soft_wrap=True)


@profiles_app.command("rolling-baseline")
def profiles_rolling_baseline(
    cluster: Annotated[str, typer.Option(help="Cluster id")],
    namespace: Annotated[str | None, typer.Option(help="Namespace (omit for none)")] = None,
    n: Annotated[int, typer.Option("-n", help="How many passing profiles to pool (1..20)")] = 5,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Show which profiles a rolling baseline pools now, and which it leaves out, with why."""
    params = {"cluster": cluster, "namespace": namespace, "n": n}
    rolling = _api("GET", "/profiles/baseline/rolling", params=_given(params))
    if as_json:
        _emit(rolling)
    else:
        _print_rolling(rolling)


@profiles_app.command("rules")
def profiles_rules(
    cluster: Annotated[str, typer.Option(help="Cluster id")],
    namespace: Annotated[str | None, typer.Option(help="Namespace (omit for the whole cluster)")] = None,
    task_queue: Annotated[str | None, typer.Option()] = None,
    start: Annotated[str | None, typer.Option(help="Window start, ISO-8601 with zone (default: end - 1 h)")] = None,
    end: Annotated[str | None, typer.Option(help="Window end, ISO-8601 with zone (default: now)")] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Check the recording rules: which metrics a profile of the window would read from them, and why not."""
    params = {"cluster": cluster, "namespace": namespace, "task_queue": task_queue, "start": start, "end": end}
    status = _api("GET", "/profiles/recording-rules", params=_given(params))
    if as_json:
        _emit(status)
        return
    table = Table(title=f"Recording rules, {window_text(status['time_window_start'], status['time_window_end'])}")
    for column in ("metric", "state", "reads", "recorded series"):
        table.add_column(column)
    for metric in status["metrics"]:
        table.add_row(metric["metric"], metric["state"], metric["reads"], ", ".join(metric["series"]))
    console.print(table)
    console.print(status["summary"], highlight=False, soft_wrap=True)


@profiles_app.command("exclude")
def profiles_exclude(
    profile_id: str,
    reason: Annotated[str, typer.Option(help="Why it must stay out of baselines (kept in the index)")],
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Mark a profile "exclude from baselines", with a reason (reversible: `copilot profiles include`)."""
    meta = _api("POST", f"/profiles/{profile_id}/exclusion", body={"reason": reason})
    if as_json:
        _emit(meta)
    else:
        console.print(f"{meta['id']} ({meta['name']}) is excluded from baselines: {meta['exclusion_reason']}")


@profiles_app.command("include")
def profiles_include(profile_id: str, as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Include an excluded profile in baselines again."""
    meta = _api("DELETE", f"/profiles/{profile_id}/exclusion")
    if as_json:
        _emit(meta)
    else:
        console.print(f"{meta['id']} ({meta['name']}) counts toward baselines again", highlight=False)


@profiles_app.command("envelope")
def profiles_envelope(
    profile_ids: Annotated[list[str] | None, typer.Argument(help="Profiles of one cluster and namespace")] = None,
    cluster: Annotated[str | None, typer.Option(help="Cluster id (instead of ids; with a label or a range)")] = None,
    namespace: Annotated[str | None, typer.Option()] = None,
    label: Annotated[str | None, typer.Option(help="Only profiles with this label")] = None,
    start: Annotated[str | None, typer.Option(help="Only profiles whose window ends at or after, ISO-8601")] = None,
    end: Annotated[str | None, typer.Option(help="Only profiles whose window starts at or before, ISO-8601")] = None,
    preset: Annotated[
        str | None, typer.Option(help="Judge each step against this preset (default: against the lightest step)")
    ] = None,
    threshold: Annotated[
        list[str] | None, typer.Option(help="Without a preset: CLASS=PERCENT, e.g. latency=30; repeatable")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Order a load sweep's profiles by offered load and show where it stopped holding."""
    body: dict[str, Any] = {}
    if profile_ids:
        body["profile_ids"] = profile_ids
    for key, value in (
        ("cluster_id", cluster),
        ("namespace", namespace),
        ("label", label),
        ("time_window_start", start),
        ("time_window_end", end),
        ("preset", preset),
    ):
        if value is not None:
            body[key] = value
    if threshold:
        body["thresholds_pct"] = _thresholds(threshold)
    result = _api("POST", "/profiles/envelope", body=body)
    if as_json:
        _emit(result)
    else:
        print_envelope(console, result)


@profiles_app.command("presets")
def profiles_presets(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """List the scale presets and their expected bounds."""
    presets = _api("GET", "/presets")
    if as_json:
        _emit(presets)
        return
    for preset in presets:
        table = Table(title=f"{preset['name']}: {preset['description']}")
        for column in ("metric", "statistic", "expected (pass)", "hard limits"):
            table.add_column(column, no_wrap=True)
        for bound in (preset["throughput"], *preset["bounds"]):
            unit = {"workflows_started_per_sec": "1/s"}.get(bound["metric"], "")
            expected, limits = _bound_text({**bound, "unit": unit})
            table.add_row(bound["metric"], bound["statistic"], expected, limits)
        console.print(table)


@profiles_app.command("conformance")
def profiles_conformance(
    profile_id: str,
    preset: Annotated[str | None, typer.Option(help="Preset name (default: the one the profile named)")] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Does this profile match a scale preset?"""
    result = _api("POST", f"/profiles/{profile_id}/conformance", body={"preset": preset} if preset else None)
    if as_json:
        _emit(result)
    else:
        _print_conformance(result)


@profiles_app.command("recommend")
def profiles_recommend(profile_id: str, as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Suggest the preset that fits a profile and config overrides for its failing metrics."""
    result = _api("POST", f"/profiles/{profile_id}/recommendation")
    if as_json:
        _emit(result)
        return
    if result.get("conformance"):
        _print_conformance(result["conformance"])
    for item in result["overrides"]:
        evidence = "; ".join(
            f"{e['metric']} {e['status']} at {_num(e.get('observed'), e.get('unit', ''))}" for e in item["evidence"]
        )
        current = "unset" if item.get("current_value") is None else item["current_value"]
        console.print(
            f"  [bold]{item['key']}[/] ({item['part']}): {current} → {item['suggested_value']} — {item['why']}. "
            f"Evidence: {evidence}",
            highlight=False,
            soft_wrap=True,
        )
    for note in result.get("notes", []):
        console.print(f"[dim]note: {note}[/]", highlight=False, soft_wrap=True)
    console.print(result["summary"], highlight=False, soft_wrap=True)


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
def dev_up(
    state_dir: StateDir = DEFAULT_STATE_DIR,
    temporal: Annotated[
        bool, typer.Option("--temporal", help="Also run a real Temporal dev server, scraped by the stack's Prometheus")
    ] = False,
    dynamic_config: Annotated[
        list[str] | None,
        typer.Option(
            "--dynamic-config",
            metavar="KEY=VALUE",
            help="A dynamic config value for the Temporal dev server as it starts (with --temporal; repeat for "
            "more), e.g. frontend.namespaceRPS=50",
        ),
    ] = None,
) -> None:
    """Start PostgreSQL, SeaweedFS S3, Prometheus (loaded with the simulator's scenarios) and the API."""
    from copilot.dev.local import bring_up, dynamic_config_values

    def up() -> StackInfo:
        values = dynamic_config_values(dynamic_config or ())
        return bring_up(state_dir, start_api=True, temporal=temporal, temporal_dynamic_config=values, log=console.print)

    info = _stack_call(up)
    console.print(f"[green]Stack up.[/] API at {info.api_url}  (stop with `copilot dev down`)")
    talks_to = Settings().copilot_api_url.rstrip("/")
    if info.api_url and info.api_url.rstrip("/") != talks_to:
        console.print(
            f"`copilot profiles` talks to {talks_to}: export COPILOT_API_URL={info.api_url} to use this stack",
            highlight=False,
            soft_wrap=True,
        )
    if info.temporal_address:
        console.print(
            f"Temporal at {info.temporal_address} (namespace default), metrics at {info.temporal_metrics_url}; "
            "drive it with `copilot dev workload steady --duration 120`",
            highlight=False,
            soft_wrap=True,
        )


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
def dev_demo(
    state_dir: StateDir = DEFAULT_STATE_DIR,
    live: Annotated[
        bool,
        typer.Option(
            "--live",
            help="On a real Temporal dev server instead of simulated hours: `steady` then `incident` workloads "
            "(about 4 minutes)",
        ),
    ] = False,
) -> None:
    """The main job: bring the stack up, profile both scenarios, baseline the healthy one, compare."""
    from copilot.dev.local import run_demo, run_live_demo

    result = _stack_call(lambda: (run_live_demo if live else run_demo)(state_dir, console))
    print_comparison(console, result.comparison)
    _print_correlations(result.comparison.get("correlations", []))
    _print_attributions(result.comparison.get("attributions", []))
    if result.drift is not None:
        drift = result.drift
        console.print(f"\n{_styled(drift['status'])} — {drift['explanation']}", highlight=False, soft_wrap=True)
    if result.conformance is not None:
        _print_conformance(result.conformance)
    a, b = ("steady", "incident") if live else ("healthy", "failing")
    console.print(
        f"\n[green]API serving at {result.api_url}[/]: try `curl {result.api_url}/profiles/` or open "
        f"{result.api_url}/docs. Compared {result.profile_a_id} ({a}) with {result.profile_b_id} ({b}). "
        "Stop the stack with `copilot dev down`."
    )
    console.print(f"[bold]Open the comparison in the web UI:[/] {result.ui_url}", highlight=False, soft_wrap=True)


@dev_app.command("workload")
def dev_workload(
    name: Annotated[
        str, typer.Argument(help="steady, overload, activity-failures, slow-activities, slot-starvation, incident")
    ],
    duration: Annotated[float, typer.Option("--duration", min=1, help="Seconds to start workflows for")] = 120,
    task_queue: Annotated[str, typer.Option("--task-queue")] = "main-queue",
    namespace: Annotated[str, typer.Option("--namespace")] = "default",
    state_dir: StateDir = DEFAULT_STATE_DIR,
) -> None:
    """Drive a named real workload (worker + starter) on the stack's Temporal, in the foreground."""
    from copilot.dev.local import run_workload
    from copilot.dev.workload import WORKLOADS

    if name not in WORKLOADS:
        fail(f"unknown workload {name!r}; expected one of {', '.join(sorted(WORKLOADS))}")
    from copilot.dev.local import stack_config

    report = _stack_call(lambda: run_workload(state_dir, name, duration, namespace=namespace, task_queue=task_queue))
    cluster = stack_config(state_dir).temporal_cluster
    console.print(
        "[green]Done.[/] Profile this window: "
        f"`copilot profiles create --name {name} --cluster {cluster} --namespace {report.namespace} "
        f"--task-queue {report.task_queue} --start {report.start.isoformat()} --end {report.end.isoformat()}`",
        highlight=False,
        soft_wrap=True,
    )


@profiles_app.command("reindex")
def profiles_reindex(
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Only report; change nothing")] = False,
    verify: Annotated[
        bool,
        typer.Option("--verify", help="Report orphans, repair them, then scan again; exit 1 if any is left"),
    ] = False,
) -> None:
    """Reconcile the index with the S3 documents: index orphan documents, drop rows without a document.

    Talks to S3 and the index directly (COPILOT_PROFILE_S3_BUCKET, COPILOT_DSQL_ENDPOINT, ...), not to the
    API. Exits 1 when it found orphans in --dry-run mode, and with --verify when an orphan it found is
    still there after the repair (an unreadable document, for one).
    """
    from contextlib import AsyncExitStack

    from behaviour_profiles import service
    from behaviour_profiles.errors import BehaviourProfileError
    from behaviour_profiles.repository import ReindexReport

    if dry_run and verify:
        fail("--dry-run and --verify exclude each other: --dry-run changes nothing, --verify repairs and checks")

    async def run() -> tuple[ReindexReport, ReindexReport | None]:
        from copilot.app import open_profile_services

        async with AsyncExitStack() as stack:
            services = await open_profile_services(Settings(), stack)
            if services is None:
                fail(
                    "profile storage is not configured: set COPILOT_PROFILE_S3_BUCKET, PROMETHEUS_ENDPOINT and "
                    "COPILOT_DSQL_ENDPOINT"
                )
            report = await service.reindex(services, repair=not dry_run)
            after = await service.reindex(services, repair=False) if verify else None
            return report, after

    try:
        report, after = asyncio.run(run())
    except BehaviourProfileError as exc:
        fail(exc.message)
    _print_reindex(report)
    if report.consistent:
        console.print("[green]index and documents agree[/]")
    elif dry_run:
        console.print("[yellow]dry run: nothing changed[/]")
        raise typer.Exit(1)
    else:
        console.print(
            "[green]repaired[/]: orphan documents indexed, rows without a document removed, "
            "baselines and exclusions restored from their marks, marks rewritten from the index"
        )
    if after is None:
        return
    left = _unrepaired(report, after)
    if left:
        console.print(f"[bold red]verify: {len(left)} not repaired[/]: {', '.join(left[:20])}", highlight=False)
        raise typer.Exit(1)
    console.print("[green]verified[/]: every orphan found was repaired")


def _print_reindex(report: Any) -> None:
    console.print(f"{report.documents} documents, {report.rows} index rows")
    for label, items in (
        ("documents without an index row", report.documents_without_row),
        ("index rows without a document", report.rows_without_document),
        ("unreadable documents", report.unreadable),
        ("baseline designations and exclusions the index lacks (restored from their marks)", report.marks_to_restore),
        ("marks out of step with the index (rewritten from it)", report.marks_out_of_step),
    ):
        console.print(f"{label}: {len(items)}" + (f" ({', '.join(items[:20])})" if items else ""), highlight=False)


def _unrepaired(before: Any, after: Any) -> list[str]:
    """What the second scan still finds of the first scan's orphans, and every unreadable document.

    An orphan that only the second scan sees is a profile being saved during the run, not a failure.
    """
    found = {*before.documents_without_row, *before.rows_without_document, *before.marks_to_restore}
    found |= set(before.marks_out_of_step)
    still = {*after.documents_without_row, *after.rows_without_document, *after.marks_to_restore}
    still |= set(after.marks_out_of_step)
    return sorted((found & still) | set(after.unreadable) | set(before.unreadable))


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
