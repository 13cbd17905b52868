"""Metric functions on hand-computed cases, and the fusion functions they are tuned with."""

from __future__ import annotations

import math

import pytest

from eval.beir import load_beir
from eval.lab import KeyMap, owner_groups
from eval.metrics import mrr_at_k, ndcg_at_k, percentile, recall_at_k, set_scores
from labsearch.errors import ConfigError, InvalidRequestError
from labsearch.stores.fusion import fuse, min_max, z_scores


def test_ndcg_binary_hand_computed():
    # Relevant d1, d3; ranking d2, d1, d3: DCG = 1/log2(3) + 1/log2(4); IDCG = 1 + 1/log2(3).
    relevance = {"d1": 1, "d3": 1, "d9": 0}
    expected = (1 / math.log2(3) + 0.5) / (1 + 1 / math.log2(3))
    assert ndcg_at_k(["d2", "d1", "d3"], relevance, 10) == pytest.approx(expected)
    assert ndcg_at_k(["d1", "d3"], relevance, 10) == pytest.approx(1.0)
    assert ndcg_at_k(["d9", "d8"], relevance, 10) == 0.0


def test_ndcg_graded_and_cut_at_k():
    relevance = {"a": 2, "b": 1}
    # Ideal: a (2) then b (1): 2 + 1/log2(3). Ranking b, a: 1 + 2/log2(3).
    ideal = 2 + 1 / math.log2(3)
    assert ndcg_at_k(["b", "a"], relevance, 10) == pytest.approx((1 + 2 / math.log2(3)) / ideal)
    # With k=1 only the first position counts, and the ideal is cut at 1 too: 1 / 2.
    assert ndcg_at_k(["b", "a"], relevance, 1) == pytest.approx(0.5)


def test_duplicates_count_once_at_best_rank():
    assert ndcg_at_k(["x", "x", "a"], {"a": 1}, 2) == pytest.approx(1 / math.log2(3))
    assert recall_at_k(["a", "a"], {"a": 1, "b": 1}, 2) == 0.5


def test_recall_and_mrr():
    relevance = {"a": 1, "b": 1, "c": 1, "z": 0}
    assert recall_at_k(["a", "x", "c", "z"], relevance, 100) == pytest.approx(2 / 3)
    assert recall_at_k(["x", "a"], relevance, 1) == 0.0
    assert mrr_at_k(["x", "y", "b"], relevance, 10) == pytest.approx(1 / 3)
    assert mrr_at_k(["x", "y", "b"], relevance, 2) == 0.0
    assert mrr_at_k(["z", "a"], relevance, 10) == 0.5  # a judged non-relevant doc is no hit


def test_percentile_interpolates():
    assert percentile([10, 20, 30, 40], 50) == 25.0
    assert percentile([1.0] * 19 + [100.0], 95) == pytest.approx(5.95)
    assert percentile([], 95) == 0.0


def test_set_scores():
    score = set_scores(["r1", "r2", "x"], ["r1", "r2", "r3", "r4"])
    assert (score.precision, score.recall) == (pytest.approx(2 / 3), 0.5)
    assert score.f1 == pytest.approx(2 * (2 / 3) * 0.5 / (2 / 3 + 0.5))
    assert score.missing == ("r3", "r4") and score.extra == ("x",)
    assert set_scores([], []).f1 == 1.0
    assert set_scores(["a"], []).f1 == 0.0
    assert set_scores([], ["a"]).f1 == 0.0


def test_rrf_hand_computed():
    bm25 = [("a", 9.0), ("b", 5.0)]
    dense = [("b", 0.9), ("c", 0.8)]
    fused = dict(fuse([bm25, dense], [1.0, 2.0], "rrf", rrf_k=10))
    assert fused["a"] == pytest.approx(1 / 11)
    assert fused["b"] == pytest.approx(1 / 12 + 2 / 11)
    assert fused["c"] == pytest.approx(2 / 12)
    assert [key for key, _ in fuse([bm25, dense], [1.0, 2.0], "rrf", 10)] == ["b", "c", "a"]


def test_convex_min_max_hand_computed():
    assert min_max([("a", 3.0), ("b", 2.0), ("c", 1.0)]) == {"a": 1.0, "b": 0.5, "c": 0.0}
    assert min_max([("a", 7.0)]) == {"a": 1.0}
    bm25 = [("a", 12.0), ("b", 8.0), ("c", 4.0)]
    dense = [("c", 0.9), ("b", 0.7), ("d", 0.5)]
    fused = dict(fuse([bm25, dense], [0.3, 0.7], "convex"))
    assert fused["a"] == pytest.approx(0.3)
    assert fused["b"] == pytest.approx(0.3 * 0.5 + 0.7 * 0.5)
    assert fused["c"] == pytest.approx(0.7)
    assert fused["d"] == pytest.approx(0.0)
    # Ties (a and c in a symmetric case) break by key, so the order is deterministic.
    order = fuse([[("c", 1.0), ("a", 0.0)], [("a", 1.0), ("c", 0.0)]], [1, 1], "convex")
    assert [key for key, _ in order] == ["a", "c"]


def test_zscore_hand_computed():
    # mean 8, population standard deviation sqrt(32/3): z = +-sqrt(3/2) and 0
    z = 1.5**0.5
    values, floor = z_scores([("a", 12.0), ("b", 8.0), ("c", 4.0)])
    assert values == pytest.approx({"a": z, "b": 0.0, "c": -z}) and floor == pytest.approx(-z)
    # One candidate (or equal scores) has no spread: it counts as the list's best, as in min-max.
    assert z_scores([("a", 7.0)]) == ({"a": 1.0}, 0.0)
    assert z_scores([]) == ({}, 0.0)
    bm25 = [("a", 12.0), ("b", 8.0), ("c", 4.0)]
    dense = [("c", 0.9), ("b", 0.7), ("d", 0.5)]
    fused = fuse([bm25, dense], [0.3, 0.7], "zscore")
    # A key missing from a list gets that list's lowest z-score (-z), not 0 (the mean).
    assert dict(fused) == pytest.approx(
        {"a": 0.3 * z - 0.7 * z, "b": 0.0, "c": -0.3 * z + 0.7 * z, "d": -z}
    )
    assert [key for key, _ in fused] == ["c", "b", "a", "d"]


def test_unknown_fusion_method_is_a_config_error():
    with pytest.raises(ConfigError, match="rrf, convex, zscore"):
        fuse([[("a", 1.0)]], [1.0], "borda")


def test_load_beir_reads_split_and_reports_bad_lines(tmp_path):
    (tmp_path / "qrels").mkdir()
    (tmp_path / "corpus.jsonl").write_text(
        '{"_id": "d1", "title": "T1", "text": "x"}\n{"_id": "d2", "title": "", "text": "y"}\n'
    )
    (tmp_path / "queries.jsonl").write_text(
        '{"_id": "q1", "text": "x?"}\n{"_id": "q2", "text": "z"}\n'
    )
    (tmp_path / "qrels" / "test.tsv").write_text(
        "query-id\tcorpus-id\tscore\nq1\td1\t1\nq2\td2\t0\n"
    )
    dataset = load_beir(tmp_path, "test")
    assert dataset.queries == {"q1": "x?"}  # q2 has no relevant document: not scored
    assert dataset.qrels == {"q1": {"d1": 1}}
    assert dataset.corpus["d2"] == ("", "y")
    with pytest.raises(InvalidRequestError, match="available splits: test"):
        load_beir(tmp_path, "dev")
    (tmp_path / "qrels" / "test.tsv").write_text("query-id\tcorpus-id\tscore\nq1\td1\tyes\n")
    with pytest.raises(InvalidRequestError, match=r"test.tsv:2: relevance score 'yes'"):
        load_beir(tmp_path, "test")
    (tmp_path / "corpus.jsonl").write_text('{"_id": "d1"}\n{broken\n')
    with pytest.raises(InvalidRequestError, match=r"corpus.jsonl:2: not valid JSON"):
        load_beir(tmp_path, "test")


def test_lab_keys_and_owners():
    keys = KeyMap("file:///tmp/lab/registry", "file:///tmp/lab/files")
    assert keys.key("quilt:file:///tmp/lab/registry#lab-a/raw-run-R1") == "package:lab-a/raw-run-R1"
    assert (
        keys.key("quilt:file:///tmp/lab/registry#lab-a/processed-ELN-1:counts/x.csv#chunk-2")
        == "entry:lab-a/processed-ELN-1:counts/x.csv"
    )
    assert keys.key("eln:lab-notebook:ELN-107") == "eln:ELN-107"
    assert keys.key("file:///tmp/lab/files/shared/p.md#chunk-0") == "file:shared/p.md"
    assert keys.member_key("quilt:x#y", "run", {"run_id": "R1"}) == "run:R1"
    truth = {
        "runs": {"R1": {"group": "lab-a"}},
        "packages": {"lab-b/final-ELN-2": {"group": "lab-b"}},
        "experiments": {"ELN-2": {"group": "lab-b"}},
        "samples": {},
        "files": {"shared/p.md": {"groups": ["lab-a", "lab-b"]}},
    }
    assert owner_groups("run:R1", truth) == ["lab-a"]
    assert owner_groups("entry:lab-b/final-ELN-2:README.md", truth) == ["lab-b"]
    assert owner_groups("eln:ELN-2", truth) == ["lab-b"]
    assert owner_groups("file:shared/p.md", truth) == ["lab-a", "lab-b"]
    assert owner_groups("s3://bucket/key", truth) is None


def test_unreviewed_questions_are_refused_with_their_line(tmp_path) -> None:
    """Exported thumbs-down questions carry no answer yet: scoring them must say so, not crash."""
    import json

    import pytest

    from eval.lab import load_questions
    from labsearch.errors import InvalidRequestError

    path = tmp_path / "feedback.jsonl"
    record = {"id": "fb-1", "kind": "entity", "question": "which runs used X?", "user": "alice"}
    path.write_text(json.dumps({"kind": "meta"}) + "\n" + json.dumps(record) + "\n")
    with pytest.raises(InvalidRequestError, match=r"feedback.jsonl:2: .*'fb-1' has no 'expected'"):
        load_questions(path)
