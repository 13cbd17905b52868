"""How the UI tells people that something went wrong: one message per kind of failure."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import streamlit as st

from labsearch.client import ApiUnreachableError
from labsearch.errors import AuthError, LabsearchError, RateLimitedError, StoreUnavailableError
from ui import state


def show_error(exc: LabsearchError) -> None:
    if isinstance(exc, ApiUnreachableError):
        st.error(f"**The labsearch API is down.** {exc}", icon=":material/power_off:")
    elif isinstance(exc, AuthError):
        # The credential is no good (wrong key, expired token): forget it so sign-in shows again.
        state.sign_out()
        st.error(f"**Not signed in (401).** {exc}. Sign in again.", icon=":material/lock:")
    elif isinstance(exc, StoreUnavailableError):
        st.warning(
            f"**The search service is not ready (503).** {exc}. It may still be loading the index "
            "and model; retry in a moment.",
            icon=":material/hourglass_top:",
        )
    elif isinstance(exc, RateLimitedError):
        st.warning(
            f"**Too many requests (429).** {exc}. Wait a minute and retry.", icon=":material/speed:"
        )
    else:
        st.error(f"**{type(exc).__name__}.** {exc}", icon=":material/error:")


@contextmanager
def api_errors() -> Iterator[None]:
    """Show a labsearch error where it happened instead of a traceback; the page goes on."""
    try:
        yield
    except LabsearchError as exc:
        show_error(exc)
