"""Contacts: the shared record commands, with references to the accounts they belong to."""

from crm_customer.domain.contacts import Contact
from crm_customer.domain.duplicates import Match, likely_duplicates, lookalike_groups
from crm_customer.usecases.records import RecordKind, Reference


def _duplicates(contact: Contact, candidates: list[Contact]) -> list[Match]:
    return likely_duplicates(contact.as_person(), [c.as_person() for c in candidates])


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
    duplicates=_duplicates,
    lookalikes=lambda contact: lookalike_groups(contact.as_person()),
)
