"""The OpenSearch store: the conformance suite against the real node, OpenSearch-only behaviour
(alias swap, mapping, analyzer), and unit tests of SigV4 wiring and bulk retries without a node."""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import requests
from opensearch_fixtures import *  # noqa: F403 - pytest fixtures, used by name
from opensearch_fixtures import opensearch_settings
from opensearchpy import exceptions as os_errors
from store_conformance import DIM, MODEL, StoreConformance, ids, indexed, make_asset

from labsearch.access import Access
from labsearch.errors import ConfigError, LabsearchError, StoreUnavailableError
from labsearch.settings import Settings
from labsearch.stores import open_store
from labsearch.stores.opensearch import OpenSearchStore
from labsearch.stores.opensearch_bulk import Action, BulkWriteError, RetryPolicy, run_bulk
from labsearch.stores.opensearch_client import build_client
from labsearch.stores.opensearch_mapping import flatten_metadata
from labsearch.stores.protocol import AssetStore, IndexedAsset, SearchMode, SearchRequest

OPERATOR = Access.as_operator()
LAB_A = Access.for_groups(["lab-a"])


def open_os(settings: Settings, model: str = MODEL, dimension: int = DIM, **kw) -> OpenSearchStore:
    return OpenSearchStore.open(settings.with_overrides(model=model), dimension, **kw)


@pytest.mark.integration
class TestOpenSearchStore(StoreConformance):
    @pytest.fixture
    def store(self, os_settings: Settings) -> Iterator[OpenSearchStore]:
        store = open_os(os_settings)
        yield store
        store.close()

    @pytest.fixture
    def reopen_with_model(self, os_settings: Settings) -> Callable[[str, int], AssetStore]:
        return lambda model, dimension: open_os(os_settings, model, dimension)

    @pytest.fixture
    def reopen(self, os_settings: Settings) -> Callable[[bool], AssetStore]:
        return lambda recreate: open_os(os_settings, recreate=recreate)


# ---------------------------------------------------------------------- OpenSearch only


@pytest.mark.integration
def test_factory_opens_the_opensearch_store(os_settings: Settings) -> None:
    store = open_store(os_settings, DIM)
    try:
        assert isinstance(store, OpenSearchStore)
        assert store.info().backend == "opensearch"
    finally:
        store.close()


@pytest.mark.integration
def test_index_is_versioned_behind_an_alias_with_model_in_meta(
    os_settings: Settings, opensearch_node: str
) -> None:
    with open_os(os_settings) as store:
        store.upsert([indexed(make_asset("a1"))])
    alias = os_settings.opensearch_index
    aliased = requests.get(f"{opensearch_node}/_alias/{alias}", timeout=10).json()
    (index,) = aliased
    assert index.startswith(f"{alias}-v")
    mapping = requests.get(f"{opensearch_node}/{index}/_mapping", timeout=10).json()
    meta = mapping[index]["mappings"]["_meta"]["labsearch"]
    assert meta["model"] == MODEL and meta["dimension"] == DIM
    vector = mapping[index]["mappings"]["properties"]["vector"]
    assert vector["method"]["engine"] == "lucene"
    assert vector["method"]["space_type"] == "cosinesimil"


@pytest.mark.integration
def test_rebuild_swaps_the_alias_atomically(os_settings: Settings, opensearch_node: str) -> None:
    with open_os(os_settings) as old:
        old.upsert([indexed(make_asset("old-1", text="walrus")), indexed(make_asset("old-2"))])
    reader = open_os(os_settings)
    rebuild = open_os(os_settings, recreate=True)
    try:
        rebuild.upsert([indexed(make_asset("new-1", text="walrus"))])
        # While the rebuild runs, readers still see the complete old index ...
        assert ids(reader.match(None, OPERATOR).assets) == ["old-1", "old-2"]
        # ... and the rebuild sees only what it wrote (so the indexer re-adds everything).
        assert ids(rebuild.match(None, OPERATOR).assets) == ["new-1"]
        assert rebuild.hashes_by_source("src://test").keys() == {"new-1"}
        rebuild.finish_rebuild()
        hits = reader.search(SearchRequest(text="walrus", mode=SearchMode.BM25), OPERATOR)
        assert ids(hits) == ["new-1"]
        assert ids(reader.match(None, OPERATOR).assets) == ["new-1"]
    finally:
        reader.close()
        rebuild.close()
    indices = requests.get(
        f"{opensearch_node}/_cat/indices/{os_settings.opensearch_index}-v*",
        params={"format": "json"},
        timeout=10,
    ).json()
    assert len(indices) == 1, "the old index is dropped by the swap"


@pytest.mark.integration
def test_rebuild_for_a_new_model_is_allowed(os_settings: Settings) -> None:
    with open_os(os_settings) as store:
        store.upsert([indexed(make_asset("a1"))])
    rebuild = open_os(os_settings, model="bigger-model", dimension=DIM * 2, recreate=True)
    # A writer still on the old model: its write stands until the swap (the new index cannot
    # take its vectors; the rebuild's own data replaces everything).
    with open_os(os_settings) as live:
        live.upsert([indexed(make_asset("a2"))])
        assert live.info().count == 2
    rebuild.finish_rebuild()
    rebuild.close()
    with open_os(os_settings, model="bigger-model", dimension=DIM * 2) as reopened:
        assert reopened.info().count == 0
        assert reopened.info().model == "bigger-model"


@pytest.mark.integration
def test_a_rebuild_that_was_never_published_is_dropped_by_the_next(
    os_settings: Settings, opensearch_node: str
) -> None:
    """Writers repeat their writes into a rebuild in progress; one whose process died must not
    collect them for ever: the next rebuild drops it (and its journal)."""
    with open_os(os_settings) as store:
        store.upsert([indexed(make_asset("a1"))])
    abandoned = open_os(os_settings, recreate=True)
    abandoned.client.close()  # the process died: no finish_rebuild, no close
    rebuild = open_os(os_settings, recreate=True)
    try:
        alias = os_settings.opensearch_index
        indices = requests.get(f"{opensearch_node}/_cat/indices/{alias}-v*?h=index", timeout=10)
        assert abandoned.pending_index not in indices.text
        with open_os(os_settings) as live:
            live.upsert([indexed(make_asset("a2", title="written meanwhile"))])
        rebuild.finish_rebuild()
        assert [a.id for a in rebuild.get_many(["a1", "a2"], OPERATOR)] == ["a2"]
        stale = OpenSearchStore(
            build_client(os_settings),
            url=abandoned.url,
            alias=alias,
            target=abandoned.target,
            model=MODEL,
            dimension=DIM,
            pending_index=abandoned.pending_index,
        )
        with pytest.raises(ConfigError, match="replaced by a later rebuild"):
            stale.finish_rebuild()  # what the abandoned process would get, had it lived on
        stale.client.close()
    finally:
        rebuild.close()
    left = requests.get(f"{opensearch_node}/_cat/indices/{alias}-v*?h=index", timeout=10)
    assert len(left.text.split()) == 1, "only the published index remains (no journal)"
    markers = requests.get(f"{opensearch_node}/_cat/aliases/{alias}-rebuild*", timeout=10)
    assert markers.text.strip() == "", "the rebuild's aliases end with the swap"


@pytest.mark.integration
def test_a_plain_index_with_the_alias_name_is_a_clear_error(
    os_settings: Settings, opensearch_node: str
) -> None:
    name = os_settings.opensearch_index + "-v-plain"
    requests.put(f"{opensearch_node}/{name}", timeout=30).raise_for_status()
    try:
        with pytest.raises(ConfigError, match="not a labsearch alias"):
            open_os(os_settings.with_overrides(opensearch_index=name))
    finally:
        requests.delete(f"{opensearch_node}/{name}", timeout=30)


@pytest.mark.integration
def test_analyzer_matches_the_embedded_tokenizer(os_settings: Settings, opensearch_node: str):
    with open_os(os_settings) as store:
        store.upsert([indexed(make_asset("a1"))])
    response = requests.post(
        f"{opensearch_node}/{os_settings.opensearch_index}/_analyze",
        json={"analyzer": "labsearch_text", "text": "Running LIV-0042 sample_name Café, mice"},
        timeout=10,
    ).json()
    tokens = [t["token"] for t in response["tokens"]]
    # Porter stems, '-' and '_' stay inside tokens, diacritics folded (FTS5 unicode61 + porter).
    assert tokens == ["run", "liv-0042", "sample_nam", "cafe", "mice"]


@pytest.mark.integration
def test_a_rejected_document_in_a_rebuild_stops_it_unpublished(os_settings: Settings) -> None:
    """A rebuild sends its batches in the background; a batch the engine rejects still stops
    the run: the rebuild is never published, and every call after the failure raises it."""
    with open_os(os_settings) as store:
        store.upsert([indexed(make_asset("old"))])
    bad = indexed(make_asset("too-many-values", metadata={"barcodes": list(range(10_001))}))
    rebuild = open_os(os_settings, recreate=True)
    try:
        rebuild.upsert([indexed(make_asset("fine")), bad])
        # Known once the request is answered: at the latest when the rebuild is published...
        with pytest.raises(BulkWriteError, match="too-many-values"):
            rebuild.finish_rebuild()
        # ...and from then on, by every call.
        with pytest.raises(BulkWriteError, match="too-many-values"):
            rebuild.upsert([indexed(make_asset("later"))])
    finally:
        rebuild.close()
    with open_os(os_settings) as reader:
        assert [a.id for a in reader.match(None, OPERATOR).assets] == ["old"]


@pytest.mark.integration
def test_a_rejected_document_rolls_the_whole_batch_back(os_settings: Settings) -> None:
    """The engine rejects one document mid-bulk (more metadata values than OpenSearch's
    nested-object limit of 10,000): the error names it, and the batch is undone - its new ids
    deleted, the ids it replaced restored with their old text and vectors."""
    bad = indexed(make_asset("too-many-values", metadata={"barcodes": list(range(10_001))}))
    with open_os(os_settings) as store:
        store.upsert([indexed(make_asset("kept", title="the old title"), seed=1)])
        before = store.search(
            SearchRequest(
                vector=indexed(make_asset("kept"), seed=1).vector, k=1, mode=SearchMode.DENSE
            ),
            OPERATOR,
        )
        batch = [
            indexed(make_asset("fine")),
            indexed(make_asset("kept", title="a new title"), seed=2),
            bad,
        ]
        with pytest.raises(BulkWriteError) as error:
            store.upsert(batch)
        assert error.value.failures.keys() == {"too-many-values"}
        assert "too-many-values" in str(error.value) and "rolled back" in str(error.value)
        assert store.get("fine", OPERATOR) is None
        assert store.get("kept", OPERATOR).title == "the old title"
        after = store.search(
            SearchRequest(
                vector=indexed(make_asset("kept"), seed=1).vector, k=1, mode=SearchMode.DENSE
            ),
            OPERATOR,
        )
        assert [h.asset.id for h in after] == [h.asset.id for h in before] == ["kept"]
        assert after[0].score == pytest.approx(before[0].score, abs=1e-4)  # the old vector
        assert store.info().count == 1


@pytest.mark.integration
def test_documents_are_sent_compactly_and_read_back_unchanged(os_settings: Settings) -> None:
    """Vectors go as float32 digits and documents as orjson bytes: what comes back is the same
    float32 vector, non-ASCII text, and a metadata integer past 64 bits (which orjson refuses,
    so that document takes the json fallback)."""
    vector = np.random.default_rng(7).normal(size=DIM).astype(np.float32)
    vector /= np.linalg.norm(vector)
    plain = make_asset("plain", title="Probe für Zellkerne – 5′ UTR")
    huge = make_asset("huge", metadata={"reads": 2**70, "barcode": "ACGT"})
    with open_os(os_settings) as store:
        store.upsert([IndexedAsset(asset=plain, vector=vector, content_hash="h1"), indexed(huge)])
        assert store.get("plain", OPERATOR).title == "Probe für Zellkerne – 5′ UTR"
        assert store.get("huge", OPERATOR).metadata["reads"] == 2**70
        (hit,) = store._stored_with_vectors(["plain"])
        stored = np.asarray(hit["fields"]["vector"][0], dtype=np.float32)
        assert np.array_equal(stored, vector)


@pytest.mark.integration
def test_unreachable_cluster_is_store_unavailable(tmp_path: Path) -> None:
    settings = opensearch_settings("http://127.0.0.1:9", "labsearch-nowhere", tmp_path)
    with pytest.raises(StoreUnavailableError, match="cannot be reached"):
        OpenSearchStore.open(settings, DIM)


# ---------------------------------------------------------------------- unit: no node needed


def test_metadata_flattening_follows_the_grammar_lookup() -> None:
    entries = list(
        flatten_metadata(
            {
                "a": {"b": 1, "c": [True, None, "x"]},
                "d.e": "unreachable by a dotted filter",
                "none": None,
                "empty": [],
                "objs": [{"k": 1}],
                "ratio": 1.0,
            }
        )
    )
    assert entries == [
        {"k": "a"},
        {"k": "a.b", "n": 1, "f": "1"},
        {"k": "a.c", "b": True, "f": "true"},
        {"k": "a.c"},
        {"k": "a.c", "s": "x", "f": "x"},
        {"k": "objs"},
        {"k": "ratio", "n": 1.0, "f": "1.0"},
    ]


class _CaptureHandler(BaseHTTPRequestHandler):
    """A real HTTP endpoint that records the headers it was sent and answers like OpenSearch."""

    seen: list[dict[str, str]] = []

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        self.seen.append(dict(self.headers))
        body = json.dumps({"cluster_name": "capture", "version": {"number": "2.19.1"}}).encode()
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def capture_server() -> Iterator[str]:
    _CaptureHandler.seen = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _CaptureHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.mark.parametrize("service", ["es", "aoss"])
def test_requests_are_sigv4_signed_when_an_aws_region_is_set(
    capture_server: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, service: str
) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY")
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    settings = opensearch_settings(
        capture_server,
        "labsearch",
        tmp_path,
        opensearch_aws_region="eu-west-1",
        opensearch_aws_service=service,
    )
    client = build_client(settings)
    assert client.info()["cluster_name"] == "capture"
    headers = {k.lower(): v for k, v in _CaptureHandler.seen[-1].items()}
    auth = headers["authorization"]
    assert auth.startswith("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/")
    assert f"/eu-west-1/{service}/aws4_request" in auth
    assert "x-amz-date" in headers
    assert "x-amz-content-sha256" in headers


def test_basic_auth_is_sent_when_a_user_is_set(capture_server: str, tmp_path: Path) -> None:
    settings = opensearch_settings(
        capture_server,
        "labsearch",
        tmp_path,
        opensearch_user="admin",
        opensearch_password="s3cret",
    )
    build_client(settings).info()
    headers = {k.lower(): v for k, v in _CaptureHandler.seen[-1].items()}
    assert headers["authorization"] == "Basic YWRtaW46czNjcmV0"


def test_sigv4_without_credentials_is_a_config_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    settings = opensearch_settings(
        "https://search.example", "labsearch", tmp_path, opensearch_aws_region="eu-west-1"
    )
    with pytest.raises(ConfigError, match="no AWS credentials"):
        build_client(settings)


class ScriptedBulkClient:
    """A transport double for what a real node cannot be made to do on demand: it answers each
    bulk call with the next scripted outcome (an exception, a whole-request status, or
    per-document statuses) and records what it was sent."""

    def __init__(self, script: list[Any]) -> None:
        self.script = list(script)
        self.sent: list[list[str]] = []

    def bulk(self, body: bytes, params: dict[str, str] | None = None) -> dict[str, Any]:
        lines = [json.loads(line) for line in body.strip().split(b"\n")]
        doc_ids = [
            next(iter(line.values()))["_id"]
            for line in lines
            if len(line) == 1 and ("index" in line or "delete" in line)
        ]
        self.sent.append(doc_ids)
        step = self.script.pop(0)
        if isinstance(step, Exception):
            raise step
        statuses = step if isinstance(step, dict) else {}
        items = []
        for doc_id in doc_ids:
            status = statuses.get(doc_id, 201)
            outcome: dict[str, Any] = {"_id": doc_id, "status": status}
            if status >= 300:
                outcome["error"] = {"type": "x", "reason": f"scripted {status}"}
            else:
                outcome["result"] = "created"
            items.append({"index": outcome})
        return {"errors": any(s >= 300 for s in statuses.values()), "items": items}


def _actions(*doc_ids: str) -> list[Action]:
    return [Action("index", doc_id, {"id": doc_id}) for doc_id in doc_ids]


def _policy(sleeps: list[float], attempts: int = 4) -> RetryPolicy:
    return RetryPolicy(attempts=attempts, initial_backoff=0.5, max_backoff=2.0, sleep=sleeps.append)


def test_bulk_retries_429_and_5xx_documents_with_backoff() -> None:
    client = ScriptedBulkClient([{"b": 429, "c": 503}, {"c": 502}, {}])
    sleeps: list[float] = []
    results = run_bulk(client, "idx", _actions("a", "b", "c"), policy=_policy(sleeps), url="u")
    assert results == {"a": "created", "b": "created", "c": "created"}
    assert client.sent == [["a", "b", "c"], ["b", "c"], ["c"]], "only failed documents are resent"
    assert sleeps == [0.5, 1.0]


def test_bulk_retries_connection_errors_and_whole_request_503() -> None:
    client = ScriptedBulkClient(
        [
            os_errors.ConnectionError("N/A", "connection refused", None),
            os_errors.TransportError(503, "unavailable", {}),
            os_errors.ConnectionTimeout("TIMEOUT", "timed out", None),
            {},
        ]
    )
    sleeps: list[float] = []
    results = run_bulk(client, "idx", _actions("a", "b"), policy=_policy(sleeps), url="u")
    assert set(results) == {"a", "b"}
    assert client.sent == [["a", "b"]] * 4
    assert sleeps == [0.5, 1.0, 2.0]


def test_bulk_gives_up_with_store_unavailable_after_the_last_try() -> None:
    refused = os_errors.ConnectionError("N/A", "connection refused", None)
    client = ScriptedBulkClient([refused] * 3)
    sleeps: list[float] = []
    with pytest.raises(StoreUnavailableError, match="gave up writing 2 document") as error:
        run_bulk(client, "idx", _actions("a", "b"), policy=_policy(sleeps, attempts=3), url="u")
    assert "run the same `labsearch index` again" in str(error.value)
    assert len(client.sent) == 3 and sleeps == [0.5, 1.0]


def test_bulk_reports_every_permanently_rejected_document() -> None:
    client = ScriptedBulkClient([{"b": 400, "d": 429}, {}])
    sleeps: list[float] = []
    with pytest.raises(BulkWriteError) as error:
        run_bulk(client, "idx", _actions("a", "b", "c", "d"), policy=_policy(sleeps), url="u")
    assert error.value.failures == {"b": "400 scripted 400"}
    assert "'b'" not in str(error.value) and "b: 400" in str(error.value)
    assert client.sent == [["a", "b", "c", "d"], ["d"]], "the 429 was still retried"


def test_bulk_does_not_retry_a_client_error_of_the_whole_request() -> None:
    client = ScriptedBulkClient([os_errors.RequestError(400, "parse_exception", {})])
    with pytest.raises(LabsearchError, match="refused a bulk request") as error:
        run_bulk(client, "idx", _actions("a"), policy=_policy([]), url="u")
    assert len(client.sent) == 1
    assert not isinstance(error.value, StoreUnavailableError)


@pytest.mark.integration
@pytest.mark.slow
def test_cli_index_and_search_use_opensearch_when_configured(
    os_settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, opensearch_node: str
) -> None:
    from typer.testing import CliRunner

    from labsearch.settings import get_settings
    from shell.cli import app

    notes = tmp_path / "notes"
    notes.mkdir()
    (notes / "liver.md").write_text("# Liver RNA-seq\n\nSample LIV-0042 was sequenced.\n")
    (notes / "kidney.md").write_text("# Kidney imaging\n\nOrganoids were imaged.\n")
    for name in [n for n in os.environ if n.startswith("LABSEARCH_")]:
        monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("LABSEARCH_BACKEND", "opensearch")
    monkeypatch.setenv("LABSEARCH_OPENSEARCH_URL", opensearch_node)
    monkeypatch.setenv("LABSEARCH_OPENSEARCH_INDEX", os_settings.opensearch_index)
    monkeypatch.setenv("LABSEARCH_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("LABSEARCH_CACHE_DIR", str(tmp_path / "cache"))
    get_settings.cache_clear()
    runner = CliRunner()
    try:
        indexed_run = runner.invoke(app, ["index", notes.as_uri()])
        assert indexed_run.exit_code == 0, indexed_run.output
        found = runner.invoke(app, ["search", "LIV-0042", "--json"])
        assert found.exit_code == 0, found.output
    finally:
        get_settings.cache_clear()
    hits = json.loads(found.stdout)["hits"]
    assert hits and "liver" in hits[0]["title"].lower()
    aliased = requests.get(f"{opensearch_node}/_alias/{os_settings.opensearch_index}", timeout=10)
    (index,) = aliased.json()
    count = requests.get(f"{opensearch_node}/{index}/_count", timeout=10).json()["count"]
    assert count >= 2, "the assets went to OpenSearch"
