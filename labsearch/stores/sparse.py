"""BM25 for the embedded store from an in-memory inverted index, over the rows a caller may see.

Why not FTS5's bm25(): FTS5 scores every row that matches any query term (it has no dynamic
pruning), and a question's common words match a large share of an index: SciFact questions
matched 27% of the rows on average, so a million rows cost over a second per query
(bench/scale.py). Here each term's postings are numpy arrays scored with vectorised operations,
and the caller's permissions and filter are a mask applied inside the scoring.

The statistics BM25 needs (row count, document frequencies, average length) are counted over
the rows the caller may see, not the whole index: a score never reflects rows the caller cannot
see. The formula is FTS5's bm25() with the same column weights (fts_query.WEIGHTS): a term's
frequency in a row is the weighted sum of its hits per column, the length is the row's token
count, k1 = 1.2 and b = 0.75. FTS5 stays for what it does well: snippets and `match`.

Tokens follow the FTS5 table's tokenizer (unicode61 with '-' and '_' inside tokens, case and
diacritics folded, Porter stemming), so query terms (fts_query.terms) find the same words.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from itertools import chain

import numpy as np
import Stemmer

from labsearch.stores import fts_query

K1, B = 1.2, 0.75
_TOKEN = re.compile(r"[\w-]+")
_STEMMER = Stemmer.Stemmer("porter")
_MERGE_RATIO = 2  # a segment is merged into the one before it once it is at least half its size


_COMBINING = re.compile("[\u0300-\u036f]")  # the diacritics unicode61 removes from letters


def _fold(text: str) -> str:
    text = text.lower()
    if text.isascii():
        return text
    return _COMBINING.sub("", unicodedata.normalize("NFKD", text))


def tokens(text: str) -> list[str]:
    """The stemmed tokens of `text`, in order."""
    return _STEMMER.stemWords(_TOKEN.findall(_fold(text)))


@dataclass
class _Segment:
    """Postings of a run of rows, by term: rows of term t are positions[offsets[t]:offsets[t+1]]
    (terms added to the vocabulary later have none here)."""

    offsets: np.ndarray  # int64, vocabulary size at build + 1
    positions: np.ndarray  # int32 row positions
    frequencies: np.ndarray  # float32 weighted hits

    @property
    def postings(self) -> int:
        return len(self.positions)

    def of(self, term: int) -> tuple[np.ndarray, np.ndarray]:
        if term + 1 >= len(self.offsets):
            return self.positions[:0], self.frequencies[:0]
        start, end = self.offsets[term], self.offsets[term + 1]
        return self.positions[start:end], self.frequencies[start:end]

    def term_ids(self) -> np.ndarray:
        return np.repeat(np.arange(len(self.offsets) - 1), np.diff(self.offsets))


def _segment(terms: np.ndarray, positions: np.ndarray, frequencies: np.ndarray, vocab: int):
    order = np.argsort(terms, kind="stable")  # by term, then by row (rows arrive in order)
    counts = np.bincount(terms, minlength=vocab)
    offsets = np.zeros(vocab + 1, dtype=np.int64)
    np.cumsum(counts, out=offsets[1:])
    return _Segment(offsets, positions[order].astype(np.int32), frequencies[order])


@dataclass
class QueryTerm:
    """One OR-ed query clause: a token, and for a compound token ("LIV-0042") its pieces, which
    also match when all of them occur (FTS5 matches them as an adjacent phrase)."""

    token: str
    pieces: list[str]


def query_terms(text: str) -> list[QueryTerm]:
    found = []
    for term in fts_query.terms(text):
        stemmed = tokens(term)
        if not stemmed:
            continue
        pieces = [p for piece in fts_query.pieces(term) for p in tokens(piece)]
        found.append(QueryTerm(stemmed[0], pieces))
    return found


class SparseIndex:
    """Weighted term frequencies per row position, with row lengths. Positions are the vector
    cache's; the caller appends rows in order and compacts both together."""

    def __init__(self) -> None:
        self.vocabulary: dict[str, int] = {}
        self.segments: list[_Segment] = []
        self.lengths = np.empty(0, dtype=np.float32)

    # ---------------------------------------------------------------- building

    def append(self, start: int, rows: Sequence[Sequence[str]]) -> None:
        """Index rows at positions start, start+1, ...; each row is its FTS columns' texts."""
        texts, owners, weights = [], [], []
        for offset, columns in enumerate(rows):
            for weight, text in zip(fts_query.WEIGHTS, columns, strict=True):
                if text:
                    texts.append(text)
                    owners.append(offset)
                    weights.append(weight)
        # Whole batches at a time: each distinct word is stemmed and looked up once, and the
        # per-token work is numpy's (a million rows are indexed in about a minute).
        found = [_TOKEN.findall(_fold(text)) for text in texts]
        flat = list(chain.from_iterable(found))
        unique = list(set(flat))
        vocabulary = self.vocabulary
        term_of = {
            word: vocabulary.setdefault(stem, len(vocabulary))
            for word, stem in zip(unique, _STEMMER.stemWords(unique), strict=True)
        }
        terms = np.fromiter(map(term_of.__getitem__, flat), dtype=np.int64, count=len(flat))
        per_text = np.fromiter(map(len, found), dtype=np.int64, count=len(found))
        local = np.repeat(np.asarray(owners, dtype=np.int64), per_text)
        self._reserve(start + len(rows))
        self.lengths[start : start + len(rows)] = np.bincount(local, minlength=len(rows))
        if not len(terms):
            return
        pairs, inverse = np.unique(terms * len(rows) + local, return_inverse=True)
        frequencies = np.bincount(
            inverse, weights=np.repeat(np.asarray(weights, dtype=np.float64), per_text)
        )
        self.segments.append(
            _segment(
                pairs // len(rows),
                (start + pairs % len(rows)).astype(np.int32),
                frequencies.astype(np.float32),
                len(vocabulary),
            )
        )
        self._merge()

    def _reserve(self, needed: int) -> None:
        if needed > len(self.lengths):
            grown = np.zeros(max(needed + needed // 4, 2 * len(self.lengths), 1024), np.float32)
            grown[: len(self.lengths)] = self.lengths
            self.lengths = grown

    def _merge(self) -> None:
        """Keep few segments (each query looks in all of them): merge the newest into the one
        before while it is at least half that one's size, so rows are re-sorted O(log n)
        times over the index's life."""
        while len(self.segments) > 1 and (
            self.segments[-1].postings * _MERGE_RATIO >= self.segments[-2].postings
        ):
            newer, older = self.segments.pop(), self.segments.pop()
            self.segments.append(self._joined([older, newer]))

    def _joined(self, segments: list[_Segment]) -> _Segment:
        return _segment(
            np.concatenate([s.term_ids() for s in segments]),
            np.concatenate([s.positions for s in segments]),
            np.concatenate([s.frequencies for s in segments]),
            len(self.vocabulary),
        )

    def compact(self, keep: np.ndarray) -> None:
        """Drop the rows at positions where `keep` is False and renumber the rest."""
        renumbered = np.cumsum(keep) - 1
        compacted = []
        for segment in self.segments:
            kept = keep[segment.positions]
            terms = segment.term_ids()[kept]
            compacted.append(
                _segment(
                    terms,
                    renumbered[segment.positions[kept]].astype(np.int32),
                    segment.frequencies[kept],
                    len(self.vocabulary),
                )
            )
        self.segments = compacted
        self.lengths = self.lengths[: len(keep)][keep].copy()

    # ---------------------------------------------------------------- persistence

    def state(self) -> dict[str, np.ndarray]:
        merged = self._joined(self.segments) if self.segments else None
        vocabulary = "\n".join(self.vocabulary).encode()
        return {
            "sparse_vocabulary": np.frombuffer(vocabulary, dtype=np.uint8),
            "sparse_offsets": merged.offsets if merged else np.zeros(1, np.int64),
            "sparse_positions": merged.positions if merged else np.zeros(0, np.int32),
            "sparse_frequencies": merged.frequencies if merged else np.zeros(0, np.float32),
        }

    @classmethod
    def from_state(cls, saved: dict[str, np.ndarray], lengths: np.ndarray) -> SparseIndex:
        index = cls()
        words = bytes(saved["sparse_vocabulary"]).decode()
        index.vocabulary = {word: i for i, word in enumerate(words.split("\n"))} if words else {}
        segment = _Segment(
            saved["sparse_offsets"], saved["sparse_positions"], saved["sparse_frequencies"]
        )
        index.segments = [segment] if segment.postings else []
        index.lengths = lengths.astype(np.float32)
        return index

    # ---------------------------------------------------------------- scoring

    def _hits(self, token: str, size: int) -> tuple[np.ndarray, np.ndarray]:
        term = self.vocabulary.get(token)
        if term is None:
            return np.empty(0, np.int32), np.empty(0, np.float32)
        found = [segment.of(term) for segment in self.segments]
        positions = np.concatenate([p for p, _ in found]) if found else np.empty(0, np.int32)
        frequencies = np.concatenate([f for _, f in found]) if found else np.empty(0, np.float32)
        inside = positions < size
        return positions[inside], frequencies[inside]

    def _clause(self, term: QueryTerm, size: int) -> tuple[np.ndarray, np.ndarray]:
        """Rows matching one clause and their weighted frequencies."""
        positions, frequencies = self._hits(term.token, size)
        if len(term.pieces) < 2:
            return positions, frequencies
        # The pieces count where all of them occur, as often as the rarest of them.
        together = np.full(size, np.inf, dtype=np.float32)
        for piece in term.pieces:
            at, weight = self._hits(piece, size)
            present = np.zeros(size, dtype=np.float32)
            present[at] = weight
            np.minimum(together, present, out=together)
        together[positions] += frequencies
        matched = np.flatnonzero(together > 0)
        return matched.astype(np.int32), together[matched]

    def matching(self, terms: Iterable[QueryTerm], allowed: np.ndarray) -> np.ndarray:
        """Positions among `allowed` that match any term, in order."""
        size = len(allowed)
        matched = np.zeros(size, dtype=bool)
        for term in terms:
            positions, _ = self._clause(term, size)
            matched[positions] = True
        return np.flatnonzero(matched & allowed)

    def search(
        self,
        terms: Iterable[QueryTerm],
        visible: np.ndarray,
        allowed: np.ndarray,
        depth: int,
    ) -> list[tuple[int, float]]:
        """(position, score) of the `depth` best rows among `allowed` that match any term, best
        first, equal scores by position. Statistics come from the `visible` rows."""
        size = len(visible)
        rows = int(visible.sum())
        if not rows or depth <= 0:
            return []
        average = float(self.lengths[:size][visible].mean()) or 1.0
        norm = K1 * (1 - B + B * self.lengths[:size] / average)
        scores = np.zeros(size, dtype=np.float32)
        matched = np.zeros(size, dtype=bool)
        for term in terms:
            positions, frequencies = self._clause(term, size)
            if not len(positions):
                continue
            documents = int(np.count_nonzero(visible[positions]))
            idf = np.log((rows - documents + 0.5) / (documents + 0.5))
            idf = idf if idf > 0 else 1e-6  # as FTS5: a very common term still counts a little
            use = allowed[positions]
            positions, frequencies = positions[use], frequencies[use]
            scores[positions] += idf * frequencies * (K1 + 1) / (frequencies + norm[positions])
            matched[positions] = True
        candidates = np.flatnonzero(matched)
        if not len(candidates):
            return []
        ranked = scores[candidates]
        if len(candidates) > depth:
            keep = np.argpartition(-ranked, depth - 1)[:depth]
            candidates, ranked = candidates[keep], ranked[keep]
        order = np.lexsort((candidates, -ranked))
        return [(int(candidates[i]), float(ranked[i])) for i in order]
