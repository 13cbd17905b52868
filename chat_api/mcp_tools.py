"""What each MCP tool and resource does, on the API's state and the caller's Access.

Plain synchronous functions over the same service, audit log and presigner as the HTTP routes,
returning the API's own models (labsearch/models.py). chat_api/mcp_server.py exposes them over
MCP (stdio and streamable HTTP); nothing here knows about the protocol.
"""

from __future__ import annotations

from typing import Any

from chat_api.answering import Outcome, Turn
from chat_api.limits import check_query_length
from chat_api.searching import run_search
from chat_api.state import ApiState
from labsearch import filters as filter_grammar
from labsearch.access import Access
from labsearch.errors import LabsearchError
from labsearch.models import (
    Answer,
    AssetLinks,
    AssetResponse,
    FacetValuesResponse,
    LinksResponse,
    SearchRequestModel,
    SearchResponse,
    SourcesResponse,
    SourceSummary,
)

VIA = "mcp"  # every audit line written through MCP says so
# AssetLinks fields holding API paths (made absolute when the server knows its own URL).
API_PATHS = ("presign", "download", "preview", "manifest", "record")

FILTER_GRAMMAR = (
    "# labsearch filter grammar\n\n"
    "Pass a filter as the `filters` argument of `search` and `facet_values`; use "
    "`facet_values` to see which values a field holds before filtering on it.\n"
    + (filter_grammar.__doc__ or "").split("\n", 2)[2]
)


def search(state: ApiState, access: Access, request: SearchRequestModel) -> SearchResponse:
    return run_search(state, access, request, via=VIA)


def ask(state: ApiState, access: Access, question: str) -> Answer:
    check_query_length(question, state.settings.max_query_chars, field="question")
    outcome = Outcome()
    answer = state.answerer.answer(question, access, Turn(), outcome)
    state.audit.record(
        user=access.user,
        action="ask",
        question=question,
        returned=outcome.returned,
        cited=[c.asset_id for c in answer.citations],
        removed_citations=outcome.removed_citations,
        replaced=outcome.replaced,
        llm=state.llm_name,
        via=VIA,
    )
    return answer


def get_asset(state: ApiState, access: Access, asset_id: str) -> AssetResponse:
    asset = state.service.get_asset(asset_id, access)
    links = state.service.links(asset)
    state.audit.record(user=access.user, action="asset", returned=[asset.id], via=VIA)
    return AssetResponse(asset=asset, links=links)


def absolute(links: AssetLinks, base_url: str | None) -> AssetLinks:
    """The API paths among `links` as URLs under `base_url` (unchanged without one)."""
    if not base_url:
        return links
    base = base_url.rstrip("/")
    update = {
        name: base + value
        for name in API_PATHS
        if isinstance(value := getattr(links, name), str) and value.startswith("/")
    }
    return links.model_copy(update=update)


def get_links(
    state: ApiState, access: Access, asset_id: str, presign: bool, base_url: str | None
) -> LinksResponse:
    asset = state.service.get_asset(asset_id, access)
    links = absolute(state.service.links(asset), base_url)
    presigned, notes = None, []
    if presign:
        try:
            presigned = state.presigner.presign(asset)
        except LabsearchError as exc:  # not in S3, or no AWS credentials: say so, keep the rest
            notes.append(f"no presigned link: {exc}")
    if not any(value for value in links.model_dump().values()):
        notes.append("this asset has no links this server knows of")
    returned = [asset.id]
    state.audit.record(user=access.user, action="links", returned=returned, via=VIA)
    if presigned is not None:
        state.audit.record(user=access.user, action="presign", returned=returned, via=VIA)
    return LinksResponse(
        asset_id=asset.id, title=asset.title, links=links, presigned=presigned, notes=notes
    )


def list_sources(state: ApiState, access: Access) -> SourcesResponse:
    """The sources holding at least one asset the caller may see, never the others."""
    counts = state.service.store.values("source", access)
    sources = [SourceSummary(source=s, assets=n) for s, n in sorted(counts.items())]
    state.audit.record(user=access.user, action="sources", via=VIA)
    return SourcesResponse(sources=sources)


def facet_values(
    state: ApiState, access: Access, field: str, filters: dict[str, Any] | None
) -> FacetValuesResponse:
    normalized = filter_grammar.normalize_field(field)
    filter_grammar.parse(filters)  # a clear InvalidFilterError before touching the store
    values = state.service.store.values(normalized, access, filters)
    state.audit.record(user=access.user, action="values", field=normalized, via=VIA)
    ordered = dict(sorted(values.items(), key=lambda item: (-item[1], item[0])))
    return FacetValuesResponse(field=normalized, values=ordered)
