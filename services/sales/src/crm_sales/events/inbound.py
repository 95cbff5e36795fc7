"""Customer account events -> the sales account projection."""

import datetime as dt
import uuid
from collections.abc import Callable, Mapping, Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from crm.customer.events.v1 import events_pb2 as customer_events
from crm_platform.events.consumer import BatchHandler, Handler
from crm_platform.events.envelope import Envelope
from crm_sales.domain.account_projection import ProjectedAccount
from crm_sales.usecases.account_projection import ProjectionStore, apply_account_snapshots

StoreFactory = Callable[[AsyncSession], ProjectionStore]

ACCOUNT_SUBJECTS = ["crm.customer.account.>"]


def account_handlers(store: StoreFactory) -> tuple[Mapping[str, Handler], BatchHandler]:
    """The consumer's handlers of one account event (by type) and of a fetched batch: an
    import's thousands of new accounts are one statement per batch, not one each."""

    async def on_accounts(session: AsyncSession, envelopes: Sequence[Envelope]) -> None:
        await apply_account_snapshots(
            store=store(session), accounts=[_snapshot(e) for e in envelopes]
        )

    async def on_account(session: AsyncSession, envelope: Envelope) -> None:
        await on_accounts(session, [envelope])

    return {name: on_account for name in _MESSAGE_TYPES}, on_accounts


def _snapshot(envelope: Envelope) -> ProjectedAccount:
    message_type = _MESSAGE_TYPES[envelope.event_type]
    account = message_type.FromString(envelope.payload).account
    return ProjectedAccount(
        id=uuid.UUID(account.id),
        name=account.name,
        owner_id=uuid.UUID(account.owner_id),
        team_id=uuid.UUID(account.team_id) if account.team_id else None,
        partner_id=uuid.UUID(account.partner_id) if account.partner_id else None,
        source_version=account.version,
        synced_at=dt.datetime.now(dt.UTC),
        deleted=message_type is customer_events.AccountDeleted,
    )


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
