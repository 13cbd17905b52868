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
from chat_api.grounding import (
    Grounder,
    SentenceBuffer,
    Verdict,
    join_sentences,
    split_sentences,
)
from chat_api.llm import LLM
from chat_api.verify import check_members
from labsearch import identifiers
from labsearch.access import Access
from labsearch.errors import NotFoundError
from labsearch.models import Answer, Citation, EntityResult, Grounding, RemovedSentence
from labsearch.schema import Asset
from labsearch.settings import Settings

CONTEXT_ASSETS = 8
FALLBACK_NOTE = (
    "The generated answer was withdrawn: none of its sentences is supported by the assets it "
    "cites. The search answer follows."
)
MEMBERS_NOTE = (
    "The generated answer was withdrawn: it did not name exactly the retriever's result. The "
    "search answer follows."
)


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
        result = base.result
        budget = llm.budget(self.settings.context_tokens)
        if llm.compact:
            context = self.service.context(standalone, access, prompt.COMPACT_ASSETS)
            messages, packed = prompt.compact_messages(standalone, context, result, budget)
        else:
            context = self.service.context(standalone, access, CONTEXT_ASSETS)
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
        grounder = self._grounder(access, packed, base, standalone)
        stop = prompt.COMPACT_STOP if llm.compact else None
        labels = {n: asset.id for n, asset in enumerate(packed, start=1)}

        def expand(text: str) -> str:
            return prompt.expand_labels(text, labels) if llm.compact else text

        # An entity answer is checked whole at the end (does it name exactly the members?), so
        # its sentences stay provisional until then; any other answer settles sentence by sentence.
        settle_early = result is None
        verdicts: list[Verdict] = []
        streamed = ""
        raw = ""
        if stream:
            buffer = SentenceBuffer()
            for piece in llm.stream(messages, stop=stop):
                kept = prompt.before_stop(raw + piece, stop)
                piece, stopped = kept[len(raw) :], len(kept) < len(raw + piece)
                raw = kept
                for sentence in buffer.feed(piece):
                    verdict = grounder.check(expand(sentence))
                    verdicts.append(verdict)
                    if settle_early:
                        if verdict.supported:
                            shown = _joined(streamed, verdict.text)
                            streamed += shown
                            yield Event("token", shown)
                        else:
                            yield Event("retract", _retraction(verdict))
                unchecked = buffer.pending if settle_early else raw
                if unchecked.strip():
                    yield Event("provisional", expand(unchecked))
                if stopped:
                    break
            rest = buffer.flush()
            if rest:
                verdict = grounder.check(expand(rest))
                verdicts.append(verdict)
                if settle_early and verdict.supported:
                    shown = _joined(streamed, verdict.text)
                    streamed += shown
                    yield Event("token", shown)
                elif settle_early:
                    yield Event("retract", _retraction(verdict))
        else:
            raw = prompt.before_stop(llm.complete(messages, stop=stop), stop)
            verdicts = [grounder.check(expand(s)) for s in split_sentences(raw)]
        outcome.removed_citations = grounder.removed_citations
        kept = [v for v in verdicts if v.supported]
        grounding = Grounding(
            sentences=len(verdicts),
            kept=len(kept),
            attributed=sum(v.attributed for v in kept),
            removed=[
                RemovedSentence(text=v.sentence, reason=v.reason)
                for v in verdicts
                if not v.supported
            ],
        )
        text = join_sentences(v.text for v in kept)
        cited = list(dict.fromkeys(i for v in kept for i in v.cited))
        citations = [self.service.citation(grounder.asset(i)) for i in cited]
        standalone_query = standalone if standalone != message else base.standalone_query
        fallback = not kept
        if result is not None and kept:
            prompt_text = "\n".join(str(m.content) for m in messages)
            members = check_members(text, result, packed, known_text=f"{prompt_text}\n{message}")
            fallback = not members.ok
        if fallback:
            outcome.replaced = True
            grounding.fallback = True
            note = FALLBACK_NOTE if not kept else MEMBERS_NOTE
            final = base.model_copy(
                update={
                    "query": message,
                    "text": f"{note}\n\n{base.text}",
                    "standalone_query": standalone_query,
                    "grounding": grounding,
                }
            )
            # Nothing was shown as final yet: an entity answer settles only here, and any
            # other answer falls back only when no sentence was kept (so none was streamed).
            yield from self._emit_final(final, final.text, final.citations, stream_text=stream)
            return
        final = Answer(
            query=message,
            text=text,
            citations=citations,
            result=result,
            standalone_query=standalone_query,
            grounding=grounding,
        )
        yield from self._emit_final(final, text, citations, stream_text=stream and not settle_early)

    def _grounder(
        self, access: Access, packed: Sequence[Asset], base: Answer, question: str
    ) -> Grounder:
        retrieved = {asset.id: asset for asset in packed}
        retrieved_ids = set(retrieved) | {c.asset_id for c in base.citations}
        extra = ""
        if base.result is not None:
            retrieved_ids |= {member.id for member in base.result.members}
            extra = prompt.render_result(base.result) + f" {base.result.subject or ''}"

        def resolve(asset_id: str) -> Asset | None:
            if asset_id not in retrieved_ids:
                return None
            if asset_id not in retrieved:
                try:  # fail closed: anything not already fetched under `access` is re-checked
                    retrieved[asset_id] = self.service.get_asset(asset_id, access)
                except NotFoundError:
                    return None
            return retrieved[asset_id]

        return Grounder(packed, question, lambda i: resolve(i) is not None, resolve, extra=extra)

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
        # A withdrawn answer's note is about the answering, not the subject: the rewrite sees
        # the answer that was given.
        history = [(role, _without_note(text)) for role, text in turn.history]
        rewritten = llm.complete(prompt.rewrite_messages(history, message)).strip()
        rewritten = rewritten.splitlines()[0].strip().strip('"').strip() if rewritten else ""
        # A model that rambles or drops the user's identifiers is worse than no rewrite.
        wanted = set(identifiers.query_candidates(message))
        kept = all(token in rewritten for token in wanted if token in message)
        if not rewritten or len(rewritten) > self.settings.max_query_chars or not kept:
            return message
        return rewritten


def _fits(result: EntityResult, budget: int) -> bool:
    return prompt.count_tokens(prompt.render_result(result)) * 3 < budget


def _ids(citations: Sequence[Citation], result: EntityResult | None) -> list[str]:
    ids = [c.asset_id for c in citations]
    if result is not None:
        ids += [m.id for m in result.members]
    return list(dict.fromkeys(ids))


def _without_note(text: str) -> str:
    for note in (FALLBACK_NOTE, MEMBERS_NOTE):
        if text.startswith(note):
            return text[len(note) :].lstrip()
    return text


def _joined(before: str, sentence: str) -> str:
    """The next settled sentence as a token: separated from what was streamed before it the way
    `join_sentences` joins the final text, so the tokens add up to `answer.text`."""
    if not before:
        return sentence
    return join_sentences(["x", sentence])[1:]


def _retraction(verdict: Verdict) -> dict[str, str]:
    return {"text": verdict.sentence, "reason": verdict.reason}


def _pieces(text: str) -> list[str]:
    """Split text into word-sized tokens for streaming, keeping the whitespace."""
    return re.findall(r"\S+\s*|\s+", text)
