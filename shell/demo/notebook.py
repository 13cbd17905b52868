"""The demo lab's ELN export: experiment and sample records in the JSON Lines shape of
docs/eln-format.md, written from the plan (so they agree with the packages by construction)."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Any

from shell.demo.catalog import PAIRED_END
from shell.demo.plan import Experiment, LabPlan, Sample

# Methods by assay and the organism's approvals: true of every experiment of that kind, so the
# ELN text varies realistically without contradicting the plan.
METHODS = {
    "RNA-seq": "Libraries: Illumina Stranded mRNA Prep from 500 ng total RNA (RIN > 8).",
    "ATAC-seq": "Libraries: Omni-ATAC on 50,000 nuclei, Tn5 30 min at 37 °C (SOP-003).",
    "scRNA-seq": "Libraries: 10x Chromium 3' v3.1, 8,000 cells targeted per sample (SOP-004).",
    "WGS": "Libraries: Illumina DNA PCR-Free Prep from 500 ng genomic DNA.",
    "amplicon-seq": "Libraries: multiplex TRB amplicon PCR from 200 ng PBMC RNA.",
}
APPROVALS = {
    "Mus musculus": "Animal work under licence AL-2025-033; mice housed 12 h light/dark, "
    "tissue harvested at ZT2-ZT4.",
    "Homo sapiens": "Human samples under ethics approval IRB-2024-117 with written consent; "
    "donor ids are pseudonymised.",
}


def _stamp(day: date, hour: int) -> str:
    return f"{day.isoformat()}T{hour:02d}:{(hour * 7) % 60:02d}:00Z"


def experiment_record(plan: LabPlan, experiment: Experiment, registry_url: str) -> dict[str, Any]:
    runs = [plan.runs[r] for r in experiment.runs]
    project = experiment.project
    primary, top_ups = runs[0], runs[1:]
    reads = "paired-end" if experiment.assay in PAIRED_END else "single-end"
    sequencing = [
        f"Primary sequencing on {primary.instrument.model} ({primary.instrument.serial}), run "
        f"{primary.run_id} on {primary.date.isoformat()}, {reads} "
        f"{primary.instrument.read_length} bp, samples {', '.join(primary.samples)}."
    ]
    for run in top_ups:
        sequencing.append(
            f"Top-up resequencing of {', '.join(run.samples)} on {run.instrument.model} "
            f"({run.instrument.serial}), run {run.run_id} on {run.date.isoformat()}."
        )
    packages = [run.package for run in runs] + [experiment.processed_package]
    if experiment.final_package:
        packages.append(experiment.final_package)
    status = "complete" if experiment.complete else "analysis in progress"
    subjects = sorted({plan.samples[s].subject for s in experiment.samples})
    paragraphs = [
        f"Hypothesis: {project.hypothesis}",
        f"Design: {len(experiment.samples)} {project.tissue} samples "
        f"({experiment.lab.organism}; {', '.join(subjects)}): {project.treatment} versus "
        f"{project.control}, collected at {', '.join(project.timepoints)}. "
        f"Samples: {', '.join(experiment.samples)}.",
        f"Methods: {METHODS[experiment.assay]} {APPROVALS[experiment.lab.organism]}",
        "Sequencing: " + " ".join(sequencing),
        f"Analysis: {project.readout}. Status: {status}. Quilt packages: {', '.join(packages)}.",
    ]
    if experiment.injection:
        paragraphs.append(experiment.injection)
    return {
        "id": experiment.id,
        "type": "experiment",
        "title": f"{project.title}: {experiment.assay}, batch {experiment.batch}",
        "description": "\n\n".join(paragraphs),
        "author": experiment.author,
        "created": _stamp(experiment.created, 9),
        "modified": _stamp(experiment.modified, 17),
        "project": project.code,
        "samples": list(experiment.samples),
        "runs": list(experiment.runs),
        "packages": [{"registry": registry_url, "name": name} for name in packages],
        "instrument": primary.instrument.model,
        "tags": [experiment.assay, project.tissue, project.code.lower(), experiment.lab.key],
        "access_groups": [experiment.lab.key],
        "metadata": {
            "organism": experiment.lab.organism,
            "assay": experiment.assay,
            "lab": experiment.lab.key,
            "status": status,
            "tissue": project.tissue,
            "treatment": project.treatment,
            "control": project.control,
            "timepoints": list(project.timepoints),
            "reference_genome": experiment.lab.reference,
        },
    }


def sample_record(plan: LabPlan, sample: Sample) -> dict[str, Any]:
    experiment = plan.experiments[sample.experiment_id]
    code = hash_of(sample.id)
    subject_key = "strain" if experiment.lab.organism == "Mus musculus" else "donor"
    runs = ", ".join(sample.runs)
    return {
        "id": sample.id,
        "type": "sample",
        "title": f"{sample.id}: {sample.tissue}, {sample.condition}, {sample.timepoint}",
        "description": (
            f"{sample.tissue.capitalize()} from {sample.subject} ({sample.sex}), "
            f"{sample.condition}, {sample.timepoint}; collected for {experiment.id} "
            f"({experiment.project.title}). Sequenced on {len(sample.runs)} run(s): {runs}."
        ),
        "author": experiment.author,
        "created": _stamp(sample.collected, 11),
        "project": sample.project,
        "experiment": sample.experiment_id,
        "runs": list(sample.runs),
        "tags": [sample.tissue, experiment.assay],
        "access_groups": [sample.lab],
        "metadata": {
            "organism": experiment.lab.organism,
            "lab": sample.lab,
            "tissue": sample.tissue,
            "condition": sample.condition,
            "timepoint": sample.timepoint,
            subject_key: sample.subject,
            "sex": sample.sex,
            "storage": f"-80 °C freezer {1 + code % 4}, box {1 + code % 40}",
        },
    }


def hash_of(text: str) -> int:
    """A stable small number from a string (Python's hash() changes between processes)."""
    return sum((i + 1) * ord(ch) for i, ch in enumerate(text))


def eln_records(plan: LabPlan, registry_url: str) -> list[dict[str, Any]]:
    """Experiments in ELN order, each followed by its samples (as an ELN export lists them)."""
    records = []
    for experiment in plan.experiments.values():
        records.append(experiment_record(plan, experiment, registry_url))
        records.extend(sample_record(plan, plan.samples[s]) for s in experiment.samples)
    return records


def write_eln(path: Path, records: list[dict[str, Any]]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as out:
        for record in records:
            out.write(json.dumps(record, ensure_ascii=False) + "\n")
    return path
