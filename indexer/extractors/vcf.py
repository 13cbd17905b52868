"""VCF/BCF via pysam: sample columns, contigs, reference, INFO/FORMAT keys, variant count."""

from __future__ import annotations

import contextlib
import warnings
from pathlib import Path
from typing import Any

from indexer.extractors.alignment import BGZF_EOF
from indexer.extractors.base import Summary
from indexer.extractors.common import listing, plural
from indexer.extractors.reading import GZIP_MAGIC, head_bytes
from labsearch import identifiers

MAX_RECORDS = 20_000  # counted exactly up to here; beyond, "at least"


def _bgzf_truncated(path: Path) -> bool:
    if head_bytes(path, 2) != GZIP_MAGIC:
        return False
    with path.open("rb") as handle:
        handle.seek(max(0, path.stat().st_size - len(BGZF_EOF)))
        return handle.read() != BGZF_EOF


def summarize(path: Path) -> Summary:
    import pysam

    summary = Summary(format="vcf")
    if _bgzf_truncated(path):
        summary.errors.append(
            f"truncated VCF: {path.name} lacks the bgzip end-of-file marker (an interrupted "
            "copy?); only the variants before the cut were read — copy the file again"
        )
    # We report problems ourselves: keep htslib's messages and pysam's warnings off stderr.
    previous = pysam.set_verbosity(0)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            metadata = _read(pysam, path, summary)
    finally:
        pysam.set_verbosity(previous)
    if metadata is None:
        summary.text = f"VCF {path.name} (unreadable)"
        return summary
    summary.metadata = metadata
    summary.identifiers = identifiers.collect(metadata["samples"])
    summary.text = _describe(path, metadata)
    return summary


def _read(pysam: Any, path: Path, summary: Summary) -> dict[str, Any] | None:
    try:
        # A truncated file may still have a readable header: open it anyway, the error that
        # says it is truncated is already in summary.errors.
        variants = pysam.VariantFile(str(path), ignore_truncation=bool(summary.errors))
    except (ValueError, OSError) as exc:
        reason = str(exc).replace(f"b'{path}'", path.name)  # pysam quotes the path as bytes
        summary.errors.append(
            f"unreadable VCF header in {path.name}: {reason}; the file is damaged or not a VCF/BCF"
        )
        return None
    try:
        header = variants.header
        metadata: dict[str, Any] = {
            "samples": list(header.samples),
            "n_samples": len(header.samples),
            "fileformat": header.version,
            "contigs": list(header.contigs)[:50],
            "n_contigs": len(header.contigs),
            "info_keys": list(header.info),
            "format_keys": list(header.formats),
            "filters": [name for name in header.filters if name != "PASS"],
        }
        for record in header.records:
            if record.type == "GENERIC" and record.key in ("reference", "source"):
                metadata.setdefault(record.key, record.value)
        metadata |= _count(variants, summary, path)
    finally:
        with contextlib.suppress(OSError):  # closing a damaged file reports the damage again
            variants.close()
    return metadata


def _count(variants: Any, summary: Summary, path: Path) -> dict[str, Any]:
    n = 0
    try:
        for n, _ in enumerate(variants.fetch(), start=1):
            if n >= MAX_RECORDS:
                return {"variant_count_at_least": n}
    except (OSError, ValueError) as exc:
        if not summary.errors:
            summary.errors.append(f"damaged VCF records in {path.name} after variant {n}: {exc}")
        return {"variants_readable": n}
    return {"variant_count": n}


def _describe(path: Path, m: dict[str, Any]) -> str:
    parts = [f"VCF variant calls {path.name} ({m['fileformat']})"]
    if m["samples"]:
        parts.append(f"for {plural(m['n_samples'], 'sample')}: {listing(m['samples'], 20)}")
    else:
        parts.append("with no sample columns (sites only)")
    if m.get("reference"):
        parts.append(f"reference {m['reference']}")
    if m["n_contigs"]:
        parts.append(f"{plural(m['n_contigs'], 'contig')} ({listing(m['contigs'], 5)})")
    if "variant_count" in m:
        parts.append(plural(m["variant_count"], "variant"))
    elif "variant_count_at_least" in m:
        parts.append(f"at least {m['variant_count_at_least']:,} variants")
    if m["info_keys"]:
        parts.append(f"INFO {listing(m['info_keys'], 12)}")
    if m["format_keys"]:
        parts.append(f"FORMAT {listing(m['format_keys'], 12)}")
    if m.get("source"):
        parts.append(f"source {m['source']}")
    return ", ".join(parts) + "."
