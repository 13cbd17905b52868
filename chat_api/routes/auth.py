from __future__ import annotations

from fastapi import APIRouter

from chat_api.auth import API_KEY_HEADER
from chat_api.deps import State
from labsearch.models import AuthConfig

router = APIRouter(tags=["auth"])


@router.get("/auth/config", response_model=AuthConfig, summary="Sign-in methods (no auth).")
def auth_config(state: State) -> AuthConfig:
    settings = state.settings
    return AuthConfig(
        methods=state.auth.methods,  # type: ignore[arg-type]
        api_key_header=API_KEY_HEADER,
        bearer=True,
        oidc_issuer=settings.oidc_issuer,
        jwt_audience=settings.jwt_audience,
        groups_claim=settings.jwt_groups_claim,
    )
