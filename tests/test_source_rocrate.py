"""RO-Crate source (rocrate+file://) on a crate of a sequencing run and its analysis, written in
tmp_path in the RO-Crate 1.1 layout (a flat @graph; a CreateAction per step with its
instrument, object and result), and on broken metadata documents."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from source_helpers import split_scan

from indexer.sources.ro_crate import RoCrateSource
from labsearch.errors import SourceError
from labsearch.schema import AssetKind, Entity, LinkType
from labsearch.settings import AccessRule, Settings

CLEAN = Settings(access_rules=[], public_sources=[])


def ref(entity_id: str) -> dict[str, str]:
    return {"@id": entity_id}


def crate_graph() -> list[dict[str, Any]]:
    return [
        {
            "@id": "ro-crate-metadata.json",
            "@type": "CreativeWork",
            "conformsTo": ref("https://w3id.org/ro/crate/1.1"),
            "about": ref("./"),
        },
        {
            "@id": "./",
            "@type": "Dataset",
            "name": "Liver RNA-seq, batch 3",
            "description": "Bulk RNA-seq of mouse liver after dexamethasone.",
            "datePublished": "2024-03-01",
            "license": ref("https://spdx.org/licenses/CC-BY-4.0"),
            "hasPart": [ref("raw/"), ref("counts.tsv"), ref("qc/run%20report.html")],
        },
        {"@id": "raw/", "@type": "Dataset", "name": "Raw reads", "hasPart": [ref("raw/R1.fq.gz")]},
        {
            "@id": "raw/R1.fq.gz",
            "@type": "File",
            "encodingFormat": "application/gzip",
            "contentSize": "4",
        },
        {"@id": "counts.tsv", "@type": "File", "name": "Gene counts"},
        {"@id": "qc/run%20report.html", "@type": "File", "name": "QC report"},
        {
            "@id": "#sequencing-1",
            "@type": "CreateAction",
            "name": "Sequencing of LIV-0042",
            "instrument": ref("#novaseq"),
            "object": ref("#LIV-0042"),
            "result": [ref("raw/R1.fq.gz")],
            "agent": ref("https://orcid.org/0000-0002-1825-0097"),
            "startTime": "2024-02-10T08:00:00Z",
            "endTime": "2024-02-10T18:00:00Z",
        },
        {
            "@id": "#quant-1",
            "@type": "CreateAction",
            "instrument": ref("#nf-core-rnaseq"),
            "object": [ref("raw/R1.fq.gz")],
            "result": [ref("counts.tsv"), ref("qc/run%20report.html")],
        },
        {"@id": "#novaseq", "@type": "IndividualProduct", "name": "Illumina NovaSeq 6000"},
        {"@id": "#nf-core-rnaseq", "@type": "SoftwareApplication", "name": "nf-core/rnaseq"},
        {
            "@id": "#LIV-0042",
            "@type": "BioSample",
            "name": "LIV-0042",
            "identifier": "SAMEA6812327",
            "additionalProperty": [
                {"@type": "PropertyValue", "name": "organism", "value": "Mus musculus"},
                {"@type": "PropertyValue", "name": "tissue", "value": "liver"},
            ],
        },
        {"@id": "https://orcid.org/0000-0002-1825-0097", "@type": "Person", "name": "J. Carberry"},
        {
            "@id": "https://spdx.org/licenses/CC-BY-4.0",
            "@type": "CreativeWork",
            "name": "CC BY 4.0",
        },
    ]


def write_crate(root: Path, graph: list[dict[str, Any]], name: str = "ro-crate-metadata.json"):
    (root / "raw").mkdir(parents=True, exist_ok=True)
    (root / "qc").mkdir(exist_ok=True)
    (root / "raw" / "R1.fq.gz").write_bytes(b"@r1\n")
    (root / "counts.tsv").write_text("gene\tLIV-0042\nAlb\t100\n")
    (root / "qc" / "run report.html").write_text("<html></html>")
    document = {"@context": "https://w3id.org/ro/crate/1.1/context", "@graph": graph}
    (root / name).write_text(json.dumps(document, indent=1), encoding="utf-8")
    return root


@pytest.fixture
def crate(tmp_path: Path) -> Path:
    return write_crate(tmp_path / "liver crate", crate_graph())


def test_datasets_and_files_with_their_parts(crate):
    assets, issues = split_scan(RoCrateSource(f"rocrate+file://{crate}", CLEAN))
    assert issues == []
    prefix = f"rocrate:{crate}#"
    assert sorted(assets) == sorted(
        prefix + i
        for i in (
            "./",
            "raw/",
            "raw/R1.fq.gz",
            "counts.tsv",
            "qc/run%20report.html",
            "#sequencing-1",
            "#quant-1",
            "#LIV-0042",
        )
    )
    root = assets[prefix + "./"]
    assert (root.kind, root.entity) == (AssetKind.PACKAGE, Entity.DATASET)
    assert root.title == "Liver RNA-seq, batch 3"
    assert root.metadata["license"] == "CC BY 4.0" and root.metadata["date"] == "2024-03-01"
    assert root.links == []
    assert assets[prefix + "raw/"].linked(LinkType.PART_OF) == [root.id]
    fastq = assets[prefix + "raw/R1.fq.gz"]
    assert (fastq.kind, fastq.entity) == (AssetKind.FILE, Entity.FILE)
    assert fastq.linked(LinkType.PART_OF) == [prefix + "raw/"]
    assert fastq.provenance.path == str(crate / "raw" / "R1.fq.gz")
    assert fastq.metadata["size"] == 4
    report = assets[prefix + "qc/run%20report.html"]  # a URL-encoded @id names a local file
    assert report.provenance.path == str(crate / "qc" / "run report.html")
    assert "run report.html" in report.identifiers


def test_create_actions_are_runs_linked_to_samples_inputs_and_results(crate):
    assets, _ = split_scan(RoCrateSource(f"rocrate+file://{crate}", CLEAN))
    prefix = f"rocrate:{crate}#"
    sequencing = assets[prefix + "#sequencing-1"]
    assert (sequencing.kind, sequencing.entity) == (AssetKind.EXPERIMENT, Entity.RUN)
    assert sequencing.title == "Sequencing of LIV-0042"
    assert sequencing.metadata["instrument"] == "Illumina NovaSeq 6000"
    assert sequencing.metadata["agent"] == "J. Carberry"
    assert sequencing.metadata["date"] == "2024-02-10"
    assert sequencing.metadata["samples"] == ["LIV-0042", "SAMEA6812327"]
    assert sequencing.linked(LinkType.USES_SAMPLE) == [prefix + "#LIV-0042"]
    assert sequencing.linked(LinkType.PRODUCED) == [prefix + "raw/R1.fq.gz"]
    quant = assets[prefix + "#quant-1"]
    assert quant.title == "Run quant-1 on nf-core/rnaseq"
    assert quant.linked(LinkType.DERIVED_FROM) == [prefix + "raw/R1.fq.gz"]
    assert quant.linked(LinkType.PRODUCED) == [
        prefix + "counts.tsv",
        prefix + "qc/run%20report.html",
    ]
    sample = assets[prefix + "#LIV-0042"]
    assert (sample.kind, sample.entity) == (AssetKind.SAMPLE, Entity.SAMPLE)
    assert sample.metadata["organism"] == "Mus musculus" and sample.metadata["tissue"] == "liver"
    assert {"LIV-0042", "SAMEA6812327"} <= set(sample.identifiers)


def test_result_files_inherit_samples_through_every_step(crate):
    """ "Which files came from sample LIV-0042": the FASTQ made from it, and the counts made
    from that FASTQ."""
    assets, _ = split_scan(RoCrateSource(f"rocrate+file://{crate}", CLEAN))
    prefix = f"rocrate:{crate}#"
    for file_id in ("raw/R1.fq.gz", "counts.tsv"):
        asset = assets[prefix + file_id]
        assert asset.linked(LinkType.USES_SAMPLE) == [prefix + "#LIV-0042"]
        assert asset.metadata["samples"] == ["LIV-0042", "SAMEA6812327"]
    assert assets[prefix + "raw/R1.fq.gz"].metadata["instrument"] == "Illumina NovaSeq 6000"
    counts = assets[prefix + "counts.tsv"]
    assert counts.linked(LinkType.DERIVED_FROM) == [prefix + "raw/R1.fq.gz"]
    assert counts.metadata["instrument"] == "nf-core/rnaseq"


def test_bad_entities_are_issues_and_the_rest_is_indexed(tmp_path):
    graph = crate_graph()
    graph[6] = {k: v for k, v in graph[6].items() if k != "@type"}  # #sequencing-1 untyped
    graph.append({"name": "an entity without an id"})
    graph.append({"@id": "counts.tsv", "@type": "File", "name": "again"})
    root = write_crate(tmp_path / "crate", graph)
    assets, issues = split_scan(RoCrateSource(f"rocrate+file://{root}", CLEAN))
    prefix = f"rocrate:{root}#"
    assert prefix + "#sequencing-1" not in assets
    assert assets[prefix + "counts.tsv"].title == "Gene counts"  # the first description wins
    assert prefix + "#quant-1" in assets
    found = {(i.location, i.field): i for i in issues}
    assert set(found) == {
        ("ro-crate-metadata.json #sequencing-1", "@type"),
        ("ro-crate-metadata.json @graph[13]", "@id"),
        ("ro-crate-metadata.json @graph[14]", "@id"),
    }
    assert found["ro-crate-metadata.json #sequencing-1", "@type"].keep == prefix + "#sequencing-1"


def test_unreadable_metadata_keeps_the_indexed_crate(tmp_path):
    (tmp_path / "ro-crate-metadata.json").write_text('{"@graph": [', encoding="utf-8")
    assets, issues = split_scan(RoCrateSource(f"rocrate+file://{tmp_path}", CLEAN))
    [issue] = issues
    assert assets == {} and issue.location == "ro-crate-metadata.json"
    assert "invalid JSON at line 1" in issue.reason and issue.keep == f"rocrate:{tmp_path}"
    with pytest.raises(SourceError, match="no ro-crate-metadata.json"):
        list(RoCrateSource(f"rocrate+file://{tmp_path}/elsewhere", CLEAN).scan())


def test_legacy_name_the_document_itself_and_groups(tmp_path):
    root = write_crate(tmp_path / "old", crate_graph(), name="ro-crate-metadata.jsonld")
    settings = Settings(
        access_rules=[AccessRule(prefix=str(root), groups=["lab-a"])], public_sources=[]
    )
    by_dir, _ = split_scan(RoCrateSource(f"rocrate+file://{root}", settings))
    by_file, _ = split_scan(
        RoCrateSource(f"rocrate+file://{root}/ro-crate-metadata.jsonld", settings)
    )
    assert sorted(by_dir) == sorted(by_file) and len(by_dir) == 8
    assert {tuple(a.groups) for a in by_dir.values()} == {("lab-a",)}
    assert all(a.rule_keys and str(root) in a.rule_keys for a in by_dir.values())
