"""The demo lab: deterministic, real files, and a ground truth that agrees with what was written.

One small lab (20 runs) is built per module; every check reads the written files back with the
format's own library (quilt3, pysam, pyarrow, pypdf, tifffile, anndata, h5py), never with
labsearch's extractors, so the truth is checked independently of the code under test elsewhere.
"""

from __future__ import annotations

import csv
import gzip
import json
import os
from collections import Counter
from pathlib import Path

import pytest

from labsearch.errors import ConfigError, InvalidRequestError
from shell.demo.lab import DemoLab, build_demo_lab
from shell.demo.plan import END, MAX_RUNS_PER_SAMPLE, START, plan_lab
from shell.demo.truth import load_truth

os.environ.setdefault("QUILT_DISABLE_USAGE_METRICS", "true")
os.environ.setdefault("QUILT_MINIMIZE_STDOUT", "true")

RUNS = 20


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> DemoLab:
    return build_demo_lab(tmp_path_factory.mktemp("demo") / "lab", seed=7, runs=RUNS)


@pytest.fixture(scope="module")
def truth(lab: DemoLab) -> dict:
    return load_truth(lab.truth)


@pytest.fixture(scope="module")
def eln(lab: DemoLab) -> dict[str, dict]:
    lines = lab.eln_export.read_text(encoding="utf-8").splitlines()
    records = [json.loads(line) for line in lines]
    assert len({r["id"] for r in records}) == len(records), "ELN record ids must be unique"
    return {r["id"]: r for r in records}


# --- determinism and size -----------------------------------------------------------------------


def test_same_seed_gives_same_truth_and_same_bytes(lab: DemoLab, truth: dict, tmp_path: Path):
    again = build_demo_lab(tmp_path / "again", seed=7, runs=RUNS)
    assert load_truth(again.truth) == truth
    # Same bytes too: the registry's files are identical, so are the packages' top hashes.
    some = sorted(truth["packages"])[:5]
    for name in some:
        for key in truth["packages"][name]["entries"]:
            assert (again.registry / name / key).read_bytes() == (
                lab.registry / name / key
            ).read_bytes(), f"{name}:{key} differs between two builds with seed 7"
    other = build_demo_lab(tmp_path / "other", seed=8, runs=RUNS)
    assert set(load_truth(other.truth)["runs"]) != set(truth["runs"])


@pytest.mark.parametrize("runs", [1, 5, 300])
def test_plan_has_exactly_the_requested_runs(runs: int):
    plan = plan_lab(3, runs)
    assert len(plan.runs) == runs
    if runs >= 2:  # both labs exist even in the smallest builds
        assert {run.lab for run in plan.runs.values()} == {"lab-a", "lab-b"}


def test_plan_rejects_zero_runs():
    with pytest.raises(ValueError, match="at least 1"):
        plan_lab(7, 0)


def test_full_size_plan_is_realistic():
    plan = plan_lab(7, 300)
    per_sample = Counter(len(s.runs) for s in plan.samples.values())
    assert max(per_sample) <= MAX_RUNS_PER_SAMPLE
    assert sum(n for k, n in per_sample.items() if k >= 2) >= 150  # resequencing is common
    assert sum(n for k, n in per_sample.items() if k >= 3) >= 30
    dates = sorted(run.date for run in plan.runs.values())
    assert dates[0] >= START and dates[-1] <= END
    assert (dates[-1] - dates[0]).days > 365  # spread over more than a year
    assert {r.instrument.model for r in plan.runs.values()} == {
        "NovaSeq 6000", "HiSeq 2500", "NextSeq 2000", "MiSeq",
    }  # fmt: skip
    # A sample resequenced on a different instrument than its first run ("NovaSeq then HiSeq").
    assert any(
        len({plan.runs[r].instrument.model for r in s.runs}) > 1 for s in plan.samples.values()
    )


def test_rebuild_replaces_the_previous_demo(tmp_path: Path):
    import quilt3

    first = load_truth(build_demo_lab(tmp_path / "lab", seed=1, runs=3).truth)
    second = build_demo_lab(tmp_path / "lab", seed=2, runs=3)
    truth = load_truth(second.truth)
    assert set(first["runs"]).isdisjoint(truth["runs"])
    assert set(quilt3.list_packages(second.registry_uri)) == set(truth["packages"])
    on_disk = {f"{ns.name}/{p.name}" for ns in second.registry.glob("lab-*") for p in ns.iterdir()}
    assert on_disk == set(truth["packages"]), "files of the seed-1 lab were left behind"


def test_build_refuses_a_directory_that_is_not_a_demo(tmp_path: Path):
    (tmp_path / "thesis.docx").write_text("precious")
    with pytest.raises(ConfigError, match="not a labsearch demo lab"):
        build_demo_lab(tmp_path, runs=2)
    assert (tmp_path / "thesis.docx").read_text() == "precious"
    with pytest.raises(InvalidRequestError, match="at least 2 sequencing runs"):
        build_demo_lab(tmp_path / "new", runs=1)


# --- the demo lab's handles -----------------------------------------------------------------


def test_paths_sources_and_well_known_ids(lab: DemoLab, truth: dict):
    assert lab.sources == [
        f"quilt+file://{lab.registry}",
        f"eln+file://{lab.eln_export}",
        f"file://{lab.files_dir}",
    ]
    for path in (lab.registry, lab.eln_export, lab.files_dir, lab.config, lab.truth):
        assert path.exists() and path.is_relative_to(lab.root)
    sample = truth["samples"][lab.example_sample]
    assert sample["lab"] == "lab-a" and len(sample["runs"]) >= 3
    assert truth["samples"][lab.example_sample_b]["lab"] == "lab-b"
    assert lab.example_run in sample["runs"]
    assert truth["runs"][lab.example_run]["instrument"] == lab.example_instrument
    experiment = truth["experiments"][lab.example_experiment]
    assert experiment["lab"] == "lab-a" and experiment["packages"]["final"]
    assert truth["well_known"]["example_sample"] == lab.example_sample
    assert lab.counts["runs"] == RUNS
    assert DemoLab.load(lab.root) == lab


# --- the Quilt registry ---------------------------------------------------------------------


def test_every_package_is_in_the_registry_with_the_truths_entries(lab: DemoLab, truth: dict):
    import quilt3

    assert set(quilt3.list_packages(lab.registry_uri)) == set(truth["packages"])
    levels = Counter(p["data_level"] for p in truth["packages"].values())
    assert levels["raw"] == RUNS and levels["processed"] == len(truth["experiments"])
    assert levels["final"] >= 1
    for name, expected in truth["packages"].items():
        package = quilt3.Package.browse(name, registry=lab.registry_uri)
        assert sorted(key for key, _ in package.walk()) == expected["entries"], name
        meta = package.meta
        assert meta["data_level"] == expected["data_level"]
        assert meta["experiment_id"] == expected["experiment_id"]
        assert meta["samples"] == expected["samples"]
        assert meta.get("derived_from", []) == expected["derived_from"]


def test_raw_package_metadata_matches_its_run(lab: DemoLab, truth: dict):
    import quilt3

    for run_id, run in truth["runs"].items():
        meta = quilt3.Package.browse(run["package"], registry=lab.registry_uri).meta
        assert meta["entity"] == "run" and meta["run_id"] == run_id
        for key in ("samples", "instrument", "instrument_id", "flowcell", "date", "project"):
            assert meta[key] == run[key], (run_id, key)
        assert meta["experiment_id"] == run["experiment_id"]
        assert meta["lab"] == run["lab"] and run["package"].startswith(run["lab"] + "/")


def test_processed_packages_derive_from_the_raw_packages_of_their_runs(truth: dict):
    for experiment in truth["experiments"].values():
        (processed,) = experiment["packages"]["processed"]
        assert truth["packages"][processed]["derived_from"] == experiment["packages"]["raw"]
        for final in experiment["packages"]["final"]:
            assert truth["packages"][final]["derived_from"] == [processed]


# --- the files are real and say what the truth says ---------------------------------------------


def test_fastq_headers_and_sample_sheet_match_the_run(lab: DemoLab, truth: dict):
    import pysam

    for run_id, run in truth["runs"].items():
        base = lab.registry / run["package"]
        fastqs = [k for k in truth["packages"][run["package"]]["entries"] if k.endswith("fastq.gz")]
        named = {Path(k).name.split("_S")[0] for k in fastqs}
        assert named == set(run["samples"]), run_id
        with (base / "SampleSheet.csv").open() as handle:
            sheet = list(csv.DictReader(handle))
        assert [row["Sample_ID"] for row in sheet] == run["samples"]
        with pysam.FastxFile(str(base / fastqs[0])) as reads:
            first = next(iter(reads))
        instrument, number, flowcell = first.name.split(":")[:3]
        assert instrument == run["instrument_id"] and flowcell == run["flowcell"]
        assert run_id.split("_")[2].lstrip("0") == number
        assert run_id.endswith(flowcell)


def test_bam_read_groups_name_the_sample(lab: DemoLab, truth: dict):
    import pysam

    checked = 0
    for name, package in truth["packages"].items():
        for key in package["entries"]:
            if key.endswith(".bam"):
                with pysam.AlignmentFile(str(lab.registry / name / key), "rb") as bam:
                    (group,) = bam.header.to_dict()["RG"]
                    reads = sum(1 for _ in bam)
                assert group["SM"] == Path(key).stem and group["SM"] in package["samples"]
                assert reads > 0
                checked += 1
    assert checked >= 10


def _read_back(path: Path) -> object:
    """Open a file with its format's own library; returns something non-empty or raises."""
    name = path.name
    if name.endswith(".fastq.gz"):
        return gzip.decompress(path.read_bytes()).split(b"\n", 1)[0]
    if name.endswith(".bam"):
        import pysam

        with pysam.AlignmentFile(str(path), "rb") as bam:
            return bam.header.to_dict()["SQ"]
    if name.endswith(".vcf.gz"):
        import pysam

        with pysam.VariantFile(str(path)) as vcf:
            return list(vcf.header.samples)
    if name.endswith(".parquet"):
        import pyarrow.parquet as pq

        return pq.read_table(path).num_rows
    if name.endswith(".csv"):
        with path.open(encoding="utf-8") as handle:
            return list(csv.DictReader(handle))
    if name.endswith(".pdf"):
        from pypdf import PdfReader

        return PdfReader(path).pages[0].extract_text()
    if name.endswith(".ome.tif"):
        import tifffile

        with tifffile.TiffFile(path) as tif:
            assert tif.is_ome
            return tif.series[0].shape
    if name.endswith(".h5ad"):
        import anndata

        return anndata.read_h5ad(path).obs["sample"].tolist()
    if name.endswith(".h5"):
        import h5py

        with h5py.File(path) as handle:
            return list(handle)
    if name.endswith(".md"):
        return path.read_text(encoding="utf-8")
    raise AssertionError(f"unexpected file type in the demo lab: {path}")


def test_every_file_is_small_and_readable(lab: DemoLab, truth: dict):
    formats = Counter()
    paths = [
        lab.registry / name / key for name, p in truth["packages"].items() for key in p["entries"]
    ] + [lab.files_dir / relative for relative in truth["files"]]
    for path in paths:
        assert path.stat().st_size < 64_000, f"{path} is too big for the demo"
        assert _read_back(path), f"{path} read back empty"
        formats[path.name.split(".", 1)[-1]] += 1
    for expected in ("fastq.gz", "bam", "csv", "parquet", "pdf", "md", "ome.tif", "h5ad", "h5"):
        assert formats[expected], f"no .{expected} file in the demo lab"


def test_variants_and_single_cell_files_carry_their_samples(lab: DemoLab, truth: dict):
    found = set()
    for name, package in truth["packages"].items():
        for key in package["entries"]:
            if key.endswith((".vcf.gz", ".h5ad")):
                samples = _read_back(lab.registry / name / key)
                assert set(samples) == set(package["samples"]), f"{name}:{key}"
                found.add(key.rsplit(".", 2)[-2] if key.endswith(".gz") else "h5ad")
    assert found == {"vcf", "h5ad"}


# --- the ELN export agrees with the truth -------------------------------------------------------


def test_eln_experiments_match_truth(lab: DemoLab, truth: dict, eln: dict[str, dict]):
    for experiment_id, expected in truth["experiments"].items():
        record = eln[experiment_id]
        assert record["type"] == "experiment"
        assert record["samples"] == expected["samples"]
        assert record["runs"] == expected["runs"]
        assert record["access_groups"] == [expected["group"]]
        linked = [p["name"] for p in record["packages"]]
        levels = expected["packages"]
        assert linked == levels["raw"] + levels["processed"] + levels["final"]
        assert {p["registry"] for p in record["packages"]} == {lab.registry_uri}
        assert set(expected["files"]) == set(linked)
        for run_id in expected["runs"]:
            assert run_id in record["description"]


def test_eln_samples_match_truth(truth: dict, eln: dict[str, dict]):
    samples = {k: v for k, v in eln.items() if v["type"] == "sample"}
    assert set(samples) == set(truth["samples"])
    for sample_id, record in samples.items():
        expected = truth["samples"][sample_id]
        assert record["runs"] == expected["runs"]
        assert record["experiment"] == expected["experiment_id"]
        assert record["access_groups"] == [expected["group"]]
        for run_id in expected["runs"]:
            run = truth["runs"][run_id]
            assert sample_id in run["samples"]
            assert run["package"] in expected["raw_packages"]
            assert run["package"] in expected["files"], "each run has the sample's FASTQs"
    # The inverse: every sample of every run lists that run.
    for run_id, run in truth["runs"].items():
        for sample_id in run["samples"]:
            assert run_id in truth["samples"][sample_id]["runs"]


def test_prompt_injections_are_in_lab_a_only(truth: dict, eln: dict[str, dict]):
    markers = ("Ignore previous instructions", "SYSTEM OVERRIDE")
    planted = [r for r in eln.values() if any(m in r.get("description", "") for m in markers)]
    assert planted, "the demo must carry prompt-injection text for the security tests"
    assert {r["id"] for r in planted} == set(truth["prompt_injection_records"])
    assert all(r["access_groups"] == ["lab-a"] for r in planted)


def test_instrument_index_and_run_logs(lab: DemoLab, truth: dict):
    by_instrument = {model: sorted(runs) for model, runs in truth["instruments"].items()}
    assert sorted(r for runs in by_instrument.values() for r in runs) == sorted(truth["runs"])
    logged: dict[str, list[str]] = {}
    for relative in truth["files"]:
        if relative.endswith("_run_log.csv"):
            with (lab.files_dir / relative).open() as handle:
                for row in csv.DictReader(handle):
                    logged.setdefault(row["instrument"], []).append(row["run_id"])
                    assert row["samples"].split(";") == truth["runs"][row["run_id"]]["samples"]
    assert {model: sorted(runs) for model, runs in logged.items()} == by_instrument


# --- settings and access ------------------------------------------------------------------------


def test_config_loads_into_settings_and_maps_groups(lab: DemoLab, truth: dict, monkeypatch):
    from indexer.access import resolve_groups
    from labsearch.settings import Settings

    monkeypatch.setenv("LABSEARCH_CONFIG", str(lab.config))
    settings = Settings()
    assert settings.catalog_url is None  # the demo links only to what its own API serves
    assert settings.groups_of("alice") == ["lab-a"] and settings.groups_of("bob") == ["lab-b"]
    keys = {u: [k.get_secret_value() for k in c.api_keys] for u, c in settings.users.items()}
    assert keys == {"alice": ["demo-alice"], "bob": ["demo-bob"]}
    quilt_uri = lab.sources[0]
    for name, package in truth["packages"].items():
        assert resolve_groups(settings, quilt_uri, None, [name]).groups == (package["group"],)
    for relative, expected in truth["files"].items():
        path = lab.files_dir / relative
        grant = resolve_groups(settings, lab.sources[2], None, [str(path.parent), str(path)])
        assert list(grant.groups) == sorted(expected["groups"]), relative


# --- what the real sources make of the demo lab -------------------------------------------------


def test_sources_yield_the_assets_the_truth_predicts(lab: DemoLab, truth: dict, monkeypatch):
    """The demo is only useful if indexing it gives exactly the truth's ids, groups and links."""
    from indexer.sources import open_source
    from indexer.sources.base import Checked, SourceIssue
    from labsearch.schema import LinkType
    from labsearch.settings import Settings

    monkeypatch.setenv("LABSEARCH_CONFIG", str(lab.config))
    settings = Settings()
    assets = {}
    for uri in lab.sources:
        for item in open_source(uri, settings).scan():
            if isinstance(item, Checked):
                continue
            assert not isinstance(item, SourceIssue), str(item)
            assert not item.errors, (item.id, item.errors)
            assets[item.id] = item

    for name, package in truth["packages"].items():
        asset = assets[lab.package_id(name)]
        assert asset.groups == [package["group"]]
        assert set(package["samples"]) <= set(asset.identifiers)
        for key in package["entries"]:
            entry = assets[lab.package_id(name, key)]
            assert entry.groups == [package["group"]]
            assert package["experiment_id"] in entry.identifiers
    for run_id, run in truth["runs"].items():
        asset = assets[lab.package_id(run["package"])]
        assert asset.entity == "run" and asset.metadata["run_id"] == run_id
    for experiment_id, experiment in truth["experiments"].items():
        record = assets[lab.eln_id(experiment_id)]
        described = set(record.linked(LinkType.DESCRIBES))
        assert described == {lab.package_id(name) for name in experiment["files"]}
        assert described <= set(assets), "ELN links must point at the Quilt source's asset ids"
        assert record.groups == [experiment["group"]]
    for sample_id, sample in truth["samples"].items():
        assert assets[lab.eln_id(sample_id)].groups == [sample["group"]]
    for relative, expected in truth["files"].items():
        assert assets[lab.file_id(relative)].groups == sorted(expected["groups"])
    # Exactly one run asset per run: "which runs used sample X" has one right answer.
    example_runs = {
        a.metadata["run_id"]
        for a in assets.values()
        if a.entity == "run" and lab.example_sample in a.identifiers
    }
    assert example_runs == set(truth["samples"][lab.example_sample]["runs"])
