"""The search tab: a query box, facet filters with counts, and the hits with highlights."""

from __future__ import annotations

from datetime import date
from typing import Any

import streamlit as st

from labsearch.models import Hit, SearchRequestModel, SearchResponse
from ui import asset_details, state
from ui.errors import api_errors
from ui.format import facts, key_metadata, label

# Facet field -> label; each is a multiselect whose options show the count of each value.
FACETS = {
    "kind": "Kind",
    "data_level": "Data level",
    "metadata.instrument": "Instrument",
    "metadata.project": "Project",
    "metadata.organism": "Organism",
}
DATE_FIELD = "metadata.date"
PAGE_SIZE = 20
LAST_SEARCH = "last_search"


def filters() -> dict[str, Any] | None:
    """The filter (labsearch/filters.py grammar) the widgets hold; read before they are drawn,
    because the counts shown next to them come from the search that uses it."""
    clauses: list[dict[str, Any]] = []
    for field in FACETS:
        chosen = st.session_state.get(f"facet-{field}") or []
        if chosen:
            clauses.append({field: {"in": list(chosen)}})
    dates = st.session_state.get("facet-date") or ()
    if len(dates) == 2:
        start, end = dates
        clauses.append({DATE_FIELD: {"gte": start.isoformat(), "lte": end.isoformat()}})
    if not clauses:
        return None
    return clauses[0] if len(clauses) == 1 else {"and": clauses}


def facet_widgets(response: SearchResponse | None) -> None:
    counts = response.facets if response else {}
    for field, name in FACETS.items():
        values = dict(counts.get(field, {}))
        for chosen in st.session_state.get(f"facet-{field}") or []:
            values.setdefault(chosen, 0)  # a chosen value stays choosable at any count
        st.multiselect(
            name,
            list(values),
            key=f"facet-{field}",
            format_func=lambda value, values=values: f"{label(value)} ({values.get(value, 0)})",
            placeholder="any",
        )
    st.date_input(
        "Date range",
        value=(),
        min_value=date(1990, 1, 1),
        key="facet-date",
        help="Runs and files by their recorded date.",
    )


def hit_card(hit: Hit, number: int) -> None:
    with st.container(border=True):
        badge = " :blue-badge[exact identifier match]" if hit.exact else ""
        st.markdown(f"**{number}. {hit.title}**{badge}")
        st.caption(f"{facts(hit.kind, hit.entity, hit.data_level)} · score {hit.score:.3f}")
        # Highlights come with matches in **bold** (Markdown) from both stores.
        for snippet in hit.highlights:
            st.markdown(f"> {snippet}")
        metadata = key_metadata(hit.metadata)
        if metadata:
            st.markdown(" · ".join(f"{name}: **{value}**" for name, value in metadata))
        links = hit.links
        for text, url in [
            ("Open in Quilt catalog", links.catalog_url),
            ("Open ELN entry", links.eln_url),
        ]:
            if url:
                st.link_button(text, url)
        asset_details.details_toggle(hit.id, f"hit-{number}-{hit.id}")


def _search(request: SearchRequestModel) -> SearchResponse:
    """Search once per distinct request: the tab is redrawn on every chat interaction too."""
    key = (state.credential(), request.model_dump_json())
    last = st.session_state.get(LAST_SEARCH)
    if last is None or last[0] != key:
        last = (key, state.client().search(request))
        st.session_state[LAST_SEARCH] = last
    return last[1]


def render() -> None:
    query = st.text_input(
        "Search", key="search-query", placeholder="e.g. dexamethasone liver RNA-seq, LIV-0037"
    )
    left, right = st.columns([1, 3])
    response: SearchResponse | None = None
    with right, api_errors(), st.spinner("Searching…"):
        request = SearchRequestModel(
            query=query.strip(), filters=filters(), facets=list(FACETS), size=PAGE_SIZE
        )
        response = _search(request)
    with left:
        facet_widgets(response)
    if response is None:
        return
    with right:
        if not response.hits:
            st.info(
                "No results. Try fewer words, or remove a filter.", icon=":material/search_off:"
            )
            return
        total = f"{response.total} results" if response.total is not None else "Top results"
        st.caption(f"{total} · showing {len(response.hits)}")
        for number, hit in enumerate(response.hits, start=1):
            hit_card(hit, number)
