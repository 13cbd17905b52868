"""Request and response models of the HTTP API that are not shared with the CLI.

Search and answer shapes (SearchRequestModel, SearchResponse, Answer, Citation, EntityResult) live
in labsearch/models.py because the CLI and the UI print the same objects; the models here only
exist on the wire (chat turns, conversations, feedback, presigned links).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

from labsearch.models import Answer, AssetLinks
from labsearch.schema import Asset


class ErrorBody(BaseModel):
    error: str = Field(description="Error class, e.g. NotFoundError.")
    detail: Any = Field(description="What went wrong and what to do about it.")


class ChatRequest(BaseModel):
    message: str = Field(min_length=1, description="The question or follow-up.")
    conversation_id: str | None = Field(
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
    title: str = Field(min_length=1, max_length=200)


class FeedbackRequest(BaseModel):
    conversation_id: str
    message_id: int = Field(description="The assistant message being rated.")
    rating: Literal["up", "down"]
    comment: str = Field(default="", max_length=4000)


class FeedbackResponse(BaseModel):
    id: int
    conversation_id: str
    message_id: int
    rating: Literal["up", "down"]


class AssetResponse(BaseModel):
    asset: Asset
    links: AssetLinks


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
