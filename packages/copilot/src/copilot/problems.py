"""RFC 9457 problem details: the body of every error answer of the Copilot API.

One builder for the exception handlers of the app and for the access middleware, which answers before
routing. Both carry the request id of the request being served, in the body and in the header.
"""

from __future__ import annotations

from typing import Any, Final

from starlette.responses import JSONResponse

from copilot.observability import REQUEST_ID_HEADER, current_request_id

PROBLEM_JSON: Final = "application/problem+json"


def problem_body(status: int, title: str, detail: str, **extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"type": "about:blank", "title": title, "status": status, "detail": detail, **extra}
    request_id = current_request_id()
    if request_id is not None:
        body["request_id"] = request_id
    return body


def problem(status: int, title: str, detail: str, **extra: Any) -> JSONResponse:
    body = problem_body(status, title, detail, **extra)
    # the header too: 500s are answered outside the request id middleware
    headers = {REQUEST_ID_HEADER: body["request_id"]} if "request_id" in body else None
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)
