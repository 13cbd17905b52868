"""Audit log: one JSON line per question, saying who asked what, what came back, and when."""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any


class AuditLog:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()

    def record(
        self,
        *,
        user: str | None,
        action: str,
        question: str | None = None,
        returned: list[str] | None = None,
        cited: list[str] | None = None,
        **extra: Any,
    ) -> None:
        entry = {
            "time": datetime.now(UTC).isoformat(),
            "user": user,
            "action": action,
            "question": question,
            "returned": returned or [],
            "cited": cited or [],
            **extra,
        }
        line = json.dumps(entry, ensure_ascii=False, default=str)
        # One write per line under a lock, so concurrent requests never interleave lines.
        with self._lock:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self.path.open("a", encoding="utf-8") as handle:
                handle.write(line + "\n")
