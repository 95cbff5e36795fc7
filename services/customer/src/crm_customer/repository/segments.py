"""Segments in PostgreSQL: one row each, soft-deleted, versioned like the records."""

import uuid
from dataclasses import asdict, fields
from typing import Any

from sqlalchemy import func, insert, select, update

from crm_customer.domain.segments import Segment
from crm_customer.repository import tables
from crm_platform.auth.principal import Principal, Scope
from crm_platform.db.engine import Executor
from crm_platform.db.visibility import visible_by_entity

_segments = tables.segments
_COLUMNS = [_segments.c[f.name] for f in fields(Segment)]


class SqlSegments:
    def __init__(self, session: Executor) -> None:
        self._session = session

    async def add(self, segment: Segment) -> None:
        await self._session.execute(insert(_segments).values(**asdict(segment)))

    async def get(
        self, segment_id: uuid.UUID, *, principal: Principal, scopes: dict[str, Scope]
    ) -> Segment | None:
        query = select(*_COLUMNS).where(_segments.c.id == segment_id, *_visible(principal, scopes))
        row = (await self._session.execute(query)).first()
        return Segment(**row._mapping) if row else None

    async def page(
        self,
        *,
        principal: Principal,
        scopes: dict[str, Scope],
        after: uuid.UUID | None,
        limit: int,
    ) -> list[Segment]:
        """Newest first."""
        query = select(*_COLUMNS).where(*_visible(principal, scopes))
        if after is not None:
            query = query.where(_segments.c.id < after)
        query = query.order_by(_segments.c.id.desc()).limit(limit)
        return [Segment(**row._mapping) for row in await self._session.execute(query)]

    async def replace(self, segment: Segment, *, expected_version: int) -> bool:
        values = asdict(segment)
        del values["id"], values["created_at"]
        result = await self._session.execute(
            update(_segments)
            .where(
                _segments.c.id == segment.id,
                _segments.c.version == expected_version,
                _segments.c.deleted_at.is_(None),
            )
            .values(**values)
        )
        return bool(result.rowcount)  # type: ignore[attr-defined]

    async def delete(self, segment: Segment, *, expected_version: int) -> bool:
        result = await self._session.execute(
            update(_segments)
            .where(
                _segments.c.id == segment.id,
                _segments.c.version == expected_version,
                _segments.c.deleted_at.is_(None),
            )
            .values(deleted_at=func.now(), version=expected_version + 1)
        )
        return bool(result.rowcount)  # type: ignore[attr-defined]


def _visible(principal: Principal, scopes: dict[str, Scope]) -> list[Any]:
    """A segment is seen by whoever may read its members' kind, within that reach."""
    return [_segments.c.deleted_at.is_(None), visible_by_entity(_segments, principal, scopes)]
