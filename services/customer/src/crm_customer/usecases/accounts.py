"""Accounts: commands and queries are the shared record ones; parents must be visible."""

from crm_customer.domain.accounts import Account
from crm_customer.usecases.records import RecordKind, Reference

ACCOUNTS = RecordKind(
    obj="account",
    record_type=Account,
    repo=lambda uow: uow.accounts,
    references=(Reference("parent_id", "account", lambda uow: uow.accounts),),
)
