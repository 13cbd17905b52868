"""Ground truth of the demo lab, read off the generator's plan and the packages it wrote.

Nothing here looks at an index: eval/ and the tests compare labsearch's answers with this file.
Paths are relative to the demo root, so the same seed gives the same truth wherever it is built.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from shell.demo.catalog import LABS
from shell.demo.packages import PackageSpec
from shell.demo.plan import LabPlan

USERS = {"alice": ("lab-a", "demo-alice"), "bob": ("lab-b", "demo-bob")}


def build_truth(
    plan: LabPlan,
    runs_requested: int,
    specs: dict[str, PackageSpec],
    files: dict[str, list[str]],
    well_known: dict[str, str],
    layout: dict[str, str],
) -> dict[str, Any]:
    """`specs`: package name -> what was built; `files`: path under files/ -> groups."""
    instruments: dict[str, list[str]] = {}
    for run in plan.runs.values():
        instruments.setdefault(run.instrument.model, []).append(run.run_id)
    experiments = {}
    for experiment in plan.experiments.values():
        raw = [plan.runs[r].package for r in experiment.runs]
        final = [experiment.final_package] if experiment.final_package else []
        names = [*raw, experiment.processed_package, *final]
        experiments[experiment.id] = {
            "lab": experiment.lab.key,
            "group": experiment.lab.key,
            "project": experiment.project.code,
            "assay": experiment.assay,
            "organism": experiment.lab.organism,
            "author": experiment.author,
            "status": "complete" if experiment.complete else "analysis in progress",
            "samples": list(experiment.samples),
            "runs": list(experiment.runs),
            "packages": {"raw": raw, "processed": [experiment.processed_package], "final": final},
            "files": {name: sorted(specs[name].entries) for name in names},
            "prompt_injection": experiment.injection is not None,
        }
    return {
        "seed": plan.seed,
        "runs_requested": runs_requested,
        "layout": layout,
        "counts": {
            "runs": len(plan.runs),
            "samples": len(plan.samples),
            "experiments": len(plan.experiments),
            "packages": len(specs),
            "package_entries": sum(len(s.entries) for s in specs.values()),
            "files": len(files),
        },
        "labs": {
            lab.key: {
                "group": lab.key,
                "name": lab.name,
                "organism": lab.organism,
                "instruments": [i.model for i in lab.instruments],
                "projects": [p.code for p in lab.projects],
            }
            for lab in LABS
        },
        "users": {
            name: {"groups": [group], "api_keys": [key]} for name, (group, key) in USERS.items()
        },
        "runs": {
            run.run_id: {
                "lab": run.lab,
                "group": run.lab,
                "package": run.package,
                "instrument": run.instrument.model,
                "instrument_id": run.instrument.serial,
                "flowcell": run.flowcell,
                "date": run.date.isoformat(),
                "experiment_id": run.experiment_id,
                "project": run.project,
                "organism": run.organism,
                "assay": run.assay,
                "samples": list(run.samples),
                "purpose": run.purpose,
            }
            for run in plan.runs.values()
        },
        "samples": {
            sample.id: {
                "lab": sample.lab,
                "group": sample.lab,
                "experiment_id": sample.experiment_id,
                "project": sample.project,
                "tissue": sample.tissue,
                "condition": sample.condition,
                "timepoint": sample.timepoint,
                "subject": sample.subject,
                "runs": list(sample.runs),
                "raw_packages": [plan.runs[r].package for r in sample.runs],
                "files": _sample_files(sample.id, specs),
            }
            for sample in plan.samples.values()
        },
        "experiments": experiments,
        "instruments": instruments,
        "packages": {
            name: {
                "lab": name.split("/", 1)[0],
                "group": name.split("/", 1)[0],
                "data_level": spec.data_level,
                "experiment_id": spec.metadata["experiment_id"],
                "run_id": spec.metadata.get("run_id"),
                "samples": list(spec.metadata["samples"]),
                "derived_from": list(spec.metadata.get("derived_from", [])),
                "entries": sorted(spec.entries),
            }
            for name, spec in specs.items()
        },
        "files": {path: {"groups": groups} for path, groups in sorted(files.items())},
        "prompt_injection_records": [
            e.id for e in plan.experiments.values() if e.injection is not None
        ],
        "well_known": well_known,
    }


def _sample_files(sample_id: str, specs: dict[str, PackageSpec]) -> dict[str, list[str]]:
    """Entries named after the sample (its FASTQs and BAM), per package. Shared files such as
    sample sheets and count tables mention the sample too but are not *its* files."""
    found: dict[str, list[str]] = {}
    for name, spec in specs.items():
        if sample_id not in spec.metadata["samples"]:
            continue
        own = (f"{sample_id}_", f"{sample_id}.")  # LIV-0042_S1_L001_R1_001.fastq.gz, LIV-0042.bam
        keys = [k for k in sorted(spec.entries) if k.rsplit("/", 1)[-1].startswith(own)]
        if keys:
            found[name] = keys
    return found


def write_truth(path: Path, truth: dict[str, Any]) -> Path:
    path.write_text(json.dumps(truth, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    return path


def load_truth(path: Path) -> dict[str, Any]:
    """The truth.json of a demo lab (`DemoLab.truth`)."""
    return json.loads(Path(path).read_text(encoding="utf-8"))
