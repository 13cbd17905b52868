"""Reading table files for the table and SDRF sources: CSV, TSV and delimited text (header and
rows of strings) and Excel workbooks (one table per sheet), every row with its spreadsheet row
number (the header is row 1), and what was wrong with the file as `Problem`s.

Why the csv module and not `pandas.read_csv`: a user needs the row and the column of a bad row,
and read_csv either fails the whole file on one ragged row or skips bad lines without saying
which. Why openpyxl directly and not `pandas.read_excel`: pandas drops blank rows, and then the
row numbers in issues would not be the ones Excel shows.
"""

from __future__ import annotations

import codecs
import csv
import io
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, time
from pathlib import Path
from typing import Any

from labsearch.errors import SourceError
from labsearch.identifiers import accession_kind

TEXT_SUFFIXES = frozenset({".csv", ".tsv", ".tab", ".txt"})
EXCEL_SUFFIXES = frozenset({".xlsx", ".xlsm"})
_DELIMITERS = ("\t", ",", ";", "|")
_SECTIONED_DATA = ("[data]", "[bclconvert_data]")  # Illumina sample sheets
_LINE_END = re.compile(r"\r\n|\r|\n")
_FLOAT = re.compile(r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?")


@dataclass(frozen=True)
class Problem:
    """Something wrong in a table file: where (row, column) and why."""

    reason: str
    row: int | None = None
    column: str | None = None


@dataclass
class RawTable:
    """A table as strings. `ragged` rows have a cell count unlike the header's and are left out
    of `rows`; they are kept so a source can name the records it could not read."""

    path: Path
    sheet: str | None
    header: list[str]
    header_row: int = 1
    rows: list[tuple[int, list[str]]] = field(default_factory=list)
    ragged: list[tuple[int, list[str]]] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)


class NotATable(Exception):
    """The file (or sheet) cannot be read as a table at all. `prose`: it is plain text (a
    README.txt beside the tables), which a directory scan passes over."""

    def __init__(self, reason: str, row: int | None = None, prose: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.row = row
        self.prose = prose


def data_in_header(header: list[str]) -> str | None:
    """A header cell that is a value, when the header row is data: it holds an accession, or
    only numbers and dates. (A header naming a column `2024` or `dose 5` is still a header.)"""
    accession = next((cell for cell in header if accession_kind(cell)), None)
    if accession:
        return accession
    cells = [cell for cell in header if cell]
    if cells and all(is_number(c) or iso_date_text(c) for c in cells):
        return cells[0]
    return None


def is_number(text: str) -> bool:
    return bool(_FLOAT.fullmatch(text))


def iso_date_text(text: str) -> str | None:
    """`text` as an ISO 8601 date (`2024-01-31`) or date-time (`2024-01-31T09:30:00`) if it is
    one, with a `-` (so that 20240131 and 2024 stay numbers)."""
    if "-" not in text[:8] or len(text) < 8:
        return None
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    if moment.time() == time.min and moment.tzinfo is None and len(text) <= 10:
        return moment.date().isoformat()
    return moment.isoformat()


def is_table_file(path: Path) -> bool:
    return path.suffix.lower() in TEXT_SUFFIXES | EXCEL_SUFFIXES


def require_excel_reader(paths: Iterable[Path], uri: str) -> None:
    """Fail before anything is read when a workbook is to be indexed and openpyxl is missing."""
    workbooks = [p for p in paths if p.suffix.lower() in EXCEL_SUFFIXES]
    if not workbooks:
        return
    try:
        import openpyxl  # noqa: F401
    except ImportError as exc:
        raise SourceError(
            f"{uri}: reading Excel workbooks ({workbooks[0].name}) needs openpyxl; install it "
            "with `.venv/bin/pip install openpyxl`, or save the sheets as CSV"
        ) from exc


def read_tables(path: Path, delimiter: str | None = None) -> list[RawTable]:
    """The tables of one file (one per non-empty sheet of a workbook). Raises NotATable when
    the file cannot be read as a table, OSError when it cannot be read at all."""
    if path.suffix.lower() in EXCEL_SUFFIXES:
        return _read_workbook(path)
    problems: list[Problem] = []
    text = _decode(path.read_bytes(), problems)
    return [_read_text(path, text, delimiter, problems)]


def _decode(data: bytes, problems: list[Problem]) -> str:
    """UTF-8 (with or without BOM) or BOM-marked UTF-16 (Excel's "Unicode text"). Anything else
    is decoded with replacement characters and reported at the row of its first bad byte."""
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return data.decode("utf-16")
    if b"\x00" in data[:8192]:
        raise NotATable(
            "binary content (NUL bytes), not a text table; save it as CSV or TSV in UTF-8"
        )
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        row = data.count(b"\n", 0, exc.start) + 1
        problems.append(
            Problem(
                f"not UTF-8 (byte {data[exc.start]:#04x} in an unknown encoding); undecodable "
                "bytes were replaced with U+FFFD: save the file as UTF-8",
                row=row,
            )
        )
        return data.decode("utf-8-sig", errors="replace")


def _delimiter(path: Path, header_line: str) -> str | None:
    """By extension, checked against the header line (European spreadsheets save `.csv` with
    `;`); for `.txt`, the separator the header line uses most. None: a single column."""
    suffix = path.suffix.lower()
    counts = {d: header_line.count(d) for d in _DELIMITERS}
    if suffix in (".tsv", ".tab") and counts["\t"]:
        return "\t"
    if suffix == ".csv" and counts[","]:
        return ","
    best = max(_DELIMITERS, key=lambda d: counts[d])
    return best if counts[best] else None


def _read_text(path: Path, text: str, delimiter: str | None, problems: list[Problem]) -> RawTable:
    # Only CR/LF end a line: str.splitlines would also break cells at a form feed or U+2028.
    lines = _LINE_END.split(text)
    start = _header_index(lines)
    header_line = lines[start] if start < len(lines) else ""
    delimiter = delimiter or _delimiter(path, header_line)
    if delimiter is None and path.suffix.lower() == ".txt":
        raise NotATable(
            "no tab, comma or semicolon in the first line: not a table", row=start + 1, prose=True
        )
    reader = csv.reader(io.StringIO("\n".join(lines[start:])), delimiter=delimiter or "\t")
    numbered: list[tuple[int, list[str]]] = []
    try:
        for number, cells in enumerate(reader, start=start + 1):
            numbered.append((number, cells))
    except csv.Error as exc:  # e.g. a quote never closed: the rest of the file is one cell
        problems.append(Problem(f"unreadable from here on ({exc})", row=start + reader.line_num))
    return _assemble(path, None, numbered, problems)


def _header_index(lines: list[str]) -> int:
    """Index of the header line: after blank and `#` comment lines (SDRF and some exports
    write `#key=value` lines first), and after the [Header]/[Reads] sections of an Illumina
    sample sheet, whose table follows `[Data]`."""
    index = 0
    while index < len(lines) and (not lines[index].strip() or lines[index].startswith("#")):
        index += 1
    if index < len(lines) and lines[index].lstrip().startswith("["):
        for number, line in enumerate(lines[index:], start=index):
            if line.strip().strip(",;\t").lower() in _SECTIONED_DATA:
                return number + 1
        raise NotATable("a sectioned sample sheet without a [Data] section", row=index + 1)
    return index


def _read_workbook(path: Path) -> list[RawTable]:
    import openpyxl  # checked by require_excel_reader before a scan starts

    try:
        book = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # zipfile.BadZipFile, KeyError, InvalidFileException...
        raise NotATable(f"not a readable Excel workbook ({type(exc).__name__}: {exc})") from exc
    try:
        tables = []
        for sheet in book.worksheets:
            # min_row=1: a read-only sheet otherwise starts at its first used row, and row
            # numbers would not be the ones Excel shows.
            rows = [
                (number, [_cell_text(value) for value in values])
                for number, values in enumerate(
                    sheet.iter_rows(min_row=1, values_only=True), start=1
                )
            ]
            if any(any(cells) for _, cells in rows):
                tables.append(_assemble(path, sheet.title, rows, []))
        return tables
    finally:
        book.close()


def _cell_text(value: Any) -> str:
    """A workbook cell as the text a CSV export would hold (dates in ISO 8601)."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.date().isoformat() if value.time() == time.min else value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def _assemble(
    path: Path, sheet: str | None, numbered: list[tuple[int, list[str]]], problems: list[Problem]
) -> RawTable:
    """Header, good rows and ragged rows from numbered records (blank records dropped)."""
    records = [
        (n, [c.strip() for c in cells]) for n, cells in numbered if any(c.strip() for c in cells)
    ]
    if not records:
        raise NotATable("empty: no header row and no data")
    header_row, header = records[0]
    while header and not header[-1]:
        header.pop()
    if not header:
        raise NotATable("the header row is empty", row=header_row)
    table = RawTable(path, sheet, header, header_row, problems=problems)
    for number, cells in records[1:]:
        while len(cells) > len(header) and not cells[-1]:
            cells.pop()  # trailing empty cells, as spreadsheets write them
        if len(cells) < len(header) and sheet is not None:
            cells = cells + [""] * (len(header) - len(cells))  # a workbook row is never short
        if len(cells) == len(header):
            table.rows.append((number, cells))
            continue
        table.ragged.append((number, cells))
        column = header[len(cells)] if len(cells) < len(header) else None
        table.problems.append(
            Problem(
                f"{len(cells)} cells but {len(header)} columns; the row is not indexed: "
                "check for a missing or extra separator",
                row=number,
                column=column,
            )
        )
    return table
