"""`build_demo_lab`: the realistic demo lab that `labsearch demo` indexes.

Under `root` it writes a local Quilt registry (raw/processed/final packages of two labs), an ELN
JSON Lines export, a directory of shared protocols and instrument exports, a `labsearch.toml`
with the two lab users and their access rules, and `truth.json`, the ground truth for eval/ and
tests. Everything follows from `seed`; `runs` sets the lab's size (300 for the demo, ~20 in tests).
"""

from __future__ import annotations

import json
import random
import shutil
import time
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from labsearch.errors import ConfigError, InvalidRequestError
from shell.demo import files
from shell.demo.catalog import LABS
from shell.demo.notebook import eln_records, write_eln
from shell.demo.packages import PackageSpec, build_packages, experiment_packages, raw_package
from shell.demo.plan import LabPlan, plan_lab
from shell.demo.truth import USERS, build_truth, write_truth

LAYOUT = {
    "registry": "registry",
    "eln": "eln/lab-notebook.jsonl",
    "files": "files",
    "config": "labsearch.toml",
    "truth": "truth.json",
    "handle": "demo.json",  # DemoLab.to_json(), read back by DemoLab.load
}
_MARKER = ".labsearch-demo"  # marks a directory as ours, so a rebuild may clear it


@dataclass
class DemoLab:
    root: Path
    registry: Path
    eln_export: Path
    files_dir: Path
    config: Path
    truth: Path
    sources: list[str]  # what `labsearch index` gets: quilt+file://, eln+file://, file://
    seed: int
    runs: int
    # Well-known ids for docs and tests.
    example_sample: str  # a lab-A sample sequenced on 3+ runs
    example_sample_b: str  # the lab-B sample on the most runs (alice must not see it)
    example_experiment: str  # a complete lab-A experiment (raw, processed and final packages)
    example_run: str  # a run that used example_sample
    example_instrument: str
    build_seconds: float = 0.0
    counts: dict[str, int] = field(default_factory=dict)

    @property
    def registry_uri(self) -> str:
        """The registry as quilt3 and asset ids name it: `quilt:{registry_uri}#{package}`."""
        return self.registry.as_uri()

    # Asset ids the sources give (the conventions in labsearch/schema.py's users), for eval/tests.
    def package_id(self, package: str, logical_key: str | None = None) -> str:
        suffix = f":{logical_key}" if logical_key else ""
        return f"quilt:{self.registry_uri}#{package}{suffix}"

    def eln_id(self, record_id: str) -> str:
        return f"eln:{self.eln_export.stem}:{record_id}"

    def file_id(self, relative: str) -> str:
        """`relative`: a path under files/ as truth.json lists it."""
        return f"file://{self.files_dir / relative}"

    def to_json(self) -> dict[str, Any]:
        return {f.name: _plain(getattr(self, f.name)) for f in fields(self)}

    @classmethod
    def load(cls, root: Path) -> DemoLab:
        """The demo lab built earlier in `root` (from its `demo.json`), without rebuilding."""
        path = Path(root) / LAYOUT["handle"]
        if not path.is_file():
            raise ConfigError(f"{root} holds no demo lab ({path} is missing): run `labsearch demo`")
        saved = json.loads(path.read_text(encoding="utf-8"))
        paths = {"root", "registry", "eln_export", "files_dir", "config", "truth"}
        return cls(**{k: Path(v) if k in paths else v for k, v in saved.items()})


def _plain(value: Any) -> Any:
    return str(value) if isinstance(value, Path) else value


def build_demo_lab(root: Path, *, seed: int = 7, runs: int = 300) -> DemoLab:
    """Write the demo lab under `root` (created; a previous demo there is replaced)."""
    if runs < len(LABS):
        raise InvalidRequestError(
            f"the demo lab needs at least {len(LABS)} sequencing runs (one per lab), got {runs}; "
            "use --runs 20 for a quick demo or the default 300"
        )
    started = time.perf_counter()
    root = Path(root).expanduser().resolve()
    _prepare(root)
    plan = plan_lab(seed, runs)
    paths = {key: root / value for key, value in LAYOUT.items()}
    registry = paths["registry"]
    registry.mkdir(parents=True, exist_ok=True)

    specs: dict[str, PackageSpec] = {}
    for run in plan.runs.values():
        specs[run.package] = raw_package(plan, run, registry)
    for experiment in plan.experiments.values():
        for spec in experiment_packages(plan, experiment, registry):
            specs[spec.name] = spec
    build_packages(specs.values(), registry)

    write_eln(paths["eln"], eln_records(plan, registry.as_uri()))
    file_groups = write_files_dir(plan, paths["files"])
    write_config(paths["config"], paths["files"])
    well_known = _well_known(plan)
    truth = build_truth(plan, runs, specs, file_groups, well_known, LAYOUT)
    write_truth(paths["truth"], truth)
    lab = DemoLab(
        root=root,
        registry=registry,
        eln_export=paths["eln"],
        files_dir=paths["files"],
        config=paths["config"],
        truth=paths["truth"],
        sources=[
            f"quilt+{registry.as_uri()}",
            f"eln+{paths['eln'].as_uri()}",
            paths["files"].as_uri(),
        ],
        seed=seed,
        runs=runs,
        build_seconds=round(time.perf_counter() - started, 2),
        counts=truth["counts"],
        **well_known,
    )
    (root / LAYOUT["handle"]).write_text(json.dumps(lab.to_json(), indent=2), encoding="utf-8")
    return lab


def _prepare(root: Path) -> None:
    """Refuse to clobber a directory that is not a demo lab; clear an old demo lab."""
    if root.exists() and any(root.iterdir()):
        if not (root / _MARKER).exists():
            raise ConfigError(
                f"{root} is not empty and is not a labsearch demo lab; choose an empty or new "
                "directory for the demo (nothing was changed)."
            )
        for key in ("registry", "eln", "files"):
            shutil.rmtree(root / LAYOUT[key].split("/")[0], ignore_errors=True)
    root.mkdir(parents=True, exist_ok=True)
    (root / _MARKER).write_text("generated by shell.demo.lab.build_demo_lab\n")


def _well_known(plan: LabPlan) -> dict[str, str]:
    def best(lab: str) -> str:
        candidates = [s for s in plan.samples.values() if s.lab == lab]
        return max(candidates, key=lambda s: (len(s.runs), -int(s.id.split("-")[1]))).id

    sample_a = best("lab-a")
    complete = [e for e in plan.experiments.values() if e.lab.key == "lab-a" and e.complete]
    experiment = (complete or [e for e in plan.experiments.values() if e.lab.key == "lab-a"])[0]
    run = plan.runs[plan.samples[sample_a].runs[-1]]
    return {
        "example_sample": sample_a,
        "example_sample_b": best("lab-b"),
        "example_experiment": experiment.id,
        "example_run": run.run_id,
        "example_instrument": run.instrument.model,
    }


# --- files/: protocols and instrument exports ------------------------------------------------

_PROTOCOL_STEPS = {
    "SOP-001_total-RNA-extraction": (
        "Total RNA extraction from tissue (RNeasy Mini)",
        [
            "Scope: liver, hippocampus and PBMC pellets stored at -80 °C.",
            "Homogenise up to 30 mg tissue in 600 µl RLT buffer with beta-mercaptoethanol; "
            "PBMC pellets are lysed directly.",
            "Bind, wash and elute in 30 µl RNase-free water; on-column DNase I digestion.",
            "Accept RIN above 8 (Agilent TapeStation) before library preparation.",
        ],
    ),
    "SOP-004_10x-Chromium-3prime": (
        "Single-cell 3' gene expression (10x Chromium, v3.1)",
        [
            "Target 8,000 cells per lane; viability above 85% by trypan blue.",
            "GEM generation, reverse transcription and cDNA amplification (12 cycles).",
            "Sequence on NovaSeq 6000 or NextSeq 2000: 28 bp read 1, 90 bp read 2.",
        ],
    ),
}
_MARKDOWN_PROTOCOLS = {
    "SOP-002_stranded-mRNA-library-prep": (
        "Stranded mRNA library preparation",
        {
            "Input": "500 ng total RNA, RIN above 8.",
            "Steps": "Poly(A) capture, fragmentation (8 min, 94 °C), first and second strand "
            "synthesis, A-tailing, adapter ligation with IDT for Illumina UD indexes, 12 PCR "
            "cycles.",
            "Sequencing": "Pool equimolar; NovaSeq 6000 or HiSeq 2500 for lab A, NextSeq 2000 "
            "for lab B. Samples below 20 M reads are topped up on the next run.",
        },
    ),
    "SOP-003_ATAC-seq-Omni": (
        "Omni-ATAC on frozen liver nuclei",
        {
            "Nuclei": "Dounce 20 strokes in cold lysis buffer; count 50,000 nuclei.",
            "Transposition": "Tn5 30 min at 37 °C with 1,000 rpm mixing; purify with MinElute.",
            "Sequencing": "Paired-end on NovaSeq 6000; check TSS enrichment above 7 in QC.",
        },
    ),
}


def write_files_dir(plan: LabPlan, directory: Path) -> dict[str, list[str]]:
    """Shared protocols and per-lab instrument exports; returns relative path -> groups."""
    rng = random.Random(f"{plan.seed}:files")
    both = sorted(lab.key for lab in LABS)
    groups: dict[str, list[str]] = {}

    def add(path: Path, owners: list[str]) -> None:
        groups[path.relative_to(directory).as_posix()] = owners

    protocols = directory / "shared/protocols"
    for stem, (title, paragraphs) in _PROTOCOL_STEPS.items():
        add(files.write_pdf(protocols / f"{stem}.pdf", title, paragraphs, author="Core"), both)
    for stem, (title, sections) in _MARKDOWN_PROTOCOLS.items():
        add(files.write_markdown(protocols / f"{stem}.md", title, sections), both)

    for lab in LABS:
        exports = directory / lab.key / "instrument-exports"
        for instrument in lab.instruments:
            rows = [
                {
                    "run_id": run.run_id,
                    "date": run.date.isoformat(),
                    "instrument": run.instrument.model,
                    "flowcell": run.flowcell,
                    "experiment_id": run.experiment_id,
                    "samples": ";".join(run.samples),
                    "yield_gb": round(rng.uniform(5, 400), 1),
                    "pct_q30": round(rng.uniform(85, 95), 1),
                }
                for run in plan.runs.values()
                if run.instrument.serial == instrument.serial and run.lab == lab.key
            ]
            if rows:
                path = exports / f"{instrument.serial}_run_log.csv"
                add(files.write_csv(path, rows), [lab.key])
        inventory = [
            {
                "sample_id": s.id,
                "tissue": s.tissue,
                "subject": s.subject,
                "experiment_id": s.experiment_id,
                "freezer": f"F{1 + rng.randrange(4)}",
                "box": rng.randint(1, 40),
                "position": f"{'ABCDEFGHI'[rng.randrange(9)]}{rng.randint(1, 9)}",
            }
            for s in plan.samples.values()
            if s.lab == lab.key
        ]
        if inventory:
            path = directory / lab.key / "sample-inventory.parquet"
            add(files.write_parquet(path, inventory), [lab.key])
    # A plate-reader export (HAI titres by ELISA) in the human lab: HDF5 as the reader saves it.
    add(
        files.write_hdf5(
            directory / "lab-b/plate-reader/HAI_titres_ELISA.h5",
            attrs={"assay": "hemagglutination inhibition ELISA", "lab": "lab-b"},
            rng=rng,
        ),
        ["lab-b"],
    )
    return groups


# --- labsearch.toml --------------------------------------------------------------------------


def write_config(path: Path, files_dir: Path) -> Path:
    """Users alice (lab-a) and bob (lab-b); packages and files/ subdirectories mapped to groups.

    File access rules match the absolute directory path, which the file source passes as a key.
    """
    both = sorted(lab.key for lab in LABS)
    rules = [(f"{lab.key}/", [lab.key]) for lab in LABS]
    rules += [(f"{files_dir}/{lab.key}/", [lab.key]) for lab in LABS]
    rules.append((f"{files_dir}/shared/", both))
    lines = [
        "# labsearch settings for the demo lab (generated by `labsearch demo`).",
        "# Every field is documented in README.md; environment variables LABSEARCH_* win.",
        "# No catalog_url: the demo registry is on this disk, and the demo links only to what",
        "# its own API serves (downloads, previews, manifests, ELN records).",
        "",
    ]
    for user, (group, key) in USERS.items():
        lines += [
            f"[users.{user}]",
            f"groups = {json.dumps([group])}",
            f"api_keys = {json.dumps([key])}",
            "",
        ]
    for prefix, groups in rules:
        # json.dumps gives valid TOML basic strings and arrays for these values.
        lines += [
            "[[access_rules]]",
            f"prefix = {json.dumps(prefix)}",
            f"groups = {json.dumps(groups)}",
            "",
        ]
    path.write_text("\n".join(lines), encoding="utf-8")
    return path
