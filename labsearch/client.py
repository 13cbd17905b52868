"""The typed Python client of the HTTP API (`/v1`), sync (`ApiClient`) and async
(`AsyncApiClient`), on httpx: every answer is parsed into the API's own models
(labsearch/models.py), a streamed chat is an iterator of events.

    from labsearch.client import ApiClient

    with ApiClient("http://127.0.0.1:8000", api_key="demo-alice") as client:
        for hit in client.search("liver RNA-seq", filters={"entity": "run"}).hits:
            print(hit.title, hit.links.catalog_url)

The UI's only way to the API, and the one for scripts and apps: `import labsearch.client` loads
neither torch nor FastAPI (an import-linter contract in pyproject.toml keeps it so).

Every failure becomes a labsearch error the pages know how to show: the API not answering at all
(`ApiUnreachableError`), 401 (`AuthError`), 503 (`StoreUnavailableError`) and the rest by the
status the API sent, with the API's own `detail` as the message.
"""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import httpx
from httpx_sse import aconnect_sse, connect_sse
from pydantic import BaseModel

from labsearch.errors import (
    AuthError,
    ForbiddenError,
    InvalidRequestError,
    LabsearchError,
    NotFoundError,
    RateLimitedError,
    StoreUnavailableError,
)
from labsearch.models import (
    AssetLinks,
    AssetResponse,
    AuthConfig,
    ChatDone,
    ChatProvisional,
    ChatResponse,
    ChatRetract,
    ChatToken,
    Citation,
    Conversation,
    ConversationList,
    ConversationSummary,
    EntityResult,
    ErrorBody,
    FeedbackResponse,
    Health,
    IngestResponse,
    PresignResponse,
    PreviewResponse,
    SearchRequestModel,
    SearchResponse,
)

_FILENAME = re.compile(r'filename="([^"]+)"')
# Chat answers can take a while on a real LLM; reads are quick.
TIMEOUT = httpx.Timeout(30.0, read=300.0)

_BY_STATUS: dict[int, type[LabsearchError]] = {
    400: InvalidRequestError,
    401: AuthError,
    403: ForbiddenError,
    404: NotFoundError,
    422: InvalidRequestError,
    429: RateLimitedError,
    503: StoreUnavailableError,
}


class ApiUnreachableError(StoreUnavailableError):
    """Nothing answers at LABSEARCH_API_URL (not started, wrong port, network down)."""


@dataclass(frozen=True)
class Credential:
    """How to sign in: an API key (sent as the API's key header) or a bearer token (JWT)."""

    method: str  # "api_key" or "token"
    secret: str
    api_key_header: str = "X-API-Key"

    def headers(self) -> dict[str, str]:
        if self.method == "api_key":
            return {self.api_key_header: self.secret}
        return {"Authorization": f"Bearer {self.secret}"}


EVENT_MODELS: dict[str, type[BaseModel]] = {
    "provisional": ChatProvisional,
    "token": ChatToken,
    "retract": ChatRetract,
    "citation": Citation,
    "result": EntityResult,
    "done": ChatDone,
    "error": ErrorBody,
}


@dataclass
class StreamEvent:
    """One Server-Sent Event of POST /v1/chat: result, provisional, token, retract, citation,
    done or error.

    `data` is the event's JSON; `value` the same parsed into its model: ChatToken (checked text
    of the answer), ChatProvisional (a model's text not checked yet: replaces the previous
    provisional text), ChatRetract (a generated sentence its sources do not support: dropped),
    Citation, EntityResult (the complete structured result, before any text), ChatDone (the
    final ChatResponse) or ErrorBody (answering failed midway)."""

    event: str
    data: dict[str, Any]

    @property
    def value(self) -> BaseModel | dict[str, Any]:
        model = EVENT_MODELS.get(self.event)
        return model.model_validate(self.data) if model else self.data


def _detail(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text[:500] or response.reason_phrase
    detail = body.get("detail", body) if isinstance(body, dict) else body
    if isinstance(detail, list):  # validation errors: [{"loc": [...], "msg": ...}]
        return "; ".join(
            f"{'.'.join(str(p) for p in item.get('loc', []))}: {item.get('msg', '')}"
            for item in detail
            if isinstance(item, dict)
        ) or json.dumps(detail)
    return str(detail)


def raise_for_status(response: httpx.Response) -> None:
    if response.is_success:
        return
    error = _BY_STATUS.get(response.status_code, LabsearchError)
    exc = error(f"{_detail(response)} (HTTP {response.status_code})")
    exc.status = response.status_code
    raise exc


def asset_path(asset_id: str) -> str:
    # Asset ids hold '/', ':' and '#': encode all of it, as the API's assets route asks.
    return "/v1/assets/" + quote(asset_id, safe="")


def _quoted(prefix: str, identifier: str) -> str:
    return prefix + quote(identifier, safe="")


def _credential(credential: Credential | None, api_key: str | None, token: str | None):
    if credential is not None:
        return credential
    if api_key is not None:
        return Credential("api_key", api_key)
    if token is not None:
        return Credential("token", token)
    return None


def _search_body(request: SearchRequestModel | str, fields: dict[str, Any]) -> dict[str, Any]:
    if isinstance(request, str):
        request = SearchRequestModel(query=request, **fields)
    elif fields:
        request = request.model_copy(update=fields)
    return request.model_dump(mode="json", exclude_none=True)


def _chat_body(message: str, conversation_id: str | None, stream: bool) -> dict[str, Any]:
    return {"message": message, "conversation_id": conversation_id, "stream": stream}


def _feedback_body(
    conversation_id: str, message_id: int, rating: str, comment: str
) -> dict[str, Any]:
    return {
        "conversation_id": conversation_id,
        "message_id": message_id,
        "rating": rating,
        "comment": comment,
    }


def _ingest_body(upsert: list[Any] | None, delete: list[str] | None, source: str) -> dict[str, Any]:
    return {"source": source, "upsert": list(upsert or []), "delete": list(delete or [])}


def _file_name(response: httpx.Response, asset_id: str) -> str:
    disposition = response.headers.get("content-disposition", "")
    name = disposition.split("filename=", 1)[-1].strip('"') if "filename=" in disposition else ""
    return name or asset_id.rsplit("/", 1)[-1]


def _unreachable(base_url: str, exc: Exception | str, midway: bool = False) -> ApiUnreachableError:
    if midway:
        return ApiUnreachableError(
            f"the labsearch API at {base_url} stopped answering ({exc}); retry shortly"
        )
    return ApiUnreachableError(
        f"the labsearch API at {base_url} does not answer ({exc}); start it with "
        "`labsearch serve` or set LABSEARCH_API_URL"
    )


def _check_ended(base_url: str, last: StreamEvent | None) -> None:
    """A stream always ends with `done` or `error`; one that just stops was cut (the server or a
    proxy closed it cleanly between events), which must not read as a finished answer."""
    if last is None or last.event not in ("done", "error"):
        raise _unreachable(base_url, "the answer stream ended before its last event", midway=True)


def _event(sse: Any) -> StreamEvent:
    return StreamEvent(sse.event, sse.json() if sse.data else {})


class ApiClient:
    """The API, synchronously. Sign in with `api_key=`, `token=` (a JWT) or a `Credential`."""

    def __init__(
        self,
        base_url: str,
        credential: Credential | None = None,
        *,
        api_key: str | None = None,
        token: str | None = None,
        timeout: httpx.Timeout = TIMEOUT,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.credential = _credential(credential, api_key, token)
        headers = self.credential.headers() if self.credential else {}
        self._http = httpx.Client(base_url=self.base_url, headers=headers, timeout=timeout)

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> ApiClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        try:
            response = self._http.request(method, path, **kwargs)
        except httpx.TransportError as exc:
            raise _unreachable(self.base_url, exc) from exc
        raise_for_status(response)
        return response

    def _json(self, method: str, path: str, **kwargs: Any) -> Any:
        return self._request(method, path, **kwargs).json()

    # --- no sign-in needed ------------------------------------------------------------------

    def health(self) -> Health:
        return Health.model_validate(self._json("GET", "/v1/healthz"))

    def auth_config(self) -> AuthConfig:
        return AuthConfig.model_validate(self._json("GET", "/v1/auth/config"))

    # --- search and chat --------------------------------------------------------------------

    def search(self, request: SearchRequestModel | str = "", **fields: Any) -> SearchResponse:
        """`search("query", filters=..., facets=..., size=..., include_text=...)`, or a
        SearchRequestModel."""
        body = _search_body(request, fields)
        return SearchResponse.model_validate(self._json("POST", "/v1/search", json=body))

    def chat(self, message: str, conversation_id: str | None = None) -> ChatResponse:
        body = _chat_body(message, conversation_id, stream=False)
        return ChatResponse.model_validate(self._json("POST", "/v1/chat", json=body))

    def chat_stream(
        self, message: str, conversation_id: str | None = None
    ) -> Iterator[StreamEvent]:
        """The answer as it is produced. HTTP errors (401, 404, 429...) raise before any event."""
        body = _chat_body(message, conversation_id, stream=True)
        try:
            with connect_sse(self._http, "POST", "/v1/chat", json=body) as source:
                if not source.response.is_success:
                    source.response.read()
                    raise_for_status(source.response)
                last = None
                for sse in source.iter_sse():
                    last = _event(sse)
                    yield last
        except httpx.TransportError as exc:
            raise _unreachable(self.base_url, exc, midway=True) from exc
        _check_ended(self.base_url, last)

    # --- conversations and feedback ---------------------------------------------------------

    def conversations(self) -> list[ConversationSummary]:
        listed = ConversationList.model_validate(self._json("GET", "/v1/conversations"))
        return listed.conversations

    def conversation(self, conversation_id: str) -> Conversation:
        body = self._json("GET", _quoted("/v1/conversations/", conversation_id))
        return Conversation.model_validate(body)

    def rename(self, conversation_id: str, title: str) -> ConversationSummary:
        path = _quoted("/v1/conversations/", conversation_id)
        return ConversationSummary.model_validate(self._json("PATCH", path, json={"title": title}))

    def delete(self, conversation_id: str) -> None:
        self._request("DELETE", _quoted("/v1/conversations/", conversation_id))

    def feedback(
        self, conversation_id: str, message_id: int, rating: str, comment: str = ""
    ) -> FeedbackResponse:
        body = _feedback_body(conversation_id, message_id, rating, comment)
        return FeedbackResponse.model_validate(self._json("POST", "/v1/feedback", json=body))

    # --- assets -----------------------------------------------------------------------------

    def asset(self, asset_id: str) -> AssetResponse:
        """Full metadata, provenance and links of one asset."""
        return AssetResponse.model_validate(self._json("GET", asset_path(asset_id)))

    def links(self, asset_id: str) -> AssetLinks:
        """Every way to open the asset: download, preview, catalog, ELN, quilt3 command..."""
        return self.asset(asset_id).links

    def download(self, asset_id: str) -> tuple[str, bytes]:
        """(file name, bytes) of a file or package entry you may see."""
        response = self._request("GET", _quoted("/v1/download/", asset_id))
        return _file_name(response, asset_id), response.content

    def preview(self, asset_id: str) -> PreviewResponse:
        """A bounded preview: head, header, page 1, tree or thumbnail."""
        body = self._json("GET", _quoted("/v1/preview/", asset_id))
        return PreviewResponse.model_validate(body)

    def record(self, asset_id: str) -> dict[str, Any]:
        """An ELN record as its export holds it."""
        return self._json("GET", _quoted("/v1/record/", asset_id))

    def presign(self, asset_id: str) -> PresignResponse:
        """A short-lived HTTPS download link for an S3 asset."""
        return PresignResponse.model_validate(self._json("POST", asset_path(asset_id) + "/presign"))

    # --- pushing records (the ingest scope) -------------------------------------------------

    def ingest(
        self,
        upsert: list[Any] | None = None,
        delete: list[str] | None = None,
        source: str = "api",
    ) -> IngestResponse:
        """Upsert records (docs/eln-format.md) and delete ids under `ingest://{source}`."""
        body = _ingest_body(upsert, delete, source)
        return IngestResponse.model_validate(self._json("POST", "/v1/ingest", json=body))


class AsyncApiClient:
    """The API, asynchronously (httpx.AsyncClient): the same methods as ApiClient, awaited;
    `chat_stream` is an async iterator."""

    def __init__(
        self,
        base_url: str,
        credential: Credential | None = None,
        *,
        api_key: str | None = None,
        token: str | None = None,
        timeout: httpx.Timeout = TIMEOUT,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.credential = _credential(credential, api_key, token)
        headers = self.credential.headers() if self.credential else {}
        self._http = httpx.AsyncClient(base_url=self.base_url, headers=headers, timeout=timeout)

    async def aclose(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> AsyncApiClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def _request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        try:
            response = await self._http.request(method, path, **kwargs)
        except httpx.TransportError as exc:
            raise _unreachable(self.base_url, exc) from exc
        raise_for_status(response)
        return response

    async def _json(self, method: str, path: str, **kwargs: Any) -> Any:
        return (await self._request(method, path, **kwargs)).json()

    async def health(self) -> Health:
        return Health.model_validate(await self._json("GET", "/v1/healthz"))

    async def auth_config(self) -> AuthConfig:
        return AuthConfig.model_validate(await self._json("GET", "/v1/auth/config"))

    async def search(self, request: SearchRequestModel | str = "", **fields: Any) -> SearchResponse:
        body = _search_body(request, fields)
        return SearchResponse.model_validate(await self._json("POST", "/v1/search", json=body))

    async def chat(self, message: str, conversation_id: str | None = None) -> ChatResponse:
        body = _chat_body(message, conversation_id, stream=False)
        return ChatResponse.model_validate(await self._json("POST", "/v1/chat", json=body))

    async def chat_stream(
        self, message: str, conversation_id: str | None = None
    ) -> AsyncIterator[StreamEvent]:
        body = _chat_body(message, conversation_id, stream=True)
        try:
            async with aconnect_sse(self._http, "POST", "/v1/chat", json=body) as source:
                if not source.response.is_success:
                    await source.response.aread()
                    raise_for_status(source.response)
                last = None
                async for sse in source.aiter_sse():
                    last = _event(sse)
                    yield last
        except httpx.TransportError as exc:
            raise _unreachable(self.base_url, exc, midway=True) from exc
        _check_ended(self.base_url, last)

    async def conversations(self) -> list[ConversationSummary]:
        listed = ConversationList.model_validate(await self._json("GET", "/v1/conversations"))
        return listed.conversations

    async def conversation(self, conversation_id: str) -> Conversation:
        body = await self._json("GET", _quoted("/v1/conversations/", conversation_id))
        return Conversation.model_validate(body)

    async def rename(self, conversation_id: str, title: str) -> ConversationSummary:
        path = _quoted("/v1/conversations/", conversation_id)
        body = await self._json("PATCH", path, json={"title": title})
        return ConversationSummary.model_validate(body)

    async def delete(self, conversation_id: str) -> None:
        await self._request("DELETE", _quoted("/v1/conversations/", conversation_id))

    async def feedback(
        self, conversation_id: str, message_id: int, rating: str, comment: str = ""
    ) -> FeedbackResponse:
        body = _feedback_body(conversation_id, message_id, rating, comment)
        return FeedbackResponse.model_validate(await self._json("POST", "/v1/feedback", json=body))

    async def asset(self, asset_id: str) -> AssetResponse:
        return AssetResponse.model_validate(await self._json("GET", asset_path(asset_id)))

    async def links(self, asset_id: str) -> AssetLinks:
        return (await self.asset(asset_id)).links

    async def download(self, asset_id: str) -> tuple[str, bytes]:
        response = await self._request("GET", _quoted("/v1/download/", asset_id))
        return _file_name(response, asset_id), response.content

    async def preview(self, asset_id: str) -> PreviewResponse:
        body = await self._json("GET", _quoted("/v1/preview/", asset_id))
        return PreviewResponse.model_validate(body)

    async def record(self, asset_id: str) -> dict[str, Any]:
        return await self._json("GET", _quoted("/v1/record/", asset_id))

    async def presign(self, asset_id: str) -> PresignResponse:
        body = await self._json("POST", asset_path(asset_id) + "/presign")
        return PresignResponse.model_validate(body)

    async def ingest(
        self,
        upsert: list[Any] | None = None,
        delete: list[str] | None = None,
        source: str = "api",
    ) -> IngestResponse:
        body = _ingest_body(upsert, delete, source)
        return IngestResponse.model_validate(await self._json("POST", "/v1/ingest", json=body))
