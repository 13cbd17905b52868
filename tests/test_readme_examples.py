"""The README's examples for apps and assistants run as written, against a live API.

Blocks are found by their marker (`<!-- example: NAME -->` above a fenced block). Python blocks
run in a subprocess with LABSEARCH_API_URL pointing at the server; MCP client configurations are
started the way an assistant would: the stdio one's command with its args (only its config file
is this test's), the HTTP one's URL (on this test's port) with its headers.
"""

from __future__ import annotations

import asyncio
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest
from api_fixtures import (
    A_RUN_NEW,
    api_settings,
    build_service,
    indexed_home,
    live_server,
    subprocess_env,
)
from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client
from mcp.client.streamable_http import streamable_http_client

from chat_api.app import create_app

REPO = Path(__file__).resolve().parent.parent
README = (REPO / "README.md").read_text(encoding="utf-8")
EXAMPLE = re.compile(r"<!-- example: (\S+) -->\n```(\w+)\n(.*?)\n```", re.DOTALL)
EXAMPLES = {name: (language, code) for name, language, code in EXAMPLE.findall(README)}
README_URL = "http://127.0.0.1:8000"


def test_the_readme_has_an_example_per_entry_point():
    assert set(EXAMPLES) == {"mcp-stdio", "mcp-http", "client", "async-client", "langchain"}


@pytest.fixture(scope="module")
def api(tmp_path_factory, embedder) -> str:
    settings = api_settings(tmp_path_factory.mktemp("readme-home"))
    with live_server(create_app(settings, build_service(settings, embedder))) as url:
        yield url


@pytest.fixture(scope="module")
def config(tmp_path_factory, embedder) -> Path:
    return indexed_home(tmp_path_factory.mktemp("readme-stdio"), embedder)


EXPECTED = {
    "client": ["raw/liver-rnaseq-2024", "quilt3 install", "2 runs, complete: True"],
    "async-client": ["2", A_RUN_NEW],
    "langchain": [A_RUN_NEW, "https://catalog.example.org"],
}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_python_example_runs_as_written(api, name):
    language, code = EXAMPLES[name]
    assert language == "python"
    result = subprocess.run(
        [sys.executable, "-c", code],
        env=subprocess_env(LABSEARCH_API_URL=api),
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    for expected in EXPECTED[name]:
        assert expected in result.stdout, result.stdout


async def _tools_and_a_search(session: ClientSession) -> tuple[set[str], list[str]]:
    await session.initialize()
    tools = {tool.name for tool in (await session.list_tools()).tools}
    found = await session.call_tool("search", {"query": "LIV-0042", "filters": {"entity": "run"}})
    return tools, [hit["id"] for hit in found.structuredContent["hits"]]


def _server(name: str) -> dict[str, Any]:
    language, text = EXAMPLES[name]
    assert language == "json"
    return json.loads(text)["mcpServers"]["labsearch"]


def test_mcp_stdio_configuration_starts_the_server(config):
    server = _server("mcp-stdio")
    # `labsearch` as installed beside this interpreter (the console script of this package).
    command = shutil.which(server["command"]) or str(Path(sys.executable).with_name("labsearch"))
    env = subprocess_env(**{**server["env"], "LABSEARCH_CONFIG": str(config)})
    parameters = StdioServerParameters(command=command, args=server["args"], env=env)

    async def main() -> tuple[set[str], list[str]]:
        with open("/dev/null", "w") as errlog:
            async with (
                stdio_client(parameters, errlog=errlog) as (read, write),
                ClientSession(read, write) as session,
            ):
                return await _tools_and_a_search(session)

    tools, hits = asyncio.run(main())
    assert {"search", "ask", "get_asset", "get_links", "list_sources", "facet_values"} <= tools
    assert A_RUN_NEW in hits  # as alice


def test_mcp_http_configuration_connects(api):
    server = _server("mcp-http")
    assert server["type"] == "http" and server["url"].startswith(README_URL)
    url = server["url"].replace(README_URL, api)

    async def main() -> tuple[set[str], list[str]]:
        async with (
            httpx.AsyncClient(headers=server["headers"], timeout=60) as http,
            streamable_http_client(url, http_client=http) as (read, write, _),
            ClientSession(read, write) as session,
        ):
            return await _tools_and_a_search(session)

    tools, hits = asyncio.run(main())
    assert "ask" in tools and A_RUN_NEW in hits
