"""QuiltSource against real quilt3 registries: a local one in tmp_path and one in S3 (moto)."""

from __future__ import annotations

import json
import os
import random
import time
from pathlib import Path

import pytest

# quilt3 reads these once, at import: no usage telemetry, no progress bars.
os.environ.setdefault("QUILT_DISABLE_USAGE_METRICS", "true")
os.environ.setdefault("QUILT_MINIMIZE_STDOUT", "true")

import quilt3  # noqa: E402
from s3_fixtures import moto_s3_fixture, s3_bucket_fixture  # noqa: E402,F401
from source_helpers import split_scan

from indexer.sources.base import Checked, SourceIssue  # noqa: E402
from indexer.sources.quilt import QuiltSource  # noqa: E402
from labsearch.errors import SourceError  # noqa: E402
from labsearch.schema import Asset, AssetKind, DataLevel, Entity, LinkType  # noqa: E402
from labsearch.settings import AccessRule, Settings  # noqa: E402
from shell.demo import files as demo  # noqa: E402

RUN_ID = "240105_A00123_0042_AHXXXXDSX2"
RAW_META = {
    "run_id": RUN_ID,
    "samples": ["LIV-0042", "LIV-0043"],
    "experiment": "ELN-123",  # a source spelling of experiment_id
    "instrument": "NovaSeq 6000",
    "organism": "Mus musculus",
    "date": "2024-01-05T09:30:00Z",
    "lab": "lab-a",
}


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(
        home=tmp_path / "home",
        cache_dir=tmp_path / "cache",
        access_rules=[AccessRule(prefix="lab-a/", groups=["lab-a"])],
    )


@pytest.fixture
def run_files(tmp_path: Path) -> dict[str, Path]:
    """Real small files of one sequencing run."""
    rng = random.Random(3)
    folder = tmp_path / "files"
    return {
        "fastq/LIV-0042_S1_L001_R1_001.fastq.gz": demo.write_fastq(
            folder / "LIV-0042_S1_L001_R1_001.fastq.gz",
            sample="LIV-0042",
            run_id=RUN_ID,
            instrument="A00123",
            flowcell="HXXXXDSX2",
            reads=20,
            read_length=50,
            rng=rng,
        ),
        "samplesheet.csv": demo.write_csv(
            folder / "samplesheet.csv",
            [
                {"sample_id": "LIV-0042", "index": "ACGTACGT", "tissue": "liver"},
                {"sample_id": "LIV-0043", "index": "TTGCAAGC", "tissue": "liver"},
            ],
        ),
        "README.md": demo.write_markdown(
            folder / "README.md",
            "Run notes",
            {"Methods": demo.lab_paragraphs(rng, n=12, samples=["LIV-0042", "LIV-0043"])},
        ),
    }


def build(registry: str, name: str, files: dict[str, Path], meta: dict, **kw) -> str:
    package = quilt3.Package()
    for logical_key, path in files.items():
        package.set(logical_key, str(path), meta=kw.get("entry_meta", {}).get(logical_key))
    package.set_meta(meta)
    return package.build(name, registry=registry, message=kw.get("message", "built in a test"))


def scan(source: QuiltSource) -> tuple[dict[str, Asset], list[SourceIssue]]:
    return split_scan(source)


@pytest.fixture
def local_registry(tmp_path: Path, run_files: dict[str, Path]) -> dict[str, str]:
    registry = (tmp_path / "registry").as_uri()
    hashes = {
        "raw": build(
            registry,
            "lab-a/raw-run-0042",
            run_files,
            RAW_META,
            message="raw reads of run 42",
            entry_meta={"fastq/LIV-0042_S1_L001_R1_001.fastq.gz": {"sample": "LIV-0042"}},
        ),
        "processed": build(
            registry,
            "lab-a/processed-ELN-123",
            {"samplesheet.csv": run_files["samplesheet.csv"]},
            {"experiment_id": "ELN-123", "derived_from": ["lab-a/raw-run-0042"]},
        ),
        "lab-b": build(
            registry,
            "lab-b/final-report",
            {"README.md": run_files["README.md"]},
            {"entity": "experiment", "groups": ["lab-b"], "data_level": "final"},
        ),
    }
    return {"registry": registry, **hashes}


def test_local_registry_packages_entries_and_conventions(local_registry, settings, run_files):
    registry = local_registry["registry"]
    uri = f"quilt+{registry}"
    assets, issues = scan(QuiltSource(uri, settings))
    assert issues == []

    raw = assets[f"quilt:{registry}#lab-a/raw-run-0042"]
    assert raw.kind is AssetKind.PACKAGE and raw.entity is Entity.RUN
    assert raw.source == uri and raw.title == "lab-a/raw-run-0042"
    assert raw.provenance.top_hash == local_registry["raw"]
    assert raw.provenance.registry == registry and raw.provenance.package == "lab-a/raw-run-0042"
    assert raw.metadata["message"] == "raw reads of run 42"
    assert raw.metadata["experiment"] == "ELN-123"  # verbatim key kept
    assert raw.metadata["experiment_id"] == "ELN-123"  # plus the normalized one
    assert raw.metadata["date"] == "2024-01-05"
    assert raw.metadata["entries"] == 3
    assert {RUN_ID, "LIV-0042", "LIV-0043", "ELN-123", "lab-a/raw-run-0042"} <= set(raw.identifiers)
    assert raw.data_level is DataLevel.RAW
    assert raw.groups == ["lab-a"]  # from the settings' prefix rule on the package name
    assert raw.created_at is not None

    # Entries: what quilt3 itself says about them, plus the package's run/sample/experiment.
    browsed = quilt3.Package.browse("lab-a/raw-run-0042", registry=registry)
    fastq_key = "fastq/LIV-0042_S1_L001_R1_001.fastq.gz"
    fastq = assets[f"quilt:{registry}#lab-a/raw-run-0042:{fastq_key}"]
    entry = browsed[fastq_key]
    assert fastq.kind is AssetKind.PACKAGE_ENTRY and fastq.entity is Entity.FILE
    assert fastq.provenance.logical_key == fastq_key
    assert fastq.provenance.entry_hash == entry.hash["value"]
    assert fastq.metadata["size"] == entry.size == run_files[fastq_key].stat().st_size
    assert fastq.provenance.path == str(run_files[fastq_key])
    assert fastq.provenance.physical_key == str(entry.physical_key)
    assert fastq.metadata["sample"] == "LIV-0042"  # entry metadata verbatim
    assert fastq.metadata["run_id"] == RUN_ID and fastq.metadata["experiment_id"] == "ELN-123"
    # Its own sample, not every sample of the run; the package's stay in package_samples.
    assert fastq.metadata["samples"] == ["LIV-0042"] and "LIV-0043" not in fastq.identifiers
    assert fastq.metadata["package_samples"] == ["LIV-0042", "LIV-0043"]
    assert {"LIV-0042", RUN_ID, "ELN-123", "LIV-0042_S1_L001_R1_001.fastq.gz"} <= set(
        fastq.identifiers
    )
    assert fastq.links[0].rel is LinkType.PART_OF and fastq.links[0].target == raw.id
    assert fastq.groups == raw.groups and fastq.data_level is DataLevel.RAW
    # The content summary of the real FASTQ, read in place.
    assert fastq.metadata["content"]["format"] == "fastq"
    assert fastq.errors == []
    assert "A00123" in fastq.text

    sheet = assets[f"quilt:{registry}#lab-a/raw-run-0042:samplesheet.csv"]
    assert sheet.metadata["content"]["format"] == "csv"
    assert "sample_id" in sheet.text

    processed = assets[f"quilt:{registry}#lab-a/processed-ELN-123"]
    assert processed.entity is Entity.DATASET and processed.data_level is DataLevel.PROCESSED
    assert processed.linked(LinkType.DERIVED_FROM) == [raw.id]

    final = assets[f"quilt:{registry}#lab-b/final-report"]
    assert final.entity is Entity.EXPERIMENT  # explicit metadata entity wins
    assert final.groups == ["lab-b"] and final.data_level is DataLevel.FINAL
    readme_id = f"quilt:{registry}#lab-b/final-report:README.md"
    chunks = [a for a in assets.values() if a.id.startswith(f"{readme_id}#chunk-")]
    assert len(chunks) >= 2, "a long Markdown entry is split into chunk assets"
    assert all(
        c.kind is AssetKind.CHUNK and c.linked(LinkType.PART_OF) == [readme_id] for c in chunks
    )
    assert all(c.groups == ["lab-b"] for c in chunks)


def test_unchanged_registry_scans_to_identical_assets(local_registry, settings):
    uri = f"quilt+{local_registry['registry']}"
    first, _ = scan(QuiltSource(uri, settings))
    second, _ = scan(QuiltSource(uri, settings))  # summaries now come from the cache
    assert {i: a.content_hash("m") for i, a in first.items()} == {
        i: a.content_hash("m") for i, a in second.items()
    }


def test_packages_with_known_fingerprints_are_not_read(local_registry, settings):
    """Each package read ends with its fingerprint; given those, a scan reads no package."""
    uri = f"quilt+{local_registry['registry']}"
    first = [item for item in QuiltSource(uri, settings).scan() if isinstance(item, Checked)]
    assert first and not any(item.unchanged for item in first)
    known = QuiltSource(uri, settings)
    known.known_fingerprints = {item.root: item.fingerprint for item in first}
    again = list(known.scan())
    assert again == [Checked(item.root, item.fingerprint, unchanged=True) for item in first]
    # Another access rule is another fingerprint: the packages are read again.
    ruled = QuiltSource(
        uri, settings.with_overrides(access_rules=[AccessRule(prefix=uri, groups=["all"])])
    )
    ruled.known_fingerprints = known.known_fingerprints
    assert any(isinstance(item, Asset) for item in ruled.scan())


def test_no_rule_and_no_own_groups_means_nobody(local_registry, tmp_path):
    bare = Settings(home=tmp_path / "h", cache_dir=tmp_path / "c")
    assets, _ = scan(QuiltSource(f"quilt+{local_registry['registry']}", bare))
    registry = local_registry["registry"]
    assert assets[f"quilt:{registry}#lab-a/raw-run-0042"].groups == []
    assert assets[f"quilt:{registry}#lab-b/final-report"].groups == ["lab-b"]
    # Package metadata naming groups wins over rules, for the package and its entries.
    own = [a for a in assets.values() if a.provenance.package == "lab-b/final-report"]
    assert own and all(a.rule_keys is None for a in own)
    ruled = [a for a in assets.values() if a.provenance.package == "lab-a/raw-run-0042"]
    assert ruled and all(a.rule_keys and "lab-a/raw-run-0042" in a.rule_keys for a in ruled)


def test_broken_entry_and_broken_package_do_not_stop_the_scan(tmp_path, settings, run_files):
    registry = (tmp_path / "registry").as_uri()
    doomed = demo.write_csv(tmp_path / "doomed.csv", [{"sample_id": "LIV-0001"}])
    build(registry, "lab-a/raw-run-0001", {"gone.csv": doomed, **run_files}, RAW_META)
    doomed.unlink()
    broken_hash = build(registry, "lab-a/raw-run-0002", run_files, RAW_META)
    manifest = tmp_path / "registry" / ".quilt" / "packages" / broken_hash
    manifest.write_text('{"version": "v0", "user_meta": {}}\n{not json\n')

    assets, issues = scan(QuiltSource(f"quilt+{registry}", settings))

    [issue] = issues
    assert issue.location == f"lab-a/raw-run-0002@{broken_hash}" and issue.field == "manifest"
    gone = assets[f"quilt:{registry}#lab-a/raw-run-0001:gone.csv"]
    assert gone.errors and str(doomed) in gone.errors[0]
    assert gone.metadata["logical_key"] == "gone.csv"  # the manifest facts are still indexed
    others = [a for a in assets.values() if a.kind is AssetKind.PACKAGE_ENTRY and a is not gone]
    assert len(others) == 3 and all(not a.errors for a in others)


def test_all_revisions_gives_each_revision_its_own_ids(tmp_path, settings, run_files):
    registry = (tmp_path / "registry").as_uri()
    sheet = {"samplesheet.csv": run_files["samplesheet.csv"]}
    old = build(registry, "lab-a/raw-run-0042", sheet, {"run_id": RUN_ID}, message="v1")
    run_files["samplesheet.csv"].write_text("sample_id,index\nLIV-0042,ACGTACGT\n")
    time.sleep(1.1)  # quilt3 names revision pointers by the second: keep both revisions
    new = build(registry, "lab-a/raw-run-0042", sheet, {"run_id": RUN_ID}, message="v2")
    assert old != new
    base = f"quilt:{registry}#lab-a/raw-run-0042"

    latest_only, _ = scan(QuiltSource(f"quilt+{registry}", settings))
    assert set(latest_only) == {base, f"{base}:samplesheet.csv"}
    assert latest_only[base].provenance.top_hash == new

    every, issues = scan(QuiltSource(f"quilt+{registry}", settings, all_revisions=True))
    assert issues == []
    assert set(every) == {
        base,
        f"{base}:samplesheet.csv",
        f"{base}@{old}",
        f"{base}@{old}:samplesheet.csv",
    }
    assert every[f"{base}@{old}"].metadata["message"] == "v1"
    assert every[f"{base}@{old}"].metadata["latest"] is False
    # The package exists since its first push and changed when the latest was pushed.
    assert every[base].created_at == every[f"{base}@{old}"].updated_at
    assert every[base].updated_at > every[base].created_at
    old_entry = every[f"{base}@{old}:samplesheet.csv"]
    assert old_entry.linked(LinkType.PART_OF) == [f"{base}@{old}"]
    assert old_entry.provenance.entry_hash != every[f"{base}:samplesheet.csv"].provenance.entry_hash


def test_missing_or_non_registry_directory_is_a_source_error(tmp_path, settings):
    with pytest.raises(SourceError, match="does not exist"):
        list(QuiltSource(f"quilt+{(tmp_path / 'nope').as_uri()}", settings).scan())
    (tmp_path / "plain").mkdir()
    with pytest.raises(SourceError, match="not a Quilt registry"):
        list(QuiltSource(f"quilt+{(tmp_path / 'plain').as_uri()}", settings).scan())


# --- S3 through moto ------------------------------------------------------------------------


def test_s3_registry_pushed_with_quilt3(s3_bucket, moto_s3, settings, run_files):
    registry = f"s3://{s3_bucket}"
    files = {k: run_files[k] for k in ("samplesheet.csv", "fastq/LIV-0042_S1_L001_R1_001.fastq.gz")}
    package = quilt3.Package()
    for logical_key, path in files.items():
        package.set(logical_key, str(path))
    package.set_meta(RAW_META)
    pushed = package.push("lab-a/raw-run-0042", registry=registry, message="pushed", force=True)

    assets, issues = scan(QuiltSource(f"quilt+{registry}", settings))
    assert issues == []
    base = f"quilt:{registry}#lab-a/raw-run-0042"
    assert assets[base].provenance.top_hash == pushed.top_hash
    assert assets[base].entity is Entity.RUN

    # The version ids moto assigned to the pushed objects, read independently of quilt3.
    s3 = moto_s3.client()
    listed = s3.list_object_versions(Bucket=s3_bucket, Prefix="lab-a/raw-run-0042/")["Versions"]
    versions = {v["Key"]: v["VersionId"] for v in listed if v["IsLatest"]}
    for logical_key in files:
        entry = assets[f"{base}:{logical_key}"]
        key = f"lab-a/raw-run-0042/{logical_key}"
        assert entry.provenance.s3_uri == f"s3://{s3_bucket}/{key}"
        assert entry.provenance.version_id == versions[key]
        assert entry.provenance.path is None
        assert entry.errors == []
    sheet = assets[f"{base}:samplesheet.csv"]
    assert sheet.metadata["content"]["format"] == "csv"  # downloaded and summarized
    fastq = assets[f"{base}:fastq/LIV-0042_S1_L001_R1_001.fastq.gz"]
    assert fastq.metadata["content"]["format"] == "fastq"


def test_s3_entries_too_large_or_gone(s3_bucket, moto_s3, settings, run_files):
    registry = f"s3://{s3_bucket}"
    package = quilt3.Package()
    package.set("samplesheet.csv", str(run_files["samplesheet.csv"]))
    package.set("README.md", str(run_files["README.md"]))
    package.push("lab-a/notes", registry=registry, force=True)
    base = f"quilt:{registry}#lab-a/notes"

    limited = QuiltSource(f"quilt+{registry}", settings, max_download_bytes=200)
    assets, issues = scan(limited)
    readme = assets[f"{base}:README.md"]
    assert readme.errors == [] and "too large" in readme.metadata["content"]["skipped"]
    assert assets[f"{base}:samplesheet.csv"].metadata["content"]["format"] == "csv"

    # Remove the exact object version the manifest points to: that entry fails, the rest not.
    version = assets[f"{base}:samplesheet.csv"].provenance.version_id
    s3 = moto_s3.client()
    s3.delete_object(Bucket=s3_bucket, Key="lab-a/notes/samplesheet.csv", VersionId=version)
    fresh = Settings(home=settings.home, cache_dir=settings.cache_dir.with_name("cache2"))
    assets, issues = scan(QuiltSource(f"quilt+{registry}", fresh))
    gone = assets[f"{base}:samplesheet.csv"]
    assert gone.errors and "cannot download" in gone.errors[0] and version in gone.errors[0]
    assert assets[f"{base}:README.md"].errors == []


def test_missing_bucket_is_a_source_error(moto_s3, settings):
    with pytest.raises(SourceError, match="does not exist"):
        list(QuiltSource("quilt+s3://no-such-bucket-here", settings).scan())


def test_bucket_without_quilt_manifests_is_a_source_error(s3_bucket, moto_s3, settings):
    moto_s3.client().put_object(Bucket=s3_bucket, Key="data/a.csv", Body=b"a\n1\n")
    with pytest.raises(SourceError, match="not a Quilt registry"):
        list(QuiltSource(f"quilt+s3://{s3_bucket}", settings).scan())


def test_s3_all_revisions_point_at_their_own_object_versions(s3_bucket, settings, tmp_path):
    registry = f"s3://{s3_bucket}"
    sheet = demo.write_csv(tmp_path / "sheet.csv", [{"sample_id": "LIV-0001"}])
    old = quilt3.Package().set("sheet.csv", str(sheet)).push("lab-a/sheet", registry, force=True)
    demo.write_csv(sheet, [{"sample_id": "LIV-0002"}])
    time.sleep(1.1)  # one revision pointer per second
    new = quilt3.Package().set("sheet.csv", str(sheet)).push("lab-a/sheet", registry, force=True)

    assets, issues = scan(QuiltSource(f"quilt+{registry}", settings, all_revisions=True))
    assert issues == []
    base = f"quilt:{registry}#lab-a/sheet"
    current, previous = assets[f"{base}:sheet.csv"], assets[f"{base}@{old.top_hash}:sheet.csv"]
    assert current.provenance.top_hash == new.top_hash
    assert current.provenance.version_id == new["sheet.csv"].physical_key.version_id
    assert previous.provenance.version_id == old["sheet.csv"].physical_key.version_id
    assert current.provenance.version_id != previous.provenance.version_id
    # Each revision's content is read from its own object version.
    assert "LIV-0002" in current.identifiers and "LIV-0001" not in current.identifiers
    assert "LIV-0001" in previous.identifiers


def test_a_package_with_a_failed_entry_is_read_again_and_still_reported(tmp_path, run_files):
    """A failed entry must not be fingerprinted away: every run retries it, reports it and
    fails, until it reads; then the package is skipped like any other."""
    from indexer.jobs import run_index

    registry = (tmp_path / "registry").as_uri()
    doomed = demo.write_csv(tmp_path / "doomed.csv", [{"sample_id": "LIV-0001"}])
    build(registry, "lab-a/raw-run-0001", {"gone.csv": doomed, **run_files}, RAW_META)
    content = doomed.read_bytes()
    doomed.unlink()
    settings = Settings(home=tmp_path / "home", cache_dir=tmp_path / "cache", backend="embedded")
    uri = f"quilt+{registry}"
    for _ in range(2):
        [report] = run_index(settings, [uri])
        assert not report.ok and report.failed == 1, report.errors
        assert any("gone.csv" in line for line in report.errors)
    doomed.write_bytes(content)  # the bytes are back: read, then skipped as unchanged
    [report] = run_index(settings, [uri])
    assert report.ok and report.failed == 0 and report.updated >= 1
    [report] = run_index(settings, [uri])
    assert report.ok and report.added == report.updated == 0 and report.unchanged >= 1


def test_a_manifest_with_fields_of_the_wrong_type_is_an_issue(tmp_path, settings, run_files):
    """Found by tests/test_fuzz_parsers.py: quilt3 reads a manifest without checking types, so
    a size that is not a number or a message that is not text reached our code and crashed it."""
    registry = (tmp_path / "registry").as_uri()
    top_hash = build(registry, "lab-a/raw-run-0003", run_files, RAW_META)
    build(registry, "lab-a/processed-0004", {"README.md": run_files["README.md"]}, {})
    manifest = tmp_path / "registry" / ".quilt" / "packages" / top_hash
    lines = [json.loads(line) for line in manifest.read_text().splitlines()]
    lines[0]["message"] = True
    lines[1]["size"] = [" "]
    manifest.write_text("\n".join(json.dumps(line) for line in lines) + "\n")

    assets, issues = scan(QuiltSource(f"quilt+{registry}", settings))

    [issue] = issues
    assert issue.location == f"lab-a/raw-run-0003@{top_hash}" and issue.field == "manifest"
    assert "malformed package manifest" in issue.reason
    assert issue.keep == f"quilt:{registry}#lab-a/raw-run-0003"  # the indexed version stays
    assert f"quilt:{registry}#lab-a/processed-0004" in assets
