"""`cfremedy apply` and `rollback`: the only commands that write to Cloudflare."""

from __future__ import annotations

import logging
import sys
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Annotated

import typer

from cfremedy.apply import (
    ApplyOptions,
    Executor,
    Recheck,
    inverse_plan,
    made_worse,
    prepare,
    recheck,
    reconcile,
    refresh,
    run_succeeded,
)
from cfremedy.audit import audit
from cfremedy.cli.common import (
    Quiet,
    Verbose,
    command,
    gateway_for,
    load_settings,
    run_async,
    writable_gateway_for,
)
from cfremedy.cli.console import err, out, terminal_width, use_color
from cfremedy.cli.flags import ProbeFlags, audit_options, flags
from cfremedy.errors import EXIT_FINDINGS, EXIT_OK, EXIT_REFUSED, CfremedyError, Refused, UsageError
from cfremedy.gateway import WritableGateway
from cfremedy.journal import Journal, Run, RunKind
from cfremedy.lock import DEFAULT_WAIT, state_lock
from cfremedy.models import Change
from cfremedy.plan import Plan
from cfremedy.reporters.grid import paragraph
from cfremedy.reporters.runs import render_rechecks, render_refresh, render_run, run_summary
from cfremedy.reporters.table import render_changes
from cfremedy.selection import ZoneSelection
from cfremedy.settings import Settings
from cfremedy.targets import lowers_security

log = logging.getLogger("cfremedy.cli")

Yes = Annotated[bool, typer.Option("--yes", "-y", help="Apply without asking (for CI).")]
LockTimeout = Annotated[
    float,
    typer.Option(
        "--lock-timeout",
        metavar="SECONDS",
        min=0,
        help="How long to wait while another apply or rollback holds the state directory before refusing (exit 4).",
    ),
]
APPROVAL = "yes"


def _confirm(question: str, yes: bool) -> None:
    """Like Terraform: only the typed word `yes` approves; anything else, or nothing, cancels."""
    if yes:
        return
    if not sys.stdin.isatty():
        raise UsageError("stdin is not a terminal, so nobody can confirm", hint="review the plan, then pass --yes")
    err(f"\n{question}\n  Only '{APPROVAL}' will be accepted to approve.")
    try:
        answer = typer.prompt("  Enter a value", default="", show_default=False, err=True)
    except typer.Abort:  # end of input, Ctrl-C at the prompt
        answer = ""
    if answer.strip() != APPROVAL:
        raise Refused(f"cancelled at the prompt (only '{APPROVAL}' approves); nothing was changed")


def _assessed(changes: tuple[Change, ...]) -> tuple[Change, ...]:
    """The changes as apply judges them: `lowers_security` from apply's own table."""
    return tuple(replace(c, lowers_security=lowers_security(c)) for c in changes)


def _journal(settings: Settings) -> Journal:
    return Journal.in_state_dir(settings.state_dir)


@dataclass(frozen=True)
class _Outcome:
    run: Run
    stopped_by: CfremedyError | None = None  # e.g. the token refused halfway through


async def _execute(
    gateway: WritableGateway,
    journal: Journal,
    plan: Plan,
    options: ApplyOptions,
    yes: bool,
    kind: RunKind = RunKind.APPLY,
    rolls_back: str | None = None,
    only: tuple[str, ...] = (),
    checksum: str | None = None,
) -> _Outcome:
    prepared = await prepare(gateway, plan, options)
    refreshed = await refresh(gateway, prepared.zone, plan.changes)
    out("\n" + render_refresh(refreshed, terminal_width(), color=use_color()))
    to_write = sum(1 for r in refreshed if r.will_write)
    if to_write:  # never ask about changes that would only be skipped
        verb = "Roll back" if kind is RunKind.ROLLBACK else "Apply"
        _confirm(f"{verb} {to_write} change(s) to {plan.zone}?", yes)
    executor = Executor(gateway, journal, prepared, kind, rolls_back, only=only, checksum=checksum, refreshed=refreshed)
    log.info("run %s: applying %d change(s) to %s", executor.run_id, len(plan.changes), plan.zone)
    try:
        return _Outcome(await executor.run())
    except CfremedyError as exc:  # what was written before the stop must still be shown
        return _Outcome(journal.run(executor.run_id), exc)


def _in_doubt(run: Run) -> str:
    """`2 change(s) of run R in doubt (setting:ssl, dns:...)`: writes sent whose answer never came
    and whose value could not be read back since, so nobody knows whether they landed."""
    targets = ", ".join(e.change.target for e in run.in_doubt)
    return f"{len(run.in_doubt)} change(s) of run {run.id} in doubt ({targets})"


def _report(outcome: _Outcome, rechecks: list[Recheck] | None = None) -> int:
    run = outcome.run
    width = terminal_width()
    out(f"\nResults:\n{render_run(run, width, color=use_color())}\n{paragraph(run_summary(run), width)}")
    if run.in_doubt:
        err(
            f"cfremedy: warning: {_in_doubt(run)}: the write was sent, no answer came and the value"
            " could not be read back, so whether it reached Cloudflare is unknown"
        )
        err(
            "cfremedy: hint: `cfremedy history` re-checks them against Cloudflare and records the"
            f" answer; `cfremedy rollback {run.id}` refuses until it has"
        )
    worse = made_worse(rechecks or [])
    if rechecks is not None:
        out("\n" + render_rechecks(rechecks, terminal_width(), color=use_color()))
    if worse:
        err(
            f"cfremedy: warning: the re-audit found {len(worse)} finding(s) that were not there when"
            f" the plan was made, e.g. {worse[0].playbook} on {worse[0].resource}: the apply may have"
            " made the zone worse (roll back with the command below)"
        )
    if outcome.stopped_by is not None:
        err(f"cfremedy: error: stopped: {outcome.stopped_by.message}")
        if outcome.stopped_by.hint:
            err(f"cfremedy: hint: {outcome.stopped_by.hint}")
        if not any(e.state.reached_cloudflare for e in run.entries):
            return outcome.stopped_by.exit_code
    if any(e.state.reached_cloudflare for e in run.entries):
        out(f"\nUndo with: cfremedy rollback {run.id}\n")
    if outcome.stopped_by is not None or not run_succeeded(run):
        return EXIT_REFUSED
    return EXIT_FINDINGS if worse else EXIT_OK


@command
@flags(probe=ProbeFlags)
def apply_command(
    plan_file: Annotated[Path, typer.Argument(metavar="PLAN.json", help="A plan from `cfremedy plan zone|account`.")],
    probe: ProbeFlags,
    yes: Yes = False,
    only: Annotated[
        list[str] | None,
        typer.Option(
            "--only",
            metavar="TARGET",
            help="Apply only the change to this target, e.g. setting:ssl (repeatable); the journal"
            " records the selection.",
        ),
    ] = None,
    max_changes: Annotated[
        int, typer.Option("--max-changes", metavar="N", min=0, help="Refuse plans with more changes than this.")
    ] = 10,
    allow_downgrade: Annotated[
        bool,
        typer.Option(
            "--allow-downgrade",
            help="Allow changes that lower security (SSL strict -> full/flexible/off, a lower"
            " minimum TLS version, Always Use HTTPS turned off, a proxied record made DNS-only).",
        ),
    ] = False,
    force: Annotated[
        bool,
        typer.Option(
            "--force",
            help="Override --max-changes and the 30 % DNS"
            " limit. Never a downgrade (that takes --allow-downgrade),"
            " never the drift check.",
        ),
    ] = False,
    lock_timeout: LockTimeout = DEFAULT_WAIT,
    verbose: Verbose = 0,
    quiet: Quiet = False,
) -> int:
    """Apply a saved plan: check it, refresh, ask, write each change safely, journal, re-audit.

    Refuses, before any request: a plan this cfremedy cannot read (exit 2: an unknown or older
    schema_version, a target that is not setting:<known id> or dns:<record id>, a zone id that
    is not 32 lowercase hex digits, a control character in any string, more than 1,000 changes
    or 8 MiB); a plan edited, retargeted or damaged after it was made (exit 4: the checksum
    covers the zone, zone id, changes, playbooks and findings; with CFREMEDY_PLAN_KEY set, only
    plans signed with that key). Then refuses (exit 4, nothing
    sent) a zone id that is not the live zone of that name, more than --max-changes changes,
    DNS changes to more than 30 % of the zone's records (zones of 10 records or more), and
    changes that lower security without --allow-downgrade (apply decides that from its own
    table, whatever the plan file says). Checks the token may write what the plan touches
    (exit 3). Only one apply or rollback runs at a time per state directory: another waits
    --lock-timeout seconds, then refuses (exit 4) naming the run in its way.

    Before asking, re-reads every live value and shows the changes that drifted since the plan
    (they will be left alone) or are already done; it asks only about the changes it would
    write, and only the typed word `yes` approves. Per change: re-reads the live value and
    skips it if it is no longer the plan's `before`, journals, writes, reads back. Finally
    re-audits the zone with every playbook (probe options as for audit) and says which findings
    are resolved and which are new since the plan (then it exits 1: the apply may have made the
    zone worse). Applying the same plan again changes nothing. Prints a run id for `rollback`.

    Examples:

      cfremedy apply plan.json

      cfremedy apply plan.json --only setting:ssl

      cfremedy apply plan.json --yes --allow-downgrade
    """
    settings = load_settings()
    whole = Plan.read(plan_file, settings.plan_key_bytes)
    options = audit_options(settings, probe)
    if not whole.changes:
        out(f"The plan for {whole.zone} has no changes: nothing to apply.\n")
        return EXIT_OK
    selected = tuple(dict.fromkeys(only or ()))
    plan = whole.subset(selected) if selected else whole
    count = (
        f"{len(plan.changes)} of {len(whole.changes)} change(s), --only"
        if selected
        else f"{len(plan.changes)} change(s)"
    )
    out(
        render_changes(
            _assessed(plan.changes),
            title=f"Plan for {plan.zone} ({count}, {whole.checksum[:19]}...)",
            width=terminal_width(),
            color=use_color(),
        )
    )

    async def go() -> tuple[_Outcome, list[Recheck] | None]:
        with state_lock(settings.state_dir, lock_timeout):
            async with writable_gateway_for(settings) as gateway:
                with _journal(settings) as journal:
                    outcome = await _execute(
                        gateway,
                        journal,
                        plan,
                        ApplyOptions(max_changes, allow_downgrade, force),
                        yes,
                        only=selected,
                        checksum=whole.checksum,
                    )
        wrote = any(e.state.reached_cloudflare for e in outcome.run.entries)
        if not wrote or outcome.stopped_by is not None:
            return outcome, None
        async with gateway_for(settings) as reader:  # the re-audit only reads, after the lock
            (after,) = (await audit(reader, ZoneSelection(plan.zone), options)).zones
        failure = next((e for e in after.errors if e.stage == "api"), None)
        if failure is not None:
            err(f"cfremedy: warning: could not re-audit after applying: {failure.message}")
            return outcome, None
        probing = options.probe is not None
        needs_probes = frozenset(p.id for p in options.playbooks if p.uses_probes)
        return outcome, recheck(plan, after, probing, needs_probes)

    outcome, rechecks = run_async(go())
    return _report(outcome, rechecks)


@command
def rollback_command(
    run_id: Annotated[
        str,
        typer.Argument(
            metavar="RUN_ID", help="A run id from `cfremedy history` (a unique prefix or suffix is enough)."
        ),
    ],
    yes: Yes = False,
    lock_timeout: LockTimeout = DEFAULT_WAIT,
    verbose: Verbose = 0,
    quiet: Quiet = False,
) -> int:
    """Undo a run: restore the values every change it applied had before.

    Plans the inverse of each change the journal shows as applied (in-doubt changes are first
    re-checked against Cloudflare; if any stays in doubt, because its value cannot be read,
    rollback refuses with exit 4, naming them: see `cfremedy history`), shows it, re-reads the
    live values, asks (only the typed word `yes` approves), and applies it under the same drift
    check: a value changed again since the run is left alone and reported. Restoring an
    earlier value may lower security (undoing SSL full -> strict): the table says so, and
    rollback does it without --allow-downgrade, since the zone had that value before the run.
    The rollback is itself a run in the journal, and holds the state directory's lock like
    apply.
    """
    settings = load_settings()

    async def go() -> _Outcome | None:
        with state_lock(settings.state_dir, lock_timeout):
            async with writable_gateway_for(settings) as gateway:
                with _journal(settings) as journal:
                    run = await reconcile(gateway, journal, journal.run(run_id))
                    if run.in_doubt:  # undoing only what is known to have landed would be a guess
                        raise Refused(
                            f"refusing to roll back: {_in_doubt(run)}: each was sent, and whether it"
                            " reached Cloudflare is still unknown (its value could not be read back);"
                            " nothing was sent",
                            hint="run `cfremedy history` to re-check them against Cloudflare, then"
                            f" `cfremedy rollback {run.id}` again",
                        )
                    plan = inverse_plan(run)
                    if not plan.changes:
                        out(f"Run {run.id} applied nothing: nothing to roll back.\n")
                        return None
                    out(
                        render_changes(
                            _assessed(plan.changes),
                            title=f"Rollback of run {run.id} on {run.zone} ({len(plan.changes)} change(s))",
                            width=terminal_width(),
                            color=use_color(),
                        )
                    )
                    return await _execute(
                        gateway,
                        journal,
                        plan,
                        ApplyOptions(force=True, allow_downgrade=True),
                        yes,
                        RunKind.ROLLBACK,
                        rolls_back=run.id,
                    )

    outcome = run_async(go())
    return EXIT_OK if outcome is None else _report(outcome)
