"""`eval lab --out DIR`: the Markdown report and charts of the demo and real-data sets."""

from __future__ import annotations

from eval.report import write_report


def summary_row(**values):
    row = {"n": 2, "precision": 1.0, "recall": 0.5, "f1": 0.6667, "count_ok": 1.0}
    return row | {"complete": 0.5, "false_complete": 0, "leaks": 0} | values


def test_a_lab_report_shows_both_sets_and_what_failed(tmp_path):
    failure = {"id": "real-1", "user": "bob", "question": "runs of X?", "complete": False}
    report = {
        "lab": {"seed": 7, "runs": 60},
        "timings": {"questions_s": 1.0},
        "summary": {
            "entity": {
                "all": {"n": 1, "precision": 1.0, "recall": 1.0, "f1": 1.0, "count_ok": 1.0}
            },
            "descriptive": {"all": {"n": 1, "recall@10": 1.0, "ndcg@10": 0.9}},
            "permission": {"n": 1, "leaks": 0},
            "failures": [],
        },
        "real": {
            "timings": {"questions_s": 2.0},
            "summary": {
                "by_source": {"sra": summary_row()},
                "by_type": {"runs_of_sample": summary_row()},
                "all": summary_row(),
                "failures": [failure | {"missing": ["run:SRR1"]}],
            },
        },
    }
    written = write_report(tmp_path, report, "lab")
    names = {path.name for path in written}
    assert names == {"report.json", "report.md", "chart.png", "chart-real.png"}
    markdown = (tmp_path / "report.md").read_text()
    assert "## Demo lab (seed 7, 60 runs)" in markdown and "## Real lab metadata" in markdown
    assert "- `real-1` (bob, complete=False): runs of X? — " in markdown
    assert '"missing": ["run:SRR1"]' in markdown
    assert (tmp_path / "chart-real.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_a_real_set_that_was_skipped_says_why(tmp_path):
    write_report(tmp_path, {"real": {"skipped": "no real lab metadata at /x"}}, "lab")
    assert "Skipped: no real lab metadata at /x." in (tmp_path / "report.md").read_text()
