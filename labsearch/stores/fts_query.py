"""Turn raw user text into a safe SQLite FTS5 query, and the FTS5 settings that go with it.

User text is never passed to FTS5 as syntax: every term is double-quoted, so `AND`, `NEAR`, `*`,
`:`, `"` or `(` in a question cannot break or change the query. Terms are OR-ed, which gives
BM25 semantics (more matching terms and rarer terms score higher) instead of requiring all terms.

Identifiers such as "LIV-0042" or "SRR5124371" must stay single tokens, so the tokenizer keeps
`-` and `_` inside tokens. That would hide "dexamethasone" inside "dexamethasone-treated", so the
index also stores the pieces of such compound tokens in a low-weight `parts` column, and a
compound query term also matches its pieces as an adjacent phrase.
"""

from __future__ import annotations

import re

# The tokenizer: Porter stemming over unicode61 with '-' and '_' kept inside tokens.
TOKENIZER = "porter unicode61 tokenchars '-_'"
# FTS5 columns, in order, and their BM25 weights: a hit in the title or identifiers says more
# about an asset than a hit somewhere in its text; pieces of compound tokens say least.
COLUMNS = ("title", "identifiers", "text", "parts")
WEIGHTS = (4.0, 6.0, 1.0, 0.5)

_TOKEN = re.compile(r"[\w-]+")
_SEPARATORS = re.compile(r"[-_]+")

# Very common English words add cost (they match most assets) and no ranking signal.
STOPWORDS = frozenset(
    {
        "a",
        "about",
        "all",
        "an",
        "and",
        "any",
        "are",
        "as",
        "at",
        "be",
        "by",
        "can",
        "could",
        "did",
        "do",
        "does",
        "find",
        "for",
        "from",
        "give",
        "has",
        "have",
        "how",
        "i",
        "in",
        "is",
        "it",
        "its",
        "list",
        "me",
        "my",
        "of",
        "on",
        "or",
        "our",
        "please",
        "should",
        "show",
        "tell",
        "that",
        "the",
        "their",
        "there",
        "these",
        "this",
        "those",
        "to",
        "was",
        "were",
        "what",
        "when",
        "where",
        "which",
        "who",
        "with",
        "would",
    }
)


# Each term is one more posting list to merge and one more pattern to highlight: a question
# never needs more, and a pasted page of text must not cost seconds.
MAX_TERMS = 48


def terms(text: str) -> list[str]:
    """Query terms as the tokenizer will see them (case kept; FTS5 folds case itself), the
    first MAX_TERMS distinct ones."""
    # Leading/trailing dashes ("-kidney", "RNA-") are punctuation, not part of a token.
    found = [t for t in (t.strip("-_") for t in _TOKEN.findall(text)) if t]
    unique = list(dict.fromkeys(found))
    content = [t for t in unique if t.lower() not in STOPWORDS]
    return (content or unique)[:MAX_TERMS]


def pieces(token: str) -> list[str]:
    """Pieces of a compound token: "LIV-0042" -> ["LIV", "0042"]; a simple token -> []."""
    split = [p for p in _SEPARATORS.split(token) if p]
    return split if len(split) > 1 else []


# Starts only at a word's first character and never backtracks into a word (possessive
# quantifiers): the plain pattern retried every position of every word, a fifth of indexing.
_COMPOUND = re.compile(r"(?<![^\W_])[^\W_]++(?:[-_]++[^\W_]++)+")


def parts_column(*texts: str) -> str:
    """Content of the `parts` column: the pieces of every compound token in the texts."""
    # Only compound tokens have pieces; finding them directly keeps indexing fast.
    return " ".join(
        " ".join(_SEPARATORS.split(token))
        for text in texts
        if "-" in text or "_" in text
        for token in _COMPOUND.findall(text)
    )


def _quote(term: str) -> str:
    return '"' + term.replace('"', '""') + '"'


def match_expression(text: str) -> str | None:
    """An FTS5 MATCH expression for free text, or None when the text has no terms."""
    clauses = []
    for term in terms(text):
        split = pieces(term)
        if split:
            # The whole token, or its pieces next to each other ("liv" + "0042").
            phrase = " + ".join(_quote(p) for p in split)
            clauses.append(f"({_quote(term)} OR {phrase})")
        else:
            clauses.append(_quote(term))
    return " OR ".join(clauses) if clauses else None


def fallback_snippet(text: str, query: str, pre: str, post: str, width: int = 80) -> str | None:
    """A snippet around the first query term found in `text` (case-insensitive), for hits that
    matched only through the `parts` column, where FTS5's snippet() has nothing to mark."""
    for term in terms(query):
        found = re.search(rf"(?<!\w){re.escape(term)}(?!\w)", text, re.IGNORECASE)
        if found:
            start, end = found.span()
            left = max(0, start - width // 2)
            right = min(len(text), end + width // 2)
            prefix = "…" if left else ""
            suffix = "…" if right < len(text) else ""
            marked = f"{text[left:start]}{pre}{text[start:end]}{post}{text[end:right]}"
            return f"{prefix}{marked}{suffix}"
    return None
