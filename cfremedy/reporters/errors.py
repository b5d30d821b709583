"""`cfremedy errors`: a zone's 5xx over a window, by code, with when they happened and what checks them."""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from collections.abc import Sequence
from typing import Any

from cfremedy.analytics import ObservedErrors, sparkline
from cfremedy.article import ARTICLE_URL, SECTIONS
from cfremedy.models import PlaybookMeta, iso_z
from cfremedy.reporters.grid import Column, grid, paragraph
from cfremedy.reporters.table import DEFAULT_WIDTH

COLUMNS = (
    Column("CODE", keep=True),
    Column("COUNT", keep=True, justify="right"),
    Column("ORIGIN ANSWERED", free=True),
    Column("OVER TIME (oldest to newest)", keep=True, whole=True),
    Column("CHECKED BY"),
    Column("ARTICLE SECTION"),
)


def _origin_breakdown(observed: ObservedErrors, status: int) -> Counter[int]:
    counts: Counter[int] = Counter()
    for bucket in observed.buckets:
        if bucket.edge_status == status:
            counts[bucket.origin_status] += bucket.count
    return counts


def errors_dict(zone: str, observed: ObservedErrors, playbooks: Sequence[PlaybookMeta]) -> dict[str, Any]:
    codes = []
    for status, count in sorted(observed.by_edge_status.items(), key=lambda item: -item[1]):
        section = SECTIONS.get(status)
        codes.append(
            {
                "status": status,
                "count": count,
                "origin_status": {str(k): v for k, v in sorted(_origin_breakdown(observed, status).items())},
                "playbooks": [p.id for p in playbooks if status in p.error_codes],
                "article": section.url if section else None,
            }
        )
    hourly: dict[str, dict[str, int]] = defaultdict(dict)
    for bucket in observed.buckets:
        hour = iso_z(bucket.hour)
        hourly[hour][str(bucket.edge_status)] = hourly[hour].get(str(bucket.edge_status), 0) + bucket.count
    return {
        "zone": zone,
        "since": iso_z(observed.since),
        "until": iso_z(observed.until),
        "total": sum(observed.by_edge_status.values()),
        "codes": codes,
        "hourly": dict(hourly),
    }


def render_errors(
    zone: str,
    observed: ObservedErrors,
    playbooks: Sequence[PlaybookMeta],
    fmt: str,
    width: int = DEFAULT_WIDTH,
    *,
    color: bool = False,
) -> str:
    data = errors_dict(zone, observed, playbooks)
    if fmt == "json":
        return json.dumps(data, indent=2, ensure_ascii=False) + "\n"
    head = paragraph(
        f"5xx responses on {zone} in the last {observed.window}"
        f" ({data['since'][:16]}Z to {data['until'][:16]}Z): {data['total']}",
        width,
    )
    if not data["codes"]:
        return head + paragraph("None: Cloudflare counted no 5xx in this window.", width)
    rows = []
    for code in data["codes"]:
        origin = ", ".join(f"{'none' if k == '0' else k}: {v}" for k, v in code["origin_status"].items())
        section = code["article"].removeprefix(ARTICLE_URL) if code["article"] else "-"
        rows.append(
            [
                code["status"],
                code["count"],
                origin,
                f"|{sparkline(observed, code['status'])}|",
                ", ".join(code["playbooks"]) or "-",
                section,
            ]
        )
    # The sections are anchors in the article. Its address is longer than a narrow terminal: it
    # goes on a line of its own then, whole, so it can still be clicked or copied.
    return head + grid(COLUMNS, rows, width, color=color) + paragraph(f"Article: {ARTICLE_URL}", width)
