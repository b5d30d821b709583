"""`Route`, an endpoint in the router table, and `Call`, one request as its handler sees it.

A route is a method, an OpenAPI path template, the handler, the permission key the token must
hold (one key, or one chosen by a path parameter's value: `ByParam`) and how the request
authenticates; a call is one request after routing, with the zone the server resolved for it.
Kept apart from the server (`api.py`) and from the handlers (`routes/`) so that both can
import them: a handler gets the server only as a `Server`, the part of `SandboxApi` it may
use, so no handler module imports `api.py`, which imports them.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol
from urllib.parse import unquote

from cfremedy import permissions
from cfremedy.sandbox.envelope import Reply
from cfremedy.sandbox.errors import ERR_INTERNAL, SandboxError
from cfremedy.sandbox.scenario import TokenSpec
from cfremedy.sandbox.state import SandboxState
from cfremedy.sandbox.zone import ZoneState


class Server(Protocol):
    """What a route handler may use of the server (`SandboxApi`): the state it serves."""

    @property
    def state(self) -> SandboxState: ...


@dataclass
class Call:
    """One API request as the route handlers see it."""

    method: str
    path: str
    params: dict[str, str]
    query: dict[str, str]
    body: Any
    token: TokenSpec | None
    zone: ZoneState | None = None
    malformed: bool = False  # the body was not JSON (`body` then holds the raw text)

    @property
    def keys(self) -> frozenset[str]:
        return permissions.keys_for(self.token.permissions) if self.token else frozenset()


Handler = Callable[[Server, Call], Reply]
AuthMode = Literal["token", "none", "verify"]


@dataclass(frozen=True)
class ByParam:
    """A permission key that depends on a path parameter's value, e.g. the entry point route's
    `ruleset_phase`: `keys` maps values to keys, any other value requires `default`."""

    param: str
    keys: tuple[tuple[str, str], ...]  # (value, key) pairs: hashable, like the rest of a Route
    default: str

    def key(self, params: Mapping[str, str]) -> str:
        value = params.get(self.param)
        return next((key for known, key in self.keys if known == value), self.default)


Permission = str | ByParam | None


@dataclass(frozen=True)
class Route:
    method: str
    template: str  # OpenAPI path template, e.g. "/zones/{zone_id}/dns_records/{dns_record_id}"
    handler: Handler
    permission: Permission = None  # the permission key the token must hold (see `required_key`)
    auth: AuthMode = "token"
    # The handler answers a malformed JSON body itself: GraphQL reports it in its own shape,
    # not with the v4 envelope's 6007.
    own_body_errors: bool = False
    pattern: re.Pattern[str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        regex = re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>[^/]+)", re.escape(self.template))
        object.__setattr__(self, "pattern", re.compile(f"^{regex}$"))

    def required_key(self, params: Mapping[str, str]) -> str | None:
        """The key a request to this route needs, given its path parameters (None: no key)."""
        if isinstance(self.permission, ByParam):
            return self.permission.key(params)
        return self.permission

    def match(self, method: str, path: str) -> dict[str, str] | None:
        if method != self.method:
            return None
        found = self.pattern.match(path)
        return {k: unquote(v) for k, v in found.groupdict().items()} if found else None


def zone_of(call: Call) -> ZoneState:
    """The zone the server resolved (and checked the token may see) for a `{zone_id}` route."""
    if call.zone is None:  # routes with {zone_id} always resolve it before the handler runs
        raise SandboxError(500, (ERR_INTERNAL, "Internal server error"))
    return call.zone
