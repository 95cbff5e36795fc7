"""An account import's `parent` column: the parent account by name, as a contact import's
`company` column finds its account (the visible account of that name, the oldest one if
several), or an account an earlier row of the import made. A parent nobody can see fails
the row: an account is not made up for a name. No row may put an account below itself."""

import uuid
from collections.abc import Callable, Iterable

from crm_customer.domain.imports import name_key
from crm_customer.usecases.ports import UnitOfWork
from crm_platform.auth.principal import Action, Principal

# The parent an account of the import has (None: none), or NOT_HERE when the import does
# not hold the account: the database does.
NOT_HERE = object()
ParentOf = Callable[[uuid.UUID], object]


async def visible_parents(
    uow: UnitOfWork, principal: Principal, names: Iterable[str]
) -> dict[str, uuid.UUID]:
    """name_key -> the id of the visible account of that name (the oldest)."""
    scope = principal.scope("account", Action.READ)
    wanted = {name_key(name): name for name in names}
    if scope is None or not wanted:
        return {}
    found: dict[str, uuid.UUID] = {}
    for account_id, name in await uow.accounts.named(
        list(wanted), principal=principal, scope=scope
    ):
        found.setdefault(name_key(name), account_id)
    return found


async def below(
    uow: UnitOfWork, parent_id: uuid.UUID, account_id: uuid.UUID, parent_of: ParentOf
) -> bool:
    """Whether `parent_id` is `account_id` or one of its descendants: the chain up from
    `parent_id` is followed through the import's own accounts, then the database's."""
    seen: set[uuid.UUID] = set()
    current: uuid.UUID | None = parent_id
    while current is not None and current not in seen:
        if current == account_id:
            return True
        seen.add(current)
        up = parent_of(current)
        if up is NOT_HERE:
            return account_id in await uow.accounts.ancestors(current)
        current = up if isinstance(up, uuid.UUID) else None
    return False
