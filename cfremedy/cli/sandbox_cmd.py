"""`cfremedy sandbox serve` and `cfremedy demo`: everything, offline, with no token."""

from __future__ import annotations

import contextlib
import errno
import shlex
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated

import typer
from pydantic import SecretStr

from cfremedy.audit import AuditOptions, audit
from cfremedy.cli.common import Quiet, Verbose, command, run_async
from cfremedy.cli.console import err, out, terminal_width, use_color
from cfremedy.errors import UsageError
from cfremedy.finish import FinishOptions, Outcome, finish
from cfremedy.gateway import CloudflareGateway
from cfremedy.journal import Journal
from cfremedy.models import Report
from cfremedy.ratelimit import DEFAULT_RATE, RateLimiter
from cfremedy.registry import load_registry
from cfremedy.reporters.grid import fit_text, paragraph
from cfremedy.reporters.table import render_zone, summary_line
from cfremedy.sandbox.scenario import Scenario, ScenarioError, builtin_scenarios, load_scenario
from cfremedy.sandbox.session import SandboxSession
from cfremedy.selection import AccountSelection

sandbox_app = typer.Typer(
    rich_markup_mode=None, help="Run the built-in Cloudflare API sandbox with real local origins.", no_args_is_help=True
)

ScenarioOpt = Annotated[
    str, typer.Option("--scenario", "-s", help="A scenario TOML file, or a built-in scenario name (`demo`).")
]


def _load(scenario: str) -> Scenario:
    try:
        return load_scenario(scenario)
    except ScenarioError as exc:
        raise UsageError(str(exc), hint=f"built-in scenarios: {', '.join(builtin_scenarios())}") from None


@sandbox_app.command("serve")
@command
def serve_command(
    scenario: ScenarioOpt = "demo",
    port: Annotated[int, typer.Option("--port", help="Port of the API on 127.0.0.1 (0: any free port).")] = 8787,
    env_file: Annotated[
        Path | None,
        typer.Option(
            "--env-file", help="Also write the environment variables to use into this file (for `set -a; . FILE`)."
        ),
    ] = None,
    verbose: Verbose = 0,
    quiet: Quiet = False,
) -> int:
    """Serve a fake Cloudflare API on loopback, with stand-in origin servers, until Ctrl-C.

    Point cfremedy at it by exporting the variables it prints; then every command works
    offline, e.g. `cfremedy audit zone shop.example`. Probes reach the stand-in origins
    through --connect-to rules only, so nothing is sent beyond this machine.
    """
    with _serving(_load(scenario), port) as session:
        env = session.env()
        exports = "".join(f"export {k}={shlex.quote(v)}\n" for k, v in env.items())
        if env_file is not None:
            env_file.write_text(exports)
        zones = ", ".join(z.name for z in session.scenario.zones)
        err(f"cfremedy sandbox: Cloudflare API at {session.api.url}")
        err(f"cfremedy sandbox: {len(session.scenario.zones)} zone(s): {zones}")
        err(f"cfremedy sandbox: {len(session.scenario.origins)} origin server(s) on 127.0.0.1")
        if session.scenario.edge:
            err(
                f"cfremedy sandbox: edge for {len(session.scenario.edge)} hostname(s); for https:// URLs,"
                f" trust its CA with SSL_CERT_FILE={shlex.quote(str(session.edge.ca_file))}"
            )
        err("In another shell, run:\n")
        err(exports)
        first = session.scenario.zones[0].name if session.scenario.zones else "ZONE"
        err(f"  cfremedy audit zone {first}\n\nPress Ctrl-C to stop.")
        try:
            threading.Event().wait()
        except KeyboardInterrupt:
            err("cfremedy sandbox: stopped")
    return 0


@contextlib.contextmanager
def _serving(scenario: Scenario, port: int) -> Iterator[SandboxSession]:
    """The session on `port`; a port that is taken or not ours to bind is the user's choice
    to change (exit 2), not a crash."""
    try:
        session = SandboxSession(scenario, port=port).__enter__()
    except OSError as exc:
        if port and exc.errno in (errno.EADDRINUSE, errno.EACCES):
            why = "is already in use" if exc.errno == errno.EADDRINUSE else "may not be bound by this user"
            raise UsageError(
                f"--port {port}: port {port} on 127.0.0.1 {why}",
                hint="choose another --port, or --port 0 for any free one (the variables printed say which)",
            ) from None
        raise
    try:
        yield session
    finally:
        session.__exit__(None, None, None)


def _audit_all(session: SandboxSession, probe_timeout: float) -> Outcome:
    """The same pipeline and finishing steps as `audit account`, against the sandbox, with
    the sandbox's own history database."""
    options = AuditOptions(
        playbooks=load_registry().playbooks,
        probe=session.probe_options(timeout=probe_timeout),
        inventory=session.inventory,
    )

    async def go() -> Report:
        async with CloudflareGateway(
            SecretStr(session.token.value), session.api.url, limiter=RateLimiter(DEFAULT_RATE)
        ) as gateway:
            return await audit(gateway, AccountSelection(), options)

    report = run_async(go())
    with Journal.in_state_dir(session.state_dir) as journal:
        return finish(report, FinishOptions(fail_on=None), journal)


NEXT_STEPS = """\
That was the sandbox. To run the same audit against your own account:

  export CLOUDFLARE_API_TOKEN=...   # read permissions: {permissions}
  cfremedy doctor                   # checks the token and what it may read and change
  cfremedy audit zone example.com   # the findings table; --format json for scripts
  cfremedy plan zone example.com -o plan.json   # the proposed changes, nothing applied

Or keep exploring offline: `cfremedy sandbox serve` prints the variables that point every
command at this sandbox; then try `cfremedy diagnose http://www.blog.example/` (a live 526 as a
visitor gets it, with a support bundle), `cfremedy errors zone shop.example` (the 5xx counted),
or `cfremedy plan zone shop.example -o plan.json` and `cfremedy apply plan.json`.
`cfremedy playbooks list` shows what is checked.
"""


@command
def demo_command(
    scenario: ScenarioOpt = "demo",
    probe_timeout: Annotated[float, typer.Option("--probe-timeout", help="Seconds per probe step.")] = 2.0,
    verbose: Verbose = 0,
    quiet: Quiet = False,
) -> int:
    """Tour cfremedy on the built-in sandbox: no token, nothing leaves this machine.

    Starts a fake Cloudflare API with several zones (different plans, seeded with the
    misconfigurations of Cloudflare's 5xx troubleshooting article) and real origin servers on
    loopback, audits every zone, and prints the findings and the dry-run plan of each.
    """
    with SandboxSession(_load(scenario)) as session:
        err(
            f"cfremedy demo: sandbox API at {session.api.url},"
            f" {len(session.scenario.origins)} origin servers on 127.0.0.1"
        )
        outcome = _audit_all(session, probe_timeout)
        api_log = session.api.requests
    width, color = terminal_width(), use_color()
    if session.scenario.description:
        out(fit_text(session.scenario.description.strip(), width) + "\n")
    for report in outcome.report.zones:
        out(render_zone(report, width, color=color) + "\n")
    for note in outcome.notes:
        err(f"cfremedy demo: {note}")
    summary = summary_line(outcome.report)
    writes = sum(1 for r in api_log if r.method != "GET")
    out(
        paragraph(
            f"{summary}; {len(api_log)} API request(s), {'all reads' if not writes else f'{writes} WRITES'}", width
        )
        + "\n"
        + fit_text(NEXT_STEPS.format(permissions=_read_permissions()), width)
    )
    return 0


def _read_permissions() -> str:
    """What a token needs for every built-in playbook, so the hint never goes stale."""
    groups = dict.fromkeys(g for p in load_registry().playbooks if p.builtin for g in p.read_permissions)
    return ", ".join(groups)
