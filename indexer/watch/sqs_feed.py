"""S3 events from an SQS queue.

A message is deleted only after the changes it named were written (the watch loop settles its
batch); a message whose changes failed comes back after its visibility timeout, and after
`max_receives` deliveries it goes to the dead letters with the last reason. A message that can
never be processed (not JSON, not an S3 event) goes there at once. Nothing blocks the queue.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable
from typing import Any

from indexer.watch.batches import Batch, DeadLetters
from indexer.watch.routing import Changes, for_s3_event, merge
from indexer.watch.s3_events import PoisonMessage, object_events

log = logging.getLogger(__name__)


class SqsFeed:
    def __init__(
        self,
        queue_url: str,
        sources: Iterable[str],
        put: Callable[[Batch], None],
        dead_letters: DeadLetters,
        *,
        wait_seconds: int = 1,
        max_receives: int = 5,
        retry_after_seconds: int = 5,
        region: str | None = None,
    ) -> None:
        self.queue_url = queue_url
        self.sources = list(sources)
        self.put = put
        self.dead_letters = dead_letters
        self.wait_seconds = wait_seconds
        self.max_receives = max_receives
        self.retry_after_seconds = retry_after_seconds
        self.region = region
        self._client: Any = None
        self.ready = threading.Event()

    @property
    def client(self) -> Any:
        if self._client is None:
            import boto3

            session = boto3.session.Session()
            self._client = session.client("sqs", region_name=session.region_name or self.region)
        return self._client

    def run(self, stop: threading.Event) -> None:
        """Receive until `stop` is set; a failing receive (queue unreachable) is logged and
        retried, so a network blip does not end the watcher."""
        self.ready.set()
        while not stop.is_set():
            try:
                self.receive_once()
            except Exception as exc:  # botocore raises many types; all mean "try again"
                log.warning("receiving from %s failed: %s; retrying", self.queue_url, exc)
                stop.wait(self.retry_after_seconds)

    def receive_once(self) -> int:
        """One long poll; returns how many messages arrived."""
        answer = self.client.receive_message(
            QueueUrl=self.queue_url,
            MaxNumberOfMessages=10,
            WaitTimeSeconds=self.wait_seconds,
            MessageSystemAttributeNames=["ApproximateReceiveCount"],
        )
        messages = answer.get("Messages", [])
        for message in messages:
            self._message(message)
        return len(messages)

    def _message(self, message: dict[str, Any]) -> None:
        try:
            events = object_events(message.get("Body", ""))
        except PoisonMessage as poison:
            self._dead(message, f"poison message: {poison}")
            return
        changes: Changes = {}
        for event in events:
            merge(changes, for_s3_event(self.sources, event))
        if not changes:  # a test event, or objects no watched source covers
            self._delete(message)
            return
        self.put(
            Batch(changes, self.queue_url, lambda ok, reason: self._settle(message, ok, reason))
        )

    def _settle(self, message: dict[str, Any], ok: bool, reason: str) -> None:
        if ok:
            self._delete(message)
            return
        received = int(message.get("Attributes", {}).get("ApproximateReceiveCount", "1"))
        if received >= self.max_receives:
            self._dead(message, f"failed {received} times; last: {reason}")
            return
        try:  # back off: the message returns after a while, not at once
            self.client.change_message_visibility(
                QueueUrl=self.queue_url,
                ReceiptHandle=message["ReceiptHandle"],
                VisibilityTimeout=self.retry_after_seconds * received,
            )
        except Exception as exc:
            log.warning("cannot delay message %s: %s", message.get("MessageId"), exc)

    def _dead(self, message: dict[str, Any], reason: str) -> None:
        log.warning("dead letter %s from %s: %s", message.get("MessageId"), self.queue_url, reason)
        self.dead_letters.add(
            self.queue_url, message.get("MessageId", ""), message.get("Body"), reason
        )
        self._delete(message)

    def _delete(self, message: dict[str, Any]) -> None:
        try:
            self.client.delete_message(
                QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"]
            )
        except Exception as exc:  # it comes back and is processed again: harmless, events are hints
            log.warning("cannot delete message %s: %s", message.get("MessageId"), exc)
