"""The chat tab: the conversation so far, the question box, and the answer streamed in."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import streamlit as st

from labsearch.errors import LabsearchError
from ui import answer, entity_table, state
from ui.errors import show_error

EXAMPLES = "Try: “which runs used sample LIV-0037?” or “liver RNA-seq on the NovaSeq”."


def history() -> None:
    """The open conversation, oldest first."""
    messages = state.messages()
    if not messages:
        st.info(f"Ask a question about your lab's data. {EXAMPLES}", icon=":material/chat:")
    for message in messages:
        with st.chat_message(message["role"]):
            if message["answer"] is not None:
                answer.render(message["answer"], state.conversation_id(), message["message_id"])
            else:
                st.markdown(message["content"])


def ask(question: str) -> None:
    """Stream the answer to `question`; keep the finished turn and redraw the page with it."""
    with st.chat_message("user"):
        st.markdown(question)
    with st.chat_message("assistant"):
        outcome: dict[str, Any] = {}
        try:
            with st.spinner("Searching your lab's data…"):
                events = state.client().chat_stream(question, state.conversation_id())
                # The complete result arrives before the text: show its table at once, above
                # the text still streaming in.
                slots = Slots(table=st.empty(), text=st.empty(), provisional=st.empty())
                _stream(events, outcome, slots)
        except LabsearchError as exc:
            show_error(exc)
            return
        if "error" in outcome:
            error = outcome["error"]
            st.error(f"**Answering failed ({error.get('error')}).** {error.get('detail')}")
            return
        done = outcome.get("done")
        if done is None:
            st.error("The answer stream ended early; ask again.")
            return
    state.add_turn(done["conversation_id"], question, done)
    st.rerun()


@dataclass
class Slots:
    table: Any
    text: Any
    provisional: Any


def _stream(events: Iterator[Any], outcome: dict[str, Any], slots: Slots) -> None:
    """Draw the events as they come: `token`s are checked text and join the answer;
    `provisional` text (not yet checked against its sources) is drawn apart, greyed and
    labelled, until a `token` or `retract` settles it. `done` and `error` are kept in
    `outcome`; a `result` is drawn into its table slot at once."""
    settled = ""
    for event in events:
        if event.event == "token":
            settled += event.data.get("text", "")
            slots.text.markdown(settled)
            slots.provisional.empty()
        elif event.event == "provisional":
            with slots.provisional.container():
                answer.provisional(event.data.get("text", ""))
        elif event.event == "retract":
            slots.provisional.empty()
        elif event.event == "result":
            with slots.table.container():
                entity_table.render(event.data, "streaming")
        elif event.event in ("done", "error"):
            slots.provisional.empty()
            outcome[event.event] = event.data
        # `citation`s arrive again, verified, inside `done`; drawn after the rerun.


def render() -> None:
    history()
    question = st.chat_input("Ask about runs, samples, files, experiments…")
    if question:
        ask(question.strip())
