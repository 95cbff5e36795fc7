"""Single sign-on: from a verified external token to one of our users and its roles.

A token is matched to a user by its SSO identity (issuer + `sub`), else by a verified
email, which links the identity for next time. Unknown users are refused unless auto
provisioning is on. Roles come from the issuer when its token carries the roles claim
(mapped to ours, unmapped ones ignored) and are stored, so `/me` shows them; without the
claim the user keeps the roles stored here.
"""

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from crm_gateway.identity.domain import User, normalize_email
from crm_gateway.identity.roles import BUILT_IN_ROLES
from crm_gateway.identity.tokens import AccessClaims
from crm_platform.errors import Unauthenticated
from crm_platform.ids import uuid7

_MAX_EMAIL = 254
_MAX_NAME = 200


class TokenVerifier(Protocol):
    def accepts(self, token: str) -> bool: ...

    async def verify(self, token: str) -> dict[str, Any]: ...


class SsoUsers(Protocol):
    async def get_by_sso(self, issuer: str, subject: str) -> User | None: ...

    async def get_by_email(self, email: str) -> User | None: ...

    async def link_sso(self, user_id: uuid.UUID, issuer: str, subject: str) -> bool:
        """Link the identity to the user; False when either is linked already."""
        ...

    async def add_sso_user(self, user: User, issuer: str, subject: str) -> bool:
        """Create the user linked to the identity; False when its email is taken."""
        ...

    async def replace_roles(self, user: User, roles: tuple[str, ...]) -> User: ...


@dataclass(frozen=True)
class SsoPolicy:
    issuer: str
    roles_claim: str = "roles"
    role_map: Mapping[str, str] = field(default_factory=dict)
    auto_provision: bool = False

    def __post_init__(self) -> None:
        unknown = set(self.role_map.values()) - BUILT_IN_ROLES
        if unknown:
            raise ValueError(f"the SSO role map names unknown roles {sorted(unknown)}")


class SsoLogin:
    def __init__(self, verifier: TokenVerifier, users: SsoUsers, policy: SsoPolicy) -> None:
        self._verifier = verifier
        self._users = users
        self._policy = policy

    def accepts(self, token: str) -> bool:
        return self._verifier.accepts(token)

    async def claims(self, token: str) -> AccessClaims:
        """Who `token` speaks for; raises Unauthenticated when it is invalid or unknown."""
        verified = await self._verifier.verify(token)
        roles = self._mapped_roles(verified)
        user = await self._user(verified, roles)
        if not user.active:
            raise Unauthenticated("the user of this SSO token is inactive")
        if roles is not None and roles != user.roles:
            user = await self._users.replace_roles(user, roles)
        return AccessClaims(
            user_id=user.id,
            roles=user.roles,
            team_id=user.team_id,
            expires_at=int(verified["exp"]),
        )

    async def _user(self, claims: Mapping[str, Any], roles: tuple[str, ...] | None) -> User:
        issuer, subject = self._policy.issuer, str(claims["sub"])
        user = await self._users.get_by_sso(issuer, subject)
        if user is not None:
            return user
        email = _verified_email(claims)
        if email is not None:
            user = await self._users.get_by_email(email)
            if user is not None:
                return await self._linked(user, issuer, subject)
        if not self._policy.auto_provision or email is None:
            raise Unauthenticated("no user is known for this SSO identity")
        new = User(
            id=uuid7(),
            email=email,
            display_name=str(claims.get("name") or "")[:_MAX_NAME],
            roles=roles or (),
            team_id=None,
            active=True,
            version=1,
            password_hash=None,
        )
        if await self._users.add_sso_user(new, issuer, subject):
            return new
        # A concurrent first request of the same identity (or a new user with this email).
        return await self._existing(issuer, subject)

    async def _linked(self, user: User, issuer: str, subject: str) -> User:
        if await self._users.link_sso(user.id, issuer, subject):
            return user
        linked = await self._existing(issuer, subject)
        if linked.id != user.id:
            raise Unauthenticated("this email belongs to a user of another SSO identity")
        return linked

    async def _existing(self, issuer: str, subject: str) -> User:
        user = await self._users.get_by_sso(issuer, subject)
        if user is None:
            # The email's user is linked to another identity of this issuer: refuse rather
            # than let a recycled email take over an account.
            raise Unauthenticated("this email belongs to a user of another SSO identity")
        return user

    def _mapped_roles(self, claims: Mapping[str, Any]) -> tuple[str, ...] | None:
        found: Any = claims
        for part in self._policy.roles_claim.split("."):
            if not isinstance(found, Mapping) or part not in found:
                return None
            found = found[part]
        names = [found] if isinstance(found, str) else found
        if not isinstance(names, list):
            return None
        role_map = self._policy.role_map
        mapped = {role_map[name] for name in names if isinstance(name, str) and name in role_map}
        return tuple(sorted(mapped))


def _verified_email(claims: Mapping[str, Any]) -> str | None:
    email = claims.get("email")
    if claims.get("email_verified") is not True or not isinstance(email, str):
        return None
    email = normalize_email(email)
    return email if 0 < len(email) <= _MAX_EMAIL and "\x00" not in email else None
