"""The outbox and inbox tables every service adds to its own database.

`outbox_table` / `inbox_table` go into a service's metadata; `create_event_tables` /
`drop_event_tables` go into its first Alembic migration. Both are built from the same
element lists, so a migrated database and the code's tables never drift apart.

Published outbox rows are **kept** (with `published_at` set) for a retention window, then
purged by the relay (`OutboxRelay(retention=...)`, 7 days by default, in bounded batches):

- they answer "was event X published, and when?" from the service's own database;
- after a lost or rebuilt stream, `UPDATE outbox SET published_at = NULL WHERE ...` re-publishes
  a time window, and consumers' inboxes make the replay harmless;
- the cost stays small: the relay's queries go through the partial index on unpublished rows,
  which only ever holds the backlog, and the purge walks a partial index on published rows.

Inbox rows are kept: an event may arrive again long after it was first handled (a re-driven
dead letter is republished to its original subject and so reaches every consumer of it), and
only the inbox row keeps that second copy from applying twice. At about 80 bytes a row, a
million handled events cost some 80 MB; purge them (oldest `processed_at` first) only with a
margin well beyond how long dead letters are kept.
"""

from typing import Any

import sqlalchemy as sa
from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    Identity,
    Index,
    LargeBinary,
    MetaData,
    PrimaryKeyConstraint,
    Table,
    Text,
    func,
)
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlalchemy.schema import SchemaItem

OUTBOX = "outbox"
INBOX = "inbox"


def _outbox_elements() -> list[SchemaItem]:
    published_at = Column("published_at", DateTime(timezone=True))
    return [
        Column("id", UUID(as_uuid=True), nullable=False),  # the event id
        # Publish order; also the order in which rows became visible per aggregate, since
        # writers to one aggregate are serialized by its row lock.
        Column("seq", BigInteger, Identity(always=True), nullable=False),
        Column("subject", Text, nullable=False),
        Column("event_type", Text, nullable=False),
        Column("aggregate_id", Text, nullable=False),
        Column("aggregate_version", BigInteger, nullable=False),
        Column("occurred_at", DateTime(timezone=True), nullable=False),
        Column("payload", LargeBinary, nullable=False),
        Column("trace_headers", JSONB, nullable=False, server_default=sa.text("'{}'::jsonb")),
        published_at,
        PrimaryKeyConstraint("id", name="pk_outbox"),
        # Holds only the backlog, so the relay's ordered scan stays small however big the
        # table grows.
        Index("ix_outbox_unpublished", "seq", postgresql_where=published_at.is_(None)),
        # Only published rows, so inserts never touch it; the retention purge walks it.
        Index("ix_outbox_published_at", "published_at", postgresql_where=published_at.isnot(None)),
    ]


def _inbox_elements() -> list[SchemaItem]:
    return [
        Column("consumer", Text, nullable=False),
        Column("event_id", UUID(as_uuid=True), nullable=False),
        Column("processed_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
        PrimaryKeyConstraint("consumer", "event_id", name="pk_inbox"),
    ]


def outbox_table(metadata: MetaData) -> Table:
    return Table(OUTBOX, metadata, *_outbox_elements())


def inbox_table(metadata: MetaData) -> Table:
    return Table(INBOX, metadata, *_inbox_elements())


def create_event_tables(op: Any) -> None:
    """For a service's first migration: `create_event_tables(op)` with alembic's `op`."""
    # Alembic creates the Index objects given to create_table along with the table.
    op.create_table(OUTBOX, *_outbox_elements())
    op.create_table(INBOX, *_inbox_elements())


def create_inbox_table(op: Any) -> None:
    """For a database that consumes events but publishes none of its own."""
    op.create_table(INBOX, *_inbox_elements())


def drop_event_tables(op: Any) -> None:
    op.drop_table(INBOX)
    op.drop_table(OUTBOX)
