"""All settings in one place: environment variables `LABSEARCH_*`, then `labsearch.toml`.

The file is read from `LABSEARCH_CONFIG` if set, else `./labsearch.toml`, else
`$LABSEARCH_HOME/labsearch.toml`. Environment variables win over the file. Complex values (users,
access rules) are JSON in the environment and tables in the file. README.md documents every field
(tests/test_docs.py fails when one is missing).
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field, SecretStr, field_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from labsearch.errors import ConfigError

DEFAULT_MODEL = "all-MiniLM-L6-v2"


class UserConfig(BaseModel):
    groups: list[str] = Field(default_factory=list)
    api_keys: list[SecretStr] = Field(default_factory=list)
    # What the user may do beyond searching: "ingest" lets an app push records (POST /v1/ingest).
    scopes: list[str] = Field(default_factory=list)


class WebhookConfig(BaseModel):
    """A sender allowed to push to POST /v1/webhooks/{name} (Standard Webhooks signatures)."""

    secret: SecretStr = Field(description="The shared secret, `whsec_<base64>`.")
    groups: list[str] = Field(
        default_factory=list, description="Groups the sender may write for (like a user's)."
    )
    format: Literal["records", "elabftw"] = "records"


class AccessRule(BaseModel):
    """Assets from sources (or packages, ELN projects, directories) starting with `prefix` get
    `groups` unless the record names its own."""

    prefix: str
    groups: list[str]


def _default_home() -> Path:
    base = os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share"
    return Path(base) / "labsearch"


def _default_cache() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "labsearch"


def _config_file() -> Path | None:
    explicit = os.environ.get("LABSEARCH_CONFIG")
    if explicit:
        return Path(explicit)
    for candidate in (
        Path("labsearch.toml"),
        Path(os.environ.get("LABSEARCH_HOME") or _default_home()) / "labsearch.toml",
    ):
        if candidate.is_file():
            return candidate
    return None


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="LABSEARCH_", extra="ignore")

    # Where things live
    home: Path = Field(default_factory=_default_home, description="Data directory (index, state).")
    cache_dir: Path = Field(default_factory=_default_cache, description="Embedding cache.")
    shared: Path = Field(default=Path("../shared"), description="Shared datasets directory.")
    config: Path | None = Field(default=None, description="Path of a labsearch.toml to read.")

    # Index
    backend: Literal["embedded", "opensearch"] = "embedded"
    model: str = Field(default=DEFAULT_MODEL, description="sentence-transformers name or path.")
    embed_batch_size: int = 32
    embed_max_chars: int = 2000
    embed_max_tokens: int | None = Field(
        default=None, description="Word pieces the model reads per text (default: its own limit)."
    )
    embed_precision: Literal["auto", "float32", "bfloat16"] = Field(
        default="auto",
        description="auto: bfloat16 autocast where the CPU computes bfloat16 natively.",
    )
    embed_backend: Literal["auto", "torch", "onnx", "onnx-int8"] = Field(
        default="auto",
        description="How documents are embedded: auto (torch or float32 ONNX, whichever measured "
        "faster on this CPU), torch (at embed_precision) or the ONNX export.",
    )
    query_backend: Literal["auto", "onnx", "onnx-int8", "torch"] = Field(
        default="auto",
        description="How queries are embedded: auto/onnx: the ONNX export without torch.",
    )
    export_dir: Path | None = Field(
        default=None, description="ONNX exports of the model (default: `<cache_dir>/onnx`)."
    )
    # Assets per store transaction: each commit has a fixed cost, and 1,000 measured 18% more
    # assets per CPU second than 256 on the embedded store (bench/scale.py); a crash loses at
    # most one batch, whose embeddings are in the cache.
    index_batch_size: int = 1000
    query_timeout_seconds: float = Field(
        default=10.0, gt=0, description="Longest one read of the embedded store may run."
    )

    # Retrieval
    # Hybrid fusion, tuned on SciFact's train split (docs/evaluation.md): a weighted sum of
    # z-scored BM25 and cosine scores (issue 22) beat min-max normalisation ("convex", issue 3),
    # which beat every reciprocal-rank setting tried. 0.6/0.4 rather than train's best 0.55/0.45:
    # that one lowered the lab evaluation's descriptive nDCG@10 (0.7573 vs 0.7578).
    fusion_method: Literal["rrf", "convex", "zscore"] = "zscore"
    bm25_weight: float = 0.6
    dense_weight: float = 0.4
    rrf_k: int = 60
    candidates: int = 200

    # Who sees what
    users: dict[str, UserConfig] = Field(default_factory=dict)
    access_rules: list[AccessRule] = Field(default_factory=list)
    public_sources: list[str] = Field(default_factory=list)

    # Links in citations
    catalog_url: str | None = Field(default=None, description="Quilt catalog, e.g. https://q.lab")
    presign_expiry_seconds: int = 900
    # Directories outside a source's own from which `GET /v1/download` may also serve files
    # (a Quilt registry whose entries point at bytes elsewhere on the disk).
    download_roots: list[Path] = Field(default_factory=list)

    # Sources
    elabftw_api_key: SecretStr | None = None
    elabftw_verify_tls: bool = True

    # Watching (`labsearch watch`, `labsearch serve --watch`)
    watch_queues: list[str] = Field(
        default_factory=list, description="SQS queue URLs receiving the sources' S3 events."
    )
    watch_poll_seconds: float = Field(default=30.0, gt=0, description="eLabFTW poll interval.")

    # AWS Lambda (indexer/aws_lambda.py, docs/aws-lambda.md)
    lambda_sources: list[str] = Field(
        default_factory=list, description="Sources the Lambda handler routes S3 events to."
    )
    lambda_dead_letter_queue: str | None = Field(
        default=None, description="SQS queue URL for messages that can never be processed."
    )

    # OpenSearch
    opensearch_url: str = "http://127.0.0.1:9200"
    opensearch_index: str = "labsearch"
    opensearch_user: str | None = None
    opensearch_password: SecretStr | None = None
    opensearch_verify_certs: bool = True
    opensearch_aws_region: str | None = None
    opensearch_aws_service: Literal["es", "aoss"] = "es"

    # Answering
    llm: Literal["extractive", "bedrock", "openai", "local"] = "extractive"
    # "llm": the configured model reads list/count questions into the rule parser's structure,
    # validated against the index; the rules answer when it fails. Needs LABSEARCH_LLM.
    question_parser: Literal["rules", "llm"] = "rules"
    bedrock_model_id: str = "anthropic.claude-3-haiku-20240307-v1:0"
    aws_region: str = "us-east-1"
    openai_base_url: str = "http://127.0.0.1:8080/v1"
    openai_model: str = "local"
    openai_api_key: SecretStr | None = None
    local_model_path: str | None = None
    context_tokens: int = 3000

    # API
    api_url: str = "http://127.0.0.1:8000"
    jwt_secret: SecretStr | None = None
    jwt_audience: str | None = None
    oidc_issuer: str | None = None
    jwt_groups_claim: str = "groups"
    jwt_scopes_claim: str = "scope"
    ingest_max_records: int = Field(default=1000, gt=0)
    ingest_max_bytes: int = Field(default=8 * 1024 * 1024, gt=0)
    max_body_bytes: int = Field(
        default=64 * 1024, gt=0, description="Request body size of every other route."
    )
    webhooks: dict[str, WebhookConfig] = Field(default_factory=dict)
    max_query_chars: int = 2000
    max_conversation_messages: int = 200
    rate_limit_per_minute: int = 120
    auth_failures_per_minute: int = Field(
        default=10, description="Failed sign-ins per client address per minute; 0: no limit."
    )
    audit_log: Path | None = Field(default=None, description="Default: $LABSEARCH_HOME/audit.jsonl")

    @field_validator("jwt_secret")
    @classmethod
    def _secret_is_set_or_unset(cls, secret: SecretStr | None) -> SecretStr | None:
        # An empty secret would make every HS256 token fail inside PyJWT (a 500 per request),
        # and a blank one is a mistake (an empty variable in a deployment), never a secret.
        if secret is not None and not secret.get_secret_value().strip():
            raise ConfigError(
                "LABSEARCH_JWT_SECRET is set but empty: set it to a long random secret to accept "
                "HS256 tokens, or unset it to accept none"
            )
        return secret

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        path = _config_file()
        if path is not None:
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=path))
        return tuple(sources)

    # Derived paths
    @property
    def index_dir(self) -> Path:
        return self.home / "index"

    @property
    def state_path(self) -> Path:
        return self.home / "state.sqlite"

    @property
    def audit_path(self) -> Path:
        return self.audit_log or self.home / "audit.jsonl"

    def groups_of(self, user: str) -> list[str]:
        config = self.users.get(user)
        return list(config.groups) if config else []

    def scopes_of(self, user: str) -> list[str]:
        config = self.users.get(user)
        return list(config.scopes) if config else []

    def with_overrides(self, **values: Any) -> Settings:
        return self.model_copy(update=values)


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
