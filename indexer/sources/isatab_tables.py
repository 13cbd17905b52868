"""Reading ISA-Tab: the investigation file's sections and the study/assay tables' rows.

ISA-Tab is tab-separated text, so the csv module reads it; the work is in the column grammar: a row
is a chain of nodes (materials, named process outputs, data files, protocol steps), and every
Characteristics/Factor Value/Comment/Unit column qualifies the node before it (`parse_row`).
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

# Column headers that start a new node in a study/assay row. Everything else (Characteristics,
# Factor Value, Parameter Value, Comment, Unit, Term Source REF, ...) qualifies the node before it.
_MATERIAL_COLUMNS = {"Source Name", "Sample Name", "Extract Name", "Labeled Extract Name"}
_NAME_COLUMNS = _MATERIAL_COLUMNS | {
    "Assay Name",
    "MS Assay Name",
    "NMR Assay Name",
    "Hybridization Assay Name",
    "Scan Name",
    "Normalization Name",
    "Data Transformation Name",
}
_BRACKETED = re.compile(r"^(Characteristics|Factor Value|Parameter Value|Comment)\s*\[(.+)\]$")
_QUALIFIERS = {"Unit", "Term Source REF", "Term Accession Number"}
_SECTION = re.compile(r"^[A-Z][A-Z ]+$")


def is_file_column(header: str) -> bool:
    """`Raw Data File`, `Array Data File`, `Derived Spectral Data File`, ...; not design files."""
    return header.endswith(" File") and header not in {"Array Design File"}


@dataclass
class Node:
    """One node of a row: a material, a named process output, a data file or a protocol step."""

    column: str
    value: str
    attributes: dict[str, str] = field(default_factory=dict)


@dataclass
class Row:
    nodes: list[Node]
    factors: dict[str, str]

    def values(self, column: str) -> list[str]:
        return [n.value for n in self.nodes if n.column == column and n.value]

    def names(self, predicate: Callable[[str], bool]) -> list[str]:
        return [n.value for n in self.nodes if predicate(n.column) and n.value]


def parse_row(headers: list[str], cells: list[str]) -> Row:
    """Group a table row's cells into nodes, attaching attributes to the node they follow.

    ISA-Tab repeats headers ("Protocol REF", "Term Source REF", "Unit", "Characteristics[...]"),
    so meaning comes from position: an attribute belongs to the nearest node to its left, and a
    Unit / Term Source REF / Term Accession Number to the attribute just before it. Factor values
    describe the whole row (they often sit after the data file columns).
    """
    nodes: list[Node] = []
    factors: dict[str, str] = {}
    last_attribute: tuple[dict[str, str], str] | None = None
    for header, raw in zip(headers, cells, strict=False):
        header = header.strip()
        value = raw.strip()
        if header in _NAME_COLUMNS or header == "Protocol REF" or is_file_column(header):
            nodes.append(Node(header, value))
            last_attribute = None
            continue
        if header in _QUALIFIERS:
            # Units read naturally after their value ("0.07 l/hr"). Ontology source refs and
            # term accessions (URIs nobody types into a search box) are left out.
            if header == "Unit" and last_attribute and value:
                target, key = last_attribute
                target[key] = f"{target[key]} {value}"
            continue
        match = _BRACKETED.match(header)
        kind, key = (match.group(1), match.group(2).strip()) if match else ("", header)
        if kind == "Factor Value":
            target = factors
        elif nodes:
            target = nodes[-1].attributes
        else:
            continue
        label = key if kind in ("Characteristics", "Factor Value", "") else f"{kind}[{key}]"
        if value:
            target[label] = value
            last_attribute = (target, label)
        else:
            last_attribute = None
    return Row(nodes, factors)


@dataclass
class Table:
    path: Path
    headers: list[str]
    rows: list[Row]


@dataclass
class StudyInfo:
    fields: dict[str, list[str]]

    def first(self, key: str) -> str:
        values = self.fields.get(key) or [""]
        return values[0].strip()

    def column(self, key: str) -> list[str]:
        return [v.strip() for v in self.fields.get(key, [])]


@dataclass
class Investigation:
    fields: dict[str, list[str]]
    studies: list[StudyInfo]

    def first(self, key: str) -> str:
        values = self.fields.get(key) or [""]
        return values[0].strip()


def read_text(path: Path, issues: list[str]) -> str:
    """UTF-8 (with or without BOM); undecodable bytes are replaced and reported."""
    data = path.read_bytes()
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        issues.append(f"not valid UTF-8 at byte {exc.start}; undecodable bytes were replaced")
        return data.decode("utf-8-sig", errors="replace")


def parse_investigation(text: str) -> Investigation:
    """Sections of `Key<TAB>value<TAB>value...` lines; each STUDY starts a new study block."""
    top: dict[str, list[str]] = {}
    studies: list[StudyInfo] = []
    current = top
    # newline="": a lone CR ends a line as csv expects, instead of stopping the reader.
    try:
        lines = list(csv.reader(io.StringIO(text, newline=""), delimiter="\t"))
    except csv.Error as exc:
        raise ValueError(f"not readable as tab-separated text ({exc})") from exc
    for cells in lines:
        if not cells or not cells[0].strip() or cells[0].startswith("#"):
            continue
        key = cells[0].strip()
        values = [c for c in cells[1:]]
        while values and not values[-1].strip():
            values.pop()
        if not values and _SECTION.match(key):
            if key == "STUDY":
                studies.append(StudyInfo({}))
                current = studies[-1].fields
            continue
        current.setdefault(key, values)
    return Investigation(top, studies)


def read_table(path: Path, issues: list[str]) -> Table:
    reader = csv.reader(io.StringIO(read_text(path, issues), newline=""), delimiter="\t")
    lines = [cells for cells in reader if any(c.strip() for c in cells)]
    if not lines:
        raise ValueError("the table is empty (no header row)")
    headers = [h.strip() for h in lines[0]]
    if "Sample Name" not in headers:
        raise ValueError("no 'Sample Name' column; is this an ISA-Tab study or assay table?")
    rows = []
    for number, cells in enumerate(lines[1:], start=2):
        if len(cells) != len(headers):
            issues.append(f"line {number}: {len(cells)} cells but {len(headers)} columns")
        rows.append(parse_row(headers, cells))
    return Table(path, headers, rows)
