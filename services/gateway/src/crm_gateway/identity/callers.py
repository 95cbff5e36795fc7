"""From an access token to the signed internal principal sent to services, cached.

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

from crm_gateway.identity.directory import IdentityDirectory, Snapshot
from crm_gateway.identity.tokens import AccessClaims, AccessTokens
from crm_platform.auth.principal import Principal, issue_token
from crm_platform.errors import Unauthenticated
from crm_platform.grpc.client import principal_metadata

PRINCIPAL_TTL_SECONDS = 300
# A cached principal is re-signed this long before it expires, so none expires in flight.
_PRINCIPAL_MARGIN_SECONDS = 60


@dataclass(frozen=True)
class Caller:
    user_id: uuid.UUID
    session_id: uuid.UUID
    principal: Principal
    # gRPC metadata carrying the signed principal; passed as is on every call.
    metadata: tuple[tuple[str, str], ...]
    valid_until: float


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


class CallerCache:
    def __init__(
        self,
        tokens: AccessTokens,
        principal_secret: str,
        directory: IdentityDirectory,
        max_entries: int = 10_000,
    ):
        self._tokens = tokens
        self._secret = principal_secret
        self._directory = directory
        self._max = max_entries
        self._entries: OrderedDict[str, _Entry] = OrderedDict()

    async def resolve(self, access_token: str) -> Caller:
        """The caller of `access_token`; raises Unauthenticated when it is not valid."""
        snapshot = await self._directory.current()
        now = time.time()
        entry = self._entries.get(access_token)
        if entry is not None and entry.caller.valid_until > now:
            if entry.generation != snapshot.generation:
                entry = self._recheck(access_token, entry, snapshot, now)
            self._entries.move_to_end(access_token)
            return entry.caller
        if entry is not None:
            del self._entries[access_token]  # expired: decode again, which may now refuse
        claims = self._tokens.decode(access_token)
        entry = self._fresh(claims, snapshot, now)
        self._entries[access_token] = entry
        if len(self._entries) > self._max:
            self._entries.popitem(last=False)
        return entry.caller

    def _recheck(self, access_token: str, entry: _Entry, snapshot: Snapshot, now: float) -> _Entry:
        if snapshot.is_revoked(entry.claims.session_id):
            del self._entries[access_token]
            raise _session_ended()
        held = entry.caller.principal
        if (held.team_ids, held.grants) == (
            snapshot.team_ids(entry.claims.team_id),
            snapshot.grants(entry.claims.roles),
        ):
            entry.generation = snapshot.generation
            return entry
        entry = self._fresh(entry.claims, snapshot, now)
        self._entries[access_token] = entry
        return entry

    def _fresh(self, claims: AccessClaims, snapshot: Snapshot, now: float) -> _Entry:
        if snapshot.is_revoked(claims.session_id):
            raise _session_ended()
        principal = principal_for(claims, snapshot)
        signed = issue_token(principal, self._secret, ttl_seconds=PRINCIPAL_TTL_SECONDS)
        principal_valid_until = now + PRINCIPAL_TTL_SECONDS - _PRINCIPAL_MARGIN_SECONDS
        caller = Caller(
            user_id=claims.user_id,
            session_id=claims.session_id,
            principal=principal,
            metadata=principal_metadata(signed),
            valid_until=min(float(claims.expires_at), principal_valid_until),
        )
        return _Entry(caller, claims, snapshot.generation)


def _session_ended() -> Unauthenticated:
    return Unauthenticated("this session has ended; log in again")
