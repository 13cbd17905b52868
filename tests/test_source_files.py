"""FileSource (file:///dir) on real files in tmp_path, S3Source (s3://bucket/prefix) on moto."""

from __future__ import annotations

import json
import os
import random
from pathlib import Path

import pytest
from s3_fixtures import moto_s3_fixture, s3_bucket_fixture  # noqa: F401
from source_helpers import split_scan

from indexer.sources.base import SourceIssue
from indexer.sources.files import FileSource, S3Source
from labsearch.errors import SourceError
from labsearch.schema import Asset, AssetKind, DataLevel, Entity, LinkType
from labsearch.settings import AccessRule, Settings
from shell.demo import files as demo


def scan(source) -> tuple[dict[str, Asset], list[SourceIssue]]:
    return split_scan(source)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(home=tmp_path / "home", cache_dir=tmp_path / "cache")


@pytest.fixture
def lab_dir(tmp_path: Path) -> Path:
    rng = random.Random(5)
    root = tmp_path / "lab files"  # a space: ids and URIs must survive it
    demo.write_csv(root / "sheets" / "samples.csv", [{"sample_id": "LIV-0042", "tissue": "liver"}])
    demo.write_vcf(
        root / "raw" / "calls.vcf.gz",
        samples=["LIV-0042", "LIV-0043"],
        reference="GRCh38",
        variants=5,
        rng=rng,
    )
    demo.write_markdown(
        root / "protocols" / "sop.md",
        "RNA extraction SOP",
        {"Steps": demo.lab_paragraphs(rng, n=12, samples=["LIV-0042"])},
    )
    demo.write_corrupt_gzip(root / "broken.fastq.gz", rng=rng)
    (root / ".hidden.txt").write_text("not indexed")
    (root / ".snapshots").mkdir()
    (root / ".snapshots" / "old.csv").write_text("a\n1\n")
    return root


def test_directory_files_become_file_assets(lab_dir, settings):
    uri = lab_dir.as_uri()
    assets, issues = scan(FileSource(uri, settings))
    assert issues == []
    files = {a.id: a for a in assets.values() if a.kind is AssetKind.FILE}
    assert set(files) == {
        f"file://{lab_dir / 'sheets' / 'samples.csv'}",
        f"file://{lab_dir / 'raw' / 'calls.vcf.gz'}",
        f"file://{lab_dir / 'raw' / 'calls.vcf.gz.tbi'}",
        f"file://{lab_dir / 'protocols' / 'sop.md'}",
        f"file://{lab_dir / 'broken.fastq.gz'}",
    }, "hidden files and hidden directories are skipped"

    sheet = files[f"file://{lab_dir / 'sheets' / 'samples.csv'}"]
    assert sheet.source == uri and sheet.entity is Entity.FILE and sheet.title == "samples.csv"
    assert sheet.provenance.path == str(lab_dir / "sheets" / "samples.csv")
    assert sheet.metadata["size"] == (lab_dir / "sheets" / "samples.csv").stat().st_size
    assert sheet.metadata["content"]["format"] == "csv"
    assert "samples.csv" in sheet.identifiers and "LIV-0042" in sheet.identifiers
    assert sheet.groups == []  # no rule, not public: nobody but the operator

    vcf = files[f"file://{lab_dir / 'raw' / 'calls.vcf.gz'}"]
    assert vcf.metadata["content"]["format"] == "vcf"
    assert {"LIV-0042", "LIV-0043"} <= set(vcf.identifiers)
    assert vcf.data_level is DataLevel.RAW  # from the raw/ directory

    broken = files[f"file://{lab_dir / 'broken.fastq.gz'}"]
    assert broken.errors, "a corrupt gzip still becomes an asset, with the reason recorded"

    sop_id = f"file://{lab_dir / 'protocols' / 'sop.md'}"
    chunks = sorted((a for a in assets.values() if a.kind is AssetKind.CHUNK), key=lambda a: a.id)
    assert len(chunks) >= 2 and chunks[0].id == f"{sop_id}#chunk-1"
    assert all(c.linked(LinkType.PART_OF) == [sop_id] for c in chunks)


def test_directory_groups_from_rules(lab_dir, tmp_path):
    settings = Settings(
        home=tmp_path / "h",
        cache_dir=tmp_path / "c",
        access_rules=[
            AccessRule(prefix=str(lab_dir / "protocols"), groups=["lab-a", "lab-b"]),
            AccessRule(prefix=lab_dir.as_uri(), groups=["core"]),
        ],
    )
    assets, _ = scan(FileSource(lab_dir.as_uri(), settings))
    assert assets[f"file://{lab_dir / 'protocols' / 'sop.md'}"].groups == ["core", "lab-a", "lab-b"]
    assert assets[f"file://{lab_dir / 'sheets' / 'samples.csv'}"].groups == ["core"]


def test_bad_directory_uris(tmp_path, settings):
    with pytest.raises(SourceError, match="does not exist"):
        list(FileSource((tmp_path / "missing").as_uri(), settings).scan())
    with pytest.raises(SourceError, match="three slashes"):
        FileSource("file://relative/dir", settings)


def test_rescan_of_unchanged_directory_is_identical(lab_dir, settings):
    first, _ = scan(FileSource(lab_dir.as_uri(), settings))
    second, _ = scan(FileSource(lab_dir.as_uri(), settings))
    assert {i: a.content_hash("m") for i, a in first.items()} == {
        i: a.content_hash("m") for i, a in second.items()
    }


# --- S3 through moto ------------------------------------------------------------------------


def test_s3_prefix_objects_with_version_ids(s3_bucket, moto_s3, settings, tmp_path):
    s3 = moto_s3.client()
    sheet = demo.write_csv(tmp_path / "s.csv", [{"sample_id": "LIV-0042", "tissue": "liver"}])
    s3.put_object(Bucket=s3_bucket, Key="runs/r1/samples.csv", Body=b"old,content\n1,2\n")
    latest = s3.put_object(Bucket=s3_bucket, Key="runs/r1/samples.csv", Body=sheet.read_bytes())
    s3.put_object(Bucket=s3_bucket, Key="runs/r1/big.bin", Body=b"x" * 5000)
    s3.put_object(Bucket=s3_bucket, Key="runs/r1/deleted.csv", Body=b"a\n1\n")
    s3.delete_object(Bucket=s3_bucket, Key="runs/r1/deleted.csv")  # latest is a delete marker
    s3.put_object(Bucket=s3_bucket, Key="runs/.quilt/manifest", Body=b"{}")
    s3.put_object(Bucket=s3_bucket, Key="other/outside.csv", Body=b"a\n1\n")

    uri = f"s3://{s3_bucket}/runs/"
    rules = [AccessRule(prefix=f"s3://{s3_bucket}/runs/r1/", groups=["lab-a"])]
    limited = settings.with_overrides(access_rules=rules)
    assets, issues = scan(S3Source(uri, limited, max_download_bytes=1000))
    assert issues == []
    assert set(assets) == {
        f"s3://{s3_bucket}/runs/r1/samples.csv",
        f"s3://{s3_bucket}/runs/r1/big.bin",
    }
    csv_asset = assets[f"s3://{s3_bucket}/runs/r1/samples.csv"]
    assert csv_asset.provenance.s3_uri == f"s3://{s3_bucket}/runs/r1/samples.csv"
    assert csv_asset.provenance.version_id == latest["VersionId"]
    assert csv_asset.metadata["content"]["format"] == "csv"
    assert "LIV-0042" in csv_asset.identifiers  # from the newest version's content
    assert csv_asset.groups == ["lab-a"] and csv_asset.source == uri
    big = assets[f"s3://{s3_bucket}/runs/r1/big.bin"]
    assert big.errors == [] and "too large" in big.metadata["content"]["skipped"]
    assert big.metadata["size"] == 5000


def test_s3_missing_bucket_is_a_source_error(moto_s3, settings):
    with pytest.raises(SourceError, match="does not exist"):
        list(S3Source("s3://no-such-bucket-here/x", settings).scan())


def test_s3_part_of_a_missing_bucket_is_no_deletion(moto_s3, settings):
    """HEAD answers a bare 404 for a missing bucket as for a deleted object; only the latter
    may drop the key's asset (an event for a misnamed bucket must fail, not delete)."""
    items = list(S3Source("s3://no-such-bucket-here/", settings).scan_part(["runs/a.txt"]).items)
    assert [type(item) for item in items] == [SourceIssue]
    assert "does not exist" in items[0].reason and items[0].keep


def test_changed_file_is_summarized_again(lab_dir, settings):
    sheet = lab_dir / "sheets" / "samples.csv"
    first, _ = scan(FileSource(sheet.as_uri(), settings))  # a single file is a source too
    assert set(first) == {f"file://{sheet}"}
    assert "LIV-0777" not in first[f"file://{sheet}"].identifiers
    demo.write_csv(sheet, [{"sample_id": "LIV-0777", "tissue": "kidney"}])
    os.utime(sheet, ns=(sheet.stat().st_atime_ns, sheet.stat().st_mtime_ns + 1_000_000_000))
    second, _ = scan(FileSource(sheet.as_uri(), settings))
    assert "LIV-0777" in second[f"file://{sheet}"].identifiers


def test_s3_unversioned_bucket_and_cached_versions(moto_s3, settings):
    s3 = moto_s3.client()
    s3.create_bucket(Bucket="plain-bucket")
    s3.put_object(Bucket="plain-bucket", Key="a/samples.csv", Body=b"sample_id\nLIV-0042\n")
    assets, issues = scan(S3Source("s3://plain-bucket/a", settings))
    [item] = assets.values()
    assert issues == [] and item.provenance.version_id is None
    assert item.metadata["content"]["format"] == "csv" and "LIV-0042" in item.identifiers


def test_s3_object_version_is_read_once(s3_bucket, moto_s3, settings):
    s3 = moto_s3.client()
    put = s3.put_object(Bucket=s3_bucket, Key="x/samples.csv", Body=b"sample_id\nLIV-0042\n")
    first, _ = scan(S3Source(f"s3://{s3_bucket}/x/", settings))
    # A version's bytes never change, so its cached summary stays valid: the second scan does
    # not download it (shown here by making the download impossible).
    s3.put_bucket_policy(
        Bucket=s3_bucket,
        Policy=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Deny",
                        "Principal": "*",
                        "Action": "s3:GetObject",
                        "Resource": f"arn:aws:s3:::{s3_bucket}/*",
                    }
                ],
            }
        ),
    )
    second, issues = scan(S3Source(f"s3://{s3_bucket}/x/", settings))
    [asset] = second.values()
    assert issues == [] and asset.errors == []
    assert asset.provenance.version_id == put["VersionId"]
    assert asset.content_hash("m") == next(iter(first.values())).content_hash("m")
