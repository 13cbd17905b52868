"""Answering a chat message: standalone query, retrieval, generation, and checks.

Extractive (no LLM): the retriever answers, carrying the previous answer so follow-ups that
narrow or refer to it ("which of those were on the HiSeq?") work. With an LLM: the model first
rewrites a follow-up into a standalone question, the retriever supplies its structured answer
and the top assets, the model phrases an answer from them, and then
- every `[asset-id]` it cites is checked against what was retrieved and what the caller may see;
  anything else is removed from the text and never becomes a citation;
- for entity (list) questions the retriever's result is the answer: if the text drops a member
  or names an item that is not one, the retriever's extractive text is used instead.

Everything is produced as a sequence of events so the streaming and JSON routes share one path.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from langchain_core.messages import HumanMessage, SystemMessage

from chat_api import prompt
from chat_api.llm import LLM
from chat_api.verify import check_members, verify_citations
from labsearch import identifiers
from labsearch.access import Access
from labsearch.errors import NotFoundError
from labsearch.models import Answer, Citation, EntityResult
from labsearch.schema import Asset
from labsearch.settings import Settings

CONTEXT_ASSETS = 8


class Service(Protocol):
    """The part of retriever.service.SearchService the answerer uses."""

    def answer(
        self, query: str, access: Access, *, previous: Answer | None = None, reader: Any = None
    ) -> Answer: ...
    def context(self, query: str, access: Access, k: int) -> list[Asset]: ...
    def citation(self, asset: Asset) -> Citation: ...
    def get_asset(self, asset_id: str, access: Access) -> Asset: ...


@dataclass
class Event:
    """One step of an answer: token, citation, result, or answer (the final Answer)."""

    name: str
    data: Any


@dataclass
class Turn:
    """What a chat message comes with: its conversation so far and the last answer."""

    history: Sequence[tuple[str, str]] = ()
    previous: Answer | None = None


@dataclass
class Outcome:
    """Bookkeeping for the audit log, filled while answering."""

    returned: list[str] = field(default_factory=list)
    replaced: bool = False
    removed_citations: list[str] = field(default_factory=list)


def question_reader(llm: LLM):
    """The model as a question reader for the retriever: (system, user) -> reply text."""

    def read(system: str, user: str) -> str:
        return llm.complete([SystemMessage(system), HumanMessage(user)])

    return read


class Answerer:
    def __init__(self, service: Service, settings: Settings, llm: LLM | None) -> None:
        self.service = service
        self.settings = settings
        self.llm = llm
        self.reader = None
        if llm is not None and settings.question_parser == "llm":
            self.reader = question_reader(llm)

    def answer(self, message: str, access: Access, turn: Turn, outcome: Outcome) -> Answer:
        final = None
        for event in self.events(message, access, turn, outcome, stream=False):
            if event.name == "answer":
                final = event.data
        assert final is not None  # events() always ends with the answer
        return final

    def events(
        self, message: str, access: Access, turn: Turn, outcome: Outcome, *, stream: bool
    ) -> Iterator[Event]:
        if self.llm is None:
            yield from self._extractive(message, access, turn, outcome)
        else:
            yield from self._generative(self.llm, message, access, turn, outcome, stream)

    # --- extractive -------------------------------------------------------------------------

    def _extractive(
        self, message: str, access: Access, turn: Turn, outcome: Outcome
    ) -> Iterator[Event]:
        answer = self.service.answer(message, access, previous=turn.previous, reader=self.reader)
        outcome.returned = _ids(answer.citations, answer.result)
        if answer.result is not None:
            yield Event("result", answer.result)
        for piece in _pieces(answer.text):
            yield Event("token", piece)
        for citation in answer.citations:
            yield Event("citation", citation)
        yield Event("answer", answer)

    # --- with a language model --------------------------------------------------------------

    def _generative(
        self, llm: LLM, message: str, access: Access, turn: Turn, outcome: Outcome, stream: bool
    ) -> Iterator[Event]:
        standalone = self._standalone(llm, message, turn)
        base = self.service.answer(standalone, access, previous=turn.previous, reader=self.reader)
        context = self.service.context(standalone, access, CONTEXT_ASSETS)
        result = base.result
        budget = llm.budget(self.settings.context_tokens)
        messages, packed = prompt.answer_messages(standalone, context, result, budget)
        returned = [asset.id for asset in packed] + _ids(base.citations, result)
        outcome.returned = list(dict.fromkeys(returned))
        if result is not None:
            yield Event("result", result)
        if result is not None and not _fits(result, budget):
            # The model could not list every member within the budget: answer extractively.
            outcome.replaced = True
            yield from self._emit_final(base, base.text, base.citations, stream_text=True)
            return
        pieces: list[str] = []
        if stream:
            for piece in llm.stream(messages):
                pieces.append(piece)
                yield Event("token", piece)
        else:
            pieces.append(llm.complete(messages))
        prompt_text = "\n".join(str(m.content) for m in messages)
        text, citations = self._checked(
            "".join(pieces), access, packed, base, prompt_text, message, outcome
        )
        final = Answer(
            query=message,
            text=text,
            citations=citations,
            result=result,
            standalone_query=standalone if standalone != message else base.standalone_query,
        )
        yield from self._emit_final(final, text, citations, stream_text=False)

    def _emit_final(
        self, answer: Answer, text: str, citations: list[Citation], stream_text: bool
    ) -> Iterator[Event]:
        if stream_text:
            for piece in _pieces(text):
                yield Event("token", piece)
        for citation in citations:
            yield Event("citation", citation)
        yield Event("answer", answer)

    def _standalone(self, llm: LLM, message: str, turn: Turn) -> str:
        if not turn.history:
            return message
        rewritten = llm.complete(prompt.rewrite_messages(turn.history, message)).strip()
        rewritten = rewritten.splitlines()[0].strip().strip('"').strip() if rewritten else ""
        # A model that rambles or drops the user's identifiers is worse than no rewrite.
        wanted = set(identifiers.query_candidates(message))
        kept = all(token in rewritten for token in wanted if token in message)
        if not rewritten or len(rewritten) > self.settings.max_query_chars or not kept:
            return message
        return rewritten

    def _checked(
        self,
        raw: str,
        access: Access,
        packed: Sequence[Asset],
        base: Answer,
        prompt_text: str,
        message: str,
        outcome: Outcome,
    ) -> tuple[str, list[Citation]]:
        retrieved = {asset.id: asset for asset in packed}
        retrieved_ids = set(retrieved) | {c.asset_id for c in base.citations}
        if base.result is not None:
            retrieved_ids |= {member.id for member in base.result.members}

        def permitted(asset_id: str) -> bool:
            if asset_id not in retrieved_ids:
                return False
            if asset_id in retrieved:
                return True
            try:  # fail closed: anything not already fetched under `access` is re-checked
                retrieved[asset_id] = self.service.get_asset(asset_id, access)
            except NotFoundError:
                return False
            return True

        check = verify_citations(raw, permitted)
        outcome.removed_citations = check.removed
        text = check.text
        citations = [self.service.citation(retrieved[asset_id]) for asset_id in check.cited]
        if base.result is not None:
            members = check_members(
                text, base.result, packed, known_text=f"{prompt_text}\n{message}"
            )
            if not members.ok:
                outcome.replaced = True
                return base.text, base.citations
        if not text:
            outcome.replaced = True
            return base.text, base.citations
        if not citations:
            # Uncited prose is unverifiable; the retriever's sources back the same question.
            citations = base.citations
        return text, citations


def _fits(result: EntityResult, budget: int) -> bool:
    return prompt.count_tokens(prompt.render_result(result)) * 3 < budget


def _ids(citations: Sequence[Citation], result: EntityResult | None) -> list[str]:
    ids = [c.asset_id for c in citations]
    if result is not None:
        ids += [m.id for m in result.members]
    return list(dict.fromkeys(ids))


def _pieces(text: str) -> list[str]:
    """Split text into word-sized tokens for streaming, keeping the whitespace."""
    return re.findall(r"\S+\s*|\s+", text)
