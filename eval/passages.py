"""Passages of documents longer than the embedding model reads, for max-passage dense scores.

all-MiniLM-L6-v2 reads 256 word pieces; 3,681 of SciFact's 5,183 abstracts are longer, so the
document vector never sees their end. `passages()` cuts such a text into windows of whole
sentences (at most `window` word pieces with the title, consecutive windows sharing a sentence),
each starting with the title; `max_passage_scores()` scores a document by the best of its
vector and its passages' vectors. Measured offline by `python -m eval.tune --passages`
(docs/evaluation.md, "Options"); not used by the service.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

import numpy as np

# A sentence ends at . ! or ? followed by space and a capital, digit or bracket ("et al. in" and
# "p < 0.05." inside a sentence stay whole often enough for windows of several sentences).
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9(\[])")
MODEL_WINDOW = 254  # 256 word pieces less [CLS] and [SEP]


def passages(title: str, body: str, count: Callable[[str], int], window: int = 200) -> list[str]:
    """Windows of `body`'s sentences, each prefixed by `title`, or [] when title and body fit
    in the model's window. `count` gives a text's word pieces (the model's tokenizer)."""
    if count(f"{title}\n{body}") <= MODEL_WINDOW:
        return []
    sentences = _SENTENCE_END.split(body.strip())
    sizes = [count(s) for s in sentences]
    budget = window - count(title)
    windows, start = [], 0
    while start < len(sentences):
        end, used = start, 0
        while end < len(sentences) and (used + sizes[end] <= budget or end == start):
            used += sizes[end]
            end += 1
        windows.append(f"{title}\n" + " ".join(sentences[start:end]))
        if end >= len(sentences):
            return windows
        start = max(end - 1, start + 1)  # the last sentence opens the next window too
    return windows


def max_passage_scores(
    documents: np.ndarray,
    passage_vectors: np.ndarray,
    passage_document: Sequence[int],
    query: np.ndarray,
    passage_share: float = 0.7,
) -> np.ndarray:
    """Per document: (1 - share) * cosine(document) + share * max(cosine of the document and of
    each of its passages). Rows of `documents` and `passage_vectors` are L2-normalised."""
    whole = documents @ query
    best = whole.copy()
    if len(passage_vectors):
        np.maximum.at(best, np.asarray(passage_document), passage_vectors @ query)
    return (1 - passage_share) * whole + passage_share * best
