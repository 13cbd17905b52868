"""The retrieval service on a small real corpus: exact identifiers first, complete entity answers,
permissions, citations with links."""

from __future__ import annotations

import pytest

from labsearch.access import Access
from labsearch.models import SearchRequestModel
from labsearch.schema import Asset, AssetKind, DataLevel, Entity, Link, LinkType, Provenance
from labsearch.stores import open_store
from labsearch.stores.protocol import IndexedAsset
from retriever.service import SearchService

REGISTRY = "s3://lab-bucket"
ALICE = Access.for_groups(["lab-a"], user="alice")
BOB = Access.for_groups(["lab-b"], user="bob")


def run_package(run_id, samples, instrument, date, lab, data_level="raw"):
    name = f"{lab}/raw-run-{run_id}"
    return Asset(
        id=f"quilt:{REGISTRY}#{name}",
        source=f"quilt+{REGISTRY}",
        kind=AssetKind.PACKAGE,
        entity=Entity.RUN,
        title=f"Sequencing run {run_id}",
        text=f"{instrument} run {run_id} of samples {', '.join(samples)}",
        metadata={"run_id": run_id, "samples": samples, "instrument": instrument, "date": date},
        identifiers=[run_id, name, *samples],
        data_level=DataLevel(data_level),
        provenance=Provenance(
            source=f"quilt+{REGISTRY}",
            registry=REGISTRY,
            package=name,
            top_hash="abc123" + run_id,
            s3_uri=f"{REGISTRY}/.quilt/packages/{run_id}",
            version_id="v-" + run_id,
        ),
        groups=[lab],
    )


def sample_record(sample_id, lab, text):
    return Asset(
        id=f"eln:notebook:{sample_id}",
        source="eln+file:///notebook.jsonl",
        kind=AssetKind.SAMPLE,
        entity=Entity.SAMPLE,
        title=f"Sample {sample_id}",
        text=text,
        identifiers=[sample_id],
        provenance=Provenance(
            source="eln+file:///notebook.jsonl", eln_url=f"https://eln/{sample_id}"
        ),
        groups=[lab],
    )


CORPUS = [
    run_package("RUN-001", ["LIV-0042", "LIV-0043"], "NovaSeq 6000", "2026-01-10", "lab-a"),
    run_package("RUN-002", ["LIV-0042"], "HiSeq 2500", "2026-02-11", "lab-a"),
    run_package("RUN-003", ["LIV-0044"], "NovaSeq 6000", "2026-03-12", "lab-a"),
    run_package("RUN-004", ["PBMC-0311"], "NovaSeq 6000", "2026-03-13", "lab-b"),
    run_package("RUN-005", ["PBMC-0312"], "MiSeq", "2026-04-14", "lab-b"),
    sample_record("LIV-0042", "lab-a", "Mouse liver, dexamethasone 24 h, replicate 1."),
    sample_record("PBMC-0311", "lab-b", "Human PBMC, donor 7, stimulated with LPS."),
    Asset(
        id="eln:notebook:RUN-009",
        source="eln+file:///notebook.jsonl",
        kind=AssetKind.EXPERIMENT,
        entity=Entity.RUN,
        title="Resequencing run (ELN record)",
        text="Run record linking to sample LIV-0042 by asset link only.",
        links=[Link(rel=LinkType.USES_SAMPLE, target="eln:notebook:LIV-0042")],
        provenance=Provenance(source="eln+file:///notebook.jsonl"),
        groups=["lab-a"],
    ),
    Asset(
        id="file:///data/protocols/liver-dex.md",
        source="file:///data/protocols",
        kind=AssetKind.FILE,
        entity=Entity.FILE,
        title="Protocol: dexamethasone treatment of mouse liver",
        text="Glucocorticoid dexamethasone injection protocol, liver harvest and RNA extraction.",
        provenance=Provenance(source="file:///data/protocols", path="/data/protocols/liver-dex.md"),
        groups=["public"],
    ),
]


@pytest.fixture(scope="module")
def service(tmp_path_factory, embedder):
    from labsearch.settings import Settings

    home = tmp_path_factory.mktemp("home")
    settings = Settings(home=home, cache_dir=home / "cache", catalog_url="https://catalog.lab")
    store = open_store(settings, embedder.dimension)
    vectors = embedder.embed([a.embedding_text() for a in CORPUS])
    store.upsert(
        [
            IndexedAsset(a, v.tolist(), a.content_hash(settings.model))
            for a, v in zip(CORPUS, vectors, strict=True)
        ]
    )
    yield SearchService(settings, store, embedder)
    store.close()


def test_identifier_in_query_ranks_its_asset_first(service):
    hits = service.rank("what happened with RUN-003", ALICE, k=3)
    assert hits[0].id.endswith("raw-run-RUN-003")
    assert hits[0].exact


def test_meaning_search_finds_the_protocol(service):
    hits = service.rank("glucocorticoid treatment of liver", ALICE, k=3)
    assert "Protocol" in hits[0].title


def test_runs_for_sample_is_the_complete_set_across_sources(service):
    answer = service.answer("which runs used sample LIV-0042?", ALICE)
    result = answer.result
    assert result is not None and result.complete
    assert {m.id for m in result.members} == {
        f"quilt:{REGISTRY}#lab-a/raw-run-RUN-001",
        f"quilt:{REGISTRY}#lab-a/raw-run-RUN-002",
        "eln:notebook:RUN-009",  # linked to the sample's asset, not by identifier
    }
    assert result.count == 3
    assert {c.asset_id for c in answer.citations} == {m.id for m in result.members}


def test_citations_carry_openable_links(service):
    answer = service.answer("which runs used sample LIV-0042?", ALICE)
    by_id = {c.asset_id: c for c in answer.citations}
    run = by_id[f"quilt:{REGISTRY}#lab-a/raw-run-RUN-001"]
    assert run.s3_uri == f"{REGISTRY}/.quilt/packages/RUN-001?versionId=v-RUN-001"
    assert run.catalog_url == (
        "https://catalog.lab/b/lab-bucket/packages/lab-a/raw-run-RUN-001/tree/abc123RUN-001/"
    )
    assert run.package == "lab-a/raw-run-RUN-001" and run.top_hash == "abc123RUN-001"


def test_count_on_instrument_counts_only_visible_runs(service):
    alice = service.answer("how many runs on the NovaSeq?", ALICE).result
    bob = service.answer("how many runs on the NovaSeq?", BOB).result
    assert (alice.count, bob.count) == (2, 1)
    assert all("lab-a" in m.id for m in alice.members)


def test_other_labs_samples_are_unknown_to_bob(service):
    answer = service.answer("which runs used sample LIV-0042?", BOB)
    assert answer.result is None or answer.result.count == 0
    assert all("lab-a" not in c.asset_id for c in answer.citations)
    response = service.search(SearchRequestModel(query="LIV-0042", facets=["kind"]), BOB)
    assert all("lab-a" not in hit.id and "LIV-0042" not in hit.id for hit in response.hits)
    assert sum(response.facets.get("kind", {}).values()) <= 3


def test_no_groups_sees_nothing(service):
    nobody = Access.for_groups([])
    assert service.search(SearchRequestModel(query="liver"), nobody).hits == []
    assert service.answer("which runs used sample LIV-0042?", nobody).citations == []


def test_follow_up_narrows_previous_answer(service):
    first = service.answer("which runs used sample LIV-0042?", ALICE)
    follow = service.answer("which of those were on the HiSeq?", ALICE, previous=first)
    assert [m.id for m in follow.result.members] == [f"quilt:{REGISTRY}#lab-a/raw-run-RUN-002"]


def test_filter_only_search_reports_exact_total(service):
    response = service.search(
        SearchRequestModel(filters={"metadata.instrument": "NovaSeq 6000"}, size=1), ALICE
    )
    assert response.total == 2 and len(response.hits) == 1


def test_descriptive_answer_cites_what_it_says(service):
    answer = service.answer("dexamethasone liver protocol", ALICE)
    assert answer.result is None
    assert answer.citations
    assert "[1]" in answer.text
    assert answer.citations[0].title in answer.text
