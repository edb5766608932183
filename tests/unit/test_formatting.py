"""One way to write numbers, units, changes and bounds: the API's words, the CLI and the UI's rules agree."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from behaviour_profiles.conformance import check_bound
from behaviour_profiles.formatting import (
    UNITS,
    bound_text,
    expected_text,
    format_change,
    format_number,
    format_p,
    format_pct,
    format_span,
    format_threshold,
    format_value,
    limits_text,
    ui_rules,
)
from behaviour_profiles.models import ExpectedBound, Statistic
from copilot.render import comparison_tables
from tests.unit.test_comparison import judge, ok


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (0.0, "0"),
        (12.345, "12.3"),
        (123.4, "123"),
        (99.96, "100"),
        (999.6, "1,000"),  # rounding up to 1,000 takes its separator
        (4728.0, "4,728"),
        (1_234_567.0, "1,234,567"),
        (0.0000153, "0.0000153"),  # never an exponent
        (1.125, "1.13"),  # a half rounds away from zero, as in the browser
        (-1.125, "-1.13"),
        (-4728.4, "-4,728"),
    ],
)
def test_numbers_keep_three_significant_digits_and_are_whole_from_a_thousand(value: float, expected: str) -> None:
    assert format_number(value) == expected


@pytest.mark.parametrize(
    ("value", "unit", "expected"),
    [
        (0.85, "ratio", "85.0 %"),
        (0.0012, "ratio", "0.12 %"),
        (0.0, "ratio", "0.0 %"),
        (430_000_000.0, "bytes", "410 MiB"),
        (512.0, "bytes", "512 B"),
        (2.1, "1/s", "2.1/s"),
        (50.7, "ms", "50.7 ms"),
        (12_345.0, "ms", "12.3 s"),
        (45.0, "s", "45 s"),
        (4.0, "cores", "4 cores"),
        (7.0, "", "7"),
        (None, "ms", "\u2014"),
        (float("nan"), "ms", "\u2014"),
    ],
)
def test_values_carry_their_unit(value: float | None, unit: str, expected: str) -> None:
    assert format_value(value, unit) == expected


def test_changes_are_signed_percentages_and_multiples_beyond_ten_times() -> None:
    assert [format_pct(p) for p in (312.4, -4.54, 0.0)] == ["+312 %", "-4.5 %", "+0.0 %"]
    assert [format_change(p) for p in (506_300.0, 1_100.0, 900.0, -95.0)] == [
        "\u00d75,064",
        "\u00d712.0",
        "+900 %",
        "-95 %",
    ]
    assert format_change(45.0, signed=False) == "45 %"
    assert format_change(-4.5, signed=False) == "4.5 %"
    assert format_change(506_300.0, signed=False) == "\u00d75,064"
    assert format_threshold(20.0) == "20 %" and format_threshold(12.5) == "12.5 %"
    assert format_p(0.0004) == "< 0.001" and format_p(0.0341) == "0.034"
    assert format_span(timedelta(hours=1)) == "1 h"
    assert format_span(timedelta(hours=1, minutes=30, seconds=5)) == "1 h 30 min 5 s"
    assert format_span(timedelta()) == "0 s"


def test_bounds_read_the_same_wherever_they_are_written() -> None:
    assert expected_text(55.0, 270.0, "1/s") == "55/s to under 270/s"
    assert expected_text(0.85, None, "ratio") == "at least 85.0 %"
    assert expected_text(None, 60.0, "ms") == "under 60 ms"
    assert expected_text(None, None, "ms") == "any value"
    assert limits_text(10.0, 4500.0, "1/s") == "fails under 10/s and fails at 4,500/s or more"
    assert limits_text(None, None, "ms") == "no hard limit"
    assert bound_text(None, None, 60.0, 150.0, "ms") == "expected under 60 ms; fails at 150 ms or more"
    # the conformance check's reason uses the same words
    bound = ExpectedBound(metric="persistence_latency_p99", statistic=Statistic.MAX, warn_max=60.0, max=150.0)
    check = check_bound(bound, ok("persistence_latency_p99", 100.0))
    assert "expected under 60 ms" in check.reason and "fails at 150 ms or more" in check.reason


@pytest.mark.parametrize(
    ("key", "old", "new", "shown"),
    [
        ("completion_ratio", 0.95, 0.50, ("95.0 %", "50.0 %")),
        ("memory_utilization.history", 430_000_000.0, 900_000_000.0, ("410 MiB", "858 MiB")),
    ],
)
def test_a_cli_row_shows_values_as_its_reason_words_them(
    key: str, old: float, new: float, shown: tuple[str, str]
) -> None:
    diff = judge(key, ok(key, old), ok(key, new))
    assert all(text in diff.reason for text in shown), diff.reason
    table = comparison_tables({"telemetry_diffs": [diff.model_dump(mode="json")]})[0]
    cells = {column.header: next(iter(column.cells)) for column in table.columns}
    assert (cells["A"], cells["B"]) == shown


def test_the_ui_rules_are_json_and_cover_every_unit_written_its_own_way() -> None:
    rules = json.loads(json.dumps(ui_rules()))
    assert set(rules["units"]) == set(UNITS)
    assert rules["units"]["ratio"]["scale"] == 100.0 and rules["units"]["bytes"]["prefixes"][2] == "MiB"
    assert rules["bound_words"]["fails_at"] == "fails at {max} or more"
