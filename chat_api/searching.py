"""The service behind a search, for every entry point (the /v1 route, MCP): check the query,
search as the caller, and audit what was returned."""

from __future__ import annotations

from chat_api.limits import check_query_length
from chat_api.state import ApiState
from labsearch.access import Access
from labsearch.models import SearchRequestModel, SearchResponse


def run_search(
    state: ApiState, access: Access, request: SearchRequestModel, via: str | None = None
) -> SearchResponse:
    check_query_length(request.query, state.settings.max_query_chars)
    response = state.service.search(request, access)
    extra = {"via": via} if via else {}
    state.audit.record(
        user=access.user,
        action="search",
        question=request.query,
        filters=request.filters,
        returned=[hit.id for hit in response.hits],
        **extra,
    )
    return response
