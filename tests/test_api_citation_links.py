"""Every citation opens: on a small demo lab, each API link of alice's citations and result rows
serves the cited bytes (checked against the entry hash of the cited package revision, whose top
hash quilt3 recomputes from the served manifest); as bob, each one is 404."""

from __future__ import annotations

import io
import random
import subprocess
import sys
from pathlib import Path
from urllib.parse import quote

import pytest
import quilt3
from fastapi.testclient import TestClient

from chat_api.app import create_app
from eval.lab import demo_settings, index_own
from labsearch.settings import Settings
from shell.demo.lab import build_demo_lab

ALICE = {"X-API-Key": "demo-alice"}
BOB = {"X-API-Key": "demo-bob"}


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    root = tmp_path_factory.mktemp("citation-links")
    lab = build_demo_lab(root / "lab", seed=7, runs=12)
    settings = demo_settings(Settings(backend="embedded"), lab.config, root / "home")
    settings = settings.with_overrides(rate_limit_per_minute=100_000)
    reports = index_own(settings, list(lab.sources))
    assert all(r.ok for r in reports), [r.errors[:3] for r in reports]
    with TestClient(create_app(settings)) as client:
        yield client, lab


def alices_links(client, lab) -> list[tuple[str, dict]]:
    """(API path, the citation or member it came from) for a few of alice's answers."""
    questions = [
        f"which runs used sample {lab.example_sample}?",
        f"which files came from experiment {lab.example_experiment}?",
        f"where is the processed data for {lab.example_experiment}?",
        "RNA extraction protocol",
        f"what do we know about sample {lab.example_sample}?",
    ]
    links = []
    for question in questions:
        body = client.post("/v1/chat", json={"message": question}, headers=ALICE).json()
        answer = body["answer"]
        for citation in answer["citations"]:
            for key in ("download_url", "manifest_url", "record_url"):
                if citation[key]:
                    links.append((citation[key], citation))
        for member in (answer["result"] or {}).get("members", []):
            for key in ("download", "manifest", "record"):
                if member["links"][key]:
                    links.append((member["links"][key], member))
    return list({path: (path, cited) for path, cited in links}.values())


def test_every_link_of_alices_answers_opens_with_the_cited_bytes(demo):
    client, lab = demo
    links = alices_links(client, lab)
    kinds = {path.split("/")[2] for path, _ in links}
    assert kinds == {"download", "manifest", "record"}, kinds
    manifests: dict[str, quilt3.Package] = {}
    for path, cited in links:
        response = client.get(path, headers=ALICE)
        assert response.status_code == 200, path
        if path.startswith("/v1/manifest/"):
            package = quilt3.Package.load(io.BytesIO(response.content))
            assert package.top_hash == cited.get("top_hash", package.top_hash)
    for path, cited in links:
        if not path.startswith("/v1/download/") or not cited.get("top_hash"):
            continue
        # A package entry: its bytes must hash to the entry of the cited revision.
        top_hash = cited["top_hash"]
        if top_hash not in manifests:
            manifest = client.get(cited["manifest_url"], headers=ALICE).content
            manifests[top_hash] = quilt3.Package.load(io.BytesIO(manifest))
        entry = manifests[top_hash][cited["logical_key"]]
        entry._verify_hash(client.get(path, headers=ALICE).content)  # raises if it differs


def test_as_bob_every_link_to_lab_a_data_is_not_found(demo):
    client, lab = demo
    hidden = 0
    for path, cited in alices_links(client, lab):
        asset_id = cited.get("asset_id") or cited["id"]
        details = client.get("/v1/assets/" + quote(asset_id, safe=""), headers=BOB)
        if details.status_code == 200:  # shared with both labs (the SOPs): bob may open it
            assert client.get(path, headers=BOB).status_code == 200, path
            continue
        hidden += 1
        assert client.get(path, headers=BOB).status_code == 404, path
    assert hidden >= 10


def test_the_quilt3_command_of_a_citation_installs_the_cited_revision(demo, tmp_path):
    client, lab = demo
    question = f"where is the processed data for {lab.example_experiment}?"
    answer = client.post("/v1/chat", json={"message": question}, headers=ALICE).json()["answer"]
    cited = next(c for c in answer["citations"] if c["quilt3_command"])
    command = cited["quilt3_command"].split()
    assert command[:2] == ["quilt3", "install"] and cited["top_hash"] in command
    # Run exactly the emitted command (quilt3 from this environment), in an empty folder.
    dest = tmp_path / "dest"
    dest.mkdir()
    env = {"QUILT_DISABLE_USAGE_METRICS": "true", "PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}
    result = subprocess.run(
        [str(Path(sys.executable).with_name("quilt3")), *command[1:]],
        cwd=dest,
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )
    assert result.returncode == 0, result.stderr
    installed = quilt3.Package.browse(
        cited["package"],
        registry=command[command.index("--registry") + 1],
        top_hash=cited["top_hash"],
    )
    # The installed files are exactly the cited revision's (quilt3 checks every entry hash).
    assert any(dest.rglob("*")) and installed.verify(str(dest))


def test_labsearch_verify_checks_a_download_against_the_cited_entry(demo, tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from labsearch.settings import get_settings
    from shell.cli import app

    client, lab = demo
    question = f"which files came from experiment {lab.example_experiment}?"
    answer = client.post("/v1/chat", json={"message": question}, headers=ALICE).json()["answer"]
    cited = next(c for c in answer["citations"] if c["entry_hash"] and c["download_url"])
    downloaded = tmp_path / "download.bin"
    downloaded.write_bytes(client.get(cited["download_url"], headers=ALICE).content)
    settings = client.app.state.labsearch.settings
    monkeypatch.setenv("LABSEARCH_HOME", str(settings.home))
    monkeypatch.setenv("LABSEARCH_CONFIG", str(lab.config))
    monkeypatch.setenv("LABSEARCH_BACKEND", "embedded")
    get_settings.cache_clear()
    try:
        runner = CliRunner()
        command = ["verify", cited["asset_id"], str(downloaded)]
        ok = runner.invoke(app, [*command, "--as-user", "alice"])
        assert ok.exit_code == 0 and ok.stdout.startswith("OK "), ok.output
        downloaded.write_bytes(downloaded.read_bytes() + b"\n")
        changed = runner.invoke(app, command)
        assert changed.exit_code == 1 and "MISMATCH" in changed.output
        hidden = runner.invoke(app, [*command, "--as-user", "bob"])
        assert hidden.exit_code == 2 and "no asset" in hidden.output
    finally:
        get_settings.cache_clear()


def test_verify_hashes_large_files_in_quilt3s_own_parts(tmp_path):
    from quilt3 import checksums

    from retriever.exact_versions import file_matches_entry

    data = random.Random(3).randbytes(17 * 1024 * 1024 + 5)  # three checksum parts
    path = tmp_path / "big.bin"
    path.write_bytes(data)
    chunked = checksums.calculate_multipart_checksum_bytes(
        data, checksum_type=checksums.SHA256_CHUNKED_HASH_NAME
    )
    assert file_matches_entry(path, chunked) == "sha2-256-chunked"
    assert file_matches_entry(path, checksums.legacy_calculate_checksum_bytes(data)) == "SHA256"
    assert file_matches_entry(path, chunked[::-1]) is None
