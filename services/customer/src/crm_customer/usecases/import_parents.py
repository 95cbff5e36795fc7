"""An account import's `parent` column: the parent account by name, as a contact import's
`company` column finds its account (`accounts.visible_named`), or an account an earlier
row of the import made. A parent nobody can see fails
the row: an account is not made up for a name. No row may put an account below itself."""

import uuid
from collections.abc import Callable, Iterable

from crm_customer.domain.accounts import Account
from crm_customer.domain.records import RecordEvent
from crm_customer.usecases.accounts import below_itself
from crm_customer.usecases.ports import UnitOfWork
from crm_platform.errors import StaleVersion

# The parent an account of the import has (None: none), or NOT_HERE when the import does
# not hold the account: the database does.
NOT_HERE = object()
ParentOf = Callable[[uuid.UUID], object]


async def below(
    uow: UnitOfWork, parent_id: uuid.UUID, account_id: uuid.UUID, parent_of: ParentOf
) -> bool:
    """Whether `parent_id` is `account_id` or one of its descendants, step by step up: each
    account's parent as the import holds it (changed by an earlier row, or by the batch
    being written), else as the database does. Takes no lock: deciding a batch must not hold
    up the parent changes of others; the batch's write checks again under the lock
    (`still_trees`)."""
    seen: set[uuid.UUID] = set()
    current: uuid.UUID | None = parent_id
    while current is not None and current not in seen:
        if current == account_id:
            return True
        seen.add(current)
        up = parent_of(current)
        if up is NOT_HERE:
            up = await uow.accounts.parent_of(current)
        current = up if isinstance(up, uuid.UUID) else None
    return False


async def still_trees(uow: UnitOfWork, events: Iterable[RecordEvent]) -> None:
    """After a batch wrote its accounts, under the hierarchy lock: no account it moved to
    another parent (its `events`) is below itself now. Another writer may have moved one
    of the parents since the batch was decided: StaleVersion, and the job decides the
    batch again."""
    for event in events:
        account = event.record
        moved = event.kind == "updated" and any(c.field == "parent_id" for c in event.changes)
        if moved and isinstance(account, Account) and await below_itself(uow, account):
            raise StaleVersion(f"account {event.record.id}: its parents changed meanwhile")
