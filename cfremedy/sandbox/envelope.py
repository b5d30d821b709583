"""The v4 response envelope: `Reply`, and the success and failure bodies the API answers.

Every REST answer is `{"success", "errors", "messages", "result"}` (with `result_info` on
pages), which is what the SDK parses into results and exceptions. Besides `ok` and `fail`, the
canned failures here (no route, rate limited, internal error, a revoked permission) are the
ones the server answers before or instead of a route handler. Kept apart from the server so
that the route handlers can build replies without importing it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from cfremedy.sandbox.errors import (
    ERR_INTERNAL,
    ERR_NO_ROUTE,
    ERR_NO_ROUTE_OBJECT,
    ERR_RATE_LIMITED,
)

RATE_LIMIT_MESSAGE = "Please wait and consider throttling your request speed"


@dataclass(frozen=True)
class Reply:
    status: int
    body: Any  # JSON; a str sent as it is when `content_type` is not JSON
    headers: tuple[tuple[str, str], ...] = ()
    content_type: str = "application/json"
    raw: bytes | None = None  # sent instead of the body (a "truncated" fault's half answer)

    def payload(self) -> bytes:
        if self.raw is not None:
            return self.raw
        if self.content_type != "application/json" and isinstance(self.body, str):
            return self.body.encode()
        return json.dumps(self.body).encode()


def ok(result: Any, result_info: Mapping[str, int] | None = None) -> Reply:
    body: dict[str, Any] = {"success": True, "errors": [], "messages": [], "result": result}
    if result_info is not None:
        body["result_info"] = dict(result_info)
    return Reply(200, body)


def fail(status: int, *errors: tuple[int, str], headers: tuple[tuple[str, str], ...] = ()) -> Reply:
    items = [{"code": code, "message": message} for code, message in errors]
    body = {"success": False, "errors": items, "messages": [], "result": None}
    return Reply(status, body, headers)


def no_route(path: str) -> Reply:
    message = f"Could not route to {path}, perhaps your object identifier is invalid?"
    return fail(400, (ERR_NO_ROUTE_OBJECT, message), (ERR_NO_ROUTE, "No route for that URI"))


def too_many_requests(retry_after: float) -> Reply:
    headers = (("Retry-After", _seconds(retry_after)),)
    return fail(429, (ERR_RATE_LIMITED, RATE_LIMIT_MESSAGE), headers=headers)


def internal_error() -> Reply:
    return fail(500, (ERR_INTERNAL, "Internal server error"))


def permission_denied() -> Reply:
    """A token whose permission was revoked mid-run: what a fault of kind "403" answers."""
    return fail(403, (10000, "Authentication error"))


def _seconds(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:g}"
