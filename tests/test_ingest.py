"""Pushing records: POST /v1/ingest with the ingest scope, and signed webhooks (Standard
Webhooks) from configured senders, against a real embedded store."""

from __future__ import annotations

import json
import time
import uuid
from datetime import UTC, datetime, timedelta

import jwt
import pytest
from api_fixtures import ALICE, BOB, JWT_SECRET, api_settings, build_service
from fastapi.testclient import TestClient
from standardwebhooks.webhooks import Webhook

from chat_api.app import create_app
from indexer.locks import writer_lock
from labsearch.access import Access

APP = {"X-API-Key": "app-key"}  # the LIMS app: ingest scope, writes for lab-a
SECRET = "whsec_" + "c2VjcmV0LW9mLXRoZS1lbG4td2ViaG9vay0xMjM0NTY="
OPERATOR = Access.as_operator()


@pytest.fixture
def setup(tmp_path, embedder):
    users = {
        "alice": {"groups": ["lab-a"], "api_keys": ["demo-alice"]},
        "bob": {"groups": ["lab-b"], "api_keys": ["demo-bob"]},
        "lims": {"groups": ["lab-a"], "api_keys": ["app-key"], "scopes": ["ingest"]},
        "lims-b": {"groups": ["lab-b"], "api_keys": ["app-key-b"], "scopes": ["ingest"]},
    }
    webhooks = {
        "eln": {"secret": SECRET, "groups": ["lab-a"]},
        "elab": {"secret": SECRET, "groups": ["lab-a"], "format": "elabftw"},
    }
    settings = api_settings(tmp_path / "home", users=users, webhooks=webhooks)
    service = build_service(settings, embedder, assets=[])
    with TestClient(create_app(settings, service)) as client:
        yield client, settings, service
    service.store.close()  # the embedder is the session's


def record(record_id: str, title: str, **fields) -> dict:
    return {"id": record_id, "title": title, "access_groups": ["lab-a"], **fields}


def push(client, body: dict, headers=APP):
    return client.post("/v1/ingest", json=body, headers=headers)


def statuses(response) -> dict[str, str]:
    return {r["id"]: r["status"] for r in response.json()["results"]}


def test_upsert_update_delete_and_idempotency(setup):
    client, settings, service = setup
    batch = {
        "source": "lims",
        "upsert": [
            record("S-1", "Liver biopsy S-1", type="sample"),
            record("RUN-9", "NovaSeq run RUN-9", type="run", samples=["S-1"]),
        ],
    }
    first = push(client, batch)
    assert first.status_code == 200, first.text
    assert statuses(first) == {"S-1": "created", "RUN-9": "created"}
    assert first.json()["source"] == "ingest://lims"
    run = service.store.get("ingest:lims:RUN-9", Access.for_groups(["lab-a"]))
    assert run is not None and run.source == "ingest://lims"
    assert run.linked("uses_sample") == ["ingest:lims:S-1"]  # links between pushed records

    assert statuses(push(client, batch)) == {"S-1": "unchanged", "RUN-9": "unchanged"}

    batch["upsert"][1]["title"] = "NovaSeq run RUN-9, re-demultiplexed"
    assert statuses(push(client, batch))["RUN-9"] == "updated"
    hits = client.post("/v1/search", json={"query": "re-demultiplexed"}, headers=ALICE).json()
    assert hits["hits"][0]["id"] == "ingest:lims:RUN-9"

    gone = push(client, {"source": "lims", "delete": ["RUN-9", "NEVER-PUSHED"]})
    assert statuses(gone) == {"RUN-9": "deleted", "NEVER-PUSHED": "not_found"}
    assert service.store.get("ingest:lims:RUN-9", OPERATOR) is None
    assert statuses(push(client, {"source": "lims", "delete": ["RUN-9"]})) == {"RUN-9": "not_found"}


def test_bad_records_get_their_own_status_and_the_rest_is_written(setup):
    client, _, service = setup
    response = push(
        client,
        {
            "source": "lims",
            "upsert": [
                record("OK-1", "A good record"),
                {"id": "NO-TITLE"},
                "not an object",
                record("OK-1", "the same id again"),
                record("TWICE", "upserted and deleted at once"),
            ],
            "delete": ["TWICE", " "],
        },
    )
    assert response.status_code == 200
    results = response.json()["results"]
    by_id = {r["id"]: r for r in results}
    assert by_id["OK-1"]["status"] == "created"
    assert by_id["NO-TITLE"]["status"] == "invalid" and by_id["NO-TITLE"]["field"] == "title"
    assert by_id["#2"]["status"] == "invalid" and "not a JSON object" in by_id["#2"]["detail"]
    assert sum(r["status"] == "invalid" for r in results) == 5
    assert response.json()["counts"] == {"created": 2, "invalid": 5}
    assert service.store.get("ingest:lims:OK-1", OPERATOR).title == "A good record"


def test_without_the_ingest_scope_the_answer_is_403(setup):
    client, _, _ = setup
    response = push(client, {"upsert": [record("X", "x")]}, headers=ALICE)
    assert response.status_code == 403
    assert "ingest" in response.json()["detail"]
    token = jwt.encode(
        {"sub": "an-app", "groups": ["lab-a"], "exp": int(time.time()) + 60},
        JWT_SECRET,
        algorithm="HS256",
    )
    bearer = {"Authorization": f"Bearer {token}"}
    assert push(client, {"upsert": [record("X", "x")]}, headers=bearer).status_code == 403
    token = jwt.encode(
        {
            "sub": "an-app",
            "groups": ["lab-a"],
            "scope": "read ingest",
            "exp": int(time.time()) + 60,
        },
        JWT_SECRET,
        algorithm="HS256",
    )
    bearer = {"Authorization": f"Bearer {token}"}
    response = push(client, {"upsert": [record("X", "x")]}, headers=bearer)
    assert statuses(response) == {"X": "created"}


def test_a_record_for_a_group_the_caller_lacks_is_refused(setup):
    client, _, service = setup
    response = push(
        client,
        {
            "source": "lims",
            "upsert": [
                {"id": "PLANT", "title": "planted into lab B", "access_groups": ["lab-b"]},
                {"id": "PUBLIC", "title": "made public", "access_groups": ["public"]},
                record("MINE", "for lab A"),
            ],
        },
    )
    assert statuses(response) == {"PLANT": "forbidden", "PUBLIC": "forbidden", "MINE": "created"}
    assert service.store.get("ingest:lims:PLANT", OPERATOR) is None
    bob_sees = client.post("/v1/search", json={"query": "planted"}, headers=BOB).json()["hits"]
    assert bob_sees == []
    # Nor may a writer overwrite or delete what another lab pushed under the same source.
    lab_b = {"id": "B-ONLY", "title": "lab B's record", "access_groups": ["lab-b"]}
    pushed = push(client, {"source": "lims", "upsert": [lab_b]}, headers={"X-API-Key": "app-key-b"})
    assert statuses(pushed) == {"B-ONLY": "created"}
    takeover = push(client, {"source": "lims", "upsert": [record("B-ONLY", "now lab A's")]})
    assert statuses(takeover) == {"B-ONLY": "forbidden"}
    # A record the writer may not even see answers a delete as a missing one would: a
    # "forbidden" would tell that it exists (tests/test_permission_attack.py compares the two).
    assert statuses(push(client, {"source": "lims", "delete": ["B-ONLY"]})) == {
        "B-ONLY": "not_found"
    }
    assert "lab-b" not in takeover.text
    assert service.store.get("ingest:lims:B-ONLY", OPERATOR).title == "lab B's record"


def test_pushed_records_survive_reindexing_other_sources_and_remove_forgets_them(setup, tmp_path):
    from indexer.jobs import remove_source, run_index
    from indexer.state import SyncState

    client, settings, service = setup
    push(client, {"source": "lims", "upsert": [record("KEEP-1", "pushed record")]})
    lab = tmp_path / "files"
    lab.mkdir()
    (lab / "a.txt").write_text("a plain file")
    run_index(settings, [lab.as_uri()])
    run_index(settings, [])  # every readable source again; the pushed one is not read
    assert service.store.get("ingest:lims:KEEP-1", OPERATOR) is not None
    state = SyncState(settings.state_path)
    listed = {report.source: report for report in state.all()}
    state.close()
    assert listed["ingest://lims"].added == 1
    assert remove_source(settings, "ingest://lims") == 1
    assert service.store.get("ingest:lims:KEEP-1", OPERATOR) is None


def test_while_the_writer_is_busy_the_answer_is_503_with_retry_after(setup):
    client, settings, service = setup
    with writer_lock(settings.home):  # a rebuild is running
        started = time.monotonic()
        response = push(client, {"upsert": [record("LATER", "pushed during a rebuild")]})
        assert time.monotonic() - started < 5  # answered at once, never hangs
    assert response.status_code == 503
    assert int(response.headers["Retry-After"]) > 0
    assert service.store.get("ingest:api:LATER", OPERATOR) is None
    assert statuses(push(client, {"upsert": [record("LATER", "again")]})) == {"LATER": "created"}


def test_a_batch_over_the_limit_is_refused_whole(setup):
    client, settings, _ = setup
    limit = settings.ingest_max_records
    body = {"upsert": [record(f"R-{n}", f"record {n}") for n in range(limit + 1)]}
    response = push(client, body)
    assert response.status_code == 400
    assert "LABSEARCH_INGEST_MAX_RECORDS" in response.json()["detail"]


# --- signed webhooks ------------------------------------------------------------------------


def signed(body: dict, secret: str = SECRET, when: datetime | None = None, msg_id: str = ""):
    data = json.dumps(body)
    msg_id = msg_id or f"msg_{uuid.uuid4().hex}"
    when = when or datetime.now(UTC)
    signature = Webhook(secret).sign(msg_id, when, data)
    headers = {
        "webhook-id": msg_id,
        "webhook-timestamp": str(int(when.timestamp())),
        "webhook-signature": signature,
        "content-type": "application/json",
    }
    return data, headers


def test_webhook_signature_valid_invalid_replayed_and_stale(setup):
    client, _, service = setup
    body = {"upsert": [record("ELN-77", "Signed ELN entry")]}
    data, headers = signed(body)
    first = client.post("/v1/webhooks/eln", content=data, headers=headers)
    assert first.status_code == 200, first.text
    assert first.json()["ingest"]["results"][0]["status"] == "created"
    assert service.store.get("ingest:eln:ELN-77", OPERATOR) is not None

    replay = client.post("/v1/webhooks/eln", content=data, headers=headers)
    assert replay.status_code == 200 and replay.json()["duplicate"] is True
    assert replay.json()["ingest"] is None  # acknowledged, not processed again

    wrong = "whsec_" + "d3Jvbmctc2VjcmV0LXdyb25nLXNlY3JldC0xMjM0NTY="
    data, headers = signed({"delete": ["ELN-77"]}, secret=wrong)
    assert client.post("/v1/webhooks/eln", content=data, headers=headers).status_code == 401
    data, headers = signed({"delete": ["ELN-77"]})
    tampered = data.replace("ELN-77", "ELN-78")
    assert client.post("/v1/webhooks/eln", content=tampered, headers=headers).status_code == 401
    headers["webhook-signature"] = "garbage-without-version"
    assert client.post("/v1/webhooks/eln", content=data, headers=headers).status_code == 401

    stale = datetime.now(UTC) - timedelta(minutes=10)
    data, headers = signed({"delete": ["ELN-77"]}, when=stale)
    response = client.post("/v1/webhooks/eln", content=data, headers=headers)
    assert response.status_code == 401 and "too old" in response.json()["detail"]
    assert service.store.get("ingest:eln:ELN-77", OPERATOR) is not None  # nothing got through

    assert client.post("/v1/webhooks/unknown", content=data, headers=headers).status_code == 404


def test_webhook_senders_are_bound_to_their_groups(setup):
    client, _, service = setup
    data, headers = signed({"upsert": [{"id": "X", "title": "x", "access_groups": ["lab-b"]}]})
    response = client.post("/v1/webhooks/eln", content=data, headers=headers)
    assert response.json()["ingest"]["results"][0]["status"] == "forbidden"
    assert service.store.get("ingest:eln:X", OPERATOR) is None


def test_elabftw_shaped_webhook(setup):
    client, settings, service = setup
    from pathlib import Path

    fixtures = Path(__file__).parent / "fixtures" / "elabftw" / "experiments.json"
    entity = json.loads(fixtures.read_text())[0]
    settings_rules = settings  # the sender's records name no groups: rules decide (none here)
    assert settings_rules.access_rules == []
    body = {"event": "update", "entity_type": "experiments", "entity": entity}
    data, headers = signed(body)
    response = client.post("/v1/webhooks/elab", content=data, headers=headers)
    assert response.status_code == 200, response.text
    [result] = response.json()["ingest"]["results"]
    assert result["status"] == "created"
    asset = service.store.get(result["asset_id"], OPERATOR)
    assert asset.title == entity["title"]
    data, headers = signed({"event": "delete", "entity_type": "experiments", "entity": entity})
    response = client.post("/v1/webhooks/elab", content=data, headers=headers)
    assert response.json()["ingest"]["results"][0]["status"] == "deleted"


def test_failed_webhook_signatures_are_throttled_like_sign_ins(tmp_path, embedder):
    webhooks = {"eln": {"secret": SECRET, "groups": ["lab-a"]}}
    settings = api_settings(tmp_path / "home", webhooks=webhooks, auth_failures_per_minute=3)
    service = build_service(settings, embedder, assets=[])
    wrong = "whsec_" + "d3Jvbmctc2VjcmV0LXdyb25nLXNlY3JldC0xMjM0NTY="
    try:
        with TestClient(create_app(settings, service)) as client:
            for _ in range(3):
                data, headers = signed({"delete": ["X"]}, secret=wrong)
                assert (
                    client.post("/v1/webhooks/eln", content=data, headers=headers).status_code
                    == 401
                )
            data, headers = signed({"delete": ["X"]})  # even a right signature waits now
            throttled = client.post("/v1/webhooks/eln", content=data, headers=headers)
            assert throttled.status_code == 429
            assert int(throttled.headers["Retry-After"]) > 0
    finally:
        service.store.close()
