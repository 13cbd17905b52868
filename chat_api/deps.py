"""Annotated dependencies the routes declare: the app state and the current user's Access."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request, Security
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer

from chat_api.auth import API_KEY_HEADER
from chat_api.state import ApiState
from labsearch.access import Access

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


def current_access(
    state: State,
    api_key: Annotated[str | None, Security(api_key_scheme)] = None,
    bearer: Annotated[HTTPAuthorizationCredentials | None, Security(bearer_scheme)] = None,
) -> Access:
    authorization = f"{bearer.scheme} {bearer.credentials}" if bearer else None
    principal = state.auth.authenticate(authorization, api_key)
    state.limiter.check(principal.user)
    return principal.access()


CurrentUser = Annotated[Access, Depends(current_access)]
