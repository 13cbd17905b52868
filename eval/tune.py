"""Tune hybrid fusion on a BEIR split (SciFact: `train`), the way the embedded store fuses.

    python -m eval.tune ../shared/datasets/scifact --split train

Each query's BM25 list (FTS5 `bm25()` with the store's match expression, at several column
weightings) and dense list (exact cosine over the same cached embeddings the store holds) are
computed once at depth 1000; every fusion setting is then scored offline with the same functions
the store calls (labsearch/stores/fusion.py). Results go to stdout as JSON lines and a summary.
Only the split given is read, so tuning on `train` never looks at `test`.
"""

from __future__ import annotations

import argparse
import itertools
import json
import sqlite3
import tempfile
import time
from pathlib import Path

import numpy as np

from eval.beir import corpus_assets, index_corpus, load_beir
from eval.metrics import mean, ndcg_at_k, recall_at_k
from eval.passages import max_passage_scores, passages
from labsearch.embeddings import Embedder, resolve_model_path
from labsearch.settings import Settings
from labsearch.stores import fts_query
from labsearch.stores.embedded import DB_NAME, EmbeddedStore
from labsearch.stores.fusion import fuse

DEPTH = 1000
# FTS5 column weights (title, identifiers, text, parts) to compare with the store's default.
COLUMN_WEIGHTS = [
    fts_query.WEIGHTS,
    (1.0, 1.0, 1.0, 0.5),
    (2.0, 6.0, 1.0, 0.5),
    (1.0, 6.0, 1.0, 0.2),
]


def bm25_lists(db: Path, queries: dict[str, str], weights: tuple[float, ...]) -> dict[str, list]:
    conn = sqlite3.connect(db)
    w = ", ".join(str(x) for x in weights)
    sql = (
        f"SELECT a.id, -bm25(fts, {w}) AS s FROM fts CROSS JOIN assets a ON a.pk = fts.rowid "
        "WHERE fts MATCH ? ORDER BY s DESC, a.id LIMIT ?"
    )
    lists = {}
    for qid, text in queries.items():
        expression = fts_query.match_expression(text)
        rows = conn.execute(sql, (expression, DEPTH)).fetchall() if expression else []
        lists[qid] = [(asset_id.split(":", 2)[2], score) for asset_id, score in rows]
    conn.close()
    return lists


def passage_vectors(embedder: Embedder, assets: list) -> tuple[np.ndarray, list[int]]:
    """Vectors of the passages of every asset longer than the model's window, and the index of
    the asset each belongs to."""
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(
        str(Path(resolve_model_path(embedder.model_name)) / "tokenizer.json")
    )
    tokenizer.no_truncation()
    tokenizer.no_padding()  # tokenizer.json may pad: a count must be the text's own length

    def count(text: str) -> int:
        return len(tokenizer.encode(text, add_special_tokens=False).ids)

    texts, owners = [], []
    for number, asset in enumerate(assets):
        for passage in passages(asset.title, asset.text, count):
            texts.append(passage)
            owners.append(number)
    vectors = embedder.embed(texts)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    print(f"# {len(texts)} passages of {len(set(owners))} long documents")
    return vectors, owners


def dense_lists(
    embedder: Embedder,
    assets: list,
    queries: dict[str, str],
    max_chars: int | None,
    with_passages: bool = False,
) -> dict[str, list]:
    matrix = embedder.embed([a.embedding_text(max_chars) for a in assets])
    matrix /= np.linalg.norm(matrix, axis=1, keepdims=True)
    parts, owners = passage_vectors(embedder, assets) if with_passages else (None, [])
    ids = [a.metadata["beir_id"] for a in assets]
    query_vectors = embedder.embed(list(queries.values()))  # cached too, unlike embed_query
    lists = {}
    for qid, vector in zip(queries, query_vectors, strict=True):
        vector = vector / np.linalg.norm(vector)
        if parts is None:
            scores = matrix @ vector
        else:
            scores = max_passage_scores(matrix, parts, owners, vector)
        top = np.argsort(-scores, kind="stable")[:DEPTH]
        lists[qid] = [(ids[i], float(scores[i])) for i in top]
    return lists


def score(rankings: dict[str, list[str]], qrels: dict[str, dict[str, int]]) -> dict[str, float]:
    return {
        "ndcg@10": round(mean(ndcg_at_k(rankings[q], qrels[q], 10) for q in rankings), 4),
        "recall@100": round(mean(recall_at_k(rankings[q], qrels[q], 100) for q in rankings), 4),
    }


def grid(bm25: dict, dense: dict, qrels: dict) -> list[dict]:
    rows = []
    for candidates in (100, 200, 500):
        cut_b = {q: lst[:candidates] for q, lst in bm25.items()}
        cut_d = {q: lst[:candidates] for q, lst in dense.items()}
        for rrf_k, bm25_weight in itertools.product(
            (10, 20, 40, 60, 100), (0.8, 1.0, 1.25, 1.5, 2.0)
        ):
            ranked = {
                q: [k for k, _ in fuse([cut_b[q], cut_d[q]], [bm25_weight, 1.0], "rrf", rrf_k)]
                for q in qrels
            }
            rows.append(
                {
                    "method": "rrf",
                    "candidates": candidates,
                    "rrf_k": rrf_k,
                    "bm25_weight": bm25_weight,
                    "dense_weight": 1.0,
                }
                | score(ranked, qrels)
            )
        for method, alpha in itertools.product(
            ("convex", "zscore"), np.round(np.arange(0.2, 0.71, 0.05), 2)
        ):
            weights = [float(alpha), float(1 - alpha)]
            ranked = {q: [k for k, _ in fuse([cut_b[q], cut_d[q]], weights, method)] for q in qrels}
            rows.append(
                {
                    "method": method,
                    "candidates": candidates,
                    "bm25_weight": weights[0],
                    "dense_weight": round(weights[1], 2),
                }
                | score(ranked, qrels)
            )
    return rows  # fmt: skip


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Tune hybrid fusion on one BEIR split.")
    parser.add_argument("directory", type=Path)
    parser.add_argument("--split", default="train")
    parser.add_argument("--out", type=Path, help="write every grid row as JSON lines here")
    parser.add_argument(
        "--passages", action="store_true", help="max-passage dense scores (eval/passages.py)"
    )
    args = parser.parse_args(argv)
    settings = Settings()
    dataset = load_beir(args.directory, args.split)
    embedder = Embedder.from_settings(settings)
    assets = corpus_assets(dataset)
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as home:
        store = EmbeddedStore.open(Path(home), settings.model, embedder.dimension, recreate=True)
        index_corpus(store, embedder, assets, settings.embed_max_chars)
        store.close()
        dense = dense_lists(
            embedder, assets, dataset.queries, settings.embed_max_chars, args.passages
        )
        bm25_by_weights = {
            w: bm25_lists(Path(home) / DB_NAME, dataset.queries, w) for w in COLUMN_WEIGHTS
        }
    print(
        f"# {len(dataset.queries)} {args.split} queries, "
        f"lists built in {time.perf_counter() - started:.0f}s"
    )
    print("# dense only:", score({q: [k for k, _ in v] for q, v in dense.items()}, dataset.qrels))
    bm25_scores = {}
    for weights, bm25 in bm25_by_weights.items():
        ranked = {q: [k for k, _ in v] for q, v in bm25.items()}
        bm25_scores[weights] = score(ranked, dataset.qrels)
        print(f"# bm25 only, column weights {weights}:", bm25_scores[weights])
    # The fusion grid is costly in pure Python: run it for the store's column weights and for
    # the best BM25-only weighting.
    best = max(bm25_scores, key=lambda w: bm25_scores[w]["ndcg@10"])
    rows = []
    for weights in dict.fromkeys([fts_query.WEIGHTS, best]):
        for row in grid(bm25_by_weights[weights], dense, dataset.qrels):
            rows.append({"column_weights": list(weights)} | row)
    rows.sort(key=lambda r: -r["ndcg@10"])
    if args.out:
        args.out.write_text("".join(json.dumps(r) + "\n" for r in rows))
    for method in ("rrf", "convex", "zscore"):
        print(f"# best {method}:")
        for row in [r for r in rows if r["method"] == method][:5]:
            print(json.dumps(row))  # fmt: skip


if __name__ == "__main__":
    main()
