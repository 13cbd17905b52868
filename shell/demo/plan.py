"""Plan the demo lab as plain data: experiments, samples and sequencing runs, before any file.

Everything here is decided by one `random.Random(seed)`, so the same seed gives the same lab,
and the ground truth (shell/demo/truth.py) is read off this plan, never off an index.
Samples are resequenced on 2-4 runs (a NovaSeq run, then top-ups on another instrument): that
is what makes "which runs used sample X?" worth asking.
"""

from __future__ import annotations

import math
import random
import string
from dataclasses import dataclass, field
from datetime import date, timedelta

from shell.demo.catalog import (
    ASSAY_INSTRUMENTS,
    INJECTIONS,
    LABS,
    Instrument,
    LabProfile,
    Project,
)

START = date(2025, 5, 1)  # ~18 months of lab history up to END
END = date(2026, 11, 15)
MAX_RUNS_PER_SAMPLE = 4
FIRST_ELN = 101


@dataclass
class Sample:
    id: str  # LIV-0042
    lab: str
    project: str
    experiment_id: str
    tissue: str
    condition: str  # the treatment or the control
    timepoint: str
    subject: str  # mouse strain or donor/patient id
    sex: str
    collected: date
    runs: list[str] = field(default_factory=list)


@dataclass
class Run:
    run_id: str
    number: str  # run counter of the instrument, as in FASTQ headers (run folder: zero-padded)
    lab: str
    instrument: Instrument
    flowcell: str
    date: date
    experiment_id: str
    samples: list[str]
    project: str
    organism: str
    assay: str
    purpose: str  # "primary sequencing" or "top-up resequencing"

    @property
    def package(self) -> str:
        return f"{self.lab}/raw-run-{self.run_id}"


@dataclass
class Experiment:
    id: str  # ELN-123
    lab: LabProfile
    project: Project
    assay: str
    author: str
    created: date
    modified: date
    samples: list[str]
    runs: list[str] = field(default_factory=list)
    batch: int = 1
    injection: str | None = None  # prompt-injection text planted in the description

    @property
    def complete(self) -> bool:
        """Analysis finished (a final package exists): the last run is over a month old."""
        return self.modified + timedelta(days=30) <= END

    @property
    def processed_package(self) -> str:
        return f"{self.lab.key}/processed-{self.id}"

    @property
    def final_package(self) -> str | None:
        return f"{self.lab.key}/final-{self.id}" if self.complete else None


@dataclass
class LabPlan:
    seed: int
    experiments: dict[str, Experiment]
    samples: dict[str, Sample]
    runs: dict[str, Run]


@dataclass
class _Draft:
    """An experiment before ids are assigned (ids follow dates, so they come last)."""

    lab: LabProfile
    project: Project
    assay: str
    start: date
    n_samples: int
    run_samples: list[list[int]]  # per run: indices into the experiment's samples
    run_dates: list[date]
    run_instruments: list[Instrument]
    showcase: bool = False


def plan_lab(seed: int = 7, runs: int = 300) -> LabPlan:
    """The whole lab for `seed`, with exactly `runs` sequencing runs (at least 1)."""
    if runs < 1:
        raise ValueError(f"runs must be at least 1, got {runs}")
    rng = random.Random(seed)
    drafts = _draft_experiments(rng, runs)
    drafts.sort(key=lambda d: (d.start, d.lab.key))
    return _assign_ids(rng, seed, drafts)


def _draft_experiments(rng: random.Random, target_runs: int) -> list[_Draft]:
    drafts: list[_Draft] = []
    total = 0
    seen_labs: set[str] = set()
    while total < target_runs:
        # Alternate labs for the first two experiments so both labs exist even in tiny builds.
        lab = LABS[len(drafts)] if len(drafts) < len(LABS) else rng.choices(LABS, (0.55, 0.45))[0]
        showcase = lab.key not in seen_labs  # first experiment of a lab: a well-known sample
        seen_labs.add(lab.key)
        project = rng.choice(lab.projects)
        assay = rng.choice(project.assays)
        n_samples = _sample_count(rng, project, assay)
        n_runs = rng.choices((1, 2, 3, 4), (0.15, 0.3, 0.3, 0.25))[0]
        if showcase:
            n_runs = 3
        # Leave a run for each lab still to come, so tiny builds still have both labs.
        reserve = max(0, len(LABS) - 1 - len(drafts))
        n_runs = max(1, min(n_runs, target_runs - total - reserve))
        start = START + timedelta(days=rng.randint(0, (END - START).days - 75))
        run_samples = _run_membership(rng, n_samples, n_runs, showcase)
        run_dates = _run_dates(rng, start, n_runs)
        run_instruments = _run_instruments(rng, lab, assay, n_runs)
        drafts.append(
            _Draft(
                lab,
                project,
                assay,
                start,
                n_samples,
                run_samples,
                run_dates,
                run_instruments,
                showcase,
            )
        )
        total += n_runs
    return drafts


def _sample_count(rng: random.Random, project: Project, assay: str) -> int:
    if assay == "scRNA-seq":
        return rng.randint(3, 6)
    if project.design == "paired":
        return 2 * rng.randint(2, 4)
    if project.design == "longitudinal":
        return len(project.timepoints) * rng.randint(2, 3)
    return rng.randint(5, 9)


def _run_membership(
    rng: random.Random, n_samples: int, n_runs: int, showcase: bool
) -> list[list[int]]:
    """Run 0 sequences every sample; later runs resequence a few, at most 4 runs per sample."""
    counts = [1] * n_samples
    membership = [list(range(n_samples))]
    for _ in range(1, n_runs):
        eligible = [i for i in range(n_samples) if counts[i] < MAX_RUNS_PER_SAMPLE]
        size = min(len(eligible), rng.randint(2, max(2, math.ceil(n_samples / 2))))
        chosen = set(rng.sample(eligible, size))
        if showcase:
            chosen.add(0)  # sample 0 of a showcase experiment is on every run
        for i in chosen:
            counts[i] += 1
        membership.append(sorted(chosen))
    return membership


def _run_dates(rng: random.Random, start: date, n_runs: int) -> list[date]:
    dates = []
    current = start + timedelta(days=rng.randint(7, 21))
    for _ in range(n_runs):
        dates.append(min(current, END))
        current += timedelta(days=rng.randint(9, 45))
    return dates


def _run_instruments(
    rng: random.Random, lab: LabProfile, assay: str, n_runs: int
) -> list[Instrument]:
    allowed = [
        (inst, weight)
        for inst, weight in zip(lab.instruments, lab.primary_weights, strict=True)
        if inst.model in ASSAY_INSTRUMENTS[assay]
    ]
    if not allowed:
        raise ValueError(f"no instrument of {lab.key} can run {assay}")
    primary = rng.choices([a[0] for a in allowed], [a[1] for a in allowed])[0]
    chosen = [primary]
    for _ in range(1, n_runs):
        # Top-ups go to whichever allowed instrument has capacity: often not the primary one.
        chosen.append(rng.choice([a[0] for a in allowed]))
    return chosen


def _assign_ids(rng: random.Random, seed: int, drafts: list[_Draft]) -> LabPlan:
    experiments: dict[str, Experiment] = {}
    samples: dict[str, Sample] = {}
    pending_runs: list[tuple[_Draft, str, int]] = []
    sample_counters = {p.sample_prefix: rng.randint(1, 40) for lab in LABS for p in lab.projects}
    subject_counters = {p.subject_prefix: rng.randint(1, 20) for lab in LABS for p in lab.projects}
    eln_number = FIRST_ELN
    batches: dict[str, int] = {}
    injections = list(INJECTIONS)
    for draft in drafts:
        eln_id = f"ELN-{eln_number}"
        eln_number += rng.randint(1, 3)  # other records (protocols, orders) use numbers too
        batches[draft.project.code] = batches.get(draft.project.code, 0) + 1
        sample_ids = []
        layout = _layout(rng, draft, subject_counters)
        for condition, timepoint, subject, sex in layout:
            prefix = draft.project.sample_prefix
            sample_counters[prefix] += rng.choice((1, 1, 1, 2))
            sample_id = f"{prefix}-{sample_counters[prefix]:04d}"
            sample_ids.append(sample_id)
            samples[sample_id] = Sample(
                id=sample_id,
                lab=draft.lab.key,
                project=draft.project.code,
                experiment_id=eln_id,
                tissue=draft.project.tissue,
                condition=condition,
                timepoint=timepoint,
                subject=subject,
                sex=sex,
                collected=draft.start,
            )
        injection = None
        # Plant prompt injections in lab A only, so a lab-B user asking about them sees nothing.
        if draft.lab.key == "lab-a" and injections and not draft.showcase and len(experiments) > 2:
            injection = injections.pop(0)
        experiments[eln_id] = Experiment(
            id=eln_id,
            lab=draft.lab,
            project=draft.project,
            assay=draft.assay,
            author=rng.choice(draft.lab.people),
            created=draft.start,
            modified=max(draft.run_dates),
            samples=sample_ids,
            batch=batches[draft.project.code],
            injection=injection,
        )
        for index in range(len(draft.run_samples)):
            pending_runs.append((draft, eln_id, index))
    runs = _name_runs(rng, pending_runs, experiments)
    for run in runs.values():
        experiments[run.experiment_id].runs.append(run.run_id)
        for sample_id in run.samples:
            samples[sample_id].runs.append(run.run_id)
    return LabPlan(seed=seed, experiments=experiments, samples=samples, runs=runs)


def _layout(
    rng: random.Random, draft: _Draft, subject_counters: dict[str, int]
) -> list[tuple[str, str, str, str]]:
    """(condition, timepoint, subject, sex) per sample, following the project's design."""
    project, n = draft.project, draft.n_samples
    rows = []
    if project.design == "factorial":
        strain = rng.choice(draft.lab.strains)
        sex = rng.choice(("male", "female"))
        for i in range(n):
            condition = project.treatment if i % 2 == 0 else project.control
            timepoint = project.timepoints[(i // 2) % len(project.timepoints)]
            rows.append((condition, timepoint, strain, sex))
        return rows
    subjects: list[tuple[str, str]] = []
    per_subject = len(project.timepoints) if project.design == "longitudinal" else 2
    for _ in range(math.ceil(n / per_subject)):
        subject_counters[project.subject_prefix] += rng.randint(1, 3)
        number = subject_counters[project.subject_prefix]
        subjects.append((f"{project.subject_prefix}-{number:03d}", rng.choice(("male", "female"))))
    for i in range(n):
        subject, sex = subjects[i // per_subject]
        if project.design == "longitudinal":
            timepoint = project.timepoints[i % per_subject]
            condition = project.control if i % per_subject == 0 else project.treatment
        else:
            timepoint = rng.choice(project.timepoints)
            condition = project.treatment if i % 2 == 0 else project.control
        rows.append((condition, timepoint, subject, sex))
    return rows


def _name_runs(
    rng: random.Random,
    pending: list[tuple[_Draft, str, int]],
    experiments: dict[str, Experiment],
) -> dict[str, Run]:
    """Illumina run folder names, numbered per instrument in date order."""
    order = sorted(pending, key=lambda p: (p[0].run_dates[p[2]], p[1], p[2]))
    counters: dict[str, int] = {}
    runs: dict[str, Run] = {}
    for draft, eln_id, index in order:
        inst = draft.run_instruments[index]
        counters[inst.serial] = counters.get(inst.serial, rng.randint(150, 600)) + rng.randint(1, 4)
        number = (
            f"{counters[inst.serial]:0{inst.run_digits}d}"
            if inst.run_digits
            else str(counters[inst.serial])
        )
        flowcell = _flowcell(rng, inst.flowcell)
        run_date = draft.run_dates[index]
        position = rng.choice(inst.positions)
        run_id = f"{run_date:%y%m%d}_{inst.serial}_{number}_{position}{flowcell}"
        experiment = experiments[eln_id]
        runs[run_id] = Run(
            run_id=run_id,
            number=str(counters[inst.serial]),
            lab=draft.lab.key,
            instrument=inst,
            flowcell=flowcell,
            date=run_date,
            experiment_id=eln_id,
            samples=[experiment.samples[i] for i in draft.run_samples[index]],
            project=draft.project.code,
            organism=draft.lab.organism,
            assay=draft.assay,
            purpose="primary sequencing" if index == 0 else "top-up resequencing",
        )
    return runs


def _flowcell(rng: random.Random, shape: str) -> str:
    alphabet = {"?": string.ascii_uppercase + string.digits, "#": string.digits}
    return "".join(rng.choice(alphabet[ch]) if ch in alphabet else ch for ch in shape)
