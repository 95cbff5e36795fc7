"""Events in, deliveries queued: the JetStream handler that turns each event into one
delivery per webhook that subscribed to its type and whose owner may read its record.

It runs inside the consumer's inbox transaction (crm_platform.events.consumer), so an
event's deliveries are queued exactly once, however often the event reaches us.
"""

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from crm_gateway.webhooks.model import Delivery, DeliveryStatus, Webhook
from crm_gateway.webhooks.repository import active_webhooks, queue_deliveries
from crm_gateway.webhooks.rules import Subject, matches, may_read, payload_for, utcnow
from crm_platform.events.envelope import Envelope, format_time
from crm_platform.ids import uuid7


@dataclass(frozen=True)
class RenderedEvent:
    event_type: str  # `account.created`
    subject: Subject
    record: Mapping[str, Any]  # the record as the public API shows it


# None for an event no webhook can subscribe to.
Render = Callable[[Envelope], RenderedEvent | None]
Handler = Callable[[AsyncSession, Envelope], Awaitable[None]]


def queue_for_subscribers(render: Render) -> Handler:
    async def on_event(session: AsyncSession, envelope: Envelope) -> None:
        connection = await session.connection()
        # Looked up before the event is rendered: with no webhook active (the usual case)
        # an import's million events cost a query each, not a decode and a render too.
        subscribed = await active_webhooks(connection)
        if not subscribed:
            return
        event = render(envelope)
        if event is None:
            return
        now = utcnow()
        deliveries = [
            Delivery(
                id=uuid7(),
                webhook_id=webhook.id,
                event_id=envelope.event_id,
                event_type=event.event_type,
                payload=body(envelope, event, payload_for(webhook.owner, event.record)),
                status=DeliveryStatus.PENDING,
                attempts=0,
                next_attempt_at=now,
                created_at=now,
                updated_at=now,
            )
            for webhook in subscribed
            if matches(webhook.event_types, event.event_type)
            and may_read(webhook.owner, event.subject)
            and _while_active(webhook, envelope)
        ]
        await queue_deliveries(connection, deliveries)

    return on_event


def _while_active(webhook: Webhook, envelope: Envelope) -> bool:
    """A webhook gets what happens while it is active: not an event published late (relay
    lag) that happened before, nor one its consumer delivers from before it was made
    (see `WebhookRuntime`)."""
    return webhook.active_since is None or envelope.occurred_at >= webhook.active_since


def body(envelope: Envelope, event: RenderedEvent, data: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "id": str(envelope.event_id),
        "type": event.event_type,
        "occurred_at": format_time(envelope.occurred_at),
        "data": dict(data),
    }
