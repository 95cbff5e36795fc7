"""Field history (DESIGN §5): who changed which field of which record, when, old -> new."""

import dataclasses
import datetime as dt
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Column, DateTime, Index, MetaData, String, Table, insert
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
    if not entries:
        return
    rows = [
        {
            "id": uuid7(),
            "record_type": e.record_type,
            "record_id": e.record_id,
            "field": e.field,
            "old_value": _jsonable(e.old_value),
            "new_value": _jsonable(e.new_value),
            "actor_id": e.actor_id,
            "changed_at": e.changed_at,
        }
        for e in entries
    ]
    await session.execute(insert(table), rows)


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
