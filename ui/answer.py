"""One assistant answer: its text, the structured result, the citation cards and feedback."""

from __future__ import annotations

from typing import Any

import streamlit as st

from ui import citations, entity_table, feedback


def render(answer: dict[str, Any], conversation_id: str | None, message_id: int | None) -> None:
    key = f"{conversation_id}-{message_id}"
    if answer.get("standalone_query"):
        st.caption(f"Understood as: _{answer['standalone_query']}_")
    st.markdown(answer["text"])
    if answer.get("result"):
        entity_table.render(answer["result"], key)
    citations.render(answer.get("citations") or [], key)
    if conversation_id and message_id is not None:
        feedback.render(conversation_id, message_id)
