"""The request models refuse what the docs say is refused: numbers as times, times before 1970, NaN."""

from __future__ import annotations

import base64
import math
from datetime import UTC, datetime
from typing import Any
from uuid import uuid4

import pytest
from pydantic import ValidationError

from behaviour_profiles.errors import InvalidRequest
from behaviour_profiles.models import CompareRequest, DriftRequest, ProfileCreate
from behaviour_profiles.storage import decode_cursor, encode_cursor

CREATE = {
    "name": "n",
    "cluster_id": "c",
    "time_window_start": "2026-02-18T10:00:00Z",
    "time_window_end": "2026-02-18T11:00:00Z",
}


def refusal(model: Any, **changes: Any) -> tuple[str, str]:
    """(field, message) of the first error ``model`` raises for ``CREATE`` with ``changes``."""
    with pytest.raises(ValidationError) as refused:
        model.model_validate({**CREATE, **changes})
    errors = refused.value.errors()
    first = errors[0]  # a field's errors come in field order
    return ".".join(str(p) for p in first["loc"]), first["msg"]


@pytest.mark.parametrize(
    "value", [1771408800, 1771408800.5, "1771408800", " 1771408800 ", "1.7714088e9", "-1"], ids=repr
)
def test_epoch_numbers_are_not_times(value: Any) -> None:
    field, message = refusal(ProfileCreate, time_window_start=value)
    assert field == "time_window_start"
    assert "is a number, not a time: Unix-epoch times are not accepted" in message
    assert "ISO-8601 instant with a time zone" in message


@pytest.mark.parametrize("value", [True, {"at": "now"}, ["2026-02-18T10:00:00Z"], None])
def test_other_non_text_times_are_refused_with_the_format_to_send(value: Any) -> None:
    field, message = refusal(ProfileCreate, time_window_end=value)
    assert field == "time_window_end" and "ISO-8601 instant with a time zone" in message


@pytest.mark.parametrize(
    ("start", "end"),
    [
        ("0001-01-01T00:00:00Z", "0001-01-01T01:00:00Z"),
        ("0001-01-01T00:00:00+14:00", "0001-01-01T01:00:00+14:00"),
        ("1969-12-31T23:00:00Z", "1969-12-31T23:30:00Z"),
        ("1970-01-01T00:30:00+01:00", "1970-01-01T01:00:00Z"),
    ],
    ids=["year 1", "year 1 east of UTC", "1969", "before the epoch in another zone"],
)
def test_times_before_1970_are_out_of_range(start: str, end: str) -> None:
    field, message = refusal(ProfileCreate, time_window_start=start, time_window_end=end)
    assert field == "time_window_start"
    assert "out of range" in message and "1970-01-01T00:00:00Z" in message and "send a later instant" in message


def test_the_epoch_itself_and_offsets_are_accepted() -> None:
    created = ProfileCreate.model_validate(
        {**CREATE, "time_window_start": "1970-01-01T00:00:00Z", "time_window_end": "1970-01-01T06:30:00+05:30"}
    )
    assert created.time_window_start == datetime(1970, 1, 1, tzinfo=UTC)
    # already-parsed datetimes (code building a request) pass unchanged
    drift = DriftRequest(cluster_id="c", time_window_start=datetime(2026, 2, 18, tzinfo=UTC))
    assert drift.time_window_start == datetime(2026, 2, 18, tzinfo=UTC)


def test_drift_windows_follow_the_same_rules() -> None:
    with pytest.raises(ValidationError, match="Unix-epoch"):
        DriftRequest.model_validate({"cluster_id": "c", "time_window_end": 1771408800})
    with pytest.raises(ValidationError, match="out of range"):
        DriftRequest.model_validate({"cluster_id": "c", "time_window_start": "1969-07-20T20:17:00Z"})


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf])
def test_nan_and_infinite_thresholds_ask_for_a_finite_number(value: float) -> None:
    with pytest.raises(ValidationError) as refused:
        CompareRequest.model_validate({"profile_a_id": "a", "profile_b_id": "b", "thresholds_pct": {"latency": value}})
    (error,) = refused.value.errors()
    assert error["loc"] == ("thresholds_pct", "latency")
    assert error["msg"] == "Input should be a finite number"
    with pytest.raises(ValidationError, match="finite number"):
        DriftRequest.model_validate({"cluster_id": "c", "significance_level": value})


def test_a_cursor_without_a_zone_is_refused() -> None:
    profile_id = uuid4()
    forged = base64.urlsafe_b64encode(f"2026-02-18T10:00:00|{profile_id}".encode()).decode().rstrip("=")
    with pytest.raises(InvalidRequest, match="pass the cursor from the previous page's next link"):
        decode_cursor(forged)
    created = datetime(2026, 2, 18, 10, tzinfo=UTC)
    assert decode_cursor(encode_cursor(created, profile_id)) == (created, profile_id)
