"""The OpenSearch index: settings, explicit mappings, and how an asset becomes a document.

Design (docs/opensearch.md explains it at length):

- Exact-match fields (id, kind, source, groups, identifiers, link targets, provenance.*,
  created_at/updated_at) are `keyword`, so the filter grammar's case-sensitive string equality
  and string ordering (ISO dates order as strings) hold as they do in labsearch/filters.py.
- Metadata has arbitrary keys and mixed types, so it is flattened into a `nested` list of
  key/value pairs, one per value: `{"k": "read_count", "n": 1200000}`. The value goes to a
  field of its JSON type (`s` keyword, `n` double, `b` boolean), which keeps the grammar's typing
  (a string never equals a number) and gives numeric and date ranges on any key without a
  mapping per key (no mapping explosion, no type conflicts between assets).
- Full text uses one analyzer aligned with the embedded store's FTS5 tokenizer
  (`porter unicode61 tokenchars '-_'`): split on anything but letters, digits, `-` and `_`,
  lowercase, fold diacritics, Porter stemming; BM25 with k1=1.2, b=0.75 as FTS5 uses.
- The vector is a `knn_vector` (HNSW, Lucene engine, cosine): the k-NN plugin built from Maven
  Central has no native faiss/nmslib libraries, and Lucene supports filters inside the k-NN query.
- The whole asset is kept verbatim in `asset` (not indexed) so reads return exactly what was
  written; the vector is left out of `_source` because nothing reads it back.
- The embedding model and dimension are recorded in the mapping's `_meta`.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

from labsearch.schema import Asset, LinkType, Provenance
from labsearch.stores.fts_query import COLUMNS, WEIGHTS, parts_column
from labsearch.stores.protocol import IndexedAsset

SCHEMA_VERSION = 1
TEXT_ANALYZER = "labsearch_text"
# Lucene refuses terms over 32766 bytes; 8191 characters is safe for any UTF-8 text. Longer
# strings are kept in the asset but cannot be matched exactly (documented limitation).
KEYWORD_MAX_CHARS = 8191
# The field BM25 ranks on. FTS5's bm25() with column weights (4 title, 6 identifiers, 1 text,
# 0.5 parts) multiplies each column's term frequency by its weight before one saturation over
# the whole row; per-field scores with boosts (multi_match) saturate per field and over-weigh
# the title (SciFact BM25 nDCG@10 0.56 against the embedded 0.69). Repeating each column
# `round(weight)` times (at least once) in one field gives the same weighted frequencies:
# nDCG@10 0.693 against 0.692. docs/opensearch.md has the measurements.
RANKED_FIELD = "bm25_text"
COLUMN_REPEATS = {
    column: max(1, round(weight)) for column, weight in zip(COLUMNS, WEIGHTS, strict=True)
}

# HNSW build parameters of new indices. Building the graph is most of the node's indexing work;
# at 100k SciFact-like assets (bench/opensearch_bulk.py --ef-construction N --recall 100)
# ef_construction 128 / 64 / 32 loaded 351 / 479 / 585 assets/s with dense recall@10 0.992 /
# 0.984 / 0.955 against exact search, but at 300k 64 fell to 0.934, below the embedded store's
# ANN (0.966 at 1M): 128 stays (docs/opensearch.md, "Bulk loading at scale").
HNSW_PARAMETERS = {"m": 16, "ef_construction": 128}

_KEYWORD = {"type": "keyword", "ignore_above": KEYWORD_MAX_CHARS}
_TEXT = {"type": "text", "analyzer": TEXT_ANALYZER}


def index_body(model: str, dimension: int) -> dict[str, Any]:
    """Settings and mappings for a new labsearch index."""
    return {
        "settings": {
            "index": {
                "knn": True,
                "number_of_shards": 1,
                # 0 replicas on a single node (green), 1 as soon as the cluster has two nodes.
                "auto_expand_replicas": "0-1",
                "similarity": {"default": {"type": "BM25", "k1": 1.2, "b": 0.75}},
            },
            "analysis": {
                "tokenizer": {
                    # unicode61 with tokenchars '-_': letters, digits, '-' and '_' make tokens.
                    "labsearch_tokens": {"type": "pattern", "pattern": r"[^\p{L}\p{N}_\-]+"}
                },
                "analyzer": {
                    TEXT_ANALYZER: {
                        "type": "custom",
                        "tokenizer": "labsearch_tokens",
                        "filter": ["lowercase", "asciifolding", "porter_stem"],
                    }
                },
            },
        },
        "mappings": {
            "dynamic": "strict",
            "_meta": {"labsearch": _meta(model, dimension)},
            # The vector and the ranked field are derived; nothing reads them back.
            "_source": {"excludes": ["vector", RANKED_FIELD]},
            "properties": {
                "id": {"type": "keyword"},
                "source": {"type": "keyword"},
                "kind": {"type": "keyword"},
                "entity": {"type": "keyword"},
                "data_level": {"type": "keyword"},
                "title": {**_TEXT, "fields": {"kw": _KEYWORD}},
                "text": _TEXT,
                RANKED_FIELD: _TEXT,
                "identifiers": {**_KEYWORD, "fields": {"text": _TEXT}},
                "links": {"type": "keyword"},
                "link_rel": {
                    "properties": {rel.value: {"type": "keyword"} for rel in LinkType},
                },
                "groups": {"type": "keyword"},
                "created_at": {"type": "keyword"},
                "updated_at": {"type": "keyword"},
                "provenance": {
                    "properties": {name: _KEYWORD for name in Provenance.model_fields},
                },
                "meta": {
                    "type": "nested",
                    "properties": {
                        "k": {"type": "keyword"},
                        "s": _KEYWORD,
                        "n": {"type": "double"},
                        "b": {"type": "boolean"},
                        "f": _KEYWORD,
                    },
                },
                "content_hash": {"type": "keyword"},
                "asset": {"type": "object", "enabled": False},
                "vector": {
                    "type": "knn_vector",
                    "dimension": dimension,
                    "method": {
                        "name": "hnsw",
                        "engine": "lucene",
                        "space_type": "cosinesimil",
                        "parameters": dict(HNSW_PARAMETERS),
                    },
                },
            },
        },
    }


def _meta(model: str, dimension: int) -> dict[str, Any]:
    return {"model": model, "dimension": dimension, "schema_version": SCHEMA_VERSION}


def read_meta(mapping: dict[str, Any]) -> dict[str, Any] | None:
    """The labsearch `_meta` of one index's mapping (GET /index/_mapping), or None."""
    return (mapping.get("mappings", {}).get("_meta") or {}).get("labsearch")


def to_document(item: IndexedAsset, vector: Any = None) -> dict[str, Any]:
    """The document stored for one asset; `vector` (e.g. a float32 array) replaces the item's
    as a list of floats."""
    asset = item.asset
    dump = asset.model_dump(mode="json")
    links: dict[str, list[str]] = {}
    for link in asset.links:
        links.setdefault(link.rel.value, []).append(link.target)
    return {
        "id": asset.id,
        "source": asset.source,
        "kind": dump["kind"],
        "entity": dump["entity"],
        "data_level": dump["data_level"],
        "title": asset.title,
        "text": asset.text,
        RANKED_FIELD: ranked_text(asset),
        "identifiers": asset.identifiers,
        "links": [link.target for link in asset.links],
        "link_rel": links,
        "groups": asset.groups,
        "created_at": dump["created_at"],
        "updated_at": dump["updated_at"],
        "provenance": {k: v for k, v in dump["provenance"].items() if v is not None},
        "meta": list(flatten_metadata(dump["metadata"])),
        "content_hash": item.content_hash,
        "asset": dump,
        "vector": [float(x) for x in item.vector] if vector is None else vector,
    }


def ranked_text(asset: Asset) -> list[str]:
    """The BM25 field's values: each FTS5 column repeated by its weight. Separate values, so
    a phrase never spans two of them (position_increment_gap)."""
    identifiers = " ".join(asset.identifiers)
    columns = {
        "title": asset.title,
        "identifiers": identifiers,
        "text": asset.text,
        "parts": parts_column(asset.title, identifiers, asset.text),
    }
    return [
        value for column, value in columns.items() if value for _ in range(COLUMN_REPEATS[column])
    ]


def from_source(source: dict[str, Any]) -> Asset:
    return Asset.model_validate(source["asset"])


def facet_label(value: Any) -> str:
    """How a metadata value is shown as a facet key, as the embedded store shows it (SQLite's
    text of a JSON value): strings as they are, `true`/`false`, numbers as written."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    return repr(value) if isinstance(value, float) else str(value)


def flatten_metadata(metadata: dict[str, Any], prefix: str = "") -> Iterator[dict[str, Any]]:
    """One entry per value reachable by a `metadata.<dotted.path>` filter.

    Mirrors `labsearch.filters._lookup`: dots walk into objects only (not into lists of objects),
    a list contributes each of its elements, None has no value, and an object (or a nested list)
    is a value that exists but equals no scalar. Keys containing a dot cannot be addressed by the
    grammar, so they are not indexed for filtering (they stay in the stored asset).
    """
    for key, value in metadata.items():
        if "." in key or not key:
            continue
        path = f"{prefix}{key}"
        if isinstance(value, dict):
            yield {"k": path}
            yield from flatten_metadata(value, f"{path}.")
        elif isinstance(value, list):
            for element in value:
                yield _entry(path, element)
        elif value is not None:
            yield _entry(path, value)


def _entry(path: str, value: Any) -> dict[str, Any]:
    if isinstance(value, bool):
        return {"k": path, "b": value, "f": facet_label(value)}
    if isinstance(value, int | float):
        if isinstance(value, float) and not math.isfinite(value):
            return {"k": path, "f": facet_label(value)}
        return {"k": path, "n": value, "f": facet_label(value)}
    if isinstance(value, str):
        return {"k": path, "s": value, "f": value}
    # None inside a list, or an object/list element: present, but equal to no scalar.
    return {"k": path}
