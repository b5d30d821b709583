"""Deciding which zones an incremental audit reads again (`cfremedy.incremental`), on plain data.

The end-to-end proof (a full audit, changes through the API, an incremental audit and a full one
giving the same findings) is `tests/cli/test_incremental.py`; here each rule of the decision
is pinned down on its own, and the snapshot codec is shown lossless.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from cfremedy.errors import ApiError
from cfremedy.gateway import parse
from cfremedy.incremental import (
    MARGIN,
    AccountLog,
    StoredZone,
    Unreadable,
    changes_by_zone,
    codec,
    decide,
    decode,
    encode,
    log_since,
    stored_zone,
)
from cfremedy.models import (
    AuditEntry,
    CacheRule,
    DnsRecord,
    LoadBalancer,
    OriginRule,
    Pool,
    SslRule,
    Zone,
    ZoneSnapshot,
    frozen_mapping,
)

NOW = datetime(2026, 12, 6, 3, 0, tzinfo=UTC)
READ = NOW - timedelta(days=1)
A = Zone("a" * 32, "a.example", "pro", "acc1")
B = Zone("b" * 32, "b.example", "enterprise", "acc1")
C = Zone("c" * 32, "c.example", "pro", "acc2")
SOURCES = frozenset({"ssl_rules", "origin_rules", "cache_rules", "load_balancers"})


def snapshot(zone: Zone) -> ZoneSnapshot:
    return ZoneSnapshot(
        zone=zone,
        settings=frozen_mapping({"ssl": "full", "minify": {"css": "on", "js": "off"}, "max_upload": 100}),
        editable=frozen_mapping({"ssl": True, "proxy_read_timeout": False}),
        records=(
            DnsRecord("r1", "A", f"www.{zone.name}", "192.0.2.1", True, 1),
            DnsRecord("r2", "CNAME", f"app.{zone.name}", "x.cfargotunnel.com", True, 300),
        ),
        ssl_rules=(SslRule("config_rule", "id1", "flexible", "api", f'(http.host eq "api.{zone.name}")'),),
        origin_rules=(OriginRule("o1", f'(http.host eq "api.{zone.name}")', origin_port=8443, sni="api.internal"),),
        cache_rules=(CacheRule("c1", '(starts_with(http.request.uri.path, "/export"))', read_timeout=300),),
        load_balancers=(
            LoadBalancer(
                "lb1",
                f"www.{zone.name}",
                default_pools=("p1", "p2"),
                fallback_pool="p2",
                region_pools=frozen_mapping({"WNAM": ("p1",)}),
            ),
        ),
        pools=(Pool("p1", "pool-1"),),
    )


def stored(zone: Zone, read_at: datetime = READ, sources: frozenset[str] = SOURCES) -> StoredZone:
    return stored_zone(snapshot(zone), read_at, sources)


def entry(zone_name: str = "", when: datetime = NOW, **kw: object) -> AuditEntry:
    values: dict[str, object] = {"id": "e", "when": when.isoformat(), "action": "rec_set", "succeeded": True}
    values.update({"resource_type": "DNS_record", "zone_name": zone_name, **kw})
    return AuditEntry(**values)  # type: ignore[arg-type]


def log(*entries: AuditEntry, account: str = "acc1") -> dict[str, AccountLog]:
    return {account: AccountLog(account, READ - MARGIN, entries)}


def test_the_codec_keeps_the_zones_own_part_whole_and_frozen() -> None:
    original = snapshot(A)
    back = decode(encode(original), A)
    assert back == replace(original, pools=None, tunnels=None)  # the account's part is read fresh
    assert back.settings["minify"] == {"css": "on", "js": "off"}
    with pytest.raises(TypeError):
        back.settings["ssl"] = "off"  # type: ignore[index]
    assert back.load_balancers is not None
    with pytest.raises(TypeError):
        back.load_balancers[0].region_pools["EEU"] = ("p3",)  # type: ignore[index]


def test_decode_takes_the_zone_as_listed_now() -> None:
    now_listed = replace(A, permissions=("#zone:read",))
    assert decode(encode(snapshot(A)), now_listed).zone == now_listed


def test_a_zone_nothing_names_is_taken_from_the_store() -> None:
    decision = decide(
        [A, B], {A.id: stored(A), B.id: stored(B)}, log(), needed=SOURCES, max_age=timedelta(days=7), now=NOW
    )
    assert set(decision.reuse) == {A.id, B.id} and not decision.reread


@pytest.mark.parametrize(
    "named",
    [
        {"zone_name": "a.example"},
        {"zone_id": "a" * 32},
        {"resource_type": "zone", "resource_id": "a" * 32},
    ],
    ids=["zone-name", "zone-id", "zone-as-resource"],
)
def test_an_entry_naming_a_zone_marks_only_that_zone_changed(named: dict[str, str]) -> None:
    changed = entry(**named)  # type: ignore[arg-type]
    decision = decide(
        [A, B], {A.id: stored(A), B.id: stored(B)}, log(changed), needed=SOURCES, max_age=timedelta(days=7), now=NOW
    )
    assert dict(decision.reread) == {A.id: "changed"} and set(decision.reuse) == {B.id}


def test_the_api_s_entries_are_read_whatever_parts_they_leave_out() -> None:
    full = parse.audit_entry(
        {
            "id": "x",
            "when": "2026-12-06T01:02:03Z",
            "action": {"type": "rec_add", "result": True},
            "resource": {"type": "DNS_record", "id": "r9"},
            "metadata": {"zone_name": "A.Example.", "zone_id": "a" * 32},
        }
    )
    assert (full.zone_name, full.zone_id, full.action, full.resource_id) == ("a.example", "a" * 32, "rec_add", "r9")
    bare = parse.audit_entry({"when": "2026-12-06T01:02:03Z", "action": {"result": False}})
    assert (bare.zone_name, bare.resource_type, bare.succeeded) == ("", "", False)
    with pytest.raises(ApiError, match="an entry of the log"):
        parse.convert(parse.audit_entry, {"id": "no time"}, "an entry of the log")


def test_a_change_older_than_the_snapshot_less_the_margin_is_already_in_it() -> None:
    before = entry("a.example", when=READ - MARGIN - timedelta(seconds=1))
    within = entry("a.example", when=READ - MARGIN + timedelta(seconds=1))
    keep = decide([A], {A.id: stored(A)}, log(before), needed=SOURCES, max_age=timedelta(days=7), now=NOW)
    redo = decide([A], {A.id: stored(A)}, log(within), needed=SOURCES, max_age=timedelta(days=7), now=NOW)
    assert set(keep.reuse) == {A.id} and dict(redo.reread) == {A.id: "changed"}


def test_a_change_whose_time_cannot_be_read_counts_as_a_change() -> None:
    odd = replace(entry("a.example"), when="yesterday-ish")
    decision = decide([A], {A.id: stored(A)}, log(odd), needed=SOURCES, max_age=timedelta(days=7), now=NOW)
    assert dict(decision.reread) == {A.id: "changed"}


def test_a_failed_action_changed_nothing() -> None:
    failed = replace(entry("a.example"), succeeded=False)
    decision = decide([A], {A.id: stored(A)}, log(failed), needed=SOURCES, max_age=timedelta(days=7), now=NOW)
    assert set(decision.reuse) == {A.id}


def test_account_level_entries_are_read_fresh_anyway() -> None:
    pool = entry(resource_type="pool", resource_id="p1")
    tunnel = entry(resource_type="cfd_tunnel", resource_id="t1")
    decision = decide([A], {A.id: stored(A)}, log(pool, tunnel), needed=SOURCES, max_age=timedelta(days=7), now=NOW)
    assert set(decision.reuse) == {A.id}


def test_an_entry_that_may_be_any_zones_rereads_the_whole_account_only() -> None:
    unknown = entry(resource_type="worker_route", resource_id="w1")
    zones = [A, B, C]
    logs = {**log(unknown), **log(account="acc2")}
    everything = {z.id: stored(z) for z in zones}
    decision = decide(zones, everything, logs, needed=SOURCES, max_age=timedelta(days=7), now=NOW)
    assert dict(decision.reread) == {
        A.id: "unattributed changes in the audit log",
        B.id: "unattributed changes in the audit log",
    }
    assert set(decision.reuse) == {C.id}
    assert changes_by_zone([unknown], zones)[1] == [unknown]


def test_an_entry_naming_a_zone_this_run_does_not_audit_is_not_a_doubt() -> None:
    elsewhere = entry("not-audited.example")
    decision = decide([A], {A.id: stored(A)}, log(elsewhere), needed=SOURCES, max_age=timedelta(days=7), now=NOW)
    assert set(decision.reuse) == {A.id}


@pytest.mark.parametrize(
    "logs, reason",
    [
        ({}, "audit log not read"),
        ({"acc1": AccountLog("acc1", READ, None, "the token lacks Account Settings Read")}, "audit log unreadable"),
    ],
)
def test_an_account_whose_log_said_nothing_usable_is_read_in_full(logs: dict[str, AccountLog], reason: str) -> None:
    decision = decide([A], {A.id: stored(A)}, logs, needed=SOURCES, max_age=timedelta(days=7), now=NOW)
    assert dict(decision.reread) == {A.id: reason}


def test_what_the_store_cannot_answer_for_is_read_again() -> None:
    zones = [A, B, C, replace(Zone("d" * 32, "d.example", "pro", "acc1"))]
    kept = {
        A.id: stored(A, read_at=NOW - timedelta(days=8)),
        B.id: stored(B, sources=SOURCES - {"origin_rules"}),
        C.id: stored(replace(C, plan="business")),
    }
    logs = {**log(), **log(account="acc2")}
    decision = decide(zones, kept, logs, needed=SOURCES, max_age=timedelta(days=7), now=NOW)
    assert dict(decision.reread) == {
        A.id: "older than --max-age",
        B.id: "stored without a source this run reads",
        C.id: "plan or status changed",
        "d" * 32: "not stored",
    }
    assert "0 zone(s) from stored snapshots, 4 read again" in decision.summary()


def test_a_run_that_reads_fewer_sources_may_use_a_fuller_snapshot() -> None:
    decision = decide(
        [A], {A.id: stored(A)}, log(), needed=frozenset({"ssl_rules"}), max_age=timedelta(days=7), now=NOW
    )
    assert set(decision.reuse) == {A.id}


def test_the_log_is_read_from_the_oldest_snapshot_less_the_margin() -> None:
    older, newer = stored(A, read_at=READ - timedelta(hours=5)), stored(B)
    assert log_since([newer, older]) == READ - timedelta(hours=5) - MARGIN
    assert log_since([]) is None


def test_a_snapshot_of_another_shape_or_damaged_is_read_again() -> None:
    other_version = stored(A)
    other_version = replace(other_version, data=other_version.data.replace(codec(), "0" * 16))
    damaged = replace(stored(B), data=stored(B).data[:50])
    decision = decide(
        [A, B], {A.id: other_version, B.id: damaged}, log(), needed=SOURCES, max_age=timedelta(days=7), now=NOW
    )
    assert dict(decision.reread) == {A.id: "stored snapshot unreadable", B.id: "stored snapshot unreadable"}
    with pytest.raises(Unreadable, match="written by a cfremedy whose snapshots differ"):
        decode(other_version.data, A)


def test_a_secondary_zone_is_never_taken_from_the_store() -> None:
    secondary = replace(A, type="secondary")
    decision = decide([secondary], {A.id: stored(secondary)}, log(), needed=SOURCES, max_age=timedelta(days=7), now=NOW)
    assert decision.reread[A.id].startswith("secondary zone")


def test_a_zone_moved_to_another_account_is_read_again() -> None:
    moved = replace(A, account_id="acc9")
    decision = decide(
        [moved], {A.id: stored(A)}, log(account="acc9"), needed=SOURCES, max_age=timedelta(days=7), now=NOW
    )
    assert dict(decision.reread) == {A.id: "plan or status changed"}


def test_settings_values_come_back_as_a_fresh_read_gives_them() -> None:
    """The mapping is frozen like a fresh read's; the values inside are plain JSON, as read."""
    back = decode(encode(snapshot(A)), A)
    assert type(back.settings["minify"]) is dict
