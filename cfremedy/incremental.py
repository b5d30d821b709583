"""Incremental account audits: which zones must be read again, which may come from the store.

A nightly `audit account --incremental` reads each account's audit log since the snapshots it
stored last time, and re-reads only the zones the log says changed (or that it cannot tell
about); every other zone's settings, DNS records, rules and load balancers come from the
stored snapshot. What the API does not log is never taken from the store: the zone itself
(status, plan) comes from the zone list read every run, pool health and tunnel state are
read fresh per account, and origins are always probed.

The rule is to re-read whenever in doubt, so that findings are those of a full audit:
- a zone with no stored snapshot, or one older than `max_age`, or one stored without a source
  this run reads (rules not read then, say), or whose plan or status changed;
- a zone an entry of its account's log names (by zone name, zone id, or as the resource)
  at or after its snapshot was read, less `MARGIN` for clocks that disagree;
- every zone of an account whose log cannot be read, does not reach back to the oldest
  snapshot, or holds an entry that names no zone and is not one of the account-level kinds
  below (an unknown kind might be a zone's).

Pure functions: the gateway reads the log, the CLI reads and writes the store.
"""

from __future__ import annotations

import functools
import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, fields, is_dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from pydantic import TypeAdapter, ValidationError

from cfremedy.models import AuditEntry, Zone, ZoneSnapshot, frozen_mapping, normalise_name

MARGIN = timedelta(minutes=15)
DEFAULT_MAX_AGE = timedelta(days=7)
# The snapshot sources that belong to one zone (what a stored snapshot holds besides its
# settings and records); pools and tunnels are the account's and are read every run.
ZONE_SOURCES = ("ssl_rules", "origin_rules", "cache_rules", "load_balancers")
# Audit-log resource types (lower case) of account-wide things: pools and monitors and
# tunnels are read afresh every run; the others do not shape any zone's traffic.
ACCOUNT_LEVEL = frozenset(
    {
        "account",
        "member",
        "membership",
        "api_token",
        "token",
        "user",
        "pool",
        "monitor",
        "load_balancer_pool",
        "load_balancer_monitor",
        "tunnel",
        "cfd_tunnel",
        "billing",
        "subscription",
        "notification",
        "alert",
    }
)


@dataclass(frozen=True)
class StoredZone:
    """A zone's snapshot as the store keeps it: read at `read_at` (UTC), with these sources."""

    zone_id: str
    account_id: str
    name: str
    read_at: datetime
    sources: frozenset[str]
    data: str  # `encode(snapshot)`, decoded only when the zone is taken from the store


@dataclass(frozen=True)
class Incremental:
    """`audit account --incremental`: the snapshots stored by earlier runs, and how old one may be."""

    stored: Mapping[str, StoredZone]
    max_age: timedelta = DEFAULT_MAX_AGE


@dataclass(frozen=True)
class AccountLog:
    """What an account's audit log said since `since`; `entries` is None when it said
    nothing usable, and `problem` says why (then every zone of the account is re-read)."""

    account_id: str
    since: datetime
    entries: tuple[AuditEntry, ...] | None
    problem: str = ""


@dataclass(frozen=True)
class Decision:
    """Zones to take from the store, and why each other zone is read again."""

    reuse: Mapping[str, StoredZone]
    reread: Mapping[str, str]  # zone id -> reason

    def summary(self) -> str:
        reasons: dict[str, int] = {}
        for reason in self.reread.values():
            reasons[reason] = reasons.get(reason, 0) + 1
        why = ", ".join(f"{n} {reason}" for reason, n in sorted(reasons.items(), key=lambda kv: -kv[1]))
        return f"{len(self.reuse)} zone(s) from stored snapshots, {len(self.reread)} read again" + (
            f" ({why})" if why else ""
        )


# -- the snapshot codec ----------------------------------------------------------------------------

_SNAPSHOT = TypeAdapter(ZoneSnapshot)
_ZONE = TypeAdapter(Zone)


class Unreadable(ValueError):
    """A stored snapshot this version cannot use (damaged, or written by one whose models
    differ): the zone is read again."""


@functools.cache
def codec() -> str:
    """A fingerprint of the snapshot's shape: a store written by a cfremedy whose models
    differ is not read as if they were the same."""
    schema = json.dumps(_SNAPSHOT.json_schema(), sort_keys=True)
    return hashlib.sha256(schema.encode()).hexdigest()[:16]


def encode(snapshot: ZoneSnapshot) -> str:
    """The zone's own part of a snapshot as JSON: the account's pools and tunnels are left out."""
    own = replace(snapshot, pools=None, tunnels=None)
    body = _SNAPSHOT.dump_json(own, fallback=dict, warnings=False).decode()
    return f'{{"codec": "{codec()}", "snapshot": {body}}}'


def _unwrap(text: str) -> dict[str, Any]:
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise Unreadable(f"damaged ({exc})") from None
    if not isinstance(data, dict) or data.get("codec") != codec() or not isinstance(data.get("snapshot"), dict):
        raise Unreadable("written by a cfremedy whose snapshots differ")
    snapshot: dict[str, Any] = data["snapshot"]
    return snapshot


def decode(text: str, zone: Zone) -> ZoneSnapshot:
    """A stored snapshot, frozen again, for the zone as the API lists it now."""
    try:
        snapshot = _freeze(_SNAPSHOT.validate_python(_unwrap(text)))
    except ValidationError as exc:
        raise Unreadable(f"damaged ({exc.error_count()} problem(s))") from None
    assert isinstance(snapshot, ZoneSnapshot)
    return replace(snapshot, zone=zone)


def stored_zone(snapshot: ZoneSnapshot, read_at: datetime, sources: Iterable[str]) -> StoredZone:
    zone = snapshot.zone
    return StoredZone(zone.id, zone.account_id, zone.name, read_at, frozenset(sources), encode(snapshot))


def _freeze(value: Any) -> Any:
    """A dataclass field's dict back into a read-only mapping, as a fresh read makes it (JSON
    gave plain dicts); what the mapping holds stays as the API gave it, as a fresh read keeps it."""
    if is_dataclass(value) and not isinstance(value, type):
        changed = {f.name: _freeze_field(getattr(value, f.name)) for f in fields(value)}
        return replace(value, **changed)
    return value


def _freeze_field(value: Any) -> Any:
    if isinstance(value, dict):
        return frozen_mapping(value)
    if isinstance(value, tuple):
        return tuple(_freeze(v) for v in value)
    return _freeze(value)


def stored_zone_of(data: str) -> Zone:
    """The zone a stored snapshot was read for (its plan and status then)."""
    try:
        return _ZONE.validate_python(_unwrap(data).get("zone"))
    except ValidationError:
        raise Unreadable("damaged (no zone)") from None


# -- deciding --------------------------------------------------------------------------------------


def _when(entry: AuditEntry) -> datetime | None:
    try:
        moment = datetime.fromisoformat(entry.when.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else None


def changes_by_zone(
    entries: Sequence[AuditEntry], zones: Sequence[Zone]
) -> tuple[dict[str, datetime | None], list[AuditEntry]]:
    """The latest change time per zone id the entries name (None: a time that could not be
    read, which counts as "just now"), and the entries that name no zone but might be one's."""
    by_name = {normalise_name(z.name): z.id for z in zones}
    ids = {z.id for z in zones}
    latest: dict[str, datetime | None] = {}
    unattributed: list[AuditEntry] = []
    for entry in entries:
        if not entry.succeeded:
            continue  # a failed action changed nothing
        zone_id = (
            by_name.get(entry.zone_name)
            or (entry.zone_id if entry.zone_id in ids else None)
            or (entry.resource_id if entry.resource_id in ids else None)
        )
        if zone_id is None:
            if entry.zone_name or entry.zone_id:
                continue  # a zone this run does not audit (another account's, or not selected)
            if entry.resource_type.lower() not in ACCOUNT_LEVEL:
                unattributed.append(entry)
            continue
        moment = _when(entry)
        latest[zone_id] = _later(latest[zone_id], moment) if zone_id in latest else moment
    return latest, unattributed


def _later(a: datetime | None, b: datetime | None) -> datetime | None:
    """The later of two change times; None (unreadable) is later than any."""
    return None if a is None or b is None else max(a, b)


def log_since(candidates: Iterable[StoredZone]) -> datetime | None:
    """Where an account's log must be read from: its oldest usable snapshot, less the margin."""
    oldest = min((s.read_at for s in candidates), default=None)
    return None if oldest is None else oldest - MARGIN


def decide(
    zones: Sequence[Zone],
    stored: Mapping[str, StoredZone],
    logs: Mapping[str, AccountLog],
    *,
    needed: frozenset[str],
    max_age: timedelta,
    now: datetime,
) -> Decision:
    """For every zone of this run: reuse its stored snapshot, or read it again and why."""
    reuse: dict[str, StoredZone] = {}
    reread: dict[str, str] = {}
    changes: dict[str, tuple[dict[str, datetime | None], list[AuditEntry]]] = {}
    for account_id, account_log in logs.items():
        if account_log.entries is not None:
            changes[account_id] = changes_by_zone(account_log.entries, [z for z in zones if z.account_id == account_id])
    for zone in zones:
        kept = stored.get(zone.id)
        reason = _unusable(zone, kept, needed, max_age, now)
        if reason is None and kept is not None:
            log = logs.get(zone.account_id)
            if log is None or log.entries is None:
                reason = "audit log unreadable" if log is not None else "audit log not read"
            else:
                latest, unattributed = changes[zone.account_id]
                if unattributed:
                    reason = "unattributed changes in the audit log"
                elif zone.id in latest:
                    moment = latest[zone.id]
                    if moment is None or moment >= kept.read_at - MARGIN:
                        reason = "changed"
        if reason is None and kept is not None:
            reuse[zone.id] = kept
        else:
            reread[zone.id] = reason or "not stored"
    return Decision(frozen_mapping(reuse), frozen_mapping(reread))


def _unusable(
    zone: Zone, kept: StoredZone | None, needed: frozenset[str], max_age: timedelta, now: datetime
) -> str | None:
    if kept is None:
        return "not stored"
    if now - kept.read_at > max_age:
        return "older than --max-age"
    if not needed <= kept.sources:
        return "stored without a source this run reads"
    if zone.type == "secondary":
        return "secondary zone (its records come by zone transfer, which the audit log does not record)"
    try:
        then = stored_zone_of(kept.data)
    except Unreadable:
        return "stored snapshot unreadable"
    if (then.plan, then.status, then.name, then.account_id, then.type) != (
        zone.plan,
        zone.status,
        zone.name,
        zone.account_id,
        zone.type,
    ):
        return "plan or status changed"
    return None
