"""ISA-Tab source on the reference investigation BII-I-1.

The expected sample → data file links are read from the assay tables here, with the csv module,
independently of the indexer's parser: the source must agree with the tables, not with itself.
"""

from __future__ import annotations

import csv
import shutil
from collections import defaultdict
from pathlib import Path

import pytest
from source_helpers import split_scan

from indexer.sources.base import SourceIssue
from indexer.sources.isatab import IsaTabSource
from labsearch.errors import SourceError
from labsearch.schema import Asset, AssetKind, DataLevel, Entity, LinkType
from labsearch.settings import AccessRule, Settings

REPO = Path(__file__).resolve().parents[1]


def shared_dir() -> Path:
    shared = Settings().shared
    return shared if shared.is_absolute() else (REPO / shared).resolve()


BII = shared_dir() / "datasets" / "isatab" / "BII-I-1"
PREFIX = "isatab:BII-I-1"
CLEAN = Settings(access_rules=[], public_sources=[])  # no rules from the environment


def read_rows(path: Path) -> tuple[list[str], list[list[str]]]:
    with path.open(newline="", encoding="utf-8") as handle:
        rows = [row for row in csv.reader(handle, delimiter="\t") if any(c.strip() for c in row)]
    return [h.strip() for h in rows[0]], rows[1:]


def expected_from_assay_tables(directory: Path) -> dict[str, dict[str, set[str]]]:
    """file name → {"samples": {...}, "names": {extract/labeled extract/assay/scan names}}."""
    expected: dict[str, dict[str, set[str]]] = defaultdict(lambda: defaultdict(set))
    for table in sorted(directory.glob("a_*.txt")):
        headers, rows = read_rows(table)
        sample_col = headers.index("Sample Name")
        file_cols = [
            i for i, h in enumerate(headers) if h.endswith(" File") and h != "Array Design File"
        ]
        name_cols = [
            i
            for i, h in enumerate(headers)
            if h in ("Extract Name", "Labeled Extract Name", "Scan Name")
            or h.endswith("Assay Name")
        ]
        for row in rows:
            for col in file_cols:
                name = row[col].strip()
                if not name:
                    continue
                expected[name]["samples"].add(row[sample_col].strip())
                expected[name]["names"].update(row[c].strip() for c in name_cols if row[c].strip())
                expected[name]["assays"].add(table.name)
    return expected


@pytest.fixture(scope="module")
def scanned() -> tuple[dict[str, Asset], list[SourceIssue]]:
    assert BII.is_dir(), f"ISA-Tab example missing at {BII} (LABSEARCH_SHARED={shared_dir()})"
    return split_scan(IsaTabSource(f"isatab+file://{BII}", CLEAN))


def test_reference_example_reads_without_issues(scanned) -> None:
    assets, issues = scanned
    assert issues == []
    investigation = assets[f"{PREFIX}:investigation:BII-I-1"]
    assert (
        investigation.kind == AssetKind.INVESTIGATION and investigation.entity == Entity.EXPERIMENT
    )
    assert investigation.title.startswith("Growth control of the eukaryote cell")
    assert investigation.metadata["date"] == "2007-04-30"
    assert investigation.created_at is not None
    assert investigation.created_at.date().isoformat() == "2007-04-30"
    for study in ("BII-S-1", "BII-S-2"):
        asset = assets[f"{PREFIX}:study:{study}"]
        assert asset.kind == AssetKind.STUDY
        assert asset.linked(LinkType.PART_OF) == [investigation.id]
    for table in BII.glob("a_*.txt"):
        assay = assets[f"{PREFIX}:assay:{table.name}"]
        assert assay.kind == AssetKind.ASSAY and assay.entity == Entity.EXPERIMENT
    assert assets[f"{PREFIX}:assay:a_microarray.txt"].metadata["assay"] == "transcription profiling"
    microarray = assets[f"{PREFIX}:assay:a_microarray.txt"]
    assert set(microarray.linked(LinkType.USES_SAMPLE)) == {
        f"{PREFIX}:sample:NZ_0hrs_Grow_1",
        f"{PREFIX}:sample:NZ_0hrs_Grow_2",
    }
    # an assay is named by its file and study, not by every sample it measured
    assert "NZ_0hrs_Grow_1" not in microarray.identifiers
    assert assets[f"{PREFIX}:assay:a_proteome.txt"].linked(LinkType.PART_OF) == [
        f"{PREFIX}:study:BII-S-1"
    ]


def test_samples_match_study_tables(scanned) -> None:
    assets, _ = scanned
    expected: dict[str, dict[str, str]] = {}
    for table in BII.glob("s_*.txt"):
        headers, rows = read_rows(table)
        sample_col = headers.index("Sample Name")
        organism_col = headers.index("Characteristics[organism]")
        for row in rows:
            expected[row[sample_col].strip()] = {"organism": row[organism_col].strip()}
    samples = {a.id: a for a in assets.values() if a.kind == AssetKind.SAMPLE}
    assert set(samples) == {f"{PREFIX}:sample:{name}" for name in expected}
    for name, facts in expected.items():
        sample = samples[f"{PREFIX}:sample:{name}"]
        assert sample.entity == Entity.SAMPLE
        assert name in sample.identifiers
        assert sample.metadata["organism"] == facts["organism"]
    carbon = samples[f"{PREFIX}:sample:C-0.07-aliquot1"]
    assert carbon.metadata["factors"] == {"limiting nutrient": "carbon", "rate": "0.07 l/hour"}
    assert carbon.metadata["characteristics"]["strain"] == "FY1679"


def test_file_links_match_assay_tables(scanned) -> None:
    assets, _ = scanned
    expected = expected_from_assay_tables(BII)
    files = {a.id: a for a in assets.values() if a.kind == AssetKind.FILE}
    assert set(files) == {f"{PREFIX}:file:{name}" for name in expected}
    for name, facts in expected.items():
        asset = files[f"{PREFIX}:file:{name}"]
        assert asset.entity == Entity.FILE
        assert set(asset.linked(LinkType.USES_SAMPLE)) == {
            f"{PREFIX}:sample:{s}" for s in facts["samples"]
        }, name
        assert set(asset.linked(LinkType.PART_OF)) == {
            f"{PREFIX}:assay:{a}" for a in facts["assays"]
        }
        assert facts["samples"] <= set(asset.identifiers)
        assert facts["names"] <= set(asset.identifiers), name
        on_disk = BII / name
        assert asset.provenance.path == (str(on_disk) if on_disk.is_file() else None)
        assert asset.metadata["file_present"] is on_disk.is_file()


def test_which_files_came_from_a_sample(scanned) -> None:
    """The entity question, answered from links, against the tables' own answer."""
    assets, _ = scanned
    by_sample: dict[str, set[str]] = defaultdict(set)
    for name, facts in expected_from_assay_tables(BII).items():
        for sample in facts["samples"]:
            by_sample[sample].add(f"{PREFIX}:file:{name}")
    for sample, expected_files in by_sample.items():
        target = f"{PREFIX}:sample:{sample}"
        found = {
            a.id
            for a in assets.values()
            if a.kind == AssetKind.FILE and target in a.linked(LinkType.USES_SAMPLE)
        }
        assert found == expected_files, sample
        assert target in assets  # every link target is a real asset


def test_links_point_at_existing_assets_and_levels(scanned) -> None:
    assets, _ = scanned
    for asset in assets.values():
        for link in asset.links:
            assert link.target in assets, f"{asset.id} -> {link.target}"
    raw = assets[f"{PREFIX}:file:E-MAXD-4-raw-data-426648549.txt"]
    processed = assets[f"{PREFIX}:file:E-MAXD-4-processed-data-1342566476.txt"]
    assert raw.data_level == DataLevel.RAW
    assert processed.data_level == DataLevel.PROCESSED
    assert raw.id in processed.linked(LinkType.DERIVED_FROM)
    assert "E-MEXP-115" in raw.identifiers  # ArrayExpress accession from the Comment column
    assert raw.metadata["experiment_id"] == "BII-S-2"


def test_groups_from_directory_rule() -> None:
    rules = [AccessRule(prefix=str(BII.parent), groups=["yeast-lab"])]
    settings = Settings(access_rules=rules, public_sources=[])
    assets = [
        a for a in IsaTabSource(f"isatab+file://{BII}", settings).scan() if isinstance(a, Asset)
    ]
    assert {tuple(a.groups) for a in assets} == {("yeast-lab",)}
    # Rule-derived groups record what the rules matched, so rule changes can be re-applied.
    assert {tuple(a.rule_keys or ()) for a in assets} == {(f"isatab+file://{BII}", str(BII))}


def copy_tables(target: Path) -> Path:
    target.mkdir()
    for path in BII.glob("[isa]_*.txt"):
        shutil.copy(path, target / path.name)
    return target


def test_missing_assay_table_is_an_issue_and_the_rest_goes_on(tmp_path: Path) -> None:
    directory = copy_tables(tmp_path / "inv")
    (directory / "a_proteome.txt").unlink()
    broken = directory / "a_microarray.txt"
    broken.write_bytes(broken.read_bytes().replace(b"NZ_0hrs_Grow_1", b"NZ_0hrs_Gr\xffw_1", 1))
    items = list(IsaTabSource(f"isatab+file://{directory}", CLEAN).scan())
    issues = [i for i in items if isinstance(i, SourceIssue)]
    assets = {a.id: a for a in items if isinstance(a, Asset)}
    missing = [i for i in issues if i.location == "a_proteome.txt"]
    assert missing and missing[0].field == "Study Assay File Name"
    assert any(i.location == "a_microarray.txt" and "UTF-8" in i.reason for i in issues)
    assert f"{PREFIX}:assay:a_proteome.txt" not in assets
    assert f"{PREFIX}:assay:a_transcriptome.txt" in assets
    assert f"{PREFIX}:file:spectrum.mzdata" not in assets
    # data files are absent from this copy: assets still exist, with the reason recorded
    raw = assets[f"{PREFIX}:file:E-MEXP-115-raw-data-331217737.txt"]
    assert raw.provenance.path is None and raw.metadata["file_present"] is False
    assert raw.errors == []


def test_bad_directories(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="not a directory"):
        list(IsaTabSource(f"isatab+file://{tmp_path}/nope", Settings()).scan())
    with pytest.raises(SourceError, match="no i_\\*.txt"):
        list(IsaTabSource(f"isatab+file://{tmp_path}", Settings()).scan())


@pytest.mark.slow
def test_answers_match_assay_tables_end_to_end(settings, embedder) -> None:
    """Index BII-I-1 through the pipeline, ask, and compare with the tables read here."""
    from indexer.pipeline import Indexer
    from labsearch.access import Access
    from labsearch.stores import open_store
    from retriever.service import SearchService

    uri = f"isatab+file://{BII}"
    store = open_store(settings, embedder.dimension)
    try:
        report = Indexer(settings, store, embedder, progress=None).index(uri)
        assert report.failed == 0, report.errors
        service = SearchService(settings, store, embedder)
        by_sample: dict[str, set[str]] = defaultdict(set)
        for name, facts in expected_from_assay_tables(BII).items():
            for sample in facts["samples"]:
                by_sample[sample].add(f"{PREFIX}:file:{name}")
        # one sample of each assay table's naming style
        for sample in ("C-0.07-aliquot1", "NZ_0hrs_Grow_2", "S-0.2-aliquot8", "C-0.1-aliquot11"):
            answer = service.answer(f"which files came from sample {sample}?", Access.as_operator())
            assert answer.result is not None and answer.result.complete, sample
            assert {m.id for m in answer.result.members} == by_sample[sample], sample
            assert answer.result.count == len(by_sample[sample])
    finally:
        store.close()


def write_small_isatab(directory: Path) -> Path:
    """A small sequencing investigation exercising what BII-I-1 does not: a BOM, comments, an
    empty investigation id, unquoted cells, a missing study file, a sample only an assay names,
    a ragged row and a derived data file present on disk."""
    directory.mkdir()
    investigation = [
        "# written by hand for labsearch tests",
        "INVESTIGATION",
        "Investigation Identifier\t",
        "Investigation Title\tLiver response to drug X",
        "STUDY",
        "Study Identifier\tSTUDY-1",
        "Study Title\tRNA-seq of liver biopsies",
        "Study Submission Date\t2024-05-02",
        "Study File Name\ts_study.txt",
        "STUDY ASSAYS",
        "Study Assay File Name\ta_seq.txt\ta_missing.txt",
        "Study Assay Measurement Type\ttranscription profiling\tmetabolite profiling",
        "Study Assay Technology Type\tnucleotide sequencing\tmass spectrometry",
        "Study Assay Technology Platform\tNovaSeq 6000\t",
        "STUDY",
        "Study Identifier\tSTUDY-2",
        "Study File Name\ts_gone.txt",
    ]
    (directory / "i_investigation.txt").write_text("\ufeff" + "\n".join(investigation) + "\n")
    study = [
        "Source Name\tCharacteristics[organism]\tTerm Source REF\tTerm Accession Number\t"
        "Protocol REF\tSample Name\tCharacteristics[sex]\tFactor Value[treatment]",
        "donor-1\tHomo sapiens\tNCBITAXON\thttp://purl.obolibrary.org/obo/NCBITaxon_9606\t"
        "biopsy\tSAMP-1\tfemale\tdrug X",
        "donor-2\tHomo sapiens\tNCBITAXON\thttp://purl.obolibrary.org/obo/NCBITaxon_9606\t"
        "biopsy\tSAMP-2\tmale\tvehicle",
    ]
    (directory / "s_study.txt").write_text("\n".join(study) + "\n")
    assay = [
        "Sample Name\tProtocol REF\tExtract Name\tProtocol REF\tAssay Name\tRaw Data File\t"
        "Comment[ENA run accession]\tProtocol REF\tDerived Data File",
        "SAMP-1\tRNA extraction\tEXT-1\tsequencing\tASSAY-1\treads_1.fastq.gz\tERR0000001\t"
        "quantification\tcounts.tsv",
        "SAMP-2\tRNA extraction\tEXT-2\tsequencing\tASSAY-2\treads_2.fastq.gz\tERR0000002\t"
        "quantification\tcounts.tsv",
        "SAMP-9\tRNA extraction\tEXT-9\tsequencing\tASSAY-9\treads_9.fastq.gz\t\t\t",
        "SAMP-2\tRNA extraction",
    ]
    (directory / "a_seq.txt").write_text("\n".join(assay) + "\n")
    (directory / "counts.tsv").write_text("gene\tSAMP-1\tSAMP-2\nALB\t1020\t998\nAPOA1\t55\t61\n")
    return directory


def test_small_investigation_edge_cases(tmp_path: Path) -> None:
    directory = write_small_isatab(tmp_path / "liver")
    items = list(IsaTabSource(f"isatab+file://{directory}", CLEAN).scan())
    issues = {(i.location, i.field): i for i in items if isinstance(i, SourceIssue)}
    assets = {a.id: a for a in items if isinstance(a, Asset)}
    prefix = "isatab:STUDY-1"  # no investigation id: the first study's id names it
    assert set(issues) == {
        ("s_gone.txt", "Study File Name"),
        ("a_missing.txt", "Study Assay File Name"),
        ("a_seq.txt", None),
    }
    assert "line 5" in issues[("a_seq.txt", None)].reason
    assert f"{prefix}:investigation:STUDY-1" in assets
    assert f"{prefix}:study:STUDY-2" in assets  # its table is missing, the study is not
    sample = assets[f"{prefix}:sample:SAMP-1"]
    assert sample.metadata["organism"] == "Homo sapiens"  # from the source, via the sample
    assert sample.metadata["characteristics"]["sex"] == "female"
    assert sample.metadata["factors"] == {"treatment": "drug X"}
    assert "donor-1" in sample.identifiers
    stray = assets[f"{prefix}:sample:SAMP-9"]
    assert "a_seq.txt" in stray.errors[0]
    assay = assets[f"{prefix}:assay:a_seq.txt"]
    assert assay.metadata["instrument"] == "NovaSeq 6000"
    assert assay.metadata["assay"] == "transcription profiling"
    assert set(assay.linked(LinkType.USES_SAMPLE)) == {
        f"{prefix}:sample:SAMP-{n}" for n in (1, 2, 9)
    }
    reads = assets[f"{prefix}:file:reads_1.fastq.gz"]
    assert reads.data_level == DataLevel.RAW
    assert reads.linked(LinkType.USES_SAMPLE) == [f"{prefix}:sample:SAMP-1"]
    assert {"EXT-1", "ASSAY-1", "ERR0000001", "SAMP-1"} <= set(reads.identifiers)
    assert reads.metadata["file_present"] is False and reads.provenance.path is None
    counts = assets[f"{prefix}:file:counts.tsv"]
    assert counts.data_level == DataLevel.PROCESSED
    assert set(counts.linked(LinkType.USES_SAMPLE)) == {
        f"{prefix}:sample:SAMP-1",
        f"{prefix}:sample:SAMP-2",
    }
    assert set(counts.linked(LinkType.DERIVED_FROM)) == {
        f"{prefix}:file:reads_1.fastq.gz",
        f"{prefix}:file:reads_2.fastq.gz",
    }
    assert counts.provenance.path == str(directory / "counts.tsv")
    assert counts.metadata["content"]["format"] in ("csv", "tsv")  # the content summary
    for asset in assets.values():
        for link in asset.links:
            assert link.target in assets, f"{asset.id} -> {link.target}"


def test_a_lone_carriage_return_ends_a_line(tmp_path: Path) -> None:
    """Found by tests/test_fuzz_parsers.py: a stray CR in the investigation file stopped the
    csv reader ("new-line character seen in unquoted field") and the whole scan with it."""
    directory = write_small_isatab(tmp_path / "study")
    investigation = directory / "i_investigation.txt"
    text = investigation.read_text(encoding="utf-8")
    investigation.write_text(text.replace("INVESTIGATION\n", "INVESTIGATION\n\r\t\n"), "utf-8")
    items = list(IsaTabSource(f"isatab+file://{directory}", CLEAN).scan())
    assert any(isinstance(i, Asset) and i.id.endswith(":investigation:STUDY-1") for i in items)
    assert any(isinstance(i, Asset) and i.entity == "sample" for i in items)
