"""The one interface the answerer talks to: complete a chat, or stream it as text pieces."""

from __future__ import annotations

import threading
from collections.abc import Iterator

from langchain_core.language_models.chat_models import BaseChatModel
from langchain_core.messages import BaseMessage

from labsearch.errors import LabsearchError, LLMError


class LLM:
    """A chat model with a name for logs, and what the answerer must respect to use it.

    `context_tokens` caps the prompt budget (in cl100k tokens) below LABSEARCH_CONTEXT_TOKENS for
    models with a small window. `serialize` makes calls one at a time, for in-process models
    that are not thread-safe (llama.cpp). `compact` asks for the small-model prompt
    (prompt.compact_messages) whose fixed system message `warm` evaluates ahead of the first
    question, for backends that keep a prefix cache.
    """

    def __init__(
        self,
        model: BaseChatModel,
        name: str,
        *,
        context_tokens: int | None = None,
        serialize: bool = False,
        compact: bool = False,
    ) -> None:
        self.model = model
        self.name = name
        self.context_tokens = context_tokens
        self.compact = compact
        self._lock = threading.Lock() if serialize else None

    def warm(self, messages: list[BaseMessage]) -> None:
        """Run `messages` once (one token), so a prefix cache holds their evaluated state."""
        bound = self.model.bind(max_tokens=1) if self.compact else None
        if bound is None:
            return
        if self._lock is not None:
            with self._lock:
                bound.invoke(messages)
        else:
            bound.invoke(messages)

    def budget(self, configured: int) -> int:
        return min(configured, self.context_tokens) if self.context_tokens else configured

    def complete(self, messages: list[BaseMessage], stop: list[str] | None = None) -> str:
        if self._lock is not None:
            with self._lock:
                return self._complete(messages, stop)
        return self._complete(messages, stop)

    def stream(self, messages: list[BaseMessage], stop: list[str] | None = None) -> Iterator[str]:
        """The reply in pieces; generation ends before any of `stop`."""
        if self._lock is not None:
            with self._lock:
                yield from self._stream(messages, stop)
        else:
            yield from self._stream(messages, stop)

    def _complete(self, messages: list[BaseMessage], stop: list[str] | None = None) -> str:
        try:
            return _text(self.model.invoke(messages, stop=stop).content)
        except LabsearchError:
            raise
        except Exception as exc:  # any backend failure (network, throttling, bad model path)
            raise LLMError(f"language model {self.name} failed: {exc}") from exc

    def _stream(self, messages: list[BaseMessage], stop: list[str] | None = None) -> Iterator[str]:
        try:
            for chunk in self.model.stream(messages, stop=stop):
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
