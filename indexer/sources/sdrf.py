"""SDRF files: `sdrf+file:///path/PXD000561.sdrf.tsv`, or a directory of `*.sdrf.tsv` /
`*.sdrf.txt` files (SDRF-Proteomics, and the SDRF of MAGE-TAB / ArrayExpress).

One sample asset per distinct `source name` (`sdrf:{path}#sample={name}`) and one file asset per
data file (`comment[data file]`, MAGE-TAB's `array data file`, ...: `sdrf:{path}#file={name}`),
linked `uses_sample` to its samples and carrying their characteristics, so "which raw files
came from sample X" and "which files are of adrenal gland" are both answerable. A ragged row or
a row without a source name is a SourceIssue naming the file, row and column; the rest of the
file is still indexed.

Why not the `sdrf-pipelines` package: it installs cleanly, but its reader is
`pandas.read_csv(dtype=str)`: one ragged row fails the whole file, repeated columns (SDRF
repeats `comment[modification parameters]`, some files `characteristics[age]`) come back
renamed, and its validation needs ontology look-ups over the network. The file is a plain TSV.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from indexer.access import GroupGrant, resolve_groups
from indexer.sources.base import SourceIssue, path_from_uri
from indexer.sources.sdrf_rows import (
    FileRecord,
    SampleRecord,
    SdrfRow,
    collect,
    layout,
    parse_row,
    single,
)
from indexer.sources.table_read import NotATable, read_tables
from labsearch import identifiers as ids
from labsearch.errors import SourceError
from labsearch.schema import Asset, AssetKind, DataLevel, Entity, Link, LinkType, Provenance
from labsearch.settings import Settings

SCHEME = "sdrf+file"
_SUFFIXES = (".sdrf.tsv", ".sdrf.txt")


class SdrfSource:
    """Assets for the samples and data files of one SDRF file or a directory of them."""

    def __init__(self, uri: str, settings: Settings) -> None:
        self.uri = uri
        self.settings = settings
        self.root = path_from_uri(uri, SCHEME)

    def scan(self) -> Iterator[Asset | SourceIssue]:
        for path in self._paths():
            yield from self._file(path)

    def _paths(self) -> list[Path]:
        if self.root.is_file():
            return [self.root]
        if self.root.is_dir():
            return sorted(
                p for p in self.root.iterdir() if p.is_file() and p.name.lower().endswith(_SUFFIXES)
            )
        raise SourceError(
            f"{self.uri}: {self.root} does not exist; give an SDRF file (*.sdrf.tsv) or a "
            "directory of them as sdrf+file:///absolute/path"
        )

    def _file(self, path: Path) -> Iterator[Asset | SourceIssue]:
        label = path.name
        keep = f"sdrf:{path}"  # a file that cannot be read this time keeps its assets
        try:
            [table] = read_tables(path, delimiter="\t")
        except NotATable as exc:
            where = f"{label}, row {exc.row}" if exc.row else label
            yield SourceIssue(self.uri, where, exc.reason, keep=keep)
            return
        except OSError as exc:
            yield SourceIssue(self.uri, label, f"cannot read: {exc.strerror or exc}", keep=keep)
            return
        columns = layout(table.header)
        if not columns.has_source:
            yield SourceIssue(
                self.uri,
                f"{label}, row {table.header_row}",
                "no 'source name' column; is this an SDRF file?",
                "source name",
                keep=keep,
            )
            return
        # What a ragged row named, so its indexed asset is kept: its data file, else its sample.
        ragged = {number: parse_row(columns, number, cells) for number, cells in table.ragged}
        for problem in table.problems:
            where = f"{label}, row {problem.row}" if problem.row else label
            row = ragged.get(problem.row) if problem.row is not None else None
            keep = None
            if row is not None and row.data_files:
                keep = f"sdrf:{path}#file={row.data_files[0][0]}"
            elif row is not None and row.source:
                keep = f"sdrf:{path}#sample={row.source}"
            yield SourceIssue(self.uri, where, problem.reason, problem.column, keep=keep)
        rows: list[SdrfRow] = []
        for number, cells in table.rows:
            row = parse_row(columns, number, cells)
            if not row.source:
                yield SourceIssue(
                    self.uri,
                    f"{label}, row {number}",
                    "no source name: the row's sample is unknown, so it is not indexed",
                    "source name",
                )
                continue
            rows.append(row)
        samples: dict[str, SampleRecord] = {}
        files: dict[str, FileRecord] = {}
        collect(rows, samples, files)
        access = resolve_groups(self.settings, self.uri, None, [str(path.parent), str(path)])
        project = _project(path, rows)
        for sample in samples.values():
            yield self._sample_asset(path, sample, project, access)
        for record in files.values():
            yield self._file_asset(path, record, samples, project, access)

    def _sample_asset(
        self, path: Path, sample: SampleRecord, project: str | None, access: GroupGrant
    ) -> Asset:
        characteristics = {k: single(v) for k, v in sample.characteristics.items()}
        factors = {k: single(v) for k, v in sample.factors.items()}
        organism = _one(sample.characteristics.get("organism"))
        metadata: dict[str, Any] = {
            "samples": [sample.name],
            "source_name": sample.name,
            "characteristics": characteristics,
            "factors": factors,
            "organism": organism,
            "project": project,
            "data_files": sample.data_files,
        }
        described = [
            _one(sample.characteristics.get(k)) for k in ("organism part", "cell type", "disease")
        ]
        # "normal" and "none" are SDRF's healthy controls: no word for a title.
        words = [w for w in (organism, *described) if w and w.lower() not in ("normal", "none")]
        # SDRF source names are often "Sample 1": no "Sample Sample 1".
        head = sample.name if sample.name.lower().startswith("sample") else f"Sample {sample.name}"
        title = head + (f": {', '.join(words)}" if words else "")
        text = [title, *(f"{k}: {_shown(v)}" for k, v in {**characteristics, **factors}.items())]
        return Asset(
            id=f"sdrf:{path}#sample={sample.name}",
            source=self.uri,
            kind=AssetKind.SAMPLE,
            entity=Entity.SAMPLE,
            title=title,
            text="\n".join(text),
            metadata=_compact(metadata),
            identifiers=ids.collect(
                [sample.name, project or ""],
                ids.from_text(" ".join(map(_shown, characteristics.values()))),
            ),
            **access.asset_fields(),
            provenance=Provenance(source=self.uri, path=str(path), record_id=sample.name),
        )

    def _file_asset(
        self,
        path: Path,
        record: FileRecord,
        samples: dict[str, SampleRecord],
        project: str | None,
        access: GroupGrant,
    ) -> Asset:
        local = path.parent / record.name
        present = local.is_file()
        organism = _one(record.characteristics.get("organism"))
        metadata: dict[str, Any] = {
            "file_name": record.name,
            "samples": record.samples,
            "assay_names": record.assay_names,
            "assay": _one(record.technology),
            "instrument": _one(record.instruments),
            "labels": record.labels,
            "fraction_identifiers": record.fractions,
            "technical_replicates": record.technical_replicates,
            "file_uri": single(record.uris) if record.uris else None,
            "run_id": _one(record.runs),
            "organism": organism,
            "project": project,
            "characteristics": {k: single(v) for k, v in record.characteristics.items()},
            "factors": {k: single(v) for k, v in record.factors.items()},
            "comments": {k: single(v) for k, v in record.comments.items()},
            "file_present": present,
            "size": local.stat().st_size if present else None,
        }
        title = _file_title(record, samples, organism)
        lines = [title]
        lines += [f"{k}: {_shown(v)}" for k, v in metadata["characteristics"].items()]
        lines += [f"factor {k}: {_shown(v)}" for k, v in metadata["factors"].items()]
        return Asset(
            id=f"sdrf:{path}#file={record.name}",
            source=self.uri,
            kind=AssetKind.FILE,
            entity=Entity.FILE,
            title=title,
            text="\n".join(lines),
            metadata=_compact(metadata),
            identifiers=ids.collect(
                [record.name, project or ""],
                record.samples,
                record.assay_names,
                record.runs,
                [uri.rsplit("/", 1)[-1] for uri in record.uris],
            ),
            data_level=DataLevel.PROCESSED if record.derived else DataLevel.RAW,
            links=[
                Link(rel=LinkType.USES_SAMPLE, target=f"sdrf:{path}#sample={name}")
                for name in record.samples
            ],
            **access.asset_fields(),
            provenance=Provenance(
                source=self.uri, path=str(local) if present else None, record_id=record.name
            ),
        )


def _file_title(record: FileRecord, samples: dict[str, SampleRecord], organism: str | None) -> str:
    """ "run01.raw: proteomic profiling by mass spectrometry of Sample 1 (Homo sapiens, adrenal
    gland) on LTQ Orbitrap Velos"."""
    parts = [record.name + ":"]
    if record.technology:
        parts.append(record.technology[0])
    if len(record.samples) == 1:
        sample = samples[record.samples[0]]
        what = [organism, _one(sample.characteristics.get("organism part"))]
        shown = ", ".join(w for w in what if w)
        parts.append(f"of {record.samples[0]}" + (f" ({shown})" if shown else ""))
    elif record.samples:
        parts.append(f"of {len(record.samples)} samples")
    if record.instruments:
        parts.append(f"on {record.instruments[0]}")
    return " ".join(parts) if len(parts) > 1 else record.name


def _project(path: Path, rows: list[SdrfRow]) -> str | None:
    """The study accession: a ProteomeXchange/MetaboLights/ArrayExpress accession naming the
    file (PXD000561.sdrf.tsv, PXD019515Hela.sdrf.tsv), else one a column gives."""
    stem = path.name.split(".sdrf", 1)[0]
    for _, pattern in ids.ACCESSION_KINDS:
        match = pattern.match(stem)
        if match and not stem[match.end() : match.end() + 1].isdigit():
            return match.group(0)
    for row in rows:
        for name in ("proteomexchange accession number", "arrayexpress accession"):
            if value := row.comment(name):
                return value
    return None


def _one(values: list[str] | None) -> str | None:
    """The value when there is exactly one (a normalized key holds one value)."""
    return values[0] if values and len(values) == 1 else None


def _shown(value: Any) -> str:
    return ", ".join(value) if isinstance(value, list) else str(value)


def _compact(metadata: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in metadata.items() if v not in (None, "", [], {})}
