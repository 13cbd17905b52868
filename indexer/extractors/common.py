"""Small helpers the format extractors share: human-readable numbers and lists."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterable, Iterator
from typing import Any


class _Collect(logging.Handler):
    def __init__(self, level: int) -> None:
        super().__init__(level)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


@contextlib.contextmanager
def quiet_logger(name: str, collect_level: int = logging.ERROR) -> Iterator[list[str]]:
    """Keep a library's own logging of file damage off the console while we read, and collect
    its messages at `collect_level` and above: the damage is reported once, in
    Summary.errors, instead of as stray lines during indexing."""
    logger = logging.getLogger(name)
    handler = _Collect(collect_level)
    previous = logger.propagate
    logger.addHandler(handler)
    logger.propagate = False
    try:
        yield handler.messages
    finally:
        logger.removeHandler(handler)
        logger.propagate = previous


def human_size(n: float) -> str:
    for unit in ("bytes", "KB", "MB", "GB", "TB"):
        if n < 1000 or unit == "TB":
            return f"{n:.0f} {unit}" if unit == "bytes" else f"{n:.1f} {unit}"
        n /= 1000
    return f"{n:.1f} TB"


def human_bases(n: int) -> str:
    for unit, size in (("Gb", 1e9), ("Mb", 1e6), ("kb", 1e3)):
        if n >= size:
            return f"{n / size:.1f} {unit}"
    return f"{n} bp"


def listing(items: Iterable[Any], limit: int = 10) -> str:
    """'a, b, c' or 'a, b, c and 7 more'."""
    values = [str(item) for item in items]
    shown = ", ".join(values[:limit])
    return shown + (f" and {len(values) - limit} more" if len(values) > limit else "")


def plural(n: int, word: str, many: str | None = None) -> str:
    return f"{n:,} {word if n == 1 else many or word + 's'}"
