"""Markdown and plain text: UTF-8 (invalid bytes replaced and reported), title and headings,
the text chunked by tokens."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from indexer.extractors import chunking, sniff
from indexer.extractors.base import Summary
from indexer.extractors.reading import GZIP_ERRORS, decode_text, gzip_error, read_capped
from labsearch import identifiers

HEADING = re.compile(r"^(#{1,6})\s+(.+?)\s*#*\s*$", re.MULTILINE)


def summarize(path: Path) -> Summary:
    fmt = "markdown" if sniff.format_from_name(path.name) == "markdown" else "text"
    summary = Summary(format=fmt)
    try:
        data, truncated = read_capped(path)
    except GZIP_ERRORS as exc:
        summary.errors.append(gzip_error(path, exc))
        summary.text = f"{fmt} file {path.name} (unreadable)"
        return summary
    content, errors = decode_text(data, path, truncated=truncated)
    summary.errors += errors
    metadata: dict[str, Any] = {
        "lines": content.count("\n") + (not content.endswith("\n") and bool(content)),
        "characters": len(content),
        "truncated": truncated,
    }
    headings = [match.group(2) for match in HEADING.finditer(content)] if fmt == "markdown" else []
    first_line = next((line.strip() for line in content.splitlines() if line.strip()), "")
    title = headings[0] if headings else first_line[:120]
    if title:
        metadata["title"] = title
    if headings:
        metadata["headings"] = headings[:30]
    if not content.strip():
        summary.errors.append(f"no text in {path.name}: it holds only whitespace")
    summary.metadata = metadata
    summary.chunks = chunking.chunk_text(content)
    summary.identifiers = identifiers.from_text(content)
    kind = "Markdown document" if fmt == "markdown" else "Text file"
    summary.text = f"{kind} {path.name}" + (f": {title}" if title else "") + "."
    if content.strip():
        summary.text += "\n" + chunking.head(content)
    return summary
