"""Access-rule changes reach stored assets without reading sources or embedding.

Real sources (a directory of files, an ELN export whose records partly name their own groups),
the real model and both stores: rules A give `lab-a`, then rules B give `lab-b`; applying B must
move every rule-derived asset to `lab-b`, leave records with their own groups alone, embed
nothing, and leave hashes the next index run accepts as unchanged.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from opensearch_fixtures import *  # noqa: F403 - pytest fixtures, used by name
from opensearch_fixtures import opensearch_settings
from typer.testing import CliRunner

from indexer.jobs import apply_rules, run_index
from indexer.locks import writer_lock
from indexer.pipeline import Indexer
from indexer.regroup import apply_access_rules, apply_if_rules_changed, rules_changed
from labsearch.access import Access
from labsearch.embeddings import Embedder
from labsearch.settings import AccessRule, Settings, get_settings
from labsearch.stores import open_store
from labsearch.stores.protocol import AssetStore, SearchMode, SearchRequest
from shell.cli import app

LAB_A = Access.for_groups(["lab-a"], user="alice")
LAB_B = Access.for_groups(["lab-b"], user="bob")
OWNERS = Access.for_groups(["owners"], user="olga")
OPERATOR = Access.as_operator()

RECORDS = [
    {"id": "E-1", "type": "experiment", "title": "Liver okapi study", "project": "metabolism"},
    {
        "id": "E-2",
        "type": "experiment",
        "title": "Okapi kidney study with its own groups",
        "project": "metabolism",
        "access_groups": ["owners"],
    },
    {"id": "E-3", "type": "sample", "title": "Okapi serum sample", "project": "imaging"},
]


def rules(group: str, data: Path, *, imaging: bool = False) -> list[AccessRule]:
    """The directory and the metabolism project go to `group` (and imaging, if asked)."""
    found = [
        AccessRule(prefix=str(data), groups=[group]),
        AccessRule(prefix="metabolism", groups=[group]),
    ]
    if imaging:
        found.append(AccessRule(prefix="imaging", groups=[group]))
    return found


@pytest.fixture
def lab(tmp_path: Path) -> dict[str, str | Path]:
    """A directory source and an ELN export source."""
    data = tmp_path / "data"
    (data / "runs").mkdir(parents=True)
    (data / "runs" / "okapi-notes.txt").write_text("Okapi liver notes, sequencing run 7.\n")
    (data / "runs" / "counts.csv").write_text("gene,okapi\nActb,12\n")
    export = tmp_path / "eln" / "lab.jsonl"
    export.parent.mkdir()
    export.write_text("\n".join(json.dumps(r) for r in RECORDS) + "\n")
    return {"data": data, "files": data.as_uri(), "eln": f"eln+file://{export}"}


@pytest.fixture(params=["embedded", pytest.param("opensearch", marks=pytest.mark.integration)])
def base_settings(request, settings: Settings, tmp_path: Path) -> Settings:
    """Settings for each backend, with the real default model."""
    if request.param == "embedded":
        return settings
    node = request.getfixturevalue("opensearch_node")
    alias = request.getfixturevalue("index_alias")
    return opensearch_settings(node, alias, tmp_path, model=settings.model)


@pytest.fixture
def embed_calls(monkeypatch) -> list[int]:
    """Every call of Embedder.embed (by any embedder), with how many texts it got: the real
    embedder still runs, this only counts."""
    calls: list[int] = []
    original = Embedder.embed

    def counting(self: Embedder, texts):
        calls.append(len(texts))
        return original(self, texts)

    monkeypatch.setattr(Embedder, "embed", counting)
    return calls


@pytest.fixture
def store(base_settings: Settings, embedder: Embedder) -> Iterator[AssetStore]:
    store = open_store(base_settings, embedder.dimension)
    yield store
    store.close()


def index_all(settings: Settings, store: AssetStore, embedder: Embedder, lab) -> list:
    indexer = Indexer(settings, store, embedder, progress=None)
    try:
        return [indexer.index(lab["files"]), indexer.index(lab["eln"])]
    finally:
        indexer.close()


def visible(store: AssetStore, access: Access) -> set[str]:
    return {asset.id for asset in store.match(None, access).assets}


def test_rule_change_moves_assets_with_zero_embedding_calls(
    base_settings, store, embedder, lab, embed_calls
):
    settings_a = base_settings.with_overrides(access_rules=rules("lab-a", lab["data"]))
    first = index_all(settings_a, store, embedder, lab)
    assert all(report.ok for report in first), [r.errors for r in first]
    everything = visible(store, OPERATOR)
    own = {"eln:lab:E-2"}
    nobody = {"eln:lab:E-3"}  # no rule matches imaging under A: fail closed
    ruled_a = everything - own - nobody
    assert visible(store, LAB_A) == ruled_a and ruled_a
    assert visible(store, LAB_B) == set()
    query = embedder.embed_query("okapi liver")  # computed before counting starts
    embed_calls.clear()
    computed = embedder.computed

    settings_b = base_settings.with_overrides(
        access_rules=rules("lab-b", lab["data"], imaging=True)
    )
    indexer = Indexer(settings_b, store, embedder, progress=None)
    report = apply_access_rules(settings_b, store, indexer.model_key)

    assert embed_calls == [] and embedder.computed == computed, "applying rules embeds nothing"
    assert (report.changed, report.ruled, report.own) == (len(ruled_a) + 1, len(ruled_a) + 1, 1)
    assert visible(store, LAB_B) == ruled_a | nobody
    assert visible(store, LAB_A) == set()
    for mode in (SearchMode.BM25, SearchMode.DENSE, SearchMode.HYBRID):
        request = SearchRequest(text="okapi", vector=query.tolist(), mode=mode, k=50)
        assert store.search(request, LAB_A) == [], mode
        assert {hit.asset.id for hit in store.search(request, LAB_B)} <= ruled_a | nobody
    assert store.facets(["kind"], LAB_A) == {"kind": {}}
    # A record naming its own groups keeps them: rules never override it.
    kept = store.get("eln:lab:E-2", OWNERS)
    assert kept is not None and kept.groups == ["owners"] and kept.rule_keys is None
    assert store.get("eln:lab:E-2", LAB_B) is None

    # The next index run reads the sources and finds nothing to write or embed.
    again = [indexer.index(lab["files"]), indexer.index(lab["eln"])]
    indexer.close()
    assert [(r.added, r.updated, r.deleted) for r in again] == [(0, 0, 0), (0, 0, 0)]
    assert sum(r.unchanged for r in again) == len(everything)
    assert embed_calls == [] and embedder.computed == computed


def test_unchanged_rules_change_nothing(base_settings, store, embedder, lab):
    settings_a = base_settings.with_overrides(access_rules=rules("lab-a", lab["data"]))
    index_all(settings_a, store, embedder, lab)
    before = {a.id: h for a_batch in store.iter_assets() for a, h in _pairs(a_batch)}
    model_key = Indexer(settings_a, store, embedder, progress=None).model_key
    report = apply_access_rules(settings_a, store, model_key)
    assert report.changed == 0 and report.ruled == len(before) - 1
    after = {a.id: h for a_batch in store.iter_assets() for a, h in _pairs(a_batch)}
    assert after == before


def _pairs(batch):
    return [(item.asset, item.content_hash) for item in batch]


def test_an_asset_waiting_for_new_vectors_is_still_re_embedded(settings, embedder, lab):
    """Applying rules under another model key must not mark a stale asset as current."""
    settings_a = settings.with_overrides(access_rules=rules("lab-a", lab["data"]))
    store = open_store(settings_a, embedder.dimension)
    try:
        index_all(settings_a, store, embedder, lab)
        settings_b = settings.with_overrides(access_rules=rules("lab-b", lab["data"]))
        apply_access_rules(settings_b, store, "an-older-model|2000|1")
        assert store.get("eln:lab:E-1", LAB_B) is not None, "visibility changes at once"
        report = Indexer(settings_b, store, embedder, progress=None).index(lab["eln"])
        assert report.updated == 1 and report.unchanged == 2  # E-1 is written again
    finally:
        store.close()


def test_index_run_applies_changed_rules_first(base_settings, embedder, lab, embed_calls):
    settings_a = base_settings.with_overrides(access_rules=rules("lab-a", lab["data"]))
    assert rules_changed(settings_a)
    first = run_index(settings_a, [lab["files"], lab["eln"]])
    assert all(r.ok for r in first)
    assert not rules_changed(settings_a), "the rules the index was built with are recorded"
    files = {f"file://{p}" for p in (lab["data"] / "runs").iterdir()}

    settings_b = base_settings.with_overrides(access_rules=rules("lab-b", lab["data"]))
    assert rules_changed(settings_b)
    embed_calls.clear()
    # Only the ELN export is indexed, yet the files' assets follow the new rules too.
    (report,) = run_index(settings_b, [lab["eln"]])
    assert (report.added, report.updated) == (0, 0), "groups were applied before the sync"
    assert embed_calls == []
    assert not rules_changed(settings_b)
    store = open_store(settings_b, embedder.dimension)
    try:
        assert files <= visible(store, LAB_B)
        assert visible(store, LAB_A) == set()
    finally:
        store.close()
    (files_report,) = run_index(settings_b, [lab["files"]])
    assert (files_report.updated, files_report.unchanged) == (0, len(files))
    assert embed_calls == []


def test_apply_if_rules_changed_runs_once_per_change(settings, embedder, lab):
    settings_a = settings.with_overrides(access_rules=rules("lab-a", lab["data"]))
    store = open_store(settings_a, embedder.dimension)
    try:
        index_all(settings_a, store, embedder, lab)
        key = Indexer(settings_a, store, embedder, progress=None).model_key
        assert apply_if_rules_changed(settings_a, store, key) is not None  # never recorded
        assert apply_if_rules_changed(settings_a, store, key) is None
        settings_b = settings_a.with_overrides(public_sources=[lab["eln"]])
        report = apply_if_rules_changed(settings_b, store, key)
        assert report is not None and report.changed == 1  # E-3: public now
        assert store.get("eln:lab:E-3", Access.for_groups(["anyone"])) is not None
        assert apply_if_rules_changed(settings_b, store, key) is None
    finally:
        store.close()


# ---------------------------------------------------------------------- the CLI

runner = CliRunner()


def write_config(path: Path, group: str, data: Path) -> None:
    tables = [
        f'[[access_rules]]\nprefix = "{prefix}"\ngroups = ["{group}"]\n'
        for prefix in (str(data), "metabolism")
    ]
    path.write_text("\n".join(tables))


def test_cli_access_apply(settings, embedder, lab, tmp_path, monkeypatch):
    config = tmp_path / "labsearch.toml"
    write_config(config, "lab-a", lab["data"])
    monkeypatch.setenv("LABSEARCH_HOME", str(settings.home))
    monkeypatch.setenv("LABSEARCH_CACHE_DIR", str(settings.cache_dir))
    monkeypatch.setenv("LABSEARCH_CONFIG", str(config))
    get_settings.cache_clear()
    run_index(get_settings(), [lab["files"], lab["eln"]])

    write_config(config, "lab-b", lab["data"])
    get_settings.cache_clear()
    result = runner.invoke(app, ["access", "apply"])
    assert result.exit_code == 0, result.output
    assert "3 assets changed groups" in result.output  # two files and E-1
    assert "1 name their own groups" in result.output
    store = open_store(get_settings(), embedder.dimension)
    try:
        assert store.get("eln:lab:E-1", LAB_B) is not None
    finally:
        store.close()

    with writer_lock(settings.home):  # another writer: a clear error, nothing half-done
        result = runner.invoke(app, ["access", "apply"])
    assert result.exit_code == 2
    assert "another `labsearch index`" in result.output
    get_settings.cache_clear()


def test_apply_rules_job_takes_the_writer_lock(settings, lab):
    with writer_lock(settings.home), pytest.raises(Exception, match="another `labsearch index`"):
        apply_rules(settings)


def test_hash_of_an_asset_naming_its_own_groups_did_not_change_with_rule_keys():
    """Upgrading rewrites only assets whose groups come from rules (to record their keys)."""
    import hashlib

    from labsearch.schema import Asset, Provenance

    asset = Asset(
        id="x", source="s", kind="file", title="t", provenance=Provenance(source="s"), groups=["g"]
    )
    payload = asset.model_dump(mode="json", exclude={"created_at", "updated_at", "rule_keys"})
    payload["_model"] = "m"
    blob = json.dumps(payload, sort_keys=True, ensure_ascii=False, default=str)
    assert asset.content_hash("m") == hashlib.sha256(blob.encode()).hexdigest()
    ruled = asset.model_copy(update={"rule_keys": ["s"]})
    assert ruled.content_hash("m") != asset.content_hash("m")
