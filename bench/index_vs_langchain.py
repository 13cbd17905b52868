"""Index one Quilt registry two ways, side by side in one run:

1. the pattern of the LangChain tutorials: every package's metadata and manifest as JSON text →
   Documents → RecursiveCharacterTextSplitter → HuggingFaceEmbeddings (same model) →
   InMemoryVectorStore;
2. labsearch: `Indexer.index("quilt+file://...")` into the embedded store, first with a cold
   embedding cache, then again with nothing changed.

    python bench/index_vs_langchain.py --runs 60 [--json]

Both sides include loading the model. Prints wall-clock seconds and the ratios the foundation
issue targets (first run ≥ 2× faster than the LangChain pipeline; unchanged re-run ≥ 50× faster
than labsearch's own first run).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("QUILT_DISABLE_USAGE_METRICS", "true")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def langchain_pipeline(registry: Path, model_path: str) -> dict:
    import quilt3
    from langchain_core.documents import Document
    from langchain_core.vectorstores import InMemoryVectorStore
    from langchain_huggingface import HuggingFaceEmbeddings
    from langchain_text_splitters import RecursiveCharacterTextSplitter

    start = time.perf_counter()
    uri = f"file://{registry}"
    documents = []
    for name in quilt3.list_packages(uri):
        package = quilt3.Package.browse(name, registry=uri)
        entries = [
            {"logical_key": key, "size": entry.size, "hash": entry.hash, "meta": entry.meta}
            for key, entry in package.walk()
        ]
        text = json.dumps({"name": name, "meta": package.meta, "entries": entries}, default=str)
        documents.append(Document(page_content=text, metadata={"package": name}))
    splitter = RecursiveCharacterTextSplitter(chunk_size=1000, chunk_overlap=200)
    chunks = splitter.split_documents(documents)
    embeddings = HuggingFaceEmbeddings(model_name=model_path)
    store = InMemoryVectorStore.from_documents(chunks, embeddings)
    seconds = time.perf_counter() - start
    return {"seconds": seconds, "packages": len(documents), "vectors": len(store.store)}


def labsearch_pipeline(registry: Path, home: Path) -> dict:
    from indexer.pipeline import Indexer
    from labsearch.embeddings import Embedder
    from labsearch.settings import Settings
    from labsearch.stores import open_store

    settings = Settings(home=home / "home", cache_dir=home / "cache")
    uri = f"quilt+file://{registry}"
    runs = {}
    for label in ("first", "unchanged"):
        start = time.perf_counter()
        embedder = Embedder(settings.model, settings.cache_dir, settings.embed_batch_size)
        store = open_store(settings, embedder.dimension)
        indexer = Indexer(settings, store, embedder, progress=None)
        report = indexer.index(uri)
        indexer.close()
        store.close()
        embedder.close()
        runs[label] = {
            "seconds": time.perf_counter() - start,
            "summary": report.summary(),
            "embedded": embedder.computed,
        }
    return runs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=60, help="sequencing runs in the demo lab")
    parser.add_argument("--registry", type=Path, help="index this registry instead of a demo")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    from labsearch.demo.lab import build_demo_lab
    from labsearch.embeddings import resolve_model_path

    with tempfile.TemporaryDirectory(prefix="labsearch-bench-") as tmp:
        workdir = Path(tmp)
        registry = args.registry
        if registry is None:
            registry = build_demo_lab(workdir / "lab", seed=7, runs=args.runs).registry
        chain = langchain_pipeline(registry, resolve_model_path("all-MiniLM-L6-v2"))
        ours = labsearch_pipeline(registry, workdir)
    result = {
        "registry_runs": args.runs if args.registry is None else None,
        "langchain": chain,
        "labsearch": ours,
        "first_run_speedup_vs_langchain": chain["seconds"] / ours["first"]["seconds"],
        "unchanged_rerun_speedup_vs_first": ours["first"]["seconds"] / ours["unchanged"]["seconds"],
    }
    if args.json:
        print(json.dumps(result, indent=2))
        return
    print(
        f"LangChain tutorial pipeline: {chain['seconds']:8.1f} s  "
        f"({chain['packages']} packages -> {chain['vectors']} vectors)"
    )
    print(
        f"labsearch first run:         {ours['first']['seconds']:8.1f} s  "
        f"({ours['first']['summary']}; {ours['first']['embedded']} texts embedded)"
    )
    print(
        f"labsearch unchanged re-run:  {ours['unchanged']['seconds']:8.1f} s  "
        f"({ours['unchanged']['summary']})"
    )
    print(f"first run vs LangChain: {result['first_run_speedup_vs_langchain']:.1f}x faster")
    print(
        f"unchanged re-run vs first run: {result['unchanged_rerun_speedup_vs_first']:.0f}x faster"
    )


if __name__ == "__main__":
    main()
