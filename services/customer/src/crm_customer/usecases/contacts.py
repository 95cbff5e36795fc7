"""Contacts: the shared record commands, with references to the accounts they belong to."""

from crm_customer.domain.contacts import Contact
from crm_customer.usecases.records import RecordKind, Reference

CONTACTS = RecordKind(
    obj="contact",
    record_type=Contact,
    repo=lambda uow: uow.contacts,
    references=(
        Reference("account_id", "account", lambda uow: uow.accounts),
        Reference(
            "account_roles",
            "account",
            lambda uow: uow.accounts,
            ids=lambda roles: [role.account_id for role in roles],
        ),
    ),
)
