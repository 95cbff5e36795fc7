"""The inbox: which events each consumer has applied (`schema.inbox_table`), written in the
transaction that applies them, so a redelivered or re-driven event changes nothing."""

import uuid
from collections.abc import Sequence

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

# One statement for one event or a fetched batch of them.
_RECORD = text(
    "INSERT INTO inbox (consumer, event_id) "
    "SELECT :consumer, unnest(CAST(:event_ids AS uuid[])) "
    "ON CONFLICT DO NOTHING RETURNING event_id"
)


async def record_new(
    session: AsyncSession, consumer: str, event_ids: Sequence[uuid.UUID]
) -> set[uuid.UUID]:
    """Record `event_ids` as applied by `consumer`; the ones it had not applied before."""
    found = await session.scalars(_RECORD, {"consumer": consumer, "event_ids": list(event_ids)})
    return set(found)
