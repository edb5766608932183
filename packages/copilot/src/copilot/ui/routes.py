"""Routes of the web UI: the HTML shell at every ``/ui/...`` page path, and its static files.

The shell carries two JSON data blocks, so the pages need no extra request for them: the metric
catalogue (title, category, unit, which way is better, description), and the UI rules: how numbers,
units, changes and bounds are written (``behaviour_profiles.formatting``) and the server's constants
the pages use (the longest window, the drift check's default window, statistics, threshold classes
and their defaults, severities and categories in order). Nothing here needs profile storage or a
token: the pages call the JSON API, which enforces both.
"""

from __future__ import annotations

import functools
import importlib.util
import json
import re
from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from behaviour_profiles.catalogue import CATALOGUE
from behaviour_profiles.comparison import CRITICAL_TIMES
from behaviour_profiles.formatting import ui_rules
from behaviour_profiles.models import (
    DEFAULT_THRESHOLDS_PCT,
    Category,
    CompareOptions,
    Severity,
    Statistic,
    ThresholdClass,
)
from behaviour_profiles.rolling import MAX_ROLLING
from behaviour_profiles.scope import MAX_WINDOW
from behaviour_profiles.service import DRIFT_WINDOW

STATIC_DIR = Path(__file__).parent / "static"
"""``index.html``, ``app.js`` and ``style.css``, packaged with the wheel."""

CATALOGUE_PLACEHOLDER = "{{CATALOGUE_JSON}}"
UI_RULES_PLACEHOLDER = "{{UI_RULES_JSON}}"

CONTENT_SECURITY_POLICY = "; ".join(
    (
        "default-src 'self'",
        "script-src 'self'",
        # Plotly sets inline styles on the elements it draws.
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data: blob:",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    )
)
SHELL_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "Cache-Control": "no-cache",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}
_ASSET_NAME = re.compile(r"^[a-z0-9_-]+\.(js|css)$")
_MEDIA_TYPES = {"js": "text/javascript; charset=utf-8", "css": "text/css; charset=utf-8"}

router = APIRouter(include_in_schema=False)


@functools.cache
def plotly_js_path() -> Path:
    """The minified plotly.js that the installed ``plotly`` Python package ships."""
    spec = importlib.util.find_spec("plotly")
    if spec is None or spec.origin is None:  # pragma: no cover - plotly is a dependency of this package
        raise StarletteHTTPException(503, "The plotly package is not installed; the UI's charts need it")
    return Path(spec.origin).parent / "package_data" / "plotly.min.js"


def _script_json(data: object) -> str:
    """``data`` as JSON that is safe to place inside a ``<script>`` element."""
    text = json.dumps(data, separators=(",", ":"))
    # "</script>" or "<!--" inside a string must not end the data block early.
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def catalogue_json() -> str:
    """The catalogue as a JSON object keyed by metric, safe to place inside a ``<script>`` element."""
    entries = {
        spec.key: {
            "title": spec.title,
            "category": spec.category.value,
            "unit": spec.unit,
            "better": spec.better.value,
            "threshold_class": spec.threshold_class.value,
            "key_metric": spec.key_metric,
            "description": spec.description,
        }
        for spec in CATALOGUE
    }
    return _script_json(entries)


def server_constants() -> dict[str, object]:
    """The server's own values that the pages use, so that they never repeat them."""
    return {
        "max_window_seconds": MAX_WINDOW.total_seconds(),
        "drift_window_minutes": DRIFT_WINDOW.total_seconds() / 60,
        "statistics": [s.value for s in Statistic],
        "default_statistic": CompareOptions().statistic.value,
        "max_rolling": MAX_ROLLING,
        "threshold_classes": [c.value for c in ThresholdClass],
        "default_thresholds_pct": {c.value: pct for c, pct in DEFAULT_THRESHOLDS_PCT.items()},
        "severities": [s.value for s in (Severity.CRITICAL, Severity.WARNING, Severity.INFO)],
        "categories": [c.value for c in Category],
        "critical_times": CRITICAL_TIMES,
    }


def ui_rules_json() -> str:
    """How the pages write numbers and bounds, and the server's constants, safe inside ``<script>``."""
    return _script_json({"format": ui_rules(), "constants": server_constants()})


@functools.cache
def shell_html() -> str:
    """The page shell with its data blocks filled in; all are fixed for the life of the process."""
    html = (STATIC_DIR / "index.html").read_text(encoding="utf-8")
    return html.replace(CATALOGUE_PLACEHOLDER, catalogue_json()).replace(UI_RULES_PLACEHOLDER, ui_rules_json())


@router.get("/", include_in_schema=False)
async def root() -> RedirectResponse:
    return RedirectResponse("/ui/", status_code=307)


@router.get("/ui", include_in_schema=False)
async def ui_without_slash() -> RedirectResponse:
    return RedirectResponse("/ui/", status_code=307)


@router.get("/ui/static/plotly.min.js", include_in_schema=False)
async def plotly_js() -> FileResponse:
    path = plotly_js_path()
    if not path.is_file():  # pragma: no cover - plotly is a dependency of this package
        raise StarletteHTTPException(503, "plotly.min.js is missing from the installed plotly package")
    return FileResponse(
        path,
        media_type=_MEDIA_TYPES["js"],
        headers={"Cache-Control": "public, max-age=86400", "X-Content-Type-Options": "nosniff"},
    )


@router.get("/ui/static/{name}", include_in_schema=False)
async def static_file(name: str) -> FileResponse:
    match = _ASSET_NAME.match(name)
    path = STATIC_DIR / name
    if match is None or not path.is_file():
        raise StarletteHTTPException(404, f"No static file {name[:100]!r} under /ui/static/")
    return FileResponse(
        path,
        media_type=_MEDIA_TYPES[match.group(1)],
        headers={"Cache-Control": "no-cache", "X-Content-Type-Options": "nosniff"},
    )


@router.get("/ui/", include_in_schema=False)
@router.get("/ui/{page:path}", include_in_schema=False)
async def shell(page: str = "") -> HTMLResponse:
    """The same HTML shell for every page; ``app.js`` renders the page the path names."""
    if page.startswith("static/"):
        raise StarletteHTTPException(404, f"No static file {page.removeprefix('static/')[:100]!r} under /ui/static/")
    return HTMLResponse(shell_html(), headers=SHELL_HEADERS)
