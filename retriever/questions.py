"""Question understanding without an LLM: is this a list/count question about lab entities?

"which runs used sample LIV-0042", "Sample Mo17: runs, but not on the HiSeq 2000", "In study
PXD004684, which data files belong to sample 3?", "how many Zea mays runs on the NovaSeq last
month" all become an `EntityQuestion`: a target entity plus constraints, each with a role
(subject, scope, attribute, date, level), the values it stands for and whether it is negated:

- identifiers the caller can see (accessions, codes, quoted or multi-word names found in the
  index), each one its own constraint: two subjects or scopes intersect, never unite;
- attribute values recognised against the store's value dictionaries (species, instrument,
  library strategy and layout, ...; see retriever/mentions.py);
- dates ("last month", "in 2026") and data levels ("processed data").

Word order is free. Words that are neither constraints nor generic question words are kept as
`unknown_words`: the question said something that was not understood, so its answer must not be
marked complete.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from labsearch.schema import DataLevel
from retriever.parsing import COMPARISON_OPERATORS, Constraint, ParsedQuestion
from retriever.vocabulary import IDENTIFIER_KEYS

__all__ = ["Constraint", "EntityQuestion", "understand"]

# Where sources record what an asset is of/from (see vocabulary.IDENTIFIER_KEYS).
SUBJECT_KEYS = tuple(f"metadata.{key}" for key in IDENTIFIER_KEYS)
_COUNT = re.compile(r"\bhow\s+many\b|\bnumber\s+of\b|\bcount\b", re.I)
_REFERS_BACK = re.compile(r"\b(?:those|these|them|of\s+which|the\s+same)\b", re.I)
_CONTINUES = re.compile(r"^\s*(?:and|what\s+about|how\s+about|same\s+for)\b", re.I)


@dataclass
class EntityQuestion:
    question_type: str  # "list" or "count"
    target: str  # an Entity value, or "package"
    subject_ids: list[str] = field(default_factory=list)
    instruments: list[str] = field(default_factory=list)
    date_from: str | None = None
    date_to: str | None = None  # exclusive
    data_level: DataLevel | None = None
    base_filter: dict[str, Any] | None = None  # carried over from a previous answer
    excluded_ids: list[str] = field(default_factory=list)
    attributes: list[Constraint] = field(default_factory=list)
    constraints: list[Constraint] = field(default_factory=list)
    unknown_words: list[str] = field(default_factory=list)
    said_data: bool = False  # the target word was "data": packages, else files

    @property
    def subject(self) -> str:
        parts = [c.text for c in self.constraints if c.role != "level" or not self.data_level]
        parts = [f"not {c.text}" if c.negated else c.text for c in self.constraints]
        return ", ".join(parts) or "previous result"

    def target_clause(self, target: str | None = None) -> dict[str, Any]:
        target = target or self.target
        return {"kind": "package"} if target == "package" else {"entity": target}

    def filters(self, subject_clauses: Mapping[str, dict[str, Any]] | None = None) -> dict:
        """The store filter whose exhaustive match is the answer. `subject_clauses` say how each
        identifier binds (structured keys, links); without them, the structured keys alone."""
        bindings = subject_clauses or {}
        clauses: list[dict[str, Any]] = []
        if self.base_filter:
            clauses.append(self.base_filter)
        clauses.append(self.target_clause())
        # Each subject or scope is its own clause: "sample X in study S" is X AND S. Structured
        # keys and typed links, not the free `identifiers` list: a run log that merely mentions
        # ELN-123 is not a file *from* ELN-123.
        for identifier in self.subject_ids:
            clauses.append(bindings.get(identifier) or subject_clause(identifier))
        for identifier in self.excluded_ids:
            clauses.append({"not": bindings.get(identifier) or subject_clause(identifier)})
        if self.instruments and not any(
            "metadata.instrument" in a.field.split(" | ") and not a.negated for a in self.attributes
        ):
            clauses.append({"metadata.instrument": {"in": list(self.instruments)}})
        for attribute in self.attributes:
            clause = attribute_clause(attribute)
            clauses.append({"not": clause} if attribute.negated else clause)
        date_range = {}
        if self.date_from:
            date_range["gte"] = self.date_from
        if self.date_to:
            date_range["lt"] = self.date_to
        if date_range:
            clauses.append({"metadata.date": date_range})
        if self.data_level:
            clauses.append({"data_level": self.data_level.value})
        return clauses[0] if len(clauses) == 1 else {"and": clauses}


def subject_clause(identifier: str, linked_ids: Sequence[str] = ()) -> dict[str, Any]:
    """Assets of `identifier`: it is in one of their identifier-valued keys, or they link to (or
    are linked from) one of `linked_ids`."""
    by_subject: list[dict[str, Any]] = [{key: identifier} for key in SUBJECT_KEYS]
    if linked_ids:
        by_subject.append({"links": {"in": list(linked_ids)}})
    return {"or": by_subject}


def attribute_clause(attribute: Constraint) -> dict[str, Any]:
    keys = attribute.field.split(" | ")
    if attribute.operator in COMPARISON_OPERATORS:
        condition: dict[str, Any] = {attribute.operator: float(attribute.values[0])}
    else:
        condition = {"in": list(attribute.values)}
    parts = [{key: condition} for key in keys]
    return parts[0] if len(parts) == 1 else {"or": parts}


def understand(
    query: str,
    *,
    known_identifiers: Callable[[list[str]], list[str]],
    instruments: Sequence[str] = (),
    attributes: Mapping[str, Iterable[str]] | None = None,
    today: date | None = None,
    previous: EntityQuestion | None = None,
    previous_filter: dict[str, Any] | None = None,
) -> EntityQuestion | None:
    """An EntityQuestion if `query` asks to list or count lab entities, else None.

    `known_identifiers(candidates)` returns the candidates that exist in the index (as the
    caller may see it); `attributes` maps metadata keys to their values the caller may see (the
    value dictionary); `instruments` is the instrument dictionary when `attributes` has none.
    """
    today = today or date.today()
    dictionaries = dict(attributes or {})
    if instruments and "instrument" not in dictionaries:
        dictionaries["instrument"] = list(instruments)
    parsed = ParsedQuestion(query, known_identifiers, dictionaries, today)
    is_count = bool(_COUNT.search(query))
    target = parsed.target
    subject_ids = [m.identifier for m in parsed.ids if not m.negated]
    excluded = [m.identifier for m in parsed.ids if m.negated]
    found_instruments = sorted(
        {v for a in parsed.attributes if not a.negated for v in a.values_of("metadata.instrument")}
    )
    constrained = bool(
        parsed.ids or parsed.attributes or parsed.comparisons or parsed.date_from or parsed.date_to
    )

    def build(**overrides: Any) -> EntityQuestion:
        values: dict[str, Any] = {
            "question_type": "count" if is_count else "list",
            "target": target,
            "subject_ids": subject_ids,
            "excluded_ids": excluded,
            "instruments": found_instruments,
            "attributes": [a.constraint for a in parsed.attributes] + parsed.comparisons,
            "date_from": parsed.date_from,
            "date_to": parsed.date_to,
            "data_level": parsed.level,
            "unknown_words": parsed.unknown_words,
            "said_data": parsed.said_data,
        }
        values.update(overrides)
        question = EntityQuestion(**values)
        question.constraints = _constraints(parsed, question)
        return question

    if previous is not None and (_REFERS_BACK.search(query) or _CONTINUES.search(query)):
        if _REFERS_BACK.search(query):
            # Narrowing: keep the previous result's filter, add the new constraints.
            return build(target=target or previous.target, base_filter=previous_filter)
        if constrained or parsed.level:
            # "and for sample Y?": same question, new subject.
            return build(
                question_type="count" if is_count else previous.question_type,
                target=target or previous.target,
                subject_ids=subject_ids or ([] if parsed.attributes else previous.subject_ids),
                instruments=found_instruments or ([] if subject_ids else previous.instruments),
                date_from=parsed.date_from or previous.date_from,
                date_to=parsed.date_to or previous.date_to,
                data_level=parsed.level or previous.data_level,
            )
    if target is None or not constrained:
        return None
    return build()


def names_and_unexplained_words(
    query: str,
    *,
    known_identifiers: Callable[[list[str]], list[str]],
    attributes: Mapping[str, Iterable[str]],
    today: date | None = None,
) -> tuple[list[str], list[str]]:
    """(the names in `query` the caller can see, what another reader of the question (a
    language model) must account for: the words that are neither generic nor a name, value,
    date or entity word, and the attribute values and comparisons the rules found)."""
    parsed = ParsedQuestion(query, known_identifiers, attributes, today or date.today())
    # An attribute the rules found is accounted for by its words or by any value it stands for
    # ("maize" by "Zea mays"): alternatives joined by " | ".
    placed = [
        " | ".join([m.mention.text, *(v for vs in m.mention.fields.values() for v in vs)])
        for m in parsed.attributes
    ]
    placed += [c.text for c in parsed.comparisons]
    return [m.identifier for m in parsed.ids if m.known], parsed.unknown_words + placed


def _constraints(parsed: ParsedQuestion, question: EntityQuestion) -> list[Constraint]:
    """Every part of `question` as a Constraint, in the order a reader would list them."""
    found: list[Constraint] = [
        Constraint(
            role=m.role,
            field="identifier",
            values=[m.identifier],
            text=m.identifier,
            negated=m.negated,
        )
        for m in parsed.ids
        if m.identifier in question.subject_ids or m.identifier in question.excluded_ids
    ]
    found += question.attributes
    if question.instruments and not any(
        "metadata.instrument" in a.field.split(" | ") for a in question.attributes
    ):
        found.append(
            Constraint("attribute", "metadata.instrument", question.instruments, "instrument")
        )
    if question.date_from or question.date_to:
        values = [question.date_from or "", question.date_to or ""]
        found.append(Constraint("date", "metadata.date", values, "date", operator="range"))
    if question.data_level:
        level = question.data_level.value
        found.append(Constraint("level", "data_level", [level], f"{level} data"))
    return found
