"""Thumbs up or down, with an optional comment, on one answer; stored through POST /v1/feedback."""

from __future__ import annotations

import streamlit as st

from ui import state
from ui.errors import api_errors

SENT = "feedback_sent"


def render(conversation_id: str, message_id: int) -> None:
    sent = st.session_state.setdefault(SENT, {})
    key = f"{conversation_id}-{message_id}"
    if key in sent:
        thumb = ":material/thumb_up:" if sent[key] == "up" else ":material/thumb_down:"
        st.caption(f"Feedback saved {thumb}. Thank you.")
        return
    comment = st.text_input(
        "Comment (optional)",
        key=f"comment-{key}",
        placeholder="What was wrong or missing?",
        label_visibility="collapsed",
    )
    up, down, _ = st.columns([1, 1, 4])
    rating = None
    if up.button("Helpful", icon=":material/thumb_up:", key=f"up-{key}"):
        rating = "up"
    if down.button("Wrong", icon=":material/thumb_down:", key=f"down-{key}"):
        rating = "down"
    if rating:
        with api_errors():
            state.client().feedback(conversation_id, message_id, rating, comment)
            sent[key] = rating
            st.rerun()
