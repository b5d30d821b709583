"""The vendored documents are the ones SOURCES.md names, byte for byte, and the suite stands
alone: nothing reads the developers' folder beside the clone, nothing reaches Cloudflare.

A schema silently edited to make a failing output pass would defeat the tests that use it.
"""

from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from tests.support import clean_env

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


# The folder's name is spelt in pieces, so that this file does not name it either.
_FOLDER = "sha" + "red"
FORBIDDEN = re.compile(rf"\.\./{_FOLDER}|{_FOLDER}_dir|[\"']{_FOLDER}[\"']")


def test_nothing_reads_the_developers_shared_folder() -> None:
    """A user's clone has nothing beside it: no product or test file may look there."""
    offenders = []
    for path in [
        *ROOT.glob("cfremedy/**/*.py"),
        *ROOT.glob("playbooks/*.py"),
        *ROOT.glob("tests/**/*.py"),
        *ROOT.glob("benchmarks/*.py"),
    ]:
        text = path.read_text(encoding="utf-8")
        if FORBIDDEN.search(text):
            offenders.append(str(path.relative_to(ROOT)))
    assert offenders == []


def test_no_test_can_reach_cloudflares_real_api() -> None:
    """The CLI's default API is Cloudflare's; in the suite, a command or `Settings` that no test
    pointed at a sandbox goes to a closed loopback port instead (tests/conftest.py, `clean_env`)."""
    from cfremedy.settings import DEFAULT_BASE_URL, Settings

    for base_url in (os.environ["CLOUDFLARE_BASE_URL"], clean_env()["CLOUDFLARE_BASE_URL"], Settings().base_url):
        assert base_url != DEFAULT_BASE_URL
        assert urlsplit(base_url).hostname == "127.0.0.1"
    assert not [k for k in clean_env() if k.startswith("CFREMEDY_") or k == "CLOUDFLARE_API_TOKEN"]
