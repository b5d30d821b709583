"""Keeping under Cloudflare's API budget: 1,200 requests per 5 minutes per token (docs/architecture.md).

Crossing the budget costs a 429 and a lockout of minutes, so an account audit paces itself
instead of discovering the limit: every request first takes a slot in a sliding window shared
by all concurrent tasks. When a 429 arrives anyway (another tool spending the same token), its
`Retry-After` pauses every task, not just the one that was refused.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

# Under the 1,200 / 300 s budget, leaving room for other tools sharing the token.
DEFAULT_REQUESTS = 1000
DEFAULT_WINDOW = 300.0


@dataclass(frozen=True)
class Rate:
    requests: int
    window: float

    @classmethod
    def parse(cls, text: str) -> Rate:
        """`N/SECONDS`, e.g. `1200/300`."""
        try:
            count, _, seconds = text.partition("/")
            rate = cls(int(count), float(seconds))
        except ValueError:
            raise ValueError(f"{text!r} is not N/SECONDS (e.g. 1000/300)") from None
        if rate.requests < 1 or rate.window <= 0:
            raise ValueError(f"{text!r}: need at least 1 request per a positive number of seconds")
        return rate

    def __str__(self) -> str:
        return f"{self.requests}/{self.window:g}"


DEFAULT_RATE = Rate(DEFAULT_REQUESTS, DEFAULT_WINDOW)


class RateLimiter:
    """At most `rate.requests` requests per sliding `rate.window`, counted the server's way.

    The server counts a request when it arrives; we cannot know that moment, but it is never
    later than when the response comes back. So a slot is held from the moment a request is
    let through until its response returns (`release`), and then for a whole window more.
    Whatever the network delays, the server's window can then never hold more requests than
    ours does.
    """

    POLL = 0.05  # seconds between checks when every slot is held by a request in flight

    def __init__(
        self,
        rate: Rate = DEFAULT_RATE,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.rate = rate
        self._clock = clock
        self._sleep = sleep
        self._in_flight = 0
        self._finished: deque[float] = deque()  # when responses came back, oldest first
        self._paused_until = 0.0
        self._lock = asyncio.Lock()  # waiters queue up in order instead of racing
        self.waited = 0.0  # seconds spent waiting, for the run's summary

    async def acquire(self) -> None:
        """Wait until one more request fits, then count it as in flight."""
        async with self._lock:
            while True:
                now = self._clock()
                wait = self._paused_until - now
                if wait <= 0:
                    while self._finished and self._finished[0] <= now - self.rate.window:
                        self._finished.popleft()
                    if self._in_flight + len(self._finished) < self.rate.requests:
                        self._in_flight += 1
                        return
                    wait = (self._finished[0] + self.rate.window - now) if self._finished else self.POLL
                self.waited += wait
                await self._sleep(wait)

    def release(self) -> None:
        """The response to a request let through by `acquire` has come back (or failed)."""
        self._in_flight -= 1
        self._finished.append(self._clock())

    def pause(self, seconds: float) -> None:
        """Hold every request for `seconds` from now (the API said Retry-After)."""
        self._paused_until = max(self._paused_until, self._clock() + seconds)
