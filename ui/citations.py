"""Citation cards: what an answer rests on, and every way to open it.

Each card shows title, kind, data level, key metadata and package@top hash, with buttons to open
the Quilt catalog or the ELN entry, copy the s3:// URI (the code block's copy button), fetch a
presigned download link, and show the full metadata and provenance.
"""

from __future__ import annotations

from typing import Any

import streamlit as st

from ui import asset_details, state
from ui.errors import api_errors
from ui.format import facts, key_metadata, package_at_hash, s3_uri_text

CARDS_PER_ROW = 2


def render(citations: list[dict[str, Any]], key: str) -> None:
    """All cards of one answer; `key` makes widget keys unique per answer."""
    if not citations:
        return
    st.markdown(f"**Sources** ({len(citations)})")
    for start in range(0, len(citations), CARDS_PER_ROW):
        columns = st.columns(CARDS_PER_ROW)
        for offset, citation in enumerate(citations[start : start + CARDS_PER_ROW]):
            number = start + offset + 1
            with columns[offset]:
                card(citation, number, f"{key}-{number}")


def card(citation: dict[str, Any], number: int, key: str) -> None:
    with st.container(border=True):
        st.markdown(f"**[{number}] {citation['title']}**")
        st.caption(facts(citation.get("kind"), citation.get("entity"), citation.get("data_level")))
        metadata = key_metadata(citation.get("metadata") or {})
        if metadata:
            st.markdown("  \n".join(f"{name}: **{value}**" for name, value in metadata))
        revision = package_at_hash(citation.get("package"), citation.get("top_hash"))
        if revision:
            st.markdown(f":material/package_2: `{revision}`")
        uri = s3_uri_text(citation.get("s3_uri"), citation.get("version_id"))
        if uri:
            # st.code has a copy-to-clipboard button: that is the "copy s3:// URI" action.
            st.code(uri, language=None)
        _buttons(citation, uri, key)
        asset_details.details_toggle(citation["asset_id"], key)


def _buttons(citation: dict[str, Any], uri: str | None, key: str) -> None:
    actions = []
    if citation.get("catalog_url"):
        actions.append(("Open in Quilt catalog", citation["catalog_url"]))
    if citation.get("eln_url"):
        actions.append(("Open ELN entry", citation["eln_url"]))
    if citation.get("file_url") and not uri:
        actions.append(("Open file", citation["file_url"]))
    for text, url in actions:
        st.link_button(text, url)
    if uri:
        _download(citation["asset_id"], key)


def _download(asset_id: str, key: str) -> None:
    links = st.session_state.setdefault("presigned", {})
    if st.button("Get download link", key=f"presign-{key}"):
        with api_errors(), st.spinner("Asking the API for a download link…"):
            links[asset_id] = state.client().presign(asset_id)
    link = links.get(asset_id)
    if link:
        minutes = max(1, link["expires_in"] // 60)
        st.link_button(f"Download (link valid {minutes} min)", link["url"], type="primary")
