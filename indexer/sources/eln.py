"""ELN/LIMS records from a JSON Lines export: `eln+file:///path/export.jsonl`.

One JSON object per line, shape documented in docs/eln-format.md and enforced by `ElnRecord`.
A broken line (invalid UTF-8, invalid JSON, missing or mistyped field, duplicate id) becomes a
SourceIssue naming the line and the field; every other line is still indexed.

The file is read twice on purpose: the first pass learns which record ids exist, so a run that
names sample `S-1` links to `eln:{stem}:S-1` only when that sample really is a record of the
same export (otherwise the sample id is kept as an identifier, never as a dangling link).
"""

from __future__ import annotations

import json
from collections.abc import Container, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from indexer.access import resolve_groups
from indexer.sources._content import normalize
from indexer.sources.base import SourceIssue, path_from_uri
from labsearch import identifiers as ids
from labsearch.errors import SourceError
from labsearch.schema import (
    Asset,
    AssetKind,
    DataLevel,
    Entity,
    Link,
    LinkType,
    Provenance,
)
from labsearch.settings import Settings

SCHEME = "eln+file"


class PackageRef(BaseModel):
    """A link from an ELN record to a Quilt package."""

    model_config = ConfigDict(extra="forbid")

    registry: str = Field(min_length=1)
    name: str = Field(min_length=1)
    top_hash: str | None = None

    @classmethod
    def parse(cls, value: Any) -> PackageRef:
        """Accept `{"registry", "name", "top_hash"?}` or the short string `registry#name`."""
        if isinstance(value, str):
            registry, sep, name = value.rpartition("#")
            if not sep or not registry or not name:
                raise ValueError(
                    f"package link {value!r} must look like 'registry#package' "
                    "(e.g. 's3://lab-bucket#lab/rnaseq-run-001')"
                )
            return cls(registry=registry, name=name)
        return cls.model_validate(value)

    @property
    def registry_uri(self) -> str:
        """The registry exactly as the Quilt source spells it in asset ids."""
        registry = self.registry.strip().rstrip("/")
        return registry.removeprefix("quilt+")

    @property
    def asset_id(self) -> str:
        return f"quilt:{self.registry_uri}#{self.name}"


class ElnRecord(BaseModel):
    """One line of an ELN export. Unknown top-level keys are kept as metadata."""

    model_config = ConfigDict(extra="allow", str_strip_whitespace=True)

    id: str | int
    type: str = "experiment"
    title: str = Field(min_length=1)
    description: str = ""
    author: str | None = None
    created: datetime | date | None = None
    modified: datetime | date | None = None
    project: str | None = None
    experiment: str | None = Field(
        default=None, description="For runs and samples: id of the experiment they belong to."
    )
    samples: list[str] = Field(default_factory=list)
    runs: list[str] = Field(default_factory=list)
    packages: list[PackageRef] = Field(default_factory=list)
    instrument: str | None = None
    tags: list[str] = Field(default_factory=list)
    url: str | None = None
    access_groups: list[str] | None = None
    groups: list[str] | None = None
    metadata: dict[str, Any] = Field(default_factory=dict)

    @field_validator("id")
    @classmethod
    def _id_text(cls, value: str | int) -> str:
        text = str(value).strip()
        if not text:
            raise ValueError("must not be blank")
        return text

    @field_validator("packages", mode="before")
    @classmethod
    def _packages(cls, value: Any) -> Any:
        if value is None:
            return []
        if not isinstance(value, list):
            raise ValueError("must be a list of package links")
        return [PackageRef.parse(item) for item in value]

    @property
    def record_id(self) -> str:
        return str(self.id)

    @property
    def own_groups(self) -> list[str]:
        return list(self.access_groups or self.groups or [])

    @property
    def extra(self) -> dict[str, Any]:
        return dict(self.model_extra or {})


@dataclass(frozen=True)
class _Parsed:
    line: int
    record: ElnRecord


def iso_date(value: datetime | date | str | None) -> str | None:
    """The ISO 8601 date part (YYYY-MM-DD) of a date, datetime or ISO string."""
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.date().isoformat()
    if isinstance(value, date):
        return value.isoformat()
    text = str(value).strip()
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00")).date().isoformat()
    except ValueError:
        return None


def as_datetime(value: datetime | date | None) -> datetime | None:
    """Dates become midnight UTC; naive datetimes are taken as UTC."""
    if value is None:
        return None
    if not isinstance(value, datetime):
        return datetime.combine(value, time.min, tzinfo=UTC)
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def entity_of(type_name: Any) -> Entity | None:
    if not type_name:
        return None
    try:
        return Entity(str(type_name).strip().lower())
    except ValueError:
        return None


def data_level_of(value: Any) -> DataLevel | None:
    try:
        return DataLevel(str(value).strip().lower()) if value else None
    except ValueError:
        return None


def _describe_validation(error: ValidationError) -> tuple[str, str]:
    """(field, reason) for a SourceIssue from a pydantic error."""
    fields, reasons = [], []
    for item in error.errors():
        where = ".".join(str(part) for part in item["loc"]) or "(record)"
        fields.append(where)
        reasons.append(f"{where}: {item['msg']}")
    if len(reasons) == 1:  # the field is named once, by the issue itself
        return fields[0], error.errors()[0]["msg"]
    return ", ".join(dict.fromkeys(fields)), "; ".join(reasons)


class ElnExportSource:
    """Assets for every record of an ELN JSON Lines export."""

    def __init__(self, uri: str, settings: Settings) -> None:
        self.uri = uri
        self.settings = settings
        self.path = path_from_uri(uri, SCHEME)
        self.stem = self.path.name.split(".", 1)[0] or self.path.name

    def asset_id(self, record_id: str) -> str:
        return f"eln:{self.stem}:{record_id}"

    @property
    def _directory(self) -> str | None:
        """Where the export lies: access rules may name it."""
        return str(self.path.parent) if self.path else None

    def scan(self) -> Iterator[Asset | SourceIssue]:
        if not self.path.is_file():
            raise SourceError(
                f"{self.uri}: no ELN export at {self.path}; give the path of a .jsonl file "
                "(one JSON record per line, see docs/eln-format.md)"
            )
        parsed: list[_Parsed] = []
        first_line: dict[str, int] = {}
        for item in self._read():
            if isinstance(item, SourceIssue):
                yield item
                continue
            record_id = item.record.record_id
            if record_id in first_line:
                yield SourceIssue(
                    self.uri,
                    f"line {item.line}",
                    f"duplicate record id {record_id!r} (first used on line "
                    f"{first_line[record_id]}); this line is skipped, give each record a "
                    "unique id",
                    field="id",
                )
                continue
            first_line[record_id] = item.line
            parsed.append(item)
        known = {item.record.record_id: item.record for item in parsed}
        for item in parsed:
            yield self._asset(item.record, known)

    def _read(self) -> Iterator[_Parsed | SourceIssue]:
        try:
            raw_lines = self.path.read_bytes().split(b"\n")
        except OSError as exc:
            raise SourceError(f"{self.uri}: cannot read {self.path}: {exc.strerror}") from exc
        for number, raw in enumerate(raw_lines, start=1):
            if not raw.strip():
                continue
            location = f"line {number}"
            try:
                # Windows exports may start with a byte order mark and end lines with CRLF
                # (JSON treats the CR as whitespace).
                text = raw.decode("utf-8-sig" if number == 1 else "utf-8")
            except UnicodeDecodeError as exc:
                yield SourceIssue(
                    self.uri,
                    location,
                    f"not valid UTF-8 (byte {exc.start}: {raw[exc.start : exc.start + 1]!r}); "
                    "re-export the file as UTF-8",
                )
                continue
            try:
                data = json.loads(text)
            except json.JSONDecodeError as exc:
                yield SourceIssue(
                    self.uri, location, f"invalid JSON at column {exc.colno}: {exc.msg}"
                )
                continue
            if not isinstance(data, dict):
                yield SourceIssue(
                    self.uri,
                    location,
                    f"expected a JSON object per line, got {type(data).__name__}",
                )
                continue
            try:
                record = ElnRecord.model_validate(data)
            except ValidationError as exc:
                field, reason = _describe_validation(exc)
                yield SourceIssue(self.uri, location, reason, field=field)
                continue
            yield _Parsed(number, record)

    def _asset(self, record: ElnRecord, known: Container[str]) -> Asset:
        record_id = record.record_id
        type_name = record.type.strip().lower() or "experiment"
        free = record.metadata
        entity = entity_of(free.get("entity")) or entity_of(type_name)

        metadata: dict[str, Any] = {**free, **record.extra}
        metadata["type"] = type_name
        if record.author:
            metadata["author"] = record.author
        if record.tags:
            metadata["tags"] = record.tags
        if record.project:
            metadata["project"] = record.project
        if record.instrument:
            metadata["instrument"] = record.instrument
        if record.samples:
            metadata["samples"] = record.samples
        if record.runs:
            metadata["runs"] = record.runs
        if record.packages:
            metadata["packages"] = [f"{p.registry_uri}#{p.name}" for p in record.packages]
        # The record's own fields win; free metadata fills the normalized keys it spells
        # differently ("species", "run_accession", ...).
        for key, value in normalize(free).items():
            metadata.setdefault(key, value)
        if type_name == "experiment":
            metadata["experiment_id"] = record_id
        elif record.experiment:
            metadata["experiment_id"] = record.experiment
        if type_name == "run":
            metadata["run_id"] = record_id
        elif len(record.runs) == 1:
            metadata.setdefault("run_id", record.runs[0])
        if type_name == "sample":
            metadata["samples"] = list(dict.fromkeys([record_id, *record.samples]))
        day = iso_date(record.created) or iso_date(free.get("date"))
        if day:
            metadata["date"] = day

        links: list[Link] = []
        for package in record.packages:
            links.append(Link(rel=LinkType.DESCRIBES, target=package.asset_id))
        if type_name != "sample":
            for sample in record.samples:
                if sample in known:
                    links.append(Link(rel=LinkType.USES_SAMPLE, target=self.asset_id(sample)))
        for run in record.runs:
            if run in known and run != record_id:
                links.append(Link(rel=LinkType.RELATED, target=self.asset_id(run)))
        if record.experiment and record.experiment in known and record.experiment != record_id:
            links.append(Link(rel=LinkType.PART_OF, target=self.asset_id(record.experiment)))

        identifiers = ids.collect(
            [record_id],
            record.samples,
            record.runs,
            [record.experiment or ""],
            [p.name for p in record.packages],
            ids.from_metadata(metadata),
            ids.from_text(f"{record.title}\n{record.description}"),
        )
        keys = [k for k in (record.project, self._directory) if k]
        return Asset(
            id=self.asset_id(record_id),
            source=self.uri,
            kind=AssetKind.SAMPLE if type_name == "sample" else AssetKind.EXPERIMENT,
            entity=entity,
            title=record.title,
            text=self._text(record, type_name),
            metadata=metadata,
            identifiers=identifiers,
            data_level=data_level_of(free.get("data_level")),
            links=list(dict.fromkeys(links)),
            provenance=Provenance(
                source=self.uri,
                eln_url=record.url,
                record_id=record_id,
                path=str(self.path) if self.path else None,
            ),
            **resolve_groups(self.settings, self.uri, record.own_groups, keys).asset_fields(),
            created_at=as_datetime(record.created),
            updated_at=as_datetime(record.modified or record.created),
        )

    @staticmethod
    def _text(record: ElnRecord, type_name: str) -> str:
        """Description plus the facts a reader would look for, as plain sentences."""
        lines = [record.description] if record.description else []
        facts = [
            ("Type", type_name),
            ("Project", record.project),
            ("Author", record.author),
            ("Instrument", record.instrument),
            ("Experiment", record.experiment),
            ("Samples", ", ".join(record.samples)),
            ("Runs", ", ".join(record.runs)),
            ("Packages", ", ".join(p.name for p in record.packages)),
            ("Tags", ", ".join(record.tags)),
        ]
        lines += [f"{label}: {value}" for label, value in facts if value]
        return "\n".join(lines)
