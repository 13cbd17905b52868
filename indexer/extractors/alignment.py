"""SAM/BAM/CRAM via pysam: read groups (SM sample names), reference sequences and assembly,
programs, and read counts from the index (or a bounded scan)."""

from __future__ import annotations

import contextlib
import warnings
from pathlib import Path
from typing import Any

from indexer.extractors import sniff
from indexer.extractors.base import Summary
from indexer.extractors.common import human_bases, listing, plural
from labsearch import identifiers

SAMPLE_RECORDS = 5000
# Every complete BGZF file (BAM, bgzipped VCF) ends with this empty block; htslib checks it too.
BGZF_EOF = bytes.fromhex("1f8b08040000000000ff0600424302001b0003000000000000000000")
# Assemblies recognisable from the length of their first chromosome when @SQ has no AS tag.
CHR1_LENGTHS = {
    248956422: "GRCh38",
    249250621: "GRCh37",
    195154279: "GRCm39",
    195471971: "GRCm38",
}
READ_GROUP_FIELDS = {
    "ID": "id",
    "SM": "sample",
    "LB": "library",
    "PL": "platform",
    "PM": "platform_model",
    "PU": "platform_unit",
    "CN": "center",
    "DT": "date",
}


def _format(path: Path) -> str:
    fmt = sniff.format_from_name(path.name)
    return fmt if fmt in ("sam", "bam", "cram") else (sniff.format_from_content(path) or "bam")


# CRAM 3.x ends with an empty container whose block says "EOF" (0f e0 45 4f 46 ...).
CRAM3_EOF_TAIL = bytes.fromhex("0fe0454f4600000000010005bdd94f0001000606010001000100ee63014b")


def _truncated(path: Path, fmt: str) -> bool:
    marker = BGZF_EOF if fmt == "bam" else CRAM3_EOF_TAIL
    with path.open("rb") as handle:
        if fmt == "cram" and handle.read(5)[4:5] != b"\x03":
            return False  # CRAM 2.x has a different end-of-file container: do not guess
        handle.seek(max(0, path.stat().st_size - len(marker)))
        return handle.read() != marker


def summarize(path: Path) -> Summary:
    import pysam

    fmt = _format(path)
    summary = Summary(format=fmt)
    if fmt in ("bam", "cram") and _truncated(path, fmt):
        summary.errors.append(
            f"truncated {fmt.upper()}: {path.name} lacks the end-of-file marker, so it was cut "
            "short (an interrupted copy, upload or aligner run); only what precedes the cut was "
            "read — copy or regenerate the file"
        )
    mode = {"sam": "r", "bam": "rb", "cram": "rc"}[fmt]
    # We report problems ourselves: keep htslib's messages and pysam's warnings off stderr.
    previous = pysam.set_verbosity(0)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            metadata = _read(pysam, path, fmt, mode, summary)
    finally:
        pysam.set_verbosity(previous)
    if metadata is None:
        summary.text = f"{fmt.upper()} alignments {path.name} (unreadable)"
        return summary
    summary.metadata = metadata
    summary.identifiers = identifiers.collect(
        metadata.get("samples", []),
        metadata.get("libraries", []),
        identifiers.from_metadata({"read_groups": metadata.get("read_groups", [])}),
    )
    summary.text = _describe(path, fmt, metadata)
    return summary


def _read(pysam: Any, path: Path, fmt: str, mode: str, summary: Summary) -> dict[str, Any] | None:
    try:
        # A truncated file may still have a readable header: open it anyway, the error that
        # says it is truncated is already in summary.errors.
        alignments = pysam.AlignmentFile(
            str(path), mode, check_sq=False, ignore_truncation=bool(summary.errors)
        )
    except (ValueError, OSError) as exc:
        summary.errors.append(
            f"unreadable {fmt.upper()} header in {path.name}: {exc}; the file is damaged or not a "
            f"{fmt.upper()}"
        )
        return None
    try:
        metadata = _header_metadata(alignments.header.to_dict())
        metadata |= _counts(alignments, fmt, summary, path)
    finally:
        with contextlib.suppress(OSError):  # closing a damaged file reports the damage again
            alignments.close()
    return metadata


def _header_metadata(header: dict[str, Any]) -> dict[str, Any]:
    read_groups = [
        {name: rg[tag] for tag, name in READ_GROUP_FIELDS.items() if tag in rg}
        for rg in header.get("RG", [])
    ]
    sequences = header.get("SQ", [])
    metadata: dict[str, Any] = {
        "samples": list(dict.fromkeys(rg["sample"] for rg in read_groups if "sample" in rg)),
        "read_groups": read_groups,
        "libraries": list(dict.fromkeys(rg["library"] for rg in read_groups if "library" in rg)),
        "platforms": list(dict.fromkeys(rg["platform"] for rg in read_groups if "platform" in rg)),
        "reference_sequences": len(sequences),
        "sequence_names": [sq["SN"] for sq in sequences[:25]],
        "reference_length": sum(int(sq.get("LN", 0)) for sq in sequences),
        "programs": [
            {
                k: v
                for k, v in (
                    ("id", pg.get("ID")),
                    ("name", pg.get("PN")),
                    ("version", pg.get("VN")),
                )
                if v
            }
            for pg in header.get("PG", [])
        ],
    }
    if sort_order := header.get("HD", {}).get("SO"):
        metadata["sort_order"] = sort_order
    assemblies = list(dict.fromkeys(sq["AS"] for sq in sequences if sq.get("AS")))
    if not assemblies and sequences:
        guess = CHR1_LENGTHS.get(int(sequences[0].get("LN", 0)))
        assemblies = [guess] if guess else []
    if assemblies:
        metadata["reference"] = assemblies[0] if len(assemblies) == 1 else assemblies
    species = list(dict.fromkeys(sq["SP"] for sq in sequences if sq.get("SP")))
    if len(species) == 1:
        metadata["organism"] = species[0]
    models = list(
        dict.fromkeys(rg["platform_model"] for rg in read_groups if "platform_model" in rg)
    )
    if len(models) == 1:
        metadata["instrument"] = models[0]
    return metadata


def _counts(alignments: Any, fmt: str, summary: Summary, path: Path) -> dict[str, Any]:
    """Mapped/unmapped from the index when there is one; otherwise count up to SAMPLE_RECORDS.
    Reading records also surfaces damage the header did not show."""
    counts: dict[str, Any] = {}
    if fmt != "sam" and alignments.has_index():
        try:
            counts["mapped_reads"] = alignments.mapped
            counts["unmapped_reads"] = alignments.unmapped
        except (ValueError, OSError):
            pass
    if fmt == "cram":
        return counts  # records need the reference FASTA, which we do not have
    n = 0
    try:
        for n, _ in enumerate(alignments.fetch(until_eof=True), start=1):
            if n >= SAMPLE_RECORDS:
                return counts
        counts["records"] = n
    except (OSError, ValueError) as exc:
        if not any(error.startswith("truncated") for error in summary.errors):
            summary.errors.append(
                f"damaged {fmt.upper()} records in {path.name} after record {n}: {exc}"
            )
        counts["records_readable"] = n
    return counts


def _describe(path: Path, fmt: str, m: dict[str, Any]) -> str:
    order = (
        f" ({m['sort_order']}-sorted)" if m.get("sort_order") in ("coordinate", "queryname") else ""
    )
    parts = [f"{fmt.upper()} alignments {path.name}{order}"]
    if m["samples"]:
        parts.append(f"of sample {listing(m['samples'])}")
    if m["read_groups"]:
        groups = [
            rg["id"]
            + (
                f" (library {rg['library']}, {rg['platform']})"
                if "library" in rg and "platform" in rg
                else ""
            )
            for rg in m["read_groups"]
        ]
        parts.append(f"read groups {listing(groups, 5)}")
    if m["reference_sequences"]:
        reference = m.get("reference")
        name = f"reference {reference if isinstance(reference, str) else listing(reference or [])} "
        parts.append(
            f"{name if reference else ''}{plural(m['reference_sequences'], 'sequence')} "
            f"({listing(m['sequence_names'], 5)}; {human_bases(m['reference_length'])})"
        )
    if m["programs"]:
        programs = [
            " ".join(filter(None, (p.get("name") or p.get("id"), p.get("version"))))
            for p in m["programs"]
        ]
        parts.append(f"programs {listing(programs, 5)}")
    if "mapped_reads" in m:
        parts.append(f"{m['mapped_reads']:,} mapped and {m['unmapped_reads']:,} unmapped reads")
    elif "records" in m:
        parts.append(plural(m["records"], "record"))
    return ", ".join(parts) + "."
