"""labsearch's web UI: chat and search over the lab's data, through the HTTP API only.

Run with `labsearch ui` (or `streamlit run ui/app.py`); the API is at LABSEARCH_API_URL.
"""

from __future__ import annotations

import sys
from pathlib import Path

import streamlit as st

# `streamlit run ui/app.py` puts ui/ on sys.path, not the checkout that holds the `ui` package.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from ui import chat, conversations, search, signin  # noqa: E402 - after the path fix above

st.set_page_config(page_title="labsearch", page_icon=":material/biotech:", layout="wide")

with st.sidebar:
    st.markdown("## :material/biotech: labsearch")
if not signin.signed_in():
    st.stop()
with st.sidebar:
    conversations.sidebar()

chat_tab, search_tab = st.tabs([":material/chat: Chat", ":material/search: Search"])
with chat_tab:
    chat.render()
with search_tab:
    search.render()
