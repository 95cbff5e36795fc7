"""Reading the field history the unit of work writes (repository/unit_of_work.py)."""

import uuid
from collections.abc import Collection

from sqlalchemy import and_, or_, select

from crm_customer.domain.history import Change
from crm_customer.domain.search import Cursor
from crm_customer.repository import tables
from crm_platform.db.engine import Executor

_HISTORY = tables.field_history


class SqlFieldHistory:
    def __init__(self, session: Executor) -> None:
        self._session = session

    async def page(
        self,
        record_type: str,
        record_id: uuid.UUID,
        *,
        hidden: Collection[str],
        after: Cursor | None,
        limit: int,
    ) -> list[Change]:
        c = _HISTORY.c
        query = select(c.id, c.field, c.old_value, c.new_value, c.actor_id, c.changed_at).where(
            c.record_type == record_type, c.record_id == record_id
        )
        if hidden:
            query = query.where(c.field.not_in(hidden))
        if after is not None:
            query = query.where(
                or_(
                    c.changed_at < after.value,
                    and_(c.changed_at == after.value, c.id > after.last_id),
                )
            )
        # Newest change first; the fields of one change in the order they were written.
        query = query.order_by(c.changed_at.desc(), c.id).limit(limit)
        return [Change(*row) for row in await self._session.execute(query)]
