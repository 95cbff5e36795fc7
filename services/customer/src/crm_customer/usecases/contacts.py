"""Contacts: the shared record commands, an account reference, and listing by account."""

from crm_customer.domain.contacts import Contact
from crm_customer.usecases.ports import UnitOfWork
from crm_customer.usecases.records import RecordKind, Reference, list_records
from crm_platform.auth.principal import Principal
from crm_platform.ids import parse_uuid

CONTACTS = RecordKind(
    obj="contact",
    record_type=Contact,
    repo=lambda uow: uow.contacts,
    references=(Reference("account_id", "account", lambda uow: uow.accounts),),
)


async def list_contacts(
    *, uow: UnitOfWork, principal: Principal, page_size: int, page_token: str, account_id: str
) -> tuple[list[Contact], str]:
    filters = {}
    if account_id:
        parsed = parse_uuid(account_id)
        if parsed is None:
            return [], ""  # a malformed id matches nothing, like an unknown one
        filters["account_id"] = parsed
    return await list_records(
        kind=CONTACTS,
        uow=uow,
        principal=principal,
        page_size=page_size,
        page_token=page_token,
        filters=filters,
    )
