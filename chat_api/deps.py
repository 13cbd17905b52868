"""Annotated dependencies the routes declare: the app state and the current user's Access."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request, Security
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer

from chat_api.auth import API_KEY_HEADER, Principal
from chat_api.state import ApiState
from labsearch.access import Access
from labsearch.errors import AuthError

# Declared as security schemes so OpenAPI documents both ways to sign in.
api_key_scheme = APIKeyHeader(
    name=API_KEY_HEADER, auto_error=False, description="An API key from settings.users."
)
bearer_scheme = HTTPBearer(
    auto_error=False, description="A JWT (HS256 or from the OIDC issuer), or an API key."
)


def get_state(request: Request) -> ApiState:
    return request.app.state.labsearch


State = Annotated[ApiState, Depends(get_state)]


def sign_in(
    state: ApiState,
    request: Request,
    api_key: str | None,
    bearer: HTTPAuthorizationCredentials | None,
) -> Principal:
    """Who is calling, after the sign-in throttle (failed sign-ins per client address) and
    before the per-user rate limit."""
    address = request.client.host if request.client else "unknown"
    state.sign_ins.check(address)
    authorization = f"{bearer.scheme} {bearer.credentials}" if bearer else None
    try:
        principal = state.auth.authenticate(authorization, api_key)
    except AuthError:
        if api_key or authorization:  # a credential was presented and it was wrong
            state.sign_ins.failed(address)
        raise
    state.limiter.check(principal.user)
    return principal


def current_access(
    state: State,
    request: Request,
    api_key: Annotated[str | None, Security(api_key_scheme)] = None,
    bearer: Annotated[HTTPAuthorizationCredentials | None, Security(bearer_scheme)] = None,
) -> Access:
    return sign_in(state, request, api_key, bearer).access()


CurrentUser = Annotated[Access, Depends(current_access)]
