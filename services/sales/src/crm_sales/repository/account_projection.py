"""The account projection table, written idempotently and in version order."""

import uuid
from collections.abc import Sequence
from dataclasses import asdict, fields

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from crm_sales.domain.account_projection import ProjectedAccount
from crm_sales.repository.tables import account_projection as table

_insert = insert(table)
# The version guard lives in SQL, so concurrent consumers cannot move it backwards. Built
# once: its `excluded` alias copies every column.
_UPSERT = _insert.on_conflict_do_update(
    index_elements=[table.c.id],
    set_={f.name: _insert.excluded[f.name] for f in fields(ProjectedAccount) if f.name != "id"},
    where=table.c.source_version < _insert.excluded.source_version,
)


class SqlProjectionStore:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def get(self, account_id: uuid.UUID) -> ProjectedAccount | None:
        row = (await self._session.execute(select(table).where(table.c.id == account_id))).first()
        return ProjectedAccount(**row._mapping) if row else None

    async def upsert_if_newer(self, accounts: Sequence[ProjectedAccount]) -> None:
        if accounts:  # executemany: one row after another, so a later version wins in order
            await self._session.execute(_UPSERT, [asdict(account) for account in accounts])
