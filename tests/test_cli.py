"""The CLI as users drive it: index, sources, search/ask with --json, --as-user, clear errors."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from labsearch.settings import get_settings
from shell.cli import app

runner = CliRunner()

RECORDS = [
    {
        "id": "ELN-7",
        "type": "experiment",
        "title": "Liver RNA-seq under dexamethasone",
        "description": "Bulk RNA-seq of mouse liver 24 h after dexamethasone.",
        "samples": ["LIV-0042"],
        "access_groups": ["lab-a"],
        "url": "https://eln.lab/7",
    },
    {
        "id": "RUN-1",
        "type": "run",
        "title": "NovaSeq run 1",
        "samples": ["LIV-0042"],
        "instrument": "NovaSeq 6000",
        "access_groups": ["lab-a"],
    },
    {"id": "LIV-0042", "type": "sample", "title": "Mouse liver sample", "access_groups": ["lab-a"]},
    {"id": "PBMC-1", "type": "sample", "title": "Human PBMC sample", "access_groups": ["lab-b"]},
]


def invoke(*args: str):
    get_settings.cache_clear()
    result = runner.invoke(app, list(args))
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    return result


@pytest.fixture
def indexed(tmp_path, monkeypatch, settings):
    export = tmp_path / "notebook.jsonl"
    export.write_text("\n".join(json.dumps(r) for r in RECORDS) + "\n")
    config = tmp_path / "labsearch.toml"
    config.write_text(
        '[users.alice]\ngroups = ["lab-a"]\napi_keys = ["k-a"]\n'
        '[users.bob]\ngroups = ["lab-b"]\napi_keys = ["k-b"]\n'
    )
    monkeypatch.setenv("LABSEARCH_HOME", str(settings.home))
    monkeypatch.setenv("LABSEARCH_CACHE_DIR", str(settings.cache_dir))
    monkeypatch.setenv("LABSEARCH_CONFIG", str(config))
    uri = f"eln+file://{export}"
    result = invoke("index", uri)
    assert result.exit_code == 0, result.output
    assert "4 added" in result.output
    return uri


def test_sources_lists_the_last_sync(indexed):
    result = invoke("sources", "--json")
    [report] = json.loads(result.stdout)
    assert (report["source"], report["added"], report["failed"]) == (indexed, 4, 0)


def test_search_json_is_the_api_model(indexed):
    result = invoke("search", "dexamethasone liver", "--as-user", "alice", "--json")
    response = json.loads(result.stdout)
    assert response["hits"][0]["id"] == "eln:notebook:ELN-7"
    assert response["hits"][0]["links"]["eln_url"] == "https://eln.lab/7"


def test_ask_answers_through_the_configured_language_model(indexed, monkeypatch):
    # The same answerer as the API: with LABSEARCH_LLM set, `ask` calls that model (here an
    # OpenAI-compatible server that is not running, so the call fails with what to fix).
    monkeypatch.setenv("LABSEARCH_LLM", "openai")
    monkeypatch.setenv("LABSEARCH_OPENAI_BASE_URL", "http://127.0.0.1:9/v1")
    result = invoke("ask", "what was done with dexamethasone?", "--as-user", "alice")
    assert result.exit_code == 2, result.output
    assert "language model openai:local failed" in " ".join(result.output.split())


def test_ask_json_gives_the_complete_result(indexed):
    result = invoke("ask", "which runs used sample LIV-0042?", "--as-user", "alice", "--json")
    answer = json.loads(result.stdout)
    assert answer["result"]["count"] == 1 and answer["result"]["complete"] is True
    assert [m["id"] for m in answer["result"]["members"]] == ["eln:notebook:RUN-1"]
    assert [c["asset_id"] for c in answer["citations"]] == ["eln:notebook:RUN-1"]


def test_as_user_sees_only_their_lab(indexed):
    result = invoke("search", "sample", "--as-user", "bob", "--json")
    assert [hit["id"] for hit in json.loads(result.stdout)["hits"]] == ["eln:notebook:PBMC-1"]


def test_operator_sees_everything(indexed):
    result = invoke("search", "sample", "--json", "-k", "10")
    ids = {hit["id"] for hit in json.loads(result.stdout)["hits"]}
    assert {"eln:notebook:PBMC-1", "eln:notebook:LIV-0042"} <= ids


def test_unknown_user_and_bad_filter_are_clear_errors(indexed):
    result = invoke("search", "liver", "--as-user", "mallory")
    assert result.exit_code == 2 and "unknown user 'mallory'" in result.output
    result = invoke("search", "liver", "--filter", "date~2026")
    assert result.exit_code == 2 and "cannot read filter 'date~2026'" in result.output


def test_remove_forgets_the_source(indexed):
    result = invoke("remove", indexed)
    assert "removed 4 assets" in result.output
    assert json.loads(invoke("sources", "--json").stdout) == []


def test_index_reports_failures_with_a_non_zero_exit(indexed, tmp_path):
    broken = tmp_path / "broken.jsonl"
    broken.write_text('{"id": "X-1", "title": "ok"}\n{"id": 5\n')
    result = invoke("index", f"eln+file://{broken}")
    assert result.exit_code == 1
    assert "1 added" in result.output and "1 failed" in result.output
    assert "line 2" in result.output


def test_export_feedback_names_the_missing_store(tmp_path, monkeypatch, settings):
    monkeypatch.setenv("LABSEARCH_HOME", str(tmp_path / "empty-home"))
    result = invoke("eval", "export-feedback", "--out", str(tmp_path / "q.jsonl"))
    assert result.exit_code == 2
    assert "no conversation store" in result.output


SEARCH_IN_PROCESS = """
import json, sys, time
started = time.perf_counter()
from shell.cli import app
try:
    app(["search", "dexamethasone liver", "--as-user", "alice", "--json"])
except SystemExit as stop:
    code = stop.code
heavy = ["torch", "sentence_transformers", "transformers", "fastapi", "langchain", "langchain_core"]
print(json.dumps({"code": code, "seconds": time.perf_counter() - started,
                  "imported": [m for m in heavy if m in sys.modules]}), file=sys.stderr)
"""


def test_search_embeds_the_query_without_torch(indexed):
    """`labsearch search` in a new process: the query goes through the ONNX export (made by
    `labsearch index`), so neither torch nor the server's libraries are imported. The wall time
    is printed, not asserted (bench/cold_search.py measures it)."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    path = os.pathsep.join(p for p in [str(root), os.environ.get("PYTHONPATH", "")] if p)
    completed = subprocess.run(
        [sys.executable, "-c", SEARCH_IN_PROCESS],
        env=dict(os.environ, PYTHONPATH=path),
        cwd=root,
        capture_output=True,
        text=True,
        timeout=300,
    )
    report = json.loads(completed.stderr.strip().splitlines()[-1])
    assert report["code"] in (0, None), completed.stderr
    assert json.loads(completed.stdout)["hits"][0]["id"] == "eln:notebook:ELN-7"
    assert report["imported"] == [], f"a search imported {report['imported']}"
    assert "torch" not in report["imported"]
    print(f"cold CLI search in a new process: {report['seconds']:.2f} s")


INDEX_IN_PROCESS = """
import json, sys
from shell.cli import app
try:
    app(["index", sys.argv[1]])
except SystemExit as stop:
    code = stop.code
heavy = ["torch", "sentence_transformers", "transformers", "onnxruntime", "quilt3", "boto3",
         "pandas", "pyarrow", "pysam", "pypdf", "tifffile", "h5py", "anndata", "faiss"]
print(json.dumps({"code": code, "imported": [m for m in heavy if m in sys.modules]}),
      file=sys.stderr)
"""


def test_unchanged_quilt_reindex_imports_no_model_no_quilt3_no_readers(settings, tmp_path):
    """`labsearch index` again over an unchanged local Quilt registry, as a new process: package
    pointers are read as files and match the fingerprints, so neither the model (torch,
    onnxruntime), quilt3 (for manifests), the file readers (pandas for the CSV) nor faiss are
    imported: the run finishes in about 0.5 s (bench/index_vs_langchain.py measures it)."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    import quilt3

    data, registry = tmp_path / "data", tmp_path / "registry"
    data.mkdir()
    (data / "counts.csv").write_text("gene,count\nActb,12\nGapdh,40\n")
    (data / "README.md").write_text("# Liver RNA-seq\nCounts of mouse liver, dexamethasone.\n")
    quilt3.Package().set_dir(".", str(data)).set_meta({"project": "liver"}).build(
        "lab-a/liver", registry=f"file://{registry}"
    )
    uri = f"quilt+file://{registry}"
    env = dict(os.environ, LABSEARCH_HOME=str(settings.home))
    env["LABSEARCH_CACHE_DIR"] = str(settings.cache_dir)
    root = Path(__file__).resolve().parent.parent
    env["PYTHONPATH"] = os.pathsep.join(p for p in [str(root), env.get("PYTHONPATH", "")] if p)

    def run() -> tuple[str, dict]:
        completed = subprocess.run(
            [sys.executable, "-c", INDEX_IN_PROCESS, uri],
            env=env,
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=600,
        )
        return completed.stdout, json.loads(completed.stderr.strip().splitlines()[-1])

    first, report = run()
    assert report["code"] in (0, None) and "3 added" in first, first
    assert {"quilt3", "pandas"} <= set(report["imported"])  # the first run reads everything
    again, report = run()
    assert report["code"] in (0, None) and "3 unchanged" in again, again
    assert report["imported"] == [], f"an unchanged re-run imported {report['imported']}"
