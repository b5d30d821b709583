"""Fault injection and the server-side rate limit: what answers a request instead of its route.

Faults (`FaultSpec`): a fault applies to a request when its `method` (if set) equals the
request's and its `path` regular expression (if set) matches the path relative to /client/v4
(`re.search`), and its `count` is not used up. The faults that apply are tried in the order
given, each drawing one number from a `random.Random(scenario.sandbox.seed)`; the first whose
draw is below its `rate` fires. `set_faults` replaces the faults, re-arms the counts and
reseeds, so one seed and one request order always give the same faults. "429" answers with
Retry-After, "500" with the internal error, "403" as if the token had lost the permission
(revoked mid-run), "reset" closes the connection with an RST and answers nothing; none of them
runs the operation. `latency_ms` (settable at run time) is slept before every API request,
faulted or not.

Rate limit (`rate_limit_requests` per `rate_limit_window` seconds, when the scenario sets it):
a sliding window per known token, in which only admitted requests occupy a slot; requests with
no known token are not counted. A request over the limit answers 429 971 with Retry-After, the
whole seconds (at least 1) until the oldest slot frees. Both are decided by the server before
routing, faults first (`SandboxApi` keeps the armed faults and the draw); they live here, apart
from the server, because neither needs anything of HTTP.
"""

from __future__ import annotations

import math
import re
import threading
from collections import deque
from dataclasses import dataclass

from cfremedy.sandbox.scenario import FaultSpec


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
