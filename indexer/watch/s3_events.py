"""S3 event notifications as they arrive in an SQS message, in the shapes AWS delivers them.

- S3 -> SQS (or S3 -> SNS -> SQS, wrapped in an SNS envelope): `{"Records": [...]}` with
  `s3.bucket.name` and `s3.object.key` (URL-encoded, `+` for spaces).
- S3 -> EventBridge -> SQS: one event with `"source": "aws.s3"` and `detail.bucket.name`,
  `detail.object.key`.
- The `s3:TestEvent` S3 sends when a notification is configured: nothing to do.

An event is only a hint that something under a key changed; the watcher reads the key's current
state, so the event's version id and kind are not trusted (a late event for an old version, or a
created event for an object deleted since, must not restore what is gone).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, unquote_plus


class PoisonMessage(ValueError):
    """A message that can never be processed (not JSON, not an S3 event): it goes to the dead
    letters with this reason and is removed from the queue."""


@dataclass(frozen=True)
class ObjectEvent:
    bucket: str
    keys: tuple[str, ...]  # the key, decoded; the raw form too when decoding changed it


def object_events(body: str) -> list[ObjectEvent]:
    """The objects an SQS message body says changed; raises PoisonMessage."""
    document = _json(body, "the message body")
    if isinstance(document, dict) and document.get("Type") == "Notification":
        document = _json(document.get("Message"), "the SNS notification's Message")
    if not isinstance(document, dict):
        raise PoisonMessage(f"expected a JSON object, got {type(document).__name__}")
    if document.get("Event") == "s3:TestEvent":
        return []
    if "Records" in document:
        return [_record(record, at) for at, record in enumerate(_list(document["Records"]))]
    if document.get("source") == "aws.s3" and "detail" in document:
        return [_eventbridge(document["detail"])]
    raise PoisonMessage(
        "neither an S3 event notification (Records) nor an EventBridge S3 event "
        f"(source aws.s3); keys: {sorted(document)[:8]}"
    )


def _json(text: Any, what: str) -> Any:
    if not isinstance(text, str):
        raise PoisonMessage(f"{what} is not a string")
    try:
        return json.loads(text)
    except ValueError as exc:
        raise PoisonMessage(f"{what} is not JSON: {exc}") from exc


def _list(value: Any) -> list[Any]:
    if not isinstance(value, list):
        raise PoisonMessage(f"Records is {type(value).__name__}, not a list")
    return value


def _record(record: Any, at: int) -> ObjectEvent:
    try:
        bucket = record["s3"]["bucket"]["name"]
        key = record["s3"]["object"]["key"]
    except (KeyError, TypeError) as exc:
        raise PoisonMessage(f"Records[{at}] has no s3.bucket.name / s3.object.key") from exc
    if record.get("eventSource") not in (None, "aws:s3"):
        raise PoisonMessage(f"Records[{at}] comes from {record.get('eventSource')!r}, not S3")
    return _event(bucket, key, unquote_plus(key) if isinstance(key, str) else key)


def _eventbridge(detail: Any) -> ObjectEvent:
    try:
        bucket = detail["bucket"]["name"]
        key = detail["object"]["key"]
    except (KeyError, TypeError) as exc:
        raise PoisonMessage("the EventBridge event has no detail.bucket.name / object.key") from exc
    # EventBridge documents the key as given; some deliveries still percent-encode it.
    return _event(bucket, key, unquote(key) if isinstance(key, str) else key)


def _event(bucket: Any, raw: Any, decoded: Any) -> ObjectEvent:
    if not isinstance(bucket, str) or not bucket or not isinstance(raw, str) or not raw:
        raise PoisonMessage(f"bucket {bucket!r} / key {raw!r} must be non-empty strings")
    return ObjectEvent(bucket, tuple(dict.fromkeys([decoded, raw])))
