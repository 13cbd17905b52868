"""Sentence-level grounding: a generated sentence is kept only when the assets it cites say it.

No entailment model that ships its weights in a PyPI package was found (the NLI packages there
download from a model hub at run time, which this service never does), so support is a lexical
and identifier check, measured by `labsearch eval faithfulness` (docs/evaluation.md):

- every identifier or number in the sentence (LIV-0042, 2500, R1.fastq.gz) must appear in the
  text of the assets it cites: an invented id or count is the hallucination that costs most;
- most of its content words must too (stemmed, stop words and the question's own words aside):
  a sentence of words the cited assets never use is not what they say.

A sentence that cites nothing, or cites assets that do not support it, is attributed to the one
context asset that does support it, if there is one (the model found the fact but not the id),
and removed otherwise. Sentences are checked as they complete, so a stream can show each one as
final only after its check.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from functools import cached_property

from chat_api.verify import verify_citations
from labsearch.schema import Asset

# Share of a sentence's own content words (not the question's) the cited text must contain.
MIN_WORD_SUPPORT = 0.6
# Own content words a sentence needs before the check may pick its citation itself.
MIN_ATTRIBUTION_WORDS = 3

_BRACKET = re.compile(r"\s*\[[^\[\]\n]{1,400}\]")
_WORD = re.compile(r"[a-z0-9]+(?:[-_./:][a-z0-9]+)*")
# A sentence ends at . ! or ? followed by white space (so "R1.fastq.gz", "e.g." inside a word
# and decimals stay whole), optionally after its citations, and not before a citation (in
# "see PB.. [2]." the citation belongs to what precedes it); or at a line break. A line ending in
# ":" introduces what follows and stays with it.
_END = re.compile(r"(?<=[.!?])(?:\s*\[[^\[\]\n]{1,400}\])*[ \t]+(?=[^\s\[])|\n+")
_ABBREVIATIONS = ("e.g.", "i.e.", "etc.", "vs.", "approx.", "ca.", "cf.", "no.", "fig.")

_STOP_WORDS_TEXT = """
    a about above after again all also am an and any are as at be been being both but by can
    could did do does done each either for from had has have having he her here hers him his
    how i if in into is it its itself just may me might more most must my no nor not now of off
    on once only or other our ours out over own per same she should so some such than that the
    their them then there these they this those through to too under until up upon very was we
    were what when where which while who whom whose why will with within without would yes you
    your one two three four five six seven eight nine ten first second third several many few
    asset assets data dataset datasets record records item items listed list cited citation
    information provided according based mentioned described describe describes following
    contain contains containing include includes including question answer answers given shows
    show use used uses using called named known available associated related lab
"""
STOP_WORDS = frozenset(_STOP_WORDS_TEXT.split())


def claim_text(sentence: str) -> str:
    """The sentence without its `[citations]`."""
    return _BRACKET.sub("", sentence).strip()


def _stem(word: str) -> str:
    """A crude stem: long words by their first six letters, short ones without a plural s."""
    if len(word) > 6 and word.isalpha():
        return word[:6]
    if len(word) > 3 and word.endswith("s") and word.isalpha():
        return word[:-1]
    return word


def _is_identifier(token: str) -> bool:
    return any(c.isdigit() for c in token)


def words(text: str) -> list[str]:
    return _WORD.findall(text.lower())


def content_stems(text: str) -> set[str]:
    return {
        _stem(w)
        for w in words(text)
        if not _is_identifier(w) and w not in STOP_WORDS and len(w) > 2
    }


def identifiers_in(text: str) -> set[str]:
    """Tokens with a digit (ids, accessions, file names, counts, years), lowered; the trailing
    punctuation of a sentence is not part of them."""
    return {w.strip(".:/-_") for w in words(text) if _is_identifier(w)} - {""}


def support_text(asset: Asset) -> str:
    """What an asset says: title, kind, data level, metadata values, identifiers and text."""
    parts = [asset.id, asset.title, asset.kind.value]
    if asset.entity:
        parts.append(asset.entity.value)
    if asset.data_level:
        parts.append(asset.data_level.value)
    parts.append(json.dumps(asset.metadata, ensure_ascii=False, default=str))
    parts.extend(asset.identifiers)
    parts.append(asset.text)
    return "\n".join(parts)


@dataclass
class Support:
    """What one or more assets say, indexed for the checks."""

    text: str

    @cached_property
    def lowered(self) -> str:
        return self.text.lower()

    @cached_property
    def stems(self) -> set[str]:
        return content_stems(self.text)

    @cached_property
    def tokens(self) -> set[str]:
        return set(words(self.text)) | identifiers_in(self.text)

    def has_identifier(self, token: str) -> bool:
        if token in self.tokens:
            return True
        # Parts of a longer token ("0325" of a flow cell name) or a number in a longer id.
        return (
            re.search(r"(?<![a-z0-9])" + re.escape(token) + r"(?![a-z0-9])", self.lowered)
            is not None
        )


@dataclass
class Verdict:
    """The check of one sentence. `cited`: the ids kept (verified and supporting)."""

    sentence: str
    supported: bool
    cited: list[str] = field(default_factory=list)
    reason: str = ""
    attributed: bool = False  # the citation was found by the check, not written by the model

    @property
    def text(self) -> str:
        """The sentence as shown: as written (its citations checked) or, when the check found
        the citation, its claim followed by that citation."""
        if not self.attributed:
            return self.sentence
        claim = claim_text(self.sentence)
        end = ""
        if claim and claim[-1] in ".!?:":
            claim, end = claim[:-1], claim[-1]
        return f"{claim} [{', '.join(self.cited)}]{end}"


def supports(claim: str, support: Support, question_stems: set[str], extra: Support) -> str:
    """'' when `support` backs the claim, else why not."""
    missing = [
        token
        for token in sorted(identifiers_in(claim))
        if not support.has_identifier(token) and not extra.has_identifier(token)
    ]
    if missing:
        return f"identifiers not in the cited assets: {', '.join(missing)}"
    own = content_stems(claim) - question_stems
    if not own and not identifiers_in(claim):
        return "says nothing the question does not"
    if not own:
        return ""
    found = sum(1 for stem in own if stem in support.stems)
    if found / len(own) < MIN_WORD_SUPPORT:
        absent = sorted(stem for stem in own if stem not in support.stems)
        return f"words the cited assets do not use: {', '.join(absent[:8])}"
    return ""


class Grounder:
    """Checks sentences against the context assets of one answer.

    `permitted(id)` says whether a cited id may be cited at all (retrieved and visible to the
    caller); `extra` is text every sentence may use besides its citations (the entity result's
    count and the member list the retriever computed), never the question itself.
    """

    def __init__(
        self,
        context: Sequence[Asset],
        question: str,
        permitted: Callable[[str], bool],
        resolve: Callable[[str], Asset | None],
        extra: str = "",
    ) -> None:
        self.context = list(context)
        self.permitted = permitted
        self.resolve = resolve
        self.question_stems = content_stems(question)
        self.extra = Support(extra)
        self.removed_citations: list[str] = []
        self._supports: dict[str, Support] = {}

    def asset(self, asset_id: str) -> Asset:
        """A cited asset (one `check` kept, so it resolved)."""
        found = self.resolve(asset_id)
        if found is None:
            raise KeyError(asset_id)
        return found

    def _support(self, asset_id: str) -> Support | None:
        if asset_id not in self._supports:
            asset = self.resolve(asset_id)
            if asset is None:
                return None
            self._supports[asset_id] = Support(support_text(asset))
        return self._supports[asset_id]

    def check(self, sentence: str) -> Verdict:
        verified = verify_citations(sentence, self.permitted)
        self.removed_citations += verified.removed
        claim = claim_text(verified.text)
        if not claim or not any(c.isalnum() for c in claim):
            return Verdict(sentence, supported=False, reason="no statement")
        reason = "cites nothing"
        if verified.cited:
            joined = Support(
                "\n".join(s.text for i in verified.cited if (s := self._support(i)) is not None)
            )
            reason = supports(claim, joined, self.question_stems, self.extra)
            if not reason:
                return Verdict(verified.text, supported=True, cited=verified.cited)
        # The model's citation (or none) does not back it: does one context asset? Choosing
        # the source ourselves needs more evidence than confirming the model's choice: an
        # identifier, or MIN_ATTRIBUTION_WORDS of the sentence's own words ("Prepare the
        # sample" is in half the protocols and says nothing).
        if not _specific(claim, self.question_stems):
            return Verdict(verified.text, supported=False, reason=reason)
        for asset in self.context:
            support = self._support(asset.id)
            if support is not None and not supports(
                claim, support, self.question_stems, self.extra
            ):
                return Verdict(verified.text, supported=True, cited=[asset.id], attributed=True)
        return Verdict(verified.text, supported=False, reason=reason)


def _specific(claim: str, question_stems: set[str]) -> bool:
    own = content_stems(claim) - question_stems
    return bool(identifiers_in(claim)) or len(own) >= MIN_ATTRIBUTION_WORDS


def split_sentences(text: str) -> list[str]:
    """Sentences (with their citations), in order; empty pieces dropped."""
    buffer = SentenceBuffer()
    found = buffer.feed(text)
    rest = buffer.flush()
    return found + ([rest] if rest else [])


class SentenceBuffer:
    """Collects streamed text and hands out each sentence once it is complete."""

    def __init__(self) -> None:
        self.pending = ""

    def feed(self, piece: str) -> list[str]:
        self.pending += piece
        done: list[str] = []
        start = 0
        for match in _END.finditer(self.pending):
            candidate = self.pending[start : match.start()] + match.group(0).rstrip()
            if _continues(candidate, match.group(0)):
                continue
            sentence = candidate.strip()
            if sentence:
                done.append(sentence)
            start = match.end()
        self.pending = self.pending[start:]
        return done

    def flush(self) -> str:
        rest, self.pending = self.pending.strip(), ""
        return rest


def _continues(candidate: str, separator: str) -> bool:
    """A lead-in ending in ':' or an abbreviation does not end the sentence."""
    stripped = candidate.rstrip()
    if stripped.endswith(":") and "\n" in separator:
        return True
    last = stripped.rsplit(None, 1)[-1].lower() if stripped else ""
    # "1." of a numbered list starts an item; it does not end one
    return last in _ABBREVIATIONS or re.fullmatch(r"\d{1,2}[.)]", last) is not None


@dataclass
class Grounded:
    """A generated answer after grounding."""

    kept: list[Verdict]
    removed: list[Verdict]

    @property
    def text(self) -> str:
        return join_sentences(v.text for v in self.kept)

    @property
    def cited(self) -> list[str]:
        return list(dict.fromkeys(i for v in self.kept for i in v.cited))


def join_sentences(sentences: Iterable[str]) -> str:
    text = ""
    for sentence in sentences:
        if text:
            text += "\n" if sentence.lstrip().startswith(("-", "*", "•")) else " "
        text += sentence.strip()
    return text


def ground(text: str, grounder: Grounder) -> Grounded:
    verdicts = [grounder.check(s) for s in split_sentences(text)]
    return Grounded(
        kept=[v for v in verdicts if v.supported], removed=[v for v in verdicts if not v.supported]
    )
