"""One transaction per use case: record rows, field history and outbox events commit together."""

import uuid
from collections.abc import Awaitable, Callable, Sequence
from typing import Self

from sqlalchemy.ext.asyncio import AsyncEngine

from crm_customer.domain.accounts import Account
from crm_customer.domain.contacts import Contact
from crm_customer.domain.loyalty import LoyaltyEntry
from crm_customer.domain.records import Record, RecordEvent
from crm_customer.domain.timeline import TimelineEntry
from crm_customer.repository import tables
from crm_customer.repository.custom_fields import SqlCustomFields
from crm_customer.repository.history import SqlFieldHistory
from crm_customer.repository.imports import SqlImportJobs
from crm_customer.repository.loyalty import SqlLoyaltyLedger
from crm_customer.repository.records import SqlRecordRepository
from crm_customer.repository.segments import SqlSegments
from crm_customer.repository.timeline import SqlTimeline
from crm_platform.db.history import HistoryEntry, write_history
from crm_platform.events.outbox import OutboxEvent, write_events

# A change of a record, or a new ledger entry (which is its own history).
Event = RecordEvent | LoyaltyEntry
# Injected by bootstrap, so this layer does not depend on the events layer.
EventMapper = Callable[[Event], OutboxEvent]
# The account timeline's entries of a published event, written in the same transaction.
TimelineEntries = Callable[[OutboxEvent], Sequence[TimelineEntry]]
TimelineWriter = Callable[[SqlTimeline, Sequence[TimelineEntry]], Awaitable[None]]


class SqlUnitOfWork:
    accounts: SqlRecordRepository[Account]
    contacts: SqlRecordRepository[Contact]
    imports: SqlImportJobs
    segments: SqlSegments
    custom_fields: SqlCustomFields
    timeline: SqlTimeline
    loyalty: SqlLoyaltyLedger
    history: SqlFieldHistory

    def __init__(
        self,
        engine: AsyncEngine,
        to_outbox: EventMapper,
        timeline_entries: TimelineEntries,
        to_timeline: TimelineWriter,
    ) -> None:
        """With an autocommit engine (crm_platform.db.engine.autocommit) this serves reads
        without a transaction; commit() then has nothing to make atomic, so it refuses."""
        self._engine = engine
        self._to_outbox = to_outbox
        self._timeline_entries = timeline_entries
        self._to_timeline = to_timeline
        self._clear()

    def _clear(self) -> None:
        self._history: list[HistoryEntry] = []
        self._published: list[OutboxEvent] = []
        self._entries: list[TimelineEntry] = []

    async def __aenter__(self) -> Self:
        self._connection = await self._engine.connect()
        self._transaction = (
            None
            if self._engine.get_execution_options().get("isolation_level") == "AUTOCOMMIT"
            else await self._connection.begin()
        )
        self._clear()
        self.accounts = SqlRecordRepository(self._connection, tables.accounts, Account)
        self.contacts = SqlRecordRepository(self._connection, tables.contacts, Contact)
        self.imports = SqlImportJobs(self._connection)
        self.segments = SqlSegments(self._connection)
        self.custom_fields = SqlCustomFields(self._connection)
        self.timeline = SqlTimeline(self._connection)
        self.loyalty = SqlLoyaltyLedger(self._connection)
        self.history = SqlFieldHistory(self._connection)
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        # Anything not committed explicitly is rolled back.
        await self._connection.close()

    def record(self, event: Event, *, actor_id: uuid.UUID) -> None:
        """Turned into its rows now (history, outbox, timeline), so that commit() only
        writes: an import records a batch's events while the batch before is written."""
        published = self._to_outbox(event)
        self._history += _history(event, actor_id)
        self._published.append(published)
        self._entries += self._timeline_entries(published)

    async def commit(self) -> None:
        if self._transaction is None:
            raise RuntimeError("a read-only unit of work cannot commit")
        await write_history(self._connection, tables.field_history, self._history)
        await write_events(self._connection, self._published)
        await self._to_timeline(self.timeline, self._entries)
        await self._transaction.commit()
        self._clear()


def _history(event: Event, actor_id: uuid.UUID) -> list[HistoryEntry]:
    if isinstance(event, LoyaltyEntry):
        return []  # a ledger entry is its own history
    record = event.record
    if event.kind == "merged":
        return _merge_history(event, actor_id)
    if event.kind == "owner_changed":  # its field changes are in the "updated" event's rows
        return []
    if event.kind in ("created", "deleted"):
        changes = [(event.kind, None, None)]
    else:
        changes = [(c.field, c.old, c.new) for c in event.changes]
    return [
        HistoryEntry(_record_type(record), record.id, field, old, new, actor_id, record.updated_at)
        for field, old, new in changes
    ]


def _merge_history(event: RecordEvent, actor_id: uuid.UUID) -> list[HistoryEntry]:
    """One "merged" row on each record, naming both."""
    survivor, duplicate = event.record, event.duplicate
    assert duplicate is not None, "a merged event names its duplicate"
    both = {"survivor_id": str(survivor.id), "duplicate_id": str(duplicate.id)}
    return [
        HistoryEntry(_record_type(r), r.id, "merged", None, both, actor_id, duplicate.updated_at)
        for r in (survivor, duplicate)
    ]


def _record_type(record: Record) -> str:
    return type(record).__name__.lower()
