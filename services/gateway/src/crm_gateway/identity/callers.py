"""From an access token to the signed internal principal sent to services, cached.

Decoding the access token and signing a principal cost ~50 µs of CPU together; a client
sends the same token for many requests, so a bounded LRU keyed by the token makes the hot
path a dictionary lookup.
"""

import time
import uuid
from collections import OrderedDict
from dataclasses import dataclass
from typing import Protocol

from crm_gateway.identity.key_usecases import ApiKeys
from crm_gateway.identity.keys import ApiKey, hash_secret
from crm_gateway.identity.roles import merged_grants
from crm_gateway.identity.tokens import AccessClaims, AccessTokens
from crm_platform.auth.principal import Principal, issue_token
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
    # The caller's own budget; None takes the gateway's default.
    rate_limit_per_minute: int | None = None


def principal_for(claims: AccessClaims) -> Principal:
    return Principal(
        subject_id=claims.user_id,
        kind="user",
        roles=frozenset(claims.roles),
        team_id=claims.team_id,
        # Teams have no hierarchy yet: a user's subtree is its own team.
        team_ids=frozenset({claims.team_id}) if claims.team_id else frozenset(),
        grants=merged_grants(claims.roles),
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
        max_entries: int = 10_000,
        external: ExternalTokens | None = None,
    ):
        self._tokens = tokens
        self._secret = principal_secret
        self._max = max_entries
        self._external = external
        self._entries: OrderedDict[str, Caller] = OrderedDict()

    def resolve(self, access_token: str) -> Caller:
        """The caller of one of our access tokens; raises Unauthenticated when not valid."""
        now = time.time()
        return self._cached(access_token, now) or self._remember(
            access_token, self._tokens.decode(access_token), now
        )

    async def authenticate(self, token: str) -> Caller:
        """The caller of our access token or of an SSO token; raises Unauthenticated."""
        now = time.time()
        caller = self._cached(token, now)
        if caller is not None:
            return caller
        if self._external is not None and self._external.accepts(token):
            return self._remember(token, await self._external.claims(token), time.time())
        return self._remember(token, self._tokens.decode(token), now)

    def _cached(self, token: str, now: float) -> Caller | None:
        caller = self._entries.get(token)
        if caller is not None and caller.valid_until > now:
            self._entries.move_to_end(token)
            return caller
        if caller is not None:
            del self._entries[token]  # expired: decode again, which may now refuse
        return None

    def _remember(self, token: str, claims: AccessClaims, now: float) -> Caller:
        caller = self._fresh(claims, now)
        self._entries[token] = caller
        self._entries.move_to_end(token)
        if len(self._entries) > self._max:
            self._entries.popitem(last=False)
        return caller

    def _fresh(self, claims: AccessClaims, now: float) -> Caller:
        return signed_caller(
            principal_for(claims), self._secret, now=now, valid_until=float(claims.expires_at)
        )


def signed_caller(
    principal: Principal,
    principal_secret: str,
    *,
    now: float,
    valid_until: float,
    rate_limit_per_minute: int | None = None,
) -> Caller:
    signed = issue_token(principal, principal_secret, ttl_seconds=PRINCIPAL_TTL_SECONDS)
    principal_valid_until = now + PRINCIPAL_TTL_SECONDS - _PRINCIPAL_MARGIN_SECONDS
    return Caller(
        user_id=principal.subject_id,
        metadata=principal_metadata(signed),
        valid_until=min(valid_until, principal_valid_until),
        principal=principal,
        rate_limit_per_minute=rate_limit_per_minute,
    )


@dataclass
class _CheckedKey:
    caller: Caller
    version: int
    checked_until: float


class KeyCallers:
    """The caller of an `X-API-Key` secret, checked again every `cache_seconds`: so a
    revoked or expired key stops working in every gateway process within that bound, and a
    busy key costs one database lookup per process every few seconds. An unchanged key
    keeps its signed principal, so what is cached per caller downstream (the read cache)
    stays valid. Kept by the secret's digest, not the secret."""

    def __init__(
        self,
        keys: ApiKeys,
        principal_secret: str,
        *,
        cache_seconds: float = KEY_CACHE_SECONDS,
        max_entries: int = 10_000,
    ):
        self._keys = keys
        self._secret = principal_secret
        self._cache_seconds = cache_seconds
        self._max = max_entries
        self._entries: OrderedDict[bytes, _CheckedKey] = OrderedDict()

    async def authenticate(self, secret: str) -> Caller:
        now = time.time()
        digest = hash_secret(secret)
        entry = self._entries.get(digest)
        if entry is not None and entry.checked_until > now and entry.caller.valid_until > now:
            return entry.caller
        key = await self._keys.authenticate(secret)
        expires = key.expires_at.timestamp() if key.expires_at else float("inf")
        checked_until = min(now + self._cache_seconds, expires)
        if entry is not None and entry.version == key.version and entry.caller.valid_until > now:
            entry.checked_until = checked_until
            return entry.caller
        caller = signed_caller(
            key_principal(key),
            self._secret,
            now=now,
            valid_until=expires,
            rate_limit_per_minute=key.rate_limit_per_minute,
        )
        self._entries[digest] = _CheckedKey(caller, key.version, checked_until)
        if len(self._entries) > self._max:
            self._entries.popitem(last=False)
        return caller


def key_principal(key: ApiKey) -> Principal:
    return Principal(
        subject_id=key.id,
        kind="api_key",
        roles=frozenset(key.roles),
        partner_id=key.partner_id,
        grants=merged_grants(key.roles),
    )
