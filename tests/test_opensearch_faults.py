"""Faults on a real, disposable OpenSearch node (its own port and directory, so the shared node
stays healthy): the node stopped in the middle of a bulk write, and searches while it is down.

The node is stopped and started with scripts/opensearch-node, exactly as an operator would.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from opensearch_fixtures import *  # noqa: F403 - pytest fixtures, used by name
from opensearch_fixtures import DisposableNode, delete_indices, opensearch_settings
from store_conformance import DIM, MODEL, ids, indexed, make_asset, unit

from labsearch.access import Access
from labsearch.errors import StoreUnavailableError
from labsearch.settings import Settings
from labsearch.stores import open_store
from labsearch.stores.opensearch import OpenSearchStore
from labsearch.stores.opensearch_bulk import RetryPolicy
from labsearch.stores.protocol import SearchMode, SearchRequest

pytestmark = pytest.mark.integration

OPERATOR = Access.as_operator()
FAST_RETRY = RetryPolicy(attempts=3, initial_backoff=0.2, max_backoff=0.5)


@pytest.fixture
def node(disposable_node: DisposableNode) -> Iterator[DisposableNode]:
    """The disposable node, running at the start of the test and after it."""
    disposable_node.start()
    yield disposable_node
    disposable_node.start()


@pytest.fixture
def fault_settings(node: DisposableNode, tmp_path: Path) -> Iterator[Settings]:
    alias = f"labsearch-fault-{uuid.uuid4().hex[:10]}"
    yield opensearch_settings(node.url, alias, tmp_path, model=MODEL, index_batch_size=50)
    if node.run("status").returncode == 0:
        delete_indices(node.url, alias)


def stop_node_before_bulk_call(
    store: OpenSearchStore, node: DisposableNode, call: int
) -> Callable[[], int]:
    """Stop the real node (scripts/opensearch-node stop) right before the `call`-th bulk
    request of `store`; returns a counter of bulk requests made."""
    original = store.client.bulk
    calls = {"n": 0}

    def bulk(*args: Any, **kwargs: Any) -> Any:
        calls["n"] += 1
        if calls["n"] == call:
            node.stop()
        return original(*args, **kwargs)

    store.client.bulk = bulk  # type: ignore[method-assign]
    return lambda: calls["n"]


def test_node_stopped_mid_bulk_fails_clearly_and_a_rerun_loses_and_duplicates_nothing(
    node: DisposableNode, fault_settings: Settings
) -> None:
    items = [indexed(make_asset(f"doc-{i:04d}", text=f"record {i}"), seed=i) for i in range(400)]
    store = OpenSearchStore.open(fault_settings, DIM)
    store.retry = FAST_RETRY
    bulk_calls = stop_node_before_bulk_call(store, node, call=4)  # 3 batches of 50 written
    with pytest.raises(StoreUnavailableError) as error:
        store.upsert(items)
    message = str(error.value)
    assert "gave up writing 50 document(s)" in message and "after 3 tries" in message
    assert "run the same `labsearch index` again" in message
    assert error.value.status == 503
    assert bulk_calls() == 4 + 2, "the failing batch was retried before giving up"
    store.close()

    node.start()
    with OpenSearchStore.open(fault_settings, DIM) as resumed:
        written = resumed.hashes_by_source("src://test")
        assert len(written) == 150, "the batches acknowledged before the stop survived"
        # The re-run writes everything again (ids are stable, so nothing doubles).
        resumed.upsert(items)
        assert resumed.info().count == 400
        everything = resumed.match(None, OPERATOR)
        assert everything.count == 400
        assert ids(everything.assets) == [item.asset.id for item in items]
        assert resumed.hashes_by_source("src://test") == {
            item.asset.id: item.content_hash for item in items
        }


def test_search_while_the_node_is_down_is_unavailable_and_recovers(
    node: DisposableNode, fault_settings: Settings
) -> None:
    store = open_store(fault_settings, DIM)
    store.upsert([indexed(make_asset("kept", text="capybara"), unit(0))])
    request = SearchRequest(text="capybara", vector=unit(0), mode=SearchMode.HYBRID)
    assert ids(store.search(request, OPERATOR)) == ["kept"]

    node.stop()
    for call in (
        lambda: store.search(request, OPERATOR),
        lambda: store.match(None, OPERATOR),
        lambda: store.get("kept", OPERATOR),
        lambda: store.facets(["kind"], OPERATOR),
        lambda: store.info(),
    ):
        with pytest.raises(StoreUnavailableError, match="cannot be reached") as error:
            call()
        assert error.value.status == 503
        assert "scripts/opensearch-node start" in str(error.value)

    node.start()
    # The same store object (as held by a running API server) works again.
    assert ids(store.search(request, OPERATOR)) == ["kept"]
    assert store.info().count == 1
    store.close()


def test_indexer_reports_the_outage_and_the_next_run_resumes(
    node: DisposableNode, fault_settings: Settings, tmp_path: Path, embedder
) -> None:
    from indexer.pipeline import Indexer

    files = tmp_path / "notes"
    files.mkdir()
    for i in range(24):
        (files / f"note-{i:02d}.md").write_text(
            f"# Note {i}\n\nLiver sample LIV-{i:04d} was sequenced on run SRR51243{i:02d}.\n"
        )
    uri = files.resolve().as_uri()
    settings = fault_settings.with_overrides(model=embedder.model_name, index_batch_size=4)

    store = open_store(settings, embedder.dimension)
    store.retry = FAST_RETRY
    stop_node_before_bulk_call(store, node, call=3)
    indexer = Indexer(settings, store, embedder, progress=None)
    report = indexer.index(uri)
    indexer.close()
    store.close()
    assert not report.complete
    assert any("gave up writing" in line for line in report.errors), report.errors

    node.start()
    store = open_store(settings, embedder.dimension)
    indexer = Indexer(settings, store, embedder, progress=None)
    second = indexer.index(uri)
    indexer.close()
    assert second.complete and not second.errors, second.errors
    assert second.unchanged == 8, "the two batches written before the outage are not redone"
    total = store.info().count
    assert second.added + second.unchanged == total
    listed = store.match(None, OPERATOR)
    assert listed.count == total and len(set(ids(listed.assets))) == total
    store.close()


def test_api_answers_503_while_the_node_is_down_and_recovers(
    node: DisposableNode, fault_settings: Settings, tmp_path: Path, embedder
) -> None:
    from api_fixtures import ALICE, api_settings, build_service
    from fastapi.testclient import TestClient

    from chat_api.app import create_app

    settings = api_settings(
        tmp_path / "api-home",
        backend="opensearch",
        model=embedder.model_name,
        opensearch_url=fault_settings.opensearch_url,
        opensearch_index=fault_settings.opensearch_index,
    )
    with TestClient(create_app(settings, build_service(settings, embedder))) as client:
        first = client.post("/v1/search", json={"query": "LIV-0042"}, headers=ALICE)
        assert first.status_code == 200 and first.json()["hits"]

        node.stop()
        down = client.post("/v1/search", json={"query": "LIV-0042"}, headers=ALICE)
        assert down.status_code == 503, down.text
        assert "scripts/opensearch-node start" in down.text

        node.start()
        again = client.post("/v1/search", json={"query": "LIV-0042"}, headers=ALICE)
        assert again.status_code == 200
        assert again.json()["hits"][0]["id"] == first.json()["hits"][0]["id"]
