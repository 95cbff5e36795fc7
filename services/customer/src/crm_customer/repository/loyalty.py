"""The loyalty ledger in `loyalty_entries`, one record's ledger at a time."""

import dataclasses
import datetime as dt
import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import ColumnElement, and_, exists, insert, select

from crm_customer.domain.loyalty import EARN, LedgerKey, LoyaltyEntry
from crm_customer.repository import tables
from crm_platform.db.engine import Executor

_ENTRIES = tables.loyalty_entries
_COLUMNS = [_ENTRIES.c[f.name] for f in dataclasses.fields(LoyaltyEntry)]
_RECORDS = {"account": tables.accounts, "contact": tables.contacts}


class SqlLoyaltyLedger:
    def __init__(self, session: Executor) -> None:
        self._session = session

    async def lock(self, key: LedgerKey) -> bool:
        """Lock the account or contact until the transaction ends, so one writer at a time
        appends to its ledger; False when it does not exist (any more). FOR NO KEY UPDATE:
        rows referencing the record (contacts of an account) can still be written."""
        table = _RECORDS[key.record_type]
        query = (
            select(table.c.id)
            .where(table.c.id == key.record_id, table.c.deleted_at.is_(None))
            .with_for_update(key_share=True)
        )
        return (await self._session.execute(query)).first() is not None

    async def last(self, key: LedgerKey) -> LoyaltyEntry | None:
        query = select(*_COLUMNS).where(_of(key)).order_by(_ENTRIES.c.id.desc()).limit(1)
        return await self._one(query)

    async def find(self, key: LedgerKey, kind: str, reference: str) -> LoyaltyEntry | None:
        query = select(*_COLUMNS).where(
            _of(key), _ENTRIES.c.kind == kind, _ENTRIES.c.reference == reference
        )
        return await self._one(query)

    async def has_earns_expiring(
        self, key: LedgerKey, *, after: dt.datetime | None, until: dt.datetime | None
    ) -> bool:
        """Whether an earn expires in (`after`, `until`]; an open end when None."""
        window = [_ENTRIES.c.kind == EARN, _ENTRIES.c.expires_at.is_not(None)]
        if after is not None:
            window.append(_ENTRIES.c.expires_at > after)
        if until is not None:
            window.append(_ENTRIES.c.expires_at <= until)
        query = select(exists().where(_of(key), *window))
        return bool((await self._session.execute(query)).scalar())

    async def due(self, *, since: dt.datetime, until: dt.datetime, limit: int) -> list[LedgerKey]:
        """Ledgers with an earn expiring in (`since`, `until`] after their last entry:
        points due to expire that nobody has expired yet."""
        earn, last = _ENTRIES.alias("earn"), _ENTRIES.alias("last")
        last_entry = (
            select(last.c.created_at)
            .where(last.c.record_type == earn.c.record_type, last.c.record_id == earn.c.record_id)
            .order_by(last.c.id.desc())
            .limit(1)
            .scalar_subquery()
        )
        query = (
            select(earn.c.record_type, earn.c.record_id)
            .where(
                earn.c.kind == EARN,
                earn.c.expires_at.is_not(None),
                earn.c.expires_at > since,
                earn.c.expires_at <= until,
                earn.c.expires_at > last_entry,
            )
            .distinct()
            .limit(limit)
        )
        return [
            LedgerKey(row.record_type, row.record_id) for row in await self._session.execute(query)
        ]

    async def entries(self, key: LedgerKey) -> list[LoyaltyEntry]:
        """The whole ledger, oldest first."""
        query = select(*_COLUMNS).where(_of(key)).order_by(_ENTRIES.c.id)
        return [_entry(row) for row in await self._session.execute(query)]

    async def page(
        self, key: LedgerKey, *, before: uuid.UUID | None, limit: int
    ) -> list[LoyaltyEntry]:
        """Up to `limit` entries, newest first, older than the entry `before` when given."""
        query = select(*_COLUMNS).where(_of(key))
        if before is not None:
            query = query.where(_ENTRIES.c.id < before)
        query = query.order_by(_ENTRIES.c.id.desc()).limit(limit)
        return [_entry(row) for row in await self._session.execute(query)]

    async def add(self, entries: Sequence[LoyaltyEntry]) -> None:
        if entries:
            rows = [dataclasses.asdict(entry) for entry in entries]
            await self._session.execute(insert(_ENTRIES), rows)

    async def _one(self, query: Any) -> LoyaltyEntry | None:
        row = (await self._session.execute(query)).first()
        return _entry(row) if row else None


def _of(key: LedgerKey) -> ColumnElement[bool]:
    return and_(_ENTRIES.c.record_type == key.record_type, _ENTRIES.c.record_id == key.record_id)


def _entry(row: Any) -> LoyaltyEntry:
    return LoyaltyEntry(**row._mapping)
