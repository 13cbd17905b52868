"""`eval lab` on a small demo lab: entity questions answered exactly, nothing leaks across labs.

The questions are generated from the small lab's own truth.json by eval/make_lab_questions.py
(the committed set belongs to the 60-run lab), then asked through the real SearchService on the
real index, as the question's user.
"""

from __future__ import annotations

import json

import pytest

from eval.lab import QUESTIONS_PATH, LabRun, evaluate_lab, load_questions

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def lab_run(tmp_path_factory) -> LabRun:
    from labsearch.settings import Settings

    # The embedding cache is the user's (LABSEARCH_CACHE_DIR or the default): it is keyed by
    # model and text hash, so sharing it only saves time.
    base = tmp_path_factory.mktemp("eval-lab")
    settings = Settings(home=base / "home", backend="embedded")
    return evaluate_lab(settings, base / "lab", seed=7, runs=40)


def _failures(run: LabRun, template: str) -> str:
    rows = [f for f in run.summary["failures"] if f["id"] and template in _template(run, f["id"])]
    return json.dumps(
        [{k: f.get(k) for k in ("id", "question", "missing", "extra", "why")} for f in rows]
    )


def _template(run: LabRun, question_id: str) -> str:
    return next(r.template for r in run.results if r.id == question_id)


@pytest.mark.parametrize(
    "template", ["runs_for_sample", "runs_on_instrument", "data_for_experiment"]
)
def test_entity_questions_are_answered_exactly(lab_run: LabRun, template: str) -> None:
    scores = lab_run.summary["entity"][template]
    assert scores["n"] >= 2
    assert scores["f1"] == 1.0, _failures(lab_run, template)
    assert scores["count_ok"] == 1.0, _failures(lab_run, template)


def test_files_for_experiment_find_every_file(lab_run: LabRun) -> None:
    scores = lab_run.summary["entity"]["files_for_experiment"]
    assert scores["recall"] == 1.0, _failures(lab_run, "files_for_experiment")


def test_files_for_experiment_are_exact(lab_run: LabRun) -> None:
    assert lab_run.summary["entity"]["files_for_experiment"]["f1"] == 1.0


def test_no_permission_leaks(lab_run: LabRun) -> None:
    permission = lab_run.summary["permission"]
    assert permission["n"] >= 8
    assert permission["leaks"] == 0, json.dumps(lab_run.summary["failures"])


def test_permission_questions_return_nothing_of_the_other_lab(lab_run: LabRun) -> None:
    # The outsider's entity questions about the other lab's sample resolve to nothing at all.
    outsider = [
        r for r in lab_run.results if r.kind == "permission" and "used sample" in r.question
    ]
    assert outsider and all(r.detail.get("count", 0) == 0 for r in outsider)


def test_descriptive_protocol_questions_find_the_protocol(lab_run: LabRun) -> None:
    files = lab_run.summary["descriptive"]["files"]
    assert files["recall@10"] == 1.0


def test_committed_question_set_is_well_formed() -> None:
    header, questions = load_questions(QUESTIONS_PATH)
    assert header["demo_seed"] == 7 and header["demo_runs"] > 0
    kinds = {q["kind"] for q in questions}
    assert kinds == {"entity", "descriptive", "permission"}
    assert len({q["id"] for q in questions}) == len(questions)
    templates = {q["template"].split("/")[-1] for q in questions if q["kind"] == "entity"}
    assert {"which_runs_used", "runs_that_used", "sequenced_in_which"} <= templates
