"""What an extractor returns: a short, searchable description of a file's content."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class Summary:
    """A content summary. `text` is embedded and full-text indexed; `metadata` is filterable.

    Extractors never raise on bad content: they return what they could read and say why the
    rest failed in `errors`, so an unreadable file still becomes an asset (name, size, type).
    """

    format: str  # e.g. "fastq", "bam", "vcf", "csv", "parquet", "pdf", "unknown"
    text: str = ""
    metadata: dict[str, Any] = field(default_factory=dict)
    identifiers: list[str] = field(default_factory=list)
    chunks: list[str] = field(default_factory=list)  # long documents: token-sized passages
    errors: list[str] = field(default_factory=list)
