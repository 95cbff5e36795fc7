"""Public access tokens: short-lived HS256 JWTs that carry what every request needs.

Roles and team ride in the claims so an authenticated request never reads the users table;
the price is that a role change takes effect when the token expires (the TTL is short for
that reason, 15 minutes by default). `sid` names the session (one login) the token belongs
to: logout and deactivation revoke the session, which every gateway process learns within
seconds (crm_gateway.identity.directory).
"""

import time
import uuid
from dataclasses import dataclass
from typing import Any

import jwt

from crm_gateway.identity.domain import User
from crm_platform.errors import Unauthenticated

ISSUER = "crm-gateway"
AUDIENCE = "crm-api"
_REQUIRED = ["sub", "exp", "iat", "jti", "iss", "aud", "sid"]


@dataclass(frozen=True)
class AccessClaims:
    user_id: uuid.UUID
    roles: tuple[str, ...]
    team_id: uuid.UUID | None
    expires_at: int
    # None for an SSO token: its session lives at the issuer.
    session_id: uuid.UUID | None = None


@dataclass(frozen=True)
class IssuedToken:
    access_token: str
    expires_in: int


class AccessTokens:
    def __init__(self, secret: str, ttl_seconds: int) -> None:
        self._secret = secret
        self._ttl = ttl_seconds

    def issue(self, user: User, session_id: uuid.UUID) -> IssuedToken:
        now = int(time.time())
        claims: dict[str, Any] = {
            "iss": ISSUER,
            "aud": AUDIENCE,
            "sub": str(user.id),
            "iat": now,
            "exp": now + self._ttl,
            "jti": uuid.uuid4().hex,
            "sid": str(session_id),
            "roles": list(user.roles),
            "team_id": str(user.team_id) if user.team_id else None,
        }
        return IssuedToken(jwt.encode(claims, self._secret, algorithm="HS256"), self._ttl)

    def decode(self, token: str) -> AccessClaims:
        try:
            claims = jwt.decode(
                token,
                self._secret,
                algorithms=["HS256"],
                audience=AUDIENCE,
                issuer=ISSUER,
                options={"require": _REQUIRED},
            )
            team_id = claims.get("team_id")
            return AccessClaims(
                user_id=uuid.UUID(claims["sub"]),
                roles=tuple(str(role) for role in claims.get("roles") or ()),
                team_id=uuid.UUID(team_id) if team_id else None,
                expires_at=int(claims["exp"]),
                session_id=uuid.UUID(claims["sid"]),
            )
        except (jwt.PyJWTError, KeyError, ValueError, TypeError) as exc:
            raise Unauthenticated("invalid or expired access token") from exc
