# ruff: noqa: E501  (hand-written question sentences and subject tables read best on one line)
"""Held-out real-data questions, hand-written, with answers computed only by eval/real/truth.py.

Each entry below is (phrasing tag, user, source, spec, question). The expected sets, counts,
sample aliases and other-user answers come from truth.answer / truth.count / truth.owners /
truth.sample_aliases; nothing here is typed in by hand except the sentences and the specs.

    LABSEARCH_REALDATA=DIR .venv/bin/python -m eval.real.make_heldout

writes eval/data/real_questions_heldout.jsonl.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

from eval.real import truth

OUT = Path(__file__).resolve().parents[1] / "data" / "real_questions_heldout.jsonl"
META = {
    "kind": "meta",
    "data": "realdata",
    "generator": "held-out, hand-written",
    "script": "eval/real/make_heldout.py",
}

HISEQ = "Illumina HiSeq 2000"
GAIIX = "Illumina Genome Analyzer IIx"
PACBIO = "PacBio RS II"
MINION = "MinION"
NEXTSEQ = "NextSeq 500"


def rs(sample, **kw):
    return {"type": "runs_of_sample", "sample": sample, **kw}


def rb(biosample, **kw):
    return {"type": "runs_of_biosample", "biosample": biosample, **kw}


def rsp(species=None, genus=None, **kw):
    spec = {"type": "runs_of_species"}
    if species:
        spec["species"] = species
    if genus:
        spec["genus"] = genus
    return {**spec, **kw}


def ri(instrument, **kw):
    return {"type": "runs_of_instrument", "instrument": instrument, **kw}


def rx(experiment, **constraints):
    return {
        "type": "runs_of_experiment_with_constraint",
        "experiment": experiment,
        "constraints": constraints,
    }


def sr(run):
    return {"type": "samples_of_run", "run": run}


def sf(name, study=None):
    spec = {"type": "samples_of_run", "file": name}
    if study:
        spec["study"] = study
    return spec


def fs(study, sample):
    return {"type": "files_of_sample_in_study", "study": study, "sample": sample}


def cnt(spec):
    return {"type": "count", "of": spec}


def neg(spec, **exclude):
    return {**spec, "type": "negated_" + spec["type"], "exclude": exclude}


def other(spec, owner):
    return {"type": "other_user_id", "ask": spec, "owner": owner}


# Answers that are legitimately empty for the asking user (besides other_user_id questions).
EMPTY_OK = "empty-ok"

A, B = "alice", "bob"

QUESTIONS: list[tuple] = [
    # ------------------------------------------------------------ runs_of_sample
    ("command", A, "sra", rs("Mo17"), "list all runs of the sample called Mo17"),
    (
        "question-quoted",
        A,
        "sra",
        rs("RNA-seq of B73 root"),
        "which SRR accessions belong to 'RNA-seq of B73 root'?",
    ),
    (
        "fragment",
        A,
        "sra",
        rs("RNA-seq of Mo17 stem harvested in silking stage"),
        "runs for RNA-seq of Mo17 stem harvested in silking stage",
    ),
    ("id-first", A, "sra", rs("SRS2343078"), "SRS2343078 - what runs were generated from it?"),
    (
        "polite-quoted",
        A,
        "sra",
        rs("5238 Dorsolateral prefrontal cortex (DLPFC) Run 1"),
        'Could you give me the run accession for sample "5238 Dorsolateral prefrontal cortex (DLPFC) Run 1"?',
    ),
    (
        "scope-first",
        A,
        "sra",
        rs("CACNA1C pool Run2", study="PRJEB34660"),
        "in PRJEB34660, which ERR runs come from the CACNA1C pool Run2 sample?",
    ),
    ("terse-id", A, "sra", rs("ERS3788240"), "ERS3788240 runs?"),
    (
        "polite",
        B,
        "sra",
        rs("MMETSP1002"),
        "Could you list the sequencing runs for MMETSP1002, please?",
    ),
    (
        "question",
        B,
        "sra",
        rs("MMETSP0223_2"),
        "which runs were sequenced from sample MMETSP0223_2",
    ),
    ("command", B, "sra", rs("SRS616883"), "show me every run linked to SRS616883"),
    (
        "scope-first",
        B,
        "sra",
        rs("GSM3945671", study="PRJNA555093"),
        "For BioProject PRJNA555093, what run was produced for GSM3945671?",
    ),
    ("fragment-colon", B, "sra", rs("MMETSP0008_2"), "MMETSP0008_2: sequencing runs pls"),
    (
        "constraint-inline",
        A,
        "sra",
        rs("Mo17", constraints={"instrument": HISEQ}),
        "Mo17 runs done on the HiSeq 2000",
    ),
    (
        "constraint-question",
        B,
        "sra",
        rs("MMETSP1325", constraints={"instrument": GAIIX}),
        "which of the MMETSP1325 runs were on the GAIIx?",
    ),
    ("need", B, "sra", rs("MMETSP0693"), "I need the run ids for sample MMETSP0693"),
    (
        "subject-last",
        A,
        "sra",
        rs("5346 Cingulate Cortex Run1"),
        "what sequencing runs do we have for 5346 Cingulate Cortex Run1",
    ),
    # ------------------------------------------------------------ runs_of_biosample
    ("command", A, "sra", rb("SAMN06169745"), "all runs derived from biosample SAMN06169745"),
    ("question", A, "sra", rb("SAMN07334593"), "What runs does SAMN07334593 have?"),
    ("fragment", A, "sra", rb("SAMEA5985419"), "runs for BioSample SAMEA5985419"),
    (
        "scope-first",
        A,
        "sra",
        rb("SAMEA5996131", study="PRJEB34660"),
        "within PRJEB34660, list the runs from SAMEA5996131",
    ),
    ("id-first", B, "sra", rb("SAMN02740251"), "SAMN02740251 — which sequencing runs?"),
    (
        "polite",
        B,
        "sra",
        rb("SAMN02740225"),
        "Can you find the runs for the biosample SAMN02740225?",
    ),
    ("terse", B, "sra", rb("SAMN12306450"), "run accession for SAMN12306450"),
    ("informal", B, "sra", rb("SAMN02740111"), "got any runs from SAMN02740111?"),
    (
        "constraint-first",
        B,
        "sra",
        rb("SAMN02740342", constraints={"instrument": GAIIX}),
        "GAIIx runs of biosample SAMN02740342",
    ),
    (
        "subject-last",
        A,
        "sra",
        rb("SAMN07334589"),
        "which runs were the SAMN07334589 libraries sequenced in",
    ),
    # ------------------------------------------------------------ runs_of_species
    ("question", A, "sra", rsp("Zea mays"), "Which sequencing runs are from Zea mays?"),
    ("genus", A, "sra", rsp(genus="Zea"), "runs of anything in the genus Zea"),
    (
        "scope-last",
        A,
        "sra",
        rsp("Homo sapiens", study="PRJEB34660"),
        "Homo sapiens runs in BioProject PRJEB34660",
    ),
    ("fragment", B, "sra", rsp("Emiliania huxleyi"), "Emiliania huxleyi runs"),
    ("command", B, "sra", rsp("Karenia brevis"), "list the SRA runs for Karenia brevis"),
    ("genus-informal", B, "sra", rsp(genus="Alexandrium"), "all Alexandrium runs, any species"),
    (
        "question",
        B,
        "sra",
        rsp("Micromonas pusilla"),
        "which runs have Micromonas pusilla as the organism?",
    ),
    (
        "genus-dash",
        B,
        "sra",
        rsp(genus="Micromonas"),
        "Micromonas (the whole genus) — what runs do we have?",
    ),
    (
        "question",
        B,
        "sra",
        rsp("Arabidopsis thaliana"),
        "What Arabidopsis thaliana sequencing runs are there?",
    ),
    ("punctuation", B, "sra", rsp("Bicosoecida sp. CB-2014"), "runs for Bicosoecida sp. CB-2014"),
    (
        "quoted",
        B,
        "sra",
        rsp("Chaetoceros cf. neogracile"),
        'find runs of "Chaetoceros cf. neogracile"',
    ),
    (
        "constraint-inline",
        B,
        "sra",
        rsp("Ditylum brightwellii", constraints={"instrument": GAIIX}),
        "Ditylum brightwellii runs that were sequenced on the Genome Analyzer IIx",
    ),
    ("terse-genus", B, "sra", rsp(genus="Perkinsus"), "Perkinsus runs?"),
    (
        "subject-first",
        B,
        "sra",
        rsp("Thalassionema nitzschioides"),
        "Thalassionema nitzschioides: list of runs",
    ),
    # ------------------------------------------------------------ runs_of_instrument
    ("question", A, "sra", ri(PACBIO), "which runs were sequenced on the PacBio RS II?"),
    ("colloquial", A, "sra", ri(MINION), "show me the Nanopore runs"),
    ("fragment", A, "sra", ri(HISEQ), "runs from the HiSeq 2000"),
    (
        "constraint",
        A,
        "sra",
        ri(HISEQ, constraints={"strategy": "WGS"}),
        "HiSeq 2000 runs with WGS libraries",
    ),
    ("colloquial", B, "sra", ri(NEXTSEQ), "what did we run on the NextSeq?"),
    ("terse-polite", B, "sra", ri(GAIIX), "GAIIx runs please"),
    (
        "constraint-question",
        B,
        "sra",
        ri(HISEQ, constraints={"species": "Anophryoides haemophila"}),
        "Which HiSeq 2000 runs are Anophryoides haemophila?",
    ),
    (
        "constraint-genus",
        B,
        "sra",
        ri(GAIIX, constraints={"genus": "Chaetoceros"}),
        "Chaetoceros runs done on the Illumina Genome Analyzer IIx",
    ),
    (
        "scope-last",
        B,
        "sra",
        ri(NEXTSEQ, study="PRJNA555093"),
        "list runs on the NextSeq 500 for PRJNA555093",
    ),
    (
        "constraint-strategy",
        A,
        "sra",
        ri(HISEQ, constraints={"strategy": "RNA-Seq"}),
        "Illumina HiSeq 2000 RNA-Seq libraries — which runs?",
    ),
    (
        "constraint-genus",
        B,
        "sra",
        ri(HISEQ, constraints={"genus": "Florenciella"}),
        "which Florenciella runs were sequenced on a HiSeq 2000?",
    ),
    (
        "scope-srastudy",
        A,
        "sra",
        ri(MINION, study="ERP117597"),
        "the Oxford Nanopore MinION runs in study ERP117597",
    ),
    (
        "colloquial",
        A,
        "sra",
        ri(PACBIO, constraints={"strategy": "WGS"}),
        "give me the PacBio whole-genome runs",
    ),
    # ------------------------------------------------------------ runs_of_experiment_with_constraint
    (
        "constraint-layout",
        A,
        "sra",
        rx("SRX3003890", layout="PAIRED"),
        "paired-end runs of experiment SRX3003890",
    ),
    (
        "constraint-empty",
        A,
        "sra",
        rx("SRX3032560", instrument=HISEQ),
        "runs of SRX3032560 sequenced on Illumina HiSeq 2000",
        EMPTY_OK,
    ),
    (
        "constraint-strategy",
        A,
        "sra",
        rx("SRX3045727", strategy="RNA-Seq"),
        "RNA-Seq runs in experiment SRX3045727",
    ),
    (
        "constraint-empty",
        A,
        "sra",
        rx("SRX3045726", strategy="WGS"),
        "which WGS runs belong to SRX3045726?",
        EMPTY_OK,
    ),
    ("id-first", A, "sra", rx("ERX3574800", strategy="AMPLICON"), "ERX3574800 amplicon runs"),
    (
        "constraint-empty",
        A,
        "sra",
        rx("ERX3574813", layout="PAIRED"),
        "are there paired-end runs under ERX3574813? list them",
        EMPTY_OK,
    ),
    (
        "constraint-instrument",
        B,
        "sra",
        rx("SRX549029", instrument=GAIIX),
        "GAIIx runs for experiment SRX549029",
    ),
    (
        "constraint-empty",
        B,
        "sra",
        rx("SRX549028", instrument=GAIIX),
        "for SRX549028, which runs were done on the Genome Analyzer IIx?",
        EMPTY_OK,
    ),
    (
        "constraint-layout",
        B,
        "sra",
        rx("SRX6454959", layout="SINGLE"),
        "single-end runs in SRX6454959",
    ),
    (
        "two-constraints",
        B,
        "sra",
        rx("SRX566755", instrument=GAIIX, strategy="RNA-Seq"),
        "RNA-Seq runs of SRX566755 on the Illumina Genome Analyzer IIx",
    ),
    (
        "constraint-empty",
        B,
        "sra",
        rx("SRX554259", layout="SINGLE"),
        "show single-end runs of experiment SRX554259",
        EMPTY_OK,
    ),
    (
        "colloquial",
        A,
        "sra",
        rx("SRX3032549", instrument=PACBIO),
        "SRX3032549 — the PacBio runs, please",
    ),
    # ------------------------------------------------------------ samples_of_run (SRA)
    ("question", A, "sra", sr("SRR5864340"), "which sample is SRR5864340 from?"),
    ("fragment", A, "sra", sr("SRR5878425"), "biosample for run SRR5878425"),
    ("id-first", A, "sra", sr("ERR3577097"), "ERR3577097 came from what sample?"),
    ("fragment", A, "sra", sr("ERR3577106"), "sample behind ERR3577106"),
    ("informal", B, "sra", sr("SRR1294416"), "what's the sample for SRR1294416"),
    ("arrow", B, "sra", sr("SRR9696666"), "SRR9696666 -> sample?"),
    (
        "polite",
        B,
        "sra",
        sr("SRR1328077"),
        "Could you tell me which sample run SRR1328077 was sequenced from?",
    ),
    (
        "subject-last",
        B,
        "sra",
        sr("SRR1300366"),
        "what biological sample was sequenced in SRR1300366",
    ),
    # ------------------------------------------------------------ samples_of_run (SDRF files)
    (
        "measured",
        A,
        "sdrf",
        sf("Natalia_TMT6_2_240min_1pt5.raw"),
        "which samples were measured in Natalia_TMT6_2_240min_1pt5.raw?",
    ),
    ("fragment-colon", A, "sdrf", sf("N296-2.raw"), "N296-2.raw: source sample?"),
    (
        "question",
        A,
        "sdrf",
        sf("T298-1.raw"),
        "what sample does the raw file T298-1.raw belong to?",
    ),
    (
        "scope-first",
        A,
        "sdrf",
        sf("FAIMS_2CV_OTIT_HCD_300ITMS2_Single_HeLa_2.raw"),
        "In PXD019515, which sample was acquired in FAIMS_2CV_OTIT_HCD_300ITMS2_Single_HeLa_2.raw?",
    ),
    (
        "command",
        B,
        "sdrf",
        sf("Xu_20161229_MetaproE_6_2.raw"),
        "show the sample for raw file Xu_20161229_MetaproE_6_2.raw",
    ),
    ("terse", B, "sdrf", sf("Prosser_1366.raw"), "Prosser_1366.raw sample"),
    (
        "question",
        B,
        "sdrf",
        sf("02444_BD3_P026998_S00_X12_R1.raw"),
        "which source sample is 02444_BD3_P026998_S00_X12_R1.raw from?",
    ),
    (
        "scope-first",
        A,
        "sdrf",
        sf("Natalia_TMT6_1_240m_1pt5.raw", study="PXD003772"),
        "in PXD003772, list the samples labelled in Natalia_TMT6_1_240m_1pt5.raw",
    ),
    # ------------------------------------------------------------ samples_of_run (ISA-Tab files)
    ("question", A, "isatab", sf("EX398L102.sff"), "which sample was sequenced in EX398L102.sff?"),
    ("fragment", A, "isatab", sf("EVHINN113.sff"), "sample of the EVHINN113.sff data file"),
    ("informal", A, "isatab", sf("FFNOBXN02.sff"), "FFNOBXN02.sff - whose sample is that?"),
    ("derived-file", B, "isatab", sf("GSE665.txt"), "list all samples that feed into GSE665.txt"),
    ("question", B, "isatab", sf("JGHw1do2.MAS_2_1"), "What sample is JGHw1do2.MAS_2_1 from?"),
    ("terse", B, "isatab", sf("17BF.sff"), "17BF.sff sample?"),
    (
        "command",
        B,
        "isatab",
        sf("JGham14c2.txi_1_1"),
        "give me the sample(s) for JGham14c2.txi_1_1",
    ),
    (
        "scope-first",
        B,
        "isatab",
        sf("BII-S-6-bucketed-masall.txt", study="BII-S-6"),
        "in the BII-S-6 study, which samples are in the file BII-S-6-bucketed-masall.txt?",
    ),
    # ------------------------------------------------------------ files_of_sample_in_study
    (
        "scope-first",
        A,
        "sdrf",
        fs("PXD004684", "PXD004684-Sample-5"),
        "within PXD004684, what raw files belong to PXD004684-Sample-5?",
    ),
    (
        "command",
        A,
        "sdrf",
        fs("PXD004684", "PXD004684-Sample-3"),
        "list the raw files of PXD004684-Sample-3 in PXD004684",
    ),
    (
        "quoted",
        A,
        "sdrf",
        fs("PXD003772", "Sample 4"),
        'which data files does "Sample 4" have in PXD003772?',
    ),
    (
        "scope-last",
        A,
        "sdrf",
        fs("PXD019515", "PXD019515-Sample 7"),
        "raw files for PXD019515-Sample 7 (PXD019515)",
    ),
    (
        "isa-study",
        A,
        "isatab",
        fs("BII-S-3", "GSM255770"),
        "in the BII-S-3 study, which data files were generated for GSM255770?",
    ),
    ("fragment", A, "isatab", fs("BII-S-3", "GSM255773"), "GSM255773 sff files, BII-S-3"),
    (
        "polite",
        A,
        "isatab",
        fs("BII-S-4", "fluke.sample1"),
        "Could you list the files of sample fluke.sample1 in study BII-S-4?",
    ),
    (
        "scope-first",
        B,
        "sdrf",
        fs("PXD005969", "PXD005969-Method10"),
        "For PXD005969, which raw files come from PXD005969-Method10?",
    ),
    ("quoted", B, "sdrf", fs("PXD008934", "Sample 21"), "files of 'Sample 21' in PXD008934"),
    (
        "question",
        B,
        "sdrf",
        fs("PXD013868", "PXD013868-Sample 1"),
        "what are all the raw files for PXD013868-Sample 1 in project PXD013868?",
    ),
    (
        "isa-all-files",
        B,
        "isatab",
        fs("BII-S-6", "ro.Group-10.Subject-1.BTO:liver"),
        "every data file (raw and derived) for ro.Group-10.Subject-1.BTO:liver in BII-S-6",
    ),
    (
        "isa-study",
        B,
        "isatab",
        fs("BII-S-6", "ro.Group13.Subject-2.BTO:liver"),
        "in the BII-S-6 study, which files belong to sample ro.Group13.Subject-2.BTO:liver?",
    ),
    (
        "quoted",
        B,
        "isatab",
        fs("BII-S-6", "ro.Group-10.Subject-4.BTO:liver"),
        'data files for "ro.Group-10.Subject-4.BTO:liver", study BII-S-6',
    ),
    ("terse", B, "isatab", fs("BII-S-7", "9BF"), "BII-S-7 sample 9BF files"),
    (
        "question",
        B,
        "isatab",
        fs("BII-S-7", "1EU"),
        "which sequence files does 1EU have in BII-S-7?",
    ),
    (
        "lookalike",
        B,
        "sdrf",
        fs("PXD005969", "PXD005969-Method1"),
        "PXD005969: raw files for sample PXD005969-Method1",
    ),
    (
        "informal",
        A,
        "sdrf",
        fs("PXD004684", "PXD004684-Sample-8"),
        "got the raw files for PXD004684-Sample-8? (PXD004684)",
    ),
    (
        "files-only",
        B,
        "isatab",
        fs("BII-S-6", "ro.Group-11.Subject-3.BTO:liver"),
        "what data files exist for ro.Group-11.Subject-3.BTO:liver in the BII-S-6 study?",
    ),
    # ------------------------------------------------------------ count
    ("how-many", A, "sra", cnt(rs("Mo17")), "how many runs does the Mo17 sample have?"),
    ("how-many", A, "sra", cnt(ri(PACBIO)), "How many PacBio RS II runs are there?"),
    ("number-of", A, "sra", cnt(ri(MINION)), "number of nanopore runs"),
    (
        "how-many",
        B,
        "sra",
        cnt(rsp("Emiliania huxleyi")),
        "how many Emiliania huxleyi runs do we have",
    ),
    (
        "count-genus",
        B,
        "sra",
        cnt(rsp(genus="Chaetoceros")),
        "count the Chaetoceros runs (all species)",
    ),
    (
        "how-many",
        B,
        "sdrf",
        cnt(fs("PXD013868", "PXD013868-Sample 1")),
        "How many raw files does PXD013868-Sample 1 have in PXD013868?",
    ),
    ("how-many", B, "isatab", cnt(sf("GSE665.txt")), "how many samples went into GSE665.txt?"),
    (
        "number-of",
        A,
        "sdrf",
        cnt(sf("Natalia_TMT6_1_240m_1pt5.raw")),
        "number of samples multiplexed in Natalia_TMT6_1_240m_1pt5.raw",
    ),
    (
        "how-many",
        B,
        "sra",
        cnt(ri(GAIIX)),
        "how many runs were sequenced on the Genome Analyzer IIx?",
    ),
    (
        "count-genus",
        B,
        "sra",
        cnt(rsp(genus="Alexandrium")),
        "Alexandrium: how many runs in total?",
    ),
    ("how-many", B, "sra", cnt(rb("SAMN02740404")), "How many runs came out of SAMN02740404?"),
    (
        "count-constraint",
        A,
        "sra",
        cnt(rsp("Zea mays", constraints={"strategy": "WGS"})),
        "how many WGS runs for Zea mays?",
    ),
    (
        "count-experiment",
        B,
        "sra",
        cnt(rx("SRX549030", instrument=GAIIX)),
        "how many GAIIx runs are in experiment SRX549030?",
    ),
    (
        "how-many",
        A,
        "isatab",
        cnt(fs("BII-S-3", "GSM255771")),
        "how many data files for GSM255771 in the BII-S-3 study?",
    ),
    ("number-of", B, "sra", cnt(ri(NEXTSEQ)), "number of NextSeq runs?"),
    (
        "count-negated",
        B,
        "sra",
        cnt(neg(rsp(genus="Prymnesium"), species="Prymnesium parvum")),
        "how many Prymnesium runs are not Prymnesium parvum?",
    ),
    (
        "how-many",
        A,
        "sra",
        cnt(rsp("Homo sapiens")),
        "how many human (Homo sapiens) sequencing runs are there?",
    ),
    (
        "how-many",
        B,
        "isatab",
        cnt(fs("BII-S-6", "ro.Group-8.Subject-2.BTO:liver")),
        "in BII-S-6, how many files are linked to ro.Group-8.Subject-2.BTO:liver?",
    ),
    (
        "count-empty",
        A,
        "sra",
        cnt(rx("SRX3045726", strategy="WGS")),
        "how many WGS runs does experiment SRX3045726 have?",
        EMPTY_OK,
    ),
    (
        "how-many",
        A,
        "sdrf",
        cnt(fs("PXD019515", "PXD019515-Sample 8")),
        "how many raw files were acquired for PXD019515-Sample 8 in PXD019515?",
    ),
    (
        "number-of",
        B,
        "isatab",
        cnt(sf("BII-S-6-bucketed-allex.txt")),
        "number of samples that contribute to BII-S-6-bucketed-allex.txt",
    ),
    (
        "how-many",
        B,
        "sra",
        cnt(rs("MMETSP1002")),
        "how many times was MMETSP1002 sequenced (runs)?",
    ),
    # ------------------------------------------------------------ negations
    (
        "other-than",
        A,
        "sra",
        neg(rs("Mo17"), instrument=PACBIO),
        "Mo17 runs other than the PacBio ones",
    ),
    (
        "excluding",
        B,
        "sra",
        neg(rs("MMETSP1002"), instrument=GAIIX),
        "runs of MMETSP1002 excluding the GAIIx runs",
    ),
    (
        "not",
        A,
        "sra",
        neg(rsp("Zea mays"), strategy="RNA-Seq"),
        "Zea mays runs that aren't RNA-Seq",
    ),
    (
        "weren't",
        A,
        "sra",
        neg(rsp("Zea mays"), instrument=PACBIO),
        "maize (Zea mays) runs that weren't sequenced on the PacBio",
    ),
    (
        "except-sample",
        A,
        "sra",
        neg(rsp("Homo sapiens"), sample="CACNA1C pool Run1"),
        "all Homo sapiens runs except the one from CACNA1C pool Run1",
    ),
    (
        "without",
        B,
        "sra",
        neg(rsp(genus="Chaetoceros"), species="Chaetoceros affinis"),
        "Chaetoceros runs without the Chaetoceros affinis ones",
    ),
    (
        "but-not",
        B,
        "sra",
        neg(rsp(genus="Micromonas"), species="Micromonas pusilla"),
        "Micromonas runs but not Micromonas pusilla",
    ),
    (
        "excluding",
        B,
        "sra",
        neg(ri(GAIIX), species="Ditylum brightwellii"),
        "Genome Analyzer IIx runs, excluding Ditylum brightwellii",
    ),
    (
        "leave-out",
        A,
        "sra",
        neg(ri(HISEQ), strategy="WGS"),
        "HiSeq 2000 runs, leave out the WGS ones",
    ),
    (
        "other-than",
        A,
        "sra",
        neg(rb("SAMN06169745"), instrument=PACBIO),
        "runs of SAMN06169745 other than PacBio RS II",
    ),
    (
        "not-on",
        B,
        "sra",
        neg(rb("SAMN02740228"), instrument=GAIIX),
        "SAMN02740228 runs that were not done on the GAIIx",
    ),
    (
        "apart-from",
        B,
        "sra",
        neg(rsp(genus="Alexandrium"), species="Alexandrium fundyense"),
        "Alexandrium runs apart from Alexandrium fundyense",
    ),
    (
        "negation-empty",
        B,
        "sra",
        neg(rsp("Karenia brevis"), instrument=HISEQ),
        "Karenia brevis runs not sequenced on the Illumina HiSeq 2000",
        EMPTY_OK,
    ),
    (
        "except-experiment",
        A,
        "sra",
        neg(ri(PACBIO), experiment="SRX3032560"),
        "all PacBio RS II runs except the one in SRX3032560",
    ),
    (
        "excluding",
        B,
        "sra",
        neg(rs("MMETSP0092"), instrument=HISEQ),
        "MMETSP0092 runs excluding HiSeq 2000",
    ),
    (
        "other-than-sample",
        B,
        "sra",
        neg(rsp("Arabidopsis thaliana"), sample="GSM3945667"),
        "Arabidopsis thaliana runs other than GSM3945667",
    ),
    (
        "two-key-exclude",
        B,
        "sra",
        neg(rsp(genus="Chaetoceros"), species="Chaetoceros affinis", instrument=GAIIX),
        "Chaetoceros runs, but drop the Chaetoceros affinis ones that were run on the GAIIx",
    ),
    (
        "negated-experiment",
        B,
        "sra",
        neg(rx("SRX549013", layout="PAIRED"), instrument=GAIIX),
        "paired-end runs of SRX549013 that weren't sequenced on a Genome Analyzer IIx",
    ),
    (
        "negated-experiment-empty",
        B,
        "sra",
        neg(rx("SRX549031", strategy="RNA-Seq"), instrument=GAIIX),
        "RNA-Seq runs of SRX549031, excluding anything from the GAIIx",
        EMPTY_OK,
    ),
    (
        "weren't",
        B,
        "sra",
        neg(rsp(genus="Anophryoides"), instrument=HISEQ),
        "Anophryoides runs that weren't on the HiSeq 2000",
    ),
    # ------------------------------------------------------------ other_user_id
    ("other-user", A, "sra", other(sr("SRR1294416"), B), "which sample is SRR1294416 from?"),
    ("other-user", A, "sra", other(rs("MMETSP1002"), B), "list runs for MMETSP1002"),
    (
        "other-user-lookalike",
        A,
        "sdrf",
        other(fs("PXD008934", "Sample 3"), B),
        "raw files of Sample 3 in PXD008934",
    ),
    ("other-user", B, "sdrf", other(sf("N294-1.raw"), A), "N294-1.raw — which sample?"),
    ("other-user", B, "sra", other(rs("Mo17"), A), "what runs were made from the Mo17 sample?"),
    ("other-user", B, "sra", other(rb("SAMEA5985401"), A), "runs for biosample SAMEA5985401"),
    (
        "other-user",
        A,
        "sra",
        other(rsp("Arabidopsis thaliana"), B),
        "Arabidopsis thaliana sequencing runs, please",
    ),
    (
        "other-user",
        B,
        "isatab",
        other(fs("BII-S-3", "GSM255771"), A),
        "in the BII-S-3 study, which files does GSM255771 have?",
    ),
    (
        "other-user",
        A,
        "sdrf",
        other(sf("Xu_20161226_MetaproE_1_1.raw"), B),
        "sample of the raw file Xu_20161226_MetaproE_1_1.raw",
    ),
    (
        "other-user",
        B,
        "sra",
        other(rx("SRX3003890", layout="PAIRED"), A),
        "paired-end runs in experiment SRX3003890",
    ),
    ("other-user", A, "isatab", other(fs("BII-S-7", "10EU"), B), "10EU files in BII-S-7"),
    (
        "other-user-count",
        B,
        "sra",
        other(cnt(ri(PACBIO)), A),
        "how many PacBio RS II runs do we have?",
    ),
    (
        "other-user",
        A,
        "sra",
        other(ri(NEXTSEQ), B),
        "which runs were sequenced on the NextSeq 500?",
    ),
    ("other-user", B, "sra", other(sr("ERR3577090"), A), "ERR3577090: what sample?"),
    (
        "other-user",
        A,
        "isatab",
        other(fs("BII-S-6", "ro.Group-2.Subject-1.BTO:liver"), B),
        "files for ro.Group-2.Subject-1.BTO:liver in BII-S-6",
    ),
    (
        "other-user-lookalike",
        B,
        "sdrf",
        other(fs("PXD003772", "Sample 2"), A),
        "which raw file holds Sample 2 of PXD003772?",
    ),
    ("other-user", B, "sra", other(rsp(genus="Zea"), A), "any Zea runs? list them"),
]


def sra_sample_keys(keys) -> list[str]:
    return [k for k in keys if k.startswith("sample:SAM")]


def build() -> list[dict]:
    root = truth.data_dir()
    records = []
    texts = set()
    for number, entry in enumerate(QUESTIONS, start=1):
        phrasing, user, source, spec, text, *flags = entry
        assert text not in texts, f"duplicate question {text!r}"
        texts.add(text)
        expected = sorted(truth.answer(spec, user, root))
        record = {
            "id": f"held-{number:03d}",
            "kind": "entity",
            "source": source,
            "type": spec["type"],
            "phrasing": phrasing,
            "spec": spec,
            "question": text,
            "user": user,
            "expected": expected,
        }
        inner = spec["ask"] if spec["type"] == "other_user_id" else spec
        if inner["type"] == "count":
            record["count"] = truth.count(spec, user, root)
        aliases = {}
        for key in sra_sample_keys(expected):
            aliases[key] = truth.sample_aliases(user, key, root)
        if spec["type"] == "other_user_id":
            owner = spec["owner"]
            held = truth.owners(spec, root)
            assert not expected, f"{record['id']}: other_user_id but {user} sees {expected}"
            assert set(held) == {owner}, f"{record['id']}: owners {sorted(held)} != {owner}"
            record["other_user"] = owner
            record["other_user_expected"] = sorted(held[owner])
            for key in sra_sample_keys(record["other_user_expected"]):
                aliases[key] = truth.sample_aliases(owner, key, root)
        elif EMPTY_OK not in flags:
            assert expected, f"{record['id']}: empty answer for {user}: {text!r}"
        if aliases:
            record["aliases"] = aliases
        records.append(record)
    return records


def main() -> None:
    records = build()
    with OUT.open("w", encoding="utf-8") as handle:
        handle.write(json.dumps(META) + "\n")
        for record in records:
            handle.write(json.dumps(record, ensure_ascii=False) + "\n")
    by_type = Counter(r["type"] for r in records)
    by_source = Counter(r["source"] for r in records)
    by_user = Counter(r["user"] for r in records)
    print(f"wrote {len(records)} questions to {OUT}")
    print("by type:", dict(sorted(by_type.items())))
    print("by source:", dict(sorted(by_source.items())))
    print("by user:", dict(sorted(by_user.items())))


if __name__ == "__main__":
    main()
