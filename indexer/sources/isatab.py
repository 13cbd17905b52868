"""ISA-Tab investigations: `isatab+file:///path/to/dir`.

Reads the investigation file (i_*.txt), then each study table (s_*.txt) and assay table (a_*.txt)
it names, and yields one asset per investigation, study, assay, sample and data file. A data file
links `uses_sample` to every sample whose row names it and `part_of` to its assays, and carries
the extract, labeled extract, assay/hybridization and scan names of those rows as identifiers, so
"which files came from sample C-0.07-aliquot1" is an exact question.

Why not a library: `isatools` pins old numpy/requests/SQLAlchemy versions (it would downgrade
this environment), and `altamisa` rejects the reference example BII-I-1 (it forbids Factor Value
columns in assay tables, which ISA-Tab 1.0 allows). The format itself is tab-separated text, so
the csv module reads it; the work is in ISA-Tab's column grammar, handled in `parse_row`.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

from indexer.access import resolve_groups
from indexer.sources.base import SourceIssue, path_from_uri
from indexer.sources.eln import as_datetime, iso_date
from labsearch import identifiers as ids
from labsearch.errors import SourceError
from labsearch.schema import Asset, AssetKind, DataLevel, Entity, Link, LinkType, Provenance
from labsearch.settings import Settings

SCHEME = "isatab+file"

# Column headers that start a new node in a study/assay row. Everything else (Characteristics,
# Factor Value, Parameter Value, Comment, Unit, Term Source REF, ...) qualifies the node before it.
_MATERIAL_COLUMNS = {"Source Name", "Sample Name", "Extract Name", "Labeled Extract Name"}
_NAME_COLUMNS = _MATERIAL_COLUMNS | {
    "Assay Name",
    "MS Assay Name",
    "NMR Assay Name",
    "Hybridization Assay Name",
    "Scan Name",
    "Normalization Name",
    "Data Transformation Name",
}
_BRACKETED = re.compile(r"^(Characteristics|Factor Value|Parameter Value|Comment)\s*\[(.+)\]$")
_QUALIFIERS = {"Unit", "Term Source REF", "Term Accession Number"}
_SECTION = re.compile(r"^[A-Z][A-Z ]+$")


def is_file_column(header: str) -> bool:
    """`Raw Data File`, `Array Data File`, `Derived Spectral Data File`, ...; not design files."""
    return header.endswith(" File") and header not in {"Array Design File"}


@dataclass
class Node:
    """One node of a row: a material, a named process output, a data file or a protocol step."""

    column: str
    value: str
    attributes: dict[str, str] = field(default_factory=dict)


@dataclass
class Row:
    nodes: list[Node]
    factors: dict[str, str]

    def values(self, column: str) -> list[str]:
        return [n.value for n in self.nodes if n.column == column and n.value]

    def names(self, predicate: Callable[[str], bool]) -> list[str]:
        return [n.value for n in self.nodes if predicate(n.column) and n.value]


def parse_row(headers: list[str], cells: list[str]) -> Row:
    """Group a table row's cells into nodes, attaching attributes to the node they follow.

    ISA-Tab repeats headers ("Protocol REF", "Term Source REF", "Unit", "Characteristics[...]"),
    so meaning comes from position: an attribute belongs to the nearest node to its left, and a
    Unit / Term Source REF / Term Accession Number to the attribute just before it. Factor values
    describe the whole row (they often sit after the data file columns).
    """
    nodes: list[Node] = []
    factors: dict[str, str] = {}
    last_attribute: tuple[dict[str, str], str] | None = None
    for header, raw in zip(headers, cells, strict=False):
        header = header.strip()
        value = raw.strip()
        if header in _NAME_COLUMNS or header == "Protocol REF" or is_file_column(header):
            nodes.append(Node(header, value))
            last_attribute = None
            continue
        if header in _QUALIFIERS:
            # Units read naturally after their value ("0.07 l/hr"). Ontology source refs and
            # term accessions (URIs nobody types into a search box) are left out.
            if header == "Unit" and last_attribute and value:
                target, key = last_attribute
                target[key] = f"{target[key]} {value}"
            continue
        match = _BRACKETED.match(header)
        kind, key = (match.group(1), match.group(2).strip()) if match else ("", header)
        if kind == "Factor Value":
            target = factors
        elif nodes:
            target = nodes[-1].attributes
        else:
            continue
        label = key if kind in ("Characteristics", "Factor Value", "") else f"{kind}[{key}]"
        if value:
            target[label] = value
            last_attribute = (target, label)
        else:
            last_attribute = None
    return Row(nodes, factors)


@dataclass
class Table:
    path: Path
    headers: list[str]
    rows: list[Row]


@dataclass
class StudyInfo:
    fields: dict[str, list[str]]

    def first(self, key: str) -> str:
        values = self.fields.get(key) or [""]
        return values[0].strip()

    def column(self, key: str) -> list[str]:
        return [v.strip() for v in self.fields.get(key, [])]


@dataclass
class Investigation:
    fields: dict[str, list[str]]
    studies: list[StudyInfo]

    def first(self, key: str) -> str:
        values = self.fields.get(key) or [""]
        return values[0].strip()


def read_text(path: Path, issues: list[str]) -> str:
    """UTF-8 (with or without BOM); undecodable bytes are replaced and reported."""
    data = path.read_bytes()
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        issues.append(f"not valid UTF-8 at byte {exc.start}; undecodable bytes were replaced")
        return data.decode("utf-8-sig", errors="replace")


def parse_investigation(text: str) -> Investigation:
    """Sections of `Key<TAB>value<TAB>value...` lines; each STUDY starts a new study block."""
    top: dict[str, list[str]] = {}
    studies: list[StudyInfo] = []
    current = top
    for cells in csv.reader(io.StringIO(text), delimiter="\t"):
        if not cells or not cells[0].strip() or cells[0].startswith("#"):
            continue
        key = cells[0].strip()
        values = [c for c in cells[1:]]
        while values and not values[-1].strip():
            values.pop()
        if not values and _SECTION.match(key):
            if key == "STUDY":
                studies.append(StudyInfo({}))
                current = studies[-1].fields
            continue
        current.setdefault(key, values)
    return Investigation(top, studies)


def read_table(path: Path, issues: list[str]) -> Table:
    reader = csv.reader(io.StringIO(read_text(path, issues)), delimiter="\t")
    lines = [cells for cells in reader if any(c.strip() for c in cells)]
    if not lines:
        raise ValueError("the table is empty (no header row)")
    headers = [h.strip() for h in lines[0]]
    if "Sample Name" not in headers:
        raise ValueError("no 'Sample Name' column; is this an ISA-Tab study or assay table?")
    rows = []
    for number, cells in enumerate(lines[1:], start=2):
        if len(cells) != len(headers):
            issues.append(f"line {number}: {len(cells)} cells but {len(headers)} columns")
        rows.append(parse_row(headers, cells))
    return Table(path, headers, rows)


def _summarizer() -> tuple[Callable[..., Any], Callable[..., Any], Callable[..., Any]] | None:
    """The shared summary helpers, if the extractors are installed in this checkout."""
    try:
        from indexer.extractors import summarize  # noqa: F401  (the extractors are present)
        from indexer.sources._content import chunk_assets, merge_summary, summarize_file
    except ImportError:
        return None
    return summarize_file, merge_summary, chunk_assets


@dataclass
class _FileRecord:
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


def _data_level(columns: list[str]) -> DataLevel | None:
    """Raw data file columns mean raw data; Derived ... File columns mean processed data."""
    if any(c.startswith("Derived") for c in columns):
        return DataLevel.PROCESSED
    if any(c.startswith(("Raw", "Array Data", "Free Induction", "Acquisition")) for c in columns):
        return DataLevel.RAW
    return None


def _sample_entry(study_id: str | None = None, only_in_assay: str | None = None) -> dict[str, Any]:
    """What is known of a sample while the tables are read."""
    return {
        "studies": [study_id] if study_id else [],
        "sources": [],
        "characteristics": {},
        "factors": {},
        "only_in_assay": only_in_assay,
    }


def _when(day: str | None) -> datetime | None:
    """A submission date as the asset's creation time (midnight UTC)."""
    return as_datetime(date.fromisoformat(day)) if day else None


def _add(values: list[str], *new: str) -> None:
    for value in new:
        if value and value not in values:
            values.append(value)


class IsaTabSource:
    """Assets for one ISA-Tab investigation directory."""

    def __init__(self, uri: str, settings: Settings) -> None:
        self.uri = uri
        self.settings = settings
        self.directory = path_from_uri(uri, SCHEME)
        self.investigation_id = ""

    def asset_id(self, kind: str, name: str) -> str:
        return f"isatab:{self.investigation_id}:{kind}:{name}"

    def _investigation_file(self) -> Path:
        if not self.directory.is_dir():
            raise SourceError(
                f"{self.uri}: {self.directory} is not a directory; give the directory that holds "
                "the ISA-Tab i_*.txt, s_*.txt and a_*.txt files"
            )
        found = sorted(self.directory.glob("i_*.txt"))
        if len(found) != 1:
            what = "no i_*.txt investigation file" if not found else f"{len(found)} i_*.txt files"
            raise SourceError(
                f"{self.uri}: {what} in {self.directory}; an ISA-Tab directory holds exactly one"
            )
        return found[0]

    def scan(self) -> Iterator[Asset | SourceIssue]:
        inv_path = self._investigation_file()
        problems: list[str] = []
        investigation = parse_investigation(read_text(inv_path, problems))
        for problem in problems:
            yield SourceIssue(self.uri, inv_path.name, problem)
        self.investigation_id = (
            investigation.first("Investigation Identifier")
            or (investigation.studies[0].first("Study Identifier") if investigation.studies else "")
            or self.directory.name
        )
        groups = resolve_groups(self.settings, self.uri, None, [str(self.directory)])
        inv_asset_id = self.asset_id("investigation", self.investigation_id)
        yield self._investigation_asset(investigation, inv_path, groups)

        samples: dict[str, dict[str, Any]] = {}
        files: dict[str, _FileRecord] = {}
        for number, study in enumerate(investigation.studies, start=1):
            study_id = study.first("Study Identifier") or f"study-{number}"
            study_file = study.first("Study File Name")
            table: Table | None = None
            if not study_file:
                yield SourceIssue(
                    self.uri, inv_path.name, f"study {study_id} names no file", "Study File Name"
                )
            else:
                table = yield from self._table(study_file, "Study File Name")
            if table is not None:
                self._collect_samples(table, study_id, samples)
            assay_ids = []
            for assay in self._assays(study):
                table = yield from self._table(assay["file"], "Study Assay File Name")
                if table is None:
                    continue
                assay_ids.append(assay["file"])
                yield self._assay_asset(assay, table, study_id, groups, samples)
                self._collect_files(table, assay["file"], study_id, files)
                for row in table.rows:  # every sample an assay names gets an asset to link to
                    for name in row.values("Sample Name"):
                        if name not in samples:
                            samples[name] = _sample_entry(study_id, only_in_assay=assay["file"])
            yield self._study_asset(study, study_id, inv_asset_id, assay_ids, groups, samples)

        for name, sample in samples.items():
            yield self._sample_asset(name, sample, groups)
        helpers = _summarizer()
        for record in files.values():
            yield from self._file_assets(record, samples, groups, helpers)

    # -- reading -----------------------------------------------------------------------------

    def _table(self, name: str, field_name: str) -> Generator[SourceIssue, None, Table | None]:
        """Read a study/assay table, yielding its issues; `yield from` gives the Table or None."""
        path = self.directory / name
        if not path.is_file():
            yield SourceIssue(
                self.uri,
                name,
                f"listed in the investigation file but missing from {self.directory}",
                field_name,
            )
            return None
        problems: list[str] = []
        try:
            table = read_table(path, problems)
        except (ValueError, csv.Error, OSError) as exc:
            yield SourceIssue(self.uri, name, str(exc))
            return None
        for problem in problems:
            yield SourceIssue(self.uri, name, problem)
        return table

    @staticmethod
    def _assays(study: StudyInfo) -> list[dict[str, str]]:
        files = study.column("Study Assay File Name")
        measurement = study.column("Study Assay Measurement Type")
        technology = study.column("Study Assay Technology Type")
        platform = study.column("Study Assay Technology Platform")

        def at(values: list[str], i: int) -> str:
            return values[i] if i < len(values) else ""

        return [
            {
                "file": name,
                "measurement": at(measurement, i),
                "technology": at(technology, i),
                "platform": at(platform, i),
            }
            for i, name in enumerate(files)
            if name
        ]

    @staticmethod
    def _collect_samples(table: Table, study_id: str, samples: dict[str, dict[str, Any]]) -> None:
        for row in table.rows:
            source_attrs: dict[str, str] = {}
            source_names = row.values("Source Name")
            for node in row.nodes:
                if node.column == "Source Name":
                    source_attrs.update(node.attributes)
                if node.column != "Sample Name" or not node.value:
                    continue
                sample = samples.setdefault(node.value, _sample_entry())
                _add(sample["studies"], study_id)
                _add(sample["sources"], *source_names)
                sample["characteristics"].update(
                    {**source_attrs, **{k: v for k, v in node.attributes.items()}}
                )
                sample["factors"].update(row.factors)
                sample["protocols"] = row.values("Protocol REF")

    @staticmethod
    def _collect_files(
        table: Table, assay_file: str, study_id: str, files: dict[str, _FileRecord]
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
                record = files.setdefault(node.value, _FileRecord(node.value))
                _add(record.columns, node.column)
                _add(record.samples, *sample_names)
                _add(record.extracts, *extracts)
                _add(record.labeled_extracts, *labeled)
                _add(record.assay_names, *assay_names)
                _add(record.scans, *scans)
                _add(record.assays, assay_file)
                _add(record.studies, study_id)
                _add(record.accessions, *accessions)
                if "Derived" in node.column:
                    _add(record.derived_from, *(f for f in raw_files if f != node.value))
                for key, value in row.factors.items():
                    _add(record.factors.setdefault(key, []), value)

    # -- assets ------------------------------------------------------------------------------

    def _investigation_asset(
        self, investigation: Investigation, path: Path, groups: list[str]
    ) -> Asset:
        title = investigation.first("Investigation Title") or self.investigation_id
        description = investigation.first("Investigation Description")
        metadata: dict[str, Any] = {
            "investigation_id": self.investigation_id,
            "studies": [s.first("Study Identifier") for s in investigation.studies],
            "project": self.investigation_id,
        }
        day = iso_date(investigation.first("Investigation Submission Date"))
        if day:
            metadata["date"] = day
        release = iso_date(investigation.first("Investigation Public Release Date"))
        if release:
            metadata["public_release_date"] = release
        pubmed = [v for v in investigation.fields.get("Investigation PubMed ID", []) if v]
        if pubmed:
            metadata["pubmed_ids"] = pubmed
        return Asset(
            id=self.asset_id("investigation", self.investigation_id),
            kind=AssetKind.INVESTIGATION,
            entity=Entity.EXPERIMENT,
            title=title,
            text=description,
            metadata=metadata,
            identifiers=ids.collect([self.investigation_id], metadata["studies"], pubmed),
            groups=groups,
            created_at=_when(day),
            source=self.uri,
            provenance=Provenance(source=self.uri, path=str(path), record_id=self.investigation_id),
        )

    def _study_asset(
        self,
        study: StudyInfo,
        study_id: str,
        inv_asset_id: str,
        assays: list[str],
        groups: list[str],
        samples: dict[str, dict[str, Any]],
    ) -> Asset:
        members = [name for name, s in samples.items() if study_id in s["studies"]]
        organisms = sorted(
            {samples[n]["characteristics"].get("organism") for n in members} - {None, ""}
        )
        metadata: dict[str, Any] = {
            "study_id": study_id,
            "investigation_id": self.investigation_id,
            "experiment_id": study_id,
            "project": self.investigation_id,
            "design": [v for v in study.column("Study Design Type") if v],
            "factors": [v for v in study.column("Study Factor Name") if v],
            "protocols": [v for v in study.column("Study Protocol Name") if v],
            "assays": assays,
            "samples": members,
            "pubmed_ids": [v for v in study.column("Study PubMed ID") if v],
            "dois": [v for v in study.column("Study Publication DOI") if v],
            "contacts": [
                " ".join(part for part in (first, last) if part)
                for first, last in zip(
                    study.column("Study Person First Name"),
                    study.column("Study Person Last Name"),
                    strict=False,
                )
            ],
        }
        if organisms:
            metadata["organism"] = organisms[0] if len(organisms) == 1 else organisms
        day = iso_date(study.first("Study Submission Date"))
        if day:
            metadata["date"] = day
        metadata = {k: v for k, v in metadata.items() if v not in ([], "", None)}
        lines = [study.first("Study Description")]
        lines += [
            f"{label}: {', '.join(metadata[key])}"
            for label, key in (
                ("Design", "design"),
                ("Factors", "factors"),
                ("Protocols", "protocols"),
                ("Assays", "assays"),
            )
            if metadata.get(key)
        ]
        return Asset(
            id=self.asset_id("study", study_id),
            kind=AssetKind.STUDY,
            entity=Entity.EXPERIMENT,
            title=study.first("Study Title") or study_id,
            text="\n".join(line for line in lines if line),
            metadata=metadata,
            identifiers=ids.collect(
                [study_id, self.investigation_id], metadata.get("pubmed_ids", [])
            ),
            links=[Link(rel=LinkType.PART_OF, target=inv_asset_id)],
            groups=groups,
            created_at=_when(metadata.get("date")),
            source=self.uri,
            provenance=Provenance(
                source=self.uri,
                path=str(self.directory / (study.first("Study File Name") or "")),
                record_id=study_id,
            ),
        )

    def _assay_asset(
        self,
        assay: dict[str, str],
        table: Table,
        study_id: str,
        groups: list[str],
        samples: dict[str, dict[str, Any]],
    ) -> Asset:
        sample_names: list[str] = []
        data_files: list[str] = []
        for row in table.rows:
            _add(sample_names, *row.values("Sample Name"))
            _add(data_files, *row.names(is_file_column))
        measurement, technology, platform = (
            assay["measurement"],
            assay["technology"],
            assay["platform"],
        )
        metadata: dict[str, Any] = {
            "assay": measurement,
            "measurement_type": measurement,
            "technology_type": technology,
            "instrument": platform,
            "technology_platform": platform,
            "study_id": study_id,
            "experiment_id": study_id,
            "investigation_id": self.investigation_id,
            "project": self.investigation_id,
            "samples": sample_names,
            "data_files": data_files,
        }
        metadata = {k: v for k, v in metadata.items() if v not in ([], "", None)}
        title = " ".join(p for p in (measurement, "using", technology) if p) if technology else ""
        title = f"{study_id} assay {assay['file']}" + (f": {title}" if title else "")
        links = [Link(rel=LinkType.PART_OF, target=self.asset_id("study", study_id))]
        links += [
            Link(rel=LinkType.USES_SAMPLE, target=self.asset_id("sample", s)) for s in sample_names
        ]
        links += [Link(rel=LinkType.PRODUCED, target=self.asset_id("file", f)) for f in data_files]
        text = "\n".join(
            f"{label}: {value}"
            for label, value in (
                ("Measurement", measurement),
                ("Technology", technology),
                ("Platform", platform),
                ("Samples", ", ".join(sample_names)),
            )
            if value
        )
        return Asset(
            id=self.asset_id("assay", assay["file"]),
            kind=AssetKind.ASSAY,
            entity=Entity.EXPERIMENT,
            title=title,
            text=text,
            metadata=metadata,
            # Not the sample names: they name the samples (linked above), and an assay that
            # answered to every sample id would pull all its files into "files of sample X".
            identifiers=ids.collect([assay["file"], study_id]),
            links=links,
            groups=groups,
            source=self.uri,
            provenance=Provenance(source=self.uri, path=str(table.path), record_id=assay["file"]),
        )

    def _sample_asset(self, name: str, sample: dict[str, Any], groups: list[str]) -> Asset:
        characteristics: dict[str, str] = sample["characteristics"]
        factors: dict[str, str] = sample["factors"]
        metadata: dict[str, Any] = {
            "samples": [name],
            "source_names": sample["sources"],
            "characteristics": characteristics,
            "factors": factors,
            "protocols": sample.get("protocols", []),
            "study_id": sample["studies"][0] if sample["studies"] else None,
            "experiment_id": sample["studies"][0] if sample["studies"] else None,
            "investigation_id": self.investigation_id,
            "project": self.investigation_id,
        }
        if characteristics.get("organism"):
            metadata["organism"] = characteristics["organism"]
        metadata = {k: v for k, v in metadata.items() if v not in ([], {}, "", None)}
        described = [f"{k}: {v}" for k, v in {**characteristics, **factors}.items()]
        errors = []
        if sample.get("only_in_assay"):
            errors.append(
                f"named in assay table {sample['only_in_assay']} but in no study table; add it "
                "to the study table so its characteristics are known"
            )
        return Asset(
            id=self.asset_id("sample", name),
            kind=AssetKind.SAMPLE,
            entity=Entity.SAMPLE,
            title=f"Sample {name}",
            text="\n".join(described),
            metadata=metadata,
            identifiers=ids.collect([name], sample["sources"], sample["studies"]),
            links=[
                Link(rel=LinkType.PART_OF, target=self.asset_id("study", s))
                for s in sample["studies"]
            ],
            groups=groups,
            source=self.uri,
            provenance=Provenance(source=self.uri, path=str(self.directory), record_id=name),
            errors=errors,
        )

    def _file_assets(
        self,
        record: _FileRecord,
        samples: dict[str, dict[str, Any]],
        groups: list[str],
        helpers: tuple[Callable[..., Any], Callable[..., Any], Callable[..., Any]] | None,
    ) -> Iterator[Asset]:
        path = self.directory / record.name
        exists = path.is_file()
        organisms = {
            samples[s]["characteristics"].get("organism") for s in record.samples if s in samples
        } - {None, ""}
        metadata: dict[str, Any] = {
            "file_name": record.name,
            "file_types": record.columns,
            "samples": record.samples,
            "extract_names": record.extracts,
            "labeled_extract_names": record.labeled_extracts,
            "assay_names": record.assay_names,
            "scan_names": record.scans,
            "assay_files": record.assays,
            "study_id": record.studies[0] if len(record.studies) == 1 else record.studies,
            "experiment_id": record.studies[0] if len(record.studies) == 1 else None,
            "investigation_id": self.investigation_id,
            "project": self.investigation_id,
            "accessions": record.accessions,
            "factors": record.factors,
        }
        if len(organisms) == 1:
            metadata["organism"] = organisms.pop()
        # ISA-Tab archives often ship the tables without the (large) data files: not an error,
        # the asset still says what the file is and where it came from.
        metadata["file_present"] = exists
        size = path.stat().st_size if exists else 0
        if exists:
            metadata["size"] = size
        metadata = {k: v for k, v in metadata.items() if v not in ([], {}, "", None)}
        links = [
            Link(rel=LinkType.USES_SAMPLE, target=self.asset_id("sample", s))
            for s in record.samples
        ]
        links += [
            Link(rel=LinkType.PART_OF, target=self.asset_id("assay", a)) for a in record.assays
        ]
        links += [
            Link(rel=LinkType.DERIVED_FROM, target=self.asset_id("file", f))
            for f in record.derived_from
        ]
        lines = [
            f"{label}: {', '.join(values)}"
            for label, values in (
                ("Type", record.columns),
                ("Samples", record.samples),
                ("Extracts", record.extracts),
                ("Labeled extracts", record.labeled_extracts),
                ("Assay names", record.assay_names),
                ("Assays", record.assays),
            )
            if values
        ]
        asset = Asset(
            id=self.asset_id("file", record.name),
            kind=AssetKind.FILE,
            entity=Entity.FILE,
            title=record.name,
            text="\n".join(lines),
            metadata=metadata,
            identifiers=ids.collect(
                [record.name],
                record.samples,
                record.extracts,
                record.labeled_extracts,
                record.assay_names,
                record.scans,
                record.studies,
                record.accessions,
            ),
            data_level=_data_level(record.columns),
            links=links,
            groups=groups,
            source=self.uri,
            provenance=Provenance(
                source=self.uri, path=str(path) if exists else None, record_id=record.name
            ),
        )
        chunks: list[Asset] = []
        if size and helpers is not None:  # an empty placeholder has nothing to summarize
            summarize_file, merge_summary, chunk_assets = helpers
            summary = summarize_file(path)
            asset = merge_summary(asset, summary)
            chunks = chunk_assets(asset, summary)
        yield asset
        yield from chunks
