"""ELN JSON Lines export source: a generated export with good records and broken lines."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from source_helpers import split_scan

from indexer.sources.eln import ElnExportSource
from labsearch.errors import SourceError
from labsearch.schema import AssetKind, Entity, LinkType
from labsearch.settings import AccessRule, Settings

GOOD = [
    {
        "id": "ELN-101",
        "type": "experiment",
        "title": "Liver RNA-seq, fasting vs fed",
        "description": "Bulk RNA-seq of mouse liver after 24 h fasting.",
        "author": "Ada Lovelace",
        "created": "2024-03-01T09:30:00Z",
        "modified": "2024-03-05",
        "project": "metabolism",
        "samples": ["LIV-0001", "LIV-0002", "EXT-9"],
        "runs": ["RUN-7"],
        "packages": [
            {"registry": "s3://lab-bucket", "name": "raw/rnaseq-run-7", "top_hash": "abc"},
            "quilt+file:///data/reg/#final/liver-atlas",
        ],
        "instrument": "NovaSeq 6000",
        "tags": ["rna-seq", "liver"],
        "url": "https://eln.lab/experiments/101",
        "access_groups": ["metabolism-lab"],
        "metadata": {"organism": "Mus musculus", "assay": "RNA-seq", "flowcell": "HXYZ123"},
    },
    {
        "id": "LIV-0001",
        "type": "sample",
        "title": "Liver, mouse 1, fasted",
        "project": "metabolism",
        "experiment": "ELN-101",
        "metadata": {"organism": "Mus musculus", "tissue": "liver"},
    },
    {
        "id": "LIV-0002",
        "type": "sample",
        "title": "Liver, mouse 2, fed",
        "project": "metabolism",
        "metadata": {"organism": "Mus musculus"},
    },
    {
        "id": "RUN-7",
        "type": "run",
        "title": "NovaSeq run 7",
        "experiment": "ELN-101",
        "samples": ["LIV-0001", "LIV-0002"],
        "instrument": "NovaSeq 6000",
        "created": "2024-03-02",
        "project": "imaging-core",
        "metadata": {"data_level": "raw"},
    },
    {
        "id": 42,
        "type": "protocol",
        "title": "Trizol extraction",
        "project": "shared-protocols",
        "metadata": {"species": "Homo sapiens", "run_accession": "SRR5124371"},
    },
]


def write_export(path: Path) -> Path:
    lines = [json.dumps(record).encode() for record in GOOD]
    lines.insert(1, b'{"id": "BROKEN-1", "title": "unterminated')  # line 2: invalid JSON
    lines.insert(3, json.dumps({"type": "sample", "title": "no id"}).encode())  # line 4
    lines.insert(5, b"")  # line 6: blank, ignored
    lines.insert(6, json.dumps({"id": "S-9", "title": "x", "samples": "LIV-1"}).encode())  # 7
    lines.insert(7, '{"id": "BAD-UTF", "title": "caf\u00e9"}'.encode("latin-1"))  # line 8
    lines.append(json.dumps({"id": "ELN-101", "title": "duplicate"}).encode())  # line 11
    lines.append(json.dumps({"id": "P-1", "title": "t", "packages": ["no-hash"]}).encode())  # 12
    lines.append(b"[1, 2]")  # line 13
    path.write_bytes(b"\n".join(lines) + b"\n")
    return path


@pytest.fixture
def export(tmp_path: Path) -> Path:
    return write_export(tmp_path / "lab-export.jsonl")


def scan(export: Path, settings: Settings | None = None):
    # explicit empty rules: the caller's environment or labsearch.toml must not change groups
    config = settings or Settings(access_rules=[], public_sources=[])
    source = ElnExportSource(f"eln+file://{export}", config)
    return split_scan(source)


def test_good_records_become_assets_with_stable_ids(export: Path) -> None:
    assets, _ = scan(export)
    assert sorted(assets) == sorted(f"eln:lab-export:{r['id']}" for r in GOOD)  # 42 becomes "42"
    experiment = assets["eln:lab-export:ELN-101"]
    assert experiment.kind == AssetKind.EXPERIMENT
    assert experiment.entity == Entity.EXPERIMENT
    assert experiment.source == f"eln+file://{export}"
    assert experiment.provenance.eln_url == "https://eln.lab/experiments/101"
    assert experiment.provenance.record_id == "ELN-101"
    assert experiment.created_at is not None and experiment.created_at.isoformat().startswith(
        "2024-03-01T09:30"
    )
    assert experiment.updated_at is not None and experiment.updated_at.date().isoformat() == (
        "2024-03-05"
    )
    assert experiment.groups == ["metabolism-lab"]
    assert assets["eln:lab-export:42"].kind == AssetKind.EXPERIMENT
    assert assets["eln:lab-export:42"].entity is None  # "protocol" is not an entity


def test_normalized_metadata_and_identifiers(export: Path) -> None:
    assets, _ = scan(export)
    experiment = assets["eln:lab-export:ELN-101"]
    meta = experiment.metadata
    assert meta["experiment_id"] == "ELN-101"
    assert meta["samples"] == ["LIV-0001", "LIV-0002", "EXT-9"]
    assert meta["instrument"] == "NovaSeq 6000"
    assert meta["project"] == "metabolism"
    assert meta["organism"] == "Mus musculus"
    assert meta["assay"] == "RNA-seq"
    assert meta["date"] == "2024-03-01"
    assert meta["run_id"] == "RUN-7"
    assert meta["flowcell"] == "HXYZ123"  # free metadata kept verbatim
    for identifier in ("ELN-101", "LIV-0001", "EXT-9", "RUN-7", "raw/rnaseq-run-7", "HXYZ123"):
        assert identifier in experiment.identifiers
    run = assets["eln:lab-export:RUN-7"]
    assert run.entity == Entity.RUN
    assert run.metadata["run_id"] == "RUN-7"
    assert run.metadata["experiment_id"] == "ELN-101"
    assert run.data_level is not None and run.data_level.value == "raw"
    assert "ELN-101" in run.identifiers
    protocol = assets["eln:lab-export:42"]
    assert protocol.metadata["organism"] == "Homo sapiens"  # normalized from an alias
    assert protocol.metadata["species"] == "Homo sapiens"  # and kept verbatim
    assert protocol.metadata["run_id"] == "SRR5124371"
    assert "SRR5124371" in protocol.identifiers
    sample = assets["eln:lab-export:LIV-0001"]
    assert sample.kind == AssetKind.SAMPLE and sample.entity == Entity.SAMPLE
    assert sample.metadata["samples"] == ["LIV-0001"]


def test_links_to_packages_and_samples(export: Path) -> None:
    assets, _ = scan(export)
    experiment = assets["eln:lab-export:ELN-101"]
    assert experiment.linked(LinkType.DESCRIBES) == [
        "quilt:s3://lab-bucket#raw/rnaseq-run-7",
        "quilt:file:///data/reg#final/liver-atlas",
    ]
    # EXT-9 is not a record of this export: identifier only, no dangling link.
    assert experiment.linked(LinkType.USES_SAMPLE) == [
        "eln:lab-export:LIV-0001",
        "eln:lab-export:LIV-0002",
    ]
    assert experiment.linked(LinkType.RELATED) == ["eln:lab-export:RUN-7"]
    run = assets["eln:lab-export:RUN-7"]
    assert run.linked(LinkType.USES_SAMPLE) == [
        "eln:lab-export:LIV-0001",
        "eln:lab-export:LIV-0002",
    ]
    assert run.linked(LinkType.PART_OF) == ["eln:lab-export:ELN-101"]
    assert experiment.metadata["packages"][0] == "s3://lab-bucket#raw/rnaseq-run-7"


def test_broken_lines_are_issues_with_line_and_field(export: Path) -> None:
    _, issues = scan(export)
    by_line = {issue.location: issue for issue in issues}
    assert sorted(by_line, key=lambda loc: int(loc.split()[1])) == [
        "line 2",
        "line 4",
        "line 7",
        "line 8",
        "line 11",
        "line 12",
        "line 13",
    ]
    assert "invalid JSON" in by_line["line 2"].reason
    assert by_line["line 4"].field == "id"
    assert "Field required" in by_line["line 4"].reason
    assert by_line["line 7"].field == "samples"
    assert "UTF-8" in by_line["line 8"].reason
    assert by_line["line 11"].field == "id" and "duplicate" in by_line["line 11"].reason
    assert by_line["line 12"].field == "packages"
    assert "registry#package" in by_line["line 12"].reason
    assert "JSON object" in by_line["line 13"].reason
    assert all(issue.source.startswith("eln+file://") for issue in issues)
    assert "line 4 [id]" in str(by_line["line 4"])


def test_groups_from_rules_when_record_names_none(export: Path) -> None:
    settings = Settings(
        public_sources=[],
        access_rules=[
            AccessRule(prefix="metabolism", groups=["metab"]),
            AccessRule(prefix="imaging", groups=["imaging"]),
        ],
    )
    assets, _ = scan(export, settings)
    assert assets["eln:lab-export:ELN-101"].groups == ["metabolism-lab"]  # own groups win
    assert assets["eln:lab-export:LIV-0002"].groups == ["metab"]
    assert assets["eln:lab-export:RUN-7"].groups == ["imaging"]
    assert assets["eln:lab-export:42"].groups == []  # fail closed


def test_scan_is_deterministic(export: Path) -> None:
    first, _ = scan(export)
    second, _ = scan(export)
    assert {k: a.content_hash("m") for k, a in first.items()} == {
        k: a.content_hash("m") for k, a in second.items()
    }


def test_windows_export_with_bom_and_crlf(tmp_path: Path) -> None:
    path = tmp_path / "win.jsonl"
    lines = [json.dumps(record) for record in GOOD[:2]]
    path.write_bytes(b"\xef\xbb\xbf" + "\r\n".join(lines).encode() + b"\r\n")
    assets, issues = scan(path)
    assert issues == []
    assert sorted(assets) == ["eln:win:ELN-101", "eln:win:LIV-0001"]


def test_missing_file_and_bad_uri(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="no ELN export"):
        list(ElnExportSource(f"eln+file://{tmp_path}/missing.jsonl", Settings()).scan())
    with pytest.raises(SourceError, match="three slashes"):
        ElnExportSource("eln+file://relative/export.jsonl", Settings())
