"""Errors that end a command, each carrying the exit code of the CLI contract (README, "Exit codes").

The CLI turns these into one clear line on stderr and the code; anything else is a bug.
"""

from __future__ import annotations

from typing import Any

EXIT_OK = 0
EXIT_FINDINGS = 1
EXIT_USAGE = 2
EXIT_API = 3
EXIT_REFUSED = 4
# `plan --detailed-exitcode`: the plan proposes changes (Terraform's 2, moved: 2 is bad usage here).
EXIT_CHANGES = 5
EXIT_INTERNAL = 70  # a bug in cfremedy (EX_SOFTWARE); never part of a normal run


class CfremedyError(Exception):
    exit_code = EXIT_INTERNAL

    def __init__(self, message: str, *, hint: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint


class UsageError(CfremedyError):
    """Bad usage, bad input or configuration (exit 2)."""

    exit_code = EXIT_USAGE


class ApiError(CfremedyError):
    """The Cloudflare API or the network failed us (exit 3)."""

    exit_code = EXIT_API


class AuthenticationFailed(ApiError):
    """The token itself was rejected."""


class MissingPermission(ApiError):
    def __init__(self, message: str, *, permission: str, hint: str = "") -> None:
        super().__init__(message, hint=hint)
        self.permission = permission


class NotFound(ApiError):
    """The object asked for does not exist (or this token cannot see it)."""


class ZoneNotFound(NotFound):
    pass


class WriteOutcomeUnknown(ApiError):
    """A write failed in a way that does not say whether Cloudflare applied it (5xx, a dropped
    connection): the caller must re-read the value before deciding anything."""


class ApiUnreachable(ApiError):
    pass


class WriteNotSent(ApiUnreachable):
    """A write whose request never left: no connection to the API could be made (refused, no
    route, a failed TLS handshake, a connect timeout). Unlike `WriteOutcomeUnknown`, it certainly
    was not applied."""


class RateLimitExhausted(ApiError):
    pass


class Refused(CfremedyError):
    """apply/rollback refused or partly failed (exit 4)."""

    exit_code = EXIT_REFUSED


def first_validation_error(exc: Any) -> str:
    """`where: what` for the first problem pydantic found, e.g. `zones.e.com.seconds: ...`."""
    first = exc.errors()[0]
    # A key with a control character is shown escaped: it names the problem, not a terminal command.
    where = ".".join(str(p) if str(p).isprintable() else repr(p) for p in first["loc"]) or "(top level)"
    return f"{where}: {str(first['msg']).removeprefix('Value error, ')}"
