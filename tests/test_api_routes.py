"""Every route of the API through an in-process client, extractive answers, a real store."""

from __future__ import annotations

import json
from urllib.parse import quote

import pytest
from api_fixtures import (
    ALICE,
    B_FILE,
    B_RUN_NEW,
    B_RUN_OLD,
    BOB,
    PUBLIC_PROTOCOL,
    api_settings,
    build_service,
    sse_events,
)
from fastapi.testclient import TestClient

from chat_api.app import create_app


@pytest.fixture(scope="module")
def setup(tmp_path_factory, embedder):
    settings = api_settings(tmp_path_factory.mktemp("api-home"), max_conversation_messages=6)
    service = build_service(settings, embedder)
    with TestClient(create_app(settings, service)) as client:
        yield client, settings, service


@pytest.fixture(scope="module")
def client(setup) -> TestClient:
    return setup[0]


def audit_lines(settings) -> list[dict]:
    return [json.loads(line) for line in settings.audit_path.read_text().splitlines()]


def test_health_and_readiness_need_no_auth(client):
    assert client.get("/v1/healthz").json() == {"status": "ok"}
    ready = client.get("/v1/readyz")
    assert ready.status_code == 200
    assert ready.json()["status"] == "ready"
    assert "assets" not in ready.json()["store"]  # no credentials: nothing about the data
    assert ready.json()["llm"] == "extractive"


def test_readyz_is_503_while_the_service_cannot_load(tmp_path):
    # No index and an embedding model that does not exist: loading fails, readyz says why.
    settings = api_settings(tmp_path, model=str(tmp_path / "no-such-model"))
    with TestClient(create_app(settings)) as client:
        client.app.state.labsearch._loaded.wait(60)
        response = client.get("/v1/readyz")
        assert response.status_code == 503
        assert response.json()["status"] == "not_ready"
        assert "no-such-model" in response.json()["detail"]
        failed = client.post("/v1/search", json={"query": "x"}, headers=BOB)
        assert failed.status_code >= 500 and failed.json()["error"]


def test_openapi_documents_every_route_under_v1(client):
    schema = client.get("/openapi.json").json()
    paths = set(schema["paths"])
    assert {
        "/v1/search",
        "/v1/chat",
        "/v1/conversations",
        "/v1/conversations/{conversation_id}",
        "/v1/feedback",
        "/v1/assets/{asset_id}",
        "/v1/assets/{asset_id}/presign",
        "/v1/auth/config",
        "/v1/healthz",
        "/v1/readyz",
    } <= paths
    assert all(path.startswith("/v1/") for path in paths)
    schemes = schema["components"]["securitySchemes"]
    assert {"APIKeyHeader", "HTTPBearer"} <= set(schemes)
    assert "text/event-stream" in schema["paths"]["/v1/chat"]["post"]["responses"]["200"]["content"]


def test_search_returns_hits_identifiers_links_and_facets(setup):
    client, settings, _ = setup
    response = client.post(
        "/v1/search",
        json={"query": "KID-0007 ATAC-seq", "facets": ["metadata.instrument"], "size": 5},
        headers=BOB,
    )
    assert response.status_code == 200
    body = response.json()
    assert body["hits"][0]["exact"] is True
    assert "KID-0007" in body["hits"][0]["identifiers"]
    # Facets count the assets matching the text: both KID-0007 runs and the run's file.
    assert body["facets"]["metadata.instrument"] == {"NovaSeq 6000": 2, "HiSeq 2500": 1}
    files = [hit for hit in body["hits"] if hit["id"] == B_FILE]
    assert files and files[0]["links"]["s3_uri"].endswith("?versionId=b-version-1")
    assert audit_lines(settings)[-1]["action"] == "search"
    assert audit_lines(settings)[-1]["user"] == "bob"
    assert audit_lines(settings)[-1]["returned"] == [hit["id"] for hit in body["hits"]]


def test_search_filters_and_bad_filters(client):
    response = client.post(
        "/v1/search",
        json={"query": "", "filters": {"entity": "run", "instrument": "HiSeq 2500"}},
        headers=BOB,
    )
    assert [hit["id"] for hit in response.json()["hits"]] == [B_RUN_OLD]
    assert response.json()["total"] == 1
    bad = client.post(
        "/v1/search", json={"query": "x", "filters": {"instrument": {"near": 1}}}, headers=BOB
    )
    assert bad.status_code == 400
    assert bad.json()["error"] == "InvalidFilterError"
    assert "near" in bad.json()["detail"]


def test_chat_json_answers_with_result_and_citations(setup):
    client, settings, _ = setup
    response = client.post(
        "/v1/chat", json={"message": "which runs used sample KID-0007?"}, headers=BOB
    )
    assert response.status_code == 200
    body = response.json()
    result = body["answer"]["result"]
    assert {m["id"] for m in result["members"]} == {B_RUN_NEW, B_RUN_OLD}
    assert result["count"] == 2 and result["complete"] is True
    assert {c["asset_id"] for c in body["answer"]["citations"]} == {B_RUN_NEW, B_RUN_OLD}
    citation = body["answer"]["citations"][0]
    assert citation["catalog_url"].startswith("https://catalog.example.org/b/lab-b-data/")
    assert citation["package"] and citation["top_hash"]
    entry = audit_lines(settings)[-1]
    assert entry["action"] == "chat" and entry["question"] == "which runs used sample KID-0007?"
    assert set(entry["cited"]) == {B_RUN_NEW, B_RUN_OLD}
    assert entry["time"] and entry["user"] == "bob"


def test_chat_follow_up_narrows_the_previous_result(client):
    first = client.post(
        "/v1/chat", json={"message": "which runs used sample KID-0007?"}, headers=BOB
    ).json()
    follow = client.post(
        "/v1/chat",
        json={
            "message": "which of those were on the HiSeq 2500?",
            "conversation_id": first["conversation_id"],
        },
        headers=BOB,
    )
    assert follow.status_code == 200
    result = follow.json()["answer"]["result"]
    assert [m["id"] for m in result["members"]] == [B_RUN_OLD]
    conversation = client.get(f"/v1/conversations/{first['conversation_id']}", headers=BOB).json()
    assert [m["role"] for m in conversation["history"]] == ["user", "assistant"] * 2
    assert conversation["history"][-1]["answer"]["result"]["count"] == 1


def test_chat_streams_result_tokens_citations_done(client):
    with client.stream(
        "POST",
        "/v1/chat",
        json={"message": "which runs used sample KID-0007?", "stream": True},
        headers=BOB,
    ) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        events = sse_events(response.read().decode())
    names = [name for name, _ in events]
    assert names[0] == "result" and names[-1] == "done"
    assert "token" in names and names.count("citation") == 2
    assert names.index("citation") > max(i for i, n in enumerate(names) if n == "token")
    done = events[-1][1]
    text = "".join(data["text"] for name, data in events if name == "token")
    assert text == done["answer"]["text"]
    assert done["replaced"] is False
    assert done["answer"]["result"] == events[0][1]
    stored = client.get(f"/v1/conversations/{done['conversation_id']}", headers=BOB).json()
    assert stored["history"][-1]["id"] == done["message_id"]


def test_stream_errors_before_streaming_are_plain_http_errors(client):
    response = client.post(
        "/v1/chat",
        json={"message": "hello", "stream": True, "conversation_id": "nope"},
        headers=BOB,
    )
    assert response.status_code == 404
    assert response.json()["error"] == "NotFoundError"


def test_conversations_list_rename_delete_and_ownership(client):
    created = client.post(
        "/v1/chat", json={"message": "what is in the rna extraction protocol?"}, headers=BOB
    ).json()
    cid = created["conversation_id"]
    listed = client.get("/v1/conversations", headers=BOB).json()["conversations"]
    assert cid in [c["id"] for c in listed]
    assert listed[0]["id"] == cid and listed[0]["messages"] == 2
    renamed = client.patch(f"/v1/conversations/{cid}", json={"title": "Protocols"}, headers=BOB)
    assert renamed.status_code == 200 and renamed.json()["title"] == "Protocols"
    # Alice sees neither the conversation nor a difference between "someone else's" and "none".
    for method, kwargs in (
        ("get", {}),
        ("patch", {"json": {"title": "mine now"}}),
        ("delete", {}),
    ):
        theirs = getattr(client, method)(f"/v1/conversations/{cid}", headers=ALICE, **kwargs)
        missing = getattr(client, method)("/v1/conversations/missing", headers=ALICE, **kwargs)
        assert theirs.status_code == missing.status_code == 404
        assert theirs.json()["error"] == missing.json()["error"] == "NotFoundError"
    assert cid not in [
        c["id"] for c in client.get("/v1/conversations", headers=ALICE).json()["conversations"]
    ]
    alice_chat = client.post(
        "/v1/chat", json={"message": "more", "conversation_id": cid}, headers=ALICE
    )
    assert alice_chat.status_code == 404
    assert client.delete(f"/v1/conversations/{cid}", headers=BOB).status_code == 204
    assert client.get(f"/v1/conversations/{cid}", headers=BOB).status_code == 404


def test_feedback_on_own_answers_only(setup):
    client, settings, _ = setup
    chat = client.post("/v1/chat", json={"message": "KID-0007 sample"}, headers=BOB).json()
    body = {
        "conversation_id": chat["conversation_id"],
        "message_id": chat["message_id"],
        "rating": "up",
        "comment": "right sample",
    }
    saved = client.post("/v1/feedback", json=body, headers=BOB)
    assert saved.status_code == 201 and saved.json()["rating"] == "up"
    assert audit_lines(settings)[-1]["action"] == "feedback"
    assert client.post("/v1/feedback", json=body, headers=ALICE).status_code == 404
    question = {**body, "message_id": chat["message_id"] - 1}  # the user's own question
    assert client.post("/v1/feedback", json=question, headers=BOB).status_code == 404
    invalid = client.post("/v1/feedback", json={**body, "rating": "meh"}, headers=BOB)
    assert invalid.status_code == 422 and invalid.json()["error"] == "ValidationError"


def test_asset_detail_with_encoded_ids(client):
    response = client.get("/v1/assets/" + quote(B_FILE, safe=""), headers=BOB)
    assert response.status_code == 200
    body = response.json()
    assert body["asset"]["id"] == B_FILE
    assert body["asset"]["provenance"]["version_id"] == "b-version-1"
    assert body["links"]["presign"] == "/v1/assets/" + quote(B_FILE, safe="") + "/presign"
    # '/' may stay unencoded; '#' may not (the client would drop it as a fragment).
    readable = "/v1/assets/" + quote(B_FILE, safe="/:")
    assert client.get(readable, headers=BOB).json()["asset"]["id"] == B_FILE
    protocol = client.get("/v1/assets/" + quote(PUBLIC_PROTOCOL, safe=""), headers=ALICE)
    assert protocol.status_code == 200 and protocol.json()["links"]["presign"] is None
    missing = client.get("/v1/assets/" + quote("quilt:s3://x#nope", safe=""), headers=BOB)
    assert missing.status_code == 404


def test_presign_rejects_assets_outside_s3(client):
    response = client.post(
        "/v1/assets/" + quote(PUBLIC_PROTOCOL, safe="") + "/presign", headers=BOB
    )
    assert response.status_code == 400
    assert "not stored in S3" in response.json()["detail"]


def test_limits_query_length_body_size_conversation_length(setup):
    client, settings, _ = setup
    long_query = "x" * (settings.max_query_chars + 1)
    too_long = (("/v1/search", {"query": long_query}), ("/v1/chat", {"message": long_query}))
    for path, body in too_long:
        response = client.post(path, json=body, headers=BOB)
        assert response.status_code == 400
        assert "LABSEARCH_MAX_QUERY_CHARS" in response.json()["detail"]
    huge = client.post("/v1/search", json={"query": "y" * 100_000}, headers=BOB)
    assert huge.status_code == 413 and huge.json()["error"] == "RequestTooLarge"
    # max_conversation_messages=6 in this module: three turns fit, the fourth does not.
    cid = client.post("/v1/chat", json={"message": "KID-0007"}, headers=BOB).json()[
        "conversation_id"
    ]
    for _ in range(2):
        turn = {"message": "KID-0007", "conversation_id": cid}
        assert client.post("/v1/chat", json=turn, headers=BOB).status_code == 200
    full = client.post(
        "/v1/chat", json={"message": "KID-0007", "conversation_id": cid}, headers=BOB
    )
    assert full.status_code == 400 and "start a new one" in full.json()["detail"]


def test_rate_limit_per_user(tmp_path, embedder):
    settings = api_settings(tmp_path, rate_limit_per_minute=3)
    service = build_service(settings, embedder, assets=[])
    client = TestClient(create_app(settings, service))
    for _ in range(3):
        assert client.get("/v1/conversations", headers=BOB).status_code == 200
    limited = client.get("/v1/conversations", headers=BOB)
    assert limited.status_code == 429
    assert limited.json()["error"] == "RateLimitedError" and "retry in" in limited.json()["detail"]
    # Another user has their own budget; health checks are never limited.
    assert client.get("/v1/conversations", headers=ALICE).status_code == 200
    assert client.get("/v1/healthz").status_code == 200


def test_readyz_waits_for_a_warm_up_query(tmp_path, monkeypatch):
    """Ready means a query was embedded already (the model or ONNX session is loaded)."""
    import threading

    from retriever.service import SearchService

    release, embedded = threading.Event(), []

    class SlowEmbedder:
        def embed_query(self, text):
            release.wait(30)
            embedded.append(text)

    class Service:
        embedder = SlowEmbedder()
        store = None

    monkeypatch.setattr(SearchService, "from_settings", classmethod(lambda cls, s: Service()))
    settings = api_settings(tmp_path, llm="extractive")
    with TestClient(create_app(settings)) as client:
        assert client.get("/v1/readyz").status_code == 503
        release.set()
        client.app.state.labsearch._loaded.wait(30)
        assert client.get("/v1/readyz").status_code == 200
    assert len(embedded) == 1
