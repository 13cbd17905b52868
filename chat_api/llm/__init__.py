"""Language model backends behind one small interface (`LLM`), chosen by LABSEARCH_LLM.

`extractive` (the default) uses no model at all: `build_llm` returns None and the answerer uses
the retriever's deterministic answer. The other backends are LangChain chat models whose heavy
client libraries are imported only when selected.
"""

from __future__ import annotations

from chat_api.llm.base import LLM
from labsearch.settings import Settings


def build_llm(settings: Settings) -> LLM | None:
    """The configured backend, or None for `extractive`."""
    if settings.llm == "extractive":
        return None
    if settings.llm == "bedrock":
        from chat_api.llm.bedrock import bedrock_model

        return LLM(bedrock_model(settings), name=f"bedrock:{settings.bedrock_model_id}")
    if settings.llm == "openai":
        from chat_api.llm.openai import openai_model

        return LLM(openai_model(settings), name=f"openai:{settings.openai_model}")
    from chat_api.llm.local import COMPACT_PROMPT_TOKENS, local_model, local_model_path
    from chat_api.prompt import compact_prefix

    llm = LLM(
        local_model(settings),
        name=f"local:{local_model_path(settings).name}",
        context_tokens=COMPACT_PROMPT_TOKENS,
        serialize=True,
        compact=True,
    )
    llm.warm(compact_prefix())
    return llm


__all__ = ["LLM", "build_llm"]
