"""Generate the labeled question set of `labsearch eval lab` from a demo lab's truth.json.

Run once, review the output, commit it:

    python -m eval.make_lab_questions            # builds the default demo lab in a temp dir
    python -m eval.make_lab_questions --truth lab/truth.json --out eval/data/lab_questions.jsonl

Subjects are drawn with a fixed seed, so the same truth gives the same questions. Expected answers
are keys of the truth, independent of where the demo lab is built (see `eval/lab.py: asset_key`):
`run:<run id>`, `package:<package name>`, `entry:<package name>:<logical key>`, `eln:<record id>`,
`file:<path under files/>`.

Question kinds:
- entity: list/count questions; the answer's members are compared with `expected` as exact sets
  (precision/recall/F1), and count questions also check `count`.
- descriptive: free-text questions; the top 10 hits are scored against `relevant` (key -> grade)
  by recall@10 and nDCG@10.
- permission: asked as a user of the other lab; every hit, member and citation is checked against
  the owners in truth.json (`leaks` must be 0).
"""

from __future__ import annotations

import argparse
import json
import random
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

QUESTION_SEED = 11
DEMO_SEED = 7
DEMO_RUNS = 60  # a 60-run demo lab: big enough for resequenced samples on every instrument,
# small enough to build and index in minutes (`labsearch demo` builds 300)

RUNS_FOR_SAMPLE = (
    ("which_runs_used", "which runs used sample {s}?"),
    ("runs_that_used", "runs that used {s}"),
    ("sequenced_in_which", "{s} was sequenced in which runs?"),
    ("list_sequencing_runs", "list the sequencing runs for sample {s}"),
)
RUN_COUNT = (
    ("how_many_runs_on", "how many runs on the {i}?"),
    ("number_of_runs_on", "number of sequencing runs on the {i}"),
)
FILES_FOR_EXPERIMENT = (
    ("which_files_came_from", "which files came from experiment {e}?"),
    ("list_files_of", "list the data files of {e}"),
)
DATA_FOR_EXPERIMENT = (
    ("where_processed", "where is the processed data for {e}?", "processed"),
    ("where_raw", "where is the raw data for {e}?", "raw"),
    ("where_final", "where are the final data packages for {e}?", "final"),
)
# Descriptive questions: text, then the (project, assay) pairs whose experiments answer them.
DESCRIPTIVE_EXPERIMENTS = (
    ("RNA-seq of mouse liver under dexamethasone", [("GR-LIVER", "RNA-seq")]),
    (
        "chromatin accessibility at glucocorticoid receptor sites in liver",
        [("GR-LIVER", "ATAC-seq")],
    ),
    ("high-fat diet steatotic liver fibrosis expression", [("MASLD-DIET", "RNA-seq")]),
    (
        "single-cell RNA-seq of hippocampus with rapamycin in ageing mice",
        [("AGING-BRAIN", "scRNA-seq")],
    ),
    ("influenza vaccine response single-cell PBMC", [("FLU-VAX", "scRNA-seq")]),
    (
        "tumour versus matched normal whole genome sequencing colorectal cancer",
        [("CRC-WGS", "WGS")],
    ),
    ("T-cell receptor repertoire clonotypes after vaccination", [("TCR-REP", "amplicon-seq")]),
)
DESCRIPTIVE_FILES = (
    (
        "how do I extract total RNA from tissue?",
        "shared/protocols/SOP-001_total-RNA-extraction.pdf",
    ),
    (
        "stranded mRNA library preparation protocol",
        "shared/protocols/SOP-002_stranded-mRNA-library-prep.md",
    ),
    ("Omni-ATAC transposition of frozen liver nuclei", "shared/protocols/SOP-003_ATAC-seq-Omni.md"),
    (
        "10x Chromium single-cell 3' gene expression protocol",
        "shared/protocols/SOP-004_10x-Chromium-3prime.pdf",
    ),
    (
        "hemagglutination inhibition titres from the plate reader",
        "lab-b/plate-reader/HAI_titres_ELISA.h5",
    ),
)


def _user_of(truth: dict[str, Any], group: str) -> str:
    return next(name for name, user in truth["users"].items() if group in user["groups"])


def _other_user(truth: dict[str, Any], group: str) -> str:
    return next(name for name, user in truth["users"].items() if group not in user["groups"])


def _pick(rng: random.Random, items: Iterable[str], n: int) -> list[str]:
    pool = sorted(items)
    return sorted(rng.sample(pool, min(n, len(pool))))


def make_questions(truth: dict[str, Any], seed: int = QUESTION_SEED) -> list[dict[str, Any]]:
    """The question set for one demo lab, deterministic in (truth, seed)."""
    rng = random.Random(seed)
    runs, samples, experiments = truth["runs"], truth["samples"], truth["experiments"]
    well_known = truth["well_known"]
    questions: list[dict[str, Any]] = []

    def add(kind: str, template: str, text: str, user: str, **fields: Any) -> None:
        number = sum(1 for q in questions if q["kind"] == kind) + 1
        questions.append(
            {"id": f"{kind}-{number:03d}", "kind": kind, "template": template, "question": text}
            | {"user": user}
            | fields
        )

    # Entity: runs of a sample, every phrasing, for the well-known samples and a few more that
    # were sequenced more than once (a single-run sample cannot tell a list from a top-1 hit).
    resequenced = [s for s, info in samples.items() if len(info["runs"]) > 1]
    chosen = [well_known["example_sample"], well_known["example_sample_b"]]
    chosen += _pick(rng, (s for s in resequenced if s not in chosen), 4)
    for sample in chosen:
        owner = _user_of(truth, samples[sample]["group"])
        expected = sorted(f"run:{r}" for r in samples[sample]["runs"])
        for template, pattern in RUNS_FOR_SAMPLE:
            add(
                "entity",
                f"runs_for_sample/{template}",
                pattern.format(s=sample),
                owner,
                expected=expected,
            )

    # Entity: run counts per instrument, as a user of the lab that owns the instrument.
    for instrument, run_ids in sorted(truth["instruments"].items()):
        groups = sorted({runs[r]["group"] for r in run_ids})
        for group in groups:
            user = _user_of(truth, group)
            visible = sorted(f"run:{r}" for r in run_ids if runs[r]["group"] == group)
            for template, pattern in RUN_COUNT:
                add(
                    "entity",
                    f"runs_on_instrument/{template}",
                    pattern.format(i=instrument),
                    user,
                    expected=visible,
                    count=len(visible),
                )

    # Entity: files and data packages of an experiment (one complete per lab, plus random ones).
    complete = [e for e, info in experiments.items() if info["status"] == "complete"]
    chosen_experiments = [well_known["example_experiment"]]
    first_group = experiments[chosen_experiments[0]]["group"]
    chosen_experiments.append(next(e for e in complete if experiments[e]["group"] != first_group))
    chosen_experiments += _pick(rng, (e for e in experiments if e not in chosen_experiments), 2)
    for experiment in chosen_experiments:
        info = experiments[experiment]
        owner = _user_of(truth, info["group"])
        files = sorted(
            f"entry:{package}:{key}" for package, keys in info["files"].items() for key in keys
        )
        for template, pattern in FILES_FOR_EXPERIMENT:
            add(
                "entity",
                f"files_for_experiment/{template}",
                pattern.format(e=experiment),
                owner,
                expected=files,
            )
        for template, pattern, level in DATA_FOR_EXPERIMENT:
            packages = sorted(f"package:{p}" for p in info["packages"][level])
            add(
                "entity",
                f"data_for_experiment/{template}",
                pattern.format(e=experiment),
                owner,
                expected=packages,
            )

    # Descriptive: the matching experiments' ELN records (grade 2), and their sample records,
    # data packages and package files (grade 1): all of them answer the question.
    for text, pairs in DESCRIPTIVE_EXPERIMENTS:
        matching = [e for e, i in experiments.items() if (i["project"], i["assay"]) in pairs]
        if not matching:
            continue  # a small demo lab may not have this kind of experiment
        group = experiments[matching[0]]["group"]
        relevant: dict[str, int] = {}
        for experiment in matching:
            info = experiments[experiment]
            relevant[f"eln:{experiment}"] = 2
            relevant.update({f"eln:{sample}": 1 for sample in info["samples"]})
            for names in info["packages"].values():
                relevant.update({f"package:{name}": 1 for name in names})
            for package, keys in info["files"].items():
                relevant.update({f"entry:{package}:{key}": 1 for key in keys})
        add("descriptive", "experiments", text, _user_of(truth, group), relevant=relevant)
    for text, path in DESCRIPTIVE_FILES:
        if path not in truth["files"]:
            continue
        user = _user_of(truth, sorted(truth["files"][path]["groups"])[-1])
        add("descriptive", "files", text, user, relevant={f"file:{path}": 1})

    # Permission: the other lab's user asks about a lab's well-known things.
    sample_a, sample_b = well_known["example_sample"], well_known["example_sample_b"]
    experiment_a = well_known["example_experiment"]
    group_a, group_b = samples[sample_a]["group"], samples[sample_b]["group"]
    outsider_a, outsider_b = _other_user(truth, group_a), _other_user(truth, group_b)
    lab_a_instruments = truth["labs"][group_a]["instruments"]
    probes = [
        (f"which runs used sample {sample_a}?", outsider_a),
        (f"{sample_a} was sequenced in which runs?", outsider_a),
        (f"which files came from experiment {experiment_a}?", outsider_a),
        (f"where is the processed data for {experiment_a}?", outsider_a),
        (f"how many runs on the {lab_a_instruments[-1]}?", outsider_a),
        (well_known["example_run"], outsider_a),
        ("dexamethasone liver RNA-seq", outsider_a),
        ("hippocampus rapamycin single-cell", outsider_a),
        (f"which runs used sample {sample_b}?", outsider_b),
        ("colorectal tumour whole genome sequencing", outsider_b),
        ("influenza vaccine plasmablast response", outsider_b),
    ]
    for text, user in probes:
        add("permission", "other_lab", text, user)
    return questions


def write_questions(path: Path, truth: dict[str, Any], questions: list[dict[str, Any]]) -> None:
    """JSON Lines: a header line with the demo lab's parameters, then one question a line."""
    header = {
        "kind": "meta",
        "demo_seed": truth["seed"],
        "demo_runs": truth["runs_requested"],
        "question_seed": QUESTION_SEED,
        "generator": "eval/make_lab_questions.py",
        "counts": truth["counts"],
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as out:
        for record in [header, *questions]:
            out.write(json.dumps(record, ensure_ascii=False) + "\n")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--truth", type=Path, help="truth.json of a demo lab (default: build one)")
    parser.add_argument("--seed", type=int, default=DEMO_SEED, help="demo lab seed")
    parser.add_argument("--runs", type=int, default=DEMO_RUNS, help="demo lab size")
    parser.add_argument(
        "--out", type=Path, default=Path(__file__).parent / "data" / "lab_questions.jsonl"
    )
    args = parser.parse_args(argv)
    if args.truth:
        truth = json.loads(args.truth.read_text(encoding="utf-8"))
    else:
        from shell.demo.lab import build_demo_lab
        from shell.demo.truth import load_truth

        with tempfile.TemporaryDirectory() as tmp:
            lab = build_demo_lab(Path(tmp) / "lab", seed=args.seed, runs=args.runs)
            truth = load_truth(lab.truth)
    questions = make_questions(truth)
    write_questions(args.out, truth, questions)
    print(f"wrote {len(questions)} questions to {args.out}")


if __name__ == "__main__":
    main()
