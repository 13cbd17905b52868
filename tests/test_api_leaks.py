"""Bob (lab B) against lab A's assets through every route: nothing of lab A may come back.

Also presigned links against a real S3 API (moto's server): the link opens the exact object
version the asset cites, and only for callers who may see the asset.
"""

from __future__ import annotations

import json
from urllib.parse import quote

import pytest
import requests
from api_fixtures import (
    A_FILE,
    ALICE,
    B_NOTE,
    BOB,
    INJECTION,
    LAB_A_IDS,
    LAB_A_SECRETS,
    add_assets,
    api_settings,
    build_service,
    sse_events,
)
from fastapi.testclient import TestClient
from s3_fixtures import moto_s3_fixture, s3_bucket_fixture  # noqa: F401 - pytest fixtures

from chat_api.app import create_app
from labsearch.schema import Asset, Provenance


@pytest.fixture(scope="module")
def setup(tmp_path_factory, embedder):
    settings = api_settings(tmp_path_factory.mktemp("leak-home"))
    service = build_service(settings, embedder)
    with TestClient(create_app(settings, service)) as client:
        yield client, settings, service


@pytest.fixture(scope="module")
def client(setup):
    return setup[0]


def assert_no_lab_a(payload: object, asked: str = "") -> None:
    """No lab A secret in `payload`, except words the question itself contained (echoes)."""
    text = json.dumps(payload)
    for secret in LAB_A_SECRETS:
        if secret not in asked:
            assert secret not in text, f"lab A's {secret!r} leaked: {text[:500]}"
    for asset_id in LAB_A_IDS:
        assert asset_id not in text


SEARCHES = [
    "LIV-0042",
    "RUN-A-001",
    "ELN-123",
    "mouse liver hepatocyte fibrosis RNA-seq",
    "lab-a-data",
    "raw/liver-rnaseq-2024",
    "LIV-0042_R1.fastq.gz",
]


@pytest.mark.parametrize("query", SEARCHES)
def test_search_hits_highlights_facets(client, query):
    for mode in ("hybrid", "bm25", "dense"):
        body = client.post(
            "/v1/search",
            json={
                "query": query,
                "mode": mode,
                "size": 50,
                "facets": ["metadata.lab", "metadata.samples", "metadata.instrument", "entity"],
            },
            headers=BOB,
        ).json()
        assert_no_lab_a({"hits": body["hits"], "facets": body["facets"]}, asked=query)
        assert "lab-a" not in body["facets"].get("metadata.lab", {})


def test_filtered_counts_and_facets_see_only_bob(client):
    body = client.post(
        "/v1/search",
        json={"query": "", "filters": {"metadata.lab": "lab-a"}, "facets": ["metadata.lab"]},
        headers=BOB,
    ).json()
    assert body["hits"] == [] and body["total"] == 0
    assert body["facets"].get("metadata.lab", {}) == {}
    runs = client.post(
        "/v1/search",
        json={"query": "", "filters": {"entity": "run"}, "facets": ["metadata.instrument"]},
        headers=BOB,
    ).json()
    assert runs["total"] == 3  # bob's three runs; alice's two are not counted
    assert runs["facets"]["metadata.instrument"] == {"NovaSeq 6000": 2, "HiSeq 2500": 1}
    assert_no_lab_a(runs)


CHATS = [
    "which runs used sample LIV-0042?",
    "how many runs used sample LIV-0042?",
    "which files came from experiment ELN-123?",
    "list every sample of lab A",
    "what was sequenced on the HiSeq 2500?",
    "tell me about the liver fibrosis study",
]


@pytest.mark.parametrize("message", CHATS)
def test_chat_json_and_stream(client, message):
    body = client.post("/v1/chat", json={"message": message}, headers=BOB).json()
    assert_no_lab_a(body["answer"], asked=message)
    result = body["answer"]["result"]
    if result is not None:
        assert all(member["id"] not in LAB_A_IDS for member in result["members"])
    with client.stream(
        "POST", "/v1/chat", json={"message": message, "stream": True}, headers=BOB
    ) as response:
        events = sse_events(response.read().decode())
    assert events[-1][0] == "done"
    assert_no_lab_a([data for _, data in events], asked=message)


def test_follow_ups_cannot_reach_lab_a(client):
    first = client.post(
        "/v1/chat", json={"message": "which runs used sample KID-0007?"}, headers=BOB
    ).json()
    asked = ""  # bob's own words come back in later structured queries: echoes, not leaks
    for follow in ("and for sample LIV-0042?", "which of those were on the HiSeq 2500?"):
        asked += " " + follow
        body = client.post(
            "/v1/chat",
            json={"message": follow, "conversation_id": first["conversation_id"]},
            headers=BOB,
        ).json()
        assert_no_lab_a(body["answer"], asked=asked)
        assert body["answer"]["citations"] == []
        assert body["answer"]["result"] is None or body["answer"]["result"]["count"] == 0


def test_injected_instructions_do_not_change_what_bob_sees(client):
    message = "what does the kidney ATAC-seq notebook say?"
    body = client.post("/v1/chat", json={"message": message}, headers=BOB).json()
    cited = [c["asset_id"] for c in body["answer"]["citations"]]
    assert B_NOTE in cited
    assert_no_lab_a(body["answer"])


def test_assets_and_presign_answer_404_like_missing(client):
    for asset_id in LAB_A_IDS:
        encoded = "/v1/assets/" + quote(asset_id, safe="")
        forbidden = client.get(encoded, headers=BOB)
        assert forbidden.status_code == 404
        missing = client.get("/v1/assets/" + quote(asset_id + "-nope", safe=""), headers=BOB)
        assert forbidden.json()["error"] == missing.json()["error"] == "NotFoundError"
        assert client.post(encoded + "/presign", headers=BOB).status_code == 404
        assert client.get(encoded, headers=ALICE).status_code == 200


def test_feedback_and_conversations_of_alice_are_invisible(client):
    alice = client.post("/v1/chat", json={"message": "LIV-0042"}, headers=ALICE).json()
    feedback = {
        "conversation_id": alice["conversation_id"],
        "message_id": alice["message_id"],
        "rating": "down",
    }
    assert client.post("/v1/feedback", json=feedback, headers=BOB).status_code == 404
    listed = client.get("/v1/conversations", headers=BOB).json()
    assert alice["conversation_id"] not in json.dumps(listed)
    for conversation in listed["conversations"]:  # every listed one is bob's own
        assert client.get(f"/v1/conversations/{conversation['id']}", headers=BOB).is_success
        assert client.get(f"/v1/conversations/{conversation['id']}", headers=ALICE).is_error


def test_audit_log_records_only_what_bob_got(setup):
    client, settings, _ = setup
    client.post("/v1/search", json={"query": "LIV-0042"}, headers=BOB)
    lines = [json.loads(line) for line in settings.audit_path.read_text().splitlines()]
    for entry in (e for e in lines if e["user"] == "bob"):
        assert not set(entry["returned"]) & set(LAB_A_IDS)
        assert not set(entry["cited"]) & set(LAB_A_IDS)


def test_injection_asset_is_data_for_bob_only(client):
    # The note's text (with the injection) is bob's; alice never sees it either.
    hits = client.post("/v1/search", json={"query": INJECTION}, headers=ALICE).json()["hits"]
    assert B_NOTE not in [hit["id"] for hit in hits]


# --- presigned links against a real S3 API ------------------------------------------------------


def s3_asset(asset_id: str, bucket: str, key: str, version: str, groups: list[str]) -> Asset:
    return Asset(
        id=asset_id,
        source=f"s3://{bucket}/",
        kind="file",
        entity="file",
        title=key.rsplit("/", 1)[-1],
        text="counts table",
        provenance=Provenance(
            source=f"s3://{bucket}/", s3_uri=f"s3://{bucket}/{key}", version_id=version
        ),
        groups=groups,
    )


def test_presign_opens_the_cited_version_and_only_for_permitted_callers(
    setup, s3_bucket, moto_s3, embedder
):
    client, _, service = setup
    s3 = moto_s3.client()
    key = "processed/counts #1.tsv"
    first = s3.put_object(Bucket=s3_bucket, Key=key, Body=b"gene\tcount\nA\t1\n")["VersionId"]
    s3.put_object(Bucket=s3_bucket, Key=key, Body=b"gene\tcount\nA\t2\n")
    b_id, a_id = f"s3://{s3_bucket}/{key}", f"s3://{s3_bucket}/lab-a/{key}"
    add_assets(
        service.store,
        embedder,
        [
            s3_asset(b_id, s3_bucket, key, first, ["lab-b"]),
            s3_asset(a_id, s3_bucket, f"lab-a/{key}", first, ["lab-a"]),
        ],
    )
    response = client.post("/v1/assets/" + quote(b_id, safe="") + "/presign", headers=BOB)
    assert response.status_code == 200, response.text
    link = response.json()
    assert link["version_id"] == first and link["expires_in"] == 900
    assert f"versionId={first}" in link["url"] and "X-Amz-Signature=" in link["url"]
    downloaded = requests.get(link["url"], timeout=10)
    assert downloaded.status_code == 200
    assert downloaded.content == b"gene\tcount\nA\t1\n"  # the cited version, not the latest
    assert (
        client.post("/v1/assets/" + quote(a_id, safe="") + "/presign", headers=BOB).status_code
        == 404
    )
    lab_a_file = client.post("/v1/assets/" + quote(A_FILE, safe="") + "/presign", headers=BOB)
    assert lab_a_file.json()["error"] == "NotFoundError"
