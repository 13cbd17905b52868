"""`labsearch eval beir|lab|faithfulness`: retrieval quality on a BEIR dataset and on the demo
lab; faithfulness of generated answers to their citations."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from labsearch.errors import LabsearchError
from labsearch.settings import get_settings

app = typer.Typer(no_args_is_help=True, pretty_exceptions_enable=False)
out = Console()
err = Console(stderr=True)

JsonOut = Annotated[bool, typer.Option("--json", help="Print the report as JSON.")]
OutDir = Annotated[
    Path | None,
    typer.Option("--out", help="Write report.json, report.md and chart.png to this directory."),
]


def _fail(error: Exception) -> None:
    err.print(f"[bold red]error:[/] {error}", highlight=False)
    raise typer.Exit(2)


def _table(title: str, headers: list[str], rows: list[list[object]]) -> Table:
    table = Table(*headers, title=title)
    for row in rows:
        table.add_row(*(f"{v:.4f}" if isinstance(v, float) else str(v) for v in row))
    return table


@app.command()
def beir(
    directory: Annotated[
        Path, typer.Argument(help="BEIR dataset dir (corpus.jsonl, queries.jsonl, qrels/).")
    ],
    split: Annotated[str, typer.Option(help="qrels split to score (qrels/<split>.tsv).")] = "test",
    as_json: JsonOut = False,
    out_dir: OutDir = None,
) -> None:
    """nDCG@10, recall@100, MRR@10 and latency for hybrid, BM25-only and dense-only search."""
    from eval.beir import BEIR_COLUMNS_HELP, evaluate_beir
    from eval.report import BEIR_COLUMNS, write_report

    settings = get_settings()
    try:
        run = evaluate_beir(settings, directory, split, progress=lambda m: err.print(m))
    except LabsearchError as error:
        _fail(error)
    report = dataclasses.asdict(run)
    if out_dir is not None:
        for path in write_report(out_dir, report, "beir"):
            err.print(f"wrote {path}")
    if as_json:
        print(json.dumps(report, indent=2))
        return
    rows = [[mode, *(m[c] for c in BEIR_COLUMNS)] for mode, m in run.metrics.items()]
    out.print(
        _table(f"{run.dataset} ({split}, {run.queries} queries)", ["mode", *BEIR_COLUMNS], rows)
    )
    out.print(f"{BEIR_COLUMNS_HELP}\nfusion: {run.fusion}; timings (s): {run.timings}")


@app.command()
def lab(
    directory: Annotated[
        Path | None,
        typer.Option("--dir", help="Where the labs' indexes are built and reused."),
    ] = None,
    question_set: Annotated[
        str,
        typer.Option(
            "--set",
            help="demo (the demo lab's questions), real (public lab metadata), or all.",
        ),
    ] = "all",
    real_data: Annotated[
        Path | None,
        typer.Option(
            "--real-data",
            help="Real lab metadata (default: LABSEARCH_REALDATA, else "
            "$LABSEARCH_SHARED/datasets/realdata).",
        ),
    ] = None,
    real_questions: Annotated[
        Path | None,
        typer.Option(
            "--real-questions",
            help="Real-data question file (default eval/data/real_questions.jsonl), e.g. "
            "eval/data/real_questions_heldout.jsonl.",
        ),
    ] = None,
    as_json: JsonOut = False,
    out_dir: OutDir = None,
) -> None:
    """Question sets with exact answers: entity F1, false-complete answers, nDCG, leaks."""
    from eval.lab import evaluate_lab, results_json
    from eval.real.evaluate import evaluate_real, load_questions, real_data_dir
    from eval.real.evaluate import results_json as real_results_json
    from eval.report import write_report

    if question_set not in ("demo", "real", "all"):
        _fail(LabsearchError(f"--set {question_set!r}: choose demo, real or all"))
    settings = get_settings()
    where = directory or settings.cache_dir / "eval-lab"
    report: dict = {}
    acceptance_ok = True
    try:
        if question_set in ("demo", "all"):
            run = evaluate_lab(settings, where)
            report |= {
                "lab": run.lab,
                "timings": run.timings,
                "summary": run.summary,
                "questions": results_json(run.results),
            }
            acceptance_ok = _print_demo(run.summary, run.timings, quiet=as_json)
        data = real_data or real_data_dir()
        if question_set == "real" or (question_set == "all" and data.is_dir()):
            questions = load_questions(real_questions) if real_questions else None
            real = evaluate_real(
                settings, where / "real", data=data, questions=questions, reader=_reader(settings)
            )
            report["real"] = {
                "data": real.data,
                "timings": real.timings,
                "summary": real.summary,
                "questions": real_results_json(real.results),
            }
            acceptance_ok = _print_real(real.summary, quiet=as_json) and acceptance_ok
        elif question_set == "all":
            report["real"] = {"skipped": f"no real lab metadata at {data}"}
            err.print(f"real-data set skipped: no real lab metadata at {data} (--real-data)")
    except LabsearchError as error:
        _fail(error)
    if out_dir is not None:
        for path in write_report(out_dir, report, "lab"):
            err.print(f"wrote {path}")
    if as_json:
        print(json.dumps(report, indent=2, ensure_ascii=False))
    raise typer.Exit(0 if acceptance_ok else 1)


def _reader(settings):
    """The language model as question reader, when LABSEARCH_QUESTION_PARSER=llm."""
    if settings.question_parser != "llm":
        return None
    from chat_api.answering import question_reader
    from chat_api.llm import build_llm

    llm = build_llm(settings)
    if llm is None:
        raise LabsearchError(
            "LABSEARCH_QUESTION_PARSER=llm needs a model: set LABSEARCH_LLM to local, bedrock "
            "or openai"
        )
    return question_reader(llm)


def _print_demo(summary: dict, timings: dict, *, quiet: bool) -> bool:
    """Print the demo lab's tables; True when entity F1 is 1.0 and nothing leaked."""
    permission = summary["permission"]
    if not quiet:
        out.print(
            _table(
                "demo lab: entity questions (exact sets)",
                ["template", "n", "precision", "recall", "F1", "count/complete ok"],
                [
                    [k, m["n"], m["precision"], m["recall"], m["f1"], m["count_ok"]]
                    for k, m in summary["entity"].items()
                ],
            )
        )
        out.print(
            _table(
                "demo lab: descriptive questions",
                ["template", "n", "recall@10", "nDCG@10"],
                [
                    [k, m["n"], m["recall@10"], m["ndcg@10"]]
                    for k, m in summary["descriptive"].items()
                ],
            )
        )
        out.print(f"permission questions: {permission['n']}, leaks: {permission['leaks']}")
        for failure in summary["failures"]:
            details = {
                k: failure[k] for k in ("missing", "extra", "leaked", "why") if failure.get(k)
            }
            who = f"{failure['id']} ({failure['user']})"
            out.print(f"[red]FAIL[/] {who}: {failure['question']} {details}", highlight=False)
        out.print(f"timings (s): {timings}")
    return summary["entity"].get("all", {}).get("f1") == 1.0 and permission["leaks"] == 0


REAL_COLUMNS = ["n", "precision", "recall", "f1", "count_ok", "complete", "false_complete", "leaks"]


def _print_real(summary: dict, *, quiet: bool) -> bool:
    """Print the real-data tables; True when no answer was falsely complete and nothing leaked."""
    if not quiet:
        for axis in ("by_source", "by_type"):
            rows = [[name, *(m[c] for c in REAL_COLUMNS)] for name, m in summary[axis].items()]
            rows.append(["all", *(summary["all"][c] for c in REAL_COLUMNS)])
            out.print(
                _table(f"real lab metadata, {axis.replace('_', ' ')}", ["", *REAL_COLUMNS], rows)
            )
    return summary["all"].get("false_complete", 0) == 0 and summary["all"].get("leaks", 0) == 0


FAITHFULNESS_COLUMNS = [
    "answers",
    "sentences",
    "supported_raw",
    "supported_final",
    "uncited_final",
    "fallback",
    "citation_precision",
    "citation_recall",
    "seconds_per_answer",
]


@app.command()
def faithfulness(
    backend: Annotated[
        list[str] | None,
        typer.Option(
            "--backend",
            help="scripted, local or bedrock (repeatable; default: scripted and local).",
        ),
    ] = None,
    question_set: Annotated[
        str, typer.Option("--set", help="demo, real, or all (the labelled questions' sources).")
    ] = "all",
    directory: Annotated[
        Path | None, typer.Option("--dir", help="Where the labs' indexes are built and reused.")
    ] = None,
    real_data: Annotated[
        Path | None, typer.Option("--real-data", help="Real lab metadata (LABSEARCH_REALDATA).")
    ] = None,
    limit: Annotated[int | None, typer.Option(help="Ask only the first N questions.")] = None,
    as_json: JsonOut = False,
) -> None:
    """Generated answers against their citations: supported sentences, citation P/R, per model."""
    from eval.faithfulness import BACKENDS, evaluate_faithfulness, results_json

    backends = backend or ["scripted", "local"]
    unknown = [b for b in backends if b not in BACKENDS]
    if unknown or question_set not in ("demo", "real", "all"):
        _fail(LabsearchError(f"choose --backend from {BACKENDS} and --set demo, real or all"))
    sources = {"demo", "real"} if question_set == "all" else {question_set}
    settings = get_settings()
    try:
        run = evaluate_faithfulness(
            settings,
            directory or settings.cache_dir / "eval-faithfulness",
            backends,
            sources=sources,
            real_data=real_data,
            limit=limit,
            progress=lambda m: err.print(m, highlight=False, markup=False, soft_wrap=True),
        )
    except LabsearchError as error:
        _fail(error)
    report = results_json(run)
    if as_json:
        print(json.dumps(report, indent=2, ensure_ascii=False))
        return
    rows = [[name, *(m[c] for c in FAITHFULNESS_COLUMNS)] for name, m in run.summary.items()]
    out.print(_table("faithfulness of generated answers", ["backend", *FAITHFULNESS_COLUMNS], rows))
    if "scripted" in run.summary:
        m = run.summary["scripted"]
        out.print(
            f"scripted: planted hallucinations removed {m['planted_removed']}, "
            f"true sentences kept {m['true_kept']}"
        )
    for name, why in run.skipped.items():
        out.print(f"{name}: skipped ({why})", highlight=False)
    out.print(f"timings (s): {run.timings}")


@app.command("export-feedback")
def export_feedback(
    out_file: Annotated[
        Path, typer.Option("--out", help="JSON Lines file for the regression questions.")
    ] = Path("feedback-questions.jsonl"),
) -> None:
    """Write thumbs-down answers as regression questions in the format of `eval lab`."""
    from eval.feedback import export_feedback as export

    try:
        count = export(get_settings().home, out_file)
    except LabsearchError as error:
        _fail(error)
    err.print(f"wrote {count} thumbs-down questions to {out_file}; add `expected` or `relevant`")
