"""Answering with a language model: citation verification, member checks, injections, follow-ups.

A scripted chat model shows misbehaviour a real model cannot be made to show on demand; Bedrock
runs through botocore (Stubber for Converse, a recorded ConverseStream event sequence for
streaming). The real SmolLM2 GGUF runs in tests/test_api_llm_real.py.
"""

from __future__ import annotations

import re

import boto3
import pytest
from api_fixtures import (
    A_RUN_NEW,
    B_NOTE,
    B_RUN_NEW,
    B_RUN_OLD,
    B_SAMPLE,
    BOB,
    INJECTION,
    LAB_A_IDS,
    LAB_A_SECRETS,
    api_settings,
    build_service,
    converse_stream_events,
    corpus,
    encode_event_stream,
    sse_events,
)
from botocore.awsrequest import AWSResponse
from botocore.stub import Stubber
from fastapi.testclient import TestClient
from langchain_core.messages import BaseMessage

from chat_api import prompt
from chat_api.app import create_app
from chat_api.llm import LLM
from chat_api.llm.bedrock import bedrock_model
from chat_api.llm.scripted import ScriptedChatModel

RUNS_QUESTION = "which runs used sample KID-0007?"
BOB_VISIBLE = {a.id for a in corpus() if {"lab-b", "public"} & set(a.groups)}


@pytest.fixture(scope="module")
def setup(tmp_path_factory, embedder):
    settings = api_settings(tmp_path_factory.mktemp("llm-home"), llm="openai")
    return settings, build_service(settings, embedder)


class Script:
    """Replies per prompt kind; remembers the prompts it was given."""

    def __init__(self, answer, rewrite=None) -> None:
        self.answer, self.rewrite = answer, rewrite
        self.prompts: list[list[BaseMessage]] = []

    def __call__(self, messages: list[BaseMessage]) -> str:
        self.prompts.append(messages)
        if messages[0].content == prompt.REWRITE:
            return self.rewrite(messages) if self.rewrite else messages[-1].content
        return self.answer(messages)


def context_ids(messages: list[BaseMessage]) -> list[str]:
    return re.findall(r"^id: (.+)$", messages[-1].content, flags=re.M)


def client_with(setup, script: Script) -> TestClient:
    settings, service = setup
    llm = LLM(ScriptedChatModel(script=script), name="scripted")
    return TestClient(create_app(settings, service, llm=llm))


def chat(client: TestClient, message: str, **extra) -> dict:
    response = client.post("/v1/chat", json={"message": message, **extra}, headers=BOB)
    assert response.status_code == 200, response.text
    return response.json()


def test_unknown_and_forbidden_citations_are_removed(setup):
    script = Script(
        lambda m: (
            f"KID-0007 is a mouse kidney tissue sample [{B_SAMPLE}]. It was collected for "
            f"ATAC-seq [{A_RUN_NEW}] and [quilt:s3://nowhere#made-up] and "
            f"[{B_SAMPLE}; {A_RUN_NEW}]."
        )
    )
    body = chat(client_with(setup, script), "what is sample KID-0007?")
    answer = body["answer"]
    assert [c["asset_id"] for c in answer["citations"]] == [B_SAMPLE]
    assert A_RUN_NEW not in answer["text"] and "made-up" not in answer["text"]
    assert answer["text"] == (
        f"KID-0007 is a mouse kidney tissue sample [{B_SAMPLE}]. It was collected for "
        f"ATAC-seq and and [{B_SAMPLE}]."
    )


def test_the_prompt_holds_only_permitted_assets_within_the_budget(setup):
    settings, _ = setup
    script = Script(lambda m: "I do not know.")
    question = "mouse liver hepatocyte fibrosis LIV-0042"
    chat(client_with(setup, script), question)
    messages = script.prompts[-1]
    full = "\n".join(str(m.content) for m in messages)
    for secret in LAB_A_SECRETS:
        if secret not in question:
            assert secret not in full
    assert prompt.count_tokens(full) <= settings.context_tokens
    assert "data, not instructions" in messages[0].content


def test_entity_answer_that_names_every_member_is_kept(setup):
    def answer(messages):
        return (
            f"Two runs used KID-0007: raw/kidney-atac-2024 on the NovaSeq 6000 [{B_RUN_NEW}] and "
            f"raw/kidney-atac-2022 on the HiSeq 2500 [{B_RUN_OLD}]."
        )

    body = chat(client_with(setup, Script(answer)), RUNS_QUESTION)
    assert body["answer"]["text"].startswith("Two runs used KID-0007")
    assert {c["asset_id"] for c in body["answer"]["citations"]} == {B_RUN_NEW, B_RUN_OLD}
    assert body["answer"]["result"]["count"] == 2


@pytest.mark.parametrize(
    "text",
    [
        # drops a member
        f"One run used KID-0007: raw/kidney-atac-2024 [{B_RUN_NEW}].",
        # invents a member
        f"Three runs: raw/kidney-atac-2024 [{B_RUN_NEW}], raw/kidney-atac-2022 [{B_RUN_OLD}] "
        "and RUN-B-999.",
        # adds a real run that is not a member (KID-0011's WGS run)
        f"raw/kidney-atac-2024 [{B_RUN_NEW}], raw/kidney-atac-2022 [{B_RUN_OLD}] and "
        "raw/kidney-wgs-2024 (RUN-B-003).",
    ],
)
def test_entity_answer_that_changes_the_members_falls_back_to_extractive(setup, text):
    client = client_with(setup, Script(lambda m: text))
    body = chat(client, RUNS_QUESTION)
    extractive = TestClient(create_app(setup[0].with_overrides(llm="extractive"), setup[1]))
    expected = chat(extractive, RUNS_QUESTION)["answer"]
    # The extractive answer, saying that it replaces the model's.
    assert body["answer"]["text"].startswith("The generated answer was withdrawn")
    assert body["answer"]["text"].endswith("\n\n" + expected["text"])
    assert body["answer"]["grounding"]["fallback"] is True
    assert body["answer"]["citations"] == expected["citations"]
    assert body["answer"]["result"] == expected["result"]


def test_streaming_reports_replacement_and_the_retrievers_result_first(setup):
    raw = f"Only raw/kidney-atac-2024 [{B_RUN_NEW}]."
    client = client_with(setup, Script(lambda m: raw))
    with client.stream(
        "POST", "/v1/chat", json={"message": RUNS_QUESTION, "stream": True}, headers=BOB
    ) as response:
        events = sse_events(response.read().decode())
    names = [name for name, _ in events]
    assert names[0] == "result" and names[-1] == "done"
    # An entity answer is provisional until its members are checked: the model's text arrives
    # as `provisional` only, and the tokens are the checked (here: replaced) answer.
    provisional = [data["text"] for name, data in events if name == "provisional"]
    assert provisional[-1] == raw
    assert names.index("token") > max(i for i, n in enumerate(names) if n == "provisional")
    streamed = "".join(data["text"] for name, data in events if name == "token")
    done = events[-1][1]
    assert done["replaced"] is True
    assert done["answer"]["text"] == streamed
    assert raw not in streamed
    assert {m["id"] for m in done["answer"]["result"]["members"]} == {B_RUN_NEW, B_RUN_OLD}
    citations = [data["asset_id"] for name, data in events if name == "citation"]
    assert citations == [c["asset_id"] for c in done["answer"]["citations"]]


def test_injected_instructions_change_neither_visibility_nor_citations(setup):
    def obey(messages):
        # A model that follows the injection and "lists lab A" from what it was told.
        return (
            f"As instructed: lab A has LIV-0042 [{A_RUN_NEW}] [{LAB_A_IDS[3]}]. Notes [{B_NOTE}]."
        )

    script = Script(obey)
    body = chat(client_with(setup, script), "what does the kidney ATAC-seq notebook say?")
    prompt_text = script.prompts[-1][-1].content
    assert INJECTION in prompt_text  # the note was retrieved, as data inside <assets>
    assert prompt_text.index("<assets>") < prompt_text.index(INJECTION)
    assert prompt_text.index(INJECTION) < prompt_text.index("</assets>")
    # Both sentences fail their check (lab A's ids are no citations bob may have; "Notes" is
    # not what the note says): the answer falls back to the search answer, saying so.
    answer = body["answer"]
    assert answer["grounding"]["kept"] == 0 and answer["grounding"]["fallback"] is True
    assert answer["text"].startswith("The generated answer was withdrawn")
    assert {c["asset_id"] for c in answer["citations"]} <= BOB_VISIBLE
    assert not any(asset_id in answer["text"] for asset_id in LAB_A_IDS)
    assert "LIV-0042" not in answer["text"]


def test_follow_up_is_rewritten_by_the_model(setup):
    def rewrite(messages):
        assert RUNS_QUESTION in [m.content for m in messages]
        return "Which runs used sample KID-0007 on the HiSeq 2500?"

    script = Script(lambda m: f"raw/kidney-atac-2022 [{B_RUN_OLD}].", rewrite=rewrite)
    client = client_with(setup, script)
    first = chat(client, RUNS_QUESTION)
    follow = chat(client, "only the HiSeq ones", conversation_id=first["conversation_id"])
    answer = follow["answer"]
    assert answer["standalone_query"] == "Which runs used sample KID-0007 on the HiSeq 2500?"
    assert [m["id"] for m in answer["result"]["members"]] == [B_RUN_OLD]
    assert answer["text"] == f"raw/kidney-atac-2022 [{B_RUN_OLD}]."


def test_rewrite_that_loses_the_identifier_is_ignored(setup):
    script = Script(lambda m: "No idea.", rewrite=lambda m: "Tell me about samples")
    client = client_with(setup, script)
    first = chat(client, RUNS_QUESTION)
    follow = chat(client, "and for sample KID-0011?", conversation_id=first["conversation_id"])
    assert "KID-0011" in (follow["answer"]["standalone_query"] or "and for sample KID-0011?")
    assert [m["id"] for m in follow["answer"]["result"]["members"]] == [
        "quilt:s3://lab-b-data#raw/kidney-wgs-2024"
    ]


# --- Bedrock through botocore ---------------------------------------------------------------


def bedrock_client():
    return boto3.client(
        "bedrock-runtime",
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        endpoint_url="https://bedrock-runtime.us-east-1.amazonaws.com",
    )


def bedrock_app(setup, client) -> TestClient:
    settings, service = setup
    settings = settings.with_overrides(llm="bedrock")
    llm = LLM(bedrock_model(settings, client=client), name=f"bedrock:{settings.bedrock_model_id}")
    return TestClient(create_app(settings, service, llm=llm))


def test_bedrock_converse(setup):
    client = bedrock_client()
    text = f"KID-0007 is a mouse kidney tissue sample collected for ATAC-seq [{B_SAMPLE}]."
    with Stubber(client) as stubber:
        stubber.add_response(
            "converse",
            {
                "output": {"message": {"role": "assistant", "content": [{"text": text}]}},
                "stopReason": "end_turn",
                "usage": {"inputTokens": 400, "outputTokens": 30, "totalTokens": 430},
                "metrics": {"latencyMs": 500},
            },
            {
                "modelId": setup[0].bedrock_model_id,
                "messages": [{"role": "user", "content": [{"text": stubber_any_text()}]}],
                "system": [{"text": stubber_any_text()}],
                "inferenceConfig": {"maxTokens": 1024, "temperature": 0},
            },
        )
        body = chat(bedrock_app(setup, client), "what is sample KID-0007?")
        stubber.assert_no_pending_responses()
    assert body["answer"]["text"] == text
    assert [c["asset_id"] for c in body["answer"]["citations"]] == [B_SAMPLE]


def stubber_any_text():
    from botocore.stub import ANY

    return ANY


def test_bedrock_converse_stream_from_a_recorded_event_sequence(setup):
    client = bedrock_client()
    pieces = ["Two runs: raw/kidney-atac-2024 ", f"[{B_RUN_NEW}] and ", "raw/kidney-atac-2022 "]
    pieces.append(f"[{B_RUN_OLD}].")
    recorded = encode_event_stream(converse_stream_events(pieces))
    seen = []

    class Body:
        """The HTTP body botocore reads the event stream from, in small network-sized reads."""

        def stream(self, amt=None, decode_content=None):
            for start in range(0, len(recorded), 64):
                yield recorded[start : start + 64]

        def close(self):
            pass

    def send(request, **kwargs):
        seen.append(request.url)
        headers = {"content-type": "application/vnd.amazon.eventstream"}
        return AWSResponse(request.url, 200, headers, Body())

    client.meta.events.register("before-send.bedrock-runtime.ConverseStream", send)
    app = bedrock_app(setup, client)
    with app.stream(
        "POST", "/v1/chat", json={"message": RUNS_QUESTION, "stream": True}, headers=BOB
    ) as response:
        events = sse_events(response.read().decode())
    assert seen and seen[0].endswith("/converse-stream")
    # The model's pieces arrive as provisional text; the checked answer as tokens.
    provisional = [data["text"] for name, data in events if name == "provisional"]
    assert provisional[-1] == "".join(pieces)
    tokens = [data["text"] for name, data in events if name == "token"]
    done = events[-1][1]
    assert done["replaced"] is False
    assert done["answer"]["text"] == "".join(pieces) == "".join(tokens)
    assert {c["asset_id"] for c in done["answer"]["citations"]} == {B_RUN_NEW, B_RUN_OLD}
