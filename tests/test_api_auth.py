"""Authentication: API keys, HS256 JWTs and OIDC (RSA keys served by a local JWKS endpoint)."""

from __future__ import annotations

import time

import jwt
import pytest
from api_fixtures import ALICE, BOB, JWT_SECRET, api_settings, build_service, oidc_issuer
from cryptography.hazmat.primitives.asymmetric import rsa
from fastapi.testclient import TestClient

from chat_api.app import create_app

PROTECTED = [
    ("post", "/v1/search", {"json": {"query": "kidney"}}),
    ("post", "/v1/chat", {"json": {"message": "kidney"}}),
    ("get", "/v1/conversations", {}),
    ("get", "/v1/conversations/abc", {}),
    ("patch", "/v1/conversations/abc", {"json": {"title": "t"}}),
    ("delete", "/v1/conversations/abc", {}),
    ("post", "/v1/feedback", {"json": {"conversation_id": "a", "message_id": 1, "rating": "up"}}),
    ("get", "/v1/assets/eln%3Alab-b-export%3AKID-0007", {}),
    ("post", "/v1/assets/eln%3Alab-b-export%3AKID-0007/presign", {}),
]


def hs256(sub: str, expires_in: int = 300, secret: str = JWT_SECRET, **claims) -> str:
    payload = {"sub": sub, "exp": int(time.time()) + expires_in, **claims}
    return jwt.encode(payload, secret, algorithm="HS256")


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture(scope="module")
def rsa_key():
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="module")
def issuer(rsa_key):
    jwk = jwt.algorithms.RSAAlgorithm.to_jwk(rsa_key.public_key(), as_dict=True)
    jwk.update({"kid": "test-key", "use": "sig", "alg": "RS256"})
    with oidc_issuer(jwk) as url:
        yield url


@pytest.fixture(scope="module")
def client(tmp_path_factory, embedder, issuer):
    settings = api_settings(
        tmp_path_factory.mktemp("auth-home"), oidc_issuer=issuer, jwt_audience="labsearch"
    )
    with TestClient(create_app(settings, build_service(settings, embedder))) as client:
        yield client


def rs256(rsa_key, issuer: str, sub: str, expires_in: int = 300, **claims) -> str:
    payload = {
        "sub": sub,
        "iss": issuer,
        "aud": "labsearch",
        "exp": int(time.time()) + expires_in,
        **claims,
    }
    return jwt.encode(payload, rsa_key, algorithm="RS256", headers={"kid": "test-key"})


@pytest.mark.parametrize(("method", "path", "kwargs"), PROTECTED)
def test_every_protected_route_needs_credentials(client, method, path, kwargs):
    for headers in ({}, {"X-API-Key": "wrong"}, bearer("not-a-key"), {"Authorization": "Basic x"}):
        response = getattr(client, method)(path, headers=headers, **kwargs)
        assert response.status_code == 401, (headers, response.text)
        assert response.json()["error"] == "AuthError"
        assert response.headers["www-authenticate"].startswith("Bearer")


def test_open_routes(client):
    assert client.get("/v1/healthz").status_code == 200
    assert client.get("/v1/readyz").status_code == 200
    config = client.get("/v1/auth/config").json()
    assert config["methods"] == ["api_key", "jwt", "oidc"]
    assert config["oidc_issuer"].startswith("http://127.0.0.1:")
    assert config["api_key_header"] == "X-API-Key" and config["groups_claim"] == "groups"


def test_api_key_in_header_or_as_bearer(client):
    for headers in (BOB, bearer("demo-bob")):
        hits = client.post("/v1/search", json={"query": "KID-0007"}, headers=headers).json()["hits"]
        assert hits and all("lab-a" not in hit["id"] for hit in hits)
    alice = client.post("/v1/search", json={"query": "LIV-0042"}, headers=ALICE).json()["hits"]
    assert alice and all("lab-a" in hit["id"] or "protocols" in hit["id"] for hit in alice)


def test_hs256_tokens(client):
    token = hs256("bob", aud="labsearch")
    ok = client.post("/v1/search", json={"query": "KID-0007"}, headers=bearer(token))
    assert ok.status_code == 200 and ok.json()["hits"]
    cases = {
        "expired": hs256("bob", expires_in=-60, aud="labsearch"),
        "wrong secret": hs256("bob", secret="another-secret-of-sufficient-length", aud="labsearch"),
        "wrong audience": hs256("bob", aud="someone-else"),
        "no sub": jwt.encode(
            {"exp": int(time.time()) + 60, "aud": "labsearch"}, JWT_SECRET, algorithm="HS256"
        ),
        "alg none": jwt.encode({"sub": "bob", "aud": "labsearch"}, None, algorithm="none") + "x",
    }
    for case, token in cases.items():
        response = client.get("/v1/conversations", headers=bearer(token))
        assert response.status_code == 401, case
    expired = client.get("/v1/conversations", headers=bearer(cases["expired"]))
    assert "expired" in expired.json()["detail"]


def test_groups_come_from_settings_for_known_users_else_from_the_claim(client):
    # bob is configured: a token claiming lab-a does not widen his access.
    sneaky = hs256("bob", aud="labsearch", groups=["lab-a"])
    hits = client.post("/v1/search", json={"query": "LIV-0042"}, headers=bearer(sneaky))
    assert all("lab-a" not in hit["id"] for hit in hits.json()["hits"])
    # An unknown user gets the token's groups; with none, sees nothing (fail closed).
    carol = hs256("carol", aud="labsearch", groups=["lab-a"])
    hits = client.post("/v1/search", json={"query": "LIV-0042"}, headers=bearer(carol))
    assert any("lab-a" in hit["id"] for hit in hits.json()["hits"])
    nobody = hs256("dave", aud="labsearch")
    hits = client.post("/v1/search", json={"query": "LIV-0042"}, headers=bearer(nobody))
    assert hits.status_code == 200 and hits.json()["hits"] == []


def test_oidc_tokens_checked_against_the_issuers_jwks(client, rsa_key, issuer):
    token = rs256(rsa_key, issuer, "erin", groups=["lab-b"])
    response = client.post("/v1/search", json={"query": "KID-0007"}, headers=bearer(token))
    assert response.status_code == 200
    assert any("lab-b" in hit["id"] for hit in response.json()["hits"])
    other_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    cases = {
        "expired": rs256(rsa_key, issuer, "erin", expires_in=-60),
        "foreign key": rs256(other_key, issuer, "erin"),
        "wrong issuer": rs256(rsa_key, "http://evil.example", "erin"),
    }
    for case, bad in cases.items():
        assert client.get("/v1/conversations", headers=bearer(bad)).status_code == 401, case


def test_conversations_belong_to_the_token_subject(client):
    alice_token = hs256("alice", aud="labsearch")
    created = client.post(
        "/v1/chat", json={"message": "LIV-0042"}, headers=bearer(alice_token)
    ).json()
    # The same user with an API key sees it; bob does not.
    assert client.get(f"/v1/conversations/{created['conversation_id']}", headers=ALICE).is_success
    bob = client.get(f"/v1/conversations/{created['conversation_id']}", headers=BOB)
    assert bob.status_code == 404
