"""Faults of the embedded store's file under a running API and indexer: a damaged page and a full
disk (SQLite's `PRAGMA max_page_count` stands in for the disk). Each must end in an error that
names the file and what to do, never a 500 or a half-written index; after a full disk, the same
`labsearch index` again must give exactly what a clean run gives.
"""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

from api_fixtures import BOB, api_settings, build_service
from fastapi.testclient import TestClient

from chat_api.app import create_app
from indexer.pipeline import Indexer
from labsearch.access import Access
from labsearch.stores import open_store
from labsearch.stores.embedded import DB_NAME

OPERATOR = Access.as_operator()


def damage(db: Path, tables: tuple[str, ...]) -> int:
    """Overwrite every page of `tables` in the main file with garbage; returns pages damaged.
    The WAL is checkpointed into the file first, and a harmless write afterwards makes every
    open connection drop the pages it cached (as another process's write would)."""
    with sqlite3.connect(db) as raw:
        raw.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        size = raw.execute("PRAGMA page_size").fetchone()[0]
        marks = ",".join("?" * len(tables))
        pages = [
            row[0]
            for row in raw.execute(f"SELECT pageno FROM dbstat WHERE name IN ({marks})", tables)
        ]
    with db.open("r+b") as handle:
        for page in pages:
            handle.seek((page - 1) * size)
            handle.write(bytes([0xA5]) * size)
    with sqlite3.connect(db) as raw:
        raw.execute("UPDATE meta SET value = value WHERE key = 'generation'")
    return len(pages)


def test_a_damaged_page_answers_503_naming_the_file_and_the_rebuild(tmp_path, embedder):
    settings = api_settings(tmp_path / "home")
    service = build_service(settings, embedder)
    db = Path(os.path.realpath(settings.index_dir / DB_NAME))
    with TestClient(create_app(settings, service), raise_server_exceptions=False) as client:
        assert client.post("/v1/search", json={"query": "kidney"}, headers=BOB).status_code == 200
        assert damage(db, ("assets", "bodies")) > 0
        for method, path, body in [
            ("POST", "/v1/search", {"query": "kidney ATAC-seq"}),
            ("POST", "/v1/search", {"query": "", "filters": {"entity": "run"}}),
            ("POST", "/v1/chat", {"message": "which runs used sample KID-0007?"}),
        ]:
            response = client.request(method, path, json=body, headers=BOB)
            assert response.status_code == 503, (path, response.text)
            detail = response.json()["detail"]
            assert str(db) in detail and "labsearch index --rebuild" in detail, detail
        streamed = client.post(
            "/v1/chat", json={"message": "kidney ATAC-seq", "stream": True}, headers=BOB
        )
        assert streamed.status_code == 503 or "event: error" in streamed.text, streamed.text


def notes(directory: Path, count: int) -> str:
    directory.mkdir()
    for i in range(count):
        (directory / f"note-{i:03d}.md").write_text(
            f"# Note {i}\n\nLiver sample LIV-{i:04d} was sequenced on run SRR51243{i:03d}.\n"
            + "Padding so each note takes room in the index. " * 8
        )
    return directory.resolve().as_uri()


def pages(store) -> int:
    return store._conn.execute("PRAGMA page_count").fetchone()[0]


def index_once(settings, embedder, uri: str, max_pages: int | None = None):
    """One `labsearch index` run; with `max_pages`, the writer's file may not grow past it."""
    store = open_store(settings, embedder.dimension)
    if max_pages is not None:
        store._conn.execute(f"PRAGMA max_page_count = {max_pages}")
    indexer = Indexer(settings, store, embedder, progress=None)
    try:
        report = indexer.index(uri)
        return report, store.hashes_by_source(uri), store.info().count, pages(store)
    finally:
        indexer.close()
        store.close()


def test_a_full_disk_stops_the_run_clearly_and_the_next_run_finishes_it(tmp_path, embedder):
    uri = notes(tmp_path / "notes", 32)
    clean = api_settings(tmp_path / "clean", model=embedder.model_name, index_batch_size=4)
    _, clean_hashes, clean_count, clean_pages = index_once(clean, embedder, uri)

    full = api_settings(tmp_path / "full", model=embedder.model_name, index_batch_size=4)
    empty = open_store(full, embedder.dimension)
    halfway = (pages(empty) + clean_pages) // 2  # the disk fills about halfway through
    empty.close()
    report, written, count, _ = index_once(full, embedder, uri, max_pages=halfway)
    assert not report.complete
    problem = " ".join(report.errors)
    db = os.path.realpath(full.index_dir / DB_NAME)
    assert "full" in problem and db in problem and "labsearch index" in problem, report.errors
    assert 0 < count < clean_count, "batches written before the disk filled are kept"
    assert count == len(written)  # no half-written batch

    resumed, hashes, count, _ = index_once(full, embedder, uri)
    assert resumed.complete and not resumed.errors, resumed.errors
    assert count == clean_count and hashes == clean_hashes
