"""The complete answer to a list question: a sortable table, its count, a completeness badge, a
CSV download, and for runs the files of a chosen run."""

from __future__ import annotations

from typing import Any

import pandas as pd
import streamlit as st

from labsearch.models import SearchRequestModel
from ui import citations, state
from ui.errors import api_errors
from ui.format import KEY_METADATA, label, value_text

# Columns after the title, when any member has them; the rest of the metadata stays in details.
COLUMNS = ["run_id", "date", "instrument", "samples", "sample", "experiment_id", "project"]


def table(result: dict[str, Any]) -> pd.DataFrame:
    members = result.get("members") or []
    present = [c for c in COLUMNS if any(c in (m.get("metadata") or {}) for m in members)]
    several_kinds = len({m.get("kind") for m in members}) > 1
    runs = result.get("entity") == "run" and "run_id" in present
    rows = []
    for member in members:
        metadata = member.get("metadata") or {}
        row = {}
        for column in present:
            value = metadata.get(column)
            row[KEY_METADATA.get(column, column)] = None if value is None else value_text(value)
        title = {"Title": member["title"]}
        # Runs are known by their run id (first column); anything else by its title.
        row = {**row, **title} if runs else {**title, **row}
        if several_kinds:
            row["Kind"] = label(member.get("kind"))
        row["Id"] = member["id"]
        rows.append(row)
    return pd.DataFrame(rows)


def render(result: dict[str, Any], key: str) -> None:
    entity = label(result.get("entity")) or "item"
    count = result["count"]
    noun = entity if count == 1 else f"{entity}s"
    shown = len(result.get("members") or [])
    if result.get("complete"):
        badge = ":green-badge[:material/check: complete result]"
    elif shown < count:
        badge = f":orange-badge[partial: {shown} of {count} shown]"
    else:  # every member shown, but part of the question did not bind (the text says which)
        badge = ":orange-badge[:material/help: not sure this is complete]"
    st.markdown(f"**{count} {noun}** for `{result.get('subject', '')}` &nbsp; {badge}")
    frame = table(result)
    if frame.empty:
        st.info(f"No {noun} match `{result.get('subject', '')}` among the data you may see.")
        return
    # st.dataframe sorts by any column on a header click.
    st.dataframe(frame, hide_index=True, width="stretch")
    st.download_button(
        "Download CSV",
        frame.to_csv(index=False).encode(),
        file_name=f"{result.get('question_type', 'result')}-{result.get('subject', '')}.csv",
        mime="text/csv",
        key=f"csv-{key}",
    )
    if result.get("entity") == "run":
        _files_of_a_run(result.get("members") or [], key)


def _files_of_a_run(members: list[dict[str, Any]], key: str) -> None:
    """A run's files (the entries of its package), with Download and Preview, on request."""
    runs = {m["title"]: m["id"] for m in members if m.get("kind") == "package"}
    if not runs:
        return
    chosen = st.selectbox(
        "Files of a run", list(runs), index=None, placeholder="Choose a run", key=f"run-{key}"
    )
    if chosen is None:
        return
    request = SearchRequestModel(filters={"links.part_of": runs[chosen]}, size=100)
    with api_errors():
        found = state.client().search(request)
        for hit in found.hits:
            item = {
                "asset_id": hit.id,
                "download_url": hit.links.download,
                "preview_url": hit.links.preview,
                "record_url": hit.links.record,
            }
            st.markdown(f"`{hit.title}`")
            citations.api_links(item, f"{key}-{hit.id}")
        if found.total and found.total > len(found.hits):
            st.caption(f"First {len(found.hits)} of {found.total} files.")
