"""The webhooks and webhook_deliveries tables (mirrored by migrations/)."""

import dataclasses
import datetime as dt
import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import (
    ARRAY,
    Boolean,
    Column,
    DateTime,
    ForeignKey,
    Integer,
    SmallInteger,
    String,
    Table,
    UniqueConstraint,
    and_,
    delete,
    func,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import JSONB, UUID, insert
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from crm_gateway.storage import metadata
from crm_gateway.webhooks.model import (
    Delivery,
    DeliveryStatus,
    Webhook,
    principal_json,
    principal_of,
)
from crm_platform.db.schema import id_column, timestamp_columns, version_column
from crm_platform.events.schema import inbox_table

webhooks = Table(
    "webhooks",
    metadata,
    id_column(),
    version_column(),
    Column("owner_id", UUID(as_uuid=True), nullable=False, index=True),
    # The owner's principal when it subscribed or last edited: whose visibility applies.
    Column("owner", JSONB, nullable=False),
    Column("url", String(2000), nullable=False),
    Column("event_types", ARRAY(String(100)), nullable=False),
    Column("description", String(500), nullable=False, server_default=""),
    Column("active", Boolean, nullable=False),
    # Needed in clear to sign; the database is where every other secret of ours lives too.
    Column("secret", String(100), nullable=False),
    Column("disabled_reason", String(200)),
    Column("consecutive_failures", Integer, nullable=False, server_default="0"),
    # When it was last made active (migration 0013).
    Column("active_since", DateTime(timezone=True)),
    *timestamp_columns(),
)

webhook_deliveries = Table(
    "webhook_deliveries",
    metadata,
    id_column(),
    Column(
        "webhook_id",
        UUID(as_uuid=True),
        ForeignKey("webhooks.id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("event_id", UUID(as_uuid=True), nullable=False),
    Column("event_type", String(100), nullable=False),
    Column("payload", JSONB, nullable=False),
    Column("status", String(20), nullable=False),
    Column("attempts", SmallInteger, nullable=False, server_default="0"),
    # Due pending deliveries are found by this; null once delivered or failed.
    Column("next_attempt_at", DateTime(timezone=True), index=True),
    Column("last_status_code", SmallInteger),
    Column("last_error", String(500)),
    Column("delivered_at", DateTime(timezone=True)),
    *timestamp_columns(),
    # One delivery per event and webhook, however often the event is redelivered to us.
    UniqueConstraint("webhook_id", "event_id"),
)

# The dispatcher's JetStream consumer records each event here, in the transaction that
# queues its deliveries (crm_platform.events.consumer).
inbox = inbox_table(metadata)

_WEBHOOK_FIELDS = [f.name for f in dataclasses.fields(Webhook)]


class SqlWebhooks:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def add(self, webhook: Webhook) -> None:
        async with self._engine.begin() as connection:
            await connection.execute(insert(webhooks).values(_row(webhook)))

    async def get(self, webhook_id: uuid.UUID) -> Webhook | None:
        return (await self.many([webhook_id])).get(webhook_id)

    async def many(self, webhook_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, Webhook]:
        """The webhooks that still exist among `webhook_ids`, in one query."""
        async with self._engine.connect() as connection:
            statement = select(webhooks).where(webhooks.c.id.in_(set(webhook_ids)))
            found = [_webhook(row._mapping) for row in await connection.execute(statement)]
        return {webhook.id: webhook for webhook in found}

    async def page(
        self, *, owner_id: uuid.UUID | None, after: uuid.UUID | None, limit: int
    ) -> list[Webhook]:
        """Newest first; `owner_id` None lists everyone's."""
        conditions = []
        if owner_id is not None:
            conditions.append(webhooks.c.owner_id == owner_id)
        if after is not None:
            conditions.append(webhooks.c.id < after)
        statement = select(webhooks).where(and_(True, *conditions)).order_by(webhooks.c.id.desc())
        async with self._engine.connect() as connection:
            rows = await connection.execute(statement.limit(limit))
            return [_webhook(row._mapping) for row in rows]

    async def count_owned(self, owner_id: uuid.UUID) -> int:
        statement = select(func.count()).where(webhooks.c.owner_id == owner_id)
        async with self._engine.connect() as connection:
            return int((await connection.scalar(statement)) or 0)

    async def replace(self, webhook: Webhook, *, expected_version: int) -> bool:
        values = _row(webhook)
        del values["id"], values["created_at"]
        statement = (
            update(webhooks)
            .where(webhooks.c.id == webhook.id, webhooks.c.version == expected_version)
            .values(values)
        )
        async with self._engine.begin() as connection:
            return bool((await connection.execute(statement)).rowcount)

    async def delete(self, webhook_id: uuid.UUID, *, expected_version: int) -> bool:
        statement = delete(webhooks).where(
            webhooks.c.id == webhook_id, webhooks.c.version == expected_version
        )
        async with self._engine.begin() as connection:
            return bool((await connection.execute(statement)).rowcount)

    async def disable_owned_by(self, owner_id: uuid.UUID, reason: str) -> None:
        statement = (
            update(webhooks)
            .where(webhooks.c.owner_id == owner_id, webhooks.c.active)
            .values(
                active=False,
                disabled_reason=reason,
                version=webhooks.c.version + 1,
                updated_at=_now(),
            )
        )
        async with self._engine.begin() as connection:
            await connection.execute(statement)


async def earliest_active_since(engine: AsyncEngine) -> dt.datetime | None:
    """Since when some webhook has been active without a break; None while none is."""
    async with engine.connect() as connection:
        statement = select(func.min(webhooks.c.active_since)).where(webhooks.c.active)
        return await connection.scalar(statement)


async def active_webhooks(connection: AsyncConnection) -> list[Webhook]:
    rows = await connection.execute(select(webhooks).where(webhooks.c.active))
    return [_webhook(row._mapping) for row in rows]


async def queue_deliveries(connection: AsyncConnection, deliveries: Sequence[Delivery]) -> None:
    if deliveries:
        statement = insert(webhook_deliveries).on_conflict_do_nothing(
            index_elements=["webhook_id", "event_id"]
        )
        await connection.execute(statement, [dataclasses.asdict(d) for d in deliveries])


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _row(webhook: Webhook) -> dict[str, Any]:
    values = {name: getattr(webhook, name) for name in _WEBHOOK_FIELDS}
    values["owner"] = principal_json(webhook.owner)
    values["owner_id"] = webhook.owner.subject_id
    values["event_types"] = list(webhook.event_types)
    return values


def _webhook(row: Any) -> Webhook:
    values = {name: row[name] for name in _WEBHOOK_FIELDS}
    values["owner"] = principal_of(row["owner"])
    values["event_types"] = tuple(row["event_types"])
    return Webhook(**values)


def delivery_of(row: Any) -> Delivery:
    values = {f.name: row[f.name] for f in dataclasses.fields(Delivery)}
    values["status"] = DeliveryStatus(row["status"])
    return Delivery(**values)
