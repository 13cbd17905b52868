"""One row of a run table or sample sheet → one asset.

A row with a run accession is a run; else a row naming a sample is a sample; else it is a
record of whatever the table lists. Every column is kept verbatim (typed) in the metadata, next
to the normalized keys; identifier columns become identifiers; data file columns become a
`data_files` list and, for files on the local disk under the source, links to their `file://`
assets.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from indexer.access import GroupGrant
from indexer.sources._content import column_key, describe, entity_from, normalize
from indexer.sources.eln import as_datetime
from indexer.sources.table_columns import Column
from labsearch import identifiers as ids
from labsearch.identifiers import accession_kind
from labsearch.schema import Asset, AssetKind, Entity, Link, LinkType, Provenance

_TISSUE_KEYS = tuple(
    column_key(k)
    for k in (
        "tissue",
        "organism_part",
        "characteristics[organism part]",
        "body_site",
        "tissue_type",
    )
)
_TEXT_KEYS = ("title", "description")  # free text: its words are not identifiers
_SAMPLE_KINDS = ("sample", "biosample", "geo_sample")
# Which sample column names a sample the way people say it, most readable first; the accession
# columns come after. SRA's `Sample` holds SRS accessions, its `SampleName` the submitter's name.
_NAME_FIRST = tuple(
    column_key(k) for k in ("sample_name", "sample_alias", "source name", "sample_id", "sample")
)


@dataclass
class Row:
    """A row read from a table, before it becomes an asset."""

    path: Path
    where: str  # "runs.csv, row 5": how issues name the row
    number: int
    row_key: str  # "row-5", or "Sheet1!row-5" in a workbook: the id of a row naming nothing
    values: dict[str, Any]  # typed, non-empty cells by column name
    roles: dict[str, list[tuple[str, str]]] = field(default_factory=dict)  # role → (column, text)
    files: list[str] = field(default_factory=list)

    def role(self, name: str) -> list[str]:
        return [value for _, value in self.roles.get(name, [])]

    @property
    def entity(self) -> Entity | None:
        if self.roles.get("run"):
            return Entity.RUN
        if self.roles.get("sample"):
            return Entity.SAMPLE
        return entity_from(self.values)

    def primary(self) -> tuple[str, str | None]:
        """(primary id, the column it is from): the run accession, else the sample accession,
        else the sample name, else the row key."""
        if self.roles.get("run"):
            return self.roles["run"][0][1], self.roles["run"][0][0]
        samples = self.roles.get("sample", [])
        accessions = [(c, v) for c, v in samples if accession_kind(v) in _SAMPLE_KINDS]
        if accessions:
            return accessions[0][1], accessions[0][0]
        if samples:
            column, value = _named_first(samples)[0]
            return value, column
        return self.row_key, None


def make_row(
    path: Path, where: str, number: int, row_key: str, columns: list[Column], cells: list[str]
) -> Row:
    row = Row(path, where, number, row_key, {})
    for column, cell in zip(columns, cells, strict=True):
        if not cell:
            continue
        row.values[column.name] = column.convert(cell)
        if column.role:
            row.roles.setdefault(column.role, []).append((column.name, cell))
        if column.files:
            # ENA joins a run's files with ";" (the two FASTQ files of a paired run).
            row.files += [part.strip() for part in cell.split(";") if part.strip()]
    return row


def _named_first(samples: list[tuple[str, str]]) -> list[tuple[str, str]]:
    def rank(item: tuple[str, str]) -> int:
        key = column_key(item[0])
        return _NAME_FIRST.index(key) if key in _NAME_FIRST else len(_NAME_FIRST)

    return sorted(samples, key=rank)


def sample_names(row: Row) -> list[str]:
    """Every name and accession a row gives its sample, the most readable first."""
    return list(dict.fromkeys(value for _, value in _named_first(row.roles.get("sample", []))))


# What a run row says of its run, not of its sample: left out of the sample it describes.
_RUN_ROLES = ("run", "experiment", "library", "submission")


def samples_of_runs(rows: list[tuple[Row, str]], described: dict[str, list[str]]) -> list[Row]:
    """A sample row for each sample that run rows name but no sample row describes (an SRA
    RunInfo table has runs only): the columns every run of the sample agrees on, minus what
    belongs to a run. So "which sample was run SRR1 made from" has a sample to answer with."""
    grouped: dict[str, list[Row]] = {}
    for row, _ in rows:
        names = sample_names(row)
        if row.entity is not Entity.RUN or not names or any(n in described for n in names):
            continue
        accessions = [n for n in names if accession_kind(n) in _SAMPLE_KINDS]
        grouped.setdefault(f"{row.path}\0{(accessions or names)[0]}", []).append(row)
    samples = []
    for runs in grouped.values():
        first = runs[0]
        kept = {
            name
            for role, pairs in first.roles.items()
            if role not in _RUN_ROLES
            for name, _ in pairs
        }
        run_columns = {name for role in _RUN_ROLES for name, _ in first.roles.get(role, [])}
        run_ids = {value for r in runs for value in r.role("run")}
        values = {
            name: value
            for name, value in first.values.items()
            if name not in run_columns
            and (name in kept or isinstance(value, str))
            and not any(run_id in str(value) for run_id in run_ids)  # a run's file or URL
            and all(other.values.get(name) == value for other in runs[1:])
        }
        roles = {r: pairs for r, pairs in first.roles.items() if r not in _RUN_ROLES}
        samples.append(Row(first.path, first.where, first.number, first.row_key, values, roles))
    return samples


def build_asset(
    row: Row,
    asset_id: str,
    *,
    uri: str,
    root: Path,
    access: GroupGrant,
    sample_assets: dict[str, list[str]],
) -> Asset:
    """The asset of a row. `sample_assets`: sample id → asset ids of the sample rows of this
    source, for `uses_sample` links; `root`: local data files under it are linked."""
    entity = row.entity
    samples = sample_names(row)
    metadata: dict[str, Any] = dict(row.values)
    normalized = normalize(row.values, table=True)
    if samples:
        normalized["samples"] = samples  # every name of the sample, so any of them finds it
    for role, key in (("run", "run_id"), ("experiment", "experiment_id"), ("study", "project")):
        if row.roles.get(role):
            normalized.setdefault(key, row.role(role)[0])
    metadata.update(normalized)
    if row.files:
        metadata["data_files"] = row.files
    links: list[Link] = []
    if entity is not Entity.SAMPLE:
        links += [
            Link(rel=LinkType.USES_SAMPLE, target=target)
            for sample in samples
            for target in sample_assets.get(sample, [])
            if target != asset_id
        ]
    rel = LinkType.PRODUCED if entity is Entity.RUN else LinkType.RELATED
    links += [Link(rel=rel, target=f"file://{p}") for p in _local_files(row, root)]
    title = _title(row, entity, normalized, samples)
    primary, _ = row.primary()
    day = normalized.get("date")
    return Asset(
        id=asset_id,
        source=uri,
        kind=AssetKind.SAMPLE if entity is Entity.SAMPLE else AssetKind.EXPERIMENT,
        entity=entity,
        title=title,
        text="\n".join([title, *describe(row.values, limit=len(row.values))]),
        metadata=metadata,
        identifiers=_identifiers(row, primary),
        links=list(dict.fromkeys(links)),
        **access.asset_fields(),
        created_at=as_datetime(date.fromisoformat(day)) if day else None,
        provenance=Provenance(source=uri, path=str(row.path), record_id=primary),
    )


def _identifiers(row: Row, primary: str) -> list[str]:
    """The primary id, every identifier column, data file names, accessions in any text, and
    code-like values of id-like columns of free-form sheets (`patient`, `flowcell`)."""
    found = [primary, *(v for values in row.roles.values() for _, v in values)]
    found += [name.rsplit("/", 1)[-1] for name in row.files]
    for name, value in row.values.items():
        if not isinstance(value, str):
            continue
        found += ids.from_text(value)
        if ids.is_barcode(value):  # a library's index sequence (sample sheets' index, index2)
            found.append(value)
        if any(word in column_key(name) for word in _TEXT_KEYS):
            continue
        found += [v for v in ids.from_metadata({name: value}) if any(ch.isdigit() for ch in v)]
    return ids.collect(found)


def _local_files(row: Row, root: Path) -> list[Path]:
    """Data files of the row that exist on this disk under `root` (relative names are
    relative to the table's folder)."""
    found = []
    for name in row.files:
        text = name.removeprefix("file://")
        if "://" in text:
            continue
        path = Path(os.path.normpath(row.path.parent / text))
        if path.is_relative_to(root) and path.is_file():
            found.append(path)
    return found


def _first(values: dict[str, Any], keys: tuple[str, ...]) -> str | None:
    by_key = {column_key(k): v for k, v in values.items()}
    return next((str(by_key[k]) for k in keys if by_key.get(k) not in (None, "")), None)


def _title(row: Row, entity: Entity | None, normalized: dict[str, Any], samples: list[str]) -> str:
    """A title that reads like what the row is: "Run SRR123: RNA-Seq of Mus musculus liver
    sample LIV-1 on Illumina NovaSeq 6000", "Sample LIV-1: Mus musculus liver (SAMN0123)"."""
    tissue = _first(row.values, _TISSUE_KEYS)
    organism = normalized.get("organism")
    runs = row.role("run")
    if entity is Entity.RUN and runs:
        subject = " ".join(p for p in (organism, tissue) if p)
        if samples:
            subject = f"{subject} sample {samples[0]}".strip()
        parts = [normalized.get("assay"), f"of {subject}" if subject else None]
        if not parts[0] and subject:
            parts[1] = subject
        if normalized.get("instrument"):
            parts.append(f"on {normalized['instrument']}")
        described = " ".join(p for p in parts if p)
        return f"Run {runs[0]}: {described}" if described else f"Run {runs[0]}"
    if entity is Entity.SAMPLE and samples:
        described = " ".join(p for p in (organism, tissue) if p)
        accessions = [s for s in samples[1:] if accession_kind(s)]
        tail = f" ({', '.join(accessions)})" if accessions else ""
        return f"Sample {samples[0]}" + (f": {described}" if described else "") + tail
    # A row naming neither (an instrument log, a reagent list): where it is and what it says.
    shown = ", ".join(f"{k} {v}" for k, v in list(row.values.items())[:3])
    return f"{row.where}: {shown}"
