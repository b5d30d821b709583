"""The vendored documents are the ones SOURCES.md names, byte for byte.

A schema silently edited to make a failing output pass would defeat the tests that use it.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LISTS = (ROOT / "tests" / "vendored" / "SOURCES.md", ROOT / "cfremedy" / "data" / "SOURCES.md")


def _listed() -> list[tuple[Path, str]]:
    rows = []
    for sources in LISTS:
        for line in sources.read_text(encoding="utf-8").splitlines():
            found = re.match(r"\| `([^`]+)` \|.*\| `([0-9a-f]{64})` \|$", line)
            if found:
                rows.append((sources.parent / found.group(1), found.group(2)))
    return rows


def test_every_vendored_file_is_listed() -> None:
    listed = {path for path, _ in _listed()}
    on_disk = {p for sources in LISTS for p in sources.parent.iterdir() if p.suffix in (".json", ".xsd", ".pem")}
    assert on_disk == listed


@pytest.mark.parametrize(("path", "sha256"), _listed(), ids=lambda v: getattr(v, "name", "")[:40])
def test_checksum(path: Path, sha256: str) -> None:
    assert hashlib.sha256(path.read_bytes()).hexdigest() == sha256


def test_nothing_reads_the_developers_shared_folder() -> None:
    """A user's clone has nothing beside it: no product or test file may look there."""
    offenders = []
    for path in [
        *ROOT.glob("cfremedy/**/*.py"),
        *ROOT.glob("playbooks/*.py"),
        *ROOT.glob("tests/**/*.py"),
        *ROOT.glob("benchmarks/*.py"),
    ]:
        if path == Path(__file__).resolve():
            continue
        text = path.read_text(encoding="utf-8")
        if re.search(r"\.\./shared|shared_dir|[\"']shared[\"']", text):
            offenders.append(str(path.relative_to(ROOT)))
    assert offenders == []
