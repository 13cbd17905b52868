"""Extractive answers: deterministic text built only from retrieved assets, every claim cited.

Citations are numbered in the text ([1], [2], ...) in the order of `Answer.citations`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

from labsearch.models import Answer, AssetLinks, Citation, EntityResult, Member
from labsearch.schema import Asset
from retriever.citations import card_metadata
from retriever.questions import EntityQuestion

MAX_CITED_MEMBERS = 200
_SENTENCE = re.compile(r"(?<=[.!?])\s+")


def member(asset: Asset, links: AssetLinks | None = None) -> Member:
    return Member(
        id=asset.id,
        title=asset.title,
        entity=asset.entity,
        kind=asset.kind,
        metadata=card_metadata(asset),
        links=links or AssetLinks(),
    )


def _noun(target: str, count: int) -> str:
    noun = {"package": "data package", "file": "file"}.get(target, target)
    return noun if count == 1 else noun + "s"


def _facts(asset: Asset) -> str:
    meta = asset.metadata
    parts = [str(meta[key]) for key in ("instrument", "date") if meta.get(key)]
    if asset.data_level:
        parts.append(asset.data_level.value)
    return f" ({', '.join(parts)})" if parts else ""


def entity_answer(
    query: str,
    question: EntityQuestion,
    result: EntityResult,
    members: Sequence[Asset],
    cite: Callable[[Asset], Citation],
) -> Answer:
    noun = _noun(question.target, result.count)
    doubts = uncertainty(question)
    if result.count == 0:
        text = (
            f"No {_noun(question.target, 2)} match {question.subject} among the data you can see."
        )
        return Answer(query=query, text="\n".join([text, *doubts]), result=result)
    head = f"{result.count} {noun} for {question.subject}"
    lines = [f"{head}." if question.question_type == "count" else f"{head}:"]
    cited = members[:MAX_CITED_MEMBERS]
    for number, asset in enumerate(cited, start=1):
        lines.append(f"- {asset.title}{_facts(asset)} [{number}]")
    if len(members) > len(cited):
        lines.append(f"... and {len(members) - len(cited)} more in the result table.")
    if len(members) < result.count:
        lines.append(f"(Showing the first {len(members)} of {result.count}.)")
    lines += doubts
    return Answer(
        query=query,
        text="\n".join(lines),
        citations=[cite(asset) for asset in cited],
        result=result,
    )


def uncertainty(question: EntityQuestion) -> list[str]:
    """Why an answer is not marked complete, in words: the parts of the question that did not
    bind through structure, words that were not understood, readings that were a guess."""
    noun = _noun(question.target, 2)
    lines = [
        f"Not sure this is complete: {c.text!r} is in the data you can see, but no {noun} "
        "reach it through identifier fields or links."
        for c in question.constraints
        if not c.bound
    ]
    lines += [
        f"Not sure this is complete: {c.text!r} names a value and also the first words of "
        f"others ({', '.join(c.values[:5])}); all of them were taken."
        for c in question.constraints
        if c.ambiguous
    ]
    if question.unknown_words:
        words = ", ".join(repr(w) for w in question.unknown_words[:8])
        lines.append(
            f"Not sure this is complete: {words} in the question did not match any field or "
            "value, so it was not applied."
        )
    return lines


def _snippet(asset: Asset, limit: int = 240) -> str:
    text = " ".join(asset.text.split())
    if not text:
        return ""
    first = _SENTENCE.split(text, maxsplit=1)[0]
    return first if len(first) <= limit else first[: limit - 1].rstrip() + "…"


def descriptive_answer(
    query: str, assets: Sequence[Asset], cite: Callable[[Asset], Citation]
) -> Answer:
    if not assets:
        return Answer(
            query=query,
            text="I found nothing you can see that matches this question. Try other words, an "
            "identifier (sample, run or ELN id), or fewer filters.",
        )
    lines = ["The most relevant data assets:"]
    for number, asset in enumerate(assets, start=1):
        snippet = _snippet(asset)
        kind = asset.entity.value if asset.entity else asset.kind.value
        line = f"- {asset.title} [{kind}]{_facts(asset)}"
        lines.append(f"{line}: {snippet} [{number}]" if snippet else f"{line} [{number}]")
    return Answer(query=query, text="\n".join(lines), citations=[cite(a) for a in assets])
