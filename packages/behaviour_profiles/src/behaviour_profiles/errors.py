"""The error tree. Adapters translate third-party exceptions into it at the I/O boundary.

::

    BehaviourProfileError
    ├── InvalidRequest            bad input: the message says what to fix          (422)
    ├── NotFound
    │   ├── ProfileNotFound       no profile with that id                          (404)
    │   └── BaselineNotFound      no baseline for a cluster and namespace          (404)
    ├── NoTelemetry               the window has no samples for any metric         (422)
    ├── NotConfigured             storage or Prometheus not configured             (503)
    └── DependencyError           a dependency failed; ``dependency`` names it
        ├── DependencyFailed      an upstream we query (Prometheus) is unreachable
        │                         or answered with an error                        (502)
        ├── DependencyUnavailable a store (S3, PostgreSQL) is unreachable, refused,
        │                         or its retries are exhausted                     (503)
        └── DependencyTimeout     did not answer in time                           (504)

The host app maps each class to an HTTP status in one table; route handlers never build HTTP errors.
"""

from __future__ import annotations


class BehaviourProfileError(Exception):
    """Base of every error this library raises on purpose."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidRequest(BehaviourProfileError):
    pass


class NotFound(BehaviourProfileError):
    pass


class ProfileNotFound(NotFound):
    def __init__(self, profile_id: str, *, malformed: bool = False) -> None:
        if malformed:
            shown = profile_id if len(profile_id) <= 80 else profile_id[:80] + "..."
            message = f"{shown!r} is not a profile id: ids are UUIDs such as 3f2b8c1e-0d4a-4a57-9a43-1c9e2f7b6d10"
        else:
            message = f"No profile with id {profile_id!r}; list profiles with GET /profiles"
        super().__init__(message)
        self.profile_id = profile_id


class BaselineNotFound(NotFound):
    pass


class NoTelemetry(BehaviourProfileError):
    pass


class NotConfigured(BehaviourProfileError):
    pass


class DependencyError(BehaviourProfileError):
    def __init__(self, dependency: str, message: str) -> None:
        super().__init__(f"{dependency}: {message}")
        self.dependency = dependency


class DependencyUnavailable(DependencyError):
    pass


class DependencyTimeout(DependencyError):
    pass


class DependencyFailed(DependencyError):
    pass
