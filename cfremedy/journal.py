"""The journal: what every apply and rollback intended, sent and achieved, on disk first;
and every audit's full report, for baselines and diffs over time.

Each change's state is committed to SQLite *before* its write leaves (`sent`) and again when the
outcome is known, with `synchronous=FULL`, so a process killed at any instant leaves a journal
that says exactly which writes might have reached Cloudflare: those still `sent`. Nothing is
guessed about them; `reconcile` re-reads their live values later and records the answer.
"""

from __future__ import annotations

import enum
import json
import os
import secrets
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cfremedy.baseline import zone_slice, zones_of
from cfremedy.errors import UsageError
from cfremedy.models import Change, utc_now_iso
from cfremedy.redaction import redact
from cfremedy.report import change_dict, change_from_dict

# 2: audits.ok (a failed audit is history, never a baseline); 3: runs.only (`apply --only`)
SCHEMA_VERSION = 3
FILENAME = "cfremedy.sqlite3"


class ChangeState(str, enum.Enum):
    PENDING = "pending"  # planned; no write attempted yet
    SENT = "sent"  # the write may have reached Cloudflare: in doubt until re-read
    APPLIED = "applied"  # written and read back with the planned value
    UNCHANGED = "unchanged"  # already had the planned value: nothing sent
    DRIFTED = "drifted"  # the live value was neither `before` nor `after`: left alone
    NOT_APPLIED = "not_applied"  # refused, failed, or read back unchanged

    @property
    def reached_cloudflare(self) -> bool:
        return self is ChangeState.APPLIED


class RunKind(str, enum.Enum):
    APPLY = "apply"
    ROLLBACK = "rollback"


@dataclass(frozen=True)
class Entry:
    seq: int
    change: Change
    state: ChangeState
    detail: str


@dataclass(frozen=True)
class Run:
    id: str
    kind: RunKind
    zone: str
    zone_id: str
    plan_checksum: str
    started_at: str
    finished_at: str | None
    rolls_back: str | None
    entries: tuple[Entry, ...]
    # The targets `apply --only` selected; empty when the run applied its whole plan (then
    # `plan_checksum` is the checksum of exactly these changes).
    only: tuple[str, ...] = ()

    @property
    def in_doubt(self) -> tuple[Entry, ...]:
        return tuple(e for e in self.entries if e.state is ChangeState.SENT)

    @property
    def outcome(self) -> str:
        """One word for `history`, derived from the entries rather than stored twice."""
        states = {e.state for e in self.entries}
        if ChangeState.SENT in states:
            return "in doubt"
        if self.finished_at is None:
            return "interrupted"
        if ChangeState.PENDING in states:
            return "aborted"  # stopped early, e.g. the token was refused mid-run
        if states <= {ChangeState.UNCHANGED}:
            return "no-op"
        if states <= {ChangeState.APPLIED, ChangeState.UNCHANGED}:
            return "applied"
        if ChangeState.APPLIED in states:
            return "partial"
        return "failed"

    def count(self, state: ChangeState) -> int:
        return sum(1 for e in self.entries if e.state is state)


def _now() -> str:
    return utc_now_iso("milliseconds")


def new_run_id() -> str:
    """Sortable by time and short enough to type: 20261121T120301Z-3f9a2c (24 random bits: two
    runs in one second collide once in 16 million)."""
    return datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ") + "-" + secrets.token_hex(3)


_SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    zone TEXT NOT NULL,
    zone_id TEXT NOT NULL,
    plan_checksum TEXT NOT NULL,
    started_at TEXT NOT NULL,
    finished_at TEXT,
    rolls_back TEXT REFERENCES runs(id),
    only TEXT NOT NULL DEFAULT ''
);
CREATE TABLE IF NOT EXISTS entries (
    run_id TEXT NOT NULL REFERENCES runs(id),
    seq INTEGER NOT NULL,
    change TEXT NOT NULL,
    state TEXT NOT NULL,
    detail TEXT NOT NULL DEFAULT '',
    updated_at TEXT NOT NULL,
    PRIMARY KEY (run_id, seq)
);
CREATE TABLE IF NOT EXISTS audits (
    id TEXT PRIMARY KEY,
    scope TEXT NOT NULL,
    started_at TEXT NOT NULL,
    report TEXT NOT NULL,
    ok INTEGER NOT NULL DEFAULT 1
);
CREATE INDEX IF NOT EXISTS audits_by_scope ON audits (scope, started_at);
"""


@dataclass(frozen=True)
class AuditRecord:
    id: str
    scope: str  # "zone example.com", "all zones; shard 1/4", ...: what the audit covered
    started_at: str
    report: dict[str, Any]  # the JSON report, before any baseline was subtracted
    ok: bool = True  # it ran to the end: no zone failed to be read, no playbook crashed


class Journal:
    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            # Created 0600 before SQLite opens it: it holds plans and reports, and SQLite gives
            # its -wal and -shm files the database file's mode.
            os.close(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600))
            path.chmod(0o600)  # a database from an older version, or a pre-existing 0755 state dir
            self._db = sqlite3.connect(path, isolation_level=None, timeout=30)
        except (OSError, sqlite3.Error) as exc:
            raise UsageError(
                f"cannot open the journal at {path}: {exc}", hint="set CFREMEDY_STATE_DIR to a writable directory"
            ) from None
        try:
            self._open(path)
        except sqlite3.DatabaseError as exc:  # not a database, or a damaged one
            self._db.close()
            raise UsageError(
                f"the journal at {path} is not a usable cfremedy database: {exc}",
                hint="move it aside (it may hold the only record of earlier runs) or"
                " set CFREMEDY_STATE_DIR to another directory",
            ) from None
        except UsageError:
            self._db.close()
            raise

    def _open(self, path: Path) -> None:
        version = self._db.execute("PRAGMA user_version").fetchone()[0]
        if version > SCHEMA_VERSION:
            raise UsageError(f"the journal at {path} was written by a newer cfremedy")
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")  # a committed state survives a crash
        self._db.execute("PRAGMA foreign_keys=ON")
        self._db.executescript(_SCHEMA)  # idempotent; executescript manages its own commit
        columns = {row[1] for row in self._db.execute("PRAGMA table_info(audits)")}
        if "ok" not in columns:  # a version 1 journal: its audits are taken as they were stored
            self._db.execute("ALTER TABLE audits ADD COLUMN ok INTEGER NOT NULL DEFAULT 1")
        if "only" not in {row[1] for row in self._db.execute("PRAGMA table_info(runs)")}:
            # before version 3 every run applied its whole plan
            self._db.execute("ALTER TABLE runs ADD COLUMN only TEXT NOT NULL DEFAULT ''")
        self._db.execute(f"PRAGMA user_version={SCHEMA_VERSION}")

    @classmethod
    def in_state_dir(cls, state_dir: Path) -> Journal:
        return cls(state_dir / FILENAME)

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> Journal:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def _transaction(self) -> Iterator[None]:
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    def start_run(
        self,
        kind: RunKind,
        zone: str,
        zone_id: str,
        checksum: str,
        changes: tuple[Change, ...],
        rolls_back: str | None = None,
        only: tuple[str, ...] = (),
    ) -> str:
        run_id = new_run_id()
        now = _now()
        with self._transaction():
            self._db.execute(
                "INSERT INTO runs (id, kind, zone, zone_id, plan_checksum, started_at, rolls_back, only)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (run_id, kind.value, zone, zone_id, checksum, now, rolls_back, json.dumps(list(only)) if only else ""),
            )
            self._db.executemany(
                "INSERT INTO entries (run_id, seq, change, state, updated_at) VALUES (?, ?, ?, ?, ?)",
                [
                    (run_id, seq, redact(json.dumps(change_dict(c), sort_keys=True)), ChangeState.PENDING.value, now)
                    for seq, c in enumerate(changes)
                ],
            )
        return run_id

    def mark(self, run_id: str, seqs: int | list[int], state: ChangeState, detail: str = "") -> None:
        """Record a state, durably, before the caller does anything else."""
        seq_list = [seqs] if isinstance(seqs, int) else seqs
        with self._transaction():
            self._db.executemany(
                "UPDATE entries SET state = ?, detail = ?, updated_at = ? WHERE run_id = ? AND seq = ?",
                [(state.value, redact(detail), _now(), run_id, seq) for seq in seq_list],
            )

    def finish_run(self, run_id: str) -> None:
        with self._transaction():
            self._db.execute("UPDATE runs SET finished_at = ? WHERE id = ?", (_now(), run_id))

    def _load(self, row: tuple[Any, ...]) -> Run:
        run_id = row[0]
        entries = tuple(
            Entry(seq=seq, change=change_from_dict(json.loads(change)), state=ChangeState(state), detail=detail)
            for seq, change, state, detail in self._db.execute(
                "SELECT seq, change, state, detail FROM entries WHERE run_id = ? ORDER BY seq",
                (run_id,),
            )
        )
        return Run(
            id=run_id,
            kind=RunKind(row[1]),
            zone=row[2],
            zone_id=row[3],
            plan_checksum=row[4],
            started_at=row[5],
            finished_at=row[6],
            rolls_back=row[7],
            entries=entries,
            only=tuple(json.loads(row[8])) if row[8] else (),
        )

    _COLUMNS = "id, kind, zone, zone_id, plan_checksum, started_at, finished_at, rolls_back, only"

    def runs(self, limit: int | None = None, zone: str | None = None) -> list[Run]:
        """Newest first; optionally only those of one zone (a normalised name)."""
        where, args = (" WHERE zone = ?", [zone]) if zone is not None else ("", [])
        query = f"SELECT {self._COLUMNS} FROM runs{where} ORDER BY rowid DESC"
        rows = self._db.execute(query + (f" LIMIT {int(limit)}" if limit else ""), args).fetchall()
        return [self._load(r) for r in rows]

    def zones(self) -> set[str]:
        """Every zone a run or a stored audit names: what `history --zone` could have meant."""
        found = {row[0] for row in self._db.execute("SELECT DISTINCT zone FROM runs")}
        for (report,) in self._db.execute("SELECT report FROM audits"):
            found |= zones_of(json.loads(report))
        return found

    def _lookup(self, table: str, columns: str, wanted: str, what: str) -> tuple[Any, ...]:
        """A row by id, or by an unambiguous prefix or suffix of it (`3f9a` for `...Z-3f9a`)."""
        pattern = wanted.replace("%", "").replace("_", "")
        rows = self._db.execute(
            f"SELECT {columns} FROM {table} WHERE id = ? OR id LIKE ? OR id LIKE ? ORDER BY id",
            (wanted, pattern + "%", "%" + pattern),
        ).fetchall()
        exact = [r for r in rows if r[0] == wanted]
        if exact or len(rows) == 1:
            found: tuple[Any, ...] = (exact or rows)[0]
            return found
        if not rows:
            raise UsageError(
                f"no {what} {wanted!r} in the journal at {self.path}", hint="`cfremedy history` lists them"
            )
        raise UsageError(f"{what} id {wanted!r} is ambiguous: {', '.join(r[0] for r in rows)}")

    def run(self, run_id: str) -> Run:
        return self._load(self._lookup("runs", self._COLUMNS, run_id, "run"))

    # -- audits -----------------------------------------------------------------------------------

    def record_audit(self, scope: str, report: dict[str, Any], ok: bool = True) -> str:
        audit_id = new_run_id()
        with self._transaction():
            self._db.execute(
                "INSERT INTO audits (id, scope, started_at, report, ok) VALUES (?, ?, ?, ?, ?)",
                (audit_id, scope, _now(), redact(json.dumps(report, sort_keys=True)), int(ok)),
            )
        return audit_id

    _AUDIT_COLUMNS = "id, scope, started_at, report, ok"

    @staticmethod
    def _audit(row: tuple[Any, ...]) -> AuditRecord:
        return AuditRecord(id=row[0], scope=row[1], started_at=row[2], report=json.loads(row[3]), ok=bool(row[4]))

    def audits(
        self, limit: int | None = None, scope: str | None = None, before: str | None = None, ok_only: bool = False
    ) -> list[AuditRecord]:
        """Newest first; optionally only one scope, only those older than an audit id, or only
        those that ran to the end (what a baseline or a diff may compare with)."""
        clauses, args = [], []
        if scope is not None:
            clauses.append("scope = ?")
            args.append(scope)
        if before is not None:  # by insertion order: two audits may share a second
            clauses.append("rowid < (SELECT rowid FROM audits WHERE id = ?)")
            args.append(before)
        if ok_only:
            clauses.append("ok = 1")
        where = f" WHERE {' AND '.join(clauses)}" if clauses else ""
        query = f"SELECT {self._AUDIT_COLUMNS} FROM audits{where} ORDER BY rowid DESC"
        rows = self._db.execute(query + (f" LIMIT {int(limit)}" if limit else ""), args).fetchall()
        return [self._audit(r) for r in rows]

    def audits_covering(self, zone: str, limit: int | None = None) -> list[AuditRecord]:
        """Newest first, the audits whose report covers `zone` (a normalised name): its zone
        audits, and account audits in which it was audited or failed to be; each report cut
        to that zone, with that zone's own summary (`baseline.zone_slice`)."""
        rows = self._db.execute(
            f"SELECT {self._AUDIT_COLUMNS} FROM audits WHERE scope = ? OR scope NOT LIKE 'zone %' ORDER BY rowid DESC",
            (f"zone {zone}",),
        )
        found: list[AuditRecord] = []
        for row in rows:
            record = self._audit(row)
            sliced = zone_slice(record.report, zone)
            if sliced is None:
                continue
            found.append(replace(record, report=sliced))
            if limit and len(found) >= limit:
                break
        return found

    def audit(self, audit_id: str) -> AuditRecord:
        return self._audit(self._lookup("audits", self._AUDIT_COLUMNS, audit_id, "audit"))
