"""Extractors on real files written by shell.demo.files: the facts they pull out, and a
Summary with a specific error for every kind of bad input."""

from __future__ import annotations

import gzip
import random
from pathlib import Path

import pytest

from indexer.extractors import chunking, fastq, summarize, tabular
from shell.demo import files

RUN = "210105_A00123_0042_AHXXXXXX"


def rng() -> random.Random:
    return random.Random(42)


# --- sequencing -------------------------------------------------------------------------------


def test_fastq_gz_illumina_headers_sample_and_run_folder(tmp_path: Path) -> None:
    path = files.write_fastq(
        tmp_path / RUN / "LIV-0042_S3_L002_R1_001.fastq.gz",
        sample="LIV-0042",
        run_id=RUN,
        instrument="A00123",
        flowcell="HXXXXXX",
        lane=2,
        reads=120,
        read_length=76,
        rng=rng(),
    )
    summary = summarize(path)
    assert summary.format == "fastq" and summary.errors == []
    m = summary.metadata
    assert m["read_count"] == 120 and m["read_length"] == 76
    assert (m["instrument_id"], m["instrument"], m["flowcell"]) == (
        "A00123",
        "NovaSeq 6000",
        "HXXXXXX",
    )
    assert m["run_number"] == 42 and m["run_id"] == RUN and m["lanes"] == [2]
    assert m["samples"] == ["LIV-0042"] and m["read_number"] == 1
    assert {"LIV-0042", RUN, "HXXXXXX"} <= set(summary.identifiers)
    assert "sample LIV-0042" in summary.text and "NovaSeq 6000" in summary.text
    assert "120 reads of 76 bp" in summary.text


def test_fastq_read_count_is_estimated_from_a_sample(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = files.write_fastq(
        tmp_path / "big.fq",
        sample="S-1",
        run_id="RUN-7",
        instrument="M01234",
        flowcell="000000000-ABCDE",
        reads=1000,
        read_length=50,
        gz=False,
        rng=rng(),
    )
    monkeypatch.setattr(fastq, "SAMPLE_RECORDS", 100)
    m = summarize(path).metadata
    assert "read_count" not in m and 900 <= m["read_count_estimate"] <= 1100
    assert m["run_id"] == "RUN-7" and m["instrument"] == "MiSeq"


def test_fastq_sra_accession_and_malformed_record(tmp_path: Path) -> None:
    sra = tmp_path / "SRR5124371.fastq"
    sra.write_text(
        "@SRR5124371.1 1 length=4\nACGT\n+\nIIII\n@SRR5124371.2 2 length=3\nACG\n+\nIII\n"
    )
    summary = summarize(sra)
    assert summary.metadata["run_accession"] == "SRR5124371"
    assert summary.metadata["read_length_min"] == 3 and "SRR5124371" in summary.identifiers

    broken = tmp_path / "broken.fastq"
    broken.write_text("@r1\nACGT\n+\nIII\n")
    summary = summarize(broken)
    assert summary.format == "fastq"
    assert "sequence has 4 bases but 3 quality values" in summary.errors[0]


def test_bam_read_groups_reference_programs(tmp_path: Path) -> None:
    path = files.write_bam(
        tmp_path / "LIV-0042.bam", sample="LIV-0042", read_group="HXXXXXX.2", reads=40, rng=rng()
    )
    summary = summarize(path)
    m = summary.metadata
    assert summary.format == "bam" and summary.errors == []
    assert m["samples"] == ["LIV-0042"] and m["read_groups"][0]["id"] == "HXXXXXX.2"
    assert m["reference"] == "GRCh38" and m["sequence_names"] == ["chr1", "chr2", "chrM"]
    assert m["programs"][0]["name"] == "bwa" and m["sort_order"] == "coordinate"
    assert m["mapped_reads"] == 40 and m["records"] == 40
    assert "LIV-0042" in summary.identifiers and "sample LIV-0042" in summary.text


def test_sam_and_bam_without_extension(tmp_path: Path) -> None:
    import pysam

    bam = files.write_bam(tmp_path / "x.bam", sample="KID-0007", read_group="RG1", reads=5)
    with (
        pysam.AlignmentFile(str(bam)) as source,
        pysam.AlignmentFile(str(tmp_path / "x.sam"), "w", template=source) as sam,
    ):
        for read in source:
            sam.write(read)
    assert summarize(tmp_path / "x.sam").metadata["samples"] == ["KID-0007"]
    renamed = tmp_path / "alignments.dat"
    renamed.write_bytes(bam.read_bytes())
    summary = summarize(renamed)
    assert summary.format == "bam" and summary.metadata["samples"] == ["KID-0007"]


def test_cram_header(tmp_path: Path) -> None:
    import pysam

    reference = files.write_fasta(tmp_path / "ref.fa", rng=rng())
    bam = files.write_bam(tmp_path / "x.bam", sample="LIV-0300", read_group="RG3", reads=10)
    cram = tmp_path / "x.cram"
    with (
        pysam.AlignmentFile(str(bam)) as source,
        pysam.AlignmentFile(
            str(cram), "wc", template=source, reference_filename=str(reference)
        ) as out,
    ):
        for read in source:
            out.write(read)
    summary = summarize(cram)
    assert summary.format == "cram" and summary.errors == []
    assert summary.metadata["samples"] == ["LIV-0300"] and summary.metadata["reference"] == "GRCh38"
    cram.write_bytes(cram.read_bytes()[:-20])
    assert summarize(cram).errors[0].startswith("truncated CRAM")


def test_truncated_bam_keeps_header_facts(tmp_path: Path) -> None:
    path = files.write_truncated_bam(tmp_path / "cut.bam", sample="LIV-0099", reads=200)
    summary = summarize(path)
    assert summary.format == "bam"
    assert summary.errors and summary.errors[0].startswith("truncated BAM: cut.bam")
    assert summary.metadata["samples"] == ["LIV-0099"]


def test_bam_cut_inside_its_header(tmp_path: Path) -> None:
    path = files.write_truncated_bam(tmp_path / "stub.bam", keep=0.001)
    summary = summarize(path)
    assert summary.format == "bam" and len(summary.errors) >= 1
    assert summary.errors[0].startswith("truncated BAM")


@pytest.mark.parametrize("gz", [True, False])
def test_vcf_samples_contigs_keys(tmp_path: Path, gz: bool) -> None:
    name = "calls.vcf.gz" if gz else "calls.vcf"
    path = files.write_vcf(
        tmp_path / name, samples=["LIV-0042", "LIV-0043"], reference="GRCm39", variants=12
    )
    summary = summarize(path)
    m = summary.metadata
    assert summary.format == "vcf" and summary.errors == []
    assert m["samples"] == ["LIV-0042", "LIV-0043"] and m["reference"] == "GRCm39"
    assert m["contigs"] == ["chr1", "chr2", "chrM"] and m["variant_count"] == 12
    assert set(m["info_keys"]) == {"DP", "AF"} and set(m["format_keys"]) == {"GT", "DP", "GQ"}
    assert summary.identifiers == ["LIV-0042", "LIV-0043"]


def test_vcf_truncated(tmp_path: Path) -> None:
    path = files.write_vcf(tmp_path / "c.vcf.gz", samples=["A-1"], variants=200)
    path.write_bytes(path.read_bytes()[:-40])
    summary = summarize(path)
    assert summary.format == "vcf" and summary.errors[0].startswith("truncated VCF")


@pytest.mark.parametrize("gz", [False, True])
def test_fasta(tmp_path: Path, gz: bool) -> None:
    path = files.write_fasta(
        tmp_path / ("ref.fa.gz" if gz else "ref.fasta"), {"chr1": 500, "chrM": 120}, gz=gz
    )
    summary = summarize(path)
    assert summary.format == "fasta" and summary.errors == []
    m = summary.metadata
    assert (m["sequence_count"], m["sequence_names"], m["total_length"]) == (
        2,
        ["chr1", "chrM"],
        620,
    )
    assert m["alphabet"] == "nucleotide" and 0.3 < m["gc_content"] < 0.6


# --- tables -----------------------------------------------------------------------------------


def test_csv_sample_sheet_samples_and_identifiers(tmp_path: Path) -> None:
    rows = [
        {"sample_id": f"LIV-{i:04d}", "organism": "Homo sapiens", "rin": 8.1 + i / 10}
        for i in range(1, 6)
    ]
    summary = summarize(files.write_csv(tmp_path / "samplesheet.csv.gz", rows, gz=True))
    m = summary.metadata
    assert summary.format == "csv" and summary.errors == []
    assert m["columns"] == ["sample_id", "organism", "rin"] and m["row_count"] == 5
    assert m["dtypes"]["rin"] == "float64" and m["examples"]["organism"] == ["Homo sapiens"]
    assert m["samples"] == [f"LIV-{i:04d}" for i in range(1, 6)] and m["organism"] == "Homo sapiens"
    assert {"LIV-0001", "LIV-0005"} <= set(summary.identifiers)
    assert "5 rows × 3 columns" in summary.text


def test_tsv_and_parquet_gene_counts(tmp_path: Path) -> None:
    rows = files.gene_count_rows(["LIV-0042", "LIV-0043"], genes=12, rng=rng())
    tsv = summarize(files.write_tsv(tmp_path / "counts.tsv", rows))
    assert tsv.format == "tsv" and tsv.metadata["n_columns"] == 4
    parquet = summarize(files.write_parquet(tmp_path / "counts.parquet", rows))
    m = parquet.metadata
    assert parquet.format == "parquet" and parquet.errors == []
    assert m["columns"] == ["gene_id", "gene_name", "LIV-0042", "LIV-0043"] and m["row_count"] == 12
    assert m["dtypes"]["gene_name"] == "string" and m["dtypes"]["LIV-0042"] == "int64"
    # Sample ids as column headers and gene ids in the id column are identifiers.
    assert {"LIV-0042", "LIV-0043", "ENSG00000141510"} <= set(parquet.identifiers)


def test_csv_row_count_beyond_the_parsed_sample(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(tabular, "SAMPLE_ROWS", 10)
    path = files.write_csv(tmp_path / "many.csv", [{"well": f"A{i}", "od": i} for i in range(250)])
    assert summarize(path).metadata["row_count"] == 250


def test_csv_with_invalid_utf8(tmp_path: Path) -> None:
    path = tmp_path / "plates.csv"
    path.write_bytes(b"well,operator\nA1,J\xfcrgen\nA2,Ana\n")
    summary = summarize(path)
    assert summary.metadata["row_count"] == 2
    assert summary.errors[0].startswith("invalid UTF-8 in plates.csv: byte 0xfc")


def test_illumina_sample_sheet_sections(tmp_path: Path) -> None:
    path = tmp_path / "SampleSheet.csv"
    path.write_text(
        "[Header]\nIEMFileVersion,4\nExperiment Name,RUN-0042\nDate,2021-01-05\n\n"
        "[Reads]\n101\n101\n\n[Data]\nSample_ID,Sample_Name,index\n"
        "LIV-0042,LIV-0042,ACGTACGT\nLIV-0043,LIV-0043,TTGCAACG\n"
    )
    summary = summarize(path)
    assert summary.errors == [] and summary.metadata["row_count"] == 2
    assert summary.metadata["samples"] == ["LIV-0042", "LIV-0043"]
    assert summary.metadata["sample_sheet"]["Experiment Name"] == "RUN-0042"
    assert "RUN-0042" in summary.identifiers and "Experiment Name: RUN-0042" in summary.text
    # Index sequences are exact-match identifiers: "which sample had barcode TTGCAACG?"
    assert {"ACGTACGT", "TTGCAACG"} <= set(summary.identifiers)


def test_semicolon_and_ragged_csv(tmp_path: Path) -> None:
    semicolon = tmp_path / "plate.csv"
    semicolon.write_text("well;od_600;sample\nA1;0,41;S-1\nA2;0,39;S-2\n")
    m = summarize(semicolon).metadata
    assert m["columns"] == ["well", "od_600", "sample"] and m["samples"] == ["S-1", "S-2"]

    ragged = tmp_path / "ragged.csv"
    ragged.write_text("a,b\n1,2\n3,4,5\n6,7\n")
    summary = summarize(ragged)
    assert summary.metadata["row_count"] == 2
    assert summary.errors[0].startswith("malformed CSV in ragged.csv: Error tokenizing data")


def test_corrupt_parquet(tmp_path: Path) -> None:
    path = tmp_path / "x.parquet"
    path.write_bytes(b"PAR1" + b"\x00" * 50)
    summary = summarize(path)
    assert summary.format == "parquet" and summary.errors[0].startswith("unreadable PARQUET")


# --- documents --------------------------------------------------------------------------------


def test_pdf_text_title_and_chunks(tmp_path: Path) -> None:
    paragraphs = files.lab_paragraphs(rng(), n=12, samples=["LIV-0042"])
    path = files.write_pdf(tmp_path / "report.pdf", "Liver RNA-seq under dexamethasone", paragraphs)
    summary = summarize(path)
    m = summary.metadata
    assert summary.format == "pdf" and summary.errors == []
    assert m["title"] == "Liver RNA-seq under dexamethasone" and m["pages"] >= 1
    assert summary.text.startswith("PDF document 'Liver RNA-seq under dexamethasone'")
    flat = " ".join(" ".join(summary.chunks).split())  # pypdf breaks lines where the PDF does
    assert paragraphs[0][:80] in flat and paragraphs[-1][-80:] in flat
    assert len(summary.chunks) >= 2 and "LIV-0042" in summary.identifiers


def test_unreadable_pdf(tmp_path: Path) -> None:
    path = tmp_path / "broken.pdf"
    path.write_bytes(b"%PDF-1.4\n1 0 obj garbage")
    summary = summarize(path)
    assert summary.format == "pdf" and summary.errors


def test_long_markdown_is_chunked_by_tokens(tmp_path: Path) -> None:
    sections = {
        f"Day {day}": files.lab_paragraphs(random.Random(day), n=3, samples=[f"LIV-{day:04d}"])
        for day in range(1, 9)
    }
    path = files.write_markdown(tmp_path / "notebook.md", "Dexamethasone time course", sections)
    summary = summarize(path)
    assert summary.format == "markdown" and summary.errors == []
    assert summary.metadata["title"] == "Dexamethasone time course"
    assert summary.metadata["headings"][:3] == ["Dexamethasone time course", "Day 1", "Day 2"]
    assert len(summary.chunks) >= 3
    assert all(chunking.count_tokens(chunk) <= chunking.CHUNK_TOKENS for chunk in summary.chunks)
    # Neighbouring chunks overlap: the end of one is the start of the next.
    assert summary.chunks[0][-60:].split()[-3] in summary.chunks[1][:400]
    assert {"LIV-0001", "LIV-0008"} <= set(summary.identifiers)
    assert chunking.count_tokens(summary.text) < chunking.HEAD_TOKENS + 30


def test_chunking_uses_cl100k_offline() -> None:
    from labsearch.tokens import ENCODING_NAMES

    encoding = chunking.encoding()
    assert encoding.name in ENCODING_NAMES
    assert encoding.encode("hello world") == [15339, 1917]  # cl100k_base ids
    assert chunking.chunk_text("") == []
    words = " ".join(f"word{i}" for i in range(5000))
    capped = chunking.chunk_text(words, max_tokens=50, overlap=10, max_chunks=4)
    assert len(capped) == 4 and capped[0].startswith("word0")
    with pytest.raises(ValueError, match="overlap"):
        chunking.chunk_text("x", max_tokens=10, overlap=10)


def test_invalid_utf8_text_is_decoded_with_replacement(tmp_path: Path) -> None:
    path = files.write_invalid_utf8(tmp_path / "notes.txt", "Sample LIV-0001 notes")
    summary = summarize(path)
    assert summary.format == "text"
    assert summary.errors[0].startswith("invalid UTF-8 in notes.txt: byte 0xb0 at offset")
    assert "line 2" in summary.errors[0] and "Sample LIV-0001 notes" in summary.text
    assert "\ufffd" in summary.chunks[0]


def test_json_object_and_json_lines(tmp_path: Path) -> None:
    meta = {"run_id": RUN, "samples": ["LIV-0042"], "assay": "RNA-seq", "qc": {"q30": 0.93}}
    summary = summarize(files.write_json(tmp_path / "run.json", meta))
    m = summary.metadata
    assert summary.format == "json" and summary.errors == []
    assert (m["run_id"], m["samples"], m["assay"]) == (RUN, ["LIV-0042"], "RNA-seq")
    assert {RUN, "LIV-0042"} <= set(summary.identifiers) and "qc.q30: 0.93" in summary.text

    lines = tmp_path / "records.jsonl"
    lines.write_text('{"id": "ELN-12", "title": "a"}\n{"id": "ELN-13"\n{"id": "ELN-14"}\n')
    summary = summarize(lines)
    assert summary.metadata["length"] == 2 and summary.metadata["item_keys"] == ["id", "title"]
    assert summary.errors == ["invalid JSON on line 2 of records.jsonl: Expecting ',' delimiter"]
    assert {"ELN-12", "ELN-14"} <= set(summary.identifiers)


def test_invalid_json_says_where(tmp_path: Path) -> None:
    path = tmp_path / "bad.json"
    path.write_text('{\n  "a": 1,\n  "b": \n}')
    summary = summarize(path)
    assert summary.errors[0].startswith("invalid JSON in bad.json at line 4 column 1")


# --- imaging and matrices ---------------------------------------------------------------------


def test_ome_tiff_channels_and_pixel_sizes(tmp_path: Path) -> None:
    path = files.write_tiff(
        tmp_path / "slide.ome.tif",
        channels=("DAPI", "GFAP", "CD31"),
        pixel_size_um=0.65,
        z_planes=3,
        z_step_um=2.0,
        name="LIV-0042 section 3",
        rng=rng(),
    )
    summary = summarize(path)
    m = summary.metadata
    assert summary.format == "tiff" and summary.errors == [] and m["ome"] is True
    assert m["channels"] == ["DAPI", "GFAP", "CD31"] and m["size_c"] == 3 and m["size_z"] == 3
    assert (m["physical_size_x"], m["physical_size_y"], m["physical_size_z"]) == (0.65, 0.65, 2.0)
    assert m["image_name"] == "LIV-0042 section 3" and "LIV-0042" in summary.identifiers
    assert "3 channels (DAPI, GFAP, CD31)" in summary.text and "0.65×0.65 µm" in summary.text


def test_plain_tiff_and_broken_tiff(tmp_path: Path) -> None:
    plain = summarize(files.write_tiff(tmp_path / "scan.tif", ome=False, size=(32, 48)))
    assert plain.metadata["ome"] is False and plain.metadata["shape"][-2:] == [32, 48]
    broken = tmp_path / "broken.tiff"
    broken.write_bytes(b"II*\x00" + b"\xff" * 20)
    summary = summarize(broken)
    assert summary.format == "tiff" and summary.errors[0].startswith("unreadable TIFF")


def test_h5ad_obs_columns_and_categories(tmp_path: Path) -> None:
    path = files.write_h5ad(
        tmp_path / "liver.h5ad",
        samples=["LIV-0042", "LIV-0043"],
        cells_per_sample=10,
        genes=15,
        uns={"organism": "Homo sapiens"},
        rng=rng(),
    )
    summary = summarize(path)
    m = summary.metadata
    assert summary.format == "h5ad" and summary.errors == []
    assert (m["n_obs"], m["n_vars"]) == (20, 15)
    assert m["obs_columns"] == ["sample", "cell_type", "n_counts"]
    assert m["obs_categories"]["sample"] == ["LIV-0042", "LIV-0043"] == m["samples"]
    assert m["cell_types"][0] == "hepatocyte" and m["organism"] == "Homo sapiens"
    assert "20 cells × 15 genes" in summary.text and "TP53" in summary.text


def test_hdf5_datasets_and_truncation(tmp_path: Path) -> None:
    path = files.write_hdf5(tmp_path / "plate.h5", rng=rng())
    summary = summarize(path)
    names = [d["name"] for d in summary.metadata["datasets"]]
    assert summary.format == "hdf5" and names == ["plate_1/absorbance_450nm", "plate_1/kinetics"]
    assert summary.metadata["datasets"][1]["shape"] == [30, 8, 12]
    assert summary.metadata["instrument"] == "BioTek Synergy H1"
    cut = tmp_path / "cut.h5"
    cut.write_bytes(path.read_bytes()[:3000])
    summary = summarize(cut)
    assert summary.format == "hdf5" and summary.errors[0].startswith("unreadable HDF5: cut.h5")


# --- dispatch and bad inputs ------------------------------------------------------------------


def test_corrupt_gzip_keeps_format_from_name(tmp_path: Path) -> None:
    for name, fmt in (("r1.fastq.gz", "fastq"), ("t.csv.gz", "csv"), ("n.txt.gz", "text")):
        summary = summarize(files.write_corrupt_gzip(tmp_path / name))
        assert summary.format == fmt
        assert summary.errors[0].startswith(f"corrupt gzip: {name} cannot be decompressed")


def test_cut_gzip_is_truncated(tmp_path: Path) -> None:
    path = tmp_path / "r.fq.gz"
    data = gzip.compress(b"@r1\nACGT\n+\nIIII\n" * 500, mtime=0)
    path.write_bytes(data[: len(data) // 2])
    summary = summarize(path)
    assert summary.format == "fastq" and summary.errors[0].startswith("truncated gzip")


def test_content_sniffing_without_extension(tmp_path: Path) -> None:
    pdf = files.write_pdf(tmp_path / "a.pdf", "Protocol", ["Stain with DAPI."])
    (tmp_path / "protocol").write_bytes(pdf.read_bytes())
    assert summarize(tmp_path / "protocol").format == "pdf"
    (tmp_path / "calls").write_bytes(
        files.write_vcf(tmp_path / "v.vcf", samples=["Z-1"], variants=2, gz=False).read_bytes()
    )
    assert summarize(tmp_path / "calls").metadata["samples"] == ["Z-1"]
    (tmp_path / "README").write_text("Freezer map for rack B.\n")
    assert summarize(tmp_path / "README").format == "text"
    unknown_gz = tmp_path / "blob.gz"
    unknown_gz.write_bytes(gzip.compress(b"\x00\x01binary" * 10))
    assert summarize(unknown_gz).metadata["note"].startswith("unknown format")


def test_unknown_binary_empty_and_missing(tmp_path: Path) -> None:
    summary = summarize(files.write_random_bytes(tmp_path / "instrument.raw", 2048))
    assert summary.format == "unknown" and "2.0 KB" in summary.text
    # Formats we cannot read are normal in a lab: named and sized, noted, not a failure.
    assert summary.errors == []
    assert summary.metadata["note"].startswith("unknown format: instrument.raw")

    (tmp_path / "empty.fastq.gz").write_bytes(b"")
    summary = summarize(tmp_path / "empty.fastq.gz")
    assert summary.format == "fastq"
    assert summary.errors == [
        "empty file: empty.fastq.gz has 0 bytes, there is no content to summarize"
    ]

    summary = summarize(tmp_path / "missing.csv")
    assert summary.format == "csv" and summary.errors[0].startswith("cannot read")


def test_index_files_are_named_not_read(tmp_path: Path) -> None:
    bam = files.write_bam(tmp_path / "LIV-0042.bam", sample="LIV-0042", read_group="RG1", reads=5)
    summary = summarize(Path(f"{bam}.bai"))
    assert (summary.format, summary.errors) == ("index", [])
    assert summary.text == "BAM index LIV-0042.bam.bai of LIV-0042.bam."


def test_double_extensions() -> None:
    from indexer.extractors.sniff import format_from_name

    cases = {
        "a.fastq.gz": "fastq",
        "a.FQ.GZ": "fastq",
        "a.vcf.bgz": "vcf",
        "a.csv.gz": "csv",
        "x.ome.tiff": "tiff",
        "cells.h5ad": "h5ad",
        "a.tar.gz": None,
    }
    assert {name: format_from_name(name) for name in cases} == cases


def _good_files(root: Path) -> list[Path]:
    r = rng()
    return [
        files.write_fastq(
            root / "r.fastq.gz", sample="S-1", run_id=RUN, instrument="A1", flowcell="F", rng=r
        ),
        files.write_bam(root / "a.bam", sample="S-1", read_group="RG1", reads=30, index=False),
        files.write_vcf(root / "v.vcf.gz", samples=["S-1"], variants=30, rng=r),
        files.write_fasta(root / "f.fa", {"c1": 300}, rng=r),
        files.write_csv(root / "t.csv", files.gene_count_rows(["S-1"], rng=r)),
        files.write_parquet(root / "t.parquet", files.gene_count_rows(["S-1"], rng=r)),
        files.write_pdf(root / "d.pdf", "T", files.lab_paragraphs(r, n=2)),
        files.write_markdown(root / "m.md", "T", {"A": files.lab_paragraphs(r, n=2)}),
        files.write_json(root / "j.json", {"sample": "S-1", "values": [1, 2, 3]}),
        files.write_tiff(root / "i.ome.tif", rng=r),
        files.write_h5ad(root / "c.h5ad", samples=["S-1"], cells_per_sample=5, rng=r),
        files.write_hdf5(root / "p.h5", rng=r),
    ]


# pysam's destructor reports the failed close of a file it could not open; harmless.
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
def test_damaged_files_never_raise(tmp_path: Path) -> None:
    """Cut or overwritten anywhere, every file still yields a Summary of its format."""
    damaged = tmp_path / "damaged"
    for good in _good_files(tmp_path):
        expected = summarize(good).format
        data = good.read_bytes()
        variants = {
            "cut-early": data[:16],
            "cut-half": data[: len(data) // 2],
            "scribbled": data[:64] + bytes(range(256)) * 4 + data[64 + 1024 :],
        }
        for label, content in variants.items():
            path = damaged / label / good.name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(content)
            summary = summarize(path)
            assert summary.format == expected, (label, good.name, summary)
            assert summary.text, (label, good.name)
            # Formats with a structure (or a checksum) show that they were cut; plain text,
            # CSV and FASTA cut at a line are still valid files.
            if label.startswith("cut") and good.suffix not in (".fa", ".csv", ".md"):
                assert summary.errors, (label, good.name, summary)
