"""The snapshots an incremental audit may take instead of reading a zone again.

A cache, apart from the journal: deleting `snapshots.sqlite3` only makes the next
`audit account --incremental` a full one. It holds DNS records and settings, so it is created
readable by its owner only, like the journal. A damaged store is set aside (renamed), with a
warning, and the run carries on as a full audit: a cache must never stop an audit.
"""

from __future__ import annotations

import logging
import os
import sqlite3
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path

from cfremedy.incremental import StoredZone
from cfremedy.models import iso_z

log = logging.getLogger("cfremedy.store")

FILENAME = "snapshots.sqlite3"
SCHEMA_VERSION = 1
_SCHEMA = """
CREATE TABLE IF NOT EXISTS snapshots (
    zone_id TEXT PRIMARY KEY,
    account_id TEXT NOT NULL,
    name TEXT NOT NULL,
    read_at TEXT NOT NULL,
    sources TEXT NOT NULL,
    data TEXT NOT NULL
);
"""


class SnapshotStore:
    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600))
        path.chmod(0o600)
        self._db = sqlite3.connect(path, isolation_level=None, timeout=30)
        try:
            version = self._db.execute("PRAGMA user_version").fetchone()[0]
            if version not in (0, SCHEMA_VERSION):
                raise sqlite3.DatabaseError(f"schema version {version}, written by another cfremedy")
            if version == 0:  # a new store; an existing one needs no write lock to be read
                self._db.executescript(_SCHEMA)
                self._db.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
        except sqlite3.DatabaseError:
            self._db.close()
            raise

    @classmethod
    def open(cls, state_dir: Path) -> SnapshotStore | None:
        """The store, or None (with a warning) when it cannot be used: the audit runs in full."""
        path = state_dir / FILENAME
        try:
            return cls(path)
        except sqlite3.OperationalError as exc:  # busy (another shard writing), not damaged
            log.warning("the snapshot store %s cannot be used now (%s): auditing every zone in full", path, exc)
            return None
        except sqlite3.DatabaseError as exc:
            aside = path.with_name(f"{FILENAME}.damaged-{datetime.now(UTC):%Y%m%dT%H%M%S}")
            try:
                path.rename(aside)
                log.warning("the snapshot store %s was unusable (%s): set aside as %s", path, exc, aside.name)
                return cls(path)
            except (OSError, sqlite3.Error) as again:
                log.warning("the snapshot store %s is unusable (%s): auditing every zone in full", path, again)
        except OSError as exc:
            reason = exc.strerror or exc
            log.warning("cannot open the snapshot store %s (%s): auditing every zone in full", path, reason)
        return None

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> SnapshotStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def load_all(self) -> dict[str, StoredZone]:
        """Every stored snapshot by zone id (the text is decoded only for zones reused); none,
        with a warning, when the store cannot be read now."""
        try:
            rows = self._db.execute(
                "SELECT zone_id, account_id, name, read_at, sources, data FROM snapshots"
            ).fetchall()
        except sqlite3.Error as exc:
            log.warning("cannot read the snapshot store %s (%s): auditing every zone in full", self.path, exc)
            return {}
        found: dict[str, StoredZone] = {}
        for zone_id, account_id, name, read_at, sources, data in rows:
            try:
                moment = datetime.fromisoformat(read_at.replace("Z", "+00:00"))
            except ValueError:
                continue  # unreadable: that zone is read again
            found[zone_id] = StoredZone(zone_id, account_id, name, moment, frozenset(sources.split()), data)
        return found

    def save(self, snapshots: Iterable[StoredZone]) -> int:
        """Store the snapshots, all or none; 0, with a warning, when the store refuses (a full
        disk, a lock held too long): the audit's own outcome must not depend on its cache."""
        rows = [
            (s.zone_id, s.account_id, s.name, iso_z(s.read_at, "microseconds"), " ".join(sorted(s.sources)), s.data)
            for s in snapshots
        ]
        try:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                self._db.executemany("INSERT OR REPLACE INTO snapshots VALUES (?, ?, ?, ?, ?, ?)", rows)
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")
        except sqlite3.Error as exc:
            log.warning("could not store the zone snapshots in %s (%s): the next run reads them again", self.path, exc)
            return 0
        return len(rows)
