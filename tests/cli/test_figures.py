"""The request counts the README, docs/ and `--help` state are the ones the code really sends.

Each figure is measured here on the sandbox's request log (the installed `cfremedy`, no probes,
zones without rules, load balancers or tunnels) and every sentence that states it is read back
from the file it is in: a change to the reads that changes a count fails this test until the
docs say the new number.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from cfremedy.sandbox.scenario import parse_scenario
from cfremedy.sandbox.session import SandboxSession
from tests.cli.test_cli import run
from tests.support import ROOT

ZONES = 3
TOKEN = "figures-token"
WORDS = {"one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6}
SCENARIO = {
    "tokens": [
        {
            "value": TOKEN,
            "permissions": [
                "Zone Read", "Zone Settings Read", "DNS Read", "Config Rules Read", "Page Rules Read",
                "Origin Rules Read", "Cache Rules Read", "Load Balancers Read",
                "Load Balancing: Monitors and Pools Read", "Cloudflare Tunnel Read",
            ],
        }
    ],
    "zones": [
        {"name": f"plain-{n}.example", "settings": {"ssl": "strict"}, "generate_records": 10} for n in range(ZONES)
    ],
}  # fmt: skip


@pytest.fixture(scope="module")
def session() -> Iterator[SandboxSession]:
    with SandboxSession(parse_scenario(SCENARIO, "figures")) as started:
        yield started


def requests_of(session: SandboxSession, tmp_path: Path, *args: str) -> tuple[int, int]:
    """(requests about zones, requests about the account) of one run."""
    session.api.clear_log()
    env = {**session.env(), "CLOUDFLARE_API_TOKEN": TOKEN, "CFREMEDY_STATE_DIR": str(tmp_path)}
    proc = run([*args, "--no-probe", "--format", "json"], env)
    assert proc.returncode in (0, 1), proc.stderr
    paths = [r.path for r in session.api.requests]
    return sum(p.startswith("/zones") for p in paths), sum(p.startswith("/accounts") for p in paths)


def number(text: str) -> int:
    return WORDS[text.lower()] if text.lower() in WORDS else int(text.replace(",", ""))


def stated(path: str, pattern: str) -> list[int]:
    found = re.findall(pattern, (ROOT / path).read_text(), re.S)
    assert found, f"{path} no longer says {pattern!r}: update the sentence or this test"
    return [number(f) for f in found]


@pytest.fixture(scope="module")
def measured(session: SandboxSession, tmp_path_factory: pytest.TempPathFactory) -> dict[str, int]:
    state = tmp_path_factory.mktemp("state")
    zone, account_reads = requests_of(session, state, "audit", "zone", "plain-0.example")
    listed, per_account = requests_of(session, state, "audit", "account")
    skipped, _ = requests_of(session, state, "audit", "account", "--skip-rules")
    pages = math.ceil(ZONES / 50)
    return {
        "zone": zone,
        "zone_account_reads": account_reads,
        "per_zone": (listed - pages) // ZONES,
        "per_zone_exact": (listed - pages) % ZONES,
        "skip_rules_per_zone": (skipped - pages) // ZONES,
        "per_account": per_account,
    }


def test_the_counts_are_whole_per_zone(measured: dict[str, int]) -> None:
    assert measured["per_zone_exact"] == 0 and measured["per_account"] == measured["zone_account_reads"]


def test_the_readme_states_the_measured_counts(measured: dict[str, int]) -> None:
    assert stated("README.md", r"An audit of one zone costs \*\*(\d+) API requests\*\*") == [measured["zone"]]
    assert stated("README.md", r"the account's pools \(\*\*(\d+)\*\* request") == [measured["zone_account_reads"]]
    assert stated("README.md", r"so such a zone's\s+audit sends (\d+) in all") == [
        measured["zone"] + measured["zone_account_reads"]
    ]
    assert stated("README.md", r"tunnels costs\s+\*\*(\d+)\*\* \(no zone lookup") == [measured["per_zone"]]
    assert stated("README.md", r"audits every zone the token can see: (\w+) API requests per zone") == [
        measured["per_zone"]
    ]


def test_the_docs_state_the_measured_counts(measured: dict[str, int]) -> None:
    assert stated("docs/ci.md", r"an account audit costs \*\*(\w+) requests per zone\*\*") == [measured["per_zone"]]
    (thousand,) = stated("docs/ci.md", r"so 1,000 zones need about ([\d,]+) requests")
    assert abs(thousand - (1000 * measured["per_zone"] + 20)) <= 5
    assert stated("docs/architecture.md", r"load balancers or tunnels then costs (\d+) requests") == [
        measured["per_zone"]
    ]
    rules = measured["per_zone"] - measured["skip_rules_per_zone"]
    for page in ("docs/playbooks/ssl_origin_cert.md", "docs/playbooks/ssl_per_hostname.md"):
        assert stated(page, r"Reading the\s+rules costs (\w+) requests per zone") == [rules]


def test_the_help_states_the_measured_counts(measured: dict[str, int]) -> None:
    proc = run(["audit", "account", "--help"], {"COLUMNS": "200"})
    rules = measured["per_zone"] - measured["skip_rules_per_zone"]
    assert re.findall(r"(\d+) requests per\s+zone\s+fewer", proc.stdout) == [str(rules)]
    assert "one request per 50" in " ".join(proc.stdout.split())
