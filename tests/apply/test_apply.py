"""Applying plans against the sandbox over real HTTP: refusals, drift, faults, idempotence, rollback.

Every claim is checked on the sandbox itself: its request log (what was sent) and its state
(what Cloudflare would now hold), compared with the journal (what cfremedy says happened).
"""

from __future__ import annotations

import asyncio
import re
import socket
import threading
from pathlib import Path
from types import TracebackType
from typing import Any
from urllib.parse import urlsplit

import pytest
from pydantic import SecretStr

from cfremedy.apply import (
    ApplyOptions,
    Executor,
    inverse_plan,
    prepare,
    reconcile,
    run_succeeded,
    safety_problems,
)
from cfremedy.errors import EXIT_API, EXIT_REFUSED, MissingPermission, Refused, UsageError
from cfremedy.gateway import CloudflareGateway, RetryPolicy, WritableGateway, WritesNotAllowed
from cfremedy.journal import ChangeState, Journal, Run, RunKind
from cfremedy.models import Change
from cfremedy.plan import Plan
from cfremedy.sandbox.api import SandboxApi
from cfremedy.sandbox.scenario import FaultSpec

TOKEN = "writer-token"
READ_ONLY = "reader-token"
ZONE = "apply.example"
FAST = RetryPolicy(attempts=4, backoff=0.005)
SETTINGS_BEFORE = {
    "ssl": "full",
    "origin_max_http_version": "2",
    "proxy_read_timeout": 100,
    "min_tls_version": "1.0",
    "always_use_https": "off",
}
SETTINGS_AFTER = {
    "ssl": "strict",
    "origin_max_http_version": "1",
    "proxy_read_timeout": 360,
    "min_tls_version": "1.2",
    "always_use_https": "on",
}


def scenario(seed: int = 0, extra_records: int = 15) -> dict[str, Any]:
    return {
        "sandbox": {"seed": seed},
        "tokens": [
            {
                "name": "writer",
                "value": TOKEN,
                "permissions": ["Zone Read", "Zone Settings Read", "Zone Settings Write", "DNS Read", "DNS Write"],
            },
            {"name": "reader", "value": READ_ONLY, "permissions": ["Zone Read", "Zone Settings Read", "DNS Read"]},
        ],
        "zones": [
            {
                "name": ZONE,
                "plan": "enterprise",
                "settings": SETTINGS_BEFORE,
                "generate_records": extra_records,
                "records": [
                    {"type": "A", "name": f"host{i}", "content": f"93.184.215.{i}", "proxied": True}
                    for i in range(1, 6)
                ],
            }
        ],
    }


def zone_id(api: SandboxApi) -> str:
    return api.state.zone_by_name(ZONE).id


def hosts(api: SandboxApi) -> list[Any]:
    return sorted((r for r in api.state.records(zone_id(api)) if r.name.startswith("host")), key=lambda r: r.name)


def ten_change_plan(api: SandboxApi) -> Plan:
    changes = [Change("test", f"setting:{k}", v, SETTINGS_AFTER[k], "test") for k, v in SETTINGS_BEFORE.items()]
    for record in hosts(api):
        fields = {"type": "A", "name": record.name}
        changes.append(
            Change(
                "test",
                f"dns:{record.id}",
                {**fields, "content": record.content},
                {**fields, "content": record.content.replace(".215.", ".216.")},
                "test",
            )
        )
    return Plan.new(ZONE, zone_id(api), tuple(changes))


def live(api: SandboxApi, change: Change) -> Any:
    if change.kind == "setting":
        return api.state.setting_value(zone_id(api), change.key)
    record = api.state.record(zone_id(api), change.key)
    return {"type": record.type, "name": record.name, "content": record.content}


def apply(
    api: SandboxApi,
    plan: Plan,
    state_dir: Path,
    options: ApplyOptions = ApplyOptions(),
    token: str = TOKEN,
    kind: RunKind = RunKind.APPLY,
    rolls_back: str | None = None,
    retry: RetryPolicy = FAST,
) -> Run:
    async def go() -> Run:
        async with WritableGateway(SecretStr(token), api.url, retry=retry) as gw:
            with Journal.in_state_dir(state_dir) as journal:
                prepared = await prepare(gw, plan, options)
                return await Executor(gw, journal, prepared, kind, rolls_back).run()

    return asyncio.run(go())


def writes(api: SandboxApi) -> list[str]:
    return [f"{r.method} {r.path}" for r in api.requests if r.method != "GET"]


# -- refusals: exit 4 (or 3), a message naming the reason, and not one write -------------------


def test_an_edited_plan_is_refused(sandbox_factory) -> None:
    api = sandbox_factory(scenario())
    data = ten_change_plan(api).to_dict()
    data["changes"][0]["after"] = "flexible"
    with pytest.raises(Refused, match="checksum mismatch") as caught:
        Plan.from_dict(data)
    assert caught.value.exit_code == EXIT_REFUSED


@pytest.mark.parametrize(
    "make_plan, options, reason",
    [
        (lambda p: p, ApplyOptions(max_changes=9), "10 changes exceed --max-changes 9"),
        (
            lambda p: Plan.new(ZONE, p.zone_id, p.changes[5:]),
            ApplyOptions(),
            None,
        ),  # 5 of 20 records (25 %) is allowed: the control case
        (
            lambda p: Plan.new(
                ZONE,
                p.zone_id,
                (*p.changes[:1], Change("test", "setting:ssl", "full", "flexible", "test", lowers_security=True))[1:],
            ),
            ApplyOptions(),
            "setting:ssl would lower security (pass --allow-downgrade)",
        ),
    ],
    ids=["max-changes", "dns-25-percent-ok", "downgrade"],
)
def test_safety_refusals_send_no_write(sandbox_factory, tmp_path: Path, make_plan, options, reason) -> None:
    api = sandbox_factory(scenario())
    plan = make_plan(ten_change_plan(api))
    api.clear_log()
    if reason is None:
        assert run_succeeded(apply(api, plan, tmp_path, options))
        return
    with pytest.raises(Refused) as caught:
        apply(api, plan, tmp_path, options)
    assert reason in caught.value.message and caught.value.exit_code == EXIT_REFUSED
    assert writes(api) == []


def test_dns_changes_over_30_percent_of_the_zone_are_refused(sandbox_factory, tmp_path: Path) -> None:
    api = sandbox_factory(scenario(extra_records=10))  # 5 DNS changes of 15 records: 33 %
    plan = Plan.new(ZONE, zone_id(api), ten_change_plan(api).changes[5:])
    api.clear_log()
    with pytest.raises(Refused, match="5 DNS changes touch 33% of the zone's 15 records"):
        apply(api, plan, tmp_path)
    assert writes(api) == []
    assert run_succeeded(apply(api, plan, tmp_path, ApplyOptions(force=True)))  # --force overrides


def test_a_token_that_cannot_write_is_refused_before_the_first_write(sandbox_factory, tmp_path: Path) -> None:
    api = sandbox_factory(scenario())
    plan = ten_change_plan(api)
    api.clear_log()
    with pytest.raises(MissingPermission) as caught:
        apply(api, plan, tmp_path, token=READ_ONLY)
    assert "'DNS Write', 'Zone Settings Write'" in caught.value.message
    assert caught.value.exit_code == EXIT_API
    assert writes(api) == []


def test_a_read_only_gateway_cannot_write(sandbox_factory) -> None:
    """Audit code holds a `CloudflareGateway`: it has no write method at all, and its transport
    refuses a write even when one is forced through it."""
    from cfremedy.gateway.transport import Op

    api = sandbox_factory(scenario())
    assert not any(hasattr(CloudflareGateway, m) for m in ("edit_setting", "edit_record", "batch_edit_records"))

    async def go() -> None:
        async with CloudflareGateway(SecretStr(TOKEN), api.url) as gw:
            zone = await gw.zone_by_name(ZONE)
            await gw._transport.send(
                Op("set ssl", write=True), "PATCH", f"/zones/{zone.id}/settings/ssl", {"value": "strict"}
            )

    with pytest.raises(WritesNotAllowed):
        asyncio.run(go())
    assert writes(api) == []


def test_safety_problems_is_pure_and_force_never_allows_a_downgrade() -> None:
    downgrade = Change("p", "setting:ssl", "strict", "full", "r", lowers_security=True)
    dns = [Change("p", f"dns:{i}", {"content": "a"}, {"content": "b"}, "r") for i in range(4)]
    plan = Plan.new("z", "id", (downgrade, *dns))
    assert safety_problems(plan, 10, ApplyOptions(max_changes=4)) == [
        "5 changes exceed --max-changes 4 (--force overrides)",
        "4 DNS changes touch 40% of the zone's 10 records (more than 30%; --force overrides)",
        "setting:ssl would lower security (pass --allow-downgrade)",
    ]
    assert safety_problems(plan, 100, ApplyOptions(allow_downgrade=True)) == []
    assert safety_problems(plan, 10, ApplyOptions(max_changes=0, force=True)) == [
        "setting:ssl would lower security (pass --allow-downgrade)"
    ]
    assert safety_problems(plan, 10, ApplyOptions(max_changes=0, force=True, allow_downgrade=True)) == []
    # a small zone: 4 of 6 records is no blast radius worth refusing
    assert safety_problems(plan, 6, ApplyOptions(allow_downgrade=True)) == []


@pytest.mark.parametrize(
    "before, after",
    [
        ({}, {}),
        ({"content": "a"}, {"content": "b", "proxied": False}),
        ({"comment": "a"}, {"comment": "b"}),
    ],
)
def test_dns_changes_the_drift_check_cannot_check_are_refused(
    sandbox_factory, tmp_path: Path, before: dict, after: dict
) -> None:
    api = sandbox_factory(scenario())
    record = hosts(api)[0]
    plan = Plan.new(ZONE, zone_id(api), (Change("p", f"dns:{record.id}", before, after, "r"),))
    with pytest.raises(UsageError, match="DNS change|same fields"):
        apply(api, plan, tmp_path)
    assert writes(api) == []


# -- the write protocol ---------------------------------------------------------------------------


def test_apply_writes_everything_and_a_second_apply_sends_no_write(sandbox_factory, tmp_path: Path) -> None:
    api = sandbox_factory(scenario())
    plan = ten_change_plan(api)
    run = apply(api, plan, tmp_path)
    assert [e.state for e in run.entries] == [ChangeState.APPLIED] * 10
    assert all(live(api, c) == c.after for c in plan.changes)
    assert "POST /zones/" + zone_id(api) + "/dns_records/batch" in writes(api)  # 5 records, one batch
    assert sum(1 for w in writes(api) if "/settings/" in w) == 5

    api.clear_log()
    again = apply(api, plan, tmp_path)
    assert writes(api) == []
    assert [e.state for e in again.entries] == [ChangeState.UNCHANGED] * 10
    assert again.outcome == "no-op"


def test_drift_is_never_overwritten(sandbox_factory, tmp_path: Path) -> None:
    api = sandbox_factory(scenario())
    plan = ten_change_plan(api)
    api.state.set_setting(zone_id(api), "ssl", "flexible")  # someone changed it after the plan
    moved = hosts(api)[0]
    api.state.patch_record(zone_id(api), moved.id, {"content": "93.184.217.1"})
    run = apply(api, plan, tmp_path)
    states = {e.change.target: e for e in run.entries}
    assert states["setting:ssl"].state is ChangeState.DRIFTED
    assert "'flexible'" in states["setting:ssl"].detail
    assert states[f"dns:{moved.id}"].state is ChangeState.DRIFTED
    assert api.state.setting_value(zone_id(api), "ssl") == "flexible"
    assert api.state.record(zone_id(api), moved.id).content == "93.184.217.1"
    assert run.count(ChangeState.APPLIED) == 8 and run.outcome == "partial"


@pytest.mark.parametrize("seed", range(20))
def test_under_random_faults_the_journal_and_the_sandbox_agree(sandbox_factory, tmp_path: Path, seed: int) -> None:
    api = sandbox_factory(scenario(seed=seed))
    plan = ten_change_plan(api)
    api.clear_log()
    api.set_faults(
        [
            FaultSpec(kind="429", rate=0.1, retry_after=0.01),
            FaultSpec(kind="500", rate=0.1),
            FaultSpec(kind="reset", rate=0.1),
        ]
    )
    # Eight attempts per request: prepare's reads get through (30 % faults, 0.3^8), so every
    # seed reaches the write protocol, which is what this test is about.
    run = apply(api, plan, tmp_path, retry=RetryPolicy(attempts=8, backoff=0.002))
    api.set_faults([])
    assert [w for w in writes(api) if not w.startswith("GET")], "no write was attempted"
    injected = [r.fault for r in api.requests if r.fault]
    assert injected, "the seed injected no fault: the test would prove nothing"
    for entry in run.entries:
        now = live(api, entry.change)
        if entry.state is ChangeState.APPLIED:
            assert now == entry.change.after, entry
        else:
            assert entry.state in (ChangeState.NOT_APPLIED,), entry
            assert now == entry.change.before, entry


def test_rollback_restores_what_the_run_applied(sandbox_factory, tmp_path: Path) -> None:
    api = sandbox_factory(scenario())
    plan = ten_change_plan(api)
    api.state.set_setting(zone_id(api), "brotli", "on")  # untouched by the plan
    run = apply(api, plan, tmp_path)
    inverse = inverse_plan(run)
    assert len(inverse.changes) == 10
    # what `cfremedy rollback` passes: restoring the earlier values may lower security (ssl
    # strict -> full), and the zone had them before the run
    rollback = ApplyOptions(force=True, allow_downgrade=True)
    undone = apply(api, inverse, tmp_path, rollback, kind=RunKind.ROLLBACK, rolls_back=run.id)
    assert run_succeeded(undone) and undone.rolls_back == run.id
    assert all(live(api, c) == c.before for c in plan.changes)
    assert api.state.setting_value(zone_id(api), "brotli") == "on"


def test_rollback_leaves_values_changed_since_the_run(sandbox_factory, tmp_path: Path) -> None:
    api = sandbox_factory(scenario())
    run = apply(api, ten_change_plan(api), tmp_path)
    api.state.set_setting(zone_id(api), "min_tls_version", "1.3")
    rollback = ApplyOptions(force=True, allow_downgrade=True)
    undone = apply(api, inverse_plan(run), tmp_path, rollback, kind=RunKind.ROLLBACK)
    drifted = [e for e in undone.entries if e.state is ChangeState.DRIFTED]
    assert [e.change.target for e in drifted] == ["setting:min_tls_version"]
    assert api.state.setting_value(zone_id(api), "min_tls_version") == "1.3"


def test_reconcile_settles_in_doubt_writes_from_live_values(sandbox_factory, tmp_path: Path) -> None:
    """A run killed between journaling `sent` and hearing back: the live value decides."""
    api = sandbox_factory(scenario())
    plan = Plan.new(ZONE, zone_id(api), ten_change_plan(api).changes[:2])
    with Journal.in_state_dir(tmp_path) as journal:
        run_id = journal.start_run(RunKind.APPLY, ZONE, zone_id(api), plan.checksum, plan.changes)
        journal.mark(run_id, [0, 1], ChangeState.SENT)  # then the process died
        api.state.set_setting(zone_id(api), "ssl", "strict")  # the first write had landed
        assert journal.run(run_id).outcome == "in doubt"

        async def go() -> Run:
            async with CloudflareGateway(SecretStr(TOKEN), api.url, retry=FAST) as gw:
                return await reconcile(gw, journal, journal.run(run_id))

        settled = asyncio.run(go())
    assert [e.state for e in settled.entries] == [ChangeState.APPLIED, ChangeState.NOT_APPLIED]
    assert settled.outcome == "interrupted"
    assert [c.target for c in inverse_plan(settled).changes] == ["setting:ssl"]


def test_a_write_the_api_refuses_is_reported_once_and_never_retried(sandbox_factory, tmp_path: Path) -> None:
    api = sandbox_factory(scenario())
    bad = Change("test", "setting:proxy_read_timeout", 100, 99999, "an invalid value")  # API: 400
    plan = Plan.new(ZONE, zone_id(api), (bad,))
    api.clear_log()
    run = apply(api, plan, tmp_path)
    (entry,) = run.entries
    assert entry.state is ChangeState.NOT_APPLIED
    assert entry.detail.startswith("refused by the API:") and "1007" in entry.detail
    assert [w for w in writes(api) if "proxy_read_timeout" in w] == [
        f"PATCH /zones/{zone_id(api)}/settings/proxy_read_timeout"
    ]  # one attempt, not three
    assert api.state.setting_value(zone_id(api), "proxy_read_timeout") == 100


class VanishingApi:
    """A loopback relay to the sandbox that stops listening once it has taken a GET whose path
    ends with `last`, before answering it: the API is gone between apply's read of the live
    value and its write. Every request goes upstream with `Connection: close`, so the next one
    needs a new connection, which is refused. Connections are served one at a time, in the
    thread that accepts them, so the listener is closed by the only thread using it."""

    def __init__(self, upstream: str, last: str) -> None:
        parts = urlsplit(upstream)
        self._upstream = (parts.hostname or "127.0.0.1", parts.port or 80)
        self._last = last.encode()
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(0.1)
        self.url = f"http://127.0.0.1:{self._listener.getsockname()[1]}{parts.path}"
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._accept, daemon=True)

    def __enter__(self) -> VanishingApi:
        self._thread.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self._listener.close()

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                client, _ = self._listener.accept()
            except TimeoutError:
                continue
            with client:
                if self._relay(client):
                    self._listener.close()  # gone: connecting is refused from now on
                    return

    def _relay(self, client: socket.socket) -> bool:
        """Relay one request and its answer; True when it was the last one."""
        client.settimeout(10)
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = client.recv(65536)
            if not chunk:
                return False
            head += chunk
        head, _, body = head.partition(b"\r\n\r\n")
        line, _, headers = head.partition(b"\r\n")
        headers = re.sub(rb"(?im)^connection:[^\r\n]*(\r\n|$)", b"", headers).rstrip(b"\r\n")
        length = re.search(rb"(?im)^content-length:\s*(\d+)", headers)
        while length and len(body) < int(length.group(1)):
            body += client.recv(65536)
        method, target = line.split(b" ")[:2]
        last = method == b"GET" and target.split(b"?")[0].endswith(self._last)
        if last:
            self._listener.close()  # before the answer: the client's next request finds no API
        with socket.create_connection(self._upstream, timeout=10) as upstream:
            upstream.sendall(line + b"\r\n" + headers + b"\r\nConnection: close\r\n\r\n" + body)
            while chunk := upstream.recv(65536):
                client.sendall(chunk)
        return last


def test_a_write_whose_connection_cannot_be_made_is_not_applied_rather_than_in_doubt(
    sandbox_factory, tmp_path: Path
) -> None:
    """The API vanishes after the live value was read: the PATCH never leaves, which is known
    for certain, so the change is journaled as not applied ("not sent"), not left in doubt
    waiting for a read-back that cannot happen either."""
    api = sandbox_factory(scenario())
    plan = Plan.new(ZONE, zone_id(api), (Change("test", "setting:ssl", "full", "strict", "test"),))
    api.clear_log()
    with VanishingApi(api.url, "/settings/ssl") as vanishing:

        async def go() -> Run:
            async with WritableGateway(SecretStr(TOKEN), vanishing.url, retry=FAST) as gw:
                with Journal.in_state_dir(tmp_path) as journal:
                    return await Executor(gw, journal, await prepare(gw, plan, ApplyOptions())).run()

        run = asyncio.run(go())
    (entry,) = run.entries
    assert entry.state is ChangeState.NOT_APPLIED, entry
    assert entry.detail.startswith("not sent: cannot reach the Cloudflare API") and "was not made" in entry.detail
    assert run.outcome == "failed" and run.in_doubt == ()
    assert [f"{r.method} {r.path}" for r in api.requests] == [
        f"GET /zones/{zone_id(api)}",
        f"GET /zones/{zone_id(api)}/settings/ssl",
    ]  # the write never reached the API
    assert api.state.setting_value(zone_id(api), "ssl") == "full"


# -- the plan turned against its own safety checks (issue 13) ---------------------------------------

OTHER = "other.example"


def two_zones() -> dict[str, Any]:
    data = scenario()
    data["zones"].append({"name": OTHER, "plan": "enterprise", "settings": SETTINGS_BEFORE})
    return data


def test_a_plan_whose_zone_id_is_another_zones_is_refused_before_any_write(sandbox_factory, tmp_path: Path) -> None:
    """A retargeted plan whose checksum was recomputed: the live zone of that id is not the
    plan's zone, so nothing is sent to either."""
    api = sandbox_factory(two_zones())
    other = api.state.zone_by_name(OTHER).id
    # The plan's zone id edited and the unkeyed checksum recomputed over the edit:
    data = Plan.new(ZONE, other, ten_change_plan(api).changes[:5]).to_dict()
    retargeted = Plan.from_dict(data)  # the checksum holds: only the live zone can tell
    api.clear_log()
    with pytest.raises(Refused, match=f"the plan is for zone {ZONE} but its zone id {other} is {OTHER}") as caught:
        apply(api, retargeted, tmp_path)
    assert caught.value.exit_code == EXIT_REFUSED
    assert writes(api) == []
    assert api.state.setting_value(other, "ssl") == "full"


def test_a_downgrade_the_file_calls_safe_is_still_a_downgrade(sandbox_factory, tmp_path: Path) -> None:
    """SSL Full -> Off with `lowers_security: false` and a recomputed checksum went through."""
    api = sandbox_factory(scenario())
    data = Plan.new(ZONE, zone_id(api), (Change("test", "setting:ssl", "full", "off", "test"),)).to_dict()
    assert data["changes"][0]["lowers_security"] is False
    forged = Plan.from_dict(data)
    api.clear_log()
    with pytest.raises(Refused, match="setting:ssl would lower security"):
        apply(api, forged, tmp_path)
    assert writes(api) == [] and api.state.setting_value(zone_id(api), "ssl") == "full"
    assert run_succeeded(apply(api, forged, tmp_path, ApplyOptions(allow_downgrade=True)))
    assert api.state.setting_value(zone_id(api), "ssl") == "off"


@pytest.mark.parametrize(
    "target", ["setting:../dns_records/{record}", "setting:../../../user/tokens/x", "dns:{record}/../../settings/ssl"]
)
def test_a_target_that_could_reach_another_path_sends_no_request_at_all(
    sandbox_factory, tmp_path: Path, target: str
) -> None:
    """Even a plan built in code (never read from a file) is checked before the first request."""
    api = sandbox_factory(scenario())
    record = hosts(api)[0]
    change = Change("p", target.format(record=record.id), {"content": "a"}, {"content": "b"}, "r")
    plan = Plan(ZONE, zone_id(api), (change,), "")
    api.clear_log()
    with pytest.raises(UsageError, match="not a plan cfremedy can apply"):
        apply(api, plan, tmp_path)
    assert api.requests == []


def test_the_gateway_refuses_a_path_segment_that_is_not_an_id(sandbox_factory) -> None:
    api = sandbox_factory(scenario())

    async def go() -> None:
        async with WritableGateway(SecretStr(TOKEN), api.url, retry=FAST) as gw:
            zone = await gw.zone_by_name(ZONE)
            api.clear_log()
            for attempt in (
                gw.get_setting(zone, "../dns_records"),
                gw.edit_setting(zone, "../../user/tokens/x", "on"),
                gw.get_record(zone, "a/../b"),
                gw.edit_record(zone, "%2e%2e", {"content": "x"}),
                gw.zone_by_id("../zones"),
            ):
                with pytest.raises(UsageError, match="it is not an id"):
                    await attempt

    asyncio.run(go())
    assert api.requests == []


# -- refresh, --only ----------------------------------------------------------------------------------


def test_refresh_reads_every_live_value_and_says_what_applying_would_do(sandbox_factory, tmp_path: Path) -> None:
    from cfremedy.apply import refresh

    api = sandbox_factory(scenario())
    plan = ten_change_plan(api)
    api.state.set_setting(zone_id(api), "ssl", "flexible")  # drifted
    api.state.set_setting(zone_id(api), "always_use_https", "on")  # already done
    api.clear_log()

    async def go() -> tuple[Any, ...]:
        async with CloudflareGateway(SecretStr(TOKEN), api.url, retry=FAST) as gw:
            zone = await gw.zone_by_id(zone_id(api))
            return await refresh(gw, zone, plan.changes)

    refreshed = asyncio.run(go())
    status = {r.change.target: r.status for r in refreshed}
    assert status.pop("setting:ssl") == "drifted" and status.pop("setting:always_use_https") == "already done"
    assert set(status.values()) == {"to change"}
    assert [r.will_write for r in refreshed].count(True) == 8
    drifted = next(r for r in refreshed if r.status == "drifted")
    assert "'flexible'" in drifted.detail and "'full'" in drifted.detail
    assert {r.method for r in api.requests} == {"GET"}


def test_a_run_of_part_of_a_plan_journals_which_part(sandbox_factory, tmp_path: Path) -> None:
    api = sandbox_factory(scenario())
    whole = ten_change_plan(api)
    part = whole.subset(["setting:proxy_read_timeout", f"dns:{hosts(api)[0].id}"])

    async def go() -> Run:
        async with WritableGateway(SecretStr(TOKEN), api.url, retry=FAST) as gw:
            with Journal.in_state_dir(tmp_path) as journal:
                prepared = await prepare(gw, part, ApplyOptions())
                only = ("setting:proxy_read_timeout", f"dns:{hosts(api)[0].id}")
                return await Executor(gw, journal, prepared, only=only, checksum=whole.checksum).run()

    run = asyncio.run(go())
    assert run.only == ("setting:proxy_read_timeout", f"dns:{hosts(api)[0].id}")
    assert run.plan_checksum == whole.checksum
    assert [e.change.target for e in run.entries] == [c.target for c in part.changes]
    assert run_succeeded(run)
    assert api.state.setting_value(zone_id(api), "ssl") == "full"  # not selected, not touched
