"""What `labsearch sources` shows: each source's last sync, counts and errors (SQLite)."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path


@dataclass
class SyncReport:
    source: str
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    deleted: int = 0
    failed: int = 0
    errors: list[str] = field(default_factory=list)
    started_at: str = field(default_factory=lambda: datetime.now(UTC).isoformat())
    finished_at: str | None = None
    complete: bool = False  # the whole source was scanned (so deletions were applied)

    @property
    def ok(self) -> bool:
        return self.complete and self.failed == 0

    def summary(self) -> str:
        return (
            f"{self.added} added, {self.updated} updated, {self.unchanged} unchanged, "
            f"{self.deleted} deleted, {self.failed} failed"
        )


class SyncState:
    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(path, timeout=30)
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS sources (uri TEXT PRIMARY KEY, report TEXT NOT NULL)"
        )
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS fingerprints (source TEXT NOT NULL, root TEXT NOT NULL,"
            " model TEXT NOT NULL, value TEXT NOT NULL, PRIMARY KEY (source, root))"
        )
        # Per index (`store`): the fingerprint of the access rules last applied to it.
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS access_rules (store TEXT PRIMARY KEY, fingerprint TEXT)"
        )

    def record(self, report: SyncReport) -> None:
        with self._db:
            self._db.execute(
                "INSERT OR REPLACE INTO sources VALUES (?, ?)",
                (report.source, json.dumps(asdict(report))),
            )

    def fingerprints(self, uri: str, model: str) -> dict[str, str]:
        """Container fingerprints of the last complete sync of `uri` made with `model`."""
        rows = self._db.execute(
            "SELECT root, value FROM fingerprints WHERE source = ? AND model = ?", (uri, model)
        )
        return dict(rows.fetchall())

    def save_fingerprints(self, uri: str, model: str, fingerprints: dict[str, str]) -> None:
        rows = self._db.execute(
            "SELECT root, model, value FROM fingerprints WHERE source = ?", (uri,)
        )
        if {root: (kind, value) for root, kind, value in rows} == {
            root: (model, value) for root, value in fingerprints.items()
        }:
            return  # a re-run that found nothing changed: no commit (an fsync, ~20 ms)
        with self._db:
            self._db.execute("DELETE FROM fingerprints WHERE source = ?", (uri,))
            self._db.executemany(
                "INSERT INTO fingerprints VALUES (?, ?, ?, ?)",
                [(uri, root, model, value) for root, value in fingerprints.items()],
            )

    def update_fingerprints(
        self, uri: str, model: str, fingerprints: dict[str, str], roots: Sequence[str]
    ) -> None:
        """After a partial sync: replace the fingerprints of the containers under `roots`,
        keep the rest of the source's."""
        with self._db:
            self._db.executemany(
                "DELETE FROM fingerprints WHERE source = ? AND root = ?",
                [(uri, root) for root in roots],
            )
            self._db.executemany(
                "INSERT OR REPLACE INTO fingerprints VALUES (?, ?, ?, ?)",
                [(uri, root, model, value) for root, value in fingerprints.items()],
            )

    def applied_rules(self, store: str) -> str | None:
        """Fingerprint of the access rules last applied to the index `store` names."""
        row = self._db.execute(
            "SELECT fingerprint FROM access_rules WHERE store = ?", (store,)
        ).fetchone()
        return row[0] if row else None

    def save_applied_rules(self, store: str, fingerprint: str) -> None:
        with self._db:
            self._db.execute(
                "INSERT OR REPLACE INTO access_rules VALUES (?, ?)", (store, fingerprint)
            )

    def forget(self, uri: str) -> bool:
        with self._db:
            self._db.execute("DELETE FROM fingerprints WHERE source = ?", (uri,))
            return self._db.execute("DELETE FROM sources WHERE uri = ?", (uri,)).rowcount > 0

    def all(self) -> list[SyncReport]:
        rows = self._db.execute("SELECT report FROM sources ORDER BY uri").fetchall()
        return [SyncReport(**json.loads(row[0])) for row in rows]

    def close(self) -> None:
        self._db.close()
