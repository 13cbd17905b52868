"""Response and request models shared by the CLI (`--json`), the API and the UI."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from labsearch.schema import AssetKind, DataLevel, Entity


class AssetLinks(BaseModel):
    """Ways a person can open the asset."""

    s3_uri: str | None = Field(default=None, description="s3://bucket/key?versionId=...")
    catalog_url: str | None = None
    eln_url: str | None = None
    file_url: str | None = None
    presign: str | None = Field(default=None, description="API path that returns a download link")


class Hit(BaseModel):
    id: str
    kind: AssetKind
    entity: Entity | None = None
    title: str
    score: float
    data_level: DataLevel | None = None
    identifiers: list[str] = Field(default_factory=list)
    metadata: dict[str, Any] = Field(default_factory=dict)
    highlights: list[str] = Field(default_factory=list)
    links: AssetLinks = Field(default_factory=AssetLinks)
    exact: bool = Field(default=False, description="Matched an identifier in the query exactly.")


class SearchRequestModel(BaseModel):
    query: str = Field(default="", description="Free text; identifiers in it match exactly.")
    filters: dict[str, Any] | None = Field(default=None, description="See labsearch/filters.py")
    facets: list[str] = Field(default_factory=list, description="Fields to count values of.")
    page: int = Field(default=1, ge=1)
    size: int = Field(default=10, ge=1, le=100)
    mode: str = Field(default="hybrid", pattern="^(hybrid|bm25|dense)$")


class SearchResponse(BaseModel):
    query: str
    hits: list[Hit]
    facets: dict[str, dict[str, int]] = Field(default_factory=dict)
    total: int | None = Field(default=None, description="Exact count when filters alone decide.")
    page: int = 1
    size: int = 10


class Citation(BaseModel):
    asset_id: str
    title: str
    kind: AssetKind
    entity: Entity | None = None
    data_level: DataLevel | None = None
    package: str | None = None
    top_hash: str | None = None
    logical_key: str | None = None
    entry_hash: str | None = None
    s3_uri: str | None = None
    version_id: str | None = None
    catalog_url: str | None = None
    eln_url: str | None = None
    file_url: str | None = None
    metadata: dict[str, Any] = Field(default_factory=dict)


class Member(BaseModel):
    """One member of a structured (entity) answer."""

    id: str
    title: str
    entity: Entity | None = None
    kind: AssetKind
    metadata: dict[str, Any] = Field(default_factory=dict)


class EntityResult(BaseModel):
    """The complete answer to a list question: every member, its count, and whether complete."""

    question_type: str = Field(description="e.g. runs_for_sample, files_for_experiment, count")
    subject: str = Field(description="The sample, experiment or instrument the question names.")
    entity: Entity | None = None
    members: list[Member]
    count: int
    complete: bool
    filters: dict[str, Any] | None = Field(
        default=None, description="The structured query that produced the members."
    )


class Answer(BaseModel):
    query: str
    text: str
    citations: list[Citation] = Field(default_factory=list)
    result: EntityResult | None = None
    standalone_query: str | None = Field(
        default=None, description="The follow-up as rewritten into a standalone question."
    )
