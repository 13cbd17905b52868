"""Dense-retrieval nDCG@10 on SciFact for the embedding backends of bench/embed_backends.py that
are not product backends (so `labsearch eval beir` cannot run them): documents (title + abstract,
cut as the bench cuts them) and test queries embedded by each backend, cosine, top 10, qrels from
`qrels/test.tsv`. Also the mean cosine of each backend's document vectors to the first backend's.

    python bench/dense_ndcg.py [--backend onnx-float32 --backend openvino-float32 ...]

Vectors are kept in `--out` (one .npy per backend and side) so that a re-run embeds nothing.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import time
from collections import defaultdict
from pathlib import Path

import numpy as np
from embed_backends import BACKENDS, ROOT, encoder, model_dirs, scifact_texts

from labsearch.embeddings import Embedder
from labsearch.settings import Settings


def ndcg_at_10(ranked: list[str], relevant: dict[str, int]) -> float:
    gain = sum(relevant.get(doc, 0) / math.log2(rank + 2) for rank, doc in enumerate(ranked))
    ideal = sorted(relevant.values(), reverse=True)[:10]
    best = sum(g / math.log2(rank + 2) for rank, g in enumerate(ideal))
    return gain / best if best else 0.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backend", action="append", choices=list(BACKENDS))
    parser.add_argument("--out", type=Path, default=Path("/tmp/ovino/vectors"))
    args = parser.parse_args()
    names = args.backend or ["onnx-float32", "openvino-float32"]

    settings = Settings()
    shared = (
        settings.shared if settings.shared.is_absolute() else ROOT / settings.shared
    ).resolve()
    scifact = shared / "datasets" / "scifact"
    ids = [json.loads(line)["_id"] for line in (scifact / "corpus.jsonl").open()]
    texts = scifact_texts(shared, len(ids))
    qrels: dict[str, dict[str, int]] = defaultdict(dict)
    with (scifact / "qrels" / "test.tsv").open() as handle:
        for row in csv.DictReader(handle, delimiter="\t"):
            qrels[row["query-id"]][row["corpus-id"]] = int(row["score"])
    queries = {
        q["_id"]: q["text"]
        for q in map(json.loads, (scifact / "queries.jsonl").open())
        if q["_id"] in qrels
    }
    dirs = model_dirs(settings, shared)
    args.out.mkdir(parents=True, exist_ok=True)

    reference = None
    print(f"SciFact: {len(ids)} documents, {len(queries)} test queries")
    for name in names:
        side = BACKENDS[name]
        embedder = Embedder(
            "all-MiniLM-L6-v2",
            batch_size=32,
            precision=side.get("precision", "float32"),
            backend=side.get("backend", "onnx"),
            export_dir=dirs["export"].parent,
        )
        if "runtime" in side:
            variant = "int8" if side["model"] == "static" else "float32"
            embedder._document_encoder = encoder(dirs[side["model"]], variant, side["runtime"])
        vectors = {}
        for part, items in (("docs", texts), ("queries", list(queries.values()))):
            path = args.out / f"{name}-{part}.npy"
            if not path.is_file():
                start = time.perf_counter()
                np.save(path, embedder._encode(items))
                print(
                    f"  {name}: embedded {len(items)} {part} in {time.perf_counter() - start:.0f} s"
                )
            vectors[part] = np.load(path)
        scores = vectors["queries"] @ vectors["docs"].T
        top = np.argsort(-scores, axis=1)[:, :10]
        ndcg = np.mean(
            [
                ndcg_at_10([ids[i] for i in row], qrels[qid])
                for qid, row in zip(queries, top, strict=True)
            ]
        )
        line = f"{name:21} dense nDCG@10 {ndcg:.4f}"
        if reference is None:
            reference = (name, ndcg, vectors["docs"])
        else:
            cosine = np.sum(vectors["docs"] * reference[2], axis=1)
            line += (
                f" ({ndcg - reference[1]:+.4f} vs {reference[0]}; document cosine to it: "
                f"mean {cosine.mean():.5f}, min {cosine.min():.4f})"
            )
        print(line, flush=True)


if __name__ == "__main__":
    main()
