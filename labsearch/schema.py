"""The asset: the one record every source produces, every store keeps and every answer cites.

An asset's id is stable across revisions of what it describes (a Quilt package keeps its id when a
new top hash is pushed), so re-indexing updates in place instead of piling up duplicates.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from labsearch.identifiers import mask as mask_codes

# Metadata keys every source fills when it knows them (on top of its own keys, kept verbatim):
# the retriever, facets, citation cards and prompts rely on these names.
NORMALIZED_METADATA_KEYS = (
    "run_id",
    "samples",
    "experiment_id",
    "instrument",
    "project",
    "organism",
    "assay",
    "date",
    "lab",
)


# Bumped whenever `Asset.embedding_text` changes what the model reads, so the next index run
# re-embeds instead of keeping vectors of the old text.
EMBEDDING_TEXT_VERSION = 2


class AssetKind(StrEnum):
    """What kind of record the asset is in its source."""

    PACKAGE = "package"
    PACKAGE_ENTRY = "package_entry"
    EXPERIMENT = "experiment"
    SAMPLE = "sample"
    FILE = "file"
    CHUNK = "chunk"
    INVESTIGATION = "investigation"
    STUDY = "study"
    ASSAY = "assay"


class Entity(StrEnum):
    """The real-world thing an asset describes, where the source says so."""

    RUN = "run"
    SAMPLE = "sample"
    EXPERIMENT = "experiment"
    DATASET = "dataset"
    FILE = "file"


class DataLevel(StrEnum):
    RAW = "raw"
    PROCESSED = "processed"
    FINAL = "final"


class LinkType(StrEnum):
    """Typed edges between assets. Read `a --rel--> b` as "a <rel> b"."""

    USES_SAMPLE = "uses_sample"  # run/file/extract -> sample it was made from
    PART_OF = "part_of"  # package entry -> package, chunk -> file, assay -> study
    PRODUCED = "produced"  # run/assay -> data file
    DERIVED_FROM = "derived_from"  # processed package -> raw package
    DESCRIBES = "describes"  # experiment -> package it documents
    RELATED = "related"


class Link(BaseModel):
    model_config = ConfigDict(frozen=True)

    rel: LinkType
    target: str = Field(description="Asset id of the other end.")


class Provenance(BaseModel):
    """Where the asset came from, precisely enough to open or re-fetch it."""

    source: str = Field(description="The source URI given to `labsearch index`.")
    registry: str | None = None
    package: str | None = None
    top_hash: str | None = None
    logical_key: str | None = None
    entry_hash: str | None = None
    physical_key: str | None = None
    s3_uri: str | None = None
    version_id: str | None = None
    path: str | None = Field(default=None, description="Local filesystem path, if any.")
    eln_url: str | None = None
    record_id: str | None = None


class Asset(BaseModel):
    id: str
    source: str = Field(description="Source URI that produced this asset (for deletions).")
    kind: AssetKind
    entity: Entity | None = None
    title: str
    text: str = Field(default="", description="Text that is embedded and full-text indexed.")
    metadata: dict[str, Any] = Field(default_factory=dict)
    identifiers: list[str] = Field(default_factory=list)
    data_level: DataLevel | None = None
    links: list[Link] = Field(default_factory=list)
    provenance: Provenance
    groups: list[str] = Field(
        default_factory=list, description="Access groups; empty means nobody but the operator."
    )
    rule_keys: list[str] | None = Field(
        default=None,
        description="Where `groups` came from: None when the record named its own groups; else "
        "the source URI and keys the settings' access rules were matched against, so a rule "
        "change can be applied to the stored asset without reading its source again.",
    )
    created_at: datetime | None = None
    updated_at: datetime | None = None
    errors: list[str] = Field(
        default_factory=list, description="Why part of the asset could not be read."
    )

    @field_validator("id", "title")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must not be blank")
        return value

    @field_validator("identifiers", "groups")
    @classmethod
    def _dedupe(cls, values: list[str]) -> list[str]:
        return list(dict.fromkeys(v for v in values if v))

    def content_hash(self, model: str) -> str:
        """Hash of everything that decides the stored record, including the embedding model.

        Unchanged hash means the asset need neither be re-embedded nor rewritten.
        """
        payload = self.model_dump(mode="json", exclude={"created_at", "updated_at"})
        if payload.get("rule_keys") is None:
            # Groups the record names itself: hashed as before `rule_keys` existed, so such
            # assets are not rewritten just because the field was added.
            payload.pop("rule_keys", None)
        payload["_model"] = model
        blob = json.dumps(payload, sort_keys=True, ensure_ascii=False, default=str)
        return hashlib.sha256(blob.encode()).hexdigest()

    def embedding_text(self, max_chars: int | None = None) -> str:
        """What the embedding model sees: the title and the start of the text, with the asset's
        codes (identifiers) masked out.

        Codes are matched exactly and by BM25; in a vector they only blur the meaning, and they
        are expensive: `250620_A00814_0325_AHF4R6DSX3` is 19 word pieces of noise. Masked, the
        eight FASTQ files of a run read alike and are embedded once. `max_chars` bounds the
        model's work (all-MiniLM-L6-v2 reads at most 256 word pieces).
        """
        # Sources often start the text with the title; the model need not read it twice.
        text = self.text if self.text.startswith(self.title) else f"{self.title}\n{self.text}"
        text = mask_codes(text.strip(), self.identifiers)
        return text if max_chars is None else text[:max_chars]

    def linked(self, rel: LinkType) -> list[str]:
        return [link.target for link in self.links if link.rel == rel]
