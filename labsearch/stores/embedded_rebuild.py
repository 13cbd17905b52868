"""Writes that arrive while the embedded store is rebuilt, kept when the rebuild is published.

`labsearch index --rebuild` fills a new database file (`labsearch-build-<ns>.sqlite3`) beside
the current one while `labsearch watch`, an ingest or a server (other store objects, other
processes) keep writing to the current one; publishing the rebuild renames the link, which would
drop what they wrote and resurrect what they deleted. So:

- A writer that is not the rebuild looks for an unpublished build file *before* it writes (the
  rebuild may be published while it writes), and once its own transaction committed it repeats
  the write in that file, after recording the ids in the file's `rebuild_writes` table.
- The rebuild's own upserts skip journaled ids, inside their transaction: what a writer wrote
  during the rebuild is newer than what the rebuild read from its sources earlier.

A writer that found no build file writes the current index only; a rebuild that starts after
that reads its sources later, so it indexes that change itself. A build file a failed rebuild
left behind is written too (harmlessly) until the next rebuild removes it.
"""

from __future__ import annotations

import functools
import os
import sqlite3
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

_JOURNAL = "CREATE TABLE IF NOT EXISTS rebuild_writes (id TEXT PRIMARY KEY) WITHOUT ROWID"
_CHUNK = 500

Method = TypeVar("Method", bound=Callable[..., Any])


def shared(method: Method) -> Method:
    """Decorates the store's `upsert`, `delete` and `set_groups`: repeated in a rebuild in
    progress when the store is not that rebuild."""

    @functools.wraps(method)
    def wrapper(store: Any, arg: Sequence[Any]) -> Any:
        build = None if store.pending_path is not None else unpublished_build(store.link)
        result = method(store, arg)
        if build is not None and arg:
            _repeat(store, build, method.__name__, arg)
        return result

    return wrapper  # type: ignore[return-value]


def unpublished_build(link: Path) -> Path | None:
    """The newest build file the `labsearch.sqlite3` link does not name, if any. Build files
    are `labsearch-build-<ns>.sqlite3` (embedded.BUILD_PREFIX, which starts with the link's
    stem; not imported here, as the store module imports this one)."""
    try:
        current = Path(os.path.realpath(link)) if link.exists() else None
    except OSError:
        return None
    builds = sorted(
        path
        for path in link.parent.glob(f"{link.stem}-build-*.sqlite3")
        if Path(os.path.realpath(path)) != current
    )
    return builds[-1] if builds else None


def skip_journaled(store: Any, conn: sqlite3.Connection, rows: dict[str, Any]) -> None:
    """In the rebuild's upsert transaction: drop from `rows` the ids other writers wrote."""
    if store.pending_path is None or getattr(store, "repeating", False):
        return
    conn.execute(_JOURNAL)
    ids = list(rows)
    for start in range(0, len(ids), _CHUNK):
        chunk = ids[start : start + _CHUNK]
        marks = ",".join("?" * len(chunk))
        found = conn.execute(f"SELECT id FROM rebuild_writes WHERE id IN ({marks})", chunk)
        for (asset_id,) in found.fetchall():
            rows.pop(asset_id, None)


def _repeat(store: Any, build: Path, operation: str, arg: Sequence[Any]) -> None:
    """Journal the ids, then run the same operation on the build file."""
    cls = type(store)
    connection = cls._connect(build, store.model, store.dimension)
    sibling = cls(build, connection, store.model, store.dimension)
    sibling.pending_path, sibling.link, sibling.repeating = build, store.link, True
    try:
        with sibling._write() as conn:
            conn.execute(_JOURNAL)
            if operation == "upsert":
                ids = [item.asset.id for item in arg]
                conn.executemany("INSERT OR IGNORE INTO rebuild_writes VALUES (?)", ids_rows(ids))
            elif operation == "delete":
                conn.executemany("INSERT OR IGNORE INTO rebuild_writes VALUES (?)", ids_rows(arg))
            else:  # set_groups: ids the build has; one it lacks it will write itself
                ids = [update.asset_id for update in arg]
                for start in range(0, len(ids), _CHUNK):
                    chunk = ids[start : start + _CHUNK]
                    marks = ",".join("?" * len(chunk))
                    conn.execute(
                        "INSERT OR IGNORE INTO rebuild_writes "
                        f"SELECT id FROM assets WHERE id IN ({marks})",
                        chunk,
                    )
        getattr(sibling, operation)(arg)
    finally:
        sibling.close()


def ids_rows(ids: Sequence[str]) -> list[tuple[str]]:
    return [(asset_id,) for asset_id in dict.fromkeys(ids)]
