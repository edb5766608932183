"""Terminal rendering helpers: times in UTC, compact windows."""

from __future__ import annotations

from copilot.render import instant_text, window_text


def test_windows_name_the_date_once_seconds_only_when_set_and_their_length() -> None:
    assert window_text("2026-11-26T16:00:00Z", "2026-11-26T17:00:00Z") == "2026-11-26 16:00 → 17:00 UTC (1 h)"
    assert (
        window_text("2026-11-26T23:30:00Z", "2026-11-27T00:30:00Z") == "2026-11-26 23:30 → 2026-11-27 00:30 UTC (1 h)"
    )
    assert (
        window_text("2026-11-26T16:00:05Z", "2026-11-26T17:00:00Z")
        == "2026-11-26 16:00:05 → 17:00:00 UTC (59 min 55 s)"
    )


def test_times_are_shown_in_utc_whatever_zone_they_carry() -> None:
    assert instant_text("2026-11-26T18:00:00+02:00") == "2026-11-26 16:00 UTC"
    assert instant_text("2026-11-26T18:00:07.25+02:00") == "2026-11-26 16:00:07 UTC"
    assert window_text("2026-11-26T18:00:00+02:00", "2026-11-26T19:00:00+02:00") == "2026-11-26 16:00 → 17:00 UTC (1 h)"
    assert instant_text("not a time") == "not a time"
    assert window_text("then", "2026-11-26T17:00:00Z") == "then → 2026-11-26T17:00:00Z"


def test_the_comparison_says_differing_load_first_and_changes_in_the_api_words() -> None:
    from io import StringIO

    from rich.console import Console

    from copilot.render import print_comparison

    diff = {
        "metric": "persistence_latency_p99",
        "direction": "regressed",
        "severity": "critical",
        "unit": "ms",
        "old_value": 1.2,
        "new_value": 6076.8,
        "change_pct": 506_300.0,
        "change_text": "\u00d75,064",
        "reason": "mean rose",
    }
    cost = {**diff, "metric": "occ_conflicts_per_sec", "change_pct": 150.0, "change_text": "+150 %"}
    cost["load_label"] = "explained by load"
    result = {
        "verdict": "pass",
        "summary": "Pass.",
        "telemetry_diffs": [diff, cost],
        "load": {"differs": True, "statement": "Offered load differs: 150/s then 375/s"},
    }
    out = StringIO()
    print_comparison(Console(file=out, width=250, color_system=None), result)
    text = out.getvalue()
    assert text.index("Offered load differs") < text.index("Telemetry diff")
    assert "\u00d75,064" in text and "+150 % (explained by load)" in text
