# ruff: noqa: E501  (hand-written question sentences and subject tables)
"""Write eval/data/real_questions.jsonl: hand-written questions over real public lab metadata.

    python -m eval.real.make_questions [--data DIR] [--out eval/data/real_questions.jsonl]

The phrasings below are written by hand, several per spec type and varied in sentence structure
(scope first, subject first, terse, long and polite, passive, list / show me, negation, two
constraints). Subjects (samples, runs, files …) are picked from the raw tables, partly by hand
(resequenced samples, look-alike ids, ids that exist only for the other user) and partly by a
seeded draw. Every `expected` set comes from eval/real/truth.py, which reads the raw tables.
"""

from __future__ import annotations

import argparse
import json
import random
import string
from collections import Counter, defaultdict
from pathlib import Path

from eval.real import truth
from eval.real.extract import SOURCES

SEED = 20240611
OUT = Path(__file__).resolve().parents[1] / "data" / "real_questions.jsonl"

# How people name the instruments of the tables (the spec always keeps the table's value).
SAID = {
    "Illumina HiSeq 2000": ["HiSeq 2000", "Illumina HiSeq 2000"],
    "Illumina Genome Analyzer IIx": [
        "Genome Analyzer IIx",
        "Illumina Genome Analyzer IIx",
        "GAIIx",
    ],
    "PacBio RS II": ["PacBio RS II", "PacBio RSII"],
    "MinION": ["MinION", "Oxford Nanopore MinION"],
    "NextSeq 500": ["NextSeq 500", "Illumina NextSeq 500"],
}
LAYOUT_SAID = {"PAIRED": "paired-end", "SINGLE": "single-end"}
STRATEGY_SAID = {"RNA-Seq": "RNA-Seq", "WGS": "whole-genome (WGS)", "AMPLICON": "amplicon"}

# ------------------------------------------------------------------ hand-written phrasings
# (phrasing tag, template). Placeholders: s sample, b biosample, sp species, g genus,
# instr instrument, study, r run, e experiment, f file, layout, strategy.
T: dict[str, list[tuple[str, str]]] = {
    "runs_of_sample": [
        ("scope_first", "In BioProject {study}, which runs were made from sample {s}?"),
        ("subject_first", "Sample {s}: which runs?"),
        ("terse", "runs {s}"),
        (
            "long_polite",
            "Could you please list every sequencing run that was produced from the sample named {s}?",
        ),
        ("passive", "Which runs were generated from sample {s}?"),
        ("list", "List the runs of sample {s}."),
        ("show_me", "Show me all runs for {s}."),
        ("what_exists", "What sequencing runs exist for sample {s}?"),
        ("need", "I need the run accessions that belong to {s}."),
        ("question_last", "{s} was sequenced in which runs?"),
    ],
    "runs_of_sample/2c": [
        ("two_constraints", "Which {layout} {strategy} runs come from sample {s}?"),
        (
            "two_constraints_scope_first",
            "For sample {s}, list the {strategy} runs done on the {instr}.",
        ),
        ("two_constraints_terse", "{instr} {layout} runs of {s}"),
        ("two_constraints_passive", "Which runs of {s} were sequenced {layout} on the {instr}?"),
    ],
    "runs_of_biosample": [
        ("scope_first", "Within project {study}, which runs belong to BioSample {b}?"),
        ("subject_first", "{b}: which sequencing runs?"),
        ("terse", "runs {b}"),
        (
            "long_polite",
            "Would you kindly tell me all the runs that were sequenced from BioSample {b}?",
        ),
        ("passive", "Which runs were derived from biosample {b}?"),
        ("list", "List all runs linked to {b}."),
        ("show_me", "Show me the runs of BioSample {b}."),
        ("what_exists", "What runs does {b} have?"),
        ("imperative", "Find every run whose BioSample is {b}."),
    ],
    "runs_of_species": [
        ("scope_first", "In {study}, which runs are from {sp}?"),
        ("subject_first", "{sp}: list its sequencing runs."),
        ("terse", "{sp} runs"),
        ("long_polite", "Could you please give me every run whose organism is {sp}?"),
        ("passive", "Which runs were sequenced from {sp} material?"),
        ("list", "List the runs for the organism {sp}."),
        ("show_me", "Show me all {sp} runs."),
        ("what_exists", "What runs do we have of {sp}?"),
    ],
    "runs_of_species/genus": [
        ("genus_passive", "Which runs were made from {g} samples?"),
        ("genus_terse", "{g} runs"),
        ("genus_long_polite", "Please could you list all the runs of the genus {g}?"),
        ("genus_show_me", "Show me the {g} sequencing runs."),
    ],
    "runs_of_species/2c": [
        ("two_constraints", "Which {sp} runs were sequenced on the {instr}?"),
        ("two_constraints_list", "List {layout} {strategy} runs of {sp}."),
        ("two_constraints_scope_first", "On the {instr}, which {strategy} runs of {sp} were done?"),
    ],
    "runs_of_instrument": [
        ("scope_first", "In BioProject {study}, which runs used the {instr}?"),
        ("subject_first", "{instr}: which runs were done on it?"),
        ("terse", "runs on {instr}"),
        (
            "long_polite",
            "Could you please list every sequencing run that was performed on the {instr}?",
        ),
        ("passive", "Which runs were sequenced on the {instr}?"),
        ("list", "List all {instr} runs."),
        ("show_me", "Show me the runs from the {instr}."),
        ("what_exists", "What runs were made with the {instr}?"),
    ],
    "runs_of_instrument/2c": [
        ("two_constraints", "Which {strategy} runs of {sp} were made on the {instr}?"),
        ("two_constraints_terse", "{instr} runs {sp}"),
    ],
    "runs_of_experiment_with_constraint": [
        ("scope_first", "In experiment {e}, which runs were sequenced on the {instr}?"),
        ("subject_first", "{e}: which {layout} runs does it have?"),
        ("terse", "{e} {strategy} runs"),
        (
            "long_polite",
            "Could you please list the runs of experiment {e} that were sequenced on the {instr}?",
        ),
        ("passive", "Which runs of experiment {e} were generated with {layout} reads?"),
        ("list", "List the {instr} runs of experiment {e}."),
        ("show_me", "Show me the {strategy} runs under experiment {e}."),
        ("two_constraints", "Which {layout} runs on the {instr} belong to experiment {e}?"),
    ],
    "samples_of_run": [
        ("scope_first", "In project {study}, which sample was run {r} made from?"),
        ("subject_first", "Run {r}: which sample?"),
        ("terse", "sample of {r}"),
        (
            "long_polite",
            "Could you please tell me which biological sample was sequenced in run {r}?",
        ),
        ("passive", "From which sample was run {r} generated?"),
        ("list", "List the samples behind run {r}."),
        ("show_me", "Show me the sample for run {r}."),
        ("what_exists", "What sample does {r} come from?"),
    ],
    "samples_of_run/file": [
        ("file_scope_first", "In dataset {study}, which samples were measured in the file {f}?"),
        ("file_subject_first", "{f}: which samples does it contain?"),
        ("file_terse", "samples in {f}"),
        ("file_passive", "Which samples were acquired in data file {f}?"),
        ("file_show_me", "Show me the samples linked to {f}."),
        ("file_long_polite", "Would you please list every sample whose data ended up in {f}?"),
    ],
    "files_of_sample_in_study": [
        ("scope_first", "In study {study}, which data files belong to sample {s}?"),
        ("subject_first", "Sample {s} of {study}: which files?"),
        ("terse", "files {s} {study}"),
        (
            "long_polite",
            "Could you please list all the data files recorded for sample {s} in {study}?",
        ),
        ("passive", "Which data files were produced from sample {s} in study {study}?"),
        ("list", "List the files of {s} in {study}."),
        ("show_me", "Show me the data files for sample {s} from {study}."),
        ("what_exists", "What files does {study} have for sample {s}?"),
        ("where", "Where is the data of sample {s} in {study}? Give the file names."),
    ],
    "count/runs_of_sample": [
        ("count_passive", "How many runs were made from sample {s}?"),
        ("count_terse", "number of runs {s}"),
        ("count_subject_first", "Sample {s}: how many sequencing runs?"),
    ],
    "count/runs_of_instrument": [
        ("count_plain", "How many runs were sequenced on the {instr}?"),
        ("count_scope_first", "In {study}, how many {instr} runs are there?"),
        ("count_long_polite", "Could you count for me the runs that were done on the {instr}?"),
    ],
    "count/runs_of_species": [
        ("count_long_polite", "Could you tell me how many runs we have for {sp}?"),
        ("count_subject_first", "{sp}: how many runs?"),
    ],
    "count/runs_of_biosample": [
        ("count_passive", "How many runs were generated from BioSample {b}?"),
        ("count_terse", "run count {b}"),
    ],
    "count/files_of_sample_in_study": [
        ("count_plain", "How many data files does sample {s} have in {study}?"),
        ("count_imperative", "Count the files of sample {s} in {study}."),
        ("count_scope_first", "In {study}, how many files were recorded for {s}?"),
    ],
    "count/negated_runs_of_sample": [
        ("count_negation", "How many runs of {s} were not done on the {instr}?"),
    ],
    "negated_runs_of_sample": [
        (
            "negation_scope_first",
            "In BioProject {study}, which runs of sample {s} were not sequenced on the {instr}?",
        ),
        ("negation_subject_first", "Sample {s}: runs, but not on the {instr}."),
        ("negation_terse", "runs {s} not {instr}"),
        (
            "negation_long_polite",
            "Could you please list the runs of sample {s}, leaving out any that were sequenced on the {instr}?",
        ),
        (
            "negation_passive",
            "Which runs were generated from {s} on an instrument other than the {instr}?",
        ),
        ("negation_list", "List {s} runs excluding the {instr} ones."),
        ("negation_show_me", "Show me every run of {s} except those from the {instr}."),
        ("negation_question_last", "{s} was sequenced in which runs that were not on the {instr}?"),
    ],
    "negated_runs_of_species": [
        ("negation_passive", "Which {sp} runs were not sequenced on the {instr}?"),
        ("negation_list", "List the {sp} runs that are not {strategy}."),
        (
            "negation_scope_first",
            "Among the {sp} runs, which were done on something other than the {instr}?",
        ),
        ("negation_terse", "{sp} runs not {strategy}"),
        (
            "negation_long_polite",
            "Could you please list all runs of {sp} apart from the ones on the {instr}?",
        ),
        ("negation_show_me", "Show me {sp} runs, excluding {strategy} ones."),
        ("negation_subject_first", "{sp}: which runs did not use the {instr}?"),
        ("negation_question_last", "Runs of {sp} that are not {strategy} are which?"),
    ],
    "negated_runs_of_biosample": [
        ("negation_passive", "Which runs of BioSample {b} were not made on the {instr}?"),
        ("negation_terse", "{b} runs, not {instr}"),
        (
            "negation_scope_first",
            "In project {study}, which runs of {b} were sequenced elsewhere than on the {instr}?",
        ),
        (
            "negation_long_polite",
            "Would you kindly list the runs of biosample {b}, except the {instr} ones?",
        ),
        ("negation_subject_first", "BioSample {b}: runs that did not use the {instr}?"),
        ("negation_list", "List every run of {b} not done on the {instr}."),
        ("negation_show_me", "Show me the non-{instr} runs of BioSample {b}."),
        ("negation_question_last", "{b} has which runs off the {instr}?"),
    ],
}
T_COUNT_TYPES = [k for k in T if k.startswith("count/")]


def fields_of(template: str) -> set[str]:
    return {f for _, f, _, _ in string.Formatter().parse(template) if f}


def quote(name: str) -> str:
    """Sample names with blanks are written in quotes, as a person would."""
    return f'"{name}"' if " " in name else name


class Gen:
    def __init__(self, root: Path):
        self.root = root
        self.rng = random.Random(SEED)
        self.questions: list[dict] = []
        self.turn: dict[str, int] = defaultdict(int)
        self.rows = {u: truth.sra_rows(u, root) for u in truth.USERS}
        self.links = {u: truth.file_links(u, root) for u in truth.USERS}

    # -------------------------------------------------------------- helpers
    def said(self, instrument: str) -> str:
        """The table's instrument name or a spoken form of it, in turn."""
        forms = SAID.get(instrument, [instrument])
        k = "said:" + instrument
        self.turn[k] += 1
        return forms[self.turn[k] % len(forms)]

    def pick(self, group: str, need: set[str] | None = None) -> tuple[str, str]:
        """The next template of `group` (round robin) whose placeholders are all available."""
        temps = T[group]
        for _ in range(len(temps)):
            tag, text = temps[self.turn[group] % len(temps)]
            self.turn[group] += 1
            if need is None or fields_of(text) <= need:
                return tag, text
        raise ValueError(f"no template of {group} fits {need}")

    def add(
        self,
        qtype: str,
        source: str,
        tag: str,
        text: str,
        fill: dict,
        spec: dict,
        user: str,
        *,
        expect_empty: bool | None = None,
        extra: dict | None = None,
    ) -> dict:
        question = text.format(**fill)
        if question[0].islower() and "terse" not in tag:
            question = question[0].upper() + question[1:]
        got = sorted(truth.answer(spec, user, self.root))
        if expect_empty is True:
            assert not got, (spec, user, got)
        if expect_empty is False:
            assert got, (spec, user)
        q = {
            "kind": "entity",
            "source": source,
            "type": qtype,
            "phrasing": tag,
            "spec": spec,
            "question": question,
            "user": user,
            "expected": got,
        }
        if qtype == "count":
            q["count"] = len(got)
        if extra:
            q.update(extra)
        if any(k.startswith("sample:SAM") for k in got):
            q["aliases"] = {k: truth.sample_aliases(user, k, self.root) for k in got}
        self.questions.append(q)
        return q

    def fill_common(self, row: dict) -> dict:
        return {
            "study": row["BioProject"],
            "sp": row["ScientificName"],
            "instr": self.said(row["Model"]),
            "layout": LAYOUT_SAID[row["LibraryLayout"]],
            "strategy": STRATEGY_SAID.get(row["LibraryStrategy"], row["LibraryStrategy"]),
        }

    def rows_where(self, user: str, **kv) -> list[dict]:
        return [r for r in self.rows[user] if all(r[k] == v for k, v in kv.items())]

    @staticmethod
    def other(user: str) -> str:
        return "bob" if user == "alice" else "alice"

    # -------------------------------------------------------------- types
    def runs_of_sample(self):
        subjects = [  # (user, sample as written in the table)
            ("alice", "Mo17"),
            ("alice", "SRS2340512"),
            ("alice", "RNA-seq of B73 root"),
            ("alice", "RNA-seq of Mo17 root"),
            ("alice", "RNA-seq of B73 14 day seedling"),
            ("alice", "5238 Cingulate Run1"),
            ("alice", "5238 Cingulate Run2"),
            ("alice", "CACNA1C pool Run1"),
            ("alice", "5346 Striatum"),
            ("bob", "MMETSP1002"),
            ("bob", "MMETSP1325"),
            ("bob", "MMETSP1018"),
            ("bob", "MMETSP1019"),
            ("bob", "MMETSP0088"),
            ("bob", "MMETSP0092"),
            ("bob", "MMETSP0008_2"),
            ("bob", "MMETSP0196"),
            ("bob", "MMETSP0197"),
            ("bob", "MMETSP0922"),
            ("bob", "MMETSP0923"),
            ("bob", "SRS616865"),
            ("bob", "GSM3945667"),
            ("bob", "MMETSP0115"),
            ("bob", "MMETSP0223_2"),
        ]
        for user, s in subjects:
            row = next(r for r in self.rows[user] if s in (r["SampleName"], r["Sample"]))
            fill = {**self.fill_common(row), "s": quote(s)}
            spec = {"type": "runs_of_sample", "sample": s}
            tag, text = self.pick("runs_of_sample")
            if "{study}" in text:
                spec["study"] = row["BioProject"]
            self.add("runs_of_sample", "sra", tag, text, fill, spec, user, expect_empty=False)
        # two constraints (some true, some empty on purpose)
        two = [
            ("alice", "Mo17", {"layout": "PAIRED", "strategy": "WGS"}),
            ("alice", "Mo17", {"strategy": "WGS", "instrument": "PacBio RS II"}),
            ("alice", "Mo17", {"instrument": "Illumina HiSeq 2000", "layout": "PAIRED"}),
            ("alice", "RNA-seq of B73 bract", {"layout": "PAIRED", "strategy": "RNA-Seq"}),
            ("alice", "Mo17", {"layout": "SINGLE", "strategy": "RNA-Seq"}),
            (
                "bob",
                "MMETSP1002",
                {"strategy": "RNA-Seq", "instrument": "Illumina Genome Analyzer IIx"},
            ),
            ("bob", "MMETSP1325", {"instrument": "Illumina HiSeq 2000", "layout": "PAIRED"}),
            ("bob", "MMETSP0092", {"layout": "PAIRED", "strategy": "RNA-Seq"}),
            (
                "bob",
                "MMETSP1346",
                {"instrument": "Illumina Genome Analyzer IIx", "layout": "SINGLE"},
            ),
            (
                "bob",
                "MMETSP0196",
                {"strategy": "RNA-Seq", "instrument": "Illumina Genome Analyzer IIx"},
            ),
        ]
        for user, s, cons in two:
            row = next(r for r in self.rows[user] if s in (r["SampleName"], r["Sample"]))
            keys = set(cons)
            fill = {
                "s": quote(s),
                "layout": LAYOUT_SAID.get(cons.get("layout", ""), ""),
                "strategy": STRATEGY_SAID.get(cons.get("strategy", ""), ""),
                "instr": self.said(cons["instrument"]) if "instrument" in cons else "",
            }
            need = {"s"} | {"instr" if k == "instrument" else k for k in keys}
            tag, text = self.pick("runs_of_sample/2c", need)
            if fields_of(text) != need:  # the template must use exactly the given constraints
                tag, text = next((t, x) for t, x in T["runs_of_sample/2c"] if fields_of(x) == need)
            self.add(
                "runs_of_sample",
                "sra",
                tag,
                text,
                fill,
                {"type": "runs_of_sample", "sample": s, "constraints": cons},
                user,
            )

    def runs_of_biosample(self):
        subjects = [
            ("alice", "SAMN06169745"),
            ("alice", "SAMN07334586"),
            ("alice", "SAMN07334587"),
            ("alice", "SAMN07334591"),
            ("alice", "SAMEA5985401"),
            ("alice", "SAMEA5985402"),
            ("alice", "SAMEA5996131"),
            ("alice", "SAMEA5985419"),
            ("bob", "SAMN02740251"),
            ("bob", "SAMN02740228"),
            ("bob", "SAMN02740225"),
            ("bob", "SAMN02740226"),
            ("bob", "SAMN02740278"),
            ("bob", "SAMN02740401"),
            ("bob", "SAMN02740404"),
            ("bob", "SAMN02740489"),
            ("bob", "SAMN02740362"),
            ("bob", "SAMN02740302"),
            ("bob", "SAMN02740432"),
            ("bob", "SAMN02740433"),
            ("bob", "SAMN12306407"),
            ("bob", "SAMN02740110"),
            ("bob", "SAMN02740111"),
        ]
        for user, b in subjects:
            row = next(r for r in self.rows[user] if r["BioSample"] == b)
            tag, text = self.pick("runs_of_biosample")
            spec = {"type": "runs_of_biosample", "biosample": b}
            if "{study}" in text:
                spec["study"] = row["BioProject"]
            self.add(
                "runs_of_biosample",
                "sra",
                tag,
                text,
                {**self.fill_common(row), "b": b},
                spec,
                user,
                expect_empty=False,
            )

    def runs_of_species(self):
        species = [
            ("alice", "Zea mays"),
            ("alice", "Homo sapiens"),
            ("alice", "Zea mays"),
            ("bob", "Ditylum brightwellii"),
            ("bob", "Emiliania huxleyi"),
            ("bob", "Karenia brevis"),
            ("bob", "Chaetoceros affinis"),
            ("bob", "Oxyrrhis marina"),
            ("bob", "Arabidopsis thaliana"),
            ("bob", "Perkinsus marinus"),
            ("bob", "Alexandrium fundyense"),
            ("bob", "Chaetoceros curvisetus"),
            ("bob", "Micromonas pusilla"),
            ("bob", "Anophryoides haemophila"),
            ("bob", "Prymnesium parvum"),
            ("bob", "Akashiwo sanguinea"),
        ]
        for user, sp in species:
            row = self.rows_where(user, ScientificName=sp)[0]
            tag, text = self.pick("runs_of_species")
            spec = {"type": "runs_of_species", "species": sp}
            if "{study}" in text:
                spec["study"] = row["BioProject"]
            self.add(
                "runs_of_species",
                "sra",
                tag,
                text,
                {**self.fill_common(row), "sp": sp},
                spec,
                user,
                expect_empty=False,
            )
        # genus, where the genus names one species in the user's data (and one where it does not)
        for user, g in [
            ("alice", "Zea"),
            ("bob", "Ditylum"),
            ("bob", "Karenia"),
            ("bob", "Emiliania"),
            ("bob", "Oxyrrhis"),
            ("bob", "Arabidopsis"),
            ("bob", "Chaetoceros"),
        ]:
            tag, text = self.pick("runs_of_species/genus")
            self.add(
                "runs_of_species",
                "sra",
                tag,
                text,
                {"g": g},
                {"type": "runs_of_species", "genus": g},
                user,
                expect_empty=False,
            )
        two = [
            ("alice", "Zea mays", {"instrument": "PacBio RS II"}),
            ("alice", "Zea mays", {"layout": "PAIRED", "strategy": "RNA-Seq"}),
            ("alice", "Homo sapiens", {"instrument": "MinION", "strategy": "AMPLICON"}),
            ("bob", "Chaetoceros affinis", {"instrument": "Illumina Genome Analyzer IIx"}),
            ("bob", "Ditylum brightwellii", {"layout": "PAIRED", "strategy": "RNA-Seq"}),
            (
                "bob",
                "Arabidopsis thaliana",
                {"instrument": "Illumina HiSeq 2000", "strategy": "RNA-Seq"},
            ),
            ("bob", "Akashiwo sanguinea", {"instrument": "Illumina HiSeq 2000"}),
        ]
        for user, sp, cons in two:
            need = {"sp"} | {"instr" if k == "instrument" else k for k in cons}
            tag, text = next((t, x) for t, x in T["runs_of_species/2c"] if fields_of(x) == need)
            fill = {
                "sp": sp,
                "layout": LAYOUT_SAID.get(cons.get("layout", ""), ""),
                "strategy": STRATEGY_SAID.get(cons.get("strategy", ""), ""),
                "instr": self.said(cons["instrument"]) if "instrument" in cons else "",
            }
            self.add(
                "runs_of_species",
                "sra",
                tag,
                text,
                fill,
                {"type": "runs_of_species", "species": sp, "constraints": cons},
                user,
            )

    def runs_of_instrument(self):
        subjects = [
            ("alice", "PacBio RS II", None),
            ("alice", "MinION", None),
            ("alice", "Illumina HiSeq 2000", None),
            ("alice", "Illumina HiSeq 2000", "PRJNA358298"),
            ("alice", "MinION", "PRJEB34660"),
            ("alice", "PacBio RS II", None),
            ("alice", "Illumina HiSeq 2000", None),
            ("alice", "MinION", None),
            ("bob", "Illumina Genome Analyzer IIx", None),
            ("bob", "NextSeq 500", None),
            ("bob", "Illumina Genome Analyzer IIx", "PRJNA248394"),
            ("bob", "NextSeq 500", "PRJNA555093"),
            ("bob", "Illumina Genome Analyzer IIx", None),
            ("bob", "NextSeq 500", None),
            ("bob", "Illumina HiSeq 2000", "PRJNA555093"),
            ("bob", "Illumina Genome Analyzer IIx", None),
            ("bob", "Illumina HiSeq 2000", None),
        ]
        for user, instr, study in subjects:
            fill = {"instr": self.said(instr), "study": study or ""}
            need = {"instr", "study"} if study else {"instr"}
            tag, text = self.pick("runs_of_instrument", need)
            if study and "{study}" not in text:
                tag, text = T["runs_of_instrument"][0]
            spec = {"type": "runs_of_instrument", "instrument": instr}
            if study:
                spec["study"] = study
            self.add("runs_of_instrument", "sra", tag, text, fill, spec, user)
        for user, instr, sp, cons in [
            ("alice", "PacBio RS II", "Zea mays", {"strategy": "WGS"}),
            ("alice", "Illumina HiSeq 2000", "Zea mays", {"strategy": "RNA-Seq"}),
            ("bob", "Illumina Genome Analyzer IIx", "Ditylum brightwellii", {}),
            ("bob", "Illumina HiSeq 2000", "Florenciella", {}),
            (
                "bob",
                "Illumina Genome Analyzer IIx",
                "Chaetoceros curvisetus",
                {"strategy": "RNA-Seq"},
            ),
            ("alice", "MinION", "Homo sapiens", {}),
            ("alice", "PacBio RS II", "Zea mays", {}),
            ("bob", "NextSeq 500", "Arabidopsis thaliana", {"strategy": "RNA-Seq"}),
            ("bob", "Illumina HiSeq 2000", "Karenia brevis", {}),
            ("bob", "Illumina Genome Analyzer IIx", "Akashiwo sanguinea", {}),
        ]:
            need = {"instr", "sp"} | set(cons)
            tag, text = next((t, x) for t, x in T["runs_of_instrument/2c"] if fields_of(x) == need)
            fill = {
                "instr": self.said(instr),
                "sp": sp,
                "strategy": STRATEGY_SAID.get(cons.get("strategy", ""), ""),
            }
            self.add(
                "runs_of_instrument",
                "sra",
                tag,
                text,
                fill,
                {
                    "type": "runs_of_instrument",
                    "instrument": instr,
                    "constraints": {"species": sp, **cons},
                },
                user,
                expect_empty=False,
            )

    def runs_of_experiment_with_constraint(self):
        temps = T["runs_of_experiment_with_constraint"]
        picks = []
        for user in ("alice", "bob"):
            rows = sorted(self.rows[user], key=lambda r: r["Run"])
            picks += [(user, r) for r in self.rng.sample(rows, 15)]
        self.rng.shuffle(picks)
        for i, (user, row) in enumerate(picks):
            tag, text = temps[i % len(temps)]
            need = fields_of(text) - {"e"}
            truthful = i % 5 not in (1, 3)  # 3 of 5 ask a constraint the run meets
            cons, fill = {}, {"e": row["Experiment"]}
            for f in sorted(need):
                key, col, said = {
                    "instr": ("instrument", "Model", self.said),
                    "layout": ("layout", "LibraryLayout", LAYOUT_SAID.get),
                    "strategy": ("strategy", "LibraryStrategy", lambda v: STRATEGY_SAID.get(v, v)),
                }[f]
                value = row[col]
                if not truthful and f == sorted(need)[0]:
                    others = sorted({r[col] for r in self.rows[user]} - {value}) or sorted(
                        {r[col] for u in self.rows for r in self.rows[u]} - {value}
                    )
                    value = others[0]
                cons[key] = value
                fill[f] = said(value)
            self.add(
                "runs_of_experiment_with_constraint",
                "sra",
                tag,
                text,
                fill,
                {
                    "type": "runs_of_experiment_with_constraint",
                    "experiment": row["Experiment"],
                    "constraints": cons,
                },
                user,
                expect_empty=not truthful,
            )

    def samples_of_run(self):
        runs = [
            ("alice", "SRR5864324"),
            ("alice", "SRR5864325"),
            ("alice", "SRR5826129"),
            ("alice", "ERR3577080"),
            ("alice", "ERR3577081"),
            ("alice", "ERR3577105"),
        ]
        rows_a = sorted(self.rows["alice"], key=lambda r: r["Run"])
        runs += [("alice", r["Run"]) for r in self.rng.sample(rows_a, 4)]
        runs += [
            ("bob", "SRR1294415"),
            ("bob", "SRR1294416"),
            ("bob", "SRR1294414"),
            ("bob", "SRR1294449"),
            ("bob", "SRR1294385"),
        ]
        rows_b = sorted(self.rows["bob"], key=lambda r: r["Run"])
        runs += [("bob", r["Run"]) for r in self.rng.sample(rows_b, 5)]
        for user, run in runs:
            row = next(r for r in self.rows[user] if r["Run"] == run)
            tag, text = self.pick("samples_of_run")
            self.add(
                "samples_of_run",
                "sra",
                tag,
                text,
                {**self.fill_common(row), "r": run},
                {"type": "samples_of_run", "run": run},
                user,
                expect_empty=False,
            )
        files = [
            ("alice", "sdrf", "PXD003772", "Natalia_TMT6_1_240m_1pt5.raw"),
            ("alice", "sdrf", "PXD003772", "Natalia_TMT6_2_240min_1pt5.raw"),
            ("alice", "sdrf", "PXD004684", "N294-1.raw"),
            ("alice", "sdrf", "PXD019515", "FAIMS_2CV_OTIT_HCD_300ITMS2_Blank_2.raw"),
            ("alice", "isatab", "BII-S-3", "EVHINN101.sff"),
            ("alice", "isatab", "BII-S-3", "EWOEPZA02.sff"),
            ("alice", "isatab", "BII-S-4", "FE1E09302.sff"),
            ("bob", "sdrf", "PXD005969", "Xu_20161226_MetaproE_1_2.raw"),
            ("bob", "sdrf", "PXD008934", "Prosser_1004.raw"),
            ("bob", "sdrf", "PXD013868", "02444_BA2_P026998_S00_X01_R1.raw"),
            ("bob", "isatab", "BII-S-7", "10EU.sff"),
            ("bob", "isatab", "BII-S-6", "JGOAd1wOA1.TX_1_1"),
        ]
        for user, source, study, f in files:
            tag, text = self.pick("samples_of_run/file")
            self.add(
                "samples_of_run",
                source,
                tag,
                text,
                {"f": f, "study": study},
                {"type": "samples_of_run", "file": f},
                user,
                expect_empty=False,
            )

    def _file_subjects(self) -> list[tuple[str, str, str, str]]:
        subj = [
            ("alice", "sdrf", "PXD004684", "PXD004684-Sample-1"),
            ("alice", "sdrf", "PXD004684", "PXD004684-Sample-7"),
            ("alice", "sdrf", "PXD019515", "PXD019515-Sample 7"),
            ("alice", "sdrf", "PXD019515", "PXD019515-Sample 8"),
            ("alice", "sdrf", "PXD003772", "Sample 3"),
            ("alice", "sdrf", "PXD003772", "Sample 10"),
            ("alice", "isatab", "BII-S-3", "GSM255770"),
            ("alice", "isatab", "BII-S-3", "GSM255771"),
            ("alice", "isatab", "BII-S-3", "GSM255772"),
            ("alice", "isatab", "BII-S-3", "GSM255773"),
            ("alice", "isatab", "BII-S-4", "fluke.sample1"),
            ("bob", "sdrf", "PXD005969", "PXD005969-Method1"),
            ("bob", "sdrf", "PXD005969", "PXD005969-Method10"),
            ("bob", "sdrf", "PXD008934", "Sample 1"),
            ("bob", "sdrf", "PXD008934", "Sample 12"),
            ("bob", "sdrf", "PXD008934", "Sample 3"),
            ("bob", "sdrf", "PXD013868", "PXD013868-Sample 1"),
            ("bob", "isatab", "BII-S-7", "10EU"),
            ("bob", "isatab", "BII-S-7", "11EU"),
            ("bob", "isatab", "BII-S-6", "ro.Group-8.Subject-1.BTO:liver"),
            ("bob", "isatab", "BII-S-6", "ro.Group17.Subject-1.BTO:liver"),
        ]
        return subj

    def files_of_sample_in_study(self):
        subj = self._file_subjects()
        chosen = {(u, st, s) for u, _, st, s in subj}
        for user in truth.USERS:  # a seeded draw of further (study, sample) pairs per user
            pool = sorted(
                {(st, s) for st, s, _ in self.links[user]}
                - {(st, s) for u, st, s in chosen if u == user}
            )
            for st, s in self.rng.sample(pool, 7):
                source = "sdrf" if st.startswith("PXD") else "isatab"
                subj.append((user, source, st, s))
        for user, source, study, s in subj + subj[::3]:
            tag, text = self.pick("files_of_sample_in_study")
            self.add(
                "files_of_sample_in_study",
                source,
                tag,
                text,
                {"s": quote(s), "study": study},
                {"type": "files_of_sample_in_study", "study": study, "sample": s},
                user,
                expect_empty=False,
            )

    def counts(self):
        plans = [
            (
                "count/runs_of_sample",
                "sra",
                "alice",
                {"type": "runs_of_sample", "sample": "Mo17"},
                {"s": "Mo17"},
            ),
            (
                "count/runs_of_sample",
                "sra",
                "alice",
                {"type": "runs_of_sample", "sample": "RNA-seq of Mo17 root"},
                {"s": quote("RNA-seq of Mo17 root")},
            ),
            (
                "count/runs_of_sample",
                "sra",
                "bob",
                {"type": "runs_of_sample", "sample": "MMETSP1002"},
                {"s": "MMETSP1002"},
            ),
            (
                "count/runs_of_sample",
                "sra",
                "bob",
                {"type": "runs_of_sample", "sample": "MMETSP0196"},
                {"s": "MMETSP0196"},
            ),
            (
                "count/runs_of_sample",
                "sra",
                "bob",
                {"type": "runs_of_sample", "sample": "MMETSP0008_2"},
                {"s": "MMETSP0008_2"},
            ),
            (
                "count/runs_of_instrument",
                "sra",
                "alice",
                {"type": "runs_of_instrument", "instrument": "PacBio RS II"},
                {"instr": "PacBio RS II"},
            ),
            (
                "count/runs_of_instrument",
                "sra",
                "alice",
                {"type": "runs_of_instrument", "instrument": "MinION", "study": "PRJEB34660"},
                {"instr": "MinION", "study": "PRJEB34660"},
            ),
            (
                "count/runs_of_instrument",
                "sra",
                "alice",
                {"type": "runs_of_instrument", "instrument": "Illumina HiSeq 2000"},
                {"instr": "HiSeq 2000"},
            ),
            (
                "count/runs_of_instrument",
                "sra",
                "bob",
                {"type": "runs_of_instrument", "instrument": "Illumina HiSeq 2000"},
                {"instr": "Illumina HiSeq 2000"},
            ),
            (
                "count/runs_of_instrument",
                "sra",
                "bob",
                {
                    "type": "runs_of_instrument",
                    "instrument": "Illumina Genome Analyzer IIx",
                    "study": "PRJNA248394",
                },
                {"instr": "Genome Analyzer IIx", "study": "PRJNA248394"},
            ),
            (
                "count/runs_of_instrument",
                "sra",
                "bob",
                {"type": "runs_of_instrument", "instrument": "NextSeq 500"},
                {"instr": "NextSeq 500"},
            ),
            (
                "count/runs_of_species",
                "sra",
                "alice",
                {"type": "runs_of_species", "species": "Zea mays"},
                {"sp": "Zea mays"},
            ),
            (
                "count/runs_of_species",
                "sra",
                "alice",
                {"type": "runs_of_species", "species": "Homo sapiens"},
                {"sp": "Homo sapiens"},
            ),
            (
                "count/runs_of_species",
                "sra",
                "bob",
                {"type": "runs_of_species", "species": "Emiliania huxleyi"},
                {"sp": "Emiliania huxleyi"},
            ),
            (
                "count/runs_of_species",
                "sra",
                "bob",
                {"type": "runs_of_species", "species": "Chaetoceros affinis"},
                {"sp": "Chaetoceros affinis"},
            ),
            (
                "count/runs_of_species",
                "sra",
                "bob",
                {"type": "runs_of_species", "species": "Micromonas"},
                {"sp": "Micromonas"},
            ),
            (
                "count/runs_of_biosample",
                "sra",
                "alice",
                {"type": "runs_of_biosample", "biosample": "SAMN06169745"},
                {"b": "SAMN06169745"},
            ),
            (
                "count/runs_of_biosample",
                "sra",
                "alice",
                {"type": "runs_of_biosample", "biosample": "SAMN07334590"},
                {"b": "SAMN07334590"},
            ),
            (
                "count/runs_of_biosample",
                "sra",
                "bob",
                {"type": "runs_of_biosample", "biosample": "SAMN02740228"},
                {"b": "SAMN02740228"},
            ),
            (
                "count/runs_of_biosample",
                "sra",
                "bob",
                {"type": "runs_of_biosample", "biosample": "SAMN02740404"},
                {"b": "SAMN02740404"},
            ),
            (
                "count/files_of_sample_in_study",
                "isatab",
                "alice",
                {"type": "files_of_sample_in_study", "study": "BII-S-3", "sample": "GSM255770"},
                {"s": "GSM255770", "study": "BII-S-3"},
            ),
            (
                "count/files_of_sample_in_study",
                "sdrf",
                "alice",
                {
                    "type": "files_of_sample_in_study",
                    "study": "PXD019515",
                    "sample": "PXD019515-Sample 8",
                },
                {"s": quote("PXD019515-Sample 8"), "study": "PXD019515"},
            ),
            (
                "count/files_of_sample_in_study",
                "sdrf",
                "alice",
                {"type": "files_of_sample_in_study", "study": "PXD003772", "sample": "Sample 5"},
                {"s": quote("Sample 5"), "study": "PXD003772"},
            ),
            (
                "count/files_of_sample_in_study",
                "sdrf",
                "bob",
                {
                    "type": "files_of_sample_in_study",
                    "study": "PXD013868",
                    "sample": "PXD013868-Sample 1",
                },
                {"s": quote("PXD013868-Sample 1"), "study": "PXD013868"},
            ),
            (
                "count/files_of_sample_in_study",
                "sdrf",
                "bob",
                {
                    "type": "files_of_sample_in_study",
                    "study": "PXD005969",
                    "sample": "PXD005969-Method3",
                },
                {"s": "PXD005969-Method3", "study": "PXD005969"},
            ),
            (
                "count/files_of_sample_in_study",
                "isatab",
                "bob",
                {
                    "type": "files_of_sample_in_study",
                    "study": "BII-S-6",
                    "sample": "ro.Group-8.Subject-2.BTO:liver",
                },
                {"s": "ro.Group-8.Subject-2.BTO:liver", "study": "BII-S-6"},
            ),
            (
                "count/negated_runs_of_sample",
                "sra",
                "alice",
                {
                    "type": "negated_runs_of_sample",
                    "sample": "Mo17",
                    "exclude": {"instrument": "PacBio RS II"},
                },
                {"s": "Mo17", "instr": "PacBio RS II"},
            ),
            (
                "count/negated_runs_of_sample",
                "sra",
                "bob",
                {
                    "type": "negated_runs_of_sample",
                    "sample": "MMETSP0092",
                    "exclude": {"instrument": "Illumina HiSeq 2000"},
                },
                {"s": "MMETSP0092", "instr": "HiSeq 2000"},
            ),
            (
                "count/negated_runs_of_sample",
                "sra",
                "bob",
                {
                    "type": "negated_runs_of_sample",
                    "sample": "MMETSP0197",
                    "exclude": {"instrument": "Illumina Genome Analyzer IIx"},
                },
                {"s": "MMETSP0197", "instr": "GAIIx"},
            ),
        ]
        for group, source, user, inner, fill in plans:
            tag, text = self.pick(group, set(fill))
            self.add(
                "count",
                source,
                tag,
                text,
                fill,
                {"type": "count", "of": inner},
                user,
                expect_empty=False if inner["type"] != "negated_runs_of_sample" else None,
            )

    def negated(self):
        samples = [
            ("alice", "Mo17", "PacBio RS II"),
            ("alice", "Mo17", "Illumina HiSeq 2000"),
            ("alice", "SRS2340512", "PacBio RS II"),
            ("alice", "RNA-seq of B73 root", "Illumina HiSeq 2000"),
            ("bob", "MMETSP1002", "Illumina HiSeq 2000"),
            ("bob", "MMETSP1325", "Illumina Genome Analyzer IIx"),
            ("bob", "MMETSP1018", "Illumina HiSeq 2000"),
            ("bob", "MMETSP0088", "Illumina Genome Analyzer IIx"),
            ("bob", "MMETSP0717", "Illumina HiSeq 2000"),
            ("bob", "MMETSP0223_2", "Illumina HiSeq 2000"),
            ("bob", "MMETSP0115", "Illumina Genome Analyzer IIx"),
            ("bob", "MMETSP0196", "Illumina Genome Analyzer IIx"),
            ("bob", "MMETSP0693", "Illumina HiSeq 2000"),
            ("bob", "MMETSP1019", "Illumina Genome Analyzer IIx"),
            ("bob", "MMETSP1346", "Illumina HiSeq 2000"),
            ("bob", "MMETSP0092", "Illumina Genome Analyzer IIx"),
        ]
        for user, s, instr in samples:
            row = next(r for r in self.rows[user] if s in (r["SampleName"], r["Sample"]))
            tag, text = self.pick("negated_runs_of_sample")
            spec = {"type": "negated_runs_of_sample", "sample": s, "exclude": {"instrument": instr}}
            if "{study}" in text:
                spec["study"] = row["BioProject"]
            self.add(
                "negated_runs_of_sample",
                "sra",
                tag,
                text,
                {"s": quote(s), "instr": self.said(instr), "study": row["BioProject"]},
                spec,
                user,
            )
        for user, sp, exc in [
            ("alice", "Zea mays", {"instrument": "PacBio RS II"}),
            ("alice", "Zea mays", {"strategy": "WGS"}),
            ("bob", "Chaetoceros affinis", {"instrument": "Illumina Genome Analyzer IIx"}),
            ("bob", "Ditylum brightwellii", {"instrument": "Illumina HiSeq 2000"}),
            ("bob", "Anophryoides haemophila", {"instrument": "Illumina Genome Analyzer IIx"}),
            ("bob", "Arabidopsis thaliana", {"strategy": "RNA-Seq"}),
            ("alice", "Homo sapiens", {"strategy": "AMPLICON"}),
            ("bob", "Florenciella", {"instrument": "Illumina HiSeq 2000"}),
            ("alice", "Zea mays", {"strategy": "RNA-Seq"}),
            ("bob", "Karenia brevis", {"instrument": "Illumina HiSeq 2000"}),
            ("alice", "Homo sapiens", {"strategy": "RNA-Seq"}),
            ("bob", "Emiliania huxleyi", {"instrument": "Illumina HiSeq 2000"}),
        ]:
            key = "instr" if "instrument" in exc else "strategy"
            tag, text = self.pick("negated_runs_of_species", {"sp", key})
            fill = {
                "sp": sp,
                "instr": self.said(exc.get("instrument", "")) if "instrument" in exc else "",
                "strategy": STRATEGY_SAID.get(exc.get("strategy", ""), exc.get("strategy", "")),
            }
            self.add(
                "negated_runs_of_species",
                "sra",
                tag,
                text,
                fill,
                {"type": "negated_runs_of_species", "species": sp, "exclude": exc},
                user,
            )
        for user, b, instr in [
            ("alice", "SAMN06169745", "PacBio RS II"),
            ("bob", "SAMN02740251", "Illumina Genome Analyzer IIx"),
            ("bob", "SAMN02740342", "Illumina Genome Analyzer IIx"),
            ("bob", "SAMN02740228", "Illumina HiSeq 2000"),
            ("alice", "SAMN06169745", "Illumina HiSeq 2000"),
            ("bob", "SAMN02740225", "Illumina HiSeq 2000"),
            ("bob", "SAMN02740401", "Illumina Genome Analyzer IIx"),
            ("alice", "SAMN07334588", "PacBio RS II"),
            ("bob", "SAMN02740489", "Illumina HiSeq 2000"),
        ]:
            row = next(r for r in self.rows[user] if r["BioSample"] == b)
            tag, text = self.pick("negated_runs_of_biosample")
            spec = {
                "type": "negated_runs_of_biosample",
                "biosample": b,
                "exclude": {"instrument": instr},
            }
            if "{study}" in text:
                spec["study"] = row["BioProject"]
            fill = {"b": b, "instr": self.said(instr), "study": row["BioProject"]}
            self.add("negated_runs_of_biosample", "sra", tag, text, fill, spec, user)

    def other_user_id(self):
        """Ids that exist only in the other user's data: expected [] for the asker."""
        plans = [  # (owner, template group, source, inner spec, fill)
            (
                "bob",
                "runs_of_sample",
                "sra",
                {"type": "runs_of_sample", "sample": "MMETSP1002"},
                {"s": "MMETSP1002"},
            ),
            (
                "bob",
                "runs_of_sample",
                "sra",
                {"type": "runs_of_sample", "sample": "MMETSP1325"},
                {"s": "MMETSP1325"},
            ),
            (
                "bob",
                "runs_of_sample",
                "sra",
                {"type": "runs_of_sample", "sample": "GSM3945669"},
                {"s": "GSM3945669"},
            ),
            (
                "alice",
                "runs_of_sample",
                "sra",
                {"type": "runs_of_sample", "sample": "Mo17"},
                {"s": "Mo17"},
            ),
            (
                "alice",
                "runs_of_sample",
                "sra",
                {"type": "runs_of_sample", "sample": "5298 Striatum"},
                {"s": quote("5298 Striatum")},
            ),
            (
                "alice",
                "runs_of_sample",
                "sra",
                {"type": "runs_of_sample", "sample": "RNA-seq of Mo17 bract"},
                {"s": quote("RNA-seq of Mo17 bract")},
            ),
            (
                "bob",
                "runs_of_biosample",
                "sra",
                {"type": "runs_of_biosample", "biosample": "SAMN02740251"},
                {"b": "SAMN02740251"},
            ),
            (
                "bob",
                "runs_of_biosample",
                "sra",
                {"type": "runs_of_biosample", "biosample": "SAMN12306450"},
                {"b": "SAMN12306450"},
            ),
            (
                "alice",
                "runs_of_biosample",
                "sra",
                {"type": "runs_of_biosample", "biosample": "SAMN06169745"},
                {"b": "SAMN06169745"},
            ),
            (
                "alice",
                "runs_of_biosample",
                "sra",
                {"type": "runs_of_biosample", "biosample": "SAMEA5985410"},
                {"b": "SAMEA5985410"},
            ),
            (
                "alice",
                "runs_of_species",
                "sra",
                {"type": "runs_of_species", "species": "Zea mays"},
                {"sp": "Zea mays"},
            ),
            (
                "bob",
                "runs_of_species",
                "sra",
                {"type": "runs_of_species", "species": "Ditylum brightwellii"},
                {"sp": "Ditylum brightwellii"},
            ),
            (
                "bob",
                "runs_of_species",
                "sra",
                {"type": "runs_of_species", "species": "Arabidopsis thaliana"},
                {"sp": "Arabidopsis thaliana"},
            ),
            (
                "alice",
                "runs_of_instrument",
                "sra",
                {"type": "runs_of_instrument", "instrument": "PacBio RS II"},
                {"instr": "PacBio RS II"},
            ),
            (
                "alice",
                "runs_of_instrument",
                "sra",
                {"type": "runs_of_instrument", "instrument": "MinION"},
                {"instr": "MinION"},
            ),
            (
                "bob",
                "runs_of_instrument",
                "sra",
                {"type": "runs_of_instrument", "instrument": "Illumina Genome Analyzer IIx"},
                {"instr": "Genome Analyzer IIx"},
            ),
            (
                "bob",
                "runs_of_instrument",
                "sra",
                {"type": "runs_of_instrument", "instrument": "NextSeq 500"},
                {"instr": "NextSeq 500"},
            ),
            (
                "alice",
                "samples_of_run",
                "sra",
                {"type": "samples_of_run", "run": "SRR5864330"},
                {"r": "SRR5864330"},
            ),
            (
                "alice",
                "samples_of_run",
                "sra",
                {"type": "samples_of_run", "run": "ERR3577090"},
                {"r": "ERR3577090"},
            ),
            (
                "bob",
                "samples_of_run",
                "sra",
                {"type": "samples_of_run", "run": "SRR1294430"},
                {"r": "SRR1294430"},
            ),
            (
                "bob",
                "samples_of_run",
                "sra",
                {"type": "samples_of_run", "run": "SRR1300455"},
                {"r": "SRR1300455"},
            ),
            (
                "bob",
                "samples_of_run/file",
                "sdrf",
                {"type": "samples_of_run", "file": "Prosser_1085.raw"},
                {"f": "Prosser_1085.raw", "study": "PXD008934"},
            ),
            (
                "alice",
                "samples_of_run/file",
                "sdrf",
                {"type": "samples_of_run", "file": "N295-1.raw"},
                {"f": "N295-1.raw", "study": "PXD004684"},
            ),
            (
                "alice",
                "samples_of_run/file",
                "isatab",
                {"type": "samples_of_run", "file": "EVHINN105.sff"},
                {"f": "EVHINN105.sff", "study": "BII-S-3"},
            ),
            (
                "bob",
                "samples_of_run/file",
                "isatab",
                {"type": "samples_of_run", "file": "12EU.sff"},
                {"f": "12EU.sff", "study": "BII-S-7"},
            ),
            # look-alike names: "Sample 1" exists for both users, but in different datasets
            (
                "bob",
                "files_of_sample_in_study",
                "sdrf",
                {"type": "files_of_sample_in_study", "study": "PXD008934", "sample": "Sample 1"},
                {"s": quote("Sample 1"), "study": "PXD008934"},
            ),
            (
                "bob",
                "files_of_sample_in_study",
                "sdrf",
                {"type": "files_of_sample_in_study", "study": "PXD008934", "sample": "Sample 4"},
                {"s": quote("Sample 4"), "study": "PXD008934"},
            ),
            (
                "alice",
                "files_of_sample_in_study",
                "sdrf",
                {"type": "files_of_sample_in_study", "study": "PXD003772", "sample": "Sample 1"},
                {"s": quote("Sample 1"), "study": "PXD003772"},
            ),
            (
                "alice",
                "files_of_sample_in_study",
                "sdrf",
                {
                    "type": "files_of_sample_in_study",
                    "study": "PXD004684",
                    "sample": "PXD004684-Sample-2",
                },
                {"s": "PXD004684-Sample-2", "study": "PXD004684"},
            ),
            (
                "bob",
                "files_of_sample_in_study",
                "isatab",
                {"type": "files_of_sample_in_study", "study": "BII-S-7", "sample": "10EU"},
                {"s": "10EU", "study": "BII-S-7"},
            ),
            (
                "bob",
                "files_of_sample_in_study",
                "sdrf",
                {
                    "type": "files_of_sample_in_study",
                    "study": "PXD005969",
                    "sample": "PXD005969-Method2",
                },
                {"s": "PXD005969-Method2", "study": "PXD005969"},
            ),
            (
                "alice",
                "files_of_sample_in_study",
                "isatab",
                {"type": "files_of_sample_in_study", "study": "BII-S-3", "sample": "GSM255772"},
                {"s": "GSM255772", "study": "BII-S-3"},
            ),
            (
                "alice",
                "files_of_sample_in_study",
                "isatab",
                {"type": "files_of_sample_in_study", "study": "BII-S-4", "sample": "fluke.sample1"},
                {"s": "fluke.sample1", "study": "BII-S-4"},
            ),
            (
                "bob",
                "negated_runs_of_sample",
                "sra",
                {
                    "type": "negated_runs_of_sample",
                    "sample": "MMETSP1018",
                    "exclude": {"instrument": "Illumina HiSeq 2000"},
                },
                {"s": "MMETSP1018", "instr": "HiSeq 2000", "study": "PRJNA248394"},
            ),
            (
                "alice",
                "count/runs_of_sample",
                "sra",
                {"type": "runs_of_sample", "sample": "Mo17"},
                {"s": "Mo17"},
            ),
            (
                "bob",
                "count/runs_of_biosample",
                "sra",
                {"type": "runs_of_biosample", "biosample": "SAMN02740225"},
                {"b": "SAMN02740225"},
            ),
        ]
        for owner, group, source, inner, fill in plans:
            asker = self.other(owner)
            fill = {"study": "", **fill}
            tag, text = self.pick(group, set(fill))
            if "{study}" in text:
                inner = (
                    {**inner, "study": fill["study"]}
                    if inner["type"] != "files_of_sample_in_study"
                    else inner
                )
                if not fill["study"]:
                    tag, text = self.pick(group, set(fill) - {"study"})
                    inner = {k: v for k, v in inner.items() if k != "study"}
            if (
                "study" in inner
                and inner["type"] != "files_of_sample_in_study"
                and not inner["study"]
            ):
                inner.pop("study")
            theirs = sorted(truth.answer(inner, owner, self.root))
            assert theirs, (owner, inner)
            q = self.add(
                "other_user_id",
                source,
                f"other_user/{tag}",
                text,
                fill,
                {"type": "other_user_id", "ask": inner, "owner": owner},
                asker,
                expect_empty=True,
                extra={"other_user": owner, "other_user_expected": theirs},
            )
            if group.startswith("count/"):
                q["count"] = 0

    def build(self) -> list[dict]:
        self.runs_of_sample()
        self.runs_of_biosample()
        self.runs_of_species()
        self.runs_of_instrument()
        self.runs_of_experiment_with_constraint()
        self.samples_of_run()
        self.files_of_sample_in_study()
        self.counts()
        self.negated()
        self.other_user_id()
        for i, q in enumerate(self.questions, 1):
            q["id"] = f"real-{i:03d}"
        return self.questions


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description="write the real-data question set")
    ap.add_argument("--data", type=Path, default=None)
    ap.add_argument("--out", type=Path, default=OUT)
    args = ap.parse_args(argv)
    root = truth.data_dir(args.data)
    qs = Gen(root).build()
    meta = {
        "kind": "meta",
        "data": "realdata",
        "generator": "hand-written by helper",
        "script": "eval/real/make_questions.py",
        "truth": "eval/real/truth.py",
        "sources": [
            {"repo": s["repo"], "commit": s["commit"], "path": s["path"], "file": s["dest"]}
            for s in SOURCES
        ],
        "users": truth.USERS,
        "counts": {
            "questions": len(qs),
            "by_type": dict(Counter(q["type"] for q in qs)),
            "by_source": dict(Counter(q["source"] for q in qs)),
        },
    }
    order = [
        "id",
        "kind",
        "source",
        "type",
        "phrasing",
        "spec",
        "question",
        "user",
        "expected",
        "count",
        "aliases",
        "other_user",
        "other_user_expected",
    ]
    with args.out.open("w", encoding="utf-8") as fh:
        fh.write(json.dumps(meta) + "\n")
        for q in qs:
            fh.write(json.dumps({k: q[k] for k in order if k in q}) + "\n")
    print(f"{len(qs)} questions -> {args.out}")
    print(meta["counts"])


if __name__ == "__main__":
    main()
