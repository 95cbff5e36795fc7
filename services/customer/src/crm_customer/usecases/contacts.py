"""Contact commands and queries."""

from collections.abc import Mapping
from typing import Any

from crm_customer.domain.contacts import Contact
from crm_customer.usecases import records
from crm_customer.usecases.accounts import OBJECT as ACCOUNT
from crm_customer.usecases.ports import UnitOfWork
from crm_platform.auth.principal import Principal
from crm_platform.ids import parse_uuid

OBJECT = "contact"


async def create_contact(
    *, uow: UnitOfWork, principal: Principal, values: Mapping[str, Any]
) -> Contact:
    async with uow:
        contact = await records.create(
            uow=uow,
            repo=uow.contacts,
            record_type=Contact,
            obj=OBJECT,
            principal=principal,
            values=values,
        )
        await _check_account(uow, principal, contact)
        await uow.commit()
    return contact


async def get_contact(*, uow: UnitOfWork, principal: Principal, contact_id: str) -> Contact:
    async with uow:
        return await records.get(
            repo=uow.contacts, obj=OBJECT, principal=principal, record_id=contact_id
        )


async def list_contacts(
    *, uow: UnitOfWork, principal: Principal, page_size: int, page_token: str, account_id: str = ""
) -> tuple[list[Contact], str]:
    filters = {}
    if account_id:
        parsed = parse_uuid(account_id)
        if parsed is None:
            return [], ""  # a malformed id matches nothing, like an unknown one
        filters["account_id"] = parsed
    async with uow:
        return await records.page(
            repo=uow.contacts,
            obj=OBJECT,
            principal=principal,
            page_size=page_size,
            page_token=page_token,
            filters=filters,
        )


async def update_contact(
    *,
    uow: UnitOfWork,
    principal: Principal,
    contact_id: str,
    expected_version: int,
    values: Mapping[str, Any],
) -> Contact:
    async with uow:
        contact = await records.update(
            uow=uow,
            repo=uow.contacts,
            obj=OBJECT,
            principal=principal,
            record_id=contact_id,
            expected_version=expected_version,
            values=values,
        )
        if "account_id" in values:
            await _check_account(uow, principal, contact)
        await uow.commit()
    return contact


async def _check_account(uow: UnitOfWork, principal: Principal, contact: Contact) -> None:
    await records.require_visible(
        repo=uow.accounts,
        obj=ACCOUNT,
        principal=principal,
        field="account_id",
        record_id=contact.account_id,
    )
