"""The SQLite journal of apply/rollback runs and stored audits, on a real database file.

The journal is what `history`, `rollback` and `reconcile` trust after a crash: a run's outcome is
derived from its entries, ids are typed by hand (so prefixes and suffixes must resolve, or say
why not), audits feed baselines (so a failed one must be told apart), and a journal written by
another version must be migrated or refused, never misread.
"""

from __future__ import annotations

import json
import os
import re
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from cfremedy.errors import EXIT_USAGE, UsageError
from cfremedy.journal import FILENAME, SCHEMA_VERSION, ChangeState, Journal, RunKind
from cfremedy.models import Change

ZONE = "journal.example"
ZONE_ID = "023e105f4ecef8ad9ca31a8372d0c353"
CHECKSUM = "sha256:" + "ab" * 32
CHANGES = (
    Change("ssl_mode", "setting:ssl", "full", "strict", "the origin presents a valid certificate"),
    Change(
        "origin_http2", "setting:origin_max_http_version", "2", "1", "the origin cannot speak h2", lowers_security=True
    ),
    Change(
        "dns_origin",
        "dns:372e67954025e0ba6aaa6d586b9e0b59",
        {"type": "A", "name": "www.journal.example", "content": "192.0.2.1"},
        {"type": "A", "name": "www.journal.example", "content": "93.184.215.14"},
        "a reserved address",
    ),
)
RUN_ID = re.compile(r"^\d{8}T\d{6}Z-[0-9a-f]{6}$")

# The schema cfremedy wrote before audits recorded whether they ran to the end (user_version 1).
V1_SCHEMA = """
CREATE TABLE runs (
    id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    zone TEXT NOT NULL,
    zone_id TEXT NOT NULL,
    plan_checksum TEXT NOT NULL,
    started_at TEXT NOT NULL,
    finished_at TEXT,
    rolls_back TEXT REFERENCES runs(id)
);
CREATE TABLE entries (
    run_id TEXT NOT NULL REFERENCES runs(id),
    seq INTEGER NOT NULL,
    change TEXT NOT NULL,
    state TEXT NOT NULL,
    detail TEXT NOT NULL DEFAULT '',
    updated_at TEXT NOT NULL,
    PRIMARY KEY (run_id, seq)
);
CREATE TABLE audits (
    id TEXT PRIMARY KEY,
    scope TEXT NOT NULL,
    started_at TEXT NOT NULL,
    report TEXT NOT NULL
);
CREATE INDEX audits_by_scope ON audits (scope, started_at);
"""


def user_version(path: Path) -> int:
    db = sqlite3.connect(path)
    try:
        return int(db.execute("PRAGMA user_version").fetchone()[0])
    finally:
        db.close()


def start(journal: Journal, changes: tuple[Change, ...] = CHANGES) -> str:
    return journal.start_run(RunKind.APPLY, ZONE, ZONE_ID, CHECKSUM, changes)


# -- runs -------------------------------------------------------------------------------------------


def test_a_new_run_holds_every_planned_change_as_pending(tmp_path: Path) -> None:
    with Journal.in_state_dir(tmp_path) as journal:
        run_id = start(journal)
        run = journal.run(run_id)
    assert (tmp_path / FILENAME).is_file()
    assert RUN_ID.match(run_id), run_id
    assert (run.id, run.kind, run.zone, run.zone_id, run.plan_checksum) == (
        run_id,
        RunKind.APPLY,
        ZONE,
        ZONE_ID,
        CHECKSUM,
    )
    assert run.finished_at is None and run.rolls_back is None
    assert [e.seq for e in run.entries] == [0, 1, 2]
    assert tuple(e.change for e in run.entries) == CHANGES
    assert {e.state for e in run.entries} == {ChangeState.PENDING}
    assert run.outcome == "interrupted"


def test_a_run_lifecycle_is_recorded_state_by_state_and_survives_reopening(tmp_path: Path) -> None:
    with Journal.in_state_dir(tmp_path) as journal:
        run_id = start(journal)
        journal.mark(run_id, 0, ChangeState.SENT)
        sent = journal.run(run_id)
        assert [e.seq for e in sent.in_doubt] == [0]
        assert sent.outcome == "in doubt"

        journal.mark(run_id, 0, ChangeState.APPLIED, "read back: strict")
        journal.mark(run_id, [1, 2], ChangeState.UNCHANGED, "already had the planned value")
        assert journal.run(run_id).finished_at is None
        journal.finish_run(run_id)

    with Journal.in_state_dir(tmp_path) as reopened:  # what a later `history` would read
        run = reopened.run(run_id)
    assert run.finished_at is not None and run.finished_at >= run.started_at
    assert [(e.state, e.detail) for e in run.entries] == [
        (ChangeState.APPLIED, "read back: strict"),
        (ChangeState.UNCHANGED, "already had the planned value"),
        (ChangeState.UNCHANGED, "already had the planned value"),
    ]
    assert run.in_doubt == ()
    assert run.count(ChangeState.APPLIED) == 1 and run.count(ChangeState.UNCHANGED) == 2
    assert run.outcome == "applied"


@pytest.mark.parametrize(
    ("states", "finished", "outcome"),
    [
        ((ChangeState.APPLIED, ChangeState.APPLIED), True, "applied"),
        ((ChangeState.APPLIED, ChangeState.UNCHANGED), True, "applied"),
        ((ChangeState.APPLIED, ChangeState.NOT_APPLIED), True, "partial"),
        ((ChangeState.DRIFTED, ChangeState.APPLIED), True, "partial"),
        ((ChangeState.APPLIED, ChangeState.PENDING), False, "interrupted"),
        ((ChangeState.APPLIED, ChangeState.PENDING), True, "aborted"),
        ((ChangeState.APPLIED, ChangeState.SENT), False, "in doubt"),
        ((ChangeState.APPLIED, ChangeState.SENT), True, "in doubt"),  # finished, yet still unknown
        ((ChangeState.UNCHANGED, ChangeState.UNCHANGED), True, "no-op"),
        ((ChangeState.NOT_APPLIED, ChangeState.DRIFTED), True, "failed"),
    ],
)
def test_a_runs_outcome_is_derived_from_its_entries(
    tmp_path: Path, states: tuple[ChangeState, ...], finished: bool, outcome: str
) -> None:
    with Journal.in_state_dir(tmp_path) as journal:
        run_id = start(journal, CHANGES[: len(states)])
        for seq, state in enumerate(states):
            journal.mark(run_id, seq, state)
        if finished:
            journal.finish_run(run_id)
        assert journal.run(run_id).outcome == outcome


def test_runs_are_listed_newest_first_even_when_they_start_in_the_same_second(tmp_path: Path) -> None:
    with Journal.in_state_dir(tmp_path) as journal:
        # Started back to back: most share a second, so their ids order them only by chance.
        started = [start(journal, CHANGES[:1]) for _ in range(6)]
        rollback = journal.start_run(RunKind.ROLLBACK, ZONE, ZONE_ID, CHECKSUM, CHANGES[:1], rolls_back=started[2])
        listed = journal.runs()
        assert [r.id for r in listed] == [rollback, *reversed(started)]
        assert [r.id for r in journal.runs(limit=2)] == [rollback, started[-1]]
    assert (listed[0].kind, listed[0].rolls_back) == (RunKind.ROLLBACK, started[2])
    assert {r.kind for r in listed[1:]} == {RunKind.APPLY}


def test_a_run_is_found_by_its_id_or_a_unique_prefix_or_suffix(tmp_path: Path) -> None:
    with Journal.in_state_dir(tmp_path) as journal:
        first, second = start(journal), start(journal)
        common = os.path.commonprefix([first, second])
        unique_prefix = first[: len(common) + 1]
        suffix = first.rsplit("-", 1)[1]  # what `history` users type: 3f9a for ...Z-3f9a
        assert journal.run(first).id == first
        assert journal.run(second).id == second
        assert journal.run(unique_prefix).id == first
        assert journal.run(suffix).id == first


def test_an_ambiguous_run_id_is_refused_naming_every_candidate(tmp_path: Path) -> None:
    with Journal.in_state_dir(tmp_path) as journal:
        first, second = start(journal), start(journal)
        common = os.path.commonprefix([first, second])  # at least the year
        with pytest.raises(UsageError, match="ambiguous") as caught:
            journal.run(common)
    assert first in caught.value.message and second in caught.value.message
    assert caught.value.exit_code == EXIT_USAGE


def test_an_unknown_run_id_is_a_usage_error_pointing_at_history(tmp_path: Path) -> None:
    with Journal.in_state_dir(tmp_path) as journal:
        start(journal)
        with pytest.raises(UsageError, match="no run 'zzzz'") as caught:
            journal.run("zzzz")
    assert str(tmp_path / FILENAME) in caught.value.message
    assert "cfremedy history" in caught.value.hint


def test_an_empty_or_wildcard_id_matches_no_run_or_audit_but_its_own(tmp_path: Path) -> None:
    """The lookup used SQL LIKE with `%` and `_` stripped: an empty id, or one of wildcards
    only, became `LIKE '%'` and named the only run there was (`cfremedy rollback ""`)."""
    with Journal.in_state_dir(tmp_path) as journal:
        only = start(journal)
        audit = journal.record_audit("zone example.com", {"zones": []})
        wildcard = only[:4] + "_" + only[5:]  # one character replaced by LIKE's any-one
        for wanted in ["", "%", "_", "%%", "2%", "%" + only[-3:], "_" * len(only), wildcard, only.lower()]:
            with pytest.raises(UsageError, match="empty run id|no run") as caught:
                journal.run(wanted)
            assert caught.value.exit_code == EXIT_USAGE
            with pytest.raises(UsageError, match="empty audit id|no audit"):
                journal.audit(wanted.replace(only, audit))
        assert journal.run(only[:10]).id == only and journal.run(only[-4:]).id == only  # still found
        assert journal.audit(audit[-6:]).id == audit


# -- audits -----------------------------------------------------------------------------------------


def test_audits_are_listed_newest_first_by_scope_by_outcome_and_before_a_given_one(tmp_path: Path) -> None:
    with Journal.in_state_dir(tmp_path) as journal:
        a1 = journal.record_audit("zone a.example", {"n": 1, "zones": [{"name": "a.example"}]})
        a2 = journal.record_audit("zone a.example", {"n": 2}, ok=False)
        b3 = journal.record_audit("zone b.example", {"n": 3})
        a4 = journal.record_audit("zone a.example", {"n": 4})

        def ns(**kwargs: Any) -> list[int]:
            return [record.report["n"] for record in journal.audits(**kwargs)]

        assert ns() == [4, 3, 2, 1]
        assert ns(limit=2) == [4, 3]
        assert ns(scope="zone a.example") == [4, 2, 1]
        assert ns(ok_only=True) == [4, 3, 1]
        assert ns(scope="zone a.example", ok_only=True) == [4, 1]
        # `before` leaves out the audit given and everything recorded after it.
        assert ns(before=b3) == [2, 1]
        assert ns(scope="zone a.example", ok_only=True, before=a4) == [1]
        assert ns(before=a1) == []

        failed = journal.audit(a2)
        kept = journal.audit(a1)
    assert (failed.id, failed.scope, failed.ok, failed.report) == (a2, "zone a.example", False, {"n": 2})
    assert kept.ok is True and kept.report == {"n": 1, "zones": [{"name": "a.example"}]}
    assert RUN_ID.match(b3), b3


def test_an_audit_is_found_by_a_unique_suffix_and_an_unknown_one_is_refused(tmp_path: Path) -> None:
    with Journal.in_state_dir(tmp_path) as journal:
        audit_id = journal.record_audit("zone a.example", {"n": 1})
        start(journal)  # runs and audits are looked up apart
        assert journal.audit(audit_id.rsplit("-", 1)[1]).id == audit_id
        with pytest.raises(UsageError, match="no audit 'nope'"):
            journal.audit("nope")


# -- versions and places ----------------------------------------------------------------------------


def test_a_version_1_journal_is_migrated_and_its_audits_count_as_complete(tmp_path: Path) -> None:
    path = tmp_path / FILENAME
    old = sqlite3.connect(path)
    old.executescript(V1_SCHEMA)
    old.execute(
        "INSERT INTO audits (id, scope, started_at, report) VALUES (?, ?, ?, ?)",
        ("20250101T000000Z-abcd", "zone a.example", "2025-01-01T00:00:00.000Z", json.dumps({"zones": [], "n": 1})),
    )
    old.execute("PRAGMA user_version=1")
    old.commit()
    old.close()

    with Journal(path) as journal:
        [record] = journal.audits(ok_only=True)
        assert (record.id, record.ok, record.report) == ("20250101T000000Z-abcd", True, {"zones": [], "n": 1})
        journal.record_audit("zone a.example", {"n": 2}, ok=False)
    assert user_version(path) == SCHEMA_VERSION

    with Journal(path) as again:  # migrating twice must not try to add the column twice
        assert [(r.report["n"], r.ok) for r in again.audits()] == [(2, False), (1, True)]
        assert again.audit("abcd").id == "20250101T000000Z-abcd"


def test_runs_of_an_older_journal_applied_their_whole_plan_and_new_ones_record_only(tmp_path: Path) -> None:
    """Version 3 adds `runs.only` (`apply --only`): runs stored before it applied whole plans."""
    path = tmp_path / FILENAME
    old = sqlite3.connect(path)
    old.executescript(V1_SCHEMA)
    old.execute(
        "INSERT INTO runs (id, kind, zone, zone_id, plan_checksum, started_at) VALUES (?, ?, ?, ?, ?, ?)",
        ("20250101T000000Z-abcd", "apply", ZONE, ZONE_ID, CHECKSUM, "2025-01-01T00:00:00.000Z"),
    )
    old.execute("PRAGMA user_version=2")
    old.commit()
    old.close()

    with Journal(path) as journal:
        assert journal.run("abcd").only == ()
        run_id = journal.start_run(RunKind.APPLY, ZONE, ZONE_ID, CHECKSUM, CHANGES[:1], only=("setting:ssl",))
    assert user_version(path) == SCHEMA_VERSION == 3
    with Journal(path) as again:
        assert again.run(run_id).only == ("setting:ssl",)
        assert [r.only for r in again.runs()] == [("setting:ssl",), ()]


def test_a_journal_from_a_newer_cfremedy_is_refused_and_left_as_it_was(tmp_path: Path) -> None:
    path = tmp_path / FILENAME
    newer = sqlite3.connect(path)
    newer.execute("CREATE TABLE future (x)")
    newer.execute("PRAGMA user_version=99")
    newer.commit()
    newer.close()
    with pytest.raises(UsageError, match="newer cfremedy"):
        Journal(path)
    assert user_version(path) == 99


def test_an_unusable_state_directory_is_a_usage_error_with_a_hint(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("a regular file where the state directory should be\n")
    with pytest.raises(UsageError, match="cannot open the journal") as caught:
        Journal.in_state_dir(blocker / "state")
    assert "CFREMEDY_STATE_DIR" in caught.value.hint


def test_a_journal_file_that_is_not_a_database_is_a_usage_error(tmp_path: Path) -> None:
    (tmp_path / FILENAME).write_bytes(b"this is not an SQLite database\n" * 64)
    with pytest.raises(UsageError):
        Journal.in_state_dir(tmp_path)
