"""The demo lab's Quilt packages: raw (one per run), processed and final (one per experiment).

Each writer puts small real files under `registry/<package name>/<logical key>` (the layout a
push to a bucket gives) and returns a `PackageSpec`; `build_packages` turns the specs into
packages in the local registry with quilt3's own `Package.build`, which only hashes the files and
writes a manifest (a few ms per package, measured), so there is no need for a faster path.
"""

from __future__ import annotations

import os
import random
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from shell.demo import files
from shell.demo.catalog import CELL_TYPES, GENES_HUMAN, GENES_MOUSE, PAIRED_END
from shell.demo.plan import Experiment, LabPlan, Run

READS_PER_FASTQ = 24  # a few KB per file: enough for extractors, small for the 2-core build
READS_PER_BAM = 30
# Sections imaged for the final figures: H&E for liver and colon, immunofluorescence for brain.
HISTOLOGY_CHANNELS = {
    "liver": ("Hematoxylin", "Eosin"),
    "colon": ("Hematoxylin", "Eosin"),
    "hippocampus": ("DAPI", "GFAP", "Iba1"),
}


@dataclass
class PackageSpec:
    name: str
    data_level: str
    metadata: dict[str, Any]
    message: str
    base: Path  # where the entries' files live: registry/<package name>
    entries: dict[str, Path] = field(default_factory=dict)  # logical key -> file written

    def add(self, logical_key: str, path: Path) -> None:
        self.entries[logical_key] = path

    def write(self, logical_key: str, writer: Callable[..., Path], *args: Any, **kw: Any) -> None:
        """Write an entry with one of shell.demo.files' writers, at base/logical_key."""
        self.entries[logical_key] = writer(self.base / logical_key, *args, **kw)


def _rng(seed: int, name: str) -> random.Random:
    # One stream per package, so a package's bytes do not depend on the order of the build.
    return random.Random(f"{seed}:{name}")


def _genes(organism: str) -> tuple[str, ...]:
    return GENES_MOUSE if organism == "Mus musculus" else GENES_HUMAN


def fastq_key(sample: str, position: int, read: int) -> str:
    """bcl2fastq's file name: <sample>_S<n>_L001_R<read>_001.fastq.gz."""
    return f"fastq/{sample}_S{position}_L001_R{read}_001.fastq.gz"


def raw_package(plan: LabPlan, run: Run, registry: Path) -> PackageSpec:
    experiment = plan.experiments[run.experiment_id]
    rng = _rng(plan.seed, run.package)
    spec = PackageSpec(
        name=run.package,
        data_level="raw",
        message=f"{run.instrument.model} run {run.run_id} ({run.purpose}) for {experiment.id}",
        base=registry / run.package,
        metadata={
            "entity": "run",
            "run_id": run.run_id,
            "samples": list(run.samples),
            "instrument": run.instrument.model,
            "instrument_id": run.instrument.serial,
            "flowcell": run.flowcell,
            "date": run.date.isoformat(),
            "experiment_id": run.experiment_id,
            "project": run.project,
            "organism": run.organism,
            "assay": run.assay,
            "data_level": "raw",
            "lab": run.lab,
            "read_length": run.instrument.read_length,
            "paired_end": run.assay in PAIRED_END,
            "purpose": run.purpose,
        },
    )
    sheet = []
    reads = (1, 2) if run.assay in PAIRED_END else (1,)
    for position, sample in enumerate(run.samples, start=1):
        index = f"{files.barcode(rng)}+{files.barcode(rng)}"
        sheet.append(
            {
                "Sample_ID": sample,
                "Sample_Name": sample,
                "Sample_Project": run.project,
                "Experiment": run.experiment_id,
                "Lane": 1,
                "index": index.split("+")[0],
                "index2": index.split("+")[1],
            }
        )
        for read in reads:
            spec.write(
                fastq_key(sample, position, read),
                files.write_fastq,
                sample=sample,
                # The header's run field is the instrument's run counter, as on real instruments.
                run_id=run.number,
                instrument=run.instrument.serial,
                flowcell=run.flowcell,
                reads=READS_PER_FASTQ,
                read_length=run.instrument.read_length,
                read_number=read,
                index=index,
                rng=rng,
            )
    spec.write("SampleSheet.csv", files.write_csv, sheet)
    if rng.random() < 0.3:  # some facilities send a run report, most do not
        spec.add("reports/run_summary.pdf", _run_report(spec.base, run, rng))
    return spec


def _run_report(base: Path, run: Run, rng: random.Random) -> Path:
    q30 = rng.uniform(85, 95)
    density = rng.randint(180, 320) if run.instrument.model != "MiSeq" else rng.randint(800, 1400)
    per_sample = ", ".join(f"{s}: {rng.uniform(8, 40):.1f} M reads" for s in run.samples)
    paragraphs = [
        f"Run {run.run_id} on {run.instrument.model} {run.instrument.serial}, flow cell "
        f"{run.flowcell}, completed {run.date.isoformat()} for experiment {run.experiment_id} "
        f"({run.project}, {run.assay}, {run.purpose}).",
        f"Cluster density {density} K/mm2, {q30:.1f}% of bases at or above Q30, "
        f"read length {run.instrument.read_length} bp.",
        f"Demultiplexed reads per sample: {per_sample}.",
    ]
    return files.write_pdf(
        base / "reports/run_summary.pdf",
        f"Sequencing run report {run.run_id}",
        paragraphs,
        author="Genomics core facility",
        subject=f"{run.instrument.model} run {run.run_id}",
    )


def processed_package(plan: LabPlan, experiment: Experiment, registry: Path) -> PackageSpec:
    rng = _rng(plan.seed, experiment.processed_package)
    runs = [plan.runs[r] for r in experiment.runs]
    spec = PackageSpec(
        name=experiment.processed_package,
        data_level="processed",
        message=f"Processed {experiment.assay} data for {experiment.id}",
        base=registry / experiment.processed_package,
        metadata={
            **_experiment_metadata(experiment, "processed"),
            "derived_from": [run.package for run in runs],
            "runs": [run.run_id for run in runs],
            "pipeline": _pipeline(experiment.assay),
        },
    )
    reference = experiment.lab.reference
    if experiment.assay != "amplicon-seq":
        for sample in experiment.samples:
            first = next(run for run in runs if sample in run.samples)
            spec.write(
                f"alignments/{sample}.bam",
                files.write_bam,
                sample=sample,
                read_group=f"{first.flowcell}.1.{sample}",
                platform_unit=f"{first.flowcell}.1",
                reference=reference,
                reads=READS_PER_BAM,
                read_length=min(first.instrument.read_length, 100),
                index=False,
                rng=rng,
            )
    _assay_results(spec, experiment, rng)
    spec.add("qc/qc_summary.md", _qc_markdown(spec.base, experiment, runs, rng))
    spec.add("README.md", _readme(spec.base, experiment, spec, runs))
    return spec


def _assay_results(spec: PackageSpec, experiment: Experiment, rng: random.Random) -> None:
    """The pipeline's main output for the assay: counts, peaks, variants or clonotypes."""
    genes = _genes(experiment.lab.organism)
    samples = experiment.samples
    if experiment.assay == "RNA-seq":
        rows = [
            {"gene_name": gene, **{s: int(rng.lognormvariate(5, 1.5)) for s in samples}}
            for gene in genes
        ]
        spec.write("counts/gene_counts.parquet", files.write_parquet, rows)
    elif experiment.assay == "ATAC-seq":
        rows = []
        for n in range(15):
            start = rng.randint(1_000, 50_000)
            chrom = rng.choice(("chr1", "chr2"))
            end = start + rng.randint(150, 900)
            gene, score = rng.choice(genes), rng.randint(20, 1000)
            rows.append(
                {"chrom": chrom, "start": start, "end": end, "name": f"peak_{n + 1}",
                 "nearest_gene": gene, "score": score}
            )  # fmt: skip
        spec.write("peaks/consensus_peaks.csv", files.write_csv, rows)
    elif experiment.assay == "WGS":
        spec.write(
            f"variants/{experiment.id}.vcf.gz",
            files.write_vcf,
            samples=samples,
            reference=experiment.lab.reference,
            variants=20,
            rng=rng,
        )
    elif experiment.assay == "scRNA-seq":
        rows = [
            {"sample": s, "cells": rng.randint(2500, 9000),
             "median_genes": rng.randint(800, 2500), "pct_mito": round(rng.uniform(1, 9), 2)}
            for s in samples
        ]  # fmt: skip
        spec.write("counts/cell_qc.csv", files.write_csv, rows)
    elif experiment.assay == "amplicon-seq":
        rows = [
            {"sample": s, "cdr3_aa": "CASS" + "".join(rng.choices("AGLNQRSTY", k=6)) + "F",
             "trbv": f"TRBV{rng.randint(2, 30)}-1", "count": rng.randint(5, 900)}
            for s in samples
            for _ in range(4)
        ]  # fmt: skip
        spec.write("clonotypes/trb_clonotypes.parquet", files.write_parquet, rows)


def _pipeline(assay: str) -> str:
    return {
        "RNA-seq": "nf-core/rnaseq 3.14.0 (STAR + featureCounts)",
        "ATAC-seq": "nf-core/atacseq 2.1.2 (bowtie2 + MACS2)",
        "WGS": "nf-core/sarek 3.4.0 (bwa-mem + GATK HaplotypeCaller)",
        "scRNA-seq": "Cell Ranger 7.2.0 + scanpy 1.10",
        "amplicon-seq": "MiXCR 4.6",
    }[assay]


def _experiment_metadata(experiment: Experiment, level: str) -> dict[str, Any]:
    return {
        "entity": "dataset",
        "experiment_id": experiment.id,
        "samples": list(experiment.samples),
        "project": experiment.project.code,
        "organism": experiment.lab.organism,
        "assay": experiment.assay,
        "date": experiment.modified.isoformat(),
        "data_level": level,
        "lab": experiment.lab.key,
        "reference": experiment.lab.reference,
    }


def _qc_markdown(base: Path, experiment: Experiment, runs: list[Run], rng: random.Random) -> Path:
    table = ["| sample | runs | reads (M) | mapped (%) |", "| --- | --- | --- | --- |"]
    mapped = {}
    for sample in experiment.samples:
        sample_runs = [r.run_id for r in runs if sample in r.samples]
        mapped[sample] = round(rng.uniform(72, 97), 1)
        table.append(
            f"| {sample} | {len(sample_runs)} | {rng.uniform(10, 60):.1f} | {mapped[sample]} |"
        )
    low = min(mapped, key=mapped.__getitem__)
    return files.write_markdown(
        base / "qc/qc_summary.md",
        f"QC summary for {experiment.id}",
        {
            "Per-sample metrics": "\n".join(table),
            "Notes": (
                f"{low} has the lowest mapping rate of the batch ({mapped[low]}%); it stays in "
                f"the analysis. Runs merged per sample: {', '.join(r.run_id for r in runs)}."
            ),
        },
    )


def _readme(base: Path, experiment: Experiment, spec: PackageSpec, runs: list[Run]) -> Path:
    level = spec.data_level
    contents = [f"- `{key}`" for key in sorted(spec.entries)]
    return files.write_markdown(
        base / "README.md",
        f"{experiment.id}: {experiment.project.title} ({level} data)",
        {
            "Experiment": (
                f"{experiment.assay} of {experiment.project.tissue} ({experiment.lab.organism}), "
                f"{experiment.project.treatment} versus {experiment.project.control}. "
                f"Lab notebook entry {experiment.id} by {experiment.author}."
            ),
            "Samples": ", ".join(experiment.samples),
            "Sequencing runs": "\n".join(
                f"- {r.run_id} ({r.instrument.model}, {r.date.isoformat()})" for r in runs
            ),
            "Contents": "\n".join(contents) or "(none)",
        },
    )


def final_package(plan: LabPlan, experiment: Experiment, registry: Path) -> PackageSpec:
    name = experiment.final_package
    if name is None:
        raise ValueError(f"{experiment.id} is not complete: it has no final package")
    rng = _rng(plan.seed, name)
    runs = [plan.runs[r] for r in experiment.runs]
    project = experiment.project
    spec = PackageSpec(
        name=name,
        data_level="final",
        message=f"Figures and report for {experiment.id}",
        base=registry / name,
        metadata={
            **_experiment_metadata(experiment, "final"),
            "derived_from": [experiment.processed_package],
            "status": "complete",
        },
    )
    genes = _genes(experiment.lab.organism)
    top = rng.sample(genes, 3)
    sequencing = "; ".join(f"{r.run_id} on {r.instrument.model}" for r in runs)
    paragraphs = [
        f"Hypothesis. {project.hypothesis}",
        f"Design. {len(experiment.samples)} {project.tissue} samples "
        f"({', '.join(experiment.samples)}): {project.treatment} versus {project.control}, "
        f"{', '.join(project.timepoints)}.",
        f"Sequencing. {len(runs)} runs: {sequencing}.",
        f"Results. {project.readout.capitalize()}: {top[0]}, {top[1]} and {top[2]} changed most "
        f"(adjusted p < {rng.uniform(1e-6, 1e-3):.1e}).",
    ]
    spec.write(
        f"report/{experiment.id}_report.pdf",
        files.write_pdf,
        f"{experiment.id}: {project.title}",
        paragraphs,
        author=experiment.author,
        subject=project.code,
    )
    if experiment.assay in ("RNA-seq", "ATAC-seq"):
        rows = [
            {"gene_name": g, "log2_fold_change": round(rng.gauss(0, 2), 3),
             "padj": float(f"{rng.uniform(1e-8, 0.2):.3g}")}
            for g in genes
        ]  # fmt: skip
        spec.write("results/differential_expression.csv", files.write_csv, rows)
    if experiment.assay == "scRNA-seq":
        spec.write(
            f"results/{experiment.id}_annotated.h5ad",
            files.write_h5ad,
            samples=experiment.samples,
            cells_per_sample=12,
            genes=15,
            cell_types=CELL_TYPES[experiment.lab.organism],
            uns={"experiment_id": experiment.id},
            rng=rng,
        )
    if project.tissue in HISTOLOGY_CHANNELS:
        spec.write(
            f"figures/{experiment.id}_histology.ome.tif",
            files.write_tiff,
            channels=HISTOLOGY_CHANNELS[project.tissue],
            size=(32, 32),
            name=f"{experiment.samples[0]} {project.tissue} section",
            rng=rng,
        )
    _figure(spec, experiment, top)
    spec.add("README.md", _readme(spec.base, experiment, spec, runs))
    return spec


# The summary figure per assay, exported as a vector PDF with its caption (as plots usually are).
FIGURES = {
    "RNA-seq": ("volcano_plot", "Volcano plot, {treatment} versus {control}"),
    "ATAC-seq": ("tss_enrichment", "Accessibility at transcription start sites by condition"),
    "scRNA-seq": ("umap_cell_types", "UMAP of cells coloured by cell type"),
    "WGS": ("mutation_spectrum", "Somatic mutation spectrum, tumour versus matched normal"),
    "amplicon-seq": ("clonotype_expansion", "Expanded TRB clonotypes after vaccination"),
}


def _figure(spec: PackageSpec, experiment: Experiment, top: list[str]) -> None:
    stem, caption = FIGURES[experiment.assay]
    project = experiment.project
    title = caption.format(treatment=project.treatment, control=project.control)
    spec.write(
        f"figures/{stem}.pdf",
        files.write_pdf,
        f"{experiment.id} figure: {title}",
        [
            f"Figure 1. {title} ({experiment.lab.organism} {project.tissue}, "
            f"{len(experiment.samples)} samples: {', '.join(experiment.samples)}).",
            f"Highlighted: {', '.join(top)}.",
        ],
        author=experiment.author,
        subject=project.code,
    )


def experiment_packages(plan: LabPlan, experiment: Experiment, registry: Path) -> list[PackageSpec]:
    specs = [processed_package(plan, experiment, registry)]
    if experiment.complete:
        specs.append(final_package(plan, experiment, registry))
    return specs


def build_packages(specs: Iterable[PackageSpec], registry: Path) -> dict[str, str]:
    """Build every spec into the local registry; returns package name -> top hash."""
    # quilt3 reads these when imported: no usage metrics, no progress bars per package.
    os.environ.setdefault("QUILT_DISABLE_USAGE_METRICS", "true")
    os.environ.setdefault("QUILT_MINIMIZE_STDOUT", "true")
    import quilt3

    registry_url = registry.resolve().as_uri()
    hashes = {}
    for spec in specs:
        package = quilt3.Package()
        for logical_key, path in sorted(spec.entries.items()):
            package.set(logical_key, str(path))
        package.set_meta(spec.metadata)
        hashes[spec.name] = package.build(spec.name, registry=registry_url, message=spec.message)
    return hashes
