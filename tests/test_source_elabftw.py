"""eLabFTW source against a real HTTP server speaking the API v2 shapes of eLabFTW's OpenAPI spec.

The server (http.server in a thread) serves tests/fixtures/elabftw/*.json: listings are paged
with `limit`/`offset` and carry only the columns eLabFTW's listing selects (no body, metadata or
links); `GET /api/v2/{type}/{id}` returns the full entity. A wrong key gets the spec's 401 Error.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from elabftw_server import API_KEY, elab_fixture  # noqa: F401
from pydantic import SecretStr
from source_helpers import split_scan

from indexer.sources.elabftw import ElabFTWSource, html_to_text
from labsearch.errors import SourceError
from labsearch.schema import AssetKind, Entity, LinkType
from labsearch.settings import AccessRule, Settings


def settings(**values: Any) -> Settings:
    """Explicit values, so the caller's environment or labsearch.toml cannot change results."""
    defaults: dict[str, Any] = {"access_rules": [], "public_sources": []}
    return Settings(elabftw_api_key=SecretStr(API_KEY), **{**defaults, **values})


def scan(uri: str, config: Settings, page_size: int = 2):
    return split_scan(ElabFTWSource(uri, config, page_size=page_size))


def test_experiments_and_items_with_pagination(elab) -> None:
    uri, state = elab
    assets, issues = scan(uri, settings())
    host = uri.removeprefix("elabftw+http://")
    assert sorted(assets) == sorted(
        [f"elabftw:{host}:experiments:{i}" for i in (1, 2, 3)]
        + [f"elabftw:{host}:items:{i}" for i in (1, 2, 3)]
    )
    listings = [(p, q) for p, q in state.requests if p in ("/api/v2/experiments", "/api/v2/items")]
    assert [(p, q["offset"], q["limit"]) for p, q in listings] == [
        ("/api/v2/experiments", ["0"], ["2"]),
        ("/api/v2/experiments", ["2"], ["2"]),
        ("/api/v2/experiments", ["3"], ["2"]),  # empty page: the end
        ("/api/v2/items", ["0"], ["2"]),
        ("/api/v2/items", ["2"], ["2"]),
        ("/api/v2/items", ["3"], ["2"]),
    ]
    # one full read per entity, for links and attachments
    assert sum(1 for p, _ in state.requests if p.count("/") == 4) == 6
    assert [i.field for i in issues] == ["metadata"]  # experiment 3's broken metadata


def test_experiment_fields_follow_the_api(elab) -> None:
    uri, _ = elab
    assets, _ = scan(uri, settings())
    host = uri.removeprefix("elabftw+http://")
    experiment = assets[f"elabftw:{host}:experiments:1"]
    assert experiment.kind == AssetKind.EXPERIMENT and experiment.entity == Entity.EXPERIMENT
    assert experiment.title == "RNA-seq of fasted mouse liver"
    assert experiment.text.startswith("Aim\nBulk RNA-seq of liver from fasted and fed mice")
    assert "alert" not in experiment.text and "<" not in experiment.text
    meta = experiment.metadata
    assert meta["project"] == "metabolism"
    assert meta["run_id"] == "RUN-7"
    assert meta["instrument"] == "NovaSeq 6000"
    assert meta["date"] == "2024-03-01"
    assert meta["samples"] == ["LIV-0001"]
    assert meta["experiment_id"] == "20240301-3c1f0b2a9e8d7c6b5a4f3e2d1c0b9a8f7e6d5c4b"
    assert meta["tags"] == ["rna-seq", "liver"]
    assert meta["category"] == "RNA-seq" and meta["status"] == "Success"
    assert meta["author"] == "Ada Lovelace"
    assert meta["extra_fields"]["Read length"] == "150 bp"
    assert "Empty field" not in meta["extra_fields"]
    assert meta["attachments"] == ["qc_report.pdf"]
    for identifier in ("RUN-7", "LIV-0001", "qc_report.pdf", meta["experiment_id"]):
        assert identifier in experiment.identifiers
    assert (
        experiment.provenance.eln_url == "https://elab.example.org/experiments.php?mode=view&id=1"
    )
    assert experiment.provenance.record_id == "1"
    assert experiment.created_at is not None and experiment.created_at.isoformat() == (
        "2024-03-01T09:30:12+00:00"
    )
    assert experiment.updated_at is not None and experiment.updated_at.day == 5


def test_links_to_samples_resources_experiments_and_packages(elab) -> None:
    uri, _ = elab
    assets, _ = scan(uri, settings())
    host = uri.removeprefix("elabftw+http://")
    experiment = assets[f"elabftw:{host}:experiments:1"]
    assert experiment.linked(LinkType.USES_SAMPLE) == [f"elabftw:{host}:items:1"]
    assert set(experiment.linked(LinkType.RELATED)) == {
        f"elabftw:{host}:items:3",
        f"elabftw:{host}:experiments:2",
    }
    assert experiment.linked(LinkType.DESCRIBES) == ["quilt:s3://lab-bucket#raw/rnaseq-run-7"]
    for link in experiment.links:
        if link.rel != LinkType.DESCRIBES:
            assert link.target in assets


def test_items_samples_and_equipment(elab) -> None:
    uri, _ = elab
    assets, _ = scan(uri, settings())
    host = uri.removeprefix("elabftw+http://")
    sample = assets[f"elabftw:{host}:items:1"]
    assert sample.kind == AssetKind.SAMPLE and sample.entity == Entity.SAMPLE
    assert sample.metadata["organism"] == "Mus musculus"
    assert sample.metadata["samples"] == ["LIV-0001"]
    assert "LIV-0001" in sample.identifiers
    assert "-80 °C" in sample.text  # HTML entities decoded
    equipment = assets[f"elabftw:{host}:items:3"]
    assert equipment.entity is None and equipment.kind == AssetKind.EXPERIMENT
    markdown = assets[f"elabftw:{host}:experiments:2"]
    assert markdown.text.startswith("## Aim\nTMT proteomics")  # Markdown bodies stay as written
    assert markdown.metadata["date"] == "2024-03-10"  # old-style 20240310
    assert "ELN-101" in markdown.identifiers


def test_broken_metadata_keeps_the_entry(elab) -> None:
    uri, _ = elab
    assets, issues = scan(uri, settings())
    host = uri.removeprefix("elabftw+http://")
    broken = assets[f"elabftw:{host}:experiments:3"]
    assert "not valid JSON" in broken.errors[0]
    assert issues[0].location == "/api/v2/experiments/3"


def test_failed_full_read_gives_issue_and_listing_asset(elab) -> None:
    uri, state = elab
    state.missing_details.add(("items", 2))
    assets, issues = scan(uri, settings())
    host = uri.removeprefix("elabftw+http://")
    item = assets[f"elabftw:{host}:items:2"]
    assert item.title == "LIV-0002" and "HTTP 404" in item.errors[0]
    assert any(i.location == "/api/v2/items/2" and "404" in i.reason for i in issues)


def test_an_id_that_is_a_list_is_an_issue_not_a_crash(elab) -> None:
    """Found by tests/test_fuzz_parsers.py: an unhashable id in a listing ("id": [1]) stopped
    the scan with TypeError before the entry could be reported."""
    uri, state = elab
    state.entities["experiments"][0]["id"] = [1]
    assets, issues = scan(uri, settings())
    assert any("without an integer id" in i.reason for i in issues)
    assert len(assets) == 5  # the other experiments and the items


def test_forbidden_entry_is_an_issue_not_the_end(elab) -> None:
    uri, state = elab
    state.forbidden_details.add(("experiments", 2))
    assets, issues = scan(uri, settings())
    host = uri.removeprefix("elabftw+http://")
    assert len(assets) == 6
    assert "HTTP 403" in assets[f"elabftw:{host}:experiments:2"].errors[0]
    assert any(i.location == "/api/v2/experiments/2" and "403" in i.reason for i in issues)


def test_server_ignoring_offset_does_not_loop(elab) -> None:
    uri, state = elab
    state.ignore_offset = True
    assets, _ = scan(uri, settings(), page_size=2)
    assert len(assets) == 4  # first page of each type, then the repeat is noticed


def test_server_capping_the_page_size_still_gives_everything(elab) -> None:
    uri, state = elab
    state.max_limit = 1  # asked for 2 per page, the server sends 1
    assets, _ = scan(uri, settings(), page_size=2)
    assert len(assets) == 6


def test_groups_by_team_rule(elab) -> None:
    uri, _ = elab
    rules = [AccessRule(prefix=f"{uri}/team/1", groups=["metabolism-lab"])]
    assets, _ = scan(uri, settings(access_rules=rules))
    host = uri.removeprefix("elabftw+http://")
    assert assets[f"elabftw:{host}:experiments:1"].groups == ["metabolism-lab"]
    assert assets[f"elabftw:{host}:experiments:2"].groups == []  # team 2: fail closed
    assert assets[f"elabftw:{host}:experiments:1"].rule_keys == [uri, f"{uri}/team/1"]


def test_wrong_or_missing_key(elab) -> None:
    uri, _ = elab
    wrong = Settings(elabftw_api_key=SecretStr("not-the-key"))
    with pytest.raises(SourceError, match="LABSEARCH_ELABFTW_API_KEY") as error:
        list(ElabFTWSource(uri, wrong).scan())
    assert "401" in str(error.value) and "No corresponding API key found" in str(error.value)
    with pytest.raises(SourceError, match="LABSEARCH_ELABFTW_API_KEY"):
        list(ElabFTWSource(uri, Settings(elabftw_api_key=None)).scan())


def test_unreachable_server_and_bad_uri() -> None:
    with pytest.raises(SourceError, match="cannot reach eLabFTW"):
        list(ElabFTWSource("elabftw+http://127.0.0.1:9", settings()).scan())
    with pytest.raises(SourceError, match="not an eLabFTW source"):
        ElabFTWSource("elabftw://host", settings())


def test_html_to_text() -> None:
    html = "<p>a&amp;b</p><table><tr><td>x</td><td>y</td></tr></table><style>p{}</style>"
    assert html_to_text(html) == "a&b\nx y"


def test_polling_reads_only_what_changed_since_the_last_poll(elab) -> None:
    uri, state = elab
    source = ElabFTWSource(uri, settings(), page_size=2)
    everything, newest = source.changed_since(None)
    assert sorted(everything) == [f"{t}:{i}" for t in ("experiments", "items") for i in (1, 2, 3)]
    assert newest == datetime(2024, 4, 2, 11, 11, 11, tzinfo=UTC)

    state.requests.clear()
    state.entities["items"][2]["modified_at"] = "2024-05-01 09:30:00"
    changed, newest = source.changed_since(newest)
    # Entries changed in the second of the last poll are read again (times have whole seconds).
    assert changed == ["experiments:3", "items:3"]
    assert newest == datetime(2024, 5, 1, 9, 30, tzinfo=UTC)
    listings = [path for path, _ in state.requests if path.count("/") == 3]
    assert len(listings) == 2  # one page per type: the listing is newest-first


def test_reading_changed_entries_again_and_dropping_deleted_ones(elab) -> None:
    uri, state = elab
    source = ElabFTWSource(uri, settings(), page_size=2)
    state.entities["experiments"][0]["title"] = "Renamed: liver RNA-seq"
    del state.entities["items"][1]
    part = source.scan_part(["experiments:1", "items:2", "nonsense", "items:x"])
    assert part.roots == [source.asset_id("experiments", 1), source.asset_id("items", 2)]
    assets = list(part.items)
    assert [a.title for a in assets] == ["Renamed: liver RNA-seq"]  # items:2 is gone (404)
