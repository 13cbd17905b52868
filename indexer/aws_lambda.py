"""AWS Lambda: S3 event notifications from an SQS event source mapping, written to the index.

S3 -> SQS -> this handler -> OpenSearch (docs/aws-lambda.md; deploy/aws/template.yaml). The
mapping must set `FunctionResponseTypes: [ReportBatchItemFailures]`: the handler returns the
messages whose changes failed, so SQS retries only those (and the queue's redrive policy moves
them to its dead-letter queue after maxReceiveCount deliveries); the rest are deleted.

- Each record's body is parsed and routed exactly as `labsearch watch` does it
  (indexer/watch/s3_events.py, routing.py): the event is a hint and the key's current state
  is read, so duplicated, late or reordered deliveries can only re-read what is there now.
- The changes of a batch are merged per source and each source is refreshed once, under its
  source lock. A record fails when any source it touched failed.
- A message that can never be processed (PoisonMessage) is not retried: it goes to
  `LABSEARCH_LAMBDA_DEAD_LETTER_QUEUE` with the reason as a message attribute and counts as
  done. Without that queue it is logged and reported as failed, so the redrive policy moves it.
- The model and the store are opened once per container (on the first invocation) and reused
  by the following ones.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Mapping
from typing import Any

from indexer.locks import source_lock
from indexer.pipeline import Indexer
from indexer.watch.routing import Changes, for_s3_event, merge
from indexer.watch.s3_events import PoisonMessage, object_events
from labsearch.embeddings import Embedder
from labsearch.errors import ConfigError
from labsearch.settings import Settings
from labsearch.stores import open_store

log = logging.getLogger(__name__)
log.setLevel(logging.INFO)  # the Lambda runtime's root logger is at WARNING

REASON_ATTRIBUTE = "labsearch-reason"
_MAX_REASON_CHARS = 4000


def _log(event: str, **fields: Any) -> None:
    """One JSON object per line: CloudWatch Logs Insights can filter on its fields."""
    level = logging.WARNING if event in ("poison_message", "source_failed") else logging.INFO
    log.log(level, json.dumps({"event": event, **fields}, default=str, ensure_ascii=False))


class Runtime:
    """What one Lambda container keeps between invocations: settings, model, store."""

    def __init__(self, settings: Settings, indexer: Indexer) -> None:
        self.settings = settings
        self.indexer = indexer
        self._sqs: Any = None

    @classmethod
    def open(cls, settings: Settings) -> Runtime:
        if not settings.lambda_sources:
            raise ConfigError(
                "LABSEARCH_LAMBDA_SOURCES is empty: set it to a JSON list of the sources this "
                'function keeps current, e.g. ["s3://lab-bucket/runs/"]'
            )
        embedder = Embedder.from_settings(settings)
        store = open_store(settings, embedder.dimension)
        return cls(settings, Indexer(settings, store, embedder, progress=None))

    def close(self) -> None:
        self.indexer.close()
        self.indexer.store.close()
        self.indexer.embedder.close()

    def handle(self, event: Mapping[str, Any]) -> dict[str, list[dict[str, str]]]:
        records = list(event.get("Records") or [])
        failed: set[str] = set()
        changes_of: dict[str, Changes] = {}
        for record in records:
            message_id = record.get("messageId", "")
            try:
                events = object_events(record.get("body", ""))
            except PoisonMessage as poison:
                if not self._dead_letter(record, f"poison message: {poison}"):
                    failed.add(message_id)
                continue
            changes: Changes = {}
            for object_event in events:
                merge(changes, for_s3_event(self.settings.lambda_sources, object_event))
            changes_of[message_id] = changes  # empty: a test event, or no source of ours

        merged: Changes = {}
        for changes in changes_of.values():
            merge(merged, changes)
        failed_sources = {uri for uri, keys in merged.items() if not self._write(uri, keys)}
        failed |= {m for m, changes in changes_of.items() if failed_sources & changes.keys()}
        return {
            "batchItemFailures": [
                {"itemIdentifier": record.get("messageId", "")}
                for record in records
                if record.get("messageId", "") in failed
            ]
        }

    def _write(self, uri: str, keys: set[str] | None) -> bool:
        """Refresh one source's changed part; False when it failed (its messages are retried)."""
        started = time.monotonic()
        try:
            with source_lock(self.settings.home, uri):
                if keys is None:
                    report = self.indexer.index(uri)
                else:
                    report = self.indexer.refresh(uri, sorted(keys))
        except Exception as error:  # a locked source, a store or S3 client error: retry later
            _log("source_failed", source=uri, reason=f"{type(error).__name__}: {error}")
            return False
        seconds = round(time.monotonic() - started, 3)
        if not report.ok:
            reason = "; ".join(report.errors[:3]) or "the source could not be read"
            _log("source_failed", source=uri, reason=reason, summary=report.summary())
            return False
        _log("source_written", source=uri, summary=report.summary(), seconds=seconds)
        return True

    def _dead_letter(self, record: Mapping[str, Any], reason: str) -> bool:
        """Send a poison message to the dead-letter queue with its reason; True when it got
        there (so it counts as done), False when it must be reported as failed."""
        message_id = record.get("messageId", "")
        queue = self.settings.lambda_dead_letter_queue
        _log(
            "poison_message",
            message_id=message_id,
            queue=record.get("eventSourceARN"),
            reason=reason,
            dead_letter_queue=queue,
        )
        if not queue:
            return False
        attributes = {
            REASON_ATTRIBUTE: reason[:_MAX_REASON_CHARS],
            "labsearch-message-id": message_id,
            "labsearch-source-queue": record.get("eventSourceARN") or "",
        }
        try:
            self.sqs.send_message(
                QueueUrl=queue,
                MessageBody=record.get("body") or "(empty body)",
                MessageAttributes={
                    name: {"DataType": "String", "StringValue": value}
                    for name, value in attributes.items()
                    if value
                },
            )
        except Exception as error:  # no permission, queue gone: the redrive policy is the net
            _log("dead_letter_failed", message_id=message_id, reason=str(error))
            return False
        return True

    @property
    def sqs(self) -> Any:
        if self._sqs is None:
            import boto3

            session = boto3.session.Session()
            region = session.region_name or self.settings.aws_region
            self._sqs = session.client("sqs", region_name=region)
        return self._sqs


_RUNTIME: Runtime | None = None


def runtime() -> Runtime:
    """This container's runtime, opened on first use from the environment (`LABSEARCH_*`)."""
    global _RUNTIME
    if _RUNTIME is None:
        _RUNTIME = Runtime.open(Settings())
    return _RUNTIME


def reset() -> None:
    """Close and forget this container's runtime (tests; a changed configuration)."""
    global _RUNTIME
    if _RUNTIME is not None:
        _RUNTIME.close()
        _RUNTIME = None


def handler(event: Mapping[str, Any], context: Any) -> dict[str, list[dict[str, str]]]:
    """The Lambda entry point (`indexer.aws_lambda.handler`) for an SQS event source mapping
    with ReportBatchItemFailures. An exception (the store unreachable at a cold start, a bad
    configuration) fails the whole batch; SQS delivers it again."""
    return runtime().handle(event)
