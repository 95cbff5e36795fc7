"""An uploaded file as a stream of rows: `open_rows` checks the file as a whole (format,
encoding, a header, at least one data row, the row limit) before the first row is used,
then yields one row at a time, so memory stays flat from 10 rows to a million."""

from collections.abc import Callable, Generator, Iterator
from pathlib import Path
from types import TracebackType
from typing import NamedTuple

from crm_customer.imports.csv_records import inspect_csv
from crm_customer.imports.errors import ImportFileError
from crm_customer.imports.formats import HEAD_BYTES, Format, Record, detect
from crm_customer.imports.xlsx_records import open_xlsx


class RawRow(NamedTuple):
    """One data row as read: `cells` has exactly one cell per header, unless `problem` is
    set: the row cannot be imported as it stands (it has cells beyond the last header,
    all kept)."""

    line: int
    cells: list[str]
    problem: str | None = None


class RowSource:
    """The header and the data rows of one file; iterate once, then close (or use `with`)."""

    def __init__(
        self, headers: list[str], rows: Iterator[RawRow], close: Callable[[], None]
    ) -> None:
        self.headers = headers
        self._rows = rows
        self._close = close

    def __iter__(self) -> Iterator[RawRow]:
        return self._rows

    def close(self) -> None:
        self._close()

    def __enter__(self) -> "RowSource":
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()


def open_rows(path: Path, *, max_rows: int | None = None) -> RowSource:
    """The rows of the CSV or XLSX file at `path`, or ImportFileError saying why the file
    cannot be imported at all. `max_rows` limits the data rows (blank rows not counted)."""
    with path.open("rb") as binary:
        head = binary.read(HEAD_BYTES)
    if not head:
        raise ImportFileError("the file is empty")
    file_format = detect(path, head)
    if file_format is Format.XLSX:
        workbook = open_xlsx(path)
        try:
            return _row_source(workbook.records, workbook.max_records, max_rows, workbook.close)
        except ImportFileError:
            workbook.close()
            raise
    csv_file = inspect_csv(path, file_format, head)
    return _row_source(csv_file.records, csv_file.max_records, max_rows, lambda: None)


def _row_source(
    records: Callable[[], Generator[Record, None, None]],
    max_records: int,
    max_rows: int | None,
    close: Callable[[], None],
) -> RowSource:
    source = records()
    try:
        headers, columns, first = _header_and_first_row(_non_blank(source))
        if max_rows is not None and max_records - 1 > max_rows:
            _check_row_count(records, max_rows)
    except ImportFileError:
        source.close()
        raise
    width = len(headers)
    rows = (
        _shaped(line, cells, width, columns) for line, cells in _chain(first, _non_blank(source))
    )

    def close_all() -> None:
        rows.close()
        source.close()
        close()

    return RowSource(headers, rows, close_all)


def _header_and_first_row(stream: Iterator[Record]) -> tuple[list[str], int, Record]:
    """The header's names, how many columns it has (unnamed trailing ones included), and
    the first data row: a file without one is refused up front."""
    header = next(stream, None)
    if header is None:
        raise ImportFileError("the file has no header row")
    first = next(stream, None)
    if first is None:
        raise ImportFileError("the file has no data rows")
    return _header_names(header[1]), len(header[1]), first


def _check_row_count(records: Callable[[], Generator[Record, None, None]], max_rows: int) -> None:
    """Counted exactly with a second read, needed only when the cheap bound (line breaks,
    the sheet's last row) is over the limit: blank and multi-line rows make it too high."""
    source = records()
    try:
        data_rows = sum(1 for _ in _non_blank(source)) - 1
    finally:
        source.close()
    if data_rows > max_rows:
        raise ImportFileError(
            f"the file has {data_rows} rows, more than the {max_rows} allowed; split it"
        )


def _chain(first: Record, rest: Iterator[Record]) -> Iterator[Record]:
    yield first
    yield from rest


def _non_blank(records: Iterator[Record]) -> Iterator[Record]:
    """Rows with something in them: empty lines and rows of empty cells say nothing."""
    for record in records:
        if any(cell and not cell.isspace() for cell in record[1]):
            yield record


def _header_names(cells: list[str]) -> list[str]:
    """Trailing unnamed columns are left out: spreadsheets often carry empty formatted ones."""
    names = [cell.strip().lstrip("\ufeff") for cell in cells]  # a second BOM, pasted in
    while names and not names[-1]:
        names.pop()
    return names


def _shaped(line: int, cells: list[str], width: int, columns: int) -> RawRow:
    """One cell per named header: missing cells are empty; cells under the header's unnamed
    trailing columns are left out as any unnamed column is, and extra empty ones dropped;
    cells beyond every column with something in them make the row unusable, since nobody
    knows what they belong to."""
    if len(cells) == width:
        return RawRow(line, cells)
    if len(cells) < width:
        return RawRow(line, cells + [""] * (width - len(cells)))
    used = len(cells)
    while used > width and (used <= columns or not cells[used - 1].strip()):
        used -= 1
    if used == width:
        return RawRow(line, cells[:width])
    # Kept whole: the errors CSV gives the row back as it was, to be fixed.
    return RawRow(line, cells[:used], f"row has {used} cells, the header has {width}")
