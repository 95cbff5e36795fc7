"""Keeping the account projection current, and reading it."""

import uuid
from collections.abc import Sequence
from typing import Protocol

from crm_platform.auth.principal import Action, Principal
from crm_platform.errors import NotFound
from crm_platform.ids import parse_uuid
from crm_sales.domain.account_projection import ProjectedAccount

OBJECT = "account"


class ProjectionStore(Protocol):
    async def get(self, account_id: uuid.UUID) -> ProjectedAccount | None: ...

    async def upsert_if_newer(self, accounts: Sequence[ProjectedAccount]) -> None:
        """Store each of `accounts`, in order, unless a copy with the same or a newer
        source_version exists."""
        ...


async def apply_account_snapshots(
    *, store: ProjectionStore, accounts: Sequence[ProjectedAccount]
) -> None:
    await store.upsert_if_newer(accounts)


async def get_projected_account(
    *, store: ProjectionStore, principal: Principal, account_id: str
) -> ProjectedAccount:
    scope = principal.require(OBJECT, Action.READ)
    parsed = parse_uuid(account_id)
    account = await store.get(parsed) if parsed else None
    if (
        account is None
        or account.deleted
        or not principal.reaches(
            scope, owner_id=account.owner_id, team_id=account.team_id, partner_id=account.partner_id
        )
    ):
        raise NotFound(f"account {account_id} not found")
    return account
