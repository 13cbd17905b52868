"""CSV/TSV (optionally gzipped) and Parquet: columns, types, row count, example values, and the
identifiers in id-like columns (sample sheets name their samples there)."""

from __future__ import annotations

import contextlib
import csv
from pathlib import Path
from typing import Any

import pandas as pd

from indexer.extractors import sniff
from indexer.extractors.base import Summary
from indexer.extractors.common import listing, plural
from indexer.extractors.reading import (
    GZIP_ERRORS,
    MAX_CONTENT_BYTES,
    decode_text,
    gzip_error,
    is_gzip,
    open_binary,
)
from labsearch import identifiers

SAMPLE_ROWS = 2000  # rows parsed for types, examples and identifiers
EXAMPLES = 3
MAX_ID_VALUES = 500
MAX_ID_PER_COLUMN = 200
SAMPLE_COLUMNS = {"sample", "samples", "sample_id", "sample_name", "sample id", "sample name"}
# Columns whose single value describes the whole table (a sample sheet of one project).
# Constant columns that describe the table itself. Run and experiment ids are left out on
# purpose: a table that lists runs of one experiment (an instrument log, an inventory) is *about*
# them, not data *from* them; those ids stay identifiers (exact-match searchable).
NORMALIZED_COLUMNS = {"organism", "assay", "project", "instrument"}


def _format(path: Path) -> str:
    fmt = sniff.format_from_name(path.name)
    if fmt in ("csv", "tsv", "parquet"):
        return fmt
    return "parquet" if sniff.format_from_content(path) == "parquet" else "csv"


def _count_lines(path: Path) -> tuple[int, bool, float]:
    """Newlines in the content (up to the cap), whether all content was read, and the fraction
    of the file on disk that was consumed (to extrapolate when not)."""
    stream, raw = open_binary(path)
    lines = read = 0
    last = b"\n"
    try:
        while read < MAX_CONTENT_BYTES:
            block = stream.read(1 << 20)
            if not block:
                if last != b"\n":
                    lines += 1  # last line without a newline
                return lines, True, 1.0
            lines += block.count(b"\n")
            read += len(block)
            last = block[-1:]
        return lines, False, raw.tell() / max(1, path.stat().st_size)
    finally:
        stream.close()
        raw.close()


def _layout(path: Path, fmt: str) -> tuple[str, int, dict[str, str]]:
    """(separator, lines to skip, [Header] key-values) from the first 64 KB.

    Handles two things lab tables do: Illumina sample sheets put `[Header]`, `[Reads]`...
    sections before the `[Data]` table, and European spreadsheets save `.csv` with ';'."""
    stream, raw = open_binary(path)
    with stream, raw:
        lines = stream.read(1 << 16).decode("utf-8", errors="replace").splitlines()
    skip, header, section = 0, {}, ""
    if lines and lines[0].strip().startswith("["):
        for number, line in enumerate(lines):
            cell = line.strip().rstrip(",")
            if cell.startswith("[") and cell.endswith("]"):
                section = cell[1:-1].lower()
                if section in ("data", "bclconvert_data"):
                    skip = number + 1
                    break
            elif section == "header" and "," in cell:
                key, _, value = cell.partition(",")
                header[key.strip()] = value.strip().rstrip(",")
    sep = "\t" if fmt == "tsv" else ","
    body = lines[skip : skip + 20]
    if body and sep not in body[0]:
        # One column, or no delimiter pattern (csv.Error): keep the extension's separator.
        with contextlib.suppress(csv.Error):
            sep = csv.Sniffer().sniff("\n".join(body), delimiters=",;\t|").delimiter
    return sep, skip, header


def _parse(path: Path, fmt: str, options: dict[str, Any], summary: Summary) -> pd.DataFrame:
    """Parse, recovering from the two defects real tables have: a non-UTF-8 byte (decoded with
    replacement) and rows with the wrong number of fields (skipped); each is reported."""
    for _ in range(3):
        try:
            return pd.read_csv(path, **options)
        except UnicodeDecodeError:
            if "encoding_errors" in options:
                raise
            stream, raw = open_binary(path)
            with stream, raw:
                data = stream.read(MAX_CONTENT_BYTES)
            summary.errors += decode_text(data, path, truncated=True)[1]
            options["encoding_errors"] = "replace"
        except pd.errors.ParserError as exc:
            if "on_bad_lines" in options:
                raise
            summary.errors.append(
                f"malformed {fmt.upper()} in {path.name}: {exc}; rows with the wrong number of "
                "fields were skipped — fix them to index every row"
            )
            options["on_bad_lines"] = "skip"
    return pd.read_csv(path, **options)


def _read_delimited(path: Path, fmt: str, summary: Summary) -> tuple[pd.DataFrame, int, bool]:
    sep, skip, header = _layout(path, fmt)
    if header:
        summary.metadata["sample_sheet"] = header
    options: dict[str, Any] = {
        "sep": sep,
        "skiprows": skip,
        "nrows": SAMPLE_ROWS,
        "compression": "gzip" if is_gzip(path) else None,
    }
    frame = _parse(path, fmt, options, summary)
    if len(frame) < SAMPLE_ROWS:
        return frame, len(frame), False
    lines, complete, fraction = _count_lines(path)
    rows = lines - 1 - skip  # header line and sample-sheet sections
    if complete:
        return frame, rows, False
    return frame, int(rows / max(fraction, 1e-9)), True


def _read_parquet(path: Path) -> tuple[pd.DataFrame, int, dict[str, str]]:
    import pyarrow.parquet as pq

    with pq.ParquetFile(path) as parquet:
        rows = parquet.metadata.num_rows
        types = {field.name: str(field.type) for field in parquet.schema_arrow}
        batch = next(parquet.iter_batches(batch_size=SAMPLE_ROWS), None)
        frame = (
            batch.to_pandas()
            if batch is not None
            else parquet.schema_arrow.empty_table().to_pandas()
        )
    return frame, rows, types


def summarize(path: Path) -> Summary:
    fmt = _format(path)
    summary = Summary(format=fmt)
    try:
        if fmt == "parquet":
            frame, rows, types = _read_parquet(path)
            estimated = False
        else:
            frame, rows, estimated = _read_delimited(path, fmt, summary)
            types = {str(column): str(dtype) for column, dtype in frame.dtypes.items()}
    except GZIP_ERRORS as exc:
        summary.errors.append(gzip_error(path, exc))
        summary.text = f"{fmt.upper()} table {path.name} (unreadable)"
        return summary
    except pd.errors.EmptyDataError:
        summary.errors.append(f"empty table: {path.name} has no header row and no data")
        summary.text = f"{fmt.upper()} table {path.name} (empty)"
        return summary
    except Exception as exc:  # pandas ParserError, pyarrow ArrowInvalid, OSError...
        summary.errors.append(
            f"unreadable {fmt.upper()}: {path.name}: {type(exc).__name__}: {exc}; check that "
            f"the file is a complete, well-formed {fmt.upper()}"
        )
        summary.text = f"{fmt.upper()} table {path.name} (unreadable)"
        return summary

    columns = [str(column) for column in frame.columns]
    # Distinct values per column, computed once: examples, samples and identifiers come from it.
    distinct = {
        str(column): frame[column].dropna().astype(str).drop_duplicates().head(MAX_ID_VALUES)
        for column in frame.columns
    }
    id_values = {name: series.tolist() for name, series in distinct.items()}
    examples = {name: [v[:60] for v in values[:EXAMPLES]] for name, values in id_values.items()}
    metadata: dict[str, Any] = {
        "columns": columns,
        "n_columns": len(columns),
        "row_count": rows,
        "row_count_estimated": estimated,
        "dtypes": types,
        "examples": examples,
    }
    for name, values in id_values.items():
        if name.strip().lower() in SAMPLE_COLUMNS:
            metadata["samples"] = values
        if name.strip().lower() in NORMALIZED_COLUMNS and len(values) == 1:
            metadata[name.strip().lower()] = values[0]
    # Identifier-like columns contribute their values (capped: a 20k-gene table is not 20k ids),
    # and so do columns of library barcodes (a sample sheet's index and index2).
    id_columns = {
        k: v[:MAX_ID_PER_COLUMN]
        for k, v in id_values.items()
        if identifiers.from_metadata({k: v[:1]})
    }
    barcodes = [
        value
        for values in id_values.values()
        if values and all(identifiers.is_barcode(v) for v in values)
        for value in values[:MAX_ID_PER_COLUMN]
    ]
    summary.identifiers = identifiers.collect(
        identifiers.from_metadata(id_columns),
        identifiers.from_text(" ".join(columns)),
        barcodes,
    )
    summary.metadata = {**metadata, **summary.metadata}
    described = [f"{c} ({types.get(c, '?')}, e.g. {listing(examples[c], 3)})" for c in columns]
    summary.text = (
        f"{fmt.upper()} table {path.name}: {'~' if estimated else ''}{plural(rows, 'row')} × "
        f"{plural(len(columns), 'column')}: {listing(described, 30)}."
    )
    if sheet := summary.metadata.get("sample_sheet"):
        summary.text += (
            f" Sample sheet header: {listing((f'{k}: {v}' for k, v in sheet.items()), 8)}."
        )
        summary.identifiers = identifiers.collect(
            summary.identifiers, identifiers.from_metadata(sheet)
        )
    if "samples" in metadata:
        summary.text += f" Samples: {listing(metadata['samples'], 20)}."
    return summary
