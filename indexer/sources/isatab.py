"""ISA-Tab investigations: `isatab+file:///path/to/dir`.

Reads the investigation file (i_*.txt), then each study table (s_*.txt) and assay table (a_*.txt)
it names, and yields one asset per investigation, study, assay, sample and data file. A data file
links `uses_sample` to every sample whose row names it and `part_of` to its assays, and carries
the extract, labeled extract, assay/hybridization and scan names of those rows as identifiers, so
"which files came from sample C-0.07-aliquot1" is an exact question.

Why not a library: `isatools` pins old numpy/requests/SQLAlchemy versions (it would downgrade
this environment), and `altamisa` rejects the reference example BII-I-1 (it forbids Factor Value
columns in assay tables, which ISA-Tab 1.0 allows). The format itself is tab-separated text, so
the csv module reads it (isatab_tables.py); isatab_links.py gathers which samples, extracts
and assays lie behind each data file; isatab_assets.py builds the assets and their links.
"""

from __future__ import annotations

import csv
from collections.abc import Generator, Iterator
from pathlib import Path
from typing import Any

from indexer.access import resolve_groups
from indexer.sources.base import SourceIssue, path_from_uri
from indexer.sources.isatab_assets import IsaAssets, Summarizer
from indexer.sources.isatab_links import FileRecord, collect_files, collect_samples, sample_entry
from indexer.sources.isatab_tables import (
    StudyInfo,
    Table,
    parse_investigation,
    read_table,
    read_text,
)
from labsearch.errors import SourceError
from labsearch.schema import Asset
from labsearch.settings import Settings

SCHEME = "isatab+file"


def _summarizer() -> Summarizer | None:
    """The shared summary helpers, if the extractors are installed in this checkout."""
    try:
        from indexer.extractors import summarize  # noqa: F401  (the extractors are present)
        from indexer.sources._content import chunk_assets, merge_summary, summarize_file
    except ImportError:
        return None
    return summarize_file, merge_summary, chunk_assets


class IsaTabSource:
    """Assets for one ISA-Tab investigation directory."""

    def __init__(self, uri: str, settings: Settings) -> None:
        self.uri = uri
        self.settings = settings
        self.directory = path_from_uri(uri, SCHEME)

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
        try:
            investigation = parse_investigation(read_text(inv_path, problems))
        except ValueError as exc:
            raise SourceError(f"{self.uri}: {inv_path.name}: {exc}; fix the file") from exc
        for problem in problems:
            yield SourceIssue(self.uri, inv_path.name, problem)
        investigation_id = (
            investigation.first("Investigation Identifier")
            or (investigation.studies[0].first("Study Identifier") if investigation.studies else "")
            or self.directory.name
        )
        access = resolve_groups(self.settings, self.uri, None, [str(self.directory)])
        assets = IsaAssets(self.uri, self.directory, investigation_id)
        inv_asset_id = assets.asset_id("investigation", investigation_id)
        yield assets.investigation(investigation, inv_path, access)

        samples: dict[str, dict[str, Any]] = {}
        files: dict[str, FileRecord] = {}
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
                collect_samples(table, study_id, samples)
            assay_ids = []
            for assay in self._assays(study):
                table = yield from self._table(assay["file"], "Study Assay File Name")
                if table is None:
                    continue
                assay_ids.append(assay["file"])
                yield assets.assay(assay, table, study_id, access, samples)
                collect_files(table, assay["file"], study_id, files)
                for row in table.rows:  # every sample an assay names gets an asset to link to
                    for name in row.values("Sample Name"):
                        if name not in samples:
                            samples[name] = sample_entry(study_id, only_in_assay=assay["file"])
            yield assets.study(study, study_id, inv_asset_id, assay_ids, access, samples)

        for name, sample in samples.items():
            yield assets.sample(name, sample, access)
        helpers = _summarizer()
        for record in files.values():
            yield from assets.files(record, samples, access, helpers)

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
