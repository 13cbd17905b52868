from __future__ import annotations

from fastapi import APIRouter

from chat_api.deps import CurrentUser, State
from chat_api.searching import run_search
from labsearch.models import ErrorBody, SearchRequestModel, SearchResponse

router = APIRouter(tags=["search"])


@router.post(
    "/search",
    response_model=SearchResponse,
    summary="Hybrid search with filters (labsearch/filters.py grammar) and facet counts.",
    responses={400: {"model": ErrorBody}, 401: {"model": ErrorBody}, 429: {"model": ErrorBody}},
)
def search(body: SearchRequestModel, access: CurrentUser, state: State) -> SearchResponse:
    return run_search(state, access, body)
