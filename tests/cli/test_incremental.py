"""`cfremedy audit account --incremental` against the sandbox: the findings of a full audit, for
the requests of what changed.

The sandbox writes its account's audit log as Cloudflare does (API writes and changes made
behind the API's back alike), so these tests change zones the ways a team does and check which
zones the next run reads again (on the sandbox's request log) and that its findings are those
of a full audit of the same state.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from cfremedy.sandbox.scenario import TokenSpec, load_scenario
from cfremedy.sandbox.session import SandboxSession
from tests.cli.test_cli import run

NO_LOG_TOKEN = "token-without-the-audit-log"


def demo_session() -> SandboxSession:
    scenario = load_scenario("demo")
    without_log = tuple(p for p in scenario.tokens[0].permissions if p != "Account Settings Read")
    extra = (TokenSpec(name="no-log", value=NO_LOG_TOKEN, permissions=without_log),)
    return SandboxSession(scenario.model_copy(update={"tokens": scenario.tokens + extra}))


@pytest.fixture
def session() -> Iterator[SandboxSession]:
    """A sandbox of each test's own: a change stays in an audit log, and one made within
    `incremental.MARGIN` before a run is (rightly) read again by the next."""
    with demo_session() as started:
        yield started


@pytest.fixture
def env(session: SandboxSession, tmp_path: Path) -> dict[str, str]:
    return {**session.env(), "CFREMEDY_STATE_DIR": str(tmp_path / "state")}


def audit(session: SandboxSession, env: dict[str, str], *args: str) -> tuple[dict[str, Any], str, set[str]]:
    """The JSON report, stderr, and the zones whose settings the run read from the API."""
    session.api.clear_log()
    proc = run(["audit", "account", "--format", "json", "--no-probe", *args], env)
    assert proc.returncode == 1, proc.stderr  # the demo always has findings
    read = {r.path.split("/")[2] for r in session.api.requests if r.path.endswith("/settings")}
    names = {z.id: z.name for z in session.api.state.all_zones()}
    return json.loads(proc.stdout), proc.stderr, {names[i] for i in read}


def findings(report: dict[str, Any]) -> list[tuple[str, str, str, str]]:
    return sorted(
        (f["playbook"], f["resource"], f["fingerprint"], f["message"]) for z in report["zones"] for f in z["findings"]
    )


def zone_id(session: SandboxSession, name: str) -> str:
    return session.api.state.zone_by_name(name).id


def change_through_the_api(session: SandboxSession) -> None:
    token = session.scenario.tokens[0].value
    with httpx.Client(base_url=session.api.url, headers={"Authorization": f"Bearer {token}"}) as client:
        shop = zone_id(session, "healthy.example")
        client.patch(f"zones/{shop}/settings/ssl", json={"value": "flexible"}).raise_for_status()
        static = zone_id(session, "static.example")
        record = {"type": "A", "name": "new.static.example", "content": "10.1.2.3", "proxied": True}
        client.post(f"zones/{static}/dns_records", json=record).raise_for_status()


ALL = {"apps.example", "blog.example", "docs.example", "healthy.example", "shop.example", "static.example"}


def test_only_changed_zones_are_read_again_and_the_findings_are_a_full_audits(
    session: SandboxSession, env: dict[str, str]
) -> None:
    first, stderr, read = audit(session, env, "--incremental")
    assert read == ALL and "no stored snapshot to start from (none stored yet)" in stderr
    assert "stored 6 zone snapshot(s)" in stderr

    unchanged, stderr, read = audit(session, env, "--incremental")
    assert read == set() and "6 zone(s) from stored snapshots, 0 read again" in stderr
    assert findings(unchanged) == findings(first)

    change_through_the_api(session)  # an API write on two zones...
    session.api.state.set_setting(zone_id(session, "docs.example"), "ssl", "off")  # ...and one in the dashboard
    nightly, stderr, read = audit(session, env, "--incremental")
    assert read == {"healthy.example", "static.example", "docs.example"}
    assert "3 zone(s) from stored snapshots, 3 read again (3 changed)" in stderr
    full, _, read = audit(session, env)
    assert read == ALL
    assert findings(nightly) == findings(full) != findings(first)
    new = set(findings(full)) - set(findings(first))
    assert {f[1] for f in new} >= {"healthy.example", "docs.example", "new.static.example"}  # each change was seen


@pytest.mark.parametrize(
    "doubt, warning",
    [
        ("token", "every zone of account"),
        ("forgotten", "the audit log does not reach back to"),
        ("unattributed", "changes that name no zone (worker_route)"),
    ],
)
def test_any_doubt_about_an_account_audits_it_in_full_with_a_warning(
    session: SandboxSession, env: dict[str, str], doubt: str, warning: str
) -> None:
    audit(session, env, "--incremental")
    if doubt == "token":
        env = {**env, "CLOUDFLARE_API_TOKEN": NO_LOG_TOKEN}
    elif doubt == "forgotten":
        session.api.state.forget_audit_log()
    else:
        session.api.state.log_change(session.api.state.all_zones()[0].account_id, "create", "worker_route", "w1")
    _, stderr, read = audit(session, env, "--incremental")
    assert read == ALL
    assert warning in stderr and "audited in full" in stderr
    if doubt == "token":
        assert "Account Settings Read" in stderr


def test_shards_share_one_store(session: SandboxSession, env: dict[str, str]) -> None:
    seen: set[str] = set()
    for shard in ("1/2", "2/2"):
        _, _, read = audit(session, env, "--incremental", "--shard", shard)
        seen |= read
    assert seen == ALL
    for shard in ("1/2", "2/2"):
        _, stderr, read = audit(session, env, "--incremental", "--shard", shard)
        assert read == set() and "0 read again" in stderr


def test_the_store_is_private_and_a_damaged_one_is_set_aside(session: SandboxSession, env: dict[str, str]) -> None:
    audit(session, env, "--incremental")
    store = Path(env["CFREMEDY_STATE_DIR"]) / "snapshots.sqlite3"
    assert stat.S_IMODE(store.stat().st_mode) == 0o600
    with sqlite3.connect(store) as db:
        assert db.execute("SELECT count(*) FROM snapshots").fetchone() == (6,)
    store.write_bytes(b"not a database" * 100)
    _, stderr, read = audit(session, env, "--incremental")
    assert read == ALL and "was unusable" in stderr and "set aside" in stderr
    assert list(store.parent.glob("snapshots.sqlite3.damaged-*"))
    _, _, read = audit(session, env, "--incremental")
    assert read == set()  # the new store works


def test_a_stored_snapshot_older_than_max_age_is_read_again(session: SandboxSession, env: dict[str, str]) -> None:
    audit(session, env, "--incremental")
    store = Path(env["CFREMEDY_STATE_DIR"]) / "snapshots.sqlite3"
    with sqlite3.connect(store) as db:
        db.execute("UPDATE snapshots SET read_at = '2026-01-01T00:00:00.000000Z' WHERE name = 'blog.example'")
    _, stderr, read = audit(session, env, "--incremental", "--max-age", "30d")
    assert read == {"blog.example"} and "1 older than --max-age" in stderr


@pytest.mark.parametrize(
    "args, fragment",
    [
        (["--max-age", "7d"], "--max-age only applies with --incremental"),
        (["--incremental", "--max-age", "soon"], "--max-age"),
    ],
)
def test_bad_incremental_options_are_exit_2(env: dict[str, str], args: list[str], fragment: str) -> None:
    proc = run(["audit", "account", "--no-probe", *args], env)
    assert proc.returncode == 2 and fragment in proc.stderr


def test_origins_are_probed_for_zones_taken_from_the_store(session: SandboxSession, env: dict[str, str]) -> None:
    """The origin side changes without any API event: probes run for every zone, every time."""

    def probed(*args: str) -> tuple[dict[str, Any], str]:
        proc = run(["audit", "account", "--format", "json", "--probe-timeout", "1", "--incremental", *args], env)
        assert proc.returncode == 1, proc.stderr
        return json.loads(proc.stdout), proc.stderr

    first, _ = probed()
    second, stderr = probed()
    assert "6 zone(s) from stored snapshots" in stderr
    assert findings(second) == findings(first)
    assert any(f[0] == "ssl_origin_cert" for f in findings(second))  # found by probing an origin


def test_a_fuller_stored_snapshot_is_judged_as_this_run_reads(session: SandboxSession) -> None:
    """Stored with every rule, reused by a --skip-rules run: the rules are not seen, as they
    would not have been read."""
    from dataclasses import replace

    from pydantic import SecretStr

    from cfremedy.audit import SKIP_RULES, AuditOptions, read_zone
    from cfremedy.gateway import CloudflareGateway
    from cfremedy.incremental import StoredZone
    from cfremedy.registry import load_registry

    async def go() -> tuple[Any, Any]:
        async with CloudflareGateway(SecretStr(session.scenario.tokens[0].value), session.api.url) as gateway:
            zone = await gateway.zone_by_name("apps.example")
            kept: list[StoredZone] = []
            everything = AuditOptions(playbooks=load_registry().playbooks, probe=None, remember=kept.append)
            fresh, _ = await read_zone(gateway, zone, everything)
            reused, _ = await read_zone(gateway, zone, replace(everything, skip=SKIP_RULES), kept[0])
            return fresh, reused

    fresh, reused = asyncio.run(go())
    assert fresh.ssl_rules is not None and fresh.origin_rules  # apps.example has an Origin Rule
    assert (reused.ssl_rules, reused.origin_rules, reused.cache_rules) == (None, None, None)
    assert reused.records == fresh.records


def test_a_damaged_stored_row_is_read_again_with_a_warning(session: SandboxSession, env: dict[str, str]) -> None:
    audit(session, env, "--incremental")
    store = Path(env["CFREMEDY_STATE_DIR"]) / "snapshots.sqlite3"
    with sqlite3.connect(store) as db:
        db.execute("UPDATE snapshots SET data = substr(data, 1, 100) WHERE name = 'shop.example'")
    report, stderr, read = audit(session, env, "--incremental")
    assert read == {"shop.example"} and "1 stored snapshot unreadable" in stderr
    full, _, _ = audit(session, env)
    assert findings(report) == findings(full)
