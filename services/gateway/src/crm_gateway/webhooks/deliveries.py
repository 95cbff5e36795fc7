"""Claiming due deliveries, recording their outcome, the delivery log and re-sends.

Several gateway processes send at once: a batch is claimed with `FOR UPDATE SKIP LOCKED`
and its `next_attempt_at` pushed past the send timeout in the same statement, so no other
process takes it meanwhile. A process that dies mid-send leaves the claim to expire and
the delivery is sent again: deliveries are at least once, receivers dedupe by event id.
"""

import dataclasses
import datetime as dt
import uuid

from sqlalchemy import Update, and_, case, func, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from crm_gateway.webhooks.model import Delivery, DeliveryStatus
from crm_gateway.webhooks.repository import delivery_of, webhook_deliveries, webhooks

_deliveries = webhook_deliveries.c


@dataclasses.dataclass(frozen=True)
class Outcome:
    """How one attempt went: a status code, or an error before any answer."""

    status_code: int | None = None
    error: str | None = None

    @property
    def delivered(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


class SqlDeliveries:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def claim_due(self, *, limit: int, claim_seconds: float) -> list[Delivery]:
        now = func.now()
        due = (
            select(_deliveries.id)
            .where(
                _deliveries.status == DeliveryStatus.PENDING.value,
                _deliveries.next_attempt_at <= now,
                # A disabled webhook's deliveries wait for it to be enabled again.
                _deliveries.webhook_id.in_(select(webhooks.c.id).where(webhooks.c.active)),
            )
            .order_by(_deliveries.next_attempt_at)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        claim = (
            update(webhook_deliveries)
            .where(_deliveries.id.in_(due.scalar_subquery()))
            .values(next_attempt_at=now + dt.timedelta(seconds=claim_seconds))
            .returning(*webhook_deliveries.c)
        )
        async with self._engine.begin() as connection:
            return [delivery_of(row._mapping) for row in await connection.execute(claim)]

    async def record(
        self,
        delivery: Delivery,
        outcome: Outcome,
        *,
        retry_in: float | None,
        disable_after: int,
    ) -> None:
        """The attempt's outcome; `retry_in` None means no further attempt. The webhook's
        run of failures is counted in the same transaction, and ends it past `disable_after`."""
        now = dt.datetime.now(dt.UTC)
        if outcome.delivered:
            status, next_attempt = DeliveryStatus.DELIVERED, None
        elif retry_in is None:
            status, next_attempt = DeliveryStatus.FAILED, None
        else:
            status, next_attempt = DeliveryStatus.PENDING, now + dt.timedelta(seconds=retry_in)
        async with self._engine.begin() as connection:
            await connection.execute(
                update(webhook_deliveries)
                .where(_deliveries.id == delivery.id)
                .values(
                    status=status.value,
                    attempts=_deliveries.attempts + 1,
                    next_attempt_at=next_attempt,
                    last_status_code=outcome.status_code,
                    last_error=(outcome.error or "")[:500] or None,
                    delivered_at=now if outcome.delivered else None,
                    updated_at=now,
                )
            )
            await connection.execute(_failure_run(delivery.webhook_id, outcome, disable_after))

    async def page(
        self, *, webhook_id: uuid.UUID, after: uuid.UUID | None, limit: int
    ) -> list[Delivery]:
        conditions = [_deliveries.webhook_id == webhook_id]
        if after is not None:
            conditions.append(_deliveries.id < after)
        statement = (
            select(webhook_deliveries)
            .where(and_(*conditions))
            .order_by(_deliveries.id.desc())
            .limit(limit)
        )
        async with self._engine.connect() as connection:
            return [delivery_of(row._mapping) for row in await connection.execute(statement)]

    async def resend(self, *, webhook_id: uuid.UUID, delivery_id: uuid.UUID) -> Delivery | None:
        """Queue a delivery again, now, whatever became of it; None when there is none."""
        now = dt.datetime.now(dt.UTC)
        statement = (
            update(webhook_deliveries)
            .where(_deliveries.id == delivery_id, _deliveries.webhook_id == webhook_id)
            .values(status=DeliveryStatus.PENDING.value, next_attempt_at=now, updated_at=now)
            .returning(*webhook_deliveries.c)
        )
        async with self._engine.begin() as connection:
            row = (await connection.execute(statement)).first()
        return delivery_of(row._mapping) if row else None


def _failure_run(webhook_id: uuid.UUID, outcome: Outcome, disable_after: int) -> Update:
    column = webhooks.c
    if outcome.delivered:
        return update(webhooks).where(column.id == webhook_id).values(consecutive_failures=0)
    failures = column.consecutive_failures + 1
    reached = failures >= disable_after
    return (
        update(webhooks)
        .where(column.id == webhook_id)
        .values(
            consecutive_failures=failures,
            active=case((reached, False), else_=column.active),
            disabled_reason=case(
                (
                    and_(reached, column.active),
                    f"{disable_after} delivery attempts failed in a row",
                ),
                else_=column.disabled_reason,
            ),
        )
    )
