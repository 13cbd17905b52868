"""The OpenSearch store: the same contract as the embedded store, for teams that outgrow one
machine (their own cluster, Amazon OpenSearch Service or Serverless).

- Reads go through an alias (`LABSEARCH_OPENSEARCH_INDEX`, default `labsearch`) that points to one
  versioned index `<alias>-v<UTC timestamp>-<random>`. A full rebuild (`recreate=True`) writes
  a new index while searches keep using the old one; `finish_rebuild()` then swaps the alias
  and drops the old index in one atomic `_aliases` call.
- Permissions and filters are filter clauses of every query, inside the k-NN query too
  (Lucene's filtered HNSW), so ranking never sees what the caller may not see.
- Hybrid search sends the BM25 and the k-NN query in one `_msearch` and fuses the two rankings
  with the embedded store's weighted reciprocal-rank fusion (neural-search's `hybrid` query
  needs ml-commons, which the Maven-assembled node does not have; RRF on ranks also keeps the
  two backends' results comparable).
- Writes are bulk requests with retries (opensearch_bulk.py) followed by a refresh, so data is
  searchable when `upsert`/`delete` return.
- Writes made by other store objects while a rebuild runs (`labsearch watch`, an ingest, in any
  process) are repeated into the new index and replayed at the swap (opensearch_rebuild.py), so
  publishing a rebuild loses none of them.
- `set_groups` re-indexes whole documents: a partial update would rebuild each document from
  `_source`, which leaves out the vector, and so drop it. The stored vector is read back with a
  script field (`doc['vector']`) instead, so nothing is embedded again.

Layout of the index: opensearch_mapping.py. Query compilation: opensearch_query.py.
"""

from __future__ import annotations

import contextlib
import logging
import math
import secrets
from collections import deque
from collections.abc import Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

import numpy as np
from opensearchpy import OpenSearch

from labsearch.access import Access
from labsearch.errors import (
    ConfigError,
    InvalidRequestError,
    LabsearchError,
    ModelMismatchError,
    StoreUnavailableError,
)
from labsearch.filters import TOP_LEVEL_FIELDS, normalize_field
from labsearch.schema import Asset
from labsearch.settings import Settings
from labsearch.stores import fts_query, fusion, opensearch_rebuild
from labsearch.stores.opensearch_bulk import (
    Action,
    BulkWriteError,
    RetryPolicy,
    batches,
    run_bulk,
)
from labsearch.stores.opensearch_client import build_client, pages_by_id, translated_errors
from labsearch.stores.opensearch_mapping import (
    RANKED_FIELD,
    from_source,
    index_body,
    read_meta,
    to_document,
)
from labsearch.stores.opensearch_query import (
    as_filter,
    filter_clauses,
    filtered,
)
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

log = logging.getLogger(__name__)

HIGHLIGHT_PRE, HIGHLIGHT_POST = "**", "**"  # as the embedded store marks matches
HIGHLIGHT = {
    "pre_tags": [HIGHLIGHT_PRE],
    "post_tags": [HIGHLIGHT_POST],
    "fragment_size": 80,
    "number_of_fragments": 1,
    "no_match_size": 0,
    # The query names the ranked field; mark its terms in the readable fields.
    "require_field_match": False,
    "fields": {"text": {}, "title": {}, "identifiers.text": {}},
}
PAGE = 1000  # values per page of a composite aggregation (value listings)
MAX_BULK_BYTES = 8 * 1024 * 1024
BULK_WORKERS = 2  # a rebuild's bulk requests in flight at once (see _write_behind)
MAX_KNN_K = 10_000  # the k-NN plugin's upper bound for k


class OpenSearchStore:
    """AssetStore on OpenSearch. Use `OpenSearchStore.open(settings, dimension)`."""

    backend = "opensearch"

    def __init__(
        self,
        client: OpenSearch,
        *,
        url: str,
        alias: str,
        target: str,
        model: str,
        dimension: int,
        pending_index: str | None = None,
        batch_size: int = 256,
        retry: RetryPolicy | None = None,
        bulk_workers: int = BULK_WORKERS,
    ) -> None:
        self.client = client
        self.url = url
        self.alias = alias
        self.model = model
        self.dimension = dimension
        self.batch_size = batch_size
        self.retry = retry or RetryPolicy()
        # Where reads and writes go: the alias, or during a rebuild the new index (so the
        # indexer sees what it wrote while every other reader still sees the old index).
        self.target = target
        self.pending_index = pending_index
        self._unrefreshed = False  # writes to an unpublished rebuild not yet refreshed
        # A rebuild's upserts are sent in the background, `bulk_workers` requests at a time,
        # while the caller prepares the next batch; the first failure stops the run.
        self.bulk_workers = max(1, bulk_workers)
        self._pool: ThreadPoolExecutor | None = None
        self._in_flight: deque[Future] = deque()
        self._failure: BaseException | None = None
        # Writers outside a rebuild repeat their writes into it (opensearch_rebuild.py).
        self._live = opensearch_rebuild.LiveWrites(client, alias, url, self.retry)

    # ------------------------------------------------------------------ lifecycle

    @classmethod
    def open(cls, settings: Settings, dimension: int, recreate: bool = False) -> OpenSearchStore:
        """Open the index behind `settings.opensearch_index`, creating it if there is none.

        Raises ModelMismatchError when it was built for another model or dimension, and
        StoreUnavailableError when the cluster cannot be reached. With `recreate=True` a new
        index is built beside the current one; call `finish_rebuild()` once it is complete.
        """
        if dimension <= 0:
            raise ConfigError(f"embedding dimension must be positive, got {dimension}")
        alias = settings.opensearch_index
        if alias != alias.lower() or not alias or alias.startswith(("_", "-", "+")):
            raise ConfigError(
                f"LABSEARCH_OPENSEARCH_INDEX={alias!r} is not a valid OpenSearch index name; "
                "use lowercase letters, digits and '-', e.g. labsearch"
            )
        client = build_client(settings)
        try:
            return cls._open_with(client, settings, dimension, recreate)
        except BaseException:
            client.close()
            raise

    @classmethod
    def _open_with(
        cls, client: OpenSearch, settings: Settings, dimension: int, recreate: bool
    ) -> OpenSearchStore:
        alias = settings.opensearch_index
        url = settings.opensearch_url
        options = {"url": url, "alias": alias, "model": settings.model, "dimension": dimension}
        options["batch_size"] = settings.index_batch_size
        with translated_errors(url, f"opening index {alias!r}"):
            current = _aliased_indices(client, alias)
            if not current:
                if client.indices.exists(index=alias):
                    raise ConfigError(
                        f"OpenSearch at {url} has an index named {alias!r} that is not a labsearch "
                        "alias; delete it or set LABSEARCH_OPENSEARCH_INDEX to another name"
                    )
                # First build: the new index gets the alias right away, nothing to swap.
                _create_index(client, alias, settings.model, dimension, with_alias=True)
                return cls(client, target=alias, **options)
            if recreate:
                opensearch_rebuild.drop_abandoned(client, alias, current)
                index = _create_index(
                    client, alias, settings.model, dimension, with_alias=False, bulk=True
                )
                opensearch_rebuild.announce(client, alias, index)
                log.info("rebuilding %s into %s; finish_rebuild() swaps the alias", alias, index)
                return cls(client, target=index, pending_index=index, **options)
            mapping = client.indices.get_mapping(index=current[0])[current[0]]
        meta = read_meta(mapping)
        if meta is None:
            raise ConfigError(
                f"OpenSearch index {current[0]!r} behind alias {alias!r} was not created by "
                "labsearch; point LABSEARCH_OPENSEARCH_INDEX elsewhere or rebuild it"
            )
        if (meta.get("model"), meta.get("dimension")) != (settings.model, dimension):
            raise ModelMismatchError(
                meta.get("model"), meta.get("dimension"), settings.model, dimension
            )
        return cls(client, target=alias, **options)

    def finish_rebuild(self) -> None:
        """Publish a rebuild: point the alias at the new index and delete the old index, in one
        atomic request, so searches switch from the complete old data to the complete new data.
        A no-op unless the store was opened with `recreate=True` on an existing alias."""
        if self.pending_index is None:
            return
        self._drain()  # raises the failure of a batch sent in the background: not published
        with translated_errors(self.url, f"publishing {self.pending_index!r}"):
            announced = opensearch_rebuild.still_announced(
                self.client, self.alias, self.pending_index
            )
        if not announced:
            raise ConfigError(
                f"the rebuild of {self.alias!r} into {self.pending_index!r} was replaced by a "
                "later rebuild of the same alias, which dropped its index; it is not published. "
                "Run one `labsearch index --rebuild` at a time."
            )
        with translated_errors(self.url, f"making {self.pending_index!r} searchable"):
            self.client.indices.put_settings(
                index=self.pending_index, body={"index": SERVING_SETTINGS}
            )
        self._replay_live_writes()
        with translated_errors(self.url, f"making {self.pending_index!r} searchable"):
            self.client.indices.refresh(index=self.pending_index)
        with translated_errors(self.url, f"swapping alias {self.alias!r}"):
            old = _aliased_indices(self.client, self.alias)
            actions: list[dict[str, Any]] = [
                {"add": {"index": self.pending_index, "alias": self.alias}}
            ]
            actions += opensearch_rebuild.swap_actions(self.alias, self.pending_index)
            actions += [{"remove_index": {"index": name}} for name in old]
            self.client.indices.update_aliases(body={"actions": actions})
        log.info("alias %s now points to %s (dropped %s)", self.alias, self.pending_index, old)
        self.target = self.alias
        self.pending_index = None

    def _replay_live_writes(self) -> None:
        """Bring what other writers changed during the rebuild into the new index (see
        opensearch_rebuild.py); skipped when the serving index holds another model's vectors."""
        assert self.pending_index is not None
        with translated_errors(self.url, f"reading the mapping of {self.alias!r}"):
            serving = _aliased_indices(self.client, self.alias)
            mapping = self.client.indices.get_mapping(index=serving[0]) if serving else {}
        meta = read_meta(next(iter(mapping.values()))) if mapping else None
        if meta is None or (meta.get("model"), meta.get("dimension")) != (
            self.model,
            self.dimension,
        ):
            log.warning(
                "rebuild of %s for %s: writes made meanwhile with another model are not replayed",
                self.alias,
                self.model,
            )
            return
        count = opensearch_rebuild.replay(
            self.client,
            self.url,
            self.pending_index,
            lambda ids: self._stored_documents(ids, index=self.alias),
            self.retry,
        )
        if count:
            log.info("replayed %d asset(s) written during the rebuild of %s", count, self.alias)

    def close(self) -> None:
        try:
            self._drain()
        except Exception as error:  # raised to the caller by a later call already, or lost
            log.warning("a bulk write to %s failed: %s", self.target, error)
        if self._pool is not None:
            self._pool.shutdown()
        if self.pending_index is not None:
            log.warning(
                "index %s was rebuilt but not published; the alias %s still points to the old "
                "index (call finish_rebuild() after a complete rebuild)",
                self.pending_index,
                self.alias,
            )
        self.client.close()

    def __enter__(self) -> OpenSearchStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ writes

    def info(self) -> IndexInfo:
        self._settle()
        with translated_errors(self.url, "counting assets"):
            count = self.client.count(index=self.target)["count"]
        return IndexInfo(self.model, self.dimension, int(count), self.backend)

    def upsert(self, items: Sequence[IndexedAsset]) -> None:
        """Index assets by id (the last of duplicate ids wins), then refresh so they are
        searchable. Retries transient failures.

        All or nothing, as the protocol says, though a bulk request is not a transaction: the
        stored versions of the batch's ids are read first, and if any document is rejected
        (BulkWriteError) the batch is rolled back to them (new ids deleted, replaced ones
        restored with their vectors). Only when the node becomes unreachable (during the write
        or the rollback) can part of the batch remain: nothing can be undone then, and since
        each id is written whole, the same upsert run again converges. A rebuild's unpublished
        index skips the snapshot: nobody reads it, and a failed rebuild is never published.
        """
        latest = {item.asset.id: item for item in items}
        if not latest:
            return
        actions = [
            Action("index", asset_id, self._document(item)) for asset_id, item in latest.items()
        ]
        if self.pending_index is not None:
            # Nobody reads the unpublished index: no snapshot, and the write is sent in the
            # background (a rejected document fails the next call and the rebuild).
            self._write_behind(actions)
            return
        rebuilding = self._begin_live_write(list(latest))
        before = self._snapshot(list(latest))
        try:
            self._write(actions)
        except BulkWriteError as failure:
            if before is not None:
                self._roll_back(list(latest), before, failure)
            raise
        if rebuilding:
            self._live.repeat(actions, self._write)

    def _begin_live_write(self, asset_ids: list[str]) -> bool:
        """True when a rebuild by another store object is in progress, so this write must be
        repeated into its index; the rebuilding store itself writes only its new index."""
        return self.pending_index is None and self._live.begin(asset_ids)

    def _snapshot(self, asset_ids: list[str]) -> dict[str, dict[str, Any]] | None:
        """What a rollback would restore, or None when the cluster cannot say (the vectors
        are read with a script; a cluster that disables scripts gets a non-atomic upsert)."""
        try:
            return self._stored_documents(asset_ids)
        except StoreUnavailableError:
            raise
        except LabsearchError as error:
            log.warning(
                "upsert on %s is not atomic: cannot read stored vectors (%s)", self.url, error
            )
            return None

    def _stored_documents(
        self, asset_ids: list[str], index: str | None = None
    ) -> dict[str, dict[str, Any]]:
        """The stored documents (vectors included) of those of `asset_ids` that exist (in
        `index`, by default where this store reads)."""
        found: dict[str, dict[str, Any]] = {}
        for start in range(0, len(asset_ids), self.batch_size):
            chunk = asset_ids[start : start + self.batch_size]
            for hit in self._stored_with_vectors(chunk, index):
                stored = IndexedAsset(
                    from_source(hit["_source"]),
                    hit["fields"]["vector"][0],
                    hit["_source"]["content_hash"],
                )
                found[hit["_id"]] = self._document(stored)
        return found

    def _roll_back(
        self, asset_ids: list[str], before: dict[str, dict[str, Any]], failure: Exception
    ) -> None:
        """Put the batch's ids back as they were before a failed upsert."""
        restore = [
            Action("index", i, before[i]) if i in before else Action("delete", i) for i in asset_ids
        ]
        try:
            self._write(restore)
        except LabsearchError as error:
            log.error("rolling back a failed upsert on %s failed too: %s", self.url, error)
            failure.args = (
                f"{failure} Rolling the batch back failed as well ({error}): part of it may "
                "be written; run the same upsert again once the node is healthy.",
            )
            return
        failure.args = (f"{failure} Nothing of this batch was kept (rolled back).",)

    def delete(self, ids: Sequence[str]) -> int:
        unique = list(dict.fromkeys(ids))
        if not unique:
            return 0
        actions = [Action("delete", asset_id) for asset_id in unique]
        rebuilding = self._begin_live_write(unique)
        results = self._write(actions)
        if rebuilding:
            self._live.repeat(actions, self._write)
        return sum(1 for result in results.values() if result == "deleted")

    def set_groups(self, updates: Sequence[GroupsUpdate]) -> int:
        """Rewrite each named asset with its new groups and content hash, its stored vector
        and everything else unchanged, then refresh. Not one transaction (see `upsert`)."""
        self._settle()  # a rebuild's own writes, sent in the background, are read back here
        latest = {update.asset_id: update for update in updates}
        wanted = list(latest)
        changed = 0
        for start in range(0, len(wanted), self.batch_size):
            items = []
            for hit in self._stored_with_vectors(wanted[start : start + self.batch_size]):
                update = latest[hit["_id"]]
                groups = list(dict.fromkeys(g for g in update.groups if g))  # as Asset does
                asset = from_source(hit["_source"]).model_copy(update={"groups": groups})
                vector = hit["fields"]["vector"][0]
                items.append(IndexedAsset(asset, vector, update.content_hash))
            if items:
                actions = [Action("index", i.asset.id, self._document(i)) for i in items]
                # Only ids that exist here: an unknown id is ignored, not a deletion to replay.
                rebuilding = self._begin_live_write([action.doc_id for action in actions])
                self._write(actions)
                if rebuilding:
                    self._live.repeat(actions, self._write)
                changed += len(items)
        return changed

    def _stored_with_vectors(
        self, asset_ids: list[str], index: str | None = None
    ) -> list[dict[str, Any]]:
        """Hits of the stored assets among `asset_ids`, each with its vector in `fields`."""
        body = {
            "query": {"ids": {"values": asset_ids}},
            "size": len(asset_ids),
            "_source": ["asset", "content_hash"],
            "script_fields": {"vector": {"script": {"source": "doc['vector'].getValue()"}}},
        }
        with translated_errors(self.url, "reading stored vectors"):
            return self.client.search(index=index or self.target, body=body)["hits"]["hits"]

    def _document(self, item: IndexedAsset) -> dict[str, Any]:
        vector = np.asarray(item.vector, dtype=np.float32).ravel()
        if len(vector) != self.dimension:
            raise InvalidRequestError(
                f"asset {item.asset.id!r}: vector has {len(vector)} dimensions, but this index "
                f"stores {self.dimension}-dimensional vectors of model {self.model!r}"
            )
        if not np.isfinite(vector).all():
            raise InvalidRequestError(f"asset {item.asset.id!r}: vector contains NaN or infinity")
        if not vector.any():
            # Cosine similarity is undefined for a zero vector and Lucene refuses it.
            raise InvalidRequestError(f"asset {item.asset.id!r}: vector is all zeros")
        # The index stores float32: sent as float32 (encode_document writes its shortest digits).
        return to_document(item, vector)

    def _write_behind(self, actions: list[Action]) -> None:
        """Send a rebuild's bulk requests from worker threads, at most `bulk_workers` at once
        (the caller builds the next batch meanwhile; the node indexes requests in parallel).
        A failed request is raised by the next call on this store, `finish_rebuild()` included,
        so a failing batch stops the run and the rebuild is never published."""
        self._raise_failure()
        if self._pool is None:
            self._pool = ThreadPoolExecutor(self.bulk_workers, thread_name_prefix="os-bulk")
        for batch in batches(actions, self.batch_size, MAX_BULK_BYTES):
            while len(self._in_flight) >= self.bulk_workers:
                self._collect(self._in_flight.popleft())
                self._raise_failure()
            self._in_flight.append(
                self._pool.submit(
                    run_bulk, self.client, self.target, batch, policy=self.retry, url=self.url
                )
            )
        self._unrefreshed = True

    def _collect(self, future: Future) -> None:
        """Wait for one background request; keep the first failure (raised by the caller)."""
        try:
            future.result()
        except BaseException as error:
            if self._failure is None:
                self._failure = error

    def _raise_failure(self) -> None:
        if self._failure is not None:
            raise self._failure

    def _drain(self) -> None:
        """Wait for every request sent in the background; raise the first failure."""
        while self._in_flight:
            self._collect(self._in_flight.popleft())
        self._raise_failure()

    def _settle(self) -> None:
        """Make this store's own writes to an unpublished rebuild visible to its reads (the
        indexer asks what a source already wrote); refreshing once per read after writes,
        instead of once per write, is what makes bulk loading fast."""
        self._drain()
        if self._unrefreshed:
            with translated_errors(self.url, f"refreshing {self.target!r}"):
                self.client.indices.refresh(index=self.target)
            self._unrefreshed = False

    def _write(self, actions: list[Action]) -> dict[str, str]:
        self._drain()  # a rebuild's background writes land before anything else
        results: dict[str, str] = {}

        try:
            for batch in batches(actions, self.batch_size, MAX_BULK_BYTES):
                results.update(
                    run_bulk(self.client, self.target, batch, policy=self.retry, url=self.url)
                )
            if self.pending_index is not None:
                self._unrefreshed = True  # refreshed when read or published, not per write
                return results
        except BaseException:
            # What was written is searchable even if part of the write failed; the original
            # error is the one to report, so a refresh that fails too (node down) is ignored.
            with contextlib.suppress(Exception):
                self.client.indices.refresh(index=self.target)
            raise
        with translated_errors(self.url, "refreshing after a write"):
            self.client.indices.refresh(index=self.target)
        return results

    # ------------------------------------------------------------------ lookups

    def get(self, asset_id: str, access: Access) -> Asset | None:
        found = self.get_many([asset_id], access)
        return found[0] if found else None

    def get_many(self, asset_ids: Sequence[str], access: Access) -> list[Asset]:
        self._settle()
        wanted = list(dict.fromkeys(asset_ids))
        if access.sees_nothing or not wanted:
            return []
        clauses = filter_clauses(None, access) + [{"ids": {"values": wanted}}]
        found: dict[str, Asset] = {}
        for hit in self._scan(as_filter(clauses), ["asset"], "fetching assets"):
            found[hit["_id"]] = from_source(hit["_source"])
        return [found[i] for i in wanted if i in found]

    def hashes_by_source(self, source: str) -> dict[str, str]:
        self._settle()
        query = {"term": {"source": source}}
        return {
            hit["_id"]: hit["_source"]["content_hash"]
            for hit in self._scan(query, ["content_hash"], f"listing source {source!r}")
        }

    def iter_assets(self, batch_size: int = 500) -> Iterator[list[StoredAsset]]:
        self._settle()
        if batch_size < 1:
            raise InvalidRequestError(f"batch size must be at least 1, got {batch_size}")
        after: list[Any] | None = None
        while True:  # search_after on the id: no 10,000-hit window, one page in memory
            body: dict[str, Any] = {
                "query": {"match_all": {}},
                "size": batch_size,
                "sort": [{"id": "asc"}],
                "_source": ["asset", "content_hash"],
                "track_total_hits": False,
            }
            if after is not None:
                body["search_after"] = after
            with translated_errors(self.url, "listing assets"):
                page = self.client.search(index=self.target, body=body)["hits"]["hits"]
            if not page:
                return
            yield [
                StoredAsset(from_source(hit["_source"]), hit["_source"]["content_hash"])
                for hit in page
            ]
            if len(page) < batch_size:
                return
            after = page[-1]["sort"]

    def match(
        self, filters: dict[str, Any] | None, access: Access, limit: int | None = None
    ) -> MatchResult:
        self._settle()
        if limit is not None and limit < 0:
            raise InvalidRequestError(f"limit must be 0 or more, got {limit}")
        query = as_filter(filter_clauses(filters, access))
        if access.sees_nothing:
            return MatchResult([], 0)
        with translated_errors(self.url, "counting matches"):
            count = int(self.client.count(index=self.target, body={"query": query})["count"])
        if limit == 0:
            return MatchResult([], count)
        assets = [
            from_source(hit["_source"])
            for hit in self._scan(query, ["asset"], "listing matches", limit=limit)
        ]
        return MatchResult(assets, count)

    def _scan(
        self, query: dict[str, Any], fields: list[str], what: str, limit: int | None = None
    ) -> list[dict[str, Any]]:
        """Every hit of `query` in id order, paged with search_after (no 10,000-hit window)."""
        pages = pages_by_id(self.client, self.url, self.target, query, fields, what, limit)
        return [hit for page in pages for hit in page]

    def facets(
        self,
        fields: Sequence[str],
        access: Access,
        filters: dict[str, Any] | None = None,
        text: str = "",
        size: int = 20,
    ) -> dict[str, dict[str, int]]:
        self._settle()
        if size < 1:
            raise InvalidRequestError(f"facet size must be at least 1, got {size}")
        normalized = {name: normalize_field(name) for name in fields}
        clauses = filter_clauses(filters, access)
        lexical = _lexical_query(text) if text.strip() else None
        if lexical is not None:
            clauses.append(lexical)
        if access.sees_nothing or not normalized:
            return {name: {} for name in normalized}
        aggs = {f"f{i}": _facet_agg(field, size) for i, field in enumerate(normalized.values())}
        body = {"query": as_filter(clauses), "size": 0, "aggs": aggs}
        with translated_errors(self.url, "counting facets"):
            response = self.client.search(index=self.target, body=body)["aggregations"]
        result = {}
        for i, name in enumerate(normalized):
            agg = response[f"f{i}"]
            if "values" in agg:  # metadata: nested -> key filter -> labels -> parent count
                buckets = agg["values"]["values"]["buckets"]
                result[name] = {b["key"]: b["assets"]["doc_count"] for b in buckets}
            else:
                result[name] = {str(b["key"]): b["doc_count"] for b in agg["buckets"]}
        return result

    def values(
        self, field: str, access: Access, filters: dict[str, Any] | None = None
    ) -> dict[str, int]:
        self._settle()
        normalized = normalize_field(field)
        clauses = filter_clauses(filters, access)
        if access.sees_nothing:
            return {}
        result: dict[str, int] = {}
        after: dict[str, Any] | None = None
        while True:  # a composite aggregation, page by page: every value, no top-N cut
            body = {"query": as_filter(clauses), "size": 0, "aggs": _values_agg(normalized, after)}
            with translated_errors(self.url, "listing values"):
                response = self.client.search(index=self.target, body=body)["aggregations"]
            agg = response["f"]
            if "values" in agg:  # metadata: nested -> key filter -> composite -> parent count
                agg = agg["values"]["values"]
                result.update(
                    {str(b["key"]["v"]): b["assets"]["doc_count"] for b in agg["buckets"]}
                )
            else:
                result.update({str(b["key"]["v"]): b["doc_count"] for b in agg["buckets"]})
            after = agg.get("after_key")
            if not agg["buckets"] or after is None:
                return result

    # ------------------------------------------------------------------ ranked search

    def search(self, request: SearchRequest, access: Access) -> list[ScoredAsset]:
        self._settle()
        if request.k < 0 or request.offset < 0:
            raise InvalidRequestError("k and offset must be 0 or more")
        mode = SearchMode(request.mode)
        clauses = filter_clauses(request.filters, access)
        vector = self._query_vector(request, mode)
        lexical = _lexical_query(request.text) if request.text.strip() else None
        if access.sees_nothing or request.k == 0:
            return []
        wanted = request.offset + request.k
        depth = max(request.fusion.candidates, wanted) if mode is SearchMode.HYBRID else wanted
        if depth > MAX_KNN_K and vector is not None and mode is not SearchMode.BM25:
            raise InvalidRequestError(
                f"offset + k = {wanted} is past the {MAX_KNN_K} results a vector search can rank"
            )
        # Hybrid ranks `depth` candidates per side but shows only k: the candidates are ranked
        # by id and score alone, and only the page's documents are fetched and highlighted.
        inline = mode is not SearchMode.HYBRID
        show_highlights = request.highlight and lexical is not None
        searches: list[tuple[str, dict[str, Any]]] = []
        if lexical is not None and mode in (SearchMode.BM25, SearchMode.HYBRID):
            body = _ranking_body(filtered(lexical, clauses), depth, [{"id": "asc"}], inline)
            if inline and show_highlights:
                body["highlight"] = HIGHLIGHT
            searches.append(("bm25", body))
        if vector is not None and mode in (SearchMode.DENSE, SearchMode.HYBRID):
            # HNSW explores k candidates: never fewer than the fusion pool, so a k=10 dense
            # search is as accurate as the top 10 of a hybrid one (the embedded store is exact).
            width = min(max(depth, request.fusion.candidates), MAX_KNN_K)
            knn: dict[str, Any] = {"vector": vector, "k": width}
            if clauses:
                # Inside the k-NN query: Lucene filters while it walks the graph (or scores the
                # filtered set exactly when it is small), so filtered search returns every match.
                knn["filter"] = as_filter(clauses)
            # Equal scores in index order, as the embedded store keeps insertion order.
            body = _ranking_body({"knn": {"vector": knn}}, depth, [{"_doc": "asc"}], inline)
            searches.append(("dense", body))
        if not searches:
            return []
        hits = self._msearch(searches)
        bm25 = [(hit["_id"], float(hit["_score"])) for hit in hits.get("bm25", [])]
        # Lucene's cosine score is (1 + cos) / 2; report the cosine, as the embedded store does.
        dense = [(hit["_id"], 2 * float(hit["_score"]) - 1) for hit in hits.get("dense", [])]
        page = _rank(bm25, dense, mode, request)[request.offset : wanted]
        if not page:
            return []
        if inline:
            docs = {hit["_id"]: hit for side in hits.values() for hit in side}
        else:
            page_ids = [doc_id for doc_id, _, _, _ in page]
            docs = self._fetch_page(page_ids, lexical if show_highlights else None)
        return [
            ScoredAsset(
                asset=from_source(docs[doc_id]["_source"]),
                score=score,
                highlights=(
                    _highlights(docs[doc_id], request.text)
                    if show_highlights and bm25_rank is not None
                    else []
                ),
                bm25_rank=bm25_rank,
                dense_rank=dense_rank,
            )
            for doc_id, score, bm25_rank, dense_rank in page
            if doc_id in docs
        ]

    def _fetch_page(
        self, page_ids: list[str], lexical: dict[str, Any] | None
    ) -> dict[str, dict[str, Any]]:
        """The page's documents, highlighted by the lexical query when one is given (the ids
        come from permission-filtered searches)."""
        query: dict[str, Any] = {"bool": {"filter": [{"ids": {"values": page_ids}}]}}
        body: dict[str, Any] = {"size": len(page_ids), "_source": ["asset"]}
        if lexical is not None:
            query["bool"]["should"] = [lexical]
            body["highlight"] = HIGHLIGHT
        body["query"] = query
        with translated_errors(self.url, "fetching search results"):
            found = self.client.search(index=self.target, body=body)["hits"]["hits"]
        return {hit["_id"]: hit for hit in found}

    def _query_vector(self, request: SearchRequest, mode: SearchMode) -> list[float] | None:
        if request.vector is None:
            if mode is SearchMode.DENSE:
                raise InvalidRequestError("dense search needs a query vector")
            return None
        vector = [float(x) for x in request.vector]
        if len(vector) != self.dimension:
            raise InvalidRequestError(
                f"query vector has {len(vector)} dimensions; this index holds {self.dimension}-"
                f"dimensional vectors of model {self.model!r}"
            )
        if not all(math.isfinite(x) for x in vector):
            raise InvalidRequestError("query vector contains NaN or infinity")
        return vector if any(vector) else None  # a zero vector ranks nothing

    def _msearch(self, searches: list[tuple[str, dict[str, Any]]]) -> dict[str, list[dict]]:
        lines: list[dict[str, Any]] = []
        for _, body in searches:
            lines += [{"index": self.target}, body]
        with translated_errors(self.url, "searching"):
            responses = self.client.msearch(body=lines)["responses"]
        out: dict[str, list[dict]] = {}
        for (name, _), response in zip(searches, responses, strict=True):
            if "error" in response:
                raise _search_error(self.url, name, response)
            out[name] = response["hits"]["hits"]
        return out


# ---------------------------------------------------------------------- helpers


def _new_index_name(alias: str) -> str:
    stamp = datetime.now(UTC).strftime("%Y%m%d%H%M%S")
    return f"{alias}-v{stamp}-{secrets.token_hex(3)}"


# While a rebuild loads its unpublished index nobody searches it: no refreshes (each makes a
# segment and flushes HNSW graphs) and no replicas; finish_rebuild() restores both.
BULK_SETTINGS = {"refresh_interval": "-1", "auto_expand_replicas": "false", "number_of_replicas": 0}
SERVING_SETTINGS = {"refresh_interval": None, "auto_expand_replicas": "0-1"}


def _create_index(
    client: OpenSearch,
    alias: str,
    model: str,
    dimension: int,
    *,
    with_alias: bool,
    bulk: bool = False,
) -> str:
    name = _new_index_name(alias)
    body = index_body(model, dimension)
    if with_alias:
        body["aliases"] = {alias: {}}
    if bulk:
        body["settings"]["index"].update(BULK_SETTINGS)
    client.indices.create(index=name, body=body, params={"wait_for_active_shards": "1"})
    return name


def _aliased_indices(client: OpenSearch, alias: str) -> list[str]:
    if not client.indices.exists_alias(name=alias):
        return []
    return sorted(client.indices.get_alias(name=alias))


def _lexical_query(text: str) -> dict[str, Any] | None:
    """BM25 over the weighted field (see opensearch_mapping.RANKED_FIELD). Terms are OR-ed; a
    compound term ("LIV-0042") also matches its pieces as an adjacent phrase, as
    fts_query.match_expression does."""
    terms = fts_query.terms(text)
    if not terms:
        return None
    should: list[dict[str, Any]] = [{"match": {RANKED_FIELD: {"query": " ".join(terms)}}}]
    for term in terms:
        pieces = fts_query.pieces(term)
        if pieces:
            should.append({"match_phrase": {RANKED_FIELD: {"query": " ".join(pieces)}}})
    return {"bool": {"should": should, "minimum_should_match": 1}}


def _ranking_body(
    query: dict[str, Any], depth: int, tie_break: list[dict[str, Any]], with_source: bool
) -> dict[str, Any]:
    return {
        "query": query,
        "size": depth,
        "sort": [{"_score": "desc"}, *tie_break],
        "track_scores": True,
        "track_total_hits": False,
        "_source": ["asset"] if with_source else False,
    }


def _rank(
    bm25: list[tuple[str, float]],
    dense: list[tuple[str, float]],
    mode: SearchMode,
    request: SearchRequest,
) -> list[tuple[str, float, int | None, int | None]]:
    """(id, score, 1-based BM25 rank, 1-based dense rank), best first. Hybrid fuses the two
    lists with labsearch.stores.fusion, the functions the embedded store and eval/ use."""
    bm25_ranks = {doc_id: i for i, (doc_id, _) in enumerate(bm25, 1)}
    dense_ranks = {doc_id: i for i, (doc_id, _) in enumerate(dense, 1)}
    if mode is SearchMode.BM25:
        return [(doc_id, score, bm25_ranks[doc_id], None) for doc_id, score in bm25]
    if mode is SearchMode.DENSE:
        return [(doc_id, score, None, dense_ranks[doc_id]) for doc_id, score in dense]
    settings = request.fusion
    fused = fusion.fuse(
        [bm25, dense],
        [settings.bm25_weight, settings.dense_weight],
        method=getattr(settings, "method", "rrf"),
        rrf_k=settings.rrf_k,
    )
    return [(d, score, bm25_ranks.get(d), dense_ranks.get(d)) for d, score in fused]


def _highlights(hit: dict[str, Any], text: str) -> list[str]:
    """Marked snippets, text first, then title and identifiers (at most two), as the embedded
    store returns them; a hit that matched only through compound-token pieces gets a snippet
    marked by fts_query.fallback_snippet."""
    found = hit.get("highlight", {})
    marked = [found[f][0] for f in ("text", "title", "identifiers.text") if found.get(f)][:2]
    if marked:
        return marked
    asset = hit["_source"]["asset"]
    for field_text in (asset.get("text", ""), asset["title"], " ".join(asset["identifiers"])):
        snippet = fts_query.fallback_snippet(field_text, text, HIGHLIGHT_PRE, HIGHLIGHT_POST)
        if snippet:
            return [snippet]
    return []


def _facet_agg(field: str, size: int) -> dict[str, Any]:
    """Counts per value, one per asset, largest first and ties by value (as the embedded store)."""
    order = [{"_count": "desc"}, {"_key": "asc"}]
    if field.startswith("metadata."):
        key = field.split(".", 1)[1]
        return {
            "nested": {"path": "meta"},
            "aggs": {
                "values": {
                    "filter": {"term": {"meta.k": key}},
                    "aggs": {
                        "values": {
                            # Ordered by assets (reverse_nested), not by list elements.
                            "terms": {
                                "field": "meta.f",
                                "size": size,
                                "order": [{"assets": "desc"}, {"_key": "asc"}],
                            },
                            "aggs": {"assets": {"reverse_nested": {}}},
                        }
                    },
                }
            },
        }
    if field in TOP_LEVEL_FIELDS:
        name = "title.kw" if field == "title" else field
    elif field.startswith("links."):
        name = "link_rel." + field.split(".", 1)[1]
    else:
        name = field
    return {"terms": {"field": name, "size": size, "order": order}}


def _values_agg(field: str, after: dict[str, Any] | None) -> dict[str, Any]:
    """One page (PAGE values) of every distinct value of `field`, after `after`."""
    if field.startswith("metadata."):
        composite: dict[str, Any] = {
            "size": PAGE,
            "sources": [{"v": {"terms": {"field": "meta.f"}}}],
        }
        if after:
            composite["after"] = after
        return {
            "f": {
                "nested": {"path": "meta"},
                "aggs": {
                    "values": {
                        "filter": {"term": {"meta.k": field.split(".", 1)[1]}},
                        "aggs": {
                            "values": {
                                "composite": composite,
                                "aggs": {"assets": {"reverse_nested": {}}},
                            }
                        },
                    }
                },
            }
        }
    if field in TOP_LEVEL_FIELDS:
        name = "title.kw" if field == "title" else field
    elif field.startswith("links."):
        name = "link_rel." + field.split(".", 1)[1]
    else:
        name = field
    composite = {"size": PAGE, "sources": [{"v": {"terms": {"field": name}}}]}
    if after:
        composite["after"] = after
    return {"f": {"composite": composite}}


def _search_error(url: str, name: str, response: dict[str, Any]) -> Exception:
    error = response.get("error", {})
    status = int(response.get("status", 500))
    root = (error.get("root_cause") or [{}])[0] if isinstance(error, dict) else {}
    reason = root.get("reason") or (error.get("reason") if isinstance(error, dict) else error)
    message = f"OpenSearch at {url} failed the {name} search ({status}): {reason}"
    if status in (429, 502, 503, 504):
        return StoreUnavailableError(message)
    return LabsearchError(message)
