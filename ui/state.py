"""The UI's session: who is signed in, the open conversation and its messages.

Streamlit reruns the script on every interaction; everything that must survive a rerun lives in
`st.session_state` under the keys below, and only this module touches them by name.
"""

from __future__ import annotations

import os
from typing import Any

import streamlit as st

from labsearch.client import ApiClient, Credential

CREDENTIAL = "credential"
CLIENT = "api_client"
CONVERSATION = "conversation_id"
MESSAGES = "messages"


def api_url() -> str:
    """LABSEARCH_API_URL, else the settings' api_url (the same default as `labsearch serve`)."""
    configured = os.environ.get("LABSEARCH_API_URL")
    if configured:
        return configured
    from labsearch.settings import get_settings

    return get_settings().api_url


def demo_mode() -> bool:
    """`labsearch demo` sets LABSEARCH_UI_DEMO=1: the sign-in becomes a picker of demo users."""
    return os.environ.get("LABSEARCH_UI_DEMO", "").lower() in ("1", "true", "yes")


def client() -> ApiClient:
    """The session's client (one connection pool), signed in if a credential is stored."""
    wanted = (api_url(), st.session_state.get(CREDENTIAL))
    kept = st.session_state.get(CLIENT)
    if kept is None or kept[0] != wanted:
        if kept is not None:
            kept[1].close()
        kept = (wanted, ApiClient(*wanted))
        st.session_state[CLIENT] = kept
    return kept[1]


def credential() -> Credential | None:
    return st.session_state.get(CREDENTIAL)


def sign_in(value: Credential) -> None:
    if st.session_state.get(CREDENTIAL) != value:
        # Another user: their conversations are not this user's.
        new_conversation()
    st.session_state[CREDENTIAL] = value


def sign_out() -> None:
    st.session_state.pop(CREDENTIAL, None)
    new_conversation()


def conversation_id() -> str | None:
    return st.session_state.get(CONVERSATION)


def messages() -> list[dict[str, Any]]:
    """[{"role", "content", "answer" (dict or None), "message_id" (int or None)}], oldest first."""
    return st.session_state.setdefault(MESSAGES, [])


def new_conversation() -> None:
    st.session_state[CONVERSATION] = None
    st.session_state[MESSAGES] = []


def open_conversation(conversation: dict[str, Any]) -> None:
    """Show a conversation as read from GET /v1/conversations/{id}."""
    st.session_state[CONVERSATION] = conversation["id"]
    st.session_state[MESSAGES] = [
        {
            "role": message["role"],
            "content": message["content"],
            "answer": message.get("answer"),
            "message_id": message["id"] if message["role"] == "assistant" else None,
        }
        for message in conversation["history"]
    ]


def add_turn(conversation: str, question: str, response: dict[str, Any]) -> None:
    """Record a finished turn (the ChatResponse of the API) under its conversation."""
    st.session_state[CONVERSATION] = conversation
    answer = response["answer"]
    messages().extend(
        [
            {"role": "user", "content": question, "answer": None, "message_id": None},
            {
                "role": "assistant",
                "content": answer["text"],
                "answer": answer,
                "message_id": response["message_id"],
            },
        ]
    )
