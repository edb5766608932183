"""Numbers, units and changes in words, for every sentence the pure core writes (pure).

It sits below :mod:`~behaviour_profiles.comparison`, :mod:`~behaviour_profiles.correlation` and the
other judging modules so that each of them words a value the same way.
"""

from __future__ import annotations

__all__ = ["MULTIPLE_FROM", "TIMES", "format_change", "format_pct", "format_value"]


def _format_number(value: float) -> str:
    if value == 0:
        return "0"
    magnitude = abs(value)
    if magnitude >= 1000:
        return f"{value:,.0f}"
    if magnitude >= 100:
        return f"{value:.0f}"
    return f"{value:.3g}"


def format_value(value: float, unit: str) -> str:
    """A value with its catalogue unit, for sentences: ``2.1/s``, ``50.7 ms``, ``0.85``."""
    number = _format_number(value)
    if unit == "1/s":
        return f"{number}/s"
    if unit in ("ratio", ""):
        return number
    return f"{number} {unit}"


def format_pct(pct: float) -> str:
    """A signed percentage: ``+312 %``, ``-4.5 %``."""
    return f"{pct:+.0f} %" if abs(pct) >= 10 else f"{pct:+.1f} %"


MULTIPLE_FROM = 10.0
"""A rise to more than this many times the old value reads as a multiple (``x5,064``), not a percentage."""

TIMES = "\u00d7"
"""The multiplication sign a multiple is written with."""


def format_change(pct: float) -> str:
    """A change as people read it: ``+312 %``, ``-4.5 %``, or beyond ten times the old value ``x5,064`` (with
    the multiplication sign :data:`TIMES`)."""
    factor = 1.0 + pct / 100.0
    if factor > MULTIPLE_FROM:
        return f"{TIMES}{factor:,.0f}" if factor >= 100 else f"{TIMES}{factor:.1f}"
    return format_pct(pct)
