"""Previews of real files in the formats labs keep (written by the demo's file writers), bounded in
size however large the file, and over the API only for those who may see the file."""

from __future__ import annotations

import io
import random
import time
from urllib.parse import quote

from PIL import Image

from indexer.extractors.preview import MAX_TEXT_BYTES, THUMBNAIL_PX, preview
from shell.demo import files


def test_tables_and_sequence_files_show_their_first_lines(tmp_path):
    rows = [{"gene": f"G{i}", "LIV-0042": i * 3} for i in range(500)]
    table = preview(files.write_csv(tmp_path / "counts.csv.gz", rows, gz=True))
    assert table.format == "csv" and table.text.splitlines()[:2] == ["gene,LIV-0042", "G0,0"]
    assert table.truncated and len(table.text.splitlines()) == 200
    reads = files.write_fastq(
        tmp_path / "r1.fastq.gz", sample="LIV-0042", run_id="R1", instrument="NovaSeq 6000",
        flowcell="HXXX", reads=20,
    )  # fmt: skip
    fastq = preview(reads)
    assert fastq.format == "fastq" and fastq.text.startswith("@") and not fastq.truncated
    parquet = preview(files.write_parquet(tmp_path / "counts.parquet", rows))
    assert parquet.format == "parquet" and parquet.text.startswith("gene\tLIV-0042")
    assert parquet.truncated


def test_binary_formats_show_header_page_tree_or_thumbnail(tmp_path):
    bam = preview(files.write_bam(tmp_path / "x.bam", sample="KID-0007", read_group="RG1", reads=5))
    assert bam.format == "bam" and "@RG" in bam.text and "KID-0007" in bam.text
    pdf = preview(files.write_pdf(tmp_path / "sop.pdf", "Total RNA extraction", ["Homogenise."]))
    assert pdf.format == "pdf" and "Total RNA extraction" in pdf.text
    h5ad = preview(files.write_h5ad(tmp_path / "cells.h5ad", samples=["LIV-0042"]))
    assert h5ad.format == "h5ad" and "obs" in h5ad.text and "X" in h5ad.text
    tiff = preview(
        files.write_tiff(tmp_path / "slide.ome.tif", size=(600, 400), rng=random.Random(1))
    )
    assert tiff.image_png is not None and tiff.text.startswith("(")
    thumbnail = Image.open(io.BytesIO(tiff.image_png))
    assert max(thumbnail.size) <= THUMBNAIL_PX


def test_a_large_file_costs_only_its_head(tmp_path):
    big = tmp_path / "huge.tsv"
    line = "\t".join(["chr1", "12345", "LIV-0042", "x" * 200]) + "\n"
    with big.open("w") as handle:
        for _ in range(200_000):  # ~44 MB
            handle.write(line)
    started = time.perf_counter()
    shown = preview(big)
    assert time.perf_counter() - started < 2.0
    assert shown.truncated and len(shown.text.encode()) <= MAX_TEXT_BYTES


def test_unknown_and_damaged_files_say_why(tmp_path):
    assert preview(files.write_random_bytes(tmp_path / "blob.bin")).notes
    damaged = preview(files.write_corrupt_gzip(tmp_path / "bad.fastq.gz"))
    assert damaged.notes and not damaged.text


def test_preview_over_the_api_follows_the_download_rules(tmp_path, embedder):
    from api_fixtures import ALICE, BOB, api_settings, build_service
    from fastapi.testclient import TestClient

    from chat_api.app import create_app
    from indexer.pipeline import Indexer
    from labsearch.settings import AccessRule

    data = tmp_path / "data"
    files.write_tsv(data / "lab-a" / "counts.tsv", [{"gene": "Alb", "LIV-0042": 9120}])
    settings = api_settings(
        tmp_path / "home", access_rules=[AccessRule(prefix=str(data / "lab-a"), groups=["lab-a"])]
    )
    service = build_service(settings, embedder, assets=[])
    indexer = Indexer(settings, service.store, embedder)
    indexer.index(f"file://{data}")
    indexer.close()
    client = TestClient(create_app(settings, service))
    path = "/v1/preview/" + quote(f"file://{data}/lab-a/counts.tsv", safe="")
    shown = client.get(path, headers=ALICE)
    assert shown.status_code == 200
    assert shown.json()["format"] == "tsv" and shown.json()["text"].startswith("gene\tLIV-0042")
    assert client.get(path, headers=BOB).status_code == 404
