"""Eval reports: JSON, Markdown tables and a PNG chart comparing the configurations.

`write_report(out_dir, report)` writes report.json, report.md and chart.png; the chart is drawn
with matplotlib's Agg backend (no display needed).
"""

from __future__ import annotations

import json
import textwrap
from collections.abc import Sequence
from pathlib import Path
from typing import Any

BEIR_COLUMNS = ("ndcg@10", "recall@100", "mrr@10", "p50_ms", "p95_ms")


def markdown_table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    def cell(value: Any) -> str:
        if isinstance(value, float):
            return f"{value:.4f}" if abs(value) < 10 else f"{value:.1f}"
        return str(value).replace("|", "\\|")

    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def beir_markdown(report: dict[str, Any]) -> str:
    rows = [[mode, *(m[c] for c in BEIR_COLUMNS)] for mode, m in report["metrics"].items()]
    fusion = ", ".join(f"{k}={v}" for k, v in report["fusion"].items())
    timings = ", ".join(f"{k}={v}" for k, v in report["timings"].items())
    return "\n\n".join(
        [
            f"## BEIR {report['dataset']} ({report['split']} split)",
            f"{report['documents']} documents, {report['queries']} queries; backend "
            f"{report['backend']}, model {report['model']}; fusion: {fusion}. Timings (s): "
            f"{timings}; texts embedded in this run: {report['embedded_now']}.",
            markdown_table(["mode", *BEIR_COLUMNS], rows),
        ]
    )


def lab_markdown(report: dict[str, Any]) -> str:
    summary = report["summary"]
    parts = [
        f"## Demo lab (seed {report['lab']['seed']}, {report['lab']['runs']} runs)",
        "Timings (s): " + ", ".join(f"{k}={v}" for k, v in report["timings"].items()),
        "### Entity questions (exact-set scores)",
        markdown_table(
            ["template", "n", "precision", "recall", "F1", "count/complete ok"],
            [
                [name, m["n"], m["precision"], m["recall"], m["f1"], m["count_ok"]]
                for name, m in summary["entity"].items()
            ],
        ),
        "### Descriptive questions",
        markdown_table(
            ["template", "n", "recall@10", "nDCG@10"],
            [
                [name, m["n"], m["recall@10"], m["ndcg@10"]]
                for name, m in summary["descriptive"].items()
            ],
        ),
        "### Permission questions",
        markdown_table(
            ["questions", "leaks"], [[summary["permission"]["n"], summary["permission"]["leaks"]]]
        ),
    ]
    if summary["failures"]:
        parts += ["### Failures", failures_markdown(summary["failures"])]
    return "\n\n".join(parts)


def failures_markdown(failures: list[dict[str, Any]]) -> str:
    """One line per failed question: id, user (and completeness), question, what was wrong."""

    def who(failure: dict[str, Any]) -> str:
        complete = failure.get("complete")
        return failure["user"] + ("" if complete is None else f", complete={complete}")

    return "\n".join(
        f"- `{f['id']}` ({who(f)}): {f['question']} — "
        + json.dumps({k: f[k] for k in ("missing", "extra", "leaked", "why") if f.get(k)})
        for f in failures
    )


def beir_chart(report: dict[str, Any], path: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    modes = list(report["metrics"])
    metrics = ("ndcg@10", "recall@100", "mrr@10")
    fig, (quality, latency) = plt.subplots(1, 2, figsize=(10, 4))
    width = 0.8 / len(modes)
    for i, mode in enumerate(modes):
        xs = [j + i * width for j in range(len(metrics))]
        values = [report["metrics"][mode][m] for m in metrics]
        bars = quality.bar(xs, values, width, label=mode)
        quality.bar_label(bars, fmt="%.3f", fontsize=7)
    quality.set_xticks([j + width * (len(modes) - 1) / 2 for j in range(len(metrics))], metrics)
    quality.set_ylim(0, 1)
    quality.set_title(f"{report['dataset']} ({report['split']}): quality")
    quality.legend()
    for i, mode in enumerate(modes):
        m = report["metrics"][mode]
        latency.bar([i - 0.2, i + 0.2], [m["p50_ms"], m["p95_ms"]], 0.4, color=["C0", "C1"])
    latency.set_xticks(range(len(modes)), modes)
    latency.set_ylabel("ms")
    latency.set_title("latency per query (p50 left, p95 right)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def lab_chart(report: dict[str, Any], path: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    summary = report["summary"]
    labels, values = [], []
    for name, m in summary["entity"].items():
        labels.append(textwrap.fill(f"entity {name.replace('_', ' ')} F1", 14))
        values.append(m["f1"])
    for name, m in summary["descriptive"].items():
        labels.append(textwrap.fill(f"descriptive {name} nDCG@10", 14))
        values.append(m["ndcg@10"])
    fig, ax = plt.subplots(figsize=(max(6, len(labels) * 1.2), 4))
    bars = ax.bar(range(len(labels)), values)
    ax.bar_label(bars, fmt="%.2f", fontsize=7)
    ax.set_xticks(range(len(labels)), labels, fontsize=7)
    ax.set_ylim(0, 1.1)
    ax.set_title(f"demo lab questions (permission leaks: {summary['permission']['leaks']})")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


REAL_COLUMNS = ("n", "precision", "recall", "f1", "count_ok", "complete", "false_complete", "leaks")


def real_markdown(real: dict[str, Any]) -> str:
    """The real-data question set: per source and per question type, then the failures."""
    if "summary" not in real:
        return f"## Real lab metadata\n\nSkipped: {real.get('skipped', 'not run')}."
    summary = real["summary"]
    parts = [
        "## Real lab metadata (public SRA, SDRF and ISA-Tab tables)",
        "Timings (s): " + ", ".join(f"{k}={v}" for k, v in real["timings"].items()),
    ]
    for axis in ("by_source", "by_type"):
        rows = [[name, *(m[c] for c in REAL_COLUMNS)] for name, m in summary[axis].items()]
        rows.append(["all", *(summary["all"][c] for c in REAL_COLUMNS)])
        parts += [f"### {axis.replace('_', ' ')}", markdown_table(["", *REAL_COLUMNS], rows)]
    if summary["failures"]:
        failures = summary["failures"]
        parts += [f"### Failures ({len(failures)})", failures_markdown(failures)]
    return "\n\n".join(parts)


def real_chart(real: dict[str, Any], path: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    by_type = real["summary"]["by_type"]
    names = list(by_type)
    fig, ax = plt.subplots(figsize=(max(6, len(names) * 0.9), 4))
    xs = range(len(names))
    ax.bar([x - 0.2 for x in xs], [by_type[n]["f1"] for n in names], 0.4, label="F1")
    ax.bar(
        [x + 0.2 for x in xs],
        [by_type[n]["false_complete"] / by_type[n]["n"] for n in names],
        0.4,
        label="false-complete share",
        color="C3",
    )
    ax.set_xticks(list(xs), [textwrap.fill(n.replace("_", " "), 12) for n in names], fontsize=7)
    ax.set_ylim(0, 1.1)
    ax.set_title("real lab metadata: exact-set F1 and false-complete answers by question type")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def write_report(out_dir: Path, report: dict[str, Any], kind: str) -> list[Path]:
    """report.json, report.md and chart PNGs in `out_dir` (created); `kind` is beir or lab (a lab
    report holds the demo lab's set, the real-data set under "real", or both)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    json_path = out_dir / "report.json"
    json_path.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n")
    written = [json_path]
    sections = []
    if kind == "beir":
        sections.append(beir_markdown(report) + "\n\n![chart](chart.png)")
        written.append(beir_chart(report, out_dir / "chart.png"))
    if kind == "lab" and "summary" in report:
        sections.append(lab_markdown(report) + "\n\n![chart](chart.png)")
        written.append(lab_chart(report, out_dir / "chart.png"))
    if kind == "lab" and "real" in report:
        sections.append(real_markdown(report["real"]))
        if "summary" in report["real"]:
            written.append(real_chart(report["real"], out_dir / "chart-real.png"))
            sections[-1] += "\n\n![real-data chart](chart-real.png)"
    md_path = out_dir / "report.md"
    md_path.write_text(f"# labsearch eval {kind}\n\n" + "\n\n".join(sections) + "\n")
    return [json_path, md_path, *written[1:]]
