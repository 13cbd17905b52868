"""`labsearch eval faithfulness`: the labelled set, and the scores of the scripted backend that
plants hallucinations (on the API fixtures' small corpus, not the 300-run demo)."""

from __future__ import annotations

import pytest
from api_fixtures import B_NOTE, B_SAMPLE, PUBLIC_PROTOCOL, api_settings, build_service

from eval.faithfulness import ask_all, citation_scores, load_questions, scripted_llm, summarize


def test_the_labelled_set_has_40_descriptive_questions_over_both_sources():
    header, questions = load_questions()
    assert len(questions) >= 40
    assert {q["source"] for q in questions} == {"demo", "real"}
    assert all(q["relevant"] and q["question"].strip() for q in questions)
    assert len({q["id"] for q in questions}) == len(questions)
    assert header["demo_seed"] == 7 and header["demo_runs"] == 300


def test_citation_precision_and_recall_match_parts_of_ids():
    cited = ["file:///x/protocols/SOP-001.pdf", "eln:lab:ELN-7"]
    assert citation_scores(cited, ["SOP-001.pdf"]) == (0.5, 1.0)
    assert citation_scores(cited, ["SOP-001.pdf", "ELN-8"]) == (0.5, 0.5)
    assert citation_scores([], ["SOP-001.pdf"]) == (0.0, 0.0)


@pytest.fixture(scope="module")
def service(tmp_path_factory, embedder):
    settings = api_settings(tmp_path_factory.mktemp("faithfulness-home"), llm="openai")
    return build_service(settings, embedder), settings


def test_scripted_hallucinations_are_removed_and_true_sentences_kept(service):
    questions = [
        {
            "id": "T1",
            "source": "demo",
            "question": "what is the RNA extraction protocol?",
            "relevant": [PUBLIC_PROTOCOL],
        },
        {
            "id": "T2",
            "source": "demo",
            "question": "what does the kidney ATAC-seq notebook say?",
            "relevant": [B_NOTE, B_SAMPLE],
        },
    ]
    scores = ask_all({"demo": service}, questions, scripted_llm())
    summary = summarize(scores, "scripted")
    assert summary["planted_removed"] == 1.0
    assert summary["true_kept"] == 1.0
    assert summary["supported_final"] == 1.0 and summary["uncited_final"] == 0
    assert summary["fallback"] == 0.0
    assert summary["sentences"] == 10 and summary["supported_raw"] == 0.4
    assert 0 < summary["citation_precision"] <= 1 and 0 < summary["citation_recall"] <= 1
    for score in scores:
        assert "ZZQ-9042" not in score.text and "reverse transcription" not in score.text


@pytest.mark.slow
def test_the_local_model_after_grounding_says_only_what_its_citations_say(service):
    """The real SmolLM2 GGUF: whatever it writes, a final answer's sentences are supported by
    the assets they cite and none is uncited (the floor of issue 24's acceptance)."""
    pytest.importorskip("llama_cpp", reason="needs the local-llm extra (llama-cpp-python)")
    from chat_api.llm import build_llm

    questions = [
        {"id": "L1", "source": "demo", "question": q, "relevant": [PUBLIC_PROTOCOL, B_SAMPLE]}
        for q in (
            "what is the RNA extraction protocol?",
            "what is sample KID-0007?",
            "what does the kidney ATAC-seq notebook say?",
        )
    ]
    llm = build_llm(service[1].with_overrides(llm="local"))
    scores = ask_all({"demo": service}, questions, llm)
    summary = summarize(scores, "local")
    for score in scores:  # a generated answer that kept nothing said so and gave the search's
        assert score.final_sentences > 0 or (
            score.fallback and score.text.startswith("The generated answer was withdrawn")
        )
    assert summary["uncited_final"] == 0
    if summary["final_sentences"]:
        assert summary["supported_final"] >= 0.95
