"""Reading the user's files safely, and writing ours privately.

Everything cfremedy reads from disk (inventory, config, plans, baseline reports, allowlists)
is local input: whatever is wrong with it (too big, binary, not UTF-8, nested past what a
parser can take) is the user's to fix, so it is a `UsageError` (exit 2) naming the file, never
an internal error. Files cfremedy writes that may carry account details (plans, reports,
support bundles) are created 0600.
"""

from __future__ import annotations

import json
import os
import tomllib
from pathlib import Path
from typing import Any

from cfremedy.errors import UsageError
from cfremedy.redaction import redact

# A generous bound for an inventory, a config, a plan or a report; far beyond any real one,
# and small enough that `--inventory /dev/zero` fails at once instead of eating the memory.
MAX_INPUT_BYTES = 32 * 1024 * 1024


def read_text(path: Path, what: str, limit: int = MAX_INPUT_BYTES) -> str:
    """The file's text, refused when it is larger than `limit`, binary or not UTF-8."""
    try:
        with path.open("rb") as handle:
            data = handle.read(limit + 1)
    except IsADirectoryError:
        raise UsageError(f"cannot read {what} {path}: it is a directory") from None
    except OSError as exc:
        raise UsageError(f"cannot read {what} {path}: {exc.strerror or exc}") from None
    if len(data) > limit:
        raise UsageError(f"{what} {path} is larger than {_size(limit)}; refusing to read it")
    if b"\x00" in data:
        raise UsageError(f"{what} {path} is not a text file (it contains NUL bytes)")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise UsageError(
            f"{what} {path} is not UTF-8 text (byte {exc.start}: {data[exc.start : exc.start + 1]!r})"
        ) from None


def _size(limit: int) -> str:
    return f"{limit // (1024 * 1024)} MiB" if limit >= 1024 * 1024 else f"{limit} bytes"


def read_toml(path: Path, what: str) -> dict[str, Any]:
    text = read_text(path, what)
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise UsageError(f"{path}: invalid TOML: {exc}") from None
    except RecursionError:
        raise UsageError(f"{path}: invalid TOML: nested too deeply") from None


def read_json(path: Path, what: str, limit: int = MAX_INPUT_BYTES) -> Any:
    text = read_text(path, what, limit)
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise UsageError(f"{path} is not valid JSON: {exc}") from None
    except RecursionError:
        raise UsageError(f"{path} is not usable JSON: nested too deeply") from None


def write_private(path: Path, text: str, what: str) -> None:
    """Write `text`, with any secret masked, to a file only its owner can read (0600), also
    when it already exists."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            os.fchmod(fd, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                fd = -1
                handle.write(redact(text))
        finally:
            if fd >= 0:
                os.close(fd)
    except OSError as exc:
        raise UsageError(f"cannot write {what} to {path}: {exc.strerror or exc}") from None
