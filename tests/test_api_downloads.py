"""`GET /v1/download/{id}`: the bytes of a cited file, for those who may see it, from where the
indexer found it and nowhere else."""

from __future__ import annotations

import json
import os
from pathlib import Path
from urllib.parse import quote

import pytest
from api_fixtures import ALICE, BOB, add_assets, api_settings, build_service
from fastapi.testclient import TestClient

from chat_api.app import create_app
from indexer.pipeline import Indexer
from labsearch.schema import Asset, AssetKind, Entity, Provenance
from labsearch.settings import AccessRule


@pytest.fixture(scope="module")
def lab(tmp_path_factory, embedder):
    root = tmp_path_factory.mktemp("downloads")
    data = root / "data"
    (data / "lab-a").mkdir(parents=True)
    (data / "lab-b").mkdir()
    (data / "lab-a" / "counts.tsv").write_text("gene\tLIV-0042\nAlb\t9120\nApoa1\t4310\n")
    (data / "lab-a" / "reads.txt").write_bytes(bytes(range(256)) * 40)  # 10,240 bytes
    (data / "lab-b" / "secret.tsv").write_text("gene\tPBMC-0311\nCD3E\t77\n")
    outside = root / "outside.txt"
    outside.write_text("not under any source")
    os.symlink(outside, data / "lab-a" / "link-out.txt")
    uri = f"file://{data}"
    settings = api_settings(
        root / "home",
        access_rules=[
            AccessRule(prefix=str(data / "lab-a"), groups=["lab-a"]),
            AccessRule(prefix=str(data / "lab-b"), groups=["lab-b"]),
        ],
    )
    service = build_service(settings, embedder, assets=[])
    indexer = Indexer(settings, service.store, embedder)
    indexer.index(uri)
    indexer.close()
    # An asset whose stored path lies outside its source (a record from elsewhere, or a path
    # that was rewritten): never served.
    stray = Asset(
        id="file:///elsewhere/outside.txt",
        source=uri,
        kind=AssetKind.FILE,
        entity=Entity.FILE,
        title="outside.txt",
        provenance=Provenance(source=uri, path=str(outside)),
        groups=["lab-a"],
    )
    # An ELN record whose stored path is the whole export it came from: the export holds other
    # records, so the record has no bytes of its own to serve.
    export = data / "lab-a" / "notebook.jsonl"
    export.write_text('{"id": "ELN-1"}\n{"id": "ELN-2"}\n')
    record = Asset(
        id="eln:notebook:ELN-1",
        source=f"eln+file://{export}",
        kind=AssetKind.EXPERIMENT,
        entity=Entity.EXPERIMENT,
        title="ELN-1 liver dexamethasone",
        provenance=Provenance(source=f"eln+file://{export}", path=str(export)),
        groups=["lab-a"],
    )
    add_assets(service.store, embedder, [stray, record])
    client = TestClient(create_app(settings, service))
    return client, data, settings


def download(client, asset_id: str, headers, **extra):
    return client.get("/v1/download/" + quote(asset_id, safe=""), headers={**headers, **extra})


def test_a_cited_file_downloads_with_its_bytes_name_and_type(lab):
    client, data, _ = lab
    answer = client.post("/v1/chat", json={"message": "counts of LIV-0042"}, headers=ALICE).json()
    cited = [c for c in answer["answer"]["citations"] if c["title"].endswith("counts.tsv")]
    assert cited and cited[0]["download_url"].startswith("/v1/download/")
    response = client.get(cited[0]["download_url"], headers=ALICE)
    assert response.status_code == 200
    assert response.content == (data / "lab-a" / "counts.tsv").read_bytes()
    assert response.headers["content-type"].startswith("text/tab-separated-values")
    assert 'filename="counts.tsv"' in response.headers["content-disposition"]
    assert "x-labsearch-modified" not in response.headers


def test_ranges_are_answered_with_partial_content(lab):
    client, data, _ = lab
    asset_id = f"file://{data}/lab-a/reads.txt"
    response = download(client, asset_id, ALICE, Range="bytes=256-511")
    assert response.status_code == 206
    assert response.content == bytes(range(256))
    assert response.headers["content-range"] == "bytes 256-511/10240"


def test_another_labs_file_and_a_missing_one_look_alike(lab):
    client, data, _ = lab
    forbidden = download(client, f"file://{data}/lab-b/secret.tsv", ALICE)
    missing = download(client, f"file://{data}/lab-b/nothing.tsv", ALICE)
    assert forbidden.status_code == missing.status_code == 404
    assert forbidden.json()["error"] == missing.json()["error"]
    assert download(client, f"file://{data}/lab-b/secret.tsv", BOB).status_code == 200


@pytest.mark.parametrize(
    "asset_id",
    [
        "file:///elsewhere/outside.txt",  # stored path outside the source's directory
        "{data}/lab-a/link-out.txt",  # a symlink out of the source
        "{data}/lab-a/../lab-b/secret.tsv",  # traversal in the id: not an indexed id
        "{data}/lab-a/..%2Flab-b%2Fsecret.tsv",
    ],
)
def test_nothing_outside_the_sources_is_served(lab, asset_id):
    client, data, _ = lab
    asset_id = asset_id.format(data=f"file://{data}")
    assert download(client, asset_id, ALICE).status_code == 404


def test_a_file_changed_since_indexing_is_flagged_and_downloads_are_audited(lab):
    client, data, settings = lab
    path = data / "lab-a" / "reads.txt"
    original = path.read_bytes()
    try:
        path.write_bytes(original + b"appended")
        response = download(client, f"file://{path}", ALICE)
        assert response.status_code == 200 and response.headers["x-labsearch-modified"] == "true"
    finally:
        path.write_bytes(original)
    lines = [json.loads(line) for line in Path(settings.audit_path).read_text().splitlines()]
    assert any(
        e["action"] == "download" and e["user"] == "alice" and e["returned"] == [f"file://{path}"]
        for e in lines
    )


def test_records_inside_a_shared_export_have_no_download(lab):
    client, *_ = lab
    details = client.get("/v1/assets/" + quote("eln:notebook:ELN-1", safe=""), headers=ALICE)
    assert details.status_code == 200 and details.json()["links"]["download"] is None
    assert download(client, "eln:notebook:ELN-1", ALICE).status_code == 404
