"""The account projection table, written idempotently and in version order."""

import uuid
from dataclasses import asdict

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from crm_sales.domain.account_projection import ProjectedAccount
from crm_sales.repository.tables import account_projection as table


class SqlProjectionStore:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def get(self, account_id: uuid.UUID) -> ProjectedAccount | None:
        row = (await self._session.execute(select(table).where(table.c.id == account_id))).first()
        return ProjectedAccount(**row._mapping) if row else None

    async def upsert_if_newer(self, account: ProjectedAccount) -> None:
        values = asdict(account)
        statement = insert(table).values(**values)
        # The version guard lives in SQL, so concurrent consumers cannot move it backwards.
        statement = statement.on_conflict_do_update(
            index_elements=[table.c.id],
            set_={k: statement.excluded[k] for k in values if k != "id"},
            where=table.c.source_version < statement.excluded.source_version,
        )
        await self._session.execute(statement)
