"""Writers of small but real files in the formats a sequencing/imaging lab keeps.

Every writer produces a file the format's own tools read (pysam, pyarrow, pypdf, tifffile,
anndata, h5py), deterministic for a given `random.Random`: the demo corpus and the tests are
reproducible byte for byte where the format allows it (gzip and PDF timestamps are pinned).
The `write_corrupt_*`/`write_truncated_*`/`write_invalid_*` writers make the bad inputs that
extractors must survive.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import random
import re
import uuid
from array import array
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

import numpy as np

from indexer.extractors.instruments import ILLUMINA_MODELS as INSTRUMENT_MODELS  # noqa: F401

BASES = "ACGT"

# Real gene symbols with their Ensembl ids, so count tables and AnnData look like the real thing.
GENES: tuple[tuple[str, str], ...] = (
    ("ENSG00000141510", "TP53"),
    ("ENSG00000012048", "BRCA1"),
    ("ENSG00000139618", "BRCA2"),
    ("ENSG00000146648", "EGFR"),
    ("ENSG00000136997", "MYC"),
    ("ENSG00000111640", "GAPDH"),
    ("ENSG00000075624", "ACTB"),
    ("ENSG00000163631", "ALB"),
    ("ENSG00000131095", "GFAP"),
    ("ENSG00000113916", "BCL6"),
    ("ENSG00000100985", "MMP9"),
    ("ENSG00000169429", "CXCL8"),
    ("ENSG00000232810", "TNF"),
    ("ENSG00000136244", "IL6"),
    ("ENSG00000105329", "TGFB1"),
    ("ENSG00000171862", "PTEN"),
    ("ENSG00000133703", "KRAS"),
    ("ENSG00000157764", "BRAF"),
    ("ENSG00000148773", "MKI67"),
    ("ENSG00000010610", "CD4"),
    ("ENSG00000153563", "CD8A"),
    ("ENSG00000177455", "CD19"),
    ("ENSG00000174059", "CD34"),
    ("ENSG00000081059", "TCF7"),
    ("ENSG00000096968", "JAK2"),
    ("ENSG00000168610", "STAT3"),
    ("ENSG00000109320", "NFKB1"),
    ("ENSG00000160789", "LMNA"),
    ("ENSG00000118260", "CREB1"),
    ("ENSG00000125798", "FOXA2"),
    ("ENSG00000164305", "CASP3"),
    ("ENSG00000087088", "BAX"),
    ("ENSG00000171791", "BCL2"),
    ("ENSG00000134057", "CCNB1"),
    ("ENSG00000105810", "CDK6"),
    ("ENSG00000135446", "CDK4"),
    ("ENSG00000147889", "CDKN2A"),
    ("ENSG00000124762", "CDKN1A"),
    ("ENSG00000115415", "STAT1"),
    ("ENSG00000113580", "NR3C1"),
)

CELL_TYPES = ("hepatocyte", "Kupffer cell", "stellate cell", "endothelial cell", "T cell", "B cell")

DEFAULT_CONTIGS: dict[str, int] = {"chr1": 60_000, "chr2": 45_000, "chrM": 16_569}

_ILLUMINA_RUN = re.compile(r"^\d{6,8}_[A-Z]+\d+_(\d{4})_[AB]?[A-Z0-9]+$")


def _rng(rng: random.Random | None) -> random.Random:
    return rng if rng is not None else random.Random(0)


def _np_rng(rng: random.Random) -> np.random.Generator:
    return np.random.default_rng(rng.getrandbits(64))


def _parent(path: Path | str) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


def _open_write(path: Path, gz: bool) -> io.BufferedIOBase:
    """Binary writer; gzip with mtime 0 and no file name so the bytes depend only on content."""
    raw = path.open("wb")
    if not gz:
        return raw
    return gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0, compresslevel=6)


def _close(handle: io.BufferedIOBase) -> None:
    handle.close()
    fileobj = getattr(handle, "fileobj", None)  # GzipFile leaves the raw file open
    if fileobj is not None:
        fileobj.close()


def random_sequence(rng: random.Random, length: int, gc: float = 0.45) -> str:
    weights = [(1 - gc) / 2, gc / 2, gc / 2, (1 - gc) / 2]
    return "".join(rng.choices(BASES, weights=weights, k=length))


def barcode(rng: random.Random, length: int = 8) -> str:
    return "".join(rng.choices(BASES, k=length))


def run_number(run_id: str | int) -> str:
    """The run-number field of an Illumina header: 0042 in 210105_A00123_0042_AHXXXXXX -> 42.

    Run ids that are not Illumina run-folder names are used whole (colons are not allowed)."""
    run_id = str(run_id)
    match = _ILLUMINA_RUN.match(run_id)
    if match:
        return str(int(match.group(1)))
    if ":" in run_id or " " in run_id:
        raise ValueError(f"run_id {run_id!r} cannot go into a FASTQ header: no ':' or spaces")
    return run_id


# --- sequencing -------------------------------------------------------------------------------


def write_fastq(
    path: Path | str,
    *,
    sample: str,
    run_id: str,
    instrument: str,
    flowcell: str,
    reads: int = 200,
    read_length: int = 100,
    lane: int = 1,
    read_number: int = 1,
    index: str | None = None,
    gz: bool = True,
    rng: random.Random | None = None,
) -> Path:
    """Illumina-style FASTQ: `@<instrument>:<run>:<flowcell>:<lane>:<tile>:<x>:<y> 1:N:0:<index>`.

    The sample is not in the headers (Illumina never puts it there): name the file
    `<sample>_S1_L001_R1_001.fastq.gz` as bcl2fastq does if it should be recoverable."""
    path, rng = _parent(path), _rng(rng)
    index = index or f"{barcode(rng)}+{barcode(rng)}"
    run = run_number(run_id)
    # Bases and qualities for all reads at once (numpy): per-base Python calls made a
    # 50,000-read file take half a minute.
    generator = _np_rng(rng)
    seqs = np.frombuffer(BASES.encode(), dtype=np.uint8)[
        generator.choice(4, size=(reads, read_length), p=[0.275, 0.225, 0.225, 0.275])
    ]
    # Quality falls off towards the 3' end, as on real instruments.
    mean = 37 - 10 * np.arange(read_length) / read_length
    quals = np.clip(np.rint(generator.normal(mean, 3, size=(reads, read_length))), 2, 40)
    quals = (quals + 33).astype(np.uint8)
    out = _open_write(path, gz)
    try:
        for n in range(reads):
            tile = rng.choice((1101, 1102, 1201, 1202, 2101, 2102))
            x, y = rng.randint(1000, 32000), rng.randint(1000, 37000)
            header = (
                f"@{instrument}:{run}:{flowcell}:{lane}:{tile}:{x}:{y} {read_number}:N:0:{index}"
            )
            out.write(b"%s\n%s\n+\n%s\n" % (header.encode(), seqs[n].tobytes(), quals[n].tobytes()))
    finally:
        _close(out)
    return path


def write_bam(
    path: Path | str,
    *,
    sample: str,
    read_group: str,
    reference: str = "GRCh38",
    reads: int = 200,
    read_length: int = 100,
    contigs: Mapping[str, int] | None = None,
    library: str | None = None,
    platform_unit: str | None = None,
    index: bool = True,
    rng: random.Random | None = None,
) -> Path:
    """Coordinate-sorted BAM (and .bai) with @SQ (AS:<reference>), @RG SM:<sample>, @PG bwa."""
    import pysam  # heavy: only when a BAM is written

    path, rng = _parent(path), _rng(rng)
    contigs = dict(contigs or DEFAULT_CONTIGS)
    header = {
        "HD": {"VN": "1.6", "SO": "coordinate"},
        "SQ": [{"SN": name, "LN": length, "AS": reference} for name, length in contigs.items()],
        "RG": [
            {
                "ID": read_group,
                "SM": sample,
                "LB": library or f"{sample}-lib1",
                "PL": "ILLUMINA",
                "PU": platform_unit or f"{read_group}.1",
            }
        ],
        "PG": [
            {
                "ID": "bwa",
                "PN": "bwa",
                "VN": "0.7.17-r1188",
                "CL": f"bwa mem -R @RG\\tID:{read_group}\\tSM:{sample} {reference}.fa R1.fq.gz",
            }
        ],
    }
    names = list(contigs)
    positions = sorted(
        (ref_id, rng.randint(0, contigs[names[ref_id]] - read_length - 1))
        for ref_id in (rng.randrange(len(names)) for _ in range(reads))
    )
    with pysam.AlignmentFile(str(path), "wb", header=header) as out:
        for n, (ref_id, start) in enumerate(positions):
            segment = pysam.AlignedSegment(out.header)
            segment.query_name = f"{read_group}:{n:06d}"
            segment.query_sequence = random_sequence(rng, read_length)
            segment.flag = 16 if rng.random() < 0.5 else 0
            segment.reference_id = ref_id
            segment.reference_start = start
            segment.mapping_quality = rng.choice((60, 60, 60, 42, 0))
            segment.cigartuples = [(0, read_length)]
            segment.query_qualities = array("B", rng.choices(range(25, 41), k=read_length))
            segment.set_tag("RG", read_group)
            segment.set_tag("NM", rng.randint(0, 3))
            out.write(segment)
    if index:
        pysam.index(str(path))
    return path


def write_vcf(
    path: Path | str,
    *,
    samples: Sequence[str],
    reference: str = "GRCh38",
    variants: int = 50,
    contigs: Mapping[str, int] | None = None,
    gz: bool = True,
    rng: random.Random | None = None,
) -> Path:
    """VCF 4.2 with one column per sample, GT/DP/GQ per call, DP/AF INFO; bgzipped and
    tabix-indexed when `gz`."""
    import pysam

    path, rng = _parent(path), _rng(rng)
    contigs = dict(contigs or DEFAULT_CONTIGS)
    header = pysam.VariantHeader()
    header.add_meta("source", "GATK HaplotypeCaller 4.5.0.0")
    header.add_meta("reference", reference)
    for name, length in contigs.items():
        header.contigs.add(name, length=length, assembly=reference)
    header.info.add("DP", 1, "Integer", "Combined depth across samples")
    header.info.add("AF", "A", "Float", "Allele frequency")
    header.formats.add("GT", 1, "String", "Genotype")
    header.formats.add("DP", 1, "Integer", "Read depth")
    header.formats.add("GQ", 1, "Integer", "Genotype quality")
    for sample in samples:
        header.add_sample(sample)
    names = list(contigs)
    chosen: set[tuple[int, int]] = set()
    while len(chosen) < variants:
        ref_id = rng.randrange(len(names))
        chosen.add((ref_id, rng.randint(1, contigs[names[ref_id]])))
    sites = sorted(chosen)
    with pysam.VariantFile(str(path), "wz" if gz else "w", header=header) as out:
        for ref_id, pos in sites:
            ref = rng.choice(BASES)
            alt = rng.choice([b for b in BASES if b != ref])
            record = out.new_record(
                contig=names[ref_id],
                start=pos - 1,
                alleles=(ref, alt),
                qual=round(rng.uniform(30, 3000), 1),
                filter="PASS",
            )
            depths = [rng.randint(8, 80) for _ in samples]
            calls = [rng.choice(((0, 0), (0, 1), (0, 1), (1, 1))) for _ in samples]
            record.info["DP"] = sum(depths)
            record.info["AF"] = (round(sum(sum(c) for c in calls) / (2 * len(samples)), 3),)
            for sample, depth, gt in zip(samples, depths, calls, strict=True):
                record.samples[sample]["GT"] = gt
                record.samples[sample]["DP"] = depth
                record.samples[sample]["GQ"] = rng.randint(20, 99)
            out.write(record)
    if gz:
        pysam.tabix_index(str(path), preset="vcf", force=True)
    return path


def write_fasta(
    path: Path | str,
    sequences: Mapping[str, int] | None = None,
    *,
    descriptions: Mapping[str, str] | None = None,
    line_width: int = 60,
    gz: bool = False,
    rng: random.Random | None = None,
) -> Path:
    """FASTA of random sequences: `sequences` maps name -> length (default: the demo contigs)."""
    path, rng = _parent(path), _rng(rng)
    out = _open_write(path, gz)
    try:
        for name, length in (sequences or DEFAULT_CONTIGS).items():
            description = (descriptions or {}).get(name)
            out.write(f">{name}{' ' + description if description else ''}\n".encode())
            seq = random_sequence(rng, length)
            for i in range(0, length, line_width):
                out.write(seq[i : i + line_width].encode() + b"\n")
    finally:
        _close(out)
    return path


# --- tables -----------------------------------------------------------------------------------


def _columns(rows: Sequence[Mapping[str, Any]], columns: Sequence[str] | None) -> list[str]:
    if columns:
        return list(columns)
    return list(dict.fromkeys(key for row in rows for key in row))


def write_csv(
    path: Path | str,
    rows: Sequence[Mapping[str, Any]],
    *,
    columns: Sequence[str] | None = None,
    delimiter: str = ",",
    gz: bool = False,
) -> Path:
    path = _parent(path)
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=_columns(rows, columns), delimiter=delimiter)
    writer.writeheader()
    writer.writerows(rows)
    out = _open_write(path, gz)
    try:
        out.write(buffer.getvalue().encode("utf-8"))
    finally:
        _close(out)
    return path


def write_tsv(
    path: Path | str,
    rows: Sequence[Mapping[str, Any]],
    *,
    columns: Sequence[str] | None = None,
    gz: bool = False,
) -> Path:
    return write_csv(path, rows, columns=columns, delimiter="\t", gz=gz)


def write_parquet(path: Path | str, rows: Sequence[Mapping[str, Any]]) -> Path:
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = _parent(path)
    pq.write_table(pa.Table.from_pylist(list(rows)), path)
    return path


def gene_count_rows(
    samples: Sequence[str], *, genes: int = 20, rng: random.Random | None = None
) -> list[dict[str, Any]]:
    """A featureCounts-style matrix: gene_id, gene_name, then one integer column per sample."""
    rng = _rng(rng)
    rows = []
    for gene_id, name in GENES[:genes]:
        base = rng.lognormvariate(5, 2)
        row: dict[str, Any] = {"gene_id": gene_id, "gene_name": name}
        for sample in samples:
            row[sample] = int(base * rng.uniform(0.5, 1.5))
        rows.append(row)
    return rows


# --- documents --------------------------------------------------------------------------------

_METHODS = (
    "Total RNA was extracted with the RNeasy Mini kit and RIN values above 8 were accepted.",
    "Libraries were prepared with the Illumina Stranded mRNA Prep kit from 500 ng of input.",
    "Reads were aligned to GRCh38 with STAR 2.7.10b and counted with featureCounts.",
    "Differential expression was tested with DESeq2, with an FDR threshold of 0.05.",
    "Samples were randomised across lanes to avoid confounding batch with treatment.",
    "Cells were fixed in 4% paraformaldehyde and stained with DAPI and anti-GFAP antibodies.",
    "Images were acquired on a Zeiss LSM 980 confocal microscope with a 40x oil objective.",
    "Variants were called with GATK HaplotypeCaller and hard-filtered on QD and FS.",
)
_RESULTS = (
    "Dexamethasone treatment induced {gene} {fold:.1f}-fold relative to vehicle controls.",
    "Expression of {gene} was unchanged between {sample} and the untreated reference.",
    "Sample {sample} showed a lower mapping rate ({rate:.1f}%) and was re-sequenced.",
    "Clustering separated treated and control samples along the first principal component.",
    "{gene} was among the top differentially expressed genes (adjusted p = {p:.1e}).",
)


def lab_paragraphs(
    rng: random.Random | None = None, *, n: int = 6, samples: Sequence[str] = ("LIV-0001",)
) -> list[str]:
    """Paragraphs of plausible lab-report prose (methods and results) naming the given samples."""
    rng = _rng(rng)
    paragraphs = []
    for _ in range(n):
        sentences = rng.sample(_METHODS, 3)
        for template in rng.sample(_RESULTS, 2):
            sentences.append(
                template.format(
                    gene=rng.choice(GENES)[1],
                    sample=rng.choice(list(samples)),
                    fold=rng.uniform(1.5, 12),
                    rate=rng.uniform(60, 80),
                    p=rng.uniform(1e-9, 1e-3),
                )
            )
        paragraphs.append(" ".join(sentences))
    return paragraphs


def write_pdf(
    path: Path | str,
    title: str,
    paragraphs: Iterable[str],
    *,
    author: str = "labsearch demo",
    subject: str = "",
) -> Path:
    """A text PDF (reportlab) whose text pypdf can extract; timestamps and ids are invariant."""
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.styles import getSampleStyleSheet
    from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer

    path = _parent(path)
    styles = getSampleStyleSheet()
    story: list[Any] = [Paragraph(escape(title), styles["Title"]), Spacer(1, 12)]
    for paragraph in paragraphs:
        story += [Paragraph(escape(paragraph), styles["BodyText"]), Spacer(1, 6)]
    document = SimpleDocTemplate(
        str(path), pagesize=A4, title=title, author=author, subject=subject, invariant=1
    )
    document.build(story)
    return path


def write_markdown(
    path: Path | str, title: str, sections: Mapping[str, str | Sequence[str]]
) -> Path:
    """`# title`, then `## heading` per section with its paragraphs."""
    path = _parent(path)
    lines = [f"# {title}", ""]
    for heading, body in sections.items():
        lines += [f"## {heading}", ""]
        for paragraph in [body] if isinstance(body, str) else body:
            lines += [paragraph, ""]
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


def write_json(path: Path | str, data: Any) -> Path:
    path = _parent(path)
    path.write_text(json.dumps(data, indent=2, sort_keys=False) + "\n", encoding="utf-8")
    return path


# --- imaging and matrices ---------------------------------------------------------------------


def write_tiff(
    path: Path | str,
    *,
    channels: Sequence[str] = ("DAPI", "GFAP"),
    size: tuple[int, int] = (64, 64),
    pixel_size_um: float = 0.325,
    z_step_um: float | None = None,
    z_planes: int = 1,
    name: str | None = None,
    ome: bool = True,
    rng: random.Random | None = None,
) -> Path:
    """An OME-TIFF (OME-XML with channel names and physical pixel sizes) of uint16 noise
    with a few bright 'nuclei'; `ome=False` writes a plain TIFF."""
    import tifffile

    path, rng = _parent(path), _rng(rng)
    generator = _np_rng(rng)
    shape = (z_planes, len(channels), *size)
    data = generator.poisson(100, size=shape).astype(np.uint16)
    for _ in range(6):  # blobs make it an image rather than pure noise
        y, x = generator.integers(8, size[0] - 8), generator.integers(8, size[1] - 8)
        data[..., y - 4 : y + 4, x - 4 : x + 4] += np.uint16(2000)
    if not ome:
        tifffile.imwrite(path, data.squeeze(), photometric="minisblack")
        return path
    metadata: dict[str, Any] = {
        "axes": "ZCYX",
        "Channel": {"Name": list(channels)},
        "PhysicalSizeX": pixel_size_um,
        "PhysicalSizeXUnit": "µm",
        "PhysicalSizeY": pixel_size_um,
        "PhysicalSizeYUnit": "µm",
        # tifffile would otherwise put a time-based uuid1 into the OME-XML.
        "UUID": f"urn:uuid:{uuid.UUID(int=rng.getrandbits(128), version=4)}",
    }
    if z_step_um is not None:
        metadata |= {"PhysicalSizeZ": z_step_um, "PhysicalSizeZUnit": "µm"}
    if name:
        metadata["Name"] = name
    tifffile.imwrite(path, data, ome=True, photometric="minisblack", metadata=metadata)
    return path


def write_h5ad(
    path: Path | str,
    *,
    samples: Sequence[str],
    cells_per_sample: int = 30,
    genes: int = 25,
    cell_types: Sequence[str] = CELL_TYPES[:4],
    uns: Mapping[str, Any] | None = None,
    rng: random.Random | None = None,
) -> Path:
    """AnnData: obs columns `sample` and `cell_type` (categorical), var = gene symbols with
    `gene_ids`, X = Poisson counts."""
    import anndata
    import pandas as pd

    path, rng = _parent(path), _rng(rng)
    generator = _np_rng(rng)
    n_obs = cells_per_sample * len(samples)
    obs = pd.DataFrame(
        {
            "sample": pd.Categorical([s for s in samples for _ in range(cells_per_sample)]),
            "cell_type": pd.Categorical(
                [rng.choice(list(cell_types)) for _ in range(n_obs)], categories=list(cell_types)
            ),
            "n_counts": generator.integers(500, 5000, size=n_obs),
        },
        index=[f"cell-{i:05d}" for i in range(n_obs)],
    )
    chosen = GENES[:genes]
    var = pd.DataFrame({"gene_ids": [g[0] for g in chosen]}, index=[g[1] for g in chosen])
    x = generator.poisson(2.0, size=(n_obs, len(chosen))).astype(np.float32)
    adata = anndata.AnnData(X=x, obs=obs, var=var, uns=dict(uns or {}))
    adata.write_h5ad(path)
    return path


def write_hdf5(
    path: Path | str,
    datasets: Mapping[str, np.ndarray] | None = None,
    *,
    attrs: Mapping[str, Any] | None = None,
    rng: random.Random | None = None,
) -> Path:
    """Plain HDF5. Default content: a 96-well plate-reader run (absorbance and a kinetic read)."""
    import h5py

    path, rng = _parent(path), _rng(rng)
    if datasets is None:
        generator = _np_rng(rng)
        datasets = {
            "plate_1/absorbance_450nm": generator.uniform(0.05, 2.5, size=(8, 12)),
            "plate_1/kinetics": generator.uniform(0.05, 2.5, size=(30, 8, 12)),
        }
        attrs = {"instrument": "BioTek Synergy H1", "wavelength_nm": 450, **(attrs or {})}
    with h5py.File(path, "w", track_order=True) as out:
        for name, values in datasets.items():
            out.create_dataset(name, data=values)
        for key, value in (attrs or {}).items():
            out.attrs[key] = value
    return path


# --- bad inputs -------------------------------------------------------------------------------


def write_corrupt_gzip(path: Path | str, *, rng: random.Random | None = None) -> Path:
    """A valid gzip header followed by garbage where the deflate stream should be."""
    path, rng = _parent(path), _rng(rng)
    header = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03"
    # 0xff first makes the first deflate block type invalid (BTYPE=11), always.
    path.write_bytes(header + b"\xff" + rng.randbytes(200))
    return path


def write_truncated_bam(
    path: Path | str, *, sample: str = "LIV-0001", keep: float = 0.5, **bam: Any
) -> Path:
    """A BAM cut off part-way (lost the rest of its records and the BGZF end-of-file block)."""
    path = write_bam(
        path, sample=sample, read_group=bam.pop("read_group", "RG1"), index=False, **bam
    )
    data = path.read_bytes()
    path.write_bytes(data[: max(1, int(len(data) * keep))])
    return path


def write_invalid_utf8(path: Path | str, text: str = "Sample LIV-0001 notes") -> Path:
    """Text that is UTF-8 except for a few Latin-1 / stray bytes, as files copied from old
    instruments often are."""
    path = _parent(path)
    path.write_bytes(text.encode() + b"\nTemperature 37\xb0C, operator J\xfcrgen \xff\xfe\n")
    return path


def write_random_bytes(
    path: Path | str, size: int = 512, *, rng: random.Random | None = None
) -> Path:
    """Binary content that matches no known signature (it starts with NUL bytes)."""
    path, rng = _parent(path), _rng(rng)
    path.write_bytes(b"\x00\x00\x00\x00" + rng.randbytes(max(0, size - 4)))
    return path
