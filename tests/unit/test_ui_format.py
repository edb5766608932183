"""The web UI's format.js applies the server's formatting rules exactly as behaviour_profiles.formatting does."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from datetime import datetime

import pytest

from behaviour_profiles.formatting import (
    bound_text,
    format_change,
    format_instant,
    format_p,
    format_threshold,
    format_value,
    format_window,
    ui_rules,
)
from copilot.ui import STATIC_DIR

VALUES = [
    0.0,
    0.0012,
    0.0625,
    0.85,
    1.0,
    1.125,
    -1.125,
    2.1,
    12.345,
    99.96,
    999.6,
    4728.0,
    12_345.0,
    430e6,
    1.5e-5,
    -4728.4,
]
UNITS = ["", "ratio", "1/s", "ms", "s", "bytes", "cores"]
CHANGES = [-95.0, -4.54, 0.0, 4.5, 45.0, 312.4, 900.0, 1_100.0, 506_300.0]
INSTANTS = [
    "2026-11-26T16:00:00Z",
    "2026-11-26T17:00:00+00:00",
    "2026-11-26T18:00:07+02:00",
    "2026-11-26T23:30:00.250Z",
    "2026-11-27T00:30:00Z",
    "2026-12-31T23:59:59Z",
    "2027-01-01T01:00:00+01:00",
]
BOUNDS = [(10.0, 55.0, 270.0, 300.0), (None, None, 60.0, 150.0), (None, 0.85, None, None), (None, None, None, None)]

SCRIPT = """
import {
  useRules, formatValue, formatChange, formatP, formatThreshold, boundText, formatInstant, formatWindow,
} from "%s";
import fs from "node:fs";
const cases = JSON.parse(fs.readFileSync(0, "utf8"));
useRules(cases.rules);
console.log(JSON.stringify({
  values: cases.values.flatMap((v) => cases.units.map((u) => formatValue(v, u))),
  changes: cases.changes.map((p) => formatChange(p)),
  p: cases.values.filter((v) => v >= 0 && v <= 1).map((v) => formatP(v)),
  thresholds: cases.changes.filter((p) => p > 0).map((p) => formatThreshold(p)),
  bounds: cases.bounds.flatMap(([min, warn_min, warn_max, max]) =>
    cases.units.map((u) => boundText({ min, warn_min, warn_max, max }, u))),
  instants: cases.instants.map((t) => formatInstant(t)),
  windows: cases.instants.flatMap((a) =>
    cases.instants.filter((b) => new Date(b) >= new Date(a)).map((b) => formatWindow(a, b))),
}));
"""


def _node() -> str:
    path = shutil.which("node")
    if path is None:
        if os.environ.get("CI"):
            pytest.fail("node is not installed")
        pytest.skip("node is not installed")
    return path


def test_format_js_writes_every_value_change_bound_instant_and_window_as_the_server_does() -> None:
    cases = {
        "rules": ui_rules(),
        "values": VALUES,
        "units": UNITS,
        "changes": CHANGES,
        "bounds": BOUNDS,
        "instants": INSTANTS,
    }
    script = SCRIPT % (STATIC_DIR / "format.js").as_uri()
    answer = subprocess.run(
        [_node(), "--input-type=module", "-e", script],
        input=json.dumps(cases),
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    browser = json.loads(answer.stdout)
    assert browser == {
        "values": [format_value(v, u) for v in VALUES for u in UNITS],
        "changes": [format_change(p) for p in CHANGES],
        "p": [format_p(v) for v in VALUES if 0 <= v <= 1],
        "thresholds": [format_threshold(p) for p in CHANGES if p > 0],
        "bounds": [bound_text(*bound, u) for bound in BOUNDS for u in UNITS],
        "instants": [format_instant(datetime.fromisoformat(t)) for t in INSTANTS],
        "windows": [
            format_window(a, b)
            for a in map(datetime.fromisoformat, INSTANTS)
            for b in map(datetime.fromisoformat, INSTANTS)
            if b >= a
        ],
    }
