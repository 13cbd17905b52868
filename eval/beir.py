"""BEIR-format retrieval benchmarks: load a dataset, index it in a throwaway store, score rankings.

A BEIR dataset directory holds `corpus.jsonl` (`_id`, `title`, `text`), `queries.jsonl` (`_id`,
`text`) and `qrels/<split>.tsv` (`query-id  corpus-id  score`, one header line). Only queries
with at least one relevant document in the split are run, as BEIR does.

The store is whatever `LABSEARCH_BACKEND` names, opened with `recreate=True` under a temporary
home (embedded) or a dedicated index name (OpenSearch), so the benchmark never touches the real
index. Embeddings go through the Embedder's disk cache, so a second run does not re-embed.
"""

from __future__ import annotations

import csv
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from eval.jsonl import read_objects
from labsearch.access import PUBLIC_GROUP, Access
from labsearch.embeddings import Embedder
from labsearch.errors import InvalidRequestError
from labsearch.schema import Asset, AssetKind, Provenance
from labsearch.settings import Settings
from labsearch.stores.protocol import AssetStore, IndexedAsset

MODES = ("hybrid", "bm25", "dense")
EVAL_ACCESS = Access.for_groups(["eval"], user="eval")  # an ordinary user: sees public assets
_BATCH = 512


@dataclass
class BeirDataset:
    name: str
    root: Path
    split: str
    corpus: dict[str, tuple[str, str]]  # doc id -> (title, text)
    queries: dict[str, str]  # query id -> text (only queries judged in the split)
    qrels: dict[str, dict[str, int]]  # query id -> doc id -> relevance grade


@dataclass
class ModeRun:
    """Rankings and per-query latencies of one search mode."""

    mode: str
    rankings: dict[str, list[str]] = field(default_factory=dict)  # query id -> doc ids
    latencies_ms: list[float] = field(default_factory=list)


def _read_jsonl(path: Path, required: Sequence[str]) -> Iterator[dict]:
    if not path.is_file():
        raise InvalidRequestError(
            f"{path} not found; a BEIR dataset directory needs corpus.jsonl, queries.jsonl "
            "and qrels/<split>.tsv"
        )
    for number, record in read_objects(path):
        missing = [key for key in required if key not in record]
        if missing:
            raise InvalidRequestError(f"{path}:{number}: missing field(s) {missing}")
        yield record


def _read_qrels(path: Path) -> dict[str, dict[str, int]]:
    if not path.is_file():
        splits = sorted(p.stem for p in path.parent.glob("*.tsv")) if path.parent.is_dir() else []
        raise InvalidRequestError(
            f"{path} not found; available splits: {', '.join(splits) or 'none'} (use --split)"
        )
    qrels: dict[str, dict[str, int]] = {}
    with path.open(encoding="utf-8", newline="") as handle:
        rows = csv.reader(handle, delimiter="\t")
        for number, row in enumerate(rows, start=1):
            if not row or (number == 1 and not row[-1].strip().lstrip("-").isdigit()):
                continue  # blank line or the header
            if len(row) < 3:
                raise InvalidRequestError(
                    f"{path}:{number}: expected 'query-id<TAB>corpus-id<TAB>score', got {row!r}"
                )
            try:
                grade = int(row[2])
            except ValueError as error:
                raise InvalidRequestError(
                    f"{path}:{number}: relevance score {row[2]!r} is not an integer"
                ) from error
            qrels.setdefault(row[0], {})[row[1]] = grade
    return qrels


def load_beir(root: Path, split: str = "test") -> BeirDataset:
    """Read a BEIR dataset directory; raises InvalidRequestError naming the bad file and line."""
    root = Path(root).expanduser().resolve()
    if not root.is_dir():
        raise InvalidRequestError(f"BEIR dataset directory {root} does not exist")
    corpus = {
        str(r["_id"]): (str(r.get("title") or ""), str(r.get("text") or ""))
        for r in _read_jsonl(root / "corpus.jsonl", ("_id",))
    }
    qrels = _read_qrels(root / "qrels" / f"{split}.tsv")
    all_queries = {
        str(r["_id"]): str(r["text"]) for r in _read_jsonl(root / "queries.jsonl", ("_id", "text"))
    }
    # BEIR scores only queries with at least one relevant document.
    judged = {q: docs for q, docs in qrels.items() if any(g > 0 for g in docs.values())}
    unknown = [q for q in judged if q not in all_queries]
    if unknown:
        raise InvalidRequestError(
            f"{root}/qrels/{split}.tsv names {len(unknown)} queries missing from queries.jsonl "
            f"(e.g. {unknown[:3]})"
        )
    queries = {q: all_queries[q] for q in sorted(judged, key=_natural)}
    return BeirDataset(root.name, root, split, corpus, queries, judged)


def _natural(key: str) -> tuple[int, str]:
    return (int(key), "") if key.isdigit() else (1 << 62, key)


def asset_for(dataset_name: str, source: str, doc_id: str, title: str, text: str) -> Asset:
    """One corpus document as a public asset. No identifiers: BEIR measures text ranking, and
    exact-identifier promotion would only reorder documents that share a gene symbol."""
    return Asset(
        id=f"beir:{dataset_name}:{doc_id}",
        source=source,
        kind=AssetKind.FILE,
        title=title.strip() or doc_id,
        text=text,
        metadata={"beir_id": doc_id, "dataset": dataset_name},
        provenance=Provenance(source=source, record_id=doc_id),
        groups=[PUBLIC_GROUP],
    )


def corpus_assets(dataset: BeirDataset) -> list[Asset]:
    source = f"beir+{dataset.root.as_uri()}"
    return [
        asset_for(dataset.name, source, doc_id, title, text)
        for doc_id, (title, text) in dataset.corpus.items()
    ]


def doc_id_of(asset_id: str) -> str:
    return asset_id.split(":", 2)[2]


def eval_settings(settings: Settings, dataset_name: str, home: Path) -> Settings:
    """Settings for the throwaway benchmark index: a temporary home, a dedicated index name
    (`labsearch-eval-<dataset>` for the default `labsearch`; derived from the configured index,
    so a test's run never meets another's)."""
    index = f"{settings.opensearch_index}-eval-{dataset_name}"
    return settings.with_overrides(home=home, opensearch_index=index)


def index_corpus(
    store: AssetStore,
    embedder: Embedder,
    assets: Sequence[Asset],
    max_chars: int | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> None:
    """Embed (through the cache) and upsert every asset, in batches. `max_chars` cuts the text
    the model reads exactly as the indexer does (settings.embed_max_chars)."""
    for start in range(0, len(assets), _BATCH):
        batch = assets[start : start + _BATCH]
        vectors = embedder.embed([a.embedding_text(max_chars) for a in batch])
        store.upsert(
            [
                IndexedAsset(asset, vector.tolist(), asset.content_hash(embedder.vector_key))
                for asset, vector in zip(batch, vectors, strict=True)
            ]
        )
        if progress:
            progress(min(start + _BATCH, len(assets)), len(assets))


def run_queries(
    rank: Callable[[str, str, int], list[str]],
    queries: dict[str, str],
    modes: Sequence[str] = MODES,
    k: int = 100,
) -> dict[str, ModeRun]:
    """Run every query in every mode; `rank(text, mode, k)` returns asset ids, best first."""
    runs = {mode: ModeRun(mode) for mode in modes}
    for mode in modes:
        run = runs[mode]
        for query_id, text in queries.items():
            started = time.perf_counter()
            ids = rank(text, mode, k)
            run.latencies_ms.append((time.perf_counter() - started) * 1000)
            run.rankings[query_id] = [doc_id_of(i) for i in ids]
    return runs


@dataclass
class BeirRun:
    dataset: str
    split: str
    backend: str
    model: str
    documents: int
    queries: int
    fusion: dict[str, object]
    metrics: dict[str, dict[str, float]]  # mode -> metric -> value
    timings: dict[str, float]
    embedded_now: int  # corpus texts run through the model in this run (0 when cached)
    embed_max_chars: int | None = None


def score_runs(
    runs: dict[str, ModeRun], qrels: dict[str, dict[str, int]]
) -> dict[str, dict[str, float]]:
    """Mean nDCG@10, recall@100, MRR@10 and latency p50/p95 (ms) per mode."""
    from eval.metrics import mean, mrr_at_k, ndcg_at_k, percentile, recall_at_k

    table = {}
    for mode, run in runs.items():
        rankings = [(run.rankings[q], qrels[q]) for q in run.rankings]
        table[mode] = {
            "ndcg@10": round(mean(ndcg_at_k(r, rel, 10) for r, rel in rankings), 4),
            "recall@100": round(mean(recall_at_k(r, rel, 100) for r, rel in rankings), 4),
            "mrr@10": round(mean(mrr_at_k(r, rel, 10) for r, rel in rankings), 4),
            "p50_ms": round(percentile(run.latencies_ms, 50), 2),
            "p95_ms": round(percentile(run.latencies_ms, 95), 2),
        }
    return table


def evaluate_beir(
    settings: Settings,
    root: Path,
    split: str = "test",
    modes: Sequence[str] = MODES,
    progress: Callable[[str], None] | None = None,
) -> BeirRun:
    """Index the dataset in a throwaway store of the configured backend and score every mode."""
    import tempfile

    from labsearch.stores import open_store
    from retriever.service import SearchService

    say = progress or (lambda _message: None)
    timings: dict[str, float] = {}
    started = time.perf_counter()
    dataset = load_beir(root, split)
    timings["load_s"] = round(time.perf_counter() - started, 2)
    embedder = Embedder.from_settings(settings)
    with tempfile.TemporaryDirectory(prefix="labsearch-eval-") as home:
        run_settings = eval_settings(settings, dataset.name, Path(home))
        store = open_store(run_settings, embedder.dimension, recreate=True)
        service = SearchService(run_settings, store, embedder)
        try:
            assets = corpus_assets(dataset)
            say(f"indexing {len(assets)} documents of {dataset.name} ({run_settings.backend})")
            started = time.perf_counter()
            index_corpus(store, embedder, assets, settings.embed_max_chars)
            finish = getattr(store, "finish_rebuild", None)
            if callable(finish):  # OpenSearch builds a new index behind an alias
                finish()
            timings["index_s"] = round(time.perf_counter() - started, 2)
            embedded_now = embedder.computed
            say(f"running {len(dataset.queries)} queries x {len(modes)} modes")

            def rank(text: str, mode: str, k: int) -> list[str]:
                return [hit.id for hit in service.rank(text, EVAL_ACCESS, k=k, mode=mode)]

            started = time.perf_counter()
            runs = run_queries(rank, dataset.queries, modes, k=100)
            timings["queries_s"] = round(time.perf_counter() - started, 2)
        finally:
            service.close()
    fusion = service.fusion
    return BeirRun(
        dataset=dataset.name,
        split=split,
        backend=run_settings.backend,
        model=settings.model,
        documents=len(dataset.corpus),
        queries=len(dataset.queries),
        fusion={k: getattr(fusion, k) for k in fusion.__dataclass_fields__},
        metrics=score_runs(runs, dataset.qrels),
        timings=timings,
        embedded_now=embedded_now,
        embed_max_chars=settings.embed_max_chars,
    )


BEIR_COLUMNS_HELP = (
    "ndcg@10, mrr@10: ranking quality of the top 10; recall@100: share of relevant documents in "
    "the top 100; p50/p95_ms: latency per query including query embedding."
)
