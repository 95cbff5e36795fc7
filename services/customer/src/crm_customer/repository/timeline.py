"""Timeline entries in PostgreSQL: written once per event and account, read newest first by
keyset pages over (occurred_at, id)."""

import uuid
from collections.abc import Sequence
from dataclasses import fields

from sqlalchemy import literal, select, tuple_
from sqlalchemy.dialects.postgresql import insert

from crm_customer.domain.search import Cursor
from crm_customer.domain.timeline import TimelineEntry
from crm_customer.repository import tables
from crm_platform.db.bulk import copy_objects, json_writer
from crm_platform.db.engine import Executor

_entries = tables.timeline_entries
_COLUMNS = [_entries.c[f.name] for f in fields(TimelineEntry)]
_NAMES = [column.name for column in _COLUMNS]
_WRITERS = [(column.name, json_writer(column.type)) for column in _COLUMNS]
_INSERT = insert(_entries).on_conflict_do_nothing()
# Merges of merges followed when an event names an account merged away: far more than
# any real chain, and a bound should the data ever hold a cycle.
_MERGE_CHAIN = 20


class SqlTimeline:
    def __init__(self, session: Executor) -> None:
        self._session = session

    async def add(self, entries: Sequence[TimelineEntry], *, new: bool = False) -> None:
        if new:
            await copy_objects(self._session, _entries, _WRITERS, entries)
            return
        # Not asdict(): it deep-copies every entry's data, 80 µs an entry of an import. And
        # rows as parameters, not .values(rows): that statement is compiled anew each time.
        rows = [{name: getattr(entry, name) for name in _NAMES} for entry in entries]
        await self._session.execute(_INSERT, rows)

    async def survivors(self, account_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, uuid.UUID]:
        accounts = tables.accounts.c
        found: dict[uuid.UUID, uuid.UUID] = {}
        asked = list(account_ids)
        for _ in range(_MERGE_CHAIN):
            query = select(accounts.id, accounts.merged_into_id).where(
                accounts.id.in_(asked), accounts.merged_into_id.is_not(None)
            )
            merged = {row.id: row.merged_into_id for row in await self._session.execute(query)}
            if not merged:
                break
            for origin, now in found.items():  # a survivor merged away in turn: follow it
                found[origin] = merged.get(now, now)
            for account_id, survivor in merged.items():
                found.setdefault(account_id, survivor)
            asked = list(set(merged.values()))
        return found

    async def copy_entries(self, *, from_account: uuid.UUID, to_account: uuid.UUID) -> None:
        copied = select(
            *(
                literal(to_account).label(name) if name == "account_id" else _entries.c[name]
                for name in _NAMES
            )
        ).where(_entries.c.account_id == from_account)
        await self._session.execute(
            insert(_entries).from_select(_NAMES, copied).on_conflict_do_nothing()
        )

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
