"""An LLM-assisted question reader: the model fills the same structure the rule parser builds.

Used only when a language model is configured and LABSEARCH_QUESTION_PARSER=llm; the rule parser
stays the default and the fallback. The model sees the question, the identifiers of it that exist
for the caller and the caller's value dictionaries, and answers with JSON. Nothing it says runs
unchecked: the target must be an entity, every identifier must be one the caller can see or that
the question spells out, every attribute key must be a known key and every value one of its
dictionary values (matched case-insensitively to the stored spelling). Anything else, or no
JSON at all, and the rule parser answers instead.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Literal

from pydantic import BaseModel, Field, ValidationError

from retriever.questions import Constraint, EntityQuestion

# (system prompt, user prompt) -> the model's reply text
QuestionModel = Callable[[str, str], str]

MAX_VALUES_PER_KEY = 60

SYSTEM = """You read a scientist's question about lab data and fill a JSON structure. Reply with
one JSON object and nothing else:
{"target": "run"|"sample"|"file"|"experiment"|"dataset"|"package",
 "question_type": "list"|"count",
 "constraints": [
   {"kind": "identifier", "value": "<an identifier from the list given>", "negated": false,
    "role": "subject"|"scope"},
   {"kind": "attribute", "key": "<a key from the dictionaries given>",
    "values": ["<values copied exactly from that key's list>"], "negated": false}
 ]}
Use only identifiers and values that are listed. "not", "except", "other than" set "negated".
If the question is not a request to list or count records, reply {"target": null}."""


class _Constraint(BaseModel):
    kind: Literal["identifier", "attribute"]
    value: str | None = None
    key: str | None = None
    values: list[str] = Field(default_factory=list)
    negated: bool = False
    role: Literal["subject", "scope"] = "subject"


class _Reply(BaseModel):
    target: Literal["run", "sample", "file", "experiment", "dataset", "package"] | None
    question_type: Literal["list", "count"] = "list"
    constraints: list[_Constraint] = Field(default_factory=list)


class InvalidReading(ValueError):
    """The model's structure does not fit the index: the rule parser answers instead."""


def prompt(query: str, known_ids: Sequence[str], dictionaries: Mapping[str, Sequence[str]]) -> str:
    words = {w.lower() for w in re.findall(r"[A-Za-z0-9]+", query)}
    lines = [f"Question: {query}", "", "Identifiers in the question that exist:"]
    lines += [f"- {identifier}" for identifier in known_ids] or ["- (none)"]
    lines.append("")
    lines.append("Attribute dictionaries (key: values):")
    for key, values in dictionaries.items():
        # Values sharing a word with the question first, so a long dictionary still shows them.
        ranked = sorted(
            values, key=lambda v: -len(words & set(re.findall(r"[a-z0-9]+", v.lower())))
        )
        shown = ranked[:MAX_VALUES_PER_KEY]
        lines.append(f"- {key}: " + "; ".join(shown))
    return "\n".join(lines)


def parse_reply(
    reply: str,
    query: str,
    known_ids: Sequence[str],
    dictionaries: Mapping[str, Sequence[str]],
) -> EntityQuestion | None:
    """The validated question, None when the model says it is no list/count question; raises
    InvalidReading when the structure does not fit the index."""
    match = re.search(r"\{.*\}", reply, flags=re.S)
    if match is None:
        raise InvalidReading("no JSON object in the reply")
    try:
        parsed = _Reply.model_validate(json.loads(match.group(0)))
    except (json.JSONDecodeError, ValidationError) as exc:
        raise InvalidReading(f"reply does not fit the schema: {exc}") from exc
    if parsed.target is None:
        return None
    known = set(known_ids)
    question = EntityQuestion(question_type=parsed.question_type, target=parsed.target)
    for item in parsed.constraints:
        if item.kind == "identifier":
            value = (item.value or "").strip()
            if not value or (value not in known and value not in query):
                raise InvalidReading(f"identifier {value!r} is neither visible nor in the question")
            (question.excluded_ids if item.negated else question.subject_ids).append(value)
            question.constraints.append(
                Constraint(item.role, "identifier", [value], value, negated=item.negated)
            )
            continue
        if item.key not in dictionaries or not item.values:
            raise InvalidReading(f"attribute key {item.key!r} is not in the dictionaries")
        canonical = {v.casefold(): v for v in dictionaries[item.key]}
        values = [canonical.get(v.casefold()) for v in item.values]
        if None in values:
            raise InvalidReading(f"values {item.values} are not all values of {item.key}")
        constraint = Constraint(
            "attribute",
            f"metadata.{item.key}",
            sorted(set(values)),
            ", ".join(values),
            operator="in" if len(values) > 1 else "eq",
            negated=item.negated,
        )
        question.attributes.append(constraint)
        question.constraints.append(constraint)
    if not question.constraints:
        raise InvalidReading("a list question with no constraint would list everything")
    return question


def read_question(
    query: str,
    model: QuestionModel,
    known_ids: Sequence[str],
    dictionaries: Mapping[str, Sequence[str]],
) -> EntityQuestion | None:
    """The model's reading, validated; raises InvalidReading (or the model's own error)."""
    reply = model(SYSTEM, prompt(query, known_ids, dictionaries))
    return parse_reply(reply, query, known_ids, dictionaries)
