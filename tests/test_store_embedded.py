"""The embedded store: the conformance suite plus what only a local SQLite file can show."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from store_conformance import (
    DIM,
    MODEL,
    StoreConformance,
    ids,
    indexed,
    make_asset,
    unit,
)

from labsearch.access import Access
from labsearch.errors import ConfigError, IndexLockedError
from labsearch.settings import Settings
from labsearch.stores import open_store
from labsearch.stores.embedded import DB_NAME, EmbeddedStore
from labsearch.stores.protocol import AssetStore, GroupsUpdate, SearchMode, SearchRequest

OPERATOR = Access.as_operator()


class TestEmbeddedStore(StoreConformance):
    @pytest.fixture
    def store(self, tmp_path: Path) -> Iterator[EmbeddedStore]:
        store = EmbeddedStore.open(tmp_path / "index", MODEL, DIM)
        yield store
        store.close()

    @pytest.fixture
    def reopen_with_model(self, tmp_path: Path) -> Iterator[Callable[[str, int], AssetStore]]:
        opened: list[EmbeddedStore] = []

        def reopen(model: str, dimension: int) -> AssetStore:
            store = EmbeddedStore.open(tmp_path / "index", model, dimension)
            opened.append(store)
            return store

        yield reopen
        for store in opened:
            store.close()

    @pytest.fixture
    def reopen(self, tmp_path: Path) -> Callable[[bool], AssetStore]:
        return lambda recreate: EmbeddedStore.open(tmp_path / "index", MODEL, DIM, recreate)


def test_a_second_instance_sees_committed_data_without_restart(tmp_path: Path) -> None:
    reader = EmbeddedStore.open(tmp_path, MODEL, DIM)
    writer = EmbeddedStore.open(tmp_path, MODEL, DIM)
    dense = SearchRequest(vector=unit(0), mode=SearchMode.DENSE)
    assert reader.search(dense, OPERATOR) == []  # caches an empty matrix
    writer.upsert([indexed(make_asset("w1", text="capybara"), unit(0))])
    assert ids(reader.search(dense, OPERATOR)) == ["w1"]
    assert ids(reader.search(SearchRequest(text="capybara", mode=SearchMode.BM25), OPERATOR)) == [
        "w1"
    ]
    writer.upsert([indexed(make_asset("w2", text="tapir"), unit(1))])
    # Replacing an asset's vector must not leave the old one behind in the reader's cache.
    writer.upsert([indexed(make_asset("w1", text="capybara"), unit(3))])
    hits = reader.search(SearchRequest(vector=unit(3), mode=SearchMode.DENSE), OPERATOR)
    assert ids(hits) == ["w1", "w2"]
    assert hits[0].score == pytest.approx(1.0)
    writer.delete(["w1", "w2"])
    assert reader.search(dense, OPERATOR) == []
    reader.close()
    writer.close()


def test_a_server_sees_groups_changed_by_another_process(tmp_path: Path) -> None:
    """`set_groups` keeps row keys, so a reader's cached group masks must be dropped."""
    lab_a, lab_b = Access.for_groups(["lab-a"]), Access.for_groups(["lab-b"])
    reader = EmbeddedStore.open(tmp_path, MODEL, DIM)
    writer = EmbeddedStore.open(tmp_path, MODEL, DIM)
    writer.upsert([indexed(make_asset(f"g{i}"), unit(i)) for i in range(3)])
    dense = SearchRequest(vector=unit(0), mode=SearchMode.DENSE)
    assert ids(reader.search(dense, lab_a))[0] == "g0"  # caches the lab-a mask
    assert reader.search(dense, lab_b) == []  # and the lab-b one
    writer.set_groups([GroupsUpdate("g0", ["lab-b"], "h")])
    assert "g0" not in ids(reader.search(dense, lab_a))
    assert ids(reader.search(dense, lab_b)) == ["g0"]
    reader.close()
    writer.close()


def test_vector_cache_follows_writes_with_permissions(tmp_path: Path) -> None:
    """Incremental refresh: appended rows get group masks, deleted rows vanish, compaction."""
    lab_a = Access.for_groups(["lab-a"])
    reader = EmbeddedStore.open(tmp_path, MODEL, DIM)
    writer = EmbeddedStore.open(tmp_path, MODEL, DIM)
    writer.upsert([indexed(make_asset(f"old{i}"), unit(0, 0.5, seed=i)) for i in range(12)])
    dense = SearchRequest(vector=unit(5), mode=SearchMode.DENSE, k=3)
    assert len(reader.search(dense, lab_a)) == 3  # caches the lab-a and public masks
    writer.upsert(
        [
            indexed(make_asset("new-a", groups=["lab-a"]), unit(5)),
            indexed(make_asset("new-b", groups=["lab-b"]), unit(5, 0.01, seed=1)),
            indexed(make_asset("new-pub", groups=["public"]), unit(5, 0.2, seed=2)),
        ]
    )
    assert ids(reader.search(dense, lab_a))[:2] == ["new-a", "new-pub"]
    writer.delete([f"old{i}" for i in range(10)])  # most rows dead: the cache compacts
    remaining = ids(reader.search(SearchRequest(vector=unit(5), mode=SearchMode.DENSE), lab_a))
    assert remaining[:2] == ["new-a", "new-pub"]
    assert sorted(remaining) == ["new-a", "new-pub", "old10", "old11"]
    reader.close()
    writer.close()


def test_concurrent_searches_and_writes_from_threads(tmp_path: Path) -> None:
    """FastAPI runs sync endpoints in a thread pool: one store shared by many threads."""
    from concurrent.futures import ThreadPoolExecutor

    with EmbeddedStore.open(tmp_path, MODEL, DIM) as store:
        store.upsert([indexed(make_asset(f"t{i}", text="okapi"), unit(i)) for i in range(20)])

        def work(i: int) -> int:
            if i % 5 == 0:
                store.upsert([indexed(make_asset(f"new{i}", text="okapi"), unit(i))])
            request = SearchRequest(text="okapi", vector=unit(i), k=5)
            return len(store.search(request, OPERATOR))

        with ThreadPoolExecutor(max_workers=8) as pool:
            assert all(n == 5 for n in pool.map(work, range(40)))
        assert store.info().count == 28


def test_a_write_blocked_by_another_writer_is_a_clear_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(EmbeddedStore, "LOCK_TIMEOUT_SECONDS", 0.2)
    with EmbeddedStore.open(tmp_path, MODEL, DIM) as store:
        other = sqlite3.connect(tmp_path / DB_NAME, isolation_level=None)
        other.execute("BEGIN IMMEDIATE")  # another writer holds the lock
        try:
            with pytest.raises(IndexLockedError, match="labsearch index"):
                store.upsert([indexed(make_asset("blocked"))])
            assert store.info().count == 0  # reads still work while the writer holds the lock
        finally:
            other.execute("ROLLBACK")
            other.close()
        store.upsert([indexed(make_asset("later"))])
        assert store.info().count == 1


def test_reopening_keeps_data(tmp_path: Path) -> None:
    with EmbeddedStore.open(tmp_path, MODEL, DIM) as store:
        store.upsert([indexed(make_asset("keep", text="persistent"))])
    with EmbeddedStore.open(tmp_path, MODEL, DIM) as store:
        assert store.info().count == 1
        assert store.get("keep", OPERATOR) is not None


def test_recreate_and_reset_drop_the_index(tmp_path: Path) -> None:
    with EmbeddedStore.open(tmp_path, MODEL, DIM) as store:
        store.upsert([indexed(make_asset("gone"))])
    with EmbeddedStore.open(tmp_path, "new-model", 3, recreate=True) as store:
        assert store.info().count == 0 and store.info().model == "new-model"
    EmbeddedStore.reset(tmp_path)
    assert not (tmp_path / DB_NAME).exists()


def test_open_store_factory_uses_settings(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path, model=MODEL, backend="embedded")
    store = open_store(settings, DIM)
    assert isinstance(store, EmbeddedStore)
    assert store.path.parent == settings.index_dir
    assert isinstance(store, AssetStore)
    store.close()


def test_open_store_without_the_opensearch_client_says_what_to_install(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A None entry in sys.modules makes the import fail, as a missing opensearch-py would.
    monkeypatch.setitem(sys.modules, "labsearch.stores.opensearch", None)
    settings = Settings(home=tmp_path, model=MODEL, backend="opensearch")
    with pytest.raises(ConfigError, match="pip install opensearch-py"):
        open_store(settings, DIM)


def test_a_file_that_is_not_an_index_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / DB_NAME).write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(ConfigError, match="--rebuild"):
        EmbeddedStore.open(tmp_path, MODEL, DIM)


def test_wrong_query_vector_dimension_is_a_clear_error(tmp_path: Path) -> None:
    from labsearch.errors import InvalidRequestError

    with (
        EmbeddedStore.open(tmp_path, MODEL, DIM) as store,
        pytest.raises(InvalidRequestError, match="8-dimensional"),
    ):
        store.search(SearchRequest(vector=[1.0, 0.0], mode=SearchMode.DENSE), OPERATOR)


_WRITER = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    sys.path[:0] = [{root!r}, {root!r} + "/tests"]
    from labsearch.stores.embedded import EmbeddedStore
    from store_conformance import indexed, make_asset, unit
    store = EmbeddedStore.open(Path({directory!r}), {model!r}, {dim})
    batch = 0
    while True:
        items = [
            indexed(make_asset(f"b{{batch}}-{{i}}", text="crash test " * 50), unit(i))
            for i in range(200)
        ]
        store.upsert(items)
        batch += 1
        print(batch, flush=True)
    """
)


def test_a_killed_writer_leaves_a_consistent_openable_store(tmp_path: Path) -> None:
    root = str(Path(__file__).resolve().parents[1])
    script = _WRITER.format(root=root, directory=str(tmp_path), model=MODEL, dim=DIM)
    process = subprocess.Popen(
        [sys.executable, "-c", script], stdout=subprocess.PIPE, text=True, cwd=root
    )
    try:
        for _ in range(3):  # let it commit a few batches and be mid-way through another
            assert process.stdout is not None and process.stdout.readline(), "writer died"
        time.sleep(0.05)
    finally:
        os.kill(process.pid, signal.SIGKILL)
        process.wait()
    with EmbeddedStore.open(tmp_path, MODEL, DIM) as store:
        (check,) = sqlite3.connect(tmp_path / DB_NAME).execute("PRAGMA integrity_check").fetchone()
        assert check == "ok"
        count = store.info().count
        assert count >= 600 and count % 200 == 0, "only whole batches are committed"
        assert store.match(None, OPERATOR).count == count
        hits = store.search(SearchRequest(text="crash", vector=unit(1), k=5), OPERATOR)
        assert len(hits) == 5
        store.upsert([indexed(make_asset("after-crash"))])
        assert store.info().count == count + 1


def test_user_text_becomes_quoted_or_ed_fts_terms() -> None:
    from labsearch.stores.fts_query import match_expression, parts_column

    assert match_expression('liver AND "kidney" NEAR(x') == '"liver" OR "kidney" OR "NEAR" OR "x"'
    assert match_expression("sample LIV-0042?") == '"sample" OR ("LIV-0042" OR "LIV" + "0042")'
    assert match_expression("the of") == '"the" OR "of"'  # only stop words: keep them
    assert match_expression("?! --") is None
    assert parts_column("RNA-seq of LIV-0042", "plain") == "RNA seq LIV 0042"


def test_a_rebuild_swaps_in_atomically_and_open_stores_follow(tmp_path: Path) -> None:
    """A server keeps answering from the complete old index while a rebuild runs, and from the
    new one after it is published; an unpublished rebuild changes nothing."""
    server = EmbeddedStore.open(tmp_path, MODEL, DIM)
    server.upsert([indexed(make_asset("old", text="old index"))])
    rebuild = EmbeddedStore.open(tmp_path, MODEL, DIM, recreate=True)
    rebuild.upsert([indexed(make_asset("new", text="new index"))])
    assert server.get("old", OPERATOR) is not None and server.get("new", OPERATOR) is None
    rebuild.finish_rebuild()
    assert server.get("new", OPERATOR) is not None and server.get("old", OPERATOR) is None
    assert server.info().count == 1
    # A write through the server lands in the new index, and a fresh open sees both.
    server.upsert([indexed(make_asset("later", text="written after the swap"))])
    rebuild.close()
    server.close()
    with EmbeddedStore.open(tmp_path, MODEL, DIM) as fresh:
        assert {fresh.get(i, OPERATOR) is not None for i in ("new", "later")} == {True}
    # A rebuild that is never published leaves the current index as it was, and its file goes
    # with the next rebuild.
    EmbeddedStore.open(tmp_path, MODEL, DIM, recreate=True).close()
    with EmbeddedStore.open(tmp_path, MODEL, DIM) as current:
        assert current.info().count == 2
    EmbeddedStore.open(tmp_path, MODEL, DIM, recreate=True).close()
    builds = sorted(p.name for p in tmp_path.glob("labsearch-build-*.sqlite3"))
    assert len(builds) == 2  # the current index and the one unpublished rebuild, no more


def test_what_bob_sees_does_not_change_when_lab_a_adds_data(tmp_path: Path) -> None:
    """BM25 statistics come from the rows the caller may see: lab A's documents (sharing bob's
    words) change neither the order nor the scores of bob's results."""
    bob = Access.for_groups(["lab-b"], user="bob")
    texts = ["liver rna extraction", "liver biopsy", "kidney rna", "rna quality liver liver"]
    lab_b = [
        indexed(make_asset(f"b-{i}", groups=["lab-b"], text=text), seed=i)
        for i, text in enumerate(texts)
    ]
    lab_a = [
        indexed(make_asset(f"a-{i}", groups=["lab-a"], text=f"liver liver rna sample {i}"), seed=9)
        for i in range(40)
    ]
    with EmbeddedStore.open(tmp_path / "index", MODEL, DIM) as store:
        store.upsert(lab_b)
        requests = [
            SearchRequest(text="liver rna", mode=mode, vector=unit(1), k=10)
            for mode in (SearchMode.BM25, SearchMode.HYBRID)
        ]
        before = [[(h.asset.id, h.score) for h in store.search(r, bob)] for r in requests]
        store.upsert(lab_a)
        after = [[(h.asset.id, h.score) for h in store.search(r, bob)] for r in requests]
        assert len(store.search(requests[0], OPERATOR)) == 10  # lab A's rows do match
    assert before == after
    assert [asset_id for asset_id, _ in before[0]] == ["b-3", "b-0", "b-1", "b-2"]
