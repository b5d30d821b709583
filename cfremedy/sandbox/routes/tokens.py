"""`GET /user/tokens/verify`: whether the bearer token is known, and its status.

It answers for a disabled or expired token too (with that status), and 401 1000 "Invalid API
Token" only for a missing or unknown one. A token's id derives from its scenario name, never
its value. A module of its own because it is the one route that authenticates this way.
"""

from __future__ import annotations

from cfremedy.sandbox.envelope import Reply, fail, ok
from cfremedy.sandbox.errors import ERR_INVALID_TOKEN
from cfremedy.sandbox.routing import Call, Server
from cfremedy.sandbox.scenario import TokenSpec, stable_id


def verify_token(api: Server, call: Call) -> Reply:
    if call.token is None:
        return fail(401, (ERR_INVALID_TOKEN, "Invalid API Token"))
    return ok({"id": token_id(call.token), "status": call.token.status})


def token_id(token: TokenSpec) -> str:
    """Token ids derive from the scenario name only: the value must not leak, even hashed."""
    return stable_id("token", token.name)
