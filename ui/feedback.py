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
        st.caption(f"Feedback saved ({'👍' if sent[key] == 'up' else '👎'}). Thank you.")
        return
    comment = st.text_input(
        "Comment (optional)",
        key=f"comment-{key}",
        placeholder="What was wrong or missing?",
        label_visibility="collapsed",
    )
    up, down, _ = st.columns([1, 1, 6])
    rating = None
    if up.button("👍", key=f"up-{key}", help="Helpful answer"):
        rating = "up"
    if down.button("👎", key=f"down-{key}", help="Wrong or incomplete answer"):
        rating = "down"
    if rating:
        with api_errors():
            state.client().feedback(conversation_id, message_id, rating, comment)
            sent[key] = rating
            st.rerun()
