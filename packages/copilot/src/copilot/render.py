"""Terminal rendering of profiles and comparisons (rich)."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.table import Table

SEVERITY_STYLE = {"critical": "bold red", "warning": "yellow", "info": "dim"}
DIRECTION_STYLE = {"regressed": "red", "improved": "green", "no_data": "magenta", "changed": "cyan", "unchanged": "dim"}


def _num(value: Any, unit: str = "") -> str:
    if value is None:
        return "—"
    number = float(value)
    if unit == "ratio":
        return f"{number:.1%}"
    if abs(number) >= 1e6:
        text = f"{number / 1e6:.1f}M"
    elif abs(number) >= 100:
        text = f"{number:.0f}"
    else:
        text = f"{number:.3g}"
    if unit == "1/s":
        return f"{text}/s"
    return f"{text} {unit}" if unit else text


def _pct(value: Any) -> str:
    return "—" if value is None else f"{float(value):+.0f} %"


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
            _pct(diff.get("change_pct")),
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
    for table in comparison_tables(result):
        console.print(table)
    verdict = result.get("verdict", "?")
    style = {"pass": "green", "warn": "yellow", "fail": "bold red"}.get(verdict, "magenta")
    console.print(f"[{style}]Verdict: {verdict}[/] — {result.get('summary', '')}")


def profiles_table(items: list[dict[str, Any]]) -> Table:
    table = Table(title="Behaviour profiles (newest first)")
    for column in ("id", "name", "label", "cluster", "namespace", "window", "baseline", "created"):
        table.add_column(column, overflow="fold")
    for item in items:
        table.add_row(
            item["id"],
            item["name"],
            item.get("label") or "",
            item["cluster_id"],
            item.get("namespace") or "*",
            f"{item['time_window_start']} → {item['time_window_end']}",
            "★" if item.get("is_baseline") else "",
            item["created_at"],
        )
    return table
