"""Sessions of users: log in with a password (throttled), refresh, log out.

A refresh token is opaque (256 random bits) and stored as its SHA-256. Each refresh
exchanges it for a new one; presenting an exchanged one again means two parties hold it,
so the whole session ("token family") is revoked and both must log in again.
"""

import datetime as dt
import hashlib
import secrets
import uuid
from dataclasses import dataclass
from typing import Protocol

from crm_gateway.errors import LoginThrottled
from crm_gateway.identity.directory import IdentityDirectory
from crm_gateway.identity.domain import (
    InvalidCredentials,
    InvalidRefreshToken,
    ReusedRefreshToken,
    User,
    normalize_email,
)
from crm_gateway.identity.tokens import AccessTokens
from crm_gateway.identity.usecases import Identity, UserRepository


@dataclass(frozen=True)
class Rotated:
    session_id: uuid.UUID
    user_id: uuid.UUID


class SessionStore(Protocol):
    async def open(
        self, user_id: uuid.UUID, token_hash: str, expires_at: dt.datetime
    ) -> uuid.UUID: ...

    async def rotate(
        self, token_hash: str, new_hash: str, expires_at: dt.datetime
    ) -> Rotated | None: ...

    async def revoke(self, session_id: uuid.UUID) -> None: ...


class LoginThrottle(Protocol):
    async def retry_after(self, limits: dict[str, int]) -> int | None: ...

    async def record_failure(self, keys: list[str]) -> None: ...

    async def clear(self, key: str) -> None: ...


@dataclass(frozen=True)
class ThrottleLimits:
    failures_per_email: int
    failures_per_ip: int


@dataclass(frozen=True)
class Grant:
    user: User
    access_token: str
    expires_in: int
    refresh_token: str
    refresh_expires_in: int


class Logins:
    def __init__(
        self,
        *,
        identity: Identity,
        users: UserRepository,
        sessions: SessionStore,
        throttle: LoginThrottle,
        tokens: AccessTokens,
        directory: IdentityDirectory,
        limits: ThrottleLimits,
        refresh_ttl_seconds: int,
    ) -> None:
        self._identity = identity
        self._users = users
        self._sessions = sessions
        self._throttle = throttle
        self._tokens = tokens
        self._directory = directory
        self._limits = limits
        self._refresh_ttl = dt.timedelta(seconds=refresh_ttl_seconds)

    async def with_password(self, email: str, password: str, client_ip: str | None) -> Grant:
        email_key = f"email:{normalize_email(email)}"
        limits = {email_key: self._limits.failures_per_email}
        if client_ip:
            limits[f"ip:{client_ip}"] = self._limits.failures_per_ip
        wait = await self._throttle.retry_after(limits)
        if wait is not None:
            raise LoginThrottled(wait)
        try:
            user = await self._identity.authenticate(email, password)
        except InvalidCredentials:
            await self._throttle.record_failure(list(limits))
            raise
        await self._throttle.clear(email_key)
        refresh_token, expires_at = _new_refresh_token(self._refresh_ttl)
        session_id = await self._sessions.open(user.id, _digest(refresh_token), expires_at)
        return self._grant(user, session_id, refresh_token)

    async def with_refresh_token(self, refresh_token: str) -> Grant:
        new_token, expires_at = _new_refresh_token(self._refresh_ttl)
        try:
            rotated = await self._sessions.rotate(
                _digest(refresh_token), _digest(new_token), expires_at
            )
        except ReusedRefreshToken:
            await self._directory.changed()
            raise InvalidRefreshToken from None
        if rotated is None:
            raise InvalidRefreshToken
        user = await self._users.get(rotated.user_id)
        if user is None or not user.active:
            await self.logout(rotated.session_id)
            raise InvalidRefreshToken
        return self._grant(user, rotated.session_id, new_token)

    async def logout(self, session_id: uuid.UUID) -> None:
        await self._sessions.revoke(session_id)
        await self._directory.changed()

    def _grant(self, user: User, session_id: uuid.UUID, refresh_token: str) -> Grant:
        issued = self._tokens.issue(user, session_id)
        return Grant(
            user=user,
            access_token=issued.access_token,
            expires_in=issued.expires_in,
            refresh_token=refresh_token,
            refresh_expires_in=int(self._refresh_ttl.total_seconds()),
        )


def _new_refresh_token(ttl: dt.timedelta) -> tuple[str, dt.datetime]:
    return secrets.token_urlsafe(32), dt.datetime.now(dt.UTC) + ttl


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()
