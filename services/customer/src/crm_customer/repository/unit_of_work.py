"""One transaction per use case: record rows, field history and outbox events commit together."""

import uuid
from collections.abc import Callable
from typing import Self

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from crm_customer.domain.accounts import Account
from crm_customer.domain.contacts import Contact
from crm_customer.domain.records import RecordEvent
from crm_customer.repository import tables
from crm_customer.repository.records import SqlRecordRepository
from crm_platform.db.history import HistoryEntry, write_history
from crm_platform.events.outbox import OutboxEvent, write_events

# Injected by bootstrap, so this layer does not depend on the events layer.
EventMapper = Callable[[RecordEvent], OutboxEvent]


class SqlUnitOfWork:
    accounts: SqlRecordRepository[Account]
    contacts: SqlRecordRepository[Contact]

    def __init__(self, session_factory: async_sessionmaker[AsyncSession], to_outbox: EventMapper):
        self._session_factory = session_factory
        self._to_outbox = to_outbox
        self._events: list[tuple[RecordEvent, uuid.UUID]] = []

    async def __aenter__(self) -> Self:
        self._session = self._session_factory()
        await self._session.begin()
        self._events = []
        self.accounts = SqlRecordRepository(self._session, tables.accounts, Account)
        self.contacts = SqlRecordRepository(self._session, tables.contacts, Contact)
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        # Anything not committed explicitly is rolled back.
        await self._session.close()

    def record(self, event: RecordEvent, *, actor_id: uuid.UUID) -> None:
        self._events.append((event, actor_id))

    async def commit(self) -> None:
        history = [entry for event, actor in self._events for entry in _history(event, actor)]
        await write_history(self._session, tables.field_history, history)
        await write_events(self._session, [self._to_outbox(event) for event, _ in self._events])
        await self._session.commit()
        self._events = []


def _history(event: RecordEvent, actor_id: uuid.UUID) -> list[HistoryEntry]:
    record = event.record
    record_type = type(record).__name__.lower()
    if event.kind == "created":
        changes = [("created", None, None)]
    else:
        changes = [(c.field, c.old, c.new) for c in event.changes]
    return [
        HistoryEntry(record_type, record.id, field, old, new, actor_id, record.updated_at)
        for field, old, new in changes
    ]
