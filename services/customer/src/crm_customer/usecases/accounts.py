"""Account commands and queries."""

from collections.abc import Mapping
from typing import Any

from crm_customer.domain.accounts import Account
from crm_customer.usecases import records
from crm_customer.usecases.ports import UnitOfWork
from crm_platform.auth.principal import Principal
from crm_platform.errors import FieldViolation, InvalidArgument

OBJECT = "account"


async def create_account(
    *, uow: UnitOfWork, principal: Principal, values: Mapping[str, Any]
) -> Account:
    async with uow:
        account = await records.create(
            uow=uow,
            repo=uow.accounts,
            record_type=Account,
            obj=OBJECT,
            principal=principal,
            values=values,
        )
        await _check_parent(uow, principal, account)
        await uow.commit()
    return account


async def get_account(*, uow: UnitOfWork, principal: Principal, account_id: str) -> Account:
    async with uow:
        return await records.get(
            repo=uow.accounts, obj=OBJECT, principal=principal, record_id=account_id
        )


async def list_accounts(
    *, uow: UnitOfWork, principal: Principal, page_size: int, page_token: str
) -> tuple[list[Account], str]:
    async with uow:
        return await records.page(
            repo=uow.accounts,
            obj=OBJECT,
            principal=principal,
            page_size=page_size,
            page_token=page_token,
        )


async def update_account(
    *,
    uow: UnitOfWork,
    principal: Principal,
    account_id: str,
    expected_version: int,
    values: Mapping[str, Any],
) -> Account:
    async with uow:
        account = await records.update(
            uow=uow,
            repo=uow.accounts,
            obj=OBJECT,
            principal=principal,
            record_id=account_id,
            expected_version=expected_version,
            values=values,
        )
        if "parent_id" in values:
            await _check_parent(uow, principal, account)
        await uow.commit()
    return account


async def _check_parent(uow: UnitOfWork, principal: Principal, account: Account) -> None:
    if account.parent_id == account.id:
        raise InvalidArgument([FieldViolation("parent_id", "an account cannot be its own parent")])
    await records.require_visible(
        repo=uow.accounts,
        obj=OBJECT,
        principal=principal,
        field="parent_id",
        record_id=account.parent_id,
    )
