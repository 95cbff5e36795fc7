"""Timeline entries in PostgreSQL: written once per event and account, read newest first by
keyset pages over (occurred_at, id)."""

import uuid
from collections.abc import Sequence
from dataclasses import asdict, fields

from sqlalchemy import literal, select, tuple_
from sqlalchemy.dialects.postgresql import insert

from crm_customer.domain.search import Cursor
from crm_customer.domain.timeline import TimelineEntry
from crm_customer.repository import tables
from crm_platform.db.engine import Executor

_entries = tables.timeline_entries
_COLUMNS = [_entries.c[f.name] for f in fields(TimelineEntry)]


class SqlTimeline:
    def __init__(self, session: Executor) -> None:
        self._session = session

    async def add(self, entries: Sequence[TimelineEntry]) -> None:
        rows = [asdict(entry) for entry in entries]
        await self._session.execute(insert(_entries).values(rows).on_conflict_do_nothing())

    async def page(
        self,
        account_id: uuid.UUID,
        *,
        kinds: frozenset[str],
        hidden_kinds: frozenset[str],
        after: Cursor | None,
        limit: int,
    ) -> list[TimelineEntry]:
        query = select(*_COLUMNS).where(_entries.c.account_id == account_id)
        if kinds:
            query = query.where(_entries.c.kind.in_(sorted(kinds)))
        if hidden_kinds:
            query = query.where(_entries.c.kind.not_in(sorted(hidden_kinds)))
        if after is not None:
            key = tuple_(_entries.c.occurred_at, _entries.c.id)
            query = query.where(key < tuple_(literal(after.value), literal(after.last_id)))
        query = query.order_by(_entries.c.occurred_at.desc(), _entries.c.id.desc()).limit(limit)
        return [TimelineEntry(**row._mapping) for row in await self._session.execute(query)]
