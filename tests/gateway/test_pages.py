"""The one paginator, driven by plain async `fetch` functions: when it stops, what it refuses.

Every list cfremedy reads (zones, DNS records, Pages projects) goes through `paginate`, so its
termination rules are what stand between a misbehaving API and an audit that never ends or
silently misses records; its concurrency is what makes a 100,000-record zone fast, and must
neither reorder items nor leave a failed prefetch behind.
"""

from __future__ import annotations

import asyncio
import gc
import logging
from collections.abc import Callable
from typing import Any

import pytest

from cfremedy.errors import EXIT_API, ApiError
from cfremedy.gateway.pages import MAX_PAGES, Page, envelope, paginate, read_page

WHAT = "the test list"


def body(
    ids: list[str],
    *,
    page: int = 0,
    total_pages: int | None = None,
    total_count: int | None = None,
    per_page: int | None = None,
) -> dict[str, Any]:
    """A v4 API list answer; each item remembers the page it came from."""
    info: dict[str, Any] = {"page": page, "count": len(ids)}
    for name, value in (("total_pages", total_pages), ("total_count", total_count), ("per_page", per_page)):
        if value is not None:
            info[name] = value
    return {
        "success": True,
        "errors": [],
        "messages": [],
        "result": [{"id": ident, "page": page} for ident in ids],
        "result_info": info,
    }


def fresh(page: int, size: int) -> list[str]:
    """Ids size*(page-1)+1 ... size*page: full pages that never repeat."""
    return [f"r{n}" for n in range(size * (page - 1) + 1, size * page + 1)]


class FakeApi:
    """Serves `pages(n)` (a body, or an exception to raise) after `delay(n)` seconds, and records
    which pages were asked for, how many were in flight at once, and which were cancelled."""

    def __init__(self, pages: Callable[[int], Any], delay: Callable[[int], float] = lambda n: 0.0) -> None:
        self.pages = pages
        self.delay = delay
        self.calls: list[int] = []
        self.in_flight = 0
        self.max_in_flight = 0
        self.cancelled: list[int] = []
        self.tasks: dict[int, asyncio.Task[Any]] = {}

    async def __call__(self, number: int) -> Any:
        self.calls.append(number)
        task = asyncio.current_task()
        if number > 1 and task is not None:
            self.tasks[number] = task
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            await asyncio.sleep(self.delay(number))
            answer = self.pages(number)
            if isinstance(answer, BaseException):
                raise answer
            return answer
        except asyncio.CancelledError:
            self.cancelled.append(number)
            raise
        finally:
            self.in_flight -= 1


def collect(api: FakeApi, *, per_page: int = 2, concurrency: int = 1, limit: int | None = None) -> list[dict[str, Any]]:
    return asyncio.run(
        paginate(
            api, what=WHAT, key=lambda item: str(item["id"]), per_page=per_page, concurrency=concurrency, limit=limit
        )
    )


def ids(items: list[dict[str, Any]]) -> list[str]:
    return [item["id"] for item in items]


# -- when the listing stops -------------------------------------------------------------------------


def test_the_listing_stops_at_total_pages() -> None:
    api = FakeApi(lambda n: body(fresh(n, 2), page=n, total_pages=3))  # would serve page 4 too
    assert ids(collect(api)) == fresh(1, 2) + fresh(2, 2) + fresh(3, 2)
    assert api.calls == [1, 2, 3]


def test_the_listing_stops_once_total_count_items_are_in() -> None:
    api = FakeApi(lambda n: body(fresh(n, 2), page=n, total_count=4))
    assert ids(collect(api)) == ["r1", "r2", "r3", "r4"]
    assert api.calls == [1, 2]


def test_the_listing_stops_on_an_empty_page() -> None:
    api = FakeApi(lambda n: body(fresh(n, 2) if n < 3 else [], page=n))
    assert ids(collect(api)) == ["r1", "r2", "r3", "r4"]
    assert api.calls == [1, 2, 3]


def test_a_repeated_page_stops_the_listing_with_a_warning(caplog: pytest.LogCaptureFixture) -> None:
    api = FakeApi(lambda n: body(["a", "b"], page=n))  # the same full page, forever
    with caplog.at_level(logging.WARNING, logger="cfremedy.gateway"):
        items = collect(api)
    assert ids(items) == ["a", "b"]
    assert api.calls == [1, 2]
    warnings = [r for r in caplog.records if r.name == "cfremedy.gateway" and r.levelno == logging.WARNING]
    assert [r.getMessage() for r in warnings] == [f"the API repeated page 2 of {WHAT}; stopping"]


def test_a_page_identical_to_an_earlier_one_stops_the_listing(caplog: pytest.LogCaptureFixture) -> None:
    pages = {1: ["a", "b"], 2: ["c", "d"], 3: ["a", "b"], 4: ["e", "f"]}
    api = FakeApi(lambda n: body(pages[n], page=n))
    with caplog.at_level(logging.WARNING, logger="cfremedy.gateway"):
        assert ids(collect(api)) == ["a", "b", "c", "d"]
    assert api.calls == [1, 2, 3]
    assert "repeated page 3" in caplog.text


def test_a_server_inventing_pages_past_its_total_count_is_refused() -> None:
    # One fresh id per page, `total_pages` always one more: only total_count says when to stop.
    api = FakeApi(lambda n: body([f"new{n}"], page=n, total_pages=n + 1, total_count=4, per_page=2))
    with pytest.raises(
        ApiError,
        match=r"kept paging the test list past the 4 item\(s\) it announced"
        r" \(page 3 of at most 2\)",
    ) as caught:
        collect(api)
    assert api.calls == [1, 2, 3]
    assert caught.value.exit_code == EXIT_API


def test_a_server_paging_forever_without_totals_is_stopped_at_the_last_resort() -> None:
    api = FakeApi(lambda n: body([f"r{n}"], page=n))
    with pytest.raises(ApiError, match=f"kept paging the test list for {MAX_PAGES} pages"):
        collect(api, per_page=1)
    assert len(api.calls) == MAX_PAGES


def test_without_totals_a_short_page_is_the_last() -> None:
    api = FakeApi(lambda n: body(["a", "b", "c"] if n == 1 else ["d"] if n == 2 else fresh(n, 3), page=n))
    assert ids(collect(api, per_page=3)) == ["a", "b", "c", "d"]
    assert api.calls == [1, 2]


def test_with_total_pages_a_short_page_is_not_the_last() -> None:
    api = FakeApi(lambda n: body(["d"] if n == 2 else fresh(n, 3), page=n, total_pages=3))
    assert ids(collect(api, per_page=3)) == ["r1", "r2", "r3", "d", "r7", "r8", "r9"]
    assert api.calls == [1, 2, 3]


def test_the_per_page_the_api_reports_decides_what_a_short_page_is() -> None:
    # Asked for 5 a page, the API capped it at 2 and said so: pages of 2 are full pages.
    api = FakeApi(lambda n: body(fresh(n, 2) if n < 3 else ["last"], page=n, per_page=2))
    assert ids(collect(api, per_page=5)) == ["r1", "r2", "r3", "r4", "last"]
    assert api.calls == [1, 2, 3]


def test_an_item_listed_twice_across_pages_is_kept_once_as_first_seen() -> None:
    # A record added while we paged shifts the pages by one: b comes again on page 2.
    pages = {1: ["a", "b"], 2: ["b", "c"], 3: ["d"]}
    items = collect(FakeApi(lambda n: body(pages[n], page=n)))
    assert ids(items) == ["a", "b", "c", "d"]
    assert [item["page"] for item in items] == [1, 1, 2, 3]


def test_a_limit_stops_fetching_once_enough_items_are_in() -> None:
    api = FakeApi(lambda n: body(fresh(n, 2), page=n, total_pages=50, total_count=100))
    items = collect(api, limit=3)
    assert api.calls == [1, 2]
    assert ids(items)[:3] == ["r1", "r2", "r3"]  # the caller trims to the limit
    one_page = FakeApi(lambda n: body(fresh(n, 2), page=n, total_pages=50, total_count=100))
    assert ids(collect(one_page, limit=2)) == ["r1", "r2"]
    assert one_page.calls == [1]


# -- concurrency ------------------------------------------------------------------------------------


def test_with_consistent_totals_pages_are_fetched_concurrently_and_returned_in_page_order() -> None:
    # 10 pages of 2; later pages answer sooner, so they complete out of order.
    api = FakeApi(
        lambda n: body(fresh(n, 2), page=n, total_pages=10, total_count=20, per_page=2),
        delay=lambda n: (11 - n) * 0.003,
    )
    items = collect(api, concurrency=4)
    assert ids(items) == [f"r{n}" for n in range(1, 21)]
    assert [item["page"] for item in items] == [n for n in range(1, 11) for _ in range(2)]
    assert sorted(api.calls) == list(range(1, 11))  # each page once, none past total_pages
    assert len(api.calls) == 10
    assert api.max_in_flight == 4


def test_a_listing_that_fits_in_the_concurrency_fetches_exactly_its_pages() -> None:
    api = FakeApi(lambda n: body(fresh(n, 2), page=n, total_pages=3, total_count=6), delay=lambda n: 0.002)
    assert ids(collect(api, concurrency=8)) == fresh(1, 2) + fresh(2, 2) + fresh(3, 2)
    assert sorted(api.calls) == [1, 2, 3]
    assert api.max_in_flight == 2


@pytest.mark.parametrize(
    ("total_pages", "total_count", "calls"),
    [
        (5, 7, [1, 2, 3, 4]),  # 7 items of 2 a page are 4 pages, not 5: the count ends it
        (3, 20, [1, 2, 3]),  # 20 items would be 10 pages
        (4, None, [1, 2, 3, 4]),  # pages without a count
    ],
)
def test_with_inconsistent_totals_pages_are_fetched_one_at_a_time(
    total_pages: int, total_count: int | None, calls: list[int]
) -> None:
    api = FakeApi(
        lambda n: body(fresh(n, 2), page=n, total_pages=total_pages, total_count=total_count), delay=lambda n: 0.002
    )
    items = collect(api, concurrency=4)
    assert api.calls == calls
    assert api.max_in_flight == 1
    assert ids(items) == [ident for n in calls for ident in fresh(n, 2)]


def test_a_failing_page_leaves_no_prefetched_fetch_behind(caplog: pytest.LogCaptureFixture) -> None:
    def pages(n: int) -> Any:
        if n == 2:
            return ApiError("page 2 failed")
        if n == 3:
            return ApiError("page 3 failed too")  # fails first, while nobody awaits it yet
        return body(fresh(n, 2), page=n, total_pages=5, total_count=10)

    api = FakeApi(pages, delay=lambda n: {1: 0.0, 2: 0.02, 3: 0.0}.get(n, 5.0))

    async def run() -> list[asyncio.Task[Any]]:
        with pytest.raises(ApiError, match="page 2 failed"):
            await paginate(api, what=WHAT, key=lambda item: str(item["id"]), per_page=2, concurrency=4)
        return [task for task in api.tasks.values() if not task.done()]

    with caplog.at_level(logging.ERROR, logger="asyncio"):
        still_running = asyncio.run(run())
        gc.collect()  # a task whose exception nobody retrieved would complain when collected
    assert still_running == []
    assert sorted(api.tasks) == [2, 3, 4, 5]
    assert sorted(api.cancelled) == [4, 5]  # the slow ones were stopped, not abandoned
    assert "never retrieved" not in caplog.text


def test_a_listing_that_stops_early_cancels_the_pages_fetched_ahead() -> None:
    api = FakeApi(
        lambda n: body(fresh(n, 2) if n != 2 else [], page=n, total_pages=6, total_count=12),
        delay=lambda n: 0.01 if n == 2 else 5.0 if n > 2 else 0.0,
    )

    async def run() -> tuple[list[dict[str, Any]], list[asyncio.Task[Any]]]:
        items = await paginate(api, what=WHAT, key=lambda item: str(item["id"]), per_page=2, concurrency=3)
        return items, [task for task in api.tasks.values() if not task.done()]

    items, still_running = asyncio.run(run())
    assert ids(items) == ["r1", "r2"]
    assert still_running == []
    assert sorted(api.calls) == [1, 2, 3, 4]  # pages 2-4 were asked for at once
    assert sorted(api.cancelled) == [3, 4]


# -- unusable answers -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("answer", "message"),
    [
        ({"success": True, "result": {"id": "a"}}, "unexpected answer to the test list: `result` is dict, not a list"),
        ({"success": True, "result": None}, "`result` is NoneType, not a list"),
        (
            {"success": False, "errors": [{"code": 10000, "message": "Authentication error"}], "result": None},
            "the API answered the test list with success: false (code 10000: Authentication error)",
        ),
        ({"success": False, "errors": [], "result": []}, "with success: false (no error given)"),
        (
            "<html><body>502 Bad Gateway</body></html>",
            "unexpected answer to the test list: not a Cloudflare API response (str)",
        ),
        (None, "not a Cloudflare API response (NoneType)"),
        ([{"id": "a"}], "not a Cloudflare API response (list)"),
        ({"success": True, "errors": []}, "unexpected answer to the test list: no `result`"),
        ({"success": True, "result": [{"id": "x"}, "y"]}, "a listed item is not an object"),
        (
            {"success": True, "result": [{"id": "x"}, {"name": "y"}]},
            "unexpected answer to the test list: a listed item has no id",
        ),
        ({"success": True, "result": [{"id": ""}]}, "a listed item has no id"),
    ],
)
def test_an_unusable_page_is_an_api_error_with_a_clear_message(answer: Any, message: str) -> None:
    # Page 1 is fine: every page is checked, not only the first.
    api = FakeApi(lambda n: body(["a", "b"], page=n) if n == 1 else answer)
    with pytest.raises(ApiError) as caught:
        collect(api)
    assert message in caught.value.message
    assert caught.value.exit_code == EXIT_API
    assert api.calls == [1, 2]


def test_envelope_returns_the_result_of_a_successful_answer() -> None:
    assert envelope({"success": True, "result": {"value": "strict"}}, WHAT) == {"value": "strict"}
    assert envelope({"result": []}, WHAT) == []  # no `success` at all is not a failure
    assert envelope({"success": True, "result": None}, WHAT) is None


def test_read_page_takes_only_sane_totals() -> None:
    assert read_page(body(["a"], total_pages=3, total_count=5, per_page=2), WHAT) == Page(
        [{"id": "a", "page": 0}], 3, 5, 2
    )
    insane = {"success": True, "result": [], "result_info": {"total_pages": True, "total_count": -1, "per_page": "50"}}
    assert read_page(insane, WHAT) == Page([], None, None, None)
    assert read_page({"success": True, "result": [], "result_info": "none"}, WHAT) == Page([], None, None, None)
    assert read_page({"success": True, "result": []}, WHAT) == Page([], None, None, None)


def test_a_failure_whose_errors_field_is_not_a_list_is_still_an_api_error() -> None:
    with pytest.raises(ApiError, match="success: false"):
        envelope({"success": False, "errors": 5, "result": None}, WHAT)
