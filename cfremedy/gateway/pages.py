"""One paginator for every list the API pages: zones, DNS records, Pages projects, tunnels...

The termination rules live here and nowhere else. The SDK's auto-pagination stops only on an
empty page, so a server that keeps answering the same full page would loop forever; and a
server that keeps inventing pages (fresh ids, `total_pages` always one more) would too. We
stop at `total_pages`, once `total_count` items are in, on an empty page, on a page identical
to one already seen, and refuse, with a clear error, a list that runs past the pages its own
`total_count` allows or whose `total_pages` grows on every page.

Once page 1 has told us `total_pages`, the remaining pages may be fetched concurrently
(`concurrency`): a 100,000-record zone is 20 pages, and waiting for each in turn is the
slowest part of reading it. The rate limiter still paces every request.
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from typing import Any

from cfremedy.errors import ApiError

log = logging.getLogger("cfremedy.gateway")

MAX_PAGES = 10_000  # a last resort against a server that pages forever without a total_count
# A list can grow while it is read (a record added), but not by a page on every page we read:
# an end that moves this many pages in a row is a server inventing pages.
MAX_MOVES = 5


@dataclass(frozen=True)
class Page:
    items: list[dict[str, Any]]
    total_pages: int | None
    total_count: int | None
    per_page: int | None


def envelope(body: Any, what: str) -> Any:
    """The `result` of a v4 API answer, or the clear error an unusable answer deserves.

    A 200 can still say `success: false`, or not be the API's envelope at all (an HTML page from
    a proxy in between): those are the API's failures (exit 3), never a crash.
    """
    if not isinstance(body, dict):
        raise ApiError(f"unexpected answer to {what}: not a Cloudflare API response ({type(body).__name__})")
    if body.get("success") is False:
        listed = body.get("errors")
        errors = [e for e in listed if isinstance(e, dict)] if isinstance(listed, list) else []
        detail = "; ".join(f"code {e.get('code')}: {e.get('message')}" for e in errors)
        raise ApiError(f"the API answered {what} with success: false ({detail or 'no error given'})")
    if "result" not in body:
        raise ApiError(f"unexpected answer to {what}: no `result`")
    return body["result"]


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else None


def read_page(body: Any, what: str) -> Page:
    result = envelope(body, what)
    if not isinstance(result, list):
        raise ApiError(f"unexpected answer to {what}: `result` is {type(result).__name__}, not a list")
    items = [item for item in result if isinstance(item, dict)]
    if len(items) != len(result):
        raise ApiError(f"unexpected answer to {what}: a listed item is not an object")
    info = body.get("result_info") if isinstance(body.get("result_info"), dict) else {}
    return Page(items, _int(info.get("total_pages")), _int(info.get("total_count")), _int(info.get("per_page")))


async def paginate(
    fetch: Callable[[int], Awaitable[Any]],
    *,
    what: str,
    key: Callable[[dict[str, Any]], str],
    per_page: int,
    concurrency: int = 1,
    limit: int | None = None,
    keep: Callable[[dict[str, Any]], Any] | None = None,
) -> list[Any]:
    """Every item of a paged list, each once (by `key`), in the order the API gave them.

    `fetch(n)` returns page n's body. An item seen twice (a record added while we paged shifts
    the pages by one) is kept once. Pages are fetched ahead, at most `concurrency` at a time,
    only when page 1's `total_pages` and `total_count` agree with each other: totals that do
    not are a server to be careful with, read one page at a time. `keep` turns each new item
    into what is collected (a model) as its page arrives, so a 100,000-record zone never holds
    all its raw JSON at once.
    """
    collected: dict[str, Any] = {}
    seen_pages: set[tuple[str, ...]] = set()
    ahead: dict[int, asyncio.Future[Any]] = {}
    last_ahead = 1  # pages up to this one may be fetched ahead
    end = _End(what)
    try:
        for number in _numbers():
            body = await (ahead.pop(number) if number in ahead else fetch(number))
            page = read_page(body, what)
            ids = tuple(_key(key, item, what) for item in page.items)
            if not ids:
                break
            if ids in seen_pages:
                log.warning("the API repeated page %d of %s; stopping", number, what)
                break
            seen_pages.add(ids)
            for ident, item in zip(ids, page.items, strict=True):
                if ident not in collected:
                    collected[ident] = keep(item) if keep is not None else item
            if limit is not None and len(collected) >= limit:
                break
            size = page.per_page or per_page
            allowed = math.ceil(page.total_count / size) if page.total_count is not None else None
            if allowed is not None and number > max(allowed, 1):
                raise ApiError(
                    f"the API kept paging {what} past the {page.total_count} item(s)"
                    f" it announced (page {number} of at most {allowed}); stopping"
                )
            end.check(page.total_pages)
            if page.total_pages is not None and number >= page.total_pages:
                break
            if page.total_count is not None and len(collected) >= page.total_count:
                break
            if page.total_pages is None and len(page.items) < size:
                break  # without totals, a short page is the last one
            if number == 1 and concurrency > 1 and page.total_pages is not None and page.total_pages == allowed:
                last_ahead = min(page.total_pages, MAX_PAGES)
            for upcoming in range(number + 1, min(number + concurrency, last_ahead) + 1):
                if upcoming not in ahead:
                    ahead[upcoming] = asyncio.ensure_future(fetch(upcoming))
        else:
            raise ApiError(f"the API kept paging {what} for {MAX_PAGES} pages; stopping")
    finally:
        for future in ahead.values():
            future.cancel()
        if ahead:
            await asyncio.gather(*ahead.values(), return_exceptions=True)
    return list(collected.values())


class _End:
    """Where the list says it ends, page after page: refuse an end that always moves on."""

    def __init__(self, what: str) -> None:
        self.what = what
        self.last: int | None = None
        self.moves = 0

    def check(self, total_pages: int | None) -> None:
        if total_pages is None:
            return
        moved = self.last is not None and total_pages > self.last
        self.moves = self.moves + 1 if moved else 0
        self.last = total_pages
        if self.moves >= MAX_MOVES:
            raise ApiError(
                f"the API moved the end of {self.what} further on {self.moves} pages in a row"
                f" (now {total_pages} pages): it keeps inventing pages; stopping"
            )


def _numbers() -> Iterator[int]:
    yield from range(1, MAX_PAGES + 1)


def _key(key: Callable[[dict[str, Any]], str], item: dict[str, Any], what: str) -> str:
    try:
        ident = key(item)
    except (KeyError, TypeError, ValueError):
        ident = ""
    if not ident:
        raise ApiError(f"unexpected answer to {what}: a listed item has no id")
    return ident
