"""What the file-bearing sources (Quilt entries, plain files, S3 objects) share: normalized
metadata keys, merging a content Summary into an asset, chunk assets, and a summary cache.

The cache matters for incremental runs: a re-run of an unchanged source must not re-read every
FASTQ and BAM just to find that nothing changed. Summaries are cached by what identifies the
bytes (a Quilt entry hash, an S3 version id, a file's size + mtime) plus a fingerprint of the
extractor code, so editing an extractor invalidates its old summaries.
"""

from __future__ import annotations

import hashlib
import json
import re
import sqlite3
import threading
from collections.abc import Callable, Iterable, Mapping
from datetime import date, datetime
from pathlib import Path, PurePosixPath
from types import ModuleType
from typing import Any

from indexer.extractors.base import Summary
from labsearch import identifiers as ids
from labsearch.schema import (
    NORMALIZED_METADATA_KEYS,
    Asset,
    AssetKind,
    DataLevel,
    Entity,
    Link,
    LinkType,
)

# The normalized keys every source fills when it knows them, and the source spellings that mean
# the same thing: the column vocabulary of run tables (NCBI SRA RunInfo, ENA filereport), sample
# sheets and SDRF files, and the keys of ELN and package metadata. Keys are compared by
# `column_key` (case and separators ignored), on top-level keys only: nested objects are the
# source's own business and stay verbatim. The first spelling present wins, so the specific
# ones come first (`bioproject` before SRA's numeric `ProjectID`).
NORMALIZED_KEYS = NORMALIZED_METADATA_KEYS
_ALIASES: dict[str, tuple[str, ...]] = {
    "run_id": ("run_id", "run", "run_accession"),
    "samples": (
        "samples",
        "sample_ids",
        "sample_id",
        "sample",
        "sample_names",
        "sample_name",
        "sample_accession",
        "biosample",
        "secondary_sample_accession",
        "sample_alias",
        "source name",
    ),
    "experiment_id": (
        "experiment_id",
        "experiment",
        "eln_id",
        "eln_experiment",
        "eln",
        "experiment_accession",
    ),
    "instrument": (
        "instrument",
        "instrument_model",
        "sequencer_model",
        "sequencer",
        "comment[instrument]",
    ),
    "project": (
        "project",
        "bioproject",
        "project_id",
        "project_name",
        "sample_project",  # Illumina sample sheets
        "study_accession",
        "sra_study",
        "secondary_study_accession",
    ),
    "organism": (
        "organism",
        "species",
        "scientific_name",
        "characteristics[organism]",
        "taxonomic_range",  # Bioschemas BioSample
    ),
    "assay": ("assay", "assay_type", "library_strategy", "technology type"),
    "date": (
        "date",
        "run_date",
        "sequencing_date",
        "collection_date",
        "created",
        "release_date",
        "first_public",
    ),
    "lab": ("lab", "laboratory", "lab_name", "center_name"),
}
# Spellings that mean a normalized key only as a table column: SRA RunInfo's `Model` is the
# instrument, but in free metadata (a Quilt package's) `model` is as likely an ML model.
TABLE_ALIASES: dict[str, tuple[str, ...]] = {"instrument": ("model",)}

# Columns whose values each name one record, by what they name; a table's identifier columns.
# Columns named otherwise still count when every value is a public accession (see
# `labsearch.identifiers.accession_kind`).
IDENTIFIER_COLUMNS: dict[str, tuple[str, ...]] = {
    "run": ("run", "run_accession", "run_id", "run_alias"),
    "experiment": ("experiment", "experiment_accession", "experiment_id", "experiment_alias"),
    "sample": (
        "sample_accession",
        "biosample",
        "secondary_sample_accession",
        "sample",
        "sample_name",
        "sample_id",
        "sample_alias",
        "source name",
        "samples",
    ),
    "study": (
        "sra_study",
        "study_accession",
        "secondary_study_accession",
        "bioproject",
        "study",
        "study_id",
        "geo_accession",
    ),
    "submission": ("submission", "submission_accession"),
    "library": ("library_name", "library_id", "library_alias"),
}
# Columns that name data files: ENA's `fastq_ftp` & co. (several URLs joined by ";"), SRA's
# `download_path`, SDRF's `comment[data file]`, nf-core sample sheets' `fastq_1`/`fastq_2`.
DATA_FILE_COLUMNS: tuple[str, ...] = (
    "fastq_ftp",
    "fastq_aspera",
    "fastq_galaxy",
    "submitted_ftp",
    "submitted_aspera",
    "submitted_galaxy",
    "sra_ftp",
    "sra_aspera",
    "sra_galaxy",
    "bam_ftp",
    "download_path",
    "comment[data file]",
    "comment[file uri]",
    "data_file",
    "file",
    "file_name",
    "file_path",
    "fastq",
    "fastq_1",
    "fastq_2",
)
_SEPARATORS = re.compile(r"[\s_\-.]+")


def column_key(name: str) -> str:
    """How column names and metadata keys are matched: `SampleName`, `sample_name` and
    `Sample Name` are `samplename`; `Characteristics [organism]` is `characteristics[organism]`."""
    return _SEPARATORS.sub("", str(name).lower())


def _keys(table: Mapping[str, tuple[str, ...]]) -> dict[str, tuple[str, ...]]:
    return {target: tuple(map(column_key, names)) for target, names in table.items()}


_ALIAS_KEYS = _keys(_ALIASES)
_TABLE_ALIAS_KEYS = {
    target: keys + _keys(TABLE_ALIASES).get(target, ()) for target, keys in _ALIAS_KEYS.items()
}
IDENTIFIER_COLUMN_ROLES: dict[str, str] = {
    key: role for role, keys in _keys(IDENTIFIER_COLUMNS).items() for key in keys
}
DATA_FILE_COLUMN_KEYS = frozenset(map(column_key, DATA_FILE_COLUMNS))

# What a package entry or file inherits from its package so entity questions about files work
# ("which files came from experiment ELN-123").
INHERITED_KEYS = NORMALIZED_KEYS


def _scalar(value: Any) -> str | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, str | int | float):
        text = str(value).strip()
        return text or None
    return None


def _iso_date(value: Any) -> str | None:
    if isinstance(value, datetime):
        return value.date().isoformat()
    if isinstance(value, date):
        return value.isoformat()
    text = _scalar(value)
    if text is None:
        return None
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00")).date().isoformat()
    except ValueError:
        match = re.fullmatch(r"(\d{4})(\d{2})(\d{2})", text)  # 20240131, common in run folders
        if match:
            try:
                return date(*map(int, match.groups())).isoformat()
            except ValueError:
                return None
    return None


def normalize(metadata: Mapping[str, Any], *, table: bool = False) -> dict[str, Any]:
    """The normalized keys that `metadata` carries under any known spelling (`table`: it is a
    table row, and the table-only spellings count too)."""
    lowered = {column_key(key): value for key, value in metadata.items()}
    found: dict[str, Any] = {}
    for target, aliases in (_TABLE_ALIAS_KEYS if table else _ALIAS_KEYS).items():
        for alias in aliases:
            if alias not in lowered:
                continue
            value = lowered[alias]
            if target == "samples":
                items = value if isinstance(value, list | tuple) else [value]
                samples = [s for s in (_scalar(item) for item in items) if s]
                if samples:
                    found[target] = list(dict.fromkeys(samples))
                    break
            elif target == "date":
                iso = _iso_date(value)
                if iso:
                    found[target] = iso
                    break
            else:
                text = _scalar(value)
                if text:
                    found[target] = text
                    break
    return found


def entity_from(metadata: Mapping[str, Any]) -> Entity | None:
    """An explicit `entity` or `type` in the metadata, if it names one of our entities."""
    for key in ("entity", "type"):
        value = metadata.get(key)
        if isinstance(value, str) and value.strip().lower() in Entity._value2member_map_:
            return Entity(value.strip().lower())
    return None


def data_level_from(metadata: Mapping[str, Any], *names: str) -> DataLevel | None:
    """`data_level` from the metadata, else a raw/processed/final segment of a name or path.

    Segments are split on "/" and then on "-", "_" or ".", so "lab-a/raw-run-0042" is raw.
    """
    value = metadata.get("data_level")
    if isinstance(value, str) and value.strip().lower() in DataLevel._value2member_map_:
        return DataLevel(value.strip().lower())
    for name in names:
        for segment in name.split("/"):
            for token in re.split(r"[-_.]", segment.lower()):
                if token in DataLevel._value2member_map_:
                    return DataLevel(token)
    return None


def describe(metadata: Mapping[str, Any], limit: int = 40) -> list[str]:
    """Readable `key: value` lines for the embedded text (lists joined, objects as JSON)."""
    lines = []
    for key, value in list(metadata.items())[:limit]:
        if isinstance(value, list | tuple):
            shown = ", ".join(str(v) if _scalar(v) else json.dumps(v, default=str) for v in value)
        elif isinstance(value, Mapping):
            shown = json.dumps(value, default=str, ensure_ascii=False)
        else:
            shown = str(value)
        if shown:
            lines.append(f"{key}: {shown[:500]}")
    return lines


def inherited(package_metadata: Mapping[str, Any]) -> dict[str, Any]:
    return {key: package_metadata[key] for key in INHERITED_KEYS if key in package_metadata}


def identifiers_of(normalized: Mapping[str, Any]) -> list[str]:
    """The run id, experiment id and sample ids among normalized keys, exactly as written.

    (Callers add `ids.from_metadata` of the source's own metadata for everything else.)"""
    own = [normalized.get("run_id"), normalized.get("experiment_id")]
    own += list(normalized.get("samples") or [])
    return [str(i) for i in own if i]


def merge_summary(asset: Asset, summary: Summary) -> Asset:
    """Fold a content summary into an asset: its text appended, its metadata under
    `metadata["content"]` and its normalized keys where the asset has none, its identifiers
    added and its errors copied."""
    found = normalize(summary.metadata)
    metadata = dict(asset.metadata)
    metadata["content"] = {"format": summary.format, **summary.metadata}
    metadata.setdefault("format", summary.format)
    for key, value in found.items():
        metadata.setdefault(key, value)
    text = "\n".join(part for part in (asset.text, summary.text) if part)
    return asset.model_copy(
        update={
            "metadata": metadata,
            "text": text,
            "identifiers": ids.collect(
                asset.identifiers, summary.identifiers, identifiers_of(found)
            ),
            "errors": list(dict.fromkeys([*asset.errors, *summary.errors])),
        }
    )


def chunk_assets(asset: Asset, summary: Summary) -> list[Asset]:
    """One `chunk` asset per passage of a long document (only when there is more than one)."""
    if len(summary.chunks) <= 1:
        return []
    return [
        Asset(
            id=f"{asset.id}#chunk-{number}",
            source=asset.source,
            kind=AssetKind.CHUNK,
            title=f"{asset.title} (part {number} of {len(summary.chunks)})",
            text=chunk,
            metadata={"chunk": number, "chunks": len(summary.chunks), "format": summary.format},
            identifiers=ids.from_text(chunk),
            data_level=asset.data_level,
            links=[Link(rel=LinkType.PART_OF, target=asset.id)],
            provenance=asset.provenance,
            groups=asset.groups,
            rule_keys=asset.rule_keys,
            created_at=asset.created_at,
            updated_at=asset.updated_at,
        )
        for number, chunk in enumerate(summary.chunks, start=1)
    ]


def summarize_file(path: Path) -> Summary:
    """Run the extractors; an extractor bug becomes a recorded reason, not a failed scan."""
    from indexer.extractors import summarize

    try:
        return summarize(path)
    except Exception as exc:  # extractors promise not to raise; one that does must not stop us
        return Summary(format="unknown", errors=[f"extractor failed: {type(exc).__name__}: {exc}"])


def code_fingerprint(*packages: ModuleType) -> str:
    """Changes whenever a module of `packages` changes: results derived by that code (cached
    summaries, skipped containers) must not outlive it."""
    digest = hashlib.sha256()
    for package in packages:
        for path in sorted(Path(package.__file__ or "").parent.glob("*.py")):
            stat = path.stat()
            digest.update(f"{path}:{stat.st_size}:{stat.st_mtime_ns}".encode())
    return digest.hexdigest()[:16]


def _extractors_fingerprint() -> str:
    import indexer.extractors as package

    return code_fingerprint(package)


class SummaryCache:
    """Summaries by content key in one SQLite file under the cache directory."""

    def __init__(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(
            directory / "summaries.sqlite", timeout=30, check_same_thread=False
        )
        self._db.execute("PRAGMA journal_mode=WAL")
        # A cache may lose its last entries in a power cut; it must not fsync once per file.
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute("CREATE TABLE IF NOT EXISTS summary (key TEXT PRIMARY KEY, value TEXT)")
        self._db.commit()
        self._lock = threading.Lock()
        self._fingerprint = _extractors_fingerprint()

    def get_or_make(self, key: str, make: Callable[[], Summary | None]) -> Summary | None:
        """The cached summary for `key`, else `make()` (cached unless it returns None)."""
        full_key = f"{self._fingerprint}:{key}"
        with self._lock:
            row = self._db.execute(
                "SELECT value FROM summary WHERE key = ?", (full_key,)
            ).fetchone()
        if row is not None:
            return Summary(**json.loads(row[0]))
        summary = make()
        if summary is None:
            return None
        # vars(), not dataclasses.asdict(): a Summary holds plain values, and asdict deep-copies.
        value = json.dumps(vars(summary), default=str, ensure_ascii=False)
        with self._lock:
            self._db.execute(
                "INSERT OR REPLACE INTO summary (key, value) VALUES (?, ?)", (full_key, value)
            )
            # Committed at once: the cache directory is shared by every index on this machine,
            # and an open write transaction would lock the others out for a whole scan.
            self._db.commit()
        # Return the JSON round trip, not `summary`: a fresh and a cached summary must give
        # identical assets (numpy scalars, tuples, dates all become JSON), or every re-run
        # would see a changed content hash and re-embed.
        return Summary(**json.loads(value))

    def close(self) -> None:
        with self._lock:
            self._db.close()


_COMPRESSED = {".gz", ".bz2", ".xz", ".zst", ".zip"}


def file_overview(paths: Iterable[str], limit: int = 30) -> str:
    """A package's files in a few words: single files by name, runs of the same kind of file in
    the same folder as a count ("8 .fastq.gz files in fastq/"). Each file is an asset of its
    own with its full name; listing 500 FASTQ names here would only bury the package's meaning.
    """
    groups: dict[tuple[str, str], list[str]] = {}
    for path in paths:
        folder, _, name = path.rpartition("/")
        suffixes = PurePosixPath(name).suffixes
        keep = 2 if suffixes and suffixes[-1] in _COMPRESSED else 1
        suffix = "".join(suffixes[-keep:]) or name
        groups.setdefault((folder, suffix), []).append(path)
    parts = [
        members[0] if len(members) == 1 else f"{len(members)} {suffix} files in {folder or '.'}/"
        for (folder, suffix), members in groups.items()
    ]
    shown = ", ".join(parts[:limit])
    return shown + (f" (and {len(parts) - limit} more)" if len(parts) > limit else "")
