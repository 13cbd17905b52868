"""The sidebar's conversation list: new, open, rename and delete."""

from __future__ import annotations

import streamlit as st

from ui import state
from ui.errors import api_errors


def sidebar() -> None:
    st.subheader("Conversations")
    if st.button(
        "New conversation", icon=":material/add:", width="stretch", key="new-conversation"
    ):
        state.new_conversation()
        st.rerun()
    with api_errors():
        summaries = [s.model_dump(mode="json") for s in state.client().conversations()]
        if not summaries:
            st.caption("No conversations yet.")
        current = state.conversation_id()
        for summary in summaries:
            selected = summary["id"] == current
            if st.button(
                summary["title"],
                key=f"open-{summary['id']}",
                type="primary" if selected else "secondary",
                width="stretch",
                help=f"{summary['messages']} messages, last {summary['updated_at'][:16]}",
            ):
                with st.spinner("Opening the conversation…"):
                    conversation = state.client().conversation(summary["id"])
                    state.open_conversation(conversation.model_dump(mode="json"))
                st.rerun()
        if current and any(s["id"] == current for s in summaries):
            _manage(current, next(s["title"] for s in summaries if s["id"] == current))


def _manage(conversation_id: str, title: str) -> None:
    with st.expander("Rename or delete this conversation"):
        new_title = st.text_input("New title", value=title, key=f"title-{conversation_id}")
        if st.button("Rename", key="rename-conversation") and new_title.strip():
            state.client().rename(conversation_id, new_title.strip())
            st.rerun()
        if st.button("Delete conversation", key="delete-conversation", type="primary"):
            state.client().delete(conversation_id)
            state.new_conversation()
            st.rerun()
