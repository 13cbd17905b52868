"""Sequencer models from Illumina instrument ids (the first field of a FASTQ header)."""

from __future__ import annotations

import re

# Prefix letters of the instrument serial number -> model, as Illumina assigns them.
ILLUMINA_MODELS = {
    "A": "NovaSeq 6000",
    "LH": "NovaSeq X",
    "VH": "NextSeq 2000",
    "VL": "NextSeq 1000",
    "NB": "NextSeq 500",
    "NS": "NextSeq 550",
    "M": "MiSeq",
    "MN": "MiniSeq",
    "FS": "iSeq 100",
    "K": "HiSeq 4000",
    "J": "HiSeq 3000",
    "E": "HiSeq X",
    "D": "HiSeq 2500",
    "SN": "HiSeq 2000",
}

_PREFIX = re.compile(r"^([A-Z]+)\d")


def illumina_model(instrument_id: str) -> str | None:
    match = _PREFIX.match(instrument_id)
    return ILLUMINA_MODELS.get(match.group(1)) if match else None
