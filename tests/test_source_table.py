"""Table source (table+file://) on run tables and sample sheets written in tmp_path with the real
column headers of NCBI SRA RunInfo and ENA filereport, plus the defects real sheets have."""

from __future__ import annotations

import csv
import sys
from datetime import datetime
from pathlib import Path

import pytest
from source_helpers import split_scan

from indexer.sources import SCHEMES, open_source
from indexer.sources.table import TableSource
from labsearch.errors import SourceError
from labsearch.identifiers import accession_kind
from labsearch.schema import AssetKind, Entity, Link, LinkType
from labsearch.settings import AccessRule, Settings

CLEAN = Settings(access_rules=[], public_sources=[])  # no rules from the environment

SRA_HEADER = [
    "Run",
    "ReleaseDate",
    "LoadDate",
    "spots",
    "bases",
    "spots_with_mates",
    "avgLength",
    "size_MB",
    "AssemblyName",
    "download_path",
    "Experiment",
    "LibraryName",
    "LibraryStrategy",
    "LibrarySelection",
    "LibrarySource",
    "LibraryLayout",
    "InsertSize",
    "InsertDev",
    "Platform",
    "Model",
    "SRAStudy",
    "BioProject",
    "Study_Pubmed_id",
    "ProjectID",
    "Sample",
    "BioSample",
    "SampleType",
    "TaxID",
    "ScientificName",
    "SampleName",
    "g1k_pop_code",
    "source",
    "g1k_analysis_group",
    "Subject_ID",
    "Sex",
    "Disease",
    "Tumor",
    "Affection_Status",
    "Analyte_Type",
    "Histological_Type",
    "Body_Site",
    "CenterName",
    "Submission",
    "dbgap_study_accession",
    "Consent",
    "RunHash",
    "ReadHash",
]
ENA_HEADER = [
    "run_accession",
    "experiment_accession",
    "sample_accession",
    "secondary_sample_accession",
    "study_accession",
    "secondary_study_accession",
    "instrument_model",
    "instrument_platform",
    "library_strategy",
    "library_layout",
    "library_name",
    "scientific_name",
    "tax_id",
    "sample_alias",
    "sample_title",
    "read_count",
    "base_count",
    "first_public",
    "fastq_ftp",
    "fastq_md5",
    "submitted_ftp",
]


ENA_FASTQ = "ftp.sra.ebi.ac.uk/vol1/fastq/ERR408/003/ERR4080473"


def sra_row(n: int, sample: str, biosample: str, gsm: str) -> dict[str, str]:
    run = f"SRR51243{n:02d}"
    return {
        "Run": run,
        "ReleaseDate": "2017-01-04 11:36:14",
        "LoadDate": "2017-01-04 11:31:46",
        "spots": str(21873118 + n),
        "bases": str(4418369836 + n),
        "spots_with_mates": str(21873118 + n),
        "avgLength": "202",
        "size_MB": "2712",
        "download_path": f"https://sra-downloadb.be-md.ncbi.nlm.nih.gov/sos1/sra-pub-run-11/{run}/{run}.1",
        "Experiment": f"SRX24581{n:02d}",
        "LibraryName": gsm,
        "LibraryStrategy": "RNA-Seq",
        "LibrarySelection": "cDNA",
        "LibrarySource": "TRANSCRIPTOMIC",
        "LibraryLayout": "PAIRED",
        "InsertSize": "0",
        "InsertDev": "0",
        "Platform": "ILLUMINA",
        "Model": "Illumina NovaSeq 6000",
        "SRAStudy": "SRP095666",
        "BioProject": "PRJNA357256",
        "ProjectID": "357256",
        "Sample": sample,
        "BioSample": biosample,
        "SampleType": "simple",
        "TaxID": "10090",
        "ScientificName": "Mus musculus",
        "SampleName": gsm,
        "Body_Site": "liver",
        "CenterName": "GEO",
        "Submission": "SRA518447",
        "Consent": "public",
        "RunHash": "9A1C0B8D0E4F3A2B1C0D9E8F7A6B5C4D",
        "ReadHash": "1B2C3D4E5F60718293A4B5C6D7E8F901",
    }


def write_rows(path: Path, header: list[str], rows: list[dict[str, str]], sep: str = ",") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, header, delimiter=sep, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    return path


@pytest.fixture
def run_dir(tmp_path: Path) -> Path:
    """An SRA RunInfo table of three runs of two samples, and the lab's own sample sheet."""
    root = tmp_path / "sra tables"  # a space: ids and URIs must survive it
    write_rows(
        root / "SraRunInfo.csv",
        SRA_HEADER,
        [
            sra_row(71, "SRS1880853", "SAMN06163390", "GSM2443292"),
            sra_row(72, "SRS1880853", "SAMN06163390", "GSM2443292"),
            sra_row(73, "SRS1880854", "SAMN06163391", "GSM2443293"),
        ],
    )
    (root / "lab_samples.csv").write_text(
        "Sample Name,Characteristics [Organism],tissue,BioSample,dose_mg_kg,collected\n"
        "LIV-0042,Mus musculus,liver,SAMN06163390,5,2016-11-02\n"
        "LIV-0043,Mus musculus,liver,SAMN06163391,0.5,2016-11-03\n",
        encoding="utf-8",
    )
    return root


def test_sra_runinfo_rows_are_runs_with_typed_columns_and_normalized_keys(run_dir):
    assets, issues = split_scan(
        TableSource(run_dir.as_uri().replace("file:", "table+file:"), CLEAN)
    )
    assert issues == []
    table = run_dir / "SraRunInfo.csv"
    run = assets[f"table:{table}#SRR5124371"]
    assert (run.kind, run.entity) == (AssetKind.EXPERIMENT, Entity.RUN)
    assert run.title == (
        "Run SRR5124371: RNA-Seq of Mus musculus liver sample GSM2443292 on Illumina NovaSeq 6000"
    )
    # every column verbatim, typed by its whole column
    assert run.metadata["Run"] == "SRR5124371"
    assert run.metadata["spots"] == 21873189 and run.metadata["TaxID"] == 10090
    assert run.metadata["ReleaseDate"] == "2017-01-04T11:36:14"
    assert run.metadata["Model"] == "Illumina NovaSeq 6000"
    assert "AssemblyName" not in run.metadata  # empty cells carry nothing
    # the normalized keys the retriever filters on
    assert run.metadata["run_id"] == "SRR5124371"
    assert run.metadata["samples"] == ["GSM2443292", "SRS1880853", "SAMN06163390"]
    assert run.metadata["experiment_id"] == "SRX2458171"
    assert run.metadata["instrument"] == "Illumina NovaSeq 6000"
    assert run.metadata["project"] == "PRJNA357256"  # not the numeric ProjectID
    assert run.metadata["organism"] == "Mus musculus"
    assert run.metadata["assay"] == "RNA-Seq"
    assert run.metadata["date"] == "2017-01-04"
    assert run.created_at is not None and run.created_at.date().isoformat() == "2017-01-04"
    for identifier in (
        "SRR5124371",
        "SRX2458171",
        "SRS1880853",
        "SAMN06163390",
        "GSM2443292",
        "SRP095666",
        "PRJNA357256",
        "SRA518447",
    ):
        assert identifier in run.identifiers
    assert "10090" not in run.identifiers and "357256" not in run.identifiers
    assert run.provenance.path == str(table) and run.provenance.record_id == "SRR5124371"


def test_runs_link_to_the_sample_rows_of_another_table_in_the_source(run_dir):
    assets, _ = split_scan(TableSource(f"table+file://{run_dir}", CLEAN))
    sheet = run_dir / "lab_samples.csv"
    sample = assets[f"table:{sheet}#SAMN06163390"]  # the accession is the primary id
    assert (sample.kind, sample.entity) == (AssetKind.SAMPLE, Entity.SAMPLE)
    assert sample.title == "Sample LIV-0042: Mus musculus liver (SAMN06163390)"
    assert sample.metadata["samples"] == ["LIV-0042", "SAMN06163390"]
    assert sample.metadata["organism"] == "Mus musculus"  # from "Characteristics [Organism]"
    assert sample.metadata["dose_mg_kg"] == 5.0 and sample.metadata["collected"] == "2016-11-02"
    assert {"LIV-0042", "SAMN06163390"} <= set(sample.identifiers)
    runs = run_dir / "SraRunInfo.csv"
    for run_id in ("SRR5124371", "SRR5124372"):
        assert assets[f"table:{runs}#{run_id}"].linked(LinkType.USES_SAMPLE) == [sample.id]
    assert assets[f"table:{runs}#SRR5124373"].linked(LinkType.USES_SAMPLE) == [
        f"table:{sheet}#SAMN06163391"
    ]
    assert sample.linked(LinkType.USES_SAMPLE) == []


def test_ena_filereport_rows_keep_file_urls(tmp_path):
    path = write_rows(
        tmp_path / "filereport_read_run_PRJEB37886_tsv.txt",
        ENA_HEADER,
        [
            {
                "run_accession": "ERR4080473",
                "experiment_accession": "ERX4047225",
                "sample_accession": "SAMEA6812327",
                "secondary_sample_accession": "ERS4571283",
                "study_accession": "PRJEB37886",
                "secondary_study_accession": "ERP121228",
                "instrument_model": "Illumina MiSeq",
                "instrument_platform": "ILLUMINA",
                "library_strategy": "AMPLICON",
                "library_layout": "PAIRED",
                "library_name": "NT1641",
                "scientific_name": "Severe acute respiratory syndrome coronavirus 2",
                "tax_id": "2697049",
                "sample_alias": "COG-UK/ALDP-9D9C3",
                "sample_title": "COG-UK/ALDP-9D9C3",
                "read_count": "113408",
                "base_count": "33669066",
                "first_public": "2020-05-06",
                "fastq_ftp": f"{ENA_FASTQ}/ERR4080473_1.fastq.gz;{ENA_FASTQ}/ERR4080473_2.fastq.gz",
                "fastq_md5": "fa1c;9b2d",
                "submitted_ftp": "ftp.sra.ebi.ac.uk/vol1/run/ERR408/ERR4080473/ALDP-9D9C3.bam",
            }
        ],
        sep="\t",
    )
    assets, issues = split_scan(TableSource(f"table+file://{path}", CLEAN))
    assert issues == []
    run, sample = assets.values()
    assert run.id == f"table:{path}#ERR4080473" and run.entity is Entity.RUN
    assert run.metadata["run_id"] == "ERR4080473"
    assert run.metadata["samples"] == ["COG-UK/ALDP-9D9C3", "SAMEA6812327", "ERS4571283"]
    assert run.metadata["experiment_id"] == "ERX4047225"
    assert run.metadata["project"] == "PRJEB37886"
    assert run.metadata["instrument"] == "Illumina MiSeq"
    assert run.metadata["date"] == "2020-05-06" and run.metadata["tax_id"] == 2697049
    assert run.metadata["data_files"] == [
        "ftp.sra.ebi.ac.uk/vol1/fastq/ERR408/003/ERR4080473/ERR4080473_1.fastq.gz",
        "ftp.sra.ebi.ac.uk/vol1/fastq/ERR408/003/ERR4080473/ERR4080473_2.fastq.gz",
        "ftp.sra.ebi.ac.uk/vol1/run/ERR408/ERR4080473/ALDP-9D9C3.bam",
    ]
    for identifier in ("ERR4080473_1.fastq.gz", "ERS4571283", "ERP121228", "NT1641"):
        assert identifier in run.identifiers
    # The run's sample has no row of its own: it gets an asset from what its runs say of it,
    # and the run links to it (remote files stay metadata, not links).
    assert sample.id == f"table:{path}#sample=SAMEA6812327" and sample.entity is Entity.SAMPLE
    assert run.links == [Link(rel=LinkType.USES_SAMPLE, target=sample.id)]
    assert sample.metadata["samples"] == run.metadata["samples"]
    assert sample.metadata["organism"] == "Severe acute respiratory syndrome coronavirus 2"
    assert "run_id" not in sample.metadata and "ERR4080473" not in sample.identifiers


def test_sample_sheet_links_its_local_fastq_files(tmp_path):
    root = tmp_path / "project"
    (root / "fastq").mkdir(parents=True)
    for name in ("LIV-0042_R1.fastq.gz", "LIV-0042_R2.fastq.gz"):
        (root / "fastq" / name).write_bytes(b"")
    (tmp_path / "elsewhere.fastq.gz").write_bytes(b"")
    (root / "samplesheet.csv").write_text(
        "sample,fastq_1,fastq_2,strandedness\n"
        "LIV-0042,fastq/LIV-0042_R1.fastq.gz,fastq/LIV-0042_R2.fastq.gz,reverse\n"
        "LIV-0043,../elsewhere.fastq.gz,fastq/missing.fastq.gz,reverse\n",
        encoding="utf-8",
    )
    assets, issues = split_scan(TableSource(f"table+file://{root}", CLEAN))
    assert issues == []
    first = assets[f"table:{root / 'samplesheet.csv'}#LIV-0042"]
    assert first.entity is Entity.SAMPLE and first.title == "Sample LIV-0042"
    assert first.linked(LinkType.RELATED) == [
        f"file://{root}/fastq/LIV-0042_R1.fastq.gz",
        f"file://{root}/fastq/LIV-0042_R2.fastq.gz",
    ]
    # a file outside the source's folder, or missing, is named but not linked
    second = assets[f"table:{root / 'samplesheet.csv'}#LIV-0043"]
    assert second.links == []
    assert second.metadata["data_files"] == ["../elsewhere.fastq.gz", "fastq/missing.fastq.gz"]


def test_bad_rows_are_issues_with_file_row_and_column_and_the_rest_is_indexed(tmp_path):
    root = tmp_path / "sheets"
    root.mkdir()
    (root / "runs.csv").write_bytes(
        b"Run,SampleName,spots\n"
        b"SRR0000001,LIV-1,10\n"
        b"SRR0000002,LIV-2,20,extra\n"  # ragged: one cell too many
        b"SRR0000003,LIV-3\n"  # ragged: one cell short
        b"SRR0000001,LIV-9,30\n"  # the same run again
        b"SRR0000004,M\xe4use-4,40\n"  # Latin-1, not UTF-8
    )
    (root / "no_header.tsv").write_text("SRR0000005\tLIV-5\nSRR0000006\tLIV-6\n")
    (root / "README.txt").write_text("Run tables of the liver project.\n")  # prose: skipped
    (root / "broken.csv").write_bytes(b"\x00\x01\x02binary")
    assets, issues = split_scan(TableSource(f"table+file://{root}", CLEAN))
    runs = root / "runs.csv"
    assert sorted(a for a in assets if assets[a].entity is Entity.RUN) == [
        f"table:{runs}#SRR0000001",
        f"table:{runs}#SRR0000004",
    ]
    samples = sorted(a for a in assets if assets[a].entity is Entity.SAMPLE)
    assert len(samples) == 2 and samples[0] == f"table:{runs}#sample=LIV-1"
    assert assets[f"table:{runs}#SRR0000001"].metadata["SampleName"] == "LIV-1"  # first wins
    found = {(i.location, i.field): i for i in issues}
    assert set(found) == {
        ("broken.csv", None),
        ("no_header.tsv, row 1", None),
        ("runs.csv, row 3", None),
        ("runs.csv, row 4", "spots"),
        ("runs.csv, row 5", "Run"),
        ("runs.csv, row 6", None),
    }
    assert "4 cells but 3 columns" in found["runs.csv, row 3", None].reason
    assert "duplicate Run 'SRR0000001'" in found["runs.csv, row 5", "Run"].reason
    assert "not UTF-8" in found["runs.csv, row 6", None].reason
    assert "no header row" in found["no_header.tsv, row 1", None].reason
    # What exists but cannot be read keeps its indexed assets.
    assert found["runs.csv, row 3", None].keep == f"table:{runs}#SRR0000002"
    assert found["no_header.tsv, row 1", None].keep == f"table:{root / 'no_header.tsv'}"
    assert found["runs.csv, row 5", "Run"].keep is None


def test_ids_are_stable_and_rows_without_ids_are_numbered(tmp_path):
    path = tmp_path / "log.tsv"
    path.write_text(
        "instrument\tdate\tnote\nNovaSeq\t2024-05-01\tflow cell swap\n\n"
        "MiSeq\t2024-05-02\trecalibrated\n"
    )
    source = TableSource(f"table+file://{path}", CLEAN)
    first, _ = split_scan(source)
    second, _ = split_scan(source)
    assert sorted(first) == [f"table:{path}#row-2", f"table:{path}#row-4"]  # row 3 is blank
    assert {k: a.content_hash("m") for k, a in first.items()} == {
        k: a.content_hash("m") for k, a in second.items()
    }
    row = first[f"table:{path}#row-4"]
    assert row.entity is None and row.kind is AssetKind.EXPERIMENT
    assert row.metadata["instrument"] == "MiSeq" and row.metadata["date"] == "2024-05-02"
    assert row.title == "log.tsv, row 4: instrument MiSeq, date 2024-05-02, note recalibrated"


def test_illumina_sample_sheet_reads_the_data_section(tmp_path):
    path = tmp_path / "SampleSheet.csv"
    path.write_text(
        "[Header]\nIEMFileVersion,4\nExperiment Name,250620_A00814_0325\n\n[Reads]\n151\n151\n\n"
        "[Data]\nSample_ID,Sample_Name,index,index2,Sample_Project\n"
        "S1,LIV-0042,AAGGGTGT,CCGGACAT,MASLD\n"
    )
    assets, issues = split_scan(TableSource(f"table+file://{path}", CLEAN))
    assert issues == []
    [sample] = assets.values()
    assert sample.id == f"table:{path}#LIV-0042" and sample.entity is Entity.SAMPLE
    assert sample.metadata["samples"] == ["LIV-0042", "S1"]
    assert sample.metadata["project"] == "MASLD"
    assert "AAGGGTGT" in sample.identifiers  # a barcode column


def test_excel_workbook_rows_keep_excel_row_numbers(tmp_path):
    import openpyxl

    path = tmp_path / "samples.xlsx"
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = "Samples"
    sheet.append(["sample_id", "collected", "weight_g"])
    sheet.append(["LIV-0042", datetime(2024, 3, 1), 1.5])
    sheet.append([])  # a blank row: Excel's row numbers go on counting it
    sheet.append(["LIV-0042", datetime(2024, 3, 2), 2])
    sheet.append(["LIV-0043", datetime(2024, 3, 2, 9, 30), 2])
    book.save(path)
    assets, issues = split_scan(TableSource(f"table+file://{path}", CLEAN))
    assert sorted(assets) == [f"table:{path}#LIV-0042", f"table:{path}#LIV-0043"]
    first = assets[f"table:{path}#LIV-0042"]
    assert first.metadata["collected"] == "2024-03-01" and first.metadata["weight_g"] == 1.5
    assert assets[f"table:{path}#LIV-0043"].metadata["collected"] == "2024-03-02T09:30:00"
    [issue] = issues
    assert (issue.location, issue.field) == ("samples.xlsx (sheet Samples), row 4", "sample_id")


def test_workbooks_without_openpyxl_fail_with_what_to_install(tmp_path, monkeypatch):
    (tmp_path / "a.csv").write_text("sample\nLIV-1\n")
    (tmp_path / "b.xlsx").write_bytes(b"PK")
    monkeypatch.setitem(sys.modules, "openpyxl", None)  # import openpyxl → ImportError
    with pytest.raises(SourceError, match="pip install openpyxl"):
        list(TableSource(f"table+file://{tmp_path}", CLEAN).scan())


def test_missing_path_is_a_source_error(tmp_path):
    with pytest.raises(SourceError, match="does not exist"):
        list(TableSource(f"table+file://{tmp_path}/nope.csv", CLEAN).scan())


def test_groups_come_from_access_rules_on_the_folder(run_dir):
    settings = Settings(
        access_rules=[AccessRule(prefix=str(run_dir), groups=["lab-a"])], public_sources=[]
    )
    assets, _ = split_scan(TableSource(f"table+file://{run_dir}", settings))
    assert {tuple(a.groups) for a in assets.values()} == {("lab-a",)}
    assert all(a.rule_keys and str(run_dir) in a.rule_keys for a in assets.values())
    nobody, _ = split_scan(TableSource(f"table+file://{run_dir}", CLEAN))
    assert {tuple(a.groups) for a in nobody.values()} == {()}  # fail closed


def test_the_three_new_schemes_are_registered(tmp_path):
    for scheme in ("table+file", "sdrf+file", "rocrate+file"):
        assert scheme in SCHEMES
    source = open_source(f"table+file://{tmp_path}", CLEAN)
    assert isinstance(source, TableSource)


@pytest.mark.parametrize(
    ("value", "kind"),
    [
        ("SRR5124371", "run"),
        ("ERX4047225", "experiment"),
        ("DRS000123", "sample"),
        ("SAMEA6812327", "biosample"),
        ("SAMN06163390", "biosample"),
        ("SRP095666", "study"),
        ("PRJEB37886", "project"),
        ("GSM2443292", "geo_sample"),
        ("GSE93180", "geo_series"),
        ("MTBLS1129", "metabolights"),
        ("PXD000561", "proteomexchange"),
        ("E-MTAB-513", "arrayexpress"),
        ("LIV-0042", None),
        ("SRR5124371_1.fastq.gz", None),
    ],
)
def test_accession_kinds(value, kind):
    assert accession_kind(value) == kind


def test_a_type_column_names_the_entity_of_rows_without_accessions(tmp_path):
    path = tmp_path / "inventory.csv"
    path.write_text("type,label,freezer\nrun,flow cell swap,F-12\nsample,liver aliquot,F-13\n")
    assets, issues = split_scan(TableSource(f"table+file://{path}", CLEAN))
    assert issues == []
    run, sample = assets[f"table:{path}#row-2"], assets[f"table:{path}#row-3"]
    assert (run.entity, run.kind) == (Entity.RUN, AssetKind.EXPERIMENT)
    assert (sample.entity, sample.kind) == (Entity.SAMPLE, AssetKind.SAMPLE)
    assert sample.title == "inventory.csv, row 3: type sample, label liver aliquot, freezer F-13"
