"""Who links to whom in an ISA-Tab investigation: samples and data files gathered across its study
and assay tables, so that each data file knows every sample, extract, assay and study behind it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from indexer.sources.isatab_tables import Table, is_file_column


@dataclass
class FileRecord:
    """Everything the assay rows say about one data file."""

    name: str
    columns: list[str] = field(default_factory=list)
    samples: list[str] = field(default_factory=list)
    extracts: list[str] = field(default_factory=list)
    labeled_extracts: list[str] = field(default_factory=list)
    assay_names: list[str] = field(default_factory=list)
    scans: list[str] = field(default_factory=list)
    assays: list[str] = field(default_factory=list)
    studies: list[str] = field(default_factory=list)
    derived_from: list[str] = field(default_factory=list)
    accessions: list[str] = field(default_factory=list)
    factors: dict[str, list[str]] = field(default_factory=dict)


def sample_entry(study_id: str | None = None, only_in_assay: str | None = None) -> dict[str, Any]:
    """What is known of a sample while the tables are read."""
    return {
        "studies": [study_id] if study_id else [],
        "sources": [],
        "characteristics": {},
        "factors": {},
        "only_in_assay": only_in_assay,
    }


def add_new(values: list[str], *new: str) -> None:
    for value in new:
        if value and value not in values:
            values.append(value)


def collect_samples(table: Table, study_id: str, samples: dict[str, dict[str, Any]]) -> None:
    for row in table.rows:
        source_attrs: dict[str, str] = {}
        source_names = row.values("Source Name")
        for node in row.nodes:
            if node.column == "Source Name":
                source_attrs.update(node.attributes)
            if node.column != "Sample Name" or not node.value:
                continue
            sample = samples.setdefault(node.value, sample_entry())
            add_new(sample["studies"], study_id)
            add_new(sample["sources"], *source_names)
            sample["characteristics"].update(
                {**source_attrs, **{k: v for k, v in node.attributes.items()}}
            )
            sample["factors"].update(row.factors)
            sample["protocols"] = row.values("Protocol REF")


def collect_files(
    table: Table, assay_file: str, study_id: str, files: dict[str, FileRecord]
) -> None:
    for row in table.rows:
        sample_names = row.values("Sample Name")
        extracts = row.values("Extract Name")
        labeled = row.values("Labeled Extract Name")
        assay_names = row.names(lambda c: c.endswith("Assay Name"))
        scans = row.values("Scan Name")
        accessions = [
            value
            for node in row.nodes
            for key, value in node.attributes.items()
            if key.startswith("Comment[") and "accession" in key.lower()
        ]
        raw_files = [
            n.value for n in row.nodes if is_file_column(n.column) and "Derived" not in n.column
        ]
        for node in row.nodes:
            if not is_file_column(node.column) or not node.value:
                continue
            record = files.setdefault(node.value, FileRecord(node.value))
            add_new(record.columns, node.column)
            add_new(record.samples, *sample_names)
            add_new(record.extracts, *extracts)
            add_new(record.labeled_extracts, *labeled)
            add_new(record.assay_names, *assay_names)
            add_new(record.scans, *scans)
            add_new(record.assays, assay_file)
            add_new(record.studies, study_id)
            add_new(record.accessions, *accessions)
            if "Derived" in node.column:
                add_new(record.derived_from, *(f for f in raw_files if f != node.value))
            for key, value in row.factors.items():
                add_new(record.factors.setdefault(key, []), value)
