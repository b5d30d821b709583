"""The report formats, by name and by file extension: what `--format` and `-o` accept.

Kept apart from the renderers so the CLI can offer the choices without importing them.
"""

from __future__ import annotations

from pathlib import PurePath

from cfremedy.errors import UsageError

REPORT_FORMATS = ("table", "json", "sarif", "junit", "markdown")
EXTENSIONS = {".json": "json", ".sarif": "sarif", ".xml": "junit", ".md": "markdown", ".txt": "table"}


def resolve_outputs(fmt: str | None, outputs: list[str] | None, terminal: bool) -> list[tuple[str, str]]:
    """Where each rendering goes, as (format, path), "-" being stdout.

    `FORMAT:FILE` names the format; otherwise `--format`, else the file's extension. An
    unknown prefix or extension is an error rather than a silent JSON file: `-o sarf:x.sarif`
    and `-o report.xlsx` are typos, not requests.
    """
    if not outputs:
        return [(fmt or ("table" if terminal else "json"), "-")]
    resolved = []
    for spec in outputs:
        prefix, sep, rest = spec.partition(":")
        if sep and prefix in REPORT_FORMATS and rest:
            resolved.append((prefix, rest))
            continue
        if sep and prefix.isalpha() and len(prefix) > 1 and "/" not in prefix:
            raise UsageError(
                f"-o {spec}: unknown format {prefix!r}",
                hint=f"formats: {', '.join(REPORT_FORMATS)} (e.g. -o sarif:{rest or 'FILE'})",
            )
        if spec == "-":
            resolved.append((fmt or "json", spec))
            continue
        suffix = PurePath(spec).suffix.lower()
        if fmt is not None:
            resolved.append((fmt, spec))
        elif suffix in EXTENSIONS:
            resolved.append((EXTENSIONS[suffix], spec))
        else:
            known = " ".join(EXTENSIONS)
            raise UsageError(
                f"-o {spec}: cannot tell the format from {suffix or 'a file without an extension'}",
                hint=f"use FORMAT:FILE (e.g. json:{spec}), --format, or one of {known}",
            )
    return resolved
