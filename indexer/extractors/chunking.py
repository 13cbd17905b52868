"""Token-based chunking of long text (tiktoken's cl100k_base, offline: see labsearch/tokens.py)."""

from __future__ import annotations

from labsearch.tokens import count_tokens, encoding

__all__ = ["chunk_text", "count_tokens", "encoding"]

CHUNK_TOKENS = 400
CHUNK_OVERLAP = 50
# Tokens kept in Summary.text for long documents: about an abstract, and what the embedding
# model (256 word pieces) sees anyway.
HEAD_TOKENS = 200
# A 30 MB log is not 20,000 useful passages: index the first MAX_CHUNKS (~80k tokens) only.
MAX_CHUNKS = 200
# cl100k_base averages ~4 characters per token on English; 6 leaves room for dense text.
_CHARS_PER_TOKEN = 6


def _word_start(tokens: list[int], index: int, low: int) -> int:
    """Move a cut point back (at most 10 tokens, never below `low`) to a token that starts a
    word, so chunks neither begin mid-word nor split a multi-byte character."""
    enc = encoding()
    for candidate in range(index, max(low, index - 10), -1):
        if enc.decode_single_token_bytes(tokens[candidate])[:1] in (b" ", b"\n", b"\t"):
            return candidate
    return index


def chunk_text(
    text: str,
    max_tokens: int = CHUNK_TOKENS,
    overlap: int = CHUNK_OVERLAP,
    max_chunks: int = MAX_CHUNKS,
) -> list[str]:
    """Consecutive passages of at most `max_tokens` tokens, each sharing ~`overlap` tokens with
    the previous one so a sentence cut at a boundary is whole in one of them. At most
    `max_chunks` passages, from the beginning of the text."""
    if not 0 <= overlap < max_tokens:
        raise ValueError(f"overlap ({overlap}) must be >= 0 and < max_tokens ({max_tokens})")
    enc = encoding()
    # Encode only what can end up in a chunk: tokenizing 30 MB to keep 300 KB is wasted time.
    text = text[: max_chunks * (max_tokens - overlap) * _CHARS_PER_TOKEN + max_tokens * 10]
    tokens = enc.encode(text, disallowed_special=())
    if not tokens:
        return []
    chunks, start = [], 0
    while True:
        end = min(start + max_tokens, len(tokens))
        if end < len(tokens):
            end = _word_start(tokens, end, start + 1)
        chunk = enc.decode(tokens[start:end]).strip()
        if chunk:
            chunks.append(chunk)
        if end >= len(tokens) or len(chunks) >= max_chunks:
            return chunks
        start = _word_start(tokens, max(end - overlap, start + 1), start + 1)


def head(text: str, max_tokens: int = HEAD_TOKENS) -> str:
    """The beginning of `text`, at most `max_tokens` tokens, cut at a word start."""
    enc = encoding()
    tokens = enc.encode(text[: max_tokens * _CHARS_PER_TOKEN * 2], disallowed_special=())
    if len(tokens) <= max_tokens:
        return text.strip()
    return enc.decode(tokens[: _word_start(tokens, max_tokens, 1)]).strip() + " …"
