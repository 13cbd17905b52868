"""The adversarial permission suite: bob (lab B) attacks lab A's data through every entry point
(every /v1 route, the Python client, MCP, the CLI with --as-user) on both backends.

Each test counts its probes and leaks per entry point and backend (tests/permission_probes.py)
into artifacts/reliability/permission_probes.json, the source of the permission rows of
docs/reliability.md. A test fails on the first run with any leak and lists them all.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote

import httpx
import pytest
from api_fixtures import (
    A_FILE,
    B_SAMPLE,
    api_settings,
    build_service,
    corpus,
    live_server,
    sse_events,
)
from fastapi.testclient import TestClient
from opensearch_fixtures import delete_indices, opensearch_node  # noqa: F401 - a fixture
from permission_probes import (
    ENCODINGS,
    FACET_FIELDS,
    FOLLOW_UPS,
    OPEN_QUESTIONS,
    QUERIES,
    QUESTION_TWINS,
    Tally,
    expected_visible,
    filter_probes,
    lab_a_ids,
    local_assets,
    missing_twin,
    secrets,
)

from chat_api.app import create_app
from labsearch import filters as grammar
from labsearch.schema import Asset

ALICE = {"X-API-Key": "demo-alice"}
BOB = {"X-API-Key": "demo-bob"}
USERS = {
    "alice": {"groups": ["lab-a"], "api_keys": ["demo-alice"], "scopes": ["ingest"]},
    "bob": {"groups": ["lab-b"], "api_keys": ["demo-bob"], "scopes": ["ingest"]},
}
ASSET_ROUTES = [
    ("GET", "/v1/assets/{}"),
    ("POST", "/v1/assets/{}/presign"),
    ("GET", "/v1/download/{}"),
    ("GET", "/v1/preview/{}"),
    ("GET", "/v1/manifest/{}"),
    ("GET", "/v1/record/{}"),
]
SHARED_ROUTE_ENCODINGS = {"all", "keep-slash-colon", "double", "nul-suffix"}
BACKENDS = ["embedded", pytest.param("opensearch", marks=pytest.mark.integration)]


@dataclass
class World:
    backend: str
    settings: Any
    app: Any
    corpus: list[Asset]
    local_ids: dict[str, str]
    root: Path

    @property
    def secrets(self) -> list[str]:
        return secrets(self.local_ids)

    @property
    def forbidden_ids(self) -> list[str]:
        return lab_a_ids(self.local_ids)

    @property
    def visible_ids(self) -> set[str]:
        return {a.id for a in expected_visible(self.corpus, None)}

    def tally(self, entry: str) -> Tally:
        return Tally(entry, self.backend, self.secrets)


@pytest.fixture(scope="module", params=BACKENDS)
def world(request, tmp_path_factory, embedder):
    backend = request.param
    root = tmp_path_factory.mktemp(f"attack-{backend}")
    local, local_ids = local_assets(root / "files")
    overrides: dict[str, Any] = {}
    if backend == "opensearch":
        url = request.getfixturevalue("opensearch_node")
        overrides = {
            "backend": "opensearch",
            "model": embedder.model_name,
            "opensearch_url": url,
            "opensearch_index": f"labsearch-attack-{uuid.uuid4().hex[:10]}",
        }
    settings = api_settings(root / "home", users=USERS, **overrides)
    assets = corpus() + local
    service = build_service(settings, embedder, assets)
    yield World(backend, settings, create_app(settings, service), assets, local_ids, root)
    service.store.close()
    if backend == "opensearch":
        delete_indices(overrides["opensearch_url"], overrides["opensearch_index"])


@pytest.fixture(scope="module")
def http(world):
    with TestClient(world.app) as client:
        yield client


def body_of(response: Any) -> Any:
    try:
        return {"status": response.status_code, "body": response.json()}
    except ValueError:
        return {"status": response.status_code, "body": response.text}


# --- every /v1 route ------------------------------------------------------------------------------


def test_positive_controls_the_owner_gets_what_bob_must_not(world, http):
    """Without this, a route that served nobody would pass every probe below."""
    ids = world.local_ids
    for method, path, asset_id in [
        ("GET", "/v1/download/{}", ids["a_file"]),
        ("GET", "/v1/preview/{}", ids["a_file"]),
        ("GET", "/v1/manifest/{}", ids["a_package"]),
        ("GET", "/v1/record/{}", ids["a_record"]),
        ("GET", "/v1/assets/{}", A_FILE),
    ]:
        response = http.request(method, path.format(quote(asset_id, safe="")), headers=ALICE)
        assert response.status_code == 200, (path, response.text)
    for asset_id in world.forbidden_ids:
        assert http.get(f"/v1/assets/{quote(asset_id, safe='')}", headers=ALICE).is_success


def test_asset_routes_answer_forbidden_ids_exactly_as_missing_ones(world, http):
    tally = world.tally("http")
    for asset_id in world.forbidden_ids:
        twin = missing_twin(asset_id)
        for encoding, encode in ENCODINGS.items():
            # Every encoding on the asset route; the routes that share its id handling get
            # the plain and the tricky ones (the suite's time budget, docs/reliability.md).
            routes = ASSET_ROUTES if encoding in SHARED_ROUTE_ENCODINGS else ASSET_ROUTES[:1]
            for method, route in routes:
                kind = f"{route.split('/')[2]} id ({encoding})"
                path, twin_path = route.format(encode(asset_id)), route.format(encode(twin))
                forbidden = body_of(http.request(method, path, headers=BOB))
                missing = body_of(http.request(method, twin_path, headers=BOB))
                names = (unquote(encode(asset_id)), unquote(encode(twin)), asset_id, twin)
                tally.check_same(kind, forbidden, missing, *names)
                tally.check(kind, forbidden["status"] < 500, f"{method} {path}: {forbidden}")
                tally.check_secrets(kind, forbidden, asked=" ".join(names))
    tally.assert_clean()


def test_filters_on_every_field_return_exactly_what_bob_may_see(world, http):
    tally = world.tally("http")
    for spec in filter_probes(world.local_ids):
        expected = expected_visible(world.corpus, spec)
        response = http.post(
            "/v1/search",
            json={"query": "", "filters": spec, "size": 100, "facets": FACET_FIELDS},
            headers=BOB,
        )
        kind = "filter " + next(iter(spec))
        tally.check(kind, response.status_code == 200, f"{spec}: {response.text}")
        body = response.json()
        got = sorted(hit["id"] for hit in body["hits"])
        want = sorted(a.id for a in expected)
        tally.check(kind, got == want, f"{spec}: got {got}, want {want}")
        tally.check(kind, body["total"] == len(want), f"{spec}: total {body['total']} != {want}")
        check_facets(tally, body["facets"], expected, spec)
        tally.check_secrets(kind, body, asked=json.dumps(spec))
    tally.assert_clean()


def check_facets(tally: Tally, facets: dict, expected: list[Asset], context: Any) -> None:
    """Every facet value is a value of an asset bob may see that the filter accepts, and no
    count exceeds the number of those assets."""
    for field, counts in facets.items():
        normalized = grammar.normalize_field(field)
        allowed: set[str] = set()
        for asset in expected:
            for value in grammar._lookup(asset.model_dump(mode="json"), normalized):
                values = value if isinstance(value, list) else [value]
                allowed |= {str(v) for v in values}
                allowed |= {json.dumps(v) for v in values}
        extra = {str(v) for v in counts} - allowed
        tally.check(
            f"facet {field}",
            not extra and all(n <= len(expected) for n in counts.values()),
            f"{context}: facet {field} has {extra or counts}",
        )


def test_free_text_in_every_mode_finds_only_bobs_assets(world, http):
    tally = world.tally("http")
    visible = world.visible_ids
    for query in QUERIES:
        for mode in ("hybrid", "bm25", "dense"):
            facets = FACET_FIELDS[:8] if mode == "hybrid" else []  # counts ignore the mode
            response = http.post(
                "/v1/search",
                json={"query": query, "mode": mode, "size": 100, "facets": facets},
                headers=BOB,
            )
            kind = f"text {mode}"
            tally.check(kind, response.status_code == 200, f"{query!r}: {response.text}")
            body = response.json()
            got = {hit["id"] for hit in body["hits"]}
            tally.check(kind, got <= visible, f"{query!r}: {got - visible}")
            tally.check_secrets(kind, body, asked=query)
    tally.assert_clean()


def chat(http: TestClient, message: str, conversation_id: str | None = None) -> dict:
    body: dict[str, Any] = {"message": message}
    if conversation_id:
        body["conversation_id"] = conversation_id
    return http.post("/v1/chat", json=body, headers=BOB).json()


def streamed(http: TestClient, message: str) -> list[tuple[str, Any]]:
    with http.stream(
        "POST", "/v1/chat", json={"message": message, "stream": True}, headers=BOB
    ) as response:
        return sse_events(response.read().decode())


def answer_shape(answer: dict) -> dict:
    """What a list/count answer tells: text, count, completeness, members, citations. An answer
    without a structured result is a ranking of the question's words, and two questions with
    different words rank differently whoever owns what: only the absence of a result compares
    (its citations are checked against what bob may see instead)."""
    result = answer.get("result")
    if result is None:
        return {"result": None}
    return {
        "text": answer["text"],
        "count": result.get("count"),
        "complete": result.get("complete"),
        "members": [m["id"] for m in result.get("members", [])],
        "citations": [c["asset_id"] for c in answer["citations"]],
    }


def event_shape(events: list[tuple[str, Any]]) -> list[Any]:
    if events and events[-1][0] == "done" and events[-1][1]["answer"].get("result") is None:
        return [events[-1][0], answer_shape(events[-1][1]["answer"])]
    return [(name, answer_shape(d["answer"]) if name == "done" else d) for name, d in events]


def cited_ids(answer: dict) -> set[str]:
    result = answer.get("result") or {}
    return {c["asset_id"] for c in answer["citations"]} | {
        m["id"] for m in result.get("members", [])
    }


def test_list_and_count_questions_about_lab_a_look_like_questions_about_nothing(world, http):
    tally = world.tally("http")
    for question, token, twin in QUESTION_TWINS:
        forbidden = chat(http, question)["answer"]
        missing = chat(http, question.replace(token, twin))["answer"]
        tally.check_same("chat twin", answer_shape(forbidden), answer_shape(missing), token, twin)
        tally.check_secrets("chat twin", forbidden, asked=question)
        visible = world.visible_ids
        tally.check("chat twin", cited_ids(forbidden) <= visible, f"{question}: {forbidden}")
        events = streamed(http, question)
        twin_events = streamed(http, question.replace(token, twin))
        shape, twin_shape = event_shape(events), event_shape(twin_events)
        tally.check_same("chat stream twin", shape, twin_shape, token, twin)
        tally.check_secrets("chat stream twin", [d for _, d in events], asked=question)
    tally.assert_clean()


def test_open_questions_follow_ups_and_planted_instructions(world, http):
    tally = world.tally("http")
    visible = world.visible_ids
    for question in OPEN_QUESTIONS:
        answer = chat(http, question)["answer"]
        tally.check_secrets("chat open", answer, asked=question)
        tally.check("chat open", cited_ids(answer) <= visible, f"{question}: {cited_ids(answer)}")
        events = streamed(http, question)
        tally.check("chat stream", events[-1][0] == "done", f"{question}: {events[-1]}")
        tally.check_secrets("chat stream", [d for _, d in events], asked=question)
    first = chat(http, "which runs used sample KID-0007?")
    asked = ""  # bob's own words return in later structured queries: echoes, not leaks
    for follow in FOLLOW_UPS:
        asked += " " + follow
        answer = chat(http, follow, first["conversation_id"])["answer"]
        tally.check_secrets("follow-up", answer, asked=asked)
        tally.check("follow-up", cited_ids(answer) <= visible, f"{follow}: {cited_ids(answer)}")
    tally.assert_clean()


def test_conversation_and_feedback_ids_of_alice_are_as_missing(world, http):
    tally = world.tally("http")
    alice = http.post("/v1/chat", json={"message": "LIV-0042"}, headers=ALICE).json()
    theirs, message = alice["conversation_id"], alice["message_id"]
    mine = chat(http, "KID-0007")
    twin = uuid.uuid4().hex
    for conversation in (theirs, theirs.upper(), quote(theirs + "/", safe="")):
        probes = {
            "conversation read": ("GET", "/v1/conversations/{}", None),
            "conversation rename": ("PATCH", "/v1/conversations/{}", {"title": "mine now"}),
            "conversation delete": ("DELETE", "/v1/conversations/{}", None),
        }
        for kind, (method, path, body) in probes.items():
            forbidden = body_of(
                http.request(method, path.format(conversation), json=body, headers=BOB)
            )
            missing = body_of(http.request(method, path.format(twin), json=body, headers=BOB))
            names = (theirs, unquote(conversation), unquote(conversation).rstrip("/"), twin)
            tally.check_same(kind, forbidden, missing, *names)
    for kind, body, twin_body in [
        (
            "feedback on alice's answer",
            {"conversation_id": theirs, "message_id": message, "rating": "down"},
            {"conversation_id": twin, "message_id": message, "rating": "down"},
        ),
        (
            "feedback, her message id in my conversation",
            {"conversation_id": mine["conversation_id"], "message_id": message, "rating": "up"},
            {"conversation_id": mine["conversation_id"], "message_id": 10**6, "rating": "up"},
        ),
    ]:
        forbidden = body_of(http.post("/v1/feedback", json=body, headers=BOB))
        missing = body_of(http.post("/v1/feedback", json=twin_body, headers=BOB))
        tally.check_same(kind, forbidden, missing, theirs, twin, str(message), str(10**6))
    for stream in (False, True):
        request = {"message": "and for LIV-0042?", "conversation_id": theirs, "stream": stream}
        forbidden = body_of(http.post("/v1/chat", json=request, headers=BOB))
        missing = body_of(
            http.post("/v1/chat", json={**request, "conversation_id": twin}, headers=BOB)
        )
        tally.check_same("chat in alice's conversation", forbidden, missing, theirs, twin)
    listed = http.get("/v1/conversations", headers=BOB).json()
    tally.check("conversation list", theirs not in json.dumps(listed), "alice's id listed")
    kept = http.get(f"/v1/conversations/{theirs}", headers=ALICE)
    tally.check(
        "conversation intact",
        kept.status_code == 200 and kept.json()["title"] != "mine now",
        kept.text,
    )
    tally.assert_clean()


def test_ingest_cannot_reach_or_reveal_another_labs_records(world, http):
    tally = world.tally("http")
    source = f"shared-{world.backend}"
    planted = {"id": "REC-A-1", "type": "sample", "title": "LIV-0042 hepatocyte aliquot"}
    written = http.post(
        "/v1/ingest",
        json={"source": source, "upsert": [{**planted, "access_groups": ["lab-a"]}]},
        headers=ALICE,
    )
    assert written.status_code == 200 and written.json()["counts"] == {"created": 1}
    forbidden = http.post("/v1/ingest", json={"source": source, "delete": ["REC-A-1"]}, headers=BOB)
    missing = http.post("/v1/ingest", json={"source": source, "delete": ["REC-A-9"]}, headers=BOB)
    tally.check_same("ingest delete", body_of(forbidden), body_of(missing), "REC-A-1", "REC-A-9")
    for groups in (["lab-b"], ["lab-a"], ["public"], ["lab-a", "lab-b"]):
        pushed = http.post(
            "/v1/ingest",
            json={"source": source, "upsert": [{**planted, "access_groups": groups}]},
            headers=BOB,
        )
        tally.check("ingest overwrite", pushed.status_code == 200, pushed.text)
        statuses = {r["status"] for r in pushed.json()["results"]}
        tally.check("ingest overwrite", statuses == {"forbidden"}, f"{groups}: {pushed.text}")
        tally.check_secrets("ingest overwrite", pushed.json(), asked=json.dumps(groups))
        named = "lab-a" in json.dumps(pushed.json()) and "lab-a" not in groups
        tally.check(
            "ingest overwrite", not named, f"the stored record's group named: {pushed.text}"
        )
    stored = http.get(
        "/v1/assets/" + quote(f"ingest:{source}:REC-A-1", safe=""), headers=ALICE
    ).json()
    tally.check("ingest intact", stored["asset"]["groups"] == ["lab-a"], json.dumps(stored))
    tally.assert_clean()


# --- the Python client ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def served(world):
    with live_server(world.app) as url:
        yield url


def outcome(call: Any, *args: Any) -> Any:
    """A call's result as JSON, or its error's class and message."""
    try:
        value = call(*args)
    except Exception as exc:  # noqa: BLE001 - the error itself is what is compared
        return {"error": type(exc).__name__, "message": str(exc)}
    if isinstance(value, tuple):
        return {"file": value[0], "bytes": len(value[1])}
    if hasattr(value, "model_dump"):
        return value.model_dump(mode="json")
    return value


def test_python_client(world, served):
    from labsearch.client import ApiClient

    tally = world.tally("client")
    visible = world.visible_ids
    with ApiClient(served, api_key="demo-bob") as bob:
        methods = {
            "asset": bob.asset,
            "links": bob.links,
            "download": bob.download,
            "preview": bob.preview,
            "record": bob.record,
            "presign": bob.presign,
        }
        for asset_id in world.forbidden_ids:
            twin = missing_twin(asset_id)
            for kind, method in methods.items():
                forbidden = outcome(method, asset_id)
                missing = outcome(method, twin)
                tally.check_same(f"client {kind}", forbidden, missing, asset_id, twin)
        for spec in filter_probes(world.local_ids)[::3]:
            want = sorted(a.id for a in expected_visible(world.corpus, spec))
            response = bob.search("", filters=spec, size=100, facets=FACET_FIELDS)
            got = sorted(hit.id for hit in response.hits)
            tally.check("client search", got == want, f"{spec}: {got} != {want}")
            tally.check_secrets("client search", response.model_dump(), asked=json.dumps(spec))
        for question, token, twin in QUESTION_TWINS:
            forbidden = bob.chat(question).answer.model_dump(mode="json")
            missing = bob.chat(question.replace(token, twin)).answer.model_dump(mode="json")
            tally.check_same(
                "client chat", answer_shape(forbidden), answer_shape(missing), token, twin
            )
            events = list(bob.chat_stream(question))
            tally.check_secrets("client stream", [e.data for e in events], asked=question)
            tally.check(
                "client stream",
                {e.data.get("asset_id") for e in events if e.event == "citation"} <= visible,
                question,
            )
    with ApiClient(served, api_key="demo-alice") as alice:
        theirs = alice.chat("LIV-0042").conversation_id
    with ApiClient(served, api_key="demo-bob") as bob:
        twin = uuid.uuid4().hex
        for kind, call in {
            "conversation": lambda c: bob.conversation(c),
            "rename": lambda c: bob.rename(c, "mine"),
            "feedback": lambda c: bob.feedback(c, 2, "down"),
            "delete": lambda c: bob.delete(c),
        }.items():
            tally.check_same(
                f"client {kind}",
                outcome(call, theirs),
                outcome(call, twin),
                theirs,
                twin,
            )
    tally.assert_clean()


# --- MCP over streamable HTTP ---------------------------------------------------------------------


def test_mcp(world, served):
    from mcp import ClientSession
    from mcp.client.streamable_http import streamable_http_client

    tally = world.tally("mcp")
    visible = world.visible_ids

    async def call(session: ClientSession, tool: str, arguments: dict) -> Any:
        result = await session.call_tool(tool, arguments)
        text = result.content[0].text if result.content else ""
        return {"error": result.isError, "content": json.loads(text) if text else None}

    async def read(session: ClientSession, uri: str) -> Any:
        try:
            contents = await session.read_resource(uri)
        except Exception as exc:  # noqa: BLE001 - the error itself is what is compared
            return {"error": type(exc).__name__, "message": str(exc)}
        return contents.contents[0].text

    async def attack(session: ClientSession) -> None:
        for asset_id in world.forbidden_ids:
            twin = missing_twin(asset_id)
            for tool, extra in (("get_asset", {}), ("get_links", {"presign": True})):
                forbidden = await call(session, tool, {"asset_id": asset_id, **extra})
                missing = await call(session, tool, {"asset_id": twin, **extra})
                tally.check_same(f"mcp {tool}", forbidden, missing, asset_id, twin)
            for encode in (ENCODINGS["all"], ENCODINGS["double"]):
                forbidden = await read(session, f"labsearch://asset/{encode(asset_id)}")
                missing = await read(session, f"labsearch://asset/{encode(twin)}")
                names = (unquote(encode(asset_id)), unquote(encode(twin)), asset_id, twin)
                tally.check_same("mcp asset resource", forbidden, missing, *names)
        for spec in filter_probes(world.local_ids)[::2]:
            want = sorted(a.id for a in expected_visible(world.corpus, spec))
            out = await call(session, "search", {"query": "", "filters": spec, "size": 100})
            got = sorted(hit["id"] for hit in out["content"]["hits"])
            tally.check("mcp search", got == want, f"{spec}: {got} != {want}")
            tally.check_secrets("mcp search", out, asked=json.dumps(spec))
        for field in FACET_FIELDS:
            out = await call(session, "facet_values", {"field": field})
            if not out["error"]:
                check_facets(
                    tally,
                    {field: out["content"]["values"]},
                    expected_visible(world.corpus, None),
                    "facet_values",
                )
            tally.check_secrets("mcp facet_values", out)
        for question, token, twin in QUESTION_TWINS:
            forbidden = await call(session, "ask", {"question": question})
            missing = await call(session, "ask", {"question": question.replace(token, twin)})
            tally.check_same(
                "mcp ask",
                answer_shape(forbidden["content"]),
                answer_shape(missing["content"]),
                token,
                twin,
            )
            tally.check_secrets("mcp ask", forbidden, asked=question)
            tally.check("mcp ask", cited_ids(forbidden["content"]) <= visible, question)
        sources = await call(session, "list_sources", {})
        tally.check_secrets("mcp list_sources", sources)

    async def main() -> None:
        async with (
            httpx.AsyncClient(headers=BOB, timeout=httpx.Timeout(60.0, read=300.0)) as client,
            streamable_http_client(f"{served}/mcp", http_client=client) as (read_, write, _),
            ClientSession(read_, write) as session,
        ):
            await session.initialize()
            await attack(session)

    asyncio.run(main())
    tally.assert_clean()


# --- the CLI with --as-user -----------------------------------------------------------------------


def test_cli_as_user(world, monkeypatch):
    from typer.testing import CliRunner

    from labsearch.settings import get_settings
    from shell.cli import app

    settings = world.settings
    config = world.root / "labsearch.toml"
    lines = [
        f'home = "{settings.home}"',
        f'cache_dir = "{settings.cache_dir}"',
        f'backend = "{settings.backend}"',
        f'model = "{settings.model}"',
    ]
    if settings.backend == "opensearch":
        lines += [
            f'opensearch_url = "{settings.opensearch_url}"',
            f'opensearch_index = "{settings.opensearch_index}"',
        ]
    lines += [
        '[users.alice]\ngroups = ["lab-a"]\napi_keys = ["demo-alice"]',
        '[users.bob]\ngroups = ["lab-b"]\napi_keys = ["demo-bob"]',
    ]
    config.write_text("\n".join(lines) + "\n")
    monkeypatch.setenv("LABSEARCH_CONFIG", str(config))
    runner = CliRunner()
    tally = world.tally("cli")
    visible = world.visible_ids

    def run(*args: str) -> tuple[int, str]:
        get_settings.cache_clear()
        result = runner.invoke(app, [*args, "--as-user", "bob"])
        return result.exit_code, result.output

    def squashed(code_output: tuple[int, str]) -> tuple[int, str]:
        # Rich wraps errors at the terminal's width, so where breaks fall depends on the
        # length of what is printed: compare without whitespace.
        return code_output[0], "".join(code_output[1].split())

    for expressions, spec in [
        (["lab=lab-a"], {"metadata.lab": "lab-a"}),
        (["identifiers=LIV-0042"], {"identifiers": "LIV-0042"}),
        (["experiment_id?"], {"metadata.experiment_id": {"exists": True}}),
        (["provenance.registry=s3://lab-a-data"], {"provenance.registry": "s3://lab-a-data"}),
        (["groups=lab-b"], {"metadata.groups": "lab-b"}),
        (["kind=package"], {"kind": "package"}),
    ]:
        args = ["search", "", "--json", "-k", "100"]
        for expression in expressions:
            args += ["--filter", expression]
        for field in ("metadata.lab", "identifiers", "source"):
            args += ["--facet", field]
        code, output = run(*args)
        tally.check("cli search", code == 0, output)
        want = sorted(a.id for a in expected_visible(world.corpus, spec))
        got = sorted(hit["id"] for hit in json.loads(output)["hits"]) if code == 0 else None
        tally.check("cli search", got == want, f"{expressions}: {got} != {want}")
        tally.check_secrets("cli search", output, asked=" ".join(expressions))
    for query in ("LIV-0042", "hepatocyte fibrosis", "SYSTEM NOTICE public notebook"):
        code, output = run("search", query, "--json", "-k", "100")
        got = {hit["id"] for hit in json.loads(output)["hits"]}
        tally.check("cli search text", code == 0 and got <= visible, f"{query}: {got}")
        tally.check_secrets("cli search text", output, asked=query)
    for question, token, twin in QUESTION_TWINS[:4]:
        _, forbidden = run("ask", question, "--json")
        _, missing = run("ask", question.replace(token, twin), "--json")
        tally.check_same(
            "cli ask",
            answer_shape(json.loads(forbidden)),
            answer_shape(json.loads(missing)),
            token,
            twin,
        )
        tally.check_secrets("cli ask", forbidden, asked=question)
    downloaded = world.root / "R1.fastq.gz"
    downloaded.write_bytes(b"@r1\nACGT\n+\nIIII\n")
    for asset_id in (A_FILE, world.local_ids["a_file"]):
        twin = missing_twin(asset_id)
        forbidden = squashed(run("verify", asset_id, str(downloaded)))
        missing = squashed(run("verify", twin, str(downloaded)))
        tally.check_same("cli verify", forbidden, missing, asset_id, twin)
    tally.check("cli own sample", B_SAMPLE in run("search", "KID-0007", "--json")[1], "control")
    tally.assert_clean()
