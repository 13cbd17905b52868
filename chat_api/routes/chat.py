from __future__ import annotations

import asyncio
import json

import anyio
from fastapi import APIRouter
from sse_starlette import EventSourceResponse, ServerSentEvent
from starlette.concurrency import iterate_in_threadpool

from chat_api import chatting
from chat_api.deps import CurrentUser, State
from labsearch.models import ChatRequest, ChatResponse, ErrorBody

router = APIRouter(tags=["chat"])
SHUTDOWN_GRACE_SECONDS = 2.0  # time a stream gets to send its `error` event when the server stops
SHUTTING_DOWN = {
    "error": "ShuttingDown",
    "detail": "the server is stopping and could not finish this answer; ask again in a moment",
}

STREAM_DOC = """With `stream: true` the answer arrives as Server-Sent Events:
`result` (the retriever's structured entity result, before any text); with a language model,
`provisional` ({"text"}: the model's text not yet checked against its sources; each replaces the
previous one; show it as provisional) and `retract` ({"text", "reason"}: a generated sentence
the cited assets do not support, removed); `token` ({"text"}: checked text only, the tokens add
up to `answer.text`); `citation` (one verified Citation each); then `done` (the same object as
the JSON response plus `replaced`: true when the model's answer was withdrawn and `answer.text`
is the extractive answer, saying so; `answer.grounding` tells what the check kept and removed),
or `error` ({"error", "detail"}) if answering fails midway or the server is stopping."""


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

    shutdown = anyio.Event()  # set by sse-starlette when the server is asked to stop

    async def sse():  # noqa: ANN202 - fed to the client as it is produced
        # The answer is produced in a worker thread; each next event races the shutdown, so a
        # stopping server (SIGTERM) ends the stream with an `error` event, not mid-sentence.
        produced = iterate_in_threadpool(
            chatting.events(state, access, body, conversation_id, turn)
        )
        stopping = asyncio.ensure_future(shutdown.wait())
        try:
            while True:
                step = asyncio.ensure_future(anext(produced))
                await asyncio.wait({step, stopping}, return_when=asyncio.FIRST_COMPLETED)
                if not step.done():
                    step.cancel()
                    yield ServerSentEvent(data=json.dumps(SHUTTING_DOWN), event="error")
                    return
                try:
                    event = step.result()
                except StopAsyncIteration:
                    return
                yield ServerSentEvent(data=event.json(), event=event.event)
        finally:
            stopping.cancel()

    return EventSourceResponse(
        sse(), ping=15, shutdown_event=shutdown, shutdown_grace_period=SHUTDOWN_GRACE_SECONDS
    )
