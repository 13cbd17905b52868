"""Sample sheets and run tables: `table+file:///path/table.csv`, or a directory: every `.csv`,
`.tsv`, `.tab`, `.txt`, `.xlsx` and `.xlsm` file in it (not in subdirectories).

Made for NCBI SRA RunInfo tables, ENA filereports and free-form lab sample sheets (Illumina
sample sheets too: the table after `[Data]`). One asset per row, id `table:{path}#{primary id}`:
the row's run accession, else its sample accession or name, else `row-{n}` (`{sheet}!row-{n}` in
a workbook), so re-indexing updates rows in place. A run row links `uses_sample` to the rows of
its sample in any table of the same source; a sample that only run rows name (an SRA RunInfo
table lists runs) gets an asset `table:{path}#sample={accession}` from what its runs agree on.

Bad input is reported, never silently dropped: a file that is no table (no header row, binary,
unreadable) and each ragged row or repeated primary id becomes a SourceIssue naming the file,
row and column; the other rows are still indexed, and a file or row that exists but cannot be
read this time keeps its indexed assets.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from indexer.access import resolve_groups
from indexer.sources.base import SourceIssue, path_from_uri
from indexer.sources.table_columns import Column, classify, unique_names
from indexer.sources.table_read import (
    NotATable,
    RawTable,
    data_in_header,
    is_table_file,
    read_tables,
    require_excel_reader,
)
from indexer.sources.table_rows import (
    Row,
    build_asset,
    make_row,
    sample_names,
    samples_of_runs,
)
from labsearch.errors import SourceError
from labsearch.schema import Asset, Entity
from labsearch.settings import Settings

SCHEME = "table+file"


class TableSource:
    """Assets for the rows of one table file or of the table files in one directory."""

    def __init__(self, uri: str, settings: Settings) -> None:
        self.uri = uri
        self.settings = settings
        self.root = path_from_uri(uri, SCHEME)
        # Where data files named in the tables may be linked from, and names are relative to.
        self.base = self.root if self.root.is_dir() else self.root.parent

    def scan(self) -> Iterator[Asset | SourceIssue]:
        paths = self._paths()
        require_excel_reader(paths, self.uri)
        rows: list[tuple[Row, str]] = []
        for path in paths:
            yield from self._read_file(path, rows)
        # A sample row is known by every name and accession it gives its sample.
        samples: dict[str, list[str]] = {}
        for row, asset_id in rows:
            if row.entity is Entity.SAMPLE:
                for name in sample_names(row):
                    samples.setdefault(name, []).append(asset_id)
        # Samples only run rows name (SRA RunInfo) get an asset of their own, after the runs.
        for sample in samples_of_runs(rows, samples):
            asset_id = f"table:{sample.path}#sample={sample.primary()[0]}"
            for name in sample_names(sample):
                samples.setdefault(name, []).append(asset_id)
            rows.append((sample, asset_id))
        for row, asset_id in rows:
            access = resolve_groups(
                self.settings,
                self.uri,
                None,
                keys=[str(row.path.parent), str(row.path), f"file://{row.path}"],
            )
            yield build_asset(
                row, asset_id, uri=self.uri, root=self.base, access=access, sample_assets=samples
            )

    def _paths(self) -> list[Path]:
        if self.root.is_file():
            return [self.root]
        if self.root.is_dir():
            # Hidden files and Excel's lock files (~$name.xlsx) are not tables.
            return sorted(
                p
                for p in self.root.iterdir()
                if p.is_file() and not p.name.startswith((".", "~$")) and is_table_file(p)
            )
        raise SourceError(
            f"{self.uri}: {self.root} does not exist; give a table file (.csv, .tsv, .txt, .xlsx) "
            "or a directory of them as table+file:///absolute/path"
        )

    def _read_file(self, path: Path, out: list[tuple[Row, str]]) -> Iterator[SourceIssue]:
        """Issues of one file; its rows are appended to `out` as (row, asset id)."""
        label = path.relative_to(self.base).as_posix()
        whole_file = f"table:{path}"  # keeps every row's asset when the file cannot be read
        try:
            tables = read_tables(path)
        except NotATable as exc:
            if not (exc.prose and self.root.is_dir()):
                where = f"{label}, row {exc.row}" if exc.row else label
                yield SourceIssue(self.uri, where, exc.reason, keep=whole_file)
            return
        except OSError as exc:
            yield SourceIssue(
                self.uri, label, f"cannot read: {exc.strerror or exc}", keep=whole_file
            )
            return
        seen: dict[str, str] = {}  # asset id → where it was first given (across sheets too)
        for table in tables:
            yield from self._read_table(table, label, seen, out)

    def _read_table(
        self, table: RawTable, label: str, seen: dict[str, str], out: list[tuple[Row, str]]
    ) -> Iterator[SourceIssue]:
        name = label if table.sheet is None else f"{label} (sheet {table.sheet})"
        cell = data_in_header(table.header)
        if cell is not None:
            yield SourceIssue(
                self.uri,
                f"{name}, row {table.header_row}",
                f"no header row: the first row holds data ({cell!r}); add a row naming the "
                "columns (Run, SampleName, ...)",
                keep=f"table:{table.path}",
            )
            return
        names, renamed = unique_names(table.header)
        for index, reason in renamed:
            yield SourceIssue(self.uri, f"{name}, row {table.header_row}", reason, names[index])
        columns = classify(names, [cells for _, cells in table.rows])
        ragged = {
            number: self._row_id(table, columns, number, cells) for number, cells in table.ragged
        }
        for problem in table.problems:
            where = f"{name}, row {problem.row}" if problem.row else name
            keep = ragged.get(problem.row) if problem.row is not None else None
            yield SourceIssue(self.uri, where, problem.reason, problem.column, keep=keep)
        for number, cells in table.rows:
            row = make_row(
                table.path, f"{name}, row {number}", number, _row_key(table, number), columns, cells
            )
            primary, column = row.primary()
            asset_id = f"table:{table.path}#{primary}"
            if asset_id in seen:
                yield SourceIssue(
                    self.uri,
                    row.where,
                    f"duplicate {column or 'id'} {primary!r} (also in {seen[asset_id]}); this "
                    f"row is not indexed: give each row its own {column or 'id'}",
                    column,
                )
                continue
            seen[asset_id] = row.where
            out.append((row, asset_id))

    @staticmethod
    def _row_id(
        table: RawTable, columns: list[Column], number: int, cells: list[str]
    ) -> str | None:
        """The asset id a ragged row had when it was readable, so its indexed asset is kept."""
        width = len(columns)
        try:
            row = make_row(
                table.path,
                "",
                number,
                _row_key(table, number),
                columns,
                (cells + [""] * width)[:width],
            )
        except ValueError:  # a shifted cell that does not fit its column's type
            return None
        return f"table:{table.path}#{row.primary()[0]}"


def _row_key(table: RawTable, number: int) -> str:
    return f"row-{number}" if table.sheet is None else f"{table.sheet}!row-{number}"
