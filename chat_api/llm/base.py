"""The one interface the answerer talks to: complete a chat, or stream it as text pieces."""

from __future__ import annotations

from collections.abc import Iterator

from langchain_core.language_models.chat_models import BaseChatModel
from langchain_core.messages import BaseMessage

from labsearch.errors import LabsearchError, LLMError


class LLM:
    def __init__(self, model: BaseChatModel, name: str) -> None:
        self.model = model
        self.name = name

    def complete(self, messages: list[BaseMessage]) -> str:
        try:
            return _text(self.model.invoke(messages).content)
        except LabsearchError:
            raise
        except Exception as exc:  # any backend failure (network, throttling, bad model path)
            raise LLMError(f"language model {self.name} failed: {exc}") from exc

    def stream(self, messages: list[BaseMessage]) -> Iterator[str]:
        try:
            for chunk in self.model.stream(messages):
                text = _text(chunk.content)
                if text:
                    yield text
        except LabsearchError:
            raise
        except Exception as exc:
            raise LLMError(f"language model {self.name} failed while streaming: {exc}") from exc


def _text(content: str | list) -> str:
    """Chat model content is a string or (Bedrock) a list of typed blocks; keep the text."""
    if isinstance(content, str):
        return content
    parts = []
    for block in content:
        if isinstance(block, str):
            parts.append(block)
        elif isinstance(block, dict) and block.get("type") == "text":
            parts.append(block.get("text", ""))
    return "".join(parts)
