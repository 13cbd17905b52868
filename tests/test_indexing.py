"""Indexing behaviour users rely on: incremental runs, deletions, bad input, the writer lock,
model mismatch and resuming after a killed process."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from indexer.locks import source_lock, writer_lock
from indexer.pipeline import Indexer
from labsearch.access import Access
from labsearch.errors import IndexLockedError, ModelMismatchError
from labsearch.settings import AccessRule
from labsearch.stores import open_store

REPO_ROOT = Path(__file__).resolve().parent.parent


def write_export(path: Path, records: list[dict], broken: list[str] = ()) -> str:
    lines = [json.dumps(r) for r in records] + list(broken)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return f"eln+file://{path}"


def experiments(n: int, prefix: str = "ELN") -> list[dict]:
    return [
        {
            "id": f"{prefix}-{i}",
            "type": "experiment",
            "title": f"Experiment {i}: liver RNA-seq under treatment {i % 7}",
            "description": f"Bulk RNA-seq of mouse liver, dose {i} mg/kg dexamethasone.",
            "project": "metabolism",
            "samples": [f"LIV-{i:04d}"],
            "access_groups": ["lab-a"],
        }
        for i in range(n)
    ]


@pytest.fixture
def indexer(settings, embedder):
    store = open_store(settings, embedder.dimension)
    indexer = Indexer(settings, store, embedder, progress=None)
    yield indexer
    indexer.close()
    store.close()


def test_second_run_changes_nothing_and_embeds_nothing(indexer, tmp_path, embedder):
    uri = write_export(tmp_path / "lab.jsonl", experiments(12))
    first = indexer.index(uri)
    assert (first.added, first.updated, first.unchanged, first.failed) == (12, 0, 0, 0)
    computed = embedder.computed
    second = indexer.index(uri)
    assert (second.added, second.updated, second.unchanged, second.deleted) == (0, 0, 12, 0)
    assert embedder.computed == computed


def test_changed_and_vanished_records_are_updated_and_deleted(indexer, tmp_path):
    records = experiments(5)
    uri = write_export(tmp_path / "lab.jsonl", records)
    indexer.index(uri)
    records[0]["title"] = "Renamed experiment"
    uri = write_export(tmp_path / "lab.jsonl", records[:4])
    report = indexer.index(uri)
    assert (report.updated, report.unchanged, report.deleted) == (1, 3, 1)
    store = indexer.store
    assert store.get("eln:lab:ELN-4", Access.as_operator()) is None
    assert store.get("eln:lab:ELN-0", Access.as_operator()).title == "Renamed experiment"


def test_broken_lines_are_reported_and_the_rest_indexed(indexer, tmp_path):
    path = tmp_path / "lab.jsonl"
    uri = write_export(
        path, experiments(3), broken=['{"id": "ELN-9", "title": ', '{"title": "no id"}']
    )
    with path.open("ab") as handle:
        handle.write(b'{"id": "ELN-10", "title": "bad \xff bytes"}\n')
    report = indexer.index(uri)
    assert report.added == 3
    assert report.failed == 3
    assert not report.ok
    assert any("line 4" in e for e in report.errors)
    assert any("line 5" in e and "id" in e for e in report.errors)
    assert any("line 6" in e for e in report.errors)


def test_missing_source_fails_without_deleting_anything(indexer, tmp_path):
    uri = write_export(tmp_path / "lab.jsonl", experiments(3))
    indexer.index(uri)
    (tmp_path / "lab.jsonl").unlink()
    report = indexer.index(uri)
    assert report.failed == 1 and not report.complete
    assert "no ELN export" in report.errors[0]
    assert len(indexer.store.hashes_by_source(uri)) == 3


def test_groups_come_from_settings_rules_when_records_have_none(settings, embedder, tmp_path):
    settings = settings.with_overrides(
        access_rules=[AccessRule(prefix="immunology", groups=["lab-b"])]
    )
    records = [
        {"id": "S-1", "type": "sample", "title": "PBMC sample", "project": "immunology"},
        {"id": "S-2", "type": "sample", "title": "Orphan sample", "project": "other"},
    ]
    uri = write_export(tmp_path / "lab.jsonl", records)
    store = open_store(settings, embedder.dimension)
    Indexer(settings, store, embedder, progress=None).index(uri)
    bob = Access.for_groups(["lab-b"])
    assert store.get("eln:lab:S-1", bob) is not None
    assert store.get("eln:lab:S-2", bob) is None  # no rule, no own groups: fail closed
    assert store.get("eln:lab:S-2", Access.as_operator()) is not None
    store.close()


def test_second_writer_gets_a_clear_lock_error(settings):
    expected = pytest.raises(IndexLockedError, match="another `labsearch index`")
    with writer_lock(settings.home), expected, writer_lock(settings.home):
        pass


def test_lock_error_from_a_concurrent_cli_process(settings, tmp_path):
    env = dict(os.environ, LABSEARCH_HOME=str(settings.home), LABSEARCH_CACHE_DIR=str(tmp_path))
    with writer_lock(settings.home):
        result = subprocess.run(
            [sys.executable, "-m", "shell.cli", "index", "eln+file:///nowhere.jsonl"],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
    assert result.returncode == 2
    assert "another `labsearch index` is writing" in result.stderr


def test_opening_with_another_model_names_both_and_the_fix(settings, embedder):
    open_store(settings, embedder.dimension).close()
    other = settings.with_overrides(model="BAAI/bge-small-en-v1.5")
    with pytest.raises(ModelMismatchError) as caught:
        open_store(other, 384)
    message = str(caught.value)
    assert "all-MiniLM-L6-v2" in message and "BAAI/bge-small-en-v1.5" in message
    assert "labsearch index --rebuild" in message
    open_store(other, 384, recreate=True).close()  # the documented fix works


def test_killed_run_resumes_without_loss_or_duplicates(settings, tmp_path):
    """kill -9 in the middle of indexing; the next run completes the job exactly once."""
    records = experiments(400)
    uri = write_export(tmp_path / "lab.jsonl", records)
    env = dict(
        os.environ,
        LABSEARCH_HOME=str(settings.home),
        LABSEARCH_CACHE_DIR=str(tmp_path / "cache-killed"),
        LABSEARCH_INDEX_BATCH_SIZE="10",
        LABSEARCH_EMBED_BATCH_SIZE="10",
    )
    command = [sys.executable, "-m", "shell.cli", "index", uri]
    process = subprocess.Popen(command, env=env, cwd=REPO_ROOT, stderr=subprocess.DEVNULL)
    db = settings.index_dir
    deadline = time.monotonic() + 120
    committed = 0
    while time.monotonic() < deadline and process.poll() is None:
        committed = _count(db)
        if committed >= 20:
            break
        time.sleep(0.05)
    assert process.poll() is None, "indexing finished before it could be interrupted"
    process.send_signal(signal.SIGKILL)
    process.wait()
    partial = _count(db)
    assert 0 < partial < 400

    resumed = subprocess.run(
        command, env=env, cwd=REPO_ROOT, capture_output=True, text=True, timeout=300
    )
    assert resumed.returncode == 0, resumed.stderr
    assert _count(db) == 400
    assert f"{400 - partial} added" in resumed.stdout
    assert f"{partial} unchanged" in resumed.stdout


def _count(index_dir: Path) -> int:
    from labsearch.stores.embedded import EmbeddedStore

    if not index_dir.exists():
        return 0
    try:
        store = EmbeddedStore.open(index_dir, "all-MiniLM-L6-v2", 384)
    except Exception:  # the writer may not have created the index yet
        return 0
    try:
        return store.info().count
    finally:
        store.close()


def test_unreadable_package_keeps_its_indexed_assets(indexer, tmp_path):
    """A package that fails to read this time is reported, not deleted with its entries."""
    import quilt3

    registry = tmp_path / "registry"
    for name in ("lab-a/keep", "lab-a/keep2"):
        data = tmp_path / name.replace("/", "-")
        data.mkdir()
        (data / "counts.csv").write_text("gene,count\nActb,10\n")
        quilt3.Package().set_dir(".", str(data)).set_meta({"groups": ["lab-a"]}).build(
            name, registry=f"file://{registry}"
        )
    uri = f"quilt+file://{registry}"
    first = indexer.index(uri)
    assert first.ok and first.added == 4
    # A new revision whose manifest is broken: `latest` moves to a top hash that cannot be read.
    broken_hash = "f" * 64
    (registry / ".quilt" / "packages" / broken_hash).write_text("{not json")
    (registry / ".quilt" / "named_packages" / "lab-a" / "keep" / "latest").write_text(broken_hash)
    second = indexer.index(uri)
    assert second.failed >= 1 and second.deleted == 0
    assert len(indexer.store.hashes_by_source(uri)) == 4


def push_counts(registry: Path, name: str, value: int, workdir: Path) -> None:
    import quilt3

    data = workdir / f"{name.replace('/', '-')}-{value}"
    data.mkdir(parents=True)
    (data / "counts.csv").write_text(f"gene,count\nActb,{value}\n")
    (data / "README.md").write_text(f"# {name}\nRNA-seq counts, version {value}.\n")
    quilt3.Package().set_dir(".", str(data)).set_meta({"groups": ["lab-a"]}).build(
        name, registry=f"file://{registry}"
    )


def test_unchanged_packages_are_not_read_again_and_changed_ones_are(indexer, tmp_path):
    """A re-run checks each package's top hash: unchanged packages are skipped whole (their
    assets stay, counted unchanged), a package with a new revision is read and updated, and a
    package gone from the registry is deleted with its entries."""
    registry = tmp_path / "registry"
    for name in ("lab-a/one", "lab-a/two", "lab-a/three"):
        push_counts(registry, name, 1, tmp_path / "data")
    uri = f"quilt+file://{registry}"
    assert indexer.index(uri).added == 9

    second = indexer.index(uri)
    assert (second.added, second.updated, second.unchanged, second.deleted) == (0, 0, 9, 0)

    push_counts(registry, "lab-a/two", 2, tmp_path / "data")
    import shutil

    shutil.rmtree(registry / ".quilt" / "named_packages" / "lab-a" / "three")
    third = indexer.index(uri)
    assert third.ok
    # lab-a/two: package and both entries changed (new top hash, new bytes); three: all gone.
    assert (third.added, third.updated, third.unchanged, third.deleted) == (0, 3, 3, 3)
    readme = indexer.store.get(
        f"quilt:{registry.as_uri()}#lab-a/two:README.md", Access.as_operator()
    )
    assert readme is not None and "version 2" in readme.text


def test_access_rule_change_or_rebuild_reads_skipped_packages_again(settings, embedder, tmp_path):
    registry = tmp_path / "registry"
    import quilt3

    data = tmp_path / "plain"
    data.mkdir()
    (data / "counts.csv").write_text("gene,count\nActb,1\n")
    quilt3.Package().set_dir(".", str(data)).build("lab-a/plain", registry=f"file://{registry}")
    uri = f"quilt+file://{registry}"
    store = open_store(settings, embedder.dimension)
    try:
        assert Indexer(settings, store, embedder, progress=None).index(uri).added == 2
        granted = settings.with_overrides(access_rules=[AccessRule(prefix=uri, groups=["lab-a"])])
        report = Indexer(granted, store, embedder, progress=None).index(uri)
        assert (report.updated, report.unchanged) == (2, 0)
        package = store.get(f"quilt:{registry.as_uri()}#lab-a/plain", Access.as_operator())
        assert package is not None and package.groups == ["lab-a"]
    finally:
        store.close()
    # --rebuild empties the store; remembered fingerprints must not hide the packages.
    rebuilt = open_store(granted, embedder.dimension, recreate=True)
    try:
        assert Indexer(granted, rebuilt, embedder, progress=None).index(uri).added == 2
    finally:
        rebuilt.close()


def test_changing_how_much_text_is_embedded_updates_every_vector(settings, embedder, tmp_path):
    uri = write_export(tmp_path / "lab.jsonl", experiments(3))
    store = open_store(settings, embedder.dimension)
    assert Indexer(settings, store, embedder, progress=None).index(uri).added == 3
    shorter = settings.with_overrides(embed_max_chars=40)
    report = Indexer(shorter, store, embedder, progress=None).index(uri)
    assert (report.updated, report.unchanged) == (3, 0)
    store.close()


def test_changing_how_many_word_pieces_the_model_reads_updates_every_vector(settings, tmp_path):
    from labsearch.embeddings import Embedder

    uri = write_export(tmp_path / "lab.jsonl", experiments(3))
    full = Embedder.from_settings(settings)
    store = open_store(settings, full.dimension)
    assert Indexer(settings, store, full, progress=None).index(uri).added == 3
    capped = settings.with_overrides(embed_max_tokens=16)
    report = Indexer(capped, store, Embedder.from_settings(capped), progress=None).index(uri)
    assert (report.updated, report.unchanged) == (3, 0)
    store.close()


def test_a_server_answers_from_the_rebuilt_index_after_a_rebuild(settings, embedder, tmp_path):
    """`labsearch index --rebuild` under a running server: the server answers from the old
    index, complete, until the rebuild is published, and from the new one afterwards."""
    from indexer.jobs import run_index
    from labsearch.access import Access
    from retriever.service import SearchService

    uri = write_export(tmp_path / "lab.jsonl", experiments(3, prefix="OLD"))
    run_index(settings, [uri])
    server = SearchService.from_settings(settings)
    try:
        lab_a = Access.for_groups(["lab-a"], user="alice")
        assert server.store.get("eln:lab:OLD-1", lab_a) is not None
        write_export(tmp_path / "lab.jsonl", experiments(2, prefix="NEW"))
        [report] = run_index(settings, [uri], rebuild=True)
        assert report.ok
        assert server.store.get("eln:lab:NEW-1", lab_a) is not None
        assert server.store.get("eln:lab:OLD-1", lab_a) is None
        assert server.store.info().count == 2
    finally:
        server.close()


def test_syncs_of_different_sources_interleave_and_a_rebuild_has_the_index_alone(
    settings, tmp_path
):
    from indexer.jobs import run_index

    first = write_export(tmp_path / "a.jsonl", experiments(2, prefix="A"))
    second = write_export(tmp_path / "b.jsonl", experiments(2, prefix="B"))
    with source_lock(settings.home, first):  # a long sync of the first source is running
        [report] = run_index(settings, [second])  # the second is written meanwhile
        assert report.ok and report.added == 2
        with pytest.raises(IndexLockedError, match=re.escape(f"is indexing {first}")):
            run_index(settings, [first])
        with pytest.raises(IndexLockedError, match="is writing to the index"):
            run_index(settings, [first, second], rebuild=True)
    rebuilding = pytest.raises(IndexLockedError, match=r"writing to the index \(rebuilding")
    with writer_lock(settings.home), rebuilding:  # a rebuild is running: nothing else writes
        run_index(settings, [second])
    [first_report, second_report] = run_index(settings, [first, second], rebuild=True)
    assert first_report.ok and second_report.ok
