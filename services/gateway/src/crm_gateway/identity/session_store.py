"""Sessions and their refresh tokens in PostgreSQL, and the load of the identity directory
(team tree, custom roles, lately revoked sessions) every gateway process keeps in memory."""

import datetime as dt
import uuid

from sqlalchemy import func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from crm_gateway.identity.directory import DirectoryData, DirectoryLoader
from crm_gateway.identity.domain import ReusedRefreshToken
from crm_gateway.identity.logins import Rotated
from crm_gateway.identity.schema import refresh_tokens, roles, sessions, teams
from crm_platform.ids import uuid7

# Clocks of the gateway processes may differ a little; a revocation stays listed this much
# longer than the last access token it could concern.
_CLOCK_SKEW = dt.timedelta(seconds=60)


class SqlSessions:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def open(self, user_id: uuid.UUID, token_hash: str, expires_at: dt.datetime) -> uuid.UUID:
        session_id = uuid7()
        async with self._engine.begin() as connection:
            await connection.execute(insert(sessions).values(id=session_id, user_id=user_id))
            await _add_token(connection, session_id, token_hash, expires_at)
        return session_id

    async def rotate(
        self, token_hash: str, new_hash: str, expires_at: dt.datetime
    ) -> Rotated | None:
        """Exchange a live refresh token for `new_hash`; None when it is unknown, expired or
        its session ended. Raises ReusedRefreshToken for one already exchanged."""
        reused, rotated = False, None
        async with self._engine.begin() as connection:
            # Only one of two concurrent exchanges of a token finds it unrotated.
            spent = await connection.execute(
                update(refresh_tokens)
                .where(
                    refresh_tokens.c.token_hash == token_hash,
                    refresh_tokens.c.rotated_at.is_(None),
                    refresh_tokens.c.expires_at > func.now(),
                )
                .values(rotated_at=func.now())
                .returning(refresh_tokens.c.session_id)
            )
            session_id = spent.scalar_one_or_none()
            if session_id is None:
                # The revocation commits with this block, before the error leaves.
                reused = await _revoke_if_reused(connection, token_hash)
            else:
                rotated = await _next_token(connection, session_id, new_hash, expires_at)
        if reused:
            raise ReusedRefreshToken
        return rotated

    async def revoke(self, session_id: uuid.UUID) -> None:
        async with self._engine.begin() as connection:
            await connection.execute(
                update(sessions)
                .where(sessions.c.id == session_id, sessions.c.revoked_at.is_(None))
                .values(revoked_at=func.now())
            )


async def _next_token(
    connection: AsyncConnection, session_id: uuid.UUID, new_hash: str, expires_at: dt.datetime
) -> Rotated | None:
    session = (
        await connection.execute(
            select(sessions.c.user_id)
            .where(sessions.c.id == session_id, sessions.c.revoked_at.is_(None))
            .with_for_update()
        )
    ).first()
    if session is None:
        return None
    await _add_token(connection, session_id, new_hash, expires_at)
    return Rotated(session_id, session.user_id)


async def _revoke_if_reused(connection: AsyncConnection, token_hash: str) -> bool:
    rotated = (
        await connection.execute(
            select(refresh_tokens.c.session_id).where(
                refresh_tokens.c.token_hash == token_hash,
                refresh_tokens.c.rotated_at.is_not(None),
            )
        )
    ).scalar_one_or_none()
    if rotated is None:
        return False
    await connection.execute(
        update(sessions)
        .where(sessions.c.id == rotated, sessions.c.revoked_at.is_(None))
        .values(revoked_at=func.now())
    )
    return True


async def revoke_sessions_of(connection: AsyncConnection, user_id: uuid.UUID) -> None:
    """Within the caller's transaction: e.g. deactivating the user ends all its sessions."""
    await connection.execute(
        update(sessions)
        .where(sessions.c.user_id == user_id, sessions.c.revoked_at.is_(None))
        .values(revoked_at=func.now())
    )


async def _add_token(
    connection: AsyncConnection, session_id: uuid.UUID, token_hash: str, expires_at: dt.datetime
) -> None:
    await connection.execute(
        insert(refresh_tokens).values(
            token_hash=token_hash, session_id=session_id, expires_at=expires_at
        )
    )


def directory_loader(engine: AsyncEngine, *, access_token_ttl_seconds: int) -> DirectoryLoader:
    """Loads the directory; a revoked session is listed while its access tokens may live."""
    listed_for = dt.timedelta(seconds=access_token_ttl_seconds) + _CLOCK_SKEW

    async def load() -> DirectoryData:
        async with engine.connect() as connection:
            tree = await connection.execute(select(teams.c.id, teams.c.parent_id))
            custom = await connection.execute(select(roles.c.name, roles.c.permissions))
            revoked = await connection.execute(
                select(sessions.c.id).where(sessions.c.revoked_at > func.now() - listed_for)
            )
            return DirectoryData(
                parents={row.id: row.parent_id for row in tree},
                custom_grants={row.name: row.permissions for row in custom},
                revoked_sessions=frozenset(row.id for row in revoked),
            )

    return load
