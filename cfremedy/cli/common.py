"""What every command shares: settings, the gateway, error handling, running async code."""

from __future__ import annotations

import enum
import functools
import os
import stat
import sys
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer

from cfremedy.cli.console import err, report_error, setup_logging
from cfremedy.errors import UsageError, first_validation_error

if TYPE_CHECKING:
    from pydantic import SecretStr

    from cfremedy.gateway import CloudflareGateway, WritableGateway
    from cfremedy.ratelimit import Rate
    from cfremedy.settings import Settings

T = TypeVar("T")

EXIT_CODES_HELP = (
    "Exit codes (the same for every command): 0 success (for audits: nothing at or above"
    " --fail-on); 1 findings at or above --fail-on (diff --exit-code: new findings); 2 bad usage,"
    " input or configuration;"
    " 3 Cloudflare API or network failure (auth, permission, rate limit, unreachable);"
    " 4 apply/rollback refused or partly failed; 5 plan --detailed-exitcode: the plan proposes"
    " changes; 70 a bug (in cfremedy or a playbook)."
)


class ListFormat(str, enum.Enum):
    """For listings (history, diff, errors): a table for people, JSON for scripts."""

    table = "table"
    json = "json"


ListFormatOpt = Annotated[
    ListFormat | None,
    typer.Option("--format", "-f", help="Output format  [default: table on a terminal, json otherwise]"),
]


def list_format(option: ListFormat | None) -> str:
    return (option or (ListFormat.table if sys.stdout.isatty() else ListFormat.json)).value


Verbose = Annotated[
    int,
    typer.Option(
        "--verbose",
        "-v",
        count=True,
        show_default=False,
        help="More detail on stderr (-vv: every API request and answer too; -vvv: all libraries' debug output).",
    ),
]
Quiet = Annotated[bool, typer.Option("--quiet", "-q", help="Only warnings and errors on stderr.")]
RateLimitOpt = Annotated[
    str,
    typer.Option(
        "--rate-limit",
        metavar="N/SECONDS",
        help="At most N API requests per SECONDS (Cloudflare allows 1200/300 per token).",
    ),
]


DOTENV = Path(".env")
DOTENV_LIMIT = 1024 * 1024  # bytes: a .env is a few lines; more is a mistake (or /dev/zero)


def load_settings() -> Settings:
    """The environment and `.env`; anything unusable in them is a usage error (exit 2) naming
    what to fix, never a crash, and never an echo of the token."""
    from pydantic import ValidationError

    from cfremedy.settings import DEFAULT_BASE_URL, Settings

    _check_dotenv(DOTENV)
    try:
        settings = Settings()
    except ValidationError as exc:
        raise UsageError(f"bad configuration: {first_validation_error(exc)}") from None
    except UnicodeDecodeError as exc:
        raise UsageError(f"cannot read {DOTENV.resolve()}: not UTF-8 text (byte {exc.start})") from None
    except OSError as exc:
        raise UsageError(f"cannot read {DOTENV.resolve()}: {exc.strerror or exc}") from None
    _warn_unknown_variables()
    if settings.base_url != DEFAULT_BASE_URL and "CLOUDFLARE_BASE_URL" not in os.environ:
        # A `.env` in the working directory (an untrusted checkout, say) sends the token elsewhere.
        err(f"cfremedy: note: the API is {settings.base_url} (CLOUDFLARE_BASE_URL from {DOTENV.resolve()})")
    return settings


_warned: set[str] = set()  # each warning once per run, however many times settings are read


def _warn_unknown_variables() -> None:
    """CFREMEDY_* names in the environment or `.env` that cfremedy does not read."""
    import os

    from cfremedy.settings import unknown_variables

    problems = unknown_variables(os.environ, "environment")
    if DOTENV.is_file():
        from dotenv import dotenv_values

        problems += unknown_variables(dotenv_values(DOTENV), str(DOTENV))
    for problem in problems:
        if problem not in _warned:
            _warned.add(problem)
            err(f"cfremedy: warning: {problem}")


def _check_dotenv(path: Path) -> None:
    try:
        info = path.stat()
    except FileNotFoundError:
        return
    except OSError as exc:
        raise UsageError(f"cannot read {path.resolve()}: {exc.strerror or exc}") from None
    if not stat.S_ISREG(info.st_mode):
        raise UsageError(f"cannot read {path.resolve()}: not a regular file")
    if info.st_size > DOTENV_LIMIT:
        raise UsageError(f"{path.resolve()} is {info.st_size:,} bytes: too large for a .env file (at most 1 MiB)")
    if b"\0" in path.read_bytes():
        raise UsageError(f"cannot read {path.resolve()}: binary content, not a .env file")


def require_token(settings: Settings) -> SecretStr:
    if settings.api_token is None:
        raise UsageError(
            "CLOUDFLARE_API_TOKEN is not set",
            hint="create a token (My Profile > API Tokens) with Zone Read, Zone Settings Read and"
            " DNS Read, export it as CLOUDFLARE_API_TOKEN (or put it in .env); `cfremedy demo`"
            " needs no token",
        )
    return settings.api_token


def gateway_for(settings: Settings, rate: Rate | None = None) -> CloudflareGateway:
    """A read-only gateway: audit, plan, doctor, history, diagnose."""
    from cfremedy.gateway import CloudflareGateway
    from cfremedy.ratelimit import DEFAULT_RATE, RateLimiter

    return CloudflareGateway(
        require_token(settings),
        settings.base_url,
        timeout=api_timeout(settings),
        limiter=RateLimiter(rate or DEFAULT_RATE),
    )


def writable_gateway_for(settings: Settings) -> WritableGateway:
    """The only way a command obtains writes: apply and rollback."""
    from cfremedy.gateway import WritableGateway
    from cfremedy.ratelimit import DEFAULT_RATE, RateLimiter

    return WritableGateway(
        require_token(settings), settings.base_url, timeout=api_timeout(settings), limiter=RateLimiter(DEFAULT_RATE)
    )


def api_timeout(settings: Settings) -> float:
    from cfremedy.gateway.transport import DEFAULT_TIMEOUT

    return settings.api_timeout or DEFAULT_TIMEOUT


def parse_rate(text: str) -> Rate:
    from cfremedy.ratelimit import Rate

    try:
        return Rate.parse(text)
    except ValueError as exc:
        raise UsageError(f"--rate-limit: {exc}") from None


def run_async(coro: Coroutine[Any, Any, T]) -> T:
    import asyncio  # not at the top: `cfremedy --help` has no use for an event loop

    return asyncio.run(coro)


def command(fn: Callable[..., int | None]) -> Callable[..., None]:
    """Run a command body, turning its result or error into the process exit code."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> None:
        verbose = int(kwargs.get("verbose") or 0)
        setup_logging(verbose, bool(kwargs.get("quiet")))
        try:
            code = fn(*args, **kwargs) or 0
        except typer.Exit:
            raise
        except KeyboardInterrupt:
            raise typer.Exit(130) from None
        except Exception as exc:  # noqa: BLE001 - the one place every failure is reported
            code = report_error(exc, verbose)
        raise typer.Exit(code)

    return wrapper
