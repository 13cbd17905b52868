"""Request and response models of labsearch: the one module the CLI (`--json`), the HTTP API, the
Python client (labsearch/client.py) and the UI share.

The search and answer shapes come first; the models after them only exist on the wire (chat turns,
conversations, feedback, asset details, presigned links, health).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, Field, model_validator

from labsearch.schema import Asset, AssetKind, DataLevel, Entity

MAX_INCLUDED_TEXT = 20_000  # characters of text per hit a search may ask for (include_text)


def encodable(value: Any) -> Any:
    """Refuse text that is not valid Unicode: a lone surrogate such as "\\ud800", which JSON
    escapes can spell but UTF-8 (SQLite, the tokenizer, OpenSearch, logs) cannot hold. Strings
    inside lists and objects (filters) are checked too, keys included."""
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError as error:
            raise ValueError(
                f"text holds an unpaired surrogate at character {error.start}; send valid "
                "Unicode (UTF-8)"
            ) from None
    elif isinstance(value, dict):
        for key, item in value.items():
            encodable(key)
            encodable(item)
    elif isinstance(value, list):
        for item in value:
            encodable(item)
    return value


# Text from a request: a string that UTF-8 can encode (else 422, not a 500 further down).
Text = Annotated[str, AfterValidator(encodable)]

# How deep a search may page: the stores rank `page * size` results to cut one page out of them
# (OpenSearch's k-NN ranks at most 10,000), and SQLite's LIMIT and OFFSET are 64-bit.
MAX_RESULT_WINDOW = 10_000


class AssetLinks(BaseModel):
    """Ways a person can open the asset."""

    s3_uri: str | None = Field(default=None, description="s3://bucket/key?versionId=...")
    catalog_url: str | None = None
    eln_url: str | None = None
    file_url: str | None = None
    presign: str | None = Field(default=None, description="API path that returns a download link")
    download: str | None = Field(
        default=None, description="API path that streams the file's bytes (GET /v1/download/...)"
    )
    preview: str | None = Field(default=None, description="API path of a bounded preview")
    manifest: str | None = Field(
        default=None, description="API path of the package manifest at the cited top hash"
    )
    record: str | None = Field(default=None, description="API path of the ELN record as JSON")
    quilt3_command: str | None = Field(
        default=None, description="Shell command installing exactly the cited revision"
    )
    python: str | None = Field(default=None, description="quilt3 code opening that revision")


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
    text: str | None = Field(
        default=None, description="The asset's text, when the request asked for include_text."
    )


class SearchRequestModel(BaseModel):
    query: Text = Field(default="", description="Free text; identifiers in it match exactly.")
    filters: Annotated[dict[str, Any] | None, AfterValidator(encodable)] = Field(
        default=None, description="See labsearch/filters.py"
    )
    facets: list[Text] = Field(default_factory=list, description="Fields to count values of.")
    page: int = Field(default=1, ge=1, le=MAX_RESULT_WINDOW)
    size: int = Field(default=10, ge=1, le=100)
    mode: str = Field(default="hybrid", pattern="^(hybrid|bm25|dense)$")
    include_text: int = Field(
        default=0,
        ge=0,
        le=MAX_INCLUDED_TEXT,
        description="Return up to this many characters of each hit's text (0: none).",
    )

    @model_validator(mode="after")
    def _within_window(self) -> SearchRequestModel:
        if self.page * self.size > MAX_RESULT_WINDOW:
            raise ValueError(
                f"page {self.page} of size {self.size} reaches result {self.page * self.size}; "
                f"search results stop at {MAX_RESULT_WINDOW}: narrow the query or filters"
            )
        return self


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
    download_url: str | None = Field(default=None, description="API path serving the bytes.")
    preview_url: str | None = None
    manifest_url: str | None = None
    record_url: str | None = None
    quilt3_command: str | None = None
    python: str | None = None
    metadata: dict[str, Any] = Field(default_factory=dict)


class Member(BaseModel):
    """One member of a structured (entity) answer."""

    id: str
    title: str
    entity: Entity | None = None
    kind: AssetKind
    metadata: dict[str, Any] = Field(default_factory=dict)
    links: AssetLinks = Field(default_factory=AssetLinks)


class UnderstoodConstraint(BaseModel):
    """One part of a list/count question as understood, and whether it bound through structure."""

    role: Literal["subject", "scope", "attribute", "date", "level"]
    field: str = Field(description='"identifier", "metadata.<key>", "metadata.date", ...')
    operator: Literal["eq", "in", "range", "gt", "gte", "lt", "lte"] = "eq"
    values: list[str]
    text: str = Field(description="The words of the question it came from.")
    negated: bool = False
    family: bool = Field(default=False, description="Named by first words: a genus, a family.")
    ambiguous: bool = Field(
        default=False, description="Both a whole value and a family: the family is taken."
    )
    bound: bool = Field(
        default=True, description="False: visible, but reaches no asset of the target entity."
    )


class UnderstoodQuestion(BaseModel):
    """What a list/count question was understood to ask."""

    target: str = Field(description="run, sample, file, experiment, dataset or package")
    question_type: Literal["list", "count"]
    constraints: list[UnderstoodConstraint] = Field(default_factory=list)
    unknown_words: list[str] = Field(
        default_factory=list, description="Words not understood: the answer is then incomplete."
    )


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
    question: UnderstoodQuestion | None = Field(
        default=None, description="Target and constraints as understood (complete needs all)."
    )


class RemovedSentence(BaseModel):
    text: str = Field(description="The generated sentence as the model wrote it.")
    reason: str = Field(description="Why its cited assets do not support it.")


class Grounding(BaseModel):
    """How a generated answer fared in the sentence-level check against its cited assets."""

    sentences: int = Field(description="Sentences the model wrote.")
    kept: int = Field(description="Sentences kept: each cites assets whose text supports it.")
    attributed: int = Field(
        default=0,
        description="Kept sentences whose citation the check found (the model's was "
        "missing or did not support them).",
    )
    removed: list[RemovedSentence] = Field(default_factory=list)
    fallback: bool = Field(
        default=False,
        description="No sentence survived: the text is the extractive answer, saying so.",
    )


class Answer(BaseModel):
    query: str
    text: str
    citations: list[Citation] = Field(default_factory=list)
    result: EntityResult | None = None
    standalone_query: str | None = Field(
        default=None, description="The follow-up as rewritten into a standalone question."
    )
    grounding: Grounding | None = Field(
        default=None, description="Set when a language model wrote the text (not extractive)."
    )


# --- models of the HTTP API's other routes ---------------------------------------------------


class ErrorBody(BaseModel):
    error: str = Field(description="Error class, e.g. NotFoundError.")
    detail: Any = Field(description="What went wrong and what to do about it.")


class ChatRequest(BaseModel):
    message: Text = Field(min_length=1, description="The question or follow-up.")
    conversation_id: Text | None = Field(
        default=None, description="Continue this conversation; omit to start a new one."
    )
    stream: bool = Field(
        default=False,
        description="Answer as Server-Sent Events: token, citation, result, done, error.",
    )


class ChatResponse(BaseModel):
    conversation_id: str
    message_id: int = Field(description="Id of the answer, for POST /v1/feedback.")
    answer: Answer


class ChatToken(BaseModel):
    """A `token` event of a streamed chat: the next piece of the answer's text."""

    text: str


class ChatProvisional(BaseModel):
    """A `provisional` event: the model's text that is not checked yet (it replaces the previous
    provisional text; show it as provisional). A `token` or `retract` settles it."""

    text: str


class ChatRetract(BaseModel):
    """A `retract` event: a generated sentence failed its check and is not part of the answer."""

    text: str
    reason: str


class ChatDone(ChatResponse):
    """The `done` event of a streamed chat: the JSON response, and whether the text changed."""

    replaced: bool = Field(
        default=False, description="The streamed text failed verification; answer.text replaces it."
    )


class Message(BaseModel):
    id: int
    role: Literal["user", "assistant"]
    content: str
    answer: Answer | None = Field(default=None, description="Set on assistant messages.")
    created_at: datetime


class ConversationSummary(BaseModel):
    id: str
    title: str
    created_at: datetime
    updated_at: datetime
    messages: int


class Conversation(ConversationSummary):
    history: list[Message]


class ConversationList(BaseModel):
    conversations: list[ConversationSummary]


class RenameRequest(BaseModel):
    title: Text = Field(min_length=1, max_length=200)


class FeedbackRequest(BaseModel):
    conversation_id: Text
    # SQLite row ids are signed 64-bit: a larger number would fail in the driver, not 404.
    message_id: int = Field(ge=1, le=2**63 - 1, description="The assistant message being rated.")
    rating: Literal["up", "down"]
    comment: Text = Field(default="", max_length=4000)


class FeedbackResponse(BaseModel):
    id: int
    conversation_id: str
    message_id: int
    rating: Literal["up", "down"]


class AssetResponse(BaseModel):
    asset: Asset
    links: AssetLinks


class PreviewResponse(BaseModel):
    """What a scientist needs to see of a file before opening it, bounded (64 KiB of text)."""

    asset_id: str
    format: str = Field(description="csv, fastq, vcf, bam, pdf, hdf5, tiff, ... or unknown")
    text: str = Field(default="", description="Head of the file, header, page 1 or tree.")
    truncated: bool = Field(default=False, description="The file holds more than is shown.")
    thumbnail: str | None = Field(
        default=None, description="An image's thumbnail (<= 256 px) as a data:image/png URI."
    )
    notes: list[str] = Field(default_factory=list, description="Why there is no preview.")


class PresignResponse(BaseModel):
    url: str = Field(description="Short-lived HTTPS GET link to the object version.")
    expires_in: int = Field(description="Seconds the link stays valid.")
    s3_uri: str
    version_id: str | None = None


class AuthConfig(BaseModel):
    methods: list[Literal["api_key", "jwt", "oidc"]]
    api_key_header: str = "X-API-Key"
    bearer: bool = Field(description="Authorization: Bearer <api key or JWT> is accepted.")
    oidc_issuer: str | None = None
    jwt_audience: str | None = None
    groups_claim: str


class Health(BaseModel):
    status: Literal["ok"]


class Readiness(BaseModel):
    status: Literal["ready", "not_ready"]
    store: dict[str, Any] = Field(default_factory=dict)
    llm: str
    detail: str | None = None


class IngestRequest(BaseModel):
    """Records to upsert and ids to delete under one pushed source (`ingest://{source}`)."""

    source: str = Field(
        default="api",
        description="Name of the pushed source: letters, digits, '.', '_', '-' (max 64).",
    )
    # Any JSON: a record that is not an object gets its own "invalid" status, not a 422 for all.
    upsert: list[Any] = Field(
        default_factory=list,
        description="Records in the shape of docs/eln-format.md (one export line each).",
    )
    delete: list[str] = Field(default_factory=list, description="Ids of records to delete.")


class RecordStatus(BaseModel):
    id: str
    status: Literal[
        "created", "updated", "unchanged", "deleted", "not_found", "invalid", "forbidden"
    ]
    asset_id: str | None = None
    detail: str | None = Field(default=None, description="Why it was refused, and what to do.")
    field: str | None = Field(default=None, description="The record field at fault.")


class IngestResponse(BaseModel):
    source: str = Field(description="The pushed source's URI, as `labsearch sources` lists it.")
    results: list[RecordStatus]
    counts: dict[str, int] = Field(description="How many records got each status.")


class WebhookResponse(BaseModel):
    webhook_id: str
    duplicate: bool = Field(
        default=False, description="Already processed (a retry or replay): nothing was written."
    )
    ingest: IngestResponse | None = None


# --- models of the MCP server's tools (chat_api/mcp_server.py) --------------------------------


class LinksResponse(BaseModel):
    """Every way to open one asset: download, preview, manifest, record, catalog, ELN, quilt3."""

    asset_id: str
    title: str
    links: AssetLinks = Field(description="Absolute URLs over HTTP; API paths over stdio.")
    presigned: PresignResponse | None = Field(
        default=None, description="A short-lived S3 download link, when asked for and possible."
    )
    notes: list[str] = Field(default_factory=list, description="Why a link is missing.")


class SourceSummary(BaseModel):
    source: str = Field(description="The source URI, as `labsearch sources` lists it.")
    assets: int = Field(description="How many of its assets the caller may see.")


class SourcesResponse(BaseModel):
    sources: list[SourceSummary] = Field(description="Only sources holding assets you may see.")


class FacetValuesResponse(BaseModel):
    """Every value of one field over the assets you may see: build filters from these."""

    field: str = Field(description='e.g. "metadata.instrument", "entity", "source".')
    values: dict[str, int] = Field(description="Value -> how many assets carry it (no top-N cut).")
