"""Import jobs, their files and their problem rows in PostgreSQL. A job is run by one worker
at a time: it holds a lease (`lease_holder`, `lease_until`) it renews with every batch, and
every write a worker makes is fenced by it, so a worker that lost its lease writes nothing."""

import datetime as dt
import uuid
from collections.abc import AsyncIterator, Sequence
from typing import Any

from sqlalchemy import and_, delete, func, insert, or_, select, text, update

from crm_customer.domain.imports import (
    ImportJob,
    ImportSpec,
    Mode,
    Outcome,
    Problem,
    Progress,
    Status,
)
from crm_customer.repository import tables
from crm_platform.auth.principal import Principal, Scope
from crm_platform.db.engine import Executor
from crm_platform.db.visibility import visible_by_entity

_jobs = tables.imports
_chunks = tables.import_file_chunks
_problems = tables.import_problems
_COUNTERS = ("total", "processed", "created", "updated", "skipped", "failed")
NOTIFY_CHANNEL = "crm_imports"
# Delivered at commit: wakes the workers of every replica (usecases/import_runner.py).
_NOTIFY = text(f"SELECT pg_notify('{NOTIFY_CHANNEL}', '')")
_UNFINISHED = (Status.QUEUED.value, Status.RUNNING.value)


class SqlImportJobs:
    def __init__(self, session: Executor) -> None:
        self._session = session

    async def add(self, job: ImportJob) -> None:
        spec = job.spec
        await self._session.execute(
            insert(_jobs).values(
                id=job.id,
                entity=spec.entity,
                mode=spec.mode.value,
                default_region=spec.default_region,
                dry_run=spec.dry_run,
                mapping=spec.mapping,
                file_name=spec.file_name,
                status=job.status.value,
                headers=list(job.headers),
                ignored_columns=list(job.ignored_columns),
                total=job.progress.total,
                owner_id=job.owner_id,
                team_id=job.team_id,
                partner_id=job.partner_id,
                principal=job.principal,
                created_at=job.created_at,
            )
        )
        await self._session.execute(_NOTIFY)

    async def release(self, job_id: uuid.UUID, holder: uuid.UUID, pause: dt.timedelta) -> None:
        """Let any worker take the job up again, after `pause`."""
        await self._session.execute(
            update(_jobs)
            .where(_held(job_id, holder))
            .values(lease_holder=None, lease_until=func.now() + pause)
        )

    async def add_chunk(self, job_id: uuid.UUID, seq: int, data: bytes) -> None:
        await self._session.execute(insert(_chunks).values(import_id=job_id, seq=seq, data=data))

    async def chunks(self, job_id: uuid.UUID) -> AsyncIterator[bytes]:
        """The uploaded file, chunk by chunk (one in memory at a time)."""
        seq = -1
        while True:
            query = (
                select(_chunks.c.seq, _chunks.c.data)
                .where(_chunks.c.import_id == job_id, _chunks.c.seq > seq)
                .order_by(_chunks.c.seq)
                .limit(1)
            )
            row = (await self._session.execute(query)).first()
            if row is None:
                return
            seq = row.seq
            yield row.data

    async def get(
        self, job_id: uuid.UUID, *, principal: Principal, scopes: dict[str, Scope]
    ) -> ImportJob | None:
        visible = visible_by_entity(_jobs, principal, scopes)
        row = (
            await self._session.execute(select(_jobs).where(_jobs.c.id == job_id, visible))
        ).first()
        return _job(row._mapping) if row else None

    async def page(
        self,
        *,
        principal: Principal,
        scopes: dict[str, Scope],
        status: Status | None,
        after: uuid.UUID | None,
        limit: int,
    ) -> list[ImportJob]:
        """Newest first."""
        query = select(_jobs).where(visible_by_entity(_jobs, principal, scopes))
        if status is not None:
            query = query.where(_jobs.c.status == status.value)
        if after is not None:
            query = query.where(_jobs.c.id < after)
        query = query.order_by(_jobs.c.id.desc()).limit(limit)
        return [_job(row._mapping) for row in await self._session.execute(query)]

    async def claim(self, holder: uuid.UUID, lease: dt.timedelta) -> ImportJob | None:
        """The oldest unfinished job nobody holds (its lease ran out: its worker is gone),
        now held by `holder`."""
        free = (
            select(_jobs.c.id)
            .where(
                _jobs.c.status.in_(_UNFINISHED),
                or_(_jobs.c.lease_until.is_(None), _jobs.c.lease_until < func.now()),
            )
            .order_by(_jobs.c.created_at)
            .limit(1)
            .with_for_update(skip_locked=True)
            .scalar_subquery()
        )
        claimed = (
            update(_jobs)
            .where(_jobs.c.id == free)
            .values(
                status=Status.RUNNING.value,
                lease_holder=holder,
                lease_until=func.now() + lease,
            )
            .returning(*_jobs.c)
        )
        row = (await self._session.execute(claimed)).first()
        return _job(row._mapping) if row else None

    async def save_progress(
        self,
        job_id: uuid.UUID,
        holder: uuid.UUID,
        progress: Progress,
        lease: dt.timedelta,
        *,
        restart: bool = False,
    ) -> bool:
        """Store the counters (and renew the lease) if `holder` still holds the job."""
        if restart:
            await self._session.execute(delete(_problems).where(_problems.c.import_id == job_id))
        values: dict[str, Any] = {name: getattr(progress, name) for name in _COUNTERS}
        result = await self._session.execute(
            update(_jobs)
            .where(_held(job_id, holder))
            .values(**values, lease_until=func.now() + lease)
        )
        return bool(result.rowcount)  # type: ignore[attr-defined]

    async def add_problems(self, job_id: uuid.UUID, problems: Sequence[Problem]) -> None:
        if problems:
            rows = [
                {
                    "import_id": job_id,
                    "line": p.line,
                    "outcome": p.outcome.value,
                    "reason": p.reason,
                    "cells": p.cells,
                }
                for p in problems
            ]
            await self._session.execute(insert(_problems), rows)

    async def problems(self, job_id: uuid.UUID, batch: int) -> AsyncIterator[list[Problem]]:
        after = 0
        while True:
            query = (
                select(_problems)
                .where(_problems.c.import_id == job_id, _problems.c.line > after)
                .order_by(_problems.c.line)
                .limit(batch)
            )
            rows = (await self._session.execute(query)).all()
            if not rows:
                return
            after = rows[-1].line
            yield [Problem(r.line, Outcome(r.outcome), r.reason, list(r.cells)) for r in rows]

    async def finish(
        self, job_id: uuid.UUID, holder: uuid.UUID, status: Status, error: str = ""
    ) -> bool:
        """Mark the job ended and drop its file, if `holder` still holds it."""
        result = await self._session.execute(
            update(_jobs)
            .where(_held(job_id, holder))
            .values(
                status=status.value,
                error=error,
                finished_at=func.now(),
                lease_holder=None,
                lease_until=None,
            )
        )
        if not result.rowcount:  # type: ignore[attr-defined]
            return False
        await self._session.execute(delete(_chunks).where(_chunks.c.import_id == job_id))
        return True


def _held(job_id: uuid.UUID, holder: uuid.UUID) -> Any:
    return and_(
        _jobs.c.id == job_id,
        _jobs.c.lease_holder == holder,
        _jobs.c.status == Status.RUNNING.value,
    )


def _job(row: Any) -> ImportJob:
    spec = ImportSpec(
        entity=row["entity"],
        mode=Mode(row["mode"]),
        default_region=row["default_region"],
        dry_run=row["dry_run"],
        mapping=row["mapping"],
        file_name=row["file_name"],
    )
    return ImportJob(
        id=row["id"],
        spec=spec,
        status=Status(row["status"]),
        owner_id=row["owner_id"],
        team_id=row["team_id"],
        partner_id=row["partner_id"],
        principal=row["principal"],
        created_at=row["created_at"],
        progress=Progress(**{name: row[name] for name in _COUNTERS}),
        error=row["error"],
        headers=tuple(row["headers"]),
        ignored_columns=tuple(row["ignored_columns"]),
        finished_at=row["finished_at"],
    )
