"""Identifiers: extracted at index time into an exact-match field, and spotted in queries.

An identifier is a token a scientist would type to name one thing: an accession (SRR5124371,
SAMN0123, GSM12345), an ELN record (ELN-123), a sample (LIV-0042), a flow cell, a file name.
Index time collects them from metadata values under identifier-like keys and from patterns in
text. Query time proposes candidate tokens; the store decides which ones really exist.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

# Accessions and lab-style codes: letters, then digits, optionally joined by - or _.
_PATTERNS = [
    re.compile(r"\b[SED]RR\d{5,}\b"),  # SRA/ENA/DDBJ runs
    re.compile(r"\b[SED]R[XSP]\d{5,}\b"),  # experiments, samples, projects
    re.compile(r"\bSAM[NED][A-Z]?\d{5,}\b"),  # BioSamples
    re.compile(r"\bPRJ[NED][A-Z]\d+\b"),  # BioProjects
    re.compile(r"\bGS[EM]\d{3,}\b"),  # GEO
    re.compile(r"\bE-[A-Z]{4}-\d+\b"),  # ArrayExpress
    re.compile(r"\bMTBLS\d+\b"),  # MetaboLights
    re.compile(r"\bPXD\d{6}\b"),  # ProteomeXchange
    re.compile(r"\b[A-Z][A-Za-z]{1,9}[-_]\d{1,8}(?:[-_][A-Za-z0-9]+)*\b"),  # ELN-123, LIV-0042
]

# What kind of record a public accession names, for tables whose columns are not named in the
# vocabulary ("accession", "SRA") and to tell a run table from a sample sheet. Fully matched.
ACCESSION_KINDS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("run", re.compile(r"[SED]RR\d{5,}")),
    ("experiment", re.compile(r"[SED]RX\d{5,}")),
    ("sample", re.compile(r"[SED]RS\d{5,}")),
    ("biosample", re.compile(r"SAM(?:N|EA|D)\d{5,}")),
    ("study", re.compile(r"[SED]RP\d{5,}")),
    ("submission", re.compile(r"[SED]RA\d{5,}")),
    ("project", re.compile(r"PRJ(?:NA|EB|DB)\d+")),
    ("geo_sample", re.compile(r"GSM\d{3,}")),
    ("geo_series", re.compile(r"GSE\d{3,}")),
    ("metabolights", re.compile(r"MTBLS\d+")),
    ("proteomexchange", re.compile(r"PXD\d{6}")),
    ("arrayexpress", re.compile(r"E-[A-Z]{4}-\d+")),
)


def accession_kind(value: str) -> str | None:
    """`run`, `experiment`, `sample`, `biosample`, `study`, `submission`, `project`,
    `geo_sample`, `geo_series`, `metabolights`, `proteomexchange` or `arrayexpress` when `value`
    is exactly one such accession, else None."""
    text = value.strip()
    for kind, pattern in ACCESSION_KINDS:
        if pattern.fullmatch(text):
            return kind
    return None


_ID_KEY = re.compile(
    r"(^|_|\b)(id|ids|sample|samples|sample_id|sample_name|run|runs|run_id|run_ids|experiment|"
    r"eln|eln_id|accession|barcode|flowcell|flow_cell|library|library_id|specimen|subject|patient|"
    r"source name|sample name|extract name|assay name|raw data file|derived data file)($|_|\b)",
    re.IGNORECASE,
)

# Query tokens worth checking against the index: word-ish tokens with a digit or a separator.
_QUERY_TOKEN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:\-]*[A-Za-z0-9]")


def from_text(text: str) -> list[str]:
    found: dict[str, None] = {}
    for pattern in _PATTERNS:
        for match in pattern.finditer(text):
            found[match.group(0)] = None
    return list(found)


def from_metadata(metadata: Mapping[str, Any]) -> list[str]:
    """Values under identifier-like keys, at any depth."""
    found: dict[str, None] = {}

    def visit(key: str, value: Any) -> None:
        if isinstance(value, Mapping):
            for child_key, child in value.items():
                visit(str(child_key), child)
        elif isinstance(value, list | tuple):
            for item in value:
                visit(key, item)
        elif isinstance(value, str | int) and not isinstance(value, bool):
            text = str(value).strip()
            if _ID_KEY.search(key) and 2 <= len(text) <= 80 and "\n" not in text:
                found[text] = None
            elif isinstance(value, str):
                for identifier in from_text(text):
                    found[identifier] = None

    visit("", metadata)
    return list(found)


def collect(*groups: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(i for group in groups for i in group if i))


def query_candidates(query: str) -> list[str]:
    """Tokens of a query that could be identifiers, in their typed form and upper-cased."""
    candidates: dict[str, None] = {}
    for match in _QUERY_TOKEN.finditer(query):
        token = match.group(0).rstrip(".:")
        if len(token) < 3 or not any(ch.isdigit() for ch in token):
            continue
        candidates[token] = None
        candidates[token.upper()] = None
    for identifier in from_text(query):
        candidates[identifier] = None
    return list(candidates)


_BARCODE = re.compile(r"[ACGTN]{6,32}(?:[+-][ACGTN]{6,32})?")


def is_barcode(value: str) -> bool:
    """An index (barcode) sequence of a sequencing library: AAGGGTGT, or AAGGGTGT+CCGGACAT."""
    return _BARCODE.fullmatch(value) is not None


def _is_code(identifier: str) -> bool:
    """A code mixes letters with three or more digits (LIV-0042, A00814, ELN-101), or is a
    barcode. Names with fewer digits are often words a reader needs (IL-6, COVID-19, MCF-7).
    Paths and file names are not codes: their words say what the file is, and the codes inside
    them are identifiers of their own. Bare numbers are not either: "12" may be 12 weeks."""
    if is_barcode(identifier):
        return True
    return (
        len(identifier) >= 4
        and sum(ch.isdigit() for ch in identifier) >= 3
        and any(ch.isalpha() for ch in identifier)
        and "/" not in identifier
        and "." not in identifier
    )


_LEFTOVER_SEPARATORS = re.compile(r"[ \t]*[,;](?:[ \t]*[,;])*")
_SPACES = re.compile(r"[ \t]{2,}")
_OPEN_COMMA, _COMMA_CLOSE = re.compile(r"\(\s*,\s*"), re.compile(r"\s*,\s*\)")
_EMPTY_FIELD = re.compile(r"^[\w .-]{1,40}:$")
_ALNUM = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789")


def _without(text: str, code: str) -> str:
    """`text` without the standalone occurrences of `code` (not inside a longer run of letters
    and digits). A plain scan: compiling a pattern per code costs more than the search."""
    kept, start, at = [], 0, text.find(code)
    while at >= 0:
        end = at + len(code)
        before = at == 0 or text[at - 1] not in _ALNUM
        if before and (end == len(text) or text[end] not in _ALNUM):
            kept.append(text[start:at])
            start = end
        at = text.find(code, max(start, at + 1))
    kept.append(text[start:])
    return "".join(kept)


def mask(text: str, identifiers: Iterable[str]) -> str:
    """`text` without the codes among `identifiers`, and without the commas and empty
    `key:` lines their removal leaves behind."""
    codes = sorted({i for i in identifiers if i in text and _is_code(i)}, key=len, reverse=True)
    if not codes:
        return text
    for code in codes:  # longest first, so a code inside a longer one does not split it
        text = _without(text, code)
    lines = []
    for line in text.splitlines():
        line = _LEFTOVER_SEPARATORS.sub(",", line)
        line = _OPEN_COMMA.sub("(", _COMMA_CLOSE.sub(")", _SPACES.sub(" ", line)))
        line = line.strip(" \t,;")
        if line and not _EMPTY_FIELD.match(line):
            lines.append(line)
    return "\n".join(lines)
