"""An account's audit log: `GET /accounts/{account_id}/audit_logs`.

Entries come newest first (`direction=desc`, the default) or oldest first (`asc`), filtered by
`since` and `before` (RFC 3339, or a date such as 2019-04-30, which means its midnight UTC:
`since` inclusive, `before` exclusive), `zone.name`, `action.type` and `id`, in pages of 1-1000
(default 100). `hide_user_logs` and `export` are ignored; so are `actor.ip` and `actor.email`.
A time that is neither answers 400 1001 naming the parameter. What writes the entries is the
state's (`cfremedy.sandbox.state`).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from cfremedy.sandbox.envelope import Reply, ok
from cfremedy.sandbox.errors import ERR_BAD_REQUEST, SandboxError
from cfremedy.sandbox.query import choice, page_of, pagination
from cfremedy.sandbox.routing import Call, Server

AUDIT_LOGS_DEFAULT_PER_PAGE = 100
AUDIT_LOGS_MIN_PER_PAGE = 1
AUDIT_LOGS_MAX_PER_PAGE = 1000


def _moment(query: dict[str, str], name: str) -> datetime | None:
    raw = query.get(name)
    if raw is None or raw == "":
        return None
    try:
        moment = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        raise SandboxError(400, (ERR_BAD_REQUEST, f"Invalid value for {name}: {raw!r} (RFC 3339 or a date)")) from None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _when(entry: dict[str, Any]) -> datetime:
    return datetime.fromisoformat(str(entry["when"]).replace("Z", "+00:00"))


def list_audit_logs(api: Server, call: Call) -> Reply:
    page, per_page = pagination(
        call.query, AUDIT_LOGS_DEFAULT_PER_PAGE, AUDIT_LOGS_MIN_PER_PAGE, AUDIT_LOGS_MAX_PER_PAGE
    )
    since, before = _moment(call.query, "since"), _moment(call.query, "before")
    direction = choice(call.query, "direction", ("asc", "desc")) or "desc"
    zone_name = (call.query.get("zone.name") or "").lower().rstrip(".")
    action = call.query.get("action.type")
    wanted_id = call.query.get("id")
    entries = [
        e
        for e in api.state.audit_entries(call.params["account_id"])
        if (since is None or _when(e) >= since)
        and (before is None or _when(e) < before)
        and (not zone_name or e["metadata"].get("zone_name") == zone_name)
        and (action is None or e["action"]["type"] == action)
        and (wanted_id is None or e["id"] == wanted_id)
    ]
    if direction == "desc":
        entries.reverse()
    chunk, info = page_of(entries, page, per_page)
    info.pop("total_pages")  # the audit log's result_info has no total_pages
    return ok(list(chunk), info)
