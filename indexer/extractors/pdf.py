"""PDF via pypdf: document info, page count, and the text, chunked by tokens."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from indexer.extractors import chunking
from indexer.extractors.base import Summary
from indexer.extractors.common import plural, quiet_logger
from labsearch import identifiers

MAX_PAGES = 100  # text is read from the first pages only; long theses need no more to be found
INFO_FIELDS = {
    "/Title": "title",
    "/Author": "author",
    "/Subject": "subject",
    "/Keywords": "keywords",
}


def summarize(path: Path) -> Summary:
    summary = Summary(format="pdf")
    with quiet_logger("pypdf"):
        return _summarize(path, summary)


def _summarize(path: Path, summary: Summary) -> Summary:
    from pypdf import PdfReader
    from pypdf.errors import PyPdfError

    try:
        reader = PdfReader(path)
        if reader.is_encrypted and not reader.decrypt(""):
            summary.errors.append(
                f"encrypted PDF: {path.name} needs a password; only its name is indexed"
            )
            summary.text = f"PDF document {path.name} (encrypted)"
            return summary
        pages = len(reader.pages)
        info = reader.metadata or {}
    except (PyPdfError, OSError, ValueError, KeyError) as exc:
        summary.errors.append(
            f"unreadable PDF: {path.name}: {type(exc).__name__}: {exc}; the file is damaged or "
            "not a PDF"
        )
        summary.text = f"PDF document {path.name} (unreadable)"
        return summary
    metadata: dict[str, Any] = {"pages": pages}
    for key, name in INFO_FIELDS.items():
        value = info.get(key)
        if value and str(value).strip():
            metadata[name] = str(value).strip()
    texts = []
    for number in range(min(pages, MAX_PAGES)):
        try:
            texts.append(reader.pages[number].extract_text() or "")
        except Exception as exc:  # pypdf raises many types on odd content streams
            summary.errors.append(f"page {number + 1} of {path.name}: no text ({exc})")
    full = "\n\n".join(text.strip() for text in texts if text.strip())
    metadata["text_truncated"] = pages > MAX_PAGES
    if not full:
        summary.errors.append(
            f"no extractable text in {path.name} (a scanned image PDF?); only its metadata is "
            "indexed — run OCR on it to make its text searchable"
        )
    summary.metadata = metadata
    summary.chunks = chunking.chunk_text(full)
    summary.identifiers = identifiers.from_text(full)
    title = metadata.get("title") or path.name
    summary.text = f"PDF document '{title}' ({plural(pages, 'page')})."
    if full:
        summary.text += "\n" + chunking.head(full)
    return summary
