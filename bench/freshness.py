"""Freshness: how long after a change the index answers with it, under `labsearch watch`.

    .venv/bin/python bench/freshness.py --events 50
    .venv/bin/python bench/freshness.py --events 50 --backends embedded --kinds file

For each backend (embedded, OpenSearch) and each kind of source (a `file://` directory with
file-system notifications; an `s3://` prefix with S3 event notifications through SQS, on moto's
server) it makes `--events` changes one after another, each with a unique word in it, and times:

- put: from the write (file written / PutObject answered) to the first search for the word that
  returns the new asset;
- delete: from the delete to the first search that no longer returns it.

A third kind, `ingest`, pushes records through POST /v1/ingest of the real app (in-process) and
deletes them the same way: push-to-searchable and delete-to-gone.

The source holds `--background` assets before timing starts (indexed by the catch-up scan), so
each change is found among others, not in an empty index.

Searches go through a second store object, as a running server's would. moto sends S3 -> SQS
notifications for puts but none for delete markers on a versioned bucket, so after each S3 delete
the benchmark sends the notification AWS documents for it (`ObjectRemoved:DeleteMarkerCreated`);
the time to send it is inside the measured figure.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import socket
import statistics
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("QUILT_DISABLE_USAGE_METRICS", "true")

from indexer.watch.loop import Watcher, WatchOptions  # noqa: E402
from labsearch.access import Access  # noqa: E402
from labsearch.embeddings import Embedder  # noqa: E402
from labsearch.settings import Settings, UserConfig  # noqa: E402
from labsearch.stores import open_store  # noqa: E402
from labsearch.stores.protocol import SearchMode, SearchRequest  # noqa: E402

OPERATOR = Access.as_operator()
REGION = "us-east-1"
TIMEOUT_SECONDS = 60.0


def main() -> None:
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # moto's request log
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=50, help="Puts (and deletes) per kind.")
    parser.add_argument("--backends", nargs="+", default=["embedded", "opensearch"])
    parser.add_argument("--kinds", nargs="+", default=["file", "s3", "ingest"])
    parser.add_argument(
        "--background", type=int, default=500, help="Assets already in the source (caught up)."
    )
    parser.add_argument("--opensearch-url", default="http://127.0.0.1:9200")
    parser.add_argument("--model", default="all-MiniLM-L6-v2")
    parser.add_argument("--out", type=Path, help="Write the figures as JSON here too.")
    args = parser.parse_args()

    results: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="labsearch-fresh-") as scratch, moto_server():
        embedder = Embedder(args.model, Path(scratch) / "embedding-cache")
        embedder.embed(["warm the model up"])
        for backend in args.backends:
            for kind in args.kinds:
                work = Path(scratch) / f"{backend}-{kind}"
                settings = make_settings(backend, work, args)
                put, delete = run_kind(kind, settings, embedder, work, args)
                for op, seconds in (("put", put), ("delete", delete)):
                    results.append(summary(backend, kind, op, seconds))
                    print(line(results[-1]), flush=True)
        embedder.close()
    print()
    print("| backend | source | change | events | p50 | p95 | max |")
    print("|---|---|---|---|---|---|---|")
    for r in results:
        print(
            f"| {r['backend']} | {r['kind']} | {r['op']} | {r['events']} | "
            f"{r['p50']:.2f} s | {r['p95']:.2f} s | {r['max']:.2f} s |"
        )
    if args.out:
        args.out.write_text(json.dumps(results, indent=2))


def make_settings(backend: str, work: Path, args: argparse.Namespace) -> Settings:
    values: dict[str, Any] = {
        "home": work / "home",
        "cache_dir": work / "cache",
        "backend": backend,
        "model": args.model,
        "access_rules": [],
        "public_sources": [],
    }
    if backend == "opensearch":
        values |= {
            "opensearch_url": args.opensearch_url,
            "opensearch_index": f"labsearch-fresh-{uuid.uuid4().hex[:8]}",
        }
    return Settings(**values)


def run_kind(
    kind: str, settings: Settings, embedder: Embedder, work: Path, args: argparse.Namespace
) -> tuple[list[float], list[float]]:
    if kind == "ingest":
        return run_ingest(settings, embedder, args)
    if kind == "file":
        lab = work / "lab"
        lab.mkdir(parents=True)
        changes = FileChanges(lab)
        source, queues = lab.as_uri(), []
    else:
        changes = S3Changes()
        source, queues = f"s3://{changes.bucket}/runs/", [changes.queue_url]
    for n in range(args.background):  # indexed by the catch-up scan, before timing starts
        changes.put(10_000 + n, f"Background run {n}: liver RNA-seq, sample LIV-{n:05d}")
    reader = open_store(settings, embedder.dimension)  # what a running server searches with
    try:
        with watcher(settings, embedder, source, queues):
            put, delete = [], []
            for n in range(args.events):
                word = f"fresh{uuid.uuid4().hex[:10]}"
                started = time.perf_counter()
                changes.put(n, f"Sequencing run {n} of sample {word} on the NovaSeq")
                put.append(wait(lambda w=word: found(reader, embedder, w), started))
                started = time.perf_counter()
                changes.delete(n)
                delete.append(wait(lambda w=word: not found(reader, embedder, w), started))
            return put, delete
    finally:
        reader.close()
        _drop_opensearch_index(settings)


def run_ingest(
    settings: Settings, embedder: Embedder, args: argparse.Namespace
) -> tuple[list[float], list[float]]:
    """POST /v1/ingest through the real app (in-process, FastAPI's TestClient): from sending the
    push to the first search that returns the record, and from the delete to the last."""
    from fastapi.testclient import TestClient

    from chat_api.app import create_app
    from retriever.service import SearchService

    users = {"lims": UserConfig(groups=["lab-a"], api_keys=["bench-key"], scopes=["ingest"])}
    settings = settings.model_copy(update={"users": users, "rate_limit_per_minute": 0})
    service = SearchService(settings, open_store(settings, embedder.dimension), embedder)
    reader = open_store(settings, embedder.dimension)
    headers = {"X-API-Key": "bench-key"}
    background = [
        {"id": f"BG-{n}", "title": f"Background run {n}", "access_groups": ["lab-a"]}
        for n in range(args.background)
    ]
    put, delete = [], []
    try:
        with TestClient(create_app(settings, service)) as client:
            for start in range(0, len(background), 500):
                body = {"source": "bench", "upsert": background[start : start + 500]}
                client.post("/v1/ingest", json=body, headers=headers).raise_for_status()
            for n in range(args.events):
                word = f"fresh{uuid.uuid4().hex[:10]}"
                record = {
                    "id": f"RUN-{n}",
                    "title": f"Sequencing run {n} of sample {word}",
                    "access_groups": ["lab-a"],
                }
                started = time.perf_counter()
                body = {"source": "bench", "upsert": [record]}
                client.post("/v1/ingest", json=body, headers=headers).raise_for_status()
                put.append(wait(lambda w=word: found(reader, embedder, w), started))
                started = time.perf_counter()
                body = {"source": "bench", "delete": [f"RUN-{n}"]}
                client.post("/v1/ingest", json=body, headers=headers).raise_for_status()
                delete.append(wait(lambda w=word: not found(reader, embedder, w), started))
    finally:
        reader.close()
        service.store.close()
        _drop_opensearch_index(settings)
    return put, delete


def _drop_opensearch_index(settings: Settings) -> None:
    if settings.backend == "opensearch":
        import requests

        requests.delete(
            f"{settings.opensearch_url}/{settings.opensearch_index}-v*",
            params={"expand_wildcards": "all"},
            timeout=30,
        )


def found(reader: Any, embedder: Embedder, word: str) -> bool:
    request = SearchRequest(text=word, k=3, mode=SearchMode.BM25, highlight=False)
    hits = reader.search(request, OPERATOR)
    return any(word in f"{hit.asset.title} {hit.asset.text}" for hit in hits)


def wait(condition: Callable[[], bool], started: float) -> float:
    while not condition():
        if time.perf_counter() - started > TIMEOUT_SECONDS:
            raise SystemExit(f"a change was not visible after {TIMEOUT_SECONDS} s")
        time.sleep(0.02)
    return time.perf_counter() - started


@contextmanager
def watcher(settings: Settings, embedder: Embedder, source: str, queues: list[str]) -> Iterator:
    store = open_store(settings, embedder.dimension)
    options = WatchOptions(queues=queues, files=not queues)
    watch = Watcher(settings, [source], store, embedder, options, on_report=lambda *_: None)
    stop = threading.Event()
    thread = threading.Thread(target=watch.run, args=(stop,), daemon=True)
    thread.start()
    if not watch.caught_up.wait(120):
        raise SystemExit("the watcher did not finish its catch-up scan")
    try:
        yield watch
    finally:
        stop.set()
        thread.join(timeout=30)
        store.close()


class FileChanges:
    def __init__(self, lab: Path) -> None:
        self.lab = lab

    def put(self, n: int, text: str) -> None:
        (self.lab / f"run-{n:04d}.txt").write_text(text)

    def delete(self, n: int) -> None:
        (self.lab / f"run-{n:04d}.txt").unlink()


class S3Changes:
    """A versioned bucket whose events go to an SQS queue (the S3 -> SQS shape)."""

    def __init__(self) -> None:
        import boto3

        self.s3 = boto3.client("s3", region_name=REGION)
        self.sqs = boto3.client("sqs", region_name=REGION)
        self.bucket = f"fresh-{uuid.uuid4().hex[:10]}"
        self.s3.create_bucket(Bucket=self.bucket)
        self.s3.put_bucket_versioning(
            Bucket=self.bucket, VersioningConfiguration={"Status": "Enabled"}
        )
        self.queue_url = self.sqs.create_queue(QueueName=self.bucket)["QueueUrl"]
        arn = self.sqs.get_queue_attributes(QueueUrl=self.queue_url, AttributeNames=["QueueArn"])
        self.s3.put_bucket_notification_configuration(
            Bucket=self.bucket,
            NotificationConfiguration={
                "QueueConfigurations": [
                    {
                        "QueueArn": arn["Attributes"]["QueueArn"],
                        "Events": ["s3:ObjectCreated:*", "s3:ObjectRemoved:*"],
                    }
                ]
            },
        )

    def put(self, n: int, text: str) -> None:
        self.s3.put_object(Bucket=self.bucket, Key=f"runs/run-{n:04d}.txt", Body=text.encode())

    def delete(self, n: int) -> None:
        key = f"runs/run-{n:04d}.txt"
        self.s3.delete_object(Bucket=self.bucket, Key=key)
        record = {
            "eventVersion": "2.1",
            "eventSource": "aws:s3",
            "awsRegion": REGION,
            "eventName": "ObjectRemoved:DeleteMarkerCreated",
            "s3": {"bucket": {"name": self.bucket}, "object": {"key": key}},
        }
        self.sqs.send_message(
            QueueUrl=self.queue_url, MessageBody=json.dumps({"Records": [record]})
        )


@contextmanager
def moto_server() -> Iterator[None]:
    from moto.server import ThreadedMotoServer

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    os.environ |= {
        "AWS_ENDPOINT_URL": f"http://127.0.0.1:{port}",
        "AWS_ACCESS_KEY_ID": "bench",
        "AWS_SECRET_ACCESS_KEY": "bench",
        "AWS_DEFAULT_REGION": REGION,
        "AWS_CONFIG_FILE": os.devnull,
        "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
    }
    try:
        yield
    finally:
        server.stop()


def summary(backend: str, kind: str, op: str, seconds: list[float]) -> dict[str, Any]:
    ordered = sorted(seconds)
    return {
        "backend": backend,
        "kind": kind,
        "op": op,
        "events": len(seconds),
        "p50": statistics.median(ordered),
        "p95": ordered[max(0, round(0.95 * len(ordered)) - 1)],
        "max": ordered[-1],
    }


def line(r: dict[str, Any]) -> str:
    return (
        f"{r['backend']:>10} {r['kind']:>4} {r['op']:>6}: {r['events']} events, "
        f"p50 {r['p50']:.2f} s, p95 {r['p95']:.2f} s, max {r['max']:.2f} s"
    )


if __name__ == "__main__":
    main()
