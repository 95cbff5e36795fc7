"""Customer account events -> the sales account projection."""

import datetime as dt
import uuid
from collections.abc import Awaitable, Callable, Mapping

from sqlalchemy.ext.asyncio import AsyncSession

from crm.customer.events.v1 import events_pb2 as customer_events
from crm_platform.events.envelope import Envelope
from crm_sales.domain.account_projection import ProjectedAccount
from crm_sales.usecases.account_projection import ProjectionStore, apply_account_snapshot

Handler = Callable[[AsyncSession, Envelope], Awaitable[None]]
StoreFactory = Callable[[AsyncSession], ProjectionStore]

ACCOUNT_SUBJECTS = ["crm.customer.account.>"]


def account_handlers(store: StoreFactory) -> Mapping[str, Handler]:
    async def on_account(session: AsyncSession, envelope: Envelope) -> None:
        message_type = _MESSAGE_TYPES[envelope.event_type]
        event = message_type.FromString(envelope.payload)
        account = event.account
        await apply_account_snapshot(
            store=store(session),
            account=ProjectedAccount(
                id=uuid.UUID(account.id),
                name=account.name,
                owner_id=uuid.UUID(account.owner_id),
                team_id=uuid.UUID(account.team_id) if account.team_id else None,
                partner_id=uuid.UUID(account.partner_id) if account.partner_id else None,
                source_version=account.version,
                synced_at=dt.datetime.now(dt.UTC),
                deleted=message_type is customer_events.AccountDeleted,
            ),
        )

    return {name: on_account for name in _MESSAGE_TYPES}


AccountEvent = (
    customer_events.AccountCreated | customer_events.AccountUpdated | customer_events.AccountDeleted
)
_MESSAGE_TYPES: dict[str, type[AccountEvent]] = {
    message.DESCRIPTOR.full_name: message
    for message in (
        customer_events.AccountCreated,
        customer_events.AccountUpdated,
        customer_events.AccountDeleted,
    )
}
