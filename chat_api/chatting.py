"""A chat turn: find or start the conversation, answer, store the turn, write the audit line.

The JSON route and the SSE route both call `events`; the JSON route keeps only the last one.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from chat_api.answering import Outcome, Turn
from chat_api.errors import UNEXPECTED
from chat_api.limits import check_query_length
from chat_api.state import ApiState
from labsearch.access import Access
from labsearch.errors import LabsearchError
from labsearch.models import Answer, ChatRequest, ChatResponse

log = logging.getLogger(__name__)


@dataclass
class WireEvent:
    """One Server-Sent Event: `event` is result, provisional, token, retract, citation, done or
    error."""

    event: str
    data: dict[str, Any]

    def json(self) -> str:
        return json.dumps(self.data, ensure_ascii=False, default=str)


def _user(access: Access) -> str:
    return access.user or "anonymous"


def start(state: ApiState, access: Access, request: ChatRequest) -> tuple[str, Turn]:
    """Validate the message and return the conversation id and what the answerer needs.

    Runs before any streaming starts, so a bad request or someone else's conversation is an
    ordinary HTTP error, not an event in a 200 stream.
    """
    check_query_length(request.message, state.settings.max_query_chars, field="message")
    user = _user(access)
    if request.conversation_id is None:
        return state.conversations.create(user, request.message), Turn()
    state.conversations.check_room(user, request.conversation_id)
    conversation = state.conversations.get(user, request.conversation_id)
    history = [(m.role, m.content) for m in conversation.history]
    previous: Answer | None = next(
        (m.answer for m in reversed(conversation.history) if m.answer is not None), None
    )
    return request.conversation_id, Turn(history=history, previous=previous)


def events(
    state: ApiState, access: Access, request: ChatRequest, conversation_id: str, turn: Turn
) -> Iterator[WireEvent]:
    """The answer as events. Whatever fails midway ends the stream with an `error` event (the
    200 and its headers are already sent), and a conversation this turn started is removed."""
    outcome = Outcome()
    finished = False
    try:
        answerer = state.answerer
        for event in answerer.events(request.message, access, turn, outcome, stream=True):
            if event.name in ("token", "provisional"):
                yield WireEvent(event.name, {"text": event.data})
            elif event.name == "retract":
                yield WireEvent("retract", event.data)
            elif event.name in ("citation", "result"):
                yield WireEvent(event.name, event.data.model_dump(mode="json"))
            else:
                response = finish(state, access, request, conversation_id, event.data, outcome)
                finished = True
                done = response.model_dump(mode="json")
                done["replaced"] = outcome.replaced
                yield WireEvent("done", done)
    except LabsearchError as exc:
        yield WireEvent("error", {"error": type(exc).__name__, "detail": str(exc)})
    except Exception:
        log.exception("chat stream failed in conversation %s", conversation_id)
        yield WireEvent("error", {"error": "InternalError", "detail": UNEXPECTED})
    finally:
        if not finished:
            forget_new(state, access, request, conversation_id)


def respond(
    state: ApiState, access: Access, request: ChatRequest, conversation_id: str, turn: Turn
) -> ChatResponse:
    try:
        outcome = Outcome()
        answer = state.answerer.answer(request.message, access, turn, outcome)
        return finish(state, access, request, conversation_id, answer, outcome)
    except BaseException:
        forget_new(state, access, request, conversation_id)
        raise


def forget_new(state: ApiState, access: Access, request: ChatRequest, conversation_id: str) -> None:
    """Remove the conversation `start` created for this turn (none was given) when the turn
    failed: a failed first question must not leave an empty conversation behind."""
    if request.conversation_id is not None:
        return
    try:
        state.conversations.delete(_user(access), conversation_id)
    except Exception:  # the turn's own error is the one to report
        log.exception("could not remove the empty conversation %s", conversation_id)


def finish(
    state: ApiState,
    access: Access,
    request: ChatRequest,
    conversation_id: str,
    answer: Answer,
    outcome: Outcome,
) -> ChatResponse:
    user = _user(access)
    message_id = state.conversations.add_turn(user, conversation_id, request.message, answer)
    state.audit.record(
        user=user,
        action="chat",
        question=request.message,
        standalone_query=answer.standalone_query,
        conversation_id=conversation_id,
        returned=outcome.returned,
        cited=[c.asset_id for c in answer.citations],
        removed_citations=outcome.removed_citations,
        replaced=outcome.replaced,
        llm=state.llm_name,
    )
    return ChatResponse(conversation_id=conversation_id, message_id=message_id, answer=answer)
