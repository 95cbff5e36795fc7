"""Accounts: commands and queries are the shared record ones; parents must be visible and
never below the account."""

import uuid
from collections.abc import Collection, Iterable

from crm_customer.domain.accounts import Account
from crm_customer.domain.duplicates import Match, likely_duplicate_companies, lookalike_groups
from crm_customer.domain.imports import name_key
from crm_customer.domain.records import RecordEvent
from crm_customer.usecases.account_links import follow_account
from crm_customer.usecases.ports import UnitOfWork
from crm_customer.usecases.records import RecordKind, Reference
from crm_platform.auth.principal import Action, Principal
from crm_platform.errors import FieldViolation, InvalidArgument


def _duplicates(account: Account, candidates: list[Account]) -> list[Match]:
    return likely_duplicate_companies(account.as_company(), [c.as_company() for c in candidates])


async def below_itself(uow: UnitOfWork, account: Account) -> bool:
    """Whether `account`'s parent is the account itself or one of its descendants, as the
    database holds them, under the hierarchy lock (`ancestors`)."""
    parent_id = account.parent_id
    return parent_id is not None and account.id in await uow.accounts.ancestors(parent_id)


async def _no_cycle(uow: UnitOfWork, account: Account, changed: Collection[str]) -> None:
    """An account is never its own ancestor: neither set under one of its descendants nor
    left so by a merge that moves its parent's children."""
    if "parent_id" in changed and await below_itself(uow, account):
        why = f"account {account.parent_id} is below this account: it cannot be its parent"
        raise InvalidArgument([FieldViolation("parent_id", why)])


async def visible_named(
    uow: UnitOfWork, principal: Principal, names: Iterable[str]
) -> dict[str, uuid.UUID]:
    """name_key -> the id of the visible account of that name, the oldest if several: the
    account an import's `company` or `parent` column means."""
    scope = principal.scope("account", Action.READ)
    wanted = list({name_key(name) for name in names})
    if scope is None or not wanted:
        return {}
    found: dict[str, uuid.UUID] = {}
    for account_id, name in await uow.accounts.named(wanted, principal=principal, scope=scope):
        found.setdefault(name_key(name), account_id)
    return found


async def _let_go(uow: UnitOfWork, account: Account) -> list[RecordEvent]:
    """A deleted account's contacts lose it (their role there too); its child accounts move
    up to its parent, so the hierarchy keeps its shape and points at nothing gone."""
    return await follow_account(uow, account.id, to_id=None, children_to=account.parent_id)


ACCOUNTS = RecordKind(
    obj="account",
    record_type=Account,
    repo=lambda uow: uow.accounts,
    references=(Reference("parent_id", "account", lambda uow: uow.accounts),),
    duplicates=_duplicates,
    lookalikes=lambda account: lookalike_groups(account.as_company()),
    check_links=_no_cycle,
    on_delete=_let_go,
)
