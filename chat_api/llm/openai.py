"""Any server speaking the OpenAI chat API: vLLM, Ollama, llama.cpp's server, OpenAI itself."""

from __future__ import annotations

from langchain_core.language_models.chat_models import BaseChatModel

from labsearch.settings import Settings

MAX_TOKENS = 1024


def openai_model(settings: Settings) -> BaseChatModel:
    from langchain_openai import ChatOpenAI

    key = settings.openai_api_key.get_secret_value() if settings.openai_api_key else None
    return ChatOpenAI(
        base_url=settings.openai_base_url,
        model=settings.openai_model,
        # Local servers ignore the key, but the client refuses to start without one.
        api_key=key or "unused",
        temperature=0,
        max_tokens=MAX_TOKENS,
        timeout=120,
        max_retries=1,
    )
