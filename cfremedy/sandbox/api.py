"""A stateful fake of the Cloudflare v4 API, served over real HTTP on loopback.

Tests, `cfremedy demo` and `cfremedy sandbox serve` point the official SDK's `base_url` at
`SandboxApi.url`; nothing about the SDK is mocked, so what passes here exercises the same
serialisation, pagination and error mapping as production. Only the standard library serves it
(`ThreadingHTTPServer`, HTTP/1.1 keep-alive) and it binds to loopback only.

Every request, refused or faulted ones included, is appended to the log before its response is
written, so a test can assert exactly which calls an audit made and that it sent no write.

Request pipeline, in order: latency sleep -> fault injection -> server-side rate limit -> route ->
authentication -> zone or account visibility -> permission -> operation. A fault therefore never
changes state, and a refused request never reaches the operation.

Where the rest lives: the router table, with the permission key each route requires, is
`routes/` (one handler module per resource, each saying which queries its routes understand)
plus `graphql.py` for the Analytics API; what a token may see, zones and accounts, is
`access.py`; faults, latency and the rate limit are `faults.py`; the v4 envelope is
`envelope.py` and query parsing `query.py`; the account itself, its lock and its edits, is
`state.py`, with the DNS record rules in `dns_rules.py`.

Error codes (HTTP status, v4 code, message):

====== ======= ===============================================================================
status code    when
====== ======= ===============================================================================
400    7003+   no route for the method and path: two errors, 7003 "Could not route to <path>,
       7000    perhaps your object identifier is invalid?" and 7000 "No route for that URI"
404    7003+   a zone id that does not exist or is outside the token's zone globs (same two
       7000    errors as an unknown route; 404 so the SDK raises NotFoundError)
401    10000   "Authentication error": missing, unknown, disabled or expired token
401    1000    "Invalid API Token": /user/tokens/verify with a missing or unknown token
403    10000   "Authentication error": the token's permission groups lack the route's key, or
               (account routes) the token cannot see the account (see below)
429    971     "Please wait and consider throttling your request speed" (fault or rate limit),
               with a Retry-After header in seconds
500    10001   "Internal server error" (fault, or a bug in the sandbox)
400    6007    "Malformed JSON in request body"
400    1001    request shape is wrong (bad page/per_page, missing `items`/`value`, ...)
404    1003    "Invalid or missing zone setting <id>" (single-setting routes; 400 inside a
               bulk PATCH, where the route itself exists)
400    1007    "Invalid value for zone setting <id>"
400    1008    "Zone setting <id> is not editable on the <plan> plan" (proxy_read_timeout)
404    81044   "Record does not exist."
400    1004    "DNS Validation Error: <detail>" (missing field, unsupported type, bad TTL)
400    9000    "DNS name is invalid." (also: name outside the zone)
400    9004    "This record type cannot be proxied."
400    9005    "Content for A record must be a valid IPv4 address." (AAAA: IPv6)
400    9007    "Content for <type> record is invalid."
400    81053   "An A, AAAA, or CNAME record with that host already exists."
400    81057   "An identical record already exists."
404    10003   "could not find entrypoint ruleset in the <phase> phase": a zone without rules
               of that phase (Configuration, Origin or Cache Rules; any other phase never has
               an entry point)
404    1002    "Pool not found": a pool id that is not a pool of the account (pool health)
404    1003    "Tunnel not found": a tunnel id that is not a live tunnel of the account
               (tunnel configuration; a deleted tunnel too)
400    1001    (page rules) `order`, `direction`, `status` or `match` outside their enums
====== ======= ===============================================================================

A DNS batch that fails answers 400 whatever the failing item's own status, with the item's
code and its message prefixed by its place ("patches[1]: Record does not exist.").

Control endpoints outside /client/v4, without authentication and not logged, for a sandbox run
in another process (`cfremedy sandbox serve`): `GET /__sandbox/requests` answers the request log
as a JSON list, `DELETE /__sandbox/requests` clears it.
"""

from __future__ import annotations

import io
import json
import random
import re
import secrets
import socket
import struct
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, replace
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from cfremedy.sandbox.access import account_visible, zone_visible
from cfremedy.sandbox.envelope import (
    Reply,
    fail,
    internal_error,
    no_route,
    permission_denied,
    too_many_requests,
)
from cfremedy.sandbox.errors import ERR_AUTH, ERR_MALFORMED_JSON, SandboxError, zone_not_found
from cfremedy.sandbox.faults import ANSWER_FAULTS, ArmedFault, RateLimiter, alter_answer, html_page, trickle
from cfremedy.sandbox.loopback import LoopbackServer, TrackedHandler
from cfremedy.sandbox.routes import ROUTES, resolve
from cfremedy.sandbox.routing import Call, Route
from cfremedy.sandbox.scenario import FaultSpec, Scenario, TokenSpec
from cfremedy.sandbox.state import SandboxState

# `ROUTES` and `resolve` are defined in `routes` and are part of this module's surface too.
__all__ = ["API_PREFIX", "CONTROL_PREFIX", "ROUTES", "LoggedRequest", "SandboxApi", "resolve"]

API_PREFIX = "/client/v4"
CONTROL_PREFIX = "/__sandbox"


@dataclass(frozen=True)
class LoggedRequest:
    method: str
    path: str  # relative to /client/v4, without the query string
    query: dict[str, str]
    status: int  # 0 when the connection was reset
    token: str | None  # the token's scenario name, never its value
    fault: str | None  # the fault's kind ("429", "reset", "odd", ...) or None
    body: Any | None  # the parsed JSON request body
    at: float  # time.time() when the request was logged


# -- the server -----------------------------------------------------------------------------------


class _RequestHandler(TrackedHandler):
    def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
        self.server.owner._serve(self)  # type: ignore[attr-defined]

    do_POST = do_PATCH = do_PUT = do_DELETE = do_GET  # noqa: N815

    def write_reply(self, reply: Reply, bytes_per_second: float | None = None) -> None:
        """Send a reply; with `bytes_per_second`, its body a few bytes at a time (a trickle)."""
        payload = reply.payload()
        try:
            self.send_response(reply.status)
            self.send_header("Content-Type", reply.content_type)
            self.send_header("Content-Length", str(len(payload)))
            for name, value in reply.headers:
                self.send_header(name, value)
            self.end_headers()
            if bytes_per_second is None:
                self.wfile.write(payload)
            else:
                trickle(self.wfile, payload, bytes_per_second)
            self.wfile.flush()
        except OSError:
            self.close_connection = True

    def reset_connection(self) -> None:
        """Abort with an RST: linger on, zero seconds, then close without a byte sent.

        The socket must close here: socketserver's own close sends a FIN first. http.server
        still flushes `wfile` after the handler returns, so a discard buffer takes its place
        (a closed file there would print a traceback for every reset).
        """
        self.close_connection = True
        try:
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.rfile.close()
            self.wfile.close()
            self.connection.close()
        except OSError:
            pass
        self.wfile = io.BytesIO()


class SandboxApi(LoopbackServer):
    """The fake API for one scenario; use as a context manager or start()/stop()."""

    handler_class = _RequestHandler
    kind = "sandbox API"

    def __init__(self, scenario: Scenario, host: str = "127.0.0.1", port: int = 0) -> None:
        super().__init__(host, port)
        self.scenario = scenario
        self.state = SandboxState(scenario)
        self.latency_ms: float = scenario.sandbox.latency_ms
        self._tokens: dict[str, TokenSpec] = {}
        for token in scenario.tokens:
            self._tokens.setdefault(token.value, token)
        self._log: list[LoggedRequest] = []
        self._log_lock = threading.Lock()
        self._fault_lock = threading.Lock()
        self._faults: list[ArmedFault] = []
        self._rng = random.Random(scenario.sandbox.seed)
        # Like the real API, every answer sets a cookie (a session value: no log may show it).
        self.cookie = f"__cfruid={secrets.token_hex(20)}-{int(time.time())}"
        self.set_faults(scenario.sandbox.faults)
        limit = scenario.sandbox.rate_limit_requests
        self._limiter = RateLimiter(limit, scenario.sandbox.rate_limit_window) if limit else None

    @property
    def url(self) -> str:
        host, port = self.address
        return f"http://{host}:{port}{API_PREFIX}"

    @property
    def control_url(self) -> str:
        return self.url.removesuffix(API_PREFIX) + CONTROL_PREFIX

    # -- log and faults ------------------------------------------------------------------------

    @property
    def requests(self) -> list[LoggedRequest]:
        with self._log_lock:
            return list(self._log)

    def clear_log(self) -> None:
        with self._log_lock:
            self._log.clear()

    def set_faults(self, faults: Sequence[FaultSpec]) -> None:
        armed = [ArmedFault(f, re.compile(f.path) if f.path else None) for f in faults]
        with self._fault_lock:
            self._faults = armed
            self._rng = random.Random(self.scenario.sandbox.seed)

    def _draw_fault(self, method: str, path: str) -> FaultSpec | None:
        with self._fault_lock:
            for fault in self._faults:
                if fault.applies(method, path) and self._rng.random() < fault.spec.rate:
                    fault.injected += 1
                    return fault.spec
        return None

    def _append(self, entry: LoggedRequest) -> None:
        with self._log_lock:
            self._log.append(entry)

    # -- request pipeline ----------------------------------------------------------------------

    def _serve(self, handler: _RequestHandler) -> None:
        split = urlsplit(handler.path)
        raw_body = _read_body(handler)
        if split.path.startswith(CONTROL_PREFIX + "/"):
            handler.write_reply(self._control(handler.command, split.path))
            return
        path = _api_path(split.path)
        query = dict(parse_qsl(split.query, keep_blank_values=True))
        body, malformed = _parse_json(raw_body)
        token = self._token(handler.headers.get("Authorization"))
        entry: dict[str, Any] = {
            "method": handler.command,
            "path": path,
            "query": query,
            "token": token.name if token else None,
            "body": body,
        }

        if self.latency_ms > 0:
            time.sleep(self.latency_ms / 1000)
        fault = self._draw_fault(handler.command, path)
        if fault is not None and fault.kind == "reset":
            self._append(LoggedRequest(status=0, fault="reset", at=time.time(), **entry))
            handler.reset_connection()
            return
        if fault is None or fault.kind in ANSWER_FAULTS:
            # An endless list answers its first page's items (with fresh ids) on every page.
            asked = {**query, "page": "1"} if fault is not None and fault.kind == "endless" else query
            reply = self._dispatch(handler.command, path, asked, body, malformed, token)
            if fault is not None and fault.kind == "reset_after":
                self._append(LoggedRequest(status=0, fault="reset_after", at=time.time(), **entry))
                handler.reset_connection()
                return
            if fault is not None:
                reply = alter_answer(fault, reply, query)
        else:
            answers: dict[str, Callable[[], Reply]] = {
                "429": lambda: too_many_requests(fault.retry_after),
                "403": permission_denied,
                "html": html_page,
                "body": lambda: Reply(200, fault.body),
            }
            reply = answers.get(fault.kind, internal_error)()
        fault_kind = fault.kind if fault else None
        reply = replace(reply, headers=(*reply.headers, ("Set-Cookie", f"{self.cookie}; path=/; HttpOnly; Secure")))
        self._append(LoggedRequest(status=reply.status, fault=fault_kind, at=time.time(), **entry))
        handler.write_reply(reply, fault.bytes_per_second if fault and fault.kind == "trickle" else None)

    def _dispatch(
        self, method: str, path: str, query: dict[str, str], body: Any, malformed: bool,
        token: TokenSpec | None,
    ) -> Reply:  # fmt: skip
        try:
            if self._limiter is not None and token is not None:
                wait = self._limiter.admit(token.name, time.monotonic())
                if wait is not None:
                    return too_many_requests(wait)
            resolved = resolve(method, path)
            if resolved is None:
                return no_route(path)
            route, params = resolved
            call = Call(method, path, params, query, body, token, malformed=malformed)
            refusal = self._refuse(route, call)
            if refusal is not None:
                return refusal
            if malformed and not route.own_body_errors:
                return fail(400, (ERR_MALFORMED_JSON, "Malformed JSON in request body"))
            return route.handler(self, call)
        except SandboxError as exc:
            return fail(exc.status, *exc.errors)
        except Exception:  # a sandbox bug must answer like the API does, not hang the client
            return internal_error()

    def _refuse(self, route: Route, call: Call) -> Reply | None:
        """Authentication, zone (or account) visibility, then permission; sets call.zone."""
        if route.auth == "token" and (call.token is None or call.token.status != "active"):
            return fail(401, (ERR_AUTH, "Authentication error"))
        zone_param = next((p for p in ("zone_id", "zone_identifier") if p in call.params), None)
        if zone_param is not None:  # the document spells the zone parameter both ways
            zone = self.state.zone(call.params[zone_param])
            if zone is None or not zone_visible(call.token, zone):
                raise zone_not_found(call.params[zone_param])
            call.zone = zone
        if "account_id" in call.params and not account_visible(self.state, call.token, call.params["account_id"]):
            return fail(403, (ERR_AUTH, "Authentication error"))
        required = route.required_key(call.params)
        if required is not None and required not in call.keys:
            return fail(403, (ERR_AUTH, "Authentication error"))
        return None

    def _token(self, header: str | None) -> TokenSpec | None:
        if not header:
            return None
        scheme, _, value = header.partition(" ")
        if scheme.lower() != "bearer":
            return None
        return self._tokens.get(value.strip())

    def _control(self, method: str, path: str) -> Reply:
        if path.rstrip("/") == CONTROL_PREFIX + "/requests":
            if method == "GET":
                return Reply(200, [asdict(r) for r in self.requests])
            if method == "DELETE":
                self.clear_log()
                return Reply(200, {"cleared": True})
        return Reply(404, {"error": f"no sandbox control endpoint {method} {path}"})


def _api_path(raw: str) -> str:
    """The path relative to /client/v4 (unprefixed paths are kept, to be answered 'no route')."""
    path = raw.removeprefix(API_PREFIX) if raw.startswith(API_PREFIX + "/") else raw
    return path.rstrip("/") or "/"


def _read_body(handler: _RequestHandler) -> bytes:
    length = int(handler.headers.get("Content-Length") or 0)
    return handler.rfile.read(length) if length > 0 else b""


def _parse_json(raw: bytes) -> tuple[Any, bool]:
    """The parsed body and whether it was malformed (then the raw text is kept for the log)."""
    if not raw.strip():
        return None, False
    try:
        return json.loads(raw), False
    except ValueError:
        return raw.decode("utf-8", "replace"), True
