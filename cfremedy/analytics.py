"""5xx counts from Cloudflare's GraphQL Analytics API, as frozen values playbooks can read.

One query covers up to 10 zones (the API's limit for `zoneTag_in`), hour by hour, split by the
status the edge returned and the status the origin returned: an edge 5xx with an origin 5xx
was the origin's, one with no origin status (0) was Cloudflare's own. That split is the
Analytics API's, not the article's: the article tells a Cloudflare 500/502/503/504 from the
origin's by the word "cloudflare" in the error page's body. GraphQL has its own budget
(300 queries per 5 minutes): an account audit asks for ten zones at a time, and the gateway
paces GraphQL queries separately from REST requests (250 per 5 minutes).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from types import MappingProxyType
from typing import Any

ZONES_PER_QUERY = 10

ERRORS_QUERY = """
query Cfremedy5xx($zoneTags: [string!], $since: Time!, $until: Time!) {
  viewer {
    zones(filter: {zoneTag_in: $zoneTags}) {
      zoneTag
      httpRequestsAdaptiveGroups(
        limit: 10000
        filter: {datetime_geq: $since, datetime_lt: $until, edgeResponseStatus_geq: 500, edgeResponseStatus_lt: 600}
        orderBy: [datetimeHour_ASC]
      ) {
        count
        dimensions {
          edgeResponseStatus
          originResponseStatus
          datetimeHour
        }
      }
    }
  }
}
"""


@dataclass(frozen=True)
class ErrorBucket:
    hour: datetime  # start of the hour, UTC
    edge_status: int  # what the visitor got
    origin_status: int  # what the origin answered (0: no answer, e.g. 522)
    count: int


@dataclass(frozen=True)
class ObservedErrors:
    """A zone's 5xx responses over a window: `by_edge_status` is what playbooks look at."""

    since: datetime
    until: datetime
    buckets: tuple[ErrorBucket, ...] = ()
    by_edge_status: Mapping[int, int] = field(default_factory=lambda: MappingProxyType({}))

    @classmethod
    def of(cls, since: datetime, until: datetime, buckets: Sequence[ErrorBucket]) -> ObservedErrors:
        totals = Counter[int]()
        for bucket in buckets:
            totals[bucket.edge_status] += bucket.count
        return cls(
            since,
            until,
            tuple(sorted(buckets, key=lambda b: (b.hour, b.edge_status))),
            MappingProxyType(dict(sorted(totals.items()))),
        )

    def count(self, status: int) -> int:
        return int(self.by_edge_status.get(status, 0))

    @property
    def window(self) -> str:
        hours = round((self.until - self.since).total_seconds() / 3600)
        return f"{hours // 24} d" if hours % 24 == 0 and hours >= 48 else f"{hours} h"


def parse_since(text: str) -> timedelta:
    """`24h`, `90m`, `7d`: how far back to look."""
    match = re.fullmatch(r"\s*(\d+)\s*([mhd])\s*", text)
    if not match or int(match.group(1)) == 0:
        raise ValueError(f"{text!r} is not a duration like 30m, 24h or 7d")
    value, unit = int(match.group(1)), match.group(2)
    return timedelta(minutes=value) if unit == "m" else timedelta(hours=value) if unit == "h" else timedelta(days=value)


def window_ending(now: datetime, since: timedelta) -> tuple[datetime, datetime]:
    until = now.astimezone(UTC).replace(second=0, microsecond=0)
    return until - since, until


def parse_response(data: Mapping[str, Any]) -> dict[str, list[ErrorBucket]]:
    """Zone tag -> buckets, from the `data` part of the GraphQL answer."""
    zones = ((data.get("viewer") or {}).get("zones")) or []
    result: dict[str, list[ErrorBucket]] = {}
    for zone in zones:
        buckets = []
        for group in zone.get("httpRequestsAdaptiveGroups") or []:
            dims = group.get("dimensions") or {}
            buckets.append(
                ErrorBucket(
                    hour=datetime.fromisoformat(str(dims["datetimeHour"]).replace("Z", "+00:00")),
                    edge_status=int(dims.get("edgeResponseStatus") or 0),
                    origin_status=int(dims.get("originResponseStatus") or 0),
                    count=int(group.get("count") or 0),
                )
            )
        result[str(zone.get("zoneTag"))] = buckets
    return result


_BARS = "▁▂▃▄▅▆▇█"


def sparkline(observed: ObservedErrors, status: int, slots: int = 24) -> str:
    """One character per time slot across the window, height by count: when it happened."""
    span = (observed.until - observed.since) / slots
    counts = [0] * slots
    for bucket in observed.buckets:
        if bucket.edge_status == status and observed.since <= bucket.hour < observed.until:
            counts[min(slots - 1, int((bucket.hour - observed.since) / span))] += bucket.count
    top = max(counts) or 1
    return "".join(" " if c == 0 else _BARS[min(len(_BARS) - 1, (c * len(_BARS) - 1) // top)] for c in counts)
