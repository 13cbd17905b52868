"""FASTA (plain or gzipped), without an .fai index: sequence count, names, total length."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from indexer.extractors.base import Summary
from indexer.extractors.common import human_bases, listing, plural
from indexer.extractors.reading import GZIP_ERRORS, MAX_CONTENT_BYTES, gzip_error, open_binary
from labsearch import identifiers

MAX_NAMES = 50
NUCLEOTIDES = set(b"ACGTUNacgtunRYKMSWBDHVryksmwbdhv-.")


def summarize(path: Path) -> Summary:
    summary = Summary(format="fasta")
    names: list[str] = []
    descriptions: list[str] = []
    count = total = gc = 0
    residues: set[int] = set()
    complete = True
    stream, raw = open_binary(path)
    try:
        read = 0
        for number, line in enumerate(stream, start=1):
            read += len(line)
            if read > MAX_CONTENT_BYTES:
                complete = False
                break
            if line.startswith(b">"):
                count += 1
                name, _, description = line[1:].strip().decode("utf-8", "replace").partition(" ")
                if len(names) < MAX_NAMES:
                    names.append(name)
                    descriptions.append(description)
            elif line.strip():
                if count == 0:
                    summary.errors.append(
                        f"not FASTA: line {number} of {path.name} is sequence before any "
                        "'>name' header"
                    )
                    break
                seq = line.strip()
                total += len(seq)
                gc += seq.count(b"G") + seq.count(b"C") + seq.count(b"g") + seq.count(b"c")
                residues.update(seq[:200])
    except GZIP_ERRORS as exc:
        summary.errors.append(gzip_error(path, exc))
        complete = False
    finally:
        stream.close()
        raw.close()
    alphabet = "nucleotide" if residues <= NUCLEOTIDES else "protein"
    metadata: dict[str, Any] = {
        "sequence_count": count,
        "sequence_names": names,
        "total_length": total,
        "alphabet": alphabet,
        "complete": complete,
    }
    if alphabet == "nucleotide" and total:
        metadata["gc_content"] = round(gc / total, 4)
    if not count and not summary.errors:
        summary.errors.append(f"no FASTA records ('>name' lines) in {path.name}")
    summary.metadata = metadata
    summary.identifiers = identifiers.collect(identifiers.from_text(" ".join(names + descriptions)))
    size = human_bases(total) if alphabet == "nucleotide" else f"{total:,} residues"
    summary.text = (
        f"FASTA {alphabet} sequences {path.name}: {'' if complete else 'at least '}"
        f"{plural(count, 'sequence')} ({listing(names, 10)}), {size} in total"
        + (f", GC {metadata['gc_content']:.1%}" if "gc_content" in metadata else "")
        + "."
    )
    return summary
