"""One request cannot stall others: reads of the embedded store run side by side, each read
has a time budget, and the work a request may ask for is bounded."""

from __future__ import annotations

import asyncio
import threading

import numpy as np
import pytest
from starlette.requests import Request

from chat_api.disconnects import unless_disconnected
from labsearch import cancellation
from labsearch.access import Access
from labsearch.errors import InvalidRequestError, QueryTooExpensiveError, RequestCancelledError
from labsearch.schema import Asset, Provenance
from labsearch.stores import fts_query
from labsearch.stores.embedded import EmbeddedStore
from labsearch.stores.protocol import IndexedAsset, SearchMode, SearchRequest

DIM = 8
LAB_A = Access.for_groups(["lab-a"], user="alice")
LAB_B = Access.for_groups(["lab-b"], user="bob")


def assets(n: int) -> list[IndexedAsset]:
    rng = np.random.default_rng(3)
    items = []
    for i in range(n):
        vector = rng.normal(size=DIM).astype(np.float32)
        asset = Asset(
            id=f"run-{i}",
            source="test://runs",
            kind="file",
            title=f"Run {i} liver RNA-seq",
            text=f"Sequencing run {i} of sample S-{i % 50} on instrument {i % 5}",
            metadata={"instrument": f"seq-{i % 5}", "sample": f"S-{i % 50}", "lane": i % 8},
            provenance=Provenance(source="test://runs"),
            groups=["lab-a" if i % 2 else "lab-b"],
        )
        items.append(IndexedAsset(asset, (vector / np.linalg.norm(vector)).tolist(), str(i)))
    return items


@pytest.fixture
def store(tmp_path):
    store = EmbeddedStore.open(tmp_path / "index", "test-model", DIM)
    store.upsert(assets(3000))
    yield store
    store.close()


def test_a_long_read_does_not_hold_up_another_users_search(store):
    """While one request is inside a read (an expensive facet count, say), another thread's
    search completes: reads share no lock."""
    finished = threading.Event()
    results = []

    def bobs_search() -> None:
        results.extend(store.search(SearchRequest(text="liver", k=3), LAB_B))
        finished.set()

    with store._read():  # alice's request, still running
        thread = threading.Thread(target=bobs_search)
        thread.start()
        assert finished.wait(10), "bob's search waited for alice's read to end"
    thread.join()
    assert len(results) == 3


def test_searches_rank_side_by_side(store):
    """While one search is ranking on the in-memory indexes (here: a thread holding their lock
    shared, as a long BM25 pass does), another user's search completes: ranking takes the
    lock shared, and only a refresh takes it alone."""
    store.search(SearchRequest(text="liver", k=3), LAB_B)  # the indexes are loaded
    results = []
    with store._vectors_lock.shared():
        thread = threading.Thread(
            target=lambda: results.extend(store.search(SearchRequest(text="liver", k=3), LAB_B))
        )
        thread.start()
        thread.join(10)
        assert not thread.is_alive(), "bob's search waited for another search's ranking"
    assert len(results) == 3


def test_a_refresh_waits_for_searches_in_progress_and_then_serves_new_rows(store):
    store.search(SearchRequest(text="liver", k=3), LAB_B)
    newer = assets(3001)[-1]
    found = []

    def search_after_a_write() -> None:
        request = SearchRequest(text="liver", k=5, filters={"id": newer.asset.id})
        found.extend(hit.asset.id for hit in store.search(request, LAB_B))

    with store._vectors_lock.shared():
        store.upsert([newer])  # the next search must refresh, alone
        thread = threading.Thread(target=search_after_a_write)
        thread.start()
        thread.join(0.5)
        assert thread.is_alive(), "the refresh did not wait for the search in progress"
    thread.join(10)
    assert found == [newer.asset.id]


def test_a_read_past_its_time_budget_is_stopped_with_a_clear_error(store):
    store.query_timeout = 1e-9
    store.progress_steps = 1_000  # this small index's facets take fewer than the 200k default
    with pytest.raises(QueryTooExpensiveError, match="narrow it"):
        store.facets(["instrument", "sample", "lane"], LAB_A)
    store.query_timeout = 10.0  # the connection is usable again at once
    counts = store.facets(["instrument"], LAB_A)["instrument"]
    assert sum(counts.values()) == 1500


def test_dense_search_from_many_threads_at_once_stays_exact(store):
    """The shared vector cache is refreshed and scanned under its own lock: concurrent dense
    searches give the same answers as one at a time."""
    query = np.ones(DIM, dtype=np.float32) / np.sqrt(DIM)
    request = SearchRequest(vector=query.tolist(), k=5, mode=SearchMode.DENSE)
    expected = [hit.asset.id for hit in store.search(request, LAB_A)]
    answers: list[list[str]] = []

    def search() -> None:
        for _ in range(20):
            answers.append([hit.asset.id for hit in store.search(request, LAB_A)])

    threads = [threading.Thread(target=search) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert answers == [expected] * 80


def test_a_pasted_page_of_text_is_cut_to_a_bounded_number_of_terms():
    text = " ".join(f"word{i}" for i in range(5000))
    assert len(fts_query.terms(text)) == fts_query.MAX_TERMS
    expression = fts_query.match_expression(text)
    assert expression is not None and expression.count(" OR ") == fts_query.MAX_TERMS - 1


def test_facet_fields_per_search_are_bounded(tmp_path, embedder):
    from labsearch.models import SearchRequestModel
    from labsearch.settings import Settings
    from labsearch.stores import open_store
    from retriever.service import MAX_FACET_FIELDS, SearchService

    settings = Settings(home=tmp_path / "home", cache_dir=tmp_path / "cache")
    service = SearchService(settings, open_store(settings, embedder.dimension), embedder)
    try:
        many = [f"field{i}" for i in range(MAX_FACET_FIELDS + 1)]
        with pytest.raises(InvalidRequestError, match="facet fields"):
            service.search(SearchRequestModel(query="liver", facets=many), LAB_A)
        allowed = service.search(SearchRequestModel(query="liver", facets=many[:-1]), LAB_A)
        assert set(allowed.facets) == set(many[:-1])
    finally:
        service.store.close()


def test_read_connections_of_finished_threads_are_closed(store):
    """Found by bench/load.py (server memory grew 48% in 5 minutes): a server's worker threads
    come and go, and each new one opened a read connection that was kept after it ended."""
    for _ in range(30):
        thread = threading.Thread(target=lambda: store.search(SearchRequest(text="liver"), LAB_A))
        thread.start()
        thread.join()
    store.search(SearchRequest(text="liver"), LAB_A)  # a live thread's read prunes the rest
    assert len(store._readers) <= 2


def test_a_query_whose_client_has_gone_is_stopped(store):
    """The cancellation event (set by the API when the client disconnects) stops the read at
    the next progress check, with its own error, and the connection works again at once."""
    store.progress_steps = 1_000
    gone = threading.Event()
    gone.set()
    with cancellation.cancellable(gone), pytest.raises(RequestCancelledError):
        store.facets(["instrument", "sample", "lane"], LAB_A)
    assert sum(store.facets(["instrument"], LAB_A)["instrument"].values()) == 1500


def _request(receive) -> Request:
    return Request({"type": "http", "method": "POST", "path": "/v1/search", "headers": []}, receive)


def test_the_api_stops_a_search_when_its_client_disconnects_mid_query(store):
    """`unless_disconnected` (what /v1/search runs in) sets the event when the server reports
    the client gone, while the real store is inside its facet query."""
    store.progress_steps = 1  # a Python callback per VM step: the query now lasts long enough
    started = threading.Event()

    async def receive() -> dict:
        while not started.is_set():
            await asyncio.sleep(0.001)
        return {"type": "http.disconnect"}

    def work() -> dict:
        started.set()
        return store.facets(["instrument", "sample", "lane"] * 10, LAB_A)

    with pytest.raises(RequestCancelledError):
        asyncio.run(unless_disconnected(_request(receive), work))
    store.progress_steps = 200_000
    assert sum(store.facets(["instrument"], LAB_A)["instrument"].values()) == 1500


def test_no_work_starts_for_a_client_gone_before_its_body_was_read():
    ran = []

    async def receive() -> dict:
        return {"type": "http.disconnect"}

    with pytest.raises(RequestCancelledError):
        asyncio.run(unless_disconnected(_request(receive), lambda: ran.append(1)))
    assert ran == []
