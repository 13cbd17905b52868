"""Who is calling: API keys and JWT bearer tokens (HS256 secret or an OIDC issuer's JWKS).

Every credential maps to a user name and groups, and from there to an `Access`. API keys and
users come from `settings.users`; a JWT's user is its `sub`. Groups of a user configured in
settings win (the operator decides); otherwise the token's groups claim is used. Anything
missing, malformed, expired or signed by someone else is a 401, never a downgrade to "no groups".
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from functools import cached_property

import jwt
import requests

from labsearch.access import Access
from labsearch.errors import AuthError, ConfigError
from labsearch.settings import Settings

API_KEY_HEADER = "X-API-Key"
# Asymmetric algorithms accepted from an OIDC issuer; "none" and HS* never come from a JWKS.
OIDC_ALGORITHMS = ["RS256", "RS384", "RS512", "ES256", "ES384", "PS256"]


@dataclass(frozen=True)
class Principal:
    user: str
    groups: tuple[str, ...]
    method: str  # "api_key", "jwt" or "oidc"
    scopes: tuple[str, ...] = ()  # beyond searching: "ingest"

    def access(self) -> Access:
        return Access.for_groups(self.groups, user=self.user)


class Authenticator:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        # Secret -> user; compared in constant time below, so the dict is only for iteration.
        self._keys = [
            (key.get_secret_value(), user)
            for user, config in settings.users.items()
            for key in config.api_keys
            if key.get_secret_value()
        ]

    @property
    def methods(self) -> list[str]:
        methods = []
        if self._keys:
            methods.append("api_key")
        if self.settings.jwt_secret is not None:
            methods.append("jwt")
        if self.settings.oidc_issuer:
            methods.append("oidc")
        return methods

    def authenticate(self, authorization: str | None, api_key: str | None) -> Principal:
        """Check the `Authorization` and `X-API-Key` headers; raise AuthError if neither holds."""
        if api_key:
            return self._from_api_key(api_key)
        if not authorization:
            raise AuthError(
                f"authentication required: send '{API_KEY_HEADER}: <key>' or "
                "'Authorization: Bearer <api key or JWT>'"
            )
        scheme, _, credential = authorization.partition(" ")
        credential = credential.strip()
        if scheme.lower() != "bearer" or not credential:
            raise AuthError("the Authorization header must be 'Bearer <api key or JWT>'")
        if credential.count(".") == 2:
            return self._from_jwt(credential)
        return self._from_api_key(credential)

    def _from_api_key(self, presented: str) -> Principal:
        user = None
        for secret, owner in self._keys:
            # Check every key in constant time so timing says nothing about near misses.
            if hmac.compare_digest(secret.encode(), presented.encode()):
                user = owner
        if user is None:
            raise AuthError("invalid API key")
        settings = self.settings
        return Principal(
            user, tuple(settings.groups_of(user)), "api_key", tuple(settings.scopes_of(user))
        )

    def _from_jwt(self, token: str) -> Principal:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.InvalidTokenError as exc:
            raise AuthError(f"malformed bearer token: {exc}") from exc
        algorithm = header.get("alg", "")
        try:
            if algorithm == "HS256":
                claims, method = self._decode_hs256(token), "jwt"
            elif algorithm in OIDC_ALGORITHMS:
                claims, method = self._decode_oidc(token, algorithm), "oidc"
            else:
                raise AuthError(f"unsupported token algorithm {algorithm!r}")
        except jwt.ExpiredSignatureError as exc:
            raise AuthError("token expired; sign in again") from exc
        except jwt.InvalidTokenError as exc:
            raise AuthError(f"invalid token: {exc}") from exc
        user = claims.get("sub")
        if not isinstance(user, str) or not user:
            raise AuthError("token has no 'sub' claim naming the user")
        groups, scopes = self._groups(user, claims), self._scopes(user, claims)
        return Principal(user, tuple(groups), method, tuple(scopes))

    def _decode_hs256(self, token: str) -> dict:
        if self.settings.jwt_secret is None:
            raise AuthError("HS256 tokens are not accepted: LABSEARCH_JWT_SECRET is not set")
        return jwt.decode(
            token,
            self.settings.jwt_secret.get_secret_value(),
            algorithms=["HS256"],
            audience=self.settings.jwt_audience,
            options={"require": ["exp", "sub"], "verify_aud": bool(self.settings.jwt_audience)},
        )

    def _decode_oidc(self, token: str, algorithm: str) -> dict:
        if not self.settings.oidc_issuer:
            raise AuthError("tokens signed with a key pair need LABSEARCH_OIDC_ISSUER to be set")
        try:
            key = self._jwks.get_signing_key_from_jwt(token)
        except jwt.PyJWKClientError as exc:
            raise AuthError(f"no signing key of {self.settings.oidc_issuer} fits: {exc}") from exc
        return jwt.decode(
            token,
            key.key,
            algorithms=[algorithm],
            issuer=self.settings.oidc_issuer,
            audience=self.settings.jwt_audience,
            options={
                "require": ["exp", "sub", "iss"],
                "verify_aud": bool(self.settings.jwt_audience),
            },
        )

    @cached_property
    def _jwks(self) -> jwt.PyJWKClient:
        """The issuer's key set, found through its discovery document and cached by PyJWT."""
        issuer = self.settings.oidc_issuer or ""
        discovery = issuer.rstrip("/") + "/.well-known/openid-configuration"
        try:
            response = requests.get(discovery, timeout=10)
            response.raise_for_status()
            jwks_uri = response.json()["jwks_uri"]
        except (requests.RequestException, ValueError, KeyError) as exc:
            raise ConfigError(
                f"cannot read the OIDC discovery document {discovery}: {exc}; check "
                "LABSEARCH_OIDC_ISSUER"
            ) from exc
        return jwt.PyJWKClient(jwks_uri, cache_keys=True, lifespan=3600, timeout=10)

    def _groups(self, user: str, claims: dict) -> list[str]:
        if user in self.settings.users:
            return self.settings.groups_of(user)
        return _claim_list(claims, self.settings.jwt_groups_claim)

    def _scopes(self, user: str, claims: dict) -> list[str]:
        """Configured users' scopes win; else the token's (OAuth 2 `scope`: space-separated,
        or a list as in `scp`)."""
        if user in self.settings.users:
            return self.settings.scopes_of(user)
        return _claim_list(claims, self.settings.jwt_scopes_claim)


def _claim_list(claims: dict, name: str) -> list[str]:
    value = claims.get(name, [])
    if isinstance(value, str):
        value = value.split()
    if not isinstance(value, list):
        return []
    return [str(item) for item in value if item]
