"""The app's routes as one table: the methods each path takes and the access class each route declares.

Read from the app's own routes on first use (:class:`RouteMethods`); the methods middleware (405,
``HEAD``, ``OPTIONS``), the access middleware (token, creation rate), the request metrics (creations)
and CORS (allowed methods) all ask it, so a new route is seen by each of them as it is declared. The
access class is what the route declares on its decorator (:mod:`behaviour_profiles.routing`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from fastapi.routing import iter_route_contexts

from behaviour_profiles.routing import Access, access_of

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
    access: Mapping[str, Access]
    """The access class declared by the route of each method that declares one (``HEAD`` as ``GET``)."""


@dataclass(frozen=True)
class RouteEntry:
    regex: re.Pattern[str]
    template: str
    params: int
    methods: frozenset[str]
    access: Access | None


def route_entries(routes: Sequence[Any]) -> list[RouteEntry]:
    """Every HTTP route of an app (included routers' too) with its methods and declared access class."""
    built = []
    for route in iter_route_contexts(routes):
        regex, template, methods = route.path_regex, route.path_format, route.methods
        if regex is None or not isinstance(template, str) or not methods:
            continue  # a mount or a websocket route: left to the app
        built.append(
            RouteEntry(regex, template, template.count("{"), frozenset(methods), access_of(route.original_route))
        )
    return built


def api_methods(routes: Sequence[Any]) -> list[str]:
    """The methods of the routes that declare an access class, in the usual order (what CORS allows)."""
    taken = frozenset().union(*(e.methods for e in route_entries(routes) if e.access is not None))
    return allow_header(taken).split(", ") if taken else []


class RouteMethods:
    """The methods each path of an app takes, read from the app's routes on first use."""

    def __init__(self) -> None:
        self._routes: list[RouteEntry] | None = None

    def _entries(self, app: Any) -> list[RouteEntry]:
        if self._routes is None:
            self._routes = route_entries(getattr(app, "routes", ()))
        return self._routes

    def lookup(self, app: Any, path: str) -> PathMethods | None:
        """The route template of ``path`` and the methods it takes; ``None`` when no route matches it."""
        matching = [e for e in self._entries(app) if e.regex.match(path)]
        if not matching:
            return None
        fewest = min(e.params for e in matching)
        best = [e for e in matching if e.params == fewest]
        taken = frozenset().union(*(e.methods for e in best)) | ALWAYS
        access = {m: e.access for e in best if e.access is not None for m in e.methods}
        if "GET" in taken:
            taken |= {"HEAD"}
            if "GET" in access:
                access["HEAD"] = access["GET"]
        return PathMethods(template=best[0].template, methods=taken, access=access)

    def declared(self, app: Any, method: str, path: str) -> Access | None:
        """The access class declared by the route that answers ``method`` on ``path``, if any."""
        found = self.lookup(app, path)
        return None if found is None else found.access.get(method)

    def roots(self, app: Any) -> frozenset[str]:
        """The first path segments (``/profiles``) under which routes declare an access class."""
        return frozenset("/" + e.template.split("/")[1] for e in self._entries(app) if e.access is not None)
