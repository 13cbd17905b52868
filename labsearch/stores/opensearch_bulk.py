"""Bulk writes that retry what can succeed later and report what never will.

opensearch-py's `helpers.streaming_bulk` retries only per-document 429s; a node restarting
mid-run answers 502/503 or drops the connection, which must be retried too, and whatever still
fails must be raised with the ids involved (nothing silently dropped). Every action carries the
asset id as `_id`, so sending a batch twice is harmless (idempotent).
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np
import orjson
from opensearchpy import exceptions as os_errors

from labsearch.errors import LabsearchError, StoreUnavailableError
from labsearch.stores.opensearch_client import RETRYABLE_STATUS

log = logging.getLogger(__name__)

# What run_bulk reads of a bulk response; the rest (shards, versions) is left on the node.
RESPONSE_FIELDS = "items.*._id,items.*.status,items.*.result,items.*.error"


class BulkWriteError(LabsearchError):
    """Some documents were rejected for good (e.g. a value the mapping cannot take)."""

    status = 500

    def __init__(self, index: str, failures: dict[str, str]) -> None:
        self.failures = failures
        shown = "; ".join(f"{doc_id}: {reason}" for doc_id, reason in list(failures.items())[:5])
        more = f" (and {len(failures) - 5} more)" if len(failures) > 5 else ""
        super().__init__(
            f"OpenSearch index {index!r} rejected {len(failures)} document(s): {shown}{more}. "
            "Fix the source records (or report a mapping bug) and index again."
        )


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 6  # tries per batch, the first included
    initial_backoff: float = 0.5  # seconds, doubled after each failed try
    max_backoff: float = 8.0
    sleep: Callable[[float], None] = field(default=time.sleep, compare=False)

    def delays(self) -> list[float]:
        return [
            min(self.initial_backoff * 2**attempt, self.max_backoff)
            for attempt in range(self.attempts - 1)
        ]


@dataclass(frozen=True)
class Action:
    """One bulk action: `index` or `create` (with its document) or `delete`.

    `if_seq` = (seq_no, primary_term) makes it conditional: it applies only if the stored
    document is still that version. A conditional action (or a `create`) that finds another
    version ends as `conflict`, not as a failure: someone wrote the id in between, and what
    they wrote is newer (opensearch_rebuild.py replays writes that way)."""

    op: str
    doc_id: str
    document: dict[str, Any] | None = None
    if_seq: tuple[int, int] | None = None

    def encoded(self, index: str) -> bytes:
        """The action's lines of a bulk body, each ending in a newline."""
        meta: dict[str, Any] = {"_index": index, "_id": self.doc_id}
        if self.if_seq is not None:
            meta["if_seq_no"], meta["if_primary_term"] = self.if_seq
        head = orjson.dumps({self.op: meta}) + b"\n"
        return head if self.document is None else head + self._source

    @cached_property
    def _source(self) -> bytes:
        """The document's line, encoded once (a batch is sized, then sent, maybe retried)."""
        return encode_document(self.document) + b"\n"


def encode_document(document: Any) -> bytes:
    """JSON of a document as UTF-8. A vector may be a float32 numpy array: it is written with
    the shortest digits that read back as the same float32 (half the bytes of float64 text)."""
    try:
        return orjson.dumps(document, option=orjson.OPT_SERIALIZE_NUMPY)
    except orjson.JSONEncodeError:
        # What orjson refuses and json takes: integers beyond 64 bits in source metadata.
        return json.dumps(document, ensure_ascii=False, default=_plain).encode()


def _plain(value: Any) -> Any:
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError(f"cannot write {type(value).__name__} to OpenSearch")


def batches(actions: Sequence[Action], max_docs: int, max_bytes: int) -> list[list[Action]]:
    """Split actions into bulk requests of at most `max_docs` actions and about `max_bytes`."""
    out: list[list[Action]] = []
    current: list[Action] = []
    size = 0
    for action in actions:
        action_size = len(action.encoded("x"))
        if current and (len(current) >= max_docs or size + action_size > max_bytes):
            out.append(current)
            current, size = [], 0
        current.append(action)
        size += action_size
    if current:
        out.append(current)
    return out


def run_bulk(
    client: Any,
    index: str,
    actions: Sequence[Action],
    *,
    policy: RetryPolicy,
    url: str,
    require_alias: bool = False,
) -> dict[str, str]:
    """Send one batch until every action succeeded or failed for good.

    Returns each action's final result (`created`, `updated`, `deleted`, `not_found`,
    `conflict`). With `require_alias`, `index` must be an alias (a missing one fails each
    action instead of auto-creating an index by that name). Raises
    StoreUnavailableError when the cluster stays unreachable or overloaded through every retry,
    and BulkWriteError for documents the cluster rejected for good.
    """
    pending = {action.doc_id: action for action in actions}
    results: dict[str, str] = {}
    failures: dict[str, str] = {}
    delays = policy.delays()
    last_problem = ""
    for attempt in range(policy.attempts):
        body = b"".join(action.encoded(index) for action in pending.values())
        params = {"filter_path": RESPONSE_FIELDS}
        if require_alias:
            params["require_alias"] = "true"
        try:
            response = client.bulk(body=body, params=params)
        except (os_errors.ConnectionError, os_errors.ConnectionTimeout) as exc:
            last_problem = f"cannot reach {url}: {exc.__class__.__name__}: {exc}"
        except os_errors.TransportError as exc:
            if _status(exc) not in RETRYABLE_STATUS:
                raise LabsearchError(
                    f"OpenSearch at {url} refused a bulk request to {index!r}: {exc}"
                ) from exc
            last_problem = f"OpenSearch at {url} answered {_status(exc)}: {exc}"
        else:
            retry: dict[str, Action] = {}
            for item in response.get("items", []):
                ((op, outcome),) = item.items()
                doc_id = outcome.get("_id")
                status = int(outcome.get("status", 500))
                if doc_id not in pending:
                    continue
                if "error" not in outcome or (op == "delete" and status == 404):
                    results[doc_id] = outcome.get("result", "")
                elif status == 409 and (op == "create" or pending[doc_id].if_seq is not None):
                    results[doc_id] = "conflict"
                elif status in RETRYABLE_STATUS:
                    retry[doc_id] = pending[doc_id]
                    last_problem = f"{doc_id}: {status} {_reason(outcome['error'])}"
                else:
                    failures[doc_id] = f"{status} {_reason(outcome['error'])}"
            missing = set(pending) - set(results) - set(failures) - set(retry)
            for doc_id in missing:  # an answer without an item for a sent action: try again
                retry[doc_id] = pending[doc_id]
            pending = retry
            if not pending:
                break
        if attempt < len(delays):
            log.warning(
                "bulk write to %s: %s; %d action(s) retried in %.1fs (try %d of %d)",
                index,
                last_problem,
                len(pending),
                delays[attempt],
                attempt + 2,
                policy.attempts,
            )
            policy.sleep(delays[attempt])
    if pending:
        raise StoreUnavailableError(
            f"gave up writing {len(pending)} document(s) to OpenSearch index {index!r} after "
            f"{policy.attempts} tries ({last_problem}). Nothing is lost: check the node "
            "(scripts/opensearch-node status) and run the same `labsearch index` again; it "
            "resumes from what was written."
        )
    if failures:
        raise BulkWriteError(index, failures)
    return results


def _status(exc: os_errors.TransportError) -> int | None:
    status = exc.status_code
    return status if isinstance(status, int) else None


def _reason(error: Any) -> str:
    if isinstance(error, dict):
        reason = error.get("reason") or error.get("type") or json.dumps(error)
        cause = error.get("caused_by")
        if isinstance(cause, dict) and cause.get("reason"):
            reason = f"{reason} ({cause['reason']})"
        return str(reason)
    return str(error)
