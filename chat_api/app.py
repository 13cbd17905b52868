"""The FastAPI application: `create_app()` for ASGI servers and tests, `run()` for the CLI."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import APIRouter, FastAPI
from starlette.routing import Route

from chat_api import errors
from chat_api.limits import BodySizeLimit
from chat_api.llm import LLM
from chat_api.mcp_server import McpEndpoint
from chat_api.routes import (
    assets,
    auth,
    chat,
    conversations,
    downloads,
    feedback,
    health,
    ingest,
    search,
)
from chat_api.state import ApiState
from labsearch.settings import Settings, get_settings

DESCRIPTION = """Semantic search and cited answers over a lab's data assets.

Sign in with `X-API-Key: <key>` or `Authorization: Bearer <API key or JWT>`; see
`GET /v1/auth/config`. Every route except health checks and auth config needs it. Errors are
`{"error": <class>, "detail": <what to do>}`. Asset ids in paths must be percent-encoded.

MCP clients (AI assistants) connect to `/mcp` (streamable HTTP), signed in the same way."""


def create_app(
    settings: Settings | None = None, service: Any | None = None, *, llm: LLM | None = None
) -> FastAPI:
    """The API app. `service` (a retriever.service.SearchService) and `llm` are opened from
    settings when not given; tests pass their own."""
    settings = settings or get_settings()
    state = ApiState(settings, service, llm)
    mcp = McpEndpoint(state)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        state.start_loading()
        async with mcp.run():
            yield

    app = FastAPI(title="labsearch", version="1", description=DESCRIPTION, lifespan=lifespan)
    app.state.labsearch = state
    # Pushes carry batches of records; every other route takes a few KB at most.
    larger = {"/v1/ingest": settings.ingest_max_bytes, "/v1/webhooks/": settings.ingest_max_bytes}
    app.add_middleware(BodySizeLimit, max_bytes=settings.max_body_bytes, larger=larger)
    errors.install(app)
    v1 = APIRouter(prefix="/v1")
    routes = (health, auth, search, chat, conversations, feedback, assets, downloads, ingest)
    for module in routes:
        v1.include_router(module.router)
    app.include_router(v1)
    # The MCP server (chat_api/mcp_server.py): same sign-in, rate limit and audit log.
    app.router.routes.append(Route("/mcp", endpoint=mcp, include_in_schema=False))
    return app


def run(settings: Settings, host: str = "127.0.0.1", port: int = 8000) -> None:
    """Serve the API with uvicorn (used by `labsearch serve` and `labsearch demo`)."""
    import uvicorn

    uvicorn.run(create_app(settings), host=host, port=port, log_level="info")
