"""Terminal rendering helpers: times in UTC, compact windows."""

from __future__ import annotations

from copilot.render import _instant, _window


def test_windows_name_the_date_once_and_seconds_only_when_set() -> None:
    assert _window("2026-11-26T16:00:00Z", "2026-11-26T17:00:00Z") == "2026-11-26 16:00 → 17:00"
    assert _window("2026-11-26T23:30:00Z", "2026-11-27T00:30:00Z") == "2026-11-26 23:30 → 2026-11-27 00:30"
    assert _window("2026-11-26T16:00:05Z", "2026-11-26T17:00:00Z") == "2026-11-26 16:00:05 → 17:00:00"


def test_times_are_shown_in_utc_whatever_zone_they_carry() -> None:
    assert _instant("2026-11-26T18:00:00+02:00") == "2026-11-26 16:00:00"
    assert _window("2026-11-26T18:00:00+02:00", "2026-11-26T19:00:00+02:00") == "2026-11-26 16:00 → 17:00"
    assert _instant("not a time") == "not a time"
