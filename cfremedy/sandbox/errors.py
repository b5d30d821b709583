"""The sandbox's error type, `SandboxError`, and the v4 error codes shared by several layers.

Everything below the server (the state, the DNS rules, query parsing, the route handlers)
refuses a request by raising a `SandboxError`, which carries the HTTP status and the v4
`errors` items; the server turns it into a failure envelope. It sits in this module, which
imports nothing of the sandbox, so that every layer can raise it without importing the layers
above it (`state.py` re-exports it). Codes that belong to one area are defined next to the
rules that raise them (DNS in `dns_rules.py`, zone settings and rulesets in `state.py`); the
table of every code, with when it is answered, is in `api.py`'s docstring.
"""

from __future__ import annotations

ERR_NO_ROUTE = 7000
ERR_NO_ROUTE_OBJECT = 7003
ERR_BAD_REQUEST = 1001
ERR_AUTH = 10000
ERR_INVALID_TOKEN = 1000
ERR_RATE_LIMITED = 971
ERR_INTERNAL = 10001
ERR_MALFORMED_JSON = 6007


class SandboxError(Exception):
    """An API error: the status to answer and the v4 `errors` items."""

    def __init__(self, status: int, *errors: tuple[int, str]) -> None:
        super().__init__(errors[0][1] if errors else str(status))
        self.status = status
        self.errors = errors


def zone_not_found(zone_id: str) -> SandboxError:
    """What the API answers for a zone id it does not know or the token may not see."""
    message = f"Could not route to /zones/{zone_id}, perhaps your object identifier is invalid?"
    no_route = (ERR_NO_ROUTE, "No route for that URI")
    return SandboxError(404, (ERR_NO_ROUTE_OBJECT, message), no_route)
