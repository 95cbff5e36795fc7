"""Import files read into normalized rows, framework-free (issue 3, `POST /api/v1/imports`):

    with open_rows(path, max_rows=limit) as source:        # ImportFileError: refuse the file
        columns = map_headers(source.headers, "contacts", mapping)
        for raw in source:
            row = normalize_row(raw, columns, default_region="CN")
            # row.error: reject the row with that reason; else store row.values

`open_rows` checks the whole file before the first row; iterating can still raise
ImportFileError for a CSV that breaks the csv module's rules mid-file (a cell over its
size limit), which fails the import.
"""

from crm_customer.imports.columns import ColumnMap, Entity, map_headers
from crm_customer.imports.errors import ImportFileError
from crm_customer.imports.reader import RawRow, RowSource, open_rows
from crm_customer.imports.rows import ParsedRow, check_region, normalize_row

__all__ = [
    "ColumnMap",
    "Entity",
    "ImportFileError",
    "ParsedRow",
    "RawRow",
    "RowSource",
    "check_region",
    "map_headers",
    "normalize_row",
    "open_rows",
]
