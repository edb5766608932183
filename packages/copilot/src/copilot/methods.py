"""HTTP methods as clients expect them: ``Allow`` on every 405, ``HEAD`` wherever ``GET`` works, ``OPTIONS``.

The methods a path takes come from one place, the app's own routes (:class:`~copilot.routes.RouteMethods`), and
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

The table itself is :class:`copilot.routes.RouteMethods`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from starlette.responses import Response

from copilot.problems import problem
from copilot.routes import ALWAYS, PathMethods, RouteMethods, allow_header

if TYPE_CHECKING:
    from starlette.types import ASGIApp, Message, Receive, Scope, Send


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
