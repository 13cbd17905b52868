"""The column grammar of SDRF files (SDRF-Proteomics, MAGE-TAB): one row → its sample, its data
files and what the row says about them; rows → one record per sample and per data file.

Headers are matched ignoring case and spaces (`Characteristics [Organism Part]` is
`characteristics[organism part]`). Columns repeat (`comment[modification parameters]` once per
modification, `characteristics[age]` twice in some files), so a row is read by position, never
as a dict of headers. Ontology-coded values (`AC=MS:1002732;NT=Orbitrap Fusion Lumos`) are
shown by their `NT=` name.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from indexer.sources._content import column_key

PLACEHOLDERS = frozenset({"", "not available", "not applicable"})  # SDRF's "no value"
# Data file columns, and whether their files are derived (processed) data.
_DATA_FILE_COLUMNS = {
    "comment[datafile]": False,
    "rawdatafile": False,
    "arraydatafile": False,
    "deriveddatafile": True,
    "derivedarraydatafile": True,
    "comment[deriveddatafile]": True,
}
_BRACKETED = re.compile(r"^(characteristics|factorvalue|comment)\[(.*)\]$")


def sdrf_label(header: str) -> str:
    """A header as SDRF spells it: lower case, single spaces, none around brackets."""
    text = " ".join(header.lower().split())
    return re.sub(r"\s*\[\s*(.*?)\s*\]", r"[\1]", text)


def ontology_name(value: str) -> str:
    """The `NT=` name of an ontology-coded value (`AC=MS:1001742;NT=LTQ Orbitrap Velos`),
    else the value itself."""
    if "=" not in value:
        return value
    for part in value.split(";"):
        key, _, name = part.partition("=")
        if key.strip().upper() == "NT" and name.strip():
            return name.strip()
    return value


@dataclass
class SdrfRow:
    number: int
    source: str
    characteristics: dict[str, str] = field(default_factory=dict)
    factors: dict[str, str] = field(default_factory=dict)
    comments: dict[str, list[str]] = field(default_factory=dict)
    fields: dict[str, str] = field(default_factory=dict)  # assay name, technology type, ...
    data_files: list[tuple[str, bool]] = field(default_factory=list)  # (name, derived)

    def comment(self, name: str) -> str | None:
        values = self.comments.get(name)
        return values[0] if values else None


@dataclass(frozen=True)
class Layout:
    """What each column of an SDRF header is: (kind, name) by position."""

    columns: list[tuple[str, str]]

    @property
    def has_source(self) -> bool:
        return ("source", "source name") in self.columns

    @property
    def has_data_files(self) -> bool:
        return any(kind == "file" for kind, _ in self.columns)


def layout(header: list[str]) -> Layout:
    columns = []
    for raw in header:
        key = column_key(raw)
        label = sdrf_label(raw)
        match = _BRACKETED.match(key)
        if key == "sourcename":
            columns.append(("source", "source name"))
        elif key in _DATA_FILE_COLUMNS:
            columns.append(("file", "derived" if _DATA_FILE_COLUMNS[key] else "raw"))
        elif match:
            kind = {"factorvalue": "factor"}.get(match.group(1), match.group(1))
            columns.append((kind, label[label.index("[") + 1 : -1]))
        else:
            columns.append(("field", label))
    return Layout(columns)


def parse_row(columns: Layout, number: int, cells: list[str]) -> SdrfRow:
    row = SdrfRow(number, "")
    for (kind, name), cell in zip(columns.columns, cells, strict=False):
        value = cell.strip()
        if value.lower() in PLACEHOLDERS:
            continue
        if kind == "source":
            row.source = value
        elif kind == "file":
            row.data_files.append((value, name == "derived"))
        elif kind == "characteristics":
            row.characteristics.setdefault(name, value)  # a repeated column adds nothing new
        elif kind == "factor":
            row.factors.setdefault(name, value)
        elif kind == "comment":
            row.comments.setdefault(name, []).append(value)
        else:
            row.fields.setdefault(name, value)
    return row


def _add(values: list[str], *new: str | None) -> None:
    for value in new:
        if value and value not in values:
            values.append(value)


@dataclass
class SampleRecord:
    name: str
    rows: list[int] = field(default_factory=list)
    characteristics: dict[str, list[str]] = field(default_factory=dict)
    factors: dict[str, list[str]] = field(default_factory=dict)
    data_files: list[str] = field(default_factory=list)


@dataclass
class FileRecord:
    name: str
    derived: bool = False
    rows: list[int] = field(default_factory=list)
    samples: list[str] = field(default_factory=list)
    assay_names: list[str] = field(default_factory=list)
    technology: list[str] = field(default_factory=list)
    labels: list[str] = field(default_factory=list)
    instruments: list[str] = field(default_factory=list)
    fractions: list[str] = field(default_factory=list)
    technical_replicates: list[str] = field(default_factory=list)
    uris: list[str] = field(default_factory=list)
    runs: list[str] = field(default_factory=list)
    characteristics: dict[str, list[str]] = field(default_factory=dict)
    factors: dict[str, list[str]] = field(default_factory=dict)
    comments: dict[str, list[str]] = field(default_factory=dict)


def collect(
    rows: list[SdrfRow], samples: dict[str, SampleRecord], files: dict[str, FileRecord]
) -> None:
    """Fold rows into one record per sample (`source name`) and per data file. A data file
    named on several rows (one per label in a TMT or iTRAQ experiment) gathers all of them."""
    for row in rows:
        sample = samples.setdefault(row.source, SampleRecord(row.source))
        sample.rows.append(row.number)
        for key, value in row.characteristics.items():
            _add(sample.characteristics.setdefault(key, []), value)
        for key, value in row.factors.items():
            _add(sample.factors.setdefault(key, []), value)
        for name, derived in row.data_files:
            _add(sample.data_files, name)
            record = files.setdefault(name, FileRecord(name, derived))
            record.rows.append(row.number)
            _add(record.samples, row.source)
            _add(record.assay_names, row.fields.get("assay name"))
            _add(record.technology, row.fields.get("technology type"))
            _add(record.labels, *(ontology_name(v) for v in row.comments.get("label", [])))
            _add(record.instruments, *map(ontology_name, row.comments.get("instrument", [])))
            _add(record.fractions, row.comment("fraction identifier"))
            _add(record.technical_replicates, row.comment("technical replicate"))
            _add(record.uris, row.comment("file uri"))
            _add(record.runs, row.comment("ena_run"))
            for key, value in row.characteristics.items():
                _add(record.characteristics.setdefault(key, []), value)
            for key, value in row.factors.items():
                _add(record.factors.setdefault(key, []), value)
            for key, values in row.comments.items():
                _add(record.comments.setdefault(key, []), *values)


def single(values: list[str]) -> str | list[str]:
    """One value as itself, several as a list (metadata reads better without 1-item lists)."""
    return values[0] if len(values) == 1 else values
