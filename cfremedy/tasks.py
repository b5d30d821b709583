"""Running reads side by side without leaving any behind.

`asyncio.gather` lets the other reads run on when one fails: a zone whose settings answer 404
kept paging its DNS records, and its rule reads kept going after the run had closed its API
client ("the client has been closed", retried, in a finished run). `together` cancels and
waits for the others before the first failure propagates, so a failed step leaves nothing
running.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Iterable
from typing import Any, TypeVar, overload

A = TypeVar("A")
B = TypeVar("B")
C = TypeVar("C")


@overload
async def together(a: Awaitable[A], b: Awaitable[B], /) -> tuple[A, B]: ...
@overload
async def together(a: Awaitable[A], b: Awaitable[B], c: Awaitable[C], /) -> tuple[A, B, C]: ...
async def together(*reads: Awaitable[Any]) -> tuple[Any, ...]:
    """Every result, in order; on the first failure, the others are cancelled first."""
    return tuple(await all_of(reads))


async def all_of(reads: Iterable[Awaitable[A]]) -> list[A]:
    tasks = [asyncio.ensure_future(read) for read in reads]
    try:
        return list(await asyncio.gather(*tasks))
    except BaseException:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        raise
