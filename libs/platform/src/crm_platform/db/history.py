"""Field history (DESIGN §5): who changed which field of which record, when, old -> new."""

import dataclasses
import datetime as dt
import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Column, DateTime, Index, MetaData, String, Table, text
from sqlalchemy.dialects.postgresql import JSONB, UUID

from crm_platform.db.engine import Executor
from crm_platform.ids import uuid7


def history_table(metadata: MetaData) -> Table:
    return Table(
        "field_history",
        metadata,
        Column("id", UUID(as_uuid=True), primary_key=True),
        Column("record_type", String(50), nullable=False),
        Column("record_id", UUID(as_uuid=True), nullable=False),
        Column("field", String(100), nullable=False),
        Column("old_value", JSONB),
        Column("new_value", JSONB),
        Column("actor_id", UUID(as_uuid=True), nullable=False),
        Column("changed_at", DateTime(timezone=True), nullable=False),
        Index("ix_field_history_record", "record_id", "changed_at"),
    )


@dataclass(frozen=True)
class HistoryEntry:
    record_type: str
    record_id: uuid.UUID
    field: str
    old_value: Any
    new_value: Any
    actor_id: uuid.UUID
    changed_at: dt.datetime


async def write_history(session: Executor, table: Table, entries: Sequence[HistoryEntry]) -> None:
    """One statement for any number of entries (each column one array parameter, as the
    outbox does): an import writes tens of thousands at once."""
    if not entries:
        return
    # Names from our own schema; every value is bound.
    statement = text(
        f"INSERT INTO {table.name} ({', '.join(c.name for c in table.columns)}) "  # noqa: S608
        "SELECT id, record_type, record_id, field, old_value::jsonb, new_value::jsonb, "
        "actor_id, changed_at FROM unnest(CAST(:ids AS uuid[]), CAST(:types AS text[]), "
        "CAST(:records AS uuid[]), CAST(:fields AS text[]), CAST(:olds AS text[]), "
        "CAST(:news AS text[]), CAST(:actors AS uuid[]), CAST(:times AS timestamptz[])) "
        "AS h(id, record_type, record_id, field, old_value, new_value, actor_id, changed_at)"
    )
    await session.execute(
        statement,
        {
            "ids": [uuid7() for _ in entries],
            "types": [e.record_type for e in entries],
            "records": [e.record_id for e in entries],
            "fields": [e.field for e in entries],
            "olds": [_json_text(e.old_value) for e in entries],
            "news": [_json_text(e.new_value) for e in entries],
            "actors": [e.actor_id for e in entries],
            "times": [e.changed_at for e in entries],
        },
    )


def _json_text(value: Any) -> str | None:
    return None if value is None else json.dumps(_jsonable(value), ensure_ascii=False)


def _jsonable(value: Any) -> Any:
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    return str(value)
