from __future__ import annotations

from fastapi import APIRouter, Request

from chat_api.deps import CurrentUser, State
from chat_api.disconnects import unless_disconnected
from chat_api.searching import run_search
from labsearch.models import ErrorBody, SearchRequestModel, SearchResponse

router = APIRouter(tags=["search"])


@router.post(
    "/search",
    response_model=SearchResponse,
    summary="Hybrid search with filters (labsearch/filters.py grammar) and facet counts.",
    responses={400: {"model": ErrorBody}, 401: {"model": ErrorBody}, 429: {"model": ErrorBody}},
)
async def search(
    body: SearchRequestModel, access: CurrentUser, state: State, request: Request
) -> SearchResponse:
    # Facets over a large index can take seconds: a client that leaves stops the work.
    return await unless_disconnected(request, lambda: run_search(state, access, body))
