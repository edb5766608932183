"""HTTP methods as clients expect them: ``Allow`` on every 405, ``HEAD`` wherever ``GET`` works, ``OPTIONS``.

The methods a path takes come from one place, the app's own routes (:class:`RouteMethods`), and
:class:`MethodsMiddleware` answers from them before routing:

* ``OPTIONS`` on a path the app serves: 204 with ``Allow`` (CORS preflights never get here when
  ``COPILOT_CORS_ORIGINS`` is set: the CORS middleware outside answers them);
* ``HEAD`` on a path that takes ``GET``: the ``GET`` answer with the same status and headers
  (``Content-Length`` included) and no body;
* any other method the path does not take: 405 with ``Allow`` and a problem document naming the
  methods it takes.

Paths that no route matches go on to the app (404, or the redirect of a trailing slash). Where a
literal path and a parametrised one both match (``/profiles/compare`` and ``/profiles/{profile_id}``),
the literal one is the path's route, so ``GET /profiles/compare`` is a 405, not a lookup of the profile
``compare``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

from fastapi.routing import iter_route_contexts
from starlette.responses import Response

from copilot.problems import problem

if TYPE_CHECKING:
    from starlette.types import ASGIApp, Message, Receive, Scope, Send

ALWAYS: Final = frozenset({"OPTIONS"})
"""Answered here for every path the app serves."""

_METHOD_ORDER: Final = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")


def allow_header(methods: frozenset[str]) -> str:
    """``GET, HEAD, POST, OPTIONS``: the usual order, then any others alphabetically."""
    known = [m for m in _METHOD_ORDER if m in methods]
    return ", ".join(known + sorted(methods.difference(_METHOD_ORDER)))


@dataclass(frozen=True)
class PathMethods:
    template: str
    """The route's path template, e.g. ``/profiles/{profile_id}/baseline``."""
    methods: frozenset[str]
    """Every method the path takes, ``HEAD`` (with ``GET``) and ``OPTIONS`` included."""


class RouteMethods:
    """The methods each path of an app takes, read from the app's routes on first use."""

    def __init__(self) -> None:
        self._routes: list[tuple[re.Pattern[str], str, int, frozenset[str]]] | None = None

    @staticmethod
    def _build(routes: Any) -> list[tuple[re.Pattern[str], str, int, frozenset[str]]]:
        built = []
        for route in iter_route_contexts(routes):
            regex, template, methods = route.path_regex, route.path_format, route.methods
            if regex is None or not isinstance(template, str) or not methods:
                continue  # a mount or a websocket route: left to the app
            built.append((regex, template, template.count("{"), frozenset(methods)))
        return built

    def lookup(self, app: Any, path: str) -> PathMethods | None:
        """The route template of ``path`` and the methods it takes; ``None`` when no route matches it."""
        if self._routes is None:
            self._routes = self._build(getattr(app, "routes", ()))
        matching = [(tpl, params, methods) for regex, tpl, params, methods in self._routes if regex.match(path)]
        if not matching:
            return None
        fewest = min(params for _, params, _ in matching)
        best = [(template, methods) for template, params, methods in matching if params == fewest]
        taken = frozenset().union(*(methods for _, methods in best)) | ALWAYS
        if "GET" in taken:
            taken |= {"HEAD"}
        return PathMethods(template=best[0][0], methods=taken)


def not_allowed_detail(method: str, found: PathMethods) -> str:
    takes = [m for m in allow_header(found.methods).split(", ") if m not in ALWAYS]
    listed = takes[0] if len(takes) == 1 else ", ".join(takes[:-1]) + " or " + takes[-1]
    shown = method if len(method) <= 20 else method[:20] + "..."
    return f"{found.template} does not take {shown}: send {listed} (the Allow header lists them; see /docs)"


class MethodsMiddleware:
    """``OPTIONS``, ``HEAD`` and 405 answers from the app's routes (see the module docstring)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.routes = RouteMethods()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        method: str = scope["method"]
        head = method == "HEAD"
        found = self.routes.lookup(scope.get("app"), scope["path"])
        respond = _without_body(send) if head else send
        if found is None:
            await self.app(scope, receive, respond)
            return
        allow = allow_header(found.methods)
        if method == "OPTIONS":
            await Response(status_code=204, headers={"Allow": allow})(scope, receive, send)
            return
        if method not in found.methods:
            answer = problem(405, "Method not allowed", not_allowed_detail(method, found))
            answer.headers["Allow"] = allow
            await answer(scope, receive, respond)
            return
        if head:
            # the GET answer, headers and all; a copy of the scope, so that the layers outside still see HEAD
            await self.app({**scope, "method": "GET"}, receive, respond)
            return
        await self.app(scope, receive, send)


def _without_body(send: Send) -> Send:
    """``send`` for a ``HEAD`` request: the start message as it is, then one empty body."""

    async def send_head(message: Message) -> None:
        if message["type"] == "http.response.body":
            if message.get("more_body", False):
                return
            message = {"type": "http.response.body", "body": b"", "more_body": False}
        await send(message)

    return send_head
