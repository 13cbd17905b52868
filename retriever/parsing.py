"""Taking a question apart: the names, attribute values, comparisons, negations, dates, data
level and target entity in it, and the words left unexplained (retriever/questions.py turns
them into an EntityQuestion).

Names are the question's n-grams and quoted strings that the caller can see in the index, and
id-shaped words nobody can see (so a missing id and another lab's read alike); attribute values
come from retriever/mentions.py; a negation cue ("not", "except", "other than", "n't") negates
the mention after it; a singular entity word next to a name labels it ("sample X", "the Mo17
sample"), and the first other entity word is the target.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import MAXYEAR, MINYEAR, date, timedelta
from typing import Any

from labsearch.schema import DataLevel, Entity
from retriever.mentions import AttributeMention, Token, find_attributes
from retriever.vocabulary import GENERIC_WORDS, LABEL_WORDS, NEGATION_WINDOW

# Entity words, most specific first. "data"/"packages" target Quilt packages (datasets and runs).
_ENTITY_WORDS: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"^(?:runs?)$", re.I), Entity.RUN),
    (re.compile(r"^(?:files?|datafiles?|fastqs?|bams?|vcfs?)$", re.I), Entity.FILE),
    (re.compile(r"^(?:samples?|specimens?|biosamples?)$", re.I), Entity.SAMPLE),
    (re.compile(r"^(?:experiments?|stud(?:y|ies)|assays?)$", re.I), Entity.EXPERIMENT),
    (re.compile(r"^(?:datasets?|packages?|data)$", re.I), "package"),
]
_PLURAL = re.compile(r"(?:s|ies)$", re.I)
_SEQUENCED_VERB = re.compile(r"\bsequenc(?:e|ed)\b", re.I)
_LEVEL = re.compile(r"\b(raw|processed|final)\b", re.I)
QUOTED = re.compile(r"[\"“”']([^\"“”']{2,80})[\"“”']")
_CODE_WORD = re.compile(r"^(?=.*[A-Za-z])(?=(?:.*\d){3})[A-Za-z0-9][A-Za-z0-9_.\-]*$")
_SCOPE_WORDS = frozenset({"study", "project", "bioproject", "investigation", "dataset"})
_SCOPE_KINDS = frozenset(
    {"project", "study", "proteomexchange", "metabolights", "geo_series", "arrayexpress"}
)
_NEGATION_PHRASES = [
    c.split() for c in ("other than", "apart from", "elsewhere than", "leaving out", "leave out")
]
_NEGATION_WORDS = frozenset(
    {"not", "non", "except", "excluding", "exclude", "without", "besides", "no", "never"}
)
_MONTH_NAMES = "january february march april may june july august september october november"
_MONTHS = {m: i + 1 for i, m in enumerate(f"{_MONTH_NAMES} december".split())}
_DATE_WORDS = frozenset({"last", "this", "month", "week", "year", "since", "after", "before"})
MAX_NGRAM = 10
# "RIN above 8", "spots of at least 1000000", "read count < 5e6": a typed value compared.
COMPARISONS = {
    "above": "gt",
    "over": "gt",
    "greater than": "gt",
    "more than": "gt",
    "higher than": "gt",
    ">": "gt",
    "at least": "gte",
    ">=": "gte",
    "below": "lt",
    "under": "lt",
    "less than": "lt",
    "lower than": "lt",
    "<": "lt",
    "at most": "lte",
    "<=": "lte",
}
_COMPARISON = re.compile(
    r"(?<![\w>=<])(?P<op>"
    + "|".join(sorted(map(re.escape, COMPARISONS), key=len, reverse=True))
    + r")\s*(?P<number>\d+(?:\.\d+)?(?:e\d+)?)\b",
    re.I,
)
_LINKING_WORDS = frozenset({"of", "is", "are", "was", "were", "has", "have", "had", "with"})
_ARTICLES = frozenset({"the", "a", "an", "this", "that", "our", "my"})


COMPARISON_OPERATORS = frozenset(COMPARISONS.values())


@dataclass
class Constraint:
    """One part of the question, as understood."""

    role: str  # subject | scope | attribute | date | level
    field: str  # "identifier", "metadata.<key>" (" | " between keys), "metadata.date", ...
    values: list[str]
    text: str  # the words of the question it came from
    operator: str = "eq"  # eq | in | range | gt | gte | lt | lte
    negated: bool = False
    family: bool = False  # named by first words (a genus, a model family)
    ambiguous: bool = False  # a whole value and a family too: the family is taken, not sure
    bound: bool = True  # matched through structure (the service sets False when nothing binds)


@dataclass
class _IdMention:
    identifier: str
    start: int  # token index
    end: int
    known: bool
    negated: bool = False
    role: str = "subject"


@dataclass
class _AttributeFound:
    mention: AttributeMention
    negated: bool = False

    @property
    def start(self) -> int:
        return self.mention.start

    @property
    def end(self) -> int:
        return self.mention.end

    def values_of(self, field_name: str) -> list[str]:
        return self.mention.fields.get(field_name.removeprefix("metadata."), [])

    @property
    def constraint(self) -> Constraint:
        keys = " | ".join(f"metadata.{k}" for k in self.mention.fields)
        values = sorted({v for vs in self.mention.fields.values() for v in vs})
        return Constraint(
            role="attribute",
            field=keys,
            values=values,
            text=self.mention.text,
            operator="in" if len(values) > 1 else "eq",
            negated=self.negated,
            family=self.mention.family,
            ambiguous=self.mention.ambiguous,
        )


class ParsedQuestion:
    """One question taken apart: identifier mentions, attribute mentions, target, the rest."""

    def __init__(
        self,
        query: str,
        known_identifiers: Callable[[list[str]], list[str]],
        dictionaries: Mapping[str, Iterable[str]],
        today: date,
    ) -> None:
        from retriever.mentions import tokenize

        self.query = query
        self.tokens: list[Token] = tokenize(query)
        known = self._known_ids(known_identifiers)
        # A value that holds a name ("Bicosoecida sp. CB-2014" holds the code CB-2014) is the
        # value; a quoted name that is no whole value is a name, even an unseen one.
        _, whole = find_attributes(query, dictionaries)
        self.ids = [
            m
            for m in known
            if not any(
                a.start <= m.start and m.end <= a.end and a.end - a.start > m.end - m.start
                for a in whole
            )
        ]
        taken = {i for m in self.ids for i in range(m.start, m.end)}
        taken |= self._quoted_names(whole, taken)
        _, mentions = find_attributes(query, dictionaries, skip=taken)
        self.attributes = [_AttributeFound(m) for m in mentions]
        taken |= {i for m in mentions for i in m.tokens()}
        self.comparisons = self._comparisons(taken)
        taken |= self._compared
        self.ids = sorted([*self.ids, *self._unseen_ids(taken)], key=lambda m: m.start)
        self._roles()
        taken |= {i for m in self.ids for i in range(m.start, m.end)}
        self.date_from, self.date_to = date_range(query, today)
        self.labels: set[int] = set()
        self.target, self.said_data = self._target()
        self.level = self._level(taken)
        self._negate()
        self.unknown_words = self._unknown()

    # -- identifiers ---------------------------------------------------------------------------

    def _known_ids(self, known_identifiers: Callable[[list[str]], list[str]]) -> list[_IdMention]:
        """Names in the question that the caller can see in the index."""
        from labsearch.identifiers import query_candidates

        spans: dict[str, list[tuple[int, int]]] = {}
        tokens = self.tokens
        for start in range(len(tokens)):
            for end in range(start + 1, min(len(tokens), start + MAX_NGRAM) + 1):
                text = self.query[tokens[start].start : tokens[end - 1].end]
                if any(ch.isdigit() for ch in text) or end - start == 1:
                    spans.setdefault(text, []).append((start, end))
        quoted = [m.group(1).strip() for m in QUOTED.finditer(self.query)]
        for text in quoted:
            span = self._span_of(text)
            if span and span not in spans.get(text, []):
                spans.setdefault(text, []).append(span)
        candidates = list(dict.fromkeys([*query_candidates(self.query), *spans]))
        known = set(known_identifiers(candidates))
        found: list[_IdMention] = []
        taken: set[int] = set()
        # Longest known names first ("RNA-seq of Mo17 root" before "Mo17"), never overlapping;
        # a name may stand twice ("sample PXD1-Sample-7 of PXD1": the study after the sample).
        for text in sorted(known, key=len, reverse=True):
            places = spans.get(text) or [self._span_of(text) or self._span_of(text, fold=True)]
            for span in places:
                if span is None or taken.intersection(range(*span)):
                    continue
                if not any(m.identifier == text for m in found):
                    found.append(_IdMention(text, *span, known=True))
                taken.update(range(*span))
        return found

    def _unseen_ids(self, taken: set[int]) -> list[_IdMention]:
        """An id-shaped name nobody can see (missing, or another lab's) is still a constraint,
        so the question is answered "none you can see", the same for both: nothing leaks."""
        from labsearch.identifiers import from_text

        tokens = self.tokens
        found: list[_IdMention] = []
        quoted = [m.group(1).strip() for m in QUOTED.finditer(self.query)]
        unknown = [*from_text(self.query), *quoted]
        # Code-like words, whole: "N295-1.raw", "MMETSP1002", "12EU.sff" (not "2026" or "IL-6").
        words = (w.strip("?!,;:()[]\"'") for w in self.query.split())
        unknown += [w.rstrip(".") for w in words if _CODE_WORD.match(w.rstrip("."))]
        # A name next to a singular label ("sample 10EU", "file 12EU.sff", "the Mo17 sample"):
        # the question names a record, whether or not the caller can see it.
        for i, token in enumerate(tokens):
            if not LABEL_WORDS.fullmatch(token.text) or _PLURAL.search(token.text):
                continue
            for j in (i + 1, i - 1):
                if 0 <= j < len(tokens) and _name_like(tokens[j]):
                    unknown.append(self._whole_word(j))
        for text in unknown:
            span = self._span_of(text)
            if span is None or taken.intersection(range(*span)):
                continue
            found.append(_IdMention(text, *span, known=False))
            taken.update(range(*span))
        return found

    def _comparisons(self, taken: set[int]) -> list[Constraint]:
        """Numeric comparisons on a typed value ("RIN above 8"): the words right before the
        operator name the key, tried in the spellings metadata keys take (RIN, read_count...)."""
        self._compared: set[int] = set()
        found = []
        for match in _COMPARISON.finditer(self.query):
            op_span = self._span_of_at(match.start("op"), match.end("number"))
            if op_span is None:
                continue
            last = op_span[0]  # the key's words end here, after "of", "is", "has" ...
            while last > 0 and self.tokens[last - 1].key in _LINKING_WORDS:
                last -= 1
            first = last
            while (
                first > 0
                and last - first < 3
                and first - 1 not in taken
                and self.tokens[first - 1].key not in GENERIC_WORDS
            ):
                first -= 1
            if first == last:
                continue
            words = [t.text for t in self.tokens[first:last]]
            found.append(
                Constraint(
                    role="attribute",
                    field=" | ".join(f"metadata.{k}" for k in _key_spellings(words)),
                    values=[match.group("number")],
                    text=self.query[self.tokens[first].start : match.end("number")],
                    operator=COMPARISONS[match.group("op").lower()],
                )
            )
            self._compared.update(range(first, op_span[1]))
        return found

    def _span_of_at(self, start: int, end: int) -> tuple[int, int] | None:
        """Token span of the characters start..end of the question (operators like ">" are
        no tokens: the span starts at the next token)."""
        inside = [i for i, t in enumerate(self.tokens) if t.end > start and t.start < end]
        if not inside:
            return None
        before = [i for i, t in enumerate(self.tokens) if t.end <= start]
        first = before[-1] + 1 if before else 0
        return first, inside[-1] + 1

    def _quoted_names(self, whole: list[AttributeMention], taken: set[int]) -> set[int]:
        """Token indexes of quoted text that is not exactly one attribute value: kept out of
        attribute matching ("RNA-seq of Mo17 bract" is a sample's name, not RNA-Seq)."""
        reserved: set[int] = set()
        for match in QUOTED.finditer(self.query):
            span = self._span_of(match.group(1).strip())
            if span is None or taken.intersection(range(*span)):
                continue
            if any((a.start, a.end) == span for a in whole):
                continue
            reserved.update(range(*span))
        return reserved

    def _whole_word(self, index: int) -> str:
        """The whitespace-delimited word around token `index`: "12EU.sff", "Sample-7"."""
        token = self.tokens[index]
        start = self.query.rfind(" ", 0, token.start) + 1
        stop = self.query.find(" ", token.end)
        word = self.query[start : len(self.query) if stop < 0 else stop]
        return word.strip("?!,;:()[]\"'").rstrip(".")

    def _roles(self) -> None:
        from labsearch.identifiers import accession_kind

        for mention in self.ids:
            before = [t.key for t in self.tokens[max(0, mention.start - 2) : mention.start]]
            after = [t.key for t in self.tokens[mention.end : mention.end + 1]]
            kind = accession_kind(mention.identifier)
            if _SCOPE_WORDS.intersection(before + after) or kind in _SCOPE_KINDS:
                mention.role = "scope"

    def _span_of(self, text: str, fold: bool = False) -> tuple[int, int] | None:
        """Token span of `text` in the question (case-folded when `fold`)."""
        haystack, needle = (self.query.lower(), text.lower()) if fold else (self.query, text)
        at = haystack.find(needle)
        if at < 0:
            return None
        end = at + len(needle)
        inside = [i for i, t in enumerate(self.tokens) if t.start >= at and t.end <= end]
        return (inside[0], inside[-1] + 1) if inside else None

    def _level(self, taken: set[int]) -> DataLevel | None:
        """The data level asked for: of files and packages only ("the raw file X" asks for a
        sample of a file, not for raw samples), one level only ("raw and derived" is all), and
        not from inside a name ("N294-1.raw")."""
        levels = {
            t.key for i, t in enumerate(self.tokens) if i not in taken and _LEVEL.fullmatch(t.key)
        }
        words = {t.key for t in self.tokens}
        if "derived" in words:
            levels.add("processed")
        if len(levels) != 1 or self.target not in ("file", "package", "dataset"):
            return None
        return DataLevel(levels.pop())

    # -- negation ------------------------------------------------------------------------------

    def _negate(self) -> None:
        """A mention is negated when a negation cue stands in the few words before it, after
        the mention before it ("runs of X not on the HiSeq": the HiSeq is excluded)."""
        mentions = sorted([*self.ids, *self.attributes], key=lambda m: m.start)
        previous: Any = None
        keys = [t.key for t in self.tokens]
        for mention in mentions:
            previous_end = previous.end if previous is not None else 0
            window = range(max(previous_end, mention.start - NEGATION_WINDOW), mention.start)
            if any(self._is_negation(keys, i) for i in window):
                mention.negated = True
            elif (
                previous is not None
                and previous.negated
                and mention.start - previous_end <= 1
                and _same_values(previous, mention)
            ):
                mention.negated = True  # "not whole-genome (WGS)": the same thing said twice
            previous = mention

    @staticmethod
    def _is_negation(keys: list[str], i: int) -> bool:
        if keys[i] in _NEGATION_WORDS:
            return True
        if keys[i] == "t" and i > 0 and keys[i - 1].endswith("n"):  # weren't, didn't
            return True
        return any(keys[i : i + len(p)] == p for p in _NEGATION_PHRASES)

    # -- target --------------------------------------------------------------------------------

    def _target(self) -> tuple[str | None, bool]:
        """The entity asked for: the first entity word that is not the label of a named
        identifier ("sample" in "runs of sample X" labels X; "runs" is the target)."""
        taken = {i for m in [*self.ids, *self.attributes] for i in range(m.start, m.end)}
        for mention in self.ids:
            label = mention.start - 1
            while label >= 0 and self.tokens[label].key in ("named", "called", "id", "accession"):
                label -= 1
            # A singular word labels the id after it ("run SRR1"); a plural one is asked for
            # ("runs SAMN1": the runs of SAMN1).
            if label >= 0 and LABEL_WORDS.fullmatch(self.tokens[label].text):
                word = self.tokens[label].text
                if not _PLURAL.search(word) or word.lower() in ("bioproject", "biosample"):
                    self.labels.add(label)
            # ... or after it, behind an article: "the BII-S-6 study", "the Mo17 sample" (but
            # "Prosser_1366.raw sample?" asks for a sample).
            after = mention.end
            word = self.tokens[after].text if after < len(self.tokens) else ""
            article = mention.start > 0 and self.tokens[mention.start - 1].key in _ARTICLES
            if article and LABEL_WORDS.fullmatch(word) and not _PLURAL.search(word):
                self.labels.add(after)
        for i, token in enumerate(self.tokens):
            if i in taken or i in self.labels:
                continue
            for pattern, entity in _ENTITY_WORDS:
                if pattern.match(token.text):
                    if token.key == "data" and i + 1 < len(self.tokens):
                        following = self.tokens[i + 1].key
                        if following in ("file", "files"):
                            return Entity.FILE.value, False
                    return str(entity), token.key == "data"
        if _SEQUENCED_VERB.search(self.query):
            return Entity.RUN.value, False
        return None, False

    # -- what was not understood ---------------------------------------------------------------

    def _unknown(self) -> list[str]:
        explained = {i for m in [*self.ids, *self.attributes] for i in range(m.start, m.end)}
        explained |= self.labels | self._compared
        unknown = []
        for i, token in enumerate(self.tokens):
            key = token.key
            if i in explained or key in GENERIC_WORDS or key in _NEGATION_WORDS:
                continue
            if key.isdigit() and (self.date_from or self.date_to):
                continue
            if key in _MONTHS or (key in _DATE_WORDS and (self.date_from or self.date_to)):
                continue
            if key in ("t", "s", "than", "apart", "elsewhere", "leaving", "leave", "out"):
                continue
            if any(p.match(token.text) for p, _ in _ENTITY_WORDS) or key in ("many", "how"):
                continue
            unknown.append(token.text)
        return unknown


def _same_values(a: Any, b: Any) -> bool:
    if isinstance(a, _AttributeFound) and isinstance(b, _AttributeFound):
        return a.mention.fields == b.mention.fields
    return False


def _key_spellings(words: list[str]) -> list[str]:
    """How a metadata key named by `words` may be spelled: RIN, rin, read_count, ReadCount..."""
    lower = [w.lower() for w in words]
    forms = {
        " ".join(words),
        "_".join(words),
        "".join(words),
        "_".join(lower),
        "".join(lower),
        " ".join(lower),
        "".join(w.capitalize() for w in lower),
        lower[0] + "".join(w.capitalize() for w in lower[1:]),
        "_".join(words).upper(),
    }
    return sorted(forms)


def _name_like(token: Token) -> bool:
    """A token that can be (part of) a record's name: it holds a digit and is no common word."""
    return any(ch.isdigit() for ch in token.text) and token.key not in GENERIC_WORDS


def date_range(query: str, today: date) -> tuple[str | None, str | None]:
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
        # "january 0000" names no calendar month (years run 1..9999): not a date, no range.
        if MINYEAR <= year <= MAXYEAR:
            last = year == MAXYEAR and month == 12  # "december 9999": open-ended
            end = None if last else date(year + (month == 12), month % 12 + 1, 1).isoformat()
            return date(year, month, 1).isoformat(), end
    since = re.search(r"\b(?:since|after)\s+(\d{4}-\d{2}-\d{2})\b", q)
    before = re.search(r"\bbefore\s+(\d{4}-\d{2}-\d{2})\b", q)
    if since or before:
        return (since.group(1) if since else None), (before.group(1) if before else None)
    year = re.search(r"\bin\s+(20\d{2})\b", q)
    if year:
        y = int(year.group(1))
        return date(y, 1, 1).isoformat(), date(y + 1, 1, 1).isoformat()
    return None, None
