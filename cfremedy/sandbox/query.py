"""Query-string parsing shared by the routes: positive integers, pages, booleans, enums.

A value a route cannot use answers 400 with code 1001 and a message naming the parameter; an
out-of-range `per_page` is not refused but clamped, as the real API does, and the value used
is reported in `result_info`, which also carries `total_pages`. Query parameters a route does
not read are ignored. Kept apart from the handlers so that every resource pages and validates
its query the same way (the parameters each route reads are listed in its module).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from cfremedy.sandbox.errors import ERR_BAD_REQUEST, SandboxError


def positive_int(query: Mapping[str, str], name: str, default: int) -> int:
    raw = query.get(name)
    if raw is None or raw == "":
        return default
    try:
        number = float(raw)
    except ValueError:
        number = math.nan
    if not number.is_integer() or number < 1:
        raise SandboxError(400, (ERR_BAD_REQUEST, f"Invalid value for {name}: {raw!r} (a positive integer)"))
    return int(number)


def pagination(query: Mapping[str, str], default: int, low: int, high: int) -> tuple[int, int]:
    """Out-of-range per_page values are clamped, as the real API does, and reported back."""
    page = positive_int(query, "page", 1)
    per_page = min(max(positive_int(query, "per_page", default), low), high)
    return page, per_page


def page_of(items: Sequence[Any], page: int, per_page: int) -> tuple[Sequence[Any], dict[str, int]]:
    chunk = items[(page - 1) * per_page : page * per_page]
    info = {
        "page": page,
        "per_page": per_page,
        "count": len(chunk),
        "total_count": len(items),
        "total_pages": math.ceil(len(items) / per_page),
    }
    return chunk, info


def bool_param(query: Mapping[str, str], name: str) -> bool | None:
    raw = query.get(name)
    if raw is None:
        return None
    if raw.lower() in ("true", "1"):
        return True
    if raw.lower() in ("false", "0"):
        return False
    raise SandboxError(400, (ERR_BAD_REQUEST, f"Invalid value for {name}: {raw!r} (true or false)"))


def choice(query: Mapping[str, str], name: str, allowed: Sequence[str]) -> str | None:
    raw = query.get(name)
    if raw is None:
        return None
    if raw not in allowed:
        message = f"Invalid value for {name}: {raw!r} (one of {', '.join(allowed)})"
        raise SandboxError(400, (ERR_BAD_REQUEST, message))
    return raw
