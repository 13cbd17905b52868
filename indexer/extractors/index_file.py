"""Index files that sit next to the data they index (.bai, .crai, .csi, .tbi, .fai): named for
what they index, not read — their bytes mean nothing to a person searching."""

from __future__ import annotations

from pathlib import Path

from indexer.extractors.base import Summary

KINDS = {
    ".bai": "BAM index",
    ".crai": "CRAM index",
    ".csi": "coordinate-sorted index",
    ".tbi": "tabix index",
    ".fai": "FASTA index",
}


def summarize(path: Path) -> Summary:
    suffix = path.suffix.lower()
    kind = KINDS.get(suffix, "index")
    target = path.name[: -len(suffix)] if suffix in KINDS else path.name
    return Summary(
        format="index",
        text=f"{kind} {path.name} of {target}.",
        metadata={"index_kind": kind, "indexes": target},
    )
