"""Previews: what a scientist needs to see of a file to decide whether it is the one, bounded.

The head of text formats (tables, FASTQ, VCF, SAM, FASTA, Markdown, JSON; gzip-compressed too),
the first rows of a Parquet table, a BAM/CRAM header, page 1 of a PDF as text, the tree of an
HDF5/AnnData file, and a PNG thumbnail (at most 256 px) of a TIFF/OME-TIFF or PNG/JPEG image.
Text is at most MAX_TEXT_BYTES; nothing reads more of a file than it shows.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from pathlib import Path

from indexer.extractors import sniff
from indexer.extractors.reading import GZIP_ERRORS, gzip_error, read_capped

MAX_TEXT_BYTES = 64 * 1024
MAX_LINES = 200
THUMBNAIL_PX = 256
TEXT_FORMATS = frozenset({"csv", "tsv", "fastq", "vcf", "sam", "fasta", "markdown", "text", "json"})
IMAGE_SUFFIXES = (".tif", ".tiff", ".png", ".jpg", ".jpeg")


@dataclass
class Preview:
    format: str
    text: str = ""
    truncated: bool = False
    image_png: bytes | None = None  # a thumbnail, for images
    notes: list[str] = field(default_factory=list)


def preview(path: Path) -> Preview:
    """A bounded preview of any file; never raises for the file's content."""
    fmt = sniff.detect(path) or "unknown"
    try:
        if path.name.lower().endswith(IMAGE_SUFFIXES) or fmt == "tiff":
            return _image(path, fmt)
        if fmt in TEXT_FORMATS:
            return _text_head(path, fmt)
        if fmt == "parquet":
            return _parquet(path)
        if fmt in ("bam", "cram"):
            return _alignment_header(path, fmt)
        if fmt == "pdf":
            return _pdf(path)
        if fmt in ("hdf5", "h5ad"):
            return _hdf5_tree(path, fmt)
    except GZIP_ERRORS as exc:
        return Preview(fmt, notes=[gzip_error(path, exc)])
    except Exception as exc:  # an odd file must give a note, not a server error
        return Preview(fmt, notes=[f"no preview of {path.name}: {type(exc).__name__}: {exc}"])
    return Preview(fmt, notes=[f"no preview for {fmt} files; download it to open it"])


def _cap(text: str) -> tuple[str, bool]:
    data = text.encode("utf-8")
    if len(data) <= MAX_TEXT_BYTES:
        return text, False
    return data[:MAX_TEXT_BYTES].decode("utf-8", errors="ignore"), True


def _text_head(path: Path, fmt: str) -> Preview:
    data, more = read_capped(path, MAX_TEXT_BYTES + 1)
    text = data.decode("utf-8", errors="replace")
    lines = text.splitlines()
    truncated = more or len(data) > MAX_TEXT_BYTES or len(lines) > MAX_LINES
    shown, capped = _cap("\n".join(lines[:MAX_LINES]))
    return Preview(fmt, shown, truncated or capped)


def _parquet(path: Path) -> Preview:
    import pyarrow.parquet as pq

    table = pq.ParquetFile(path)
    first = next(table.iter_batches(batch_size=20), None)
    text = first.to_pandas().to_csv(sep="\t", index=False) if first is not None else ""
    shown, capped = _cap(text)
    return Preview("parquet", shown, capped or table.metadata.num_rows > 20)


def _alignment_header(path: Path, fmt: str) -> Preview:
    import pysam

    mode = "rc" if fmt == "cram" else "rb"
    with pysam.AlignmentFile(str(path), mode, check_sq=False) as handle:
        shown, capped = _cap(str(handle.header))
    return Preview(fmt, shown, capped)


def _pdf(path: Path) -> Preview:
    from pypdf import PdfReader

    reader = PdfReader(str(path))
    first = reader.pages[0].extract_text() if reader.pages else ""
    shown, capped = _cap(first or "")
    return Preview("pdf", shown, capped or len(reader.pages) > 1)


def _hdf5_tree(path: Path, fmt: str) -> Preview:
    import h5py

    lines: list[str] = []

    def visit(name: str, node: object) -> None:
        if len(lines) >= MAX_LINES:
            return
        depth = name.count("/")
        shape = getattr(node, "shape", None)
        kind = f"dataset {shape} {getattr(node, 'dtype', '')}" if shape is not None else "group"
        lines.append(f"{'  ' * depth}{name.rsplit('/', 1)[-1]}: {kind}")

    with h5py.File(path, "r") as handle:
        handle.visititems(visit)
    shown, capped = _cap("\n".join(lines))
    return Preview(fmt, shown, capped or len(lines) >= MAX_LINES)


def _image(path: Path, fmt: str) -> Preview:
    import numpy as np
    from PIL import Image

    if path.suffix.lower() in (".tif", ".tiff") or fmt == "tiff":
        import tifffile

        with tifffile.TiffFile(path) as tif:
            series = tif.series[0]
            # The smallest pyramid level when there is one: a thumbnail, not the whole image.
            level = series.levels[-1] if getattr(series, "levels", None) else series
            array = np.asarray(level.asarray())
        while array.ndim > 2 and array.shape[-1] not in (3, 4):
            array = array[0]
        low, high = float(array.min()), float(array.max())
        scaled = ((array - low) / (high - low or 1) * 255).astype("uint8")
        image = Image.fromarray(scaled)
        size_note = f"{series.shape} {series.dtype}"
    else:
        image = Image.open(path)
        size_note = f"{image.size[0]}x{image.size[1]} {image.mode}"
    image.thumbnail((THUMBNAIL_PX, THUMBNAIL_PX))
    out = io.BytesIO()
    image.convert("RGB" if image.mode not in ("L", "RGB") else image.mode).save(out, "PNG")
    return Preview(fmt if fmt != "unknown" else "image", size_note, image_png=out.getvalue())
