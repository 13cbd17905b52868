"""The MCP server driven by the SDK's own client: over streamable HTTP against the real app on a
real port, and over stdio as a real `labsearch mcp` subprocess.

Tools are listed with their schemas and every one is called; the permission suite runs through
MCP on both transports (bob gets nothing of lab A through any tool or resource); unauthenticated
HTTP is refused and stdio without `--as-user`/`--operator` refuses to start.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import quote

import httpx
import jwt
import pytest
from api_fixtures import (
    A_FILE,
    A_RUN_NEW,
    B_FILE,
    B_RUN_NEW,
    JWT_SECRET,
    LAB_A_IDS,
    LAB_A_SECRETS,
    api_settings,
    build_service,
    indexed_home,
    live_server,
    subprocess_env,
)
from fastapi.testclient import TestClient
from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.exceptions import McpError

from chat_api.app import create_app
from labsearch.models import (
    Answer,
    AssetResponse,
    FacetValuesResponse,
    LinksResponse,
    SearchResponse,
    SourcesResponse,
)

REPO = Path(__file__).resolve().parent.parent
ALICE = {"X-API-Key": "demo-alice"}
BOB = {"X-API-Key": "demo-bob"}
TOOLS = {
    "search": SearchResponse,
    "ask": Answer,
    "get_asset": AssetResponse,
    "get_links": LinksResponse,
    "list_sources": SourcesResponse,
    "facet_values": FacetValuesResponse,
}
T = TypeVar("T")
Work = Callable[[ClientSession], Awaitable[T]]


# --- servers --------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def api(tmp_path_factory, embedder):
    """The real app over a real index, served by uvicorn; yields (base URL, settings)."""
    settings = api_settings(tmp_path_factory.mktemp("mcp-home"))
    service = build_service(settings, embedder)
    with live_server(create_app(settings, service)) as url:
        yield url, settings


@pytest.fixture(scope="module")
def stdio_env(tmp_path_factory, embedder) -> dict[str, str]:
    """An indexed home and a config file for `labsearch mcp` subprocesses."""
    config = indexed_home(tmp_path_factory.mktemp("mcp-stdio"), embedder)
    return subprocess_env(LABSEARCH_CONFIG=str(config))


def over_http(url: str, headers: dict[str, str], work: Work[T]) -> T:
    async def main() -> T:
        timeout = httpx.Timeout(60.0, read=300.0)
        async with (
            httpx.AsyncClient(headers=headers, timeout=timeout) as http,
            streamable_http_client(f"{url}/mcp", http_client=http) as (read, write, _),
            ClientSession(read, write) as session,
        ):
            await session.initialize()
            return await work(session)

    return asyncio.run(main())


def over_stdio(env: dict[str, str], args: list[str], work: Work[T]) -> T:
    parameters = StdioServerParameters(
        command=sys.executable, args=["-m", "shell.cli", "mcp", *args], env=env, cwd=str(REPO)
    )

    async def main() -> T:
        with open(os.devnull, "w") as errlog:
            async with (
                stdio_client(parameters, errlog=errlog) as (read, write),
                ClientSession(read, write) as session,
            ):
                await session.initialize()
                return await work(session)

    return asyncio.run(main())


def structured(result: Any, model: type) -> Any:
    assert not result.isError, result.content
    assert result.structuredContent is not None
    # The text content is the same object, for clients that read only text.
    assert json.loads(result.content[0].text) == result.structuredContent
    return model.model_validate(result.structuredContent)


def error_of(result: Any) -> dict[str, Any]:
    assert result.isError
    return json.loads(result.content[0].text)


def assert_no_lab_a(payload: object, asked: str = "") -> None:
    text = json.dumps(payload)
    for secret in LAB_A_SECRETS:
        if secret not in asked:
            assert secret not in text, f"lab A's {secret!r} leaked: {text[:500]}"


# --- the tools, their schemas and every call ------------------------------------------------------


async def every_tool(session: ClientSession) -> dict[str, Any]:
    """Call every tool and read every resource as alice; return what came back."""
    listed = await session.list_tools()
    out: dict[str, Any] = {"tools": {tool.name: tool for tool in listed.tools}}
    search = await session.call_tool(
        "search",
        {
            "query": "liver RNA-seq",
            "filters": {"entity": "run"},
            "facets": ["metadata.instrument"],
            "size": 5,
            "include_text": 40,
        },
    )
    out["search"] = structured(search, SearchResponse)
    ask = await session.call_tool("ask", {"question": "which runs used sample LIV-0042?"})
    out["ask"] = structured(ask, Answer)
    out["get_asset"] = structured(
        await session.call_tool("get_asset", {"asset_id": A_FILE}), AssetResponse
    )
    out["get_links"] = structured(
        await session.call_tool("get_links", {"asset_id": A_RUN_NEW, "presign": True}),
        LinksResponse,
    )
    out["file_links"] = structured(
        await session.call_tool("get_links", {"asset_id": A_FILE}), LinksResponse
    )
    out["list_sources"] = structured(await session.call_tool("list_sources", {}), SourcesResponse)
    out["facet_values"] = structured(
        await session.call_tool("facet_values", {"field": "instrument"}), FacetValuesResponse
    )
    out["missing"] = error_of(await session.call_tool("get_asset", {"asset_id": "nope:1"}))
    out["bad_filter"] = error_of(
        await session.call_tool("search", {"query": "x", "filters": {"metadata.x": {"bad": 1}}})
    )
    out["too_big"] = error_of(await session.call_tool("search", {"query": "x", "size": 1000}))
    templates = await session.list_resource_templates()
    out["templates"] = [t.uriTemplate for t in templates.resourceTemplates]
    out["resources"] = [str(r.uri) for r in (await session.list_resources()).resources]
    asset = await session.read_resource(f"labsearch://asset/{quote(A_FILE, safe='')}")
    out["asset_resource"] = AssetResponse.model_validate_json(asset.contents[0].text)
    grammar = await session.read_resource("labsearch://docs/filters")
    out["grammar"] = grammar.contents[0].text
    return out


def check_every_tool(out: dict[str, Any]) -> None:
    tools = out["tools"]
    assert set(tools) == set(TOOLS)
    for name, model in TOOLS.items():
        tool = tools[name]
        assert tool.description, name
        assert tool.inputSchema["type"] == "object"
        assert tool.outputSchema is not None, name
        assert set(tool.outputSchema["properties"]) == set(model.model_fields), name
        assert tool.annotations.readOnlyHint is True
        assert tool.annotations.destructiveHint is not True
    assert set(tools["search"].inputSchema["properties"]) >= {"query", "filters", "facets", "size"}

    search = out["search"]
    assert search.hits and all(hit.entity == "run" for hit in search.hits)
    assert {hit.id for hit in search.hits} == set(LAB_A_IDS[:2])  # alice's two runs
    assert search.hits[0].text and len(search.hits[0].text) <= 40
    assert search.facets["metadata.instrument"]

    answer = out["ask"]
    assert answer.result is not None
    assert answer.result.complete and answer.result.count == 2
    assert {m.id for m in answer.result.members} == set(LAB_A_IDS[:2])
    assert answer.result.question is not None and answer.result.question.target == "run"

    assert out["get_asset"].asset.id == A_FILE
    links = out["get_links"]
    assert links.links.quilt3_command and "quilt3 install" in links.links.quilt3_command
    assert links.links.catalog_url
    # Not in S3 with credentials here: the reason is a note, the other links still come.
    assert links.presigned is None or links.presigned.url

    sources = {s.source: s.assets for s in out["list_sources"].sources}
    assert sources["quilt+s3://lab-a-data"] == 3
    assert not any("lab-b" in s for s in sources)  # alice sees only her lab's and public
    assert out["facet_values"].field == "metadata.instrument"
    assert out["facet_values"].values == {"HiSeq 2500": 1, "NovaSeq 6000": 2}

    assert out["missing"]["error"] == "NotFoundError"
    assert out["missing"]["detail"] == "no asset 'nope:1' (or you may not see it)"
    assert out["bad_filter"]["error"] == "InvalidFilterError"
    assert out["too_big"]["error"] == "ValidationError"
    assert out["too_big"]["detail"][0]["loc"] == ["size"]

    assert out["templates"] == ["labsearch://asset/{asset_id}"]
    assert out["resources"] == ["labsearch://docs/filters"]
    assert out["asset_resource"].asset.id == A_FILE
    assert '{"metadata.instrument": {"in":' in out["grammar"]


def test_every_tool_over_http(api):
    url, _ = api
    out = over_http(url, ALICE, every_tool)
    check_every_tool(out)
    # Over HTTP the API paths among the links are URLs of this server.
    presign = out["file_links"].links.presign
    assert presign == f"{url}/v1/assets/{quote(A_FILE, safe='')}/presign"


def test_every_tool_over_stdio(stdio_env):
    out = over_stdio(stdio_env, ["--as-user", "alice"], every_tool)
    check_every_tool(out)
    # Without --api-url, links keep the API's paths.
    assert out["file_links"].links.presign == f"/v1/assets/{quote(A_FILE, safe='')}/presign"


# --- the permission suite, through MCP ------------------------------------------------------------

SEARCHES = ["LIV-0042", "RUN-A-001", "ELN-123", "mouse liver hepatocyte fibrosis", "lab-a-data"]
QUESTIONS = [
    "which runs used sample LIV-0042?",
    "how many runs used sample LIV-0042?",
    "which files came from experiment ELN-123?",
    "tell me about the liver fibrosis study",
]
FIELDS = ["metadata.lab", "metadata.samples", "identifiers", "source", "id", "provenance.package"]


async def bob_everywhere(session: ClientSession) -> list[str]:
    """Everything bob can ask through MCP about lab A; returns the problems found."""
    problems: list[str] = []

    def check(payload: object, asked: str = "") -> None:
        try:
            assert_no_lab_a(payload, asked)
        except AssertionError as exc:
            problems.append(str(exc))

    for query in SEARCHES:
        for mode in ("hybrid", "bm25", "dense"):
            arguments = {"query": query, "mode": mode, "size": 50, "include_text": 5000}
            arguments["facets"] = ["metadata.lab", "metadata.samples", "entity", "source"]
            result = await session.call_tool("search", arguments)
            check(result.model_dump(mode="json"), asked=query)
    empty = await session.call_tool("search", {"filters": {"metadata.lab": "lab-a"}})
    if empty.structuredContent["total"] != 0:
        problems.append(f"lab A counted for bob: {empty.structuredContent}")
    for question in QUESTIONS:
        result = await session.call_tool("ask", {"question": question})
        check(result.model_dump(mode="json"), asked=question)
    for asset_id in LAB_A_IDS:
        for tool in ("get_asset", "get_links"):
            forbidden = await session.call_tool(tool, {"asset_id": asset_id, **{}})
            missing = await session.call_tool(tool, {"asset_id": asset_id + "-nope"})
            if not forbidden.isError or error_of(forbidden)["error"] != "NotFoundError":
                problems.append(f"{tool} answered bob for {asset_id}")
            elif error_of(missing)["error"] != error_of(forbidden)["error"]:
                problems.append(f"{tool}: forbidden and missing differ for {asset_id}")
        for uri_id in (asset_id, asset_id + "-nope"):
            try:
                await session.read_resource(f"labsearch://asset/{quote(uri_id, safe='')}")
            except McpError as exc:
                if not exc.error.message.startswith("NotFoundError: no asset"):
                    problems.append(f"resource error for {uri_id}: {exc.error.message}")
            else:
                problems.append(f"resource answered bob for {uri_id}")
    sources = await session.call_tool("list_sources", {})
    check(sources.model_dump(mode="json"))
    for field in FIELDS:
        for filters in (None, {"metadata.lab": "lab-a"}, {"identifiers": "LIV-0042"}):
            values = await session.call_tool("facet_values", {"field": field, "filters": filters})
            check(values.model_dump(mode="json"), asked=json.dumps(filters))
    # bob's own assets are there: the suite is not passing because everything is empty
    own = await session.call_tool("get_asset", {"asset_id": B_FILE})
    if own.isError:
        problems.append("bob cannot see his own file")
    return problems


def test_bob_gets_nothing_of_lab_a_over_http(api):
    url, settings = api
    assert over_http(url, BOB, bob_everywhere) == []
    lines = [json.loads(line) for line in settings.audit_path.read_text().splitlines()]
    bobs = [entry for entry in lines if entry["user"] == "bob" and entry.get("via") == "mcp"]
    assert {"search", "ask", "values", "sources"} <= {entry["action"] for entry in bobs}
    for entry in bobs:
        assert not set(entry["returned"]) & set(LAB_A_IDS)
        assert not set(entry["cited"]) & set(LAB_A_IDS)


def test_bob_gets_nothing_of_lab_a_over_stdio(stdio_env):
    assert over_stdio(stdio_env, ["--as-user", "bob"], bob_everywhere) == []


def test_a_jwt_signs_in_as_its_subject(api):
    url, _ = api
    token = jwt.encode(
        {"sub": "bob", "exp": datetime.now(UTC) + timedelta(minutes=5)}, JWT_SECRET, "HS256"
    )

    async def runs(session: ClientSession) -> list[str]:
        result = await session.call_tool("search", {"filters": {"entity": "run"}, "size": 20})
        return [hit["id"] for hit in result.structuredContent["hits"]]

    found = over_http(url, {"Authorization": f"Bearer {token}"}, runs)
    assert B_RUN_NEW in found and not set(found) & set(LAB_A_IDS)


# --- refusals -------------------------------------------------------------------------------------

INITIALIZE = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {
        "protocolVersion": "2025-06-18",
        "capabilities": {},
        "clientInfo": {"name": "test", "version": "1"},
    },
}
MCP_HEADERS = {"Accept": "application/json, text/event-stream"}


def test_unauthenticated_http_is_refused(api):
    url, _ = api
    for headers in ({}, {"X-API-Key": "wrong"}, {"Authorization": "Bearer not-a-jwt.x.y"}):
        response = httpx.post(
            f"{url}/mcp", json=INITIALIZE, headers={**MCP_HEADERS, **headers}, timeout=10
        )
        assert response.status_code == 401, response.text
        assert response.json()["error"] == "AuthError"
        assert response.headers["WWW-Authenticate"].startswith("Bearer")
    signed_in = httpx.post(
        f"{url}/mcp", json=INITIALIZE, headers={**MCP_HEADERS, **BOB}, timeout=10
    )
    assert signed_in.status_code == 200
    assert signed_in.json()["result"]["serverInfo"]["name"] == "labsearch"
    # The SDK's client gets the refusal too.
    with pytest.raises(Exception) as refused:  # noqa: B017 - the SDK raises an ExceptionGroup
        over_http(url, {}, lambda session: session.list_tools())
    assert "401" in repr(refused.value) or "Unauthorized" in repr(refused.value)


def test_mcp_requests_share_the_rate_limit(tmp_path, embedder):
    settings = api_settings(tmp_path, rate_limit_per_minute=3)
    service = build_service(settings, embedder, [])
    with TestClient(create_app(settings, service)) as client:
        codes = [
            client.post("/mcp", json=INITIALIZE, headers={**MCP_HEADERS, **BOB}).status_code
            for _ in range(3)
        ]
        assert codes == [200, 200, 200]
        limited = client.post("/mcp", json=INITIALIZE, headers={**MCP_HEADERS, **BOB})
        assert limited.status_code == 429 and limited.json()["error"] == "RateLimitedError"
        # ... and the API's routes count the same calls
        assert client.post("/v1/search", json={"query": "x"}, headers=BOB).status_code == 429


def test_stdio_refuses_to_start_without_saying_for_whom(stdio_env):
    for args in ([], ["--as-user", "alice", "--operator"], ["--as-user", "mallory"]):
        result = subprocess.run(
            [sys.executable, "-m", "shell.cli", "mcp", *args],
            cwd=REPO,
            env=stdio_env,
            input="",
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert result.returncode != 0, args
        assert result.stdout == ""  # nothing on the protocol channel
        assert "--as-user" in result.stderr or "unknown user" in result.stderr


def test_the_operator_sees_both_labs_over_stdio(stdio_env):
    async def sources(session: ClientSession) -> tuple[dict[str, int], str]:
        result = await session.call_tool("list_sources", {})
        links = await session.call_tool("get_links", {"asset_id": B_FILE})
        counts = {s["source"]: s["assets"] for s in result.structuredContent["sources"]}
        return counts, links.structuredContent["links"]["presign"]

    args = ["--operator", "--api-url", "https://labsearch.example.org"]
    seen, presign = over_stdio(stdio_env, args, sources)
    assert seen["quilt+s3://lab-a-data"] == 3 and seen["quilt+s3://lab-b-data"] == 4
    # --api-url makes the API paths among the links absolute.
    assert (
        presign == "https://labsearch.example.org/v1/assets/" + quote(B_FILE, safe="") + "/presign"
    )
