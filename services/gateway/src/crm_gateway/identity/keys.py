"""API keys for partner and ERP systems: their secrets and the rules of their life.

A secret is `crm_<prefix>_<43 random characters>`: 256 random bits, so a plain SHA-256 of
it is as safe to store as a slow password hash, and costs microseconds where argon2 would
cost ~50 ms on every request. The prefix (not secret) finds the row and names the key in
lists and logs.
"""

import datetime as dt
import hashlib
import hmac
import secrets
import uuid
from collections.abc import Iterable
from dataclasses import dataclass

from crm_gateway.identity.roles import BUILT_IN_ROLES, role_name_violations
from crm_platform.errors import FieldViolation, InvalidArgument

DEFAULT_OVERLAP = dt.timedelta(hours=24)
MAX_OVERLAP = dt.timedelta(days=7)
# A busy key is checked every few seconds per process; one write a minute says enough.
USE_RECORDED_EVERY = dt.timedelta(minutes=1)
_PREFIX_LENGTH = 8


@dataclass(frozen=True)
class ApiKey:
    id: uuid.UUID
    version: int
    name: str
    prefix: str
    secret_hash: bytes
    roles: tuple[str, ...]
    partner_id: uuid.UUID | None
    expires_at: dt.datetime | None
    rate_limit_per_minute: int | None
    created_by: uuid.UUID
    created_at: dt.datetime
    updated_at: dt.datetime
    # After a rotation the old secret keeps working until `previous_valid_until`.
    previous_hash: bytes | None = None
    previous_valid_until: dt.datetime | None = None
    revoked_at: dt.datetime | None = None
    # When a request last used the key, to within USE_RECORDED_EVERY.
    last_used_at: dt.datetime | None = None

    def usable(self, now: dt.datetime) -> bool:
        return self.revoked_at is None and (self.expires_at is None or self.expires_at > now)

    def opens_with(self, secret: str, now: dt.datetime) -> bool:
        digest = hash_secret(secret)
        if hmac.compare_digest(digest, self.secret_hash):
            return True
        return (
            self.previous_hash is not None
            and self.previous_valid_until is not None
            and now < self.previous_valid_until
            and hmac.compare_digest(digest, self.previous_hash)
        )


def new_secret(prefix: str | None = None) -> tuple[str, str]:
    """(prefix, secret); a rotation keeps the key's prefix."""
    prefix = prefix or secrets.token_hex(_PREFIX_LENGTH // 2)
    return prefix, f"crm_{prefix}_{secrets.token_urlsafe(32)}"


def hash_secret(secret: str) -> bytes:
    return hashlib.sha256(secret.encode()).digest()


def prefix_of(secret: str) -> str | None:
    """The prefix a well-formed secret names; None for anything else."""
    scheme, _, rest = secret.partition("_")
    prefix, _, random_part = rest.partition("_")
    if scheme != "crm" or len(prefix) != _PREFIX_LENGTH or len(random_part) < 32:
        return None
    return prefix


def check_roles(roles: Iterable[str]) -> tuple[str, ...]:
    """Built-in or well-formed custom role names; that custom ones exist is the storage's
    check, made in the transaction that adds the key."""
    roles = tuple(dict.fromkeys(roles))
    unknown = [role for role in roles if role not in BUILT_IN_ROLES and role_name_violations(role)]
    if not roles or unknown:
        detail = f"unknown roles: {', '.join(unknown)}" if unknown else "name at least one role"
        raise InvalidArgument([FieldViolation("roles", detail)])
    return roles


def check_expiry(expires_at: dt.datetime | None, now: dt.datetime) -> dt.datetime | None:
    if expires_at is None:
        return None
    if expires_at.tzinfo is None:
        raise InvalidArgument([FieldViolation("expires_at", "must carry a time zone")])
    if expires_at <= now:
        raise InvalidArgument([FieldViolation("expires_at", "must lie in the future")])
    return expires_at


def check_overlap(seconds: int) -> dt.timedelta:
    overlap = dt.timedelta(seconds=seconds)
    if not dt.timedelta(0) <= overlap <= MAX_OVERLAP:
        raise InvalidArgument(
            [FieldViolation("overlap_seconds", f"must be 0..{int(MAX_OVERLAP.total_seconds())}")]
        )
    return overlap
