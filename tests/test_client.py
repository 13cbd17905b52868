"""The typed Python client (sync and async) and the LangChain retriever, against the real API
served by uvicorn on a real port: every answer is one of the API's models, a streamed chat is an
iterator of typed events, and bob still sees nothing of lab A."""

from __future__ import annotations

import asyncio
import json

import httpx
import pytest
from api_fixtures import (
    A_FILE,
    A_RUN_NEW,
    A_RUN_OLD,
    A_SAMPLE,
    B_RUN_NEW,
    LAB_A_IDS,
    LAB_A_SECRETS,
    api_settings,
    build_service,
    live_server,
)
from pydantic import ValidationError

from chat_api.app import create_app
from labsearch.client import ApiClient, AsyncApiClient, Credential
from labsearch.errors import AuthError, ForbiddenError, InvalidRequestError, NotFoundError
from labsearch.langchain import LabsearchRetriever
from labsearch.models import (
    AssetLinks,
    AssetResponse,
    ChatDone,
    ChatResponse,
    ChatToken,
    Citation,
    EntityResult,
    SearchRequestModel,
)

USERS = {
    "alice": {"groups": ["lab-a"], "api_keys": ["demo-alice"]},
    "bob": {"groups": ["lab-b"], "api_keys": ["demo-bob"]},
    "lims": {"groups": ["lab-a"], "api_keys": ["lims-key"], "scopes": ["ingest"]},
}
QUESTION = "which runs used sample LIV-0042?"


@pytest.fixture(scope="module")
def api(tmp_path_factory, embedder) -> str:
    settings = api_settings(tmp_path_factory.mktemp("client-home"), users=USERS)
    service = build_service(settings, embedder)
    with live_server(create_app(settings, service)) as url:
        yield url


# --- the sync client ------------------------------------------------------------------------------


def test_search_returns_the_api_models(api):
    with ApiClient(api, api_key="demo-alice") as client:
        assert client.health().status == "ok"
        assert "api_key" in client.auth_config().methods
        response = client.search(
            "liver RNA-seq", filters={"entity": "run"}, facets=["entity"], include_text=30
        )
        assert {hit.id for hit in response.hits} == {A_RUN_NEW, A_RUN_OLD}
        assert all(hit.text and len(hit.text) <= 30 for hit in response.hits)
        assert response.facets["entity"] == {"run": 2}
        same = client.search(SearchRequestModel(query="liver RNA-seq"), filters={"entity": "run"})
        assert {hit.id for hit in same.hits} == {A_RUN_NEW, A_RUN_OLD}
        assert all(hit.text is None for hit in same.hits)  # no text unless asked for
        with pytest.raises(ValidationError):  # bounded: checked before sending...
            client.search("x", include_text=10**6)
    # ... and by the API
    too_much = {"query": "x", "include_text": 10**6}
    refused = httpx.post(f"{api}/v1/search", json=too_much, headers={"X-API-Key": "demo-alice"})
    assert refused.status_code == 422 and refused.json()["detail"][0]["loc"][-1] == "include_text"


def test_assets_and_links(api):
    with ApiClient(api, Credential("api_key", "demo-alice")) as client:
        detail = client.asset(A_FILE)
        assert isinstance(detail, AssetResponse) and detail.asset.id == A_FILE
        links = client.links(A_RUN_NEW)
        assert isinstance(links, AssetLinks)
        assert links.quilt3_command and links.catalog_url
        with pytest.raises(InvalidRequestError, match="not stored in S3"):
            client.presign(A_SAMPLE)
    with ApiClient(api, api_key="demo-bob") as bob, pytest.raises(NotFoundError):
        bob.asset(A_FILE)


def test_chat_json_stream_feedback_and_conversations(api):
    with ApiClient(api, api_key="demo-alice") as client:
        answer = client.chat(QUESTION)
        assert isinstance(answer, ChatResponse)
        assert answer.answer.result and answer.answer.result.count == 2

        events = list(client.chat_stream(QUESTION, answer.conversation_id))
        values = [event.value for event in events]
        assert isinstance(values[0], EntityResult)  # the complete result before any text
        assert any(isinstance(v, ChatToken) for v in values)
        assert any(isinstance(v, Citation) for v in values)
        done = values[-1]
        assert isinstance(done, ChatDone) and done.conversation_id == answer.conversation_id
        text = "".join(v.text for v in values if isinstance(v, ChatToken))
        assert text.strip() == done.answer.text.strip()

        rated = client.feedback(done.conversation_id, done.message_id, "up", "right runs")
        assert rated.rating == "up" and rated.message_id == done.message_id
        summaries = client.conversations()
        assert answer.conversation_id in {s.id for s in summaries}
        assert client.rename(answer.conversation_id, "LIV-0042 runs").title == "LIV-0042 runs"
        conversation = client.conversation(answer.conversation_id)
        assert [m.role for m in conversation.history] == ["user", "assistant"] * 2
        client.delete(answer.conversation_id)
        with pytest.raises(NotFoundError):
            client.conversation(answer.conversation_id)


def test_ingest_needs_the_scope_and_is_searchable_at_once(api):
    record = {"id": "LIMS-7", "title": "Library prep batch LIMS-7", "access_groups": ["lab-a"]}
    with ApiClient(api, api_key="demo-alice") as alice, pytest.raises(ForbiddenError):
        alice.ingest([record], source="lims")
    with ApiClient(api, api_key="lims-key") as lims:
        pushed = lims.ingest([record], source="lims")
    assert pushed.counts == {"created": 1} and pushed.results[0].status == "created"
    with ApiClient(api, api_key="demo-alice") as alice:
        hits = alice.search("LIMS-7").hits
        assert hits and hits[0].id == pushed.results[0].asset_id
    with ApiClient(api, api_key="lims-key") as lims:
        assert lims.ingest(delete=["LIMS-7"], source="lims").counts == {"deleted": 1}


def test_a_wrong_key_is_an_auth_error(api):
    with ApiClient(api, api_key="wrong") as client, pytest.raises(AuthError):
        client.search("x")


# --- the async client -----------------------------------------------------------------------------


def test_async_client(api):
    async def main() -> None:
        async with AsyncApiClient(api, api_key="demo-alice") as client:
            assert (await client.health()).status == "ok"
            found = await client.search("LIV-0042", filters={"entity": "run"}, include_text=20)
            assert {hit.id for hit in found.hits} == {A_RUN_NEW, A_RUN_OLD}
            assert (await client.asset(A_FILE)).asset.id == A_FILE
            assert (await client.links(A_RUN_NEW)).catalog_url
            events = [event.value async for event in client.chat_stream(QUESTION)]
            assert isinstance(events[0], EntityResult) and isinstance(events[-1], ChatDone)
            done = events[-1]
            assert (await client.feedback(done.conversation_id, done.message_id, "down")).id
            assert done.conversation_id in {s.id for s in await client.conversations()}
            chatted = await client.chat("and how many?", done.conversation_id)
            assert chatted.conversation_id == done.conversation_id
            await client.delete(done.conversation_id)
        async with AsyncApiClient(api, api_key="demo-bob") as bob:
            with pytest.raises(NotFoundError):
                await bob.asset(A_FILE)
            streamed = [event.data async for event in bob.chat_stream(QUESTION)]
            assert not any(asset_id in json.dumps(streamed) for asset_id in LAB_A_IDS)

    asyncio.run(main())


# --- the LangChain retriever ----------------------------------------------------------------------


def test_retriever_documents_carry_text_links_and_identifiers(api):
    retriever = LabsearchRetriever.connect(api, api_key="demo-alice", k=5)
    docs = retriever.invoke("liver RNA-seq", filters={"entity": "run"})
    assert {doc.metadata["id"] for doc in docs} == {A_RUN_NEW, A_RUN_OLD}
    first = docs[0]
    assert "RNA-seq" in first.page_content and "LIV-0042" in first.page_content
    assert first.metadata["entity"] == "run"
    assert "LIV-0042" in first.metadata["identifiers"]
    assert first.metadata["links"]["quilt3_command"].startswith("quilt3 install")
    assert first.metadata["source"] == first.metadata["links"]["catalog_url"]
    # Filters set on the retriever apply to every query; a call's own filters win.
    samples = LabsearchRetriever.connect(api, api_key="demo-alice", filters={"entity": "sample"})
    assert [d.metadata["id"] for d in samples.invoke("liver")] == [A_SAMPLE]
    assert all(
        d.metadata["entity"] == "run" for d in samples.invoke("liver", filters={"entity": "run"})
    )


def test_retriever_async_and_without_an_async_client(api):
    with_async = LabsearchRetriever.connect(api, api_key="demo-alice")
    only_sync = LabsearchRetriever(client=ApiClient(api, api_key="demo-alice"))
    for retriever in (with_async, only_sync):
        docs = asyncio.run(retriever.ainvoke("liver", filters={"entity": "sample"}))
        assert [doc.metadata["id"] for doc in docs] == [A_SAMPLE]


def test_bobs_retriever_finds_nothing_of_lab_a(api):
    retriever = LabsearchRetriever.connect(api, api_key="demo-bob", k=50)
    for query in ("LIV-0042", "mouse liver hepatocyte fibrosis", "lab-a-data"):
        docs = retriever.invoke(query)
        text = json.dumps([[d.page_content, d.metadata] for d in docs])
        assert not any(secret in text for secret in LAB_A_SECRETS if secret not in query)
    assert B_RUN_NEW in {d.metadata["id"] for d in retriever.invoke("kidney ATAC-seq")}
