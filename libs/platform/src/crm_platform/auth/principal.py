"""The internal principal: who the gateway says is calling, signed so services can trust it.

The gateway resolves roles into effective grants (object -> action -> scope) before signing,
so services enforce custom roles without knowing them.
"""

import time
import uuid
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import jwt

from crm_platform.errors import PermissionDenied, Unauthenticated

AUDIENCE = "crm-internal"
METADATA_KEY = "x-crm-principal"


class Action(StrEnum):
    READ = "read"
    CREATE = "create"
    EDIT = "edit"
    DELETE = "delete"
    TRANSFER = "transfer"
    EXPORT = "export"


class Scope(StrEnum):
    """Which records an action reaches, narrowest first."""

    PARTNER = "partner"
    OWN = "own"
    TEAM = "team"
    ALL = "all"


@dataclass(frozen=True)
class Principal:
    subject_id: uuid.UUID
    kind: str  # "user", "api_key" or "system"
    roles: frozenset[str] = frozenset()
    # The caller's own team, and every team in its subtree (managers see subordinates).
    team_id: uuid.UUID | None = None
    team_ids: frozenset[uuid.UUID] = frozenset()
    partner_id: uuid.UUID | None = None
    grants: dict[str, dict[str, str]] = field(default_factory=dict, hash=False, compare=False)

    def scope(self, obj: str, action: Action) -> Scope | None:
        granted = self.grants.get(obj, {}).get(action.value)
        return Scope(granted) if granted else None

    def reaches(
        self,
        scope: Scope,
        *,
        owner_id: uuid.UUID | None,
        team_id: uuid.UUID | None,
        partner_id: uuid.UUID | None = None,
    ) -> bool:
        """Whether a record with these owner/team/partner ids lies within `scope` for us;
        the in-memory twin of crm_platform.db.visibility.visible_rows."""
        if scope is Scope.ALL:
            return True
        if scope is Scope.PARTNER:
            return self.partner_id is not None and partner_id == self.partner_id
        if owner_id == self.subject_id:
            return True
        return scope is Scope.TEAM and team_id is not None and team_id in self.team_ids

    def require(self, obj: str, action: Action) -> Scope:
        """The scope the caller holds for `action` on `obj`; PermissionDenied when none."""
        scope = self.scope(obj, action)
        if scope is None:
            raise PermissionDenied(f"not allowed to {action.value} {obj}")
        return scope


def issue_token(principal: Principal, secret: str, *, ttl_seconds: int = 300) -> str:
    now = int(time.time())
    claims = {"aud": AUDIENCE, "iat": now, "exp": now + ttl_seconds, **to_claims(principal)}
    return jwt.encode(claims, secret, algorithm="HS256")


def to_claims(principal: Principal) -> dict[str, Any]:
    """The principal as JSON, e.g. for work done later on its behalf (from_claims reverses)."""
    return {
        "sub": str(principal.subject_id),
        "knd": principal.kind,
        "rol": sorted(principal.roles),
        "tm": str(principal.team_id) if principal.team_id else None,
        "tms": sorted(str(t) for t in principal.team_ids),
        "ptn": str(principal.partner_id) if principal.partner_id else None,
        "grt": principal.grants,
    }


def from_claims(claims: dict[str, Any]) -> Principal:
    return Principal(
        subject_id=uuid.UUID(claims["sub"]),
        kind=claims["knd"],
        roles=frozenset(claims["rol"]),
        team_id=uuid.UUID(claims["tm"]) if claims.get("tm") else None,
        team_ids=frozenset(uuid.UUID(t) for t in claims["tms"]),
        partner_id=uuid.UUID(claims["ptn"]) if claims.get("ptn") else None,
        grants=claims["grt"],
    )


def verify_token(token: str, secret: str) -> Principal:
    return _decode(token, secret)[0]


class TokenVerifier:
    """verify_token with a bounded cache: a caller sends the same token on every call until
    it expires, and HMAC + JSON decoding is a visible share of a small RPC's CPU."""

    def __init__(self, secret: str, *, max_entries: int = 10_000) -> None:
        self._secret = secret
        self._max_entries = max_entries
        self._cache: dict[str, tuple[Principal, int]] = {}

    def verify(self, token: str) -> Principal:
        cached = self._cache.get(token)
        if cached is not None and cached[1] > time.time():
            return cached[0]
        principal, expires_at = _decode(token, self._secret)
        if len(self._cache) >= self._max_entries:
            self._cache.clear()  # crude but bounded; a refill costs one decode per caller
        self._cache[token] = (principal, expires_at)
        return principal


def _decode(token: str, secret: str) -> tuple[Principal, int]:
    try:
        claims = jwt.decode(token, secret, algorithms=["HS256"], audience=AUDIENCE)
        principal = from_claims(claims)
        return principal, int(claims["exp"])
    except (jwt.PyJWTError, KeyError, ValueError, TypeError) as exc:
        raise Unauthenticated("invalid internal principal") from exc
