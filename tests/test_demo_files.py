"""The demo writers produce files that each format's own reader accepts, deterministically."""

from __future__ import annotations

import gzip
import hashlib
import random
import zlib
from pathlib import Path

import pytest

from shell.demo import files

RUN = "210105_A00123_0042_AHXXXXXX"


def _write_all(root: Path) -> None:
    files.write_fastq(
        root / "s.fastq.gz",
        sample="LIV-0042",
        run_id=RUN,
        instrument="A00123",
        flowcell="HXXXXXX",
        reads=20,
        rng=random.Random(1),
    )
    files.write_bam(
        root / "s.bam", sample="LIV-0042", read_group="RG1", reads=20, rng=random.Random(1)
    )
    files.write_vcf(root / "s.vcf.gz", samples=["LIV-0042"], variants=5, rng=random.Random(1))
    files.write_pdf(root / "r.pdf", "Report", files.lab_paragraphs(random.Random(1), n=2))
    files.write_tiff(root / "i.ome.tif", rng=random.Random(1))
    files.write_h5ad(
        root / "c.h5ad", samples=["LIV-0042"], cells_per_sample=5, rng=random.Random(1)
    )
    files.write_hdf5(root / "p.h5", rng=random.Random(1))


def _digests(root: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(root.iterdir())}


def test_same_seed_same_bytes(tmp_path: Path) -> None:
    _write_all(tmp_path / "a")
    _write_all(tmp_path / "b")
    first = _digests(tmp_path / "a")
    assert first == _digests(tmp_path / "b")
    assert {"s.bam.bai", "s.vcf.gz.tbi"} <= set(first)


def test_fastq_has_illumina_headers(tmp_path: Path) -> None:
    path = files.write_fastq(
        tmp_path / "x.fastq.gz",
        sample="LIV-0042",
        run_id=RUN,
        instrument="A00123",
        flowcell="HXXXXXX",
        reads=10,
        read_length=75,
        rng=random.Random(3),
    )
    lines = gzip.decompress(path.read_bytes()).decode().splitlines()
    assert len(lines) == 40
    fields = lines[0][1:].split(" ")[0].split(":")
    assert fields[:4] == ["A00123", "42", "HXXXXXX", "1"]
    assert lines[0].split(" ")[1].startswith("1:N:0:")
    assert len(lines[1]) == len(lines[3]) == 75 and lines[2] == "+"


def test_run_id_with_colon_is_refused() -> None:
    with pytest.raises(ValueError, match="run_id"):
        files.run_number("RUN:1")
    assert files.run_number("RUN-7") == "RUN-7"


def test_bam_and_vcf_read_back_with_pysam(tmp_path: Path) -> None:
    import pysam

    bam = files.write_bam(tmp_path / "x.bam", sample="LIV-7", read_group="RG7", reads=30)
    with pysam.AlignmentFile(str(bam)) as alignments:
        header = alignments.header.to_dict()
        assert header["RG"][0]["SM"] == "LIV-7"
        assert header["SQ"][0]["AS"] == "GRCh38"
        assert alignments.mapped == 30  # the .bai index was written
    vcf = files.write_vcf(tmp_path / "x.vcf.gz", samples=["A-1", "B-2"], variants=7)
    with pysam.VariantFile(str(vcf)) as variants:
        assert list(variants.header.samples) == ["A-1", "B-2"]
        assert len(list(variants)) == 7


def test_tables_pdf_image_matrices(tmp_path: Path) -> None:
    import anndata
    import pyarrow.parquet as pq
    import tifffile
    from pypdf import PdfReader

    rows = files.gene_count_rows(["S-1", "S-2"], genes=5)
    table = pq.read_table(files.write_parquet(tmp_path / "c.parquet", rows))
    assert table.column_names == ["gene_id", "gene_name", "S-1", "S-2"] and table.num_rows == 5
    assert files.write_tsv(tmp_path / "c.tsv", rows).read_text().startswith("gene_id\tgene_name")

    pdf = files.write_pdf(tmp_path / "r.pdf", "Liver RNA-seq", ["Dexamethasone induced TP53."])
    assert "Dexamethasone induced TP53." in PdfReader(pdf).pages[0].extract_text()

    with tifffile.TiffFile(
        files.write_tiff(tmp_path / "i.ome.tif", channels=("DAPI", "CD31"))
    ) as tif:
        assert tif.is_ome and 'Name="CD31"' in tif.ome_metadata

    adata = anndata.read_h5ad(files.write_h5ad(tmp_path / "c.h5ad", samples=["S-1", "S-2"]))
    assert list(adata.obs["sample"].cat.categories) == ["S-1", "S-2"] and adata.n_vars == 25


def test_bad_files_are_bad(tmp_path: Path) -> None:
    with pytest.raises((zlib.error, gzip.BadGzipFile, EOFError)):
        gzip.decompress(files.write_corrupt_gzip(tmp_path / "x.gz").read_bytes())
    with pytest.raises(UnicodeDecodeError):
        files.write_invalid_utf8(tmp_path / "x.txt").read_bytes().decode("utf-8")
    truncated = files.write_truncated_bam(tmp_path / "t.bam", reads=50)
    assert not truncated.read_bytes().endswith(b"\x1b\x00\x03\x00\x00\x00\x00\x00\x00\x00\x00\x00")
    assert files.write_random_bytes(tmp_path / "b.bin").read_bytes()[:4] == b"\x00" * 4
