from __future__ import annotations

from fastapi import APIRouter, Response

from chat_api.deps import CurrentUser, State
from labsearch.models import (
    Conversation,
    ConversationList,
    ConversationSummary,
    ErrorBody,
    RenameRequest,
    Text,
)

router = APIRouter(
    prefix="/conversations",
    tags=["conversations"],
    responses={401: {"model": ErrorBody}, 404: {"model": ErrorBody}},
)


@router.get("", response_model=ConversationList, summary="Your conversations, newest first.")
def list_conversations(access: CurrentUser, state: State) -> ConversationList:
    return ConversationList(conversations=state.conversations.summaries(access.user or ""))


@router.get("/{conversation_id}", response_model=Conversation, summary="One conversation.")
def read_conversation(conversation_id: Text, access: CurrentUser, state: State) -> Conversation:
    return state.conversations.get(access.user or "", conversation_id)


@router.patch("/{conversation_id}", response_model=ConversationSummary, summary="Rename it.")
def rename_conversation(
    conversation_id: Text, body: RenameRequest, access: CurrentUser, state: State
) -> ConversationSummary:
    return state.conversations.rename(access.user or "", conversation_id, body.title)


@router.delete("/{conversation_id}", status_code=204, summary="Delete it and its feedback.")
def delete_conversation(conversation_id: Text, access: CurrentUser, state: State) -> Response:
    state.conversations.delete(access.user or "", conversation_id)
    return Response(status_code=204)
