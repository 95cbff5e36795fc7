"""Issuing, rotating, revoking and checking API keys."""

import dataclasses
import datetime as dt
import uuid
from collections.abc import Sequence
from typing import Protocol

from crm_gateway.identity.keys import (
    USE_RECORDED_EVERY,
    ApiKey,
    check_expiry,
    check_overlap,
    check_roles,
    hash_secret,
    new_secret,
    prefix_of,
)
from crm_gateway.preconditions import ExpectedVersion
from crm_platform.errors import (
    FieldViolation,
    InvalidArgument,
    NotFound,
    StaleVersion,
    Unauthenticated,
)
from crm_platform.ids import uuid7


class ApiKeyRepository(Protocol):
    async def add(self, key: ApiKey) -> None: ...

    async def get(self, key_id: uuid.UUID) -> ApiKey | None: ...

    async def by_prefix(self, prefix: str) -> ApiKey | None: ...

    async def page(self, *, after: uuid.UUID | None, limit: int) -> list[ApiKey]: ...

    async def replace(self, key: ApiKey, *, expected_version: int) -> bool: ...

    async def record_use(self, key_id: uuid.UUID, at: dt.datetime) -> None: ...


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class ApiKeys:
    def __init__(self, repository: ApiKeyRepository) -> None:
        self._keys = repository

    async def issue(
        self,
        *,
        name: str,
        roles: Sequence[str],
        created_by: uuid.UUID,
        partner_id: uuid.UUID | None = None,
        expires_at: dt.datetime | None = None,
        rate_limit_per_minute: int | None = None,
    ) -> tuple[ApiKey, str]:
        """The new key and its secret, which is shown this once and never stored."""
        if "partner" in roles and partner_id is None:  # it would reach no record at all
            why = "a key with the partner role names its partner"
            raise InvalidArgument([FieldViolation("partner_id", why)])
        now = _now()
        prefix, secret = new_secret()
        key = ApiKey(
            id=uuid7(),
            version=1,
            name=name,
            prefix=prefix,
            secret_hash=hash_secret(secret),
            roles=check_roles(roles),
            partner_id=partner_id,
            expires_at=check_expiry(expires_at, now),
            rate_limit_per_minute=rate_limit_per_minute,
            created_by=created_by,
            created_at=now,
            updated_at=now,
        )
        await self._keys.add(key)
        return key, secret

    async def get(self, key_id: uuid.UUID) -> ApiKey:
        key = await self._keys.get(key_id)
        if key is None:
            raise NotFound(f"api key {key_id} not found")
        return key

    async def page(self, *, after: uuid.UUID | None, limit: int) -> list[ApiKey]:
        return await self._keys.page(after=after, limit=limit)

    async def rotate(self, *, key_id: uuid.UUID, overlap_seconds: int) -> tuple[ApiKey, str]:
        """A new secret; the current one keeps working for the overlap, then stops."""
        overlap = check_overlap(overlap_seconds)
        current = await self.get(key_id)
        if current.revoked_at is not None:
            raise NotFound(f"api key {key_id} not found")
        now = _now()
        _, secret = new_secret(current.prefix)
        rotated = dataclasses.replace(
            current,
            version=current.version + 1,
            secret_hash=hash_secret(secret),
            previous_hash=current.secret_hash,
            previous_valid_until=now + overlap,
            updated_at=now,
        )
        await self._store(rotated, current.version)
        return rotated, secret

    async def revoke(self, *, key_id: uuid.UUID, expected_version: ExpectedVersion) -> ApiKey:
        current = await self.get(key_id)
        expected_version.check(current.version, "api key")
        now = _now()
        revoked = dataclasses.replace(
            current,
            version=current.version + 1,
            revoked_at=current.revoked_at or now,
            updated_at=now,
        )
        await self._store(revoked, current.version)
        return revoked

    async def authenticate(self, secret: str) -> ApiKey:
        """The key `secret` opens; Unauthenticated (saying no more) for anything else."""
        prefix = prefix_of(secret)
        key = await self._keys.by_prefix(prefix) if prefix else None
        now = _now()
        if key is None or not key.usable(now) or not key.opens_with(secret, now):
            raise Unauthenticated("the API key is not valid")
        if key.last_used_at is None or now - key.last_used_at >= USE_RECORDED_EVERY:
            await self._keys.record_use(key.id, now)
        return key

    async def _store(self, key: ApiKey, expected_version: int) -> None:
        if not await self._keys.replace(key, expected_version=expected_version):
            raise StaleVersion("the api key was changed concurrently")
