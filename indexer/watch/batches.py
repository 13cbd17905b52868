"""What feeds hand the watch loop, and where messages that can never be processed go."""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from indexer.watch.routing import Changes


def _ignore(ok: bool, reason: str) -> None:
    """Feeds with nothing to acknowledge (file events, polls): a failed change is retried by the
    next event or the next catch-up scan."""


@dataclass
class Batch:
    """Changes from one feed message (an SQS message, a burst of file events, a poll).
    `settle(ok, reason)` is called once, after the changes were written (ok) or failed."""

    changes: Changes
    origin: str
    settle: Callable[[bool, str], None] = field(default=_ignore)


class DeadLetters:
    """Messages that can never be processed, one JSON line each with the reason, fsynced: the
    queue goes on without them and an operator can read (or replay) them."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()

    def add(self, origin: str, message_id: str, body: Any, reason: str) -> None:
        line = json.dumps(
            {
                "at": datetime.now(UTC).isoformat(),
                "origin": origin,
                "message_id": message_id,
                "reason": reason,
                "body": body,
            },
            ensure_ascii=False,
        )
        with self._lock:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self.path.open("a", encoding="utf-8") as out:
                out.write(line + "\n")
                out.flush()
                os.fsync(out.fileno())

    def read(self) -> list[dict[str, Any]]:
        if not self.path.exists():
            return []
        return [json.loads(line) for line in self.path.read_text().splitlines() if line]
