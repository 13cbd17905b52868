"""What each column of a table is: the type of its values and its role.

Types are decided per column, never per cell, so a column reads the same in every row: numbers
when every value is one (`spots`, `tax_id`), ISO dates when every value is a date (`ReleaseDate`),
text otherwise. Integers must be written canonically: a column holding `0042` keeps its codes as
text. Roles come from the shared vocabulary (`_content.IDENTIFIER_COLUMNS`, `DATA_FILE_COLUMNS`)
and, for columns it does not name, from the accessions they hold: a column `SRA` whose values
are all SRR accessions is a run column.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from indexer.sources._content import DATA_FILE_COLUMN_KEYS, IDENTIFIER_COLUMN_ROLES, column_key
from indexer.sources.table_read import is_number, iso_date_text
from labsearch.identifiers import accession_kind

_INT = re.compile(r"-?(?:0|[1-9]\d{0,17})")
# Accession kinds → the role a column of them plays.
_KIND_ROLES = {
    "run": "run",
    "experiment": "experiment",
    "sample": "sample",
    "biosample": "sample",
    "geo_sample": "sample",
    "study": "study",
    "project": "study",
    "geo_series": "study",
    "metabolights": "study",
    "proteomexchange": "study",
    "arrayexpress": "study",
    "submission": "submission",
}


@dataclass(frozen=True)
class Column:
    name: str  # the header, made unique within the table
    role: str | None  # run, experiment, sample, study, submission, library; None: a property
    files: bool  # its values name data files
    convert: Callable[[str], Any]


def unique_names(header: list[str]) -> tuple[list[str], list[tuple[int, str]]]:
    """Headers made unique (a repeated `Comment` becomes `Comment (2)`) and blank ones named
    (`column 7`), with (index, reason) for each header that had to be renamed."""
    names: list[str] = []
    renamed: list[tuple[int, str]] = []
    seen: dict[str, int] = {}
    for index, raw in enumerate(header):
        name = raw or f"column {index + 1}"
        if not raw:
            renamed.append(
                (index, f"column {index + 1} has no header; its values are kept as {name!r}")
            )
        count = seen.get(name, 0) + 1
        seen[name] = count
        if count > 1:
            renamed.append(
                (index, f"{name!r} is a repeated header; this one is kept as '{name} ({count})'")
            )
            name = f"{name} ({count})"
        names.append(name)
    return names, renamed


def classify(names: list[str], rows: list[list[str]]) -> list[Column]:
    """The type and role of each column, from its name and all its values."""
    columns = []
    for index, name in enumerate(names):
        values = [cells[index] for cells in rows if cells[index]]
        key = column_key(name)
        role = IDENTIFIER_COLUMN_ROLES.get(key) or _role_from_values(values)
        columns.append(Column(name, role, key in DATA_FILE_COLUMN_KEYS, _converter(values)))
    return columns


def _role_from_values(values: list[str]) -> str | None:
    roles = {_KIND_ROLES.get(accession_kind(v) or "") for v in values}
    return roles.pop() if len(roles) == 1 else None


def _converter(values: list[str]) -> Callable[[str], Any]:
    if not values:
        return str
    if all(_INT.fullmatch(v) for v in values):
        return int
    if all(is_number(v) for v in values):
        return float
    if all(iso_date_text(v) for v in values):
        return lambda v: iso_date_text(v) or v
    return str
