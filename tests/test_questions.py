"""Question understanding: paraphrases of list/count questions become the same structured query."""

from __future__ import annotations

from datetime import date

import pytest

from labsearch import filters
from retriever.questions import EntityQuestion, understand

KNOWN = {"LIV-0042", "ELN-123", "BRN-0107"}
INSTRUMENTS = ["NovaSeq 6000", "HiSeq 2500", "MiSeq"]
TODAY = date(2026, 11, 23)


def ask(query: str, previous: EntityQuestion | None = None, previous_filter=None):
    return understand(
        query,
        known_identifiers=lambda candidates: [c for c in candidates if c in KNOWN],
        instruments=INSTRUMENTS,
        today=TODAY,
        previous=previous,
        previous_filter=previous_filter,
    )


@pytest.mark.parametrize(
    "query",
    [
        "which runs used sample LIV-0042?",
        "runs that used LIV-0042",
        "LIV-0042 was sequenced in which runs?",
        "list the sequencing runs for sample LIV-0042",
        "Which sequencing runs include liv-0042",
        "show me all runs with LIV-0042",
    ],
)
def test_paraphrases_of_runs_for_sample(query):
    question = ask(query)
    assert question is not None
    assert (question.question_type, question.target, question.subject_ids) == (
        "list",
        "run",
        ["LIV-0042"],
    )


def test_count_question_on_instrument_family():
    question = ask("how many runs on the NovaSeq?")
    assert question.question_type == "count"
    assert question.target == "run"
    assert question.instruments == ["NovaSeq 6000"]


def test_relative_dates_and_sequencing_verb():
    question = ask("what did we sequence on the NovaSeq last month?")
    assert question.target == "run"
    assert (question.date_from, question.date_to) == ("2026-10-01", "2026-11-01")
    node = filters.parse(question.filters())
    run = {"entity": "run", "kind": "package", "metadata": {"instrument": "NovaSeq 6000"}}
    assert filters.matches(node, {**run, "metadata": {**run["metadata"], "date": "2026-10-15"}})
    assert not filters.matches(node, {**run, "metadata": {**run["metadata"], "date": "2026-11-02"}})


def test_processed_data_for_experiment():
    question = ask("where is the processed data for ELN-123?")
    assert question.target == "package"
    assert question.data_level.value == "processed"
    assert question.subject_ids == ["ELN-123"]


def test_files_from_experiment():
    question = ask("which files came from experiment ELN-123")
    assert (question.target, question.subject_ids) == ("file", ["ELN-123"])


def test_descriptive_questions_are_not_entity_questions():
    assert ask("RNA-seq of liver under dexamethasone") is None
    assert ask("which runs had the best quality?") is None  # no subject: a ranking question
    assert ask("what do we know about dexamethasone v2?") is None


def test_follow_up_narrows_previous_result():
    first = ask("which runs used sample LIV-0042?")
    previous_filter = first.filters()
    follow = ask("which of those were on the HiSeq?", first, previous_filter)
    assert follow.base_filter == previous_filter
    assert follow.instruments == ["HiSeq 2500"]
    node = filters.parse(follow.filters())
    hiseq_run = {"entity": "run", "metadata": {"samples": ["LIV-0042"], "instrument": "HiSeq 2500"}}
    nova_run = {**hiseq_run, "metadata": {"samples": ["LIV-0042"], "instrument": "NovaSeq 6000"}}
    mentions_only = {
        **hiseq_run,
        "identifiers": ["LIV-0042"],
        "metadata": {"instrument": "HiSeq 2500"},
    }
    assert filters.matches(node, hiseq_run)
    assert not filters.matches(node, nova_run)
    assert not filters.matches(node, mentions_only)  # a mention is not a use


def test_follow_up_switches_subject():
    first = ask("which runs used sample LIV-0042?")
    follow = ask("and for sample BRN-0107?", first, first.filters())
    assert (follow.target, follow.subject_ids, follow.base_filter) == ("run", ["BRN-0107"], None)


def test_unknown_identifier_is_an_empty_list_question_not_a_search():
    """Missing and forbidden look the same: a list question over ids the caller cannot see."""
    question = ask("which runs used sample XYZ-9999?")
    assert (question.target, question.subject_ids) == ("run", ["XYZ-9999"])
