"""eval/real/truth.py answers each spec type exactly, on small hand-made tables."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from eval.real import truth

SRA_HEADER = [
    "Run",
    "Experiment",
    "LibraryStrategy",
    "LibraryLayout",
    "Platform",
    "Model",
    "SRAStudy",
    "BioProject",
    "Sample",
    "BioSample",
    "ScientificName",
    "SampleName",
]
ALICE_RUNS = [
    [
        "SRR1",
        "SRX1",
        "WGS",
        "PAIRED",
        "ILLUMINA",
        "Illumina HiSeq 2500",
        "SRP1",
        "PRJNA1",
        "SRS1",
        "SAMN1",
        "Zea mays",
        "B73",
    ],
    [
        "SRR2",
        "SRX2",
        "WGS",
        "PAIRED",
        "ILLUMINA",
        "Illumina HiSeq 2500",
        "SRP1",
        "PRJNA1",
        "SRS1",
        "SAMN1",
        "Zea mays",
        "B73",
    ],
    [
        "SRR3",
        "SRX3",
        "WGS",
        "SINGLE",
        "PACBIO_SMRT",
        "PacBio RS II",
        "SRP1",
        "PRJNA1",
        "SRS1",
        "SAMN1",
        "Zea mays",
        "B73",
    ],
    [
        "SRR4",
        "SRX4",
        "RNA-Seq",
        "PAIRED",
        "ILLUMINA",
        "Illumina HiSeq 2500",
        "SRP1",
        "PRJNA1",
        "SRS2",
        "SAMN2",
        "Zea mays",
        "B73 root",
    ],
    [
        "SRR5",
        "SRX5",
        "RNA-Seq",
        "SINGLE",
        "ILLUMINA",
        "NextSeq 500",
        "SRP2",
        "PRJNA2",
        "SRS3",
        "SAMN3",
        "Homo sapiens",
        "H1",
    ],
]
BOB_RUNS = [
    [
        "SRR10",
        "SRX10",
        "RNA-Seq",
        "PAIRED",
        "ILLUMINA",
        "Illumina HiSeq 2000",
        "SRP9",
        "PRJNA9",
        "SRS10",
        "SAMN10",
        "Ditylum brightwellii",
        "MMETSP1",
    ],
    [
        "SRR11",
        "SRX11",
        "RNA-Seq",
        "PAIRED",
        "ILLUMINA",
        "Illumina Genome Analyzer IIx",
        "SRP9",
        "PRJNA9",
        "SRS10",
        "SAMN10",
        "Ditylum brightwellii",
        "MMETSP1",
    ],
]


def write_csv(path: Path, header: list[str], rows: list[list[str]], newline: str = "\n") -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as fh:
        w = csv.writer(fh, lineterminator=newline)
        w.writerow(header)
        w.writerows(rows)


def write_tsv(path: Path, rows: list[list[str]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join("\t".join(r) for r in rows) + "\n")


@pytest.fixture
def data(tmp_path, monkeypatch) -> Path:
    write_csv(tmp_path / "sra/a.csv", SRA_HEADER, ALICE_RUNS)
    write_csv(tmp_path / "sra/b.csv", SRA_HEADER, BOB_RUNS, newline="\r")  # old Mac line ends
    # SDRF: a TMT file holding two samples, and a label-free sample with two files
    sdrf_head = [
        "source name",
        "characteristics[organism]",
        "assay name",
        "comment[label]",
        "comment[data file]",
        "comment[instrument]",
    ]
    write_tsv(
        tmp_path / "sdrf/PXD000001.sdrf.tsv",
        [
            sdrf_head,
            ["Sample 1", "Mus musculus", "run 1", "TMT126", "tmt_1.raw", "NT=Q Exactive"],
            ["Sample 2", "Mus musculus", "run 1", "TMT127", "tmt_1.raw", "NT=Q Exactive"],
            ["Sample 1", "Mus musculus", "run 2", "TMT126", "tmt_2.raw", "NT=Q Exactive"],
        ],
    )
    write_tsv(
        tmp_path / "sdrf/PXD000002.sdrf.tsv",
        [
            sdrf_head,
            ["Sample 1", "Homo sapiens", "run 1", "label free sample", "lf_1.raw", "NT=Q Exactive"],
        ],
    )
    # ISA-Tab: study identifier comes from the investigation file, not the directory name
    isa = tmp_path / "isatab/study-dir"
    write_tsv(isa / "i_inv.txt", [["STUDY"], ["Study Identifier", "BII-S-9"]])
    write_tsv(isa / "s_study.txt", [["Source Name", "Sample Name"], ["src1", "smp1"]])
    write_tsv(
        isa / "a_seq.txt",
        [
            ["Sample Name", "Assay Name", "Raw Data File", "Derived Data File"],
            ["smp1", "a1", "r1.sff", "all.txt"],
            ["smp1", "a2", "r2.sff", ""],
            ["smp2", "a3", "r3.sff", "all.txt"],
        ],
    )
    monkeypatch.setattr(
        truth,
        "USERS",
        {
            "alice": {
                "sra": ["sra/a.csv"],
                "sdrf": ["sdrf/PXD000001.sdrf.tsv"],
                "isatab": ["isatab/study-dir"],
            },
            "bob": {"sra": ["sra/b.csv"], "sdrf": ["sdrf/PXD000002.sdrf.tsv"], "isatab": []},
        },
    )
    return tmp_path


def ans(spec: dict, user: str, root: Path) -> set[str]:
    return truth.answer(spec, user, root)


def test_runs_of_sample_by_name_accession_and_scope(data):
    assert ans({"type": "runs_of_sample", "sample": "B73"}, "alice", data) == {
        "run:SRR1",
        "run:SRR2",
        "run:SRR3",
    }
    assert ans({"type": "runs_of_sample", "sample": "b73  "}, "alice", data) == {
        "run:SRR1",
        "run:SRR2",
        "run:SRR3",
    }  # case and blanks do not matter
    assert ans({"type": "runs_of_sample", "sample": "SRS1"}, "alice", data) == {
        "run:SRR1",
        "run:SRR2",
        "run:SRR3",
    }
    assert ans({"type": "runs_of_sample", "sample": "B73 root"}, "alice", data) == {"run:SRR4"}
    assert (
        ans({"type": "runs_of_sample", "sample": "B73", "study": "PRJNA2"}, "alice", data) == set()
    )


def test_runs_of_sample_with_two_constraints(data):
    spec = {
        "type": "runs_of_sample",
        "sample": "B73",
        "constraints": {"layout": "PAIRED", "strategy": "WGS"},
    }
    assert ans(spec, "alice", data) == {"run:SRR1", "run:SRR2"}
    spec["constraints"] = {"layout": "SINGLE", "instrument": "Illumina HiSeq 2500"}
    assert ans(spec, "alice", data) == set()


def test_runs_of_biosample(data):
    assert ans({"type": "runs_of_biosample", "biosample": "SAMN1"}, "alice", data) == {
        "run:SRR1",
        "run:SRR2",
        "run:SRR3",
    }
    assert ans({"type": "runs_of_biosample", "biosample": "SAMN10"}, "bob", data) == {
        "run:SRR10",
        "run:SRR11",
    }


def test_runs_of_species_and_genus(data):
    assert ans({"type": "runs_of_species", "species": "Zea mays"}, "alice", data) == {
        "run:SRR1",
        "run:SRR2",
        "run:SRR3",
        "run:SRR4",
    }
    assert ans({"type": "runs_of_species", "genus": "Homo"}, "alice", data) == {"run:SRR5"}
    assert ans({"type": "runs_of_species", "genus": "Ditylum"}, "bob", data) == {
        "run:SRR10",
        "run:SRR11",
    }
    with pytest.raises(ValueError):
        ans({"type": "runs_of_species"}, "alice", data)


def test_runs_of_instrument_exact_model(data):
    assert ans(
        {"type": "runs_of_instrument", "instrument": "Illumina HiSeq 2500"}, "alice", data
    ) == {"run:SRR1", "run:SRR2", "run:SRR4"}
    # the spec holds the table's value; a spoken short form is not a match by itself
    assert ans({"type": "runs_of_instrument", "instrument": "HiSeq 2500"}, "alice", data) == set()


def test_runs_of_experiment_with_constraint(data):
    spec = {
        "type": "runs_of_experiment_with_constraint",
        "experiment": "SRX3",
        "constraints": {"instrument": "PacBio RS II"},
    }
    assert ans(spec, "alice", data) == {"run:SRR3"}
    spec["constraints"] = {"layout": "PAIRED"}
    assert ans(spec, "alice", data) == set()
    with pytest.raises(ValueError):
        ans({"type": "runs_of_experiment_with_constraint", "experiment": "SRX3"}, "alice", data)


def test_negated_variants(data):
    spec = {
        "type": "negated_runs_of_sample",
        "sample": "B73",
        "exclude": {"instrument": "PacBio RS II"},
    }
    assert ans(spec, "alice", data) == {"run:SRR1", "run:SRR2"}
    spec = {
        "type": "negated_runs_of_species",
        "species": "Zea mays",
        "exclude": {"strategy": "WGS"},
    }
    assert ans(spec, "alice", data) == {"run:SRR4"}
    spec = {
        "type": "negated_runs_of_biosample",
        "biosample": "SAMN10",
        "exclude": {"instrument": "Illumina HiSeq 2000"},
    }
    assert ans(spec, "bob", data) == {"run:SRR11"}
    with pytest.raises(ValueError):
        ans({"type": "negated_runs_of_sample", "sample": "B73"}, "alice", data)


def test_samples_of_run_sra_sdrf_isatab(data):
    assert ans({"type": "samples_of_run", "run": "SRR4"}, "alice", data) == {"sample:SAMN2"}
    assert truth.sample_aliases("alice", "sample:SAMN2", data) == ["sample:B73 root", "sample:SRS2"]
    assert ans({"type": "samples_of_run", "file": "tmt_1.raw"}, "alice", data) == {
        "sample:Sample 1",
        "sample:Sample 2",
    }
    assert ans({"type": "samples_of_run", "file": "all.txt"}, "alice", data) == {
        "sample:smp1",
        "sample:smp2",
    }


def test_files_of_sample_in_study(data):
    assert ans(
        {"type": "files_of_sample_in_study", "study": "PXD000001", "sample": "Sample 1"},
        "alice",
        data,
    ) == {"file:tmt_1.raw", "file:tmt_2.raw"}
    assert ans(
        {"type": "files_of_sample_in_study", "study": "BII-S-9", "sample": "smp1"}, "alice", data
    ) == {"file:r1.sff", "file:r2.sff", "file:all.txt"}
    # same sample name, other study: scoped by study
    assert ans(
        {"type": "files_of_sample_in_study", "study": "PXD000002", "sample": "Sample 1"},
        "bob",
        data,
    ) == {"file:lf_1.raw"}
    assert (
        ans(
            {"type": "files_of_sample_in_study", "study": "PXD000002", "sample": "Sample 1"},
            "alice",
            data,
        )
        == set()
    )


def test_count_is_size_of_inner_answer(data):
    inner = {"type": "runs_of_sample", "sample": "B73"}
    spec = {"type": "count", "of": inner}
    assert ans(spec, "alice", data) == ans(inner, "alice", data)
    assert truth.count(spec, "alice", data) == 3
    assert (
        truth.count(
            {
                "type": "count",
                "of": {"type": "files_of_sample_in_study", "study": "BII-S-9", "sample": "smp2"},
            },
            "alice",
            data,
        )
        == 2
    )


def test_other_user_id_is_empty_for_the_asker(data):
    spec = {
        "type": "other_user_id",
        "owner": "bob",
        "ask": {"type": "runs_of_sample", "sample": "MMETSP1"},
    }
    assert ans(spec, "alice", data) == set()
    assert truth.owners(spec, data) == {"bob": {"run:SRR10", "run:SRR11"}}
    spec = {
        "type": "other_user_id",
        "owner": "alice",
        "ask": {"type": "samples_of_run", "file": "r3.sff"},
    }
    assert ans(spec, "bob", data) == set()
    assert truth.owners(spec, data) == {"alice": {"sample:smp2"}}


def test_users_and_spec_errors(data):
    with pytest.raises(KeyError):
        ans({"type": "runs_of_sample", "sample": "B73"}, "carol", data)
    with pytest.raises(ValueError):
        ans({"type": "no_such_type"}, "alice", data)
    with pytest.raises(KeyError):
        ans(
            {"type": "runs_of_sample", "sample": "B73", "constraints": {"colour": "red"}},
            "alice",
            data,
        )


def test_real_split_is_disjoint():
    a, b = truth.USERS["alice"], truth.USERS["bob"]
    for kind in ("sra", "sdrf", "isatab"):
        assert a[kind] and b[kind]
        assert not set(a[kind]) & set(b[kind])


def test_truth_imports_no_labsearch_code():
    src = Path(truth.__file__).read_text()
    for name in ("labsearch", "indexer", "retriever", "chat_api"):
        assert f"import {name}" not in src and f"from {name}" not in src
