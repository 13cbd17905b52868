"""Assets of an ISA-Tab investigation: one per investigation, study, assay, sample and data file,
with the typed links between them (assay -> study -> investigation, file -> sample, assay, file)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

from indexer.access import GroupGrant
from indexer.sources.eln import as_datetime, iso_date
from indexer.sources.isatab_links import FileRecord, add_new
from indexer.sources.isatab_tables import Investigation, StudyInfo, Table, is_file_column
from labsearch import identifiers as ids
from labsearch.schema import Asset, AssetKind, DataLevel, Entity, Link, LinkType, Provenance

Summarizer = tuple[Callable[..., Any], Callable[..., Any], Callable[..., Any]]


def _data_level(columns: list[str]) -> DataLevel | None:
    """Raw data file columns mean raw data; Derived ... File columns mean processed data."""
    if any(c.startswith("Derived") for c in columns):
        return DataLevel.PROCESSED
    if any(c.startswith(("Raw", "Array Data", "Free Induction", "Acquisition")) for c in columns):
        return DataLevel.RAW
    return None


def _when(day: str | None) -> datetime | None:
    """A submission date as the asset's creation time (midnight UTC)."""
    return as_datetime(date.fromisoformat(day)) if day else None


@dataclass
class IsaAssets:
    """Builds the assets of one investigation; ids are `isatab:{investigation}:{kind}:{name}`."""

    uri: str
    directory: Path
    investigation_id: str

    def asset_id(self, kind: str, name: str) -> str:
        return f"isatab:{self.investigation_id}:{kind}:{name}"

    def investigation(self, investigation: Investigation, path: Path, access: GroupGrant) -> Asset:
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
            **access.asset_fields(),
            created_at=_when(day),
            source=self.uri,
            provenance=Provenance(source=self.uri, path=str(path), record_id=self.investigation_id),
        )

    def study(
        self,
        study: StudyInfo,
        study_id: str,
        inv_asset_id: str,
        assays: list[str],
        access: GroupGrant,
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
            **access.asset_fields(),
            created_at=_when(metadata.get("date")),
            source=self.uri,
            provenance=Provenance(
                source=self.uri,
                path=str(self.directory / (study.first("Study File Name") or "")),
                record_id=study_id,
            ),
        )

    def assay(
        self,
        assay: dict[str, str],
        table: Table,
        study_id: str,
        access: GroupGrant,
        samples: dict[str, dict[str, Any]],
    ) -> Asset:
        sample_names: list[str] = []
        data_files: list[str] = []
        for row in table.rows:
            add_new(sample_names, *row.values("Sample Name"))
            add_new(data_files, *row.names(is_file_column))
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
            **access.asset_fields(),
            source=self.uri,
            provenance=Provenance(source=self.uri, path=str(table.path), record_id=assay["file"]),
        )

    def sample(self, name: str, sample: dict[str, Any], access: GroupGrant) -> Asset:
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
            **access.asset_fields(),
            source=self.uri,
            provenance=Provenance(source=self.uri, path=str(self.directory), record_id=name),
            errors=errors,
        )

    def files(
        self,
        record: FileRecord,
        samples: dict[str, dict[str, Any]],
        access: GroupGrant,
        helpers: Summarizer | None,
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
            **access.asset_fields(),
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
