"""Reading file content safely: a size cap, transparent gzip, UTF-8 with a clear error.

Every extractor reads through here so that a 50 GB file costs at most MAX_CONTENT_BYTES, and a
damaged gzip or a non-UTF-8 byte becomes a message in `Summary.errors` instead of an exception.
"""

from __future__ import annotations

import gzip
import zlib
from pathlib import Path
from typing import BinaryIO

# Content read from one file, at most (decompressed bytes for gzip). Larger files are summarized
# from their beginning and say so (`truncated`/`..._estimated` metadata).
MAX_CONTENT_BYTES = 32 * 1024 * 1024

GZIP_MAGIC = b"\x1f\x8b"

# What a damaged gzip stream raises: bad header (BadGzipFile), bad deflate data (zlib.error),
# stream cut short (EOFError).
GZIP_ERRORS = (gzip.BadGzipFile, zlib.error, EOFError)


def head_bytes(path: Path, n: int = 512) -> bytes:
    with path.open("rb") as handle:
        return handle.read(n)


def is_gzip(path: Path) -> bool:
    return head_bytes(path, 2) == GZIP_MAGIC


def open_binary(path: Path) -> tuple[BinaryIO, BinaryIO]:
    """(content stream, raw file). The raw file's tell() is how far into the file we are, which
    lets callers estimate totals from a sample even when the content is compressed."""
    raw = path.open("rb")
    if raw.read(2) == GZIP_MAGIC:
        raw.seek(0)
        return gzip.GzipFile(fileobj=raw, mode="rb"), raw  # type: ignore[return-value]
    raw.seek(0)
    return raw, raw


def read_capped(path: Path, limit: int = MAX_CONTENT_BYTES) -> tuple[bytes, bool]:
    """Up to `limit` content bytes and whether there was more. Raises GZIP_ERRORS/OSError."""
    stream, raw = open_binary(path)
    try:
        data = stream.read(limit + 1)
    finally:
        stream.close()
        raw.close()
    return data[:limit], len(data) > limit


def gzip_error(path: Path, exc: BaseException) -> str:
    if isinstance(exc, EOFError):
        return (
            f"truncated gzip: {path.name} ends before the end of its compressed stream "
            "(an interrupted copy or upload?); copy it again from its source"
        )
    return (
        f"corrupt gzip: {path.name} cannot be decompressed ({exc}); the file is damaged or not "
        "really gzip — copy it again or re-compress the original"
    )


def decode_text(data: bytes, path: Path, *, truncated: bool = False) -> tuple[str, list[str]]:
    """UTF-8 text (BOM stripped). Invalid bytes are replaced and reported, so the content is
    still indexed while the error says where the first bad byte is and how to fix the file."""
    try:
        return data.decode("utf-8-sig"), []
    except UnicodeDecodeError as exc:
        # A cap can cut a multi-byte character in half: that is not the file's fault.
        if truncated and exc.start >= len(data) - 3 and exc.reason == "unexpected end of data":
            return data[: exc.start].decode("utf-8-sig"), []
        bad = sum(1 for ch in data.decode("utf-8-sig", errors="replace") if ch == "\ufffd")
        line = data.count(b"\n", 0, exc.start) + 1
        message = (
            f"invalid UTF-8 in {path.name}: byte 0x{data[exc.start]:02x} at offset {exc.start} "
            f"(line {line}), {bad} undecodable byte(s) replaced with U+FFFD; re-save the file as "
            "UTF-8 to index its exact text"
        )
        return data.decode("utf-8-sig", errors="replace"), [message]
