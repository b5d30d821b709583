"""`cfremedy history` and `cfremedy diff`: what cfremedy did and saw, over time."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from cfremedy.apply import reconcile
from cfremedy.baseline import diff_reports, load_report_file
from cfremedy.cli.common import (
    ListFormatOpt,
    Quiet,
    Verbose,
    command,
    gateway_for,
    list_format,
    load_settings,
    run_async,
)
from cfremedy.cli.console import err, out, terminal_width, use_color
from cfremedy.errors import EXIT_FINDINGS, EXIT_OK, ApiError, UsageError
from cfremedy.hostnames import ascii_hostname
from cfremedy.journal import AuditRecord, Journal, Run
from cfremedy.lock import Locked, state_lock
from cfremedy.reporters.runs import render_diff, render_history
from cfremedy.settings import Settings
from cfremedy.suggest import did_you_mean


@command
def history_command(
    format: ListFormatOpt = None,
    limit: Annotated[int, typer.Option("--limit", metavar="N", min=1, help="Show the N newest of each.")] = 20,
    zone: Annotated[
        str | None,
        typer.Option(
            "--zone",
            "-z",
            metavar="NAME",
            help="Only this zone: its apply and rollback runs, its zone audits, and the account"
            " audits that covered it (counted over that zone alone).",
        ),
    ] = None,
    offline: Annotated[
        bool, typer.Option("--offline", help="Do not re-check in-doubt changes against the API.")
    ] = False,
    verbose: Verbose = 0,
    quiet: Quiet = False,
) -> int:
    """List audits, and apply and rollback runs: when, which zone, what came out.

    A run interrupted mid-write (killed, network lost) can leave changes "in doubt": the
    journal knows the write was sent but not whether it landed. With a token, history reads
    those values from Cloudflare and records the answer, so it shows exactly what reached
    Cloudflare. When it cannot (the API is down, the token refused, --offline, or an apply is
    running right now), it still lists every run, with its in-doubt writes counted as
    unsettled, and says why on stderr (exit 0). Audit ids work with `cfremedy diff`, run ids
    with `cfremedy rollback`.

    With --zone, an account audit is listed when the zone was in it (audited, or failed to be
    read), with that zone's own counts; a name no run or audit mentions is warned about,
    naming the closest one that history knows.

    Examples:

      cfremedy history

      cfremedy history --zone example.com --format json
    """
    settings = load_settings()
    fmt = list_format(format)
    name = _zone_name(zone) if zone is not None else None
    with Journal.in_state_dir(settings.state_dir) as journal:
        runs = journal.runs(limit, zone=name)
        doubtful = [r for r in runs if r.in_doubt]
        if doubtful and not offline and settings.api_token is not None:
            _settle(settings, journal, doubtful)
            runs = journal.runs(limit, zone=name)
        elif doubtful:
            err(
                f"cfremedy: {sum(len(r.in_doubt) for r in doubtful)} change(s) in doubt;"
                " set CLOUDFLARE_API_TOKEN (and drop --offline) to re-check them"
            )
        audits = journal.audits(limit) if name is None else journal.audits_covering(name, limit)
        if name is not None and not runs and not audits:
            err(
                f"cfremedy: warning: no run or audit in history names zone {name!r}"
                f"{did_you_mean(name, journal.zones())}"
            )
    out(render_history(runs, audits, fmt, terminal_width(), color=use_color()))
    return EXIT_OK


def _zone_name(text: str) -> str:
    """The zone's name as runs and reports store it: lower-case ASCII, no trailing dot."""
    try:
        return ascii_hostname(text)
    except ValueError as exc:
        raise UsageError(f"--zone: {exc}") from None


def _settle(settings: Settings, journal: Journal, doubtful: list[Run]) -> None:
    """Re-check in-doubt writes against the API, under the state directory's lock (a running
    apply's in-flight writes are its own to settle); on failure, say so and carry on."""
    count = sum(len(r.in_doubt) for r in doubtful)

    async def settle() -> None:
        async with gateway_for(settings) as gateway:
            for r in doubtful:
                await reconcile(gateway, journal, r)

    try:
        with state_lock(settings.state_dir, wait=0):
            run_async(settle())
    except Locked as exc:
        who = exc.holder.describe() if exc.holder is not None else "another cfremedy run"
        err(
            f"cfremedy: note: {who} is applying right now: {count} change(s) in doubt are shown"
            " unsettled; run `cfremedy history` again when it is done"
        )
    except ApiError as exc:
        err(
            f"cfremedy: warning: could not re-check {count} change(s) in doubt against the API"
            f" ({exc.message}): they are shown as unsettled (state `sent`); run `cfremedy history`"
            " again when the API answers"
        )


def _report(journal: Journal, spec: str) -> tuple[dict[str, Any], str, AuditRecord | None]:
    """A JSON report from a file, or a stored audit by id: (report, label, record)."""
    path = Path(spec)
    if path.suffix == ".json" or path.is_file():
        return load_report_file(path), spec, None
    record = journal.audit(spec)
    return record.report, _label(record), record


def _label(record: AuditRecord) -> str:
    return f"audit {record.id} ({record.scope})"


@command
def diff_command(
    old: Annotated[
        str | None,
        typer.Argument(
            metavar="[OLD]", help="An audit id or a JSON report [default: the audit before NEW of the same scope]"
        ),
    ] = None,
    new: Annotated[
        str | None, typer.Argument(metavar="[NEW]", help="An audit id or a JSON report [default: the newest audit]")
    ] = None,
    format: ListFormatOpt = None,
    exit_code: Annotated[
        bool,
        typer.Option(
            "--exit-code",
            help="Exit 1 when NEW has findings OLD did not (suppressed ones included), 0 otherwise;"
            " resolved findings alone exit 0 (like `git diff --exit-code`).",
        ),
    ] = False,
    verbose: Verbose = 0,
    quiet: Quiet = False,
) -> int:
    """Findings that appeared and that were resolved between two audits (drift over time).

    With no argument, compares the newest stored audit that ran to the end with the previous
    one of the same scope (an audit in which a zone could not be read is never a side by
    default: every finding of that zone would look resolved). Findings are matched by
    fingerprint (the same identity SARIF alerts use).

    Examples:

      cfremedy diff

      cfremedy diff 3f9a 7c01

      cfremedy diff last-week.json report.json

      cfremedy diff --exit-code || echo "new findings since the last audit"
    """
    settings = load_settings()
    fmt = list_format(format)
    with Journal.in_state_dir(settings.state_dir) as journal:
        if new is None and old is not None:
            old, new = None, old  # one argument: compare it with the audit before it
        new_record: AuditRecord | None
        if new is None:
            newest = journal.audits(limit=1, ok_only=True)
            if not newest:
                raise UsageError(
                    "no audit that ran to the end is stored yet", hint="run `cfremedy audit zone|account` first"
                )
            new_record = newest[0]
            new_report, new_label = new_record.report, _label(new_record)
        else:
            new_report, new_label, new_record = _report(journal, new)
        old_record: AuditRecord | None
        if old is None:
            if new_record is None:
                raise UsageError("give OLD when NEW is a report file")
            earlier = journal.audits(limit=1, scope=new_record.scope, before=new_record.id, ok_only=True)
            if not earlier:
                raise UsageError(f"no audit of {new_record.scope} that ran to the end before {new_record.id}")
            old_record = earlier[0]
            old_report, old_label = old_record.report, _label(old_record)
        else:
            old_report, old_label, old_record = _report(journal, old)
    for record in (old_record, new_record):
        if record is not None and not record.ok:
            err(
                f"cfremedy: warning: audit {record.id} did not run to the end (a zone could not be"
                " read, or a playbook failed): its missing findings will look resolved"
            )
    if old_record is not None and new_record is not None and old_record.scope != new_record.scope:
        err(
            f"cfremedy: warning: comparing different scopes ({old_record.scope} and"
            f" {new_record.scope}): findings outside their overlap will look new or resolved"
        )
    diff = diff_reports(old_report, new_report, old_label, new_label)
    out(render_diff(diff, fmt, terminal_width(), color=use_color()))
    return EXIT_FINDINGS if exit_code and diff.appeared else EXIT_OK
