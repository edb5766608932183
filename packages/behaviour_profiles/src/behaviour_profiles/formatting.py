"""How numbers read, wherever they are shown (pure): the API's words, the CLI and the web UI.

One set of rules, written once here. The comparison, drift, conformance and envelope sentences call the
functions below; the CLI (``copilot.render``) calls them on the API's JSON; the web UI receives
:func:`ui_rules` once, as a JSON block in its page shell, and applies the same rules in the browser.

* A number keeps :data:`SIGNIFICANT_DIGITS` significant digits and never switches to an exponent;
  from 1,000 up it is a whole number with thousands separators. Halves round away from zero.
* A value carries its catalogue unit (:data:`UNITS`): ``37.1 ms`` (``12.3 s`` from ten seconds up),
  ``95.0 %`` for a ratio, ``150/s``, ``410 MiB`` (binary prefixes), ``4 cores``.
* A change is a signed percentage (``+312 %``, ``-4.5 %``) or, beyond ten times the old value, a
  multiple (``x5,064``, written with the multiplication sign :data:`TIMES`).
* A bound reads as the conformance check words it: ``expected 55/s to under 270/s; fails at 300/s or
  more`` (:data:`BOUND_WORDS`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_UP, Context, Decimal
from typing import Any, Final

__all__ = [
    "BOUND_WORDS",
    "MULTIPLE_FROM",
    "NO_VALUE",
    "SIGNIFICANT_DIGITS",
    "TIMES",
    "UNITS",
    "UnitFormat",
    "bound_text",
    "expected_text",
    "format_change",
    "format_number",
    "format_p",
    "format_pct",
    "format_span",
    "format_threshold",
    "format_value",
    "limits_text",
    "ui_rules",
]

SIGNIFICANT_DIGITS: Final = 3
"""Significant digits of a number below :data:`WHOLE_FROM`."""

WHOLE_FROM: Final = 1000.0
"""From this magnitude up a number is whole, with thousands separators (``4,728``)."""

NO_VALUE: Final = "\u2014"
"""What a table shows where there is no value (an em dash)."""

PCT_WHOLE_FROM: Final = 10.0
"""A percentage of at least this size is whole (``+312 %``); a smaller one keeps :data:`PCT_DECIMALS`."""

PCT_DECIMALS: Final = 1

MULTIPLE_FROM: Final = 10.0
"""A rise to more than this many times the old value reads as a multiple (``x5,064``), not a percentage."""

MULTIPLE_WHOLE_FROM: Final = 100.0
"""A multiple of at least this is whole (``x5,064``); a smaller one keeps :data:`MULTIPLE_DECIMALS` (``x12.0``)."""

MULTIPLE_DECIMALS: Final = 1

TIMES: Final = "\u00d7"
"""The multiplication sign a multiple is written with."""

P_FLOOR: Final = 0.001
"""A p-value below this reads ``< 0.001``; others keep :data:`P_DECIMALS`."""

P_DECIMALS: Final = 3

THRESHOLD_DIGITS: Final = 6
"""Significant digits of a threshold percentage (``20 %``, ``12.5 %``)."""

MAX_DECIMALS: Final = 100
"""No number is written with more decimals than this (the most a browser's ``toFixed`` takes)."""

SPAN_UNITS: Final = (("h", 3600), ("min", 60), ("s", 1))
"""A span of time in whole hours, minutes and seconds, each part only when it is not zero."""


@dataclass(frozen=True)
class UnitFormat:
    """How a value of one catalogue unit is written."""

    suffix: str = ""
    """Written after the number: ``"/s"``, ``" ms"``, ``" %"``."""
    scale: float = 1.0
    """The value is multiplied by this first (a ratio by 100, to a percentage)."""
    min_decimals: int = 0
    """Decimals kept even when they are zeros (``95.0 %``)."""
    larger_from: float | None = None
    """From this magnitude up, the value is divided by ``larger_divisor`` and written with ``larger_suffix``."""
    larger_divisor: float = 1.0
    larger_suffix: str = ""
    prefixes: tuple[str, ...] = ()
    """Binary prefixes, each ``prefix_step`` times the last: the value is written in the largest that keeps
    it at least 1 (``410 MiB``)."""
    prefix_step: float = 1024.0


UNITS: Final[dict[str, UnitFormat]] = {
    "": UnitFormat(),
    "ratio": UnitFormat(suffix=" %", scale=100.0, min_decimals=1),
    "share": UnitFormat(suffix=" %", scale=100.0),
    "1/s": UnitFormat(suffix="/s"),
    "ms": UnitFormat(suffix=" ms", larger_from=10_000.0, larger_divisor=1000.0, larger_suffix=" s"),
    "bytes": UnitFormat(prefixes=("B", "KiB", "MiB", "GiB", "TiB")),
}
"""The catalogue units written in a way of their own, and ``share`` (a contributor's part of a whole); any
other unit follows the number after a space."""

BOUND_WORDS: Final[dict[str, str]] = {
    "between": "{low} to under {high}",
    "at_least": "at least {low}",
    "under": "under {high}",
    "any": "any value",
    "fails_under": "fails under {min}",
    "fails_at": "fails at {max} or more",
    "limits_joined_by": " and ",
    "no_limit": "no hard limit",
    "bound": "expected {expected}; {limits}",
}
"""The words of a bound: its passing range (the warning band), its hard limits, and both together."""


# --- numbers -----------------------------------------------------------------------------------


_EXACT = Context(prec=1000)
"""Enough digits for any finite float to be rounded exactly."""


def _fixed(value: float, decimals: int) -> str:
    """``value`` with ``decimals`` decimals and thousands separators, halves rounded away from zero."""
    step = Decimal(1).scaleb(-min(decimals, MAX_DECIMALS))
    rounded = Decimal(value).quantize(step, rounding=ROUND_HALF_UP, context=_EXACT)
    return f"{rounded:,f}"


def _exponent(magnitude: float) -> int:
    """The power of ten of the leading digit of the shortest text that reads back as ``magnitude``."""
    return Decimal(repr(magnitude)).adjusted()


def format_number(value: float, min_decimals: int = 0) -> str:
    """``1,234``, ``123``, ``12.3``, ``0.00123``: significant digits below 1,000, whole from there on.

    Trailing zeros go, except the ``min_decimals`` a unit always shows (``95.0``).
    """
    if not math.isfinite(value):
        return str(value)
    if value == 0:
        return _fixed(0.0, min_decimals)
    magnitude = abs(value)
    if magnitude >= WHOLE_FROM:
        return _fixed(value, min_decimals)
    decimals = max(min_decimals, SIGNIFICANT_DIGITS - 1 - _exponent(magnitude))
    text = _fixed(value, decimals)
    if decimals > min_decimals:
        whole, _, fraction = text.partition(".")
        fraction = fraction.rstrip("0").ljust(min_decimals, "0")
        text = f"{whole}.{fraction}" if fraction else whole
    return text


def format_value(value: float | None, unit: str) -> str:
    """A value with its catalogue unit: ``2.1/s``, ``50.7 ms``, ``12.3 s``, ``85.0 %``, ``410 MiB``, ``4 cores``."""
    if value is None or not math.isfinite(value):
        return NO_VALUE
    rule = UNITS.get(unit) or UnitFormat(suffix=f" {unit}")
    number = float(value) * rule.scale
    suffix = rule.suffix
    if rule.larger_from is not None and abs(number) >= rule.larger_from:
        number, suffix = number / rule.larger_divisor, rule.larger_suffix
    if rule.prefixes:
        step = 0
        while abs(number) >= rule.prefix_step and step < len(rule.prefixes) - 1:
            number /= rule.prefix_step
            step += 1
        suffix = f" {rule.prefixes[step]}"
    return format_number(number, rule.min_decimals) + suffix


def format_pct(pct: float) -> str:
    """A signed percentage: ``+312 %``, ``-4.5 %``."""
    text = _fixed(abs(pct), 0 if abs(pct) >= PCT_WHOLE_FROM else PCT_DECIMALS)
    return f"{'-' if pct < 0 else '+'}{text} %"


def format_change(pct: float, *, signed: bool = True) -> str:
    """A change as people read it: ``+312 %``, ``-4.5 %``, or beyond ten times the old value ``x5,064``.

    Unsigned (``signed=False``) it is a size, as in "regressed by 312 %".
    """
    factor = 1.0 + pct / 100.0
    if factor > MULTIPLE_FROM:
        return f"{TIMES}{_fixed(factor, 0 if factor >= MULTIPLE_WHOLE_FROM else MULTIPLE_DECIMALS)}"
    text = format_pct(pct)
    return text if signed else text[1:]


def format_threshold(pct: float) -> str:
    """A threshold in percent: ``20 %``, ``12.5 %``."""
    return f"{pct:.{THRESHOLD_DIGITS}g} %"


def format_p(p_value: float) -> str:
    """A p-value: ``0.034``, or ``< 0.001`` below that."""
    return f"< {P_FLOOR:g}" if p_value < P_FLOOR else _fixed(p_value, P_DECIMALS)


def format_span(span: timedelta) -> str:
    """A length of time: ``1 h``, ``1 h 30 min``, ``45 s``; ``0 s`` for none."""
    rest = int(Decimal(span.total_seconds()).to_integral_value(rounding=ROUND_HALF_UP))
    parts = []
    for name, seconds in SPAN_UNITS:
        count, rest = divmod(rest, seconds)
        if count:
            parts.append(f"{count} {name}")
    return " ".join(parts) or f"0 {SPAN_UNITS[-1][0]}"


# --- instants and windows ----------------------------------------------------------------------

TIME_ZONE: Final = "UTC"
"""Every instant is written in UTC (the API answers in UTC), the zone named once, at the end."""


def _in_utc(moment: datetime) -> datetime:
    return moment.astimezone(UTC) if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _clock(moment: datetime, seconds: bool) -> str:
    return moment.strftime("%H:%M:%S" if seconds else "%H:%M")


def format_instant(moment: datetime) -> str:
    """An instant: ``2026-11-26 16:00 UTC``, seconds only when it has any (a naive one is taken as UTC)."""
    at = _in_utc(moment)
    return f"{at:%Y-%m-%d} {_clock(at, at.second != 0)} {TIME_ZONE}"


def format_window(start: datetime, end: datetime) -> str:
    """A window: ``2026-11-26 16:00 → 17:00 UTC (1 h)``; the end's date only when it is another day, seconds
    on both ends when either has any, then the window's length (:func:`format_span`)."""
    a, b = _in_utc(start), _in_utc(end)
    seconds = a.second != 0 or b.second != 0
    tail = _clock(b, seconds) if a.date() == b.date() else f"{b:%Y-%m-%d} {_clock(b, seconds)}"
    return f"{a:%Y-%m-%d} {_clock(a, seconds)} → {tail} {TIME_ZONE} ({format_span(b - a)})"


# --- bounds ------------------------------------------------------------------------------------


def expected_text(warn_min: float | None, warn_max: float | None, unit: str) -> str:
    """The passing range in words: ``under 60 ms``, ``at least 85.0 %``, ``55/s to under 270/s``."""
    low = format_value(warn_min, unit) if warn_min is not None else None
    high = format_value(warn_max, unit) if warn_max is not None else None
    if low is not None and high is not None:
        return BOUND_WORDS["between"].format(low=low, high=high)
    if low is not None:
        return BOUND_WORDS["at_least"].format(low=low)
    if high is not None:
        return BOUND_WORDS["under"].format(high=high)
    return BOUND_WORDS["any"]


def limits_text(min_value: float | None, max_value: float | None, unit: str) -> str:
    """The hard limits in words: ``fails under 10/s and fails at 300/s or more``, or ``no hard limit``."""
    parts = []
    if min_value is not None:
        parts.append(BOUND_WORDS["fails_under"].format(min=format_value(min_value, unit)))
    if max_value is not None:
        parts.append(BOUND_WORDS["fails_at"].format(max=format_value(max_value, unit)))
    return BOUND_WORDS["limits_joined_by"].join(parts) or BOUND_WORDS["no_limit"]


def bound_text(
    min_value: float | None, warn_min: float | None, warn_max: float | None, max_value: float | None, unit: str
) -> str:
    """A whole bound: ``expected under 60 ms; fails at 150 ms or more``."""
    return BOUND_WORDS["bound"].format(
        expected=expected_text(warn_min, warn_max, unit), limits=limits_text(min_value, max_value, unit)
    )


# --- for the web UI ------------------------------------------------------------------------------


def ui_rules() -> dict[str, Any]:
    """Every rule above as JSON data, for the web UI to format exactly as the server does."""
    return {
        "significant_digits": SIGNIFICANT_DIGITS,
        "whole_from": WHOLE_FROM,
        "no_value": NO_VALUE,
        "units": {
            name: {
                "suffix": rule.suffix,
                "scale": rule.scale,
                "min_decimals": rule.min_decimals,
                "larger_from": rule.larger_from,
                "larger_divisor": rule.larger_divisor,
                "larger_suffix": rule.larger_suffix,
                "prefixes": list(rule.prefixes),
                "prefix_step": rule.prefix_step,
            }
            for name, rule in UNITS.items()
        },
        "pct_whole_from": PCT_WHOLE_FROM,
        "pct_decimals": PCT_DECIMALS,
        "multiple_from": MULTIPLE_FROM,
        "multiple_whole_from": MULTIPLE_WHOLE_FROM,
        "multiple_decimals": MULTIPLE_DECIMALS,
        "times": TIMES,
        "p_floor": P_FLOOR,
        "p_decimals": P_DECIMALS,
        "threshold_digits": THRESHOLD_DIGITS,
        "max_decimals": MAX_DECIMALS,
        "span_units": [list(unit) for unit in SPAN_UNITS],
        "time_zone": TIME_ZONE,
        "bound_words": dict(BOUND_WORDS),
    }
