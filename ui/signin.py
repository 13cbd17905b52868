"""Sign-in as the API's GET /v1/auth/config describes it: an API key or a bearer token.

In demo mode (LABSEARCH_UI_DEMO=1, set by `labsearch demo`) a picker switches between the demo
users, who belong to different labs and so see different data.
"""

from __future__ import annotations

from typing import Any

import streamlit as st

from labsearch.client import ApiClient, Credential
from labsearch.errors import AuthError, LabsearchError
from ui import state
from ui.errors import show_error

DEMO_USERS = {"alice (lab A)": "demo-alice", "bob (lab B)": "demo-bob"}
METHOD_LABELS = {"api_key": "API key", "token": "Token (JWT)"}


def auth_config() -> dict[str, Any] | None:
    """The API's sign-in methods, or None after showing why the API cannot be used."""
    try:
        with ApiClient(state.api_url()) as anonymous:
            return anonymous.auth_config().model_dump(mode="json")
    except LabsearchError as exc:
        show_error(exc)
        st.button("Retry", key="retry-api")
        return None


def demo_picker(config: dict[str, Any]) -> None:
    choice = st.sidebar.radio(
        "Demo user", list(DEMO_USERS), key="demo-user", help="Two labs: each sees only its data."
    )
    header = config.get("api_key_header", "X-API-Key")
    state.sign_in(Credential("api_key", DEMO_USERS[choice], header))
    st.sidebar.caption(f"Signed in as **{choice}** with the demo key `{DEMO_USERS[choice]}`.")


def _methods(config: dict[str, Any]) -> list[str]:
    methods = []
    if "api_key" in config.get("methods", []):
        methods.append("api_key")
    if {"jwt", "oidc"} & set(config.get("methods", [])):
        methods.append("token")
    return methods


def form(config: dict[str, Any]) -> None:
    """The sign-in form; on success the credential is kept for the session."""
    methods = _methods(config)
    if not methods:
        st.error(
            "The API accepts no sign-in method: configure users with api_keys, "
            "LABSEARCH_JWT_SECRET or LABSEARCH_OIDC_ISSUER on the server."
        )
        return
    st.title("Sign in to labsearch")
    if config.get("oidc_issuer"):
        st.caption(f"Tokens are issued by {config['oidc_issuer']}.")
    with st.form("sign-in"):
        method = st.radio(
            "Sign in with", methods, format_func=METHOD_LABELS.get, horizontal=True, key="method"
        )
        secret = st.text_input("API key or token", type="password", key="secret")
        submitted = st.form_submit_button("Sign in", type="primary")
    if not submitted:
        return
    if not secret.strip():
        st.error("Enter your API key or token.")
        return
    credential = Credential(method, secret.strip(), config.get("api_key_header", "X-API-Key"))
    try:
        # Any signed-in read proves the credential; the conversation list is the cheapest.
        with ApiClient(state.api_url(), credential) as candidate:
            candidate.conversations()
    except AuthError as exc:
        st.error(f"**Sign-in failed (401).** {exc}", icon=":material/lock:")
        return
    except LabsearchError as exc:
        show_error(exc)
        return
    state.sign_in(credential)
    st.rerun()


def signed_in() -> bool:
    """Draw sign-in as needed; True once a credential is there to use."""
    config = auth_config()
    if config is None:
        return False
    if state.demo_mode():
        demo_picker(config)
        return True
    if state.credential() is None:
        form(config)
        return False
    credential = state.credential()
    st.sidebar.caption(f"Signed in with {METHOD_LABELS.get(credential.method, 'a credential')}.")
    if st.sidebar.button("Sign out", key="sign-out"):
        state.sign_out()
        st.rerun()
    return True
