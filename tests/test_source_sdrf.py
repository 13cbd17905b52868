"""SDRF source (sdrf+file://) on SDRF-Proteomics tables with the real header of PRIDE's PXD000561
(repeated columns, ontology-coded values, "not available" placeholders), a TMT table where one
raw file holds several samples, a MAGE-TAB SDRF, and broken rows."""

from __future__ import annotations

from pathlib import Path

import pytest
from source_helpers import split_scan

from indexer.sources.sdrf import SdrfSource
from indexer.sources.sdrf_rows import ontology_name
from labsearch.errors import SourceError
from labsearch.schema import AssetKind, DataLevel, Entity, LinkType
from labsearch.settings import AccessRule, Settings

CLEAN = Settings(access_rules=[], public_sources=[])

# The header of bigbio/proteomics-sample-metadata's PXD000561.sdrf.tsv, as published.
PXD000561_HEADER = [
    "source name",
    "characteristics[organism]",
    "characteristics[organism part]",
    "characteristics[age]",
    "characteristics[developmental stage]",
    "characteristics[sex]",
    "characteristics[disease]",
    "characteristics[cell type]",
    "characteristics[ancestry category]",
    "characteristics[age]",
    "characteristics[sex]",
    "characteristics[biological replicate]",
    "characteristics[material type]",
    "assay name",
    "technology type",
    "comment[file uri]",
    "comment[fractionation method]",
    "comment[technical replicate]",
    "comment[fraction identifier]",
    "comment[label]",
    "comment[ms2 mass analyzer]",
    "comment[instrument]",
    "comment[modification parameters]",
    "comment[modification parameters]",
    "comment[modification parameters]",
    "comment[modification parameters]",
    "comment[cleavage agent details]",
    "comment[dissociation method]",
    "comment[collision energy]",
    "comment[precursor mass tolerance]",
    "comment[fragment mass tolerance]",
    "comment[proteomics data acquisition method]",
    "comment[data file]",
    "comment[sdrf version]",
    "comment[sdrf template]",
    "factor value[organism part]",
]


def pxd_row(sample: str, part: str, fraction: int) -> list[str]:
    raw = f"Adult_{part.replace(' ', '')}_bRP_Velos_1_f{fraction:02d}.raw"
    return [
        sample,
        "Homo sapiens",
        part,
        "not available",
        "Adult",
        "not available",
        "not available",
        "not applicable",
        "not available",
        "not available",
        "not available",
        "1",
        "organism part",
        f"run {fraction}",
        "proteomic profiling by mass spectrometry",
        f"https://ftp.pride.ebi.ac.uk/pride/data/archive/2014/04/PXD000561/{raw}",
        "NT=high pH RPLC;AC=PRIDE:0000564",
        "1",
        str(fraction),
        "AC=MS:1002038;NT=label free sample",
        "AC=MS:1000484; NT=Orbitrap",
        "AC=MS:1001742;NT=LTQ Orbitrap Velos",
        "NT=Carbamidomethyl;AC=UNIMOD:4;TA=C;MT=Fixed",
        "NT=Oxidation;MT=Variable;TA=M;AC=UNIMOD:35",
        "NT=Acetyl;AC=UNIMOD:1;PP=Protein N-term;MT=Variable",
        "NT=cyclization;AC=UNIMOD:28;PP=Any N-term;TA=Q;MT=Variable",
        "AC=MS:1001251;NT=Trypsin",
        "AC=MS:1000422;NT=HCD",
        "not available",
        "10 ppm",
        "0.05 Da",
        "NT=Data-dependent acquisition;AC=PRIDE:0000627",
        raw,
        "v1.1.0",
        "NT=ms-proteomics;VV=v1.1.0",
        part,
    ]


def write_tsv(path: Path, header: list[str], rows: list[list[str]]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = ["\t".join(header), *("\t".join(row) for row in rows)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.fixture
def pxd(tmp_path: Path) -> Path:
    return write_tsv(
        tmp_path / "sdrf files" / "PXD000561.sdrf.tsv",
        PXD000561_HEADER,
        [
            pxd_row("Sample 1", "Adrenal gland", 1),
            pxd_row("Sample 1", "Adrenal gland", 2),
            pxd_row("Sample 2", "Liver", 3),
        ],
    )


def test_one_sample_per_source_name_and_one_file_per_data_file(pxd):
    assets, issues = split_scan(SdrfSource(f"sdrf+file://{pxd.parent}", CLEAN))
    assert issues == []
    assert sorted(assets) == sorted(
        [
            f"sdrf:{pxd}#sample=Sample 1",
            f"sdrf:{pxd}#sample=Sample 2",
            f"sdrf:{pxd}#file=Adult_Adrenalgland_bRP_Velos_1_f01.raw",
            f"sdrf:{pxd}#file=Adult_Adrenalgland_bRP_Velos_1_f02.raw",
            f"sdrf:{pxd}#file=Adult_Liver_bRP_Velos_1_f03.raw",
        ]
    )
    sample = assets[f"sdrf:{pxd}#sample=Sample 1"]
    assert (sample.kind, sample.entity) == (AssetKind.SAMPLE, Entity.SAMPLE)
    assert sample.title == "Sample 1: Homo sapiens, Adrenal gland"
    assert sample.metadata["samples"] == ["Sample 1"]
    assert sample.metadata["organism"] == "Homo sapiens"
    assert sample.metadata["project"] == "PXD000561"  # from the file name
    # placeholders are no values; a repeated characteristics column adds nothing
    assert sample.metadata["characteristics"] == {
        "organism": "Homo sapiens",
        "organism part": "Adrenal gland",
        "developmental stage": "Adult",
        "biological replicate": "1",
        "material type": "organism part",
    }
    assert sample.metadata["factors"] == {"organism part": "Adrenal gland"}
    assert sample.metadata["data_files"] == [
        "Adult_Adrenalgland_bRP_Velos_1_f01.raw",
        "Adult_Adrenalgland_bRP_Velos_1_f02.raw",
    ]
    assert {"Sample 1", "PXD000561"} <= set(sample.identifiers)


def test_file_assets_carry_their_sample_and_the_instrument_name(pxd):
    assets, _ = split_scan(SdrfSource(f"sdrf+file://{pxd}", CLEAN))
    raw = assets[f"sdrf:{pxd}#file=Adult_Liver_bRP_Velos_1_f03.raw"]
    assert (raw.kind, raw.entity, raw.data_level) == (AssetKind.FILE, Entity.FILE, DataLevel.RAW)
    assert raw.linked(LinkType.USES_SAMPLE) == [f"sdrf:{pxd}#sample=Sample 2"]
    assert raw.title == (
        "Adult_Liver_bRP_Velos_1_f03.raw: proteomic profiling by mass spectrometry of "
        "Sample 2 (Homo sapiens, Liver) on LTQ Orbitrap Velos"
    )
    assert raw.metadata["instrument"] == "LTQ Orbitrap Velos"  # the NT= name
    assert raw.metadata["labels"] == ["label free sample"]
    assert raw.metadata["samples"] == ["Sample 2"]
    assert raw.metadata["assay"] == "proteomic profiling by mass spectrometry"
    assert raw.metadata["characteristics"]["organism part"] == "Liver"
    assert raw.metadata["fraction_identifiers"] == ["3"]
    assert raw.metadata["file_uri"].endswith("/PXD000561/Adult_Liver_bRP_Velos_1_f03.raw")
    assert len(raw.metadata["comments"]["modification parameters"]) == 4  # repeated columns
    assert raw.metadata["file_present"] is False
    assert {"Adult_Liver_bRP_Velos_1_f03.raw", "Sample 2", "run 3"} <= set(raw.identifiers)


def test_a_tmt_file_holds_every_labelled_sample(tmp_path):
    header = [
        "Source Name",  # case and spaces as people type them
        "Characteristics [Organism]",
        "Characteristics [Disease]",
        "assay name",
        "comment[label]",
        "comment [instrument]",
        "comment[data file]",
        "Factor Value[disease]",
    ]
    rows = [
        [f"PT-{n}", "Homo sapiens", disease, f"run {n}", f"NT=TMT{label};AC=MS:100{n}", lumos, raw]
        + [disease]
        for n, (disease, label) in enumerate(
            [("glioblastoma", "126"), ("glioblastoma", "127N"), ("normal", "127C")], start=1
        )
        for lumos, raw in [("NT=Orbitrap Fusion Lumos;AC=MS:1002732", "plex1.raw")]
    ]
    path = write_tsv(tmp_path / "PXD019515Hela.sdrf.tsv", header, rows)
    (tmp_path / "plex1.raw").write_bytes(b"\x01" * 64)
    assets, issues = split_scan(SdrfSource(f"sdrf+file://{path}", CLEAN))
    assert issues == []
    raw = assets[f"sdrf:{path}#file=plex1.raw"]
    assert raw.metadata["samples"] == ["PT-1", "PT-2", "PT-3"]
    assert raw.linked(LinkType.USES_SAMPLE) == [f"sdrf:{path}#sample=PT-{n}" for n in (1, 2, 3)]
    assert raw.metadata["labels"] == ["TMT126", "TMT127N", "TMT127C"]
    assert raw.metadata["instrument"] == "Orbitrap Fusion Lumos"
    assert raw.metadata["factors"] == {"disease": ["glioblastoma", "normal"]}
    assert raw.metadata["file_present"] is True and raw.metadata["size"] == 64
    assert raw.provenance.path == str(tmp_path / "plex1.raw")
    assert raw.metadata["project"] == "PXD019515"  # the accession the file name starts with
    assert assets[f"sdrf:{path}#sample=PT-1"].title == "Sample PT-1: Homo sapiens, glioblastoma"
    assert assets[f"sdrf:{path}#sample=PT-3"].title == "Sample PT-3: Homo sapiens"


def test_mage_tab_sdrf_with_array_data_files(tmp_path):
    path = write_tsv(
        tmp_path / "E-MTAB-513.sdrf.txt",
        [
            "Source Name",
            "Characteristics[organism]",
            "Characteristics[organism part]",
            "Assay Name",
            "Technology Type",
            "Comment[ENA_RUN]",
            "Array Data File",
            "Derived Array Data File",
        ],
        [
            [
                "adrenal",
                "Homo sapiens",
                "adrenal",
                "ERR030881",
                "sequencing assay",
                "ERR030881",
                "ERR030881.raw",
                "ERR030881.counts",
            ]
        ],
    )
    assets, issues = split_scan(SdrfSource(f"sdrf+file://{tmp_path}", CLEAN))
    assert issues == []
    raw = assets[f"sdrf:{path}#file=ERR030881.raw"]
    derived = assets[f"sdrf:{path}#file=ERR030881.counts"]
    assert raw.data_level is DataLevel.RAW and derived.data_level is DataLevel.PROCESSED
    assert raw.metadata["run_id"] == "ERR030881" and raw.metadata["project"] == "E-MTAB-513"
    assert raw.metadata["assay"] == "sequencing assay"


def test_bad_rows_are_issues_and_the_rest_is_indexed(tmp_path):
    path = write_tsv(
        tmp_path / "broken.sdrf.tsv",
        ["source name", "characteristics[organism]", "comment[data file]"],
        [
            ["S1", "Mus musculus", "a.raw"],
            ["S2", "Mus musculus"],  # a cell short
            ["", "Mus musculus", "c.raw"],  # no source name
            ["not available", "Mus musculus", "d.raw"],  # a placeholder is no name either
        ],
    )
    write_tsv(tmp_path / "other.sdrf.tsv", ["sample", "comment[data file]"], [["S9", "x.raw"]])
    assets, issues = split_scan(SdrfSource(f"sdrf+file://{tmp_path}", CLEAN))
    assert sorted(assets) == [f"sdrf:{path}#file=a.raw", f"sdrf:{path}#sample=S1"]
    found = {(i.location, i.field): i for i in issues}
    assert set(found) == {
        ("broken.sdrf.tsv, row 3", "comment[data file]"),
        ("broken.sdrf.tsv, row 4", "source name"),
        ("broken.sdrf.tsv, row 5", "source name"),
        ("other.sdrf.tsv, row 1", "source name"),
    }
    assert "2 cells but 3 columns" in found["broken.sdrf.tsv, row 3", "comment[data file]"].reason
    assert found["broken.sdrf.tsv, row 3", "comment[data file]"].keep == f"sdrf:{path}#sample=S2"
    assert found["other.sdrf.tsv, row 1", "source name"].keep == (
        f"sdrf:{tmp_path / 'other.sdrf.tsv'}"
    )


def test_groups_and_missing_paths(pxd, tmp_path):
    settings = Settings(
        access_rules=[AccessRule(prefix=str(pxd.parent), groups=["proteomics"])],
        public_sources=[],
    )
    assets, _ = split_scan(SdrfSource(f"sdrf+file://{pxd}", settings))
    assert {tuple(a.groups) for a in assets.values()} == {("proteomics",)}
    assert all(a.rule_keys and str(pxd.parent) in a.rule_keys for a in assets.values())
    with pytest.raises(SourceError, match="does not exist"):
        list(SdrfSource(f"sdrf+file://{tmp_path}/missing.sdrf.tsv", CLEAN).scan())


@pytest.mark.parametrize(
    ("value", "name"),
    [
        ("AC=MS:1002732;NT=Orbitrap Fusion Lumos", "Orbitrap Fusion Lumos"),
        ("NT=Orbitrap Fusion Lumos;AC=MS:1002732", "Orbitrap Fusion Lumos"),
        ("AC=MS:1000484; NT=Orbitrap", "Orbitrap"),
        ("Q Exactive", "Q Exactive"),
    ],
)
def test_ontology_names(value, name):
    assert ontology_name(value) == name
