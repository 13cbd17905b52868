"""Faults while indexing: `kill -9` of `labsearch index` at random points, and `kill -9` of the
OpenSearch node in the middle of a bulk request; each followed by the ordinary resume.

    .venv/bin/python bench/kill_resume.py --backend embedded --kills 20
    .venv/bin/python bench/kill_resume.py --backend opensearch --kills 20
    .venv/bin/python bench/kill_resume.py --node-kills 3     # the OpenSearch node itself

Indexer kills: an ELN export of `--records` records is indexed once cleanly (the reference:
asset count and every asset's content hash). Then, in a fresh index, `labsearch index` is
started and killed with SIGKILL at a random moment between its first write and the clean run's
duration, `--kills` times in a row (each run resumes what the last one left), and finally run to
the end. Pass: exit 0, the same count and the same {id: content hash} as the clean run, and an
index that opened with count == number of hashes after every kill.

Node kills: a disposable node (its own port and directory, via scripts/opensearch-node) is
killed with SIGKILL while the indexer's bulk request is in flight, started again, and the same
`labsearch index` run again. Pass: the first run reports the outage (not a crash), the second
completes, and count and hashes equal the clean run's.

Results go to artifacts/reliability/kill_resume.json for docs/reliability.md.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

from load import export  # noqa: E402

from labsearch.settings import Settings  # noqa: E402

REPORT = REPO / "artifacts" / "reliability" / "kill_resume.json"
NODE = REPO / "scripts" / "opensearch-node"
SHARED_NODE = os.environ.get("LABSEARCH_OPENSEARCH_URL", "http://127.0.0.1:9200")


def settings_for(home: Path, backend: str, url: str, alias: str) -> Settings:
    values: dict[str, Any] = {"home": home, "cache_dir": home / "cache", "backend": backend}
    if backend == "opensearch":
        values.update(opensearch_url=url, opensearch_index=alias)
    return Settings(index_batch_size=16, **values)


def config_file(settings: Settings) -> Path:
    lines = [
        f'home = "{settings.home}"',
        f'cache_dir = "{settings.cache_dir}"',
        f'backend = "{settings.backend}"',
        "index_batch_size = 16",
    ]
    if settings.backend == "opensearch":
        lines += [
            f'opensearch_url = "{settings.opensearch_url}"',
            f'opensearch_index = "{settings.opensearch_index}"',
        ]
    settings.home.mkdir(parents=True, exist_ok=True)
    path = settings.home / "labsearch.toml"
    path.write_text("\n".join(lines) + "\n")
    return path


def env_for(settings: Settings) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LABSEARCH_")}
    env.update(HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", QUILT_DISABLE_USAGE_METRICS="true")
    env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")
    env["LABSEARCH_CONFIG"] = str(config_file(settings))
    return env


def state(settings: Settings, uri: str) -> tuple[int, dict[str, str]]:
    """(asset count, {id: content hash}) of the index now; (0, {}) before it exists."""
    from labsearch.stores import open_store

    if settings.backend == "embedded" and not settings.index_dir.exists():
        return 0, {}  # opening would create it under the indexer's feet
    try:
        store = open_store(settings, 384)
    except Exception:  # noqa: BLE001 - not created yet by the first run
        return 0, {}
    try:
        return store.info().count, store.hashes_by_source(uri)
    finally:
        store.close()


def index_command(uri: str) -> list[str]:
    return [sys.executable, "-m", "shell.cli", "index", uri]


def clean_run(settings: Settings, uri: str) -> dict[str, Any]:
    """Index once without faults; time it and when its first write landed."""
    started = time.monotonic()
    process = subprocess.Popen(index_command(uri), env=env_for(settings), stdout=subprocess.DEVNULL)
    first_write = None
    while process.poll() is None:
        if first_write is None and state(settings, uri)[0] > 0:
            first_write = time.monotonic() - started
        time.sleep(0.2)
    assert process.returncode == 0, "the clean run failed"
    count, hashes = state(settings, uri)
    return {
        "seconds": time.monotonic() - started,
        "first_write": first_write or 1.0,
        "count": count,
        "hashes": hashes,
    }


def indexer_kills(args: argparse.Namespace, root: Path, uri: str) -> dict[str, Any]:
    url, tag = SHARED_NODE, f"labsearch-kill-{os.getpid()}"
    clean = clean_run(settings_for(root / "clean", args.backend, url, tag + "-clean"), uri)
    print(f"clean run: {clean['count']} assets in {clean['seconds']:.0f} s")
    faulted = settings_for(root / "faulted", args.backend, url, tag + "-faulted")
    rng = random.Random(args.seed)
    kills: list[dict[str, Any]] = []
    total = clean["count"]
    for number in range(args.kills):
        before = state(faulted, uri)[0]
        # A random point of the write phase: after a random number of new assets (up to a
        # sixth of what is left, so 20 kills spread over the whole run), or, once nearly
        # everything is written, a random moment of a run that has little left to do.
        target = before + rng.randint(1, max(1, (total - before) // 6))
        started = time.monotonic()
        process = subprocess.Popen(
            index_command(uri), env=env_for(faulted), stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )  # fmt: skip
        late = rng.uniform(1.0, clean["first_write"] * 0.9)
        while process.poll() is None and time.monotonic() - started < 600:
            count = state(faulted, uri)[0]
            if count >= target and count < total:
                break
            if count >= total - 1 and time.monotonic() - started > late:
                break
            time.sleep(0.1)
        alive = process.poll() is None
        if alive:
            os.kill(process.pid, signal.SIGKILL)
        process.wait()
        count, hashes = state(faulted, uri)
        kills.append(
            {
                "after_s": round(time.monotonic() - started, 1),
                "killed_mid_run": alive,
                "assets_before": before,
                "assets_after": count,
                "consistent": count == len(hashes),
            }
        )
        print(f"kill {number + 1}: {before} -> {count} assets, alive={alive}", flush=True)
    final = subprocess.run(index_command(uri), env=env_for(faulted), capture_output=True, text=True)
    count, hashes = state(faulted, uri)
    result = {
        "backend": args.backend,
        "records": args.records,
        "kills": len(kills),
        "killed_mid_run": sum(k["killed_mid_run"] for k in kills),
        "consistent_after_every_kill": all(k["consistent"] for k in kills),
        "final_exit_code": final.returncode,
        "clean_count": clean["count"],
        "final_count": count,
        "hashes_equal": hashes == clean["hashes"],
        "runs": kills,
    }
    if args.backend == "opensearch":
        import requests

        for alias in (tag + "-clean", tag + "-faulted"):
            requests.delete(f"{url}/{alias}-v*", params={"expand_wildcards": "all"}, timeout=30)
    return result


class Node:
    """A disposable OpenSearch node managed by scripts/opensearch-node."""

    def __init__(self, port: int) -> None:
        self.url = f"http://127.0.0.1:{port}"
        self.directory = Path(tempfile.gettempdir()) / f"labsearch-os-{port}"
        self.env = {
            **os.environ,
            "LABSEARCH_OPENSEARCH_DIR": str(self.directory),
            "OPENSEARCH_PORT": str(port),
            "OPENSEARCH_HEAP": "-Xms256m -Xmx512m",
        }

    def run(self, command: str) -> None:
        subprocess.run([str(NODE), command], env=self.env, check=True, capture_output=True)

    def kill(self) -> None:
        self.pid = int((self.directory / "opensearch.pid").read_text())
        os.kill(self.pid, signal.SIGKILL)

    def restart(self) -> None:
        """Start again once the killed JVM is gone (it still holds the data directory's lock
        for a moment after SIGKILL)."""
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                os.kill(self.pid, 0)
            except ProcessLookupError:
                break
            time.sleep(0.2)
        for _attempt in range(3):
            result = subprocess.run([str(NODE), "start"], env=self.env, capture_output=True)
            if result.returncode == 0:
                return
            time.sleep(5)
        raise RuntimeError(f"the node did not start again: {result.stdout!r} {result.stderr!r}")


def killing_bulk(original: Any, target: int, node: Node) -> Any:
    """`original`, except that the `target`-th call kills the node while it is on the wire."""
    calls = {"n": 0}

    def bulk(*args: Any, **kwargs: Any) -> Any:
        calls["n"] += 1
        if calls["n"] == target:
            threading.Timer(0.01, node.kill).start()
        return original(*args, **kwargs)

    return bulk


def node_kills(args: argparse.Namespace, root: Path, uri: str) -> dict[str, Any]:
    from indexer.pipeline import Indexer
    from labsearch.embeddings import Embedder
    from labsearch.stores import open_store
    from labsearch.stores.opensearch_bulk import RetryPolicy

    clean = clean_run(settings_for(root / "clean", "embedded", "", ""), uri)
    node = Node(args.node_port)
    node.run("start")
    embedder = Embedder("all-MiniLM-L6-v2", root / "embedding-cache")
    rng = random.Random(args.seed)
    runs = []
    try:
        for number in range(args.node_kills):
            settings = settings_for(
                root / f"node-{number}", "opensearch", node.url, f"labsearch-nodekill-{number}"
            )
            store = open_store(settings, embedder.dimension)
            store.retry = RetryPolicy(attempts=3, initial_backoff=0.2, max_backoff=0.5)
            target = rng.randint(2, max(2, clean["count"] // settings.index_batch_size - 1))
            store.client.bulk = killing_bulk(store.client.bulk, target, node)
            indexer = Indexer(settings, store, embedder, progress=None)
            first = indexer.index(uri)
            indexer.close()
            store.close()
            node.restart()
            store = open_store(settings, embedder.dimension)
            indexer = Indexer(settings, store, embedder, progress=None)
            second = indexer.index(uri)
            indexer.close()
            count, hashes = store.info().count, store.hashes_by_source(uri)
            store.close()
            runs.append(
                {
                    "killed_at_bulk_request": target,
                    "first_run_complete": first.complete,
                    "first_run_error": (first.errors or [""])[0][:200],
                    "resumed_complete": second.complete,
                    "count": count,
                    "hashes_equal": hashes == clean["hashes"],
                }
            )
            print(f"node kill {number + 1}: {runs[-1]}")
    finally:
        node.run("stop")
    return {"records": args.records, "clean_count": clean["count"], "node_kills": runs}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backend", choices=["embedded", "opensearch"], default="embedded")
    parser.add_argument("--kills", type=int, default=20)
    parser.add_argument("--node-kills", type=int, default=0, help="Kill the OpenSearch node.")
    parser.add_argument("--node-port", type=int, default=9251)
    parser.add_argument("--records", type=int, default=600)
    parser.add_argument("--seed", type=int, default=21)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="labsearch-kill-") as scratch:
        root = Path(scratch)
        export(root / "lab-export.jsonl", args.records)
        uri = f"eln+file://{root / 'lab-export.jsonl'}"
        if args.node_kills:
            key, result = "opensearch node kill -9 mid-bulk", node_kills(args, root, uri)
        else:
            key, result = f"indexer kill -9 ({args.backend})", indexer_kills(args, root, uri)
    result["command"] = "bench/kill_resume.py " + " ".join(sys.argv[1:])
    REPORT.parent.mkdir(parents=True, exist_ok=True)
    try:
        saved = json.loads(REPORT.read_text())
    except (OSError, ValueError):
        saved = {}
    saved[key] = result
    REPORT.write_text(json.dumps(saved, indent=2) + "\n")
    print(json.dumps({k: v for k, v in result.items() if k != "runs"}, indent=2))


if __name__ == "__main__":
    main()
