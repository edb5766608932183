"""The web UI: one HTML shell and its static files, served by the Copilot API itself.

The host mounts :data:`router` (``app.include_router(ui.router)``). Every page path under ``/ui/``
answers the same shell; ``static/app.js`` routes on the client and calls the JSON API of the same
origin. Plotly comes from the installed ``plotly`` package, never from a CDN.
"""

from __future__ import annotations

from copilot.ui.routes import STATIC_DIR, plotly_js_path, router

__all__ = ["STATIC_DIR", "plotly_js_path", "router"]
