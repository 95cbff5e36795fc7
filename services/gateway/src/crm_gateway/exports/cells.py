"""A record's JSON values as the text of spreadsheet cells, one rule for CSV and XLSX.

Plain values stay as they are (true/false for booleans, "" for null); lists of plain values
are joined with "; " (the separator the import splits tags on); nested values (addresses,
consents, account roles, custom fields, money, agreements) are compact JSON; empty lists
and objects are empty cells. A cell a spreadsheet could take for a formula gets a leading
apostrophe (CSV/formula injection), in XLSX too: a sheet saved again as CSV would
otherwise carry the formula on.
"""

import json
import re
from collections.abc import Mapping, Sequence
from typing import Any

LIST_SEPARATOR = "; "
# What starts a formula in Excel, LibreOffice or Google Sheets (OWASP's list).
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
# A plain number (a phone in E.164, a negative amount) is no formula, whatever its sign.
_NUMBER = re.compile(r"[+-]?\d+(?:[.,]\d+)?")


def record_cells(record: Mapping[str, Any], columns: Sequence[str]) -> list[str]:
    return [guarded(cell_text(record.get(name))) for name in columns]


def cell_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):  # before numbers: True is an int
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, list) and all(_plain(entry) for entry in value):
        return LIST_SEPARATOR.join(cell_text(entry) for entry in value)
    if not value:
        return ""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def guarded(text: str) -> str:
    """`text`, with an apostrophe before it when a spreadsheet would run it as a formula."""
    if text.startswith(_FORMULA_STARTS) and not _NUMBER.fullmatch(text):
        return "'" + text
    return text


def _plain(value: Any) -> bool:
    return value is None or isinstance(value, str | int | float)
