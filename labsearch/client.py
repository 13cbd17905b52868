"""A synchronous Python client of the HTTP API (httpx), answers parsed into labsearch/models.py.

The UI's only way to the API, and the one for scripts and apps: `import labsearch.client` loads
neither torch nor FastAPI (an import-linter contract in pyproject.toml keeps it so).

Every failure becomes a labsearch error the pages know how to show: the API not answering at all
(`ApiUnreachableError`), 401 (`AuthError`), 503 (`StoreUnavailableError`) and the rest by the
status the API sent, with the API's own `detail` as the message.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import httpx
from httpx_sse import connect_sse

from labsearch.errors import (
    AuthError,
    ForbiddenError,
    InvalidRequestError,
    LabsearchError,
    NotFoundError,
    RateLimitedError,
    StoreUnavailableError,
)
from labsearch.models import PreviewResponse, SearchRequestModel, SearchResponse

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


@dataclass
class StreamEvent:
    """One Server-Sent Event of POST /v1/chat: token, citation, result, done or error."""

    event: str
    data: dict[str, Any]


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


class ApiClient:
    def __init__(self, base_url: str, credential: Credential | None = None) -> None:
        self.base_url = base_url.rstrip("/")
        self.credential = credential
        headers = credential.headers() if credential else {}
        self._http = httpx.Client(base_url=self.base_url, headers=headers, timeout=TIMEOUT)

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
            raise ApiUnreachableError(
                f"the labsearch API at {self.base_url} does not answer ({exc}); start it with "
                "`labsearch serve` or set LABSEARCH_API_URL"
            ) from exc
        raise_for_status(response)
        return response

    def _json(self, method: str, path: str, **kwargs: Any) -> Any:
        return self._request(method, path, **kwargs).json()

    # --- no sign-in needed ------------------------------------------------------------------

    def health(self) -> dict[str, Any]:
        return self._json("GET", "/v1/healthz")

    def auth_config(self) -> dict[str, Any]:
        return self._json("GET", "/v1/auth/config")

    # --- search and chat --------------------------------------------------------------------

    def search(self, request: SearchRequestModel) -> SearchResponse:
        body = request.model_dump(mode="json", exclude_none=True)
        return SearchResponse.model_validate(self._json("POST", "/v1/search", json=body))

    def chat(self, message: str, conversation_id: str | None = None) -> dict[str, Any]:
        body = {"message": message, "conversation_id": conversation_id, "stream": False}
        return self._json("POST", "/v1/chat", json=body)

    def chat_stream(
        self, message: str, conversation_id: str | None = None
    ) -> Iterator[StreamEvent]:
        """The answer as it is produced. HTTP errors (401, 404, 429...) raise before any event."""
        body = {"message": message, "conversation_id": conversation_id, "stream": True}
        try:
            with connect_sse(self._http, "POST", "/v1/chat", json=body) as source:
                if not source.response.is_success:
                    source.response.read()
                    raise_for_status(source.response)
                for sse in source.iter_sse():
                    yield StreamEvent(sse.event, sse.json() if sse.data else {})
        except httpx.TransportError as exc:
            raise ApiUnreachableError(
                f"the labsearch API at {self.base_url} stopped answering ({exc}); retry shortly"
            ) from exc

    # --- conversations and feedback ---------------------------------------------------------

    def conversations(self) -> list[dict[str, Any]]:
        return self._json("GET", "/v1/conversations")["conversations"]

    def conversation(self, conversation_id: str) -> dict[str, Any]:
        return self._json("GET", f"/v1/conversations/{quote(conversation_id, safe='')}")

    def rename(self, conversation_id: str, title: str) -> dict[str, Any]:
        path = f"/v1/conversations/{quote(conversation_id, safe='')}"
        return self._json("PATCH", path, json={"title": title})

    def delete(self, conversation_id: str) -> None:
        self._request("DELETE", f"/v1/conversations/{quote(conversation_id, safe='')}")

    def feedback(
        self, conversation_id: str, message_id: int, rating: str, comment: str = ""
    ) -> dict[str, Any]:
        body = {
            "conversation_id": conversation_id,
            "message_id": message_id,
            "rating": rating,
            "comment": comment,
        }
        return self._json("POST", "/v1/feedback", json=body)

    # --- assets -----------------------------------------------------------------------------

    def asset(self, asset_id: str) -> dict[str, Any]:
        """{"asset": <Asset>, "links": <AssetLinks>}: full metadata and provenance."""
        return self._json("GET", asset_path(asset_id))

    def download(self, asset_id: str) -> tuple[str, bytes]:
        """(file name, bytes) of a file or package entry you may see."""
        response = self._request("GET", "/v1/download/" + quote(asset_id, safe=""))
        disposition = response.headers.get("content-disposition", "")
        name = (
            disposition.split("filename=", 1)[-1].strip('"') if "filename=" in disposition else ""
        )
        return name or asset_id.rsplit("/", 1)[-1], response.content

    def preview(self, asset_id: str) -> PreviewResponse:
        """A bounded preview: head, header, page 1, tree or thumbnail."""
        body = self._json("GET", "/v1/preview/" + quote(asset_id, safe=""))
        return PreviewResponse.model_validate(body)

    def record(self, asset_id: str) -> dict[str, Any]:
        """An ELN record as its export holds it."""
        return self._json("GET", "/v1/record/" + quote(asset_id, safe=""))

    def presign(self, asset_id: str) -> dict[str, Any]:
        """{"url", "expires_in", "s3_uri", "version_id"}: a short-lived download link."""
        return self._json("POST", asset_path(asset_id) + "/presign")
