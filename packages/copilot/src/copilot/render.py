"""Terminal rendering of profiles and comparisons (rich)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from behaviour_profiles.formatting import (
    NO_VALUE,
    format_change,
    format_instant,
    format_value,
    format_window,
    limits_text,
)

SEVERITY_STYLE = {"critical": "bold red", "warning": "yellow", "info": "dim"}
DIRECTION_STYLE = {"regressed": "red", "improved": "green", "no_data": "magenta", "changed": "cyan", "unchanged": "dim"}


def _num(value: Any, unit: str = "") -> str:
    """A value of the API's JSON in its unit, as the API's own words write it (``behaviour_profiles.formatting``)."""
    return format_value(None if value is None else float(value), unit)


def _moment(value: str) -> datetime | None:
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


def instant_text(value: str) -> str:
    """An API timestamp as ``formatting.format_instant`` writes it (as given when it is not one)."""
    moment = _moment(value)
    return value if moment is None else format_instant(moment)


def window_text(start: str, end: str) -> str:
    """An API window as ``formatting.format_window`` writes it (as given when an end is not a timestamp)."""
    a, b = _moment(start), _moment(end)
    return f"{start} → {end}" if a is None or b is None else format_window(a, b)


def _pct(value: Any) -> str:
    return NO_VALUE if value is None else format_change(float(value))


def _change(diff: dict[str, Any]) -> str:
    """The change in the API's words (``+312 %``, a multiple beyond ten times), with a cost's load label."""
    text = diff.get("change_text") or _pct(diff.get("change_pct"))
    label = diff.get("load_label")
    return f"{text} ({label})" if label else text


def comparison_tables(result: dict[str, Any]) -> list[Table]:
    telemetry = Table(title=f"Telemetry diff (statistic: {result.get('statistic', 'mean')})", expand=False)
    for column in ("metric", "direction", "severity", "A", "B", "change"):
        telemetry.add_column(column, no_wrap=True, min_width=len(column) + 1)
    telemetry.add_column("reason", overflow="ellipsis", no_wrap=True, max_width=70)
    for diff in result.get("telemetry_diffs", []):
        unit = diff.get("unit", "")
        telemetry.add_row(
            diff["metric"],
            f"[{DIRECTION_STYLE.get(diff['direction'], '')}]{diff['direction']}[/]",
            f"[{SEVERITY_STYLE.get(diff['severity'], '')}]{diff['severity']}[/]",
            _num(diff.get("old_value"), unit),
            _num(diff.get("new_value"), unit),
            _change(diff),
            diff.get("reason", ""),
        )
    tables = [telemetry]
    if result.get("config_diffs"):
        config = Table(title="Config diff")
        for column in ("key", "change", "A", "B"):
            config.add_column(column, overflow="fold")
        for diff in result["config_diffs"]:
            config.add_row(diff["key"], diff["change"], str(diff.get("old_value")), str(diff.get("new_value")))
        tables.append(config)
    if result.get("version_diffs"):
        versions = Table(title="Version diff")
        for column in ("component", "A", "B"):
            versions.add_column(column)
        for diff in result["version_diffs"]:
            versions.add_row(diff["component"], str(diff.get("old_version")), str(diff.get("new_version")))
        tables.append(versions)
    return tables


def print_comparison(console: Console, result: dict[str, Any]) -> None:
    load = result.get("load") or {}
    if load.get("differs"):
        console.print(f"[bold yellow]{load.get('statement', '')}[/]")
    for table in comparison_tables(result):
        console.print(table)
    verdict = result.get("verdict", "?")
    style = {"pass": "green", "warn": "yellow", "fail": "bold red"}.get(verdict, "magenta")
    console.print(f"[{style}]Verdict: {verdict}[/] — {result.get('summary', '')}")


def profiles_table(items: list[dict[str, Any]], title: str = "Behaviour profiles (newest first)") -> Table:
    table = Table(title=title)
    # ids and times are what people copy: never folded; free text gives way instead
    table.add_column("id", no_wrap=True, min_width=36)
    for column in ("name", "label", "cluster", "namespace"):
        table.add_column(column, overflow="fold", max_width=30)
    table.add_column("window", no_wrap=True)
    table.add_column("baseline", no_wrap=True)
    table.add_column("created", no_wrap=True)
    excluded = any(item.get("excluded_from_baselines") for item in items)
    if excluded:  # the column only when a profile on the page is excluded: lists stay as narrow as before
        table.add_column("excluded (why)", overflow="fold", min_width=14, max_width=40)
    for item in items:
        table.add_row(
            item["id"],
            item["name"],
            item.get("label") or "",
            item["cluster_id"],
            item.get("namespace") or "*",
            window_text(item["time_window_start"], item["time_window_end"]),
            "★" if item.get("is_baseline") else "",
            instant_text(item["created_at"]),
            *(
                [f"✗ {item.get('exclusion_reason') or ''}" if item.get("excluded_from_baselines") else ""]
                if excluded
                else []
            ),
        )
    return table


@contextmanager
def collecting_progress(console: Console, description: str) -> Iterator[None]:
    """A pulsing progress bar with elapsed time while one long API call runs (silent off a terminal)."""
    progress = Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(bar_width=30),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    )
    with progress:
        progress.add_task(description, total=None)
        yield


def profile_created_line(meta: dict[str, Any]) -> str:
    version = meta.get("temporal_server_version") or "not recorded"
    return (
        f"[green]Created[/] profile {meta['id']} ({meta['name']}): "
        f"{meta.get('coverage_with_data', '?')} of {meta.get('coverage_asked', '?')} metrics with data, "
        f"server version {version}"
    )


def print_notes(console: Console, notes: list[str]) -> None:
    """What the collection wants the operator to know, one yellow line each."""
    for note in notes:
        console.print(f"[yellow]note:[/] {note}", highlight=False, soft_wrap=True)


def print_profile(console: Console, profile: dict[str, Any]) -> None:
    """A profile's identity, versions, config sources and each metric's aggregates."""
    head = Table(show_header=False, title=f"Profile {profile['id']}", title_justify="left")
    head.add_column("field", style="bold")
    head.add_column("value", overflow="fold")
    versions = profile.get("versions") or {}
    sources = versions.get("sources") or {}
    config = profile.get("config") or {}
    for field, value in (
        ("name", profile["name"]),
        ("label", profile.get("label") or ""),
        ("cluster / namespace", f"{profile['cluster_id']} / {profile.get('namespace') or '*'}"),
        ("task queue", profile.get("task_queue") or "*"),
        ("window", window_text(profile["time_window_start"], profile["time_window_end"])),
        ("created", instant_text(profile["created_at"])),
        ("baseline", "★ yes" if profile.get("is_baseline") else "no"),
        *(
            (
                name.replace("_", " "),
                f"{versions.get(name) or '—'}" + (f" (from {sources[name]})" if name in sources else ""),
            )
            for name in (
                "temporal_server_version",
                "temporal_server_git_revision",
                "dsql_plugin_version",
                "worker_code_sha",
            )
        ),
        ("config sources", ", ".join(f"{k}: {v}" for k, v in (config.get("sources") or {}).items()) or "none"),
    ):
        head.add_row(field, str(value))
    console.print(head)
    metrics = Table(title="Metrics")
    for column in ("metric", "status", "mean", "p50", "p95", "p99", "max", "samples"):
        metrics.add_column(column, no_wrap=True)
    for key, metric in sorted((profile.get("telemetry") or {}).get("metrics", {}).items()):
        unit = metric.get("unit", "")
        ok = metric.get("status") == "ok"
        metrics.add_row(
            key,
            metric.get("status", "") if ok else f"[magenta]{metric.get('status', '')}[/]",
            *(_num(metric.get(stat), unit) for stat in ("mean", "p50", "p95", "p99", "max")),
            str(metric.get("sample_count", "")),
        )
    console.print(metrics)
    print_notes(console, (profile.get("telemetry") or {}).get("notes") or [])


ENVELOPE_STYLE = {"held": "green", "warn": "yellow", "broken": "bold red", "inconclusive": "magenta"}
SPARK = "▁▂▃▄▅▆▇█"
CHART_WIDTH = 40


def envelope_table(result: dict[str, Any]) -> Table:
    """One row per step of the sweep, lightest first: load, throughput, status and what it did not hold."""
    judged = f"preset {result['preset']}" if result.get("preset") else "thresholds against the lightest step"
    table = Table(title=f"Capacity envelope of {result['cluster_id']}/{result.get('namespace') or '*'} ({judged})")
    table.add_column("offered load", justify="right", no_wrap=True)
    table.add_column("throughput", justify="right", no_wrap=True)
    table.add_column("status", no_wrap=True)
    table.add_column("not held (value / limit)", overflow="fold")
    table.add_column("profile", no_wrap=True)
    for step in result["steps"]:
        marks = []
        if step["profile_id"] == result.get("safe_profile_id"):
            marks.append("safe")
        if step["profile_id"] == result.get("breaking_profile_id"):
            marks.append("breaks")
        if step["profile_id"] == result.get("knee_profile_id"):
            marks.append("knee")
        status = f"[{ENVELOPE_STYLE.get(step['status'], '')}]{step['status']}[/]"
        breaches = ", ".join(
            f"{b['metric']} {b['status']} {_num(b.get('observed'), b['unit'])} / {_num(b.get('limit'), b['unit'])}"
            for b in step["breaches"]
        )
        table.add_row(
            _num(step.get("offered_load"), "1/s"),
            _num(step.get("throughput"), "1/s"),
            status + (f" ({', '.join(marks)})" if marks else ""),
            breaches,
            step["profile_id"],
        )
    return table


def envelope_chart(result: dict[str, Any]) -> list[str]:
    """A terminal chart: throughput bars against offered load, then one sparkline per charted metric.

    In a sparkline each character is a step (lightest first); a step that broke the metric's bound is
    red, one in its warning band yellow, and ``·`` marks no data.
    """
    steps = result["steps"]
    lines = [f"[bold]Throughput against offered load[/] ({result['throughput_metric']})"]
    top = max((s.get("throughput") or 0.0 for s in steps), default=0.0) or 1.0
    for step in steps:
        value = step.get("throughput")
        bar = "█" * round((value or 0.0) / top * CHART_WIDTH)
        style = ENVELOPE_STYLE.get(step["status"], "")
        lines.append(f"{_num(step.get('offered_load'), '1/s'):>9} │[{style}]{bar}[/] {_num(value, '1/s')}")
    lines.append("[bold]Each metric across the sweep[/] (lightest step first; red: broke its bound)")
    width = max((len(m["metric"]) for m in result["metrics"]), default=0)
    for metric in result["metrics"]:
        key = metric["metric"]
        values = [s["values"].get(key) for s in steps]
        known = [v for v in values if v is not None]
        low, high = (min(known), max(known)) if known else (0.0, 0.0)
        cells = []
        for step, value in zip(steps, values, strict=True):
            if value is None:
                cells.append("·")
                continue
            level = 0 if high == low else round((value - low) / (high - low) * (len(SPARK) - 1))
            status = next((b["status"] for b in step["breaches"] if b["metric"] == key), None)
            style = {"fail": "red", "warn": "yellow"}.get(status or "", "")
            cells.append(f"[{style}]{SPARK[level]}[/]" if style else SPARK[level])
        bound = metric.get("bound")
        limit = f"  {limits_text(bound.get('min'), bound.get('max'), metric['unit'])}" if bound else ""
        span = f"{_num(low, metric['unit'])} … {_num(high, metric['unit'])}" if known else "no data"
        lines.append(f"{key:<{width}} {''.join(cells)}  {span}{limit}")
    return lines


def print_envelope(console: Console, result: dict[str, Any]) -> None:
    console.print(envelope_table(result))
    for line in envelope_chart(result):
        console.print(line, highlight=False)
    verdict = "red" if result.get("breaking_load") is not None else "green"
    console.print(f"[{verdict}]{result['summary']}[/]", highlight=False, soft_wrap=True)
    for note in result.get("notes", []):
        console.print(f"[dim]note:[/] {note}", highlight=False, soft_wrap=True)
