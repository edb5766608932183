"""How a route declares its access class, on its own decorator: ``dependencies=WRITES`` (or ``READS``, ``CREATES``).

The host reads the class back from its routes (:func:`access_of`) for everything that depends on it:
which requests need the API token, which are rate-limited and counted as profile creations, which
methods CORS allows. Every route of the API routers declares one; a route that does not (``/healthz``,
``/metrics``, the web UI) is open. The declaration is a dependency that does nothing, so the OpenAPI
document and the answers are unchanged by it.
"""

from __future__ import annotations

from collections.abc import Callable
from enum import IntEnum
from typing import Any

from fastapi import Depends
from fastapi.params import Depends as DependsParam


class Access(IntEnum):
    """What a route does, weakest first (a route declaring several is the strongest of them)."""

    READ = 1
    """Changes nothing (a POST that computes an answer, such as a comparison, is a read)."""
    WRITE = 2
    """Changes stored state: always needs the API token when one is configured."""
    CREATE = 3
    """Creates a profile: a write that is also rate-limited and counted by outcome."""


def _marker(access: Access) -> Callable[[], None]:
    def declared() -> None:
        return None

    declared.__name__ = f"declares_{access.name.lower()}"
    return declared


_MARKERS: dict[Access, Callable[[], None]] = {access: _marker(access) for access in Access}
_BY_MARKER: dict[Callable[[], None], Access] = {marker: access for access, marker in _MARKERS.items()}


def declare(access: Access) -> DependsParam:
    """The dependency that declares ``access`` on a route (or on a whole router)."""
    declared: DependsParam = Depends(_MARKERS[access])
    return declared


def access_of(route: Any) -> Access | None:
    """The access class a route declares (the strongest, if several); ``None`` when it declares none."""
    declared = [_BY_MARKER[d.dependency] for d in getattr(route, "dependencies", ()) if d.dependency in _BY_MARKER]
    return max(declared, default=None)


READS = (declare(Access.READ),)
WRITES = (declare(Access.WRITE),)
CREATES = (declare(Access.CREATE),)
