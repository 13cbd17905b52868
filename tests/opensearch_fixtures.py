"""Fixtures for tests against a real OpenSearch node (scripts/opensearch-node start).

Import them into a test module with `from opensearch_fixtures import ...` (conftest.py is
shared, so they live here). The node's URL comes from `LABSEARCH_OPENSEARCH_URL` (default
http://127.0.0.1:9200). A test that needs the node FAILS with the command to start it when the
node is not there: a silently skipped backend is an untested backend.
"""

from __future__ import annotations

import os
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from labsearch.settings import Settings

REPO_ROOT = Path(__file__).resolve().parent.parent
NODE_SCRIPT = REPO_ROOT / "scripts" / "opensearch-node"
DEFAULT_URL = "http://127.0.0.1:9200"


def opensearch_url() -> str:
    return os.environ.get("LABSEARCH_OPENSEARCH_URL", DEFAULT_URL).split(",")[0].strip()


def wait_healthy(url: str, timeout: float) -> str | None:
    """None once the cluster is green or yellow, else the last problem seen."""
    deadline = time.monotonic() + timeout
    problem = "no answer"
    while True:
        try:
            response = requests.get(
                f"{url}/_cluster/health",
                params={"wait_for_status": "yellow", "timeout": "2s"},
                timeout=5,
            )
            status = response.json().get("status")
            if status in ("green", "yellow"):
                return None
            problem = f"cluster status {status!r}"
        except (requests.RequestException, ValueError) as exc:
            problem = f"{exc.__class__.__name__}: {exc}"
        if time.monotonic() >= deadline:
            return problem
        time.sleep(0.5)


@pytest.fixture(scope="session")
def opensearch_node() -> str:
    """The URL of a healthy node; fails the test with instructions when there is none."""
    url = opensearch_url()
    problem = wait_healthy(url, timeout=float(os.environ.get("LABSEARCH_OPENSEARCH_WAIT", "30")))
    if problem is not None:
        pytest.fail(
            f"no healthy OpenSearch node at {url} ({problem}). Start one with "
            "`scripts/opensearch-node start` (or set LABSEARCH_OPENSEARCH_URL), then rerun.",
            pytrace=False,
        )
    return url


def delete_indices(url: str, alias: str) -> None:
    """Drop every index labsearch created behind `alias` (all versions)."""
    requests.delete(f"{url}/{alias}-v*", params={"expand_wildcards": "all"}, timeout=30)


def opensearch_settings(url: str, alias: str, tmp_path: Path, **overrides) -> Settings:
    values = {
        "home": tmp_path / "home",
        "cache_dir": tmp_path / "cache",
        "backend": "opensearch",
        "model": "test-model",
        "opensearch_url": url,
        "opensearch_index": alias,
        "opensearch_user": None,
        "opensearch_password": None,
        "opensearch_aws_region": None,
    }
    values.update(overrides)
    return Settings(**values)


@pytest.fixture
def index_alias(opensearch_node: str) -> Iterator[str]:
    """A fresh alias name for one test; its indices are deleted afterwards."""
    alias = f"labsearch-test-{uuid.uuid4().hex[:12]}"
    yield alias
    delete_indices(opensearch_node, alias)


@pytest.fixture
def os_settings(opensearch_node: str, index_alias: str, tmp_path: Path) -> Settings:
    return opensearch_settings(opensearch_node, index_alias, tmp_path)


class DisposableNode:
    """A second node on another port and directory, for tests that stop and start it."""

    def __init__(self, directory: Path, port: int) -> None:
        self.directory = directory
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self.env = {
            **os.environ,
            "LABSEARCH_OPENSEARCH_DIR": str(directory),
            "OPENSEARCH_PORT": str(port),
            "OPENSEARCH_HEAP": "-Xms256m -Xmx512m",
        }

    def run(self, command: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [str(NODE_SCRIPT), command],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=300,
        )

    def start(self) -> None:
        result = self.run("start")
        if result.returncode != 0:
            pytest.fail(
                f"could not start the disposable OpenSearch node on port {self.port}:\n"
                f"{result.stdout}\n{result.stderr}",
                pytrace=False,
            )

    def stop(self) -> None:
        result = self.run("stop")
        assert result.returncode == 0, result.stderr


@pytest.fixture(scope="module")
def disposable_node(tmp_path_factory) -> Iterator[DisposableNode]:
    """Starts a throwaway node (port from LABSEARCH_FAULT_NODE_PORT, default 9250); stops it and
    removes its data at the end of the module."""
    port = int(os.environ.get("LABSEARCH_FAULT_NODE_PORT", "9250"))
    # Outside /root (the node runs as the `opensearch` user when tests run as root).
    base = Path(os.environ.get("LABSEARCH_FAULT_NODE_DIR", "/tmp")) / f"labsearch-os-{port}"
    node = DisposableNode(base, port)
    node.start()
    yield node
    node.stop()


__all__ = [
    "DisposableNode",
    "delete_indices",
    "disposable_node",
    "index_alias",
    "opensearch_node",
    "opensearch_settings",
    "opensearch_url",
    "os_settings",
    "wait_healthy",
]
