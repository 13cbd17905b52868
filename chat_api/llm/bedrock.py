"""Amazon Bedrock through langchain-aws' Converse / ConverseStream chat model."""

from __future__ import annotations

from typing import Any

from langchain_core.language_models.chat_models import BaseChatModel

from labsearch.settings import Settings

MAX_TOKENS = 1024


def bedrock_model(settings: Settings, client: Any | None = None) -> BaseChatModel:
    """`client` lets callers pass a configured bedrock-runtime client (e.g. with a Stubber)."""
    from langchain_aws import ChatBedrockConverse

    options: dict[str, Any] = {
        "model": settings.bedrock_model_id,
        "region_name": settings.aws_region,
        "temperature": 0,
        "max_tokens": MAX_TOKENS,
    }
    if client is not None:
        options["client"] = client
    return ChatBedrockConverse(**options)
