"""The DNS record rules, and the record operations that apply them to a zone's record table.

What a record's name, type, content, proxied flag, TTL, comment, tags and MX priority may be;
which records may not coexist (identical records, a CNAME beside anything at its name); and the
operations the API performs on records (create, patch, put, delete, a batch's items), each on
a copy of the zone's table that `SandboxState` hands in. The state takes the lock and swaps the
table in only when every step succeeded; the rules know nothing of locking, and live here so
that `state.py` reads as the state and its locking. Errors are `SandboxError`s with the DNS
codes below, as the live API answers them (see the table in `api.py`'s docstring).
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping
from typing import Any

from cfremedy.sandbox.errors import SandboxError
from cfremedy.sandbox.scenario import stable_id
from cfremedy.sandbox.zone import DnsRecord, ZoneState

ERR_DNS_VALIDATION = 1004
ERR_DNS_NAME = 9000
ERR_DNS_NOT_PROXIABLE = 9004
ERR_DNS_IP_CONTENT = 9005
ERR_DNS_CONTENT = 9007
ERR_DNS_RECORD_MISSING = 81044
ERR_DNS_CNAME_CONFLICT = 81053
ERR_DNS_DUPLICATE = 81057

PROXIABLE_TYPES = frozenset({"A", "AAAA", "CNAME"})
SUPPORTED_TYPES = frozenset({"A", "AAAA", "CNAME", "TXT", "MX", "NS", "PTR"})
_HOSTNAME_TYPES = frozenset({"CNAME", "MX", "NS", "PTR"})
_LABEL = re.compile(r"^(?:\*|[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?)$")

# Batch operations run in this order, as the real API documents.
BATCH_KINDS = ("deletes", "patches", "puts", "posts")


def fqdn(zone_name: str, raw: Any) -> str:
    """The fully qualified, lower-case name a record name stands for in this zone."""
    if not isinstance(raw, str) or not raw.strip():
        raise SandboxError(400, (ERR_DNS_NAME, "DNS name is invalid."))
    name = raw.strip().lower()
    if name == "@":
        return zone_name
    absolute = name.endswith(".")
    name = name.rstrip(".")
    if name != zone_name and not name.endswith("." + zone_name):
        if absolute or "." in name or not name:
            raise SandboxError(400, (ERR_DNS_NAME, f"DNS name is invalid: {raw} is not in zone {zone_name}."))
        name = f"{name}.{zone_name}"
    if len(name) > 253 or not all(_LABEL.match(label) for label in name.split(".")):
        raise SandboxError(400, (ERR_DNS_NAME, f"DNS name is invalid: {raw}."))
    return name


def matches(record: DnsRecord, filters: Mapping[str, Any]) -> bool:
    """Whether a record passes a list's filters; content compares case-insensitively."""
    name = filters.get("name")
    if name is not None and record.name != name:
        return False
    rtype = filters.get("type")
    if rtype is not None and record.type != rtype:
        return False
    content = filters.get("content")
    if content is not None and record.content.lower() != content.lower():
        return False
    proxied = filters.get("proxied")
    return proxied is None or record.proxied == proxied


def existing(table: Mapping[str, DnsRecord], record_id: Any) -> DnsRecord:
    """The record with that id, or 404 81044 (also for an id that is not a string)."""
    record = table.get(record_id) if isinstance(record_id, str) else None
    if record is None:
        raise SandboxError(404, (ERR_DNS_RECORD_MISSING, "Record does not exist."))
    return record


def _dns_error(detail: str) -> SandboxError:
    return SandboxError(400, (ERR_DNS_VALIDATION, f"DNS Validation Error: {detail}"))


_WRITABLE_FIELDS = ("type", "name", "content", "proxied", "ttl", "comment", "tags", "priority")


def _fields(body: Any) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise _dns_error("the request body must be a JSON object")
    return {k: body[k] for k in _WRITABLE_FIELDS if k in body}


def _build_record(
    zone: ZoneState, table: Mapping[str, DnsRecord], values: Mapping[str, Any],
    record_id: str, created_on: str, now: str,
) -> DnsRecord:  # fmt: skip
    """Validate a complete set of record fields against the zone and the other records."""
    for required in ("type", "name", "content"):
        if values.get(required) is None:
            raise _dns_error(f"{required} is required")
    rtype = values["type"]
    if not isinstance(rtype, str) or rtype.upper() not in SUPPORTED_TYPES:
        raise _dns_error(f"unsupported record type {rtype!r}")
    rtype = rtype.upper()
    name = fqdn(zone.name, values["name"])
    content = _content(rtype, values["content"], name)
    proxied = values.get("proxied")
    proxied = False if proxied is None else proxied
    if not isinstance(proxied, bool):
        raise _dns_error("proxied must be a boolean")
    if proxied and rtype not in PROXIABLE_TYPES:
        raise SandboxError(400, (ERR_DNS_NOT_PROXIABLE, "This record type cannot be proxied."))
    ttl = _ttl(zone, values.get("ttl", 1))
    comment = values.get("comment")
    if comment is not None and not isinstance(comment, str):
        raise _dns_error("comment must be a string")
    tags = values.get("tags") or ()
    if not isinstance(tags, list | tuple) or not all(isinstance(t, str) for t in tags):
        raise _dns_error("tags must be a list of strings")
    record = DnsRecord(
        id=record_id, type=rtype, name=name, content=content, proxied=proxied,
        ttl=1 if proxied else ttl, created_on=created_on, modified_on=now, comment=comment,
        tags=tuple(tags), priority=_priority(rtype, values.get("priority")),
    )  # fmt: skip
    _check_conflicts(table, record)
    return record


def _content(rtype: str, raw: Any, name: str) -> str:
    if not isinstance(raw, str):
        raise SandboxError(400, (ERR_DNS_CONTENT, f"Content for {rtype} record is invalid."))
    if rtype == "A":
        try:
            return str(ipaddress.IPv4Address(raw))
        except ValueError:
            msg = "Content for A record must be a valid IPv4 address."
            raise SandboxError(400, (ERR_DNS_IP_CONTENT, msg)) from None
    if rtype == "AAAA":
        try:
            return str(ipaddress.IPv6Address(raw))
        except ValueError:
            msg = "Content for AAAA record must be a valid IPv6 address."
            raise SandboxError(400, (ERR_DNS_IP_CONTENT, msg)) from None
    if rtype in _HOSTNAME_TYPES:
        host = raw.strip().lower().rstrip(".")
        if not host or not all(_LABEL.match(label) for label in host.split(".")) or host == name:
            raise SandboxError(400, (ERR_DNS_CONTENT, f"Content for {rtype} record is invalid."))
        return host
    if len(raw) > 2048:
        raise SandboxError(400, (ERR_DNS_CONTENT, f"Content for {rtype} record is too long."))
    return raw


def _ttl(zone: ZoneState, raw: Any) -> int:
    low = 30 if zone.plan == "enterprise" else 60
    if isinstance(raw, bool) or not isinstance(raw, int | float) or raw != int(raw):
        raise _dns_error("ttl must be an integer")
    ttl = int(raw)
    if ttl != 1 and not low <= ttl <= 86400:
        raise _dns_error(f"ttl must be 1 (automatic) or between {low} and 86400")
    return ttl


def _priority(rtype: str, raw: Any) -> int | None:
    if rtype != "MX":
        return None
    if isinstance(raw, bool) or not isinstance(raw, int) or not 0 <= raw <= 65535:
        raise _dns_error("priority is required for MX records (0-65535)")
    return raw


def _check_conflicts(table: Mapping[str, DnsRecord], record: DnsRecord) -> None:
    for other in table.values():
        if other.id == record.id or other.name != record.name:
            continue
        if other.type == record.type and other.content == record.content:
            raise SandboxError(400, (ERR_DNS_DUPLICATE, "An identical record already exists."))
        if "CNAME" in (other.type, record.type):
            msg = "An A, AAAA, or CNAME record with that host already exists."
            raise SandboxError(400, (ERR_DNS_CNAME_CONFLICT, msg))


def _new_record_id(zone: ZoneState, table: Mapping[str, DnsRecord]) -> str:
    """Deterministic ids for created records, so a replayed test sees the same ids."""
    while True:
        zone.created_count += 1
        record_id = stable_id(zone.id, "created", str(zone.created_count))
        if record_id not in table:
            return record_id


def post(zone: ZoneState, table: dict[str, DnsRecord], body: Any, now: str) -> DnsRecord:
    """Create a record (POST .../dns_records, or a batch's `posts` item)."""
    record = _build_record(zone, table, _fields(body), _new_record_id(zone, table), now, now)
    table[record.id] = record
    return record


def patch(zone: ZoneState, table: dict[str, DnsRecord], record_id: Any, body: Any, now: str) -> DnsRecord:
    """Change the fields the body gives; the result is validated as a whole record."""
    old = existing(table, record_id)
    values = {k: getattr(old, k) for k in _WRITABLE_FIELDS}
    values.update(_fields(body))
    record = _build_record(zone, table, values, old.id, old.created_on, now)
    table[old.id] = record
    return record


def put(zone: ZoneState, table: dict[str, DnsRecord], record_id: Any, body: Any, now: str) -> DnsRecord:
    """Replace every field of a record; its id and creation time are kept."""
    old = existing(table, record_id)
    record = _build_record(zone, table, _fields(body), old.id, old.created_on, now)
    table[old.id] = record
    return record


def delete(table: dict[str, DnsRecord], record_id: Any) -> DnsRecord:
    """Remove a record; the removed record is returned for the reply."""
    record = existing(table, record_id)
    del table[record.id]
    return record


def batch_ops(body: Any) -> list[tuple[str, int, Any]]:
    """A batch body's items as (kind, index, item), in the order they run."""
    if not isinstance(body, dict):
        raise _dns_error("the batch body must be a JSON object")
    ops: list[tuple[str, int, Any]] = []
    for kind in BATCH_KINDS:
        items = body.get(kind) or []
        if not isinstance(items, list):
            raise _dns_error(f"{kind} must be a list")
        ops.extend((kind, index, item) for index, item in enumerate(items))
    return ops


def run_batch_item(zone: ZoneState, table: dict[str, DnsRecord], kind: str, item: Any, now: str) -> DnsRecord:
    """One batch item (`SandboxState.batch` prefixes its errors with its place)."""
    if not isinstance(item, dict):
        raise _dns_error("each batch item must be a JSON object")
    if kind == "posts":
        return post(zone, table, item, now)
    if "id" not in item:
        raise _dns_error("id is required")
    if kind == "deletes":
        return delete(table, item["id"])
    if kind == "patches":
        return patch(zone, table, item["id"], item, now)
    return put(zone, table, item["id"], item, now)
