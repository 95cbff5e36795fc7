"""The idempotency_keys table (mirrored by migrations/) and its store.

One row per (subject, key). A NULL status means the first request is still running; the
claim is one `INSERT ... ON CONFLICT` so that of concurrent requests exactly one runs.
"""

import asyncio
import datetime as dt
import functools
import logging
import time
import uuid
from typing import Any

from sqlalchemy import (
    Column,
    DateTime,
    Index,
    LargeBinary,
    Row,
    SmallInteger,
    String,
    Table,
    and_,
    delete,
    func,
    or_,
    select,
    tuple_,
    update,
)
from sqlalchemy.dialects.postgresql import JSONB, UUID, insert
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.sql import ColumnElement

from crm_gateway.idempotency.rules import (
    ABANDONED_AFTER_SECONDS,
    TTL_SECONDS,
    Existing,
    StoredResponse,
)
from crm_gateway.storage import metadata
from crm_platform.db.engine import once_more_if_disconnected

log = logging.getLogger(__name__)


idempotency_keys = Table(
    "idempotency_keys",
    metadata,
    Column("subject_id", UUID(as_uuid=True), primary_key=True),
    Column("key", String(255), primary_key=True),
    # Which claim owns the row: a stale claim taken over cannot complete the new one.
    Column("claim_id", UUID(as_uuid=True), nullable=False),
    Column("fingerprint", String(64), nullable=False),
    Column("status", SmallInteger),
    Column("headers", JSONB),
    Column("body", LargeBinary),
    Column("claimed_at", DateTime(timezone=True), nullable=False),
    Column("expires_at", DateTime(timezone=True), nullable=False),
    Index("ix_idempotency_keys_expires_at", "expires_at"),
)

_TTL = dt.timedelta(seconds=TTL_SECONDS)
_ABANDONED = dt.timedelta(seconds=ABANDONED_AFTER_SECONDS)
PURGE_EVERY_SECONDS = 600.0
_PURGE_BATCH = 5_000
# Between our failed claim and our read the row may be released (a 5xx): claim again.
_CLAIM_ATTEMPTS = 3


class SqlIdempotencyStore:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        self._last_purge = time.monotonic()
        self._purging: asyncio.Task[None] | None = None

    async def claim(
        self, *, subject_id: uuid.UUID, key: str, fingerprint: str
    ) -> uuid.UUID | Existing:
        """Our claim id when the key is ours to run, else the row that holds it."""
        self._purge_now_and_then()
        for _ in range(_CLAIM_ATTEMPTS):
            claim_id = uuid.uuid4()
            attempt = functools.partial(self._claim_or_read, subject_id, key, fingerprint, claim_id)
            row = await once_more_if_disconnected(attempt)
            if isinstance(row, uuid.UUID):
                return row
            if row is not None:
                answered = row.status is not None
                response = (
                    StoredResponse(row.status, dict(row.headers or {}), bytes(row.body or b""))
                    if answered
                    else None
                )
                return Existing(row.fingerprint, response)
        raise RuntimeError("an idempotency key kept vanishing between claim and read")

    async def _claim_or_read(
        self, subject_id: uuid.UUID, key: str, fingerprint: str, claim_id: uuid.UUID
    ) -> uuid.UUID | Row[Any] | None:
        """`claim_id` when the claim won, else the row holding the key (None if it vanished)."""
        async with self._engine.begin() as connection:
            if (await connection.execute(_claim(subject_id, key, fingerprint, claim_id))).first():
                return claim_id
            statement = select(idempotency_keys).where(*_row_of(subject_id, key))
            return (await connection.execute(statement)).first()

    async def complete(
        self, *, subject_id: uuid.UUID, key: str, claim_id: uuid.UUID, response: StoredResponse
    ) -> None:
        statement = (
            update(idempotency_keys)
            .where(*_row_of(subject_id, key), idempotency_keys.c.claim_id == claim_id)
            .values(status=response.status, headers=dict(response.headers), body=response.body)
        )
        async with self._engine.begin() as connection:
            await connection.execute(statement)

    async def release(self, *, subject_id: uuid.UUID, key: str, claim_id: uuid.UUID) -> None:
        statement = delete(idempotency_keys).where(
            *_row_of(subject_id, key), idempotency_keys.c.claim_id == claim_id
        )
        async with self._engine.begin() as connection:
            await connection.execute(statement)

    async def purge_expired(self) -> int:
        """Delete up to one batch of expired keys; how many went."""
        expired = (
            select(idempotency_keys.c.subject_id, idempotency_keys.c.key)
            .where(idempotency_keys.c.expires_at <= func.now())
            .limit(_PURGE_BATCH)
        )
        statement = delete(idempotency_keys).where(
            tuple_(idempotency_keys.c.subject_id, idempotency_keys.c.key).in_(expired)
        )
        async with self._engine.begin() as connection:
            return (await connection.execute(statement)).rowcount

    def _purge_now_and_then(self) -> None:
        # Behind the request rather than in it, at most one purge at a time per process.
        now = time.monotonic()
        if now - self._last_purge < PURGE_EVERY_SECONDS or self._purging is not None:
            return
        self._last_purge = now
        self._purging = asyncio.create_task(self._purge_in_background())

    async def _purge_in_background(self) -> None:
        try:
            await self.purge_expired()
        except Exception:
            log.warning("purging expired idempotency keys failed", exc_info=True)
        finally:
            self._purging = None


def _row_of(subject_id: uuid.UUID, key: str) -> tuple[ColumnElement[bool], ...]:
    return (idempotency_keys.c.subject_id == subject_id, idempotency_keys.c.key == key)


def _claim(subject_id: uuid.UUID, key: str, fingerprint: str, claim_id: uuid.UUID):  # type: ignore[no-untyped-def]
    """Insert the claim; an expired row, or a claim abandoned mid-request, is taken over."""
    now = func.now()
    statement = insert(idempotency_keys).values(
        subject_id=subject_id,
        key=key,
        claim_id=claim_id,
        fingerprint=fingerprint,
        claimed_at=now,
        expires_at=now + _TTL,
    )
    table = idempotency_keys.c
    return statement.on_conflict_do_update(
        index_elements=[table.subject_id, table.key],
        set_={
            "claim_id": statement.excluded.claim_id,
            "fingerprint": statement.excluded.fingerprint,
            "status": None,
            "headers": None,
            "body": None,
            "claimed_at": statement.excluded.claimed_at,
            "expires_at": statement.excluded.expires_at,
        },
        where=or_(
            table.expires_at <= now,
            and_(table.status.is_(None), table.claimed_at <= now - _ABANDONED),
        ),
    ).returning(table.claim_id)
