from __future__ import annotations

from fastapi import APIRouter

from chat_api.deps import CurrentUser, State
from labsearch.models import ErrorBody, FeedbackRequest, FeedbackResponse

router = APIRouter(tags=["feedback"])


@router.post(
    "/feedback",
    response_model=FeedbackResponse,
    status_code=201,
    summary="Thumbs up or down, with a comment, on one of your answers.",
    responses={401: {"model": ErrorBody}, 404: {"model": ErrorBody}},
)
def feedback(body: FeedbackRequest, access: CurrentUser, state: State) -> FeedbackResponse:
    saved = state.conversations.add_feedback(
        access.user or "", body.conversation_id, body.message_id, body.rating, body.comment
    )
    state.audit.record(
        user=access.user,
        action="feedback",
        conversation_id=body.conversation_id,
        message_id=body.message_id,
        rating=body.rating,
    )
    return saved
