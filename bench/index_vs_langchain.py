"""Index one Quilt registry two ways, side by side in one run:

1. the pattern of the LangChain tutorials: every package's metadata and manifest as JSON text →
   Documents → RecursiveCharacterTextSplitter → HuggingFaceEmbeddings (same model) →
   InMemoryVectorStore;
2. labsearch: `Indexer.index("quilt+file://...")` into the embedded store, first with a cold
   embedding cache, then again with nothing changed.

    python bench/index_vs_langchain.py --runs 40 [--json]

Each side runs in a fresh Python process and reports two times: loading its libraries (torch,
sentence-transformers, LangChain, quilt3, labsearch's readers) and the work itself (reading the
registry, loading the model, embedding, storing). The targets of the foundation issue compare
work: first run ≥ 2× faster than the LangChain pipeline, unchanged re-run ≥ 50× faster than
labsearch's own first run. Then `labsearch index` itself runs again from a shell, as new
processes (wall time, median of 5 after one warm-up): nothing changed, so it loads neither the
model nor quilt3 nor the file readers. Those processes may write bytecode (`__pycache__`), as an
installed package has it; an environment that forbids it (PYTHONDONTWRITEBYTECODE) compiles
labsearch's modules in every process, about 0.07 s more.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("QUILT_DISABLE_USAGE_METRICS", "true")
os.environ.setdefault("QUILT_MINIMIZE_STDOUT", "true")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def langchain_side(registry: Path) -> dict:
    start = time.perf_counter()
    import quilt3
    import sentence_transformers  # noqa: F401  (HuggingFaceEmbeddings imports it on first use)
    from langchain_core.documents import Document
    from langchain_core.vectorstores import InMemoryVectorStore
    from langchain_huggingface import HuggingFaceEmbeddings
    from langchain_text_splitters import RecursiveCharacterTextSplitter

    from labsearch.embeddings import resolve_model_path

    loaded = time.perf_counter()
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
    embeddings = HuggingFaceEmbeddings(model_name=resolve_model_path("all-MiniLM-L6-v2"))
    store = InMemoryVectorStore.from_documents(chunks, embeddings)
    done = time.perf_counter()
    return {
        "libraries_s": loaded - start,
        "work_s": done - loaded,
        "packages": len(documents),
        "vectors": len(store.store),
    }


def machine_exports() -> Path:
    from labsearch.settings import Settings

    machine = Settings()
    return machine.export_dir or machine.cache_dir / "onnx"


def labsearch_side(registry: Path, workdir: Path, runs: list[str]) -> dict:
    start = time.perf_counter()
    # The readers labsearch imports on first use, loaded up front like the rest.
    import anndata  # noqa: F401
    import pyarrow.parquet  # noqa: F401
    import pypdf  # noqa: F401
    import pysam  # noqa: F401
    import quilt3  # noqa: F401
    import tifffile  # noqa: F401
    import tiktoken  # noqa: F401

    import indexer.extractors  # noqa: F401
    import indexer.sources.quilt  # noqa: F401
    from indexer.pipeline import Indexer
    from labsearch.embeddings import Embedder
    from labsearch.settings import Settings
    from labsearch.stores import open_store

    # The model's ONNX export and the backend measured for this CPU are the machine's, made
    # once like the model package is installed once (LABSEARCH_EXPORT_DIR, else the default
    # cache's): the cold embedding cache below is this run's own.
    settings = Settings(
        home=workdir / "home", cache_dir=workdir / "cache", export_dir=machine_exports()
    )
    backend = Embedder.from_settings(settings).backend  # "auto": read (or measured once)
    if backend == "torch":
        import sentence_transformers  # noqa: F401
    else:
        import onnxruntime  # noqa: F401
        import tokenizers  # noqa: F401
    loaded = time.perf_counter()
    uri = f"quilt+file://{registry}"
    result: dict = {"libraries_s": loaded - start, "backend": backend}
    for label in runs:
        began = time.perf_counter()
        embedder = Embedder.from_settings(settings)
        store = open_store(settings, embedder.dimension)
        indexer = Indexer(settings, store, embedder, progress=None)
        report = indexer.index(uri)
        indexer.close()
        store.close()
        embedder.close()
        result[label] = {
            "work_s": time.perf_counter() - began,
            "summary": report.summary(),
            "embedded": embedder.computed,
        }
    result["torch_loaded"] = "torch" in sys.modules
    return result


def cli_rerun(registry: Path, workdir: Path, repeat: int = 5) -> dict:
    """`labsearch index quilt+file://...` over the unchanged registry, each run a new process."""
    root = Path(__file__).resolve().parent.parent
    env = dict(os.environ, LABSEARCH_HOME=str(workdir / "home"))
    env["LABSEARCH_CACHE_DIR"] = str(workdir / "cache")
    env["LABSEARCH_EXPORT_DIR"] = str(machine_exports())
    env["PYTHONPATH"] = os.pathsep.join(p for p in [str(root), env.get("PYTHONPATH", "")] if p)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    command = [sys.executable, "-m", "shell.cli", "index", f"quilt+file://{registry}"]
    walls, output = [], ""
    for _ in range(repeat + 1):  # the first one writes bytecode; not counted
        began = time.perf_counter()
        completed = subprocess.run(
            command, env=env, cwd=workdir, capture_output=True, text=True, check=False
        )
        walls.append(time.perf_counter() - began)
        if completed.returncode != 0:
            sys.exit(f"labsearch index failed:\n{completed.stdout}{completed.stderr[-3000:]}")
        output = completed.stdout.strip().replace("\n", " ")
    return {"wall_s": statistics.median(walls[1:]), "walls_s": walls[1:], "output": output}


def run_side(*args: str) -> dict:
    """One side in a fresh interpreter; its last stdout line is its JSON result."""
    completed = subprocess.run(
        [sys.executable, __file__, *args], capture_output=True, text=True, check=False
    )
    if completed.returncode != 0:
        sys.exit(f"bench side {args[:2]} failed:\n{completed.stderr[-3000:]}")
    return json.loads(completed.stdout.strip().splitlines()[-1])


def compare(registry: Path, workdir: Path) -> dict:
    chain = run_side("--side", "langchain", "--registry", str(registry))
    ours = run_side("--side", "labsearch", "--registry", str(registry), "--workdir", str(workdir))
    shell_rerun = cli_rerun(registry, workdir)
    first, unchanged = ours["first"]["work_s"], ours["unchanged"]["work_s"]
    return {
        "langchain": chain,
        "labsearch": ours,
        "labsearch_rerun_new_process": shell_rerun,
        "first_run_speedup_vs_langchain": chain["work_s"] / first,
        "first_run_speedup_vs_langchain_incl_libraries": (
            (chain["libraries_s"] + chain["work_s"]) / (ours["libraries_s"] + first)
        ),
        "unchanged_rerun_speedup_vs_first": first / unchanged,
    }


def print_report(result: dict) -> None:
    chain, ours = result["langchain"], result["labsearch"]
    rerun = result["labsearch_rerun_new_process"]
    rows = [
        (
            "LangChain tutorial pipeline",
            chain["libraries_s"],
            chain["work_s"],
            f"{chain['packages']} packages -> {chain['vectors']} vectors",
        ),
        (
            "labsearch first run",
            ours["libraries_s"],
            ours["first"]["work_s"],
            f"{ours['first']['summary']}; {ours['first']['embedded']} texts embedded "
            f"({ours['backend']}; torch loaded: {'yes' if ours['torch_loaded'] else 'no'})",
        ),
        ("labsearch unchanged re-run", None, ours["unchanged"]["work_s"], "same process"),
    ]
    print(f"{'':34}{'libraries':>10}{'work':>9}{'total':>9}")
    for label, libraries, work, note in rows:
        total = work + (libraries or 0.0)
        shown = "" if libraries is None else f"{libraries:.2f}"
        print(f"{label:34}{shown:>10}{work:>9.2f}{total:>9.2f}   {note}")
    print(
        f"{'`labsearch index`, unchanged':34}{'':>10}{'':>9}{rerun['wall_s']:>9.2f}   "
        f"new process, wall, median of {len(rerun['walls_s'])}: {rerun['output']}"
    )
    print(
        f"first run vs LangChain: {result['first_run_speedup_vs_langchain']:.1f}x faster "
        f"(work; {result['first_run_speedup_vs_langchain_incl_libraries']:.1f}x with libraries)"
    )
    print(f"unchanged re-run vs first run: {result['unchanged_rerun_speedup_vs_first']:.0f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=60, help="sequencing runs in the demo lab")
    parser.add_argument("--registry", type=Path, help="index this registry instead of a demo")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--side", choices=["langchain", "labsearch"])
    parser.add_argument("--workdir", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.side == "langchain":
        print(json.dumps(langchain_side(args.registry)))
        return
    if args.side == "labsearch":
        print(json.dumps(labsearch_side(args.registry, args.workdir, ["first", "unchanged"])))
        return

    from shell.demo.lab import build_demo_lab

    with tempfile.TemporaryDirectory(prefix="labsearch-bench-") as tmp:
        workdir = Path(tmp)
        registry = args.registry
        if registry is None:
            registry = build_demo_lab(workdir / "lab", seed=7, runs=args.runs).registry
        result = compare(registry, workdir)
    result["registry_runs"] = args.runs if args.registry is None else None
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print_report(result)


if __name__ == "__main__":
    main()
