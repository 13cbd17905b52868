"""A real HTTP server speaking the API v2 shapes of eLabFTW's OpenAPI spec, for tests.

It serves tests/fixtures/elabftw/*.json: listings are paged with `limit`/`offset` (and sorted by
`order=lastchange&sort=desc` as eLabFTW does) and carry only the columns eLabFTW's listing
selects (no body, metadata or links); `GET /api/v2/{type}/{id}` returns the full entity. A wrong
key gets the spec's 401 Error. Import the `elab` fixture into a test module to use it.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

import pytest

FIXTURES = Path(__file__).parent / "fixtures" / "elabftw"
API_KEY = "3-4f1e2d3c4b5a69788796a5b4c3d2e1f0"
# Columns of eLabFTW's listing ("show mode" select); the rest only comes with a full read.
LIST_COLUMNS = {
    "id", "title", "custom_id", "date", "category", "status", "team", "rating", "userid",
    "locked", "state", "canread", "canwrite", "canread_base", "canwrite_base", "created_at",
    "modified_at", "timestamped", "category_title", "category_color", "status_title",
    "status_color", "tags", "tags_id", "fullname", "firstname", "lastname", "orcid", "is_bookable",
}  # fmt: skip


@dataclass
class FakeElab:
    """State of the test server: fixtures, requests seen, and failures to inject."""

    entities: dict[str, list[dict[str, Any]]]
    requests: list[tuple[str, dict[str, list[str]]]] = field(default_factory=list)
    missing_details: set[tuple[str, int]] = field(default_factory=set)
    forbidden_details: set[tuple[str, int]] = field(default_factory=set)
    ignore_offset: bool = False
    max_limit: int = 1000


def make_handler(state: FakeElab) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:  # keep pytest output clean
            pass

        def _send(self, status: int, body: Any) -> None:
            payload = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
            url = urlparse(self.path)
            query = parse_qs(url.query)
            state.requests.append((url.path, query))
            if self.headers.get("Authorization") != API_KEY:
                self._send(
                    401,
                    {
                        "code": "401",
                        "message": "Authentication required",
                        "description": "No corresponding API key found!",
                    },
                )
                return
            parts = url.path.strip("/").split("/")
            if parts[:2] != ["api", "v2"] or len(parts) not in (3, 4):
                self._send(404, {"code": "404", "message": "Not found", "description": ""})
                return
            entities = state.entities.get(parts[2])
            if entities is None:
                self._send(404, {"code": "404", "message": "Not found", "description": ""})
                return
            if len(parts) == 4:
                entity_id = int(parts[3])
                found = [e for e in entities if e["id"] == entity_id]
                if (parts[2], entity_id) in state.forbidden_details:
                    self._send(
                        403,
                        {"code": "403", "message": "Forbidden", "description": "Insufficient"},
                    )
                    return
                if not found or (parts[2], entity_id) in state.missing_details:
                    self._send(
                        404,
                        {"code": "404", "message": "Resource not found", "description": ""},
                    )
                    return
                self._send(200, found[0])
                return
            if query.get("order") == ["lastchange"]:  # newest change first, as eLabFTW sorts
                entities = sorted(entities, key=lambda e: e.get("modified_at") or "")
                entities = entities[::-1] if query.get("sort") == ["desc"] else entities
            limit = min(int(query.get("limit", ["15"])[0]), state.max_limit)
            offset = 0 if state.ignore_offset else int(query.get("offset", ["0"])[0])
            page = entities[offset : offset + limit]
            self._send(200, [{k: v for k, v in e.items() if k in LIST_COLUMNS} for e in page])

    return Handler


@pytest.fixture(name="elab")
def elab_fixture() -> Iterator[tuple[str, FakeElab]]:
    state = FakeElab(
        {
            name: json.loads((FIXTURES / f"{name}.json").read_text())
            for name in ("experiments", "items")
        }
    )
    server = ThreadingHTTPServer(("127.0.0.1", 0), make_handler(state))
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.daemon = True
    thread.start()
    try:
        yield f"elabftw+http://127.0.0.1:{server.server_address[1]}", state
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
