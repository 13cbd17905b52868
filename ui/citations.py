"""Citation cards: what an answer rests on, and every way to open it.

Each card shows title, kind, data level, key metadata and package@top hash, with buttons to open
the Quilt catalog or the ELN entry, copy the s3:// URI or the quilt3 command that fetches the
cited revision (the code blocks' copy buttons), download the file through the API (or fetch a
presigned link for S3), preview it, open the ELN record as exported, and show the full metadata
and provenance. Downloads, previews and records go through the API with the signed-in user's
credential, so they obey the same permissions as everything else.
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
        if citation.get("quilt3_command"):
            st.code(citation["quilt3_command"], language="bash")
        _buttons(citation, uri, key)
        api_links(citation, key)
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


def api_links(citation: dict[str, Any], key: str) -> None:
    """Download, Preview and ELN record, fetched through the API as the signed-in user."""
    asset_id = citation["asset_id"]
    fetched = st.session_state.setdefault("fetched", {})
    columns = st.columns(3)
    if citation.get("download_url") and columns[0].button("Download", key=f"download-{key}"):
        with api_errors(), st.spinner("Downloading…"):
            fetched[("download", asset_id)] = state.client().download(asset_id)
    if citation.get("preview_url") and columns[1].button("Preview", key=f"preview-{key}"):
        with api_errors(), st.spinner("Reading the file…"):
            fetched[("preview", asset_id)] = state.client().preview(asset_id)
    if citation.get("record_url") and columns[2].button("ELN record", key=f"record-{key}"):
        with api_errors():
            fetched[("record", asset_id)] = state.client().record(asset_id)
    download = fetched.get(("download", asset_id))
    if download:
        name, data = download
        st.download_button(f"Save {name}", data, file_name=name, key=f"save-{key}")
    shown = fetched.get(("preview", asset_id))
    if shown:
        with st.expander(f"Preview ({shown.format})", expanded=True):
            if shown.thumbnail:
                st.image(shown.thumbnail)
            if shown.text:
                st.code(shown.text, language=None)
            if shown.truncated:
                st.caption("First part only: download the file for the rest.")
            for note in shown.notes:
                st.caption(note)
    record = fetched.get(("record", asset_id))
    if record:
        with st.expander("ELN record", expanded=True):
            st.json(record)


def _download(asset_id: str, key: str) -> None:
    links = st.session_state.setdefault("presigned", {})
    if st.button("Get download link", key=f"presign-{key}"):
        with api_errors(), st.spinner("Asking the API for a download link…"):
            links[asset_id] = state.client().presign(asset_id).model_dump(mode="json")
    link = links.get(asset_id)
    if link:
        minutes = max(1, link["expires_in"] // 60)
        st.link_button(f"Download (link valid {minutes} min)", link["url"], type="primary")
