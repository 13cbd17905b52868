from __future__ import annotations

from fastapi import APIRouter

from chat_api.deps import CurrentUser, State
from chat_api.limits import check_query_length
from labsearch.models import ErrorBody, SearchRequestModel, SearchResponse

router = APIRouter(tags=["search"])


@router.post(
    "/search",
    response_model=SearchResponse,
    summary="Hybrid search with filters (labsearch/filters.py grammar) and facet counts.",
    responses={400: {"model": ErrorBody}, 401: {"model": ErrorBody}, 429: {"model": ErrorBody}},
)
def search(body: SearchRequestModel, access: CurrentUser, state: State) -> SearchResponse:
    check_query_length(body.query, state.settings.max_query_chars)
    response = state.service.search(body, access)
    state.audit.record(
        user=access.user,
        action="search",
        question=body.query,
        filters=body.filters,
        returned=[hit.id for hit in response.hits],
    )
    return response
