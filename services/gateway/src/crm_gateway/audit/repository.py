"""The audit_events table (mirrored by migrations/, which also make it append-only) and
the log that writes and reads it."""

import json
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import (
    Column,
    DateTime,
    Index,
    SmallInteger,
    String,
    Table,
    and_,
    or_,
    select,
)
from sqlalchemy.dialects.postgresql import JSONB, UUID, insert
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.sql import ColumnElement

from crm_gateway.audit.domain import Actor, AuditEvent, AuditQuery
from crm_gateway.audit.queries import Position
from crm_gateway.storage import metadata
from crm_platform.db.engine import once_more_if_disconnected

audit_events = Table(
    "audit_events",
    metadata,
    Column("id", UUID(as_uuid=True), primary_key=True),
    Column("occurred_at", DateTime(timezone=True), nullable=False),
    Column("actor_id", UUID(as_uuid=True)),
    Column("actor_kind", String(20), nullable=False),
    Column("action", String(100), nullable=False),
    Column("object_type", String(50), nullable=False),
    Column("object_id", String(100)),
    Column("method", String(10), nullable=False),
    Column("route", String(200), nullable=False),
    Column("status", SmallInteger, nullable=False),
    Column("client_ip", String(64)),
    Column("user_agent", String(512)),
    Column("trace_id", String(32)),
    Column("before", JSONB),
    Column("after", JSONB),
    # Newest first, and the filters an investigation starts from: who, and which record.
    Index("ix_audit_events_occurred_at", "occurred_at", "id"),
    Index("ix_audit_events_actor_id", "actor_id", "occurred_at"),
    Index("ix_audit_events_object_id", "object_id", "occurred_at"),
)


class SqlAuditLog:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def append(self, events: Sequence[AuditEvent]) -> None:
        """All of a request's events in one transaction: none is stored without the rest.
        Repeatable: an event already stored (its commit's answer was lost) is kept as is."""
        rows = [_row(e) for e in events]
        statement = insert(audit_events).on_conflict_do_nothing(index_elements=["id"])

        async def write() -> None:
            async with self._engine.begin() as connection:
                await connection.execute(statement, rows)

        await once_more_if_disconnected(write)

    async def find(
        self, query: AuditQuery, *, limit: int, after: Position | None = None
    ) -> tuple[list[AuditEvent], Position | None]:
        """Newest first; a page and the position to continue from (None on the last page)."""
        table = audit_events.c
        statement = (
            select(audit_events)
            .where(*_conditions(query, after))
            .order_by(table.occurred_at.desc(), table.id.desc())
            .limit(limit + 1)
        )
        async with self._engine.connect() as connection:
            rows = (await connection.execute(statement)).all()
        found = [_event(row) for row in rows[:limit]]
        more = len(rows) > limit
        return found, ((found[-1].occurred_at, found[-1].id) if more else None)


def _conditions(query: AuditQuery, after: Position | None) -> list[ColumnElement[bool]]:
    table = audit_events.c
    conditions: list[ColumnElement[bool]] = []
    for column, value in (
        (table.actor_id, query.actor_id),
        (table.action, query.action),
        (table.object_type, query.object_type),
        (table.object_id, query.object_id),
    ):
        if value is not None:
            conditions.append(column == value)
    if query.since is not None:
        conditions.append(table.occurred_at >= query.since)
    if query.until is not None:
        conditions.append(table.occurred_at < query.until)
    if after is not None:
        at, last_id = after
        conditions.append(
            or_(table.occurred_at < at, and_(table.occurred_at == at, table.id < last_id))
        )
    return conditions


def _row(event: AuditEvent) -> dict[str, Any]:
    return {
        "id": event.id,
        "occurred_at": event.occurred_at,
        "actor_id": event.actor.subject_id,
        "actor_kind": event.actor.kind,
        "action": event.action,
        "object_type": event.object_type,
        "object_id": event.object_id,
        "method": event.method,
        "route": event.route,
        "status": event.status,
        "client_ip": event.client_ip,
        "user_agent": event.user_agent,
        "trace_id": event.trace_id,
        "before": _jsonable(event.before),
        "after": _jsonable(event.after),
    }


def _jsonable(value: Mapping[str, Any] | None) -> Any:
    # Routes may note dates, UUIDs or decimals; the trail keeps their text.
    return None if value is None else json.loads(json.dumps(value, default=str))


def _event(row: Any) -> AuditEvent:
    return AuditEvent(
        id=row.id,
        occurred_at=row.occurred_at,
        actor=Actor(row.actor_id, row.actor_kind),
        action=row.action,
        object_type=row.object_type,
        object_id=row.object_id,
        method=row.method,
        route=row.route,
        status=row.status,
        client_ip=row.client_ip,
        user_agent=row.user_agent,
        trace_id=row.trace_id,
        before=row.before,
        after=row.after,
    )
