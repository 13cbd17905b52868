"""Pushing records: POST /v1/ingest (users with the ingest scope) and POST /v1/webhooks/{name}
(signed senders). Both end in indexer/ingest.py."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request, Security
from fastapi.security import HTTPAuthorizationCredentials

from chat_api import webhooks
from chat_api.auth import Principal
from chat_api.deps import State, api_key_scheme, bearer_scheme, sign_in
from chat_api.ingesting import push
from labsearch.errors import AuthError, ForbiddenError
from labsearch.models import ErrorBody, IngestRequest, IngestResponse, WebhookResponse

router = APIRouter(tags=["ingest"])

INGEST_SCOPE = "ingest"
REFUSALS = {
    401: {"model": ErrorBody},
    403: {"model": ErrorBody},
    413: {"model": ErrorBody},
    503: {"model": ErrorBody, "description": "Another writer holds the source; see Retry-After."},
}


def ingest_writer(
    state: State,
    request: Request,
    api_key: Annotated[str | None, Security(api_key_scheme)] = None,
    bearer: Annotated[HTTPAuthorizationCredentials | None, Security(bearer_scheme)] = None,
) -> Principal:
    principal = sign_in(state, request, api_key, bearer)
    if INGEST_SCOPE not in principal.scopes:
        raise ForbiddenError(
            f"user {principal.user!r} may not push records: it needs the {INGEST_SCOPE!r} scope "
            '(`scopes = ["ingest"]` under its [users] entry, or in its token\'s scope claim)'
        )
    return principal


@router.post(
    "/ingest",
    response_model=IngestResponse,
    summary="Upsert and delete records by id, in a batch; a status per record.",
    responses=REFUSALS,
)
def ingest(
    body: IngestRequest, state: State, principal: Annotated[Principal, Depends(ingest_writer)]
) -> IngestResponse:
    return push(state, body.source, body.upsert, body.delete, principal.user, principal.groups)


@router.post(
    "/webhooks/{name}",
    response_model=WebhookResponse,
    summary="A signed push (Standard Webhooks) from a configured sender, e.g. an ELN.",
    responses=REFUSALS | {404: {"model": ErrorBody}},
)
async def webhook(name: str, request: Request, state: State) -> WebhookResponse:
    address = request.client.host if request.client else "unknown"
    state.sign_ins.check(address)  # a wrong signature is a failed sign-in: guessing is throttled
    config = webhooks.sender(state.settings, name)
    body = await request.body()
    try:
        payload = webhooks.verify(config, body, dict(request.headers))
    except AuthError:
        state.sign_ins.failed(address)
        raise
    message_id = request.headers["webhook-id"]
    key = f"{name}:{message_id}"
    if state.webhook_ids.seen(key):
        return WebhookResponse(webhook_id=message_id, duplicate=True)
    upserts, deletes = webhooks.records_of(config, payload)
    result = push(state, name, upserts, deletes, f"webhook {name}", tuple(config.groups))
    state.webhook_ids.add(key)
    return WebhookResponse(webhook_id=message_id, ingest=result)
