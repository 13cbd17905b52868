"""What the model reads: codes masked out, a package's files summarised."""

from __future__ import annotations

from indexer.sources._content import file_overview
from labsearch.schema import Asset, AssetKind, Provenance


def entry(title: str, text: str, identifiers: list[str]) -> Asset:
    return Asset(
        id=f"entry:{title}",
        source="test",
        kind=AssetKind.PACKAGE_ENTRY,
        title=title,
        text=text,
        identifiers=identifiers,
        provenance=Provenance(source="test"),
    )


def fastq(sample: str, run: str) -> Asset:
    key = f"fastq/{sample}_S1_L001_R1_001.fastq.gz"
    return entry(
        key,
        f"{key} in Quilt package lab-a/raw-run-{run}\n"
        f"FASTQ reads from sample {sample}, run {run} (NovaSeq 6000), 24 reads of 101 bp.",
        [key, f"{sample}_S1_L001_R1_001", sample, run],
    )


def test_codes_are_masked_and_the_meaning_stays():
    text = fastq("LIV-0019", "250620_A00814_0325_AHF4R6DSX3").embedding_text()
    assert "LIV-0019" not in text and "250620_A00814_0325_AHF4R6DSX3" not in text
    for word in ("fastq/", ".fastq.gz", "FASTQ reads", "NovaSeq 6000", "101 bp"):
        assert word in text
    assert text.count("fastq/.fastq.gz") == 1  # the title is not read twice


def test_files_of_one_run_read_alike_so_they_are_embedded_once():
    run = "250620_A00814_0325_AHF4R6DSX3"
    texts = {fastq(sample, run).embedding_text() for sample in ("LIV-0019", "LIV-0021")}
    assert len(texts) == 1


def test_names_that_are_words_are_not_masked():
    asset = entry(
        "report.pdf",
        "IL-6 and COVID-19 in MCF-7 cells (ELN-123)\nsamples: LIV-0042",
        ["IL-6", "COVID-19", "MCF-7", "ELN-123", "LIV-0042", "report.pdf"],
    )
    text = asset.embedding_text()
    assert "IL-6 and COVID-19 in MCF-7 cells" in text
    assert "ELN-123" not in text and "LIV-0042" not in text
    assert "samples:" not in text.splitlines()  # a field left empty by masking is dropped


def test_barcodes_are_codes():
    sheet = entry(
        "SampleSheet.csv",
        "CSV table SampleSheet.csv: index (object, e.g. AAGGGTGT, CTTTTGTA), Lane (int64, e.g. 1)",
        ["SampleSheet.csv", "AAGGGTGT", "CTTTTGTA"],
    )
    assert sheet.embedding_text() == (
        "SampleSheet.csv\nCSV table SampleSheet.csv: index (object, e.g.), Lane (int64, e.g. 1)"
    )


def test_max_chars_cuts_after_masking():
    asset = fastq("LIV-0019", "250620_A00814_0325_AHF4R6DSX3")
    assert asset.embedding_text(20) == asset.embedding_text()[:20]


def test_file_overview_counts_runs_of_the_same_kind():
    keys = [f"fastq/S{n}_R1.fastq.gz" for n in range(8)] + ["SampleSheet.csv", "qc/report.md"]
    assert file_overview(keys) == "8 .fastq.gz files in fastq/, SampleSheet.csv, qc/report.md"
