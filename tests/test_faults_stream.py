"""A streamed answer when its server dies: `kill -9` of `labsearch serve` mid-stream (the Python
client raises a clean ApiUnreachableError, it does not hang or return half an answer as done),
and SIGTERM mid-stream (the server ends the stream with an `error` event, then exits).

The answer must take long enough to be interrupted, so the server's language model is a local
server speaking the OpenAI chat API (as vLLM or llama.cpp would) that streams one word every
0.2 s.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest
from api_fixtures import free_port, indexed_home, subprocess_env

from labsearch.client import ApiClient, ApiUnreachableError

REPO = Path(__file__).resolve().parent.parent
WORDS = ("The kidney ATAC-seq notebook describes nuclei isolated on ice " * 6).split()
QUESTION = "what does the kidney ATAC-seq notebook say?"


class SlowOpenAI(BaseHTTPRequestHandler):
    """POST /v1/chat/completions: a streamed (or whole) answer, one word per 0.2 s."""

    def log_message(self, *args: object) -> None:
        pass

    def do_POST(self) -> None:  # noqa: N802 - http.server's naming
        length = int(self.headers.get("Content-Length", 0))
        request = json.loads(self.rfile.read(length) or b"{}")
        chunk = {"id": "c1", "object": "chat.completion.chunk", "created": 0, "model": "local"}
        if not request.get("stream"):
            body = json.dumps(
                {
                    **chunk,
                    "object": "chat.completion",
                    "choices": [
                        {
                            "index": 0,
                            "message": {"role": "assistant", "content": " ".join(WORDS)},
                            "finish_reason": "stop",
                        }
                    ],
                }
            ).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            return
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.end_headers()
        try:
            for word in WORDS:
                delta = {"role": "assistant", "content": word + " "}
                data = {**chunk, "choices": [{"index": 0, "delta": delta, "finish_reason": None}]}
                self.wfile.write(f"data: {json.dumps(data)}\n\n".encode())
                self.wfile.flush()
                time.sleep(0.2)
            end = {**chunk, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}
            self.wfile.write(f"data: {json.dumps(end)}\n\ndata: [DONE]\n\n".encode())
        except (BrokenPipeError, ConnectionResetError):  # the API went away mid-answer
            pass


@pytest.fixture(scope="module")
def model_url() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), SlowOpenAI)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def config(tmp_path_factory, embedder, model_url) -> Path:
    path = indexed_home(tmp_path_factory.mktemp("stream-faults"), embedder)
    # Top-level keys go before the file's [users.*] tables.
    path.write_text(f'llm = "openai"\nopenai_base_url = "{model_url}"\n' + path.read_text())
    return path


@pytest.fixture
def server(config) -> Iterator[tuple[str, subprocess.Popen]]:
    """`labsearch serve` in its own process, answering."""
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "shell.cli", "serve", "--port", str(port)],
        env=subprocess_env(LABSEARCH_CONFIG=str(config)),
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while True:
        try:
            if httpx.get(f"{url}/v1/healthz", timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        assert process.poll() is None, "labsearch serve exited at start"
        assert time.monotonic() < deadline, "labsearch serve did not start in 120 s"
        time.sleep(0.2)
    yield url, process
    if process.poll() is None:
        process.kill()
    process.wait(30)


def stream_until_first_text(client: ApiClient) -> tuple[Iterator, list]:
    """Read until the model's first text: `provisional` (its unchecked words, which arrive
    while it is still writing) or `token` (checked text, which may come only at the end)."""
    events = client.chat_stream(QUESTION)
    seen = []
    for event in events:
        seen.append(event)
        if event.event in ("provisional", "token"):
            return events, seen
    pytest.fail(f"the stream ended before any text: {seen}")


def test_kill_9_mid_stream_is_a_clean_client_error(server):
    url, process = server
    with ApiClient(url, api_key="demo-bob") as client:
        events, seen = stream_until_first_text(client)
        os.kill(process.pid, signal.SIGKILL)
        started = time.monotonic()
        with pytest.raises(ApiUnreachableError, match="stopped answering"):
            seen += list(events)
        assert time.monotonic() - started < 10, "the client hung after the server died"
    assert all(event.event != "done" for event in seen)


def test_sigterm_mid_stream_ends_with_an_error_event_and_the_server_exits(server):
    url, process = server
    with ApiClient(url, api_key="demo-bob") as client:
        events, seen = stream_until_first_text(client)
        process.send_signal(signal.SIGTERM)
        seen += list(events)
    assert seen[-1].event == "error", [e.event for e in seen]
    assert seen[-1].data["error"] == "ShuttingDown" and "ask again" in seen[-1].data["detail"]
    # uvicorn finishes its graceful shutdown, then ends by the signal it caught (as documented)
    assert process.wait(30) in (0, -signal.SIGTERM)
