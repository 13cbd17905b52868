from __future__ import annotations

from fastapi import APIRouter
from sse_starlette import EventSourceResponse, ServerSentEvent

from chat_api import chatting
from chat_api.deps import CurrentUser, State
from labsearch.models import ChatRequest, ChatResponse, ErrorBody

router = APIRouter(tags=["chat"])

STREAM_DOC = """With `stream: true` the answer arrives as Server-Sent Events:
`result` (the retriever's structured entity result, before any text); with a language model,
`provisional` ({"text"}: the model's text not yet checked against its sources; each replaces the
previous one; show it as provisional) and `retract` ({"text", "reason"}: a generated sentence
the cited assets do not support, removed); `token` ({"text"}: checked text only, the tokens add
up to `answer.text`); `citation` (one verified Citation each); then `done` (the same object as
the JSON response plus `replaced`: true when the model's answer was withdrawn and `answer.text`
is the extractive answer, saying so; `answer.grounding` tells what the check kept and removed),
or `error` ({"error", "detail"}) if answering fails midway."""


@router.post(
    "/chat",
    response_model=ChatResponse,
    summary="Ask a question in a conversation (a new one when conversation_id is omitted).",
    description=STREAM_DOC,
    responses={
        200: {"content": {"text/event-stream": {"schema": {"type": "string"}}}},
        400: {"model": ErrorBody},
        401: {"model": ErrorBody},
        404: {"model": ErrorBody},
        429: {"model": ErrorBody},
    },
)
def chat(body: ChatRequest, access: CurrentUser, state: State):  # noqa: ANN201 - JSON or SSE
    conversation_id, turn = chatting.start(state, access, body)
    if not body.stream:
        return chatting.respond(state, access, body, conversation_id, turn)

    def sse():  # noqa: ANN202 - runs in a worker thread, fed to the client as it is produced
        for event in chatting.events(state, access, body, conversation_id, turn):
            yield ServerSentEvent(data=event.json(), event=event.event)

    return EventSourceResponse(sse(), ping=15)
