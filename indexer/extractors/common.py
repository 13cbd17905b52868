"""Small helpers the format extractors share: human-readable numbers and lists."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any


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
