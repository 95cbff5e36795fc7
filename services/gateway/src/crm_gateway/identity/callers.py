"""From an access token or an API key to the signed internal principal sent to services,
cached.

Decoding the access token and signing a principal cost ~50 µs of CPU together; a client
sends the same token for many requests, so a bounded LRU keyed by the token makes the hot
path a dictionary lookup. The principal's team subtree and custom role grants come from
the identity directory; when the directory changes, a cached caller is checked again (its
session may be revoked) and re-signed only if its principal changed.
"""

import time
import uuid
from collections import OrderedDict
from dataclasses import dataclass
from typing import Protocol

from crm_gateway.identity.directory import IdentityDirectory, Snapshot
from crm_gateway.identity.key_usecases import ApiKeys
from crm_gateway.identity.keys import ApiKey, hash_secret
from crm_gateway.identity.tokens import AccessClaims, AccessTokens
from crm_platform.auth.principal import Principal, issue_token
from crm_platform.errors import Unauthenticated
from crm_platform.grpc.client import principal_metadata

PRINCIPAL_TTL_SECONDS = 300
KEY_CACHE_SECONDS = 5.0
# A cached principal is re-signed this long before it expires, so none expires in flight.
_PRINCIPAL_MARGIN_SECONDS = 60


@dataclass(frozen=True)
class Caller:
    user_id: uuid.UUID  # for an API key, the key's id
    # gRPC metadata carrying the signed principal; passed as is on every call.
    metadata: tuple[tuple[str, str], ...]
    valid_until: float
    # What the gateway's own routes check (users, keys); services verify the signed copy.
    principal: Principal
    # The login this caller's token belongs to; None for API keys and SSO tokens.
    session_id: uuid.UUID | None = None
    # The caller's own budget; None takes the gateway's default.
    rate_limit_per_minute: int | None = None


@dataclass
class _Entry:
    caller: Caller
    claims: AccessClaims
    generation: int


def principal_for(claims: AccessClaims, directory: Snapshot) -> Principal:
    return Principal(
        subject_id=claims.user_id,
        kind="user",
        roles=frozenset(claims.roles),
        team_id=claims.team_id,
        team_ids=directory.team_ids(claims.team_id),
        grants=directory.grants(claims.roles),
    )


class ExternalTokens(Protocol):
    """Access tokens of another issuer (SSO), turned into claims like our own."""

    def accepts(self, token: str) -> bool: ...

    async def claims(self, token: str) -> AccessClaims: ...


class CallerCache:
    def __init__(
        self,
        tokens: AccessTokens,
        principal_secret: str,
        directory: IdentityDirectory,
        max_entries: int = 10_000,
        external: ExternalTokens | None = None,
    ):
        self._tokens = tokens
        self._secret = principal_secret
        self._directory = directory
        self._max = max_entries
        self._external = external
        self._entries: OrderedDict[str, _Entry] = OrderedDict()

    async def resolve(self, token: str) -> Caller:
        """The caller of our access token or of an SSO token; raises Unauthenticated."""
        snapshot = await self._directory.current()
        now = time.time()
        entry = self._entries.get(token)
        if entry is not None and entry.caller.valid_until > now:
            if entry.generation != snapshot.generation:
                entry = self._recheck(token, entry, snapshot, now)
            self._entries.move_to_end(token)
            return entry.caller
        if entry is not None:
            del self._entries[token]  # expired: decode again, which may now refuse
        if self._external is not None and self._external.accepts(token):
            claims = await self._external.claims(token)
            now = time.time()
        else:
            claims = self._tokens.decode(token)
        entry = self._fresh(claims, snapshot, now)
        self._entries[token] = entry
        if len(self._entries) > self._max:
            self._entries.popitem(last=False)
        return entry.caller

    def _recheck(self, token: str, entry: _Entry, snapshot: Snapshot, now: float) -> _Entry:
        if _revoked(snapshot, entry.claims):
            del self._entries[token]
            raise _session_ended()
        held = entry.caller.principal
        if (held.team_ids, held.grants) == (
            snapshot.team_ids(entry.claims.team_id),
            snapshot.grants(entry.claims.roles),
        ):
            entry.generation = snapshot.generation
            return entry
        entry = self._fresh(entry.claims, snapshot, now)
        self._entries[token] = entry
        return entry

    def _fresh(self, claims: AccessClaims, snapshot: Snapshot, now: float) -> _Entry:
        if _revoked(snapshot, claims):
            raise _session_ended()
        caller = signed_caller(
            principal_for(claims, snapshot),
            self._secret,
            now=now,
            valid_until=float(claims.expires_at),
            session_id=claims.session_id,
        )
        return _Entry(caller, claims, snapshot.generation)


def signed_caller(
    principal: Principal,
    principal_secret: str,
    *,
    now: float,
    valid_until: float,
    session_id: uuid.UUID | None = None,
    rate_limit_per_minute: int | None = None,
) -> Caller:
    signed = issue_token(principal, principal_secret, ttl_seconds=PRINCIPAL_TTL_SECONDS)
    principal_valid_until = now + PRINCIPAL_TTL_SECONDS - _PRINCIPAL_MARGIN_SECONDS
    return Caller(
        user_id=principal.subject_id,
        metadata=principal_metadata(signed),
        valid_until=min(valid_until, principal_valid_until),
        principal=principal,
        session_id=session_id,
        rate_limit_per_minute=rate_limit_per_minute,
    )


def _revoked(snapshot: Snapshot, claims: AccessClaims) -> bool:
    return claims.session_id is not None and snapshot.is_revoked(claims.session_id)


def _session_ended() -> Unauthenticated:
    return Unauthenticated("this session has ended; log in again")


@dataclass
class _CheckedKey:
    caller: Caller
    version: int
    generation: int
    checked_until: float


class KeyCallers:
    """The caller of an `X-API-Key` secret, checked again every `cache_seconds`: so a
    revoked or expired key stops working in every gateway process within that bound, and a
    busy key costs one database lookup per process every few seconds. An unchanged key
    (same version, same custom roles) keeps its signed principal, so what is cached per
    caller downstream (the read cache) stays valid. Kept by the secret's digest, not the
    secret."""

    def __init__(
        self,
        keys: ApiKeys,
        principal_secret: str,
        directory: IdentityDirectory,
        *,
        cache_seconds: float = KEY_CACHE_SECONDS,
        max_entries: int = 10_000,
    ):
        self._keys = keys
        self._secret = principal_secret
        self._directory = directory
        self._cache_seconds = cache_seconds
        self._max = max_entries
        self._entries: OrderedDict[bytes, _CheckedKey] = OrderedDict()

    async def authenticate(self, secret: str) -> Caller:
        now = time.time()
        digest = hash_secret(secret)
        entry = self._entries.get(digest)
        snapshot = await self._directory.current()
        if (
            entry is not None
            and entry.checked_until > now
            and entry.caller.valid_until > now
            and entry.generation == snapshot.generation
        ):
            return entry.caller
        key = await self._keys.authenticate(secret)
        expires = key.expires_at.timestamp() if key.expires_at else float("inf")
        checked_until = min(now + self._cache_seconds, expires)
        if (
            entry is not None
            and (entry.version, entry.generation) == (key.version, snapshot.generation)
            and entry.caller.valid_until > now
        ):
            entry.checked_until = checked_until
            return entry.caller
        caller = signed_caller(
            key_principal(key, snapshot),
            self._secret,
            now=now,
            valid_until=expires,
            rate_limit_per_minute=key.rate_limit_per_minute,
        )
        self._entries[digest] = _CheckedKey(caller, key.version, snapshot.generation, checked_until)
        if len(self._entries) > self._max:
            self._entries.popitem(last=False)
        return caller


def key_principal(key: ApiKey, directory: Snapshot) -> Principal:
    return Principal(
        subject_id=key.id,
        kind="api_key",
        roles=frozenset(key.roles),
        partner_id=key.partner_id,
        grants=directory.grants(key.roles),
    )
