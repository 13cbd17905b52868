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
    grounding_note(answer.get("grounding"))
    if answer.get("result"):
        entity_table.render(answer["result"], key)
    citations.render(answer.get("citations") or [], key)
    if conversation_id and message_id is not None:
        feedback.render(conversation_id, message_id)


PROVISIONAL_LABEL = "Checking against the cited sources…"


def provisional(text: str) -> None:
    """Text the model wrote that is not checked yet: greyed, in italics, labelled as such. It is
    replaced by the checked sentence, or disappears when the check removes it."""
    st.caption(PROVISIONAL_LABEL)
    shown = _plain(text.strip())
    if shown:  # markdown emphasis needs text right inside the asterisks
        st.markdown(f":gray[*{shown}*]")


def grounding_note(grounding: dict[str, Any] | None) -> None:
    """Say what the sentence check removed (the sentences themselves are in an expander)."""
    if not grounding or not grounding.get("removed"):
        return
    removed = grounding["removed"]
    noun = "sentence" if len(removed) == 1 else "sentences"
    with st.expander(
        f"{len(removed)} generated {noun} removed: not supported by the cited sources"
    ):
        for sentence in removed:
            st.markdown(f"- ~~{_plain(sentence['text'])}~~ ({_plain(sentence['reason'])})")


def _plain(text: str) -> str:
    """Text shown literally inside markdown (no emphasis, links or colour directives)."""
    return "".join("\\" + c if c in "\\`*_{}[]()#+-.!:~|<>" else c for c in text)
