"""Bad input answers 4xx with a message that says what to do, never a 500: one test per finding
of the security review (numbers past 64 bits, deep or wide filters, lone surrogates, impossible
dates, an empty JWT secret), and the smaller ones (stream errors, empty conversations left by a
failed chat, Retry-After, throttled sign-ins, 413 for chunked bodies, the body limit setting)."""

from __future__ import annotations

import json
import time
from datetime import date
from typing import Any

import anyio
import jwt
import pytest
from api_fixtures import ALICE, BOB, api_settings, build_service, sse_events
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from chat_api.app import create_app
from labsearch import filters
from labsearch.errors import ConfigError, InvalidFilterError
from labsearch.settings import Settings, get_settings
from retriever.parsing import date_range
from shell.cli import app as cli

JSON = {"content-type": "application/json"}


@pytest.fixture(scope="module")
def setup(tmp_path_factory, embedder):
    settings = api_settings(tmp_path_factory.mktemp("bad-input-home"))
    service = build_service(settings, embedder)
    with TestClient(create_app(settings, service), raise_server_exceptions=False) as client:
        yield client, settings, service


@pytest.fixture(scope="module")
def client(setup) -> TestClient:
    return setup[0]


def search(client: TestClient, **body: Any):
    return client.post("/v1/search", json={"query": "", **body}, headers=ALICE)


def raw(client: TestClient, path: str, text: str, method: str = "POST"):
    """Send `text` as the JSON body unchanged, so escapes like \\ud800 reach the server."""
    return client.request(method, path, content=text, headers={**ALICE, **JSON})


def nested(op: str, depth: int) -> dict[str, Any]:
    """`depth` levels of `op` around leaves that compile to subqueries (the worst case)."""
    leaf = {"samples": {"in": ["KID-0007", "LIV-0042"]}, "links.uses_sample": {"ne": "x"}}
    spec: dict[str, Any] = leaf
    for _ in range(depth):
        spec = {"not": spec} if op == "not" else {op: [spec, leaf]}
    return spec


# --- 500s that are now 4xx ----------------------------------------------------------------------


def test_page_or_offset_past_64_bits_is_422(client):
    for body in ({"page": 2**63}, {"page": 2**62, "size": 10}, {"page": 1001, "size": 10}):
        response = search(client, **body)
        assert response.status_code == 422, (body, response.text)
        assert response.json()["error"] == "ValidationError"
    assert "search results stop at 10000" in search(client, page=101, size=100).text
    # The last page inside the window is still served.
    assert search(client, page=100, size=100).status_code == 200


def test_filter_numbers_past_64_bits_are_400(client):
    for spec in (
        {"read_count": {"gte": 2**63}},
        {"read_count": 2**63},
        {"read_count": {"in": [1, 2**64]}},
        {"read_count": {"lt": -(2**63) - 1}},
    ):
        response = search(client, filters=spec)
        assert response.status_code == 400, (spec, response.text)
        assert "outside the 64-bit integer range" in response.json()["detail"]
        assert "write it as a float" in response.json()["detail"]
    # JSON has no NaN, but Python's parser reads it: refused too.
    response = raw(client, "/v1/search", '{"filters": {"read_count": {"gte": NaN}}}')
    assert response.status_code == 400 and "must be finite" in response.json()["detail"]
    # The same bound as a float, and the largest integer, are ordinary filters.
    assert search(client, filters={"read_count": {"gte": 1e19}}).status_code == 200
    assert search(client, filters={"read_count": {"lte": 2**63 - 1}}).status_code == 200
    # A message id is a SQLite row id too.
    feedback = {"conversation_id": "c", "message_id": 2**63, "rating": "up"}
    assert client.post("/v1/feedback", json=feedback, headers=ALICE).status_code == 422


def test_deeply_nested_filters_are_400(client):
    for op, depth in (("not", 41), ("and", 21), ("or", 21)):
        response = search(client, query="kidney", filters=nested(op, depth))
        assert response.status_code == 400, (op, response.text)
        assert "more than 10 levels deep" in response.json()["detail"]
    # At the limit, the worst leaves still run on the real store, with and without text.
    for op in ("not", "and", "or"):
        for query in ("", "kidney"):
            spec = nested(op, filters.MAX_DEPTH)
            response = search(client, query=query, filters=spec, facets=["instrument"])
            assert response.status_code == 200, (op, query, response.text)


def test_long_in_lists_are_400(client):
    for field in ("kind", "id", "samples"):
        spec = {field: {"in": [f"v{i}" for i in range(990)]}}
        response = search(client, query="kidney", filters=spec)
        assert response.status_code == 400, (field, response.text)
        assert f"more than {filters.MAX_VALUES} values" in response.json()["detail"]
        most = {field: {"in": [f"v{i}" for i in range(filters.MAX_VALUES)]}}
        assert search(client, query="kidney", filters=most).status_code == 200
    # The budget is shared: many small lists add up.
    many = {"and": [{"kind": {"in": [f"v{i}" for i in range(100)]}} for _ in range(3)]}
    assert search(client, filters=many).status_code == 400


def test_lone_surrogates_are_422(client):
    bodies = {
        "/v1/search": [
            '{"query": "\\ud800"}',
            '{"filters": {"kind": "\\ud800"}}',
            '{"filters": {"\\udc00x": "a"}}',
            '{"filters": {"or": [{"kind": {"in": ["a", "\\ud800"]}}]}}',
            '{"facets": ["\\ud800"]}',
        ],
        "/v1/chat": [
            '{"message": "\\ud800"}',
            '{"message": "hello", "conversation_id": "\\ud800"}',
            '{"message": "hello", "conversation_id": "\\ud800", "stream": true}',
        ],
        "/v1/feedback": ['{"conversation_id": "\\ud800", "message_id": 1, "rating": "up"}'],
    }
    for path, texts in bodies.items():
        for text in texts:
            response = raw(client, path, text)
            assert response.status_code == 422, (path, text, response.text)
            assert response.json()["error"] == "ValidationError"
    response = raw(client, "/v1/conversations/abc", '{"title": "\\ud800"}', method="PATCH")
    assert response.status_code == 422
    # The CLI's filters (argv can carry surrogates) are checked by the grammar itself.
    with pytest.raises(InvalidFilterError, match="unpaired surrogate"):
        filters.parse({"kind": "\ud800"})
    # A path parameter cannot be spelled with a surrogate over HTTP; straight to the app, it is
    # refused the same way.
    assert asgi_get(client.app, "/v1/conversations/\ud800", ALICE) == 422


def asgi_get(app, path: str, headers: dict[str, str]) -> int:
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode("utf-8", "surrogatepass"),
        "root_path": "",
        "query_string": b"",
        "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()],
        "client": ("127.0.0.1", 1),
        "server": ("testserver", 80),
    }
    sent: list[dict] = []

    async def receive() -> dict:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict) -> None:
        sent.append(message)

    anyio.run(app, scope, receive, send)
    return sent[0]["status"]


def test_january_0000_is_no_date(client, indexed_cli):
    assert date_range("which runs in january 0000", date(2025, 6, 1)) == (None, None)
    assert date_range("runs in december 9999", date(2025, 6, 1)) == ("9999-12-01", None)
    assert date_range("runs in march 2024", date(2025, 6, 1)) == ("2024-03-01", "2024-04-01")
    for path, body in (
        ("/v1/chat", {"message": "which runs in january 0000"}),
        ("/v1/chat", {"message": "which runs in december 9999"}),
        ("/v1/search", {"query": "which runs in january 0000"}),
    ):
        response = client.post(path, json=body, headers=ALICE)
        assert response.status_code == 200, (body, response.text)
    result = CliRunner().invoke(cli, ["ask", "which runs in january 0000", "--json"])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["query"] == "which runs in january 0000"


@pytest.fixture
def indexed_cli(tmp_path, monkeypatch, settings):
    export = tmp_path / "notebook.jsonl"
    records = [
        {"id": "RUN-1", "type": "run", "title": "NovaSeq run 1", "date": "2024-01-15"},
        {"id": "LIV-0042", "type": "sample", "title": "Mouse liver sample"},
    ]
    export.write_text("".join(json.dumps(r) + "\n" for r in records))
    monkeypatch.setenv("LABSEARCH_HOME", str(settings.home))
    monkeypatch.setenv("LABSEARCH_CACHE_DIR", str(settings.cache_dir))
    get_settings.cache_clear()
    result = CliRunner().invoke(cli, ["index", f"eln+file://{export}"])
    assert result.exit_code == 0, result.output
    get_settings.cache_clear()


def test_empty_jwt_secret_refuses_to_start(tmp_path, monkeypatch, settings):
    for secret in ("", "   "):
        with pytest.raises(ConfigError, match="LABSEARCH_JWT_SECRET is set but empty"):
            api_settings(tmp_path, jwt_secret=secret)
    monkeypatch.setenv("LABSEARCH_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("LABSEARCH_JWT_SECRET", "")
    get_settings.cache_clear()
    with pytest.raises(ConfigError, match="set it to a long random secret"):
        create_app()
    get_settings.cache_clear()
    result = CliRunner().invoke(cli, ["serve", "--port", "1"])
    assert result.exit_code == 2, result.output
    assert "LABSEARCH_JWT_SECRET is set but empty" in result.output
    assert not isinstance(result.exception, ConfigError)  # a message, not a traceback
    # Unset, HS256 tokens get a clear 401 (as before); set, they work.
    monkeypatch.delenv("LABSEARCH_JWT_SECRET")
    get_settings.cache_clear()
    assert Settings().jwt_secret is None


# --- the smaller findings -----------------------------------------------------------------------


class FailingService:
    """The real service, except that answering breaks the way a bug would (no LabsearchError)."""

    def __init__(self, service: Any) -> None:
        self._service = service

    def __getattr__(self, name: str) -> Any:
        return getattr(self._service, name)

    def answer(self, *args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("the retriever broke")


@pytest.fixture
def failing(tmp_path, setup):
    settings = api_settings(tmp_path)
    with TestClient(
        create_app(settings, FailingService(setup[2])), raise_server_exceptions=False
    ) as client:
        yield client


def test_failed_streamed_chat_ends_with_an_error_event(failing):
    body = {"message": "which runs used sample KID-0007?", "stream": True}
    with failing.stream("POST", "/v1/chat", json=body, headers=BOB) as response:
        assert response.status_code == 200
        events = sse_events(response.read().decode())
    assert events, "the stream closed without any event"
    name, data = events[-1]
    assert name == "error"
    assert data == {
        "error": "InternalError",
        "detail": "unexpected server error; see the server log",
    }


def test_failed_chat_leaves_no_empty_conversation(failing):
    question = {"message": "which runs used sample KID-0007?"}
    response = failing.post("/v1/chat", json=question, headers=BOB)
    assert response.status_code == 500
    with failing.stream("POST", "/v1/chat", json={**question, "stream": True}, headers=BOB) as r:
        r.read()
    assert failing.get("/v1/conversations", headers=BOB).json() == {"conversations": []}


def test_429_has_retry_after(tmp_path, setup):
    settings = api_settings(tmp_path, rate_limit_per_minute=2)
    with TestClient(create_app(settings, setup[2])) as client:
        for _ in range(2):
            assert client.get("/v1/conversations", headers=ALICE).status_code == 200
        response = client.get("/v1/conversations", headers=ALICE)
    assert response.status_code == 429
    assert 1 <= int(response.headers["Retry-After"]) <= 60
    assert "retry in" in response.json()["detail"]


def test_failed_sign_ins_are_rate_limited(tmp_path, setup):
    settings = api_settings(tmp_path, auth_failures_per_minute=3)
    with TestClient(create_app(settings, setup[2])) as client:
        # Successful sign-ins are not counted, however many.
        for _ in range(10):
            assert client.get("/v1/conversations", headers=ALICE).status_code == 200
        token = jwt.encode({"sub": "alice", "exp": int(time.time()) + 60}, "x" * 40, "HS256")
        wrong = [{"X-API-Key": "guess-1"}, {"Authorization": f"Bearer {token}"}, {"X-API-Key": "2"}]
        for headers in wrong:
            assert client.get("/v1/conversations", headers=headers).status_code == 401
        for headers in ({"X-API-Key": "guess-4"}, ALICE):  # then everything waits, the right
            response = client.get("/v1/conversations", headers=headers)  # key too
            assert response.status_code == 429, response.text
            assert 1 <= int(response.headers["Retry-After"]) <= 60
            assert "failed sign-ins" in response.json()["detail"]
        ingest = client.post("/v1/ingest", json={"source": "x"}, headers={"X-API-Key": "g"})
        assert ingest.status_code == 429
    # A request without any credential is no guess: it is not counted.
    with TestClient(create_app(api_settings(tmp_path, auth_failures_per_minute=1), setup[2])) as c:
        for _ in range(3):
            assert c.get("/v1/conversations").status_code == 401
        assert c.get("/v1/conversations", headers=ALICE).status_code == 200


def test_oversized_chunked_body_is_413(client):
    def chunks():
        yield b'{"query": "'
        for _ in range(20):
            yield b"x" * 8192
        yield b'"}'

    response = client.post("/v1/search", content=chunks(), headers={**ALICE, **JSON})
    assert response.status_code == 413, response.text
    assert response.json()["error"] == "RequestTooLarge"
    # By Content-Length, as before.
    big = json.dumps({"query": "x" * 70_000})
    assert client.post("/v1/search", content=big, headers={**ALICE, **JSON}).status_code == 413


def test_and_of_null_is_400(client):
    for spec in ({"and": [None]}, {"or": [{}]}, {"and": [{"kind": "file"}, 1]}, {"not": None}):
        response = search(client, filters=spec)
        assert response.status_code == 400, (spec, response.text)
        assert response.json()["error"] == "InvalidFilterError"
    assert "got null" in search(client, filters={"and": [None]}).json()["detail"]


def test_max_body_bytes_is_a_setting(tmp_path, setup):
    assert Settings.model_fields["max_body_bytes"].default == 65536
    settings = api_settings(tmp_path, max_body_bytes=2000)
    with TestClient(create_app(settings, setup[2])) as client:
        small = json.dumps({"query": "x" * 1000})
        large = json.dumps({"query": "x" * 3000})
        assert client.post("/v1/search", content=small, headers={**ALICE, **JSON}).is_success
        response = client.post("/v1/search", content=large, headers={**ALICE, **JSON})
        assert response.status_code == 413 and "exceeds 2000 bytes" in response.text
