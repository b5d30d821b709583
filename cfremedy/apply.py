"""Applying a plan to Cloudflare: refuse what is unsafe, never overwrite drift, journal everything.

The protocol for each change (README, "Safety"):
  1. read the live value; if it already equals `after` there is nothing to do, and if it is
     anything but `before` someone changed it since the plan: skip it as drifted;
  2. journal the intent (`sent`) durably;
  3. write;
  4. journal the outcome; a write that failed without saying whether it landed (5xx, a dropped
     connection) is decided by reading the value back, and retried only if it did not land;
  5. read back and compare.
Safety checks run before the first write and send nothing (octoDNS's `raise_if_unsafe`). What a
target may be and whether a change lowers security are decided by `cfremedy.targets`, never by
the plan file. Before anyone is asked to confirm, `refresh` reads every live value (Terraform's
refresh), so drifted changes are shown in the summary being confirmed, not discovered after.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Protocol

from cfremedy import permissions
from cfremedy.errors import (
    ApiError,
    AuthenticationFailed,
    MissingPermission,
    Refused,
    UsageError,
    WriteOutcomeUnknown,
)
from cfremedy.gateway import CloudflareGateway, WritableGateway
from cfremedy.journal import ChangeState, Journal, Run, RunKind
from cfremedy.models import Change, DnsRecord, Finding, Zone, ZoneReport
from cfremedy.plan import MAX_PLAN_CHANGES, Plan, PlannedFinding
from cfremedy.targets import lowers_security, plan_problems

log = logging.getLogger("cfremedy.apply")

DNS_BLAST_RADIUS = 0.30  # share of a zone's records one plan may change without --force
# Below this many records any fix is a large share (1 of 3 is 33 %): the share rule would only
# push people to --force, as octoDNS found (its MIN_EXISTING_RECORDS). --max-changes still holds.
DNS_BLAST_RADIUS_MIN_RECORDS = 10
DNS_FIELDS = frozenset({"type", "name", "content", "proxied", "ttl"})  # what a DNS change may compare
DNS_FIELD_TYPES = {"type": "a string", "name": "a string", "content": "a string", "proxied": "true or false",
                   "ttl": "a whole number"}  # fmt: skip
WRITE_ATTEMPTS = 3  # writes that verifiably did not land are retried this many times in all
READ_BACK_ROUNDS = 3  # each round is a gateway read with its own retries
WRITE_PERMISSION = {"setting": "#zone_settings:edit", "dns": "#dns_records:edit"}

_FATAL = (AuthenticationFailed, MissingPermission)  # every later write would fail the same way


@dataclass(frozen=True)
class ApplyOptions:
    max_changes: int = 10
    allow_downgrade: bool = False
    force: bool = False


def safety_problems(plan: Plan, record_count: int | None, options: ApplyOptions) -> list[str]:
    """Why this plan must not be applied as is; empty when it may. Pure.

    `--force` overrides the two size limits only. A change that lowers security always needs
    its own, explicit `--allow-downgrade` (README, "Safety"): forcing a big plan through must never
    also weaken a zone's TLS as a side effect. Which changes lower security is apply's own
    judgement (`targets.lowers_security`): a plan that says `lowers_security: false` about SSL
    Full -> Off is still a downgrade.
    """
    problems = []
    if not options.force and len(plan.changes) > options.max_changes:
        problems.append(f"{len(plan.changes)} changes exceed --max-changes {options.max_changes} (--force overrides)")
    dns = [c for c in plan.changes if c.kind == "dns"]
    if (
        not options.force
        and dns
        and record_count is not None
        and record_count >= DNS_BLAST_RADIUS_MIN_RECORDS
        and len(dns) > DNS_BLAST_RADIUS * record_count
    ):
        problems.append(
            f"{len(dns)} DNS changes touch {len(dns) / record_count:.0%} of the zone's"
            f" {record_count} records (more than {DNS_BLAST_RADIUS:.0%}; --force overrides)"
        )
    downgrades = [c.target for c in plan.changes if lowers_security(c)]
    if downgrades and not options.allow_downgrade:
        problems.append(f"{', '.join(downgrades)} would lower security (pass --allow-downgrade)")
    return problems


def missing_write_permissions(plan: Plan, zone: Zone) -> list[str]:
    """Permission groups the token lacks for this plan, when the API reports them. Pure."""
    if not zone.permissions:
        return []  # unknown: the writes themselves will tell
    keys = sorted({WRITE_PERMISSION[c.kind] for c in plan.changes if c.kind in WRITE_PERMISSION})
    return [permissions.group_for(k) for k in keys if k not in zone.permissions]


def check_targets(plan: Plan) -> None:
    """Every target must be one apply may send a request for (`targets.plan_problems`: the
    grammar, known settings, record and zone ids), and every DNS change one the drift check can
    really check. Pure; raises before any request."""
    if len(plan.changes) > MAX_PLAN_CHANGES:
        raise UsageError(f"the plan has {len(plan.changes)} changes, more than the {MAX_PLAN_CHANGES} cfremedy applies")
    problems = plan_problems(plan.zone_id, plan.changes)
    if problems:
        raise UsageError(f"not a plan cfremedy can apply: {'; '.join(problems[:5])}")
    for change in plan.changes:
        if change.kind != "dns":
            continue
        before, after = change.before, change.after
        if not (isinstance(before, dict) and isinstance(after, dict) and before and after):
            raise UsageError(
                f"plan change {change.target!r}: a DNS change needs non-empty `before` and `after` field mappings"
            )
        if set(before) != set(after) or not set(before) <= DNS_FIELDS:
            raise UsageError(
                f"plan change {change.target!r}: `before` and `after` must name the"
                f" same fields, among {', '.join(sorted(DNS_FIELDS))}"
            )
        for side, values in (("before", before), ("after", after)):
            for field, value in values.items():
                if not _field_type_ok(field, value):
                    raise UsageError(
                        f"plan change {change.target!r}: `{side}.{field}` is {value!r}, not"
                        f" {DNS_FIELD_TYPES[field]}: the drift check compares values with their type"
                    )


def _field_type_ok(field: str, value: Any) -> bool:
    """`proxied: 1` is not `proxied: true`: a value of the wrong type could pass a loose
    comparison with the live record and slip past the downgrade check."""
    if field == "proxied":
        return isinstance(value, bool)
    if field == "ttl":
        return isinstance(value, int) and not isinstance(value, bool)
    return isinstance(value, str)


@dataclass(frozen=True)
class Prepared:
    plan: Plan
    zone: Zone


async def prepare(gateway: CloudflareGateway, plan: Plan, options: ApplyOptions) -> Prepared:
    """Every check that can refuse the plan, before anything is written.

    The zone id is checked against the live zone: a plan whose id names another zone than its
    `zone` (a retargeted plan, or a zone deleted and re-created under a new id) is refused.
    """
    check_targets(plan)
    zone = await gateway.zone_by_id(plan.zone_id)
    if zone.name != plan.zone:
        raise Refused(
            f"the plan is for zone {plan.zone} but its zone id {plan.zone_id} is {zone.name}",
            hint="make a new plan for the zone with `cfremedy plan zone`",
        )
    missing = missing_write_permissions(plan, zone)
    if missing:
        raise MissingPermission(
            f"the API token lacks {', '.join(repr(m) for m in missing)} on {zone.name}, needed to apply this plan",
            permission=missing[0],
            hint="add the permission to the token (My Profile > API Tokens), or run `cfremedy doctor`",
        )
    needs_count = not options.force and any(c.kind == "dns" for c in plan.changes)
    record_count = await gateway.count_dns_records(zone) if needs_count else None
    problems = safety_problems(plan, record_count, options)
    if problems:
        raise Refused(
            "refusing to apply: " + "; ".join(problems),
            hint="review the plan first; each reason names the flag that accepts it",
        )
    return Prepared(plan=plan, zone=zone)


# -- reading, comparing and writing one change's target -------------------------------------------


class _Target(Protocol):
    """One change's target: how to read its live value and compare it. Reading needs only a
    read-only gateway (history settles in-doubt writes with one); writing is `_write_change`'s."""

    async def read(self) -> Any: ...
    def matches(self, live: Any, expected: Any) -> bool: ...


@dataclass(frozen=True)
class _Setting:
    gateway: CloudflareGateway
    zone: Zone
    change: Change

    async def read(self) -> Any:
        return await self.gateway.get_setting(self.zone, self.change.key)

    def matches(self, live: Any, expected: Any) -> bool:
        return same(live, expected)


@dataclass(frozen=True)
class _Record:
    gateway: CloudflareGateway
    zone: Zone
    change: Change

    async def read(self) -> DnsRecord | None:
        return await self.gateway.get_record(self.zone, self.change.key)

    def matches(self, live: DnsRecord | None, expected: dict[str, Any]) -> bool:
        return live is not None and all(same(getattr(live, k, None), v) for k, v in expected.items())


def same(live: Any, expected: Any) -> bool:
    """Equal as JSON values, types included: `True` is not `1`, `"1.2"` is not `1.2`."""
    return json.dumps(live, sort_keys=True, default=str) == json.dumps(expected, sort_keys=True, default=str)


def _target(gateway: CloudflareGateway, zone: Zone, change: Change) -> _Target:
    return (_Setting if change.kind == "setting" else _Record)(gateway, zone, change)


async def _write_change(gateway: WritableGateway, zone: Zone, change: Change) -> None:
    if change.kind == "setting":
        await gateway.edit_setting(zone, change.key, change.after)
    else:
        await gateway.edit_record(zone, change.key, dict(change.after))


def describe_live(live: Any) -> str:
    if isinstance(live, DnsRecord):
        return f"{live.type} {live.name} {live.content}"
    return "the record no longer exists" if live is None else repr(live)


@dataclass(frozen=True)
class _Decision:
    state: ChangeState | None  # None: still at `before`, so the write did not land
    detail: str = ""


async def _read_back(target: _Target, change: Change) -> _Decision:
    """What the live value says about a write; SENT when it cannot be read (in doubt)."""
    last_error = ""
    for _ in range(READ_BACK_ROUNDS):
        try:
            live = await target.read()
        except _FATAL:
            raise
        except ApiError as exc:
            last_error = exc.message
            continue
        if target.matches(live, change.after):
            return _Decision(ChangeState.APPLIED)
        if target.matches(live, change.before):
            return _Decision(None)
        return _Decision(ChangeState.DRIFTED, f"now {describe_live(live)}: changed by someone else meanwhile")
    return _Decision(
        ChangeState.SENT,
        f"could not read the value back ({last_error}); in doubt until `cfremedy history` re-checks it",
    )


@dataclass(frozen=True)
class Refreshed:
    """One change against the live value read before anyone confirms (the "refresh").

    `status`: "to change" (still at `before`: it will be written), "already done" (at `after`:
    nothing to send), "drifted" (neither: it will be left alone), "unreadable" (the read failed:
    the write protocol reads it again and decides).
    """

    change: Change
    status: str
    detail: str = ""

    @property
    def will_write(self) -> bool:
        return self.status in ("to change", "unreadable")


async def refresh(gateway: CloudflareGateway, zone: Zone, changes: tuple[Change, ...]) -> tuple[Refreshed, ...]:
    """Read every change's live value and say what applying it would do. Sends only reads.

    The write protocol still re-reads each value just before writing it: this is what the
    person confirming sees, not a promise about the moment of the write.
    """

    async def one(change: Change) -> Refreshed:
        target = _target(gateway, zone, change)
        try:
            live = await target.read()
        except _FATAL:
            raise
        except ApiError as exc:
            return Refreshed(change, "unreadable", f"could not read the live value: {exc.message}")
        if target.matches(live, change.after):
            return Refreshed(change, "already done", "already has the planned value")
        if not target.matches(live, change.before):
            return Refreshed(
                change,
                "drifted",
                f"live value is {describe_live(live)}, the plan expected {describe_live(_expected(change))}:"
                " will be left alone",
            )
        return Refreshed(change, "to change")

    return tuple(await asyncio.gather(*(one(c) for c in changes)))


class Executor:
    """Runs the protocol for every change of one prepared plan, journaling each step."""

    def __init__(
        self,
        gateway: WritableGateway,
        journal: Journal,
        prepared: Prepared,
        kind: RunKind = RunKind.APPLY,
        rolls_back: str | None = None,
        only: tuple[str, ...] = (),
        checksum: str | None = None,
        refreshed: tuple[Refreshed, ...] | None = None,
    ) -> None:
        """`only`: the targets `apply --only` selected (the plan is already cut down to them);
        `checksum`: the whole plan's, when only part of it runs; `refreshed`: what the person
        confirmed: a change the refresh showed as drifted or already done is journaled as such
        and never written, even if its live value has gone back to `before` since (nobody
        approved writing it)."""
        self.gateway = gateway
        self.skipped = {r.change.target: r for r in refreshed or () if not r.will_write}
        self.journal = journal
        self.zone = prepared.zone
        self.plan = prepared.plan
        self.run_id = journal.start_run(
            kind,
            self.plan.zone,
            self.plan.zone_id,
            checksum or self.plan.checksum,
            self.plan.changes,
            rolls_back,
            only=only,
        )

    def _mark(self, seqs: int | list[int], state: ChangeState, detail: str = "") -> None:
        self.journal.mark(self.run_id, seqs, state, detail)

    async def run(self) -> Run:
        try:
            indexed = list(enumerate(self.plan.changes))
            for seq, change in indexed:
                if change.kind == "setting":
                    await self._one(seq, change)
            await self._dns([(seq, c) for seq, c in indexed if c.kind == "dns"])
        finally:
            self.journal.finish_run(self.run_id)
        return self.journal.run(self.run_id)

    async def _precheck(self, seq: int, change: Change) -> bool:
        """True when the change should be written now; otherwise its state is journaled."""
        shown = self.skipped.get(change.target)
        if shown is not None:
            state = ChangeState.UNCHANGED if shown.status == "already done" else ChangeState.DRIFTED
            self._mark(seq, state, f"{shown.detail} (as shown before the confirmation)")
            return False
        target = _target(self.gateway, self.zone, change)
        try:
            live = await target.read()
        except _FATAL:
            self._mark(seq, ChangeState.NOT_APPLIED, "not attempted: the token was refused")
            raise
        except ApiError as exc:
            self._mark(seq, ChangeState.NOT_APPLIED, f"could not read the live value: {exc.message}")
            return False
        if target.matches(live, change.after):
            self._mark(seq, ChangeState.UNCHANGED, "already had the planned value")
            return False
        if not target.matches(live, change.before):
            self._mark(
                seq,
                ChangeState.DRIFTED,
                f"live value is {describe_live(live)}, the plan expected"
                f" {describe_live(_expected(change))}: left alone",
            )
            return False
        return True

    async def _one(self, seq: int, change: Change, attempts: int = WRITE_ATTEMPTS) -> None:
        if not await self._precheck(seq, change):
            return
        await self._write(seq, change, attempts)

    async def _send(self, seqs: list[int], what: str, write: Callable[[], Awaitable[object]]) -> bool:
        """Send one journaled write. True: it may have landed, read it back. False: refused."""
        try:
            await write()
        except WriteOutcomeUnknown as exc:
            log.warning("%s: %s", what, exc.message)  # the read-back decides
        except _FATAL:
            self._mark(seqs, ChangeState.NOT_APPLIED, "the token was refused")
            raise
        except ApiError as exc:
            self._mark(seqs, ChangeState.NOT_APPLIED, f"refused by the API: {exc.message}")
            return False
        return True

    async def _write(self, seq: int, change: Change, attempts: int) -> None:
        target = _target(self.gateway, self.zone, change)
        for attempt in range(1, attempts + 1):
            self._mark(seq, ChangeState.SENT, f"write attempt {attempt}")
            if not await self._send([seq], change.target, lambda: _write_change(self.gateway, self.zone, change)):
                return
            decision = await _read_back(target, change)
            if decision.state is not None:
                self._mark(seq, decision.state, decision.detail)
                return
        self._mark(seq, ChangeState.NOT_APPLIED, f"the write did not take effect after {attempts} attempts")

    async def _dns(self, changes: list[tuple[int, Change]]) -> None:
        """Several record edits go out as one atomic batch; stragglers are written one by one."""
        ready = [(seq, c) for seq, c in changes if await self._precheck(seq, c)]
        if len(ready) < 2:
            for seq, change in ready:
                await self._write(seq, change, WRITE_ATTEMPTS)
            return
        seqs = [seq for seq, _ in ready]
        self._mark(seqs, ChangeState.SENT, "batch write")
        batch = [(c.key, dict(c.after)) for _, c in ready]
        if not await self._send(seqs, "DNS batch", lambda: self.gateway.batch_edit_records(self.zone, batch)):
            return
        for seq, change in ready:
            decision = await _read_back(_target(self.gateway, self.zone, change), change)
            if decision.state is None:  # the batch did not land: try this record on its own
                await self._write(seq, change, WRITE_ATTEMPTS - 1)
            else:
                self._mark(seq, decision.state, decision.detail)


def _expected(change: Change) -> Any:
    before = change.before
    if change.kind == "dns" and isinstance(before, dict):
        return DnsRecord(
            id=change.key,
            type=str(before.get("type", "")),
            name=str(before.get("name", "")),
            content=str(before.get("content", "")),
        )
    return before


async def reconcile(gateway: CloudflareGateway, journal: Journal, run: Run) -> Run:
    """Settle a run's in-doubt writes by reading what Cloudflare has now."""
    if not run.in_doubt:
        return run
    zone = await gateway.zone_by_id(run.zone_id)
    for entry in run.in_doubt:
        decision = await _read_back(_target(gateway, zone, entry.change), entry.change)
        if decision.state is None:
            journal.mark(
                run.id, entry.seq, ChangeState.NOT_APPLIED, "re-checked later: the write never reached Cloudflare"
            )
        elif decision.state is ChangeState.APPLIED:
            journal.mark(run.id, entry.seq, ChangeState.APPLIED, "re-checked later: the write reached Cloudflare")
        elif decision.state is ChangeState.DRIFTED:
            journal.mark(run.id, entry.seq, ChangeState.DRIFTED, f"re-checked later: {decision.detail}")
    return journal.run(run.id)


def inverse_plan(run: Run) -> Plan:
    """The changes that undo what a run verifiably applied, newest first."""
    changes = tuple(
        Change(
            playbook=e.change.playbook,
            target=e.change.target,
            before=e.change.after,
            after=e.change.before,
            reason=f"roll back run {run.id}",
        )
        for e in reversed(run.entries)
        if e.state is ChangeState.APPLIED
    )
    return Plan(zone=run.zone, zone_id=run.zone_id, changes=changes, created_at=run.started_at)


def run_succeeded(run: Run) -> bool:
    """Every change is now at its planned value (written, or already there)."""
    return all(e.state in (ChangeState.APPLIED, ChangeState.UNCHANGED) for e in run.entries)


# -- after the writes: what the fresh audit says ----------------------------------------------------


@dataclass(frozen=True)
class Recheck:
    """One finding of the re-audit after an apply, compared with the audit the plan came from.

    `status`: "resolved" (a finding the plan's changes addressed is gone), "still reported",
    "new" (not there when the plan was made: the apply may have caused it), "also reported"
    (from a playbook the plan's audit did not run, so nobody can say whether it is new), or
    "not re-checked" (its playbook needs probes and probing is off).
    """

    status: str
    playbook: str
    resource: str
    error_codes: tuple[int, ...]
    severity: str
    note: str = ""


def recheck(plan: Plan, after: ZoneReport, probing: bool, probe_playbooks: frozenset[str]) -> list[Recheck]:
    """Compare a re-audit of every selected playbook with the plan's own audit. Pure.

    `probe_playbooks`: the ids of the playbooks that need probes (their verdicts are not
    re-checked when `probing` is False).
    """

    def identity_of(finding: Finding) -> str:
        return finding.fingerprint(plan.zone)

    old_style = any(not f.fingerprint for f in plan.findings)  # a plan from an older cfremedy
    now = {identity_of(f): f for f in after.findings}
    now_keys = {(f.playbook, f.resource, f.error_codes) for f in after.findings}

    def still_there(planned: PlannedFinding) -> bool:
        return planned.key in now_keys if old_style else planned.fingerprint in now

    results: list[Recheck] = []
    for planned in plan.findings:
        if not planned.addressed:
            continue
        if not probing and planned.playbook in probe_playbooks:
            status, note = "not re-checked", "probing is disabled"
        else:
            status, note = ("still reported", "") if still_there(planned) else ("resolved", "")
        results.append(Recheck(status, planned.playbook, planned.resource, planned.error_codes, planned.severity, note))
    known = {f.fingerprint for f in plan.findings} | {"|".join(map(str, f.key)) for f in plan.findings}
    for identity, finding in now.items():
        legacy = "|".join(map(str, (finding.playbook, finding.resource, finding.error_codes)))
        if identity in known or legacy in known:
            continue
        ran_before = not plan.playbooks or finding.playbook in plan.playbooks
        status = "new" if ran_before else "also reported"
        note = finding.message if ran_before else "its playbook did not run when the plan was made"
        results.append(
            Recheck(status, finding.playbook, finding.resource, finding.error_codes, finding.severity.value, note)
        )
    return results


def made_worse(rechecks: list[Recheck]) -> list[Recheck]:
    """The findings the apply may have caused."""
    return [r for r in rechecks if r.status == "new"]
