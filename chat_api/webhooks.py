"""Signed webhooks (POST /v1/webhooks/{name}): verify the Standard Webhooks signature, refuse
stale or replayed messages, and turn the payload into records for the ingest path.

Verification is the `standardwebhooks` library: HMAC-SHA256 over `{webhook-id}.{timestamp}.{body}`
with the sender's `whsec_` secret, timestamps within 5 minutes. A message id seen before within
that window is a retry or a replay: it is acknowledged (so the sender stops) and not processed
again. Payloads are `{"upsert": [...], "delete": [...]}` (format "records") or an eLabFTW entity
(format "elabftw", see `elabftw_records`).
"""

from __future__ import annotations

import binascii
import json
import threading
import time
from collections import OrderedDict
from typing import Any

from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from labsearch.errors import AuthError, InvalidRequestError, NotFoundError
from labsearch.settings import Settings, WebhookConfig

TOLERANCE_SECONDS = 5 * 60  # the library's window; ids are remembered this long


class SeenIds:
    """Message ids verified in the last `window` seconds, bounded in memory."""

    def __init__(self, window: float = 2 * TOLERANCE_SECONDS, limit: int = 100_000) -> None:
        self.window = window
        self.limit = limit
        self._seen: OrderedDict[str, float] = OrderedDict()
        self._lock = threading.Lock()

    def seen(self, key: str) -> bool:
        now = time.monotonic()
        with self._lock:
            while self._seen and (
                len(self._seen) > self.limit or now - next(iter(self._seen.values())) > self.window
            ):
                self._seen.popitem(last=False)
            return key in self._seen

    def add(self, key: str) -> None:
        """Remember a message once it was processed (a failed one may be sent again)."""
        with self._lock:
            self._seen[key] = time.monotonic()


def sender(settings: Settings, name: str) -> WebhookConfig:
    config = settings.webhooks.get(name)
    if config is None:
        raise NotFoundError(f"no webhook named {name!r} is configured (settings `webhooks`)")
    return config


def verify(config: WebhookConfig, body: bytes, headers: dict[str, str]) -> Any:
    """The parsed payload of a correctly signed, fresh message; AuthError otherwise."""
    try:
        hook = Webhook(config.secret.get_secret_value())
    except (binascii.Error, ValueError) as exc:
        raise AuthError("the webhook's configured secret is not whsec_<base64>") from exc
    try:
        return hook.verify(body, headers)
    except WebhookVerificationError as exc:
        raise AuthError(f"webhook signature refused: {exc}") from exc
    except (ValueError, binascii.Error, UnicodeDecodeError) as exc:  # malformed headers or body
        raise AuthError(f"webhook signature refused: malformed signature or body ({exc})") from exc


def records_of(config: WebhookConfig, payload: Any) -> tuple[list[dict[str, Any]], list[str]]:
    """(records to upsert, ids to delete) from a verified payload."""
    if config.format == "elabftw":
        return elabftw_records(payload)
    if not isinstance(payload, dict):
        raise InvalidRequestError('a records webhook sends {"upsert": [...], "delete": [...]}')
    upsert, delete = payload.get("upsert", []), payload.get("delete", [])
    if not isinstance(upsert, list) or not isinstance(delete, list):
        raise InvalidRequestError('"upsert" and "delete" must be lists')
    return upsert, [str(d) for d in delete]


def elabftw_records(payload: Any) -> tuple[list[dict[str, Any]], list[str]]:
    """An eLabFTW entity as its API v2 returns it, wrapped as `{"event": "create"|"update"|
    "delete", "entity_type": "experiments"|"items", "entity": {...}}`, as one ELN record
    (id `{entity_type}-{id}`)."""
    from indexer.sources.elabftw import html_to_text

    if not isinstance(payload, dict) or not isinstance(payload.get("entity"), dict):
        raise InvalidRequestError(
            'an eLabFTW webhook sends {"event": ..., "entity_type": ..., "entity": {...}}'
        )
    kind = payload.get("entity_type", "experiments")
    entity = payload["entity"]
    if kind not in ("experiments", "items") or "id" not in entity:
        raise InvalidRequestError("entity_type must be experiments or items, and entity needs id")
    record_id = f"{kind}-{entity['id']}"
    if payload.get("event") == "delete":
        return [], [record_id]
    metadata = entity.get("metadata")
    if isinstance(metadata, str):
        try:
            metadata = json.loads(metadata)
        except ValueError:
            metadata = {}
    fields = (metadata or {}).get("extra_fields", {}) if isinstance(metadata, dict) else {}
    record: dict[str, Any] = {
        "id": record_id,
        "type": "experiment" if kind == "experiments" else "sample",
        "title": entity.get("title") or record_id,
        "description": html_to_text(entity.get("body") or ""),
        "author": entity.get("fullname"),
        "created": (entity.get("created_at") or "").replace(" ", "T") or None,
        "modified": (entity.get("modified_at") or "").replace(" ", "T") or None,
        "tags": [t for t in str(entity.get("tags") or "").split("|") if t],
        "metadata": {
            name: field.get("value") for name, field in fields.items() if isinstance(field, dict)
        },
    }
    if entity.get("category_title"):
        record["metadata"]["category"] = entity["category_title"]
    return [{k: v for k, v in record.items() if v not in (None, "", [])}], []
