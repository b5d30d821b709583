"""`cfremedy apply` and `rollback`: the only commands that write to Cloudflare."""

from __future__ import annotations

import logging
import sys
from dataclasses import dataclass
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
    run_succeeded,
)
from cfremedy.audit import audit
from cfremedy.cli.common import Quiet, Verbose, command, load_settings, run_async, writable_gateway_for
from cfremedy.cli.console import err, out, terminal_width
from cfremedy.cli.flags import ProbeFlags, audit_options, flags
from cfremedy.errors import EXIT_FINDINGS, EXIT_OK, EXIT_REFUSED, CfremedyError, Refused, UsageError
from cfremedy.gateway import WritableGateway
from cfremedy.journal import Journal, Run, RunKind
from cfremedy.plan import Plan
from cfremedy.reporters.runs import render_rechecks, render_run, run_summary
from cfremedy.reporters.table import render_changes
from cfremedy.selection import ZoneSelection
from cfremedy.settings import Settings

log = logging.getLogger("cfremedy.cli")

Yes = Annotated[bool, typer.Option("--yes", "-y", help="Apply without asking (for CI).")]


def _confirm(question: str, yes: bool) -> None:
    if yes:
        return
    if not sys.stdin.isatty():
        raise UsageError("stdin is not a terminal, so nobody can confirm", hint="review the plan, then pass --yes")
    if not typer.confirm(question, default=False, err=True):
        raise Refused("cancelled at the prompt; nothing was changed")


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
) -> _Outcome:
    prepared = await prepare(gateway, plan, options)
    _confirm(f"Apply these {len(plan.changes)} change(s) to {plan.zone}?", yes)
    executor = Executor(gateway, journal, prepared, kind, rolls_back)
    log.info("run %s: applying %d change(s) to %s", executor.run_id, len(plan.changes), plan.zone)
    try:
        return _Outcome(await executor.run())
    except CfremedyError as exc:  # what was written before the stop must still be shown
        return _Outcome(journal.run(executor.run_id), exc)


def _report(outcome: _Outcome, rechecks: list[Recheck] | None = None) -> int:
    run = outcome.run
    out(f"\nResults:\n{render_run(run, terminal_width())}\n{run_summary(run)}\n")
    worse = made_worse(rechecks or [])
    if rechecks is not None:
        out("\n" + render_rechecks(rechecks, terminal_width()))
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
    plan_file: Annotated[Path, typer.Argument(metavar="PLAN.json", help="A plan from `cfremedy plan zone`.")],
    probe: ProbeFlags,
    yes: Yes = False,
    max_changes: Annotated[
        int, typer.Option("--max-changes", metavar="N", min=0, help="Refuse plans with more changes than this.")
    ] = 10,
    allow_downgrade: Annotated[
        bool, typer.Option("--allow-downgrade", help="Allow changes that lower security (e.g. SSL strict -> full).")
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
    verbose: Verbose = 0,
    quiet: Quiet = False,
) -> int:
    """Apply a saved plan: check it, ask, write each change safely, journal, re-audit.

    Refuses (exit 4, nothing sent) a plan edited after it was made (checksum), more than
    --max-changes changes, DNS changes to more than 30 % of the zone's records (zones of 10
    records or more), and changes that lower security without --allow-downgrade. Checks the
    token may write what the plan touches (exit 3). Then, per change: re-reads the live value
    and skips it if it is no longer the plan's `before` (drift), journals, writes, reads back.
    Finally re-audits the zone with every playbook (probe options as for audit) and says which
    findings are resolved and which are new since the plan (then it exits 1: the apply may
    have made the zone worse).
    Applying the same plan again changes nothing. Prints a run id for `rollback`.

    Examples:

      cfremedy apply plan.json

      cfremedy apply plan.json --yes --allow-downgrade
    """
    settings = load_settings()
    plan = Plan.read(plan_file)
    options = audit_options(settings, probe)
    if not plan.changes:
        out(f"The plan for {plan.zone} has no changes: nothing to apply.\n")
        return EXIT_OK
    out(
        render_changes(
            plan.changes,
            title=f"Plan for {plan.zone} ({len(plan.changes)} change(s), {plan.checksum[:19]}...)",
            width=terminal_width(),
        )
    )

    async def go() -> tuple[_Outcome, list[Recheck] | None]:
        async with writable_gateway_for(settings) as gateway:
            with _journal(settings) as journal:
                outcome = await _execute(gateway, journal, plan, ApplyOptions(max_changes, allow_downgrade, force), yes)
            wrote = any(e.state.reached_cloudflare for e in outcome.run.entries)
            if not wrote or outcome.stopped_by is not None:
                return outcome, None
            (after,) = (await audit(gateway, ZoneSelection(plan.zone), options)).zones
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
    verbose: Verbose = 0,
    quiet: Quiet = False,
) -> int:
    """Undo a run: restore the values every change it applied had before.

    Plans the inverse of each change the journal shows as applied (in-doubt changes are first
    re-checked against Cloudflare), shows it, asks, and applies it under the same drift check:
    a value changed again since the run is left alone and reported. The rollback is itself a
    run in the journal.
    """
    settings = load_settings()

    async def go() -> _Outcome | None:
        async with writable_gateway_for(settings) as gateway:
            with _journal(settings) as journal:
                run = await reconcile(gateway, journal, journal.run(run_id))
                plan = inverse_plan(run)
                if not plan.changes:
                    out(f"Run {run.id} applied nothing: nothing to roll back.\n")
                    return None
                out(
                    render_changes(
                        plan.changes,
                        title=f"Rollback of run {run.id} on {run.zone} ({len(plan.changes)} change(s))",
                        width=terminal_width(),
                    )
                )
                return await _execute(
                    gateway, journal, plan, ApplyOptions(force=True), yes, RunKind.ROLLBACK, rolls_back=run.id
                )

    outcome = run_async(go())
    return EXIT_OK if outcome is None else _report(outcome)
