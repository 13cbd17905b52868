"""labsearch as an MCP server (the official Python SDK, `mcp`): for AI assistants and apps.

Two transports, one set of tools (chat_api/mcp_tools.py):

- streamable HTTP at `/mcp` inside the FastAPI app (`McpEndpoint`): every HTTP request is signed
  in exactly like the API's routes (API key or JWT, then the rate limit), and the caller's Access
  travels with the request to the tool; the audit log is the API's own;
- stdio (`labsearch mcp --as-user NAME` or `--operator`): one process, one fixed caller.

Every tool declares an output schema (the API's models), returns structured content, is marked
read-only, and reports errors as the API does: `{"error": <class>, "detail": <message>}`.
Resources: `labsearch://asset/{id}` (the id percent-encoded, as for the API's paths) and
`labsearch://docs/filters`, the filter grammar.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Annotated, Any, Literal, Protocol, TypeVar
from urllib.parse import unquote

import anyio
from mcp.server.fastmcp import Context, FastMCP
from mcp.server.fastmcp.exceptions import ToolError
from mcp.server.streamable_http_manager import StreamableHTTPSessionManager
from mcp.shared.exceptions import McpError
from mcp.types import (
    INVALID_PARAMS,
    CallToolResult,
    ErrorData,
    TextContent,
    ToolAnnotations,
)
from pydantic import Field, ValidationError
from starlette.requests import Request
from starlette.types import Receive, Scope, Send

from chat_api import mcp_tools
from chat_api.auth import API_KEY_HEADER
from chat_api.errors import error_response
from chat_api.state import ApiState
from labsearch.access import Access
from labsearch.errors import AuthError, LabsearchError, StoreUnavailableError
from labsearch.models import (
    MAX_INCLUDED_TEXT,
    Answer,
    AssetResponse,
    FacetValuesResponse,
    LinksResponse,
    SearchRequestModel,
    SearchResponse,
    SourcesResponse,
)

NAME = "labsearch"
INSTRUCTIONS = """Search a lab's data assets (sequencing runs, samples, files, experiments, \
Quilt packages, ELN records) and get cited answers, seeing only what the signed-in user may see.
`ask` answers list/count questions completely ("which runs used sample X?": every member, the \
count, and whether the result is complete); `search` ranks assets and counts facets; \
`facet_values` lists a field's values so filters use real ones; the filter grammar is the \
resource labsearch://docs/filters. Asset ids contain '/', ':' and '#': pass them as they are to \
tools, percent-encoded in labsearch://asset/{id}."""
ACCESS_KEY = "labsearch.access"  # where McpEndpoint leaves the caller's Access in the ASGI scope
RESOURCE_NOT_FOUND = -32002  # the MCP specification's code for a resource that does not exist
READ_ONLY = ToolAnnotations(readOnlyHint=True, idempotentHint=True, openWorldHint=False)

T = TypeVar("T")


class Caller(Protocol):
    """Who calls, and where links point, for one tool call."""

    def access(self, ctx: Context) -> Access: ...
    def base_url(self, ctx: Context) -> str | None: ...


class FixedCaller:
    """stdio: the user (or operator) named on the command line, for the whole process."""

    def __init__(self, access: Access, base_url: str | None = None) -> None:
        self._access = access
        self._base_url = base_url

    def access(self, ctx: Context) -> Access:
        return self._access

    def base_url(self, ctx: Context) -> str | None:
        return self._base_url


class HttpCaller:
    """Streamable HTTP: the Access McpEndpoint authenticated for this very HTTP request."""

    def _request(self, ctx: Context) -> Request | None:
        try:
            request = ctx.request_context.request
        except ValueError:
            return None
        return request if isinstance(request, Request) else None

    def access(self, ctx: Context) -> Access:
        request = self._request(ctx)
        access = request.scope.get(ACCESS_KEY) if request is not None else None
        if not isinstance(access, Access):  # fail closed: never a default caller
            raise AuthError("authentication required: no signed-in caller for this MCP request")
        return access

    def base_url(self, ctx: Context) -> str | None:
        request = self._request(ctx)
        return str(request.base_url).rstrip("/") if request is not None else None


def _labsearch_cause(exc: BaseException) -> BaseException | None:
    """The LabsearchError or ValidationError behind the SDK's wrapping, if any."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, LabsearchError | ValidationError):
            return seen
        seen = seen.__cause__ or seen.__context__
    return None


def error_body(exc: BaseException) -> dict[str, Any]:
    """The API's error body for `exc` (chat_api/errors.py)."""
    if isinstance(exc, ValidationError):
        detail = [{"loc": list(e.get("loc", ())), "msg": e.get("msg", "")} for e in exc.errors()]
        return {"error": "ValidationError", "detail": detail}
    name = "AuthError" if isinstance(exc, AuthError) else type(exc).__name__
    return {"error": name, "detail": str(exc)}


class LabsearchMCP(FastMCP):
    """FastMCP whose tool and resource errors carry the API's error class and message."""

    async def call_tool(self, name: str, arguments: dict[str, Any]) -> Any:
        try:
            return await super().call_tool(name, arguments)
        except ToolError as exc:
            cause = _labsearch_cause(exc)
            if cause is None:
                raise
            body = error_body(cause)
            text = json.dumps(body, ensure_ascii=False)
            return CallToolResult(content=[TextContent(type="text", text=text)], isError=True)

    async def read_resource(self, uri: Any) -> Any:
        try:
            return await super().read_resource(uri)
        except McpError:
            raise
        except Exception as exc:
            cause = _labsearch_cause(exc)
            if cause is None:
                raise
            body = error_body(cause)
            status = getattr(cause, "status", 400)
            code = RESOURCE_NOT_FOUND if status == 404 else INVALID_PARAMS
            message = f"{body['error']}: {body['detail']}"
            raise McpError(ErrorData(code=code, message=message, data={"uri": str(uri)})) from exc


def build_server(state: ApiState, caller: Caller) -> LabsearchMCP:
    """The MCP server: tools and resources over `state`, for the callers `caller` names."""
    server = LabsearchMCP(NAME, instructions=INSTRUCTIONS, log_level="WARNING")

    async def run(ctx: Context, work: Callable[..., T], *args: Any) -> T:
        access = caller.access(ctx)
        # The service embeds queries and reads the index: off the event loop.
        return await anyio.to_thread.run_sync(work, state, access, *args)

    @server.tool(annotations=READ_ONLY, title="Search lab data")
    async def search(
        ctx: Context,
        query: Annotated[
            str, Field(description="Free text; identifiers in it match exactly.")
        ] = "",
        filters: Annotated[
            dict[str, Any] | None,
            Field(description="A filter (labsearch://docs/filters), e.g. {'entity': 'run'}."),
        ] = None,
        facets: Annotated[
            list[str] | None, Field(description="Fields to count values of, e.g. ['entity'].")
        ] = None,
        size: Annotated[int, Field(ge=1, le=100, description="Hits per page.")] = 10,
        page: Annotated[int, Field(ge=1)] = 1,
        mode: Literal["hybrid", "bm25", "dense"] = "hybrid",
        include_text: Annotated[
            int,
            Field(ge=0, le=MAX_INCLUDED_TEXT, description="Characters of each hit's text."),
        ] = 0,
    ) -> SearchResponse:
        """Ranked hybrid search over the assets you may see, with filters and facet counts."""
        request = SearchRequestModel(
            query=query,
            filters=filters,
            facets=facets or [],
            size=size,
            page=page,
            mode=mode,
            include_text=include_text,
        )
        return await run(ctx, mcp_tools.search, request)

    @server.tool(annotations=READ_ONLY, title="Ask a question")
    async def ask(
        ctx: Context,
        question: Annotated[
            str, Field(min_length=1, description="e.g. 'which runs used sample LIV-0042?'")
        ],
    ) -> Answer:
        """A cited answer. List and count questions come with `result`: every member, the
        count, `complete`, and `question` (what was understood: target and constraints)."""
        return await run(ctx, mcp_tools.ask, question)

    @server.tool(annotations=READ_ONLY, title="Get an asset")
    async def get_asset(
        ctx: Context, asset_id: Annotated[str, Field(description="The asset's id, as is.")]
    ) -> AssetResponse:
        """Full metadata, provenance, identifiers, relations and links of one asset."""
        return await run(ctx, mcp_tools.get_asset, asset_id)

    @server.tool(annotations=READ_ONLY, title="Get an asset's links")
    async def get_links(
        ctx: Context,
        asset_id: Annotated[str, Field(description="The asset's id, as is.")],
        presign: Annotated[
            bool, Field(description="Also sign a short-lived S3 download link.")
        ] = False,
    ) -> LinksResponse:
        """Every way to open an asset it has: download, preview, presign, manifest, ELN record,
        catalog page, ELN page, the quilt3 command and Python for the exact revision."""
        base_url = caller.base_url(ctx)
        return await run(ctx, mcp_tools.get_links, asset_id, presign, base_url)

    @server.tool(annotations=READ_ONLY, title="List sources")
    async def list_sources(ctx: Context) -> SourcesResponse:
        """The indexed sources holding assets you may see, with how many."""
        return await run(ctx, mcp_tools.list_sources)

    @server.tool(annotations=READ_ONLY, title="Values of a field")
    async def facet_values(
        ctx: Context,
        field: Annotated[
            str, Field(description="e.g. 'metadata.instrument', 'instrument', 'entity'.")
        ],
        filters: Annotated[
            dict[str, Any] | None, Field(description="Only count assets matching this filter.")
        ] = None,
    ) -> FacetValuesResponse:
        """Every value of a field over the assets you may see, with counts: build filters."""
        return await run(ctx, mcp_tools.facet_values, field, filters)

    @server.resource(
        "labsearch://asset/{asset_id}",
        name="asset",
        title="An asset",
        description="An asset's metadata, provenance and links; percent-encode the id.",
        mime_type="application/json",
    )
    async def asset_resource(asset_id: str, ctx: Context) -> str:
        response = await run(ctx, mcp_tools.get_asset, unquote(asset_id))
        return response.model_dump_json()

    @server.resource(
        "labsearch://docs/filters",
        name="filter-grammar",
        title="The filter grammar",
        description="How to write the `filters` of search and facet_values.",
        mime_type="text/markdown",
    )
    def filter_grammar() -> str:
        return mcp_tools.FILTER_GRAMMAR

    return server


class McpEndpoint:
    """The ASGI endpoint of `/mcp`: the API's sign-in and rate limit, then the MCP server.

    Stateless streamable HTTP: each request stands alone (no session is shared between
    callers), so every request is authenticated and carries its own caller. The session
    manager runs inside the app's lifespan (`run`).
    """

    def __init__(self, state: ApiState) -> None:
        self.state = state
        self.server = build_server(state, HttpCaller())
        self._manager: StreamableHTTPSessionManager | None = None

    @asynccontextmanager
    async def run(self) -> AsyncIterator[None]:
        # A manager runs once; a new one per lifespan lets tests start the app again.
        manager = StreamableHTTPSessionManager(
            app=self.server._mcp_server, json_response=True, stateless=True
        )
        async with manager.run():
            self._manager = manager
            try:
                yield
            finally:
                self._manager = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":  # streamable HTTP only: no websockets
            await send({"type": "websocket.close", "code": 1003})
            return
        request = Request(scope, receive)
        try:
            principal = self.state.auth.authenticate(
                request.headers.get("authorization"), request.headers.get(API_KEY_HEADER)
            )
            self.state.limiter.check(principal.user)
            if self._manager is None:
                raise StoreUnavailableError("the MCP endpoint is not running; retry shortly")
        except LabsearchError as exc:
            retry = getattr(exc, "retry_after_seconds", None)
            headers = {"Retry-After": str(retry)} if retry else None
            body = error_body(exc)
            response = error_response(exc.status, body["error"], body["detail"], headers)
            await response(scope, receive, send)
            return
        scope[ACCESS_KEY] = principal.access()
        await self._manager.handle_request(scope, receive, send)


def run_stdio(state: ApiState, access: Access, base_url: str | None = None) -> None:
    """Serve MCP on stdin/stdout as `access` until the client closes the stream."""
    state.start_loading()
    build_server(state, FixedCaller(access, base_url)).run("stdio")
