"""FASTQ (plain or gzipped): read count (exact for small files, estimated from a sample and the
file size otherwise), read lengths, and instrument/run/flow cell/lane from Illumina headers."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path
from typing import Any

from indexer.extractors.base import Summary
from indexer.extractors.common import listing
from indexer.extractors.instruments import illumina_model
from indexer.extractors.reading import GZIP_ERRORS, gzip_error, open_binary
from labsearch import identifiers

SAMPLE_RECORDS = 2000

# @<instrument>:<run number>:<flowcell>:<lane>:<tile>:<x>:<y> <read>:<filtered>:<control>:<index>
ILLUMINA_HEADER = re.compile(
    r"^@(?P<instrument>[A-Za-z0-9_-]+):(?P<run>[A-Za-z0-9_-]+):(?P<flowcell>[A-Za-z0-9-]+):"
    r"(?P<lane>\d+):(?P<tile>\d+):(?P<x>\d+):(?P<y>\d+)"
    r"(?:\s+(?P<read>\d):(?P<filtered>[YN]):(?P<control>\d+):(?P<index>\S*))?"
)
# Reads downloaded from SRA/ENA: @SRR5124371.1 1 length=100
SRA_HEADER = re.compile(r"^@(?P<accession>[SED]RR\d+)\.\d+")
# bcl2fastq/BCL Convert file names: <sample>_S<n>_L<lane>_R<read>_001.fastq.gz
ILLUMINA_FILE = re.compile(
    r"^(?P<sample>.+?)_S\d+(?:_L(?P<lane>\d{3}))?_(?P<read>[RI][12])_001\.f(?:ast)?q(?:\.gz)?$",
    re.IGNORECASE,
)
RUN_FOLDER = re.compile(
    r"^\d{6,8}_(?P<instrument>[A-Z]+\d+)_(?P<number>\d+)_[AB]?(?P<flowcell>\w+)$"
)


def _records(path: Path, summary: Summary) -> tuple[list[tuple[str, int]], bool, float]:
    """(header, read length) of up to SAMPLE_RECORDS records, whether the file ended, and the
    fraction of the file on disk consumed. Malformed or damaged content stops the sample and is
    recorded in `summary.errors`."""
    records: list[tuple[str, int]] = []
    stream, raw = open_binary(path)
    try:
        while len(records) < SAMPLE_RECORDS:
            lines = [stream.readline() for _ in range(4)]
            if not lines[0]:
                return records, True, 1.0
            number = len(records) + 1
            header, seq, plus, qual = (line.rstrip(b"\r\n") for line in lines)
            if not header.startswith(b"@") or not plus.startswith(b"+") or not lines[3]:
                summary.errors.append(
                    f"malformed FASTQ record {number} (line {4 * number - 3}) in {path.name}: "
                    "expected '@header', sequence, '+', qualities"
                )
                return records, False, 1.0
            if len(seq) != len(qual):
                summary.errors.append(
                    f"malformed FASTQ record {number} in {path.name}: sequence has {len(seq)} "
                    f"bases but {len(qual)} quality values"
                )
                return records, False, 1.0
            records.append((header.decode("ascii", errors="replace"), len(seq)))
        at_end = not stream.read(1)
        return records, at_end, raw.tell() / max(1, path.stat().st_size)
    except GZIP_ERRORS as exc:
        summary.errors.append(gzip_error(path, exc))
        return records, False, 1.0
    finally:
        stream.close()
        raw.close()


def _run_folder(path: Path, instrument: str | None, flowcell: str | None) -> str | None:
    """The Illumina run folder the file sits in, when it agrees with the headers."""
    for part in reversed(path.resolve().parent.parts):
        match = RUN_FOLDER.match(part)
        if (
            match
            and instrument in (None, match["instrument"])
            and (flowcell is None or match["flowcell"].endswith(flowcell))
        ):
            return part
    return None


def _illumina(headers: list[re.Match[str]], path: Path) -> dict[str, Any]:
    """Instrument, run, flow cell, lanes, read and index from Illumina read headers."""

    def most_common(field: str) -> str | None:
        counts = Counter(match[field] for match in headers if match[field])
        return counts.most_common(1)[0][0] if counts else None

    instrument, run = most_common("instrument"), most_common("run")
    flowcells = sorted({match["flowcell"] for match in headers})
    metadata: dict[str, Any] = {"instrument_id": instrument}
    if model := illumina_model(instrument or ""):
        metadata["instrument"] = model
    if run and run.isdigit():
        metadata["run_number"] = int(run)
    elif run:
        metadata["run_id"] = run  # a lab's own run id in the run field
    metadata["flowcell"] = flowcells[0] if len(flowcells) == 1 else flowcells
    metadata["lanes"] = sorted({int(match["lane"]) for match in headers})
    if read := most_common("read"):
        metadata["read_number"] = int(read)
    if indexes := sorted({match["index"] for match in headers if match["index"]}):
        metadata["index_sequences"] = indexes[:10]
    if "run_id" not in metadata:
        folder = _run_folder(path, instrument, flowcells[0] if len(flowcells) == 1 else None)
        if folder:
            metadata["run_id"] = folder
    return metadata


def summarize(path: Path) -> Summary:
    summary = Summary(format="fastq")
    records, complete, fraction = _records(path, summary)
    metadata: dict[str, Any] = {}
    if records:
        lengths = [length for _, length in records]
        if complete:
            metadata["read_count"] = len(records)
        else:
            metadata["read_count_estimate"] = int(len(records) / max(fraction, 1e-9))
        if min(lengths) == max(lengths):
            metadata["read_length"] = lengths[0]
        else:
            metadata |= {
                "read_length_min": min(lengths),
                "read_length_max": max(lengths),
                "read_length_mean": round(sum(lengths) / len(lengths), 1),
            }
    illumina = [match for header, _ in records if (match := ILLUMINA_HEADER.match(header))]
    if illumina:
        metadata |= _illumina(illumina, path)
    accessions = sorted({m["accession"] for h, _ in records if (m := SRA_HEADER.match(h))})
    if accessions:
        metadata["run_accession"] = accessions[0] if len(accessions) == 1 else accessions
    if file_match := ILLUMINA_FILE.match(path.name):
        metadata["samples"] = [file_match["sample"]]
        metadata.setdefault("read_number", int(file_match["read"][1]))
    if not records and not summary.errors:
        summary.errors.append(f"no FASTQ records in {path.name}")
    summary.metadata = metadata
    summary.identifiers = identifiers.collect(
        metadata.get("samples", []),
        [
            metadata[k]
            for k in ("run_id", "flowcell", "instrument_id")
            if isinstance(metadata.get(k), str)
        ],
        accessions,
    )
    summary.text = _describe(path, metadata)
    return summary


def _describe(path: Path, m: dict[str, Any]) -> str:
    parts = [f"FASTQ reads {path.name}"]
    if m.get("samples"):
        parts.append(f"from sample {listing(m['samples'])}")
    if m.get("run_id"):
        parts.append(f"run {m['run_id']}")
    elif m.get("run_number") is not None:
        parts.append(f"run number {m['run_number']}")
    if m.get("run_accession"):
        accession = m["run_accession"]
        parts.append(
            f"SRA run {listing(accession if isinstance(accession, list) else [accession])}"
        )
    if m.get("instrument_id"):
        model = f" ({m['instrument']})" if m.get("instrument") else ""
        parts.append(f"instrument {m['instrument_id']}{model}")
    if m.get("flowcell"):
        flowcell = m["flowcell"] if isinstance(m["flowcell"], str) else listing(m["flowcell"])
        parts.append(f"flow cell {flowcell} lane {listing(m['lanes'])}")
    if m.get("read_number"):
        parts.append(f"read {m['read_number']}")
    count = m.get("read_count")
    count_text = f"{count:,}" if count is not None else f"~{m.get('read_count_estimate', 0):,}"
    if "read_length" in m:
        parts.append(f"{count_text} reads of {m['read_length']} bp")
    elif "read_length_min" in m:
        parts.append(f"{count_text} reads of {m['read_length_min']}-{m['read_length_max']} bp")
    return ", ".join(parts) + "."
