"""Question understanding without an LLM: is this a list/count question about lab entities?

"which runs used sample LIV-0042", "LIV-0042 was sequenced in which runs", "list the sequencing
runs for sample LIV-0042", "how many runs on the NovaSeq", "what did we sequence on the NovaSeq
last month", "where is the processed data for ELN-123" all become an `EntityQuestion`: a target
entity plus constraints (identifiers that exist in the index, instrument, dates, data level),
compiled into a store filter so the answer is the complete set, not a top-k guess.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from labsearch.schema import DataLevel, Entity

# Entity words, most specific first. "data"/"packages" target Quilt packages (datasets and runs).
_ENTITY_WORDS: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"\b(?:sequencing\s+)?runs?\b", re.I), Entity.RUN),
    (re.compile(r"\b(?:data\s+)?files?\b|\bfastqs?\b|\bbams?\b|\bvcfs?\b", re.I), Entity.FILE),
    (re.compile(r"\bsamples?\b|\bspecimens?\b", re.I), Entity.SAMPLE),
    (re.compile(r"\bexperiments?\b|\bstud(?:y|ies)\b|\bassays?\b", re.I), Entity.EXPERIMENT),
    (re.compile(r"\b(?:data\s*sets?|packages?|data)\b", re.I), "package"),
]
# Where sources record what an asset is of/from (see the source conventions in the README).
SUBJECT_KEYS = ("metadata.samples", "metadata.sample", "metadata.run_id", "metadata.experiment_id")
_SEQUENCED_VERB = re.compile(r"\bsequenc(?:e|ed)\b", re.I)
_COUNT = re.compile(r"\bhow\s+many\b|\bnumber\s+of\b|\bcount\b", re.I)
_REFERS_BACK = re.compile(r"\b(?:those|these|them|of\s+which|the\s+same)\b", re.I)
_CONTINUES = re.compile(r"^\s*(?:and|what\s+about|how\s+about|same\s+for)\b", re.I)
_LEVEL = re.compile(r"\b(raw|processed|final)\b", re.I)
_MONTHS = {
    m: i + 1
    for i, m in enumerate(
        [
            "january",
            "february",
            "march",
            "april",
            "may",
            "june",
            "july",
            "august",
            "september",
            "october",
            "november",
            "december",
        ]
    )
}


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

    @property
    def subject(self) -> str:
        parts = list(self.subject_ids)
        if self.instruments:
            parts.append(" or ".join(self.instruments))
        if self.date_from or self.date_to:
            parts.append(f"{self.date_from or '…'} to {self.date_to or '…'}")
        if self.data_level:
            parts.append(f"{self.data_level.value} data")
        return ", ".join(parts) or "previous result"

    def filters(self, subject_asset_ids: Sequence[str] = ()) -> dict[str, Any]:
        """The store filter whose exhaustive match is the answer."""
        clauses: list[dict[str, Any]] = []
        if self.base_filter:
            clauses.append(self.base_filter)
        if self.target == "package":
            clauses.append({"kind": "package"})
        else:
            clauses.append({"entity": self.target})
        if self.subject_ids:
            # Structured keys and typed links, not the free `identifiers` list: a run log or a
            # sample inventory that merely mentions ELN-123 is not a file *from* ELN-123.
            ids = list(self.subject_ids)
            by_subject: list[dict[str, Any]] = [{key: {"in": ids}} for key in SUBJECT_KEYS]
            if subject_asset_ids:
                by_subject.append({"links": {"in": list(subject_asset_ids)}})
            clauses.append({"or": by_subject})
        if self.instruments:
            clauses.append({"metadata.instrument": {"in": list(self.instruments)}})
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


def understand(
    query: str,
    *,
    known_identifiers: Callable[[list[str]], list[str]],
    instruments: Sequence[str],
    today: date | None = None,
    previous: EntityQuestion | None = None,
    previous_filter: dict[str, Any] | None = None,
) -> EntityQuestion | None:
    """An EntityQuestion if `query` asks to list or count lab entities, else None.

    `known_identifiers(candidates)` returns the candidates that exist in the index (as the
    caller may see it); `instruments` are the instrument names the caller may see.
    """
    from labsearch.identifiers import from_text, query_candidates

    today = today or date.today()
    subject_ids = known_identifiers(query_candidates(query))
    if not subject_ids:
        # An accession-shaped id nobody can see (missing, or another lab's): still a list
        # question, answered "none you can see", the same for both cases so nothing leaks.
        subject_ids = from_text(query)[:1]
    found_instruments = _instruments_in(query, instruments)
    date_from, date_to = _date_range(query, today)
    level_match = _LEVEL.search(query)
    level = DataLevel(level_match.group(1).lower()) if level_match else None
    target = _target(query, subject_ids)
    is_count = bool(_COUNT.search(query))
    constrained = bool(subject_ids or found_instruments or date_from or date_to)

    if previous is not None and (_REFERS_BACK.search(query) or _CONTINUES.search(query)):
        if _REFERS_BACK.search(query):
            # Narrowing: keep the previous result's filter, add the new constraints.
            return EntityQuestion(
                question_type="count" if is_count else "list",
                target=target or previous.target,
                subject_ids=subject_ids,
                instruments=found_instruments,
                date_from=date_from,
                date_to=date_to,
                data_level=level,
                base_filter=previous_filter,
            )
        if constrained or level:
            # "and for sample Y?": same question, new subject.
            return EntityQuestion(
                question_type="count" if is_count else previous.question_type,
                target=target or previous.target,
                subject_ids=subject_ids or ([] if found_instruments else previous.subject_ids),
                instruments=found_instruments or ([] if subject_ids else previous.instruments),
                date_from=date_from or previous.date_from,
                date_to=date_to or previous.date_to,
                data_level=level or previous.data_level,
            )

    if target is None or not constrained:
        return None
    return EntityQuestion(
        question_type="count" if is_count else "list",
        target=target,
        subject_ids=subject_ids,
        instruments=found_instruments,
        date_from=date_from,
        date_to=date_to,
        data_level=level,
    )


def _target(query: str, subject_ids: Sequence[str]) -> str | None:
    """The entity asked for: the first entity word that is not the label of a named subject
    ("sample" in "runs used sample X" labels X; "runs" is the target)."""
    masked = query
    for identifier in subject_ids:
        masked = re.sub(
            rf"\b(?:samples?|runs?|experiments?|files?)\s+{re.escape(identifier)}",
            " ",
            masked,
            flags=re.I,
        )
        masked = masked.replace(identifier, " ")
    best: tuple[int, str] | None = None
    for pattern, entity in _ENTITY_WORDS:
        match = pattern.search(masked)
        if match and (best is None or match.start() < best[0]):
            best = (match.start(), str(entity))
    if best is None and _SEQUENCED_VERB.search(masked):
        return Entity.RUN.value
    return best[1] if best else None


def _instruments_in(query: str, instruments: Sequence[str]) -> list[str]:
    """Instrument names the query mentions, fully ("NovaSeq 6000") or by model family
    ("NovaSeq" → every NovaSeq)."""
    lowered = query.lower()
    exact = [name for name in instruments if name.lower() in lowered]
    if exact:
        return sorted(exact)
    family = [
        name
        for name in instruments
        if (first := name.split()[0].lower())
        and len(first) >= 4
        and re.search(rf"\b{re.escape(first)}\b", lowered)
    ]
    return sorted(family)


def _date_range(query: str, today: date) -> tuple[str | None, str | None]:
    q = query.lower()
    first_of_month = today.replace(day=1)
    if "last month" in q:
        end = first_of_month
        start = (end - timedelta(days=1)).replace(day=1)
        return start.isoformat(), end.isoformat()
    if "this month" in q:
        return first_of_month.isoformat(), None
    if "last week" in q:
        start = today - timedelta(days=today.weekday() + 7)
        return start.isoformat(), (start + timedelta(days=7)).isoformat()
    if "last year" in q:
        return date(today.year - 1, 1, 1).isoformat(), date(today.year, 1, 1).isoformat()
    if "this year" in q:
        return date(today.year, 1, 1).isoformat(), None
    month_year = re.search(rf"\b({'|'.join(_MONTHS)})\s+(\d{{4}})\b", q)
    if month_year:
        month, year = _MONTHS[month_year.group(1)], int(month_year.group(2))
        end = date(year + (month == 12), month % 12 + 1, 1)
        return date(year, month, 1).isoformat(), end.isoformat()
    since = re.search(r"\b(?:since|after)\s+(\d{4}-\d{2}-\d{2})\b", q)
    before = re.search(r"\bbefore\s+(\d{4}-\d{2}-\d{2})\b", q)
    if since or before:
        return (since.group(1) if since else None), (before.group(1) if before else None)
    year = re.search(r"\bin\s+(20\d{2})\b", q)
    if year:
        y = int(year.group(1))
        return date(y, 1, 1).isoformat(), date(y + 1, 1, 1).isoformat()
    return None, None
