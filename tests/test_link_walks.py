"""Entity resolution over typed links, across hops and in both directions: a file a run produced
belongs to the samples the run used; a study's files are the files of its assays; nothing comes
in sideways (a sample's sibling through a shared run is not its child)."""

from __future__ import annotations

import pytest
from api_fixtures import add_assets

from labsearch.access import Access
from labsearch.schema import Asset, AssetKind, Entity, Link, LinkType, Provenance
from labsearch.settings import Settings
from labsearch.stores import open_store
from retriever.service import SearchService

LAB = Access.for_groups(["lab-a"], user="alice")
SOURCE = "eln+file:///records.jsonl"


def record(asset_id: str, entity: Entity, kind: AssetKind, *links: tuple[LinkType, str]) -> Asset:
    name = asset_id.rsplit(":", 1)[-1]
    return Asset(
        id=asset_id,
        source=SOURCE,
        kind=kind,
        entity=entity,
        title=name,
        text=f"record {name}",
        identifiers=[name],
        links=[Link(rel=rel, target=target) for rel, target in links],
        provenance=Provenance(source=SOURCE),
        groups=["lab-a"],
    )


CORPUS = [
    record("eln:x:SMP-0001", Entity.SAMPLE, AssetKind.SAMPLE),
    record("eln:x:SMP-0002", Entity.SAMPLE, AssetKind.SAMPLE),
    record("eln:x:SMP-0003", Entity.SAMPLE, AssetKind.SAMPLE),
    # RUN-0001 pooled samples 1 and 2 and produced two files; RUN-0002 used sample 3.
    record(
        "eln:x:RUN-0001",
        Entity.RUN,
        AssetKind.EXPERIMENT,
        (LinkType.USES_SAMPLE, "eln:x:SMP-0001"),
        (LinkType.USES_SAMPLE, "eln:x:SMP-0002"),
        (LinkType.PRODUCED, "eln:x:FILE-0001"),
        (LinkType.PRODUCED, "eln:x:FILE-0002"),
    ),
    record(
        "eln:x:RUN-0002",
        Entity.RUN,
        AssetKind.EXPERIMENT,
        (LinkType.USES_SAMPLE, "eln:x:SMP-0003"),
        (LinkType.PRODUCED, "eln:x:FILE-0003"),
    ),
    record("eln:x:FILE-0001", Entity.FILE, AssetKind.FILE),
    record("eln:x:FILE-0002", Entity.FILE, AssetKind.FILE),
    record("eln:x:FILE-0003", Entity.FILE, AssetKind.FILE),
    # A study, its assay, the assay's file.
    record("eln:x:STD-0001", Entity.EXPERIMENT, AssetKind.STUDY),
    record(
        "eln:x:ASY-0001", Entity.EXPERIMENT, AssetKind.ASSAY, (LinkType.PART_OF, "eln:x:STD-0001")
    ),
    record("eln:x:FILE-0009", Entity.FILE, AssetKind.FILE, (LinkType.PART_OF, "eln:x:ASY-0001")),
]


@pytest.fixture(scope="module")
def service(tmp_path_factory, embedder):
    home = tmp_path_factory.mktemp("walks")
    settings = Settings(home=home, cache_dir=home / "cache", backend="embedded")
    store = open_store(settings, embedder.dimension)
    add_assets(store, embedder, CORPUS)
    yield SearchService(settings, store, embedder)
    store.close()


def members(service, question: str) -> set[str]:
    answer = service.answer(question, LAB)
    assert answer.result is not None and answer.result.complete, question
    return {m.title for m in answer.result.members}


def test_files_of_a_sample_through_the_run_that_used_it(service):
    assert members(service, "which files came from sample SMP-0001?") == {"FILE-0001", "FILE-0002"}
    assert members(service, "which files came from sample SMP-0003?") == {"FILE-0003"}


def test_samples_of_a_file_through_the_run_that_produced_it(service):
    assert members(service, "which samples went into FILE-0002?") == {"SMP-0001", "SMP-0002"}


def test_a_shared_run_does_not_make_samples_of_each_other(service):
    # Walks go one way: down from SMP-0001 reaches the run and its files, never back up to
    # SMP-0002, the other sample of the same run.
    assert members(service, "which runs used sample SMP-0001?") == {"RUN-0001"}
    assert members(service, "which samples were in run RUN-0001?") == {"SMP-0001", "SMP-0002"}


def test_files_of_a_study_through_its_assays(service):
    assert members(service, "list the files of study STD-0001") == {"FILE-0009"}
