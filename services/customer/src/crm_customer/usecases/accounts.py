"""Accounts: commands and queries are the shared record ones; parents must be visible."""

from crm_customer.domain.accounts import Account
from crm_customer.domain.duplicates import Match, likely_duplicate_companies
from crm_customer.usecases.records import RecordKind, Reference


def _duplicates(account: Account, candidates: list[Account]) -> list[Match]:
    return likely_duplicate_companies(account.as_company(), [c.as_company() for c in candidates])


ACCOUNTS = RecordKind(
    obj="account",
    record_type=Account,
    repo=lambda uow: uow.accounts,
    references=(Reference("parent_id", "account", lambda uow: uow.accounts),),
    duplicates=_duplicates,
)
