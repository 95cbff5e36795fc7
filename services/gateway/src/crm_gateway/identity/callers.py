"""From an access token to the signed internal principal sent to services, cached.

Decoding the access token and signing a principal cost ~50 µs of CPU together; a client
sends the same token for many requests, so a bounded LRU keyed by the token makes the hot
path a dictionary lookup.
"""

import time
import uuid
from collections import OrderedDict
from dataclasses import dataclass

from crm_gateway.identity.roles import merged_grants
from crm_gateway.identity.tokens import AccessClaims, AccessTokens
from crm_platform.auth.principal import Principal, issue_token
from crm_platform.grpc.client import principal_metadata

PRINCIPAL_TTL_SECONDS = 300
# A cached principal is re-signed this long before it expires, so none expires in flight.
_PRINCIPAL_MARGIN_SECONDS = 60


@dataclass(frozen=True)
class Caller:
    user_id: uuid.UUID
    # gRPC metadata carrying the signed principal; passed as is on every call.
    metadata: tuple[tuple[str, str], ...]
    valid_until: float
    # What was signed: subject id and kind (audit, idempotency keys), grants (gateway checks).
    principal: Principal


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


class CallerCache:
    def __init__(self, tokens: AccessTokens, principal_secret: str, max_entries: int = 10_000):
        self._tokens = tokens
        self._secret = principal_secret
        self._max = max_entries
        self._entries: OrderedDict[str, Caller] = OrderedDict()

    def resolve(self, access_token: str) -> Caller:
        """The caller of `access_token`; raises Unauthenticated when it is not valid."""
        now = time.time()
        caller = self._entries.get(access_token)
        if caller is not None and caller.valid_until > now:
            self._entries.move_to_end(access_token)
            return caller
        if caller is not None:
            del self._entries[access_token]  # expired: decode again, which may now refuse
        caller = self._fresh(access_token, now)
        self._entries[access_token] = caller
        self._entries.move_to_end(access_token)
        if len(self._entries) > self._max:
            self._entries.popitem(last=False)
        return caller

    def _fresh(self, access_token: str, now: float) -> Caller:
        claims = self._tokens.decode(access_token)
        principal = principal_for(claims)
        signed = issue_token(principal, self._secret, ttl_seconds=PRINCIPAL_TTL_SECONDS)
        principal_valid_until = now + PRINCIPAL_TTL_SECONDS - _PRINCIPAL_MARGIN_SECONDS
        return Caller(
            user_id=claims.user_id,
            metadata=principal_metadata(signed),
            valid_until=min(float(claims.expires_at), principal_valid_until),
            principal=principal,
        )
