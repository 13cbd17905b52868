"""Which format a file is in: from its name (double extensions such as .fastq.gz) or, when the
name says nothing, from its first bytes."""

from __future__ import annotations

import zlib
from pathlib import Path

from indexer.extractors.reading import GZIP_MAGIC, head_bytes

COMPRESSION_SUFFIXES = (".gz", ".bgz", ".gzip")

# Longest suffix first: ".ome.tiff" must win over ".tiff".
SUFFIX_FORMATS: dict[str, str] = {
    ".ome.tiff": "tiff",
    ".ome.tif": "tiff",
    ".csv": "csv",
    ".tsv": "tsv",
    ".tab": "tsv",
    ".parquet": "parquet",
    ".pq": "parquet",
    ".fastq": "fastq",
    ".fq": "fastq",
    ".sam": "sam",
    ".bam": "bam",
    ".cram": "cram",
    ".vcf": "vcf",
    ".bcf": "vcf",
    ".fa": "fasta",
    ".fasta": "fasta",
    ".fna": "fasta",
    ".ffn": "fasta",
    ".faa": "fasta",
    ".fas": "fasta",
    ".pdf": "pdf",
    ".md": "markdown",
    ".markdown": "markdown",
    ".txt": "text",
    ".text": "text",
    ".log": "text",
    ".rst": "text",
    ".json": "json",
    ".jsonl": "json",
    ".ndjson": "json",
    ".tif": "tiff",
    ".tiff": "tiff",
    ".h5": "hdf5",
    ".hdf5": "hdf5",
    ".hdf": "hdf5",
    ".he5": "hdf5",
    ".loom": "hdf5",
    ".h5ad": "h5ad",
    ".ipynb": "json",
    # Text formats without a summarizer of their own: indexed as text, not as unknown.
    ".yaml": "text",
    ".yml": "text",
    ".xml": "text",
    ".html": "text",
    ".htm": "text",
    ".toml": "text",
    ".ini": "text",
    ".cfg": "text",
    ".sh": "text",
    ".py": "text",
    ".r": "text",
    ".nf": "text",
    ".smk": "text",
    ".wdl": "text",
    ".cwl": "text",
    ".bed": "text",
    ".gtf": "text",
    ".gff": "text",
    ".gff3": "text",
    ".bai": "index",
    ".crai": "index",
    ".csi": "index",
    ".tbi": "index",
    ".fai": "index",
}

# Binary signatures at offset 0 (of the decompressed content for gzip).
MAGIC_FORMATS: tuple[tuple[bytes, str], ...] = (
    (b"%PDF-", "pdf"),
    (b"II*\x00", "tiff"),
    (b"MM\x00*", "tiff"),
    (b"II+\x00", "tiff"),  # BigTIFF
    (b"MM\x00+", "tiff"),
    (b"\x89HDF\r\n\x1a\n", "hdf5"),
    (b"PAR1", "parquet"),
    (b"BAM\x01", "bam"),
    (b"CRAM", "cram"),
    (b"BCF\x02", "vcf"),
    (b"##fileformat=VCF", "vcf"),
    (b"@HD\t", "sam"),
    (b"@SQ\t", "sam"),
)


def strip_compression(name: str) -> tuple[str, bool]:
    lower = name.lower()
    for suffix in COMPRESSION_SUFFIXES:
        if lower.endswith(suffix):
            return name[: -len(suffix)], True
    return name, False


def format_from_name(name: str) -> str | None:
    base, _ = strip_compression(name)
    lower = base.lower()
    for suffix in sorted(SUFFIX_FORMATS, key=len, reverse=True):
        if lower.endswith(suffix):
            return SUFFIX_FORMATS[suffix]
    return None


def _content_head(path: Path) -> bytes:
    data = head_bytes(path, 4096)
    if data[:2] != GZIP_MAGIC:
        return data
    try:  # BGZF (BAM, bgzipped VCF) is gzip too: look inside
        return zlib.decompressobj(16 + zlib.MAX_WBITS).decompress(data, 4096)
    except zlib.error:
        return b""


def _looks_like_text(data: bytes) -> bool:
    if not data or b"\x00" in data:
        return False
    sample = data[:2048].decode("utf-8", errors="replace")
    printable = sum(ch.isprintable() or ch in "\n\r\t" for ch in sample)
    return printable / len(sample) > 0.95


def format_from_content(path: Path) -> str | None:
    """The format the first bytes show, or None for content we do not recognise."""
    head = _content_head(path)
    for magic, fmt in MAGIC_FORMATS:
        if head.startswith(magic):
            return fmt
    if not _looks_like_text(head):
        return "gzip" if head_bytes(path, 2) == GZIP_MAGIC and not head else None
    text = head.decode("utf-8", errors="replace").lstrip("\ufeff")
    lines = text.splitlines()
    if text.startswith(">"):
        return "fasta"
    if text.startswith("@") and len(lines) > 2 and lines[2].startswith("+"):
        return "fastq"
    if text.lstrip()[:1] in ("{", "["):
        return "json"
    return "text"


def detect(path: Path) -> str | None:
    return format_from_name(path.name) or format_from_content(path)
