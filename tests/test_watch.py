"""`labsearch watch`: changes reach the index from S3 events (moto's SQS), file-system
notifications and catch-up scans; events are hints, never trusted over the source's state now."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from elabftw_server import API_KEY, elab_fixture  # noqa: F401
from opensearch_fixtures import index_alias, opensearch_node, opensearch_settings  # noqa: F401
from s3_fixtures import (  # noqa: F401
    REGION,
    eventbridge_event,
    moto_s3_fixture,
    s3_bucket_fixture,
    s3_record,
)

from indexer.state import SyncReport
from indexer.watch.loop import Watcher, WatchOptions
from labsearch.access import Access
from labsearch.stores import open_store
from labsearch.stores.protocol import SearchRequest

REPO_ROOT = Path(__file__).resolve().parent.parent
OPERATOR = Access.as_operator()


def wait_until(
    condition: Callable[[], object], timeout: float = 30.0, what: str = "", every: float = 0.05
) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout} s waiting for {what or condition}")
        time.sleep(every)


@pytest.fixture(params=["embedded", pytest.param("opensearch", marks=pytest.mark.integration)])
def backend(request, settings, tmp_path):
    """Settings for either store: the watcher must keep both current."""
    if request.param == "embedded":
        return settings
    return opensearch_settings(
        request.getfixturevalue("opensearch_node"),
        request.getfixturevalue("index_alias"),
        tmp_path,
        model=settings.model,
        home=settings.home,
        cache_dir=settings.cache_dir,
    )


@dataclass
class Watching:
    store: object
    watcher: Watcher
    reports: list[SyncReport] = field(default_factory=list)

    def asset(self, asset_id: str):
        return self.store.get(asset_id, OPERATOR)

    def settled(self, count: int) -> Callable[[], bool]:
        """A condition: at least `count` writes (catch-up included) have finished."""
        return lambda: len(self.reports) >= count


@contextmanager
def watching(settings, embedder, sources: list[str], **options) -> Iterator[Watching]:
    store = open_store(settings, embedder.dimension)
    run = Watching(store, None)  # type: ignore[arg-type]
    run.watcher = Watcher(
        settings,
        sources,
        store,
        embedder,
        WatchOptions(**options),
        on_report=lambda report, seconds: run.reports.append(report),
    )
    stop = threading.Event()
    thread = threading.Thread(target=run.watcher.run, args=(stop,), daemon=True)
    thread.start()
    assert run.watcher.caught_up.wait(120), "the catch-up scan did not finish"
    try:
        yield run
    finally:
        stop.set()
        thread.join(timeout=30)
        store.close()


# --- S3 events through SQS (moto) -------------------------------------------------------------


@dataclass
class Queue:
    url: str
    client: object

    def send(self, body: object) -> None:
        text = body if isinstance(body, str) else json.dumps(body)
        self.client.send_message(QueueUrl=self.url, MessageBody=text)

    def depth(self) -> int:
        names = ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
        attributes = self.client.get_queue_attributes(QueueUrl=self.url, AttributeNames=names)
        return sum(int(attributes["Attributes"][n]) for n in names)


@pytest.fixture
def events(moto_s3, s3_bucket) -> Queue:
    """A queue receiving the bucket's S3 event notifications (the S3 -> SQS shape)."""
    import boto3

    sqs = boto3.client("sqs", region_name=REGION, endpoint_url=moto_s3.endpoint_url)
    url = sqs.create_queue(QueueName=f"events-{uuid.uuid4().hex[:8]}")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    notify(moto_s3.client(), s3_bucket, arn)
    return Queue(url, sqs)


def notify(s3, bucket: str, queue_arn: str | None) -> None:
    """Turn the bucket's notifications to the queue on (or off, with None)."""
    configuration = (
        {
            "QueueConfigurations": [
                {"QueueArn": queue_arn, "Events": ["s3:ObjectCreated:*", "s3:ObjectRemoved:*"]}
            ]
        }
        if queue_arn
        else {}
    )
    s3.put_bucket_notification_configuration(Bucket=bucket, NotificationConfiguration=configuration)


def put(s3, bucket: str, key: str, text: str) -> str:
    return s3.put_object(Bucket=bucket, Key=key, Body=text.encode())["VersionId"]


def test_s3_put_overwrite_and_delete_reach_the_index(backend, embedder, moto_s3, s3_bucket, events):
    s3 = moto_s3.client()
    source = f"s3://{s3_bucket}/runs/"
    key = "runs/R0042/summary.txt"
    asset_id = f"s3://{s3_bucket}/{key}"
    with watching(backend, embedder, [source], queues=[events.url], files=False) as run:
        first = put(s3, s3_bucket, key, "NovaSeq run R0042 of liver sample LIV-0042")
        wait_until(lambda: run.asset(asset_id), what="the new object")
        assert run.asset(asset_id).provenance.version_id == first

        second = put(s3, s3_bucket, key, "NovaSeq run R0042 re-demultiplexed, kidney KID-7")
        wait_until(lambda: run.asset(asset_id).provenance.version_id == second, what="version 2")
        assert "KID-7" in run.asset(asset_id).text and "LIV-0042" not in run.asset(asset_id).text
        hits = run.store.search(SearchRequest(text="KID-7", k=5), OPERATOR)
        assert [h.asset.id for h in hits][:1] == [asset_id]

        s3.delete_object(Bucket=s3_bucket, Key=key)  # versioned: a delete marker
        # moto sends no notification for a delete marker; AWS sends this one.
        events.send(s3_record(s3_bucket, key, "ObjectRemoved:DeleteMarkerCreated"))
        wait_until(lambda: run.asset(asset_id) is None, what="the deleted object to go")
        wait_until(lambda: events.depth() == 0, what="every message deleted")


def test_documented_event_shapes_moto_does_not_send(settings, embedder, moto_s3, s3_bucket, events):
    """EventBridge events and DeleteMarkerCreated are injected as AWS documents them."""
    s3 = moto_s3.client()
    source = f"s3://{s3_bucket}/"
    with watching(settings, embedder, [source], queues=[events.url], files=False) as run:
        notify(s3, s3_bucket, None)  # from here on only the injected events say anything
        put(s3, s3_bucket, "plates/P 7.csv", "well,od\nA1,0.42\n")
        events.send(eventbridge_event(s3_bucket, "plates/P 7.csv", "Object Created"))
        asset_id = f"s3://{s3_bucket}/plates/P 7.csv"
        wait_until(lambda: run.asset(asset_id), what="the EventBridge-announced object")

        s3.delete_object(Bucket=s3_bucket, Key="plates/P 7.csv")
        events.send(s3_record(s3_bucket, "plates/P 7.csv", "ObjectRemoved:DeleteMarkerCreated"))
        wait_until(lambda: run.asset(asset_id) is None, what="the delete marker to remove it")


def test_late_duplicate_and_reordered_events_cannot_restore_or_remove(
    settings, embedder, moto_s3, s3_bucket, events
):
    s3 = moto_s3.client()
    source = f"s3://{s3_bucket}/"
    kept, gone = "kept.txt", "gone.txt"
    with watching(settings, embedder, [source], queues=[events.url], files=False) as run:
        notify(s3, s3_bucket, None)
        old_version = put(s3, s3_bucket, gone, "an object deleted later")
        put(s3, s3_bucket, kept, "an object that stays")
        events.send(s3_record(s3_bucket, gone, "ObjectCreated:Put"))
        events.send(s3_record(s3_bucket, kept, "ObjectCreated:Put"))
        wait_until(lambda: run.asset(f"s3://{s3_bucket}/{gone}"), what="both objects")
        wait_until(lambda: run.asset(f"s3://{s3_bucket}/{kept}"), what="both objects")

        s3.delete_object(Bucket=s3_bucket, Key=gone)
        before = len(run.reports)
        # Late: a create event for the version that was deleted since. Reordered: a remove
        # event for an object that exists. Duplicate: the same create event twice.
        events.send(s3_record(s3_bucket, gone, "ObjectCreated:Put", old_version))
        events.send(s3_record(s3_bucket, kept, "ObjectRemoved:Delete"))
        events.send(s3_record(s3_bucket, kept, "ObjectCreated:Put"))
        events.send(s3_record(s3_bucket, kept, "ObjectCreated:Put"))
        wait_until(lambda: events.depth() == 0 and len(run.reports) > before, what="processing")
        assert run.asset(f"s3://{s3_bucket}/{gone}") is None  # the late event re-read: deleted
        assert run.asset(f"s3://{s3_bucket}/{kept}") is not None  # the remove event: it exists
        rewritten = sum(r.added + r.updated for r in run.reports[before:])
        assert rewritten == 0  # duplicates re-read an unchanged object: nothing written


def test_poison_messages_go_to_dead_letters_and_do_not_block(
    settings, embedder, moto_s3, s3_bucket, events
):
    s3 = moto_s3.client()
    with watching(settings, embedder, [f"s3://{s3_bucket}/"], queues=[events.url]) as run:
        events.send("this is not JSON")
        events.send({"Records": [{"eventSource": "aws:s3", "s3": {"bucket": {}}}]})
        events.send({"detail-type": "Scheduled Event", "source": "aws.events"})
        put(s3, s3_bucket, "after-poison.txt", "processed after the poison")
        wait_until(lambda: run.asset(f"s3://{s3_bucket}/after-poison.txt"), what="the good one")
        wait_until(lambda: events.depth() == 0, what="an empty queue")
        letters = run.watcher.dead_letters.read()
        assert [letter["body"] for letter in letters][0] == "this is not JSON"
        assert len(letters) == 3
        assert "not JSON" in letters[0]["reason"]
        assert "s3.bucket.name" in letters[1]["reason"]
        assert "neither an S3 event" in letters[2]["reason"]
        assert all(letter["origin"] == events.url for letter in letters)


def test_a_new_top_hash_rewrites_only_that_package(
    settings, embedder, moto_s3, s3_bucket, events, tmp_path
):
    import quilt3

    registry = f"s3://{s3_bucket}"

    def push(name: str, text: str) -> str:
        data = tmp_path / f"{name.replace('/', '-')}-{uuid.uuid4().hex[:6]}"
        data.mkdir()
        (data / "counts.csv").write_text(f"gene,count\nActb,{len(text)}\n")
        (data / "README.md").write_text(f"# {name}\n{text}\n")
        package = quilt3.Package().set_dir(".", str(data))
        return package.push(name, registry=registry, force=True).top_hash

    push("lab-a/liver", "liver RNA-seq, first version")
    push("lab-a/kidney", "kidney RNA-seq")
    source = f"quilt+{registry}"
    with watching(settings, embedder, [source], queues=[events.url], files=False) as run:
        kidney = {k: v for k, v in run.store.hashes_by_source(source).items() if "kidney" in k}
        before = len(run.reports)
        top_hash = push("lab-a/liver", "liver RNA-seq, second version with more samples")
        liver = f"quilt:{registry}#lab-a/liver"
        wait_until(
            lambda: (a := run.asset(liver)) is not None and a.provenance.top_hash == top_hash,
            what="the new top hash",
        )
        wait_until(lambda: events.depth() == 0, what="every message deleted")
        after = {k: v for k, v in run.store.hashes_by_source(source).items() if "kidney" in k}
        assert after == kidney  # the other package was neither read nor rewritten
        written = [r for r in run.reports[before:] if r.added + r.updated]
        assert written and all(r.updated + r.added <= 3 for r in written)  # package + 2 entries


# --- local files ----------------------------------------------------------------------------


def test_file_write_overwrite_and_delete_reach_the_index(backend, embedder, tmp_path):
    lab = tmp_path / "lab"
    (lab / "runs").mkdir(parents=True)
    (lab / "runs" / "old.txt").write_text("indexed before the watcher started")
    source = lab.as_uri()
    with watching(backend, embedder, [source]) as run:
        assert run.asset(f"file://{lab}/runs/old.txt")  # the catch-up scan
        path = lab / "runs" / "R0099.txt"
        path.write_text("MiSeq run R0099, sample LIV-0099")
        wait_until(lambda: run.asset(f"file://{path}"), what="the new file")

        path.write_text("MiSeq run R0099 rerun, sample KID-0099")
        wait_until(lambda: "KID-0099" in run.asset(f"file://{path}").text, what="the new text")

        path.unlink()
        wait_until(lambda: run.asset(f"file://{path}") is None, what="the deleted file to go")

        nested = lab / "runs" / "batch-2"
        nested.mkdir()
        (nested / "a.txt").write_text("batch two, file a")
        wait_until(lambda: run.asset(f"file://{nested}/a.txt"), what="a file in a new directory")
        (nested / "a.txt").rename(tmp_path / "moved-out.txt")
        nested.rmdir()
        wait_until(lambda: run.asset(f"file://{nested}/a.txt") is None, what="the moved file")
        assert run.asset(f"file://{lab}/runs/old.txt")  # nothing else was touched


def test_catch_up_finds_what_changed_while_nobody_watched(settings, embedder, tmp_path):
    lab = tmp_path / "lab"
    lab.mkdir()
    (lab / "a.txt").write_text("first file")
    with watching(settings, embedder, [lab.as_uri()]):
        pass
    (lab / "a.txt").unlink()
    (lab / "b.txt").write_text("written while the watcher was stopped")
    with watching(settings, embedder, [lab.as_uri()]) as run:
        assert run.asset(f"file://{lab}/b.txt") is not None
        assert run.asset(f"file://{lab}/a.txt") is None


def test_killed_watcher_loses_nothing(settings, moto_s3, s3_bucket, events, tmp_path):
    """kill -9 while messages are in flight; the restarted watcher gets them again (the queue
    redelivers what was never deleted) and its catch-up scan finds the rest."""
    s3 = moto_s3.client()
    source = f"s3://{s3_bucket}/"
    env = dict(
        os.environ,
        LABSEARCH_HOME=str(settings.home),
        LABSEARCH_CACHE_DIR=str(tmp_path / "cache-killed"),
        LABSEARCH_WATCH_QUEUES=json.dumps([events.url]),
    )
    events.client.set_queue_attributes(QueueUrl=events.url, Attributes={"VisibilityTimeout": "2"})
    command = [sys.executable, "-m", "shell.cli", "watch", source]
    process = subprocess.Popen(command, env=env, cwd=REPO_ROOT, stderr=subprocess.PIPE, text=True)
    try:
        for line in process.stderr:  # the catch-up of the empty bucket is done
            if f"{source}:" in line:
                break
        keys = [f"obj-{n:03d}.txt" for n in range(30)]
        for key in keys:
            put(s3, s3_bucket, key, f"object {key} of a run")
        wait_until(lambda: _count(settings) > 0, timeout=60, what="the first writes")
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait()
    assert _count(settings) > 0  # killed after writing some, with messages still queued

    restarted = subprocess.Popen(command, env=env, cwd=REPO_ROOT, stderr=subprocess.DEVNULL)
    try:
        wait_until(lambda: _count(settings) == len(keys), timeout=120, what="every object")
        wait_until(lambda: events.depth() == 0, timeout=60, what="an empty queue")
    finally:
        restarted.send_signal(signal.SIGTERM)
        restarted.wait(timeout=30)


def _count(settings) -> int:
    from labsearch.stores.embedded import EmbeddedStore

    if not settings.index_dir.exists():
        return 0
    try:
        store = EmbeddedStore.open(settings.index_dir, "all-MiniLM-L6-v2", 384)
    except Exception:  # the watcher may not have created the index yet
        return 0
    try:
        return store.info().count
    finally:
        store.close()


def test_a_long_sync_of_one_source_does_not_hold_up_another(settings, embedder, tmp_path):
    """The watcher locks a source only for each write: while a `labsearch index` of source A
    runs (holds A's lock), changes to B land at once and A's wait for the lock, then land."""
    from indexer.locks import source_lock

    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir()
    b.mkdir()
    with watching(settings, embedder, [a.as_uri(), b.as_uri()]) as run:
        with source_lock(settings.home, a.as_uri()):
            (a / "waits.txt").write_text("written while A is being synced")
            (b / "lands.txt").write_text("written to B meanwhile")
            wait_until(lambda: run.asset(f"file://{b}/lands.txt"), what="B's change")
            time.sleep(1.0)  # A's change is queued behind A's lock, however long we wait
            assert run.asset(f"file://{a}/waits.txt") is None
        wait_until(lambda: run.asset(f"file://{a}/waits.txt"), what="A's change after the lock")


def test_serve_with_watch_answers_with_a_file_written_after_it_started(settings, tmp_path):
    """`labsearch serve --watch`: the API process keeps its own index current."""
    import socket

    import requests

    from indexer.jobs import run_index

    lab = tmp_path / "lab"
    lab.mkdir()
    (lab / "before.txt").write_text("indexed before the server started")
    users = {"alice": {"groups": ["lab-a"], "api_keys": ["key-alice"]}}
    rules = [{"prefix": lab.as_uri(), "groups": ["lab-a"]}]
    env = dict(
        os.environ,
        LABSEARCH_HOME=str(settings.home),
        LABSEARCH_CACHE_DIR=str(settings.cache_dir),
        LABSEARCH_USERS=json.dumps(users),
        LABSEARCH_ACCESS_RULES=json.dumps(rules),
    )
    configured = type(settings)(**{**settings.model_dump(), "access_rules": rules, "users": users})
    run_index(configured, [lab.as_uri()])
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    command = [sys.executable, "-m", "shell.cli", "serve", "--watch", "--port", str(port)]
    server = subprocess.Popen(command, env=env, cwd=REPO_ROOT, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}/v1"
    headers = {"X-API-Key": "key-alice"}

    def ready() -> bool:
        try:
            return requests.get(f"{url}/readyz", timeout=2).status_code == 200
        except requests.RequestException:
            return False

    def hits(word: str) -> list[str]:
        body = {"query": word, "size": 5}
        answer = requests.post(f"{url}/search", json=body, headers=headers, timeout=10)
        answer.raise_for_status()
        return [hit["id"] for hit in answer.json()["hits"]]

    try:
        wait_until(ready, timeout=120, what="the server")
        time.sleep(2)  # the watcher's catch-up scan runs beside the server's loading
        (lab / "after.txt").write_text("zebrafish morpholino knockdown written later")
        wait_until(
            lambda: f"file://{lab}/after.txt" in hits("zebrafish morpholino"),
            timeout=60,
            what="the new file in the API's answers",
            every=0.6,  # within the API's 120 searches a minute per user
        )
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)


def test_a_backlog_of_changed_keys_is_read_from_one_listing(settings, embedder, moto_s3, s3_bucket):
    """Many keys at once (events queued while the watcher was down) are read through a listing
    of their common prefix instead of a HEAD each, with the same outcome."""
    from indexer.pipeline import Indexer
    from indexer.sources.files import HEAD_EACH_UP_TO

    s3 = moto_s3.client()
    source = f"s3://{s3_bucket}/runs/"
    keys = [f"runs/run-{n:03d}.txt" for n in range(HEAD_EACH_UP_TO + 10)]
    for key in keys:
        put(s3, s3_bucket, key, f"first text of {key}")
    store = open_store(settings, embedder.dimension)
    indexer = Indexer(settings, store, embedder, progress=None)
    try:
        assert indexer.index(source).added == len(keys)
        for key in keys[:5]:
            s3.delete_object(Bucket=s3_bucket, Key=key)
        newest = {key: put(s3, s3_bucket, key, f"second text of {key}") for key in keys[5:10]}
        report = indexer.refresh(source, [*keys, "runs/never-existed.txt", "elsewhere/x.txt"])
        assert (report.added, report.updated, report.deleted, report.failed) == (0, 5, 5, 0)
        assert report.unchanged == len(keys) - 10
        for key in keys[:5]:
            assert store.get(f"s3://{s3_bucket}/{key}", OPERATOR) is None
        for key, version in newest.items():
            assert store.get(f"s3://{s3_bucket}/{key}", OPERATOR).provenance.version_id == version
    finally:
        indexer.close()
        store.close()


def test_a_package_built_into_a_local_registry_is_found(settings, embedder, tmp_path):
    """`quilt+file://`: a push writes a pointer under .quilt/named_packages; the watcher reads
    that package, and only it, again."""
    import quilt3

    registry = tmp_path / "registry"

    def build(name: str, text: str) -> str:
        data = tmp_path / f"{name.replace('/', '-')}-{uuid.uuid4().hex[:6]}"
        data.mkdir()
        (data / "README.md").write_text(f"# {name}\n{text}\n")
        package = quilt3.Package().set_dir(".", str(data))
        return package.build(name, registry=registry.as_uri())  # the top hash

    build("lab-a/liver", "liver RNA-seq, first version")
    source = f"quilt+{registry.as_uri()}"
    with watching(settings, embedder, [source]) as run:
        liver = f"quilt:{registry.as_uri()}#lab-a/liver"
        assert run.asset(liver) is not None
        top_hash = build("lab-a/liver", "liver RNA-seq, second version")
        wait_until(lambda: run.asset(liver).provenance.top_hash == top_hash, what="the new hash")
        build("lab-b/kidney", "a new package, kidney ATAC-seq")
        kidney = f"quilt:{registry.as_uri()}#lab-b/kidney"
        wait_until(lambda: run.asset(kidney) is not None, what="the new package")


def test_elabftw_changes_arrive_by_polling(settings, embedder, elab):
    from pydantic import SecretStr

    uri, state = elab
    configured = settings.model_copy(update={"elabftw_api_key": SecretStr(API_KEY)})
    with watching(configured, embedder, [uri], poll_seconds=0.2) as run:
        experiment = run.asset(f"elabftw:{uri.split('://')[1]}:experiments:1")
        assert experiment is not None and "Renamed" not in experiment.title
        state.entities["experiments"][0]["title"] = "Renamed: liver RNA-seq, batch 2"
        state.entities["experiments"][0]["modified_at"] = "2026-11-30 12:00:00"
        wait_until(
            lambda: run.asset(experiment.id).title.startswith("Renamed"),
            what="the edited entry",
        )
