"""Fault injection and the server-side rate limit: what answers a request instead of its route.

Faults (`FaultSpec`): a fault applies to a request when its `method` (if set) equals the
request's and its `path` regular expression (if set) matches the path relative to /client/v4
(`re.search`), and its `count` is not used up. The faults that apply are tried in the order
given, each drawing one number from a `random.Random(scenario.sandbox.seed)`; the first whose
draw is below its `rate` fires. `set_faults` replaces the faults, re-arms the counts and
reseeds, so one seed and one request order always give the same faults. "429" answers with
Retry-After, "500" with the internal error, "403" as if the token had lost the permission
(revoked mid-run), "reset" closes the connection with an RST and answers nothing, "html" a 200
HTML page (a captive portal or a proxy's error page), "body" a 200 whose JSON is the fault's
`body`; none of them runs the operation. Three alter the real answer instead (the operation
runs): "trickle" sends it at `bytes_per_second`, "odd" puts and drops values at JSON Pointers
in it (`ttl: "auto"`, a record without `id`, `result: null`, `success: false`), "endless" makes
a list invent a next page forever (fresh ids, `total_pages` one more than the page, and a
`total_count` to match), "truncated" sends the first half of the answer's bytes (JSON cut off
by a proxy), "bad_byte" sends the answer's bytes with an invalid UTF-8 byte (0xff) in its first
string (whole, but undecodable), and "500_after" and "reset_after" run the operation (a write lands) and then
answer 500 or close the connection: the case a client cannot tell from a write that failed.
`latency_ms` (settable at run time) is slept before every API request, faulted or not.

Rate limit (`rate_limit_requests` per `rate_limit_window` seconds, when the scenario sets it):
a sliding window per known token, in which only admitted requests occupy a slot; requests with
no known token are not counted. A request over the limit answers 429 971 with Retry-After, the
whole seconds (at least 1) until the oldest slot frees. Both are decided by the server before
routing, faults first (`SandboxApi` keeps the armed faults and the draw); they live here, apart
from the server, because neither needs anything of HTTP.
"""

from __future__ import annotations

import copy
import io
import math
import re
import threading
import time
from collections import deque
from dataclasses import dataclass, replace
from typing import Any

from cfremedy.sandbox.envelope import Reply, internal_error
from cfremedy.sandbox.scenario import FaultSpec

# The kinds that alter the real answer: the operation runs (a write lands) first.
ANSWER_FAULTS = frozenset({"trickle", "odd", "endless", "truncated", "bad_byte", "500_after", "reset_after"})
HTML_PAGE = "<!DOCTYPE html><html><head><title>Sign in to the network</title></head><body>Wi-Fi</body></html>"


@dataclass
class ArmedFault:
    """A scenario's fault, its path pattern compiled, and how many times it has fired."""

    spec: FaultSpec
    pattern: re.Pattern[str] | None
    injected: int = 0

    def applies(self, method: str, path: str) -> bool:
        if self.spec.count is not None and self.injected >= self.spec.count:
            return False
        if self.spec.method is not None and self.spec.method.upper() != method:
            return False
        return self.pattern is None or self.pattern.search(path) is not None


class RateLimiter:
    """A sliding window per token: only admitted requests occupy a slot."""

    def __init__(self, limit: int, window: float) -> None:
        self.limit = limit
        self.window = window
        self._seen: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def admit(self, key: str, now: float) -> float | None:
        """None if admitted, else the seconds until a slot frees."""
        with self._lock:
            seen = self._seen.setdefault(key, deque())
            while seen and seen[0] <= now - self.window:
                seen.popleft()
            if len(seen) >= self.limit:
                return max(1.0, float(math.ceil(seen[0] + self.window - now)))
            seen.append(now)
            return None


def html_page() -> Reply:
    return Reply(200, HTML_PAGE, content_type="text/html")


def trickle(stream: io.BufferedIOBase, payload: bytes, bytes_per_second: float) -> None:
    """Write `payload` a few bytes every tenth of a second; a client that gives up ends it."""
    chunk = max(1, int(bytes_per_second / 10))
    for start in range(0, len(payload), chunk):
        stream.write(payload[start : start + chunk])
        stream.flush()
        time.sleep(chunk / bytes_per_second)


def alter_answer(fault: FaultSpec, reply: Reply, query: dict[str, str]) -> Reply:
    if fault.kind == "odd":
        body = copy.deepcopy(reply.body)
        for pointer, value in fault.put.items():
            _put(body, pointer, value)
        for pointer in fault.drop:
            _drop(body, pointer)
        return replace(reply, body=body)
    if fault.kind == "truncated":
        whole = reply.payload()
        return replace(reply, raw=whole[: len(whole) // 2])
    if fault.kind == "bad_byte":
        whole = reply.payload()
        at = whole.find(b'"') + 1  # inside the first string: no JSON syntax error, only the byte
        return replace(reply, raw=whole[:at] + b"\xff" + whole[at:])
    if fault.kind == "500_after":
        return internal_error()
    if fault.kind == "endless" and isinstance(reply.body, dict) and isinstance(reply.body.get("result"), list):
        page = int(query.get("page") or 1)
        body = copy.deepcopy(reply.body)
        for n, item in enumerate(body["result"]):
            if isinstance(item, dict):
                item["id"] = f"{page:016x}{n:016x}"
        info = body.setdefault("result_info", {})
        per_page = info.get("per_page") if isinstance(info.get("per_page"), int) else len(body["result"])
        info.update(page=page, total_pages=page + 1, total_count=(page + 1) * per_page)
        return replace(reply, body=body)
    return reply


def _tokens(pointer: str) -> list[str]:
    return [t.replace("~1", "/").replace("~0", "~") for t in pointer.split("/")[1:]]


def _step(node: Any, token: str) -> Any:
    return node[int(token)] if isinstance(node, list) else node[token]


def _put(body: Any, pointer: str, value: Any) -> None:
    *parents, last = _tokens(pointer)  # the scenario checked every pointer starts with "/"
    node = body
    for token in parents:
        node = _step(node, token)
    if isinstance(node, list):
        node[int(last)] = value
    else:
        node[last] = value


def _drop(body: Any, pointer: str) -> None:
    *parents, last = _tokens(pointer)
    node = body
    for token in parents:
        node = _step(node, token)
    if isinstance(node, list):
        del node[int(last)]
    else:
        node.pop(last, None)
