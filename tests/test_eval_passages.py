"""Max-passage dense scores (eval/passages.py), measured by `eval.tune --passages`: windows of
whole sentences that each fit the model, and a document's score from its best passage."""

from __future__ import annotations

import numpy as np
import pytest

from eval.options import parse_option
from eval.passages import MODEL_WINDOW, max_passage_scores, passages


def words(text: str) -> int:
    return len(text.split())


def test_a_text_the_model_reads_whole_has_no_passages():
    assert passages("Short title", "One sentence. Another one.", words) == []


def test_long_text_becomes_overlapping_windows_of_whole_sentences_under_the_title():
    sentences = [f"Sentence {i} " + "word " * 28 + "end." for i in range(20)]  # 31 words each
    body = " ".join(sentences)
    assert words(body) > MODEL_WINDOW
    windows = passages("A title", body, words, window=100)
    assert len(windows) > 1
    for window in windows:
        assert window.startswith("A title\n")
        assert words(window) <= 100
        text = window.split("\n", 1)[1]
        # whole sentences only: every window is a run of consecutive sentences
        assert any(text == " ".join(sentences[i : i + n]) for i in range(20) for n in (1, 2, 3))
    # every sentence is read, and each window opens with the sentence that closed the last one
    covered = " ".join(w.split("\n", 1)[1] for w in windows)
    assert all(s in covered for s in sentences)
    for before, after in zip(windows, windows[1:], strict=False):
        last = "Sentence" + before.rsplit("Sentence", 1)[1]
        assert after.split("\n", 1)[1].startswith(last)


def test_a_sentence_longer_than_the_window_is_still_a_passage():
    body = "Long " * 300 + "end. Short one."
    windows = passages("T", body, words, window=50)
    assert windows[0].startswith("T\nLong") and windows[-1].endswith("Short one.")


def test_max_passage_score_mixes_the_document_and_its_best_passage():
    documents = np.array([[1.0, 0.0], [0.0, 1.0]])
    parts = np.array([[0.6, 0.8], [0.8, 0.6]])  # both passages belong to document 0
    query = np.array([0.0, 1.0])
    scores = max_passage_scores(documents, parts, [0, 0], query, passage_share=0.7)
    # document 0: own cosine 0, best passage 0.8; document 1 has no passages: its own 1.0
    assert scores == pytest.approx([0.3 * 0.0 + 0.7 * 0.8, 1.0])
    assert max_passage_scores(documents, np.zeros((0, 2)), [], query) == pytest.approx([0.0, 1.0])


def test_options_are_named_or_spelled_out():
    assert parse_option("default") == ("default", {})
    assert parse_option("mine:fusion_method=zscore,bm25_weight=0.7,candidates=300") == (
        "mine",
        {"fusion_method": "zscore", "bm25_weight": 0.7, "candidates": 300},
    )
    with pytest.raises(SystemExit, match="unknown option"):
        parse_option("nonesuch")
