"""The embedded store: one SQLite file (WAL) for data, filters and facets, and in-memory indexes
for ranking (BM25 postings and a faiss vector index) that follow it.

Why this design (measurements in docs/embedded-engine.md, bench/scale.py):
- The filter grammar compiles 1:1 to SQL (sql_filters.py), permissions are a seek inside the
  caller's visibility classes (never a read of another group's rows), facets are GROUP BY and
  `match` is a plain query, so all of them are exact.
- Ranking runs in memory over row positions (vectors.py, sparse.py): the caller's permissions
  and filter become one mask applied *inside* BM25 scoring and the vector search, so a filtered
  search returns every match however many better-scoring assets fail the filter, and BM25
  statistics come from the rows the caller may see. The vector index is exact while the
  allowed rows are few and approximate (IVF) when they are many.
- Every write is one transaction; WAL keeps readers (a running API server) unblocked by writers
  and a killed writer leaves the last committed state. The in-memory indexes are derived data:
  rebuilt from the file when missing, saved beside it (`<file>.vectors`) to start fast.

Layout (`<directory>/labsearch.sqlite3`):
    meta(key, value)            model, dimension, schema version, write generation and
                                groups generation (bumped when `set_groups` changes groups)
    assets(pk, id, ...)         top-level fields as columns and the content hash: narrow, so
                                scans for filters on top-level fields stay fast
    bodies(pk, doc, vector)     the full asset JSON and its unit-length float32 vector (BLOB)
    asset_groups / asset_identifiers / asset_links   indexed side tables (permissions, list fields)
    asset_values(key, value, type, asset)            every metadata.*/provenance.* value, so
                                                     filters and facets on any key use an index
    fts(title, identifiers, text, parts)             FTS5, rowid = assets.rowid (snippets and
                                                     the texts sparse.py indexes)
    visibility / visibility_groups                   one class per distinct group set; assets
                                                     and side-table rows carry theirs (`vis`),
                                                     so a caller's queries seek inside its
                                                     classes only (visibility.py)

The in-memory indexes (vectors.py) follow the `generation` counter in `meta`, which every write
transaction increments, so a server notices data committed by another process
(`labsearch index`) on its next query.
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from labsearch import cancellation
from labsearch import filters as grammar
from labsearch.access import Access
from labsearch.errors import (
    ConfigError,
    IndexLockedError,
    InvalidRequestError,
    ModelMismatchError,
    QueryTooExpensiveError,
    RequestCancelledError,
    StoreUnavailableError,
)
from labsearch.schema import Asset
from labsearch.stores import embedded_rebuild, fts_query, fusion, sparse, visibility
from labsearch.stores.protocol import (
    GroupsUpdate,
    IndexedAsset,
    IndexInfo,
    MatchResult,
    ScoredAsset,
    SearchMode,
    SearchRequest,
    StoredAsset,
)
from labsearch.stores.rwlock import ReadWriteLock
from labsearch.stores.sql_filters import (
    SQL,
    TRUE,
    compile_filter,
    flatten_values,
    in_classes,
    in_list,
    join,
    value_table,
)
from labsearch.stores.vectors import GROUPS_GENERATION, INSTANCE, VectorCache

DB_NAME = "labsearch.sqlite3"
BUILD_PREFIX = "labsearch-build-"  # rebuilt indexes, one file each; DB_NAME links to the current
SCHEMA_VERSION = "6"
# An index of this version is brought up to SCHEMA_VERSION in place when opened.
_MIGRATES_FROM = "5"
HIGHLIGHT_PRE, HIGHLIGHT_POST = "**", "**"  # Markdown bold: renders as-is in the UI and CLI
_MARKS = (HIGHLIGHT_PRE, HIGHLIGHT_POST)
_CHUNK = 500  # ids per IN (...) list, well below SQLite's parameter limit
VECTORS_SUFFIX = ".vectors"  # the saved vector index beside each database file
# Every file that belongs to one database file.
_SUFFIXES = ("", "-wal", "-shm", "-journal", VECTORS_SUFFIX)

_SCHEMA = f"""
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS assets (
    pk INTEGER PRIMARY KEY AUTOINCREMENT,  -- never reused: the vector cache relies on it
    id TEXT NOT NULL UNIQUE,
    source TEXT NOT NULL,
    kind TEXT NOT NULL,
    entity TEXT,
    data_level TEXT,
    title TEXT NOT NULL,
    created_at TEXT,
    updated_at TEXT,
    content_hash TEXT NOT NULL,
    vis INTEGER NOT NULL DEFAULT 0  -- visibility class (visibility.py)
);
CREATE TABLE IF NOT EXISTS bodies (pk INTEGER PRIMARY KEY, doc TEXT NOT NULL, vector BLOB NOT NULL);
CREATE INDEX IF NOT EXISTS assets_source ON assets(source);
CREATE INDEX IF NOT EXISTS assets_kind ON assets(kind);
CREATE INDEX IF NOT EXISTS assets_entity ON assets(entity);
CREATE TABLE IF NOT EXISTS asset_groups (
    grp TEXT NOT NULL, asset INTEGER NOT NULL, PRIMARY KEY (grp, asset)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS asset_groups_asset ON asset_groups(asset, grp);
CREATE TABLE IF NOT EXISTS asset_identifiers (
    value TEXT NOT NULL, asset INTEGER NOT NULL, vis INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (value, asset)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS asset_identifiers_asset ON asset_identifiers(asset);
CREATE TABLE IF NOT EXISTS asset_links (
    rel TEXT NOT NULL, target TEXT NOT NULL, asset INTEGER NOT NULL,
    vis INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (rel, target, asset)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS asset_links_target ON asset_links(target);
CREATE INDEX IF NOT EXISTS asset_links_asset ON asset_links(asset);
CREATE TABLE IF NOT EXISTS asset_values (
    key TEXT NOT NULL, value NOT NULL, type TEXT NOT NULL, asset INTEGER NOT NULL,
    vis INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (key, value, type, asset)
) WITHOUT ROWID;
DROP INDEX IF EXISTS asset_values_asset;
CREATE INDEX IF NOT EXISTS asset_values_asset_key ON asset_values(asset, key);
CREATE VIRTUAL TABLE IF NOT EXISTS fts USING fts5(
    {", ".join(fts_query.COLUMNS)}, tokenize = "{fts_query.TOKENIZER}"
);
CREATE TABLE IF NOT EXISTS visibility (vis INTEGER PRIMARY KEY, groups TEXT NOT NULL UNIQUE);
CREATE TABLE IF NOT EXISTS visibility_groups (
    grp TEXT NOT NULL, vis INTEGER NOT NULL, PRIMARY KEY (grp, vis)
) WITHOUT ROWID;
"""

# Non-operators' queries read through these: each leads with the visibility class, so SQLite
# seeks inside the caller's classes and never reads another lab's rows (visibility.py).
_CLASS_INDEXES = """
CREATE INDEX IF NOT EXISTS assets_vis_id ON assets(vis, id);
CREATE INDEX IF NOT EXISTS assets_vis_source ON assets(vis, source);
CREATE INDEX IF NOT EXISTS assets_vis_kind ON assets(vis, kind);
CREATE INDEX IF NOT EXISTS assets_vis_entity ON assets(vis, entity);
CREATE INDEX IF NOT EXISTS asset_identifiers_vis ON asset_identifiers(vis, value);
CREATE INDEX IF NOT EXISTS asset_links_vis_rel ON asset_links(vis, rel, target);
CREATE INDEX IF NOT EXISTS asset_links_vis_target ON asset_links(vis, target);
CREATE INDEX IF NOT EXISTS asset_values_vis ON asset_values(vis, key, value, type);
"""


@dataclass
class _Ranked:
    rowid: int
    score: float


class EmbeddedStore:
    """AssetStore on SQLite + FTS5 + numpy. Use `EmbeddedStore.open(...)`."""

    backend = "embedded"
    # How long a write waits for another writer (e.g. a running `labsearch index`) to commit.
    LOCK_TIMEOUT_SECONDS = 30.0

    # How long one read (a search, facets, a match) may run before SQLite stops it: a request
    # that would take longer is refused instead of holding a reader for minutes.
    QUERY_TIMEOUT_SECONDS = 10.0

    def __init__(self, path: Path, connection: sqlite3.Connection, model: str, dimension: int):
        self.path = path
        self.link = path  # `labsearch.sqlite3`: the current index (a link after a rebuild)
        self.pending_path: Path | None = None  # a rebuild not yet published
        self.model = model
        self.dimension = dimension
        self.query_timeout = self.QUERY_TIMEOUT_SECONDS
        self.progress_steps = 200_000
        # Writes go through one connection under `_lock`. Reads use a connection per thread:
        # SQLite in WAL mode serves concurrent readers, so one user's expensive search never
        # queues another's behind a lock.
        self._conn = connection
        self._lock = threading.RLock()
        self._local = threading.local()
        # Every read connection and the thread it belongs to: worker threads come and go (a
        # server's pool retires idle ones), and a gone thread's connection must be closed.
        self._readers: dict[sqlite3.Connection, threading.Thread] = {}
        self._readers_lock = threading.Lock()
        # The vector cache is shared by every reader; it is refreshed and scanned under its lock
        # (a scan is one pass over a float32 matrix: milliseconds).
        self._vectors = VectorCache(dimension)
        # Searches rank side by side under its shared side; a refresh takes it alone.
        self._vectors_lock = ReadWriteLock()
        self._vectors_path: Path | None = None

    # ------------------------------------------------------------------ lifecycle

    @classmethod
    def open(
        cls, directory: Path, model: str, dimension: int, recreate: bool = False
    ) -> EmbeddedStore:
        """Open the index in `directory`, creating it for `model`/`dimension` if it is new.

        Raises ModelMismatchError when the index was built with another model or dimension.
        `recreate=True` (`labsearch index --rebuild`) builds a new index beside the current
        one, in a file of its own; `finish_rebuild()` swaps it in atomically, and running
        servers follow at their next query. Until then (or if it never comes) searches are
        answered from the old index, complete; with no current index the new one is current
        at once.
        """
        if dimension <= 0:
            raise ConfigError(f"embedding dimension must be positive, got {dimension}")
        directory = Path(os.path.realpath(directory))
        directory.mkdir(parents=True, exist_ok=True)
        link = directory / DB_NAME
        pending = False
        if recreate:
            cls._remove_orphans(directory)
            path = directory / f"{BUILD_PREFIX}{time.time_ns()}.sqlite3"
            pending = link.exists() or link.is_symlink()
        else:
            path = link
        store = cls(path, cls._connect(path, model, dimension), model, dimension)
        store.link = link
        if recreate and not pending:
            _point(link, path)
        store.pending_path = path if pending else None
        store.path = Path(os.path.realpath(path))
        return store

    @classmethod
    def _connect(cls, path: Path, model: str, dimension: int) -> sqlite3.Connection:
        timeout = cls.LOCK_TIMEOUT_SECONDS
        connection = sqlite3.connect(
            path, isolation_level=None, check_same_thread=False, timeout=timeout
        )
        try:
            _configure(connection, timeout)
            # The writer's page cache: index pages of a large store's side tables and FTS5
            # segments stay in memory between batches instead of being re-read (default 2 MB).
            connection.execute("PRAGMA cache_size = -131072")
            recorded = _initialise(connection, model, dimension)
        except sqlite3.OperationalError as error:
            connection.close()
            if "locked" in str(error):
                raise _locked(path, error) from error
            raise ConfigError(f"cannot open the embedded index at {path}: {error}") from error
        except sqlite3.DatabaseError as error:
            connection.close()
            raise ConfigError(
                f"cannot open the embedded index at {path}: {error}. If the file is damaged or "
                "from another program, rebuild it with `labsearch index --rebuild SOURCE...`."
            ) from error
        if recorded != (model, dimension):
            connection.close()
            raise ModelMismatchError(recorded[0], recorded[1], model, dimension)
        return connection

    def finish_rebuild(self) -> None:
        """Make a rebuilt index current: one atomic rename of the `labsearch.sqlite3` link, then
        the old index's files go (a server still reading them keeps its open files until its
        next query, which opens the new index). A no-op unless opened with `recreate=True`."""
        if self.pending_path is None:
            return
        with self._lock:
            self._conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            previous = Path(os.path.realpath(self.link)) if self.link.exists() else None
            _point(self.link, self.pending_path)
            self.pending_path = None
        # A previous rebuild's file goes; a pre-link index file was replaced by the rename
        # itself (its name is the link's now), only its WAL and shared memory remain.
        if previous is not None and previous not in (self.path, self.link):
            for suffix in _SUFFIXES:
                Path(f"{previous}{suffix}").unlink(missing_ok=True)
        for suffix in _SUFFIXES[1:]:  # of a pre-link index file
            (self.link.parent / f"{DB_NAME}{suffix}").unlink(missing_ok=True)

    def _follow(self) -> None:
        """Reopen when `labsearch.sqlite3` now names another file (a rebuild was published by
        another process); called under the lock before each transaction."""
        if self.pending_path is not None:
            return
        try:
            current = Path(os.path.realpath(self.link))
        except OSError:
            return
        if current == self.path or not current.exists():
            return
        connection = self._connect(current, self.model, self.dimension)
        self._conn.close()
        self._conn, self.path = connection, current

    @staticmethod
    def _remove_orphans(directory: Path) -> None:
        """Rebuilds that were never published (a failed `--rebuild`)."""
        link = directory / DB_NAME
        current = Path(os.path.realpath(link)) if link.exists() else None
        for build in directory.glob(f"{BUILD_PREFIX}*.sqlite3"):
            if build != current:
                for suffix in _SUFFIXES:
                    Path(f"{build}{suffix}").unlink(missing_ok=True)

    @staticmethod
    def reset(directory: Path) -> None:
        """Delete the index in `directory` (database, WAL and shared-memory files)."""
        directory = Path(directory)
        for path in [directory / DB_NAME, *directory.glob(f"{BUILD_PREFIX}*.sqlite3")]:
            for suffix in _SUFFIXES:
                Path(f"{path}{suffix}").unlink(missing_ok=True)

    def close(self) -> None:
        with self._lock:
            self._conn.close()
        with self._readers_lock:
            for reader in self._readers:
                reader.close()
            self._readers.clear()
        with self._vectors_lock.exclusive():
            self._vectors.clear()

    def __enter__(self) -> EmbeddedStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def _read(self) -> Iterator[sqlite3.Connection]:
        """A read transaction on this thread's connection: every query inside sees the same
        committed snapshot, and all of them together stop after `query_timeout` seconds."""
        conn = self._reader()
        self._start_deadline(conn)
        conn.execute("BEGIN")
        try:
            yield conn
        except sqlite3.OperationalError as error:
            if "interrupted" in str(error) and _is_set(cancellation.current()):
                raise RequestCancelledError(
                    "the client went away, so its query was stopped"
                ) from error
            if "interrupted" in str(error):
                raise QueryTooExpensiveError(
                    f"the query ran longer than {self.query_timeout:g} s and was stopped; "
                    "narrow it: fewer facets, fewer words, or a filter"
                ) from error
            raise
        except sqlite3.DatabaseError as error:  # SQLITE_CORRUPT, SQLITE_NOTADB: a damaged file
            raise _damaged(self.path, error) from error
        finally:
            conn.set_progress_handler(None, 0)
            if conn.in_transaction:
                try:
                    conn.execute("COMMIT")
                except sqlite3.DatabaseError:  # a damaged file: the read itself failed too
                    with contextlib.suppress(sqlite3.Error):
                        conn.execute("ROLLBACK")

    def _reader(self) -> sqlite3.Connection:
        """This thread's read connection, on the index that is current now: the pending
        rebuild for the process building it, else what the `labsearch.sqlite3` link names (so
        readers follow a rebuild another process published)."""
        target = self.path
        if self.pending_path is None:
            try:
                current = Path(os.path.realpath(self.link))
                target = current if current.exists() else self.path
            except OSError:
                pass
        conn = getattr(self._local, "conn", None)
        if conn is not None and self._local.path == target:
            return conn
        fresh = sqlite3.connect(
            target, isolation_level=None, check_same_thread=False, timeout=self.LOCK_TIMEOUT_SECONDS
        )
        _configure(fresh, self.LOCK_TIMEOUT_SECONDS)
        fresh.execute("PRAGMA query_only = ON")
        with self._readers_lock:
            if conn is not None:
                self._readers.pop(conn, None)
                conn.close()
            for reader, thread in list(self._readers.items()):
                if not thread.is_alive():
                    del self._readers[reader]
                    reader.close()
            self._readers[fresh] = threading.current_thread()
        self._local.conn, self._local.path = fresh, target
        return fresh

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """A write transaction that bumps the generation, or rolls back entirely on error."""
        with self._lock:
            self._follow()
            try:
                self._conn.execute("BEGIN IMMEDIATE")
            except sqlite3.OperationalError as error:
                raise _locked(self.path, error) from error
            try:
                yield self._conn
                self._conn.execute(
                    "UPDATE meta SET value = CAST(value AS INTEGER) + 1 WHERE key = 'generation'"
                )
                self._conn.execute("COMMIT")
            except BaseException as error:
                if self._conn.in_transaction:  # SQLite ends some failed transactions itself
                    self._conn.execute("ROLLBACK")
                if isinstance(error, sqlite3.OperationalError) and "full" in str(error):
                    raise _full(self.path, error) from error
                if type(error) is sqlite3.DatabaseError:
                    raise _damaged(self.path, error) from error
                raise

    # ------------------------------------------------------------------ writes

    def info(self) -> IndexInfo:
        with self._read() as conn:
            (count,) = conn.execute("SELECT count(*) FROM assets").fetchone()
        return IndexInfo(self.model, self.dimension, count, self.backend)

    @embedded_rebuild.shared
    def upsert(self, items: Sequence[IndexedAsset]) -> None:
        """Insert or replace assets by id in one transaction (the last of duplicate ids wins)."""
        rows = {item.asset.id: self._row(item) for item in items}
        if not rows:
            return
        with self._write() as conn:
            embedded_rebuild.skip_journaled(self, conn, rows)
            self._delete_ids(conn, list(rows))
            # Keys are assigned here, above every key ever used (AUTOINCREMENT's own counter,
            # which an explicit larger key advances), so all rows go in with executemany.
            (last,) = conn.execute(
                "SELECT coalesce(max(seq), 0) FROM sqlite_sequence WHERE name = 'assets'"
            ).fetchone()
            heads, groups, identifiers, links, values, texts = [], [], [], [], [], []
            bodies = []
            classes = visibility.Classes(conn)
            for rowid, (asset_id, row) in enumerate(rows.items(), last + 1):
                columns, body, asset, flat = row
                vis = classes.of(asset.groups)
                heads.append((rowid, asset_id, *columns, vis))
                bodies.append((rowid, *body))
                groups += [(g, rowid) for g in asset.groups]
                identifiers += [(i, rowid, vis) for i in asset.identifiers]
                links += list({(link.rel.value, link.target, rowid, vis) for link in asset.links})
                values += [(key, kind, value, rowid, vis) for key, kind, value in flat]
                ids_text = " ".join(asset.identifiers)
                parts = fts_query.parts_column(asset.title, ids_text, asset.text)
                texts.append((rowid, asset.title, ids_text, asset.text, parts))
            conn.executemany(
                "INSERT INTO assets (pk, id, source, kind, entity, data_level, title, created_at,"
                " updated_at, content_hash, vis) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                heads,
            )
            conn.executemany("INSERT INTO bodies (pk, doc, vector) VALUES (?, ?, ?)", bodies)
            conn.executemany("INSERT INTO asset_groups (grp, asset) VALUES (?, ?)", groups)
            conn.executemany(
                "INSERT INTO asset_identifiers (value, asset, vis) VALUES (?,?,?)", identifiers
            )
            conn.executemany(
                "INSERT INTO asset_links (rel, target, asset, vis) VALUES (?,?,?,?)", links
            )
            conn.executemany(
                "INSERT INTO asset_values (key, type, value, asset, vis) VALUES (?,?,?,?,?)",
                values,
            )
            conn.executemany(
                "INSERT INTO fts (rowid, title, identifiers, text, parts) VALUES (?,?,?,?,?)",
                texts,
            )

    def _row(self, item: IndexedAsset) -> tuple[tuple[Any, ...], tuple[str, bytes], Asset, Any]:
        """Validated, ready-to-insert parts: columns, (doc, vector), the asset, its values."""
        asset = item.asset
        vector = np.asarray(item.vector, dtype=np.float32)
        if vector.shape != (self.dimension,):
            raise InvalidRequestError(
                f"asset {asset.id!r}: vector has shape {vector.shape}, but this index stores "
                f"{self.dimension}-dimensional vectors of model {self.model!r}"
            )
        if not np.all(np.isfinite(vector)):
            raise InvalidRequestError(f"asset {asset.id!r}: vector contains NaN or infinity")
        norm = float(np.linalg.norm(vector))
        if norm > 0:
            vector = vector / norm  # unit length: cosine similarity is then a dot product
        dump = asset.model_dump(mode="json")
        columns = (
            dump["source"],
            dump["kind"],
            dump["entity"],
            dump["data_level"],
            dump["title"],
            dump["created_at"],
            dump["updated_at"],
            item.content_hash,
        )
        # pydantic's own JSON encoder: several times faster than json.dumps of the dump.
        body = (asset.model_dump_json(), vector.astype(np.float32).tobytes())
        return columns, body, asset, flatten_values(dump)

    @embedded_rebuild.shared
    def set_groups(self, updates: Sequence[GroupsUpdate]) -> int:
        """New groups and content hashes for stored assets, in one transaction. The row keeps
        its key, vector and full-text entry; the stored JSON and the permission side table
        change, and the groups generation tells every vector cache (this process or a server)
        to rebuild its group masks."""
        latest = {update.asset_id: update for update in updates}
        if not latest:
            return 0
        changed = 0
        with self._write() as conn:
            classes = visibility.Classes(conn)
            for start in range(0, len(latest), _CHUNK):
                chunk = in_list("id", list(latest)[start : start + _CHUNK])
                rows = conn.execute(f"SELECT id, pk FROM assets WHERE {chunk.text}", chunk.params)
                for asset_id, pk in rows.fetchall():
                    update = latest[asset_id]
                    groups = list(dict.fromkeys(g for g in update.groups if g))  # as Asset does
                    vis = classes.of(groups)
                    conn.execute(
                        "UPDATE assets SET content_hash = ?, vis = ? WHERE pk = ?",
                        (update.content_hash, vis, pk),
                    )
                    for table in visibility.SIDE_TABLES:
                        conn.execute(f"UPDATE {table} SET vis = ? WHERE asset = ?", (vis, pk))
                    conn.execute(
                        "UPDATE bodies SET doc = json_set(doc, '$.groups', json(?)) WHERE pk = ?",
                        (json.dumps(groups, ensure_ascii=False), pk),
                    )
                    conn.execute("DELETE FROM asset_groups WHERE asset = ?", (pk,))
                    conn.executemany(
                        "INSERT INTO asset_groups (grp, asset) VALUES (?, ?)",
                        [(group, pk) for group in groups],
                    )
                    changed += 1
            if changed:
                conn.execute(
                    "INSERT INTO meta (key, value) VALUES (?, '1') ON CONFLICT(key) DO UPDATE "
                    "SET value = CAST(value AS INTEGER) + 1",
                    (GROUPS_GENERATION,),
                )
        return changed

    @embedded_rebuild.shared
    def delete(self, ids: Sequence[str]) -> int:
        if not ids:
            return 0
        with self._write() as conn:
            return self._delete_ids(conn, list(dict.fromkeys(ids)))

    @staticmethod
    def _delete_ids(conn: sqlite3.Connection, ids: list[str]) -> int:
        rowids: list[int] = []
        for start in range(0, len(ids), _CHUNK):
            chunk = in_list("id", ids[start : start + _CHUNK])
            rowids += [
                r
                for (r,) in conn.execute(f"SELECT pk FROM assets WHERE {chunk.text}", chunk.params)
            ]
        for start in range(0, len(rowids), _CHUNK):
            chunk = rowids[start : start + _CHUNK]
            for table, column in (
                ("asset_groups", "asset"),
                ("asset_identifiers", "asset"),
                ("asset_links", "asset"),
                ("asset_values", "asset"),
                ("fts", "rowid"),
                ("bodies", "pk"),
                ("assets", "pk"),
            ):
                where = in_list(column, chunk)
                conn.execute(f"DELETE FROM {table} WHERE {where.text}", where.params)
        return len(rowids)

    # ------------------------------------------------------------------ lookups

    def get(self, asset_id: str, access: Access) -> Asset | None:
        found = self.get_many([asset_id], access)
        return found[0] if found else None

    def get_many(self, asset_ids: Sequence[str], access: Access) -> list[Asset]:
        wanted = list(dict.fromkeys(asset_ids))
        if access.sees_nothing or not wanted:
            return []
        docs: dict[str, Asset] = {}
        with self._read() as conn:
            classes = visibility.visible_classes(conn, access)
            visible = in_classes("a.vis", classes)
            # A caller's lookup seeks inside its classes: another lab's id is never read.
            index = "" if classes is None else "INDEXED BY assets_vis_id"
            for start in range(0, len(wanted), _CHUNK):
                ids = in_list("a.id", wanted[start : start + _CHUNK])
                sql = (
                    f"SELECT a.id, b.doc FROM assets a {index} JOIN bodies b ON b.pk = a.pk "
                    f"WHERE {ids.text} AND {visible.text}"
                )
                for asset_id, doc in conn.execute(sql, ids.params + visible.params):
                    docs[asset_id] = Asset.model_validate_json(doc)
        return [docs[i] for i in wanted if i in docs]

    def hashes_by_source(self, source: str) -> dict[str, str]:
        with self._read() as conn:
            rows = conn.execute("SELECT id, content_hash FROM assets WHERE source = ?", (source,))
            return dict(rows.fetchall())

    def iter_assets(self, batch_size: int = 500) -> Iterator[list[StoredAsset]]:
        if batch_size < 1:
            raise InvalidRequestError(f"batch size must be at least 1, got {batch_size}")
        after = ""
        while True:
            # One short read transaction per batch (keyset paging on the unique id): nothing is
            # held open while the caller works, so it may write between batches.
            with self._read() as conn:
                rows = conn.execute(
                    "SELECT a.id, a.content_hash, b.doc FROM assets a JOIN bodies b "
                    "ON b.pk = a.pk WHERE a.id > ? ORDER BY a.id LIMIT ?",
                    (after, batch_size),
                ).fetchall()
            if not rows:
                return
            yield [StoredAsset(Asset.model_validate_json(doc), hash_) for _, hash_, doc in rows]
            if len(rows) < batch_size:
                return
            after = rows[-1][0]

    def match(
        self, filters: dict[str, Any] | None, access: Access, limit: int | None = None
    ) -> MatchResult:
        if limit is not None and limit < 0:
            raise InvalidRequestError(f"limit must be 0 or more, got {limit}")
        node = grammar.parse(filters)
        if access.sees_nothing:
            return MatchResult([], 0)
        with self._read() as conn:
            where = _where(visibility.visible_classes(conn, access), node)
            (count,) = conn.execute(
                f"SELECT count(*) FROM assets a WHERE {where.text}", where.params
            ).fetchone()
            sql = (
                "SELECT b.doc FROM assets a JOIN bodies b ON b.pk = a.pk "
                f"WHERE {where.text} ORDER BY a.id"
            )
            params = list(where.params)
            if limit is not None:
                sql += " LIMIT ?"
                params.append(limit)
            assets = [Asset.model_validate_json(doc) for (doc,) in conn.execute(sql, params)]
        return MatchResult(assets, count)

    def facets(
        self,
        fields: Sequence[str],
        access: Access,
        filters: dict[str, Any] | None = None,
        text: str = "",
        size: int = 20,
    ) -> dict[str, dict[str, int]]:
        if size < 1:
            raise InvalidRequestError(f"facet size must be at least 1, got {size}")
        normalized = {name: grammar.normalize_field(name) for name in fields}
        node = grammar.parse(filters)
        expression = fts_query.match_expression(text) if text.strip() else None
        result: dict[str, dict[str, int]] = {name: {} for name in fields}
        if access.sees_nothing:
            return result
        with self._read() as conn:
            if expression:
                # The rows the text matches among those the caller may see, from the in-memory
                # postings search ranks with: no SQL reads another lab's postings.
                terms = sparse.query_terms(text)
                matched = self._text_matches(conn, terms, node, access) if terms else []
                where = SQL("a.pk IN (SELECT value FROM json_each(?))", [json.dumps(matched)])
            else:
                where = _where(visibility.visible_classes(conn, access), node)
            for name, normalized_name in normalized.items():
                sql = _facet_sql(normalized_name, where)
                rows = conn.execute(sql.text, [*sql.params, size]).fetchall()
                result[name] = {str(value): count for value, count in rows}
        return result

    def values(
        self, field: str, access: Access, filters: dict[str, Any] | None = None
    ) -> dict[str, int]:
        normalized = grammar.normalize_field(field)
        node = grammar.parse(filters)
        if access.sees_nothing:
            return {}
        with self._read() as conn:
            classes = visibility.visible_classes(conn, access)
            sql = _values_sql(normalized, _where(classes, node), classes)
            rows = conn.execute(sql.text, sql.params).fetchall()
        return {str(value): count for value, count in rows}

    # ------------------------------------------------------------------ ranked search

    def search(self, request: SearchRequest, access: Access) -> list[ScoredAsset]:
        if request.k < 0 or request.offset < 0:
            raise InvalidRequestError("k and offset must be 0 or more")
        mode = SearchMode(request.mode)
        node = grammar.parse(request.filters)
        query_vector = self._query_vector(request, mode)
        expression = fts_query.match_expression(request.text) if request.text.strip() else None
        if access.sees_nothing or request.k == 0:
            return []
        wanted = request.offset + request.k
        depth = max(request.fusion.candidates, wanted) if mode is SearchMode.HYBRID else wanted
        terms = sparse.query_terms(request.text) if expression else []
        with self._read() as conn:
            bm25, dense = self._ranked(
                conn,
                terms if mode in (SearchMode.BM25, SearchMode.HYBRID) else [],
                query_vector if mode in (SearchMode.DENSE, SearchMode.HYBRID) else None,
                node,
                access,
                depth,
            )
            ranked = _fuse(bm25, dense, mode, request)[request.offset : wanted]
            if not ranked:
                return []
            rowids = [r.rowid for r, _, _ in ranked]
            docs = _docs(conn, rowids)
            # A cache already ahead of this snapshot may rank a row the snapshot lacks.
            ranked = [hit for hit in ranked if hit[0].rowid in docs]
            snippets = {}
            if request.highlight and expression:
                matched = [r.rowid for r, rank, _ in ranked if rank is not None]
                snippets = _highlights(conn, expression, matched, request.text, docs)
        return [
            ScoredAsset(
                asset=docs[r.rowid],
                score=r.score,
                highlights=snippets.get(r.rowid, []),
                bm25_rank=bm25_rank,
                dense_rank=dense_rank,
            )
            for r, bm25_rank, dense_rank in ranked
        ]

    def _query_vector(self, request: SearchRequest, mode: SearchMode) -> np.ndarray | None:
        if request.vector is None:
            if mode is SearchMode.DENSE:
                raise InvalidRequestError("dense search needs a query vector")
            return None
        vector = np.asarray(request.vector, dtype=np.float32)
        if vector.shape != (self.dimension,):
            raise InvalidRequestError(
                f"query vector has shape {vector.shape}; this index holds {self.dimension}-"
                f"dimensional vectors of model {self.model!r}"
            )
        norm = float(np.linalg.norm(vector))
        return vector / norm if norm > 0 else vector

    def _ranked(
        self,
        conn: sqlite3.Connection,
        terms: list[sparse.QueryTerm],
        query: np.ndarray | None,
        node: grammar.Node | None,
        access: Access,
        depth: int,
    ) -> tuple[list[_Ranked], list[_Ranked]]:
        """BM25 and nearest-neighbour rankings among the rows `access` may see and the filter
        selects, from the in-memory indexes (vectors.py, sparse.py)."""
        with self._ranking(conn) as (snapshot, generation):
            if not snapshot.size:
                return [], []
            visible, allowed = _allowed(conn, snapshot, node, access, generation)
            bm25 = snapshot.bm25(terms, visible, allowed, depth) if terms else []
            dense = []
            if query is not None:
                everything = access.operator and node is None
                dense = snapshot.top(query, None if everything else allowed, depth)
        return [_Ranked(k, s) for k, s in bm25], [_Ranked(k, s) for k, s in dense]

    def _text_matches(
        self,
        conn: sqlite3.Connection,
        terms: list[sparse.QueryTerm],
        node: grammar.Node | None,
        access: Access,
    ) -> list[int]:
        """Keys of the rows `access` may see and the filter selects that match any term."""
        with self._ranking(conn) as (snapshot, generation):
            if not snapshot.size:
                return []
            _, allowed = _allowed(conn, snapshot, node, access, generation)
            return snapshot.matching(terms, allowed).tolist()

    @contextmanager
    def _ranking(self, conn: sqlite3.Connection) -> Iterator[tuple[VectorCache, int]]:
        """The shared in-memory indexes, at or past `conn`'s snapshot, and that snapshot's
        generation, held shared: other searches rank at the same time, and a refresh waits.
        An index behind the snapshot (or of another file) is refreshed first, alone."""
        (generation,) = conn.execute(
            "SELECT CAST(value AS INTEGER) FROM meta WHERE key = 'generation'"
        ).fetchone()
        path = self._local.path
        while True:
            with self._vectors_lock.shared():
                cache = self._vectors
                if self._vectors_path == path and cache.holds(generation):
                    yield cache, generation
                    return
            with self._vectors_lock.exclusive():
                self._cached_vectors(conn)

    def _cached_vectors(self, conn: sqlite3.Connection) -> VectorCache:
        """The shared in-memory indexes, brought up to `conn`'s snapshot (called holding their
        lock alone). A cache of another file (before a rebuild was published) is dropped; one
        newer than the snapshot is used as it is (rows the snapshot lacks find no document).

        Loading them is not the request's work (the first load of a large index takes a
        minute, once per process, normally at start-up): the query deadline pauses meanwhile
        and restarts afterwards."""
        path = self._local.path
        if path != self._vectors_path:
            self._vectors.clear()
            self._vectors_path = path
        conn.set_progress_handler(None, 0)
        try:
            return self._vectors.refresh(conn, saved=Path(f"{path}{VECTORS_SUFFIX}"))
        finally:
            self._start_deadline(conn)

    def _start_deadline(self, conn: sqlite3.Connection) -> None:
        """Stop the statements `conn` runs from now on once `query_timeout` seconds passed."""
        deadline = time.monotonic() + self.query_timeout
        event = cancellation.current()  # set when the client of this request has gone
        # Checked every `progress_steps` VM steps (200k: ~10 ms of work): each check takes the
        # GIL, so checking much more often would slow the other threads down.
        conn.set_progress_handler(
            lambda: time.monotonic() > deadline or _is_set(event), self.progress_steps
        )


# ---------------------------------------------------------------------- helpers


def _is_set(event: threading.Event | None) -> bool:
    return event is not None and event.is_set()


def _locked(path: Path, error: Exception) -> IndexLockedError:
    return IndexLockedError(
        f"the embedded index at {path} stayed locked by another writer ({error}); "
        "wait for the running `labsearch index` to finish and try again"
    )


def _damaged(path: Path, error: sqlite3.DatabaseError) -> StoreUnavailableError:
    return StoreUnavailableError(
        f"the embedded index {path} is damaged ({error}); rebuild it from its sources with "
        "`labsearch index --rebuild SOURCE...` (searches answer 503 until then)"
    )


def _full(path: Path, error: sqlite3.OperationalError) -> StoreUnavailableError:
    return StoreUnavailableError(
        f"the embedded index {path} cannot grow ({error}): free space on its disk, then run "
        "the same `labsearch index` again (this batch was not written; earlier ones were)"
    )


def _configure(connection: sqlite3.Connection, timeout: float) -> None:
    # WAL: readers never block the writer and vice versa; NORMAL sync is crash-safe in WAL mode
    # (a power cut may lose the last commits, never corrupt the file).
    connection.execute("PRAGMA journal_mode = WAL")
    connection.execute("PRAGMA synchronous = NORMAL")
    connection.execute(f"PRAGMA busy_timeout = {int(timeout * 1000)}")


def _initialise(connection: sqlite3.Connection, model: str, dimension: int) -> tuple[str, int]:
    """Create the schema if needed (or bring an index of the previous version up to this
    one) and return the (model, dimension) the index records."""
    connection.execute("BEGIN IMMEDIATE")
    try:
        _run(connection, _SCHEMA)
        recorded = dict(connection.execute("SELECT key, value FROM meta").fetchall())
        if not recorded:
            connection.executemany(
                "INSERT INTO meta (key, value) VALUES (?, ?)",
                [
                    ("model", model),
                    ("dimension", str(dimension)),
                    ("schema_version", SCHEMA_VERSION),
                    ("generation", "0"),
                ],
            )
            recorded = dict(connection.execute("SELECT key, value FROM meta").fetchall())
        if INSTANCE not in recorded:
            # Names this database file, so a saved vector index of another file is never used.
            connection.execute(
                "INSERT INTO meta (key, value) VALUES (?, ?)", (INSTANCE, os.urandom(8).hex())
            )
        if recorded.get("schema_version") == _MIGRATES_FROM:
            _add_visibility_classes(connection)
        elif recorded.get("schema_version") != SCHEMA_VERSION:
            raise ConfigError(
                f"the embedded index uses schema version {recorded.get('schema_version')!r}, "
                f"this labsearch needs {SCHEMA_VERSION!r}; rebuild it with "
                "`labsearch index --rebuild SOURCE...`"
            )
        _run(connection, _CLASS_INDEXES)
        connection.execute("COMMIT")
    except BaseException:
        connection.execute("ROLLBACK")
        raise
    return recorded["model"], int(recorded["dimension"])


def _run(connection: sqlite3.Connection, script: str) -> None:
    for statement in script.split(";"):
        if statement.strip():
            connection.execute(statement)


def _add_visibility_classes(connection: sqlite3.Connection) -> None:
    """Schema 5 -> 6: every row gets its visibility class (one pass, in the open transaction;
    nothing is re-read from sources or embedded again)."""
    for table in ("assets", *visibility.SIDE_TABLES):
        connection.execute(f"ALTER TABLE {table} ADD COLUMN vis INTEGER NOT NULL DEFAULT 0")
    visibility.backfill(connection)
    connection.execute("UPDATE meta SET value = ? WHERE key = 'schema_version'", (SCHEMA_VERSION,))
    # Bump the generation: a server's in-memory indexes and cached masks start afresh.
    connection.execute(
        "UPDATE meta SET value = CAST(value AS INTEGER) + 1 WHERE key = 'generation'"
    )


def _where(classes: list[int] | None, node: grammar.Node | None) -> SQL:
    """The rows of visibility `classes` (None: all) that `node` selects, as SQL on `assets a`
    that reads only those classes' rows (visibility.py).

    A lookup in a side table (an identifier, a metadata value) is the cheapest way in: its
    keys, already confined to the classes, drive the query, and the class is only checked
    (`+a.vis` keeps SQLite from scanning the class index instead). Otherwise the class index
    drives, so the rows read are the caller's."""
    column = "+a.vis" if _has_lookup(node) else "a.vis"
    return join(" AND ", [in_classes(column, classes), compile_filter(node, classes)], TRUE)


def _has_lookup(node: grammar.Node | None) -> bool:
    """Whether every match of `node` must hold a given value in a side table."""
    if isinstance(node, grammar.And):
        return any(_has_lookup(child) for child in node.items)
    if isinstance(node, grammar.Condition):
        return value_table(node.field) is not None and node.op not in ("ne", "exists")
    return False


def _allowed(
    conn: sqlite3.Connection,
    snapshot: VectorCache,
    node: grammar.Node | None,
    access: Access,
    generation: int,
) -> tuple[np.ndarray, np.ndarray]:
    """Masks over the cached rows: those `access` may see, and of those the ones `node`
    selects (read at `generation`, the caller's snapshot)."""
    alive = snapshot.alive
    if access.operator:
        visible, classes = alive, None
    else:
        visible = snapshot.group_mask(conn, access.groups) & alive
        classes = visibility.visible_classes(conn, access)
    if node is None:
        return visible, visible
    return visible, visible & _filter_mask(conn, snapshot, node, classes, generation)


def _fuse(
    bm25: list[_Ranked], dense: list[_Ranked], mode: SearchMode, request: SearchRequest
) -> list[tuple[_Ranked, int | None, int | None]]:
    """Ranked hits with their 1-based BM25 and dense ranks. Hybrid fuses the two lists with
    labsearch.stores.fusion (weighted reciprocal-rank fusion unless the settings name another
    method), the same functions the OpenSearch store and eval/ use."""
    bm25_ranks = {r.rowid: i for i, r in enumerate(bm25, 1)}
    dense_ranks = {r.rowid: i for i, r in enumerate(dense, 1)}
    if mode is SearchMode.BM25:
        return [(r, bm25_ranks[r.rowid], None) for r in bm25]
    if mode is SearchMode.DENSE:
        return [(r, None, dense_ranks[r.rowid]) for r in dense]
    settings = request.fusion
    fused = fusion.fuse(
        [[(r.rowid, r.score) for r in bm25], [(r.rowid, r.score) for r in dense]],
        [settings.bm25_weight, settings.dense_weight],
        method=getattr(settings, "method", "rrf"),
        rrf_k=settings.rrf_k,
    )
    return [(_Ranked(r, s), bm25_ranks.get(r), dense_ranks.get(r)) for r, s in fused]


def _filter_mask(
    conn: sqlite3.Connection,
    snapshot: VectorCache,
    node: grammar.Node,
    classes: list[int] | None,
    generation: int,
) -> np.ndarray:
    """The cached rows of visibility `classes` (None: all) that `node` selects, as a mask:
    and/or/not combine the masks of their parts, and a condition on a side table reads only
    that table's index (sql_filters.SQL.keys), inside the classes."""
    if isinstance(node, grammar.And | grammar.Or):
        masks = [_filter_mask(conn, snapshot, child, classes, generation) for child in node.items]
        combine = np.logical_and if isinstance(node, grammar.And) else np.logical_or
        empty = np.full(snapshot.size, isinstance(node, grammar.And))
        return combine.reduce(masks) if masks else empty
    if isinstance(node, grammar.Not):
        # Rows outside the classes are set here but never visible to this caller.
        return ~_filter_mask(conn, snapshot, node.item, classes, generation)
    where = compile_filter(node, classes)
    if where.keys is not None:
        sql = f"SELECT asset AS k FROM ({where.keys})"
        return snapshot.condition_mask(conn, sql, where.params, generation)
    inside = join(" AND ", [in_classes("a.vis", classes), where], TRUE)
    sql = f"SELECT a.pk AS k FROM assets a WHERE {inside.text}"
    return snapshot.condition_mask(conn, sql, inside.params, generation)


def _docs(conn: sqlite3.Connection, rowids: list[int]) -> dict[int, Asset]:
    where = in_list("pk", rowids)
    rows = conn.execute(f"SELECT pk, doc FROM bodies WHERE {where.text}", where.params)
    return {rowid: Asset.model_validate_json(doc) for rowid, doc in rows}


def _highlights(
    conn: sqlite3.Connection,
    expression: str,
    rowids: list[int],
    text: str,
    docs: dict[int, Asset],
) -> dict[int, list[str]]:
    """Short snippets with the matched terms marked, text first, then title and identifiers."""
    marks = f"'{HIGHLIGHT_PRE}', '{HIGHLIGHT_POST}', '…', 12"
    # One row at a time: FTS5 seeks `rowid = ?` inside the match, where `rowid IN (...)` would
    # walk every matching row, other labs' included, and filter afterwards.
    sql = (
        f"SELECT rowid, snippet(fts, 2, {marks}), snippet(fts, 0, {marks}), "
        f"snippet(fts, 1, {marks}) FROM fts WHERE fts MATCH ? AND rowid = ?"
    )
    rows = [row for rowid in rowids for row in conn.execute(sql, (expression, rowid))]
    found: dict[int, list[str]] = {}
    for rowid, *snippets in rows:
        marked = [s for s in snippets if s and HIGHLIGHT_PRE in s][:2]
        if not marked:
            # Matched only through pieces of a compound token; mark the piece ourselves.
            asset = docs[rowid]
            fallback = next(
                (
                    snippet
                    for field_text in (asset.text, asset.title, " ".join(asset.identifiers))
                    if (snippet := fts_query.fallback_snippet(field_text, text, *_MARKS))
                ),
                None,
            )
            marked = [fallback] if fallback else []
        found[rowid] = marked
    return found


def _values_sql(field_name: str, where: SQL, classes: list[int] | None) -> SQL:
    """Every value of one field with its asset count, no limit. Unlike a facet (which starts
    from the assets a text query selected), this starts from the field's own rows in the side
    table's key index (inside visibility `classes`), so a key few assets carry costs little
    however big the index is."""
    side = value_table(field_name)
    if side is None:
        facet = _facet_sql(field_name, where)
        return SQL(facet.text.removesuffix(" LIMIT ?"), facet.params)
    kind, value, rows = side.json_type("s."), side.value("s."), side.where("s.", classes)
    rendered = (
        f"CASE {kind.text} WHEN 'true' THEN 'true' WHEN 'false' THEN 'false' "
        f"ELSE CAST({value.text} AS TEXT) END"
    )
    scalar = f"{kind.text} IN ('integer','real','text','true','false')"
    return SQL(
        f"SELECT {rendered} AS value, count(DISTINCT a.pk) FROM {side.table} s "
        f"JOIN assets a ON a.pk = s.asset "
        f"WHERE {rows.text} AND {scalar} AND {where.text} GROUP BY value ORDER BY 2 DESC, value",
        [*rows.params, *where.params],
    )


def _point(link: Path, target: Path) -> None:
    """Make `link` a symbolic link to `target` in one atomic rename (readers see the old or the
    new index, never neither)."""
    temporary = link.with_name(f".{link.name}.{os.getpid()}.tmp")
    temporary.unlink(missing_ok=True)
    temporary.symlink_to(target.name)
    os.replace(temporary, link)


def _facet_sql(field_name: str, where: SQL) -> SQL:
    """Value counts of one field (one count per asset), largest first; `?` for the size last."""
    order = "GROUP BY value ORDER BY 2 DESC, value LIMIT ?"
    side = value_table(field_name)
    if side is None:
        return SQL(
            f"SELECT a.{field_name} AS value, count(*) FROM assets a "
            f"WHERE a.{field_name} IS NOT NULL AND {where.text} {order}",
            where.params,
        )
    kind, value, rows = side.json_type("s."), side.value("s."), side.where("s.")
    # Only scalars are facet values; booleans are rendered as JSON spells them.
    rendered = (
        f"CASE {kind.text} WHEN 'true' THEN 'true' WHEN 'false' THEN 'false' "
        f"ELSE CAST({value.text} AS TEXT) END"
    )
    scalar = f"{kind.text} IN ('integer','real','text','true','false')"
    if where is TRUE:  # everything is visible and selected: count the side table alone
        return SQL(
            f"SELECT {rendered} AS value, count(DISTINCT s.asset) FROM {side.table} s "
            f"WHERE {rows.text} AND {scalar} {order}",
            rows.params,
        )
    # Drive from the visible, filtered assets (CROSS JOIN fixes the order) into the side
    # table's (asset, ...) index; SQLite would otherwise scan every value of the field.
    return SQL(
        f"SELECT {rendered} AS value, count(DISTINCT a.pk) FROM assets a "
        f"CROSS JOIN {side.table} s ON s.asset = a.pk AND {rows.text} "
        f"WHERE {scalar} AND {where.text} {order}",
        [*rows.params, *where.params],
    )
