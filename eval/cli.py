"""`labsearch eval beir|lab`: retrieval quality on a BEIR dataset and on the demo lab."""

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
        typer.Option("--dir", help="Where the demo lab and its index are built and reused."),
    ] = None,
    as_json: JsonOut = False,
    out_dir: OutDir = None,
) -> None:
    """The committed question set over the demo lab: entity F1, descriptive nDCG, leaks."""
    from eval.lab import evaluate_lab, results_json
    from eval.report import write_report

    settings = get_settings()
    where = directory or settings.cache_dir / "eval-lab"
    try:
        run = evaluate_lab(settings, where)
    except LabsearchError as error:
        _fail(error)
    report = {
        "lab": run.lab,
        "timings": run.timings,
        "summary": run.summary,
        "questions": results_json(run.results),
    }
    if out_dir is not None:
        for path in write_report(out_dir, report, "lab"):
            err.print(f"wrote {path}")
    if as_json:
        print(json.dumps(report, indent=2, ensure_ascii=False))
        return
    summary = run.summary
    out.print(
        _table(
            "entity questions (exact sets)",
            ["template", "n", "precision", "recall", "F1", "count/complete ok"],
            [
                [k, m["n"], m["precision"], m["recall"], m["f1"], m["count_ok"]]
                for k, m in summary["entity"].items()
            ],
        )
    )
    out.print(
        _table(
            "descriptive questions",
            ["template", "n", "recall@10", "nDCG@10"],
            [[k, m["n"], m["recall@10"], m["ndcg@10"]] for k, m in summary["descriptive"].items()],
        )
    )
    permission = summary["permission"]
    out.print(f"permission questions: {permission['n']}, leaks: {permission['leaks']}")
    for failure in summary["failures"]:
        details = {k: failure[k] for k in ("missing", "extra", "leaked", "why") if failure.get(k)}
        out.print(
            f"[red]FAIL[/] {failure['id']} ({failure['user']}): {failure['question']} {details}",
            highlight=False,
        )
    out.print(f"timings (s): {run.timings}")
    acceptance_ok = summary["entity"].get("all", {}).get("f1") == 1.0 and permission["leaks"] == 0
    raise typer.Exit(0 if acceptance_ok else 1)


@app.command("export-feedback")
def export_feedback(
    out_file: Annotated[
        Path, typer.Option("--out", help="JSON Lines file for the regression questions.")
    ] = Path("feedback-questions.jsonl"),
) -> None:
    """Write thumbs-down answers as regression questions in the format of `eval lab`."""
    from ui.feedback_export import export_feedback as export

    try:
        count = export(get_settings().home, out_file)
    except LabsearchError as error:
        _fail(error)
    err.print(f"wrote {count} thumbs-down questions to {out_file}; add `expected` or `relevant`")
