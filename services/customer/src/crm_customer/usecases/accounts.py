"""Accounts: commands and queries are the shared record ones; parents must be visible and
never below the account."""

from collections.abc import Collection

from crm_customer.domain.accounts import Account
from crm_customer.domain.duplicates import Match, likely_duplicate_companies, lookalike_groups
from crm_customer.domain.records import RecordEvent
from crm_customer.usecases.account_links import follow_account
from crm_customer.usecases.ports import UnitOfWork
from crm_customer.usecases.records import RecordKind, Reference
from crm_platform.errors import FieldViolation, InvalidArgument


def _duplicates(account: Account, candidates: list[Account]) -> list[Match]:
    return likely_duplicate_companies(account.as_company(), [c.as_company() for c in candidates])


async def _no_cycle(uow: UnitOfWork, account: Account, changed: Collection[str]) -> None:
    """An account is never its own ancestor: neither set under one of its descendants nor
    left so by a merge that moves its parent's children."""
    if "parent_id" not in changed or account.parent_id is None:
        return
    if account.id in await uow.accounts.ancestors(account.parent_id):
        why = f"account {account.parent_id} is below this account: it cannot be its parent"
        raise InvalidArgument([FieldViolation("parent_id", why)])


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
