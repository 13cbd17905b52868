"""Who may write to an index at once (released if the process dies).

A sync of one source takes that source's lock and a *shared* hold on the index, so syncs of
different sources (a long `labsearch index` of a registry, a watcher's or an ingest's short
writes) run side by side; their batches interleave, each in its own short store transaction.
A rebuild, or removing a source, takes the index *exclusively*: nothing else writes meanwhile.
Locks are never waited for: a second writer of the same thing gets IndexLockedError at once,
whether it is another process (file locks) or another thread of this one (`_HELD`: file locks do
not exclude their own process).
"""

from __future__ import annotations

import hashlib
import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import fasteners

from labsearch.errors import IndexLockedError

INDEX_LOCK = "index.lock"
_HELD: Counter[tuple[str, str]] = Counter()  # (lock file, "read" | "write") held in this process
_HELD_GUARD = threading.Lock()


@contextmanager
def _held(path: Path, mode: str, conflicts: tuple[str, ...], busy: IndexLockedError):
    key = str(path)
    with _HELD_GUARD:
        if any(_HELD[(key, other)] for other in conflicts):
            raise busy
        _HELD[(key, mode)] += 1
    try:
        yield
    finally:
        with _HELD_GUARD:
            _HELD[(key, mode)] -= 1


def _busy(home: Path, what: str) -> IndexLockedError:
    return IndexLockedError(
        f"another `labsearch index` is {what} in {home}; wait for it to finish and run this "
        f"again (lock file: {home / INDEX_LOCK})"
    )


@contextmanager
def writer_lock(home: Path) -> Iterator[None]:
    """The whole index, exclusively (a rebuild, removing a source)."""
    home.mkdir(parents=True, exist_ok=True)
    path = home / INDEX_LOCK
    busy = _busy(home, "writing to the index")
    with _held(path, "write", ("read", "write"), busy):
        lock = fasteners.InterProcessReaderWriterLock(str(path))
        if not lock.acquire_write_lock(blocking=False):
            raise busy
        try:
            yield
        finally:
            lock.release_write_lock()


@contextmanager
def source_lock(home: Path, source: str) -> Iterator[None]:
    """One source, exclusively, while other sources may be synced at the same time."""
    home.mkdir(parents=True, exist_ok=True)
    path = home / INDEX_LOCK
    whole = _busy(home, "writing to the index (rebuilding it or removing a source)")
    with _held(path, "read", ("write",), whole):
        index = fasteners.InterProcessReaderWriterLock(str(path))
        if not index.acquire_read_lock(blocking=False):
            raise whole
        try:
            digest = hashlib.sha256(source.encode()).hexdigest()[:16]
            own_path = home / "locks" / f"source-{digest}.lock"
            busy = _busy(home, f"indexing {source}")
            with _held(own_path, "write", ("write",), busy):
                own = fasteners.InterProcessLock(str(own_path))
                if not own.acquire(blocking=False):
                    raise busy
                try:
                    yield
                finally:
                    own.release()
        finally:
            index.release_read_lock()
