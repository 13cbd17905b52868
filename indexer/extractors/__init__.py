"""Content summaries of files: `summarize(path) -> Summary`, whatever the format.

The format comes from the file name (double extensions such as .fastq.gz, .vcf.gz, .csv.gz
included) or, when the name says nothing, from the first bytes. Each format has a small module
with one `summarize(path)`; none raises on bad content, and this dispatcher is the last guard so
that one odd file never stops an indexing run: every file yields a Summary, with the reason in
`errors` when its content could not be read.

`Summary.format` is one of: csv, tsv, parquet, fastq, sam, bam, cram, vcf, fasta, pdf,
markdown, text, json, tiff, hdf5, h5ad, index (.bai/.tbi/...), gzip (a .gz whose content cannot
be read), unknown.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from pathlib import Path

from indexer.extractors import sniff
from indexer.extractors.base import Summary
from indexer.extractors.common import human_size
from indexer.extractors.reading import GZIP_ERRORS, gzip_error, read_capped

__all__ = ["EXTRACTORS", "Summary", "extractor_for", "summarize"]

MAX_IDENTIFIERS = 1000

# Format -> the module whose `summarize` reads it. Imported on first use: the readers pull in
# pandas, pyarrow, pysam, pypdf, tifffile and h5py (about 0.4 s), which a run that reads no file
# of theirs (an unchanged re-index, a Quilt package of FASTQ files) must not pay for.
EXTRACTORS: dict[str, str] = {
    "csv": "tabular",
    "tsv": "tabular",
    "parquet": "tabular",
    "fastq": "fastq",
    "sam": "alignment",
    "bam": "alignment",
    "cram": "alignment",
    "vcf": "vcf",
    "fasta": "fasta",
    "pdf": "pdf",
    "markdown": "text",
    "text": "text",
    "json": "json_file",
    "tiff": "tiff",
    "hdf5": "hdf5",
    "h5ad": "hdf5",
    "index": "index_file",
}


def extractor_for(fmt: str) -> Callable[[Path], Summary] | None:
    """The `summarize` of the module that reads `fmt`, imported now; None for other formats."""
    module = EXTRACTORS.get(fmt)
    if module is None:
        return None
    return importlib.import_module(f"indexer.extractors.{module}").summarize


def _unreadable_gzip(path: Path) -> Summary:
    """A .gz whose inner format we cannot even see: say why (usually corrupt)."""
    try:
        read_capped(path, 1 << 16)
    except GZIP_ERRORS as exc:
        return Summary(format="gzip", text=f"gzip file {path.name}", errors=[gzip_error(path, exc)])
    note = f"unknown format: {path.name} is gzip-compressed content of no known format"
    return Summary(format="gzip", text=f"gzip file {path.name}", metadata={"note": note})


def summarize(path: Path) -> Summary:
    """A Summary for any file; never raises for a file's content (only for a non-file path)."""
    path = Path(path)
    fmt = sniff.format_from_name(path.name)
    try:
        size = path.stat().st_size
        if size == 0:
            return Summary(
                format=fmt or "unknown",
                text=f"{path.name}: empty file (0 bytes)",
                errors=[f"empty file: {path.name} has 0 bytes, there is no content to summarize"],
            )
        fmt = fmt or sniff.format_from_content(path)
    except OSError as exc:
        return Summary(
            format=fmt or "unknown",
            text=path.name,
            errors=[
                f"cannot read {path}: {exc.strerror or exc}; check that it exists and is readable"
            ],
        )
    if fmt == "gzip":
        return _unreadable_gzip(path)
    extractor = extractor_for(fmt or "")
    if extractor is None:
        return Summary(
            format="unknown",
            text=f"{path.name}: {human_size(size)} of binary content in an unknown format",
            # Not an error: labs keep many formats we do not read; the asset has name and size.
            metadata={
                "note": f"unknown format: {path.name} has no recognised extension and its "
                "first bytes match no known file signature; indexed by name and size only"
            },
        )
    try:
        summary = extractor(path)
        # Identifiers are an exact-match field: a huge JSON or text must not flood it.
        summary.identifiers = summary.identifiers[:MAX_IDENTIFIERS]
        return summary
    except Exception as exc:  # a bug or a library surprise must not stop the indexing run
        return Summary(
            format=fmt or "unknown",
            text=f"{fmt} file {path.name}",
            errors=[f"{fmt} extractor failed on {path.name}: {type(exc).__name__}: {exc}"],
        )
