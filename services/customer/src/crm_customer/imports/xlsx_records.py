"""XLSX as a stream of records, through python-calamine: the first visible worksheet, every
cell turned into the text a person sees in it."""

import datetime as dt
from collections.abc import Generator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from python_calamine import (
    CalamineError,
    CalamineSheet,
    CalamineWorkbook,
    SheetTypeEnum,
    SheetVisibleEnum,
)

from crm_customer.imports.errors import ImportFileError
from crm_customer.imports.formats import Record


@dataclass
class XlsxFile:
    workbook: CalamineWorkbook
    sheet: CalamineSheet

    @property
    def max_records(self) -> int:
        end = self.sheet.end
        return 0 if end is None else end[0] + 1

    def records(self) -> Generator[Record, None, None]:
        """Every row with its number as Excel shows it. calamine yields rows from the top
        of the sheet (row 1), however far down the data starts, so the count is the row."""
        for index, row in enumerate(self.sheet.iter_rows()):
            cells = [cell_text(cell) for cell in row]
            if any("\x00" in cell for cell in cells):  # _x0000_ in the sheet's XML
                raise ImportFileError(f"row {index + 1} contains a NUL character; remove it")
            yield index + 1, cells

    def close(self) -> None:
        self.workbook.close()


def open_xlsx(path: Path) -> XlsxFile:
    """calamine reads the worksheet into memory on opening (in Rust, about the size of the
    unzipped sheet); rows become Python objects one at a time, as they are iterated."""
    try:
        workbook = CalamineWorkbook.from_path(path)
    except CalamineError as error:
        raise ImportFileError(f"the XLSX file cannot be read: {error}") from None
    try:
        return XlsxFile(workbook, _first_visible_sheet(workbook))
    except CalamineError as error:
        workbook.close()
        raise ImportFileError(f"the XLSX file cannot be read: {error}") from None
    except ImportFileError:
        workbook.close()
        raise


def _first_visible_sheet(workbook: CalamineWorkbook) -> CalamineSheet:
    for index, sheet in enumerate(workbook.sheets_metadata):
        if sheet.visible == SheetVisibleEnum.Visible and sheet.typ == SheetTypeEnum.WorkSheet:
            return workbook.get_sheet_by_index(index)
    raise ImportFileError("the XLSX file has no visible worksheet")


def cell_text(value: Any) -> str:
    """A cell as text: 42 not 42.0, dates as YYYY-MM-DD, booleans as true/false."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):  # before int and float: True is an int
        return "true" if value else "false"
    if isinstance(value, float):
        return _number_text(value)
    if isinstance(value, dt.datetime):  # before date: a datetime is a date
        if value.time() == dt.time():
            return value.date().isoformat()
        return value.isoformat(sep=" ", timespec="seconds")
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    return str(value)


def _number_text(value: float) -> str:
    """As Excel shows the number: 15 significant digits (0.1+0.2 is 0.3), whole numbers
    without exponent (phones and ids stored as numbers: 13800138000). An 18-digit id typed
    into Excel keeps only 15 digits (110101199003077777 is 110101199003078000); the float's
    further digits were never in the sheet."""
    if value.is_integer() and abs(value) < 1e21:
        return str(int(float(format(value, ".15g"))))
    return format(value, ".15g")
