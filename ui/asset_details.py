"""The full metadata and provenance of one asset, read from GET /v1/assets/{id} when asked for."""

from __future__ import annotations

from typing import Any

import streamlit as st

from ui import state
from ui.errors import api_errors
from ui.format import label

# Asset details are fetched once per session and asset: clicking twice does not refetch.
CACHE = "asset_details"


def _fetch(asset_id: str) -> dict[str, Any]:
    cache = st.session_state.setdefault(CACHE, {})
    if asset_id not in cache:
        with st.spinner("Loading metadata and provenance…"):
            cache[asset_id] = state.client().asset(asset_id).model_dump(mode="json")
    return cache[asset_id]


def details_toggle(asset_id: str, key: str) -> None:
    """A "Details" toggle; when on, the asset's metadata, provenance and links below it."""
    if not st.toggle("Full metadata and provenance", key=f"details-{key}"):
        return
    with api_errors():
        render(_fetch(asset_id))


def render(detail: dict[str, Any]) -> None:
    asset, links = detail["asset"], detail["links"]
    st.markdown(f"**{asset['title']}** · {label(asset['kind'])}")
    st.caption(f"`{asset['id']}`")
    metadata_tab, provenance_tab, links_tab = st.tabs(["Metadata", "Provenance", "Links"])
    with metadata_tab:
        st.json(asset.get("metadata") or {}, expanded=True)
        if asset.get("identifiers"):
            st.markdown("Identifiers: " + ", ".join(f"`{i}`" for i in asset["identifiers"]))
    with provenance_tab:
        provenance = {k: v for k, v in (asset.get("provenance") or {}).items() if v}
        st.json(provenance, expanded=True)
        for field in ("created_at", "updated_at"):
            if asset.get(field):
                st.caption(f"{label(field)}: {asset[field]}")
    with links_tab:
        related = asset.get("links") or []
        for link in related:
            st.markdown(f"- {label(link['rel'])} → `{link['target']}`")
        shown = {k: v for k, v in links.items() if v}
        if shown:
            st.json(shown, expanded=True)
        if not related and not shown:
            st.caption("No links recorded for this asset.")
