"""Appending many rows at once with COPY, in the caller's transaction.

A multi-row INSERT through SQLAlchemy costs ~50 µs a row in bind processing and statement
preparation; binary COPY costs a few. Imports write hundreds of thousands of rows."""

import json
import operator
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from sqlalchemy import JSON, Table, text
from sqlalchemy.ext.asyncio import AsyncSession

from crm_platform.db.engine import Executor


async def copy_rows(session: Executor, table: Table, rows: Sequence[Mapping[str, Any]]) -> None:
    """Add `rows` (column name -> value, the same columns in each, as `insert()` takes them)
    to `table`; JSON columns get their values serialized as SQLAlchemy would."""
    if not rows:
        return
    columns = list(rows[0])
    writers = [(name, json_writer(table.c[name].type)) for name in columns]
    records = [
        tuple(write(row[name]) if write else row[name] for name, write in writers) for row in rows
    ]
    await copy_records(session, table, columns, records)


# Per column: its name, and how a value goes into COPY (None: as it is; see json_writer).
Writers = Sequence[tuple[str, Callable[[Any], Any] | None]]


async def copy_objects(
    session: Executor, table: Table, writers: Writers, objects: Sequence[object]
) -> None:
    """One row per object, each column the object's attribute of that name: records and
    entries made in bulk, without a dictionary per row."""
    names = [name for name, _ in writers]
    # One C call reads a row's attributes; only the columns that need it are converted.
    read = operator.attrgetter(*names)
    converted = [(index, write) for index, (_, write) in enumerate(writers) if write]
    if len(names) == 1:
        records: list[Any] = [(value,) for value in map(read, objects)]
    else:
        records = list(map(read, objects))
    if converted:
        for position, record in enumerate(records):
            values = list(record)
            for index, write in converted:
                values[index] = write(values[index])
            records[position] = values
    await copy_records(session, table, names, records)


async def copy_records(
    session: Executor, table: Table, columns: Sequence[str], records: Sequence[tuple[Any, ...]]
) -> None:
    """`copy_rows` for values already as COPY takes them (JSON columns as text, see
    `json_writer`), in `columns` order: callers that build many rows skip the dictionaries."""
    if not records:
        return
    connection = await session.connection() if isinstance(session, AsyncSession) else session
    driver = (await connection.get_raw_connection()).driver_connection
    assert driver is not None, "a connection checked out of the pool has its driver"
    if not driver.is_in_transaction():
        # SQLAlchemy begins the transaction with its first statement; COPY bypasses it,
        # and must not run on its own, committed whatever the caller does next.
        await connection.execute(text("SELECT 1"))
    await driver.copy_records_to_table(
        table.name, schema_name=table.schema, columns=list(columns), records=records
    )


def json_writer(column_type: Any) -> Any:
    """How a value of a column of `column_type` goes into COPY: None for any but JSON."""
    if not isinstance(column_type, JSON):
        return None
    if column_type.none_as_null:
        return lambda value: None if value is None else _dumps(value)
    return _dumps  # None is JSON null, as SQLAlchemy stores it by default


def _dumps(value: Any) -> str:
    # Most JSON columns of imported rows are empty: no encoder call for those.
    if not value and type(value) in _EMPTY:
        return _EMPTY[type(value)]
    return json.dumps(value)


_EMPTY: dict[type, str] = {list: "[]", dict: "{}"}
