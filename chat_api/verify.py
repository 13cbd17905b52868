"""Checks on model output: cited ids must be retrieved and permitted; entity answers must name
exactly the retriever's members.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from labsearch import identifiers
from labsearch.models import EntityResult, Member
from labsearch.schema import Asset

_BRACKET = re.compile(r"\[([^\[\]\n]{1,400})\]")
_SEPARATOR = re.compile(r"\s*[,;]\s+")
# Keys whose values name a member the way a person would write it in a sentence.
_NAME_KEYS = ("run_id", "record_id", "sample_id", "name", "experiment_id")


@dataclass
class CitationCheck:
    text: str
    cited: list[str] = field(default_factory=list)  # verified ids, in order of first citation
    removed: list[str] = field(default_factory=list)


def verify_citations(text: str, permitted: Callable[[str], bool]) -> CitationCheck:
    """Keep `[id]` citations for which `permitted(id)` holds; strip every other one from the text.

    A bracket may hold several ids separated by commas or semicolons.
    """
    check = CitationCheck(text="")

    def replace(match: re.Match[str]) -> str:
        content = match.group(1).strip()
        parts = [content] if permitted(content) else _SEPARATOR.split(content)
        kept = []
        for part in parts:
            part = part.strip()
            if part and permitted(part):
                kept.append(part)
                if part not in check.cited:
                    check.cited.append(part)
            elif part:
                check.removed.append(part)
        return f"[{', '.join(kept)}]" if kept else ""

    cleaned = _BRACKET.sub(replace, text)
    # Removing a citation can leave "word ." or double spaces behind.
    cleaned = re.sub(r"[ \t]+([.,;:])", r"\1", cleaned)
    check.text = re.sub(r"[ \t]{2,}", " ", cleaned).strip()
    return check


def asset_names(asset_id: str, title: str, metadata: dict | None = None) -> set[str]:
    """Strings that name one asset in prose: its id, title, id tail and file name."""
    names = {asset_id, title}
    tail = re.split(r"[#:]", asset_id)[-1]
    names.add(tail)
    names.add(tail.rsplit("/", 1)[-1])
    for key in _NAME_KEYS:
        value = (metadata or {}).get(key)
        if isinstance(value, str | int) and not isinstance(value, bool):
            names.add(str(value))
    return {name.strip() for name in names if name and len(name.strip()) >= 2}


def _mentions(text: str, name: str) -> bool:
    pattern = r"(?<![\w\-/])" + re.escape(name) + r"(?![\w\-/])"
    return re.search(pattern, text, flags=re.IGNORECASE) is not None


def _member_names(member: Member) -> set[str]:
    return asset_names(member.id, member.title, member.metadata)


@dataclass
class MemberCheck:
    missing: list[str]
    added: list[str]

    @property
    def ok(self) -> bool:
        return not self.missing and not self.added


def _tokens(text: str) -> set[str]:
    """Identifier-like tokens (letters and digits, e.g. RUN-B-001, kidney-atac-2024), lowered.

    Bare numbers (years, instrument models) are not names of items, so they are skipped.
    """
    found = set(identifiers.query_candidates(text)) | set(identifiers.from_text(text))
    return {
        token.lower()
        for token in found
        if any(c.isdigit() for c in token) and any(c.isalpha() for c in token)
    }


def check_members(
    text: str,
    result: EntityResult,
    context: Iterable[Asset],
    known_text: str = "",
) -> MemberCheck:
    """Does `text` name every member of `result` and no other item?

    Missing: a member none of whose names appears. Added: an identifier-like token in the text
    that names a context asset of the result's entity that is not a member, or that appears
    nowhere in what the model was given (`known_text`: the prompt), i.e. an invented item.
    """
    member_ids = {member.id for member in result.members}
    missing = [
        member.id
        for member in result.members
        if not any(_mentions(text, name) for name in _member_names(member))
    ]
    member_names = {n for member in result.members for n in _member_names(member)}
    member_tokens = _tokens(" ".join(member_names))
    member_tokens |= {n.lower() for n in member_names}
    for member in result.members:
        member_tokens |= _tokens(" ".join(identifiers.from_metadata(member.metadata)))
    known = _tokens(known_text) | _tokens(result.subject) | member_tokens
    rivals: set[str] = set()
    for asset in context:
        names = asset_names(asset.id, asset.title, asset.metadata) | set(asset.identifiers)
        lowered = {n.lower() for n in names} | _tokens(" ".join(names))
        known |= lowered
        same_entity = result.entity is not None and asset.entity == result.entity
        if same_entity and asset.id not in member_ids:
            rivals |= lowered - member_tokens
    cited = [part for m in _BRACKET.finditer(text) for part in _SEPARATOR.split(m.group(1))]
    candidates = sorted(_tokens(text)) + [part.strip().lower() for part in cited if part.strip()]
    added = [c for c in dict.fromkeys(candidates) if c in rivals or c not in known]
    return MemberCheck(missing=missing, added=added)
