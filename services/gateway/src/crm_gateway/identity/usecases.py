"""Identity commands and queries: log in, bootstrap the first admin, who am I."""

import uuid
from typing import Protocol

from crm_gateway.identity.domain import InvalidCredentials, User, normalize_email
from crm_platform.errors import Unauthenticated
from crm_platform.ids import uuid7


class UserRepository(Protocol):
    async def get(self, user_id: uuid.UUID) -> User | None: ...

    async def get_by_email(self, email: str) -> User | None: ...

    async def add_if_absent(self, user: User) -> bool: ...

    async def replace_password_hash(self, user: User, password_hash: str) -> None: ...


class PasswordHasher(Protocol):
    async def hash(self, password: str) -> str: ...

    async def verify(self, password: str, password_hash: str) -> tuple[bool, str | None]:
        """Whether it matches, and a fresh hash when the stored one uses old parameters."""
        ...

    async def burn(self, password: str) -> None:
        """Spend as long as a verification, for users that do not exist."""
        ...


class Identity:
    def __init__(self, users: UserRepository, hasher: PasswordHasher) -> None:
        self._users = users
        self._hasher = hasher

    async def authenticate(self, email: str, password: str) -> User:
        user = await self._users.get_by_email(normalize_email(email))
        if user is None or user.password_hash is None:
            # Same work as a real check, so response times do not reveal which emails exist
            # (or which users sign in through SSO only).
            await self._hasher.burn(password)
            raise InvalidCredentials
        matches, new_hash = await self._hasher.verify(password, user.password_hash)
        if not matches or not user.active:
            raise InvalidCredentials
        if new_hash is not None:
            await self._users.replace_password_hash(user, new_hash)
        return user

    async def ensure_admin(self, email: str, password: str) -> bool:
        """Create the bootstrap admin unless that email exists; True when created.

        An existing user is left alone: its password may have been changed since."""
        email = normalize_email(email)
        if await self._users.get_by_email(email) is not None:
            return False
        admin = User(
            id=uuid7(),
            email=email,
            display_name="Administrator",
            roles=("admin",),
            team_id=None,
            active=True,
            version=1,
            password_hash=await self._hasher.hash(password),
        )
        return await self._users.add_if_absent(admin)

    async def me(self, user_id: uuid.UUID) -> User:
        user = await self._users.get(user_id)
        if user is None or not user.active:
            raise Unauthenticated("the user of this token no longer exists or is inactive")
        return user
