"""Finding attribute values in a question: "Zea mays", "HiSeq 2000", "paired-end", "GAIIx".

A question is split into word tokens; a value matches a run of consecutive tokens when their
letters and digits agree (case, spaces and hyphens aside: "PacBio RSII" is "PacBio RS II"), also
without the vendor words in front ("HiSeq 2000" for "Illumina HiSeq 2000"), and in the spoken
forms of `vocabulary.SPOKEN_FORMS`. A run that is only the first words of values ("Zea", "HiSeq")
names all of them: a genus is every species of it, a model family every model. Longest runs win
and runs never overlap.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from retriever.vocabulary import (
    FAMILY_KEYS,
    GENERIC_WORDS,
    SPOKEN_FORMS,
    UNINFORMATIVE_VALUES,
    VENDOR_WORDS,
)

_TOKEN = re.compile(r"[A-Za-z0-9]+")
MAX_SPAN = 7


@dataclass(frozen=True)
class Token:
    text: str
    start: int
    end: int

    @property
    def key(self) -> str:
        return self.text.lower()


def tokenize(text: str) -> list[Token]:
    return [Token(m.group(0), m.start(), m.end()) for m in _TOKEN.finditer(text)]


def _joined(words: Iterable[str]) -> str:
    return "".join(w.lower() for w in words)


@dataclass
class AttributeMention:
    """A run of question tokens that names values of metadata keys (any of them may hold it)."""

    fields: dict[str, list[str]]  # metadata key -> the values it names
    start: int  # token index
    end: int  # token index, exclusive
    text: str
    family: bool = False  # named by its first words: every value that starts so
    # Both a whole value and the first words of others ("Micromonas" is a species name in
    # some rows and the genus of others): the broader reading is taken, but it is a guess.
    ambiguous: bool = False

    def tokens(self) -> range:
        return range(self.start, self.end)


@dataclass
class _Forms:
    exact: dict[str, dict[str, set[str]]] = field(default_factory=dict)  # form -> key -> values
    family: dict[str, dict[str, set[str]]] = field(default_factory=dict)


def _add(table: dict[str, dict[str, set[str]]], form: str, key: str, value: str) -> None:
    table.setdefault(form, {}).setdefault(key, set()).add(value)


def _forms(dictionaries: Mapping[str, Iterable[str]]) -> _Forms:
    forms = _Forms()
    for key, values in dictionaries.items():
        for value in values:
            if not isinstance(value, str) or value.strip().lower() in UNINFORMATIVE_VALUES:
                continue
            words = [w.lower() for w in _TOKEN.findall(value)]
            if not words or len(words) > MAX_SPAN:
                continue
            stripped = words
            while len(stripped) > 1 and stripped[0] in VENDOR_WORDS:
                stripped = stripped[1:]
            for variant in {tuple(words), tuple(stripped)}:
                _add(forms.exact, _joined(variant), key, value)
                # First words as a family ("Zea" of "Zea mays", "HiSeq" of "HiSeq 2500"): only
                # words a person would say on their own, not "genome" or "2000".
                if key not in FAMILY_KEYS:
                    continue
                for cut in range(1, len(variant)):
                    head = variant[:cut]
                    if head[0].isalpha() and len(head[0]) >= 3 and head[0] not in GENERIC_WORDS:
                        _add(forms.family, _joined(head), key, value)
    return forms


def _spoken(tokens: Sequence[Token], start: int, end: int) -> list[str]:
    said = " ".join(t.key for t in tokens[start:end])
    return [_joined(form.split()) for form in SPOKEN_FORMS.get(said, ())]


def find_attributes(
    question: str,
    dictionaries: Mapping[str, Iterable[str]],
    *,
    skip: set[int] = frozenset(),  # token indexes already taken (identifiers, entity words)
) -> tuple[list[Token], list[AttributeMention]]:
    """The question's tokens and the attribute mentions in it, longest first, non-overlapping."""
    tokens = tokenize(question)
    forms = _forms(dictionaries)
    taken = set(skip)
    found: list[AttributeMention] = []
    for length in range(MAX_SPAN, 0, -1):
        for start in range(0, len(tokens) - length + 1):
            end = start + length
            span = range(start, end)
            if taken.intersection(span):
                continue
            if length == 1 and tokens[start].key in GENERIC_WORDS:
                continue
            said = _joined(t.text for t in tokens[start:end])
            candidates = [said, *_spoken(tokens, start, end)]
            exact = next((forms.exact[c] for c in candidates if c in forms.exact), None)
            # "Micromonas" names the genus: rows that say only "Micromonas" and every
            # "Micromonas ..." species (families exist only for vocabulary.FAMILY_KEYS).
            family = next((forms.family[c] for c in candidates if c in forms.family), None)
            if exact is None and family is None:
                continue
            match: dict[str, set[str]] = {}
            for table in (exact or {}), (family or {}):
                for key, values in table.items():
                    match.setdefault(key, set()).update(values)
            text = question[tokens[start].start : tokens[end - 1].end]
            fields = {key: sorted(values) for key, values in sorted(match.items())}
            ambiguous = bool(
                exact and family and any(exact[k] != family[k] for k in exact if k in family)
            )
            found.append(AttributeMention(fields, start, end, text, family is not None, ambiguous))
            taken.update(span)
    found.sort(key=lambda m: m.start)
    return tokens, _join_vendors(tokens, found)


def _join_vendors(tokens: list[Token], found: list[AttributeMention]) -> list[AttributeMention]:
    """A vendor word right before another mention belongs to it: "Illumina NextSeq 500" is the
    NextSeq 500 (whose value may say no vendor), not Illumina-anything and a NextSeq 500."""
    joined: list[AttributeMention] = []
    for mention in found:
        previous = joined[-1] if joined else None
        if (
            previous is not None
            and previous.end == mention.start
            and all(t.key in VENDOR_WORDS for t in tokens[previous.start : previous.end])
        ):
            joined.pop()
            mention.start = previous.start
            mention.text = f"{previous.text} {mention.text}"
        joined.append(mention)
    return joined
